// SPDX-License-Identifier: GPL-2.0-only
/*
 * X-Forwarded-For and Forwarded over HTTP/2 (h2c) at packet time, through
 * the live programs (BPF_PROG_TEST_RUN, maps of their own): port 8000 with
 * forwarded_for: true (both headers), trusted_proxies 198.18.1.0/24 and
 * fd00:1::/64, identity: api_key. Header blocks are written byte by byte
 * from RFC 7541 (Huffman codes from userspace/common/hpack_huffman.c, the
 * encoder, not the datapath's decoder). The client each request belongs
 * to is computed here from the rule walked from the left (the last entry
 * that is not a trusted proxy; an entry that is no address leaves the
 * request to the connection; the left-most address when all are trusted):
 * random chains of one and two fields, plain and Huffman-coded, whole, cut
 * by a segment or by a CONTINUATION anywhere; fixed chains of one and four
 * entries cut at every byte; chains longer than the decoder's room; a peer
 * that is not trusted; a field from the dynamic table
 * (stats.h2_forwarded_indexed); a literal whose name is a dynamic entry of
 * a forwarded field, plain or Huffman-coded; Forwarded, and X-Forwarded-For first; bad
 * entries and a Huffman code with EOS inside; an API key winning; a
 * forwarded client's request limit on a connection another client shares;
 * and the answers on a pooled connection with many clients' streams in
 * flight, each its own client's.
 *
 * Needs root (BPF); exits 77 without it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"
#include "h2.h"
#include "hpack_writer.h"
#include "xff_model.h"
#include "siphash_ref.h"
#include "common/hpack_huffman.h"

#define GW4		0xc6120100	/* 198.18.1.0/24: trusted gateways */
#define UNTRUSTED4	0xc6120200	/* 198.18.2.0/24: not trusted */

