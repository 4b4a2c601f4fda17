// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "enforce/enforce.h"
#include "policy/policy.h"

/* A block over a request limit or a shaping. */
static int strength(int action)
{
	return action == PS_ACT_BLOCK ? 2 : action != PS_ACT_NONE;
}

/*
 * Limits judged by the daemon from its windows: requests_per_day and
 * egress_bytes_per_day on the 24h window (every 10 s), and
 * egress_bytes_per_minute on the 1m window (every tick). A client over one
 * gets its class's on_exceed action for a while, renewed while it stays
 * over: ten minutes for the day limits, one for the minute limit.
 *   delay  a request limit: for requests_per_day, the daily budget spread
 *          over the day; for the byte limits, the requests per minute that
 *          its recent bytes per request fit in the limit
 *   shape  its egress at shape_rate
 *   block  all its packets dropped
 * A manual entry stays; a detector's stays unless the limit's action is
 * stronger (a block over a shape or a delay).
 */
static bool limit_origin(int origin)
{
	return origin == PS_ORIGIN_DAY_LIMIT || origin == PS_ORIGIN_MINUTE_LIMIT;
}

static void window_limits(struct ps_policy *pl, uint64_t now_ms, uint64_t bnow)
{
	struct ps_limits lim[PS_MAX_CLASSES];
	uint64_t min_req = PS_LIMIT_UNSET, min_bytes = PS_LIMIT_UNSET;
	uint64_t min_bmin = PS_LIMIT_UNSET;
	bool day = !pl->day_ms || now_ms >= pl->day_ms + 10000 || now_ms < pl->day_ms;
	uint32_t i;
	int c;

	for (c = 0; c <= pl->cfg->nclasses; c++) {
		ps_limits_resolve(pl->cfg, c, &lim[c]);
		if (lim[c].requests_per_day < min_req)
			min_req = lim[c].requests_per_day;
		if (lim[c].egress_bytes_per_day < min_bytes)
			min_bytes = lim[c].egress_bytes_per_day;
		if (lim[c].egress_bytes_per_minute < min_bmin)
			min_bmin = lim[c].egress_bytes_per_minute;
	}
	if (day)
		pl->day_ms = now_ms;
	else
		min_req = min_bytes = PS_LIMIT_UNSET;
	if (min_req == PS_LIMIT_UNSET && min_bytes == PS_LIMIT_UNSET && min_bmin == PS_LIMIT_UNSET)
		return;
	for (i = 0; i < pl->table->n; i++) {
		const struct ps_crec *r = &pl->table->rec[i];
		struct ps_enforcement e = {}, old = {};
		const struct ps_limits *l;
		struct ps_cview vd = {}, vm = {};
		struct ps_prefix p;
		int over_req = 0, over_bytes = 0, over_bmin = 0, minute;
		uint64_t rpm = 0;

		if (min_req != PS_LIMIT_UNSET || min_bytes != PS_LIMIT_UNSET)
			ps_crec_view(pl->table, r, PS_WIN_24H, now_ms, &vd);
		if (min_bmin != PS_LIMIT_UNSET)
			ps_crec_view(pl->table, r, PS_WIN_1M, now_ms, &vm);
		if (vd.v[PS_F_INFERENCE] <= (double)min_req &&
		    vd.v[PS_F_TX_BYTES] <= (double)min_bytes && vm.v[PS_F_TX_BYTES] <= (double)min_bmin)
			continue;
		l = &lim[ps_config_class_of(pl->cfg, &r->key)];
		over_req = min_req != PS_LIMIT_UNSET && l->requests_per_day != PS_LIMIT_UNSET &&
			   vd.v[PS_F_INFERENCE] > (double)l->requests_per_day;
		over_bytes = min_bytes != PS_LIMIT_UNSET && l->egress_bytes_per_day != PS_LIMIT_UNSET &&
			     vd.v[PS_F_TX_BYTES] > (double)l->egress_bytes_per_day;
		over_bmin = l->egress_bytes_per_minute != PS_LIMIT_UNSET &&
			    vm.v[PS_F_TX_BYTES] > (double)l->egress_bytes_per_minute;
		if (!over_req && !over_bytes && !over_bmin)
			continue;
		minute = !over_req && !over_bytes;
		ps_prefix_of_client(&r->key, &p);
		if (ps_enf_get(pl->dp, &p, &old))
			memset(&old, 0, sizeof(old));
		if (old.origin == PS_ORIGIN_MANUAL)
			continue;
		/* A day limit's entry is not cut short by the minute check. */
		if (minute && old.origin == PS_ORIGIN_DAY_LIMIT && old.until_ns > bnow)
			continue;
		if (l->on_exceed == PS_ON_EXCEED_BLOCK) {
			e.action = PS_ACT_BLOCK;
		} else if (l->on_exceed == PS_ON_EXCEED_DELAY) {
			if (over_req) {
				rpm = l->requests_per_day / 1440;
			} else {
				/* Bytes: as many requests a minute as fit, at the
				 * client's recent bytes per request. */
				const struct ps_cview *v = over_bytes ? &vd : &vm;
				double per_req = v->v[PS_F_INFERENCE] >= 1 ?
							 v->v[PS_F_TX_BYTES] / v->v[PS_F_INFERENCE] :
							 v->v[PS_F_TX_BYTES];
				double budget = over_bytes ? l->egress_bytes_per_day / 1440.0 :
							     (double)l->egress_bytes_per_minute;

				rpm = per_req > 0 ? (uint64_t)(budget / per_req) : 0;
			}
			e.action = PS_ACT_THROTTLE;
			ps_gcra_params(rpm ? rpm : 1, 1, &e.emission_ns, &e.tolerance_ns);
		} else if (l->on_exceed == PS_ON_EXCEED_SHAPE && l->shape_rate != PS_LIMIT_UNSET) {
			e.action = PS_ACT_SHAPE;
			e.rate_bps = l->shape_rate;
			/* Renewed while over: keep its class, the rate may change. */
			if (limit_origin(old.origin) && old.action == PS_ACT_SHAPE)
				e.shape_class = old.shape_class;
			pl->shape_dirty = true;
		} else {
			continue;
		}
		/* A detector's entry stays unless this one is stronger. */
		if (old.origin == PS_ORIGIN_DETECTOR && strength(e.action) <= strength(old.action))
			continue;
		e.origin = minute ? PS_ORIGIN_MINUTE_LIMIT : PS_ORIGIN_DAY_LIMIT;
		e.dry_run = l->dry_run > 0;
		e.since_ns = limit_origin(old.origin) && old.action == e.action ? old.since_ns :
									     now_ms * 1000000ULL;
		e.until_ns = bnow + (minute ? 60ULL : 600ULL) * 1000000000ULL;
		snprintf(e.reason, sizeof(e.reason), "%s",
			 over_req ? "inference requests over requests_per_day" :
			 over_bytes ? "egress bytes over egress_bytes_per_day" :
				      "egress bytes over egress_bytes_per_minute");
		if (ps_enf_set(pl->dp, &p, &e) == 0 &&
		    !(limit_origin(old.origin) && old.action == e.action) && pl->on_enforce)
			pl->on_enforce(pl->ctx, &p, &e);
	}
}

