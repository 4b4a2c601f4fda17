/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HPACK (RFC 7541) on the client's header blocks, just enough to tell
 * whether a request's :path starts with an endpoint path: the :path comes
 * from the static table (indexes 4 and 5), as a literal, plain or
 * Huffman-coded, or from the dynamic table. The dynamic table is followed
 * by its entries' sizes (name + value + 32, section 4.1), their names'
 * lengths and two bits (a :path, an inference :path); values are never
 * kept, only what a key entry's or a forwarded entry's value said (its
 * key id, its walk), in a record beside the table (ps_h2_kept). A
 * Huffman-coded value is compared with the endpoint paths' own Huffman
 * codes (ps_endpoint.hpaths, written by penstockd), bit for bit, without
 * decoding: the code is prefix-free, so a value starts with a path exactly
 * when its code starts with the path's code.
 *
 * A table that cannot be followed (more than PS_HPACK_ENTRIES entries, an
 * entry whose size is not known, bytes that are no HPACK) is marked lost;
 * a request whose :path then cannot be read is counted, not as an
 * inference request, and in stats.h2_unclassified.
 *
 * The state lives in the scratch (s->h2c) while a segment is parsed, in
 * ps_h2 between segments; bytes are fed a representation step at a time,
 * so that integers and strings may be cut anywhere.
 */
#ifndef PS_BPF_HPACK_H
#define PS_BPF_HPACK_H

#include "common.h"
#include "maps.h"
#include "scratch.h"
#include "apikey.h"
#include "huffdec.h"
#include "forwarded.h"

/* ps_h2_conn.rstate: where in a representation the block stands */
#define PS_HP_START	0	/* at a representation's first byte */
#define PS_HP_INT	1	/* in an integer's continuation bytes (ipart says which) */
#define PS_HP_STRLEN	2	/* at a string's first byte: H and its length */
#define PS_HP_STR	3	/* in a string's bytes */
#define PS_HP_INSERT	4	/* evicting, then inserting an entry of size ins */
#define PS_HP_EVICT	5	/* evicting down to a new maximum size */
#define PS_HP_BROKEN	6	/* not HPACK: the rest of the block is skipped */
#define PS_HP_MATCH	7	/* a :path value is read: to compare (ps_hp_matched()) */
#define PS_HP_KEYV	8	/* in a key header's value: read by ps_hp_keyv() */
#define PS_HP_FWDV	9	/* in a forwarded header's value: read by ps_hp_fwdv() (h2fwd.h) */
#define PS_HP_PCT	10	/* a :path value no endpoint path as sent: decoded and
				 * compared again (ps_hp_pct_path()) */

/* ps_h2_conn.fname: the literal's name is a forwarded header's */
#define PS_HFN_NONE	0
#define PS_HFN_XFF	1	/* x-forwarded-for */
#define PS_HFN_FWD	2	/* forwarded */

/* ps_h2_conn.kst: where a key header's value stands, a byte at a time */
#define PS_HKS_LEAD	0	/* blanks before "Bearer" */
/* 1..6: that many bytes of "bearer" matched */
#define PS_HKS_SEP	7	/* "bearer" read: a blank must follow */
#define PS_HKS_BLANK	8	/* blanks before the key */
#define PS_HKS_KEY	9	/* in the key */
#define PS_HKS_END	10	/* after the key: the rest is not read */
#define PS_HKS_NONE	11	/* no key (another scheme, a Huffman code that is none) */

/* ps_h2_conn.kind: the representation (section 6) */
#define PS_HK_INDEXED	0	/* 1xxxxxxx */
#define PS_HK_INC	1	/* 01xxxxxx literal with incremental indexing */
#define PS_HK_SIZE	2	/* 001xxxxx dynamic table size update */
#define PS_HK_LIT	3	/* 000xxxxx literal without (or never) indexing */

/* ps_h2_conn.ipart: which integer or string is being read */
#define PS_HI_INDEX	0
#define PS_HI_NAME	1
#define PS_HI_VALUE	2

/* ps_h2_conn.path */
#define PS_H2P_NONE	0	/* no :path yet */
#define PS_H2P_INF	1	/* it starts with an endpoint path */
#define PS_H2P_OTHER	2	/* it does not */
#define PS_H2P_UNKNOWN	3	/* a field whose name could not be read: maybe */

/* Bytes of a name kept to compare with ":path" and "content-type". */
#define PS_HP_NAME_KEEP	16
/* Bytes of a content-type value kept to compare with "application/grpc". */
#define PS_HP_CTYPE_KEEP	16
/* Steps of one feed: a representation takes up to four, an eviction one each. */
#define PS_HP_STEPS	(4 * (PS_LINE_CARRY + PS_CHUNK) + PS_HPACK_ENTRIES)

/* Name lengths of the static table's 61 entries (Appendix A), index 0 unused. */
static const __u8 ps_hp_static_nlen[64] = {
	0, 10, 7, 7, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7, 14, 15, 15, 13, 6, 27, 3, 5, 13, 13, 19, 16,
	16, 14, 16, 13, 12, 6, 4, 4, 6, 7, 4, 4, 8, 17, 13, 8, 19, 13, 4, 8, 12, 18, 19, 5, 7,
	7, 11, 6, 10, 25, 17, 10, 4, 3, 16,
};

