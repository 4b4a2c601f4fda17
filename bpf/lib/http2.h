/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/2 cleartext (h2c) frames on the client-to-server byte stream
 * (RFC 9113, docs/http2-counting.md): a request is a stream on which the
 * client sent HEADERS. The client opens streams with ascending odd ids
 * (section 5.1.1), so a HEADERS frame opens a stream when its id is above
 * the highest the client has used; HEADERS on a lower id are a stream's
 * trailers. CONTINUATION, PRIORITY, DATA and every other frame are walked
 * past by their length, from the frame header alone; HPACK is not needed
 * to count. The header blocks (HEADERS and CONTINUATION payloads, their
 * padding and priority fields left out) go to HPACK (hpack.h), which
 * classifies each request's :path; an inference request is judged by its
 * client's request limit where its header block ends.
 *
 * The walk shares HTTP/1's feed (http1.h): it reads the frame headers of a
 * chunk loaded into the scratch, carries a frame header cut by the chunk's
 * or the segment's end in the carry, and skips payloads by arithmetic,
 * across segments, without loading them. A connection becomes HTTP/2 by
 * the connection preface at a message boundary (prior knowledge, or after
 * a 101 to an h2c Upgrade request), or, picked up midway with no SYN
 * seen, by a first segment that starts with a well-formed frame header.
 * Retransmitted, overlapping and out-of-order bytes are sorted out by the
 * stream layer (flow.h) before they get here, as for HTTP/1.
 *
 * In these states ps_http.clen holds the highest client stream id seen,
 * body_left the payload bytes left to skip.
 */
#ifndef PS_BPF_HTTP2_H
#define PS_BPF_HTTP2_H

#include "common.h"
#include "scratch.h"
#include "hpack.h"
#include "h2fwd.h"

/* Frame types (RFC 9113 section 6). */
#define PS_H2_DATA		0x0
#define PS_H2_HEADERS		0x1
#define PS_H2_PRIORITY		0x2
#define PS_H2_RST_STREAM	0x3
#define PS_H2_SETTINGS		0x4
#define PS_H2_PUSH_PROMISE	0x5
#define PS_H2_PING		0x6
#define PS_H2_GOAWAY		0x7
#define PS_H2_WINDOW_UPDATE	0x8
#define PS_H2_CONTINUATION	0x9

/* Frame flags (section 6.2). */
#define PS_H2F_END_STREAM	0x1
#define PS_H2F_END_HEADERS	0x4
#define PS_H2F_PADDED		0x8
#define PS_H2F_PRIORITY		0x20

#define PS_H2_FRAME_HDR		9	/* bytes of a frame header */
/* The connection preface after its first line "PRI * HTTP/2.0" and CRLF. */
#define PS_H2_PREFACE_REST	8	/* "\r\nSM\r\n\r\n" */
/*
 * Frame headers one step walks: a chunk holds at most
 * (PS_LINE_CARRY + PS_CHUNK) / PS_H2_FRAME_HDR of them; a step that
 * reaches this many leaves the rest to the next step.
 */
#define PS_H2_WALK_MAX		64
/* Largest frame a probe of a stream picked up midway believes in. */
#define PS_H2_PROBE_LEN		16384	/* SETTINGS_MAX_FRAME_SIZE's initial value */

static __always_inline int ps_h2_state(__u8 state)
{
	return state == PS_H2_PREFACE || state == PS_H2_FRAME || state == PS_H2_PAYLOAD ||
	       state == PS_H2_BLOCK || state == PS_H2_GDATA;
}

/* Enter HTTP/2 at a frame boundary (st PS_H2_FRAME) or after the preface's first line. */
static __always_inline void ps_h2_enter(struct ps_scratch *s, __u8 st)
{
	struct ps_http *h = &s->h;

	ps_hp_init(s);
	h->state = st;
	h->flags = 0;
	h->clen = 0;
	h->carry_len = 0;
	h->body_left = st == PS_H2_PREFACE ? PS_H2_PREFACE_REST : 0;
}

/* Is the first line buf[ls..ce) the preface's "PRI * HTTP/2.0"? */
static __always_inline int ps_h2_preface_line(const __u8 *buf, __u32 ls, __u32 ce)
{
	return ce - ls == 14 && ps_load64(buf, ls) == PS_W8("PRI * HT") &&
	       (ps_load64(buf, ls + 8) & ps_mask(6)) == PS_W8("TP/2.0");
}

/*
 * Does buf[p..p+9) hold a frame header a client could send first on a
 * connection picked up midway? Its type known, its length within the
 * initial maximum frame size and what its type requires (section 6), the
 * reserved bit clear, stream 0 exactly for the connection's own frames.
 * Text never passes: its first byte makes a length of megabytes.
 */
