/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The PROXY protocol (HAProxy, "The PROXY protocol", versions 1 and 2): a
 * load balancer in front of an endpoint starts each connection with a
 * header naming the client it stands for. On an endpoint configured for
 * it, the header at the start of the client stream is read: v1, a text
 * line "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n" of at most 107
 * bytes; v2, a 12-byte signature, version and command, family, a length,
 * the addresses, and TLVs (skipped). From a peer in ps_trusted for the
 * endpoint, the declared source becomes the connection's client (v2's
 * LOCAL command, v1's UNKNOWN: the peer itself; a v4-mapped IPv6 source:
 * its IPv4 address); from any other peer the header is read, so that the
 * HTTP parser never takes it for a message, and not believed. A connection without a valid header is counted
 * (stats.proxy_bad) and belongs to the peer.
 *
 * A header may come in pieces: its first bytes wait in the flow's HTTP
 * carry (the parser has not started) until it is whole. Until then the
 * connection's packets and bytes wait in the flow (struct ps_who) and go
 * to whoever the header names.
 */
#ifndef PS_BPF_PROXY_H
#define PS_BPF_PROXY_H

#include "common.h"
#include "maps.h"
#include "parse.h"
#include "http1.h"
#include "addrtext.h"

#define PS_PROXY_V1_MAX	107	/* v1 line, CR LF included */
#define PS_PROXY_V2_HDR	16	/* v2 fixed part */
#define PS_PROXY_NEED	(PS_PROXY_V2_HDR + 36)	/* v2 with TCP6 addresses */

/* What ps_g_proxy_parse() found in the scratch buffer's n bytes. */
#define PS_PX_WAIT	0	/* a header may be coming: more bytes needed */
#define PS_PX_BAD	1	/* no valid header */
#define PS_PX_PEER	2	/* a header naming no address (LOCAL, UNKNOWN) */
#define PS_PX_ADDR	3	/* a header naming s->ip_addr (s->ip_family) */


static __always_inline int ps_px_is(const __u8 *buf, __u32 p, __u64 w, __u32 n)
{
	return (ps_load64(buf, p) & ps_mask(n)) == w;
}

/*
 * The two ports that end a v1 line, at p: "sport dport" up to eol, each a
 * decimal number up to 65535. A global function, verified once.
 */
PS_GLOBAL int ps_g_px_ports(__u32 p, __u32 eol)
{
	struct ps_scratch *s = ps_scratch();
	__u32 v = 0, digits = 0, ports = 0;
	int i;

	if (!s || eol > PS_BUF_SIZE)
		return 0;
	for (i = 0; i < 12; i++) {
		__u8 c = p < eol ? s->buf[p & PS_BUF_MASK] : ' ';

		if (c >= '0' && c <= '9' && digits < 5) {
			v = v * 10 + (c - '0');
			digits++;
		} else if (c == ' ' && digits && v <= 65535 && ports < 2) {
			ports++;
			v = digits = 0;
			if (p >= eol)
				return ports == 2;
		} else {
			return 0;
		}
		p++;
	}
	return 0;
}

/*
 * A v1 line buf[0..eol): "PROXY UNKNOWN ...", or "PROXY TCP4|TCP6 src dst
 * sport dport" with addresses of that family.
 */
static __always_inline int ps_px_v1(struct ps_scratch *s, __u32 eol)
{
	const __u8 *buf = s->buf;
	struct ps_addr src;
	__u32 p;

	if (ps_px_is(buf, 6, PS_W8("UNKNOWN"), 7))
		return PS_PX_PEER;
	if (!ps_px_is(buf, 6, PS_W8("TCP4 "), 5) && !ps_px_is(buf, 6, PS_W8("TCP6 "), 5))
		return PS_PX_BAD;
	__builtin_memset(&s->ip_addr, 0, sizeof(s->ip_addr));
	if (buf[9] == '4') {
		p = ps_g_ip4_text(11, eol);
		src = s->ip_addr;
		if (p && p < eol)
			p = ps_g_ip4_text(p + 1, eol);
		s->ip_family = PS_AF_INET;
	} else {
		p = ps_g_ip6_text(11, eol);
		src = s->ip_addr;
		if (p && p < eol)
			p = ps_g_ip6_text(p + 1, eol);
		s->ip_family = PS_AF_INET6;
	}
	s->ip_addr = src;
	return p && p < eol && ps_g_px_ports(p + 1, eol) ? PS_PX_ADDR : PS_PX_BAD;
}

/* A v2 header in buf[0..n), its fixed part there. */
static __always_inline int ps_px_v2(struct ps_scratch *s, __u32 n)
{
	const __u8 *buf = s->buf;
	__u8 vc = buf[12], fam = buf[13];
	__u32 len = (__u32)buf[14] << 8 | buf[15];

	if ((vc >> 4) != 2 || (vc & 0xf) > 1)
		return PS_PX_BAD;
	if ((vc & 0xf) == 0)
		return PS_PX_PEER;	/* LOCAL: the proxy's own connection */
	__builtin_memset(&s->ip_addr, 0, sizeof(s->ip_addr));
	if (fam == 0x11) {		/* TCP over IPv4 */
		if (len < 12)
			return PS_PX_BAD;
		if (n < PS_PROXY_V2_HDR + 12)
			return PS_PX_WAIT;
		__builtin_memcpy(&s->ip_addr, buf + 16, 4);
		s->ip_family = PS_AF_INET;
		return PS_PX_ADDR;
	}
	if (fam == 0x21) {		/* TCP over IPv6 */
		if (len < 36)
			return PS_PX_BAD;
		if (n < PS_PROXY_V2_HDR + 36)
			return PS_PX_WAIT;
		__builtin_memcpy(&s->ip_addr, buf + 16, 16);
		s->ip_family = PS_AF_INET6;
		return PS_PX_ADDR;
	}
	return PS_PX_PEER;		/* UNSPEC, UDP, UNIX: nothing to name */
}

