/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.x request framing on the client-to-server byte stream, following
 * the message boundaries as tshark's HTTP dissector does (docs/
 * http1-counting.md): a request is a message whose first line starts with
 * a known method token, counted when its header block ends; a body is
 * skipped by arithmetic (Content-Length, chunk sizes), never scanned, so
 * request-like text inside a body cannot count.
 *
 * Bytes are parsed from a per-CPU scratch buffer: the first bytes of a line
 * left unfinished by the previous segment (the carry), then up to
 * PS_CHUNK new bytes. Lines are found eight bytes at a time.
 */
#ifndef PS_BPF_HTTP1_H
#define PS_BPF_HTTP1_H

#include "common.h"
#include "maps.h"
#include "ratelimit.h"
#include "scratch.h"
#include "forwarded.h"
#include "apikey.h"
#include "http2.h"

/*
 * The fast paths (on unless a test or a benchmark turns them off): header
 * lines no per-line code acts on taken in one call (ps_g_h1_skim()), and
 * a request target's path without escapes copied a word at a time
 * (ps_g_path_words()). Each leaves exactly what the slow path leaves;
 * tests/datapath/test_h1fast.c runs both on the same traffic.
 */
const volatile __u8 ps_h1_fast __weak = 1;

/* Parser state between flow and scratch: the carry only when it holds a line. */
static __always_inline void ps_h1_copy(struct ps_http *dst, const struct ps_http *src)
{
	__builtin_memcpy(dst, src, __builtin_offsetof(struct ps_http, carry));
	if (src->carry_len)
		__builtin_memcpy(dst->carry, src->carry, PS_LINE_CARRY);
}

/*
 * The method table of tshark's is_http_request_or_reply(): the first token
 * of the line (up to the first space, or the whole line) must be one of
 * these, after an optional "M-" prefix (RFC 2774). NOTIFY, SUBSCRIBE and
 * UNSUBSCRIBE are notifications there, framed like requests but not
 * counted; here they are requests (docs/http1-counting.md 7.5), so that
 * one without a request line's shape still frames its body by its
 * headers, as tshark does.
 */
static __always_inline int ps_is_method(__u64 w0, __u64 w1, __u32 n)
{
	switch (n) {
	case 3:
		w0 &= ps_mask(3);
		return w0 == PS_W8("GET") || w0 == PS_W8("PUT");
	case 4:
		w0 &= ps_mask(4);
		return w0 == PS_W8("COPY") || w0 == PS_W8("HEAD") || w0 == PS_W8("LOCK") ||
		       w0 == PS_W8("MOVE") || w0 == PS_W8("POLL") || w0 == PS_W8("POST");
	case 5:
		w0 &= ps_mask(5);
		return w0 == PS_W8("BCOPY") || w0 == PS_W8("BMOVE") || w0 == PS_W8("MKCOL") ||
		       w0 == PS_W8("TRACE") || w0 == PS_W8("PATCH") || w0 == PS_W8("LABEL") ||
		       w0 == PS_W8("MERGE");
	case 6:
		w0 &= ps_mask(6);
		return w0 == PS_W8("DELETE") || w0 == PS_W8("SEARCH") || w0 == PS_W8("UNLOCK") ||
		       w0 == PS_W8("REPORT") || w0 == PS_W8("UPDATE") || w0 == PS_W8("NOTIFY");
	case 7:
		w0 &= ps_mask(7);
		return w0 == PS_W8("BDELETE") || w0 == PS_W8("CONNECT") ||
		       w0 == PS_W8("OPTIONS") || w0 == PS_W8("CHECKIN");
	case 8:
		return w0 == PS_W8("PROPFIND") || w0 == PS_W8("CHECKOUT") ||
		       w0 == PS_W8("CCM_POST");
	case 9:
		w1 &= ps_mask(1);
		return (w0 == PS_W8("PROPPATCH") && w1 == 'H') ||
		       (w0 == PS_W8("BPROPFIN") && w1 == 'D') ||
		       (w0 == PS_W8("SUBSCRIB") && w1 == 'E');
	case 10:
		w1 &= ps_mask(2);
		return (w0 == PS_W8("BPROPPAT") && w1 == PS_W8("CH")) ||
		       (w0 == PS_W8("UNCHECKO") && w1 == PS_W8("UT")) ||
		       (w0 == PS_W8("MKACTIVI") && w1 == PS_W8("TY"));
	case 11:
		w1 &= ps_mask(3);
		return (w0 == PS_W8("MKWORKSP") && w1 == PS_W8("ACE")) ||
		       (w0 == PS_W8("RPC_CONN") && w1 == PS_W8("ECT")) ||
		       (w0 == PS_W8("RPC_IN_D") && w1 == PS_W8("ATA")) ||
		       (w0 == PS_W8("UNSUBSCR") && w1 == PS_W8("IBE"));
	case 12:
		w1 &= ps_mask(4);
		return w0 == PS_W8("RPC_OUT_") && w1 == PS_W8("DATA");
	case 15:
		w1 &= ps_mask(7);
		return w0 == PS_W8("VERSION-") && w1 == PS_W8("CONTROL");
	case 16:
		return (w0 == PS_W8("BASELINE") && w1 == PS_W8("-CONTROL")) ||
		       (w0 == PS_W8("SSTP_DUP") && w1 == PS_W8("LEX_POST"));
	}
	return 0;
}



/*
 * Decimal value of up to 19 digits at p, leading zeros skipped before they
 * are counted (a server reads 000...02 as 2); -1 if it does not start with
 * a digit. *stop is where the digits end.
 */
static __always_inline __s64 ps_parse_dec(const __u8 *buf, __u32 p, __u32 end, __u32 *stop)
{
	__u32 q = ps_g_skip(p, end, PS_SKIP_ZEROS);
	__s64 v = 0;
	int i, n = 0;

	for (i = 0; i < 19; i++) {
		__u8 c;

		if (q + i >= end)
			break;
		c = buf[(q + i) & PS_BUF_MASK];
		if (c < '0' || c > '9')
			break;
		v = v * 10 + (c - '0');
		n++;
	}
	*stop = q + n;
	return q > p || n ? v : -1;
}

/*
 * Hexadecimal chunk size (RFC 9112 section 7.1) at p, blanks before it
 * already skipped, leading zeros skipped before the 15 digits are counted
 * (000...02 is 2, not a last chunk); -1 if no digit.
 */
static __always_inline __s64 ps_parse_hex(const __u8 *buf, __u32 p, __u32 end)
{
	__u32 q = ps_g_skip(p, end, PS_SKIP_ZEROS);
	__s64 v = 0;
	int i, any = q > p;

	for (i = 0; i < 15; i++) {
		__u8 c, d;

		if (q + i >= end)
			break;
		c = ps_lower(buf[(q + i) & PS_BUF_MASK]);
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			break;
		v = v * 16 + d;
		any = 1;
	}
	return any ? v : -1;
}

/*
 * The segment's next request (rq_pn) has ended its header block: its bit
 * in rq_pb, bit rq_pn mod 64. Past 64 requests in one segment the newest
 * 64 are kept, as in the flow's ring, and ps_rq_push() still counts every
 * one, so that the answers stay paired with their requests.
 */
static __always_inline void ps_rq_note(struct ps_scratch *s, int inf)
{
	__u64 b = 1ULL << (s->rq_pn & (PS_RQ_QUEUE - 1));

	s->rq_pb = inf ? s->rq_pb | b : s->rq_pb & ~b;
}

