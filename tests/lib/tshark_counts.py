#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Independent oracle for penstock's per-client counters.

Usage: tshark_counts.py [--port N]... [--path PREFIX]... [--proxy-protocol]
                        [--forwarded-for MODE] [--trusted PREFIX]...
                        [--api-key SECRET-FILE] PCAP

Prints {"clients": [...]} sorted by client, with the same fields penstock's
`replay --json` prints.  Every figure is derived from tshark 4.0's dissection
of the capture, so penstock's BPF code is judged against a parser written by
other people.  The figures follow /work/shared/pcaps/README.md:

  connections   client SYNs (SYN without ACK towards the endpoint port); a SYN
                repeating the ISN already seen on that 4-tuple is a
                retransmission and counts once; a SYN with a new ISN on the
                same 4-tuple is a new connection (port reuse).
  requests      tshark's HTTP requests (one per http.request occurrence) in
                frames sent by the client to the endpoint port, plus the
                HTTP/2 streams on which the client sent HEADERS (distinct
                non-zero stream ids per connection; an h2c-upgraded request
                is its HTTP/1 request). A connection on which tshark's HTTP
                dissector finds HTTP/1 requests has its HTTP/2 streams as
                that dissector hands them to HTTP/2 (after a 101 to an h2c
                Upgrade); a connection that starts with the connection
                preface, or is captured midway (no client SYN), is
                dissected as HTTP/2 ("Decode As" http2 on the endpoint
                ports): tshark 4.0 reassembles frames that span segments
                only so (through HTTP it gives up on the first), and finds
                HTTP/2 in a connection captured midway only so.
  inference_requests
                those requests whose URI (HTTP/2: the :path of the stream's
                first HEADERS, as tshark's HPACK decoding gives it) starts
                with one of the --path prefixes.
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

With --forwarded-for MODE (true, x-forwarded-for or forwarded, as the
endpoint key forwarded_for) each request's client may be named by its
headers. On a connection whose client (the peer, or the client its PROXY
header names) is inside a --trusted prefix, the entries are the request's
X-Forwarded-For lines, all of them in order as one comma list (not with
MODE forwarded), or, when it has none (or with MODE forwarded), the for=
parameters of its Forwarded lines (RFC 7239; not with MODE
x-forwarded-for). Walking them from the right: the first entry outside the
trusted prefixes is the request's client; an entry that is no address
(unknown, _hidden, garbage, a Forwarded element without for=) before it
leaves the request the connection's client; if all are trusted, the
left-most is the client. Empty list elements are no entries (RFC 9110
section 5.6.1). A request without such lines, or from an untrusted peer,
is the connection's client's. The request's client gets its requests and
inference_requests, its length as rx_payload and the length of its
response as tx_payload (each HTTP/1 message's length on the wire, from
where tshark's dissection puts its first byte to the next message's:
message_sizes(); the k-th final response of a connection answers its k-th
request, as HTTP/1.1 orders them; tshark's http.request_in pairs only one
request of a frame); packets,
bytes, connections and every other payload byte stay the connection's
client's. The header lines come from tshark's own dissection
of each request (one http tree per request, its http.request.line items,
in a second pass with -T json); nothing here reads the capture's bytes.
The output then also has "forwarded": {"requests": N, "bad": N,
"untrusted": N}: requests given to a client a header named (other than
the connection's own client), requests whose entries walked to no
address, and requests with such a header from an untrusted peer.
An HTTP/2 stream's fields are read the same way from tshark's HPACK
decoding (http2.header.name / http2.header.value of its first header
block): its x-forwarded-for fields in order as one list, else its
forwarded fields; the stream's request goes to the client they name.
The payloads of the server's frames on an inference stream given to
another client (tshark's http2.length of each frame on that stream id,
its 9-byte header not included) are that client's tx_payload, and the
payloads of the client's frames on it other than its header block's
(HEADERS, CONTINUATION: DATA, WINDOW_UPDATE, RST_STREAM) its rx_payload,
while the stream is one of the 64 the datapath keeps per connection: the
stream id whose (id / 2) mod 64 entry the latest such stream's HEADERS
(in capture order) filled; every frame header and the header blocks
stay the connection's.

With --api-key SECRET-FILE (an endpoint with identity: api_key) a request
that carries an API key is its key's: the value of an "Authorization:
Bearer KEY" line (the scheme in any case, after blanks), an "x-api-key:
KEY" or an "api-key: KEY" line (names in any case), the key running from
the value's first byte that is not a blank to the next SP, HTAB or CR. A
request with several is the first Bearer key's, else the first
x-api-key's, else the first api-key's; another Authorization scheme
(Basic, ...) is no key. Its client is "key:" and the 16 hex digits of
SipHash-2-4 of the key's bytes under the secret in SECRET-FILE (32 hex
digits and a newline; tests/lib/siphash.py, written from the paper), and
it gets the request's requests and inference_requests, and the payload
of the request and its response, as with --forwarded-for; packets,
bytes, connections and other payload stay the connection's client's, as
do requests without a key. The header lines come from tshark's dissection, as for
--forwarded-for. With both, a request with a key is its key's, one without
its forwarded client's (forwarded_requests and forwarded_bad count only
requests without a key). The output then also has
"api_key": {"keyed": N}, the requests counted to a key.

