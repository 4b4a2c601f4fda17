// SPDX-License-Identifier: GPL-2.0-only
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
#include <stdio.h>
#include <string.h>

#include "enforce/enforce.h"
#include "policy/policy.h"

/* The smallest of each limit over the classes (PS_LIMIT_UNSET: not judged now). */
struct mins {
	uint64_t req, bytes, bmin;
};

/* Which limits a client is over, and the windows that say so. */
struct over {
	bool req;		/* requests_per_day */
	bool bytes;		/* egress_bytes_per_day */
	bool bmin;		/* egress_bytes_per_minute */
	struct ps_cview vd, vm;	/* its 24h and 1m windows */
};

int ps_policy_strength(int action)
{
	return action == PS_ACT_BLOCK ? 2 : action != PS_ACT_NONE;
}

static bool limit_origin(int origin)
{
	return origin == PS_ORIGIN_DAY_LIMIT || origin == PS_ORIGIN_MINUTE_LIMIT;
}

/* The limits r is over, if any: false when none. */
static bool over_limits(struct ps_policy *pl, const struct ps_crec *r, const struct ps_limits *lim,
			const struct mins *m, uint64_t now_ms, struct over *o)
{
	const struct ps_limits *l;

	memset(o, 0, sizeof(*o));
	if (m->req != PS_LIMIT_UNSET || m->bytes != PS_LIMIT_UNSET)
		ps_crec_view(pl->table, r, PS_WIN_24H, now_ms, &o->vd);
	if (m->bmin != PS_LIMIT_UNSET)
		ps_crec_view(pl->table, r, PS_WIN_1M, now_ms, &o->vm);
	if (o->vd.v[PS_F_INFERENCE] <= (double)m->req &&
	    o->vd.v[PS_F_TX_BYTES] <= (double)m->bytes && o->vm.v[PS_F_TX_BYTES] <= (double)m->bmin)
		return false;
	l = &lim[ps_config_class_of(pl->cfg, &r->key)];
	o->req = m->req != PS_LIMIT_UNSET && l->requests_per_day != PS_LIMIT_UNSET &&
		 o->vd.v[PS_F_INFERENCE] > (double)l->requests_per_day;
	o->bytes = m->bytes != PS_LIMIT_UNSET && l->egress_bytes_per_day != PS_LIMIT_UNSET &&
		   o->vd.v[PS_F_TX_BYTES] > (double)l->egress_bytes_per_day;
	o->bmin = l->egress_bytes_per_minute != PS_LIMIT_UNSET &&
		  o->vm.v[PS_F_TX_BYTES] > (double)l->egress_bytes_per_minute;
	return o->req || o->bytes || o->bmin;
}

/* The action of on_exceed into e (none: e->action stays 0). */
static void exceed_action(struct ps_policy *pl, const struct ps_limits *l, const struct over *o,
			  const struct ps_enforcement *old, struct ps_enforcement *e)
{
	uint64_t rpm = 0;

	if (l->on_exceed == PS_ON_EXCEED_BLOCK) {
		e->action = PS_ACT_BLOCK;
	} else if (l->on_exceed == PS_ON_EXCEED_DELAY) {
		if (o->req) {
			rpm = l->requests_per_day / 1440;
		} else {
			/* Bytes: as many requests a minute as fit, at the
			 * client's recent bytes per request. */
			const struct ps_cview *v = o->bytes ? &o->vd : &o->vm;
			double per_req = v->v[PS_F_INFERENCE] >= 1 ?
						 v->v[PS_F_TX_BYTES] / v->v[PS_F_INFERENCE] :
						 v->v[PS_F_TX_BYTES];
			double budget = o->bytes ? l->egress_bytes_per_day / 1440.0 :
						   (double)l->egress_bytes_per_minute;

			rpm = per_req > 0 ? (uint64_t)(budget / per_req) : 0;
		}
		e->action = PS_ACT_THROTTLE;
		ps_gcra_params(rpm ? rpm : 1, 1, &e->emission_ns, &e->tolerance_ns);
	} else if (l->on_exceed == PS_ON_EXCEED_SHAPE && l->shape_rate != PS_LIMIT_UNSET) {
		e->action = PS_ACT_SHAPE;
		e->rate_bps = l->shape_rate;
		/* Renewed while over: keep its class, the rate may change. */
		if (limit_origin(old->origin) && old->action == PS_ACT_SHAPE)
			e->shape_class = old->shape_class;
		pl->shape_dirty = true;
	}
}