static __always_inline int ps_h2_plausible(const __u8 *buf, __u32 p)
{
	__u32 len = ((__u32)buf[p & PS_BUF_MASK] << 16) | ((__u32)buf[(p + 1) & PS_BUF_MASK] << 8) |
		    buf[(p + 2) & PS_BUF_MASK];
	__u8 type = buf[(p + 3) & PS_BUF_MASK];
	__u32 sid = ((__u32)buf[(p + 5) & PS_BUF_MASK] << 24) |
		    ((__u32)buf[(p + 6) & PS_BUF_MASK] << 16) |
		    ((__u32)buf[(p + 7) & PS_BUF_MASK] << 8) | buf[(p + 8) & PS_BUF_MASK];

	if (len > PS_H2_PROBE_LEN || type > PS_H2_CONTINUATION || (sid & 0x80000000U))
		return 0;
	switch (type) {
	case PS_H2_SETTINGS:
		return !sid && len % 6 == 0;
	case PS_H2_PING:
		return !sid && len == 8;
	case PS_H2_GOAWAY:
		return !sid && len >= 8;
	case PS_H2_WINDOW_UPDATE:
		return len == 4;
	case PS_H2_RST_STREAM:
		return sid && len == 4;
	case PS_H2_PRIORITY:
		return sid && len == 5;
	case PS_H2_PUSH_PROMISE:
		return 0;	/* a server's frame */
	default:
		return sid != 0;
	}
}

/*
 * One frame header: a HEADERS frame on a stream above the highest the
 * client has opened opens a request. Stream 0 is the connection's and
 * never a request; PUSH_PROMISE is the server's (a client's is a protocol
 * error) and opens nothing here.
 */
static __always_inline void ps_h2_frame(struct ps_scratch *s, __u8 type, __u32 sid)
{
	__u32 i;

	if (type == PS_H2_RST_STREAM && sid) {
		/* A gRPC call the client resets sends no more messages. */
		for (i = 0; i < PS_H2G_SLOTS; i++)
			if (s->h2c.g[i].sid == sid)
				s->h2c.g[i].sid = 0;
		return;
	}
	if (type != PS_H2_HEADERS || !sid)
		return;
	s->h2c.req = sid > s->h.clen;
	s->h2c.path = PS_H2P_NONE;
	s->h2c.grpc = 0;
	if (!s->h2c.req)
		return;
	s->h.clen = sid;
	s->h2c.kunk = 0;
	if (s->key_ep)
		__builtin_memset(&s->key, 0, sizeof(s->key));
	if (s->rq_ep)
		__builtin_memset(&s->fw, 0, sizeof(s->fw));
	/* A request that may be its key's is counted where its block ends. */
	if (!s->late)
		s->nreq++;
}

/* Stream sid's record for ps_h2_late, in s->lk and s->lv: the connection's client's. */
static __always_inline void ps_h2_late_rec(struct ps_scratch *s, __u32 sid, __u8 grpc)
{
	s->lk.tag = s->h2c.ftag;
	s->lk.sid = sid;
	s->lk.pad = 0;
	__builtin_memset(&s->lv, 0, sizeof(s->lv));
	s->lv.grpc = grpc;
}

/*
 * The inference streams whose bits left the window in the segment (the
 * window as it was at the segment's start, lo_hi0 and lo_bits0, against
 * where ps_h2_mark_inf() moved it), each with its client if hs still holds
 * it, go to ps_h2_late if its answer had not begun (the egress's
 * ps_h2_resp.begun, of connection k): the egress finds it there when the
 * answer's first DATA comes (h2resp.h ps_h2r_take()). Called at the segment's end
 * before ps_h2_subj_flow() writes the segment's streams into hs. A global
 * function, verified once.
 */
PS_GLOBAL int ps_h2_late_out(const struct ps_flow_key *k)
{
	struct ps_scratch *s = ps_scratch();
	const struct ps_h2_resp *r;
	struct ps_h2_subj *e;
	__u32 d, b, q, o;
	__u64 m;

	if (!s || !k)
		return 0;
	d = (s->h2c.inf_hi - s->lo_hi0) >> 1;
	b = d >= 64 ? 0 : 64 - d;
	m = s->lo_bits0 >> b;
	for (q = 0; q < 64 && m; q++, m >>= 1) {
		if (!(m & 1))
			continue;
		o = s->lo_hi0 - 2 * (b + q);
		/* Its answer began: the egress has its scan. */
		r = bpf_map_lookup_elem(&ps_h2r, k);
		if (r && READ_ONCE(r->begun[(o >> 1) & (PS_H2R_BEGUN - 1)]) == o)
			continue;
		ps_h2_late_rec(s, o, (s->lo_g0 >> (b + q)) & 1);
		e = &s->h2c.hs[(o >> 1) & (PS_H2S_SLOTS - 1)];
		if (e->sid == o && e->gen) {
			s->lv.slot = e->slot;
			s->lv.gen = e->gen;
		}
		bpf_map_update_elem(&ps_h2_late, &s->lk, &s->lv, BPF_ANY);
	}
	return 0;
}

