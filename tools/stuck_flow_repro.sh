#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Hunts the stuck flow of issue 12, section 3: a flow whose expected client
# sequence (ps_flows dir[0].next) stays behind bytes the server received
# and acknowledged, so that every later segment is stashed as out of order
# (ps_ooo fills), nothing is counted and nothing is limited.
#
# Usage: tools/stuck_flow_repro.sh [-n ITERATIONS] [-s SECONDS] [-o OUTDIR]
#                                  [-c CLIENT] [-r SEED] [-k]
#   -n  iterations (default 40)
#   -s  seconds of traffic per iteration (default 8)
#   -o  where the evidence of each iteration that reproduces is kept
#       (default /tmp/pst-stuck.<pid>); -k keeps every iteration's
#   -c  client: mix (default: each iteration picks), plain (http.client,
#       header block and body as two sends, Nagle on), split (TCP_NODELAY,
#       each request cut in two at a varying offset), raw (tools/
#       adversary.py raw-ooo --variant two-holes: four pieces sent 1, 3, 2,
#       0, two disjoint out-of-order ranges at once), pipe (TCP_NODELAY,
#       16 requests per send: a flight of many segments behind the held-back
#       first one)
#   -r  seed of the variation (default 1)
#   -x  offline instead: captures of a request cut in four pieces sent in
#       several orders (two disjoint out-of-order ranges: 1320, 1302, 3102)
#       through `penstock replay`, against the tshark oracle
# Environment: PS_BIN (default .output), PS_STUCK_HOOK (a command run at
# each snapshot, its output kept in the iteration's hook.txt); PS_STUCK_SACK
# (0|1), PS_STUCK_OFFLOAD (on|off), PS_STUCK_XDP (on|off), PS_STUCK_LOAD
# (0|1), PS_STUCK_CONNS, PS_STUCK_BODY (bytes), PS_STUCK_SPLIT (offset) pin
# a knob instead of varying it, e.g. to run one iteration's set-up again;
# PS_STUCK_LOSS=N drops N per thousand of the client's data segments on
# the wire (a tc program ahead of penstock's on the server end), a network
# that loses packets.
#
# Set-up, as tests/e2e/test_enforce: server and client network namespaces
# joined by one veth pair (tests/lib/netns.sh), tests/lib/llm_server.py in
# the server namespace, penstockd (.output/penstockd) on the server end
# with limits.default {requests_per_minute: 120, burst: 5}, started afresh
# for every iteration (fresh maps) with its own pin directory. Each
# iteration varies, from the seed:
#   sack      net.ipv4.tcp_sack in the client namespace, 0 or 1 (0: the
#             client's RTO retransmissions collapse a held-back header
#             segment with the body after it, tcp_retrans_try_collapse)
#   offload   TSO/GSO/GRO off on both ends (the issue's set-up) or on
#   xdp       penstockd's XDP left attached (veth then receives through its
#             NAPI ring) or detached (ip link set ... xdpdrv off)
#   load      none, or stress-ng on one CPU (80%) for the iteration
#   conns     1, 2, 4, 8 or 16 keep-alive connections
#   split     where a request is cut in two (split client): 1 byte to the
#             whole header block and into the body
#   body      a short JSON body (one segment) or a 3 KB one (three)
# While the client runs, 1.5 s before its end, the script takes the
# penstock client's counters, `bpftool map dump` of ps_flows and ps_ooo
# and `ss -tin` in the server namespace, twice 0.5 s apart. An iteration
# reproduces when a flow's dir[0].next - isn - 1 stays behind the server
# socket's bytes_received in both snapshots, or the client got more than
# 1.5 x (5 + 2 x seconds) answers, or ps_ooo holds more than 64 entries.
# Its directory then keeps tcpdumps of both veth ends (cli.pcap on the
# client end, srv.pcap on the server end), the map dumps, ss, the client's
# and the daemon's output, and summary.txt (the stuck flows' next, ISN,
# ranges and parser state against the server's byte count).
#
# Needs root, tcpdump, tshark, bpftool, ethtool, nft, stress-ng, python3
# with scapy (raw client). Everything runs in the two namespaces, which are
# removed on every path, with the daemon and its pins.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PS_BIN=${PS_BIN:-$top/.output}
PY=/usr/bin/python3
PORT=8000
N=40 SECS=8 OUT=/tmp/pst-stuck.$$ CLIENT=mix SEED=1 KEEPALL=0 OFFLINE=0
while getopts "n:s:o:c:r:kx" o; do
	case $o in
	x) OFFLINE=1 ;;
	n) N=$OPTARG ;;
	s) SECS=$OPTARG ;;
	o) OUT=$OPTARG ;;
	c) CLIENT=$OPTARG ;;
	r) SEED=$OPTARG ;;
	k) KEEPALL=1 ;;
	*) sed -n '4,/^# Set-up/p' "$0"; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }

