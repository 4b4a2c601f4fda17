// SPDX-License-Identifier: GPL-2.0-only
/*
 * The commands that ask penstockd what it counts and tell it what to do:
 * status, clients, client, endpoints, reload and stop.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/format.h"
#include "cli/opts.h"
#include "common/units.h"
#include "penstock_abi.h"

/* --- status --------------------------------------------------------------- */

static const char status_usage[] =
	"usage: penstock status [--socket PATH] [--json]\n"
	"\n"
	"What penstockd is doing: its process, configuration and files, the\n"
	"interfaces it is attached to, its BPF programs and maps, the cost of its\n"
	"read-and-aggregate tick, how many clients it holds, and each endpoint's\n"
	"totals (connections, requests, packets, bytes) since its datapath started.\n"
	"\n"
	PS_SOCKET_HELP
	PS_JSON_HELP
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock status\n"
	"  penstock status --json | jq .maps\n"
	"  penstock status --json | jq '.endpoints[] | {name, requests}'\n"
	"\n"
	PS_EXIT_HELP;

const struct ps_cmd_opts ps_cmd_status_opts = {
	"status", status_usage, PS_OPTS_SOCKET | PS_OPTS_JSON, NULL,
};

static const char *yes_no(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : "-";
}

/* The daemon's lines: process, files, tick, clients, detection. */
static void print_daemon(json_t *ans)
{
	json_t *d = json_object_get(ans, "daemon"), *tick = json_object_get(ans, "tick");
	json_t *cl = json_object_get(ans, "clients"), *v;
	char a[64], b[64], dur[64], ifc[64], sub[64];

	printf("penstockd   pid %s, version %s, up %s (since %s)\n",
	       ps_fmt_count(json_object_get(d, "pid"), a, sizeof(a)), ps_str_or(d, "version", "-"),
	       json_is_number(json_object_get(d, "uptime_s"))
		       ? ps_fmt_duration((long long)ps_json_num(d, "uptime_s"), dur, sizeof(dur))
		       : "-",
	       ps_str_or(d, "started", "-"));
	printf("config      %s\n", ps_str_or(d, "config", "-"));
	printf("socket      %s\n", ps_str_or(d, "socket", "-"));
	printf("pin dir     %s%s%s\n", ps_str_or(d, "pin_dir", "-"),
	       json_is_true(json_object_get(d, "adopted"))
		       ? " (datapath adopted from the previous penstockd"
		       : "",
	       !json_is_true(json_object_get(d, "adopted")) ? ""
	       : !strcmp(ps_str_or(d, "adopted_from", ""), "programs")
		       ? ", its maps found through its programs)"
		       : ")");
	if (*ps_str_or(d, "state_file", ""))
		printf("state file  %s (last saved %s)\n", ps_str_or(d, "state_file", "-"),
		       ps_str_or(d, "last_save", "never"));
	else
		printf("state file  none\n");
	if (tick)
		printf("tick        last %.1f ms, avg %.1f ms, max %.1f ms "
		       "(%s ticks, every %s ms)\n",
		       ps_json_num(tick, "last_ms"), ps_json_num(tick, "avg_ms"),
		       ps_json_num(tick, "max_ms"),
		       ps_fmt_count(json_object_get(tick, "count"), a, sizeof(a)),
		       ps_fmt_count(json_object_get(tick, "interval_ms"), b, sizeof(b)));
	printf("clients     %s tracked, %s in map",
	       ps_fmt_count(json_object_get(cl, "tracked"), a, sizeof(a)),
	       ps_fmt_count(json_object_get(cl, "in_map"), b, sizeof(b)));
	/* A burst of new clients the ticks are still taking in (count/tick.c). */
	if (ps_json_num(cl, "unfolded") > 0)
		printf(", %s left for the next ticks",
		       ps_fmt_count(json_object_get(cl, "unfolded"), a, sizeof(a)));
	printf("\n");
	v = json_object_get(ans, "detection");
	if (json_is_object(v) && !json_is_true(json_object_get(v, "enabled")))
		printf("detection   off\n");
	else if (json_is_object(v))
		printf("detection   %s runs, %s steps taken, %s subjects in escalation "
		       "(%s dropped), last pass %.1f ms (max %.1f ms) over %s clients\n",
		       ps_fmt_count(json_object_get(v, "runs"), a, sizeof(a)),
		       ps_fmt_count(json_object_get(v, "steps_taken"), b, sizeof(b)),
		       ps_fmt_count(json_object_get(v, "subjects"), dur, sizeof(dur)),
		       ps_fmt_count(json_object_get(v, "subjects_dropped"), ifc, sizeof(ifc)),
		       ps_json_num(v, "last_ms"), ps_json_num(v, "max_ms"),
		       ps_fmt_count(json_object_get(v, "clients_judged"), sub, sizeof(sub)));
}

