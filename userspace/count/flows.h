/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Connections that ended without a FIN or RST the programs saw: their
 * flows (ps_flows, ps_flows_est) idle for long are removed by the daemon,
 * and a flow that counted in its client's open connections stops
 * counting. An established connection's flow (ps_flows_est, which gives
 * up nothing to make room) also leaves once it has been closed a while.
 */
#ifndef PS_FLOWS_H
#define PS_FLOWS_H

#include <stdint.h>

#include "common/datapath.h"

/* How long a flow may be idle before it is removed. */
#define PS_FLOW_IDLE_S	300
/* How long an established connection's flow stays once it is closed. */
#define PS_FLOW_CLOSED_S	10

/*
 * Remove the flows idle since before cutoff (the programs' clock, ns), and
 * the established ones closed and idle for PS_FLOW_CLOSED_S of those
 * PS_FLOW_IDLE_S. Returns how many; *left and *left_est (may be NULL): the
 * flows it saw and left in ps_flows and ps_flows_est (a count as of this
 * walk). yield (may be NULL) is called between batches, with ctx.
 */
uint32_t ps_flows_expire(struct ps_datapath *dp, uint64_t cutoff, uint32_t *left,
			 uint32_t *left_est, void (*yield)(void *ctx), void *ctx);

/*
 * How long a piece of an out-of-order segment (ps_ooo) is left alone
 * before it may be collected: a piece being kept or replayed right now is
 * younger.
 */
#define PS_OOO_GRACE_S	10

/*
 * Remove the out-of-order pieces no flow can replay any more: their flow
 * is gone, or holds no range they lie in (its stream moved past them, a
 * resync dropped its ranges, a segment covered them). Pieces kept in the
 * last PS_OOO_GRACE_S seconds (now_s: the programs' clock) stay. Returns
 * how many went.
 */
uint32_t ps_ooo_collect(struct ps_datapath *dp, uint64_t now_s);

#endif
