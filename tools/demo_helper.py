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
ROLES is a file of "ROLE ADDRESS LOG" lines, T0 the run's start (Unix time):

  demo_helper.py events  PENSTOCK SOCKET ROLES T0 STATE
      what penstockd's detectors did since the last call (STATE, a JSON
      file of what was shown): new alerts, as the lines `penstock alerts`
      prints for them and a sentence each; a new, changed or ended entry
      of origin detector, with `penstock enforcement`; on a block, curl
      from the client and from a user (the environment gives DEMO_NS_CLI,
      DEMO_SRV4, DEMO_SRV6, DEMO_PORT, and DEMO_BOLD, DEMO_PLAIN for the
      terminal). The file BLOCKED beside STATE is made once a client is
      blocked by a detector.
  demo_helper.py report  PENSTOCK SOCKET ROLES ELAPSED
      the compact client table of every ~10 s: the 1m window by rpm, each
      client's throttled_requests, what the detectors did to it, and what
      the clients got meanwhile
  demo_helper.py summary PENSTOCK SOCKET ROLES T0 SECONDS VARS
      the whole run per client, with the extractor's phases (request limit,
      the detector's delay, its block) from the alerts; VARS gets shell
      variables for the closing words
"""

import http.client
import json
import os
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


def detector_state(pbin, sock):
    """{client: what the detectors did last} from the alerts and the entries in force."""
    st = {}
    for a in penstock(pbin, sock, "alerts")["alerts"]:
        st[a["subject"]] = "alerted" if a["action"] == "alert" else a["action"]
    inforce = {e["subject"]: e for e in penstock(pbin, sock, "enforcement")["entries"]
               if e["origin"] == "detector"}
    for sub, act in list(st.items()):
        e = inforce.get(sub)
        if act != "alerted" and not e:
            st[sub] = act + " ended"
        elif e and e["action"] == "throttle":
            st[sub] = "delay %d/min" % e["rpm"]
        elif e:
            st[sub] = e["action"] + ("ed" if e["action"] == "block" else "")
    return st


def report(pbin, sock, roles_file, elapsed):
    roles = roles_of(roles_file)
    role = {a: r for r, a, _ in roles}
    now = time.time()
    d = penstock(pbin, sock, "clients", "--window", "1m", "--sort", "rpm")
    det = detector_state(pbin, sock)
    print("  %-10s %-14s %7s %9s %11s %9s %-14s %s" % (
        "ROLE", "CLIENT", "RPM", "INFERENCE", "TX_PAYLOAD", "THROTTLED", "DETECTORS",
        "ANSWERED_10S"))
    slots = {}
    for c in d["clients"]:
        a = c["client"]
        slots[a] = slot(pbin, sock, a)
        recs = [x for x in records(dict((ad, lg) for _, ad, lg in roles).get(a, ""))
                if x["t"] > now - 10]
        got = sum(1 for x in recs if x["ok"])
        bad = len(recs) - got
        print("  %-10s %-14s %7.1f %9d %11s %9s %-14s %12s" % (
            role.get(a, "?"), a, c["rpm"], c["inference_requests"], size(c["tx_payload"]),
            slots[a].get("throttled_requests", "-"), det.get(a, "-"), got) +
            ("  (and %d failed)" % bad if bad else ""))
    for r, a, _ in roles:
        if r == "extractor" and a in slots:
            s = slots[a]
            print("  extractor: penstock client %s --json -> \"slot\": {\"throttled_requests\": %s,"
                  " \"open_connections\": %s, ...}" % (a, s.get("throttled_requests"),
                                                      s.get("open_connections")))


def stamp_of(t):
    """RFC 3339 UTC ("2026-11-23T02:00:00.123Z") to Unix time; None if not one."""
    import calendar
    try:
        base, frac = (t[:-1].split(".") + ["0"])[:2] if t.endswith("Z") else (None, None)
        return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)
    except (TypeError, ValueError):
        return None


def summary(pbin, sock, roles_file, t0, secs, out_vars):
    """The per-role figures of the whole run, and shell variables for the prose."""
    t0, secs = float(t0), float(secs)
    tot = {c["client"]: c for c in penstock(pbin, sock, "clients")["clients"]}
    alerts = penstock(pbin, sock, "alerts")["alerts"]
    roles = roles_of(roles_file)
    print("  %-10s %-14s %9s %10s %9s %7s %11s %7s" % (
        "ROLE", "CLIENT", "ANSWERED", "PER_MINUTE", "THROTTLED", "FAILED", "TX_PAYLOAD",
        "ALERTS"))
    v = {"EX_THROTTLED": 0, "EX_FAILED": 0, "EX_ANSWERED": 0, "EX_PAYLOAD": "0 B",
         "EX_ALERT_AT": "", "EX_DELAY_AT": "", "EX_BLOCK_AT": "", "EX_REQ_1M": "",
         "EX_SCORE": "", "EX_FLOOR": "", "EX_LIMITED_RPM": "", "EX_DELAYED_RPM": "",
         "EX_AFTER_BLOCK": 0, "EX_DELAY_RPM": "",
         "EVAL_RPM": 0, "EVAL_THROTTLED": 0, "USERS_THROTTLED": 0, "USERS_ANSWERED": 0,
         "USERS_FAILED": 0, "USERS_PAYLOAD": "0 B", "OTHERS_ALERTED": "", "ALERTS": len(alerts)}
    users_payload = 0
    for r, a, lg in roles:
        recs = records(lg)
        got = sum(1 for x in recs if x["ok"])
        bad = len(recs) - got
        thr = slot(pbin, sock, a).get("throttled_requests", 0)
        pay = tot.get(a, {}).get("tx_payload", 0)
        mine = [x for x in alerts if x["subject"] == a]
        print("  %-10s %-14s %9d %10.1f %9d %7d %11s %7d" % (
            r, a, got, got * 60.0 / secs, thr, bad, size(pay), len(mine)))
        if r != "extractor":
            if mine:
                v["OTHERS_ALERTED"] += " " + r
        if r == "extractor":
            v.update(EX_THROTTLED=thr, EX_FAILED=bad, EX_ANSWERED=got, EX_PAYLOAD=size(pay))
            when = {}
            for x in mine:
                when.setdefault(x["action"], (stamp_of(x["time"]), x))
            if mine:
                first = mine[0]
                ev = first.get("evidence") or {}
                # A client seen for under a minute is judged on its pace.
                v.update(EX_REQ_1M="%.0f" % ev.get("pace_1m", ev.get("requests_1m", 0)),
                         EX_SCORE="%.1f" % (first.get("score") or 0),
                         EX_FLOOR=ev.get("floor", ""))
            for act, var in (("alert", "EX_ALERT_AT"), ("delay", "EX_DELAY_AT"),
                             ("block", "EX_BLOCK_AT")):
                if act in when and when[act][0]:
                    v[var] = "%.0f" % (when[act][0] - t0)
            ta = when.get("delay", (None,))[0]
            tb = when.get("block", (None,))[0]
            # Its pace under the request limit alone: from 10 s in (its
            # burst spent) to the delay; under the delay: to the block.
            end = ta or tb or t0 + secs
            if end - t0 > 20:
                n = sum(1 for x in recs if x["ok"] and t0 + 10 <= x["t"] < end)
                v["EX_LIMITED_RPM"] = "%.0f" % (n * 60.0 / (end - t0 - 10))
            if ta and tb and tb - ta > 5:
                n = sum(1 for x in recs if x["ok"] and ta <= x["t"] < tb)
                v["EX_DELAYED_RPM"] = "%.0f" % (n * 60.0 / (tb - ta))
            if tb:
                v["EX_AFTER_BLOCK"] = sum(1 for x in recs if x["ok"] and x["t"] > tb + 1)
        elif r == "eval-job":
            v.update(EVAL_RPM="%.0f" % (got * 60.0 / secs), EVAL_THROTTLED=thr)
        else:
            v["USERS_THROTTLED"] += thr
            v["USERS_ANSWERED"] += got
            v["USERS_FAILED"] += bad
            users_payload += pay
    v["USERS_PAYLOAD"] = size(users_payload)
    v["OTHERS_ALERTED"] = v["OTHERS_ALERTED"].strip()
    with open(out_vars, "w") as f:
        for k, x in v.items():
            f.write("%s='%s'\n" % (k, x))


# -- what the detectors did, as it happens ------------------------------------


def run_text(pbin, sock, *args):
    r = subprocess.run([pbin, *args, "--socket", sock], capture_output=True, text=True,
                       timeout=15)
    if r.returncode != 0:
        sys.exit("demo: penstock %s failed: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def probe(addr):
    """Can addr reach the server? curl's verdict, in a few words."""
    srv = os.environ.get("DEMO_SRV6") if ":" in addr else os.environ.get("DEMO_SRV4")
    url = "http://%s:%s/health" % ("[%s]" % srv if ":" in addr else srv,
                                   os.environ.get("DEMO_PORT", "8000"))
    r = subprocess.run(["ip", "netns", "exec", os.environ.get("DEMO_NS_CLI", ""), "curl", "-sS",
                        "-g", "-m", "3", "--interface", addr, "-o", "/dev/null", "-w",
                        "%{http_code}", url], capture_output=True, text=True, timeout=15)
    if r.returncode == 0:
        return "HTTP %s, answered" % r.stdout.strip()
    err = [ln[6:] for ln in r.stderr.splitlines() if ln.startswith("curl: ")]
    return err[0] if err else "failed (curl exit %d)" % r.returncode


