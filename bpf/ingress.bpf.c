// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc clsact ingress: client-to-server packets to an endpoint port. Counts
 * the client's rx packets, bytes, unique payload and connections, and
 * follows HTTP/1 framing on the byte stream to count requests.
 */
#include "lib/common.h"
#include "lib/account.h"
#include "lib/ratelimit.h"
#include "lib/resync.h"
#include "lib/http1.h"
#include "lib/proxy.h"

#define PS_EEXIST		17

/* Deletions of replayed stash pieces kept until the segment is taken in. */
#define PS_OOO_DEL_MAX		PS_OOO_FLOW_PIECES
/* Steps of a stash replay: a piece or a body skip each, over every range. */
#define PS_OOO_REPLAY_STEPS	(PS_OOO_RANGES * (2 * PS_OOO_FLOW_PIECES + 2))

/* What a segment's stash replay walks: the ranges it joined to the stream. */
struct ps_replay_state {
	struct ps_range abs[PS_OOO_RANGES];
	__u32 nabs;
	__u32 ri;		/* range being walked */
	__u32 pos;		/* next piece's key in it */
	__u32 cur;		/* first byte not yet fed to the parser */
};

/* A segment being kept as stash pieces. */
struct ps_stash_state {
	struct ps_ooo_key ok;	/* the next piece's key */
	__u32 off;		/* its bytes in the skb */
	__u32 left;		/* bytes still to keep */
	__u32 added;		/* new pieces so far */
	__s32 err;
	__u32 now_s;		/* program clock, seconds */
};

/*
 * Per CPU, what one segment may have to undo: the flow's client direction
 * as it was before the segment (a segment held back leaves no trace), and
 * the stash pieces its replay consumed, deleted only once it is taken in.
 */
struct ps_ingress_tmp {
	struct ps_seq saved;
	struct ps_ooo_key ok;
	struct ps_seg_result res;
	struct ps_replay_state rs;
	struct ps_stash_state ss;
	__u32 ndel;
	__u32 rb_moved;		/* client bytes of the segment counted to requests' own
				 * clients (or waiting for them) ... */
	__u32 rb_conn;		/* ... and bytes handed back to the connection's */
	__u32 del[PS_OOO_DEL_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_ingress_tmp);
} ps_ingress_tmp_map SEC(".maps");

static __always_inline struct ps_ingress_tmp *ps_ingress_tmp(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ps_ingress_tmp_map, &zero);
}

/*
 * Where a segment beyond a hole starts to be kept (*from): after what a
 * range holds already. Its bytes that the parser skips as body whatever
 * fills the hole (the parser at the hole is in a body that goes on past
 * them: Content-Length, a chunk's data, an HTTP/2 frame's payload) are
 * kept by their length alone, up to *body in the segment. The rest is
 * kept, body or not: the parser's state at the hole is not yet the state
 * at these bytes (a body it learns later can end inside a piece kept
 * now), and the replay finds each piece where the one before it ends.
 */
static __always_inline int ps_ooo_keep_from(const struct ps_flow *f, const struct ps_pkt *p,
					    __u32 seq, __u32 skip, __u32 *from, __u32 *body)
{
	const struct ps_http *h = &f->http;
	__u32 lead = seq - f->dir[PS_DIR_RX].next;
	__u64 in = 0;

	if (h->state == PS_H1_DEAD || h->state == PS_H1_REFILL)
		return 0;
	if (skip >= p->payload_len)
		return 0;
	if (ps_skipping(h->state) && h->body_left > lead) {
		in = h->body_left - lead;
		if (in > p->payload_len)
			in = p->payload_len;
	}
	*from = skip;
	*body = in > skip ? in : skip;
	return 1;
}

/*
 * Keep st->left bytes of body at st->ok by their length alone: one piece
 * flagged PS_OOO_SKIPPED. Returns 1 when kept, 0 when a piece is kept
 * there already (a segment sent again: its bytes are kept as before), -1
 * when it cannot be kept. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_stash_skip(struct ps_stash_state *st)
{
	struct ps_ooo_seg *seg;
	__u32 zero = 0;
	long err;

	if (!st || !st->left || st->left >= PS_OOO_SKIPPED)
		return -1;
	seg = bpf_map_lookup_elem(&ps_ooo_buf, &zero);
	if (!seg)
		return -1;
	/* No client byte goes in: the buffer is zeroed after each use. */
	seg->len = st->left | PS_OOO_SKIPPED;
	seg->stashed_s = st->now_s;
	err = bpf_map_update_elem(&ps_ooo, &st->ok, seg, BPF_NOEXIST);
	seg->len = 0;
	if (err == -PS_EEXIST)
		return 0;
	return err ? -1 : 1;
}

/*
 * Keep the next piece of a segment: 1 when done or failed (st->err). A
 * global function, verified once rather than once per loop turn.
 */
