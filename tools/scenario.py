#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Synthetic inference-traffic captures with labels, for extraction detection.

Usage:
  scenario.py --scenario NAME --out CAP.pcap --labels LABELS.json
              [--seed N] [--hours H] [--clients N] [--start RFC3339]
              [--limit-rpm N] [--limit-rpd N] [--list]

Writes a pcap (Ethernet, IPv4/IPv6, TCP with correct lengths and checksums)
of OpenAI-compatible HTTP/1.1 traffic to 198.18.0.1 / fd00:5053::1 port
8000: handshakes, keep-alive connections, POST /v1/chat/completions and
friends with JSON bodies, JSON or server-sent-event (chunked) answers whose
sizes follow the completion's token count, segments at the MSS, ACKs as a
Linux peer sends them, FINs.  Every population is a set of simulated
actors on one clock; their packets are written in time order as they are
produced (a heap of actors, one-second buckets of packets), so a day never
sits in memory.

LABELS.json names every client with its population, the extraction pattern
it follows, its group and prefix (hydras), when it was active and exactly
what this program wrote for it (requests, inference requests and the other
per-client counters of penstock replay --json).  docs/scenarios.md
describes the scenarios and every population's parameters.

Python 3.11 standard library only.
"""

import argparse
import datetime
import heapq
import ipaddress
import json
import math
import os
import random
import struct
import sys
import time
from operator import itemgetter

# --- the server and the wire ------------------------------------------------

PORT = 8000
SERVER4 = "198.18.0.1"
SERVER6 = "fd00:5053::1"
MSS4 = 1448             # 1500 MTU less IPv4, TCP and the timestamp option
MSS6 = 1428             # the same less IPv6's longer header
ADV_MSS4 = 1460
ADV_MSS6 = 1440
WINDOW = 502            # x 128 (window scale 7): 64256 bytes, as Linux opens
CWND_INIT = 10          # RFC 6928
CWND_MAX = 32           # segments; stays under the peer's 64 KB window
DOWN_NS_PER_BYTE = 8    # server to client at 1 Gbit/s
UP_NS_PER_BYTE = 400    # client to server at 20 Mbit/s
DELACK = 0.040          # Linux's minimum delayed-ACK timeout
IDLE_TIMEOUT = 75.0     # nginx keepalive_timeout: idle connections closed
KEEPALIVE_REQUESTS = 1000  # nginx keepalive_requests: then Connection: close

SERVER_MAC = bytes.fromhex("020000000001")
GATEWAY_MAC = bytes.fromhex("020000000002")

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
EMBED_MODEL = "BAAI/bge-base-en-v1.5"
EMBED_DIM = 768

INFERENCE_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings",
                   "/v1/responses")

# Per-client counters, in the order and with the names of replay --json.
FIELDS = ("connections", "requests", "inference_requests", "rx_packets",
          "tx_packets", "rx_bytes", "tx_bytes", "rx_payload", "tx_payload")
CONNS, REQS, INFS, RXP, TXP, RXB, TXB, RXL, TXL = range(9)

SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10
M32 = 0xFFFFFFFF

_rec = struct.Struct("<IIII").pack
_ip4 = struct.Struct("!BBHHHBBH4s4s").pack
_ip6 = struct.Struct("!IHBB16s16s").pack
_tcp = struct.Struct("!HHIIBBHHHBBBBII").pack        # 20 + NOP NOP TS
_tcp_syn = struct.Struct("!HHIIBBHHHBBHBBBBIIBBBB").pack  # 20 + 20 of options


def _wsum(b):
    """Sum of b's 16-bit words modulo 0xffff (2^16 is 1 modulo 0xffff, so
    the integer b spells is congruent to the sum of its digits)."""
    return int.from_bytes(b, "big") % 0xFFFF if b else 0


class Sim:
    """The clock, the actors and the capture file.

    Actors are generators that yield the simulated time (seconds from the
    start) at which they next want to run; when resumed they write packets
    at that time or later, never earlier.  Packets wait in buckets of
    2^20 us; a bucket goes to the file, sorted, once every actor's next
    run is past its end.
    """

    def __init__(self, out, epoch):
        self.f = open(out, "wb", buffering=1 << 20)
        # pcap, microsecond timestamps, snap length 262144, Ethernet
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.epoch_us = int(epoch * 1000000)
        self.buckets = {}
        self.flushed = 0        # buckets below this index are written
        self.heap = []
        self.nact = 0
        self.packets = 0
        self.last_us = 0

    def spawn(self, gen):
        try:
            t = next(gen)
        except StopIteration:
            return
        heapq.heappush(self.heap, (t, self.nact, gen))
        self.nact += 1

    def _flush_to(self, limit):
        """Write every bucket whose index is below limit."""
        bk = self.buckets
        f = self.f
        key = itemgetter(0)
        rec = itemgetter(1)
        for b in range(self.flushed, limit):
            lst = bk.pop(b, None)
            if lst:
                lst.sort(key=key)
                f.write(b"".join(map(rec, lst)))
                self.packets += len(lst)
                self.last_us = lst[-1][0]
        if limit > self.flushed:
            self.flushed = limit

    def run(self):
        heap = self.heap
        while heap:
            t, n, gen = heapq.heappop(heap)
            lim = int(t * 1000000) >> 20
            if lim > self.flushed:
                self._flush_to(lim)
            try:
                t2 = next(gen)
            except StopIteration:
                continue
            if t2 < t:
                raise RuntimeError("an actor went back in time: %r < %r" % (t2, t))
            heapq.heappush(heap, (t2, n, gen))
        if self.buckets:
            self._flush_to(max(self.buckets) + 1)
        self.f.close()


# --- TCP --------------------------------------------------------------------

class Client:
    """One client address: its counters, labels and ephemeral ports."""

    def __init__(self, sim, addr, label, pattern, group=None, prefix=None, params=None,
                 rng=None):
        self.sim = sim
        self.addr = addr
        ip = ipaddress.ip_address(addr)
        self.v6 = ip.version == 6
        self.packed = ip.packed
        self.label = label
        self.pattern = pattern
        self.group = group
        self.prefix = prefix
        self.params = params or {}
        self.st = [0] * 9
        self.active = []
        self.gap = 900.0        # activity this close together is one interval
        rng = rng or random.Random(addr)
        self.port = rng.randint(32768, 60999)
        self.ttl = rng.choice((64, 64, 63, 61, 58, 55, 52, 50, 47))

    def next_port(self):
        self.port = self.port + 1 if self.port < 60999 else 32768
        return self.port

    def mark(self, t0, t1):
        """Record activity from t0 to t1 (merged with what is within gap)."""
        a = self.active
        if a and t0 <= a[-1][1] + self.gap:
            if t1 > a[-1][1]:
                a[-1][1] = t1
            if t0 < a[-1][0]:
                a[-1][0] = t0
        else:
            a.append([t0, t1])


def ack_points(arrivals, mss, delay):
    """When a Linux receiver acknowledges: at once when more than one
    full-sized segment is unacknowledged, else when the delayed-ACK timer,
    started by the first unacknowledged segment, runs out.
    arrivals: (time, end sequence, length), in time order.
    Returns [(time, acknowledged sequence)]."""
    out = []
    unacked = 0
    timer = None
    last = None
    for ta, end, k in arrivals:
        if timer is not None and ta > timer:
            out.append((timer, last))
            unacked = 0
            timer = None
        unacked += k
        last = end
        if unacked > mss:
            out.append((ta + 0.00002, end))
            unacked = 0
            timer = None
        elif timer is None:
            timer = ta + delay
    if unacked:
        out.append((timer, last))
    return out


class Conn:
    """One TCP connection of a client to the server.

    Times are when packets pass the capture point, on the server: a client
    packet arrives there half a round trip after it left the client, so
    the client's answer to a server packet comes one RTT after it.
    """

    __slots__ = ("sim", "client", "rtt", "cport", "cseq", "sseq", "mss", "hdr",
                 "ck", "ik", "ipid", "tso", "cwnd", "t_last", "nreq", "st", "v6")

    def __init__(self, sim, client, rtt, rng):
        self.sim = sim
        self.client = client
        self.st = client.st
        self.rtt = rtt
        self.cport = client.next_port()
        self.cseq = rng.getrandbits(32)
        self.sseq = rng.getrandbits(32)
        self.v6 = client.v6
        self.mss = MSS6 if client.v6 else MSS4
        self.ipid = [rng.getrandbits(16), rng.getrandbits(16)]
        self.tso = [rng.getrandbits(32), rng.getrandbits(32)]  # [server, client] TS clocks
        self.cwnd = CWND_INIT
        self.t_last = 0.0
        self.nreq = 0
        srv = SERVER6_PACKED if client.v6 else SERVER4_PACKED
        cli = client.packed
        ethtype = b"\x86\xdd" if client.v6 else b"\x08\x00"
        # index 0: server to client, 1: client to server
        self.hdr = (GATEWAY_MAC + SERVER_MAC + ethtype, SERVER_MAC + GATEWAY_MAC + ethtype)
        pseudo = _wsum(srv) + _wsum(cli) + 6
        const = WINDOW + 0x0101 + 0x080A + PORT + self.cport + pseudo
        self.ck = (const, const)
        if not client.v6:
            base = 0x4500 + 0x4000 + 6 + _wsum(srv) + _wsum(cli)
            self.ik = (base + (64 << 8), base + (client.ttl << 8))
        else:
            self.ik = None

    # The one place packets are made.
    def emit(self, pkts):
        """pkts: [(time, c2s, flags, seq, ack, payload)] in time order."""
        sim = self.sim
        buckets = sim.buckets
        epoch = sim.epoch_us
        flushed = sim.flushed
        st = self.st
        ck = self.ck
        ik = self.ik
        hdr = self.hdr
        ipid = self.ipid
        cport = self.cport
        tso_s, tso_c = self.tso
        half = self.rtt * 500.0
        rtt_ms = self.rtt * 1000.0
        v6 = self.v6
        cli = self.client.packed
        srv = SERVER6_PACKED if v6 else SERVER4_PACKED
        ttl_c = self.client.ttl
        for t, c2s, flags, seq, ack, pl in pkts:
            tus = int(t * 1000000.0)
            seq &= M32
            ack &= M32
            ms = t * 1000.0
            if c2s:
                tsval = (tso_c + int(ms - half)) & M32
                tsecr = (tso_s + int(ms - rtt_ms)) & M32
                sp, dp = cport, PORT
            else:
                tsval = (tso_s + int(ms)) & M32
                tsecr = (tso_c + int(ms - half)) & M32
                sp, dp = PORT, cport
            plen = len(pl)
            if flags & SYN:
                if not (flags & ACK):
                    tsecr = 0
                adv = ADV_MSS6 if v6 else ADV_MSS4
                th = _tcp_syn(sp, dp, seq, ack, 0xA0, flags, WINDOW, 0, 0,
                              2, 4, adv, 4, 2, 8, 10, tsval, tsecr, 1, 3, 3, 7)
                tcplen = 40
                s = ck[c2s] - WINDOW - 0x0101 - 0x080A - PORT - cport + tcplen + _wsum(th)
                cs = -s % 0xFFFF
                th = th[:16] + cs.to_bytes(2, "big") + th[18:]
            else:
                tcplen = 32 + plen
                s = ck[c2s] + tcplen + seq + ack + (0x8000 | flags) + tsval + tsecr
                if plen:
                    v = int.from_bytes(pl, "big")
                    s += (v << 8) if plen & 1 else v
                th = _tcp(sp, dp, seq, ack, 0x80, flags, WINDOW, -s % 0xFFFF, 0,
                          1, 1, 8, 10, tsval, tsecr)
            if v6:
                iplen = 40 + tcplen
                if c2s:
                    ip = _ip6(0x60000000 | (cport * 2654435761 & 0xFFFFF), tcplen, 6,
                              ttl_c, cli, srv)
                else:
                    ip = _ip6(0x60000000 | (cport * 40503 & 0xFFFFF), tcplen, 6, 64, srv, cli)
            else:
                iplen = 20 + tcplen
                i = ipid[c2s]
                ipid[c2s] = (i + 1) & 0xFFFF
                if c2s:
                    ip = _ip4(0x45, 0, iplen, i, 0x4000, ttl_c, 6,
                              -(ik[1] + iplen + i) % 0xFFFF, cli, srv)
                else:
                    ip = _ip4(0x45, 0, iplen, i, 0x4000, 64, 6,
                              -(ik[0] + iplen + i) % 0xFFFF, srv, cli)
            n = iplen + 14
            a = epoch + tus
            rec = _rec(a // 1000000, a % 1000000, n, n) + hdr[c2s] + ip + th + pl
            b = tus >> 20
            if b < flushed:
                raise RuntimeError("packet at %.6f s is behind the written capture" % t)
            lst = buckets.get(b)
            if lst is None:
                buckets[b] = lst = []
            lst.append((tus, rec))
            if c2s:
                st[RXP] += 1
                st[RXB] += iplen
                st[RXL] += plen
            else:
                st[TXP] += 1
                st[TXB] += iplen
                st[TXL] += plen
        self.t_last = pkts[-1][0]

    def open(self, t):
        """Handshake, the SYN arriving at t; returns when the client may send."""
        c, s = self.cseq, self.sseq
        r = self.rtt
        self.emit([(t, 1, SYN, c, 0, b""),
                   (t + 0.00003, 0, SYN | ACK, s, c + 1, b""),
                   (t + r + 0.00003, 1, ACK, c + 1, s + 1, b"")])
        self.cseq = c + 1
        self.sseq = s + 1
        self.st[CONNS] += 1
        return t + r + 0.00005

    def exchange(self, t, req, writes):
        """The request req arriving from t; the server's answer in writes,
        [(seconds after the request's last byte, bytes)].  Returns the time
        of the exchange's last packet."""
        P = []
        mss = self.mss
        rtt = self.rtt
        c0 = self.cseq
        s0 = self.sseq
        # the request, at the client's uplink rate
        arr = []
        n = len(req)
        off = 0
        ta = t
        while off < n:
            k = n - off if n - off < mss else mss
            P.append((ta, 1, ACK | PSH if off + k == n else ACK, c0 + off, s0,
                      req[off:off + k]))
            off += k
            arr.append((ta, c0 + off, k))
            ta += (k + 66) * UP_NS_PER_BYTE * 1e-9
        req_end = arr[-1][0]
        c1 = c0 + n
        # the answer: each write in segments, a write larger than the
        # congestion window in flights one RTT apart (slow start)
        if req_end - self.t_last > 1.0:
            self.cwnd = CWND_INIT     # slow start after idle (RFC 5681 4.1)
        cw = self.cwnd
        segs = []
        so = s0
        tn = 0.0
        for rel, data in writes:
            ts = req_end + rel
            if ts < tn:
                ts = tn
            m = len(data)
            off = 0
            i = 0
            fl = ts
            while off < m:
                k = m - off if m - off < mss else mss
                if i and i % cw == 0:
                    fl = max(ts, fl + rtt)
                    ts = fl
                    cw = min(cw * 2, CWND_MAX)
                P.append((ts, 0, ACK | PSH if off + k == m else ACK, so, c1, data[off:off + k]))
                so += k
                off += k
                i += 1
                segs.append((ts + rtt, so, k))
                ts += (k + 66) * DOWN_NS_PER_BYTE * 1e-9
            tn = ts
        self.cwnd = cw
        first = segs[0][0] - rtt
        # the server's ACKs of the request, unless its answer carries them
        for ta, a in ack_points(arr, mss, DELACK):
            if ta < first:
                P.append((ta, 0, ACK, s0, a, b""))
        # the client's ACKs of the answer
        for ta, a in ack_points(segs, mss, DELACK):
            P.append((ta, 1, ACK, c1, a, b""))
        P.sort(key=itemgetter(0))
        self.emit(P)
        self.cseq = c1
        self.sseq = so
        self.nreq += 1
        return P[-1][0]

    def client_close(self, t):
        c, s, r = self.cseq, self.sseq, self.rtt
        self.emit([(t, 1, FIN | ACK, c, s, b""),
                   (t + 0.00003, 0, FIN | ACK, s, c + 1, b""),
                   (t + r + 0.00003, 1, ACK, c + 1, s + 1, b"")])
        return t + r + 0.00003

    def server_close(self, t):
        c, s, r = self.cseq, self.sseq, self.rtt
        self.emit([(t, 0, FIN | ACK, s, c, b""),
                   (t + r, 1, FIN | ACK, c, s + 1, b""),
                   (t + r + 0.00003, 0, ACK, s + 1, c + 1, b"")])
        return t + r + 0.00003


SERVER4_PACKED = ipaddress.ip_address(SERVER4).packed
SERVER6_PACKED = ipaddress.ip_address(SERVER6).packed


class Agent:
    """One sequential HTTP user of a client: at most one connection at a
    time, kept alive between requests until the server's idle timeout (or
    its keepalive_requests) closes it, or the agent closes it itself."""

    def __init__(self, sim, client, rng, rtt, style, key):
        self.sim = sim
        self.client = client
        self.rng = rng
        self.rtt = rtt
        self.style = style
        self.key = key
        self.host = ("[%s]:%d" % (SERVER6, PORT)) if client.v6 else ("%s:%d" % (SERVER4, PORT))
        self.conn = None
        self.idle = 0.0

    def call(self, t, method, path, body, answer):
        """Send one request at t (opening a connection first if none is
        open); answer(close) gives the server's writes.  Returns when the
        exchange's last packet passed."""
        c = self.conn
        if c is None:
            c = self.conn = Conn(self.sim, self.client, self.rtt, self.rng)
            t0 = t
            t = c.open(t)
        else:
            # never before the previous exchange on this connection ended
            if t <= c.t_last:
                t = c.t_last + 0.0001
            t0 = t
        last = c.nreq + 1 >= KEEPALIVE_REQUESTS
        req = self.style(method, path, body, self.key, self.host)
        t_end = c.exchange(t, req, answer(last))
        st = self.client.st
        st[REQS] += 1
        if path.startswith(INFERENCE_PATHS):
            st[INFS] += 1
        self.client.mark(t0, t_end)
        if last:
            c.server_close(t_end + 0.0001)
            self.conn = None
        self.idle = t_end
        return t_end

    def wait(self, t_next):
        """The agent's next request will be at t_next: if the connection
        would sit idle past the server's timeout, the server closes it."""
        if self.conn is not None and t_next - self.idle >= IDLE_TIMEOUT:
            self.conn.server_close(self.idle + IDLE_TIMEOUT)
            self.conn = None

    def close(self, by_client):
        """Done: the agent closes (a script exiting), or lets the server's
        idle timeout do it (a browser tab, a pooled client)."""
        if self.conn is not None:
            if by_client:
                self.conn.client_close(self.idle + 0.0005 + self.rng.random() * 0.002)
            else:
                self.conn.server_close(self.idle + IDLE_TIMEOUT)
            self.conn = None


# --- HTTP messages ----------------------------------------------------------

WORDS = """the of and to in is that for it as was with be by on not he this are
or his from at which but have an they you were her she there one all we can their
has been if more when will would who so no model data value result system output
input function process server request response method table error figure section
analysis report summary question answer example context between because through
during before after under against without within about above below across
customer account service product order price policy contract market quarter revenue
growth budget forecast team project deadline meeting schedule review draft version
patient doctor treatment symptom study trial dose effect risk outcome sample
python code class variable loop array string integer return import library test
debug compile deploy cluster node memory thread queue cache index query database
history war empire king city river mountain ocean island forest climate energy
carbon emission solar wind battery engine vehicle transport network signal
because however therefore although moreover furthermore instead meanwhile
explain describe compare list summarize translate rewrite improve evaluate
first second third next finally also only very much many most some few every
good better best new old large small long short high low early late simple
important different possible available specific general similar particular
""".split()


class Content:
    """Text, prompts and answers.  A fixed corpus (the same for every seed)
    and slices of it at the caller's random offsets: fast, and nothing in it
    needs escaping in JSON."""

    def __init__(self):
        r = random.Random(20250303)
        words = []
        for i in range(60000):
            w = r.choice(WORDS)
            if i % 13 == 0:
                w = w.capitalize()
            words.append(w + ("." if i % 17 == 16 else ","if i % 29 == 28 else ""))
        text = " ".join(words)
        self.text = text.encode()
        self.n = len(self.text)
        # tokens about 4 bytes long: words, long ones cut in two
        toks = []
        for w in words[:30000]:
            if len(w) > 7:
                toks.append((" " + w[:4]).encode())
                toks.append(w[4:].encode())
            else:
                toks.append((" " + w).encode())
        self.toks = toks
        self.ntok = len(toks)
        self.floats = ["%.8f" % r.gauss(0, 0.06) for _ in range(4096)]
        self.date_s = None
        self.date = b""

    def slice(self, rng, n):
        n = max(1, min(int(n), self.n - 1))
        o = rng.randrange(0, self.n - n)
        return self.text[o:o + n]

    def http_date(self, sim, t):
        s = int(t)
        if s != self.date_s:
            self.date_s = s
            self.date = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                      time.gmtime(sim.epoch_us // 1000000 + s)).encode()
        return self.date

    # requests
    def chat_body(self, msgs, max_tokens, stream, temperature=0.7, extra=b""):
        """msgs: [(role, content bytes)]."""
        parts = [b'{"model":"', MODEL.encode(), b'","messages":[']
        for i, (role, text) in enumerate(msgs):
            if i:
                parts.append(b",")
            parts += [b'{"role":"', role, b'","content":"', text, b'"}']
        parts.append(b'],"max_tokens":%d,"temperature":%s,"stream":%s%s}'
                     % (max_tokens, b"%g" % temperature, b"true" if stream else b"false", extra))
        return b"".join(parts)

    def completion_body(self, prompt, max_tokens, extra=b""):
        return (b'{"model":"%s","prompt":"%s","max_tokens":%d,"temperature":0,'
                b'"logprobs":null,"echo":false%s}' % (MODEL.encode(), prompt, max_tokens, extra))

    def embed_body(self, inputs):
        return b'{"model":"%s","input":["%s"],"encoding_format":"float"}' % (
            EMBED_MODEL.encode(), b'","'.join(inputs))

    # answers
    def _head(self, sim, t, ctype, length, close):
        h = [b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: ", self.http_date(sim, t),
             b"\r\nContent-Type: ", ctype]
        if length is None:
            h.append(b"\r\nTransfer-Encoding: chunked")
        else:
            h.append(b"\r\nContent-Length: %d" % length)
        h.append(b"\r\nConnection: close\r\n\r\n" if close
                 else b"\r\nConnection: keep-alive\r\n\r\n")
        return b"".join(h)

    def json_answer(self, sim, t, close, body):
        return self._head(sim, t, b"application/json", len(body), close) + body

    def chat_json(self, rng, t_created, ptoks, ctoks):
        cid = b"%032x" % rng.getrandbits(128)
        text = self.slice(rng, 4 * ctoks)
        return (b'{"id":"chatcmpl-%s","object":"chat.completion","created":%d,"model":"%s",'
                b'"choices":[{"index":0,"message":{"role":"assistant","content":"%s",'
                b'"tool_calls":[]},"logprobs":null,"finish_reason":"%s","stop_reason":null}],'
                b'"usage":{"prompt_tokens":%d,"total_tokens":%d,"completion_tokens":%d},'
                b'"prompt_logprobs":null}'
                % (cid, t_created, MODEL.encode(), text, b"stop", ptoks, ptoks + ctoks, ctoks))

    def completion_json(self, rng, t_created, ptoks, ctoks):
        cid = b"%032x" % rng.getrandbits(128)
        text = self.slice(rng, 4 * ctoks)
        return (b'{"id":"cmpl-%s","object":"text_completion","created":%d,"model":"%s",'
                b'"choices":[{"index":0,"text":"%s","logprobs":null,"finish_reason":"stop",'
                b'"stop_reason":null,"prompt_logprobs":null}],"usage":{"prompt_tokens":%d,'
                b'"total_tokens":%d,"completion_tokens":%d}}'
                % (cid, t_created, MODEL.encode(), text, ptoks, ptoks + ctoks, ctoks))

    def embed_json(self, rng, n, ptoks):
        fl = self.floats
        data = []
        for i in range(n):
            o = rng.randrange(0, len(fl) - EMBED_DIM)
            data.append(('{"index":%d,"object":"embedding","embedding":[%s]}'
                         % (i, ",".join(fl[o:o + EMBED_DIM]))).encode())
        return (b'{"id":"embd-%032x","object":"list","created":%d,"model":"%s","data":[%s],'
                b'"usage":{"prompt_tokens":%d,"total_tokens":%d,"completion_tokens":0}}'
                % (rng.getrandbits(128), 1741000000, EMBED_MODEL.encode(), b",".join(data),
                   ptoks, ptoks))

    def sse_writes(self, sim, t, rng, close, ctoks, ttft, tpot, per_write=1):
        """A streamed chat completion as vLLM writes it: the header block at
        once, then one chunk per token (a data: event each), the finishing
        event, [DONE] and the last chunk.  [(delay, bytes)].  per_write > 1:
        that many tokens' chunks in one write (a server under load, or a
        buffering proxy between)."""
        created = int(sim.epoch_us // 1000000 + t)
        cid = b"%032x" % rng.getrandbits(128)
        pre = (b'data: {"id":"chatcmpl-%s","object":"chat.completion.chunk","created":%d,'
               b'"model":"%s","choices":[{"index":0,"delta":{' % (cid, created, MODEL.encode()))
        mid = b'"},"logprobs":null,"finish_reason":null}]}\n\n'
        out = [(0.002, self._head(sim, t, b"text/event-stream; charset=utf-8", None, close))]
        ev = pre + b'"role":"assistant","content":""' + mid[1:]
        out.append((ttft, b"%x\r\n%s\r\n" % (len(ev), ev)))
        toks = self.toks
        o = rng.randrange(0, self.ntok - ctoks - 1)
        pre_c = pre + b'"content":"'
        lp = len(pre_c) + len(mid)
        d = ttft
        buf = []
        for i in range(ctoks):
            d += tpot
            tok = toks[o + i]
            buf.append(b"%x\r\n" % (lp + len(tok)) + pre_c + tok + mid + b"\r\n")
            if len(buf) >= per_write:
                out.append((d, b"".join(buf)))
                buf = []
        if buf:
            out.append((d, b"".join(buf)))
        ev = pre + b'},"logprobs":null,"finish_reason":"stop","stop_reason":null}]}\n\n'
        d += 0.001
        out.append((d, b"%x\r\n%s\r\n" % (len(ev), ev)))
        out.append((d + 0.0005, b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"))
        return out


def style_openai(lang):
    """Request header block of the OpenAI SDKs (python or node)."""
    if lang == "python":
        extra = ("X-Stainless-Lang: python\r\nX-Stainless-Package-Version: 1.51.0\r\n"
                 "X-Stainless-OS: Linux\r\nX-Stainless-Arch: x64\r\n"
                 "X-Stainless-Runtime: CPython\r\nX-Stainless-Runtime-Version: 3.11.9\r\n")
        ua = "OpenAI/Python 1.51.0"
    else:
        extra = ("X-Stainless-Lang: js\r\nX-Stainless-Package-Version: 4.67.3\r\n"
                 "X-Stainless-OS: MacOS\r\nX-Stainless-Arch: arm64\r\n"
                 "X-Stainless-Runtime: node\r\nX-Stainless-Runtime-Version: v20.17.0\r\n")
        ua = "OpenAI/JS 4.67.3"

    def build(method, path, body, key, host):
        h = ("%s %s HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: gzip, deflate\r\n"
             "Connection: keep-alive\r\nAccept: application/json\r\n"
             % (method, path, host))
        if body:
            h += "Content-Type: application/json\r\n"
        h += "User-Agent: %s\r\n%sAuthorization: Bearer %s\r\n" % (ua, extra, key)
        h += "X-Stainless-Async: false\r\nx-stainless-retry-count: 0\r\n"
        if body:
            h += "Content-Length: %d\r\n" % len(body)
        return (h + "\r\n").encode() + body
    return build


def style_plain(ua, accept="*/*"):
    """Request header block of python-requests, httpx, Go and the like."""
    def build(method, path, body, key, host):
        h = ("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept-Encoding: gzip, deflate\r\n"
             "Accept: %s\r\nConnection: keep-alive\r\n" % (method, path, host, ua, accept))
        if body:
            h += "Content-Length: %d\r\nContent-Type: application/json\r\n" % len(body)
        h += "Authorization: Bearer %s\r\n\r\n" % key
        return h.encode() + body
    return build


# --- latency ----------------------------------------------------------------

def ttft(rng, ptoks):
    """Time to first token: queueing, then prefill at about 6000 tokens/s."""
    return 0.02 + ptoks / 6000.0 + rng.expovariate(1 / 0.03)


def tpot(rng):
    """Time per output token: about 20 ms, slower when the server is busy."""
    return 0.020 * rng.uniform(0.85, 1.25)


def lognorm(rng, median, sigma, lo, hi):
    return min(hi, max(lo, median * math.exp(rng.gauss(0, sigma))))


# --- the diurnal curve ------------------------------------------------------

DIURNAL_AMP = 0.8       # 0.2 at the trough, 1.8 at the peak, mean 1
DIURNAL_PEAK = 15.5     # hour of day (UTC) of the peak


def diurnal(hour, amp=DIURNAL_AMP):
    return 1.0 + amp * math.cos(2 * math.pi * (hour - DIURNAL_PEAK) / 24.0)


class World:
    """What every actor needs: the simulation, content, the clock's start."""

    def __init__(self, sim, content, epoch, span, limits):
        self.sim = sim
        self.c = content
        self.epoch = epoch
        self.span = span
        self.limits = limits

    def hour(self, t):
        return ((self.epoch + t) % 86400) / 3600.0

    def poisson_diurnal(self, rng, t, per_day, amp=DIURNAL_AMP):
        """Next arrival after t of a Poisson process of per_day events a day
        on average, modulated by the diurnal curve (thinning)."""
        lmax = per_day / 86400.0 * (1 + amp)
        while True:
            t += rng.expovariate(lmax)
            if t >= self.span or rng.random() * (1 + amp) <= diurnal(self.hour(t), amp):
                return t


# --- populations ------------------------------------------------------------
#
# Every actor below is a generator: it yields the time it next runs at and,
# when resumed, writes the packets of what it does then.  Parameters are in
# docs/scenarios.md; keep the two in step.

def _key(rng):
    return "sk-" + "%040x" % rng.getrandbits(160)


def benign_user(w, cl, rng):
    """A person chatting: Poisson sessions following the diurnal curve, a
    few turns each with human think times, the conversation resent every
    turn (capped at 8 KB), answers mostly streamed."""
    c = w.c
    per_day = lognorm(rng, 2.0, 0.9, 0.2, 20.0)
    stream = rng.random() < 0.8
    sys_len = int(lognorm(rng, 400, 0.6, 100, 1500)) if rng.random() < 0.5 else 0
    style = style_openai("python" if rng.random() < 0.6 else "node")
    ag = Agent(w.sim, cl, rng, lognorm(rng, 0.040, 0.6, 0.005, 0.300), style, _key(rng))
    cl.params.update(sessions_per_day=round(per_day, 3), stream=stream)
    t = w.poisson_diurnal(rng, 0.0, per_day)
    while t < w.span:
        ag.wait(t)
        yield t
        hist = []
        if sys_len:
            hist.append((b"system", c.slice(rng, sys_len)))
        if rng.random() < 0.5:
            t = ag.call(t, "GET", "/v1/models", b"", models_answer(w, t, rng)) + rng.uniform(0.3, 3)
            yield t
        turns = 1 + min(39, int(rng.expovariate(1 / 4.5)))
        for k in range(turns):
            user = c.slice(rng, lognorm(rng, 350 if k == 0 else 250, 0.9, 60, 4000))
            hist.append((b"user", user))
            keep = 1 if sys_len else 0
            while sum(len(x[1]) for x in hist) > 7600 and len(hist) > keep + 1:
                hist.pop(keep)
            ctoks = int(lognorm(rng, 220, 0.75, 8, 2048))
            body = c.chat_body(hist, 2048, stream)
            ptoks = len(body) // 4
            t = ag.call(t, "POST", "/v1/chat/completions", body,
                        chat_answer(w, t, rng, ptoks, ctoks, stream))
            hist.append((b"assistant", c.slice(rng, 4 * ctoks)))
            if k + 1 < turns:
                t += lognorm(rng, 30.0, 0.8, 4.0, 900.0)
                ag.wait(t)
                yield t
        t = w.poisson_diurnal(rng, t, per_day)
    ag.close(False)


def models_answer(w, t, rng):
    body = (b'{"object":"list","data":[{"id":"%s","object":"model","created":%d,'
            b'"owned_by":"vllm","root":"%s","parent":null,"max_model_len":32768,'
            b'"permission":[{"id":"modelperm-%032x","object":"model_permission",'
            b'"created":%d,"allow_create_engine":false,"allow_sampling":true,'
            b'"allow_logprobs":true,"allow_search_indices":false,"allow_view":true,'
            b'"allow_fine_tuning":false,"organization":"*","group":null,'
            b'"is_blocking":false}]}]}'
            % (MODEL.encode(), 1741000000, MODEL.encode(), rng.getrandbits(128), 1741000000))
    return lambda close: [(rng.uniform(0.001, 0.004), w.c.json_answer(w.sim, t, close, body))]


def health_answer(w, t, rng):
    return lambda close: [(rng.uniform(0.0005, 0.002),
                           w.c._head(w.sim, t, b"application/json", 0, close))]


def chat_answer(w, t, rng, ptoks, ctoks, stream, per_write=1):
    """The server's writes for a chat completion of ctoks tokens."""
    first = ttft(rng, ptoks)
    per = tpot(rng)
    c = w.c
    created = int(w.epoch + t)
    if stream:
        return lambda close: c.sse_writes(w.sim, t, rng, close, ctoks, first, per, per_write)
    return lambda close: [(first + ctoks * per,
                           c.json_answer(w.sim, t, close,
                                         c.chat_json(rng, created, ptoks, ctoks)))]


def completion_answer(w, t, rng, ptoks, ctoks):
    first = ttft(rng, ptoks)
    per = tpot(rng)
    created = int(w.epoch + t)
    return lambda close: [(first + ctoks * per,
                           w.c.json_answer(w.sim, t, close,
                                           w.c.completion_json(rng, created, ptoks, ctoks)))]


def embed_answer(w, t, rng, n, ptoks):
    return lambda close: [(0.005 + ptoks / 40000.0,
                           w.c.json_answer(w.sim, t, close, w.c.embed_json(rng, n, ptoks)))]


def integration(w, cl, rng):
    """A steady application integration: one actor per pooled connection
    (two for chat completions, one for embeddings) plus a readiness probe;
    Poisson with a mild diurnal swing; templated prompts; never streamed."""
    key = _key(rng)
    style = style_plain("Go-http-client/1.1", "application/json")
    rtt = lognorm(rng, 0.008, 0.3, 0.002, 0.05)
    system = w.c.slice(rng, 1200)
    cl.params.update(chat_per_min=2.0, embed_per_min=1.0, health_every_s=60)

    def chat(sub):
        ag = Agent(w.sim, cl, sub, rtt, style, key)
        arr = t = sub.uniform(0, 30)
        while True:
            arr = w.poisson_diurnal(sub, arr, 1440.0, amp=0.3)  # 1/min each, 2 actors
            if arr >= w.span:
                break
            t = max(arr, t + 0.001)     # a request waits for the one before
            ag.wait(t)
            yield t
            body = w.c.chat_body([(b"system", system),
                                       (b"user", w.c.slice(sub, lognorm(sub, 400, 0.8, 60, 3000)))],
                                 512, False, 0.2)
            ctoks = int(lognorm(sub, 120, 0.5, 5, 512))
            t = ag.call(t, "POST", "/v1/chat/completions", body,
                        chat_answer(w, t, sub, len(body) // 4, ctoks, False))
        ag.close(False)

    def embed(sub):
        ag = Agent(w.sim, cl, sub, rtt, style, key)
        arr = t = sub.uniform(0, 30)
        while True:
            arr = w.poisson_diurnal(sub, arr, 1440.0, amp=0.3)
            if arr >= w.span:
                break
            t = max(arr, t + 0.001)
            ag.wait(t)
            yield t
            inputs = [w.c.slice(sub, lognorm(sub, 300, 0.5, 50, 900))
                      for _ in range(sub.randint(1, 8))]
            body = w.c.embed_body(inputs)
            t = ag.call(t, "POST", "/v1/embeddings", body,
                        embed_answer(w, t, sub, len(inputs), len(body) // 4))
        ag.close(False)

    def health(sub):
        ag = Agent(w.sim, cl, sub, rtt, style_plain("kube-probe/1.30"), key)
        t = sub.uniform(0, 60)
        while t < w.span:
            ag.wait(t)
            yield t
            ag.call(t, "GET", "/health", b"", health_answer(w, t, sub))
            t += 60.0
        ag.close(False)

    return [chat(random.Random(rng.random())), chat(random.Random(rng.random())),
            embed(random.Random(rng.random())), health(random.Random(rng.random()))]


def windows_of(w, spec):
    """[(start, end)] in seconds from fractions of the span."""
    return [(a * w.span, b * w.span) for a, b in spec]


EVAL_WINDOWS = ((0.08, 0.13), (0.58, 0.63))


def eval_job(w, cl, rng):
    """The allow-listed evaluation job: twice per span, four concurrent
    workers run benchmark prompts back to back (few-shot /v1/completions
    and chat), temperature 0, short or medium answers."""
    key = _key(rng)
    style = style_plain("python-requests/2.32.3")
    rtt = lognorm(rng, 0.004, 0.3, 0.001, 0.02)
    wins = windows_of(w, EVAL_WINDOWS)
    cl.params.update(workers=4, windows=[[round(a, 1), round(b, 1)] for a, b in wins])

    def worker(sub):
        for a, b in wins:
            ag = Agent(w.sim, cl, sub, rtt, style, key)
            t = a + sub.uniform(0, 2.0)
            while t < b:
                yield t
                ctoks = sub.randint(1, 16) if sub.random() < 0.5 else \
                    int(lognorm(sub, 200, 0.5, 20, 512))
                prompt = w.c.slice(sub, lognorm(sub, 1500, 0.6, 200, 7000))
                if sub.random() < 0.6:
                    body = w.c.completion_body(prompt, 16 if ctoks <= 16 else 512)
                    t = ag.call(t, "POST", "/v1/completions", body,
                                completion_answer(w, t, sub, len(body) // 4, ctoks))
                else:
                    body = w.c.chat_body([(b"user", prompt)], 16 if ctoks <= 16 else 512,
                                         False, 0)
                    t = ag.call(t, "POST", "/v1/chat/completions", body,
                                chat_answer(w, t, sub, len(body) // 4, ctoks, False))
                t += sub.uniform(0.045, 0.15)
            ag.close(True)

    return [worker(random.Random(rng.random())) for _ in range(4)]


def extractor_worker(w, sub, ag, t, stop, prompt_med, ctok_med, ctok_max, gap, stream=False,
                     per_write=1):
    """Back-to-back chat completions on one keep-alive connection."""
    while t < stop:
        ag.wait(t)
        yield t
        prompt = w.c.slice(sub, lognorm(sub, prompt_med, 0.7, 120, 7600))
        body = w.c.chat_body([(b"user", prompt)], ctok_max, stream, 0.8)
        ctoks = int(lognorm(sub, ctok_med, 0.5, 16, ctok_max))
        t = ag.call(t, "POST", "/v1/chat/completions", body,
                    chat_answer(w, t, sub, len(body) // 4, ctoks, stream, per_write))
        t += gap(sub)
    ag.close(True)


def high_rate(w, cl, rng):
    """One address pulling around the clock: six workers back to back."""
    key = _key(rng)
    style = style_plain("python-httpx/0.27.2", "application/json")
    rtt = lognorm(rng, 0.030, 0.5, 0.005, 0.2)
    cl.params.update(workers=6, prompt_median=900, completion_median=450)
    return [extractor_worker(w, sub, Agent(w.sim, cl, sub, rtt, style, key),
                             sub.uniform(0, 60), w.span, 900, 450, 1024,
                             lambda r: r.uniform(0.05, 0.5))
            for sub in [random.Random(rng.random()) for _ in range(6)]]


HYDRA_WINDOW = (0.30, 0.75)
HYDRA_INTERVAL = 180.0  # mean seconds between one member's requests


def hydra_member(w, cl, rng, win):
    """One address of a hydra: a request every few minutes (Poisson) on a
    new connection, closed after the answer, for the campaign's window."""
    a, b = win
    key = _key(rng)
    style = style_plain("python-httpx/0.27.2", "application/json")
    ag = Agent(w.sim, cl, rng, lognorm(rng, 0.060, 0.5, 0.01, 0.3), style, key)
    t = a + rng.uniform(0, 60)
    stop = b - rng.uniform(0, 60)
    cl.params.update(mean_interval_s=HYDRA_INTERVAL, window=[round(a, 1), round(b, 1)])
    cl.gap = math.inf       # one campaign: one interval, however long a pause
    while True:
        yield t
        body = w.c.chat_body([(b"user", w.c.slice(rng, lognorm(rng, 900, 0.7, 120, 7600)))],
                             1024, False, 0.8)
        ctoks = int(lognorm(rng, 450, 0.5, 16, 1024))
        t = ag.call(t, "POST", "/v1/chat/completions", body,
                    chat_answer(w, t, rng, len(body) // 4, ctoks, False))
        ag.close(True)
        t += rng.expovariate(1 / HYDRA_INTERVAL)
        if t >= stop:
            break


def low_slow(w, cl, rng):
    """Just under the client's limits, 24/7, machine-regular: a request
    every `interval` seconds (jitter 0.5%), alternating between two
    keep-alive connections, one prompt template, near-constant answers."""
    rpm = min(w.limits["rpm"], w.limits["rpd"] / 1440.0) * 0.95
    interval = 60.0 / rpm
    key = _key(rng)
    style = style_plain("python-requests/2.32.3")
    rtt = lognorm(rng, 0.020, 0.3, 0.005, 0.1)
    cl.params.update(interval_s=round(interval, 4), rpm=round(rpm, 3))
    t0 = rng.uniform(0, 30)
    tmpl = w.c.slice(rng, 1000)

    def worker(sub, k):
        ag = Agent(w.sim, cl, sub, rtt, style, key)
        i = k
        while True:
            t = t0 + i * interval + sub.gauss(0, interval * 0.005)
            if t >= w.span:
                break
            ag.wait(t)
            yield t
            body = w.c.chat_body([(b"system", tmpl),
                                       (b"user", w.c.slice(sub, sub.randint(60, 160)))],
                                 256, False, 0.8)
            ctoks = sub.randint(180, 220)
            ag.call(t, "POST", "/v1/chat/completions", body,
                    chat_answer(w, t, sub, len(body) // 4, ctoks, False))
            i += 2
        ag.close(True)

    return [worker(random.Random(rng.random()), k) for k in range(2)]


SURGE_AT = 0.55
SURGE_BASE_PER_MIN = 1.0
SURGE_FACTOR = 20


def surge(w, cl, rng):
    """An application at one request a minute whose volume jumps twenty
    times at SURGE_AT of the span (a model release), from four workers;
    it lists the models when the surge starts."""
    key = _key(rng)
    style = style_openai("python")
    rtt = lognorm(rng, 0.025, 0.5, 0.005, 0.2)
    at = SURGE_AT * w.span
    cl.params.update(surge_at=round(at, 1), base_per_min=SURGE_BASE_PER_MIN,
                     factor=SURGE_FACTOR, workers_after=4)

    def one(sub, ag, t):
        body = w.c.chat_body([(b"user", w.c.slice(sub, lognorm(sub, 1500, 0.7, 150, 7600)))],
                             1024, False, 0.7)
        ctoks = int(lognorm(sub, 300, 0.5, 16, 1024))
        return ag.call(t, "POST", "/v1/chat/completions", body,
                       chat_answer(w, t, sub, len(body) // 4, ctoks, False))

    def before(sub):
        ag = Agent(w.sim, cl, sub, rtt, style, key)
        arr = t = 0.0
        while True:
            arr += sub.expovariate(SURGE_BASE_PER_MIN / 60.0)
            if arr >= at:
                break
            t = max(arr, t + 0.001)     # a request waits for the one before
            ag.wait(t)
            yield t
            t = one(sub, ag, t)
        ag.close(False)

    def after(sub, k):
        ag = Agent(w.sim, cl, sub, rtt, style, key)
        arr = t = at + sub.uniform(0, 5)
        if k == 0:
            yield t
            t = ag.call(t, "GET", "/v1/models", b"", models_answer(w, t, sub))
        rate = SURGE_BASE_PER_MIN * SURGE_FACTOR / 4 / 60.0
        while True:
            arr += sub.expovariate(rate)
            if arr >= w.span:
                break
            t = max(arr, t + 0.001)
            ag.wait(t)
            yield t
            t = one(sub, ag, t)
        ag.close(False)

    return [before(random.Random(rng.random()))] + \
        [after(random.Random(rng.random()), k) for k in range(4)]


RATIO_MAX_TOKENS = 8192


def ratio(w, cl, rng):
    """Long completions asked for by short prompts, sustained: two workers,
    prompts of 200-450 bytes asking for max_tokens 8192, answers of 50-100%
    of that, not streamed."""
    key = _key(rng)
    style = style_plain("python-requests/2.32.3")
    rtt = lognorm(rng, 0.030, 0.5, 0.005, 0.2)
    cl.params.update(workers=2, max_tokens=RATIO_MAX_TOKENS)

    def worker(sub):
        ag = Agent(w.sim, cl, sub, rtt, style, key)
        t = sub.uniform(0, 60)
        while t < w.span:
            ag.wait(t)
            yield t
            body = w.c.chat_body([(b"user", w.c.slice(sub, sub.randint(60, 300)))],
                                 RATIO_MAX_TOKENS, False, 1.0)
            ctoks = int(RATIO_MAX_TOKENS * sub.uniform(0.5, 1.0))
            t = ag.call(t, "POST", "/v1/chat/completions", body,
                        chat_answer(w, t, sub, len(body) // 4, ctoks, False))
            t += sub.uniform(0.5, 3.0)
        ag.close(True)

    return [worker(random.Random(rng.random())) for _ in range(2)]


# --- operators' populations (the pop-* scenarios) ---------------------------
#
# Built from published descriptions of real traffic, not from penstock's
# detectors; docs/scenarios.md gives the sources and the parameters.

def curve_office(hour):
    """Working hours (UTC = local): 08-18 with a lunch dip; little at night."""
    if 8 <= hour < 18:
        return 1.0 if not 12 <= hour < 13.5 else 0.45
    if 7 <= hour < 8 or 18 <= hour < 20:
        return 0.3
    return 0.03


def curve_campus(hour):
    """Students: from late morning to past midnight, peak in the evening."""
    return max(0.05, 0.55 + 0.45 * math.cos(2 * math.pi * (hour - 20.0) / 24.0)) \
        if not 3 <= hour < 9 else 0.05


def curve_mobile(hour):
    """Phones: a morning commute bump and an evening peak (20-23)."""
    return 0.08 + 0.35 * math.exp(-((hour - 8.5) / 1.5) ** 2) + \
        0.9 * math.exp(-((hour - 21.0) / 2.2) ** 2) + 0.35 * math.exp(-((hour - 13) / 2) ** 2)


_CURVE_STATS = {}


def next_arrival(w, rng, t, per_day, curve):
    """Next event after t of a Poisson process of per_day events a day on
    average, its rate following the curve (thinning)."""
    if curve not in _CURVE_STATS:
        v = [curve(h / 60.0) for h in range(1440)]
        _CURVE_STATS[curve] = (sum(v) / len(v), max(v))
    mean, top = _CURVE_STATS[curve]
    lmax = per_day / 86400.0 * top / mean
    while True:
        t += rng.expovariate(lmax)
        if t >= w.span or rng.random() * top <= curve(w.hour(t)):
            return t


def chat_person(w, rng, client_of, curve, per_day, turns_mean, stream_p, think_med,
                mobile=False):
    """A person chatting (LMSYS-Chat-1M: about 2 turns a conversation on
    average, ShareGPT about 3.5; think times of tens of seconds: reading the
    answer, typing the next message). client_of(t) gives the address of a
    session (a NAT pool may give another each session)."""
    c = w.c
    stream = rng.random() < stream_p
    style = style_openai("node" if mobile or rng.random() < 0.4 else "python")
    key = _key(rng)
    rtt = lognorm(rng, 0.070 if mobile else 0.030, 0.6, 0.005, 0.6)
    t = next_arrival(w, rng, 0.0, per_day, curve)
    while t < w.span:
        cl = client_of(t)
        ag = Agent(w.sim, cl, rng, rtt, style, key)
        yield t
        hist = []
        turns = 1 + min(30, int(rng.expovariate(1 / turns_mean)))
        for k in range(turns):
            hist.append((b"user", c.slice(rng, lognorm(rng, 200 if mobile else 320, 0.9,
                                                       20, 4000))))
            while sum(len(x[1]) for x in hist) > 7000 and len(hist) > 1:
                hist.pop(0)
            ctoks = int(lognorm(rng, 250, 0.8, 5, 2048))
            body = c.chat_body(hist, 2048, stream)
            t = ag.call(t, "POST", "/v1/chat/completions", body,
                        chat_answer(w, t, rng, len(body) // 4, ctoks, stream))
            hist.append((b"assistant", c.slice(rng, 4 * ctoks)))
            if k + 1 < turns:
                t += lognorm(rng, think_med, 0.9, 3.0, 1200.0)
                ag.wait(t)
                yield t
        ag.close(mobile)
        t = next_arrival(w, rng, t + 60, per_day, curve)


def coding_agent(w, cl, rng):
    """A developer's coding agent in a tool-call loop during working hours:
    tasks of 8-80 model calls, each followed by a tool run (tests, greps,
    edits: lognormal median 4 s); the context grows with every call."""
    c = w.c
    key = _key(rng)
    style = style_plain("claude-code-like/1.0 (node)", "application/json")
    rtt = lognorm(rng, 0.030, 0.5, 0.005, 0.2)
    per_day = lognorm(rng, 6, 0.5, 2, 20)      # tasks a working day
    cl.params.update(tasks_per_day=round(per_day, 2))
    ag = Agent(w.sim, cl, rng, rtt, style, key)
    t = next_arrival(w, rng, 0.0, per_day * 3, curve_office)
    while t < w.span:
        calls = rng.randint(8, 80)
        ctx = lognorm(rng, 6000, 0.4, 2000, 20000)
        for _ in range(calls):
            ag.wait(t)
            yield t
            body = c.chat_body([(b"system", c.slice(rng, 2000)), (b"user", c.slice(rng, ctx))],
                               4096, True, 0.2)
            ctoks = int(lognorm(rng, 180, 0.9, 10, 4096))
            t = ag.call(t, "POST", "/v1/chat/completions", body,
                        chat_answer(w, t, rng, len(body) // 4, ctoks, True))
            ctx = min(60000, ctx + 4 * ctoks + lognorm(rng, 800, 1.0, 50, 8000))
            t += lognorm(rng, 4.0, 0.9, 0.3, 120.0)
        t = next_arrival(w, rng, t + 300, per_day * 3, curve_office)
    ag.close(False)


def outflow_heavy(w, cl, rng):
    """Long completions one after another at a low request rate: five
    workers, short prompts, answers of thousands of tokens, streamed as
    the SDKs do (16 tokens' events a write: a server busy with long
    generations), from a quarter of the span."""
    key = _key(rng)
    style = style_openai("python")
    rtt = lognorm(rng, 0.030, 0.5, 0.005, 0.2)
    at = 0.25 * w.span
    cl.params.update(workers=5, completion_median=2000, onset=round(at, 1), tokens_per_write=16)
    return [extractor_worker(w, sub, Agent(w.sim, cl, sub, rtt, style, key),
                             at + sub.uniform(0, 20), w.span, 400, 2000, 4096,
                             lambda r: r.uniform(0.5, 3.0), stream=True, per_write=16)
            for sub in [random.Random(rng.random()) for _ in range(5)]]


def jitter_member(w, cl, rng, win, med, sigma):
    """A hydra member that spaces its requests like a person (lognormal)."""
    a, b = win
    key = _key(rng)
    style = style_openai("python")
    ag = Agent(w.sim, cl, rng, lognorm(rng, 0.060, 0.5, 0.01, 0.3), style, key)
    t = a + rng.uniform(0, 60)
    cl.params.update(interval_median_s=med, window=[round(a, 1), round(b, 1)])
    cl.gap = math.inf
    while t < b:
        ag.wait(t)
        yield t
        body = w.c.chat_body([(b"user", w.c.slice(rng, lognorm(rng, 700, 0.7, 120, 6000)))],
                             1024, False, 0.8)
        ctoks = int(lognorm(rng, 450, 0.5, 16, 1024))
        t = ag.call(t, "POST", "/v1/chat/completions", body,
                    chat_answer(w, t, rng, len(body) // 4, ctoks, False))
        t += lognorm(rng, med, sigma, 5, 3600)
    ag.close(True)


def rotating(w, clients, rng, start):
    """Six workers, each pulling from one address of a /24 for 2-8 minutes
    (about 8 requests a minute), then moving to the next unused one."""
    key = _key(rng)
    style = style_plain("python-httpx/0.27.2", "application/json")
    pool = list(clients)
    rng.shuffle(pool)

    def worker(sub):
        t = start + sub.uniform(0, 30)
        while t < w.span and pool:
            cl = pool.pop()
            cl.gap = math.inf
            ag = Agent(w.sim, cl, sub, lognorm(sub, 0.05, 0.5, 0.01, 0.3), style, key)
            until = t + sub.uniform(120, 480)
            while t < min(until, w.span):
                ag.wait(t)
                yield t
                body = w.c.chat_body([(b"user", w.c.slice(sub, lognorm(sub, 900, 0.7, 120,
                                                                          7600)))],
                                     1024, False, 0.8)
                ctoks = int(lognorm(sub, 450, 0.5, 16, 1024))
                t = ag.call(t, "POST", "/v1/chat/completions", body,
                            chat_answer(w, t, sub, len(body) // 4, ctoks, False))
                t += sub.uniform(4, 11)
            ag.close(True)
            t += sub.uniform(1, 10)

    return [worker(random.Random(rng.random())) for _ in range(6)]


POP_BENIGN = ("campus", "office", "cgnat", "proxy", "heavy")
POP_EXTRACTORS = ("outflow", "high-rate", "hydra-jitter", "rotating", "slow-hydra",
                  "low-slow", "surge")


def build_pop(w, args, rng, add, clients, sim, extractors):
    """The operators' populations, and the extractors named."""
    scale = args.pop_scale

    def v4_in(net, i):
        return str(ipaddress.IPv4Network(net)[i])

    def fixed(addr, label, pattern=None, group=None, prefix=None):
        """A client; a benign one's population goes to its params."""
        pop = None
        if label != "extractor":
            pop, pattern = pattern, None
        cl = Client(sim, addr, label, pattern, group, prefix,
                    rng=random.Random("%d/%s" % (args.seed, addr)))
        if pop:
            cl.params["population"] = pop
        clients.append(cl)
        return cl

    actors = []
    # campus and office: a /24 each, 50-300 people on its hosts
    for net, label, curve, n_lo, n_hi, per_day, think in (
            ("198.18.210.0/24", "campus", curve_campus, 50, 300, 1.5, 35.0),
            ("198.18.211.0/24", "office", curve_office, 50, 300, 2.5, 45.0)):
        npeople = int(rng.randint(n_lo, n_hi) * scale) or 1
        hosts = [fixed(v4_in(net, h), "benign", label) for h in range(10, 10 + min(npeople, 240))]
        for i in range(npeople):
            cl = hosts[i % len(hosts)]
            sub = random.Random("%d/%s/%d" % (args.seed, label, i))
            actors.append(chat_person(w, sub, lambda t, cl=cl: cl, curve,
                                      lognorm(sub, per_day, 0.8, 0.3, 20), 1.8, 0.75, think))
    # carrier-grade NAT: thousands of phones over 198.19.0.0/16 (below the
    # hydras' 198.19.200.0/21): each session from an address of the pool
    pool = {}

    def nat_client(sub):
        def get(t):
            n = sub.randint(0, 199 * 256 - 1)
            a = "198.19.%d.%d" % (n // 256, n % 256 if n % 256 not in (0, 255) else 1)
            if a not in pool:
                pool[a] = fixed(a, "benign", "cgnat")
            return pool[a]
        return get

    for i in range(int(2500 * scale) or 1):
        sub = random.Random("%d/cgnat/%d" % (args.seed, i))
        actors.append(chat_person(w, sub, nat_client(sub), curve_mobile,
                                  lognorm(sub, 0.8, 0.9, 0.1, 10), 1.2, 0.85, 20.0,
                                  mobile=True))
    # a corporate proxy: hundreds of people behind one address
    proxy = fixed("198.18.212.1", "benign", "proxy")
    for i in range(int(rng.randint(150, 400) * scale) or 1):
        sub = random.Random("%d/proxy/%d" % (args.seed, i))
        actors.append(chat_person(w, sub, lambda t: proxy, curve_office,
                                  lognorm(sub, 2.0, 0.8, 0.3, 20), 1.8, 0.7, 45.0))
    # heavy users: coding agents, app integrations, the allow-listed batch job
    for i in range(max(1, int(12 * scale))):
        cl = fixed(w_addr(rng, "198.18.213.0/24", i), "benign", "coding-agent")
        actors.append(coding_agent(w, cl, random.Random("%d/agent/%d" % (args.seed, i))))
    for i in range(2):
        cl = fixed("198.18.3.%d" % (20 + i), "integration", None)
        actors.extend(integration(w, cl, random.Random("%d/integ/%d" % (args.seed, i))))
    cl = fixed("198.18.2.20", "eval", None)
    actors.extend(eval_job(w, cl, random.Random("%d/eval" % args.seed)))

    # the extractors
    for x in extractors:
        sub = random.Random("%d/x/%s" % (args.seed, x))
        if x in ("outflow", "high-rate", "low-slow", "surge"):
            cl = fixed(w_addr(rng, "198.18.220.0/24", POP_EXTRACTORS.index(x)), "extractor", x)
            fn = {"outflow": outflow_heavy, "high-rate": high_rate, "low-slow": low_slow,
                  "surge": surge}[x]
            acts = fn(w, cl, sub)
            actors.extend(acts if isinstance(acts, list) else [acts])
        elif x == "hydra-jitter":
            net = "198.19.201.0/24"
            win = windows_of(w, [(0.35, 0.8)])[0]
            for h in sub.sample(range(1, 255), 40):
                cl = fixed(v4_in(net, h), "extractor", "hydra", "hydra-jitter", net)
                actors.append(jitter_member(w, cl, random.Random(sub.random()), win, 150.0, 0.9))
        elif x == "slow-hydra":
            net = "198.19.202.0/24"
            win = windows_of(w, [(0.1, 1.0)])[0]
            for h in sub.sample(range(1, 255), 60):
                cl = fixed(v4_in(net, h), "extractor", "hydra", "slow-hydra", net)
                actors.append(jitter_member(w, cl, random.Random(sub.random()), win, 600.0, 0.5))
        elif x == "rotating":
            net = "198.19.203.0/24"
            members = [fixed(v4_in(net, h), "extractor", "hydra", "rotating", net)
                       for h in range(1, 255)]
            actors.extend(rotating(w, members, sub, 0.2 * w.span))
    return actors


def w_addr(rng, net, i):
    return str(ipaddress.IPv4Network(net)[10 + i])


# --- addresses --------------------------------------------------------------

class Addresses:
    """Unique client addresses: benign and single extractors anywhere in
    198.18.16.0 - 198.19.199.255 or fd00:b::/32; eval and integration in
    198.18.2.0/24 and 198.18.3.0/24; hydras in 198.19.200.0/21 (one /24
    each) and fd00:6::/32 (one /64 or /48 each)."""

    def __init__(self, rng):
        self.rng = rng
        self.used = {SERVER4, SERVER6}
        self.nhydra4 = 0
        self.nhydra6 = 0

    def _take(self, a):
        if a in self.used:
            return None
        self.used.add(a)
        return a

    def v4(self, lo="198.18.16.0", hi="198.19.199.255"):
        lo = int(ipaddress.IPv4Address(lo))
        hi = int(ipaddress.IPv4Address(hi))
        while True:
            n = self.rng.randint(lo, hi)
            if n & 0xFF in (0, 255):
                continue
            a = self._take(str(ipaddress.IPv4Address(n)))
            if a:
                return a

    def v6(self):
        while True:
            n = (0xFD00000B << 96) | self.rng.getrandbits(96)
            a = self._take(str(ipaddress.IPv6Address(n)))
            if a:
                return a

    def client(self, v6_share):
        return self.v6() if self.rng.random() < v6_share else self.v4()

    def hydra4(self, n):
        net = ipaddress.IPv4Network("198.19.%d.0/24" % (200 + self.nhydra4))
        self.nhydra4 += 1
        hosts = self.rng.sample(range(1, 255), n)
        return str(net), [self._take(str(net[h])) for h in hosts]

    def hydra6(self, n, plen):
        k = self.nhydra6
        self.nhydra6 += 1
        if plen == 64:
            net = ipaddress.IPv6Network("fd00:6:%x:1::/64" % (k + 1))
            iids = []
            while len(iids) < n:
                i = self.rng.getrandbits(64)
                if i not in iids:
                    iids.append(i)
            return str(net), [self._take(str(net[i])) for i in iids]
        net = ipaddress.IPv6Network("fd00:6:%x::/48" % (k + 1))
        subs = self.rng.sample(range(1, 65536), n)
        return str(net), [self._take(str(net[(s << 64) | self.rng.getrandbits(64)]))
                          for s in subs]


# --- scenarios --------------------------------------------------------------

SCENARIOS = {
    "mixed-day": "every pattern (high-rate, an IPv4 hydra, an IPv6 hydra, low-slow, surge, "
                 "ratio) among benign chat users, an evaluation job and an integration",
    "benign": "benign chat users, the evaluation job and the integration: no extractor",
    "high-rate": "one address pulling at high rate around the clock, benign background",
    "hydra": "an IPv4 hydra (one /24) that starts and stops together, benign background",
    "hydra-v6": "two IPv6 hydras, one in a /64 and one spread over a /48, benign background",
    "low-slow": "one client just under its limits, 24/7, machine-regular, benign background",
    "surge": "one client whose volume jumps 20x at 55% of the span, benign background",
    "ratio": "one client with long completions to short prompts, benign background",
}
for _x in POP_EXTRACTORS:
    SCENARIOS["pop-" + _x] = ("the operators' populations (campus, office, carrier-grade NAT, "
                              "corporate proxy, heavy users) and one %s extractor" % _x)
SCENARIOS["pop-benign"] = "the operators' populations alone: no extractor"
SCENARIOS["pop-mixed"] = "the operators' populations and every extractor of the pop-* scenarios"
DEFAULT_CLIENTS = {"mixed-day": 400}
V6_SHARE = 0.2          # benign and single extractors on IPv6


def plan(name, n):
    """[(population, pattern, group spec)] for n clients."""
    singles = {"high-rate": ["high-rate"], "low-slow": ["low-slow"], "surge": ["surge"],
               "ratio": ["ratio"], "benign": [], "hydra": [], "hydra-v6": [],
               "mixed-day": ["high-rate", "low-slow", "surge", "ratio"]}[name]
    hydras = []
    if name == "hydra":
        hydras = [("v4", round(0.4 * n))]
    elif name == "hydra-v6":
        hydras = [("v6-64", round(0.25 * n)), ("v6-48", round(0.25 * n))]
    elif name == "mixed-day":
        hydras = [("v4", round(0.25 * n)), ("v6-64", round(0.15 * n))]
    hydras = [(k, max(2, min(254 if k == "v4" else 500, m))) for k, m in hydras]
    fixed = 2 + len(singles) + sum(m for _, m in hydras)
    if n < fixed + 1:
        raise SystemExit("scenario %s needs --clients of at least %d" % (name, fixed + 1))
    return singles, hydras, n - fixed


def build(args):
    rng = random.Random("penstock-scenario/%s/%d" % (args.scenario, args.seed))
    epoch = args.start_epoch
    span = args.hours * 3600.0
    sim = Sim(args.out, epoch)
    w = World(sim, Content(), epoch, span, {"rpm": args.limit_rpm, "rpd": args.limit_rpd})
    addrs = Addresses(rng)
    clients = []
    actors = []
    if args.scenario.startswith("pop-"):
        x = args.scenario[4:]
        xs = list(POP_EXTRACTORS) if x == "mixed" else [] if x == "benign" else [x]
        actors = build_pop(w, args, rng, None, clients, sim, xs)
        for a in actors:
            sim.spawn(a)
        t0 = time.monotonic()
        sim.run()
        return sim, clients, time.monotonic() - t0
    n = args.clients or DEFAULT_CLIENTS.get(args.scenario, 200)
    singles, hydras, nbenign = plan(args.scenario, n)

    def add(addr, label, pattern, fn, group=None, prefix=None):
        sub = random.Random("%d/%s" % (args.seed, addr))
        cl = Client(sim, addr, label, pattern, group, prefix, rng=sub)
        clients.append(cl)
        acts = fn(w, cl, sub)
        actors.extend(acts if isinstance(acts, list) else [acts])
        return cl

    add(addrs.v4("198.18.2.1", "198.18.2.254"), "eval", None, eval_job)
    add(addrs.v4("198.18.3.1", "198.18.3.254"), "integration", None, integration)
    pat_fn = {"high-rate": high_rate, "low-slow": low_slow, "surge": surge, "ratio": ratio}
    for p in singles:
        add(addrs.client(V6_SHARE), "extractor", p, pat_fn[p])
    for gi, (kind, m) in enumerate(hydras):
        if kind == "v4":
            prefix, members = addrs.hydra4(m)
        else:
            prefix, members = addrs.hydra6(m, 64 if kind == "v6-64" else 48)
        win = windows_of(w, [HYDRA_WINDOW])[0]
        for a in members:
            add(a, "extractor", "hydra",
                lambda w_, cl, sub: hydra_member(w_, cl, sub, win),
                group="hydra-%d" % (gi + 1), prefix=prefix)
    for _ in range(nbenign):
        add(addrs.client(V6_SHARE), "benign", None, benign_user)

    for a in actors:
        sim.spawn(a)
    t0 = time.monotonic()
    sim.run()
    elapsed = time.monotonic() - t0
    return sim, clients, elapsed


def rfc3339(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def write_labels(args, sim, clients):
    order = {"extractor": 0, "eval": 1, "integration": 2, "benign": 3}
    out = []
    for cl in clients:
        exp = dict(zip(FIELDS, cl.st))
        out.append({
            "client": cl.addr,
            "label": cl.label,
            "pattern": cl.pattern,
            "group": cl.group,
            "prefix": cl.prefix,
            "active": [[math.floor(a * 10) / 10, math.ceil(b * 10) / 10] for a, b in cl.active],
            "requests": cl.st[REQS],
            "expected": exp,
            "params": cl.params,
        })
    out.sort(key=lambda c: (order[c["label"]], c["pattern"] or "", c["group"] or "",
                            ipaddress.ip_address(c["client"]).version,
                            ipaddress.ip_address(c["client"])))
    groups = {}
    for c in out:
        if c["group"]:
            g = groups.setdefault(c["group"], {"group": c["group"], "prefix": c["prefix"],
                                               "members": 0, "requests": 0})
            g["members"] += 1
            g["requests"] += c["requests"]
    doc = {
        "scenario": args.scenario,
        "seed": args.seed,
        "start": rfc3339(args.start_epoch),
        "hours": args.hours,
        "server": {"ipv4": SERVER4, "ipv6": SERVER6, "port": PORT},
        "limits": {"requests_per_minute": args.limit_rpm, "requests_per_day": args.limit_rpd},
        "packets": sim.packets,
        "last_packet": rfc3339(sim.last_us / 1e6 + args.start_epoch)
        if sim.packets else None,
        "groups": list(groups.values()),
        "eval_clients": [c["client"] for c in out if c["label"] == "eval"],
        "clients": out,
    }
    tmp = args.labels + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, args.labels)


def parse_start(s):
    try:
        d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError("not an RFC 3339 time: %r" % s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.timestamp()


def main():
    ap = argparse.ArgumentParser(
        description="Write a synthetic capture of inference traffic and its labels.",
        epilog="example: tools/scenario.py --scenario mixed-day --out day.pcap "
               "--labels day.json --seed 1")
    ap.add_argument("--scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--out", help="the capture to write (pcap)")
    ap.add_argument("--labels", help="the labels to write (JSON)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--clients", type=int, default=0,
                    help="client addresses (default 400 for mixed-day, 200 otherwise)")
    ap.add_argument("--start", type=parse_start, default=parse_start("2025-03-03T00:00:00Z"),
                    help="RFC 3339 time of the capture's start (default 2025-03-03T00:00:00Z)")
    ap.add_argument("--limit-rpm", type=int, default=60,
                    help="per-client requests/minute the low-slow client stays under (60)")
    ap.add_argument("--limit-rpd", type=int, default=20000,
                    help="per-client requests/day the low-slow client stays under (20000)")
    ap.add_argument("--pop-scale", type=float, default=1.0,
                    help="pop-* scenarios: people in each population times this (1.0)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()
    if args.list:
        for k in sorted(SCENARIOS):
            print("%-16s %s" % (k, SCENARIOS[k]))
        return 0
    if not (args.scenario and args.out and args.labels):
        ap.error("--scenario, --out and --labels are needed")
    if not 0 < args.hours <= 24 * 14:
        ap.error("--hours must be above 0 and at most 336")
    if args.clients < 0:
        ap.error("--clients must be positive")
    args.start_epoch = args.start
    sim, clients, elapsed = build(args)
    write_labels(args, sim, clients)
    if not args.quiet:
        reqs = sum(c.st[REQS] for c in clients)
        sys.stderr.write("scenario.py: %s: %d clients, %d requests, %d packets, %.1f MB in %.1f s\n"
                         % (args.scenario, len(clients), reqs, sim.packets,
                            os.path.getsize(args.out) / 1e6, elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