static const uint8_t secret[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* Each connection its own client port (a 4-tuple used again would be a SYN retransmitted). */
static uint16_t next_cport = 20000;

static void h2_conn_from(struct ck *c, struct conn *cn, uint32_t caddr, uint32_t *off)
{
	unsigned char buf[256], b[64];
	unsigned int n;

	soff = 0;
	cn->caddr = caddr;
	cn->cport = next_cport++;
	cn->port = PORT;
	cn->cisn = 1000;
	cn->sisn = 5000;
	if (run(dp.ingress_fd, buf, frame(buf, caddr, SERVER, cn->cport, PORT, cn->cisn, 0, F_SYN,
					  NULL, 0, 0)) != TC_ACT_OK ||
	    run(dp.egress_fd, buf, frame(buf, SERVER, caddr, PORT, cn->cport, cn->sisn,
					 cn->cisn + 1, F_SYN | F_ACK, NULL, 0, 0)) != TC_ACT_OK)
		ck_fail(c, "handshake");
	memcpy(b, preface, 24);
	n = 24 + h2f(b + 24, 4, 0, 0, NULL, 0);
	expect(c, csend(cn, 0, b, n), TC_ACT_OK, "the preface");
	*off = n;
	n = h2f(b, 4, 0, 0, "\x00\x03\x00\x00\x00\x64", 6);
	expect(c, ssend(cn, b, n), TC_ACT_OK, "the server's preface");
}

/* ---- counts ---- */

static uint64_t reqs_of(const char *a)
{
	struct ps_client_key k = {};
	struct ps_client_ctr ctr;
	uint32_t slot;

	if (inet_pton(AF_INET, a, &k.addr) == 1)
		k.family = PS_AF_INET;
	else if (inet_pton(AF_INET6, a, &k.addr) == 1)
		k.family = PS_AF_INET6;
	else
		return 0;
	return ctr_of_key(&k, &ctr, &slot) ? 0 : ctr.c.requests;
}

static const char *ip4(uint32_t a)
{
	static char s[4][INET_ADDRSTRLEN];
	static int i;
	uint32_t n = htonl(a);

	i = (i + 1) % 4;
	inet_ntop(AF_INET, &n, s[i], sizeof(s[i]));
	return s[i];
}

/*
 * The header block blk (bn bytes) of one request on a new connection from
 * gw, sent whole (how 0), by two segments cut after byte at of the block
 * (1), or as HEADERS with the block's first at bytes and a CONTINUATION
 * with the rest (2). want gets one request more; every address of watch
 * (nw, distinct from want) none.
 */
static void send_one(struct ck *c, uint32_t gw, const uint8_t *blk, unsigned int bn, int how,
		     unsigned int at, const char *want, const char *const *watch, int nw,
		     const char *what)
{
	uint8_t fr[8192];
	uint64_t before[24], w0 = reqs_of(want);
	unsigned int n;
	struct conn cn;
	uint32_t off;
	int i;

	for (i = 0; i < nw && i < 24; i++)
		before[i] = reqs_of(watch[i]);
	h2_conn_from(c, &cn, gw, &off);
	if (how == 2) {
		n = h2f(fr, 1, 0x1, 1, blk, at);
		n += h2f(fr + n, 9, 0x4, 1, blk + at, bn - at);
		expect(c, csend(&cn, off, fr, n), TC_ACT_OK, what);
	} else {
		n = h2_req(fr, 1, blk, bn);
		if (how == 1) {
			expect(c, csend(&cn, off, fr, 9 + at), TC_ACT_OK, what);
			expect(c, csend(&cn, off + 9 + at, fr + 9 + at, n - 9 - at), TC_ACT_OK,
			       what);
		} else {
			expect(c, csend(&cn, off, fr, n), TC_ACT_OK, what);
		}
	}
	if (reqs_of(want) - w0 != 1)
		ck_fail(c, "%s: %s got %llu requests, expected 1", what, want,
			(unsigned long long)(reqs_of(want) - w0));
	for (i = 0; i < nw && i < 24; i++)
		if (strcmp(watch[i], want) && reqs_of(watch[i]) != before[i])
			ck_fail(c, "%s: %s got %llu requests, expected none (client %s)", what,
				watch[i], (unsigned long long)(reqs_of(watch[i]) - before[i]),
				want);
}

/* ---- the rule, from the left (xff_model.h) ---- */

#define MODEL_CASES	160

/*
 * Random chains: one or two x-forwarded-for fields (names and values plain
 * or Huffman-coded, each representation), whole, cut by a segment or a
 * CONTINUATION at a random byte of the block.
 */
static void cases_model(void)
{
	static struct xff_entry ent[2][40];
	unsigned int i, l, j, ne[2], nl, n, bn, at;
	char vals[2][1024], name[64];
	const char *watch[24];
	struct field f[2];
	uint8_t blk[4096];
	int how, nw;
	struct ck c;

	srand(9113);
	for (i = 0; i < MODEL_CASES; i++) {
		uint32_t gw = GW4 + 1 + i % 120;
		const char *peer = ip4(gw), *want;

		nl = 1 + rand() % 2;
		nw = 0;
		for (l = 0; l < nl; l++) {
			ne[l] = 1 + rand() % (i % 10 == 9 ? 40 : 6);
			n = 0;
			for (j = 0; j < ne[l]; j++) {
				xff_model_entry(&ent[l][j], i, l * 40 + j, 60);
				n += snprintf(vals[l] + n, sizeof(vals[l]) - n, "%s%s", j ? "," : "",
					      ent[l][j].text);
				if (ent[l][j].addr[0] && nw < 23)
					watch[nw++] = ent[l][j].addr;
			}
			f[l] = (struct field){ "x-forwarded-for", rand() % 2, vals[l], rand() % 2,
					       (enum rep)(rand() % 2) };
		}
		watch[nw++] = peer;
		want = xff_model_client(&ent[0][0], 40, ne, nl, peer);
		bn = hp_request(blk, f, nl, NULL, 0);
		how = rand() % 3;
		at = 1 + rand() % (bn - 1);
		snprintf(name, sizeof(name), "h2xff-model-%u", i);
		ck_init(&c, name);
		send_one(&c, gw, blk, bn, how, at, want, watch, nw, name);
		if (c.why[0])
			fprintf(stderr, "  fields: [%s] [%s]; how %d at %u\n", vals[0],
				nl > 1 ? vals[1] : "", how, at);
		ck_end(&c);
	}
}

/* One entry and four (two forged, two trusted on the right), cut at every byte. */
static void cases_cuts(void)
{
	static const struct {
		const char *value, *want;
	} chain[] = {
		{ "198.19.9.1", "198.19.9.1" },
		{ "203.0.113.7, 198.19.9.2 , 198.18.1.77,198.18.1.78", "198.19.9.2" },
	};
	const char *watch[] = { "203.0.113.7", "198.19.9.2", "198.18.1.77", "198.18.1.78",
				"198.19.9.1" };
	unsigned int k, huff, bn, at, how;
	uint8_t blk[1024];
	char what[96];
	struct field f;
	struct ck c;

	for (k = 0; k < 2; k++)
		for (huff = 0; huff < 2; huff++) {
			snprintf(what, sizeof(what), "h2xff-cut-every-byte-%u-entries-%s",
				 k ? 4 : 1, huff ? "huffman" : "plain");
			ck_init(&c, what);
			f = (struct field){ "x-forwarded-for", (int)huff, chain[k].value, (int)huff,
					    R_NEVER };
			bn = hp_request(blk, &f, 1, NULL, 0);
			for (at = 1; at < bn && !c.why[0]; at++)
				for (how = 1; how <= 2; how++) {
					snprintf(what, sizeof(what), "%s at %u",
						 how == 1 ? "segment" : "CONTINUATION", at);
					send_one(&c, GW4 + 130 + k * 2 + huff, blk, bn, how, at,
						 chain[k].want, watch, 5, what);
				}
			ck_end(&c);
		}
}

/* From a peer that is not trusted: not believed, counted (stats.forwarded_untrusted). */
static void case_untrusted(void)
{
	struct field f = { "x-forwarded-for", 1, "198.19.22.1", 1, R_NOIDX };
	const char *watch[] = { "198.19.22.1" };
	uint64_t u0 = stat(PS_STAT_FORWARDED_UNTRUSTED);
	uint8_t blk[512];
	struct ck c;

	ck_init(&c, "h2xff-untrusted-peer");
	send_one(&c, UNTRUSTED4 + 1, blk, hp_request(blk, &f, 1, NULL, 0), 0, 0,
		 ip4(UNTRUSTED4 + 1), watch, 1, "untrusted");
	if (stat(PS_STAT_FORWARDED_UNTRUSTED) - u0 != 1)
		ck_fail(&c, "forwarded_untrusted moved by %llu, expected 1",
			(unsigned long long)(stat(PS_STAT_FORWARDED_UNTRUSTED) - u0));
	ck_end(&c);
}

/*
 * A field indexed into the dynamic table, then named by its index: both
 * requests its client's. A value inserted after another field of its
 * block named someone has no walk of its own kept: named by its index, its
 * request is the connection's, counted in stats.h2_forwarded_indexed.
 */
static void case_indexed(void)
{
	struct field f = { "x-forwarded-for", 0, "198.19.23.1", 1, R_INC };
	struct field two[2] = { { "x-forwarded-for", 0, "198.19.23.2", 0, R_NOIDX },
				{ "x-forwarded-for", 1, "198.19.23.3", 0, R_INC } };
	uint64_t x0 = stat(PS_STAT_H2_FWD_INDEXED), a0 = reqs_of("198.19.23.1");
	uint64_t b0 = reqs_of("198.19.23.2"), c0 = reqs_of("198.19.23.3");
	uint8_t blk[512], fr[600], tail[1] = { 0x80 | 62 };
	uint32_t gw = GW4 + 140, off;
	uint64_t g0 = reqs_of(ip4(gw));
	struct conn cn;
	unsigned int n;
	struct ck c;

	ck_init(&c, "h2xff-indexed");
	h2_conn_from(&c, &cn, gw, &off);
	n = h2_req(fr, 1, blk, hp_request(blk, &f, 1, NULL, 0));
	expect(&c, csend(&cn, off, fr, n), TC_ACT_OK, "indexed");
	off += n;
	n = h2_req(fr, 3, blk, hp_request(blk, NULL, 0, tail, 1));
	expect(&c, csend(&cn, off, fr, n), TC_ACT_OK, "by its index");
	off += n;
	n = h2_req(fr, 5, blk, hp_request(blk, two, 2, NULL, 0));
	expect(&c, csend(&cn, off, fr, n), TC_ACT_OK, "indexed second");
	off += n;
	n = h2_req(fr, 7, blk, hp_request(blk, NULL, 0, tail, 1));
	expect(&c, csend(&cn, off, fr, n), TC_ACT_OK, "the second by its index");
	if (reqs_of("198.19.23.1") - a0 != 2 || reqs_of("198.19.23.3") - c0 != 1 ||
	    reqs_of("198.19.23.2") - b0 != 0 || reqs_of(ip4(gw)) - g0 != 1)
		ck_fail(&c, "clients %llu %llu %llu, gateway %llu requests: expected 2 0 1 and 1",
			(unsigned long long)(reqs_of("198.19.23.1") - a0),
			(unsigned long long)(reqs_of("198.19.23.2") - b0),
			(unsigned long long)(reqs_of("198.19.23.3") - c0),
			(unsigned long long)(reqs_of(ip4(gw)) - g0));
	if (stat(PS_STAT_H2_FWD_INDEXED) - x0 != 1)
		ck_fail(&c, "h2_forwarded_indexed moved by %llu, expected 1",
			(unsigned long long)(stat(PS_STAT_H2_FWD_INDEXED) - x0));
	ck_end(&c);
}

/* ---- the dynamic table, as an encoder keeps it (RFC 7541 section 4) ---- */

#define TBL_CONNS	3
#define TBL_REQS	600
#define TBL_VALUES	16
#define TBL_MAX		200	/* entries of 32 bytes or more in 4096 bytes: 128 */

struct tval {
	struct xff_entry ent[4];
	unsigned int ne;
	char text[300];
};

/* An entry: a value's (val >= 0) or a filler (-1), whether its walk is kept. */
struct tent {
	int val;
	int walk;
	unsigned int size;
};

/* e[0] the newest. */
struct ttbl {
	struct tent e[TBL_MAX];
	int n;
	unsigned int bytes, max;
};

/* Sizes count the strings' octets without Huffman coding (section 4.1). */
static void tbl_insert(struct ttbl *t, struct tent e)
{
	while (t->n && t->bytes + e.size > t->max)
		t->bytes -= t->e[--t->n].size;
	if (e.size > t->max || t->n == TBL_MAX) {
		t->n = 0;
		t->bytes = 0;
		return;
	}
	memmove(&t->e[1], &t->e[0], t->n * sizeof(e));
	t->e[0] = e;
	t->n++;
	t->bytes += e.size;
}

static void tbl_resize(struct ttbl *t, unsigned int max)
{
	t->max = max;
	while (t->n && t->bytes > t->max)
		t->bytes -= t->e[--t->n].size;
}

/* The newest entry of value v (-1: none); of any value when v < 0. */
static int tbl_find(const struct ttbl *t, int v)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (t->e[i].val >= 0 && (v < 0 || t->e[i].val == v))
			return i;
	return -1;
}

