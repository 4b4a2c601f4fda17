#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make bench: what penstock's datapath costs per packet beside a minimal
# program (ps_bench) and beside the floor of each row's job (the least a
# program doing it with per-connection state can do), where a request
# start's time goes stage by stage, with enforcement off and on, and for a request that
# names its client behind a PROXY header, in X-Forwarded-For or by its
# bearer key (identity: api_key), and all three at once (with the
# breakdown of what that costs); the rate a request limit
# admits against the configured one (ps_bench --gcra, on a virtual clock);
# egress shaping's achieved rate when shaping is there; the realistic mix,
# the same requests over HTTP/2 beside HTTP/1.1 from real clients'
# captures (tools/bench_mix.sh, ps_bench --mix); then how fast
# `penstock replay` reads a capture beside tshark on the same synthetic
# capture. Prints everything and rewrites BENCHMARKS.md at the top of the
# tree. Reports only: no figure fails it.
#
# Needs root (BPF_PROG_TEST_RUN). Sends nothing on any network: the
# programs run on bytes from user space and the capture goes to a temp dir;
# the shaping downloads stay on a veth pair between two network namespaces
# of their own, with no route out.
#
# Then detection on every synthetic scenario of tools/scenario.py, judged
# against its labels by tools/detect_eval.py (`bench.sh --detect OUT.md`
# runs that part alone); detection on the operators' populations over
# many seeds and z-score settings (tools/detect_bench.py: BENCHMARKS.md's
# tables and docs/detection-bench.png; `bench.sh --detect-pop OUT.md`
# alone); the daemon's tick with 10k, 100k and 1M clients
# (tools/bench_tick.sh), the fleet's cost (tools/bench_fleet.sh), and a
# start against a restart that keeps the programs (tools/bench_restart.sh).
#
# Environment: BENCH_RUNS (default 5), BENCH_PACKETS (distinct packets per
# run, default 100000), BENCH_CAPTURE_PACKETS (default 200000),
# BENCH_SCENARIOS (default: all of tools/scenario.py --list),
# BENCH_SCENARIO_HOURS (default 24), BENCH_SCENARIO_SEED (default 1),
# BENCH_POP_SEEDS (default 10), BENCH_POP_HOURS (default 24),
# BENCH_POP_ZSCORES (default 3,3.5,4.5), BENCH_POP_SCALE (default 1),
# BENCH_POP_JOBS (seeds at once, default 1; about 7 GB of disk each),
# BENCH_TICK_CLIENTS (default "10000 100000 1000000"), BENCH_FLEET_SUBJECTS
# (default "1000 100000 1000000": tools/bench_fleet.sh, the fleet's Redis
# traffic per tick and its tick time against a real redis-server).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${PS_BIN:-$top/.output}
runs=${BENCH_RUNS:-5}
npkts=${BENCH_PACKETS:-100000}
cap_pkts=${BENCH_CAPTURE_PACKETS:-200000}
port=8000

if [ "$(id -u)" != 0 ]; then
	echo "bench: BPF_PROG_TEST_RUN needs root" >&2
	exit 1
fi

# Egress shaping, achieved against configured: penstockd in a server
# network namespace in front of a Python HTTP server, one client per rate
# shaped with `penstock throttle ADDR --rate R` downloading a file of
# shape_secs seconds at that rate with curl. Run as `bench.sh --shape
# OUT.md`, a process of its own (the main part runs it so), because
# tests/lib/netns.sh sets traps and takes $$ for its own.
shape_rates=(2mbit 20mbit)
shape_bps=(2000000 20000000)
shape_secs=8

shape_bench() {
	local out=$1 tool i n speed total sent rows=()

	for tool in ip tc ethtool ss curl nsenter python3; do
		command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; return 1; }
	done
	# Globals: the cleanup runs on EXIT, after this function has returned.
	work=$(mktemp -d /tmp/penstock-bench-shape.XXXXXX)
	pin=/sys/fs/bpf/pst-bench-shape-$$
	sock=$work/run/penstock.sock
	dpid=""
	# shellcheck source=../tests/lib/netns.sh
	. "$top/tests/lib/netns.sh"
	# shellcheck disable=SC2317  # run by netns.sh's cleanup
	shape_finish() {
		if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
			kill -TERM "$dpid" 2>/dev/null || true
			timeout 10 tail --pid="$dpid" -f /dev/null || kill -KILL "$dpid" 2>/dev/null || true
		fi
		rm -rf "$pin" "$work"
	}
	ps_at_cleanup shape_finish
	ps_netns_setup "${#shape_rates[@]}"
	cat >"$work/penstock.yaml" <<EOF
