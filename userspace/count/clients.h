/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's client table: every client ever counted, with its totals
 * since first seen and sliding windows of the last minute, hour and day.
 *
 * The kernel holds a client's counters in a slot since the slot was
 * assigned; the daemon reclaims the slots of idle clients, and a client
 * that comes back gets a new one. Each record follows one incarnation (the
 * slot's first_seen_ns) and keeps what earlier incarnations counted in its
 * base, so a client's totals never go back.
 *
 * Windows are two buckets each (current and previous minute, hour, day,
 * aligned to UTC); a window's figure is the current bucket plus the
 * previous one weighted by the share of it still inside the window.
 * Buckets are 32-bit, the minute's of requests and inference 16-bit; a
 * client whose bucket would overflow moves to 64-bit buckets of its own
 * (rare: 65536 requests or 4 GiB in one minute, 4 G in an hour or day).
 *
 * A record keeps the map entry's counters at the last read: the bytes and
 * payload ones in 48 bits each, connections, requests and packets in 32;
 * a client whose counter passes that (256 TiB, 4 G) keeps them in its
 * extension, 64-bit, as the buckets.
 *
 * Windows hold the fields of enum ps_wfield: tx_tokens, rx_tokens and
 * tx_tokens_estimated among them (a client's completion tokens are its
 * tx_tokens and tx_tokens_estimated: reported where its answers reported
 * usage, else its streams' events; the outflow in tokens reads both), and
 * the gRPC message counters rx_messages and tx_messages (a gRPC client's
 * rate is its messages); tx_events (like connections and packets) in the
 * totals only.
 *
 * Token figures live apart from the record, in a token entry (struct
 * ps_ctok: the four output token counters and the two gRPC message
 * counters at the last read, 32-bit, and the buckets of the three windowed
 * token fields) that a client gets at its first token or message counted:
 * most clients, every one of a spoofed flood among them, never count one.
 * A client without one has counted none. The buckets of the two message
 * fields are in a message entry (struct ps_cmsg) that a token entry gets at
 * its client's first gRPC message: most clients with tokens (those of an
 * OpenAI-compatible server) never count one. Read the buckets through
 * ps_crec_bucket(), the counters through ps_crec_last().
 *
 * Records live in one array, found through a chained hash on the key;
 * 236 bytes per client, 100 more for a client that counted tokens or gRPC
 * messages, and 48 more for one that counted messages.
 */
#ifndef PS_CLIENTS_H
#define PS_CLIENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/protocol.h"
#include "penstock_abi.h"

/*
 * Fields that have windows, in window-slot order (the figures, windows
 * and sort keys are the protocol's: common/protocol.h).
 */
enum ps_wfield {
	PS_W_REQUESTS = 0,
	PS_W_INFERENCE,
	PS_W_RX_BYTES,
	PS_W_TX_BYTES,
	PS_W_RX_PAYLOAD,
	PS_W_TX_PAYLOAD,
	PS_W_TX_TOKENS,
	PS_W_RX_TOKENS,
	PS_W_TX_TOKENS_ESTIMATED,
	PS_W_RX_MESSAGES,
	PS_W_TX_MESSAGES,
	PS_NWFIELDS,
};
/* The fields whose buckets the record holds; the token ones' are in its token entry. */
#define PS_NRWFIELDS	PS_W_TX_TOKENS
#define PS_NTOKWFIELDS	(PS_NWFIELDS - PS_NRWFIELDS)
/* Of those, the token entry's (the tokens') and the message entry's. */
#define PS_NKW		(PS_W_RX_MESSAGES - PS_NRWFIELDS)
#define PS_NMW		(PS_NWFIELDS - PS_W_RX_MESSAGES)
/* Those of them whose 1m buckets are 16-bit: requests and inference. */
#define PS_NW16		PS_W_RX_BYTES

extern const enum ps_field ps_wfield_field[PS_NWFIELDS];
/* Whether field f has windows (else: totals only). */
bool ps_field_windowed(enum ps_field f);

/*
 * A slot's output token counters (struct ps_client_ctr's tx_events ..
 * tx_tokens_estimated) and gRPC message counters, in enum ps_field order
 * from PS_F_TX_EVENTS.
 */
struct ps_tokens {
	uint64_t v[PS_NTOKFIELDS];
};

/* Those of ctr (from a copy, or from the map through mmap). */
static inline void ps_tokens_of(const volatile struct ps_client_ctr *ctr, struct ps_tokens *tk)
{
	tk->v[PS_F_TX_EVENTS - PS_NCTRFIELDS] = ctr->tx_events;
	tk->v[PS_F_TX_TOKENS - PS_NCTRFIELDS] = ctr->tx_tokens;
	tk->v[PS_F_RX_TOKENS - PS_NCTRFIELDS] = ctr->rx_tokens;
	tk->v[PS_F_TX_TOKENS_ESTIMATED - PS_NCTRFIELDS] = ctr->tx_tokens_estimated;
	tk->v[PS_F_RX_MESSAGES - PS_NCTRFIELDS] = ctr->rx_messages;
	tk->v[PS_F_TX_MESSAGES - PS_NCTRFIELDS] = ctr->tx_messages;
}

struct ps_ctable;

#define PS_LAST_BITS	48
#define PS_LAST_MAX	((1ULL << PS_LAST_BITS) - 1)
/* The counters kept in 32 bits at the last read: connections .. tx_packets
 * (enum ps_field's first PS_NLAST32), and the token counters. */
#define PS_NLAST32	PS_F_RX_BYTES
#define PS_NLAST48	(PS_NCTRFIELDS - PS_NLAST32)
#define PS_LAST_TOK_MAX	UINT32_MAX	/* a 32-bit counter's */

struct ps_crec {
	struct ps_client_key key;
	uint32_t next;			/* hash chain: record index + 1, 0 ends */
	/* first_seen_ns of the map entry followed (4-byte aligned: no padding) */
	uint64_t inc_ns __attribute__((packed, aligned(4)));
	uint32_t first_wall;		/* first seen, Unix seconds */
	uint32_t last_wall;		/* last packet, Unix seconds */
	uint32_t minute;		/* Unix minute of the current buckets */
	uint32_t ext;			/* ps_cext index + 1, 0 for none */
	uint32_t tok;			/* ps_ctok index + 1, 0: no token counted */
	/* That entry's counters at the last read (in the extension when
	 * big: ps_crec_last()): the first PS_NLAST32 in 32 bits, the
	 * others 48-bit little-endian. */
	uint32_t last32[PS_NLAST32];
	uint8_t last48[PS_NLAST48][PS_LAST_BITS / 8];
	uint16_t gen;			/* tick that last found it in the map, mod 2^16 */
	/* Buckets [cur, prev][field]: the 1m window's (requests and
	 * inference in w16, the others in w1m), the 1h and 24h windows' in
	 * w[window - 1]. */
	uint16_t w16[2][PS_NW16];
	uint32_t w1m[2][PS_NRWFIELDS - PS_NW16];
	uint32_t w[PS_NWINDOWS - 1][2][PS_NRWFIELDS];
};

/* A client's token figures, from its first token or message counted. */
struct ps_ctok {
	uint32_t last[PS_NTOKFIELDS];	/* the token counters at the last read */
	/* tx_tokens, rx_tokens, tx_tokens_estimated buckets */
	uint32_t w[PS_NWINDOWS][2][PS_NKW];
	uint32_t msg;			/* ps_cmsg index + 1, 0: no message counted */
};

/* A client's gRPC message buckets (rx_messages, tx_messages), from its first message. */
struct ps_cmsg {
	uint32_t w[PS_NWINDOWS][2][PS_NMW];
};

/* What a few records need beyond the common ones. */
struct ps_cext {
	uint64_t base[PS_NFIELDS];	/* counted by earlier map incarnations */
	bool wide;			/* buckets live in ww, not in the record */
	bool big;			/* the counters at the last read live in last */
	uint64_t ww[PS_NWINDOWS][2][PS_NWFIELDS];
	uint64_t last[PS_NFIELDS];
};

/* A record's counters at the last read (from the map entry it follows). */
void ps_crec_last(const struct ps_ctable *t, const struct ps_crec *r, uint64_t out[PS_NFIELDS]);
/* Set them; 0 or -ENOMEM (one past 48 bits, or a token counter past 32,
 * needs the extension). */
int ps_crec_set_last(struct ps_ctable *t, struct ps_crec *r, const uint64_t v[PS_NFIELDS]);
/*
 * Set r's buckets (r not wide) to w, all the window fields': a bucket past
 * its width makes r wide (its extension: call once the extensions are
 * there). 0 or -ENOMEM.
 */
int ps_crec_set_buckets(struct ps_ctable *t, struct ps_crec *r,
			const uint32_t w[PS_NWINDOWS][2][PS_NWFIELDS]);
/* Whether w fits a record's buckets (no extension needed). */
bool ps_buckets_fit(const uint32_t w[PS_NWINDOWS][2][PS_NWFIELDS]);
/* r's token entry, made (zeroed) if it has none; NULL when out of memory. */
struct ps_ctok *ps_ctable_tok(struct ps_ctable *t, struct ps_crec *r);
/* k's message entry, made (zeroed) if it has none; NULL when out of memory. */
struct ps_cmsg *ps_ctable_msg(struct ps_ctable *t, struct ps_ctok *k);
/* The tick r was last found in the map at is t's (mod 2^16): at, or one before. */
bool ps_crec_seen_at(const struct ps_crec *r, uint32_t gen);

struct ps_ctable {
	struct ps_crec *rec;
	uint32_t n, cap;
	uint32_t *bucket;		/* record index + 1, 0 empty */
	uint32_t nbuckets;		/* power of two */
	struct ps_cext *ext;
	uint32_t next_ext, cap_ext;
	struct ps_ctok *tok;
	uint32_t next_tok, cap_tok;
	struct ps_cmsg *msg;
	uint32_t next_msg, cap_msg;
	uint32_t gen;			/* current tick number */
	bool folding;			/* a tick is folding: records it has not reached
					 * yet were found in the map at gen - 1 */
	uint32_t in_map;		/* clients in slots at the last tick */
	/*
	 * Of those, the clients the last tick left for the next ones (its
	 * budget of new clients spent, count/tick.c): not in the table yet,
	 * or (adopted from a state file) their records not brought up to
	 * date. 0: the table is whole.
	 */
	uint32_t unfolded;
	/*
	 * Called at each fold that moved a record's counters, with the
	 * window fields' increase and the fold's Unix second (NULL: none;
	 * the detector's, ps_detect_observe).
	 */
	void (*on_fold)(void *ctx, struct ps_crec *r, const uint64_t d[PS_NWFIELDS],
			uint32_t now);
	void *on_fold_ctx;
	/*
	 * Called between pieces of a pass over every client (the tick, the
	 * window limits, a detection run), every PS_CTABLE_YIELD_EVERY
	 * clients (NULL: none). penstockd answers the control requests
	 * waiting meanwhile (daemon/loop.c), so that a pass over a million
	 * clients does not keep `penstock` waiting; what it runs there
	 * changes no record. True when it put a new configuration in force
	 * (a reload): a pass that reads the configuration stops there, and
	 * runs again at the next tick.
	 */
	bool (*on_yield)(void *ctx);
	void *on_yield_ctx;
	uint64_t yield_ns;		/* CPU time on_yield took, ns: the passes leave it
					 * out of their own */
};

#define PS_CTABLE_YIELD_EVERY	16384

/*
 * Bucket `which` (0 current, 1 previous) of window field f in window win,
 * as r holds it (in the record, its token entry or its extension): the
 * only reader of the buckets.
 */
static inline uint64_t ps_crec_bucket(const struct ps_ctable *t, const struct ps_crec *r,
				      enum ps_window win, int which, enum ps_wfield f)
{
	if (r->ext && t->ext[r->ext - 1].wide)
		return t->ext[r->ext - 1].ww[win][which][f];
	if (f >= PS_W_RX_MESSAGES) {
		const struct ps_ctok *k = r->tok ? &t->tok[r->tok - 1] : NULL;

		return k && k->msg ? t->msg[k->msg - 1].w[win][which][f - PS_W_RX_MESSAGES] : 0;
	}
	if (f >= PS_NRWFIELDS)
		return r->tok ? t->tok[r->tok - 1].w[win][which][f - PS_NRWFIELDS] : 0;
	if (win != PS_WIN_1M)
		return r->w[win - 1][which][f];
	return f < PS_NW16 ? r->w16[which][f] : r->w1m[which][f - PS_NW16];
}

/* Call on_yield, its CPU time added to yield_ns; what it returns. */
bool ps_ctable_yield(struct ps_ctable *t);

/* The same, from a pass at its i-th client: every PS_CTABLE_YIELD_EVERY. */
static inline bool ps_ctable_yield_at(struct ps_ctable *t, uint32_t i)
{
	return t->on_yield && i && i % PS_CTABLE_YIELD_EVERY == 0 && ps_ctable_yield(t);
}

/* One client's figures for one window (or totals). */
struct ps_cview {
	double v[PS_NFIELDS];		/* windows: only the PS_NWFIELDS fields */
	double rpm;
};

void ps_ctable_init(struct ps_ctable *t);
void ps_ctable_free(struct ps_ctable *t);

struct ps_crec *ps_ctable_find(const struct ps_ctable *t, const struct ps_client_key *key);
/* The hash of a key (its bucket: the low bits). */
uint32_t ps_ctable_hash(const struct ps_client_key *k);
/* Find or add (zeroed, first_wall = now); NULL when out of memory. */
struct ps_crec *ps_ctable_get(struct ps_ctable *t, const struct ps_client_key *key,
			      uint32_t now);

/*
 * Take one map entry's counters and output token counters (tk NULL: none
 * counted) read at wall time now; boot_to_wall converts the kernel's clock
 * to Unix nanoseconds. Returns 0 or -ENOMEM.
 */
int ps_ctable_update(struct ps_ctable *t, const struct ps_client_key *key,
		     const struct ps_counters *c, const struct ps_tokens *tk, uint32_t now,
		     int64_t boot_to_wall);

/* The same, for a record already found (r stays valid: no record is added). */
int ps_ctable_fold(struct ps_ctable *t, struct ps_crec *r, const struct ps_counters *c,
		   const struct ps_tokens *tk, uint32_t now, int64_t boot_to_wall);

/* Totals since first seen. */
void ps_crec_totals(const struct ps_ctable *t, const struct ps_crec *r, uint64_t out[PS_NFIELDS]);
/* A window (or PS_WIN_TOTAL) as seen at time now_ms (Unix milliseconds). */
void ps_crec_view(const struct ps_ctable *t, const struct ps_crec *r, enum ps_window win,
		  uint64_t now_ms, struct ps_cview *out);

/*
 * Indexes of the top `limit` records (0: all) by key in window,
 * descending, ties by address. Returns the count (malloc'ed *out) or
 * -ENOMEM.
 */
int ps_ctable_top(const struct ps_ctable *t, enum ps_window win, enum ps_sort key,
		  uint32_t limit, uint64_t now_ms, uint32_t **out);

/* Rebuild the hash after records were loaded into rec[0..n). */
int ps_ctable_rehash(struct ps_ctable *t, uint32_t nbuckets);

#endif
