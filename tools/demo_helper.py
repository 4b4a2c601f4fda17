#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""The client population of `make demo` (tools/demo.sh), and its reports.

Clients, one role per process:

  demo_helper.py user      SRC DST PORT SECONDS
      a person at a chat window: a chat request on a fresh connection (the
      app was idle), the answer streamed or as one JSON object at random,
      then 3 to 9 seconds of reading and thinking before the next one
  demo_helper.py eval      SRC DST PORT SECONDS
      an internal evaluation job: short JSON completions on one kept-alive
      connection, about four a second, well over the default limit (its
      class is unlimited)
  demo_helper.py extractor SRC DST PORT SECONDS
      a harvesting script: four connections in parallel, each streaming
      long completions back to back with no pause, as fast as it is served

Every request that ends prints one line of JSON on stdout:
  {"t": <unix time>, "ok": true|false, "status": 200, "bytes": N, "secs": S}
(with "error" instead of "status" when it failed), which the demo reads to
say what each client got. Python's http.client only: no dependency.

Reports, from penstockd (through the penstock CLI) and the clients' logs;
ROLES is a file of "ROLE ADDRESS LOG" lines:

  demo_helper.py report  PENSTOCK SOCKET ROLES ELAPSED
      the compact client table of every ~10 s: the 1m window by rpm, each
      client's throttled_requests, and what the clients got meanwhile
  demo_helper.py summary PENSTOCK SOCKET ROLES T0 SECONDS BLOCK_AT BLOCK_FOR VARS
      the whole run per client (T0: its start, unix time; the block from
      BLOCK_AT for BLOCK_FOR seconds, 0 if none); VARS gets shell variables
      for the closing words
