// SPDX-License-Identifier: GPL-2.0-only
/*
 * Random and mutated packets through the datapath's programs
 * (BPF_PROG_TEST_RUN), with invariants checked as they go.
 *
 *   fuzz_datapath [-n PACKETS] [-s SEED] [--live] PCAP...
 *
 * The corpus is the Ethernet packets of the captures given. Each packet
 * run is a corpus packet with one to four mutations (a flipped bit, a byte
 * set to a value the parser cares about, a sequence or acknowledgment
 * number moved, TCP flags changed, the frame cut short, ports pointed at
 * the endpoint or swapped, IP fragment bits, a run of bytes copied from
 * another packet), or now and then pure noise.
 *
 * Invariants, every 1000 packets and at the end, for every client:
 *   inference_requests <= requests
 *   3 x requests <= rx_payload (no request is made of fewer than 3 bytes)
 *   rx_payload <= rx_bytes, tx_payload <= tx_bytes
 * for every flow: stash pieces held <= PS_OOO_FLOW_PIECES; and the tables
 * within their sizes (flows, stash, client slots).
 * With --live the programs decide as on an interface, under a request
 * limit of a burst of 3 and an emission interval of an hour: no client
 * may then have more than 3 inference requests counted, whatever the
 * packets did.
 *
 * Prints "PASS name" / "FAIL name: why" lines; exit 1 on a failure.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/datapath.h"
#include "common/log.h"
#include "penstock.skel.h"
#include "../unit/check.h"

#include "fuzz_corpus.h"

#define PORT		8000
#define PX_PORT		443	/* PROXY headers, the corpus's haproxy capture's port */
#define LIVE_BURST	3
#define HOUR_NS		3600000000000ULL

static struct frame *corpus;
static unsigned int ncorpus;
static struct ps_datapath dp;
static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static int live;

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static unsigned int rndn(unsigned int n)
{
	return n ? rnd() % n : 0;
}

/* Where the TCP header of an untagged IPv4/IPv6 frame starts, or 0. */
static unsigned int tcp_off(const struct frame *f)
{
	const struct ethhdr *eth = (const void *)f->b;

	if (eth->h_proto == htons(ETH_P_IP)) {
		const struct iphdr *ip = (const void *)(eth + 1);

		if (ip->protocol == IPPROTO_TCP && ETH_HLEN + ip->ihl * 4u + 20 <= f->len)
			return ETH_HLEN + ip->ihl * 4;
	} else if (eth->h_proto == htons(ETH_P_IPV6)) {
		const struct ipv6hdr *ip6 = (const void *)(eth + 1);

		if (ip6->nexthdr == IPPROTO_TCP && ETH_HLEN + 40 + 20 <= f->len)
			return ETH_HLEN + 40;
	}
	return 0;
}

/* Bytes the HTTP parser decides on. */
static const char interesting[] = "\r\n :,0123456789aAfFxX%/-+\t";
static const char *const words[] = {
	"PROXY TCP4 198.19.0.1 198.18.0.1 1 443\r\n", "PROXY TCP6 fd00::9 fd00::1 1 443\r\n",
	"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c", "PROXY UNKNOWN\r\n",
	"POST ", "GET ", "/v1/chat/completions", " HTTP/1.1\r\n", "\r\n\r\n",
	"Content-Length: ", "Transfer-Encoding: chunked\r\n", "0\r\n\r\n", "HTTP/1.1 200 OK\r\n",
	"Upgrade: h2c\r\n", "CONNECT a:80 HTTP/1.1\r\n", "\r\n",
	"X-Forwarded-For: 198.19.0.2, [fd00::2]:1, unknown\r\n", "Forwarded: for=\"[fd00::3]:1\"\r\n",
	"x-forwarded-for:", ", 198.19.0.", ";for=",
};

