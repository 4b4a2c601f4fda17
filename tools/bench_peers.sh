#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make bench-peers: penstock beside what a user would pick instead, side by
# side in one run, every figure a ratio to the same round's baseline.
#
# Two network namespaces joined by a veth pair with its offloads on (TSO,
# GSO, GRO); the server side runs iperf3, nginx as a fast JSON server (an
# embeddings endpoint's small answers, HTTP/1.1 on 8080 and h2c on 8082)
# and a second nginx as a reverse proxy with limit_req per client (8081
# and 8083) in front of the first. Each round (PEERS_ROUNDS, default 5)
# runs every set-up in turn, their order rotating from round to round:
#
#   none      nothing on the path
#   penstock  penstockd on the server's veth: every port an endpoint,
#             request and connection limits configured but never hit,
#             detection on (its defaults); xdp: auto, which leaves a veth
#             to tc
#   penstock-xdp  the same with xdp: on: its XDP program on the veth too,
#             which takes TSO and GSO from the peer (iperf3 and wrk only)
#   iptables  hashlimit per client address (srcip), above 1000000/s, drop
#   nftables  a dynamic set of client addresses, each with a counter and a
#             meter (limit rate over 1000000/s), drop
#   proxy     the clients talk to the nginx reverse proxy with limit_req
#             per client (a rate never hit) instead of the server
#
# and in each set-up, for PEERS_SECONDS (default 5) after a second's
# warm-up: iperf3 (one TCP stream; throughput, its server's CPU and the
# whole machine's CPU per Gbit/s), wrk (HTTP/1.1 keep-alive, 32
# connections; requests/s, p50 and p99 latency), h2load (h2c, 32
# connections of 10 streams; requests/s), and ps_load from PEERS_CLIENTS
# (default 10000) client addresses, one keep-alive connection each
# (requests/s, p50, p99). Then, under the same 10,000-client load, the
# precision of a request limit (10 clients offered 10x a limit of 600 a
# minute: answered / allowed) for penstock and for the proxy's limit_req,
# and of penstock's shaping (a download shaped to 20mbit: achieved /
# configured).
#
# Results: medians over the rounds of the per-round ratios, with the
# spread (lowest..highest), into BENCHMARKS.md's "Against peers" section
# (between its markers; make bench keeps it) and a chart,
# docs/bench-peers.png. Reports only: no figure fails it. Root; all
# traffic stays on the veth pair, with no route out.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${PS_BIN:-$top/.output}
rounds=${PEERS_ROUNDS:-5}
secs=${PEERS_SECONDS:-5}
nclients=${PEERS_CLIENTS:-10000}
setups=(none penstock penstock-xdp iptables nftables proxy)
PY=/usr/bin/python3

[ "$(id -u)" = 0 ] || { echo "bench-peers: needs root" >&2; exit 1; }
for tool in ip ethtool nginx iperf3 wrk h2load iptables nft curl perf "$PY"; do
	command -v "$tool" >/dev/null || { echo "bench-peers: $tool is missing (make deps)" >&2; exit 1; }
done
for f in penstockd penstock ps_load; do
	[ -x "$bin/$f" ] || { echo "bench-peers: $bin/$f not built (make)" >&2; exit 1; }
done
[ "$nclients" -ge 1 ] && [ "$nclients" -le 60000 ] ||
	{ echo "bench-peers: PEERS_CLIENTS must be 1..60000" >&2; exit 1; }

work=$(mktemp -d /tmp/pst-peers.XXXXXX)
results=$work/results.jsonl
t_start=$(date +%s)
. "$top/tests/lib/netns.sh"
PIN=/sys/fs/bpf/pst-peers-$$
SOCK=$work/run/penstock.sock
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
	[ "${PS_KEEP:-0}" = 1 ] && echo "# work directory kept: $work" || rm -rf "$work"
}
ps_at_cleanup finish
ps_netns_setup 11
SRV=$PS_SRV4

# Offloads back on: a real NIC's path, not the tests' wire-sized packets.
ps_srv ethtool -K "$PS_DEV_SRV" tso on gso on gro on >/dev/null
ps_cli ethtool -K "$PS_DEV_CLI" tso on gso on gro on >/dev/null