/* Does a value name anyone: an entry that is not blanks only? */
static int tval_names(const struct tval *v)
{
	char t[64];
	unsigned int j;

	for (j = 0; j < v->ne; j++)
		if (sscanf(v->ent[j].text, "%63s", t) == 1)
			return 1;
	return 0;
}

struct tcount {
	char addr[48];
	uint64_t before, want;
};

static void tcount_add(struct tcount *tc, int *ntc, const char *a, int inc)
{
	int i;

	for (i = 0; i < *ntc; i++)
		if (!strcmp(tc[i].addr, a))
			break;
	if (i == *ntc) {
		if (*ntc >= 128)
			return;
		snprintf(tc[i].addr, sizeof(tc[i].addr), "%s", a);
		tc[i].before = reqs_of(a);
		tc[i].want = 0;
		(*ntc)++;
	}
	tc[i].want += inc;
}

/*
 * Three gateways' connections at once, 600 requests among them: each
 * names zero, one or two of 16 random chains (xff_model.h), by a literal
 * with incremental indexing (its name a literal or a dynamic entry's), a
 * literal without, or the index of the chain's entry while the test's own
 * table (the encoder's) holds it; filler entries of random sizes and size
 * updates evict. Each request's client by the rule from the left over its
 * chains; a chain named by an index whose walk was not kept (inserted
 * after a field of its block that named someone) leaves the request to
 * the connection, counted in stats.h2_forwarded_indexed. Blocks sent
 * whole, cut by a segment, or by a CONTINUATION.
 */
static void cases_table(void)
{
	static struct tval val[TBL_VALUES];
	static struct ttbl tbl[TBL_CONNS];
	static struct tcount tc[128];
	static struct xff_entry fent[2][4];
	uint64_t x0 = stat(PS_STAT_H2_FWD_INDEXED), xw = 0;
	uint8_t blk[4096], tail[2048], fr[8192];
	uint32_t off[TBL_CONNS], sid[TBL_CONNS];
	struct conn cn[TBL_CONNS];
	const char *peer[TBL_CONNS], *want;
	unsigned int ne[2], i, j, l, nf, k, bn, n, at, how;
	int ntc = 0, named, lost, v, pos;
	char fill[320];
	struct ck c;

	ck_init(&c, "h2xff-table-kept-walks");
	srand(4242);
	for (v = 0; v < TBL_VALUES; v++) {
		val[v].ne = 1 + rand() % 3;
		n = 0;
		for (j = 0; j < val[v].ne; j++) {
			xff_model_entry(&val[v].ent[j], v, j, 100);
			n += snprintf(val[v].text + n, sizeof(val[v].text) - n, "%s%s", j ? "," : "",
				      val[v].ent[j].text);
			if (val[v].ent[j].addr[0])
				tcount_add(tc, &ntc, val[v].ent[j].addr, 0);
		}
	}
	for (i = 0; i < TBL_CONNS; i++) {
		h2_conn_from(&c, &cn[i], GW4 + 160 + i, &off[i]);
		peer[i] = ip4(GW4 + 160 + i);
		tcount_add(tc, &ntc, peer[i], 0);
		sid[i] = 1;
		tbl[i] = (struct ttbl){ .max = 4096 };
	}
	for (i = 0; i < TBL_REQS && !c.why[0]; i++) {
		struct ttbl *t;

		k = rand() % TBL_CONNS;
		t = &tbl[k];
		bn = 0;
		if (rand() % 25 == 0) {
			/* Down to a few entries, and back (section 6.3), at the
			 * block's start. */
			uint32_t sz = 100 + rand() % 400;

			bn = hp_int(blk, 5, 0x20, sz);
			tbl_resize(t, sz);
			bn += hp_int(blk + bn, 5, 0x20, 4096);
			tbl_resize(t, 4096);
		}
		/* The request's fields, after :method ... :authority. */
		n = 0;
		if (rand() % 3 == 0) {
			unsigned int fl = 10 + rand() % 300;

			memset(fill, 'a' + rand() % 26, fl);
			fill[fl] = 0;
			n += hp_field(tail + n, &(struct field){ "x-filler", rand() % 2, fill,
							       rand() % 2, R_INC });
			tbl_insert(t, (struct tent){ -1, 0, 8 + fl + 32 });
		}
		nf = rand() % 20 == 0 ? 0 : rand() % 5 == 0 ? 2 : 1;
		named = 0;
		lost = 0;
		for (l = 0; l < nf; l++) {
			v = rand() % TBL_VALUES;
			ne[l] = val[v].ne;
			memcpy(fent[l], val[v].ent, sizeof(fent[l]));
			pos = tbl_find(t, v);
			if (pos >= 0 && rand() % 4) {
				n += hp_int(tail + n, 7, 0x80, 62 + pos);
				if (!t->e[pos].walk)
					lost = 1;
				else if (tval_names(&val[v]))
					named = 1;
				continue;
			}
			pos = tbl_find(t, -1);
			if (rand() % 10 < 7) {
				struct tent e = { v, !named, 15 + strlen(val[v].text) + 32 };

				if (pos >= 0 && rand() % 3 == 0) {
					/* The name by a forwarded entry's index. */
					n += hp_int(tail + n, 6, 0x40, 62 + pos);
					n += hp_str(tail + n, val[v].text, rand() % 2);
				} else {
					n += hp_field(tail + n,
						      &(struct field){ "x-forwarded-for", rand() % 2,
								       val[v].text, rand() % 2,
								       R_INC });
				}
				tbl_insert(t, e);
			} else {
				n += hp_field(tail + n, &(struct field){ "x-forwarded-for", rand() % 2,
									val[v].text, rand() % 2,
									(enum rep)(rand() % 2) });
			}
			if (tval_names(&val[v]))
				named = 1;
		}
		want = lost ? peer[k] : xff_model_client(&fent[0][0], 4, ne, nf, peer[k]);
		tcount_add(tc, &ntc, want, 1);
		xw += lost;
		bn += hp_request(blk + bn, NULL, 0, tail, n);
		how = rand() % 3;
		at = 1 + rand() % (bn - 1);
		if (how == 2) {
			n = h2f(fr, 1, 0x1, sid[k], blk, at);
			n += h2f(fr + n, 9, 0x4, sid[k], blk + at, bn - at);
			expect(&c, csend(&cn[k], off[k], fr, n), TC_ACT_OK, "HEADERS, CONTINUATION");
		} else {
			n = h2_req(fr, sid[k], blk, bn);
			if (how == 1) {
				expect(&c, csend(&cn[k], off[k], fr, 9 + at), TC_ACT_OK, "a cut block");
				expect(&c, csend(&cn[k], off[k] + 9 + at, fr + 9 + at, n - 9 - at),
				       TC_ACT_OK, "its rest");
			} else {
				expect(&c, csend(&cn[k], off[k], fr, n), TC_ACT_OK, "a block");
			}
		}
		off[k] += n;
		sid[k] += 2;
		for (j = 0; j < (unsigned int)ntc && !c.why[0]; j++)
			if (reqs_of(tc[j].addr) - tc[j].before != tc[j].want)
				ck_fail(&c, "request %u (connection %u, %u fields%s): %s has %llu "
					"requests, expected %llu (client %s)", i, k, nf,
					lost ? ", a walk not kept" : "", tc[j].addr,
					(unsigned long long)(reqs_of(tc[j].addr) - tc[j].before),
					(unsigned long long)tc[j].want, want);
	}
	if (!c.why[0] && stat(PS_STAT_H2_FWD_INDEXED) - x0 != xw)
		ck_fail(&c, "h2_forwarded_indexed moved by %llu, expected %llu",
			(unsigned long long)(stat(PS_STAT_H2_FWD_INDEXED) - x0),
			(unsigned long long)xw);
	ck_end(&c);
}

