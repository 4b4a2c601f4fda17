// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP: blocks at the earliest point, on interfaces whose driver runs XDP.
 * A packet from a blocked client or prefix is dropped before the stack
 * allocates anything for it; everything else goes on to the tc programs,
 * which count it (and which block on their own where XDP is not attached,
 * and on egress). A dry run is left to the tc programs to count.
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/counters.h"
#include "lib/enforce.h"

SEC("xdp.frags")
int ps_xdp(struct xdp_md *ctx)
{
	struct ps_cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	struct ps_enforce_state *st = ps_enf_state();
	struct ps_client_key k = {};
	struct ps_enforcement *e;
	struct ps_client_slot *s;
	struct ps_client_ctr *ctr;
	int proto;

	if (!st || !st->entries)
		return XDP_PASS;
	proto = parse_ethhdr(&c);
	if (proto == ETH_P_IP) {
		struct iphdr *ip = c.pos;

		if ((void *)(ip + 1) > c.end)
			return XDP_PASS;
		k.family = PS_AF_INET;
		k.addr.a[0] = ip->saddr;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = c.pos;

		if ((void *)(ip6 + 1) > c.end)
			return XDP_PASS;
		k.family = PS_AF_INET6;
		__builtin_memcpy(&k.addr, &ip6->saddr, 16);
	} else {
		return XDP_PASS;
	}
	e = ps_enforcement_of(k.family, &k.addr, bpf_ktime_get_boot_ns());
	if (!e || e->action != PS_ACT_BLOCK || e->dry_run)
		return XDP_PASS;
	ps_stat_inc(PS_STAT_BLOCKED);
	s = bpf_map_lookup_elem(&ps_clients, &k);
	if (s) {
		ctr = ps_slot_ctr(s->slot);
		if (ctr)
			ps_add(ctr->blocked_packets, 1);
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
