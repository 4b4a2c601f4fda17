/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Forwarded headers: behind a gateway that pools connections, one
 * connection carries the requests of many clients, and each request names
 * its client in X-Forwarded-For ("a, b, c": each proxy appends the address
 * it got the request from) or Forwarded (RFC 7239: "for=a, for=b"). On an
 * endpoint configured for them (PS_EP_XFF, PS_EP_FORWARDED), on a
 * connection whose client is a trusted proxy (ps_trusted), the request's
 * client is the right-most entry that is not a trusted proxy: the entries
 * on its left are whatever the client sent, and are its to forge. If the
 * walk from the right meets an entry that is no address ("unknown", an
 * obfuscated name, garbage) first, the request stays the connection's; if
 * every entry is a trusted proxy, the left-most is the client. With both
 * headers allowed, X-Forwarded-For goes first: a request that has one is
 * not read for Forwarded.
 *
 * A line whole in the buffer (or the rest of a line begun in an earlier
 * chunk) is walked from its right end, and the walk stops at the first
 * entry that settles it (ps_fwd_walk_back()): a chain's forged entries
 * are never read. The walk keeps its state in the flow (struct ps_fwd),
 * so that a line of any length, in any number of segments, is read
 * whole: when a chunk ends inside one, its complete entries are walked
 * left to right and only the unfinished one is carried; the result is
 * the same either way.
 * At the end of the header block the request's client is settled; it is
 * counted to that client, judged by that client's request limit and held
 * by its block. Packets, bytes and connections stay the connection's.
 */
#ifndef PS_BPF_FORWARDED_H
#define PS_BPF_FORWARDED_H

#include "common.h"
#include "maps.h"
#include "counters.h"
#include "enforce.h"
#include "block.h"
#include "scratch.h"
#include "addrtext.h"

/* Entries of one line walked (an entry is at least a byte and a comma). */
#define PS_FWD_ENTRIES		((PS_LINE_CARRY + PS_CHUNK) / 2)
/* Bytes of one entry's address with its brackets and port. */
#define PS_FWD_TOKEN_MAX	64

/* A pending request (scratch pend_sj): its client ... */
#define PS_PEND_SJ_MASK		0x7f	/* 0: the connection's, k: s->sj[k - 1] */
#define PS_PEND_BLOCK_ONLY	0x80	/* not an inference request: only a block holds it */

/* What an entry is (ps_g_fwd_span()). */
#define PS_FE_EMPTY		0	/* blanks only: no entry (RFC 9110 section 5.6.1) */
#define PS_FE_BAD		1	/* no address */
#define PS_FE_V4		2	/* an IPv4 address at s->fw_as..fw_ae */
#define PS_FE_V6		3	/* an IPv6 address there */

/*
 * The entry buf[q..e) of an X-Forwarded-For (fwd 0) or Forwarded (fwd 1)
 * value: where its address is (s->fw_as, s->fw_ae) and of what family.
 * X-Forwarded-For: "192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
 * "[2001:db8::1]:4711", blanks around. Forwarded: the element's for=
 * parameter (its name in any case, among others separated by ';'), its
 * value maybe quoted: for=192.0.2.1, for="[2001:db8::1]:4711". A global
 * function, verified once.
 */
PS_GLOBAL int ps_g_fwd_span(__u32 q, __u32 e, __u32 fwd)
{
	const __u64 lc = 0x2020202020202020ULL;
	struct ps_scratch *s = ps_scratch();
	__u32 p, z, c1, rb, quoted = 0;
	int i;

	if (!s || e > PS_BUF_SIZE || q >= e)
		return PS_FE_EMPTY;
	p = ps_g_skip(q, e, PS_SKIP_BLANKS);
	if (p >= e)
		return PS_FE_EMPTY;
	if (fwd) {
		for (i = 0; i < 8; i++) {
			if (p + 4 <= e && ((ps_load64(s->buf, p) | lc) & ps_mask(4)) == PS_W8("for="))
				break;
			p = ps_g_find_byte(p, e, ';');
			if (p >= e)
				return PS_FE_BAD;
			p = ps_g_skip(p + 1, e, PS_SKIP_BLANKS);
		}
		if (i == 8)
			return PS_FE_BAD;
		p += 4;
		if (p < e && s->buf[p & PS_BUF_MASK] == '"') {
			quoted = 1;
			p++;
		}
	}
	for (i = 0; i < PS_FWD_TOKEN_MAX; i++) {
		__u8 c;

		if (p + i >= e)
			break;
		c = s->buf[(p + i) & PS_BUF_MASK];
		if (c == ' ' || c == '\t' || (fwd && (c == ';' || c == '"')))
			break;
	}
	z = p + i;
	if (z == p || (i == PS_FWD_TOKEN_MAX && z < e))
		return PS_FE_BAD;
	if (quoted && (z >= e || s->buf[z & PS_BUF_MASK] != '"'))
		return PS_FE_BAD;
	/* X-Forwarded-For: nothing but blanks after the address. */
	if (!fwd && ps_g_skip(z, e, PS_SKIP_BLANKS) < e)
		return PS_FE_BAD;
	if (s->buf[p & PS_BUF_MASK] == '[') {
		/* "[v6]" or "[v6]:port" */
		rb = ps_g_find_byte(p, z, ']');
		if (rb >= z || (rb + 1 < z && s->buf[(rb + 1) & PS_BUF_MASK] != ':'))
			return PS_FE_BAD;
		s->fw_as = p + 1;
		s->fw_ae = rb;
		return PS_FE_V6;
	}
	s->fw_as = p;
	s->fw_ae = z;
	c1 = ps_g_find_byte(p, z, ':');
	if (c1 >= z)
		return PS_FE_V4;
	if (ps_g_find_byte(c1 + 1, z, ':') < z)
		return PS_FE_V6;
	/* One colon: "a.b.c.d:port" */
	if (ps_g_find_byte(p, c1, '.') >= c1)
		return PS_FE_BAD;
	s->fw_ae = c1;
	return PS_FE_V4;
}

