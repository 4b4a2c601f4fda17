/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * penstock configuration (YAML). One struct holds everything a config file
 * can say; ps_config_load() fills it and checks every value against the
 * bounds table in config.c, reporting "file:line:column: message".
 */
#ifndef PS_CONFIG_H
#define PS_CONFIG_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "penstock_abi.h"

#define PS_DEFAULT_CONFIG	"/etc/penstock/penstock.yaml"
#define PS_MAX_IFACES		16
#define PS_NAME_MAX		32

struct ps_endpoint_cfg {
	char name[PS_NAME_MAX];
	uint16_t port;
	int npaths;
	char paths[PS_MAX_PATHS][PS_PATH_MAX + 1];
};

struct ps_config {
	char source[4096];	/* file the config came from, "" for built-in */
	int nifaces;
	char ifaces[PS_MAX_IFACES][IF_NAMESIZE];
	int nendpoints;
	struct ps_endpoint_cfg endpoints[PS_MAX_ENDPOINTS];
	uint32_t max_clients;	/* client slots in the maps (at the next start) */
	uint32_t reclaim_idle;	/* seconds idle before a client's slot may be reclaimed */
};

/* Inference paths an endpoint gets when it lists none (OpenAI-compatible). */
extern const char *const ps_default_paths[];

/* An empty config: no interfaces, no endpoints. */
void ps_config_init(struct ps_config *cfg);

/*
 * Load and check a YAML file. Returns 0, or a negative errno with a
 * one-line message in err ("file:line:column: what was expected").
 * cfg is left unchanged on error.
 */
int ps_config_load(const char *path, struct ps_config *cfg, char *err, size_t errlen);

/*
 * Add an endpoint on port with the default inference paths, unless an
 * endpoint already serves that port. Returns 0 or -ENOSPC / -EINVAL.
 */
int ps_config_add_port(struct ps_config *cfg, long port);

#endif
