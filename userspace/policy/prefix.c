// SPDX-License-Identifier: GPL-2.0-only
/*
 * The prefix detector ("hydra"): an IPv4 /24, IPv6 /64 or /48 with many
 * active clients whose requests together are far above the population of
 * single clients, then the /48s of the clients whose /64 was not found
 * on its own.
 *
 * Many people behind one network (a campus, an office, a carrier-grade
 * NAT's pool) make such a prefix too. What tells a hydra from a crowd is
 * how its members behave together, not how much: a prefix is found only
 * when its members also show one of
 *   together   most of its active members (HYDRA_TOGETHER) first seen
 *              within HYDRA_TOGETHER_S of each other: a campaign starts
 *              its addresses at once, people arrive one by one;
 *   staying    watched HYDRA_STAY_S or more, and of the members seen in
 *              the hour nearly all (HYDRA_STAY) still active in the last
 *              PREFIX_ACTIVE_S: people come for a session of minutes and
 *              go, a hydra's members stay;
 *   regular    the members' request intervals machine-regular (median
 *              coefficient of variation at most HYDRA_REG_CV): people
 *              think, read and leave;
 *   each busy  the hour's requests a member far above a single client's
 *              hour (robust z-score): a crowd is as busy as its people.
 * Staying and each busy do not count for members whose requests come in
 * bursts with pauses between (median interval CV at least
 * HYDRA_BURSTY_CV): people's sessions, developers' coding agents.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "policy/detect_int.h"

#define HYDRA_TOGETHER	0.8
#define HYDRA_TOGETHER_S	120
#define HYDRA_STAY	0.8
#define HYDRA_STAY_S	1800
#define HYDRA_REG_CV	0.3
#define HYDRA_REG_MIN	8	/* intervals a member needs to count for regularity */
/* Members whose intervals are this bursty (median CV; a Poisson process
 * is 1) work in sessions and tasks with pauses between: people, or
 * people's agents. Staying and being busy do not make them a hydra. */
#define HYDRA_BURSTY_CV	2.0

/* A prefix's aggregate at one run. */
struct pfx {
	struct ps_prefix p;
	bool hold;		/* holds an exempt or alert_only client: alert only */
	uint32_t members;	/* clients active in the last hour */
	uint32_t active;	/* of them, active in the last PREFIX_ACTIVE_S */
	double inf1m, inf1h, txp1h, rxp1h;
	uint32_t oldest;	/* the earliest first_wall of its active members */
};

/*
 * Prefixes are grouped by sorting their members by the hash of the
 * prefix: no table of all prefixes (there may be as many as clients).
 * An entry is a candidate's record, or an exempt client's (the EXEMPT
 * bit set) that only marks its prefix. The entries are sorted a slice of
 * the hashes at a time (their top byte: the candidates' is kept in the
 * tags array), in the slices' order, so that a run holds the keys of one
 * slice, not of every client grouped.
 */
#define EXEMPT_BIT	0x80000000u

struct pkey {
	uint64_t h;
	uint32_t who;		/* record index, | EXEMPT_BIT for an exempt one */
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct pkey) == 12, "12 bytes a key");

void ps_dt_mask_prefix(const struct ps_client_key *k, int len, struct ps_prefix *p)
{
	int i;

	ps_prefix_of_client(k, p);
	p->len = len;
	for (i = len / 8; i < 16; i++)
		p->addr[i] = 0;
	if (len % 8)
		p->addr[len / 8] = ((const uint8_t *)&k->addr)[len / 8] & (0xff00 >> (len % 8));
}

static bool pkey_lt(const struct pkey *x, const struct pkey *y)
{
	return x->h != y->h ? x->h < y->h : x->who < y->who;
}

static void pkey_swap(struct pkey *x, struct pkey *y)
{
	struct pkey t = *x;

	*x = *y;
	*y = t;
}

/*
 * keys[0..n) by (hash, who), in place (qsort's merge sort takes a copy
 * of the array): a quicksort on the median of three, the smaller side
 * first, insertion below 16. The keys are unique (who is).
 */
