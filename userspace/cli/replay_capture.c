// SPDX-License-Identifier: GPL-2.0-only
/*
 * Replay of captures through the live datapath's programs: each packet is
 * given an Ethernet header if its link type has none, and run with
 * BPF_PROG_TEST_RUN through the ingress program if it goes to an endpoint
 * port, through egress if it comes from one (as on the server), and
 * through ingress otherwise, which passes it untouched. The programs'
 * clock is the capture's: the packet timestamp in skb->tstamp.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <pcap/sll.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>

#include "cli/replay_capture.h"
#include "common/config.h"
#include "common/log.h"

/*
 * BPF_PROG_TEST_RUN takes at most a page less skb head- and tailroom
 * (PS_TEST_RUN_MAX); longer TCP packets (GRO-merged or TSO captures, a
 * host's loopback) are run as pieces of their payload, each with the
 * packet's headers, its sequence number moved on and its IP length its
 * own; the first piece carries the packet's wire figures (one packet, its
 * IP bytes) and the others none (PS_REPLAY_PIECE), so that every count is
 * the packet's and the parsers read all of its bytes. Other long packets
 * are run with their head only: the counters follow the IP length field,
 * and the parser treats the bytes beyond as not captured.
 */
#define PS_FRAME_MAX	(262144 + 64)	/* tcpdump's largest snap length, and a header */

/* The last second of capture time whose end is a uint64_t of ns. */
#define PS_REPLAY_MAX_S	(UINT64_MAX / 1000000000ULL - 1)

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2	276
#endif

struct frame {
	unsigned char buf[PS_FRAME_MAX];
	unsigned int len;
};

/* EtherType for an IP packet, from its version nibble; 0 if neither. */
static uint16_t ip_ethertype(const unsigned char *p, unsigned int len)
{
	if (!len)
		return 0;
	switch (p[0] >> 4) {
	case 4:
		return ETH_P_IP;
	case 6:
		return ETH_P_IPV6;
	}
	return 0;
}

static void put_frame(struct frame *f, uint16_t proto, const unsigned char *l3, unsigned int len)
{
	struct ethhdr eth = { .h_proto = htons(proto) };

	/* Locally administered MACs: nothing in the datapath reads them. */
	eth.h_source[0] = 0x02;
	eth.h_dest[0] = 0x02;
	eth.h_dest[5] = 1;
	memcpy(f->buf, &eth, sizeof(eth));
	if (len > sizeof(f->buf) - sizeof(eth))
		len = sizeof(f->buf) - sizeof(eth);
	memcpy(f->buf + sizeof(eth), l3, len);
	f->len = sizeof(eth) + len;
}

/* Build an Ethernet frame from one captured packet; 0, or 1 to skip it. */
static int make_frame(int dlt, const unsigned char *p, unsigned int caplen, struct frame *f)
{
	uint32_t af;
	uint16_t proto;

	switch (dlt) {
	case DLT_EN10MB:
		if (caplen < ETH_HLEN)
			return 1;
		f->len = caplen < sizeof(f->buf) ? caplen : sizeof(f->buf);
		memcpy(f->buf, p, f->len);
		return 0;
	case DLT_LINUX_SLL:
		if (caplen < SLL_HDR_LEN)
			return 1;
		memcpy(&proto, p + 14, 2);
		put_frame(f, ntohs(proto), p + SLL_HDR_LEN, caplen - SLL_HDR_LEN);
		return 0;
	case DLT_LINUX_SLL2:
		if (caplen < 20)
			return 1;
		memcpy(&proto, p, 2);
		put_frame(f, ntohs(proto), p + 20, caplen - 20);
		return 0;
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		proto = ip_ethertype(p, caplen);
		if (!proto)
			return 1;
		put_frame(f, proto, p, caplen);
		return 0;
	case DLT_NULL:
	case DLT_LOOP:
		if (caplen < 4)
			return 1;
		memcpy(&af, p, 4);
		if (dlt == DLT_LOOP)
			af = ntohl(af);
		/* DLT_NULL is in the capturing host's byte order: accept both. */
		if (af > 0xffff)
			af = __builtin_bswap32(af);
		/* AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30. */
		if (af == 2)
			proto = ETH_P_IP;
		else if (af == 10 || af == 24 || af == 28 || af == 30)
			proto = ETH_P_IPV6;
		else
			return 1;
		put_frame(f, proto, p + 4, caplen - 4);
		return 0;
	}
	return 1;
}

/* Where a frame's IP and TCP headers are (frame_ports()). */
struct tcp_at {
	size_t l3, l4;		/* offsets of the IP and TCP headers */
	int v6;
};

/*
 * The TCP ports of a frame, found far enough to pick a program; the
 * datapath parses the packet again in full. 0 when not TCP (or a
 * fragment). Headers are walked by offset: a length field may point far
 * past the frame.
 */
static int frame_ports(const struct frame *f, uint16_t *sport, uint16_t *dport,
		       struct tcp_at *at)
{
	const unsigned char *p = f->buf;
	size_t off = ETH_HLEN, len = f->len;
	uint16_t proto;
	uint8_t nh;
	int i;

