/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The server's side of an HTTP/2 cleartext connection on egress (RFC
 * 9113, docs/http2-counting.md section 6): its frames followed by their
 * 9-byte headers across segments, a header cut by a segment's end held in
 * the connection's state (struct ps_h2_resp, map ps_h2r), payloads skipped
 * by arithmetic without being loaded, except the DATA of the streams that
 * the ingress program classified as inference requests (ps_h2_conn.inf_hi
 * and inf_bits in ps_h2): their data (PADDED frames' padding left out)
 * goes through the scan of an HTTP/1 body (response.h's ps_resp_scan():
 * sse.h, usage.h), with a scan state per stream, so that the client's
 * tx_events, tx_tokens, rx_tokens and tx_tokens_estimated count and its
 * token limits are debited as for HTTP/1. The response's headers are not
 * read: every inference stream's data is scanned for both "data:" lines
 * and usage keys, once its first bytes (up to PS_H2R_HOLD, held in its
 * slot) show text an answer starts with, JSON or an event stream; other
 * data is an encoded answer, its bytes its estimate (ps_h2r_judge(),
 * docs/output-tokens.md). A gRPC call's (the ingress found its
 * request's content-type application/grpc: ps_h2_conn.grpc_bits) is not
 * scanned, its messages are counted instead (tx_messages): each message's
 * 5-byte prefix is read, cut anywhere by frames and segments, and counts
 * when read whole; its bytes are skipped.
 *
 * Streams interleave: the scans of PS_H2R_SLOTS inference streams are in
 * the connection's value; when one more's DATA comes and no slot is free,
 * a slot's scan is put aside in ps_h2r_page (keyed by the connection's tag
 * and the stream) and comes back when its stream's next frame does, so
 * that a gateway's pooled connection with a hundred answers in progress
 * has each scanned whole. A stream's slot is freed by the server's
 * END_STREAM (on DATA or trailing HEADERS) or RST_STREAM. The slot put
 * aside is a free one's, else one whose stream is 64 inference requests or
 * more behind the newest (the client likely reset it), else the next in
 * turn. A scan that cannot be put aside (the map refuses) is lost and its
 * stream's DATA frames walked past unscanned (stats.h2_no_slot).
 *
 * A connection is followed from the server's first byte when that byte
 * starts its connection preface (a SETTINGS frame without ACK on stream
 * 0), the handshake seen, or from the byte after a 101 that switches it
 * to h2c (an HTTP/1.1 Upgrade, RFC 7540 section 3.2): stream 1 is then the
 * answer to the upgraded request, an inference stream when that request
 * was one. Bytes lost (a hole in the server's stream, bytes
 * not captured) stop the following for the connection
 * (stats.h2_resp_lost), as HTTP/1 responses stop.
 */
#ifndef PS_BPF_H2RESP_H
#define PS_BPF_H2RESP_H

#include "common.h"
#include "maps.h"
#include "sse.h"
#include "usage.h"
#include "tokens.h"
#include "response.h"

#define PS_H2R_STEPS	4096	/* steps (a frame header, a skip, PS_RESP_CHUNK bytes of
				 * data) per segment */
#define PS_H2R_HDR	9	/* bytes of a frame header */
#define PS_H2R_BEG_SEG	16	/* answers begun in a segment noted in ps_h2_resp.begun */

/* Frame types and flags read here (RFC 9113 section 6). */
#define PS_H2R_T_DATA		0x0
#define PS_H2R_T_HEADERS	0x1
#define PS_H2R_T_RST		0x3
#define PS_H2R_T_SETTINGS	0x4
#define PS_H2R_F_END_STREAM	0x1
#define PS_H2R_F_PADDED		0x8

/* ps_h2r_segment()'s how. */
#define PS_H2R_START	0x1	/* the segment may start the connection's following */
#define PS_H2R_LOST	0x2	/* bytes of the server's stream were lost */
#define PS_H2R_UP_INF	0x4	/* with START after a 101 to h2c: stream 1 answers an
				 * inference request */

/* Inference streams' scans put aside (struct ps_h2_stream_key). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_H2_CONNS);
	__type(key, struct ps_h2_stream_key);
	__type(value, struct ps_h2r_slot);
} ps_h2r_page SEC(".maps") __weak;

struct ps_h2r_in {
	struct ps_flow_key k;
	__u64 now;
	__u32 off;
	__u32 len;
	__u32 avail;
	__u32 how;
	__u32 cslot;	/* the connection's client: its slot ... */
	__u32 cgen;	/* ... while its gen is this (0: none) */
};

/* ps_h2r_text()'s reading of a stream's held bytes. */
struct ps_h2r_tctx {
	__u32 j;		/* PS_H2J_* */
	__u32 e;		/* PS_H2S_* */
	__u32 p;		/* where a field's name stands (ps_h2s_name()) */
	__u32 cont;		/* continuation bytes a UTF-8 sequence still needs */
	__u32 no;		/* neither */
	__u32 sure;		/* a "data:", "event:" or "retry:" line began */
	__u64 np;		/* the held bytes not from 0x20 to 0x7e (ps_h2r_np()) */
};

/*
 * What a segment counted of the answers to one client: the streams of a
 * slot whose request was its own client's (slot, gen), or, at
 * acc[PS_H2R_SLOTS], the connection's client's.
 */
struct ps_h2r_acc {
	__u32 events;		/* events ... */
	__u32 tx_tokens;	/* ... completion_tokens reported ... */
	__u32 rx_tokens;	/* ... prompt_tokens reported ... */
	__u32 est;		/* ... events of streams that ended without usage ... */
	__u32 debit;		/* ... and tokens to debit from the token limits */
	__u32 slot;
	__u32 gen;		/* 0: the connection's client */
	__u32 pad;
};

