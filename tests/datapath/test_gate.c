// SPDX-License-Identifier: GPL-2.0-only
/*
 * The request limit and the stream's integrity at packet time, through the
 * live ingress and egress programs (BPF_PROG_TEST_RUN with the program
 * clock and every decision taken, on maps of their own). Each case is a
 * client's segments in order, the verdict each must get and the counters
 * after.
 *
 * The limit is a burst of B with an emission interval of an hour, so time
 * passing during a case lets nothing in; a case lets time pass by setting
 * the client's theoretical arrival time back. The figures come from the
 * rules themselves, not from the programs: GCRA lets B requests in at once
 * and holds every later one; a request is judged by the segment that
 * carries the end of its request line, and a request line ends at CR LF,
 * a CR that ends the data waiting for the byte after it
 * (docs/http1-counting.md 2.1).
 *
 * Needs root (BPF); exits 77 without it.
 */
#include <arpa/inet.h>
#include <netinet/ip6.h>

#include "count/flows.h"
#include "harness.h"

/* Use up the burst: BURST whole requests from offset 0, let in. */
static uint32_t use_burst(struct ck *c, const struct conn *cn)
{
	uint32_t off = 0;
	int i;

	for (i = 0; i < BURST; i++, off += req_len)
		expect(c, csend(cn, off, req, req_len), TC_ACT_OK, "a request within the burst");
	return off;
}

static void case_whole(void)
{
	struct ck c;
	struct conn cn;
	uint32_t off;

	ck_init(&c, "whole-requests");
	if (handshake(&cn, CLIENT_BASE + 1))
		ck_fail(&c, "handshake");
	off = use_burst(&c, &cn);
	expect(&c, csend(&cn, off, req, req_len), TC_ACT_SHOT, "a request over the limit");
	expect(&c, csend(&cn, off, req, req_len), TC_ACT_SHOT, "the same request sent again");
	expect_counts(&c, cn.caddr, BURST, 1);
	time_passes(cn.caddr);
	expect(&c, csend(&cn, off, req, req_len), TC_ACT_OK, "sent again after time passed");
	expect_counts(&c, cn.caddr, BURST + 1, 1);
	ck_end(&c);
}

static void case_first_byte(void)
{
	struct ck c;
	struct conn cn;
	uint32_t off = 0;
	int i;

	ck_init(&c, "first-byte-alone");
	if (handshake(&cn, CLIENT_BASE + 2))
		ck_fail(&c, "handshake");
	for (i = 0; i <= BURST; i++, off += req_len) {
		expect(&c, csend(&cn, off, req, 1), TC_ACT_OK, "a first byte alone");
		expect(&c, csend(&cn, off + 1, req + 1, req_len - 1),
		       i < BURST ? TC_ACT_OK : TC_ACT_SHOT, "the rest of the request");
	}
	off -= req_len;
	expect_counts(&c, cn.caddr, BURST, 1);
	time_passes(cn.caddr);
	expect(&c, csend(&cn, off + 1, req + 1, req_len - 1), TC_ACT_OK, "the rest, again");
	expect_counts(&c, cn.caddr, BURST + 1, 1);
	ck_end(&c);
}

/*
 * The request over the limit cut in two at every offset k: the piece that
 * holds the byte after the request line's CR is held back; when it is the
 * first, the second arrives beyond the hole and is kept until the first
 * comes again.
 */
static void case_cuts(void)
{
	unsigned int k, bad = 0;
	char name[64];
	struct ck c;

	for (k = 1; k < req_len; k++) {
		struct conn cn;
		uint32_t off;
		int a_holds = k > req_line_cr + 1;

		snprintf(name, sizeof(name), "cut-%u", k);
		ck_init(&c, name);
		if (handshake(&cn, CLIENT_BASE + 0x100 + k))
			ck_fail(&c, "handshake");
		off = use_burst(&c, &cn);
		expect(&c, csend(&cn, off, req, k), a_holds ? TC_ACT_SHOT : TC_ACT_OK,
		       "the first piece");
		expect(&c, csend(&cn, off + k, req + k, req_len - k),
		       a_holds ? TC_ACT_OK : TC_ACT_SHOT, "the second piece");
		expect_counts(&c, cn.caddr, BURST, 1);
		time_passes(cn.caddr);
		if (a_holds)
			expect(&c, csend(&cn, off, req, k), TC_ACT_OK, "the first piece again");
		else
			expect(&c, csend(&cn, off + k, req + k, req_len - k), TC_ACT_OK,
			       "the second piece again");
		expect_counts(&c, cn.caddr, BURST + 1, 1);
		if (!ck_ok(&c)) {
			ck_end(&c);
			bad++;
		}
	}
	if (!bad)
		pass("cut-at-every-offset");
}