/*
 * The window is about to move up by d stream ids, and inference streams
 * the segment opened leave it: a client that opens more than 64 streams
 * in one segment. Each goes to ps_h2_late now (its answer cannot have
 * begun: the server has not read its request yet), as the connection's
 * client's (its own client, on a connection whose requests name theirs,
 * is not in hs yet). The streams older than the segment are
 * ps_h2_late_out()'s, at its end. A global function, verified once.
 */
PS_GLOBAL int ps_h2_late_burst(__u32 d)
{
	struct ps_scratch *s = ps_scratch();
	__u32 q, e;
	__u64 m;

	if (!s)
		return 0;
	/* Bits 0 .. e - 1 are the segment's streams (newer than lo_hi0, 0 on
	 * a connection's first); 64 - d .. 63 leave. */
	e = (s->h2c.inf_hi - s->lo_hi0 + 1) >> 1;
	if (e > 64)
		e = 64;
	q = d >= 64 ? 0 : 64 - d;
	m = s->h2c.inf_bits >> q;
	for (; q < e && m; q++, m >>= 1) {
		if (!(m & 1))
			continue;
		barrier_var(s);
		ps_h2_late_rec(s, s->h2c.inf_hi - 2 * q, (s->h2c.grpc_bits >> q) & 1);
		bpf_map_update_elem(&ps_h2_late, &s->lk, &s->lv, BPF_ANY);
	}
	return 0;
}

/*
 * Stream sid (the highest the client has opened) is an inference request:
 * the egress program scans the DATA of its response (h2resp.h). Streams
 * ascend, so the bits move up by the streams opened since the last one
 * (the inference streams whose bits leave: ps_h2_late_out() at the
 * segment's end, or ps_h2_late_burst() now, those the segment opened).
 * A global function, verified once.
 */
PS_GLOBAL int ps_h2_mark_inf(__u32 sid, __u32 grpc)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_conn *c;
	__u32 d;

	if (!s)
		return 0;
	c = &s->h2c;
	d = (sid - c->inf_hi) >> 1;
	if (d && (d >= 64 || 2 * (64 - d) < c->inf_hi - s->lo_hi0) &&
	    (c->inf_bits >> (d >= 64 ? 0 : 64 - d)))
		ps_h2_late_burst(d);
	c->inf_bits = d >= 64 ? 1 : (c->inf_bits << d) | 1;
	c->grpc_bits = d >= 64 ? grpc : (c->grpc_bits << d) | grpc;
	c->inf_hi = sid;
	return 0;
}

/*
 * Inference request sid is a gRPC call: a slot follows the messages of its
 * DATA. A free one, else the oldest call's (its messages are then no
 * longer counted: stats.grpc_no_slot).
 */
PS_GLOBAL int ps_h2_gopen(__u32 sid)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_conn *c;
	__u32 i, k = 0;

	if (!s)
		return 0;
	c = &s->h2c;
	for (i = 0; i < PS_H2G_SLOTS; i++) {
		if (!c->g[i].sid) {
			k = i;
			break;
		}
		if (c->g[i].sid < c->g[k].sid)
			k = i;
	}
	if (i >= PS_H2G_SLOTS)
		s->ngrpc_lost++;
	k &= PS_H2G_SLOTS - 1;
	c->g[k].sid = sid;
	c->g[k].left = 0;
	c->g[k].pfx = 0;
	return 0;
}

/*
 * A request's header block has ended at stream position pos, on a
 * connection whose requests may name their own clients (s->late): its
 * client settled as HTTP/1's is (forwarded.h ps_g_rq_settle()): its API
 * key's, else the connection's; counted to it, and judged by its limit and
 * its block. A global function, verified once.
 */
