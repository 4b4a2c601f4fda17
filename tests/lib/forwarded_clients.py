#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Clients for tests/e2e/test_forwarded_for: HTTP/1.1 requests that carry
X-Forwarded-For and Forwarded lines, through a reverse proxy or straight
to the server.

  loop SRC HOST PORT SECONDS PACE [HEADER: VALUE]...
      keep-alive requests (an inference POST, every fifth a GET /health),
      a new connection every 40, PACE seconds apart, for SECONDS; the extra
      header lines go with every request. Prints a JSON object: src, ok
      (answered 200), inference (of them, inference requests), bad (the
      others), t0 and t1 (CLOCK_MONOTONIC at the start and end) and lat,
      [start, seconds] of every request.
  raw PORT SRC4 SRC6 HOST4 HOST6 [FWD-PORT XFF-PORT]
      the hand-made cases below, each a connection of its own from SRC4 to
      HOST4 or SRC6 to HOST6 (to PORT, an endpoint with forwarded_for:
      true; and to FWD-PORT and XFF-PORT, endpoints with "forwarded" and
      "x-forwarded-for", those of mode_cases()): requests whose header lines name clients in
      every form the rule reads, several lines, long lines sent in small
      segments, lines cut anywhere, pipelined requests. Prints one JSON
      line per request: case, the client the rule gives it (expect),
      whether it is an inference request, and what it is to the rule
      (kind: "forwarded", "bad", "self": the header names the connection's
      own client, or "none"); and one line per case with ok.

