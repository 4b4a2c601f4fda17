// SPDX-License-Identifier: GPL-2.0-only
/*
 * YAML configuration loader.
 *
 * The file is read whole and loaded with libyaml's document API, so that
 * every node of the tree keeps the line and column it came from. The tree
 * is then walked against tables of keys (config_keys.c): one row per key,
 * saying its type, its bounds, its default and where it lives in struct
 * ps_config. The walker does the type, range, duplicate, unknown-key and
 * missing-key checks and writes the "file:line:column: ..." message for
 * every key alike, so adding a key is adding a row (and a field in
 * config.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "common/config.h"
#include "common/config_keys.h"
#include "common/log.h"
#include "common/units.h"

/* A config is a few hundred bytes: refuse to slurp whatever else is named. */
#define PS_CONFIG_MAX_BYTES	(1 << 20)

const struct ps_key *ps_cfg_find_key(const struct ps_key *keys, const char *s, size_t len)
{
	for (; keys->name; keys++)
		if (strlen(keys->name) == len && !memcmp(keys->name, s, len))
			return keys;
	return NULL;
}

int ps_cfg_store_int(void *p, size_t size, long long v)
{
	uint8_t v8 = v;
	uint16_t v16 = v;
	uint32_t v32 = v;
	uint64_t v64 = v;

	/* The bounds fit the field (checked at build), so truncation is exact. */
	switch (size) {
	case 1:
		memcpy(p, &v8, 1);
		return 0;
	case 2:
		memcpy(p, &v16, 2);
		return 0;
	case 4:
		memcpy(p, &v32, 4);
		return 0;
	case 8:
		memcpy(p, &v64, 8);
		return 0;
	}
	return -EINVAL;
}

long long ps_cfg_load_int(const void *p, size_t size, bool is_signed)
{
	uint8_t v8 = 0;
	uint16_t v16 = 0;
	uint32_t v32 = 0;
	uint64_t v64 = 0;

	switch (size) {
	case 1:
		memcpy(&v8, p, 1);
		return is_signed ? (long long)(int8_t)v8 : (long long)v8;
	case 2:
		memcpy(&v16, p, 2);
		return is_signed ? (long long)(int16_t)v16 : (long long)v16;
	case 4:
		memcpy(&v32, p, 4);
		return is_signed ? (long long)(int32_t)v32 : (long long)v32;
	case 8:
		memcpy(&v64, p, 8);
		return v64;
	}
	return 0;
}

/* Set every key of a mapping to its default (lists to their default entries). */
void ps_cfg_defaults(const struct ps_key *keys, void *obj)
{
	const struct ps_key *k;
	char *field;
	int n;

	for (k = keys; k->name; k++) {
		field = (char *)obj + k->off;
		switch (k->type) {
		case PS_T_INT:
		case PS_T_BOOL:
		case PS_T_ENUM:
		case PS_T_QTY:
			ps_cfg_store_int(field, k->size, k->def);
			break;
		case PS_T_PREFIX:
			memset(field, 0, k->size);
			break;
		case PS_T_DEC:
			memcpy(field, &k->ddef, sizeof(k->ddef));
			break;
		case PS_T_STR:
			snprintf(field, k->size, "%s", k->def_str ? k->def_str : "");
			break;
		case PS_T_LIST:
			memset(field, 0, k->max * k->size);
			for (n = 0; k->def_list && k->def_list[n] && n < k->max; n++)
				snprintf(field + n * k->size, k->size, "%s", k->def_list[n]);
			if (k->def_arr) {
				n = k->def_n;
				memcpy(field, k->def_arr, n * k->size);
			}
			memcpy((char *)obj + k->count_off, &n, sizeof(n));
			break;
		case PS_T_MAP:
			ps_cfg_defaults(k->keys, field);
			if (k->finish)
				k->finish(field);
			break;
		}
	}
}

int ps_cfg_error(struct ps_ctx *c, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->err || !c->errlen)
		return -EINVAL;
	n = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->file, m->line + 1, m->column + 1);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Separator after a key path, none at the top where the path is "". */
static const char *sep(const char *path)
{
	return *path ? ": " : "";
}