Only the Python standard library is used.
"""

import argparse
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import siphash  # noqa: E402  (tests/lib/siphash.py)

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

# The HTTP/2 streams of their own clients the datapath keeps per connection,
# by (stream id / 2) mod H2_KEPT (PS_H2S_SLOTS, ps_h2_conn.hs).
H2_KEPT = 64


def tshark_base(pcap):
    """tshark reading pcap with reassembly as the reference counts were made."""
    return [
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
    ]


def tshark_cmd(pcap, ports, proxy=False, json_out=False):
    cmd = tshark_base(pcap)
    if json_out:
        # Each request's own tree: its request line and header lines, one
        # "http" object per request (duplicate keys kept, in order).
        cmd += ["-Y", "http.request", "-T", "json", "-J", "frame http"]
    else:
        cmd += [
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
    if not json_out:
        for f in FIELDS + (PROXY_FIELDS if proxy else []):
            cmd += ["-e", f]
    return cmd


# --- X-Forwarded-For and Forwarded --------------------------------------------

FORWARDED_MODES = ("true", "x-forwarded-for", "forwarded")


def h2_headers(pcap, ports, decode, env):
    """{frame number: [(stream id, :path or None, HEADERS?, [x-forwarded-for
    values], [forwarded values])]} for every
    HTTP/2 HEADERS and CONTINUATION frame sent to an endpoint port, in
    order, as tshark dissects it with the ports handed to `decode` (http,
    or http2), a connection preface as (0, None, False). tshark gives a
    block's fields on the frame that ends it."""
    cmd = tshark_base(pcap)
    cmd += ["-Y", "http2.type == 1 || http2.type == 9 || http2.magic", "-T", "json",
            "-J", "frame tcp http2"]
    for p in ports:
        cmd += ["-d", "tcp.port==%d,%s" % (p, decode)]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        raise SystemExit("tshark failed on %s (exit %d)" % (pcap, proc.returncode))
    pkts = json.loads(proc.stdout.decode("utf-8", "surrogateescape") or "[]",
                      object_pairs_hook=lambda pairs: pairs)
    out = {}
    for pkt in pkts:
        layers = dict(dict(pkt)["_source"])["layers"]
        frame = dport = None
        heads = []
        for name, val in layers:
            if name == "frame":
                frame = int(dict(val)["frame.number"])
            elif name == "tcp" and isinstance(val, list):
                dport = int(dict(val).get("tcp.dstport", "0"))
            elif name == "http2" and isinstance(val, list):
                for k, st in val:
                    if k != "http2.stream" or not isinstance(st, list):
                        continue
                    d = dict(st)
                    if "http2.magic" in d:
                        heads.append((0, None, False, [], []))
                    if d.get("http2.type") not in ("1", "9"):
                        continue
                    path = None
                    xff, fwd = [], []
                    for hk, hv in st:
                        if hk == "http2.header" and isinstance(hv, list):
                            hd = dict(hv)
                            hn = hd.get("http2.header.name", "")
                            if hn == ":path" and path is None:
                                path = hd.get("http2.header.value", "")
                            elif hn.lower() == "x-forwarded-for":
                                xff.append(hd.get("http2.header.value", "").strip(" \t"))
                            elif hn.lower() == "forwarded":
                                fwd.append(hd.get("http2.header.value", "").strip(" \t"))
                    heads.append((int(d.get("http2.streamid", "0")), path,
                                  d.get("http2.type") == "1", xff, fwd))
        if frame is not None and dport in ports and heads:
            out[frame] = heads
    return out


