// SPDX-License-Identifier: GPL-2.0-only
/*
 * What penstockd exports on /metrics (README "Metrics" lists every
 * family): rendered once per tick, at its end, from the client table, the
 * datapath's counters and the policy's state, into a text the metrics
 * server (metrics/metrics.c) serves until the next tick. Rendering is the
 * loop's; a scrape only copies nothing and reads nothing of the daemon.
 *
 * Cardinality is bounded whatever the clients do: totals by class (at
 * most 64) and endpoint, entries by action and origin, alerts by detector
 * and action, and metrics.top subjects in each top list.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/units.h"
#include "daemon/daemon.h"
#include "enforce/enforce.h"
#include "metrics/expo.h"
#include "metrics/metrics.h"
#include "penstock.skel.h"

/* A subject counts for the top lists while its 1m window can hold anything. */
#define TOP_ACTIVE_S	120
#define MAX_ALERT_KINDS	64

/* Seconds: a tick's fold is 1 ms to 100 ms, a detection pass up to seconds. */
static const double duration_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

struct alert_count {
	char detector[32];
	char action[16];
	uint64_t n;
};

struct ranked {
	double v;
	uint32_t rec;
};

struct ps_scrape {
	struct ps_expo_hist tick, detect;
	uint64_t ticks_seen, runs_seen;
	int nalerts;
	struct alert_count alerts[MAX_ALERT_KINDS];
	uint64_t alerts_other;		/* beyond MAX_ALERT_KINDS kinds (never, with 8 detectors) */
	uint8_t *cls;			/* class id of each record, computed once ... */
	uint32_t ncls, capcls;		/* ... for records [0, ncls) */
	uint64_t cls_reloads;		/* ... under the configuration of this reload count */
	struct ranked *top[3];		/* tx bytes, requests, tx tokens: metrics.top each */
	uint64_t render_ns;		/* the last render, CPU time */
};

int ps_scrape_init(struct ps_daemon *d)
{
	struct ps_scrape *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	ps_expo_hist_init(&s->tick, duration_buckets, sizeof(duration_buckets) / sizeof(double));
	ps_expo_hist_init(&s->detect, duration_buckets,
			  sizeof(duration_buckets) / sizeof(double));
	s->top[0] = calloc(PS_METRICS_TOP_MAX, sizeof(struct ranked));
	s->top[1] = calloc(PS_METRICS_TOP_MAX, sizeof(struct ranked));
	s->top[2] = calloc(PS_METRICS_TOP_MAX, sizeof(struct ranked));
	if (!s->top[0] || !s->top[1] || !s->top[2]) {
		free(s->top[0]);
		free(s->top[1]);
		free(s->top[2]);
		free(s);
		return -ENOMEM;
	}
	d->scrape = s;
	return 0;
}

void ps_scrape_free(struct ps_daemon *d)
{
	struct ps_scrape *s = d->scrape;

	if (!s)
		return;
	free(s->cls);
	free(s->top[0]);
	free(s->top[1]);
	free(s->top[2]);
	free(s);
	d->scrape = NULL;
}

void ps_scrape_observe(struct ps_daemon *d)
{
	struct ps_scrape *s = d->scrape;
	struct ps_detect_stats ds;

	if (!s)
		return;
	/* Each tick run since the last look; the fold's own CPU time, as status shows it. */
	for (; s->ticks_seen < d->tick.count; s->ticks_seen++)
		ps_expo_hist_observe(&s->tick, d->tick.last_ns / 1e9);
	if (!d->pol.det)
		return;
	ps_detect_stats(d->pol.det, &ds);
	for (; s->runs_seen < ds.runs; s->runs_seen++)
		ps_expo_hist_observe(&s->detect, ds.last_ns / 1e9);
}

void ps_scrape_alert(struct ps_daemon *d, const struct ps_alert *al)
{
	struct ps_scrape *s = d->scrape;
	int i;

	if (!s)
		return;
	for (i = 0; i < s->nalerts; i++)
		if (!strcmp(s->alerts[i].detector, al->detector) &&
		    !strcmp(s->alerts[i].action, al->action))
			break;
	if (i == s->nalerts) {
		if (i == MAX_ALERT_KINDS) {
			s->alerts_other++;
			return;
		}
		snprintf(s->alerts[i].detector, sizeof(s->alerts[i].detector), "%s", al->detector);
		snprintf(s->alerts[i].action, sizeof(s->alerts[i].action), "%s", al->action);
		s->nalerts++;
	}
	s->alerts[i].n++;
}