# -x: no live traffic. A capture of one connection whose first request
# comes in four pieces sent in a given order, then two more requests in
# order, each answered, through `penstock replay` and the tshark oracle.
if [ "$OFFLINE" = 1 ]; then
	mkdir -p "$OUT"
	cat >"$OUT/pieces.py" <<'EOF'
import sys
from scapy.all import Ether, IP, TCP, wrpcap
out, order = sys.argv[1], sys.argv[2]
E = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
Er = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
pk, t = [], [1700000000.0]
def emit(frm, flags, seq, ack, data=b""):
    a, b, sp, dp, e = (("198.18.0.2", "198.18.0.1", 40000, 8000, E) if frm == "c" else
                       ("198.18.0.1", "198.18.0.2", 8000, 40000, Er))
    p = e / IP(src=a, dst=b) / TCP(sport=sp, dport=dp, flags=flags, seq=seq, ack=ack,
                                   window=65535) / data
    t[0] += 0.001
    p.time = t[0]
    pk.append(p)
def req(i):
    b = b'{"model":"m","messages":[{"role":"user","content":"go %d"}]}' % i
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nContent-Length: %d\r\n\r\n" % len(b)) + b
resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
seq, sseq = 1001, 5001
emit("c", "S", 1000, 0); emit("s", "SA", 5000, 1001); emit("c", "A", 1001, 5001)
for i in range(3):
    r = req(i)
    if i == 0:
        cuts = [0, 20, 60, 120, len(r)]
        for k in order:
            k = int(k)
            emit("c", "PA", seq + cuts[k], sseq, r[cuts[k]:cuts[k + 1]])
            emit("s", "A", sseq, seq + (len(r) if k == int(order[-1]) else 0))
    else:
        emit("c", "PA", seq, sseq, r)
    seq += len(r)
    emit("s", "A", sseq, seq)
    emit("s", "PA", sseq, seq, resp)
    sseq += len(resp)
    emit("c", "A", seq, sseq)
wrpcap(out, pk)
EOF
	echo "3 requests on one connection, the first in 4 pieces sent in the order given:"
	for order in 0123 3210 2310 1320 1302 3102 0213; do
		"$PY" "$OUT/pieces.py" "$OUT/pieces-$order.pcap" "$order"
		p=$("$PS_BIN/penstock" replay --port "$PORT" --json "$OUT/pieces-$order.pcap" |
			"$PY" -c 'import json,sys; c=json.load(sys.stdin)["clients"][0]; print(c["requests"], c["rx_payload"])')
		o=$("$PY" "$top/tests/lib/tshark_counts.py" --port "$PORT" "$OUT/pieces-$order.pcap" |
			"$PY" -c 'import json,sys; c=json.load(sys.stdin)["clients"][0]; print(c["requests"], c["rx_payload"])')
		echo "  order $order: penstock requests, rx_payload: $p; tshark: $o"
	done
	exit 0
fi
for t in ip tcpdump bpftool ethtool nft stress-ng ss nsenter "$PY"; do
	command -v "$t" >/dev/null || { echo "$t missing (make deps)" >&2; exit 77; }
done
[ -x "$PS_BIN/penstockd" ] || { echo "build first (make)" >&2; exit 77; }
mkdir -p "$OUT"

. "$top/tests/lib/netns.sh"
PIN=""
DPID=""
LOADPID=""
stop_daemon() {
	if [ -n "$DPID" ]; then
		ps_stop "$DPID" TERM 10 >/dev/null 2>&1 || true
		DPID=""
	fi
	[ -n "$PIN" ] && rm -rf "$PIN"
	return 0
}
finish() {
	[ -n "$LOADPID" ] && ps_stop "$LOADPID" TERM 2 >/dev/null 2>&1
	stop_daemon
}
ps_at_cleanup finish
ps_netns_setup 16