static void interface_row(struct ps_tbl *t, json_t *e)
{
	json_t *v = json_object_get(e, "created_clsact");
	char a[64];

	ps_tbl_add(t, ps_str_or(e, "name", "-"));
	ps_tbl_add(t, ps_fmt_count(json_object_get(e, "ifindex"), a, sizeof(a)));
	ps_tbl_add(t, yes_no(e, "ingress"));
	ps_tbl_add(t, yes_no(e, "egress"));
	ps_tbl_add(t, !json_is_boolean(v) ? "-"
		   : json_is_true(v)   ? "created by penstockd"
				       : "already there");
}

static void program_row(struct ps_tbl *t, json_t *e)
{
	char a[64];

	ps_tbl_add(t, ps_str_or(e, "name", "-"));
	ps_tbl_add(t, ps_fmt_count(json_object_get(e, "id"), a, sizeof(a)));
	ps_tbl_add(t, ps_fmt_count(json_object_get(e, "verified_insns"), a, sizeof(a)));
	ps_tbl_add(t, ps_str_or(e, "tag", "-"));
	ps_tbl_add(t, json_is_true(json_object_get(e, "kept")) ? "kept (adopted)" : "by this daemon");
}

static void map_row(struct ps_tbl *t, json_t *e)
{
	json_t *n = json_object_get(e, "entries");
	double max = ps_json_num(e, "max_entries");
	char a[64];

	ps_tbl_add(t, ps_str_or(e, "name", "-"));
	ps_tbl_add(t, ps_fmt_count(n, a, sizeof(a)));
	ps_tbl_add(t, ps_fmt_count(json_object_get(e, "max_entries"), a, sizeof(a)));
	if (json_is_number(n) && max > 0)
		snprintf(a, sizeof(a), "%.1f%%", 100.0 * json_number_value(n) / max);
	else
		snprintf(a, sizeof(a), "-");
	ps_tbl_add(t, a);
}

/* An endpoint's totals since its datapath started counting. */
static void endpoint_total_row(struct ps_tbl *t, json_t *e)
{
	static const char *const counts[] = { "port", "connections", "requests",
					      "inference_requests", "rx_packets", "tx_packets",
					      "rx_bytes", "tx_bytes", "throttled_requests" };
	char a[64];
	size_t i;

	ps_tbl_add(t, ps_str_or(e, "name", "-"));
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		ps_tbl_add(t, ps_fmt_count(json_object_get(e, counts[i]), a, sizeof(a)));
}

/* A Cluster's masters: each one's slots and state; those down are this host's alone. */
static void print_cluster(json_t *cl)
{
	json_t *nodes = json_object_get(cl, "nodes"), *n;
	size_t i;

	if (!cl)
		return;
	printf("  cluster: %zu masters, %.0f down%s; %.0f MOVED, %.0f ASK, %.0f slot maps\n",
	       json_array_size(nodes), ps_json_num(cl, "nodes_down"),
	       ps_json_num(cl, "nodes_down") > 0 ? " (LOCAL LIMITS ONLY for the subjects of their slots)" : "",
	       ps_json_num(cl, "moved"), ps_json_num(cl, "asked"), ps_json_num(cl, "maps"));
	json_array_foreach(nodes, i, n)
		printf("    %s: %s, %.0f slots%s%s\n", ps_str_or(n, "node", "-"),
		       json_is_true(json_object_get(n, "usable")) ? "up" : "DOWN: local limits only",
		       ps_json_num(n, "slots"), *ps_str_or(n, "last_error", "") ? ", last: " : "",
		       ps_str_or(n, "last_error", ""));
}