/* ":path" Huffman-coded (4 bytes, EOS padding included), little-endian. */
#define PS_HP_PATH_HUFF	0x3fd358b9U
/* "content-type" Huffman-coded: 9 bytes (66 bits, EOS padding included). */
#define PS_HP_CTYPE_HUFF0	0x59f5c94a6a49ea21ULL
#define PS_HP_CTYPE_HUFF8	0x7f
/* The key headers' names Huffman-coded (EOS padding included), little-endian:
 * "authorization" 9 bytes, "x-api-key" 7, "api-key" 6. */
#define PS_HP_AUTH_HUFF0	0x63d2d81bf69ca91dULL
#define PS_HP_AUTH_HUFF8	0xd5
#define PS_HP_XAPIKEY_HUFF	0xeb4bdd32ebb0f2ULL
#define PS_HP_APIKEY_HUFF	0x7f7da95b661dULL
/* "x-forwarded-for" Huffman-coded: 11 bytes (88 bits, no padding);
 * "forwarded": 7 bytes (52 bits, EOS padding included). */
#define PS_HP_XFF_HUFF0		0xb290ecc0b3a7b4f2ULL
#define PS_HP_XFF_HUFF8		0xec292dULL
#define PS_HP_FWD_HUFF		0x4f16921d78f694ULL

/* "application/grpc" Huffman-coded: 88 bits, 11 whole bytes, so that a
 * value starts with it exactly when its code starts with these bytes. */
#define PS_HP_GRPC_HUFF0	0x4c3d260d62d0751dULL
#define PS_HP_GRPC_HUFF8	0x64654dU

/*
 * A forwarded entry's name (PS_HENT_FWDNAME) of n bytes, as written: 15
 * plain, 11 Huffman-coded, is x-forwarded-for's; forwarded's is 9 or 7.
 */
static __always_inline int ps_hp_xff_len(__u32 n)
{
	return n == 15 || n == 11;
}

/* The feed stops for the caller: a :path to compare, a key value to read. */
static __always_inline int ps_hp_stop(const struct ps_h2_conn *c)
{
	return c->rstate == PS_HP_MATCH || c->rstate == PS_HP_KEYV || c->rstate == PS_HP_FWDV ||
	       c->rstate == PS_HP_PCT;
}

/* A fresh table for a connection that turned HTTP/2. */
static __always_inline void ps_hp_init(struct ps_scratch *s)
{
	__builtin_memset(&s->h2c, 0, __builtin_offsetof(struct ps_h2_conn, val));
	s->h2c.tbl_max = PS_HPACK_TABLE;
	s->h2c.ftag = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32() | 1;
	s->h2_on = 1;
}

/* The request's :path is v, unless one was read already. */
static __always_inline void ps_hp_path(struct ps_h2_conn *c, __u8 v)
{
	if (!c->req)
		return;
	if (v == PS_H2P_UNKNOWN) {
		if (c->path == PS_H2P_NONE)
			c->path = v;
	} else if (c->path == PS_H2P_NONE || c->path == PS_H2P_UNKNOWN) {
		c->path = v;
	}
}

/* The request's header block says content-type application/grpc. */
static __always_inline void ps_hp_grpc(struct ps_h2_conn *c)
{
	if (c->req)
		c->grpc = 1;
}

/* Does the content-type value in val (str_len bytes, Huffman-coded or not)
 * start with "application/grpc" (application/grpc+proto too)? */
static __always_inline int ps_hp_grpc_value(const struct ps_h2_conn *c)
{
	__u64 w0 = *(const __u64 *)&c->val[0], w1 = *(const __u64 *)&c->val[8];

	if (c->huff)
		return c->str_len >= 11 && w0 == PS_HP_GRPC_HUFF0 &&
		       (w1 & ps_mask(3)) == PS_HP_GRPC_HUFF8;
	return c->str_len >= 16 && w0 == PS_W8("applicat") && w1 == PS_W8("ion/grpc");
}

/* Does the Huffman code in val (vn bytes, of a string of len bytes) start with an endpoint path's? */
static __always_inline int ps_hp_huff_match(const struct ps_h2_conn *c, __u32 ep)
{
	struct ps_endpoint *e = bpf_map_lookup_elem(&ps_endpoints, &ep);
	__u32 i, w, bits, nb, last;

	if (!e)
		return 0;
	for (i = 0; i < PS_MAX_PATHS; i++) {
		int match = 1;

		if (i >= e->npaths)
			break;
		bits = e->hpath_bits[i];
		nb = (bits + 7) / 8;
		if (!bits || nb > PS_PATH_MAX || nb > c->vn)
			continue;
		last = nb - 1;
		for (w = 0; w < PS_PATH_MAX / 8; w++) {
			__u64 m, a, b;

			if (w * 8 >= nb)
				break;
			m = ps_mask(nb - w * 8);
			/* Only the code's own bits of its last byte (the high ones). */
			if ((bits & 7) && last / 8 == w)
				m &= ~(0xffULL << ((last & 7) * 8)) |
				     ((__u64)((0xff00U >> (bits & 7)) & 0xff) << ((last & 7) * 8));
			a = *(const __u64 *)&c->val[w * 8] & m;
			b = *(__u64 *)&e->hpaths[i][w * 8] & m;
			if (a != b) {
				match = 0;
				break;
			}
		}
		if (match)
			return 1;
	}
	return 0;
}