__weak __attribute__((noinline)) int ps_stash_piece(struct __sk_buff *skb,
						    struct ps_stash_state *st)
{
	struct ps_ooo_seg *seg;
	__u32 zero = 0, n;
	long err;

	if (!skb || !st || !st->left)
		return 1;
	n = st->left < PS_OOO_SEG_MAX ? st->left : PS_OOO_SEG_MAX;
	seg = bpf_map_lookup_elem(&ps_ooo_buf, &zero);
	barrier_var(n);
	if (!seg || !n || n > PS_OOO_SEG_MAX)
		goto fail;
	if (bpf_skb_load_bytes(skb, st->off, seg->data, n))
		goto fail;
	seg->len = n;
	seg->stashed_s = st->now_s;
	/* A piece sent again at the same place replaces the one kept. */
	err = bpf_map_update_elem(&ps_ooo, &st->ok, seg, BPF_NOEXIST);
	if (err == -PS_EEXIST)
		err = bpf_map_update_elem(&ps_ooo, &st->ok, seg, BPF_EXIST);
	else if (!err)
		st->added++;
	if (err)
		goto fail;
	st->ok.seq += n;
	st->off += n;
	st->left -= n;
	return st->left ? 0 : 1;
fail:
	st->err = -1;
	return 1;
}

/*
 * ps_ooo_buf held a piece of the client's stream (an API key, say): it is
 * zeroed before the program returns, so that no map keeps it.
 */
static __always_inline void ps_ooo_buf_clear(void)
{
	__u32 zero = 0;
	struct ps_ooo_seg *buf = bpf_map_lookup_elem(&ps_ooo_buf, &zero);

	if (buf)
		bpf_probe_read_kernel(buf, sizeof(*buf), ps_zeros);
}

/* bpf_loop context of a stash (on the stack, as bpf_loop() wants it). */
struct ps_stash_ctx {
	struct ps_stash_state *st;
	struct __sk_buff *skb;
};

static long ps_stash_cb(__u32 i, void *data)
{
	struct ps_stash_ctx *c = data;

	return ps_stash_piece(c->skb, c->st) ? 1 : 0;
}

static long ps_unstash_cb(__u32 i, void *data)
{
	struct ps_stash_state *st = ((struct ps_stash_ctx *)data)->st;

	if (i >= st->added)
		return 1;
	bpf_map_delete_elem(&ps_ooo, &st->ok);
	st->ok.seq += PS_OOO_SEG_MAX;
	return 0;
}

/*
 * Keep st->left bytes of a segment that arrived beyond a hole, from skb
 * offset st->off, as pieces of PS_OOO_SEG_MAX bytes keyed by sequence
 * number from st->ok's. Returns 0 when kept, -1 when they cannot all be
 * kept: more pieces than the flow may hold, or a full stash.
 */
static __always_inline int ps_ooo_stash(struct __sk_buff *skb, struct ps_seq *d,
					struct ps_stash_state *st)
{
	struct ps_stash_ctx c = { .st = st, .skb = skb };
	__u32 need = (st->left + PS_OOO_SEG_MAX - 1) / PS_OOO_SEG_MAX, seq = st->ok.seq;

	if (d->pieces + need > PS_OOO_FLOW_PIECES)
		return -1;
	st->added = 0;
	st->err = 0;
	bpf_loop(PS_OOO_FLOW_PIECES, ps_stash_cb, &c, 0);
	ps_ooo_buf_clear();
	if (!st->err && !st->left) {
		d->pieces += st->added;
		ps_stat_inc(PS_STAT_OOO_STASHED);
		return 0;
	}
	/* Take back the pieces this segment added: it is not kept. */
	st->ok.seq = seq;
	bpf_loop(PS_OOO_FLOW_PIECES, ps_unstash_cb, &c, 0);
	return -1;
}

/* Feed len bytes of the stash buffer at off, stream position seq. */
static __always_inline void ps_feed_ooo(struct __sk_buff *skb, struct ps_scratch *s, __u32 seq,
					__u32 off, __u32 len, __u32 avail)
{
	s->seq = seq;
	ps_h1_feed(skb, PS_SRC_OOO, off, len, avail);
}

/* bpf_loop context of a replay: the skb beside the state, see ps_feed_ctx. */
struct ps_replay_ctx {
	struct ps_replay_state *st;
	struct __sk_buff *skb;
};

/*
 * One step of a stash replay, a bpf_loop callback: the next piece of the
 * range being walked, or a body skip where no piece was kept. Returns 1
 * when the walk is over. Bytes missing outside a body end the parsing of
 * the connection. Not a global function of its own: the parser below it
 * is already seven calls deep.
 */