/*
 * X-Forwarded-For's usual entry at p..e: a dotted quad between blanks,
 * read in one pass into s->ip_addr (the digits as ps_g_ip4_text() takes
 * them). 1 if it is one; 0 for any other entry, which
 * ps_g_fwd_span() reads. A global function, verified once.
 */
PS_GLOBAL int ps_g_ip4_entry(__u32 p, __u32 e)
{
	struct ps_scratch *s = ps_scratch();
	__u32 v = 0, k = 0, digits = 0;
	__u8 c, *out;
	int i;

	if (!s || e > PS_BUF_SIZE)
		return 0;
	__builtin_memset(&s->ip_addr, 0, sizeof(s->ip_addr));
	s->ip_family = PS_AF_INET;
	out = (__u8 *)&s->ip_addr;
	/* One blank (after a comma) here, more through ps_g_skip(). */
	for (i = 0; i < 2; i++) {
		c = p < e ? s->buf[p & PS_BUF_MASK] : 0;
		if (c != ' ' && c != '\t')
			break;
		if (i)
			p = ps_g_skip(p, e, PS_SKIP_BLANKS);
		else
			p++;
	}
	for (i = 0; i < 16; i++) {
		c = p < e ? s->buf[p & PS_BUF_MASK] : ' ';
		if ((__u8)(c - '0') <= 9) {
			if (digits == 3)
				return 0;
			v = v * 10 + (c - '0');
			digits++;
		} else if (!digits || v > 255 || (c != '.' && c != ' ' && c != '\t')) {
			return 0;
		} else {
			out[k & 3] = v;
			k++;
			v = digits = 0;
			if (c != '.')
				break;
			if (k == 4)
				return 0;
		}
		p++;
	}
	return k == 4 && (p >= e || ps_g_skip(p, e, PS_SKIP_BLANKS) >= e);
}

/* Is the address just read (s->ip_addr) a proxy the endpoint trusts? */
static __always_inline int ps_fwd_trusted(struct ps_scratch *s)
{
	struct ps_lpm_key k = {};
	struct ps_trusted *t;
	__u32 ep = s->endpoint;

	ps_lpm_key_of(&k, s->ip_family, &s->ip_addr);
	t = bpf_map_lookup_elem(&ps_trusted, &k);
	return t && ep < 32 && (t->endpoints >> ep) & 1;
}

/* The walk takes one entry: an address (got) or not. */
static __always_inline void ps_fwd_take(struct ps_scratch *s, int got)
{
	struct ps_fwd *fw = &s->fw;

	if (!got) {
		fw->kind = PS_FWD_BAD;
		return;
	}
	ps_ip_unmap(s);
	if (!fw->left_family) {
		fw->left = s->ip_addr;
		fw->left_family = s->ip_family;
	}
	if (ps_fwd_trusted(s))
		return;
	fw->subj = s->ip_addr;
	fw->subj_family = s->ip_family;
	fw->kind = PS_FWD_ADDR;
}

/*
 * bpf_loop callback: the next entry of the value at s->fw_q..fw_end (a
 * comma ends each); 1 when none is left. The walk's place is in the
 * scratch, so that the callback is verified once.
 */
static long ps_fwd_entry_cb(__u32 i, void *data)
{
	struct ps_scratch *s = ps_scratch();
	__u32 q, end, e;
	int r, got = 0;

	if (!s)
		return 1;
	q = s->fw_q;
	end = s->fw_end;
	if (q >= end || end > PS_BUF_SIZE)
		return 1;
	e = ps_g_find_byte(q, end, ',');
	if (e >= end && s->fw_partial) {
		/* The line goes on in the next chunk: this entry too. */
		s->fw_rest = q;
		return 1;
	}
	s->fw_q = e + 1;
	if (!s->fw_hdr && ps_g_ip4_entry(q, e)) {
		/* X-Forwarded-For's usual entry, read at once; any other
		 * the way below. */
		ps_fwd_take(s, 1);
		return e >= end;
	}
	r = ps_g_fwd_span(q, e, s->fw_hdr);
	if (r == PS_FE_V4) {
		__builtin_memset(&s->ip_addr, 0, sizeof(s->ip_addr));
		s->ip_family = PS_AF_INET;
		got = ps_g_ip4_text(s->fw_as, s->fw_ae) == s->fw_ae;
	} else if (r == PS_FE_V6) {
		s->ip_family = PS_AF_INET6;
		got = ps_g_ip6_text(s->fw_as, s->fw_ae) == s->fw_ae;
	}
	if (r != PS_FE_EMPTY)
		ps_fwd_take(s, got);
	return e >= end;
}

/* Walk the entries at s->fw_q..fw_end. */
static __always_inline void ps_fwd_walk(void)
{
	bpf_loop(PS_FWD_ENTRIES, ps_fwd_entry_cb, NULL, 0);
}

/* Words ps_g_rfind_byte() looks back at a call (its verification grows
 * faster than their number) ... */
#define PS_RFIND_WORDS		16
/* ... and what it says when it found no c there and p is further back. */
#define PS_RFIND_FAR		(PS_BUF_SIZE + 1)

