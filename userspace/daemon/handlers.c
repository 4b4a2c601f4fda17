// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control requests, dispatched from a table: one check and one run
 * per command of ps_cmds (common/protocol.h), here or in
 * handlers_status.c and handlers_enforce.c. The counts a client is asked
 * for come from the client table (count/clients.c), as of the last tick.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/clock.h"
#include "common/units.h"
#include "count/keyaddrs.h"
#include "daemon/handlers.h"
#include "penstock.skel.h"

static json_t *view_json(const struct ps_ctable *t, const struct ps_crec *r, enum ps_window w,
			 uint64_t now_ms, bool with_client)
{
	char addr[INET6_ADDRSTRLEN], ts[32];
	struct ps_cview v;
	json_t *o = json_object();
	int f;

	ps_crec_view(t, r, w, now_ms, &v);
	if (with_client)
		json_object_set_new(o, "client", json_string(ps_client_str(&r->key, addr,
									   sizeof(addr))));
	for (f = 0; f < PS_NFIELDS; f++) {
		if (w != PS_WIN_TOTAL && !ps_field_windowed(f))
			continue;	/* connections, packets, tx_events */
		json_object_set_new(o, ps_field_names[f], json_integer((json_int_t)llround(v.v[f])));
	}
	json_object_set_new(o, PS_RPM_NAME, json_real(round(v.rpm * 100.0) / 100.0));
	if (with_client) {
		json_object_set_new(o, "first_seen", json_string(ps_rfc3339(r->first_wall, ts,
									  sizeof(ts))));
		json_object_set_new(o, "last_seen", json_string(ps_rfc3339(r->last_wall, ts,
									 sizeof(ts))));
	}
	return o;
}

static int check_clients(json_t *req, FILE *out, struct ps_ask *a)
{
	const char *ws = ps_window_names[PS_WIN_TOTAL], *ss = ps_sort_names[PS_SORT_REQUESTS];
	char list[128];
	json_int_t limit = 0;
	int win, sort;

	if (json_unpack(req, "{s?s, s?s, s?I}", ps_args[PS_ARG_WINDOW].name, &ws,
			ps_args[PS_ARG_SORT].name, &ss, ps_args[PS_ARG_LIMIT].name, &limit)) {
		ps_control_error(out, "clients: window and sort are strings, limit a number");
		return -1;
	}
	win = ps_name_find(ps_window_names, ws);
	sort = ps_name_find(ps_sort_names, ss);
	if (win < 0) {
		ps_control_error(out, "unknown window '%s': %s", ws,
				 ps_names_str(ps_window_names, list, sizeof(list)));
		return -1;
	}
	if (sort < 0) {
		ps_control_error(out, "unknown sort key '%s': %s", ss,
				 ps_names_str(ps_sort_names, list, sizeof(list)));
		return -1;
	}
	if (!ps_arg_in_range(PS_ARG_LIMIT, limit)) {
		ps_control_error(out, "limit must be 0 (all) to %lld", ps_args[PS_ARG_LIMIT].max);
		return -1;
	}
	a->window = win;
	a->sort = sort;
	a->limit = (uint32_t)limit;
	return 0;
}

static void run_clients(struct ps_daemon *d, const struct ps_ask *a, FILE *out)
{
	uint64_t now = ps_wall_ms();
	uint32_t *idx;
	int n, i;

	n = ps_ctable_top(&d->table, a->window, a->sort, a->limit, now, &idx);
	if (n < 0) {
		ps_control_error(out, "out of memory");
		return;
	}
	fprintf(out, "{\"ok\":true,\"window\":\"%s\",\"sort\":\"%s\",\"total_clients\":%u,"
		     "\"clients\":[",
		ps_window_names[a->window], ps_sort_names[a->sort], d->table.n);
	for (i = 0; i < n; i++) {
		json_t *o = view_json(&d->table, &d->table.rec[idx[i]], a->window, now, true);

		if (i)
			fputc(',', out);
		json_dumpf(o, out, PS_JSON_DUMP);
		json_decref(o);
	}
	fputs("]}", out);
	free(idx);
}