def events(pbin, sock, roles_file, t0, state_file):
    t0 = float(t0)
    bold, plain = os.environ.get("DEMO_BOLD", ""), os.environ.get("DEMO_PLAIN", "")
    try:
        st = json.load(open(state_file))
    except (OSError, ValueError):
        st = {"alerts": 0, "entries": {}}
    roles = roles_of(roles_file)
    role = {a: r for r, a, _ in roles}
    users = [a for r, a, _ in roles if r.startswith("user")]
    alerts = penstock(pbin, sock, "alerts")["alerts"]
    entries = {e["subject"]: e for e in penstock(pbin, sock, "enforcement")["entries"]
               if e["origin"] == "detector"}
    new = alerts[st["alerts"]:]
    el = int(time.time() - t0)

    def title(text):
        print("\n%s[%3ds] %s%s" % (bold, el, text, plain))

    if new:
        who = sorted({role.get(a["subject"], a["subject"]) for a in new})
        title("penstockd's detectors raised %s on %s" % (
            "an alert" if len(new) == 1 else "%d alerts" % len(new), ", ".join(who)))
        print("%s$ penstock alerts%s  (the new lines)" % (bold, plain))
        lines = [ln for ln in run_text(pbin, sock, "alerts").split("\n\n")[0].splitlines()
                 if ln.strip()]
        # The header, and the rows of the new alerts (oldest first, as kept).
        rows = lines[1:]
        show = rows[st["alerts"]:] if len(rows) == len(alerts) else rows[-len(new):]
        for ln in [lines[0]] + show:
            print("  " + ln)
        for a in new:
            ev = a.get("evidence") or {}
            base = ev.get("baseline") or {}
            what = {"alert": "an alert only", "delay": "its requests delayed",
                    "shape": "its answers shaped", "block": "every packet dropped"}.get(
                        a["action"], a["action"])
            if a.get("detector") == "high_rate":
                if base.get("from") == "population":
                    pop = "the %d active clients (median %.0f a minute)" % (
                        base.get("clients", 0), base.get("median", 0))
                else:
                    pop = ("a quiet default population (%.0f a minute: too few clients to "
                           "compare with)" % base.get("median", 0))
                why = ("%.0f inference requests a minute%s, over the floor of %s and "
                       "far above %s, robust z-score %.1f" % (
                           ev.get("pace_1m", ev.get("requests_1m", 0)),
                           " (its pace since it was first seen, under a minute ago)"
                           if "pace_1m" in ev else " in the last minute",
                           ev.get("floor", "?"), pop, a["score"] or 0))
            else:
                why = "detector %s, score %.2f" % (a.get("detector"), a.get("score") or 0)
            text = "%s %s: %s. Escalation step %s: %s." % (
                role.get(a["subject"], "client"), a["subject"], why, ev.get("step", "?"), what)
            if ev.get("not_applied"):
                text += " (Not applied: %s.)" % ev["not_applied"]
            print("\n".join("  " + ("-> " if i == 0 else "   ") + ln for i, ln in
                            enumerate(wrap(text, 72))))
    old = st["entries"]
    changed = sorted(set(old) | set(entries), key=lambda x: (":" in x, x))
    changed = [x for x in changed if old.get(x) != (entries[x]["action"] if x in entries
                                                     else None)]
    if changed:
        parts = []
        for x in changed:
            e = entries.get(x)
            name = role.get(x, x)
            if not e:
                parts.append("%s's %s entry ended" % (name, old[x]))
            elif e["action"] == "throttle":
                parts.append("%s delayed to %d requests a minute" % (name, e["rpm"]))
            elif e["action"] == "block":
                parts.append("%s blocked" % name)
            else:
                parts.append("%s %s" % (name, e["action"]))
        title("In the kernel now: %s (origin detector)" % "; ".join(parts))
        print("%s$ penstock enforcement%s" % (bold, plain))
        for ln in run_text(pbin, sock, "enforcement").splitlines():
            print("  " + ln)
        blocked = [x for x in changed if x in entries and entries[x]["action"] == "block"]
        for x in blocked:
            print("Every packet from or to %s is dropped now (in tc; on a veth xdp: auto leaves XDP off); the others go on:" % x)
            for a in [x] + users[:1]:
                print("  curl from %s (%s): %s" % (a, role.get(a, "?"), probe(a)))
        if blocked:
            open(os.path.join(os.path.dirname(state_file), "BLOCKED"), "w").close()
    sys.stdout.flush()
    st = {"alerts": len(alerts), "entries": {x: e["action"] for x, e in entries.items()}}
    with open(state_file + ".new", "w") as f:
        json.dump(st, f)
    os.replace(state_file + ".new", state_file)


def wrap(text, width):
    out, line = [], ""
    for w in text.split():
        if line and len(line) + 1 + len(w) > width:
            out.append(line)
            line = w
        else:
            line = (line + " " + w) if line else w
    if line:
        out.append(line)
    return out


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
        elif len(a) == 6 and a[0] == "events":
            events(*a[1:])
        elif len(a) == 7 and a[0] == "summary":
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
