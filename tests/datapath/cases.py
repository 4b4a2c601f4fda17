#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Crafted HTTP/1.x capture cases for penstock's datapath.

Each row of CASES is {name, description, packets} plus, where the row pins
down one of the HTTP counting rules in docs/http1-counting.md, "requests":
the number of requests tshark 4.0 finds for the client (the rule's
confirming experiment).  A row where penstock deliberately counts more than
tshark, because a real server serves what tshark skips (docs/framing.md),
carries "penstock": the fields that differ, with penstock's figures, and
"why": the rule (docs/http1-counting.md section 7).  The packets are scapy packets; a packet wrapped in
Cut() is written with a snap length shorter than the packet.

    cases.py --list               names and descriptions
    cases.py --write DIR [NAME..] write DIR/NAME.pcap for every (or the named) case
    cases.py --verify [NAME..]    check each "requests" value against tshark

Endpoint ports are 80 and 8000; clients come from 198.18.0.0/15 and fd00::/8.
Nothing here touches a network: the packets only go to pcap files.
"""

import os
import struct
import subprocess
import sys

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.layers.l2 import Ether, Dot1Q, Dot1AD  # noqa: E402
from scapy.layers.inet import IP, TCP  # noqa: E402
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrHopByHop,  # noqa: E402
                                IPv6ExtHdrDestOpt, IPv6ExtHdrFragment)
from scapy.packet import Raw  # noqa: E402

MOD = 1 << 32
SRV4 = "198.18.0.1"
SRV6 = "fd00::1"
CLIENT_MAC = "02:00:00:00:00:02"
SERVER_MAC = "02:00:00:00:00:01"


class Cut:
    """A packet captured with a snap length: only `snap` bytes are stored."""

    def __init__(self, pkt, snap):
        self.pkt = pkt
        self.snap = snap


class Capture:
    """Packets of one case in capture order, with increasing timestamps."""

    def __init__(self):
        self.packets = []
        self.t = 1700000000.0

    def add(self, pkt):
        self.t += 0.001
        target = pkt.pkt if isinstance(pkt, Cut) else pkt
        target.time = self.t
        self.packets.append(pkt)
        return pkt

    def flow(self, **kw):
        return Flow(self, **kw)


class Flow:
    """One TCP connection between a client and an endpoint port.

    Client data offsets (`at`) are relative to the first data byte, i.e.
    ISN + 1, so out-of-order, overlapping and retransmitted segments are easy
    to write.  `l2` is a list of VLAN tags (outermost first); `ext` is a list
    of IPv6 extension headers put between IPv6 and TCP.
    """

    def __init__(self, cap, client="198.18.0.2", server=None, cport=40000,
                 sport=80, cisn=1000, sisn=5000, l2=(), ext=()):
        self.cap = cap
        self.v6 = ":" in client
        self.client = client
        self.server = server or (SRV6 if self.v6 else SRV4)
        self.cport = cport
        self.sport = sport
        self.cisn = cisn % MOD
        self.sisn = sisn % MOD
        self.l2 = list(l2)
        self.ext = list(ext)
        self.cnext = 0   # next client data offset
        self.snext = 0   # next server data offset
        self.ipid = 1

    # -- packet construction -------------------------------------------
    def _frame(self, from_client, tcp):
        src, dst = ((self.client, self.server) if from_client
                    else (self.server, self.client))
        eth = Ether(src=CLIENT_MAC if from_client else SERVER_MAC,
                    dst=SERVER_MAC if from_client else CLIENT_MAC)
        l2 = eth
        for i, vid in enumerate(self.l2):
            outer = i == 0 and len(self.l2) > 1
            l2 = l2 / (Dot1AD(vlan=vid) if outer else Dot1Q(vlan=vid))
        if self.v6:
            ip = IPv6(src=src, dst=dst)
            for h in self.ext:
                ip = ip / h.copy()
        else:
            self.ipid += 1
            ip = IP(src=src, dst=dst, id=self.ipid)
        return l2 / ip / tcp

    def seg(self, from_client, flags, seq, ack, data=b"", opts=None):
        tcp = TCP(sport=self.cport if from_client else self.sport,
                  dport=self.sport if from_client else self.cport,
                  flags=flags, seq=seq % MOD, ack=ack % MOD, window=65535,
                  options=opts or [])
        if data:
            tcp = tcp / Raw(load=data)
        return self._frame(from_client, tcp)

    def cseq(self, off):
        return (self.cisn + 1 + off) % MOD

    def sseq(self, off):
        return (self.sisn + 1 + off) % MOD

    # -- handshake and teardown ------------------------------------------
    def syn(self, data=b""):
        """Client SYN; data in it (TCP Fast Open) starts at offset 0."""
        opts = [("MSS", 1460)]
        if data:
            opts.append(("TFO", b"\x11" * 8))
        p = self.cap.add(self.seg(True, "S", self.cisn, 0, data, opts))
        self.cnext = max(self.cnext, len(data))
        return p

    def synack(self, ack_off=0):
        return self.cap.add(self.seg(False, "SA", self.sisn, self.cseq(ack_off),
                                     opts=[("MSS", 1460)]))

    def handshake(self, syn_data=b""):
        self.syn(syn_data)
        self.synack(len(syn_data))
        self.cap.add(self.seg(True, "A", self.cseq(len(syn_data)), self.sseq(0)))

    def fin(self):
        self.cap.add(self.seg(True, "FA", self.cseq(self.cnext),
                              self.sseq(self.snext)))
        self.cap.add(self.seg(False, "FA", self.sseq(self.snext),
                              self.cseq(self.cnext + 1)))
        self.cap.add(self.seg(True, "A", self.cseq(self.cnext + 1),
                              self.sseq(self.snext + 1)))

    def rst(self):
        self.cap.add(self.seg(True, "RA", self.cseq(self.cnext),
                              self.sseq(self.snext)))

    # -- data ---------------------------------------------------------------
    def c(self, data, at=None, flags="PA", snap=None):
        """Client data segment at offset `at` (default: next in order)."""
        if at is None:
            at = self.cnext
        p = self.seg(True, flags, self.cseq(at), self.sseq(self.snext), data)
        self.cnext = max(self.cnext, at + len(data))
        return self.cap.add(Cut(p, snap) if snap is not None else p)

    def s(self, data, at=None, flags="PA", snap=None):
        """Server data segment, acknowledging all client data so far."""
        if at is None:
            at = self.snext
        p = self.seg(False, flags, self.sseq(at), self.cseq(self.cnext), data)
        self.snext = max(self.snext, at + len(data))
        return self.cap.add(Cut(p, snap) if snap is not None else p)

    def cack(self):
        """Client pure ACK of all server data so far."""
        return self.cap.add(self.seg(True, "A", self.cseq(self.cnext),
                                     self.sseq(self.snext)))

    def sack(self):
        """Server pure ACK of all client data so far."""
        return self.cap.add(self.seg(False, "A", self.sseq(self.snext),
                                     self.cseq(self.cnext)))


# ---------------------------------------------------------------------------
# pcap writing (own writer: scapy's cannot store a snap-length-cut packet
# with its original length)

def write_pcap(path, packets):
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for p in packets:
            snap = None
            if isinstance(p, Cut):
                snap, p = p.snap, p.pkt
            raw = bytes(p)
            incl = raw if snap is None else raw[:snap]
            t = float(p.time)
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            fh.write(struct.pack("<IIII", sec, usec, len(incl), len(raw)))
            fh.write(incl)


# ---------------------------------------------------------------------------
# the cases

CASES = []


def case(name, description, requests=None, penstock=None, why=None):
    """Decorator: the function builds the packets on a fresh Capture."""
    def reg(fn):
        cap = Capture()
        fn(cap)
        row = {"name": name, "description": description,
               "packets": cap.packets}
        if requests is not None:
            row["requests"] = requests
        if penstock is not None:
            assert why, name
            row["penstock"] = penstock
            row["why"] = why
        CASES.append(row)
        return fn
    return reg


# Why penstock counts more than tshark on a row (docs/http1-counting.md 7).
R_TE = "7.1: transfer-coding names are case-insensitive"
R_CL = "7.2: a Content-Length a server rejects frames no body; what follows " \
       "has a request line's shape (7.5)"
R_COLON = "7.3: blanks before a header's colon, as http-parser takes them"
R_BLANK = "7.4: any blank lines before a message are skipped, as servers do"
R_SHAPE = "7.5: any token with a request line's shape is a request"
R_TARGET = "7.6: an absolute-form target is routed by its path"
R_PREFACE = "http2-counting.md: the preface is read from the stream, however " \
          "segments cut it (tshark loses it cut after its first line)"
R_SPLIT = "7.8: a chunked message counts once its last chunk is in, however " \
          "the segments cut the lines after it"


def simple(cap, payloads, fin=True, **kw):
    """Handshake, each payload as one in-order client segment, server ACKs."""
    f = cap.flow(**kw)
    f.handshake()
    for p in payloads:
        f.c(p)
        f.sack()
    if fin:
        f.fin()
    return f


GET = b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n"
CHAT_BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
CHAT = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        % len(CHAT_BODY)) + CHAT_BODY
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

# CASE DEFINITIONS BELOW

# -- plain requests ----------------------------------------------------------

@case("get_plain", "one GET /health, response, FIN", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(GET)
    f.s(RESP)
    f.cack()
    f.fin()


@case("chat_completion", "POST /v1/chat/completions with a JSON body", 1)
def _(cap):
    f = cap.flow(sport=8000)
    f.handshake()
    f.c(CHAT)
    f.s(RESP)
    f.cack()
    f.fin()


@case("keepalive_3", "three requests on one connection, each answered", 3)
def _(cap):
    f = cap.flow()
    f.handshake()
    for r in (GET, CHAT, GET):
        f.c(r)
        f.s(RESP)
    f.cack()
    f.fin()


@case("pipelined_3_one_segment", "three requests in one segment", 3)
def _(cap):
    simple(cap, [GET + CHAT + GET])


@case("pipelined_split_mid_second", "two requests, segment boundary inside the "
      "second request line", 2)
def _(cap):
    data = GET + GET
    simple(cap, [data[:len(GET) + 7], data[len(GET) + 7:]])


# A request line cut at every byte offset: the first segment ends after
# `n` bytes of the request, the second carries the rest.
for _n in range(1, CHAT.index(b"\r\n") + 3):
    def _mk(n):
        @case("reqline_cut_%02d" % n, "request line split after byte %d" % n, 1)
        def _(cap):
            simple(cap, [CHAT[:n], CHAT[n:]])
    _mk(_n)


@case("reqline_one_byte_segments", "whole request sent one byte per segment", 1)
def _(cap):
    simple(cap, [GET[i:i + 1] for i in range(len(GET))])


@case("headers_split_3", "header block split over three segments, one cut "
      "between CR and LF of the blank line", 1)
def _(cap):
    i = CHAT.index(b"\r\n\r\n")
    simple(cap, [CHAT[:20], CHAT[20:i + 3], CHAT[i + 3:]])


# -- bodies ------------------------------------------------------------------

POST_TEXT = b"POST / HTTP/1.1\r\nHost: a\r\n\r\n"


def post_cl(body, extra=b""):
    return (b"POST /upload HTTP/1.1\r\nHost: a\r\n" + extra +
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


@case("cl_body_segments", "Content-Length body in three segments", 1)
def _(cap):
    r = post_cl(b"x" * 3000)
    simple(cap, [r[:1000], r[1000:2000], r[2000:]])


@case("cl_body_holds_request_text", "body text is a request line + headers; "
      "never a request", 1)
def _(cap):
    simple(cap, [post_cl(POST_TEXT * 2)])


@case("cl_body_request_text_own_segment", "a body segment that starts with "
      "'POST / HTTP/1.1'", 1)
def _(cap):
    r = post_cl(POST_TEXT * 2)
    i = r.index(b"\r\n\r\n") + 4
    simple(cap, [r[:i], r[i:]])


@case("cl_then_request_same_segment", "CL body followed by a second request "
      "in the same segment", 2)
def _(cap):
    simple(cap, [post_cl(b"abc") + GET])


@case("cl_zero", "Content-Length: 0 then a request", 2)
def _(cap):
    simple(cap, [post_cl(b"") + GET])


@case("no_cl_body_parsed_as_request", "POST without framing: what follows the "
      "header block is the next message", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nHost: a\r\n\r\n" + GET])


@case("no_cl_body_junk_skips_segment", "POST without framing, body junk: the "
      "rest of the segment is skipped", 1)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nHost: a\r\n\r\nhello\r\n" + GET])


@case("cl_incomplete_eof", "Content-Length larger than what is sent: not "
      "counted", 0)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc"])


@case("cl_incomplete_fin_same_segment", "short body, FIN on the same segment "
      "as the header block: counted", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc", flags="FPA")
    f.sack()


@case("cl_incomplete_fin_later", "short body, FIN on a later segment: not "
      "counted", 0)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
    f.c(b"abc", flags="FPA")
    f.sack()


@case("cl_two_headers_last_wins", "Content-Length: 20 then Content-Length: 3",
      2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length: 20\r\n"
                 b"Content-Length: 3\r\n\r\nabc" + GET])


@case("cl_valid_then_invalid", "Content-Length: 3 then Content-Length: abc",
      1, penstock={"requests": 2}, why=R_CL)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length: 3\r\n"
                 b"Content-Length: abc\r\n\r\nabc" + GET])


@case("cl_invalid_suffix", "Content-Length: 3x is ignored: body parsed as a "
      "message", 1, penstock={"requests": 2}, why=R_CL)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc" + GET])


@case("cl_negative", "Content-Length: -1 is ignored", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n" + GET])


@case("cl_plus_sign", "Content-Length: +3", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc" + GET])


@case("cl_space_before_colon", "'Content-Length : 3' is not a Content-Length "
      "to tshark", 1, penstock={"requests": 2}, why=R_COLON)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc" + GET])


@case("cl_lowercase", "content-length: 3", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc" + GET])


@case("cl_huge", "Content-Length beyond 32 bits swallows the rest of the "
      "segment; the next segment starts fresh", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nabc"
                 + GET, GET])


CHUNKED = (b"POST /v1/completions HTTP/1.1\r\nHost: a\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n"
           b"5;ext=1\r\nhello\r\n"
           b"12\r\nGET / HTTP/1.1\r\n\r\n\r\n"
           b"0\r\n\r\n")


@case("chunked_body", "chunked body with an extension and a chunk holding "
      "request text, then a GET", 2)
def _(cap):
    simple(cap, [CHUNKED + GET])


@case("chunked_body_segments", "chunked body cut into 7-byte segments", 2)
def _(cap):
    d = CHUNKED + GET
    simple(cap, [d[i:i + 7] for i in range(0, len(d), 7)])


@case("chunked_trailers", "last chunk with trailer fields, then a GET", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n" + GET])


@case("chunked_trailers_next_segment", "trailers, GET in the next segment", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n", GET])


@case("chunked_incomplete", "chunked body that never ends", 0)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\nhello\r\n"])


@case("chunked_bad_size", "chunk size line that is not hex ends the body at "
      "the next empty line", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"zz\r\nhello\r\n0\r\n\r\n" + GET])


@case("te_gzip_chunked", "Transfer-Encoding: gzip, chunked", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                 b"3\r\nabc\r\n0\r\n\r\n" + GET])


@case("te_gzip_chunked_segments", "Transfer-Encoding: gzip, chunked, body in "
      "a later segment", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                 b"3\r\nabc\r\n0\r\n\r\n", GET])


@case("te_chunked_identity", "Transfer-Encoding: chunked, identity with a "
      "request behind the last chunk", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nHost: target\r\n"
                 b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
                 b"GET /smuggled HTTP/1.1\r\nHost: target\r\n\r\n"])


@case("te_and_cl", "Transfer-Encoding: chunked and Content-Length: 3; "
      "chunked wins", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length: 3\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nabc\r\n0\r\n\r\n" + GET])


@case("te_uppercase_chunked", "Transfer-Encoding: Chunked (capital C) is "
      "not chunked for tshark: the body takes the rest of the segment", 1,
      penstock={"requests": 2}, why=R_TE)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
                 b"3\r\nabc\r\n0\r\n\r\n" + GET])


@case("expect_100_continue", "Expect: 100-continue, 100 response, then the "
      "body", 1)
def _(cap):
    body = b"y" * 500
    f = cap.flow()
    f.handshake()
    f.c(b"POST /v1/embeddings HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body))
    f.s(b"HTTP/1.1 100 Continue\r\n\r\n")
    f.c(body)
    f.s(RESP)
    f.cack()
    f.fin()


# -- line framing ---------------------------------------------------------------

@case("leading_crlf_one", "one CRLF before the request line", 1)
def _(cap):
    simple(cap, [b"\r\n" + GET])


@case("leading_crlf_two", "two CRLFs before the request line: lost to "
      "tshark", 0, penstock={"requests": 1}, why=R_BLANK)
def _(cap):
    simple(cap, [b"\r\n\r\n" + GET])


@case("leading_lf", "a bare LF before the request line: lost to tshark", 0,
      penstock={"requests": 1}, why=R_BLANK)
def _(cap):
    simple(cap, [b"\n" + GET])


@case("crlf_own_segment", "a CRLF-only segment, then the request", 1)
def _(cap):
    simple(cap, [b"\r\n", b"\r\n" + GET])


@case("bare_lf_lines", "request with LF line ends", 1)
def _(cap):
    simple(cap, [b"GET / HTTP/1.1\nHost: a\n\n"])


@case("bare_cr_at_end", "CR line ends, the last CR ends the capture", 0)
def _(cap):
    simple(cap, [b"GET / HTTP/1.1\rHost: a\r\r"])


@case("bare_cr_then_more", "CR line ends followed by another request", 2)
def _(cap):
    simple(cap, [b"GET / HTTP/1.1\rHost: a\r\r" + GET])


@case("nonrequest_then_request_same_segment", "junk line then a request in "
      "the same segment", 0)
def _(cap):
    simple(cap, [b"hello\r\n\r\n" + GET])


@case("nonrequest_then_request_next_segment", "junk segment then a request "
      "segment", 1)
def _(cap):
    simple(cap, [b"hello\r\n\r\n", GET])


@case("request_junk_request", "request, junk line, request in one segment", 1)
def _(cap):
    simple(cap, [GET + b"junk\r\n" + GET])


@case("binary_first_byte", "a segment starting with a TLS record header", 0)
def _(cap):
    simple(cap, [b"\x16\x03\x01" + GET])


@case("binary_after_request", "request, NUL byte, request", 1)
def _(cap):
    simple(cap, [GET + b"\x00" + GET])


# -- request-line shapes ---------------------------------------------------------------

@case("options_no_uri", "'OPTIONS' alone on the request line", 1)
def _(cap):
    simple(cap, [b"OPTIONS\r\n\r\n"])


@case("get_no_space_before_version", "'GET /HTTP/1.1'", 1)
def _(cap):
    simple(cap, [b"GET /HTTP/1.1\r\nHost: a\r\n\r\n"])


@case("get_slash_glued", "'GET/ HTTP/1.1' is no request", 0)
def _(cap):
    simple(cap, [b"GET/ HTTP/1.1\r\nHost: a\r\n\r\n"])


@case("method_lowercase", "'get / HTTP/1.1' is no request to tshark", 0,
      penstock={"requests": 1}, why=R_SHAPE)
def _(cap):
    simple(cap, [b"get / HTTP/1.1\r\nHost: a\r\n\r\n"])


@case("method_tab", "'GET<TAB>/ HTTP/1.1' is no request", 0)
def _(cap):
    simple(cap, [b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"])


@case("method_m_prefix", "'M-GET / HTTP/1.1' (RFC 2774) is a request", 1)
def _(cap):
    simple(cap, [b"M-GET / HTTP/1.1\r\nHost: a\r\n\r\n"])


@case("method_unknown", "'FOO / HTTP/1.1' and 'PRI * HTTP/2.0' are no "
      "requests to tshark ('PRI * HTTP/2.0' is none to penstock either)", 0,
      penstock={"requests": 1}, why=R_SHAPE)
def _(cap):
    simple(cap, [b"FOO / HTTP/1.1\r\n\r\n", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"])


@case("method_leading_space", "' GET / HTTP/1.1' is no request", 0)
def _(cap):
    simple(cap, [b" GET / HTTP/1.1\r\nHost: a\r\n\r\n"])


@case("method_bare_token", "'GET' alone and 'GET  HTTP/1.1' count", 2)
def _(cap):
    simple(cap, [b"GET\r\n\r\n", b"GET  HTTP/1.1\r\n\r\n"])


ALL_METHODS = [
    "GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY",
    "BMOVE", "MKCOL", "TRACE", "PATCH", "LABEL", "MERGE", "DELETE", "SEARCH",
    "UNLOCK", "REPORT", "UPDATE", "BDELETE", "CONNECT", "OPTIONS", "CHECKIN",
    "PROPFIND", "CHECKOUT", "CCM_POST", "PROPPATCH", "BPROPFIND",
    "BPROPPATCH", "UNCHECKOUT", "MKACTIVITY", "MKWORKSPACE", "RPC_CONNECT",
    "RPC_IN_DATA", "RPC_OUT_DATA", "VERSION-CONTROL", "BASELINE-CONTROL",
    "SSTP_DUPLEX_POST",
]


@case("method_table", "every method of the table, one per segment",
      len(ALL_METHODS))
def _(cap):
    simple(cap, [m.encode() + b" /x HTTP/1.1\r\nHost: a\r\n"
                 b"Content-Length: 0\r\n\r\n" for m in ALL_METHODS])


@case("method_notify_swallows_segment", "NOTIFY is a notification, not a "
      "request, to tshark, and takes the rest of its segment", 1,
      penstock={"requests": 3}, why=R_SHAPE)
def _(cap):
    simple(cap, [b"NOTIFY * HTTP/1.1\r\n\r\n" + GET, GET])


@case("method_notify_bare_framed", "a bare 'NOTIFY' line framed by its "
      "Content-Length, then a GET in the same segment: tshark counts the GET",
      1, penstock={"requests": 2}, why=R_SHAPE)
def _(cap):
    simple(cap, [b"NOTIFY\r\nContent-Length: 2\r\n\r\nxx" + GET])


@case("client_sends_status_line", "a status line from the client swallows "
      "the rest of the connection", 0)
def _(cap):
    simple(cap, [b"HTTP/1.1 200 OK\r\n\r\n", GET])


@case("http09_line", "HTTP/0.9 'GET /bad.html' without a header block", 0)
def _(cap):
    simple(cap, [b"GET /bad.html\r\n"])


@case("headers_never_end", "header block never completed before FIN", 0)
def _(cap):
    simple(cap, [b"GET / HTTP/1.1\r\nHost: a\r\n"])


# -- TCP: retransmission, overlap, order, holes ------------------------------------

GA = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n"


@case("retransmitted_segment", "the request segment sent twice", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(GA)
    f.c(GA, at=0)
    f.sack()
    f.fin()


@case("duplicated_packet", "the request packet captured twice (same IP id)", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    p = f.c(GA)
    cap.add(p.copy())
    f.sack()
    f.fin()


@case("retransmit_partial_overlap", "second segment repeats the tail of the "
      "first and adds a request", 2)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(GA + GA[:10])
    f.c(GA, at=len(GA))
    f.sack()
    f.fin()


@case("overlap_first_copy_wins", "buffered 'GET ...' prefix, then a longer "
      "retransmission starting 'XET': the first copy's bytes are kept", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"GET / HTTP/1.1\r\nHost")
    f.c(b"XET / HTTP/1.1\r\nHost: a\r\n\r\n", at=0)
    f.sack()
    f.fin()


@case("overlap_first_copy_wins_negative", "buffered 'XET' prefix, then a "
      "longer retransmission starting 'GET': still no GET ('XET / HTTP/1.1' "
      "has a request line's shape)", 0, penstock={"requests": 1}, why=R_SHAPE)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"XET / HTTP/1.1\r\nHost")
    f.c(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", at=0)
    f.sack()
    f.fin()


@case("out_of_order_two_segments", "second half of a request before the "
      "first half", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(GA[10:], at=10)
    f.c(GA[:10], at=0)
    f.sack()
    f.fin()


# A body, then a request, cut in four: A (head and body start), B and C
# (body only), D (body end and the next request). Out-of-order arrival
# must not lose the request behind the body, whichever body-only segment
# fills the hole last.
OOO_BODY = b"a" * 3000
OOO_HEAD = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
            % len(OOO_BODY))
OOO_STREAM = OOO_HEAD + OOO_BODY + b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
OOO_CUTS = {"A": (0, len(OOO_HEAD) + 1000),
            "B": (len(OOO_HEAD) + 1000, len(OOO_HEAD) + 2000),
            "C": (len(OOO_HEAD) + 2000, len(OOO_HEAD) + 2500),
            "D": (len(OOO_HEAD) + 2500, len(OOO_STREAM))}


def _ooo_body_case(order):
    def _(cap):
        f = cap.flow()
        f.handshake()
        for n in order:
            a, b = OOO_CUTS[n]
            f.c(OOO_STREAM[a:b], at=a)
        f.sack()
        f.fin()
    return _


for _order in ("ABCD", "ACBD", "ACDB", "ADCB"):
    case("out_of_order_body_" + _order.lower(),
         "a body and the request behind it, segments in order " + _order,
         2)(_ooo_body_case(_order))


# Beyond a hole inside a body, the body's bytes are kept by their length
# alone and a segment's bytes after the body's end in pieces from there.
# The segments beyond the hole are longer than one piece (2 KB, all a
# capture's replay keeps of a segment), and the request behind the body
# starts more than a piece into its segment.
OOO_LONG_BODY = b"b" * 6000
OOO_LONG_HEAD = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                 % len(OOO_LONG_BODY))
OOO_LONG_GETS = (b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n")
OOO_LONG_STREAM = OOO_LONG_HEAD + OOO_LONG_BODY + OOO_LONG_GETS
OOO_LONG_END = len(OOO_LONG_HEAD) + len(OOO_LONG_BODY)


@case("out_of_order_body_long_straddle", "beyond a hole, 2500 bytes of body "
      "and the two requests behind it in one segment; the hole filled last", 3)
def _(cap):
    f = cap.flow()
    f.handshake()
    h = len(OOO_LONG_HEAD)
    f.c(OOO_LONG_STREAM[:h + 1000], at=0)
    f.c(OOO_LONG_STREAM[h + 3500:], at=h + 3500)
    f.c(OOO_LONG_STREAM[h + 1000:h + 3500], at=h + 1000)
    f.sack()
    f.fin()


# (Segments stay under the 3584 bytes a replay runs whole.)
OOO_FILL_BODY = b"f" * 4000
OOO_FILL_HEAD = OOO_LONG_HEAD.replace(b"6000", b"4000")
OOO_FILL_STREAM = OOO_FILL_HEAD + OOO_FILL_BODY + OOO_LONG_GETS


@case("out_of_order_body_filler_past_end", "beyond a hole, a body-only "
      "segment and one with the body's end and two requests; the hole "
      "filled by a segment sent again that runs into the first request", 3)
def _(cap):
    f = cap.flow()
    f.handshake()
    h = len(OOO_FILL_HEAD)
    e = h + len(OOO_FILL_BODY)
    f.c(OOO_FILL_STREAM[:h + 1000], at=0)
    f.c(OOO_FILL_STREAM[h + 1800:h + 3000], at=h + 1800)
    f.c(OOO_FILL_STREAM[h + 3000:], at=h + 3000)
    f.c(OOO_FILL_STREAM[h + 1000:e + 20], at=h + 1000)
    f.sack()
    f.fin()


# The same with a chunked body: chunk data beyond a hole, then the last
# chunk and a request.
OOO_CHUNK_DATA = b"c" * 5000
OOO_CHUNK_STREAM = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                    + b"%x\r\n" % len(OOO_CHUNK_DATA) + OOO_CHUNK_DATA
                    + b"\r\n0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")


@case("out_of_order_chunk_data_straddle", "beyond a hole, chunk data, the "
      "last chunk and a request in one segment; the hole filled last", 2)
def _(cap):
    f = cap.flow()
    f.handshake()
    a = OOO_CHUNK_STREAM.index(OOO_CHUNK_DATA) + 500
    b = a + 1500
    f.c(OOO_CHUNK_STREAM[:a], at=0)
    f.c(OOO_CHUNK_STREAM[b:], at=b)
    f.c(OOO_CHUNK_STREAM[a:b], at=a)
    f.sack()
    f.fin()


@case("out_of_order_requests", "request 2 arrives before request 1", 2)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(GA, at=len(GA))
    f.c(GA, at=0)
    f.sack()
    f.fin()


@case("out_of_order_overlap_in_order_wins", "out-of-order segment, then an "
      "in-order one overlapping it: the in-order bytes are kept", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", at=5)
    f.c(b"GET /XXXXXXXX", at=0)
    f.sack()
    f.fin()


@case("hole_never_filled", "request, 30-byte hole, two more requests: only "
      "the first counts", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(GA)
    f.c(GA, at=len(GA) + 30)
    f.c(GA, at=2 * len(GA) + 30)
    f.sack()
    f.fin()


@case("hole_filled_late", "hole filled after later segments arrived", 4)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(GA)
    f.c(GA, at=2 * len(GA))
    f.c(GA, at=3 * len(GA))
    f.c(GA, at=len(GA))
    f.sack()
    f.fin()


# -- TCP: handshakes, reuse, wrap -----------------------------------------------

@case("tfo_data_in_syn", "TCP Fast Open: a request in the SYN, another after "
      "the handshake", 2)
def _(cap):
    f = cap.flow()
    f.syn(GA)
    f.synack(len(GA))
    f.cack()
    f.c(GA)
    f.sack()
    f.fin()


@case("tfo_syn_data_resent", "SYN data not acknowledged, sent again after the "
      "handshake: counted once", 1)
def _(cap):
    f = cap.flow()
    f.syn(GA)
    f.synack(0)
    f.cack()
    f.c(GA, at=0)
    f.sack()
    f.fin()


@case("syn_retransmitted", "SYN sent twice with the same ISN", 1)
def _(cap):
    f = cap.flow()
    f.syn()
    f.syn()
    f.synack()
    f.cack()
    f.c(GA)
    f.sack()
    f.fin()


@case("synack_before_syn", "SYN-ACK captured before the SYN", 1)
def _(cap):
    f = cap.flow()
    f.synack()
    f.syn()
    f.cack()
    f.c(GA)
    f.sack()
    f.fin()


@case("midstream_no_handshake", "capture starts mid-connection", 2)
def _(cap):
    f = cap.flow(cisn=77777)
    f.c(GA)
    f.sack()
    f.c(GA)
    f.sack()


@case("port_reuse_new_isn", "same 4-tuple, closed, then a new SYN with a new "
      "ISN", 3)
def _(cap):
    f = cap.flow(cisn=1000)
    f.handshake()
    f.c(GA)
    f.sack()
    f.fin()
    g = cap.flow(cisn=90000000, sisn=123456)
    g.handshake()
    g.c(GA + GA)
    g.sack()
    g.fin()


@case("port_reuse_unfinished", "same 4-tuple: an unfinished request, then a "
      "new SYN with a new ISN", 1)
def _(cap):
    f = cap.flow(cisn=1000)
    f.handshake()
    f.c(GA[:10])
    f.sack()
    g = cap.flow(cisn=90000000, sisn=123456)
    g.handshake()
    g.c(GA)
    g.sack()
    g.fin()


@case("seq_wraparound", "client sequence numbers wrap past 2^32 inside a "
      "request", 3)
def _(cap):
    f = cap.flow(cisn=MOD - 40, sisn=MOD - 5)
    f.handshake()
    f.c(GA)
    f.c(GA[:20])
    f.c(GA[20:] + GA)
    f.s(RESP)
    f.cack()
    f.fin()


# -- link and network layers --------------------------------------------------------

@case("ipv6_client", "IPv6 client on port 8000", 1)
def _(cap):
    simple(cap, [CHAT], client="fd00::2", sport=8000)


@case("ipv6_ext_headers_fragment", "IPv6 hop-by-hop + destination options + "
      "atomic fragment header before TCP", 2)
def _(cap):
    ext = [IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(),
           IPv6ExtHdrFragment(offset=0, m=0, id=0x1234)]
    simple(cap, [GA, CHAT], client="fd00::3", ext=ext)


@case("vlan_8021q", "802.1Q tagged frames", 1)
def _(cap):
    simple(cap, [GA], client="198.18.0.5", l2=[100])


@case("vlan_qinq", "802.1ad outer + 802.1Q inner tag", 1)
def _(cap):
    simple(cap, [CHAT], client="198.18.0.6", l2=[200, 300], sport=8000)


# -- who is counted ------------------------------------------------------------------

@case("inference_paths", "inference paths vs others (health, models, "
      "absolute-form URI, prefix look-alikes)", 9,
      penstock={"inference_requests": 7}, why=R_TARGET)
def _(cap):
    reqs = [b"POST %s HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}" % p
            for p in (b"/v1/chat/completions", b"/v1/completions",
                      b"/v1/embeddings", b"/v1/responses",
                      b"/v1/chat/completions?stream=true",
                      b"/v1/chat/completionsX",
                      b"/health", b"/v1/models",
                      b"http://a/v1/chat/completions")]
    simple(cap, reqs, sport=8000)


@case("non_endpoint_port", "HTTP on port 8080 is not counted; one request "
      "on port 80 is", 1)
def _(cap):
    simple(cap, [GA, GA], client="198.18.0.7", sport=8080)
    simple(cap, [GA], client="198.18.0.8", cport=40001)


@case("two_clients", "two clients, interleaved connections", 3)
def _(cap):
    a = cap.flow(client="198.18.1.1")
    b = cap.flow(client="198.19.255.254", sport=8000)
    a.handshake()
    b.handshake()
    a.c(GA[:9])
    b.c(CHAT)
    a.c(GA[9:])
    b.c(GA)
    a.sack()
    b.sack()
    a.fin()
    b.fin()


# -- snap length -----------------------------------------------------------------------

@case("snaplen_headers_only", "every packet cut to its headers: no request "
      "visible, payload still counted", 0)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(CHAT, snap=54)
    f.s(RESP, snap=54)
    f.cack()
    f.fin()


@case("snaplen_method_visible", "request packet cut after 'GET': counted", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(GA, snap=54 + 3)
    f.sack()
    f.fin()


@case("snaplen_method_partial", "request packet cut after 'GE': not counted",
      0)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(GA, snap=54 + 2)
    f.sack()
    f.fin()


@case("snaplen_then_next_request", "request packet cut inside a header name "
      "(not counted); its uncaptured bytes are a hole, so the next request "
      "is lost too", 0)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(GA, snap=54 + 20)
    f.c(GA)
    f.sack()
    f.fin()


@case("snaplen_cut_then_retransmitted", "cut request packet retransmitted "
      "whole: the retransmission fills the hole", 2)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(GA, snap=54 + 20)
    f.c(GA, at=0)
    f.c(GA)
    f.sack()
    f.fin()


# -- protocol switches ------------------------------------------------------------------

@case("upgrade_websocket_101", "Upgrade: websocket answered 101: later "
      "request text is not HTTP", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\n\r\n")
    f.s(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\n\r\n")
    f.c(GA)
    f.sack()
    f.fin()


@case("upgrade_refused_200", "Upgrade answered 200: HTTP goes on", 2)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\n\r\n")
    f.s(RESP)
    f.c(GA)
    f.sack()
    f.fin()


@case("connect_tunnel", "CONNECT answered 200: tunnelled request text is not "
      "counted", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n")
    f.s(b"HTTP/1.1 200 Connection established\r\n\r\n")
    f.c(GA)
    f.sack()
    f.fin()


@case("connect_refused", "CONNECT answered 407: HTTP goes on", 2)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n")
    f.s(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
        b"Content-Length: 0\r\n\r\n")
    f.c(GA)
    f.sack()
    f.fin()


# -- more rules pinned by experiment ------------------------------------------------

@case("crlf_g_three_byte_segment", "segment '\\r\\nG' (3 bytes: tshark does "
      "not skip the CRLF), then 'ET /a ...': lost to tshark", 0,
      penstock={"requests": 1}, why=R_BLANK)
def _(cap):
    simple(cap, [b"\r\nG", b"ET /a HTTP/1.1\r\n\r\n"])


@case("crlf_ge_four_byte_segment", "segment '\\r\\nGE' (4 bytes: the CRLF is "
      "skipped), then 'T /a ...'", 1)
def _(cap):
    simple(cap, [b"\r\nGE", b"T /a HTTP/1.1\r\n\r\n"])


@case("tab_first_byte", "segment starting with TAB (not printable)", 0)
def _(cap):
    simple(cap, [b"\tGET / HTTP/1.1\r\n\r\n"])


@case("first_line_joins_next_segment", "'abc' without a line end, then a "
      "request segment: joined into one line, 'abcGET / HTTP/1.1', no request "
      "to tshark", 0, penstock={"requests": 1}, why=R_SHAPE)
def _(cap):
    simple(cap, [b"abc", GA])


@case("blank_line_split_cr_lf", "blank line split between CR and LF, then a "
      "request", 2)
def _(cap):
    simple(cap, [b"GET / HTTP/1.1\r\nHost: a\r\n\r", b"\n" + GA])


@case("header_without_colon_same_segment", "a header line without a colon "
      "ends the header parse; the rest of the segment is skipped", 1)
def _(cap):
    simple(cap, [b"GET / HTTP/1.1\r\nfoo\r\nContent-Length: 3\r\n\r\nabc" + GA])


@case("header_without_colon_next_segment", "as above, next request in its "
      "own segment", 2)
def _(cap):
    simple(cap, [b"GET / HTTP/1.1\r\nfoo\r\nContent-Length: 3\r\n\r\nabc", GA])


@case("te_identity_with_cl", "Transfer-Encoding: identity + Content-Length: "
      "the body takes the rest of the segment", 1)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n"
                 b"Content-Length: 3\r\n\r\nabc" + GA])


@case("chunked_last_crlf_late", "'0\\r\\n' ends a segment, the final CRLF "
      "comes in the next", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
                 b"\r\n", GA])


@case("chunked_last_cr_split", "the final empty line's CR ends a segment "
      "and its LF comes in the next: tshark finds the message malformed and "
      "does not count it", 1, penstock={"requests": 2}, why=R_SPLIT)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nabc\r\n0\r\n\r", b"\n", GA])


@case("chunked_trailer_cr_split", "a trailer line's CR ends a segment, its "
      "LF comes in the next: malformed as well to tshark", 1,
      penstock={"requests": 2}, why=R_SPLIT)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nabc\r\n0\r\nX-T: 1\r", b"\n\r\n", GA])


@case("chunked_last_cr_split_same_size_line", "'0\\r' ends a segment, "
      "'\\n\\r\\n' comes next: the size line waits for its LF, counted", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nabc\r\n0\r", b"\n\r\n", GA])


@case("chunked_body_not_chunked", "Transfer-Encoding: chunked but the body "
      "'abc' reads as a huge hex size: never complete", 0)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nabc",
                 GA])


@case("cl_int32_max", "Content-Length: 2147483647 waits for ever", 0)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length: 2147483647\r\n\r\nabc",
                 GA])


@case("cl_int32_overflow", "Content-Length: 2147483648 is not waited for",
      2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length: 2147483648\r\n\r\nabc"
                 + GA, GA])


@case("fin_completes_header_block", "FIN on the segment completing the "
      "header block: a short body does not hold the request back", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"POST / HTTP/1.1\r\nContent-Len")
    f.c(b"gth: 100\r\n\r\nabc", flags="FPA")
    f.sack()


@case("expect_100_body_never_sent", "Expect: 100-continue refused, body never "
      "sent: the next request's bytes become the body", 1)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    f.s(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
    f.c(GA)
    f.sack()
    f.fin()


@case("upgrade_101_without_upgrade_header", "101 response without an "
      "Upgrade header: HTTP goes on", 2)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
    f.s(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    f.c(GA)
    f.sack()
    f.fin()


@case("connect_443_tunnel", "CONNECT to port 443 answered 200, cleartext "
      "request inside: tshark finds it heuristically", 2)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"CONNECT a:443 HTTP/1.1\r\n\r\n")
    f.s(b"HTTP/1.1 200 OK\r\n\r\n")
    f.c(GA)
    f.sack()
    f.fin()


@case("connect_then_get_before_200", "CONNECT and a GET in one segment, then "
      "200: the 200 answers the GET, no tunnel", 3)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"CONNECT a:80 HTTP/1.1\r\n\r\n" + GA)
    f.s(b"HTTP/1.1 200 OK\r\n\r\n")
    f.c(GA)
    f.sack()
    f.fin()



@case("chunked_trailer_line_completes", "after the last chunk, one trailer "
      "line end completes the message (no blank line needed)", 1)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"0\r\nX-T: 1\r\n"], fin=False)


@case("chunk_size_huge", "chunk size above 2^31 completes the message at "
      "once", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"80000001\r\nabc", GA])


@case("pdu_end_splits_delivery", "a Content-Length message completed inside "
      "a segment: the bytes after it are parsed on their own", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nfoo\r\nContent-Length: 5\r\n\r\nab",
                 b"cde" + GA])


@case("pdu_end_same_delivery", "the same bytes in one segment: the junk "
      "line takes the rest of it", 1)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nfoo\r\nContent-Length: 5\r\n\r\nabcde"
                 + GA])



@case("cl_plus_sign_split", "Content-Length: +3 with the body in its own "
      "segment: the body is waited for", 2)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n", b"abc", GA])


@case("chunk_size_space_and_0x", "chunk sizes ' 3' and '0x3', chunks in "
      "their own segments", 3)
def _(cap):
    simple(cap, [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                 b" 3\r\nabc\r\n", b"0x3\r\nabc\r\n", b"0\r\n\r\n", GA, GA])


@case("connect_201_no_tunnel", "CONNECT answered 201: no tunnel", 2)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"CONNECT a:80 HTTP/1.1\r\n\r\n")
    f.s(b"HTTP/1.1 201 Created\r\n\r\n")
    f.c(GA)
    f.sack()
    f.fin()


@case("rst_after_short_body", "short Content-Length body, then RST: not "
      "counted", 0)
def _(cap):
    f = cap.flow()
    f.handshake()
    f.c(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")
    f.rst()


# -- HTTP/2 cleartext (docs/http2-counting.md) ------------------------------
# A request is a stream on which the client sent HEADERS. Header blocks are
# HPACK-encoded by python3-hpack, one encoder per connection (its dynamic
# table is the connection's), so that tshark decodes them as a server would.

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_DATA, H2_HEADERS, H2_PRIORITY, H2_RST, H2_SETTINGS = 0, 1, 2, 3, 4
H2_PUSH, H2_PING, H2_GOAWAY, H2_WINDOW, H2_CONT = 5, 6, 7, 8, 9
H2_END_STREAM, H2_END_HEADERS, H2_PADDED, H2_PRIO = 0x1, 0x4, 0x8, 0x20


def h2f(ftype, flags, sid, payload=b""):
    """One HTTP/2 frame (RFC 9113 section 4.1)."""
    return (struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) +
            struct.pack(">I", sid) + payload)


def h2_block(enc, path, method="POST", extra=(), huffman=False):
    """A request's header block from encoder enc."""
    hdrs = [(":method", method), (":scheme", "http"), (":path", path),
            (":authority", "a")] + list(extra)
    return enc.encode(hdrs, huffman=huffman)


