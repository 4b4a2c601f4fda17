#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""One client spread over several inference hosts, for tests/e2e/test_fleet.

From each source address (--src, comma-separated), WORKERS keep-alive
connections to each host, each
sending POST /v1/chat/completions at most RATE times a second, until the
file STOP exists. Each answered request is one line "HOST\\n" in OUT (flushed:
the test reads it while this runs); a request whose connection failed is
retried on a new one. Exit 0.

With --max-tokens N the requests ask for N tokens of a prompt of --prompt
words, every other one streamed (server-sent events with the usage in the
last event, as OpenAI's stream_options include_usage), and each line is
"HOST TOKENS", TOKENS the usage the server reported in its answer
(prompt_tokens + completion_tokens, read from the JSON answer or the
stream's usage event): the server's own count, for a test's oracle.
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time

BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":4}'


def body_of(max_tokens, prompt, stream):
    if not max_tokens:
        return BODY
    req = {"model": "m", "max_tokens": max_tokens,
           "messages": [{"role": "user", "content": " ".join(["word"] * prompt)}]}
    if stream:
        req["stream"] = True
        req["stream_options"] = {"include_usage": True}
    return json.dumps(req).encode()


def usage_of(data, stream):
    """prompt_tokens + completion_tokens of an answer (its stream's usage event)."""
    objs = []
    if stream:
        for line in data.decode().split("\n"):
            if line.startswith("data: {"):
                objs.append(json.loads(line[6:]))
    else:
        objs.append(json.loads(data))
    for o in objs:
        u = o.get("usage")
        if u:
            return int(u["prompt_tokens"]) + int(u["completion_tokens"])
    return 0


def worker(src, host, port, rate, stop, out, lock, max_tokens=0, prompt=1):
    conn = None
    sent = 0
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
            stream = bool(max_tokens) and sent % 2 == 1
            conn.request("POST", "/v1/chat/completions", body_of(max_tokens, prompt, stream),
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            sent += 1
            if r.status == 200:
                line = host + (" %d" % usage_of(data, stream) if max_tokens else "")
                with lock:
                    out.write(line + "\n")
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
    ap.add_argument("--max-tokens", type=int, default=0,
                    help="ask for this many tokens, every other answer streamed; log usage")
    ap.add_argument("--prompt", type=int, default=1, help="words of the prompt")
    a = ap.parse_args()
    lock = threading.Lock()
    with open(a.out, "a") as out:
        ts = [threading.Thread(target=worker, daemon=True,
                               args=(src, h, a.port, a.rate, a.stop, out, lock, a.max_tokens,
                                     a.prompt))
              for src in a.src.split(",") for h in a.hosts.split(",")
              for _ in range(a.workers)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
