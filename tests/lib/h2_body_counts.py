#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""What the HTTP/2 answers in a capture report, per client, from tshark.

  h2_body_counts.py --port N [--port N]... [--path PREFIX]... [--upgrade]
                    [--forwarded-for MODE --trusted PREFIX...] CAPTURE

tshark's HTTP/2 dissector ("Decode As" http2 on the port, which reassembles
frames across segments) gives each frame: its TCP stream, HTTP/2 stream,
type, flags and, for DATA, its data (padding left out), and the :path of
the client's HEADERS. For each request whose :path starts with one of the
paths (an inference request), the server's DATA on its stream are joined
in order (or taken whole where tshark gives the stream's body reassembled
on its last frame) and read as docs/output-tokens.md defines the figures:

  tx_events            lines of the data that start with "data:"
  tx_tokens/rx_tokens  the highest "completion_tokens"/"prompt_tokens" a
                       JSON value in the data reports (the body whole, or
                       each event's data: value), per stream
  tx_tokens_estimated  the events of a stream that reported no
                       completion_tokens, its "data: [DONE]" line left out

With --upgrade the connections start in HTTP/1.1 and switch by an h2c
Upgrade (RFC 7540 section 3.2): the port is decoded as HTTP, whose
dissector hands the connection to HTTP/2's after the 101, and stream 1 is
the answer to the request that asked for the Upgrade: its :path is that
request's URI.

With --forwarded-for MODE (true, x-forwarded-for or forwarded, as the
endpoint key forwarded_for) a stream's figures are those of the client
its request's x-forwarded-for or forwarded fields name (tshark's HPACK
decoding of the stream's first HEADERS, walked as tests/lib/tshark_counts.py
walks them: only from a peer inside a --trusted prefix), else the
connection's client's. (The answers' payload bytes follow the datapath's
window of 64 streams: tshark_counts.py; their events and tokens do not.)

Prints {"clients": {ADDR: {...figures, "streams": N}}} as JSON.
"""

import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tshark_counts import forwarded_client  # noqa: E402


def find(v, key):
    """The first value of key anywhere in tshark's JSON tree v."""
    if isinstance(v, dict):
        if key in v:
            return v[key]
        v = list(v.values())
    if isinstance(v, list):
        for x in v:
            r = find(x, key)
            if r is not None:
                return r
    return None


def frames(cap, ports, upgrade=False):
    """(client, TCP stream, from the server, HTTP/2 frame); with upgrade,
    also (client, TCP stream, False, {"upgrade": URI}) for each request
    that asks for an h2c Upgrade."""
    decode = []
    for port in ports:
        decode += ["-d", "tcp.port==%d,%s" % (port, "http" if upgrade else "http2")]
    out = subprocess.run(
        ["tshark", "-r", cap, "-n"] + decode + [
         "-Y", "http2 || http.upgrade", "-T", "json", "--no-duplicate-keys",
         "-J", "ip ipv6 tcp http http2"],
        check=True, capture_output=True, text=True).stdout
    for pkt in json.loads(out or "[]"):
        layers = pkt["_source"]["layers"]
        ip = layers.get("ip") or layers.get("ipv6")
        src = ip.get("ip.src") or ip.get("ipv6.src")
        dst = ip.get("ip.dst") or ip.get("ipv6.dst")
        tcp = layers["tcp"]
        sport = int(tcp["tcp.srcport"])
        from_server = sport in ports
        if not from_server and int(tcp["tcp.dstport"]) not in ports:
            continue
        http = layers.get("http")
        if upgrade and http and not from_server:
            for layer in http if isinstance(http, list) else [http]:
                uri = find(layer, "http.request.uri")
                if uri is not None and str(find(layer, "http.upgrade")).lower() == "h2c":
                    yield src, int(tcp["tcp.stream"]), False, {"upgrade": uri}
        h2 = layers.get("http2")
        if h2 is None:
            continue
        for layer in h2 if isinstance(h2, list) else [h2]:
            st = layer.get("http2.stream")
            for f in st if isinstance(st, list) else [st]:
                if not isinstance(f, dict) or "http2.type" not in f:
                    continue
                client = dst if from_server else src
                yield client, int(tcp["tcp.stream"]), from_server, f


def header_values(f, name):
    hdrs = f.get("http2.header")
    hdrs = hdrs if isinstance(hdrs, list) else ([hdrs] if hdrs else [])
    return [h.get("http2.header.value") or "" for h in hdrs
            if h.get("http2.header.name") == name]


def header_path(f):
    v = header_values(f, ":path")
    return v[0] if v else None


def figures(data):
    text = data.decode("utf-8", "replace")
    lines = re.split(r"\r\n|\r|\n", text)
    events = sum(1 for l in lines if l.startswith("data:"))
    done = sum(1 for l in lines if re.fullmatch(r"data: ?\[DONE\]", l))
    usages = []
    docs = [l[5:] for l in lines if l.startswith("data:")] or [text]
    for d in docs:
        try:
            v = json.loads(d)
        except ValueError:
            continue
        if isinstance(v, dict) and isinstance(v.get("usage"), dict):
            usages.append(v["usage"])
    tx = max([u.get("completion_tokens", 0) for u in usages] or [0])
    rx = max([u.get("prompt_tokens", 0) for u in usages] or [0])
    has = any("completion_tokens" in u for u in usages)
    return {"tx_events": events, "tx_tokens": tx, "rx_tokens": rx,
            "tx_tokens_estimated": 0 if has else events - done}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, action="append", required=True)
    ap.add_argument("--path", action="append", default=[])
    ap.add_argument("--upgrade", action="store_true",
                    help="HTTP/1.1 connections that switch to h2c by Upgrade")
    ap.add_argument("--forwarded-for", choices=("true", "x-forwarded-for", "forwarded"))
    ap.add_argument("--trusted", action="append", default=[], type=ipaddress.ip_network)
    ap.add_argument("cap")
    a = ap.parse_args()
    paths = a.path or ["/v1/chat/completions", "/v1/completions"]
    inf = {}
    body = {}
    who = {}
    for client, tcps, from_server, f in frames(a.cap, a.port, a.upgrade):
        if "upgrade" in f:
            inf[(client, tcps, 1)] = any(f["upgrade"].startswith(x) for x in paths)
            continue
        sid = int(f["http2.streamid"])
        t = int(f["http2.type"])
        key = (client, tcps, sid)
        if not from_server and t == 1:
            p = header_path(f)
            if p is not None:
                inf[key] = any(p.startswith(x) for x in paths)
                if a.forwarded_for and key not in who:
                    who[key], _ = forwarded_client(
                        client, header_values(f, "x-forwarded-for"),
                        header_values(f, "forwarded"), a.forwarded_for, a.trusted)
        elif from_server and t == 0 and "http2.data.data" in f:
            d = bytes.fromhex(f["http2.data.data"].replace(":", ""))
            if len(d) > int(f["http2.length"]):
                # The stream's last frame carries its body reassembled
                # (tshark's body reassembly): the whole, not a part.
                body[key] = bytearray(d)
            else:
                body.setdefault(key, bytearray()).extend(d)
    out = {}
    for key, isinf in inf.items():
        if not isinf:
            continue
        c = out.setdefault(who.get(key, key[0]), {"tx_events": 0, "tx_tokens": 0, "rx_tokens": 0,
                                    "tx_tokens_estimated": 0, "streams": 0})
        c["streams"] += 1
        for k, v in figures(bytes(body.get(key, b""))).items():
            c[k] += v
    json.dump({"clients": out}, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