/* A segment's working state, per CPU. */
struct ps_h2r_work {
	struct ps_h2_resp st;
	struct ps_h2r_in in;	/* the segment, as the egress program hands it over
				 * (here, not on its stack: the calls below it
				 * need that room) */
	__u64 inf_bits;		/* the ingress's inference streams, as read at the start */
	__u64 grpc_bits;	/* ... which of them are gRPC calls */
	__u32 inf_hi;
	__u32 msgs;		/* gRPC messages counted in this segment */
	struct ps_h2r_acc acc[PS_H2R_SLOTS + 1];	/* its answers' counts, by client */
	struct ps_h2_subj hs[PS_H2S_SLOTS];	/* the ingress's streams of their own clients */
	__u32 no_slot;		/* ... DATA frames of inference streams not scanned ... */
	__u32 encoded;		/* ... and streams whose data is encoded */
	struct ps_h2r_tctx tx;	/* (here: ps_h2r_text_byte() reads and writes it) */
	__u32 done;		/* the segment's bytes read or skipped (here, not in the
				 * loop's context: the verifier then need not follow
				 * each step's count apart) */
	__u32 fhs;		/* the frame's stream's entry in hs, PS_H2S_SLOTS if none ... */
	__u32 pstart;		/* ... and where its payload's bytes not yet counted begin */
	__u32 hsb[PS_H2S_SLOTS];	/* the segment's frame payload bytes of hs[j]'s stream ... */
	__u32 hsm[PS_H2S_SLOTS];	/* ... and its gRPC messages */
	__u32 moved;		/* the segment's bytes counted to the streams' own clients */
	__u32 hsany;		/* hsb or hsm holds a count (then cleared at the next
				 * segment's start): else neither is walked nor cleared */
	__u32 hsnone;		/* the connection's hs never held a stream: hs not read */
	__u64 ftag;		/* the connection's tag (ps_h2_conn.ftag; 0: none) */
	struct ps_h2_stream_key pk;	/* a stream's key in ps_h2r_page ... */
	struct ps_h2r_slot pg;	/* ... and its scan, on its way back */
	__u32 want;		/* the frame's stream is due a slot (ps_h2r_take()) ... */
	__u32 asid;		/* ... the stream ps_h2r_take() works on ... */
	__u32 aback;		/* ... its scan back from ps_h2r_page (in pg) ... */
	__u32 aslot;		/* ... its client ... */
	__u32 agen;
	__u32 ak;		/* ... and the slot it takes */
	__u32 agrpc;		/* a new stream's: a gRPC call */
	__u32 nbeg;		/* inference streams whose answers began in the segment ... */
	__u32 beg[PS_H2R_BEG_SEG];	/* ... the first of them (ps_h2_resp.begun; one
					 * not noted is kept in ps_h2_late all the same) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_h2r_work);
} ps_h2r_map SEC(".maps");

static __always_inline struct ps_h2r_work *ps_h2r_work(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ps_h2r_map, &zero);
}

/* The entry of the connection's hs naming stream sid's own client, PS_H2S_SLOTS if none. */
static __always_inline __u32 ps_h2r_hs_of(const struct ps_h2r_work *w, __u32 sid)
{
	return w->hsnone ? PS_H2S_SLOTS : ps_h2_hs_at(w->hs, sid);
}

/*
 * The frame's payload bytes walked since pstart are its stream's client's
 * when the ingress named one for it (hs), else the connection's client's.
 */
static __always_inline void ps_h2r_pbytes(struct ps_h2r_work *w)
{
	__u32 j = w->fhs;

	if (j < PS_H2S_SLOTS && w->done > w->pstart) {
		barrier_var(j);
		w->hsb[j & (PS_H2S_SLOTS - 1)] += w->done - w->pstart;
		w->hsany = 1;
	}
	w->pstart = w->done;
}

/* A gRPC message of the frame's stream: its client's, or the connection's. */
static __always_inline void ps_h2r_msg(struct ps_h2r_work *w)
{
	__u32 j = w->fhs;

	if (j < PS_H2S_SLOTS) {
		barrier_var(j);
		w->hsm[j & (PS_H2S_SLOTS - 1)]++;
		w->hsany = 1;
	} else {
		w->msgs++;
	}
}

/* Did the ingress classify client stream sid as an inference request? */
static __always_inline int ps_h2r_is_inf(const struct ps_h2r_work *w, __u32 sid)
{
	__u32 d;

	if (sid == 1 && w->st.up1)
		return 1;
	if (!(sid & 1) || sid > w->inf_hi)
		return 0;
	d = (w->inf_hi - sid) >> 1;
	return d < 64 && ((w->inf_bits >> d) & 1);
}

/* Is inference stream sid (ps_h2r_is_inf()) a gRPC call? */
static __always_inline int ps_h2r_is_grpc(const struct ps_h2r_work *w, __u32 sid)
{
	__u32 d = (w->inf_hi - sid) >> 1;

	return d < 64 && ((w->grpc_bits >> d) & 1);
}

/* A slot's stream is so far behind the newest inference stream that it is taken back. */
static __always_inline int ps_h2r_stale(const struct ps_h2r_work *w, __u32 sid)
{
	return sid < w->inf_hi && ((w->inf_hi - sid) >> 1) >= 64;
}

/*
 * Stream sid is a client's stream as far behind (ps_h2r_stale()): out of
 * the ingress's window, it may be an inference stream kept in ps_h2_late.
 */
static __always_inline int ps_h2r_late(const struct ps_h2r_work *w, __u32 sid)
{
	return (sid & 1) && ps_h2r_stale(w, sid);
}

/* Stream sid's key in ps_h2r_page and ps_h2_late, in w->pk. */
static __always_inline void ps_h2r_key(struct ps_h2r_work *w, __u32 sid)
{
	w->pk.tag = w->ftag;
	w->pk.sid = sid;
	w->pk.pad = 0;
}

/* The slot of stream sid, PS_H2R_SLOTS if none. */
static __always_inline __u32 ps_h2r_find(const struct ps_h2r_work *w, __u32 sid)
{
	__u32 i;

	for (i = 0; i < PS_H2R_SLOTS; i++)
		if (w->st.s[i].sid == sid)
			return i;
	return PS_H2R_SLOTS;
}

/* Where slot i's stream's counts go: its own client's, or the connection's. */
static __always_inline struct ps_h2r_acc *ps_h2r_acc(struct ps_h2r_work *w, __u32 i)
{
	i &= PS_H2R_SLOTS - 1;
	return w->acc[i].gen ? &w->acc[i] : &w->acc[PS_H2R_SLOTS];
}

/* A stream's debit so far, as HTTP/1's (response.h, ps_resp_debit()). */
static __always_inline void ps_h2r_debit(struct ps_h2r_work *w, __u32 i)
{
	struct ps_resp *r = &w->st.s[i & (PS_H2R_SLOTS - 1)].r;
	__u32 d = r->tx_seen + r->rx_seen;

	if (r->ev > d)
		d = r->ev;
	if (d > r->dbt) {
		ps_h2r_acc(w, i)->debit += d - r->dbt;
		r->dbt = d;
	}
}

/*
 * What slot i's streams counted in the segment so far goes to their
 * client's counters and token limits; to the connection's client when
 * that client's slot is gone. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_acc_flush(__u32 i)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_client_ctr *ctr;
	struct ps_h2r_acc *a, *c;

	if (!w)
		return 0;
	a = &w->acc[i & (PS_H2R_SLOTS - 1)];
	c = &w->acc[PS_H2R_SLOTS];
	if (!a->gen || !(a->events | a->tx_tokens | a->rx_tokens | a->est | a->debit))
		return 0;
	ctr = ps_slot_ctr(a->slot);
	if (ctr && ctr->gen == a->gen) {
		ps_answer_count(ctr, a->events, a->tx_tokens, a->rx_tokens, a->debit, a->est,
				w->in.now);
	} else {
		c->events += a->events;
		c->tx_tokens += a->tx_tokens;
		c->rx_tokens += a->rx_tokens;
		c->est += a->est;
		c->debit += a->debit;
	}
	a->events = a->tx_tokens = a->rx_tokens = a->est = a->debit = 0;
	return 0;
}

/* Does slot i's count in the segment take a stream of client (slot, gen)? */
static __always_inline int ps_h2r_acc_fits(const struct ps_h2r_work *w, __u32 i, __u32 slot,
					   __u32 gen)
{
	const struct ps_h2r_acc *a = &w->acc[i & (PS_H2R_SLOTS - 1)];

	return (a->gen == gen && a->slot == slot) ||
	       !(a->events | a->tx_tokens | a->rx_tokens | a->est | a->debit);
}

/*
 * Slot k's scan is put aside in ps_h2r_page and k is free; a scan the map
 * refuses is lost (stats.h2_no_slot).
 */
static __always_inline void ps_h2r_page_out(struct ps_h2r_work *w, __u32 k)
{
	struct ps_h2r_slot *sl = &w->st.s[k & (PS_H2R_SLOTS - 1)];

	ps_h2r_key(w, sl->sid);
	if (!w->ftag || bpf_map_update_elem(&ps_h2r_page, &w->pk, sl, BPF_ANY))
		w->no_slot++;
	else if (w->st.npaged < 0xffff)
		w->st.npaged++;
	sl->sid = 0;
}

/*
 * Stream sid's scan, if it was put aside, taken out of ps_h2r_page into
 * w->pg (before a slot is made for it: putting another aside may take its
 * element's place in the LRU). Returns 1 if it was. A global function,
 * verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_page_fetch(__u32 sid)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_h2r_slot *p;

	if (!w || !w->st.npaged || !w->ftag || !sid)
		return 0;
	ps_h2r_key(w, sid);
	p = bpf_map_lookup_elem(&ps_h2r_page, &w->pk);
	if (!p)
		return 0;
	bpf_probe_read_kernel(&w->pg, sizeof(w->pg), p);
	bpf_map_delete_elem(&ps_h2r_page, &w->pk);
	w->st.npaged--;
	return w->pg.sid == sid;
}

/*
 * The slot a stream of client (slot, gen) takes: a free one, one whose
 * count in the segment is that client's first; else one whose stream is 64
 * inference requests or more behind the newest; else the next in turn. A
 * global function, verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_pick(__u32 slot, __u32 gen)
{
	struct ps_h2r_work *w = ps_h2r_work();
	__u32 i, k;

	if (!w)
		return 0;
	for (i = 0; i < PS_H2R_SLOTS; i++)
		if (!w->st.s[i].sid && ps_h2r_acc_fits(w, i, slot, gen))
			return i;
	for (i = 0; i < PS_H2R_SLOTS; i++)
		if (!w->st.s[i].sid)
			return i;
	for (i = 0; i < PS_H2R_SLOTS; i++)
		if (ps_h2r_stale(w, w->st.s[i].sid))
			return i;
	k = w->st.rr & (PS_H2R_SLOTS - 1);
	w->st.rr = k + 1;
	return k;
}

/*
 * Stream sid, out of the ingress's window, is an inference stream its
 * bit left the window as (ps_h2_late, written by ingress: http2.h
 * ps_h2_late_out()): its client and kind in w (aslot, agen, agrpc), and
 * its entry gone. Returns 1 if it is. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_late_fetch(__u32 sid)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_h2_late *l;

	if (!w || !w->ftag)
		return 0;
	ps_h2r_key(w, sid);
	l = bpf_map_lookup_elem(&ps_h2_late, &w->pk);
	if (!l)
		return 0;
	w->aslot = l->slot;
	w->agen = l->gen;
	w->agrpc = l->grpc;
	bpf_map_delete_elem(&ps_h2_late, &w->pk);
	return 1;
}

/*
 * The frame's stream, without a slot, gets one: its scan put aside comes
 * back, or an inference stream's begins (not if ending: a frame that ends
 * the stream without data, trailing HEADERS or RST_STREAM, only brings a
 * scan back). The slot is ps_h2r_pick()'s, the scan of a stream in it put
 * aside. The stream's client is the one the ingress handed over for it
 * (ps_h2_conn.hs), else the connection's. A slot whose count in the
 * segment is another client's has that count go to its client's counters
 * there and then (ps_h2r_acc_flush()), as it would at the segment's end: a
 * segment may end the answers of more clients than there are slots (a
 * gateway's pooled connection). Called from the step, not from
 * ps_h2r_header() or ps_h2r_frame_end(): the flush and the token debit
 * below it would not fit on the stack under them; what it works on is in
 * w, not on its own stack, for the same reason. A global function,
 * verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_take(int ending)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_h2r_slot *sl;
	struct ps_h2r_acc *a;
	__u32 j;

	if (!w)
		return 0;
	w->want = 0;
	w->asid = w->st.sid;
	if (!w->asid || ps_h2r_find(w, w->asid) < PS_H2R_SLOTS)
		return 0;
	w->aback = w->st.npaged && ps_h2r_page_fetch(w->asid);
	if (w->aback) {
		w->aslot = w->pg.r.sslot;
		w->agen = w->pg.r.sgen;
	} else if (ending) {
		return 0;
	} else if (ps_h2r_is_inf(w, w->asid)) {
		j = ps_h2r_hs_of(w, w->asid);
		w->aslot = j < PS_H2S_SLOTS ? w->hs[j].slot : 0;
		w->agen = j < PS_H2S_SLOTS ? w->hs[j].gen : 0;
		w->agrpc = ps_h2r_is_grpc(w, w->asid);
	} else if (!ps_h2r_late(w, w->asid) || !ps_h2r_late_fetch(w->asid)) {
		return 0;
	}
	w->ak = ps_h2r_pick(w->aslot, w->agen) & (PS_H2R_SLOTS - 1);
	if (w->st.s[w->ak & (PS_H2R_SLOTS - 1)].sid)
		ps_h2r_page_out(w, w->ak);
	if (!ps_h2r_acc_fits(w, w->ak, w->aslot, w->agen))
		ps_h2r_acc_flush(w->ak);
	a = &w->acc[w->ak & (PS_H2R_SLOTS - 1)];
	a->slot = w->aslot;
	a->gen = w->agen;
	sl = &w->st.s[w->ak & (PS_H2R_SLOTS - 1)];
	if (w->aback) {
		bpf_probe_read_kernel(sl, sizeof(*sl), &w->pg);
	} else {
		__builtin_memset(sl, 0, sizeof(*sl));
		sl->sid = w->asid;
		sl->r.flags = PS_RF_INFERENCE;
		sl->grpc = w->agrpc;
		ps_sse_begin(&sl->r.sse);
		ps_tk_begin(&sl->r);
		sl->r.sslot = w->aslot;
		sl->r.sgen = w->agen;
		/* Its request was charged the token_reserve (response.h). */
		sl->r.dbt = ps_tok_reserve_at(w->agen ? w->aslot : w->in.cslot,
					      w->agen ? w->agen : w->in.cgen);
		/* Begun: not kept in ps_h2_late when it leaves the window
		 * (ps_h2_resp.begun, written at the segment's end). */
		if (w->nbeg < PS_H2R_BEG_SEG)
			w->beg[w->nbeg & (PS_H2R_BEG_SEG - 1)] = w->asid;
		w->nbeg++;
	}
	if (ending)
		return 0;
	w->st.slot = w->ak;
	if (w->st.state == PS_H2R_SKIP)
		w->st.state = PS_H2R_DATA;
	return 0;
}

