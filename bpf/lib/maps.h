/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map the daemon and the CLI see: the counters, the policy, the
 * flows. Definitions are weak so that each program object can include this
 * header and the linked object holds one of each. They are pinned by name
 * under PS_PIN_DIR when the daemon loads them, so the CLI and a restarted
 * daemon find the same counters. Per-CPU working memory of one program
 * lives beside its user, unpinned: ps_scratch_map and ps_ooo_buf
 * (http1.h, the parser's buffer and a stash piece being replayed),
 * ps_ingress_tmp_map (ingress.bpf.c, what a held-back segment undoes),
 * ps_101_map (egress.bpf.c, the head of a 101 answer). One egress state
 * is kept beside its user too, unpinned: ps_h2r (h2resp.h, where the
 * server's HTTP/2 frames stand; programs loaded anew start without it, and
 * the connections open across the load are not followed).
 */
#ifndef PS_BPF_MAPS_H
#define PS_BPF_MAPS_H

#include "common.h"

/* Client to slot. Not LRU: the daemon reclaims the slots of idle
 * clients, keeping their totals (see struct ps_client_slot). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_CLIENTS);
	__type(key, struct ps_client_key);
	__type(value, struct ps_client_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_clients SEC(".maps") __weak;

/* Per-client counters by slot, read by the daemon through mmap. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, PS_MAX_CLIENTS);
	__type(key, __u32);
	__type(value, struct ps_client_ctr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_client_ctrs SEC(".maps") __weak;

/* Slots the daemon has reclaimed, for new clients to take. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, PS_MAX_CLIENTS);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_slot_free SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_slot_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_slot_state SEC(".maps") __weak;

/* Enforcement, set by the daemon: the limits of each class ... */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_MAX_CLASSES);
	__type(key, __u32);
	__type(value, struct ps_class);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_classes SEC(".maps") __weak;

/* ... the class of each configured prefix ... */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct ps_lpm_key);
	__type(value, struct ps_class_ref);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_class_of SEC(".maps") __weak;

/* ... blocks and limits on single clients and prefixes (never evicted) ... */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct ps_lpm_key);
	__type(value, struct ps_enforcement);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_enforce SEC(".maps") __weak;

/* ... and how many entries the tries hold. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_enforce_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_enforce_state SEC(".maps") __weak;

/*
 * TCP sequence and HTTP/1 framing state per connection, in two tables. A
 * flow starts in ps_flows, which gives up its least recently used entry
 * when a new one needs room: a flood of new connections, spoofed or not,
 * costs others nothing but their place there. A connection whose client
 * acknowledged the server's SYN-ACK (its initial sequence number, which a
 * spoofed sender never sees) moves to ps_flows_est, which gives up
 * nothing: its entries leave when penstockd expires them (idle, or closed
 * a while), so that no flood takes an established connection's framing.
 * Allocated as used; when it is full, flows stay in ps_flows.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_FLOWS);
	__type(key, struct ps_flow_key);
	__type(value, struct ps_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_flows SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ps_flow_key);
	__type(value, struct ps_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_flows_est SEC(".maps") __weak;

/* Client segments that arrived ahead of a hole, kept until it fills. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_OOO_SEGS);
	__type(key, struct ps_ooo_key);
	__type(value, struct ps_ooo_seg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_ooo SEC(".maps") __weak;

/* TCP port -> endpoint slot + 1; an array so the lookup is one load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct ps_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_ports SEC(".maps") __weak;

/* Endpoint slot -> its inference path prefixes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct ps_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_endpoints SEC(".maps") __weak;

/* Peers whose PROXY headers are believed, by endpoint (struct ps_trusted). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, struct ps_lpm_key);
	__type(value, struct ps_trusted);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_trusted SEC(".maps") __weak;

/* The secret API keys are hashed under (struct ps_key_secret), by penstockd. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_key_secret);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_key_secret SEC(".maps") __weak;

/*
 * The addresses each API key came from, and so the keys of each address:
 * (key id, address) pairs, the least recently used forgotten first.
 * Sized by penstockd (PS_KEY_ADDRS_DEF).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_KEY_ADDRS_DEF);
	__type(key, struct ps_key_addr_key);
	__type(value, struct ps_key_addr_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_key_addrs SEC(".maps") __weak;

/* HTTP/2 connections' HPACK tables, as far as classifying :path needs (hpack.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_H2_CONNS);
	__type(key, struct ps_flow_key);
	__type(value, struct ps_h2_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_h2 SEC(".maps") __weak;

/* The entry of a connection's hs (ps_h2_conn) naming stream sid's own client, PS_H2S_SLOTS if none. */
static __always_inline __u32 ps_h2_hs_at(const struct ps_h2_subj *hs, __u32 sid)
{
	__u32 j = (sid >> 1) & (PS_H2S_SLOTS - 1);

	return sid && hs[j].sid == sid && hs[j].gen ? j : PS_H2S_SLOTS;
}

