// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstock replay: captures through the very programs penstockd loads
 * (replay_capture.c), on the capture's clock, and what the daemon would
 * have made of them: a tick at the end of every second of capture time
 * folds the counters into a client table (count/), and the policy
 * (policy/: window limits, detection, escalation) runs on it as a dry run.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts/alert.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/replay_capture.h"
#include "common/config.h"
#include "common/datapath.h"
#include "common/keyid.h"
#include "common/log.h"
#include "common/report.h"
#include "common/units.h"
#include "count/state.h"
#include "count/tick.h"
#include "enforce/enforce.h"
#include "policy/policy.h"

static const char replay_usage[] =
	"usage: penstock replay [--config FILE] [--port N]... [--secret FILE] [--each]\n"
	"                       [--json] CAPTURE...\n"
	"\n"
	"Run captures (pcap or pcapng; Ethernet, Linux cooked, raw IP or loopback)\n"
	"through penstock's BPF programs with BPF_PROG_TEST_RUN and print what they\n"
	"counted per client. The programs' clock is the capture's.\n"
	"\n"
	"  -c, --config FILE  take the endpoints from this config; without --config\n"
	"                     and --port, " PS_DEFAULT_CONFIG " if it exists. Its\n"
	"                     limits and detection run on the capture's clock as a\n"
	"                     dry run: each client gets would_throttle (requests a\n"
	"                     limit would have delayed), would_refuse (connections\n"
	"                     max_connections would have refused) and would_block\n"
	"                     (packets a block would have dropped) as the policy\n"
	"                     has them; the alerts and enforcement entries follow\n"
	"  -p, --port N       count TCP port N as an inference endpoint (repeatable);\n"
	"                     its inference paths are the OpenAI-compatible defaults\n"
	"  -k, --secret FILE  hash API keys (endpoints with identity: api_key) under\n"
	"                     this secret, a penstockd's " PS_STATE_DIR "/" PS_KEY_SECRET_FILE ":\n"
	"                     key ids then match penstockd's and penstock key-id's;\n"
	"                     without it, a random secret for this run\n"
	"  -e, --each         each capture alone, as if it were the only one: the\n"
	"                     programs loaded once, their maps emptied between\n"
	"                     captures; a result per capture, in order (with --json\n"
	"                     one line each, with \"capture\": its name; a capture\n"
	"                     that cannot be read gives {\"capture\", \"error\"} and\n"
	"                     the rest go on). Without it the captures are one\n"
	"                     traffic, one after the other\n"
	"  -j, --json         print {\"clients\":[...],\"alerts\":[...],\"enforcement\":[...],\n"
	"                     \"endpoints\":[...]} instead of tables (endpoints: each\n"
	"                     endpoint's totals)\n"
	"  -v, --verbose      more messages (libbpf's too)\n"
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock replay --port 8000 capture.pcap\n"
	"  penstock replay --config /etc/penstock/penstock.yaml --json a.pcapng b.pcap\n"
	"\n"
	"exit status: 0 ok, 1 system error (BPF), 2 bad input (usage, config, capture)\n";

struct replay_opts {
	struct ps_opts_common c;
	const char *config;
	uint64_t ports[PS_MAX_ENDPOINTS];
	int nports;
	int verbose;
	int each;
	const char *secret;
};

const struct ps_cmd_opts ps_cmd_replay_opts = {
	"replay", replay_usage, PS_OPTS_JSON | PS_OPTS_ARGS,
	(const struct ps_opt[]){
		{ .name = "config", .key = 'c', .type = PS_OPT_STRING,
		  .off = offsetof(struct replay_opts, config) },
		{ .name = "port", .key = 'p', .type = PS_OPT_UINT, .min = 1, .max = 65535,
		  .expect = "a port 1..65535", .off = offsetof(struct replay_opts, ports),
		  .count_max = PS_MAX_ENDPOINTS, .count_off = offsetof(struct replay_opts, nports),
		  .plural = "ports" },
		{ .name = "verbose", .key = 'v', .type = PS_OPT_FLAG,
		  .off = offsetof(struct replay_opts, verbose) },
		{ .name = "secret", .key = 'k', .type = PS_OPT_STRING,
		  .off = offsetof(struct replay_opts, secret) },
		{ .name = "each", .key = 'e', .type = PS_OPT_FLAG,
		  .off = offsetof(struct replay_opts, each) },
		{},
	},
};

