// SPDX-License-Identifier: GPL-2.0-only
/*
 * The PROXY protocol at packet time, through the live programs
 * (BPF_PROG_TEST_RUN, decisions taken, maps of their own): an endpoint on
 * port 8443 takes PROXY headers from 198.18.1.0/24. Each case opens a
 * connection from a proxy, sends a header (v1 or v2, whole or in pieces)
 * and a request, and checks whose counters moved: the client the header
 * names, built by the test, or the proxy itself where the header names
 * none, is not believed, or is missing. The request limit and blocks apply
 * to the named client, and so do its class's limit and a throttle set on
 * it.
 *
 * Needs root (BPF); exits 77 without it.
 */
#include "harness.h"

#define PX_PORT		8443
#define PROXY4		0xc612010a	/* 198.18.1.10: a trusted proxy */
#define UNTRUSTED4	0xc612020a	/* 198.18.2.10: not trusted */

static const unsigned char v2sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

/* A v2 header: cmd (0 LOCAL, 1 PROXY), fam (0x11, 0x21, 0), addresses, a TLV. */
static unsigned int v2hdr(unsigned char *b, int cmd, int fam, const void *src, const void *dst,
			  int alen, int tlv)
{
	unsigned int n = 16, len = 2 * alen + (alen ? 4 : 0) + (tlv ? 6 : 0);

	memcpy(b, v2sig, 12);
	b[12] = 0x20 | cmd;
	b[13] = fam;
	b[14] = len >> 8;
	b[15] = len & 0xff;
	if (alen) {
		memcpy(b + n, src, alen);
		memcpy(b + n + alen, dst, alen);
		n += 2 * alen;
		b[n++] = 0x15;		/* source port 5555 */
		b[n++] = 0xb3;
		b[n++] = PX_PORT >> 8;
		b[n++] = PX_PORT & 0xff;
	}
	if (tlv) {			/* PP2_TYPE_NOOP, 3 bytes */
		memcpy(b + n, "\x04\x00\x03xyz", 6);
		n += 6;
	}
	return n;
}

/* The counters of the client with this text address, or -1. */
static int ctr_by_text(const char *a, struct ps_client_ctr *ctr)
{
	struct ps_client_key k = {};
	uint32_t slot;

	if (inet_pton(AF_INET, a, &k.addr) == 1)
		k.family = PS_AF_INET;
	else if (inet_pton(AF_INET6, a, &k.addr) == 1)
		k.family = PS_AF_INET6;
	else
		return -1;
	return ctr_of_key(&k, ctr, &slot);
}