ps_spawn "$PS_NS_SRV" "$OUT/server.log" "$PY" "$top/tests/lib/llm_server.py" --port "$PORT" \
	--token-delay 0 --tokens 8
ps_wait_port "$PS_NS_SRV" "$PORT"
cat >"$OUT/penstock.yaml" <<EOF
interfaces: [$PS_DEV_SRV]
endpoints: [{port: $PORT}]
limits:
  default:
    requests_per_minute: 120
    burst: 5
EOF
ps_cli nft -f - <<EOF
table inet pst_stuck {
	chain out {
		type filter hook output priority 0; policy accept;
		tcp sport 61000-64999 tcp flags & rst == rst drop
	}
}
EOF
ps_cli nft list tables >/dev/null

# PS_STUCK_LOSS=N: a lossy wire. A tc program on the server end, ahead of
# penstock's (pref 1, TC_ACT_UNSPEC to let the next one run), drops N per thousand of the client's data segments
# at random: neither penstock nor the server sees them, both captures do
# (tcpdump taps come first), and the client's TCP must send them again.
if [ -n "${PS_STUCK_LOSS:-}" ]; then
	cat >"$OUT/lossy.bpf.c" <<EOF
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
SEC("tc")
int lossy(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_TCP)
		return TC_ACT_UNSPEC;
	th = (void *)ip + ip->ihl * 4;
	if ((void *)(th + 1) > end || th->dest != bpf_htons($PORT) ||
	    bpf_ntohs(ip->tot_len) <= ip->ihl * 4 + th->doff * 4)
		return TC_ACT_UNSPEC;
	return bpf_get_prandom_u32() % 1000 < $PS_STUCK_LOSS ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}
char LICENSE[] SEC("license") = "GPL";
EOF
	clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$OUT/lossy.bpf.c" \
		-o "$OUT/lossy.o"
fi

