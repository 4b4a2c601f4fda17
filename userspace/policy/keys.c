// SPDX-License-Identifier: GPL-2.0-only
/*
 * The API key detectors, over the (key, address) pairs the programs keep
 * (ps_key_addrs, count/keyaddrs.h) that were active in the last hour:
 *
 * shared_key: one key from many networks (IPv4 /24s, IPv6 /48s). A
 *   person's or an application's key comes from a few; a key handed round
 *   a proxy network, or sold, comes from wherever its users are. Judged
 *   on the count of networks against the population of keys (robust
 *   z-score) and a floor (min_networks). Its subject is the key.
 * key_hydra: many keys from one address or one network, used alike. A
 *   campus or an office holds many people with a key each, whose use is
 *   as uneven as people are: a few heavy users, many light ones. Accounts
 *   opened to spread one campaign under per-key limits are each driven
 *   near the limit: their requests are alike (the coefficient of
 *   variation of the keys' request rates at most max_cv) and each key is
 *   busy (a mean rate of requests_per_key an hour). Judged on the count
 *   of keys against the population of addresses (or networks) with keys,
 *   with those two. Its subject is the network when its keys come from
 *   two addresses or more, two keys an address or more (people with a
 *   key and a machine each are a crowd), else the address.
 * The pairs' counts run from when the programs first saw the pair; the
 * hour is which pairs are judged (those seen in it). Each is a row of
 * ps_dt_rows (detectors.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/datapath.h"
#include "count/keyaddrs.h"
#include "policy/detect_int.h"

#define HOUR_NS		3600000000000ULL
/* Pairs of a subject in its evidence. */
#define EV_TOP		8

/* A pair with the network (or the address) it is grouped under. */
struct gpair {
	struct ps_prefix net;	/* the address's /24 or /48, or the address */
	const struct ps_kpair *p;
};

static void net_of(const struct ps_client_key *a, bool whole, struct ps_prefix *p)
{
	ps_dt_mask_prefix(a, whole ? (a->family == PS_AF_INET ? 32 : 128)
				   : (a->family == PS_AF_INET ? 24 : 48), p);
}

