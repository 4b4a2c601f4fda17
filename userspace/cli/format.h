/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the penstock commands print: figures as people read them, and an
 * aligned text table that sizes its columns to their widest cell.
 */
#ifndef PS_FORMAT_H
#define PS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

const char *ps_fmt_duration(long long secs, char *buf, size_t len);	/* "1d 2h 3m 4s" */
const char *ps_fmt_bytes(double v, char *buf, size_t len);		/* "1.2M" */
/* A counter cell: integer as is, a real rounded, absent "-". */
const char *ps_fmt_count(json_t *v, char *buf, size_t len);
/* A figure with one decimal (rpm), absent "-". */
const char *ps_fmt_decimal(json_t *v, char *buf, size_t len);
/* "2mbit": bits per second in the largest unit that divides them exactly. */
const char *ps_fmt_rate(uint64_t bps, char *buf, size_t len);
/* A member as a number (integer or real), or 0. */
double ps_json_num(json_t *obj, const char *key);
/* A string member for display: dflt when absent, null or empty. */
const char *ps_str_or(json_t *obj, const char *key, const char *dflt);

/* An aligned text table. */
struct ps_tbl_col {
	const char *head;
	int minw;
	bool left;
};

struct ps_tbl {
	const struct ps_tbl_col *cols;
	int ncols;
	int ncells, cap;
	char **cells;	/* row after row, headers not included */
	int err;
};

void ps_tbl_init(struct ps_tbl *t, const struct ps_tbl_col *cols, int ncols);
/* The next cell, row after row. */
void ps_tbl_add(struct ps_tbl *t, const char *s);
/* Prints the table and frees it; 0 or -ENOMEM (nothing printed). */
int ps_tbl_print(struct ps_tbl *t, FILE *f);
/* A table of a JSON array, a row per element by row(); printed as ps_tbl_print(). */
int ps_tbl_rows(FILE *f, const struct ps_tbl_col *cols, int ncols, json_t *arr,
		void (*row)(struct ps_tbl *t, json_t *e));

#endif
