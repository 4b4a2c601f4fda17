/* SPDX-License-Identifier: GPL-2.0-only */
/* Per-client counters as an aligned table or as JSON (the same field
 * names everywhere: replay, the daemon's control socket, the CLI). */
#ifndef PS_REPORT_H
#define PS_REPORT_H

#include <stdio.h>
#include <jansson.h>

#include "common/datapath.h"

/* {"client": "...", "connections": N, ...} for one client. */
json_t *ps_client_json(const struct ps_client *cl);
/* What a replay's policy adds to each client (a column, a JSON field). */
#define PS_POLICY_RATE		0x1	/* would_throttle: a request limit is configured */
#define PS_POLICY_CONNS		0x2	/* would_refuse: max_connections is configured */
#define PS_POLICY_BLOCK		0x4	/* would_block: something may block (limits, detection) */

/* {"clients": [...]}, with the policy's fields (PS_POLICY_*) if any. */
json_t *ps_clients_json(const struct ps_client *list, int n, int policy);
void ps_clients_table(FILE *f, const struct ps_client *list, int n, int policy);

/*
 * The endpoints' totals (ps_dp_read_endpoints()), tot[i] config endpoint
 * i's: [{"name": ..., "port": N, "connections": N, ...}], the counters
 * named as a client's, and throttled_requests.
 */
struct ps_config;
json_t *ps_endpoint_totals_json(const struct ps_config *cfg, const struct ps_ep_ctr *tot);

#endif