/*
 * A literal whose name is a dynamic entry a forwarded field inserted, its
 * name plain or Huffman-coded (nghttp2 codes it: 11 bytes for
 * x-forwarded-for's 15, 7 for forwarded's 9), the literal itself with
 * incremental indexing or without: its value is read as that name's, the
 * request its client's and no entry bad.
 */
static void cases_indexed_name(void)
{
	static const char *const names[2] = { "x-forwarded-for", "forwarded" };
	uint64_t b0 = stat(PS_STAT_FORWARDED_BAD);
	unsigned int nm, huff, inc, i = 0, n, k;
	uint8_t blk[512], fr[600], tail[64];
	char first[40], second[40], want[16];
	struct conn cn;
	uint32_t off, gw;
	uint64_t g0, w0;
	struct ck c;

	ck_init(&c, "h2xff-indexed-name");
	for (nm = 0; nm < 2; nm++) {
		for (huff = 0; huff < 2; huff++) {
			for (inc = 0; inc < 2; inc++, i++) {
				struct field f = { names[nm], (int)huff, first, 1, R_INC };

				gw = GW4 + 145 + i;
				snprintf(want, sizeof(want), "198.19.28.%u", 2 * i + 2);
				snprintf(first, sizeof(first), "%s198.19.28.%u",
					 nm ? "for=" : "", 2 * i + 1);
				snprintf(second, sizeof(second), "%s%s", nm ? "for=" : "", want);
				g0 = reqs_of(ip4(gw));
				w0 = reqs_of(want);
				h2_conn_from(&c, &cn, gw, &off);
				n = h2_req(fr, 1, blk, hp_request(blk, &f, 1, NULL, 0));
				expect(&c, csend(&cn, off, fr, n), TC_ACT_OK, "the name inserted");
				off += n;
				/* Index 62: the newest entry, the field above. */
				k = inc ? hp_int(tail, 6, 0x40, 62) : hp_int(tail, 4, 0x00, 62);
				k += hp_str(tail + k, second, (int)huff);
				n = h2_req(fr, 3, blk, hp_request(blk, NULL, 0, tail, k));
				expect(&c, csend(&cn, off, fr, n), TC_ACT_OK, "the name by its index");
				if (reqs_of(want) - w0 != 1 || reqs_of(ip4(gw)) != g0)
					ck_fail(&c, "%s (name %s, literal %s): %s got %llu requests, "
						"the gateway %llu: expected 1 and none",
						names[nm], huff ? "huffman" : "plain",
						inc ? "indexed" : "not indexed", want,
						(unsigned long long)(reqs_of(want) - w0),
						(unsigned long long)(reqs_of(ip4(gw)) - g0));
			}
		}
	}
	if (stat(PS_STAT_FORWARDED_BAD) != b0)
		ck_fail(&c, "forwarded_bad moved by %llu, expected 0",
			(unsigned long long)(stat(PS_STAT_FORWARDED_BAD) - b0));
	ck_end(&c);
}

/* Forwarded (for= among other parameters, quoted IPv6), and X-Forwarded-For first. */
static void cases_forwarded(void)
{
	struct field fw = { "forwarded", 1,
			    "for=198.19.24.1;proto=http, For=\"[fd00:24::1]:8080\";by=x", 1,
			    R_NOIDX };
	struct field both[2] = { { "forwarded", 0, "for=198.19.24.2", 0, R_NOIDX },
				 { "x-forwarded-for", 0, "198.19.24.3", 1, R_NOIDX } };
	const char *watch[] = { "198.19.24.1", "fd00:24::1", "198.19.24.2", "198.19.24.3" };
	uint8_t blk[512];
	struct ck c;

	ck_init(&c, "h2xff-forwarded");
	send_one(&c, GW4 + 141, blk, hp_request(blk, &fw, 1, NULL, 0), 0, 0, "fd00:24::1", watch,
		 4, "forwarded");
	fw.name_huff = 0;
	fw.value_huff = 0;
	send_one(&c, GW4 + 141, blk, hp_request(blk, &fw, 1, NULL, 0), 1, 40, "fd00:24::1", watch,
		 4, "forwarded, plain, cut");
	send_one(&c, GW4 + 141, blk, hp_request(blk, both, 2, NULL, 0), 0, 0, "198.19.24.3", watch,
		 4, "forwarded then x-forwarded-for");
	ck_end(&c);
}