/* Expect the client with text address a to hold these counts. */
static void expect_client(struct ck *c, const char *a, uint64_t conns, uint64_t reqs,
			  uint64_t rx_packets, uint64_t rx_payload)
{
	struct ps_client_ctr ctr;

	if (ctr_by_text(a, &ctr)) {
		ck_fail(c, "%s has no counters", a);
		return;
	}
	if (ctr.c.connections != conns || ctr.c.requests != reqs ||
	    ctr.c.rx_packets != rx_packets || ctr.c.rx_payload != rx_payload)
		ck_fail(c, "%s: connections %llu, requests %llu, rx_packets %llu, rx_payload "
			"%llu; expected %llu, %llu, %llu, %llu", a,
			(unsigned long long)ctr.c.connections, (unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.rx_packets, (unsigned long long)ctr.c.rx_payload,
			(unsigned long long)conns, (unsigned long long)reqs,
			(unsigned long long)rx_packets, (unsigned long long)rx_payload);
}

static void expect_none(struct ck *c, const char *a)
{
	struct ps_client_ctr ctr;

	if (!ctr_by_text(a, &ctr))
		ck_fail(c, "%s has counters (requests %llu), expected none", a,
			(unsigned long long)ctr.c.requests);
}

/*
 * A connection from peer sending hdr and then a request, in one segment or
 * in pieces of step bytes (0: one). Returns the verdict of the last segment.
 */
static int send_with(uint32_t peer, const void *hdr, unsigned int hlen, unsigned int step)
{
	static unsigned char seg[2048];
	unsigned int n = hlen + req_len, off;
	struct conn cn;
	int v = -1;

	if (handshake_to(&cn, peer, PX_PORT))
		return -1;
	memcpy(seg, hdr, hlen);
	memcpy(seg + hlen, req, req_len);
	if (!step)
		return csend(&cn, 0, seg, n);
	for (off = 0; off < n; off += step)
		v = csend(&cn, off, seg + off, off + step > n ? n - off : step);
	return v;
}

/* One case: a header from peer, the client it should count to. */
static void case_header(const char *name, uint32_t peer, const void *hdr, unsigned int hlen,
			unsigned int step, const char *client, const char *not_client)
{
	unsigned int segs = step ? (hlen + req_len + step - 1) / step : 1;
	struct ck c;

	ck_init(&c, name);
	expect(&c, send_with(peer, hdr, hlen, step), TC_ACT_OK, "header and request");
	/* SYN and the data segments; the payload is the header's and the request's. */
	expect_client(&c, client, 1, 1, 1 + segs, hlen + req_len);
	if (not_client)
		expect_none(&c, not_client);
	ck_end(&c);
}

static void cases_v1(void)
{
	char h[128];
	int n;

	n = snprintf(h, sizeof(h), "PROXY TCP4 198.19.7.1 198.18.0.1 5555 %d\r\n", PX_PORT);
	case_header("proxy-v1-tcp4", PROXY4, h, n, 0, "198.19.7.1", "198.18.1.10");
	n = snprintf(h, sizeof(h), "PROXY TCP6 fd00:7::1 fd00::1 5555 %d\r\n", PX_PORT);
	case_header("proxy-v1-tcp6", PROXY4 + 1, h, n, 0, "fd00:7::1", "198.18.1.11");
	n = snprintf(h, sizeof(h), "PROXY TCP6 fd00:7:0:0:9:8:7:6 fd00::1 5555 %d\r\n", PX_PORT);
	case_header("proxy-v1-tcp6-full", PROXY4 + 2, h, n, 0, "fd00:7::9:8:7:6", NULL);
	n = snprintf(h, sizeof(h), "PROXY UNKNOWN\r\n");
	case_header("proxy-v1-unknown", PROXY4 + 3, h, n, 0, "198.18.1.13", NULL);
	n = snprintf(h, sizeof(h), "PROXY TCP4 198.19.7.2 198.18.0.1 5555 %d\r\n", PX_PORT);
	case_header("proxy-v1-one-byte-segments", PROXY4 + 4, h, n, 1, "198.19.7.2", NULL);
	/* A v4-mapped source (an IPv4 client of a dual-stack proxy), in hex. */
	n = snprintf(h, sizeof(h), "PROXY TCP6 ::ffff:c613:e01 ::ffff:c612:1 5555 %d\r\n",
		     PX_PORT);
	case_header("proxy-v1-v4-mapped", PROXY4 + 50, h, n, 0, "198.19.14.1",
		    "::ffff:198.19.14.1");
	/* The same as HAProxy writes it, with a dotted tail (HAProxy 2.6,
	 * bind :::PORT v4v6), and a dotted tail that is not v4-mapped. */
	n = snprintf(h, sizeof(h), "PROXY TCP6 ::ffff:198.19.14.3 ::ffff:198.18.0.1 5555 %d\r\n",
		     PX_PORT);
	case_header("proxy-v1-v4-mapped-dotted", PROXY4 + 52, h, n, 0, "198.19.14.3", NULL);
	n = snprintf(h, sizeof(h), "PROXY TCP6 64:ff9b::198.19.14.4 64:ff9b::c612:1 5555 %d\r\n",
		     PX_PORT);
	case_header("proxy-v1-tcp6-dotted", PROXY4 + 53, h, n, 0, "64:ff9b::c613:e04", NULL);
}

/* An IPv6 address with a dotted tail too many: a malformed header. */
static void case_v1_too_long(void)
{
	char h[128];
	struct ck c;
	int n;

	ck_init(&c, "proxy-v1-tcp6-dotted-too-long");
	n = snprintf(h, sizeof(h), "PROXY TCP6 1:2:3:4:5:6:7:198.19.14.5 ::1 5555 %d\r\n",
		     PX_PORT);
	expect(&c, send_with(PROXY4 + 54, h, n, 0), TC_ACT_OK, "header and request");
	/* As proxy-malformed: HTTP from the first byte, the peer's. */
	expect_client(&c, "198.18.1.64", 1, 0, 2, n + req_len);
	ck_end(&c);
}

static void cases_v2(void)
{
	unsigned char h[128], s6[16] = { 0xfd, 0, 0, 8 }, d6[16] = { 0xfd };
	uint32_t s4 = htonl(0xc6130801), d4 = htonl(SERVER);
	unsigned int n;

	s6[15] = 1;
	d6[15] = 1;
	n = v2hdr(h, 1, 0x11, &s4, &d4, 4, 1);
	case_header("proxy-v2-tcp4-tlv", PROXY4 + 5, h, n, 0, "198.19.8.1", "198.18.1.15");
	n = v2hdr(h, 1, 0x21, s6, d6, 16, 0);
	case_header("proxy-v2-tcp6", PROXY4 + 6, h, n, 0, "fd00:8::1", NULL);
	n = v2hdr(h, 0, 0, NULL, NULL, 0, 0);
	case_header("proxy-v2-local", PROXY4 + 7, h, n, 0, "198.18.1.17", NULL);
	s4 = htonl(0xc6130802);
	n = v2hdr(h, 1, 0x11, &s4, &d4, 4, 1);
	case_header("proxy-v2-split", PROXY4 + 8, h, n, 5, "198.19.8.2", NULL);
	/* An IPv4 client of a dual-stack frontend, v4-mapped. */
	memset(s6, 0, sizeof(s6));
	memcpy(s6 + 10, "\xff\xff\xc6\x13\x0e\x02", 6);
	n = v2hdr(h, 1, 0x21, s6, d6, 16, 0);
	case_header("proxy-v2-v4-mapped", PROXY4 + 51, h, n, 0, "198.19.14.2",
		    "::ffff:198.19.14.2");
}

/* Not believed, missing, malformed: the peer is the client. */
static void cases_peer(void)
{
	uint64_t untrusted = stat(PS_STAT_PROXY_UNTRUSTED), bad = stat(PS_STAT_PROXY_BAD);
	char h[128];
	struct ck c;
	int n;

	n = snprintf(h, sizeof(h), "PROXY TCP4 198.19.9.9 198.18.0.1 5555 %d\r\n", PX_PORT);
	case_header("proxy-untrusted-peer", UNTRUSTED4, h, n, 0, "198.18.2.10", "198.19.9.9");
	case_header("proxy-missing", PROXY4 + 9, "", 0, 0, "198.18.1.19", NULL);
	ck_init(&c, "proxy-malformed");
	n = snprintf(h, sizeof(h), "PROXY TCP4 198.19.9.8\r\n");
	expect(&c, send_with(PROXY4 + 20, h, n, 0), TC_ACT_OK, "header and request");
	/* Read as HTTP from its first byte: a first line that is no request
	 * takes the segment with it (a server refuses the connection). */
	expect_client(&c, "198.18.1.30", 1, 0, 2, n + req_len);
	expect_none(&c, "198.19.9.8");
	ck_end(&c);
	ck_init(&c, "proxy-stats");
	if (stat(PS_STAT_PROXY_UNTRUSTED) != untrusted + 1 || stat(PS_STAT_PROXY_BAD) != bad + 2)
		ck_fail(&c, "proxy_untrusted moved by %llu (expected 1), proxy_bad by %llu "
			"(expected 2)", (unsigned long long)(stat(PS_STAT_PROXY_UNTRUSTED) - untrusted),
			(unsigned long long)(stat(PS_STAT_PROXY_BAD) - bad));
	ck_end(&c);
}

/*
 * The limit is the named client's, across the proxy's connections; a
 * segment held back with its header comes again and the header is read
 * for what it was.
 */
static void case_limit(void)
{
	char h[128], seg[1024];
	struct conn a, b;
	struct ck c;
	int n;

	ck_init(&c, "proxy-limit-of-the-named-client");
	n = snprintf(h, sizeof(h), "PROXY TCP4 198.19.10.1 198.18.0.1 5555 %d\r\n", PX_PORT);
	memcpy(seg, h, n);
	memcpy(seg + n, req, req_len);
	if (handshake_to(&a, PROXY4 + 21, PX_PORT))
		ck_fail(&c, "handshake");
	expect(&c, csend(&a, 0, seg, n + req_len), TC_ACT_OK, "header and a first request");
	expect(&c, csend(&a, n + req_len, req, req_len), TC_ACT_OK, "a second");
	expect(&c, csend(&a, n + 2 * req_len, req, req_len), TC_ACT_SHOT, "a third: over");
	if (handshake_to(&b, PROXY4 + 22, PX_PORT))
		ck_fail(&c, "handshake");
	expect(&c, csend(&b, 0, seg, n + req_len), TC_ACT_SHOT,
	       "another proxy connection for the same client: over");
	time_passes(0xc6130a01);
	expect(&c, csend(&b, 0, seg, n + req_len), TC_ACT_OK, "the same segment after time passed");
	/* a: SYN and three segments, b: SYN and its segment twice */
	expect_client(&c, "198.19.10.1", 2, 3, 7, 2 * (n + req_len) + req_len);
	expect_none(&c, "198.18.1.31");
	ck_end(&c);
}

/* A named client that is blocked: its connection's segments are dropped. */
static void case_block(void)
{
	struct ps_enforcement e = { .action = PS_ACT_BLOCK, .origin = PS_ORIGIN_MANUAL };
	struct ps_enforce_state st = { .entries = 1 };
	struct ps_lpm_key k = { .prefixlen = 8 + 32, .family = PS_AF_INET };
	uint32_t zero = 0, blocked = htonl(0xc6130b01);
	char h[128], seg[1024];
	struct conn cn;
	struct ck c;
	int n;

	ck_init(&c, "proxy-blocked-named-client");
	memcpy(k.addr, &blocked, 4);
	bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_enforce), &k, &e, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_enforce_state), &zero, &st, BPF_ANY);
	n = snprintf(h, sizeof(h), "PROXY TCP4 198.19.11.1 198.18.0.1 5555 %d\r\n", PX_PORT);
	memcpy(seg, h, n);
	memcpy(seg + n, req, req_len);
	if (handshake_to(&cn, PROXY4 + 23, PX_PORT))
		ck_fail(&c, "handshake");
	expect(&c, csend(&cn, 0, seg, n + req_len), TC_ACT_SHOT, "its header and request");
	expect(&c, csend(&cn, 0, seg, n + req_len), TC_ACT_SHOT, "sent again");
	st.entries = 0;
	bpf_map_delete_elem(bpf_map__fd(dp.skel->maps.ps_enforce), &k);
	bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_enforce_state), &zero, &st, BPF_ANY);
	ck_end(&c);
}