/* Does the :path value in val start with one of the endpoint's paths? */
static __always_inline int ps_hp_match(struct ps_scratch *s)
{
	if (s->h2c.huff)
		return ps_hp_huff_match(&s->h2c, s->endpoint);
	return ps_inference_path(s->h2c.val, s->h2c.vn, s->endpoint);
}

/* Ring index of the i-th newest entry (0: the newest). */
static __always_inline __u32 ps_hp_at(const struct ps_h2_conn *c, __u32 i)
{
	return (c->head - i) & (PS_HPACK_ENTRIES - 1);
}

static __always_inline void ps_hp_evict(struct ps_h2_conn *c)
{
	__u32 t = ps_hp_at(c, c->count - 1);

	c->tbl_bytes -= c->ent_size[t];
	c->count--;
}

/*
 * Records beside the table (struct ps_h2_kept): what an entry said that is
 * not kept with it, by the entry's insertion number. A literal with
 * incremental indexing keeps its record when its value is read, for the
 * entry it inserts next (ins_no + 1); an indexed field looks the record up.
 */
static __always_inline int ps_hp_kept_put(const struct ps_h2_conn *c, const struct ps_h2_kept *v)
{
	struct ps_h2_kept_key k = { .tag = c->ftag, .ino = c->ins_no + 1 };

	if (c->kind != PS_HK_INC || c->lost)
		return 0;
	return !bpf_map_update_elem(&ps_h2_kept, &k, v, BPF_ANY);
}

static __always_inline struct ps_h2_kept *ps_hp_kept_of(const struct ps_h2_conn *c, __u32 ino)
{
	struct ps_h2_kept_key k = { .tag = c->ftag, .ino = ino };

	return bpf_map_lookup_elem(&ps_h2_kept, &k);
}

/*
 * A key value is read, its id c->kid: kept for the entry its literal
 * inserts. 1 if kept. A global function, verified once.
 */
PS_GLOBAL int ps_hp_key_keep(void)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_kept v = {};

	if (!s)
		return 0;
	v.kid = s->h2c.kid;
	v.kind = s->h2c.kname;
	return ps_hp_kept_put(&s->h2c, &v);
}

/*
 * An indexed field names the dynamic entry inserted as number ino, which
 * holds a key: the request's key, if its record is still kept (and the
 * best so far, as HTTP/1 takes the best). A global function, verified once.
 */
PS_GLOBAL int ps_hp_key_ref(__u32 ino)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_kept *v;

	if (!s || !s->h2c.req || !s->key_ep)
		return 0;
	v = ps_hp_kept_of(&s->h2c, ino);
	if (!v) {
		s->h2c.kunk = 1;
		return 0;
	}
	if (v->kind > s->key.kind) {
		s->key.id = v->kid;
		s->key.kind = v->kind;
	}
	return 0;
}

/*
 * A forwarded value of a literal is walked whole, the block's first to
 * name anyone (c->fsolo): what the walk said (s->fw) is the value's own,
 * kept for the entry the literal inserts. 1 if kept. A global function,
 * verified once.
 */
PS_GLOBAL int ps_hp_fwd_keep(void)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_kept v = {};

	if (!s || !s->h2c.fsolo)
		return 0;
	v.kind = s->fw.kind;
	if (v.kind == PS_FWD_ADDR) {
		v.addr = s->fw.subj;
		v.family = s->fw.subj_family;
	} else if (v.kind == PS_FWD_NONE) {
		v.addr = s->fw.left;
		v.family = s->fw.left_family;
	}
	return ps_hp_kept_put(&s->h2c, &v);
}

/*
 * An indexed field names the forwarded entry inserted as number ino, whose
 * walk was kept: the request's walk goes on as if the value were there
 * (ps_fwd_walk_back() on it: it settles the request, or, all trusted
 * proxies, gives the left-most if none was). 1 if the record is gone.
 * A global function, verified once.
 */
PS_GLOBAL int ps_hp_fwd_ref(__u32 ino)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_kept *v;
	struct ps_fwd *fw;

	if (!s)
		return 1;
	v = ps_hp_kept_of(&s->h2c, ino);
	if (!v)
		return 1;
	fw = &s->fw;
	if (v->kind == PS_FWD_ADDR) {
		fw->subj = v->addr;
		fw->subj_family = v->family;
		fw->kind = PS_FWD_ADDR;
	} else if (v->kind == PS_FWD_BAD) {
		fw->kind = PS_FWD_BAD;
	} else if (v->family && !fw->left_family) {
		fw->left = v->addr;
		fw->left_family = v->family;
	}
	return 0;
}