/*
 * A message is complete (tshark dissects a message, and counts a request,
 * only once its body is reassembled): count it if it is a request, and
 * expect the next message.
 */
static __always_inline void ps_h1_count(struct ps_scratch *s)
{
	if ((s->h.flags & (PS_H1F_REQUEST | PS_H1F_COUNTED)) == PS_H1F_REQUEST) {
		if (s->rq_ep && s->fw.flags) {
			ps_g_rq_count();
		} else {
			s->nreq++;
			if (s->h.flags & PS_H1F_INFERENCE)
				s->ninf++;
		}
	}
	s->h.flags |= PS_H1F_COUNTED;
}

static __always_inline void ps_h1_done(struct ps_scratch *s)
{
	__u32 flags = s->h.flags;

	ps_h1_count(s);
	if (flags & PS_H1F_REQUEST)
		s->h.tunnel = (flags & PS_H1F_CONNECT) ? PS_TUNNEL_CONNECT :
			      (flags & PS_H1F_UPGRADE) ? PS_TUNNEL_UPGRADE : PS_TUNNEL_NONE;
	s->h.flags = 0;
	/* A header line without a colon ended the message early: what
	 * follows it in the message's buffer is lost. That buffer is the
	 * segment, unless the message was completed by a later one. */
	s->h.state = (flags & (PS_H1F_NOCOLON | PS_H1F_SPANNED)) == PS_H1F_NOCOLON ?
		     PS_H1_SKIP_SEGMENT : PS_H1_START;
}

/* Does the line buf[p..end) hold a ':'? */
static __always_inline int ps_has_colon(const __u8 *buf, __u32 p, __u32 end)
{
	__u32 i, off;

	/* Eight bytes at a time, as ps_find_nl(); the lowest flagged byte
	 * is exact, so a colon past the line end is told apart. */
	for (i = 0; i < (PS_LINE_CARRY + PS_CHUNK) / 8; i++) {
		__u64 x, t;

		off = p + i * 8;
		if (off >= end)
			break;
		x = ps_load64(buf, off) ^ 0x3a3a3a3a3a3a3a3aULL;
		t = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
		if (t)
			return off + ps_lowest_byte(t) < end;
	}
	return 0;
}

/*
 * Global wrappers of the byte-loop helpers: each is verified once on its
 * own, instead of once per path through its caller (consecutive bounded
 * loops otherwise multiply the verifier's states).
 */
static __always_inline __u32 ps_g_ows(__u32 p, __u32 end)
{
	return ps_g_skip(p, end, PS_SKIP_BLANKS);
}

/* One Content-Length number at p: an optional '+' (tshark's strtoll takes
 * it), then digits; *stop is where they end. */
static __always_inline __s64 ps_clen_one(const __u8 *buf, __u32 p, __u32 end, __u32 *stop)
{
	if (p < end && buf[p & PS_BUF_MASK] == '+')
		p++;
	return ps_parse_dec(buf, p, end, stop);
}

/*
 * A Content-Length value: one number with blanks around it, or a list of
 * equal ones ("2, 2", which RFC 9110 section 8.6 lets a recipient take as
 * one); -1 for anything else.
 */
PS_GLOBAL __s64 ps_g_clen(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();
	__u32 stop, q;
	__s64 v, w;
	int i;

	if (!s || end > PS_BUF_SIZE)
		return -1;
	v = ps_clen_one(s->buf, ps_g_ows(p, end), end, &stop);
	if (v < 0)
		return -1;
	for (i = 0; i < 8; i++) {
		q = ps_g_ows(stop, end);
		if (q >= end)
			return v;
		if (q >= PS_BUF_SIZE || s->buf[q & PS_BUF_MASK] != ',')
			return -1;
		w = ps_clen_one(s->buf, ps_g_ows(q + 1, end), end, &stop);
		if (w != v)
			return -1;
	}
	return -1;
}

/*
 * Is "chunked" one of the comma-separated codings in buf[p..end)? A
 * coding that starts with "chunked" in any case after blanks and commas,
 * anywhere in the value: transfer-coding names are case-insensitive (RFC
 * 9110 section 10.1.4), and a reader that missed one a server honours
 * would take a chunked body, and the requests behind it, for something
 * else. tshark compares case-sensitively; penstock counts at least what a
 * server serves (docs/framing.md).
 */
PS_GLOBAL int ps_g_te_chunked(__u32 p, __u32 end)
{
	const __u64 want = PS_W8("chunked"), lc = 0x2020202020202020ULL;
	struct ps_scratch *s = ps_scratch();
	int i;

	if (!s || end > PS_BUF_SIZE)
		return 0;
	for (i = 0; i < 16; i++) {
		p = ps_g_skip(p, end, PS_SKIP_LIST);
		if (p + 7 > end || p >= PS_BUF_SIZE)
			return 0;
		if (((ps_load64(s->buf, p) | lc) & ps_mask(7)) == want)
			return 1;
		/* on to the next coding, after a comma */
		p = ps_g_find_byte(p, end, ',');
	}
	return 0;
}

PS_GLOBAL int ps_g_has_colon(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();

	if (!s || end > PS_BUF_SIZE)
		return 0;
	return ps_has_colon(s->buf, p, end);
}

PS_GLOBAL __s64 ps_g_hex(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();

	if (!s || end > PS_BUF_SIZE)
		return -1;
	return ps_parse_hex(s->buf, ps_g_ows(p, end), end);
}

/* The method token's length at p (up to a space or end, at most 17). */
PS_GLOBAL int ps_g_token(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();
	int i, n = 0;

	if (!s || end > PS_BUF_SIZE)
		return 0;
	for (i = 0; i < 17; i++) {
		if (p + i >= end || s->buf[(p + i) & PS_BUF_MASK] == ' ')
			break;
		n++;
	}
	return n;
}

/* Does the request target at p (up to a space or end) end in ":443"? */
PS_GLOBAL int ps_g_port443(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();
	__u32 q = p;
	int i;

	if (!s || end > PS_BUF_SIZE)
		return 0;
	for (i = 0; i < PS_LINE_CARRY; i++) {
		if (q >= end || s->buf[q & PS_BUF_MASK] == ' ')
			break;
		q++;
	}
	return q >= p + 4 && (ps_load64(s->buf, q - 4) & ps_mask(4)) == PS_W8(":443");
}

/* A token character (RFC 9110 section 5.6.2). */
static __always_inline int ps_tchar(__u8 c)
{
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return 1;
	if (c >= '0' && c <= '9')
		return 1;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
	case '+': case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return 1;
	}
	return 0;
}

/*
 * Has the line buf[p..end) the shape of an HTTP/1 request line, whatever
 * its method: a token, one space, a target, one space, "HTTP/1." and a
 * digit? Returns the token's length, 0 if not. Servers serve any method
 * token (FastAPI answers an unknown one 405, h11 and nginx read on); a
 * reader that skipped such a line with the rest of its segment, as tshark
 * does for methods outside its table, would lose the requests behind it.
 */
PS_GLOBAL int ps_g_reqline(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();
	__u64 tail;
	int i, n = 0;

	if (!s || end > PS_BUF_SIZE || end < p + 12)
		return 0;
	for (i = 0; i < 64; i++) {
		__u8 c = s->buf[(p + i) & PS_BUF_MASK];

		if (c == ' ')
			break;
		if (!ps_tchar(c))
			return 0;
		n++;
	}
	if (!n || n == 64 || p + n + 11 > end)
		return 0;
	tail = ps_load64(s->buf, end - 9);
	if (tail != PS_W8(" HTTP/1."))
		return 0;
	i = s->buf[(end - 1) & PS_BUF_MASK];
	return i >= '0' && i <= '9' && s->buf[(p + n + 1) & PS_BUF_MASK] != ' ' ? n : 0;
}

