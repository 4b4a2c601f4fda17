#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The fleet's cost (userspace/fleet/, docs/fleet.md): a real penstockd (on
# a veth interface in a network namespace of its own) while ps_bench_fill
# keeps N clients in its pinned maps and raises every one's counters once
# a second, so that each tick pushes N changed subjects to a real
# redis-server on the namespace's loopback; then the same without a fleet.
# Reported per N, as one host sees it per tick: EVALSHA calls and bytes
# sent (penstockd's count), bytes and commands Redis took and its CPU time
# (Redis's own INFO, over the seconds of load), ticks whose push was
# skipped because the last one was still unanswered, and the tick's CPU
# time with the fleet off and on, as a ratio, in one run.
#
#   tools/bench_fleet.sh OUT.md [N...]      (default N: 1000 100000 1000000)
#
# Needs root. Nothing leaves the namespace.
# Environment: FLEET_ROUNDS (seconds of load per N, default 10).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${PS_BIN:-$top/.output}
out=$1
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 100000 1000000)
rounds=${FLEET_ROUNDS:-10}
rport=6391

ns=pst-bfleet-$$
pin=/sys/fs/bpf/pst-bfleet-$$
tmp=$(mktemp -d /tmp/penstock-bench-fleet.XXXXXX)
dpid=""
rpid=""
stop_pid() {	# PID SECONDS
	if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null || true
		timeout "$2" tail --pid="$1" -f /dev/null || kill -KILL "$1" 2>/dev/null || true
	fi
}
cleanup() {
	stop_pid "$dpid" 20
	stop_pid "$rpid" 10
	rm -rf "$pin"
	ip netns del "$ns" 2>/dev/null || true
	[ "${FLEET_KEEP:-0}" = 1 ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add pst-dummy type veth peer name pst-dummy1
ip -n "$ns" link set pst-dummy up && ip -n "$ns" link set pst-dummy1 up
printf '%s\n' 'interfaces: [pst-dummy]' 'endpoints: [{name: bench, port: 8000}]' \
	'detection: {enabled: false}' >"$tmp/off.yaml"
{
	cat "$tmp/off.yaml"
	echo "fleet: {redis: \"redis://127.0.0.1:$rport/0\", name: bench, host_id: h0, stale_after: 60}"
	echo "fleet_limits: [{class: default, requests_per_minute: 100000000}]"
} >"$tmp/on.yaml"

status_field() {	# PYTHON-EXPRESSION on d
	"$bin/penstock" status --json --socket "$tmp/run/penstock.sock" |
		python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
redis_info() {	# commands in_bytes out_bytes cpu_s
	ip netns exec "$ns" redis-cli -p "$rport" INFO all | tr -d '\r' | awk -F: '
		$1 == "total_commands_processed" { c = $2 }
		$1 == "total_net_input_bytes" { i = $2 }
		$1 == "total_net_output_bytes" { o = $2 }
		$1 == "used_cpu_sys" { s = $2 } $1 == "used_cpu_user" { u = $2 }
		END { printf "%s %s %s %.6f\n", c, i, o, s + u }'
}
FLEET_NOW='"%d %d %d %d" % (d["fleet"]["commands"], d["fleet"]["bytes"], d["fleet"]["skipped_ticks"], d["tick"]["count"])'

# run N on|off: prints "tick_median_ms" (off) or that and the fleet's figures (on)
run() {
	local n=$1 mode=$2 samples=() i fpid f0 r0 f1 r1 subjects med pmed lmed
	# A fresh log: the wait below must not find the last daemon's line.
	rm -rf "$tmp/state" "$tmp/run" "$pin" "$tmp/daemon.log"
	nsenter --net="/var/run/netns/$ns" "$bin/penstockd" --foreground --config "$tmp/$mode.yaml" \
		--socket "$tmp/run/penstock.sock" --state-dir "$tmp/state" --pin-dir "$pin" \
		>"$tmp/daemon.log" 2>&1 </dev/null &
	dpid=$!
	for ((i = 0; i < 100; i++)); do
		grep -qs "the datapath:" "$tmp/daemon.log" && break
		sleep 0.1
	done
	"$bin/ps_bench_fill" --pin-dir "$pin" --clients "$n" --rounds "$rounds" >"$tmp/fill.out" &
	fpid=$!
	# The clients arrive in the first ticks: measure from the third second.
	sleep 3
	if [ "$mode" = on ]; then
		f0=$(status_field "$FLEET_NOW")
		r0=$(redis_info)
	fi
	while kill -0 "$fpid" 2>/dev/null; do
		sleep 1
		kill -0 "$fpid" 2>/dev/null || break
		samples+=("$(status_field '"%.1f %.2f %.2f" % (d["tick"]["last_ms"], d["fleet"].get("last_push", {}).get("cpu_us", 0) / 1000.0, d["fleet"].get("limits_cpu_us", 0) / 1000.0)')")
	done
	if [ "$mode" = on ]; then
		f1=$(status_field "$FLEET_NOW")
		r1=$(redis_info)
		subjects=$(status_field 'd["fleet"]["last_push"]["subjects"]')
	fi
	wait "$fpid" || echo "bench_fleet: ps_bench_fill ($n, fleet $mode): $(tr '\n' ' ' <"$tmp/fill.out")" >&2
	[ "$(head -n 1 "$tmp/fill.out")" = "filled $n" ] ||
		echo "bench_fleet: $n clients, fleet $mode: $(head -n 1 "$tmp/fill.out"); daemon: $(tail -n 3 "$tmp/daemon.log" | tr '\n' ' ')" >&2
	stop_pid "$dpid" 30
	dpid=""
	med=$(printf '%s\n' "${samples[@]}" | awk '{ print $1 }' | sort -n |
		awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", a[int((NR + 1) / 2)]; else print "nan" }')
	pmed=$(printf '%s\n' "${samples[@]}" | awk '{ print $2 }' | sort -n |
		awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", a[int((NR + 1) / 2)]; else print "nan" }')
	lmed=$(printf '%s\n' "${samples[@]}" | awk '{ print $3 }' | sort -n |
		awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", a[int((NR + 1) / 2)]; else print "nan" }')
	if [ "$mode" = on ]; then
		echo "$med $pmed $lmed $f0 $f1 $r0 $r1 $subjects"
	else
		echo "$med"
	fi
}

one() {
	local n=$1 off on i
	off=$(run "$n" off)
	ip netns exec "$ns" redis-server --port "$rport" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$tmp" --daemonize no >"$tmp/redis.log" 2>&1 &
	rpid=$!
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$ns" redis-cli -p "$rport" PING >/dev/null 2>&1 && break
		sleep 0.1
	done
	on=$(run "$n" on)
	stop_pid "$rpid" 10
	rpid=""
	# shellcheck disable=SC2086  # one figure a word
	python3 - "$n" "$off" $on <<'PY'
import sys
n = int(sys.argv[1]); off = float(sys.argv[2])
v = sys.argv[3:]
on, push_ms, limits_ms = float(v[0]), float(v[1]), float(v[2])
fc0, fb0, fs0, ft0, fc1, fb1, fs1, ft1 = map(int, v[3:11])
rc0, ri0, ro0, rcpu0, rc1, ri1, ro1, rcpu1 = map(float, v[11:19])
subjects = int(v[19])
ticks = max(ft1 - ft0, 1)
print("| %d | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.0f | %.0f | %.0f | %.0f | %.0f | %.1f | %d of %d |" % (
    n, subjects, off, on, on / off if off > 0 else float("nan"), push_ms, limits_ms,
    (on + push_ms + limits_ms) / off if off > 0 else float("nan"),
    (fc1 - fc0) / ticks, (fb1 - fb0) / ticks, (rc1 - rc0) / ticks, (ri1 - ri0) / ticks,
    (ro1 - ro0) / ticks, 1000.0 * (rcpu1 - rcpu0) / ticks, fs1 - fs0, ticks))
PY
}

{
	echo "### Fleet: Redis traffic per host per tick, tick time with the fleet off and on"
	echo
	echo "| active subjects N | pushed (last push) | tick ms, fleet off (median) | fleet on | on / off | push CPU ms | fleet limits CPU ms | (tick + push + limits) / off | EVALSHA / tick | bytes sent / tick | Redis commands / tick | Redis bytes in / tick | Redis bytes out / tick | Redis CPU ms / tick | ticks skipped (push unanswered) |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for n in "${sizes[@]}"; do
		one "$n"
	done
	echo
	echo "- load: \`ps_bench_fill\` keeps N clients in the daemon's pinned maps and raises every"
	echo "  client's counters once a second for $rounds s: every tick each of the N subjects has new"
	echo "  counts, the worst case (every bucket written, not only read)."
	echo "- one host, one redis-server ($(redis-server --version | awk '{print $3}')) on the namespace's"
	echo "  loopback, measured from the third second of load: penstockd's own count of EVALSHA calls"
	echo "  (64 subjects each) and bytes it queued, Redis's INFO (total_commands_processed, which"
	echo "  counts the script's own HSET, EXPIRE and HGETALL too; net input and output bytes;"
	echo "  used_cpu_user + used_cpu_sys), each divided by the ticks of the window."
	echo "- tick: penstockd's thread CPU time for the tick's read-and-fold pass (penstock status"
	echo "  tick.last_ms, median of one sample a second); push CPU: the fleet's own pass (format"
	echo "  and queue the calls, 64 in flight at a time, over the whole push), and the fleet"
	echo "  limits pass (fleet_limits for the default class, far above the load: every client"
	echo "  judged, none limited), both on top of the tick. A skipped tick is one whose push was"
	echo "  still going: its counts go whole with the next; \"pushed\" is the subjects the last"
	echo "  push reached by the end of the load. The fleet limits pass runs only while the"
	echo "  fleet's sums are fresh (a whole push answered within stale_after): 0.0 where no push"
	echo "  finished during the load."
} | tee "$out"