/*
 * Where the last byte c in the scratch buffer's p..end is, eight bytes at
 * a time; end if none, PS_RFIND_FAR if none in the PS_RFIND_WORDS words
 * before end and p is further back. A global function, verified once.
 */
PS_GLOBAL __u32 ps_g_rfind_byte(__u32 p, __u32 end, __u32 c)
{
	struct ps_scratch *s = ps_scratch();
	__u64 pat = 0x0101010101010101ULL * (c & 0xff), t;
	__u32 x = end, b;
	int i;

	if (!s || end > PS_BUF_SIZE)
		return end;
	for (i = 0; i < PS_RFIND_WORDS; i++) {
		if (x <= p)
			return end;
		/* The eight bytes from b (before x, or the buffer's first
		 * ones); those before p or from x on do not count. */
		b = x >= 8 ? x - 8 : 0;
		t = ps_zero_bytes(ps_load64(s->buf, b) ^ pat);
		if (b < p)
			t &= ~0ULL << ((p - b) * 8);
		if (x - b < 8)
			t &= ps_mask(x - b);
		if (t)
			return b + ps_highest_byte(t);
		x = b;
	}
	return PS_RFIND_FAR;
}

/*
 * The walk from the right takes one entry: 1 if it settles the value (an
 * entry that is no address, or an address that is not a trusted proxy),
 * 0 to go on to the entry on its left.
 */
static __always_inline int ps_fwd_back_take(struct ps_scratch *s, int got)
{
	struct ps_fwd *fw = &s->fw;

	if (!got) {
		fw->kind = PS_FWD_BAD;
		return 1;
	}
	ps_ip_unmap(s);
	if (ps_fwd_trusted(s)) {
		s->fw_cand = s->ip_addr;
		s->fw_cand_family = s->ip_family;
		return 0;
	}
	fw->subj = s->ip_addr;
	fw->subj_family = s->ip_family;
	fw->kind = PS_FWD_ADDR;
	return 1;
}

/*
 * bpf_loop callback: the right-most entry of the value at s->fw_q..fw_end
 * not walked yet (a comma before it, or the value's start); 1 when the
 * value is settled or none is left.
 */
static long ps_fwd_back_cb(__u32 i, void *data)
{
	struct ps_scratch *s = ps_scratch();
	__u32 q, e, c, a;
	int r, got = 0, last;

	if (!s)
		return 1;
	q = s->fw_q;
	e = s->fw_end;
	if (q >= e || e > PS_BUF_SIZE)
		return 1;
	c = ps_g_rfind_byte(q, e, ',');
	if (c == PS_RFIND_FAR) {
		if (e - q > PS_RFIND_WORDS * 8) {
			/* A long entry (blanks): look further back for
			 * its start. */
			if (!s->fw_long) {
				s->fw_long = 1;
				s->fw_long_e = e;
			}
			s->fw_end = e - PS_RFIND_WORDS * 8;
			return 0;
		}
		c = e;
	}
	/* No comma before it: the value's left-most entry, the last. */
	last = c >= e;
	a = last ? q : c + 1;
	s->fw_end = last ? q : c;
	if (s->fw_long) {
		s->fw_long = 0;
		e = s->fw_long_e;
		if (e > PS_BUF_SIZE)
			return 1;
	}
	if (!s->fw_hdr && ps_g_ip4_entry(a, e))
		return ps_fwd_back_take(s, 1) || last;
	r = ps_g_fwd_span(a, e, s->fw_hdr);
	if (r == PS_FE_EMPTY)
		return last;
	if (r == PS_FE_V4) {
		__builtin_memset(&s->ip_addr, 0, sizeof(s->ip_addr));
		s->ip_family = PS_AF_INET;
		got = ps_g_ip4_text(s->fw_as, s->fw_ae) == s->fw_ae;
	} else if (r == PS_FE_V6) {
		s->ip_family = PS_AF_INET6;
		got = ps_g_ip6_text(s->fw_as, s->fw_ae) == s->fw_ae;
	}
	return ps_fwd_back_take(s, got) || last;
}

/*
 * Walk the entries of a value at s->fw_q..fw_end that is whole (its line,
 * or the rest of a line whose first entries were walked with an earlier
 * chunk) from its right end, and stop at the first that settles it: the
 * entries on its left are the client's to forge, and would change
 * nothing. The same as walking it from the left (ps_fwd_take() on each):
 * the last entry that is not a trusted proxy decides; if every one is,
 * the left-most address is kept, unless an earlier line gave one.
 */
static __always_inline void ps_fwd_walk_back(struct ps_scratch *s)
{
	struct ps_fwd *fw = &s->fw;

	s->fw_cand_family = 0;
	s->fw_long = 0;
	bpf_loop(PS_FWD_ENTRIES, ps_fwd_back_cb, NULL, 0);
	if (s->fw_cand_family && !fw->left_family) {
		fw->left = s->fw_cand;
		fw->left_family = s->fw_cand_family;
	}
}

/*
 * Walk the complete entries at s->fw_q..fw_end of a line that goes on in
 * the next chunk: where the unfinished one starts.
 */
static __always_inline __u32 ps_fwd_walk_partial(struct ps_scratch *s)
{
	s->fw_rest = s->fw_end;
	s->fw_partial = 1;
	ps_fwd_walk();
	s->fw_partial = 0;
	return s->fw_rest;
}

/* A value left by ps_fwd_header() or ps_fwd_cont() for the line's walk. */
static __always_inline void ps_fwd_pending(void)
{
	struct ps_scratch *s = ps_scratch();

	if (s && s->fw_pending) {
		s->fw_pending = 0;
		ps_fwd_walk_back(s);
	}
}

