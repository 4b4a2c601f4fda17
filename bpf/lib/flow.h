/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * TCP flow state: which bytes of each direction have been seen. Payload
 * is the union of sequence ranges (a retransmitted or duplicated byte
 * counts once); bytes that arrive ahead of a hole are remembered as up to
 * PS_OOO_RANGES ranges until the hole fills.
 */
#ifndef PS_BPF_FLOW_H
#define PS_BPF_FLOW_H

#include "common.h"
#include "maps.h"
#include "parse.h"

/* Key of the flow a packet belongs to, oriented client to server. */
static __always_inline void ps_flow_key(struct ps_flow_key *k, const struct ps_pkt *p, int rx)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = p->family;
	if (rx) {
		k->client = p->saddr;
		k->server = p->daddr;
		k->cport = p->sport;
		k->sport = p->dport;
	} else {
		k->client = p->daddr;
		k->server = p->saddr;
		k->cport = p->dport;
		k->sport = p->sport;
	}
}

static __always_inline __u32 ps_overlap(__u32 a, __u32 b, __u32 c, __u32 d)
{
	__u32 lo = seq_max(a, c), hi = seq_min(b, d);

	return seq_after(hi, lo) ? hi - lo : 0;
}

/* Bytes of [a, b) already held in the out-of-order ranges. */
static __always_inline __u32 ps_ranges_overlap(const struct ps_seq *d, __u32 a, __u32 b)
{
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < PS_OOO_RANGES; i++)
		if (i < d->nranges)
			sum += ps_overlap(a, b, d->ranges[i].start, d->ranges[i].end);
	return sum;
}

/* An index into ps_ranges_add()'s out[], within its PS_OOO_RANGES + 1. */
static __always_inline __u32 ps_ri(__u32 n)
{
	return n < PS_OOO_RANGES ? n : PS_OOO_RANGES;
}

/*
 * Add [a, b) to the sorted, disjoint ranges, merging what touches it.
 * Returns -1, the ranges unchanged, when they would be more than
 * PS_OOO_RANGES on a live interface: the segment is then not taken (the
 * caller drops it, the client sends it again). In replay the last two
 * ranges are folded into one instead.
 */
static __always_inline int ps_ranges_add(struct ps_seq *d, __u32 a, __u32 b)
{
	struct ps_range out[PS_OOO_RANGES + 1] = {};
	__u32 n = 0, placed = 0;
	int i;

#pragma unroll
	for (i = 0; i < PS_OOO_RANGES; i++) {
		struct ps_range r;

		if (i >= d->nranges)
			break;
		r = d->ranges[i];
		if (!seq_before(r.end, a) && !seq_after(r.start, b)) {
			/* touches or overlaps the new range: absorb it */
			a = seq_min(a, r.start);
			b = seq_max(b, r.end);
			continue;
		}
		if (!placed && seq_after(r.start, b)) {
			out[ps_ri(n)].start = a;
			out[ps_ri(n)].end = b;
			n++;
			placed = 1;
		}
		out[ps_ri(n)] = r;
		n++;
	}
	if (!placed) {
		out[ps_ri(n)].start = a;
		out[ps_ri(n)].end = b;
		n++;
	}
	if (n > PS_OOO_RANGES) {
		/* Out of slots. A folded range would hold a gap the server
		 * has not got: bytes sent into it later would reach it
		 * unread. A capture's bytes are all there is: fold the last
		 * two ranges (the gap's bytes may count again). */
		if (!ps_replay)
			return -1;
		out[PS_OOO_RANGES - 1].end = out[PS_OOO_RANGES].end;
		n = PS_OOO_RANGES;
	}
#pragma unroll
	for (i = 0; i < PS_OOO_RANGES; i++)
		d->ranges[i] = out[i];
	d->nranges = n;
	return 0;
}

/*
 * How far beyond the stream's next byte a segment may start and still be
 * part of it: TCP's largest window (2^30 with window scaling, RFC 7323).
 * The server drops anything further; keeping every byte range within it
 * also keeps sequence comparisons (modulo 2^32) consistent between them.
 */
#define PS_SEQ_WINDOW	(1U << 30)

/* What one data segment did to a direction of the stream. */
struct ps_seg_result {
	__u32 new_bytes;	/* bytes never seen before */
	__u32 fresh_off;	/* offset in the segment where new in-order data starts */
	__u32 fresh_len;	/* new in-order bytes in the segment (0: none) */
	__u32 ooo;		/* the segment lies beyond a hole */
	__u32 ooo_skip;		/* its first bytes already held by a range */
	__u32 absorbed;		/* out-of-order ranges joined to the stream */
	__u32 ooo_full;		/* beyond a hole, and no range left to note it in */
	struct ps_range abs[PS_OOO_RANGES];
};

/*
 * Account the data segment [seq, seq + len) in direction d. A global
 * function: the range bookkeeping is verified once, not once per path of
 * every caller. With strict (the client's direction, live), a segment
 * beyond the hole over bytes already held is not taken either (ooo_full):
 * the server's TCP may keep either copy of those bytes (Linux's
 * out-of-order queue keeps a later segment that covers an earlier one
 * from the same first byte, or from before it), so it gets only the copy
 * the parser holds, and the client's TCP sends the rest again, in order
 * once the hole fills.
 */
