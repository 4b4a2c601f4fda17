/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-client counters (per-CPU, so no atomics on the hot path). */
#ifndef PS_BPF_COUNTERS_H
#define PS_BPF_COUNTERS_H

#include "common.h"
#include "maps.h"
#include "parse.h"

static __always_inline struct ps_counters *ps_client(const struct ps_pkt *p, int rx, __u64 now)
{
	struct ps_client_key k = {};
	struct ps_counters *c, zero = {};

	k.family = p->family;
	k.addr = rx ? p->saddr : p->daddr;
	c = bpf_map_lookup_elem(&ps_clients, &k);
	if (likely(c))
		return c;
	zero.first_seen_ns = now;
	/* Another CPU may have created it meanwhile: EEXIST is fine. */
	bpf_map_update_elem(&ps_clients, &k, &zero, BPF_NOEXIST);
	c = bpf_map_lookup_elem(&ps_clients, &k);
	if (!c)
		ps_stat_inc(PS_STAT_CLIENT_FULL);
	return c;
}

#endif