/*
 * Is the line at ls (its bytes up to end in the buffer) an X-Forwarded-For
 * (*isfwd 0) or Forwarded (1) line? Its value's offset, 0 if not.
 */
static __always_inline __u32 ps_fwd_name(struct ps_scratch *s, __u32 ls, __u32 end,
					 __u32 *isfwd)
{
	const __u8 *buf = s->buf;
	__u8 c0 = buf[ls & PS_BUF_MASK] | 0x20;
	__u32 p;

	if (c0 == 'x') {
		p = ps_header_is(buf, ls, end, PS_W8("x-forwar"), PS_W8("ded-for"), 0, 15);
		*isfwd = 0;
	} else if (c0 == 'f') {
		p = ps_header_is(buf, ls, end, PS_W8("forwarde"), PS_W8("d"), 0, 9);
		*isfwd = 1;
	} else {
		return 0;
	}
	return ps_hdr_colon(buf, p, end);
}

/*
 * A forwarded line starts: 1 if its entries are to be walked. A line the
 * endpoint does not read is an ordinary header; one from a peer that is
 * not trusted is marked (stats.forwarded_untrusted) and not believed.
 */
static __always_inline int ps_fwd_begin(struct ps_scratch *s, __u32 isfwd)
{
	struct ps_fwd *fw = &s->fw;
	__u8 want = isfwd ? PS_EP_FORWARDED : PS_EP_XFF;

	if (!(s->fwd_ep & want))
		return 0;
	if (!(s->fwd_on & want)) {
		fw->flags |= PS_FWDF_UNTRUSTED;
		return 0;
	}
	if (isfwd) {
		if ((fw->flags & PS_FWDF_XFF) && (s->fwd_on & PS_EP_XFF))
			return 0;
		fw->flags |= PS_FWDF_FWD;
		return 1;
	}
	if (!(fw->flags & PS_FWDF_XFF) && (fw->flags & PS_FWDF_FWD)) {
		/* X-Forwarded-For goes first: what Forwarded said is not. */
		fw->kind = PS_FWD_NONE;
		fw->subj_family = 0;
		fw->left_family = 0;
	}
	fw->flags |= PS_FWDF_XFF;
	return 1;
}

/* A complete header line at ls..ce, named at ls: walked after this line. */
static __always_inline void ps_fwd_header(struct ps_scratch *s, __u32 ls, __u32 ce)
{
	__u32 isfwd = 0, v = ps_fwd_name(s, ls, ce, &isfwd);

	if (!v || !ps_fwd_begin(s, isfwd))
		return;
	s->fw_q = v;
	s->fw_end = ce;
	s->fw_hdr = isfwd;
	s->fw_pending = 1;
}

/*
 * The end of a forwarded line whose start came with an earlier chunk: its
 * unfinished entry (carried) and what follows, at ls..ce.
 */
static __always_inline void ps_fwd_cont(struct ps_scratch *s, __u32 ls, __u32 ce)
{
	struct ps_fwd *fw = &s->fw;
	__u32 q = ls;

	s->fw_hdr = !!(fw->flags & PS_FWDF_CONT_FWD);
	if (fw->flags & PS_FWDF_SKIP) {
		/* The rest of an entry too long to be an address. */
		fw->kind = PS_FWD_BAD;
		q = ps_g_find_byte(ls, ce, ',');
		q = q < ce ? q + 1 : ce;
	}
	fw->flags &= ~(PS_FWDF_CONT | PS_FWDF_CONT_FWD | PS_FWDF_SKIP);
	if (q >= ce)
		return;
	s->fw_q = q;
	s->fw_end = ce;
	s->fw_pending = 1;
}

/*
 * A chunk ends inside a header line that starts at ls (or goes on from the
 * carry): if it is a forwarded line, walk its complete entries now and
 * carry only the unfinished one, so that no part of a long line is lost.
 * 1 if so (the carry set), 0 to carry the line's start as any other. A
 * global function, verified once.
 */
PS_GLOBAL int ps_g_fwd_partial(__u32 ls)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_http *h;
	struct ps_fwd *fw;
	__u32 len, v, n, isfwd = 0;

	if (!s)
		return 0;
	h = &s->h;
	fw = &s->fw;
	len = s->len;
	if (len > PS_LINE_CARRY + PS_CHUNK || ls >= len)
		return 0;
	if (fw->flags & PS_FWDF_CONT) {
		v = ls;
		isfwd = !!(fw->flags & PS_FWDF_CONT_FWD);
	} else {
		if (!s->fwd_on)
			return 0;
		v = ps_fwd_name(s, ls, len, &isfwd);
		if (!v || !ps_fwd_begin(s, isfwd))
			return 0;
	}
	if (v > len)
		return 0;
	fw->flags |= PS_FWDF_CONT | (isfwd ? PS_FWDF_CONT_FWD : 0);
	h->state = PS_H1_HDRLINE;
	if (fw->flags & PS_FWDF_SKIP) {
		n = ps_g_find_byte(v, len, ',');
		if (n >= len) {
			h->carry_len = 0;
			return 1;
		}
		fw->flags &= ~PS_FWDF_SKIP;
		fw->kind = PS_FWD_BAD;
		v = n + 1;
	}
	s->fw_q = v;
	s->fw_end = len;
	s->fw_hdr = isfwd;
	v = ps_fwd_walk_partial(s);
	n = len - v;
	if (n <= PS_LINE_CARRY && v <= PS_LINE_CARRY + PS_CHUNK) {
		__builtin_memcpy(h->carry, s->buf + v, PS_LINE_CARRY);
		h->carry_len = n;
	} else {
		h->carry_len = 0;
		fw->flags |= PS_FWDF_SKIP;
	}
	return 1;
}

