// SPDX-License-Identifier: GPL-2.0-only
/*
 * The enforcement commands: block, throttle and unblock a client or a
 * prefix, and list what penstockd enforces (penstockd's
 * daemon/handlers_enforce.c answers them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/format.h"
#include "cli/opts.h"
#include "common/units.h"

#define SUBJECT_HELP \
	"ADDR|PREFIX is an IPv4 or IPv6 address (one client) or a prefix such as\n" \
	"203.0.113.0/24 or 2001:db8::/48 (every client under it), host bits zero.\n"

/* The options of block and throttle. */
struct enf_opts {
	struct ps_opts_common c;
	uint64_t for_s;
	const char *reason;
	uint64_t rpm, burst, rate;
};

#define FOR_ROW									\
	{ .name = "for", .key = 'f', .type = PS_OPT_DURATION, .min = 1,		\
	  .max = PS_ENF_FOR_MAX, .note = " (without --for: until removed)",		\
	  .off = offsetof(struct enf_opts, for_s) }
#define REASON_ROW								\
	{ .name = "reason", .key = 'r', .type = PS_OPT_TEXT, .max = PS_ENF_REASON_MAX,	\
	  .off = offsetof(struct enf_opts, reason) }

/*
 * The one positional argument of an enforcement command, parsed and
 * normalized into subject (ps_prefix_str's spelling). 0 or an exit status.
 */
static int enf_subject(const struct ps_cmd_opts *c, int argc, char **argv, int argi,
		       char *subject, size_t len)
{
	struct ps_prefix p;
	char err[256];

	if (argi >= argc)
		return ps_opts_usage_error(c, "no address or prefix given");
	if (argi + 1 < argc)
		return ps_opts_usage_error(
		    c, "one address or prefix at a time ('%s' is one too many)", argv[argi + 1]);
	if (ps_parse_subject(argv[argi], &p, err, sizeof(err))) {
		fprintf(stderr, "penstock %s: '%s': expected %s\n", c->cmd, argv[argi], err);
		return PS_EXIT_INPUT;
	}
	ps_prefix_str(&p, subject, len);
	return 0;
}

/* {"cmd":..,"subject":..} with for_s and reason when given. */
static json_t *enf_request(enum ps_cmd cmd, const char *subject, const struct enf_opts *o)
{
	json_t *req = ps_request_set(ps_request(cmd), PS_ARG_SUBJECT, json_string(subject));

	if (o->rpm) {
		req = ps_request_set(req, PS_ARG_RPM, json_integer(o->rpm));
		if (o->burst)
			req = ps_request_set(req, PS_ARG_BURST, json_integer(o->burst));
	} else if (o->rate) {
		req = ps_request_set(req, PS_ARG_RATE_BPS, json_integer(o->rate));
	}
	if (o->for_s)
		req = ps_request_set(req, PS_ARG_FOR_S, json_integer(o->for_s));
	if (o->reason && *o->reason)
		req = ps_request_set(req, PS_ARG_REASON, json_string(o->reason));
	return req;
}

/* "for 10m" or "until removed (penstock unblock X)". */
static void print_term(const char *subject, uint64_t for_s)
{
	char dur[64];

	if (for_s)
		printf(" for %s", ps_duration_str(for_s, dur, sizeof(dur)));
	else
		printf(" until removed (penstock unblock %s)", subject);
}

/*
 * Ask penstockd for a block or throttle of subject, and say what it did
 * (what: "blocked X", ...), or print its answer with --json.
 */
static int enf_set(const struct ps_cmd_opts *c, enum ps_cmd cmd, const char *what,
		   const char *subject, const struct enf_opts *o)
{
	json_t *ans;
	bool dry;
	int ret;

	ans = ps_ctl_ask(c->cmd, &o->c, enf_request(cmd, subject, o), &ret);
	if (!ans)
		return ret;
	dry = json_is_true(json_object_get(ans, "dry_run"));

	fputs(what, stdout);
	print_term(subject, o->for_s);
	if (o->reason && *o->reason)
		printf(": %s", o->reason);
	putchar('\n');
	if (dry)
		printf("(dry run: penstockd counts what this would do, and touches no packet)\n");
	json_decref(ans);
	return PS_EXIT_OK;
}

/* --- block ---------------------------------------------------------------- */