/*
 * The header in the scratch buffer's first n bytes (the stream's first
 * bytes): what it is, and in s->px_len its length once known. A global
 * function, verified once.
 */
PS_GLOBAL int ps_g_proxy_parse(__u32 n)
{
	static const __u8 sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55,
				      0x49, 0x54, 0x0a };
	struct ps_scratch *s = ps_scratch();
	__u32 i, m;

	if (!s || n > PS_LINE_CARRY)
		return PS_PX_BAD;
	/* v2: the signature, then the length in the fixed part. */
	m = n < 12 ? n : 12;
	for (i = 0; i < 12; i++)
		if (i >= m || s->buf[i] != sig[i])
			break;
	if (i == m && n < PS_PROXY_V2_HDR)
		return PS_PX_WAIT;
	if (i == 12) {
		s->px_len = PS_PROXY_V2_HDR + ((__u32)s->buf[14] << 8 | s->buf[15]);
		return ps_px_v2(s, n);
	}
	/* v1: "PROXY " and a line of at most 107 bytes. */
	m = n < 6 ? n : 6;
	for (i = 0; i < 6; i++)
		if (i < m && s->buf[i] != "PROXY "[i])
			return PS_PX_BAD;
	for (i = 6; i + 1 < PS_PROXY_V1_MAX; i++) {
		if (i + 1 >= n)
			return PS_PX_WAIT;
		if (s->buf[i] == '\r' && s->buf[i + 1] == '\n')
			break;
	}
	if (i + 1 >= PS_PROXY_V1_MAX)
		return PS_PX_BAD;
	s->px_len = i + 2;
	return ps_px_v1(s, i);
}


/* Is the peer a proxy the endpoint trusts? */
static __always_inline int ps_px_trusted(const struct ps_pkt *p, __u32 ep)
{
	struct ps_lpm_key k = {};
	struct ps_trusted *t;

	ps_lpm_key_of(&k, p->family, &p->saddr);
	t = bpf_map_lookup_elem(&ps_trusted, &k);
	return t && ep < 32 && (t->endpoints >> ep) & 1;
}

/*
 * The fresh in-order bytes of a segment, at skb offset off (avail of them),
 * on a flow waiting for its PROXY header (f->who.hdr_end: the stream's
 * start, set by the caller with the first bytes): returns
 * how many of them are header. Once the header is whole, or is found
 * missing or malformed, the flow's client is settled (f->who) and
 * f->who.hdr_end says where the header ended. A global function, verified
 * once.
 */
PS_GLOBAL int ps_proxy_take(struct __sk_buff *skb, struct ps_flow *f, __u32 off, __u32 avail,
			    __u32 trusted)
{
	struct ps_scratch *s = ps_scratch();
	__u32 have, n, total;
	int r;

	if (!skb || !f || !s)
		return 0;
	have = f->http.carry_len;
	if (have > PS_LINE_CARRY)
		have = PS_LINE_CARRY;
	n = PS_LINE_CARRY - have;
	if (n > avail)
		n = avail;
	barrier_var(n);
	if (n > PS_LINE_CARRY)
		return 0;
	__builtin_memcpy(s->buf, f->http.carry, PS_LINE_CARRY);
	if (n && bpf_skb_load_bytes(skb, off, s->buf + (have & (PS_LINE_CARRY - 1)), n))
		return 0;
	r = ps_g_proxy_parse(have + n);
	if (r == PS_PX_WAIT && have + n < PS_LINE_CARRY) {
		__builtin_memcpy(f->http.carry, s->buf, PS_LINE_CARRY);
		f->http.carry_len = have + n;
		return n;
	}
	f->who.proxy = PS_PROXY_DONE;
	if (r == PS_PX_WAIT || r == PS_PX_BAD) {
		/* No header: the stream is HTTP from its first byte, and the
		 * bytes held back so far start its first line. */
		ps_stat_inc(PS_STAT_PROXY_BAD);
		f->http.state = have ? PS_H1_REQLINE : PS_H1_START;
		f->http.carry_len = have;
		return 0;
	}
	total = s->px_len;
	f->who.hdr_end += total;
	f->http.carry_len = 0;
	if (!trusted) {
		ps_stat_inc(PS_STAT_PROXY_UNTRUSTED);
	} else {
		ps_stat_inc(PS_STAT_PROXY);
		if (r == PS_PX_ADDR) {
			ps_ip_unmap(s);
			f->who.addr = s->ip_addr;
			f->who.family = s->ip_family;
		}
	}
	return total - have < avail ? total - have : avail;
}

#endif
