/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-packet accounting shared by the ingress (client to server) and
 * egress (server to client) programs: the client's packet and byte
 * counters, connection starts, and the sequence state of the flow.
 */
#ifndef PS_BPF_ACCOUNT_H
#define PS_BPF_ACCOUNT_H

#include "common.h"
#include "maps.h"
#include "parse.h"
#include "flow.h"
#include "counters.h"
#include "enforce.h"
#include "block.h"
#include "fragment.h"

/* The endpoint slot serving a port (host order), or -1. */
static __always_inline int ps_endpoint_of(__u16 port)
{
	__u32 k = port;
	struct ps_port *pp = bpf_map_lookup_elem(&ps_ports, &k);

	if (!pp || !pp->endpoint)
		return -1;
	return pp->endpoint - 1;
}

/* Does the endpoint expect a PROXY header at the start of each connection? */
static __always_inline int ps_ep_proxy(int ep)
{
	__u32 k = ep;
	struct ps_endpoint *e = bpf_map_lookup_elem(&ps_endpoints, &k);

	return e && (e->flags & PS_EP_PROXY_PROTOCOL);
}

/* A zeroed flow to build a new one in. */
static __always_inline struct ps_flow *ps_flow_blank(void)
{
	__u32 zero = 0;
	struct ps_flow *f = bpf_map_lookup_elem(&ps_flow_tmp, &zero);

	if (f)
		__builtin_memset(f, 0, sizeof(*f));
	return f;
}

/*
 * Find or create the flow of a packet. A client SYN with a sequence number
 * other than the flow's ISN starts a new connection on the same 4-tuple
 * (port reuse) and is counted; a retransmitted SYN is not.
 */
