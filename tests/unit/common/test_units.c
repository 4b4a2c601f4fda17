// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the quantity parsers (userspace/common/units.c): sizes, rates,
 * durations and prefixes, and their text forms. Every expected value is
 * worked out by hand from the input, not copied from the code. Output:
 * one line per case, "PASS name" or "FAIL name: why"; the exit status is 1
 * if any case failed.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/units.h"
#include "penstock_abi.h"
#include "../check.h"


#define SIZE_ERR	"a size such as 50MiB (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
#define SIZE_BIG	"a size of at most 18446744073709551615 bytes"
#define RATE_ERR	"a rate such as 2mbit (units bit, kbit, mbit, gbit, tbit, kibit, mibit, gibit; bps, kbps, mbps, gbps for bytes)"
#define RATE_BIG	"a rate of at most 18446744073709551615 bit/s"
#define RATE_ZERO	"a rate above zero, such as 2mbit"
#define DUR_ERR		"a duration such as 30s, 10m, 2h or 1d"
#define DUR_BIG		"a duration of at most 18446744073709551615 seconds"
#define PREFIX_ERR	"an IPv4 or IPv6 address or prefix such as 203.0.113.0/24 or 2001:db8::/32"

typedef int (*u64_parser)(const char *s, uint64_t *v, char *err, size_t errlen);

/* A uint64 case: the value for good input, or the message (err != NULL). */
struct u64_case {
	const char *in;
	uint64_t want;
	const char *err;
};

static const struct u64_case size_cases[] = {
	{ "0", 0, NULL },
	{ "1", 1, NULL },
	{ "1000", 1000, NULL },
	{ "0B", 0, NULL },
	{ "1B", 1, NULL },
	{ "1KB", 1000, NULL },
	{ "1kb", 1000, NULL },
	{ "3MB", 3000000, NULL },
	{ "2GB", 2000000000, NULL },
	{ "1TB", 1000000000000ULL, NULL },
	{ "1KiB", 1024, NULL },
	{ "50MiB", 52428800, NULL },		/* 50 x 1048576 */
	{ "50MIB", 52428800, NULL },
	{ "50mib", 52428800, NULL },
	{ "5GiB", 5368709120ULL, NULL },	/* 5 x 1073741824 */
	{ "1TiB", 1099511627776ULL, NULL },
	{ "16777215TiB", 18446742974197923840ULL, NULL },	/* (2^24 - 1) x 2^40 */
	/* 2^53 + 1: a double can't hold it, the parser must be exact */
	{ "9007199254740993", 9007199254740993ULL, NULL },
	{ "18446744073709551615", UINT64_MAX, NULL },
	{ "18446744073709551615B", UINT64_MAX, NULL },
	{ "007", 7, NULL },			/* decimal, whatever YAML 1.1 would say */
	{ "18446744073709551616", 0, SIZE_BIG },
	{ "99999999999999999999999", 0, SIZE_BIG },
	{ "16777216TiB", 0, SIZE_BIG },		/* 2^24 x 2^40 = 2^64 */
	{ "18446744073709551616B", 0, SIZE_BIG },
	{ "18446744073709552KB", 0, SIZE_BIG },
	{ "", 0, SIZE_ERR },
	{ "MiB", 0, SIZE_ERR },
	{ "1.5GiB", 0, SIZE_ERR },
	{ "-1", 0, SIZE_ERR },
	{ "+1", 0, SIZE_ERR },
	{ " 1", 0, SIZE_ERR },
	{ "1 ", 0, SIZE_ERR },
	{ "1 MiB", 0, SIZE_ERR },
	{ "1e3", 0, SIZE_ERR },
	{ "0x10", 0, SIZE_ERR },
	{ "1MiBB", 0, SIZE_ERR },
	{ "1Mi", 0, SIZE_ERR },
	{ "1M", 0, SIZE_ERR },
	{ "1PB", 0, SIZE_ERR },
	{ "1mbit", 0, SIZE_ERR },
	{},
};

