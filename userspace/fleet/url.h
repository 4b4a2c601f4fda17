/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fleet.redis: where the fleet's counters live, as a URL.
 *
 *   redis://[:PASSWORD@]HOST[:PORT][/DB]      one server (port 6379, db 0)
 *   rediss://...                              the same over TLS
 *   redis-sentinel://H1[:P1],H2[:P2]/MASTER[/DB]   Sentinels (port 26379)
 *                                             asked for MASTER's address
 *   redis-cluster://H1[:P1],H2[:P2]           seed nodes of a Cluster
 *
 * HOST is an IPv4 address, [an IPv6 one] or a name. Shared by the
 * config's check (common/config_keys.c) and the fleet client (fleet.c).
 */
#ifndef PS_FLEET_URL_H
#define PS_FLEET_URL_H

#include <stdint.h>

#define PS_FLEET_MAX_NODES	8
#define PS_FLEET_HOST_MAX	256

enum ps_fleet_mode {
	PS_FLEET_STANDALONE = 0,
	PS_FLEET_SENTINEL,
	PS_FLEET_CLUSTER,
};

struct ps_fleet_node {
	char host[PS_FLEET_HOST_MAX];	/* without the brackets of an IPv6 address */
	uint16_t port;
};

struct ps_fleet_url {
	enum ps_fleet_mode mode;
	int tls;			/* rediss:// */
	int nnodes;			/* 1 but for sentinel and cluster */
	struct ps_fleet_node nodes[PS_FLEET_MAX_NODES];
	char master[64];		/* sentinel: the master's name */
	int db;				/* 0..15; cluster: 0 */
	char password[256];		/* from the URL, "" none (prefer password_file) */
};

/* NULL and u filled, or what is wrong with s (a static message). */
const char *ps_fleet_url_parse(const char *s, size_t len, struct ps_fleet_url *u);

#endif