Every address these requests name is in 198.18.0.0/15 or fd00::/8, but for
the forged entries the proxy must never believe (6.6.6.6, 7.7.7.7), which
are only text: no packet goes to or from them.
"""

import http.client
import io
import json
import socket
import sys
import time

BODY = json.dumps({"model": "m", "max_tokens": 4,
                   "messages": [{"role": "user", "content": "go"}]})


def request(conn, i, extra):
    if i % 5 == 4:
        conn.request("GET", "/health", headers=extra)
    else:
        h = {"Content-Type": "application/json"}
        h.update(extra)
        conn.request("POST", "/v1/chat/completions", BODY, h)
    r = conn.getresponse()
    r.read()
    return r.status == 200


def loop(src, host, port, secs, pace, extra, per_conn=40):
    ok = inference = bad = i = 0
    lat = []
    t0 = time.monotonic()
    end = t0 + secs
    conn = None
    while time.monotonic() < end:
        if conn is None:
            conn = http.client.HTTPConnection(host, port, source_address=(src, 0), timeout=60)
        s = time.monotonic()
        try:
            good = request(conn, i, extra)
        except (OSError, http.client.HTTPException) as e:
            sys.stderr.write("%s: request %d: %s\n" % (src, i, e))
            good = False
            conn.close()
            conn = None
        lat.append([round(s, 6), round(time.monotonic() - s, 6)])
        if good:
            ok += 1
            inference += i % 5 != 4
        else:
            bad += 1
        i += 1
        if conn is not None and i % per_conn == 0:
            conn.close()
            conn = None
        time.sleep(pace)
    if conn is not None:
        conn.close()
    print(json.dumps({"src": src, "ok": ok, "inference": inference, "bad": bad,
                      "t0": t0, "t1": time.monotonic(), "lat": lat}))
    return bad == 0


# -- the hand-made cases ------------------------------------------------------

def req(lines, inference=True):
    """A request with the given header lines (name, value), whole."""
    if inference:
        head = "POST /v1/completions HTTP/1.1\r\nHost: llm\r\n"
        lines = list(lines) + [("Content-Type", "application/json"),
                               ("Content-Length", str(len(BODY)))]
        body = BODY
    else:
        head = "GET /health HTTP/1.1\r\nHost: llm\r\n"
        body = ""
    for n, v in lines:
        head += "%s: %s\r\n" % (n, v)
    return (head + "\r\n" + body).encode()


XFF = "X-Forwarded-For"
FWD = "Forwarded"


def cases(gw4, gw6):
    """(name, family, [(request bytes, expected client, kind)], how to send).

    gw4 and gw6 are the trusted gateway's own addresses: the client of a
    request the rule leaves with the connection. Trusted besides them:
    fd00:5056::/64 (the hops of the proxy chain)."""
    out = []
    long_forged = ", ".join("198.18.66.%d" % i for i in range(1, 61))
    long_trusted = ", ".join("fd00:5056::%x" % i for i in range(0x100, 0x13c))
    out.append(("multi-line", 4, [
        (req([(XFF, "198.19.2.50"), ("Accept", "*/*"), (XFF, "198.19.1.2")]),
         "198.19.2.50", "forwarded"),
        (req([(XFF, "fd00:5055::50, 198.19.2.50"), (XFF, "fd00:5056::1"),
              (XFF, "fd00:5054::2")], False), "198.19.2.50", "forwarded"),
        (req([(XFF, "198.19.2.51"), (FWD, "for=198.19.2.99"), (XFF, "fd00:5056::3")]),
         "198.19.2.51", "forwarded"),
    ], "whole"))
    out.append(("long", 6, [
        # 60 forged entries left of the client and three trusted hops
        # right of it: the line spans several segments.
        (req([(XFF, long_forged + ", 198.19.2.52, fd00:5056::2, fd00:5056::1, 198.19.1.2")]),
         "198.19.2.52", "forwarded"),
        # 61 trusted entries: the left-most is the client.
        (req([(XFF, long_trusted + ", 198.19.1.2")], False), "fd00:5056::100", "forwarded"),
        (req([(FWD, ", ".join("for=198.18.67.%d" % i for i in range(1, 61))
               + ', for="[fd00:5055::52]:1234", for="[fd00:5056::9]"')]),
         "fd00:5055::52", "forwarded"),
    ], 16))
    out.append(("unknown", 4, [
        (req([(XFF, "198.19.2.53, unknown, 198.19.1.2")]), gw4, "bad"),
        (req([(XFF, "unknown, 198.19.2.54")]), "198.19.2.54", "forwarded"),
        (req([(XFF, "_hidden")], False), gw4, "bad"),
        (req([(XFF, "198.19.2.55, 999.1.2.3")]), gw4, "bad"),
        (req([(XFF, "198.19.2.55, fd00:5055::zz")]), gw4, "bad"),
        # Empty list elements are none (RFC 9110 section 5.6.1).
        (req([(XFF, "198.19.2.76, , 198.19.1.2,")]), "198.19.2.76", "forwarded"),
    ], "whole"))
    out.append(("ports", 6, [
        (req([(XFF, "198.19.2.56:4711, [fd00:5055::56]:80")]), "fd00:5055::56", "forwarded"),
        (req([(XFF, "198.19.2.57:4711")], False), "198.19.2.57", "forwarded"),
        (req([(XFF, "198.19.2.58:80, [fd00:5056::1]:8080, 198.19.1.2:443")]),
         "198.19.2.58", "forwarded"),
        # A v4-mapped address is its IPv4 client.
        (req([(XFF, "::ffff:198.19.2.59, [::ffff:198.19.1.2]:80")], False), "198.19.2.59",
         "forwarded"),
    ], "whole"))
    out.append(("forwarded", 4, [
        (req([(FWD, 'for=198.19.2.60;proto=http, For="[fd00:5055::60]:4711"')]),
         "fd00:5055::60", "forwarded"),
        (req([(FWD, "for=198.19.2.61"), (FWD, "FOR=_hidden;by=198.19.1.2")]), gw4, "bad"),
        (req([(FWD, 'for="198.19.2.62:80", for=198.19.1.2')], False), "198.19.2.62",
         "forwarded"),
        (req([(FWD, "by=198.19.1.2;for=198.19.2.63;host=llm")]), "198.19.2.63", "forwarded"),
        (req([(FWD, 'for="[fd00:5055::64]"')]), "fd00:5055::64", "forwarded"),
        (req([(FWD, "for=unknown")]), gw4, "bad"),
        # A hop that does not say whom it forwarded for: the walk cannot
        # go past it.
        (req([(FWD, "for=198.19.2.77, proto=https")]), gw4, "bad"),
        (req([(FWD, "for=198.19.2.78, , for=198.19.1.2")], False), "198.19.2.78", "forwarded"),
        # Both: the X-Forwarded-For lines win.
        (req([(FWD, "for=198.19.2.66"), (XFF, "198.19.2.65")]), "198.19.2.65", "forwarded"),
        (req([(FWD, "for=198.19.2.67"), (FWD, 'for="[fd00:5056::1]:1"')]), "198.19.2.67",
         "forwarded"),
    ], "whole"))
    out.append(("case-space", 6, [
        (req([("x-FORWARDED-for", "198.19.2.68")]), "198.19.2.68", "forwarded"),
        (req([(XFF, "198.19.2.69 ,\t198.19.1.2 ,fd00:5056::1")], False), "198.19.2.69",
         "forwarded"),
        (req([("FORWARDED", "proto=http;For=198.19.2.70")]), "198.19.2.70", "forwarded"),
    ], "whole"))
    out.append(("all-trusted", 4, [
        (req([(XFF, "fd00:5056::7, 198.19.1.2")]), "fd00:5056::7", "forwarded"),
        # The connection's own client: nothing forwarded.
        (req([(XFF, "198.19.1.2")], False), gw4, "self"),
        (req([("Accept", "*/*")]), gw4, "none"),
    ], "whole"))
    # Three requests in one segment, each its own client.
    out.append(("pipelined", 6, [
        (req([(XFF, "198.19.2.71")]), "198.19.2.71", "forwarded"),
        (req([(FWD, "for=198.19.2.72")], False), "198.19.2.72", "forwarded"),
        (req([]), gw6, "none"),
        (req([(XFF, "fd00:5055::71, fd00:5054::2")]), "fd00:5055::71", "forwarded"),
    ], "pipelined"))
    # Cut where it hurts: in the header's name, in an address, between
    # CR and LF, between the line's end and the next line's start.
    out.append(("split", 4, [
        (req([(XFF, "198.19.2.73, fd00:5056::1")]), "198.19.2.73", "forwarded"),
        (req([(FWD, 'for="[fd00:5055::73]:9"')]), "fd00:5055::73", "forwarded"),
        (req([(XFF, "198.19.2.74")], False), "198.19.2.74", "forwarded"),
    ], "split"))
    # One byte a segment.
    out.append(("bytes", 6, [
        (req([(XFF, "198.19.2.75, 198.19.1.2")]), "198.19.2.75", "forwarded"),
    ], 1))
    return out


def split_points(data):
    """Offsets to cut a request at: inside its header lines' names, inside
    the first address, between CR and LF."""
    cuts = set()
    for name in (b"X-Forwarded-For:", b"Forwarded:"):
        k = data.find(name)
        if k >= 0:
            cuts.update((k + 1, k + len(name) // 2, k + len(name)))
            end = data.find(b"\r\n", k)
            cuts.update((k + len(name) + 6, end - 2, end + 1, end + 2))
    return sorted(c for c in cuts if 0 < c < len(data))


def send(sock, data, how):
    if how in ("whole", "pipelined"):
        sock.sendall(data)
        return
    if how == "split":
        pts = [0] + split_points(data) + [len(data)]
        pieces = [data[a:b] for a, b in zip(pts, pts[1:])]
    else:
        pieces = [data[k:k + how] for k in range(0, len(data), how)]
    for p in pieces:
        sock.sendall(p)
        time.sleep(0.002)


class KeepOpen(io.BufferedReader):
    def close(self):	# an answer read to its end closes its file: not this one
        pass


class Reader:
    """A socket whose makefile() is always the same buffered file, so that
    answers to pipelined requests are read one after the other, none lost
    in the buffer of the one before."""

    def __init__(self, sock):
        self.f = KeepOpen(socket.SocketIO(sock, "rb"))

    def makefile(self, mode):
        return self.f


def read_answers(reader, n):
    ok = True
    for _ in range(n):
        r = http.client.HTTPResponse(reader)
        r.begin()
        r.read()
        ok = ok and r.status == 200
    return ok


def mode_cases(gw4, gw6):
    """Cases for the endpoints that read one header only: (name, family,
    "forwarded" or "x-forwarded-for", requests, how to send)."""
    return [
        ("mode-forwarded", 4, "forwarded", [
            # X-Forwarded-For is an ordinary header there.
            (req([(XFF, "198.19.2.80"), (FWD, "for=198.19.2.81")]), "198.19.2.81", "forwarded"),
            (req([(XFF, "198.19.2.82")], False), gw4, "none"),
            (req([(FWD, 'for="[fd00:5055::83]:1"'), (XFF, "unknown")]), "fd00:5055::83",
             "forwarded"),
        ], "whole"),
        ("mode-xff", 6, "x-forwarded-for", [
            # Forwarded is an ordinary header there.
            (req([(FWD, "for=198.19.2.84")]), gw6, "none"),
            (req([(FWD, "for=198.19.2.86"), (XFF, "198.19.2.85")], False), "198.19.2.85",
             "forwarded"),
            (req([(XFF, "fd00:5055::87"), (FWD, "for=unknown")]), "fd00:5055::87", "forwarded"),
        ], "whole"),
    ]


def raw(port, src4, src6, host4, host6, ports=None):
    """The cases to port; with ports ({"forwarded": N, "x-forwarded-for":
    N}), mode_cases() to those."""
    good = True
    todo = [(name, fam, port, reqs, how) for name, fam, reqs, how in cases(src4, src6)]
    if ports:
        todo += [(name, fam, ports[m], reqs, how)
                 for name, fam, m, reqs, how in mode_cases(src4, src6)]
    for name, fam, port, reqs, how in todo:
        src, host = (src4, host4) if fam == 4 else (src6, host6)
        s = socket.create_connection((host, port), timeout=30, source_address=(src, 0))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rd = Reader(s)
        try:
            if how == "pipelined":
                send(s, b"".join(r for r, _, _ in reqs), how)
                ok = read_answers(rd, len(reqs))
            else:
                ok = True
                for r, _, _ in reqs:
                    send(s, r, how)
                    ok = read_answers(rd, 1) and ok
        except (OSError, http.client.HTTPException) as e:
            sys.stderr.write("case %s: %s\n" % (name, e))
            ok = False
        s.close()
        for r, client, kind in reqs:
            print(json.dumps({"case": name, "port": port, "expect": client, "kind": kind,
                              "inference": r.startswith(b"POST /v1/")}))
        print(json.dumps({"case": name, "ok": ok}))
        good = good and ok
    return good


def main():
    if sys.argv[1] == "loop":
        extra = dict(h.split(": ", 1) for h in sys.argv[7:])
        ok = loop(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]),
                  float(sys.argv[6]), extra)
    elif sys.argv[1] == "raw":
        ports = None
        if len(sys.argv) > 7:
            ports = {"forwarded": int(sys.argv[7]), "x-forwarded-for": int(sys.argv[8])}
        ok = raw(int(sys.argv[2]), *sys.argv[3:7], ports=ports)
    else:
        raise SystemExit("usage: see the module's docstring")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
