// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy/: what penstockd decides from its client table, once a tick, on
 * whatever clock it runs: the window limits (limits.c), the detectors of
 * bulk extraction (detect*.c, detectors.c, tokflow.c, prefix.c, keys.c,
 * stats.c) and their escalation (escalate.c), tied together by policy.c.
 *
 * This file: a detection run every detection.interval over the clients
 * active in the last hour, the hot clients judged between runs, and what
 * the detector keeps of each client tick by tick (detect.h).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/clock.h"
#include "common/units.h"
#include "policy/detect_int.h"

/* ---- classes ---- */

int ps_dt_class_of(struct ps_detect *d, uint32_t idx)
{
	struct dstate *s = &d->ds[idx];

	if (s->cls == CLS_UNKNOWN)
		s->cls = ps_config_class_of(d->cfg, &d->t->rec[idx].key);
	return s->cls;
}

bool ps_dt_exempt(const struct ps_config *cfg, int cls)
{
	return cls > 0 && cfg->classes[cls - 1].exempt > 0;
}

bool ps_dt_alert_only(const struct ps_config *cfg, int cls)
{
	return cls > 0 && cfg->classes[cls - 1].alert_only > 0;
}

/*
 * Inference requests a minute: the last minute's, or, for a client first
 * seen less than a minute ago, its pace since then (over YOUNG_MIN_S at
 * least), which its one-minute window has not caught up with yet.
 */
double ps_dt_pace_1m(const struct ps_crec *r, double inf1m, uint32_t now)
{
	uint32_t age = now > r->first_wall ? now - r->first_wall : 0;

	if (age >= 60)
		return inf1m;
	return inf1m * 60 / (age > YOUNG_MIN_S ? age : YOUNG_MIN_S);
}

/* ---- per-tick observation ---- */

/*
 * ds[0..n) made: the array grows by doubling, but only the entries in use
 * are written (a big realloc maps fresh pages: the rest costs no memory).
 */