/*
 * The daemon's side of a replay: a tick at the end of every second of
 * capture time folds the counters into a client table on the capture's
 * clock, and the policy (window limits, detection, escalation) runs on it.
 */
struct replay_policy {
	struct ps_tick tick;
	struct ps_ctable table;
	struct ps_policy pol;
	json_t *alerts;		/* ps_alert_json objects, in order */
	json_t *enforcement;	/* entries set or changed, in order */
	int policy;		/* PS_POLICY_* of the actions in it */
	uint64_t now_ns;	/* the tick running */
	int err;
};

static void replay_alert(void *ctx, const struct ps_alert *al)
{
	struct replay_policy *rp = ctx;

	json_array_append_new(rp->alerts, ps_alert_json(al));
}

static void replay_enforce(void *ctx, const struct ps_prefix *p, const struct ps_enforcement *e)
{
	struct replay_policy *rp = ctx;
	char who[64], t1[40], t2[40];

	if (e->action == PS_ACT_THROTTLE)
		rp->policy |= PS_POLICY_RATE;
	else if (e->action == PS_ACT_BLOCK)
		rp->policy |= PS_POLICY_BLOCK;
	json_array_append_new(
		rp->enforcement,
		json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "time",
			  ps_rfc3339(rp->now_ns / 1000000000ULL, t1, sizeof(t1)), "subject",
			  ps_prefix_str(p, who, sizeof(who)), "action", ps_action_names[e->action],
			  "origin", ps_origin_names[e->origin], "until",
			  ps_rfc3339(e->until_ns / 1000000000ULL, t2, sizeof(t2)), "reason",
			  e->reason));
}

static void replay_second(void *ctx, uint64_t end_ns)
{
	struct replay_policy *rp = ctx;
	int n;

	if (rp->err)
		return;
	rp->now_ns = end_ns;
	rp->tick.clock_ns = end_ns;
	n = ps_tick_run(&rp->tick, &rp->table);
	if (n < 0) {
		rp->err = n;
		return;
	}
	ps_policy_tick(&rp->pol, end_ns / 1000000, end_ns);
}

/* The alerts and entries of a replay, after its clients (stdout). */
static void print_replay_policy(const struct replay_policy *rp)
{
	size_t i;
	json_t *a;

	if (json_array_size(rp->alerts)) {
		printf("\nalerts (capture clock):\n");
		ps_alerts_table(rp->alerts);
	}
	if (json_array_size(rp->enforcement))
		printf("\nenforcement (capture clock; a replay touches no packet):\n");
	json_array_foreach(rp->enforcement, i, a)
		printf("  %s %-24s %-8s %-12s until %s  %s\n",
			json_string_value(json_object_get(a, "time")),
			json_string_value(json_object_get(a, "subject")),
			json_string_value(json_object_get(a, "action")),
			json_string_value(json_object_get(a, "origin")),
			json_string_value(json_object_get(a, "until")),
			json_string_value(json_object_get(a, "reason")));
}

/*
 * The endpoints (and limits) to replay with: --config's file, else the
 * default config if it exists and no --port is given; then each --port.
 * 0, or an exit status.
 */
static int replay_config(const struct replay_opts *o, struct ps_config *cfg)
{
	const char *config = o->config;
	char errbuf[4200];
	int i, err;

	ps_config_init(cfg);
	if (!config && !o->nports && access(PS_DEFAULT_CONFIG, F_OK) == 0)
		config = PS_DEFAULT_CONFIG;
	if (config && ps_config_load(config, cfg, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "penstock replay: %s\n", errbuf);
		return PS_EXIT_INPUT;
	}
	for (i = 0; i < o->nports; i++) {
		err = ps_config_add_port(cfg, o->ports[i]);
		if (err) {
			fprintf(stderr, "penstock replay: --port %ld: %s\n", (long)o->ports[i],
				err == -ENOSPC ? "too many endpoints" : strerror(-err));
			return PS_EXIT_INPUT;
		}
	}
	if (!cfg->nendpoints) {
		fprintf(stderr, "penstock replay: no endpoint to count: give --port N or --config FILE\n");
		return PS_EXIT_INPUT;
	}
	return 0;
}

/*
 * The secret API keys are hashed under, into key: --secret's, else a
 * random one (said when an endpoint reads keys), the same for every
 * capture of the run. 0, or an exit status.
 */