static int pfx_cmp(const struct ps_prefix *a, const struct ps_prefix *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* By key, then network. */
static int by_key(const void *x, const void *y)
{
	const struct gpair *a = x, *b = y;

	if (a->p->id != b->p->id)
		return a->p->id < b->p->id ? -1 : 1;
	return pfx_cmp(&a->net, &b->net);
}

/* By network, then key. */
static int by_net(const void *x, const void *y)
{
	const struct gpair *a = x, *b = y;
	int c = pfx_cmp(&a->net, &b->net);

	if (c)
		return c;
	return a->p->id < b->p->id ? -1 : a->p->id > b->p->id;
}

static int by_requests(const void *x, const void *y)
{
	const struct gpair *a = x, *b = y;

	return a->p->requests > b->p->requests ? -1 : a->p->requests < b->p->requests;
}

static void key_subject(uint64_t id, struct ps_prefix *p, struct ps_client_key *k)
{
	ps_key_client(id, k);
	ps_prefix_of_client(k, p);
}

/*
 * The class rules of a subject in the client table: exempt (skip), alert
 * only (hold). Subjects not in the table are judged as the default class.
 */
static bool skip_subject(struct ps_detect *d, const struct ps_client_key *k, bool *hold)
{
	struct ps_crec *r = ps_ctable_find(d->t, k);
	int cls;

	if (!r)
		return false;
	cls = ps_dt_class_of(d, (uint32_t)(r - d->t->rec));
	if (ps_dt_exempt(d->cfg, cls))
		return true;
	if (ps_dt_alert_only(d->cfg, cls))
		*hold = true;
	return false;
}

/* Runs of equal keys (or networks) in g[0..n): calls judge on each. */
typedef int (*run_fn)(struct ps_detect *d, struct gpair *g, uint32_t n, void *arg);

static int runs(struct ps_detect *d, struct gpair *g, uint32_t n,
		bool (*same)(const struct gpair *, const struct gpair *), run_fn fn, void *arg)
{
	uint32_t i = 0, j;
	int taken = 0;

	while (i < n) {
		for (j = i + 1; j < n && same(&g[i], &g[j]); j++)
			;
		taken += fn(d, g + i, j - i, arg);
		i = j;
	}
	return taken;
}

static bool same_key(const struct gpair *a, const struct gpair *b)
{
	return a->p->id == b->p->id;
}

static bool same_net(const struct gpair *a, const struct gpair *b)
{
	return !pfx_cmp(&a->net, &b->net);
}

/* ---- shared_key ---------------------------------------------------------- */

struct kpass {
	uint64_t now_ms, boot_now;
	struct baseline b;
	bool count_only;	/* the first pass: the population's values */
	double *vals;
	size_t nvals;
};

/* Distinct networks in a key's run (sorted by network within the key). */
static uint32_t networks(const struct gpair *g, uint32_t n)
{
	uint32_t i, k = n ? 1 : 0;

	for (i = 1; i < n; i++)
		if (pfx_cmp(&g[i].net, &g[i - 1].net))
			k++;
	return k;
}

static int judge_shared(struct ps_detect *d, struct gpair *g, uint32_t n, void *arg)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;
	struct kpass *kp = arg;
	uint32_t nets = networks(g, n), i;
	uint64_t reqs = 0, inf = 0;
	struct ps_client_key k;
	struct ps_prefix subj;
	char buf[64];
	bool hold = false;
	json_t *ev, *top;
	double z;
	int taken;

	if (kp->count_only) {
		kp->vals[kp->nvals++] = log1p(nets);
		return 0;
	}
	if (nets < dc->shared_key.min_networks)
		return 0;
	z = ps_dt_zscore(&kp->b, nets);
	if (z < dc->zscore)
		return 0;
	key_subject(g[0].p->id, &subj, &k);
	if (skip_subject(d, &k, &hold))
		return 0;
	for (i = 0; i < n; i++) {
		reqs += g[i].p->requests;
		inf += g[i].p->inference_requests;
	}
	qsort(g, n, sizeof(*g), by_requests);
	top = json_array();
	for (i = 0; i < n && i < EV_TOP; i++)
		json_array_append_new(top, json_pack("{s:s,s:I}", "address",
						     ps_client_str(&g[i].p->addr, buf, sizeof(buf)),
						     "requests", (json_int_t)g[i].p->requests));
	ev = json_pack("{s:s,s:i,s:i,s:I,s:I,s:f,s:o}", "window", "1h", "networks", (int)nets,
		       "addresses", (int)n, "requests", (json_int_t)reqs, "inference_requests",
		       (json_int_t)inf, "zscore", z, "top_addresses", top);
	json_object_set_new(ev, "baseline",
			    ps_dt_baseline_json(&kp->b, "networks of one key", "1h"));
	taken = ps_dt_escalate(d, &subj, PS_ALERT_CLIENT, "shared_key", z, ev, hold, 1,
			       d->cfg->dry_run > 0, kp->now_ms, kp->boot_now);
	json_decref(ev);
	return taken;
}

/* ---- key_hydra ----------------------------------------------------------- */

/*
 * A network's (or an address's) keys: how many, and their request rates
 * (a key's requests from the group over the time it has been seen there,
 * at least RATE_MIN_S: a person's burst of a session is not a rate),
 * their mean and spread.
 */
#define RATE_MIN_S	3600.0

struct kstat {
	uint32_t keys;
	uint64_t reqs, inf;
	double mean, cv;
};

static void key_stats(const struct gpair *g, uint32_t n, struct kstat *ks)
{
	double sum = 0, sq = 0, r = 0, rate;
	uint64_t first = UINT64_MAX, last = 0;
	uint32_t i;

	memset(ks, 0, sizeof(*ks));
	for (i = 0; i <= n; i++) {
		if (i == n || (i && g[i].p->id != g[i - 1].p->id)) {
			double span = (double)(last - first) / 1e9;

			rate = r * 3600.0 / (span > RATE_MIN_S ? span : RATE_MIN_S);
			ks->keys++;
			sum += rate;
			sq += rate * rate;
			r = 0;
			first = UINT64_MAX;
			last = 0;
			if (i == n)
				break;
		}
		r += (double)g[i].p->requests;
		if (g[i].p->first_ns < first)
			first = g[i].p->first_ns;
		if (g[i].p->last_ns > last)
			last = g[i].p->last_ns;
		ks->reqs += g[i].p->requests;
		ks->inf += g[i].p->inference_requests;
	}
	ks->mean = ks->keys ? sum / ks->keys : 0;
	ks->cv = ks->mean > 0 ? sqrt(fmax(sq / ks->keys - ks->mean * ks->mean, 0)) / ks->mean : 0;
}

