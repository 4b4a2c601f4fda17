# SPDX-License-Identifier: GPL-2.0-only
#
# Test hosts for penstock's end-to-end tests and the demo: a server
# namespace and a client namespace joined by one veth pair. Sourced by bash:
#
#   . tests/lib/netns.sh
#   ps_netns_setup 4                  # 4 client addresses per family
#   ps_spawn "$PS_NS_SRV" server.log python3 llm_server.py --port 8000
#   ps_cli curl -s "http://$PS_SRV4:8000/health"
#
# After ps_netns_setup:
#   PS_NS_SRV, PS_NS_CLI      namespace names (pst-<pid>-srv / -cli)
#   PS_DEV_SRV, PS_DEV_CLI    the veth end inside each namespace
#   PS_SRV4, PS_SRV6          the server's addresses
#   PS_CLI4[], PS_CLI6[]      the client addresses, each a client to penstock
#
# A test that needs more hosts (a load balancer between clients and server,
# say) adds namespaces and links after ps_netns_setup:
#
#   ps_netns_add px                   # PS_NS_ADDED=pst-<pid>-px
#   ps_netns_link "$PS_NS_ADDED" veth-pxs "$PS_NS_SRV" veth-sp
#
# Everything stays inside these namespaces: each veth pair is created
# directly in them (the root namespace never holds either end), no route
# leads out, and a trap on EXIT, INT and TERM kills every process started
# here or found in the namespaces, then deletes the namespaces. The caller
# may add its own cleanup with ps_at_cleanup; it runs first.
#
# Addresses: 198.18.0.0/15 (RFC 2544 benchmarking) and fd00::/8 (ULA), so
# nothing here can collide with a real network. IPv6 addresses are added
# with nodad: duplicate address detection would keep them "tentative" (not
# bindable) for a second or more.

PS_NS_SRV=""
PS_NS_CLI=""
PS_DEV_SRV=veth-srv
PS_DEV_CLI=veth-cli
PS_SRV4=198.18.0.1
PS_SRV6=fd00:5053::1
PS_CLI4=()
PS_CLI6=()
PS_NS_MORE=()		# namespaces ps_netns_add made
PS_NS_ADDED=""		# the last one
PS_NETNS_PIDS=()	# children ps_spawn and ps_run started, not yet waited for
PS_NETNS_CLEANUPS=()	# caller's cleanup commands, run before ours
PS_NETNS_DONE=0

# Run a command in the server / client namespace.
ps_srv() { ip netns exec "$PS_NS_SRV" "$@"; }
ps_cli() { ip netns exec "$PS_NS_CLI" "$@"; }

# Register a command (a string for eval) to run at cleanup, before the
# namespaces go away: e.g. stopping a capture so its file is complete.
ps_at_cleanup() { PS_NETNS_CLEANUPS+=("$1"); }

# ps_nginx_conf DIR: write DIR/nginx.conf for an nginx of one process whose
# every file is under DIR (nothing of the system's nginx is read or
# written: its pid, error log and temporary files), with the directives of
# its http block read from stdin. Start it with
#   ps_spawn NS LOG nginx -p DIR -c DIR/nginx.conf -e DIR/error.log
ps_nginx_conf() {
	local d=$1
	mkdir -p "$d"
	{
		cat <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 1024; }
http {
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
EOF
		cat
		echo "}"
	} >"$d/nginx.conf"
}

# ps_spawn NS LOGFILE CMD...: start CMD in namespace NS in the background,
# stdout and stderr to LOGFILE; sets PS_SPAWNED to its pid. The pid is that
# of CMD itself (ip netns exec execs it), so a signal reaches CMD directly.
ps_spawn() {
	local ns=$1 log=$2
	shift 2
	# A background job of a non-interactive shell may start with SIGINT
	# ignored; reset it so that "SIGINT, then wait" stops CMD cleanly.
	( trap - INT; exec ip netns exec "$ns" "$@" ) >"$log" 2>&1 </dev/null &
	PS_SPAWNED=$!
	PS_NETNS_PIDS+=("$PS_SPAWNED")
}

# Drop a pid that has been waited for: once reaped, the number may be
# given to some other process, which the cleanup must never signal.
_ps_forget() {
	local p keep=()
	for p in "${PS_NETNS_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PS_NETNS_PIDS=("${keep[@]}")
}

# A pid from PS_NETNS_PIDS that is still a running child of ours (not a
# zombie, not a number reused by another process).
_ps_is_ours() {
	local ppid stat
	read -r ppid stat < <(ps -o ppid=,stat= -p "$1" 2>/dev/null) || return 1
	[ "$ppid" = "$$" ] && [ "${stat#Z}" = "$stat" ]
}