static int replay_secret(const struct replay_opts *o, const struct ps_config *cfg,
			 uint8_t key[PS_KEY_SECRET_LEN])
{
	char err[4300];
	int i, keys = 0;

	for (i = 0; i < cfg->nendpoints; i++)
		keys |= cfg->endpoints[i].identity == PS_IDENTITY_API_KEY;
	if (o->secret) {
		if (ps_key_secret_read(o->secret, key, err, sizeof(err))) {
			fprintf(stderr, "penstock replay: --secret %s\n", err);
			return PS_EXIT_INPUT;
		}
	} else {
		if (ps_key_secret_random(key)) {
			fprintf(stderr, "penstock replay: no random secret: %s\n", strerror(errno));
			return PS_EXIT_FAIL;
		}
		if (keys)
			fprintf(stderr, "penstock replay: API key ids under a random secret, "
				"different on every run (--secret FILE for lasting ones)\n");
	}
	return 0;
}

/*
 * The columns the config's limits add (PS_POLICY_*): a replay is a dry run,
 * a capture cannot send a dropped packet again, so they report what the
 * limits would have done.
 */
static int configured_policy(const struct ps_config *cfg)
{
	int i, policy = 0;

	for (i = 0; i <= cfg->nclasses; i++) {
		struct ps_limits l;

		ps_limits_resolve(cfg, i, &l);
		if (l.requests_per_minute != PS_LIMIT_UNSET ||
		    l.tokens_per_minute != PS_LIMIT_UNSET || l.tokens_per_day != PS_LIMIT_UNSET)
			policy |= PS_POLICY_RATE;
		if (l.max_connections != PS_LIMIT_UNSET)
			policy |= PS_POLICY_CONNS;
	}
	return policy;
}

/*
 * Day limits, per-minute byte limits and detection: on the capture's
 * clock, from a client table ticked every second. 0 or -ENOMEM.
 */
static int policy_start(struct replay_policy *pol, struct ps_replay *rp,
			struct ps_datapath *dp, const struct ps_config *cfg)
{
	ps_ctable_init(&pol->table);
	pol->alerts = json_array();
	pol->enforcement = json_array();
	if (ps_tick_init(&pol->tick, dp) || ps_policy_init(&pol->pol, dp, cfg, &pol->table) ||
	    !pol->alerts || !pol->enforcement)
		return -ENOMEM;
	pol->tick.idle_s = cfg->reclaim_idle;
	/* Every client at every second, as the capture has them. */
	pol->tick.bounded = false;
	pol->pol.on_alert = replay_alert;
	pol->pol.on_enforce = replay_enforce;
	pol->pol.ctx = pol;
	rp->on_second = replay_second;
	rp->ctx = pol;
	return 0;
}

static void policy_stop(struct replay_policy *pol)
{
	ps_policy_free(&pol->pol);
	ps_tick_free(&pol->tick);
	ps_ctable_free(&pol->table);
	json_decref(pol->alerts);
	json_decref(pol->enforcement);
}

/* What the programs counted, with what the policy would have done. An exit status. */
static int print_replay(struct ps_datapath *dp, const struct ps_config *cfg,
			const struct replay_policy *pol, int policy, bool json,
			unsigned long long packets, const char *capture)
{
	struct ps_client *list = NULL;
	int n, ret = PS_EXIT_OK;

	n = ps_dp_read_clients(dp, &list);
	if (n < 0) {
		fprintf(stderr, "penstock replay: cannot read counters: %s\n", strerror(-n));
		return PS_EXIT_FAIL;
	}
	if (json) {
		json_t *doc = ps_clients_json(list, n, policy);

		if (doc && capture)
			json_object_set_new(doc, "capture", json_string(capture));
		if (doc && cfg->detection.enabled)
			json_object_set(doc, "alerts", pol->alerts);
		if (doc)
			json_object_set(doc, "enforcement", pol->enforcement);
		if (doc) {
			struct ps_ep_ctr tot[PS_MAX_ENDPOINTS];

			if (ps_dp_read_endpoints(dp, cfg->nendpoints, tot))
				ret = PS_EXIT_FAIL;
			else
				json_object_set_new(doc, "endpoints",
						    ps_endpoint_totals_json(cfg, tot));
		}
		if (!doc || json_dumpf(doc, stdout, JSON_COMPACT) < 0)
			ret = PS_EXIT_FAIL;
		json_decref(doc);
		putchar('\n');
	} else {
		if (capture)
			printf("%s:\n", capture);
		ps_clients_table(stdout, list, n, policy);
		print_replay_policy(pol);
		pr_info("%llu packets replayed\n", packets);
	}
	free(list);
	return ret;
}