/*
 * Stream sid ended (the server's END_STREAM or RST_STREAM): a number the
 * data ended on is read, a stream that reported no completion_tokens has
 * its events (not [DONE]) as its estimate, and its slot is free.
 */
static __always_inline void ps_h2r_stream_end(struct ps_h2r_work *w, __u32 sid)
{
	__u32 i = ps_h2r_find(w, sid);
	struct ps_h2r_slot *sl;
	struct ps_h2r_acc *a;

	if (!sid || i >= PS_H2R_SLOTS)
		return;
	sl = &w->st.s[i];
	a = ps_h2r_acc(w, i);
	ps_tk_byte(&sl->r, ' ', &a->tx_tokens, &a->rx_tokens);
	if (!(sl->r.flags & PS_RF_USAGE))
		a->est += sl->r.ev;
	ps_h2r_debit(w, i);
	sl->sid = 0;
}

/*
 * A frame header is complete in st.hdr: what its payload is. A global
 * function, verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_header(void)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_h2_resp *st;
	__u32 flen, sid, slot = PS_H2R_SLOTS;

	if (!w)
		return 0;
	st = &w->st;
	flen = ((__u32)st->hdr[0] << 16) | ((__u32)st->hdr[1] << 8) | st->hdr[2];
	sid = (((__u32)st->hdr[5] << 24) | ((__u32)st->hdr[6] << 16) |
	       ((__u32)st->hdr[7] << 8) | st->hdr[8]) & 0x7fffffffU;

	st->type = st->hdr[3];
	st->flags = st->hdr[4];
	st->sid = sid;
	st->hdr_n = 0;
	st->left = flen;
	st->pad_left = 0;
	w->fhs = ps_h2r_hs_of(w, sid);
	w->pstart = w->done;
	if (st->type == PS_H2R_T_DATA && sid) {
		slot = ps_h2r_find(w, sid);
		/* No slot yet: ps_h2r_take() gives one, if it is due one. */
		w->want = slot >= PS_H2R_SLOTS &&
			  (st->npaged || ps_h2r_is_inf(w, sid) || ps_h2r_late(w, sid));
	}
	st->slot = slot;
	if (st->type == PS_H2R_T_DATA && (st->flags & PS_H2R_F_PADDED))
		st->state = PS_H2R_PADLEN;
	else
		st->state = slot < PS_H2R_SLOTS ? PS_H2R_DATA : PS_H2R_SKIP;
	return 0;
}