/* Quote a value for a one-line message: unprintable bytes escaped, long ones cut. */
const char *ps_cfg_quote(char *buf, size_t buflen, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	buf[o++] = '\'';
	for (i = 0; i < len && i < PS_QUOTE_MAX && o + 8 < buflen; i++) {
		unsigned char ch = s[i];

		if (ch >= ' ' && ch <= '~') {
			buf[o++] = ch;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 15];
		}
	}
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = 0;
	return buf;
}

const char *ps_cfg_scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* YAML 1.1 nulls: an optional key with one of these is as if absent. */
bool ps_cfg_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (i = 0; i < NELEMS(nulls); i++)
		if (!strcmp(ps_cfg_scalar(n), nulls[i]))
			return true;
	return false;
}

/* What a node is, for "got ..., expected ..." messages. */
static const char *describe(const yaml_node_t *n, char *buf, size_t len)
{
	char q[4 * PS_QUOTE_MAX + 8];

	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		if (ps_cfg_is_null(n))
			return "an empty value";
		ps_cfg_quote(q, sizeof(q), ps_cfg_scalar(n), n->data.scalar.length);
		if (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		    n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
			snprintf(buf, len, "the quoted string %s", q);
		else
			snprintf(buf, len, "%s", q);
		return buf;
	default:
		return "nothing";
	}
}

static void key_names(const struct ps_key *keys, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (; keys->name && o < len; keys++)
		o += snprintf(buf + o, len - o, "%s%s", o ? ", " : "", keys->name);
}

/* What a row accepts, for the "expected ..." half of messages. */
static const char *expectation(const struct ps_key *k, char *buf, size_t len)
{
	struct ps_prefix prefix;
	const char *sp;
	char names[512];
	uint64_t v;
	size_t o;
	int i;

	switch (k->type) {
	case PS_T_INT:
		snprintf(buf, len, "an integer in %lld..%lld", k->min, k->max);
		break;
	case PS_T_STR:
		snprintf(buf, len, "a string of %lld..%lld characters%s%s",
			 k->min, k->max, k->rule ? ", " : "", k->rule ? k->rule : "");
		break;
	case PS_T_LIST:
		snprintf(buf, len, "a list of %lld..%lld %s", k->min, k->max, k->what);
		break;
	case PS_T_MAP:
		key_names(k->keys, names, sizeof(names));
		snprintf(buf, len, "a mapping with keys %s", names);
		break;
	case PS_T_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case PS_T_ENUM:
		o = snprintf(buf, len, "one of ");
		for (i = k->min, sp = ""; i <= k->max && o < len; i++) {
			if (!k->names[i])
				continue;
			o += snprintf(buf + o, len - o, "%s%s", sp, k->names[i]);
			sp = ", ";
		}
		break;
	/* The parsers refuse "" and say what they take, in their own words. */
	case PS_T_QTY:
		k->parse_u64("", &v, buf, len);
		break;
	case PS_T_PREFIX:
		if (k->flags & PS_K_KEYID)
			ps_parse_subject("key:", &prefix, buf, len);
		else
			ps_parse_prefix("", &prefix, buf, len);
		break;
	case PS_T_DEC:
		snprintf(buf, len, "a decimal number in %.15g..%.15g", k->dmin, k->dmax);
		break;
	}
	return buf;
}

static int type_error(struct ps_ctx *c, const struct ps_key *k, const yaml_node_t *n,
		      const char *path)
{
	char got[4 * PS_QUOTE_MAX + 32], want[768];

	return ps_cfg_error(c, &n->start_mark, "%s%sgot %s, expected %s", path, sep(path),
			describe(n, got, sizeof(got)), expectation(k, want, sizeof(want)));
}

yaml_node_t *ps_cfg_node(struct ps_ctx *c, int index)
{
	return yaml_document_get_node(c->doc, index);
}

static int parse_value(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		       const char *path);

static int leading_zero_error(struct ps_ctx *c, const struct ps_key *k, const yaml_node_t *n,
			      const char *path)
{
	size_t len = n->data.scalar.length;
	char want[512];

	return ps_cfg_error(
	    c, &n->start_mark,
	    "%s%s%.*s%s has a leading zero (octal in YAML 1.1), expected %s without one", path,
	    sep(path), PS_QUOTE_MAX, ps_cfg_scalar(n), len > PS_QUOTE_MAX ? "..." : "",
	    expectation(k, want, sizeof(want)));
}