/*
 * Where the authority of an absolute-form target at p ends: at the path's
 * '/', a space or end.
 */
PS_GLOBAL __u32 ps_g_authority(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();
	int i;

	if (!s || end > PS_BUF_SIZE)
		return end;
	for (i = 0; i < 255; i++) {
		__u8 c;

		if (p >= end)
			break;
		c = s->buf[p & PS_BUF_MASK];
		if (c == '/' || c == ' ')
			break;
		p++;
	}
	return p;
}

/*
 * bpf_loop callback: one byte of a request target's path into s->path,
 * %XX decoded, from s->walk_q (up to a space or s->walk_end); 1 to stop.
 * The walk's state lives in the scratch, not in registers, so that the
 * verifier finds each turn like the one before and checks the callback
 * once rather than once per byte.
 */
static long ps_path_cb(__u32 i, void *data)
{
	struct ps_scratch *s = ps_scratch();
	__u32 q, n, end;
	int hi, lo;
	__u8 c;

	if (!s)
		return 1;
	q = s->walk_q;
	n = s->walk_n;
	end = s->walk_end;
	if (q >= end || n >= PS_PATH_MAX || end > PS_BUF_SIZE)
		return 1;
	c = s->buf[q & PS_BUF_MASK];
	if (c == ' ')
		return 1;
	/* Eight bytes at once where none is a space or a '%'. */
	if (q + 8 <= end && n <= PS_PATH_MAX - 8) {
		__u64 w = ps_load64(s->buf, q), ones = 0x0101010101010101ULL;

		if (!(ps_zero_bytes(w ^ (ones * ' ')) | ps_zero_bytes(w ^ (ones * '%')))) {
			*(__u64 *)(void *)&s->path[n & (PS_PATH_MAX - 1)] = w;
			s->walk_q = q + 8;
			s->walk_n = n + 8;
			return 0;
		}
	}
	q++;
	if (c == '%' && q + 1 < end) {
		hi = ps_hexdig(s->buf[q & PS_BUF_MASK]);
		lo = ps_hexdig(s->buf[(q + 1) & PS_BUF_MASK]);
		if (hi >= 0 && lo >= 0) {
			c = (hi << 4) | lo;
			q += 2;
		}
	}
	s->path[n & (PS_PATH_MAX - 1)] = c;
	s->walk_q = q;
	s->walk_n = n + 1;
	return 0;
}

/*
 * The fast path of a path without escapes (ps_h1_fast): its words copied
 * to s->path as ps_path_cb() would copy them, in one loop, up to the
 * space that ends it; 1 if the walk is over (the space found), 0 to let
 * ps_path_cb() go on from where it stopped (a '%', the path's end not in
 * sight, s->path full). The bytes before the space are merged into the
 * word they share, the rest of s->path left as the byte-by-byte copy
 * leaves it. A global function, verified once, called where
 * ps_path_cb() is called, as deep.
 */
__weak __attribute__((noinline)) int ps_g_path_words(void)
{
	struct ps_scratch *s = ps_scratch();
	__u32 q, n, end, k;
	__u64 w, t, m;

	/* from the path's start: s->walk_n is 0 */
	if (!s || s->walk_n)
		return 0;
	q = s->walk_q;
	end = s->walk_end;
	if (end > PS_BUF_SIZE)
		return 0;
	for (n = 0; n <= PS_PATH_MAX - 8; n += 8) {
		if (q + n + 8 > end)
			break;
		w = ps_load64(s->buf, q + n);
		t = ps_zero_bytes(w ^ 0x2020202020202020ULL) |
		    ps_zero_bytes(w ^ 0x2525252525252525ULL);	/* ' ', '%' */
		if (!t) {
			*(__u64 *)(void *)&s->path[n] = w;
			continue;
		}
		k = ps_lowest_byte(t);
		if (s->buf[(q + n + k) & PS_BUF_MASK] != ' ')
			break;
		if (k) {
			m = ps_mask(k);
			*(__u64 *)(void *)&s->path[n] =
				(*(__u64 *)(void *)&s->path[n] & ~m) | (w & m);
		}
		s->walk_q = q + n + k;
		s->walk_n = n + k;
		return 1;
	}
	s->walk_q = q + n;
	s->walk_n = n;
	return 0;
}

/*
 * Does the request target at p (up to a space or end) name one of the
 * endpoint's inference paths, as the server routes it? An absolute-form
 * target (http://host/path, RFC 9112 section 3.2.2) is routed by its path,
 * and %XX escapes are decoded before routing (uvicorn hands the decoded
 * path to the application): the path is compared decoded. A global
 * function, verified once for the first line's and the hunted line's
 * callers.
 */
__weak __attribute__((noinline)) int ps_g_inference(__u32 p, __u32 end, __u32 ep)
{
	struct ps_scratch *s = ps_scratch();
	__u64 v;

	if (!s || end > PS_BUF_SIZE || p >= end)
		return 0;
	if (s->buf[p & PS_BUF_MASK] != '/') {
		v = ps_load64(s->buf, p) | 0x2020202020202020ULL;
		if ((v & ps_mask(7)) == PS_W8("http://"))
			p += 7;
		else if (v == PS_W8("https://"))
			p += 8;
		else
			return 0;
		p = ps_g_authority(p, end);
		if (p >= end || s->buf[p & PS_BUF_MASK] != '/')
			return 0;
	}
	s->walk_q = p;
	s->walk_end = end;
	s->walk_n = 0;
	if (!ps_h1_fast || !ps_g_path_words())
		bpf_loop(3 * PS_PATH_MAX, ps_path_cb, NULL, 0);
	return ps_inference_path(s->path, s->walk_n, ep);
}


/*
 * The first line of a message. A known method (tshark's table) or any
 * token with the request line's shape makes it a request; a status line
 * makes it a response, framed like one; anything else is not HTTP, and
 * the rest of the segment is skipped (as tshark).
 */
