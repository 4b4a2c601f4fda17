// SPDX-License-Identifier: GPL-2.0-only
/*
 * The server's side of HTTP/2 cleartext through the live ingress and
 * egress programs (BPF_PROG_TEST_RUN, maps of their own): the egress frame
 * follower (bpf/lib/h2resp.h) on the edge cases a capture rarely holds in
 * one place: a frame header cut across segments, PADDED DATA (its padding
 * full of "data:" lines that must not count), streams interleaved frame by
 * frame, more inference streams at once than it has slots (scans put
 * aside and brought back), more than 64 requests opened in one segment
 * (their streams past the ingress's window kept), a usage key
 * cut across DATA frames and segments, a hole in the server's stream, the
 * token limit debited as HTTP/1's answers debit it (a token_reserve
 * too), and the server's frames
 * after a 101 to an h2c Upgrade.
 *
 * The frames are written here byte by byte from RFC 9113 (a 9-byte header:
 * 24-bit length, type, flags, 31-bit stream) and the bodies from the
 * WHATWG event-stream format; the figures come from what the bytes say:
 * every line that starts with "data:" of an inference stream's data is an
 * event, a "completion_tokens"/"prompt_tokens" figure counts once, a stream
 * that ends without completion_tokens has its events but [DONE] as its
 * estimate. Inference streams are those the client's HEADERS name
 * /v1/chat/completions (an endpoint path); others are not scanned.
 *
 * Needs root (BPF); exits 77 without it.
 */
#include <brotli/encode.h>

#include "h2.h"

#define MS		1000000ULL

/* A DATA frame of string s on sid; END_STREAM when end. */
static unsigned int data(unsigned char *b, uint32_t sid, const char *s, int end)
{
	return h2f(b, 0, end ? 0x1 : 0, sid, s, strlen(s));
}

/* The client opens stream sid with :method POST, :path path (a literal), :scheme http. */
static void request(struct ck *c, const struct conn *cn, uint32_t *off, uint32_t sid,
		    const char *path)
{
	unsigned char blk[96], b[128];
	unsigned int n = strlen(path), k;

	blk[0] = 0x83;
	blk[1] = 0x04;	/* literal without indexing, name :path (static 4) */
	blk[2] = n;
	memcpy(blk + 3, path, n);
	blk[3 + n] = 0x86;
	k = h2f(b, 1, 0x4, sid, blk, 4 + n);
	expect(c, csend(cn, *off, b, k), TC_ACT_OK, "the request's HEADERS");
	*off += k;
}

struct want {
	uint64_t events, tx, rx, est;
};

static void expect_tokens(struct ck *c, uint32_t caddr, const struct want *w)
{
	struct ps_client_ctr ctr;
	uint32_t slot;

	if (ctr_of(caddr, &ctr, &slot)) {
		ck_fail(c, "no counters for the client");
		return;
	}
	if (ctr.tx_events != w->events || ctr.tx_tokens != w->tx || ctr.rx_tokens != w->rx ||
	    ctr.tx_tokens_estimated != w->est)
		ck_fail(c,
			"tx_events %llu, tx_tokens %llu, rx_tokens %llu, estimated %llu: "
			"expected %llu, %llu, %llu, %llu",
			(unsigned long long)ctr.tx_events, (unsigned long long)ctr.tx_tokens,
			(unsigned long long)ctr.rx_tokens,
			(unsigned long long)ctr.tx_tokens_estimated,
			(unsigned long long)w->events, (unsigned long long)w->tx,
			(unsigned long long)w->rx, (unsigned long long)w->est);
}

/*
 * A stream's events and its usage in the last one, the DATA frames cut
 * anywhere: a frame header 4 + 5 and 1 + 8 bytes across segments, the
 * key "completion_tokens" cut between two DATA frames in two segments,
 * the figure "12" cut between segments.
 */
static void case_split(void)
{
	static const char *ev[] = { "data: {\"c\":\"a\"}\n\n", "data: {\"c\":\"b\"}\n\n",
				    "data: {\"c\":\"c\"}\n\n" };
	unsigned char b[1024];
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off;
	unsigned int n, k, i;

	ck_init(&c, "h2r-split");
	open_h2(&c, &cn, CLIENT_BASE + 1, &off);
	request(&c, &cn, &off, 1, INF_PATH);
	n = resp_headers(b, 1);
	for (i = 0; i < 3; i++)
		n += data(b + n, 1, ev[i], 0);
	/* The next DATA frame's header cut after 4 bytes. */
	k = data(b + n, 1, "data: {\"usage\":{\"prompt_tokens\":7,\"completion_to", 0);
	expect(&c, ssend(&cn, b, n + 4), TC_ACT_OK, "three events and 4 bytes of a header");
	expect(&c, ssend(&cn, b + n + 4, k - 4), TC_ACT_OK, "the header's 5 and the data");
	/* The key's rest and the figure "12" cut after its "1". */
	n = data(b, 1, "kens\":12,\"total_tokens\":19}}\n\n", 0);
	expect(&c, ssend(&cn, b, 9 + 7), TC_ACT_OK, "the key's end, the figure's first digit");
	/* The rest, and the next header cut 1 + 8. */
	k = data(b + n, 1, "data: [DONE]\n\n", 1);
	expect(&c, ssend(&cn, b + 16, n - 16 + 1), TC_ACT_OK, "the rest, a header's first byte");
	expect(&c, ssend(&cn, b + n + 1, k - 1), TC_ACT_OK, "its other 8, [DONE], END_STREAM");
	w.events = 5;	/* four data: lines and [DONE] */
	w.tx = 12;
	w.rx = 7;
	expect_tokens(&c, cn.caddr, &w);
	ck_end(&c);
}

/*
 * PADDED DATA: the pad length, the data, padding that holds "data:"
 * lines; the padding is not the stream's. A stream that ends without
 * usage: its events but [DONE] are its estimate. A padded frame cut right
 * after its pad length.
 */