/*
 * Integers are plain decimal scalars only: a quoted "8000" is a string in
 * YAML, and a leading zero is octal in YAML 1.1 but decimal elsewhere, so
 * both are refused rather than guessed at.
 */
static int parse_int(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		     const char *path)
{
	unsigned long long v = 0;
	bool neg = false, big = false;
	size_t i = 0, len;
	char want[512];
	const char *s;
	long long val;

	if (n->type != YAML_SCALAR_NODE || ps_cfg_is_null(n) ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return type_error(c, k, n, path);
	s = ps_cfg_scalar(n);
	len = n->data.scalar.length;
	if (s[0] == '-' || s[0] == '+')
		neg = s[i++] == '-';
	if (i == len || strspn(s + i, "0123456789") != len - i)
		return type_error(c, k, n, path);
	if (s[i] == '0' && len - i > 1)
		return leading_zero_error(c, k, n, path);
	/* Checked before the step: twenty digits can wrap past 2^64 into range. */
	for (; i < len && !big; i++) {
		big = v > ((unsigned long long)LLONG_MAX - (s[i] - '0')) / 10;
		v = v * 10 + (s[i] - '0');
	}
	val = neg ? -(long long)v : (long long)v;
	if (big || val < k->min || val > k->max)
		return ps_cfg_error(c, &n->start_mark, "%s%s%.*s%s is out of range, expected %s",
				path, sep(path), PS_QUOTE_MAX, s, len > PS_QUOTE_MAX ? "..." : "",
				expectation(k, want, sizeof(want)));
	return ps_cfg_store_int((char *)obj + k->off, k->size, val);
}

/* Booleans are the plain scalars true and false: not yes/no/on/off, not quoted. */
static int parse_bool(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		      const char *path)
{
	int v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return type_error(c, k, n, path);
	if (!strcmp(ps_cfg_scalar(n), "true"))
		v = 1;
	else if (!strcmp(ps_cfg_scalar(n), "false"))
		v = 0;
	else
		return type_error(c, k, n, path);
	return ps_cfg_store_int((char *)obj + k->off, k->size, v);
}

/*
 * Decimals are plain scalars in YAML 1.2's float syntax: digits with an
 * optional fraction and exponent (3.5, 0.9, .5, 5, 1e6, 2.5E-1). Not
 * quoted (a string in YAML), not .inf or .nan, not hex; a bare integer
 * has no leading zero, as for PS_T_INT.
 */
static int parse_dec(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		     const char *path)
{
	static const char digits[] = "0123456789";
	size_t i = 0, len, sign, whole, frac = 0;
	char want[512];
	const char *s;
	double v;

	if (n->type != YAML_SCALAR_NODE || ps_cfg_is_null(n) ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return type_error(c, k, n, path);
	s = ps_cfg_scalar(n);
	len = n->data.scalar.length;
	/* strspn stops at a NUL, which then fails the i == len check. */
	sign = s[0] == '-' || s[0] == '+';
	i = sign;
	whole = strspn(s + i, digits);
	i += whole;
	if (s[i] == '.') {
		frac = strspn(s + i + 1, digits);
		i += 1 + frac;
	}
	if (!whole && !frac)
		return type_error(c, k, n, path);
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		i += s[i] == '-' || s[i] == '+';
		if (!strspn(s + i, digits))
			return type_error(c, k, n, path);
		i += strspn(s + i, digits);
	}
	if (i != len)
		return type_error(c, k, n, path);
	if (whole == len - sign && whole > 1 && s[sign] == '0')
		return leading_zero_error(c, k, n, path);
	v = strtod(s, NULL);
	/* Too large is inf (ERANGE); too small to tell from 0 is 0, a fine value. */
	if (!isfinite(v) || v < k->dmin || v > k->dmax)
		return ps_cfg_error(c, &n->start_mark, "%s%s%.*s%s is out of range, expected %s",
				path, sep(path), PS_QUOTE_MAX, s, len > PS_QUOTE_MAX ? "..." : "",
				expectation(k, want, sizeof(want)));
	memcpy((char *)obj + k->off, &v, sizeof(v));
	return 0;
}

/* A name, plain or quoted, spelt exactly as in the table. */
static int parse_enum(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		      const char *path)
{
	size_t len;
	int v;

	if (n->type != YAML_SCALAR_NODE || ps_cfg_is_null(n))
		return type_error(c, k, n, path);
	len = n->data.scalar.length;
	for (v = k->min; v <= k->max; v++)
		if (k->names[v] && strlen(k->names[v]) == len &&
		    !memcmp(k->names[v], ps_cfg_scalar(n), len))
			return ps_cfg_store_int((char *)obj + k->off, k->size, v);
	return type_error(c, k, n, path);
}

/*
 * The text of a scalar for a units.c parser, which takes a C string: NULL
 * (after the message) if the node is not a scalar or holds a NUL, which
 * would cut the text short.
 */
static const char *parser_text(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n,
			       const char *path)
{
	if (n->type != YAML_SCALAR_NODE || ps_cfg_is_null(n) ||
	    memchr(ps_cfg_scalar(n), 0, n->data.scalar.length)) {
		type_error(c, k, n, path);
		return NULL;
	}
	return ps_cfg_scalar(n);
}

/*
 * Sizes and rates, plain (50MiB) or quoted. A plain integer is a YAML
 * integer: the leading zero rule of INT applies to it.
 */
static int parse_qty(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		     const char *path)
{
	char got[4 * PS_QUOTE_MAX + 32], why[256];
	const char *s = parser_text(c, k, n, path);
	size_t len;
	uint64_t v;

	if (!s)
		return -EINVAL;
	len = n->data.scalar.length;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && len > 1 && s[0] == '0' &&
	    strspn(s, "0123456789") == len)
		return leading_zero_error(c, k, n, path);
	if (k->parse_u64(s, &v, why, sizeof(why)))
		return ps_cfg_error(c, &n->start_mark, "%s%sgot %s, expected %s", path, sep(path),
				describe(n, got, sizeof(got)), why);
	if (v < k->umin || v > k->umax)
		return ps_cfg_error(c, &n->start_mark,
				"%s%s%.*s%s is out of range, expected a %s in %llu..%llu %s",
				path, sep(path), PS_QUOTE_MAX, s, len > PS_QUOTE_MAX ? "..." : "",
				k->what, (unsigned long long)k->umin,
				(unsigned long long)k->umax, k->unit);
	memcpy((char *)obj + k->off, &v, sizeof(v));
	return 0;
}

