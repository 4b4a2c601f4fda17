/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the daemon decides from its client table once a tick, on whatever
 * clock it runs (penstockd: the wall clock; penstock replay: the
 * capture's): the limits judged from the windows (requests_per_day,
 * egress_bytes_per_day, egress_bytes_per_minute), the detectors and their
 * escalation, and the expiry of enforcement entries.
 */
#ifndef PS_POLICY_H
#define PS_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "alerts/alert.h"
#include "common/config.h"
#include "common/datapath.h"
#include "count/clients.h"
#include "policy/detect.h"

struct ps_policy {
	struct ps_datapath *dp;
	const struct ps_config *cfg;
	struct ps_ctable *table;
	struct ps_detect *det;
	bool shape_dirty;	/* shape entries changed: the HTB classes need a sync */
	uint64_t ticks;
	uint64_t day_ms;	/* when the day limits were last judged */
	/* An alert from the detectors (its evidence is theirs). */
	void (*on_alert)(void *ctx, const struct ps_alert *al);
	/* A subject got an entry, or its entry changed action (not a renewal). */
	void (*on_enforce)(void *ctx, const struct ps_prefix *p, const struct ps_enforcement *e);
	void *ctx;
};

/* Set up over dp, cfg and t (which must outlive it): 0 or -ENOMEM. */
int ps_policy_init(struct ps_policy *p, struct ps_datapath *dp, const struct ps_config *cfg,
		   struct ps_ctable *t);
void ps_policy_free(struct ps_policy *p);
/* cfg changed in place. */
void ps_policy_reconfigure(struct ps_policy *p);

/*
 * After a tick folded the counters: judge the window limits (the day
 * limits at most every 10 s), run the detectors when their interval is up,
 * remove expired entries. now_ms: Unix ms on the policy's clock;
 * boot_now: the programs' clock at that moment.
 */
void ps_policy_tick(struct ps_policy *p, uint64_t now_ms, uint64_t boot_now);

/* limits.c: judge the window limits (the day limits at most every 10 s). */
void ps_policy_window_limits(struct ps_policy *p, uint64_t now_ms, uint64_t boot_now);
/* How strong an action is: a block over a request limit or a shaping, over none. */
int ps_policy_strength(int action);

#endif
