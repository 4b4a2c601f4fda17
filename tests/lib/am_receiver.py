#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A stand-in for Alertmanager's API v2 receiver, for tests/e2e/test_alerts.

    am_receiver.py --port N --log FILE [--portfile FILE]

Listens on 127.0.0.1:N (0: any free port, written to --portfile once it
listens) and answers every POST with 200 and an empty body, as
Alertmanager does for POST /api/v2/alerts. Every request is appended to
--log as one JSON line, flushed before the answer goes out:
    {"method": "POST", "path": "/api/v2/alerts",
     "content_type": "application/json", "body": "<the body, as text>"}
so that what arrived is on disk by the time the sender sees the 200.
"""
import argparse
import http.server
import json
import os
import signal
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--portfile")
    args = ap.parse_args()
    log = open(args.log, "a", encoding="utf-8")

    class Handler(http.server.BaseHTTPRequestHandler):
        def record(self, body):
            log.write(json.dumps({
                "method": self.command,
                "path": self.path,
                "content_type": self.headers.get("Content-Type", ""),
                "body": body.decode("utf-8", "replace"),
            }) + "\n")
            log.flush()
            os.fsync(log.fileno())

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            self.record(self.rfile.read(n))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            self.record(b"")
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, fmt, *a):
            pass

    http.server.HTTPServer.allow_reuse_address = True
    srv = http.server.HTTPServer(("127.0.0.1", args.port), Handler)
    if args.portfile:
        tmp = args.portfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, args.portfile)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever()


if __name__ == "__main__":
    main()
