// SPDX-License-Identifier: GPL-2.0-only
/*
 * fleet_limits, judged on the fleet's windows (fleet.c's sums) for the
 * clients this host saw in the last minute, and applied here the way a
 * host's own window limits are (policy/limits.c), as enforcement
 * entries the programs apply at packet time:
 *
 *   requests_per_minute  once the fleet's 1m window is past half the
 *          limit, the client's request limit on this host is its share
 *          of the fleet's: limit x (this host's 1m / the fleet's 1m),
 *          burst alike, never looser than its class's own limit. The
 *          shares of the hosts add up to the limit, so the fleet as a
 *          whole is held to it, however the balancer spreads the client.
 *   tokens_per_minute  the same in requests: once the fleet's 1m window
 *          of tokens (prompt + completion, as the answers reported them)
 *          is past half the limit, the client's request limit on this
 *          host is its share of the requests that fit the limit at the
 *          fleet's tokens per request of the last minute: limit / (fleet
 *          1m tokens / fleet 1m requests) x (this host's 1m tokens / the
 *          fleet's), a second's worth of them at once.
 *   requests_per_day, egress_bytes_per_minute, egress_bytes_per_day,
 *   tokens_per_day
 *          over the fleet's window: the class's on_exceed, a delay being
 *          this host's share of the rate that fits the limit (as
 *          policy/limits.c computes it for one host).
 *
 * The entries (origin minute_limit or day_limit, reason "fleet ...")
 * last stale_after seconds and are renewed each tick while the fleet
 * answers: when it stops, they lapse and the host's own limits remain.
 * A manual entry stays, so does a detector's or a local limit's that is
 * stronger or tighter.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "enforce/enforce.h"
#include "fleet/fleet.h"
#include "policy/policy.h"

#define FLEET_REASON	"fleet "

struct want {
	struct ps_enforcement e;	/* action PS_ACT_NONE: nothing */
	uint64_t rpm;			/* a throttle's rate */
};

/* Keep the stronger of w and a candidate: a block, else the tighter throttle, else a shape. */
static void consider(struct want *w, int action, uint64_t rpm, uint64_t burst, uint64_t rate_bps,
		     int origin, const char *reason)
{
	int s = ps_policy_strength(action), ws = ps_policy_strength(w->e.action);

	if (s < ws)
		return;
	if (s == ws && action == PS_ACT_THROTTLE && w->e.action == PS_ACT_THROTTLE &&
	    rpm >= w->rpm)
		return;
	if (s == ws && action != PS_ACT_THROTTLE)
		return;
	memset(&w->e, 0, sizeof(w->e));
	w->e.action = action;
	w->e.origin = origin;
	w->rpm = rpm;
	if (action == PS_ACT_THROTTLE)
		ps_gcra_params(rpm ? rpm : 1, burst ? burst : 1, &w->e.emission_ns,
			       &w->e.tolerance_ns);
	w->e.rate_bps = rate_bps;
	snprintf(w->e.reason, sizeof(w->e.reason), FLEET_REASON "%s", reason);
}

/* The class's on_exceed for a limit over the fleet, at a request rate rpm if it delays. */
static void exceed(struct want *w, const struct ps_limits *l, double rpm, double share,
		   int origin, const char *reason)
{
	uint64_t r = rpm * share >= 1 ? (uint64_t)(rpm * share) : 1;

	if (l->on_exceed == PS_ON_EXCEED_BLOCK)
		consider(w, PS_ACT_BLOCK, 0, 0, 0, origin, reason);
	else if (l->on_exceed == PS_ON_EXCEED_SHAPE && l->shape_rate != PS_LIMIT_UNSET)
		consider(w, PS_ACT_SHAPE, 0, 0,
			 share * l->shape_rate >= 1 ? (uint64_t)(share * l->shape_rate) : 1,
			 origin, reason);
	else
		consider(w, PS_ACT_THROTTLE, r, 1, 0, origin, reason);
}

/* Requests a minute that fit a budget a minute (bytes, tokens), at the fleet's figure per request. */
static double fit_rpm(double bytes, double reqs, double budget)
{
	double per_req = reqs >= 1 ? bytes / reqs : bytes;

	return per_req > 0 ? budget / per_req : 1;
}

static bool is_fleet_entry(const struct ps_enforcement *e)
{
	return !strncmp(e->reason, FLEET_REASON, strlen(FLEET_REASON));
}

