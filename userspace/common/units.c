// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/units.h"
#include "penstock_abi.h"

struct unit {
	const char *name;
	uint64_t mult;
};

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * A number with a unit from units (case-insensitive), computed exactly in
 * integers: an integer part, then, if allow_decimal, an optional fraction
 * (digits on both sides of the '.'), rounded to the nearest unit of the
 * result. Nothing else: no sign, space, exponent or hex. what is the
 * message for a malformed value, too_big the one for a value past
 * UINT64_MAX.
 */
static int with_units(const char *s, const struct unit *units, int allow_decimal,
		      uint64_t *out, const char *what, const char *too_big, char *err,
		      size_t errlen)
{
	const char *p = s, *dot = NULL;
	uint64_t ip = 0, v, frac = 0;
	int big = 0, i;

	if (!is_digit(*p))
		goto bad;
	for (; is_digit(*p); p++) {
		if (ip > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			big = 1;
		else
			ip = ip * 10 + (*p - '0');
	}
	if (allow_decimal && *p == '.') {
		dot = p++;
		if (!is_digit(*p))
			goto bad;
		while (is_digit(*p))
			p++;
	}
	for (i = 0; units[i].name; i++)
		if (!strcasecmp(p, units[i].name))
			break;
	if (!units[i].name)
		goto bad;
	if (big || ip > UINT64_MAX / units[i].mult)
		goto too_big;
	v = ip * units[i].mult;
	if (dot) {
		/* A fraction of one unit is below 2^53 for every unit here: exact enough. */
		frac = (uint64_t)llround(strtod(dot, NULL) * (double)units[i].mult);
		if (v > UINT64_MAX - frac)
			goto too_big;
	}
	*out = v + frac;
	return 0;
too_big:
	snprintf(err, errlen, "%s", too_big);
	return -EINVAL;
bad:
	snprintf(err, errlen, "%s", what);
	return -EINVAL;
}

int ps_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	static const struct unit units[] = {
		{ "", 1 },	   { "B", 1 },	       { "KB", 1000 },	    { "MB", 1000000 },
		{ "GB", 1000000000 }, { "TB", 1000000000000 }, { "KiB", 1ULL << 10 },
		{ "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 }, { "TiB", 1ULL << 40 }, {},
	};

	return with_units(s, units, 0, bytes,
			  "a size such as 50MiB (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
			  "a size of at most 18446744073709551615 bytes", err, errlen);
}

int ps_parse_rate(const char *s, uint64_t *bits_per_s, char *err, size_t errlen)
{
	static const struct unit units[] = {
		{ "bit", 1 },		{ "kbit", 1000 },	 { "mbit", 1000000 },
		{ "gbit", 1000000000 }, { "tbit", 1000000000000 }, { "kibit", 1ULL << 10 },
		{ "mibit", 1ULL << 20 }, { "gibit", 1ULL << 30 }, { "bps", 8 },
		{ "kbps", 8000 },	{ "mbps", 8000000 },	 { "gbps", 8000000000 },
		{},
	};
	int r = with_units(s, units, 1, bits_per_s,
			   "a rate such as 2mbit (units bit, kbit, mbit, gbit, tbit, kibit, mibit, gibit; bps, kbps, mbps, gbps for bytes)",
			   "a rate of at most 18446744073709551615 bit/s", err, errlen);

	if (!r && !*bits_per_s) {
		snprintf(err, errlen, "a rate above zero, such as 2mbit");
		return -EINVAL;
	}
	return r;
}

int ps_parse_duration(const char *s, uint64_t *seconds, char *err, size_t errlen)
{
	static const struct unit units[] = {
		{ "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 }, {},
	};

	return with_units(s, units, 0, seconds, "a duration such as 30s, 10m, 2h or 1d",
			  "a duration of at most 18446744073709551615 seconds", err, errlen);
}

int ps_parse_prefix(const char *s, struct ps_prefix *p, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	int bits, i;
	long len;

	memset(p, 0, sizeof(*p));
	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = PS_AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = PS_AF_INET6;
		bits = 128;
	} else {
		goto bad;
	}
	len = bits;
	if (slash) {
		/* strtol would take a sign or leading space: digits only. */
		if (!is_digit(slash[0]))
			goto bad;
		errno = 0;
		len = strtol(slash, &end, 10);
		if (errno || *end || len > bits)
			goto bad;
	}
	p->len = len;
	for (i = len; i < bits; i++) {
		if (p->addr[i / 8] & (0x80 >> (i % 8))) {
			/* Say which prefix was probably meant: the address's network. */
			struct ps_prefix net = *p;
			char text[INET6_ADDRSTRLEN + 8];

			for (; i < bits; i++)
				net.addr[i / 8] &= ~(0x80 >> (i % 8));
			snprintf(err, errlen, "a prefix without host bits, such as %s",
				 ps_prefix_str(&net, text, sizeof(text)));
			memset(p, 0, sizeof(*p));
			return -EINVAL;
		}
	}
	return 0;
bad:
	memset(p, 0, sizeof(*p));
	snprintf(err, errlen, "an IPv4 or IPv6 address or prefix such as 203.0.113.0/24 or 2001:db8::/32");
	return -EINVAL;
}

uint64_t ps_key_id_of(const void *addr)
{
	uint32_t a[2];

	memcpy(a, addr, sizeof(a));
	return (uint64_t)a[1] << 32 | a[0];
}

const char *ps_key_str(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "key:%016" PRIx64, id);
	return buf;
}

