// SPDX-License-Identifier: GPL-2.0-only
/*
 * The text exposition format (expo.h). Numbers: integers below 2^53 as
 * integers; others with 17 significant digits, enough to read back the
 * same double; NaN, +Inf and -Inf as the format spells them.
 */
#include <math.h>
#include <string.h>

#include "metrics/expo.h"

/* HELP text: backslash and newline escaped (a quote is itself there). */
static void escape_help(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void ps_expo_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void ps_expo_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	escape_help(f, help);
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

static void write_number(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.17g", v);
}

static void write_labels(FILE *f, const char *const *labels)
{
	int i;

	if (!labels || !labels[0])
		return;
	fputc('{', f);
	for (i = 0; labels[i] && labels[i + 1]; i += 2) {
		fprintf(f, "%s%s=\"", i ? "," : "", labels[i]);
		ps_expo_escape(f, labels[i + 1]);
		fputc('"', f);
	}
	fputc('}', f);
}

void ps_expo_sample(FILE *f, const char *name, const char *const *labels, double v)
{
	fputs(name, f);
	write_labels(f, labels);
	fputc(' ', f);
	write_number(f, v);
	fputc('\n', f);
}

void ps_expo_sample_u64(FILE *f, const char *name, const char *const *labels, uint64_t v)
{
	fputs(name, f);
	write_labels(f, labels);
	fprintf(f, " %llu\n", (unsigned long long)v);
}

void ps_expo_hist_init(struct ps_expo_hist *h, const double *le, int nb)
{
	memset(h, 0, sizeof(*h));
	h->nb = nb < PS_EXPO_MAX_BUCKETS ? nb : PS_EXPO_MAX_BUCKETS;
	memcpy(h->le, le, h->nb * sizeof(*le));
}

void ps_expo_hist_observe(struct ps_expo_hist *h, double v)
{
	int i;

	for (i = 0; i < h->nb && v > h->le[i]; i++)
		;
	h->n[i]++;
	h->count++;
	h->sum += v;
}

void ps_expo_hist_write(FILE *f, const char *name, const struct ps_expo_hist *h)
{
	char bucket[128], le[32];
	const char *labels[] = { "le", le, NULL };
	uint64_t cum = 0;
	int i;

	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	for (i = 0; i < h->nb; i++) {
		cum += h->n[i];
		snprintf(le, sizeof(le), "%.15g", h->le[i]);
		ps_expo_sample_u64(f, bucket, labels, cum);
	}
	cum += h->n[h->nb];
	snprintf(le, sizeof(le), "+Inf");
	ps_expo_sample_u64(f, bucket, labels, cum);
	snprintf(bucket, sizeof(bucket), "%s_sum", name);
	ps_expo_sample(f, bucket, NULL, h->sum);
	snprintf(bucket, sizeof(bucket), "%s_count", name);
	ps_expo_sample_u64(f, bucket, NULL, h->count);
}
