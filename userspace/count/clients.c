// SPDX-License-Identifier: GPL-2.0-only
/*
 * count/: a client's counts, from the datapath's counters to its totals
 * and windows: the tick reads the slots (tick.c) into the client table and
 * its windows (this file), which the daemon keeps in a state file
 * (state.c); idle flows are expired (flows.c).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "count/clients.h"

_Static_assert(sizeof(struct ps_counters) == (PS_NCTRFIELDS + 2) * 8,
	       "enum ps_field follows struct ps_counters");
_Static_assert(sizeof(struct ps_crec) <= 236, "keep a client record small");
_Static_assert(PS_WIN_1M == 0 && PS_W_REQUESTS == 0 && PS_W_INFERENCE == 1,
	       "the 16-bit buckets: the 1m window's requests and inference");
_Static_assert(sizeof(struct ps_ctok) == 100, "a token entry");
_Static_assert(sizeof(struct ps_cmsg) == 48, "a message entry");

const enum ps_field ps_wfield_field[PS_NWFIELDS] = {
	PS_F_REQUESTS,	 PS_F_INFERENCE, PS_F_RX_BYTES,	 PS_F_TX_BYTES,
	PS_F_RX_PAYLOAD, PS_F_TX_PAYLOAD, PS_F_TX_TOKENS, PS_F_RX_TOKENS,
	PS_F_TX_TOKENS_ESTIMATED, PS_F_RX_MESSAGES, PS_F_TX_MESSAGES,
};

bool ps_field_windowed(enum ps_field f)
{
	int w;

	for (w = 0; w < PS_NWFIELDS; w++)
		if (ps_wfield_field[w] == f)
			return true;
	return false;
}

/* Bucket length of each window, in minutes. */
static const uint32_t win_minutes[PS_NWINDOWS] = { 1, 60, 1440 };

void ps_ctable_init(struct ps_ctable *t)
{
	memset(t, 0, sizeof(*t));
}

void ps_ctable_free(struct ps_ctable *t)
{
	free(t->rec);
	free(t->bucket);
	free(t->ext);
	free(t->tok);
	free(t->msg);
	memset(t, 0, sizeof(*t));
}

bool ps_ctable_yield(struct ps_ctable *t)
{
	uint64_t cpu0;
	bool changed;

	if (!t->on_yield)
		return false;
	cpu0 = ps_cpu_ns();
	changed = t->on_yield(t->on_yield_ctx);
	t->yield_ns += ps_cpu_ns() - cpu0;
	return changed;
}

