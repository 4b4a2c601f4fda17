// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstock config-keys: the reference of every configuration key, from the
 * rows the loader itself reads a file by (common/config_keys.c): its path,
 * its type and bounds, its default and what it means. The README's table
 * and penstock.yaml(5) are this output (make writes the man page;
 * tests/e2e/test_docs checks the README), so neither can say what the
 * loader does not do. Not in penstock's list of commands: it is for the
 * build.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "common/config_keys.h"
#include "common/units.h"

enum fmt { FMT_LIST, FMT_MARKDOWN, FMT_MAN };

static const char *const format_names[] = { "list", "markdown", "man", NULL };

static const char keys_usage[] =
	"usage: penstock config-keys [--format list|markdown|man]\n"
	"\n"
	"Every key of penstock.yaml, from the rows penstockd's loader reads a file\n"
	"by: its path, type and bounds, default and meaning. list: one path a\n"
	"line; markdown: the README's table; man: penstock.yaml(5)'s KEYS.\n"
	"\n"
	"  -f, --format F     list (default), markdown or man\n"
	PS_HELP_HELP
	"\n"
	"exit status: 0 ok, 2 bad usage\n";

struct keys_opts {
	struct ps_opts_common c;
	const char *format;
};

const struct ps_cmd_opts ps_cmd_config_keys_opts = {
	"config-keys", keys_usage, 0,
	(const struct ps_opt[]){
		{ .name = "format", .key = 'f', .type = PS_OPT_CHOICE, .choices = format_names,
		  .off = offsetof(struct keys_opts, format) },
		{},
	},
};

#define TEXT	1024

/* A quantity in the unit people write it in: 10MiB, 5m, 4mbit. */
static void qty(const struct ps_key *k, uint64_t v, char *buf, size_t len)
{
	static const struct { uint64_t f; const char *u; } sizes[] = {
		{ 1ULL << 40, "TiB" }, { 1ULL << 30, "GiB" }, { 1ULL << 20, "MiB" },
		{ 1ULL << 10, "KiB" }, { 1, "B" } },
	durations[] = { { 86400, "d" }, { 3600, "h" }, { 60, "m" }, { 1, "s" } },
	rates[] = { { 1000000000ULL, "gbit" }, { 1000000, "mbit" }, { 1000, "kbit" },
		    { 1, "bit" } };
	const __typeof__(sizes[0]) *t = sizes;
	size_t i, n = 5;

	if (k->parse_u64 == ps_parse_duration) {
		t = durations;
		n = 4;
	} else if (k->parse_u64 == ps_parse_rate) {
		t = rates;
		n = 4;
	}
	for (i = 0; i < n - 1 && (v == 0 || v % t[i].f); i++)
		;
	snprintf(buf, len, "%" PRIu64 "%s", v / t[i].f, t[i].u);
}

