/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet cursor: Ethernet (up to two VLAN tags), IPv4 or IPv6 with its
 * extension headers, TCP. Each step returns the next header or a negative
 * code, in the manner of xdp-tools' parsing_helpers.h.
 */
#ifndef PS_BPF_PARSE_H
#define PS_BPF_PARSE_H

#include "common.h"

#define PS_VLAN_MAX	2
#define PS_IPV6_EXT_MAX	8
/* Bytes of headers wanted in the linear area: Ethernet, two VLAN tags,
 * IPv6 with extension headers, TCP with options. */
#define PS_PULL_LEN	192

#ifndef ETH_P_8021AD
#define ETH_P_8021AD	0x88A8
#endif

/* What the datapath needs to know about one TCP packet. */
struct ps_pkt {
	struct ps_addr saddr;
	struct ps_addr daddr;
	__u16 sport;		/* network byte order */
	__u16 dport;		/* network byte order */
	__u8 family;
	__u8 tcpflags;		/* FIN SYN RST PSH ACK URG ECE CWR bits */
	__u8 frag_first;	/* PS_PARSE_FRAGMENT: the first fragment of a TCP
				 * datagram (its ports are read, nothing else) */
	__u8 doff;		/* TCP header length in 32-bit words */
	__u32 seq;
	__u32 ack;		/* acknowledgment number (host order) */
	__u32 payload_off;	/* offset of the TCP payload in the skb */
	__u32 payload_len;	/* payload bytes on the wire (all GSO segments) */
	__u32 payload_avail;	/* of those, bytes present in the skb */
	__u32 segs;		/* wire packets this skb stands for */
	__u64 ip_bytes;		/* IP octets on the wire (all segments) */
};

#define PS_TCP_FIN	0x01
#define PS_TCP_SYN	0x02
#define PS_TCP_RST	0x04
#define PS_TCP_ACK	0x10
#define PS_TCP_URG	0x20

struct ps_cursor {
	void *pos;
	void *end;
};

struct ps_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* Returns the EtherType after any VLAN tags, or -1. */
static __always_inline int parse_ethhdr(struct ps_cursor *c)
{
	struct ethhdr *eth = c->pos;
	struct ps_vlan_hdr *vh;
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > c->end)
		return -1;
	c->pos = eth + 1;
	proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < PS_VLAN_MAX; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vh = c->pos;
		if ((void *)(vh + 1) > c->end)
			return -1;
		proto = vh->proto;
		c->pos = vh + 1;
	}
	return bpf_ntohs(proto);
}

/* parse_ip4/6() and ps_parse() results other than a protocol number */
#define PS_PARSE_OTHER		(-1)	/* not IP, or not TCP */
#define PS_PARSE_FRAGMENT	(-2)	/* an IP fragment: no whole TCP segment */
#define PS_PARSE_BAD		(-3)	/* an IP or TCP header that cannot be read */

/*
 * IPv4: returns the protocol number, PS_PARSE_BAD when the header is
 * unreadable, PS_PARSE_FRAGMENT for a fragment other than an unfragmented
 * packet (offset 0 and no more-fragments flag), whose TCP header is absent
 * or whose payload is elsewhere.
 */
static __always_inline int parse_ip4(struct ps_cursor *c, struct ps_pkt *p, __u32 *l3_len,
				     __u32 *hdr_len)
{
	struct iphdr *ip = c->pos;
	__u32 ihl;

	if ((void *)(ip + 1) > c->end)
		return PS_PARSE_BAD;
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip) || c->pos + ihl > c->end)
		return PS_PARSE_BAD;
	p->family = PS_AF_INET;
	p->saddr.a[0] = ip->saddr;
	p->daddr.a[0] = ip->daddr;
	*l3_len = bpf_ntohs(ip->tot_len);
	*hdr_len = ihl;
	c->pos += ihl;
	if (ip->frag_off & bpf_htons(0x3fff)) {
		/* offset 0 (more fragments to come): the first one */
		p->frag_first = !(ip->frag_off & bpf_htons(0x1fff)) && ip->protocol == IPPROTO_TCP;
		return PS_PARSE_FRAGMENT;
	}
	return ip->protocol;
}

struct ps_ipv6_opt {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct ps_ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;	/* offset << 3 | M */
	__be32 id;
};

/*
 * IPv6 and its extension headers (RFC 8200 section 4): hop-by-hop,
 * routing, destination options, fragment and AH are walked; an atomic
 * fragment (offset 0, M clear, RFC 6946) is parsed like any packet.
 */
