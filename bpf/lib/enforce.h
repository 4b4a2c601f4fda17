/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Enforcement at packet time: blocks (every packet from or to a client or
 * prefix dropped) and request limits (GCRA per client: the segment that
 * starts an inference request over the limit is dropped, and the client's
 * TCP sends it again later). The daemon writes the policy into ps_classes,
 * ps_class_of and ps_enforce; a dry run decides and counts, and drops
 * nothing. In replay every decision is a dry run's: a capture cannot send
 * a dropped segment again.
 */
#ifndef PS_BPF_ENFORCE_H
#define PS_BPF_ENFORCE_H

#include "common.h"
#include "maps.h"
#include "parse.h"
#include "counters.h"

static __always_inline struct ps_enforce_state *ps_enf_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ps_enforce_state, &zero);
}

static __always_inline void ps_lpm_key_of(struct ps_lpm_key *k, __u8 family,
					  const struct ps_addr *a)
{
	k->prefixlen = 8 + (family == PS_AF_INET ? 32 : 128);
	k->family = family;
	__builtin_memcpy(k->addr, a, 16);
}

/* The entry covering an address (the longest prefix) if in force at now. */
static __always_inline struct ps_enforcement *ps_enforcement_of(__u8 family,
								 const struct ps_addr *a,
								 __u64 now)
{
	struct ps_enforce_state *st = ps_enf_state();
	struct ps_lpm_key k = {};
	struct ps_enforcement *e;

	if (!st || !st->entries)
		return NULL;
	ps_lpm_key_of(&k, family, a);
	e = bpf_map_lookup_elem(&ps_enforce, &k);
	if (!e || (e->until_ns && now >= e->until_ns))
		return NULL;
	return e;
}

/* The limits of an address's class (the default class if in none). */
static __always_inline struct ps_class *ps_class_for(__u8 family, const struct ps_addr *a)
{
	struct ps_enforce_state *st = ps_enf_state();
	struct ps_lpm_key k = {};
	struct ps_class_ref *r;
	__u32 id = PS_CLASS_DEFAULT;

	if (st && st->classes) {
		ps_lpm_key_of(&k, family, a);
		r = bpf_map_lookup_elem(&ps_class_of, &k);
		if (r)
			id = r->class_id;
	}
	return bpf_map_lookup_elem(&ps_classes, &id);
}

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
