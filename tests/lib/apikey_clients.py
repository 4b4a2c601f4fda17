#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Clients for tests/e2e/test_apikey: HTTP/1.1 requests that carry API keys
(Authorization: Bearer, x-api-key, api-key), sent by curl, Python's
http.client and raw sockets.

  keys FILE
      make the run's keys and write them, JSON {name: key}: "sk-" and
      random URL-safe characters (secrets.token_urlsafe), 43 bytes unless
      the name says otherwise (long200: 200 bytes, ...; short1: 1 byte)
  cases KEYS SRC4 SRC6 HOST4 HOST6 PORT SEED [address]
      the counting cases below, from SRC4 to HOST4 and SRC6 to HOST6; one
      JSON line per request: case, port, src, key (the name of the key the
      request is to be counted to; null: its address's, as every request
      is with "address", for an endpoint without identity: api_key),
      inference (whether its path is an inference path), ok (answered 200)
  loop KEYS SRC HOST PORT SECONDS PACE KEY [HEADER]
      keep-alive inference POSTs carrying KEY (in HEADER: bearer, x-api-key
      or api-key; default bearer), PACE seconds apart, as fast as answered
      with PACE 0, none started after SECONDS; prints a JSON object: src,
      key, ok (answered 200), bad (others), t0, t1 (CLOCK_MONOTONIC at the
      first request and the last answer)
  once KEYS SRC HOST PORT KEY|- HEADER TIMEOUT
      one inference POST on a new connection, with KEY in HEADER (or no
      key); prints {"ok": answered 200, "timeout": no answer in TIMEOUT s}
      and closes with a RST (SO_LINGER 0), so that a request held back is
      not sent again after the client gave up

Every address is in 198.18.0.0/15 or fd00::/8.
"""

import base64
import http.client
import json
import random
import secrets
import socket
import struct
import subprocess
import sys
import time

BODY = json.dumps({"model": "m", "max_tokens": 4,
                   "messages": [{"role": "user", "content": "go"}]})
INFER = ("/v1/chat/completions", "/v1/completions", "/v1/completions", "/v1/completions")

# name -> length; the rest are 43 bytes. p-low is 47 bytes: 47 % 8 = 7,
# the longest unfinished last word a hash over it keeps.
LENGTHS = {"long200": 200, "long1000": 1000, "long1000b": 1000, "long3000": 3000,
           "rlong1000": 1000, "short1": 1, "short7": 7, "short8": 8, "short9": 9,
           "short16": 16, "p-low": 47, "pipe-low": 47, "r-low": 47, "r-high": 55}
NAMES = ["c-bearer", "c-oauth", "c-x", "c-a", "c-pa", "c-px", "c-pb", "c-pa2", "c-px2",
         "c-basic-a", "c-case1", "c-case2", "c-case3",
         "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "h10", "h11",
         "r1", "r2", "r3", "r4", "r5", "r7", "p1", "p2", "p3", "p4", "p5", "p6",
         "lim", "free", "blk"] + sorted(LENGTHS)


def make_keys():
    keys = {}
    for name in NAMES:
        n = LENGTHS.get(name, 43)
        if n < 8:
            # Short keys only show their ids are right: no secret to keep.
            keys[name] = secrets.token_urlsafe(8)[:n]
        else:
            keys[name] = ("sk-" + secrets.token_urlsafe(n))[:n]
    return keys


def key_line(kind, key):
    return {"bearer": ("Authorization", "Bearer " + key), "x-api-key": ("x-api-key", key),
            "api-key": ("api-key", key)}[kind]


def req(method, path, lines, body=None):
    """A request's bytes: request line, Host, the given lines, a body."""
    head = "%s %s HTTP/1.1\r\nHost: llm\r\n" % (method, path)
    if body is not None:
        lines = list(lines) + [("Content-Type", "application/json"),
                               ("Content-Length", str(len(body)))]
    for n, v in lines:
        head += "%s%s\r\n" % (n, v) if n.endswith(":") else "%s: %s\r\n" % (n, v)
    return (head + "\r\n" + (body or "")).encode()


def post(path, lines):
    return req("POST", path, lines, BODY)


def get(path, lines):
    return req("GET", path, lines)


def read_response(f):
    """Read one response from the file f; its status (None at EOF)."""
    line = f.readline(65537)
    if not line:
        return None
    status = int(line.split()[1])
    clen, chunked = 0, False
    while True:
        h = f.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            clen = int(value)
        elif name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int(f.readline(1024).split(b";")[0], 16)
            f.read(size + 2) if size else None
            if not size:
                while f.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                break
    else:
        f.read(clen)
    return status


