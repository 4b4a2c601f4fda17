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
 * An entry is a candidate (its index), or an exempt client's record (the
 * EXEMPT bit set) that only marks its prefix.
 */
#define EXEMPT_BIT	0x80000000u

struct pkey {
	uint64_t h;
	uint32_t who;		/* candidate index, or record index | EXEMPT_BIT */
	uint32_t pad;
};

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

static int pkey_cmp(const void *a, const void *b)
{
	const struct pkey *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->who < y->who ? -1 : x->who > y->who;
}

/*
 * keys[0..n) in pkey_cmp's order, by a radix sort on h, a byte a pass:
 * they come in order of who, and each pass keeps the order of the one
 * before. Between passes the daemon may answer requests (a qsort of a
 * million keys holds it for a few hundred ms). -1 when the run went stale
 * meanwhile (the keys are then in no particular order).
 */
static int sort_keys(struct ps_detect *d, struct pkey *keys, uint32_t n)
{
	struct pkey *tmp = n > 1 ? malloc((size_t)n * sizeof(*tmp)) : NULL, *src = keys, *dst = tmp;
	uint32_t count[256], i;
	int shift;

	if (!tmp) {
		if (n > 1)
			qsort(keys, n, sizeof(*keys), pkey_cmp);
		return 0;
	}
	for (shift = 0; shift < 64; shift += 8) {
		uint32_t at = 0, c;

		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i].h >> shift) & 0xff]++;
		if (count[(src[0].h >> shift) & 0xff] == n)
			continue;	/* one value of this byte: the order stands */
		for (i = 0; i < 256; i++) {
			c = count[i];
			count[i] = at;
			at += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i].h >> shift) & 0xff]++] = src[i];
		dst = src;
		src = src == keys ? tmp : keys;
		if (ps_dt_yield_now(d))
			break;
	}
	if (src != keys)
		memcpy(keys, src, (size_t)n * sizeof(*keys));
	free(tmp);
	return d->stale ? -1 : 0;
}

