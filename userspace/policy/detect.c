// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy/: what penstockd decides from its client table, once a tick, on
 * whatever clock it runs: the window limits (limits.c), the detectors of
 * bulk extraction (detect*.c, detectors.c, prefix.c, stats.c) and their
 * escalation (escalate.c), tied together by policy.c.
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

int ps_dt_grow(struct ps_detect *d, uint32_t n)
{
	uint32_t cap = d->nds ? d->nds : 1024, i;
	struct dstate *ns;

	while (cap < n)
		cap *= 2;
	ns = realloc(d->ds, (size_t)cap * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	memset(ns + d->nds, 0, (size_t)(cap - d->nds) * sizeof(*ns));
	for (i = d->nds; i < cap; i++)
		ns[i].cls = CLS_UNKNOWN;
	d->ds = ns;
	d->nds = cap;
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
	uint32_t idx = r - d->t->rec, m = now / 60;
	uint64_t k = delta[PS_W_INFERENCE], i;
	struct dstate *s;

	if (idx >= d->nds && ps_dt_grow(d, idx + 1))
		return;
	s = &d->ds[idx];
	if (!s->since)
		s->since = now;
	if (!k)
		return;
	if (!s->act_minute || m != s->act_minute) {
		uint32_t day = m / 1440, old = s->act_minute / 1440;

		if (s->act_minute && day != old) {
			s->act[1] = day == old + 1 ? s->act[0] : 0;
			s->act[0] = 0;
		}
		if (s->act[0] < UINT16_MAX)
			s->act[0]++;
		s->act_minute = m;
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
	uint32_t m = now / 60, day = m / 1440, aday = s->act_minute / 1440;
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

/*
 * The arrays of one run (candidates, and the values of a baseline): mapped
 * for the run and given back after it, so that between runs the daemon's
 * memory is its table's and the detector's per-client state.
 */
static int map_run_arrays(struct ps_detect *d, uint32_t n)
{
	size_t lc = (size_t)n * sizeof(*d->cand), ls = (size_t)n * sizeof(*d->scratch);
	void *c, *x;

	c = mmap(NULL, lc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (c == MAP_FAILED)
		return -ENOMEM;
	x = mmap(NULL, ls, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (x == MAP_FAILED) {
		munmap(c, lc);
		return -ENOMEM;
	}
	d->cand = c;
	d->cap_cand = n;
	d->scratch = x;
	d->cap_scratch = n;
	return 0;
}

static void unmap_run_arrays(struct ps_detect *d)
{
	if (d->cand)
		munmap(d->cand, (size_t)d->cap_cand * sizeof(*d->cand));
	if (d->scratch)
		munmap(d->scratch, d->cap_scratch * sizeof(*d->scratch));
	d->cand = NULL;
	d->scratch = NULL;
	d->cap_cand = 0;
	d->cap_scratch = 0;
}

/* Fill a candidate from record idx at now_ms. */
static void cand_of(struct ps_detect *d, uint32_t idx, uint32_t now, uint64_t now_ms,
		    struct cand *c)
{
	const struct ps_crec *r = &d->t->rec[idx];
	struct ps_cview v;

	memset(c, 0, sizeof(*c));
	c->idx = idx;
	c->family = r->key.family;
	ps_crec_view(d->t, r, PS_WIN_1M, now_ms, &v);
	c->inf1m = v.v[PS_F_INFERENCE];
	c->out1m = ps_dt_outflow(&v);
	c->pace1m = ps_dt_pace_1m(r, c->inf1m, now);
	c->opace1m = ps_dt_pace_1m(r, c->out1m, now);
	ps_crec_view(d->t, r, PS_WIN_1H, now_ms, &v);
	c->inf1h = v.v[PS_F_INFERENCE];
	c->txp1h = v.v[PS_F_TX_PAYLOAD];
	c->rxp1h = v.v[PS_F_RX_PAYLOAD];
	c->out1h = ps_dt_outflow(&v);
	c->recent = r->last_wall + 60 >= now;
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

	if (!ps_dt_judge_client(d, c, cls, run, &det, &score, &ev)) {
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
static int judge_hot(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now)
{
	uint32_t now = now_ms / 1000, i;
	struct dt_run run = { .now = now, .now_ms = now_ms, .boot_now = boot_now };
	int taken = 0;

	if (!d->nhot)
		return 0;
	if (!d->b1m.scale)
		ps_dt_baseline(d, 0, 1, &d->b1m);	/* no run yet: the defaults */
	if (!d->b1h.scale) {
		ps_dt_baseline(d, 0, 10, &d->b1h);
		ps_dt_baseline(d, 0, OUT_DEF_1H, &d->bo1h);
		ps_dt_baseline(d, 0, OUT_DEF_REQ, &d->boreq);
		ps_dt_baseline(d, 0, 1, &d->bratio);
		ps_dt_baseline(d, 0, OUT_DEF_REQ, &d->bbusy);
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
		cand_of(d, idx, now, now_ms, &c);
		taken += judge_one(d, &c, &run);
	}
	d->nhot = 0;
	return taken;
}

/*
 * The candidates of a run: the clients active in the last hour, exempt
 * ones aside (they only mark their prefixes). Returns how many.
 */
static uint32_t collect(struct ps_detect *d, uint32_t now, uint64_t now_ms)
{
	const struct ps_config *cfg = d->cfg;
	struct ps_ctable *t = d->t;
	uint32_t i, nc = 0;

	d->nex = 0;
	for (i = 0; i < t->n; i++) {
		const struct ps_crec *r = &t->rec[i];

		if (ps_dt_yield(d, i))
			break;
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
		cand_of(d, i, now, now_ms, &d->cand[nc++]);
	}
	return nc;
}

/*
 * The outflow baselines count one client a network (an IPv4 /24, an IPv6
 * /48; an API key is its own), the first of the table's order with
 * requests and answers in the hour: a hydra of a hundred addresses, or
 * a campus, is one member of the population, not its median. Marks
 * cand.rep. Equal hashes of two networks count as one (rare, and only a
 * client fewer in the baseline).
 */
static void mark_networks(struct ps_detect *d, uint32_t nc)
{
	uint32_t cap = 64, i, mask;
	uint64_t *seen;

	while (cap < 2 * nc)
		cap *= 2;
	mask = cap - 1;
	seen = calloc(cap, sizeof(*seen));
	for (i = 0; i < nc; i++) {
		struct cand *c = &d->cand[i];
		const struct ps_client_key *k = &d->t->rec[c->idx].key;
		struct ps_prefix p;
		uint64_t h;
		uint32_t j;

		c->rep = c->inf1h > 0 && c->out1h > 0;
		if (!c->rep || !seen)
			continue;
		if (k->family == PS_AF_KEY)
			ps_prefix_of_client(k, &p);
		else
			ps_dt_mask_prefix(k, k->family == PS_AF_INET ? 24 : 48, &p);
		h = ps_dt_prefix_hash(&p) | 1;
		for (j = h & mask; seen[j] && seen[j] != h; j = (j + 1) & mask)
			;
		c->rep = !seen[j];
		seen[j] = h;
	}
	free(seen);
}

/*
 * Baselines: the last minute of those active in it, the last hour of
 * those with requests in it. The outflow's and the ratio's come when a
 * client needs them (ps_dt_need_outflow).
 */
static void baselines(struct ps_detect *d, uint32_t nc, struct baseline *b1m,
		      struct baseline *b1h)
{
	uint32_t i;
	size_t n;

	for (i = 0, n = 0; i < nc; i++)
		if (d->cand[i].recent && d->cand[i].inf1m > 0)
			d->scratch[n++] = log1p(d->cand[i].inf1m);
	ps_dt_baseline(d, n, 1, b1m);
	d->b1m = *b1m;
	for (i = 0, n = 0; i < nc; i++)
		if (d->cand[i].inf1h > 0)
			d->scratch[n++] = log1p(d->cand[i].inf1h);
	ps_dt_baseline(d, n, 10, b1h);
	d->b1h = *b1h;
}

/* A request's outflow over the hour, and a busy minute's (the hour's
 * outflow over its minutes with requests, taken as min(60, requests): a
 * person's request, a minute). */
enum { OB_REQ, OB_BUSY };

static double outflow_value(const struct cand *c, int what)
{
	if (what == OB_REQ)
		return log1p(c->out1h / c->inf1h);
	return log1p(c->out1h / (c->inf1h < 1 ? 1 : c->inf1h > 60 ? 60 : c->inf1h));
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
static void outflow_baseline(struct ps_detect *d, uint32_t nc, int what, struct baseline *b,
			     struct baseline *keep)
{
	uint32_t now = d->last_run_ms / 1000, i;
	const struct cand *c;
	size_t n;

	for (i = 0, n = 0; i < nc; i++)
		if ((c = &d->cand[i])->rep)
			d->scratch[n++] = outflow_value(c, what);
	ps_dt_baseline(d, n, OUT_DEF_REQ, b);
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
	for (i = 0, n = 0; i < nc; i++)
		if ((c = &d->cand[i])->inf1h > 0 && c->out1h > 0 &&
		    d->t->rec[c->idx].first_wall + OUT_SMALL_AGE_S <= now)
			d->scratch[n++] = outflow_value(c, what);
	if (n >= OUT_SMALL_POP) {
		b->n = n;
		ps_median_mad(d->scratch, n, &b->median, &b->mad);
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
	uint32_t i, nc = d->st.clients;
	const struct cand *c;
	size_t n;

	if (!d->in_run || d->ob_seq == d->run_seq)
		return;
	d->ob_seq = d->run_seq;
	d->ob_made = d->last_run_ms / 1000;
	mark_networks(d, nc);
	for (i = 0, n = 0; i < nc; i++)
		if ((c = &d->cand[i])->rep)
			d->scratch[n++] = log1p(c->out1h);
	ps_dt_baseline(d, n, OUT_DEF_1H, &d->bo1h);
	outflow_baseline(d, nc, OB_REQ, &d->boreq, &d->boreq_pop);
	for (i = 0, n = 0; i < nc; i++)
		if ((c = &d->cand[i])->rep)
			d->scratch[n++] = log1p(c->txp1h / (c->rxp1h > 1 ? c->rxp1h : 1));
	ps_dt_baseline(d, n, 1, &d->bratio);
	outflow_baseline(d, nc, OB_BUSY, &d->bbusy, &d->bbusy_pop);
}

int ps_detect_run(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now)
{
	const struct ps_config *cfg = d->cfg;
	const struct ps_detection_cfg *dc = &cfg->detection;
	struct ps_ctable *t = d->t;
	uint32_t now = now_ms / 1000, i, nc = 0;
	struct baseline b1m, b1h;
	struct dt_run run = { .now = now, .now_ms = now_ms, .boot_now = boot_now,
			      .b1m = &b1m, .b1h = &b1h, .bo1h = &d->bo1h, .boreq = &d->boreq,
			      .bratio = &d->bratio, .bbusy = &d->bbusy };
	uint64_t cpu0, yield0;
	int taken = 0;

	if (!dc->enabled)
		return 0;
	/* Many clients over the floor at once: a full run now, so that they
	 * are judged against the population of now. */
	if (d->last_run_ms && now_ms < d->last_run_ms + dc->interval * 1000 &&
	    now_ms >= d->last_run_ms && !d->hot_overflow &&
	    !(d->nhot > 16 && (uint64_t)d->nhot * 100 > t->n))
		return judge_hot(d, now_ms, boot_now);
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
	if ((t->n > d->nds && ps_dt_grow(d, t->n)) || map_run_arrays(d, t->n ? t->n : 1))
		return 0;

	d->stale = false;
	d->run_seq++;
	d->in_run = true;
	nc = collect(d, now, now_ms);
	if (d->stale)
		goto stop;
	d->st.clients = nc;

	baselines(d, nc, &b1m, &b1h);
	run.nc = nc;
	/* The outflow baselines kept for a quiet time (OUT_KEEP_S) are
	 * renewed every OUT_KEEP_EVERY_S, whether or not a client needs them. */
	if (!d->ob_made || now < d->ob_made || now - d->ob_made >= OUT_KEEP_EVERY_S)
		ps_dt_need_outflow(d);

	/* The client rows, client by client; then the group rows. */
	for (i = 0; i < nc; i++) {
		if (ps_dt_yield(d, i))
			goto stop;
		taken += judge_one(d, &d->cand[i], &run);
	}
	taken += ps_dt_judge_groups(d, &run);
	if (d->stale)
		goto stop;
	d->in_run = false;
	unmap_run_arrays(d);
	if (d->st.runs % 360 == 0)
		ps_dt_esc_prune(d, now_ms);
	d->st.runs++;
	d->st.last_ns = ps_cpu_ns() - cpu0 - (t->yield_ns - yield0);
	if (d->st.last_ns > d->st.max_ns)
		d->st.max_ns = d->st.last_ns;
	return taken;
stop:
	/* Reloaded in the middle: the steps taken stand; the rest at the next tick. */
	d->in_run = false;
	unmap_run_arrays(d);
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
	d->pcount = calloc(PCOUNT_N, sizeof(*d->pcount));
	if (!d->pcount || ps_dt_grow(d, t->n > 1024 ? t->n : 1024)) {
		free(d->pcount);
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
	if (d->t->on_fold_ctx == d) {
		d->t->on_fold = NULL;
		d->t->on_fold_ctx = NULL;
	}
	free(d->ds);
	free(d->pcount);
	free(d->hot);
	free(d->ex);
	free(d->esc);
	unmap_run_arrays(d);
	free(d);
}

void ps_detect_reconfigure(struct ps_detect *d)
{
	uint32_t i;

	for (i = 0; i < d->nds; i++)
		d->ds[i].cls = CLS_UNKNOWN;
	d->last_run_ms = 0;
}

void ps_detect_stats(const struct ps_detect *d, struct ps_detect_stats *out)
{
	*out = d->st;
	out->subjects = d->nesc;
}