/*
 * The request's own client, once its header block ended: its API key's
 * (identity: api_key), else the one its forwarded headers named, else
 * (s->rq_family 0) the connection's.
 */
static __always_inline void ps_rq_fill(struct ps_scratch *s)
{
	s->rq_family = 0;
	s->rq_src_family = 0;
	__builtin_memset(&s->rq_src, 0, sizeof(s->rq_src));
	if (!(s->fw.flags & PS_FWDF_SETTLED))
		return;
	if (s->key_ep && s->key.kind) {
		__builtin_memset(&s->rq_addr, 0, sizeof(s->rq_addr));
		s->rq_addr.a[0] = (__u32)s->key.id;
		s->rq_addr.a[1] = (__u32)(s->key.id >> 32);
		s->rq_family = PS_AF_KEY;
		if (s->fw.kind == PS_FWD_ADDR) {
			s->rq_src = s->fw.subj;
			s->rq_src_family = s->fw.subj_family;
		} else {
			s->rq_src = s->conn.addr;
			s->rq_src_family = s->conn.family;
		}
	} else if (s->fw.kind == PS_FWD_ADDR) {
		s->rq_addr = s->fw.subj;
		s->rq_family = s->fw.subj_family;
	}
}

/*
 * The segment's table of clients its requests named: the index + 1 of the
 * request's (s->rq_addr), added if new; 0 when the table is full. A
 * global function, verified once.
 */
PS_GLOBAL __u32 ps_g_subj(void)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_subj *sj;
	__u32 i, n;

	if (!s)
		return 0;
	n = s->nsj;
	for (i = 0; i < PS_SUBJ_MAX; i++) {
		if (i >= n)
			break;
		sj = &s->sj[i];
		if (sj->family == s->rq_family && ps_addr_eq(&sj->addr, &s->rq_addr) &&
		    sj->src_family == s->rq_src_family && ps_addr_eq(&sj->src, &s->rq_src))
			return i + 1;
	}
	if (n >= PS_SUBJ_MAX)
		return 0;
	sj = &s->sj[n & (PS_SUBJ_MAX - 1)];
	__builtin_memset(sj, 0, sizeof(*sj));
	sj->addr = s->rq_addr;
	sj->family = s->rq_family;
	sj->src = s->rq_src;
	sj->src_family = s->rq_src_family;
	s->nsj = n + 1;
	return n + 1;
}

/* What ps_g_rq_settle() says of the request's wait for the limit. */
#define PS_SETTLE_NONE		-1	/* it does not wait */
#define PS_SETTLE_CONN		0	/* an inference request of the connection's client */
#define PS_SETTLE_OWN		1	/* an inference request of its own client */
#define PS_SETTLE_BLOCKED	2	/* another request, of its own client, blocked */

/*
 * The header block of a request ended, on a connection whose requests may
 * name their own clients: its client is settled (s->rq_*), and whether
 * and how the request waits for the limit said (PS_SETTLE_*). A global
 * function, verified once.
 */
PS_GLOBAL int ps_g_rq_settle(int inference)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_enforcement *e;
	struct ps_fwd *fw;

	if (!s)
		return PS_SETTLE_NONE;
	fw = &s->fw;
	if (fw->kind == PS_FWD_NONE && fw->left_family) {
		fw->subj = fw->left;
		fw->subj_family = fw->left_family;
		fw->kind = PS_FWD_ADDR;
	}
	/* Named as the connection's own client: nothing forwarded. */
	if (fw->kind == PS_FWD_ADDR && fw->subj_family == s->conn.family &&
	    ps_addr_eq(&fw->subj, &s->conn.addr))
		fw->kind = PS_FWD_NONE;
	fw->flags |= PS_FWDF_SETTLED;
	ps_rq_fill(s);
	if (inference)
		return s->rq_family ? PS_SETTLE_OWN : PS_SETTLE_CONN;
	if (!s->rq_family)
		return PS_SETTLE_NONE;
	e = ps_enforcement_of(s->rq_family, &s->rq_addr, s->g.now);
	return e && e->action == PS_ACT_BLOCK ? PS_SETTLE_BLOCKED : PS_SETTLE_NONE;
}

/* A complete request counted to its client: subject k (1..PS_SUBJ_MAX), a
 * key or a client its headers named, or with none the connection's. */
static __always_inline void ps_rq_tally(struct ps_scratch *s, __u32 k, __u32 inf)
{
	struct ps_subj *sj;

	if (k && k <= PS_SUBJ_MAX) {
		sj = &s->sj[(k - 1) & (PS_SUBJ_MAX - 1)];
		sj->nreq++;
		sj->ninf += inf;
		if (s->rq_family == PS_AF_KEY)
			s->nkey++;
		else
			s->nfwd++;
		return;
	}
	s->nreq++;
	s->ninf += inf;
}

/*
 * A request on an endpoint whose requests may name their own clients is
 * complete: counted to the client its headers settled, or the
 * connection's. A global function, verified once.
 */
PS_GLOBAL int ps_g_rq_count(void)
{
	struct ps_scratch *s = ps_scratch();
	__u32 k = 0, inf;

	if (!s)
		return 0;
	inf = !!(s->h.flags & PS_H1F_INFERENCE);
	if (s->fw.flags & PS_FWDF_UNTRUSTED)
		s->nfwd_untrusted++;
	ps_rq_fill(s);
	if (s->rq_family) {
		k = ps_g_subj();
		if (!k)
			s->nfwd_full++;
	} else if ((s->fw.flags & PS_FWDF_SETTLED) && s->fw.kind == PS_FWD_BAD) {
		s->nfwd_bad++;
	}
	ps_rq_tally(s, k, inf);
	return 0;
}