/* An indexed field (section 6.1) with index v. */
static __always_inline void ps_hp_indexed(struct ps_scratch *s, struct ps_h2_conn *c, __u32 v)
{
	__u32 k;

	if (!v) {
		c->rstate = PS_HP_BROKEN;
		return;
	}
	if (v == 4 || v == 5) {
		/* ":path: /" and ":path: /index.html" */
		__builtin_memset(c->val, 0, 16);
		__builtin_memcpy(c->val, "/index.html", 11);
		c->vn = v == 4 ? 1 : 11;
		c->huff = 0;
		c->rstate = PS_HP_MATCH;
		return;
	}
	if (v <= 61)
		return;
	if (c->lost || v - 62 >= c->count) {
		c->lost = 1;
		ps_hp_path(c, PS_H2P_UNKNOWN);
		if (c->req)
			c->kunk = 1;
		return;
	}
	k = ps_hp_at(c, v - 62);
	if ((c->ent_flags[k] & PS_HENT_FWDNAME) && c->req && s->fwd_ep) {
		/* A forwarded field whose value the table holds: its walk,
		 * if it was kept (h2fwd.h); an empty value names no one. */
		if (ps_fwd_begin(s, !ps_hp_xff_len(c->ent_name[k])) &&
		    c->ent_size[k] != c->ent_name[k] + 32 &&
		    (!(c->ent_flags[k] & PS_HENT_FWDWALK) || ps_hp_fwd_ref(c->ins_no - (v - 62))))
			s->fw.flags |= PS_FWDF_H2IDX;
		return;
	}
	if (c->ent_flags[k] & PS_HENT_KEYID)
		ps_hp_key_ref(c->ins_no - (v - 62));
	if (c->ent_flags[k] & PS_HENT_PATH)
		ps_hp_path(c, (c->ent_flags[k] & PS_HENT_INF) ? PS_H2P_INF : PS_H2P_OTHER);
	else if ((c->ent_flags[k] & (PS_HENT_CTYPE | PS_HENT_INF)) ==
		 (PS_HENT_CTYPE | PS_HENT_INF))
		ps_hp_grpc(c);
	else if (c->ent_flags[k] & PS_HENT_UNKNOWN)
		ps_hp_path(c, PS_H2P_UNKNOWN);
}

/* A literal's name by index v (section 6.2): which, and its length. */
static __always_inline void ps_hp_name_of(struct ps_h2_conn *c, __u32 v)
{
	__u32 k;

	if (v <= 61) {
		c->name = (v == 4 || v == 5) ? PS_HENT_PATH : v == 31 ? PS_HENT_CTYPE : 0;
		c->kname = v == 23 ? PS_KEY_BEARER : PS_KEY_NONE;	/* authorization */
		c->fname = PS_HFN_NONE;
		c->name_len = ps_hp_static_nlen[v & 63];
		return;
	}
	if (c->lost || v - 62 >= c->count) {
		c->lost = 1;
		c->name = PS_HENT_UNKNOWN;
		c->name_len = 0;
		c->fname = PS_HFN_NONE;
		if (c->req)
			c->kunk = 1;
		return;
	}
	k = ps_hp_at(c, v - 62);
	c->name = c->ent_flags[k] & (PS_HENT_PATH | PS_HENT_UNKNOWN | PS_HENT_CTYPE);
	c->kname = (c->ent_flags[k] & PS_HENT_KEYNAME) >> PS_HENT_KEYNAME_SHIFT;
	c->name_len = c->ent_name[k];
	c->fname = !(c->ent_flags[k] & PS_HENT_FWDNAME) ? PS_HFN_NONE :
		   ps_hp_xff_len(c->name_len) ? PS_HFN_XFF : PS_HFN_FWD;
}

/* An integer is read whole: what it was for. */
static __always_inline void ps_hp_int_done(struct ps_scratch *s, struct ps_h2_conn *c, __u32 v)
{
	c->rstate = PS_HP_START;
	if (c->ipart == PS_HI_INDEX) {
		switch (c->kind) {
		case PS_HK_INDEXED:
			ps_hp_indexed(s, c, v);
			return;
		case PS_HK_SIZE:
			c->tbl_max = v;
			c->rstate = PS_HP_EVICT;
			return;
		}
		if (v) {
			ps_hp_name_of(c, v);
			c->ipart = PS_HI_VALUE;
		} else {
			c->ipart = PS_HI_NAME;
		}
		c->rstate = PS_HP_STRLEN;
		return;
	}
	/* A string's length. */
	c->str_len = v;
	c->str_left = v;
	c->vn = 0;
	if (c->ipart == PS_HI_NAME)
		c->name_len = v;
	c->rstate = PS_HP_STR;
	c->kok = 0;
	if (c->ipart == PS_HI_VALUE && c->kname && s->key_ep &&
	    (c->req || c->kind == PS_HK_INC)) {
		/* A key header's value: hashed by ps_hp_keyv(), decoded if it is
		 * Huffman-coded. Outside a request (trailers, a block on a
		 * stream already opened) for the entry it inserts alone: an
		 * index to it is a later request's key. */
		ps_key_begin(&s->key, c->kname);
		c->kst = c->kname == PS_KEY_BEARER ? PS_HKS_LEAD : PS_HKS_BLANK;
		c->hst = 0;
		c->hacc = 1;
		c->rstate = PS_HP_KEYV;
	} else if (c->ipart == PS_HI_VALUE && c->fname && c->req && s->fwd_ep &&
		   ps_fwd_begin(s, c->fname == PS_HFN_FWD) && v) {
		/* A forwarded header's value, from a trusted proxy: decoded and
		 * walked by ps_hp_fwdv() (h2fwd.h); an empty one names no one. */
		c->hst = 0;
		c->hacc = 1;
		c->fskip = 0;
		c->fsolo = s->fw.kind == PS_FWD_NONE && !s->fw.left_family;
		c->rstate = PS_HP_FWDV;
	}
}

