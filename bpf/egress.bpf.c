// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc clsact egress: server-to-client packets from an endpoint port. Counts
 * the client's tx packets, bytes and unique payload.
 */
#include "lib/common.h"
#include "lib/account.h"

SEC("tc")
int ps_egress(struct __sk_buff *skb)
{
	struct ps_seg_result res;
	struct ps_flow_key k;
	struct ps_counters *c;
	struct ps_pkt p = {};
	struct ps_flow *f;
	__u64 now;
	int ep;

	ps_stat_inc(PS_STAT_PACKETS);
	if (ps_parse(skb, &p))
		return TC_ACT_OK;
	ep = ps_endpoint_of(bpf_ntohs(p.sport));
	if (ep < 0)
		return TC_ACT_OK;
	ps_stat_inc(PS_STAT_ENDPOINT_PACKETS);
	now = ps_now(skb);
	c = ps_client(&p, 0, now);
	if (c) {
		c->tx_packets += p.segs;
		c->tx_bytes += p.ip_bytes;
		c->last_seen_ns = now;
	}
	ps_flow_key(&k, &p, 0);
	f = ps_flow_get(&k, &p, 0, ep, now, c);
	if (!f)
		return TC_ACT_OK;
	f->last_seen_ns = now;
	if (p.payload_len) {
		ps_seq_data(&f->dir[PS_DIR_TX], ps_data_seq(&p), p.payload_len, &res);
		if (c)
			c->tx_payload += res.new_bytes;
	}
	if (p.tcpflags & PS_TCP_FIN)
		f->dir[PS_DIR_TX].fin_seen = 1;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
