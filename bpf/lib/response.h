/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1 responses on egress: their framing (RFC 9112: status line,
 * header block, a body by Content-Length, chunked coding or to the
 * connection's end; 1xx interim responses, 204 and 304 without one), read
 * byte by byte across segment boundaries with the state in the flow
 * (struct ps_resp), so that the body of a response to an inference
 * request can be scanned (sse.h); other bodies are skipped whole.
 *
 * Which request a response answers: requests and responses are in order
 * on an HTTP/1 connection, and the ingress program queues per flow
 * whether each request was an inference one (struct ps_rq_queue). A
 * connection whose server bytes are not HTTP/1 responses (HTTP/2, a
 * tunnel, a stream picked up inside a response) or that loses bytes (a
 * hole in the server's stream) is not read further.
 */
#ifndef PS_RESPONSE_H
#define PS_RESPONSE_H

#include "common.h"
#include "sse.h"
#include "usage.h"
#include "tokens.h"
#include "counters.h"
#include "flow.h"

/* Bytes read into the buffer at a time, and steps (reads or skips) per segment. */
#define PS_RESP_CHUNK	2048
#define PS_RESP_STEPS	1024
/* Bytes past an offset of the buffer that its reads of words may take in:
 * a word, and the next byte (ps_resp_stops()), at its last byte. */
#define PS_RESP_AHEAD	16

/* A response's working state, per CPU (the buffer is too large for the stack). */
struct ps_resp_work {
	struct ps_resp r;
	__u64 rq_bits;		/* the flow's request queue, as read at the start */
	__u32 rq_n;
	__u32 events;		/* events counted in this segment ... */
	__u32 tx_tokens;	/* ... completion_tokens reported ... */
	__u32 rx_tokens;	/* ... prompt_tokens reported ... */
	__u32 est;		/* ... events of streams that ended without usage ... */
	__u32 debit;		/* ... and tokens to debit from the token limits */
	/* On a connection whose requests name their own clients (rq.named):
	 * each response's bytes and counts go to its request's client. */
	struct ps_rq_subj ring[PS_RQ_SUBJ];	/* the flow's ring, as read at the start ... */
	__u32 rq_n2;		/* ... and rq.n read again after it */
	struct ps_rq_late_key lk;	/* a request past the ring: in ps_rq_late */
	__u32 named;
	__u32 conn_slot;	/* the connection's client */
	__u32 conn_gen;		/* ... 0: none */
	__u32 base;		/* segment offset of b[0] */
	__u32 at;		/* ... of the byte being read */
	__u32 mark;		/* the segment's bytes from here on are r.sslot's */
	__u32 moved;		/* bytes counted to requests' own clients */
	__u32 unpaired;		/* responses counted to the connection's client */
	__u32 begun;		/* a response began at the byte at */
	__u32 encoded;		/* encoded answers to inference requests begun */
	__u32 pos;		/* ps_resp_run()'s offset in b ... */
	__u32 start;		/* ... and where it began, the body idle there */
	__u64 now;
	__u8 b[PS_RESP_CHUNK + PS_RESP_AHEAD];	/* + the look-ahead of the last byte */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_resp_work);
} ps_resp_map SEC(".maps");

static __always_inline struct ps_resp_work *ps_resp_work(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ps_resp_map, &zero);
}

/*
 * What answers counted, to a client's slot: its events and tokens, the
 * debit of its token limits (prompt and completion tokens, as OpenAI's
 * tokens per minute count them, or a stream's events while they are
 * more: ps_resp_debit()) and the estimate of streams without usage.
 * Inlined: it sits on the egress's deepest call chain (HTTP/1 and HTTP/2).
 */
static __always_inline void ps_answer_count(struct ps_client_ctr *ctr, __u32 events,
					    __u32 tx_tokens, __u32 rx_tokens, __u32 debit,
					    __u32 est, __u64 now)
{
	if (events)
		ps_add(ctr->tx_events, events);
	if (tx_tokens)
		ps_add(ctr->tx_tokens, tx_tokens);
	if (rx_tokens)
		ps_add(ctr->rx_tokens, rx_tokens);
	if (debit)
		ps_tok_debit(ctr, debit, now);
	if (est)
		ps_add(ctr->tx_tokens_estimated, est);
}

/*
 * The counts of the response being read since the last flush, and its
 * bytes of the segment up to offset to: to the client of the request it
 * answers (r.sgen), else (or that client's slot gone) the connection's.
 * A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_resp_flush(__u32 to)
{
	struct ps_resp_work *w = ps_resp_work();
	struct ps_client_ctr *ctr;
	__u32 n, slot;

	if (!w)
		return 0;
	n = to - w->mark;
	if ((__s32)n < 0)
		n = 0;
	w->mark = to;
	slot = w->conn_slot;
	if (w->r.sgen) {
		ctr = ps_slot_ctr(w->r.sslot);
		if (ctr && ctr->gen == w->r.sgen) {
			if (n) {
				ps_add(ctr->c.tx_payload, n);
				w->moved += n;
			}
			goto count;
		}
	}
	if (!w->conn_gen)
		goto out;
	ctr = ps_slot_ctr(slot);
	if (!ctr || ctr->gen != w->conn_gen)
		goto out;
count:
	ps_answer_count(ctr, w->events, w->tx_tokens, w->rx_tokens, w->debit, w->est, w->now);
out:
	w->events = w->tx_tokens = w->rx_tokens = w->est = w->debit = 0;
	return 0;
}

/*
 * A response starts at the byte being read: what the one before it took
 * is counted, and it is the client's of the request it answers (request
 * r.n, as final responses are counted), from the flow's ring; one whose
 * request is not in it (past PS_RQ_SUBJ, or never read) is the
 * connection's. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_resp_subject(void)
{
	struct ps_resp_work *w = ps_resp_work();
	struct ps_rq_subj *e;
	__u32 j;

	if (!w || !w->named)
		return 0;
	ps_resp_flush(w->at);
	j = w->r.n;
	w->r.sslot = 0;
	w->r.sgen = 0;
	if ((__s32)(w->rq_n - j) > 0 && (__s32)(w->rq_n2 - j) <= PS_RQ_SUBJ) {
		e = &w->ring[j & (PS_RQ_SUBJ - 1)];
		w->r.sslot = e->slot;
		w->r.sgen = e->gen;
		return 0;
	}
	/* Past the ring: kept by the ingress (forwarded.h ps_g_rq_late()). */
	if ((__s32)(w->rq_n - j) > 0) {
		w->lk.idx = j;
		e = bpf_map_lookup_elem(&ps_rq_late, &w->lk);
		if (e) {
			w->r.sslot = e->slot;
			w->r.sgen = e->gen;
			bpf_map_delete_elem(&ps_rq_late, &w->lk);
			return 0;
		}
	}
	w->unpaired++;
	return 0;
}