PS_GLOBAL int ps_h2_settle(__u32 pos)
{
	struct ps_scratch *s = ps_scratch();
	__u32 inf, sk, n0;
	int k;

	if (!s)
		return 0;
	n0 = s->npend;
	inf = s->h2c.path == PS_H2P_INF;
	if (s->key_ep && !s->key.kind && s->h2c.kunk)
		s->nh2_kunk++;
	if (s->fw.flags & PS_FWDF_UNTRUSTED)
		s->nfwd_untrusted++;
	if (s->fw.flags & PS_FWDF_H2IDX) {
		/* A forwarded field from the dynamic table: the request is
		 * the connection's client's (its API key's, if it has one). */
		s->fw.kind = PS_FWD_NONE;
		s->fw.left_family = 0;
		if (!(s->key_ep && s->key.kind))
			s->nh2_fidx++;
	}
	k = ps_g_rq_settle(inf || s->h2c.path == PS_H2P_UNKNOWN);
	if (!s->rq_family && s->fw.kind == PS_FWD_BAD)
		s->nfwd_bad++;
	sk = s->rq_family ? ps_g_subj() : 0;
	if (k == PS_SETTLE_CONN)
		ps_rq_pend(s, pos, 0);
	else if (k == PS_SETTLE_OWN)
		ps_rq_pend(s, pos, sk);
	else if (k == PS_SETTLE_BLOCKED && sk)
		ps_rq_pend(s, pos, sk | PS_PEND_BLOCK_ONLY);
	if (s->npend != n0 && n0 < PS_PEND_MAX && s->m_sid && s->m_sid == s->h.clen) {
		s->pend_m[n0 & (PS_PEND_MAX - 1)] = s->m_pos;
		s->pend_mok[n0 & (PS_PEND_MAX - 1)] = 1;
	}
	if (sk && sk <= PS_SUBJ_MAX && inf && s->nh2s < PS_H2S_SLOTS) {
		/* Its answer is its client's too (ps_h2_subj_flow()). */
		s->h2s_sid[s->nh2s & (PS_H2S_SLOTS - 1)] = s->h.clen;
		s->h2s_k[s->nh2s & (PS_H2S_SLOTS - 1)] = sk;
		s->nh2s++;
	}
	if (!(sk && sk <= PS_SUBJ_MAX) && s->rq_family)
		s->nfwd_full++;
	ps_rq_tally(s, sk, inf);
	return 0;
}

/*
 * The segment is taken in: its inference streams of their own clients (the
 * clients' slots known by now, ps_fwd_slots()) are handed to the egress
 * program beside the table (ps_h2_conn.hs). A global function, verified
 * once.
 */
PS_GLOBAL int ps_h2_subj_flow(void)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_subj *e;
	struct ps_subj *sj;
	__u32 i, k, sid;

	if (!s)
		return 0;
	for (i = 0; i < PS_H2S_SLOTS; i++) {
		if (i >= s->nh2s)
			break;
		sid = s->h2s_sid[i];
		k = s->h2s_k[i];
		e = &s->h2c.hs[(sid >> 1) & (PS_H2S_SLOTS - 1)];
		s->h2c.hs_used = 1;
		e->sid = sid;
		e->slot = 0;
		e->gen = 0;
		if (k && k <= PS_SUBJ_MAX) {
			sj = &s->sj[(k - 1) & (PS_SUBJ_MAX - 1)];
			e->slot = sj->slot;
			e->gen = sj->gen;
		}
	}
	return 0;
}

/*
 * Whose the payload of the client's frame on stream sid is, on a
 * connection whose requests may name their own clients: the client an
 * inference stream's header block named, in this segment (an index + 1 in
 * sj, ps_h2_settle()) or before it (PS_BC_HS + its entry in h2c.hs, while
 * the stream is there); else the connection's.
 */
static __always_inline __u8 ps_h2_owner(const struct ps_scratch *s, __u32 sid)
{
	__u32 i, j;

	if (!sid)
		return PS_BC_CONN;
	for (i = 0; i < PS_H2S_SLOTS; i++)
		if (i < s->nh2s && s->h2s_sid[i] == sid)
			return s->h2s_k[i];
	j = ps_h2_hs_at(s->h2c.hs, sid);
	return j < PS_H2S_SLOTS ? PS_BC_HS + j : PS_BC_CONN;
}

/*
 * The client's frame whose header is at buf[pos] (forwarded.h
 * ps_rb_mark()): its 9 bytes are the connection's client's, and so is a
 * header block frame's payload (HEADERS, CONTINUATION); any other's
 * payload (DATA, padding included; WINDOW_UPDATE, RST_STREAM) is its
 * stream's client's (ps_h2_owner()). A global function, verified once.
 */