/* The type and bounds of a row, in the words of the reference. */
static void type_text(const struct ps_key *k, char *buf, size_t len, bool in_list)
{
	char a[64], b[64];
	size_t o = 0;
	int i;

	buf[0] = 0;
	switch (k->type) {
	case PS_T_INT:
		o = snprintf(buf, len, "integer %lld..%lld", k->min, k->max);
		break;
	case PS_T_STR:
		o = snprintf(buf, len, "%s%lld..%lld characters%s%s", in_list ? "" : "string, ",
			     k->min, k->max, k->rule ? ", " : "", k->rule ? k->rule : "");
		break;
	case PS_T_LIST:
		o = snprintf(buf, len, "list of %lld..%lld %s", k->min, k->max, k->what);
		if (k->elem && k->elem->type != PS_T_MAP) {
			o += snprintf(buf + o, len - o, ", each ");
			type_text(k->elem, buf + o, len - o, true);
			o = strlen(buf);
		}
		break;
	case PS_T_MAP:
		o = snprintf(buf, len, "mapping");
		break;
	case PS_T_BOOL:
		o = snprintf(buf, len, "`true` or `false`");
		break;
	case PS_T_ENUM: {
		int first = -1, last = -1;

		for (i = k->min; i <= k->max; i++)
			if (k->names[i]) {
				first = first < 0 ? i : first;
				last = i;
			}
		for (i = first; i >= 0 && i <= last && o < len; i++)
			if (k->names[i])
				o += snprintf(buf + o, len - o, "%s`%s`", i == first ? "" :
					      i == last ? " or " : ", ", k->names[i]);
		break;
	}
	case PS_T_QTY:
		if (k->umin == 1 && k->umax == PS_LIMIT_UNSET - 1 &&
		    k->parse_u64 == ps_parse_size) {
			o = snprintf(buf, len, "size, at least 1 byte");
		} else if (k->umin == 1 && k->umax == PS_LIMIT_UNSET - 1) {
			o = snprintf(buf, len, "%s above 0", k->what);
		} else {
			qty(k, k->umin, a, sizeof(a));
			qty(k, k->umax, b, sizeof(b));
			o = snprintf(buf, len, "%s, %s..%s", k->what, a, b);
		}
		break;
	case PS_T_PREFIX:
		o = snprintf(buf, len, "%s", k->flags & PS_K_KEYID ? "API key id (`key:` and 16 hex "
			     "digits, as `penstock key-id` prints it)" :
			     "IPv4 or IPv6 address or prefix, host bits zero (an address is a /32 "
			     "or /128)");
		break;
	case PS_T_DEC:
		o = snprintf(buf, len, "decimal %.15g..%.15g", k->dmin, k->dmax);
		break;
	}
	if ((k->flags & PS_K_UNIQUE) && o < len)
		o += snprintf(buf + o, len - o, in_list ? ", each once" : ", unique");
	if (k->doc_rule && o < len)
		snprintf(buf + o, len - o, "; %s", k->doc_rule);
}

static void default_text(const struct ps_key *k, char *buf, size_t len)
{
	size_t o = 0;
	int i;

	buf[0] = 0;
	if (k->doc_def) {
		snprintf(buf, len, "%s", k->doc_def);
		return;
	}
	if (k->flags & PS_K_REQUIRED) {
		snprintf(buf, len, "required");
		return;
	}
	switch (k->type) {
	case PS_T_INT:
		if (k->def == PS_DEF_UNSET)
			snprintf(buf, len, "none");
		else
			snprintf(buf, len, "`%lld`", k->def);
		break;
	case PS_T_QTY:
		if (k->def == PS_DEF_UNSET) {
			snprintf(buf, len, "none");
		} else {
			buf[0] = '`';
			qty(k, (uint64_t)k->def, buf + 1, len - 2);
			strcat(buf, "`");
		}
		break;
	case PS_T_BOOL:
		snprintf(buf, len, k->def == PS_DEF_UNSET ? "none" : k->def ? "`true`" : "`false`");
		break;
	case PS_T_ENUM:
		snprintf(buf, len, "`%s`", k->names[k->def]);
		break;
	case PS_T_DEC:
		snprintf(buf, len, "`%.15g`", k->ddef);
		break;
	case PS_T_STR:
		snprintf(buf, len, k->def_str ? "`%s`" : "none", k->def_str);
		break;
	case PS_T_LIST:
		if (k->def_list) {
			for (i = 0; k->def_list[i] && o < len; i++)
				o += snprintf(buf + o, len - o, "%s`%s`", i ? ", " : "",
					      k->def_list[i]);
		} else {
			snprintf(buf, len, k->min == 0 ? "`[]`" : "none");
		}
		break;
	case PS_T_MAP:
	case PS_T_PREFIX:
		snprintf(buf, len, "none");
		break;
	}
}

/* Markdown's inline code and links as man's bold and plain text. */
static void man_inline(const char *s, FILE *f)
{
	bool code = false, bol = true;

	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		bol = false;
		if (*s == '`') {
			fputs(code ? "\\fR" : "\\fB", f);
			code = !code;
		} else if (*s == '\\') {
			fputs("\\e", f);
		} else if (*s == '-' && code) {
			fputs("\\-", f);
		} else if (*s == '[' && !code && strstr(s, "](")) {
			/* [text](target): the text alone. */
			const char *mid = strstr(s, "](");
			const char *end = strchr(mid, ')');

			if (!end || memchr(s, '\n', end - s)) {
				fputc(*s, f);
				continue;
			}
			fwrite(s + 1, 1, mid - s - 1, f);
			s = end;
		} else {
			fputc(*s, f);
		}
	}
	if (code)
		fputs("\\fR", f);
}

