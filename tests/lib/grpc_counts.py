#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Independent oracle for penstock's gRPC message counters.

Usage: grpc_counts.py --port N [--port N]... [--path PREFIX]... PCAP

Prints {"clients": [{"client", "rx_messages", "tx_messages"}, ...]} sorted
by client. The messages are tshark 4.0's: its HTTP/2 dissector ("Decode As"
http2 on the endpoint ports, which reassembles frames across segments)
hands the DATA of a stream whose content-type is application/grpc to its
gRPC dissector, which gives one grpc.message_length for each message it
reassembles (across DATA frames and segments), in the frame where the
message ends. A message counts when its stream's :path (as tshark's HPACK
decoding gives it) starts with one of the --path prefixes: rx_messages for
those the client sent (frames to an endpoint port), tx_messages for the
server's, each to the connection's client.

tshark's gRPC tree does not name its stream: a frame's messages belong to
the streams of the DATA frames in it. A frame whose DATA frames are of
inference and other streams at once cannot be shared out: the oracle stops
(exit 1) rather than guess.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

TSHARK_OPTS = [
    "-o", "tcp.desegment_tcp_streams:TRUE",
    "-o", "tcp.reassemble_out_of_order:TRUE",
    "-o", "tcp.analyze_sequence_numbers:TRUE",
    "-o", "tcp.check_checksum:FALSE",
    "-o", "tcp.try_heuristic_first:FALSE",
    "-o", "tcp.no_subdissector_on_error:TRUE",
]


def layers_of(pkt):
    return dict(pkt)["_source"]


def count(pcap, ports, paths):
    cmd = [os.environ.get("TSHARK", "tshark"), "-n", "-r", pcap] + TSHARK_OPTS
    cmd += ["-Y", "http2", "-T", "json", "-J", "frame ip ipv6 tcp http2 grpc"]
    for p in ports:
        cmd += ["-d", "tcp.port==%d,http2" % p]
    with tempfile.TemporaryDirectory(prefix="grpc-counts-") as conf:
        env = dict(os.environ, WIRESHARK_CONFIG_DIR=conf)
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        raise SystemExit("tshark failed on %s (exit %d)" % (pcap, proc.returncode))
    pkts = json.loads(proc.stdout.decode("utf-8", "surrogateescape") or "[]",
                      object_pairs_hook=lambda pairs: pairs)
    paths_of = {}		# (tcp stream, http2 stream) -> :path
    clients = {}
    for pkt in pkts:
        layers = dict(layers_of(pkt))["layers"]
        frame = src = dst = sport = dport = conn = None
        data_sids = set()
        msgs = 0
        for name, val in layers:
            if not isinstance(val, list):
                continue
            d = dict(val)
            if name == "frame":
                frame = int(d["frame.number"])
            elif name == "ip":
                src, dst = d.get("ip.src"), d.get("ip.dst")
            elif name == "ipv6":
                src, dst = d.get("ipv6.src"), d.get("ipv6.dst")
            elif name == "tcp":
                sport, dport = int(d["tcp.srcport"]), int(d["tcp.dstport"])
                conn = int(d["tcp.stream"])
            elif name == "http2":
                for k, st in val:
                    if k != "http2.stream" or not isinstance(st, list):
                        continue
                    sd = dict(st)
                    sid = int(sd.get("http2.streamid", "0"))
                    typ = sd.get("http2.type")
                    if typ == "0" and sid:
                        data_sids.add(sid)
                    if typ not in ("1", "9") or dport not in ports:
                        continue
                    for hk, hv in st:
                        if hk == "http2.header" and isinstance(hv, list):
                            hd = dict(hv)
                            if (hd.get("http2.header.name") == ":path" and
                                    (conn, sid) not in paths_of):
                                paths_of[(conn, sid)] = hd.get("http2.header.value", "")
            elif name == "grpc":
                msgs += sum(1 for k, _ in val if k == "grpc.message_length")
        if not msgs:
            continue
        inf = {sid for sid in data_sids
               if any(paths_of.get((conn, sid), "").startswith(p) for p in paths)}
        if inf and inf != data_sids:
            raise SystemExit("%s frame %d: gRPC messages of inference streams %s and of "
                             "others %s in one frame" % (pcap, frame, sorted(inf),
                                                          sorted(data_sids - inf)))
        if not inf:
            continue
        to_server = dport in ports
        client = src if to_server else dst
        c = clients.setdefault(client, {"client": client, "rx_messages": 0,
                                        "tx_messages": 0})
        c["rx_messages" if to_server else "tx_messages"] += msgs
    return {"clients": [clients[k] for k in sorted(clients)]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, action="append", default=[],
                    help="endpoint (server) TCP port; repeatable")
    ap.add_argument("--path", action="append", default=[],
                    help="inference :path prefix; repeatable")
    ap.add_argument("pcap")
    a = ap.parse_args()
    if not a.port:
        ap.error("at least one --port is needed")
    if shutil.which(os.environ.get("TSHARK", "tshark")) is None:
        sys.stderr.write("tshark not found\n")
        return 77
    json.dump(count(a.pcap, set(a.port), a.path or ["/"]), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