# The kernel-socket client: http.client (split -1) or TCP_NODELAY sends
# cut at an offset.
cat >"$OUT/loop.py" <<'EOF'
import http.client, json, socket, sys, threading, time
src, dst, secs, conns, split, blen = sys.argv[1], sys.argv[2], float(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
st = {"ok": 0, "bad": 0, "sent": 0, "errors": 0, "late": 0}
lock = threading.Lock()
end = time.monotonic() + secs
def body(i):
    pad = "x" * max(0, blen - 90)
    return json.dumps({"model": "m", "max_tokens": 8,
                       "messages": [{"role": "user", "content": "go %d %s" % (i, pad)}]})
def add(k):
    with lock:
        # An answer after the end (a connection that waited out a
        # retransmission backoff) is not held against the limit.
        st["late" if k == "ok" and time.monotonic() > end else k] += 1
def answer(f):
    """Read one answer (status line, headers, Content-Length body) and count it."""
    line = f.readline()
    n = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        if h.lower().startswith(b"content-length:"):
            n = int(h.split(b":")[1])
    f.read(n)
    add("ok" if b" 200 " in line else "bad")
def plain(j):
    c = http.client.HTTPConnection(dst, 8000, source_address=(src, 0), timeout=secs + 5)
    i = j * 1000000
    try:
        while time.monotonic() < end:
            c.request("POST", "/v1/chat/completions", body(i), {"Content-Type": "application/json"})
            i += 1
            add("sent")
            r = c.getresponse()
            r.read()
            add("ok" if r.status == 200 else "bad")
    except Exception as e:
        add("errors")
def cut(j):
    s = socket.create_connection((dst, 8000), timeout=secs + 5, source_address=(src, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    i = j * 1000000
    try:
        while time.monotonic() < end:
            b = body(i).encode()
            i += 1
            req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   b"application/json\r\nContent-Length: %d\r\n\r\n" % len(b)) + b
            k = max(1, min(split, len(req) - 1))
            s.sendall(req[:k])
            time.sleep(0.001)
            s.sendall(req[k:])
            add("sent")
            answer(f)
    except Exception as e:
        add("errors")
def pipe(j):
    """16 requests in one send (TCP_NODELAY), then their 16 answers."""
    s = socket.create_connection((dst, 8000), timeout=secs + 5, source_address=(src, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    i = j * 1000000
    try:
        while time.monotonic() < end:
            data = b""
            for _ in range(16):
                b = body(i).encode()
                i += 1
                data += (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"application/json\r\nContent-Length: %d\r\n\r\n" % len(b)) + b
            s.sendall(data)
            for _ in range(16):
                add("sent")
                answer(f)
    except Exception as e:
        add("errors")
fn = plain if split == -1 else pipe if split == -2 else cut
ts = [threading.Thread(target=fn, args=(j,)) for j in range(conns)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(json.dumps(st))
EOF

# Snapshot: the flows of one client, the server sockets' byte counts.
cat >"$OUT/judge.py" <<'EOF'
import json, re, socket, struct, sys
flows_files, ss_files, client = sys.argv[1].split(","), sys.argv[2].split(","), sys.argv[3]
ooo_keys = sys.argv[4] if len(sys.argv) > 4 else None
def flows(path):
    try:
        d = json.load(open(path))
    except ValueError:
        return {}
    out = {}
    for e in d:
        k, v = e["key"], e["value"]
        a = socket.inet_ntoa(struct.pack("<I", k["client"]["a"][0]))
        if a != client:
            continue
        port = socket.ntohs(k["cport"])
        out[port] = v
    return out
def ss(path):
    out = {}
    cur = None
    for line in open(path):
        m = re.search(r"\S+:8000\s+\[?([0-9a-f.:]+?)\]?:(\d+)\s*$", line.strip())
        if m and m.group(1).endswith(client):
            cur = int(m.group(2))
            continue
        if cur is not None:
            b = re.search(r"bytes_received:(\d+)", line)
            out[cur] = int(b.group(1)) if b else 0
            cur = None
    return out
snaps = [(flows(f), ss(s)) for f, s in zip(flows_files, ss_files)]
# Stuck: in both snapshots dir[0].next is behind what the server socket
# received, and it did not move while the server received more. Dead: the
# parser gave up on the stream (PS_H1_DEAD): nothing on it counts any more.
res = []
(f1, s1), (f2, s2) = snaps[0], snaps[-1]
for port, v in sorted(f2.items()):
    d = v["dir"][0]
    got = (d["next"] - d["isn"] - 1) & 0xffffffff
    rcv = s2.get(port)
    old = f1.get(port)
    got1 = (old["dir"][0]["next"] - d["isn"] - 1) & 0xffffffff if old else None
    rcv1 = s1.get(port)
    state = v["http"]["state"]
    ranges = [((r["start"] - d["isn"] - 1) & 0xffffffff, (r["end"] - d["isn"] - 1) & 0xffffffff)
              for r in d["ranges"][:d["nranges"]]]
    what = []
    if rcv is not None and got < rcv and got1 == got and rcv1 is not None and rcv1 < rcv:
        what.append("STUCK")
    if state == 10:
        what.append("DEAD")
    if what:
        res.append("port %d %s: dir[0].next = isn+1+%d (%s 0.5 s before), server bytes_received "
                   "%s (%s before); nranges %d ranges %s; http.state %d flags %#x" % (
                       port, "+".join(what), got, got1, rcv, rcv1, d["nranges"], ranges,
                       state, v["http"]["flags"]))
# ps_ooo entries of this client's flows: beyond next (kept for a hole that
# is still open: a pile-up when many) or behind it (never replayed: a leak).
if ooo_keys:
    ahead = behind = 0
    port = None
    for line in open(ooo_keys):
        m = re.search(r'"(cport|seq)": (\d+)', line)
        if not m:
            continue
        if m.group(1) == "cport":
            port = socket.ntohs(int(m.group(2)))
            continue
        v = f2.get(port)
        if v is None:
            continue
        d = v["dir"][0]
        if ((int(m.group(2)) - d["next"]) & 0xffffffff) < 1 << 31:
            ahead += 1
        else:
            behind += 1
    res.append("ps_ooo of this client: %d entries at or beyond next, %d behind it (leaked)"
               % (ahead, behind))
print("\n".join(res))
EOF

pick() {	# SEED-DEPENDENT CHOICE: pick N -> 0..N-1
	echo $((RANDOM % $1))
}
RANDOM=$SEED
CONNS_CHOICES=(1 1 2 4 8 16)
CLIENT_CHOICES=(plain plain split split pipe raw)
found=0
for ((it = 1; it <= N; it++)); do
	sack=$(pick 2)
	offload=$( [ "$(pick 3)" = 0 ] && echo on || echo off)
	xdp=$( [ "$(pick 3)" = 0 ] && echo off || echo on)
	load=$(pick 2)
	conns=${CONNS_CHOICES[$(pick 6)]}
	body=$( [ "$(pick 3)" = 0 ] && echo 3000 || echo 100)
	split=$((1 + $(pick 260)))
	cl=$CLIENT
	if [ "$cl" = mix ]; then
		cl=${CLIENT_CHOICES[$(pick 6)]}
	fi
	# Any knob may be pinned from the environment.
	sack=${PS_STUCK_SACK:-$sack} offload=${PS_STUCK_OFFLOAD:-$offload}
	xdp=${PS_STUCK_XDP:-$xdp} load=${PS_STUCK_LOAD:-$load} conns=${PS_STUCK_CONNS:-$conns}
	body=${PS_STUCK_BODY:-$body} split=${PS_STUCK_SPLIT:-$split}
	[ "$cl" = plain ] && split=-1
	[ "$cl" = pipe ] && split=-2
	addr=${PS_CLI4[$(((it - 1) % 16))]}
	dir=$OUT/iter-$it
	mkdir -p "$dir"

	ps_cli sysctl -qw net.ipv4.tcp_sack="$sack"

	for ns in "$PS_NS_SRV" "$PS_NS_CLI"; do
		dev=$PS_DEV_SRV
		[ "$ns" = "$PS_NS_CLI" ] && dev=$PS_DEV_CLI
		ip netns exec "$ns" ethtool -K "$dev" tso "$offload" gso "$offload" gro "$offload" \
			>/dev/null 2>&1 || true
	done
	PIN=/sys/fs/bpf/pst-stuck-$$-$it
	nsenter --net="/var/run/netns/$PS_NS_SRV" "$PS_BIN/penstockd" --foreground \
		--config "$OUT/penstock.yaml" --socket "$dir/sock" --state-dir "$dir/state" \
		--pin-dir "$PIN" >"$dir/daemon.log" 2>&1 </dev/null &
	DPID=$!
	PS_NETNS_PIDS+=("$DPID")
	for ((i = 0; i < 100; i++)); do
		grep -q "the datapath:" "$dir/daemon.log" 2>/dev/null && break
		sleep 0.1
	done
	[ "$xdp" = off ] && ip -n "$PS_NS_SRV" link set dev "$PS_DEV_SRV" xdpdrv off
	if [ -n "${PS_STUCK_LOSS:-}" ]; then
		ps_srv tc filter add dev "$PS_DEV_SRV" ingress pref 1 bpf da obj "$OUT/lossy.o" sec tc
	fi
	xdp_now=$(ip -n "$PS_NS_SRV" link show "$PS_DEV_SRV" | grep -q prog/xdp && echo on || echo off)

	ps_spawn "$PS_NS_CLI" "$dir/tcpdump-cli.log" tcpdump -i "$PS_DEV_CLI" -s 0 -U -B 8192 \
		-w "$dir/cli.pcap" "tcp port $PORT and host $addr"
	capc=$PS_SPAWNED
	ps_spawn "$PS_NS_SRV" "$dir/tcpdump-srv.log" tcpdump -i "$PS_DEV_SRV" -s 0 -U -B 8192 \
		-w "$dir/srv.pcap" "tcp port $PORT and host $addr"
	caps=$PS_SPAWNED
	sleep 0.5
	if [ "$load" = 1 ]; then
		stress-ng --cpu 1 --cpu-load 80 --timeout "${SECS}s" >/dev/null 2>&1 &
		LOADPID=$!
		PS_NETNS_PIDS+=("$LOADPID")
	fi
	if [ "$cl" = raw ]; then
		ps_spawn "$PS_NS_CLI" "$dir/client.err" "$PY" "$top/tools/adversary.py" --mode raw-ooo \
			--variant two-holes --src "$addr" --dst "$PS_SRV4" --seconds "$SECS" --grace 5 \
			--seed "$it"
	else
		ps_spawn "$PS_NS_CLI" "$dir/client.err" "$PY" "$OUT/loop.py" "$addr" "$PS_SRV4" \
			"$SECS" "$conns" "$split" "$body"
	fi
	cpid=$PS_SPAWNED
	sleep "$(awk "BEGIN { print $SECS - 1.5 }")"
	for snap in 1 2; do
		bpftool map dump pinned "$PIN/ps_flows" >"$dir/flows-$snap.json" 2>/dev/null || true
		ip netns exec "$PS_NS_SRV" ss -tin "sport = :$PORT" >"$dir/ss-$snap.txt" 2>/dev/null
		[ $snap = 1 ] && sleep 0.5
	done
	# PS_STUCK_HOOK: a command run at the snapshot (e.g. a dump of an
	# instrumentation map), its output kept as hook.txt.
	[ -n "${PS_STUCK_HOOK:-}" ] && { eval "$PS_STUCK_HOOK" >"$dir/hook.txt" 2>&1 || true; }
	bpftool map dump pinned "$PIN/ps_ooo" 2>/dev/null |
		grep -A 20 '"key"' | grep -E '"(cport|seq)"' >"$dir/ooo-keys.txt" || true
	ooo=$(grep -c '"seq"' "$dir/ooo-keys.txt" || true)
	"$PS_BIN/penstock" client "$addr" --json --socket "$dir/sock" >"$dir/client.json" 2>/dev/null ||
		true
	"$PS_BIN/penstock" status --json --socket "$dir/sock" >"$dir/status.json" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	_ps_forget "$cpid"
	if [ -n "$LOADPID" ]; then
		ps_stop "$LOADPID" TERM 2 >/dev/null 2>&1 || true
		LOADPID=""
	fi
	sleep 0.3
	ps_stop "$capc" INT 5 >/dev/null 2>&1 || true
	ps_stop "$caps" INT 5 >/dev/null 2>&1 || true
	stop_daemon
	cp "$dir/client.err" "$dir/client.out" 2>/dev/null || true
	okn=$(grep -o '"ok": [0-9]*' "$dir/client.err" | tail -1 | grep -o '[0-9]*$' || echo "?")
	counted=$("$PY" -c 'import json,sys
try: print(json.load(open(sys.argv[1]))["windows"]["total"]["inference_requests"])
except Exception: print("?")' "$dir/client.json")
	stuck=$("$PY" "$OUT/judge.py" "$dir/flows-1.json,$dir/flows-2.json" \
		"$dir/ss-1.txt,$dir/ss-2.txt" "$addr" "$dir/ooo-keys.txt")
	ahead=$(sed -n 's/^ps_ooo of this client: \([0-9]*\) entries at.*/\1/p' <<<"$stuck")
	want=$((5 + 2 * ${SECS%.*}))
	why=""
	grep -q " STUCK" <<<"$stuck" && why="STUCK: next behind the server"
	grep -q "DEAD" <<<"$stuck" && why="$why; parser DEAD on $(grep -c DEAD <<<"$stuck") flow(s)"
	if [ "$okn" != "?" ] && [ "$okn" -gt $((want * 3 / 2)) ]; then
		# Counted but not held (issue 12 section 2), or not even counted.
		if [ "$counted" != "?" ] && [ "$counted" -ge $((okn * 2 / 3)) ]; then
			why="$why; ESCAPE, counted: $okn answered (limit $want)"
		else
			why="$why; ESCAPE, uncounted: $okn answered (limit $want)"
		fi
	fi
	[ "${ahead:-0}" -gt 64 ] && why="$why; ps_ooo pile-up: ${ahead} entries beyond next"
	why=${why#; }
	printf 'iter %d: client=%s sack=%s offload=%s xdp=%s load=%s conns=%s split=%s body=%s: answered %s, counted %s, ps_ooo %s (%s); %s\n' \
		"$it" "$cl" "$sack" "$offload" "$xdp_now" "$load" "$conns" "$split" "$body" "$okn" \
		"$counted" "$ooo" "$(sed -n 's/^ps_ooo of this client: //p' <<<"$stuck")" "${why:-ok}" |
		tee -a "$OUT/log.txt"
	if [ -n "$why" ]; then
		found=$((found + 1))
		{
			echo "$why"
			echo "$stuck"
			"$PY" -c 'import json,sys; print("stats:", json.load(open(sys.argv[1])).get("stats"))' \
				"$dir/status.json" 2>/dev/null
		} >"$dir/summary.txt"
		[ -n "$stuck" ] && echo "$stuck" | sed 's/^/    /'
	elif [ "$KEEPALL" = 0 ]; then
		rm -rf "$dir"
	fi
done
echo "$found of $N iterations reproduced; evidence under $OUT"