/* The client's data at offset off with FIN: the ingress verdict. */
static int csend_fin(const struct conn *cn, uint32_t off, const void *data, unsigned int len)
{
	unsigned char buf[2048];

	return run(dp.ingress_fd, buf,
		   frame(buf, cn->caddr, SERVER, cn->cport, cn->port, cn->cisn + 1 + off,
			 cn->sisn + 1, F_ACK | F_FIN, data, len, 0));
}

/*
 * A header that comes with the client's FIN, whole (with a request) or its
 * end: still the connection's header. A FIN with no header before it: the
 * peer's connection.
 */
static void case_fin(void)
{
	uint64_t headers = stat(PS_STAT_PROXY), bad = stat(PS_STAT_PROXY_BAD);
	char h[128], seg[1024];
	struct conn cn;
	struct ck c;
	int n;

	ck_init(&c, "proxy-header-with-fin");
	n = snprintf(h, sizeof(h), "PROXY TCP4 198.19.13.1 198.18.0.1 5555 %d\r\n", PX_PORT);
	memcpy(seg, h, n);
	memcpy(seg + n, req, req_len);
	if (handshake_to(&cn, PROXY4 + 40, PX_PORT))
		ck_fail(&c, "handshake");
	expect(&c, csend_fin(&cn, 0, seg, n + req_len), TC_ACT_OK, "header, request and FIN");
	expect_client(&c, "198.19.13.1", 1, 1, 2, n + req_len);
	expect_none(&c, "198.18.1.50");
	n = snprintf(h, sizeof(h), "PROXY TCP4 198.19.13.2 198.18.0.1 5555 %d\r\n", PX_PORT);
	memcpy(seg, h, n);
	memcpy(seg + n, req, req_len);
	if (handshake_to(&cn, PROXY4 + 41, PX_PORT))
		ck_fail(&c, "handshake");
	expect(&c, csend(&cn, 0, seg, 10), TC_ACT_OK, "the header's first 10 bytes");
	expect(&c, csend_fin(&cn, 10, seg + 10, n + req_len - 10), TC_ACT_OK,
	       "the rest, a request and FIN");
	expect_client(&c, "198.19.13.2", 1, 1, 3, n + req_len);
	expect_none(&c, "198.18.1.51");
	if (handshake_to(&cn, PROXY4 + 42, PX_PORT))
		ck_fail(&c, "handshake");
	expect(&c, csend_fin(&cn, 0, NULL, 0), TC_ACT_OK, "a FIN and no header");
	expect_client(&c, "198.18.1.52", 1, 0, 2, 0);
	if (stat(PS_STAT_PROXY) != headers + 2 || stat(PS_STAT_PROXY_BAD) != bad + 1)
		ck_fail(&c, "proxy_headers moved by %llu (expected 2), proxy_bad by %llu "
			"(expected 1)", (unsigned long long)(stat(PS_STAT_PROXY) - headers),
			(unsigned long long)(stat(PS_STAT_PROXY_BAD) - bad));
	ck_end(&c);
}

