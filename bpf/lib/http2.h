/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/2 cleartext (h2c) frames on the client-to-server byte stream
 * (RFC 9113, docs/http2-counting.md): a request is a stream on which the
 * client sent HEADERS. The client opens streams with ascending odd ids
 * (section 5.1.1), so a HEADERS frame opens a stream when its id is above
 * the highest the client has used; HEADERS on a lower id are a stream's
 * trailers. CONTINUATION, PRIORITY, DATA and every other frame are walked
 * past by their length, from the frame header alone; HPACK is not needed
 * to count.
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
	return state == PS_H2_PREFACE || state == PS_H2_FRAME || state == PS_H2_PAYLOAD;
}

/* Enter HTTP/2 at a frame boundary (st PS_H2_FRAME) or after the preface's first line. */
static __always_inline void ps_h2_enter(struct ps_http *h, __u8 st)
{
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
	if (type != PS_H2_HEADERS || !sid || sid <= s->h.clen)
		return;
	s->h.clen = sid;
	s->nreq++;
}

/*
 * Walk the frame headers of the chunk in the scratch: cc bytes of carry
 * (a frame header the last chunk cut) and n loaded bytes. Returns how
 * many of the n were used; the parser is left at the next frame header
 * (its first bytes carried) or in a payload to skip. A global function,
 * verified once.
 */
PS_GLOBAL __u32 ps_h2_walk(__u32 cc, __u32 n)
{
	struct ps_scratch *s = ps_scratch();
	__u32 len = cc + n, pos = 0, flen, sid, i;
	__u64 end;
	__u8 type;

	if (!s || n > PS_CHUNK || cc >= PS_H2_FRAME_HDR)
		return n;
	for (i = 0; i < PS_H2_WALK_MAX; i++) {
		if (pos > len || pos >= PS_BUF_SIZE)
			return n;
		if (len - pos < PS_H2_FRAME_HDR) {
			/* A frame header cut by the chunk's end: carried. */
			__builtin_memcpy(s->h.carry, s->buf + pos, 8);
			s->h.carry_len = len - pos;
			return n;
		}
		flen = ((__u32)s->buf[pos] << 16) | ((__u32)s->buf[(pos + 1) & PS_BUF_MASK] << 8) |
		       s->buf[(pos + 2) & PS_BUF_MASK];
		type = s->buf[(pos + 3) & PS_BUF_MASK];
		sid = (((__u32)s->buf[(pos + 5) & PS_BUF_MASK] << 24) |
		       ((__u32)s->buf[(pos + 6) & PS_BUF_MASK] << 16) |
		       ((__u32)s->buf[(pos + 7) & PS_BUF_MASK] << 8) |
		       s->buf[(pos + 8) & PS_BUF_MASK]) & 0x7fffffffU;
		ps_h2_frame(s, type, sid);
		end = (__u64)pos + PS_H2_FRAME_HDR + flen;
		if (end > len) {
			/* The payload goes on past the chunk: skipped. */
			s->h.carry_len = 0;
			s->h.body_left = end - len;
			s->h.state = PS_H2_PAYLOAD;
			return n;
		}
		pos = end;
	}
	/* More frames than one step walks: the next step goes on at pos. */
	s->h.carry_len = 0;
	return pos > cc ? pos - cc : 0;
}

#endif
