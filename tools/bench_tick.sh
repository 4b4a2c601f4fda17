#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The daemon's tick under load: a real penstockd (on a veth interface in a
# network namespace of its own, maps pinned in a private directory) while
# ps_bench_fill keeps N clients in slots of its pinned maps and raises
# every one's counters once a second, so that every tick reads and folds N
# changed clients. Reported per N: CPU time per tick (penstockd's own
# measure, CLOCK_THREAD_CPUTIME_ID around the read-and-fold pass), its
# resident memory (VmRSS, and the peak VmHWM), the state file save, and the
# CPU time of rendering /metrics (penstock_metrics_render_seconds); the
# largest tick CPU time while a state save ran, how late a tick started at
# most (a detection pass holding the loop), and how long `penstock status`
# waited for its answer at most while the load ran (wall clock: the machine
# is shared, so this one is noisy). A plot of tick CPU time and RSS against
# N goes to OUT.png (matplotlib, python3-matplotlib: /usr/bin/python3 or PS_PYTHON).
# The control socket's own answer time (tools/bench_ctl_probe.py: one process
# asking back to back, no process start) beside `penstock status`'s; how long
# the table takes to be whole (a tick finds a bounded number of new clients).
#
#   tools/bench_tick.sh OUT.md [N...]      (default N: 10000 100000 1000000)
#   tools/bench_tick.sh OUT.md 250000 1000000 2000000 4000000   (the scale table)
#
# Needs root. Sends no packet anywhere: the veth pair stays inside the namespace and carries none.
# Environment: TICK_PROBE_DIR (keep each N's status answers there, "us
# unix-ms running" a line, as probe-N.txt); TICK_SMAPS_DIR (keep penstockd's /proc/PID/smaps
# at each sample there, as smaps-N-SAMPLE.txt: where the memory is); TICK_TOKENS (the
# percentage of the clients whose answers report tokens, default 10: the others, a
# flood's among them, count none; 100 for every client's); TICK_ROUNDS (seconds of load per N, default 12: a detection
# pass, every 10 s, falls inside it).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${PS_BIN:-$top/.output}
out=$1
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
rounds=${TICK_ROUNDS:-12}
tokens=${TICK_TOKENS:-10}