/* The class of every record, kept from one render to the next until a reload. */
static int classes_of(struct ps_daemon *d, struct ps_scrape *s)
{
	struct ps_ctable *t = &d->table;
	uint32_t i;

	if (s->cls_reloads != d->reloads) {
		s->ncls = 0;
		s->cls_reloads = d->reloads;
	}
	if (t->n > s->capcls) {
		uint32_t cap = t->n + t->n / 2 + 1024;
		uint8_t *c = realloc(s->cls, cap);

		if (!c)
			return -ENOMEM;
		s->cls = c;
		s->capcls = cap;
	}
	for (i = s->ncls; i < t->n; i++)
		s->cls[i] = ps_config_class_of(&d->cfg, &t->rec[i].key);
	s->ncls = t->n;
	return 0;
}

/* Keep the k largest of the list (descending, ties by record: first seen first). */
static void rank(struct ranked *top, int *n, int k, double v, uint32_t rec)
{
	int i;

	if (k <= 0 || v <= 0 || (*n == k && v <= top[k - 1].v))
		return;
	i = *n < k ? (*n)++ : k - 1;
	for (; i > 0 && top[i - 1].v < v; i--)
		top[i] = top[i - 1];
	top[i] = (struct ranked){ v, rec };
}

static void subject_of(const struct ps_crec *r, char *buf, size_t len)
{
	if (r->key.family == PS_AF_KEY)
		ps_key_str(ps_key_id_of(&r->key.addr), buf, len);
	else
		ps_client_str(&r->key, buf, len);
}

/* Totals by class, and the top subjects of the last minute: one pass over the table. */
/*
 * The clients' families. A pass over every client (60 ms and more at a
 * million): it yields as the tick does, the control requests waiting
 * answered there; false when a reload put a new configuration in force
 * meanwhile (the text, half of the old classes', is not published).
 */