static void case_padded(void)
{
	static const char ev[] = "data: {\"c\":\"x\"}\n\ndata: {\"c\":\"y\"}\n\n";
	static const char junk[] = "\ndata: no\ndata: no\n";
	unsigned char b[512], p[256];
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off;
	unsigned int n, k, pad = sizeof(junk) - 1;

	ck_init(&c, "h2r-padded");
	open_h2(&c, &cn, CLIENT_BASE + 2, &off);
	request(&c, &cn, &off, 1, INF_PATH);
	n = resp_headers(b, 1);
	p[0] = pad;
	memcpy(p + 1, ev, sizeof(ev) - 1);
	memcpy(p + 1 + sizeof(ev) - 1, junk, pad);
	k = h2f(b + n, 0, 0x8, 1, p, 1 + sizeof(ev) - 1 + pad);
	expect(&c, ssend(&cn, b, n + 10), TC_ACT_OK, "HEADERS, a DATA header and its pad length");
	expect(&c, ssend(&cn, b + n + 10, k - 10), TC_ACT_OK, "the data and the padding");
	/* [DONE] in a padded frame of padding 0, with END_STREAM. */
	p[0] = 0;
	memcpy(p + 1, "data: [DONE]\n\n", 14);
	n = h2f(b, 0, 0x8 | 0x1, 1, p, 15);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "[DONE], END_STREAM");
	w.events = 3;
	w.est = 2;
	expect_tokens(&c, cn.caddr, &w);
	ck_end(&c);
}

/*
 * Streams 1 and 3 (inference) and 5 (/health, not scanned) interleaved
 * frame by frame: stream 1's "prompt_tokens" key cut by stream 3's and 5's
 * frames; stream 3 reports no usage (its events its estimate); stream
 * 5's data: lines are not counted.
 */
static void case_interleave(void)
{
	unsigned char b[2048];
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off;
	unsigned int n;

	ck_init(&c, "h2r-interleave");
	open_h2(&c, &cn, CLIENT_BASE + 3, &off);
	request(&c, &cn, &off, 1, INF_PATH);
	request(&c, &cn, &off, 3, INF_PATH);
	request(&c, &cn, &off, 5, "/health");
	n = resp_headers(b, 1);
	n += resp_headers(b + n, 3);
	n += resp_headers(b + n, 5);
	n += data(b + n, 1, "data: {\"c\":\"a\"}\n\ndata: {\"usage\":{\"promp", 0);
	n += data(b + n, 3, "data: {\"c\":\"a\"}\n\n", 0);
	n += data(b + n, 5, "data: no\n\ndata: no\n\n", 0);
	n += data(b + n, 3, "data: {\"c\":\"b\"}\n\n", 0);
	n += data(b + n, 1, "t_tokens\":20,\"completion_tokens\":10}}\n\n", 0);
	n += data(b + n, 5, "{\"completion_tokens\":99}", 1);
	n += data(b + n, 3, "data: {\"c\":\"c\"}\n\ndata: [DONE]\n\n", 1);
	n += data(b + n, 1, "data: [DONE]\n\n", 1);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "the interleaved frames");
	w.events = 3 + 4;
	w.tx = 10;
	w.rx = 20;
	w.est = 3;
	expect_tokens(&c, cn.caddr, &w);
	ck_end(&c);
}

/*
 * Twelve inference streams at once, four more than the follower has slots
 * (PS_H2R_SLOTS): each one's first event (shorter than the bytes held
 * before an answer is judged) in one segment, so that scans are put aside
 * with their held bytes and brought back; then a stream put aside is
 * reset by the server (RST_STREAM), another ends on trailing HEADERS,
 * each with its event as its estimate; the rest end with [DONE]. Every
 * DATA frame is scanned (stats.h2_no_slot does not move).
 */
static void case_slots(void)
{
	static const unsigned char rst[4] = { 0, 0, 0, 8 }, trailer[1] = { 0x88 };
	uint64_t ns0 = stat(PS_STAT_H2_NO_SLOT);
	unsigned char b[2048];
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off, sid;
	unsigned int n = 0;

	ck_init(&c, "h2r-slots");
	open_h2(&c, &cn, CLIENT_BASE + 4, &off);
	for (sid = 1; sid <= 23; sid += 2)
		request(&c, &cn, &off, sid, INF_PATH);
	for (sid = 1; sid <= 23; sid += 2)
		n += data(b + n, sid, "data: {\"c\":\"a\"}\n\n", 0);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "twelve streams' first events");
	n = data(b, 3, "data: {\"c\":\"b\"}\n\n", 0);
	n += h2f(b + n, 3, 0, 5, rst, sizeof(rst));
	n += h2f(b + n, 1, 0x5, 7, trailer, sizeof(trailer));
	n += data(b + n, 1, "data: {\"usage\":{\"completion_tokens\":5}}\n\n", 1);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "an event, RST_STREAM, trailers, usage");
	n = 0;
	for (sid = 9; sid <= 23; sid += 2)
		n += data(b + n, sid, "data: [DONE]\n\n", 1);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "the others' [DONE]");
	w.events = 12 + 1 + 1 + 8;
	w.tx = 5;
	w.est = 1 + 1 + 8;	/* streams 5 and 7, and 9 to 23: an event each */
	expect_tokens(&c, cn.caddr, &w);
	if (stat(PS_STAT_H2_NO_SLOT) != ns0)
		ck_fail(&c, "stats.h2_no_slot grew by %llu, expected 0",
			(unsigned long long)(stat(PS_STAT_H2_NO_SLOT) - ns0));
	ck_end(&c);
}

/*
 * The answers to streams 1, 3 .. 2 * nreq - 1 (each a HEADERS and one
 * DATA frame that ends it, an event with usage: 2 prompt tokens and a
 * random number of completion tokens), in an order shuffled by seed, ten
 * a segment; what they report added to *w.
 */