static int by_addr(const void *x, const void *y)
{
	return memcmp(x, y, sizeof(struct ps_client_key));
}

/*
 * The group's distinct addresses, and the most keys one of them used (an
 * address's pairs are its keys): one sort, for a network that may be
 * judged.
 */
static void addr_stats(const struct gpair *g, uint32_t n, uint32_t *addrs, uint32_t *top)
{
	struct ps_client_key *a = malloc(n * sizeof(*a));
	uint32_t i, run = 0;

	*addrs = 0;
	*top = 0;
	if (!a) {
		*top = n;	/* judged as one address: not the network */
		return;
	}
	for (i = 0; i < n; i++)
		a[i] = g[i].p->addr;
	qsort(a, n, sizeof(*a), by_addr);
	for (i = 0; i < n; i++) {
		if (i && !memcmp(&a[i], &a[i - 1], sizeof(*a))) {
			run++;
		} else {
			run = 1;
			(*addrs)++;
		}
		if (run > *top)
			*top = run;
	}
	free(a);
}

struct hpass {
	struct kpass k;
	bool whole;		/* addresses (else networks) */
	bool *found;		/* per pair: in a network found at this run */
	const struct ps_kpair *base;	/* the pairs, found's index */
};

static int judge_hydra(struct ps_detect *d, struct gpair *g, uint32_t n, void *arg)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;
	struct hpass *hp = arg;
	struct kstat ks;
	struct ps_client_key k = {};
	char buf[64];
	bool hold = false;
	json_t *ev, *top;
	uint32_t i, shown, addrs = 1, most = 0;
	double z;
	int taken;

	key_stats(g, n, &ks);
	if (hp->k.count_only) {
		hp->k.vals[hp->k.nvals++] = log1p(ks.keys);
		return 0;
	}
	if (ks.keys < dc->key_hydra.min_keys || ks.mean < dc->key_hydra.requests_per_key ||
	    ks.cv > dc->key_hydra.max_cv)
		return 0;
	/* A network's keys rotate over its addresses (two keys an address
	 * or more, none holding half of them): one person a key, each at an
	 * address of their own, is a crowd; one address with most of the
	 * keys is its own subject. */
	if (!hp->whole) {
		addr_stats(g, n, &addrs, &most);
		if (addrs < 2 || ks.keys < 2 * addrs || 2 * most > ks.keys)
			return 0;
	}
	z = ps_dt_zscore(&hp->k.b, ks.keys);
	if (z < dc->zscore)
		return 0;
	if (hp->whole) {
		/* Its network was found: the network's entry holds it. */
		for (i = 0; i < n; i++)
			if (hp->found[g[i].p - hp->base])
				return 0;
		k.family = g[0].net.family;
		memcpy(&k.addr, g[0].net.addr, sizeof(k.addr));
		if (skip_subject(d, &k, &hold))
			return 0;
	}
	top = json_array();
	for (i = 0, shown = 0; i < n && shown < EV_TOP; i++) {
		struct ps_client_key kk;

		if (i && g[i].p->id == g[i - 1].p->id)
			continue;
		ps_key_client(g[i].p->id, &kk);
		json_array_append_new(top, json_string(ps_client_str(&kk, buf, sizeof(buf))));
		shown++;
	}
	ev = json_pack("{s:s,s:i,s:i,s:I,s:I,s:f,s:f,s:f,s:o}", "window", "1h", "keys",
		       (int)ks.keys, "addresses", (int)addrs, "requests", (json_int_t)ks.reqs,
		       "inference_requests", (json_int_t)ks.inf, "mean_key_requests_per_hour",
		       ks.mean, "cv_key_requests_per_hour", ks.cv, "zscore", z, "keys_seen", top);
	json_object_set_new(ev, "baseline",
			    ps_dt_baseline_json(&hp->k.b, hp->whole ? "keys of one address"
								    : "keys of one network",
						"1h"));
	taken = ps_dt_escalate(d, &g[0].net, hp->whole ? PS_ALERT_CLIENT : PS_ALERT_PREFIX,
			       "key_hydra", z, ev, hold, ks.keys, d->cfg->dry_run > 0,
			       hp->k.now_ms, hp->k.boot_now);
	json_decref(ev);
	if (!hp->whole && taken >= 0)
		for (i = 0; i < n; i++)
			hp->found[g[i].p - hp->base] = true;
	return taken;
}

