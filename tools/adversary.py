#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Adversarial inference clients: each chooses its own segmentation to try
to get past penstock's per-client request limit, or to go uncounted.

Usage:
  adversary.py --mode MODE --dst ADDR [--port 8000] [--src ADDR]
               [--seconds S] [--grace S] [--seed N] [--conns N]
               [--pipeline K] [--pause S]

Every mode sends POST /v1/chat/completions (a small JSON body, so that the
answer is short) for --seconds, reads every answer, and prints one JSON
object at the end:

  {"mode": ..., "ok": answers 200, "bad": other answers, "sent": requests
   written, "unanswered": requests written but never answered (the
   connection was given up --grace seconds after the end), "errors": ...}

Modes (TCP_NODELAY and short pauses make the segments on the wire the ones
the mode intends; tests/e2e/test_adversarial checks it with tcpdump):

  plain        http.client keep-alive loop: the header block and the JSON
               body in two sends, as http.client makes them
  first-byte   each request's first byte in a segment of its own, a pause,
               then the rest; then the answer is read
  bytewise     the request line cut into 1-byte segments, then the rest
  random-cuts  each request cut at 2-4 random offsets (--seed), over
               --conns connections (default 2) at once
  pipeline     --pipeline K requests (default 16) in one send, then K answers
  hdr-body     header block and body as separate segments; every other
               request the body segment starts inside the header block (it
               overlaps its last bytes). Raw TCP (see raw-ooo)
  raw-ooo      a raw-socket TCP client (scapy builds the packets) with its
               own handshake, retransmission timer and fast retransmit,
               cycling through (--variant picks one): ooo, a request's
               three pieces sent last first; hole, a hole left open 300 ms
               before the first piece fills it; behind, a request's header
               segment followed at once by its body and two more requests
               pipelined behind it, so that when the header segment is held
               back the rest waits beyond the hole; two-holes, four pieces
               sent 1, 3, 2, 0 (two disjoint out-of-order ranges at once)
  many-conns   the plain loop over --conns connections (default 16) at once

HTTP/2 cleartext by prior knowledge (python3-h2 keeps the connection's state;
the mode cuts what it sends), one stream at a time unless said:

  h2-plain         a request's HEADERS and DATA frames in one send
  h2-streams       --pipeline K requests (K streams at once) in one send
  h2-bytewise      each HEADERS frame in 1-byte segments, then its DATA
  h2-continuation  each header block cut into a HEADERS frame (PADDED and
                   PRIORITY set) and CONTINUATION frames of 8 bytes of block,
                   a segment each
  h2-churn         two large header fields of fresh values on every request,
                   indexed, so that the HPACK dynamic table keeps evicting
                   its entries, the :path's among them
  h2-key-trailers  on each connection a first request without a key whose
                   trailers carry `x-api-key: KEY` (--key-file), which
                   python3-h2 inserts into the HPACK dynamic table; every
                   later request carries the same field, which python3-h2
                   then sends as an index to that entry. "ok", "sent" and
                   the rest are the later requests'; "first_ok" and
                   "first_sent" the keyless first ones'

raw-ooo and hdr-body send from --src with source ports 61000-64999 through
raw sockets: the kernel of the client host knows nothing of these
connections and answers the server's packets with RSTs, which must be
dropped there (tests/e2e/test_adversarial adds an nftables rule in the
client namespace only). They need root and python3-scapy.