/*
 * Five requests in one segment, a burst of two: the segment is held back
 * until all five are paid for, each once.
 */
static void case_pipelined(void)
{
	char seg[5 * sizeof(req)];
	struct ck c;
	struct conn cn;
	unsigned int i;

	ck_init(&c, "pipelined");
	if (handshake(&cn, CLIENT_BASE + 3))
		ck_fail(&c, "handshake");
	for (i = 0; i < 5; i++)
		memcpy(seg + i * req_len, req, req_len);
	expect(&c, csend(&cn, 0, seg, 5 * req_len), TC_ACT_SHOT, "five requests, two let in");
	expect_counts(&c, cn.caddr, 0, 1);
	time_passes(cn.caddr);
	expect(&c, csend(&cn, 0, seg, 5 * req_len), TC_ACT_SHOT, "again: two more let in");
	expect_counts(&c, cn.caddr, 0, 2);
	time_passes(cn.caddr);
	expect(&c, csend(&cn, 0, seg, 5 * req_len), TC_ACT_OK, "again: the fifth let in");
	expect_counts(&c, cn.caddr, 5, 2);
	/* Only the fifth was charged last: one more fits the burst, not two. */
	expect(&c, csend(&cn, 5 * req_len, req, req_len), TC_ACT_OK, "a sixth request");
	expect(&c, csend(&cn, 6 * req_len, req, req_len), TC_ACT_SHOT, "a seventh request");
	ck_end(&c);
}

/*
 * A held-back segment's second copy with other bytes: a request with a
 * long request line is let in, the one behind it held back; the second
 * copy packs three short requests where the long line was. One of them
 * goes in on what was paid, the others are judged.
 */
static void case_second_copy_differs(void)
{
	char seg[4 * sizeof(req)], lng[1024];
	struct ck c;
	struct conn cn;
	unsigned int n, m;

	ck_init(&c, "second-copy-differs");
	if (handshake(&cn, CLIENT_BASE + 9))
		ck_fail(&c, "handshake");
	expect(&c, csend(&cn, 0, req, req_len), TC_ACT_OK, "a first request");
	n = snprintf(lng, sizeof(lng), "POST /v1/chat/completions?%0600d HTTP/1.1\r\n"
		     "Content-Length: 2\r\n\r\n{}", 0);
	memcpy(seg, lng, n);
	memcpy(seg + n, req, req_len);
	expect(&c, csend(&cn, req_len, seg, n + req_len), TC_ACT_SHOT,
	       "a long request let in, the next held back");
	for (m = 0; m < 3; m++)
		memcpy(seg + m * req_len, req, req_len);
	/* (the request held back now ends elsewhere: a second one held) */
	expect(&c, csend(&cn, req_len, seg, 3 * req_len), TC_ACT_SHOT,
	       "three short requests where the long one was: one paid for");
	expect_counts(&c, cn.caddr, 1, 2);
	time_passes(cn.caddr);
	expect(&c, csend(&cn, req_len, seg, 3 * req_len), TC_ACT_OK,
	       "the three after time passed: one paid for, two in the burst");
	expect_counts(&c, cn.caddr, 4, 2);
	expect(&c, csend(&cn, 4 * req_len, req, req_len), TC_ACT_SHOT, "one more");
	ck_end(&c);
}