"""

import http.client
import json
import random
import subprocess
import sys
import threading
import time

QUESTIONS = ["How do I reset my router?", "Summarise this paragraph for me.",
             "What is a good name for a cat?", "Translate 'good morning' to French.",
             "Write a haiku about rivers.", "Why is the sky blue?",
             "Suggest a dinner with what is left in my fridge.",
             "Explain recursion to a ten year old."]
out_lock = threading.Lock()


def log(**rec):
    rec["t"] = round(time.time(), 3)
    with out_lock:
        sys.stdout.write(json.dumps(rec) + "\n")
        sys.stdout.flush()


def connect(src, dst, port, timeout):
    return http.client.HTTPConnection(dst, port, timeout=timeout, source_address=(src, 0))


def post(conn, path, body):
    """One request; returns (status, bytes of answer). Raises on failure."""
    conn.request("POST", path, body=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    n = 0
    while True:		# a streamed answer arrives chunk by chunk
        b = r.read(4096)
        if not b:
            break
        n += len(b)
    return r.status, n


def one(conn, path, body):
    t0 = time.monotonic()
    try:
        st, n = post(conn, path, body)
    except (OSError, http.client.HTTPException) as e:
        log(ok=False, error=type(e).__name__, secs=round(time.monotonic() - t0, 2))
        return False
    log(ok=st == 200, status=st, bytes=n, secs=round(time.monotonic() - t0, 2))
    return True


def user(src, dst, port, end):
    rng = random.Random(src)
    # Users arrive at different moments, not all at the first second.
    time.sleep(rng.uniform(0, 3))
    while time.monotonic() < end:
        conn = connect(src, dst, port, 20)
        one(conn, "/v1/chat/completions", {
            "model": "penstock-standin-1", "max_tokens": rng.randint(40, 160),
            "stream": rng.random() < 0.5,
            "messages": [{"role": "user", "content": rng.choice(QUESTIONS)}]})
        conn.close()
        time.sleep(min(rng.uniform(3, 9), max(0, end - time.monotonic())))


def evaluate(src, dst, port, end):
    conn = connect(src, dst, port, 20)
    i = 0
    while time.monotonic() < end:
        i += 1
        if not one(conn, "/v1/completions", {
                "model": "penstock-standin-1", "max_tokens": 24,
                "prompt": "eval case %d: answer with one word." % i}):
            conn.close()
            time.sleep(0.5)
            conn = connect(src, dst, port, 20)
        time.sleep(0.25)
    conn.close()


def extract_worker(src, dst, port, end, w):
    # A long timeout: a request the limit holds back is only late, and
    # one cut off by a block goes through once the block is lifted.
    conn = connect(src, dst, port, 30)
    i = 0
    while time.monotonic() < end:
        i += 1
        if not one(conn, "/v1/completions", {
                "model": "penstock-standin-1", "max_tokens": 512, "stream": True,
                "prompt": "Continue the story, worker %d variant %d:" % (w, i)}):
            conn.close()
            time.sleep(0.5)
            conn = connect(src, dst, port, 30)
    conn.close()


def extractor(src, dst, port, end):
    ts = [threading.Thread(target=extract_worker, args=(src, dst, port, end, w), daemon=True)
          for w in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(max(0, end - time.monotonic()) + 35)


# -- reports ---------------------------------------------------------------


def penstock(pbin, sock, *args):
    """A penstock command's answer, with --json; exits with its message on failure."""
    try:
        r = subprocess.run([pbin, *args, "--json", "--socket", sock],
                           capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        sys.exit("demo: penstock %s did not answer in 15 s" % " ".join(args))
    if r.returncode != 0:
        sys.exit("demo: penstock %s failed: %s" % (" ".join(args), r.stderr.strip()))
    return json.loads(r.stdout)


def roles_of(path):
    """[(role, address, log)], in the file's order."""
    return [tuple(line.split()) for line in open(path) if line.strip()]


def records(log):
    out = []
    try:
        f = open(log)
    except OSError:
        return out
    with f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass		# a traceback, a line cut by a kill
    return out


def size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


def slot(pbin, sock, addr):
    """The client's kernel slot (enforcement counters), {} if not yet seen."""
    r = subprocess.run([pbin, "client", addr, "--json", "--socket", sock],
                       capture_output=True, text=True, timeout=15)
    if r.returncode != 0:
        return {}
    return json.loads(r.stdout).get("slot") or {}


def report(pbin, sock, roles_file, elapsed):
    roles = roles_of(roles_file)
    role = {a: r for r, a, _ in roles}
    now = time.time()
    d = penstock(pbin, sock, "clients", "--window", "1m", "--sort", "rpm")
    print("  %-10s %-14s %7s %9s %11s %9s  %s" % (
        "ROLE", "CLIENT", "RPM", "INFERENCE", "TX_PAYLOAD", "THROTTLED", "ANSWERED_10S"))
    slots = {}
    for c in d["clients"]:
        a = c["client"]
        slots[a] = slot(pbin, sock, a)
        recs = [x for x in records(dict((ad, lg) for _, ad, lg in roles).get(a, ""))
                if x["t"] > now - 10]
        got = sum(1 for x in recs if x["ok"])
        bad = len(recs) - got
        print("  %-10s %-14s %7.1f %9d %11s %9s  %12s" % (
            role.get(a, "?"), a, c["rpm"], c["inference_requests"], size(c["tx_payload"]),
            slots[a].get("throttled_requests", "-"), got) +
            ("  (and %d failed)" % bad if bad else ""))
    for r, a, _ in roles:
        if r == "extractor" and a in slots:
            s = slots[a]
            print("  extractor: penstock client %s --json -> \"slot\": {\"throttled_requests\": %s,"
                  " \"open_connections\": %s, ...}" % (a, s.get("throttled_requests"),
                                                      s.get("open_connections")))


def summary(pbin, sock, roles_file, t0, secs, block_at, block_for, out_vars):
    """The per-role figures of the whole run, and shell variables for the prose."""
    t0, secs, block_at, block_for = float(t0), float(secs), float(block_at), float(block_for)
    tot = {c["client"]: c for c in penstock(pbin, sock, "clients")["clients"]}
    print("  %-10s %-14s %9s %10s %9s %7s %11s" % (
        "ROLE", "CLIENT", "ANSWERED", "PER_MINUTE", "THROTTLED", "FAILED", "TX_PAYLOAD"))
    v = {"EX_STEADY": 0, "EX_THROTTLED": 0, "EX_FAILED": 0, "EX_ANSWERED": 0,
         "EVAL_RPM": 0, "EVAL_THROTTLED": 0, "USERS_THROTTLED": 0, "USERS_ANSWERED": 0,
         "USERS_FAILED": 0, "EX_PAYLOAD": "0 B", "USERS_PAYLOAD": "0 B"}
    users_payload = 0
    # The extractor's steady rate: its answers once a burst was spent, i.e.
    # leaving out the first 10 s, the block and the 10 s after it (a client
    # that sent nothing for a while has its burst back).
    if block_for > 0:
        steady = [(10, block_at), (block_at + block_for + 10, secs)]
    else:
        steady = [(10, secs)]
    steady = [(t0 + a, t0 + b) for a, b in steady if b > a]
    for r, a, lg in roles_of(roles_file):
        recs = records(lg)
        got = sum(1 for x in recs if x["ok"])
        bad = len(recs) - got
        thr = slot(pbin, sock, a).get("throttled_requests", 0)
        pay = tot.get(a, {}).get("tx_payload", 0)
        print("  %-10s %-14s %9d %10.1f %9d %7d %11s" % (r, a, got, got * 60.0 / secs, thr, bad,
                                                        size(pay)))
        if r == "extractor":
            n = sum(1 for x in recs if x["ok"] and any(lo <= x["t"] < hi for lo, hi in steady))
            span = sum(hi - lo for lo, hi in steady)
            v.update(EX_STEADY="%.0f" % (n * 60.0 / span if span else 0), EX_THROTTLED=thr,
                     EX_FAILED=bad, EX_ANSWERED=got, EX_PAYLOAD=size(pay))
        elif r == "eval-job":
            v.update(EVAL_RPM="%.0f" % (got * 60.0 / secs), EVAL_THROTTLED=thr)
        else:
            v["USERS_THROTTLED"] += thr
            v["USERS_ANSWERED"] += got
            v["USERS_FAILED"] += bad
            users_payload += pay
    v["USERS_PAYLOAD"] = size(users_payload)
    with open(out_vars, "w") as f:
        for k, x in v.items():
            f.write("%s='%s'\n" % (k, x))


def main():
    a = sys.argv[1:]
    try:
        if len(a) == 5 and a[0] in ("user", "eval", "extractor"):
            role, src, dst, port, secs = a
            end = time.monotonic() + float(secs)
            {"user": user, "eval": evaluate, "extractor": extractor}[role](src, dst, int(port),
                                                                          end)
        elif len(a) == 5 and a[0] == "report":
            report(*a[1:])
        elif len(a) == 9 and a[0] == "summary":
            summary(*a[1:])
        else:
            sys.exit(__doc__)
    except BrokenPipeError:
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