/* The first, second and third of a name's three words (PS_R_*_W, PS_TK_*_W). */
#define PS_W0(...)	PS_W0_(__VA_ARGS__)
#define PS_W1(...)	PS_W1_(__VA_ARGS__)
#define PS_W2(...)	PS_W2_(__VA_ARGS__)
#define PS_W0_(a, b, c)	(a)
#define PS_W1_(a, b, c)	(b)
#define PS_W2_(a, b, c)	(c)

/* The header names and values read (lower case), 24 bytes lowest first. */
#define PS_R_CLEN_W	0x2d746e65746e6f63ULL, 0x00006874676e656cULL, 0x0000000000000000ULL	/* "content-length" */
#define PS_R_TE_W	0x726566736e617274ULL, 0x6e69646f636e652dULL, 0x0000000000000067ULL	/* "transfer-encoding" */
#define PS_R_CTYPE_W	0x2d746e65746e6f63ULL, 0x0000000065707974ULL, 0x0000000000000000ULL	/* "content-type" */
#define PS_R_CENC_W	0x2d746e65746e6f63ULL, 0x676e69646f636e65ULL, 0x0000000000000000ULL	/* "content-encoding" */
#define PS_R_IDENT_W	0x797469746e656469ULL, 0, 0	/* "identity" */
#define PS_R_SSE_W	0x6576652f74786574ULL, 0x61657274732d746eULL, 0x000000000000006dULL	/* "text/event-stream" */
#define PS_R_CHUNKED_W	0x0064656b6e756863ULL, 0x0000000000000000ULL, 0x0000000000000000ULL	/* "chunked" */
#define PS_RN_CLEN_LEN	14
#define PS_RN_TE_LEN	17
#define PS_RN_CTYPE_LEN	12
#define PS_RN_CENC_LEN	16
#define PS_RV_IDENT_LEN	8
#define PS_R_JSON_W	0x746163696c707061ULL, 0x6e6f736a2f6e6f69ULL, 0	/* "application/json" */
#define PS_RV_SSE_LEN	17
#define PS_RV_JSON_LEN	16
#define PS_RV_CHUNKED_LEN 7
/* "HTTP/", lowest byte first. */
#define PS_RV_HTTP	0x2f50545448ULL
/* "TTP/1.1 " and "TTP/1.0 ", lowest byte first: a status line after its "H". */
#define PS_RV_TTP11	0x20312e312f505454ULL
#define PS_RV_TTP10	0x20302e312f505454ULL
/* Value of idx once a Content-Type has matched, or has not. */
#define PS_RV_DONE	0xfe
#define PS_RV_NO	0xff

/* Is the body of the response being read scanned (events, usage)? */
static __always_inline int ps_resp_scanned(const struct ps_resp *r)
{
	return (r->flags & PS_RF_INFERENCE) && (r->flags & (PS_RF_SSE | PS_RF_JSON)) &&
	       !(r->flags & PS_RF_ENCODED);
}

/*
 * Does the response answer an inference request with an encoded body
 * (gzip, br, ...)? Its events and usage cannot be read: each byte of its
 * body counts as a token of its estimate (docs/output-tokens.md).
 */
static __always_inline int ps_resp_encoded(const struct ps_resp *r)
{
	return (r->flags & (PS_RF_INFERENCE | PS_RF_ENCODED)) ==
	       (PS_RF_INFERENCE | PS_RF_ENCODED);
}

/*
 * What the token limits are debited for a response, as its bytes come:
 * the higher of its events (not [DONE]) and the tokens it reported so
 * far, less what it was debited already. A stream is debited an event a
 * token as it streams, so a client that cuts it short (or leaves its
 * usage out) is debited what it took; a usage event at its end debits
 * what the figures add beyond that.
 */
static __always_inline void ps_resp_debit(struct ps_resp_work *w)
{
	struct ps_resp *r = &w->r;
	__u32 d = r->tx_seen + r->rx_seen;

	if (r->ev > d)
		d = r->ev;
	if (d > r->dbt) {
		w->debit += d - r->dbt;
		r->dbt = d;
	}
}

/*
 * The response is complete: the next one starts. A stream that reported
 * no completion_tokens has its events (not [DONE]) as its estimate.
 */
static __always_inline void ps_resp_done(struct ps_resp_work *w)
{
	struct ps_resp *r = &w->r;

	if ((r->flags & (PS_RF_INFERENCE | PS_RF_SSE | PS_RF_USAGE)) ==
	    (PS_RF_INFERENCE | PS_RF_SSE) || ps_resp_encoded(r))
		w->est += r->ev;
	/* dbt stays: it covers the response's figures until the next
	 * response's headers start them afresh. */
	ps_resp_debit(w);
	r->ev = 0;
	r->state = PS_R_START;
}

/* The empty line ending a response's header block: how is its body framed? */
static __always_inline void ps_resp_headers_end(struct ps_resp_work *w)
{
	struct ps_resp *r = &w->r;

	if (r->code >= 100 && r->code < 200) {
		/* 101 switches protocols; others are interim: the final
		 * response to the same request follows. */
		r->state = r->code == 101 ? PS_R_DEAD : PS_R_START;
		return;
	}
	/* The request it answers; a response to none the ingress program
	 * saw (a capture picked up midway) answers no inference request. */
	if ((__s32)(w->rq_n - r->n) > 0) {
		if (ps_rq_inference(w->rq_n, w->rq_bits, r->n)) {
			r->flags |= PS_RF_INFERENCE;
			if (r->flags & PS_RF_ENCODED)
				w->encoded++;
		}
		r->n++;
	}
	ps_sse_begin(&r->sse);
	ps_tk_begin(r);
	r->ev = 0;
	/* Its request was charged its client's token_reserve as it started:
	 * the debit starts past it (tokens.h). */
	r->dbt = (r->flags & PS_RF_INFERENCE) ?
		 ps_tok_reserve_at(r->sgen ? r->sslot : w->conn_slot,
				   r->sgen ? r->sgen : w->conn_gen) : 0;
	if (r->code == 204 || r->code == 304) {
		ps_resp_done(w);
	} else if (r->flags & PS_RF_CHUNKED) {
		r->state = PS_R_CHUNK_SIZE;
		r->left = 0;
	} else if (r->flags & PS_RF_CLEN) {
		if (r->left)
			r->state = PS_R_BODY;
		else
			ps_resp_done(w);
	} else {
		r->state = PS_R_EOF;
	}
}

