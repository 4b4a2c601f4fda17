#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""A gRPC server and its client for penstock's message counting tests.

Usage: grpc_app.py serve PORT
       grpc_app.py client TARGET

No generated code: messages are raw bytes through grpcio's generic
handlers, under the method names of Triton's KServe API (and a
server-streaming one). The client makes, on one channel:

  ServerLive          unary, empty messages both ways
  ModelInfer          unary, requests of 0, 1, 300, 5,000 and 70,000 bytes
                      (the last spans DATA frames and segments), one of
                      them gzip-compressed (the prefix's compressed flag)
  ModelGenerate       server-streaming: one request naming the answers'
                      sizes, one answer of each size (zero-length ones and
                      one of 40,000 bytes among them)
  ModelStreamInfer    bidirectional: messages of mixed sizes, one answer each

and prints the messages it sent and received, counted by grpcio, as JSON:
{"calls": N, "sent": N, "received": N}.
"""
import json
import sys
from concurrent import futures

import grpc

SVC = "inference.GRPCInferenceService"
UNARY = [0, 1, 300, 5000, 70000]
GENERATE = [0, 10, 0, 2000, 40000, 1, 0, 7, 300, 16384]
STREAM = [50, 0, 20000, 3, 16379, 5, 1000]


def serve(port):
    def infer(req, ctx):
        return b"o" * (len(req) // 2)

    def generate(req, ctx):
        for size in json.loads(req.decode()):
            yield b"g" * size

    def stream(reqs, ctx):
        for r in reqs:
            yield b"t" * (len(r) % 700)

    h = grpc.method_handlers_generic_handler(SVC, {
        "ServerLive": grpc.unary_unary_rpc_method_handler(lambda r, c: b""),
        "ModelInfer": grpc.unary_unary_rpc_method_handler(infer),
        "ModelGenerate": grpc.unary_stream_rpc_method_handler(generate),
        "ModelStreamInfer": grpc.stream_stream_rpc_method_handler(stream),
    })
    srv = grpc.server(futures.ThreadPoolExecutor(4))
    srv.add_generic_rpc_handlers((h,))
    srv.add_insecure_port("[::]:%d" % port)
    srv.start()
    print("serving", flush=True)
    srv.wait_for_termination()


def client(target):
    calls = sent = received = 0
    with grpc.insecure_channel(target) as ch:
        live = ch.unary_unary("/%s/ServerLive" % SVC)
        infer = ch.unary_unary("/%s/ModelInfer" % SVC)
        gen = ch.unary_stream("/%s/ModelGenerate" % SVC)
        stream = ch.stream_stream("/%s/ModelStreamInfer" % SVC)
        assert live(b"", timeout=10) == b""
        calls, sent, received = 1, 1, 1
        for i, size in enumerate(UNARY):
            kw = {"compression": grpc.Compression.Gzip} if i == 3 else {}
            out = infer(b"x" * size, timeout=10, **kw)
            assert len(out) == size // 2
            calls, sent, received = calls + 1, sent + 1, received + 1
        got = [len(m) for m in gen(json.dumps(GENERATE).encode(), timeout=10)]
        assert got == GENERATE, got
        calls, sent, received = calls + 1, sent + 1, received + len(got)
        got = [len(m) for m in stream(iter(b"m" * n for n in STREAM), timeout=10)]
        assert got == [n % 700 for n in STREAM], got
        calls, sent, received = calls + 1, sent + len(STREAM), received + len(got)
    print(json.dumps({"calls": calls, "sent": sent, "received": received}))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        client(sys.argv[2])
