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

/*
 * Ask for the cache lines of a slot that a request's counts write
 * (requests to last_seen_ns, gen and gcra_tat: at most 112 bytes, every
 * line of them holds one of the words loaded) all at once. Loads of
 * values never used: the CPU does not wait for them, so a slot not
 * touched for a while costs one miss's latency instead of one per line,
 * each waited for by the atomic add that writes it (a locked instruction
 * waits for its line).
 */
static __always_inline void ps_slot_warm(const struct ps_client_ctr *ctr)
{
	asm volatile("" :: "r"(READ_ONCE(ctr->c.requests)), "r"(READ_ONCE(ctr->c.rx_payload)),
		     "r"(READ_ONCE(ctr->c.last_seen_ns)));
}

/* A slot for a new client: a reclaimed one, else the next never used. */
static __noinline struct ps_client_ctr *ps_client_new(const struct ps_client_key *k, __u64 now,
						     __u32 *slot_out)
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
		*slot_out = s->slot;
		return ps_slot_ctr(s->slot);
	}
	*slot_out = slot;
	ctr->c.first_seen_ns = now;
	ctr->gen = v.gen;
	ctr->key.addr = k->addr;
	/* The family last: it tells readers the slot is in use. */
	asm volatile("" ::: "memory");
	ctr->key.family = k->family;
	return ctr;
full:
	ps_stat_inc(PS_STAT_CLIENT_FULL);
	return NULL;
}

/* A client's slot, found through ps_clients or made. */
static __always_inline struct ps_client_ctr *ps_client_by_key(const struct ps_client_key *k,
							      __u64 now, __u32 *slot)
{
	struct ps_client_slot *s = bpf_map_lookup_elem(&ps_clients, k);

	if (unlikely(!s))
		return ps_client_new(k, now, slot);
	*slot = s->slot;
	return ps_slot_ctr(s->slot);
}

/* The client of a packet: its peer. */
static __always_inline struct ps_client_ctr *ps_client(const struct ps_pkt *p, int rx, __u64 now,
						       __u32 *slot)
{
	struct ps_client_key k = {};

	k.family = p->family;
	k.addr = rx ? p->saddr : p->daddr;
	return ps_client_by_key(&k, now, slot);
}

/*
 * The client of a flow's packet: the slot the flow remembers while it is
 * still that client's (same gen, not retired), else the slot of the
 * client a PROXY header declared, or of the peer, and remember it.
 */
static __always_inline struct ps_counters *ps_flow_client(struct ps_flow *f,
							  const struct ps_pkt *p, int rx,
							  __u64 now)
{
	struct ps_client_ctr *ctr;
	__u32 slot = 0;

	if (f && f->client_gen) {
		ctr = ps_slot_ctr(f->client_slot);
		if (likely(ctr && ctr->gen == f->client_gen && !ctr->retired))
			return &ctr->c;
	}
	if (f && f->who.family) {
		struct ps_client_key k = { .addr = f->who.addr, .family = f->who.family };

		ctr = ps_client_by_key(&k, now, &slot);
	} else {
		ctr = ps_client(p, rx, now, &slot);
	}
	if (!ctr)
		return NULL;
	if (f) {
		/* An open connection counted in a slot the client no longer
		 * has: that count went with the slot. */
		if (f->client_gen)
			f->dir[PS_DIR_RX].open = 0;
		f->client_slot = slot;
		f->client_gen = ctr->gen;
	}
	return &ctr->c;
}

#endif