static const struct u64_case rate_cases[] = {
	{ "1bit", 1, NULL },
	{ "2mbit", 2000000, NULL },
	{ "2Mbit", 2000000, NULL },
	{ "2MBIT", 2000000, NULL },
	{ "1kbit", 1000, NULL },
	{ "1gbit", 1000000000, NULL },
	{ "1.5gbit", 1500000000, NULL },
	{ "1tbit", 1000000000000ULL, NULL },
	{ "1kibit", 1024, NULL },
	{ "1mibit", 1048576, NULL },
	{ "1gibit", 1073741824, NULL },
	{ "1.5kibit", 1536, NULL },
	{ "8bps", 64, NULL },
	{ "500kbps", 4000000, NULL },		/* 500 x 1000 bytes x 8 */
	{ "500KBPS", 4000000, NULL },
	{ "1mbps", 8000000, NULL },
	{ "1gbps", 8000000000ULL, NULL },
	{ "0.5kbit", 500, NULL },
	{ "1.25kbit", 1250, NULL },
	{ "0.001kbit", 1, NULL },
	{ "0.5bit", 1, NULL },			/* rounded half away from zero */
	{ "2305843009gbps", 18446744072000000000ULL, NULL },
	{ "18446744073709551615bit", UINT64_MAX, NULL },
	{ "2305843010gbps", 0, RATE_BIG },	/* 18446744080000000000 > 2^64 - 1 */
	{ "18446744073709551616bit", 0, RATE_BIG },
	{ "18446744073709551615.5bit", 0, RATE_BIG },
	{ "0bit", 0, RATE_ZERO },
	{ "0mbit", 0, RATE_ZERO },
	{ "0.0mbit", 0, RATE_ZERO },
	{ "0.4bit", 0, RATE_ZERO },
	{ "", 0, RATE_ERR },
	{ "1000", 0, RATE_ERR },		/* no unit: bits or bytes? */
	{ "mbit", 0, RATE_ERR },
	{ "1.mbit", 0, RATE_ERR },
	{ ".5mbit", 0, RATE_ERR },
	{ "1.5.5mbit", 0, RATE_ERR },
	{ "-1mbit", 0, RATE_ERR },
	{ "2 mbit", 0, RATE_ERR },
	{ "2mbit/s", 0, RATE_ERR },
	{ "1e6bit", 0, RATE_ERR },
	{ "2mb", 0, RATE_ERR },
	{ "2tbps", 0, RATE_ERR },
	{ "2MiB", 0, RATE_ERR },
	{},
};

static const struct u64_case duration_cases[] = {
	{ "0", 0, NULL },
	{ "30", 30, NULL },
	{ "30s", 30, NULL },
	{ "10m", 600, NULL },
	{ "10M", 600, NULL },
	{ "2h", 7200, NULL },
	{ "1d", 86400, NULL },
	{ "213503982334601d", 18446744073709526400ULL, NULL },	/* x 86400 */
	{ "18446744073709551615s", UINT64_MAX, NULL },
	{ "213503982334602d", 0, DUR_BIG },
	{ "18446744073709551616", 0, DUR_BIG },
	{ "", 0, DUR_ERR },
	{ "s", 0, DUR_ERR },
	{ "1.5h", 0, DUR_ERR },
	{ "1w", 0, DUR_ERR },
	{ "1h30m", 0, DUR_ERR },
	{ "-1s", 0, DUR_ERR },
	{ "1 s", 0, DUR_ERR },
	{},
};

static void run_u64(const char *what, u64_parser fn, const struct u64_case *cases)
{
	char name[128], err[256];
	uint64_t v;
	int rc;

	for (; cases->in; cases++) {
		snprintf(name, sizeof(name), "%s \"%s\"", what, cases->in);
		v = 12345;
		err[0] = 0;
		rc = fn(cases->in, &v, err, sizeof(err));
		if (!cases->err) {
			if (rc)
				fail(name, "returned %d (%s), expected %llu", rc, err,
				     (unsigned long long)cases->want);
			else if (v != cases->want)
				fail(name, "%llu, expected %llu", (unsigned long long)v,
				     (unsigned long long)cases->want);
			else
				pass(name);
		} else if (rc != -22) {
			fail(name, "returned %d (value %llu), expected -EINVAL", rc,
			     (unsigned long long)v);
		} else if (strcmp(err, cases->err)) {
			fail(name, "message \"%s\", expected \"%s\"", err, cases->err);
		} else {
			pass(name);
		}
	}
}

/* A prefix case: family, length and address bytes, or the message. */
struct prefix_case {
	const char *in;
	uint8_t family, len;
	uint8_t addr[16];
	const char *text;	/* ps_prefix_str of it */
	const char *err;
};