static long ps_replay_cb(__u32 idx, void *data)
{
	struct ps_replay_ctx *c = data;
	struct ps_replay_state *st = c->st;
	struct __sk_buff *skb = c->skb;
	struct ps_ingress_tmp *t = ps_ingress_tmp();
	struct ps_scratch *s = ps_scratch();
	struct ps_ooo_seg *seg, *buf;
	struct ps_range r;
	__u32 zero = 0, len, from, n;

	if (!t || !s || st->ri >= st->nabs || st->ri >= PS_OOO_RANGES)
		return 1;
	r = st->abs[st->ri & (PS_OOO_RANGES - 1)];
	if (!seq_before(st->pos, r.end)) {
		/* The range is walked; what no piece held is missing. */
		if (seq_before(st->cur, r.end)) {
			ps_feed_ooo(skb, s, st->cur, 0, r.end - st->cur, 0);
			st->cur = r.end;
		}
		goto next_range;
	}
	t->ok.seq = st->pos;
	seg = bpf_map_lookup_elem(&ps_ooo, &t->ok);
	if (!seg) {
		if (!seq_before(st->cur, r.end))
			goto next_range;	/* covered by the segment itself */
		/* Not kept because the body covers it: skip that much of
		 * it; anything else here is missing. */
		n = r.end - st->cur;
		if (ps_skipping(s->h.state) && s->h.body_left && s->h.body_left < n)
			n = s->h.body_left;
		ps_feed_ooo(skb, s, st->cur, 0, n, 0);
		st->cur += n;
		st->pos = st->cur;
		return 0;
	}
	len = seg->len;
	if (len & PS_OOO_SKIPPED) {
		/* Body kept by its length: skipped as body (the parser is in
		 * it, as it was when the piece was kept). */
		len &= ~PS_OOO_SKIPPED;
		if (!len)
			goto next_range;
		if (t->ndel < PS_OOO_DEL_MAX)
			t->del[t->ndel++ & (PS_OOO_DEL_MAX - 1)] = st->pos;
		if (seq_after(st->pos + len, st->cur)) {
			from = seq_after(st->cur, st->pos) ? st->cur - st->pos : 0;
			ps_feed_ooo(skb, s, st->pos + from, 0, len - from, 0);
			st->cur = st->pos + len;
		}
		st->pos += len;
		return 0;
	}
	if (!len || len > PS_OOO_SEG_MAX)
		goto next_range;
	if (t->ndel < PS_OOO_DEL_MAX)
		t->del[t->ndel++ & (PS_OOO_DEL_MAX - 1)] = st->pos;
	if (seq_after(st->pos + len, st->cur)) {
		buf = bpf_map_lookup_elem(&ps_ooo_buf, &zero);
		if (!buf || bpf_probe_read_kernel(buf, sizeof(*buf), seg))
			return 1;
		from = seq_after(st->cur, st->pos) ? st->cur - st->pos : 0;
		ps_feed_ooo(skb, s, st->pos + from, from, len - from, len - from);
		st->cur = st->pos + len;
	}
	st->pos += len;
	return 0;
next_range:
	st->ri++;
	if (st->ri < st->nabs && st->ri < PS_OOO_RANGES)
		st->pos = st->abs[st->ri & (PS_OOO_RANGES - 1)].start;
	return 0;
}

/*
 * The stream reached the out-of-order ranges it absorbed: parse their
 * stashed pieces from cur, the first byte not parsed yet.
 */
static __always_inline void ps_ooo_replay(struct __sk_buff *skb, struct ps_ingress_tmp *t,
					  const struct ps_seg_result *res, __u32 cur)
{
	struct ps_replay_ctx c = { .st = &t->rs, .skb = skb };
	int i;

#pragma unroll
	for (i = 0; i < PS_OOO_RANGES; i++)
		t->rs.abs[i] = res->abs[i];
	t->rs.nabs = res->absorbed;
	t->rs.ri = 0;
	t->rs.pos = res->abs[0].start;
	t->rs.cur = cur;
	bpf_loop(PS_OOO_REPLAY_STEPS, ps_replay_cb, &c, 0);
	ps_ooo_buf_clear();
}

/* bpf_loop callback: delete the i-th stash piece the replay consumed. */
static long ps_ooo_del_cb(__u32 i, void *data)
{
	struct ps_ingress_tmp *t = *(struct ps_ingress_tmp **)data;

	if (i >= t->ndel || i >= PS_OOO_DEL_MAX)
		return 1;
	t->ok.seq = t->del[i & (PS_OOO_DEL_MAX - 1)];
	bpf_map_delete_elem(&ps_ooo, &t->ok);
	return 0;
}

/* The segment is in: the stash pieces its replay consumed go. */
static __always_inline void ps_ooo_release(struct ps_ingress_tmp *t, struct ps_seq *d)
{
	/* bpf_loop() takes its context on the stack. */
	if (t->ndel)
		bpf_loop(PS_OOO_DEL_MAX, ps_ooo_del_cb, &t, 0);
	d->pieces = d->pieces > t->ndel ? d->pieces - t->ndel : 0;
	/* Nothing held any more: pieces the walk could not reach (a
	 * segment overlapping them) are left to the daemon to collect. */
	if (!d->nranges)
		d->pieces = 0;
}