/* The fleet's line: off, or its state, its Redis and the last push. */
static void print_fleet(json_t *fl)
{
	json_t *lp = json_object_get(fl, "last_push"), *ago = json_object_get(fl, "answered_ms_ago");
	const char *state = ps_str_or(fl, "state", "off");

	if (!fl || !strcmp(state, "off"))
		return;
	printf("fleet: %s, %s as %s in %s; %s", state, ps_str_or(fl, "redis", "-"),
	       ps_str_or(fl, "host_id", "-"), ps_str_or(fl, "name", "-"),
	       json_is_true(json_object_get(fl, "usable")) ? "fleet limits in force" :
							     "LOCAL LIMITS ONLY (no fresh answer)");
	if (json_is_number(ago))
		printf(", answered %.1f s ago", json_number_value(ago) / 1000.0);
	printf("\n  last push: %.0f subjects, %.0f written, %.0f commands, %.0f bytes; "
	       "%.0f entries; %.0f connects, %.0f errors%s%s\n",
	       ps_json_num(lp, "subjects"), ps_json_num(lp, "writes"), ps_json_num(lp, "commands"),
	       ps_json_num(lp, "bytes"), ps_json_num(fl, "entries"), ps_json_num(fl, "connects"),
	       ps_json_num(fl, "errors"), *ps_str_or(fl, "last_error", "") ? ", last: " : "",
	       ps_str_or(fl, "last_error", ""));
	print_cluster(json_object_get(fl, "cluster"));
}

static int print_status(json_t *ans)
{
	static const struct ps_tbl_col ifcols[] = {
		{ "INTERFACE", 0, true }, { "IFINDEX", 0, false }, { "INGRESS", 0, true },
		{ "EGRESS", 0, true }, { "CLSACT", 0, true },
	};
	static const struct ps_tbl_col progcols[] = {
		{ "PROGRAM", 0, true }, { "ID", 0, false }, { "VERIFIED_INSNS", 0, false },
		{ "TAG", 0, true }, { "LOADED", 0, true },
	};
	static const struct ps_tbl_col mapcols[] = {
		{ "MAP", 0, true }, { "ENTRIES", 0, false }, { "MAX_ENTRIES", 0, false },
		{ "FILL", 6, false },
	};
	static const struct ps_tbl_col epcols[] = {
		{ "ENDPOINT", 0, true }, { "PORT", 5, false }, { "CONNS", 0, false },
		{ "REQUESTS", 0, false }, { "INFERENCE", 0, false }, { "RX_PKTS", 0, false },
		{ "TX_PKTS", 0, false }, { "RX_BYTES", 0, false }, { "TX_BYTES", 0, false },
		{ "THROTTLED", 0, false },
	};
	json_t *ifs = json_object_get(ans, "interfaces");

	print_daemon(ans);
	print_fleet(json_object_get(ans, "fleet"));
	putchar('\n');
	if (!json_array_size(ifs))
		printf("no interface: penstockd is attached nowhere\n");
	else
		ps_tbl_rows(stdout, ifcols, 5, ifs, interface_row);
	putchar('\n');
	ps_tbl_rows(stdout, progcols, 5, json_object_get(ans, "programs"), program_row);
	putchar('\n');
	ps_tbl_rows(stdout, mapcols, 4, json_object_get(ans, "maps"), map_row);
	if (json_array_size(json_object_get(ans, "endpoints"))) {
		putchar('\n');
		ps_tbl_rows(stdout, epcols, 10, json_object_get(ans, "endpoints"),
			    endpoint_total_row);
	}
	return 0;
}

int ps_cmd_status(int argc, char **argv)
{
	return ps_ctl_show(&ps_cmd_status_opts, argc, argv, PS_CMD_STATUS, print_status);
}

/* --- clients -------------------------------------------------------------- */