	if (len < ETH_HLEN)
		return 0;
	proto = p[12] << 8 | p[13];
	for (i = 0; i < 2 && (proto == ETH_P_8021Q || proto == ETH_P_8021AD); i++) {
		if (off + 4 > len)
			return 0;
		proto = p[off + 2] << 8 | p[off + 3];
		off += 4;
	}
	at->l3 = off;
	at->v6 = proto == ETH_P_IPV6;
	if (proto == ETH_P_IP) {
		if (off + 20 > len || (p[off + 6] & 0x3f) || p[off + 7])	/* a fragment */
			return 0;
		nh = p[off + 9];
		off += (p[off] & 0x0f) * 4;
	} else if (proto == ETH_P_IPV6) {
		if (off + 40 > len)
			return 0;
		nh = p[off + 6];
		off += 40;
		for (i = 0; i < 8; i++) {
			if (nh == 0 || nh == 43 || nh == 60) {		/* HBH, RH, DO */
				if (off + 2 > len)
					return 0;
				nh = p[off];
				off += (p[off + 1] + 1) * 8;
			} else if (nh == 51) {				/* AH */
				if (off + 2 > len)
					return 0;
				nh = p[off];
				off += (p[off + 1] + 2) * 4;
			} else if (nh == 44) {				/* fragment */
				if (off + 8 > len)
					return 0;
				nh = p[off];
				off += 8;
			} else {
				break;
			}
		}
	} else {
		return 0;
	}
	if (nh != 6 || off + 4 > len)
		return 0;
	at->l4 = off;
	*sport = p[off] << 8 | p[off + 1];
	*dport = p[off + 2] << 8 | p[off + 3];
	return 1;
}

static int is_endpoint(const struct ps_replay *r, uint16_t port)
{
	return r->endpoint_port[port / 8] & (1 << (port % 8));
}

/* The datapath's programs, by BPF_PROG_TEST_RUN. */
static int test_run(struct ps_replay *r, enum ps_replay_prog prog, const unsigned char *frame,
		    unsigned int len, uint64_t ts_ns, const struct ps_piece *piece)
{
	int retval;

	return ps_dp_test_run_piece(prog == PS_REPLAY_EGRESS ? r->dp->egress_fd :
				    r->dp->ingress_fd, frame, len, ts_ns, piece, &retval);
}

static uint32_t get16(const unsigned char *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static void put16(unsigned char *p, uint32_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/*
 * A TCP frame longer than BPF_PROG_TEST_RUN takes, run as pieces (see
 * PS_FRAME_MAX). A packet whose headers leave no room, or whose IP length
 * does not cover them (a BIG TCP packet's IPv4 length of 0), is run with
 * its head only, as other long packets are.
 */
static int run_pieces(struct ps_replay *r, enum ps_replay_prog prog, const struct frame *f,
		      const struct tcp_at *at, uint64_t ts)
{
	static unsigned char piece[PS_TEST_RUN_MAX];
	const unsigned char *p = f->buf;
	size_t thl, hdrs, l3len, wire, cap, per, off, n;
	struct ps_piece pc;
	uint32_t seq;
	uint8_t fl;
	int err;

	thl = at->l4 + 13 < f->len ? (size_t)(p[at->l4 + 12] >> 4) * 4 : 0;
	hdrs = at->l4 + thl;
	l3len = at->v6 ? 40 + get16(p + at->l3 + 4) : get16(p + at->l3 + 2);
	if (thl < 20 || hdrs + 64 > PS_TEST_RUN_MAX || hdrs > f->len || l3len < hdrs - at->l3)
		return r->run(r, prog, p, PS_TEST_RUN_MAX, ts, NULL);
	wire = l3len - (hdrs - at->l3);		/* payload bytes on the wire ... */
	cap = f->len - hdrs < wire ? f->len - hdrs : wire;	/* ... and captured */
	per = PS_TEST_RUN_MAX - hdrs;
	seq = (uint32_t)get16(p + at->l4 + 4) << 16 | get16(p + at->l4 + 6);
	fl = p[at->l4 + 13];
	for (off = 0; off < cap; off += n) {
		int last;
		size_t len;

		n = cap - off < per ? cap - off : per;
		last = off + n >= cap;
		memcpy(piece, p, hdrs);
		memcpy(piece + hdrs, p + hdrs + off, n);
		/* The last piece also claims what the capture cut off, as the
		 * packet did: the parsers take it as not captured. */
		len = hdrs - at->l3 + n + (last ? wire - cap : 0);
		put16(piece + at->l3 + (at->v6 ? 4 : 2), at->v6 ? len - 40 : len);
		/* A SYN's payload starts one past its sequence number. */
		put16(piece + at->l4 + 4, (seq + off + (off && (fl & 0x02))) >> 16);
		put16(piece + at->l4 + 6, seq + off + (off && (fl & 0x02)));
		/* SYN on the first piece, FIN, PSH and RST on the last. */
		piece[at->l4 + 13] = fl & ~(off ? 0x02 : 0) & ~(last ? 0 : 0x01 | 0x04 | 0x08);
		pc.packets = off ? 0 : 1;
		pc.ip_bytes = off ? 0 : l3len;
		err = r->run(r, prog, piece, hdrs + n, ts, &pc);
		if (err)
			return err;
	}
	return 0;
}

void ps_replay_init(struct ps_replay *r, struct ps_datapath *dp, const struct ps_config *cfg)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->dp = dp;
	r->run = test_run;
	for (i = 0; i < cfg->nendpoints; i++)
		r->endpoint_port[cfg->endpoints[i].port / 8] |= 1 << (cfg->endpoints[i].port % 8);
}

/*
 * The packet's time in Unix ns (the reader gives ns: a file's microseconds
 * times 1000); -1 when its header holds a negative part (a corrupt header)
 * or a time whose second ends past 2^64 ns (after 2554). A fraction of a
 * billion ns or more, which some writers leave, carries into the seconds.
 */
static int packet_time(const struct pcap_pkthdr *h, uint64_t *ns)
{
	const uint64_t max = PS_REPLAY_MAX_S * 1000000000ULL + 999999999ULL;

	if (h->ts.tv_sec < 0 || h->ts.tv_usec < 0 || (uint64_t)h->ts.tv_sec > PS_REPLAY_MAX_S ||
	    (uint64_t)h->ts.tv_sec * 1000000000ULL > max - (uint64_t)h->ts.tv_usec)
		return -1;
	*ns = (uint64_t)h->ts.tv_sec * 1000000000ULL + (uint64_t)h->ts.tv_usec;
	return 0;
}

static int supported_dlt(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		return 1;
	}
	return 0;
}