static __always_inline struct ps_flow *ps_flow_get(const struct ps_flow_key *k,
						   const struct ps_pkt *p, int rx, int ep,
						   __u64 now, int *newconn, int *in_est)
{
	struct ps_flow *f = bpf_map_lookup_elem(&ps_flows_est, k);
	int syn = p->tcpflags & PS_TCP_SYN, ack = p->tcpflags & PS_TCP_ACK, est = !!f;
	struct ps_flow *fresh;

	*in_est = est;
	if (!f)
		f = bpf_map_lookup_elem(&ps_flows, k);

	if (rx && syn && !ack) {
		if (f && f->dir[PS_DIR_RX].syn_seen && f->dir[PS_DIR_RX].isn == p->seq)
			return f;
		fresh = ps_flow_blank();
		if (!fresh)
			return NULL;
		*newconn = 1;
		if (f && !f->dir[PS_DIR_RX].syn_seen && f->dir[PS_DIR_TX].syn_seen &&
		    !f->dir[PS_DIR_TX].fin_seen) {
			/* The SYN-ACK was seen first (capture reordering). */
			ps_seq_syn(&f->dir[PS_DIR_RX], p->seq);
			return f;
		}
		/* A new connection on the 4-tuple of one still open: it takes
		 * over the old one's place among the client's open ones. */
		if (f && f->dir[PS_DIR_RX].open)
			*newconn = 2;
		/* It starts again where every flow starts. */
		if (est)
			bpf_map_delete_elem(&ps_flows_est, k);
		*in_est = 0;
		ps_seq_syn(&fresh->dir[PS_DIR_RX], p->seq);
	} else if (f) {
		if (!rx && syn && ack &&
		    (!f->dir[PS_DIR_TX].syn_seen || f->dir[PS_DIR_TX].isn != p->seq))
			ps_seq_syn(&f->dir[PS_DIR_TX], p->seq);
		return f;
	} else {
		fresh = ps_flow_blank();
		if (!fresh)
			return NULL;
		if (!rx && syn && ack)
			ps_seq_syn(&fresh->dir[PS_DIR_TX], p->seq);
	}
	fresh->endpoint = ep;
	fresh->last_seen_ns = now;
	if (ps_ep_proxy(ep))
		fresh->who.proxy = PS_PROXY_WAIT;
	if (bpf_map_update_elem(&ps_flows, k, fresh, BPF_ANY)) {
		ps_stat_inc(PS_STAT_FLOW_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&ps_flows, k);
}

/*
 * A client packet acknowledging the server's SYN-ACK (within a window of
 * its initial sequence number) on a flow of ps_flows whose SYN and SYN-ACK
 * were seen: the connection is established, and its flow moves to
 * ps_flows_est. Returns the flow where it now is.
 */
static __always_inline struct ps_flow *ps_flow_settle(const struct ps_flow_key *k,
						      struct ps_flow *f, const struct ps_pkt *p)
{
	struct ps_flow *nf;

	if (!(p->tcpflags & PS_TCP_ACK) || (p->tcpflags & (PS_TCP_SYN | PS_TCP_RST)) ||
	    !f->dir[PS_DIR_RX].syn_seen || !f->dir[PS_DIR_TX].syn_seen ||
	    p->ack - (f->dir[PS_DIR_TX].isn + 1) >= (1U << 30))
		return f;
	if (bpf_map_update_elem(&ps_flows_est, k, f, BPF_NOEXIST))
		return f;	/* full: it stays where it is */
	nf = bpf_map_lookup_elem(&ps_flows_est, k);
	if (!nf)
		return f;
	bpf_map_delete_elem(&ps_flows, k);
	return nf;
}

/* One packet on its way through a program. */
struct ps_pkt_ctx {
	struct ps_pkt p;
	struct ps_flow_key k;
	struct ps_counters *c;	/* the client's counters (NULL: map full) */
	struct ps_flow *f;	/* the connection */
	__u64 now;
	int ep;			/* endpoint slot */
	int verdict;		/* TC_ACT_OK, or TC_ACT_SHOT for a blocked peer */
};

/*
 * A new connection from a client at its class's max_connections: 1 to
 * refuse it (drop the SYN). A dry run counts and lets it in.
 */
static __always_inline int ps_refuse_for(__u8 family, const struct ps_addr *a,
					 struct ps_client_ctr *ctr)
{
	struct ps_class *cl = ps_class_for(family, a);

	if (!cl || !cl->max_connections || ctr->open_connections < cl->max_connections)
		return 0;
	if (cl->dry_run || ps_replay) {
		ps_add(ctr->would_refuse, 1);
		return 0;
	}
	ps_add(ctr->refused_connections, 1);
	return 1;
}

static __always_inline int ps_refuse_connection(const struct ps_pkt_ctx *x,
						struct ps_client_ctr *ctr)
{
	return ps_refuse_for(x->p.family, &x->p.saddr, ctr);
}

/*
 * A packet of a connection whose PROXY header has not come yet: its
 * counts wait in the flow for the client the header will name.
 */
static __always_inline void ps_who_pend(struct ps_pkt_ctx *x, int rx, int newconn)
{
	struct ps_who *w = &x->f->who;

	if (rx) {
		w->pend_rx_packets += x->p.segs;
		w->pend_rx_bytes += x->p.ip_bytes;
	} else {
		w->pend_tx_packets += x->p.segs;
		w->pend_tx_bytes += x->p.ip_bytes;
	}
	if (newconn)
		w->open = 1;
}

/*
 * The connection's client is settled (its PROXY header read, or found
 * missing): what waited goes to it. Returns its counters.
 */
static __always_inline struct ps_counters *ps_who_settle(struct ps_pkt_ctx *x, int rx)
{
	struct ps_who *w = &x->f->who;
	struct ps_counters *c = ps_flow_client(x->f, &x->p, rx, x->now);

	if (c) {
		ps_add(c->rx_packets, w->pend_rx_packets);
		ps_add(c->tx_packets, w->pend_tx_packets);
		ps_add(c->rx_bytes, w->pend_rx_bytes);
		ps_add(c->tx_bytes, w->pend_tx_bytes);
		ps_add(c->rx_payload, w->pend_rx_payload);
		ps_add(c->tx_payload, w->pend_tx_payload);
		c->last_seen_ns = x->now;
		ps_ep_traffic(x->ep, 1, w->pend_rx_packets, w->pend_rx_bytes,
			      w->open && !w->held);
		ps_ep_traffic(x->ep, 0, w->pend_tx_packets, w->pend_tx_bytes, 0);
		if (w->open && !w->held) {
			ps_add(c->connections, 1);
			ps_add(((struct ps_client_ctr *)c)->open_connections, 1);
			x->f->dir[PS_DIR_RX].open = 1;
		}
	}
	w->pend_rx_packets = w->pend_tx_packets = 0;
	w->pend_rx_bytes = w->pend_tx_bytes = w->pend_rx_payload = w->pend_tx_payload = 0;
	if (!w->held)
		w->open = 0;
	x->c = c;
	return c;
}

/*
 * A connection that waited for its PROXY header is its client's now; is
 * there room for it under the client's max_connections (the declared
 * client's class, or the peer's when the header named none)? 0: it is
 * counted open (connections, open_connections). 1: not yet: the
 * connection is held (w->held): its data segments are dropped, and its
 * client's TCP sends them again, until one of the client's connections
 * closes; as a SYN over the limit is dropped until then. A connection
 * held is not open: closing it frees nothing. A dry run counts
 * would_refuse and lets it in.
 */
static __always_inline int ps_who_admit(struct ps_pkt_ctx *x)
{
	struct ps_who *w = &x->f->who;
	struct ps_client_ctr *ctr = (struct ps_client_ctr *)x->c;
	int over;

	if (!w->open || !ctr) {
		w->held = 0;
		return 0;
	}
	over = w->family ? ps_refuse_for(w->family, &w->addr, ctr) :
			   ps_refuse_for(x->p.family, &x->p.saddr, ctr);
	if (over) {
		w->held = 1;
		return 1;
	}
	if (w->held) {
		w->held = 0;
		ps_add(x->c->connections, 1);
		ps_ep_traffic(x->ep, 1, 0, 0, 1);
		ps_add(ctr->open_connections, 1);
		x->f->dir[PS_DIR_RX].open = 1;
		w->open = 0;
	}
	return 0;
}

/* The connection ended (FIN or RST) before a header came: the peer's. */
static __always_inline void ps_who_closed(struct ps_pkt_ctx *x, int rx)
{
	x->f->who.proxy = PS_PROXY_DONE;
	ps_stat_inc(PS_STAT_PROXY_BAD);
	ps_who_settle(x, rx);
}

/*
 * The part of every packet's accounting that does not depend on its
 * payload: parse it, find its endpoint (by destination port when rx, by
 * source port when tx), count its packets and bytes for the client and
 * find or create its flow. Returns 0 with x filled in, or -1 for a packet
 * that is not on an endpoint's TCP flow (or whose flow cannot be kept), or
 * that a block drops: x->verdict says which.
 */
static __always_inline int ps_account(struct __sk_buff *skb, int rx, struct ps_pkt_ctx *x)
{
	struct ps_pkt *p = &x->p;
	struct ps_counters *c;
	int dir = rx ? PS_DIR_RX : PS_DIR_TX, ret, newconn = 0, est = 0;

	ps_stat_inc(PS_STAT_PACKETS);
	ret = ps_parse(skb, p);
	x->now = ps_now(skb);
	if (p->family && ps_blocked(p, rx, x->now)) {
		x->verdict = TC_ACT_SHOT;
		return -1;
	}
	if (ret == PS_PARSE_FRAGMENT) {
		x->verdict = ps_fragment(p, rx, p->frag_first ?
					 ps_endpoint_of(bpf_ntohs(p->dport)) : -1, x->now);
		return -1;
	}
	if (ret) {
		if (ret != PS_PARSE_OTHER)
			ps_stat_inc(PS_STAT_NOT_PARSED);
		/* IP or TCP headers the parser cannot walk to their end, on a
		 * live interface: not let through unread. Linux takes TCP
		 * behind any number of IPv6 extension headers, more than the
		 * PS_IPV6_EXT_MAX walked here: a client that put nine
		 * destination options headers in front of each segment would
		 * pass every limit uncounted. (Headers Linux cannot read
		 * either, it drops as well.) */
		if (ret == PS_PARSE_BAD && rx && !ps_replay)
			x->verdict = TC_ACT_SHOT;
		return -1;
	}
	x->ep = ps_endpoint_of(bpf_ntohs(rx ? p->dport : p->sport));
	if (x->ep < 0)
		return -1;
	ps_stat_inc(PS_STAT_ENDPOINT_PACKETS);
	/* Urgent data from a client: the server's TCP takes the urgent byte
	 * out of the stream its application reads (SO_OOBINLINE is off by
	 * default), so the bytes the ingress program would read are not the
	 * bytes the server parses (a path with a byte the server never sees,
	 * a body a byte short). HTTP has no urgent data: the segment is
	 * dropped, and so are its sender's retransmissions, which carry it
	 * again. */
	if (rx && p->payload_len && (p->tcpflags & PS_TCP_URG)) {
		ps_stat_inc(PS_STAT_URGENT_DROPPED);
		x->verdict = TC_ACT_SHOT;
		return -1;
	}
	ps_flow_key(&x->k, p, rx);
	x->f = ps_flow_get(&x->k, p, rx, x->ep, x->now, &newconn, &est);
	if (x->f && rx && !est)
		x->f = ps_flow_settle(&x->k, x->f, p);
	if (!x->f) {
		/* No room for the flow (an LRU table can refuse an insert for
		 * a moment under a flood of new ones): a client packet that
		 * opens a connection or carries data is dropped, for its TCP
		 * to send again, rather than let a request in unread, past
		 * its client's limit. Its opening is counted when it gets in. */
		newconn = 0;
		if (rx && !ps_replay && (p->payload_len || (p->tcpflags & PS_TCP_SYN)))
			x->verdict = TC_ACT_SHOT;
	}
	if (x->f && x->f->who.proxy == PS_PROXY_WAIT) {
		ps_who_pend(x, rx, newconn);
		x->f->last_seen_ns = x->now;
		/* Closed before any header: the peer's connection. A client
		 * segment with data is read first (ps_ingress_data()): the
		 * header may come, or end, in it. */
		if ((p->tcpflags & (PS_TCP_FIN | PS_TCP_RST)) && !(rx && p->payload_len))
			ps_who_closed(x, rx);
		return 0;
	}
	/* A connection's declared client is blocked as its address would be. */
	if (x->f && x->f->who.family &&
	    ps_block_check(&x->f->who.addr, x->f->who.family, p->segs, x->now)) {
		x->verdict = TC_ACT_SHOT;
		return -1;
	}
	c = ps_flow_client(x->f, p, rx, x->now);
	if (c && x->f && newconn == 1 && ps_refuse_connection(x, (struct ps_client_ctr *)c)) {
		/* Over max_connections: no flow, no connection; the client's
		 * TCP sends the SYN again, and it counts when it gets in. */
		bpf_map_delete_elem(&ps_flows, &x->k);
		x->verdict = TC_ACT_SHOT;
		newconn = 0;
		x->f = NULL;
	}
	if (c) {
		if (rx) {
			ps_add(c->rx_packets, p->segs);
			ps_add(c->rx_bytes, p->ip_bytes);
		} else {
			ps_add(c->tx_packets, p->segs);
			ps_add(c->tx_bytes, p->ip_bytes);
		}
		if (newconn)
			ps_add(c->connections, 1);
		c->last_seen_ns = x->now;
		ps_ep_traffic(x->ep, rx, p->segs, p->ip_bytes, !!newconn);
	}
	x->c = c;
	if (!x->f)
		return -1;
	if (newconn && c) {
		if (newconn == 1)
			ps_add(((struct ps_client_ctr *)c)->open_connections, 1);
		x->f->dir[PS_DIR_RX].open = 1;
	}
	x->f->last_seen_ns = x->now;
	if (p->tcpflags & PS_TCP_FIN)
		x->f->dir[dir].fin_seen = 1;
	if (x->f->dir[PS_DIR_RX].open &&
	    ((p->tcpflags & PS_TCP_RST) ||
	     (x->f->dir[PS_DIR_RX].fin_seen && x->f->dir[PS_DIR_TX].fin_seen))) {
		struct ps_client_ctr *ctr = (struct ps_client_ctr *)c;

		x->f->dir[PS_DIR_RX].open = 0;
		if (ctr && ctr->open_connections)
			__sync_fetch_and_sub(&ctr->open_connections, 1);
	}
	return 0;
}

/* The first sequence number of a packet's data (a SYN takes one). */
static __always_inline __u32 ps_data_seq(const struct ps_pkt *p)
{
	return p->seq + ((p->tcpflags & PS_TCP_SYN) ? 1 : 0);
}

#endif
