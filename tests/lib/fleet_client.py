#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""One client spread over several inference hosts, for tests/e2e/test_fleet.

From each source address (--src, comma-separated), WORKERS keep-alive
connections to each host, each
sending POST /v1/chat/completions at most RATE times a second, until the
file STOP exists. Each answered request is one line "HOST\\n" in OUT (flushed:
the test reads it while this runs); a request whose connection failed is
retried on a new one. Exit 0.
"""
import argparse
import http.client
import os
import sys
import threading
import time

BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":4}'


def worker(src, host, port, rate, stop, out, lock):
    conn = None
    gap = 1.0 / rate
    nxt = time.monotonic()
    while not os.path.exists(stop):
        now = time.monotonic()
        if now < nxt:
            time.sleep(min(nxt - now, 0.2))
            continue
        nxt = max(nxt + gap, now)
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=30,
                                                  source_address=(src, 0))
            conn.request("POST", "/v1/chat/completions", BODY,
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                with lock:
                    out.write(host + "\n")
                    out.flush()
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", required=True, help="comma-separated source addresses")
    ap.add_argument("--hosts", required=True, help="comma-separated addresses")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--rate", type=float, default=4.0)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    lock = threading.Lock()
    with open(a.out, "a") as out:
        ts = [threading.Thread(target=worker, daemon=True,
                               args=(src, h, a.port, a.rate, a.stop, out, lock))
              for src in a.src.split(",") for h in a.hosts.split(",")
              for _ in range(a.workers)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
