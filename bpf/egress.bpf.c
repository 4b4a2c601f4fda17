// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc clsact egress: server-to-client packets from an endpoint port. Counts
 * the client's tx packets, bytes and unique payload, and puts the packets
 * of a shaped client in its HTB class.
 */
#include "lib/common.h"
#include "lib/account.h"
#include "lib/shape.h"
#include "lib/resync.h"
#include "lib/response.h"
#include "lib/h2resp.h"

/* Bytes of a 101 response searched for its Upgrade header. */
#define PS_101_SCAN	256

/* The head of a 101 response, per CPU (too large for the stack). */
struct ps_101_buf {
	__u8 b[PS_101_SCAN + 16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_101_buf);
} ps_101_map SEC(".maps");

/*
 * Does a line of the response at off start with "Upgrade:"? 2 when its
 * value is h2c (HTTP/2 cleartext, RFC 7540 section 3.2), else 1.
 */
static __always_inline int ps_has_upgrade(struct __sk_buff *skb, __u32 off, __u32 len)
{
	__u32 zero = 0, n = len < PS_101_SCAN ? len : PS_101_SCAN;
	struct ps_101_buf *buf = bpf_map_lookup_elem(&ps_101_map, &zero);
	__u8 *b;
	int i;

	barrier_var(n);
	if (!buf || n < 12 || n > PS_101_SCAN)
		return 0;
	b = buf->b;
	if (bpf_skb_load_bytes(skb, off, b, n))
		return 0;
	/* "\nUpgrade" in any case: OR 0x20 lower-cases the letters and
	 * leaves the LF (the first, lowest byte) out of it. */
	for (i = 0; i < PS_101_SCAN; i++) {
		__u64 w;

		if (i + 9 > n)
			break;
		__builtin_memcpy(&w, &b[i], 8);
		if ((w | 0x2020202020202000ULL) == 0x656461726770750aULL && b[i + 8] == ':') {
			__u32 v = i + 9;

			if (v < PS_101_SCAN && b[v] == ' ')
				v++;
			if (v + 3 < PS_101_SCAN + 16 - 1 && v + 3 < n && (b[v] | 0x20) == 'h' &&
			    b[v + 1] == '2' && (b[v + 2] | 0x20) == 'c' &&
			    (b[v + 3] == '\r' || b[v + 3] == '\n' || b[v + 3] == ' ' ||
			     b[v + 3] == ','))
				return 2;
			return 1;
		}
	}
	return 0;
}

/*
 * Where the head of a response read into ps_101_map (n bytes) ends: the
 * offset after its empty line, 0 when it does not end in them.
 */