/* A header name's byte: drop the candidates it does not continue. */
static __always_inline void ps_resp_name(struct ps_resp *r, __u8 c)
{
	__u32 i = r->idx;
	__u8 hdr = r->hdr;

	if (c == ':') {
		r->idx = 0;
		if ((hdr & PS_RH_CLEN) && i == PS_RN_CLEN_LEN) {
			r->hdr = PS_RH_CLEN;
			r->left = 0;
			r->flags |= PS_RF_CLEN;
		} else if ((hdr & PS_RH_TE) && i == PS_RN_TE_LEN) {
			r->hdr = PS_RH_TE;
		} else if ((hdr & PS_RH_CTYPE) && i == PS_RN_CTYPE_LEN) {
			r->hdr = PS_RH_CTYPE;
			r->vmask = 3;
		} else if ((hdr & PS_RH_CENC) && i == PS_RN_CENC_LEN) {
			r->hdr = PS_RH_CENC;
		} else {
			r->state = PS_R_SKIPLINE;
			return;
		}
		r->state = PS_R_VALUE;
		return;
	}
	c = ps_lower(c);
	if (i >= PS_RN_TE_LEN) {
		r->state = PS_R_SKIPLINE;
		return;
	}
	if ((hdr & PS_RH_CLEN) && (i >= PS_RN_CLEN_LEN || ps_wchar(PS_R_CLEN_W, i) != c))
		hdr &= ~PS_RH_CLEN;
	if ((hdr & PS_RH_TE) && ps_wchar(PS_R_TE_W, i) != c)
		hdr &= ~PS_RH_TE;
	if ((hdr & PS_RH_CTYPE) && (i >= PS_RN_CTYPE_LEN || ps_wchar(PS_R_CTYPE_W, i) != c))
		hdr &= ~PS_RH_CTYPE;
	if ((hdr & PS_RH_CENC) && (i >= PS_RN_CENC_LEN || ps_wchar(PS_R_CENC_W, i) != c))
		hdr &= ~PS_RH_CENC;
	r->hdr = hdr;
	r->idx = i + 1;
	if (!hdr)
		r->state = PS_R_SKIPLINE;
}

/* A header value's byte (not its line end). */
static __always_inline void ps_resp_value(struct ps_resp *r, __u8 c)
{
	__u32 i = r->idx;

	switch (r->hdr) {
	case PS_RH_CLEN:
		if (c >= '0' && c <= '9' && r->left < (1ULL << 48))
			r->left = r->left * 10 + (c - '0');
		break;
	case PS_RH_TE:
		c = ps_lower(c);
		if (i < PS_RV_CHUNKED_LEN && ps_wchar(PS_R_CHUNKED_W, i) == c)
			i++;
		else
			i = c == 'c';
		if (i == PS_RV_CHUNKED_LEN) {
			r->flags |= PS_RF_CHUNKED;
			i = 0;
		}
		r->idx = i;
		break;
	case PS_RH_CENC:
		/* Anything but "identity" (white space aside) encodes. */
		if (c == ' ' || c == '\t' || c == '\r')
			break;
		if (i < PS_RV_IDENT_LEN && ps_wchar(PS_R_IDENT_W, i) == ps_lower(c))
			r->idx = i + 1;
		else
			r->flags |= PS_RF_ENCODED;
		break;
	case PS_RH_CTYPE:
		if (i >= PS_RV_DONE || (!i && (c == ' ' || c == '\t')))
			break;
		c = ps_lower(c);
		if ((r->vmask & 1) && (i >= PS_RV_SSE_LEN || ps_wchar(PS_R_SSE_W, i) != c))
			r->vmask &= ~1;
		if ((r->vmask & 2) && (i >= PS_RV_JSON_LEN || ps_wchar(PS_R_JSON_W, i) != c))
			r->vmask &= ~2;
		i++;
		if ((r->vmask & 1) && i == PS_RV_SSE_LEN) {
			r->flags |= PS_RF_SSE;
			i = PS_RV_DONE;
		} else if ((r->vmask & 2) && i == PS_RV_JSON_LEN) {
			r->flags |= PS_RF_JSON;
			i = PS_RV_DONE;
		} else if (!r->vmask) {
			i = PS_RV_NO;
		}
		r->idx = i;
		break;
	}
}

/* The line end of a chunk-size line. */
static __always_inline void ps_resp_chunk_line(struct ps_resp *r)
{
	if (r->left) {
		r->state = PS_R_CHUNK_DATA;
	} else {
		r->state = PS_R_TRAILERS;
	}
}

/* What ps_resp_byte() asks of the scan. */
#define PS_RB_NEXT	0	/* the next byte */
#define PS_RB_AFTER	1	/* stop after this byte: a body skipped whole begins */
#define PS_RB_BEFORE	2	/* stop before this byte: it is such a body's */