static const char clients_usage[] =
	"usage: penstock clients [--sort KEY] [--window W] [--limit N] [--socket PATH] [--json]\n"
	"\n"
	"Per-client counts from penstockd, largest first. A window's figures are\n"
	"sliding: the current bucket plus the part of the previous one still inside\n"
	"the window. RPM is inference requests per minute over the window.\n"
	"\n"
	"  -o, --sort KEY     requests (default), inference_requests, rx_bytes,\n"
	"                     tx_bytes, tx_payload, tx_tokens, rx_tokens or rpm;\n"
	"                     descending, ties by address\n"
	"  -w, --window W     1m, 1h, 24h or total (default); total adds CONNS,\n"
	"                     RX_PKTS, TX_PKTS and TX_EVENTS\n"
	"  -n, --limit N      the first N clients only (default 0: all)\n"
	PS_SOCKET_HELP
	"  -j, --json         print {\"window\":..,\"sort\":..,\"total_clients\":..,\n"
	"                     \"clients\":[...]} (the fields of penstock replay --json,\n"
	"                     plus rpm, first_seen, last_seen)\n"
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock clients\n"
	"  penstock clients --window 1m --sort rpm --limit 10\n"
	"  penstock clients --window 24h --sort tx_payload --json\n"
	"  penstock clients --window 1h --sort tx_tokens --limit 10\n"
	"\n"
	PS_EXIT_HELP;

struct clients_opts {
	struct ps_opts_common c;
	const char *sort, *window;
	uint64_t limit;
};

const struct ps_cmd_opts ps_cmd_clients_opts = {
	"clients", clients_usage, PS_OPTS_SOCKET | PS_OPTS_JSON,
	(const struct ps_opt[]){
		PS_OPT_SORT(struct clients_opts, sort),
		PS_OPT_WINDOW(struct clients_opts, window),
		{ .name = "limit", .key = 'n', .type = PS_OPT_UINT, .min = 0, .max = INT32_MAX,
		  .expect = "a number of clients, 0 for all",
		  .off = offsetof(struct clients_opts, limit) },
		{},
	},
};

/* Columns of the clients table, by the JSON member each shows. */
struct field {
	const char *key;
	const char *head;
	int minw;
	bool total_only;	/* present in the total window only */
	bool decimal;		/* one decimal (rpm) */
};

static const struct field client_fields[] = {
	{ "connections", "CONNS", 6, true, false },
	{ "requests", "REQUESTS", 8, false, false },
	{ "inference_requests", "INFERENCE", 9, false, false },
	{ PS_RPM_NAME, "RPM", 7, false, true },
	{ "rx_packets", "RX_PKTS", 10, true, false },
	{ "tx_packets", "TX_PKTS", 10, true, false },
	{ "rx_bytes", "RX_BYTES", 12, false, false },
	{ "tx_bytes", "TX_BYTES", 12, false, false },
	{ "rx_payload", "RX_PAYLOAD", 12, false, false },
	{ "tx_payload", "TX_PAYLOAD", 12, false, false },
	{ "tx_events", "TX_EVENTS", 10, true, false },
	{ "tx_tokens", "TX_TOKENS", 10, false, false },
	{ "rx_tokens", "RX_TOKENS", 10, false, false },
	{ "tx_tokens_estimated", "TX_TOK_EST", 10, false, false },
	{ "rx_messages", "RX_MSGS", 10, false, false },
	{ "tx_messages", "TX_MSGS", 10, false, false },
};

#define NFIELDS ((int)(sizeof(client_fields) / sizeof(client_fields[0])))

static const char *fmt_field(const struct field *f, json_t *obj, char *buf, size_t len)
{
	json_t *v = json_object_get(obj, f->key);

	return f->decimal ? ps_fmt_decimal(v, buf, len) : ps_fmt_count(v, buf, len);
}

