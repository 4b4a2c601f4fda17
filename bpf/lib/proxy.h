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

#define PS_PROXY_V1_MAX	107	/* v1 line, CR LF included */
#define PS_PROXY_V2_HDR	16	/* v2 fixed part */
#define PS_PROXY_NEED	(PS_PROXY_V2_HDR + 36)	/* v2 with TCP6 addresses */

/* What ps_g_proxy_parse() found in the scratch buffer's n bytes. */
#define PS_PX_WAIT	0	/* a header may be coming: more bytes needed */
#define PS_PX_BAD	1	/* no valid header */
#define PS_PX_PEER	2	/* a header naming no address (LOCAL, UNKNOWN) */
#define PS_PX_ADDR	3	/* a header naming s->px_addr (s->px_family) */

static __always_inline int ps_pxdig(__u8 c)
{
	c = ps_lower(c);
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * A dotted-quad IPv4 address in the scratch buffer at p, up to a space
 * (end: the line's end): into s->px_addr (network order). Returns where
 * it ended, or 0. A global function, verified once.
 */
PS_GLOBAL __u32 ps_g_px_ip4(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();
	__u32 v = 0, k = 0, digits = 0;
	__u8 *out, *buf;
	int i;

	if (!s || end > PS_BUF_SIZE)
		return 0;
	buf = s->buf;
	out = (__u8 *)&s->px_addr;

	for (i = 0; i < 16; i++) {
		__u8 c = p < end ? buf[p & PS_BUF_MASK] : ' ';

		if (c >= '0' && c <= '9' && digits < 3) {
			v = v * 10 + (c - '0');
			digits++;
		} else if ((c == '.' || c == ' ') && digits && v <= 255 && k < 4) {
			out[k & 3] = v;
			k++;
			v = digits = 0;
			if (c == ' ')
				return k == 4 ? p : 0;
		} else {
			return 0;
		}
		p++;
	}
	return 0;
}

/*
 * One character of an IPv6 address (ps_g_px_ip6()) into the walk w: 0 to
 * go on, 1 at its end (a space), 2 where the group being read turns out
 * to start a dotted IPv4 address, -1 when it is no address.
 */
static __always_inline int ps_px6_char(struct ps_px6 *w, __u8 c)
{
	int d = ps_pxdig(c);

	if (d >= 0 && w->digits < 4) {
		w->v = w->v * 16 + d;
		w->digits++;
		w->colon = 0;
		return 0;
	}
	if (c == '.' && w->digits)
		return 2;
	if (c != ':' && c != ' ')
		return -1;
	if (w->digits) {
		if (w->ng >= 8)
			return -1;
		w->g[w->ng & 7] = w->v;
		w->ng++;
	} else if (c == ':' && w->colon) {
		if (w->gap != 8)
			return -1;	/* "::" twice */
		w->gap = w->ng;
	} else if (c == ':' && w->chars) {
		return -1;		/* ":" after ":x:" ... no group */
	}
	w->colon = c == ':';
	w->v = w->digits = 0;
	return c == ' ';
}

/*
 * An IPv6 address in the scratch buffer at p, up to a space (RFC 4291 2.2
 * text as inet_pton reads it: "::" once, the last 32 bits maybe a dotted
 * IPv4 address, as in HAProxy's ::ffff:192.0.2.1): into s->px_addr.
 * Returns where it ended, or 0. The walk's state lives in the scratch, so
 * that the verifier checks the loop's callback once. A global function.
 */
/* bpf_loop callback: the next character of an IPv6 address; 1 to stop. */
static long ps_px6_cb(__u32 i, void *data)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_px6 *w;
	__u32 p;

	if (!s)
		return 1;
	w = &s->px6;
	p = w->pos;
	w->r = ps_px6_char(w, p < w->end ? s->buf[p & PS_BUF_MASK] : ' ');
	if (w->r)
		return 1;
	w->chars++;
	w->pos = p + 1;
	return 0;
}

PS_GLOBAL __u32 ps_g_px_ip6(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_px6 *w;
	__u8 *out;
	__u32 j;

	if (!s || end > PS_BUF_SIZE)
		return 0;
	w = &s->px6;
	__builtin_memset(w, 0, sizeof(*w));
	w->gap = 8;
	w->pos = p;
	w->end = end;
	w->r = -1;
	bpf_loop(40, ps_px6_cb, NULL, 0);
	p = w->pos;
	if (w->r == 2) {
		/* The group being read starts a dotted IPv4 address: the
		 * last two groups, read as such. */
		if (w->ng > 6)
			return 0;
		p = ps_g_px_ip4(p - w->digits, end);
		if (!p)
			return 0;
		out = (__u8 *)&s->px_addr;
		w->g[w->ng & 7] = out[0] << 8 | out[1];
		w->g[(w->ng + 1) & 7] = out[2] << 8 | out[3];
		w->ng += 2;
		w->r = 1;
	}
	if (w->r != 1 || (w->gap == 8 && w->ng != 8) || (w->gap != 8 && w->ng > 7))
		return 0;
	/* The groups after the gap go to the end. */
	out = (__u8 *)&s->px_addr;
	for (j = 0; j < 8; j++) {
		__u32 src = 8, ng = w->ng, gap = w->gap;
		__u16 v = 0;

		if (gap == 8 || j < gap)
			src = j;
		else if (j + ng >= 8 + gap)
			src = j + ng - 8;
		if (src < 8 && src < ng)
			v = w->g[src & 7];
		out[(2 * j) & 15] = v >> 8;
		out[(2 * j + 1) & 15] = v & 0xff;
	}
	return p;
}

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
	__builtin_memset(&s->px_addr, 0, sizeof(s->px_addr));
	if (buf[9] == '4') {
		p = ps_g_px_ip4(11, eol);
		src = s->px_addr;
		if (p && p < eol)
			p = ps_g_px_ip4(p + 1, eol);
		s->px_family = PS_AF_INET;
	} else {
		p = ps_g_px_ip6(11, eol);
		src = s->px_addr;
		if (p && p < eol)
			p = ps_g_px_ip6(p + 1, eol);
		s->px_family = PS_AF_INET6;
	}
	s->px_addr = src;
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
	__builtin_memset(&s->px_addr, 0, sizeof(s->px_addr));
	if (fam == 0x11) {		/* TCP over IPv4 */
		if (len < 12)
			return PS_PX_BAD;
		if (n < PS_PROXY_V2_HDR + 12)
			return PS_PX_WAIT;
		__builtin_memcpy(&s->px_addr, buf + 16, 4);
		s->px_family = PS_AF_INET;
		return PS_PX_ADDR;
	}
	if (fam == 0x21) {		/* TCP over IPv6 */
		if (len < 36)
			return PS_PX_BAD;
		if (n < PS_PROXY_V2_HDR + 36)
			return PS_PX_WAIT;
		__builtin_memcpy(&s->px_addr, buf + 16, 16);
		s->px_family = PS_AF_INET6;
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

/*
 * A v4-mapped source (::ffff:a.b.c.d: HAProxy's TCP6 header for an IPv4
 * client of a dual-stack frontend) names the IPv4 client, the one its
 * direct connections, its class and its blocks are keyed by.
 */
static __always_inline void ps_px_unmap(struct ps_scratch *s)
{
	struct ps_addr *a = &s->px_addr;

	if (s->px_family != PS_AF_INET6 || a->a[0] || a->a[1] ||
	    a->a[2] != bpf_htonl(0x0000ffff))
		return;
	a->a[0] = a->a[3];
	a->a[1] = a->a[2] = a->a[3] = 0;
	s->px_family = PS_AF_INET;
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
			ps_px_unmap(s);
			f->who.addr = s->px_addr;
			f->who.family = s->px_family;
		}
	}
	return total - have < avail ? total - have : avail;
}

#endif