/*
 * Requests' own clients: does the endpoint read forwarded headers, and is
 * the connection's client (a PROXY header's, or the peer) a proxy they
 * are believed from? Does it count requests to their API keys?
 */
static __always_inline void ps_h1_begin_fwd(struct ps_scratch *s, const struct ps_flow *f,
					    __u32 ep)
{
	struct ps_endpoint *e = bpf_map_lookup_elem(&ps_endpoints, &ep);
	struct ps_lpm_key k = {};
	struct ps_trusted *t;

	s->fwd_ep = e ? e->flags & (PS_EP_XFF | PS_EP_FORWARDED) : 0;
	s->key_ep = e ? !!(e->flags & PS_EP_API_KEY) : 0;
	s->rq_ep = s->fwd_ep || s->key_ep;
	s->fwd_on = 0;
	s->fw_pending = 0;
	s->key_pend = 0;
	s->nsj = 0;
	s->nfwd = s->nfwd_bad = s->nfwd_untrusted = s->nfwd_full = s->nkey = 0;
	s->fw.flags = 0;
	s->key.flags = 0;
	if (s->key_ep)
		s->key = f->key;
	if (s->rq_ep)
		s->fw = f->fwd;
	if (s->fwd_ep) {
		ps_lpm_key_of(&k, s->conn.family, &s->conn.addr);
		t = bpf_map_lookup_elem(&ps_trusted, &k);
		if (t && ep < 32 && (t->endpoints >> ep) & 1)
			s->fwd_on = s->fwd_ep;
	}
	s->late = s->fwd_on || s->key_ep;
}

/*
 * An HTTP/2 connection's HPACK state into the scratch; one the table of
 * ps_h2 lost (least recently used) is not followed any more.
 */
static __always_inline void ps_h2_begin(struct ps_scratch *s, const struct ps_pkt_ctx *x)
{
	const struct ps_http *h = &x->f->http;
	struct ps_h2_conn *c;

	s->h2_on = ps_h2_state(h->state) ||
		   (h->state == PS_H1_REFILL && ps_h2_state(h->refill_state));
	s->nh2_unc = 0;
	s->nh2_kunk = 0;
	s->nh2_fidx = 0;
	s->nh2s = 0;
	s->nmsg = 0;
	s->ngrpc_lost = 0;
	s->lo_bits0 = 0;
	s->lo_hi0 = 0;
	if (!s->h2_on)
		return;
	c = bpf_map_lookup_elem(&ps_h2, &x->k);
	if (c) {
		bpf_probe_read_kernel(&s->h2c, sizeof(s->h2c), c);
		/* The window at the start (ps_h2_late_out()). */
		s->lo_hi0 = s->h2c.inf_hi;
		s->lo_bits0 = s->h2c.inf_bits;
		s->lo_g0 = s->h2c.grpc_bits;
	} else {
		ps_hp_init(s);
		s->h2c.lost = 1;
	}
}

/*
 * The HTTP/2 requests the gate refused in place (scratch.h ps_h2_refuse()):
 * each one's `:method: POST`, the static table's entry indexed (0x83, at
 * the stream position hpack.h noted), rewritten to `:method: GET` (0x82),
 * one byte that changes no HPACK table; the TCP checksum at coff is
 * mended. The server answers
 * the stream with an error (405 where the endpoint takes POST), and the
 * streams of other clients behind it on the connection are not held. The
 * segment's payload starts at poff with sequence number seq, plen bytes
 * of it in the skb. Returns how many could not be rewritten (a byte not
 * there, or not 0x83): the segment is then held back after all. A global
 * function, verified once.
 */
PS_GLOBAL int ps_h2_refuse_apply(struct __sk_buff *skb, __u32 seq, __u32 poff, __u32 plen,
				 __u32 coff)
{
	struct ps_scratch *s = ps_scratch();
	union { __u16 w; __u8 b[2]; } o, m;
	__u32 i, n, d, off, odd, done = 0;
	__u8 b = 0x82;

	if (!s)
		return 1;
	n = s->nflip;
	for (i = 0; i < PS_FLIP_MAX && i < n; i++) {
		d = s->flip[i] - seq;
		if (d >= plen || poff + d > 0xffff)
			continue;
		off = poff + d;
		/* The 16-bit word of the checksum that holds the byte: the
		 * TCP header starts at an even offset (coff - 16). (The byte
		 * is picked by a branch: an index into o.b from odd is a
		 * variable stack offset the verifier refuses.) */
		odd = (off - (coff - 16)) & 1;
		if (bpf_skb_load_bytes(skb, off - odd, &o.w, 2))
			continue;
		m.w = o.w;
		if (odd) {
			if (o.b[1] != 0x83)
				continue;
			m.b[1] = 0x82;
		} else {
			if (o.b[0] != 0x83)
				continue;
			m.b[0] = 0x82;
		}
		if (bpf_skb_store_bytes(skb, off, &b, 1, 0) ||
		    bpf_l4_csum_replace(skb, coff, o.w, m.w, 2))
			continue;
		done++;
	}
	if (done < n)
		return n - done;
	/* One increment a request: ps_stat_add(.., done) verifies at
	 * about 12,000 instructions more. */
	for (i = 0; i < PS_FLIP_MAX && i < n; i++)
		ps_stat_inc(PS_STAT_H2_REFUSED);
	return 0;
}

