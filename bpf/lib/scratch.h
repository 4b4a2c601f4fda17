/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-CPU scratch the client-stream parsers work in (http1.h,
 * proxy.h, forwarded.h): a buffer of the bytes being parsed, the parser
 * state being worked on, and what a segment found, with the byte-level
 * helpers they share. Helpers that loop are global functions: each is
 * verified once on its own, not once per path through its callers.
 */
#ifndef PS_BPF_SCRATCH_H
#define PS_BPF_SCRATCH_H

#include "common.h"
#include "maps.h"
#include "ratelimit.h"

#define PS_CHUNK	512
#define PS_BUF_SIZE	1024		/* power of two >= carry + chunk + slack */
#define PS_BUF_MASK	(PS_BUF_SIZE - 1)
/* Lines looked at per chunk: every line a buffer can hold (a line is at
 * least its one-byte end), so that no line of a chunk goes unread. */
#define PS_LINES_MAX	(PS_LINE_CARRY + PS_CHUNK)
/* Chunks and body skips per segment: enough for a 64 KB GSO/GRO packet of
 * the smallest pipelined requests with a body (two steps each: the chunk
 * their lines are in, then the body skip). bpf_loop() runs only as many
 * as the segment needs. */
#define PS_FEED_STEPS	8192
/* Inference requests of one segment waiting for the request limit. */
#define PS_PEND_MAX	256
/* HTTP/2 requests a segment may have refused in place (ps_h2_refuse()) */
#define PS_FLIP_MAX	8
/* Clients named by forwarded headers in one segment (forwarded.h). */
#define PS_SUBJ_MAX	64

/* The walk of an IPv6 address in text (addrtext.h). */
struct ps_ip6_walk {
	__u16 g[8];		/* the groups read */
	__u32 ng;		/* how many */
	__u32 gap;		/* where "::" stands among them (8: none) */
	__u32 v;		/* the group being read ... */
	__u32 digits;		/* ... its digits so far */
	__u32 colon;		/* the last character was ':' */
	__u32 chars;		/* characters read */
	__u32 pos;		/* where the next is in the buffer ... */
	__u32 end;		/* ... before the line's end */
	__s32 r;		/* the last character's verdict (ps_ip6_char()) */
};

/* A client a segment's requests are counted to and judged for. */
struct ps_subj {
	struct ps_addr addr;
	__u8 family;
	__u8 src_family;	/* an API key's: the address it came from (src) */
	__u8 pad[2];
	__u32 slot;		/* its slot ... */
	__u32 gen;		/* ... while its gen is this (0: none) */
	__u32 nreq;		/* requests of the segment counted to it ... */
	__u32 ninf;		/* ... of which inference requests */
	struct ps_addr src;
	__u32 nbytes;		/* client bytes of its requests (ps_g_rb_mark()) */
	__u32 nmsg;		/* gRPC messages of its HTTP/2 streams (http2.h) */
};