/* ---- a run ----------------------------------------------------------------- */

static int pass(struct ps_detect *d, struct gpair *g, uint32_t n,
		bool (*same)(const struct gpair *, const struct gpair *), run_fn fn,
		struct kpass *kp, double def_median)
{
	kp->count_only = true;
	kp->nvals = 0;
	runs(d, g, n, same, fn, kp);
	ps_dt_baseline_of(d, kp->vals, kp->nvals, def_median, &kp->b);
	kp->count_only = false;
	return runs(d, g, n, same, fn, kp);
}

/*
 * The run's pairs active in the last hour, each with its network: g[0..n)
 * and a value array for the baselines, both freed by the caller. -1 when
 * there are none (or no memory).
 */
static int active_pairs(struct ps_detect *d, struct dt_run *run, struct gpair **gp, uint32_t *np,
			double **vals)
{
	const struct ps_kpairs *all = ps_dt_key_pairs(d, run);
	struct gpair *g;
	uint32_t n = 0, i;

	*gp = NULL;
	*vals = NULL;
	if (!all)
		return -1;
	g = calloc(all->n, sizeof(*g));
	*vals = calloc(all->n, sizeof(**vals));
	if (!g || !*vals) {
		free(g);
		free(*vals);
		*vals = NULL;
		return -1;
	}
	for (i = 0; i < all->n; i++)
		if (all->v[i].last_ns + HOUR_NS >= run->boot_now && all->v[i].addr.family)
			g[n++].p = &all->v[i];
	for (i = 0; i < n; i++)
		net_of(&g[i].p->addr, false, &g[i].net);
	*gp = g;
	*np = n;
	return 0;
}

int ps_dt_judge_shared_key(struct ps_detect *d, struct dt_run *run)
{
	struct gpair *g;
	struct kpass kp = { .now_ms = run->now_ms, .boot_now = run->boot_now };
	uint32_t n;
	int taken;

	if (active_pairs(d, run, &g, &n, &kp.vals))
		return 0;
	qsort(g, n, sizeof(*g), by_key);
	taken = pass(d, g, n, same_key, judge_shared, &kp, 1);
	free(g);
	free(kp.vals);
	return taken;
}

int ps_dt_judge_key_hydra(struct ps_detect *d, struct dt_run *run)
{
	struct gpair *g;
	struct hpass hp = { .k = { .now_ms = run->now_ms, .boot_now = run->boot_now } };
	uint32_t n, i;
	int taken = 0;

	if (active_pairs(d, run, &g, &n, &hp.k.vals))
		return 0;
	hp.found = calloc(run->kp.n, sizeof(*hp.found));
	hp.base = run->kp.v;
	if (hp.found) {
		/* Networks first; then the addresses of networks not found. */
		qsort(g, n, sizeof(*g), by_net);
		hp.whole = false;
		taken += pass(d, g, n, same_net, judge_hydra, &hp.k, 1);
		for (i = 0; i < n; i++)
			net_of(&g[i].p->addr, true, &g[i].net);
		qsort(g, n, sizeof(*g), by_net);
		hp.whole = true;
		taken += pass(d, g, n, same_net, judge_hydra, &hp.k, 1);
	}
	free(hp.found);
	free(g);
	free(hp.k.vals);
	return taken;
}