static bool write_clients(FILE *f, struct ps_daemon *d, struct ps_scrape *s, uint64_t now_ms)
{
	static const struct {
		const char *name, *help;
		int rx, tx;	/* enum ps_field, or -1 */
	} fam[] = {
		{ "penstock_connections_total", "TCP connections whose client SYN was seen.",
		  PS_F_CONNECTIONS, -1 },
		{ "penstock_requests_total", "HTTP/1.x requests.", PS_F_REQUESTS, -1 },
		{ "penstock_inference_requests_total",
		  "Requests whose path starts with one of the endpoint's inference paths.",
		  PS_F_INFERENCE, -1 },
		{ "penstock_packets_total",
		  "Wire packets, client to server (rx) and server to client (tx).",
		  PS_F_RX_PACKETS, PS_F_TX_PACKETS },
		{ "penstock_bytes_total", "IP bytes, client to server (rx) and server to client (tx).",
		  PS_F_RX_BYTES, PS_F_TX_BYTES },
		{ "penstock_payload_bytes_total",
		  "Unique TCP payload bytes, client to server (rx) and server to client (tx).",
		  PS_F_RX_PAYLOAD, PS_F_TX_PAYLOAD },
		{ "penstock_tokens_total",
		  "Tokens the answers to inference requests reported: prompt_tokens (rx) and "
		  "completion_tokens (tx).",
		  PS_F_RX_TOKENS, PS_F_TX_TOKENS },
		{ "penstock_events_total",
		  "Server-sent events (data: lines) of event-stream answers to inference requests.",
		  PS_F_TX_EVENTS, -1 },
		{ "penstock_tokens_estimated_total",
		  "Events of streamed answers that reported no completion_tokens (a token each, "
		  "about).",
		  PS_F_TX_TOKENS_ESTIMATED, -1 },
		{ "penstock_grpc_messages_total",
		  "gRPC messages of calls to inference paths, client to server (rx) and server to "
		  "client (tx).",
		  PS_F_RX_MESSAGES, PS_F_TX_MESSAGES },
	};
	struct ps_ctable *t = &d->table;
	uint64_t (*sum)[PS_NFIELDS] = calloc(PS_MAX_CLASSES, sizeof(*sum));
	uint32_t now_s = now_ms / 1000, i, c, nclients[PS_MAX_CLASSES] = { 0 };
	int k = d->cfg.metrics.top, ntop[3] = { 0, 0, 0 }, j;
	const char *endpoint = d->cfg.nendpoints == 1 ? d->cfg.endpoints[0].name : "all";
	const char *lab[8];
	char subject[64];
	bool memo = sum && !classes_of(d, s);

	for (i = 0; sum && i < t->n; i++) {
		const struct ps_crec *r = &t->rec[i];
		uint64_t tot[PS_NFIELDS];
		struct ps_cview v;

		if (ps_ctable_yield_at(t, i)) {
			free(sum);
			return false;
		}
		c = memo ? s->cls[i] : ps_config_class_of(&d->cfg, &r->key);
		ps_crec_totals(t, r, tot);
		for (j = 0; j < PS_NFIELDS; j++)
			sum[c][j] += tot[j];
		nclients[c]++;
		if (k && r->last_wall + TOP_ACTIVE_S >= now_s) {
			ps_crec_view(t, r, PS_WIN_1M, now_ms, &v);
			rank(s->top[0], &ntop[0], k, v.v[PS_F_TX_BYTES], i);
			rank(s->top[1], &ntop[1], k, v.v[PS_F_REQUESTS], i);
			rank(s->top[2], &ntop[2], k, v.v[PS_F_TX_TOKENS], i);
		}
	}
	for (j = 0; sum && j < (int)(sizeof(fam) / sizeof(fam[0])); j++) {
		ps_expo_family(f, fam[j].name, "counter", fam[j].help);
		for (c = 0; c <= (uint32_t)d->cfg.nclasses; c++) {
			const char *cname = c ? d->cfg.classes[c - 1].name : "default";

			lab[0] = "endpoint", lab[1] = endpoint, lab[2] = "class", lab[3] = cname;
			if (fam[j].tx < 0) {
				lab[4] = NULL;
				ps_expo_sample_u64(f, fam[j].name, lab, sum[c][fam[j].rx]);
				continue;
			}
			lab[4] = "direction", lab[5] = "rx", lab[6] = NULL;
			ps_expo_sample_u64(f, fam[j].name, lab, sum[c][fam[j].rx]);
			lab[5] = "tx";
			ps_expo_sample_u64(f, fam[j].name, lab, sum[c][fam[j].tx]);
		}
	}
	ps_expo_family(f, "penstock_clients", "gauge",
		       "Clients penstockd keeps, by class (every client ever counted).");
	for (c = 0; sum && c <= (uint32_t)d->cfg.nclasses; c++) {
		lab[0] = "class", lab[1] = c ? d->cfg.classes[c - 1].name : "default", lab[2] = NULL;
		ps_expo_sample_u64(f, "penstock_clients", lab, nclients[c]);
	}
	free(sum);
	ps_expo_family(f, "penstock_clients_unfolded", "gauge",
		       "Clients in the datapath's slots that the last tick left for the next ones "
		       "(a burst of new clients, spread over ticks): 0 once the table is whole.");
	lab[0] = NULL;
	ps_expo_sample_u64(f, "penstock_clients_unfolded", lab, t->unfolded);

	ps_expo_family(f, "penstock_top_tx_bytes", "gauge",
		       "IP bytes sent to the subject in the last minute (1m window), for the "
		       "metrics.top subjects that took the most.");
	for (j = 0; j < ntop[0]; j++) {
		subject_of(&t->rec[s->top[0][j].rec], subject, sizeof(subject));
		lab[0] = "subject", lab[1] = subject, lab[2] = NULL;
		ps_expo_sample(f, "penstock_top_tx_bytes", lab, s->top[0][j].v);
	}
	ps_expo_family(f, "penstock_top_requests", "gauge",
		       "HTTP requests of the subject in the last minute (1m window), for the "
		       "metrics.top subjects that made the most.");
	for (j = 0; j < ntop[1]; j++) {
		subject_of(&t->rec[s->top[1][j].rec], subject, sizeof(subject));
		lab[0] = "subject", lab[1] = subject, lab[2] = NULL;
		ps_expo_sample(f, "penstock_top_requests", lab, s->top[1][j].v);
	}
	ps_expo_family(f, "penstock_top_tx_tokens", "gauge",
		       "Completion tokens the answers to the subject reported in the last minute "
		       "(1m window), for the metrics.top subjects that took the most.");
	for (j = 0; j < ntop[2]; j++) {
		subject_of(&t->rec[s->top[2][j].rec], subject, sizeof(subject));
		lab[0] = "subject", lab[1] = subject, lab[2] = NULL;
		ps_expo_sample(f, "penstock_top_tx_tokens", lab, s->top[2][j].v);
	}
	return true;
}

/*
 * Each endpoint's totals (ps_ep_ctrs), labelled with its name and port
 * (names need not be unique): what its connections added to their
 * clients' counters. At most PS_MAX_ENDPOINTS series a family.
 */