/*
 * The frame's payload is through: a stream it ends ends; the next frame
 * header comes. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_frame_end(void)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_h2_resp *st;

	if (!w)
		return 0;
	st = &w->st;
	if (((st->type == PS_H2R_T_DATA || st->type == PS_H2R_T_HEADERS) &&
	     (st->flags & PS_H2R_F_END_STREAM)) ||
	    st->type == PS_H2R_T_RST)
		ps_h2r_stream_end(w, st->sid);
	st->state = PS_H2R_FRAME;
	st->hdr_n = 0;
	return 0;
}

/* ps_h2r_judge()'s readings of the held bytes as JSON ... */
enum {
	PS_H2J_WS = 0,		/* white space before the value */
	PS_H2J_OBJ,		/* after its '{' */
	PS_H2J_ARR,		/* after its '[' */
	PS_H2J_IN,		/* inside it */
	PS_H2J_NO,		/* not JSON */
};
/* ... and as an event stream. */
enum {
	PS_H2S_LINE = 0,	/* at a line's start */
	PS_H2S_NAME,		/* in a field's name (ps_h2s_name()) */
	PS_H2S_TEXT,		/* after a field's ':' */
	PS_H2S_NO,		/* not an event stream */
};

/*
 * The byte that comes at p of the field names an event stream's lines
 * start with: "data:", "event:", "id:", "retry:" without their first
 * byte, one after the other ("ata:" at 0, "vent:" at 4, "d:" at 9,
 * "etry:" at 11).
 */
static __always_inline __u8 ps_h2s_name(__u32 p)
{
	switch (p) {
	case 0: return 'a';
	case 1: return 't';
	case 2: return 'a';
	case 4: return 'v';
	case 5: return 'e';
	case 6: return 'n';
	case 7: return 't';
	case 9: return 'd';
	case 11: return 'e';
	case 12: return 't';
	case 13: return 'r';
	case 14: return 'y';
	default: return ':';
	}
}

/* ps_h2r_text()'s byte i; 1 when the reading is over. A global
 * function, verified once. */
