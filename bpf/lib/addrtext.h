/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Addresses written as text in the scratch buffer (scratch.h): a PROXY v1
 * header's, a forwarded header's entries. Read into s->ip_addr and
 * s->ip_family as the programs key clients: network order, IPv4 in a[0].
 */
#ifndef PS_BPF_ADDRTEXT_H
#define PS_BPF_ADDRTEXT_H

#include "common.h"
#include "scratch.h"

/*
 * A dotted-quad IPv4 address in the scratch buffer at p, up to a space
 * (end: the line's end): into s->ip_addr (network order). Returns where
 * it ended, or 0. A global function, verified once.
 */
PS_GLOBAL __u32 ps_g_ip4_text(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();
	__u32 v = 0, k = 0, digits = 0;
	__u8 *out, *buf;
	int i;

	if (!s || end > PS_BUF_SIZE)
		return 0;
	buf = s->buf;
	out = (__u8 *)&s->ip_addr;

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
 * One character of an IPv6 address (ps_g_ip6_text()) into the walk w: 0 to
 * go on, 1 at its end (a space), 2 where the group being read turns out
 * to start a dotted IPv4 address, -1 when it is no address.
 */
static __always_inline int ps_ip6_char(struct ps_ip6_walk *w, __u8 c)
{
	int d = ps_hexdig(c);

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
 * IPv4 address, as in HAProxy's ::ffff:192.0.2.1): into s->ip_addr.
 * Returns where it ended, or 0. The walk's state lives in the scratch, so
 * that the verifier checks the loop's callback once. A global function.
 */
/* bpf_loop callback: the next character of an IPv6 address; 1 to stop. */
static long ps_ip6_cb(__u32 i, void *data)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_ip6_walk *w;
	__u32 p;

	if (!s)
		return 1;
	w = &s->ip6;
	p = w->pos;
	w->r = ps_ip6_char(w, p < w->end ? s->buf[p & PS_BUF_MASK] : ' ');
	if (w->r)
		return 1;
	w->chars++;
	w->pos = p + 1;
	return 0;
}

PS_GLOBAL __u32 ps_g_ip6_text(__u32 p, __u32 end)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_ip6_walk *w;
	__u8 *out;
	__u32 j;

	if (!s || end > PS_BUF_SIZE)
		return 0;
	w = &s->ip6;
	__builtin_memset(w, 0, sizeof(*w));
	w->gap = 8;
	w->pos = p;
	w->end = end;
	w->r = -1;
	bpf_loop(40, ps_ip6_cb, NULL, 0);
	p = w->pos;
	if (w->r == 2) {
		/* The group being read starts a dotted IPv4 address: the
		 * last two groups, read as such. */
		if (w->ng > 6)
			return 0;
		p = ps_g_ip4_text(p - w->digits, end);
		if (!p)
			return 0;
		out = (__u8 *)&s->ip_addr;
		w->g[w->ng & 7] = out[0] << 8 | out[1];
		w->g[(w->ng + 1) & 7] = out[2] << 8 | out[3];
		w->ng += 2;
		w->r = 1;
	}
	if (w->r != 1 || (w->gap == 8 && w->ng != 8) || (w->gap != 8 && w->ng > 7))
		return 0;
	/* The groups after the gap go to the end. */
	out = (__u8 *)&s->ip_addr;
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

/*
 * A v4-mapped source (::ffff:a.b.c.d: HAProxy's TCP6 header for an IPv4
 * client of a dual-stack frontend) names the IPv4 client, the one its
 * direct connections, its class and its blocks are keyed by.
 */
static __always_inline void ps_ip_unmap(struct ps_scratch *s)
{
	struct ps_addr *a = &s->ip_addr;

	if (s->ip_family != PS_AF_INET6 || a->a[0] || a->a[1] ||
	    a->a[2] != bpf_htonl(0x0000ffff))
		return;
	a->a[0] = a->a[3];
	a->a[1] = a->a[2] = a->a[3] = 0;
	s->ip_family = PS_AF_INET;
}

#endif
