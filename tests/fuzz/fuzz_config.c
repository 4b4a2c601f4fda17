// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the configuration loader. The input is the text of a
 * config file, given to ps_config_parse(), which is what ps_config_load()
 * (penstockd, penstock replay) runs once it has read the file.
 *
 * Besides what ASan, LSan and UBSan catch, an input fails the target when:
 * - it is refused without a "fuzz.yaml:LINE:COLUMN: message" error, or
 *   the config passed in was changed (a refused file changes nothing);
 * - it is accepted with a config that breaks what config.h promises the
 *   code reading it: counts within their arrays, strings terminated and
 *   non-empty where required, ports unique and non-zero, prefixes of a
 *   valid family and length. The functions that read an accepted config
 *   next (the limits, thresholds and class of a client) run on it too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

#define NAME	"fuzz.yaml"

static void fail(const char *what, const uint8_t *data, size_t size)
{
	printf("fuzz_config: %s\ninput (%zu bytes): %.*s\n", what, size,
		(int)(size > 512 ? 512 : size), (const char *)data);
	fflush(stdout);
	abort();
}

/* "fuzz.yaml:LINE:COLUMN: message", LINE and COLUMN from 1. */
static int located(const char *err)
{
	unsigned long line, col;
	int n = 0;

	if (strncmp(err, NAME ":", sizeof(NAME)))
		return 0;
	if (sscanf(err + sizeof(NAME), "%lu:%lu: %n", &line, &col, &n) != 2 || !n)
		return 0;
	return line >= 1 && col >= 1 && err[sizeof(NAME) + n] != 0;
}

static int terminated(const char *s, size_t size, int nonempty)
{
	size_t n = strnlen(s, size);

	return n < size && (!nonempty || n > 0);
}

static int prefix_ok(const struct ps_prefix *p)
{
	return (p->family == PS_AF_INET && p->len <= 32) ||
	       (p->family == PS_AF_INET6 && p->len <= 128);
}

static const char *check(const struct ps_config *cfg)
{
	struct ps_thresholds th;
	struct ps_client_key k;
	struct ps_limits l;
	int i, j;

	if (cfg->nifaces < 0 || cfg->nifaces > PS_MAX_IFACES)
		return "interfaces: count out of bounds";
	for (i = 0; i < cfg->nifaces; i++)
		if (!terminated(cfg->ifaces[i], sizeof(cfg->ifaces[i]), 1))
			return "interfaces: a name empty or not terminated";
	if (cfg->nendpoints < 1 || cfg->nendpoints > PS_MAX_ENDPOINTS)
		return "endpoints: count out of bounds";
	for (i = 0; i < cfg->nendpoints; i++) {
		const struct ps_endpoint_cfg *e = &cfg->endpoints[i];

		if (!e->port || !terminated(e->name, sizeof(e->name), 1))
			return "endpoints: a port 0 or a name empty";
		if (e->npaths < 1 || e->npaths > PS_MAX_PATHS)
			return "endpoints: path count out of bounds";
		for (j = 0; j < e->npaths; j++)
			if (!terminated(e->paths[j], sizeof(e->paths[j]), 1) || e->paths[j][0] != '/')
				return "endpoints: a path empty, unterminated or not from '/'";
		for (j = 0; j < i; j++)
			if (cfg->endpoints[j].port == e->port)
				return "endpoints: a port twice";
	}
	if (cfg->nclasses < 0 || cfg->nclasses > PS_MAX_CLASSES - 1)
		return "limits.classes: count out of bounds";
	for (i = 0; i < cfg->nclasses; i++) {
		const struct ps_class_cfg *c = &cfg->classes[i];

		if (!terminated(c->name, sizeof(c->name), 1))
			return "limits.classes: a name empty or not terminated";
		if (c->nclients < 1 || c->nclients > PS_MAX_CLASS_PREFIXES)
			return "limits.classes: client count out of bounds";
		for (j = 0; j < c->nclients; j++)
			if (!prefix_ok(&c->clients[j]))
				return "limits.classes: a prefix of no family or too long";
	}
	if (cfg->detection.nsteps < 1 || cfg->detection.nsteps > PS_MAX_STEPS)
		return "detection.escalation.steps: count out of bounds";
	if (!terminated(cfg->alerts.jsonl.path, sizeof(cfg->alerts.jsonl.path), 0) ||
	    !terminated(cfg->alerts.webhook.url, sizeof(cfg->alerts.webhook.url), 0) ||
	    !terminated(cfg->alerts.webhook.spool_dir, sizeof(cfg->alerts.webhook.spool_dir), 0))
		return "alerts: a path or URL not terminated";

	/* What penstockd and replay ask of it next, for every class and the default. */
	for (i = 0; i <= cfg->nclasses + 1; i++) {
		ps_limits_resolve(cfg, i, &l);
		if (l.on_exceed == PS_ON_EXCEED_UNSET || (l.unlimited != 0 && l.unlimited != 1))
			return "ps_limits_resolve: on_exceed or unlimited unset";
		ps_thresholds_resolve(cfg, i, &th);
	}
	for (i = 0; i < cfg->nclasses; i++) {
		memset(&k, 0, sizeof(k));
		k.family = cfg->classes[i].clients[0].family;
		memcpy(&k.addr, cfg->classes[i].clients[0].addr, sizeof(cfg->classes[i].clients[0].addr));
		j = ps_config_class_of(cfg, &k);
		if (j < 1 || j > cfg->nclasses)
			return "ps_config_class_of: a class's own prefix is in no class";
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ps_config cfg, before;
	static int inited;
	char err[4608];
	const char *bad;
	int ret;

	if (!inited) {
		ps_config_init(&before);
		inited = 1;
	}
	memcpy(&cfg, &before, sizeof(cfg));
	memset(err, 0x5a, sizeof(err));
	ret = ps_config_parse(NAME, (const char *)data, size, &cfg, err, sizeof(err));
	if (ret) {
		if (!memchr(err, 0, sizeof(err)) || !located(err))
			fail("refused without FILE:LINE:COLUMN", data, size);
		if (memcmp(&cfg, &before, sizeof(cfg)))
			fail("refused, yet the config changed", data, size);
		return 0;
	}
	bad = check(&cfg);
	if (bad)
		fail(bad, data, size);
	return 0;
}