/* One byte of the server's stream through the parser. */
static __always_inline int ps_resp_byte(struct ps_resp_work *w, __u8 c)
{
	struct ps_resp *r = &w->r;
	__u8 d;

	switch (r->state) {
	case PS_R_START:
		if (c == '\r' || c == '\n')
			break;
		if (c != 'H') {
			r->state = PS_R_DEAD;
			return PS_RB_AFTER;
		}
		r->state = PS_R_VERSION;
		r->idx = 1;
		r->flags = 0;
		r->code = 0;
		r->hdr = 0;
		r->left = 0;
		/* Whose it is is settled before its next byte is read
		 * (ps_resp_scan()). */
		if (w->named) {
			w->begun = 1;
			return PS_RB_AFTER;
		}
		break;
	case PS_R_VERSION:
		if (r->idx < 5) {
			if (c != (__u8)(PS_RV_HTTP >> (8 * (r->idx & 7)))) {
				r->state = PS_R_DEAD;
				return PS_RB_AFTER;
			}
			r->idx++;
		} else if (c == ' ') {
			r->state = PS_R_CODE;
			r->idx = 0;
		} else if (r->idx++ > 12) {
			r->state = PS_R_DEAD;
			return PS_RB_AFTER;
		}
		break;
	case PS_R_CODE:
		if (r->idx == 3) {
			r->state = c == '\n' ? PS_R_HDR : PS_R_LINE;
		} else if (c >= '0' && c <= '9') {
			r->code = r->code * 10 + (c - '0');
			r->idx++;
		} else {
			r->state = PS_R_DEAD;
			return PS_RB_AFTER;
		}
		break;
	case PS_R_LINE:
	case PS_R_SKIPLINE:
		if (c == '\n')
			r->state = PS_R_HDR;
		break;
	case PS_R_HDR:
		if (c == '\r')
			break;
		if (c == '\n') {
			ps_resp_headers_end(w);
			if (r->state == PS_R_DEAD)
				return PS_RB_AFTER;
			if (!ps_resp_scanned(r) && r->state != PS_R_START &&
			    r->state != PS_R_CHUNK_SIZE)
				return PS_RB_AFTER;
			break;
		}
		r->hdr = PS_RH_CLEN | PS_RH_TE | PS_RH_CTYPE | PS_RH_CENC;
		r->idx = 0;
		r->state = PS_R_NAME;
		ps_resp_name(r, c);
		break;
	case PS_R_NAME:
		if (c == '\n')
			r->state = PS_R_HDR;
		else
			ps_resp_name(r, c);
		break;
	case PS_R_VALUE:
		if (c == '\n')
			r->state = PS_R_HDR;
		else
			ps_resp_value(r, c);
		break;
	case PS_R_BODY:
	case PS_R_CHUNK_DATA:
	case PS_R_EOF:
		if (!ps_resp_scanned(r))
			return PS_RB_BEFORE;
		if (r->flags & PS_RF_SSE) {
			int e = ps_sse_byte(&r->sse, c);

			if (e == PS_SSE_EVENT) {
				w->events++;
				r->ev++;
			} else if (e == PS_SSE_END_DONE && r->ev) {
				r->ev--;
			}
		}
		ps_tk_byte(r, c, &w->tx_tokens, &w->rx_tokens);
		if (r->state == PS_R_EOF)
			break;
		if (--r->left)
			break;
		if (r->state == PS_R_BODY)
			ps_resp_done(w);
		else
			r->state = PS_R_CHUNK_CRLF;
		break;
	case PS_R_CHUNK_SIZE:
		d = ps_lower(c);
		if (d >= '0' && d <= '9') {
			if (r->left < (1ULL << 48))
				r->left = r->left * 16 + (d - '0');
		} else if (d >= 'a' && d <= 'f') {
			if (r->left < (1ULL << 48))
				r->left = r->left * 16 + (d - 'a' + 10);
		} else if (c == '\n') {
			ps_resp_chunk_line(r);
			if (r->state == PS_R_CHUNK_DATA && !ps_resp_scanned(r))
				return PS_RB_AFTER;
		} else if (c == ';' || c == ' ' || c == '\t' || c == '\r') {
			r->state = PS_R_CHUNK_EXT;
		} else {
			r->state = PS_R_DEAD;
			return PS_RB_AFTER;
		}
		break;
	case PS_R_CHUNK_EXT:
		if (c == '\n') {
			ps_resp_chunk_line(r);
			if (r->state == PS_R_CHUNK_DATA && !ps_resp_scanned(r))
				return PS_RB_AFTER;
		}
		break;
	case PS_R_CHUNK_CRLF:
		if (c == '\r')
			break;
		if (c != '\n') {
			r->state = PS_R_DEAD;
			return PS_RB_AFTER;
		}
		r->state = PS_R_CHUNK_SIZE;
		r->left = 0;
		break;
	case PS_R_TRAILERS:
		if (c == '\r')
			break;
		if (c == '\n')
			ps_resp_done(w);
		else
			r->state = PS_R_TRAILER_LINE;
		break;
	case PS_R_TRAILER_LINE:
		if (c == '\n')
			r->state = PS_R_TRAILERS;
		break;
	case PS_R_DEAD:
		return PS_RB_AFTER;
	}
	return PS_RB_NEXT;
}

/* bpf_loop context of a buffer's scan. */
struct ps_resp_scan_ctx {
	__u32 n;		/* bytes in the buffer */
	__u32 used;		/* bytes taken */
	__u32 more;		/* the segment goes on past the buffer */
};

/* Bytes one callback of the scan reads at most (amortizes the call). */
#define PS_RESP_PER_CB	8

/*
 * In a scanned body, at a place where only line ends and usage keys
 * matter: inside an event's line, outside a usage key.
 */
static __always_inline int ps_resp_idle(const struct ps_resp *r)
{
	return (r->state == PS_R_BODY || r->state == PS_R_CHUNK_DATA || r->state == PS_R_EOF) &&
	       (!(r->flags & PS_RF_SSE) || r->sse == PS_SSE_MID) && !r->tk_idx &&
	       r->tk_phase == PS_TKP_KEY;
}

#define PS_HAS0(v)	(((v) - 0x0101010101010101ULL) & ~(v) & 0x8080808080808080ULL)
#define PS_BYTES(c)	(0x0101010101010101ULL * (__u8)(c))

/*
 * The 8 bytes of the buffer at i, lowest first: one load of the map value,
 * unaligned (i < PS_RESP_CHUNK here: the mask only bounds it for the
 * verifier).
 */
static __always_inline __u64 ps_resp_word(const struct ps_resp_work *w, __u32 i)
{
	/* Through a pointer of its own: a cast of &b[i] would be read as
	 * b's bytes are aligned, a byte at a time. */
	const __u64 *p = (const void *)&w->b[i & (PS_RESP_CHUNK - 1)];

	barrier_var(p);
	return *p;
}

/* The index (0-7) of the lowest byte whose top bit is set in m (m != 0). */
static __always_inline __u32 ps_first_stop(__u64 m)
{
	return (__u32)((((m & -m) >> 7) * 0x0001020304050607ULL) >> 56);
}

/* A usage key taken whole, its closing quote at q - 1: its value is next. */
static __always_inline __u32 ps_resp_key(struct ps_resp_work *w, __u32 q, __u8 key)
{
	w->r.tk_key = key;
	w->r.tk_phase = PS_TKP_COLON;
	w->r.tk_idx = 0;
	return q;
}

/*
 * A line end (CR or LF) at q of an idle event stream whose bytes go on at
 * least 10 past it (the caller checks): the next line's start, "data:" as
 * far as it goes; or after a second line end (CRLF, or a blank line), the
 * start of the line after it. A data line's "data:" (and one space) are
 * taken at once, the event counted, and the line left at its value's
 * first byte, not read (not "[": a "[DONE]" is the parser's). Not a data
 * line: its bytes are scanned as any (a line end, an underscore among
 * them). Returns the new offset; q itself when the byte at q is the
 * parser's.
 */
static __always_inline __u32 ps_resp_lstop(struct ps_resp_work *w, __u32 q)
{
	__u64 z = ps_resp_word(w, q + 1);
	__u32 k;
	__u8 c;

	if ((z ^ PS_SSE_DATA) & 0xffffffffffULL) {
		c = (__u8)z;
		if (c != '\n' && c != '\r')
			return q + 1;
		z = ps_resp_word(w, q + 2);
		if ((z ^ PS_SSE_DATA) & 0xffffffffffULL)
			return q + 2;
		q++;
	}
	k = 6;
	c = (__u8)(z >> 40);
	if (c == ' ') {
		k = 7;
		c = (__u8)(z >> 48);
	}
	if (c == '[')
		return q;
	w->events++;
	w->r.ev++;
	return q + k;
}