__weak __attribute__((noinline)) int ps_h2r_text_byte(__u32 i)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_h2r_tctx *x;
	__u32 j, e;
	__u8 c;

	if (!w)
		return 1;
	x = &w->tx;
	j = x->j;
	e = x->e;
	c = w->st.s[w->st.slot & (PS_H2R_SLOTS - 1)].hold[i & (PS_H2R_HOLD - 1)];

	/* UTF-8, no control byte but white space. */
	if (x->cont) {
		if ((c & 0xc0) != 0x80)
			goto no;
		x->cont--;
	} else if (c >= 0xc2 && c <= 0xf4) {
		x->cont = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
	} else if (c >= 0x7f || (c < 0x20 && c != '\t' && c != '\n' && c != '\r')) {
		goto no;
	}
	/* JSON. */
	if (j == PS_H2J_WS) {
		j = c == '{' ? PS_H2J_OBJ : c == '[' ? PS_H2J_ARR :
		    c == ' ' || c == '\t' || c == '\n' || c == '\r' ? PS_H2J_WS : PS_H2J_NO;
	} else if (j == PS_H2J_OBJ || j == PS_H2J_ARR) {
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			;
		else if (c == '"' || (j == PS_H2J_OBJ && c == '}') ||
			 (j == PS_H2J_ARR && (c == ']' || c == '{' || c == '[' || c == '-' ||
					      (c >= '0' && c <= '9') || c == 't' || c == 'f' ||
					      c == 'n')))
			j = PS_H2J_IN;
		else
			j = PS_H2J_NO;
	}
	/* An event stream. */
	if (e == PS_H2S_LINE) {
		if (c == ':') {
			e = PS_H2S_TEXT;
		} else if (c == 'd' || c == 'e' || c == 'i' || c == 'r') {
			e = PS_H2S_NAME;
			x->p = c == 'd' ? 0 : c == 'e' ? 4 : c == 'i' ? 9 : 11;
		} else if (c != '\n' && c != '\r') {
			e = PS_H2S_NO;
		}
	} else if (e == PS_H2S_NAME) {
		if (c != ps_h2s_name(x->p)) {
			e = PS_H2S_NO;
		} else if (c == ':') {
			e = PS_H2S_TEXT;
			if (x->p != 10) {
				x->sure = 1;
				return 1;
			}
		} else
			x->p++;
	} else if (e == PS_H2S_TEXT && (c == '\n' || c == '\r')) {
		e = PS_H2S_LINE;
	}
	x->j = j;
	x->e = e;
	/* Inside a JSON value, not an event stream, no UTF-8 sequence
	 * open: bytes from 0x20 to 0x7e change nothing, and the rest are
	 * all such bytes. */
	if (j == PS_H2J_IN && e == PS_H2S_NO && !x->cont && i < 63 && !(x->np >> (i + 1)))
		return 1;
	if (j != PS_H2J_NO || e != PS_H2S_NO)
		return 0;
no:
	x->no = 1;
	return 1;
}

/*
 * The held bytes of the frame's slot (n of them) that are not from 0x20
 * to 0x7e, one bit each, byte i at bit i: four words' tests.
 */
static __always_inline __u64 ps_h2r_np(const struct ps_h2r_work *w, __u32 n)
{
	const struct ps_h2r_slot *sl = &w->st.s[w->st.slot & (PS_H2R_SLOTS - 1)];
	__u64 m = 0, x, ge, z, eq;
	int k;

	if (n > PS_H2R_HOLD)
		return 0;
#pragma unroll
	for (k = 0; k < PS_H2R_HOLD / 8; k++) {
		__builtin_memcpy(&x, &sl->hold[8 * k], 8);
		/* 0x20 or more in the low seven bits; 0x7f; the high bit. */
		ge = ((x & 0x7f7f7f7f7f7f7f7fULL) + 0x6060606060606060ULL) & 0x8080808080808080ULL;
		z = x ^ 0x7f7f7f7f7f7f7f7fULL;
		eq = ~(((z & 0x7f7f7f7f7f7f7f7fULL) + 0x7f7f7f7f7f7f7f7fULL) | z) &
		     0x8080808080808080ULL;
		x = (~ge | x | eq) & 0x8080808080808080ULL;
		m |= (((x >> 7) * 0x0102040810204080ULL) >> 56) << (8 * k);
	}
	return m & ((1ULL << n) - 1);
}

/*
 * Is the data that starts with the n bytes held in the frame's slot (n
 * of PS_H2R_HOLD, fewer when the stream ended first) text an inference
 * server writes? The server's content-encoding is not read (its HPACK is not followed), and
 * brotli has no magic: data is taken for text only when it starts as an
 * answer does, else it is encoded (docs/output-tokens.md, "HTTP/2").
 * Every byte is UTF-8 (its sequences well formed, one cut by the bytes'
 * end allowed), no control byte but tab, CR and LF; and the bytes are
 * JSON, white space then '{' and white space then '"' or '}', or '['
 * and white space then a value's first byte or ']'; or an event
 * stream, lines that are blank or start with "data:", "event:", "id:",
 * "retry:" or ':' (a comment), the last one cut anywhere. Returns 0 for
 * neither, 2 when a "data:", "event:" or "retry:" line began (text, the
 * bytes after it unread: 32 bits of brotli's would match them once in
 * 2^32), else 1.
 */
static __always_inline int ps_h2r_text(struct ps_h2r_work *w, __u32 n)
{
	__u32 i;

	if (n > PS_H2R_HOLD)
		return 0;
	__builtin_memset(&w->tx, 0, sizeof(w->tx));
	w->tx.np = ps_h2r_np(w, n);
	for (i = 0; i < PS_H2R_HOLD && i < n; i++)
		if (ps_h2r_text_byte(i))
			break;
	if (w->tx.sure)
		return 2;
	return !w->tx.no && (w->tx.j == PS_H2J_IN || w->tx.e != PS_H2S_NO);
}

/*
 * The held bytes of a stream's data are judged: when enough of them came
 * (PS_H2R_HOLD), when they are text for sure or not text (ps_h2r_text()),
 * or at the stream's end (end: the frame that ends it; the stream's slot
 * is looked up and made the frame's). Data that is not text is an
 * encoded answer, its bytes its estimate, as HTTP/1's (response.h,
 * PS_RF_ENCODED). Returns the bytes held, for the caller to scan or count
 * (ps_h2r_release()); 0 when there are none or they are held on. A global
 * function, verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_judge(int end)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_h2r_slot *sl;
	__u32 i, n;
	int t;

	if (!w)
		return 0;
	if (end) {
		i = ps_h2r_find(w, w->st.sid);
		if (!w->st.sid || i >= PS_H2R_SLOTS)
			return 0;
		w->st.slot = i;
	}
	sl = &w->st.s[w->st.slot & (PS_H2R_SLOTS - 1)];
	if (sl->body || sl->grpc)
		return 0;
	n = sl->held;
	if (n > PS_H2R_HOLD)
		n = PS_H2R_HOLD;
	if (!n)
		return 0;
	t = ps_h2r_text(w, n);
	/* Neither for sure yet: held on. */
	if (t != 2 && !w->tx.no && !end && n < PS_H2R_HOLD)
		return 0;
	sl->body = 1;
	sl->held = 0;
	if (!t) {
		sl->r.flags |= PS_RF_ENCODED;
		w->encoded++;
	}
	return n;
}

