#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""make bench-upload's bulk upload over one TCP connection.

  upload_load.py sink --bind ADDR --port PORT
      reads and discards every byte of every connection (one thread each)
  upload_load.py send --dst ADDR --port PORT --seconds S [--mode clen|chunked]
      POSTs to /v1/upload on one connection, one after the other, each with a
      body of 1 GiB (Content-Length, or chunks of 1 MiB), sent as fast as
      the connection takes them (the sink never answers); prints
      {"bytes": N, "seconds": T, "gbps": G} for the seconds after a second's
      warm-up.
"""
import argparse
import json
import socket
import threading
import time

BLOCK = 1 << 20


def sink(args):
    srv = socket.create_server((args.bind, args.port), backlog=64, reuse_port=True)

    def drain(conn):
        buf = bytearray(BLOCK)
        with conn:
            while conn.recv_into(buf):
                pass

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


def send(args):
    body = bytes(BLOCK)
    per_request = 1024
    if args.mode == "clen":
        head = b"POST /v1/upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (
            per_request * BLOCK)
        piece, tail = body, b""
    else:
        head = b"POST /v1/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        piece, tail = b"%x\r\n" % BLOCK + body + b"\r\n", b"0\r\n\r\n"
    conn = socket.create_connection((args.dst, args.port))
    n = 0
    start = time.monotonic()
    t0 = start + 1.0
    end = t0 + args.seconds
    sent = 0
    counting = False
    while True:
        if n % per_request == 0:
            conn.sendall((tail if n else b"") + head)
        conn.sendall(piece)
        n += 1
        now = time.monotonic()
        if not counting and now >= t0:
            counting, sent, t0 = True, 0, now
        elif counting:
            sent += len(piece)
        if now >= end:
            break
    secs = time.monotonic() - t0
    conn.close()
    print(json.dumps({"bytes": sent, "seconds": round(secs, 3),
                      "gbps": round(sent * 8 / secs / 1e9, 3)}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sink")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, required=True)
    s = sub.add_parser("send")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--seconds", type=float, default=5)
    s.add_argument("--mode", choices=("clen", "chunked"), default="clen")
    args = ap.parse_args()
    sink(args) if args.cmd == "sink" else send(args)


if __name__ == "__main__":
    main()
