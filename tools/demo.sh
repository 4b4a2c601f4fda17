#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make demo`: penstockd protecting an inference server from a bulk
# extractor, live, for a minute and a half, on this machine only.
#
# Two network namespaces joined by a veth pair stand in for a server and
# its clients (tests/lib/netns.sh; 198.18.0.0/15 and fd00::/8, nothing
# leaves the machine). The server runs the OpenAI-compatible stand-in
# (tests/lib/llm_server.py) on port 8000, streaming and JSON answers, and
# penstockd is attached to its interface with the policy embedded below: a
# request limit on every client; an internal eval job unlimited and exempt
# from detection; the detectors every 2 s, with a short escalation (alert,
# then a delay to 20 requests a minute, then a block) so that the whole of
# it fits in the run. A population runs against it (tools/demo_helper.py):
# three chat users (IPv4 and IPv6) with think times of several seconds,
# the eval job, and an extractor streaming long completions on four
# connections as fast as it is served.
#
# As it happens, the demo prints each alert (the lines `penstock alerts`
# prints, and what they mean) and each entry the detectors put in the
# kernel (`penstock enforcement`, and curl from the client once it is
# blocked); every 10 s what penstockd counts over the last minute (the
# periodic snapshots); on a terminal `penstock top`: live in a pane below
# for the whole run when run inside tmux, else full screen for 15 s once
# the extractor is blocked. At the end: totals, the alerts, status and
# what the figures mean.
#
# Ctrl-C at any point stops the daemon (which detaches and unpins) and
# removes the namespaces, the tmux pane, the pins and the temporary files.
#
# Environment:
#   DEMO_SECONDS  how long the clients run, 20..900 (default 90); alert,
#                 delay and block come within about 45 s
#   DEMO_TOP      1: show penstock top (in a tmux pane when run inside
#                 tmux, else full screen for 15 s), 0: don't, only the
#                 snapshots. Default 1 when stdin and stdout are a terminal.
#   PS_BIN        where penstock and penstockd are (default .output)
#   DEMO_KEEP=1   keep the work directory (logs, config) for a look after
#
# shellcheck disable=SC2317  # functions run by the trap
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PS_BIN=${PS_BIN:-$top/.output}
penstock=$PS_BIN/penstock
penstockd=$PS_BIN/penstockd
helper=$top/tools/demo_helper.py
PY=/usr/bin/python3
PORT=8000
SECS=${DEMO_SECONDS:-${PS_DEMO_SECONDS:-90}}
RPM=120
BURST=10
FLOOR=40	# detection.high_rate.requests_per_minute
DELAY_RPM=20	# the escalation's delay
TOP_AT=50	# full-screen penstock top: once the extractor is blocked, at the latest here
TOP_FOR=15
ESCALATED_BY=60	# below this DEMO_SECONDS the block may not come in time