/*
 * An underscore at u in an idle body whose bytes from i0 on the scan took,
 * followed by "tokens\"" (bytes to u + 7 read): the end of a usage key that
 * began at i0 or after it ("completion_tokens" or "prompt_tokens", quotes
 * included; bytes from u - 11 read), taken as ps_tk_byte() takes it byte by
 * byte, its value next (the caller leaves it to the parser: tk_phase is no
 * longer PS_TKP_KEY); any other is passed. Every key ends so, and the
 * first to end is the one ps_tk_byte() takes first: a quote opens a key
 * wherever a match before it has failed. Returns the new offset.
 */
static __always_inline __u32 ps_resp_ustop(struct ps_resp_work *w, __u32 u, __u32 i0)
{
	if ((ps_resp_word(w, u + 1) & ps_mask(7)) != PS_W1(PS_TK_PROMPT_W))
		return u + 1;
	if (u >= i0 + PS_TK_PROMPT_LEN - 8 &&
	    (ps_resp_word(w, u + 8 - PS_TK_PROMPT_LEN) & ps_mask(7)) ==
	    (PS_W0(PS_TK_PROMPT_W) & ps_mask(7)))
		return ps_resp_key(w, u + 8, PS_TK_PROMPT);
	if (u >= i0 + PS_TK_COMPLETION_LEN - 8 &&
	    ps_resp_word(w, u + 8 - PS_TK_COMPLETION_LEN) == PS_W0(PS_TK_COMPLETION_W) &&
	    (ps_resp_word(w, u - 3) & ps_mask(3)) == (PS_W1(PS_TK_COMPLETION_W) & ps_mask(3)))
		return ps_resp_key(w, u + 8, PS_TK_COMPLETION);
	return u + 1;
}

/*
 * The bytes of the word at p that may matter to the word scan, each as the
 * top bit of its byte: an underscore followed by 't' (a usage key,
 * "completion_tokens" or "prompt_tokens", may end there: ps_resp_ustop()),
 * and in an event stream a byte below 0x10 (CR and LF among them). The
 * lowest bit set is exact, the others may be above a byte that matched.
 * Reads the 9 bytes from p.
 */
static __always_inline __u64 ps_resp_stops(const __u8 *p, int sse)
{
	__u64 x = *(const __u64 *)p, y = *(const __u64 *)(p + 1);
	__u64 v = (x ^ PS_BYTES('_')) | (y ^ PS_BYTES('t'));
	__u64 m = (v - PS_BYTES(1)) & ~v;

	if (sse)
		m |= (x - PS_BYTES(0x10)) & ~x;
	return m & PS_BYTES(0x80);
}

/* Words a step of the word scan takes at once where the room goes on past
 * them, steps (those words, or a stop) one call of ps_resp_run() takes at
 * most, and steps (a word, or a stop) in the last bytes of the room. */
#define PS_RESP_HOT_WORDS	4
#define PS_RESP_HOT	48
#define PS_RESP_TAIL	12
/* Bytes of the room a step of the words needs: the words, and the
 * look-ahead of the last one's stops. */
#define PS_RESP_HOT_ROOM	(8 * PS_RESP_HOT_WORDS + 16)
/* The longest a usage key's start can be before a byte that does not end
 * it: its quote and all but the last of its letters. */
#define PS_RESP_KEY_OPEN	(PS_TK_COMPLETION_LEN - 1)

/*
 * A stop at q of the word scan (ps_resp_stops()), its look-ahead in the
 * room: the new offset (ps_resp_ustop(), ps_resp_lstop()); q itself when
 * the byte at q is the parser's.
 */
static __always_inline __u32 ps_resp_stop(struct ps_resp_work *w, __u32 q, __u8 c, int sse)
{
	if (c == '_')
		return ps_resp_ustop(w, q, w->start);
	if (!sse || (c != '\n' && c != '\r'))
		return q + 1;
	return ps_resp_lstop(w, q);
}

/*
 * ps_resp_run()'s word scan from w->pos while the room (up to lim) has
 * PS_RESP_HOT_ROOM bytes, PS_RESP_HOT_WORDS words at a time; sse a
 * constant. Returns 1 when the parser takes over at w->pos (its byte is
 * the parser's, or a usage key's value is next).
 */
static __always_inline int ps_resp_hot(struct ps_resp_work *w, __u64 lim, int sse)
{
	__u32 i, j, k, q, s;
	const __u8 *p;
	__u64 m;

	for (k = 0; k < PS_RESP_HOT; k++) {
		/* Read back from the map: the verifier knows no bounds of it
		 * beyond the checks below, so that every step's state is the
		 * same to it whatever the one before took. */
		barrier();
		i = w->pos;
		if (i + PS_RESP_HOT_ROOM > lim || i > PS_RESP_CHUNK - PS_RESP_HOT_ROOM)
			return 0;
		/* Through a pointer of its own: unaligned words (as
		 * ps_resp_word()). */
		p = &w->b[i];
		barrier_var(p);
		if (!(ps_resp_stops(p, sse) | ps_resp_stops(p + 8, sse) |
		      ps_resp_stops(p + 16, sse) | ps_resp_stops(p + 24, sse))) {
			w->pos = i + 8 * PS_RESP_HOT_WORDS;
			continue;
		}
		/* The first word with a stop. */
		m = ps_resp_stops(p, sse);
		for (j = 1; j < PS_RESP_HOT_WORDS && !m; j++) {
			i += 8;
			m = ps_resp_stops(p + 8 * j, sse);
		}
		q = i + ps_first_stop(m);
		s = ps_resp_stop(w, q, w->b[q & (PS_RESP_CHUNK - 1)], sse);
		w->pos = s;
		if (s == q || w->r.tk_phase != PS_TKP_KEY)
			return 1;
	}
	return 0;
}

/*
 * ps_resp_run()'s scan of the last bytes of the room (up to lim), a word
 * at a time, the bytes past the room left out; sse a constant. A stop
 * whose look-ahead is not in the room ends it there. Returns 1 when the
 * parser takes over at w->pos (its byte is the parser's, or a usage key's
 * value is next).
 */