static const struct prefix_case prefix_cases[] = {
	{ "203.0.113.0/24", PS_AF_INET, 24, { 203, 0, 113, 0 }, "203.0.113.0/24", NULL },
	{ "10.1.2.3", PS_AF_INET, 32, { 10, 1, 2, 3 }, "10.1.2.3", NULL },
	{ "10.1.2.3/32", PS_AF_INET, 32, { 10, 1, 2, 3 }, "10.1.2.3", NULL },
	{ "10.0.0.0/8", PS_AF_INET, 8, { 10 }, "10.0.0.0/8", NULL },
	{ "10.0.0.0/08", PS_AF_INET, 8, { 10 }, "10.0.0.0/8", NULL },
	{ "0.0.0.0/0", PS_AF_INET, 0, { 0 }, "0.0.0.0/0", NULL },
	{ "255.255.255.255", PS_AF_INET, 32, { 255, 255, 255, 255 }, "255.255.255.255", NULL },
	{ "198.18.0.0/15", PS_AF_INET, 15, { 198, 18 }, "198.18.0.0/15", NULL },
	{ "::/0", PS_AF_INET6, 0, { 0 }, "::/0", NULL },
	{ "::", PS_AF_INET6, 128, { 0 }, "::", NULL },
	{ "::1", PS_AF_INET6, 128, { [15] = 1 }, "::1", NULL },
	{ "2001:db8::/32", PS_AF_INET6, 32, { 0x20, 0x01, 0x0d, 0xb8 }, "2001:db8::/32", NULL },
	{ "2001:DB8::/32", PS_AF_INET6, 32, { 0x20, 0x01, 0x0d, 0xb8 }, "2001:db8::/32", NULL },
	{ "2001:0db8:0000::/32", PS_AF_INET6, 32, { 0x20, 0x01, 0x0d, 0xb8 }, "2001:db8::/32",
	  NULL },
	{ "fd00::/8", PS_AF_INET6, 8, { 0xfd }, "fd00::/8", NULL },
	{ "fd00::1/128", PS_AF_INET6, 128, { 0xfd, [15] = 1 }, "fd00::1", NULL },
	{ "fe80::/10", PS_AF_INET6, 10, { 0xfe, 0x80 }, "fe80::/10", NULL },
	{ "::ffff:10.0.0.1", PS_AF_INET6, 128, { [10] = 0xff, 0xff, 10, 0, 0, 1 },
	  "::ffff:10.0.0.1", NULL },
	/* host bits: the message says which prefix was probably meant */
	{ "10.0.0.1/8", 0, 0, { 0 }, NULL, "a prefix without host bits, such as 10.0.0.0/8" },
	{ "10.0.0.1/31", 0, 0, { 0 }, NULL, "a prefix without host bits, such as 10.0.0.0/31" },
	{ "1.2.3.4/0", 0, 0, { 0 }, NULL, "a prefix without host bits, such as 0.0.0.0/0" },
	{ "198.19.0.0/15", 0, 0, { 0 }, NULL,
	  "a prefix without host bits, such as 198.18.0.0/15" },
	{ "fd00::1/64", 0, 0, { 0 }, NULL, "a prefix without host bits, such as fd00::/64" },
	{ "2001:db8::1/127", 0, 0, { 0 }, NULL,
	  "a prefix without host bits, such as 2001:db8::/127" },
	{ "::1/0", 0, 0, { 0 }, NULL, "a prefix without host bits, such as ::/0" },
	/* malformed */
	{ "10.0.0.1/33", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "::/129", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "10.0.0.0/-1", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "10.0.0.0/+8", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "10.0.0.0/ 8", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "10.0.0.0/8 ", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ " 10.0.0.0/8", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "10.0.0.0/", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "10.0.0.0/8/8", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "10.0.0.0/8x", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "10.0.0.0/99999999999999999999", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "10.0.0/8", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "10.0.0.256", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "10", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "/8", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "example.com", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "2001:db8:::/32", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "fe80::1%eth0", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{ "1111:2222:3333:4444:5555:6666:7777:8888:9999/128", 0, 0, { 0 }, NULL, PREFIX_ERR },
	{},
};

static void test_prefixes(void)
{
	static const struct ps_prefix zero;
	const struct prefix_case *t;
	char name[128], err[256], text[64];
	struct ps_prefix p;
	int rc;

	for (t = prefix_cases; t->in; t++) {
		snprintf(name, sizeof(name), "prefix \"%s\"", t->in);
		memset(&p, 0x5a, sizeof(p));
		err[0] = 0;
		rc = ps_parse_prefix(t->in, &p, err, sizeof(err));
		if (t->err) {
			if (rc != -22)
				fail(name, "returned %d, expected -EINVAL", rc);
			else if (strcmp(err, t->err))
				fail(name, "message \"%s\", expected \"%s\"", err, t->err);
			else if (memcmp(&p, &zero, sizeof(p)))
				fail(name, "the prefix was not cleared");
			else
				pass(name);
			continue;
		}
		if (rc)
			fail(name, "returned %d: %s", rc, err);
		else if (p.family != t->family || p.len != t->len)
			fail(name, "family %u length %u, expected %u and %u", p.family, p.len,
			     t->family, t->len);
		else if (memcmp(p.addr, t->addr, sizeof(p.addr)))
			fail(name, "address bytes differ");
		else if (strcmp(ps_prefix_str(&p, text, sizeof(text)), t->text))
			fail(name, "as text \"%s\", expected \"%s\"", text, t->text);
		else
			pass(name);
	}
}

/* ps_prefix_str into a short buffer: cut, but terminated. */
static void test_prefix_str_short(void)
{
	struct ps_prefix p = { .family = PS_AF_INET, .len = 24, .addr = { 203, 0, 113, 0 } };
	char buf[8];

	memset(buf, 'x', sizeof(buf));
	if (strcmp(ps_prefix_str(&p, buf, sizeof(buf)), "203.0.1"))
		fail("prefix_str_short_buffer", "\"%.8s\", expected \"203.0.1\"", buf);
	else
		pass("prefix_str_short_buffer");
}

static void test_durations_str(void)
{
	static const struct {
		uint64_t s;
		const char *want;
	} cases[] = {
		{ 0, "0s" },
		{ 1, "1s" },
		{ 45, "45s" },
		{ 60, "1m" },
		{ 61, "1m1s" },
		{ 600, "10m" },
		{ 3599, "59m59s" },
		{ 3600, "1h" },
		{ 3660, "1h1m" },
		/* the two largest units, and a zero one ends it: cut, not rounded */
		{ 3601, "1h" },
		{ 3661, "1h1m" },
		{ 7500, "2h5m" },
		{ 7559, "2h5m" },
		{ 86399, "23h59m" },
		{ 86400, "1d" },
		{ 86401, "1d" },
		{ 86700, "1d" },
		{ 90000, "1d1h" },
		{ 90061, "1d1h" },
		{ 259200, "3d" },
		{ 31536000, "365d" },
		/* 213503982334601 x 86400 = 18446744073709526400; + 25215 = 7h 0m 15s */
		{ UINT64_MAX, "213503982334601d7h" },
	};
	char name[64], buf[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "duration_str %llu", (unsigned long long)cases[i].s);
		memset(buf, 'x', sizeof(buf));
		if (strcmp(ps_duration_str(cases[i].s, buf, sizeof(buf)), cases[i].want))
			fail(name, "\"%s\", expected \"%s\"", buf, cases[i].want);
		else
			pass(name);
	}
	memset(buf, 'x', sizeof(buf));
	if (strcmp(ps_duration_str(7500, buf, 4), "2h5"))
		fail("duration_str_short_buffer", "\"%.4s\", expected \"2h5\"", buf);
	else
		pass("duration_str_short_buffer");
}