/* Entries that are no address, and a Huffman code with EOS inside: the connection's. */
static void cases_bad(void)
{
	static const char *vals[] = { "198.19.25.1, unknown", "198.19.25.1, 198.19.1",
				      "198.19.25.1, _hidden" };
	const char *watch[] = { "198.19.25.1" };
	uint64_t b0 = stat(PS_STAT_FORWARDED_BAD);
	uint8_t blk[512], raw[64], code[64];
	unsigned int i, k, bits = 0;
	int n;
	struct field f;
	struct ck c;

	ck_init(&c, "h2xff-bad-entries");
	for (i = 0; i < 3; i++) {
		f = (struct field){ "x-forwarded-for", 0, vals[i], (int)(i & 1), R_NOIDX };
		send_one(&c, GW4 + 142, blk, hp_request(blk, &f, 1, NULL, 0), 0, 0,
			 ip4(GW4 + 142), watch, 1, vals[i]);
	}
	/* "198.19.25.1" with EOS (30 ones) after its first 5 bits. */
	n = ps_huffman_encode("198.19.25.1", 11, code, sizeof(code), &bits);
	k = 0;
	raw[k++] = 0x00;
	k += hp_str(raw + k, "x-forwarded-for", 0);
	{
		uint8_t w[64] = { 0 };
		unsigned int nb = 0, j;

		for (j = 0; j < 5; j++, nb++)
			if ((code[j / 8] >> (7 - j % 8)) & 1)
				w[nb / 8] |= 0x80 >> (nb % 8);
		for (j = 0; j < 30; j++, nb++)
			w[nb / 8] |= 0x80 >> (nb % 8);
		for (j = 5; j < bits; j++, nb++)
			if ((code[j / 8] >> (7 - j % 8)) & 1)
				w[nb / 8] |= 0x80 >> (nb % 8);
		while (nb % 8)
			w[nb / 8] |= 0x80 >> (nb % 8), nb++;
		k += hp_int(raw + k, 7, 0x80, nb / 8);
		memcpy(raw + k, w, nb / 8);
		k += nb / 8;
	}
	(void)n;
	send_one(&c, GW4 + 142, blk, hp_request(blk, NULL, 0, raw, k), 0, 0, ip4(GW4 + 142), watch,
		 1, "EOS inside");
	if (stat(PS_STAT_FORWARDED_BAD) - b0 != 4)
		ck_fail(&c, "forwarded_bad moved by %llu, expected 4",
			(unsigned long long)(stat(PS_STAT_FORWARDED_BAD) - b0));
	ck_end(&c);
}

/* With an API key, the key wins (as over HTTP/1); without, the forwarded client. */
static void case_key_wins(void)
{
	static const char key[] = "sk-h2xff-key-wins-7Q";
	struct field f[2] = { { "x-forwarded-for", 1, "198.19.26.1", 1, R_NOIDX },
			      { "x-api-key", 0, key, 1, R_NOIDX } };
	struct ps_client_key k = { .family = PS_AF_KEY };
	const char *watch[] = { "198.19.26.1" };
	uint64_t id = sip(secret, (const uint8_t *)key, strlen(key));
	uint64_t a0 = reqs_of("198.19.26.1");
	struct ps_client_ctr ctr;
	uint8_t blk[512];
	uint32_t slot;
	struct ck c;

	ck_init(&c, "h2xff-api-key-wins");
	k.addr.a[0] = (uint32_t)id;
	k.addr.a[1] = (uint32_t)(id >> 32);
	{
		uint8_t fr[600];
		struct conn cn;
		uint32_t off;
		unsigned int n;

		h2_conn_from(&c, &cn, GW4 + 143, &off);
		n = h2_req(fr, 1, blk, hp_request(blk, f, 2, NULL, 0));
		expect(&c, csend(&cn, off, fr, n), TC_ACT_OK, "key and forwarded");
	}
	if (ctr_of_key(&k, &ctr, &slot) || ctr.c.requests != 1)
		ck_fail(&c, "the key has no request, expected 1");
	if (reqs_of("198.19.26.1") != a0)
		ck_fail(&c, "the forwarded client got the keyed request");
	send_one(&c, GW4 + 143, blk, hp_request(blk, f, 1, NULL, 0), 0, 0, "198.19.26.1", watch, 0,
		 "forwarded alone");
	ck_end(&c);
}

