#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make bench-upload: one TCP stream's bulk upload from client to server,
# through a veth pair with its offloads on (TSO, GSO, GRO), with nothing on
# the path and with penstockd on the server's veth (every port an endpoint,
# xdp: auto), side by side in one run, the setups' order rotating from
# round to round. Workloads (one stream each, UPLOAD_SECONDS, default 5,
# after a second's warm-up):
#
#   iperf3    iperf3's own stream (not HTTP: each segment skipped)
#   post      one POST with a Content-Length body larger than the run
#   chunked   one POST with a chunked body (chunks of 1 MiB)
#
# Prints, per workload, the median over UPLOAD_ROUNDS (default 3) of
# penstock's throughput over the same round's unfiltered one, the spread,
# and what the datapath counted while penstock ran: flow_busy, ooo_stashed,
# ooo_dropped, resyncs. UPLOAD_BASE_BIN names a second build's directory
# (another commit's .output), run as a third set-up "base" beside the two:
# a change's before and after in one run. Reports only. Root; traffic stays
# on the veth pair.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${PS_BIN:-$top/.output}
rounds=${UPLOAD_ROUNDS:-3}
secs=${UPLOAD_SECONDS:-5}
workloads=(${UPLOAD_WORKLOADS:-iperf3 post chunked})
PY=/usr/bin/python3

[ "$(id -u)" = 0 ] || { echo "bench-upload: needs root" >&2; exit 1; }
for tool in ip ethtool iperf3 "$PY"; do
	command -v "$tool" >/dev/null || { echo "bench-upload: $tool is missing (make deps)" >&2; exit 1; }
done
base=${UPLOAD_BASE_BIN:-}
for f in penstockd penstock; do
	[ -x "$bin/$f" ] || { echo "bench-upload: $bin/$f not built (make)" >&2; exit 1; }
	[ -z "$base" ] || [ -x "$base/$f" ] ||
		{ echo "bench-upload: $base/$f not built" >&2; exit 1; }
done

work=$(mktemp -d /tmp/pst-upload.XXXXXX)
. "$top/tests/lib/netns.sh"
PIN=/sys/fs/bpf/pst-upload-$$
SOCK=$work/penstock.sock
DPID=""
stop_daemon() {
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID" 2>/dev/null || true
		timeout 10 tail --pid="$DPID" -f /dev/null || kill -KILL "$DPID" 2>/dev/null || true
	fi
	DPID=""
	rm -rf "$PIN" "$work/state"
	rm -f "$SOCK"
}
finish() {
	stop_daemon
	rm -rf "$work"
}
ps_at_cleanup finish
ps_netns_setup 1
SRV=$PS_SRV4
ps_srv ethtool -K "$PS_DEV_SRV" tso on gso on gro on >/dev/null
ps_cli ethtool -K "$PS_DEV_CLI" tso on gso on gro on >/dev/null

ps_spawn "$PS_NS_SRV" "$work/iperf3.log" iperf3 -s -B "$SRV" -p 5201
ps_spawn "$PS_NS_SRV" "$work/sink.log" "$PY" "$top/tools/upload_load.py" sink --bind "$SRV" --port 8080
for p in 5201 8080; do
	ps_wait_port "$PS_NS_SRV" "$p" || exit 1
done

cat >"$work/penstock.yaml" <<EOF2
interfaces: [$PS_DEV_SRV]
endpoints:
  - {name: upload, port: 8080, paths: [/v1/upload]}
  - {name: bulk, port: 5201}
limits:
  default: {requests_per_minute: 10000000, burst: 1000000, max_connections: 100000}
EOF2

DBIN=$bin
start_daemon() {	# BIN
	DBIN=$1
	ip netns exec "$PS_NS_SRV" "$DBIN/penstockd" --foreground --config "$work/penstock.yaml" \
		--socket "$SOCK" --state-dir "$work/state" --pin-dir "$PIN" \
		>"$work/daemon.log" 2>&1 </dev/null &
	DPID=$!
	for ((i = 0; i < 200; i++)); do
		[ -S "$SOCK" ] && break
		sleep 0.1
	done
	ps_wait_ticks "$DBIN/penstock" "$SOCK" ||
		{ echo "bench-upload: penstockd did not start: $(tail -n 3 "$work/daemon.log")" >&2; exit 1; }
}

stats() {
	"$DBIN/penstock" status --json --socket "$SOCK" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)["stats"]
print(json.dumps({k: s.get(k, 0) for k in ("flow_busy", "ooo_stashed", "ooo_dropped", "resyncs")}, separators=(",", ":")))'
}

run() {	# WORKLOAD -> Gbit/s
	case $1 in
	iperf3)
		ps_cli iperf3 -c "$SRV" -p 5201 -t "$((secs + 1))" -O 1 -J |
			"$PY" -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9)'
		;;
	post | chunked)
		local mode=clen
		[ "$1" = chunked ] && mode=chunked
		ps_cli "$PY" "$top/tools/upload_load.py" send --dst "$SRV" --port 8080 \
			--seconds "$secs" --mode "$mode" |
			"$PY" -c 'import json,sys; print(json.load(sys.stdin)["gbps"])'
		;;
	esac
}

res=$work/results
: >"$res"
for ((r = 1; r <= rounds; r++)); do
	for w in "${workloads[@]}"; do
		order=(none penstock ${base:+base})
		for ((k = 0; k < r - 1; k++)); do	# rotate
			order=("${order[@]:1}" "${order[0]}")
		done
		for s in "${order[@]}"; do
			case $s in
			penstock) start_daemon "$bin" ;;
			base) start_daemon "$base" ;;
			esac
			[ "$s" = none ] || before=$(stats)
			g=$(run "$w")
			if [ "$s" != none ]; then
				after=$(stats)
				stop_daemon
				echo "$r $w $s $g $before $after" >>"$res"
			else
				echo "$r $w $s $g" >>"$res"
			fi
			echo "bench-upload: round $r $w $s: $g Gbit/s"
		done
	done
done

"$PY" - "$res" <<'EOF2'
import json, statistics, sys
rows = [l.split(" ", 5) for l in open(sys.argv[1]).read().splitlines()]
runs = {}
for row in rows:
    r, w, s, g = row[0], row[1], row[2], float(row[3])
    e = runs.setdefault((w, r), {})
    e[s] = g
    if s != "none":
        b, a = json.loads(row[4]), json.loads(row[5])
        e["stats/" + s] = {k: a[k] - b[k] for k in a}
for w in dict.fromkeys(k[0] for k in runs):
    rs = [v for k, v in runs.items() if k[0] == w]
    print(f"{w:8} none {statistics.median(v['none'] for v in rs):6.2f} Gbit/s (median of {len(rs)})")
    for s in ("penstock", "base"):
        if s not in rs[0]:
            continue
        ratios = [v[s] / v["none"] for v in rs]
        st = {k: sum(v["stats/" + s][k] for v in rs) for k in rs[0]["stats/" + s]}
        print(f"  {s:8} / none {statistics.median(ratios):.2f} ({min(ratios):.2f}..{max(ratios):.2f})"
              "  summed: " + " ".join(f"{k} {n}" for k, n in st.items()))
EOF2