/*
 * The server's side of HTTP/2 connections (egress, h2resp.h; the ingress
 * reads which answers began: http2.h ps_h2_late_out()).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_H2_CONNS);
	__type(key, struct ps_flow_key);
	__type(value, struct ps_h2_resp);
} ps_h2r SEC(".maps") __weak;

/* HTTP/1 requests' subjects that left a flow's ring before their answers
 * began (forwarded.h ps_g_rq_late(), response.h ps_resp_subject()). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_RQ_LATE);
	__type(key, struct ps_rq_late_key);
	__type(value, struct ps_rq_subj);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_rq_late SEC(".maps") __weak;

/* Inference streams that left a connection's window of 64 (http2.h ps_h2_late_out()). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_H2_LATE);
	__type(key, struct ps_h2_stream_key);
	__type(value, struct ps_h2_late);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_h2_late SEC(".maps") __weak;

/* Their entries' key ids and forwarded walks (hpack.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_H2_KEPT);
	__type(key, struct ps_h2_kept_key);
	__type(value, struct ps_h2_kept);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_h2_kept SEC(".maps") __weak;

/* Datapath health counters, enum ps_stat. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_stats SEC(".maps") __weak;

/* Per-endpoint totals by endpoint slot (struct ps_ep_ctr), per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PS_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct ps_ep_ctr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_ep_ctrs SEC(".maps") __weak;

/* A flow being created, per CPU: too large for the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_flow);
} ps_flow_tmp SEC(".maps") __weak;

static __always_inline void ps_stat_inc(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&ps_stats, &stat);

	if (v)
		*v += 1;
}

static __always_inline void ps_stat_add(__u32 stat, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&ps_stats, &stat);

	if (v)
		*v += n;
}

/*
 * What a packet (or the packets a connection held until its PROXY header
 * came) added to its client, added to its endpoint's totals too: packets
 * and IP bytes in one direction, and connections opened. Per-CPU: no
 * atomics. Global functions, verified once, not along every path of
 * their callers.
 */
__weak __attribute__((noinline)) int ps_ep_traffic(__u32 ep, __u32 rx, __u64 packets,
						  __u64 bytes, __u32 conns)
{
	struct ps_ep_ctr *e = bpf_map_lookup_elem(&ps_ep_ctrs, &ep);

	if (!e)
		return 0;
	if (rx) {
		e->rx_packets += packets;
		e->rx_bytes += bytes;
	} else {
		e->tx_packets += packets;
		e->tx_bytes += bytes;
	}
	e->connections += conns;
	return 0;
}

/* Requests, inference requests and requests throttled, counted to a client. */
__weak __attribute__((noinline)) int ps_ep_requests(__u32 ep, __u32 requests, __u32 inference,
						   __u32 throttled)
{
	struct ps_ep_ctr *e = bpf_map_lookup_elem(&ps_ep_ctrs, &ep);

	if (!e)
		return 0;
	e->requests += requests;
	e->inference_requests += inference;
	e->throttled_requests += throttled;
	return 0;
}

#endif
