/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Prometheus text exposition format, version 0.0.4, written to a
 * stdio stream: a family's HELP and TYPE lines, samples with their labels
 * (values escaped: backslash, double quote, newline), and histograms with
 * cumulative buckets, _sum and _count. penstockd's scrape text
 * (daemon/scrape.c) is written with these alone.
 */
#ifndef PS_EXPO_H
#define PS_EXPO_H

#include <stdint.h>
#include <stdio.h>

#define PS_EXPO_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help" (help escaped) and "# TYPE name type". */
void ps_expo_family(FILE *f, const char *name, const char *type, const char *help);

/*
 * One sample: name, then the labels given as NULL-terminated pairs of
 * label name and value ({k1="v1",k2="v2"}, none: no braces), then the
 * value (integers as integers, NaN and infinities as Prometheus spells
 * them).
 */
void ps_expo_sample(FILE *f, const char *name, const char *const *labels, double v);
void ps_expo_sample_u64(FILE *f, const char *name, const char *const *labels, uint64_t v);

/* A label value escaped as the format wants it, into f. */
void ps_expo_escape(FILE *f, const char *s);

/*
 * A histogram: upper bounds in ascending order (the +Inf bucket is
 * implied), and what was observed. Not cumulative in memory; cumulative
 * when written.
 */
#define PS_EXPO_MAX_BUCKETS	16

struct ps_expo_hist {
	int nb;
	double le[PS_EXPO_MAX_BUCKETS];
	uint64_t n[PS_EXPO_MAX_BUCKETS + 1];	/* [nb]: above the last bound */
	uint64_t count;
	double sum;
};

void ps_expo_hist_init(struct ps_expo_hist *h, const double *le, int nb);
void ps_expo_hist_observe(struct ps_expo_hist *h, double v);
/* name_bucket{le="..."}, name_sum and name_count (the family's lines are the caller's). */
void ps_expo_hist_write(FILE *f, const char *name, const struct ps_expo_hist *h);

#endif
