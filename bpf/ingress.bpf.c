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
#define PS_OOO_REPLAY	8

/*
 * Keep the bytes of a segment that arrived beyond a hole, unless the
 * parser will only skip them as body. The part already held by an earlier
 * stashed segment is trimmed from its front.
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
	    !seq_before(d->next + (__u32)h->body_left, seq + p->payload_len) &&
	    h->body_left < 0x80000000ULL)
		return;
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
 * where parsing stands. Bytes with no stashed segment are fed as missing:
 * skipped inside a body, fatal to framing elsewhere.
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
		if (!seg || !seg->len || seg->len > PS_OOO_SEG_MAX)
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

/*
 * The parser waits for bytes a capture cut off (replay). A segment that
 * carries them again resumes parsing there, through to its end; new data
 * that comes first means they are lost for good.
 */
static __always_inline void ps_refill(struct __sk_buff *skb, struct ps_flow *f,
				      const struct ps_pkt *p, __u32 seq,
				      const struct ps_seg_result *res, int ep,
				      struct ps_counters *c)
{
	__u32 want = f->http.refill_seq, off, len, avail;
	struct ps_scratch *s;

	if (seq_after(seq, want) || !seq_after(seq + p->payload_len, want)) {
		if (res->fresh_len)
			f->http.state = PS_H1_DEAD;
		return;
	}
	s = ps_scratch();
	if (!s)
		return;
	off = want - seq;
	len = p->payload_len - off;
	avail = p->payload_avail > off ? p->payload_avail - off : 0;
	ps_h1_copy(&s->h, &f->http);
	s->h.state = s->h.refill_state;
	s->endpoint = ep;
	s->nreq = 0;
	s->ninf = 0;
	s->seq = want;
	ps_h1_feed(skb, PS_SRC_SKB | ((p->tcpflags & PS_TCP_FIN) ? PS_FEED_FIN : 0),
		   p->payload_off + off, len, avail);
	ps_h1_copy(&f->http, &s->h);
	if (c) {
		c->requests += s->nreq;
		c->inference_requests += s->ninf;
	}
}

SEC("tc")
int ps_ingress(struct __sk_buff *skb)
{
	struct ps_seg_result res;
	struct ps_scratch *s;
	struct ps_flow_key k;
	struct ps_counters *c;
	struct ps_pkt p = {};
	struct ps_flow *f;
	__u32 seq, avail, cur;
	__u64 now;
	int ep, i;

	ps_stat_inc(PS_STAT_PACKETS);
	if (ps_parse(skb, &p))
		return TC_ACT_OK;
	ep = ps_endpoint_of(bpf_ntohs(p.dport));
	if (ep < 0)
		return TC_ACT_OK;
	ps_stat_inc(PS_STAT_ENDPOINT_PACKETS);
	now = ps_now(skb);
	c = ps_client(&p, 1, now);
	if (c) {
		c->rx_packets += p.segs;
		c->rx_bytes += p.ip_bytes;
		c->last_seen_ns = now;
	}
	ps_flow_key(&k, &p, 1);
	f = ps_flow_get(&k, &p, 1, ep, now, c);
	if (!f)
		return TC_ACT_OK;
	f->last_seen_ns = now;
	if (p.tcpflags & PS_TCP_FIN)
		f->dir[PS_DIR_RX].fin_seen = 1;
	if (!p.payload_len)
		return TC_ACT_OK;

	seq = ps_data_seq(&p);
	ps_seq_data(&f->dir[PS_DIR_RX], seq, p.payload_len, &res);
	if (c)
		c->rx_payload += res.new_bytes;
	if (res.ooo) {
		ps_ooo_stash(skb, &k, f, &p, seq, res.ooo_skip);
		return TC_ACT_OK;
	}
	if (f->http.state == PS_H1_REFILL) {
		ps_refill(skb, f, &p, seq, &res, ep, c);
		return TC_ACT_OK;
	}
	if (!res.fresh_len)
		return TC_ACT_OK;

	/* Fast path: the whole new part lies inside a body being skipped. */
	if (!res.absorbed && f->http.state == PS_H1_BODY && f->http.body_left > res.fresh_len) {
		f->http.body_left -= res.fresh_len;
		return TC_ACT_OK;
	}

	s = ps_scratch();
	if (!s)
		return TC_ACT_OK;
	ps_h1_copy(&s->h, &f->http);
	s->endpoint = ep;
	s->nreq = 0;
	s->ninf = 0;
	s->seq = seq + res.fresh_off;
	avail = p.payload_avail > res.fresh_off ? p.payload_avail - res.fresh_off : 0;
	ps_h1_feed(skb, PS_SRC_SKB | ((p.tcpflags & PS_TCP_FIN) ? PS_FEED_FIN : 0),
		   p.payload_off + res.fresh_off, res.fresh_len, avail);
	cur = seq + p.payload_len;
	for (i = 0; i < PS_OOO_RANGES; i++) {
		if (i >= res.absorbed)
			break;
		cur = ps_ooo_replay(skb, &k, res.abs[i].start, res.abs[i].end, cur);
	}
	ps_h1_copy(&f->http, &s->h);
	if (c) {
		c->requests += s->nreq;
		c->inference_requests += s->ninf;
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