/*
 * Prefixes, plain or quoted (an IPv6 one often needs quotes in a flow
 * list); API key ids where the key says (PS_K_KEYID).
 */
static int parse_prefix(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
			const char *path)
{
	char got[4 * PS_QUOTE_MAX + 32], why[256];
	const char *s = parser_text(c, k, n, path);
	struct ps_prefix p;

	if (!s)
		return -EINVAL;
	if ((k->flags & PS_K_KEYID) ?
		    ps_parse_subject(s, &p, why, sizeof(why)) || p.family != PS_AF_KEY :
		    ps_parse_prefix(s, &p, why, sizeof(why))) {
		if (k->flags & PS_K_KEYID)
			ps_parse_subject("key:", &p, why, sizeof(why));
		return ps_cfg_error(c, &n->start_mark, "%s%sgot %s, expected %s", path, sep(path),
				describe(n, got, sizeof(got)), why);
	}
	memcpy((char *)obj + k->off, &p, sizeof(p));
	return 0;
}

static int parse_str(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		     const char *path)
{
	char q[4 * PS_QUOTE_MAX + 8], want[512];
	const char *s, *problem = NULL;
	size_t i, len;

	if (n->type != YAML_SCALAR_NODE || ps_cfg_is_null(n))
		return type_error(c, k, n, path);
	s = ps_cfg_scalar(n);
	len = n->data.scalar.length;
	if (!len)
		return ps_cfg_error(c, &n->start_mark, "%s%sgot an empty string, expected %s",
				path, sep(path), expectation(k, want, sizeof(want)));
	if ((long long)len < k->min || (long long)len > k->max)
		return ps_cfg_error(c, &n->start_mark, "%s%s%s is %zu characters long, expected %s",
				path, sep(path), ps_cfg_quote(q, sizeof(q), s, len), len,
				expectation(k, want, sizeof(want)));
	/* Whatever a row allows, no control byte (or NUL) gets into a C string. */
	for (i = 0; i < len && !problem; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			problem = "contains a control character";
	if (!problem && k->check)
		problem = k->check(s, len);
	if (problem)
		return ps_cfg_error(c, &n->start_mark, "%s%s%s %s, expected %s", path, sep(path),
				ps_cfg_quote(q, sizeof(q), s, len), problem,
				expectation(k, want, sizeof(want)));
	memcpy((char *)obj + k->off, s, len);
	((char *)obj)[k->off + len] = 0;
	return 0;
}

/* The pair of key name in a mapping, or NULL. */
static yaml_node_pair_t *map_pair(struct ps_ctx *c, yaml_node_t *map, const char *name)
{
	yaml_node_pair_t *p;
	yaml_node_t *key;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		key = ps_cfg_node(c, p->key);
		if (key->type == YAML_SCALAR_NODE && !strcmp(ps_cfg_scalar(key), name))
			return p;
	}
	return NULL;
}