static int parse_addr(const char *s, struct ps_client_key *k)
{
	struct ps_prefix p;
	char err[128];

	memset(k, 0, sizeof(*k));
	if (!strncmp(s, "key:", 4)) {
		if (ps_parse_subject(s, &p, err, sizeof(err)))
			return -EINVAL;
		k->family = PS_AF_KEY;
		memcpy(&k->addr, p.addr, sizeof(k->addr));
		return 0;
	}
	if (inet_pton(AF_INET, s, &k->addr) == 1) {
		k->family = PS_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &k->addr) == 1) {
		k->family = PS_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/*
 * A token limit's state in a slot: the limit and its burst, the tokens
 * the client may still take at once, and how long a request of its would
 * be held back now (0: let in). tat and now on the programs' clock.
 */
static json_t *token_json(uint64_t tat, uint64_t now, uint64_t budget, uint64_t burst,
			  double period_ns)
{
	double per = period_ns / (double)budget, tau = per * (double)burst;
	double ahead = tat > now ? (double)(tat - now) : 0;
	double avail = ahead < tau ? floor((tau - ahead) / per) : 0;

	return json_pack("{s:I, s:I, s:I, s:I}", "limit", (json_int_t)budget, "burst",
			 (json_int_t)burst, "available", (json_int_t)avail, "held_for_ms",
			 (json_int_t)(ahead > tau ? ceil((ahead - tau) / 1e6) : 0));
}

/* The token limits of a client's class, as they stand in its slot. */
static json_t *tokens_json(struct ps_daemon *d, const struct ps_client_key *key,
			   const struct ps_client_ctr *ctr)
{
	uint64_t now = ps_boot_now(NULL);
	struct ps_limits l;

	ps_limits_resolve(&d->cfg, ps_config_class_of(&d->cfg, key), &l);
	return json_pack(
		"{s:o, s:o, s:o}", "minute",
		l.tokens_per_minute == PS_LIMIT_UNSET ?
			json_null() :
			token_json(ctr->tpm_tat, now, l.tokens_per_minute,
				   l.token_burst != PS_LIMIT_UNSET ? l.token_burst :
								     l.tokens_per_minute,
				   60e9),
		"day",
		l.tokens_per_day == PS_LIMIT_UNSET ?
			json_null() :
			token_json(ctr->tpd_tat, now, l.tokens_per_day, l.tokens_per_day, 86400e9),
		"reserve",
		l.token_reserve == PS_LIMIT_UNSET ||
				(l.tokens_per_minute == PS_LIMIT_UNSET &&
				 l.tokens_per_day == PS_LIMIT_UNSET) ?
			json_null() :
			json_integer((json_int_t)l.token_reserve));
}

/*
 * What the programs count for a client's current slot only: enforcement
 * counters since the client got the slot, and its token limits' state
 * (null when it has no slot).
 */
static json_t *slot_json(struct ps_daemon *d, const struct ps_client_key *key)
{
	struct ps_client_slot v;
	struct ps_client_ctr ctr;
	json_t *o;

	if (bpf_map_lookup_elem(bpf_map__fd(d->dp.skel->maps.ps_clients), key, &v) ||
	    bpf_map_lookup_elem(bpf_map__fd(d->dp.skel->maps.ps_client_ctrs), &v.slot, &ctr))
		return json_null();
	o = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "slot", v.slot,
		      "throttled_requests", (json_int_t)ctr.throttled_requests,
		      "would_throttle", (json_int_t)ctr.would_throttle, "blocked_packets",
		      (json_int_t)ctr.blocked_packets, "would_block", (json_int_t)ctr.would_block,
		      "open_connections", (json_int_t)ctr.open_connections, "refused_connections",
		      (json_int_t)ctr.refused_connections, "would_refuse",
		      (json_int_t)ctr.would_refuse, "dropped_fragments",
		      (json_int_t)ctr.dropped_fragments, "token_held", (json_int_t)ctr.token_held,
		      "token_would_throttle", (json_int_t)ctr.token_would_throttle);
	if (o)
		json_object_set_new(o, "tokens", tokens_json(d, key, &ctr));
	return o ? o : json_null();
}