# The crowd: nclients addresses from 198.19.0.1 on, on the client's veth;
# the server reaches them through the client's first address, so that it
# keeps one neighbour entry, not ten thousand.
first=$((198 << 24 | 19 << 16 | 1))
crowd_first=198.19.0.1
{
	for ((i = 0; i < nclients; i++)); do
		a=$((first + i))
		echo "addr add $((a >> 24 & 255)).$((a >> 16 & 255)).$((a >> 8 & 255)).$((a & 255))/32 dev $PS_DEV_CLI"
	done
} >"$work/addrs.batch"
ps_cli ip -batch "$work/addrs.batch"
ps_srv ip route add 198.19.0.0/16 via "${PS_CLI4[0]}" dev "$PS_DEV_SRV"
ps_cli sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
ps_srv sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535

# The fast server and the proxy: two nginx, one worker each.
mkdir -p "$work/www/v1" "$work/ngx-srv" "$work/ngx-proxy"
printf '%s' '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292,0.015797347,-0.0077780345,0.0045392185]}],"model":"e5-small","usage":{"prompt_tokens":8,"total_tokens":8}}' \
	>"$work/www/v1/embeddings"
head -c 200000000 /dev/zero >"$work/www/big"
ngx_common() {	# DIR
	cat <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 131072;
events { worker_connections 65536; multi_accept on; }
http {
	access_log off;
	client_body_temp_path $1; proxy_temp_path $1; fastcgi_temp_path $1;
	uwsgi_temp_path $1; scgi_temp_path $1;
	keepalive_requests 100000000;
	keepalive_timeout 300s;
	default_type application/json;
EOF
}
{
	ngx_common "$work/ngx-srv"
	cat <<EOF
	server {
		listen $SRV:8080 reuseport backlog=65535;
		listen $SRV:8082 http2 backlog=65535;
		listen 127.0.0.1:8090;
		listen 127.0.0.1:8092 http2;
		http2_max_requests 100000000;
		root $work/www;
	}
}
EOF
} >"$work/ngx-srv/nginx.conf"
{
	ngx_common "$work/ngx-proxy"
	cat <<EOF
	limit_req_zone \$binary_remote_addr zone=never:64m rate=1000000r/s;
	limit_req_zone \$binary_remote_addr zone=metered:8m rate=10r/s;
	limit_req_status 429;
	upstream backend { server 127.0.0.1:8090; keepalive 256; }
	server {
		listen $SRV:8081 reuseport backlog=65535;
		listen $SRV:8083 http2 backlog=65535;
		http2_max_requests 100000000;
		location / {
			limit_req zone=never burst=1000000 nodelay;
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
		location /metered/ {
			limit_req zone=metered;
			proxy_pass http://backend/;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
EOF
} >"$work/ngx-proxy/nginx.conf"
ps_spawn "$PS_NS_SRV" "$work/ngx-srv/out.log" nginx -c "$work/ngx-srv/nginx.conf" -e "$work/ngx-srv/error.log"
NGX_PIDS=$PS_SPAWNED
ps_spawn "$PS_NS_SRV" "$work/ngx-proxy/out.log" nginx -c "$work/ngx-proxy/nginx.conf" -e "$work/ngx-proxy/error.log"
NGX_PIDS+=,$PS_SPAWNED
ps_spawn "$PS_NS_SRV" "$work/iperf3.log" iperf3 -s -B "$SRV" -p 5201
for p in 8080 8081 8082 8083 5201; do
	ps_wait_port "$PS_NS_SRV" "$p" || { echo "bench-peers: nothing listens on $p" >&2; exit 1; }
done

cat >"$work/penstock.yaml" <<EOF
interfaces: [$PS_DEV_SRV]
endpoints:
  - {name: embeddings, port: 8080, paths: [/v1/embeddings]}
  - {name: embeddings-h2, port: 8082, paths: [/v1/embeddings]}
  - {name: bulk, port: 5201}
max_clients: 65536
limits:
  default: {requests_per_minute: 10000000, burst: 1000000, max_connections: 100000}
  classes:
    - {name: metered, clients: [${PS_CLI4[1]}/32, ${PS_CLI4[2]}/32, ${PS_CLI4[3]}/32,
       ${PS_CLI4[4]}/32, ${PS_CLI4[5]}/32, ${PS_CLI4[6]}/32, ${PS_CLI4[7]}/32,
       ${PS_CLI4[8]}/32, ${PS_CLI4[9]}/32, ${PS_CLI4[10]}/32], requests_per_minute: 600, burst: 1}
EOF
sed 's/^max_clients:/xdp: on\nmax_clients:/' "$work/penstock.yaml" >"$work/penstock-xdp.yaml"
"$bin/penstockd" --check-config --config "$work/penstock.yaml" >/dev/null
"$bin/penstockd" --check-config --config "$work/penstock-xdp.yaml" >/dev/null

NDAEMON=0
start_daemon() {	# CONFIG
	local log=$work/daemon-$((++NDAEMON)).log i
	ip netns exec "$PS_NS_SRV" "$bin/penstockd" --foreground --config "$1" \
		--socket "$SOCK" --state-dir "$work/state" --pin-dir "$PIN" \
		>"$log" 2>&1 </dev/null &
	DPID=$!
	# Its own log, and its socket: not the previous daemon's.
	for ((i = 0; i < 200; i++)); do
		grep -q "the datapath:" "$log" 2>/dev/null && [ -S "$SOCK" ] && break
		sleep 0.1
	done
	ps_wait_ticks "$bin/penstock" "$SOCK" ||
		{ echo "bench-peers: penstockd did not start: $(tail -n 3 "$log")" >&2; exit 1; }
}

setup_on() {	# SETUP
	case $1 in
	penstock) start_daemon "$work/penstock.yaml" ;;
	penstock-xdp) start_daemon "$work/penstock-xdp.yaml" ;;
	iptables)
		ps_srv iptables -w -A INPUT -p tcp -m multiport --dports 8080,8082,5201 \
			-m hashlimit --hashlimit-mode srcip --hashlimit-above 1000000/sec \
			--hashlimit-burst 100000 --hashlimit-htable-size 65536 \
			--hashlimit-htable-max 131072 --hashlimit-name pst_peers -j DROP
		;;
	nftables)
		ps_srv nft -f - <<'EOF'
