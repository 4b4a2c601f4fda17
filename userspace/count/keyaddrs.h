/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The addresses each API key came from, and the keys each address used:
 * the (key, address) pairs the programs keep in ps_key_addrs (bounded, the
 * least recently used forgotten first), read as a whole.
 */
#ifndef PS_KEYADDRS_H
#define PS_KEYADDRS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "penstock_abi.h"

/* The pairs of a subject `penstock client` shows. */
#define PS_KPAIRS_SHOWN	16

struct ps_kpair {
	uint64_t id;			/* the key's id */
	struct ps_client_key addr;	/* the address it came from */
	uint64_t requests;
	uint64_t inference_requests;
	uint64_t first_ns;		/* the programs' clock */
	uint64_t last_ns;
};

struct ps_kpairs {
	struct ps_kpair *v;
	size_t n, cap;
};

/*
 * Every pair of the map at fd into p (its old contents replaced). 0, or
 * -errno (p then empty).
 */
int ps_kpairs_read(int fd, struct ps_kpairs *p);
void ps_kpairs_free(struct ps_kpairs *p);

/*
 * The pairs of one subject, as JSON: for a key, {"distinct": N,
 * "addresses": [...]}; for an address, {"distinct": N, "keys": [...]};
 * each item {"client", "requests", "inference_requests", "first_seen_s_ago",
 * "last_seen_s_ago"}, most requests first, at most max of them. NULL when
 * the map cannot be read.
 */
json_t *ps_kpairs_of(int fd, const struct ps_client_key *subj, size_t max, uint64_t now_ns);

#endif