static int print_clients(json_t *ans, bool total)
{
	struct ps_tbl_col cols[1 + NFIELDS] = { { "CLIENT", 6, true } };
	const struct field *shown[NFIELDS];
	json_t *arr = json_object_get(ans, "clients"), *e;
	int n = 0, i, err;
	struct ps_tbl t;
	char buf[64];
	size_t k;

	for (i = 0; i < NFIELDS; i++) {
		if (client_fields[i].total_only && !total)
			continue;
		shown[n] = &client_fields[i];
		cols[1 + n].head = client_fields[i].head;
		cols[1 + n].minw = client_fields[i].minw;
		n++;
	}
	ps_tbl_init(&t, cols, 1 + n);
	json_array_foreach(arr, k, e) {
		ps_tbl_add(&t, ps_str_or(e, "client", "-"));
		for (i = 0; i < n; i++)
			ps_tbl_add(&t, fmt_field(shown[i], e, buf, sizeof(buf)));
	}
	err = ps_tbl_print(&t, stdout);
	if (!err && json_is_integer(json_object_get(ans, "total_clients")) &&
	    json_integer_value(json_object_get(ans, "total_clients")) > (json_int_t)k)
		printf("(%zu of %lld clients; --limit 0 shows all)\n", k,
		       (long long)json_integer_value(json_object_get(ans, "total_clients")));
	return err;
}

int ps_cmd_clients(int argc, char **argv)
{
	struct clients_opts o = {
		.window = ps_window_names[PS_WIN_TOTAL], .sort = ps_sort_names[PS_SORT_REQUESTS],
	};
	int ret = ps_opts_parse(&ps_cmd_clients_opts, argc, argv, &o);
	json_t *ans;

	if (ret >= 0)
		return ret;
	ans = ps_ctl_ask(ps_cmd_clients_opts.cmd, &o.c, ps_clients_request(o.window, o.sort, o.limit),
			 &ret);
	if (!ans)
		return ret;
	return ps_ctl_done(ps_cmd_clients_opts.cmd, ans,
			   print_clients(ans, !strcmp(o.window, ps_window_names[PS_WIN_TOTAL])));
}

/* --- client --------------------------------------------------------------- */

static const char client_usage[] =
	"usage: penstock client ADDR [--socket PATH] [--json]\n"
	"\n"
	"One client's counts in every window (1m, 1h, 24h and total), and when\n"
	"penstockd first and last saw it. ADDR is an IPv4 or IPv6 address.\n"
	"\n"
	PS_SOCKET_HELP
	PS_JSON_HELP
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock client 198.18.0.2\n"
	"  penstock client fd00::2 --json\n"
	"\n"
	PS_EXIT_HELP;

const struct ps_cmd_opts ps_cmd_client_opts = {
	"client", client_usage, PS_OPTS_SOCKET | PS_OPTS_JSON | PS_OPTS_ARGS, NULL,
};

/* A key's addresses, or an address's keys, most requests first. */
static void print_pairs(json_t *ans)
{
	const char *what = json_object_get(ans, "addresses") ? "addresses" : "keys";
	json_t *o = json_object_get(ans, what), *list = json_object_get(o, what), *x;
	json_int_t distinct = json_integer_value(json_object_get(o, "distinct"));
	size_t i;

	if (!o || (!distinct && !strcmp(what, "keys")))
		return;
	printf("\n%s %lld%s\n", what, (long long)distinct,
	       (size_t)distinct > json_array_size(list) ? " (the most used shown)" : "");
	json_array_foreach(list, i, x)
		printf("  %-40s %lld requests, %lld inference, last %llds ago\n",
		       ps_str_or(x, "client", "-"),
		       (long long)json_integer_value(json_object_get(x, "requests")),
		       (long long)json_integer_value(json_object_get(x, "inference_requests")),
		       (long long)json_integer_value(json_object_get(x, "last_seen_s_ago")));
}

static int print_client(json_t *ans)
{
	static const struct ps_tbl_col cols[] = {
		{ "FIELD", 0, true }, { "1m", 10, false }, { "1h", 10, false },
		{ "24h", 10, false }, { "total", 12, false },
	};
	json_t *wins = json_object_get(ans, "windows"), *inmap = json_object_get(ans, "in_map");
	char buf[64];
	struct ps_tbl t;
	int i, w;

	printf("client      %s%s\n", ps_str_or(ans, "client", "-"),
	       !json_is_boolean(inmap) ? ""
	       : json_is_true(inmap)   ? " (in the kernel map)"
				       : " (no longer in the kernel map)");
	printf("first seen  %s\n", ps_str_or(ans, "first_seen", "-"));
	printf("last seen   %s\n\n", ps_str_or(ans, "last_seen", "-"));
	ps_tbl_init(&t, cols, 5);
	for (i = 0; i < NFIELDS; i++) {
		ps_tbl_add(&t, client_fields[i].key);
		for (w = 0; ps_window_names[w]; w++)
			ps_tbl_add(&t, fmt_field(&client_fields[i],
					      json_object_get(wins, ps_window_names[w]), buf,
					      sizeof(buf)));
	}
	i = ps_tbl_print(&t, stdout);
	print_pairs(ans);
	return i;
}

