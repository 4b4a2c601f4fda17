/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The options of the penstock commands, as typed rows in the way of the
 * config keys (common/config.c): a row gives an option's name and letter,
 * its type, its bounds and where its value goes, and ps_opts_parse() does
 * the rest alike for every command: getopt_long, the parsers of
 * common/units.c, the range checks and one wording for every error,
 * "penstock CMD: --NAME 'VALUE': expected WHAT". Every command takes
 * --help; those that speak to penstockd take --socket and --json too.
 */
#ifndef PS_OPTS_H
#define PS_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/protocol.h"

enum ps_opt_type {
	PS_OPT_FLAG,		/* no value: an int set to 1 */
	PS_OPT_STRING,		/* any text: a const char * */
	PS_OPT_CHOICE,		/* one of choices: that choice, a const char * */
	PS_OPT_UINT,		/* a decimal integer (digits), min..max: a uint64_t */
	PS_OPT_DURATION,	/* ps_parse_duration(), min..max seconds: a uint64_t */
	PS_OPT_RATE,		/* ps_parse_rate(), min..max bit/s: a uint64_t */
	PS_OPT_SECONDS,		/* a decimal number of seconds, dmin..dmax: a long, in ms */
	PS_OPT_TEXT,		/* printable ASCII, at most max bytes: a const char * */
};

struct ps_opt {
	const char *name;	/* --name; NULL ends a table */
	int key;		/* -k */
	enum ps_opt_type type;
	size_t off;		/* where the value goes in the command's options */
	uint64_t min, max;	/* UINT, DURATION, RATE: the range; TEXT: max bytes */
	double dmin, dmax;	/* SECONDS: the range */
	const char *const *choices;	/* CHOICE: NULL-terminated */
	const char *expect; /* a value out of range: what was expected; NULL: the type's words */
	const char *note;	/* DURATION: after the type's words */
	/* UINT given more than once: count (an int at count_off) values in an array at off. */
	int count_max;		/* 0: once (the last one given) */
	size_t count_off;
	const char *plural;	/* "ports": "at most 16 ports" */
};

/* The help of the shared options, in every command's usage. */
#define PS_SOCKET_HELP \
	"  -s, --socket PATH  penstockd's control socket (default $" PS_SOCKET_ENV ", else\n" \
	"                     " PS_CONTROL_SOCKET ")\n"
#define PS_JSON_HELP \
	"  -j, --json         print the daemon's answer as one JSON object\n"
#define PS_HELP_HELP \
	"  -h, --help         this text\n"
#define PS_EXIT_HELP \
	"exit status: 0 ok, 1 penstockd missing or refused the request, 2 bad usage,\n" \
	"3 permission denied (reading is for root and the socket's group, changes for\n" \
	"root)\n"

/* The sort key and window of penstock clients and top. */
#define PS_OPT_SORT(T, f)							\
	{ .name = "sort", .key = 'o', .type = PS_OPT_CHOICE, .choices = ps_sort_names,	\
	  .off = offsetof(T, f) }
#define PS_OPT_WINDOW(T, f)							\
	{ .name = "window", .key = 'w', .type = PS_OPT_CHOICE, .choices = ps_window_names,	\
	  .off = offsetof(T, f) }

#define PS_OPTS_SOCKET	0x1	/* -s, --socket PATH: penstockd's control socket */
#define PS_OPTS_JSON	0x2	/* -j, --json */
#define PS_OPTS_ARGS	0x4	/* positional arguments: the command checks them */

/* What the options of every command begin with. */
struct ps_opts_common {
	const char *socket;	/* --socket PATH, NULL when not given */
	int json;		/* --json */
	int argi;		/* argv index of the first positional argument */
};

struct ps_cmd_opts {
	const char *cmd;	/* "clients" */
	const char *usage;	/* --help: usage, options, examples, exit status */
	unsigned int flags;	/* PS_OPTS_* */
	const struct ps_opt *opts;	/* the command's own */
};

/*
 * Parse argv (argv[0] is the command) into vals, a struct that begins with
 * struct ps_opts_common. Returns -1 to go on, else the exit status: 0 after
 * --help, PS_EXIT_INPUT after a mistake (said on stderr).
 */
int ps_opts_parse(const struct ps_cmd_opts *c, int argc, char **argv, void *vals);

/* "penstock CMD: unexpected argument 'X'" and the usage on stderr: PS_EXIT_INPUT. */
int ps_opts_usage_error(const struct ps_cmd_opts *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