/* Move the flow's parser state into the scratch to feed it bytes. */
static __always_inline struct ps_scratch *ps_h1_begin(const struct ps_pkt_ctx *x, __u32 seq)
{
	struct ps_scratch *s = ps_scratch();
	const struct ps_flow *f = x->f;

	if (!s)
		return NULL;
	ps_h1_copy(&s->h, &f->http);
	s->endpoint = x->ep;
	s->nreq = 0;
	s->ninf = 0;
	s->rq_pn = 0;
	s->rq_pb = 0;
	s->seq = seq;
	s->h2_probe = 0;
	s->hunt = 0;
	s->nhunt = 0;
	/* The client the limit is looked up for: a PROXY header's, or the peer. */
	if (f->who.family) {
		s->g.saddr = f->who.addr;
		s->g.family = f->who.family;
	} else {
		s->g.saddr = x->p.saddr;
		s->g.family = x->p.family;
	}
	s->g.now = x->now;
	s->g.slot = f->client_slot;
	s->g.gen = x->c ? f->client_gen : 0;
	s->g.paid = f->paid;
	s->g.used = 0;
	s->g.charged = 0;
	s->g.throttled_seq = f->throttled_seq;
	s->g.drop = 0;
	s->g.ep = x->ep;
	s->npend = 0;
	s->nflip = 0;
	s->m_sid = 0;
	s->conn.addr = s->g.saddr;
	s->conn.family = s->g.family;
	s->conn.slot = s->g.slot;
	s->conn.gen = s->g.gen;
	ps_h1_begin_fwd(s, f, x->ep);
	/* Whom the client bytes go to (forwarded.h ps_g_rb_mark()). */
	s->b_on = s->late;
	s->b_nocount = 0;
	s->b_mark = seq;
	s->b_cur = !f->rq.named ? PS_BC_CONN :
		   f->rq.b_state == PS_RB_PEND ? PS_BC_PEND :
		   f->rq.b_state == PS_RB_SUBJ ? PS_BC_CARRY : PS_BC_CONN;
	s->b_pend = f->rq.named ? f->rq.b_pend : 0;
	s->b_carry = s->b_moved = s->b_conn = 0;
	if (s->b_on) {
		__builtin_memset(s->hsb, 0, sizeof(s->hsb));
		__builtin_memset(s->hsm, 0, sizeof(s->hsm));
	}
	ps_h2_begin(s, x);
	return s;
}

/*
 * The request limit's memory of the segment: taken in, its credit used
 * is gone; held back, the flow keeps its credit and gains what the
 * segment was charged for.
 */
static __always_inline void ps_gate_end(struct ps_flow *f, const struct ps_scratch *s)
{
	f->paid = s->g.drop ? s->g.paid + s->g.used + s->g.charged : s->g.paid;
	f->throttled_seq = s->g.throttled_seq;
}