/* The TCP checksum of an IPv4 frame as frame() builds it: 0 over a frame whose checksum is right. */
static uint16_t tcp_sum(const unsigned char *buf, unsigned int n)
{
	const unsigned char *ip = buf + ETH_HLEN, *t = ip + 20;
	unsigned int tl = n - ETH_HLEN - 20, i;
	uint32_t sum = 0;

	for (i = 12; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	sum += IPPROTO_TCP + tl;
	for (i = 0; i + 1 < tl; i += 2)
		sum += (uint32_t)t[i] << 8 | t[i + 1];
	if (tl & 1)
		sum += (uint32_t)t[tl - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * csend() with the TCP checksum filled in, the frame as the program left
 * it in out (olen bytes): the verdict.
 */
static int csend_out(const struct conn *cn, uint32_t off, const void *data, unsigned int len,
		     unsigned char *out, unsigned int *olen)
{
	unsigned char buf[2048];
	unsigned int n = frame(buf, cn->caddr, SERVER, cn->cport, cn->port, cn->cisn + 1 + off,
			       cn->sisn + 1, F_ACK, data, len, 0);
	unsigned char *ck = buf + ETH_HLEN + 20 + 16;
	struct __sk_buff ctx = {};
	uint16_t sum;

	ck[0] = ck[1] = 0;
	sum = tcp_sum(buf, n);
	ck[0] = sum >> 8;
	ck[1] = sum & 0xff;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = n, .data_out = out,
		    .data_size_out = 2048, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	if (bpf_prog_test_run_opts(dp.ingress_fd, &o))
		return -errno;
	*olen = o.data_size_out;
	return o.retval;
}

#define PAYLOAD_AT	(ETH_HLEN + 20 + 20)

/*
 * The request limit (BURST an hour) is the forwarded client's: on one
 * pooled connection from a trusted gateway, A's requests past its burst
 * are refused in place, not held: in the segment that also carries B's
 * request, A's :method POST (the static table's entry 3, indexed: 0x83)
 * is rewritten to GET (0x82) and the TCP checksum mended; B's is untouched
 * and the segment goes in, so that B does not wait with A. A request whose
 * :method is a literal cannot be refused that way: its segment is held
 * back. And on a client's own connection (no trusted
 * proxy) an HTTP/2 request over its limit is held as HTTP/1's is.
 */
static void case_limit(void)
{
	struct field fa = { "x-forwarded-for", 0, "203.0.113.9, 198.19.27.1", 1, R_NOIDX };
	struct field fb = { "x-forwarded-for", 0, "198.19.27.2, 198.18.1.250", 1, R_NOIDX };
	uint8_t blk[512], fr[1400], out[2048];
	uint64_t r0 = stat(PS_STAT_H2_REFUSED), t0 = stat(PS_STAT_THROTTLED);
	uint32_t off, sid = 1;
	unsigned int n, na, bn, i, olen = 0;
	struct conn cn;
	struct ck c;
	int v;

	ck_init(&c, "h2xff-limit-per-forwarded-client");
	default_limit(1);
	h2_conn_from(&c, &cn, GW4 + 144, &off);
	for (i = 0; i < BURST; i++) {
		n = h2_req(fr, sid, blk, hp_request(blk, &fa, 1, NULL, 0));
		expect(&c, csend(&cn, off, fr, n), TC_ACT_OK, "A within its limit");
		off += n;
		sid += 2;
	}
	/* A over its limit and B, one segment. */
	na = h2_req(fr, sid, blk, hp_request(blk, &fa, 1, NULL, 0));
	n = na + h2_req(fr + na, sid + 2, blk, hp_request(blk, &fb, 1, NULL, 0));
	v = csend_out(&cn, off, fr, n, out, &olen);
	expect(&c, v, TC_ACT_OK, "A over its limit beside B: the segment goes in");
	if (olen != PAYLOAD_AT + n)
		ck_fail(&c, "the frame came out %u bytes, went in %u", olen, PAYLOAD_AT + n);
	else if (out[PAYLOAD_AT + 9] != 0x82 || out[PAYLOAD_AT + na + 9] != 0x83)
		ck_fail(&c, "A's :method byte %#x (expected 0x82, GET), B's %#x (expected 0x83)",
			out[PAYLOAD_AT + 9], out[PAYLOAD_AT + na + 9]);
	else if (memcmp(out + PAYLOAD_AT + 10, fr + 10, n - 10) ||
		 memcmp(out + PAYLOAD_AT, fr, 9))
		ck_fail(&c, "bytes other than A's :method changed");
	else if (tcp_sum(out, olen))
		ck_fail(&c, "the TCP checksum is not mended (%#x)", tcp_sum(out, olen));
	off += n;
	sid += 4;
	if (stat(PS_STAT_H2_REFUSED) - r0 != 1 || stat(PS_STAT_THROTTLED) - t0 != 1)
		ck_fail(&c, "h2_refused moved by %llu, throttled by %llu: expected 1, 1",
			(unsigned long long)(stat(PS_STAT_H2_REFUSED) - r0),
			(unsigned long long)(stat(PS_STAT_THROTTLED) - t0));
	/* Its request reached the server (as GET) and counts as one. */
	if (reqs_of("198.19.27.1") != BURST + 1 || reqs_of("198.19.27.2") != 1 ||
	    reqs_of(ip4(GW4 + 144)) != 0)
		ck_fail(&c, "A %llu, B %llu, gateway %llu requests: expected %d, 1, 0",
			(unsigned long long)reqs_of("198.19.27.1"),
			(unsigned long long)reqs_of("198.19.27.2"),
			(unsigned long long)reqs_of(ip4(GW4 + 144)), BURST + 1);
	/* :method as a literal (without indexing, name 2): held back. */
	bn = hp_request(blk + 5, &fa, 1, NULL, 0) + 5;
	memcpy(blk, "\x02\x04POST", 6);
	n = h2_req(fr, sid, blk, bn);
	expect(&c, csend_out(&cn, off, fr, n, out, &olen), TC_ACT_SHOT,
	       "A over its limit, its :method a literal: held back");
	if (stat(PS_STAT_H2_REFUSED) - r0 != 1)
		ck_fail(&c, "h2_refused moved for a block that cannot be refused");
	default_limit(0);
	ck_end(&c);
}

/*
 * An HTTP/2 client's own connection (its peer is no trusted proxy): a
 * request over its limit is held back with its segment, as over HTTP/1.
 */
static void case_limit_own(void)
{
	uint8_t blk[512], fr[600], out[2048];
	uint64_t r0 = stat(PS_STAT_H2_REFUSED);
	unsigned int n, i, olen;
	uint32_t off, sid = 1;
	struct conn cn;
	struct ck c;

	ck_init(&c, "h2-limit-own-connection-held");
	default_limit(1);
	h2_conn_from(&c, &cn, UNTRUSTED4 + 40, &off);
	for (i = 0; i < BURST + 1; i++) {
		n = h2_req(fr, sid, blk, hp_request(blk, NULL, 0, NULL, 0));
		expect(&c, csend_out(&cn, off, fr, n, out, &olen),
		       i < BURST ? TC_ACT_OK : TC_ACT_SHOT,
		       i < BURST ? "within its limit" : "over its limit: held back");
		if (i < BURST) {
			off += n;
			sid += 2;
		}
	}
	if (stat(PS_STAT_H2_REFUSED) != r0)
		ck_fail(&c, "h2_refused moved on a client's own connection");
	default_limit(0);
	ck_end(&c);
}

/*
 * A pooled gateway connection, as Caddy (Go's HTTP/2 transport) and
 * HAProxy keep one to the server: many clients' inference requests in
 * flight at once (60 at most here, within the ingress's window of 64
 * streams; the late case below goes past it), several HEADERS to a
 * segment, each naming its own
 * client by a literal x-forwarded-for (with incremental indexing as Go's
 * encoder writes it, or without as HAProxy's); then the answers in a
 * random order, a few streams interleaved in a segment (within the
 * egress's PS_H2R_SLOTS scans). Each answer's events, tokens and payload
 * (its frames' payloads: the response HEADERS' and DATA's) are its
 * request's client's, the gateway's none of them.
 */
#define PL_ROUNDS	8
#define PL_MAX_STREAMS	160

struct pl_stream {
	uint32_t sid, caddr;
	unsigned int ev, ptok, ctok, sent;	/* its events (usage line included), usage, bytes */
	char body[256];
	unsigned int blen;
};

/*
 * The requests of ns streams on the gateway's connection cn from its
 * offset off, 1 to 6 HEADERS a segment, stream i's x-forwarded-for naming
 * 198.19.net.(i + 1) (field representations at random): st[i]'s sid and
 * client set. Returns the offset after them.
 */
static uint32_t pooled_requests(struct ck *c, struct conn *cn, uint32_t off, struct pl_stream *st,
				unsigned int ns, unsigned int net)
{
	unsigned char blk[512], b[4096];
	unsigned int n, i, k;
	char val[32];

	for (i = 0; i < ns;) {
		n = 0;
		for (k = 1 + rand() % 6; k && i < ns; k--, i++) {
			struct field f = { "x-forwarded-for", rand() % 2, val, rand() % 2,
					   rand() % 2 ? R_INC : R_NOIDX };

			st[i].sid = 2 * i + 1;
			st[i].caddr = 0xc6130000 | (net << 8) | (i + 1);
			snprintf(val, sizeof(val), "%s", ip4(st[i].caddr));
			n += h2_req(b + n, st[i].sid, blk, hp_request(blk, &f, 1, NULL, 0));
		}
		expect(c, csend(cn, off, b, n), TC_ACT_OK, "the requests");
		off += n;
	}
	return off;
}

/*
 * After a round of ns streams of the gateway gw's connection: each
 * answer's events, tokens and payload are its request's client's (st), and
 * the gateway (its counters g0 before the round) got none of them.
 */
static void pooled_check(struct ck *c, int round, const struct pl_stream *st, unsigned int ns,
			 uint32_t gw, const struct ps_client_ctr *g0, int pay)
{
	struct ps_client_ctr ctr, g1;
	unsigned int i, nbad = 0;
	char first[256];
	uint32_t slot;

	for (i = 0; i < ns; i++) {
		if (ctr_of(st[i].caddr, &ctr, &slot))
			memset(&ctr, 0, sizeof(ctr));
		if (ctr.tx_events == st[i].ev && ctr.tx_tokens == st[i].ctok &&
		    ctr.rx_tokens == st[i].ptok && (!pay || ctr.c.tx_payload == st[i].sent))
			continue;
		if (!nbad++)
			snprintf(first, sizeof(first), "%s (stream %u): tx_events %llu, "
				 "tx_tokens %llu, rx_tokens %llu, tx_payload %llu: expected %u, "
				 "%u, %u, %u", ip4(st[i].caddr), st[i].sid,
				 (unsigned long long)ctr.tx_events,
				 (unsigned long long)ctr.tx_tokens,
				 (unsigned long long)ctr.rx_tokens,
				 (unsigned long long)ctr.c.tx_payload, st[i].ev, st[i].ctok,
				 st[i].ptok, st[i].sent);
	}
	if (nbad)
		ck_fail(c, "round %d: %u of %u streams' answers not their clients': %s", round,
			nbad, ns, first);
	if (ctr_of(gw, &g1, &slot))
		ck_fail(c, "round %d: the gateway has no counters", round);
	else if (g1.tx_events != g0->tx_events || g1.tx_tokens != g0->tx_tokens ||
		 g1.rx_tokens != g0->rx_tokens)
		ck_fail(c, "round %d, %u streams: the gateway got %llu events, %llu/%llu "
			"tokens of its clients' answers", round, ns,
			(unsigned long long)(g1.tx_events - g0->tx_events),
			(unsigned long long)(g1.tx_tokens - g0->tx_tokens),
			(unsigned long long)(g1.rx_tokens - g0->rx_tokens));
}

static void cases_pooled_answers(void)
{
	static struct pl_stream st[PL_MAX_STREAMS];
	unsigned char b[4096];
	int order[PL_MAX_STREAMS];
	struct ps_client_ctr g0;
	uint32_t gw, off, slot;
	unsigned int n, i, j, k, ns, left;
	struct conn cn;
	struct ck c;
	int round;

	ck_init(&c, "h2xff-pooled-answers");
	srand(7541);
	for (round = 0; round < PL_ROUNDS; round++) {
		gw = GW4 + 150 + round;
		ns = 9 + rand() % (60 - 8);
		h2_conn_from(&c, &cn, gw, &off);
		if (ctr_of(gw, &g0, &slot))
			memset(&g0, 0, sizeof(g0));
		off = pooled_requests(&c, &cn, off, st, ns, 40 + round);
		/* The answers: an event stream each, its usage its own. */
		for (i = 0; i < ns; i++) {
			unsigned int e = 1 + rand() % 3, bl = 0;

			st[i].ptok = 1 + rand() % 900;
			st[i].ctok = 1 + rand() % 900;
			st[i].ev = e + 1;
			for (j = 0; j < e; j++)
				bl += snprintf(st[i].body + bl, sizeof(st[i].body) - bl,
					       "data: {\"c\":\"t%u\"}\n\n", j);
			bl += snprintf(st[i].body + bl, sizeof(st[i].body) - bl,
				       "data: {\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u}}"
				       "\n\n", st[i].ptok, st[i].ctok);
			st[i].blen = bl;
			st[i].sent = 0;
			order[i] = i;
		}
		for (i = ns - 1; i > 0; i--) {
			j = rand() % (i + 1);
			k = order[i];
			order[i] = order[j];
			order[j] = k;
		}
		/* 1 to 4 streams at once, each's body in two DATA frames, interleaved. */
		for (i = 0; i < ns; i += left) {
			unsigned int cut[4];

			left = 1 + rand() % 4;
			if (left > ns - i)
				left = ns - i;
			n = 0;
			for (k = 0; k < left; k++) {
				n += resp_headers(b + n, st[order[i + k]].sid);
				cut[k] = rand() % (st[order[i + k]].blen + 1);
			}
			for (k = 0; k < left; k++) {
				struct pl_stream *p = &st[order[i + k]];

				n += h2f(b + n, 0, 0, p->sid, p->body, cut[k]);
			}
			for (k = 0; k < left; k++) {
				struct pl_stream *p = &st[order[i + k]];

				n += h2f(b + n, 0, 0x1, p->sid, p->body + cut[k], p->blen - cut[k]);
				p->sent = 1 + p->blen;
			}
			expect(&c, ssend(&cn, b, n), TC_ACT_OK, "the answers");
		}
		pooled_check(&c, round, st, ns, gw, &g0, 1);
	}
	ck_end(&c);
}

/*
 * The same pooled connection, its answers as a busy server sends them:
 * up to maxopen answers in progress at once, each segment a random mix of
 * answers begun (HEADERS and a first DATA), continued and ended
 * (END_STREAM), event streams an event a DATA frame and JSON answers
 * whole, so that a segment may end answers of more clients than there are
 * scan slots free. With maxopen over PS_H2R_SLOTS, scans are put aside
 * (ps_h2r_page) and brought back frame by frame. With more than 64
 * requests (nsmax) sent before the first answer begins, the older ones'
 * streams have left the ingress's window when their answers come: they
 * are found in ps_h2_late. Each answer's events and tokens are its
 * request's client's (and its payload, within the window: nsmax <= 64),
 * the gateway's none, and no scan is lost (stats.h2_no_slot).
 */
#define PL_MAX_OPEN	48
static void cases_pooled_progress(const char *name, unsigned int seed, unsigned int gwoff,
				  unsigned int maxopen, unsigned int nsmin, unsigned int nsmax)
{
	static struct pl_stream st[PL_MAX_STREAMS];
	static unsigned int part[PL_MAX_STREAMS], nparts[PL_MAX_STREAMS];
	static unsigned int pstart[PL_MAX_STREAMS][8];
	unsigned char b[4096];
	struct ps_client_ctr g0;
	uint32_t gw, off, slot;
	unsigned int n, i, j, k, ns, open, next, done, nopen;
	uint64_t ns0 = stat(PS_STAT_H2_NO_SLOT);
	int open_of[PL_MAX_OPEN];
	struct conn cn;
	struct ck c;
	int round;

	ck_init(&c, name);
	srand(seed);
	if (maxopen > PL_MAX_OPEN)
		maxopen = PL_MAX_OPEN;
	for (round = 0; round < PL_ROUNDS; round++) {
		gw = GW4 + gwoff + round;
		ns = nsmin + rand() % (nsmax - nsmin + 1);
		h2_conn_from(&c, &cn, gw, &off);
		if (ctr_of(gw, &g0, &slot))
			memset(&g0, 0, sizeof(g0));
		off = pooled_requests(&c, &cn, off, st, ns, gwoff - 120 + round);
		/* Each answer in parts: a JSON body whole, or an event a part. */
		for (i = 0; i < ns; i++) {
			unsigned int e = rand() % 4, bl = 0;

			st[i].ptok = 1 + rand() % 900;
			st[i].ctok = 1 + rand() % 900;
			nparts[i] = 0;
			part[i] = 0;
			if (!e) {
				st[i].ev = 0;
				pstart[i][nparts[i]++] = 0;
				bl = snprintf(st[i].body, sizeof(st[i].body),
					      "{\"id\":\"x\",\"usage\":{\"prompt_tokens\":%u,"
					      "\"completion_tokens\":%u}}", st[i].ptok, st[i].ctok);
			} else {
				st[i].ev = e + 1;
				for (j = 0; j < e; j++) {
					pstart[i][nparts[i]++] = bl;
					bl += snprintf(st[i].body + bl, sizeof(st[i].body) - bl,
						       "data: {\"c\":\"t%u\"}\n\n", j);
				}
				pstart[i][nparts[i]++] = bl;
				bl += snprintf(st[i].body + bl, sizeof(st[i].body) - bl,
					       "data: {\"usage\":{\"prompt_tokens\":%u,"
					       "\"completion_tokens\":%u}}\n\n", st[i].ptok,
					       st[i].ctok);
			}
			st[i].blen = bl;
			st[i].sent = 1 + bl;
		}
		/* Answers begun in a random order, up to maxopen at once. */
		open = maxopen > PS_H2R_SLOTS ? PS_H2R_SLOTS + 1 + rand() % (maxopen - PS_H2R_SLOTS)
					      : 1 + rand() % maxopen;
		nopen = 0;
		next = 0;
		done = 0;
		while (done < ns) {
			n = 0;
			for (k = 1 + rand() % 6; k; k--) {
				struct pl_stream *p;
				unsigned int end, q;

				if (next < ns && nopen < open && (!nopen || rand() % 2)) {
					/* A stream not begun: any of the rest, at random. */
					j = next + rand() % (ns - next);
					{
						struct pl_stream t = st[j];
						unsigned int tp = part[j], tn = nparts[j], ps[8];

						memcpy(ps, pstart[j], sizeof(ps));
						st[j] = st[next];
						part[j] = part[next];
						nparts[j] = nparts[next];
						memcpy(pstart[j], pstart[next], sizeof(ps));
						st[next] = t;
						part[next] = tp;
						nparts[next] = tn;
						memcpy(pstart[next], ps, sizeof(ps));
					}
					open_of[nopen++] = next++;
					n += resp_headers(b + n, st[open_of[nopen - 1]].sid);
					j = nopen - 1;
				} else if (nopen) {
					j = rand() % nopen;
				} else {
					break;
				}
				p = &st[open_of[j]];
				q = part[open_of[j]]++;
				end = q + 1 < nparts[open_of[j]] ? pstart[open_of[j]][q + 1] : p->blen;
				n += h2f(b + n, 0, q + 1 == nparts[open_of[j]] ? 0x1 : 0, p->sid,
					 p->body + pstart[open_of[j]][q], end - pstart[open_of[j]][q]);
				if (q + 1 == nparts[open_of[j]]) {
					open_of[j] = open_of[--nopen];
					done++;
				}
				if (n > 3000)
					break;
			}
			if (n)
				expect(&c, ssend(&cn, b, n), TC_ACT_OK, "the answers");
		}
		pooled_check(&c, round, st, ns, gw, &g0, nsmax <= 64);
	}
	if (stat(PS_STAT_H2_NO_SLOT) != ns0)
		ck_fail(&c, "stats.h2_no_slot grew by %llu, expected 0",
			(unsigned long long)(stat(PS_STAT_H2_NO_SLOT) - ns0));
	ck_end(&c);
}

static int setup(void)
{
	static struct ps_config cfg;
	char err_s[256];
	int err;

	default_request();
	ps_config_init(&cfg);
	err = ps_config_add_port(&cfg, PORT);
	if (err)
		return err;
	cfg.endpoints[0].forwarded_for = PS_FWD_FOR_BOTH;
	cfg.endpoints[0].identity = PS_IDENTITY_API_KEY;
	cfg.endpoints[0].ntrusted = 2;
	err = ps_parse_prefix("198.18.1.0/24", &cfg.endpoints[0].trusted[0], err_s,
			      sizeof(err_s));
	if (!err)
		err = ps_parse_prefix("fd00:1::/64", &cfg.endpoints[0].trusted[1], err_s,
				      sizeof(err_s));
	if (!err)
		err = dp_start(&cfg, 65536, 0);
	return err ? err : ps_dp_set_secret(&dp, secret);
}

int main(void)
{
	int err;

	if (geteuid()) {
		printf("SKIP h2xff: needs root (BPF)\n");
		return 77;
	}
	err = setup();
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	cases_model();
	cases_cuts();
	case_untrusted();
	case_indexed();
	cases_table();
	cases_indexed_name();
	cases_forwarded();
	cases_bad();
	case_key_wins();
	case_limit();
	case_limit_own();
	cases_pooled_answers();
	cases_pooled_progress("h2xff-pooled-answers-in-progress", 9114, 170, PS_H2R_SLOTS, 9, 60);
	cases_pooled_progress("h2xff-pooled-answers-paged", 9115, 190, PL_MAX_OPEN, 9, 60);
	cases_pooled_progress("h2xff-pooled-answers-late", 9116, 210, PL_MAX_OPEN, 70, PL_MAX_STREAMS);
	expect_endpoint_sums("h2xff endpoint totals = sum over clients");
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
