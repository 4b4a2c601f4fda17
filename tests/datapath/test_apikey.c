// SPDX-License-Identifier: GPL-2.0-only
/*
 * API keys at packet time, through the live programs (BPF_PROG_TEST_RUN,
 * decisions taken, maps of their own): port 8000 with identity: api_key
 * (and forwarded_for from 198.18.1.0/24), port 8001 without. Each case
 * sends requests carrying keys the test made, whole or cut at every byte,
 * and checks that their requests are counted to the key ids this test
 * computes with its own SipHash-2-4 (a byte-at-a-time implementation of
 * the paper's, checked against the paper's test vectors first), that a
 * key's limit and block are its own, and that no byte of any key is left
 * in any map of the datapath afterwards.
 *
 * Needs root (BPF); exits 77 without it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"
#include "siphash_ref.h"
#include "common/units.h"

#define KEY_PORT	8000
#define PLAIN_PORT	8001
#define GW4		0xc6120100	/* 198.18.1.0/24: trusted gateways */
#define MAX_KEYS	64

static const uint8_t secret[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* Every key the cases sent, to be looked for in the maps at the end. */
static char sent[MAX_KEYS][2048];
static int nsent;

/* The paper's vectors, checked on the test's own SipHash (siphash_ref.h). */
static void case_vectors(void)
{
	sip_check_vectors("siphash-paper-vectors", secret);
}

/* ---- requests and counts ---- */

static const char *remember(const char *key)
{
	if (nsent < MAX_KEYS)
		snprintf(sent[nsent++], sizeof(sent[0]), "%s", key);
	return key;
}

static unsigned int mkreq(char *buf, size_t size, const char *lines)
{
	return snprintf(buf, size,
			"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n%s"
			"Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			lines, strlen(body), body);
}

static int send_steps(const struct conn *cn, uint32_t off, const char *data, unsigned int len,
		      unsigned int cut)
{
	int v;

	if (!cut || cut >= len)
		return csend(cn, off, data, len);
	v = csend(cn, off, data, cut);
	return v != TC_ACT_OK ? v : csend(cn, off + cut, data + cut, len - cut);
}

static int counts_of(const struct ps_client_key *k, struct ps_client_ctr *ctr)
{
	uint32_t slot;

	return ctr_of_key(k, ctr, &slot);
}

static struct ps_client_key key_subject(const char *key)
{
	struct ps_client_key k = { .family = PS_AF_KEY };
	uint64_t id = sip(secret, (const uint8_t *)key, strlen(key));

	k.addr.a[0] = (uint32_t)id;
	k.addr.a[1] = (uint32_t)(id >> 32);
	return k;
}

static void expect_key(struct ck *c, const char *key, uint64_t reqs, uint64_t throttled)
{
	struct ps_client_key k = key_subject(key);
	struct ps_client_ctr ctr;
	char text[PS_KEY_STRLEN];

	ps_key_str((uint64_t)k.addr.a[1] << 32 | k.addr.a[0], text, sizeof(text));
	if (counts_of(&k, &ctr)) {
		if (!reqs && !throttled)
			return;
		ck_fail(c, "%s has no counters, expected %llu requests", text,
			(unsigned long long)reqs);
		return;
	}
	if (ctr.c.requests != reqs || ctr.c.inference_requests != reqs ||
	    ctr.throttled_requests != throttled)
		ck_fail(c, "%s: requests %llu, inference %llu, throttled %llu; expected %llu, %llu, "
			"%llu", text, (unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.inference_requests,
			(unsigned long long)ctr.throttled_requests, (unsigned long long)reqs,
			(unsigned long long)reqs, (unsigned long long)throttled);
}

static void expect_addr(struct ck *c, uint32_t addr, uint64_t reqs)
{
	struct ps_client_ctr ctr;
	uint32_t slot;

	if (ctr_of(addr, &ctr, &slot)) {
		if (reqs)
			ck_fail(c, "the address has no counters, expected %llu requests",
				(unsigned long long)reqs);
		return;
	}
	if (ctr.c.requests != reqs)
		ck_fail(c, "the address: requests %llu, expected %llu",
			(unsigned long long)ctr.c.requests, (unsigned long long)reqs);
}

/* One request with these lines from addr to port, cut in two at cut. */
static int one(uint32_t addr, uint16_t port, const char *lines, unsigned int cut)
{
	char r[4096];
	unsigned int n = mkreq(r, sizeof(r), lines);
	struct conn cn;

	if (handshake_to(&cn, addr, port))
		return -1;
	return send_steps(&cn, 0, r, n, cut);
}

static void cases_headers(void)
{
	char lines[512];
	struct ck c;

	ck_init(&c, "key-bearer");
	snprintf(lines, sizeof(lines), "Authorization: Bearer %s\r\n", remember("sk-proj-aaaa1111"));
	expect(&c, one(0xc6120201, KEY_PORT, lines, 0), TC_ACT_OK, "request");
	expect_key(&c, "sk-proj-aaaa1111", 1, 0);
	expect_addr(&c, 0xc6120201, 0);
	ck_end(&c);

	ck_init(&c, "key-x-api-key-and-api-key");
	snprintf(lines, sizeof(lines), "x-api-key: %s\r\n", remember("sk-ant-bbbb2222"));
	expect(&c, one(0xc6120202, KEY_PORT, lines, 0), TC_ACT_OK, "x-api-key");
	snprintf(lines, sizeof(lines), "API-Key:\t %s \r\n", remember("azure0123456789abcdef"));
	expect(&c, one(0xc6120203, KEY_PORT, lines, 0), TC_ACT_OK, "api-key");
	expect_key(&c, "sk-ant-bbbb2222", 1, 0);
	expect_key(&c, "azure0123456789abcdef", 1, 0);
	ck_end(&c);

	/* Bearer goes first, then x-api-key, then api-key, in any order. */
	ck_init(&c, "key-bearer-first");
	snprintf(lines, sizeof(lines), "api-key: %s\r\nX-Api-Key: %s\r\nauthorization: bearer %s\r\n",
		 remember("cccc-api"), remember("cccc-x"), remember("cccc-bearer"));
	expect(&c, one(0xc6120204, KEY_PORT, lines, 0), TC_ACT_OK, "three keys");
	expect_key(&c, "cccc-bearer", 1, 0);
	expect_key(&c, "cccc-x", 0, 0);
	ck_end(&c);

	ck_init(&c, "key-basic-is-no-key");
	expect(&c, one(0xc6120205, KEY_PORT, "Authorization: Basic dXNlcjpwYXNz\r\n", 0),
	       TC_ACT_OK, "basic");
	expect_addr(&c, 0xc6120205, 1);
	ck_end(&c);

	/* Where keys are not read: the address's, and the key overwritten. */
	ck_init(&c, "key-on-an-address-endpoint");
	snprintf(lines, sizeof(lines), "Authorization: Bearer %s\r\n", remember("sk-plain-dddd"));
	expect(&c, one(0xc6120206, PLAIN_PORT, lines, 0), TC_ACT_OK, "request");
	expect_addr(&c, 0xc6120206, 1);
	ck_end(&c);
}

/* Keys of lengths to 80, and one of 1500 bytes, cut at every byte (no limit). */
static void case_cuts(void)
{
	char key[1600], lines[1700], r[4096], name[64];
	unsigned int len, cut, n, i, lens[] = { 1, 7, 8, 9, 16, 33, 80, 1500 };
	struct conn cn;
	struct ck c;
	uint32_t addr = 0xc6138000;	/* 198.19.128.0: 0x400 addresses a key */

	default_limit(0);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		len = lens[i];
		for (n = 0; n < len; n++)
			key[n] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
				[(n * 7 + len) % 64];
		key[len] = 0;
		remember(key);
		snprintf(lines, sizeof(lines), "Authorization: Bearer %s\r\n", key);
		n = mkreq(r, sizeof(r), lines);
		snprintf(name, sizeof(name), "key-of-%u-bytes-cut-everywhere", len);
		ck_init(&c, name);
		for (cut = 1; cut < n; cut += len > 100 ? 37 : 1) {
			if (handshake_to(&cn, ++addr, KEY_PORT))
				ck_fail(&c, "handshake");
			if (send_steps(&cn, 0, r, n, cut) != TC_ACT_OK) {
				ck_fail(&c, "cut at %u: held back", cut);
				break;
			}
		}
		/* every one of them the same key, no address's */
		expect_key(&c, key, len > 100 ? (n - 2) / 37 + 1 : n - 1, 0);
		expect_addr(&c, addr, 0);
		ck_end(&c);
		addr = (addr & ~0x3ffu) + 0x400;
	}
	default_limit(1);
}

/*
 * A key line whose key comes on an obs-fold line (RFC 9112 section 5.2:
 * h11 and http-parser join it to the line before with a blank, so the
 * server reads "Bearer KEY"): the key after Authorization's "Bearer", or
 * after the name's colon, on the next line or the one after, the blanks
 * (spaces and tabs) drawn at random; each request cut in two at every
 * byte. And folds that carry no key: after a line that is not a key's,
 * after another scheme, after a key already read (its key stays).
 */
static void case_folded(void)
{
	static const char *const form[] = {
		"Authorization: Bearer%s\r\n%s%s\r\n",
		"Authorization:%s\r\n%sBearer %s\r\n",
		"authorization: bEARER%s\r\n \r\n%s%s\r\n",
		"X-Api-Key:%s\r\n%s%s\r\n",
		"api-key:%s\r\n\t\r\n%s%s\r\n",
	};
	char key[64], lines[512], r[2048], b1[8], b2[8], name[64];
	unsigned int f, v, n, cut, sends;
	uint32_t addr = 0xc613c000;	/* 198.19.192.0: 0x400 addresses a form */
	struct conn cn;
	struct ck c;

	srand(20261207);
	default_limit(0);
	for (f = 0; f < sizeof(form) / sizeof(form[0]); f++) {
		snprintf(key, sizeof(key), "sk-folded-%u-%08x", f, (unsigned int)rand());
		remember(key);
		snprintf(name, sizeof(name), "key-folded-%u-cut-everywhere", f);
		ck_init(&c, name);
		sends = 0;
		for (v = 0; v < 3; v++) {
			/* 0 to 2 blanks at the line's end, 1 to 3 at the fold's start */
			unsigned int k, n1 = rand() % 3, n2 = 1 + rand() % 3;

			for (k = 0; k < n1; k++)
				b1[k] = rand() % 2 ? ' ' : '\t';
			b1[n1] = 0;
			for (k = 0; k < n2; k++)
				b2[k] = rand() % 2 ? ' ' : '\t';
			b2[n2] = 0;
			snprintf(lines, sizeof(lines), form[f], b1, b2, key);
			n = mkreq(r, sizeof(r), lines);
			for (cut = 0; cut < n; cut++) {
				if (handshake_to(&cn, ++addr, KEY_PORT))
					ck_fail(&c, "handshake");
				if (send_steps(&cn, 0, r, n, cut) != TC_ACT_OK) {
					ck_fail(&c, "cut at %u: held back", cut);
					break;
				}
				sends++;
			}
		}
		expect_key(&c, key, sends, 0);
		expect_addr(&c, addr, 0);
		ck_end(&c);
		addr = (addr & ~0x3ffu) + 0x400;
	}
	default_limit(1);

	ck_init(&c, "key-folded-no-key");
	remember("sk-folded-none-1");
	expect(&c, one(++addr, KEY_PORT, "Authorization: Bearer\r\nX-Other: 1\r\n sk-folded-none-1\r\n",
		       0), TC_ACT_OK, "a fold after another line");
	expect_addr(&c, addr, 1);
	expect_key(&c, "sk-folded-none-1", 0, 0);
	expect(&c, one(++addr, KEY_PORT, "Authorization: Basic\r\n sk-folded-none-1\r\n", 0),
	       TC_ACT_OK, "a fold after another scheme");
	expect_addr(&c, addr, 1);
	expect_key(&c, "sk-folded-none-1", 0, 0);
	remember("sk-folded-first");
	expect(&c, one(++addr, KEY_PORT, "Authorization: Bearer sk-folded-first\r\n sk-folded-none-1\r\n",
		       0), TC_ACT_OK, "a fold after a key");
	expect_key(&c, "sk-folded-first", 1, 0);
	expect_key(&c, "sk-folded-none-1", 0, 0);
	ck_end(&c);
}

/* The limit (BURST an hour) is each key's, across addresses and connections. */
static void case_limit(void)
{
	char a[1024], b[1024], seg[2048];
	unsigned int na, nb;
	struct conn one_c, two_c;
	struct ck c;

	ck_init(&c, "key-limit-per-key");
	na = mkreq(a, sizeof(a), "Authorization: Bearer key-limit-A\r\n");
	nb = mkreq(b, sizeof(b), "Authorization: Bearer key-limit-B\r\n");
	remember("key-limit-A");
	remember("key-limit-B");
	if (handshake_to(&one_c, 0xc6120401, KEY_PORT) || handshake_to(&two_c, 0xc6120402, KEY_PORT))
		ck_fail(&c, "handshake");
	expect(&c, csend(&one_c, 0, a, na), TC_ACT_OK, "A from one address");
	expect(&c, csend(&two_c, 0, a, na), TC_ACT_OK, "A from another");
	expect(&c, csend(&two_c, na, a, na), TC_ACT_SHOT, "A a third time: over its limit");
	memcpy(seg, b, nb);
	expect(&c, csend(&one_c, na, seg, nb), TC_ACT_OK, "B from the first address: its own");
	expect_key(&c, "key-limit-A", 2, 1);
	expect_key(&c, "key-limit-B", 1, 0);
	ck_end(&c);
}

/* A blocked key: each request that carries it is held, whoever sends it. */
static void case_block(void)
{
	struct ps_enforcement e = { .action = PS_ACT_BLOCK, .origin = PS_ORIGIN_MANUAL };
	struct ps_enforce_state st = { .entries = 1 };
	struct ps_client_key k = key_subject("key-blocked");
	struct ps_lpm_key lk = { .prefixlen = 8 + 128, .family = PS_AF_KEY };
	int enforce = bpf_map__fd(dp.skel->maps.ps_enforce);
	int state = bpf_map__fd(dp.skel->maps.ps_enforce_state);
	uint32_t zero = 0;
	struct ck c;

	ck_init(&c, "key-blocked");
	remember("key-blocked");
	memcpy(lk.addr, &k.addr, 16);
	bpf_map_update_elem(enforce, &lk, &e, BPF_ANY);
	bpf_map_update_elem(state, &zero, &st, BPF_ANY);
	expect(&c, one(0xc6120501, KEY_PORT, "x-api-key: key-blocked\r\n", 0), TC_ACT_SHOT,
	       "the blocked key");
	expect(&c, one(0xc6120502, KEY_PORT, "x-api-key: key-blocked\r\n", 60), TC_ACT_SHOT,
	       "the blocked key, cut");
	expect(&c, one(0xc6120503, KEY_PORT, "x-api-key: key-not-blocked\r\n", 0), TC_ACT_OK,
	       "another key from the same kind of place");
	remember("key-not-blocked");
	bpf_map_delete_elem(enforce, &lk);
	st.entries = 0;
	bpf_map_update_elem(state, &zero, &st, BPF_ANY);
	ck_end(&c);
}

/* A key behind a gateway: the key's, whatever X-Forwarded-For says. */
static void case_forwarded(void)
{
	struct ps_client_ctr ctr;
	uint32_t slot;
	struct ck c;

	ck_init(&c, "key-behind-a-gateway");
	remember("key-gw-1");
	expect(&c, one(GW4 + 9, KEY_PORT,
		       "X-Forwarded-For: 198.19.30.1\r\nAuthorization: Bearer key-gw-1\r\n", 0),
	       TC_ACT_OK, "a key behind the gateway");
	expect(&c, one(GW4 + 10, KEY_PORT, "X-Forwarded-For: 198.19.30.2\r\n", 0), TC_ACT_OK,
	       "no key behind the gateway");
	expect_key(&c, "key-gw-1", 1, 0);
	if (ctr_of(0xc6131e01, &ctr, &slot) == 0 && ctr.c.requests)
		ck_fail(&c, "the forwarded address of a request with a key has its request");
	if (ctr_of(0xc6131e02, &ctr, &slot) || ctr.c.requests != 1)
		ck_fail(&c, "the forwarded address of a request without a key: not its request");
	ck_end(&c);
}

/* The requests ps_key_addrs holds for key from the IPv4 address addr. */
static long long pair_requests(const char *key, uint32_t addr, uint64_t *inf)
{
	struct ps_client_key ks = key_subject(key);
	struct ps_key_addr_key k = {};
	struct ps_key_addr_val v;

	k.id = (uint64_t)ks.addr.a[1] << 32 | ks.addr.a[0];
	k.addr.a[0] = htonl(addr);
	k.family = PS_AF_INET;
	if (bpf_map_lookup_elem(bpf_map__fd(dp.skel->maps.ps_key_addrs), &k, &v))
		return -1;
	*inf = v.inference_requests;
	return (long long)v.requests;
}

static void expect_pair(struct ck *c, const char *key, uint32_t addr, long long reqs)
{
	uint64_t inf = 0;
	long long got = pair_requests(key, addr, &inf);

	if (got != reqs || (reqs > 0 && inf != (uint64_t)reqs))
		ck_fail(c, "%s from %u.%u.%u.%u: %lld requests (%llu inference), expected %lld",
			key, addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff, got,
			(unsigned long long)inf, reqs);
}

/*
 * Each key's addresses (ps_key_addrs): the connection's client, or the
 * client a gateway names, one pair each, counted by request; pipelined
 * requests of one key for two forwarded clients in one segment are two
 * pairs.
 */
static void case_key_addrs(void)
{
	char a[1024], b[1024], both[2048];
	unsigned int na, nb;
	struct conn cn;
	struct ck c;

	ck_init(&c, "key-addresses");
	default_limit(0);
	remember("key-pairs-1");
	remember("key-pairs-2");
	/* Two requests on one connection from 198.18.10.1, the second cut. */
	na = mkreq(a, sizeof(a), "Authorization: Bearer key-pairs-1\r\n");
	if (handshake_to(&cn, 0xc6120a01, KEY_PORT)) {
		ck_fail(&c, "no handshake");
	} else {
		expect(&c, csend(&cn, 0, a, na), TC_ACT_OK, "key 1 from 198.18.10.1");
		expect(&c, send_steps(&cn, na, a, na, 7), TC_ACT_OK,
		       "key 1 from 198.18.10.1 again, cut");
	}
	expect(&c, one(0xc6120a02, KEY_PORT, "x-api-key: key-pairs-1\r\n", 0), TC_ACT_OK,
	       "key 1 from 198.18.10.2");
	/* Behind the gateway: two requests of key 1 for two clients in one
	 * segment, then two for one client, then key 2 for the first. */
	na = mkreq(a, sizeof(a), "X-Forwarded-For: 198.19.31.1\r\nAuthorization: Bearer key-pairs-1\r\n");
	nb = mkreq(b, sizeof(b), "X-Forwarded-For: 198.19.31.2\r\nAuthorization: Bearer key-pairs-1\r\n");
	memcpy(both, a, na);
	memcpy(both + na, b, nb);
	if (handshake_to(&cn, GW4 + 20, KEY_PORT)) {
		ck_fail(&c, "no handshake");
	} else {
		expect(&c, csend(&cn, 0, both, na + nb), TC_ACT_OK, "two clients of key 1, pipelined");
		memcpy(both + na, a, na);
		expect(&c, csend(&cn, na + nb, both, 2 * na), TC_ACT_OK,
		       "one client of key 1 twice, pipelined");
	}
	expect(&c, one(GW4 + 21, KEY_PORT,
		       "X-Forwarded-For: 198.19.31.1\r\nAuthorization: Bearer key-pairs-2\r\n", 0),
	       TC_ACT_OK, "key 2 behind the gateway");
	expect(&c, one(0xc6120a03, PLAIN_PORT, "Authorization: Bearer key-pairs-2\r\n", 0),
	       TC_ACT_OK, "key 2 on an endpoint without identity: api_key");
	expect_pair(&c, "key-pairs-1", 0xc6120a01, 2);
	expect_pair(&c, "key-pairs-1", 0xc6120a02, 1);
	expect_pair(&c, "key-pairs-1", 0xc6131f01, 3);
	expect_pair(&c, "key-pairs-1", 0xc6131f02, 1);
	expect_pair(&c, "key-pairs-1", GW4 + 20, -1);
	expect_pair(&c, "key-pairs-2", 0xc6131f01, 1);
	expect_pair(&c, "key-pairs-2", GW4 + 21, -1);
	expect_pair(&c, "key-pairs-2", 0xc6120a03, -1);
	expect_key(&c, "key-pairs-1", 7, 0);
	default_limit(1);
	ck_end(&c);
}

/*
 * A segment held back by its key's limit, with a second request's key in
 * it that was never parsed: no byte of either stays (case_no_key_left).
 */
static void case_held_pipelined(void)
{
	char a[1024], two[2048];
	unsigned int na, i;
	struct conn cn;
	struct ck c;

	ck_init(&c, "key-held-pipelined");
	remember("hp1-7Qx2ZkPa9rLw0tNs");
	remember("hp2-Vd8mYc3JqE5uHf1B");
	na = mkreq(a, sizeof(a), "Authorization: Bearer hp1-7Qx2ZkPa9rLw0tNs\r\n");
	if (handshake_to(&cn, 0xc6120b01, KEY_PORT)) {
		ck_fail(&c, "no handshake");
		ck_end(&c);
		return;
	}
	for (i = 0; i < BURST; i++)
		expect(&c, csend(&cn, i * na, a, na), TC_ACT_OK, "within the burst");
	memcpy(two, a, na);
	memcpy(two + na, a, na);
	memcpy(strstr(two + na, "hp1-7Qx2ZkPa9rLw0tNs"), "hp2-Vd8mYc3JqE5uHf1B", 20);
	expect(&c, csend(&cn, BURST * na, two, 2 * na), TC_ACT_SHOT, "over the limit: held back");
	/* The key's (key, address) pair holds the requests let in, not the
	 * one held back, whose slot was looked up for the limit (and its
	 * pair with it); the second request's key was never read. */
	expect_pair(&c, "hp1-7Qx2ZkPa9rLw0tNs", 0xc6120b01, BURST);
	expect_pair(&c, "hp2-Vd8mYc3JqE5uHf1B", 0xc6120b01, -1);
	/* A stream that is not HTTP: its lines are not parsed. */
	remember("hp3-Rk4sWn7GzT2cXa9E");
	na = snprintf(a, sizeof(a), "\x16\x03\x01 GET / HTTP/1.1\r\nHost: a\r\n"
			  "Authorization: Bearer hp3-Rk4sWn7GzT2cXa9E\r\n\r\n");
	if (handshake_to(&cn, 0xc6120b02, KEY_PORT))
		ck_fail(&c, "no handshake");
	else
		expect(&c, csend(&cn, 0, a, na), TC_ACT_OK, "not HTTP");
	ck_end(&c);
}

static void case_no_key_left(void)
{
	struct bpf_map *m;
	struct ck c;
	int i;

	ck_init(&c, "no-key-in-any-map");
	bpf_object__for_each_map(m, dp.skel->obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_map__fd(m);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		for (i = 0; i < nsent; i++) {
			/* Each 8 bytes of a key, up to 8 pieces (all of it
			 * when shorter): a piece left anywhere is found. */
			size_t n = strlen(sent[i]), o;

			for (o = 0; n >= 6 && o < 64 && (o == 0 || o + 8 <= n); o += 8) {
				if (!map_holds(fd, &info, sent[i] + o, n > 8 ? 8 : n))
					continue;
				ck_fail(&c, "map %s holds bytes %zu.. of key %d (%.8s...)",
					bpf_map__name(m), o, i, sent[i] + o);
				break;
			}
		}
	}
	ck_end(&c);
}

static int setup(void)
{
	static struct ps_config cfg;
	char err_s[256];
	int err;

	req_len = mkreq(req, sizeof(req), "");
	ps_config_init(&cfg);
	err = ps_config_add_port(&cfg, KEY_PORT);
	if (!err)
		err = ps_config_add_port(&cfg, PLAIN_PORT);
	if (err)
		return err;
	cfg.endpoints[0].identity = PS_IDENTITY_API_KEY;
	cfg.endpoints[0].forwarded_for = PS_FWD_FOR_BOTH;
	cfg.endpoints[0].ntrusted = 1;
	err = ps_parse_prefix("198.18.1.0/24", &cfg.endpoints[0].trusted[0], err_s,
			      sizeof(err_s));
	if (!err)
		err = dp_start(&cfg, 65536, 1);
	return err ? err : ps_dp_set_secret(&dp, secret);
}

int main(void)
{
	int err;

	if (geteuid()) {
		printf("SKIP apikey: needs root (BPF)\n");
		return 77;
	}
	case_vectors();
	err = setup();
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	cases_headers();
	case_cuts();
	case_folded();
	case_limit();
	case_block();
	case_forwarded();
	case_key_addrs();
	case_held_pipelined();
	case_no_key_left();
	expect_endpoint_sums("apikey endpoint totals = sum over clients");
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