static __always_inline void ps_h1_first_line(struct ps_scratch *s, __u32 ls, __u32 ce)
{
	struct ps_http *h = &s->h;
	const __u8 *buf = s->buf;
	__u32 n, p = ls;
	int known;

	/* The HTTP/2 connection preface: prior knowledge, or the client's
	 * first bytes after a 101 to an h2c Upgrade. */
	if (ps_h2_preface_line(buf, ls, ce)) {
		ps_h2_enter(s, PS_H2_PREFACE);
		return;
	}
	if (ce - ls >= 2 && buf[ls & PS_BUF_MASK] == 'M' && buf[(ls + 1) & PS_BUF_MASK] == '-')
		p += 2;
	/* method token: up to the first space, or the whole line */
	n = ps_g_token(p, ce);
	/* A first line carried over from an earlier segment keeps its
	 * message marked as spanning segments. */
	h->flags = h->state == PS_H1_REQLINE ? h->flags & PS_H1F_SPANNED : 0;
	if (s->rq_ep)
		__builtin_memset(&s->fw, 0, sizeof(s->fw));
	if (s->key_ep)
		__builtin_memset(&s->key, 0, sizeof(s->key));
	h->clen = 0;
	h->state = PS_H1_HEADERS;
	if (ce - p >= 5 && (ps_load64(buf, p) & ps_mask(5)) == PS_W8("HTTP/")) {
		h->flags = PS_H1F_RESPONSE;
		return;
	}
	if (n == 3 && (ps_load64(buf, p) & ps_mask(3)) == PS_W8("ICY")) {
		h->flags = PS_H1F_RESPONSE;
		return;
	}
	known = n < 17 && ps_is_method(ps_load64(buf, p), ps_load64(buf, p + 8), n);
	if (!known) {
		n = ps_g_reqline(p, ce);
		if (!n) {
			h->state = PS_H1_SKIP_SEGMENT;
			return;
		}
	}
	h->flags |= PS_H1F_REQUEST;
	/* Its bytes wait for its client from the line's start (carried from
	 * an earlier chunk: carry_len bytes before this one). */
	if (s->b_on)
		ps_g_rb_mark(ls == 0 && s->cc ? s->chunk_seq - h->carry_len :
						s->chunk_seq + ls - s->cc);
	/* A tunnel to port 443 is read on as HTTP: tshark hands it to TLS,
	 * whose heuristics give cleartext back to HTTP (and TLS records are
	 * never requests). */
	if (known && n == 7 && (ps_load64(buf, p) & ps_mask(7)) == PS_W8("CONNECT") &&
	    !ps_g_port443(p + n + 1, ce))
		h->flags |= PS_H1F_CONNECT;
	if (ps_g_inference(p + n + 1, ce, s->endpoint)) {
		h->flags |= PS_H1F_INFERENCE;
		/* Known to be an inference request from here on: the segment
		 * is judged by it (ps_gate_segment()). On a forwarded
		 * connection, once its headers name its client. */
		if (!s->late)
			ps_rq_pend(s, s->chunk_seq + (ce - s->cc), 0);
	}
}

/*
 * The empty line ending a header block, at stream position pos: how is the
 * body framed?
 */
static __always_inline void ps_h1_headers_end(struct ps_scratch *s, __u32 pos)
{
	struct ps_http *h = &s->h;
	__u32 sk = 0;
	int k;

	if (s->late && (h->flags & PS_H1F_REQUEST)) {
		k = ps_g_rq_settle(!!(h->flags & PS_H1F_INFERENCE));
		sk = s->rq_family ? ps_g_subj() : 0;
		if (k == PS_SETTLE_CONN)
			ps_rq_pend(s, pos, 0);
		else if (k == PS_SETTLE_OWN)
			ps_rq_pend(s, pos, sk);
		else if (k == PS_SETTLE_BLOCKED && sk)
			ps_rq_pend(s, pos, sk | PS_PEND_BLOCK_ONLY);
		ps_g_rb_settle(pos, sk);
	}

	/* Its responses come back in order: the egress program learns from
	 * the flow's queue which ones answer inference requests, and whose
	 * requests they answer. */
	if (h->flags & PS_H1F_REQUEST) {
		ps_rq_note(s, h->flags & PS_H1F_INFERENCE);
		s->rq_k[s->rq_pn & (PS_RQ_QUEUE - 1)] = sk;
		s->rq_pn++;
	}
	/* Its segment carrying FIN completes the message without its body. */
	if (s->fin)
		ps_h1_count(s);
	if (h->flags & PS_H1F_CHUNKED) {
		h->state = PS_H1_CHUNK_SIZE;
	} else if (h->flags & PS_H1F_TE) {
		/* A coding other than chunked: the body is the rest of the
		 * segment. */
		ps_h1_done(s);
		h->state = PS_H1_SKIP_SEGMENT;
	} else if (h->flags & PS_H1F_CLEN) {
		if (h->clen >= 0x80000000ULL) {
			/* Beyond tshark's 32-bit length: it takes the message
			 * as ending with the segment. */
			ps_h1_done(s);
			h->state = PS_H1_SKIP_SEGMENT;
		} else if (h->clen) {
			h->state = PS_H1_BODY;
			h->body_left = h->clen;
		} else {
			ps_h1_done(s);
		}
	} else if (h->flags & PS_H1F_RESPONSE) {
		/* A response without length runs to the end of the connection. */
		h->state = PS_H1_DEAD;
	} else {
		ps_h1_done(s);
	}
}

/* A Content-Length or Transfer-Encoding value at p..ce. */
static __always_inline void ps_h1_clen(struct ps_http *h, __u32 p, __u32 ce)
{
	/* The last Content-Length header decides; one that is not a number
	 * leaves the message without a length. */
	__s64 v = ps_g_clen(p, ce);

	if (v >= 0) {
		h->clen = v;
		h->flags |= PS_H1F_CLEN;
	} else {
		h->flags &= ~PS_H1F_CLEN;
	}
}

static __always_inline void ps_h1_te(struct ps_http *h, __u32 p, __u32 ce)
{
	h->flags |= PS_H1F_TE;
	if (ps_g_te_chunked(p, ce))
		h->flags |= PS_H1F_CHUNKED;
}


/*
 * What a header line that is no obs-fold ends, the fast path's lines
 * (ps_g_h1_skim()) as any other: the previous line's value can no longer
 * go on.
 */
static __always_inline void ps_h1_unfold(struct ps_scratch *s)
{
	s->h.flags &= ~(PS_H1F_PREV_TE | PS_H1F_PREV_CL);
	s->key.flags &= ~(PS_KEYF_FOLD | PS_KEYF_FOLD_KEY);
}

/* A header line of the block (not its empty end). */
static __always_inline void ps_h1_header(struct ps_scratch *s, __u32 ls, __u32 ce)
{
	struct ps_http *h = &s->h;
	const __u8 *buf = s->buf;
	__u8 c0 = buf[ls & PS_BUF_MASK];
	__u32 p;

	if (c0 == ' ' || c0 == '\t') {
		/* obs-fold (RFC 9112 section 5.2): the previous header's
		 * value goes on. h11 and http-parser unfold it, so a folded
		 * Transfer-Encoding or Content-Length frames the body. */
		if (h->flags & PS_H1F_PREV_TE)
			ps_h1_te(h, ls, ce);
		else if ((h->flags & PS_H1F_PREV_CL) && !(h->flags & PS_H1F_CLEN))
			ps_h1_clen(h, ls, ce);
		else if (s->key.flags & (PS_KEYF_FOLD | PS_KEYF_FOLD_KEY))
			/* ... and so is a key line's whose key had not begun. */
			ps_key_folded(s, ls, ce);
		return;
	}
	ps_h1_unfold(s);
	if (!s->colon) {
		/* Not a header: the message ends here for framing, though
		 * completion still follows the headers. */
		h->flags |= PS_H1F_NOCOLON;
		return;
	}
	/* Only three header names matter; their first letters pick which to
	 * compare. */
	switch (c0 | 0x20) {
	case 'c':
		p = ps_hdr_colon(buf, ps_header_is(buf, ls, ce, PS_W8("content-"),
						  PS_W8("length"), 0, 14), ce);
		if (p) {
			ps_h1_clen(h, p, ce);
			h->flags |= PS_H1F_PREV_CL;
		}
		return;
	case 't':
		p = ps_hdr_colon(buf, ps_header_is(buf, ls, ce, PS_W8("transfer"),
						  PS_W8("-encodin"), PS_W8("g"), 17), ce);
		if (p) {
			ps_h1_te(h, p, ce);
			h->flags |= PS_H1F_PREV_TE;
		}
		return;
	case 'u':
		if (((ps_load64(buf, ls) | 0x2020202020202020ULL) & ps_mask(8)) ==
		    PS_W8("upgrade:"))
			h->flags |= PS_H1F_UPGRADE;
		return;
	case 'a':
		ps_key_header(s, ls, ce);
		return;
	case 'x':
		ps_key_header(s, ls, ce);
		/* fall through */
	case 'f':
		if (s->fwd_ep)
			ps_fwd_header(s, ls, ce);
		return;
	}
}