static void answer_shuffled(struct ck *c, const struct conn *cn, unsigned int nreq,
			    unsigned int seed, struct want *w)
{
	unsigned int order[160], ctok[160], i, j, k, t, n;
	unsigned char b[4096];
	char ev[160];

	srand(seed);
	for (i = 0; i < nreq; i++) {
		order[i] = i;
		ctok[i] = 1 + rand() % 500;
	}
	for (i = nreq - 1; i > 0; i--) {
		j = rand() % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < nreq; i += 10) {
		n = 0;
		for (j = i, k = 0; j < nreq && k < 10; j++, k++) {
			snprintf(ev, sizeof(ev), "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,"
				 "\"completion_tokens\":%u}}\n\n", ctok[order[j]]);
			n += resp_headers(b + n, 2 * order[j] + 1);
			n += data(b + n, 2 * order[j] + 1, ev, 1);
			w->tx += ctok[order[j]];
		}
		expect(c, ssend(cn, b, n), TC_ACT_OK, "ten answers");
	}
	w->events += nreq;
	w->rx += 2 * nreq;
}

/*
 * A client's own connection with 100 inference requests sent before the
 * first answer begins: the 36 oldest streams have left the ingress's
 * window of 64 by then (ps_h2_late). Every answer is scanned: each
 * stream's usage counts, whatever its age, the answers in a shuffled
 * order, ten streams' frames a segment.
 */
static void case_late(void)
{
	uint64_t ns0 = stat(PS_STAT_H2_NO_SLOT);
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off;
	unsigned int i;

	ck_init(&c, "h2r-late");
	open_h2(&c, &cn, CLIENT_BASE + 55, &off);
	for (i = 0; i < 100; i++)
		request(&c, &cn, &off, 2 * i + 1, INF_PATH);
	answer_shuffled(&c, &cn, 100, 64, &w);
	expect_tokens(&c, cn.caddr, &w);
	if (stat(PS_STAT_H2_NO_SLOT) != ns0)
		ck_fail(&c, "stats.h2_no_slot grew by %llu, expected 0",
			(unsigned long long)(stat(PS_STAT_H2_NO_SLOT) - ns0));
	ck_end(&c);
}

/*
 * A client sends many inference requests in one segment, more than the
 * ingress's window of 64 holds: stream 1 names the path as a literal
 * entered into the HPACK table (in a segment of its own, or together
 * with the others: the connection's first streams), streams 3 to
 * 2 * nreq - 1 name it by its index (12 bytes a HEADERS frame), all in
 * one segment, so that the oldest of them leave the window within the
 * segment that opened them.
 * Every answer is scanned and its usage counts to the client, the answers
 * in a shuffled order, ten a segment.
 */
static void case_late_burst(const char *name, unsigned int nreq, int together)
{
	uint64_t ns0 = stat(PS_STAT_H2_NO_SLOT);
	unsigned char b[4096], blk[64];
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off;
	unsigned int i, n;

	ck_init(&c, name);
	open_h2(&c, &cn, CLIENT_BASE + 56 + nreq % 64, &off);
	/* :method POST, :path with incremental indexing (dynamic 62), :scheme http */
	blk[0] = 0x83;
	blk[1] = 0x44;
	blk[2] = strlen(INF_PATH);
	memcpy(blk + 3, INF_PATH, strlen(INF_PATH));
	blk[3 + strlen(INF_PATH)] = 0x86;
	n = h2f(b, 1, 0x4, 1, blk, 4 + strlen(INF_PATH));
	if (!together) {
		expect(&c, csend(&cn, off, b, n), TC_ACT_OK, "stream 1, the path entered");
		off += n;
		n = 0;
	}
	for (i = 1; i < nreq; i++)
		n += h2f(b + n, 1, 0x4, 2 * i + 1, "\x83\xbe\x86", 3);
	expect(&c, csend(&cn, off, b, n), TC_ACT_OK, "the other requests in one segment");
	off += n;
	answer_shuffled(&c, &cn, nreq, nreq, &w);
	expect_tokens(&c, cn.caddr, &w);
	if (stat(PS_STAT_H2_NO_SLOT) != ns0)
		ck_fail(&c, "stats.h2_no_slot grew by %llu, expected 0",
			(unsigned long long)(stat(PS_STAT_H2_NO_SLOT) - ns0));
	ck_end(&c);
}

/*
 * A hole in the server's stream: a segment beyond it stops the following
 * of the connection (stats.h2_resp_lost); what comes after, the hole
 * filled, is not read.
 */
static void case_hole(void)
{
	uint64_t lost0 = stat(PS_STAT_H2_RESP_LOST);
	unsigned char b[512];
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off;
	unsigned int n, k;

	ck_init(&c, "h2r-hole");
	open_h2(&c, &cn, CLIENT_BASE + 5, &off);
	request(&c, &cn, &off, 1, INF_PATH);
	n = data(b, 1, "data: {\"c\":\"a\"}\n\n", 0);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "an event");
	k = data(b, 1, "data: {\"c\":\"b\"}\n\n", 0);
	n = data(b + k, 1, "data: {\"usage\":{\"completion_tokens\":5}}\n\n", 1);
	/* The second frame first: beyond a hole. */
	soff += k;
	expect(&c, ssend(&cn, b + k, n), TC_ACT_OK, "a segment beyond a hole");
	soff -= k + n;
	expect(&c, ssend(&cn, b, k), TC_ACT_OK, "the hole filled");
	w.events = 1;
	expect_tokens(&c, cn.caddr, &w);
	if (stat(PS_STAT_H2_RESP_LOST) - lost0 != 1)
		ck_fail(&c, "stats.h2_resp_lost grew by %llu, expected 1",
			(unsigned long long)(stat(PS_STAT_H2_RESP_LOST) - lost0));
	ck_end(&c);
}

