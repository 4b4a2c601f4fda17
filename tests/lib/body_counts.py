#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""What the responses to inference requests in a capture carry, per client,
from the bodies tshark's HTTP dissector reassembles: the oracle of
penstock's tx_events, tx_tokens, rx_tokens and tx_tokens_estimated.

Usage: body_counts.py --port N [--port N]... [--path PREFIX]...
                      [--forwarded-for MODE --trusted PREFIX...] PCAP

A response counts when it comes from an endpoint port, answers a request
whose path starts with an endpoint path (penstock's default paths without
--path), and its Content-Type is text/event-stream or application/json.
Its body is the one tshark reassembles (TCP reassembly, chunked coding
undone: http.file_data's bytes, `tshark -T json -x`, several responses of
one frame each on its own):
  tx_events            text/event-stream lines that start with "data:"
  tx_tokens/rx_tokens  usage.completion_tokens / usage.prompt_tokens of an
                       application/json body (Python's json), or the
                       highest of a stream's events' usage figures
  tx_tokens_estimated  a stream without usage: its data lines but [DONE]
With --forwarded-for MODE (true, x-forwarded-for or forwarded, as the
endpoint key forwarded_for) a response's figures are those of the client
its request's X-Forwarded-For or Forwarded lines name (tshark's
http.request.line items of the request, walked as tests/lib/tshark_counts.py
walks them: only from a peer inside a --trusted prefix), else the
connection's client's.
Prints {"clients": [{"client", the four fields}]} for every client with a
response that counts."""
import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tshark_counts import forwarded_client, tshark_base  # noqa: E402

# penstock's default endpoint paths (README: endpoints[].paths).
DEFAULT_PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"]
FIELDS = ("tx_events", "tx_tokens", "rx_tokens", "tx_tokens_estimated")


def tshark(pcap, ports, args):
    cmd = tshark_base(pcap)
    for p in ports:
        cmd += ["-d", f"tcp.port=={p},http"]
    run = subprocess.run(cmd + args, capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        raise RuntimeError(f"tshark: {run.stderr.strip()[-300:]}")
    return run.stdout


def usage_of(obj):
    u = obj.get("usage") if isinstance(obj, dict) else None
    if not isinstance(u, dict):
        return None
    return u.get("completion_tokens") or 0, u.get("prompt_tokens") or 0


def figures(ctype, body):
    """What one response's body gives: {field: n}."""
    out = dict.fromkeys(FIELDS, 0)
    if ctype.startswith("text/event-stream"):
        data = [ln[5:].strip() for ln in re.split(rb"\r\n|\r|\n", body) if ln.startswith(b"data:")]
        out["tx_events"] = len(data)
        usage = []
        for d in data:
            if d != b"[DONE]":
                try:
                    u = usage_of(json.loads(d))
                except ValueError:
                    u = None
                if u:
                    usage.append(u)
        if usage:
            out["tx_tokens"] = max(u[0] for u in usage)
            out["rx_tokens"] = max(u[1] for u in usage)
        else:
            out["tx_tokens_estimated"] = sum(1 for d in data if d != b"[DONE]")
    elif ctype.startswith("application/json"):
        try:
            u = usage_of(json.loads(body))
        except ValueError:
            u = None
        if u:
            out["tx_tokens"], out["rx_tokens"] = u
    return out


def listed(v):
    return v if isinstance(v, list) else [] if v is None else [v]


def first(layers, key):
    return listed(layers.get(key))[0] if key in layers else None


def field(h, key):
    """A field of an HTTP layer, or of its first line's subtree."""
    if key in h:
        return listed(h[key])[0]
    for v in h.values():
        if isinstance(v, dict) and key in v:
            return listed(v[key])[0]
    return None


def header_lines(h, name):
    """The values of the request's header lines called name (any case), in
    order, from tshark's http.request.line items."""
    out = []
    for line in listed(h.get("http.request.line")):
        n, sep, v = line.partition(":")
        if sep and n.lower() == name:
            out.append(v.strip(" \t\r\n"))
    return out


def counts(pcap, ports, paths, forwarded=None, trusted=()):
    """({client: {field: n}}, the paths of the responses' requests).

    One tshark run: every HTTP frame, as JSON with each field's bytes (-x)
    and repeated layers as lists (several messages in one frame). A
    response answers the oldest request of its connection not yet answered
    (HTTP/1 keeps them in order; tshark's own http.response_for.uri names
    the last request of a pipelined frame)."""
    frames = json.loads(tshark(pcap, ports, ["-Y", "http", "-T", "json", "-x",
                                             "--no-duplicate-keys"]) or "[]")
    want, seen, queues = {}, set(), {}
    for fr in frames:
        layers = fr["_source"]["layers"]
        ip = first(layers, "ip") or first(layers, "ipv6") or {}
        tcp = first(layers, "tcp") or {}
        client = listed(ip.get("ip.dst") or ip.get("ipv6.dst"))[0]
        sport = int(listed(tcp.get("tcp.srcport"))[0])
        q = queues.setdefault(listed(tcp.get("tcp.stream"))[0], [])
        for h in listed(layers.get("http")):
            uri = field(h, "http.request.uri")
            if uri is not None:
                who = listed(ip.get("ip.src") or ip.get("ipv6.src"))[0]
                if forwarded:
                    who, _ = forwarded_client(who, header_lines(h, "x-forwarded-for"),
                                              header_lines(h, "forwarded"), forwarded, trusted)
                q.append((uri, who))
                continue
            code = field(h, "http.response.code")
            if code is None:
                continue
            code = int(code)
            if 100 <= code < 200:
                continue
            path, who = q.pop(0) if q else ("", client)
            if sport not in ports:
                continue
            ctype = (listed(h.get("http.content_type")) or [""])[0].lower()
            if not ctype.startswith(("text/event-stream", "application/json")):
                continue
            seen.add(path)
            if not any(path.startswith(p) for p in paths):
                continue
            raw = listed(h.get("http.file_data_raw"))
            body = bytes.fromhex(raw[0]) if raw else b""
            got = figures(ctype, body)
            c = want.setdefault(who, dict.fromkeys(FIELDS, 0))
            for k in FIELDS:
                c[k] += got[k]
    return want, seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, action="append", required=True)
    ap.add_argument("--path", action="append")
    ap.add_argument("--forwarded-for", choices=("true", "x-forwarded-for", "forwarded"))
    ap.add_argument("--trusted", action="append", default=[], type=ipaddress.ip_network)
    ap.add_argument("pcap")
    a = ap.parse_args()
    want, _ = counts(a.pcap, a.port, a.path or DEFAULT_PATHS, a.forwarded_for, a.trusted)
    print(json.dumps({"clients": [dict(client=c, **v) for c, v in sorted(want.items())]}))


if __name__ == "__main__":
    main()
