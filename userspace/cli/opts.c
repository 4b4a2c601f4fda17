// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/opts.h"
#include "common/protocol.h"
#include "common/units.h"

#define OPTS_MAX	16

/* What every command takes, after its own options. */
static const struct ps_opt common_opts[] = {
	{ .name = "socket", .key = 's', .type = PS_OPT_STRING,
	  .off = offsetof(struct ps_opts_common, socket) },
	{ .name = "json", .key = 'j', .type = PS_OPT_FLAG,
	  .off = offsetof(struct ps_opts_common, json) },
};

static int expected(const struct ps_cmd_opts *c, const struct ps_opt *o, const char *arg,
		    const char *what)
{
	fprintf(stderr, "penstock %s: --%s '%s': expected %s\n", c->cmd, o->name, arg, what);
	return PS_EXIT_INPUT;
}

/* The type's words for a value out of range. */
static const char *range_words(const struct ps_opt *o, char *buf, size_t len)
{
	char a[32], b[32];

	if (o->expect)
		return o->expect;
	switch (o->type) {
	case PS_OPT_DURATION:
		snprintf(buf, len, "a duration from %s to %s, such as 10m%s",
			 ps_duration_str(o->min, a, sizeof(a)),
			 ps_duration_str(o->max, b, sizeof(b)), o->note ? o->note : "");
		break;
	case PS_OPT_RATE:
		if (o->min)
			snprintf(buf, len, "a rate from %s to %s",
				 ps_fmt_rate(o->min, a, sizeof(a)),
				 ps_fmt_rate(o->max, b, sizeof(b)));
		else
			snprintf(buf, len, "a rate of at most %s",
				 ps_fmt_rate(o->max, b, sizeof(b)));
		break;
	case PS_OPT_SECONDS:
		snprintf(buf, len, "seconds, %g to %g", o->dmin, o->dmax);
		break;
	default:
		snprintf(buf, len, "an integer %llu..%llu", (unsigned long long)o->min,
			 (unsigned long long)o->max);
	}
	return buf;
}