/*
 * A JSON answer's usage debits the client's tokens-per-minute limit (1 ms
 * a token): its TAT moves by (prompt + completion) ms from a moment
 * around the answer, as for HTTP/1 (tests/datapath/test_tokens.c).
 */
static void case_debit(void)
{
	struct ps_class cl = { .tpm_emission = MS << PS_TOK_FRAC_BITS,
			       .tpm_tolerance_ns = 1000 * MS };
	unsigned char b[512];
	struct ps_client_ctr ctr;
	struct want w = { 0 };
	uint32_t off, zero = 0, slot;
	uint64_t t0, t1;
	struct conn cn;
	struct ck c;
	unsigned int n;

	ck_init(&c, "h2r-debit");
	if (bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_classes), &zero, &cl, BPF_ANY))
		ck_fail(&c, "cannot set the class: %s", strerror(errno));
	open_h2(&c, &cn, CLIENT_BASE + 6, &off);
	request(&c, &cn, &off, 1, INF_PATH);
	n = resp_headers(b, 1);
	n += data(b + n, 1,
		  "{\"id\":\"x\",\"usage\":{\"prompt_tokens\": 30,\"completion_tokens\": 12,"
		  "\"total_tokens\": 42}}",
		  1);
	t0 = boot_ns();
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "a JSON answer");
	t1 = boot_ns();
	w.tx = 12;
	w.rx = 30;
	expect_tokens(&c, cn.caddr, &w);
	if (ctr_of(cn.caddr, &ctr, &slot))
		ck_fail(&c, "no counters");
	else if (ctr.tpm_tat < t0 + 42 * MS || ctr.tpm_tat > t1 + 42 * MS)
		ck_fail(&c, "TAT %+lld ns from the answer's start, expected %llu (+ at most %llu)",
			(long long)(ctr.tpm_tat - t0), 42 * MS, (unsigned long long)(t1 - t0));
	memset(&cl, 0, sizeof(cl));
	bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_classes), &zero, &cl, BPF_ANY);
	ck_end(&c);
}

/*
 * token_reserve over HTTP/2 (tests/datapath/test_tokens.c reserve-side-by-
 * side): 400 tokens under a 1000-token burst, four streams opened side by
 * side on one connection, none answered yet: three let in, the fourth's
 * HEADERS held. Answers of 300 (nothing more), 1000 (600 more) and 400
 * tokens (nothing more): each stream's debit starts past its reserve.
 */
static void case_reserve(void)
{
	struct ps_class cl = { .tpm_emission = MS << PS_TOK_FRAC_BITS,
			       .tpm_tolerance_ns = 1000 * MS, .tok_reserve = 400 };
	static const unsigned int prompt[3] = { 100, 400, 150 }, compl[3] = { 200, 600, 250 };
	static const uint64_t more[3] = { 0, 600, 0 };
	unsigned char blk[96], b[512];
	struct ps_client_ctr ctr;
	uint32_t off, zero = 0, slot;
	uint64_t t0, t1, tat;
	char ans[256];
	struct conn cn;
	unsigned int n, i, k, pl = strlen(INF_PATH);
	struct ck c;

	ck_init(&c, "h2r-reserve");
	if (bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_classes), &zero, &cl, BPF_ANY))
		ck_fail(&c, "cannot set the class: %s", strerror(errno));
	open_h2(&c, &cn, CLIENT_BASE + 40, &off);
	blk[0] = 0x83;
	blk[1] = 0x04;
	blk[2] = pl;
	memcpy(blk + 3, INF_PATH, pl);
	blk[3 + pl] = 0x86;
	t0 = boot_ns();
	for (i = 0; i < 4; i++) {
		k = h2f(b, 1, 0x4, 1 + 2 * i, blk, 4 + pl);
		expect(&c, csend(&cn, off, b, k), i < 3 ? TC_ACT_OK : TC_ACT_SHOT,
		       i < 3 ? "a stream within the reserves" : "a stream past them");
		if (i < 3)
			off += k;
	}
	t1 = boot_ns();
	if (ctr_of(cn.caddr, &ctr, &slot)) {
		ck_fail(&c, "no counters");
		goto out;
	}
	if (ctr.tpm_tat < t0 + 1200 * MS || ctr.tpm_tat > t1 + 1200 * MS)
		ck_fail(&c, "TAT %+lld ns after three reserves, expected %llu (+ at most %llu)",
			(long long)(ctr.tpm_tat - t0), 1200 * MS, (unsigned long long)(t1 - t0));
	for (i = 0; i < 3; i++) {
		tat = ctr.tpm_tat;
		snprintf(ans, sizeof(ans),
			 "{\"id\":\"x\",\"usage\":{\"prompt_tokens\": %u,\"completion_tokens\": %u}}",
			 prompt[i], compl[i]);
		n = resp_headers(b, 1 + 2 * i);
		n += data(b + n, 1 + 2 * i, ans, 1);
		expect(&c, ssend(&cn, b, n), TC_ACT_OK, "an answer");
		ctr_of(cn.caddr, &ctr, &slot);
		if (ctr.tpm_tat - tat != more[i] * MS)
			ck_fail(&c, "answer %u (%u tokens): TAT moved %lld ms, expected %llu", i + 1,
				prompt[i] + compl[i], (long long)((ctr.tpm_tat - tat) / MS),
				(unsigned long long)more[i]);
	}
	if (ctr.tx_tokens != 1050 || ctr.rx_tokens != 650)
		ck_fail(&c, "tokens %llu/%llu, expected 1050/650", (unsigned long long)ctr.tx_tokens,
			(unsigned long long)ctr.rx_tokens);
out:
	memset(&cl, 0, sizeof(cl));
	bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_classes), &zero, &cl, BPF_ANY);
	ck_end(&c);
}

/*
 * A request whose header block ends with its :path literal (as some
 * clients order the pseudo-headers) in the segment's last bytes: it is an
 * inference request from that segment on, not from the client's next
 * bytes, and the answer that comes before any is scanned.
 */
