// SPDX-License-Identifier: GPL-2.0-only
/*
 * gRPC messages through the live ingress and egress programs
 * (BPF_PROG_TEST_RUN, maps of their own): rx_messages (the client's DATA,
 * bpf/lib/http2.h) and tx_messages (the server's, bpf/lib/h2resp.h) on the
 * edge cases a capture rarely holds in one place: a prefix cut across DATA
 * frames and across segments (anywhere in its five bytes), several
 * messages in one frame, empty messages, the compressed flag, a message
 * longer than a frame and than a segment, PADDED DATA whose padding looks
 * like prefixes, the content-type in each of HPACK's spellings (the static
 * table's name, a new name plain and Huffman-coded, a Huffman-coded value,
 * the dynamic table), calls that are no gRPC or no inference, and more
 * calls sending at once than the ingress follows.
 *
 * Frames are written byte by byte from RFC 9113, header blocks from RFC
 * 7541 (Huffman codes from its Appendix B), messages from gRPC's
 * PROTOCOL-HTTP2.md (Length-Prefixed-Message: a compressed flag byte, a
 * 4-byte big-endian length, the message); each case's figures are the
 * messages it writes.
 *
 * Needs root (BPF); exits 77 without it.
 */
#include "h2.h"

/* A gRPC message of len bytes (all 'm') with compressed flag fl, at b: its length. */
static unsigned int msg(unsigned char *b, uint8_t fl, uint32_t len)
{
	b[0] = fl;
	b[1] = len >> 24;
	b[2] = len >> 16;
	b[3] = len >> 8;
	b[4] = len;
	memset(b + 5, 'm', len);
	return 5 + len;
}

/* The client sends len bytes at *off. */
static void cput(struct ck *c, const struct conn *cn, uint32_t *off, const void *d,
		 unsigned int len, const char *what)
{
	expect(c, csend(cn, *off, d, len), TC_ACT_OK, what);
	*off += len;
}

/* Segments of at most this many bytes (what BPF_PROG_TEST_RUN takes, and the harness). */
#define SEG	1400

/* The client sends len bytes at *off in segments of SEG bytes. */
static void cput_segs(struct ck *c, const struct conn *cn, uint32_t *off, const unsigned char *d,
		      unsigned int len, const char *what)
{
	unsigned int k;

	for (k = 0; k < len; k += SEG)
		cput(c, cn, off, d + k, len - k < SEG ? len - k : SEG, what);
}

/* The server sends len bytes in segments of SEG bytes. */
static void ssend_segs(struct ck *c, const struct conn *cn, const unsigned char *d,
		       unsigned int len, const char *what)
{
	unsigned int k;

	for (k = 0; k < len; k += SEG)
		expect(c, ssend(cn, d + k, len - k < SEG ? len - k : SEG), TC_ACT_OK, what);
}

/*
 * The client opens stream sid: :method POST, :path path (a literal without
 * indexing), :scheme http, then ct[0..ctn), the content-type's
 * representation (none when ctn is 0).
 */
static void call(struct ck *c, const struct conn *cn, uint32_t *off, uint32_t sid,
		 const char *path, const void *ct, unsigned int ctn)
{
	unsigned char blk[160], b[192];
	unsigned int n = strlen(path);

	blk[0] = 0x83;
	blk[1] = 0x04;
	blk[2] = n;
	memcpy(blk + 3, path, n);
	blk[3 + n] = 0x86;
	memcpy(blk + 4 + n, ct, ctn);
	cput(c, cn, off, b, h2f(b, 1, 0x4, sid, blk, 4 + n + ctn), "a call's HEADERS");
}

/* content-type: application/grpc, its name the static table's (31), no indexing. */
static const unsigned char ct_static[] = "\x0f\x10\x10" "application/grpc";
#define CT_STATIC	ct_static, sizeof(ct_static) - 1

static void expect_msgs(struct ck *c, uint32_t caddr, uint64_t rx, uint64_t tx)
{
	struct ps_client_ctr ctr;
	uint32_t slot;

	if (ctr_of(caddr, &ctr, &slot)) {
		ck_fail(c, "no counters for the client");
		return;
	}
	if (ctr.rx_messages != rx || ctr.tx_messages != tx)
		ck_fail(c, "rx_messages %llu, tx_messages %llu: expected %llu, %llu",
			(unsigned long long)ctr.rx_messages, (unsigned long long)ctr.tx_messages,
			(unsigned long long)rx, (unsigned long long)tx);
	if (ctr.tx_events)
		ck_fail(c, "tx_events %llu: a gRPC call's data is not scanned for events",
			(unsigned long long)ctr.tx_events);
}