static __always_inline int ps_resp_tail(struct ps_resp_work *w, __u64 lim, int sse)
{
	__u32 i, k, q, s, room;
	const __u8 *p;
	__u64 m;
	__u8 c;

	for (k = 0; k < PS_RESP_TAIL; k++) {
		barrier();
		i = w->pos;
		if (i >= lim || i > PS_RESP_CHUNK - 1)
			return 0;
		room = lim - i;
		p = &w->b[i];
		barrier_var(p);
		m = ps_resp_stops(p, sse);
		if (room < 8)
			m &= PS_BYTES(0x80) >> (8 * (8 - room));
		if (!m) {
			w->pos = i + (room < 8 ? room : 8);
			continue;
		}
		q = i + ps_first_stop(m);
		c = w->b[q & (PS_RESP_CHUNK - 1)];
		if ((c == '_' && q + 8 > lim) ||
		    (sse && (c == '\n' || c == '\r') && q + 10 > lim)) {
			w->pos = q;
			return 0;
		}
		s = ps_resp_stop(w, q, c, sse);
		w->pos = s;
		if (s == q || w->r.tk_phase != PS_TKP_KEY)
			return 1;
	}
	return 0;
}

/* The low n bytes (1 to 8) of a word, all of them past 8, none below 1. */
static __always_inline __u64 ps_wmask(__s32 n)
{
	return n >= 8 ? ~0ULL : n < 1 ? 0 : ~0ULL >> (64 - 8 * n);
}

/* Are the n bytes at s (1 to 18) the start of a usage key, its quote first? */
static __always_inline int ps_resp_key_open(const struct ps_resp_work *w, __u32 s, __u32 n)
{
	__u64 a = ps_resp_word(w, s), b = ps_resp_word(w, s + 8), c = ps_resp_word(w, s + 16);
	__u64 m0 = ps_wmask(n), m1 = ps_wmask(n - 8), m2 = ps_wmask(n - 16);

	return (!((a ^ PS_W0(PS_TK_COMPLETION_W)) & m0) &&
		!((b ^ PS_W1(PS_TK_COMPLETION_W)) & m1) &&
		!((c ^ PS_W2(PS_TK_COMPLETION_W)) & m2)) ||
	       (!((a ^ PS_W0(PS_TK_PROMPT_W)) & m0) && !((b ^ PS_W1(PS_TK_PROMPT_W)) & m1) &&
		!((c ^ PS_W2(PS_TK_PROMPT_W)) & m2));
}

/*
 * The word scan stopped at t, its bytes from i0 taken: where the scan goes
 * on, so that no usage key's start is left behind. A key that may have
 * begun before t and go on past it (the last quote before t, a key's
 * first bytes from it to t) is read anew from its quote; those bytes have
 * no line end, nothing counted.
 */
static __always_inline __u32 ps_resp_resume(const struct ps_resp_work *w, __u32 i0, __u32 t)
{
	__u32 j;
	__u8 c;

	for (j = 1; j <= PS_RESP_KEY_OPEN; j++) {
		if (t < i0 + j)
			break;
		c = w->b[(t - j) & (PS_RESP_CHUNK - 1)];
		if (c == '"')
			return ps_resp_key_open(w, t - j, j) ? t - j : t;
		if (c != '_' && (c < 'a' || c > 'z'))
			break;
	}
	return t;
}

/*
 * The idle body's bytes of the buffer (n of them) from i on, as far as the
 * parser is not needed, the room being the body's bytes in the buffer (the
 * last byte of a body or chunk left to the parser, which ends it):
 * PS_RESP_HOT_WORDS words at a time (ps_resp_hot()) while the room goes on
 * PS_RESP_HOT_ROOM bytes, then unless the segment goes on past the buffer
 * (more) a word at a time to the room's end (ps_resp_tail()); the stops
 * taken (ps_resp_stop()). Where it ends, a usage key that may have begun
 * is left to be read anew (ps_resp_resume()). Returns where the parser (or
 * the next buffer) takes over, i when the parser must read the byte at i.
 * The body's bytes left go down by those taken. A global function,
 * verified once.
 */
__weak __attribute__((noinline)) int ps_resp_run(__u32 i, __u32 n, __u32 more)
{
	struct ps_resp_work *w = ps_resp_work();
	__u32 i0 = i;
	__u64 lim = n;
	int sse;

	if (!w || n > PS_RESP_CHUNK)
		return i;
	sse = w->r.flags & PS_RF_SSE;
	if (w->r.state != PS_R_EOF && w->r.left <= lim - i)
		lim = i + w->r.left - 1;
	w->pos = i;
	w->start = i;
	if (sse ? ps_resp_hot(w, lim, 1) : ps_resp_hot(w, lim, 0))
		goto out;
	if (!more && (sse ? ps_resp_tail(w, lim, 1) : ps_resp_tail(w, lim, 0)))
		goto out;
	barrier();
	w->pos = ps_resp_resume(w, w->start, w->pos);
out:
	barrier();
	i = w->pos;
	if (i < i0 || i > PS_RESP_CHUNK)
		return i0;
	if (w->r.state != PS_R_EOF)
		w->r.left -= i - i0;
	return i;
}

/* The word x with its letters A-Z in lower case, and nothing else changed. */
static __always_inline __u64 ps_word_lower(__u64 x)
{
	__u64 h = x & 0x7f7f7f7f7f7f7f7fULL;
	__u64 up = (h + PS_BYTES(0x80 - 'A')) & ~(h + PS_BYTES(0x80 - 'Z' - 1)) & ~x &
		   0x8080808080808080ULL;

	return x | (up >> 2);
}


/*
 * Is the byte being read inside a line of the header block (or of the
 * trailers) where nothing matters until its LF: the status line after
 * its code, a header line not read, a Content-Type value once matched or
 * not, a Content-Length value's digits ended by white space?
 */
static __always_inline int ps_resp_in_line(const struct ps_resp *r)
{
	switch (r->state) {
	case PS_R_LINE:
	case PS_R_SKIPLINE:
	case PS_R_TRAILER_LINE:
		return 1;
	case PS_R_VALUE:
		return r->hdr == PS_RH_CTYPE && r->idx >= PS_RV_DONE;
	}
	return 0;
}

/*
 * At the start of a header name, or of a Content-Type value, with at least
 * 24 bytes of the buffer from i (i <= PS_RESP_CHUNK - 24): the name with
 * its colon, or the media type, compared a word at a time, as
 * ps_resp_name() and ps_resp_value() would byte by byte. Returns the
 * offset of the first byte left to read (past the name's colon, past the
 * media type matched), or i, the state set to skip what is left of a line
 * that matches nothing.
 */