PS_GLOBAL int ps_h2_rb_frame(__u32 pos, __u32 type, __u32 sid)
{
	struct ps_scratch *s = ps_scratch();
	__u32 p;

	if (!s)
		return 0;
	p = s->chunk_seq + pos - s->cc;
	ps_rb_mark(s, p, PS_BC_CONN);
	if (type != PS_H2_HEADERS && type != PS_H2_CONTINUATION)
		ps_rb_mark(s, p + PS_H2_FRAME_HDR, ps_h2_owner(s, sid));
	return 0;
}

/*
 * The segment's payload bytes and gRPC messages of streams named before
 * it (h2c.hs), to their clients; a client whose slot is gone hands them
 * back to the connection's. Before ps_h2_subj_flow() puts the segment's streams in
 * h2c.hs. A global function, verified once.
 */
PS_GLOBAL int ps_h2_hs_bytes(void)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_client_ctr *ctr;
	struct ps_h2_subj *e;
	__u32 j;

	if (!s)
		return 0;
	for (j = 0; j < PS_H2S_SLOTS; j++) {
		if (!(s->hsb[j] | s->hsm[j]))
			continue;
		e = &s->h2c.hs[j];
		ctr = e->gen ? ps_slot_ctr(e->slot) : NULL;
		if (ctr && ctr->gen == e->gen) {
			if (s->hsb[j])
				ps_add(ctr->c.rx_payload, s->hsb[j]);
			if (s->hsm[j])
				ps_add(ctr->rx_messages, s->hsm[j]);
		} else {
			s->b_conn += s->hsb[j];
			s->nmsg += s->hsm[j];
		}
		s->hsb[j] = 0;
		s->hsm[j] = 0;
	}
	return 0;
}

/*
 * A request's header block has ended at stream position pos: an inference
 * request is counted and waits for its client's limit; a :path HPACK
 * could not read leaves it unclassified, and it waits for the limit all
 * the same: a client that grows or breaks its table past what is followed
 * does not take its requests past the limit by hiding their :path.
 */
static __always_inline void ps_h2_block_end(struct ps_scratch *s, __u32 pos)
{
	struct ps_h2_conn *c = &s->h2c;

	if (c->rstate != PS_HP_START) {
		/* A block ending inside a representation: not HPACK. */
		c->lost = 1;
		c->rstate = PS_HP_START;
		if (c->path == PS_H2P_NONE)
			c->path = PS_H2P_UNKNOWN;
	}
	if (!c->req)
		return;
	c->req = 0;
	if (!s->late && (s->fw.flags & PS_FWDF_UNTRUSTED))
		s->nfwd_untrusted++;
	if (s->late) {
		ps_h2_settle(pos);
		if (c->path == PS_H2P_UNKNOWN)
			s->nh2_unc++;
		if (c->path == PS_H2P_INF) {
			ps_h2_mark_inf(s->h.clen, c->grpc);
			if (c->grpc)
				ps_h2_gopen(s->h.clen);
		}
		return;
	}
	if (c->path == PS_H2P_INF) {
		s->ninf++;
		ps_rq_pend(s, pos, 0);
		ps_h2_mark_inf(s->h.clen, c->grpc);
		if (c->grpc)
			ps_h2_gopen(s->h.clen);
	} else if (c->path == PS_H2P_UNKNOWN) {
		s->nh2_unc++;
		ps_rq_pend(s, pos, 0);
	}
}

/* ps_h2_conn.gslot: the DATA frame being read ends its stream. */
#define PS_H2G_END	0x80
/* ... the walk stopped at its header: whose it is, not read yet */
#define PS_H2G_PEND	0x40
/* Messages (or prefix bytes) one call of ps_h2_gdata() takes at most. */
#define PS_H2G_STEPS	16

/*
 * A DATA frame whose header is at buf[pos], where the walk stopped (a gRPC
 * call is followed on the connection): on a call followed, its data's
 * messages are read (PS_H2_GDATA); any other's payload is skipped as the
 * walk skips it. A header, or its pad length, cut by the chunk's end is
 * carried. Returns where the parser goes on. A global function, verified
 * once.
 */