void ps_key_client(uint64_t id, struct ps_client_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = PS_AF_KEY;
	k->addr.a[0] = (uint32_t)id;
	k->addr.a[1] = (uint32_t)(id >> 32);
}

int ps_parse_subject(const char *s, struct ps_prefix *p, char *err, size_t errlen)
{
	struct ps_client_key k;
	uint64_t id = 0;
	int i;

	if (strncmp(s, "key:", 4))
		return ps_parse_prefix(s, p, err, errlen);
	memset(p, 0, sizeof(*p));
	for (i = 4; i < 20; i++) {
		int d = isdigit((unsigned char)s[i]) ? s[i] - '0' :
			(s[i] >= 'a' && s[i] <= 'f') ? s[i] - 'a' + 10 :
			(s[i] >= 'A' && s[i] <= 'F') ? s[i] - 'A' + 10 : -1;

		if (d < 0)
			break;
		id = id << 4 | d;
	}
	if (i != 20 || s[20]) {
		snprintf(err, errlen, "an API key id: key: and 16 hex digits, as penstock key-id "
			 "prints it");
		return -EINVAL;
	}
	ps_key_client(id, &k);
	ps_prefix_of_client(&k, p);
	return 0;
}

void ps_prefix_of_client(const struct ps_client_key *k, struct ps_prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->family = k->family;
	p->len = k->family == PS_AF_INET ? 32 : 128;
	memcpy(p->addr, &k->addr, sizeof(p->addr));
}

const char *ps_prefix_str(const struct ps_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (p->family == PS_AF_KEY)
		return ps_key_str(ps_key_id_of(p->addr), buf, len);

	if (!inet_ntop(p->family == PS_AF_INET ? AF_INET : AF_INET6, p->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	if (p->len == (p->family == PS_AF_INET ? 32 : 128))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, p->len);
	return buf;
}

/* Days, hours, minutes, seconds, each left out when zero: exact, and short. */
const char *ps_duration_str(uint64_t s, char *buf, size_t len)
{
	static const struct {
		uint64_t secs;
		char unit;
	} parts[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t used = 0;
	int i, n = 0;

	if (!s) {
		snprintf(buf, len, "0s");
		return buf;
	}
	/* The two largest units that are not zero: "2h5m", "10m", "3d". */
	for (i = 0; i < 4 && n < 2 && used < len; i++) {
		uint64_t q = s / parts[i].secs;

		if (!q) {
			if (n)
				n++;	/* a zero unit after the first ends it */
			continue;
		}
		used += snprintf(buf + used, len - used, "%llu%c", (unsigned long long)q,
				 parts[i].unit);
		s %= parts[i].secs;
		n++;
		if (!s)
			break;
	}
	return buf;
}

const char *ps_rfc3339(uint64_t unix_s, char *buf, size_t len)
{
	time_t t = unix_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

const char *ps_rfc3339_ms(uint64_t ms, char *buf, size_t len)
{
	time_t t = ms / 1000;
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ", (unsigned int)(ms % 1000));
	return buf;
}

void ps_lpm_key_of(struct ps_lpm_key *k, const struct ps_prefix *p)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 8 + p->len;
	k->family = p->family;
	memcpy(k->addr, p->addr, sizeof(k->addr));
}

void ps_prefix_of_key(struct ps_prefix *p, const struct ps_lpm_key *k)
{
	memset(p, 0, sizeof(*p));
	p->family = k->family;
	p->len = k->prefixlen - 8;
	memcpy(p->addr, k->addr, sizeof(p->addr));
}

int ps_parse_listen(const char *s, void *addr, size_t addr_size, unsigned int *len, char *err,
		    size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *h = s;
	size_t hlen;
	unsigned long port = 0;
	const char *p;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close) {
			snprintf(err, errlen, "has a '[' without its ']'");
			return -EINVAL;
		}
		h = s + 1;
		hlen = close - h;
		colon = close + 1;
		if (*colon != ':') {
			snprintf(err, errlen, "has no ':' and port after the ']'");
			return -EINVAL;
		}
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(err, errlen, "has no ':' and port");
			return -EINVAL;
		}
		hlen = colon - s;
		if (memchr(s, ':', hlen)) {
			snprintf(err, errlen, "is an IPv6 address without brackets");
			return -EINVAL;
		}
	}
	for (p = colon + 1; *p && port <= 65535; p++) {
		if (!is_digit(*p) || (p == colon + 1 && *p == '0')) {
			port = 0;
			break;
		}
		port = port * 10 + (*p - '0');
	}
	if (!colon[1] || *p || port < 1 || port > 65535) {
		snprintf(err, errlen, "has no port 1..65535 after the ':'");
		return -EINVAL;
	}
	if (!hlen || hlen >= sizeof(host)) {
		snprintf(err, errlen, "has no address before the port");
		return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = 0;
	if (s[0] == '[') {
		struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

		if (inet_pton(AF_INET6, host, &a6.sin6_addr) != 1) {
			snprintf(err, errlen, "has no IPv6 address between the brackets");
			return -EINVAL;
		}
		if (addr_size < sizeof(a6))
			return -EINVAL;
		memcpy(addr, &a6, sizeof(a6));
		*len = sizeof(a6);
	} else {
		struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };

		if (inet_pton(AF_INET, host, &a4.sin_addr) != 1) {
			snprintf(err, errlen, "has no numeric IPv4 address before the port");
			return -EINVAL;
		}
		if (addr_size < sizeof(a4))
			return -EINVAL;
		memcpy(addr, &a4, sizeof(a4));
		*len = sizeof(a4);
	}
	return 0;
}
