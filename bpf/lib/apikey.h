/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * API keys: the people who distil a model work through thousands of keys
 * from ever other addresses, so on an endpoint with identity: api_key a
 * request that carries a key is its key's: counted to it, judged by its
 * limit, held by its block. The key is taken from Authorization: Bearer
 * (OpenAI), x-api-key (Anthropic, gateways) or api-key (Azure), the first
 * of the highest of these a request sends, and is known only by its id:
 * SipHash-2-4 of its bytes under the secret penstockd keeps
 * (ps_key_secret).
 *
 * The key's bytes are hashed as the parser meets them, a word at a time,
 * across chunks and segments (struct ps_keyh keeps the hash's state in the
 * flow), and each byte hashed is overwritten in the scratch buffer: no
 * byte of a key is kept in a map. On every endpoint, with identity or
 * not, a key line's key is overwritten so, and its line's start is carried
 * to the next segment only up to where the key begins.
 */
#ifndef PS_BPF_APIKEY_H
#define PS_BPF_APIKEY_H

#include "common.h"
#include "maps.h"
#include "scratch.h"

#define PS_ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))

#define PS_SIPROUND(v0, v1, v2, v3)					\
	do {								\
		v0 += v1; v1 = PS_ROTL(v1, 13); v1 ^= v0; v0 = PS_ROTL(v0, 32);	\
		v2 += v3; v3 = PS_ROTL(v3, 16); v3 ^= v2;			\
		v0 += v3; v3 = PS_ROTL(v3, 21); v3 ^= v0;			\
		v2 += v1; v1 = PS_ROTL(v1, 17); v1 ^= v2; v2 = PS_ROTL(v2, 32);	\
	} while (0)

/* A key starts: the hash's state from the secret. */
static __always_inline void ps_key_begin(struct ps_keyh *k, __u8 kind)
{
	struct ps_key_secret *sec;
	__u64 k0 = 0, k1 = 0;
	__u32 zero = 0;

	sec = bpf_map_lookup_elem(&ps_key_secret, &zero);
	if (sec) {
		k0 = sec->k0;
		k1 = sec->k1;
	}
	k->v[0] = k0 ^ 0x736f6d6570736575ULL;
	k->v[1] = k1 ^ 0x646f72616e646f6dULL;
	k->v[2] = k0 ^ 0x6c7967656e657261ULL;
	k->v[3] = k1 ^ 0x7465646279746573ULL;
	k->m = 0;
	k->len = 0;
	k->cur = kind;
}

/*
 * The key ends: its id, if it is the request's best so far. Either way its
 * last bytes, not yet a whole word (m), go: a key that loses to a better
 * one must not leave them in the flow until the next request.
 */