yaml_node_t *ps_cfg_map_value(struct ps_ctx *c, yaml_node_t *map, const char *name)
{
	yaml_node_pair_t *p = map_pair(c, map, name);

	return p ? ps_cfg_node(c, p->value) : NULL;
}

static bool same_value(const struct ps_key *k, const char *a, const char *b)
{
	switch (k->type) {
	case PS_T_INT:
	case PS_T_BOOL:
	case PS_T_ENUM:
	case PS_T_QTY:
	case PS_T_PREFIX:
	case PS_T_DEC:
		return !memcmp(a + k->off, b + k->off, k->size);
	case PS_T_STR:
		return !strcmp(a + k->off, b + k->off);
	default:
		return false;
	}
}

static const char *value_text(const struct ps_key *k, const char *obj, char *buf, size_t len)
{
	if (k->type == PS_T_STR)
		ps_cfg_quote(buf, len, obj + k->off, strlen(obj + k->off));
	else if (k->type == PS_T_PREFIX)
		ps_prefix_str((const struct ps_prefix *)(obj + k->off), buf, len);
	else if (k->type == PS_T_QTY)
		snprintf(buf, len, "%llu",
			 (unsigned long long)ps_cfg_load_int(obj + k->off, k->size, false));
	else if (k->type == PS_T_DEC)
		snprintf(buf, len, "%.15g", *(const double *)(obj + k->off));
	else
		snprintf(buf, len, "%lld", ps_cfg_load_int(obj + k->off, k->size, k->min < 0));
	return buf;
}

/*
 * Check that row k of entry i of a list differs from every earlier entry.
 * k is the list's elem itself (a list of strings), or a key of the
 * mappings the list holds, named by key.
 */
static int check_unique(struct ps_ctx *c, const struct ps_key *k, const char *key,
			yaml_node_t *list, const char *arr, size_t stride, int i,
			const char *path)
{
	yaml_node_item_t *items = list->data.sequence.items.start;
	yaml_node_t *here, *there, *v;
	char text[4 * PS_QUOTE_MAX + 8], kpath[256];
	int j;

	for (j = 0; j < i; j++) {
		if (!same_value(k, arr + i * stride, arr + j * stride))
			continue;
		here = ps_cfg_node(c, items[i]);
		there = ps_cfg_node(c, items[j]);
		if (key) {
			/* A value filled by default has no node: point at its entry. */
			v = ps_cfg_map_value(c, here, key);
			here = v ? v : here;
			v = ps_cfg_map_value(c, there, key);
			there = v ? v : there;
		}
		snprintf(kpath, sizeof(kpath), "%s%s%s", path, key ? "." : "", key ? key : "");
		return ps_cfg_error(c, &here->start_mark,
				"%s: duplicate %s (first at line %zu), expected unique values",
				kpath, value_text(k, arr + i * stride, text, sizeof(text)),
				there->start_mark.line + 1);
	}
	return 0;
}

