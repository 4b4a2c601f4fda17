/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The policy the daemon writes, as the programs look it up: the limits of
 * a client's class (ps_classes, ps_class_of) and the entry in force on a
 * client or a prefix (ps_enforce). What is done with them lives beside:
 * the request limit in ratelimit.h, blocks in block.h, connection limits
 * in account.h, shaping in shape.h. A dry run decides and counts, and
 * touches no packet; in replay every decision is a dry run's (a capture
 * cannot send a dropped segment again).
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

#endif