/* Is the name in val (str_len bytes, Huffman-coded or not) a key header's? PS_KEY_*. */
static __always_inline __u8 ps_hp_key_name(const struct ps_h2_conn *c, __u64 w, __u64 w1)
{
	const __u64 lc = 0x2020202020202020ULL;

	if (c->huff)
		return c->str_len == 9 && w == PS_HP_AUTH_HUFF0 && (w1 & 0xff) == PS_HP_AUTH_HUFF8 ?
		       PS_KEY_BEARER :
		       c->str_len == 7 && (w & ps_mask(7)) == PS_HP_XAPIKEY_HUFF ? PS_KEY_X_API_KEY :
		       c->str_len == 6 && (w & ps_mask(6)) == PS_HP_APIKEY_HUFF ? PS_KEY_API_KEY :
		       PS_KEY_NONE;
	return c->str_len == 13 && (w | lc) == PS_W8("authoriz") &&
	       ((w1 | lc) & ps_mask(5)) == PS_W8("ation") ? PS_KEY_BEARER :
	       c->str_len == 9 && (w | lc) == PS_W8("x-api-ke") && ((w1 | lc) & 0xff) == 'y' ?
	       PS_KEY_X_API_KEY :
	       c->str_len == 7 && ((w | lc) & ps_mask(7)) == PS_W8("api-key") ? PS_KEY_API_KEY :
	       PS_KEY_NONE;
}

/* Is the name in val (str_len bytes, Huffman-coded or not) a forwarded header's? PS_HFN_*. */
static __always_inline __u8 ps_hp_fwd_name(const struct ps_h2_conn *c, __u64 w, __u64 w1)
{
	const __u64 lc = 0x2020202020202020ULL;

	if (c->huff)
		return c->str_len == 11 && w == PS_HP_XFF_HUFF0 &&
		       (w1 & ps_mask(3)) == PS_HP_XFF_HUFF8 ? PS_HFN_XFF :
		       c->str_len == 7 && (w & ps_mask(7)) == PS_HP_FWD_HUFF ? PS_HFN_FWD :
		       PS_HFN_NONE;
	return c->str_len == 15 && (w | lc) == PS_W8("x-forwar") &&
	       ((w1 | lc) & ps_mask(7)) == PS_W8("ded-for") ? PS_HFN_XFF :
	       c->str_len == 9 && (w | lc) == PS_W8("forwarde") && ((w1 | lc) & 0xff) == 'd' ?
	       PS_HFN_FWD : PS_HFN_NONE;
}

/* A literal's value is read: inserted into the table if the literal says so. */
static __always_inline void ps_hp_value_done(struct ps_h2_conn *c)
{
	if (c->kind == PS_HK_INC) {
		c->ins = c->name_len + c->str_len + 32;
		c->rstate = PS_HP_INSERT;
	} else {
		c->rstate = PS_HP_START;
	}
}

/* A string is read whole. */
static __always_inline void ps_hp_str_done(struct ps_scratch *s, struct ps_h2_conn *c)
{
	__u64 w = *(__u64 *)c->val, w1 = *(__u64 *)&c->val[8];

	if (c->ipart == PS_HI_NAME) {
		if (c->huff)
			c->name = c->str_len == 4 && (w & ps_mask(4)) == PS_HP_PATH_HUFF ?
				  PS_HENT_PATH :
				  c->str_len == 9 && w == PS_HP_CTYPE_HUFF0 &&
				  (w1 & 0xff) == PS_HP_CTYPE_HUFF8 ? PS_HENT_CTYPE : 0;
		else
			c->name = c->str_len == 5 && (w & ps_mask(5)) == PS_W8(":path") ?
				  PS_HENT_PATH :
				  c->str_len == 12 && w == PS_W8("content-") &&
				  (w1 & ps_mask(4)) == PS_W8("type") ? PS_HENT_CTYPE : 0;
		c->kname = ps_hp_key_name(c, w, w1);
		c->fname = ps_hp_fwd_name(c, w, w1);
		c->ipart = PS_HI_VALUE;
		c->rstate = PS_HP_STRLEN;
		return;
	}
	c->inf = 0;
	if (c->name == PS_HENT_PATH) {
		/* Compared by ps_hp_matched(), one call up: the stack is short here. */
		c->rstate = PS_HP_MATCH;
		return;
	}
	if (c->name == PS_HENT_CTYPE) {
		c->inf = ps_hp_grpc_value(c);
		if (c->inf)
			ps_hp_grpc(c);
	}
	if (c->name & PS_HENT_UNKNOWN)
		ps_hp_path(c, PS_H2P_UNKNOWN);
	ps_hp_value_done(c);
}

/* The :path compared (c->inf): the representation goes on. */
static __always_inline void ps_hp_path_done(struct ps_h2_conn *c)
{
	ps_hp_path(c, c->inf ? PS_H2P_INF : PS_H2P_OTHER);
	if (c->kind == PS_HK_INDEXED)
		c->rstate = PS_HP_START;
	else
		ps_hp_value_done(c);
}

