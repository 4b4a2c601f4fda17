// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/format.h"

const char *ps_fmt_duration(long long secs, char *buf, size_t len)
{
	long long d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60, s = secs % 60;

	if (secs < 0)
		snprintf(buf, len, "-");
	else if (d)
		snprintf(buf, len, "%lldd %lldh %lldm %llds", d, h, m, s);
	else if (h)
		snprintf(buf, len, "%lldh %lldm %llds", h, m, s);
	else if (m)
		snprintf(buf, len, "%lldm %llds", m, s);
	else
		snprintf(buf, len, "%llds", s);
	return buf;
}

const char *ps_fmt_bytes(double v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	if (v < 1024) {
		snprintf(buf, len, "%.0f", v);
		return buf;
	}
	while (v >= 1024 && units[u + 1]) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

const char *ps_fmt_count(json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.0f", json_real_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

const char *ps_fmt_decimal(json_t *v, char *buf, size_t len)
{
	if (json_is_number(v))
		snprintf(buf, len, "%.1f", json_number_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

const char *ps_fmt_rate(uint64_t bps, char *buf, size_t len)
{
	static const struct {
		uint64_t mult;
		const char *unit;
	} units[] = {
		{ 1000000000000ULL, "tbit" }, { 1000000000ULL, "gbit" }, { 1000000ULL, "mbit" },
		{ 1000ULL, "kbit" }, { 1ULL << 30, "gibit" }, { 1ULL << 20, "mibit" },
		{ 1ULL << 10, "kibit" },
	};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (bps >= units[i].mult && bps % units[i].mult == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(bps / units[i].mult),
				 units[i].unit);
			return buf;
		}
	}
	snprintf(buf, len, "%llubit", (unsigned long long)bps);
	return buf;
}

double ps_json_num(json_t *obj, const char *key)
{
	return json_number_value(json_object_get(obj, key));
}

const char *ps_str_or(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && *s ? s : dflt;
}

void ps_tbl_init(struct ps_tbl *t, const struct ps_tbl_col *cols, int ncols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols;
}

void ps_tbl_add(struct ps_tbl *t, const char *s)
{
	char *dup;

	if (t->err)
		return;
	if (t->ncells == t->cap) {
		int cap = t->cap ? t->cap * 2 : 64;
		char **n = realloc(t->cells, cap * sizeof(*n));

		if (!n) {
			t->err = -ENOMEM;
			return;
		}
		t->cells = n;
		t->cap = cap;
	}
	dup = strdup(s);
	if (!dup) {
		t->err = -ENOMEM;
		return;
	}
	t->cells[t->ncells++] = dup;
}

static void tbl_row(FILE *f, const struct ps_tbl *t, const int *w, const char *const *cells)
{
	int c;

	for (c = 0; c < t->ncols; c++) {
		const char *sep = c ? " " : "";

		if (!t->cols[c].left)
			fprintf(f, "%s%*s", sep, w[c], cells[c]);
		else if (c == t->ncols - 1)	/* no trailing blanks */
			fprintf(f, "%s%s", sep, cells[c]);
		else
			fprintf(f, "%s%-*s", sep, w[c], cells[c]);
	}
	fputc('\n', f);
}

/* Columns a table may have (penstock clients --window total: 17). */
#define TBL_MAX_COLS	24

int ps_tbl_print(struct ps_tbl *t, FILE *f)
{
	const char *heads[TBL_MAX_COLS];
	int w[TBL_MAX_COLS], c, i, err = t->err;

	if (!err && t->ncols > TBL_MAX_COLS)
		err = -EINVAL;
	for (c = 0; !err && c < t->ncols; c++) {
		heads[c] = t->cols[c].head;
		w[c] = t->cols[c].minw > (int)strlen(heads[c]) ? t->cols[c].minw
							       : (int)strlen(heads[c]);
	}
	for (i = 0; !err && i < t->ncells; i++) {
		int l = strlen(t->cells[i]);

		if (l > w[i % t->ncols])
			w[i % t->ncols] = l;
	}
	if (!err) {
		tbl_row(f, t, w, heads);
		for (i = 0; i + t->ncols <= t->ncells; i += t->ncols)
			tbl_row(f, t, w, (const char *const *)t->cells + i);
	}
	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->ncells = t->cap = 0;
	return err;
}

int ps_tbl_rows(FILE *f, const struct ps_tbl_col *cols, int ncols, json_t *arr,
		void (*row)(struct ps_tbl *t, json_t *e))
{
	struct ps_tbl t;
	json_t *e;
	size_t i;

	ps_tbl_init(&t, cols, ncols);
	json_array_foreach(arr, i, e)
		row(&t, e);
	return ps_tbl_print(&t, f);
}