# ps_run CMD...: run CMD and return its status, as a foreground command
# would, but as a background job that the shell waits for. While bash waits
# for a foreground command it runs no trap until the command ends (and a
# command under `timeout` sits in a process group of its own, out of reach
# of Ctrl-C); `wait` is cut short by a trapped signal at once, and the
# cleanup then ends CMD by its pid.
ps_run() {
	"$@" &
	local pid=$! rc=0
	PS_NETNS_PIDS+=("$pid")
	wait "$pid" || rc=$?
	_ps_forget "$pid"
	return "$rc"
}

# ps_stop PID [SIGNAL] [SECONDS]: signal one process we started and wait up
# to SECONDS (default 5) for it to exit, then SIGKILL it. Returns its exit
# status (or 137 after SIGKILL).
ps_stop() {
	local pid=$1 sig=${2:-TERM} secs=${3:-5} i
	kill -s "$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -s KILL "$pid" 2>/dev/null || true
	fi
	local rc=0
	wait "$pid" 2>/dev/null || rc=$?
	_ps_forget "$pid"
	return "$rc"
}

# ps_wait_port NS PORT [SECONDS]: wait until something listens on TCP PORT.
ps_wait_port() {
	local ns=$1 port=$2 secs=${3:-5} i
	for ((i = 0; i < secs * 20; i++)); do
		if ip netns exec "$ns" ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
			return 0
		fi
		sleep 0.05
	done
	echo "nothing listens on port $port in $ns after ${secs}s" >&2
	return 1
}

# penstockd's ticks so far.
_ps_tick_count() {	# PENSTOCK SOCKET
	"$1" status --json --socket "$2" 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["tick"]["count"])'
}

# ps_wait_ticks PENSTOCK SOCKET [SECONDS]: wait until penstockd has begun
# and ended two ticks since now, so that its counts hold every packet that
# came before the call (a tick reads the counters; under load, or with a
# table of a million clients, one can take longer than its second).
ps_wait_ticks() {
	local pst=$1 sock=$2 secs=${3:-30} c0 c i
	c0=$(_ps_tick_count "$pst" "$sock") || return 1
	for ((i = 0; i < secs * 10; i++)); do
		c=$(_ps_tick_count "$pst" "$sock") || return 1
		[ "$c" -ge $((c0 + 2)) ] && return 0
		sleep 0.1
	done
	echo "penstockd made no two ticks in ${secs}s" >&2
	return 1
}

# The processes living in our namespaces: whatever we started there, even
# through a path ps_spawn did not see (ps_cli in a subshell, say).
_ps_netns_members() {
	local ns
	for ns in "$PS_NS_SRV" "$PS_NS_CLI" "${PS_NS_MORE[@]}"; do
		[ -n "$ns" ] && [ -e "/run/netns/$ns" ] && ip netns pids "$ns" 2>/dev/null
	done
	return 0
}