/* A byte of the decoded :path into the scratch's path, as ps_path_cb() keeps a target's. */
static __always_inline void ps_hp_pct_out(struct ps_scratch *s, __u8 b)
{
	__u32 n = s->walk_n;

	if (n < PS_PATH_MAX) {
		s->path[n & (PS_PATH_MAX - 1)] = b;
		s->walk_n = n + 1;
	}
}

/* A symbol of the :path, its %XX escapes decoded as an HTTP/1 target's are. */
static __always_inline void ps_hp_pct_sym(struct ps_scratch *s, __u8 b)
{
	int d = ps_hexdig(b);

	if (s->pct_pend == 1 && d >= 0) {
		s->pct_hi = b;
		s->pct_pend = 2;
		return;
	}
	if (s->pct_pend == 2 && d >= 0) {
		ps_hp_pct_out(s, (ps_hexdig(s->pct_hi) << 4) | d);
		s->pct_pend = 0;
		return;
	}
	/* An escape cut short: its bytes as they are. */
	if (s->pct_pend)
		ps_hp_pct_out(s, '%');
	if (s->pct_pend == 2)
		ps_hp_pct_out(s, s->pct_hi);
	s->pct_pend = 0;
	if (b == '%') {
		s->pct_pend = 1;
		s->pct_saw = 1;
		return;
	}
	ps_hp_pct_out(s, b);
}

/* bpf_loop callback: the :path value's next byte (a literal) or 4 bits (Huffman-coded). */
static long ps_hp_pct_cb(__u32 i, void *data)
{
	struct ps_scratch *s = ps_scratch();
	__u32 q, e;
	__u8 b;

	if (!s)
		return 1;
	q = s->walk_q;
	if (q >= s->walk_end || s->walk_n >= PS_PATH_MAX)
		return 1;
	s->walk_q = q + 1;
	if (!s->h2c.huff) {
		if (q >= PS_HPACK_VAL)
			return 1;
		ps_hp_pct_sym(s, s->h2c.val[q]);
		return 0;
	}
	if ((q >> 1) >= PS_HPACK_VAL)
		return 1;
	b = s->h2c.val[q >> 1];
	e = ps_huffdec[s->pct_st & 255][((q & 1) ? b : b >> 4) & 15];
	if (e & PS_HD_FAIL)
		return 1;
	s->pct_st = e & 0xff;
	if (e & PS_HD_EMIT)
		ps_hp_pct_sym(s, (e >> 16) & 0xff);
	return 0;
}

/*
 * A :path value that is no endpoint path as sent: does it start with one
 * once decoded (Huffman) and its %XX escapes decoded, as an HTTP/1 request
 * target's are (docs/http1-counting.md 7.6)? A server decodes them before
 * it routes (/v1/chat/%63ompletions is /v1/chat/completions). Only a value
 * with a '%' is compared again; the representation goes on. Called by
 * the chunk's step (http2.h), not under ps_hp_matched(): its loop would
 * not fit on the stack there. A global function, verified once.
 */
PS_GLOBAL int ps_hp_pct_path(void)
{
	struct ps_scratch *s = ps_scratch();
	__u32 vn;

	if (!s || s->h2c.rstate != PS_HP_PCT)
		return 0;
	vn = s->h2c.vn;
	s->walk_q = 0;
	s->walk_end = s->h2c.huff ? 2 * vn : vn;
	s->walk_n = 0;
	s->pct_st = 0;
	s->pct_pend = 0;
	s->pct_saw = 0;
	bpf_loop(2 * PS_HPACK_VAL, ps_hp_pct_cb, NULL, 0);
	s->h2c.inf = s->pct_saw && ps_inference_path(s->path, s->walk_n, s->endpoint);
	ps_hp_path_done(&s->h2c);
	return 0;
}

/*
 * The :path value read (a literal's, or the static table's) is compared
 * with the endpoint's paths; the representation goes on. A global
 * function, verified once.
 */
PS_GLOBAL int ps_hp_matched(void)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_conn *c;

	if (!s)
		return 0;
	c = &s->h2c;
	if (c->rstate != PS_HP_MATCH)
		return 0;
	c->inf = ps_hp_match(s);
	/* Not as sent: decoded, one call up (ps_hp_pct_path()). */
	if (!c->inf && c->vn && c->kind != PS_HK_INDEXED) {
		c->rstate = PS_HP_PCT;
		return 0;
	}
	ps_hp_path_done(c);
	return 0;
}

/* The bytes of one feed, as bpf_loop's context. */
struct ps_hp_ctx {
	__u32 p;
	__u32 end;
};