static void case_path_last(void)
{
	static const char path[] = INF_PATH;
	unsigned char blk[64], b[256];
	struct ps_client_ctr ctr;
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off, slot;
	unsigned int n, k = sizeof(path) - 1;

	ck_init(&c, "h2r-path-last");
	open_h2(&c, &cn, CLIENT_BASE + 7, &off);
	blk[0] = 0x83;	/* :method POST */
	blk[1] = 0x86;	/* :scheme http */
	blk[2] = 0x04;	/* :path, a literal without indexing */
	blk[3] = k;
	memcpy(blk + 4, path, k);
	n = h2f(b, 1, 0x5, 1, blk, 4 + k);
	expect(&c, csend(&cn, off, b, n), TC_ACT_OK, "HEADERS, :path last");
	if (ctr_of(cn.caddr, &ctr, &slot) || ctr.c.requests != 1 || ctr.c.inference_requests != 1)
		ck_fail(&c, "requests %llu, inference %llu after the HEADERS: expected 1, 1",
			(unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.inference_requests);
	n = resp_headers(b, 1);
	n += data(b + n, 1, "data: {\"c\":\"a\"}\n\ndata: [DONE]\n\n", 1);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "the answer");
	w.events = 2;
	w.est = 1;
	expect_tokens(&c, cn.caddr, &w);
	ck_end(&c);
}

/*
 * The h2c Upgrade (RFC 7540 section 3.2): an HTTP/1.1 request with
 * "Upgrade: h2c", a 101 whose head and the server's first frames share a
 * segment (or not), stream 1 the answer to the upgraded request: scanned
 * when that request was an inference request, not when it was not. The
 * client's next streams are followed as after a preface.
 */
static void upgrade_case(const char *name, uint32_t caddr, const char *method, const char *path,
			 int split)
{
	static const char head101[] = "HTTP/1.1 101 Switching Protocols\r\n"
				      "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
	char rqs[512];
	unsigned char b[1024];
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off;
	unsigned int n, h;
	int inf = !strcmp(path, INF_PATH);

	ck_init(&c, name);
	soff = 0;
	if (handshake(&cn, caddr))
		ck_fail(&c, "handshake");
	n = snprintf(rqs, sizeof(rqs),
		     "%s %s HTTP/1.1\r\nHost: s\r\nConnection: Upgrade, HTTP2-Settings\r\n"
		     "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
		     "Content-Length: 2\r\n\r\n{}",
		     method, path);
	expect(&c, csend(&cn, 0, rqs, n), TC_ACT_OK, "the Upgrade request");
	off = n;
	h = sizeof(head101) - 1;
	memcpy(b, head101, h);
	n = h + h2f(b + h, 4, 0, 0, "\x00\x03\x00\x00\x00\x64", 6);
	n += resp_headers(b + n, 1);
	n += data(b + n, 1, "data: {\"c\":\"a\"}\n\ndata: {\"c\":\"b\"}\n\n", 0);
	n += data(b + n, 1, "data: [DONE]\n\n", 1);
	if (split) {
		expect(&c, ssend(&cn, b, h), TC_ACT_OK, "the 101 alone");
		expect(&c, ssend(&cn, b + h, n - h), TC_ACT_OK, "SETTINGS, stream 1's answer");
	} else {
		expect(&c, ssend(&cn, b, n), TC_ACT_OK, "the 101, SETTINGS, stream 1's answer");
	}
	if (inf) {
		w.events = 3;	/* two data: lines and [DONE] */
		w.est = 2;
	}
	expect_tokens(&c, cn.caddr, &w);
	/* The client's preface, then stream 3, an inference request. */
	memcpy(b, preface, 24);
	n = 24 + h2f(b + 24, 4, 0, 0, NULL, 0);
	expect(&c, csend(&cn, off, b, n), TC_ACT_OK, "the preface after the 101");
	off += n;
	request(&c, &cn, &off, 3, INF_PATH);
	n = resp_headers(b, 3);
	n += data(b + n, 3, "data: {\"c\":\"x\"}\n\ndata: [DONE]\n\n", 1);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "stream 3's answer");
	w.events += 2;
	w.est += 1;
	expect_tokens(&c, cn.caddr, &w);
	ck_end(&c);
}

/*
 * Answers whose data starts as a compressed format does (the server's
 * content-encoding is not read): gzip on stream 1, its bytes holding
 * "data:" lines and a usage key that must not count; zstd on stream 3,
 * over two frames and two segments; stream 5's event stream read as
 * ever. An encoded stream's data bytes are its
 * estimate and its debit; stats.resp_encoded counts the two.
 */
static void case_encoded(void)
{
	static const unsigned char gz[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
					  "data: {\"usage\":{\"completion_tokens\": 9}}\n\n";
	static const unsigned char zs[] = "\x28\xb5\x2f\xfd\x00\x58\x61\x00\x00";
	unsigned char b[512];
	uint64_t st0 = stat(PS_STAT_RESP_ENCODED);
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off;
	unsigned int n;

	ck_init(&c, "h2r-encoded");
	open_h2(&c, &cn, CLIENT_BASE + 11, &off);
	request(&c, &cn, &off, 1, INF_PATH);
	request(&c, &cn, &off, 3, INF_PATH);
	request(&c, &cn, &off, 5, INF_PATH);
	n = resp_headers(b, 1);
	n += h2f(b + n, 0, 0x1, 1, gz, sizeof(gz) - 1);
	n += resp_headers(b + n, 3);
	n += h2f(b + n, 0, 0, 3, zs, 2);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "gzip data, the first bytes of zstd data");
	n = h2f(b, 0, 0x1, 3, zs + 2, sizeof(zs) - 3);
	n += resp_headers(b + n, 5);
	n += h2f(b + n, 0, 0x1, 5, "data: {\"c\":\"x\"}\n\ndata: [DONE]\n\n", 32);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "the zstd data's rest, an event stream");
	w.events = 2;
	w.est = (sizeof(gz) - 1) + (sizeof(zs) - 1) + 1;	/* + stream 5's event */
	expect_tokens(&c, cn.caddr, &w);
	if (stat(PS_STAT_RESP_ENCODED) - st0 != 2)
		ck_fail(&c, "resp_encoded moved by %llu, expected 2",
			(unsigned long long)(stat(PS_STAT_RESP_ENCODED) - st0));
	ck_end(&c);
}