uint32_t ps_ctable_hash(const struct ps_client_key *k)
{
	uint64_t h = k->family * 0x9e3779b97f4a7c15ULL;
	int i;

	for (i = 0; i < 4; i++) {
		h ^= k->addr.a[i];
		h *= 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 29;
	return (uint32_t)h;
}

static bool key_eq(const struct ps_client_key *a, const struct ps_client_key *b)
{
	return a->family == b->family && !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

int ps_ctable_rehash(struct ps_ctable *t, uint32_t nbuckets)
{
	uint32_t *b, i;

	if (nbuckets < 1024)
		nbuckets = 1024;
	b = calloc(nbuckets, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (i = 0; i < t->n; i++) {
		uint32_t h = ps_ctable_hash(&t->rec[i].key) & (nbuckets - 1);

		t->rec[i].next = b[h];
		b[h] = i + 1;
	}
	free(t->bucket);
	t->bucket = b;
	t->nbuckets = nbuckets;
	return 0;
}

struct ps_crec *ps_ctable_find(const struct ps_ctable *t, const struct ps_client_key *key)
{
	uint32_t i;

	if (!t->nbuckets)
		return NULL;
	for (i = t->bucket[ps_ctable_hash(key) & (t->nbuckets - 1)]; i; i = t->rec[i - 1].next)
		if (key_eq(&t->rec[i - 1].key, key))
			return &t->rec[i - 1];
	return NULL;
}

struct ps_crec *ps_ctable_get(struct ps_ctable *t, const struct ps_client_key *key, uint32_t now)
{
	struct ps_crec *r = ps_ctable_find(t, key);
	uint32_t h;

	if (r)
		return r;
	if (t->n == UINT32_MAX - 1)
		return NULL;
	if (t->n == t->cap) {
		uint32_t cap = t->cap >= 4096 ? t->cap + t->cap / 2 : 4096;
		struct ps_crec *nr = realloc(t->rec, (size_t)cap * sizeof(*nr));

		if (!nr)
			return NULL;
		t->rec = nr;
		t->cap = cap;
	}
	/* Two records a bucket on average at most: 2 MB of buckets a million. */
	if (t->n >= 2 * (uint64_t)t->nbuckets &&
	    ps_ctable_rehash(t, t->nbuckets ? t->nbuckets * 2 : 4096))
		return NULL;
	r = &t->rec[t->n];
	memset(r, 0, sizeof(*r));
	r->key = *key;
	memset(r->key.pad, 0, sizeof(r->key.pad));
	r->first_wall = now;
	r->last_wall = now;
	h = ps_ctable_hash(key) & (t->nbuckets - 1);
	r->next = t->bucket[h];
	t->bucket[h] = ++t->n;
	return r;
}

static struct ps_cext *rec_ext(struct ps_ctable *t, struct ps_crec *r)
{
	if (r->ext)
		return &t->ext[r->ext - 1];
	if (t->next_ext == t->cap_ext) {
		uint32_t cap = t->cap_ext ? t->cap_ext * 2 : 64;
		struct ps_cext *ne = realloc(t->ext, (size_t)cap * sizeof(*ne));

		if (!ne)
			return NULL;
		t->ext = ne;
		t->cap_ext = cap;
	}
	memset(&t->ext[t->next_ext], 0, sizeof(t->ext[0]));
	r->ext = ++t->next_ext;
	return &t->ext[r->ext - 1];
}

static const struct ps_cext *rec_ext_const(const struct ps_ctable *t, const struct ps_crec *r)
{
	return r->ext ? &t->ext[r->ext - 1] : NULL;
}

struct ps_ctok *ps_ctable_tok(struct ps_ctable *t, struct ps_crec *r)
{
	if (r->tok)
		return &t->tok[r->tok - 1];
	if (t->next_tok == UINT32_MAX - 1)
		return NULL;
	if (t->next_tok == t->cap_tok) {
		uint32_t cap = t->cap_tok >= 1024 ? t->cap_tok + t->cap_tok / 2 : 1024;
		struct ps_ctok *nt = realloc(t->tok, (size_t)cap * sizeof(*nt));

		if (!nt)
			return NULL;
		t->tok = nt;
		t->cap_tok = cap;
	}
	memset(&t->tok[t->next_tok], 0, sizeof(t->tok[0]));
	r->tok = ++t->next_tok;
	return &t->tok[r->tok - 1];
}

struct ps_cmsg *ps_ctable_msg(struct ps_ctable *t, struct ps_ctok *k)
{
	if (k->msg)
		return &t->msg[k->msg - 1];
	if (t->next_msg == UINT32_MAX - 1)
		return NULL;
	if (t->next_msg == t->cap_msg) {
		uint32_t cap = t->cap_msg >= 1024 ? t->cap_msg + t->cap_msg / 2 : 1024;
		struct ps_cmsg *nm = realloc(t->msg, (size_t)cap * sizeof(*nm));

		if (!nm)
			return NULL;
		t->msg = nm;
		t->cap_msg = cap;
	}
	memset(&t->msg[t->next_msg], 0, sizeof(t->msg[0]));
	k->msg = ++t->next_msg;
	return &t->msg[k->msg - 1];
}

/* k's message entry, if it has one. */
static struct ps_cmsg *tok_msg(const struct ps_ctable *t, const struct ps_ctok *k)
{
	return k && k->msg ? &t->msg[k->msg - 1] : NULL;
}

/* A 48-bit little-endian counter: a 32-bit and a 16-bit load or store
 * (not bytes stored to a 64-bit temporary read whole: that stalls). */
static inline uint64_t get48(const uint8_t *p)
{
	uint32_t lo;
	uint16_t hi;

	memcpy(&lo, p, 4);
	memcpy(&hi, p + 4, 2);
	return (uint64_t)le16toh(hi) << 32 | le32toh(lo);
}

static inline void put48(uint8_t *p, uint64_t v)
{
	uint32_t lo = htole32((uint32_t)v);
	uint16_t hi = htole16((uint16_t)(v >> 32));

	memcpy(p, &lo, 4);
	memcpy(p + 4, &hi, 2);
}

void ps_crec_last(const struct ps_ctable *t, const struct ps_crec *r, uint64_t out[PS_NFIELDS])
{
	int f;

	if (r->ext && t->ext[r->ext - 1].big) {
		memcpy(out, t->ext[r->ext - 1].last, sizeof(out[0]) * PS_NFIELDS);
		return;
	}
	for (f = 0; f < PS_NLAST32; f++)
		out[f] = r->last32[f];
	for (; f < PS_NCTRFIELDS; f++)
		out[f] = get48(r->last48[f - PS_NLAST32]);
	for (; f < PS_NFIELDS; f++)
		out[f] = r->tok ? t->tok[r->tok - 1].last[f - PS_NCTRFIELDS] : 0;
}

int ps_crec_set_last(struct ps_ctable *t, struct ps_crec *r, const uint64_t v[PS_NFIELDS])
{
	struct ps_cext *e = r->ext ? &t->ext[r->ext - 1] : NULL;
	uint64_t any32 = 0, any48 = 0, anytok = 0;
	struct ps_ctok *k;
	bool fits;
	int f;

	for (f = 0; f < PS_NLAST32; f++)
		any32 |= v[f];
	for (; f < PS_NCTRFIELDS; f++)
		any48 |= v[f];
	for (; f < PS_NFIELDS; f++)
		anytok |= v[f];
	fits = any32 <= UINT32_MAX && any48 <= PS_LAST_MAX && anytok <= PS_LAST_TOK_MAX;
	if (!fits && !(e && e->big)) {
		e = rec_ext(t, r);
		if (!e)
			return -ENOMEM;
		e->big = true;
		memset(r->last32, 0, sizeof(r->last32));
		memset(r->last48, 0, sizeof(r->last48));
		if (r->tok)
			memset(t->tok[r->tok - 1].last, 0, sizeof(t->tok[0].last));
	}
	if (e && e->big) {
		memcpy(e->last, v, sizeof(e->last));
		return 0;
	}
	for (f = 0; f < PS_NLAST32; f++)
		r->last32[f] = (uint32_t)v[f];
	for (; f < PS_NCTRFIELDS; f++)
		put48(r->last48[f - PS_NLAST32], v[f]);
	if (!anytok && !r->tok)
		return 0;
	k = ps_ctable_tok(t, r);
	if (!k)
		return -ENOMEM;
	for (; f < PS_NFIELDS; f++)
		k->last[f - PS_NCTRFIELDS] = (uint32_t)v[f];
	return 0;
}

bool ps_crec_seen_at(const struct ps_crec *r, uint32_t gen)
{
	return r->gen == (uint16_t)gen;
}

/* The record's own buckets of window w: current to previous (or cleared), current cleared. */
static void rec_rotate(struct ps_crec *r, int w, bool keep)
{
	if (w == PS_WIN_1M) {
		if (keep) {
			memcpy(r->w16[1], r->w16[0], sizeof(r->w16[0]));
			memcpy(r->w1m[1], r->w1m[0], sizeof(r->w1m[0]));
		} else {
			memset(r->w16[1], 0, sizeof(r->w16[1]));
			memset(r->w1m[1], 0, sizeof(r->w1m[1]));
		}
		memset(r->w16[0], 0, sizeof(r->w16[0]));
		memset(r->w1m[0], 0, sizeof(r->w1m[0]));
		return;
	}
	if (keep)
		memcpy(r->w[w - 1][1], r->w[w - 1][0], sizeof(r->w[w - 1][0]));
	else
		memset(r->w[w - 1][1], 0, sizeof(r->w[w - 1][1]));
	memset(r->w[w - 1][0], 0, sizeof(r->w[w - 1][0]));
}

static void rec_clear(struct ps_crec *r)
{
	memset(r->w16, 0, sizeof(r->w16));
	memset(r->w1m, 0, sizeof(r->w1m));
	memset(r->w, 0, sizeof(r->w));
}

/* Room left in the record's bucket of field f (f < PS_NRWFIELDS), window w, current or previous. */
static inline uint64_t rec_room(const struct ps_crec *r, int w, int b, int f)
{
	if (w != PS_WIN_1M)
		return UINT32_MAX - r->w[w - 1][b][f];
	return f < PS_NW16 ? UINT16_MAX - r->w16[b][f] : UINT32_MAX - r->w1m[b][f - PS_NW16];
}

/* Add d to that bucket (rec_room() said it fits). */
static inline void rec_add(struct ps_crec *r, int w, int b, int f, uint64_t d)
{
	if (w != PS_WIN_1M)
		r->w[w - 1][b][f] += d;
	else if (f < PS_NW16)
		r->w16[b][f] += d;
	else
		r->w1m[b][f - PS_NW16] += d;
}

/* Move the buckets to minute m: the current bucket becomes the previous one. */
static void rotate(struct ps_ctable *t, struct ps_crec *r, uint32_t m)
{
	struct ps_cext *e = r->ext ? &t->ext[r->ext - 1] : NULL;
	struct ps_ctok *k = r->tok ? &t->tok[r->tok - 1] : NULL;
	struct ps_cmsg *mg = tok_msg(t, k);
	bool wide = e && e->wide;
	int w;

	if (m <= r->minute)
		return;
	for (w = 0; w < PS_NWINDOWS; w++) {
		uint32_t old = r->minute / win_minutes[w], cur = m / win_minutes[w];

		if (cur == old)
			continue;
		if (wide) {
			if (cur == old + 1)
				memcpy(e->ww[w][1], e->ww[w][0], sizeof(e->ww[w][0]));
			else
				memset(e->ww[w][1], 0, sizeof(e->ww[w][1]));
			memset(e->ww[w][0], 0, sizeof(e->ww[w][0]));
			continue;
		}
		rec_rotate(r, w, cur == old + 1);
		if (!k)
			continue;
		if (cur == old + 1)
			memcpy(k->w[w][1], k->w[w][0], sizeof(k->w[w][0]));
		else
			memset(k->w[w][1], 0, sizeof(k->w[w][1]));
		memset(k->w[w][0], 0, sizeof(k->w[w][0]));
		if (!mg)
			continue;
		if (cur == old + 1)
			memcpy(mg->w[w][1], mg->w[w][0], sizeof(mg->w[w][0]));
		else
			memset(mg->w[w][1], 0, sizeof(mg->w[w][1]));
		memset(mg->w[w][0], 0, sizeof(mg->w[w][0]));
	}
	r->minute = m;
}

/* Make r wide: its buckets into its extension's 64-bit ones. NULL when out of memory. */
static struct ps_cext *make_wide(struct ps_ctable *t, struct ps_crec *r)
{
	struct ps_cext *e = rec_ext(t, r);
	int w, b, f;

	if (!e)
		return NULL;
	if (e->wide)
		return e;
	for (w = 0; w < PS_NWINDOWS; w++)
		for (b = 0; b < 2; b++)
			for (f = 0; f < PS_NWFIELDS; f++)
				e->ww[w][b][f] = ps_crec_bucket(t, r, w, b, f);
	rec_clear(r);
	if (r->tok) {
		struct ps_ctok *k = &t->tok[r->tok - 1];

		memset(k->w, 0, sizeof(k->w));
		if (k->msg)
			memset(t->msg[k->msg - 1].w, 0, sizeof(t->msg[0].w));
	}
	e->wide = true;
	return e;
}

bool ps_buckets_fit(const uint32_t w[PS_NWINDOWS][2][PS_NWFIELDS])
{
	int b, f;

	for (b = 0; b < 2; b++)
		for (f = 0; f < PS_NW16; f++)
			if (w[PS_WIN_1M][b][f] > UINT16_MAX)
				return false;
	return true;
}

int ps_crec_set_buckets(struct ps_ctable *t, struct ps_crec *r,
			const uint32_t w[PS_NWINDOWS][2][PS_NWFIELDS])
{
	struct ps_ctok *k = NULL;
	struct ps_cmsg *mg = NULL;
	struct ps_cext *e;
	uint32_t anytok = 0, anymsg = 0;
	int i, b, f;

	for (i = 0; i < PS_NWINDOWS; i++)
		for (b = 0; b < 2; b++)
			for (f = PS_NRWFIELDS; f < PS_NWFIELDS; f++) {
				anytok |= w[i][b][f];
				if (f >= PS_W_RX_MESSAGES)
					anymsg |= w[i][b][f];
			}
	if (anytok || r->tok) {
		k = ps_ctable_tok(t, r);
		if (!k)
			return -ENOMEM;
		mg = anymsg || k->msg ? ps_ctable_msg(t, k) : NULL;
		if ((anymsg || k->msg) && !mg)
			return -ENOMEM;
	}
	rec_clear(r);
	for (i = 0; i < PS_NWINDOWS; i++)
		for (b = 0; b < 2; b++) {
			for (f = 0; f < PS_NRWFIELDS; f++)
				if (w[i][b][f] <= rec_room(r, i, b, f))
					rec_add(r, i, b, f, w[i][b][f]);
			for (; f < PS_W_RX_MESSAGES && k; f++)
				k->w[i][b][f - PS_NRWFIELDS] = w[i][b][f];
			for (; f < PS_NWFIELDS && mg; f++)
				mg->w[i][b][f - PS_W_RX_MESSAGES] = w[i][b][f];
		}
	if (ps_buckets_fit(w))
		return 0;
	/* A 16-bit bucket past its width: 64-bit buckets, as w has them. */
	e = make_wide(t, r);
	if (!e)
		return -ENOMEM;
	for (i = 0; i < PS_NWINDOWS; i++)
		for (b = 0; b < 2; b++)
			for (f = 0; f < PS_NWFIELDS; f++)
				e->ww[i][b][f] = w[i][b][f];
	return 0;
}

static int add_windows(struct ps_ctable *t, struct ps_crec *r, const uint64_t d[PS_NWFIELDS])
{
	struct ps_cext *e = r->ext ? &t->ext[r->ext - 1] : NULL;
	struct ps_ctok *k;
	struct ps_cmsg *mg;
	int w, f;

	if (!(e && e->wide)) {
		bool fits = true, anytok = false, anymsg = false;

		for (f = PS_NRWFIELDS; f < PS_NWFIELDS; f++)
			if (d[f]) {
				anytok = true;
				if (f >= PS_W_RX_MESSAGES)
					anymsg = true;
			}
		/* A client's first tokens get it its token entry, its first
		 * gRPC messages its message entry. */
		k = anytok || r->tok ? ps_ctable_tok(t, r) : NULL;
		if ((anytok || r->tok) && !k)
			return -ENOMEM;
		mg = anymsg ? ps_ctable_msg(t, k) : NULL;
		if (anymsg && !mg)
			return -ENOMEM;
		for (w = 0; w < PS_NWINDOWS && fits; w++) {
			for (f = 0; f < PS_NRWFIELDS; f++)
				if (d[f] > rec_room(r, w, 0, f))
					fits = false;
			for (; f < PS_W_RX_MESSAGES && anytok; f++)
				if (d[f] > UINT32_MAX - (uint64_t)k->w[w][0][f - PS_NRWFIELDS])
					fits = false;
			for (; f < PS_NWFIELDS && anymsg; f++)
				if (d[f] > UINT32_MAX - (uint64_t)mg->w[w][0][f - PS_W_RX_MESSAGES])
					fits = false;
		}
		if (fits) {
			for (w = 0; w < PS_NWINDOWS; w++) {
				for (f = 0; f < PS_NRWFIELDS; f++)
					rec_add(r, w, 0, f, d[f]);
				if (anytok)
					for (f = PS_NRWFIELDS; f < PS_W_RX_MESSAGES; f++)
						k->w[w][0][f - PS_NRWFIELDS] += d[f];
				if (anymsg)
					for (f = PS_W_RX_MESSAGES; f < PS_NWFIELDS; f++)
						mg->w[w][0][f - PS_W_RX_MESSAGES] += d[f];
			}
			return 0;
		}
		/* Too much for the record's buckets: this client gets 64-bit ones. */
		e = make_wide(t, r);
		if (!e)
			return -ENOMEM;
	}
	for (w = 0; w < PS_NWINDOWS; w++)
		for (f = 0; f < PS_NWFIELDS; f++)
			e->ww[w][0][f] += d[f];
	return 0;
}

int ps_ctable_update(struct ps_ctable *t, const struct ps_client_key *key,
		     const struct ps_counters *c, const struct ps_tokens *tk, uint32_t now,
		     int64_t boot_to_wall)
{
	struct ps_crec *r = ps_ctable_get(t, key, now);

	if (!r)
		return -ENOMEM;
	return ps_ctable_fold(t, r, c, tk, now, boot_to_wall);
}

int ps_ctable_fold(struct ps_ctable *t, struct ps_crec *r, const struct ps_counters *c,
		   const struct ps_tokens *tk, uint32_t now, int64_t boot_to_wall)
{
	uint64_t d[PS_NWFIELDS], last[PS_NFIELDS], cv[PS_NFIELDS];
	bool newinc = false, any = false;
	int f;

	/* The figures in enum ps_field order: struct ps_counters', the tokens'. */
	memcpy(cv, c, PS_NCTRFIELDS * sizeof(cv[0]));
	if (tk)
		memcpy(cv + PS_NCTRFIELDS, tk->v, PS_NTOKFIELDS * sizeof(cv[0]));
	else
		memset(cv + PS_NCTRFIELDS, 0, PS_NTOKFIELDS * sizeof(cv[0]));

	ps_crec_last(t, r, last);
	if (r->inc_ns != c->first_seen_ns)
		newinc = true;
	for (f = 0; f < PS_NFIELDS && !newinc; f++)
		if (cv[f] < last[f])
			newinc = true;
	if (newinc) {
		/* The map entry is a new one: what the old one counted stays. */
		for (f = 0; f < PS_NFIELDS; f++)
			if (last[f])
				break;
		if (f < PS_NFIELDS) {
			struct ps_cext *e = rec_ext(t, r);

			if (!e)
				return -ENOMEM;
			for (f = 0; f < PS_NFIELDS; f++)
				e->base[f] += last[f];
			memset(last, 0, sizeof(last));
			if (ps_crec_set_last(t, r, last))
				return -ENOMEM;
		}
		if (!r->inc_ns && c->first_seen_ns && r->first_wall == now) {
			int64_t fw = ((int64_t)c->first_seen_ns + boot_to_wall) / 1000000000LL;

			if (fw > 0 && fw <= now)
				r->first_wall = fw;
		}
		r->inc_ns = c->first_seen_ns;
	}
	r->gen = t->gen;
	for (f = 0; f < PS_NFIELDS; f++)
		if (cv[f] != last[f])
			any = true;
	if (!any)
		return 0;
	for (f = 0; f < PS_NWFIELDS; f++)
		d[f] = cv[ps_wfield_field[f]] - last[ps_wfield_field[f]];
	rotate(t, r, now / 60);
	if (add_windows(t, r, d) || ps_crec_set_last(t, r, cv))
		return -ENOMEM;
	if (t->on_fold)
		t->on_fold(t->on_fold_ctx, r, d, now);
	if (c->last_seen_ns) {
		int64_t lw = ((int64_t)c->last_seen_ns + boot_to_wall) / 1000000000LL;

		r->last_wall = lw > 0 && lw <= now ? (uint32_t)lw : now;
	} else {
		r->last_wall = now;
	}
	return 0;
}

void ps_crec_totals(const struct ps_ctable *t, const struct ps_crec *r, uint64_t out[PS_NFIELDS])
{
	const struct ps_cext *e = rec_ext_const(t, r);
	int f;

	ps_crec_last(t, r, out);
	for (f = 0; f < PS_NFIELDS; f++)
		out[f] += e ? e->base[f] : 0;
}

void ps_crec_view(const struct ps_ctable *t, const struct ps_crec *r, enum ps_window win,
		  uint64_t now_ms, struct ps_cview *out)
{
	uint32_t m = now_ms / 60000;
	int f;

	memset(out, 0, sizeof(*out));
	if (win == PS_WIN_TOTAL) {
		uint64_t tot[PS_NFIELDS];
		double minutes;

		ps_crec_totals(t, r, tot);
		for (f = 0; f < PS_NFIELDS; f++)
			out->v[f] = tot[f];
		minutes = ((double)now_ms / 1000.0 - r->first_wall) / 60.0;
		out->rpm = tot[PS_F_INFERENCE] / (minutes > 1.0 ? minutes : 1.0);
		return;
	}
	if (r->minute) {
		uint32_t len = win_minutes[win];
		uint32_t cur = m / len, rec = r->minute / len;
		double span = len * 60000.0;
		double frac = ((double)now_ms - (double)cur * span) / span;
		double wcur = 1.0, wprev;

		if (frac < 0)
			frac = 0;
		wprev = 1.0 - frac;
		if (cur == rec + 1) {
			/* The record's current bucket is now the previous one. */
			wcur = 0.0;
		} else if (cur > rec + 1) {
			wcur = wprev = 0.0;
		}
		for (f = 0; f < PS_NWFIELDS; f++) {
			double bc = ps_crec_bucket(t, r, win, 0, f);
			double bp = ps_crec_bucket(t, r, win, 1, f);

			if (cur == rec + 1)
				out->v[ps_wfield_field[f]] = bc * wprev;
			else
				out->v[ps_wfield_field[f]] = bc * wcur + bp * wprev;
		}
	}
	out->rpm = out->v[PS_F_INFERENCE] / win_minutes[win];
}

static double sort_value(const struct ps_cview *v, enum ps_sort key)
{
	switch (key) {
	case PS_SORT_REQUESTS:
		return v->v[PS_F_REQUESTS];
	case PS_SORT_INFERENCE:
		return v->v[PS_F_INFERENCE];
	case PS_SORT_RX_BYTES:
		return v->v[PS_F_RX_BYTES];
	case PS_SORT_TX_BYTES:
		return v->v[PS_F_TX_BYTES];
	case PS_SORT_TX_PAYLOAD:
		return v->v[PS_F_TX_PAYLOAD];
	case PS_SORT_TX_TOKENS:
		return v->v[PS_F_TX_TOKENS];
	case PS_SORT_RX_TOKENS:
		return v->v[PS_F_RX_TOKENS];
	case PS_SORT_RPM:
	default:
		return v->rpm;
	}
}

struct ranked {
	double v;
	uint32_t i;
};

static const struct ps_ctable *rank_table;

/* a before b: larger value first, then lower family, then lower address. */
static int rank_before(const struct ranked *a, const struct ranked *b, const struct ps_ctable *t)
{
	const struct ps_client_key *ka = &t->rec[a->i].key, *kb = &t->rec[b->i].key;

	if (a->v != b->v)
		return a->v > b->v;
	if (ka->family != kb->family)
		return ka->family < kb->family;
	return memcmp(&ka->addr, &kb->addr, sizeof(ka->addr)) < 0;
}

static int rank_cmp(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;

	if (rank_before(a, b, rank_table))
		return -1;
	if (rank_before(b, a, rank_table))
		return 1;
	return 0;
}

/* Min-heap on rank (the root is the entry that ranks last). */
static void heap_down(struct ranked *h, uint32_t n, uint32_t i, const struct ps_ctable *t)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		struct ranked tmp;

		if (l < n && rank_before(&h[m], &h[l], t))
			m = l;
		if (r < n && rank_before(&h[m], &h[r], t))
			m = r;
		if (m == i)
			return;
		tmp = h[i];
		h[i] = h[m];
		h[m] = tmp;
		i = m;
	}
}

int ps_ctable_top(const struct ps_ctable *t, enum ps_window win, enum ps_sort key,
		  uint32_t limit, uint64_t now_ms, uint32_t **out)
{
	uint32_t k = limit && limit < t->n ? limit : t->n, n = 0, i;
	struct ranked *h;
	uint32_t *idx;

	h = malloc((k ? k : 1) * sizeof(*h));
	idx = malloc((k ? k : 1) * sizeof(*idx));
	if (!h || !idx) {
		free(h);
		free(idx);
		return -ENOMEM;
	}
	for (i = 0; i < t->n; i++) {
		struct ps_cview v;
		struct ranked e;

		ps_crec_view(t, &t->rec[i], win, now_ms, &v);
		e.v = sort_value(&v, key);
		e.i = i;
		if (n < k) {
			h[n++] = e;
			if (n == k) {
				uint32_t j;

				for (j = k / 2 + 1; j-- > 0;)
					heap_down(h, n, j, t);
			}
		} else if (k && rank_before(&e, &h[0], t)) {
			h[0] = e;
			heap_down(h, n, 0, t);
		}
	}
	rank_table = t;
	qsort(h, n, sizeof(*h), rank_cmp);
	for (i = 0; i < n; i++)
		idx[i] = h[i].i;
	free(h);
	*out = idx;
	return n;
}