/*
 * The n bytes of data in the HTTP/1 scan's buffer (ps_resp_work.b) through
 * the HTTP/1 body scanners (response.h's ps_resp_scan(): SSE lines and
 * usage keys, eight bytes at a time where none matters), with the scan
 * state of the frame's slot: the slot's state is put in the HTTP/1
 * work's response as a body that runs to the connection's end, scanned as
 * an event stream, and taken back with what the bytes counted. A global
 * function, verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_scan(__u32 n)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_resp_work *rw = ps_resp_work();
	struct ps_h2r_slot *sl;
	struct ps_h2r_acc *a;

	if (!w || !rw || !n || n > PS_RESP_CHUNK)
		return 0;
	sl = &w->st.s[w->st.slot & (PS_H2R_SLOTS - 1)];
	/* An encoded answer's bytes are its estimate (ps_h2r_judge()). */
	if (sl->r.flags & PS_RF_ENCODED) {
		sl->r.ev += n;
		ps_h2r_debit(w, w->st.slot);
		return 0;
	}
	rw->r = sl->r;
	rw->r.state = PS_R_EOF;
	rw->r.flags |= PS_RF_INFERENCE | PS_RF_SSE;
	rw->events = 0;
	rw->tx_tokens = 0;
	rw->rx_tokens = 0;
	ps_resp_scan(n, 0);
	sl->r = rw->r;
	ps_h2r_debit(w, w->st.slot);
	a = ps_h2r_acc(w, w->st.slot);
	a->events += rw->events;
	a->tx_tokens += rw->tx_tokens;
	a->rx_tokens += rw->rx_tokens;
	return 0;
}

/* Prefixes or message bytes one call of ps_h2r_grpc() takes at most: a
 * chunk's worth of empty messages. */
#define PS_H2R_GRPC_STEPS	(PS_RESP_CHUNK / 5 + 2)

/* bpf_loop context of ps_h2r_grpc(): the chunk's bytes read so far, of n. */
struct ps_h2r_gctx {
	__u32 p;
	__u32 n;
};

/* bpf_loop callback: one prefix, a prefix's byte, or a message's bytes of the chunk. */
static long ps_h2r_grpc_cb(__u32 idx, void *data)
{
	struct ps_h2r_gctx *x = data;
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_resp_work *rw = ps_resp_work();
	struct ps_h2r_slot *sl;
	__u32 p = x->p, n = x->n, k;

	if (!w || !rw || p >= n || n > PS_RESP_CHUNK)
		return 1;
	sl = &w->st.s[w->st.slot & (PS_H2R_SLOTS - 1)];
	if (!sl->pfx && sl->left) {
		k = n - p < sl->left ? n - p : sl->left;
		sl->left -= k;
		p += k;
	} else if (!sl->pfx && n - p >= 5) {
		sl->left = ((__u32)rw->b[(p + 1) & (PS_RESP_CHUNK - 1)] << 24) |
			   ((__u32)rw->b[(p + 2) & (PS_RESP_CHUNK - 1)] << 16) |
			   ((__u32)rw->b[(p + 3) & (PS_RESP_CHUNK - 1)] << 8) |
			   rw->b[(p + 4) & (PS_RESP_CHUNK - 1)];
		ps_h2r_msg(w);
		p += 5;
	} else {
		sl->left = sl->pfx ? (sl->left << 8) | rw->b[p & (PS_RESP_CHUNK - 1)] : 0;
		if (++sl->pfx == 5) {
			sl->pfx = 0;
			ps_h2r_msg(w);
		}
		p++;
	}
	x->p = p;
	return 0;
}

/*
 * Data of a gRPC call's DATA frame at off in the skb (rem bytes of the
 * segment left): a message's bytes skipped unread, or a chunk loaded and
 * its prefixes read (a message counts when its 5-byte prefix is read
 * whole: a flag byte, a 4-byte big-endian length). Returns 1 when the
 * bytes cannot be read. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_grpc(struct __sk_buff *skb, __u32 off, __u32 rem)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_resp_work *rw = ps_resp_work();
	struct ps_h2r_gctx x = {};
	struct ps_h2r_slot *sl;
	__u32 n, k;

	if (!w || !rw)
		return 1;
	sl = &w->st.s[w->st.slot & (PS_H2R_SLOTS - 1)];
	n = w->st.left < rem ? w->st.left : rem;
	if (!sl->pfx && sl->left) {
		/* Inside a message. */
		k = n < sl->left ? n : sl->left;
		sl->left -= k;
		w->st.left -= k;
		w->done += k;
		return 0;
	}
	if (n > PS_RESP_CHUNK)
		n = PS_RESP_CHUNK;
	barrier_var(n);
	if (!n || n > PS_RESP_CHUNK)
		return 1;
	if (bpf_skb_load_bytes(skb, off, rw->b, n))
		return 1;
	x.n = n;
	bpf_loop(PS_H2R_GRPC_STEPS, ps_h2r_grpc_cb, &x, 0);
	if (x.p > n)
		return 1;
	w->st.left -= x.p;
	w->done += x.p;
	return 0;
}

/* bpf_loop context of a segment's bytes. */
struct ps_h2r_ctx {
	struct __sk_buff *skb;
	__u32 off;		/* the bytes start at this offset in the skb ... */
	__u32 len;		/* ... and are this many */
};

/* The connection is not followed any more. */
static __always_inline long ps_h2r_dead(struct ps_h2r_work *w)
{
	w->st.state = PS_H2R_DEAD;
	return 1;
}

/*
 * A stream's first bytes, held until judged: the DATA frame's next ones
 * at off in the skb (rem bytes of the segment left), up to PS_H2R_HOLD
 * held. Returns the bytes to scan or count when they were judged
 * (ps_h2r_judge()), 0 while they are held on, more than PS_H2R_HOLD
 * when they cannot be read. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_hold(struct __sk_buff *skb, __u32 off, __u32 rem)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_h2r_slot *sl;
	__u32 n, k;

	if (!w)
		return PS_H2R_HOLD + 1;
	sl = &w->st.s[w->st.slot & (PS_H2R_SLOTS - 1)];
	n = sl->held;
	if (n >= PS_H2R_HOLD)
		return PS_H2R_HOLD + 1;
	k = PS_H2R_HOLD - n;
	if (k > w->st.left)
		k = w->st.left;
	if (k > rem)
		k = rem;
	barrier_var(k);
	if (k < 1 || k > PS_H2R_HOLD)
		return PS_H2R_HOLD + 1;
	if (bpf_skb_load_bytes(skb, off, &sl->hold[n & (PS_H2R_HOLD - 1)], k))
		return PS_H2R_HOLD + 1;
	sl->held = n + k;
	w->st.left -= k;
	w->done += k;
	return ps_h2r_judge(0);
}

/*
 * The n bytes a stream's data held until judged (ps_h2r_judge()) are
 * scanned, or counted as an encoded answer's, as any chunk of its data.
 */
