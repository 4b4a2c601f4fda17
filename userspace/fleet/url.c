// SPDX-License-Identifier: GPL-2.0-only
/*
 * fleet.redis read into its parts (url.h lists the forms). Only the
 * shape is checked here: whether a name resolves is the connection's
 * business.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fleet/url.h"

static const struct {
	const char *scheme;
	enum ps_fleet_mode mode;
	int tls;
	uint16_t port;
} schemes[] = {
	{ "redis://", PS_FLEET_STANDALONE, 0, 6379 },
	{ "rediss://", PS_FLEET_STANDALONE, 1, 6379 },
	{ "redis-sentinel://", PS_FLEET_SENTINEL, 0, 26379 },
	{ "redis-cluster://", PS_FLEET_CLUSTER, 0, 6379 },
};

/* A decimal in lo..hi of exactly len bytes. */
static int number(const char *s, size_t len, long lo, long hi, long *v)
{
	long n = 0;
	size_t i;

	if (!len || len > 6)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	if (n < lo || n > hi)
		return -1;
	*v = n;
	return 0;
}

/* HOST[:PORT] or [V6]:PORT, len bytes of s. */
static const char *node(const char *s, size_t len, uint16_t defport, struct ps_fleet_node *n)
{
	const char *hend, *colon = NULL, *end = s + len;
	size_t i, hlen;
	long port = defport;

	if (!len)
		return "has an empty host";
	if (s[0] == '[') {
		hend = memchr(s, ']', len);
		if (!hend)
			return "has a '[' without its ']'";
		hlen = hend - s - 1;
		s++;
		if (hend + 1 < end) {
			if (hend[1] != ':')
				return "has something other than ':PORT' after ']'";
			colon = hend + 1;
		}
	} else {
		colon = memchr(s, ':', len);
		hlen = colon ? (size_t)(colon - s) : len;
	}
	if (!hlen)
		return "has an empty host";
	if (hlen >= sizeof(n->host))
		return "has a host name longer than 255 bytes";
	for (i = 0; i < hlen; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '/' || s[i] == '@')
			return "has a host with a space, '/', '@' or a character that is not visible ASCII";
	if (colon) {
		if (number(colon + 1, end - colon - 1, 1, 65535, &port))
			return "has a port that is not a number 1..65535";
	}
	memcpy(n->host, s, hlen);
	n->host[hlen] = 0;
	n->port = port;
	return NULL;
}

const char *ps_fleet_url_parse(const char *s, size_t len, struct ps_fleet_url *u)
{
	const char *p, *end = s + len, *at, *slash, *q;
	size_t i, sl = 0;
	const char *err;
	long db = 0;

	memset(u, 0, sizeof(*u));
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		sl = strlen(schemes[i].scheme);
		if (len >= sl && !strncasecmp(s, schemes[i].scheme, sl))
			break;
	}
	if (i == sizeof(schemes) / sizeof(schemes[0]))
		return "does not start with redis://, rediss://, redis-sentinel:// or redis-cluster://";
	u->mode = schemes[i].mode;
	u->tls = schemes[i].tls;
	p = s + sl;
	for (q = p; q < end; q++)
		if (*q <= ' ' || *q > '~')
			return "contains a space or a character that is not visible ASCII";
	slash = memchr(p, '/', end - p);
	if (!slash)
		slash = end;
	/* [:password@] before the hosts. */
	at = memchr(p, '@', slash - p);
	if (at) {
		const char *pw = p;

		if (*pw == ':')
			pw++;
		else if (memchr(p, ':', at - p))
			pw = memchr(p, ':', at - p) + 1;	/* user:password, the user ignored */
		if ((size_t)(at - pw) >= sizeof(u->password))
			return "has a password longer than 255 bytes";
		memcpy(u->password, pw, at - pw);
		p = at + 1;
	}
	/* The hosts, comma-separated. */
	while (p < slash) {
		const char *comma = memchr(p, ',', slash - p);
		const char *ne = comma ? comma : slash;

		if (u->nnodes == PS_FLEET_MAX_NODES)
			return "has more than 8 hosts";
		err = node(p, ne - p, schemes[i].port, &u->nodes[u->nnodes]);
		if (err)
			return err;
		u->nnodes++;
		p = comma ? comma + 1 : slash;
		if (comma && p == slash)
			return "has an empty host";
	}
	if (!u->nnodes)
		return "has no host";
	if (u->mode == PS_FLEET_STANDALONE && u->nnodes > 1)
		return "names several hosts, expected one (or redis-sentinel:// or redis-cluster://)";
	p = slash < end ? slash + 1 : end;
	if (u->mode == PS_FLEET_SENTINEL) {
		const char *ms = p;

		slash = memchr(p, '/', end - p);
		if (!slash)
			slash = end;
		if (slash == ms)
			return "has no master name after the sentinels (redis-sentinel://HOST:PORT/MASTER)";
		if ((size_t)(slash - ms) >= sizeof(u->master))
			return "has a master name longer than 63 bytes";
		memcpy(u->master, ms, slash - ms);
		p = slash < end ? slash + 1 : end;
	}
	if (p < end) {
		if (u->mode == PS_FLEET_CLUSTER)
			return "has a database number, which a Cluster does not have";
		if (number(p, end - p, 0, 15, &db))
			return "has a database that is not a number 0..15";
	}
	u->db = db;
	return NULL;
}