/*
 * The request limit is the one of the named client's class, or of a
 * throttle set on it, not the proxy's: the proxies are in a class with no
 * limit; one named client is in a class of a request an hour (burst 1),
 * another under a throttle of a request an hour; a third, in no class,
 * has the default's (BURST an hour).
 */
static void case_class(void)
{
	struct ps_class none = {}, tight = { .emission_ns = HOUR_NS };
	struct ps_class_ref none_ref = { .class_id = 1 }, tight_ref = { .class_id = 2 };
	struct ps_enforcement e = { .action = PS_ACT_THROTTLE, .origin = PS_ORIGIN_MANUAL,
				    .emission_ns = HOUR_NS };
	struct ps_enforce_state st = { .entries = 1, .classes = 2 };
	int classes = bpf_map__fd(dp.skel->maps.ps_classes);
	int class_of = bpf_map__fd(dp.skel->maps.ps_class_of);
	int enforce = bpf_map__fd(dp.skel->maps.ps_enforce);
	int state = bpf_map__fd(dp.skel->maps.ps_enforce_state);
	static const struct {
		const char *named;
		uint32_t addr;
		int in;		/* requests let in before one is held back */
	} cl[] = {
		{ "198.19.12.1", 0xc6130c01, 1 },	/* class "tight" */
		{ "198.19.12.2", 0xc6130c02, 1 },	/* throttled */
		{ "198.19.12.3", 0xc6130c03, BURST },	/* the default */
	};
	uint32_t id1 = 1, id2 = 2, zero = 0;
	char h[128], seg[1024];
	struct conn cn;
	struct ck c;
	unsigned int i, k;
	int n;

	ck_init(&c, "proxy-class-of-the-named-client");
	bpf_map_update_elem(classes, &id1, &none, BPF_ANY);
	bpf_map_update_elem(classes, &id2, &tight, BPF_ANY);
	lpm4(class_of, PROXY4 & 0xffffff00, 24, &none_ref);
	lpm4(class_of, cl[0].addr, 32, &tight_ref);
	lpm4(enforce, cl[1].addr, 32, &e);
	bpf_map_update_elem(state, &zero, &st, BPF_ANY);
	for (i = 0; i < sizeof(cl) / sizeof(cl[0]); i++) {
		n = snprintf(h, sizeof(h), "PROXY TCP4 %s 198.18.0.1 5555 %d\r\n", cl[i].named,
			     PX_PORT);
		memcpy(seg, h, n);
		memcpy(seg + n, req, req_len);
		if (handshake_to(&cn, PROXY4 + 30 + i, PX_PORT))
			ck_fail(&c, "handshake");
		expect(&c, csend(&cn, 0, seg, n + req_len), TC_ACT_OK, cl[i].named);
		for (k = 1; k < (unsigned int)cl[i].in; k++)
			expect(&c, csend(&cn, n + k * req_len, req, req_len), TC_ACT_OK,
			       "within the named client's limit");
		expect(&c, csend(&cn, n + k * req_len, req, req_len), TC_ACT_SHOT,
		       "over the named client's limit, not the proxy's (none)");
	}
	lpm4(class_of, PROXY4 & 0xffffff00, 24, NULL);
	lpm4(class_of, cl[0].addr, 32, NULL);
	lpm4(enforce, cl[1].addr, 32, NULL);
	st.entries = st.classes = 0;
	bpf_map_update_elem(state, &zero, &st, BPF_ANY);
	ck_end(&c);
}