static int parse_list(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		      const char *path)
{
	const struct ps_key *e = k->elem, *r;
	yaml_node_item_t *items;
	char *arr = (char *)obj + k->off, want[512], epath[256];
	int i, count, ret;

	if (n->type != YAML_SEQUENCE_NODE)
		return type_error(c, k, n, path);
	items = n->data.sequence.items.start;
	count = n->data.sequence.items.top - items;
	if (!count && k->min > 0)
		return ps_cfg_error(c, &n->start_mark, "%s%sgot an empty list, expected %s",
				path, sep(path), expectation(k, want, sizeof(want)));
	if (count < k->min || count > k->max)
		return ps_cfg_error(c, count > k->max ? &ps_cfg_node(c, items[k->max])->start_mark :
						   &n->start_mark,
				"%s%sgot %d entries, expected %s", path, sep(path), count,
				expectation(k, want, sizeof(want)));

	/* The file's list replaces the default one, not adds to it. */
	memset(arr, 0, k->max * k->size);
	for (i = 0; i < count; i++) {
		char *entry = arr + i * k->size;

		snprintf(epath, sizeof(epath), "%s[%d]", path, i);
		if (e->type == PS_T_MAP)
			ps_cfg_defaults(e->keys, entry + e->off);
		ret = parse_value(c, e, ps_cfg_node(c, items[i]), entry, epath);
		if (ret)
			return ret;
		if (e->flags & PS_K_UNIQUE) {
			ret = check_unique(c, e, NULL, n, arr, k->size, i, epath);
			if (ret)
				return ret;
		}
		for (r = e->type == PS_T_MAP ? e->keys : NULL; r && r->name; r++) {
			if (!(r->flags & PS_K_UNIQUE))
				continue;
			ret = check_unique(c, r, r->name, n, arr + e->off, k->size, i, epath);
			if (ret)
				return ret;
		}
	}
	memcpy((char *)obj + k->count_off, &count, sizeof(count));
	return 0;
}

static int parse_map(struct ps_ctx *c, const struct ps_key *m, yaml_node_t *n, void *obj,
		     const char *path)
{
	yaml_node_pair_t *p, *q, *pairs;
	const struct ps_key *k;
	yaml_node_t *key, *val;
	char kpath[256], got[4 * PS_QUOTE_MAX + 32], names[512], want[768];
	int ret;

	if (n->type != YAML_MAPPING_NODE)
		return type_error(c, m, n, path);
	pairs = n->data.mapping.pairs.start;
	key_names(m->keys, names, sizeof(names));
	for (p = pairs; p < n->data.mapping.pairs.top; p++) {
		key = ps_cfg_node(c, p->key);
		if (key->type != YAML_SCALAR_NODE)
			return ps_cfg_error(c, &key->start_mark,
					    "%s%sgot %s as a key, expected one of %s", path,
					    sep(path), describe(key, got, sizeof(got)), names);
		k = ps_cfg_find_key(m->keys, ps_cfg_scalar(key), key->data.scalar.length);
		if (!k)
			return ps_cfg_error(c, &key->start_mark,
					    "%s%sunknown key %s, expected one of %s", path,
					    sep(path),
					    ps_cfg_quote(got, sizeof(got), ps_cfg_scalar(key),
							 key->data.scalar.length),
					    names);
		/* Earlier keys are all known and distinct, so this stays small. */
		for (q = pairs; q < p; q++) {
			if (strcmp(ps_cfg_scalar(ps_cfg_node(c, q->key)), k->name))
				continue;
			return ps_cfg_error(c, &key->start_mark,
					"%s%skey '%s' appears twice (first at line %zu), expected each key once",
					path, sep(path), k->name,
					ps_cfg_node(c, q->key)->start_mark.line + 1);
		}
		val = ps_cfg_node(c, p->value);
		/* "key:" with nothing after it keeps the default, as if absent. */
		if (ps_cfg_is_null(val) && !(k->flags & PS_K_REQUIRED))
			continue;
		snprintf(kpath, sizeof(kpath), "%s%s%s", path, *path ? "." : "", k->name);
		ret = parse_value(c, k, val, obj, kpath);
		if (ret)
			return ret;
	}
	for (k = m->keys; k->name; k++) {
		if (!(k->flags & PS_K_REQUIRED) || ps_cfg_map_value(c, n, k->name))
			continue;
		return ps_cfg_error(c, &n->start_mark, "%s%smissing key '%s', expected %s",
				path, sep(path), k->name, expectation(k, want, sizeof(want)));
	}
	if (m->finish)
		m->finish(obj);
	if (m->verify)
		return m->verify(c, n, obj, path);
	return 0;
}

