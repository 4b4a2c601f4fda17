/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every unit test prints: one line per case, "PASS name" or
 * "FAIL name: why" (tests/run counts them), and nfailed for the exit
 * status. A case that checks several things gathers the first thing
 * found wrong in a struct ck and reports once, at ck_end().
 */
#ifndef PS_UNIT_CHECK_H
#define PS_UNIT_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int nfailed;

static inline void pass(const char *name)
{
	printf("PASS %s\n", name);
}

static inline void __attribute__((format(printf, 2, 3))) fail(const char *name, const char *fmt,
							      ...)
{
	va_list ap;

	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	nfailed++;
}

/* One case: its name and the first thing found wrong. */
struct ck {
	const char *name;
	char why[1024];
};

static inline void ck_init(struct ck *c, const char *name)
{
	c->name = name;
	c->why[0] = 0;
}

static inline void __attribute__((format(printf, 2, 3))) ck_fail(struct ck *c, const char *fmt,
								 ...)
{
	va_list ap;

	if (c->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	if (!c->why[0])
		snprintf(c->why, sizeof(c->why), "(no reason)");
}

static inline bool ck_ok(const struct ck *c)
{
	return !c->why[0];
}

static inline void ck_end(struct ck *c)
{
	if (c->why[0])
		fail(c->name, "%s", c->why);
	else
		pass(c->name);
}

#endif