/* The server's FIN after the client's data up to off: the egress verdict. */
static int sfin(const struct conn *cn, uint32_t off)
{
	unsigned char buf[256];

	return run(dp.egress_fd, buf,
		   frame(buf, SERVER, cn->caddr, cn->port, cn->cport, cn->sisn + 1,
			 cn->cisn + 1 + off, F_ACK | F_FIN, NULL, 0, 0));
}

/* The named client's open and refused connections against want. */
static void expect_conns(struct ck *c, const char *a, uint64_t conns, uint32_t open,
			 uint64_t refused, const char *when)
{
	struct ps_client_ctr ctr;

	if (ctr_by_text(a, &ctr)) {
		ck_fail(c, "%s: %s has no counters", when, a);
		return;
	}
	if (ctr.c.connections != conns || ctr.open_connections != open ||
	    ctr.refused_connections != refused)
		ck_fail(c, "%s: %s has connections %llu, open %u, refused %llu; expected "
			"%llu, %u, %llu", when, a, (unsigned long long)ctr.c.connections,
			ctr.open_connections, (unsigned long long)ctr.refused_connections,
			(unsigned long long)conns, open, (unsigned long long)refused);
}

/*
 * max_connections of the client a header names (its class's: one), not of
 * the proxy, whose connections carry many clients: the proxy's SYN gets
 * in (its client is not known yet); the connection's first data, with the
 * header, is held back while the named client has its one connection
 * open, sent again and held again, and let in once that one has closed;
 * a held connection that closes was never open. The proxy counts none of
 * it.
 */
