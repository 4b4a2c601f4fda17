// SPDX-License-Identifier: GPL-2.0-only
/*
 * The server's side of HTTP/2 cleartext through the live ingress and
 * egress programs (BPF_PROG_TEST_RUN, maps of their own): the egress frame
 * follower (bpf/lib/h2resp.h) on the edge cases a capture rarely holds in
 * one place: a frame header cut across segments, PADDED DATA (its padding
 * full of "data:" lines that must not count), streams interleaved frame by
 * frame, more inference streams at once than it has slots, a usage key
 * cut across DATA frames and segments, a hole in the server's stream, the
 * token limit debited as HTTP/1's answers debit it, and the server's frames
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
 * Nine inference streams at once, one more than the follower has slots
 * (PS_H2R_SLOTS): the ninth's DATA frames are walked past unscanned and
 * count in stats.h2_no_slot; once a stream has ended its slot serves the
 * next stream.
 */
static void case_slots(void)
{
	uint64_t ns0 = stat(PS_STAT_H2_NO_SLOT);
	unsigned char b[2048];
	struct want w = { 0 };
	struct conn cn;
	struct ck c;
	uint32_t off, sid;
	unsigned int n = 0;

	ck_init(&c, "h2r-slots");
	open_h2(&c, &cn, CLIENT_BASE + 4, &off);
	for (sid = 1; sid <= 19; sid += 2)
		request(&c, &cn, &off, sid, INF_PATH);
	for (sid = 1; sid <= 17; sid += 2)
		n += data(b + n, sid, "data: {\"c\":\"a\"}\n\n", 0);
	/* Stream 17, the ninth, again; then stream 1 ends, stream 19 takes its slot. */
	n += data(b + n, 17, "data: {\"c\":\"b\"}\n\n", 0);
	n += data(b + n, 1, "data: {\"usage\":{\"completion_tokens\":5}}\n\n", 1);
	n += data(b + n, 19, "data: {\"c\":\"a\"}\n\n", 1);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "the frames");
	w.events = 8 + 1 + 1;
	w.tx = 5;
	w.est = 1;	/* stream 19 ended without usage */
	expect_tokens(&c, cn.caddr, &w);
	if (stat(PS_STAT_H2_NO_SLOT) - ns0 != 2)
		ck_fail(&c, "stats.h2_no_slot grew by %llu, expected 2",
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
	case_hole();
	case_debit();
	case_path_last();
	case_upgrade();
	case_encoded();
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
