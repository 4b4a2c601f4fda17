// SPDX-License-Identifier: GPL-2.0-only
/*
 * Forwarded headers at packet time, through the live programs
 * (BPF_PROG_TEST_RUN, decisions taken, maps of their own): an endpoint on
 * port 8000 with forwarded_for: true and trusted_proxies 198.18.1.0/24 and
 * fd00:1::/64. Gateways in 198.18.1.0/24 send requests whose
 * X-Forwarded-For or Forwarded lines name clients the test chose; each
 * case checks whose request counters moved (the named client's, built by
 * the test from what it wrote, and nobody else's), and that the limit and
 * blocks of a named client hold its requests and no other's.
 *
 * Needs root (BPF); exits 77 without it.
 */
#include "harness.h"
#include "xff_model.h"

#define GW4		0xc6120100	/* 198.18.1.0/24: trusted gateways */
#define UNTRUSTED4	0xc6120200	/* 198.18.2.0/24: not trusted */

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

/* Expect the client a to hold reqs requests, inf of them inference ones. */
static void expect_reqs(struct ck *c, const char *a, uint64_t reqs, uint64_t inf)
{
	struct ps_client_ctr ctr;

	if (ctr_by_text(a, &ctr)) {
		if (reqs || inf)
			ck_fail(c, "%s has no counters, expected %llu requests", a,
				(unsigned long long)reqs);
		return;
	}
	if (ctr.c.requests != reqs || ctr.c.inference_requests != inf)
		ck_fail(c, "%s: requests %llu, inference_requests %llu; expected %llu, %llu", a,
			(unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.inference_requests, (unsigned long long)reqs,
			(unsigned long long)inf);
}

static void expect_throttled(struct ck *c, const char *a, uint64_t held)
{
	struct ps_client_ctr ctr;

	if (ctr_by_text(a, &ctr) || ctr.throttled_requests != held)
		ck_fail(c, "%s: throttled_requests %llu, expected %llu", a,
			(unsigned long long)ctr.throttled_requests, (unsigned long long)held);
}

/* An inference request with these header lines (each ending in CR LF). */
static unsigned int mkreq(char *buf, size_t size, const char *lines)
{
	return snprintf(buf, size,
			"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n%s"
			"Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			lines, strlen(body), body);
}

/* A request that is not an inference request. */
static unsigned int mkget(char *buf, size_t size, const char *lines)
{
	return snprintf(buf, size, "GET /health HTTP/1.1\r\nHost: a\r\n%s\r\n", lines);
}

/* Send len bytes at off on cn in pieces of step bytes (0: one segment). */
static int send_steps(const struct conn *cn, uint32_t off, const char *data, unsigned int len,
		      unsigned int step)
{
	unsigned int o;
	int v = -1;

	if (!step)
		return csend(cn, off, data, len);
	for (o = 0; o < len; o += step) {
		v = csend(cn, off + o, data + o, o + step > len ? len - o : step);
		if (v != TC_ACT_OK)
			return v;
	}
	return v;
}

/*
 * One case: a gateway (peer) sends one request with these header lines,
 * in pieces of step bytes; its client is want (inference request counted
 * there), and nothing is counted to the peer or to not.
 */
static void case_one(const char *name, uint32_t peer, const char *lines, unsigned int step,
		     const char *want, const char *peer_text, const char *not)
{
	char r[4096];
	unsigned int n = mkreq(r, sizeof(r), lines);
	struct conn cn;
	struct ck c;

	ck_init(&c, name);
	if (handshake(&cn, peer))
		ck_fail(&c, "handshake");
	expect(&c, send_steps(&cn, 0, r, n, step), TC_ACT_OK, "the request");
	expect_reqs(&c, want, 1, 1);
	if (strcmp(want, peer_text))
		expect_reqs(&c, peer_text, 0, 0);
	if (not)
		expect_reqs(&c, not, 0, 0);
	ck_end(&c);
}

static void cases_xff(void)
{
	case_one("xff-one", GW4 + 1, "X-Forwarded-For: 198.19.20.1\r\n", 0, "198.19.20.1",
		 "198.18.1.1", NULL);
	case_one("xff-forged-left", GW4 + 2,
		 "X-Forwarded-For: 203.0.113.6, 198.19.20.2, 198.18.1.99\r\n", 0, "198.19.20.2",
		 "198.18.1.2", "203.0.113.6");
	case_one("xff-all-trusted-left-most", GW4 + 3,
		 "x-forwarded-for:198.18.1.77 ,198.18.1.78\r\n", 0, "198.18.1.77", "198.18.1.3",
		 "198.18.1.78");
	case_one("xff-unknown-left", GW4 + 4, "X-Forwarded-For: unknown, 198.19.20.4\r\n", 0,
		 "198.19.20.4", "198.18.1.4", NULL);
	case_one("xff-port", GW4 + 5, "X-Forwarded-For: 198.19.20.5:4711\r\n", 0, "198.19.20.5",
		 "198.18.1.5", NULL);
	case_one("xff-v6-bracketed-port", GW4 + 6, "X-Forwarded-For: [fd00:20::6]:4711\r\n", 0,
		 "fd00:20::6", "198.18.1.6", NULL);
	case_one("xff-v6", GW4 + 7, "X-Forwarded-For: 198.19.20.70, fd00:20::7\r\n", 0,
		 "fd00:20::7", "198.18.1.7", "198.19.20.70");
	case_one("xff-v4-mapped", GW4 + 8, "X-Forwarded-For: ::ffff:198.19.20.8\r\n", 0,
		 "198.19.20.8", "198.18.1.8", "::ffff:198.19.20.8");
	case_one("xff-two-lines", GW4 + 9,
		 "X-Forwarded-For: 198.19.20.90\r\nX-Forwarded-For: 198.19.20.9, 198.18.1.200\r\n",
		 0, "198.19.20.9", "198.18.1.9", "198.19.20.90");
	case_one("xff-trusted-v6-hop", GW4 + 10,
		 "X-Forwarded-For: 198.19.20.10, fd00:1::5\r\n", 0, "198.19.20.10", "198.18.1.10",
		 "fd00:1::5");
	case_one("xff-one-byte-segments", GW4 + 11,
		 "X-Forwarded-For: 203.0.113.7, 198.19.20.11\r\n", 1, "198.19.20.11", "198.18.1.11",
		 "203.0.113.7");
	case_one("xff-seven-byte-segments", GW4 + 12,
		 "X-Forwarded-For: [fd00:20::12]:80, 198.18.1.1\r\n", 7, "fd00:20::12",
		 "198.18.1.12", NULL);
}

/* A line far longer than a chunk, in pieces: read whole, its right end counts. */
static void case_long(void)
{
	char lines[4096];
	unsigned int i, n = 0, steps[] = { 0, 13, 100 };

	for (i = 0; i < 3; i++) {
		char name[64];
		unsigned int k;

		n = snprintf(lines, sizeof(lines), "X-Forwarded-For: ");
		for (k = 0; k < 120; k++)
			n += snprintf(lines + n, sizeof(lines) - n, "203.0.%u.%u, ", k / 200, k % 200);
		n += snprintf(lines + n, sizeof(lines) - n, "198.19.23.%u, 198.18.1.250\r\n", i + 1);
		snprintf(name, sizeof(name), "xff-long-line-steps-%u", steps[i]);
		snprintf(lines + n, sizeof(lines) - n, "%s", "");
		{
			char want[32];

			snprintf(want, sizeof(want), "198.19.23.%u", i + 1);
			case_one(name, GW4 + 20 + i, lines, steps[i], want,
				 i == 0 ? "198.18.1.20" : i == 1 ? "198.18.1.21" : "198.18.1.22",
				 "203.0.0.119");
		}
	}
}

/* Entries that are no address, where the walk from the right meets them. */
static void cases_bad(void)
{
	uint64_t bad = stat(PS_STAT_FORWARDED_BAD);
	struct ck c;

	case_one("xff-unknown-right", GW4 + 30, "X-Forwarded-For: 198.19.20.30, unknown\r\n", 0,
		 "198.18.1.30", "198.18.1.30", "198.19.20.30");
	case_one("xff-garbage-right", GW4 + 31, "X-Forwarded-For: 198.19.20.31, 1.2.3\r\n", 0,
		 "198.18.1.31", "198.18.1.31", "198.19.20.31");
	case_one("xff-obfuscated-behind-trusted", GW4 + 32,
		 "X-Forwarded-For: 198.19.20.32, _hidden, 198.18.1.7\r\n", 0, "198.18.1.32",
		 "198.18.1.32", "198.19.20.32");
	ck_init(&c, "forwarded-bad-stat");
	if (stat(PS_STAT_FORWARDED_BAD) != bad + 3)
		ck_fail(&c, "forwarded_bad moved by %llu, expected 3",
			(unsigned long long)(stat(PS_STAT_FORWARDED_BAD) - bad));
	ck_end(&c);
}

static void cases_forwarded(void)
{
	case_one("forwarded-for", GW4 + 40, "Forwarded: for=198.19.21.1;proto=http\r\n", 0,
		 "198.19.21.1", "198.18.1.40", NULL);
	case_one("forwarded-v6-quoted", GW4 + 41,
		 "Forwarded: for=198.19.21.20, for=\"[fd00:21::2]:4711\";proto=https\r\n", 0,
		 "fd00:21::2", "198.18.1.41", "198.19.21.20");
	case_one("forwarded-for-not-first", GW4 + 42,
		 "Forwarded: proto=https;By=198.18.1.1;For=198.19.21.3\r\n", 0, "198.19.21.3",
		 "198.18.1.42", NULL);
	case_one("forwarded-unknown", GW4 + 43, "Forwarded: for=198.19.21.40, for=unknown\r\n", 0,
		 "198.18.1.43", "198.18.1.43", "198.19.21.40");
	/* X-Forwarded-For goes first, in whichever order they come. */
	case_one("xff-before-forwarded", GW4 + 44,
		 "Forwarded: for=198.19.21.50\r\nX-Forwarded-For: 198.19.21.5\r\n", 0,
		 "198.19.21.5", "198.18.1.44", "198.19.21.50");
	case_one("xff-after-forwarded", GW4 + 45,
		 "X-Forwarded-For: 198.19.21.6\r\nForwarded: for=198.19.21.60\r\n", 0,
		 "198.19.21.6", "198.18.1.45", "198.19.21.60");
}

/* From a peer that is not a trusted proxy: not believed, counted. */
static void case_untrusted(void)
{
	uint64_t untrusted = stat(PS_STAT_FORWARDED_UNTRUSTED);
	struct ck c;

	case_one("xff-untrusted-peer", UNTRUSTED4 + 1, "X-Forwarded-For: 198.19.22.1\r\n", 0,
		 "198.18.2.1", "198.18.2.1", "198.19.22.1");
	case_one("forwarded-untrusted-peer", UNTRUSTED4 + 2, "Forwarded: for=198.19.22.2\r\n", 0,
		 "198.18.2.2", "198.18.2.2", "198.19.22.2");
	ck_init(&c, "forwarded-untrusted-stat");
	if (stat(PS_STAT_FORWARDED_UNTRUSTED) != untrusted + 2)
		ck_fail(&c, "forwarded_untrusted moved by %llu, expected 2",
			(unsigned long long)(stat(PS_STAT_FORWARDED_UNTRUSTED) - untrusted));
	ck_end(&c);
}

/*
 * One pooled connection, requests of several clients one after another
 * and several in one segment: each counted to its own; the gateway keeps
 * its packets and none of the requests.
 */
static void case_pooled(void)
{
	uint64_t fwd = stat(PS_STAT_FORWARDED);
	char seg[4096];
	unsigned int n = 0, off = 0;
	struct ps_client_ctr gw;
	struct conn cn;
	struct ck c;

	ck_init(&c, "xff-pooled-connection");
	if (handshake(&cn, GW4 + 50))
		ck_fail(&c, "handshake");
	n = mkreq(seg, sizeof(seg), "X-Forwarded-For: 198.19.24.1\r\n");
	expect(&c, csend(&cn, off, seg, n), TC_ACT_OK, "A");
	off += n;
	n = mkget(seg, sizeof(seg), "X-Forwarded-For: 198.19.24.2\r\n");
	expect(&c, csend(&cn, off, seg, n), TC_ACT_OK, "B, not inference");
	off += n;
	n = mkreq(seg, sizeof(seg), "X-Forwarded-For: 198.19.24.1\r\n");
	n += mkreq(seg + n, sizeof(seg) - n, "X-Forwarded-For: 198.19.24.3\r\n");
	n += mkget(seg + n, sizeof(seg) - n, "");
	n += mkreq(seg + n, sizeof(seg) - n, "X-Forwarded-For: 198.19.24.2\r\n");
	expect(&c, csend(&cn, off, seg, n), TC_ACT_OK, "A, C, the gateway's own, B: one segment");
	expect_reqs(&c, "198.19.24.1", 2, 2);
	expect_reqs(&c, "198.19.24.2", 2, 1);
	expect_reqs(&c, "198.19.24.3", 1, 1);
	expect_reqs(&c, "198.18.1.50", 1, 0);
	if (ctr_by_text("198.18.1.50", &gw) || gw.c.rx_packets != 4 || gw.c.connections != 1)
		ck_fail(&c, "gateway: rx_packets %llu, connections %llu; expected 4, 1",
			(unsigned long long)gw.c.rx_packets, (unsigned long long)gw.c.connections);
	if (stat(PS_STAT_FORWARDED) != fwd + 5)
		ck_fail(&c, "forwarded_requests moved by %llu, expected 5",
			(unsigned long long)(stat(PS_STAT_FORWARDED) - fwd));
	ck_end(&c);
}

/*
 * The limit (BURST an hour by default) is each named client's: a client
 * over it is held back on the pooled connection, another is not, and a
 * segment held back for one client's request does not charge the others
 * of the segment twice when it comes again.
 */
static void case_limit(void)
{
	char seg[4096], a[1024], b[1024];
	unsigned int na, nb, off = 0;
	struct conn cn, cn2;
	struct ck c;

	ck_init(&c, "xff-limit-per-named-client");
	na = mkreq(a, sizeof(a), "X-Forwarded-For: 198.19.25.1\r\n");
	nb = mkreq(b, sizeof(b), "X-Forwarded-For: 198.19.25.2\r\n");
	if (handshake(&cn, GW4 + 60) || handshake(&cn2, GW4 + 61))
		ck_fail(&c, "handshake");
	expect(&c, csend(&cn, off, a, na), TC_ACT_OK, "A 1");
	off += na;
	expect(&c, csend(&cn, off, a, na), TC_ACT_OK, "A 2");
	off += na;
	expect(&c, csend(&cn, off, a, na), TC_ACT_SHOT, "A 3: over its limit");
	expect(&c, csend(&cn, off, a, na), TC_ACT_SHOT, "A 3 again");
	expect(&c, csend(&cn2, 0, b, nb), TC_ACT_OK, "B 1 on another pooled connection");
	/* B 2 and A 3 in one segment: held for A; B 2 is paid for once. */
	memcpy(seg, b, nb);
	memcpy(seg + nb, a, na);
	expect(&c, csend(&cn2, nb, seg, nb + na), TC_ACT_SHOT, "B 2 and A 3: held for A");
	expect(&c, csend(&cn2, nb, seg, nb + na), TC_ACT_SHOT, "sent again: held for A");
	expect(&c, csend(&cn2, nb, seg, nb), TC_ACT_OK, "B 2 alone: its credit");
	expect_reqs(&c, "198.19.25.1", 2, 2);
	expect_reqs(&c, "198.19.25.2", 2, 2);
	expect_throttled(&c, "198.19.25.1", 2);
	expect_throttled(&c, "198.19.25.2", 0);
	expect_reqs(&c, "198.18.1.60", 0, 0);
	expect_reqs(&c, "198.18.1.61", 0, 0);
	ck_end(&c);
}

/*
 * A named client that is blocked: each of its requests is held, inference
 * or not, and no other client's on the same connection; the gateway
 * itself is not blocked.
 */
static void case_block(void)
{
	struct ps_enforcement e = { .action = PS_ACT_BLOCK, .origin = PS_ORIGIN_MANUAL };
	struct ps_enforce_state st = { .entries = 1 };
	int enforce = bpf_map__fd(dp.skel->maps.ps_enforce);
	int state = bpf_map__fd(dp.skel->maps.ps_enforce_state);
	char r[1024];
	unsigned int n;
	uint32_t zero = 0;
	struct conn cn;
	struct ck c;

	ck_init(&c, "xff-blocked-named-client");
	lpm4(enforce, 0xc6131a01, 32, &e);
	bpf_map_update_elem(state, &zero, &st, BPF_ANY);
	if (handshake(&cn, GW4 + 70))
		ck_fail(&c, "handshake");
	n = mkget(r, sizeof(r), "X-Forwarded-For: 198.19.26.1\r\n");
	expect(&c, csend(&cn, 0, r, n), TC_ACT_SHOT, "the blocked client's GET");
	n = mkreq(r, sizeof(r), "X-Forwarded-For: 198.19.26.1\r\n");
	expect(&c, csend(&cn, 0, r, n), TC_ACT_SHOT, "its inference request");
	n = mkreq(r, sizeof(r), "X-Forwarded-For: 198.19.26.2\r\n");
	expect(&c, csend(&cn, 0, r, n), TC_ACT_OK, "another client's in its place");
	expect_reqs(&c, "198.19.26.2", 1, 1);
	expect_reqs(&c, "198.19.26.1", 0, 0);
	lpm4(enforce, 0xc6131a01, 32, NULL);
	st.entries = 0;
	bpf_map_update_elem(state, &zero, &st, BPF_ANY);
	ck_end(&c);
}

/*
 * The request line and the forwarded line in one segment, the end of the
 * header block in the next: judged, and counted, at the block's end.
 */
static void case_split_block(void)
{
	char r[1024];
	unsigned int n, cut;
	struct conn cn;
	struct ck c;

	ck_init(&c, "xff-header-block-split");
	n = mkreq(r, sizeof(r), "X-Forwarded-For: 198.19.27.1\r\n");
	cut = strstr(r, "Content-Type") - r;
	if (handshake(&cn, GW4 + 80))
		ck_fail(&c, "handshake");
	expect(&c, csend(&cn, 0, r, cut), TC_ACT_OK, "request line and X-Forwarded-For");
	expect_reqs(&c, "198.19.27.1", 0, 0);
	expect(&c, csend(&cn, cut, r + cut, n - cut), TC_ACT_OK, "the rest");
	expect_reqs(&c, "198.19.27.1", 1, 1);
	expect_reqs(&c, "198.18.1.80", 0, 0);
	ck_end(&c);
}

/*
 * A value is walked from its right end, which stops at the first entry
 * that settles it: blanks and empty entries where the walk looks for an
 * entry's start, blank runs longer than it looks back at once, a line
 * whose left part is all trusted.
 */
static void cases_right_end(void)
{
	char lines[1024], pad[301];

	case_one("xff-blanks-around-commas", GW4 + 100,
		 "X-Forwarded-For:  203.0.113.9 ,  198.19.30.1  ,198.18.1.101 \r\n", 0,
		 "198.19.30.1", "198.18.1.100", "203.0.113.9");
	case_one("xff-tabs-around-commas", GW4 + 101,
		 "X-Forwarded-For:\t203.0.113.10\t,\t198.19.30.2\t,\t198.18.1.101\r\n", 0,
		 "198.19.30.2", "198.18.1.101", "203.0.113.10");
	case_one("xff-empty-entries", GW4 + 102,
		 "X-Forwarded-For: 203.0.113.11,, 198.19.30.3,,198.18.1.101, ,\r\n", 0,
		 "198.19.30.3", "198.18.1.102", "203.0.113.11");
	case_one("xff-leading-comma", GW4 + 103, "X-Forwarded-For: ,198.19.30.4\r\n", 0,
		 "198.19.30.4", "198.18.1.103", NULL);
	case_one("xff-only-empty", GW4 + 104, "X-Forwarded-For: , ,\t,\r\n", 0, "198.18.1.104",
		 "198.18.1.104", NULL);
	case_one("xff-second-line-trusted", GW4 + 105,
		 "X-Forwarded-For: 203.0.113.12, 198.19.30.5\r\n"
		 "X-Forwarded-For: 198.18.1.101, fd00:1::9\r\n", 0,
		 "198.19.30.5", "198.18.1.105", "203.0.113.12");
	case_one("xff-two-lines-all-trusted", GW4 + 106,
		 "X-Forwarded-For: 198.18.1.201, 198.18.1.202\r\n"
		 "X-Forwarded-For: 198.18.1.203\r\n", 0,
		 "198.18.1.201", "198.18.1.106", "198.18.1.203");
	case_one("xff-bad-left-of-client", GW4 + 107,
		 "X-Forwarded-For: 1.2.3, unknown, 198.19.30.7, 198.18.1.101\r\n", 0,
		 "198.19.30.7", "198.18.1.107", NULL);
	case_one("forwarded-blanks", GW4 + 108,
		 "Forwarded: for=203.0.113.13 ,for=\"[fd00:24::8]:80\" , for=198.18.1.101\r\n", 0,
		 "fd00:24::8", "198.18.1.108", "203.0.113.13");
	/* Blank runs longer than one look back (128 bytes), after and
	 * before the client's address. */
	memset(pad, ' ', 300);
	pad[300] = 0;
	snprintf(lines, sizeof(lines), "X-Forwarded-For: 203.0.113.14, 198.19.30.9%s, %s198.18.1.101\r\n",
		 pad, pad + 100);
	case_one("xff-long-blank-runs", GW4 + 109, lines, 0, "198.19.30.9", "198.18.1.109",
		 "203.0.113.14");
	snprintf(lines, sizeof(lines), "X-Forwarded-For:%s198.19.30.10%s\r\n", pad + 100,
		 pad + 200);
	case_one("xff-long-blank-runs-one-entry", GW4 + 110, lines, 0, "198.19.30.10",
		 "198.18.1.110", NULL);
	/* The left-most entry ends within, or just past, one look back. */
	{
		unsigned int k, len[] = { 112, 116, 117, 120, 124, 128, 129, 136 };

		for (k = 0; k < 8; k++) {
			char name[64], want[32], peer[32];

			snprintf(lines, sizeof(lines),
				 "X-Forwarded-For:%s198.19.32.%u, 198.18.1.101\r\n",
				 pad + 300 - (len[k] - 11), k + 1);
			snprintf(name, sizeof(name), "xff-first-entry-%u-bytes", len[k]);
			snprintf(want, sizeof(want), "198.19.32.%u", k + 1);
			snprintf(peer, sizeof(peer), "198.18.1.%u", 111 + k);
			case_one(name, GW4 + 111 + k, lines, 0, want, peer, NULL);
		}
	}
}

/*
 * The request in two segments, the first ending at each byte of the X-Forwarded-For
 * line's last 24 (its right-most entries cut, the comma, the CR LF).
 */
static void cases_cut(void)
{
	const char *line = "X-Forwarded-For: 203.0.113.15, 198.19.31.%u, 198.18.1.101\r\n";
	unsigned int k;

	for (k = 0; k < 24; k++) {
		char lines[128], r[4096], name[64], want[32], peer[32];
		unsigned int n, l, at;
		struct conn cn;
		struct ck c;

		l = snprintf(lines, sizeof(lines), line, k + 1);
		n = mkreq(r, sizeof(r), lines);
		at = (unsigned int)(strstr(r, "X-Forwarded-For") - r) + l - 24 + k;
		snprintf(name, sizeof(name), "xff-cut-%u-from-the-end", 24 - k);
		snprintf(want, sizeof(want), "198.19.31.%u", k + 1);
		snprintf(peer, sizeof(peer), "198.18.1.%u", 120 + k);
		ck_init(&c, name);
		if (handshake(&cn, GW4 + 120 + k))
			ck_fail(&c, "handshake");
		expect(&c, csend(&cn, 0, r, at), TC_ACT_OK, "the first segment");
		expect(&c, csend(&cn, at, r + at, n - at), TC_ACT_OK, "the second segment");
		expect_reqs(&c, want, 1, 1);
		expect_reqs(&c, peer, 0, 0);
		ck_end(&c);
	}
}

/* Requests counted to a client so far (0: no counters). */
static uint64_t reqs_of(const char *a)
{
	struct ps_client_ctr ctr;

	return ctr_by_text(a, &ctr) ? 0 : ctr.c.requests;
}

/*
 * Random chains against a model of the rule walked from the left (each
 * entry in turn: the last that is not a trusted proxy decides, an entry
 * that is no address leaves the request to the connection, the left-most
 * address if all are trusted), one or two lines, in one segment or two
 * cut anywhere: the model's client gets the request, and nobody named in
 * the chain, nor the gateway, gets another. Each on a gateway of its own
 * (a new connection on a 4-tuple still open would be a SYN retransmitted).
 */
#define MODEL_CASES	100

static void cases_model(void)
{
	unsigned int i;

	srand(7239);
	for (i = 0; i < MODEL_CASES; i++) {
		struct xff_entry ent[2][8];
		unsigned int nl = 1 + rand() % 2, ne[2], l, j, n, at, lo = 0;
		char lines[1024], r[4096], name[64], peer[32];
		const char *want;
		uint64_t before[17], b_peer;
		struct conn cn;
		struct ck c;
		unsigned int nw = 0, w;
		const char *watch[17];

		n = 0;
		for (l = 0; l < nl; l++) {
			ne[l] = 1 + rand() % 6;
			n += snprintf(lines + n, sizeof(lines) - n, "X-Forwarded-For:");
			for (j = 0; j < ne[l]; j++) {
				xff_model_entry(&ent[l][j], i, l * 8 + j, 40);
				n += snprintf(lines + n, sizeof(lines) - n, "%s%s", j ? "," : "",
					      ent[l][j].text);
			}
			n += snprintf(lines + n, sizeof(lines) - n, "\r\n");
		}
		/* The model: from the left. */
		for (l = 0; l < nl; l++)
			for (j = 0; j < ne[l]; j++)
				if (ent[l][j].addr[0] && nw < 16)
					watch[nw++] = ent[l][j].addr;
		snprintf(peer, sizeof(peer), "198.18.1.%u", 150 + i);
		want = xff_model_client(&ent[0][0], 8, ne, nl, peer);
		watch[nw++] = peer;
		for (w = 0; w < nw; w++)
			before[w] = reqs_of(watch[w]);
		b_peer = reqs_of(peer);

		n = mkreq(r, sizeof(r), lines);
		at = rand() % 3 ? 0 : 1 + rand() % (n - 1);
		snprintf(name, sizeof(name), "xff-model-%u", i);
		ck_init(&c, name);
		if (handshake(&cn, GW4 + 150 + i))
			ck_fail(&c, "handshake");
		if (at) {
			expect(&c, csend(&cn, 0, r, at), TC_ACT_OK, "the first segment");
			expect(&c, csend(&cn, at, r + at, n - at), TC_ACT_OK, "the second segment");
		} else {
			expect(&c, csend(&cn, 0, r, n), TC_ACT_OK, "the request");
		}
		for (w = 0; w < nw; w++) {
			uint64_t got = reqs_of(watch[w]) - before[w], exp;
			unsigned int v;

			/* An address named twice in the chain: once. */
			for (v = 0; v < w; v++)
				if (!strcmp(watch[v], watch[w]))
					break;
			if (v < w)
				continue;
			exp = !strcmp(watch[w], want);
			if (got != exp)
				ck_fail(&c, "%s got %llu requests, expected %llu (client %s; cut at %u; %s)",
					watch[w], (unsigned long long)got, (unsigned long long)exp,
					want, at, lines);
			lo += exp;
		}
		if (!lo && reqs_of(want) - (strcmp(want, peer) ? 0 : b_peer) != 1)
			ck_fail(&c, "%s got no request", want);
		ck_end(&c);
	}
}

static int setup(void)
{
	static struct ps_config cfg;
	char err_s[256];
	int err;

	req_len = mkreq(req, sizeof(req), "");
	ps_config_init(&cfg);
	err = ps_config_add_port(&cfg, PORT);
	if (err)
		return err;
	cfg.endpoints[0].forwarded_for = PS_FWD_FOR_BOTH;
	cfg.endpoints[0].ntrusted = 2;
	err = ps_parse_prefix("198.18.1.0/24", &cfg.endpoints[0].trusted[0], err_s,
			      sizeof(err_s));
	if (!err)
		err = ps_parse_prefix("fd00:1::/64", &cfg.endpoints[0].trusted[1], err_s,
				      sizeof(err_s));
	return err ? err : dp_start(&cfg, 4096, 1);
}

int main(void)
{
	int err;

	if (geteuid()) {
		printf("SKIP forwarded: needs root (BPF)\n");
		return 77;
	}
	err = setup();
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	cases_xff();
	case_long();
	cases_right_end();
	cases_cut();
	cases_model();
	cases_bad();
	cases_forwarded();
	case_untrusted();
	case_pooled();
	case_limit();
	case_block();
	case_split_block();
	expect_endpoint_sums("forwarded endpoint totals = sum over clients");
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