/* A chunk-size line (or what follows chunk data on its line). */
static __always_inline void ps_h1_chunk_size(struct ps_scratch *s, __u32 ls, __u32 ce)
{
	struct ps_http *h = &s->h;
	__s64 v = ps_g_hex(ls, ce);

	if (v == 0) {
		/* The last chunk completes the message; its trailers are not
		 * waited for, only walked (ps_h1_feed()). */
		h->flags |= PS_H1F_LASTCHUNK;
		h->state = PS_H1_TRAILERS;
	} else if (v >= 0x80000000LL) {
		/* Beyond tshark's 32-bit sizes: the message is complete and
		 * the chunk takes the segment. */
		ps_h1_done(s);
		h->state = PS_H1_SKIP_SEGMENT;
	} else if (v > 0) {
		h->state = PS_H1_CHUNK_DATA;
		h->body_left = v;
	} else {
		/* Not a chunk size: the message is complete, and its body
		 * ends at the next empty line. */
		ps_h1_count(s);
		h->state = PS_H1_TRAILERS;
	}
}

/* ps_h1_hunt_kind(): what a hunted line is */
#define PS_HUNT_OTHER	1	/* a request for a path that is no inference path */
#define PS_HUNT_INF	2	/* an inference request */
#define PS_HUNT_UNSEEN	3	/* a request whose target is not in the buffer */

/*
 * The last space in buf[ls..te), or -1. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_g_last_space(__u32 ls, __u32 te)
{
	struct ps_scratch *s = ps_scratch();
	__u32 i, p;

	if (!s || te > PS_BUF_SIZE || ls >= te)
		return -1;
	for (i = 0; i < PS_LINE_CARRY + PS_CHUNK; i++) {
		if (i >= te - ls)
			return -1;
		p = te - 1 - i;
		if (s->buf[p & PS_BUF_MASK] == ' ')
			return p;
	}
	return -1;
}

/*
 * A line buf[ls..ce) of a stream without framing (PS_H1_HUNT): does it end
 * like a request line, " HTTP/1." and a digit, spaces or tabs after them
 * at most? Whatever comes before the method (the end of a body) does not
 * matter: the target is the text between the last space before the version
 * and the version. 0 when the line is no request line, else PS_HUNT_*.
 */
static __always_inline int ps_h1_hunt_kind(struct ps_scratch *s, __u32 ls, __u32 ce)
{
	__u32 e = ce, te, i;
	int sp;
	__u8 c;

	if (ce > PS_BUF_SIZE)
		return 0;
	for (i = 0; i < 4; i++) {
		if (e <= ls)
			return 0;
		c = s->buf[(e - 1) & PS_BUF_MASK];
		if (c != ' ' && c != '\t')
			break;
		e--;
	}
	if (e < ls + 10)
		return 0;
	c = s->buf[(e - 1) & PS_BUF_MASK];
	if (c < '0' || c > '9' || ps_load64(s->buf, e - 9) != PS_W8(" HTTP/1."))
		return 0;
	te = e - 9;
	sp = ps_g_last_space(ls, te);
	if (sp < 0 || (__u32)sp + 1 >= te)
		return PS_HUNT_UNSEEN;
	return ps_g_inference(sp + 1, te, s->endpoint) ? PS_HUNT_INF : PS_HUNT_OTHER;
}

/*
 * A hunted line that ends like a request line: a request, counted there;
 * an inference request, or one whose target is out of sight, judged by
 * the connection's client's limit.
 */
static __always_inline void ps_h1_hunted(struct ps_scratch *s, __u32 ls, __u32 ce)
{
	int k = ps_h1_hunt_kind(s, ls, ce);

	if (!k)
		return;
	s->nhunt++;
	s->nreq++;
	if (k == PS_HUNT_INF)
		s->ninf++;
	if (k != PS_HUNT_OTHER)
		ps_rq_pend(s, s->chunk_seq + (ce - s->cc), 0);
	ps_rq_note(s, k == PS_HUNT_INF);
	s->rq_k[s->rq_pn & (PS_RQ_QUEUE - 1)] = 0;
	s->rq_pn++;
}

/*
 * Handle one complete line buf[ls..ce) of the scratch (line end excluded),
 * by the state the parser is in.
 */
static __always_inline int ps_h1_line(struct ps_scratch *s, __u32 ls, __u32 ce)
{
	struct ps_http *h = &s->h;

	if (ls > PS_BUF_SIZE || ce > PS_BUF_SIZE || ce < ls)
		return -1;
	switch (h->state) {
	case PS_H1_START:
	case PS_H1_REQLINE:
		ps_h1_first_line(s, ls, ce);
		return 0;
	case PS_H1_HEADERS:
	case PS_H1_HDRLINE:
		h->state = PS_H1_HEADERS;
		if (s->key.flags & PS_KEYF_CONT)
			ps_key_cont(s, ls, ce);
		else if (s->fw.flags & PS_FWDF_CONT)
			ps_fwd_cont(s, ls, ce);
		else if (ce == ls)
			ps_h1_headers_end(s, s->chunk_seq + (ce - s->cc));
		else
			ps_h1_header(s, ls, ce);
		return 0;
	case PS_H1_CHUNK_CRLF:
		/* The line end after chunk data; anything else on it is
		 * read as the next chunk-size line. */
		if (ce == ls) {
			h->state = PS_H1_CHUNK_SIZE;
			return 0;
		}
		/* fall through */
	case PS_H1_CHUNK_SIZE:
		ps_h1_chunk_size(s, ls, ce);
		return 0;
	case PS_H1_TRAILERS:
		if (ce == ls)
			ps_h1_done(s);
		return 0;
	case PS_H1_HUNT:
		ps_h1_hunted(s, ls, ce);
		return 0;
	}
	return 0;
}

/* States that skip body_left bytes without reading them. */
static __always_inline int ps_skipping(__u8 state)
{
	return state == PS_H1_BODY || state == PS_H1_CHUNK_DATA || state == PS_H2_PAYLOAD ||
	       state == PS_H2_PREFACE;
}

static __always_inline int ps_h1_line_state(__u8 state)
{
	return state != PS_H1_BODY && state != PS_H1_CHUNK_DATA &&
	       state != PS_H1_SKIP_SEGMENT && state != PS_H1_DEAD && state != PS_H1_REFILL &&
	       !ps_h2_state(state);
}

/*
 * Position of the first line end ('\n' or '\r') in the scratch buffer at
 * or after from and before len, or -1; s->colon tells whether a ':' came
 * before it. Eight bytes at a time: the has-zero-byte trick on word ^
 * 0x0a..0a, 0x0d..0d and 0x3a..3a, whose lowest flagged byte is exact. A
 * global function, verified once.
 */