/* Whether old, someone else's, stays over w. */
static bool old_stays(const struct ps_enforcement *old, const struct ps_enforcement *w,
		      uint64_t bnow)
{
	int so = ps_policy_strength(old->action), sw = ps_policy_strength(w->action);

	if (!old->action || (old->until_ns && old->until_ns <= bnow))
		return false;
	if (old->origin == PS_ORIGIN_MANUAL)
		return true;
	if (is_fleet_entry(old))
		return false;
	if (so != sw)
		return so > sw;
	if (old->action == PS_ACT_THROTTLE && w->action == PS_ACT_THROTTLE)
		return old->emission_ns >= w->emission_ns;
	return true;
}

static void judge(struct ps_fleet *f, struct ps_datapath *dp, const struct ps_crec *r,
		  const struct ps_fleet_limit_cfg *fl, const struct ps_limits *l,
		  uint64_t now_ms, uint64_t bnow)
{
	double m[PS_FV_N], d[PS_FV_N], share, ltm, ltd;
	struct ps_enforcement old = {};
	struct ps_cview lm, ld;
	struct want w = {};
	struct ps_prefix p;
	char why[64];
	bool had;

	/* The fleet's sums alone first: most clients are far from every limit. */
	if (!ps_fleet_raw_windows(f, r, now_ms, m, d) ||
	    ((fl->requests_per_minute == PS_LIMIT_UNSET ||
	      m[PS_FV_REQ] * 2 < (double)fl->requests_per_minute) &&
	     (fl->requests_per_day == PS_LIMIT_UNSET || d[PS_FV_REQ] <= (double)fl->requests_per_day) &&
	     (fl->egress_bytes_per_day == PS_LIMIT_UNSET ||
	      d[PS_FV_EGRESS] <= (double)fl->egress_bytes_per_day) &&
	     (fl->egress_bytes_per_minute == PS_LIMIT_UNSET ||
	      m[PS_FV_EGRESS] <= (double)fl->egress_bytes_per_minute) &&
	     (fl->tokens_per_minute == PS_LIMIT_UNSET ||
	      m[PS_FV_TOKENS] * 2 < (double)fl->tokens_per_minute) &&
	     (fl->tokens_per_day == PS_LIMIT_UNSET || d[PS_FV_TOKENS] <= (double)fl->tokens_per_day)))
		return;
	if (!ps_fleet_windows(f, r, now_ms, m, d))
		return;
	ps_crec_view(f->table, r, PS_WIN_1M, now_ms, &lm);
	ps_crec_view(f->table, r, PS_WIN_24H, now_ms, &ld);
	if (fl->requests_per_minute != PS_LIMIT_UNSET && lm.v[PS_F_INFERENCE] > 0 &&
	    m[PS_FV_REQ] * 2 >= (double)fl->requests_per_minute) {
		double rpm, burst;

		share = lm.v[PS_F_INFERENCE] / m[PS_FV_REQ];
		rpm = ceil((double)fl->requests_per_minute * share);
		burst = ceil((double)fl->burst * share);
		if (l->requests_per_minute != PS_LIMIT_UNSET && l->requests_per_minute < rpm)
			rpm = l->requests_per_minute;
		snprintf(why, sizeof(why), "requests_per_minute %llu, share %.2f",
			 (unsigned long long)fl->requests_per_minute, share);
		consider(&w, PS_ACT_THROTTLE, rpm, burst, 0, PS_ORIGIN_MINUTE_LIMIT, why);
	}
	ltm = lm.v[PS_F_TX_TOKENS] + lm.v[PS_F_RX_TOKENS];
	ltd = ld.v[PS_F_TX_TOKENS] + ld.v[PS_F_RX_TOKENS];
	if (fl->tokens_per_minute != PS_LIMIT_UNSET && ltm > 0 &&
	    m[PS_FV_TOKENS] * 2 >= (double)fl->tokens_per_minute) {
		double rpm = fit_rpm(m[PS_FV_TOKENS], m[PS_FV_REQ], (double)fl->tokens_per_minute);

		share = ltm / m[PS_FV_TOKENS];
		rpm = ceil(rpm * share);
		if (l->requests_per_minute != PS_LIMIT_UNSET && l->requests_per_minute < rpm)
			rpm = l->requests_per_minute;
		snprintf(why, sizeof(why), "tokens_per_minute %llu, share %.2f",
			 (unsigned long long)fl->tokens_per_minute, share);
		consider(&w, PS_ACT_THROTTLE, rpm, ceil(rpm / 60.0), 0, PS_ORIGIN_MINUTE_LIMIT, why);
	}
	if (fl->tokens_per_day != PS_LIMIT_UNSET && d[PS_FV_TOKENS] > (double)fl->tokens_per_day) {
		share = d[PS_FV_TOKENS] > 0 ? ltd / d[PS_FV_TOKENS] : 1;
		exceed(&w, l, fit_rpm(d[PS_FV_TOKENS], d[PS_FV_REQ], fl->tokens_per_day / 1440.0),
		       share, PS_ORIGIN_DAY_LIMIT, "tokens over tokens_per_day");
	}
	if (fl->requests_per_day != PS_LIMIT_UNSET && d[PS_FV_REQ] > (double)fl->requests_per_day) {
		share = d[PS_FV_REQ] > 0 ? ld.v[PS_F_INFERENCE] / d[PS_FV_REQ] : 1;
		exceed(&w, l, fl->requests_per_day / 1440.0, share, PS_ORIGIN_DAY_LIMIT,
		       "requests over requests_per_day");
	}
	if (fl->egress_bytes_per_day != PS_LIMIT_UNSET &&
	    d[PS_FV_EGRESS] > (double)fl->egress_bytes_per_day) {
		share = d[PS_FV_EGRESS] > 0 ? ld.v[PS_F_TX_BYTES] / d[PS_FV_EGRESS] : 1;
		exceed(&w, l, fit_rpm(d[PS_FV_EGRESS], d[PS_FV_REQ], fl->egress_bytes_per_day / 1440.0),
		       share, PS_ORIGIN_DAY_LIMIT, "egress over egress_bytes_per_day");
	}
	if (fl->egress_bytes_per_minute != PS_LIMIT_UNSET &&
	    m[PS_FV_EGRESS] > (double)fl->egress_bytes_per_minute) {
		share = m[PS_FV_EGRESS] > 0 ? lm.v[PS_F_TX_BYTES] / m[PS_FV_EGRESS] : 1;
		exceed(&w, l, fit_rpm(m[PS_FV_EGRESS], m[PS_FV_REQ], fl->egress_bytes_per_minute),
		       share, PS_ORIGIN_MINUTE_LIMIT, "egress over egress_bytes_per_minute");
	}
	if (w.e.action == PS_ACT_NONE)
		return;
	ps_prefix_of_client(&r->key, &p);
	had = !ps_enf_get(dp, &p, &old);
	if (had && old_stays(&old, &w.e, bnow))
		return;
	w.e.dry_run = l->dry_run > 0;
	w.e.since_ns = had && is_fleet_entry(&old) && old.action == w.e.action ? old.since_ns :
										   now_ms * 1000000ULL;
	w.e.until_ns = bnow + (f->cfg->fleet.stale_after + 1) * 1000000000ULL;
	if (w.e.action == PS_ACT_SHAPE) {
		if (had && old.action == PS_ACT_SHAPE)
			w.e.shape_class = old.shape_class;
		f->shape_dirty = true;
	}
	if (ps_enf_set(dp, &p, &w.e))
		return;
	f->entries++;
	if (!had || !is_fleet_entry(&old) || old.action != w.e.action) {
		char s[64];

		pr_info("penstockd: fleet: %s %s: %s (fleet 1m %.0f requests %.0f tokens, "
			"24h %.0f requests %.0f tokens)\n",
			ps_action_names[w.e.action], ps_client_str(&r->key, s, sizeof(s)),
			w.e.reason, m[PS_FV_REQ], m[PS_FV_TOKENS], d[PS_FV_REQ], d[PS_FV_TOKENS]);
	}
}