Python 3 standard library, plus scapy for the raw modes and python3-h2 for
the HTTP/2 ones.
"""

import argparse
import ctypes
import http.client
import json
import random
import select
import socket
import struct
import sys
import threading
import time

PATH = "/v1/chat/completions"


def body_bytes(i):
    return json.dumps({"model": "m", "max_tokens": 8,
                       "messages": [{"role": "user", "content": "go %d" % i}]}).encode()


def request_bytes(host, i):
    """One request as http.client would write it: header block, body."""
    body = body_bytes(i)
    head = ("POST %s HTTP/1.1\r\nHost: %s:8000\r\nAccept-Encoding: identity\r\n"
            "Content-Length: %d\r\nContent-Type: application/json\r\n\r\n"
            % (PATH, host, len(body))).encode()
    return head, body


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.v = {"ok": 0, "bad": 0, "sent": 0, "unanswered": 0, "errors": 0}

    def add(self, k, n=1):
        with self.lock:
            self.v[k] = self.v.get(k, 0) + n


class Clock:
    def __init__(self, seconds, grace):
        self.end = time.monotonic() + seconds
        self.hard = self.end + grace

    def running(self):
        return time.monotonic() < self.end

    def left(self):
        """Seconds an operation in flight may still wait."""
        return max(0.05, self.hard - time.monotonic())


# --- kernel-socket modes ----------------------------------------------------------

class Reader:
    """Reads HTTP/1.1 answers (Content-Length or chunked) off a socket."""

    def __init__(self, sock, clock):
        self.s = sock
        self.clock = clock
        self.buf = b""

    def _more(self):
        self.s.settimeout(self.clock.left())
        # No delayed ACK: the server's answer comes in two writes, and
        # with Nagle on its side the second waits for our ACK of the first.
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        d = self.s.recv(65536)
        if not d:
            raise ConnectionError("closed by the server")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._more()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def answer(self):
        """The next answer's status."""
        status = int(self._line().split()[1])
        clen, chunked = None, False
        while True:
            line = self._line()
            if not line:
                break
            k, _, v = line.partition(b":")
            k = k.strip().lower()
            if k == b"content-length":
                clen = int(v)
            elif k == b"transfer-encoding" and b"chunked" in v.lower():
                chunked = True
        if chunked:
            while True:
                n = int(self._line().split(b";")[0], 16)
                self._take(n + 2 if n else 0)
                if not n:
                    while self._line():
                        pass
                    break
        elif clen:
            self._take(clen)
        return status


def connect(a, clock):
    fam = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if a.src:
        s.bind((a.src, 0))
    s.settimeout(clock.left())
    s.connect((a.dst, a.port))
    return s


def run_cuts(a, st, clock, cutter, k=1, seed=0):
    """One connection: requests cut into pieces by cutter(req, rng), each
    piece sent on its own after a pause; k requests per round."""
    rng = random.Random(seed)
    i = 0
    s = rd = None
    try:
        s = connect(a, clock)
        rd = Reader(s, clock)
        while clock.running():
            data = b""
            for _ in range(k):
                head, body = request_bytes(a.dst, i)
                i += 1
                data += head + body
            pieces = cutter(data, rng)
            for n, p in enumerate(pieces):
                if n:
                    time.sleep(a.pause)
                s.settimeout(clock.left())
                s.sendall(p)
            st.add("sent", k)
            for got in range(k):
                try:
                    code = rd.answer()
                except (OSError, ConnectionError, ValueError):
                    st.add("unanswered", k - got)
                    raise
                st.add("ok" if code == 200 else "bad")
    except (OSError, ConnectionError, ValueError) as e:
        if clock.running() or not isinstance(e, socket.timeout):
            st.add("errors")
            sys.stderr.write("%s: %s\n" % (a.mode, e))
    finally:
        if s:
            s.close()


def cut_first_byte(data, rng):
    return [data[:1], data[1:]]


def cut_bytewise(data, rng):
    eol = data.index(b"\r\n") + 2
    return [data[i:i + 1] for i in range(eol)] + [data[eol:]]


def cut_random(data, rng):
    n = rng.randint(2, 4)
    offs = sorted(rng.sample(range(1, len(data)), n))
    return [data[x:y] for x, y in zip([0] + offs, offs + [len(data)])]


def cut_none(data, rng):
    return [data]


