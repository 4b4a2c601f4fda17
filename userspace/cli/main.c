// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstock: the command-line tool. A table of subcommands, each with its
 * own options and --help.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts/alert.h"
#include "cli/capture.h"
#include "cli/ctl.h"
#include "cli/top.h"
#include "common/config.h"
#include "common/datapath.h"
#include "common/log.h"
#include "common/report.h"
#include "common/units.h"
#include "count/tick.h"
#include "enforce/enforce.h"
#include "policy/policy.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const char replay_usage[] =
	"usage: penstock replay [--config FILE] [--port N]... [--json] CAPTURE...\n"
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
	"  -j, --json         print {\"clients\":[...],\"alerts\":[...],\"enforcement\":[...]}\n"
	"                     instead of tables\n"
	"  -v, --verbose      more messages (libbpf's too)\n"
	"  -h, --help         this text\n"
	"\n"
	"examples:\n"
	"  penstock replay --port 8000 capture.pcap\n"
	"  penstock replay --config /etc/penstock/penstock.yaml --json a.pcapng b.pcap\n"
	"\n"
	"exit status: 0 ok, 1 system error (BPF), 2 bad input (usage, config, capture)\n";

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

static int cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct ps_dp_opts dopts = { .replay = true };
	struct ps_datapath dp = {};
	struct ps_client *list = NULL;
	const char *config = NULL;
	static struct ps_config cfg;
	long ports[PS_MAX_ENDPOINTS];
	static struct ps_replay rp;
	static struct replay_policy pol;
	int nports = 0, json = 0, opt, i, n, err, ret = PS_EXIT_OK, policy = 0;
	char errbuf[4200], *end;

	while ((opt = getopt_long(argc, argv, "c:p:jvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'p':
			errno = 0;
			ports[nports % PS_MAX_ENDPOINTS] = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || ports[nports % PS_MAX_ENDPOINTS] < 1 ||
			    ports[nports % PS_MAX_ENDPOINTS] > 65535) {
				fprintf(stderr, "penstock replay: --port '%s': expected a port 1..65535\n",
					optarg);
				return PS_EXIT_INPUT;
			}
			if (++nports > PS_MAX_ENDPOINTS) {
				fprintf(stderr, "penstock replay: at most %d ports\n", PS_MAX_ENDPOINTS);
				return PS_EXIT_INPUT;
			}
			break;
		case 'j':
			json = 1;
			break;
		case 'v':
			ps_log_set_level(PS_LOG_DEBUG);
			break;
		case 'h':
			fputs(replay_usage, stdout);
			return PS_EXIT_OK;
		default:
			fputs(replay_usage, stderr);
			return PS_EXIT_INPUT;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "penstock replay: no capture given\n\n%s", replay_usage);
		return PS_EXIT_INPUT;
	}
	ps_config_init(&cfg);
	if (!config && !nports && access(PS_DEFAULT_CONFIG, F_OK) == 0)
		config = PS_DEFAULT_CONFIG;
	if (config) {
		err = ps_config_load(config, &cfg, errbuf, sizeof(errbuf));
		if (err) {
			fprintf(stderr, "penstock replay: %s\n", errbuf);
			return PS_EXIT_INPUT;
		}
	}
	for (i = 0; i < nports; i++) {
		err = ps_config_add_port(&cfg, ports[i]);
		if (err) {
			fprintf(stderr, "penstock replay: --port %ld: %s\n", ports[i],
				err == -ENOSPC ? "too many endpoints" : strerror(-err));
			return PS_EXIT_INPUT;
		}
	}
	if (!cfg.nendpoints) {
		fprintf(stderr, "penstock replay: no endpoint to count: give --port N or --config FILE\n");
		return PS_EXIT_INPUT;
	}

	ps_log_libbpf();
	err = ps_dp_open(&dp, &dopts);
	if (err)
		return PS_EXIT_FAIL;
	err = ps_dp_configure(&dp, &cfg);
	if (!err)
		err = ps_enf_apply_classes(&dp, &cfg);
	if (err) {
		ret = PS_EXIT_FAIL;
		goto cleanup;
	}
	/* Limits in the config: report what they would have done (replay is a
	 * dry run: a capture cannot send a dropped packet again). */
	for (i = 0; i <= cfg.nclasses; i++) {
		struct ps_limits l;

		ps_limits_resolve(&cfg, i, &l);
		if (l.requests_per_minute != PS_LIMIT_UNSET)
			policy |= PS_POLICY_RATE;
		if (l.max_connections != PS_LIMIT_UNSET)
			policy |= PS_POLICY_CONNS;
	}
	ps_replay_init(&rp, &dp, &cfg);
	/* Day limits, per-minute byte limits and detection: on the capture's
	 * clock, from a client table ticked every second. */
	ps_ctable_init(&pol.table);
	pol.alerts = json_array();
	pol.enforcement = json_array();
	if (ps_tick_init(&pol.tick, &dp) || ps_policy_init(&pol.pol, &dp, &cfg, &pol.table) ||
	    !pol.alerts || !pol.enforcement) {
		fprintf(stderr, "penstock replay: out of memory\n");
		ret = PS_EXIT_FAIL;
		goto cleanup;
	}
	pol.tick.idle_s = cfg.reclaim_idle;
	pol.pol.on_alert = replay_alert;
	pol.pol.on_enforce = replay_enforce;
	pol.pol.ctx = &pol;
	rp.on_second = replay_second;
	rp.ctx = &pol;
	for (i = optind; i < argc; i++) {
		err = ps_replay_file(&rp, argv[i]);
		if (err) {
			ret = err == -EINVAL ? PS_EXIT_INPUT : PS_EXIT_FAIL;
			goto cleanup;
		}
	}
	ps_replay_finish(&rp);
	if (pol.err) {
		fprintf(stderr, "penstock replay: client table: %s\n", strerror(-pol.err));
		ret = PS_EXIT_FAIL;
		goto cleanup;
	}
	/* Entries the window limits or the detectors set: their columns too. */
	policy |= pol.policy;
	n = ps_dp_read_clients(&dp, &list);
	if (n < 0) {
		fprintf(stderr, "penstock replay: cannot read counters: %s\n", strerror(-n));
		ret = PS_EXIT_FAIL;
		goto cleanup;
	}
	if (json) {
		json_t *doc = ps_clients_json(list, n, policy);

		if (doc && cfg.detection.enabled)
			json_object_set(doc, "alerts", pol.alerts);
		if (doc)
			json_object_set(doc, "enforcement", pol.enforcement);
		if (!doc || json_dumpf(doc, stdout, JSON_COMPACT) < 0) {
			ret = PS_EXIT_FAIL;
		}
		json_decref(doc);
		putchar('\n');
	} else {
		ps_clients_table(stdout, list, n, policy);
		print_replay_policy(&pol);
		pr_info("%llu packets replayed\n", rp.packets);
	}