static const char block_usage[] =
	"usage: penstock block ADDR|PREFIX [--for DURATION] [--reason TEXT]\n"
	"                      [--socket PATH] [--json]\n"
	"\n"
	"Have penstockd drop every packet from or to a client, or every client under\n"
	"a prefix, until penstock unblock or, with --for, until it expires. It\n"
	"replaces any enforcement on the same subject.\n"
	"\n"
	SUBJECT_HELP
	"\n"
	"  -f, --for DURATION lift the block after DURATION: 30s, 10m, 2h, 1d, at most\n"
	"                     3650d (default: until removed)\n"
	"  -r, --reason TEXT  why, shown by penstock enforcement: at most 63 printable\n"
	"                     ASCII characters\n"
	PS_SOCKET_HELP
	PS_JSON_HELP
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock block 203.0.113.7\n"
	"  penstock block 203.0.113.0/24 --for 10m --reason \"bulk completions\"\n"
	"  penstock block 2001:db8::/48 --reason abuse --json\n"
	"\n"
	PS_EXIT_HELP;

const struct ps_cmd_opts ps_cmd_block_opts = {
	"block", block_usage, PS_OPTS_SOCKET | PS_OPTS_JSON | PS_OPTS_ARGS,
	(const struct ps_opt[]){ FOR_ROW, REASON_ROW, {} },
};

int ps_cmd_block(int argc, char **argv)
{
	char subject[INET6_ADDRSTRLEN + 8], what[sizeof(subject) + 16];
	struct enf_opts o = {};
	int ret = ps_opts_parse(&ps_cmd_block_opts, argc, argv, &o);

	if (ret >= 0)
		return ret;
	ret = enf_subject(&ps_cmd_block_opts, argc, argv, o.c.argi, subject, sizeof(subject));
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "blocked %s", subject);
	return enf_set(&ps_cmd_block_opts, PS_CMD_BLOCK, what, subject, &o);
}

/* --- throttle ------------------------------------------------------------- */

static const char throttle_usage[] =
	"usage: penstock throttle ADDR|PREFIX (--rpm N | --rate RATE) [--burst N]\n"
	"                         [--for DURATION] [--reason TEXT] [--socket PATH]\n"
	"                         [--json]\n"
	"\n"
	"Have penstockd limit a client, or each client under a prefix on its own:\n"
	"with --rpm, to N inference requests a minute (a request over the limit is\n"
	"held back: its first segment is dropped, and TCP sends it again); with\n"
	"--rate, what the endpoints send it, shaped to RATE. Until penstock unblock\n"
	"or, with --for, until it expires. It replaces any enforcement on the same\n"
	"subject.\n"
	"\n"
	SUBJECT_HELP
	"\n"
	"  -m, --rpm N        at most N inference requests a minute, 1..10000000\n"
	"  -b, --burst N      with --rpm: up to N requests back to back, 1..1000000\n"
	"                     (default 1: evenly spaced)\n"
	"  -R, --rate RATE    shape what the endpoints send it to RATE, written as tc\n"
	"                     does: 2mbit, 500kbit, 1.5gbit, 100kbps (bytes); at most\n"
	"                     1tbit\n"
	"  -f, --for DURATION lift the limit after DURATION: 30s, 10m, 2h, 1d, at most\n"
	"                     3650d (default: until removed)\n"
	"  -r, --reason TEXT  why, shown by penstock enforcement: at most 63 printable\n"
	"                     ASCII characters\n"
	PS_SOCKET_HELP
	PS_JSON_HELP
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock throttle 198.18.0.2 --rpm 120\n"
	"  penstock throttle 203.0.113.0/24 --rpm 60 --burst 10 --for 1h --reason quota\n"
	"  penstock throttle 2001:db8::7 --rate 2mbit --for 30m\n"
	"\n"
	PS_EXIT_HELP;

const struct ps_cmd_opts ps_cmd_throttle_opts = {
	"throttle", throttle_usage, PS_OPTS_SOCKET | PS_OPTS_JSON | PS_OPTS_ARGS,
	(const struct ps_opt[]){
		{ .name = "rpm", .key = 'm', .type = PS_OPT_UINT, .min = 1, .max = PS_ENF_RPM_MAX,
		  .off = offsetof(struct enf_opts, rpm) },
		{ .name = "burst", .key = 'b', .type = PS_OPT_UINT, .min = 1,
		  .max = PS_ENF_BURST_MAX, .off = offsetof(struct enf_opts, burst) },
		{ .name = "rate", .key = 'R', .type = PS_OPT_RATE, .max = PS_ENF_RATE_MAX,
		  .off = offsetof(struct enf_opts, rate) },
		FOR_ROW,
		REASON_ROW,
		{},
	},
};

