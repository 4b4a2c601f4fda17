// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc clsact ingress: client-to-server packets to an endpoint port. Counts
 * the client's rx packets, bytes, unique payload and connections, and
 * follows HTTP/1 framing on the byte stream to count requests.
 */
#include "lib/common.h"
#include "lib/account.h"
#include "lib/http1.h"

/* Segments replayed from the out-of-order stash per absorbed range. */
#define PS_OOO_REPLAY	12

/*
 * Keep the bytes of a segment that arrived beyond a hole, unless the
 * parser will only skip them as body. Its front is trimmed of what an
 * earlier stashed segment holds, and of body bytes: a segment across the
 * end of the body being skipped is kept from the body end, where
 * ps_ooo_replay() looks for it after skipping the body.
 */
static __always_inline void ps_ooo_stash(struct __sk_buff *skb, const struct ps_flow_key *k,
					 struct ps_flow *f, const struct ps_pkt *p, __u32 seq,
					 __u32 skip)
{
	const struct ps_seq *d = &f->dir[PS_DIR_RX];
	const struct ps_http *h = &f->http;
	struct ps_ooo_key ok = {};
	struct ps_ooo_seg *seg;
	__u32 zero = 0, n;

	if (h->state == PS_H1_DEAD || h->state == PS_H1_REFILL)
		return;
	if ((h->state == PS_H1_BODY || h->state == PS_H1_CHUNK_DATA) &&
	    h->body_left < 0x80000000ULL) {
		__u32 body_end = d->next + (__u32)h->body_left;

		if (!seq_before(body_end, seq + p->payload_len))
			return;
		if (seq_after(body_end, seq + skip))
			skip = body_end - seq;
	}
	if (skip >= p->payload_avail)
		return;
	n = p->payload_avail - skip;
	if (n > PS_OOO_SEG_MAX)
		n = PS_OOO_SEG_MAX;
	barrier_var(n);
	if (!n || n > PS_OOO_SEG_MAX)
		return;
	seg = bpf_map_lookup_elem(&ps_ooo_buf, &zero);
	if (!seg)
		return;
	if (bpf_skb_load_bytes(skb, p->payload_off + skip, seg->data, n))
		return;
	seg->len = n;
	ok.flow = *k;
	ok.seq = seq + skip;
	if (bpf_map_update_elem(&ps_ooo, &ok, seg, BPF_ANY))
		ps_stat_inc(PS_STAT_OOO_DROPPED);
	else
		ps_stat_inc(PS_STAT_OOO_STASHED);
}

/*
 * The stream reached the out-of-order range [start, end): parse its
 * stashed segments from cur, the first byte not parsed yet, and return
 * where parsing stands. Where no segment was kept, the parser must be in
 * a body: it skips to the body's end, where the next kept segment starts
 * (ps_ooo_stash()). Bytes missing elsewhere are fatal to framing.
 */
static __always_inline __u32 ps_ooo_replay(struct __sk_buff *skb, const struct ps_flow_key *k,
					   __u32 start, __u32 end, __u32 cur)
{
	struct ps_range r = { .start = start, .end = end };
	struct ps_ooo_key ok = {};
	struct ps_ooo_seg *seg, *buf;
	__u32 zero = 0, pos = r.start, from, len;
	int i;

	if (!k || !seq_after(r.end, cur))
		return cur;
	ok.flow = *k;
	buf = bpf_map_lookup_elem(&ps_ooo_buf, &zero);
	if (!buf)
		return cur;
	for (i = 0; i < PS_OOO_REPLAY; i++) {
		if (!seq_before(pos, r.end))
			break;
		ok.seq = pos;
		seg = bpf_map_lookup_elem(&ps_ooo, &ok);
		if (!seg) {
			struct ps_scratch *s = ps_scratch();
			__u32 n;

			if (!s || (s->h.state != PS_H1_BODY && s->h.state != PS_H1_CHUNK_DATA) ||
			    !seq_before(cur, r.end))
				break;
			n = r.end - cur;
			if (s->h.body_left < n)
				n = s->h.body_left;
			if (!n)
				break;
			ps_h1_feed(skb, PS_SRC_OOO, 0, n, 0);
			cur += n;
			pos = cur;
			continue;
		}
		if (!seg->len || seg->len > PS_OOO_SEG_MAX)
			break;
		len = seg->len;
		if (bpf_probe_read_kernel(buf, sizeof(*buf), seg))
			break;
		bpf_map_delete_elem(&ps_ooo, &ok);
		if (seq_after(pos + len, cur)) {
			from = seq_after(cur, pos) ? cur - pos : 0;
			ps_h1_feed(skb, PS_SRC_OOO, from, len - from, len - from);
			cur = pos + len;
		}
		pos += len;
	}
	if (seq_before(cur, r.end)) {
		ps_h1_feed(skb, PS_SRC_OOO, 0, r.end - cur, 0);
		cur = r.end;
	}
	return cur;
}