static void write_endpoints(FILE *f, struct ps_daemon *d)
{
	static const struct {
		const char *name, *help;
		size_t rx, tx;	/* offsets in struct ps_ep_ctr; tx 0: no direction */
	} fam[] = {
		{ "penstock_endpoint_connections_total",
		  "TCP connections whose client SYN was seen, by endpoint.",
		  offsetof(struct ps_ep_ctr, connections), 0 },
		{ "penstock_endpoint_requests_total", "HTTP requests, by endpoint.",
		  offsetof(struct ps_ep_ctr, requests), 0 },
		{ "penstock_endpoint_inference_requests_total",
		  "Requests whose path starts with one of the endpoint's inference paths, by "
		  "endpoint.", offsetof(struct ps_ep_ctr, inference_requests), 0 },
		{ "penstock_endpoint_packets_total",
		  "Wire packets, client to server (rx) and server to client (tx), by endpoint.",
		  offsetof(struct ps_ep_ctr, rx_packets), offsetof(struct ps_ep_ctr, tx_packets) },
		{ "penstock_endpoint_bytes_total",
		  "IP bytes, client to server (rx) and server to client (tx), by endpoint.",
		  offsetof(struct ps_ep_ctr, rx_bytes), offsetof(struct ps_ep_ctr, tx_bytes) },
		{ "penstock_endpoint_throttled_requests_total",
		  "Inference requests a request limit delayed, by endpoint.",
		  offsetof(struct ps_ep_ctr, throttled_requests), 0 },
	};
	struct ps_ep_ctr tot[PS_MAX_ENDPOINTS];
	const char *lab[7];
	char port[8];
	size_t j;
	int i;

	if (ps_dp_read_endpoints(&d->dp, d->cfg.nendpoints, tot))
		return;
	for (j = 0; j < sizeof(fam) / sizeof(fam[0]); j++) {
		ps_expo_family(f, fam[j].name, "counter", fam[j].help);
		for (i = 0; i < d->cfg.nendpoints; i++) {
			const char *v = (const char *)&tot[i];

			snprintf(port, sizeof(port), "%u", d->cfg.endpoints[i].port);
			lab[0] = "endpoint", lab[1] = d->cfg.endpoints[i].name;
			lab[2] = "port", lab[3] = port, lab[4] = NULL;
			if (fam[j].tx)
				lab[4] = "direction", lab[5] = "rx", lab[6] = NULL;
			ps_expo_sample_u64(f, fam[j].name, lab, *(const uint64_t *)(v + fam[j].rx));
			if (!fam[j].tx)
				continue;
			lab[5] = "tx";
			ps_expo_sample_u64(f, fam[j].name, lab, *(const uint64_t *)(v + fam[j].tx));
		}
	}
}

static void write_enforcement(FILE *f)
{
	struct ps_enf_tally tl;
	const char *lab[5] = { "action", NULL, "origin", NULL, NULL };
	int a, o;

	ps_enf_last_tally(&tl);
	ps_expo_family(f, "penstock_enforcement_entries", "gauge",
		       "Enforcement entries in force, by action and origin.");
	for (a = PS_ACT_BLOCK; a <= PS_ACT_SHAPE; a++)
		for (o = PS_ORIGIN_MANUAL; o <= PS_ORIGIN_MINUTE_LIMIT; o++) {
			lab[1] = ps_action_names[a];
			lab[3] = ps_origin_names[o];
			ps_expo_sample_u64(f, "penstock_enforcement_entries", lab, tl.n[a][o]);
		}
	ps_expo_family(f, "penstock_enforcement_entries_dry_run", "gauge",
		       "Enforcement entries in force that only count what they would do.");
	ps_expo_sample_u64(f, "penstock_enforcement_entries_dry_run", NULL, tl.dry_run);
}

static void write_alerts(FILE *f, struct ps_scrape *s)
{
	const char *lab[5] = { "detector", NULL, "action", NULL, NULL };
	int i;

	ps_expo_family(f, "penstock_alerts_total", "counter",
		       "Alerts (escalation steps taken), by detector and action.");
	for (i = 0; i < s->nalerts; i++) {
		lab[1] = s->alerts[i].detector;
		lab[3] = s->alerts[i].action;
		ps_expo_sample_u64(f, "penstock_alerts_total", lab, s->alerts[i].n);
	}
	if (s->alerts_other) {
		lab[1] = "other", lab[3] = "other";
		ps_expo_sample_u64(f, "penstock_alerts_total", lab, s->alerts_other);
	}
}

/* The datapath's global counters (ps_stats), summed over CPUs; 0 where unread. */
/* With fleet: whether the fleet's limits are in force, and each of its servers'. */
static void write_fleet(FILE *f, struct ps_daemon *d, uint64_t now_ms)
{
	struct ps_fleet_node_state ns[PS_FLEET_MAX_CNODES];
	const char *lab[3] = { "node", NULL, NULL };
	int n, i;

	if (d->fleet.state == PS_FLEET_OFF)
		return;
	ps_expo_family(f, "penstock_fleet_usable", "gauge",
		       "1 while the fleet's sums are fresh (fleet limits in force), 0 on local "
		       "limits only.");
	ps_expo_sample(f, "penstock_fleet_usable", NULL, ps_fleet_usable(&d->fleet, now_ms));
	n = ps_fleet_nodes(&d->fleet, now_ms, ns, PS_FLEET_MAX_CNODES);
	ps_expo_family(f, "penstock_fleet_node_usable", "gauge",
		       "Each Redis the fleet writes to (a Cluster: each master): 1 while it answers "
		       "whole, 0 while its subjects are on local limits only.");
	for (i = 0; i < n; i++) {
		lab[1] = ns[i].node;
		ps_expo_sample(f, "penstock_fleet_node_usable", lab, ns[i].usable);
	}
	ps_expo_family(f, "penstock_fleet_errors_total", "counter",
		       "Errors of the fleet's connections and calls since penstockd started.");
	ps_expo_sample_u64(f, "penstock_fleet_errors_total", NULL, d->fleet.errors);
}

