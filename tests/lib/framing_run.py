#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Driver of tests/e2e/test_framing_servers.

    framing_run.py send OUT.json SERVER=ADDR:PORT... -- CLIENT_IP...
        (in the client namespace) for every row of framing_cases.CASES and
        every server: one connection from the row's client address (the
        i-th CLIENT_IP for the i-th row), the row's pieces written one
        send() each, then the answers read until the server closes or
        stays silent for IDLE seconds. Writes what each connection got.

    framing_run.py check SENT.json PCAP PENSTOCK WORKDIR SERVER=PORT...
        reads the servers' logs in WORKDIR (SERVER.log, JSON lines), runs
        `PENSTOCK replay --json --port PORT PCAP` and the tshark oracle per
        server, prints PASS/FAIL per (case, server) and writes
        WORKDIR/table.md and WORKDIR/figures.json (every figure, with the
        answers on the wire). Exit 0 if every line passed, 1 otherwise.

A (case, server) passes when penstock's requests >= the requests the
server served, its inference_requests >= the inference requests served,
and penstock, tshark and the server each give the figures the row
documents. Rows list the servers where penstock counts fewer than served
as "known": those FAIL lines say so, and stay FAIL until the datapath
counts at least what the server serves.

Python's standard library only (and framing_cases beside this file).
"""

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import framing_cases  # noqa: E402

IDLE = 1.0          # seconds of silence that end a connection's reading
LIMIT = 5.0         # at most this long per connection
PIECE_GAP = 0.15    # pause between the pieces of a row
WORKERS = 12        # connections at once


# --- sending -------------------------------------------------------------------

def statuses(data):
    """Status codes of the HTTP/1.x responses in data, in order; '?' marks
    bytes that do not parse as a response (the rest is not read)."""
    out = []
    i = 0
    while i < len(data):
        end = data.find(b"\r\n\r\n", i)
        if end < 0 or not data.startswith(b"HTTP/1.", i):
            out.append("?")
            break
        lines = data[i:end].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        try:
            code = int(parts[1])
        except (IndexError, ValueError):
            out.append("?")
            break
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            hdrs[k.strip().lower()] = v.strip().lower()
        out.append(str(code))
        i = end + 4
        if 100 <= code < 200 or code in (204, 304):
            continue
        if hdrs.get(b"transfer-encoding") == b"chunked":
            while True:
                e = data.find(b"\r\n", i)
                if e < 0:
                    return out
                size = int(data[i:e].split(b";")[0], 16)
                i = e + 2
                if size == 0:
                    e = data.find(b"\r\n\r\n", i - 2)
                    i = len(data) if e < 0 else e + 4
                    break
                i += size + 2
        elif b"content-length" in hdrs:
            i += int(hdrs[b"content-length"])
        else:
            break
    return out


def one(case, src, server, addr, port):
    res = {"case": case["name"], "server": server, "client": src,
           "statuses": [], "closed": False, "error": None, "rx": 0}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.bind((src, 0))
        s.settimeout(LIMIT)
        s.connect((addr, port))
        data = b""
        for k, piece in enumerate(case["send"]):
            if k:
                time.sleep(PIECE_GAP)
            try:
                s.sendall(piece)
            except OSError as e:   # the server closed after an earlier piece
                res["error"] = "send %d: %s" % (k + 1, e.strerror)
                break
        start = last = time.monotonic()
        while True:
            now = time.monotonic()
            left = min(IDLE - (now - last), LIMIT - (now - start))
            if left <= 0:
                break
            s.settimeout(left)
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                res["closed"] = "reset"
                break
            if not d:
                res["closed"] = True
                break
            data += d
            last = time.monotonic()
        res["rx"] = len(data)
        res["statuses"] = statuses(data)
    except OSError as e:
        res["error"] = str(e)
    finally:
        s.close()
    return res


def send(argv):
    out, rest = argv[0], argv[1:]
    sep = rest.index("--")
    servers = [a.split("=", 1) for a in rest[:sep]]
    clients = rest[sep + 1:]
    cases = framing_cases.CASES
    if len(clients) < len(cases):
        raise SystemExit("need %d client addresses, got %d" % (len(cases), len(clients)))
    jobs = []
    for i, c in enumerate(cases):
        for name, ap in servers:
            addr, port = ap.rsplit(":", 1)
            jobs.append((c, clients[i], name, addr, int(port)))
    with ThreadPoolExecutor(WORKERS) as ex:
        results = list(ex.map(lambda j: one(*j), jobs))
    with open(out, "w") as fh:
        json.dump(results, fh, indent=1)
    return 0


# --- checking ------------------------------------------------------------------

def is_inference(target):
    return target.startswith(framing_cases.INFERENCE_PREFIXES)


def served_counts(workdir, server):
    """{client: [requests served, inference requests served, [notes]]}
    from WORKDIR/SERVER.log. The application's log (framing_app.py): a
    request is served when its body came whole, an inference request
    when it was also answered 2xx on an inference path. nginx's access
    log: served when answered 200 (the `return`), inference when its
    path ($uri) is an inference path. Each note is "n=K:STATUS" (the ?n=
    of the target), ":incomplete" for a body that never came whole."""
    counts = {}
    path = os.path.join(workdir, server + ".log")
    with open(path) as fh:
        for line in fh:
            r = json.loads(line)
            tgt = r.get("target") or r.get("uri") or ""
            note = tgt.split("?", 1)[1] if "?" in tgt else tgt
            c = counts.setdefault(r["client"], [0, 0, []])
            if "complete" in r and not r["complete"]:
                c[2].append(note + ":incomplete")
                continue
            status = int(r["status"]) if r["status"] not in (None, "") else 0
            c[2].append("%s:%s" % (note, status))
            if "complete" not in r and status != 200:
                continue    # nginx: an error answer, nothing served
            c[0] += 1
            c[1] += 200 <= status < 300 and is_inference(r["path"])
    return counts


def per_client(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    if r.returncode != 0:
        raise SystemExit("%s: exit %d: %s" % (cmd[0], r.returncode,
                                              r.stderr.decode()[-500:]))
    return {c["client"]: (c["requests"], c["inference_requests"])
            for c in json.loads(r.stdout)["clients"]}


def fig(v):
    return "%d/%d" % tuple(v)


def check(argv):
    sent_path, pcap, penstock, workdir = argv[:4]
    ports = dict(a.split("=", 1) for a in argv[4:])
    oracle = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tshark_counts.py")
    with open(sent_path) as fh:
        sent = {(r["case"], r["server"]): r for r in json.load(fh)}
    pen, ts, served = {}, {}, {}
    for server, port in ports.items():
        pen[server] = per_client([penstock, "replay", "--json", "--port", port, pcap])
        ts[server] = per_client([sys.executable, oracle, "--port", port, pcap])
        served[server] = served_counts(workdir, server)

    failed = 0
    figures = {}
    table = ["| case | server | served | answers | penstock | tshark | ok |",
             "|---|---|---|---|---|---|---|"]
    for c in framing_cases.CASES:
        for server in ports:
            r = sent[(c["name"], server)]
            cl = r["client"]
            sv = served[server].get(cl, [0, 0, []])
            got_s = (sv[0], sv[1])
            got_p = pen[server].get(cl, (0, 0))
            got_t = ts[server].get(cl, (0, 0))
            answers = ",".join(r["statuses"]) or "-"
            answers += {True: " close", "reset": " reset", False: ""}[r["closed"]]
            ok = got_p[0] >= got_s[0] and got_p[1] >= got_s[1]
            why = []
            if not ok:
                why.append("penstock %s < served %s" % (fig(got_p), fig(got_s)))
            want = {k: c[k] for k in ("served", "penstock", "tshark")}
            for key, got in (("served", got_s), ("penstock", got_p), ("tshark", got_t)):
                w = want[key]
                if isinstance(w, dict):
                    w = w.get(server)
                if w is None:
                    why.append("%s %s: no documented figure" % (key, fig(got)))
                elif tuple(w) != tuple(got):
                    why.append("%s %s, documented %s" % (key, fig(got), fig(w)))
            name = "%s/%s" % (c["name"], server)
            detail = "served %s (%s) answers %s penstock %s tshark %s" % (
                fig(got_s), " ".join(sv[2]) or "-", answers, fig(got_p), fig(got_t))
            if why:
                failed += 1
                known = server in c["known"] and not ok
                print("FAIL %s: %s%s; %s" % (name, "; ".join(why),
                                             " (known failure, docs/framing.md)"
                                             if known else "", detail))
            else:
                print("PASS %s: %s" % (name, detail))
            figures.setdefault(c["name"], {})[server] = {
                "served": got_s, "penstock": got_p, "tshark": got_t,
                "answers": answers, "detail": " ".join(sv[2])}
            table.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                c["name"], server, fig(got_s), answers, fig(got_p), fig(got_t),
                "yes" if ok else "**no**"))
    with open(os.path.join(workdir, "table.md"), "w") as fh:
        fh.write("\n".join(table) + "\n")
    with open(os.path.join(workdir, "figures.json"), "w") as fh:
        json.dump(figures, fh, indent=1)
    return 1 if failed else 0


def main(argv):
    if argv[:1] == ["send"] and len(argv) >= 4:
        return send(argv[1:])
    if argv[:1] == ["check"] and len(argv) >= 6:
        return check(argv[1:])
    print("usage: framing_run.py send OUT SERVER=ADDR:PORT... -- IP... | "
          "check SENT PCAP PENSTOCK WORKDIR SERVER=PORT...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
