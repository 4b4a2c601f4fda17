#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The realistic mix (issue 14): the same inference workload over HTTP/1.1
# keep-alive and over HTTP/2 (prior knowledge), captured once from real
# clients and servers, then both captures through the ingress and egress
# programs with BPF_PROG_TEST_RUN (ps_bench --mix), side by side in one
# run: ns a request and a packet, and HTTP/2's ratio to HTTP/1's.
#
# The workload: h2load (nghttp2's client; --h1 for HTTP/1.1) sends N
# chat completions with a JSON body ("stream": true, the usage in the
# last event), one connection, one request at a time, to nghttpx, which
# takes both protocols on one cleartext port (HTTP/1.1, and h2c with
# prior knowledge: HPACK with its dynamic table as nghttp2 encodes it,
# SETTINGS and their ACKs, WINDOW_UPDATE) and forwards to the stand-in
# server (tests/lib/llm_server.py: an event stream of max_tokens events
# and a usage chunk). tcpdump records the client's side (nghttpx's port)
# on the loopback of a network namespace of its own (unshare -n: nothing
# outside sees it, nothing stays after), MTU 1500 and no segmentation
# offload, so that each packet is a wire packet.
#
#   tools/bench_mix.sh OUT.md    (root; BENCH_MIX_REQUESTS, default 2000;
#                                 BENCH_MIX_TOKENS, default 16; BENCH_RUNS)
#
# BENCH_MIX_KEEP=DIR keeps the captures (h1.pcap, h2.pcap) and the
# clients' logs there; BENCH_MIX_CAPTURES=DIR measures the captures a
# run kept there instead of making new ones (BENCH_MIX_REQUESTS must be
# what they hold). ps_bench checks that the datapath counted the same
# requests, events and tokens in both (h2load's N requests): a capture
# that lost packets on a loaded machine's loopback shows there, in bold.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${PS_BIN:-$top/.output}
out=${1:?usage: bench_mix.sh OUT.md}
n=${BENCH_MIX_REQUESTS:-2000}
tokens=${BENCH_MIX_TOKENS:-16}
runs=${BENCH_RUNS:-5}
PORT=8000
UP=9001

for tool in unshare tcpdump nghttpx h2load ethtool /usr/bin/python3; do
	command -v "$tool" >/dev/null || { echo "bench_mix: $tool is missing" >&2; exit 1; }
done
work=$(mktemp -d /tmp/penstock-bench-mix.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Inside the namespace: the servers, the capture, the two clients.
cat >"$work/inside.sh" <<'EOF'
set -euo pipefail
work=$1 top=$2 n=$3 tokens=$4 PORT=$5 UP=$6
ip link set lo mtu 1500 up
ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
/usr/bin/python3 "$top/tests/lib/llm_server.py" --bind 127.0.0.1 --port "$UP" \
	--token-delay 0 >"$work/llm.log" 2>&1 &
pids+=($!)
nghttpx --frontend="127.0.0.1,$PORT;no-tls" --backend="127.0.0.1,$UP" --workers=1 \
	--no-ocsp --errorlog-file="$work/nghttpx.err" --accesslog-file=/dev/null \
	--conf=/dev/null --pid-file="$work/nghttpx.pid" >"$work/nghttpx.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$UP") \
		2>/dev/null && break
	sleep 0.1
done
printf '{"model": "m", "messages": [{"role": "user", "content": "Tell me about the kernel."}], "max_tokens": %d, "stream": true}' \
	"$tokens" >"$work/body.json"
for proto in h1 h2; do
	tcpdump -n -i lo -s 0 -B 65536 -U --immediate-mode -w "$work/$proto.pcap" "tcp port $PORT" \
		>"$work/tcpdump-$proto.log" 2>&1 &
	cap=$!
	for ((i = 0; i < 100; i++)); do
		grep -qs "listening on" "$work/tcpdump-$proto.log" && break
		sleep 0.05
	done
	flag=()
	[ "$proto" = h1 ] && flag=(--h1)
	h2load "${flag[@]}" -n "$n" -c 1 -m 1 -d "$work/body.json" \
		-H 'content-type: application/json' \
		"http://127.0.0.1:$PORT/v1/chat/completions" >"$work/h2load-$proto.log" 2>&1
	sleep 0.3
	kill -INT "$cap"
	wait "$cap" || true
	grep -q "^0 packets dropped by kernel" "$work/tcpdump-$proto.log" ||
		{ echo "bench_mix: the $proto capture dropped packets" >&2; exit 1; }
	grep -q "succeeded, 0 failed" "$work/h2load-$proto.log" ||
		grep -q "$n succeeded" "$work/h2load-$proto.log" ||
		{ echo "bench_mix: h2load $proto: $(grep -m1 requests: "$work/h2load-$proto.log")" >&2; exit 1; }
