/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Blocks: every packet from or to a blocked client or prefix is dropped,
 * by the tc programs here and, earlier, by the XDP program (xdp.bpf.c)
 * where the driver runs one. Counted per client where the client has a
 * slot already (no slot is made for a blocked peer).
 */
#ifndef PS_BPF_BLOCK_H
#define PS_BPF_BLOCK_H

#include "common.h"
#include "maps.h"
#include "parse.h"
#include "counters.h"
#include "enforce.h"

/*
 * A packet from (rx) or to a blocked peer: 1 to drop it. Counted per
 * client when the client has a slot already (no slot is made for it). A
 * global function: verified once, not along every path of its callers.
 */
__weak __attribute__((noinline)) int ps_block_check(struct ps_addr *peer, __u32 family,
						   __u32 segs, __u64 now)
{
	struct ps_enforcement *e;
	struct ps_client_key k = {};
	struct ps_client_slot *s;
	struct ps_client_ctr *ctr = NULL;

	if (!peer)
		return 0;
	e = ps_enforcement_of(family, peer, now);
	if (!e || e->action != PS_ACT_BLOCK)
		return 0;
	k.family = family;
	k.addr = *peer;
	s = bpf_map_lookup_elem(&ps_clients, &k);
	if (s)
		ctr = ps_slot_ctr(s->slot);
	if (e->dry_run || ps_replay) {
		ps_stat_inc(PS_STAT_WOULD_BLOCK);
		if (ctr)
			ps_add(ctr->would_block, segs ? segs : 1);
		return 0;
	}
	ps_stat_inc(PS_STAT_BLOCKED);
	if (ctr)
		ps_add(ctr->blocked_packets, segs ? segs : 1);
	return 1;
}

static __always_inline int ps_blocked(const struct ps_pkt *p, int rx, __u64 now)
{
	struct ps_enforce_state *st = ps_enf_state();
	struct ps_addr peer;

	if (!st || !st->entries)
		return 0;
	peer = rx ? p->saddr : p->daddr;
	return ps_block_check(&peer, p->family, p->segs, now);
}

#endif
