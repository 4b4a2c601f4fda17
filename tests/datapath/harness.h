/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the datapath tests share: the live programs on maps of their own,
 * IPv4 TCP frames built here, a client connection, its counters, the
 * global stats, and the PASS/FAIL reporting of tests/unit/check.h.
 */
#ifndef PS_DATAPATH_HARNESS_H
#define PS_DATAPATH_HARNESS_H

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/datapath.h"
#include "common/log.h"
#include "penstock.skel.h"
#include "../unit/check.h"

#define PORT		8000
#define SERVER		0xc6120001	/* 198.18.0.1 */
#define CLIENT_BASE	0xc6120100	/* 198.18.1.0: a client per case */
#define BURST		2
#define HOUR_NS		3600000000000ULL

#define F_FIN	0x01
#define F_SYN	0x02
#define F_ACK	0x10
#define F_URG	0x20

static struct ps_datapath dp;
static const char body[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static char req[512];
static unsigned int req_len;
static unsigned int req_hdr_len __attribute__((unused));
static unsigned int req_line_cr __attribute__((unused));

/* The cases' random numbers (xorshift64): rndn(n) is below n (0 for 0). */
static uint64_t rs __attribute__((unused)) = 0x2545f4914f6cdd1dULL;

static inline unsigned int rndn(unsigned int n)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return n ? rs % n : 0;
}

/* One client connection: client data at offsets from its ISN + 1. */
struct conn {
	uint32_t caddr;
	uint16_t cport;
	uint16_t port;		/* the endpoint's */
	uint32_t cisn, sisn;
};

/*
 * An IPv4 TCP frame; frag is the IP fragment field (host order). The
 * headers are built aligned and copied: after the 14-byte Ethernet header
 * the IP header is not on a 4-byte boundary.
 */
static inline unsigned int frame(unsigned char *buf, uint32_t saddr, uint32_t daddr, uint16_t sport,
			  uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
			  const void *data, unsigned int len, uint16_t frag)
{
	struct ethhdr eth = { .h_proto = htons(ETH_P_IP) };
	struct iphdr ip = {
		.version = 4,
		.ihl = 5,
		.tot_len = htons(sizeof(ip) + sizeof(struct tcphdr) + len),
		.frag_off = htons(frag),
		.ttl = 64,
		.protocol = IPPROTO_TCP,
		.saddr = htonl(saddr),
		.daddr = htonl(daddr),
	};
	struct tcphdr th = {
		.source = htons(sport),
		.dest = htons(dport),
		.seq = htonl(seq),
		.ack_seq = htonl(ack),
		.doff = sizeof(th) / 4,
		.window = htons(502),
	};

	((uint8_t *)&th)[13] = flags;
	memcpy(buf, &eth, ETH_HLEN);
	memcpy(buf + ETH_HLEN, &ip, sizeof(ip));
	memcpy(buf + ETH_HLEN + sizeof(ip), &th, sizeof(th));
	if (len)
		memcpy(buf + ETH_HLEN + sizeof(ip) + sizeof(th), data, len);
	return ETH_HLEN + sizeof(ip) + sizeof(th) + len;
}

static inline int run(int fd, const unsigned char *buf, unsigned int len)
{
	int ret, err = ps_dp_test_run(fd, buf, len, 0, &ret);

	return err ? err : ret;
}

/* The client sends len bytes at data offset off: the ingress verdict. */
static inline int csend(const struct conn *c, uint32_t off, const void *data, unsigned int len)
{
	unsigned char buf[2048];

	return run(dp.ingress_fd, buf,
		   frame(buf, c->caddr, SERVER, c->cport, c->port, c->cisn + 1 + off, c->sisn + 1,
			 F_ACK, data, len, 0));
}

/* The server acknowledges the client's data up to offset off. */
static inline int sack(const struct conn *c, uint32_t off)
{
	unsigned char buf[256];

	return run(dp.egress_fd, buf,
		   frame(buf, SERVER, c->caddr, c->port, c->cport, c->sisn + 1, c->cisn + 1 + off,
			 F_ACK, NULL, 0, 0));
}

/* A connection from caddr to the endpoint on port: SYN and SYN-ACK. */
static inline int handshake_to(struct conn *c, uint32_t caddr, uint16_t port)
{
	unsigned char buf[256];
	int v;

	c->caddr = caddr;
	c->cport = 40000;
	c->port = port;
	c->cisn = 1000;
	c->sisn = 5000;
	v = run(dp.ingress_fd, buf, frame(buf, caddr, SERVER, c->cport, port, c->cisn, 0, F_SYN,
					  NULL, 0, 0));
	if (v != TC_ACT_OK)
		return -1;
	v = run(dp.egress_fd, buf, frame(buf, SERVER, caddr, port, c->cport, c->sisn,
					 c->cisn + 1, F_SYN | F_ACK, NULL, 0, 0));
	return v == TC_ACT_OK ? 0 : -1;
}