def h2_headers(enc, sid, path, method="POST", end_stream=False, **kw):
    flags = H2_END_HEADERS | (H2_END_STREAM if end_stream else 0)
    return h2f(H2_HEADERS, flags, sid, h2_block(enc, path, method, **kw))


def h2_data(sid, data=CHAT_BODY, end_stream=True):
    return h2f(H2_DATA, H2_END_STREAM if end_stream else 0, sid, data)


def h2_encoder():
    import hpack  # python3-hpack: imported where a case needs it
    return hpack.Encoder()


H2_START = H2_PREFACE + h2f(H2_SETTINGS, 0, 0, struct.pack(">HI", 3, 100))
H2_SRV_SETTINGS = h2f(H2_SETTINGS, 0, 0) + h2f(H2_SETTINGS, 1, 0)


def h2_flow(cap, **kw):
    """A handshake, the preface and SETTINGS, the server's SETTINGS."""
    kw.setdefault("sport", 8000)
    f = cap.flow(**kw)
    f.handshake()
    f.c(H2_START)
    f.s(H2_SRV_SETTINGS)
    return f


def h2_simple(cap, payloads, **kw):
    f = h2_flow(cap, **kw)
    for p in payloads:
        f.c(p)
        f.sack()
    f.fin()
    return f


@case("h2_prior_knowledge", "h2c with prior knowledge: two streams, a POST "
      "with its DATA and a GET", 2)
