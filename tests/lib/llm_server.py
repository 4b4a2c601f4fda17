#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""A stand-in OpenAI-compatible inference server for penstock's tests and demo.

It speaks HTTP/1.1 the way real inference servers (vLLM, llama.cpp,
Ollama's OpenAI API) do on the wire, which is what penstock counts:

  POST /v1/chat/completions, POST /v1/completions
      JSON answer; with "stream": true in the body, server-sent events over
      chunked transfer encoding, one token per chunk, ending in
      "data: [DONE]"; the last chunk before it carries the usage, unless
      "stream_options": {"include_usage": false}.
  GET /v1/models, GET /health

Connections are kept alive, and pipelined requests are answered in order:
every request body is read exactly as framed (Content-Length or chunked),
so the bytes after it are the next request. A body that is not JSON is
answered 400, still on a connection that stays open.

The "model" is deterministic: the reply depends only on the prompt and the
requested max_tokens, so tests can know what they will get.

With --proxy-protocol it stands behind a load balancer, as a server does
with nginx's "listen ... proxy_protocol" or HAProxy's "accept-proxy": every
connection must start with a PROXY protocol header (HAProxy's "The PROXY
protocol", version 1 or 2), which it reads off before the first request and
whose source address it takes for the client's (in its log); a connection
whose header is missing or malformed is closed unanswered. The header is
believed whoever sends it: which peers to trust is penstock's business here,
not the stand-in's.

With --log-forwarded it logs, for each request it answers, the
X-Forwarded-For and Forwarded lines it read (a line "forwarded {JSON}":
peer, request line, and the lines' values in order), so that a test can
tell whom a proxy in front of it named.

Usage: llm_server.py [--bind ADDR] [--port N] [--token-delay S] [--tokens N]
                     [--proxy-protocol] [--log-forwarded] [--nodelay] [-v]
"""

import argparse
import hashlib
import ipaddress
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "penstock-standin-1"
WORDS = ("the river runs under the old mill and the water turns the wheel while "
         "stones grind slow grain into flour for bread that feeds the town").split()

# Bounds on what a client may make us do, so a test or the demo cannot
# wedge the server.
MAX_BODY = 8 << 20
MAX_TOKENS = 4096
MAX_CHUNK_LINE = 1024


class BadRequest(Exception):
    pass


class BadProxyHeader(Exception):
    pass


PROXY_V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PROXY_V1_MAX = 107      # the longest v1 line, CR LF included


def read_exactly(f, n):
    data = f.read(n)
    if len(data) != n:
        raise BadProxyHeader("connection closed inside the header")
    return data


def read_proxy_header(f, peer):
    """The PROXY header at the start of the stream f: (version, command,
    client) where client is (address, port), the peer's own for a v1
    UNKNOWN or a v2 LOCAL or UNSPEC header. Reads exactly the header's
    bytes, so that f goes on with the first request."""
    head = read_exactly(f, 6)
    if head == b"PROXY ":
        line = f.readline(PROXY_V1_MAX - 6)
        if not line.endswith(b"\r\n"):
            raise BadProxyHeader("v1 line without CR LF in %d bytes" % PROXY_V1_MAX)
        parts = line[:-2].decode("ascii", "replace").split(" ")
        if parts[0] == "UNKNOWN":
            return 1, "UNKNOWN", peer
        if parts[0] not in ("TCP4", "TCP6") or len(parts) != 5:
            raise BadProxyHeader("bad v1 line %r" % line[:60])
        try:
            src = ipaddress.ip_address(parts[1])
            dst = ipaddress.ip_address(parts[2])
            sport, dport = int(parts[3]), int(parts[4])
        except ValueError:
            raise BadProxyHeader("bad v1 line %r" % line[:60])
        want = 4 if parts[0] == "TCP4" else 6
        if src.version != want or dst.version != want or not (
                0 <= sport <= 65535 and 0 <= dport <= 65535):
            raise BadProxyHeader("bad v1 line %r" % line[:60])
        return 1, parts[0], (str(src), sport)
    if head != PROXY_V2_SIG[:6]:
        raise BadProxyHeader("no PROXY header: %r" % head)
    rest = read_exactly(f, 10)
    if head + rest[:6] != PROXY_V2_SIG:
        raise BadProxyHeader("bad v2 signature")
    ver_cmd, fam, length = rest[6], rest[7], struct.unpack("!H", rest[8:10])[0]
    if ver_cmd >> 4 != 2 or ver_cmd & 0xf > 1:
        raise BadProxyHeader("v2 version/command 0x%02x" % ver_cmd)
    body = read_exactly(f, length)      # addresses, then TLVs (not read)
    if ver_cmd & 0xf == 0:
        return 2, "LOCAL", peer
    if fam == 0x11:
        if length < 12:
            raise BadProxyHeader("v2 TCP4 header of %d bytes" % length)
        src, sport = socket.inet_ntop(socket.AF_INET, body[0:4]), body[8] << 8 | body[9]
        return 2, "TCP4", (src, sport)
    if fam == 0x21:
        if length < 36:
            raise BadProxyHeader("v2 TCP6 header of %d bytes" % length)
        src, sport = socket.inet_ntop(socket.AF_INET6, body[0:16]), body[32] << 8 | body[33]
        return 2, "TCP6", (src, sport)
    return 2, "family 0x%02x" % fam, peer


def tokens_for(prompt, n):
    """The n tokens answering prompt: the text from a word the prompt picks."""
    start = hashlib.sha256(prompt.encode("utf-8", "replace")).digest()[0]
    return [("" if i == 0 else " ") + WORDS[(start + i) % len(WORDS)] for i in range(n)]


def prompt_of(req, chat):
    if chat:
        msgs = req.get("messages")
        if not isinstance(msgs, list):
            raise BadRequest("'messages' must be a list")
        parts = []
        for m in msgs:
            if isinstance(m, dict) and isinstance(m.get("content"), str):
                parts.append(m["content"])
        return "\n".join(parts)
    p = req.get("prompt", "")
    if isinstance(p, list):
        p = "\n".join(x for x in p if isinstance(x, str))
    if not isinstance(p, str):
        raise BadRequest("'prompt' must be a string")
    return p


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return "penstock-llm-standin/1"

    def setup(self):
        super().setup()
        self.proxy_ok = True
        if not self.server.proxy_protocol:
            return
        peer = self.client_address[:2]
        try:
            ver, what, client = read_proxy_header(self.rfile, peer)
        except (BadProxyHeader, OSError) as e:
            self.proxy_ok = False
            sys.stderr.write("proxy %s: %s: connection closed\n" % (peer[0], e))
            return
        # The client the header names is the one this connection serves:
        # every log line names it from here on (an IPv4 client that a
        # dual-stack proxy names v4-mapped by its IPv4 address).
        a = ipaddress.ip_address(client[0])
        if a.version == 6 and a.ipv4_mapped is not None:
            client = (str(a.ipv4_mapped), client[1])
        self.client_address = client
        if self.server.verbose:
            sys.stderr.write("proxy %s: v%d %s client %s port %d\n"
                             % (peer[0], ver, what, client[0], client[1]))

    def handle(self):
        if self.proxy_ok:
            super().handle()

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def log_request(self, code="-", size="-"):
        super().log_request(code, size)
        if not self.server.log_forwarded:
            return
        # What a proxy said of the request's client, as this server read
        # it: every X-Forwarded-For and Forwarded line, in order.
        h = getattr(self, "headers", None)
        sys.stderr.write("forwarded %s\n" % json.dumps({
            "peer": self.address_string(), "request": self.requestline,
            "xff": h.get_all("X-Forwarded-For", []) if h is not None else [],
            "fwd": h.get_all("Forwarded", []) if h is not None else []}))

    # -- request body, as framed -----------------------------------------

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te:
            if te.strip().lower() != "chunked":
                raise BadRequest("unsupported Transfer-Encoding %r" % te)
            return self.read_chunked()
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            raise BadRequest("bad Content-Length")
        if n < 0 or n > MAX_BODY:
            raise BadRequest("Content-Length out of range")
        body = self.rfile.read(n)
        if len(body) != n:
            raise ConnectionError("body cut short")
        return body

    def read_chunked(self):
        """RFC 9112 section 7.1: chunks, then trailer fields, then CRLF."""
        body = bytearray()
        while True:
            line = self.rfile.readline(MAX_CHUNK_LINE)
            if not line:
                raise ConnectionError("chunked body cut short")
            size = line.split(b";", 1)[0].strip()
            try:
                size = int(size, 16)
            except ValueError:
                raise BadRequest("bad chunk size line %r" % line[:40])
            if size == 0:
                break
            if len(body) + size > MAX_BODY:
                raise BadRequest("chunked body too large")
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.read(2) != b"\r\n":
                raise BadRequest("bad chunk")
            body += data
        for _ in range(64):		# trailer fields, ignored
            line = self.rfile.readline(MAX_CHUNK_LINE)
            if line in (b"\r\n", b"\n", b""):
                break
        return bytes(body)

    # -- answers -------------------------------------------------------------

    def send_json(self, code, obj):
        data = json.dumps(obj).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error_json(self, code, msg):
        self.send_json(code, {"error": {"message": msg, "type": "invalid_request_error",
                                        "code": code}})

    def do_GET(self):
        # A body a GET carries is read as framed, so that the next request
        # on the connection starts where this one ends.
        try:
            self.read_body()
        except BadRequest as e:
            self.close_connection = True
            self.send_error_json(400, str(e))
            return
        path = self.path.split("?", 1)[0]
        if path in ("/v1/chat/completions", "/v1/completions"):
            # As the OpenAI-compatible servers answer a route's other methods.
            self.send_error_json(405, "method not allowed: GET %s takes POST" % path)
        elif path == "/health":
            self.send_json(200, {"status": "ok"})
        elif path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [
                {"id": MODEL, "object": "model", "created": 0, "owned_by": "penstock"}]})
        else:
            self.send_error_json(404, "no route for GET %s" % path)

    def do_HEAD(self):
        self.send_response(200 if self.path in ("/health", "/v1/models") else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        try:
            body = self.read_body()
        except BadRequest as e:
            # The framing is lost: answer and close.
            self.close_connection = True
            self.send_error_json(400, str(e))
            return
        path = self.path.split("?", 1)[0]
        if path not in ("/v1/chat/completions", "/v1/completions"):
            self.send_error_json(404, "no route for POST %s" % path)
            return
        chat = path == "/v1/chat/completions"
        try:
            req = json.loads(body)
            if not isinstance(req, dict):
                raise BadRequest("body must be a JSON object")
            prompt = prompt_of(req, chat)
            n = int(req.get("max_tokens", self.server.tokens))
        except (ValueError, BadRequest) as e:
            self.send_error_json(400, "bad request body: %s" % e)
            return
        n = max(1, min(n, MAX_TOKENS))
        toks = tokens_for(prompt, n)
        if req.get("stream") is True:
            opts = req.get("stream_options")
            usage = not (isinstance(opts, dict) and opts.get("include_usage") is False)
            self.stream(chat, toks, len(prompt.split()), usage)
        else:
            self.complete(chat, toks, len(prompt.split()))

    def ident(self, chat):
        with self.server.lock:
            self.server.seq += 1
            seq = self.server.seq
        return ("chatcmpl-%06d" if chat else "cmpl-%06d") % seq

    def complete(self, chat, toks, nprompt):
        text = "".join(toks)
        if chat:
            choice = {"index": 0, "finish_reason": "length",
                      "message": {"role": "assistant", "content": text}}
        else:
            choice = {"index": 0, "finish_reason": "length", "text": text}
        time.sleep(self.server.token_delay * len(toks))
        self.send_json(200, {
            "id": self.ident(chat),
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()), "model": MODEL, "choices": [choice],
            "usage": {"prompt_tokens": nprompt, "completion_tokens": len(toks),
                      "total_tokens": nprompt + len(toks)}})

    def chunk(self, data):
        # One write per chunk: wfile is unbuffered, so each token leaves
        # in its own TCP segment, as a token-by-token server sends it.
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def stream(self, chat, toks, nprompt, usage=True):
        ident = self.ident(chat)
        created = int(time.time())
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        obj = "chat.completion.chunk" if chat else "text_completion"
        for i, t in enumerate(toks + [None]):
            if chat:
                delta = {} if t is None else ({"role": "assistant", "content": t} if i == 0
                                               else {"content": t})
                choice = {"index": 0, "delta": delta,
                          "finish_reason": "length" if t is None else None}
            else:
                choice = {"index": 0, "text": t or "",
                          "finish_reason": "length" if t is None else None}
            ev = {"id": ident, "object": obj, "created": created, "model": MODEL,
                  "choices": [choice]}
            if t is None and usage:
                ev["usage"] = {"prompt_tokens": nprompt, "completion_tokens": len(toks),
                               "total_tokens": nprompt + len(toks)}
            self.chunk(b"data: " + json.dumps(ev).encode() + b"\n\n")
            if t is not None:
                time.sleep(self.server.token_delay)
        self.chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, socket.timeout, BrokenPipeError):
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            # One socket for both families when bound to "::".
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bind", default="::",
                    help="address to listen on (default :: = every IPv6 and IPv4 address)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--token-delay", type=float, default=0.002,
                    help="seconds between streamed tokens (default 0.002)")
    ap.add_argument("--tokens", type=int, default=16,
                    help="tokens per answer when the request has no max_tokens")
    ap.add_argument("--idle-timeout", type=float, default=30,
                    help="seconds an idle connection is kept open")
    ap.add_argument("--proxy-protocol", action="store_true",
                    help="every connection starts with a PROXY v1 or v2 header")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every request")
    ap.add_argument("--nodelay", action="store_true",
                    help="TCP_NODELAY on every connection: an answer's header and body "
                         "leave at once, not the body after the peer's (delayed) ACK")
    ap.add_argument("--log-forwarded", action="store_true",
                    help="log each request's X-Forwarded-For and Forwarded lines "
                         "(a line 'forwarded {JSON}')")
    a = ap.parse_args()

    Server.address_family = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    Handler.timeout = a.idle_timeout
    Handler.disable_nagle_algorithm = a.nodelay
    srv = Server((a.bind, a.port), Handler)
    srv.verbose = a.verbose
    srv.log_forwarded = a.log_forwarded
    srv.proxy_protocol = a.proxy_protocol
    srv.token_delay = max(0.0, a.token_delay)
    srv.tokens = max(1, min(a.tokens, MAX_TOKENS))
    srv.lock = threading.Lock()
    srv.seq = 0
    sys.stderr.write("llm_server: listening on [%s]:%d\n" % (a.bind, a.port))
    sys.stderr.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