static inline int handshake(struct conn *c, uint32_t caddr)
{
	return handshake_to(c, caddr, PORT);
}

/* The cases' request: a POST of body to an inference path, in req. */
static inline void default_request(void)
{
	req_len = snprintf(req, sizeof(req),
			   "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
			   "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			   strlen(body), body);
	req_hdr_len = strstr(req, "\r\n\r\n") - req + 4;
	req_line_cr = strchr(req, '\r') - req;
}

/* The default class: BURST requests an hour (on), or no limit (off). 0 or -errno. */
static inline int default_limit(int on)
{
	struct ps_class cl = {
		.emission_ns = on ? HOUR_NS : 0, .tolerance_ns = on ? (BURST - 1) * HOUR_NS : 0,
	};
	uint32_t zero = 0;

	return bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_classes), &zero, &cl, BPF_ANY) ?
		       -errno : 0;
}

/*
 * The live programs on maps of their own, max clients and flows, cfg in
 * force; with limit, the default class BURST requests an hour.
 */
static inline int dp_start(const struct ps_config *cfg, uint32_t max, int limit)
{
	struct ps_dp_opts opts = { .own_maps = true, .max_clients = max, .max_flows = max };
	int err = ps_dp_open(&dp, &opts);

	if (!err)
		err = ps_dp_configure(&dp, cfg);
	if (!err && limit)
		err = default_limit(1);
	return err;
}

/* One entry of an LPM trie keyed by an IPv4 prefix: set (v) or deleted (NULL). */
static inline void lpm4(int fd, uint32_t addr, int len, const void *v)
{
	struct ps_lpm_key k = { .prefixlen = 8 + len, .family = PS_AF_INET };
	uint32_t a = htonl(addr);

	memcpy(k.addr, &a, 4);
	if (v)
		bpf_map_update_elem(fd, &k, v, BPF_ANY);
	else
		bpf_map_delete_elem(fd, &k);
}

/* A client's slot counters, by its key. */
static inline int ctr_of_key(const struct ps_client_key *k, struct ps_client_ctr *ctr,
			     uint32_t *slot)
{
	struct ps_client_slot s;

	if (bpf_map_lookup_elem(bpf_map__fd(dp.skel->maps.ps_clients), k, &s))
		return -errno;
	*slot = s.slot;
	return bpf_map_lookup_elem(bpf_map__fd(dp.skel->maps.ps_client_ctrs), &s.slot, ctr) ?
		       -errno : 0;
}

/* An IPv4 client's slot counters. */
static inline int ctr_of(uint32_t caddr, struct ps_client_ctr *ctr, uint32_t *slot)
{
	struct ps_client_key k = { .family = PS_AF_INET };

	k.addr.a[0] = htonl(caddr);
	return ctr_of_key(&k, ctr, slot);
}

/* The flow's key, as the programs make it (client to server). */
static inline struct ps_flow_key flow_key(const struct conn *c)
{
	struct ps_flow_key k = { .family = PS_AF_INET };

	k.client.a[0] = htonl(c->caddr);
	k.server.a[0] = htonl(SERVER);
	k.cport = htons(c->cport);
	k.sport = htons(c->port);
	return k;
}

static inline uint64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Time passes for a client: its bucket is full again. */
static inline int time_passes(uint32_t caddr)
{
	struct ps_client_ctr ctr;
	uint32_t slot;

	if (ctr_of(caddr, &ctr, &slot))
		return -1;
	ctr.gcra_tat = 0;
	return bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_client_ctrs), &slot, &ctr,
				   BPF_ANY);
}