table inet pst_peers {
	set clients {
		type ipv4_addr; size 131072; flags dynamic; timeout 10m;
	}
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport { 8080, 8082, 5201 } update @clients { ip saddr counter limit rate over 1000000/second } drop
	}
}
EOF
		;;
	esac
}

setup_off() {	# SETUP
	case $1 in
	penstock | penstock-xdp) stop_daemon ;;
	iptables) ps_srv iptables -w -F INPUT ;;
	nftables) ps_srv nft delete table inet pst_peers ;;
	esac
}

# CPU busy jiffies of the whole machine (all CPUs).
cpu_busy() { awk '/^cpu /{ print $2+$3+$4+$7+$8 }' /proc/stat; }

rep() { "$PY" "$top/tools/bench_peers_report.py" "$@"; }

# The servers' CPU over a run: task-clock ms of both nginx (the fast server
# and the proxy, which idles but in the proxy's runs), softirq work done in
# their context included (the egress program on their answers among it),
# counted over SECONDS after DELAY seconds, written to $work/srv.ms.
srv_cpu_start() {	# DELAY SECONDS
	( sleep "$1"; perf stat -x, -e task-clock -p "$NGX_PIDS" -o "$work/srv.stat" \
		-- sleep "$2" >/dev/null 2>&1 ) &
	SRV_CPU=$!
}
srv_cpu_end() {	# -> SRV_MS (not in a subshell: it waits for its child)
	wait "$SRV_CPU"
	SRV_MS=$(awk -F, '/task-clock/ { print $1 }' "$work/srv.stat")
}

record() {	# ROUND SETUP WORKLOAD JSON
	echo "{\"round\":$1,\"setup\":\"$2\",\"workload\":\"$3\",\"r\":$4}" >>"$results"
}

run_iperf() {	# ROUND SETUP
	local b0 b1 out
	b0=$(cpu_busy)
	out=$(ps_cli iperf3 -c "$SRV" -p 5201 -t "$((secs + 1))" -O 1 -J)
	b1=$(cpu_busy)
	record "$1" "$2" iperf3 "$(rep parse-iperf3 --busy "$((b1 - b0))" --seconds "$((secs + 1))" <<<"$out")"
}

run_wrk() {	# ROUND SETUP PORT
	local out
	srv_cpu_start 0 "$secs"
	out=$(ps_cli wrk -t1 -c32 -d"${secs}s" --latency "http://$SRV:$3/v1/embeddings")
	srv_cpu_end
	record "$1" "$2" wrk "$(rep parse-wrk <<<"$out" | rep srv-cpu --ms "$SRV_MS" --seconds "$secs")"
}