/* One client against the window limits of its class. */
static void judge_client(struct ps_policy *pl, const struct ps_crec *r,
			 const struct ps_limits *lim, const struct mins *m, uint64_t now_ms,
			 uint64_t bnow)
{
	struct ps_enforcement e = {}, old = {};
	const struct ps_limits *l;
	struct ps_prefix p;
	struct over o;
	int minute;

	if (!over_limits(pl, r, lim, m, now_ms, &o))
		return;
	l = &lim[ps_config_class_of(pl->cfg, &r->key)];
	minute = !o.req && !o.bytes;
	ps_prefix_of_client(&r->key, &p);
	if (ps_enf_get(pl->dp, &p, &old))
		memset(&old, 0, sizeof(old));
	if (old.origin == PS_ORIGIN_MANUAL)
		return;
	/* A day limit's entry is not cut short by the minute check. */
	if (minute && old.origin == PS_ORIGIN_DAY_LIMIT && old.until_ns > bnow)
		return;
	exceed_action(pl, l, &o, &old, &e);
	if (e.action == PS_ACT_NONE)
		return;
	/* A detector's entry stays unless this one is stronger. */
	if (old.origin == PS_ORIGIN_DETECTOR &&
	    ps_policy_strength(e.action) <= ps_policy_strength(old.action))
		return;
	e.origin = minute ? PS_ORIGIN_MINUTE_LIMIT : PS_ORIGIN_DAY_LIMIT;
	e.dry_run = l->dry_run > 0;
	e.since_ns = limit_origin(old.origin) && old.action == e.action ? old.since_ns :
									     now_ms * 1000000ULL;
	e.until_ns = bnow + (minute ? 60ULL : 600ULL) * 1000000000ULL;
	snprintf(e.reason, sizeof(e.reason), "%s",
		 o.req ? "inference requests over requests_per_day" :
		 o.bytes ? "egress bytes over egress_bytes_per_day" :
			   "egress bytes over egress_bytes_per_minute");
	if (ps_enf_set(pl->dp, &p, &e) == 0 &&
	    !(limit_origin(old.origin) && old.action == e.action) && pl->on_enforce)
		pl->on_enforce(pl->ctx, &p, &e);
}

void ps_policy_window_limits(struct ps_policy *pl, uint64_t now_ms, uint64_t bnow)
{
	struct ps_limits lim[PS_MAX_CLASSES];
	struct mins m = { PS_LIMIT_UNSET, PS_LIMIT_UNSET, PS_LIMIT_UNSET };
	bool day = !pl->day_ms || now_ms >= pl->day_ms + 10000 || now_ms < pl->day_ms;
	uint32_t i;
	int c;

	for (c = 0; c <= pl->cfg->nclasses; c++) {
		ps_limits_resolve(pl->cfg, c, &lim[c]);
		if (lim[c].requests_per_day < m.req)
			m.req = lim[c].requests_per_day;
		if (lim[c].egress_bytes_per_day < m.bytes)
			m.bytes = lim[c].egress_bytes_per_day;
		if (lim[c].egress_bytes_per_minute < m.bmin)
			m.bmin = lim[c].egress_bytes_per_minute;
	}
	if (day)
		pl->day_ms = now_ms;
	else
		m.req = m.bytes = PS_LIMIT_UNSET;
	if (m.req == PS_LIMIT_UNSET && m.bytes == PS_LIMIT_UNSET && m.bmin == PS_LIMIT_UNSET)
		return;
	for (i = 0; i < pl->table->n; i++) {
		if (ps_ctable_yield_at(pl->table, i)) {
			/* Reloaded: lim is the old configuration's. Again at the next tick. */
			pl->day_ms = 0;
			return;
		}
		judge_client(pl, &pl->table->rec[i], lim, &m, now_ms, bnow);
	}
}