__weak __attribute__((noinline)) int ps_find_nl(__u32 from, __u32 len)
{
	struct ps_scratch *s = ps_scratch();
	__u32 off, i, colon = 0;

	if (!s || len > PS_BUF_SIZE)
		return -1;
	for (i = 0; i < (PS_LINE_CARRY + PS_CHUNK) / 8; i++) {
		__u64 w, x, y, z, t, tc;

		off = from + i * 8;
		if (off >= len)
			break;
		w = ps_load64(s->buf, off);
		x = w ^ 0x0a0a0a0a0a0a0a0aULL;
		y = w ^ 0x0d0d0d0d0d0d0d0dULL;
		z = w ^ 0x3a3a3a3a3a3a3a3aULL;
		t = ((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL) |
		    ((y - 0x0101010101010101ULL) & ~y & 0x8080808080808080ULL);
		tc = (z - 0x0101010101010101ULL) & ~z & 0x8080808080808080ULL;
		/* Same word: a colon counts if it comes before the line end
		 * (the lowest flag of each mask is exact). */
		if (tc && (!t || (tc & -tc) < (t & -t)))
			colon = 1;
		if (t) {
			off += ps_lowest_byte(t);
			s->colon = colon;
			return off < len ? (int)off : -1;
		}
	}
	return -1;
}

/* Could no per-line code act on the header line at q (read as far as
 * eight bytes past its start, in any case)? */
static __always_inline int ps_h1_plain(const __u8 *buf, __u32 q)
{
	const __u64 lc = 0x2020202020202020ULL;
	__u8 c0 = buf[q & PS_BUF_MASK];
	__u64 w = ps_load64(buf, q) | lc;

	if (c0 == '\r' || c0 == '\n' || c0 == ' ' || c0 == '\t')
		return 0;
	switch (c0 | 0x20) {
	case 'c':
		return w != PS_W8("content-") ||
		       ((ps_load64(buf, q + 8) | lc) & ps_mask(6)) != PS_W8("length");
	case 't':
		return w != PS_W8("transfer");
	case 'u':
		return (w & ps_mask(7)) != PS_W8("upgrade");
	case 'a':
		return (w & ps_mask(7)) != PS_W8("api-key") && w != PS_W8("authoriz");
	case 'x':
		return w != PS_W8("x-api-ke") && w != PS_W8("x-forwar");
	case 'f':
		return w != PS_W8("forwarde");
	}
	return 1;
}

/* Header lines one ps_g_h1_skim() call takes at most. */
#define PS_SKIM_LINES	32

/*
 * The fast path through a header block (ps_h1_fast): the header lines that
 * no per-line code acts on are taken in one call, a loop over lines,
 * instead of a bpf_loop() turn and a ps_h1_next() call each. Left to
 * ps_h1_next()'s line-by-line path, unchanged: the request line, the
 * block's empty end, an obs-fold, a line without a colon, a line end
 * other than CRLF or LF, a line the buffer does not hold whole, and every
 * line whose name could be one the parser reads (Content-Length,
 * Transfer-Encoding, Upgrade, the key lines, the forwarded lines) by its
 * first eight bytes in any case (ps_h1_plain(): a superset of the names
 * ps_h1_header() compares). A line taken leaves what the slow path leaves
 * for it: what a line ends gone (ps_h1_unfold()), s->colon set (by
 * ps_find_nl()), nothing pending.
 *
 * From the header line at s->ls: s->ls moved to the start of the first
 * line the fast path does not take, PS_SKIM_LINES taken at most. Each line
 * end is found by ps_find_nl(), as on the slow path. A global function,
 * verified once; called from the line callback (ps_h1_line_cb()), where
 * ps_find_nl() is as many calls deep below it as below ps_h1_next() (the
 * chain of calls is at its stack's limit: no local is added there).
 */
__weak __attribute__((noinline)) int ps_g_h1_skim(void)
{
	struct ps_scratch *s = ps_scratch();
	__u32 i, q, len, next;
	int nl;

	if (!s || s->h.state != PS_H1_HEADERS || (s->key.flags & PS_KEYF_CONT) ||
	    (s->fw.flags & PS_FWDF_CONT))
		return 0;
	q = s->ls;
	len = s->len;
	if (len > PS_LINE_CARRY + PS_CHUNK)
		return 0;
	/* The scratch is looked up again after each call: fewer values live
	 * across it. */
	for (i = 0; i < PS_SKIM_LINES; i++) {
		s = ps_scratch();
		if (!s || q >= len || !ps_h1_plain(s->buf, q))
			break;
		nl = ps_find_nl(q, len);
		s = ps_scratch();
		if (!s || nl < 0 || nl >= len || !s->colon)
			break;
		next = nl + 1;
		if (s->buf[nl & PS_BUF_MASK] == '\r') {
			if (next >= len || s->buf[next & PS_BUF_MASK] != '\n')
				break;
			next++;
		}
		ps_h1_unfold(s);
		s->ls = next;
		q = next;
	}
	return 0;
}

/*
 * Handle the next complete line of the scratch buffer. Returns non-zero
 * to stop: no complete line is left, or the parser left the line-oriented
 * states (a body starts, the segment is skipped). A global function,
 * verified once.
 */
PS_GLOBAL int ps_h1_next(void)
{
	struct ps_scratch *s = ps_scratch();
	__u32 ls, next;
	int nl;

	if (!s)
		return 1;
	ls = s->ls;
	if (ls >= s->len || ls >= PS_BUF_SIZE)
		return 1;
	if (s->h.state == PS_H1_START) {
		__u8 c0 = s->buf[ls & PS_BUF_MASK];
		__u32 p;

		/* At a message boundary blank lines are skipped, any number
		 * of CRs and LFs, as servers do (RFC 9112 section 2.2): tshark
		 * skips one CRLF only, and would lose the request after two.
		 * A first byte that is not printable ASCII ends HTTP for the
		 * rest of the segment. */
		if (c0 == '\r' || c0 == '\n') {
			p = ps_g_skip(ls, s->len, PS_SKIP_CRLF);
			s->ls = p;
			return p < s->len ? 0 : 1;
		}
		if (c0 < 0x20 || c0 > 0x7e) {
			/* The first bytes of a connection picked up midway may
			 * be HTTP/2 frames. */
			if (s->h2_probe && s->len - ls >= PS_H2_FRAME_HDR &&
			    ps_h2_plausible(s->buf, ls)) {
				ps_h2_enter(s, PS_H2_FRAME);
				return 1;
			}
			if (!s->hunt) {
				s->h.state = PS_H1_SKIP_SEGMENT;
				return 1;
			}
		}
		/* Live, text on a connection picked up midway: where its
		 * messages start is not known, and never will be. */
		if (s->hunt)
			s->h.state = PS_H1_HUNT;
	}
	nl = ps_find_nl(ls, s->len);
	if (nl < 0 || nl >= PS_BUF_SIZE)
		return 1;
	/* Line ends as tshark's tvb_find_line_end(): CR LF, LF, or a CR
	 * alone; a CR that ends the data waits for the next byte. */
	next = nl + 1;
	if (s->buf[nl & PS_BUF_MASK] == '\r') {
		if (next >= s->len)
			return 1;
		if (s->buf[next & PS_BUF_MASK] == '\n')
			next++;
	}
	ps_h1_line(s, ls, nl);
	s->ls = next;
	return ps_h1_line_state(s->h.state) ? 0 : 1;
}

/* bpf_loop callback around ps_h1_next(). */
static long ps_h1_line_cb(__u32 idx, void *ctx)
{
	int stop;

	if (ps_h1_fast)
		ps_g_h1_skim();
	stop = ps_h1_next();

	/* A forwarded line's entries, walked here, and a key line's key,
	 * hashed here: one call above the line's parsing, where calls and
	 * the stack have room. */
	ps_fwd_pending();
	ps_key_pending();
	return stop ? 1 : 0;
}

/* Where ps_h1_feed() reads its bytes from. */
#define PS_SRC_SKB	0
#define PS_SRC_OOO	1	/* the per-CPU ps_ooo_buf */
#define PS_SRC_MASK	0xff
#define PS_FEED_FIN	0x100	/* or'ed in: the segment carries FIN */

/* A stashed segment being replayed, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_ooo_seg);
} ps_ooo_buf SEC(".maps") __weak;

/*
 * A segment cut short by the capture: tshark reads its captured bytes
 * without waiting for line ends. A request counts if its method token is
 * captured and the bytes do not stop inside a header line with no colon.
 */
static __always_inline void ps_h1_cut(struct ps_scratch *s)
{
	struct ps_http *h = &s->h;
	__u32 cl = h->carry_len < PS_LINE_CARRY ? h->carry_len : PS_LINE_CARRY;

	if (h->state == PS_H1_REQLINE && cl) {
		__builtin_memcpy(s->buf, h->carry, PS_LINE_CARRY);
		s->cc = cl;
		h->state = PS_H1_START;
		ps_h1_line(s, 0, cl);
		if (h->flags & PS_H1F_REQUEST)
			ps_h1_count(s);
		return;
	}
	if (h->state != PS_H1_HEADERS && h->state != PS_H1_HDRLINE)
		return;
	/* (The carry of a forwarded line holds its unfinished entry.) */
	if (cl && !(s->fw.flags & PS_FWDF_CONT) && !(s->key.flags & PS_KEYF_CONT)) {
		__builtin_memcpy(s->buf, h->carry, PS_LINE_CARRY);
		if (!ps_g_has_colon(0, cl))
			return;
	}
	ps_h1_count(s);
}

/* The state of one ps_h1_feed() call, shared by its steps. */
struct ps_feed {
	__u32 src;
	__u32 off;
	__u32 len;
	__u32 avail;
	__u32 done;
	__u32 n;		/* bytes to load in this step */
	__u32 cc;		/* carry bytes at the head of the buffer */
};

/*
 * The bpf_loop context: the skb beside, not inside, the memory handed to
 * global functions, which the verifier takes as overwritten by them.
 */
struct ps_feed_ctx {
	struct ps_feed fc;
	struct __sk_buff *skb;
};

/* What ps_h1_pre() asks of the step. */
#define PS_STEP_NEXT	0	/* done with this step, go on */
#define PS_STEP_STOP	1	/* the segment is done */
#define PS_STEP_LOAD	2	/* load fc->n bytes into the buffer after the carry */

/*
 * First half of a step of ps_h1_feed(): skip body bytes, or prepare the
 * buffer for the lines of one chunk (the carry at its head) and say how
 * many bytes to load. Global functions are verified once; what is left
 * in the bpf_loop callback, verified on every iteration, is the load.
 */
__weak __attribute__((noinline)) int ps_h1_pre(struct ps_feed *fc)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_http *h;
	__u32 n, cc;

	if (!s || !fc || fc->done >= fc->len)
		return PS_STEP_STOP;
	h = &s->h;
	switch (h->state) {
	case PS_H1_DEAD:
	case PS_H1_REFILL:
		return PS_STEP_STOP;
	case PS_H1_BODY:
	case PS_H1_CHUNK_DATA:
		n = fc->len - fc->done;
		if (h->body_left < n)
			n = h->body_left;
		h->body_left -= n;
		fc->done += n;
		if (!h->body_left) {
			if (h->state == PS_H1_BODY)
				ps_h1_done(s);
			else
				h->state = PS_H1_CHUNK_CRLF;
		}
		return PS_STEP_NEXT;
	case PS_H1_SKIP_SEGMENT:
		fc->done = fc->len;
		return PS_STEP_STOP;
	case PS_H2_GDATA: {
		/* Inside a gRPC message: its bytes skipped unread. */
		struct ps_h2g_slot *g = &s->h2c.g[s->h2c.gslot & (PS_H2G_SLOTS - 1)];

		if (!h->body_left || g->pfx || !g->left)
			break;	/* a prefix, or the data's end: read */
		n = fc->len - fc->done;
		if (h->body_left < n)
			n = h->body_left;
		if (g->left < n)
			n = g->left;
		h->body_left -= n;
		g->left -= n;
		fc->done += n;
		return PS_STEP_NEXT;
	}
	case PS_H2_PREFACE:
	case PS_H2_PAYLOAD:
		n = fc->len - fc->done;
		if (h->body_left < n)
			n = h->body_left;
		h->body_left -= n;
		fc->done += n;
		if (!h->body_left)
			h->state = PS_H2_FRAME;
		return PS_STEP_NEXT;
	}
	if (fc->done >= fc->avail) {
		/* The bytes a line needs are missing. A segment cut by the
		 * capture's snap length is read as far as it goes, and the
		 * parser waits for a retransmission of the rest; bytes never
		 * kept out of order lose framing for the connection. */
		if (fc->src == PS_SRC_SKB && ps_replay) {
			__u32 flags = h->flags;
			__u8 state = h->state;

			s->chunk_seq = s->seq + fc->done;
			ps_h1_cut(s);
			h->flags = flags | (h->flags & PS_H1F_COUNTED);
			h->refill_state = state;
			h->refill_seq = s->seq + fc->done;
			h->state = PS_H1_REFILL;
		} else if (ps_replay) {
			h->state = PS_H1_DEAD;
		} else {
			/* Live, no byte is missing unless the server took it
			 * another way: start again after it (resync.h). */
			ps_stat_inc(PS_STAT_RESYNC);
			h->carry_len = 0;
			h->flags = 0;
			h->state = PS_H1_SKIP_SEGMENT;
		}
		return PS_STEP_STOP;
	}
	n = fc->avail - fc->done;
	if (n > PS_CHUNK)
		n = PS_CHUNK;
	cc = h->carry_len < PS_LINE_CARRY ? h->carry_len : PS_LINE_CARRY;
	if (cc)
		__builtin_memcpy(s->buf, h->carry, PS_LINE_CARRY);
	fc->n = n;
	fc->cc = cc;
	return PS_STEP_LOAD;
}