static int check_client(json_t *req, FILE *out, struct ps_ask *a)
{
	const char *addr = json_string_value(ps_request_get(req, PS_ARG_ADDR));

	if (!addr) {
		ps_control_error(out, "client: give \"addr\"");
		return -1;
	}
	if (parse_addr(addr, &a->addr)) {
		ps_control_error(out, "'%s' is not an IPv4 or IPv6 address", addr);
		return -1;
	}
	return 0;
}

static void run_client(struct ps_daemon *d, const struct ps_ask *a, FILE *out)
{
	char buf[INET6_ADDRSTRLEN], ts[32], ts2[32];
	const struct ps_crec *r;
	uint64_t now = ps_wall_ms();
	json_t *wins, *o;
	bool in_map;
	int w;

	r = ps_ctable_find(&d->table, &a->addr);
	/* Asked in the middle of a tick: in the map if it was at the last one. */
	in_map = r && (ps_crec_seen_at(r, d->table.gen) ||
		       (d->table.folding && ps_crec_seen_at(r, d->table.gen - 1)));
	if (!r) {
		ps_control_error(out, "no client %s", ps_client_str(&a->addr, buf, sizeof(buf)));
		return;
	}
	wins = json_object();
	for (w = 0; w <= PS_WIN_TOTAL; w++)
		json_object_set_new(wins, ps_window_names[w], view_json(&d->table, r, w, now, false));
	o = json_pack("{s:b, s:s, s:s, s:s, s:b, s:o}", "ok", 1, "client",
		      ps_client_str(&r->key, buf, sizeof(buf)), "first_seen",
		      ps_rfc3339(r->first_wall, ts, sizeof(ts)), "last_seen",
		      ps_rfc3339(r->last_wall, ts2, sizeof(ts2)), "in_map", in_map,
		      "windows", wins);
	if (o) {
		json_t *kp;

		json_object_set_new(o, "slot", slot_json(d, &r->key));
		/* A key's addresses, an address's keys (API keys). */
		kp = ps_kpairs_of(bpf_map__fd(d->dp.skel->maps.ps_key_addrs), &r->key,
				  PS_KPAIRS_SHOWN, ps_boot_now(NULL));
		if (kp)
			json_object_set_new(o, r->key.family == PS_AF_KEY ? "addresses" : "keys", kp);
	}
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}

static void run_endpoints(struct ps_daemon *d, const struct ps_ask *a, FILE *out)
{
	json_t *eps = json_array(), *o;
	int i, j;

	(void)a;
	for (i = 0; i < d->cfg.nendpoints; i++) {
		const struct ps_endpoint_cfg *e = &d->cfg.endpoints[i];
		json_t *paths = json_array();

		for (j = 0; j < e->npaths; j++)
			json_array_append_new(paths, json_string(e->paths[j]));
		json_array_append_new(eps, json_pack("{s:s, s:i, s:o}", "name", e->name, "port",
						     e->port, "paths", paths));
	}
	o = json_pack("{s:b, s:o}", "ok", 1, "endpoints", eps);
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}

/* {"cmd":"alerts","since_s":N}: the alerts kept in memory, newest last. */
static int check_alerts(json_t *req, FILE *out, struct ps_ask *a)
{
	json_t *since = ps_request_get(req, PS_ARG_SINCE_S);
	json_int_t s = json_integer_value(since);

	if (since && (!json_is_integer(since) || !ps_arg_in_range(PS_ARG_SINCE_S, s))) {
		ps_control_error(out,
				 "alerts: since_s is seconds, %lld..%lld (0: every alert kept)",
				 ps_args[PS_ARG_SINCE_S].min, ps_args[PS_ARG_SINCE_S].max);
		return -1;
	}
	a->since_s = s;
	return 0;
}