static __always_inline __u32 ps_resp_hword(struct ps_resp_work *w, __u32 i)
{
	struct ps_resp *r = &w->r;
	__u64 a, b, c;

	a = ps_word_lower(ps_resp_word(w, i));
	b = ps_word_lower(ps_resp_word(w, i + 8));
	c = ps_word_lower(ps_resp_word(w, i + 16));
	if (r->state == PS_R_VALUE) {
		/* A Content-Type's first byte that is not white space. */
		if (a == PS_W0(PS_R_JSON_W) && b == PS_W1(PS_R_JSON_W)) {
			r->flags |= PS_RF_JSON;
			r->idx = PS_RV_DONE;
			return i + PS_RV_JSON_LEN;
		}
		if (a == PS_W0(PS_R_SSE_W) && b == PS_W1(PS_R_SSE_W) &&
		    (c & ps_mask(1)) == PS_W2(PS_R_SSE_W)) {
			r->flags |= PS_RF_SSE;
			r->idx = PS_RV_DONE;
			return i + PS_RV_SSE_LEN;
		}
		r->idx = PS_RV_NO;
		return i;
	}
	r->idx = 0;
	r->state = PS_R_VALUE;
	if (a == PS_W0(PS_R_CLEN_W)) {
		if ((b & ps_mask(7)) == (PS_W1(PS_R_CLEN_W) | (__u64)':' << 48)) {
			r->hdr = PS_RH_CLEN;
			r->left = 0;
			r->flags |= PS_RF_CLEN;
			return i + PS_RN_CLEN_LEN + 1;
		}
		if ((b & ps_mask(5)) == (PS_W1(PS_R_CTYPE_W) | (__u64)':' << 32)) {
			r->hdr = PS_RH_CTYPE;
			r->vmask = 3;
			return i + PS_RN_CTYPE_LEN + 1;
		}
		if (b == PS_W1(PS_R_CENC_W) && (c & ps_mask(1)) == ':') {
			r->hdr = PS_RH_CENC;
			return i + PS_RN_CENC_LEN + 1;
		}
	} else if (a == PS_W0(PS_R_TE_W) && b == PS_W1(PS_R_TE_W) &&
		   (c & ps_mask(2)) == (PS_W2(PS_R_TE_W) | (__u64)':' << 8)) {
		r->hdr = PS_RH_TE;
		return i + PS_RN_TE_LEN + 1;
	}
	r->state = PS_R_SKIPLINE;
	return i;
}

/* Words one call of ps_resp_line() reads at most for a line's end. */
#define PS_RESP_EOL_RUN	16

/*
 * The header block's lines from offset i of the buffer's n bytes, where
 * their bytes need not be read one by one: a name (or a Content-Type
 * value) at its start compared a word at a time (ps_resp_hword()), and a
 * line where nothing matters up to its end (ps_resp_in_line()) skipped to
 * its LF a word at a time, PS_RESP_EOL_RUN words at most, the LF taken.
 * Returns the offset of the first byte left to read: i when it is the
 * byte loop's. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_resp_line(__u32 i, __u32 n)
{
	struct ps_resp_work *w = ps_resp_work();
	struct ps_resp *r;
	__u32 k, s;
	__u64 m;
	__u8 c;

	if (!w || n > PS_RESP_CHUNK || i > n)
		return i;
	r = &w->r;
	if (r->state == PS_R_VERSION && r->idx == 1) {
		/* The status line after its "H": "TTP/1.x " and a code. */
		__u64 a, b;

		if (i + 16 > n || i > PS_RESP_CHUNK - 16)
			return i;
		a = ps_resp_word(w, i);
		b = ps_resp_word(w, i + 8);
		if ((a != PS_RV_TTP11 && a != PS_RV_TTP10) || (__u8)((__u8)b - '0') > 9 ||
		    (__u8)((__u8)(b >> 8) - '0') > 9 || (__u8)((__u8)(b >> 16) - '0') > 9)
			return i;
		r->code = ((__u8)b - '0') * 100 + ((__u8)(b >> 8) - '0') * 10 +
			  ((__u8)(b >> 16) - '0');
		r->state = (__u8)(b >> 24) == '\n' ? PS_R_HDR : PS_R_LINE;
		i += 12;
		if (r->state == PS_R_HDR)
			return i;
	}
	if (r->state == PS_R_HDR ||
	    (r->state == PS_R_VALUE && r->hdr == PS_RH_CTYPE && !r->idx)) {
		if (i + 24 > n || i > PS_RESP_CHUNK - 24)
			return i;
		c = w->b[i & (PS_RESP_CHUNK - 1)];
		if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
			return i;
		s = ps_resp_hword(w, i);
		if (s != i)
			return s;
	}
	if (!ps_resp_in_line(r))
		return i;
	for (k = 0; k < PS_RESP_EOL_RUN; k++) {
		/* Not an induction variable: each word's offset bounded anew. */
		barrier_var(i);
		if (i + 8 > n || i > PS_RESP_CHUNK - 8)
			break;
		m = PS_HAS0(ps_resp_word(w, i) ^ PS_BYTES('\n'));
		if (m) {
			r->state = r->state == PS_R_TRAILER_LINE ? PS_R_TRAILERS : PS_R_HDR;
			return i + ps_first_stop(m) + 1;
		}
		i += 8;
	}
	return i;
}

/*
 * bpf_loop callback: the next bytes of the buffer from sc->used, one at a
 * time, or where none matters, up to the next that does.
 */
static long ps_resp_byte_cb(__u32 idx, void *data)
{
	struct ps_resp_scan_ctx *sc = data;
	struct ps_resp_work *w = ps_resp_work();
	int j, k;
	__u8 c;

	if (!w)
		return 1;
	for (j = 0; j < PS_RESP_PER_CB; j++) {
		__u32 i = sc->used;
		struct ps_resp *r = &w->r;

		if (i >= sc->n || i >= PS_RESP_CHUNK)
			return 1;
		c = w->b[i & (PS_RESP_CHUNK - 1)];
		if (i + 8 <= sc->n &&
		    ((r->state == PS_R_HDR && c != '\r' && c != '\n') || ps_resp_in_line(r) ||
		     (r->state == PS_R_VERSION && r->idx == 1) ||
		     (r->state == PS_R_VALUE && r->hdr == PS_RH_CTYPE && !r->idx && c != ' ' &&
		      c != '\t'))) {
			__u32 s = ps_resp_line(i, sc->n);

			if (s != i) {
				sc->used = s;
				continue;
			}
		}
		if (ps_resp_scanned(r) && ps_resp_idle(r) && (r->state == PS_R_EOF || r->left > 1)) {
			__u32 s = ps_resp_run(i, sc->n, sc->more);

			if (s != i) {
				sc->used = s;
				continue;
			}
			/* The last bytes of a buffer the segment goes on past:
			 * the next buffer starts with them, with the word
			 * scan's room. */
			if (sc->more && i + PS_RESP_HOT_ROOM > sc->n)
				return 1;
		}
		w->at = w->base + i;
		k = ps_resp_byte(w, c);
		if (k == PS_RB_BEFORE)
			return 1;
		sc->used = i + 1;
		if (k == PS_RB_AFTER)
			return 1;
	}
	return 0;
}