/*
 * Second half of a step: parse the lines of the loaded chunk. Inlined into
 * the step's callback (eight frames at most: the parser's helpers are four
 * calls below the stash replay); fc is what ps_h1_pre() was handed, so the
 * verifier knows nothing of it here.
 */
static __always_inline int ps_h1_post(struct ps_feed *fc)
{
	struct ps_scratch *s = ps_scratch();
	__u32 n, cc, used, ls, from;
	struct ps_http *h;

	if (!s || !fc)
		return PS_STEP_STOP;
	h = &s->h;
	n = fc->n;
	cc = fc->cc;
	if (n > PS_CHUNK || cc > PS_LINE_CARRY)
		return PS_STEP_STOP;
	s->len = cc + n;
	s->ls = 0;
	s->rest = fc->len - fc->done - n;
	s->chunk_seq = s->seq + fc->done;
	s->cc = cc;
	bpf_loop(PS_LINES_MAX, ps_h1_line_cb, NULL, 0);
	ls = s->ls;
	if (ls >= s->len) {
		used = n;
		h->carry_len = 0;
	} else if ((h->state == PS_H1_HEADERS || h->state == PS_H1_HDRLINE) &&
		   (ps_g_key_partial(ls) || (s->fwd_ep && ps_g_fwd_partial(ls)))) {
		/* A forwarded line or a key line goes on: what it holds so
		 * far is read, not carried. */
		used = n;
	} else if (h->state == PS_H1_HUNT) {
		/* An unfinished hunted line: keep its last bytes, where a
		 * request line's target and version are. */
		from = s->len - ls > PS_LINE_CARRY ? s->len - PS_LINE_CARRY : ls;
		if (from > PS_LINE_CARRY + PS_CHUNK)
			return PS_STEP_STOP;	/* unreachable: from < len */
		__builtin_memcpy(h->carry, s->buf + from, PS_LINE_CARRY);
		h->carry_len = s->len - from;
		used = n;
	} else if (ps_h1_line_state(h->state)) {
		/* An unfinished line: keep its first bytes. */
		if (ls > PS_LINE_CARRY + PS_CHUNK)
			return PS_STEP_STOP;	/* unreachable: ls < len */
		__builtin_memcpy(h->carry, s->buf + ls, PS_LINE_CARRY);
		if (ls == 0)
			h->carry_len = h->carry_len + n > 0xffff ? 0xffff : h->carry_len + n;
		else
			h->carry_len = s->len - ls;
		if (h->state == PS_H1_START)
			h->state = PS_H1_REQLINE;
		else if (h->state == PS_H1_HEADERS)
			h->state = PS_H1_HDRLINE;
		used = n;
	} else {
		/* A body or a skip starts inside this chunk. */
		used = ls > cc ? ls - cc : 0;
		h->carry_len = 0;
	}
	fc->done += used;
	return PS_STEP_NEXT;
}

