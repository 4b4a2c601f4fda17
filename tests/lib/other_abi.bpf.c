// SPDX-License-Identifier: GPL-2.0-only
/*
 * A penstock datapath of another ABI, for tests/e2e/test_adopt: tc
 * programs named ps_ingress and ps_egress, as penstock's are, whose
 * ps_client_ctrs keeps each client's key and counters (the structs of
 * penstock_abi.h) at other places of a value of another size, with an ABI
 * version of its own and none of the flow maps. It counts what every
 * version counts, connections (client SYNs), packets and IP bytes each
 * way, and neither requests nor payload. Its ps_enforce has this ABI's
 * layout. A penstockd that meets it attached must not take over its maps,
 * must read its clients' counters and enforcement entries all the same,
 * and must replace it.
 *
 * Loaded with bpftool and attached with tc at penstock's handle and
 * priority; the test's network namespaces have offloads off, so a packet
 * here is a packet on the wire.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* This version's struct ps_client_ctr is its own (below). */
#define ps_client_ctr ps_client_ctr_of_this_abi
#include "penstock_abi.h"
#undef ps_client_ctr

#define OTHER_SLOTS	256
#define OTHER_PORT	8000

/* This version's slot: the key first, then the counters. */
struct ps_client_ctr {
	struct ps_client_key key;
	__u32 gen;
	struct ps_counters c;
};

const volatile __u32 ps_abi_version = PS_ABI_VERSION + 1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OTHER_SLOTS);
	__type(key, struct ps_client_key);
	__type(value, __u32);
} ps_clients SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OTHER_SLOTS);
	__type(key, __u32);
	__type(value, struct ps_client_ctr);
} ps_client_ctrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_slot_state);
} ps_slot_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct ps_lpm_key);
	__type(value, struct ps_enforcement);
} ps_enforce SEC(".maps");

/* The client's slot, taken on its first packet; NULL when full. */
static __always_inline struct ps_client_ctr *slot_of(const struct ps_client_key *k, __u64 now)
{
	struct ps_client_ctr *ctr;
	struct ps_slot_state *st;
	__u32 zero = 0, *slot, s;

	slot = bpf_map_lookup_elem(&ps_clients, k);
	if (slot)
		return bpf_map_lookup_elem(&ps_client_ctrs, slot);
	st = bpf_map_lookup_elem(&ps_slot_state, &zero);
	if (!st)
		return NULL;
	s = __sync_fetch_and_add(&st->next, 1);
	ctr = bpf_map_lookup_elem(&ps_client_ctrs, &s);
	if (!ctr)
		return NULL;
	ctr->c.first_seen_ns = now;
	ctr->key = *k;
	if (bpf_map_update_elem(&ps_clients, k, &s, BPF_NOEXIST))
		return NULL;	/* another CPU was first: a test sends no such race */
	return ctr;
}

static __always_inline int count(struct __sk_buff *skb, int rx)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct ps_client_key k = {};
	struct ps_client_ctr *ctr;
	struct tcphdr *th;
	__u64 now = bpf_ktime_get_boot_ns(), len;
	__u8 *addr;

	/* Read, so that the programs hold their .rodata as penstock's do. */
	if (!ps_abi_version)
		return TC_ACT_OK;
	if ((void *)(eth + 1) > end)
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP || ip->ihl != 5)
			return TC_ACT_OK;
		th = (void *)(ip + 1);
		len = bpf_ntohs(ip->tot_len);
		k.family = PS_AF_INET;
		k.addr.a[0] = rx ? ip->saddr : ip->daddr;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return TC_ACT_OK;
		th = (void *)(ip6 + 1);
		len = bpf_ntohs(ip6->payload_len) + 40;
		k.family = PS_AF_INET6;
		addr = rx ? ip6->saddr.in6_u.u6_addr8 : ip6->daddr.in6_u.u6_addr8;
		__builtin_memcpy(k.addr.a, addr, 16);
	} else {
		return TC_ACT_OK;
	}
	if ((void *)(th + 1) > end ||
	    (rx ? th->dest : th->source) != bpf_htons(OTHER_PORT))
		return TC_ACT_OK;
	ctr = slot_of(&k, now);
	if (!ctr)
		return TC_ACT_OK;
	if (rx) {
		struct ps_lpm_key lk = { .prefixlen = 8 + (k.family == PS_AF_INET ? 32 : 128),
					 .family = k.family };
		struct ps_enforcement *e;

		__builtin_memcpy(lk.addr, k.addr.a, 16);
		e = bpf_map_lookup_elem(&ps_enforce, &lk);
		if (e && e->action == PS_ACT_BLOCK && !e->dry_run)
			return TC_ACT_SHOT;
		__sync_fetch_and_add(&ctr->c.rx_packets, 1);
		__sync_fetch_and_add(&ctr->c.rx_bytes, len);
		if (th->syn && !th->ack)
			__sync_fetch_and_add(&ctr->c.connections, 1);
	} else {
		__sync_fetch_and_add(&ctr->c.tx_packets, 1);
		__sync_fetch_and_add(&ctr->c.tx_bytes, len);
	}
	ctr->c.last_seen_ns = now;
	return TC_ACT_OK;
}

SEC("tc")
int ps_ingress(struct __sk_buff *skb)
{
	return count(skb, 1);
}

SEC("tc")
int ps_egress(struct __sk_buff *skb)
{
	return count(skb, 0);
}

char LICENSE[] SEC("license") = "GPL";
