/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Egress shaping: what an endpoint sends a client under a shape entry is
 * put in that entry's HTB class, by setting skb->priority to the class id.
 * penstockd makes the root HTB qdisc PS_SHAPE_MAJOR: and one class per
 * shape entry (rate = ceil = rate_bps), and writes the class's minor into
 * the entry (shape_class) once the class exists on every interface.
 *
 * Why skb->priority: htb_classify() takes skb->priority as the class when
 * it names a leaf class of that qdisc, before any filter; and clsact
 * egress runs in __dev_queue_xmit() before the root qdisc's enqueue, so
 * the priority set here is the one HTB reads. A minor with no class (the
 * daemon removed it, or an interface the daemon could not shape) sends
 * the packet to the default class: unshaped, never dropped.
 */
#ifndef PS_BPF_SHAPE_H
#define PS_BPF_SHAPE_H

#include "common.h"
#include "account.h"
#include "enforce.h"

/* The TC_H_MAKE() of <linux/pkt_sched.h>, for a major given as 0x5053. */
#define PS_SHAPE_CLASSID(minor)	(((__u32)PS_SHAPE_MAJOR << 16) | (__u16)(minor))

/*
 * p: a parsed packet leaving the host (egress), its client the
 * destination, or the client a PROXY header named on its connection f
 * (NULL: none known). A dry run leaves the packet alone, and so does
 * replay (there is no qdisc there).
 */
static __always_inline void ps_shape(struct __sk_buff *skb, const struct ps_pkt *p,
				     const struct ps_flow *f, __u64 now)
{
	struct ps_enforcement *e;
	__u16 minor;

	if (ps_replay || !p->family)
		return;
	if (f && f->who.family)
		e = ps_enforcement_of(f->who.family, &f->who.addr, now);
	else
		e = ps_enforcement_of(p->family, &p->daddr, now);
	if (!e || e->action != PS_ACT_SHAPE || e->dry_run)
		return;
	minor = READ_ONCE(e->shape_class);
	/* Only what the endpoints send: sport is 0 for a packet that is not
	 * TCP, and port 0 is never an endpoint. */
	if (minor < PS_SHAPE_FIRST || ps_endpoint_of(bpf_ntohs(p->sport)) < 0)
		return;
	skb->priority = PS_SHAPE_CLASSID(minor);
}

#endif
