/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IP fragments on an endpoint port, the oldest way past a packet
 * inspector: a request cut into fragments is no TCP segment the parser
 * can read until the server's stack reassembles it, past every program
 * here. TCP clients have no need of fragmentation (path MTU discovery),
 * so an endpoint takes none: the first fragment of a TCP datagram to an
 * endpoint port is dropped (it alone carries the ports), which leaves the
 * rest unusable; the server never reassembles the datagram and the
 * client's TCP sends the data again unfragmented. Other fragments go on,
 * counted. In replay nothing is dropped; what would have been is counted.
 */
#ifndef PS_BPF_FRAGMENT_H
#define PS_BPF_FRAGMENT_H

#include "common.h"
#include "maps.h"
#include "parse.h"
#include "counters.h"

/* A fragment: TC_ACT_SHOT to drop it, TC_ACT_OK to let it go on. */
static __always_inline int ps_fragment(const struct ps_pkt *p, int rx, int ep, __u64 now)
{
	struct ps_client_ctr *ctr;
	__u32 slot = 0;

	ps_stat_inc(PS_STAT_FRAGMENTS);
	if (!rx || !p->frag_first || ep < 0)
		return TC_ACT_OK;
	ctr = ps_client(p, rx, now, &slot);
	if (ps_replay) {
		ps_stat_inc(PS_STAT_WOULD_DROP_FRAG);
		if (ctr)
			ps_add(ctr->would_drop_fragments, 1);
		return TC_ACT_OK;
	}
	ps_stat_inc(PS_STAT_FRAG_DROPPED);
	if (ctr)
		ps_add(ctr->dropped_fragments, 1);
	return TC_ACT_SHOT;
}

#endif