def h2_frames(pcap, ports, env):
    """{frame number: [(stream id, type, payload length)]} for every HTTP/2
    frame to or from an endpoint port, as tshark dissects it (the ports
    decoded as http2), in order."""
    cmd = tshark_base(pcap)
    cmd += ["-Y", "http2.type && (%s)" % " || ".join("tcp.port == %d" % p for p in ports),
            "-T", "fields", "-e", "frame.number", "-e", "http2.streamid",
            "-e", "http2.type", "-e", "http2.length", "-E", "occurrence=a",
            "-E", "aggregator=,"]
    for p in ports:
        cmd += ["-d", "tcp.port==%d,http2" % p]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        raise SystemExit("tshark failed on %s (exit %d)" % (pcap, proc.returncode))
    out = {}
    for line in proc.stdout.decode("utf-8", "surrogateescape").split("\n"):
        f = line.split("\t")
        if len(f) < 4 or not f[0]:
            continue
        sids = [int(x) for x in f[1].split(",") if x]
        types = [int(x) for x in f[2].split(",") if x]
        lens = [int(x) for x in f[3].split(",") if x]
        if not len(sids) == len(types) == len(lens):
            raise SystemExit("%s frame %s: %d HTTP/2 stream ids, %d types, %d lengths"
                             % (pcap, f[0], len(sids), len(types), len(lens)))
        out[int(f[0])] = list(zip(sids, types, lens))
    return out


def h2_add(streams, heads, fwd):
    """A frame's HEADERS open streams; a block's :path, wherever tshark
    gives it, is its stream's first HEADERS'; so are its X-Forwarded-For
    and Forwarded fields (fwd: stream id -> (values, values); a trailer's
    are not read). True if heads hold a connection preface."""
    magic = False
    for sid, path, headers, xff, fw in heads:
        if not sid:
            magic = magic or not headers
            continue
        if headers and sid not in streams:
            streams[sid] = path
            fwd[sid] = (xff, fw)
        elif sid in streams and streams[sid] is None:
            streams[sid] = path
            fwd[sid] = (fwd.get(sid, ([], []))[0] + xff, fwd.get(sid, ([], []))[1] + fw)
    return magic