/* Every duration_str of a single unit parses back to itself. */
static void test_duration_round_trip(void)
{
	static const uint64_t values[] = { 0, 59, 60, 3600, 86400, 172800 };
	char buf[64], err[256];
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		ps_duration_str(values[i], buf, sizeof(buf));
		if (ps_parse_duration(buf, &v, err, sizeof(err)) || v != values[i]) {
			fail("duration_round_trip", "%llu -> \"%s\" -> %llu",
			     (unsigned long long)values[i], buf, (unsigned long long)v);
			return;
		}
	}
	pass("duration_round_trip");
}

/* A short message buffer gets a cut, terminated message; none is fine too. */
static void test_short_err(void)
{
	char err[8];
	uint64_t v;

	memset(err, 'x', sizeof(err));
	if (ps_parse_size("1XB", &v, err, sizeof(err)) != -22 || strcmp(err, "a size "))
		fail("short_err_buffer", "\"%.8s\"", err);
	else if (ps_parse_size("1XB", &v, NULL, 0) != -22)
		fail("short_err_buffer", "a NULL buffer changed the result");
	else
		pass("short_err_buffer");
}

int main(void)
{
	run_u64("size", ps_parse_size, size_cases);
	run_u64("rate", ps_parse_rate, rate_cases);
	run_u64("duration", ps_parse_duration, duration_cases);
	test_prefixes();
	test_prefix_str_short();
	test_durations_str();
	test_duration_round_trip();
	test_short_err();
	return nfailed ? 1 : 0;
}