/* One step: a representation's first byte, an integer, a string, an eviction. */
static long ps_hp_step(__u32 idx, void *data)
{
	struct ps_hp_ctx *x = data;
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_conn *c;
	__u32 p = x->p, end = x->end, n, i, keep;
	__u8 b;

	if (!s || end > PS_BUF_SIZE)
		return 1;
	c = &s->h2c;
	switch (c->rstate) {
	case PS_HP_INSERT:
		if (c->lost || c->ins > c->tbl_max) {
			/* Too large for the table: it empties (section 4.4). */
			if (!c->lost) {
				c->count = 0;
				c->tbl_bytes = 0;
			}
			c->rstate = PS_HP_START;
		} else if (c->tbl_bytes + c->ins > c->tbl_max && c->count) {
			ps_hp_evict(c);
		} else if (c->count >= PS_HPACK_ENTRIES || c->name_len > 0xffff) {
			c->lost = 1;
			c->rstate = PS_HP_START;
		} else {
			c->head = (c->head + 1) & (PS_HPACK_ENTRIES - 1);
			c->ent_size[c->head & (PS_HPACK_ENTRIES - 1)] = c->ins;
			c->ent_name[c->head & (PS_HPACK_ENTRIES - 1)] = c->name_len;
			c->ent_flags[c->head & (PS_HPACK_ENTRIES - 1)] =
				c->name | (c->inf ? PS_HENT_INF : 0) |
				((c->kname << PS_HENT_KEYNAME_SHIFT) & PS_HENT_KEYNAME) |
				(c->kok ? PS_HENT_KEYID : 0) |
				(c->fname ? PS_HENT_FWDNAME : 0);
			c->ins_no++;
			c->kok = 0;
			c->count++;
			c->tbl_bytes += c->ins;
			c->rstate = PS_HP_START;
		}
		return 0;
	case PS_HP_EVICT:
		if (c->tbl_bytes > c->tbl_max && c->count)
			ps_hp_evict(c);
		else
			c->rstate = PS_HP_START;
		return 0;
	case PS_HP_BROKEN:
		x->p = end;
		return 1;
	case PS_HP_MATCH:
	case PS_HP_KEYV:
	case PS_HP_FWDV:
	case PS_HP_PCT:
		return 1;
	}
	if (p >= end)
		return 1;
	switch (c->rstate) {
	case PS_HP_START:
		b = s->buf[p & PS_BUF_MASK];
		if (b == 0x83 && c->req && !s->m_sid) {
			/* :method POST (static entry 3, indexed): where, for
			 * the gate, which may refuse the request in place
			 * (scratch.h ps_h2_refuse()). */
			s->m_pos = s->chunk_seq + (p - s->cc);
			s->m_sid = s->h.clen;
		}
		p++;
		c->ipart = PS_HI_INDEX;
		c->inf = 0;
		c->name = 0;
		c->kname = 0;
		c->fname = 0;
		if (b & 0x80) {
			c->kind = PS_HK_INDEXED;
			n = b & 0x7f;
			keep = 0x7f;
		} else if (b & 0x40) {
			c->kind = PS_HK_INC;
			n = b & 0x3f;
			keep = 0x3f;
		} else if (b & 0x20) {
			c->kind = PS_HK_SIZE;
			n = b & 0x1f;
			keep = 0x1f;
		} else {
			c->kind = PS_HK_LIT;
			n = b & 0x0f;
			keep = 0x0f;
		}
		goto prefix;
	case PS_HP_STRLEN:
		b = s->buf[p & PS_BUF_MASK];
		p++;
		c->huff = !!(b & 0x80);
		n = b & 0x7f;
		keep = 0x7f;
		goto prefix;
	case PS_HP_INT:
		/* Continuation bytes, seven bits each (section 5.1). */
		for (i = 0; i < 5; i++) {
			if (p >= end)
				break;
			b = s->buf[p & PS_BUF_MASK];
			p++;
			if (c->ishift > 21) {
				c->rstate = PS_HP_BROKEN;
				break;
			}
			c->ival += (__u32)(b & 0x7f) << c->ishift;
			c->ishift += 7;
			if (!(b & 0x80)) {
				ps_hp_int_done(s, c, c->ival);
				break;
			}
		}
		x->p = p;
		return ps_hp_stop(c);
	case PS_HP_STR:
		/* The first bytes of a name, or of a :path value, are kept. */
		keep = c->ipart == PS_HI_NAME ? PS_HP_NAME_KEEP :
		       c->name == PS_HENT_PATH ? PS_PATH_MAX :
		       c->name == PS_HENT_CTYPE ? PS_HP_CTYPE_KEEP : 0;
		n = end - p;
		if (n > c->str_left)
			n = c->str_left;
		if (c->vn < keep) {
			__u32 at = c->vn;

			i = keep - at;
			if (i > n)
				i = n;
			if (i > PS_PATH_MAX)
				i = PS_PATH_MAX;
			if (at >= PS_PATH_MAX)
				return 1;
			bpf_probe_read_kernel(&c->val[at], i, &s->buf[p & PS_BUF_MASK]);
			c->vn = at + i;
		}
		c->str_left -= n;
		p += n;
		x->p = p;
		if (!c->str_left)
			ps_hp_str_done(s, c);
		return ps_hp_stop(c);
	}
	return 1;
prefix:
	/* An integer with an N-bit prefix: all ones goes on in the next bytes. */
	x->p = p;
	if (n < keep) {
		ps_hp_int_done(s, c, n);
		return ps_hp_stop(c);
	} else {
		c->ival = n;
		c->ishift = 0;
		c->rstate = PS_HP_INT;
	}
	return 0;
}

/*
 * Feed buf[p..end) of the scratch, bytes of a header block, to the HPACK
 * state in the scratch: returns where it stopped, end or a :path value to
 * compare (PS_HP_MATCH).
 */
