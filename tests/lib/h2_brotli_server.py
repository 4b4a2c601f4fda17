#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""An h2c (prior knowledge) inference server whose answers are
brotli-encoded (content-encoding: br), for tests/e2e/test_encoded_tokens.

POST /v1/chat/completions with {"max_tokens": N, "stream": true} answers
an event stream in the stand-in server's format (tests/lib/llm_server.py):
N chunks of one word, a usage chunk, "data: [DONE]". The query string
says how it is compressed:

  ?br=whole    the whole stream compressed at once (quality 5, lgwin 22);
               past 64 kB of text its first meta-block takes 5 nibbles
               and its first byte is '['
  ?br=flush    each event compressed and flushed as it is written, in a
               DATA frame of its own (quality 5, lgwin 14: first byte 'a')

Each answer's encoded bytes go to the log (stderr), their first byte
among them, as one JSON line.

  h2_brotli_server.py --bind ADDR --port PORT
"""
import argparse
import json
import socket
import sys
import threading

import brotli
import h2.config
import h2.connection
import h2.events

WORDS = ["the", "of", "model", "token", "answer", "a", "client", "server", "stream",
         "kernel", "packet", "limit", "rate", "window", "byte", "in", "to", "and"]


def events(n):
    """The answer's events, as the stand-in server writes them."""
    out = []
    for i in range(n):
        ev = {"id": "chatcmpl-br", "object": "chat.completion.chunk", "created": 1765000000,
              "model": "stand-in", "choices": [{"index": 0, "delta": {
                  "content": " " + WORDS[(i * 7) % len(WORDS)]}, "finish_reason": None}]}
        out.append(b"data: " + json.dumps(ev).encode() + b"\n\n")
    usage = {"id": "chatcmpl-br", "object": "chat.completion.chunk", "created": 1765000000,
             "model": "stand-in", "choices": [],
             "usage": {"prompt_tokens": 9, "completion_tokens": n, "total_tokens": n + 9}}
    out.append(b"data: " + json.dumps(usage).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return out


def pieces(how, n):
    """The encoded answer, as the DATA frames' payloads."""
    evs = events(n)
    if how == "whole":
        return [brotli.compress(b"".join(evs), quality=5, lgwin=22)]
    c = brotli.Compressor(quality=5, lgwin=14)
    out = [c.process(e) + c.flush() for e in evs]
    out.append(c.finish())
    return [p for p in out if p]


def send(conn, sock, sid, data):
    """data on stream sid in frames the peer's window and frame size allow."""
    while data:
        room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
        if room <= 0:
            raise RuntimeError("no flow-control window left for %d bytes" % len(data))
        conn.send_data(sid, data[:room])
        data = data[room:]
        sock.sendall(conn.data_to_send())


def serve(sock):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    reqs = {}
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                reqs[ev.stream_id] = {"headers": dict(ev.headers), "body": b""}
            elif isinstance(ev, h2.events.DataReceived):
                reqs[ev.stream_id]["body"] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                r = reqs.pop(ev.stream_id)
                path = r["headers"].get(b":path", b"/").decode()
                how = "flush" if "br=flush" in path else "whole"
                n = int(json.loads(r["body"] or b"{}").get("max_tokens", 16))
                ps = pieces(how, n)
                conn.send_headers(ev.stream_id, [(":status", "200"),
                                                 ("content-type", "text/event-stream"),
                                                 ("content-encoding", "br")])
                for p in ps:
                    send(conn, sock, ev.stream_id, p)
                conn.end_stream(ev.stream_id)
                sys.stderr.write(json.dumps({"how": how, "bytes": sum(map(len, ps)),
                                             "first": ps[0][0]}) + "\n")
                sys.stderr.flush()
        sock.sendall(conn.data_to_send())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    fam = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.bind, a.port))
    ls.listen(16)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=lambda: (serve(s), s.close()), daemon=True).start()


if __name__ == "__main__":
    main()
