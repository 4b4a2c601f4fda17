#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make demo`: what penstock sees on an inference endpoint, in about 20
# seconds, on this machine only.
#
# Two network namespaces joined by a veth pair stand in for a server and
# its clients (tests/lib/netns.sh). The server runs the OpenAI-compatible
# stand-in (tests/lib/llm_server.py) on port 8000. Three ordinary users send
# a few chat requests each, with think time between them; one "extractor"
# streams completions back to back from a single address, the way a script
# harvesting a model's outputs does. tcpdump records the server's side of
# the wire; then `penstock replay` runs that capture through penstock's BPF
# programs and prints what they counted per client.
#
# Ctrl-C at any point removes the namespaces and every process started
# here. Environment: PS_BIN (penstock at $PS_BIN/penstock, default
# .output), PS_DEMO_SECONDS (traffic duration, default 18, at most 120),
# PS_DEMO_KEEP=1 keeps the capture.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PS_BIN=${PS_BIN:-$top/.output}
penstock=$PS_BIN/penstock
PY=/usr/bin/python3
PORT=8000
SECS=${PS_DEMO_SECONDS:-18}

die() {
	echo "demo: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, tcpdump, BPF): try sudo make demo"
for tool in ip tcpdump ethtool ss ps sysctl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
[ -x "$penstock" ] || die "$penstock not found: build it first (make)"
if ! [[ $SECS =~ ^[0-9]+$ ]] || [ "$SECS" -lt 5 ] || [ "$SECS" -gt 120 ]; then
	die "PS_DEMO_SECONDS must be 5..120"
fi

work=$(mktemp -d /tmp/pst-demo.XXXXXX)
# shellcheck source=tests/lib/netns.sh
. "$top/tests/lib/netns.sh"
# shellcheck disable=SC2317  # run by the cleanup trap
cleanup_work() {
	if [ "${PS_DEMO_KEEP:-0}" = 1 ]; then
		echo "demo: capture kept in $work/demo.pcap"
	else
		rm -rf "$work"
	fi
}
ps_at_cleanup cleanup_work
ps_netns_setup 4

BENIGN=("${PS_CLI4[0]}" "${PS_CLI4[1]}" "${PS_CLI6[2]}")
EXTRACTOR=${PS_CLI4[3]}

bold=""
plain=""
if [ -t 1 ]; then
	bold=$(printf '\033[1m')
	plain=$(printf '\033[0m')
fi

cat <<EOF
${bold}penstock demo${plain}: ${SECS} seconds of traffic to an inference server, and what penstock counts.

  server     $PS_SRV4 and $PS_SRV6, port $PORT: an OpenAI-compatible API
             (POST /v1/chat/completions, /v1/completions; streaming answers)
  users      ${BENIGN[*]}
             each sends a handful of chat requests, thinking 1-4 s in between
  extractor  $EXTRACTOR
             streams completions back to back, as fast as the server answers

Everything runs in two network namespaces ($PS_NS_SRV, $PS_NS_CLI); nothing
leaves this machine. tcpdump records the server's side of the wire.

EOF

# The server answers at 100 tokens a second, a plausible pace for one GPU.
ps_spawn "$PS_NS_SRV" "$work/server.log" "$PY" "$top/tests/lib/llm_server.py" \
	--port "$PORT" --token-delay 0.01
ps_wait_port "$PS_NS_SRV" "$PORT"

ps_spawn "$PS_NS_SRV" "$work/tcpdump.log" tcpdump -n -i "$PS_DEV_SRV" -s 0 -U --immediate-mode -Z root \
	-w "$work/demo.pcap"
tcpdump_pid=$PS_SPAWNED
for ((i = 0; i < 100; i++)); do
	grep -qs 'listening on' "$work/tcpdump.log" && break
	sleep 0.05
done
grep -qs 'listening on' "$work/tcpdump.log" || die "tcpdump did not start: $(cat "$work/tcpdump.log")"

# The clients: one small program, a role per process. Every finished
# request is one line in the client's log, for the progress line below.
cat >"$work/client.py" <<'PY'
import http.client, json, random, sys, time

role, src, srv, port, secs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
end = time.monotonic() + secs
rng = random.Random(src)
QUESTIONS = ["How do I reset my router?", "Summarise this paragraph for me.",
             "What is a good name for a cat?", "Translate 'good morning' to French.",
             "Write a haiku about rivers.", "Why is the sky blue?"]


def post(conn, path, body):
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    print("%d %s %d bytes" % (r.status, path, len(data)), flush=True)


if role == "user":
    # A person at a chat window: a new connection per message (the app
    # was idle), some answers streamed, think time between messages.
    for _ in range(6):
        if time.monotonic() + 1 > end:
            break
        conn = http.client.HTTPConnection(srv, port, timeout=10, source_address=(src, 0))
        post(conn, "/v1/chat/completions", {
            "model": "penstock-standin-1", "max_tokens": rng.randint(20, 60),
            "stream": rng.random() < 0.5,
            "messages": [{"role": "user", "content": rng.choice(QUESTIONS)}]})
        conn.close()
        time.sleep(min(rng.uniform(1, 4), max(0, end - time.monotonic())))
else:
    # A harvesting script: one kept-alive connection, streamed
    # completions back to back, no pause, until time is up.
    conn = http.client.HTTPConnection(srv, port, timeout=10, source_address=(src, 0))
    for i in range(10000):
        if time.monotonic() > end:
            break
        post(conn, "/v1/completions", {
            "model": "penstock-standin-1", "max_tokens": 48, "stream": True,
            "prompt": "Continue the story, variant %d:" % i})
    conn.close()
PY

for a in "${BENIGN[@]}"; do
	ps_spawn "$PS_NS_CLI" "$work/user-$a.log" "$PY" "$work/client.py" user "$a" \
		"$([[ $a == *:* ]] && echo "$PS_SRV6" || echo "$PS_SRV4")" "$PORT" "$SECS"
done
ps_spawn "$PS_NS_CLI" "$work/extractor.log" "$PY" "$work/client.py" extractor "$EXTRACTOR" \
	"$PS_SRV4" "$PORT" "$SECS"
clients=("${PS_NETNS_PIDS[@]: -4}")

count() { cat "$@" 2>/dev/null | grep -c '^[0-9]' || true; }
for ((t = 1; t <= SECS + 15; t++)); do
	sleep 1
	progress=$(printf '  %3ds  requests answered: users %3s   extractor %3s ' "$t" \
		"$(count "$work"/user-*.log)" "$(count "$work/extractor.log")")
	# On a terminal one line that updates; in a log a line every 5 s.
	if [ -t 1 ]; then
		printf '\r%s' "$progress"
	elif ((t % 5 == 0)); then
		echo "$progress"
	fi
	alive=0
	for pid in "${clients[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
	[ "$alive" = 0 ] && break
done
[ -t 1 ] && echo
for pid in "${clients[@]}"; do ps_stop "$pid" TERM 2 || true; done

# Let the last FINs reach the wire, then stop tcpdump the clean way.
sleep 0.3
ps_stop "$tcpdump_pid" INT 10 || true
echo "  capture: $(sed -n 's/ packets captured//p' "$work/tcpdump.log") packets"
echo

echo "${bold}\$ penstock replay --port $PORT demo.pcap${plain}"
ps_run "$penstock" replay --port "$PORT" "$work/demo.pcap" || die "penstock replay failed"

cat <<EOF

${bold}What you are looking at${plain}
penstock's BPF programs (the same ones it attaches to a live interface)
were fed every packet of the capture. One row per client address of the
endpoint port $PORT:
  connections          TCP connections the client opened (its SYNs)
  requests             HTTP requests, found by following HTTP framing the
                       way the server does, whatever the packet boundaries
  inference_requests   those for an inference path (/v1/chat/completions,
                       /v1/completions, ...) rather than /health and the like
  rx_* / tx_*          client to server / server to client: packets, IP
                       bytes, and TCP payload (each byte once, even if resent)

The users (${BENIGN[*]}) sent a handful of
requests each and got short answers. The extractor ($EXTRACTOR) kept one
connection busy the whole time: several times the requests of any user,
and most of the tx_payload, which is the model's output leaving the
building. That imbalance, per client and per unit of time, is what
penstock watches for on a real endpoint.
EOF