struct ps_scratch {
	struct ps_http h;	/* working copy of the flow's parser state */
	__u32 endpoint;
	__u32 len;		/* valid bytes in buf */
	__u32 ls;		/* start of the current line in buf */
	__u32 nreq;		/* requests completed in this call */
	__u32 ninf;		/* of which inference requests */
	__u32 rest;		/* bytes of the segment after those in buf */
	__u32 colon;		/* ps_find_nl(): the line holds a ':' */
	__u32 fin;		/* the segment carries FIN */
	__u32 h2_probe;		/* the first bytes of a stream picked up midway: they
				 * may be HTTP/2 frames (http2.h) */
	__u32 hunt;		/* live, a stream picked up midway: at a message
				 * boundary, text is hunted (PS_H1_HUNT) ... */
	__u32 nhunt;		/* ... requests found so */
	__u32 h2_on;		/* h2c holds the connection's HPACK state (hpack.h) ... */
	__u32 nh2_unc;		/* ... HTTP/2 requests whose :path could not be read */
	__u32 nh2_kunk;		/* ... whose key an HPACK entry named, no longer known */
	__u32 nh2_fidx;		/* ... whose forwarded field came from the HPACK table */
	__u32 nh2s;		/* ... inference streams of their own clients (ps_h2_settle()) */
	__u32 h2s_sid[PS_H2S_SLOTS];	/* ... each's stream ... */
	__u8 h2s_k[PS_H2S_SLOTS];	/* ... and client, an index + 1 in sj */
	__u32 nmsg;		/* ... gRPC messages the client sent (http2.h) ... */
	__u32 ngrpc_lost;	/* ... gRPC calls whose messages are not followed */
	struct ps_h2_conn h2c;
	__u32 seq;		/* sequence number of the first byte fed */
	__u32 chunk_seq;	/* sequence number of buf[cc] ... */
	__u32 cc;		/* ... after cc bytes of carry at the head of buf */
	struct ps_gate_ctx g;	/* the request limit's view of the flow */
	__u32 npend;		/* inference requests of the segment not yet paid ... */
	__u32 pend[PS_PEND_MAX];	/* ... by where their request lines end (header
					 * blocks end on a forwarded connection) */
	__u8 path[PS_PATH_MAX + 8];	/* a request target's path, %XX decoded ... */
	__u32 walk_q;		/* ... read up to here ... */
	__u32 walk_end;		/* ... of the line ending here ... */
	__u32 walk_n;		/* ... this many bytes so far */
	__u32 pct_st;		/* an HTTP/2 :path decoded (hpack.h ps_hp_pct_path()): the
				 * Huffman decoder's state ... */
	__u32 pct_pend;		/* ... a '%' read (1), and a first hex digit (2) ... */
	__u32 pct_saw;		/* ... any '%' ... */
	__u8 pct_hi;		/* ... the first hex digit's byte */
	__u8 pct_pad[3];
	struct ps_ip6_walk ip6;	/* an IPv6 address being read (addrtext.h) */
	struct ps_addr ip_addr;	/* an address read from text (addrtext.h) ... */
	__u8 ip_family;		/* ... and its family */
	__u8 px_pad[3];
	__u32 px_len;		/* a PROXY header's length (proxy.h) */
	/* Each request's own client (forwarded.h, apikey.h) */
	struct ps_fwd fw;	/* working copy of the flow's walk */
	struct ps_keyh key;	/* working copy of the flow's API key */
	__u8 fwd_ep;		/* the endpoint's PS_EP_XFF | PS_EP_FORWARDED ... */
	__u8 fwd_on;		/* ... those believed on this connection */
	__u8 key_ep;		/* the endpoint counts requests to their API keys */
	__u8 rq_ep;		/* fwd_ep or key_ep: requests may have clients of their own */
	__u8 late;		/* fwd_on or key_ep: a request's client is known, and
				 * it is judged, where its header block ends */
	__u8 fw_pending;	/* a value at fw_q..fw_end waits to be walked ... */
	__u8 fw_hdr;		/* ... of a Forwarded line (0: X-Forwarded-For) */
	__u8 rq_family;		/* the request's client (ps_rq_fill()), 0: the
				 * connection's ... */
	struct ps_addr rq_addr;	/* ... or this */
	struct ps_addr rq_src;	/* an API key's: the address it came from ... */
	__u8 rq_src_family;	/* ... (a forwarded client, else the connection's) */
	__u32 fw_q;
	__u32 fw_end;
	__u32 fw_as;		/* an entry's address: from here ... */
	__u32 fw_ae;		/* ... to here */
	__u32 fw_rest;		/* where a line's unfinished entry starts ... */
	__u32 fw_partial;	/* ... when the walk is told to look for one */
	struct ps_addr fw_cand;	/* the walk from the right: the left-most trusted
				 * proxy so far ... */
	__u8 fw_cand_family;	/* ... (0: none) */
	__u8 fw_long;		/* ... is looking for the start of an entry that
				 * ends at fw_long_e */
	__u32 fw_long_e;
	__u32 nsj;		/* clients the segment's requests were forwarded for */
	struct ps_subj sj[PS_SUBJ_MAX];
	struct ps_subj conn;	/* the connection's client */
	__u32 nfwd;		/* requests counted to a forwarded client ... */
	__u32 nfwd_bad;		/* ... left to the connection (stats.forwarded_*) */
	__u32 nfwd_untrusted;
	__u32 nfwd_full;
	__u32 nkey;		/* requests counted to an API key */
	__u32 key_pend;		/* a key at key_p..key_e waits (apikey.h) */
	__u32 key_p;
	__u32 key_e;
	__u8 pend_sj[PS_PEND_MAX];	/* the client of each pending request (below) */
	/* HTTP/2 requests the gate may refuse in place (ps_h2_refuse()): the
	 * block of stream m_sid (0: none) has the static table's :method POST
	 * at stream position m_pos (hpack.h); pend_mok[i] says the i-th
	 * pending request's does, at pend_m[i]; the segment's refused ones at
	 * flip[0..nflip). */
	__u32 m_pos;
	__u32 m_sid;
	__u32 nflip;
	__u32 flip[PS_FLIP_MAX];
	__u32 pend_m[PS_PEND_MAX];
	__u8 pend_mok[PS_PEND_MAX];
	__u32 hw;		/* bytes at the head of buf loads wrote (ps_buf_loaded()) */
	__u32 rq_pn;		/* requests whose header block ended in this call ... */
	__u64 rq_pb;		/* ... bit i mod 64 set: the i-th was an inference
				 * request (the newest 64: ps_rq_note()) */
	__u8 rq_k[PS_RQ_QUEUE];	/* ... the i-th's client: an index + 1 in sj, 0: the
				 * connection's */
	/* Whom the client bytes are counted to (forwarded.h ps_g_rb_mark()),
	 * on a connection whose requests may name their own clients (b_on) */
	__u8 b_on;
	__u8 b_nocount;		/* the segment fills a hole: its bytes stay the connection's */
	__u8 b_cur;		/* the bytes from b_mark on: PS_BC_* or an index + 1 in sj */
	__u8 b_pad;
	__u32 b_mark;		/* stream position */
	__u32 b_pend;		/* bytes of the request whose header block has not ended */
	__u32 b_carry;		/* bytes of the flow's request client (ps_rq_queue.b_slot) */
	__u32 b_moved;		/* bytes of the segment not the connection's client's ... */
	__u32 b_conn;		/* ... and bytes handed back to it */
	__u32 lo_hi0;		/* the HTTP/2 window of inference streams at the segment's
				 * start (h2c.inf_hi ... */
	__u64 lo_bits0;		/* ... inf_bits ... */
	__u64 lo_g0;		/* ... and grpc_bits) */
	struct ps_h2_stream_key lk;	/* a stream that left it (ps_h2_late_out()) ... */
	struct ps_h2_late lv;	/* ... and what the egress needs of it */
	struct ps_rq_late_key rlk;	/* an HTTP/1 request the ring loses (ps_g_rq_late()) ... */
	struct ps_rq_subj rlv;	/* ... and its subject */
	struct ps_rq_subj rl_ring[PS_RQ_SUBJ];	/* the flow's ring before the segment ... */
	__u32 rl_n0;		/* ... its count then ... */
	__u32 rl_rn;		/* ... and the request whose answer is under way or next */
	__u32 hsb[PS_H2S_SLOTS];	/* bytes of the HTTP/2 streams of h2c.hs (PS_BC_HS) ... */
	__u32 hsm[PS_H2S_SLOTS];	/* ... and their gRPC messages */
	__u8 buf[PS_BUF_SIZE + 64];
};