int ps_cmd_throttle(int argc, char **argv)
{
	char subject[INET6_ADDRSTRLEN + 8], what[sizeof(subject) + 96], rate[64];
	struct enf_opts o = {};
	int ret = ps_opts_parse(&ps_cmd_throttle_opts, argc, argv, &o);

	if (ret >= 0)
		return ret;
	ret = enf_subject(&ps_cmd_throttle_opts, argc, argv, o.c.argi, subject, sizeof(subject));
	if (ret)
		return ret;
	if (!o.rpm == !o.rate) {
		fprintf(stderr, o.rpm ? "penstock throttle: --rpm and --rate exclude each other\n"
				      : "penstock throttle: give --rpm N or --rate RATE\n\n%s",
			throttle_usage);
		return PS_EXIT_INPUT;
	}
	if (o.burst && !o.rpm) {
		fprintf(stderr, "penstock throttle: --burst goes with --rpm (a request limit), "
				"not with --rate\n");
		return PS_EXIT_INPUT;
	}
	if (o.rpm)
		snprintf(what, sizeof(what), "throttled %s to %llu rpm, burst %llu,", subject,
			 (unsigned long long)o.rpm, (unsigned long long)(o.burst ? o.burst : 1));
	else
		snprintf(what, sizeof(what), "shaping %s to %s", subject,
			 ps_fmt_rate(o.rate, rate, sizeof(rate)));
	return enf_set(&ps_cmd_throttle_opts, PS_CMD_THROTTLE, what, subject, &o);
}

/* --- unblock -------------------------------------------------------------- */

static const char unblock_usage[] =
	"usage: penstock unblock ADDR|PREFIX [--socket PATH] [--json]\n"
	"\n"
	"Remove the enforcement on exactly ADDR|PREFIX: a block, a throttle or a\n"
	"shaping, set by hand or by penstockd (a day limit, the detector: those may\n"
	"be set again while their cause lasts). Entries on other prefixes, wider or\n"
	"narrower, stay: penstock enforcement lists them.\n"
	"\n"
	SUBJECT_HELP
	"\n"
	PS_SOCKET_HELP
	"  -j, --json         print {\"subject\":..,\"removed\":N}\n"
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock unblock 203.0.113.0/24\n"
	"  penstock unblock 2001:db8::7\n"
	"\n"
	"exit status: 0 ok, 1 penstockd missing or refused the request, or no\n"
	"enforcement on the subject, 2 bad usage, 3 permission denied (not root)\n";

const struct ps_cmd_opts ps_cmd_unblock_opts = {
	"unblock", unblock_usage, PS_OPTS_SOCKET | PS_OPTS_JSON | PS_OPTS_ARGS, NULL,
};

int ps_cmd_unblock(int argc, char **argv)
{
	char subject[INET6_ADDRSTRLEN + 8];
	struct ps_opts_common o = {};
	int ret = ps_opts_parse(&ps_cmd_unblock_opts, argc, argv, &o);
	json_t *ans, *removed;
	json_int_t n;

	if (ret >= 0)
		return ret;
	ret = enf_subject(&ps_cmd_unblock_opts, argc, argv, o.argi, subject, sizeof(subject));
	if (ret)
		return ret;
	ans = ps_ctl_call(ps_cmd_unblock_opts.cmd, ps_ctl_socket_path(o.socket),
			  ps_request_set(ps_request(PS_CMD_UNBLOCK), PS_ARG_SUBJECT,
					 json_string(subject)), &ret);
	if (!ans)
		return ret;
	removed = json_object_get(ans, "removed");
	if (!json_is_integer(removed) || json_integer_value(removed) < 0) {
		fprintf(stderr, "penstock unblock: penstockd's answer has no \"removed\" count\n");
		json_decref(ans);
		return PS_EXIT_FAIL;
	}
	n = json_integer_value(removed);
	if (o.json) {
		ret = ps_ctl_answer_json(ps_cmd_unblock_opts.cmd, ans);
	} else {
		if (n)
			printf("removed %lld %s for %s\n", (long long)n, n == 1 ? "entry" : "entries",
			       subject);
		json_decref(ans);
		ret = PS_EXIT_OK;
	}
	if (!n) {
		fprintf(stderr, "penstock unblock: no enforcement on %s\n", subject);
		ret = PS_EXIT_FAIL;
	}
	return ret;
}

/* --- enforcement ---------------------------------------------------------- */

static const char enforcement_usage[] =
	"usage: penstock enforcement [--socket PATH] [--json]\n"
	"\n"
	"The blocks, throttles and shapings penstockd has in force: on what subject\n"
	"(a client or a prefix), the limit (DETAIL), who set it (ORIGIN: manual,\n"
	"day_limit, minute_limit or detector), the time left (LEFT, - for until\n"
	"removed) and why.\n"
	"An entry marked (dry run) is counted, and touches no packet.\n"
	"\n"
	PS_SOCKET_HELP
	"  -j, --json         print {\"dry_run\":..,\"entries\":[...]}\n"
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock enforcement\n"
	"  penstock enforcement --json | jq '.entries[] | select(.origin == \"detector\")'\n"
	"\n"
	PS_EXIT_HELP;