/* A mapping as a row's value: its fields at the row's offset. */
static int parse_map_row(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
			 const char *path)
{
	return parse_map(c, k, n, (char *)obj + k->off, path);
}

static int parse_value(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		       const char *path)
{
	static int (*const parse[])(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n,
				    void *obj, const char *path) = {
		[PS_T_INT] = parse_int,		[PS_T_STR] = parse_str,
		[PS_T_LIST] = parse_list,	[PS_T_MAP] = parse_map_row,
		[PS_T_BOOL] = parse_bool,	[PS_T_ENUM] = parse_enum,
		[PS_T_QTY] = parse_qty,		[PS_T_PREFIX] = parse_prefix,
		[PS_T_DEC] = parse_dec,
	};

	if ((size_t)k->type >= NELEMS(parse) || !parse[k->type])
		return -EINVAL;
	return parse[k->type](c, k, n, obj, path);
}

yaml_node_t *ps_cfg_map_key(struct ps_ctx *c, yaml_node_t *map, const char *name)
{
	yaml_node_pair_t *p = map_pair(c, map, name);

	return p ? ps_cfg_node(c, p->key) : NULL;
}

/* Entry i of a sequence (which has it: the list was read from it). */
yaml_node_t *ps_cfg_seq_item(struct ps_ctx *c, yaml_node_t *seq, int i)
{
	return ps_cfg_node(c, seq->data.sequence.items.start[i]);
}

yaml_node_t *ps_cfg_given_key(struct ps_ctx *c, yaml_node_t *map, const char *name)
{
	yaml_node_pair_t *p = map_pair(c, map, name);

	return p && !ps_cfg_is_null(ps_cfg_node(c, p->value)) ? ps_cfg_node(c, p->key) : NULL;
}

/*
 * The reader reports a byte offset, not a mark: count lines and characters
 * (UTF-8 lead bytes) up to it, as libyaml's own marks do.
 */
static yaml_mark_t mark_at(const char *buf, size_t len, size_t offset)
{
	yaml_mark_t m = { 0 };
	size_t i;

	for (i = 0; i < offset && i < len; i++) {
		if (buf[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			m.column++;
		}
	}
	m.index = offset;
	return m;
}

static int yaml_error(struct ps_ctx *c, yaml_parser_t *p, const char *buf, size_t len)
{
	yaml_mark_t m;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		snprintf(c->err, c->errlen, "%s: out of memory", c->file);
		return -ENOMEM;
	case YAML_READER_ERROR:
		m = mark_at(buf, len, p->problem_offset);
		if (p->problem_value != -1)
			return ps_cfg_error(c, &m, "invalid input: %s #x%X, expected UTF-8 text",
					p->problem, p->problem_value);
		return ps_cfg_error(c, &m, "invalid input: %s, expected UTF-8 text", p->problem);
	default:
		if (p->context)
			return ps_cfg_error(c, &p->problem_mark,
					"YAML syntax error %s (line %zu, column %zu): %s",
					p->context, p->context_mark.line + 1,
					p->context_mark.column + 1, p->problem);
		return ps_cfg_error(c, &p->problem_mark, "YAML syntax error: %s",
				p->problem ? p->problem : "unknown");
	}
}

