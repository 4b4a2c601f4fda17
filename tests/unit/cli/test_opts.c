// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the CLI's typed options (userspace/cli/opts.c): each type
 * of row on good and bad values, the value stored, the exit status and the
 * exact message, --help, an unknown option and a stray argument. The
 * messages are those the penstock commands printed when each parsed its
 * own options (tests/e2e/test_cli runs the commands themselves).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "../check.h"

struct vals {
	struct ps_opts_common c;
	const char *sort, *reason, *config;
	uint64_t limit, for_s, rate, ports[4];
	int nports, keep;
	long interval_ms;
};

static const char usage[] = "usage: penstock t [OPTIONS]\n";

static const struct ps_cmd_opts t_cmd = {
	"t", usage, PS_OPTS_SOCKET | PS_OPTS_JSON,
	(const struct ps_opt[]){
		{ .name = "sort", .key = 'o', .type = PS_OPT_CHOICE, .choices = ps_sort_names,
		  .off = offsetof(struct vals, sort) },
		{ .name = "limit", .key = 'n', .type = PS_OPT_UINT, .max = 100,
		  .off = offsetof(struct vals, limit) },
		{ .name = "for", .key = 'f', .type = PS_OPT_DURATION, .min = 1, .max = 86400,
		  .note = " (or none)", .off = offsetof(struct vals, for_s) },
		{ .name = "rate", .key = 'R', .type = PS_OPT_RATE, .max = 1000000000000ULL,
		  .off = offsetof(struct vals, rate) },
		{ .name = "interval", .key = 'd', .type = PS_OPT_SECONDS, .dmin = 0.1, .dmax = 3600,
		  .off = offsetof(struct vals, interval_ms) },
		{ .name = "reason", .key = 'r', .type = PS_OPT_TEXT, .max = 5,
		  .off = offsetof(struct vals, reason) },
		{ .name = "port", .key = 'p', .type = PS_OPT_UINT, .min = 1, .max = 65535,
		  .expect = "a port 1..65535", .off = offsetof(struct vals, ports), .count_max = 2,
		  .count_off = offsetof(struct vals, nports), .plural = "ports" },
		{ .name = "keep", .key = 'k', .type = PS_OPT_FLAG, .off = offsetof(struct vals, keep) },
		{ .name = "config", .key = 'c', .type = PS_OPT_STRING,
		  .off = offsetof(struct vals, config) },
		{},
	},
};

/* Parse a command line of up to 16 words (argv[0] "t"); stdout and stderr captured. */
static int run(const char *const *words, struct vals *v, char *out, char *err, size_t len)
{
	char *argv[18] = { "t" };
	FILE *fo = tmpfile(), *fe = tmpfile();
	int argc = 1, ret, so = dup(1), se = dup(2);
	size_t n;

	for (; words[argc - 1] && argc < 17; argc++)
		argv[argc] = (char *)words[argc - 1];
	memset(v, 0, sizeof(*v));
	fflush(stdout);
	fflush(stderr);
	dup2(fileno(fo), 1);
	dup2(fileno(fe), 2);
	ret = ps_opts_parse(&t_cmd, argc, argv, v);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	rewind(fo);
	rewind(fe);
	n = fread(out, 1, len - 1, fo);
	out[n] = 0;
	n = fread(err, 1, len - 1, fe);
	err[n] = 0;
	fclose(fo);
	fclose(fe);
	return ret;
}

struct bad_case {
	const char *name;
	const char *words[8];
	const char *err;	/* stderr, whole */
};