static void read_stats(struct ps_daemon *d, uint64_t st[PS_STAT_MAX])
{
	int fd = bpf_map__fd(d->dp.skel->maps.ps_stats), ncpu = libbpf_num_possible_cpus();
	uint64_t *v = ncpu > 0 ? calloc(ncpu, sizeof(*v)) : NULL;
	uint32_t k;
	int c;

	memset(st, 0, PS_STAT_MAX * sizeof(*st));
	for (k = 0; v && k < PS_STAT_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (c = 0; c < ncpu; c++)
			st[k] += v[c];
	}
	free(v);
}

static void write_labelled(FILE *f, const char *name, const char *type, const char *help,
			   const char *label, const char *const *values, const uint64_t *v, int n)
{
	const char *lab[3] = { label, NULL, NULL };
	int i;

	ps_expo_family(f, name, type, help);
	for (i = 0; i < n; i++) {
		lab[1] = values[i];
		ps_expo_sample_u64(f, name, lab, v[i]);
	}
}

static void write_datapath(FILE *f, struct ps_daemon *d)
{
	uint64_t st[PS_STAT_MAX], v[8];
	struct bpf_map *maps[] = { d->dp.skel->maps.ps_clients, d->dp.skel->maps.ps_flows,
				   d->dp.skel->maps.ps_flows_est, d->dp.skel->maps.ps_ooo,
				   d->dp.skel->maps.ps_enforce };
	long entries[5];
	struct ps_enf_tally tl;
	const char *lab[3] = { "map", NULL, NULL };
	int i, a, o;

	ps_enf_last_tally(&tl);
	entries[0] = d->table.in_map;
	entries[1] = d->flows;
	entries[2] = d->flows_est;
	entries[3] = ps_dp_map_entries(maps[3]);
	entries[4] = 0;
	for (a = 0; a <= PS_ACT_SHAPE; a++)
		for (o = 0; o <= PS_ORIGIN_MINUTE_LIMIT; o++)
			entries[4] += tl.n[a][o];
	ps_expo_family(f, "penstock_map_entries", "gauge",
		       "Entries in the datapath's maps that fill up (ps_clients at the last "
		       "tick, ps_flows and ps_flows_est at the last sweep of idle flows, ps_ooo: the "
		       "out-of-order stash, ps_enforce at the last sweep).");
	for (i = 0; i < 5; i++) {
		lab[1] = bpf_map__name(maps[i]);
		ps_expo_sample(f, "penstock_map_entries", lab, entries[i]);
	}
	ps_expo_family(f, "penstock_map_max_entries", "gauge",
		       "Capacity of the same maps.");
	for (i = 0; i < 5; i++) {
		lab[1] = bpf_map__name(maps[i]);
		ps_expo_sample_u64(f, "penstock_map_max_entries", lab,
				   bpf_map__max_entries(maps[i]));
	}
	ps_expo_family(f, "penstock_client_slots", "gauge",
		       "Client slots: handed out (ever used) and the maximum (max_clients).");
	lab[0] = "state", lab[1] = "handed_out";
	ps_expo_sample_u64(f, "penstock_client_slots", lab, d->tick.next);
	lab[1] = "max";
	ps_expo_sample_u64(f, "penstock_client_slots", lab, d->tick.max);
	ps_expo_family(f, "penstock_client_slots_reclaimed_total", "counter",
		       "Slots of idle clients reclaimed since penstockd started.");
	ps_expo_sample_u64(f, "penstock_client_slots_reclaimed_total", NULL, d->tick.reclaimed);

	read_stats(d, st);
	{
		static const char *const r[] = { "block", "throttle", "ooo_full", "fragment",
						 "no_slot", "flow_busy", "tokens", "urgent" };
		/* stats.throttled counts the token limits' drops too (token_held):
		 * the reasons part them, so that they add up to the drops. */
		uint64_t tok = st[PS_STAT_TOKEN_HELD] < st[PS_STAT_THROTTLED] ?
				       st[PS_STAT_TOKEN_HELD] : st[PS_STAT_THROTTLED];

		v[0] = st[PS_STAT_BLOCKED], v[1] = st[PS_STAT_THROTTLED] - tok;
		v[2] = st[PS_STAT_OOO_DROPPED], v[3] = st[PS_STAT_FRAG_DROPPED];
		v[4] = st[PS_STAT_NO_SLOT_HELD], v[5] = st[PS_STAT_FLOW_BUSY];
		v[6] = tok, v[7] = st[PS_STAT_URGENT_DROPPED];
		write_labelled(f, "penstock_datapath_drops_total", "counter",
			       "Packets the datapath dropped, by reason: a block, a request limit "
			       "(request segments), an out-of-order segment not kept (the stash "
			       "full, or over bytes already held), a first IP "
			       "fragment, a request held with no client slot, a flow busy on "
			       "another CPU, a token limit (request segments), TCP urgent data "
			       "to an endpoint.", "reason", r, v,
			       8);
	}
	{
		static const char *const r[] = { "block", "throttle", "fragment" };

		v[0] = st[PS_STAT_WOULD_BLOCK], v[1] = st[PS_STAT_WOULD_THROTTLE];
		v[2] = st[PS_STAT_WOULD_DROP_FRAG];
		write_labelled(f, "penstock_datapath_would_drop_total", "counter",
			       "Packets a dry run let through that would have been dropped, by "
			       "reason.", "reason", r, v, 3);
	}
	{
		static const char *const r[] = { "not_parsed", "parse_limit", "proxy_bad",
						 "forwarded_bad" };

		v[0] = st[PS_STAT_NOT_PARSED], v[1] = st[PS_STAT_PARSE_LIMIT];
		v[2] = st[PS_STAT_PROXY_BAD], v[3] = st[PS_STAT_FORWARDED_BAD];
		write_labelled(f, "penstock_datapath_parser_errors_total", "counter",
			       "Parser errors: IP packets whose TCP header was not reached, "
			       "segments with more messages than one pass parses, connections "
			       "without a valid PROXY header, forwarded headers with an entry "
			       "that is no address.", "reason", r, v, 4);
	}
	{
		static const char *const r[] = { "flows", "clients", "forwarded" };

		v[0] = st[PS_STAT_FLOW_FULL], v[1] = st[PS_STAT_CLIENT_FULL];
		v[2] = st[PS_STAT_FORWARDED_FULL];
		write_labelled(f, "penstock_datapath_full_total", "counter",
			       "Times a table had no room: a flow, a client's counters, a "
			       "forwarded client that did not fit its segment.", "table", r, v, 3);
	}
	{
		static const char *const r[] = { "all", "endpoint" };

		v[0] = st[PS_STAT_PACKETS], v[1] = st[PS_STAT_ENDPOINT_PACKETS];
		write_labelled(f, "penstock_datapath_packets_total", "counter",
			       "Packets the programs saw: all, and those on an endpoint port.",
			       "kind", r, v, 2);
	}
	{
		static const char *const r[] = { "trusted", "untrusted" };

		v[0] = st[PS_STAT_PROXY], v[1] = st[PS_STAT_PROXY_UNTRUSTED];
		write_labelled(f, "penstock_datapath_proxy_headers_total", "counter",
			       "PROXY headers read, by their peer: a trusted proxy's (believed), "
			       "or another's (not believed).", "peer", r, v, 2);
		v[0] = st[PS_STAT_FORWARDED], v[1] = st[PS_STAT_FORWARDED_UNTRUSTED];
		write_labelled(f, "penstock_datapath_forwarded_requests_total", "counter",
			       "Requests with X-Forwarded-For or Forwarded, by their peer: a "
			       "trusted proxy's (counted to the client the header named), or "
			       "another's (counted to the connection's client).", "peer", r, v,
			       2);
	}
	/* The counters of one figure each: a family a counter. */
	{
		static const struct {
			const char *name, *help;
			enum ps_stat stat;
		} plain[] = {
			{ "penstock_datapath_resyncs_total",
			  "Connections whose stream moved on to what the server "
			  "acknowledged past a hole.",
			  PS_STAT_RESYNC },
			{ "penstock_datapath_ooo_stashed_total",
			  "Out-of-order segments kept in the stash until their hole "
			  "filled.",
			  PS_STAT_OOO_STASHED },
			{ "penstock_datapath_hunted_requests_total",
			  "Requests found on connections seen from their middle, where no "
			  "framing is followed (lines that end like request lines).",
			  PS_STAT_HUNTED },
			{ "penstock_datapath_fragments_total",
			  "IP fragments seen, on any port (only a first fragment shows "
			  "its ports).",
			  PS_STAT_FRAGMENTS },
			{ "penstock_datapath_keyed_requests_total",
			  "Requests counted to their API key.",
			  PS_STAT_KEYED },
			{ "penstock_datapath_h2_unclassified_requests_total",
			  "HTTP/2 requests whose :path could not be read (an HPACK "
			  "dynamic table not followed): counted, not as inference "
			  "requests.",
			  PS_STAT_H2_UNCLASSIFIED },
			{ "penstock_datapath_unpaired_responses_total",
			  "Responses on a connection whose requests name their own "
			  "clients, counted to the connection's client: their request's "
			  "client was not known.",
			  PS_STAT_RESP_UNPAIRED },
			{ "penstock_datapath_h2_connections_lost_total",
			  "HTTP/2 connections whose server frames stopped being followed: "
			  "a hole in the server's stream, bytes not captured, more frames "
			  "than a segment's steps, padding longer than its frame.",
			  PS_STAT_H2_RESP_LOST },
			{ "penstock_datapath_h2_frames_unscanned_total",
			  "HTTP/2 inference streams whose scan for usage was lost: not put "
			  "aside while more than 8 of their connection's were in progress.",
			  PS_STAT_H2_NO_SLOT },
			{ "penstock_datapath_encoded_responses_total",
			  "Answers to inference requests with a Content-Encoding (gzip, "
			  "br, ...; HTTP/2: data that does not start as JSON or an event "
			  "stream does), "
			  "not read: each byte of their body counted as a token of the "
			  "estimate.",
			  PS_STAT_RESP_ENCODED },
			{ "penstock_datapath_grpc_calls_unfollowed_total",
			  "gRPC calls whose client messages stopped being counted: more "
			  "of a connection's calls sending at once than it follows.",
			  PS_STAT_GRPC_NO_SLOT },
			{ "penstock_datapath_h2_key_unknown_requests_total",
			  "HTTP/2 requests on an identity: api_key endpoint that named "
			  "an API key by an HPACK table entry whose key is no longer "
			  "known: counted to their address.",
			  PS_STAT_H2_KEY_UNKNOWN },
			{ "penstock_datapath_h2_forwarded_indexed_requests_total",
			  "HTTP/2 requests on a forwarded_for endpoint, from a trusted "
			  "proxy, whose X-Forwarded-For or Forwarded field came from the "
			  "HPACK dynamic table without its walk kept: counted to the "
			  "connection's client.",
			  PS_STAT_H2_FWD_INDEXED },
			{ "penstock_datapath_h2_refused_requests_total",
			  "HTTP/2 requests over their client's limit, or blocked, on a "
			  "connection from a trusted proxy, refused in place (their "
			  ":method POST made GET) so that the other clients' streams on "
			  "the connection are not held.",
			  PS_STAT_H2_REFUSED },
		};
		size_t k;

		for (k = 0; k < sizeof(plain) / sizeof(plain[0]); k++) {
			ps_expo_family(f, plain[k].name, "counter", plain[k].help);
			ps_expo_sample_u64(f, plain[k].name, NULL, st[plain[k].stat]);
		}
	}
}