const struct ps_cmd_opts ps_cmd_enforcement_opts = {
	"enforcement", enforcement_usage, PS_OPTS_SOCKET | PS_OPTS_JSON, NULL,
};

/* DETAIL: "120 rpm, burst 1", "2mbit" or "-". */
static const char *enf_detail(json_t *e, char *buf, size_t len)
{
	const char *action = ps_str_or(e, "action", "");
	json_t *rate = json_object_get(e, "rate_bps");
	char a[32], b[32];

	if (!strcmp(action, "throttle"))
		snprintf(buf, len, "%s rpm, burst %s",
			 ps_fmt_count(json_object_get(e, "rpm"), a, sizeof(a)),
			 ps_fmt_count(json_object_get(e, "burst"), b, sizeof(b)));
	else if (!strcmp(action, "shape") && json_is_integer(rate) && json_integer_value(rate) > 0)
		ps_fmt_rate(json_integer_value(rate), buf, len);
	else
		snprintf(buf, len, "-");
	return buf;
}

struct enf_row {
	struct ps_prefix p;
	bool parsed;	/* p holds the entry's subject */
	size_t idx;	/* in the daemon's answer: ties keep its order */
	json_t *e;
};

/* By subject: IPv4 before IPv6, by address, then prefix length. */

/* By subject: IPv4 before IPv6, by address, then prefix length. */
static int enf_row_cmp(const void *a, const void *b)
{
	const struct enf_row *x = a, *y = b;
	int c;

	if (x->parsed != y->parsed)
		return x->parsed ? -1 : 1;
	if (x->parsed) {
		if (x->p.family != y->p.family)
			return x->p.family < y->p.family ? -1 : 1;
		c = memcmp(x->p.addr, y->p.addr, sizeof(x->p.addr));
		if (c)
			return c;
		if (x->p.len != y->p.len)
			return x->p.len < y->p.len ? -1 : 1;
	}
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int print_enforcement(json_t *ans)
{
	static const struct ps_tbl_col cols[] = {
		{ "SUBJECT", 0, true }, { "ACTION", 0, true }, { "DETAIL", 0, true },
		{ "ORIGIN", 0, true }, { "LEFT", 0, false }, { "REASON", 0, true },
	};
	json_t *entries = json_object_get(ans, "entries"), *e, *left;
	size_t i, n = json_array_size(entries);
	struct enf_row *rows;
	char buf[128];
	struct ps_tbl t;
	int err;

	if (json_is_true(json_object_get(ans, "dry_run")))
		printf("penstockd is in dry run: it counts what enforcement would do, and "
		       "touches no packet\n\n");
	if (!json_array_size(entries)) {
		printf("no enforcement in force\n");
		return 0;
	}
	rows = calloc(n, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	json_array_foreach(entries, i, e) {
		const char *subj = json_string_value(json_object_get(e, "subject"));

		rows[i].parsed = subj && !ps_parse_subject(subj, &rows[i].p, buf, sizeof(buf));
		rows[i].idx = i;
		rows[i].e = e;
	}
	qsort(rows, n, sizeof(*rows), enf_row_cmp);
	ps_tbl_init(&t, cols, 6);
	for (i = 0; i < n; i++) {
		e = rows[i].e;
		ps_tbl_add(&t, ps_str_or(e, "subject", "-"));
		snprintf(buf, sizeof(buf), "%s%s", ps_str_or(e, "action", "-"),
			 json_is_true(json_object_get(e, "dry_run")) ? " (dry run)" : "");
		ps_tbl_add(&t, buf);
		ps_tbl_add(&t, enf_detail(e, buf, sizeof(buf)));
		ps_tbl_add(&t, ps_str_or(e, "origin", "-"));
		left = json_object_get(e, "left_s");
		ps_tbl_add(&t, json_is_integer(left) && json_integer_value(left) >= 0
				    ? ps_duration_str(json_integer_value(left), buf, sizeof(buf))
				    : "-");
		ps_tbl_add(&t, ps_str_or(e, "reason", "-"));
	}
	err = ps_tbl_print(&t, stdout);
	free(rows);
	return err;
}

int ps_cmd_enforcement(int argc, char **argv)
{
	return ps_ctl_show(&ps_cmd_enforcement_opts, argc, argv, PS_CMD_ENFORCEMENT, print_enforcement);
}