static __always_inline __u32 ps_101_head_end(__u32 n)
{
	__u32 zero = 0;
	struct ps_101_buf *buf = bpf_map_lookup_elem(&ps_101_map, &zero);
	__u8 *b;
	int i;

	if (!buf)
		return 0;
	b = buf->b;
	for (i = 1; i < PS_101_SCAN; i++) {
		if (i >= n)
			break;
		if (b[i] != '\n')
			continue;
		if (b[i - 1] == '\n' ||
		    (i >= 3 && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r'))
			return i + 1;
	}
	return 0;
}

/*
 * The answer to a CONNECT or an Upgrade request: a "200" to CONNECT opens
 * a tunnel, a "101" with an Upgrade header switches protocols; either way
 * the client's later bytes are not HTTP/1 any more (HTTP/2 after an h2c
 * Upgrade, whose preface the ingress parser finds). Any other status line
 * means the request was refused. Only a status line at the start of a
 * segment is read. A 101 to h2c whose head ends within its segment's
 * first PS_101_SCAN bytes: its head's length (the server's HTTP/2 frames
 * start after it), else 0. A global function, verified once on its own.
 */
__attribute__((noinline)) int ps_tunnel_answer(struct __sk_buff *skb, struct ps_flow *f,
					       __u32 off, __u32 len)
{
	char st[12];
	int up, ret = 0;

	if (!f || len < sizeof(st) || bpf_skb_load_bytes(skb, off, st, sizeof(st)))
		return 0;
	if (st[0] != 'H' || st[1] != 'T' || st[2] != 'T' || st[3] != 'P' || st[4] != '/' ||
	    st[8] != ' ')
		return 0;
	if (f->http.tunnel == PS_TUNNEL_CONNECT && st[9] == '2' && st[10] == '0' &&
	    st[11] == '0') {
		WRITE_ONCE(f->http.state, PS_H1_DEAD);
	} else if (f->http.tunnel == PS_TUNNEL_UPGRADE && st[9] == '1' && st[10] == '0' &&
		   st[11] == '1') {
		up = ps_has_upgrade(skb, off, len);
		if (up == 1)
			WRITE_ONCE(f->http.state, PS_H1_DEAD);
		/* A 101 to h2c: the client's next bytes are the HTTP/2
		 * connection preface, which the ingress parser takes at
		 * this message boundary (bpf/lib/http2.h); the server's
		 * go to the frame follower. */
		else if (up == 2)
			ret = ps_101_head_end(len < PS_101_SCAN ? len : PS_101_SCAN);
	}
	f->http.tunnel = PS_TUNNEL_NONE;
	return ret;
}

/*
 * The server's frames of an HTTP/2 connection (bpf/lib/h2resp.h): its
 * fresh in-order bytes, or the loss of some. Returns the bytes counted to
 * the clients its streams' requests named (their frames' payloads).
 */
static __always_inline __u32 ps_h2r_pkt(struct __sk_buff *skb, struct ps_pkt_ctx *x,
				       const struct ps_seg_result *res, __u32 how, __u32 skip)
{
	struct ps_h2r_work *w;
	struct ps_h2r_in *in;
	__u32 from = res->fresh_off + skip;
	int moved;

	if (res->ooo || res->absorbed)
		how = PS_H2R_LOST;
	else if (!res->fresh_len && !skip)
		return 0;
	w = ps_h2r_work();
	if (!w)
		return 0;
	in = &w->in;
	__builtin_memcpy(&in->k, &x->k, sizeof(in->k));
	in->now = x->now;
	in->off = x->p.payload_off + from;
	in->len = res->fresh_len > skip ? res->fresh_len - skip : 0;
	in->avail = x->p.payload_avail > from ? x->p.payload_avail - from : 0;
	in->how = how;
	in->cslot = x->f->client_slot;
	in->cgen = x->c ? x->f->client_gen : 0;
	/* At most the bytes it walked: in->len. */
	moved = ps_h2r_segment(skb, (struct ps_client_ctr *)x->c);
	return moved > 0 ? moved : 0;
}

/*
 * Was the request a 101 answers (the next one without a final answer) an
 * inference request? The flow's request queue says (flow.h).
 */
static __always_inline __u32 ps_up_inference(const struct ps_flow *f)
{
	__u32 n = READ_ONCE(f->rq.n);

	/* n first, as ps_resp_segment() reads them: ingress writes the bits
	 * before it raises n. */
	barrier();
	return ps_rq_inference(n, READ_ONCE(f->rq.bits), f->resp.n);
}

/*
 * The response bytes of a segment, to the response parser in order
 * (bpf/lib/response.h). An HTTP/2 connection's are not HTTP/1 responses:
 * a server stream that starts with the HTTP/2 preface goes to the frame
 * follower, and so do all its later bytes; bytes the stream reached past
 * a hole were never read in order, so the connection is not read further.
 */
static __always_inline __u32 ps_resp_pkt(struct __sk_buff *skb, struct ps_pkt_ctx *x,
					 const struct ps_seg_result *res, __u32 up)
{
	struct ps_flow *f = x->f;
	__u8 st = f->http.state;
	__u32 avail;

	/* A 101 to h2c, its head up bytes: what follows is HTTP/2. */
	if (up && up <= res->fresh_len && !res->ooo && !res->absorbed) {
		f->resp.state = PS_R_DEAD;
		return ps_h2r_pkt(skb, x, res,
				  PS_H2R_START | (ps_up_inference(f) ? PS_H2R_UP_INF : 0), up);
	}
	if (f->resp.state == PS_R_DEAD) {
		return ps_h2r_pkt(skb, x, res, 0, 0);
	}
	if (!res->ooo && !res->absorbed && res->fresh_len &&
	    ps_h2r_preface(skb, f, ps_data_seq(&x->p) + res->fresh_off,
			   x->p.payload_off + res->fresh_off,
			   x->p.payload_avail > res->fresh_off ? x->p.payload_avail - res->fresh_off : 0)) {
		f->resp.state = PS_R_DEAD;
		return ps_h2r_pkt(skb, x, res, PS_H2R_START, 0);
	}
	if (st == PS_H2_PREFACE || st == PS_H2_FRAME || st == PS_H2_PAYLOAD ||
	    st == PS_H2_BLOCK || st == PS_H2_GDATA) {
		f->resp.state = PS_R_DEAD;
		return 0;
	}
	if (res->ooo || res->absorbed) {
		f->resp.state = PS_R_DEAD;
		return 0;
	}
	if (!res->fresh_len)
		return 0;
	avail = x->p.payload_avail > res->fresh_off ? x->p.payload_avail - res->fresh_off : 0;
	return ps_resp_segment(skb, f, &x->k, x->c, x->p.payload_off + res->fresh_off, res->fresh_len,
			       avail, !!(x->p.tcpflags & PS_TCP_FIN), x->now);
}

SEC("tc")
int ps_egress(struct __sk_buff *skb)
{
	struct ps_pkt_ctx x = {};
	struct ps_seg_result res;
	struct ps_flow *f;
	__u32 moved, up = 0;
	int ret;

	ret = ps_account(skb, 0, &x);
	/* Shaped whether or not the packet has a flow (the flow table may
	 * be full): the class decides when it leaves, not whether. */
	if (x.verdict == TC_ACT_OK)
		ps_shape(skb, &x.p, ret ? NULL : x.f, x.now);
	if (ret)
		return x.verdict;
	f = x.f;
	ps_rx_acked(f, &x.p);
	if (!x.p.payload_len)
		return TC_ACT_OK;
	ps_seq_next(&f->dir[PS_DIR_TX], ps_data_seq(&x.p), x.p.payload_len, &res, 0);
	if (f->http.tunnel && res.fresh_len)
		up = ps_tunnel_answer(skb, f, x.p.payload_off + res.fresh_off, res.fresh_len);
	/* The bytes of responses to requests that name their own clients
	 * are theirs (moved); the rest are the connection's client's. */
	moved = ps_resp_pkt(skb, &x, &res, up);
	if (x.c && res.new_bytes > moved)
		ps_add(x.c->tx_payload, res.new_bytes - moved);
	else if (f->who.proxy == PS_PROXY_WAIT)
		f->who.pend_tx_payload += res.new_bytes;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