static void mutate(struct frame *f)
{
	unsigned int t = tcp_off(f), i, k = 1 + rndn(4), at;
	struct tcphdr *th = t ? (struct tcphdr *)(f->b + t) : NULL;

	for (i = 0; i < k; i++) {
		switch (rndn(11)) {
		case 0:		/* a bit */
			at = rndn(f->len);
			f->b[at] ^= 1 << rndn(8);
			break;
		case 1:		/* a byte the parser cares about, in the payload */
			at = t ? t + 20 + rndn(f->len > t + 20 ? f->len - t - 20 : 1) : rndn(f->len);
			if (at < f->len)
				f->b[at] = interesting[rndn(sizeof(interesting) - 1)];
			break;
		case 2:		/* sequence number moved */
			if (th)
				th->seq = htonl(ntohl(th->seq) + (int)(rndn(4097)) - 2048);
			break;
		case 3:		/* acknowledgment number moved */
			if (th)
				th->ack_seq = htonl(ntohl(th->ack_seq) + (int)(rndn(65537)) - 32768);
			break;
		case 4:		/* flags */
			if (th)
				((uint8_t *)th)[13] ^= 1 << rndn(6);
			break;
		case 5:		/* cut short */
			f->len = ETH_HLEN + rndn(f->len - ETH_HLEN) + 1;
			break;
		case 6:		/* at the endpoint */
			if (th) {
				if (rndn(2))
					th->dest = htons(rndn(3) ? PORT : PX_PORT);
				else
					th->source = htons(rndn(3) ? PORT : PX_PORT);
			}
			break;
		case 7:		/* swapped ports */
			if (th) {
				uint16_t p = th->source;

				th->source = th->dest;
				th->dest = p;
			}
			break;
		case 8:		/* IP fragment bits */
			if (((struct ethhdr *)f->b)->h_proto == htons(ETH_P_IP)) {
				struct iphdr *ip = (struct iphdr *)(f->b + ETH_HLEN);

				ip->frag_off = htons(rndn(2) ? 0x2000 : rndn(0x4000));
			}
			break;
		case 9: {	/* a word the parser knows, written in the payload */
			const char *w = words[rndn(sizeof(words) / sizeof(words[0]))];
			unsigned int n = strlen(w);

			at = t ? t + 20 + rndn(64) : rndn(f->len);
			if (at + n <= f->len)
				memcpy(f->b + at, w, n);
			break;
		}
		default: {	/* a run of another packet's bytes */
			const struct frame *o = &corpus[rndn(ncorpus)];
			unsigned int from = rndn(o->len), n = rndn(64);

			at = rndn(f->len);
			if (from + n <= o->len && at + n <= f->len)
				memcpy(f->b + at, o->b + from, n);
			break;
		}
		}
	}
}

static void noise(struct frame *f)
{
	unsigned int i;

	f->len = ETH_HLEN + 20 + rndn(FRAME_MAX - ETH_HLEN - 20);
	for (i = 0; i < f->len; i++)
		f->b[i] = rnd();
	((struct ethhdr *)f->b)->h_proto = htons(rndn(2) ? ETH_P_IP : ETH_P_IPV6);
	f->b[ETH_HLEN] = rndn(2) ? 0x45 : 0x60;
}

static int run(const struct frame *f, uint64_t ts)
{
	const struct tcphdr *th;
	unsigned int t = tcp_off(f);
	int fd = dp.ingress_fd, ret;

	if (t) {
		th = (const void *)(f->b + t);
		if (ntohs(th->source) == PORT && ntohs(th->dest) != PORT)
			fd = dp.egress_fd;
	}
	return ps_dp_test_run(fd, f->b, f->len, ts, &ret);
}

/* Entries of a hash map, counted by walking its keys. */
static long count_keys(int fd, size_t ksz)
{
	unsigned char k[128], nk[128];
	long n = 0;
	void *prev = NULL;

	if (ksz > sizeof(k))
		return -1;
	while (!bpf_map_get_next_key(fd, prev, nk)) {
		n++;
		memcpy(k, nk, ksz);
		prev = k;
	}
	return n;
}

