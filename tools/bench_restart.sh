#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# What a penstockd start costs: a fresh start (the programs loaded and
# verified) against a restart after SIGKILL that adopts the running
# datapath and keeps its programs (this build's, the same constants:
# nothing loaded), alternating, in one run. penstockd runs with nsenter
# --net on a veth end in a network namespace of its own (one endpoint);
# per start: the wall time from exec to its "... the datapath" line and
# the daemon's CPU time (utime + stime, /proc/PID/stat) at that moment.
#
#   tools/bench_restart.sh OUT.md [ROUNDS]     (default 5 of each)
#
# Needs root. Nothing leaves the namespace.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${PS_BIN:-$top/.output}
out=$1
rounds=${2:-5}
ns=pst-brst-$$
pin=/sys/fs/bpf/pst-brst-$$
tmp=$(mktemp -d /tmp/penstock-bench-restart.XXXXXX)
dpid=""
cleanup() {
	if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
		kill -TERM "$dpid" 2>/dev/null || true
		timeout 10 tail --pid="$dpid" -f /dev/null || kill -KILL "$dpid" 2>/dev/null || true
	fi
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$pin" "$tmp"
}
trap cleanup EXIT INT TERM

ip netns add "$ns"
ip -n "$ns" link add veth-b type veth peer name veth-c
ip -n "$ns" link set lo up
ip -n "$ns" link set veth-b up
ip -n "$ns" link set veth-c up
printf 'interfaces: [veth-b]\nendpoints:\n  - port: 8000\n' >"$tmp/cfg.yaml"

# start KIND: one penstockd start; prints "KIND WALL_MS CPU_MS KEPT".
start() {
	local t0 t1 cpu kept=no
	: >"$tmp/log"
	t0=$(date +%s%N)
	nsenter --net=/run/netns/"$ns" "$bin/penstockd" --config "$tmp/cfg.yaml" \
		--socket "$tmp/sock" --state-dir "$tmp/state" --pin-dir "$pin" \
		>"$tmp/log" 2>&1 &
	dpid=$!
	until grep -qE "(adopted|started|replaced) the datapath" "$tmp/log"; do
		kill -0 "$dpid" 2>/dev/null || { cat "$tmp/log" >&2; exit 1; }
		sleep 0.002
	done
	t1=$(date +%s%N)
	cpu=$(awk '{ print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"' }' /proc/"$dpid"/stat)
	grep -q "its programs kept" "$tmp/log" && kept=yes
	echo "$1 $(( (t1 - t0) / 1000000 )) $cpu $kept"
}
stop() {	# SIGNAL
	kill -"$1" "$dpid"
	wait "$dpid" 2>/dev/null || true
	dpid=""
}

for ((r = 0; r < rounds; r++)); do
	start fresh >>"$tmp/rows"
	stop KILL
	start restart >>"$tmp/rows"
	stop TERM	# a clean stop: the next start is a fresh one
done

python3 - "$tmp/rows" "$rounds" >"$out" <<'PYEOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def col(kind, i):
    return [float(r[i]) for r in rows if r[0] == kind]
fw, fc = col("fresh", 1), col("fresh", 2)
rw, rc = col("restart", 1), col("restart", 2)
kept = sum(r[3] == "yes" for r in rows if r[0] == "restart")
m = statistics.median
print("### A start and a restart: the programs verified, or kept (tools/bench_restart.sh)")
print()
print("| start | runs | wall ms to the datapath line, median (range) | CPU ms, median (range) | programs kept |")
print("|---|---:|---:|---:|---:|")
print("| fresh: no datapath running, the programs loaded and verified | %d | %.0f (%.0f..%.0f) | %.0f (%.0f..%.0f) | - |"
      % (len(fw), m(fw), min(fw), max(fw), m(fc), min(fc), max(fc)))
print("| restart after SIGKILL: the datapath adopted, its programs kept | %d | %.0f (%.0f..%.0f) | %.0f (%.0f..%.0f) | %d of %d |"
      % (len(rw), m(rw), min(rw), max(rw), m(rc), min(rc), max(rc), kept, len(rw)))
print()
print("Restart / fresh start: wall **%.2fx**, CPU **%.2fx**, alternating in one run (%s rounds)."
      % (m(rw) / m(fw), m(rc) / m(fc), sys.argv[2]))
PYEOF
cat "$out"