class Log:
    def __init__(self, port, keyed):
        self.ok = True
        self.port = port
        self.keyed = keyed

    def rec(self, case, src, key, path, ok):
        print(json.dumps({"case": case, "port": self.port, "src": src,
                          "key": key if self.keyed else None,
                          "inference": path.startswith(INFER), "ok": bool(ok)}))
        sys.stdout.flush()
        if not ok:
            self.ok = False
            sys.stderr.write("%s: a request to %s with key %s not answered 200\n"
                             % (case, path, key))


# -- curl ----------------------------------------------------------------------

def curl_cases(log, K, src4, src6, url4, url6):
    def curl(case, src, url, path, key, args, body=True):
        cmd = ["curl", "-sS", "-g", "--fail", "-o", "/dev/null", "--max-time", "20",
               "--interface", src] + args
        if body:
            cmd += ["-H", "Content-Type: application/json", "--data-binary", BODY]
        r = subprocess.run(cmd + [url + path], stdin=subprocess.DEVNULL)
        log.rec(case, src, key, path, r.returncode == 0)

    H = lambda n, v: ["-H", "%s: %s" % (n, v)]  # noqa: E731
    curl("curl-bearer", src4, url4, "/v1/chat/completions", "c-bearer",
         H("Authorization", "Bearer " + K["c-bearer"]))
    curl("curl-bearer", src4, url4, "/v1/models", "c-bearer",
         H("Authorization", "Bearer " + K["c-bearer"]), body=False)
    curl("curl-oauth2-bearer", src6, url6, "/v1/chat/completions", "c-oauth",
         ["--oauth2-bearer", K["c-oauth"]])
    curl("curl-x-api-key", src6, url6, "/v1/completions", "c-x", H("x-api-key", K["c-x"]))
    curl("curl-api-key", src4, url4, "/v1/completions", "c-a", H("api-key", K["c-a"]))
    # Bearer, then x-api-key, then api-key, whatever their order.
    curl("curl-priority", src6, url6, "/v1/chat/completions", "c-pb",
         H("api-key", K["c-pa"]) + H("x-api-key", K["c-px"]) +
         H("Authorization", "Bearer " + K["c-pb"]))
    curl("curl-priority", src4, url4, "/v1/completions", "c-px2",
         H("api-key", K["c-pa2"]) + H("x-api-key", K["c-px2"]))
    # Basic credentials are no key.
    curl("curl-basic", src4, url4, "/v1/chat/completions", None, ["-u", "user:pass-word-1"])
    curl("curl-basic", src6, url6, "/v1/completions", "c-basic-a",
         ["-u", "user:pass-word-2"] + H("api-key", K["c-basic-a"]))
    curl("curl-none", src4, url4, "/v1/chat/completions", None, [])
    curl("curl-none", src6, url6, "/health", None, [], body=False)
    curl("curl-case", src4, url4, "/v1/chat/completions", "c-case1",
         H("authorization", "BEARER " + K["c-case1"]))
    curl("curl-case", src6, url6, "/v1/chat/completions", "c-case2",
         H("X-API-KEY", K["c-case2"]))
    curl("curl-case", src4, url4, "/v1/models", "c-case3", H("Api-Key", K["c-case3"]),
         body=False)
    curl("curl-long", src6, url6, "/v1/chat/completions", "long1000",
         H("x-api-key", K["long1000"]))


# -- http.client ----------------------------------------------------------------