/*
 * Read the n bytes of the buffer (n <= PS_RESP_CHUNK) through the parser;
 * returns how many it took: all of them, or fewer where a body that is
 * skipped whole begins, or (more: the segment goes on past the buffer)
 * where the last bytes are better read with the next buffer's look-ahead.
 * A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_resp_scan(__u32 n, __u32 more)
{
	struct ps_resp_scan_ctx sc = { .n = n, .more = more };
	struct ps_resp_work *w;

	if (n > PS_RESP_CHUNK)
		return n;
	bpf_loop(n, ps_resp_byte_cb, &sc, 0);
	w = ps_resp_work();
	if (w && w->begun) {
		w->begun = 0;
		ps_resp_subject();
	}
	return sc.used;
}

/*
 * Skip what is skipped whole: rem bytes of the segment are left. Returns
 * the bytes skipped, 0 when the buffer must be read (ps_resp_scan()),
 * -1 when the segment is done with. A global function.
 */
__weak __attribute__((noinline)) int ps_resp_skip(__u32 rem)
{
	struct ps_resp_work *w = ps_resp_work();
	struct ps_resp *r;
	__u32 k;

	if (!w || !rem)
		return -1;
	r = &w->r;
	switch (r->state) {
	case PS_R_DEAD:
		return -1;
	case PS_R_EOF:
		if (ps_resp_scanned(r))
			return 0;
		if (ps_resp_encoded(r))
			r->ev += rem;
		return (int)rem;
	case PS_R_BODY:
	case PS_R_CHUNK_DATA:
		if (ps_resp_scanned(r))
			return 0;
		k = r->left < rem ? (__u32)r->left : rem;
		r->left -= k;
		if (ps_resp_encoded(r))
			r->ev += k;
		if (!r->left) {
			if (r->state == PS_R_BODY)
				ps_resp_done(w);
			else
				r->state = PS_R_CHUNK_CRLF;
		}
		return k ? (int)k : -1;
	}
	return 0;
}

/* bpf_loop context of a segment's bytes. */
struct ps_resp_ctx {
	struct __sk_buff *skb;
	__u32 off;		/* the bytes start at this offset in the skb ... */
	__u32 len;		/* ... and are this many */
	__u32 done;		/* bytes read or skipped */
	__u32 pad;
};

/* bpf_loop callback: skip a body, or read up to PS_RESP_CHUNK bytes. */
static long ps_resp_step(__u32 idx, void *data)
{
	struct ps_resp_ctx *c = data;
	struct ps_resp_work *w;
	__u32 n;
	int k;

	if (c->done >= c->len)
		return 1;
	k = ps_resp_skip(c->len - c->done);
	if (k < 0)
		return 1;
	if (k > 0) {
		c->done += k;
		return 0;
	}
	w = ps_resp_work();
	if (!w)
		return 1;
	n = c->len - c->done;
	if (n > PS_RESP_CHUNK)
		n = PS_RESP_CHUNK;
	barrier_var(n);
	if (!n || n > PS_RESP_CHUNK)
		return 1;
	if (bpf_skb_load_bytes(c->skb, c->off + c->done, w->b, n)) {
		w->r.state = PS_R_DEAD;
		return 1;
	}
	w->base = c->done;
	c->done += ps_resp_scan(n, c->done + n < c->len);
	return 0;
}

/*
 * The server's new in-order bytes of a segment: len at off in the skb,
 * of which avail were captured. Counts the events of the responses to
 * inference requests into the client's tx_events, the tokens they report
 * into tx_tokens and rx_tokens, and debits those from its token limits.
 */
static __always_inline __u32 ps_resp_segment(struct __sk_buff *skb, struct ps_flow *f,
					     const struct ps_flow_key *k, struct ps_counters *c,
					     __u32 off, __u32 len, __u32 avail, int fin, __u64 now)
{
	struct ps_resp_ctx ctx = { .skb = skb, .off = off };
	struct ps_client_ctr *ctr;
	struct ps_resp_work *w;

	if (f->resp.state == PS_R_DEAD)
		return 0;
	w = ps_resp_work();
	if (!w)
		return 0;
	w->r = f->resp;
	w->rq_n = READ_ONCE(f->rq.n);
	barrier();
	w->rq_bits = READ_ONCE(f->rq.bits);
	w->named = READ_ONCE(f->rq.named);
	w->conn_slot = f->client_slot;
	w->conn_gen = c ? f->client_gen : 0;
	if (w->named) {
		__builtin_memcpy(w->ring, f->rq.subj, sizeof(w->ring));
		barrier();
		w->rq_n2 = READ_ONCE(f->rq.n);
		__builtin_memcpy(&w->lk.k, k, sizeof(w->lk.k));
		w->lk.isn = f->dir[PS_DIR_RX].isn;
		w->mark = 0;
		w->moved = 0;
		w->unpaired = 0;
		w->begun = 0;
		w->now = now;
	}
	w->events = 0;
	w->tx_tokens = 0;
	w->rx_tokens = 0;
	w->est = 0;
	w->debit = 0;
	w->encoded = 0;
	ctx.len = avail < len ? avail : len;
	bpf_loop(PS_RESP_STEPS, ps_resp_step, &ctx, 0);
	if (w->encoded)
		ps_stat_add(PS_STAT_RESP_ENCODED, w->encoded);
	/* Bytes not read (not captured, or past the steps a segment has) end
	 * parsing on the connection. */
	if (ctx.done < len && w->r.state != PS_R_EOF)
		w->r.state = PS_R_DEAD;
	/* The end of the server's stream ends a body that runs to it. */
	if (fin && w->r.state == PS_R_EOF) {
		if (ps_resp_scanned(&w->r))
			ps_tk_byte(&w->r, ' ', &w->tx_tokens, &w->rx_tokens);
		ps_resp_done(w);
	}
	/* The response under way is debited what it took so far. */
	ps_resp_debit(w);
	f->resp = w->r;
	if (w->named) {
		ps_resp_flush(len);
		if (w->unpaired)
			ps_stat_add(PS_STAT_RESP_UNPAIRED, w->unpaired);
		return w->moved;
	}
	if (!c)
		return 0;
	ctr = (struct ps_client_ctr *)c;
	ps_answer_count(ctr, w->events, w->tx_tokens, w->rx_tokens, w->debit, w->est, now);
	return 0;
}

#endif