/* bpf_loop callback: one step of ps_h1_feed(). */
static long ps_feed_step(__u32 idx, void *data)
{
	struct ps_feed_ctx *ctx = data;
	struct ps_feed *fc = &ctx->fc;
	struct ps_scratch *s;
	struct ps_ooo_seg *seg;
	__u32 zero = 0, n, cc;
	int ret, err;

	ret = ps_h1_pre(fc);
	if (ret != PS_STEP_LOAD)
		return ret == PS_STEP_STOP ? 1 : 0;
	s = ps_scratch();
	if (!s)
		return 1;
	n = fc->n;
	cc = fc->cc;
	barrier_var(n);
	barrier_var(cc);
	if (!n || n > PS_CHUNK || cc > PS_LINE_CARRY)
		return 1;
	if (fc->src == PS_SRC_OOO) {
		seg = bpf_map_lookup_elem(&ps_ooo_buf, &zero);
		if (!seg || fc->off + fc->done + n > PS_OOO_SEG_MAX)
			return 1;
		err = bpf_probe_read_kernel(s->buf + cc, n, seg->data + fc->off + fc->done);
	} else {
		err = bpf_skb_load_bytes(ctx->skb, fc->off + fc->done, s->buf + cc, n);
	}
	if (err) {
		s->h.state = PS_H1_DEAD;
		return 1;
	}
	ps_buf_loaded(s, cc + n);
	if (s->h.state == PS_H2_FRAME || s->h.state == PS_H2_BLOCK || s->h.state == PS_H2_GDATA) {
		s->chunk_seq = s->seq + fc->done;
		s->cc = cc;
		fc->done += ps_h2_chunk(s, cc, n);
		return 0;
	}
	return ps_h1_post(fc) == PS_STEP_STOP ? 1 : 0;
}

/*
 * Feed len bytes of the client stream to the parser in the scratch; the
 * first avail of them can be read, from the skb at off or from ps_ooo_buf
 * at off (src, with PS_FEED_FIN when the segment ends the stream); the
 * rest were not captured (or not kept) and are only skipped when a body
 * covers them. A global function, so the verifier checks it
 * once however many call sites there are.
 */
__weak __attribute__((noinline)) int ps_h1_feed(struct __sk_buff *skb, __u32 src, __u32 off,
						__u32 len, __u32 avail)
{
	struct ps_feed_ctx ctx = {
		.fc = {
			.src = src & PS_SRC_MASK, .off = off, .len = len,
			.avail = avail < len ? avail : len,
		},
		.skb = skb,
	};
	struct ps_scratch *s;
	struct ps_http *h;

	/* The context is written before the scratch is looked up: no
	 * argument waits on the stack (the step's chain is at the limit). */
	s = ps_scratch();
	if (!s)
		return -1;
	h = &s->h;
	s->fin = !!(src & PS_FEED_FIN);
	if (h->state != PS_H1_START)
		h->flags |= PS_H1F_SPANNED;
	bpf_loop(PS_FEED_STEPS, ps_feed_step, &ctx, 0);
	if (ctx.fc.done < ctx.fc.len && h->state != PS_H1_DEAD && h->state != PS_H1_REFILL) {
		ps_stat_inc(PS_STAT_PARSE_LIMIT);
		/* Live, the segment is held back rather than let through
		 * unread; a capture's ends parsing on the connection. */
		if (!ps_replay)
			s->g.drop = 1;
		h->state = PS_H1_DEAD;
	}
	/* A chunked message whose last chunk came in this segment counts
	 * now, trailers or not, also when the segment stops on the CR of a
	 * trailer line (tshark then reads past the end and finds the message
	 * malformed; a server serves it: docs/http1-counting.md 7.8). */
	if (h->state == PS_H1_TRAILERS && (h->flags & PS_H1F_LASTCHUNK) &&
	    !(h->flags & PS_H1F_COUNTED))
		ps_h1_count(s);
	/* A segment that was not HTTP ends; the next starts a message. */
	if (h->state == PS_H1_SKIP_SEGMENT)
		h->state = PS_H1_START;
	return 0;
}

/* bpf_loop callback: judge the segment's i-th pending request. */
static long ps_gate_cb(__u32 i, void *data)
{
	struct ps_scratch *s = *(struct ps_scratch **)data;
	__u32 k;

	if (i >= s->npend || i >= PS_PEND_MAX)
		return 1;
	if (s->late) {
		/* Each request is judged as its own client's. */
		k = s->pend_sj[i & (PS_PEND_MAX - 1)];
		ps_gate_subject(s, k);
		if ((k & PS_PEND_SJ_MASK) &&
		    ps_block_check(&s->g.saddr, s->g.family, 1, s->g.now)) {
			if (s->fwd_on && ps_h2_refuse(s, i))
				return 0;
			s->g.drop = 1;
			return 1;
		}
		if (k & PS_PEND_BLOCK_ONLY)
			return 0;
	}
	if (!ps_gate_judge(&s->g, s->pend[i & (PS_PEND_MAX - 1)]))
		return 0;
	if (s->fwd_on && ps_h2_refuse(s, i)) {
		s->g.drop = 0;
		return 0;
	}
	return 1;
}

/*
 * Judge the inference requests a segment completes the knowledge of, in
 * stream order: 1 when the segment is to be held back (one over its
 * limit; the ones before it stay paid), 0 to take it in. More than
 * PS_PEND_MAX of them: the segment is held back once those are paid, so
 * that a later copy gets the rest judged.
 */
static __always_inline int ps_gate_segment(struct ps_scratch *s)
{
	ps_fwd_slots(s);
	if (s->npend)
		bpf_loop(PS_PEND_MAX, ps_gate_cb, &s, 0);
	if (s->g.drop)
		return 1;
	if (s->npend > PS_PEND_MAX && (s->conn.gen || s->nsj)) {
		s->g.drop = 1;
		return 1;
	}
	return 0;
}

#endif