static __always_inline void ps_h2r_release(struct ps_h2r_work *w, int n)
{
	struct ps_resp_work *rw = ps_resp_work();
	struct ps_h2r_slot *sl;

	if (!rw || n <= 0 || n > PS_H2R_HOLD)
		return;
	sl = &w->st.s[w->st.slot & (PS_H2R_SLOTS - 1)];
	__builtin_memcpy(rw->b, sl->hold, PS_H2R_HOLD);
	ps_h2r_scan(n);
}

/*
 * bpf_loop callback, one step: a frame header's bytes, a pad length, a
 * chunk of data scanned, a payload or padding skipped, or a frame's end.
 */
static long ps_h2r_step(__u32 idx, void *data)
{
	struct ps_h2r_ctx *c = data;
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_resp_work *rw;
	struct ps_h2r_slot *sl;
	struct ps_h2_resp *st;
	__u32 rem, k, n;
	__u8 pad;

	if (!w)
		return 1;
	st = &w->st;
	/* A payload through (also at the segment's end): the frame ends;
	 * the data a stream it ends held is judged first. */
	if ((st->state == PS_H2R_DATA || st->state == PS_H2R_SKIP) && !st->left &&
	    !st->pad_left) {
		if (((st->type == PS_H2R_T_DATA || st->type == PS_H2R_T_HEADERS) &&
		     (st->flags & PS_H2R_F_END_STREAM)) || st->type == PS_H2R_T_RST) {
			if (st->type != PS_H2R_T_DATA && st->npaged)
				ps_h2r_take(1);
			ps_h2r_release(w, ps_h2r_judge(1));
		}
		ps_h2r_pbytes(w);
		w->fhs = PS_H2S_SLOTS;
		ps_h2r_frame_end();
		return 0;
	}
	if (w->done >= c->len)
		return 1;
	rem = c->len - w->done;
	switch (st->state) {
	case PS_H2R_FRAME:
		n = st->hdr_n;
		if (n >= PS_H2R_HDR)
			return ps_h2r_dead(w);
		k = PS_H2R_HDR - n;
		if (k > rem)
			k = rem;
		barrier_var(k);
		if (k < 1 || k > PS_H2R_HDR)
			return 1;
		if (bpf_skb_load_bytes(c->skb, c->off + w->done, &st->hdr[n & 15], k))
			return ps_h2r_dead(w);
		w->done += k;
		st->hdr_n = n + k;
		if (n + k == PS_H2R_HDR) {
			ps_h2r_header();
			if (w->want)
				ps_h2r_take(0);
		}
		return 0;
	case PS_H2R_PADLEN:
		if (bpf_skb_load_bytes(c->skb, c->off + w->done, &pad, 1))
			return ps_h2r_dead(w);
		w->done++;
		/* Padding longer than the frame: a protocol error, the
		 * connection's end. */
		if (!st->left || pad > st->left - 1)
			return ps_h2r_dead(w);
		st->left -= 1 + pad;
		st->pad_left = pad;
		st->state = st->slot < PS_H2R_SLOTS ? PS_H2R_DATA : PS_H2R_SKIP;
		return 0;
	case PS_H2R_DATA:
		if (!st->left)
			break;
		sl = &st->s[st->slot & (PS_H2R_SLOTS - 1)];
		if (sl->grpc)
			return ps_h2r_grpc(c->skb, c->off + w->done, rem) ? ps_h2r_dead(w) : 0;
		if (!sl->body) {
			k = ps_h2r_hold(c->skb, c->off + w->done, rem);
			if (k > PS_H2R_HOLD)
				return ps_h2r_dead(w);
			ps_h2r_release(w, k);
			return 0;
		}
		rw = ps_resp_work();
		if (!rw)
			return ps_h2r_dead(w);
		n = st->left < rem ? st->left : rem;
		if (n > PS_RESP_CHUNK)
			n = PS_RESP_CHUNK;
		barrier_var(n);
		if (!n || n > PS_RESP_CHUNK)
			return 1;
		if (bpf_skb_load_bytes(c->skb, c->off + w->done, rw->b, n))
			return ps_h2r_dead(w);
		ps_h2r_scan(n);
		st->left -= n;
		w->done += n;
		return 0;
	case PS_H2R_SKIP:
		if (!st->left)
			break;
		k = st->left < rem ? st->left : rem;
		st->left -= k;
		w->done += k;
		return 0;
	default:
		return 1;
	}
	/* The padding after the data. */
	k = st->pad_left < rem ? st->pad_left : rem;
	st->pad_left -= k;
	w->done += k;
	return 0;
}

/*
 * The server's new in-order bytes of a segment on a connection whose
 * frames are followed (or may start to be: PS_H2R_START): in->len at
 * in->off in the skb, of which in->avail were captured. Counts into the client's
 * counters ctr what the inference streams' data report, and debits its
 * token limits, as ps_resp_segment() does for HTTP/1. The payloads of the
 * frames of a stream whose request named its own client (ps_h2_conn.hs:
 * a key, a forwarded address) are that client's tx_payload, and its gRPC
 * messages its tx_messages; the frame headers and every other frame are
 * the connection's client's. Returns the bytes counted to streams' own
 * clients, which the caller leaves out of the connection's. A global
 * function, verified once.
 */

/* A segment begins: nothing counted yet; each slot's stream's client as it was. */
static __always_inline void ps_h2r_acc_begin(struct ps_h2r_work *w)
{
	struct ps_h2r_acc *a;
	__u32 i;

	for (i = 0; i <= PS_H2R_SLOTS; i++) {
		a = &w->acc[i];
		__builtin_memset(a, 0, sizeof(*a));
		if (i < PS_H2R_SLOTS && w->st.s[i].sid) {
			a->slot = w->st.s[i].r.sslot;
			a->gen = w->st.s[i].r.sgen;
		}
	}
}

/* The segment's counts of streams of their own clients, to them. A global function. */
__weak __attribute__((noinline)) int ps_h2r_acc_end(void)
{
	__u32 i;

	for (i = 0; i < PS_H2R_SLOTS; i++)
		ps_h2r_acc_flush(i);
	return 0;
}