/* Resident memory, bytes, or 0. */
static uint64_t rss_bytes(void)
{
	unsigned long size, res;
	FILE *f = fopen("/proc/self/statm", "r");
	int ok;

	if (!f)
		return 0;
	ok = fscanf(f, "%lu %lu", &size, &res) == 2;
	fclose(f);
	return ok ? (uint64_t)res * sysconf(_SC_PAGESIZE) : 0;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static struct ps_metrics *open_server(const char *listen_at, char *err, size_t errlen)
{
	struct ps_metrics *m = ps_metrics_bind(listen_at, err, errlen);

	if (m && ps_metrics_serve(m, err, errlen)) {
		ps_metrics_close(m);
		m = NULL;
		errno = EIO;
	}
	return m;
}

/*
 * The address in use (a daemon that is still exiting while the next one
 * starts, an upgrade): try again at each tick until it is free, saying so
 * once.
 */
static void retry_server(struct ps_daemon *d)
{
	char err[256];

	if (d->metrics || !d->cfg.metrics.enabled)
		return;
	d->metrics = open_server(d->cfg.metrics.listen, err, sizeof(err));
	if (d->metrics)
		pr_info("penstockd: metrics on http://%s/metrics\n", d->cfg.metrics.listen);
}

void ps_scrape_render(struct ps_daemon *d)
{
	struct ps_scrape *s = d->scrape;
	uint64_t t0 = thread_cpu_ns(), now_ms = ps_wall_ms();
	const char *lab[3] = { "version", PS_VERSION, NULL };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!s)
		return;
	ps_scrape_observe(d);
	retry_server(d);
	if (!d->metrics)
		return;
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	ps_expo_family(f, "penstock_build_info", "gauge", "penstockd's version; always 1.");
	ps_expo_sample(f, "penstock_build_info", lab, 1);
	if (!write_clients(f, d, s, now_ms)) {
		/* (a reload meanwhile: the last text stays until the next tick's) */
		fclose(f);
		free(buf);
		return;
	}
	write_endpoints(f, d);
	write_enforcement(f);
	write_alerts(f, s);
	write_datapath(f, d);
	write_fleet(f, d, now_ms);
	ps_expo_family(f, "penstock_tick_duration_seconds", "histogram",
		       "CPU time of each tick's read and fold of the client counters (penstock "
		       "status: tick).");
	ps_expo_hist_write(f, "penstock_tick_duration_seconds", &s->tick);
	ps_expo_family(f, "penstock_detection_duration_seconds", "histogram",
		       "CPU time of each detection pass.");
	ps_expo_hist_write(f, "penstock_detection_duration_seconds", &s->detect);
	ps_expo_family(f, "penstock_metrics_render_seconds", "gauge",
		       "CPU time the loop took to render the previous metrics text.");
	ps_expo_sample(f, "penstock_metrics_render_seconds", NULL, s->render_ns / 1e9);
	ps_expo_family(f, "penstock_reloads_total", "counter",
		       "Configurations put in force by a reload since penstockd started.");
	ps_expo_sample_u64(f, "penstock_reloads_total", NULL, d->reloads);
	ps_expo_family(f, "process_start_time_seconds", "gauge",
		       "Start time of the process since the Unix epoch, in seconds.");
	ps_expo_sample(f, "process_start_time_seconds", NULL, d->started_ms / 1000);
	ps_expo_family(f, "process_resident_memory_bytes", "gauge",
		       "Resident memory size, in bytes.");
	ps_expo_sample_u64(f, "process_resident_memory_bytes", NULL, rss_bytes());
	if (fclose(f) || !buf) {
		free(buf);
		return;
	}
	ps_metrics_publish(d->metrics, buf, len);
	s->render_ns = thread_cpu_ns() - t0;
}