/*
 * Prefixes cut everywhere, both ways: a frame of three messages (one
 * empty, one compressed) and the first byte of a fourth's prefix, whose
 * other four bytes open the next frame; a prefix cut 2 + 3 by a segment's
 * end inside one frame; a frame header cut 4 + 5 across segments; a
 * 20,000-byte message over two DATA frames and fifteen segments. The
 * server: three empty messages and two bytes of a prefix in a frame, its
 * other three in the next (whose header a segment cuts 8 + 1), a
 * 30,000-byte message over two frames and 22 segments, four 1-byte
 * messages in a frame cut by a segment's end after 3 bytes.
 */
static void case_split(void)
{
	static unsigned char b[40000], p[40000];
	struct conn cn;
	struct ck c;
	uint32_t off;
	unsigned int n, k, q;

	ck_init(&c, "grpc-split");
	open_h2(&c, &cn, CLIENT_BASE + 1, &off);
	call(&c, &cn, &off, 1, INF_PATH, CT_STATIC);
	/* Frame 1: [0 bytes][3 bytes, compressed][10 bytes][1st byte of a prefix] */
	q = msg(p, 0, 0);
	q += msg(p + q, 1, 3);
	q += msg(p + q, 0, 10);
	k = msg(p + q, 0, 200);	/* the fourth, 200 bytes */
	n = h2f(b, 0, 0, 1, p, q + 1);
	/* Frame 2: the fourth's other prefix bytes and its body, then a fifth (7 bytes). */
	k += msg(p + q + k, 0, 7);
	n += h2f(b + n, 0, 0, 1, p + q + 1, k - 1);
	/* Segments: cut inside frame 2's header (4 + 5) and inside the fifth's prefix. */
	cput(&c, &cn, &off, b, (n - (k - 1) - 9) + 4, "frame 1, 4 bytes of frame 2's header");
	{
		unsigned int at = (n - (k - 1) - 9) + 4, cut = n - 12 + 2;

		cput(&c, &cn, &off, b + at, cut - at, "the header's rest, up to the fifth's 2nd byte");
		cput(&c, &cn, &off, b + cut, n - cut, "the rest of the fifth");
	}
	/* A 20,000-byte message in two frames (16,384 bytes and the rest), END_STREAM. */
	q = msg(p, 0, 20000);
	n = h2f(b, 0, 0, 1, p, 16384);
	n += h2f(b + n, 0, 1, 1, p + 16384, q - 16384);
	cput_segs(&c, &cn, &off, b, n, "a long message");
	/* The server: the same cuts on its side, and 3 empty messages in one frame. */
	n = resp_headers(b, 1);
	q = msg(p, 0, 0);
	q += msg(p + q, 0, 0);
	q += msg(p + q, 0, 0);
	q += msg(p + q, 1, 40);
	n += h2f(b + n, 0, 0, 1, p, q - 45 + 2);	/* the 4th's prefix cut 2 + 3 by the frame */
	n += h2f(b + n, 0, 0, 1, p + q - 45 + 2, 43);
	expect(&c, ssend(&cn, b, n - 44), TC_ACT_OK, "3 empty, 2 bytes of a prefix, 8 of a header");
	expect(&c, ssend(&cn, b + n - 44, 44), TC_ACT_OK, "the rest of the 4th");
	q = msg(p, 0, 30000);
	n = h2f(b, 0, 0, 1, p, 16384);
	n += h2f(b + n, 0, 0, 1, p + 16384, q - 16384);
	ssend_segs(&c, &cn, b, n, "a 30,000-byte message");
	/* Four 1-byte messages in a frame, a segment's end after 3 bytes of the first's prefix. */
	for (q = 0, k = 0; k < 4; k++)
		q += msg(p + q, 0, 1);
	n = h2f(b, 0, 0, 1, p, q);
	expect(&c, ssend(&cn, b, 9 + 3), TC_ACT_OK, "a header, 3 bytes of a prefix");
	expect(&c, ssend(&cn, b + 12, n - 12), TC_ACT_OK, "the rest: four messages");
	n = h2f(b, 1, 0x5, 1, "\x40\x0bgrpc-status\x01" "0", 15);	/* trailers */
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "the trailers");
	expect_msgs(&c, cn.caddr, 6, 9);
	ck_end(&c);
}

