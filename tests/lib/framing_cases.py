#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Ambiguous HTTP/1.1 request framings, sent to real servers by
tests/e2e/test_framing_servers and documented in docs/framing.md.

Each row of CASES is a dict:

  name         short identifier (also the PASS/FAIL line's name)
  description  what the bytes do, and who might read them how
  send         the bytes the client writes on one connection: a list of
               pieces, each one send() (TCP_NODELAY, a pause between them,
               so each leaves as a segment of its own); most rows are one
               piece, so all requests share one segment
  paths        the request targets in the bytes, in order, as a reader that
               honours every framing header would find them; later ones are
               the smuggled requests. Each target carries ?n=K so the
               server's log tells which request it served
  served       per server: (requests served, of which inference requests),
               as that server's own log counted them
  penstock     (requests, inference_requests) that `penstock replay` counts
               on the server-side capture today; a dict per server where
               the server's answers change it
  tshark       (requests, inference_requests) of tests/lib/tshark_counts.py
  known        servers for which penstock counts fewer requests (or
               inference requests) than the server served: the known
               failures of today's datapath, each with the reason in
               docs/framing.md

Servers: h11 (uvicorn --http h11), httptools (uvicorn --http httptools),
nginx (origin, `return 200`), proxy (nginx proxying to uvicorn h11).

    framing_cases.py --list         names and descriptions
    framing_cases.py --show NAME    the bytes of one row
"""

import sys

SERVERS = ("h11", "httptools", "nginx", "proxy")
CHAT = b"/v1/chat/completions"
INFERENCE_PREFIXES = ("/v1/chat/completions", "/v1/completions",
                      "/v1/embeddings", "/v1/responses")


def target(n):
    return CHAT + b"?n=%d" % n


def head(n, *headers, method=b"POST", version=b"HTTP/1.1", eol=b"\r\n"):
    """Request line and header block of request n, ending in the empty line."""
    lines = [method + b" " + target(n) + b" " + version, b"Host: srv"]
    lines += list(headers)
    return eol.join(lines) + eol + eol


def plain(n, body=b"{}", eol=b"\r\n"):
    """An unambiguous request n: Content-Length framed JSON body."""
    return head(n, b"Content-Length: %d" % len(body), eol=eol) + body


def chunked(*chunks, last=b"0\r\n\r\n"):
    """A chunked body: each chunk with its size line, then the last chunk."""
    out = b""
    for c in chunks:
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    return out + last


SM = plain(2)   # the second request, smuggled or pipelined
CHUNKS = chunked(b"{}")   # 2\r\n{}\r\n0\r\n\r\n


def row(name, description, send, paths, served, penstock, tshark,
        known=()):
    if isinstance(send, bytes):
        send = [send]
    return {"name": name, "description": description, "send": send,
            "paths": [p.decode() for p in paths], "served": served,
            "penstock": penstock, "tshark": tshark, "known": tuple(known)}


def srv(h11, httptools, nginx, proxy):
    return {"h11": h11, "httptools": httptools, "nginx": nginx,
            "proxy": proxy}


def te_case(te_headers, body=CHUNKS, cl=False):
    """Request 1 with the given Transfer-Encoding header lines and a chunked
    body, then request 2 in the same segment. With cl=True, a
    Content-Length covering the chunked body and request 2 comes first:
    a reader that takes Content-Length sees one request, a reader that
    takes chunked sees two."""
    hdrs = list(te_headers)
    if cl:
        hdrs.insert(0, b"Content-Length: %d" % (len(body) + len(SM)))
    return head(1, *hdrs) + body + SM


P12 = [target(1), target(2)]

CASES = []
add = CASES.append

# --- controls -------------------------------------------------------------

add(row("pipelined_plain",
        "two Content-Length requests in one segment: no ambiguity",
        plain(1) + SM, P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_chunked_plain",
        "Transfer-Encoding: chunked, body 2\\r\\n{}\\r\\n0\\r\\n\\r\\n, then "
        "request 2 in the same segment: no ambiguity",
        te_case([b"Transfer-Encoding: chunked"]), P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

# --- Content-Length and Transfer-Encoding together ------------------------

add(row("cl_te",
        "Content-Length (covering the chunked body and request 2) then "
        "Transfer-Encoding: chunked",
        te_case([b"Transfer-Encoding: chunked"], cl=True), P12,
        served=srv((2, 2), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_cl",
        "Transfer-Encoding: chunked then Content-Length covering request 2",
        head(1, b"Transfer-Encoding: chunked",
             b"Content-Length: %d" % (len(CHUNKS) + len(SM))) + CHUNKS + SM,
        P12,
        served=srv((2, 2), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("cl_te_Chunked_sp",
        "issue 12's case: Content-Length covering request 2, then "
        "'Transfer-Encoding: Chunked ' (capital C, trailing space)",
        te_case([b"Transfer-Encoding: Chunked "], cl=True), P12,
        served=srv((2, 2), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("te_cl_short",
        "Transfer-Encoding: chunked with Content-Length: 4; request 2 sits "
        "inside a chunk: a Content-Length reader would serve it, a chunked "
        "reader takes it as body",
        head(1, b"Transfer-Encoding: chunked", b"Content-Length: 4")
        + chunked(b"{}" + b"\r\n" + SM), [target(1)],
        served=srv((1, 1), (0, 0), (0, 0), (0, 0)),
        penstock=(1, 1), tshark=(1, 1)))

# --- Transfer-Encoding values ---------------------------------------------

add(row("te_Chunked",
        "Transfer-Encoding: Chunked (capital C), no Content-Length",
        te_case([b"Transfer-Encoding: Chunked"]), P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("te_CHUNKED",
        "Transfer-Encoding: CHUNKED, no Content-Length",
        te_case([b"Transfer-Encoding: CHUNKED"]), P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("te_ows_lead",
        "Transfer-Encoding:    chunked (several leading spaces)",
        te_case([b"Transfer-Encoding:    chunked"]), P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_ows_trail",
        "Transfer-Encoding: chunked followed by spaces",
        te_case([b"Transfer-Encoding: chunked   "]), P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_ows_long",
        "Transfer-Encoding: followed by 70 spaces, then chunked",
        te_case([b"Transfer-Encoding:" + b" " * 70 + b"chunked"]), P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_tab",
        "Transfer-Encoding:<TAB>chunked<TAB>",
        te_case([b"Transfer-Encoding:\tchunked\t"]), P12,
        served=srv((2, 2), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_gzip_chunked",
        "Transfer-Encoding: gzip, chunked (chunked last, the body is not "
        "really gzip)",
        te_case([b"Transfer-Encoding: gzip, chunked"]), P12,
        served=srv((0, 0), (2, 2), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_chunked_gzip",
        "Transfer-Encoding: chunked, gzip (chunked not last: RFC 9112 "
        "says the length cannot be known)",
        te_case([b"Transfer-Encoding: chunked, gzip"]), P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_two_lines",
        "Transfer-Encoding: gzip and Transfer-Encoding: chunked on two lines",
        te_case([b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked"]),
        P12,
        served=srv((0, 0), (2, 2), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_two_lines_cl",
        "Content-Length covering request 2, then Transfer-Encoding: "
        "chunked twice",
        te_case([b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"],
                cl=True), P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_chunkedx",
        "Transfer-Encoding: chunkedx (a coding that only starts with "
        "'chunked'), Content-Length covering request 2",
        te_case([b"Transfer-Encoding: chunkedx"], cl=True), P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_empty_cl",
        "an empty Transfer-Encoding header, then Content-Length: 2",
        head(1, b"Transfer-Encoding:", b"Content-Length: 2") + b"{}" + SM, P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(1, 1), tshark=(1, 1)))

add(row("te_identity_cl",
        "Transfer-Encoding: identity, then Content-Length: 2",
        head(1, b"Transfer-Encoding: identity", b"Content-Length: 2") + b"{}"
        + SM, P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(1, 1), tshark=(1, 1)))

add(row("te_obs_fold",
        "Transfer-Encoding:<CRLF> chunked (obs-fold: the value on a "
        "continuation line)",
        te_case([b"Transfer-Encoding:\r\n chunked"]), P12,
        served=srv((2, 2), (2, 2), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("te_obs_fold_cl",
        "Content-Length covering request 2, then Transfer-Encoding:<CRLF> "
        "chunked (obs-fold)",
        te_case([b"Transfer-Encoding:\r\n chunked"], cl=True), P12,
        served=srv((2, 2), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("te_name_case",
        "transfer-ENCODING: chunked (odd casing of the header name)",
        te_case([b"transfer-ENCODING: chunked"]), P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("te_space_colon",
        "'Transfer-Encoding : chunked' (space before the colon), with a "
        "Content-Length covering request 2",
        te_case([b"Transfer-Encoding : chunked"], cl=True), P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("te_http10",
        "HTTP/1.0 request with Transfer-Encoding: chunked and "
        "Connection: keep-alive, then request 2 (HTTP/1.1)",
        head(1, b"Connection: keep-alive", b"Transfer-Encoding: chunked",
             version=b"HTTP/1.0") + CHUNKS + SM, P12,
        served=srv((1, 1), (1, 1), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

# --- Content-Length values -------------------------------------------------

add(row("cl_dup_equal",
        "Content-Length: 2 twice",
        head(1, b"Content-Length: 2", b"Content-Length: 2") + b"{}" + SM, P12,
        served=srv((2, 2), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("cl_dup_small_big",
        "Content-Length: 2, then a second Content-Length covering request 2",
        head(1, b"Content-Length: 2", b"Content-Length: %d" % (2 + len(SM)))
        + b"{}" + SM, P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(1, 1), tshark=(1, 1)))

add(row("cl_dup_big_small",
        "a Content-Length covering request 2, then Content-Length: 2",
        head(1, b"Content-Length: %d" % (2 + len(SM)), b"Content-Length: 2")
        + b"{}" + SM, P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("cl_list",
        "Content-Length: 2, 2 (one header, a list of equal values)",
        head(1, b"Content-Length: 2, 2") + b"{}" + SM, P12,
        served=srv((2, 2), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("cl_plus",
        "Content-Length: +2",
        head(1, b"Content-Length: +2") + b"{}" + SM, P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("cl_zero_padded",
        "Content-Length: 002",
        head(1, b"Content-Length: 002") + b"{}" + SM, P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("cl_zero_padded_long",
        "Content-Length: 000000000000000000002 (21 digits, value 2)",
        head(1, b"Content-Length: " + b"0" * 20 + b"2") + b"{}" + SM, P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("cl_ows_long",
        "Content-Length: followed by 20 spaces, then 2",
        head(1, b"Content-Length:" + b" " * 20 + b"2") + b"{}" + SM, P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("cl_negative",
        "Content-Length: -2",
        head(1, b"Content-Length: -2") + b"{}" + SM, P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(1, 1), tshark=(1, 1)))

add(row("cl_garbage",
        "Content-Length: 2abc",
        head(1, b"Content-Length: 2abc") + b"{}" + SM, P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(1, 1), tshark=(1, 1)))

add(row("cl_obs_fold",
        "Content-Length:<CRLF> 2 (obs-fold)",
        head(1, b"Content-Length:\r\n 2") + b"{}" + SM, P12,
        served=srv((2, 2), (2, 2), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("cl_space_colon",
        "'Content-Length : 2' (space before the colon)",
        head(1, b"Content-Length : 2") + b"{}" + SM, P12,
        served=srv((0, 0), (2, 2), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(1, 1)))

# --- folded header lines -----------------------------------------------------

add(row("obs_fold_other",
        "another header folded (X-Note: a<CRLF> b), then Content-Length: 2",
        head(1, b"X-Note: a\r\n b", b"Content-Length: 2") + b"{}" + SM, P12,
        served=srv((2, 2), (2, 2), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("many_header_lines",
        "request 1 with 150 short header lines (a: 1) before its "
        "Content-Length: 2, then request 2",
        head(1, *([b"a: 1"] * 150), b"Content-Length: 2") + b"{}" + SM, P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("many_header_lines_te",
        "request 1 with 150 short header lines before Transfer-Encoding: "
        "chunked, then request 2",
        te_case([b"a: 1"] * 150 + [b"Transfer-Encoding: chunked"]), P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

# --- line ends ---------------------------------------------------------------

add(row("bare_lf",
        "both requests with bare LF line ends",
        plain(1, eol=b"\n") + plain(2, eol=b"\n"), P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("bare_lf_chunked",
        "Transfer-Encoding: chunked with bare LF everywhere, chunked body "
        "2\\n{}\\n0\\n\\n, then request 2 with bare LF",
        head(1, b"Transfer-Encoding: chunked", eol=b"\n")
        + b"2\n{}\n0\n\n" + plain(2, eol=b"\n"), P12,
        served=srv((0, 0), (0, 0), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("bare_cr",
        "both requests with bare CR line ends",
        plain(1, eol=b"\r") + plain(2, eol=b"\r"), P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("crlf_between",
        "request 1, one CRLF, request 2",
        plain(1) + b"\r\n" + SM, P12,
        served=srv((1, 1), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("crlf_between_two",
        "request 1, two CRLFs, request 2",
        plain(1) + b"\r\n\r\n" + SM, P12,
        served=srv((1, 1), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("lf_between",
        "request 1, one bare LF, request 2",
        plain(1) + b"\n" + SM, P12,
        served=srv((1, 1), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(1, 1)))

# --- chunk sizes -------------------------------------------------------------

add(row("chunk_ext",
        "chunk sizes with extensions: 2;a=b, 0;x",
        head(1, b"Transfer-Encoding: chunked")
        + b"2;a=b\r\n{}\r\n0;x\r\n\r\n" + SM, P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("chunk_0x",
        "chunk size 0x2",
        head(1, b"Transfer-Encoding: chunked")
        + b"0x2\r\n{}\r\n0\r\n\r\n" + SM, P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("chunk_overflow",
        "chunk size 1000000000000000000000002 (25 hex digits, beyond 64 "
        "bits)",
        head(1, b"Transfer-Encoding: chunked")
        + b"1" + b"0" * 23 + b"2\r\n{}\r\n0\r\n\r\n" + SM, P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(1, 1), tshark=(1, 1)))

add(row("chunk_zero_padded",
        "chunk size 0000000000000000002 (19 hex digits, value 2), chunk "
        "data CRLF",
        head(1, b"Transfer-Encoding: chunked")
        + b"0" * 18 + b"2\r\n\r\n\r\n0\r\n\r\n" + SM, P12,
        served=srv((2, 2), (2, 2), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("many_small_chunks",
        "request 1 with a body of 60 one-byte chunks, request 2 in the same "
        "segment, request 3 in a segment of its own",
        [head(1, b"Transfer-Encoding: chunked") + chunked(*([b"x"] * 60)) + SM,
         plain(3)], [target(1), target(2), target(3)],
        served=srv((3, 3), (3, 3), (3, 3), (3, 3)),
        penstock=(3, 3), tshark=(3, 3)))

# --- keep-alive and errors ----------------------------------------------------

add(row("http10_keepalive",
        "HTTP/1.0 with Connection: keep-alive and Content-Length, then "
        "request 2 (HTTP/1.0 keep-alive too)",
        head(1, b"Connection: keep-alive", b"Content-Length: 2",
             version=b"HTTP/1.0") + b"{}"
        + head(2, b"Connection: keep-alive", b"Content-Length: 2",
               version=b"HTTP/1.0") + b"{}", P12,
        served=srv((1, 1), (1, 1), (2, 2), (2, 2)),
        penstock=(2, 2), tshark=(2, 2)))

add(row("after_400_same_segment",
        "request 1, request 2 with Content-Length: -1 (a 400 for every "
        "server), request 3, all in one segment",
        plain(1) + head(2, b"Content-Length: -1") + plain(3),
        [target(1), target(2), target(3)],
        served=srv((1, 1), (1, 1), (1, 1), (1, 1)),
        penstock=(3, 3), tshark=(3, 3)))

add(row("after_400_next_segment",
        "request 1 with two different Content-Lengths (a 400), then "
        "request 2 in a segment of its own",
        [head(1, b"Content-Length: 2", b"Content-Length: 3") + b"{}}", SM],
        P12,
        served=srv((0, 0), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(2, 2)))

# --- request lines and targets -----------------------------------------------

add(row("method_lowercase",
        "'post /v1/chat/completions?n=1' (a method token in lower case), "
        "then request 2",
        head(1, b"Content-Length: 2", method=b"post") + b"{}" + SM, P12,
        served=srv((2, 1), (0, 0), (0, 0), (0, 0)),
        penstock=(2, 2), tshark=(0, 0)))

add(row("method_unknown",
        "'FOO /v1/chat/completions?n=1' (a method no table knows), then "
        "request 2",
        head(1, b"Content-Length: 2", method=b"FOO") + b"{}" + SM, P12,
        served=srv((2, 1), (0, 0), (2, 2), (2, 1)),
        penstock=(2, 2), tshark=(0, 0)))

add(row("method_notify",
        "'NOTIFY /v1/chat/completions?n=1' with Content-Length: 2, then "
        "request 2",
        head(1, b"Content-Length: 2", method=b"NOTIFY") + b"{}" + SM, P12,
        served=srv((2, 1), (2, 1), (2, 2), (2, 1)),
        penstock=(2, 2), tshark=(1, 1)))

add(row("target_absolute",
        "request 1 in absolute form: POST http://srv/v1/chat/completions?n=1",
        b"POST http://srv" + plain(1)[5:], [b"http://srv" + target(1)],
        served=srv((1, 0), (1, 1), (1, 1), (1, 1)),
        penstock=(1, 1), tshark=(1, 0)))

add(row("target_percent",
        "request 1 to /v1/chat/%63ompletions?n=1 (a percent-encoded 'c')",
        plain(1).replace(b"/chat/completions", b"/chat/%63ompletions", 1),
        [target(1).replace(b"/chat/completions", b"/chat/%63ompletions")],
        served=srv((1, 1), (1, 1), (1, 1), (1, 1)),
        penstock=(1, 1), tshark=(1, 0)))


def select(names):
    if not names:
        return list(CASES)
    by = {c["name"]: c for c in CASES}
    missing = [n for n in names if n not in by]
    if missing:
        raise SystemExit("unknown case(s): " + ", ".join(missing))
    return [by[n] for n in names]


def main(argv):
    if argv[:1] == ["--list"]:
        for c in CASES:
            print("%-24s %s" % (c["name"], c["description"]))
        return 0
    if argv[:1] == ["--show"] and len(argv) == 2:
        for c in select(argv[1:]):
            for i, piece in enumerate(c["send"]):
                print("-- segment %d (%d bytes)" % (i + 1, len(piece)))
                print(repr(piece))
        return 0
    print("usage: framing_cases.py --list | --show NAME", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
