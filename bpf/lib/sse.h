/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Server-sent events (the WHATWG HTML "text/event-stream" format) in a
 * response body: an event's data comes on lines that start with "data:",
 * and each such line is counted (the stream's "data: [DONE]" too, which
 * is told apart so that an estimate of tokens leaves it out). Lines end
 * in CR, LF or CRLF. The scan keeps only where the current line stands
 * (ps_resp.sse, PS_SSE_*), so a line split across chunks or segments is
 * still counted once. It is byte by byte here; inside a line, and from a
 * line end through the "data:" of the next, response.h's word scan
 * (ps_resp_run()) takes the bytes eight or more at a time and leaves the
 * state as these steps would.
 */
#ifndef PS_SSE_H
#define PS_SSE_H

#include "common.h"

/* "data:" and "[DONE]", lowest byte first. */
#define PS_SSE_DATA	0x3a61746164ULL
#define PS_SSE_DATA_LEN	5
#define PS_SSE_DONEW	0x5d454e4f445bULL
#define PS_SSE_DONE_LEN	6

/* What a byte did: it completed a "data:" line start, or ended a [DONE] line. */
#define PS_SSE_EVENT	1
#define PS_SSE_END_DONE	2

/* A new body starts at a line start. */
static __always_inline void ps_sse_begin(__u8 *m)
{
	*m = 0;
}

/* One byte of a body: 0 or PS_SSE_EVENT or PS_SSE_END_DONE. */
static __always_inline int ps_sse_byte(__u8 *m, __u8 c)
{
	__u8 st = *m;

	if (c == '\n' || c == '\r') {
		*m = 0;
		return st == PS_SSE_DONE + PS_SSE_DONE_LEN ? PS_SSE_END_DONE : 0;
	}
	if (st < PS_SSE_DATA_LEN) {
		if (c != (__u8)(PS_SSE_DATA >> (8 * st))) {
			*m = PS_SSE_MID;
			return 0;
		}
		*m = st + 1;
		return st + 1 == PS_SSE_DATA_LEN ? PS_SSE_EVENT : 0;
	}
	if (st == PS_SSE_VALUE) {
		/* One space may come between the colon and the value. */
		if (c == ' ') {
			*m = PS_SSE_DONE;
			return 0;
		}
		st = PS_SSE_DONE;
	}
	if (st >= PS_SSE_DONE && st < PS_SSE_DONE + PS_SSE_DONE_LEN &&
	    c == (__u8)(PS_SSE_DONEW >> (8 * ((st - PS_SSE_DONE) & 7)))) {
		*m = st + 1;
		return 0;
	}
	*m = PS_SSE_MID;
	return 0;
}

#endif