int ps_dt_grow(struct ps_detect *d, uint32_t n)
{
	uint32_t i;

	if (n > d->cap_ds) {
		uint32_t cap = d->cap_ds ? d->cap_ds : 1024;
		struct dstate *ns;

		while (cap < n)
			cap *= 2;
		ns = realloc(d->ds, (size_t)cap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		d->ds = ns;
		d->cap_ds = cap;
	}
	if (n <= d->nds)
		return 0;
	memset(d->ds + d->nds, 0, (size_t)(n - d->nds) * sizeof(*d->ds));
	for (i = d->nds; i < n; i++)
		d->ds[i].cls = CLS_UNKNOWN;
	d->nds = n;
	return 0;
}

static void reg_sample(struct dstate *s, double x)
{
	double a, delta;

	if (s->nint < REG_N)
		s->nint++;
	a = 1.0 / s->nint;
	delta = x - s->imean;
	s->imean += a * delta;
	s->ivar = (1 - a) * (s->ivar + a * delta * delta);
}

void ps_detect_observe(void *ctx, struct ps_crec *r, const uint64_t delta[PS_NWFIELDS],
		       uint32_t now)
{
	struct ps_detect *d = ctx;
	uint32_t idx = r - d->t->rec, m = now / 60, am;
	uint64_t k = delta[PS_W_INFERENCE], i;
	struct dstate *s;

	if (idx >= d->nds && ps_dt_grow(d, idx + 1))
		return;
	s = &d->ds[idx];
	if (!s->since)
		s->since = now;
	if (!k)
		return;
	/* (the minute of last_req, which is now's by the end of this call) */
	am = ps_dt_act_minute(s);
	if (!am || m != am) {
		uint32_t day = m / 1440, old = am / 1440;

		if (am && day != old) {
			s->act[1] = day == old + 1 ? s->act[0] : 0;
			s->act[0] = 0;
		}
		if (s->act[0] < UINT16_MAX)
			s->act[0]++;
	}
	/* Over the high_rate floor in the last minute: judged at the next
	 * tick rather than at the next run (the two buckets bound the window). */
	if (s->hot != d->epoch && d->cfg->detection.enabled &&
	    d->cfg->detection.high_rate.enabled &&
	    (r->ext || 2 * (ps_crec_bucket(d->t, r, PS_WIN_1M, 0, PS_W_INFERENCE) +
			    ps_crec_bucket(d->t, r, PS_WIN_1M, 1, PS_W_INFERENCE)) >=
			       d->cfg->detection.high_rate.requests_per_minute)) {
		struct ps_cview v;

		ps_crec_view(d->t, r, PS_WIN_1M, (uint64_t)now * 1000, &v);
		if (ps_dt_pace_1m(r, v.v[PS_F_INFERENCE], now) >=
		    d->cfg->detection.high_rate.requests_per_minute) {
			if (d->nhot >= HOT_MAX) {
				d->hot_overflow = true;	/* a full run judges them */
				goto regular;
			}
			if (d->nhot == d->cap_hot) {
				uint32_t cap = d->cap_hot ? d->cap_hot * 2 : 64, *nh;

				nh = realloc(d->hot, cap * sizeof(*nh));
				if (!nh)
					goto regular;
				d->hot = nh;
				d->cap_hot = cap;
			}
			d->hot[d->nhot++] = idx;
			s->hot = d->epoch;
		}
	}
regular:
	/* Requests seen at one tick came within a second of each other. */
	if (s->last_req)
		reg_sample(s, now - s->last_req);
	for (i = 1; i < k && i < REG_N; i++)
		reg_sample(s, 0);
	s->last_req = now;
}

/* Share of its watched minutes (at most the last 24 h) with requests. */
double ps_dt_duty_cycle(const struct dstate *s, uint32_t now, double *watched_min)
{
	uint32_t m = now / 60, day = m / 1440, aday = ps_dt_act_minute(s) / 1440;
	uint32_t sm = s->since / 60, from = m % 1440 + 1;
	double watched = (double)(m - sm + 1), active = 0, share;

	if (watched > 1440)
		watched = 1440;
	/* The share of yesterday's active minutes still in the window: they
	 * lie between the first minute watched that day and midnight. */
	if (sm / 1440 + 1 == day && sm % 1440 >= from)
		share = 1;
	else if (sm / 1440 + 1 == day)
		share = (1440.0 - from) / (1440.0 - sm % 1440);
	else
		share = (1440.0 - from) / 1440.0;
	if (aday == day)
		active = s->act[0] + s->act[1] * share;
	else if (aday + 1 == day)
		active = s->act[0] * share;
	*watched_min = watched;
	return watched > 0 ? (active > watched ? 1.0 : active / watched) : 0;
}

/* ---- a run ---- */

void *ps_dt_arena(struct dt_arena *a, size_t bytes)
{
	size_t cap = 1 << 16;
	void *p;

	if (bytes <= a->cap)
		return a->p;
	while (cap < bytes)
		cap *= 2;
	/* Not populated: a page counts when a run writes it. */
	p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (a->p)
		munmap(a->p, a->cap);
	a->p = p;
	a->cap = cap;
	return p;
}

void ps_dt_arena_drop(struct dt_arena *a)
{
	if (a->p)
		madvise(a->p, a->cap, MADV_DONTNEED);
}

void ps_dt_arena_free(struct dt_arena *a)
{
	if (a->p)
		munmap(a->p, a->cap);
	a->p = NULL;
	a->cap = 0;
}

/* The bitmaps of a run over n records, cleared; -ENOMEM. */
static int map_run_bits(struct ps_detect *d, uint32_t n)
{
	size_t words = ((size_t)n + 63) / 64 + 1;
	uint64_t *b = ps_dt_arena(&d->bits, 6 * words * sizeof(*b));

	if (!b)
		return -ENOMEM;
	memset(b, 0, 6 * words * sizeof(*b));
	d->bcand = b;
	d->brep = b + words;
	d->bfound = b + 2 * words;
	d->bskip = b + 3 * words;
	d->bgroup = b + 4 * words;
	d->b6 = b + 5 * words;
	d->run_n = n;
	return 0;
}

/*
 * The scratch of a group detector (the outflow in tokens' networks and
 * values, the prefixes' counts, tags, keys and members' features): its
 * pages go back when it is done, so that the next one's (the prefix
 * keys after the token outflow's networks) never meet them.
 */
void ps_dt_drop_group_scratch(struct ps_detect *d)
{
	ps_dt_arena_drop(&d->vals);
	ps_dt_arena_drop(&d->pcount);
	ps_dt_arena_drop(&d->tags);
	ps_dt_arena_drop(&d->keys);
	ps_dt_arena_drop(&d->hyd);
	ps_dt_arena_drop(&d->tnets);
	ps_dt_arena_drop(&d->tidx);
}

/* The end of a run: its scratch's pages go back to the system. */
static void drop_run_scratch(struct ps_detect *d)
{
	ps_dt_arena_drop(&d->bits);
	ps_dt_drop_group_scratch(d);
	d->bcand = d->brep = d->bfound = d->bskip = d->bgroup = d->b6 = NULL;
	d->run_n = 0;
}

/*
 * Fields f[0..nf) of r's window win (1m or 1h) at now_ms, in out: the
 * figures ps_crec_view (count/clients.c) gives, by the same arithmetic,
 * without the fields a candidate does not hold (the token ones among
 * them, in a token entry apart). A run reads each candidate's several
 * times; unit_detect holds the two to the same figures.
 */
static void window_fields(const struct ps_ctable *t, const struct ps_crec *r,
			  enum ps_window win, uint64_t now_ms, int nf, const enum ps_wfield *f,
			  double *out)
{
	uint32_t m = now_ms / 60000, len = win == PS_WIN_1M ? 1 : 60;
	uint32_t cur = m / len, rec = r->minute / len;
	double span = len * 60000.0, frac, wcur = 1.0, wprev;
	int i;

	if (!r->minute) {
		for (i = 0; i < nf; i++)
			out[i] = 0;
		return;
	}
	frac = ((double)now_ms - (double)cur * span) / span;
	if (frac < 0)
		frac = 0;
	wprev = 1.0 - frac;
	if (cur == rec + 1)
		wcur = 0.0;
	else if (cur > rec + 1)
		wcur = wprev = 0.0;
	for (i = 0; i < nf; i++) {
		double bc = ps_crec_bucket(t, r, win, 0, f[i]);
		double bp = ps_crec_bucket(t, r, win, 1, f[i]);

		if (cur == rec + 1)
			out[i] = bc * wprev;
		else
			out[i] = bc * wcur + bp * wprev;
	}
}

void ps_dt_cand(struct ps_detect *d, uint32_t idx, uint32_t now, uint64_t now_ms, int what,
		struct cand *c)
{
	static const enum ps_wfield f1m[] = { PS_W_INFERENCE, PS_W_TX_PAYLOAD };
	static const enum ps_wfield f1h[] = { PS_W_INFERENCE, PS_W_TX_PAYLOAD, PS_W_RX_PAYLOAD };
	const struct ps_crec *r = &d->t->rec[idx];
	double v[3];

	memset(c, 0, sizeof(*c));
	c->idx = idx;
	c->family = r->key.family;
	if (what & CAND_1M) {
		window_fields(d->t, r, PS_WIN_1M, now_ms, 2, f1m, v);
		c->inf1m = v[0];
		c->out1m = v[1];	/* ps_dt_outflow: the tx payload */
		c->pace1m = ps_dt_pace_1m(r, c->inf1m, now);
		c->opace1m = ps_dt_pace_1m(r, c->out1m, now);
	}
	if (what & CAND_1H) {
		window_fields(d->t, r, PS_WIN_1H, now_ms, 3, f1h, v);
		c->inf1h = v[0];
		c->txp1h = v[1];
		c->rxp1h = v[2];
		c->out1h = v[1];
	}
	c->recent = r->last_wall + 60 >= now;
}

bool ps_dt_tokens(struct ps_detect *d, uint32_t idx, uint32_t now, uint64_t now_ms,
		  struct tokc *o)
{
	static const enum ps_wfield f[] = { PS_W_INFERENCE, PS_W_TX_TOKENS,
					    PS_W_TX_TOKENS_ESTIMATED };
	const struct ps_crec *r = &d->t->rec[idx];
	double v[3];

	/* No token entry (nor 64-bit buckets): no token ever. */
	if (!r->tok && !(r->ext && d->t->ext[r->ext - 1].wide))
		return false;
	window_fields(d->t, r, PS_WIN_1H, now_ms, 3, f, v);
	o->inf1h = v[0];
	o->tok1h = v[1] + v[2];
	if (!(o->inf1h > 0 && o->tok1h > 0))
		return false;
	window_fields(d->t, r, PS_WIN_1M, now_ms, 3, f, v);
	o->inf1m = v[0];
	o->tok1m = v[1] + v[2];
	o->tpace1m = ps_dt_pace_1m(r, o->tok1m, now);
	o->recent = r->last_wall + 60 >= now;
	return true;
}

/* Judge one client and take its step if it is found. */
static int judge_one(struct ps_detect *d, const struct cand *c, const struct dt_run *run)
{
	uint64_t now_ms = run->now_ms, boot_now = run->boot_now;
	const struct ps_config *cfg = d->cfg;
	int cls = d->ds[c->idx].cls, taken;
	const char *det = NULL;
	double score = 0;
	json_t *ev = NULL;
	struct ps_limits lim;
	struct ps_prefix p;

	if (ps_dt_judge_client(d, c, cls, run, &det, &score, &ev) && d->stale) {
		/* A reload while a baseline was made for it: the run stops. */
		json_decref(ev);
		return 0;
	}
	if (!det) {
		/* Over the high_rate floor and judged clean: not again
		 * between runs. A client found stays eligible, so that its
		 * next step comes on time. */
		if (c->pace1m >= cfg->detection.high_rate.requests_per_minute)
			d->ds[c->idx].hot = d->epoch;
		return 0;
	}
	d->ds[c->idx].hot = 0;
	ps_prefix_of_client(&d->t->rec[c->idx].key, &p);
	ps_limits_resolve(cfg, cls, &lim);
	taken = ps_dt_escalate(d, &p, PS_ALERT_CLIENT, det, score, ev, ps_dt_alert_only(cfg, cls),
			       1, lim.dry_run > 0, now_ms, boot_now);
	json_decref(ev);
	return taken;
}

/* Between runs: the clients that went over the high_rate floor. */
int ps_dt_judge_hot(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now)
{
	uint32_t now = now_ms / 1000, i;
	struct dt_run run = { .now = now, .now_ms = now_ms, .boot_now = boot_now };
	int taken = 0;

	if (!d->nhot)
		return 0;
	if (!d->b1m.scale)
		ps_dt_baseline_f(d, NULL, 0, 1, &d->b1m);	/* no run yet: the defaults */
	if (!d->b1h.scale) {
		ps_dt_baseline_f(d, NULL, 0, 10, &d->b1h);
		ps_dt_baseline_f(d, NULL, 0, OUT_DEF_1H, &d->bo1h);
		ps_dt_baseline_f(d, NULL, 0, OUT_DEF_REQ, &d->boreq);
		ps_dt_baseline_f(d, NULL, 0, 1, &d->bratio);
		ps_dt_baseline_f(d, NULL, 0, OUT_DEF_REQ, &d->bbusy);
	}
	run.b1m = &d->b1m;
	run.b1h = &d->b1h;
	run.bo1h = &d->bo1h;
	run.boreq = &d->boreq;
	run.bratio = &d->bratio;
	run.bbusy = &d->bbusy;
	for (i = 0; i < d->nhot; i++) {
		uint32_t idx = d->hot[i];
		struct cand c;

		if (idx >= d->t->n || idx >= d->nds)
			continue;
		if (ps_dt_exempt(d->cfg, ps_dt_class_of(d, idx)))
			continue;
		ps_dt_cand(d, idx, now, now_ms, CAND_ALL, &c);
		taken += judge_one(d, &c, &run);
	}
	d->nhot = 0;
	return taken;
}

/*
 * The candidates of a run: the clients active in the last hour, exempt
 * ones aside (they only mark their prefixes). Marks them in bcand;
 * returns how many.
 */
static uint32_t collect(struct ps_detect *d, uint32_t now)
{
	const struct ps_config *cfg = d->cfg;
	struct ps_ctable *t = d->t;
	uint32_t i, nc = 0;

	d->nex = 0;
	for (i = 0; i < d->run_n; i++) {
		const struct ps_crec *r;

		/* (a yield in the thread may move the records: found after it) */
		if (ps_dt_yield(d, i))
			break;
		r = &t->rec[i];
		if (r->last_wall + ACTIVE_S < now)
			continue;
		if (ps_dt_exempt(cfg, ps_dt_class_of(d, i))) {
			/* Out of every judgement; it only marks its prefixes. */
			if (d->nex == d->cap_ex) {
				uint32_t cap = d->cap_ex ? d->cap_ex * 2 : 64, *ne;

				ne = realloc(d->ex, cap * sizeof(*ne));
				if (!ne)
					continue;
				d->ex = ne;
				d->cap_ex = cap;
			}
			d->ex[d->nex++] = i;
			continue;
		}
		ps_bit_set(d->bcand, i);
		if (r->key.family == PS_AF_INET6)
			ps_bit_set(d->b6, i);
		nc++;
	}
	return nc;
}

/*
 * The networks seen by mark_networks: an open-addressed set of their
 * hashes, as big as the networks are many (not the clients), mapped apart
 * so that it goes back to the system after the run.
 */
struct netset {
	uint64_t *v;
	uint32_t cap, n;
};

static bool netset_grow(struct netset *s)
{
	uint32_t cap = s->cap ? s->cap * 2 : 4096, mask = cap - 1, i, j;
	uint64_t *nv = mmap(NULL, (size_t)cap * sizeof(*nv), PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (nv == MAP_FAILED)
		return false;
	for (i = 0; i < s->cap; i++) {
		if (!s->v[i])
			continue;
		for (j = s->v[i] & mask; nv[j]; j = (j + 1) & mask)
			;
		nv[j] = s->v[i];
	}
	if (s->v)
		munmap(s->v, (size_t)s->cap * sizeof(*s->v));
	s->v = nv;
	s->cap = cap;
	return true;
}

/* Add h (odd); whether it was not there. Out of memory: counted as new. */
static bool netset_add(struct netset *s, uint64_t h)
{
	uint32_t j, mask;

	if (2 * (s->n + 1) > s->cap && !netset_grow(s))
		return true;
	mask = s->cap - 1;
	for (j = h & mask; s->v[j] && s->v[j] != h; j = (j + 1) & mask)
		;
	if (s->v[j])
		return false;
	s->v[j] = h;
	s->n++;
	return true;
}

/*
 * The outflow baselines count one client a network (an IPv4 /24, an IPv6
 * /48), the first of the table's order with requests and answers in the
 * hour: a hydra of a hundred addresses, or a campus, is one member of the
 * population, not its median. API keys are not in them, and are not
 * judged by the outflow (OUTFLOW_SUBJECT()): a key is a person, and in
 * bytes a person who streams takes thirty times what one who does not
 * takes for the same answer, so bytes a request tell keys apart by how
 * they ask, not by what they take. Marks brep. Equal hashes of two
 * networks count as one (rare, and only a client fewer in the baseline).
 */
static void mark_networks(struct ps_detect *d)
{
	uint32_t now = d->last_run_ms / 1000, i, k = 0;
	struct netset seen = {};
	struct cand c;

	FOR_CAND(d, i) {
		const struct ps_client_key *key;
		struct ps_prefix p;

		ps_dt_yield(d, k++);	/* a reload: the run stops after these baselines */
		key = &d->t->rec[i].key;
		ps_dt_cand(d, i, now, d->last_run_ms, CAND_1H, &c);
		if (!(c.inf1h > 0 && c.out1h > 0) || !OUTFLOW_SUBJECT(key))
			continue;
		ps_dt_mask_prefix(key, key->family == PS_AF_INET ? 24 : 48, &p);
		if (netset_add(&seen, ps_dt_prefix_hash(&p) | 1))
			ps_bit_set(d->brep, i);
	}
	if (seen.v)
		munmap(seen.v, (size_t)seen.cap * sizeof(*seen.v));
}

/*
 * Baselines: the last minute of those active in it, the last hour of
 * those with requests in it. The outflow's and the ratio's come when a
 * client needs them (ps_dt_need_outflow).
 */
static void baselines(struct ps_detect *d, struct baseline *b1m, struct baseline *b1h)
{
	uint32_t now = d->last_run_ms / 1000, i, k = 0;
	float *x = d->vals.p;	/* nc floats: mapped at the start of the run */
	struct cand c;
	size_t n;

	n = 0;
	FOR_CAND(d, i) {
		ps_dt_yield(d, k++);
		ps_dt_cand(d, i, now, d->last_run_ms, CAND_1M, &c);
		if (c.recent && c.inf1m > 0)
			x[n++] = c.inf1m;
	}
	ps_dt_baseline_f(d, x, n, 1, b1m);
	d->b1m = *b1m;
	n = 0;
	FOR_CAND(d, i) {
		ps_dt_yield(d, k++);
		ps_dt_cand(d, i, now, d->last_run_ms, CAND_1H, &c);
		if (c.inf1h > 0)
			x[n++] = c.inf1h;
	}
	ps_dt_baseline_f(d, x, n, 10, b1h);
	d->b1h = *b1h;
}

/* A request's outflow over the hour, and a busy minute's (the hour's
 * outflow over its minutes with requests, taken as min(60, requests): a
 * person's request, a minute). */
enum { OB_REQ, OB_BUSY };

/* The value whose log(1 + x) is judged: a float, as it was computed. */
static float outflow_value(const struct cand *c, int what)
{
	if (what == OB_REQ)
		return c->out1h / c->inf1h;
	return c->out1h / (c->inf1h < 1 ? 1 : c->inf1h > 60 ? 60 : c->inf1h);
}

/*
 * An outflow baseline (what: OB_*): the population's, one client a
 * network; with fewer than min_population networks, the last one made
 * from a population (keep), up to OUT_KEEP_S old: what a person takes an
 * answer or a busy minute does not change when few are about; else, from
 * OUT_SMALL_POP clients with answers watched OUT_SMALL_AGE_S or more
 * (a client first seen just now has its answers on their way: what it
 * took so far is less than it takes), the few there are, every client
 * counted (a campus at night is its people; a hydra among them can only
 * raise the median): not a population, only the minute's outflow arm,
 * with its factor, judges against it; else the defaults.
 */
static void outflow_baseline(struct ps_detect *d, int what, struct baseline *b,
			     struct baseline *keep)
{
	uint32_t now = d->last_run_ms / 1000, i, k = 0;
	float *x = d->vals.p;
	struct cand c;
	size_t n;

	n = 0;
	FOR_CAND(d, i) {
		if (!ps_bit(d->brep, i))
			continue;
		ps_dt_yield(d, k++);
		ps_dt_cand(d, i, now, d->last_run_ms, CAND_1H, &c);
		x[n++] = outflow_value(&c, what);
	}
	ps_dt_baseline_f(d, x, n, OUT_DEF_REQ, b);
	if (b->population) {
		*keep = *b;
		keep->at = now;
		return;
	}
	if (keep->population && now >= keep->at && now - keep->at <= OUT_KEEP_S) {
		*b = *keep;
		b->from = BL_EARLIER;
		return;
	}
	n = 0;
	FOR_CAND(d, i) {
		ps_dt_yield(d, k++);
		ps_dt_cand(d, i, now, d->last_run_ms, CAND_1H, &c);
		if (c.inf1h > 0 && c.out1h > 0 && d->t->rec[i].first_wall + OUT_SMALL_AGE_S <= now &&
		    OUTFLOW_SUBJECT(&d->t->rec[i].key))
			x[n++] = outflow_value(&c, what);
	}
	if (n >= OUT_SMALL_POP) {
		b->n = n;
		ps_median_mad_f(d, x, n, &b->median, &b->mad);
		b->scale = MAD_SIGMA * b->mad > Z_SCALE_FLOOR ? MAD_SIGMA * b->mad : Z_SCALE_FLOOR;
		b->from = BL_SMALL;
	}
}

/*
 * The outflow baselines count the clients with requests and answers in
 * the hour (a client whose first answers are still on their way took
 * nothing yet), one a network (mark_networks).
 */
void ps_dt_need_outflow(struct ps_detect *d)
{
	uint32_t now = d->last_run_ms / 1000, i, k = 0;
	float *x = d->vals.p;
	struct cand c;
	size_t n;

	if (!d->in_run || d->ob_seq == d->run_seq)
		return;
	d->ob_seq = d->run_seq;
	d->ob_made = d->last_run_ms / 1000;
	mark_networks(d);
	n = 0;
	FOR_CAND(d, i) {
		if (!ps_bit(d->brep, i))
			continue;
		ps_dt_yield(d, k++);
		ps_dt_cand(d, i, now, d->last_run_ms, CAND_1H, &c);
		x[n++] = c.out1h;
	}
	ps_dt_baseline_f(d, x, n, OUT_DEF_1H, &d->bo1h);
	outflow_baseline(d, OB_REQ, &d->boreq, &d->boreq_pop);
	n = 0;
	FOR_CAND(d, i) {
		if (!ps_bit(d->brep, i))
			continue;
		ps_dt_yield(d, k++);
		ps_dt_cand(d, i, now, d->last_run_ms, CAND_1H, &c);
		x[n++] = c.txp1h / (c.rxp1h > 1 ? c.rxp1h : 1);
	}
	ps_dt_baseline_f(d, x, n, 1, &d->bratio);
	outflow_baseline(d, OB_BUSY, &d->bbusy, &d->bbusy_pop);
}

/*
 * Whether a whole run is due: detection.interval since the last, or many
 * clients over the floor at once (judged against the population of now).
 */
bool ps_dt_run_due(struct ps_detect *d, uint64_t now_ms)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;

	/* Not on a table the ticks have not made whole yet (a daemon's first
	 * seconds with a million clients, a burst of new ones): its
	 * baselines would be a part's. */
	if (d->t->unfolded)
		return false;
	return !(d->last_run_ms && now_ms < d->last_run_ms + dc->interval * 1000 &&
		 now_ms >= d->last_run_ms && !d->hot_overflow &&
		 !(d->nhot > 16 && (uint64_t)d->nhot * 100 > d->t->n));
}

int ps_detect_run(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now)
{
	if (d->bg)
		return ps_dt_bg_tick(d, now_ms, boot_now);
	if (!d->cfg->detection.enabled)
		return 0;
	if (!ps_dt_run_due(d, now_ms))
		return ps_dt_judge_hot(d, now_ms, boot_now);
	return ps_dt_full_run(d, now_ms, boot_now);
}

/*
 * A whole run: inline (ps_detect_run), or in the detector's thread
 * (detect_bg.c), which holds the table's lock throughout but at the
 * run's yields (ps_dt_yield), where the loop may fold a tick: a run in
 * the thread reads no record and no detector state across a yield
 * through a pointer taken before it.
 */
int ps_dt_full_run(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now)
{
	const struct ps_config *cfg = d->cfg;
	struct ps_ctable *t = d->t;
	uint32_t now = now_ms / 1000, i, k, nc = 0;
	struct baseline b1m, b1h;
	struct dt_run run = { .now = now, .now_ms = now_ms, .boot_now = boot_now,
			      .b1m = &b1m, .b1h = &b1h, .bo1h = &d->bo1h, .boreq = &d->boreq,
			      .bratio = &d->bratio, .bbusy = &d->bbusy };
	uint64_t cpu0, yield0;
	int taken = 0;

	if (!cfg->detection.enabled)
		return 0;	/* (turned off by a reload since the loop handed the run over) */
	d->hot_overflow = false;
	/* Each class's thresholds, for this run and the ticks up to the next
	 * (a reload makes the next call a run). */
	for (i = 0; i < PS_MAX_CLASSES; i++)
		ps_thresholds_resolve(cfg, (int)i <= cfg->nclasses ? (int)i : 0, &d->th[i]);
	d->last_run_ms = now_ms;
	/* A new epoch: every client may be hot again. */
	d->epoch = d->epoch == UINT8_MAX ? 1 : d->epoch + 1;
	d->nhot = 0;
	cpu0 = ps_cpu_ns();
	yield0 = t->yield_ns;
	if ((t->n > d->nds && ps_dt_grow(d, t->n)) || map_run_bits(d, t->n))
		return 0;

	d->stale = false;
	d->run_seq++;
	d->in_run = true;
	nc = collect(d, now);
	/* A baseline's values: a float a candidate (its pages taken as written). */
	if (d->stale || !ps_dt_arena(&d->vals, ((size_t)nc + 1) * sizeof(float)))
		goto stop;
	d->st.clients = nc;

	baselines(d, &b1m, &b1h);
	run.nc = nc;
	/* The outflow baselines kept for a quiet time (OUT_KEEP_S) are
	 * renewed every OUT_KEEP_EVERY_S, whether or not a client needs them. */
	if (!d->ob_made || now < d->ob_made || now - d->ob_made >= OUT_KEEP_EVERY_S)
		ps_dt_need_outflow(d);

	if (d->stale)
		goto stop;

	/* The client rows, client by client; then the group rows. */
	k = 0;
	FOR_CAND(d, i) {
		struct cand c;

		if (ps_dt_yield(d, k++))
			goto stop;
		ps_dt_cand(d, i, now, now_ms, CAND_ALL, &c);
		taken += judge_one(d, &c, &run);
	}
	/* The baselines are made: their values' pages go before the groups' scratch comes. */
	ps_dt_arena_drop(&d->vals);
	taken += ps_dt_judge_groups(d, &run);
	if (d->stale)
		goto stop;
	d->in_run = false;
	drop_run_scratch(d);
	if (d->st.runs % 360 == 0)
		ps_dt_esc_prune(d, now_ms);
	d->st.runs++;
	/* (the thread's CPU time is its own: the loop's yields are not in it) */
	d->st.last_ns = ps_cpu_ns() - cpu0 - (ps_dt_bg_self == d ? 0 : t->yield_ns - yield0);
	if (d->st.last_ns > d->st.max_ns)
		d->st.max_ns = d->st.last_ns;
	return taken;
stop:
	/* Reloaded in the middle: the steps taken stand; the rest at the next tick. */
	d->in_run = false;
	drop_run_scratch(d);
	return taken;
}

/* ---- life cycle ---- */

struct ps_detect *ps_detect_new(const struct ps_config *cfg, struct ps_ctable *t,
				const struct ps_detect_hooks *hooks)
{
	struct ps_detect *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cfg = cfg;
	d->t = t;
	if (hooks)
		d->h = *hooks;
	d->epoch = 1;
	if (ps_dt_grow(d, t->n > 1024 ? t->n : 1024)) {
		free(d);
		return NULL;
	}
	t->on_fold = ps_detect_observe;
	t->on_fold_ctx = d;
	return d;
}

void ps_detect_free(struct ps_detect *d)
{
	if (!d)
		return;
	ps_detect_bg_stop(d);
	if (d->t->on_fold_ctx == d) {
		d->t->on_fold = NULL;
		d->t->on_fold_ctx = NULL;
	}
	free(d->ds);
	free(d->hot);
	free(d->ex);
	free(d->esc);
	ps_dt_arena_free(&d->bits);
	ps_dt_arena_free(&d->vals);
	ps_dt_arena_free(&d->pcount);
	ps_dt_arena_free(&d->tags);
	ps_dt_arena_free(&d->keys);
	ps_dt_arena_free(&d->hyd);
	ps_dt_arena_free(&d->tnets);
	ps_dt_arena_free(&d->tidx);
	free(d);
}

void ps_detect_reconfigure(struct ps_detect *d)
{
	uint32_t i;

	for (i = 0; i < d->nds; i++)
		d->ds[i].cls = CLS_UNKNOWN;
	d->last_run_ms = 0;
	/* A run in the thread stops at its next yield (inline: the yield says so). */
	if (d->in_run)
		d->stale = true;
}

void ps_detect_stats(const struct ps_detect *d, struct ps_detect_stats *out)
{
	*out = d->st;
	out->subjects = d->nesc;
}