def _(cap):
    e = h2_encoder()
    h2_simple(cap, [h2_headers(e, 1, "/v1/chat/completions") + h2_data(1),
                    h2_headers(e, 3, "/health", "GET", end_stream=True)])


@case("h2_ipv6", "h2c over IPv6, three streams in one segment", 3)
def _(cap):
    e = h2_encoder()
    h2_simple(cap, [b"".join(h2_headers(e, i, "/v1/completions", "GET", end_stream=True)
                             for i in (1, 3, 5))], client="fd00::2")


def preface_split(cap, cuts):
    e = h2_encoder()
    f = cap.flow(sport=8000)
    f.handshake()
    pts = [0] + list(cuts) + [len(H2_PREFACE)]
    for i, j in zip(pts, pts[1:]):
        f.c(H2_PREFACE[i:j])
    f.c(h2f(H2_SETTINGS, 0, 0))
    f.c(h2_headers(e, 1, "/v1/chat/completions") + h2_data(1))
    f.sack()
    f.fin()


@case("h2_preface_split", "the connection preface cut inside its first line", 1)
def _(cap):
    preface_split(cap, (8,))


@case("h2_preface_split_after_line", "the connection preface cut after its "
      "first line and between its CRs and LFs", 0,
      {"requests": 1, "inference_requests": 1}, R_PREFACE)
