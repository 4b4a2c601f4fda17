/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-client counters: a slot of ps_client_ctrs per client, found through
 * ps_clients. Counters are shared by every CPU, so the programs add to
 * them with atomic instructions (ps_add).
 */
#ifndef PS_BPF_COUNTERS_H
#define PS_BPF_COUNTERS_H

#include "common.h"
#include "maps.h"
#include "parse.h"

#define ps_add(field, v)	__sync_fetch_and_add(&(field), (v))

static __always_inline struct ps_client_ctr *ps_slot_ctr(__u32 slot)
{
	return bpf_map_lookup_elem(&ps_client_ctrs, &slot);
}

/* A slot for a new client: a reclaimed one, else the next never used. */
static __noinline struct ps_counters *ps_client_new(const struct ps_client_key *k, __u64 now)
{
	struct ps_client_slot v = {};
	struct ps_client_ctr *ctr;
	struct ps_client_slot *s;
	struct ps_slot_state *st;
	__u32 slot, zero = 0;

	if (bpf_map_pop_elem(&ps_slot_free, &slot)) {
		st = bpf_map_lookup_elem(&ps_slot_state, &zero);
		if (!st)
			return NULL;
		/* Full: do not move next past the end for every new client. */
		if (!ps_slot_ctr(st->next))
			goto full;
		slot = __sync_fetch_and_add(&st->next, 1);
	}
	ctr = ps_slot_ctr(slot);
	if (!ctr)
		goto full;
	v.slot = slot;
	v.gen = ctr->gen + 1;
	if (bpf_map_update_elem(&ps_clients, k, &v, BPF_NOEXIST)) {
		/* Another CPU gave this client a slot first (or the map is
		 * full): ours was never seen, give it back. */
		bpf_map_push_elem(&ps_slot_free, &slot, 0);
		s = bpf_map_lookup_elem(&ps_clients, k);
		if (!s)
			goto full;
		ctr = ps_slot_ctr(s->slot);
		return ctr ? &ctr->c : NULL;
	}
	ctr->c.first_seen_ns = now;
	ctr->gen = v.gen;
	ctr->key.addr = k->addr;
	/* The family last: it tells readers the slot is in use. */
	asm volatile("" ::: "memory");
	ctr->key.family = k->family;
	return &ctr->c;
full:
	ps_stat_inc(PS_STAT_CLIENT_FULL);
	return NULL;
}

static __always_inline struct ps_counters *ps_client(const struct ps_pkt *p, int rx, __u64 now)
{
	struct ps_client_key k = {};
	struct ps_client_slot *s;
	struct ps_client_ctr *ctr;

	k.family = p->family;
	k.addr = rx ? p->saddr : p->daddr;
	s = bpf_map_lookup_elem(&ps_clients, &k);
	if (unlikely(!s))
		return ps_client_new(&k, now);
	ctr = ps_slot_ctr(s->slot);
	return ctr ? &ctr->c : NULL;
}

#endif