static void case_max_conns(void)
{
	struct ps_class one = { .max_connections = 1 };
	struct ps_class_ref one_ref = { .class_id = 1 };
	struct ps_enforce_state st = { .classes = 1 };
	int classes = bpf_map__fd(dp.skel->maps.ps_classes);
	int class_of = bpf_map__fd(dp.skel->maps.ps_class_of);
	int state = bpf_map__fd(dp.skel->maps.ps_enforce_state);
	uint32_t id1 = 1, zero = 0, named = 0xc6130f01;	/* 198.19.15.1 */
	char h[128], seg[1024];
	struct conn a, b, d;
	struct ck c;
	int n;

	ck_init(&c, "proxy-max-connections-of-the-named-client");
	bpf_map_update_elem(classes, &id1, &one, BPF_ANY);
	lpm4(class_of, named, 32, &one_ref);
	bpf_map_update_elem(state, &zero, &st, BPF_ANY);
	n = snprintf(h, sizeof(h), "PROXY TCP4 198.19.15.1 198.18.0.1 5555 %d\r\n", PX_PORT);
	memcpy(seg, h, n);
	memcpy(seg + n, req, req_len);
	if (handshake_to(&a, PROXY4 + 70, PX_PORT) || handshake_to(&b, PROXY4 + 71, PX_PORT) ||
	    handshake_to(&d, PROXY4 + 72, PX_PORT))
		ck_fail(&c, "handshake");
	expect(&c, csend(&a, 0, seg, n + req_len), TC_ACT_OK, "the first connection");
	expect_conns(&c, "198.19.15.1", 1, 1, 0, "first");
	expect(&c, csend(&b, 0, seg, n + req_len), TC_ACT_SHOT, "a second, held");
	expect(&c, csend(&b, 0, seg, n + req_len), TC_ACT_SHOT, "sent again, held again");
	expect_conns(&c, "198.19.15.1", 1, 1, 2, "second held");
	expect(&c, csend(&d, 0, seg, n + req_len), TC_ACT_SHOT, "a third, held");
	expect(&c, csend_fin(&d, n + req_len, NULL, 0), TC_ACT_OK, "the third gives up: FIN");
	expect(&c, sfin(&d, n + req_len + 1), TC_ACT_OK, "the server's FIN");
	expect_conns(&c, "198.19.15.1", 1, 1, 3, "third closed while held");
	expect(&c, csend_fin(&a, n + req_len, NULL, 0), TC_ACT_OK, "the first closes: FIN");
	expect(&c, sfin(&a, n + req_len + 1), TC_ACT_OK, "the server's FIN");
	expect_conns(&c, "198.19.15.1", 1, 0, 3, "first closed");
	expect(&c, csend(&b, 0, seg, n + req_len), TC_ACT_OK, "the second, sent again: in");
	expect_conns(&c, "198.19.15.1", 2, 1, 3, "second in");
	/* Packets as they came, the held ones too: 3 of the first (SYN, data,
	 * FIN), 4 of the second (SYN, data three times), 3 of the third (SYN,
	 * data, FIN); payload once for each connection let in. */
	expect_client(&c, "198.19.15.1", 2, 2, 10, 2 * (n + req_len));
	expect_none(&c, "198.18.1.80");
	expect_none(&c, "198.18.1.81");
	expect_none(&c, "198.18.1.82");
	lpm4(class_of, named, 32, NULL);
	st.classes = 0;
	bpf_map_update_elem(state, &zero, &st, BPF_ANY);
	ck_end(&c);
}