def http_cases(log, K, src4, src6, host4, host6, port):
    """Keep-alive connections, each request with another key (or none)."""
    def run(case, src, host, reqs):
        conn = http.client.HTTPConnection(host, port, source_address=(src, 0), timeout=20)
        for method, path, lines, key in reqs:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for n, v in lines:
                conn.putheader(n, v)
            if method == "POST":
                conn.putheader("Content-Type", "application/json")
                conn.putheader("Content-Length", str(len(BODY)))
            conn.endheaders(BODY.encode() if method == "POST" else None)
            r = conn.getresponse()
            r.read()
            log.rec(case, src, key, path, r.status == 200)
        conn.close()

    B = lambda k: ("Authorization", "Bearer " + K[k])  # noqa: E731
    run("http-keys", src4, host4, [
        ("POST", "/v1/chat/completions", [B("h1")], "h1"),
        ("POST", "/v1/completions", [("x-api-key", K["h2"])], "h2"),
        ("GET", "/health", [], None),
        ("POST", "/v1/completions", [("api-key", K["h3"])], "h3"),
        ("POST", "/v1/chat/completions", [B("long200")], "long200"),
        ("POST", "/v1/chat/completions", [B("long1000b")], "long1000b"),
        ("POST", "/v1/completions", [("x-api-key", K["long3000"])], "long3000"),
        ("GET", "/v1/models", [B("h1")], "h1"),
        ("POST", "/v1/chat/completions", [], None),
    ])
    basic = "Basic " + base64.b64encode(b"user:pass-word-3").decode()
    run("http-lines", src6, host6, [
        # Basic, then Bearer: the Bearer key.
        ("POST", "/v1/chat/completions", [("Authorization", basic), B("h4")], "h4"),
        # Two Bearer keys: the first.
        ("POST", "/v1/chat/completions", [B("h5"), B("h6")], "h5"),
        # The key ends at a blank.
        ("POST", "/v1/completions", [("x-api-key", K["h7"] + " trailing words")], "h7"),
        ("POST", "/v1/completions", [("api-key", "\t " + K["h8"] + "\t  ")], "h8"),
        ("POST", "/v1/chat/completions", [("Authorization", "bearer " + K["h9"])], "h9"),
        # Bearer without a key: no key; the api-key's.
        ("POST", "/v1/chat/completions", [("Authorization", "Bearer"),
                                          ("api-key", K["h10"])], "h10"),
        ("POST", "/v1/chat/completions", [("Authorization", "Bearer   "),
                                          ("x-api-key", K["h11"])], "h11"),
        # Another scheme: no key at all.
        ("POST", "/v1/chat/completions", [("Authorization", "Token tok.not-a-key")], None),
        ("GET", "/v1/models", [("Authorization", basic)], None),
    ])


# -- raw sockets ------------------------------------------------------------------