/*
 * Captures argv[from..to) as one traffic through the datapath as it is:
 * configured, then its client table and policy on the capture's clock.
 * With capture set (--each), the result is named by it, and a capture that
 * cannot be read is an error object (JSON) in its place. An exit status.
 */
static int replay_run(const struct replay_opts *o, struct ps_datapath *dp,
		      const struct ps_config *cfg, const uint8_t *secret, char **argv, int from,
		      int to, const char *capture)
{
	static struct replay_policy pol;
	static struct ps_replay rp;
	int i, err, ret;

	if (ps_dp_configure(dp, cfg) || ps_enf_apply_classes(dp, cfg) ||
	    ps_dp_set_secret(dp, secret))
		return PS_EXIT_FAIL;
	ps_replay_init(&rp, dp, cfg);
	memset(&pol, 0, sizeof(pol));
	if (policy_start(&pol, &rp, dp, cfg)) {
		fprintf(stderr, "penstock replay: out of memory\n");
		ret = PS_EXIT_FAIL;
		goto out;
	}
	for (i = from; i < to; i++) {
		err = ps_replay_file(&rp, argv[i]);
		if (err) {
			ret = err == -EINVAL ? PS_EXIT_INPUT : PS_EXIT_FAIL;
			if (capture && o->c.json) {
				json_t *e = json_pack("{s:s,s:s}", "capture", capture, "error",
						      err == -EINVAL ? "not a capture penstock reads" :
						      "the datapath failed");

				if (e && json_dumpf(e, stdout, JSON_COMPACT) == 0)
					putchar('\n');
				json_decref(e);
			}
			goto out;
		}
	}
	ps_replay_finish(&rp);
	if (pol.err) {
		fprintf(stderr, "penstock replay: client table: %s\n", strerror(-pol.err));
		ret = PS_EXIT_FAIL;
		goto out;
	}
	/* Entries the window limits or the detectors set: their columns too. */
	ret = print_replay(dp, cfg, &pol, configured_policy(cfg) | pol.policy, o->c.json,
			   rp.packets, capture);
out:
	policy_stop(&pol);
	return ret;
}

int ps_cmd_replay(int argc, char **argv)
{
	struct ps_dp_opts dopts = { .replay = true };
	static struct replay_opts o;
	static struct ps_config cfg;
	uint8_t secret[PS_KEY_SECRET_LEN];
	struct ps_datapath dp = {};
	int i, err, r, ret = ps_opts_parse(&ps_cmd_replay_opts, argc, argv, &o);

	if (ret >= 0)
		return ret;
	if (o.verbose)
		ps_log_set_level(PS_LOG_DEBUG);
	if (o.c.argi >= argc)
		return ps_opts_usage_error(&ps_cmd_replay_opts, "no capture given");
	ret = replay_config(&o, &cfg);
	if (!ret)
		ret = replay_secret(&o, &cfg, secret);
	if (ret) {
		memset(secret, 0, sizeof(secret));
		return ret;
	}
	ps_log_libbpf();
	if (ps_dp_open(&dp, &dopts)) {
		memset(secret, 0, sizeof(secret));
		return PS_EXIT_FAIL;
	}
	if (!o.each) {
		ret = replay_run(&o, &dp, &cfg, secret, argv, o.c.argi, argc, NULL);
	} else {
		/* Each alone: the worst status, a capture that cannot be read
		 * not stopping the others. */
		ret = PS_EXIT_OK;
		for (i = o.c.argi; i < argc; i++) {
			if (i > o.c.argi && (err = ps_dp_clear(&dp))) {
				fprintf(stderr, "penstock replay: cannot empty the maps: %s\n",
					strerror(-err));
				ret = PS_EXIT_FAIL;
				break;
			}
			r = replay_run(&o, &dp, &cfg, secret, argv, i, i + 1, argv[i]);
			if (r == PS_EXIT_FAIL) {
				ret = r;
				break;
			}
			if (r)
				ret = r;
		}
	}
	ps_dp_close(&dp);
	memset(secret, 0, sizeof(secret));
	return ret;
}
