// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <string.h>

#include "common/protocol.h"

const char *const ps_window_names[PS_NWINDOWS + 2] = { "1m", "1h", "24h", "total", NULL };

const char *const ps_sort_names[PS_NSORTS + 1] = {
	"requests", "inference_requests", "rx_bytes", "tx_bytes", "tx_payload",
	"tx_tokens", "rx_tokens", PS_RPM_NAME, NULL,
};

const char *const ps_field_names[PS_NFIELDS + 1] = {
	"connections", "requests", "inference_requests", "rx_packets", "tx_packets",
	"rx_bytes",    "tx_bytes", "rx_payload",	 "tx_payload", "tx_events",
	"tx_tokens",   "rx_tokens", "tx_tokens_estimated", "rx_messages", "tx_messages", NULL,
};

const struct ps_arg_def ps_args[PS_NARGS] = {
	[PS_ARG_WINDOW] = { .name = "window", .type = PS_ARG_STRING, .values = ps_window_names },
	[PS_ARG_SORT] = { .name = "sort", .type = PS_ARG_STRING, .values = ps_sort_names },
	[PS_ARG_LIMIT] = { .name = "limit", .type = PS_ARG_INTEGER, .min = 0, .max = INT32_MAX },
	[PS_ARG_ADDR] = { .name = "addr", .type = PS_ARG_STRING },
	[PS_ARG_KEEP_DATAPATH] = { .name = "keep_datapath", .type = PS_ARG_BOOLEAN },
	[PS_ARG_SUBJECT] = { .name = "subject", .type = PS_ARG_STRING },
	[PS_ARG_RPM] = { .name = "rpm", .type = PS_ARG_INTEGER, .min = 1, .max = PS_ENF_RPM_MAX },
	[PS_ARG_BURST] = { .name = "burst", .type = PS_ARG_INTEGER, .min = 1,
			   .max = PS_ENF_BURST_MAX },
	[PS_ARG_RATE_BPS] = { .name = "rate_bps", .type = PS_ARG_INTEGER, .min = 1,
			      .max = PS_ENF_RATE_MAX },
	[PS_ARG_FOR_S] = { .name = "for_s", .type = PS_ARG_INTEGER, .min = 1,
			   .max = PS_ENF_FOR_MAX },
	[PS_ARG_REASON] = { .name = "reason", .type = PS_ARG_STRING, .min = 0,
			    .max = PS_ENF_REASON_MAX },
	[PS_ARG_SINCE_S] = { .name = "since_s", .type = PS_ARG_INTEGER, .min = 0,
			     .max = PS_ENF_FOR_MAX },
};

#define ENF_SET	(PS_ARG(PS_ARG_SUBJECT) | PS_ARG(PS_ARG_FOR_S) | PS_ARG(PS_ARG_REASON))

#define READ	PS_PRIV_READ
#define CHANGE	PS_PRIV_CHANGE

const struct ps_cmd_def ps_cmds[PS_NCMDS] = {
	[PS_CMD_STATUS] = { "status", 0,
		"daemon, interfaces, programs, maps, tick, clients, stats, slots, detection, control",
		READ, "reads penstockd's state" },
	[PS_CMD_CLIENTS] = { "clients",
		PS_ARG(PS_ARG_WINDOW) | PS_ARG(PS_ARG_SORT) | PS_ARG(PS_ARG_LIMIT),
		"window, sort, total_clients, clients", READ, "reads the clients' counts" },
	[PS_CMD_CLIENT] = { "client", PS_ARG(PS_ARG_ADDR),
		"client, first_seen, last_seen, in_map, windows, slot", READ,
		"reads a client's counts" },
	[PS_CMD_ENDPOINTS] = { "endpoints", 0, "endpoints", READ, "reads the endpoints" },
	[PS_CMD_RELOAD] = { "reload", 0, "config", CHANGE, "reloads the configuration" },
	[PS_CMD_STOP] = { "stop", PS_ARG(PS_ARG_KEEP_DATAPATH), "", CHANGE, "stops penstockd" },
	[PS_CMD_BLOCK] = { "block", ENF_SET, "subject, action, dry_run", CHANGE,
		"changes enforcement" },
	[PS_CMD_THROTTLE] = { "throttle",
		ENF_SET | PS_ARG(PS_ARG_RPM) | PS_ARG(PS_ARG_BURST) | PS_ARG(PS_ARG_RATE_BPS),
		"subject, action, dry_run", CHANGE, "changes enforcement" },
	[PS_CMD_UNBLOCK] = { "unblock", PS_ARG(PS_ARG_SUBJECT), "subject, removed", CHANGE,
		"changes enforcement" },
	[PS_CMD_ENFORCEMENT] = { "enforcement", 0, "dry_run, entries", READ,
		"reads the enforcement in force" },
	[PS_CMD_ALERTS] = { "alerts", PS_ARG(PS_ARG_SINCE_S), "alerts, webhook", READ,
		"reads the alerts" },
};

int ps_name_find(const char *const *names, const char *s)
{
	int i;

	for (i = 0; names[i]; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

int ps_cmd_find(const char *s)
{
	int i;

	for (i = 0; i < PS_NCMDS; i++)
		if (!strcmp(ps_cmds[i].name, s))
			return i;
	return -1;
}

int ps_arg_in_range(enum ps_arg arg, long long v)
{
	return v >= ps_args[arg].min && v <= ps_args[arg].max;
}

const char *ps_names_str(const char *const *names, char *buf, size_t len)
{
	size_t off = 0;
	const char *sep;
	int i;

	buf[0] = '\0';
	for (i = 0; names[i] && off < len; i++) {
		sep = i == 0 ? "" : names[i + 1] ? ", " : " or ";
		off += snprintf(buf + off, len - off, "%s%s", sep, names[i]);
	}
	return buf;
}

json_t *ps_request(enum ps_cmd cmd)
{
	return json_pack("{s:s}", "cmd", ps_cmds[cmd].name);
}

json_t *ps_request_set(json_t *req, enum ps_arg arg, json_t *value)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	int c = cmd ? ps_cmd_find(cmd) : -1;

	if (c < 0 || !(ps_cmds[c].args & PS_ARG(arg))) {
		json_decref(value);
		json_decref(req);
		return NULL;
	}
	/* value is the object's, or gone, either way. */
	if (json_object_set_new(req, ps_args[arg].name, value)) {
		json_decref(req);
		return NULL;
	}
	return req;
}

json_t *ps_request_get(json_t *req, enum ps_arg arg)
{
	return json_object_get(req, ps_args[arg].name);
}