static inline uint64_t stat(enum ps_stat which)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t v[512], sum = 0;
	uint32_t k = which;

	if (ncpu <= 0 || ncpu > 512 ||
	    bpf_map_lookup_elem(bpf_map__fd(dp.skel->maps.ps_stats), &k, v))
		return 0;
	for (i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

/*
 * Each endpoint's totals (ps_ep_ctrs) are what its connections added to
 * their clients: summed over the endpoints, every counter equals the same
 * counter summed over the client slots handed out. A case of its own,
 * named name, run after the cases that made the traffic.
 */
static inline void expect_endpoint_sums(const char *name)
{
	static const char *const what[] = { "connections", "requests", "inference_requests",
					    "rx_packets", "tx_packets", "rx_bytes", "tx_bytes",
					    "throttled_requests" };
	struct ps_ep_ctr ep[PS_MAX_ENDPOINTS];
	uint64_t e[8] = { 0 }, c[8] = { 0 };
	struct ps_client_ctr ctr;
	uint32_t next, slot;
	struct ck ck;
	int i, err;

	ck_init(&ck, name);
	err = ps_dp_read_endpoints(&dp, PS_MAX_ENDPOINTS, ep);
	if (!err)
		err = ps_dp_slots_used(&dp, &next);
	if (err) {
		ck_fail(&ck, "cannot read the counters: %s", strerror(-err));
		ck_end(&ck);
		return;
	}
	for (i = 0; i < PS_MAX_ENDPOINTS; i++) {
		e[0] += ep[i].connections, e[1] += ep[i].requests;
		e[2] += ep[i].inference_requests, e[3] += ep[i].rx_packets;
		e[4] += ep[i].tx_packets, e[5] += ep[i].rx_bytes, e[6] += ep[i].tx_bytes;
		e[7] += ep[i].throttled_requests;
	}
	for (slot = 0; slot < next; slot++) {
		if (bpf_map_lookup_elem(bpf_map__fd(dp.skel->maps.ps_client_ctrs), &slot, &ctr))
			continue;
		c[0] += ctr.c.connections, c[1] += ctr.c.requests;
		c[2] += ctr.c.inference_requests, c[3] += ctr.c.rx_packets;
		c[4] += ctr.c.tx_packets, c[5] += ctr.c.rx_bytes, c[6] += ctr.c.tx_bytes;
		c[7] += ctr.throttled_requests;
	}
	for (i = 0; i < 8; i++)
		if (e[i] != c[i])
			ck_fail(&ck, "%s: endpoints %llu, clients %llu", what[i],
				(unsigned long long)e[i], (unsigned long long)c[i]);
	if (!e[3])
		ck_fail(&ck, "no packet counted to any endpoint");
	ck_end(&ck);
}

/* Expect verdict want from a send. */
static inline void expect(struct ck *c, int got, int want, const char *what)
{
	if (got != want)
		ck_fail(c, "%s: verdict %d, expected %d (%s)", what, got, want,
			want == TC_ACT_SHOT ? "held back" : "let in");
}

/* Expect the client's inference requests and held-back requests. */
static inline void expect_counts(struct ck *c, uint32_t caddr, uint64_t inf, uint64_t held)
{
	struct ps_client_ctr ctr;
	uint32_t slot;

	if (ctr_of(caddr, &ctr, &slot)) {
		ck_fail(c, "client has no slot");
		return;
	}
	if (ctr.c.inference_requests != inf || ctr.c.requests != inf)
		ck_fail(c, "requests %llu, inference %llu: expected %llu",
			(unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.inference_requests, (unsigned long long)inf);
	else if (ctr.throttled_requests != held)
		ck_fail(c, "throttled_requests %llu, expected %llu",
			(unsigned long long)ctr.throttled_requests, (unsigned long long)held);
}

/* Does this map of the datapath hold these bytes (in a key or a value)? */
static inline __attribute__((unused)) int map_holds(int fd, const struct bpf_map_info *info,
						    const char *needle, size_t nlen)
{
	int ncpu = libbpf_num_possible_cpus(), percpu, found = 0;
	size_t vsz, ksz = info->key_size;
	unsigned char *key, *next, *val;
	int first = 1;

	percpu = info->type == BPF_MAP_TYPE_PERCPU_ARRAY || info->type == BPF_MAP_TYPE_PERCPU_HASH ||
		 info->type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	vsz = percpu ? (size_t)((info->value_size + 7) & ~7u) * ncpu : info->value_size;
	if (info->type == BPF_MAP_TYPE_RINGBUF || info->type == BPF_MAP_TYPE_QUEUE ||
	    info->type == BPF_MAP_TYPE_STACK || info->type == BPF_MAP_TYPE_LPM_TRIE ||
	    !ksz || !vsz)
		return 0;
	key = calloc(1, ksz);
	next = calloc(1, ksz);
	val = calloc(1, vsz);
	while (key && next && val && !found) {
		if (bpf_map_get_next_key(fd, first ? NULL : key, next))
			break;
		first = 0;
		memcpy(key, next, ksz);
		if (bpf_map_lookup_elem(fd, key, val))
			continue;
		found = memmem(val, vsz, needle, nlen) || memmem(key, ksz, needle, nlen);
	}
	free(key);
	free(next);
	free(val);
	return found;
}

#endif
