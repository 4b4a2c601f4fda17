// SPDX-License-Identifier: GPL-2.0-only
/*
 * ps_flood: TCP from many spoofed client addresses to one endpoint, as
 * fast as the link takes it (or at a set rate), for the flood test
 * (tests/e2e/test_flood). It writes whole Ethernet frames with an
 * AF_PACKET socket onto the client end of a veth pair, so it runs inside
 * the client namespace, and the frames go nowhere but to the peer.
 *
 *   ps_flood --dev DEV --dst-mac MAC --dst4 ADDR --dst6 ADDR --port PORT
 *            --src4 PREFIX --src6 PREFIX --addrs N --v4 N4
 *            [--seconds S] [--full-pass] [--rate PPS] [--max-packets N] [--cpu C]
 *
 * Addresses: N sources, the first N4 the addresses of --src4 from its
 * first on (at most as many as it holds), the other N - N4 those of
 * --src6 likewise. Packet k (0, 1, ...) comes from source k mod N, in
 * passes over all of them: pass p = k / N. An even pass sends each
 * source's SYN (a new port and ISN every two passes), an odd one the data
 * segment that follows it on the same four-tuple (ACK, sequence ISN + 1):
 * an inference request, headers and a two-byte body. So the first pass
 * makes N new clients, one per packet.
 *
 * Frames are sent in batches with sendmmsg(), past the qdisc
 * (PACKET_QDISC_BYPASS) straight into veth_xmit: a frame the peer cannot
 * queue (its ring or backlog full) fails with ENOBUFS, and is sent again
 * until it is taken, so every packet counted was handed to the peer, and
 * an unpaced run goes at the rate the receiving side sustains.
 *
 * What it sent, exactly: one JSON line on stdout at the end (packets by
 * family and kind, bytes of IP, distinct sources, the data segments'
 * payload length, passes, ENOBUFS retries, seconds, packets/s). With
 * --full-pass it does not stop at --seconds before every source has sent
 * once (a machine short of CPU), but stops at three times --seconds
 * whatever it has sent. With
 * --progress, one line a second on stderr ({"t":..,"sent":..}). SIGINT or
 * SIGTERM stops it early, with the same report.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "csum.h"

#define BATCH		64
#define FRAME_MAX	256

static const char request[] = "POST /v1/chat/completions HTTP/1.1\r\n"
			      "Host: flood\r\n"
			      "Content-Type: application/json\r\n"
			      "Content-Length: 2\r\n"
			      "\r\n"
			      "{}";

struct opts {
	const char *dev;
	uint8_t dst_mac[6];
	struct in_addr dst4, src4;
	struct in6_addr dst6, src6;
	uint32_t src4_size;		/* addresses in --src4 */
	unsigned __int128 src6_size;	/* addresses in --src6 (capped) */
	uint16_t port;
	uint64_t addrs, v4;
	double seconds, rate;
	uint64_t max_packets;
	int cpu;
	bool progress;
	bool full_pass;		/* --seconds, or more until every source has sent */
};