done
EOF
# The requests a capture holds, as tshark finds them: HTTP/1.1's request
# lines, HTTP/2's client HEADERS.
requests() {	# h1|h2
	if [ "$1" = h1 ]; then
		tshark -r "$work/h1.pcap" -n -d "tcp.port==$PORT,http" -Y http.request 2>/dev/null |
			wc -l
	else
		tshark -r "$work/h2.pcap" -n -d "tcp.port==$PORT,http2" -T fields -e http2.type \
			-Y "http2.type == 1 && tcp.dstport == $PORT" 2>/dev/null | tr ',' '\n' |
			grep -c '^1$'
	fi
}
if [ -n "${BENCH_MIX_CAPTURES:-}" ]; then
	cp "$BENCH_MIX_CAPTURES/h1.pcap" "$BENCH_MIX_CAPTURES/h2.pcap" "$work/"
else
	# tcpdump on a loaded machine's loopback may miss a packet without
	# counting it dropped: a capture is taken again (three tries) until
	# tshark finds every request in both.
	for try in 1 2 3; do
		unshare -n bash "$work/inside.sh" "$work" "$top" "$n" "$tokens" "$PORT" "$UP"
		command -v tshark >/dev/null || break
		h1=$(requests h1) h2=$(requests h2)
		[ "$h1" = "$n" ] && [ "$h2" = "$n" ] && break
		echo "bench_mix: try $try: the captures hold $h1 and $h2 of $n requests" >&2
	done
fi
if [ -n "${BENCH_MIX_KEEP:-}" ]; then
	mkdir -p "$BENCH_MIX_KEEP"
	cp "$work"/*.pcap "$work"/*.log "$BENCH_MIX_KEEP/" 2>/dev/null || true
fi

{
	echo "### The realistic mix: HTTP/2 beside HTTP/1.1 (issue 14)"
	echo
	echo "$n chat completions (\"stream\": true, $tokens events and a usage chunk each), one"
	echo "connection, one request at a time, from h2load (--h1 for HTTP/1.1) to nghttpx in"
	echo "front of the stand-in server, captured on the client's side (loopback, MTU 1500,"
	echo "no offload); both captures through ps_ingress and ps_egress (BPF_PROG_TEST_RUN, a"
	echo "fresh replay datapath each run, the kernel's own ns a run), $runs runs each,"
	echo "alternating, median reported. Command: \`make bench\` (tools/bench_mix.sh)."
	echo
	"$bin/ps_bench" --mix "$work/h1.pcap" --mix "$work/h2.pcap" --mix-port "$PORT" \
		--mix-requests "$n" --runs "$runs" && alike=1 || alike=0
	if command -v tshark >/dev/null; then
		echo
		printf -- "- the HTTP/2 capture's frames (tshark):"
		tshark -r "$work/h2.pcap" -n -d "tcp.port==$PORT,http2" -Y http2 -T fields \
			-e http2.type 2>/dev/null | tr ',' '\n' | awk '
			BEGIN { split("DATA HEADERS PRIORITY RST_STREAM SETTINGS PUSH_PROMISE PING GOAWAY WINDOW_UPDATE CONTINUATION", t, " ") }
			$1 != "" { n[$1]++ }
			END { s = ""; for (k = 0; k < 10; k++) if (n[k]) s = s sprintf("%s %s %d", s == "" ? "" : ",", t[k + 1], n[k]); print s "." }'
	fi
	if [ "$alike" = 1 ]; then
		echo "- the counts in the last column are the client's in the datapath's own"
		echo "  counters after a run: both captures counted alike (h2load sent $n requests each)."
	fi
} >"$out"
cat "$out"