def _(cap):
    preface_split(cap, (16, 19))


@case("h2_frame_header_split", "frame headers cut across segments (4 + 5 "
      "bytes, 1 + 8), a DATA payload over three segments", 3)
def _(cap):
    e = h2_encoder()
    a = h2_headers(e, 1, "/v1/chat/completions") + h2_data(1, b"x" * 3000)
    b = h2_headers(e, 3, "/v1/embeddings", "GET", end_stream=True)
    c = h2_headers(e, 5, "/health", "GET", end_stream=True)
    stream = a + b + c
    cut1 = len(a) + 4
    cut2 = len(a) + len(b) + 1
    h2_simple(cap, [stream[:40], stream[40:1400], stream[1400:2800],
                    stream[2800:cut1], stream[cut1:cut2], stream[cut2:]])


@case("h2_frame_header_byte_by_byte", "a HEADERS frame sent a byte at a time", 1)
def _(cap):
    e = h2_encoder()
    fr = h2_headers(e, 1, "/v1/chat/completions", "GET", end_stream=True)
    h2_simple(cap, [fr[i:i + 1] for i in range(len(fr))])


@case("h2_continuation", "header blocks continued in CONTINUATION frames, "
      "one in the same segment, one in the next", 2)
def _(cap):
    e = h2_encoder()
    blk = h2_block(e, "/v1/chat/completions", extra=[("x-pad", "p" * 300)])
    blk2 = h2_block(e, "/v1/completions", extra=[("x-pad2", "q" * 200)])
    h2_simple(cap, [h2f(H2_HEADERS, 0, 1, blk[:10]) + h2f(H2_CONT, 0, 1, blk[10:100]) +
                    h2f(H2_CONT, H2_END_HEADERS, 1, blk[100:]) + h2_data(1),
                    h2f(H2_HEADERS, 0, 3, blk2[:50]),
                    h2f(H2_CONT, H2_END_HEADERS, 3, blk2[50:]) + h2_data(3)])


