#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs the Debian (bookworm) packages penstock's build, tests, benchmarks
# and demo need; skips what is installed. Non-interactive and idempotent.
set -euo pipefail

pkgs=(
	# build
	make gcc clang llvm libbpf-dev bpftool linux-libc-dev libelf-dev zlib1g-dev
	libpcap-dev libyaml-dev libjansson-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
	libncurses-dev libsystemd-dev libcurl4-openssl-dev libcap-dev pkg-config
	# penstockd's /metrics server
	libmicrohttpd-dev
	# make SANITIZE=1 and make fuzz: clang's ASan, UBSan and libFuzzer runtimes
	libclang-rt-14-dev
	# tests, benchmarks, demo
	iproute2 ethtool tcpdump tshark curl python3 python3-scapy nginx-light
	wrk nghttp2-client iperf3 tmux procps valgrind stress-ng nftables
	# make bench-peers: the peers (iptables hashlimit), its chart, and the
	# servers' CPU a request (perf stat)
	iptables python3-matplotlib linux-perf
	# tests/e2e/test_framing_servers: uvicorn with both HTTP/1 parsers
	python3-uvicorn python3-h11 python3-httptools python3-fastapi
	# tests/e2e/test_proxy_protocol: load balancers that send PROXY
	# headers (nginx's stream module is a package of its own)
	haproxy libnginx-mod-stream
	# tests/e2e/test_gateways_more: Caddy as the gateway (Go's HTTP/2
	# transport and HPACK encoder upstream)
	caddy
	# tests/e2e/test_apikey: a core of penstockd (gcore) searched for keys
	gdb
	# tests/e2e/test_metrics: a Prometheus server scraping penstockd, and
	# the reference parser of the text format
	prometheus python3-prometheus-client
	# man pages (tests/e2e/test_docs: groff -ww, man -l), bash completion
	groff man-db bash-completion
	# make deb and tests/e2e/test_deb: debhelper, lintian, a clean Debian 12
	# root from debootstrap
	debhelper lintian debootstrap dpkg-dev fakeroot
	# HTTP/2: HEADERS blocks of the crafted cases (tests/datapath/cases.py),
	# nghttpd and nghttpx for tests/e2e/test_http2, a gRPC server and client
	python3-hpack nghttp2-server nghttp2-proxy python3-grpcio
	# HTTP/2 adversarial clients (tools/adversary.py, tests/e2e/test_adversarial)
	python3-h2
	# brotli-encoded answers: tests/datapath/test_h2resp (libbrotlienc),
	# tests/e2e/test_encoded_tokens (an h2c server sending br)
	libbrotli-dev python3-brotli
	# the fleet's counters (userspace/fleet/): hiredis; tests/e2e/test_fleet
	# and make bench run a real Redis
	libhiredis-dev redis-server redis-tools
)

missing=()
for p in "${pkgs[@]}"; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "penstock: missing packages: ${missing[*]}; run 'make deps' as root" >&2
	exit 1
fi
echo "penstock: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the answer is no.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