interfaces: [$PS_DEV_SRV]
endpoints: [{port: $port}]
EOF
	mkdir -p "$work/www"
	for ((i = 0; i < ${#shape_rates[@]}; i++)); do
		head -c $((shape_bps[i] / 8 * shape_secs)) /dev/urandom >"$work/www/${shape_rates[i]}"
	done
	ps_spawn "$PS_NS_SRV" "$work/server.log" python3 -m http.server --bind "$PS_SRV4" \
		--directory "$work/www" "$port"
	ps_wait_port "$PS_NS_SRV" "$port"
	nsenter --net="/var/run/netns/$PS_NS_SRV" "$bin/penstockd" --foreground \
		--config "$work/penstock.yaml" --socket "$sock" --state-dir "$work/state" \
		--pin-dir "$pin" >"$work/daemon.log" 2>&1 </dev/null &
	dpid=$!
	for ((n = 0; n < 100; n++)); do
		grep -q "the datapath:" "$work/daemon.log" && break
		kill -0 "$dpid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "the datapath:" "$work/daemon.log" ||
		{ tail -n 3 "$work/daemon.log" >&2; return 1; }

	for ((i = 0; i < ${#shape_rates[@]}; i++)); do
		"$bin/penstock" throttle "${PS_CLI4[i]}" --rate "${shape_rates[i]}" \
			--reason "make bench" --socket "$sock" >/dev/null
		read -r speed total < <(ps_cli curl -sS -m $((shape_secs * 4)) \
			--interface "${PS_CLI4[i]}" -o /dev/null -w '%{speed_download} %{time_total}\n' \
			"http://$PS_SRV4:$port/${shape_rates[i]}")
		# What HTB let through the client's class (the shaped one: not 1,
		# the default), in bytes of Ethernet frames as it counts them.
		sent=$(ps_srv tc -s class show dev "$PS_DEV_SRV" | awk '
			$1 == "class" && $2 == "htb" { split($3, c, ":"); in_c = c[1] == "5053" && c[2] != "1" }
			in_c && $1 == "Sent" { print $2; exit }')
		[ -n "$sent" ] || { echo "no shaping class for ${PS_CLI4[i]}" >&2; return 1; }
		"$bin/penstock" unblock "${PS_CLI4[i]}" --socket "$sock" >/dev/null
		rows+=("$(awk -v r="${shape_rates[i]}" -v bps="${shape_bps[i]}" -v s="$speed" \
			-v t="$total" -v sent="$sent" -v bytes=$((shape_bps[i] / 8 * shape_secs)) 'BEGIN {
			printf "| %s | %d | %.2f | %.3f | %.3f | %.3f | %.3f |", r, bytes, t,
				s * 8 / 1e6, s * 8 / bps, sent * 8 / t / 1e6, sent * 8 / t / bps }')")
	done
	{
		echo "### Egress shaping: achieved vs configured rate"
		echo
		echo "| configured | body bytes | seconds | achieved Mbit/s (HTTP body) | achieved / configured | HTB-counted Mbit/s (frames) | HTB-counted / configured |"
		echo "|---|---:|---:|---:|---:|---:|---:|"
		printf '%s\n' "${rows[@]}"
		echo
		echo "- penstockd on the server end of a veth pair between two network namespaces"
		echo "  (tests/lib/netns.sh; TSO/GSO off, MTU 1500), in front of \`python3 -m http.server\`;"
		echo "  one client per rate, shaped with \`penstock throttle ADDR --rate R\`, downloads"
		echo "  ${shape_secs} s worth of a file at that rate with curl, alone on the link."
		echo "- achieved = curl's speed_download (body bytes over the whole transfer, connection"
		echo "  set-up included) x 8; HTB-counted = the bytes the client's HTB class sent (whole"
		echo "  Ethernet frames, what the rate applies to: ~4.4% more than the body at MSS 1448)"
		echo "  x 8 over curl's time_total."
	} >"$out"
}

# Detection on tools/scenario.py's synthetic scenarios: each one written
# for detect_hours at detect_seed, replayed once with the config
# tools/detect_eval.py --config-out writes from its labels, and judged by
# detect_eval.py against them (its table, never failing). One capture at a
# time: a day of mixed-day is 1 GB, removed once replayed.
detect_hours=${BENCH_SCENARIO_HOURS:-24}
detect_seed=${BENCH_SCENARIO_SEED:-1}

detect_bench() {
	local out=$1 dir=$tmp/detect s cap lab cfg bytes t0 t1 t2 rc row
	local scenarios=() rows=() tables=()
	# the empty cells of a row that says what failed
	local fill="| - | - | - | - | - | - | - | - | - | - | - |"

	mkdir -p "$dir"
	if [ -n "${BENCH_SCENARIOS:-}" ]; then
		read -r -a scenarios <<<"$BENCH_SCENARIOS"
	else
		mapfile -t scenarios < <(python3 "$top/tools/scenario.py" --list |
			awk '$1 !~ /^pop-/ { print $1 }')
	fi
	for s in "${scenarios[@]}"; do
		cap=$dir/$s.pcap lab=$dir/$s.json cfg=$dir/$s.yaml
		t0=$(date +%s%N)
		if ! python3 "$top/tools/scenario.py" --scenario "$s" --hours "$detect_hours" \
			--seed "$detect_seed" --out "$cap" --labels "$lab" -q 2>"$dir/$s.err"; then
			rows+=("| $s | generation failed: $(tail -n 1 "$dir/$s.err" | tr '|' '/') $fill")
			rm -f "$cap"
			continue
		fi
		t1=$(date +%s%N)
		bytes=$(stat -c %s "$cap")
		if ! python3 "$top/tools/detect_eval.py" --config-out "$cfg" "$lab" 2>"$dir/$s.err"; then
			rows+=("| $s | no config: $(tail -n 1 "$dir/$s.err" | tr '|' '/') $fill")
			rm -f "$cap"
			continue
		fi
		rc=0
		"$bin/penstock" replay --config "$cfg" --json "$cap" >"$dir/$s.replay" \
			2>"$dir/$s.err" || rc=$?
		t2=$(date +%s%N)
		rm -f "$cap"
		if [ "$rc" != 0 ]; then
			echo "$s: penstock replay failed (exit $rc)"
			rows+=("| $s | replay failed (exit $rc): $(tail -n 1 "$dir/$s.err" | tr '|' '/') $fill")
			continue
		fi
		python3 "$top/tools/detect_eval.py" --no-fail "$lab" "$dir/$s.replay" \
			>"$dir/$s.table" 2>/dev/null || true
		python3 "$top/tools/detect_eval.py" --no-fail --json "$lab" "$dir/$s.replay" \
			>"$dir/$s.eval" 2>/dev/null || true
		row=$(python3 - "$lab" "$dir/$s.eval" "$bytes" $((t1 - t0)) $((t2 - t1)) <<'PY'
import json, sys
lab, res = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
b, gen, rep = int(sys.argv[3]), int(sys.argv[4]) / 1e9, int(sys.argv[5]) / 1e9
ex = res["extractors"]
failed = [k for k, v in res["checks"].items() if not v]
print("| %s | %d | %d | %.0f | %.1f | %.1f | %.0f | %d | %d/%d | %d/%d | %d | %d | %s |" % (
    res["scenario"], len(lab["clients"]), lab["packets"], b / 1e6, gen, rep,
    lab["packets"] / rep if rep > 0 else 0, res["alerts"],
    sum(r["detected"] for r in ex), len(ex), sum(r["met"] for r in ex), len(ex),
    len(res["false_positives"]), len(res["eval_alerted"]),
    "met" if not failed else "NOT met (%s)" % ", ".join(failed)))
PY
) || row="| $s | detect_eval.py failed $fill"
		rows+=("$row")
		tables+=("$s")
		echo "$s: $(awk -v b="$bytes" 'BEGIN { printf "%.0f MB", b / 1e6 }'), generated in" \
			"$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", ns / 1e9 }') s," \
			"replayed in $(awk -v ns=$((t2 - t1)) 'BEGIN { printf "%.1f", ns / 1e9 }') s"
	done
	{
		echo "### Detection on the synthetic scenarios: tools/scenario.py, ${detect_hours} h, seed ${detect_seed}"
		echo
		echo "| scenario | clients | packets | capture MB | generate s | replay s | replay packets/s | alerts | extractors detected | within target | benign alerted | allow-listed alerted | targets |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
		printf '%s\n' "${rows[@]}"
		for s in "${tables[@]}"; do
			echo
			echo "#### $s"
			echo
			cat "$dir/$s.table"
		done
		echo
		echo "- each scenario: \`tools/scenario.py --scenario S --hours ${detect_hours} --seed ${detect_seed}\`"
		echo "  (docs/scenarios.md), then \`penstock replay --config CFG --json\` once on the capture"
		echo "  (wall clock; the BPF programs' loading included), CFG written by"
		echo "  \`tools/detect_eval.py --config-out\`: the endpoint on port 8000 and a class"
		echo "  \`evaluation\` with the labels' eval_clients, \`exempt: true\`."
		echo "- judged by \`tools/detect_eval.py --no-fail\` against the labels: an extractor is"
		echo "  detected by an alert whose subject is its address or a prefix holding it, a hydra"
		echo "  by a prefix alert holding its group's prefix or every member; time to detection"
		echo "  from the extractor's first activity (a hydra's: its earliest member's) on the"
		echo "  capture's clock. Targets: every extractor detected, high-rate within 60 s, hydra"
		echo "  within 10 min, low-slow within 6 h; no benign or integration client alerted (a"
		echo "  prefix alert counts against every client under it); allow-listed clients never"
		echo "  alerted; every alert well formed."
	} >"$out"
}

# Detection on the operators' populations (tools/scenario.py pop-mixed),
# seeds x hours x z-score settings, by tools/detect_bench.py. About 3.5
# minutes a seed at 24 h and three z-scores on a 2-CPU machine.
detect_pop_bench() {
	local out=$1
	mkdir -p "$tmp/detect-pop"
	{
		echo "### Detection on the operators' populations: tools/scenario.py pop-mixed, ${BENCH_POP_HOURS:-24} h x ${BENCH_POP_SEEDS:-10} seeds"
		echo
		TMPDIR=$tmp/detect-pop /usr/bin/python3 "$top/tools/detect_bench.py" \
			--md "$tmp/detect-pop/pop.md" --png "$top/docs/detection-bench.png" \
			--seeds "${BENCH_POP_SEEDS:-10}" --hours "${BENCH_POP_HOURS:-24}" \
			--zscores "${BENCH_POP_ZSCORES:-3,3.5,4.5}" --pop-scale "${BENCH_POP_SCALE:-1}" \
			--jobs "${BENCH_POP_JOBS:-1}" >&2
		cat "$tmp/detect-pop/pop.md"
		echo
		echo "![time to detection per pattern; false alerts and recall against the z-score](docs/detection-bench.png)"
		echo
		echo "- each seed: \`tools/scenario.py --scenario pop-mixed --hours H --seed N\`"
		echo "  (docs/scenarios.md, \"The operators' populations\"), replayed once per z-score"
		echo "  setting (\`detection: {zscore: Z}\` added to detect_eval.py --config-out's config),"
		echo "  judged by detect_eval.py; false alerts: benign and integration clients under any"
		echo "  alert, per 1,000 of them and per day."
	} >"$out"
}

if [ "${1:-}" = --detect-pop ]; then
	[ -x "$bin/penstock" ] || { echo "bench: $bin/penstock is missing: run make" >&2; exit 1; }
	tmp=$(mktemp -d /tmp/penstock-bench.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 130' INT TERM
	detect_pop_bench "$2"
	cat "$2"
	exit
fi
if [ "${1:-}" = --shape ]; then
	shape_bench "$2"
	exit
fi
# The detection section alone: bench.sh --detect OUT.md
if [ "${1:-}" = --detect ]; then
	[ -x "$bin/penstock" ] || { echo "bench: $bin/penstock is missing: run make" >&2; exit 1; }
	tmp=$(mktemp -d /tmp/penstock-bench.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 130' INT TERM
	detect_bench "$2"
	cat "$2"
	exit
fi
for f in "$bin/ps_bench" "$bin/penstock" "$bin/penstockd" "$bin/ps_bench_fill" \
	"$bin/bench_min.bpf.o" "$bin/bench_stage.bpf.o"; do
	if [ ! -e "$f" ]; then
		echo "bench: $f is missing: run make" >&2
		exit 1
	fi
done
if ! command -v tshark >/dev/null; then
	echo "bench: tshark is missing: run make deps" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/penstock-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
start=$(date +%s)

echo "== per-packet cost (ps_bench --runs $runs --packets $npkts --ident-detail)"
if ! "$bin/ps_bench" --runs "$runs" --packets "$npkts" --ident-detail 2>"$tmp/micro.err" |
	tee "$tmp/micro.md"; then
	# the end of a verifier log is where its reason is
	tail -n 20 "$tmp/micro.err" >&2
	echo "bench: ps_bench failed" >&2
	exit 1
fi
# ps_bench checks that each row took the path it names; say so if not.
if [ -s "$tmp/micro.err" ]; then
	{
		echo
		echo "**ps_bench warned** (a row may not measure the path it names):"
		echo
		sed 's/^/    /' "$tmp/micro.err"
	} | tee -a "$tmp/micro.md"
fi
echo

echo "== request limit: admitted vs configured rate (ps_bench --gcra)"
if ! "$bin/ps_bench" --gcra 2>"$tmp/gcra.err" | tee "$tmp/gcra.md"; then
	tail -n 20 "$tmp/gcra.err" >&2
	echo "bench: ps_bench --gcra failed" >&2
	exit 1
fi
if [ -s "$tmp/gcra.err" ]; then
	{
		echo
		echo "**ps_bench --gcra warned** (a row may not measure what it names):"
		echo
		sed 's/^/    /' "$tmp/gcra.err"
	} | tee -a "$tmp/gcra.md"
fi
echo

echo "== the realistic mix: HTTP/2 beside HTTP/1.1 (tools/bench_mix.sh)"
if ! PS_BIN="$bin" BENCH_RUNS="$runs" "$top/tools/bench_mix.sh" "$tmp/mix.md" \
	>/dev/null 2>"$tmp/mix.err" </dev/null; then
	{
		echo "### The realistic mix: HTTP/2 beside HTTP/1.1 (issue 14)"
		echo
		echo "not measured (the measurement failed: $(tail -n 3 "$tmp/mix.err" | tr '\n' ' '))"
	} >"$tmp/mix.md"
fi
cat "$tmp/mix.md"
echo

echo "== egress shaping: achieved vs configured rate (${shape_rates[*]})"
# Only where the daemon shapes (penstock throttle ADDR --rate R): a daemon
# without it refuses a rate. A failure is reported in the table's place.
shape_note=""
if grep -rq "egress shaping is not available" "$top/userspace/daemon" ||
	[ ! -e "$top/tests/e2e/test_shape" ]; then
	shape_note="shaping: not measured (not available)"
elif ! "$top/tools/bench.sh" --shape "$tmp/shape.md" 2>"$tmp/shape.err" </dev/null; then
	shape_note="shaping: not measured (the measurement failed: $(tail -n 3 "$tmp/shape.err" | tr '\n' ' '))"
fi
if [ -n "$shape_note" ]; then
	{
		echo "### Egress shaping: achieved vs configured rate"
		echo
		echo "$shape_note"
	} >"$tmp/shape.md"
fi
cat "$tmp/shape.md"
echo

echo "== replay throughput"
cap=$tmp/cap.pcap
wrote=$("$bin/ps_bench" --write-pcap "$cap" --packets "$cap_pkts")
packets=$(awk '{ print $2 }' <<<"$wrote")
echo "$wrote"
# The same commands on a capture of a few hundred packets time start-up.
tiny=$tmp/tiny.pcap
tiny_packets=$("$bin/ps_bench" --write-pcap "$tiny" --packets 1 | awk '{ print $2 }')

failed() {
	cat "$1" >&2
	return 1
}

run_replay() {
	"$bin/penstock" replay --port "$port" --json "$1" >"$tmp/replay.json"
}

# -n everywhere: no name lookups, so tshark sends nothing either.
# tshark dissects port 8000 as HTTP by its heuristics already.
run_tshark() {
	tshark -n -r "$1" >/dev/null 2>"$tmp/tshark.err" || failed "$tmp/tshark.err"
}

# The analysis penstock replaces: two passes with TCP reassembly, the HTTP
# requests only (what tests/lib/tshark_counts.py builds its counts from).
analysis_opts=(-2 -o tcp.desegment_tcp_streams:TRUE -d "tcp.port==$port,http" -R http.request)
run_tshark_analysis() {
	tshark -n -r "$1" "${analysis_opts[@]}" >"$tmp/requests.txt" 2>"$tmp/tshark.err" ||
		failed "$tmp/tshark.err"
}

# Best wall-clock time of three runs, in nanoseconds; fails if a run does
# (a command substitution does not inherit set -e).
best_of_3() {
	local best="" i t0 t1
	for i in 1 2 3; do
		t0=$(date +%s%N)
		"$@" || return 1
		t1=$(date +%s%N)
		if [ -z "$best" ] || [ $((t1 - t0)) -lt "$best" ]; then
			best=$((t1 - t0))
		fi
	done
	echo "$best"
}

declare -A wall startup
for run in run_replay run_tshark run_tshark_analysis; do
	startup[$run]=$(best_of_3 "$run" "$tiny")
	wall[$run]=$(best_of_3 "$run" "$cap")
done

# The same capture read by both: their request counts agree.
penstock_reqs=$(python3 -c '
import json, sys
print(sum(c["requests"] for c in json.load(open(sys.argv[1]))["clients"]))' "$tmp/replay.json")
tshark_reqs=$(wc -l <"$tmp/requests.txt")

secs() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'; }
rate() { awk -v p="$packets" -v ns="$1" 'BEGIN { printf "%.0f", p / (ns / 1e9) }'; }
# packets/s once started: the extra packets over the extra time
rate_after() {
	awk -v p="$((packets - tiny_packets))" -v ns="$(($1 - $2))" \
		'BEGIN { if (ns > 0) printf "%.0f", p / (ns / 1e9); else printf "n/a" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "n/a" }'; }
verdict() { awk -v r="$1" 'BEGIN { print (r >= 5 ? "met" : "NOT met") }'; }

row() {
	local run=$1 label=$2 r_wall r_after target
	local w=${wall[$run]} s=${startup[$run]}
	local rw=${wall[run_replay]} rs=${startup[run_replay]}

	if [ "$run" = run_replay ]; then
		r_wall=- r_after=- target=-
	else
		r_wall=$(ratio "$w" "$rw")x
		r_after=$(ratio "$(rate_after "$rw" "$rs")" "$(rate_after "$w" "$s")")x
		target=">= 5x ($(verdict "${r_wall%x}"))"
	fi
	echo "| $label | $(secs "$w") | $(rate "$w") | $(secs "$s") | $(rate_after "$w" "$s") | $r_wall | $r_after | $target |"
}

{
	echo "### Replay throughput: $packets packets, best of 3 wall-clock runs each"
	echo
	echo "| command | seconds | packets/s | start-up s | packets/s after start-up | replay speed-up | after start-up | target |"
	echo "|---|---:|---:|---:|---:|---:|---:|---|"
	row run_replay "\`penstock replay --port $port --json cap.pcap\`"
	row run_tshark "\`tshark -n -r cap.pcap\` (one pass, full dissection, a summary line per packet)"
	row run_tshark_analysis "\`tshark -n -r cap.pcap ${analysis_opts[*]}\` (two-pass HTTP request analysis)"
	echo
	echo "- capture: \`ps_bench --write-pcap\`, synthetic HTTP/1.1 inference traffic to port $port:"
	echo "  256 clients, 64 keep-alive connections at a time, 4-32 requests per connection;"
	echo "  POSTs to /v1/chat/completions (75%), /v1/embeddings, /v1/completions with JSON"
	echo "  bodies of 0.3-6 KB and GET /v1/models (5%); JSON answers of 1-6 KB; MSS 1448,"
	echo "  delayed ACKs."
	echo "- requests counted: penstock $penstock_reqs, tshark $tshark_reqs."
	echo "- speed-up = tshark's time / penstock's; the target applies to the wall-clock one."
	echo "- start-up = the same command on a capture of $tiny_packets packets (penstock: loading"
	echo "  and verifying the BPF programs; tshark: preferences and dissector tables);"
	echo "  \"after start-up\" = the remaining packets over the remaining time."
} | tee "$tmp/replay.md"

echo
echo "== detection on the synthetic scenarios (tools/scenario.py, ${detect_hours} h, seed ${detect_seed})"
detect_bench "$tmp/detect.md"
echo
cat "$tmp/detect.md"

echo
echo "== detection on the operators' populations (tools/detect_bench.py)"
detect_pop_bench "$tmp/detect-pop.md"
cat "$tmp/detect-pop.md"

echo
echo "== daemon tick (tools/bench_tick.sh)"
"$top/tools/bench_tick.sh" "$tmp/tick.md" ${BENCH_TICK_CLIENTS:-10000 100000 1000000} >/dev/null
cat "$tmp/tick.md"

echo
echo "== fleet: Redis traffic per host per tick, tick time fleet off and on (tools/bench_fleet.sh)"
"$top/tools/bench_fleet.sh" "$tmp/fleet.md" ${BENCH_FLEET_SUBJECTS:-1000 100000 1000000} >/dev/null
cat "$tmp/fleet.md"

echo
echo "== a start and a restart (tools/bench_restart.sh)"
"$top/tools/bench_restart.sh" "$tmp/restart.md" >/dev/null
cat "$tmp/restart.md"

elapsed=$(($(date +%s) - start))
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
# Which datapath was measured: the commit, and whether bpf/ differed from it.
rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo "not a git checkout")
if [ -n "$(git -C "$top" status --porcelain -- bpf include 2>/dev/null)" ]; then
	rev="$rev with uncommitted changes to bpf/ or include/"
fi
{
	echo "# penstock benchmarks"
	echo
	echo "Produced by \`make bench\` (tools/bench.sh, tools/bench.c) on $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "in ${elapsed} s. Re-run \`make bench\` to update this file; it reports and never fails"
	echo "on a figure. Datapath: $rev."
	echo
	echo "Machine: ${cpu:-unknown CPU} ($(nproc) CPUs), Linux $(uname -r);"
	echo "$(clang --version | head -n 1), libbpf-dev" \
		"$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null || echo '?'),"
	echo "$(tshark --version 2>/dev/null | head -n 1)"
	echo
	cat "$tmp/micro.md"
	echo
	cat "$tmp/mix.md"
	echo
	cat "$tmp/gcra.md"
	echo
	cat "$tmp/shape.md"
	echo
	cat "$tmp/replay.md"
	echo
	cat "$tmp/detect.md"
	echo
	cat "$tmp/detect-pop.md"
	echo
	cat "$tmp/tick.md"
	echo
	cat "$tmp/fleet.md"
	echo
	cat "$tmp/restart.md"
	# make bench-peers' section, as its last run left it, and the
	# sections written by hand (each between hand-written markers), kept.
	if [ -f "$top/BENCHMARKS.md" ] && grep -q '^<!-- bench-peers:start -->' "$top/BENCHMARKS.md"; then
		echo
		sed -n '/^<!-- bench-peers:start -->/,/^<!-- bench-peers:end -->/p' "$top/BENCHMARKS.md"
	fi
	if [ -f "$top/BENCHMARKS.md" ] && grep -q '^<!-- hand-written:start -->' "$top/BENCHMARKS.md"; then
		echo
		awk '/^<!-- hand-written:start -->/ { on = 1 } on { print } /^<!-- hand-written:end -->/ { on = 0; print "" }' \
			"$top/BENCHMARKS.md"
	fi
} >"$tmp/BENCHMARKS.md"
cp "$tmp/BENCHMARKS.md" "$top/BENCHMARKS.md"
echo
echo "bench: wrote $top/BENCHMARKS.md (${elapsed} s)"