/* Put the parser state back and count the requests it completed. */
static __always_inline void ps_h1_end(const struct ps_pkt_ctx *x, struct ps_scratch *s)
{
	ps_h1_copy(&x->f->http, &s->h);
	ps_gate_end(x->f, s);
	if (s->b_on)
		ps_g_rb_end(x->f->dir[PS_DIR_RX].next);
	if (s->b_on && s->h2_on)
		ps_h2_hs_bytes();
	/* More requests in flight than the ring holds: the subjects it loses. */
	if (s->b_on && s->rq_pn)
		ps_g_rq_late(&x->f->rq, &x->k, x->f->dir[PS_DIR_RX].isn, READ_ONCE(x->f->resp.n));
	if (s->b_on || s->rq_pn)
		ps_g_rq_flow(&x->f->rq);
	if (s->rq_ep) {
		x->f->fwd = s->fw;
		ps_fwd_end(s);
	}
	if (s->key_ep)
		x->f->key = s->key;
	if (s->h2_on && s->lo_bits0 && s->h2c.inf_hi != s->lo_hi0)
		ps_h2_late_out(&x->k);
	if (s->nh2s)
		ps_h2_subj_flow();
	if (s->h2_on)
		bpf_map_update_elem(&ps_h2, &x->k, &s->h2c, BPF_ANY);
	if (s->nh2_unc)
		ps_stat_add(PS_STAT_H2_UNCLASSIFIED, s->nh2_unc);
	if (s->nh2_kunk)
		ps_stat_add(PS_STAT_H2_KEY_UNKNOWN, s->nh2_kunk);
	if (s->nh2_fidx)
		ps_stat_add(PS_STAT_H2_FWD_INDEXED, s->nh2_fidx);
	if (s->nhunt)
		ps_stat_add(PS_STAT_HUNTED, s->nhunt);
	if (s->ngrpc_lost)
		ps_stat_add(PS_STAT_GRPC_NO_SLOT, s->ngrpc_lost);
	if (s->rq_pn)
		ps_rq_push(&x->f->rq, s->rq_pb, s->rq_pn);
	if (x->c) {
		if (s->nreq)
			ps_add(x->c->requests, s->nreq);
		if (s->ninf)
			ps_add(x->c->inference_requests, s->ninf);
		if (s->nreq | s->ninf)
			ps_ep_requests(x->ep, s->nreq, s->ninf, 0);
		/* (x->c is the counters at the head of the client's slot.) */
		if (s->nmsg)
			ps_add(((struct ps_client_ctr *)x->c)->rx_messages, s->nmsg);
	}
	ps_buf_wipe(s);
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
	s->b_nocount = 1;	/* a capture's bytes sent again: counted before */
	ps_h1_feed_pkt(skb, &x->p, want - seq);
	ps_gate_segment(s);	/* a capture's: a dry run, never held back */
	ps_h1_end(x, s);
}

/*
 * A segment beyond a hole: kept for the replay when the hole fills. What
 * cannot be kept is dropped on a live interface (1), so that the server
 * never holds client bytes the parser will not read; the client's TCP
 * sends them again after the hole.
 */
static __always_inline int ps_ooo_segment(struct __sk_buff *skb, struct ps_pkt_ctx *x,
					  struct ps_ingress_tmp *t, __u32 seq,
					  const struct ps_seg_result *res)
{
	struct ps_flow *f = x->f;
	struct ps_seq *d = &f->dir[PS_DIR_RX];
	__u32 from = 0, body = 0, avail;
	int skipped = 0;

	if (!ps_ooo_keep_from(f, &x->p, seq, res->ooo_skip, &from, &body))
		return 0;
	t->ss.ok.flow = x->k;
	t->ss.ok.seq = seq + from;
	t->ss.ok.pad = 0;
	t->ss.now_s = x->now / 1000000000ULL;
	if (body > from) {
		/* Body up to body: one piece of no bytes. */
		if (d->pieces >= PS_OOO_FLOW_PIECES)
			goto drop;
		t->ss.left = body - from;
		skipped = ps_stash_skip(&t->ss);
		if (skipped < 0)
			goto drop;
		if (skipped) {
			d->pieces++;
			from = body;
		}
	}
	avail = x->p.payload_avail > from ? x->p.payload_avail - from : 0;
	if (!avail)
		return 0;
	if (ps_replay && avail > PS_OOO_SEG_MAX)
		avail = PS_OOO_SEG_MAX;	/* a capture cannot be sent again: keep what fits */
	t->ss.ok.seq = seq + from;
	t->ss.off = x->p.payload_off + from;
	t->ss.left = avail;
	if (!ps_ooo_stash(skb, d, &t->ss))
		return 0;
	if (skipped) {
		/* Not kept after all: nor is its body piece. */
		t->ss.ok.seq = seq + res->ooo_skip;
		bpf_map_delete_elem(&ps_ooo, &t->ss.ok);
		d->pieces--;
	}
drop:
	ps_stat_inc(PS_STAT_OOO_DROPPED);
	return !ps_replay;
}

/*
 * The PROXY header of a connection that waits for it, or a header sent
 * again: the segment's fresh bytes that are header are taken off the front
 * of what the HTTP parser gets. The header settles the client; a blocked
 * one's segment is dropped (1) as its later packets will be.
 */
static __always_inline int ps_proxy_segment(struct __sk_buff *skb, struct ps_pkt_ctx *x,
					    struct ps_seg_result *res, __u32 seq)
{
	struct ps_flow *f = x->f;
	__u32 at = seq + res->fresh_off, n;