@case("h2_padded_priority", "HEADERS with PADDED and PRIORITY flags", 2)
def _(cap):
    e = h2_encoder()
    blk = h2_block(e, "/v1/chat/completions")
    pad = bytes([7]) + struct.pack(">IB", 0, 15) + blk + b"\0" * 7
    blk2 = h2_block(e, "/v1/embeddings")
    prio = struct.pack(">IB", 0x80000001, 200) + blk2
    h2_simple(cap, [h2f(H2_HEADERS, H2_END_HEADERS | H2_PADDED | H2_PRIO, 1, pad) +
                    h2_data(1),
                    h2f(H2_HEADERS, H2_END_HEADERS | H2_PRIO, 3, prio) + h2_data(3)])


@case("h2_priority_frames", "PRIORITY frames on idle streams 3 to 11 (as "
      "nghttp2 sends them), then a request on stream 13", 1)
def _(cap):
    e = h2_encoder()
    prio = b"".join(h2f(H2_PRIORITY, 0, i, struct.pack(">IB", 0, 100)) for i in (3, 5, 7, 9, 11))
    h2_simple(cap, [prio, h2_headers(e, 13, "/v1/chat/completions") + h2_data(13)])


@case("h2_trailers", "a stream's trailing HEADERS after its DATA: one request", 1)
def _(cap):
    e = h2_encoder()
    h2_simple(cap, [h2_headers(e, 1, "/v1/chat/completions") + h2_data(1, end_stream=False),
                    h2f(H2_HEADERS, H2_END_HEADERS | H2_END_STREAM, 1,
                        e.encode([("grpc-status", "0")]))])