/*
 * Client bytes on a connection whose requests may name their own clients
 * (docs/http1-counting.md): a request's bytes, from its request line up to
 * the next message, are its client's. It is known where the header block
 * ends; until then they wait in b_pend. The bytes from s->b_mark to
 * stream position pos go to s->b_cur's, and from pos on to cur's.
 */
static __always_inline void ps_rb_mark(struct ps_scratch *s, __u32 pos, __u32 cur)
{
	__u32 n = pos - s->b_mark, c = s->b_cur;

	if ((__s32)n > 0) {
		s->b_mark = pos;
		if (!s->b_nocount && c != PS_BC_CONN) {
			if (c == PS_BC_PEND)
				s->b_pend += n;
			else if (c == PS_BC_CARRY)
				s->b_carry += n;
			else if (c && c <= PS_SUBJ_MAX)
				s->sj[(c - 1) & (PS_SUBJ_MAX - 1)].nbytes += n;
			else if (c >= PS_BC_HS && c < PS_BC_HS + PS_H2S_SLOTS)
				s->hsb[(c - PS_BC_HS) & (PS_H2S_SLOTS - 1)] += n;
			else
				n = 0;
			s->b_moved += n;
		}
	}
	s->b_cur = cur;
}

/* A request line starts at pos: its bytes wait for its client. A global
 * function, verified once. */
PS_GLOBAL int ps_g_rb_mark(__u32 pos)
{
	struct ps_scratch *s = ps_scratch();

	if (s && s->b_on && s->b_cur != PS_BC_PEND)
		ps_rb_mark(s, pos, PS_BC_PEND);
	return 0;
}

/*
 * The header block of a request ended at pos: the bytes it waited with,
 * and those of the rest of it, are its client's (k: its index + 1 in sj;
 * 0: the connection's). A global function, verified once.
 */
PS_GLOBAL int ps_g_rb_settle(__u32 pos, __u32 k)
{
	struct ps_scratch *s = ps_scratch();

	if (!s || !s->b_on)
		return 0;
	if (k > PS_SUBJ_MAX)
		k = 0;
	ps_rb_mark(s, pos, k);
	if (k)
		s->sj[(k - 1) & (PS_SUBJ_MAX - 1)].nbytes += s->b_pend;
	else
		s->b_conn += s->b_pend;
	s->b_pend = 0;
	return 0;
}

/*
 * The parser stopped at stream position end: the bytes up to it are
 * counted; a request line unfinished there starts the wait; a wait whose
 * request is given up (not HTTP, a hole) is the connection's. A global
 * function, verified once.
 */
PS_GLOBAL int ps_g_rb_end(__u32 end)
{
	struct ps_scratch *s = ps_scratch();
	__u8 st;

	if (!s || !s->b_on)
		return 0;
	st = s->h.state;
	if (st == PS_H1_REQLINE && s->b_cur != PS_BC_PEND && s->h.carry_len < 0xffff)
		ps_rb_mark(s, end - s->h.carry_len, PS_BC_PEND);
	/* An HTTP/2 frame header cut by the segment's end: the
	 * connection's client's (http2.h ps_h2_rb_frame()). */
	else if (st == PS_H2_FRAME && s->h.carry_len && s->h.carry_len < 0xffff)
		ps_rb_mark(s, end - s->h.carry_len, PS_BC_CONN);
	ps_rb_mark(s, end, s->b_cur);
	if (s->b_cur == PS_BC_PEND && st != PS_H1_REQLINE && st != PS_H1_HEADERS &&
	    st != PS_H1_HDRLINE) {
		s->b_conn += s->b_pend;
		s->b_pend = 0;
		s->b_cur = PS_BC_CONN;
	}
	return 0;
}

/* Request j of the segment's subject (rq_k: its client in sj, or the connection's), in *e. */
static __always_inline void ps_g_rq_subj_of(const struct ps_scratch *s, __u32 j,
					    struct ps_rq_subj *e)
{
	const struct ps_subj *sj;
	__u32 k;

	j &= PS_RQ_QUEUE - 1;
	barrier_var(j);
	k = s->rq_k[j];
	if (k && k <= PS_SUBJ_MAX) {
		sj = &s->sj[(k - 1) & (PS_SUBJ_MAX - 1)];
		e->slot = sj->slot;
		e->gen = sj->gen;
	} else {
		e->slot = 0;
		e->gen = 0;
	}
}

/* bpf_loop callback of ps_g_rq_late(): index m = n0 - PS_RQ_SUBJ + i. */
static long ps_g_rq_late_cb(__u32 i, void *data)
{
	struct ps_scratch *s = ps_scratch();
	__u32 m;

	if (!s)
		return 1;
	m = s->rl_n0 - PS_RQ_SUBJ + i;
	if ((__s32)(m - (s->rl_n0 + s->rq_pn - PS_RQ_SUBJ)) >= 0)
		return 1;
	if ((__s32)(m - s->rl_rn) < 0)
		return 0;
	if (i < PS_RQ_SUBJ) {
		s->rlv = s->rl_ring[m & (PS_RQ_SUBJ - 1)];
	} else {
		if (i - PS_RQ_SUBJ + PS_RQ_QUEUE < s->rq_pn)
			return 0;
		ps_g_rq_subj_of(s, i - PS_RQ_SUBJ, &s->rlv);
	}
	s->rlk.idx = m;
	bpf_map_update_elem(&ps_rq_late, &s->rlk, &s->rlv, BPF_ANY);
	return 0;
}

