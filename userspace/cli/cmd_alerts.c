// SPDX-License-Identifier: GPL-2.0-only
/* penstock alerts: the alerts penstockd keeps in memory, and its webhook's state. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "alerts/alert.h"
#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/format.h"
#include "cli/opts.h"
#include "common/units.h"

static const char alerts_usage[] =
	"usage: penstock alerts [--since DURATION] [--socket PATH] [--json]\n"
	"\n"
	"The alerts penstockd's detectors raised, oldest first, out of those it keeps\n"
	"in memory (alerts.keep_in_memory in the config, 1000 by default): when\n"
	"(UTC), on what subject (KIND: one client or a prefix), which detector, its\n"
	"score, the action it called for and the evidence in short. With a webhook\n"
	"configured, a last line says whether alerts wait in its spool, and why.\n"
	"\n"
	"  -S, --since DURATION\n"
	"                     only the alerts of the last DURATION: 30s, 10m, 2h, 1d\n"
	"                     (default: every alert kept)\n"
	PS_SOCKET_HELP
	"  -j, --json         print {\"alerts\":[...]} (and \"webhook\":{...})\n"
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock alerts --since 1h\n"
	"  penstock alerts --json | jq '.alerts[] | select(.action == \"block\")'\n"
	"\n"
	PS_EXIT_HELP;

struct alerts_opts {
	struct ps_opts_common c;
	uint64_t since_s;
};

const struct ps_cmd_opts ps_cmd_alerts_opts = {
	"alerts", alerts_usage, PS_OPTS_SOCKET | PS_OPTS_JSON,
	(const struct ps_opt[]){
		{ .name = "since", .key = 'S', .type = PS_OPT_DURATION, .min = 1,
		  .max = PS_ENF_FOR_MAX, .off = offsetof(struct alerts_opts, since_s) },
		{},
	},
};

/* The evidence in one short line, "-" when there is none. */
static const char *evidence_str(json_t *ev, char *buf, size_t len)
{
	ps_alert_evidence_str(ev, buf, len);
	return buf[0] ? buf : "-";
}

static void alert_row(struct ps_tbl *t, json_t *a)
{
	json_t *score = json_object_get(a, "score");
	char buf[128];

	/* To the second: "2026-11-23T02:00:00.123Z" -> "2026-11-23T02:00:00Z". */
	snprintf(buf, sizeof(buf), "%.19sZ", ps_str_or(a, "time", "-"));
	ps_tbl_add(t, strlen(buf) == 20 ? buf : ps_str_or(a, "time", "-"));
	ps_tbl_add(t, ps_str_or(a, "subject", "-"));
	ps_tbl_add(t, ps_str_or(a, "kind", "-"));
	ps_tbl_add(t, ps_str_or(a, "detector", "-"));
	if (json_is_number(score))
		snprintf(buf, sizeof(buf), "%.2f", json_number_value(score));
	else
		snprintf(buf, sizeof(buf), "-");
	ps_tbl_add(t, buf);
	ps_tbl_add(t, ps_str_or(a, "action", "-"));
	ps_tbl_add(t, evidence_str(json_object_get(a, "evidence"), buf, 72));
}

int ps_alerts_table(json_t *alerts)
{
	static const struct ps_tbl_col cols[] = {
		{ "TIME", 0, true }, { "SUBJECT", 0, true }, { "KIND", 0, true },
		{ "DETECTOR", 0, true }, { "SCORE", 0, false }, { "ACTION", 0, true },
		{ "EVIDENCE", 0, true },
	};

	return ps_tbl_rows(stdout, cols, 7, alerts, alert_row);
}

static int print_alerts(json_t *ans, uint64_t since_s)
{
	json_t *alerts = json_object_get(ans, "alerts"), *wh = json_object_get(ans, "webhook");
	char buf[128], dur[64];
	int err = 0;

	if (!json_array_size(alerts)) {
		if (since_s)
			printf("no alerts in the last %s\n", ps_duration_str(since_s, dur, sizeof(dur)));
		else
			printf("no alerts\n");
	} else {
		err = ps_alerts_table(alerts);
	}
	if (!err && wh) {
		json_t *batches = json_object_get(wh, "spooled_batches");

		if (json_integer_value(batches) || *ps_str_or(wh, "last_error", ""))
			printf("\nwebhook %s: failing since %s: %s; %lld batches (%s) wait in %s\n",
			       ps_str_or(wh, "url", "-"), ps_str_or(wh, "failing_since", "-"),
			       ps_str_or(wh, "last_error", "-"),
			       (long long)json_integer_value(batches),
			       ps_fmt_bytes(ps_json_num(wh, "spooled_bytes"), buf, sizeof(buf)),
			       ps_str_or(wh, "spool_dir", "-"));
		else
			printf("\nwebhook %s: %lld alerts delivered, none waiting\n",
			       ps_str_or(wh, "url", "-"),
			       (long long)json_integer_value(json_object_get(wh, "delivered")));
	}
	return err;
}

int ps_cmd_alerts(int argc, char **argv)
{
	struct alerts_opts o = {};
	int ret = ps_opts_parse(&ps_cmd_alerts_opts, argc, argv, &o);
	json_t *ans, *req;

	if (ret >= 0)
		return ret;
	req = ps_request(PS_CMD_ALERTS);
	if (o.since_s)
		req = ps_request_set(req, PS_ARG_SINCE_S, json_integer(o.since_s));
	ans = ps_ctl_ask(ps_cmd_alerts_opts.cmd, &o.c, req, &ret);
	if (!ans)
		return ret;
	return ps_ctl_done(ps_cmd_alerts_opts.cmd, ans, print_alerts(ans, o.since_s));
}