@case("h2_stream0_push_promise", "HEADERS on stream 0 and a PUSH_PROMISE from "
      "the client: no request", 1)
def _(cap):
    e = h2_encoder()
    blk = h2_block(e, "/v1/chat/completions")
    h2_simple(cap, [h2f(H2_HEADERS, H2_END_HEADERS, 0, blk),
                    h2f(H2_PUSH, H2_END_HEADERS, 1, struct.pack(">I", 2) + blk),
                    h2_headers(e, 3, "/v1/completions", "GET", end_stream=True)])


@case("h2_small_frames", "a segment of 120 PING and WINDOW_UPDATE frames, "
      "then HEADERS in the same segment", 1)
def _(cap):
    e = h2_encoder()
    small = b"".join(h2f(H2_PING, 0, 0, b"p" * 8) if i % 2 else
                     h2f(H2_WINDOW, 0, 0, struct.pack(">I", 1000)) for i in range(120))
    h2_simple(cap, [small + h2_headers(e, 1, "/v1/chat/completions", "GET", end_stream=True)])


@case("h2_retransmit", "a HEADERS segment sent again, and one sent again "
      "with more bytes", 2)
def _(cap):
    e = h2_encoder()
    a = h2_headers(e, 1, "/v1/chat/completions") + h2_data(1)
    b = h2_headers(e, 3, "/v1/completions") + h2_data(3)
    f = h2_flow(cap)
    at = f.cnext
    f.c(a)
    f.c(a, at=at)
    f.c(b[:20])
    f.c(b, at=at + len(a))
    f.sack()
    f.fin()