static const struct bad_case bad_cases[] = {
	{ "choice", { "--sort", "bad" },
	  "penstock t: --sort 'bad': expected requests, inference_requests, rx_bytes, tx_bytes, "
	  "tx_payload, tx_tokens, rx_tokens or rpm\n" },
	{ "uint_range", { "--limit", "101" }, "penstock t: --limit '101': expected an integer 0..100\n" },
	{ "uint_sign", { "--limit", "+5" }, "penstock t: --limit '+5': expected an integer 0..100\n" },
	{ "uint_text", { "-n", "5x" }, "penstock t: --limit '5x': expected an integer 0..100\n" },
	{ "uint_expect", { "--port", "0" }, "penstock t: --port '0': expected a port 1..65535\n" },
	{ "repeat_max", { "-p", "1", "-p", "2", "-p", "3" }, "penstock t: at most 2 ports\n" },
	{ "duration_parse", { "--for", "10x" },
	  "penstock t: --for '10x': expected a duration such as 30s, 10m, 2h or 1d\n" },
	{ "duration_range", { "--for", "0s" },
	  "penstock t: --for '0s': expected a duration from 1s to 1d, such as 10m (or none)\n" },
	{ "rate_range", { "--rate", "2tbit" },
	  "penstock t: --rate '2tbit': expected a rate of at most 1tbit\n" },
	{ "seconds_range", { "--interval", "0.05" },
	  "penstock t: --interval '0.05': expected seconds, 0.1 to 3600\n" },
	{ "text_long", { "--reason", "abcdef" },
	  "penstock t: --reason: expected at most 5 printable ASCII characters (got 6 bytes)\n" },
	{ "text_control", { "--reason", "a\tb" },
	  "penstock t: --reason: expected at most 5 printable ASCII characters (got 3 bytes, with "
	  "a control or non-ASCII character)\n" },
	{ "stray", { "x" }, "penstock t: unexpected argument 'x'\n\nusage: penstock t [OPTIONS]\n" },
	{ "unknown", { "--bogus" }, "t: unrecognized option '--bogus'\nusage: penstock t [OPTIONS]\n" },
};

static void test_bad(void)
{
	char out[1024], err[1024];
	struct vals v;
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *b = &bad_cases[i];
		int ret = run(b->words, &v, out, err, sizeof(out));
		char name[64];

		snprintf(name, sizeof(name), "bad_%s", b->name);
		if (ret != PS_EXIT_INPUT || strcmp(err, b->err) || out[0])
			fail(name, "exit %d, stderr '%s', stdout '%s'; expected 2 and '%s'", ret, err,
			     out, b->err);
		else
			pass(name);
	}
}

static void test_good(void)
{
	static const char *const w[] = { "-o", "rpm", "--limit", "100", "--for", "1d", "-R",
					 "1.5gbit", "-d", "0.25", "-p", "80", "-p", "8000", NULL };
	static const char *const w2[] = { "--reason", "quota", "-k", "-c", "/x.yaml", "-j",
					  "--socket", "/s", NULL };
	char out[1024], err[1024];
	struct vals v;
	struct ck ck;
	int ret;

	ck_init(&ck, "good_values");
	ret = run(w, &v, out, err, sizeof(out));
	if (ret != -1 || err[0])
		ck_fail(&ck, "exit %d, stderr '%s'", ret, err);
	else if (strcmp(v.sort, "rpm") || v.sort != ps_sort_names[PS_SORT_RPM])
		ck_fail(&ck, "sort '%s', expected the table's 'rpm'", v.sort);
	else if (v.limit != 100 || v.for_s != 86400 || v.rate != 1500000000ULL ||
		 v.interval_ms != 250)
		ck_fail(&ck, "limit %llu for %llu rate %llu interval %ld", (unsigned long long)v.limit,
			(unsigned long long)v.for_s, (unsigned long long)v.rate, v.interval_ms);
	else if (v.nports != 2 || v.ports[0] != 80 || v.ports[1] != 8000)
		ck_fail(&ck, "%d ports", v.nports);
	else if (v.c.argi != 15)
		ck_fail(&ck, "argi %d, expected 15", v.c.argi);
	ck_end(&ck);

	ck_init(&ck, "good_strings_flags");
	ret = run(w2, &v, out, err, sizeof(out));
	if (ret != -1 || err[0])
		ck_fail(&ck, "exit %d, stderr '%s'", ret, err);
	else if (strcmp(v.reason, "quota") || strcmp(v.config, "/x.yaml") || !v.keep ||
		 !v.c.json || strcmp(v.c.socket, "/s"))
		ck_fail(&ck, "reason '%s' config '%s' keep %d json %d socket '%s'", v.reason,
			v.config, v.keep, v.c.json, v.c.socket);
	ck_end(&ck);
}

static void test_help(void)
{
	static const char *const w[] = { "--for", "1m", "-h", "--for", "0s", NULL };
	char out[1024], err[1024];
	struct vals v;
	int ret = run(w, &v, out, err, sizeof(out));

	if (ret != PS_EXIT_OK || strcmp(out, usage) || err[0])
		fail("help", "exit %d, stdout '%s', stderr '%s'", ret, out, err);
	else
		pass("help");
}

int main(void)
{
	test_bad();
	test_good();
	test_help();
	return nfailed ? 1 : 0;
}