/* scratch.b_cur, beside the index + 1 of a client in sj (1..PS_SUBJ_MAX) */
#define PS_BC_CONN	0	/* the connection's client */
#define PS_BC_PEND	0xff	/* the request whose header block has not ended */
#define PS_BC_CARRY	0xfe	/* the client of the request the flow was in (its
				 * ps_rq_queue.b_slot, b_gen) */
#define PS_BC_HS	0x80	/* + j: the client of the HTTP/2 stream of h2c.hs[j]
				 * (http2.h ps_h2_owner()), up to 0xbf */
_Static_assert(PS_BC_HS > PS_SUBJ_MAX && PS_BC_HS + PS_H2S_SLOTS <= PS_BC_CARRY,
	       "b_cur: the hs entries between the clients of sj and PS_BC_CARRY");

/* One scratch per CPU: programs do not nest on a CPU within tc. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_scratch);
} ps_scratch_map SEC(".maps") __weak;

static __always_inline struct ps_scratch *ps_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ps_scratch_map, &zero);
}

/*
 * An inference request known at stream position pos (an HTTP/1 request
 * line's end, an HTTP/2 header block's):
 * to be judged by the request limit before the segment is taken in. Past
 * PS_PEND_MAX, npend keeps counting: the segment is then held back once
 * those are judged, and the rest are judged in a later copy (the ones let
 * in are paid for by then).
 */
static __always_inline void ps_rq_pend(struct ps_scratch *s, __u32 pos, __u32 sj)
{
	__u32 i = s->npend;

	if (i < PS_PEND_MAX) {
		s->pend[i & (PS_PEND_MAX - 1)] = pos;
		s->pend_sj[i & (PS_PEND_MAX - 1)] = sj;
		s->pend_mok[i & (PS_PEND_MAX - 1)] = 0;
	}
	s->npend = i + 1;
}


