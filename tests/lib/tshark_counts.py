#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Independent oracle for penstock's per-client counters.

Usage: tshark_counts.py [--port N]... [--path PREFIX]...
                        [--proxy-protocol [--trusted PREFIX]...] PCAP

Prints {"clients": [...]} sorted by client, with the same fields penstock's
`replay --json` prints.  Every figure is derived from tshark 4.0's dissection
of the capture, so penstock's BPF code is judged against a parser written by
other people.  The figures follow /work/shared/pcaps/README.md:

  connections   client SYNs (SYN without ACK towards the endpoint port); a SYN
                repeating the ISN already seen on that 4-tuple is a
                retransmission and counts once; a SYN with a new ISN on the
                same 4-tuple is a new connection (port reuse).
  requests      tshark's HTTP requests (one per http.request occurrence) in
                frames sent by the client to the endpoint port.
  inference_requests
                those requests whose URI starts with one of the --path
                prefixes.
  *_packets     every captured TCP packet on the endpoint port, duplicates and
                retransmissions included.
  *_bytes       IPv4 total length, or IPv6 payload length + 40, per packet.
  *_payload     union of the TCP sequence ranges carried per direction per
                connection.  The TCP length comes from the IP header, so a
                packet cut by the snap length still contributes its full
                length (the reference expected.json files count it that way).