static void case_header_body(void)
{
	struct ck c;
	struct conn cn;
	uint32_t off;

	ck_init(&c, "header-and-body-apart");
	if (handshake(&cn, CLIENT_BASE + 4))
		ck_fail(&c, "handshake");
	off = use_burst(&c, &cn);
	expect(&c, csend(&cn, off, req, req_hdr_len), TC_ACT_SHOT, "the header block");
	expect(&c, csend(&cn, off + req_hdr_len, req + req_hdr_len, req_len - req_hdr_len),
	       TC_ACT_OK, "the body, beyond the hole");
	time_passes(cn.caddr);
	expect(&c, csend(&cn, off, req, req_hdr_len), TC_ACT_OK, "the header block again");
	expect_counts(&c, cn.caddr, BURST + 1, 1);
	/* The stream goes on after the body kept out of order. */
	expect(&c, csend(&cn, off + req_len, req, req_len), TC_ACT_OK, "the next request");
	expect_counts(&c, cn.caddr, BURST + 2, 1);
	ck_end(&c);
}

/* Out of order: the rest of the request first, then its first byte. */
static void case_reordered(void)
{
	struct ck c;
	struct conn cn;
	uint32_t off;

	ck_init(&c, "rest-before-first-byte");
	if (handshake(&cn, CLIENT_BASE + 5))
		ck_fail(&c, "handshake");
	off = use_burst(&c, &cn);
	expect(&c, csend(&cn, off + 1, req + 1, req_len - 1), TC_ACT_OK, "the rest, kept");
	expect(&c, csend(&cn, off, req, 1), TC_ACT_SHOT, "the first byte, completing it");
	expect(&c, csend(&cn, off, req, 1), TC_ACT_SHOT, "the first byte again");
	expect_counts(&c, cn.caddr, BURST, 1);
	time_passes(cn.caddr);
	expect(&c, csend(&cn, off, req, 1), TC_ACT_OK, "the first byte after time passed");
	expect_counts(&c, cn.caddr, BURST + 1, 1);
	ck_end(&c);
}

/*
 * Out of order, a second copy over held bytes: the server's TCP may keep
 * either copy (Linux's out-of-order queue keeps a later segment that
 * covers a held one from the same first byte, or from before it), so a
 * segment beyond the hole over bytes already held is dropped and the
 * server has only the copy the parser read. The request's rest but its
 * last byte goes first, naming no endpoint path (/v1/chat/xompletions);
 * then the whole rest naming one (it would replace the first copy in
 * Linux's queue: dropped), a segment from one byte before the held one
 * (dropped), the held one again (dropped); then the first byte and the
 * last: the server reads the request the parser read, no inference
 * request, not held by the spent limit.
 */
static void case_ooo_second_copy(void)
{
	uint64_t before = stat(PS_STAT_OOO_DROPPED);
	char other[sizeof(req)];
	struct ck c;
	struct conn cn;
	uint32_t off;

	ck_init(&c, "ooo-second-copy");
	memcpy(other, req, req_len);
	memcpy(strstr(other, "/completions"), "/xompletions", 12);
	if (handshake(&cn, CLIENT_BASE + 13))
		ck_fail(&c, "handshake");
	off = use_burst(&c, &cn);
	expect(&c, csend(&cn, off + 2, other + 2, req_len - 3), TC_ACT_OK,
	       "the rest but its last byte, no endpoint path");
	expect(&c, csend(&cn, off + 2, req + 2, req_len - 2), TC_ACT_SHOT,
	       "the rest again, naming one, covering it");
	expect(&c, csend(&cn, off + 1, req + 1, 9), TC_ACT_SHOT, "from a byte before it, over it");
	expect(&c, csend(&cn, off + 2, other + 2, req_len - 3), TC_ACT_SHOT, "the same copy again");
	expect(&c, csend(&cn, off + req_len - 1, other + req_len - 1, 1), TC_ACT_OK,
	       "the last byte, beyond");
	expect(&c, csend(&cn, off, other, 2), TC_ACT_OK, "the first two bytes: the hole filled");
	{
		struct ps_client_ctr ctr;
		uint32_t slot;

		if (ctr_of(cn.caddr, &ctr, &slot) || ctr.c.requests != BURST + 1 ||
		    ctr.c.inference_requests != BURST || ctr.throttled_requests)
			ck_fail(&c, "requests %llu, inference %llu, held %llu: expected %d, %d, 0",
				(unsigned long long)ctr.c.requests,
				(unsigned long long)ctr.c.inference_requests,
				(unsigned long long)ctr.throttled_requests, BURST + 1, BURST);
	}
	if (stat(PS_STAT_OOO_DROPPED) != before + 3)
		ck_fail(&c, "stats.ooo_dropped moved by %llu, expected 3",
			(unsigned long long)(stat(PS_STAT_OOO_DROPPED) - before));
	ck_end(&c);
}