PS_GLOBAL __u32 ps_h2_gdata_start(__u32 pos, __u32 len)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_conn *c;
	__u32 i, pro = 0, pad = 0, flen, sid;
	__u64 end;
	__u8 flags;

	if (!s || pos > len || len > PS_BUF_SIZE || pos >= PS_BUF_SIZE)
		return len;
	c = &s->h2c;
	c->gslot = 0;
	s->h.state = PS_H2_FRAME;
	if (len - pos < PS_H2_FRAME_HDR + 1) {
		__builtin_memcpy(s->h.carry, s->buf + pos, 16);
		s->h.carry_len = len - pos;
		return len;
	}
	flen = ((__u32)s->buf[pos] << 16) | ((__u32)s->buf[(pos + 1) & PS_BUF_MASK] << 8) |
	       s->buf[(pos + 2) & PS_BUF_MASK];
	flags = s->buf[(pos + 4) & PS_BUF_MASK];
	sid = (((__u32)s->buf[(pos + 5) & PS_BUF_MASK] << 24) |
	       ((__u32)s->buf[(pos + 6) & PS_BUF_MASK] << 16) |
	       ((__u32)s->buf[(pos + 7) & PS_BUF_MASK] << 8) |
	       s->buf[(pos + 8) & PS_BUF_MASK]) & 0x7fffffffU;
	if (s->b_on)
		ps_h2_rb_frame(pos, PS_H2_DATA, sid);
	for (i = 0; i < PS_H2G_SLOTS; i++)
		if (c->g[i].sid == sid)
			break;
	if (flags & PS_H2F_PADDED) {
		pad = s->buf[(pos + PS_H2_FRAME_HDR) & PS_BUF_MASK];
		pro = 1;
	}
	if (i >= PS_H2G_SLOTS || flen < pro + pad) {
		/* Not followed (or a protocol error): skipped. */
		end = (__u64)pos + PS_H2_FRAME_HDR + flen;
		if (end > len) {
			s->h.body_left = end - len;
			s->h.state = PS_H2_PAYLOAD;
			return len;
		}
		return end;
	}
	c->gslot = i | ((flags & PS_H2F_END_STREAM) ? PS_H2G_END : 0);
	c->pad_left = pad;
	s->h.body_left = flen - pro - pad;
	s->h.state = PS_H2_GDATA;
	return pos + PS_H2_FRAME_HDR + pro;
}

/*
 * The data of a gRPC call's DATA frame from buf[p] on (up to len; h.body_left
 * bytes of it left): each message's 5-byte prefix (a flag byte, a 4-byte
 * big-endian length) read, cut anywhere, its bytes skipped. A message
 * counts (rx_messages) when its prefix is read whole, to the client of
 * its stream (ps_h2_owner()). At the data's end, the frame's padding is
 * skipped and the next frame header comes. Returns where it stopped. A
 * global function, verified once.
 */
PS_GLOBAL __u32 ps_h2_gdata(__u32 p, __u32 len)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_h2g_slot *g;
	struct ps_h2_conn *c;
	struct ps_http *h;
	__u32 i, k, *nm;
	__u8 o;

	if (!s || p > len || len > PS_BUF_SIZE)
		return len;
	c = &s->h2c;
	h = &s->h;
	g = &c->g[c->gslot & (PS_H2G_SLOTS - 1)];
	o = s->b_on ? ps_h2_owner(s, g->sid) : PS_BC_CONN;
	if (o && o <= PS_SUBJ_MAX)
		nm = &s->sj[(o - 1) & (PS_SUBJ_MAX - 1)].nmsg;
	else if (o >= PS_BC_HS && o < PS_BC_HS + PS_H2S_SLOTS)
		nm = &s->hsm[(o - PS_BC_HS) & (PS_H2S_SLOTS - 1)];
	else
		nm = &s->nmsg;
	for (i = 0; i < PS_H2G_STEPS; i++) {
		if (!h->body_left)
			break;
		if (p >= len || p >= PS_BUF_SIZE)
			return len;
		k = len - p;
		if (k > h->body_left)
			k = h->body_left;
		if (!g->pfx && g->left) {
			/* A message's bytes. */
			if (k > g->left)
				k = g->left;
			g->left -= k;
		} else if (!g->pfx && k >= 5) {
			/* A whole prefix. */
			g->left = ((__u32)s->buf[(p + 1) & PS_BUF_MASK] << 24) |
				  ((__u32)s->buf[(p + 2) & PS_BUF_MASK] << 16) |
				  ((__u32)s->buf[(p + 3) & PS_BUF_MASK] << 8) |
				  s->buf[(p + 4) & PS_BUF_MASK];
			(*nm)++;
			k = 5;
		} else {
			/* A prefix's byte: the flag, or one of the length's. */
			g->left = g->pfx ? (g->left << 8) | s->buf[p & PS_BUF_MASK] : 0;
			g->pfx++;
			if (g->pfx == 5) {
				g->pfx = 0;
				(*nm)++;
			}
			k = 1;
		}
		p += k;
		h->body_left -= k;
	}
	if (h->body_left)
		return p;
	/* The data is through: END_STREAM ends the call's messages. */
	if (c->gslot & PS_H2G_END)
		g->sid = 0;
	c->gslot = 0;
	h->state = PS_H2_FRAME;
	if (p > len)
		return len;
	k = len - p < c->pad_left ? len - p : c->pad_left;
	c->pad_left -= k;
	p += k;
	if (c->pad_left) {
		h->state = PS_H2_PAYLOAD;
		h->body_left = c->pad_left;
		c->pad_left = 0;
		return len;
	}
	return p;
}