ns=pst-bench-$$
pin=/sys/fs/bpf/pst-bench-$$
tmp=$(mktemp -d /tmp/penstock-bench-tick.XXXXXX)
dpid=""
cleanup() {
	# one() runs in the subshell of the pipeline below: its daemon's pid is in a file.
	[ -z "$dpid" ] && [ -f "$tmp/dpid" ] && dpid=$(cat "$tmp/dpid")
	if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
		kill -TERM "$dpid" 2>/dev/null || true
		timeout 20 tail --pid="$dpid" -f /dev/null || kill -KILL "$dpid" 2>/dev/null || true
	fi
	rm -rf "$pin"
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
ip -n "$ns" link set lo up	# /metrics on 127.0.0.1
ip -n "$ns" link add pst-dummy type veth peer name pst-dummy1
ip -n "$ns" link set pst-dummy up && ip -n "$ns" link set pst-dummy1 up
# The config for N clients: slots for N and a fifth more (no reclaim).
write_config() {
	cat >"$tmp/penstock.yaml" <<EOF
interfaces: [pst-dummy]
endpoints:
  - name: bench
    port: 8000
EOF
	if [ "$1" -gt 1000000 ]; then
		echo "max_clients: $(($1 + $1 / 5))" >>"$tmp/penstock.yaml"
	fi
}

# `penstock status` answered back to back until FILE appears: each answer's wall us,
# when it was asked (Unix ms) and whether a detection pass was going in the detector's
# thread as it answered (detection.running: 1, 0; - where penstockd does not say).
probe_control() {	# OUT STOPFILE
	: >"$1"
	while [ ! -e "$2" ] && [ -d "$tmp" ]; do
		local t0 t1 running
		t0=$(date +%s%N)
		"$bin/penstock" status --json --socket "$tmp/run/penstock.sock" >"$tmp/probe.json" 2>/dev/null || true
		t1=$(date +%s%N)
		running=-
		grep -q '"running": *true' "$tmp/probe.json" && running=1
		grep -q '"running": *false' "$tmp/probe.json" && running=0
		echo "$(((t1 - t0) / 1000)) $((t0 / 1000000)) $running" >>"$1"
	done
}

# The CPU time penstockd took to render its last /metrics text, ms.
render_ms() {
	{ ip netns exec "$ns" curl -s http://127.0.0.1:9464/metrics || true; } |
		awk '/^penstock_metrics_render_seconds / { printf "%.1f", $2 * 1000 }'
}

status_field() {	# JSON-PATH (python expression on d)
	"$bin/penstock" status --json --socket "$tmp/run/penstock.sock" |
		python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

one() {
	local n=$1 filled
	rm -rf "$tmp/state" "$tmp/run" "$pin" "$tmp/probe.stop"
	write_config "$n"
	nsenter --net="/var/run/netns/$ns" "$bin/penstockd" --foreground --config "$tmp/penstock.yaml" \
		--socket "$tmp/run/penstock.sock" --state-dir "$tmp/state" --pin-dir "$pin" \
		>"$tmp/daemon.log" 2>&1 </dev/null &
	dpid=$!
	echo "$dpid" >"$tmp/dpid"
	for ((i = 0; i < 100; i++)); do
		grep -q "the datapath:" "$tmp/daemon.log" && break
		sleep 0.1
	done
	# Over a million clients the table takes seconds to be whole: a second more of
	# load for every 200,000 clients, so that ticks with all N changed follow.
	local r=$rounds
	[ "$n" -le 1000000 ] || r=$((rounds + n / 200000))
	"$bin/ps_bench_fill" --pin-dir "$pin" --clients "$n" --rounds "$r" \
		--tokens "$tokens" >"$tmp/fill.out" &
	local fpid=$! samples=() renders=() rsss=()
	probe_control "$tmp/probe.us" "$tmp/probe.stop" &
	local ppid=$!
	"${PS_PYTHON:-/usr/bin/python3}" "$top/tools/bench_ctl_probe.py" "$tmp/run/penstock.sock" \
		"$tmp/sock.us" "$tmp/probe.stop" &
	local spid=$! t_fill whole=-
	t_fill=$(date +%s%N)
	# One sample of the daemon's last tick a second while the load runs.
	while kill -0 "$fpid" 2>/dev/null; do
		sleep 1
		read -r tl rk tr uf < <(status_field '"%.1f %d %d %d" % (d["tick"]["last_ms"], d["daemon"]["rss_kb"], d["clients"]["tracked"], d["clients"].get("unfolded", 0))')
		# The table whole: every client of the load tracked and none left for later.
		[ "$whole" != - ] || [ "$tr" -lt "$n" ] || [ "$uf" -ne 0 ] ||
			whole=$(echo "($(date +%s%N) - $t_fill) / 1000000000" | bc -l | xargs printf '%.0f')
		samples+=("$tl")
		rsss+=("$rk")
		[ -z "${TICK_SMAPS_DIR:-}" ] ||
			cp "/proc/$dpid/smaps" "$TICK_SMAPS_DIR/smaps-$n-${#samples[@]}.txt" 2>/dev/null || true
		renders+=("$(render_ms)")
	done
	wait "$fpid"
	filled=$(head -n 1 "$tmp/fill.out")
	sleep 1.5
	touch "$tmp/probe.stop"
	wait "$ppid"
	wait "$spid"
	read -r last avg max tracked rss save dlast dmax tsave late gap twait tgap < <(status_field \
		'"%.1f %.1f %.1f %d %d %d %.1f %.1f %.1f %d %.1f %s %s" % (d["tick"]["last_ms"], d["tick"]["avg_ms"], d["tick"]["max_ms"], d["clients"]["tracked"], d["daemon"]["rss_kb"], d["daemon"]["save_ms"], d["detection"]["last_ms"], d["detection"]["max_ms"], d["daemon"]["tick_save_max_ms"], d["daemon"]["tick_late_max_ms"], d["daemon"]["control_gap_max_ms"], "%.1f" % d["daemon"]["table_wait_max_ms"] if "table_wait_max_ms" in d["daemon"] else "-", "%.1f" % d["detection"]["table_gap_max_ms"] if "table_gap_max_ms" in d["detection"] else "-")')
	local ctl_max ctl_n
	ctl_max=$(sort -n "$tmp/probe.us" | tail -n 1 | awk '{ printf "%.1f", $1 / 1000 }')
	ctl_n=$(wc -l <"$tmp/probe.us")
	local ctl_pass
	ctl_pass=$(awk '$3 == 1 { n++; if ($1 > m) m = $1 } END { if (n) printf "%.1f (%d)", m / 1000, n; else print "-" }' "$tmp/probe.us")
	[ -z "${TICK_PROBE_DIR:-}" ] || cp "$tmp/probe.us" "$TICK_PROBE_DIR/probe-$n.txt"
	[ -z "${TICK_PROBE_DIR:-}" ] || cp "$tmp/sock.us" "$TICK_PROBE_DIR/sock-$n.txt"
	# The socket's own answers (no process start): p50, p99, max (answers); during a pass.
	local sock_all sock_pass
	sock_all=$(pctl "$tmp/sock.us" '1')
	sock_pass=$(pctl "$tmp/sock.us" '$3 == 1')
	local behind slice
	behind=$(status_field 'd["tick"].get("behind", "-")')
	# A tick's wait for a starved detector's slice (a request does not wait for it).
	slice=$(status_field '"%.1f" % d["daemon"]["slice_wait_max_ms"] if "slice_wait_max_ms" in d["daemon"] else "-"')
	# Under load: the samples after the first two (the clients' arrival).
	local loaded
	loaded=$(printf '%s\n' "${samples[@]:2}" | sort -n | awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", a[int((NR + 1) / 2)]; else print "-" }')
	local loaded_max
	loaded_max=$(printf '%s\n' "${samples[@]:2}" | sort -n | tail -n 1)
	local render
	render=$(printf '%s\n' "${renders[@]:2}" | sort -n | awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", a[int((NR + 1) / 2)]; else print "-" }')
	# RSS: the median of the samples under load (a detection pass's scratch, freed
	# when it ends, is in some of them), and the peak.
	rss=$(printf '%s\n' "${rsss[@]:2}" | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print 0 }')
	local hwm size
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$dpid/status")
	kill -TERM "$dpid"
	wait "$dpid" || true
	dpid=""
	size=$(stat -c %s "$tmp/state/state.gz" 2>/dev/null || echo 0)
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s | %.1f | %.1f | %.0f | %s | %.1f | %s | %s | %s | %s | %s | %s |\n' \
		"$n" "${filled#filled }" "$tracked" "$loaded" "${loaded_max:--}" "$last" "$max" \
		"$tsave" "$dlast" "$dmax" "$late" "$twait" "$tgap" "$gap" "$ctl_max" "$ctl_n" "$ctl_pass" \
		"$(echo "$rss / 1024" | bc -l)" "$(echo "$hwm / 1024" | bc -l)" \
		"$(echo "$rss * 1024 / $n" | bc -l)" "$save" "$(echo "$size / 1048576" | bc -l)" \
		"$render" "$sock_all" "$sock_pass" "$whole" "$behind" "$slice"
}

# Answer times of FILE's lines (wall us first) that match the awk CONDITION:
# "p50, p99, max (answers)" in ms.
pctl() {	# FILE CONDITION
	awk "$2 { print \$1 }" "$1" | sort -n | awk '{ a[NR] = $1 }
		END { if (!NR) { print "-"; exit }
		      i = int(NR * 0.99); if (i < 1) i = 1
		      printf "%.1f, %.1f, %.1f (%d)", a[int((NR + 1) / 2)] / 1000, a[i] / 1000, a[NR] / 1000, NR }'
}

{
	echo "### Daemon tick: CPU time and memory with N clients in the map"
	echo
	echo "| clients N | in slots | tracked | tick CPU ms, all N changed (median) | (max) | none changed | largest tick (first: all new) | tick CPU ms during a save (max) | detection pass CPU ms (last) | (max) | tick start late ms (max) | loop's wait for the table ms (max) | detector's hold of the table between looks CPU ms (max) | control socket unlooked-at CPU ms (max) | status answer wall ms (max, of answers) | during a detection pass (max, of answers) | RSS MB | peak RSS MB | RSS bytes/client | state save ms | state file MB | metrics render CPU ms (median) | socket answer wall ms: p50, p99, max (answers) | during a detection pass | table whole after s | ticks that left clients for later | tick's wait for a starved detector's slice ms (max) |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for n in "${sizes[@]}"; do
		one "$n"
	done
	echo
	echo "- load: \`ps_bench_fill\` gives N clients (a quarter IPv6) slots in the running daemon's"
	echo "  pinned maps, as the BPF programs do, then raises every client's counters once a"
	echo "  second for $rounds s (over a million clients, a second more each 200,000): each tick"
	echo "  reads N slots through mmap and folds N changed clients. $tokens % of the clients'"
	echo "  answers report tokens (their token counters rise too), the others' none."
	echo "- tick CPU: penstockd's thread CPU time (user + system) for one read-and-fold pass, as"
	echo "  \`penstock status\` reports it, sampled once a second: \"all N changed\" while the load"
	echo "  runs (the samples after the first two), \"none changed\" after it, \"largest tick\""
	echo "  the largest since start (penstock status: tick.max_ms), the first as a rule, when"
	echo "  every client is new to the daemon (a tick finds a bounded number of them). Targets"
	echo "  at 1M: <= 150 ms per tick, <= 300 MB RSS."
	echo "- detection pass: the CPU time of the detector's thread for one run of the detectors"
	echo "  (every \`detection.interval\`, default config) over the N clients, all active: the"
	echo "  last run after the load, and the largest since start. The run is not the loop's: the"
	echo "  loop, woken by a tick or a request, waits for the table's lock at most the piece of"
	echo "  the run between two of its looks at whether the loop asks (the detector's hold of the"
	echo "  table between looks: detection.table_gap_max_ms, CPU time; the loop's wait for the"
	echo "  table: daemon.table_wait_max_ms, wall clock, a state save's chunks included)."
	echo "- RSS: penstockd's VmRSS, the median of the samples taken once a second under the"
	echo "  load (after the first two); peak: VmHWM, a detection pass's scratch included;"
	echo "  bytes/client = RSS / N."
	echo "- metrics render: penstockd's thread CPU time to render its /metrics text at the end"
	echo "  of a tick (penstock_metrics_render_seconds), sampled once a second under the load."
	echo "- state save: a thread of penstockd writes the gzip state file, copying the records"
	echo "  a chunk at a time while the loop waits for events (start to end, wall ms); its"
	echo "  size is the file's. \"during a save\": the largest tick CPU time of the ticks that"
	echo "  ran while a save was in flight (penstock status: daemon.tick_save_max_ms)."
	echo "- control socket unlooked-at: the most CPU time penstockd's loop spent between two"
	echo "  looks at its control socket (daemon.control_gap_max_ms): a request waits that long"
	echo "  for its turn at most, given the CPU."
	echo "- tick start late: the most a tick started after the second it was due"
	echo "  (daemon.tick_late_max_ms, wall clock); status answer: \`penstock status\` run back to"
	echo "  back for the whole load, its wall time to answer (process start included), the"
	echo "  largest of all answers (how many in brackets), and of those answered while a"
	echo "  detection pass was going in the detector's thread (detection.running: \"-\" where"
	echo "  penstockd does not say, a pass in the loop). Wall-clock figures are noisy: the"
	echo "  machine is shared and loaded; the CPU-time columns are not."
	echo "- socket answer: the same request from one process that stays (tools/bench_ctl_probe.py),"
	echo "  a fresh connection each time, connect() to the answer's end: the socket's own answer"
	echo "  time without a process start; p50, p99 and max of all answers, and of those during a"
	echo "  detection pass."
	echo "- table whole: seconds from the load's start (ps_bench_fill's filling of the N slots"
	echo "  included) to the first sample with all N clients tracked and none left unfolded"
	echo "  (clients.unfolded); a tick finds at most 65,536 clients new to it, fewer once those"
	echo "  finds and the known clients' folds would pass 120 ms of CPU, and penstockd finds"
	echo "  the rest between ticks (tick.behind: the ticks that left some)."
	echo "- slice: a detector's thread that waited 250 ms for the table is let in first at a tick"
	echo "  for 50 ms of its CPU; the tick waits for it (daemon.slice_wait_max_ms, wall clock), a"
	echo "  control request that comes meanwhile does not: the thread gives way at its next look"
	echo "  and has the rest after the answer (daemon.table_wait_max_ms counts that wait)."
} | tee "$out"

"${PS_PYTHON:-/usr/bin/python3}" - "$out" <<'PY'
import re, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
out = sys.argv[1]
rows = [l.split("|")[1:-1] for l in open(out) if re.match(r"^\| \d", l)]
if len(rows) >= 2:
    n = [int(r[0]) / 1e6 for r in rows]
    tick = [float(r[3]) for r in rows]
    first = [float(r[6]) for r in rows]
    det = [float(r[8]) for r in rows]
    rss = [float(r[16]) for r in rows]
    peak = [float(r[17]) for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    def line(ax, ys, style, label):
        pts = [(x, y) for x, y in zip(n, ys) if y > 0]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
    line(a, tick, "o-", "tick, all N changed (median)")
    line(a, first, "s--", "largest tick (first: all new)")
    line(a, det, "^-", "detection pass")
    a.set_yscale("log")
    a.axhline(150, color="grey", lw=0.8, ls=":", label="150 ms")
    a.set_xlabel("clients (millions)"); a.set_ylabel("CPU ms"); a.legend(); a.grid(alpha=0.3)
    b.plot(n, rss, "o-", label="RSS")
    b.plot(n, peak, "s--", label="peak RSS")
    b.set_xlabel("clients (millions)"); b.set_ylabel("MB"); b.legend(); b.grid(alpha=0.3)
    fig.suptitle("penstockd: tick CPU time and memory against clients")
    fig.tight_layout()
    fig.savefig(re.sub(r"\.md$", "", out) + ".png", dpi=110)
PY