/* A client's stream of pipelined requests, cut into segments. */
#define STREAM_MAX	8192
#define SEGS_MAX	512

struct rseg {
	uint32_t off, len;
	int done;		/* let in: the server has it */
};

/* Requests of a few kinds: inference with a body, inference chunked, a GET. */
static unsigned int make_stream(char *st, unsigned int *ninf, unsigned int *nreq)
{
	unsigned int n = 0, k = 3 + rndn(10), i;

	*ninf = *nreq = 0;
	for (i = 0; i < k && n + 400 < STREAM_MAX; i++) {
		switch (rndn(4)) {
		case 0:
			n += snprintf(st + n, STREAM_MAX - n, "GET /health HTTP/1.1\r\n\r\n");
			break;
		case 1:
			n += snprintf(st + n, STREAM_MAX - n,
				      "POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked"
				      "\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
			(*ninf)++;
			break;
		default:
			memcpy(st + n, req, req_len);
			n += req_len;
			(*ninf)++;
		}
		(*nreq)++;
	}
	return n;
}

/* Cut a stream of len bytes into segments of random sizes. */
static unsigned int cut_stream(struct rseg *seg, unsigned int len)
{
	unsigned int nseg = 0, off = 0;

	while (off < len && nseg < SEGS_MAX) {
		unsigned int n = 1 + rndn(rndn(4) ? 40 : 400);

		seg[nseg].off = off;
		seg[nseg].len = off + n > len ? len - off : n;
		seg[nseg].done = 0;
		off += seg[nseg++].len;
	}
	return nseg;
}

/*
 * One round of a client: send what was held back, mostly in order, now and
 * then a segment from further on; then cut anew what is still held back.
 * Returns whether anything got in; *left is what is still held back.
 */
static int send_round(const struct conn *cn, const char *st, struct rseg *seg,
		      unsigned int nseg, unsigned int *left)
{
	unsigned int k, i;
	int progress = 0;

	for (k = 0; k < nseg; k++) {
		i = rndn(3) ? k : rndn(nseg);
		if (seg[i].done)
			continue;
		if (csend(cn, seg[i].off, st + seg[i].off, seg[i].len) == TC_ACT_OK) {
			seg[i].done = 1;
			progress = 1;
		}
	}
	*left = 0;
	for (i = 0; i < nseg; i++)
		*left += !seg[i].done;
	for (i = 0; i + 1 < nseg; i++)
		if (!seg[i].done && !seg[i + 1].done && !rndn(4) &&
		    seg[i].off + seg[i].len == seg[i + 1].off) {
			seg[i].len += seg[i + 1].len;
			seg[i + 1].len = 0;
			seg[i + 1].done = 1;
		}
	return progress;
}

/*
 * One random client (see case_random_segmentation()): 0 when it held, or
 * -1 with the reason in c.
 */
static int random_trial(struct ck *c, unsigned int trial, char *st, struct rseg *seg)
{
	unsigned int len, ninf, nreq, nseg, round, passes = 0, left = 0, i;
	struct ps_client_ctr ctr;
	struct conn cn;
	uint32_t slot;

	len = make_stream(st, &ninf, &nreq);
	nseg = cut_stream(seg, len);
	if (handshake(&cn, CLIENT_BASE + 0x1000 + trial % 0x8000))
		ck_fail(c, "handshake");
	for (round = 0; round < 400 && ck_ok(c); round++) {
		int progress = send_round(&cn, st, seg, nseg, &left);

		if (ctr_of(cn.caddr, &ctr, &slot)) {
			ck_fail(c, "no slot");
			break;
		}
		if (ctr.c.inference_requests > (uint64_t)BURST * (passes + 1))
			ck_fail(c, "%llu inference requests in after time passed %u times "
				"(burst %d)", (unsigned long long)ctr.c.inference_requests, passes,
				BURST);
		if (!left)
			break;
		if (!progress) {
			time_passes(cn.caddr);
			passes++;
		}
	}
	if (ck_ok(c) && (ctr_of(cn.caddr, &ctr, &slot) || ctr.c.requests != nreq ||
			 ctr.c.inference_requests != ninf))
		ck_fail(c, "stream of %u requests (%u inference) in %u segments: counted %llu "
			"(%llu) after %u rounds", nreq, ninf, nseg,
			(unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.inference_requests, round);
	if (ck_ok(c))
		return 0;
	if (getenv("PS_GATE_TRACE"))
		for (i = 0; i < nseg; i++)
			printf("#   seg %u: [%u, +%u) %.*s\n", i, seg[i].off, seg[i].len,
			       (int)seg[i].len, st + seg[i].off);
	return -1;
}

/*
 * A client that cuts its stream at random, sends the pieces in a random
 * order, sends what was held back again in pieces cut anew, and lets time
 * pass only when nothing more gets in. However it cuts and orders them, it
 * gets no more inference requests in than BURST for each time time passed,
 * and in the end every request it made is counted once. PS_GATE_TRIALS
 * streams (300), from PS_GATE_SEED.
 */
static void case_random_segmentation(void)
{
	static char st[STREAM_MAX];
	static struct rseg seg[SEGS_MAX];
	const char *e = getenv("PS_GATE_TRIALS");
	unsigned int trials = e ? strtoul(e, NULL, 10) : 300, trial, bad = 0;
	uint64_t resyncs = stat(PS_STAT_RESYNC);
	char name[64];
	struct ck c;

	if (getenv("PS_GATE_SEED"))
		rs = strtoull(getenv("PS_GATE_SEED"), NULL, 0) | 1;
	for (trial = 0; trial < trials && bad <= 5; trial++) {
		snprintf(name, sizeof(name), "random-segmentation-%u", trial);
		ck_init(&c, name);
		if (random_trial(&c, trial, st, seg)) {
			ck_end(&c);
			bad++;
		}
	}
	if (stat(PS_STAT_RESYNC) != resyncs) {
		fail("random-segmentation", "%llu resyncs: no byte went past the programs",
		     (unsigned long long)(stat(PS_STAT_RESYNC) - resyncs));
		bad++;
	}
	if (!bad)
		pass("random-segmentation");
}

/*
 * Beyond a hole, a flow keeps PS_OOO_FLOW_PIECES pieces; the next segment
 * is dropped rather than let through unread.
 */
static void case_stash_bound(void)
{
	static const char line[] = "X-Pad: 0123456789\r\n";
	unsigned int i, n = sizeof(line) - 1;
	uint64_t dropped = stat(PS_STAT_OOO_DROPPED);
	struct ck c;
	struct conn cn;

	ck_init(&c, "stash-bound");
	if (handshake(&cn, CLIENT_BASE + 6))
		ck_fail(&c, "handshake");
	for (i = 0; i < PS_OOO_FLOW_PIECES; i++)
		expect(&c, csend(&cn, 100 + i * n, line, n), TC_ACT_OK, "a piece beyond a hole");
	expect(&c, csend(&cn, 100 + i * n, line, n), TC_ACT_SHOT, "one piece too many");
	if (stat(PS_STAT_OOO_DROPPED) != dropped + 1)
		ck_fail(&c, "stats.ooo_dropped moved by %llu, expected 1",
			(unsigned long long)(stat(PS_STAT_OOO_DROPPED) - dropped));
	ck_end(&c);

	/* The daemon's collection leaves the pieces a range holds, and takes
	 * those of a flow that is gone, once they are old enough. */
	ck_init(&c, "stash-collection");
	{
		struct ps_flow_key k = flow_key(&cn);
		uint64_t now_s = boot_ns() / 1000000000ULL;

		if (ps_ooo_collect(&dp, now_s + PS_OOO_GRACE_S + 1))
			ck_fail(&c, "pieces the flow still holds were collected");
		ps_dp_flow_forget(&dp, &k);
		if (ps_ooo_collect(&dp, now_s))
			ck_fail(&c, "pieces younger than %d s were collected", PS_OOO_GRACE_S);
		n = ps_ooo_collect(&dp, now_s + PS_OOO_GRACE_S + 1);
		if (n != PS_OOO_FLOW_PIECES)
			ck_fail(&c, "%u pieces of a flow that is gone collected, expected %d", n,
				PS_OOO_FLOW_PIECES);
	}
	ck_end(&c);
}

/*
 * The server acknowledges client bytes never seen: the next segment beyond
 * them resynchronises the stream, and its request counts.
 */
static void case_resync(void)
{
	uint64_t before = stat(PS_STAT_RESYNC);
	struct ck c;
	struct conn cn;

	ck_init(&c, "resync-on-acknowledged-hole");
	if (handshake(&cn, CLIENT_BASE + 7))
		ck_fail(&c, "handshake");
	expect(&c, csend(&cn, 0, req, req_len), TC_ACT_OK, "a request");
	/* req_len bytes at req_len never reach the programs; the server has them. */
	expect(&c, sack(&cn, 2 * req_len), TC_ACT_OK, "the server's acknowledgment");
	expect(&c, csend(&cn, 2 * req_len, req, req_len), TC_ACT_OK, "the request after");
	expect_counts(&c, cn.caddr, 2, 0);
	if (stat(PS_STAT_RESYNC) != before + 1)
		ck_fail(&c, "stats.resyncs moved by %llu, expected 1",
			(unsigned long long)(stat(PS_STAT_RESYNC) - before));
	ck_end(&c);
}

/*
 * Another CPU working on the stream: a segment then is dropped (its TCP
 * sends it again); a claim older than a millisecond is taken over.
 */
static void case_flow_busy(void)
{
	int fd;
	uint64_t before = stat(PS_STAT_FLOW_BUSY);
	struct ps_flow_key k;
	struct ps_flow f;
	struct conn cn;
	struct ck c;

	ck_init(&c, "flow-busy");
	if (handshake(&cn, CLIENT_BASE + 10))
		ck_fail(&c, "handshake");
	k = flow_key(&cn);
	fd = ps_dp_flow_lookup(&dp, &k, &f);
	if (fd < 0)
		ck_fail(&c, "no flow");
	f.busy_ns = boot_ns();
	bpf_map_update_elem(fd, &k, &f, BPF_EXIST);
	expect(&c, csend(&cn, 0, req, req_len), TC_ACT_SHOT, "while another CPU holds it");
	if (stat(PS_STAT_FLOW_BUSY) != before + 1)
		ck_fail(&c, "stats.flow_busy moved by %llu, expected 1",
			(unsigned long long)(stat(PS_STAT_FLOW_BUSY) - before));
	fd = ps_dp_flow_lookup(&dp, &k, &f);
	f.busy_ns = boot_ns() - 2000000;
	bpf_map_update_elem(fd, &k, &f, BPF_EXIST);
	expect(&c, csend(&cn, 0, req, req_len), TC_ACT_OK, "a claim 2 ms old");
	if (ps_dp_flow_lookup(&dp, &k, &f) < 0 || f.busy_ns)
		ck_fail(&c, "the flow is still claimed after the segment");
	expect_counts(&c, cn.caddr, 1, 0);
	ck_end(&c);
}

/*
 * The client table full: a new client gets no slot, and with a limit on
 * it nowhere to keep its pace; its inference requests are held back
 * rather than let in unlimited.
 */
static void case_no_slot(void)
{
	int fd = bpf_map__fd(dp.skel->maps.ps_slot_state);
	struct ps_slot_state st, full;
	uint64_t before = stat(PS_STAT_NO_SLOT_HELD);
	uint32_t zero = 0;
	struct conn cn;
	struct ck c;

	ck_init(&c, "no-slot-held");
	bpf_map_lookup_elem(fd, &zero, &st);
	full = st;
	full.next = bpf_map__max_entries(dp.skel->maps.ps_client_ctrs);
	bpf_map_update_elem(fd, &zero, &full, BPF_ANY);
	if (handshake(&cn, CLIENT_BASE + 11))
		ck_fail(&c, "handshake");
	expect(&c, csend(&cn, 0, req, req_len), TC_ACT_SHOT, "a request with no slot");
	if (stat(PS_STAT_NO_SLOT_HELD) != before + 1)
		ck_fail(&c, "stats.no_slot_held moved by %llu, expected 1",
			(unsigned long long)(stat(PS_STAT_NO_SLOT_HELD) - before));
	bpf_map_update_elem(fd, &zero, &st, BPF_ANY);
	expect(&c, csend(&cn, 0, req, req_len), TC_ACT_OK, "sent again once a slot is free");
	expect_counts(&c, cn.caddr, 1, 0);
	ck_end(&c);
}

/* IP fragments: the first fragment to an endpoint port goes, the rest pass. */
static void case_fragments(void)
{
	unsigned char buf[256];
	struct ps_client_ctr ctr;
	struct ck c;
	uint32_t slot, caddr = CLIENT_BASE + 8;
	uint64_t before = stat(PS_STAT_FRAGMENTS);

	ck_init(&c, "ip-fragments");
	/* first fragment: TCP header and 8 bytes, more fragments (0x2000) */
	expect(&c, run(dp.ingress_fd, buf, frame(buf, caddr, SERVER, 40000, PORT, 1, 1, F_ACK,
						 req, 8, 0x2000)),
	       TC_ACT_SHOT, "a first fragment to the endpoint");
	/* a later fragment (offset 28 bytes = 0x3 units of 8) */
	expect(&c, run(dp.ingress_fd, buf, frame(buf, caddr, SERVER, 40000, PORT, 1, 1, F_ACK,
						 req, 8, 0x0003)),
	       TC_ACT_OK, "a later fragment");
	expect(&c, run(dp.ingress_fd, buf, frame(buf, caddr, SERVER, 40000, 9999, 1, 1, F_ACK,
						 req, 8, 0x2000)),
	       TC_ACT_OK, "a first fragment to another port");
	if (ctr_of(caddr, &ctr, &slot) || ctr.dropped_fragments != 1)
		ck_fail(&c, "dropped_fragments %llu, expected 1",
			(unsigned long long)ctr.dropped_fragments);
	if (stat(PS_STAT_FRAGMENTS) != before + 3)
		ck_fail(&c, "stats.fragments moved by %llu, expected 3",
			(unsigned long long)(stat(PS_STAT_FRAGMENTS) - before));
	ck_end(&c);
}

/*
 * TCP urgent data: a client segment to the endpoint with URG set is
 * dropped (the server's TCP would take its urgent byte out of the stream
 * its application reads), each time it is sent; the request sent again
 * without it goes in, and nothing of the dropped ones was read. A URG
 * segment to another port, and the server's own, pass.
 */
static void case_urgent(void)
{
	uint64_t before = stat(PS_STAT_URGENT_DROPPED);
	unsigned char buf[2048];
	struct conn cn;
	struct ck c;

	ck_init(&c, "urgent-data");
	if (handshake(&cn, CLIENT_BASE + 12))
		ck_fail(&c, "handshake");
	expect(&c, run(dp.ingress_fd, buf, frame(buf, cn.caddr, SERVER, cn.cport, PORT,
						 cn.cisn + 1, cn.sisn + 1, F_ACK | F_URG, req,
						 req_len, 0)),
	       TC_ACT_SHOT, "a request with urgent data");
	expect(&c, run(dp.ingress_fd, buf, frame(buf, cn.caddr, SERVER, cn.cport, PORT,
						 cn.cisn + 1, cn.sisn + 1, F_ACK | F_URG, req,
						 req_len, 0)),
	       TC_ACT_SHOT, "sent again, urgent still");
	expect(&c, run(dp.ingress_fd, buf, frame(buf, cn.caddr, SERVER, cn.cport, 9999, 1, 1,
						 F_ACK | F_URG, req, req_len, 0)),
	       TC_ACT_OK, "urgent data to another port");
	expect(&c, run(dp.egress_fd, buf, frame(buf, SERVER, cn.caddr, PORT, cn.cport,
						cn.sisn + 1, cn.cisn + 1, F_ACK | F_URG, "x", 1, 0)),
	       TC_ACT_OK, "the server's urgent byte");
	expect(&c, csend(&cn, 0, req, req_len), TC_ACT_OK, "the request without it");
	expect_counts(&c, cn.caddr, 1, 0);
	if (stat(PS_STAT_URGENT_DROPPED) != before + 2)
		ck_fail(&c, "stats.urgent_dropped moved by %llu, expected 2",
			(unsigned long long)(stat(PS_STAT_URGENT_DROPPED) - before));
	ck_end(&c);
}

/*
 * An IPv6 client segment to the endpoint behind n destination options
 * headers (8 bytes each, a PadN option), at b: its length.
 */
static unsigned int frame6_ext(unsigned char *b, unsigned int n, uint16_t sport,
			       const void *data, unsigned int len)
{
	struct ethhdr eth = { .h_proto = htons(ETH_P_IPV6) };
	struct ip6_hdr ip6 = { 0 };
	struct tcphdr th = {
		.source = htons(sport),
		.dest = htons(PORT),
		.seq = htonl(1000),
		.ack_seq = htonl(1),
		.doff = sizeof(th) / 4,
		.window = htons(502),
	};
	unsigned int i, o = 0;

	ip6.ip6_flow = htonl(6u << 28);
	ip6.ip6_plen = htons(8 * n + sizeof(th) + len);
	ip6.ip6_nxt = n ? IPPROTO_DSTOPTS : IPPROTO_TCP;
	ip6.ip6_hlim = 64;
	inet_pton(AF_INET6, "fd00:5053::2", &ip6.ip6_src);
	inet_pton(AF_INET6, "fd00:5053::1", &ip6.ip6_dst);
	((uint8_t *)&th)[13] = F_ACK;
	memcpy(b, &eth, ETH_HLEN);
	o = ETH_HLEN;
	memcpy(b + o, &ip6, sizeof(ip6));
	o += sizeof(ip6);
	for (i = 0; i < n; i++, o += 8) {
		static const unsigned char padn[6] = { 1, 4, 0, 0, 0, 0 };

		b[o] = i + 1 < n ? IPPROTO_DSTOPTS : IPPROTO_TCP;
		b[o + 1] = 0;
		memcpy(b + o + 2, padn, sizeof(padn));
	}
	memcpy(b + o, &th, sizeof(th));
	o += sizeof(th);
	memcpy(b + o, data, len);
	return o + len;
}

/*
 * IPv6 extension headers: Linux takes TCP behind any number of them. A
 * segment behind one is read; behind more than the parser walks (9, 20)
 * it is dropped, not let through unread (stats.not_parsed counts it).
 */
static void case_ext_headers(void)
{
	uint64_t before = stat(PS_STAT_NOT_PARSED);
	unsigned char buf[2048];
	struct ck c;

	ck_init(&c, "ipv6-extension-headers");
	expect(&c, run(dp.ingress_fd, buf, frame6_ext(buf, 1, 41001, req, req_len)), TC_ACT_OK,
	       "a request behind one destination options header");
	if (stat(PS_STAT_NOT_PARSED) != before)
		ck_fail(&c, "stats.not_parsed moved for a segment it reads");
	expect(&c, run(dp.ingress_fd, buf, frame6_ext(buf, 9, 41002, req, req_len)), TC_ACT_SHOT,
	       "behind nine");
	expect(&c, run(dp.ingress_fd, buf, frame6_ext(buf, 20, 41003, req, req_len)), TC_ACT_SHOT,
	       "behind twenty");
	if (stat(PS_STAT_NOT_PARSED) != before + 2)
		ck_fail(&c, "stats.not_parsed moved by %llu, expected 2",
			(unsigned long long)(stat(PS_STAT_NOT_PARSED) - before));
	ck_end(&c);
}

static int setup(void)
{
	static struct ps_config cfg;
	int err;

	default_request();
	ps_config_init(&cfg);
	err = ps_config_add_port(&cfg, PORT);
	return err ? err : dp_start(&cfg, 65536, 1);
}

int main(void)
{
	int err;

	if (geteuid()) {
		printf("SKIP gate: needs root (BPF)\n");
		return 77;
	}
	err = setup();
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	case_whole();
	case_first_byte();
	case_cuts();
	case_pipelined();
	case_second_copy_differs();
	case_header_body();
	case_reordered();
	case_stash_bound();
	case_random_segmentation();
	case_resync();
	case_fragments();
	case_flow_busy();
	case_no_slot();
	case_urgent();
	case_ooo_second_copy();
	case_ext_headers();
	expect_endpoint_sums("gate endpoint totals = sum over clients");
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