cleanup:
	ps_policy_free(&pol.pol);
	ps_tick_free(&pol.tick);
	ps_ctable_free(&pol.table);
	json_decref(pol.alerts);
	json_decref(pol.enforcement);
	free(list);
	ps_dp_close(&dp);
	return ret;
}

static const struct command commands[] = {
	{ "replay", cmd_replay, "run captures through the BPF programs and print per-client counts" },
	{ "status", ps_cmd_status, "penstockd's process, interfaces, programs, maps and tick" },
	{ "clients", ps_cmd_clients, "per-client counts from penstockd, by window, largest first" },
	{ "client", ps_cmd_client, "one client's counts in every window" },
	{ "top", ps_cmd_top, "live full-screen view of the clients, refreshed every second" },
	{ "endpoints", ps_cmd_endpoints, "the inference endpoints penstockd counts" },
	{ "reload", ps_cmd_reload, "have penstockd re-read its configuration file" },
	{ "stop", ps_cmd_stop, "have penstockd save its state and exit" },
	{ "block", ps_cmd_block, "drop a client's or a prefix's packets, for a time or until removed" },
	{ "throttle", ps_cmd_throttle, "limit a client or prefix to N requests a minute, or to a rate" },
	{ "unblock", ps_cmd_unblock, "remove the block or throttle on a client or prefix" },
	{ "enforcement", ps_cmd_enforcement, "the blocks, throttles and shapings in force, and why" },
	{ "alerts", ps_cmd_alerts, "the alerts the detectors raised, newest last, and the webhook's state" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: penstock COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'penstock COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return PS_EXIT_INPUT;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return PS_EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "penstock: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return PS_EXIT_INPUT;
}