void ps_fleet_limits(struct ps_fleet *f, struct ps_datapath *dp, uint64_t now_ms, uint64_t bnow)
{
	const struct ps_fleet_limit_cfg *by_class[PS_MAX_CLASSES] = {};
	struct ps_limits lim[PS_MAX_CLASSES];
	uint32_t now_s = now_ms / 1000, i;
	struct timespec c0, c1;
	int c;

	f->entries = 0;
	if (!f->cfg->nfleet_limits || !ps_fleet_usable(f, now_ms))
		return;
	for (c = 0; c < f->cfg->nfleet_limits; c++) {
		const struct ps_fleet_limit_cfg *fl = &f->cfg->fleet_limits[c];

		if (fl->class_id >= 0 && fl->class_id < PS_MAX_CLASSES)
			by_class[fl->class_id] = fl;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	for (c = 0; c <= f->cfg->nclasses; c++)
		ps_limits_resolve(f->cfg, c, &lim[c]);
	for (i = 0; i < f->table->n && i < f->nsub; i++) {
		const struct ps_crec *r = &f->table->rec[i];

		if (r->last_wall + 60 < now_s)
			continue;
		c = ps_config_class_of(f->cfg, &r->key);
		if (c < 0 || c > f->cfg->nclasses || !by_class[c] || lim[c].unlimited == 1)
			continue;
		judge(f, dp, r, by_class[c], &lim[c], now_ms, bnow);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	f->limits_us = (c1.tv_sec - c0.tv_sec) * 1000000ULL + (c1.tv_nsec - c0.tv_nsec) / 1000;
}