ps_netns_cleanup() {
	[ "$PS_NETNS_DONE" = 1 ] && return 0
	PS_NETNS_DONE=1
	# Neither a second Ctrl-C nor set -e may cut the cleanup short.
	trap '' INT TERM
	set +e
	local c pid pids i
	for c in "${PS_NETNS_CLEANUPS[@]}"; do
		eval "$c"
	done
	# Ours: the children we started and still have, and whatever lives
	# in our namespaces. TERM first, KILL what is left after 2 s.
	for ((i = 0; i < 40; i++)); do
		pids=$(for pid in "${PS_NETNS_PIDS[@]}"; do
			_ps_is_ours "$pid" && echo "$pid"; done; _ps_netns_members)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086  # one pid a word
		[ "$i" = 0 ] && kill -s TERM $pids 2>/dev/null
		sleep 0.05
	done
	# shellcheck disable=SC2086
	[ -n "$pids" ] && kill -s KILL $pids 2>/dev/null
	for pid in "${PS_NETNS_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	for ns in "$PS_NS_SRV" "$PS_NS_CLI" "${PS_NS_MORE[@]}"; do
		# Deleting a namespace deletes the veth end in it, and with it
		# the peer.
		[ -n "$ns" ] && [ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
	done
	return 0
}

_ps_netns_on_signal() {
	local sig=$1 code=$2
	ps_netns_cleanup
	trap - EXIT
	exit "$code"
}

# One end of a veth pair, set up as a test link.
_ps_veth_end() {	# NS DEV
	# Without this the veth hands 64 KB GSO super-packets to tcpdump;
	# with it the capture holds wire-sized packets, the same ones a NIC
	# would put on the wire.
	ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null || return 1
	# No router advertisements taken, and no duplicate address detection
	# for the link-local address either: until DAD ends an address is
	# "tentative" and the first packets wait.
	ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_ra=0" \
		"net.ipv6.conf.$2.accept_dad=0" >/dev/null
}

# ps_netns_add NAME: one more namespace, pst-<pid>-NAME, with its loopback
# up; PS_NS_ADDED names it. Only after ps_netns_setup: the same cleanup
# removes it, and whatever runs in it.
ps_netns_add() {
	if [ -z "$PS_NS_SRV" ] || ! [[ $1 =~ ^[a-z0-9]{1,8}$ ]]; then
		echo "ps_netns_add: after ps_netns_setup, with a name of 1..8 of [a-z0-9]" >&2
		return 1
	fi
	PS_NS_ADDED="pst-$$-$1"
	# Listed before it exists: a failure half-way still removes it.
	PS_NS_MORE+=("$PS_NS_ADDED")
	ip netns add "$PS_NS_ADDED" || return 1
	ip -n "$PS_NS_ADDED" link set lo up
}

# ps_netns_link NS1 DEV1 NS2 DEV2: a veth pair from DEV1 in NS1 to DEV2 in
# NS2 (two of our namespaces), up, set up as ps_netns_setup's is; the
# caller adds the addresses (with nodad for IPv6).
ps_netns_link() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" || return 1
	_ps_veth_end "$1" "$2" || return 1
	_ps_veth_end "$3" "$4" || return 1
	ip -n "$1" link set "$2" up || return 1
	ip -n "$3" link set "$4" up
}

# ps_netns_setup [NCLIENTS]: build both namespaces with NCLIENTS (default 3,
# at most 200) client addresses per family.
ps_netns_setup() {
	local n=${1:-3} i
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 200 ]; then
		echo "ps_netns_setup: NCLIENTS must be 1..200, not '$n'" >&2
		return 1
	fi
	PS_NS_SRV="pst-$$-srv"
	PS_NS_CLI="pst-$$-cli"
	PS_NETNS_DONE=0
	# Set before the first namespace exists, so a failure half-way
	# through still removes what was made.
	trap ps_netns_cleanup EXIT
	trap '_ps_netns_on_signal INT 130' INT
	trap '_ps_netns_on_signal TERM 143' TERM

	ip netns add "$PS_NS_SRV" || return 1
	ip netns add "$PS_NS_CLI" || return 1
	ip -n "$PS_NS_SRV" link add "$PS_DEV_SRV" type veth \
		peer name "$PS_DEV_CLI" netns "$PS_NS_CLI" || return 1

	PS_CLI4=()
	PS_CLI6=()
	for ((i = 0; i < n; i++)); do
		PS_CLI4+=("198.18.$(((i + 2) / 256)).$(((i + 2) % 256))")
		PS_CLI6+=("$(printf 'fd00:5053::%x' $((i + 2)))")
	done

	ip -n "$PS_NS_SRV" link set lo up || return 1
	ip -n "$PS_NS_CLI" link set lo up || return 1
	_ps_veth_end "$PS_NS_SRV" "$PS_DEV_SRV" || return 1
	_ps_veth_end "$PS_NS_CLI" "$PS_DEV_CLI" || return 1
	ip -n "$PS_NS_SRV" addr add "$PS_SRV4/16" dev "$PS_DEV_SRV" || return 1
	ip -n "$PS_NS_SRV" addr add "$PS_SRV6/64" dev "$PS_DEV_SRV" nodad || return 1
	for ((i = 0; i < n; i++)); do
		ip -n "$PS_NS_CLI" addr add "${PS_CLI4[i]}/16" dev "$PS_DEV_CLI" || return 1
		ip -n "$PS_NS_CLI" addr add "${PS_CLI6[i]}/64" dev "$PS_DEV_CLI" nodad || return 1
	done
	ip -n "$PS_NS_SRV" link set "$PS_DEV_SRV" up || return 1
	ip -n "$PS_NS_CLI" link set "$PS_DEV_CLI" up || return 1

	# Bounded wait for any address still tentative (there should be none).
	for ((i = 0; i < 50; i++)); do
		if [ -z "$(ip -n "$PS_NS_SRV" -6 addr show tentative)$(ip -n "$PS_NS_CLI" -6 addr show tentative)" ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "ps_netns_setup: IPv6 addresses still tentative after 5s" >&2
	return 1
}