static uint32_t pkey_rec(const struct ps_detect *d, const struct pkey *k)
{
	return k->who & EXEMPT_BIT ? k->who & ~EXEMPT_BIT : d->cand[k->who].idx;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
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
	uint32_t *first = malloc((size_t)n * sizeof(*first)), na = 0, nr = 0, i, j, best = 0;
	double *cv = malloc((size_t)n * sizeof(*cv));

	memset(hf, 0, sizeof(*hf));
	hf->reg_cv = -1;
	for (i = 0; first && cv && i < n; i++) {
		const struct cand *c;
		const struct ps_crec *r;
		const struct dstate *s;

		if (keys[i].who & EXEMPT_BIT)
			continue;
		c = &d->cand[keys[i].who];
		r = &d->t->rec[c->idx];
		s = &d->ds[c->idx];
		if (r->last_wall + PREFIX_ACTIVE_S < now)
			continue;
		first[na++] = r->first_wall;
		if (s->nint >= HYDRA_REG_MIN && s->imean > 0)
			cv[nr++] = sqrt(s->ivar) / s->imean;
	}
	if (na) {
		qsort(first, na, sizeof(*first), u32_cmp);
		for (i = 0, j = 0; i < na; i++) {
			while (first[i] - first[j] > HYDRA_TOGETHER_S)
				j++;
			if (i - j + 1 > best)
				best = i - j + 1;
		}
		hf->together = (double)best / na;
	}
	if (nr * 2 >= na && nr) {
		qsort(cv, nr, sizeof(*cv), dbl_cmp);
		hf->reg_cv = cv[nr / 2];
	}
	free(first);
	free(cv);
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
	const struct ps_crec *first = &d->t->rec[pkey_rec(d, &keys[0])];
	struct pfx x = {};
	struct hydra_feat hf;
	double rate, z;
	double txt1h = 0, rxt1h = 0;
	uint32_t i;
	json_t *ev;
	int taken;

	ps_dt_mask_prefix(&first->key, len, &x.p);
	for (i = 0; i < n; i++) {
		const struct cand *c;

		if (keys[i].who & EXEMPT_BIT) {
			x.hold = true;
			continue;
		}
		c = &d->cand[keys[i].who];
		if (ps_dt_alert_only(d->cfg, d->ds[c->idx].cls))
			x.hold = true;
		x.members++;
		if (d->t->rec[c->idx].last_wall + PREFIX_ACTIVE_S >= now) {
			if (!x.active || d->t->rec[c->idx].first_wall < x.oldest)
				x.oldest = d->t->rec[c->idx].first_wall;
			x.active++;
		}
		x.inf1m += c->inf1m;
		x.inf1h += c->inf1h;
		x.txp1h += c->txp1h;
		x.rxp1h += c->rxp1h;
	}
	if (x.active < dc->prefix.min_clients)
		return 0;
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
	for (i = 0; i < n; i++)
		if (!(keys[i].who & EXEMPT_BIT)) {
			const struct cand *c = &d->cand[keys[i].who];
			struct ps_cview v;

			d->cand[keys[i].who].in_found = true;
			ps_crec_view(d->t, &d->t->rec[c->idx], PS_WIN_1H, now_ms, &v);
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

	if (sort_keys(d, keys, n))
		return 0;
	for (i = 0; i < n; i = j) {
		const struct ps_client_key *k = &d->t->rec[pkey_rec(d, &keys[i])].key;
		int l = level_len(level, k->family);
		struct ps_prefix p, q;

		if (i >= yield_at) {
			if (ps_dt_yield_now(d))
				break;
			yield_at = i + PS_CTABLE_YIELD_EVERY;
		}

		ps_dt_mask_prefix(k, l, &p);
		for (j = i + 1; j < n && keys[j].h == keys[i].h; j++) {
			ps_dt_mask_prefix(&d->t->rec[pkey_rec(d, &keys[j])].key, l, &q);
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

/* Group and judge the clients of one level not found at an earlier one. */
static int judge_level(struct ps_detect *d, uint32_t nc, int level, const struct baseline *b1h,
		       uint32_t now, uint64_t now_ms, uint64_t boot_now)
{
	struct ps_ctable *t = d->t;
	/* A bucket's count saturates: a saturated one may hold min_clients. */
	uint32_t min = d->cfg->detection.prefix.min_clients < UINT16_MAX ?
		       d->cfg->detection.prefix.min_clients : UINT16_MAX;
	/* The baselines are made: their array holds each candidate's hash. */
	uint64_t *hash = (uint64_t *)d->scratch;
	uint32_t i, n = 0;
	struct pkey *keys;
	int l, taken;

	/* Most prefixes hold one client: only those whose hash bucket holds
	 * min_clients (or more, with other prefixes') are grouped. */
	memset(d->pcount, 0, PCOUNT_N * sizeof(*d->pcount));
	for (i = 0; i < nc; i++) {
		const struct cand *c = &d->cand[i];

		if (ps_dt_yield(d, i))
			return 0;
		l = level_len(level, c->family);
		if (!l || c->in_found)
			continue;
		hash[i] = key_prefix_hash(&t->rec[c->idx].key, l);
		if (d->pcount[hash[i] & (PCOUNT_N - 1)] < UINT16_MAX)
			d->pcount[hash[i] & (PCOUNT_N - 1)]++;
	}
#define GROUPED(i)                                                                        \
	(level_len(level, d->cand[i].family) && !d->cand[i].in_found &&                    \
	 d->pcount[hash[i] & (PCOUNT_N - 1)] >= min)
	for (i = 0; i < nc; i++)
		n += GROUPED(i);
	keys = malloc(((size_t)n + d->nex + 1) * sizeof(*keys));
	if (!keys)
		return 0;
	for (i = 0, n = 0; i < nc; i++)
		if (GROUPED(i)) {
			keys[n].h = hash[i];
			keys[n++].who = i;
		}
#undef GROUPED
	/* Exempt clients: they mark their prefixes. */
	for (i = 0; i < d->nex; i++) {
		const struct ps_client_key *k = &t->rec[d->ex[i]].key;

		l = level_len(level, k->family);
		if (!l)
			continue;
		keys[n].h = key_prefix_hash(k, l);
		keys[n++].who = d->ex[i] | EXEMPT_BIT;
	}
	/* /24 and /64 hashes differ in the length hashed: one sort for both. */
	taken = judge_groups(d, keys, n, level, b1h, now, now_ms, boot_now);
	free(keys);
	return taken;
}

/*
 * The prefix detector: IPv4 /24s and IPv6 /64s, then IPv6 /48s from the
 * clients whose /64 was not found on its own.
 */
int ps_dt_judge_prefixes(struct ps_detect *d, struct dt_run *run)
{
	uint32_t i, nc = run->nc;
	int taken;

	if (!nc)
		return 0;
	for (i = 0; i < nc; i++)
		d->cand[i].in_found = false;
	taken = judge_level(d, nc, -1, run->b1h, run->now, run->now_ms, run->boot_now);
	if (d->stale)
		return taken;
	/* After the /64s: their found clients are left out of the /48s. */
	return taken + judge_level(d, nc, 48, run->b1h, run->now, run->now_ms, run->boot_now);
}