/* Move the flow's parser state into the scratch to feed it bytes. */
static __always_inline struct ps_scratch *ps_h1_begin(const struct ps_pkt_ctx *x, __u32 seq)
{
	struct ps_scratch *s = ps_scratch();

	if (!s)
		return NULL;
	ps_h1_copy(&s->h, &x->f->http);
	s->endpoint = x->ep;
	s->nreq = 0;
	s->ninf = 0;
	s->seq = seq;
	return s;
}

/* Put the parser state back and count the requests it completed. */
static __always_inline void ps_h1_end(const struct ps_pkt_ctx *x, const struct ps_scratch *s)
{
	ps_h1_copy(&x->f->http, &s->h);
	if (x->c) {
		if (s->nreq)
			ps_add(x->c->requests, s->nreq);
		if (s->ninf)
			ps_add(x->c->inference_requests, s->ninf);
	}
}

/* Feed the segment's bytes from off (in its payload) on to the parser. */
static __always_inline void ps_h1_feed_pkt(struct __sk_buff *skb, const struct ps_pkt *p,
					   __u32 off)
{
	__u32 avail = p->payload_avail > off ? p->payload_avail - off : 0;

	ps_h1_feed(skb, PS_SRC_SKB | ((p->tcpflags & PS_TCP_FIN) ? PS_FEED_FIN : 0),
		   p->payload_off + off, p->payload_len - off, avail);
}

/*
 * The parser waits for bytes a capture cut off (replay). A segment that
 * carries them again resumes parsing there, through to its end; new data
 * that comes first means they are lost for good.
 */
static __always_inline void ps_refill(struct __sk_buff *skb, const struct ps_pkt_ctx *x,
				      __u32 seq, const struct ps_seg_result *res)
{
	__u32 want = x->f->http.refill_seq;
	struct ps_scratch *s;

	if (seq_after(seq, want) || !seq_after(seq + x->p.payload_len, want)) {
		if (res->fresh_len)
			x->f->http.state = PS_H1_DEAD;
		return;
	}
	s = ps_h1_begin(x, want);
	if (!s)
		return;
	s->h.state = s->h.refill_state;
	ps_h1_feed_pkt(skb, &x->p, want - seq);
	ps_h1_end(x, s);
}

/*
 * Does the payload at off start like a request line for one of the
 * endpoint's inference paths: a token of capitals, a space, the path? A
 * global function: verified once.
 */
__weak __attribute__((noinline)) int ps_peek_inference(struct __sk_buff *skb, __u32 off,
						      __u32 avail, __u32 ep)
{
	struct ps_scratch *s = ps_scratch();
	__u32 n = avail < 96 ? avail : 96, i, sp = 0;

	if (!s || !skb || n < 4)
		return 0;
	if (bpf_skb_load_bytes(skb, off, s->buf, n & 127))
		return 0;
	for (i = 0; i < 18 && i < n; i++) {
		__u8 ch = s->buf[i];

		if (ch == ' ') {
			sp = i;
			break;
		}
		if ((ch < 'A' || ch > 'Z') && ch != '-' && ch != '_')
			return 0;
	}
	if (!sp)
		return 0;
	return ps_g_inference(sp + 1, n, ep);
}

/* What the request limit needs of a packet (a global function's argument). */
struct ps_gate_arg {
	struct ps_addr saddr;
	__u64 now;
	__u32 payload_off;
	__u32 payload_avail;
	__u32 ep;
	__u32 slot;		/* the client's slot ... */
	__u32 gen;		/* ... while its gen is this */
	__u32 seq;		/* first byte of the segment */
	__u32 throttled_seq;	/* in: the flow's; out: updated */
	__u32 next;		/* the flow's next expected client byte */
	__u8 family;
	__u8 at_start;		/* the parser is at a message boundary */
	__u8 valid;		/* next is known */
	__u8 pad;
};

/*
 * A global function, verified once: 1 to drop the segment, 0 to take it.
 * Updates a->throttled_seq for the caller to store in the flow.
 */