/*
 * A segment begins: no payload bytes or messages counted to streams' own
 * clients yet; a payload it starts in is the stream's of the frame's
 * header. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_hs_begin(void)
{
	struct ps_h2r_work *w = ps_h2r_work();

	if (!w)
		return 0;
	w->moved = 0;
	w->pstart = 0;
	if (w->hsany) {
		__builtin_memset(w->hsb, 0, sizeof(w->hsb));
		__builtin_memset(w->hsm, 0, sizeof(w->hsm));
		w->hsany = 0;
	}
	w->fhs = w->st.state == PS_H2R_FRAME || w->st.state == PS_H2R_DEAD ?
			 PS_H2S_SLOTS : ps_h2r_hs_of(w, w->st.sid);
	return 0;
}

/*
 * The segment's frame payload bytes (a payload it ends in, up to its end)
 * and gRPC messages of streams of their own clients (hs), to them; a
 * client whose slot is gone leaves them to the connection's. Then the
 * connection's client's counts, to cc. Returns the bytes counted to the
 * streams' clients. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_h2r_hs_end(struct ps_client_ctr *cc)
{
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_client_ctr *ctr;
	struct ps_h2r_acc *a;
	__u32 j;

	if (!w)
		return 0;
	ps_h2r_pbytes(w);
	for (j = 0; j < PS_H2S_SLOTS && w->hsany; j++) {
		if (!(w->hsb[j] | w->hsm[j]))
			continue;
		ctr = ps_slot_ctr(w->hs[j].slot);
		if (ctr && ctr->gen == w->hs[j].gen) {
			if (w->hsb[j]) {
				ps_add(ctr->c.tx_payload, w->hsb[j]);
				w->moved += w->hsb[j];
			}
			if (w->hsm[j])
				ps_add(ctr->tx_messages, w->hsm[j]);
		} else {
			w->msgs += w->hsm[j];
		}
	}
	if (!cc)
		return w->moved;
	/* A stream the client resets is debited what it took. */
	a = &w->acc[PS_H2R_SLOTS];
	ps_answer_count(cc, a->events, a->tx_tokens, a->rx_tokens, a->debit, a->est, w->in.now);
	if (w->msgs)
		ps_add(cc->tx_messages, w->msgs);
	return w->moved;
}

__weak __attribute__((noinline)) int ps_h2r_segment(struct __sk_buff *skb,
						    struct ps_client_ctr *ctr)
{
	struct ps_h2r_ctx ctx = { .skb = skb };
	struct ps_h2r_work *w = ps_h2r_work();
	struct ps_h2r_in *in;
	struct ps_h2_resp *v;
	struct ps_h2_conn *h;
	__u32 len, avail, how, i;

	if (!w)
		return 0;
	in = &w->in;
	ctx.off = in->off;
	len = in->len;
	avail = in->avail;
	how = in->how;
	v = bpf_map_lookup_elem(&ps_h2r, &in->k);
	if (v && v->state == PS_H2R_DEAD)
		return 0;
	if (how & PS_H2R_LOST) {
		if (v) {
			v->state = PS_H2R_DEAD;
			ps_stat_add(PS_STAT_H2_RESP_LOST, 1);
		}
		return 0;
	}
	if (!v && !(how & PS_H2R_START))
		return 0;
	if (v) {
		/* begun is not read here: only written, at the end. */
		bpf_probe_read_kernel(&w->st, __builtin_offsetof(struct ps_h2_resp, begun), v);
	} else {
		__builtin_memset(&w->st, 0, __builtin_offsetof(struct ps_h2_resp, begun));
		for (i = 0; i < PS_H2R_BEGUN; i++) {
			w->st.begun[i] = 0;
			barrier();	/* a loop, not a memset the target lacks */
		}
		w->st.slot = PS_H2R_SLOTS;
		w->st.up1 = !!(how & PS_H2R_UP_INF);
	}
	h = bpf_map_lookup_elem(&ps_h2, &in->k);
	w->inf_hi = h ? READ_ONCE(h->inf_hi) : 0;
	w->inf_bits = h ? READ_ONCE(h->inf_bits) : 0;
	w->grpc_bits = h ? READ_ONCE(h->grpc_bits) : 0;
	w->ftag = h ? READ_ONCE(h->ftag) : 0;
	/* hs is read only on a connection whose requests named their own
	 * clients (the copy is the costly part of a segment's start). */
	w->hsnone = !h || !READ_ONCE(h->hs_used);
	if (!w->hsnone)
		bpf_probe_read_kernel(w->hs, sizeof(w->hs), h->hs);
	w->msgs = 0;
	ps_h2r_acc_begin(w);
	w->no_slot = 0;
	w->nbeg = 0;
	w->encoded = 0;
	w->done = 0;
	ps_h2r_hs_begin();
	ctx.len = avail < len ? avail : len;
	bpf_loop(PS_H2R_STEPS, ps_h2r_step, &ctx, 0);
	/* Bytes not read (not captured, or past the steps a segment has). */
	if (w->done < len && w->st.state != PS_H2R_DEAD)
		w->st.state = PS_H2R_DEAD;
	if (w->st.state == PS_H2R_DEAD)
		ps_stat_add(PS_STAT_H2_RESP_LOST, 1);
	if (w->no_slot)
		ps_stat_add(PS_STAT_H2_NO_SLOT, w->no_slot);
	if (w->encoded)
		ps_stat_add(PS_STAT_RESP_ENCODED, w->encoded);
	/* Back in place: an update of an LRU hash takes a new element (and
	 * its locks) at every segment. Only egress writes it, one segment of
	 * a connection at a time. */
	if (!v) {
		for (i = 0; i < PS_H2R_BEG_SEG && i < w->nbeg; i++)
			w->st.begun[(w->beg[i] >> 1) & (PS_H2R_BEGUN - 1)] = w->beg[i];
		bpf_map_update_elem(&ps_h2r, &in->k, &w->st, BPF_ANY);
	} else {
		bpf_probe_read_kernel(v, __builtin_offsetof(struct ps_h2_resp, begun), &w->st);
		for (i = 0; i < PS_H2R_BEG_SEG && i < w->nbeg; i++)
			WRITE_ONCE(v->begun[(w->beg[i] >> 1) & (PS_H2R_BEGUN - 1)], w->beg[i]);
	}
	ps_h2r_acc_end();
	return ps_h2r_hs_end(ctr);
}

/*
 * Does the server's stream start here with its connection preface, a
 * SETTINGS frame without ACK on stream 0 (RFC 9113 section 3.4)? The
 * bytes are its first (the handshake seen) and no HTTP/1 response began.
 */
static __always_inline int ps_h2r_preface(struct __sk_buff *skb, const struct ps_flow *f,
					  __u32 seq, __u32 off, __u32 len)
{
	__u8 h[PS_H2R_HDR];
	__u32 flen;

	if (f->resp.state != PS_R_START || f->resp.n || !f->dir[PS_DIR_TX].syn_seen ||
	    seq != f->dir[PS_DIR_TX].isn + 1 || len < PS_H2R_HDR ||
	    bpf_skb_load_bytes(skb, off, h, PS_H2R_HDR))
		return 0;
	flen = ((__u32)h[0] << 16) | ((__u32)h[1] << 8) | h[2];
	return h[3] == PS_H2R_T_SETTINGS && !(h[4] & 1) && !h[5] && !h[6] && !h[7] && !h[8] &&
	       flen % 6 == 0;
}

#endif