/*
 * The gate holds back the i-th pending request: on an HTTP/2 connection
 * from a trusted proxy whose requests name their own clients (fwd_on: a
 * gateway's, every client's streams on it), holding the segment would
 * hold every stream behind it.
 * A request whose block has `:method: POST` as an indexed field, in a byte
 * of this segment, is refused in place instead: 1 when it is (its byte
 * then rewritten by ps_h2_refuse_apply() in ingress.bpf.c), 0 when the
 * segment must be held.
 */
static __always_inline int ps_h2_refuse(struct ps_scratch *s, __u32 i)
{
	__u32 n = s->nflip;

	if (i >= PS_PEND_MAX || !s->pend_mok[i & (PS_PEND_MAX - 1)] || n >= PS_FLIP_MAX)
		return 0;
	s->flip[n & (PS_FLIP_MAX - 1)] = s->pend_m[i & (PS_PEND_MAX - 1)];
	s->nflip = n + 1;
	return 1;
}

/* Eight little-endian bytes of a string literal, zero past its end. */
#define PS_B(s, i)	((__u64)(sizeof(s) > (i) + 1 ? (__u8)(s)[i] : 0) << ((i) * 8))
#define PS_W8(s)	(PS_B(s, 0) | PS_B(s, 1) | PS_B(s, 2) | PS_B(s, 3) | \
			 PS_B(s, 4) | PS_B(s, 5) | PS_B(s, 6) | PS_B(s, 7))

static __always_inline __u64 ps_load64(const __u8 *buf, __u32 i)
{
	return *(const __u64 *)(buf + (i & PS_BUF_MASK));
}