static __always_inline __u64 ps_key_sum(const struct ps_keyh *k)
{
	__u64 v0 = k->v[0], v1 = k->v[1], v2 = k->v[2], v3 = k->v[3];
	__u64 b = ((__u64)k->len << 56) | k->m;

	v3 ^= b;
	PS_SIPROUND(v0, v1, v2, v3);
	PS_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	PS_SIPROUND(v0, v1, v2, v3);
	PS_SIPROUND(v0, v1, v2, v3);
	PS_SIPROUND(v0, v1, v2, v3);
	PS_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

static __always_inline void ps_key_final(struct ps_keyh *k)
{
	if (!k->len || k->cur <= k->kind) {
		k->cur = PS_KEY_NONE;
		k->m = 0;
		return;
	}
	k->id = ps_key_sum(k);
	k->kind = k->cur;
	k->cur = PS_KEY_NONE;
	k->m = 0;
}

/* One more byte c of the key being hashed (HTTP/2's, a byte at a time). */
static __always_inline void ps_key_byte(struct ps_keyh *k, __u8 c)
{
	__u64 v0, v1, v2, v3, m = k->m | ((__u64)c << (8 * (k->len & 7)));

	k->len++;
	if (k->len & 7) {
		k->m = m;
		return;
	}
	v0 = k->v[0];
	v1 = k->v[1];
	v2 = k->v[2];
	v3 = k->v[3];
	v3 ^= m;
	PS_SIPROUND(v0, v1, v2, v3);
	PS_SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	k->v[0] = v0;
	k->v[1] = v1;
	k->v[2] = v2;
	k->v[3] = v3;
	k->m = 0;
}

/*
 * Hash the key's bytes buf[p..end) into s->key, overwriting each with 0:
 * bytes one at a time up to a word of the key, whole words, then the
 * rest. A global function, verified once.
 */
PS_GLOBAL int ps_g_key_feed(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();
	__u64 v0, v1, v2, v3, m, w;
	struct ps_keyh *k;
	__u32 len, o;
	int i;

	if (!s || end > PS_BUF_SIZE || p >= end)
		return 0;
	k = &s->key;
	v0 = k->v[0];
	v1 = k->v[1];
	v2 = k->v[2];
	v3 = k->v[3];
	m = k->m;
	len = k->len;
	for (i = 0; i < 8; i++) {
		if (!(len & 7) || p >= end)
			break;
		o = p & PS_BUF_MASK;
		m |= (__u64)s->buf[o] << (8 * (len & 7));
		s->buf[o] = 0;
		p++;
		len++;
		if (!(len & 7)) {
			v3 ^= m;
			PS_SIPROUND(v0, v1, v2, v3);
			PS_SIPROUND(v0, v1, v2, v3);
			v0 ^= m;
			m = 0;
		}
	}
	for (i = 0; i < (PS_LINE_CARRY + PS_CHUNK) / 8; i++) {
		if (p + 8 > end || (len & 7))
			break;
		o = p & PS_BUF_MASK;
		w = *(__u64 *)(s->buf + o);
		*(__u64 *)(s->buf + o) = 0;
		v3 ^= w;
		PS_SIPROUND(v0, v1, v2, v3);
		PS_SIPROUND(v0, v1, v2, v3);
		v0 ^= w;
		p += 8;
		len += 8;
	}
	for (i = 0; i < 8; i++) {
		if (p >= end)
			break;
		o = p & PS_BUF_MASK;
		m |= (__u64)s->buf[o] << (8 * (len & 7));
		s->buf[o] = 0;
		p++;
		len++;
	}
	k->v[0] = v0;
	k->v[1] = v1;
	k->v[2] = v2;
	k->v[3] = v3;
	k->m = m;
	k->len = len;
	return 0;
}

/* Overwrite buf[p..end) with 0 (a key on an endpoint that does not read keys). */
PS_GLOBAL int ps_g_zero(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();
	int i;

	if (!s || end > PS_BUF_SIZE)
		return 0;
	for (i = 0; i < PS_LINE_CARRY + PS_CHUNK; i++) {
		if (p + i >= end)
			break;
		s->buf[(p + i) & PS_BUF_MASK] = 0;
	}
	return 0;
}

/*
 * Is the line at ls (its bytes up to end) a key line? Its value's offset,
 * 0 if not; *kind which.
 */
static __always_inline __u32 ps_key_name(struct ps_scratch *s, __u32 ls, __u32 end, __u32 *kind)
{
	const __u64 lc = 0x2020202020202020ULL;
	const __u8 *buf = s->buf;
	__u8 c0 = buf[ls & PS_BUF_MASK] | 0x20, c;
	__u32 p = 0;

	if (c0 == 'a') {
		if (((ps_load64(buf, ls) | lc) & ps_mask(7)) == PS_W8("api-key") && ls + 8 <= end) {
			c = buf[(ls + 7) & PS_BUF_MASK];
			if (c == ':' || c == ' ' || c == '\t')
				p = ls + 7;
			*kind = PS_KEY_API_KEY;
		} else {
			p = ps_header_is(buf, ls, end, PS_W8("authoriz"), PS_W8("ation"), 0, 13);
			*kind = PS_KEY_BEARER;
		}
	} else if (c0 == 'x') {
		p = ps_header_is(buf, ls, end, PS_W8("x-api-ke"), PS_W8("y"), 0, 9);
		*kind = PS_KEY_X_API_KEY;
	}
	return ps_hdr_colon(buf, p, end);
}

/* Does "Bearer" (any case) stand at p of the scratch's buffer? */
static __always_inline int ps_key_bearer(const struct ps_scratch *s, __u32 p)
{
	return ((ps_load64(s->buf, p) | 0x2020202020202020ULL) & ps_mask(6)) == PS_W8("bearer");
}

/*
 * Where the key of a key line's value at v starts, before end: after
 * blanks, and after "Bearer" (any case) and blanks for Authorization; 0
 * when none starts there (another scheme, or not yet in the buffer).
 */
PS_GLOBAL __u32 ps_g_key_start(__u32 v, __u32 end, __u32 kind)
{
	struct ps_scratch *s = ps_scratch();
	__u32 p;
	__u8 c;

	if (!s || end > PS_BUF_SIZE)
		return 0;
	p = ps_g_skip(v, end, PS_SKIP_BLANKS);
	if (kind == PS_KEY_BEARER) {
		if (p + 7 > end || !ps_key_bearer(s, p))
			return 0;
		c = s->buf[(p + 6) & PS_BUF_MASK];
		if (c != ' ' && c != '\t')
			return 0;
		p = ps_g_skip(p + 6, end, PS_SKIP_BLANKS);
	}
	if (p >= end)
		return 0;
	c = s->buf[p & PS_BUF_MASK];
	return c == '\r' || c == '\n' ? 0 : p;
}

/*
 * A key line's value v..end (the line whole) in which no key begins: the
 * key may still come on an obs-fold line after it (RFC 9112 section 5.2;
 * h11 and http-parser unfold it, a blank for the line end), when the value
 * is blanks only (PS_KEYF_FOLD), or, for Authorization, "Bearer" (any
 * case) and blanks (PS_KEYF_FOLD_KEY). 0 when it may not. A global
 * function, verified once.
 */
PS_GLOBAL __u32 ps_g_key_fold(__u32 v, __u32 end, __u32 kind)
{
	struct ps_scratch *s = ps_scratch();
	__u32 p;
	__u8 c;

	if (!s || end > PS_BUF_SIZE)
		return 0;
	p = ps_g_skip(v, end, PS_SKIP_BLANKS);
	c = s->buf[p & PS_BUF_MASK];
	if (p >= end || c == '\r' || c == '\n')
		return PS_KEYF_FOLD;
	if (kind != PS_KEY_BEARER || p + 6 > end || !ps_key_bearer(s, p))
		return 0;
	p = ps_g_skip(p + 6, end, PS_SKIP_BLANKS);
	c = s->buf[p & PS_BUF_MASK];
	return p >= end || c == '\r' || c == '\n' ? PS_KEYF_FOLD_KEY : 0;
}

/*
 * Where a key at p ends: a blank, or end; or a CR, which ends the data of
 * a line that is not complete yet (its LF in the next segment).
 */
static __always_inline __u32 ps_key_end(__u32 p, __u32 end)
{
	__u32 a = ps_g_find_byte(p, end, ' '), b = ps_g_find_byte(p, end, '\t');
	__u32 r = ps_g_find_byte(p, end, '\r');

	a = a < b ? a : b;
	return a < r ? a : r;
}

/* What ps_key_pending() is to do with buf[key_p..key_e). */
#define PS_KEYP_NONE	0
#define PS_KEYP_HASH	1	/* hash it and end the key */
#define PS_KEYP_ZERO	2	/* overwrite it */

/* The key of a line begins at p (its line's value ends at ce): its end found, its hash begun. */
static __always_inline void ps_key_take(struct ps_scratch *s, __u32 p, __u32 ce, __u32 kind)
{
	s->key_p = p;
	s->key_e = ps_key_end(p, ce);
	if (!s->key_ep) {
		s->key_pend = PS_KEYP_ZERO;
		return;
	}
	ps_key_begin(&s->key, kind);
	s->key_pend = PS_KEYP_HASH;
}
/*
 * A complete key line at ls..ce (named at ls): its key is hashed after
 * the line, one call above the line's parsing (ps_key_pending()), where
 * the stack has room for the hash.
 */
static __always_inline void ps_key_header(struct ps_scratch *s, __u32 ls, __u32 ce)
{
	__u32 kind = 0, v = ps_key_name(s, ls, ce, &kind), p;

	if (!v)
		return;
	p = ps_g_key_start(v, ce, kind);
	if (!p) {
		s->key.flags |= ps_g_key_fold(v, ce, kind);
		s->key.fold = kind;
		return;
	}
	ps_key_take(s, p, ce, kind);
}

/*
 * An obs-fold line at ls..ce after a key line whose key had not begun
 * (PS_KEYF_FOLD, PS_KEYF_FOLD_KEY): the value goes on, its key read as on
 * the key line (after "Bearer" already read, blanks then the key).
 */
static __always_inline void ps_key_folded(struct ps_scratch *s, __u32 ls, __u32 ce)
{
	__u32 kind = s->key.fold, how = (s->key.flags & PS_KEYF_FOLD_KEY) ? PS_KEY_API_KEY : kind;
	__u32 p, f;

	s->key.flags &= ~(PS_KEYF_FOLD | PS_KEYF_FOLD_KEY);
	p = ps_g_key_start(ls, ce, how);
	if (!p) {
		/* Blanks only again: the value may go on in one more. */
		f = ps_g_key_fold(ls, ce, how);
		if (f && how != kind)
			f = PS_KEYF_FOLD_KEY;
		s->key.flags |= f;
		return;
	}
	ps_key_take(s, p, ce, kind);
}

/* The end of a key line whose key started in an earlier chunk, at ls..ce. */
static __always_inline void ps_key_cont(struct ps_scratch *s, __u32 ls, __u32 ce)
{
	struct ps_keyh *k = &s->key;

	if (!(k->flags & PS_KEYF_ENDED)) {
		s->key_p = ls;
		s->key_e = ps_key_end(ls, ce);
		s->key_pend = PS_KEYP_HASH;
	}
	k->flags &= ~(PS_KEYF_CONT | PS_KEYF_ENDED);
}

/* A key line's key, left by ps_key_header() or ps_key_cont(). */
static __always_inline void ps_key_pending(void)
{
	struct ps_scratch *s = ps_scratch();

	if (!s || !s->key_pend)
		return;
	if (s->key_pend == PS_KEYP_HASH) {
		ps_g_key_feed(s->key_p, s->key_e);
		ps_key_final(&s->key);
	} else {
		ps_g_zero(s->key_p, s->key_e);
	}
	s->key_pend = PS_KEYP_NONE;
}

/*
 * A chunk ends inside a header line at ls (or a key line going on): if a
 * key has begun in it, its bytes so far are hashed (or, where keys are not
 * read, overwritten) and not carried. 1 if so (the carry set), 0 to carry
 * the line's start as any other. A global function, verified once.
 */
PS_GLOBAL int ps_g_key_partial(__u32 ls)
{
	struct ps_scratch *s = ps_scratch();
	__u32 len, kind = 0, v, p, e, n;
	struct ps_keyh *k;
	struct ps_http *h;

	if (!s || (s->fw.flags & PS_FWDF_CONT))
		return 0;
	h = &s->h;
	k = &s->key;
	len = s->len;
	if (len > PS_LINE_CARRY + PS_CHUNK || ls >= len)
		return 0;
	if (k->flags & PS_KEYF_CONT) {
		/* A key line going on: its key's next bytes, from ls. */
		if (k->flags & PS_KEYF_ENDED)
			goto carried;
		p = ls;
	} else {
		v = ps_key_name(s, ls, len, &kind);
		if (!v && (k->flags & (PS_KEYF_FOLD | PS_KEYF_FOLD_KEY)) &&
		    (s->buf[ls & PS_BUF_MASK] == ' ' || s->buf[ls & PS_BUF_MASK] == '\t')) {
			/* An obs-fold line going on with a key line's value. */
			kind = k->fold;
			p = ps_g_key_start(ls, len, (k->flags & PS_KEYF_FOLD_KEY) ?
						    PS_KEY_API_KEY : kind);
			if (!p || p > len)
				return 0;
			k->flags &= ~(PS_KEYF_FOLD | PS_KEYF_FOLD_KEY);
		} else {
			if (!v)
				return 0;
			p = ps_g_key_start(v, len, kind);
			if (!p || p > len)
				return 0;
		}
		if (!s->key_ep) {
			/* Carry the line up to its key; the key's rest is
			 * overwritten when its line ends. */
			ps_g_zero(p, ps_key_end(p, len));
			n = p - ls;
			if (n > PS_LINE_CARRY)
				n = PS_LINE_CARRY;
			if (ls > PS_LINE_CARRY + PS_CHUNK)
				return 0;
			__builtin_memcpy(h->carry, s->buf + ls, PS_LINE_CARRY);
			h->carry_len = n;
			h->state = PS_H1_HDRLINE;
			return 1;
		}
		ps_key_begin(k, kind);
		k->flags |= PS_KEYF_CONT;
	}
	e = ps_key_end(p, len);
	ps_g_key_feed(p, e);
	if (e < len) {
		ps_key_final(k);
		k->flags |= PS_KEYF_ENDED;
	}
carried:
	h->carry_len = 0;
	h->state = PS_H1_HDRLINE;
	return 1;
}

#endif
