/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The config's insides, shared by the walker (config.c: the YAML tree
 * walked against rows of keys, every check and message alike) and the
 * rows themselves (config_keys.c: one row per key, saying its type, its
 * bounds, its default and where it lives in struct ps_config, and the
 * checks that span several keys).
 */
#ifndef PS_CONFIG_KEYS_H
#define PS_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "common/config.h"

/* Longest value quoted in a message, so a hostile file can't flood a line. */
#define PS_QUOTE_MAX		40

enum ps_type {
	PS_T_INT,	/* plain decimal integer, min..max, in a field of size bytes */
	PS_T_STR,	/* string of min..max bytes, in a char[size] */
	PS_T_LIST,	/* sequence of min..max entries described by elem */
	PS_T_MAP,	/* mapping whose keys are the rows of keys */
	PS_T_BOOL,	/* plain true or false, as 1 or 0 in an int */
	PS_T_ENUM,	/* one of names[min..max] (case-sensitive), its index in an enum */
	PS_T_QTY,	/* quantity read by parse_u64 (50MiB, 2mbit), umin..umax, in a uint64_t */
	PS_T_PREFIX,	/* address prefix (ps_parse_prefix), in a struct ps_prefix */
	PS_T_DEC,	/* plain decimal number (3.5, 0.9, 1e6), dmin..dmax, in a double */
};

#define PS_K_REQUIRED	0x1	/* the key must be present (and not empty) */
#define PS_K_UNIQUE	0x2	/* no two entries of the enclosing list share it */
#define PS_K_KEYID	0x4	/* a PS_T_PREFIX that is an API key id (ps_parse_subject()) */

/*
 * Default of a number or boolean that is "not given": stored truncated to
 * the field, all ones is PS_LIMIT_UNSET in a uint64_t and -1 in an int.
 */
#define PS_DEF_UNSET		(-1LL)

struct ps_ctx;

struct ps_key {
	const char *name;		/* key in its mapping; NULL ends a table */
	enum ps_type type;
	unsigned int flags;		/* PS_K_* */
	long long min, max;		/* INT: value; STR: bytes; LIST: entries; ENUM: names */
	size_t off;			/* field in the enclosing object */
	size_t size;			/* LIST: entry stride; others: field size */
	size_t count_off;		/* LIST: int entry count in the enclosing object */
	long long def;			/* INT, BOOL, ENUM, QTY: default value */
	const char *def_str;		/* STR: default value, NULL for "" */
	const char *const *def_list;	/* LIST of STR: default entries */
	const void *def_arr;		/* LIST of MAP: def_n default entries, of stride size */
	int def_n;
	const struct ps_key *elem;	/* LIST: what one entry is */
	const struct ps_key *keys;	/* MAP: its keys */
	const char *what;		/* LIST: plural noun; QTY: noun (size), for messages */
	const char *rule;		/* STR: what check enforces, for messages */
	/* STR: NULL if s is acceptable, else what is wrong with it. */
	const char *(*check)(const char *s, size_t len);
	/* MAP: fill defaults that depend on other keys, once all are read. */
	void (*finish)(void *obj);
	/*
	 * MAP: check what depends on several keys, once all are read and
	 * finished: 0, or the error of ps_cfg_error() at the offending node.
	 */
	int (*verify)(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path);
	const char *const *names;	/* ENUM: names[v] is value v's, NULL: none */
	/* QTY: 0 and the value, or -EINVAL and "what was expected" in err. */
	int (*parse_u64)(const char *s, uint64_t *v, char *err, size_t errlen);
	uint64_t umin, umax;		/* QTY: bounds */
	const char *unit;		/* QTY: unit of umin..umax, for messages */
	double dmin, dmax, ddef;	/* DEC: bounds and default */
	/*
	 * The reference (penstock config-keys: the README's table and
	 * penstock.yaml(5)), in Markdown's inline syntax: what the key
	 * means; what it takes besides the bounds above (a rule between
	 * keys, say); its default when the row's own says too little
	 * ("the default's", a list of mappings).
	 */
	const char *doc;
	const char *doc_rule;
	const char *doc_def;
};