int ps_scrape_start(struct ps_daemon *d, char *err, size_t errlen)
{
	struct ps_metrics *m;

	if (!d->cfg.metrics.enabled)
		return 0;
	m = open_server(d->cfg.metrics.listen, err, errlen);
	if (!m && errno == EADDRINUSE) {
		pr_warn("penstockd: %s; trying again every second\n", err);
		return 0;
	}
	if (!m)
		return -EADDRNOTAVAIL;
	d->metrics = m;
	ps_scrape_render(d);
	pr_info("penstockd: metrics on http://%s/metrics\n", d->cfg.metrics.listen);
	return 0;
}

/*
 * A reload's metrics, in two steps so that a reload refused for another
 * reason leaves the server as it was: prepare opens the new server (the
 * old one stays, unless both want the same port), commit puts it in
 * force, abort goes back to the old one.
 */
int ps_scrape_prepare(struct ps_daemon *d, const struct ps_config *ncfg, char *err,
		      size_t errlen)
{
	d->metrics_next = NULL;
	d->metrics_change = false;
	if (ncfg->metrics.enabled == d->cfg.metrics.enabled &&
	    (!ncfg->metrics.enabled || !strcmp(ncfg->metrics.listen, d->cfg.metrics.listen)))
		return 0;
	d->metrics_change = true;
	if (!ncfg->metrics.enabled)
		return 0;
	d->metrics_next = open_server(ncfg->metrics.listen, err, errlen);
	if (!d->metrics_next && errno == EADDRINUSE && d->metrics) {
		/* The same port, spelled otherwise (0.0.0.0 over 127.0.0.1): free it. */
		ps_metrics_close(d->metrics);
		d->metrics = NULL;
		d->metrics_next = open_server(ncfg->metrics.listen, err, errlen);
		if (!d->metrics_next) {
			char e2[256];

			d->metrics = open_server(d->cfg.metrics.listen, e2, sizeof(e2));
			if (!d->metrics)
				pr_warn("penstockd: metrics stay off: %s\n", e2);
		}
	}
	if (!d->metrics_next) {
		d->metrics_change = false;
		return -EADDRNOTAVAIL;
	}
	return 0;
}

void ps_scrape_commit(struct ps_daemon *d)
{
	if (!d->metrics_change)
		return;
	ps_metrics_close(d->metrics);
	d->metrics = d->metrics_next;
	d->metrics_next = NULL;
	d->metrics_change = false;
	if (d->metrics)
		pr_info("penstockd: metrics on http://%s/metrics\n", ps_metrics_listen(d->metrics));
	else
		pr_info("penstockd: metrics off\n");
}

void ps_scrape_abort(struct ps_daemon *d)
{
	ps_metrics_close(d->metrics_next);
	d->metrics_next = NULL;
	d->metrics_change = false;
	if (!d->metrics && d->cfg.metrics.enabled) {
		char e2[256];

		d->metrics = open_server(d->cfg.metrics.listen, e2, sizeof(e2));
		if (!d->metrics)
			pr_warn("penstockd: metrics stay off: %s\n", e2);
	}
}

void ps_scrape_stop(struct ps_daemon *d)
{
	ps_metrics_close(d->metrics);
	d->metrics = NULL;
}