__weak __attribute__((noinline)) int ps_seq_data(struct ps_seq *d, __u32 seq, __u32 len,
						 struct ps_seg_result *r, __u32 strict)
{
	__u32 end = seq + len, next;
	int i;

	if (!d || !r)
		return -1;
	__builtin_memset(r, 0, sizeof(*r));
	if (!len)
		return 0;
	if (!d->valid) {
		/* Mid-stream start: the first data seen begins the stream. */
		d->next = seq;
		d->valid = 1;
	}
	next = d->next;
	if (!seq_after(end, next))
		return 0;			/* all of it seen before */
	if (seq_after(seq, next) && seq - next > PS_SEQ_WINDOW)
		return 0;			/* outside any window: not this stream's */
	if (seq_after(seq, next)) {
		/* Beyond a hole: remember the range until the hole fills. */
		r->new_bytes = len - ps_ranges_overlap(d, seq, end);
		r->ooo = 1;
		if (strict && !ps_replay && r->new_bytes != len) {
			r->new_bytes = 0;
			r->ooo_full = 1;
			return 0;
		}
#pragma unroll
		for (i = 0; i < PS_OOO_RANGES; i++)
			if (i < d->nranges && !seq_before(seq, d->ranges[i].start) &&
			    seq_before(seq, d->ranges[i].end))
				r->ooo_skip = d->ranges[i].end - seq;
		if (ps_ranges_add(d, seq, end)) {
			r->new_bytes = 0;
			r->ooo_full = 1;
		}
		return 0;
	}
	r->new_bytes = (end - next) - ps_ranges_overlap(d, next, end);
	r->fresh_off = next - seq;
	r->fresh_len = end - next;
	next = end;
	/* Join the out-of-order ranges the stream now reaches. */
#pragma unroll
	for (i = 0; i < PS_OOO_RANGES; i++) {
		if (!d->nranges || seq_after(d->ranges[0].start, next))
			break;
		r->abs[i] = d->ranges[0];
		r->absorbed++;
		next = seq_max(next, d->ranges[0].end);
		d->ranges[0] = d->ranges[1];
		d->ranges[1] = d->ranges[2];
		d->ranges[2] = d->ranges[3];
		d->nranges--;
	}
	d->next = next;
	return 0;
}

/*
 * ps_seq_data() for the common case inline: the segment continues the
 * stream where it stands, with nothing held out of order. Else the call.
 */
static __always_inline void ps_seq_next(struct ps_seq *d, __u32 seq, __u32 len,
					struct ps_seg_result *r, __u32 strict)
{
	if (d->valid && !d->nranges && seq == d->next && len) {
		r->new_bytes = len;
		r->fresh_off = 0;
		r->fresh_len = len;
		r->ooo = 0;
		r->ooo_skip = 0;
		r->absorbed = 0;
		r->ooo_full = 0;
		d->next = seq + len;
		return;
	}
	ps_seq_data(d, seq, len, r, strict);
}

/* A SYN starts a direction: its sequence number is the ISN. */
static __always_inline void ps_seq_syn(struct ps_seq *d, __u32 isn)
{
	__builtin_memset(d, 0, sizeof(*d));
	d->isn = isn;
	d->next = isn + 1;
	d->valid = 1;
	d->syn_seen = 1;
}

/*
 * Egress: was request k of a queue that holds n requests (its bits) an
 * inference request? False for one not in the queue yet. One more than
 * PS_RQ_QUEUE behind the newest had its bit written over by a later
 * request's (a client that pipelines that deep): its answer is taken for
 * an inference request's and scanned, so that requests sent behind it
 * cannot hide it.
 */
static __always_inline int ps_rq_inference(__u32 n, __u64 bits, __u32 k)
{
	__s32 d = (__s32)(n - k);

	return d > 0 && (d > PS_RQ_QUEUE || ((bits >> (k & (PS_RQ_QUEUE - 1))) & 1));
}

/*
 * Ingress: append n requests (bit i mod 64 of bits: the i-th is an
 * inference request; of more than 64, the newest 64) to the flow's queue:
 * n is raised by every one. Only the ingress program writes it; the bits
 * go in before n is raised, where egress reads n first.
 */
static __always_inline void ps_rq_push(struct ps_rq_queue *q, __u64 bits, __u32 n)
{
	__u32 at = q->n, pos = at & (PS_RQ_QUEUE - 1), nb = n;
	__u64 mask, m, v;

	if (!n)
		return;
	if (nb > PS_RQ_QUEUE)
		nb = PS_RQ_QUEUE;
	mask = nb == PS_RQ_QUEUE ? ~0ULL : (1ULL << nb) - 1;
	m = (mask << pos) | (pos ? mask >> (PS_RQ_QUEUE - pos) : 0);
	v = ((bits & mask) << pos) | (pos ? (bits & mask) >> (PS_RQ_QUEUE - pos) : 0);
	q->bits = (q->bits & ~m) | v;
	barrier();
	WRITE_ONCE(q->n, at + n);
}

#endif