/*
 * Answers of the stand-in server's formats (tests/lib/llm_server.py): a
 * chat completion in JSON, its usage prompt 12, completion 40; and a
 * streamed one, ten chunks, the usage chunk (the same figures) and
 * [DONE]: twelve "data:" lines.
 */
static const char json_answer[] =
	"{\"id\":\"chatcmpl-7f3a9c\",\"object\":\"chat.completion\",\"created\":1765000000,"
	"\"model\":\"stand-in\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	"\"content\":\"The quick brown fox jumps over the lazy dog, and the dog, being lazy, "
	"lets it: forty tokens of an answer that a client took out of the model.\"},"
	"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":40,"
	"\"total_tokens\":52}}\n";
#define JSON_TX		40
#define JSON_RX		12

static char sse_answer[4096];
#define SSE_EVENTS	12

static void sse_build(void)
{
	static const char *words[] = { "The", " quick", " brown", " fox", " jumps", " over",
				       " the", " lazy", " dog", "." };
	unsigned int n = 0, i;

	for (i = 0; i < 10; i++)
		n += snprintf(sse_answer + n, sizeof(sse_answer) - n,
			      "data: {\"id\":\"chatcmpl-7f3a9c\",\"object\":\"chat.completion.chunk\","
			      "\"created\":1765000000,\"model\":\"stand-in\",\"choices\":[{\"index\":0,"
			      "\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}\n\n",
			      words[i]);
	n += snprintf(sse_answer + n, sizeof(sse_answer) - n,
		      "data: {\"id\":\"chatcmpl-7f3a9c\",\"object\":\"chat.completion.chunk\","
		      "\"created\":1765000000,\"model\":\"stand-in\",\"choices\":[],\"usage\":"
		      "{\"prompt_tokens\":12,\"completion_tokens\":40,\"total_tokens\":52}}\n\n"
		      "data: [DONE]\n\n");
}

/*
 * Stream sid answers with data d[0..n), cut at byte k (0 < k < n): as two
 * DATA frames in two segments (odd k), or one DATA frame cut by the
 * segments' boundary (even k). Frames of 16,384 bytes at most (the
 * default SETTINGS_MAX_FRAME_SIZE), segments of 1,400 at most.
 */
static void answer_cut(struct ck *c, struct conn *cn, uint32_t *off, uint32_t sid,
		       const unsigned char *d, unsigned int n, unsigned int k)
{
	static unsigned char b[1 << 18];
	unsigned int m, p = 0, f, at_k = 0, seg;

	if (n + 9 * (n / 16384 + 3) > sizeof(b)) {
		ck_fail(c, "an answer of %u bytes is too long", n);
		return;
	}
	request(c, cn, off, sid, INF_PATH);
	m = resp_headers(b, sid);
	while (p < n) {
		f = n - p < 16384 ? n - p : 16384;
		if ((k & 1) && p < k && p + f > k)
			f = k - p;
		if (p <= k && p + f >= k)
			at_k = m + 9 + (k - p);
		m += h2f(b + m, 0, p + f == n ? 0x1 : 0, sid, d + p, f);
		p += f;
	}
	/* A segment ends at data byte k. */
	for (p = 0; p < m; p += seg) {
		seg = m - p < 1400 ? m - p : 1400;
		if (p < at_k && p + seg > at_k)
			seg = at_k - p;
		expect(c, ssend(cn, b + p, seg), TC_ACT_OK, "the answer's frames");
	}
}

/* The client's counters, and stats.resp_encoded, before and after an answer. */
struct snap {
	struct ps_client_ctr ctr;
	uint64_t encoded;
};

static void snap(struct conn *cn, struct snap *sn)
{
	uint32_t slot;

	memset(sn, 0, sizeof(*sn));
	ctr_of(cn->caddr, &sn->ctr, &slot);
	sn->encoded = stat(PS_STAT_RESP_ENCODED);
}

/* What an answer added: events, tx, rx, estimate, encoded; 0 when as wanted. */
static int moved(const struct snap *a, const struct snap *b, const struct want *w, uint64_t enc,
		 char *why, size_t len)
{
	uint64_t ev = b->ctr.tx_events - a->ctr.tx_events, tx = b->ctr.tx_tokens - a->ctr.tx_tokens,
		 rx = b->ctr.rx_tokens - a->ctr.rx_tokens,
		 est = b->ctr.tx_tokens_estimated - a->ctr.tx_tokens_estimated,
		 e = b->encoded - a->encoded;

	if (ev == w->events && tx == w->tx && rx == w->rx && est == w->est && e == enc)
		return 0;
	snprintf(why, len,
		 "events %llu, tx %llu, rx %llu, estimated %llu, encoded %llu: expected "
		 "%llu, %llu, %llu, %llu, %llu", (unsigned long long)ev, (unsigned long long)tx,
		 (unsigned long long)rx, (unsigned long long)est, (unsigned long long)e,
		 (unsigned long long)w->events, (unsigned long long)w->tx,
		 (unsigned long long)w->rx, (unsigned long long)w->est, (unsigned long long)enc);
	return 1;
}

/*
 * The plain answers, cut at every byte: scanned exactly (the JSON's usage;
 * the stream's twelve events and usage), nothing estimated, nothing
 * encoded, however few of their first bytes a segment brings.
 */