static void sort_keys(struct pkey *k, uint32_t n)
{
	while (n > 16) {
		uint32_t m = n / 2, i = 0, j = n - 1;
		struct pkey p;

		if (pkey_lt(&k[m], &k[0]))
			pkey_swap(&k[m], &k[0]);
		if (pkey_lt(&k[n - 1], &k[0]))
			pkey_swap(&k[n - 1], &k[0]);
		if (pkey_lt(&k[n - 1], &k[m]))
			pkey_swap(&k[n - 1], &k[m]);
		p = k[m];
		for (;;) {
			while (pkey_lt(&k[i], &p))
				i++;
			while (pkey_lt(&p, &k[j]))
				j--;
			if (i >= j)
				break;
			pkey_swap(&k[i++], &k[j--]);
		}
		/* k[0..j] <= p <= k[j+1..n) */
		if (j + 1 < n - j - 1) {
			sort_keys(k, j + 1);
			k += j + 1;
			n -= j + 1;
		} else {
			sort_keys(k + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	for (uint32_t i = 1; i < n; i++) {
		struct pkey x = k[i];
		uint32_t j = i;

		for (; j > 0 && pkey_lt(&x, &k[j - 1]); j--)
			k[j] = k[j - 1];
		k[j] = x;
	}
}

static uint32_t pkey_rec(const struct pkey *k)
{
	return k->who & ~EXEMPT_BIT;
}

/* v[0..n) in order, in place (heapsort: qsort would take a copy). */
static void sort_u32(uint32_t *v, uint32_t n)
{
	uint32_t i, end, root, child, t;

	for (i = n / 2; i-- > 0;) {
		for (root = i; (child = 2 * root + 1) < n; root = child) {
			if (child + 1 < n && v[child] < v[child + 1])
				child++;
			if (v[root] >= v[child])
				break;
			t = v[root], v[root] = v[child], v[child] = t;
		}
	}
	for (end = n; end-- > 1;) {
		t = v[0], v[0] = v[end], v[end] = t;
		for (root = 0; (child = 2 * root + 1) < end; root = child) {
			if (child + 1 < end && v[child] < v[child + 1])
				child++;
			if (v[root] >= v[child])
				break;
			t = v[root], v[root] = v[child], v[child] = t;
		}
	}
}

/* A member's interval CV (its record's detector state). */
static double member_cv(const struct ps_detect *d, uint32_t idx)
{
	const struct dstate *s = &d->ds[idx];

	return sqrt(s->ivar) / s->imean;
}

/* The k-th smallest interval CV of the members v[0..n) (reordered). */
static double kth_cv(const struct ps_detect *d, uint32_t *v, uint32_t n, uint32_t k)
{
	uint32_t lo = 0, hi = n - 1, t;

	while (lo < hi) {
		double pivot = member_cv(d, v[lo + (hi - lo) / 2]);
		uint32_t i = lo, j = hi;

		while (i <= j) {
			while (member_cv(d, v[i]) < pivot)
				i++;
			while (member_cv(d, v[j]) > pivot)
				j--;
			if (i <= j) {
				t = v[i], v[i] = v[j], v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return member_cv(d, v[k]);
}

/* How its members behave together: the hydra features (see the top). */
struct hydra_feat {
	double together;	/* share of the active members first seen within HYDRA_TOGETHER_S */
	double stay;		/* share of the hour's members active in the last PREFIX_ACTIVE_S */
	double watched;		/* seconds since its oldest active member was first seen */
	double reg_cv;		/* median interval CV of its regular-enough members, -1: none */
	double z_member;	/* the last hour's requests a member, z against single clients */
	const char *why;	/* the first feature that holds, NULL: a crowd */
};

static void hydra_features(struct ps_detect *d, const struct pkey *keys, uint32_t n,
			   const struct pfx *x, const struct baseline *b1h,
			   uint32_t now, struct hydra_feat *hf)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;
	/* The active members' first seen, then those regular enough. */
	uint32_t *v = ps_dt_arena(&d->hyd, ((size_t)n + 1) * sizeof(*v));
	uint32_t na = 0, nr = 0, i, j, best = 0;

	memset(hf, 0, sizeof(*hf));
	hf->reg_cv = -1;
	/* (a big prefix's members are many: the run yields among them; a
	 * reload stops it, and the prefix is not found) */
	for (i = 0; v && i < n; i++) {
		const struct ps_crec *r;

		if (ps_dt_yield(d, i))
			return;
		if (keys[i].who & EXEMPT_BIT)
			continue;
		r = &d->t->rec[keys[i].who];
		if (r->last_wall + PREFIX_ACTIVE_S < now)
			continue;
		v[na++] = r->first_wall;
	}
	if (na) {
		sort_u32(v, na);
		for (i = 0, j = 0; i < na; i++) {
			while (v[i] - v[j] > HYDRA_TOGETHER_S)
				j++;
			if (i - j + 1 > best)
				best = i - j + 1;
		}
		hf->together = (double)best / na;
	}
	for (i = 0; v && i < n; i++) {
		const struct dstate *s;
		uint32_t idx = keys[i].who;

		if (ps_dt_yield(d, i))
			return;
		if (idx & EXEMPT_BIT || d->t->rec[idx].last_wall + PREFIX_ACTIVE_S < now)
			continue;
		s = &d->ds[idx];
		if (s->nint >= HYDRA_REG_MIN && s->imean > 0)
			v[nr++] = idx;
	}
	if (nr * 2 >= na && nr)
		hf->reg_cv = kth_cv(d, v, nr, nr / 2);
	hf->stay = x->members ? (double)x->active / x->members : 0;
	hf->watched = now > x->oldest ? now - x->oldest : 0;
	hf->z_member = ps_dt_zscore(b1h, x->inf1h / (x->members ? x->members : 1));
	if (best >= dc->prefix.min_clients && hf->together >= HYDRA_TOGETHER)
		hf->why = "together";
	else if (hf->reg_cv >= HYDRA_BURSTY_CV)
		hf->why = NULL;	/* bursts and pauses: people at work */
	else if (hf->watched >= HYDRA_STAY_S && hf->stay >= HYDRA_STAY)
		hf->why = "staying";
	else if (hf->reg_cv >= 0 && hf->reg_cv <= HYDRA_REG_CV)
		hf->why = "regular";
	else if (hf->z_member >= dc->zscore)
		hf->why = "each_busy";
}

/* Judge one prefix's members keys[0..n); returns steps taken. */
static int judge_prefix(struct ps_detect *d, const struct pkey *keys, uint32_t n, int len,
			const struct baseline *b1h, uint32_t now, uint64_t now_ms, uint64_t boot_now)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;
	const struct ps_crec *first = &d->t->rec[pkey_rec(&keys[0])];
	struct pfx x = {};
	struct hydra_feat hf;
	double rate, z;
	double txt1h = 0, rxt1h = 0;
	uint32_t i;
	json_t *ev;
	int taken;

	ps_dt_mask_prefix(&first->key, len, &x.p);
	/* What the records tell first: too few active, the windows are not read.
	 * (The run yields among a big prefix's members; a reload stops it.) */
	for (i = 0; i < n; i++) {
		const struct ps_crec *r;

		if (ps_dt_yield(d, i))
			return 0;
		r = &d->t->rec[pkey_rec(&keys[i])];

		if (keys[i].who & EXEMPT_BIT) {
			x.hold = true;
			continue;
		}
		if (ps_dt_alert_only(d->cfg, d->ds[keys[i].who].cls))
			x.hold = true;
		x.members++;
		if (r->last_wall + PREFIX_ACTIVE_S >= now) {
			if (!x.active || r->first_wall < x.oldest)
				x.oldest = r->first_wall;
			x.active++;
		}
	}
	if (x.active < dc->prefix.min_clients)
		return 0;
	for (i = 0; i < n; i++) {
		struct cand c;

		if (ps_dt_yield(d, i))
			return 0;
		if (keys[i].who & EXEMPT_BIT)
			continue;
		ps_dt_cand(d, keys[i].who, now, now_ms, CAND_ALL, &c);
		x.inf1m += c.inf1m;
		x.inf1h += c.inf1h;
		x.txp1h += c.txp1h;
		x.rxp1h += c.rxp1h;
	}
	/* Requests an hour: the last hour's, or the last minute's pace when
	 * a campaign is younger than an hour. */
	rate = x.inf1h > 60 * x.inf1m ? x.inf1h : 60 * x.inf1m;
	if (rate < dc->prefix.requests_per_hour)
		return 0;
	z = ps_dt_zscore(b1h, rate);
	if (z < dc->zscore)
		return 0;
	/* As busy as a hydra: but is it one, or a crowd? */
	hydra_features(d, keys, n, &x, b1h, now, &hf);
	if (!hf.why)
		return 0;
	/* Found: its members are not judged again under a shorter prefix;
	 * the tokens their answers reported in the hour, for the evidence. */
	for (i = 0; i < n; i++) {
		struct ps_cview v;

		if (ps_dt_yield(d, i))
			return 0;
		if (keys[i].who & EXEMPT_BIT)
			continue;
		ps_bit_set(d->bfound, keys[i].who);
		ps_crec_view(d->t, &d->t->rec[keys[i].who], PS_WIN_1H, now_ms, &v);
		txt1h += v.v[PS_F_TX_TOKENS];
		rxt1h += v.v[PS_F_RX_TOKENS];
	}
	ev = json_pack("{s:s,s:i,s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "window", "1h",
		       "active_clients", (int)x.active, "clients", (int)x.members,
		       "requests_per_hour", rate, "requests_1m", x.inf1m, "requests_1h", x.inf1h,
		       "tx_payload_1h", x.txp1h, "rx_payload_1h", x.rxp1h, "tx_tokens_1h", txt1h,
		       "rx_tokens_1h", rxt1h, "zscore", z);
	json_object_set_new(ev, "baseline",
			    ps_dt_baseline_json(b1h, "requests_1h of one client", "1h"));
	json_object_set_new(ev, "hydra",
			    json_pack("{s:s,s:f,s:f,s:f,s:f,s:f}", "decided_by", hf.why, "together",
				      hf.together, "staying", hf.stay, "watched_s", hf.watched,
				      "interval_cv_median", hf.reg_cv, "zscore_per_member",
				      hf.z_member));
	taken = ps_dt_escalate(d, &x.p, PS_ALERT_PREFIX, "prefix", z, ev, x.hold, x.active,
			 d->cfg->dry_run > 0, now_ms, boot_now);
	json_decref(ev);
	return taken;
}

/*
 * The length a client is grouped by at a level: level -1 is IPv4 /24 and
 * IPv6 /64, level 48 the IPv6 /48s; 0 when the client has no part in it
 * (an API key at any level).
 */
static int level_len(int level, uint8_t family)
{
	if (family == PS_AF_KEY)
		return 0;	/* a key is in no prefix */
	if (level == 48)
		return family == PS_AF_INET6 ? 48 : 0;
	return family == PS_AF_INET ? 24 : 64;
}

/*
 * Group keys[0..n) by their prefix at a level and judge each group. Equal
 * hashes of different prefixes (unlikely) are kept apart.
 */
static int judge_groups(struct ps_detect *d, struct pkey *keys, uint32_t n, int level,
			const struct baseline *b1h, uint32_t now, uint64_t now_ms,
			uint64_t boot_now)
{
	uint32_t i, j, yield_at = PS_CTABLE_YIELD_EVERY;
	int taken = 0;

	for (i = 0; i < n; i = j) {
		const struct ps_client_key *k;
		struct ps_prefix p, q;
		int l;

		if (i >= yield_at) {
			if (ps_dt_yield_now(d))
				break;
			yield_at = i + PS_CTABLE_YIELD_EVERY;
		}
		/* (after the yield: the thread's may move the records) */
		k = &d->t->rec[pkey_rec(&keys[i])].key;
		l = level_len(level, k->family);

		ps_dt_mask_prefix(k, l, &p);
		for (j = i + 1; j < n && keys[j].h == keys[i].h; j++) {
			ps_dt_mask_prefix(&d->t->rec[pkey_rec(&keys[j])].key, l, &q);
			if (!ps_dt_prefix_eq(&p, &q))
				break;
		}
		taken += judge_prefix(d, keys + i, j - i, l, b1h, now, now_ms, boot_now);
	}
	return taken;
}

static uint64_t key_prefix_hash(const struct ps_client_key *k, int len)
{
	struct ps_prefix p;

	ps_dt_mask_prefix(k, len, &p);
	return ps_dt_prefix_hash(&p);
}

/*
 * Group and judge the clients of one level not found at an earlier one
 * (bskip). Four passes over the candidates: count the members of each
 * hash bucket (pcount); mark those whose bucket holds min_clients or more
 * (bgroup, their hash's top byte in tags; most prefixes hold one client);
 * then, a slice of top bytes at a time, gather their keys, sort them and
 * judge the slice's prefixes, in the order of one sort of all the keys.
 */
static int judge_level(struct ps_detect *d, int level, const struct baseline *b1h,
		       uint32_t now, uint64_t now_ms, uint64_t boot_now)
{
	struct ps_ctable *t = d->t;
	/* A bucket's count saturates: a saturated one may hold min_clients. */
	uint32_t min = d->cfg->detection.prefix.min_clients < UINT8_MAX ?
		       d->cfg->detection.prefix.min_clients : UINT8_MAX;
	uint8_t *pcount = ps_dt_arena(&d->pcount, PCOUNT_N);
	uint8_t *tag = ps_dt_arena(&d->tags, (size_t)d->run_n + 1);
	/* The /48s are IPv6 clients' alone: the others are not looked at. */
	const uint64_t *set = level == 48 ? d->b6 : d->bcand;
	uint32_t hist[256] = { 0 }, i, k = 0, top = 0, cap, b, e, n;
	struct pkey *keys;
	uint64_t h;
	int l, taken = 0;

	if (!pcount || !tag)
		return 0;
	memset(pcount, 0, PCOUNT_N);
	for (i = ps_bit_next(set, d->run_n, 0); i < d->run_n; i = ps_bit_next(set, d->run_n, i + 1)) {
		if (ps_dt_yield(d, k++))
			return 0;
		l = level_len(level, t->rec[i].key.family);
		if (!l || ps_bit(d->bskip, i))
			continue;
		h = key_prefix_hash(&t->rec[i].key, l);
		if (pcount[h & (PCOUNT_N - 1)] < UINT8_MAX)
			pcount[h & (PCOUNT_N - 1)]++;
	}
	for (i = ps_bit_next(set, d->run_n, 0); i < d->run_n; i = ps_bit_next(set, d->run_n, i + 1)) {
		if (ps_dt_yield(d, k++))
			return 0;
		l = level_len(level, t->rec[i].key.family);
		if (!l || ps_bit(d->bskip, i))
			continue;
		h = key_prefix_hash(&t->rec[i].key, l);
		if (pcount[h & (PCOUNT_N - 1)] < min)
			continue;
		ps_bit_set(d->bgroup, i);
		tag[i] = h >> 56;
		hist[h >> 56]++;
	}
	ps_dt_arena_drop(&d->pcount);
	/* Exempt clients: they mark their prefixes. */
	for (i = 0; i < d->nex; i++) {
		const struct ps_client_key *ek = &t->rec[d->ex[i]].key;

		if ((l = level_len(level, ek->family)))
			hist[key_prefix_hash(ek, l) >> 56]++;
	}
	for (b = 0; b < 256; b++)
		if (hist[b] > top)
			top = hist[b];
	cap = top > PSLICE_MIN ? top : PSLICE_MIN;
	keys = ps_dt_arena(&d->keys, (size_t)cap * sizeof(*keys));
	if (!keys)
		return 0;
	/* /24 and /64 hashes differ in the length hashed: one order for both. */
	for (b = 0; b < 256 && !d->stale; b = e) {
		for (e = b, n = 0; e < 256 && (e == b || n + hist[e] <= cap); e++)
			n += hist[e];
		if (!n)
			continue;
		n = 0;
		for (i = ps_bit_next(d->bgroup, d->run_n, 0); i < d->run_n;
		     i = ps_bit_next(d->bgroup, d->run_n, i + 1)) {
			if (ps_dt_yield(d, k++))
				return taken;
			if (tag[i] < b || tag[i] >= e)
				continue;
			keys[n].h = key_prefix_hash(&t->rec[i].key,
						    level_len(level, t->rec[i].key.family));
			keys[n++].who = i;
		}
		for (i = 0; i < d->nex; i++) {
			const struct ps_client_key *ek = &t->rec[d->ex[i]].key;

			if (!(l = level_len(level, ek->family)))
				continue;
			h = key_prefix_hash(ek, l);
			if (h >> 56 < b || h >> 56 >= e)
				continue;
			keys[n].h = h;
			keys[n++].who = d->ex[i] | EXEMPT_BIT;
		}
		sort_keys(keys, n);
		if (ps_dt_yield_now(d))
			break;
		taken += judge_groups(d, keys, n, level, b1h, now, now_ms, boot_now);
	}
	return taken;
}

/*
 * The prefix detector: IPv4 /24s and IPv6 /64s, then IPv6 /48s from the
 * clients whose /64 was not found on its own.
 */
int ps_dt_judge_prefixes(struct ps_detect *d, struct dt_run *run)
{
	size_t words = ((size_t)d->run_n + 63) / 64;
	int taken;

	if (!run->nc)
		return 0;
	memset(d->bfound, 0, words * sizeof(uint64_t));
	memset(d->bskip, 0, words * sizeof(uint64_t));
	memset(d->bgroup, 0, words * sizeof(uint64_t));
	taken = judge_level(d, -1, run->b1h, run->now, run->now_ms, run->boot_now);
	if (d->stale)
		return taken;
	/* After the /64s: their found clients are left out of the /48s. */
	memcpy(d->bskip, d->bfound, words * sizeof(uint64_t));
	memset(d->bgroup, 0, words * sizeof(uint64_t));
	return taken + judge_level(d, 48, run->b1h, run->now, run->now_ms, run->boot_now);
}