/*
 * The map whose keys are keys, printed under the shortest path: a table
 * of keys shared by two mappings (detection.thresholds and a class's) is
 * printed once and the other refers to it.
 */
struct seen {
	const struct ps_key *keys;
	char path[128];
};

static void find_maps(const struct ps_key *keys, const char *prefix, struct seen *s, int *n)
{
	const struct ps_key *k;
	char path[128];
	int i;

	for (k = keys; k->name; k++) {
		const struct ps_key *m = k->type == PS_T_MAP ? k :
			k->type == PS_T_LIST && k->elem && k->elem->type == PS_T_MAP ? k->elem : NULL;

		snprintf(path, sizeof(path), "%s%s%s%s", prefix, *prefix ? "." : "", k->name,
			 k->type == PS_T_LIST ? "[]" : "");
		if (!m)
			continue;
		for (i = 0; i < *n && s[i].keys != m->keys; i++)
			;
		if (i == *n && *n < 64)
			s[(*n)++] = (struct seen){ .keys = m->keys };
		if (i < 64 && (!s[i].path[0] || strlen(path) < strlen(s[i].path)))
			snprintf(s[i].path, sizeof(s[i].path), "%s", path);
		find_maps(m->keys, path, s, n);
	}
}

static void emit(enum fmt fmt, const char *path, const struct ps_key *k, const char *type,
		 const char *def)
{
	const char *doc = k->doc ? k->doc : "";

	switch (fmt) {
	case FMT_LIST:
		printf("%s\n", path);
		break;
	case FMT_MARKDOWN:
		printf("| `%s` | %s | %s | %s |\n", path, type, def, doc);
		break;
	case FMT_MAN:
		printf(".TP\n.B %s\n", path);
		man_inline(type, stdout);
		printf("; default: ");
		man_inline(def, stdout);
		printf(".\n");
		if (*doc) {
			printf(".br\n");
			man_inline(doc, stdout);
			printf("\n");
		}
		break;
	}
}

static void walk(enum fmt fmt, const struct ps_key *keys, const char *prefix,
		 const struct seen *s, int n)
{
	char path[128], type[TEXT], def[TEXT];
	const struct ps_key *k;
	int i;

	for (k = keys; k->name; k++) {
		const struct ps_key *m = k->type == PS_T_MAP ? k :
			k->type == PS_T_LIST && k->elem && k->elem->type == PS_T_MAP ? k->elem : NULL;

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", k->name);
		type_text(k, type, sizeof(type), false);
		default_text(k, def, sizeof(def));
		if (k->type == PS_T_LIST)
			strcat(path, "[]");
		for (i = 0; m && i < n && s[i].keys != m->keys; i++)
			;
		if (m && i < n && strcmp(s[i].path, path)) {
			size_t o = strlen(type);

			snprintf(type + o, sizeof(type) - o, ", the keys of `%s`", s[i].path);
			m = NULL;
		}
		if (k->type == PS_T_LIST)
			path[strlen(path) - 2] = 0;
		emit(fmt, path, k, type, def);
		if (m) {
			if (k->type == PS_T_LIST)
				strcat(path, "[]");
			walk(fmt, m->keys, path, s, n);
		}
	}
}

int ps_cmd_config_keys(int argc, char **argv)
{
	struct keys_opts o = {};
	struct seen s[64] = {};
	enum fmt fmt = FMT_LIST;
	int ret = ps_opts_parse(&ps_cmd_config_keys_opts, argc, argv, &o), n = 0;

	if (ret >= 0)
		return ret;
	if (o.format && !strcmp(o.format, "markdown"))
		fmt = FMT_MARKDOWN;
	else if (o.format && !strcmp(o.format, "man"))
		fmt = FMT_MAN;
	find_maps(ps_cfg_root_keys, "", s, &n);
	if (fmt == FMT_MARKDOWN)
		printf("| key | type and bounds | default | meaning |\n|---|---|---|---|\n");
	walk(fmt, ps_cfg_root_keys, "", s, n);
	return fflush(stdout) ? PS_EXIT_FAIL : PS_EXIT_OK;
}
