#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""What the HTTP/2 answers in a capture report, per client, from tshark.

  h2_body_counts.py --port N [--path PREFIX]... CAPTURE

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

Prints {"clients": {ADDR: {...figures, "streams": N}}} as JSON.
"""

import argparse
import json
import re
import subprocess
import sys


def frames(cap, port):
    out = subprocess.run(
        ["tshark", "-r", cap, "-n", "-d", "tcp.port==%d,http2" % port, "-Y", "http2",
         "-T", "json", "--no-duplicate-keys", "-J", "ip ipv6 tcp http2"],
        check=True, capture_output=True, text=True).stdout
    for pkt in json.loads(out or "[]"):
        layers = pkt["_source"]["layers"]
        ip = layers.get("ip") or layers.get("ipv6")
        src = ip.get("ip.src") or ip.get("ipv6.src")
        dst = ip.get("ip.dst") or ip.get("ipv6.dst")
        tcp = layers["tcp"]
        sport = int(tcp["tcp.srcport"])
        h2 = layers["http2"]
        for layer in h2 if isinstance(h2, list) else [h2]:
            st = layer.get("http2.stream")
            for f in st if isinstance(st, list) else [st]:
                if not isinstance(f, dict) or "http2.type" not in f:
                    continue
                client = dst if sport == port else src
                yield client, int(tcp["tcp.stream"]), sport == port, f


def header_path(f):
    hdrs = f.get("http2.header")
    for h in hdrs if isinstance(hdrs, list) else ([hdrs] if hdrs else []):
        if h.get("http2.header.name") == ":path":
            return h.get("http2.header.value")
    return None


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
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", action="append", default=[])
    ap.add_argument("cap")
    a = ap.parse_args()
    paths = a.path or ["/v1/chat/completions", "/v1/completions"]
    inf = {}
    body = {}
    for client, tcps, from_server, f in frames(a.cap, a.port):
        sid = int(f["http2.streamid"])
        t = int(f["http2.type"])
        key = (client, tcps, sid)
        if not from_server and t == 1:
            p = header_path(f)
            if p is not None:
                inf[key] = any(p.startswith(x) for x in paths)
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
        c = out.setdefault(key[0], {"tx_events": 0, "tx_tokens": 0, "rx_tokens": 0,
                                    "tx_tokens_estimated": 0, "streams": 0})
        c["streams"] += 1
        for k, v in figures(bytes(body.get(key, b""))).items():
            c[k] += v
    json.dump({"clients": out}, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