static void case_plain_cuts(void)
{
	const struct {
		const char *name, *d;
		struct want w;
	} ans[] = {
		{ "json", json_answer, { 0, JSON_TX, JSON_RX, 0 } },
		{ "sse", sse_answer, { SSE_EVENTS, JSON_TX, JSON_RX, 0 } },
	};
	struct snap a, b;
	struct conn cn;
	struct ck c;
	uint32_t off, sid = 1;
	unsigned int i, k, n;
	char why[256];

	ck_init(&c, "h2r-plain-every-cut");
	open_h2(&c, &cn, CLIENT_BASE + 12, &off);
	for (i = 0; i < 2; i++) {
		n = strlen(ans[i].d);
		for (k = 1; k < n; k++, sid += 2) {
			snap(&cn, &a);
			answer_cut(&c, &cn, &off, sid, (const unsigned char *)ans[i].d, n, k);
			snap(&cn, &b);
			if (moved(&a, &b, &ans[i].w, 0, why, sizeof(why))) {
				ck_fail(&c, "%s cut at %u of %u: %s", ans[i].name, k, n, why);
				break;
			}
		}
	}
	ck_end(&c);
}

/* A long streamed answer: 450 chunks of words drawn from a few (72 kB, more
 * than a brotli meta-block of 4 nibbles holds). */
static char long_answer[100000];

static void long_build(void)
{
	static const char *words[] = { "the", "of", "model", "token", "answer", "a", "client",
				       "server", "stream", "kernel", "packet", "limit", "rate",
				       "window", "byte", "in", "to", "and", "is", "that" };
	unsigned int n = 0, i, x = 1;

	for (i = 0; i < 450; i++) {
		x = x * 1103515245 + 12345;
		n += snprintf(long_answer + n, sizeof(long_answer) - n,
			      "data: {\"id\":\"chatcmpl-7f3a9c\",\"object\":\"chat.completion.chunk\","
			      "\"created\":1765000000,\"model\":\"stand-in\",\"choices\":[{\"index\":0,"
			      "\"delta\":{\"content\":\" %s\"},\"finish_reason\":null}]}\n\n",
			      words[(x >> 16) % 20]);
	}
	snprintf(long_answer + n, sizeof(long_answer) - n, "data: [DONE]\n\n");
}

/*
 * The stream answer compressed as a server compressing an event stream
 * does it: each event flushed (BROTLI_OPERATION_FLUSH) as it is written.
 * The bytes written to out (of cap); 0 on failure.
 */
static size_t brotli_flushed(unsigned int q, unsigned int lg, unsigned char *out, size_t cap)
{
	BrotliEncoderState *st = BrotliEncoderCreateInstance(NULL, NULL, NULL);
	const uint8_t *in = (const uint8_t *)sse_answer;
	size_t left = strlen(sse_answer), ev, avail = cap, total = 0;
	uint8_t *o = out;
	const char *e;
	int ok = !!st;

	if (ok)
		ok = BrotliEncoderSetParameter(st, BROTLI_PARAM_QUALITY, q) &&
		     BrotliEncoderSetParameter(st, BROTLI_PARAM_LGWIN, lg);
	while (ok && left) {
		e = strstr((const char *)in, "\n\n");
		ev = e ? (size_t)((const uint8_t *)e + 2 - in) : left;
		left -= ev;
		ok = BrotliEncoderCompressStream(st, left ? BROTLI_OPERATION_FLUSH :
						 BROTLI_OPERATION_FINISH, &ev, &in, &avail, &o,
						 &total) && !ev;
	}
	if (ok && !BrotliEncoderIsFinished(st))
		ok = 0;
	BrotliEncoderDestroyInstance(st);
	return ok ? total : 0;
}

/*
 * Brotli (RFC 7932) has no magic: a stream's first byte is its window
 * size and its first meta-block's header, and for many windows it is a
 * printable byte ('[' for the usual lgwin 22 when the first meta-block
 * holds more than 64 kB; '!', '1', 'A', 'Q', 'a', 'q' for the small
 * windows when a server flushes each event; '"' for lgwin 16). The
 * answers (the JSON one, the stream one, the long stream one; the stream
 * one also flushed event by event) compressed by libbrotlienc at every
 * quality (0..11) and window (10..24), in generic and text mode: every
 * distinct stream whose first byte is one text can start with
 * (printable, tab, CR, LF) is sent, cut at every byte of its first 256
 * and at every 37th after, and must count as an encoded answer: its bytes
 * its estimate, no event, no token, stats.resp_encoded once.
 */