/* A decimal integer, digits only. */
static int parse_uint(const char *arg, uint64_t *v)
{
	char *end;

	if (arg[0] < '0' || arg[0] > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(arg, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

static int parse_seconds(const struct ps_opt *o, const char *arg, long *ms)
{
	double secs;
	char *end;

	errno = 0;
	secs = strtod(arg, &end);
	if (errno || *end || end == arg || !(secs >= o->dmin && secs <= o->dmax))
		return -EINVAL;
	*ms = (long)(secs * 1000 + 0.5);
	return 0;
}

/* Printable ASCII, at most o->max bytes. */
static int check_text(const struct ps_cmd_opts *c, const struct ps_opt *o, const char *arg)
{
	size_t i, n = strlen(arg);

	for (i = 0; i < n; i++)
		if ((unsigned char)arg[i] < 0x20 || (unsigned char)arg[i] > 0x7e)
			break;
	if (n <= o->max && i == n)
		return 0;
	fprintf(stderr,
		"penstock %s: --%s: expected at most %llu printable ASCII characters "
		"(got %zu bytes%s)\n",
		c->cmd, o->name, (unsigned long long)o->max, n,
		i < n ? ", with a control or non-ASCII character" : "");
	return PS_EXIT_INPUT;
}

/* A number, into its place: once, or the next of a repeatable option's. */
static int store_uint(const struct ps_cmd_opts *c, const struct ps_opt *o, char *vals,
		      uint64_t v)
{
	int *n = (int *)(vals + o->count_off);

	if (!o->count_max) {
		memcpy(vals + o->off, &v, sizeof(v));
		return 0;
	}
	if (*n >= o->count_max) {
		fprintf(stderr, "penstock %s: at most %d %s\n", c->cmd, o->count_max, o->plural);
		return PS_EXIT_INPUT;
	}
	memcpy(vals + o->off + (*n)++ * sizeof(v), &v, sizeof(v));
	return 0;
}

/* One option's value, checked and stored: 0, or the exit status. */
static int take(const struct ps_cmd_opts *c, const struct ps_opt *o, const char *arg, char *vals)
{
	char err[256], words[160];
	uint64_t v = 0;
	long ms;
	int i;

	switch (o->type) {
	case PS_OPT_FLAG:
		*(int *)(vals + o->off) = 1;
		return 0;
	case PS_OPT_STRING:
		*(const char **)(vals + o->off) = arg;
		return 0;
	case PS_OPT_TEXT:
		if (check_text(c, o, arg))
			return PS_EXIT_INPUT;
		*(const char **)(vals + o->off) = arg;
		return 0;
	case PS_OPT_CHOICE:
		i = ps_name_find(o->choices, arg);
		if (i < 0)
			return expected(c, o, arg, ps_names_str(o->choices, words, sizeof(words)));
		*(const char **)(vals + o->off) = o->choices[i];
		return 0;
	case PS_OPT_SECONDS:
		if (parse_seconds(o, arg, &ms))
			return expected(c, o, arg, range_words(o, words, sizeof(words)));
		*(long *)(vals + o->off) = ms;
		return 0;
	case PS_OPT_UINT:
		if (parse_uint(arg, &v) || v < o->min || v > o->max)
			return expected(c, o, arg, range_words(o, words, sizeof(words)));
		return store_uint(c, o, vals, v);
	case PS_OPT_DURATION:
	case PS_OPT_RATE:
		if ((o->type == PS_OPT_DURATION ? ps_parse_duration : ps_parse_rate)(arg, &v, err,
										    sizeof(err)))
			return expected(c, o, arg, err);
		if (v < o->min || v > o->max)
			return expected(c, o, arg, range_words(o, words, sizeof(words)));
		return store_uint(c, o, vals, v);
	}
	return PS_EXIT_INPUT;
}

/* The rows a command takes, in getopt_long's order: its own, the shared, --help. */
static int rows_of(const struct ps_cmd_opts *c, const struct ps_opt **rows, struct option *lo,
		   char *optstring)
{
	int n = 0, k = 0;
	size_t i;

	for (i = 0; c->opts && c->opts[i].name && n < OPTS_MAX - 3; i++)
		rows[n++] = &c->opts[i];
	if (c->flags & PS_OPTS_SOCKET)
		rows[n++] = &common_opts[0];
	if (c->flags & PS_OPTS_JSON)
		rows[n++] = &common_opts[1];
	for (i = 0; i < (size_t)n; i++) {
		lo[i] = (struct option){ rows[i]->name,
					 rows[i]->type == PS_OPT_FLAG ? no_argument :
									 required_argument,
					 NULL, rows[i]->key };
		optstring[k++] = rows[i]->key;
		if (rows[i]->type != PS_OPT_FLAG)
			optstring[k++] = ':';
	}
	lo[n] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n + 1] = (struct option){};
	optstring[k++] = 'h';
	optstring[k] = 0;
	return n;
}

int ps_opts_parse(const struct ps_cmd_opts *c, int argc, char **argv, void *vals)
{
	const struct ps_opt *rows[OPTS_MAX];
	struct option lo[OPTS_MAX + 1];
	char optstring[3 * OPTS_MAX + 2];
	int n, i, opt, r;

	n = rows_of(c, rows, lo, optstring);
	optind = 0;	/* getopt afresh: a second command line parses as the first */
	while ((opt = getopt_long(argc, argv, optstring, lo, NULL)) != -1) {
		for (i = 0; i < n && rows[i]->key != opt; i++)
			;
		if (opt == 'h') {
			fputs(c->usage, stdout);
			return PS_EXIT_OK;
		}
		if (i == n) {
			fputs(c->usage, stderr);
			return PS_EXIT_INPUT;
		}
		r = take(c, rows[i], optarg, vals);
		if (r)
			return r;
	}
	((struct ps_opts_common *)vals)->argi = optind;
	if (!(c->flags & PS_OPTS_ARGS) && optind < argc)
		return ps_opts_usage_error(c, "unexpected argument '%s'", argv[optind]);
	return -1;
}

int ps_opts_usage_error(const struct ps_cmd_opts *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "penstock %s: ", c->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n\n");
	fputs(c->usage, stderr);
	return PS_EXIT_INPUT;
}