/*
 * The detectors' actions: a manual entry stays, and so does a limit's
 * stronger one (a day limit's block over a detector's shape); a shape
 * keeps its class.
 */
static int detect_enforce(void *ctx, const struct ps_prefix *pf, const struct ps_enforcement *e)
{
	struct ps_policy *pl = ctx;
	struct ps_enforcement old = {}, ne = *e;
	bool had = !ps_enf_get(pl->dp, pf, &old);
	int err;

	if (had && old.origin == PS_ORIGIN_MANUAL)
		return -EEXIST;
	if (had && old.origin != PS_ORIGIN_DETECTOR && strength(old.action) > strength(ne.action))
		return -EEXIST;
	if (had && old.action == PS_ACT_SHAPE && ne.action == PS_ACT_SHAPE)
		ne.shape_class = old.shape_class;
	if ((had && old.action == PS_ACT_SHAPE) || ne.action == PS_ACT_SHAPE)
		pl->shape_dirty = true;
	err = ps_enf_set(pl->dp, pf, &ne);
	if (err)
		return err;
	if (pl->on_enforce && !(had && old.origin == ne.origin && old.action == ne.action))
		pl->on_enforce(pl->ctx, pf, &ne);
	return 0;
}

static void detect_alert(void *ctx, const struct ps_alert *al)
{
	struct ps_policy *pl = ctx;

	if (pl->on_alert)
		pl->on_alert(pl->ctx, al);
}

int ps_policy_init(struct ps_policy *pl, struct ps_datapath *dp, const struct ps_config *cfg,
		   struct ps_ctable *t)
{
	struct ps_detect_hooks h = {
		.alert = detect_alert,
		.enforce = detect_enforce,
		.ctx = pl,
	};

	pl->dp = dp;
	pl->cfg = cfg;
	pl->table = t;
	pl->det = ps_detect_new(cfg, t, &h);
	return pl->det ? 0 : -ENOMEM;
}

void ps_policy_free(struct ps_policy *pl)
{
	ps_detect_free(pl->det);
	pl->det = NULL;
}

void ps_policy_reconfigure(struct ps_policy *pl)
{
	ps_detect_reconfigure(pl->det);
}

void ps_policy_tick(struct ps_policy *pl, uint64_t now_ms, uint64_t boot_now)
{
	window_limits(pl, now_ms, boot_now);
	ps_detect_run(pl->det, now_ms, boot_now);
	if (ps_enf_sweep(pl->dp, boot_now) < 0)
		pr_debug("enforcement sweep failed\n");
	pl->ticks++;
}