static void case_brotli(void)
{
#define BR_MAX	512
	static unsigned char *seen[BR_MAX];
	static size_t seen_n[BR_MAX];
	unsigned int nseen = 0, cuts = 0, i, k, q, lg, mode;
	unsigned char firsts[256] = { 0 };
	const char *src[] = { json_answer, sse_answer, long_answer, NULL };
	static unsigned char out[1 << 16];
	struct snap a, b;
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off, sid = 1;
	char why[256], list[512] = "";
	size_t n, j;

	ck_init(&c, "h2r-brotli-every-cut");
	open_h2(&c, &cn, CLIENT_BASE + 13, &off);
	for (i = 0; i < 4; i++)
		for (mode = 0; mode < 2; mode++)
			for (lg = BROTLI_MIN_WINDOW_BITS; lg <= BROTLI_MAX_WINDOW_BITS; lg++)
				for (q = BROTLI_MIN_QUALITY; q <= BROTLI_MAX_QUALITY; q++) {
					n = sizeof(out);
					if (!src[i]) {
						if (mode)
							continue;
						n = brotli_flushed(q, lg, out, n);
					} else if (!BrotliEncoderCompress(q, lg, mode ? BROTLI_MODE_TEXT :
									  BROTLI_MODE_GENERIC,
									  strlen(src[i]),
									  (const uint8_t *)src[i], &n,
									  out)) {
						n = 0;
					}
					if (!n) {
						ck_fail(&c, "brotli q %u lgwin %u failed", q, lg);
						continue;
					}
					if (!((out[0] >= 0x20 && out[0] < 0x7f) || out[0] == '\t' ||
					      out[0] == '\n' || out[0] == '\r'))
						continue;
					for (j = 0; j < nseen; j++)
						if (seen_n[j] == n && !memcmp(seen[j], out, n))
							break;
					if (j < nseen)
						continue;
					if (nseen == BR_MAX) {
						ck_fail(&c, "more than %u distinct streams", BR_MAX);
						goto out;
					}
					seen[nseen] = malloc(n);
					if (!seen[nseen]) {
						ck_fail(&c, "out of memory");
						goto out;
					}
					memcpy(seen[nseen], out, n);
					seen_n[nseen++] = n;
					firsts[out[0]] = 1;
				}
	for (j = 0; j < nseen; j++) {
		w.est = seen_n[j];
		for (k = 1; k < seen_n[j]; k += k < 256 ? 1 : 37, sid += 2, cuts++) {
			snap(&cn, &a);
			answer_cut(&c, &cn, &off, sid, seen[j], seen_n[j], k);
			snap(&cn, &b);
			if (moved(&a, &b, &w, 1, why, sizeof(why))) {
				ck_fail(&c, "stream %zu (%zu bytes, first 0x%02x) cut at %u: %s", j,
					seen_n[j], seen[j][0], k, why);
				break;
			}
		}
	}
	for (k = 0; k < 256; k++)
		if (firsts[k])
			snprintf(list + strlen(list), sizeof(list) - strlen(list), " %c", k);
	printf("   (%u brotli streams, their first bytes%s; %u cuts)\n", nseen, list, cuts);
	/* The first bytes the window sizes give (above) were all met. */
	for (k = 0; k < 8; k++)
		if (!firsts[(unsigned char)"[!1AQaq\""[k]])
			ck_fail(&c, "no stream started with '%c'", "[!1AQaq\""[k]);
out:
	for (j = 0; j < nseen; j++)
		free(seen[j]);
	ck_end(&c);
#undef BR_MAX
}

/*
 * The text rule byte by byte inside the first bytes judged: the JSON
 * answer with its bytes from p on (2..PS_H2R_HOLD - 1: after its '{"',
 * within the PS_H2R_HOLD bytes judged) made each of: a control byte (0x01, 0x1f), DEL, 0xff, 0x80 (a
 * continuation byte with no lead), a 2-byte lead with no continuation
 * ("\xc3" then 'x'), all of which make an encoded answer, its bytes its
 * estimate; and tab, CR, a well-formed "\xc3\xa9" and "\xe2\x82\xac",
 * which leave it text, its usage counted. Each sent whole and cut after
 * its first 1, p and p + 1 bytes.
 */
static void case_text_bytes(void)
{
	static const struct {
		const char *b;
		int text;
	} subs[] = {
		{ "\x01", 0 }, { "\x1f", 0 }, { "\x7f", 0 }, { "\xff", 0 }, { "\x80", 0 },
		{ "\xc3x", 0 }, { "\t", 1 }, { "\r", 1 }, { "\xc3\xa9", 1 }, { "\xe2\x82\xac", 1 },
	};
	unsigned int n = strlen(json_answer), p, i, k, cuts[4], m;
	static unsigned char d[sizeof(json_answer)];
	struct want w;
	struct snap a, b;
	struct conn cn;
	struct ck c;
	uint32_t off, sid = 1;
	char why[256];

	ck_init(&c, "h2r-text-bytes");
	open_h2(&c, &cn, CLIENT_BASE + 14, &off);
	for (p = 2; p < PS_H2R_HOLD; p++)
		for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
			memcpy(d, json_answer, n);
			m = strlen(subs[i].b);
			if (p + m > PS_H2R_HOLD)
				continue;
			memcpy(d + p, subs[i].b, m);
			memset(&w, 0, sizeof(w));
			if (subs[i].text) {
				w.tx = JSON_TX;
				w.rx = JSON_RX;
			} else {
				w.est = n;
			}
			cuts[0] = n;
			cuts[1] = 1;
			cuts[2] = p;
			cuts[3] = p + 1;
			for (k = 0; k < 4; k++, sid += 2) {
				snap(&cn, &a);
				answer_cut(&c, &cn, &off, sid, d, n, cuts[k]);
				snap(&cn, &b);
				if (moved(&a, &b, &w, !subs[i].text, why, sizeof(why))) {
					ck_fail(&c, "byte %u made 0x%02x, cut at %u: %s", p,
						(unsigned char)subs[i].b[0], cuts[k], why);
					goto out;
				}
			}
		}
out:
	ck_end(&c);
}

static void case_upgrade(void)
{
	upgrade_case("h2r-upgrade", CLIENT_BASE + 8, "POST", INF_PATH, 0);
	upgrade_case("h2r-upgrade-split", CLIENT_BASE + 9, "POST", INF_PATH, 1);
	upgrade_case("h2r-upgrade-other", CLIENT_BASE + 10, "GET", "/v1/models", 0);
}

int main(void)
{
	int err;

	if (geteuid()) {
		printf("SKIP h2resp: needs root (BPF)\n");
		return 77;
	}
	err = h2_setup(0);
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	case_split();
	case_padded();
	case_interleave();
	case_slots();
	case_late();
	case_late_burst("h2r-late-one-segment", 100, 0);
	case_late_burst("h2r-late-one-segment-150", 150, 0);
	case_late_burst("h2r-late-one-segment-first", 120, 1);
	case_hole();
	case_debit();
	case_reserve();
	case_path_last();
	case_upgrade();
	case_encoded();
	sse_build();
	long_build();
	case_plain_cuts();
	case_text_bytes();
	case_brotli();
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