int ps_replay_stream(struct ps_replay *r, FILE *file, const char *name)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	static struct frame f;
	struct pcap_pkthdr *hdr;
	const unsigned char *data;
	unsigned long long n = 0;
	int dlt, rc, err = 0;
	pcap_t *pc;

	pc = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		fclose(file);
		pr_warn("penstock: %s: %s\n", name, errbuf);
		return -EINVAL;
	}
	dlt = pcap_datalink(pc);
	if (!supported_dlt(dlt)) {
		const char *dlt_name = pcap_datalink_val_to_name(dlt);

		pr_warn("penstock: %s: unsupported link type %s (%d); supported: EN10MB, "
			"LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP\n",
			name, dlt_name ? dlt_name : "unknown", dlt);
		pcap_close(pc);
		return -EINVAL;
	}
	while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
		enum ps_replay_prog prog = PS_REPLAY_INGRESS;
		uint16_t sport = 0, dport = 0;
		struct tcp_at at;
		int tcp;
		uint64_t ts;

		n++;
		if (packet_time(hdr, &ts)) {
			pr_warn("penstock: %s: packet %llu: time %lld s + %ld ns is out of range, "
				"expected a time from 1970 to 2554\n", name, n,
				(long long)hdr->ts.tv_sec, (long)hdr->ts.tv_usec);
			err = -EINVAL;
			break;
		}
		if (r->on_second && ts / 1000000000ULL + 1 > r->second) {
			if (r->second)
				r->on_second(r->ctx, r->second * 1000000000ULL);
			r->second = ts / 1000000000ULL + 1;
		}
		/* pcapng files may change link type per interface. */
		dlt = pcap_datalink(pc);
		if (make_frame(dlt, data, hdr->caplen, &f))
			continue;
		tcp = frame_ports(&f, &sport, &dport, &at);
		if (tcp && !is_endpoint(r, dport) && is_endpoint(r, sport))
			prog = PS_REPLAY_EGRESS;
		if (f.len <= PS_TEST_RUN_MAX)
			err = r->run(r, prog, f.buf, f.len, ts, NULL);
		else if (tcp)
			err = run_pieces(r, prog, &f, &at, ts);
		else
			err = r->run(r, prog, f.buf, PS_TEST_RUN_MAX, ts, NULL);
		if (err) {
			pr_warn("penstock: %s: packet %llu: BPF_PROG_TEST_RUN failed: %s\n", name,
				n, strerror(-err));
			break;
		}
	}
	if (!err && rc == PCAP_ERROR) {
		pr_warn("penstock: %s: packet %llu: %s\n", name, n + 1, pcap_geterr(pc));
		err = -EINVAL;
	}
	pcap_close(pc);
	r->packets += n;
	return err;
}

int ps_replay_file(struct ps_replay *r, const char *path)
{
	FILE *file = fopen(path, "rb");

	if (!file) {
		pr_warn("penstock: %s: %s\n", path, strerror(errno));
		return -EINVAL;
	}
	return ps_replay_stream(r, file, path);
}

void ps_replay_finish(struct ps_replay *r)
{
	if (r->on_second && r->second)
		r->on_second(r->ctx, r->second * 1000000000ULL);
}