static int read_file(const char *path, char **bufp, size_t *lenp)
{
	size_t len = 0;
	ssize_t n;
	char *buf;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* One byte more than the limit tells a full-size file from a bigger one. */
	buf = malloc(PS_CONFIG_MAX_BYTES + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len <= PS_CONFIG_MAX_BYTES) {
		n = read(fd, buf + len, PS_CONFIG_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	if (!ret && len > PS_CONFIG_MAX_BYTES)
		ret = -EFBIG;
	if (ret) {
		free(buf);
		return ret;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

void ps_config_init(struct ps_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	ps_cfg_defaults(ps_cfg_root_keys, cfg);
}

/* Parse a loaded document into cfg. */
static int load_document(struct ps_ctx *c, struct ps_config *cfg)
{
	yaml_node_t *root = yaml_document_get_root_node(c->doc);
	yaml_mark_t start = { 0 };
	char want[512];

	if (!root || ps_cfg_is_null(root))
		return ps_cfg_error(c, root ? &root->start_mark : &start,
				"the file is empty, expected %s",
				expectation(&ps_cfg_root, want, sizeof(want)));
	return parse_map(c, &ps_cfg_root, root, cfg, "");
}

int ps_config_parse(const char *name, const char *buf, size_t len, struct ps_config *cfg,
		    char *err, size_t errlen)
{
	struct ps_ctx c = { .file = name, .err = err, .errlen = errlen };
	yaml_document_t doc, next;
	yaml_parser_t parser;
	struct ps_config *tmp;
	char dummy[1];
	int ret;

	/* Callers that don't want the message may pass NULL. */
	if (!c.err || !c.errlen) {
		c.err = dummy;
		c.errlen = sizeof(dummy);
	}
	c.err[0] = 0;
	if (strlen(name) >= sizeof(cfg->source)) {
		snprintf(c.err, c.errlen, "%.64s...: file name longer than %zu bytes",
			 name, sizeof(cfg->source) - 1);
		return -ENAMETOOLONG;
	}
	if (len > PS_CONFIG_MAX_BYTES) {
		snprintf(c.err, c.errlen, "%s: larger than %d bytes, expected a configuration file",
			 name, PS_CONFIG_MAX_BYTES);
		return -EFBIG;
	}

	/* Parse into a copy, so that cfg is untouched unless all of it is good. */
	tmp = malloc(sizeof(*tmp));
	if (!tmp || !yaml_parser_initialize(&parser)) {
		snprintf(c.err, c.errlen, "%s: out of memory", name);
		free(tmp);
		return -ENOMEM;
	}
	ps_config_init(tmp);
	snprintf(tmp->source, sizeof(tmp->source), "%s", name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

	if (!yaml_parser_load(&parser, &doc)) {
		ret = yaml_error(&c, &parser, buf, len);
		goto out_parser;
	}
	/* Syntax errors anywhere come first, so read to the end of the stream. */
	if (!yaml_parser_load(&parser, &next)) {
		ret = yaml_error(&c, &parser, buf, len);
		goto out_doc;
	}
	ret = 0;
	if (yaml_document_get_root_node(&next))
		ret = ps_cfg_error(&c, &next.start_mark,
			       "a second YAML document, expected one document per file");
	yaml_document_delete(&next);
	if (ret)
		goto out_doc;

	c.doc = &doc;
	ret = load_document(&c, tmp);
	if (!ret) {
		memcpy(cfg, tmp, sizeof(*cfg));
		pr_debug("config %s: %d interfaces, %d endpoints\n", name, cfg->nifaces,
			 cfg->nendpoints);
	}
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	free(tmp);
	return ret;
}

int ps_config_load(const char *path, struct ps_config *cfg, char *err, size_t errlen)
{
	char dummy[1], *buf = NULL;
	size_t len = 0;
	int ret;

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	if (strlen(path) >= sizeof(cfg->source)) {
		snprintf(err, errlen, "%.64s...: file name longer than %zu bytes",
			 path, sizeof(cfg->source) - 1);
		return -ENAMETOOLONG;
	}
	ret = read_file(path, &buf, &len);
	if (ret == -EFBIG) {
		snprintf(err, errlen, "%s: larger than %d bytes, expected a configuration file",
			 path, PS_CONFIG_MAX_BYTES);
		return ret;
	}
	if (ret) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
		return ret;
	}
	ret = ps_config_parse(path, buf, len, cfg, err, errlen);
	free(buf);
	return ret;
}