def run_plain(a, st, clock, seed=0):
    """http.client: header block, then body (two sends), keep-alive."""
    conn = None
    i = seed * 1000000
    try:
        conn = http.client.HTTPConnection(a.dst, a.port, timeout=clock.left(),
                                          source_address=(a.src, 0) if a.src else None)
        while clock.running():
            head, body = request_bytes(a.dst, i)
            i += 1
            conn.timeout = clock.left()
            if conn.sock:
                conn.sock.settimeout(clock.left())
            conn.request("POST", PATH, body.decode(), {"Content-Type": "application/json"})
            st.add("sent")
            try:
                r = conn.getresponse()
                r.read()
            except (OSError, http.client.HTTPException):
                st.add("unanswered")
                raise
            st.add("ok" if r.status == 200 else "bad")
    except (OSError, http.client.HTTPException) as e:
        if clock.running() or not isinstance(e, socket.timeout):
            st.add("errors")
            sys.stderr.write("%s: %s\n" % (a.mode, e))
    finally:
        if conn:
            conn.close()


def threads(n, fn):
    ts = [threading.Thread(target=fn, args=(j,), daemon=True) for j in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


# --- HTTP/2 cleartext ----------------------------------------------------------------

H2_MODES = ("h2-plain", "h2-streams", "h2-bytewise", "h2-continuation", "h2-churn",
            "h2-key-trailers")


def h2_frames(data):
    """Split bytes of whole HTTP/2 frames into (type, flags, stream, frame bytes)."""
    out = []
    while len(data) >= 9:
        n = int.from_bytes(data[:3], "big")
        out.append((data[3], data[4], int.from_bytes(data[5:9], "big") & 0x7fffffff,
                    data[:9 + n]))
        data = data[9 + n:]
    if data:
        raise ValueError("a frame cut short in the client's own output")
    return out


def h2_frame(ftype, flags, sid, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


def h2_continuations(frame, size):
    """A HEADERS frame (as python3-h2 writes it: no padding, no priority)
    rewritten as a HEADERS frame with PADDED and PRIORITY set (7 bytes of
    padding, a dependency on stream 0 of weight 16) and CONTINUATION frames,
    at most size bytes of header block in each."""
    flags, sid, block = frame[4], int.from_bytes(frame[5:9], "big"), frame[9:]
    parts = [block[i:i + size] for i in range(0, len(block), size)] or [b""]
    out = []
    for j, part in enumerate(parts):
        last = j == len(parts) - 1
        if j == 0:
            f = (flags & ~0x4) | (0x4 if last else 0) | 0x8 | 0x20
            out.append(h2_frame(0x1, f, sid, bytes([7]) + bytes(4) + bytes([15]) +
                                part + bytes(7)))
        else:
            out.append(h2_frame(0x9, 0x4 if last else 0, sid, part))
    return out


class H2Client:
    """An h2c client by prior knowledge (python3-h2 keeps the connection's
    state: HPACK, flow control, settings); the caller cuts what it sends."""

    def __init__(self, a, clock):
        import h2.config
        import h2.connection
        import h2.events
        import h2.exceptions
        self.ev = h2.events
        self.h2err = h2.exceptions.H2Error
        self.a, self.clock = a, clock
        self.s = connect(a, clock)
        self.c = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.c.initiate_connection()
        self.c.increment_flow_control_window(1 << 30)
        self.s.sendall(self.c.data_to_send())
        self.status = {}
        self.ended = set()

    def request(self, i, extra=(), trailers=()):
        """Queues one POST (its trailers after its body, if any); returns its stream id."""
        sid = self.c.get_next_available_stream_id()
        body = body_bytes(i)
        host = ("[%s]" % self.a.dst) if ":" in self.a.dst else self.a.dst
        self.c.send_headers(sid, [
            (b":method", b"POST"), (b":scheme", b"http"),
            (b":authority", ("%s:%d" % (host, self.a.port)).encode()),
            (b":path", PATH.encode()), (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode())] + list(extra))
        self.c.send_data(sid, body, end_stream=not trailers)
        if trailers:
            self.c.send_headers(sid, list(trailers), end_stream=True)
        return sid

    def send(self, pieces):
        for n, p in enumerate(pieces):
            if n:
                time.sleep(self.a.pause)
            self.s.settimeout(self.clock.left())
            self.s.sendall(p)

    def wait(self, sids):
        """Reads until every stream in sids has ended; returns their statuses."""
        want = set(sids)
        while not want <= self.ended:
            self.s.settimeout(self.clock.left())
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed by the server")
            try:
                events = self.c.receive_data(d)
            except self.h2err as e:	# frames after a GOAWAY, say
                raise ConnectionError("HTTP/2: %s" % e)
            for e in events:
                if isinstance(e, self.ev.ResponseReceived):
                    self.status[e.stream_id] = int(dict(e.headers)[b":status"])
                elif isinstance(e, self.ev.DataReceived):
                    self.c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                elif isinstance(e, (self.ev.StreamEnded, self.ev.StreamReset)):
                    self.ended.add(e.stream_id)
                elif isinstance(e, self.ev.ConnectionTerminated):
                    raise ConnectionError("GOAWAY from the server")
            out = self.c.data_to_send()
            if out:
                self.s.sendall(out)
        return [self.status.get(x, 0) for x in sids]

    def close(self):
        self.s.close()


def run_h2(a, st, clock):
    """One h2c connection at a time (a new one after a GOAWAY or an error).
      h2-plain         a request's HEADERS and DATA in one send
      h2-streams       --pipeline K requests (K streams) in one send
      h2-bytewise      the HEADERS frame in 1-byte segments, then its DATA
      h2-continuation  the header block in a HEADERS frame (padded, with a
                       priority) and CONTINUATION frames of 8 bytes of block
                       each, a segment each
      h2-churn         two large header fields of fresh values on every
                       request, indexed, so that the HPACK dynamic table
                       keeps evicting (the :path's entry with the rest)"""
    rng = random.Random(a.seed)
    i = 0
    k = a.pipeline if a.mode == "h2-streams" else 1
    while clock.running():
        cl = None
        try:
            cl = H2Client(a, clock)
            if a.mode == "h2-key-trailers":
                # The key into the table by the first request's trailers.
                key = [(b"x-api-key", a.key)]
                sid = cl.request(i, trailers=key)
                i += 1
                cl.send([cl.c.data_to_send()])
                st.add("first_sent")
                if cl.wait([sid]) == [200]:
                    st.add("first_ok")
            while clock.running():
                extra = [(b"x-api-key", a.key)] if a.mode == "h2-key-trailers" else ()
                if a.mode == "h2-churn":
                    extra = [(b"x-pad-%d" % j, ("%x" % rng.getrandbits(4 * rng.randint(300, 1200))).encode())
                             for j in range(2)]
                sids = [cl.request(i + j, extra) for j in range(k)]
                i += k
                data = cl.c.data_to_send()
                if a.mode == "h2-bytewise":
                    pieces = []
                    for t, _, _, f in h2_frames(data):
                        pieces += [f[x:x + 1] for x in range(len(f))] if t == 0x1 else [f]
                elif a.mode == "h2-continuation":
                    pieces = []
                    for t, _, _, f in h2_frames(data):
                        pieces += h2_continuations(f, 8) if t == 0x1 else [f]
                else:
                    pieces = [data]
                cl.send(pieces)
                st.add("sent", k)
                try:
                    codes = cl.wait(sids)
                except (OSError, ConnectionError, ValueError):
                    st.add("unanswered", len(set(sids) - cl.ended))
                    for x in set(sids) & cl.ended:
                        st.add("ok" if cl.status.get(x) == 200 else "bad")
                    raise
                for code in codes:
                    st.add("ok" if code == 200 else "bad")
        except (OSError, ConnectionError, ValueError) as e:
            if clock.running() or not isinstance(e, socket.timeout):
                st.add("errors")
                sys.stderr.write("%s: %s\n" % (a.mode, e))
                time.sleep(0.2)
        finally:
            if cl:
                cl.close()


# --- raw TCP ------------------------------------------------------------------------

def after(a, b):
    """Sequence number a is after b."""
    return 0 < ((a - b) & 0xffffffff) < 1 << 31


class RawTCP:
    """A small TCP client on raw sockets: handshake, a retransmission timer
    (200 ms, doubling, as Linux), fast retransmit on the third duplicate
    ACK, in-order receive, an ACK for every data segment. Segments are
    retransmitted as they were first cut (an overlapping one included)."""

    RTO0, RTO_MAX = 0.2, 6.4

    def __init__(self, src, dst, port, sport):
        from scapy.all import IP, TCP  # noqa: F401  (import cost paid once)
        self.IP, self.TCP = IP, TCP
        self.src, self.dst, self.port, self.sport = src, dst, port, sport
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._filter()
        self.isn = random.getrandbits(32)
        self.una = self.nxt = (self.isn + 1) & 0xffffffff
        self.rcv_nxt = None
        self.segs = []		# [seq, data] not yet acknowledged, in seq order
        self.inbox = b""
        self.rto = self.RTO0
        self.timer = None
        self.dupacks = 0
        self.fin = False

    def _filter(self):
        """A classic BPF filter on the raw socket: only this connection's
        packets from the server (the namespace's other TCP is not ours)."""
        ip = struct.unpack("!I", socket.inet_aton(self.dst))[0]
        me = struct.unpack("!I", socket.inet_aton(self.src))[0]
        prog = [(0x20, 0, 0, 12),		# ld [12]: source address
                (0x15, 0, 7, ip),
                (0x20, 0, 0, 16),		# ld [16]: destination address
                (0x15, 0, 5, me),
                (0xb1, 0, 0, 0),		# ldxb 4 * ([0] & 0xf)
                (0x48, 0, 0, 0),		# ldh [x + 0]: source port
                (0x15, 0, 2, self.port),
                (0x48, 0, 0, 2),		# ldh [x + 2]: destination port
                (0x15, 1, 0, self.sport),
                (0x06, 0, 0, 0),
                (0x06, 0, 0, 0xffff)]
        self._prog = ctypes.create_string_buffer(
            b"".join(struct.pack("HBBI", *i) for i in prog))
        fprog = struct.pack("HL", len(prog), ctypes.addressof(self._prog))
        self.rx.setsockopt(socket.SOL_SOCKET, 26, fprog)	# SO_ATTACH_FILTER
        while True:		# what came in before the filter
            r, _, _ = select.select([self.rx], [], [], 0)
            if not r:
                break
            self.rx.recv(65536)

    def close(self):
        self.tx.close()
        self.rx.close()

    def _emit(self, flags, seq, data=b""):
        pkt = self.IP(src=self.src, dst=self.dst) / self.TCP(
            sport=self.sport, dport=self.port, flags=flags, seq=seq,
            ack=self.rcv_nxt or 0, window=65535,
            options=[("MSS", 1460)] if flags == "S" else [])
        if data:
            pkt = pkt / data
        self.tx.sendto(bytes(pkt), (self.dst, 0))

    def _recv(self, until):
        """Handle the server's packets until the deadline; returns on the
        first one handled."""
        while True:
            t = until - time.monotonic()
            if t <= 0:
                return False
            r, _, _ = select.select([self.rx], [], [], min(t, 0.05))
            self._timers()
            if not r:
                continue
            pkt = self.rx.recv(65536)
            ihl = (pkt[0] & 15) * 4
            if (pkt[12:16] != socket.inet_aton(self.dst) or
                    pkt[16:20] != socket.inet_aton(self.src) or len(pkt) < ihl + 20):
                continue
            sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", pkt[ihl:ihl + 14])
            if sport != self.port or dport != self.sport:
                continue
            data = pkt[ihl + (off >> 4) * 4:struct.unpack("!H", pkt[2:4])[0]]
            self._segment(seq, ack, flags, data)
            self._timers()
            return True

    def _segment(self, seq, ack, flags, data):
        if flags & 0x04:
            raise ConnectionError("reset by the server")
        if flags & 0x02:		# SYN-ACK
            self.rcv_nxt = (seq + 1) & 0xffffffff
            self.una = ack
            return
        if self.rcv_nxt is None:
            return
        if flags & 0x10:
            if after(ack, self.una):
                self.una = ack
                self.segs = [s for s in self.segs if after(s[0] + len(s[1]), ack)]
                self.rto = self.RTO0
                self.timer = time.monotonic() + self.rto if self.segs else None
                self.dupacks = 0
            elif ack == self.una and self.segs and not data:
                self.dupacks += 1
                if self.dupacks == 3:
                    self._retransmit(first_only=True)
        if data:
            if seq == self.rcv_nxt:
                self.inbox += data
                self.rcv_nxt = (self.rcv_nxt + len(data)) & 0xffffffff
            self._emit("A", self.nxt)
        if flags & 0x01 and seq + len(data) == self.rcv_nxt:
            self.rcv_nxt = (self.rcv_nxt + 1) & 0xffffffff
            self.fin = True
            self._emit("A", self.nxt)

    def _retransmit(self, first_only=False):
        for s in self.segs:
            self._emit("PA", s[0], s[1])
            if first_only:
                break

    def _timers(self):
        if self.timer and time.monotonic() >= self.timer and self.segs:
            self._retransmit()
            self.rto = min(self.rto * 2, self.RTO_MAX)
            self.timer = time.monotonic() + self.rto

    def connect(self, until):
        rto = self.RTO0
        while self.rcv_nxt is None:
            self._emit("S", self.isn)
            end = min(until, time.monotonic() + rto)
            while self.rcv_nxt is None and self._recv(end):
                pass
            rto *= 2
            if time.monotonic() >= until:
                raise TimeoutError("no SYN-ACK")
        self._emit("A", self.nxt)

    def send(self, pieces, order=None, pause=0.003, hold=None):
        """Send the stream's next bytes as pieces, each [offset, data] from
        the current end of the stream (pieces may overlap), in the given
        order; hold: (index, seconds) waits before sending piece index."""
        base = self.nxt
        segs = [[(base + off) & 0xffffffff, d] for off, d in pieces]
        end = max(off + len(d) for off, d in pieces)
        self.nxt = (base + end) & 0xffffffff
        for s in sorted(segs, key=lambda s: (s[0] - self.una) & 0xffffffff):
            self.segs.append(s)
        if self.timer is None:
            self.timer = time.monotonic() + self.rto
        for n, i in enumerate(order or range(len(segs))):
            if hold and hold[0] == i:
                self.pump(time.monotonic() + hold[1])
            elif n:
                self.pump(time.monotonic() + pause)
            self._emit("PA", segs[i][0], segs[i][1])

    def pump(self, until):
        while time.monotonic() < until:
            self._recv(until)

    def answers(self, k, until):
        """Read k answers; returns their statuses (fewer on timeout)."""
        out = []
        while len(out) < k:
            m = self._parse()
            if m is not None:
                out.append(m)
                continue
            if time.monotonic() >= until or self.fin:
                break
            self._recv(until)
        return out

    def _parse(self):
        b = self.inbox
        h = b.find(b"\r\n\r\n")
        if h < 0:
            return None
        head = b[:h].split(b"\r\n")
        clen = 0
        for line in head[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                clen = int(v)
        if len(b) < h + 4 + clen:
            return None
        self.inbox = b[h + 4 + clen:]
        return int(head[0].split()[1])

    def finish(self, until):
        self._emit("FA", self.nxt)
        self.nxt = (self.nxt + 1) & 0xffffffff
        end = min(until, time.monotonic() + 1)
        while not self.fin and self._recv(end):
            pass


RAW_VARIANTS = ["ooo", "hole", "behind", "two-holes"]


def run_raw(a, st, clock, kind):
    rng = random.Random(a.seed)
    i = 0
    step = step_n = 0
    while clock.running():
        t = RawTCP(a.src, a.dst, a.port,
                   61000 + (int(a.src.split(".")[-1]) * 397 + a.seed * 97 + step * 13) % 4000)
        step += 1
        try:
            t.connect(time.monotonic() + clock.left())
            while clock.running():
                k = 1
                head, body = request_bytes(a.dst, i)
                req = head + body
                if kind == "hdr-body":
                    if i % 2 == 0:		# header block, then body
                        t.send([[0, head], [len(head), body]], pause=a.pause)
                    else:			# the body segment overlaps the header's end
                        ov = rng.randint(1, 24)
                        t.send([[0, head], [len(head) - ov, head[-ov:] + body]],
                               pause=a.pause)
                else:
                    c = RAW_VARIANTS.index(a.variant) if a.variant else step_n % 4
                    step_n += 1
                    if c == 0:			# pieces last first
                        x, y = sorted(rng.sample(range(1, len(req)), 2))
                        t.send([[0, req[:x]], [x, req[x:y]], [y, req[y:]]],
                               order=[2, 1, 0], pause=a.pause)
                    elif c == 1:		# a hole left open, then filled
                        x = rng.randint(1, len(head))
                        t.send([[0, req[:x]], [x, req[x:]]], order=[1, 0],
                               hold=(0, 0.3))
                    elif c == 3:		# two holes: pieces 1 and 3, then 2, then 0
                        x, y, z = sorted(rng.sample(range(1, len(req)), 3))
                        t.send([[0, req[:x]], [x, req[x:y]], [y, req[y:z]], [z, req[z:]]],
                               order=[1, 3, 2, 0], pause=a.pause)
                    else:			# requests pipelined behind the header
                        reqs = [req]
                        for _ in range(2):
                            h2, b2 = request_bytes(a.dst, i + len(reqs))
                            reqs.append(h2 + b2)
                        k = len(reqs)
                        pieces, off = [[0, head], [len(head), body]], len(req)
                        for r in reqs[1:]:
                            pieces.append([off, r])
                            off += len(r)
                        t.send(pieces, pause=a.pause)
                i += k
                st.add("sent", k)
                got = t.answers(k, time.monotonic() + clock.left())
                for code in got:
                    st.add("ok" if code == 200 else "bad")
                if len(got) < k:
                    st.add("unanswered", k - len(got))
                    break
            t.finish(time.monotonic() + min(1, clock.left()))
        except (OSError, ConnectionError, TimeoutError) as e:
            st.add("errors")
            sys.stderr.write("%s: %s\n" % (a.mode, e))
            time.sleep(0.2)
        finally:
            t.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", required=True,
                    choices=["plain", "first-byte", "bytewise", "random-cuts", "pipeline",
                             "hdr-body", "raw-ooo", "many-conns"] + list(H2_MODES))
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--src", default=None)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--grace", type=float, default=20,
                    help="after the end, how long an answer in flight is waited for")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--conns", type=int, default=None)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--variant", choices=RAW_VARIANTS, default=None,
                    help="raw-ooo: only this pattern (default: each in turn)")
    ap.add_argument("--pause", type=float, default=0.002,
                    help="pause between the pieces of a request (s)")
    ap.add_argument("--key-file", default=None,
                    help="h2-key-trailers: the API key, the file's first line")
    a = ap.parse_args()
    if a.mode == "h2-key-trailers":
        if not a.key_file:
            ap.error("h2-key-trailers needs --key-file")
        with open(a.key_file, "rb") as f:
            a.key = f.readline().strip()
    if a.mode in ("raw-ooo", "hdr-body") and (not a.src or ":" in a.dst):
        ap.error("%s needs --src and an IPv4 --dst" % a.mode)
    st = Stats()
    clock = Clock(a.seconds, a.grace)
    t0 = time.monotonic()
    if a.mode == "plain":
        run_plain(a, st, clock)
    elif a.mode == "many-conns":
        threads(a.conns or 16, lambda j: run_plain(a, st, clock, seed=j + 1))
    elif a.mode == "first-byte":
        run_cuts(a, st, clock, cut_first_byte)
    elif a.mode == "bytewise":
        run_cuts(a, st, clock, cut_bytewise)
    elif a.mode == "random-cuts":
        threads(a.conns or 2, lambda j: run_cuts(a, st, clock, cut_random, seed=a.seed + j))
    elif a.mode == "pipeline":
        run_cuts(a, st, clock, cut_none, k=a.pipeline)
    elif a.mode in H2_MODES:
        run_h2(a, st, clock)
    else:
        run_raw(a, st, clock, a.mode)
    out = dict(st.v, mode=a.mode, src=a.src, seconds=a.seconds,
               elapsed=round(time.monotonic() - t0, 1))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