run_h2load() {	# ROUND SETUP PORT
	local out
	srv_cpu_start 1 "$secs"
	out=$(ps_cli h2load -c32 -m10 -t1 -D "$secs" --warm-up-time=1 "http://$SRV:$3/v1/embeddings")
	srv_cpu_end
	record "$1" "$2" h2load "$(rep parse-h2load <<<"$out" | rep srv-cpu --ms "$SRV_MS" --seconds "$secs")"
}

run_crowd() {	# ROUND SETUP PORT
	local out
	srv_cpu_start 2 "$secs"
	out=$(ps_cli "$bin/ps_load" --dst "$SRV" --port "$3" --src "$crowd_first" \
		--clients "$nclients" --seconds "$secs" --warmup 2 --path /v1/embeddings)
	srv_cpu_end
	record "$1" "$2" crowd "$(rep srv-cpu --ms "$SRV_MS" --seconds "$secs" <<<"$out")"
}

# Under the crowd's load: 10 clients each offered 100 requests/s, ten
# times a limit of 600 a minute (penstock's class `metered`; the proxy's
# zone `metered`, 10r/s): answered / allowed.
run_precision() {	# ROUND SETUP PORT PATH
	local out crowd
	ps_cli "$bin/ps_load" --dst "$SRV" --port "$3" --src "$crowd_first" \
		--clients "$nclients" --seconds "$((secs + 2))" --warmup 1 \
		--path /v1/embeddings >"$work/crowd.json" &
	crowd=$!
	sleep 1
	out=$(ps_cli "$bin/ps_load" --dst "$SRV" --port "$3" --src "${PS_CLI4[1]}" --clients 10 \
		--rate 100 --seconds "$secs" --warmup 1 --path "$4" --per-client)
	wait "$crowd"
	record "$1" "$2" limit-precision "$(rep parse-precision --allowed "$((10 * secs))" <<<"$out")"
}

# Under the crowd's load: a download shaped to 20mbit, achieved / configured.
run_shaping() {	# ROUND
	local out crowd size t addr=${PS_CLI4[0]}
	"$bin/penstock" throttle "$addr" --rate 20mbit --socket "$SOCK" >/dev/null
	ps_cli "$bin/ps_load" --dst "$SRV" --port 8080 --src "$crowd_first" \
		--clients "$nclients" --seconds "$((secs + 4))" --warmup 1 \
		--path /v1/embeddings >"$work/crowd.json" &
	crowd=$!
	sleep 1
	out=$(ps_cli curl -s -o /dev/null --interface "$addr" --max-time "$((secs + 2))" \
		-w '%{size_download} %{time_total}' "http://$SRV:8080/big" || true)
	wait "$crowd"
	"$bin/penstock" unblock "$addr" --socket "$SOCK" >/dev/null
	read -r size t <<<"$out"
	record "$1" penstock shaping-precision "$(rep shaping --bytes "$size" --seconds "$t" --rate 20000000)"
}

echo "bench-peers: $rounds rounds of ${secs} s runs, $nclients crowd clients ($work)"
for ((r = 1; r <= rounds; r++)); do
	for ((k = 0; k < ${#setups[@]}; k++)); do
		s=${setups[(k + r - 1) % ${#setups[@]}]}
		echo "bench-peers: round $r/$rounds: $s"
		if [ "$s" = proxy ]; then
			run_wrk "$r" "$s" 8081
			run_h2load "$r" "$s" 8083
			run_crowd "$r" "$s" 8081
			run_precision "$r" "$s" 8081 /metered/v1/embeddings
			continue
		fi
		setup_on "$s"
		run_iperf "$r" "$s"
		run_wrk "$r" "$s" 8080
		if [ "$s" = penstock-xdp ]; then
			setup_off "$s"
			continue
		fi
		run_h2load "$r" "$s" 8082
		run_crowd "$r" "$s" 8080
		if [ "$s" = penstock ]; then
			run_precision "$r" "$s" 8080 /v1/embeddings
			run_shaping "$r"
		fi
		setup_off "$s"
	done
done

elapsed=$(($(date +%s) - t_start))
rep report --results "$results" --rounds "$rounds" \
	--seconds "$secs" --clients "$nclients" --elapsed "$elapsed" \
	--benchmarks "$top/BENCHMARKS.md" --chart "$top/docs/bench-peers.png"
[ "${PS_KEEP:-0}" = 1 ] && cp "$results" "$top/.output/bench-peers.jsonl"
echo "bench-peers: done in ${elapsed} s"