/*
 * PADDED DATA both ways, its padding full of bytes that would be prefixes;
 * a padded frame whose data is one message, cut right after its pad
 * length (server) and after its header (client: the pad length is the
 * next segment's first byte).
 */
static void case_padded(void)
{
	unsigned char b[512], p[256];
	struct conn cn;
	struct ck c;
	uint32_t off;
	unsigned int n, q, pad = 20;

	ck_init(&c, "grpc-padded");
	open_h2(&c, &cn, CLIENT_BASE + 2, &off);
	call(&c, &cn, &off, 1, INF_PATH, CT_STATIC);
	p[0] = pad;
	q = 1 + msg(p + 1, 0, 4);
	q += msg(p + q, 0, 0);
	memset(p + q, 0, pad);	/* four empty "messages", if it were data */
	n = h2f(b, 0, 0x8, 1, p, q + pad);
	cput(&c, &cn, &off, b, 9, "a padded DATA frame's header");
	cput(&c, &cn, &off, b + 9, n - 9, "its pad length, 2 messages, padding");
	n = h2f(b, 0, 0x8 | 0x1, 1, p, q + pad);
	cput(&c, &cn, &off, b, n, "again, END_STREAM");
	n = resp_headers(b, 1);
	n += h2f(b + n, 0, 0x8, 1, p, q + pad);
	expect(&c, ssend(&cn, b, n - (q + pad) + 1), TC_ACT_OK, "a header, a pad length");
	expect(&c, ssend(&cn, b + n - (q + pad) + 1, q + pad - 1), TC_ACT_OK,
	       "2 messages and padding");
	n = h2f(b, 1, 0x5, 1, "\x40\x0bgrpc-status\x01" "0", 15);
	expect(&c, ssend(&cn, b, n), TC_ACT_OK, "the trailers");
	expect_msgs(&c, cn.caddr, 4, 2);
	ck_end(&c);
}

/*
 * The content-type in HPACK's spellings, one call each on a connection:
 * the static name with a Huffman-coded value, inserted into the dynamic
 * table (stream 1); that entry by its index (3); a new name, plain, and
 * "application/grpc+proto" (5); a new name Huffman-coded, inserted, and
 * then referred to by index with a value of its own (7, 9). Calls that
 * count nothing: "application/json" on an inference path (11), gRPC on
 * a path that is no inference path (13). Each call sends two messages
 * and gets three.
 */
static void case_hpack(void)
{
	/* 0x5f: literal with incremental indexing, name 31; 0x8b: Huffman, 11 bytes */
	static const unsigned char huff_val[] =
		"\x5f\x8b\x1d\x75\xd0\x62\x0d\x26\x3d\x4c\x4d\x65\x64";
	static const unsigned char indexed[] = "\xbe";	/* 62: the newest entry */
	static const unsigned char new_plain[] =
		"\x00\x0c" "content-type" "\x16" "application/grpc+proto";
	/* name "content-type" Huffman-coded (9 bytes), value plain */
	static const unsigned char new_huff[] =
		"\x40\x89\x21\xea\x49\x6a\x4a\xc9\xf5\x59\x7f\x10" "application/grpc";
	/* a literal whose name is that entry's (62), value plain, no indexing */
	static const unsigned char name_idx[] = "\x0f\x2f\x10" "application/grpc";
	static const unsigned char json[] = "\x0f\x10\x10" "application/json";
	static const struct {
		const char *path;
		const unsigned char *ct;
		unsigned int n;
	} calls[] = {
		{ INF_PATH, huff_val, sizeof(huff_val) - 1 },
		{ INF_PATH, indexed, 1 },
		{ INF_PATH, new_plain, sizeof(new_plain) - 1 },
		{ INF_PATH, new_huff, sizeof(new_huff) - 1 },
		{ INF_PATH, name_idx, sizeof(name_idx) - 1 },
		{ INF_PATH, json, sizeof(json) - 1 },
		{ "/health", CT_STATIC },
	};
	unsigned char b[512], p[64];
	struct conn cn;
	struct ck c;
	uint32_t off, sid;
	unsigned int n, q, i;

	ck_init(&c, "grpc-hpack");
	open_h2(&c, &cn, CLIENT_BASE + 3, &off);
	q = msg(p, 0, 6);
	q += msg(p + q, 0, 1);
	/* Each call sends its messages and ends its side before the next opens. */
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		call(&c, &cn, &off, 2 * i + 1, calls[i].path, calls[i].ct, calls[i].n);
		n = h2f(b, 0, 0x1, 2 * i + 1, p, q);
		cput(&c, &cn, &off, b, n, "two messages");
	}
	q += msg(p + q, 0, 0);
	for (sid = 1; sid <= 13; sid += 2) {
		n = resp_headers(b, sid);
		n += h2f(b + n, 0, 0, sid, p, q);
		n += h2f(b + n, 1, 0x5, sid, "\x40\x0bgrpc-status\x01" "0", 15);
		expect(&c, ssend(&cn, b, n), TC_ACT_OK, "three messages");
	}
	expect_msgs(&c, cn.caddr, 5 * 2, 5 * 3);
	ck_end(&c);
}