/* The invariants; the first broken one in c. */
static void check(struct ck *c, unsigned long long at)
{
	int cfd = bpf_map__fd(dp.skel->maps.ps_client_ctrs);
	int ffd = bpf_map__fd(dp.skel->maps.ps_flows);
	struct ps_flow_key fk, *prev = NULL;
	struct ps_client_ctr ctr;
	struct ps_flow fl;
	uint32_t next = 0, i;
	long n;
	int t;

	if (ps_dp_slots_used(&dp, &next)) {
		ck_fail(c, "packet %llu: cannot read the slot state", at);
		return;
	}
	if (next > bpf_map__max_entries(dp.skel->maps.ps_client_ctrs))
		ck_fail(c, "packet %llu: %u slots handed out of %u", at, next,
			bpf_map__max_entries(dp.skel->maps.ps_client_ctrs));
	for (i = 0; i < next && ck_ok(c); i++) {
		const struct ps_counters *k = &ctr.c;

		if (bpf_map_lookup_elem(cfd, &i, &ctr) || !ctr.key.family)
			continue;
		if (k->inference_requests > k->requests)
			ck_fail(c, "packet %llu: slot %u: inference_requests %llu > requests %llu",
				at, i, (unsigned long long)k->inference_requests,
				(unsigned long long)k->requests);
		else if (3 * k->requests > k->rx_payload)
			ck_fail(c, "packet %llu: slot %u: %llu requests in %llu payload bytes", at,
				i, (unsigned long long)k->requests,
				(unsigned long long)k->rx_payload);
		else if (k->rx_payload > k->rx_bytes || k->tx_payload > k->tx_bytes)
			ck_fail(c, "packet %llu: slot %u: payload over bytes (rx %llu/%llu, "
				"tx %llu/%llu)", at, i, (unsigned long long)k->rx_payload,
				(unsigned long long)k->rx_bytes, (unsigned long long)k->tx_payload,
				(unsigned long long)k->tx_bytes);
		else if (live && k->inference_requests > LIVE_BURST)
			ck_fail(c, "packet %llu: slot %u: %llu inference requests let in, the "
				"limit allows %d", at, i, (unsigned long long)k->inference_requests,
				LIVE_BURST);
	}
	/* Both flow tables, each within its size. */
	for (t = 0; t < 2; t++) {
		struct bpf_map *fm = t ? dp.skel->maps.ps_flows_est : dp.skel->maps.ps_flows;

		ffd = bpf_map__fd(fm);
		prev = NULL;
		n = 0;
		while (ck_ok(c) && !bpf_map_get_next_key(ffd, prev, &fk)) {
			static struct ps_flow_key keep;

			keep = fk;
			prev = &keep;
			if (bpf_map_lookup_elem(ffd, &fk, &fl))
				continue;
			n++;
			if (fl.dir[PS_DIR_RX].pieces > PS_OOO_FLOW_PIECES)
				ck_fail(c, "packet %llu: a flow holds %u stash pieces", at,
					fl.dir[PS_DIR_RX].pieces);
		}
		if (n > (long)bpf_map__max_entries(fm))
			ck_fail(c, "packet %llu: %ld flows in %s", at, n, bpf_map__name(fm));
	}
	n = count_keys(bpf_map__fd(dp.skel->maps.ps_ooo), sizeof(struct ps_ooo_key));
	if (n > (long)bpf_map__max_entries(dp.skel->maps.ps_ooo))
		ck_fail(c, "packet %llu: %ld stash entries", at, n);
}