/*
 * Bounds in the tables are checked against the fields at compile time,
 * so a row can't promise more than config.h can hold.
 */
#define BUILD_BUG_ON_ZERO(e)	((int)sizeof(struct { int : (-!!(e)); }))
#define MEMBER(T, f)		(((T *)0)->f)
#define NELEMS(a)		(sizeof(a) / sizeof((a)[0]))

#define INT_FIELD(T, f, lo, hi)						\
	.type = PS_T_INT, .off = offsetof(T, f), .size = sizeof(MEMBER(T, f)),	\
	.min = (lo), .max = (hi) + BUILD_BUG_ON_ZERO(				\
		(__typeof__(MEMBER(T, f)))(lo) != (lo) ||			\
		(__typeof__(MEMBER(T, f)))(hi) != (hi))

#define STR_FIELD(T, f, lo, hi)						\
	.type = PS_T_STR, .off = offsetof(T, f), .size = sizeof(MEMBER(T, f)),	\
	.min = (lo), .max = (hi) + BUILD_BUG_ON_ZERO((size_t)(hi) >= sizeof(MEMBER(T, f)))

/* One string entry of the array T.arr (the row of a LIST's elem). */
#define STR_ENTRY(T, arr, lo, hi)						\
	.type = PS_T_STR, .off = 0, .size = sizeof(MEMBER(T, arr)[0]),		\
	.min = (lo), .max = (hi) + BUILD_BUG_ON_ZERO((size_t)(hi) >= sizeof(MEMBER(T, arr)[0]))

#define LIST_FIELD(T, arr, cnt, lo, hi)					\
	.type = PS_T_LIST, .off = offsetof(T, arr), .size = sizeof(MEMBER(T, arr)[0]),	\
	.count_off = offsetof(T, cnt),						\
	.min = (lo), .max = (hi) + BUILD_BUG_ON_ZERO(				\
		(size_t)(hi) > NELEMS(MEMBER(T, arr)) ||			\
		!__builtin_types_compatible_p(__typeof__(MEMBER(T, cnt)), int))

#define BOOL_FIELD(T, f)							\
	.type = PS_T_BOOL, .off = offsetof(T, f),				\
	.size = sizeof(MEMBER(T, f)) + BUILD_BUG_ON_ZERO(			\
		!__builtin_types_compatible_p(__typeof__(MEMBER(T, f)), int))

/* An enum field whose values are the indexes of the names in arr. */
#define ENUM_FIELD(T, f, arr)							\
	.type = PS_T_ENUM, .off = offsetof(T, f), .names = (arr),		\
	.size = sizeof(MEMBER(T, f)) + BUILD_BUG_ON_ZERO(sizeof(MEMBER(T, f)) != sizeof(int)),	\
	.min = 0, .max = NELEMS(arr) - 1

/* A uint64_t read by fn, lo..hi. */
#define QTY_RANGE(T, f, fn, noun, unit_name, lo, hi)				\
	.type = PS_T_QTY, .off = offsetof(T, f), .parse_u64 = (fn),		\
	.size = sizeof(MEMBER(T, f)) + BUILD_BUG_ON_ZERO(			\
		!__builtin_types_compatible_p(__typeof__(MEMBER(T, f)), uint64_t)),	\
	.umin = (lo), .umax = (hi), .what = (noun), .unit = (unit_name)

/* A uint64_t read by fn, 1..PS_LIMIT_UNSET - 1 (the sentinel is never a value). */
#define QTY_FIELD(T, f, fn, noun, unit_name)					\
	QTY_RANGE(T, f, fn, noun, unit_name, 1, PS_LIMIT_UNSET - 1)