/*
 * The header block of a HEADERS or CONTINUATION frame from buf[p] on (up
 * to len): its pad length and priority fields skipped, its bytes fed to
 * HPACK, its padding skipped. Returns where it stopped in the buffer: the
 * frame's end (the parser then at the next frame header), a :path to
 * compare (PS_HP_MATCH), or len when the frame goes on past the chunk (its
 * padding then skipped as a payload). A global function, verified once.
 */
PS_GLOBAL __u32 ps_h2_block(__u32 p, __u32 len)
{
	struct ps_scratch *s = ps_scratch();
	struct ps_h2_conn *c;
	__u32 k, q;

	if (!s || p > len || len > PS_BUF_SIZE)
		return len;
	/* A gRPC call's data (here, not one call up: the stack is short there). */
	if (s->h.state == PS_H2_GDATA) {
		if (s->h2c.gslot & PS_H2G_PEND) {
			p = ps_h2_gdata_start(p, len);
			if (s->h.state != PS_H2_GDATA)
				return p;
		}
		return ps_h2_gdata(p, len);
	}
	c = &s->h2c;
	/* A key value's bytes (here too: the stack is short one call up). */
	if (c->rstate == PS_HP_KEYV && c->blk_left)
		return ps_hp_keyv(p, len);
	k = len - p < c->pro_left ? len - p : c->pro_left;
	c->pro_left -= k;
	p += k;
	if (c->pro_left)
		return len;
	k = len - p < c->blk_left ? len - p : c->blk_left;
	/* Also with no byte left: an insertion may wait for its evictions. */
	q = ps_hpack_feed(p, p + k);
	if (q < p || q > p + k)
		return len;
	c->blk_left -= q - p;
	p = q;
	/* A key value cut by the frame's end goes on in a CONTINUATION. */
	if (c->rstate == PS_HP_MATCH || c->rstate == PS_HP_PCT ||
	    ((c->rstate == PS_HP_KEYV || c->rstate == PS_HP_FWDV) && c->blk_left))
		return p;
	if (c->blk_left)
		return len;
	if (!c->open)
		ps_h2_block_end(s, s->chunk_seq + (p - s->cc));
	s->h.state = PS_H2_FRAME;
	k = len - p < c->pad_left ? len - p : c->pad_left;
	c->pad_left -= k;
	p += k;
	if (c->pad_left) {
		s->h.state = PS_H2_PAYLOAD;
		s->h.body_left = c->pad_left;
		c->pad_left = 0;
		return len;
	}
	return p;
}

/*
 * A HEADERS frame (on a stream) or a CONTINUATION of an open block whose
 * header is at buf[pos]: where its block lies in its payload. Returns 0
 * when its pad length is not in the buffer yet (the header is carried),
 * -1 when the frame is not a header block's (skipped as any other).
 */
static __always_inline int ps_h2_block_start(struct ps_scratch *s, __u32 pos, __u32 len,
					     __u8 type, __u8 flags, __u32 sid, __u32 flen)
{
	struct ps_h2_conn *c = &s->h2c;
	__u32 pro = 0, pad = 0;

	if (!sid || (type != PS_H2_HEADERS && !(type == PS_H2_CONTINUATION && c->open)))
		return -1;
	if (type == PS_H2_HEADERS) {
		if (flags & PS_H2F_PADDED) {
			if (len - pos < PS_H2_FRAME_HDR + 1)
				return 0;
			pad = s->buf[(pos + PS_H2_FRAME_HDR) & PS_BUF_MASK];
			pro = 1;
		}
		if (flags & PS_H2F_PRIORITY)
			pro += 5;
		if (flen < pro + pad) {
			/* A protocol error: the block is not read. */
			c->lost = 1;
			return -1;
		}
		c->rstate = PS_HP_START;
	}
	c->pro_left = pro;
	c->pad_left = pad;
	c->blk_left = flen - pro - pad;
	c->open = !(flags & PS_H2F_END_HEADERS);
	return 1;
}

/*
 * Walk the frame headers of the chunk in the scratch from buf[pos] (cc
 * bytes of carry at its head, a frame header the last chunk cut, then the
 * loaded bytes, len in all). Returns where it stopped: at a header block
 * (PS_H2_BLOCK), after more frames than one walk takes, or len, the
 * parser then at a frame header (its first bytes carried) or in a payload
 * to skip. A global function, verified once.
 */