/*
 * Five calls sending at once, one more than the ingress follows
 * (PS_H2G_SLOTS): the oldest call's slot goes to the fifth
 * (stats.grpc_no_slot), whose messages count; the oldest's later ones do
 * not (its data is then walked past). A call the client resets frees its
 * slot. The server's side has eight slots: all five answers count.
 */
static void case_slots(void)
{
	uint64_t ns0 = stat(PS_STAT_GRPC_NO_SLOT);
	unsigned char b[512], p[64];
	struct conn cn;
	struct ck c;
	uint32_t off, sid;
	unsigned int n, q;

	ck_init(&c, "grpc-slots");
	open_h2(&c, &cn, CLIENT_BASE + 4, &off);
	q = msg(p, 0, 2);
	for (sid = 1; sid <= 9; sid += 2) {
		call(&c, &cn, &off, sid, INF_PATH, CT_STATIC);
		n = h2f(b, 0, 0, sid, p, q);
		cput(&c, &cn, &off, b, n, "a message");
	}
	/* A second message on each: stream 1's is not counted. */
	for (sid = 1; sid <= 9; sid += 2) {
		n = h2f(b, 0, 0x1, sid, p, q);
		cput(&c, &cn, &off, b, n, "a second message, END_STREAM");
	}
	/* Stream 11 opens; 13 opens after 11 is reset (RST_STREAM, CANCEL). */
	call(&c, &cn, &off, 11, INF_PATH, CT_STATIC);
	n = h2f(b, 0, 0, 11, p, q);
	n += h2f(b + n, 3, 0, 11, "\x00\x00\x00\x08", 4);
	cput(&c, &cn, &off, b, n, "a message, RST_STREAM");
	call(&c, &cn, &off, 13, INF_PATH, CT_STATIC);
	n = h2f(b, 0, 0x1, 13, p, q);
	cput(&c, &cn, &off, b, n, "a message, END_STREAM");
	for (sid = 1; sid <= 9; sid += 2) {
		n = resp_headers(b, sid);
		n += h2f(b + n, 0, 0, sid, p, q);
		n += h2f(b + n, 1, 0x5, sid, "\x40\x0bgrpc-status\x01" "0", 15);
		expect(&c, ssend(&cn, b, n), TC_ACT_OK, "an answer");
	}
	expect_msgs(&c, cn.caddr, 5 + 4 + 1 + 1, 5);
	if (stat(PS_STAT_GRPC_NO_SLOT) - ns0 != 1)
		ck_fail(&c, "stats.grpc_no_slot grew by %llu, expected 1",
			(unsigned long long)(stat(PS_STAT_GRPC_NO_SLOT) - ns0));
	ck_end(&c);
}

int main(void)
{
	int err;

	if (geteuid()) {
		printf("SKIP grpc: needs root (BPF)\n");
		return 77;
	}
	err = h2_setup(0);
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	case_split();
	case_padded();
	case_hpack();
	case_slots();
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