With --proxy-protocol the endpoint ports' connections may start with a
PROXY protocol header (v1 or v2): where the client's first bytes on a
connection are one, the header names the connection's client, as
/work/shared/pcaps/README.md has it ("Where a PROXY protocol header declares
the source, the declared address is the client"), and every count of the
connection, its SYN and its header included, is that client's. Only a
header from a peer inside one of the --trusted prefixes is believed; from
any other peer, and where it names no address (v1 UNKNOWN, v2 LOCAL, a v2
family other than TCP over IPv4 or IPv6), the peer is the client. Whoever
sends it, the header is not HTTP: tshark 4.0's own PROXY dissector reads
it, and tests/lib/proxy_http.lua hands tshark's HTTP dissector the bytes
after it (tshark 4.0 alone leaves a request sent with its header
undissected).

With --proxy-protocol the output also has "proxy": {"headers": N,
"untrusted": N, "no_header": N}, the connections whose client stream started
with a header from a trusted peer, with one from another peer, and with
bytes that are no header (or that ended, FIN or RST, before a header).

Only the Python standard library is used.
"""

import argparse
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile

DEFAULT_PATHS = [
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/responses",
]

FIELDS = [
    "frame.number",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ip.len",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.plen",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.seq_raw",
    "tcp.len",
    "http.request",
    "http.request.method",
    "http.request.uri",
]

# What tshark says of a PROXY header (tests/lib/proxy_http.lua and tshark's
# PROXY dissector), asked for with --proxy-protocol only: the fields exist
# only with the plugin loaded.
PROXY_FIELDS = [
    "pxhttp.header_len",
    "pxhttp.version",
    "pxhttp.bad",
    "proxy.v1.proto",
    "proxy.v2.cmd",
    "proxy.v2.addr_family_protocol",
    "proxy.src.ipv4",
    "proxy.src.ipv6",
]

PROXY_LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "proxy_http.lua")

# Request lines whose method tshark classifies as a notification (GENA):
# they carry http.request.method but not http.request, so they are not
# requests.  tshark strips an "M-" prefix before classifying.
NOTIFICATION_METHODS = {"NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE"}

# The aggregator must not occur in any field value; HTTP URIs and methods
# may contain almost anything printable, so use a control character.
AGG = "\x1f"

MOD = 1 << 32


def tshark_cmd(pcap, ports, proxy=False):
    cmd = [
        os.environ.get("TSHARK", "tshark"),
        "-n",
        "-r", pcap,
        # Reassembly exactly as the reference counts were made.
        "-o", "tcp.desegment_tcp_streams:TRUE",
        "-o", "tcp.reassemble_out_of_order:TRUE",
        "-o", "http.desegment_headers:TRUE",
        "-o", "http.desegment_body:TRUE",
        # Sequence analysis must stay on: it is what lets reassembly skip
        # retransmitted bytes instead of dissecting them twice.
        "-o", "tcp.analyze_sequence_numbers:TRUE",
        # A bad checksum must not stop dissection (captures made with
        # checksum offload have wrong checksums everywhere).
        "-o", "tcp.check_checksum:FALSE",
        # Port-based HTTP first: a heuristic dissector must not steal an
        # endpoint port's bytes.
        "-o", "tcp.try_heuristic_first:FALSE",
        # 4.0's default, pinned: segments with TCP analysis errors are not
        # handed to HTTP.
        "-o", "tcp.no_subdissector_on_error:TRUE",
        "-T", "fields",
        "-E", "header=n",
        "-E", "separator=/t",
        "-E", "occurrence=a",
        "-E", "aggregator=" + AGG,
        "-E", "quote=n",
    ]
    if proxy:
        # The plugin takes the ports in HTTP's place and calls HTTP itself.
        cmd += ["-X", "lua_script:" + PROXY_LUA,
                "-X", "lua_script1:" + ",".join(str(p) for p in ports)]
    else:
        for p in ports:
            cmd += ["-d", "tcp.port==%d,http" % p]
    for f in FIELDS + (PROXY_FIELDS if proxy else []):
        cmd += ["-e", f]
    return cmd


def split(v):
    return v.split(AGG) if v != "" else []


def last_int(v, base=10):
    vals = split(v)
    if not vals:
        return None
    return int(vals[-1], base)


def ip_layer(protocols):
    """Name of the IP layer that carries the TCP header ("ip" or "ipv6").

    frame.protocols lists the layers outermost first; the one right before
    "tcp" is the one whose addresses and length describe this segment.  A
    frame whose TCP header sits inside an ICMP error is not a TCP packet.
    """
    layers = protocols.split(":")
    if "tcp" not in layers:
        return None
    t = layers.index("tcp")
    if "icmp" in layers[:t] or "icmpv6" in layers[:t]:
        return None
    for name in reversed(layers[:t]):
        if name in ("ip", "ipv6"):
            return name
    return None


class Direction:
    """Payload ranges of one direction of one connection.

    Offsets are kept relative to a base sequence number (signed 32-bit
    distance), which makes sequence wrap-around transparent.
    """

    def __init__(self):
        self.base = None
        self.ranges = []  # list of [start, end) offsets, unsorted

    def add(self, seq, length):
        if length <= 0:
            return
        if self.base is None:
            self.base = seq
        off = (seq - self.base) % MOD
        if off >= MOD // 2:
            off -= MOD
        self.ranges.append((off, off + length))

    def total(self):
        n = 0
        cur_s = cur_e = None
        for s, e in sorted(self.ranges):
            if cur_e is None or s > cur_e:
                if cur_e is not None:
                    n += cur_e - cur_s
                cur_s, cur_e = s, e
            elif e > cur_e:
                cur_e = e
        if cur_e is not None:
            n += cur_e - cur_s
        return n


class Conn:
    """One TCP connection: its counts, kept until its client is known."""

    def __init__(self, peer, client_isn=None):
        self.peer = peer            # the address at the client's end
        self.named = None           # the client a PROXY header names
        self.header = None          # "header", or "none": no header came first
        self.client_isn = client_isn
        self.rx = Direction()
        self.tx = Direction()
        self.counts = new_client(peer)


def new_client(name):
    return {
        "client": name,
        "connections": 0,
        "requests": 0,
        "inference_requests": 0,
        "rx_packets": 0,
        "tx_packets": 0,
        "rx_bytes": 0,
        "tx_bytes": 0,
        "rx_payload": 0,
        "tx_payload": 0,
    }


def header_client(pcap, rec):
    """The address a PROXY header names, from tshark's PROXY dissector, or
    None where it names none (v1 UNKNOWN, v2 LOCAL, a family other than
    TCP over IPv4 or IPv6)."""
    src = (split(rec["proxy.src.ipv4"]) + split(rec["proxy.src.ipv6"]))[:1]
    ver = last_int(rec["pxhttp.version"])
    if ver == 1:
        proto = (split(rec["proxy.v1.proto"]) or [""])[0]
        if proto not in ("TCP4", "TCP6"):
            return None
    else:
        cmd = last_int(rec["proxy.v2.cmd"])
        fam = last_int(rec["proxy.v2.addr_family_protocol"], 16)
        if cmd != 1 or fam not in (0x11, 0x21):
            return None
    if not src:
        raise SystemExit("%s frame %s: a PROXY v%d header tshark reads no source "
                         "address from" % (pcap, rec["frame.number"], ver))
    return src[0]


def count(pcap, ports, paths, proxy=False, trusted=()):
    ports = set(ports)
    # An empty configuration directory keeps the user's own preferences,
    # "Decode As" entries and disabled protocols out of the counts.
    with tempfile.TemporaryDirectory(prefix="tshark-counts-") as conf:
        env = dict(os.environ, WIRESHARK_CONFIG_DIR=conf)
        proc = subprocess.run(tshark_cmd(pcap, sorted(ports), proxy), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        raise SystemExit("tshark failed on %s (exit %d)" % (pcap, proc.returncode))

    fields = FIELDS + (PROXY_FIELDS if proxy else [])
    conns = {}      # 4-tuple -> current Conn
    all_conns = []  # every Conn, for the totals

    for raw in proc.stdout.decode("utf-8", "surrogateescape").split("\n"):
        if not raw:
            continue
        f = raw.split("\t")
        if len(f) < len(fields):
            f += [""] * (len(fields) - len(f))
        rec = dict(zip(fields, f))
        layer = ip_layer(rec["frame.protocols"])
        if layer is None:
            continue
        if layer == "ip":
            src = split(rec["ip.src"])[-1]
            dst = split(rec["ip.dst"])[-1]
            ipbytes = last_int(rec["ip.len"])
        else:
            src = split(rec["ipv6.src"])[-1]
            dst = split(rec["ipv6.dst"])[-1]
            ipbytes = last_int(rec["ipv6.plen"]) + 40
        sport = last_int(rec["tcp.srcport"])
        dport = last_int(rec["tcp.dstport"])
        if sport is None or dport is None:
            continue
        # The endpoint port decides who the client is; if both ends use an
        # endpoint port, the destination is taken as the server.
        if dport in ports:
            client, cport, server, sport_ = src, sport, dst, dport
            rx = True
        elif sport in ports:
            client, cport, server, sport_ = dst, dport, src, sport
            rx = False
        else:
            continue

        flags = last_int(rec["tcp.flags"], 16)
        seq = last_int(rec["tcp.seq_raw"])
        tlen = last_int(rec["tcp.len"]) or 0
        syn = bool(flags & 0x02)
        ack = bool(flags & 0x10)

        key = (client, cport, server, sport_)
        conn = conns.get(key)
        new_conn = False
        if rx and syn and not ack:
            if conn is None or conn.client_isn != seq:
                if conn is not None and conn.client_isn is None:
                    # A connection seen mid-stream (or from its SYN-ACK
                    # only) that now shows its SYN: same connection.
                    conn.client_isn = seq
                else:
                    conn = Conn(client, seq)
                    conns[key] = conn
                    all_conns.append(conn)
                new_conn = True
        if conn is None:
            conn = Conn(client)
            conns[key] = conn
            all_conns.append(conn)
        # Counted on the connection: whose they are may be known only
        # when its PROXY header comes.
        c = conn.counts
        if new_conn:
            c["connections"] += 1
        d = "rx" if rx else "tx"
        c[d + "_packets"] += 1
        c[d + "_bytes"] += ipbytes

        # Data carried by a SYN starts after the SYN's sequence number.
        dstart = (seq + 1) % MOD if syn else seq
        (conn.rx if rx else conn.tx).add(dstart, tlen)

        if proxy and conn.header is None:
            if rx and rec["pxhttp.header_len"]:
                conn.header = "header"
                conn.named = header_client(pcap, rec)
            elif (rx and rec["pxhttp.bad"]) or flags & 0x05:
                # Bytes that are no header, or a FIN or RST before it.
                conn.header = "none"

        if rx:
            nreq = len(split(rec["http.request"]))
            methods = split(rec["http.request.method"])
            uris = split(rec["http.request.uri"])
            if methods and not uris:
                # One empty URI prints exactly like no URI at all.
                uris = [""]
            if len(uris) != len(methods):
                # tshark adds a (possibly empty) URI item for every request
                # line; a mismatch would make the pairing unreliable.
                raise SystemExit("%s frame %s: %d methods but %d URIs"
                                 % (pcap, rec["frame.number"],
                                    len(methods), len(uris)))
            reqs = [u for m, u in zip(methods, uris)
                    if (m[2:] if m.startswith("M-") else m)
                    not in NOTIFICATION_METHODS]
            if len(reqs) < nreq:
                raise SystemExit("%s frame %s: %d http.request but %d "
                                 "request methods" % (pcap, rec["frame.number"],
                                                      nreq, len(reqs)))
            # A request line can be dissected and the message then abandoned
            # (a packet cut by the snap length throws while its headers are
            # parsed): tshark stops the frame there, so only the last method
            # lacks its http.request.
            reqs = reqs[:nreq]
            c["requests"] += nreq
            for u in reqs:
                if any(u.startswith(p) for p in paths):
                    c["inference_requests"] += 1

    clients = {}
    headers = {"headers": 0, "untrusted": 0, "no_header": 0}
    for conn in all_conns:
        client = conn.peer
        if conn.header == "header":
            believed = trusted_peer(conn.peer, trusted)
            headers["headers" if believed else "untrusted"] += 1
            if believed and conn.named is not None:
                client = canonical(conn.named)
        elif conn.header == "none":
            headers["no_header"] += 1
        c = clients.setdefault(client, new_client(client))
        for k, v in conn.counts.items():
            if k != "client":
                c[k] += v
        c["rx_payload"] += conn.rx.total()
        c["tx_payload"] += conn.tx.total()

    res = {"clients": [clients[k] for k in sorted(clients)]}
    if proxy:
        res["proxy"] = headers
    return res


def canonical(addr):
    """An address as inet_ntop prints it (IPv4 never v4-mapped)."""
    a = ipaddress.ip_address(addr)
    if a.version == 6 and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return str(a)


def trusted_peer(peer, trusted):
    a = ipaddress.ip_address(peer)
    return any(a in net for net in trusted)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, action="append", default=[],
                    help="endpoint (server) TCP port; repeatable")
    ap.add_argument("--path", action="append", default=[],
                    help="inference URI prefix; repeatable")
    ap.add_argument("--proxy-protocol", action="store_true",
                    help="connections may start with a PROXY v1/v2 header")
    ap.add_argument("--trusted", action="append", default=[], metavar="PREFIX",
                    help="a peer whose PROXY headers are believed; repeatable")
    ap.add_argument("pcap")
    a = ap.parse_args()
    if not a.port:
        ap.error("at least one --port is needed")
    if a.trusted and not a.proxy_protocol:
        ap.error("--trusted needs --proxy-protocol")
    trusted = []
    for t in a.trusted:
        try:
            trusted.append(ipaddress.ip_network(t))
        except ValueError as e:
            ap.error("--trusted %s: %s" % (t, e))
    if shutil.which(os.environ.get("TSHARK", "tshark")) is None:
        sys.stderr.write("tshark not found\n")
        return 77
    res = count(a.pcap, a.port, a.path or DEFAULT_PATHS, a.proxy_protocol, trusted)
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
