/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Forwarded headers over HTTP/2 (forwarded.h says the rule): on an
 * endpoint configured for them, from a trusted proxy, the value of an
 * x-forwarded-for (or, where the endpoint reads it, forwarded) field of a
 * request's header block, plain or Huffman-coded (huffdec.h), is decoded
 * into the free end of the scratch buffer (PS_H2FWD_AT, PS_H2FWD_MAX bytes
 * at a time) and walked there with HTTP/1's walk: the value whole from its
 * right end (ps_fwd_walk_back()); a value cut by the segment's end or a
 * CONTINUATION, or longer than the room, has its complete entries walked
 * from the left and its unfinished one carried in ps_h2_conn.val (up to
 * PS_H2FWD_CARRY bytes: longer, the entry is no address, as HTTP/1's too
 * long to carry). Several fields of one block combine as HTTP/1's lines
 * do. Values are never kept; a literal with incremental indexing whose
 * value is its block's first to name anyone keeps its walk's result for
 * its entry (hpack.h ps_hp_fwd_keep()), which an indexed field naming the
 * entry goes on with (ps_hp_fwd_ref()). Any other field from the dynamic
 * table leaves the request the connection's client's
 * (stats.h2_forwarded_indexed).
 */
#ifndef PS_BPF_H2FWD_H
#define PS_BPF_H2FWD_H

#include "common.h"
#include "scratch.h"
#include "hpack.h"
#include "forwarded.h"

/* Where a value is decoded: after the chunk and its carry, before the slack. */
#define PS_H2FWD_AT	(PS_LINE_CARRY + PS_CHUNK + 120)
#define PS_H2FWD_MAX	256
/* Bytes of an unfinished entry carried across segments (ps_h2_conn.val). */
#define PS_H2FWD_CARRY	128

/* ps_h2_conn.fskip */
#define PS_HFS_NONE	0
#define PS_HFS_COMMA	1	/* an entry too long: skipped to the next comma */
#define PS_HFS_ALL	2	/* a Huffman code with EOS: the rest is skipped */

/* The bytes of a value ps_hp_fwdv() decodes, as bpf_loop's context. */
struct ps_hf_ctx {
	__u32 p;
	__u32 end;
	__u32 half;	/* the low four bits of buf[p] are next (Huffman) */
	__u32 dn;	/* bytes decoded at PS_H2FWD_AT */
};

/* One step: a byte of a plain value, four bits of a Huffman-coded one. */
static long ps_hf_step(__u32 idx, void *data)
{
	struct ps_hf_ctx *x = data;
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_conn *c;
	__u32 e;
	__u8 b, sym;

	if (!s || x->p >= x->end || x->end > PS_BUF_SIZE || x->dn >= PS_H2FWD_MAX)
		return 1;
	c = &s->h2c;
	b = s->buf[x->p & PS_BUF_MASK];
	if (!c->huff) {
		x->p++;
		sym = b;
	} else {
		e = ps_huffdec[c->hst][(x->half ? b : b >> 4) & 15];
		if (x->half)
			x->p++;
		x->half = !x->half;
		if (e & PS_HD_FAIL) {
			/* EOS in a string: no HPACK, no address. */
			c->fskip = PS_HFS_ALL;
			c->hst = 0;
			c->hacc = 0;
			return 0;
		}
		c->hst = e & 0xff;
		c->hacc = !!(e & PS_HD_ACCEPT);
		if (!(e & PS_HD_EMIT))
			return 0;
		sym = e >> 16;
	}
	if (c->fskip) {
		if (c->fskip == PS_HFS_COMMA && sym == ',') {
			c->fskip = PS_HFS_NONE;
			s->fw.kind = PS_FWD_BAD;
		}
		return 0;
	}
	s->buf[(PS_H2FWD_AT + x->dn) & PS_BUF_MASK] = sym;
	x->dn++;
	return 0;
}

/*
 * The forwarded value's bytes from buf[p] on (up to s->len, the block's and
 * the string's bytes left, as many as PS_H2FWD_MAX decoded bytes take):
 * decoded after what was carried, and walked. Returns where it stopped. A
 * global function, verified once; its loops bpf_loop callbacks.
 */
PS_GLOBAL __u32 ps_hp_fwdv(__u32 p)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_hf_ctx x = {};
	struct ps_h2_conn *c;
	__u32 n, room, r, k, len;

	if (!s)
		return p;
	len = s->len;
	if (p > len || len > PS_BUF_SIZE)
		return len;
	c = &s->h2c;
	if (c->rstate != PS_HP_FWDV)
		return p;
	k = c->vn;
	if (k > PS_H2FWD_CARRY)
		k = 0;
	if (k)
		bpf_probe_read_kernel(s->buf + PS_H2FWD_AT, k, c->val);
	room = PS_H2FWD_MAX - k;
	/* A byte decodes to two symbols at most (codes are 5 bits or more). */
	if (c->huff)
		room /= 2;
	n = len - p;
	if (n > c->blk_left)
		n = c->blk_left;
	if (n > c->str_left)
		n = c->str_left;
	if (n > room)
		n = room;
	x.p = p;
	x.end = p + n;
	x.dn = k;
	if (n)
		bpf_loop(c->huff ? 2 * n : n, ps_hf_step, &x, 0);
	if (x.p < p || x.p > p + n || x.dn > PS_H2FWD_MAX)
		return len;
	n = x.p - p;
	c->str_left -= n;
	c->blk_left -= n;
	c->vn = 0;
	s->fw_hdr = c->fname == PS_HFN_FWD;
	s->fw_q = PS_H2FWD_AT;
	s->fw_end = PS_H2FWD_AT + x.dn;
	if (!c->str_left) {
		/* The value whole: walked from its right end. */
		if (c->fskip || (c->huff && !c->hacc))
			s->fw.kind = PS_FWD_BAD;
		else if (x.dn)
			ps_fwd_walk_back(s);
		c->fskip = PS_HFS_NONE;
		/* Its entry's PS_HENT_FWDWALK: its walk kept. */
		c->inf = ps_hp_fwd_keep();
		ps_hp_value_done(c);
		return x.p;
	}
	/* It goes on: its complete entries walked, the unfinished one carried. */
	if (x.dn) {
		r = ps_fwd_walk_partial(s);
		k = s->fw_end - r;
		if (r >= PS_H2FWD_AT && k <= PS_H2FWD_CARRY) {
			if (k)
				bpf_probe_read_kernel(c->val, k, s->buf + (r & PS_BUF_MASK));
			c->vn = k;
		} else if (!c->fskip) {
			c->fskip = PS_HFS_COMMA;
		}
	}
	return x.p;
}

#endif