static int setup(void)
{
	struct ps_dp_opts opts = { .replay = !live, .own_maps = live, .max_clients = 65536,
				   .max_flows = 65536 };
	struct ps_class cl = { .emission_ns = HOUR_NS, .tolerance_ns = (LIVE_BURST - 1) * HOUR_NS };
	static struct ps_config cfg;
	char err_s[128];
	uint32_t zero = 0;
	int err, p;

	ps_config_init(&cfg);
	/* The corpus's endpoint ports, the ones mutations aim at, and one
	 * taking PROXY headers and forwarded headers from anyone. */
	for (p = 0; p < 7; p++) {
		static const long ports[] = { PORT, 80, 8080, 8081, 50051, 3000, PX_PORT };

		err = ps_config_add_port(&cfg, ports[p]);
		if (err)
			return err;
	}
	cfg.endpoints[6].proxy_protocol = 1;
	cfg.endpoints[6].forwarded_for = PS_FWD_FOR_BOTH;
	cfg.endpoints[6].ntrusted = 2;
	err = ps_parse_prefix("0.0.0.0/0", &cfg.endpoints[6].trusted[0], err_s, sizeof(err_s));
	if (!err)
		err = ps_parse_prefix("::/0", &cfg.endpoints[6].trusted[1], err_s, sizeof(err_s));
	if (err)
		return err;
	err = ps_dp_open(&dp, &opts);
	if (!err)
		err = ps_dp_configure(&dp, &cfg);
	if (!err && live && bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_classes), &zero, &cl,
						BPF_ANY))
		err = -errno;
	return err;
}

/* A packet that broke an invariant, kept for a look (PS_FUZZ_DUMP=FILE). */
static void dump_frame(const struct frame *f)
{
	const char *path = getenv("PS_FUZZ_DUMP");
	FILE *df = path ? fopen(path, "w") : NULL;

	if (df) {
		fwrite(f->b, 1, f->len, df);
		fclose(df);
	}
}

/* npkts packets, the invariants every check_every: the case's result in c. */
static void fuzz(struct ck *c, unsigned long long npkts, unsigned long long check_every,
		 uint64_t seed)
{
	uint64_t ts = 1700000000ULL * 1000000000ULL;
	unsigned long long i, short_frames = 0;
	struct frame f;
	int err;

	for (i = 0; i < npkts && ck_ok(c); i++) {
		if (rndn(20) == 0) {
			noise(&f);
		} else {
			f = corpus[rndn(ncorpus)];
			mutate(&f);
		}
		ts += rndn(20000000);
		err = run(&f, ts);
		/* The kernel's test run takes no frame too short for its IP
		 * header: such a frame never reaches a program. */
		if (err == -EINVAL && f.len < ETH_HLEN + 60) {
			short_frames++;
			continue;
		}
		if (err) {
			ck_fail(c, "packet %llu (%u bytes): BPF_PROG_TEST_RUN: %s", i, f.len,
				strerror(-err));
			break;
		}
		if (i % check_every == check_every - 1)
			check(c, i + 1);
		if (!ck_ok(c))
			dump_frame(&f);
	}
	check(c, i);
	if (ck_ok(c))
		printf("# %llu packets (%llu too short to run) from %u corpus packets, "
		       "seed %#llx\n", i, short_frames, ncorpus, (unsigned long long)seed);
}

int main(int argc, char **argv)
{
	unsigned long long npkts = 1000000, check_every = 1000;
	static const struct option lo[] = {
		{ "live", no_argument, NULL, 'l' }, { 0 },
	};
	struct ck c;
	uint64_t seed;
	int opt, err, k;

	while ((opt = getopt_long(argc, argv, "n:s:c:", lo, NULL)) != -1) {
		if (opt == 'c')
			check_every = strtoull(optarg, NULL, 10) ?: 1;
		else if (opt == 'n')
			npkts = strtoull(optarg, NULL, 10);
		else if (opt == 's')
			rs = strtoull(optarg, NULL, 0) | 1;
		else if (opt == 'l')
			live = 1;
		else
			return 2;
	}
	seed = rs;
	if (geteuid()) {
		printf("SKIP fuzz: needs root (BPF)\n");
		return 77;
	}
	corpus = calloc(CORPUS_MAX, sizeof(*corpus));
	if (!corpus)
		return 1;
	for (k = optind; k < argc; k++)
		if (fuzz_load_corpus(argv[k], corpus, CORPUS_MAX, &ncorpus))
			return 2;
	if (!ncorpus) {
		fprintf(stderr, "fuzz_datapath: no Ethernet packets in the captures given\n");
		return 2;
	}
	err = setup();
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	ck_init(&c, live ? "fuzz-live" : "fuzz-replay");
	fuzz(&c, npkts, check_every, seed);
	ck_end(&c);
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