@case("h2_reordered", "segments out of order: a HEADERS segment before the "
      "one it follows, a frame header cut across them", 3)
def _(cap):
    e = h2_encoder()
    a = h2_headers(e, 1, "/v1/chat/completions") + h2_data(1)
    b = h2_headers(e, 3, "/v1/completions") + h2_data(3)
    c = h2_headers(e, 5, "/v1/embeddings", "GET", end_stream=True)
    stream = a + b + c
    f = h2_flow(cap)
    at = f.cnext
    cut = len(a) + 3
    f.c(stream[cut:], at=at + cut)
    f.c(stream[:cut], at=at)
    f.sack()
    f.fin()


@case("h2_upgrade", "h2c by Upgrade: the upgraded request counts once, as "
      "its HTTP/1 request; then a stream of its own", 2)
def _(cap):
    e = h2_encoder()
    f = cap.flow(sport=8000)
    f.handshake()
    f.c(b"GET /v1/models HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
    f.s(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" +
        H2_SRV_SETTINGS)
    f.c(H2_START)
    f.c(h2_headers(e, 3, "/v1/chat/completions") + h2_data(3))
    f.sack()
    f.fin()


@case("h2_upgrade_refused", "an h2c Upgrade the server answers with 200: "
      "HTTP/1 goes on", 2)
def _(cap):
    f = cap.flow(sport=8000)
    f.handshake()
    f.c(b"GET /v1/models HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
    f.s(RESP)
    f.c(GET)
    f.sack()
    f.fin()


@case("h2_midstream", "HTTP/2 picked up midway: no handshake, the first "
      "segment starts with a frame header", 2)
def _(cap):
    e = h2_encoder()
    f = cap.flow(sport=8000)
    f.c(h2f(H2_WINDOW, 0, 0, struct.pack(">I", 5000)) +
        h2_headers(e, 7, "/v1/chat/completions") + h2_data(7))
    f.c(h2_headers(e, 9, "/v1/completions", "GET", end_stream=True))
    f.sack()


@case("h2_huffman_path", "Huffman-coded :path literals, inference and "
      "not, and one that only starts like an endpoint path", 4)
def _(cap):
    e = h2_encoder()
    h2_simple(cap, [h2_headers(e, 1, "/v1/chat/completions", huffman=True) + h2_data(1),
                    h2_headers(e, 3, "/health", "GET", end_stream=True, huffman=True),
                    h2_headers(e, 5, "/v1/embeddings?x=1", huffman=True) + h2_data(5),
                    h2_headers(e, 7, "/v1/chat", huffman=True) + h2_data(7)])


@case("h2_dynamic_table", "the same :path again, sent as an index into the "
      "dynamic table, with other fields added before it", 6)
def _(cap):
    e = h2_encoder()
    segs = []
    for i in range(6):
        path = "/v1/chat/completions" if i % 3 != 2 else "/health"
        segs.append(h2_headers(e, 2 * i + 1, path, extra=[("x-req", str(i))]) +
                    h2_data(2 * i + 1))
    h2_simple(cap, segs)


@case("h2_dynamic_eviction", "a small table (a size update) whose entries "
      "are evicted between uses of an indexed :path", 8)
def _(cap):
    e = h2_encoder()
    e.header_table_size = 200
    segs = []
    for i in range(8):
        path = ["/v1/completions", "/v1/models", "/v1/embeddings"][i % 3]
        segs.append(h2_headers(e, 2 * i + 1, path, extra=[("x-big", "b" * (20 + 13 * i))],
                               huffman=bool(i % 2)) + h2_data(2 * i + 1))
    h2_simple(cap, segs)


@case("h2_table_not_followed", "a dynamic table of more entries than "
      "penstock follows: the request that indexes :path into it after it "
      "grew past them is counted and left unclassified", 4, {"inference_requests": 3},
      "http2-counting.md: a table beyond PS_HPACK_ENTRIES entries is not followed")
def _(cap):
    e = h2_encoder()
    e.header_table_size = 16384
    f = h2_flow(cap)
    f.c(h2_headers(e, 1, "/v1/chat/completions") + h2_data(1))
    for i in range(3, 9, 2):
        f.c(h2_headers(e, i, "/v1/chat/completions",
                       extra=[("x%d" % j, "%d" % (i * 100 + j)) for j in range(70)]) +
            h2_data(i))
    f.sack()
    f.fin()


# ---------------------------------------------------------------------------
# command line

def tshark_requests(pcap):
    """tshark's request count (client->server) for a case file."""
    here = os.path.dirname(os.path.abspath(__file__))
    oracle = os.path.join(here, "..", "lib", "tshark_counts.py")
    out = subprocess.run(["/usr/bin/python3", oracle, "--port", "80",
                          "--port", "8000", pcap],
                         stdout=subprocess.PIPE, check=True).stdout
    import json
    return sum(c["requests"] for c in json.loads(out)["clients"])


def select(names):
    if not names:
        return CASES
    by = {c["name"]: c for c in CASES}
    missing = [n for n in names if n not in by]
    if missing:
        raise SystemExit("unknown case(s): " + " ".join(missing))
    return [by[n] for n in names]


def main(argv):
    if len(argv) >= 1 and argv[0] == "--list":
        for c in CASES:
            print("%-40s %s" % (c["name"], c["description"]))
        return 0
    if len(argv) >= 2 and argv[0] == "--write":
        d = argv[1]
        os.makedirs(d, exist_ok=True)
        for c in select(argv[2:]):
            write_pcap(os.path.join(d, c["name"] + ".pcap"), c["packets"])
            print(c["name"])
        return 0
    if len(argv) >= 1 and argv[0] == "--verify":
        import tempfile
        bad = 0
        with tempfile.TemporaryDirectory(prefix="penstock-cases-") as d:
            for c in select(argv[1:]):
                if "requests" not in c:
                    continue
                p = os.path.join(d, c["name"] + ".pcap")
                write_pcap(p, c["packets"])
                got = tshark_requests(p)
                if got == c["requests"]:
                    print("OK   %s requests=%d" % (c["name"], got))
                else:
                    bad += 1
                    print("DIFF %s documented=%d tshark=%d"
                          % (c["name"], c["requests"], got))
        return 1 if bad else 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