static __always_inline __u32 ps_hpack_feed(__u32 p, __u32 end)
{
	struct ps_hp_ctx x = { .p = p, .end = end };

	bpf_loop(PS_HP_STEPS, ps_hp_step, &x, 0);
	return x.p;
}

/*
 * A key header's value, a byte at a time (decoded, if it is Huffman-coded):
 * as HTTP/1 reads a key line's (apikey.h ps_g_key_start(), ps_key_end()),
 * blanks, "Bearer" and blanks for authorization, then the key up to a
 * blank or a CR, hashed.
 */
static __always_inline void ps_hp_key_sym(struct ps_scratch *s, struct ps_h2_conn *c, __u8 b)
{
	__u8 st = c->kst, blank = b == ' ' || b == '\t';

	if (st == PS_HKS_LEAD) {
		if (blank)
			return;
		st = 1;
	}
	if (st >= 1 && st <= 6) {
		c->kst = ps_lower(b) == ((PS_W8("bearer") >> (8 * (st - 1))) & 0xff) ? st + 1 :
			 PS_HKS_NONE;
		return;
	}
	if (st == PS_HKS_SEP) {
		c->kst = blank ? PS_HKS_BLANK : PS_HKS_NONE;
		return;
	}
	if (st == PS_HKS_BLANK) {
		if (blank)
			return;
		st = PS_HKS_KEY;
		c->kst = st;
	}
	if (st != PS_HKS_KEY)
		return;
	if (blank || b == '\r') {
		c->kst = PS_HKS_END;
		return;
	}
	ps_key_byte(&s->key, b);
}

/* The bytes of a key value ps_hp_keyv() reads, as bpf_loop's context. */
struct ps_hk_ctx {
	__u32 p;
	__u32 end;
	__u32 half;	/* the low four bits of buf[p] are next (Huffman) */
};

/*
 * One step: a byte of a plain value, four bits of a Huffman-coded one
 * (huffdec.h: at most one symbol ends in four bits). A byte read is
 * overwritten with 0 in the scratch.
 */
static long ps_hk_step(__u32 idx, void *data)
{
	struct ps_hk_ctx *x = data;
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_conn *c;
	__u32 o, e;
	__u8 b;

	if (!s || x->p >= x->end || x->end > PS_BUF_SIZE)
		return 1;
	c = &s->h2c;
	o = x->p & PS_BUF_MASK;
	b = s->buf[o];
	if (!c->huff) {
		s->buf[o] = 0;
		x->p++;
		ps_hp_key_sym(s, c, b);
		return 0;
	}
	e = ps_huffdec[c->hst][(x->half ? b : b >> 4) & 15];
	if (x->half) {
		s->buf[o] = 0;
		x->p++;
	}
	x->half = !x->half;
	if (e & PS_HD_FAIL) {
		/* EOS in a string: no HPACK, and no key. */
		c->kst = PS_HKS_NONE;
		c->hst = 0;
		c->hacc = 0;
		return 0;
	}
	c->hst = e & 0xff;
	c->hacc = !!(e & PS_HD_ACCEPT);
	if (e & PS_HD_EMIT)
		ps_hp_key_sym(s, c, e >> 16);
	return 0;
}

/*
 * A key value is read whole: its id, when it is a key (a Huffman code
 * padded as section 5.2 says, a key of one byte or more). Its id is the
 * request's when it is the best key so far, and is kept for the table
 * entry the literal may insert (kid, and kok once kept: ps_hp_key_keep()).
 */
static __always_inline void ps_hp_key_done(struct ps_scratch *s, struct ps_h2_conn *c)
{
	struct ps_keyh *k = &s->key;
	__u8 st = c->kst;

	c->kok = 0;
	if ((st == PS_HKS_KEY || st == PS_HKS_END) && k->len && (!c->huff || c->hacc)) {
		c->kid = ps_key_sum(k);
		c->kok = ps_hp_key_keep();
		if (c->req && k->cur > k->kind) {
			k->id = c->kid;
			k->kind = k->cur;
		}
	}
	k->cur = PS_KEY_NONE;
	k->m = 0;
	k->len = 0;
	c->kst = PS_HKS_NONE;
	c->inf = 0;
	ps_hp_value_done(c);
}

/*
 * The key value's bytes from buf[p] on (up to len, the block's and the
 * string's bytes left): decoded and hashed. Returns where it stopped. A
 * global function, verified once; its loop a bpf_loop callback.
 */
PS_GLOBAL __u32 ps_hp_keyv(__u32 p, __u32 len)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_hk_ctx x = {};
	struct ps_h2_conn *c;
	__u32 n;

	if (!s || p > len || len > PS_BUF_SIZE)
		return len;
	c = &s->h2c;
	if (c->rstate != PS_HP_KEYV)
		return p;
	n = len - p;
	if (n > c->blk_left)
		n = c->blk_left;
	if (n > c->str_left)
		n = c->str_left;
	x.p = p;
	x.end = p + n;
	if (n)
		bpf_loop(c->huff ? 2 * n : n, ps_hk_step, &x, 0);
	if (x.p < p || x.p > p + n)
		return len;
	n = x.p - p;
	c->str_left -= n;
	c->blk_left -= n;
	if (!c->str_left)
		ps_hp_key_done(s, c);
	return x.p;
}

#endif