	if (f->who.proxy == PS_PROXY_WAIT) {
		n = x->p.payload_avail > res->fresh_off ? x->p.payload_avail - res->fresh_off : 0;
		if (!f->http.carry_len)
			f->who.hdr_end = at;	/* the stream's start, while waiting */
		n = ps_proxy_take(skb, f, x->p.payload_off + res->fresh_off, n,
				  ps_px_trusted(&x->p, x->ep));
		if (f->who.proxy != PS_PROXY_WAIT) {
			/* Its opening is counted once there is room for it. */
			f->who.held = 1;
			ps_who_settle(x, 1);
			if (f->who.family && ps_block_check(&f->who.addr, f->who.family,
							   x->p.segs, x->now))
				return 1;
			if (ps_who_admit(x))
				return 1;
		}
	} else if (f->who.proxy == PS_PROXY_DONE && seq_before(at, f->who.hdr_end)) {
		n = f->who.hdr_end - at;
	} else {
		return 0;
	}
	if (n > res->fresh_len)
		n = res->fresh_len;
	res->fresh_off += n;
	res->fresh_len -= n;
	return 0;
}

/*
 * A client data segment on its flow: the stream, the parser, the request
 * limit. The caller holds the flow (ps_flow_take()).
 */
static __always_inline int ps_ingress_data(struct __sk_buff *skb, struct ps_pkt_ctx *x)
{
	struct ps_seg_result *res;
	struct ps_ingress_tmp *t;
	struct ps_scratch *s;
	struct ps_flow *f = x->f;
	struct ps_seq *d;
	__u32 seq, len = x->p.payload_len;

	/* Held for its client's max_connections: nothing goes in until
	 * there is room (ps_who_admit()). */
	if (f->who.held && ps_who_admit(x))
		return TC_ACT_SHOT;
	d = &f->dir[PS_DIR_RX];
	seq = ps_data_seq(&x->p);

	/* Fast path: in order, nothing held, inside a body or an HTTP/2
	 * payload being skipped. */
	if (d->valid && !d->nranges && seq == d->next &&
	    (f->http.state == PS_H1_BODY || f->http.state == PS_H2_PAYLOAD) &&
	    f->http.body_left > len) {
		d->next = seq + len;
		f->http.body_left -= len;
		if (x->c && !(f->rq.named && ps_g_rb_body(&f->rq, len)))
			ps_add(x->c->rx_payload, len);
		return TC_ACT_OK;
	}
	t = ps_ingress_tmp();
	if (!t)
		return TC_ACT_OK;
	t->rb_moved = 0;
	t->rb_conn = 0;
	ps_rx_resync(f, seq);
	t->saved = *d;
	t->ndel = 0;
	/* The segment's result in per-CPU memory: the stack is short. */
	res = &t->res;
	ps_seq_next(d, seq, len, res, 1);
	if (res->ooo) {
		if (res->ooo_full) {
			/* A fifth disjoint range beyond the hole, or bytes
			 * already held again (ps_seq_data()): not taken. */
			ps_stat_inc(PS_STAT_OOO_DROPPED);
			*d = t->saved;
			return TC_ACT_SHOT;
		}
		if (ps_ooo_segment(skb, x, t, seq, res)) {
			*d = t->saved;
			return TC_ACT_SHOT;
		}
		goto in;
	}
	if (f->http.state == PS_H1_REFILL) {
		ps_refill(skb, x, seq, res);
		goto in;
	}
	if (f->who.proxy && res->fresh_len && ps_proxy_segment(skb, x, res, seq)) {
		*d = t->saved;
		return TC_ACT_SHOT;
	}
	if (!res->fresh_len && !res->absorbed)
		goto in;
	if (!res->absorbed && (f->http.state == PS_H1_BODY || f->http.state == PS_H2_PAYLOAD) &&
	    f->http.body_left > res->fresh_len) {
		f->http.body_left -= res->fresh_len;
		if (f->rq.named && ps_g_rb_body(&f->rq, res->fresh_len))
			t->rb_moved = res->fresh_len;
		goto in;
	}

	s = ps_h1_begin(x, seq + res->fresh_off);
	if (!s)
		goto in;
	/* No SYN and no byte before these: a connection picked up midway. */
	s->h2_probe = !t->saved.valid;
	/* Live, one whose SYN was not seen: its framing is not known. */
	s->hunt = !ps_replay && !f->dir[PS_DIR_RX].syn_seen;
	/* Bytes that fill a hole were counted as they came. */
	s->b_nocount = !!res->absorbed;
	ps_h1_feed_pkt(skb, &x->p, res->fresh_off);
	if (res->absorbed) {
		t->ok.flow = x->k;
		t->ok.pad = 0;
		ps_ooo_replay(skb, t, res, seq + len);
	}
	if (ps_gate_segment(s) ||
	    (s->nflip && ps_h2_refuse_apply(skb, seq, x->p.payload_off, x->p.payload_avail,
					    x->p.payload_off - x->p.doff * 4 + 16))) {
		/* A request over its client's limit: the segment is held
		 * back and the flow stays as it was before it, so that the
		 * request is judged again when the client sends it again.
		 * (One to refuse in place whose byte is not in this skb is
		 * held back as well.) */
		*d = t->saved;
		ps_gate_end(f, s);
		ps_buf_wipe(s);
		return TC_ACT_SHOT;
	}
	ps_h1_end(x, s);
	t->rb_moved = s->b_moved;
	t->rb_conn = s->b_conn;
	ps_ooo_release(t, d);
in:
	/* A FIN or RST that came with data and still no whole header. */
	if (f->who.proxy == PS_PROXY_WAIT && (x->p.tcpflags & (PS_TCP_FIN | PS_TCP_RST)))
		ps_who_closed(x, 1);
	/* Bytes of requests that name their own clients are theirs. */
	if (x->c && (res->new_bytes > t->rb_moved || t->rb_conn))
		ps_add(x->c->rx_payload, (res->new_bytes > t->rb_moved ?
					  res->new_bytes - t->rb_moved : 0) + t->rb_conn);
	else if (f->who.proxy == PS_PROXY_WAIT)
		f->who.pend_rx_payload += res->new_bytes;
	return TC_ACT_OK;
}