die() {
	echo "demo: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, BPF): try sudo make demo"
for tool in ip nsenter ethtool ss ps sysctl curl timeout "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (make deps installs it)"
done
if ! [ -x "$penstock" ] || ! [ -x "$penstockd" ]; then
	die "$PS_BIN/penstock or penstockd not found: build them first (make)"
fi
if ! [[ $SECS =~ ^[0-9]+$ ]] || [ "$SECS" -lt 20 ] || [ "$SECS" -gt 900 ]; then
	die "DEMO_SECONDS must be a number of seconds, 20..900"
fi
if [ -z "${DEMO_TOP:-}" ]; then
	DEMO_TOP=0
	[ -t 0 ] && [ -t 1 ] && DEMO_TOP=1
fi

bold="" plain="" dim=""
if [ -t 1 ]; then
	bold=$(printf '\033[1m')
	dim=$(printf '\033[2m')
	plain=$(printf '\033[0m')
fi

# --- the set-up, and how it is all taken down --------------------------------
work=""	# made once the traps below are set
PIN=/sys/fs/bpf/pst-demo-$$
DPID=""
TMUX_PANE_ID=""

# shellcheck source=tests/lib/netns.sh
. "$top/tests/lib/netns.sh"
# Run by the netns.sh traps on every exit, Ctrl-C included, before the
# namespaces (and whatever still runs in them) go.
finished=0
demo_cleanup() {
	[ "$finished" = 1 ] || echo "demo: stopping: removing penstockd, the namespaces and the temporary files" >&2
	if [ -n "$TMUX_PANE_ID" ]; then
		tmux kill-pane -t "$TMUX_PANE_ID" 2>/dev/null || true
		TMUX_PANE_ID=""
	fi
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		# SIGTERM: penstockd detaches, removes the clsact it created,
		# unpins its maps and removes its socket.
		kill -TERM "$DPID" 2>/dev/null || true
		timeout 10 tail --pid="$DPID" -f /dev/null 2>/dev/null || kill -KILL "$DPID" 2>/dev/null || true
		wait "$DPID" 2>/dev/null || true
	fi
	DPID=""
	# Only after a kill would pins be left: they are ours.
	rm -rf "$PIN"
	if [ -z "$work" ]; then
		:
	elif [ "${DEMO_KEEP:-0}" = 1 ]; then
		echo "demo: work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
ps_at_cleanup demo_cleanup
ps_netns_setup 6 || die "could not create the network namespaces"
work=$(mktemp -d /tmp/pst-demo.XXXXXX)
SOCK=$work/run/penstock.sock

USERS=("${PS_CLI4[0]}" "${PS_CLI6[1]}" "${PS_CLI4[2]}")
EVAL=${PS_CLI4[3]}
EXTRACTOR=${PS_CLI4[4]}

pst() { "$penstock" "$@" --socket "$SOCK"; }
indent() { sed 's/^./  &/'; }
# Print a command as one would type it (without the demo's --socket), then
# run it, its output indented.
show() {
	local a line="penstock" rc=0
	for a in "$@"; do
		[[ $a == *" "* ]] && a="\"$a\""
		line+=" $a"
	done
	echo "${bold}\$ $line${plain}"
	pst "$@" >"$work/show.out" 2>&1 || rc=$?
	indent <"$work/show.out"
	return "$rc"
}
# A paragraph, wrapped, as an item of a list.
para() { fmt -w 76 <<<"$*" | sed '1s/^/- /; 1!s/^/  /'; }
# A line that marks where we are in the run.
stamp() { printf '\n%s[%3ds] %s%s\n' "$bold" "$((SECONDS - T0))" "$*" "$plain"; }
daemon_alive() {
	kill -0 "$DPID" 2>/dev/null ||
		die "penstockd exited; its last words: $(tail -n 5 "$work/penstockd.log" | tr '\n' ' ')"
}

cat >"$work/penstock.yaml" <<EOF
# The demo's policy (embedded in tools/demo.sh)
interfaces: [$PS_DEV_SRV]
endpoints:
  - name: llm
    port: $PORT
dry_run: false                # enforce for real: drop, not just report
limits:
  default:                    # every client in no class:
    requests_per_minute: $RPM  # inference requests a minute,
    burst: $BURST                 # of which up to $BURST back to back,
    max_connections: 16       # and connections open at once
  classes:
    - name: internal-eval     # the eval job:
      clients: [$EVAL/32]
      unlimited: true         # never limited,
      exempt: true            # and never judged by the detectors
detection:                    # the detectors of bulk extraction
  interval: 2s                # run them every 2 s (default 10 s)
  high_rate:                  # far more requests in the last minute than the
    requests_per_minute: $FLOOR  # others, and at least $FLOOR
  escalation:                 # what a client they find goes through:
    steps:                    # (each step once the last one's cooldown has passed)
      - {action: alert, cooldown: 10s}
      - {action: delay, requests_per_minute: $DELAY_RPM, for: 5m, cooldown: 10s}
      - {action: block, for: 2m, cooldown: 30s}
alerts:                       # besides penstockd's stderr:
  jsonl: {path: $work/alerts.jsonl}
EOF
"$penstockd" --check-config --config "$work/penstock.yaml" >"$work/check.out" 2>&1 ||
	die "the embedded config is refused by this penstockd: $(cat "$work/check.out")"

cat <<EOF
${bold}penstock demo${plain}: penstockd protecting a model server from a bulk extractor,
live, for $SECS seconds.

Everything runs in two network namespaces on this machine ($PS_NS_SRV and
$PS_NS_CLI, joined by a veth pair); nothing leaves it, and everything is
removed at the end or on Ctrl-C.

  server     $PS_SRV4 and $PS_SRV6, port $PORT: a stand-in OpenAI-compatible
             API (POST /v1/chat/completions, /v1/completions), answers
             streamed token by token or as one JSON object
  penstockd  attached to $PS_DEV_SRV, the server's interface: its eBPF programs
             count every client's connections, requests and bytes as the
             packets pass and enforce the policy below in the kernel; every
             2 s its detectors look for clients taking far more than the rest
$(printf '  clients    %-10s %-13s %s\n             %-10s %-13s %s\n             %-10s %-13s %s\n' \
	user-1 "${USERS[0]}" "chat users: a question every 3-9 s, the" \
	user-2 "${USERS[1]}" "answer streamed or in one JSON object" \
	user-3 "${USERS[2]}" "(user-2 over IPv6)")
$(printf '             %-10s %-13s %s\n%38s%s\n' \
	eval-job "$EVAL" "internal eval job: ~4 short requests a" "" \
	"second (class internal-eval: unlimited, exempt)")
$(printf '             %-10s %-13s %s\n%38s%s\n%38s%s\n' \
	extractor "$EXTRACTOR" "harvesting script: 4 connections, each" "" \
	"streaming 512-token completions back to" "" "back, as fast as it is served")

What to watch for: the request limit holds the extractor to $RPM requests a
minute; the high_rate detector finds it all the same (far above the users,
over the floor of $FLOOR) and escalates: an alert, 10 s later a delay to
$DELAY_RPM a minute, 10 s after that a block. The users and the eval job
are left alone.

The policy, written to $work/penstock.yaml:
EOF
sed -n '2,$p' "$work/penstock.yaml" | sed 's/^/    /'

# --- server and daemon ------------------------------------------------------------
ps_spawn "$PS_NS_SRV" "$work/server.log" "$PY" "$top/tests/lib/llm_server.py" \
	--port "$PORT" --token-delay 0.0005
ps_wait_port "$PS_NS_SRV" "$PORT" 10 || die "the stand-in server did not start: $(cat "$work/server.log")"

# nsenter, not ip netns exec: ip netns exec would give penstockd a /sys of
# its own, without the bpffs it pins its maps in.
nsenter --net="/var/run/netns/$PS_NS_SRV" "$penstockd" --foreground --config "$work/penstock.yaml" \
	--socket "$SOCK" --state-dir "$work/state" --pin-dir "$PIN" \
	>"$work/penstockd.log" 2>&1 </dev/null &
DPID=$!
for ((i = 0; i < 100; i++)); do
	grep -q "the datapath:" "$work/penstockd.log" 2>/dev/null && break
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.1
done
grep -q "the datapath:" "$work/penstockd.log" 2>/dev/null ||
	die "penstockd did not start: $(cat "$work/penstockd.log")"
echo
echo "penstockd is up (its own socket, state and pin directories, not the system's):"
sed 's/^/  /' "$work/penstockd.log"

# --- the population ---------------------------------------------------------------
roles=$work/roles
: >"$roles"
start_client() {	# ROLE KIND SRC
	local dst=$PS_SRV4
	[[ $3 == *:* ]] && dst=$PS_SRV6
	ps_spawn "$PS_NS_CLI" "$work/$1.log" "$PY" "$helper" "$2" "$3" "$dst" "$PORT" "$SECS"
	CLIENT_PIDS+=("$PS_SPAWNED")
	echo "$1 $3 $work/$1.log" >>"$roles"
}
CLIENT_PIDS=()
T0=$SECONDS
T0_EPOCH=$(date +%s.%N)
start_client extractor extractor "$EXTRACTOR"
start_client eval-job eval "$EVAL"
start_client user-1 user "${USERS[0]}"
start_client user-2 user "${USERS[1]}"
start_client user-3 user "${USERS[2]}"

# What penstock top will be: a tmux pane for the whole run, full screen for
# a while, or nothing.
top_mode=none
if [ "$DEMO_TOP" = 1 ]; then
	if ! [ -t 0 ] || ! [ -t 1 ]; then
		echo "(DEMO_TOP=1, but this is not a terminal: no penstock top)"
	elif [ -n "${TMUX:-}" ]; then
		top_mode=pane
	elif [ "$SECS" -lt $((TOP_FOR + 10)) ]; then
		echo "(DEMO_SECONDS=$SECS is too short for penstock top)"
	else
		top_mode=full
	fi
fi

cat <<EOF

The clients are running. As it happens, each alert and each entry the
detectors put in the kernel; every 10 s what penstockd counts over the last
minute, busiest first (${bold}penstock clients --window 1m --sort rpm${plain}, in short),
with each client's THROTTLED (requests the limit held back, from the
"slot" of ${bold}penstock client ADDR --json${plain}), what the DETECTORS did to it
(${bold}penstock alerts${plain} and ${bold}penstock enforcement${plain}) and ANSWERED_10S (answers
the client itself got in the last 10 s). RPM is inference requests in the
last minute: in the first minute, those so far.
EOF

export DEMO_NS_CLI=$PS_NS_CLI DEMO_SRV4=$PS_SRV4 DEMO_SRV6=$PS_SRV6 DEMO_PORT=$PORT \
	DEMO_BOLD=$bold DEMO_PLAIN=$plain
events() {
	ps_run "$PY" "$helper" events "$penstock" "$SOCK" "$roles" "$T0_EPOCH" "$work/events.json" ||
		die "could not read penstockd's alerts"
}
report() {
	stamp "penstock clients --window 1m --sort rpm"
	ps_run "$PY" "$helper" report "$penstock" "$SOCK" "$roles" "$((SECONDS - T0))" ||
		die "could not read penstockd's figures"
}
top_pane() {
	stamp "penstock top --sort rpm: live in the pane below until the end"
	TMUX_PANE_ID=$(tmux split-window -d -v -l 14 -P -F '#{pane_id}' \
		"exec '$penstock' top --sort rpm --socket '$SOCK'") ||
		{ echo "  (tmux split-window failed: no penstock top)"; TMUX_PANE_ID=""; }
}
top_full() {
	stamp "penstock top --sort rpm, full screen, for $TOP_FOR s (q leaves it early)"
	[ -e "$work/BLOCKED" ] &&
		echo "The extractor is blocked: watch its RPM fall while the others go on."
	sleep 3
	timeout --foreground "$TOP_FOR" "$penstock" top --sort rpm --socket "$SOCK" || true
	stamp "Back from penstock top"
}
top_end() {
	if [ -n "$TMUX_PANE_ID" ]; then
		tmux kill-pane -t "$TMUX_PANE_ID" 2>/dev/null || true
		TMUX_PANE_ID=""
	fi
}

# The run: every second what the detectors did, every 10 s a snapshot,
# penstock top as chosen above.
[ "$top_mode" = pane ] && top_pane
next_report=10
top_shown=0
while ((SECONDS - T0 < SECS)); do
	daemon_alive
	events
	el=$((SECONDS - T0))
	if [ "$top_mode" = full ] && [ "$top_shown" = 0 ] && [ $((SECS - el)) -ge $((TOP_FOR + 5)) ] &&
		{ [ -e "$work/BLOCKED" ] || [ "$el" -ge "$TOP_AT" ]; }; then
		top_full
		top_shown=1
		# The snapshots its time took are left out.
		next_report=$(((SECONDS - T0) / 10 * 10 + 10))
		continue
	fi
	if [ "$el" -ge "$next_report" ]; then
		report
		next_report=$((next_report + 10))
	fi
	sleep 1
done
top_end

# The clients end by themselves at SECS; give a request in flight 3 s.
for ((i = 0; i < 30; i++)); do
	alive=0
	for pid in "${CLIENT_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
	[ "$alive" = 0 ] && break
	sleep 0.1
done
for pid in "${CLIENT_PIDS[@]}"; do ps_stop "$pid" TERM 2 || true; done
sleep 1.5	# a tick, so that the last packets are in the figures
daemon_alive
events

# --- the end --------------------------------------------------------------------
stamp "The clients have stopped. Totals since penstockd started:"
show clients || die "penstock clients failed"
echo
echo "Per role: ANSWERED (answers the client got, by its own count), PER_MINUTE"
echo "(over the $SECS s), THROTTLED (requests the limits held back), FAILED (errors,"
echo "timeouts), ALERTS (alerts on it):"
ps_run "$PY" "$helper" summary "$penstock" "$SOCK" "$roles" "$T0_EPOCH" "$SECS" \
	"$work/figures" || die "could not read penstockd's figures"
# shellcheck disable=SC1091
. "$work/figures"

echo
if [ "$ALERTS" -gt 0 ]; then
	show alerts || die "penstock alerts failed"
else
	echo "${bold}\$ penstock alerts${plain}: no alert was raised during this run."
fi
echo
show enforcement || die "penstock enforcement failed"

echo
echo "${bold}\$ penstock status${plain} ${dim}(the first lines: the daemon, its tick, its programs)${plain}"
pst status >"$work/status.out" 2>&1 || die "penstock status failed: $(cat "$work/status.out")"
# The daemon's block, the interfaces and the programs; not the maps.
awk '/^MAP / { exit } { l[n++] = $0 }
	END { while (n > 0 && l[n - 1] == "") n--; for (i = 0; i < n; i++) print l[i] }' \
	"$work/status.out" | indent
if pst status --json >"$work/status.json" 2>/dev/null; then
	echo "${bold}\$ penstock status --json${plain} ${dim}(its \"detection\" member)${plain}"
	"$PY" -c 'import json, sys; print("  " + json.dumps(json.load(open(sys.argv[1])).get("detection")))' \
		"$work/status.json" || true
fi

echo
echo "${bold}What the figures mean${plain}"
para "Counted by the kernel. Every connection, request and byte above was" \
	"counted by penstock's eBPF programs on $PS_DEV_SRV as the packets went by:" \
	"no proxy, nothing in the server's path or code. penstockd reads the" \
	"counters every second into per-client totals and sliding 1m, 1h and 24h windows."
para "Throttled by GCRA. The default class allows $RPM inference requests a" \
	"minute, $BURST of them back to back. The ingress program keeps, per client," \
	"a theoretical arrival time (GCRA, the generic cell rate algorithm): a" \
	"request that comes too early has its first packet dropped, and TCP sends" \
	"it again a moment later, so the client gets a late answer rather than" \
	"an error. THROTTLED counts those drops."
if [ -n "$EX_LIMITED_RPM" ]; then
	para "The extractor asked as fast as it was served, on 4 connections. Once its" \
		"burst of $BURST was spent, the limit held it to about $EX_LIMITED_RPM answers" \
		"a minute ($EX_THROTTLED requests held back in all). A limit caps a" \
		"client; it does not tell an extractor from a busy user."
fi
if [ -n "$EX_ALERT_AT" ]; then
	para "Detected. Every 2 s the high_rate detector compares each client's" \
		"inference requests in the last minute with those of the other active" \
		"clients (a robust z-score on their median), and takes only those" \
		"over a floor ($FLOOR here); a client seen for under a minute is judged" \
		"on its pace so far. At $EX_ALERT_AT s the extractor was at $EX_REQ_1M" \
		"requests a minute, score $EX_SCORE: an alert, to penstockd's stderr," \
		"$work/alerts.jsonl and penstock alerts. With fewer than 20 active" \
		"clients (detection.min_population) the others are too few to compare" \
		"with, and the detector compares with a quiet default population (1 a" \
		"minute): the floor is what keeps the users out."
fi
if [ -n "$EX_DELAY_AT" ]; then
	d="Escalated. Still found after the alert's cooldown, at $EX_DELAY_AT s it was delayed to $DELAY_RPM requests a minute (an entry of origin detector, in the kernel)"
	[ -n "$EX_DELAYED_RPM" ] && d+=": it got about $EX_DELAYED_RPM answers a minute"
	[ -n "$EX_BLOCK_AT" ] &&
		d+=", and at $EX_BLOCK_AT s blocked: every packet from or to it dropped in tc, coming in and going out (on a veth xdp: auto leaves XDP off); $EX_AFTER_BLOCK answers since"
	para "$d."
fi
if [ "$EX_FAILED" -gt 0 ]; then
	para "$EX_FAILED of the extractor's requests failed: held back so long that" \
		"the client gave up (30 s), or cut off by the block."
fi
para "The benign users were untouched: $USERS_ANSWERED answers, $USERS_THROTTLED" \
	"throttled, $USERS_FAILED failed, no alert. The eval job ran at about" \
	"$EVAL_RPM requests a minute, over the default limit and far over the" \
	"detector's floor, with $EVAL_THROTTLED throttled and no alert: its class" \
	"is unlimited and exempt."
para "An operator has the last word: penstock unblock ADDR lifts a detector's" \
	"entry at once; penstock block and throttle set entries by hand, which" \
	"the detectors never replace."
para "What left the building: the extractor took $EX_PAYLOAD of model output" \
	"(TX_PAYLOAD, what the server sent, each byte once) against $USERS_PAYLOAD" \
	"for the three users together."
echo

# Stop penstockd the way an operator would; the trap removes the rest.
show stop || die "penstock stop failed"
rc=0
timeout 10 tail --pid="$DPID" -f /dev/null 2>/dev/null || true
wait "$DPID" || rc=$?
DPID=""
[ "$rc" = 0 ] || die "penstockd exited with status $rc: $(tail -n 3 "$work/penstockd.log" | tr '\n' ' ')"
[ -e "$PIN" ] && die "penstockd left its maps pinned in $PIN"
echo "penstockd detached its programs and unpinned its maps; removing the namespaces."

problems=""
[ "$EX_THROTTLED" -gt 0 ] || problems+=" the extractor was never throttled;"
[ "$USERS_THROTTLED" = 0 ] || problems+=" a benign user was throttled;"
[ "$EVAL_THROTTLED" = 0 ] || problems+=" the unlimited eval job was throttled;"
[ -z "$OTHERS_ALERTED" ] || problems+=" alerts on $OTHERS_ALERTED;"
if [ "$SECS" -ge "$ESCALATED_BY" ]; then
	[ -n "$EX_ALERT_AT" ] || problems+=" the extractor was never alerted;"
	[ -n "$EX_DELAY_AT" ] || problems+=" the extractor was never delayed;"
	[ -n "$EX_BLOCK_AT" ] || problems+=" the extractor was never blocked;"
	[ "$EX_AFTER_BLOCK" = 0 ] || problems+=" the extractor got answers after its block;"
fi
[ -z "$problems" ] || die "unexpected:$problems see the figures above"
finished=1
exit 0