/* A double, lo..hi. */
#define DEC_FIELD(T, f, lo, hi)						\
	.type = PS_T_DEC, .off = offsetof(T, f),				\
	.size = sizeof(MEMBER(T, f)) + BUILD_BUG_ON_ZERO(			\
		!__builtin_types_compatible_p(__typeof__(MEMBER(T, f)), double)),	\
	.dmin = (lo), .dmax = (hi)

/* The default entries of the LIST T.arr: the array defs, of the same type. */
#define LIST_DEFAULTS(T, arr, defs)						\
	.def_arr = (defs),							\
	.def_n = NELEMS(defs) + BUILD_BUG_ON_ZERO(				\
		NELEMS(defs) > NELEMS(MEMBER(T, arr)) ||			\
		!__builtin_types_compatible_p(__typeof__((defs)[0]),		\
					      __typeof__(MEMBER(T, arr)[0])))

/* One prefix entry of the array T.arr (the row of a LIST's elem). */
#define PREFIX_ENTRY(T, arr)							\
	.type = PS_T_PREFIX, .off = 0,						\
	.size = sizeof(MEMBER(T, arr)[0]) + BUILD_BUG_ON_ZERO(			\
		!__builtin_types_compatible_p(__typeof__(MEMBER(T, arr)[0]), struct ps_prefix))

/*
 * The limit keys of a struct ps_limits at T.m, shared by limits.default
 * and the classes; on_exceed_def is the only default that differs (a
 * class's unset keys are inherited, see ps_limits_resolve()), and the
 * reference says so: unset_doc is what an unset key is ("no limit", "the
 * default's"), burst_doc and on_exceed_doc the defaults of those two
 * (NULL: the row's own).
 */
#define LIMIT_KEYS(T, m, on_exceed_def, unset_doc, burst_doc, on_exceed_doc)	\
	{									\
		.name = "requests_per_minute",					\
		INT_FIELD(T, m.requests_per_minute, 1, 10000000),		\
		.def = PS_DEF_UNSET,						\
		.doc = "inference requests a minute ([Request limits]"		\
		       "(#request-limits))",					\
		.doc_def = (unset_doc),						\
	},									\
	{									\
		.name = "burst",						\
		INT_FIELD(T, m.burst, 1, 1000000),				\
		.def = PS_DEF_UNSET,						\
		.doc = "inference requests back to back within that rate",	\
		.doc_rule = "only with `requests_per_minute`",			\
		.doc_def = (burst_doc),						\
	},									\
	{									\
		.name = "requests_per_day",					\
		INT_FIELD(T, m.requests_per_day, 1, 1000000000000LL),		\
		.def = PS_DEF_UNSET,						\
		.doc = "inference requests per 24h window, judged by penstockd",	\
		.doc_def = (unset_doc),						\
	},									\
	{									\
		.name = "egress_bytes_per_minute",				\
		QTY_FIELD(T, m.egress_bytes_per_minute, ps_parse_size, "size", "bytes"),	\
		.def = PS_DEF_UNSET,						\
		.doc = "IP bytes sent to the client per 1m window, judged by "	\
		       "penstockd",						\
		.doc_def = (unset_doc),						\
	},									\
	{									\
		.name = "egress_bytes_per_day",					\
		QTY_FIELD(T, m.egress_bytes_per_day, ps_parse_size, "size", "bytes"),	\
		.def = PS_DEF_UNSET,						\
		.doc = "IP bytes sent to the client per 24h window, judged by "	\
		       "penstockd",						\
		.doc_def = (unset_doc),						\
	},									\
	{									\
		.name = "max_connections",					\
		INT_FIELD(T, m.max_connections, 1, 1000000),			\
		.def = PS_DEF_UNSET,						\
		.doc = "connections open at once ([Connection limits]"		\
		       "(#connection-limits))",					\
		.doc_def = (unset_doc),						\
	},									\
	{									\
		.name = "on_exceed",						\
		ENUM_FIELD(T, m.on_exceed, on_exceed_names),			\
		.def = (on_exceed_def),						\
		.doc = "what the per-day and per-minute limits do ([Limits "	\
		       "judged by the daemon](#limits-judged-by-the-daemon))",	\
		.doc_def = (on_exceed_doc),					\
	},									\
	{									\
		.name = "shape_rate",						\
		QTY_FIELD(T, m.shape_rate, ps_parse_rate, "rate", "bit/s"),	\
		.def = PS_DEF_UNSET,						\
		.doc = "the rate of a shaped client",				\
		.doc_rule = "required (here or in the class) with "		\
			    "`on_exceed: shape`",				\
		.doc_def = (unset_doc),						\
	},									\
	{									\
		.name = "tokens_per_minute",					\
		INT_FIELD(T, m.tokens_per_minute, 1, 1000000000000LL),		\
		.def = PS_DEF_UNSET,						\
		.doc = "prompt + completion tokens a minute, as the server "	\
		       "reports them ([Token limits](#token-limits))",		\
		.doc_def = (unset_doc),						\
	},									\
	{									\
		.name = "token_burst",						\
		INT_FIELD(T, m.token_burst, 1, 1000000000000LL),		\
		.def = PS_DEF_UNSET,						\
		.doc = "tokens at once within that rate",			\
		.doc_rule = "only with `tokens_per_minute`",			\
		.doc_def = "its `tokens_per_minute`",				\
	},									\
	{									\
		.name = "tokens_per_day",					\
		INT_FIELD(T, m.tokens_per_day, 1, 1000000000000000LL),	\
		.def = PS_DEF_UNSET,						\
		.doc = "prompt + completion tokens a sliding day (the day's "	\
		       "budget at once, refilled continuously: [Token limits]"	\
		       "(#token-limits))",					\
		.doc_def = (unset_doc),						\
	},									\
	{									\
		.name = "token_reserve",					\
		INT_FIELD(T, m.token_reserve, 1, 1000000000LL),			\
		.def = PS_DEF_UNSET,						\
		.doc = "tokens each inference request is charged as it starts, "	\
		       "its answer's first tokens: requests side by side cannot "	\
		       "pass a token limit together ([Token limits]"		\
		       "(#token-limits))",					\
		.doc_rule = "only with `tokens_per_minute` or `tokens_per_day`",	\
		.doc_def = "none: an answer's tokens are charged as they come",	\
	}

