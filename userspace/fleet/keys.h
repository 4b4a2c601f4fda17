/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where the fleet keeps a subject's counts in Redis, and the arithmetic
 * of its buckets (docs/fleet.md):
 *
 *   ps:{FLEET|SUBJECT}:m:MINUTE   a hash: one UTC minute (Unix seconds / 60)
 *   ps:{FLEET|SUBJECT}:d:DAY      a hash: one UTC day (Unix minutes / 1440)
 *
 * SUBJECT is the client as `penstock clients` prints it (an address, or
 * key:<id> for an API key). Each hash has three fields per host:
 * "r:HOST" (inference requests), "e:HOST" (egress bytes) and "t:HOST"
 * (tokens: prompt + completion), the host's
 * own count in that bucket, written whole (HSET), never added to: a
 * write sent twice, or again after Redis lost everything, leaves the same
 * figure. The fleet's count of the bucket is the sum of the fields.
 *
 * The braces are a Redis Cluster hash tag: a subject's four keys of one
 * call (this minute and the one before, today and the day before) live
 * in one slot.
 */
#ifndef PS_FLEET_KEYS_H
#define PS_FLEET_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "count/clients.h"

/* A subject's buckets in one call: [minute now, minute before, day now, day before]. */
enum ps_fleet_slot {
	PS_FB_MIN = 0,
	PS_FB_MIN_PREV,
	PS_FB_DAY,
	PS_FB_DAY_PREV,
	PS_FB_N,
};

/*
 * What one bucket holds for the fleet: inference requests, egress bytes,
 * tokens (prompt + completion, as the answers reported them: rx_tokens +
 * tx_tokens, what the kernel's tokens_per_minute counts).
 */
enum { PS_FV_REQ = 0, PS_FV_EGRESS, PS_FV_TOKENS, PS_FV_N };

#define PS_FLEET_MIN_TTL	180		/* a minute's hash: s after its last write */
#define PS_FLEET_DAY_TTL	(2 * 86400 + 3600)	/* a day's: read all of the next day */
#define PS_FLEET_KEY_MAX	192

/* The four buckets' numbers at Unix ms now_ms, in enum ps_fleet_slot order. */
void ps_fleet_buckets(uint64_t now_ms, uint32_t out[PS_FB_N]);

/*
 * The key of bucket slot s (number b) of subject in fleet, into buf.
 * Returns its length, or -1 when it does not fit.
 */
int ps_fleet_key(char *buf, size_t len, const char *fleet, const char *subject,
		 enum ps_fleet_slot s, uint32_t b);

/* The same in two parts, for a push that writes many: "ps:{FLEET|SUBJECT}:" and "m:B" / "d:B". */
int ps_fleet_key_prefix(char *buf, size_t len, const char *fleet, const char *subject);
int ps_fleet_key_suffix(char *buf, size_t len, enum ps_fleet_slot s, uint32_t b);

/*
 * Redis Cluster: the slot of a key (0..16383), as the Cluster
 * specification computes it: CRC16 (XModem: polynomial 0x1021, initial
 * 0) of the key's hash tag (what lies between its first '{' and the next
 * '}', when not empty) or of the whole key, modulo 16384. A subject's
 * keys share the tag "FLEET|SUBJECT": one slot, one node.
 */
#define PS_FLEET_SLOTS	16384
uint16_t ps_fleet_crc16(const char *buf, size_t len);
uint16_t ps_fleet_slot(const char *key, size_t len);

/*
 * A window of the fleet at now_ms from the sums of its two buckets, as
 * the client table weighs its own (count/clients.c ps_crec_view): the
 * current bucket, plus the one before by the share of it still inside
 * the window. day: the 24h window, else the 1m one.
 */
double ps_fleet_window(uint64_t cur, uint64_t prev, uint64_t now_ms, int day);

/*
 * What this host counted for r in bucket slot s (number b): requests,
 * egress bytes or tokens (v: PS_FV_*), 0 when r's buckets are elsewhere
 * in time.
 */
uint64_t ps_fleet_local(const struct ps_ctable *t, const struct ps_crec *r, enum ps_fleet_slot s,
			uint32_t b, int v);

#endif