/* A claim on a flow older than this is taken over: no program runs that long. */
#define PS_FLOW_STALE_NS	1000000ULL
/*
 * How long a segment waits for the CPU that holds its flow. The holder
 * runs one segment's program (tens of microseconds at most); a dropped
 * segment costs its sender a retransmission and a smaller window.
 */
#define PS_FLOW_WAIT_NS		200000ULL
/* Turns of the wait: a bound for the verifier, the clock ends it first. */
#define PS_FLOW_WAIT_TURNS	(1U << 16)

/* bpf_loop context of a wait for a flow (on the stack, as bpf_loop() wants it). */
struct ps_take_ctx {
	struct ps_flow *f;
	__u64 t;		/* when the wait began; once got, when it was taken */
	__u32 got;
};

/*
 * One turn of the wait: take the flow if no CPU holds it or its claim is
 * stale. The claim is read before the clock, so that a claim made after
 * this CPU read its clock never looks stale.
 */
static long ps_flow_take_cb(__u32 i, void *data)
{
	struct ps_take_ctx *c = data;
	__u64 b = READ_ONCE(c->f->busy_ns), now = bpf_ktime_get_boot_ns();

	if (!c->t)
		c->t = now;
	if (!b || (__s64)(now - b) >= (__s64)PS_FLOW_STALE_NS) {
		if (__sync_val_compare_and_swap(&c->f->busy_ns, b, now) == b) {
			c->t = now;
			c->got = 1;
			return 1;
		}
		return 0;
	}
	return now - c->t >= PS_FLOW_WAIT_NS ? 1 : 0;
}

/*
 * The wait, a global function: its context on its own stack, not on the
 * program's. Returns the clock when it took the flow, 0 if it did not.
 */
__weak __attribute__((noinline)) __u64 ps_flow_wait(struct ps_flow *f)
{
	struct ps_take_ctx c = { .f = f };

	if (!f)
		return 0;
	bpf_loop(PS_FLOW_WAIT_TURNS, ps_flow_take_cb, &c, 0);
	return c.got ? c.t : 0;
}

/*
 * Take the flow's client stream for this CPU: 1 once it is ours, 0 if
 * another CPU held it for longer than PS_FLOW_WAIT_NS. Segments of one
 * connection are normally handled one at a time, but veth without XDP
 * and a sender's retransmission timer firing on another CPU can run two
 * at once (a sender's own CPU and the CPU its ACKs arrive on take turns);
 * the state of one stream is not built to be changed by two, and a
 * segment dropped for it makes the sender back off. So the second waits
 * for the first, another CPU in the middle of one segment's program, in
 * softirq as this one is. A segment that waited goes on with the clock
 * read when it took the flow (*now), after its holder's.
 */
static __always_inline int ps_flow_take(struct ps_flow *f, __u64 *now)
{
	__u64 t;

	if (ps_replay)
		return 1;
	/* The common case, nobody holding it, without a loop (the claim
	 * dated by the program's clock: at most its start earlier). */
	if (!READ_ONCE(f->busy_ns) && !__sync_val_compare_and_swap(&f->busy_ns, 0, *now | 1))
		return 1;
	t = ps_flow_wait(f);
	if (t && (__s64)(t - *now) > 0)
		*now = t;
	return !!t;
}

SEC("tc")
int ps_ingress(struct __sk_buff *skb)
{
	struct ps_pkt_ctx x = {};
	int verdict;

	if (ps_account(skb, 1, &x))
		return x.verdict;
	if (!x.p.payload_len)
		return TC_ACT_OK;
	if (!ps_flow_take(x.f, &x.now)) {
		/* Its TCP sends it again, as for a segment lost on the wire. */
		ps_stat_inc(PS_STAT_FLOW_BUSY);
		return TC_ACT_SHOT;
	}
	verdict = ps_ingress_data(skb, &x);
	if (!ps_replay)
		WRITE_ONCE(x.f->busy_ns, 0);
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