/* A load in progress: the file, its document, where the message goes. */
struct ps_ctx {
	const char *file;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

/* The root mapping: every key of a config file (config_keys.c). */
extern const struct ps_key ps_cfg_root;
extern const struct ps_key ps_cfg_root_keys[];

/* config.c: the walker's helpers, for the rows' checks. */
int ps_cfg_error(struct ps_ctx *c, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const struct ps_key *ps_cfg_find_key(const struct ps_key *keys, const char *s, size_t len);
int ps_cfg_store_int(void *p, size_t size, long long v);
long long ps_cfg_load_int(const void *p, size_t size, bool is_signed);
/* Set every key of a mapping to its default (lists to their default entries). */
void ps_cfg_defaults(const struct ps_key *keys, void *obj);
const char *ps_cfg_quote(char *buf, size_t buflen, const char *s, size_t len);
const char *ps_cfg_scalar(const yaml_node_t *n);
bool ps_cfg_is_null(const yaml_node_t *n);
yaml_node_t *ps_cfg_node(struct ps_ctx *c, int index);
/* The value node of name in a mapping, or NULL. */
yaml_node_t *ps_cfg_map_value(struct ps_ctx *c, yaml_node_t *map, const char *name);
/* The key node of name in a mapping, or NULL. */
yaml_node_t *ps_cfg_map_key(struct ps_ctx *c, yaml_node_t *map, const char *name);
/* Entry i of a sequence (which has it: the list was read from it). */
yaml_node_t *ps_cfg_seq_item(struct ps_ctx *c, yaml_node_t *seq, int i);
/* The key node of name in a mapping if it has a value ("key:" alone has none), or NULL. */
yaml_node_t *ps_cfg_given_key(struct ps_ctx *c, yaml_node_t *map, const char *name);

#endif