def connect(src, host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(20)
    s.bind((src, 0))
    s.connect((host, port))
    return s, s.makefile("rb")


def send_pieces(s, data, rng, lo, hi, pause=0.001):
    """data in pieces of lo..hi bytes, each its own segment (TCP_NODELAY, and
    a pause after each)."""
    i = 0
    while i < len(data):
        n = rng.randint(lo, hi)
        s.sendall(data[i:i + n])
        i += n
        time.sleep(pause)


def raw_cases(log, K, src4, src6, host4, host6, port, rng):
    B = lambda k: ("Authorization", "Bearer " + K[k])  # noqa: E731
    # A few bytes a segment: every key line cut, and keys cut, across
    # segments; answers read after each request.
    cut = [
        (post("/v1/chat/completions", [B("r1")]), "r1", "/v1/chat/completions"),
        (get("/v1/models", [("x-api-key", K["r2"])]), "r2", "/v1/models"),
        (post("/v1/completions", [("api-key", K["r3"])]), "r3", "/v1/completions"),
        (post("/v1/chat/completions", [("x-api-key:", K["r4"])]), "r4", "/v1/chat/completions"),
        (post("/v1/chat/completions", [("Authorization:", "\tBearer\t\t" + K["r5"])]), "r5",
         "/v1/chat/completions"),
        (post("/v1/completions", [("api-key", K["short1"])]), "short1", "/v1/completions"),
        (post("/v1/completions", [("x-api-key", K["short7"])]), "short7", "/v1/completions"),
        (post("/v1/completions", [B("short8")]), "short8", "/v1/completions"),
        (post("/v1/completions", [("api-key", K["short9"])]), "short9", "/v1/completions"),
        (post("/v1/completions", [B("short16")]), "short16", "/v1/completions"),
        (post("/v1/chat/completions", [("Accept", "*/*")]), None, "/v1/chat/completions"),
        (post("/v1/chat/completions", [B("r-high"), ("x-api-key", K["r-low"])]), "r-high",
         "/v1/chat/completions"),
    ]
    for src, host, lo, hi in ((src4, host4, 1, 7), (src6, host6, 2, 5)):
        s, f = connect(src, host, port)
        for data, key, path in cut:
            send_pieces(s, data, rng, lo, hi)
            log.rec("raw-cut", src, key, path, read_response(f) == 200)
        s.close()
    # Long keys in pieces of tens to hundreds of bytes: across the
    # parser's chunks and the segments.
    s, f = connect(src6, host6, port)
    for data, key, path in (
            (post("/v1/chat/completions", [("x-api-key", K["rlong1000"])]), "rlong1000",
             "/v1/chat/completions"),
            (post("/v1/completions", [B("r7"), ("Accept", "*/*")]), "r7", "/v1/completions")):
        send_pieces(s, data, rng, 30, 300)
        log.rec("raw-long", src6, key, path, read_response(f) == 200)
    s.close()
    # Pipelined: requests of several keys (and none) in one write, bodies
    # between them, then all the answers; once whole, once cut at random.
    pipe = [
        (get("/v1/models", [B("p1")]), "p1", "/v1/models"),
        (post("/v1/chat/completions", [("x-api-key", K["p2"])]), "p2", "/v1/chat/completions"),
        (post("/v1/completions", [("api-key", K["p3"])]), "p3", "/v1/completions"),
        (get("/health", []), None, "/health"),
        (post("/v1/chat/completions", [B("p4"), ("x-api-key", K["p-low"])]), "p4",
         "/v1/chat/completions"),
        (post("/v1/completions", [("api-key", K["pipe-low"]), ("X-Api-Key", K["p5"])]), "p5",
         "/v1/completions"),
        (post("/v1/chat/completions", [B("p6")]), "p6", "/v1/chat/completions"),
    ]
    for src, host, how in ((src6, host6, "whole"), (src4, host4, "cut")):
        s, f = connect(src, host, port)
        data = b"".join(d for d, _, _ in pipe)
        if how == "whole":
            s.sendall(data)
        else:
            a, b = sorted(rng.sample(range(1, len(data)), 2))
            for part in (data[:a], data[a:b], data[b:]):
                s.sendall(part)
                time.sleep(0.005)
        for _, key, path in pipe:
            log.rec("raw-pipelined-" + how, src, key, path, read_response(f) == 200)
        s.close()


# -- the limit and the block ---------------------------------------------------------

def loop(K, src, host, port, secs, pace, key, kind):
    name, value = key_line(kind, K[key])
    ok = bad = 0
    conn = None
    t0 = time.monotonic()
    end = t0 + secs
    while time.monotonic() < end:
        if conn is None:
            conn = http.client.HTTPConnection(host, port, source_address=(src, 0), timeout=60)
        try:
            conn.request("POST", "/v1/chat/completions", BODY,
                         {"Content-Type": "application/json", name: value})
            r = conn.getresponse()
            r.read()
            good = r.status == 200
        except (OSError, http.client.HTTPException) as e:
            sys.stderr.write("%s %s: %s\n" % (src, key, e))
            good = False
            conn.close()
            conn = None
        ok += good
        bad += not good
        if pace:
            time.sleep(pace)
    if conn is not None:
        conn.close()
    print(json.dumps({"src": src, "key": key, "ok": ok, "bad": bad, "t0": t0,
                      "t1": time.monotonic()}))
    return bad == 0


def once(K, src, host, port, key, kind, timeout):
    lines = [] if key == "-" else [key_line(kind, K[key])]
    s, f = connect(src, host, port)
    s.settimeout(timeout)
    res = {"src": src, "key": None if key == "-" else key, "kind": kind}
    try:
        s.sendall(post("/v1/chat/completions", lines))
        res.update(ok=read_response(f) == 200, timeout=False)
    except socket.timeout:
        res.update(ok=False, timeout=True)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print(json.dumps(res))
    return True


def load(path):
    with open(path) as f:
        return json.load(f)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "keys" and len(argv) == 3:
        with open(argv[2], "w") as f:
            json.dump(make_keys(), f)
        return 0
    if cmd == "cases" and len(argv) in (9, 10) and argv[9:] in ([], ["address"]):
        K = load(argv[2])
        src4, src6, host4, host6, port, seed = argv[3], argv[4], argv[5], argv[6], int(argv[7]), \
            int(argv[8])
        log = Log(port, argv[9:] != ["address"])
        rng = random.Random(seed)
        curl_cases(log, K, src4, src6, "http://%s:%d" % (host4, port),
                   "http://[%s]:%d" % (host6, port))
        http_cases(log, K, src4, src6, host4, host6, port)
        raw_cases(log, K, src4, src6, host4, host6, port, rng)
        return 0 if log.ok else 1
    if cmd == "loop" and len(argv) in (9, 10):
        return 0 if loop(load(argv[2]), argv[3], argv[4], int(argv[5]), float(argv[6]),
                         float(argv[7]), argv[8], argv[9] if len(argv) > 9 else "bearer") else 1
    if cmd == "once" and len(argv) == 9:
        return 0 if once(load(argv[2]), argv[3], argv[4], int(argv[5]), argv[6], argv[7],
                         float(argv[8])) else 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