/*
 * The requests whose subjects the flow's ring loses before their answers
 * begin, when the segment's are written into it: a client that pipelines
 * more than PS_RQ_SUBJ requests (more than that in flight with the
 * segment's, rn the request whose answer is under way or next: the
 * egress's resp.n). Those are the indices m from rn and from
 * n0 - PS_RQ_SUBJ (the ring's oldest; older ones left it at an earlier
 * segment) up to n0 + rq_pn - PS_RQ_SUBJ (the oldest that stays), n0 the
 * flow's count before the segment: the ring's entries about to be written
 * over and the segment's own oldest requests (of those, the last
 * PS_RQ_QUEUE, as rq_k holds them). Each goes to ps_rq_late, where the
 * egress finds it when its answer begins (response.h ps_resp_subject()).
 * Called before ps_g_rq_flow(). A global function, verified once.
 */
PS_GLOBAL int ps_g_rq_late(const struct ps_rq_queue *q, const struct ps_flow_key *k, __u32 isn,
			   __u32 rn)
{
	struct ps_scratch *s = ps_scratch();

	if (!s || !q || !k || (__s32)(q->n + s->rq_pn - rn) <= PS_RQ_SUBJ)
		return 0;
	s->rl_n0 = q->n;
	s->rl_rn = rn;
	__builtin_memcpy(s->rl_ring, q->subj, sizeof(s->rl_ring));
	__builtin_memcpy(&s->rlk.k, k, sizeof(s->rlk.k));
	s->rlk.isn = isn;
	bpf_loop(PS_RQ_SUBJ + PS_RQ_QUEUE, ps_g_rq_late_cb, NULL, 0);
	return 0;
}

/*
 * The segment is taken in: the subjects of the requests whose header
 * block ended go into the flow's ring before ps_rq_push() raises q->n
 * (the egress program reads n first), and where the client bytes stand.
 * A global function, verified once.
 */
PS_GLOBAL int ps_g_rq_flow(struct ps_rq_queue *q)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_client_ctr *ctr;
	struct ps_h2_subj *hs;
	struct ps_subj *sj;
	__u32 i, j, k, n0, start;

	if (!s || !q)
		return 0;
	q->named = s->b_on;
	n0 = q->n;
	start = s->rq_pn > PS_RQ_SUBJ ? s->rq_pn - PS_RQ_SUBJ : 0;
	for (i = 0; i < PS_RQ_SUBJ; i++) {
		j = start + i;
		if (j >= s->rq_pn)
			break;
		ps_g_rq_subj_of(s, j, &q->subj[(n0 + j) & (PS_RQ_SUBJ - 1)]);
	}
	if (!s->b_on)
		return 0;
	/* The bytes of the request the flow was in, to its client. */
	if (s->b_carry) {
		ctr = q->b_state == PS_RB_SUBJ ? ps_slot_ctr(q->b_slot) : NULL;
		if (ctr && ctr->gen == q->b_gen)
			ps_add(ctr->c.rx_payload, s->b_carry);
		else
			s->b_conn += s->b_carry;
	}
	k = s->b_cur;
	q->b_pend = s->b_pend;
	if (k == PS_BC_PEND) {
		q->b_state = PS_RB_PEND;
	} else if (k && k <= PS_SUBJ_MAX) {
		sj = &s->sj[(k - 1) & (PS_SUBJ_MAX - 1)];
		q->b_state = sj->gen ? PS_RB_SUBJ : PS_RB_CONN;
		q->b_slot = sj->slot;
		q->b_gen = sj->gen;
	} else if (k >= PS_BC_HS && k < PS_BC_HS + PS_H2S_SLOTS) {
		/* An HTTP/2 frame's payload of a stream named before. */
		hs = &s->h2c.hs[(k - PS_BC_HS) & (PS_H2S_SLOTS - 1)];
		q->b_state = hs->gen ? PS_RB_SUBJ : PS_RB_CONN;
		q->b_slot = hs->slot;
		q->b_gen = hs->gen;
	} else if (k != PS_BC_CARRY) {
		q->b_state = PS_RB_CONN;
	}
	return 0;
}

/*
 * Body bytes taken in without the parser: the client's of the request they
 * belong to (1), or the connection's (0). A global function, verified once.
 */
PS_GLOBAL int ps_g_rb_body(struct ps_rq_queue *q, __u32 n)
{
	struct ps_client_ctr *ctr;

	if (!q || !n || !q->named || q->b_state != PS_RB_SUBJ)
		return 0;
	ctr = ps_slot_ctr(q->b_slot);
	if (!ctr || ctr->gen != q->b_gen)
		return 0;
	ps_add(ctr->c.rx_payload, n);
	return 1;
}

/* The (key, address) pair of a key's requests: ps_key_addrs' key. */
static __always_inline void ps_key_addr_key_of(struct ps_key_addr_key *k, const struct ps_subj *sj)
{
	k->id = (__u64)sj->addr.a[0] | ((__u64)sj->addr.a[1] << 32);
	k->addr = sj->src;
	k->family = sj->src_family;
}