static __always_inline int ps_hexdig(__u8 c)
{
	c = ps_lower(c);
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* What ps_skip() skips: up to two byte values, eight bytes at a time. */
#define PS_SKIP_BLANKS	0x2009	/* SP and HTAB */
#define PS_SKIP_ZEROS	0x3030	/* '0' */
#define PS_SKIP_CRLF	0x0d0a	/* CR and LF */
#define PS_SKIP_LIST	0x202c	/* SP and ',' (HTAB is taken for SP below) */

/* Exact zero-byte flags of a word (bit 7 of each zero byte, no borrows). */
static __always_inline __u64 ps_zero_bytes(__u64 x)
{
	const __u64 lo7 = 0x7f7f7f7f7f7f7f7fULL;

	return ~(((x & lo7) + lo7) | x | lo7);
}

/*
 * Where the run of bytes of a set (two byte values, set >> 8 and set &
 * 0xff) at p ends, a line's worth at most. For PS_SKIP_LIST a HTAB counts
 * as a SP.
 */
static __always_inline __u32 ps_skip(const __u8 *buf, __u32 p, __u32 end, __u32 set)
{
	const __u64 ones = 0x0101010101010101ULL;
	__u64 a = ones * (set >> 8), b = ones * (set & 0xff), w, in;
	int i;

	for (i = 0; i < (PS_LINE_CARRY + PS_CHUNK) / 8; i++) {
		if (p >= end)
			break;
		w = ps_load64(buf, p);
		if (set == PS_SKIP_LIST)
			w ^= (ps_zero_bytes(w ^ (ones * '\t')) >> 7) * ('\t' ^ ' ');	/* HTAB -> SP */
		in = ps_zero_bytes(w ^ a) | ps_zero_bytes(w ^ b);
		if (~in & 0x8080808080808080ULL) {
			p += ps_lowest_byte(~in & 0x8080808080808080ULL);
			break;
		}
		p += 8;
	}
	return p < end ? p : end;
}

#define PS_GLOBAL __weak __attribute__((noinline))

/*
 * The client's bytes leave the scratch with the program: an API key in a
 * line not parsed yet (a segment held back, a pipelined request left for
 * a reload) would otherwise stay in the map after it. Loads note how far
 * they wrote (hw); what lies past the bytes of the last load is zeroed
 * as it loads (a line carried to the next segment takes PS_LINE_CARRY
 * bytes from its start, never stale ones), and all of it when the
 * program is done with the segment.
 */
/* All zero, as long as the largest buffer zeroed from it (ps_ooo_buf's). */
static const __u8 ps_zeros[sizeof(struct ps_ooo_seg)];
_Static_assert(sizeof(ps_zeros) >= PS_BUF_SIZE + 64, "ps_zeros covers the scratch buffer");

/* A load put the bytes up to len in buf: zero the stale ones after them. */
static __always_inline void ps_buf_loaded(struct ps_scratch *s, __u32 len)
{
	__u32 n;

	if (s->hw > len && len <= PS_LINE_CARRY + PS_CHUNK) {
		n = s->hw - len;
		if (n > PS_LINE_CARRY)
			n = PS_LINE_CARRY;
		bpf_probe_read_kernel(s->buf + len, n, ps_zeros);
	}
	if (len > s->hw)
		s->hw = len;
}

/* The segment is done with: nothing it loaded stays. */
static __always_inline void ps_buf_wipe(struct ps_scratch *s)
{
	__u32 n = s->hw;

	if (n > sizeof(s->buf))
		n = sizeof(s->buf);
	if (n)
		bpf_probe_read_kernel(s->buf, n, ps_zeros);
	s->hw = 0;
}

/*
 * ps_skip() on the scratch buffer. The helpers below call it rather than
 * inlining its loop: each place a loop can stop is a state of its own to
 * the verifier, and two loops in a row multiply them.
 */
PS_GLOBAL __u32 ps_g_skip(__u32 p, __u32 end, __u32 set)
{
	struct ps_scratch *s = ps_scratch();

	if (!s || end > PS_BUF_SIZE)
		return p;
	return ps_skip(s->buf, p, end, set);
}

/* Where the next byte c at or after p is (end if none), eight bytes at a time. */
PS_GLOBAL __u32 ps_g_find_byte(__u32 p, __u32 end, __u32 c)
{
	struct ps_scratch *s = ps_scratch();
	__u64 t;
	int i;

	if (!s || end > PS_BUF_SIZE)
		return end;
	for (i = 0; i < (PS_LINE_CARRY + PS_CHUNK) / 8; i++) {
		if (p >= end)
			break;
		t = ps_zero_bytes(ps_load64(s->buf, p) ^ (0x0101010101010101ULL * (c & 0xff)));
		if (t)
			return p + ps_lowest_byte(t) < end ? p + ps_lowest_byte(t) : end;
		p += 8;
	}
	return end;
}

/*
 * Does buf[p..end) start, case-insensitively, with the nlen-byte (9..24)
 * header name n0 n1 n2 followed by ':' or a blank? Returns the offset
 * after the name, 0 if not. Lower-casing by OR 0x20 maps letters and '-'
 * to themselves; the name words are given in lower case.
 */
static __always_inline __u32 ps_header_is(const __u8 *buf, __u32 p, __u32 end,
					  __u64 n0, __u64 n1, __u64 n2, __u32 nlen)
{
	const __u64 lc = 0x2020202020202020ULL;
	__u8 c;

	if (p + nlen + 1 > end)
		return 0;
	if ((ps_load64(buf, p) | lc) != n0)
		return 0;
	if (nlen <= 16) {
		if (((ps_load64(buf, p + 8) | lc) & ps_mask(nlen - 8)) != n1)
			return 0;
	} else {
		if ((ps_load64(buf, p + 8) | lc) != n1)
			return 0;
		if (((ps_load64(buf, p + 16) | lc) & ps_mask(nlen - 16)) != n2)
			return 0;
	}
	c = buf[(p + nlen) & PS_BUF_MASK];
	return c == ':' || c == ' ' || c == '\t' ? p + nlen : 0;
}

/*
 * After a header name (ps_header_is()): blanks, then the colon, then the
 * value's offset; 0 if no colon follows. http-parser takes a blank before
 * the colon, so a reader must too.
 */
static __always_inline __u32 ps_hdr_colon(const __u8 *buf, __u32 p, __u32 ce)
{
	if (!p)
		return 0;
	p = ps_g_skip(p, ce, PS_SKIP_BLANKS);
	return p < ce && buf[p & PS_BUF_MASK] == ':' ? p + 1 : 0;
}

/* Do the len bytes of path (a PS_PATH_MAX + 8 buffer) start with one of
 * the endpoint's paths? */
static __always_inline int ps_inference_path(const __u8 *path, __u32 len, __u32 ep)
{
	struct ps_endpoint *e = bpf_map_lookup_elem(&ps_endpoints, &ep);
	__u32 i, w, plen;

	if (!e)
		return 0;
#pragma unroll
	for (i = 0; i < PS_MAX_PATHS; i++) {
		int match = 1;

		if (i >= e->npaths)
			break;
		plen = e->path_len[i];
		if (!plen || plen > PS_PATH_MAX || plen > len)
			continue;
#pragma unroll
		for (w = 0; w < PS_PATH_MAX / 8; w++) {
			__u64 m, a, b;

			if (w * 8 >= plen)
				break;
			m = ps_mask(plen - w * 8);
			a = *(const __u64 *)&path[w * 8] & m;
			b = *(__u64 *)&e->paths[i][w * 8] & m;
			if (a != b) {
				match = 0;
				break;
			}
		}
		if (match)
			return 1;
	}
	return 0;
}

#endif