__weak __attribute__((noinline)) int ps_gate(struct __sk_buff *skb, struct ps_gate_arg *a)
{
	struct ps_enforcement *e;
	struct ps_client_ctr *ctr;
	__u64 T, tau, tat, base, now;
	struct ps_class *cl;
	int i, dry;

	if (!skb || !a || !a->at_start || !a->valid || a->seq != a->next || !a->gen)
		return 0;
	now = a->now;
	e = ps_enforcement_of(a->family, &a->saddr, now);
	if (e && e->action == PS_ACT_THROTTLE) {
		T = e->emission_ns;
		tau = e->tolerance_ns;
		dry = e->dry_run;
	} else {
		cl = ps_class_for(a->family, &a->saddr);
		if (!cl)
			return 0;
		T = cl->emission_ns;
		tau = cl->tolerance_ns;
		dry = cl->dry_run;
	}
	if (!T)
		return 0;
	ctr = ps_slot_ctr(a->slot);
	if (!ctr || ctr->gen != a->gen)
		return 0;
	if (!ps_peek_inference(skb, a->payload_off, a->payload_avail, a->ep))
		return 0;
	dry |= ps_replay;
	for (i = 0; i < 4; i++) {
		tat = ctr->gcra_tat;
		base = tat > now ? tat : now;
		if (base - now > tau)
			break;
		if (__sync_val_compare_and_swap(&ctr->gcra_tat, tat, base + T) == tat)
			return 0;
	}
	if (i == 4)
		return 0;	/* lost every race: let it in */
	if (dry) {
		ps_stat_inc(PS_STAT_WOULD_THROTTLE);
		ps_add(ctr->would_throttle, 1);
		return 0;
	}
	ps_stat_inc(PS_STAT_THROTTLED);
	/* The same request sent again is still the one request. */
	if (a->throttled_seq != a->seq) {
		a->throttled_seq = a->seq;
		ps_add(ctr->throttled_requests, 1);
	}
	return 1;
}

/*
 * The request limit, for a segment that starts a message on its flow:
 * 1 to drop it. GCRA on the client's slot (compare-and-swap on its
 * theoretical arrival time): a request is in when TAT - now <= tolerance.
 * A manual or window-limit throttle on the client overrides its class's.
 */
static __always_inline int ps_request_gate(struct __sk_buff *skb, struct ps_pkt_ctx *x,
					   __u32 seq)
{
	struct ps_flow *f = x->f;
	struct ps_gate_arg a = {};
	int drop;

	/* Only a segment that starts a message can start a request. */
	if (f->http.state != PS_H1_START)
		return 0;
	a.saddr = x->p.saddr;
	a.family = x->p.family;
	a.now = x->now;
	a.payload_off = x->p.payload_off;
	a.payload_avail = x->p.payload_avail;
	a.ep = x->ep;
	a.slot = f->client_slot;
	a.gen = x->c ? f->client_gen : 0;
	a.seq = seq;
	a.next = f->dir[PS_DIR_RX].next;
	a.valid = f->dir[PS_DIR_RX].valid;
	a.at_start = f->http.state == PS_H1_START;
	a.throttled_seq = f->throttled_seq;
	drop = ps_gate(skb, &a);
	f->throttled_seq = a.throttled_seq;
	return drop;
}

SEC("tc")
int ps_ingress(struct __sk_buff *skb)
{
	struct ps_pkt_ctx x = {};
	struct ps_seg_result res;
	struct ps_scratch *s;
	struct ps_flow *f;
	__u32 seq, cur;
	int i;

	if (ps_account(skb, 1, &x))
		return x.verdict;
	if (!x.p.payload_len)
		return TC_ACT_OK;
	f = x.f;
	seq = ps_data_seq(&x.p);
	/* A request over its client's limit: drop its first segment before
	 * anything of it is taken in, so that it is sent again. */
	if (ps_request_gate(skb, &x, seq))
		return TC_ACT_SHOT;
	ps_seq_next(&f->dir[PS_DIR_RX], seq, x.p.payload_len, &res);
	if (x.c && res.new_bytes)
		ps_add(x.c->rx_payload, res.new_bytes);
	if (res.ooo) {
		ps_ooo_stash(skb, &x.k, f, &x.p, seq, res.ooo_skip);
		return TC_ACT_OK;
	}
	if (f->http.state == PS_H1_REFILL) {
		ps_refill(skb, &x, seq, &res);
		return TC_ACT_OK;
	}
	if (!res.fresh_len)
		return TC_ACT_OK;

	/* Fast path: the whole new part lies inside a body being skipped. */
	if (!res.absorbed && f->http.state == PS_H1_BODY && f->http.body_left > res.fresh_len) {
		f->http.body_left -= res.fresh_len;
		return TC_ACT_OK;
	}

	s = ps_h1_begin(&x, seq + res.fresh_off);
	if (!s)
		return TC_ACT_OK;
	ps_h1_feed_pkt(skb, &x.p, res.fresh_off);
	cur = seq + x.p.payload_len;
	for (i = 0; i < PS_OOO_RANGES; i++) {
		if (i >= res.absorbed)
			break;
		cur = ps_ooo_replay(skb, &x.k, res.abs[i].start, res.abs[i].end, cur);
	}
	ps_h1_end(&x, s);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