def request_headers(pcap, ports, proxy, env):
    """{frame number: [(uri, [X-Forwarded-For values], [Forwarded values],
    [(header name, value)])]} for every request tshark dissects, in the
    order of the frame's http trees. The values are those of the header
    lines tshark gives (http.request.line), their names matched without
    regard to case; the last list holds every line, in order."""
    proc = subprocess.run(tshark_cmd(pcap, ports, proxy, json_out=True), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        raise SystemExit("tshark failed on %s (exit %d)" % (pcap, proc.returncode))
    # Objects as lists of pairs: a frame has one "http" key per request,
    # and a request one "http.request.line" key per header line.
    pkts = json.loads(proc.stdout.decode("utf-8", "surrogateescape") or "[]",
                      object_pairs_hook=lambda pairs: pairs)
    out = {}
    for pkt in pkts:
        layers = dict(dict(pkt)["_source"])["layers"]
        frame = None
        reqs = []
        for name, val in layers:
            if name == "frame":
                frame = int(dict(val)["frame.number"])
            if name != "http" or not isinstance(val, list) or "http.request" not in dict(val):
                continue
            uri = None
            xff, fwd, xff_field, lines = [], [], [], []
            for k, v in val:
                if isinstance(v, list):
                    sub = dict(v)
                    if uri is None and "http.request.method" in sub:
                        uri = sub.get("http.request.uri", "")
                elif k == "http.request.line":
                    hname, _, value = v.partition(":")
                    lines.append((hname, value.rstrip("\r\n")))
                    value = value.rstrip("\r\n").strip(" \t")
                    if hname.lower() == "x-forwarded-for":
                        xff.append(value)
                    elif hname.lower() == "forwarded":
                        fwd.append(value)
                elif k == "http.x_forwarded_for":
                    xff_field.append(v.strip(" \t"))
            # tshark's own X-Forwarded-For field says the same.
            if xff_field != xff:
                raise SystemExit("%s frame %s: tshark's X-Forwarded-For %r but its header "
                                 "lines say %r" % (pcap, frame, xff_field, xff))
            reqs.append((uri if uri is not None else "", xff, fwd, lines))
        if frame is not None and reqs:
            out[frame] = reqs
    return out


def message_sizes(pcap, ports, proxy, env):
    """{frame number: [("q", "r" or "i", length)]}: every HTTP/1 message
    tshark dissects (a request, a final response, an interim 1xx one), in
    the order of the frame's http trees, with its length on the wire: from
    its first byte to the first byte of the next message in the same
    direction of the connection (the last: to the end of its reassembled
    PDU, or of its frame). Where a message starts comes from tshark's
    dissection alone (PDML): a message in a frame's own bytes at its http
    tree's position after the TCP header; one in a reassembled PDU (an
    http tree of the frame that completes it, before the frame's bytes
    that are not in the PDU) at its position in the PDU, which starts in
    the first segment tcp.segment lists ("Frame: N, payload: A-B (K
    bytes)": the PDU's first K bytes, the last K of frame N)."""
    import xml.etree.ElementTree as ET

    fields = subprocess.run(tshark_base(pcap) + ["-T", "fields", "-e", "frame.number",
                                                 "-e", "tcp.seq_raw", "-e", "tcp.len"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seq_of, len_of = {}, {}
    for line in fields.stdout.decode().split("\n"):
        f = line.split("\t")
        if len(f) == 3 and f[1] and f[2]:
            seq_of[int(f[0])] = int(f[1].split(",")[-1])
            len_of[int(f[0])] = int(f[2].split(",")[-1])
    cmd = tshark_base(pcap) + ["-Y", "http.request or http.response", "-T", "pdml"]
    if proxy:
        cmd += ["-X", "lua_script:" + PROXY_LUA,
                "-X", "lua_script1:" + ",".join(str(p) for p in ports)]
    else:
        for p in ports:
            cmd += ["-d", "tcp.port==%d,http" % p]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seg_re = re.compile(r"Frame: (\d+), payload: \d+-\d+ \((\d+) bytes?\)")
    msgs = {}       # (stream, tx) -> [[start, end, frame, index, kind]]
    for _, el in ET.iterparse(proc.stdout, events=("end",)):
        if el.tag != "packet":
            continue
        frame = stream = sport = tlen = poff = reasm = None
        segs = []
        n = 0
        for proto in el.findall("proto"):
            name = proto.get("name")
            if name == "geninfo":
                for f in proto.iter("field"):
                    if f.get("name") == "num":
                        frame = int(f.get("show"))
            elif name == "tcp":
                poff = int(proto.get("pos")) + int(proto.get("size"))
                for f in proto.iter("field"):
                    k = f.get("name")
                    if k == "tcp.stream":
                        stream = int(f.get("show"))
                    elif k == "tcp.srcport":
                        sport = int(f.get("show"))
                    elif k == "tcp.len":
                        tlen = int(f.get("show"))
            for f in proto.iter("field"):
                if f.get("name") == "tcp.reassembled.length":
                    reasm = int(f.get("show"))
                elif f.get("name") == "tcp.segment":
                    m = seg_re.search(f.get("showname", ""))
                    if m:
                        segs.append((int(m.group(1)), int(m.group(2))))
            if name != "http":
                continue
            kind, code = None, 0
            for f in proto.iter("field"):
                k = f.get("name")
                if k == "http.request":
                    kind = "q"
                elif k == "http.response":
                    kind = "r"
                elif k == "http.response.code":
                    code = int(f.get("show"))
            if kind is None:
                continue
            if kind == "r" and 100 <= code < 200:
                kind = "i"      # interim: the final response follows
            seq = seq_of.get(frame)
            if seq is None or poff is None or tlen is None:
                raise SystemExit("%s frame %s: no TCP sequence for its message" % (pcap, frame))
            pos = int(proto.get("pos"))
            # In the reassembled PDU (its bytes: the last segment's, at
            # the head of this frame), or after it in the frame's own.
            if reasm is not None and segs and pos - poff < segs[-1][1]:
                first = segs[0]
                if first[0] not in seq_of:
                    raise SystemExit("%s frame %s: segment frame %d unknown"
                                     % (pcap, frame, first[0]))
                # The PDU's first segment runs to the end of its frame.
                rstart = seq_of[first[0]] + len_of[first[0]] - first[1]
                start = (rstart + pos) % MOD
                end = (rstart + reasm) % MOD
            else:
                start = (seq + pos - poff) % MOD
                end = (seq + tlen) % MOD
            msgs.setdefault((stream, sport in ports), []).append([start, end, frame, n, kind])
            n += 1
        el.clear()
    if proc.wait() != 0:
        raise SystemExit("tshark -T pdml failed on %s (exit %d)" % (pcap, proc.returncode))
    out = {}
    for ms in msgs.values():
        base = ms[0][0]
        ms.sort(key=lambda m: (m[0] - base) % MOD)
        for i, (start, end, frame, n, kind) in enumerate(ms):
            stop = ms[i + 1][0] if i + 1 < len(ms) else end
            out.setdefault(frame, []).append((n, kind, (stop - start) % MOD))
    return {fr: [(k, ln) for _, k, ln in sorted(v)] for fr, v in out.items()}


def split_quoted(text, sep):
    """text cut at every sep outside a quoted-string."""
    parts, cur, quoted, esc = [], "", False, False
    for ch in text:
        if esc:
            esc = False
        elif quoted and ch == "\\":
            esc = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    parts.append(cur)
    return parts


def forwarded_for_values(lines):
    """The for= values of Forwarded lines (RFC 7239), an element's each, in
    order, unquoted; None for an element that has none (a hop that did
    not say whom it forwarded for: no address). Empty elements are no
    elements (RFC 9110 section 5.6.1)."""
    vals = []
    for line in lines:
        for elem in split_quoted(line, ","):
            if not elem.strip(" \t"):
                continue
            val = None
            for pair in split_quoted(elem, ";"):
                name, eq, value = pair.strip(" \t").partition("=")
                if eq and name.lower() == "for":
                    if len(value) >= 2 and value[0] == value[-1] == '"':
                        value = re.sub(r"\\(.)", r"\1", value[1:-1])
                    val = value
                    break
            vals.append(val)
    return vals


def node_address(entry):
    """The address of an entry (1.2.3.4, 1.2.3.4:port, 2001:db8::1,
    [2001:db8::1], [2001:db8::1]:port; a v4-mapped one as its IPv4
    address), or None: not an address."""
    if entry is None:
        return None
    e = entry.strip(" \t")
    host, port = e, None
    if e.startswith("["):
        end = e.find("]")
        if end < 0:
            return None
        host, rest = e[1:end], e[end + 1:]
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
        if ":" not in host:
            return None
    elif e.count(":") == 1:
        host, port = e.split(":")
        if "." not in host:
            return None
    if port is not None and not (port.isdigit() and len(port) <= 5 and int(port) <= 65535):
        return None
    try:
        a = ipaddress.ip_address(host)
    except ValueError:
        return None
    # A v4-mapped address is the IPv4 address, trusted or not as it is.
    return a.ipv4_mapped if a.version == 6 and a.ipv4_mapped is not None else a


def forwarded_client(client, xff, fwd, mode, trusted):
    """(the request's client, what the rule did: "forwarded", "bad",
    "untrusted", "self" (the header names the connection's own client) or
    "none") for a request on a connection whose client is client, with
    X-Forwarded-For values xff and Forwarded values fwd."""
    if mode == "forwarded":
        xff = []
    if mode == "x-forwarded-for":
        fwd = []
    if not xff and not fwd:
        return client, "none"
    if not trusted_peer(client, trusted):
        return client, "untrusted"
    if xff:
        # Empty list elements are no elements (RFC 9110 section 5.6.1).
        entries = [e for line in xff for e in line.split(",") if e.strip(" \t")]
    else:
        entries = forwarded_for_values(fwd)
    if not entries:
        return client, "none"
    a = None
    for e in reversed(entries):
        a = node_address(e)
        if a is None:
            return client, "bad"
        if not any(a in net for net in trusted):
            break
    who = canonical(str(a))
    return who, "self" if who == canonical(client) else "forwarded"


# --- API keys -------------------------------------------------------------------

KEY_KINDS = {"api-key": 1, "x-api-key": 2, "authorization": 3}


def request_key(lines):
    """The API key (bytes) of a request with these header lines, or None."""
    best, best_kind = None, 0
    for name, value in lines:
        kind = KEY_KINDS.get(name.strip(" \t").lower())
        if kind is None or kind <= best_kind:
            continue
        v = value.lstrip(" \t")
        if kind == 3:
            # Bearer, in any case, then blanks; any other scheme is no key.
            if v[:6].lower() != "bearer" or v[6:7] not in (" ", "\t"):
                continue
            v = v[6:].lstrip(" \t")
        key = re.split("[ \t\r]", v, maxsplit=1)[0]
        if key:
            best, best_kind = key.encode("utf-8", "surrogateescape"), kind
    return best


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
        self.requests = []          # (uri, X-Forwarded-For, Forwarded, lines, frame,
                                    # length) a request
        self.responses = []         # (length, interim) a response, in order
        self.http = False           # tshark found HTTP/1 requests on it
        self.streams_http = {}      # ... HTTP/2 streams as its HTTP dissector hands them on
        self.h2 = False             # ... and a connection preface
        self.frames = []            # numbers of the client's frames
        self.sframes = []           # ... and of the server's
        self.streams = {}           # HTTP/2 stream id -> :path of its first HEADERS
        self.fwd_http = {}          # HTTP/2 stream id -> its forwarded fields (h2_add())
        self.fwd = {}


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


def count(pcap, ports, paths, proxy=False, trusted=(), forwarded=None, secret=None):
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
    by_request = forwarded or secret is not None
    if by_request:
        with tempfile.TemporaryDirectory(prefix="tshark-counts-") as conf:
            env = dict(os.environ, WIRESHARK_CONFIG_DIR=conf)
            headers_of = request_headers(pcap, sorted(ports), proxy, env)
            sizes_of = message_sizes(pcap, sorted(ports), proxy, env)

    with tempfile.TemporaryDirectory(prefix="tshark-counts-") as conf:
        env = dict(os.environ, WIRESHARK_CONFIG_DIR=conf)
        h2_of = h2_headers(pcap, sorted(ports), "http", env)
        h2_mid = None

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

        if not rx:
            conn.sframes.append(int(rec["frame.number"]))
        if by_request and not rx:
            # The responses of the frame, by the frame of their request.
            conn.responses += [(size, kind == "i") for kind, size in
                               sizes_of.get(int(rec["frame.number"]), []) if kind != "q"]
        if rx:
            conn.frames.append(int(rec["frame.number"]))
            if h2_add(conn.streams_http, h2_of.get(int(rec["frame.number"]), []),
                      conn.fwd_http):
                conn.h2 = True
            nreq = len(split(rec["http.request"]))
            if nreq:
                conn.http = True
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
            if by_request:
                # Whose each request is, once the connection's client is
                # known: kept on the connection with its header lines.
                hdrs = headers_of.get(int(rec["frame.number"]), [])
                if [h[0] for h in hdrs] != reqs:
                    raise SystemExit("%s frame %s: requests %r, but their trees %r"
                                     % (pcap, rec["frame.number"], reqs,
                                        [h[0] for h in hdrs]))
                fr = int(rec["frame.number"])
                sizes = [size for kind, size in sizes_of.get(fr, []) if kind == "q"]
                if len(sizes) != len(hdrs):
                    raise SystemExit("%s frame %s: %d requests but %d sizes"
                                     % (pcap, fr, len(hdrs), len(sizes)))
                conn.requests += [h + (fr, size) for h, size in zip(hdrs, sizes)]
                continue
            c["requests"] += nreq
            for u in reqs:
                if any(u.startswith(p) for p in paths):
                    c["inference_requests"] += 1

    h2_fr = None
    clients = {}
    headers = {"headers": 0, "untrusted": 0, "no_header": 0}
    fwd_stats = {"requests": 0, "bad": 0, "untrusted": 0}
    keyed = 0
    for conn in all_conns:
        if conn.http:
            conn.streams = conn.streams_http
            conn.fwd = conn.fwd_http
        elif conn.h2 or conn.client_isn is None:
            # HTTP/2 from its preface, or picked up midway: its frames
            # as the HTTP/2 dissector reassembles them. (A connection
            # with its SYN and no preface is no HTTP/2 connection.)
            if h2_mid is None:
                with tempfile.TemporaryDirectory(prefix="tshark-counts-") as conf:
                    env = dict(os.environ, WIRESHARK_CONFIG_DIR=conf)
                    h2_mid = h2_headers(pcap, sorted(ports), "http2", env)
            for fr in conn.frames:
                h2_add(conn.streams, h2_mid.get(fr, []), conn.fwd)
        conn.counts["requests"] += len(conn.streams)
        conn.counts["inference_requests"] += sum(
            1 for path in conn.streams.values()
            if path is not None and any(path.startswith(p) for p in paths))
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
        # HTTP/2 streams to their forwarded clients (--forwarded-for):
        # their requests, and the payloads of the server's frames on them.
        named_of = {}
        for sid, path in (conn.streams.items() if forwarded else ()):
            xff, fw = conn.fwd.get(sid, ([], []))
            named, what = forwarded_client(client, xff, fw, forwarded, trusted)
            if what in ("forwarded", "bad", "untrusted"):
                fwd_stats["requests" if what == "forwarded" else what] += 1
            if named != client:
                inf = int(path is not None and any(path.startswith(p) for p in paths))
                r = clients.setdefault(named, new_client(named))
                r["requests"] += 1
                r["inference_requests"] += inf
                c["requests"] -= 1
                c["inference_requests"] -= inf
                if inf:
                    named_of[sid] = named
        if named_of:
            if h2_fr is None:
                with tempfile.TemporaryDirectory(prefix="tshark-counts-") as conf:
                    env = dict(os.environ, WIRESHARK_CONFIG_DIR=conf)
                    h2_fr = h2_frames(pcap, sorted(ports), env)
            heads_of = h2_of if conn.http else (h2_mid or {})
            table, seen = {}, set()
            events = sorted([(fr, 0) for fr in conn.frames] + [(fr, 1) for fr in conn.sframes])
            for fr, server in events:
                if not server:
                    for sid, _, _, _, _ in heads_of.get(fr, []):
                        if sid in named_of and sid not in seen:
                            seen.add(sid)
                            table[(sid >> 1) % H2_KEPT] = sid
                for sid, ftype, length in h2_fr.get(fr, []):
                    if not sid or table.get((sid >> 1) % H2_KEPT) != sid or sid not in named_of:
                        continue
                    # The client's: its frames after the header block
                    # (not HEADERS, CONTINUATION); the server's: all.
                    d = "tx_payload" if server else "rx_payload"
                    if server or ftype not in (1, 9):
                        clients[named_of[sid]][d] += length
                        c[d] -= length
        # Each request to its own client (--forwarded-for and --api-key),
        # and the payload of the request and of its response (in the order
        # of its frame's requests), where that is not the connection's.
        whose = []
        for uri, xff, fwd, lines, fr, size in conn.requests:
            who = client
            key = request_key(lines) if secret is not None else None
            if key is not None:
                who = siphash.key_id(secret, key)
                keyed += 1
            if forwarded:
                named, what = forwarded_client(client, xff, fwd, forwarded, trusted)
                if what == "untrusted":
                    fwd_stats[what] += 1
                elif key is None and what in ("forwarded", "bad"):
                    fwd_stats["requests" if what == "forwarded" else what] += 1
                if key is None:
                    who = named
            r = clients.setdefault(who, new_client(who))
            r["requests"] += 1
            if any(uri.startswith(p) for p in paths):
                r["inference_requests"] += 1
            whose.append(who)
            if who != client:
                r["rx_payload"] += size
                c["rx_payload"] -= size
        # Responses follow requests in order on an HTTP/1 connection: the
        # k-th final one answers the k-th request (an interim one, the
        # request the next final one answers).
        for size, interim in conn.responses:
            who = whose[0] if whose else client
            if whose and not interim:
                whose.pop(0)
            if who != client:
                clients[who]["tx_payload"] += size
                c["tx_payload"] -= size

    res = {"clients": [clients[k] for k in sorted(clients)]}
    if proxy:
        res["proxy"] = headers
    if forwarded:
        res["forwarded"] = fwd_stats
    if secret is not None:
        res["api_key"] = {"keyed": keyed}
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
    ap.add_argument("--forwarded-for", choices=FORWARDED_MODES, metavar="MODE",
                    help="requests' clients named by X-Forwarded-For and/or Forwarded "
                         "(true, x-forwarded-for, forwarded)")
    ap.add_argument("--trusted", action="append", default=[], metavar="PREFIX",
                    help="a peer whose PROXY headers and X-Forwarded-For or Forwarded "
                         "lines are believed; repeatable")
    ap.add_argument("--api-key", metavar="SECRET-FILE",
                    help="requests counted to their API keys' ids under this secret "
                         "(identity: api_key)")
    ap.add_argument("pcap")
    a = ap.parse_args()
    if not a.port:
        ap.error("at least one --port is needed")
    if a.trusted and not (a.proxy_protocol or a.forwarded_for):
        ap.error("--trusted needs --proxy-protocol or --forwarded-for")
    secret = None
    if a.api_key:
        try:
            secret = siphash.read_secret(a.api_key)
        except (OSError, ValueError) as e:
            ap.error("--api-key: %s" % e)
    trusted = []
    for t in a.trusted:
        try:
            trusted.append(ipaddress.ip_network(t))
        except ValueError as e:
            ap.error("--trusted %s: %s" % (t, e))
    if shutil.which(os.environ.get("TSHARK", "tshark")) is None:
        sys.stderr.write("tshark not found\n")
        return 77
    res = count(a.pcap, a.port, a.path or DEFAULT_PATHS, a.proxy_protocol, trusted,
                a.forwarded_for, secret)
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
