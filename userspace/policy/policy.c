// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy's tick: the window limits (limits.c), the detectors and
 * their escalation (detect.c), then the expiry of enforcement entries;
 * and the rules by which the detectors' entries meet the others.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "count/keyaddrs.h"
#include "penstock.skel.h"
#include "enforce/enforce.h"
#include "policy/policy.h"

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
	if (had && old.origin != PS_ORIGIN_DETECTOR &&
	    ps_policy_strength(old.action) > ps_policy_strength(ne.action))
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

static int detect_key_pairs(void *ctx, struct ps_kpairs *out)
{
	struct ps_policy *pl = ctx;

	return ps_kpairs_read(bpf_map__fd(pl->dp->skel->maps.ps_key_addrs), out);
}

int ps_policy_init(struct ps_policy *pl, struct ps_datapath *dp, const struct ps_config *cfg,
		   struct ps_ctable *t)
{
	struct ps_detect_hooks h = {
		.alert = detect_alert,
		.enforce = detect_enforce,
		.key_pairs = detect_key_pairs,
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
	ps_policy_window_limits(pl, now_ms, boot_now);
	ps_detect_run(pl->det, now_ms, boot_now);
	if (ps_enf_sweep(pl->dp, boot_now) < 0)
		pr_debug("enforcement sweep failed\n");
	pl->ticks++;
}