static __always_inline int parse_ip6(struct ps_cursor *c, struct ps_pkt *p, __u32 *l3_len,
				     __u32 *hdr_len)
{
	struct ipv6hdr *ip6 = c->pos;
	struct ps_ipv6_opt *opt;
	struct ps_ipv6_frag *frag;
	void *start = c->pos;
	__u8 nh;
	int i;

	if ((void *)(ip6 + 1) > c->end)
		return PS_PARSE_BAD;
	p->family = PS_AF_INET6;
	__builtin_memcpy(&p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(&p->daddr, &ip6->daddr, 16);
	*l3_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	nh = ip6->nexthdr;
	c->pos = ip6 + 1;
#pragma unroll
	for (i = 0; i < PS_IPV6_EXT_MAX; i++) {
		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			opt = c->pos;
			if ((void *)(opt + 1) > c->end)
				return PS_PARSE_BAD;
			nh = opt->nexthdr;
			c->pos += (opt->hdrlen + 1) * 8;
			break;
		case IPPROTO_AH:
			/* AH counts its length in 4-octet units, less 2. */
			opt = c->pos;
			if ((void *)(opt + 1) > c->end)
				return PS_PARSE_BAD;
			nh = opt->nexthdr;
			c->pos += (opt->hdrlen + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			frag = c->pos;
			if ((void *)(frag + 1) > c->end)
				return PS_PARSE_BAD;
			if (frag->frag_off & bpf_htons(0xfff9)) {
				p->frag_first = !(frag->frag_off & bpf_htons(0xfff8)) &&
						frag->nexthdr == IPPROTO_TCP;
				c->pos = frag + 1;
				return PS_PARSE_FRAGMENT;
			}
			nh = frag->nexthdr;
			c->pos = frag + 1;
			break;
		default:
			*hdr_len = c->pos - start;
			return nh;
		}
	}
	return PS_PARSE_BAD;
}

/* ps_parse_linear()'s result when the headers run past the linear part. */
#define PS_PARSE_SHORT		(-4)

/*
 * ps_parse() on the headers in the linear part of the skb: PS_PARSE_SHORT
 * or PS_PARSE_BAD when they run past it (or are bad). A global function,
 * verified once.
 */
__weak __attribute__((noinline)) int ps_parse_linear(struct __sk_buff *skb, struct ps_pkt *p)
{
	struct ps_cursor c;
	struct tcphdr *th;
	__u32 l3_off, l3_len = 0, ip_hlen = 0, thl, hdrs, segs;
	void *l3, *data;
	int proto;

	if (!p)
		return PS_PARSE_OTHER;
	data = (void *)(long)skb->data;
	c.pos = data;
	c.end = (void *)(long)skb->data_end;
	proto = parse_ethhdr(&c);
	if (proto < 0)
		return PS_PARSE_SHORT;
	l3 = c.pos;
	if (proto == ETH_P_IP)
		proto = parse_ip4(&c, p, &l3_len, &ip_hlen);
	else if (proto == ETH_P_IPV6)
		proto = parse_ip6(&c, p, &l3_len, &ip_hlen);
	else
		return PS_PARSE_OTHER;
	if (proto == PS_PARSE_FRAGMENT) {
		/* A first fragment's TCP ports (it carries at least 8 bytes
		 * of the datagram), for the endpoint's fragment policy. */
		th = c.pos;
		if (!p->frag_first || (void *)th + 4 > c.end)
			p->frag_first = 0;
		else {
			p->sport = th->source;
			p->dport = th->dest;
		}
		return PS_PARSE_FRAGMENT;
	}
	if (proto != IPPROTO_TCP)
		return proto < 0 ? proto : PS_PARSE_OTHER;
	th = c.pos;
	if ((void *)(th + 1) > c.end)
		return PS_PARSE_BAD;
	thl = th->doff * 4;
	if (thl < sizeof(*th))
		return PS_PARSE_BAD;
	p->sport = th->source;
	p->dport = th->dest;
	p->seq = bpf_ntohl(th->seq);
	p->ack = bpf_ntohl(th->ack_seq);
	p->tcpflags = ((__u8 *)th)[13];
	p->doff = th->doff;

	l3_off = l3 - data;
	hdrs = ip_hlen + thl;
	p->payload_off = l3_off + hdrs;
	segs = skb->gso_segs;
	if (segs > 1) {
		/* The IP length of a GSO packet describes none of its
		 * segments; the skb length holds every payload byte. */
		p->payload_len = skb->len > p->payload_off ? skb->len - p->payload_off : 0;
		p->payload_avail = p->payload_len;
		p->ip_bytes = (__u64)p->payload_len + (__u64)segs * hdrs;
		p->segs = segs;
		return 0;
	}
	p->segs = 1;
	p->ip_bytes = l3_len;
	/* A replay's piece of a longer packet (PS_REPLAY_PIECE): the
	 * packet's wire figures ride on its first piece. */
	if (ps_replay && skb->cb[0] == PS_REPLAY_PIECE) {
		p->segs = skb->cb[1];
		p->ip_bytes = skb->cb[2];
	}
	p->payload_len = l3_len > hdrs ? l3_len - hdrs : 0;
	p->payload_avail = skb->len > p->payload_off ? skb->len - p->payload_off : 0;
	if (p->payload_avail > p->payload_len)
		p->payload_avail = p->payload_len;	/* Ethernet padding */
	return 0;
}

/*
 * Parse one packet down to its TCP header. Returns 0 when p describes a
 * TCP packet, a negative PS_PARSE_* otherwise. Byte and payload figures follow the IP
 * length field, not the skb length, so Ethernet padding and a capture's
 * snap length do not change them; a GSO super-packet stands for gso_segs
 * wire packets, each carrying its own copy of the headers. A global
 * function: the header walk is verified once.
 */
__weak __attribute__((noinline)) int ps_parse(struct __sk_buff *skb, struct ps_pkt *p)
{
	int r;

	if (!p)
		return -1;
	r = ps_parse_linear(skb, p);
	/* Headers normally sit in the linear part of the skb; where a driver
	 * left them in fragments, enough of them are pulled in and read
	 * again. Only then: a pull of a cloned skb (every TCP segment a
	 * host sends is one) copies its head. */
	if ((r == PS_PARSE_SHORT || r == PS_PARSE_BAD) &&
	    skb->data + PS_PULL_LEN > skb->data_end && skb->len > skb->data_end - skb->data) {
		bpf_skb_pull_data(skb, skb->len < PS_PULL_LEN ? skb->len : PS_PULL_LEN);
		r = ps_parse_linear(skb, p);
	}
	return r == PS_PARSE_SHORT ? PS_PARSE_OTHER : r;
}

#endif
