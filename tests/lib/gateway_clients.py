#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Clients of an inference server behind gateways, for the end-to-end tests.

Usage: gateway_clients.py PLAN.json

PLAN is a list of rounds, each a list of jobs run at the same time (a
thread each); a job is {"host", "port", "src", "n", "k", "round", "forge"}: n
requests in turn on one keep-alive HTTP/1.1 connection from address src
to the gateway at host:port. The i-th request of client k asks
POST /v1/chat/completions for 1 + k % 7 + i % 4 tokens with a prompt of
1 + (3k + i) % 11 words, as a JSON answer, an event stream with its usage
or one without ("stream_options": {"include_usage": false}), in turn from
(i + k) % 3; with "forge" it carries "X-Forwarded-For: FORGE" of its own.
A connection that fails, or that the gateway closes inside an answer (the
answer then not whole), is opened anew for the next request.

Each request carries an "X-Request-Id" of its own (a tracing header, as
gateways pass on).

Prints a JSON list, one item a request: {"src", "port", "status", "mode",
"completion", "prompt", "whole"} (the usage the answer reported, None
where it reported none; whether the answer came whole: JSON that parses,
an event stream ending in "data: [DONE]").
"""
import http.client
import json
import sys
import threading

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo".split()
MODES = ("json", "stream", "stream-nousage")


def request_of(k, i):
    mode = MODES[(i + k) % 3]
    req = {"model": "m", "max_tokens": 1 + k % 7 + i % 4,
           "messages": [{"role": "user", "content": " ".join(WORDS[:1 + (3 * k + i) % 11])}]}
    if mode != "json":
        req["stream"] = True
    if mode == "stream-nousage":
        req["stream_options"] = {"include_usage": False}
    return mode, req


def usage_of(mode, data):
    usage = None
    if mode == "json":
        try:
            usage = json.loads(data).get("usage")
        except ValueError:
            return {}
    else:
        for line in data.split(b"\n"):
            if line.startswith(b"data: {"):
                try:
                    usage = json.loads(line[6:]).get("usage") or usage
                except ValueError:
                    pass        # an event cut short: the answer is not whole
    return usage or {}


def job(r, out, lock):
    def connect():
        return http.client.HTTPConnection(r["host"], r["port"], source_address=(r["src"], 0),
                                          timeout=30)
    conn = connect()
    got = []
    for i in range(r["n"]):
        mode, req = request_of(r["k"], i)
        # A tracing header of its own each request, as gateways pass on:
        # an HPACK encoder that indexes it turns its dynamic table over.
        hdr = {"Content-Type": "application/json",
               "X-Request-Id": "%s-%d-%d-%d-%08x" % (
                   r["src"], r["port"], r.get("round", 0), i,
                   (r["k"] * 2654435761 + i * 40503 + r["port"]) & 0xffffffff)}
        if r.get("forge"):
            hdr["X-Forwarded-For"] = r["forge"]
        rec = {"src": r["src"], "port": r["port"], "mode": mode}
        try:
            conn.request("POST", "/v1/chat/completions", json.dumps(req), hdr)
            resp = conn.getresponse()
            try:
                data = resp.read()
            except http.client.IncompleteRead as e:
                # The gateway closed the connection inside the answer.
                data = e.partial
                conn.close()
                conn = connect()
            rec["status"] = resp.status
            u = usage_of(mode, data) if resp.status == 200 else {}
            rec["completion"] = u.get("completion_tokens")
            rec["prompt"] = u.get("prompt_tokens")
            # A whole answer: JSON that parses, an event stream that ends
            # in [DONE] (a gateway may end one early, cleanly).
            rec["whole"] = bool(u) if mode == "json" else \
                data.rstrip().endswith(b"data: [DONE]")
        except (OSError, http.client.HTTPException, ValueError) as e:
            rec["status"] = repr(e)
            conn.close()
            conn = connect()
        got.append(rec)
    conn.close()
    with lock:
        out.extend(got)


def main():
    plan = json.load(open(sys.argv[1]))
    out, lock = [], threading.Lock()
    for rnd in plan:
        ts = [threading.Thread(target=job, args=(r, out, lock)) for r in rnd]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