struct tally {
	uint64_t syn4, syn6, data4, data6, ip_bytes, enobufs;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A well-mixed 64-bit hash (splitmix64's finaliser). */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * Build the frame of packet k into buf; returns its length and adds it to
 * the tally of what was built (taken back if it is not sent).
 */
static size_t build(const struct opts *o, const uint8_t *src_mac, uint64_t k, uint8_t *buf,
		    int *kind)
{
	uint64_t i = k % o->addrs, pass = k / o->addrs;
	/* Port and ISN: the same for a SYN and the data segment after it. */
	uint64_t h = mix(i * 0x9e3779b97f4a7c15ULL + pass / 2);
	bool v4 = i < o->v4, data = pass & 1;
	uint16_t sport = 1024 + h % 64512;
	uint32_t isn = (uint32_t)(h >> 32), sum;
	size_t plen = data ? sizeof(request) - 1 : 0, l3, off;
	struct ether_header *eth = (struct ether_header *)buf;
	struct tcphdr *th;

	memcpy(eth->ether_dhost, o->dst_mac, 6);
	memcpy(eth->ether_shost, src_mac, 6);
	off = sizeof(*eth);
	if (v4) {
		struct iphdr *ip = (struct iphdr *)(buf + off);

		eth->ether_type = htons(ETHERTYPE_IP);
		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(sizeof(*ip) + sizeof(*th) + plen);
		ip->id = htons((uint16_t)k);
		ip->frag_off = htons(IP_DF);
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->saddr = htonl(ntohl(o->src4.s_addr) + (uint32_t)i);
		ip->daddr = o->dst4.s_addr;
		ip->check = csum_fold(csum_add(0, ip, sizeof(*ip)));
		l3 = sizeof(*ip);
		th = (struct tcphdr *)(buf + off + l3);
		sum = csum_add(0, &ip->saddr, 8);
	} else {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)(buf + off);
		uint64_t j = i - o->v4;
		int b;

		eth->ether_type = htons(ETHERTYPE_IPV6);
		memset(ip6, 0, sizeof(*ip6));
		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons(sizeof(*th) + plen);
		ip6->ip6_nxt = IPPROTO_TCP;
		ip6->ip6_hlim = 64;
		ip6->ip6_src = o->src6;
		/* The prefix's j-th address: add j to its low 64 bits. */
		for (b = 15; b >= 0 && j; b--) {
			unsigned int v = ip6->ip6_src.s6_addr[b] + (j & 0xff);

			ip6->ip6_src.s6_addr[b] = v & 0xff;
			j = (j >> 8) + (v >> 8);
		}
		ip6->ip6_dst = o->dst6;
		l3 = sizeof(*ip6);
		th = (struct tcphdr *)(buf + off + l3);
		sum = csum_add(0, &ip6->ip6_src, 32);
	}
	memset(th, 0, sizeof(*th));
	th->source = htons(sport);
	th->dest = htons(o->port);
	th->doff = 5;
	th->window = htons(64240);
	if (data) {
		th->seq = htonl(isn + 1);
		th->ack_seq = htonl((uint32_t)h ^ 0x5a5a5a5a);
		th->ack = 1;
		th->psh = 1;
		memcpy((uint8_t *)(th + 1), request, plen);
	} else {
		th->seq = htonl(isn);
		th->syn = 1;
	}
	sum += IPPROTO_TCP + sizeof(*th) + plen;
	sum = csum_add(sum, th, sizeof(*th) + plen);
	th->check = csum_fold(sum);
	*kind = (v4 ? 0 : 1) | (data ? 2 : 0);
	return off + l3 + sizeof(*th) + plen;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int m[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (m[i] > 255)
			return -1;
		mac[i] = m[i];
	}
	return 0;
}

/* ADDR/LEN into its first address and how many it holds. */
static int parse_prefix(const char *s, int family, void *addr, unsigned __int128 *size)
{
	char buf[64], *slash;
	long len;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = 0;
	len = strtol(slash + 1, NULL, 10);
	if (inet_pton(family, buf, addr) != 1 || len < 0 || len > (family == AF_INET ? 32 : 128))
		return -1;
	len = (family == AF_INET ? 32 : 128) - len;
	*size = len >= 64 ? (unsigned __int128)1 << 64 : (unsigned __int128)1 << len;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ps_flood --dev DEV --dst-mac MAC --dst4 ADDR --dst6 ADDR --port PORT\n"
		"                --src4 PREFIX --src6 PREFIX --addrs N --v4 N4\n"
		"                [--seconds S] [--full-pass] [--rate PPS] [--max-packets N] [--cpu C]\n"
		"                [--progress]\n"
		"  e.g. ip netns exec CLI ps_flood --dev veth-cli --dst-mac 02:00:00:00:00:01 \\\n"
		"         --dst4 198.18.0.1 --dst6 fd00:5053::1 --port 8000 --src4 198.19.0.0/16 \\\n"
		"         --src6 fd00:f1::/64 --addrs 1000000 --v4 65536 --seconds 30\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "dst-mac", required_argument, NULL, 'm' },
		{ "dst4", required_argument, NULL, '4' },
		{ "dst6", required_argument, NULL, '6' },
		{ "port", required_argument, NULL, 'p' },
		{ "src4", required_argument, NULL, 'a' },
		{ "src6", required_argument, NULL, 'b' },
		{ "addrs", required_argument, NULL, 'n' },
		{ "v4", required_argument, NULL, 'v' },
		{ "seconds", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "max-packets", required_argument, NULL, 'x' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "progress", no_argument, NULL, 'P' },
		{ "full-pass", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct opts o = { .seconds = 10, .cpu = -1 };
	/*
	 * Each frame starts 2 bytes into its row (the kernel's NET_IP_ALIGN),
	 * so that the IP and TCP headers build() writes are 4-byte aligned.
	 */
	static uint8_t frames[BATCH][FRAME_MAX + 4] __attribute__((aligned(4)));
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	int kinds[BATCH];
	uint8_t src_mac[6];
	struct sockaddr_ll sll = {};
	struct tally t = {};
	struct ifreq ifr = {};
	bool have4 = false, have6 = false, have_mac = false;
	double t0, next_report, end, took;
	uint64_t k = 0, sent = 0;
	int opt, fd, one = 1, i;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			o.dev = optarg;
			break;
		case 'm':
			if (parse_mac(optarg, o.dst_mac))
				goto bad;
			have_mac = true;
			break;
		case '4':
			if (inet_pton(AF_INET, optarg, &o.dst4) != 1)
				goto bad;
			have4 = true;
			break;
		case '6':
			if (inet_pton(AF_INET6, optarg, &o.dst6) != 1)
				goto bad;
			have6 = true;
			break;
		case 'p':
			o.port = strtoul(optarg, NULL, 10);
			break;
		case 'a': {
			unsigned __int128 n;

			if (parse_prefix(optarg, AF_INET, &o.src4, &n))
				goto bad;
			o.src4_size = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
			break;
		}
		case 'b':
			if (parse_prefix(optarg, AF_INET6, &o.src6, &o.src6_size))
				goto bad;
			break;
		case 'n':
			o.addrs = strtoull(optarg, NULL, 10);
			break;
		case 'v':
			o.v4 = strtoull(optarg, NULL, 10);
			break;
		case 's':
			o.seconds = strtod(optarg, NULL);
			break;
		case 'r':
			o.rate = strtod(optarg, NULL);
			break;
		case 'x':
			o.max_packets = strtoull(optarg, NULL, 10);
			break;
		case 'c':
			o.cpu = atoi(optarg);
			break;
		case 'P':
			o.progress = true;
			break;
		case 'F':
			o.full_pass = true;
			break;
		case 'h':
			usage();
			return 0;
		default:
			goto bad;
		}
	}
	if (!o.dev || !have_mac || !o.port || !o.addrs || o.v4 > o.addrs || o.seconds <= 0 ||
	    o.rate < 0 || (o.v4 && (!have4 || o.v4 > o.src4_size)) ||
	    (o.addrs > o.v4 && (!have6 || o.addrs - o.v4 > o.src6_size)))
		goto bad;
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			perror("ps_flood: sched_setaffinity");
	}

	/* Protocol 0: this socket sends and never receives. */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("ps_flood: socket(AF_PACKET)");
		return 1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o.dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		fprintf(stderr, "ps_flood: %s: %s\n", o.dev, strerror(errno));
		return 1;
	}
	memcpy(src_mac, ifr.ifr_hwaddr.sa_data, 6);
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = if_nametoindex(o.dev);
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		fprintf(stderr, "ps_flood: bind %s: %s\n", o.dev, strerror(errno));
		return 1;
	}
	/* Straight to the driver: a full peer says so (ENOBUFS) at once. */
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)))
		perror("ps_flood: PACKET_QDISC_BYPASS");

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	t0 = now_s();
	end = t0 + o.seconds;
	next_report = t0 + 1;
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = frames[i] + 2;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (!stop) {
		uint64_t want = BATCH;
		double now = now_s();
		int n, built;

		if (now >= end && (!o.full_pass || sent >= o.addrs || now >= t0 + 3 * o.seconds))
			break;
		if (o.max_packets && sent >= o.max_packets)
			break;
		if (o.progress && now >= next_report) {
			fprintf(stderr, "{\"t\":%.3f,\"sent\":%llu}\n", now - t0,
				(unsigned long long)sent);
			next_report += 1;
		}
		if (o.rate > 0) {
			/* Paced: no packet before its time, sent/rate after t0. */
			double due = t0 + sent / o.rate;

			if (due > now) {
				struct timespec ts;
				double d = due - now;

				ts.tv_sec = (time_t)d;
				ts.tv_nsec = (long)((d - ts.tv_sec) * 1e9);
				nanosleep(&ts, NULL);
				continue;
			}
			want = (uint64_t)((now - t0) * o.rate) - sent + 1;
			if (want > BATCH)
				want = BATCH;
		}
		if (o.max_packets && want > o.max_packets - sent)
			want = o.max_packets - sent;
		for (built = 0; built < (int)want; built++)
			iov[built].iov_len = build(&o, src_mac, k + built, frames[built] + 2,
						   &kinds[built]);
		n = sendmmsg(fd, msgs, built, 0);
		if (n < 0) {
			if (errno == ENOBUFS || errno == EAGAIN) {
				/* The peer's queue is full: the same frames again. */
				t.enobufs++;
				sched_yield();
				continue;
			}
			if (errno == EINTR)
				continue;
			perror("ps_flood: sendmmsg");
			break;
		}
		for (i = 0; i < n; i++) {
			t.ip_bytes += iov[i].iov_len - sizeof(struct ether_header);
			switch (kinds[i]) {
			case 0:
				t.syn4++;
				break;
			case 1:
				t.syn6++;
				break;
			case 2:
				t.data4++;
				break;
			default:
				t.data6++;
			}
		}
		k += n;
		sent += n;
	}
	took = now_s() - t0;
	close(fd);
	printf("{\"sent\":%llu,\"syn4\":%llu,\"syn6\":%llu,\"data4\":%llu,\"data6\":%llu,"
	       "\"ip_bytes\":%llu,\"addresses\":%llu,\"v4_addresses\":%llu,\"v6_addresses\":%llu,"
	       "\"payload\":%zu,\"passes\":%.3f,\"enobufs\":%llu,\"seconds\":%.3f,\"pps\":%.0f}\n",
	       (unsigned long long)sent, (unsigned long long)t.syn4, (unsigned long long)t.syn6,
	       (unsigned long long)t.data4, (unsigned long long)t.data6,
	       (unsigned long long)t.ip_bytes,
	       (unsigned long long)(sent < o.addrs ? sent : o.addrs),
	       (unsigned long long)(sent < o.v4 ? sent : o.v4),
	       (unsigned long long)(sent < o.v4 ? 0 : (sent < o.addrs ? sent : o.addrs) - o.v4),
	       sizeof(request) - 1, (double)sent / o.addrs, (unsigned long long)t.enobufs, took,
	       took > 0 ? sent / took : 0.0);
	return 0;
bad:
	usage();
	return 2;
}