/*
 * bpf_loop callback: the slot of the segment's i-th forwarded client (or
 * key). A subject other than the connection's client is seldom in cache:
 * the lines its counts will touch are asked for here, together. A key's
 * (key, address) pair is looked up first, its result unused (the count
 * looks it up again, in cache then, ps_key_addr_add(); a lookup changes
 * nothing but the pair's place in the LRU), so that the CPU walks its
 * hash chain while it walks ps_clients', rather than one after the other;
 * then the slot's counter lines (ps_slot_warm()). The ps_clients key is
 * written before the pair's lookup: written after it, the two walks did
 * not overlap (ps_bench's (b-key) row lost the gain).
 */
static long ps_subj_slot_cb(__u32 i, void *data)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_client_key k = {};
	struct ps_key_addr_key ka = {};
	struct ps_client_ctr *ctr;
	struct ps_subj *sj;
	__u32 slot = 0;

	if (!s || i >= s->nsj || i >= PS_SUBJ_MAX)
		return 1;
	sj = &s->sj[i];
	k.addr = sj->addr;
	k.family = sj->family;
	if (sj->family == PS_AF_KEY && sj->src_family) {
		ps_key_addr_key_of(&ka, sj);
		bpf_map_lookup_elem(&ps_key_addrs, &ka);
	}
	ctr = ps_client_by_key(&k, s->g.now, &slot);
	sj->slot = slot;
	if (ctr)
		ps_slot_warm(ctr);
	sj->gen = ctr ? ctr->gen : 0;
	return 0;
}

/* The forwarded clients' slots, made if new, before the limit judges. */
static __always_inline void ps_fwd_slots(struct ps_scratch *s)
{
	if (s->nsj)
		bpf_loop(PS_SUBJ_MAX, ps_subj_slot_cb, NULL, 0);
}

/* The request limit looks at the pending request's client (k). */
static __always_inline void ps_gate_subject(struct ps_scratch *s, __u32 k)
{
	struct ps_subj *sj = &s->conn;

	k &= PS_PEND_SJ_MASK;
	if (k && k <= PS_SUBJ_MAX)
		sj = &s->sj[(k - 1) & (PS_SUBJ_MAX - 1)];
	s->g.saddr = sj->addr;
	s->g.family = sj->family;
	s->g.slot = sj->slot;
	s->g.gen = sj->gen;
}

/* An API key's requests of the segment, from the address they came from. */
static __always_inline void ps_key_addr_add(const struct ps_subj *sj, __u64 now)
{
	struct ps_key_addr_key k = {};
	struct ps_key_addr_val *v, nv = {};

	ps_key_addr_key_of(&k, sj);
	v = bpf_map_lookup_elem(&ps_key_addrs, &k);
	if (!v) {
		nv.requests = sj->nreq;
		nv.inference_requests = sj->ninf;
		nv.first_ns = now;
		nv.last_ns = now;
		if (!bpf_map_update_elem(&ps_key_addrs, &k, &nv, BPF_NOEXIST))
			return;
		v = bpf_map_lookup_elem(&ps_key_addrs, &k);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->requests, sj->nreq);
	__sync_fetch_and_add(&v->inference_requests, sj->ninf);
	v->last_ns = now;
}

/* bpf_loop callback: the segment's i-th forwarded client's counts. */
static long ps_subj_count_cb(__u32 i, void *data)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_client_ctr *ctr;
	struct ps_subj *sj;

	if (!s || i >= s->nsj || i >= PS_SUBJ_MAX)
		return 1;
	sj = &s->sj[i];
	ctr = sj->gen ? ps_slot_ctr(sj->slot) : NULL;
	if (!ctr || ctr->gen != sj->gen) {
		/* No slot for it (the client table is full): the
		 * connection's client has the requests. */
		s->nreq += sj->nreq;
		s->ninf += sj->ninf;
		if (sj->family == PS_AF_KEY)
			s->nkey -= sj->nreq < s->nkey ? sj->nreq : s->nkey;
		else
			s->nfwd -= sj->nreq < s->nfwd ? sj->nreq : s->nfwd;
		s->nfwd_full += sj->nreq;
		s->b_conn += sj->nbytes;
		s->nmsg += sj->nmsg;
		return 0;
	}
	if (sj->nbytes)
		ps_add(ctr->c.rx_payload, sj->nbytes);
	if (sj->nmsg)
		ps_add(ctr->rx_messages, sj->nmsg);
	if (sj->nreq)
		ps_add(ctr->c.requests, sj->nreq);
	if (sj->ninf)
		ps_add(ctr->c.inference_requests, sj->ninf);
	if (sj->nreq | sj->ninf)
		ps_ep_requests(s->endpoint, sj->nreq, sj->ninf, 0);
	ctr->c.last_seen_ns = s->g.now;
	if (sj->family == PS_AF_KEY && sj->src_family && sj->nreq)
		ps_key_addr_add(sj, s->g.now);
	return 0;
}

/* A segment taken in: its forwarded clients' counts, and the stats. */
static __always_inline void ps_fwd_end(struct ps_scratch *s)
{
	if (s->nsj)
		bpf_loop(PS_SUBJ_MAX, ps_subj_count_cb, NULL, 0);
	if (s->nfwd)
		ps_stat_add(PS_STAT_FORWARDED, s->nfwd);
	if (s->nfwd_bad)
		ps_stat_add(PS_STAT_FORWARDED_BAD, s->nfwd_bad);
	if (s->nfwd_untrusted)
		ps_stat_add(PS_STAT_FORWARDED_UNTRUSTED, s->nfwd_untrusted);
	if (s->nfwd_full)
		ps_stat_add(PS_STAT_FORWARDED_FULL, s->nfwd_full);
	if (s->nkey)
		ps_stat_add(PS_STAT_KEYED, s->nkey);
}

#endif