/* The server sends len bytes of data on cn: the skb's priority after egress, or -1. */
static long sdata_priority(const struct conn *cn, uint32_t client_off, unsigned int len)
{
	static const char data[64];
	unsigned char buf[256];
	struct __sk_buff ctx = {};
	unsigned int n = frame(buf, SERVER, cn->caddr, cn->port, cn->cport, cn->sisn + 1,
			       cn->cisn + 1 + client_off, F_ACK, data, len, 0);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = n, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx, .ctx_size_out = sizeof(ctx),
		    .repeat = 1);

	if (bpf_prog_test_run_opts(dp.egress_fd, &o) || o.retval != TC_ACT_OK)
		return -1;
	return ctx.priority;
}

/*
 * Shaping of a named client: what the server sends on the proxy's
 * connection that names it goes to the HTB class of its shape entry
 * (skb->priority), whatever the proxy's address; the answers on another
 * proxy connection, for someone else, do not.
 */
static void case_shape(void)
{
	struct ps_enforcement e = { .action = PS_ACT_SHAPE, .origin = PS_ORIGIN_MANUAL,
				    .rate_bps = 2000000, .shape_class = PS_SHAPE_FIRST + 5 };
	struct ps_enforce_state st = { .entries = 1 };
	struct ps_lpm_key k = { .prefixlen = 8 + 32, .family = PS_AF_INET };
	uint32_t zero = 0, shaped = htonl(0xc6131001);	/* 198.19.16.1 */
	long want = ((long)PS_SHAPE_MAJOR << 16) | (PS_SHAPE_FIRST + 5), got;
	char h[128], seg[1024];
	struct conn a, b;
	struct ck c;
	int n;

	ck_init(&c, "proxy-shaped-named-client");
	memcpy(k.addr, &shaped, 4);
	bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_enforce), &k, &e, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_enforce_state), &zero, &st, BPF_ANY);
	if (handshake_to(&a, PROXY4 + 73, PX_PORT) || handshake_to(&b, PROXY4 + 74, PX_PORT))
		ck_fail(&c, "handshake");
	n = snprintf(h, sizeof(h), "PROXY TCP4 198.19.16.1 198.18.0.1 5555 %d\r\n", PX_PORT);
	memcpy(seg, h, n);
	memcpy(seg + n, req, req_len);
	expect(&c, csend(&a, 0, seg, n + req_len), TC_ACT_OK, "the shaped client's request");
	got = sdata_priority(&a, n + req_len, 40);
	if (got != want)
		ck_fail(&c, "its answer: priority %#lx, expected %#lx", got, want);
	n = snprintf(h, sizeof(h), "PROXY TCP4 198.19.16.2 198.18.0.1 5555 %d\r\n", PX_PORT);
	memcpy(seg, h, n);
	memcpy(seg + n, req, req_len);
	expect(&c, csend(&b, 0, seg, n + req_len), TC_ACT_OK, "another client's request");
	got = sdata_priority(&b, n + req_len, 40);
	if (got != 0)
		ck_fail(&c, "the other client's answer: priority %#lx, expected 0", got);
	st.entries = 0;
	bpf_map_delete_elem(bpf_map__fd(dp.skel->maps.ps_enforce), &k);
	bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_enforce_state), &zero, &st, BPF_ANY);
	ck_end(&c);
}

static int setup(void)
{
	static struct ps_config cfg;
	char err_s[256];
	int err;

	default_request();
	ps_config_init(&cfg);
	err = ps_config_add_port(&cfg, PX_PORT);
	if (err)
		return err;
	cfg.endpoints[0].proxy_protocol = 1;
	cfg.endpoints[0].ntrusted = 1;
	err = ps_parse_prefix("198.18.1.0/24", &cfg.endpoints[0].trusted[0], err_s,
			      sizeof(err_s));
	return err ? err : dp_start(&cfg, 4096, 1);
}

int main(void)
{
	int err;

	if (geteuid()) {
		printf("SKIP proxy: needs root (BPF)\n");
		return 77;
	}
	err = setup();
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	cases_v1();
	cases_v2();
	cases_peer();
	case_v1_too_long();
	case_limit();
	case_block();
	case_class();
	case_fin();
	case_max_conns();
	case_shape();
	expect_endpoint_sums("proxy endpoint totals = sum over clients");
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
