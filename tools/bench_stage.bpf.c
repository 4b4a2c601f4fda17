// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_stage: the ingress program's path for new in-order data (a
 * request start), stopped after a stage, so that ps_bench can say what
 * each stage of it costs. Built from bpf/ingress.bpf.c itself (its
 * ps_ingress renamed and not loaded), on the datapath's own maps (ps_bench
 * points this object's maps at them before it loads it), one program per
 * stage: bench_stop, set before load, is a constant the verifier prunes
 * the stages after it by.
 *
 *   1 parse: the packet's headers (ps_parse), the clock, the block check
 *   2 + flow: the endpoint's port, the flow found (ps_flow_get/settle)
 *   3 + client: the rest of ps_account(): the client's slot, packet and
 *     byte counters, the flow's flags
 *   4 + sequencing: the flow claimed (not in replay), the segment placed
 *     in the client's stream (ps_rx_resync, ps_seq_next)
 *   5 + parser set-up: the flow's parser state and the client's into the
 *     per-CPU scratch (ps_h1_begin)
 *   6 + HTTP/1 parser: the segment through it, lines, framing and the
 *     inference path's classification (ps_h1_feed)
 *   7 + enforcement: the request limit's gate (ps_gate_segment)
 *   8 + counters: the parser state back, the requests counted, the
 *     payload counted (ps_h1_end and the rest): the whole path
 *
 * Stages 1 and 2 copy the start of ps_account(), 4 to 8 ps_ingress() and
 * ps_ingress_data() for the path a request start takes; ps_bench runs
 * stage 8 beside the datapath's own ps_ingress on the same requests and
 * checks that it counted the same, so that the copy stays the path it
 * measures. Nothing here is part of the datapath.
 */
#define ps_ingress ps_ingress_unused
#include "../bpf/ingress.bpf.c"
#undef ps_ingress

const volatile __u32 bench_stop = 8;

/* Stages 1 and 2: the start of ps_account() for a client packet. */
static __always_inline int bench_first(struct __sk_buff *skb, struct ps_pkt_ctx *x)
{
	struct ps_pkt *p = &x->p;
	int ret, newconn = 0, est = 0;

	ps_stat_inc(PS_STAT_PACKETS);
	ret = ps_parse(skb, p);
	x->now = ps_now(skb);
	if (p->family && ps_blocked(p, 1, x->now))
		return TC_ACT_SHOT;
	if (ret || bench_stop == 1)
		return TC_ACT_OK;
	x->ep = ps_endpoint_of(bpf_ntohs(p->dport));
	if (x->ep < 0)
		return TC_ACT_OK;
	ps_stat_inc(PS_STAT_ENDPOINT_PACKETS);
	ps_flow_key(&x->k, p, 1);
	x->f = ps_flow_get(&x->k, p, 1, x->ep, x->now, &newconn, &est);
	if (x->f && !est)
		x->f = ps_flow_settle(&x->k, x->f, p);
	return TC_ACT_OK;
}

/* Stages 4 to 8: ps_ingress_data() for new data in order, stopped after a stage. */
static __always_inline int bench_data(struct __sk_buff *skb, struct ps_pkt_ctx *x)
{
	struct ps_seg_result *res;
	struct ps_ingress_tmp *t;
	struct ps_scratch *s;
	struct ps_flow *f = x->f;
	struct ps_seq *d;
	__u32 seq, len = x->p.payload_len;

	if (f->who.held && ps_who_admit(x))
		return TC_ACT_SHOT;
	d = &f->dir[PS_DIR_RX];
	seq = ps_data_seq(&x->p);
	if (d->valid && !d->nranges && seq == d->next &&
	    (f->http.state == PS_H1_BODY || f->http.state == PS_H2_PAYLOAD) &&
	    f->http.body_left > len) {
		d->next = seq + len;
		f->http.body_left -= len;
		if (x->c)
			ps_add(x->c->rx_payload, len);
		return TC_ACT_OK;
	}
	t = ps_ingress_tmp();
	if (!t)
		return TC_ACT_OK;
	ps_rx_resync(f, seq);
	t->saved = *d;
	t->ndel = 0;
	res = &t->res;
	ps_seq_next(d, seq, len, res, 1);
	/* Out of order, a refill or a PROXY header: not the path measured. */
	if (res->ooo || f->http.state == PS_H1_REFILL || f->who.proxy)
		return TC_ACT_OK;
	if (!res->fresh_len && !res->absorbed)
		goto in;
	if (bench_stop == 4)
		return TC_ACT_OK;
	s = ps_h1_begin(x, seq + res->fresh_off);
	if (!s)
		goto in;
	s->h2_probe = !t->saved.valid;
	s->hunt = !ps_replay && !f->dir[PS_DIR_RX].syn_seen;
	if (bench_stop == 5)
		return TC_ACT_OK;
	ps_h1_feed_pkt(skb, &x->p, res->fresh_off);
	if (res->absorbed) {
		t->ok.flow = x->k;
		t->ok.pad = 0;
		ps_ooo_replay(skb, t, res, seq + len);
	}
	if (bench_stop == 6)
		return TC_ACT_OK;
	if (ps_gate_segment(s)) {
		*d = t->saved;
		ps_gate_end(f, s);
		ps_buf_wipe(s);
		return TC_ACT_SHOT;
	}
	if (bench_stop == 7)
		return TC_ACT_OK;
	ps_h1_end(x, s);
	ps_ooo_release(t, d);
in:
	if (x->c && res->new_bytes)
		ps_add(x->c->rx_payload, res->new_bytes);
	return TC_ACT_OK;
}

SEC("tc")
int bench_stage(struct __sk_buff *skb)
{
	struct ps_pkt_ctx x = {};
	int verdict;

	if (bench_stop <= 2)
		return bench_first(skb, &x);
	if (ps_account(skb, 1, &x))
		return x.verdict;
	if (!x.p.payload_len || bench_stop == 3)
		return TC_ACT_OK;
	if (!ps_flow_take(x.f, &x.now)) {
		ps_stat_inc(PS_STAT_FLOW_BUSY);
		return TC_ACT_SHOT;
	}
	verdict = bench_data(skb, &x);
	if (!ps_replay)
		WRITE_ONCE(x.f->busy_ns, 0);
	return verdict;
}
