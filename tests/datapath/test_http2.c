// SPDX-License-Identifier: GPL-2.0-only
/*
 * HTTP/2 cleartext at packet time, through the live ingress and egress
 * programs (BPF_PROG_TEST_RUN with the program clock and every decision
 * taken, on maps of their own): the request limit on HEADERS, the HPACK
 * table left as it was by a segment held back, RST_STREAM and GOAWAY, and
 * stats.h2_unclassified, the table gone with its flow. The counting rules against tshark are
 * tests/datapath/cases.py's (test_http_cases).
 *
 * The header blocks are written here byte by byte from RFC 7541 (indexed
 * fields 0x80 | index, literals with incremental indexing 0x40 | name
 * index, size updates 0x20 | size); the figures come from the rules, not
 * from the programs: GCRA lets BURST inference requests in at once and
 * holds every later one, with its segment; a request is a stream on which
 * the client sent HEADERS (RFC 9113), an inference request one whose
 * :path starts with an endpoint path.
 *
 * Needs root (BPF); exits 77 without it.
 */
#include "count/flows.h"
#include "h2.h"
#include "hpack_writer.h"

/* A HEADERS frame, END_HEADERS, with the block blk[0..n). */
static unsigned int headers(unsigned char *b, uint32_t sid, const void *blk, unsigned int n)
{
	return h2f(b, 1, 0x4, sid, blk, n);
}

/* :method POST, :scheme http (static 3 and 6), then a :path literal indexed (0x44). */
static unsigned int blk_literal_path(unsigned char *b, const char *path)
{
	unsigned int n = strlen(path);

	b[0] = 0x83;
	b[1] = 0x86;
	b[2] = 0x44;
	b[3] = n;
	memcpy(b + 4, path, n);
	return 4 + n;
}

static void send_ok(struct ck *c, const struct conn *cn, uint32_t *off, const void *b,
		    unsigned int n, const char *what)
{
	expect(c, csend(cn, *off, b, n), TC_ACT_OK, what);
	*off += n;
}