int ps_cmd_client(int argc, char **argv)
{
	struct ps_opts_common o = {};
	int ret = ps_opts_parse(&ps_cmd_client_opts, argc, argv, &o);
	char canon[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	json_t *ans;

	if (ret >= 0)
		return ret;
	if (o.argi >= argc)
		return ps_opts_usage_error(&ps_cmd_client_opts, "no address given");
	if (o.argi + 1 < argc)
		return ps_opts_usage_error(
		    &ps_cmd_client_opts, "one address at a time ('%s' is one too many)", argv[o.argi + 1]);
	/* The daemon's spelling of the address, whatever the user's. */
	if (!strncmp(argv[o.argi], "key:", 4)) {
		struct ps_prefix p;
		char err[128];

		if (ps_parse_subject(argv[o.argi], &p, err, sizeof(err))) {
			fprintf(stderr, "penstock client: '%s': expected %s\n", argv[o.argi], err);
			return PS_EXIT_INPUT;
		}
		ps_prefix_str(&p, canon, sizeof(canon));
	} else if (inet_pton(AF_INET, argv[o.argi], bin) == 1) {
		inet_ntop(AF_INET, bin, canon, sizeof(canon));
	} else if (inet_pton(AF_INET6, argv[o.argi], bin) == 1) {
		inet_ntop(AF_INET6, bin, canon, sizeof(canon));
	} else {
		fprintf(stderr, "penstock client: '%s' is not an IPv4 or IPv6 address or a key id\n",
			argv[o.argi]);
		return PS_EXIT_INPUT;
	}
	ans = ps_ctl_ask(ps_cmd_client_opts.cmd, &o,
			 ps_request_set(ps_request(PS_CMD_CLIENT), PS_ARG_ADDR, json_string(canon)),
			 &ret);
	if (!ans)
		return ret;
	return ps_ctl_done(ps_cmd_client_opts.cmd, ans, print_client(ans));
}

/* --- endpoints ------------------------------------------------------------ */

static const char endpoints_usage[] =
	"usage: penstock endpoints [--socket PATH] [--json]\n"
	"\n"
	"The inference endpoints penstockd counts: name, TCP port, and the paths\n"
	"that make a request an inference request.\n"
	"\n"
	PS_SOCKET_HELP
	"  -j, --json         print {\"endpoints\":[...]}\n"
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock endpoints\n"
	"  penstock endpoints --json\n"
	"\n"
	PS_EXIT_HELP;

const struct ps_cmd_opts ps_cmd_endpoints_opts = {
	"endpoints", endpoints_usage, PS_OPTS_SOCKET | PS_OPTS_JSON, NULL,
};

static void endpoint_row(struct ps_tbl *t, json_t *e)
{
	char buf[64], paths[PS_MAX_PATHS * (PS_PATH_MAX + 1) + 1];
	size_t j, off = 0;
	json_t *p;

	ps_tbl_add(t, ps_str_or(e, "name", "-"));
	ps_tbl_add(t, ps_fmt_count(json_object_get(e, "port"), buf, sizeof(buf)));
	paths[0] = '\0';
	json_array_foreach(json_object_get(e, "paths"), j, p) {
		if (off < sizeof(paths))
			off += snprintf(paths + off, sizeof(paths) - off, "%s%s", j ? "," : "",
					json_string_value(p) ?: "?");
	}
	ps_tbl_add(t, paths[0] ? paths : "-");
}

static int print_endpoints(json_t *ans)
{
	static const struct ps_tbl_col cols[] = {
		{ "NAME", 0, true }, { "PORT", 5, false }, { "PATHS", 0, true },
	};

	return ps_tbl_rows(stdout, cols, 3, json_object_get(ans, "endpoints"), endpoint_row);
}

int ps_cmd_endpoints(int argc, char **argv)
{
	return ps_ctl_show(&ps_cmd_endpoints_opts, argc, argv, PS_CMD_ENDPOINTS, print_endpoints);
}

/* --- reload, stop --------------------------------------------------------- */

static const char reload_usage[] =
	"usage: penstock reload [--socket PATH] [--json]\n"
	"\n"
	"Have penstockd re-read its configuration file, as SIGHUP does. An invalid\n"
	"file is reported (FILE:LINE:COLUMN) and the running configuration stays.\n"
	"\n"
	PS_SOCKET_HELP
	PS_JSON_HELP
	PS_HELP_HELP
	"\n"
	"example:\n"
	"  penstock reload\n"
	"\n"
	PS_EXIT_HELP;

const struct ps_cmd_opts ps_cmd_reload_opts = {
	"reload", reload_usage, PS_OPTS_SOCKET | PS_OPTS_JSON, NULL,
};

int ps_cmd_reload(int argc, char **argv)
{
	struct ps_opts_common o = {};
	int ret = ps_opts_parse(&ps_cmd_reload_opts, argc, argv, &o);
	json_t *ans, *st = NULL;
	const char *file;

	if (ret >= 0)
		return ret;
	ans = ps_ctl_ask(ps_cmd_reload_opts.cmd, &o, ps_request(PS_CMD_RELOAD), &ret);
	if (!ans)
		return ret;
	file = json_string_value(json_object_get(ans, "config"));
	if (!file) {
		/* An answer without the file's name: status has it. */
		st = ps_ctl_call("reload", ps_ctl_socket_path(o.socket), ps_request(PS_CMD_STATUS),
				 NULL);
		file = json_string_value(json_object_get(json_object_get(st, "daemon"), "config"));
	}
	printf("penstockd: configuration reloaded from %s\n", file ? file : "its file");
	json_decref(st);
	json_decref(ans);
	return PS_EXIT_OK;
}

static const char stop_usage[] =
	"usage: penstock stop [--keep-datapath] [--socket PATH] [--json]\n"
	"\n"
	"Have penstockd save its state and exit. By default it detaches its BPF\n"
	"programs and unpins their maps.\n"
	"\n"
	"  -k, --keep-datapath\n"
	"                     leave the programs attached and the maps pinned, for the\n"
	"                     next penstockd (an upgrade) to adopt without missing a\n"
	"                     packet\n"
	PS_SOCKET_HELP
	PS_JSON_HELP
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock stop\n"
	"  penstock stop --keep-datapath && install -m 0755 penstockd /usr/local/sbin/ &&\n"
	"      systemctl start penstockd\n"
	"\n"
	PS_EXIT_HELP;

struct stop_opts {
	struct ps_opts_common c;
	int keep;
};

const struct ps_cmd_opts ps_cmd_stop_opts = {
	"stop", stop_usage, PS_OPTS_SOCKET | PS_OPTS_JSON,
	(const struct ps_opt[]){
		{ .name = "keep-datapath", .key = 'k', .type = PS_OPT_FLAG,
		  .off = offsetof(struct stop_opts, keep) },
		{},
	},
};

int ps_cmd_stop(int argc, char **argv)
{
	struct stop_opts o = {};
	int ret = ps_opts_parse(&ps_cmd_stop_opts, argc, argv, &o);
	json_t *ans;

	if (ret >= 0)
		return ret;
	ans = ps_ctl_ask(ps_cmd_stop_opts.cmd, &o.c,
			 ps_request_set(ps_request(PS_CMD_STOP), PS_ARG_KEEP_DATAPATH,
					json_boolean(o.keep)),
			 &ret);
	if (!ans)
		return ret;
	printf(o.keep ? "penstockd: stopping; its programs stay attached and its maps pinned for "
			"the next penstockd\n"
		      : "penstockd: stopping\n");
	json_decref(ans);
	return PS_EXIT_OK;
}
