/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Quantities as people write them, shared by the config loader and the
 * CLI: sizes (50MiB), rates (2mbit), durations (10m), address prefixes
 * (203.0.113.0/24). Each parser takes the whole string and returns 0, or
 * -EINVAL with what was expected in err (a phrase that completes
 * "expected ...").
 */
#ifndef PS_UNITS_H
#define PS_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Bytes: an integer with an optional unit, no space: B, KB, MB, GB, TB
 * (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024). "50MiB", "1000".
 */
int ps_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);

/*
 * Bits per second, as tc writes them: an integer or decimal with a unit:
 * bit, kbit, mbit, gbit, tbit (powers of 1000), kibit, mibit, gibit
 * (powers of 1024), or bps, kbps, mbps, gbps (bytes per second, x8).
 * "2mbit", "1.5gbit", "500kbps".
 */
int ps_parse_rate(const char *s, uint64_t *bits_per_s, char *err, size_t errlen);

/* Seconds: an integer with a unit s, m, h, d (or none: seconds). "10m". */
int ps_parse_duration(const char *s, uint64_t *seconds, char *err, size_t errlen);

/*
 * An address prefix. A bare address is a /32 or /128. An API key id
 * (PS_AF_KEY) is a subject of its own, always whole (len 128): its 64 bits
 * in addr as the programs hold them (struct ps_addr a[0] low, a[1] high).
 */
struct ps_prefix {
	uint8_t family;		/* PS_AF_INET, PS_AF_INET6 or PS_AF_KEY */
	uint8_t len;		/* prefix length in bits */
	uint8_t addr[16];	/* network byte order, host bits zero */
};

/* "198.18.0.0/15", "fd00::/8", "10.1.2.3". Host bits must be zero. */
int ps_parse_prefix(const char *s, struct ps_prefix *p, char *err, size_t errlen);
/*
 * A subject of counts, limits and commands: a prefix as ps_parse_prefix()
 * takes it, or an API key id, "key:" and 16 hex digits.
 */
int ps_parse_subject(const char *s, struct ps_prefix *p, char *err, size_t errlen);
/* A key id's text, "key:" and 16 hex digits (buf of PS_KEY_STRLEN at least). */
#define PS_KEY_STRLEN	21
const char *ps_key_str(uint64_t id, char *buf, size_t len);
/* The key id of a PS_AF_KEY prefix or client address. */
uint64_t ps_key_id_of(const void *addr);
/* Back to text: "198.18.0.0/15", an address alone for a full-length prefix, "key:..." for a key. */
const char *ps_prefix_str(const struct ps_prefix *p, char *buf, size_t len);

struct ps_client_key;
/* One client's address as a full-length prefix (/32 or /128; a key's whole). */
void ps_prefix_of_client(const struct ps_client_key *k, struct ps_prefix *p);
/* The client (subject) of API key id. */
void ps_key_client(uint64_t id, struct ps_client_key *k);

struct ps_lpm_key;
/* The key of a prefix in the LPM tries (ps_class_of, ps_enforce, ps_trusted), and back. */
void ps_lpm_key_of(struct ps_lpm_key *k, const struct ps_prefix *p);
void ps_prefix_of_key(struct ps_prefix *p, const struct ps_lpm_key *k);

/*
 * A listening address: a numeric IPv4 address or a bracketed IPv6 one, a
 * colon and a port 1..65535: "127.0.0.1:9464", "[::1]:9464". What it names
 * goes to addr (a struct sockaddr_in or sockaddr_in6, addr_size bytes at
 * least), its length to *len. 0, or -EINVAL with what is wrong in err.
 */
int ps_parse_listen(const char *s, void *addr, size_t addr_size, unsigned int *len, char *err,
		    size_t errlen);

/* A duration as text, its two largest units: "45s", "10m", "2h5m", "3d", "1d2h". */
const char *ps_duration_str(uint64_t seconds, char *buf, size_t len);

/* Unix seconds as RFC 3339 in UTC: "2026-11-23T02:00:00Z". */
const char *ps_rfc3339(uint64_t unix_s, char *buf, size_t len);
/* Unix ms as RFC 3339 in UTC, to the millisecond: "2026-11-23T02:00:00.123Z". */
const char *ps_rfc3339_ms(uint64_t unix_ms, char *buf, size_t len);

#endif