PS_GLOBAL __u32 ps_h2_walk(__u32 pos, __u32 len)
{
	struct ps_scratch *s = ps_scratch();
	__u32 flen, sid, i;
	__u8 type, flags;
	__u64 end;
	int b;

	if (!s || len > PS_BUF_SIZE)
		return len;
	for (i = 0; i < PS_H2_WALK_MAX; i++) {
		if (pos > len || pos >= PS_BUF_SIZE)
			return len;
		if (len - pos < PS_H2_FRAME_HDR) {
			/* A frame header cut by the chunk's end: carried. */
			__builtin_memcpy(s->h.carry, s->buf + pos, 16);
			s->h.carry_len = len - pos;
			return len;
		}
		flen = ((__u32)s->buf[pos] << 16) | ((__u32)s->buf[(pos + 1) & PS_BUF_MASK] << 8) |
		       s->buf[(pos + 2) & PS_BUF_MASK];
		type = s->buf[(pos + 3) & PS_BUF_MASK];
		flags = s->buf[(pos + 4) & PS_BUF_MASK];
		sid = (((__u32)s->buf[(pos + 5) & PS_BUF_MASK] << 24) |
		       ((__u32)s->buf[(pos + 6) & PS_BUF_MASK] << 16) |
		       ((__u32)s->buf[(pos + 7) & PS_BUF_MASK] << 8) |
		       s->buf[(pos + 8) & PS_BUF_MASK]) & 0x7fffffffU;
		if (type == PS_H2_DATA && sid &&
		    (s->h2c.g[0].sid | s->h2c.g[1].sid | s->h2c.g[2].sid | s->h2c.g[3].sid)) {
			/* Maybe a gRPC call's: read where its data is (ps_h2_gdata()). */
			s->h.state = PS_H2_GDATA;
			s->h2c.gslot = PS_H2G_PEND;
			s->h.body_left = 0;
			return pos;
		}
		if (s->b_on)
			ps_h2_rb_frame(pos, type, sid);
		b = ps_h2_block_start(s, pos, len, type, flags, sid, flen);
		if (!b) {
			/* A padded HEADERS frame's pad length is in the next chunk. */
			__builtin_memcpy(s->h.carry, s->buf + pos, 16);
			s->h.carry_len = len - pos;
			return len;
		}
		ps_h2_frame(s, type, sid);
		if (b > 0) {
			/* Its :method POST not seen yet (hpack.h). */
			if (type == PS_H2_HEADERS)
				s->m_sid = 0;
			s->h.state = PS_H2_BLOCK;
			return pos + PS_H2_FRAME_HDR;
		}
		end = (__u64)pos + PS_H2_FRAME_HDR + flen;
		if (end > len) {
			/* The payload goes on past the chunk: skipped. */
			s->h.body_left = end - len;
			s->h.state = PS_H2_PAYLOAD;
			return len;
		}
		pos = end;
	}
	return pos;
}

/* Sub-steps of one chunk: walks, header blocks and :path compares. */
#define PS_H2_SUBSTEPS	6

/*
 * The frames of a chunk loaded into the scratch (cc bytes of carry, then
 * n loaded): returns how many of the n were used. Called by the feed's
 * step (http1.h) in the states PS_H2_FRAME and PS_H2_BLOCK.
 */
static __always_inline __u32 ps_h2_chunk(struct ps_scratch *s, __u32 cc, __u32 n)
{
	__u32 p = 0, len = cc + n, k;

	s->h.carry_len = 0;
	s->len = len;	/* for ps_hp_fwdv() */
	for (k = 0; k < PS_H2_SUBSTEPS; k++) {
		if (s->h.state == PS_H2_FRAME)
			p = ps_h2_walk(p, len);
		else if (s->h.state != PS_H2_BLOCK && s->h.state != PS_H2_GDATA)
			break;
		else if (s->h2c.rstate == PS_HP_MATCH)
			ps_hp_matched();
		else if (s->h2c.rstate == PS_HP_PCT)
			ps_hp_pct_path();
		else if (s->h2c.rstate == PS_HP_FWDV && s->h2c.blk_left)
			/* A forwarded value (here: its walk's calls are as deep
			 * as HTTP/1's, one call below the step). */
			p = ps_hp_fwdv(p);
		else
			p = ps_h2_block(p, len);
		/* A block whose bytes are all read (its :path to compare at
		 * the chunk's last byte) is ended here: not when the client's
		 * next bytes come. */
		if (p >= len && (s->h.state != PS_H2_BLOCK || s->h2c.blk_left))
			return n;
	}
	return p > cc ? p - cc : 0;
}

#endif