/* Expect the client's requests, inference requests and requests held back. */
static void expect_h2(struct ck *c, uint32_t caddr, uint64_t reqs, uint64_t inf, uint64_t held)
{
	struct ps_client_ctr ctr;
	uint32_t slot;

	if (ctr_of(caddr, &ctr, &slot))
		ck_fail(c, "no counters for the client");
	else if (ctr.c.requests != reqs || ctr.c.inference_requests != inf ||
		 ctr.throttled_requests != held)
		ck_fail(c, "requests %llu, inference %llu, held %llu: expected %llu, %llu, %llu",
			(unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.inference_requests,
			(unsigned long long)ctr.throttled_requests, (unsigned long long)reqs,
			(unsigned long long)inf, (unsigned long long)held);
}

/*
 * The limit on HEADERS: BURST inference streams in, the next held back
 * with its segment, again when sent again; a stream to another path goes
 * in meanwhile; after time passes the held one goes in. The held segment
 * inserted an entry into the HPACK table: sent again, it must not insert
 * it twice, or the later index 63 would name it rather than the :path.
 */
static void case_limit(void)
{
	unsigned char blk[128], b[256];
	struct ck c;
	struct conn cn;
	uint32_t off;
	unsigned int n, k;

	ck_init(&c, "h2-limit");
	open_h2_client(&c, &cn, CLIENT_BASE + 1, &off);
	/* Stream 1 inserts ":path: /v1/chat/completions" (dynamic index 62). */
	k = blk_literal_path(blk, INF_PATH);
	n = headers(b, 1, blk, k);
	send_ok(&c, &cn, &off, b, n, "stream 1, within the burst");
	/* Stream 3 indexes it. */
	blk[0] = 0x83;
	blk[1] = 0x86;
	blk[2] = 0x80 | 62;
	n = headers(b, 3, blk, 3);
	send_ok(&c, &cn, &off, b, n, "stream 3, within the burst");
	/* Stream 5 inserts "x-a: 1", then indexes the :path, now 63: over the limit. */
	blk[2] = 0x40;
	blk[3] = 3;
	memcpy(blk + 4, "x-a", 3);
	blk[7] = 1;
	blk[8] = '1';
	blk[9] = 0x80 | 63;
	n = headers(b, 5, blk, 10);
	expect(&c, csend(&cn, off, b, n), TC_ACT_SHOT, "stream 5, over the limit");
	expect(&c, csend(&cn, off, b, n), TC_ACT_SHOT, "stream 5 sent again");
	expect_counts(&c, cn.caddr, BURST, 1);
	time_passes(cn.caddr);
	send_ok(&c, &cn, &off, b, n, "stream 5 after time passed");
	/* Stream 7: the :path at 63 again ("x-a" at 62), counted with the bucket full again. */
	time_passes(cn.caddr);
	blk[2] = 0x80 | 63;
	n = headers(b, 7, blk, 3);
	send_ok(&c, &cn, &off, b, n, "stream 7 indexes the :path");
	/* Stream 9, "/health": no inference request, never held. */
	k = blk_literal_path(blk, "/health");
	n = headers(b, 9, blk, k);
	send_ok(&c, &cn, &off, b, n, "stream 9, not an inference path");
	expect_h2(&c, cn.caddr, 5, BURST + 2, 1);
	ck_end(&c);
}

/*
 * A :path with %XX escapes (/v1/chat/%63ompletions, /v1%2Fchat/...): a
 * server decodes them before it routes (uvicorn hands the decoded path to
 * the application), and penstock reads the :path as it reads an HTTP/1
 * request target (docs/http1-counting.md 7.6): an inference request,
 * judged by the limit. Written as a literal and Huffman-coded (as client
 * libraries write a :path when that is shorter); escapes that decode to
 * no endpoint path (/health%21, an escape cut short: /v1/chat/%6) stay no
 * inference request.
 */
static void case_percent_path(void)
{
	static const char *const esc[] = { "/v1/chat/%63ompletions", "/v1%2Fchat/completions",
					   "/%76%31/chat/completions?x=%41" };
	static const char *const other[] = { "/health%21", "/v1/chat/%6", "/v1/chat/%zzompletions" };
	unsigned char blk[160], b[256];
	unsigned int n, k, i, huff;
	struct conn cn;
	uint32_t off;
	struct ck c;

	for (huff = 0; huff < 2; huff++) {
		ck_init(&c, huff ? "h2-percent-path-limited-huffman" : "h2-percent-path-limited");
		open_h2_client(&c, &cn, CLIENT_BASE + 6 + huff, &off);
		for (i = 0; i < 3; i++) {
			blk[0] = 0x83;
			blk[1] = 0x86;
			blk[2] = 0x04;	/* without indexing, name :path */
			k = 3 + hp_str(blk + 3, other[i], huff);
			n = headers(b, 1 + 2 * i, blk, k);
			send_ok(&c, &cn, &off, b, n, "an escaped path that is no endpoint's");
		}
		for (i = 0; i < BURST + 1; i++) {
			blk[0] = 0x83;
			blk[1] = 0x86;
			blk[2] = 0x04;
			k = 3 + hp_str(blk + 3, esc[i % 3], huff);
			n = headers(b, 7 + 2 * i, blk, k);
			expect(&c, csend(&cn, off, b, n), i < BURST ? TC_ACT_OK : TC_ACT_SHOT,
			       i < BURST ? "within the burst" : "over the limit");
			if (i < BURST)
				off += n;
		}
		expect_h2(&c, cn.caddr, 3 + BURST, BURST, 1);
		ck_end(&c);
	}
}

/*
 * RST_STREAM, GOAWAY, PING, WINDOW_UPDATE and PRIORITY frames between
 * requests are walked past; a HEADERS frame split from its stream's
 * RST_STREAM counts once.
 */
static void case_rst_goaway(void)
{
	unsigned char blk[64], b[512];
	const uint8_t rst[4] = { 0, 0, 0, 8 }, ga[8] = { 0, 0, 0, 1, 0, 0, 0, 0 };
	const uint8_t ping[8] = "12345678", wu[4] = { 0, 0, 0x10, 0 }, pr[5] = { 0, 0, 0, 0, 16 };
	struct ck c;
	struct conn cn;
	uint32_t off;
	unsigned int n, k;

	ck_init(&c, "h2-rst-goaway");
	default_limit(0);
	open_h2_client(&c, &cn, CLIENT_BASE + 2, &off);
	k = blk_literal_path(blk, INF_PATH);
	n = headers(b, 1, blk, k);
	n += h2f(b + n, 3, 0, 1, rst, 4);
	n += h2f(b + n, 6, 0, 0, ping, 8);
	n += h2f(b + n, 8, 0, 0, wu, 4);
	n += h2f(b + n, 2, 0, 3, pr, 5);
	send_ok(&c, &cn, &off, b, n, "stream 1 and its RST_STREAM");
	blk[2] = 0x80 | 62;
	n = headers(b, 3, blk, 3);
	n += h2f(b + n, 7, 0, 0, ga, 8);
	send_ok(&c, &cn, &off, b, n, "stream 3 and a GOAWAY");
	expect_h2(&c, cn.caddr, 2, 2, 0);
	default_limit(1);
	ck_end(&c);
}

/*
 * A request on stream sid whose header block (after pre[0..npre), a size
 * update) is ":method GET", ":scheme http", ":path /" and 26 entries
 * "a: A".."a: Z" inserted into the table (1 + 1 + 32 bytes each).
 */
static void send_26_entries(struct ck *c, const struct conn *cn, uint32_t *off, uint32_t sid,
			    const unsigned char *pre, unsigned int npre)
{
	unsigned char blk[256], b[300];
	unsigned int j, k = npre;

	if (npre)
		memcpy(blk, pre, npre);
	blk[k++] = 0x83;
	blk[k++] = 0x86;
	blk[k++] = 0x80 | 4;	/* ":path: /" */
	for (j = 0; j < 26; j++) {
		blk[k++] = 0x40;
		blk[k++] = 1;
		blk[k++] = 'a';
		blk[k++] = 1;
		blk[k++] = 'A' + j;
	}
	send_ok(c, cn, off, b, headers(b, sid, blk, k), "a stream of 26 entries");
}

/*
 * A table grown past the entries penstock follows (a size update to 8192
 * bytes, then 130 entries of 34 bytes): the request that indexes its
 * :path into it afterwards is counted, not as an inference request, and
 * in stats.h2_unclassified.
 */
static void case_unclassified(void)
{
	unsigned char blk[1200], b[1300];
	struct ck c;
	struct conn cn;
	uint32_t off;
	uint64_t before = stat(PS_STAT_H2_UNCLASSIFIED);
	unsigned int n, k, i;

	ck_init(&c, "h2-unclassified");
	default_limit(0);
	open_h2_client(&c, &cn, CLIENT_BASE + 3, &off);
	/* Size update to 8192: 0x3f, then 8192 - 31 = 8161 in 7-bit groups. */
	blk[0] = 0x3f;
	blk[1] = 0x80 | (8161 & 0x7f);
	blk[2] = 8161 >> 7;
	k = 3 + blk_literal_path(blk + 3, INF_PATH);
	n = headers(b, 1, blk, k);
	send_ok(&c, &cn, &off, b, n, "stream 1 inserts its :path");
	/* 130 more entries "a: N" (1 + 1 + 32 bytes), in five header blocks of 26. */
	for (i = 0; i < 5; i++)
		send_26_entries(&c, &cn, &off, 3 + 2 * i, NULL, 0);
	/* The :path, inserted first, is now the 131st: index 61 + 131. */
	blk[0] = 0x83;
	blk[1] = 0x86;
	blk[2] = 0x80 | 0x7f;
	blk[3] = 61 + 131 - 127;
	n = headers(b, 13, blk, 4);
	send_ok(&c, &cn, &off, b, n, "stream 13 indexes the first :path");
	expect_h2(&c, cn.caddr, 7, 1, 0);
	if (stat(PS_STAT_H2_UNCLASSIFIED) != before + 1)
		ck_fail(&c, "h2_unclassified grew by %llu, expected 1",
			(unsigned long long)(stat(PS_STAT_H2_UNCLASSIFIED) - before));
	default_limit(1);
	ck_end(&c);
}

/*
 * The same table grown past what penstock follows, with the default
 * class's limit on: the unclassified requests are judged by the limit as
 * inference requests would be (BURST in, the next held back with its
 * segment), so that hiding a :path in the table does not walk past it.
 */
static void case_unclassified_limited(void)
{
	unsigned char blk[1200], b[1300];
	struct ck c;
	struct conn cn;
	uint32_t off;
	unsigned int n, i;

	static const unsigned char size8192[] = { 0x3f, 0x80 | (8161 & 0x7f), 8161 >> 7 };

	ck_init(&c, "h2-unclassified-limited");
	open_h2_client(&c, &cn, CLIENT_BASE + 5, &off);
	/* 130 entries "a: N" after a size update to 8192, no :path among
	 * them: the table is lost, no inference request yet. */
	for (i = 0; i < 5; i++)
		send_26_entries(&c, &cn, &off, 1 + 2 * i, size8192, i ? 0 : 3);
	/* Streams 11, 13, ...: an index into the lost table for :path. */
	blk[0] = 0x83;
	blk[1] = 0x86;
	blk[2] = 0x80 | 0x7f;
	blk[3] = 61 + 100 - 127;
	for (i = 0; i < BURST; i++) {
		n = headers(b, 11 + 2 * i, blk, 4);
		send_ok(&c, &cn, &off, b, n, "an unclassified request within the burst");
	}
	n = headers(b, 11 + 2 * BURST, blk, 4);
	expect(&c, csend(&cn, off, b, n), TC_ACT_SHOT, "an unclassified request over the limit");
	expect(&c, csend(&cn, off, b, n), TC_ACT_SHOT, "the same sent again");
	expect_h2(&c, cn.caddr, 5 + BURST, 0, 1);
	time_passes(cn.caddr);
	send_ok(&c, &cn, &off, b, n, "the same after time passed");
	expect_h2(&c, cn.caddr, 6 + BURST, 0, 1);
	ck_end(&c);
}

/*
 * An idle HTTP/2 connection's flow expired by penstockd takes its HPACK
 * table from ps_h2 with it. (Last: every flow expires.)
 */
static void case_expire(void)
{
	int hfd = bpf_map__fd(dp.skel->maps.ps_h2);
	struct ps_h2_conn h2c;
	struct ps_flow_key k;
	struct ck c;
	struct conn cn;
	uint32_t off, left;

	ck_init(&c, "h2-expire");
	open_h2_client(&c, &cn, CLIENT_BASE + 4, &off);
	k = flow_key(&cn);
	if (bpf_map_lookup_elem(hfd, &k, &h2c))
		ck_fail(&c, "no HPACK table for the connection: %s", strerror(errno));
	if (!ps_flows_expire(&dp, ~0ULL, &left, NULL, NULL, NULL))
		ck_fail(&c, "no flow expired");
	if (!bpf_map_lookup_elem(hfd, &k, &h2c))
		ck_fail(&c, "the HPACK table outlived its flow");
	ck_end(&c);
}

int main(void)
{
	int err;

	if (geteuid()) {
		printf("SKIP http2: needs root (BPF)\n");
		return 77;
	}
	err = h2_setup(1);
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	case_limit();
	case_percent_path();
	case_rst_goaway();
	case_unclassified();
	case_unclassified_limited();
	case_expire();
	expect_endpoint_sums("http2 endpoint totals = sum over clients");
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