static void run_alerts(struct ps_daemon *d, const struct ps_ask *a, FILE *out)
{
	json_t *list, *o;

	list = ps_alerts_list(d->alerts, a->since_s ? ps_wall_ms() - a->since_s * 1000 : 0);
	o = json_pack("{s:b}", "ok", 1);
	if (!list || !o || json_object_update(o, list)) {
		ps_control_error(out, "out of memory");
	} else {
		json_dumpf(o, out, PS_JSON_DUMP);
	}
	json_decref(list);
	json_decref(o);
}

static void run_reload(struct ps_daemon *d, const struct ps_ask *a, FILE *out)
{
	char err[4200];
	json_t *o;

	(void)a;
	if (ps_daemon_reload(d, err, sizeof(err))) {
		ps_control_error(out, "%s", err);
		return;
	}
	o = json_pack("{s:b, s:s}", "ok", 1, "config", d->config_path);
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}

static int check_stop(json_t *req, FILE *out, struct ps_ask *a)
{
	json_t *keep = ps_request_get(req, PS_ARG_KEEP_DATAPATH);

	if (keep && !json_is_boolean(keep)) {
		ps_control_error(out, "stop: keep_datapath is true or false");
		return -1;
	}
	a->keep_datapath = json_is_true(keep);
	return 0;
}

static void run_stop(struct ps_daemon *d, const struct ps_ask *a, FILE *out)
{
	d->keep_datapath = d->keep_datapath || a->keep_datapath;
	d->stop = true;
	fputs("{\"ok\":true}", out);
}

/*
 * Each command's check (NULL: it takes no members) and run, in ps_cmds'
 * order, and whether the run reads or changes the datapath.
 */
static const struct {
	int (*check)(json_t *req, FILE *out, struct ps_ask *a);
	void (*run)(struct ps_daemon *d, const struct ps_ask *a, FILE *out);
	bool datapath;
} handlers[PS_NCMDS] = {
	[PS_CMD_STATUS] = { NULL, ps_run_status, true },
	[PS_CMD_CLIENTS] = { check_clients, run_clients, false },
	[PS_CMD_CLIENT] = { check_client, run_client, true },	/* the client's slot */
	[PS_CMD_ENDPOINTS] = { NULL, run_endpoints, false },
	[PS_CMD_RELOAD] = { NULL, run_reload, true },
	[PS_CMD_STOP] = { check_stop, run_stop, false },
	[PS_CMD_BLOCK] = { ps_check_block, ps_run_set, true },
	[PS_CMD_THROTTLE] = { ps_check_throttle, ps_run_set, true },
	[PS_CMD_UNBLOCK] = { ps_check_unblock, ps_run_unblock, true },
	[PS_CMD_ENFORCEMENT] = { NULL, ps_run_enforcement, true },
	[PS_CMD_ALERTS] = { check_alerts, run_alerts, false },
};

int ps_daemon_check(json_t *req, FILE *out, struct ps_ask *a)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	int c = cmd ? ps_cmd_find(cmd) : -1;

	memset(a, 0, sizeof(*a));
	if (!cmd) {
		ps_control_error(out, "bad request: no \"cmd\"");
		return -1;
	}
	if (c < 0 || !handlers[c].run) {
		ps_control_error(out, "unknown command '%s'", cmd);
		return -1;
	}
	a->cmd = c;
	return handlers[c].check ? handlers[c].check(req, out, a) : 0;
}

bool ps_daemon_uses_datapath(enum ps_cmd cmd)
{
	return handlers[cmd].datapath;
}

void ps_daemon_answer(struct ps_daemon *d, const struct ps_ask *a, FILE *out)
{
	handlers[a->cmd].run(d, a, out);
}

void ps_daemon_handle(json_t *req, FILE *out, void *ctx)
{
	struct ps_ask a;

	if (!ps_daemon_check(req, out, &a))
		ps_daemon_answer(ctx, &a, out);
}
