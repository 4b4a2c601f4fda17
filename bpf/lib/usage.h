/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The usage an inference server reports in a response to an inference
 * request (OpenAI's API and the servers that speak it): "completion_tokens":
 * N and "prompt_tokens": N, in a JSON body or in the usage of a stream's
 * events. Read byte by byte with the state in the response (ps_resp.tk_*),
 * across chunks and segments; response.h's word scan (ps_resp_run()) finds
 * a key by its end (_tokens and its quote) and leaves the state as these
 * steps would. A key inside a JSON string cannot match: its quotes are
 * escaped there. A response that reports its usage more than
 * once (a running total in every event) counts its highest figure once:
 * what is added is what goes beyond the figure counted so far
 * (ps_resp.tx_seen, rx_seen).
 */
#ifndef PS_USAGE_H
#define PS_USAGE_H

#include "common.h"

/* The keys, quotes included, 24 bytes lowest first, and their lengths. */
#define PS_TK_COMPLETION_W	0x74656c706d6f6322ULL, 0x656b6f745f6e6f69ULL, 0x000000000022736eULL
#define PS_TK_COMPLETION_LEN	19
#define PS_TK_PROMPT_W		0x5f74706d6f727022ULL, 0x0022736e656b6f74ULL, 0
#define PS_TK_PROMPT_LEN	15

/* A reported figure beyond this is not believed (and not added). */
#define PS_TK_MAX		(1U << 30)

/* Byte i (< 24) of a string given as its three words. */
static __always_inline __u8 ps_wchar(__u64 w0, __u64 w1, __u64 w2, __u32 i)
{
	__u64 w = i < 8 ? w0 : i < 16 ? w1 : w2;

	return (__u8)(w >> (8 * (i & 7)));
}

/* A new response: nothing matched, nothing counted. */
static __always_inline void ps_tk_begin(struct ps_resp *r)
{
	r->tk_idx = 0;
	r->tk_key = 0;
	r->tk_phase = PS_TKP_KEY;
	r->tk_val = 0;
	r->tx_seen = 0;
	r->rx_seen = 0;
}

/* The figure of key k read: what it adds to the counts. */
static __always_inline void ps_tk_figure(struct ps_resp *r, __u32 *tx, __u32 *rx)
{
	__u32 v = r->tk_val;

	if (v > PS_TK_MAX)
		return;
	if (r->tk_key == PS_TK_COMPLETION) {
		r->flags |= PS_RF_USAGE;
		if (v > r->tx_seen) {
			*tx += v - r->tx_seen;
			r->tx_seen = v;
		}
	} else if (r->tk_key == PS_TK_PROMPT && v > r->rx_seen) {
		*rx += v - r->rx_seen;
		r->rx_seen = v;
	}
}

/* One byte of a body (scanned). tx and rx gain the tokens it completes. */
static __always_inline void ps_tk_byte(struct ps_resp *r, __u8 c, __u32 *tx, __u32 *rx)
{
	__u32 i = r->tk_idx;
	__u8 k = r->tk_key;

	switch (r->tk_phase) {
	case PS_TKP_COLON:
		if (c == ':')
			r->tk_phase = PS_TKP_VALUE;
		else if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			r->tk_phase = PS_TKP_KEY;
		return;
	case PS_TKP_VALUE:
		if (c >= '0' && c <= '9') {
			r->tk_val = c - '0';
			r->tk_phase = PS_TKP_DIGITS;
		} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			r->tk_phase = PS_TKP_KEY;
		}
		return;
	case PS_TKP_DIGITS:
		if (c >= '0' && c <= '9') {
			if (r->tk_val <= PS_TK_MAX)
				r->tk_val = r->tk_val * 10 + (c - '0');
			return;
		}
		ps_tk_figure(r, tx, rx);
		r->tk_phase = PS_TKP_KEY;
		i = 0;
		break;
	}
	/* In a key, or looking for the quote that opens one. */
	if (i) {
		if ((k & PS_TK_COMPLETION) &&
		    (i >= PS_TK_COMPLETION_LEN || ps_wchar(PS_TK_COMPLETION_W, i) != c))
			k &= ~PS_TK_COMPLETION;
		if ((k & PS_TK_PROMPT) &&
		    (i >= PS_TK_PROMPT_LEN || ps_wchar(PS_TK_PROMPT_W, i) != c))
			k &= ~PS_TK_PROMPT;
		i++;
		if ((k & PS_TK_COMPLETION) && i == PS_TK_COMPLETION_LEN) {
			r->tk_key = PS_TK_COMPLETION;
			r->tk_phase = PS_TKP_COLON;
			r->tk_idx = 0;
			return;
		}
		if ((k & PS_TK_PROMPT) && i == PS_TK_PROMPT_LEN) {
			r->tk_key = PS_TK_PROMPT;
			r->tk_phase = PS_TKP_COLON;
			r->tk_idx = 0;
			return;
		}
		if (k) {
			r->tk_key = k;
			r->tk_idx = i;
			return;
		}
	}
	/* A quote may open a key (also the one that ended a failed match). */
	if (c == '"') {
		r->tk_key = PS_TK_COMPLETION | PS_TK_PROMPT;
		r->tk_idx = 1;
	} else {
		r->tk_idx = 0;
	}
}

#endif
