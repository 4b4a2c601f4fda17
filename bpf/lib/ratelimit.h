/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The request limit: GCRA per client on its slot's theoretical arrival
 * time, judged once per inference request at the moment the parser first
 * knows the request is one (the end of its request line), whatever the
 * segmentation. The segment that brings that knowledge is the one held
 * back: the ingress program drops it and puts the flow back as it was
 * before the segment, so the client's TCP sends it again and the request
 * is judged again then. Requests of a held-back segment that were let in
 * before the one over the limit are paid for: the flow keeps their number
 * (paid), and its next that many requests go in without a new charge.
 * A number, not their places in the stream: a client that sends other
 * bytes in the second copy gets no more requests than it paid for.
 */
#ifndef PS_BPF_RATELIMIT_H
#define PS_BPF_RATELIMIT_H

#include "common.h"
#include "maps.h"
#include "counters.h"
#include "enforce.h"
#include "tokens.h"

/* What the request limit needs of a segment's flow and client. */
struct ps_gate_ctx {
	struct ps_addr saddr;
	__u64 now;
	__u32 slot;		/* the client's slot ... */
	__u32 gen;		/* ... while its gen is this (0: no slot: no limit) */
	__u32 paid;		/* the flow's credit, less what this segment used */
	__u32 used;		/* credit this segment used */
	__u32 charged;		/* requests this segment was charged for */
	__u32 throttled_seq;	/* the flow's: the last request held back */
	__u8 family;
	__u8 drop;		/* out: hold the segment back */
	__u8 ep;		/* the flow's endpoint slot */
	__u8 pad;
};

/*
 * Judge the inference request whose request line ends at stream position
 * pos (the segment's requests in stream order): 1 to hold its segment
 * back, 0 to let it in. The flow's credit goes first. A manual or
 * window-limit throttle on the client overrides its class's request
 * limit (not its token limits). The token limits (tokens.h) go before
 * the request limit, which a request they hold back is not charged for;
 * a request let in is charged its class's token_reserve.
 * GCRA: a request is in when TAT - now <= tolerance, and then
 * TAT = max(TAT, now) + T, set by compare-and-swap since the slot is
 * shared by the client's flows on every CPU. A global function, verified
 * once.
 */
__weak __attribute__((noinline)) int ps_gate_judge(struct ps_gate_ctx *g, __u32 pos)
{
	struct ps_enforcement *e;
	struct ps_client_ctr *ctr;
	__u64 T = 0, tau = 0, tat, base, now;
	struct ps_tok_lim tl = {};
	struct ps_class *cl;
	int i, dry = 0, tdry = 0, tok = 0, counted = 0, in = 1;
	__u32 res = 0;

	if (!g)
		return 0;
	if (g->paid) {
		g->paid--;
		g->used++;
		return 0;
	}
	now = g->now;
	cl = ps_class_for(g->family, &g->saddr);
	if (cl) {
		tok = ps_tok_lim_of(cl, &tl);
		tdry = cl->dry_run | ps_replay;
		res = tok ? cl->tok_reserve : 0;
	}
	e = ps_enforcement_of(g->family, &g->saddr, now);
	if (e && e->action == PS_ACT_THROTTLE) {
		T = e->emission_ns;
		tau = e->tolerance_ns;
		dry = e->dry_run;
	} else if (cl) {
		T = cl->emission_ns;
		tau = cl->tolerance_ns;
		dry = cl->dry_run;
	}
	if (!T && !tok)
		return 0;
	dry |= ps_replay;
	ctr = g->gen ? ps_slot_ctr(g->slot) : NULL;
	if (!ctr || ctr->gen != g->gen) {
		/* No slot to keep the client's pace in (the client table is
		 * full): a limited client is held back rather than let in
		 * unlimited. */
		if ((!T || dry) && (!tok || tdry))
			return 0;
		ps_stat_inc(PS_STAT_NO_SLOT_HELD);
		g->drop = 1;
		return 1;
	}
	if (tok && ps_tok_over(ctr, &tl, now)) {
		if (!tdry)
			goto hold_tokens;
		ps_stat_inc(PS_STAT_WOULD_THROTTLE);
		ps_add(ctr->would_throttle, 1);
		ps_add(ctr->token_would_throttle, 1);
		counted = 1;
	}
	if (!T) {
		/* A reserve is charged as the request limit charges: a
		 * segment held back keeps it as the flow's credit (paid). */
		if (res)
			g->charged++;
		goto let_in;
	}
	/* Every race lost (four CPUs at once on one client) lets it in. */
	for (i = 0; i < 4; i++) {
		tat = ctr->gcra_tat;
		base = tat > now ? tat : now;
		if (base - now > tau) {
			in = 0;
			break;
		}
		if (__sync_val_compare_and_swap(&ctr->gcra_tat, tat, base + T) == tat)
			break;
	}
	if (in) {
		g->charged++;
		goto let_in;
	}
	if (dry) {
		if (!counted) {
			ps_stat_inc(PS_STAT_WOULD_THROTTLE);
			ps_add(ctr->would_throttle, 1);
		}
		goto let_in;
	}
	ps_stat_inc(PS_STAT_THROTTLED);
	/* The same request sent again is still the one request. */
	if (g->throttled_seq != pos) {
		g->throttled_seq = pos;
		ps_add(ctr->throttled_requests, 1);
		ps_ep_requests(g->ep, 0, 0, 1);
	}
	g->drop = 1;
	return 1;
let_in:
	if (res)
		ps_tok_reserve(ctr, &tl, res, now);
	return 0;
hold_tokens:
	ps_stat_inc(PS_STAT_THROTTLED);
	ps_stat_inc(PS_STAT_TOKEN_HELD);
	if (g->throttled_seq != pos) {
		g->throttled_seq = pos;
		ps_add(ctr->throttled_requests, 1);
		ps_add(ctr->token_held, 1);
		ps_ep_requests(g->ep, 0, 0, 1);
	}
	g->drop = 1;
	return 1;
}

#endif
