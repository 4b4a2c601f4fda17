#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""The control socket's own answer time, for tools/bench_tick.sh: one
process that asks penstockd for its status back to back, a fresh
connection each time (one exchange per connection: docs/control-protocol.md)
but no process started for it, until STOPFILE appears.

Usage: bench_ctl_probe.py SOCKET OUT STOPFILE

Writes a line an answer to OUT: the wall us from connect() to the answer's
end (the daemon closes), when it was asked (Unix ms), and whether a
detection pass was going in the detector's thread as it answered
(detection.running: 1, 0; - where the answer does not say, or there was none).
"""

import json
import os
import socket
import sys
import time

REQ = b'{"cmd":"status"}\n'


def ask(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect(path)
        s.sendall(REQ)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                return data
            data += b
    finally:
        s.close()


def main():
    path, out, stop = sys.argv[1:4]
    with open(out, "w") as f:
        while not os.path.exists(stop):
            t0_wall = time.time()
            t0 = time.monotonic_ns()
            try:
                data = ask(path)
            except OSError:
                time.sleep(0.01)	# not listening (yet): no answer to time
                continue
            t1 = time.monotonic_ns()
            running = "-"
            try:
                det = json.loads(data).get("detection", {})
                if "running" in det:
                    running = "1" if det["running"] else "0"
            except ValueError:
                pass
            f.write("%d %d %s\n" % ((t1 - t0) // 1000, int(t0_wall * 1000), running))
            f.flush()


if __name__ == "__main__":
    main()
