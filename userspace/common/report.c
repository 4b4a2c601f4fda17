// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/protocol.h"
#include "common/report.h"

_Static_assert(offsetof(struct ps_counters, connections) == 8 * PS_F_CONNECTIONS &&
	       offsetof(struct ps_counters, tx_payload) == 8 * PS_F_TX_PAYLOAD,
	       "enum ps_field follows struct ps_counters");

json_t *ps_client_json(const struct ps_client *cl)
{
	/* The figures of struct ps_counters, in enum ps_field order; the token ones after. */
	const uint64_t *v = (const uint64_t *)&cl->c;
	char addr[INET6_ADDRSTRLEN];
	json_t *o;
	int f;

	o = json_pack("{s:s}", "client", ps_client_str(&cl->key, addr, sizeof(addr)));
	for (f = 0; o && f < PS_NCTRFIELDS; f++)
		if (json_object_set_new(o, ps_field_names[f], json_integer((json_int_t)v[f]))) {
			json_decref(o);
			return NULL;
		}
	if (o && (json_object_set_new(o, "tx_events", json_integer((json_int_t)cl->tx_events)) ||
		  json_object_set_new(o, "tx_tokens", json_integer((json_int_t)cl->tx_tokens)) ||
		  json_object_set_new(o, "rx_tokens", json_integer((json_int_t)cl->rx_tokens)) ||
		  json_object_set_new(o, "tx_tokens_estimated",
				      json_integer((json_int_t)cl->tx_tokens_estimated)) ||
		  json_object_set_new(o, "rx_messages", json_integer((json_int_t)cl->rx_messages)) ||
		  json_object_set_new(o, "tx_messages", json_integer((json_int_t)cl->tx_messages)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ps_clients_json(const struct ps_client *list, int n, int policy)
{
	json_t *arr = json_array();
	int i, frags = 0;

	if (!arr)
		return NULL;
	/* IP fragments are a member only where a capture held some. */
	for (i = 0; i < n; i++)
		frags |= list[i].fragments != 0;
	for (i = 0; i < n; i++) {
		json_t *o = ps_client_json(&list[i]);

		if (frags && o)
			json_object_set_new(o, "would_drop_fragments",
					    json_integer((json_int_t)list[i].fragments));
		if ((policy & PS_POLICY_RATE) && o)
			json_object_set_new(o, "would_throttle",
					    json_integer((json_int_t)list[i].would_throttle));
		if ((policy & PS_POLICY_CONNS) && o)
			json_object_set_new(o, "would_refuse",
					    json_integer((json_int_t)list[i].would_refuse));
		if ((policy & PS_POLICY_BLOCK) && o)
			json_object_set_new(o, "would_block",
					    json_integer((json_int_t)list[i].would_block));
		json_array_append_new(arr, o);
	}
	return json_pack("{s:o}", "clients", arr);
}

json_t *ps_endpoint_totals_json(const struct ps_config *cfg, const struct ps_ep_ctr *tot)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr && i < cfg->nendpoints; i++) {
		const struct ps_ep_ctr *t = &tot[i];

		if (json_array_append_new(
			    arr, json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
					   "name", cfg->endpoints[i].name, "port",
					   cfg->endpoints[i].port, "connections",
					   (json_int_t)t->connections, "requests",
					   (json_int_t)t->requests, "inference_requests",
					   (json_int_t)t->inference_requests, "rx_packets",
					   (json_int_t)t->rx_packets, "tx_packets",
					   (json_int_t)t->tx_packets, "rx_bytes",
					   (json_int_t)t->rx_bytes, "tx_bytes",
					   (json_int_t)t->tx_bytes, "throttled_requests",
					   (json_int_t)t->throttled_requests))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

void ps_clients_table(FILE *f, const struct ps_client *list, int n, int policy)
{
	char addr[INET6_ADDRSTRLEN];
	int i, w = 6;

	for (i = 0; i < n; i++) {
		int l = strlen(ps_client_str(&list[i].key, addr, sizeof(addr)));

		if (l > w)
			w = l;
	}
	fprintf(f, "%-*s %6s %8s %9s %10s %10s %12s %12s %12s %12s%s%s%s\n", w, "CLIENT", "CONNS",
		"REQUESTS", "INFERENCE", "RX_PKTS", "TX_PKTS", "RX_BYTES", "TX_BYTES",
		"RX_PAYLOAD", "TX_PAYLOAD", (policy & PS_POLICY_RATE) ? " WOULD_THROTTLE" : "",
		(policy & PS_POLICY_CONNS) ? " WOULD_REFUSE" : "",
		(policy & PS_POLICY_BLOCK) ? "   WOULD_BLOCK" : "");
	for (i = 0; i < n; i++) {
		const struct ps_counters *c = &list[i].c;

		fprintf(f, "%-*s %6llu %8llu %9llu %10llu %10llu %12llu %12llu %12llu %12llu", w,
			ps_client_str(&list[i].key, addr, sizeof(addr)), c->connections,
			c->requests, c->inference_requests, c->rx_packets, c->tx_packets,
			c->rx_bytes, c->tx_bytes, c->rx_payload, c->tx_payload);
		if (policy & PS_POLICY_RATE)
			fprintf(f, " %15llu", (unsigned long long)list[i].would_throttle);
		if (policy & PS_POLICY_CONNS)
			fprintf(f, " %13llu", (unsigned long long)list[i].would_refuse);
		if (policy & PS_POLICY_BLOCK)
			fprintf(f, " %13llu", (unsigned long long)list[i].would_block);
		fputc('\n', f);
	}
}
