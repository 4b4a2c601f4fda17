// SPDX-License-Identifier: GPL-2.0-only
/*
 * YAML configuration loader.
 *
 * The file is read whole and loaded with libyaml's document API, so that
 * every node of the tree keeps the line and column it came from. The tree
 * is then walked against tables of keys: one row per key, saying its type,
 * its bounds, its default and where it lives in struct ps_config. The
 * walker does the type, range, duplicate, unknown-key and missing-key
 * checks and writes the "file:line:column: ..." message for every key
 * alike, so adding a key is adding a row (and a field in config.h).
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
#include "common/log.h"
#include "common/units.h"

const char *const ps_default_paths[] = {
	"/v1/chat/completions",
	"/v1/completions",
	"/v1/embeddings",
	"/v1/responses",
	NULL,
};

/* A config is a few hundred bytes: refuse to slurp whatever else is named. */
#define PS_CONFIG_MAX_BYTES	(1 << 20)

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
	 * finished: 0, or the error of ps_error() at the offending node.
	 */
	int (*verify)(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path);
	const char *const *names;	/* ENUM: names[v] is value v's, NULL: none */
	/* QTY: 0 and the value, or -EINVAL and "what was expected" in err. */
	int (*parse_u64)(const char *s, uint64_t *v, char *err, size_t errlen);
	uint64_t umin, umax;		/* QTY: bounds */
	const char *unit;		/* QTY: unit of umin..umax, for messages */
	double dmin, dmax, ddef;	/* DEC: bounds and default */
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
 * class's unset keys are inherited, see ps_limits_resolve()).
 */
#define LIMIT_KEYS(T, m, on_exceed_def)						\
	{									\
		.name = "requests_per_minute",					\
		INT_FIELD(T, m.requests_per_minute, 1, 10000000),		\
		.def = PS_DEF_UNSET,						\
	},									\
	{									\
		.name = "burst",						\
		INT_FIELD(T, m.burst, 1, 1000000),				\
		.def = PS_DEF_UNSET,						\
	},									\
	{									\
		.name = "requests_per_day",					\
		INT_FIELD(T, m.requests_per_day, 1, 1000000000000LL),		\
		.def = PS_DEF_UNSET,						\
	},									\
	{									\
		.name = "egress_bytes_per_minute",				\
		QTY_FIELD(T, m.egress_bytes_per_minute, ps_parse_size, "size", "bytes"),	\
		.def = PS_DEF_UNSET,						\
	},									\
	{									\
		.name = "egress_bytes_per_day",					\
		QTY_FIELD(T, m.egress_bytes_per_day, ps_parse_size, "size", "bytes"),	\
		.def = PS_DEF_UNSET,						\
	},									\
	{									\
		.name = "max_connections",					\
		INT_FIELD(T, m.max_connections, 1, 1000000),			\
		.def = PS_DEF_UNSET,						\
	},									\
	{									\
		.name = "on_exceed",						\
		ENUM_FIELD(T, m.on_exceed, on_exceed_names),			\
		.def = (on_exceed_def),						\
	},									\
	{									\
		.name = "shape_rate",						\
		QTY_FIELD(T, m.shape_rate, ps_parse_rate, "rate", "bit/s"),	\
		.def = PS_DEF_UNSET,						\
	}

static const char *check_ifname(const char *s, size_t len);
static const char *check_name(const char *s, size_t len);
static const char *check_path(const char *s, size_t len);
static const char *check_abs_path(const char *s, size_t len);
static const char *check_url(const char *s, size_t len);
static void endpoint_finish(void *obj);
static void default_finish(void *obj);
static int default_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path);
static int class_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path);
static int limits_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path);
static void step_finish(void *obj);
static int step_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path);

static const char *const on_exceed_names[] = {
	[PS_ON_EXCEED_DELAY] = "delay",
	[PS_ON_EXCEED_SHAPE] = "shape",
	[PS_ON_EXCEED_BLOCK] = "block",
};

static const char *const step_action_names[] = {
	[PS_STEP_ALERT] = "alert",
	[PS_STEP_SHAPE] = "shape",
	[PS_STEP_DELAY] = "delay",
	[PS_STEP_BLOCK] = "block",
};

static const struct ps_key iface_entry = {
	STR_ENTRY(struct ps_config, ifaces, 1, IF_NAMESIZE - 1),
	.flags = PS_K_UNIQUE,
	.check = check_ifname,
	.rule = "visible ASCII other than '/' and ':'",
};

static const struct ps_key path_entry = {
	STR_ENTRY(struct ps_endpoint_cfg, paths, 1, PS_PATH_MAX),
	.flags = PS_K_UNIQUE,
	.check = check_path,
	.rule = "starting with '/', visible ASCII",
};

static const struct ps_key endpoint_keys[] = {
	{
		.name = "name",
		STR_FIELD(struct ps_endpoint_cfg, name, 1, PS_NAME_MAX - 1),
		.check = check_name,
		.rule = "printable ASCII",
	},
	{
		.name = "port",
		INT_FIELD(struct ps_endpoint_cfg, port, 1, 65535),
		.flags = PS_K_REQUIRED | PS_K_UNIQUE,
	},
	{
		.name = "paths",
		LIST_FIELD(struct ps_endpoint_cfg, paths, npaths, 1, PS_MAX_PATHS),
		.elem = &path_entry,
		.what = "paths",
		.def_list = ps_default_paths,
	},
	{}
};

static const struct ps_key endpoint_entry = {
	.type = PS_T_MAP,
	.keys = endpoint_keys,
	.finish = endpoint_finish,
};

/* limits.default: offsets are in struct ps_config, as the map has none of its own. */
static const struct ps_key default_keys[] = {
	LIMIT_KEYS(struct ps_config, limits_default, PS_ON_EXCEED_DELAY),
	{}
};

static const struct ps_key prefix_entry = {
	PREFIX_ENTRY(struct ps_class_cfg, clients),
	.flags = PS_K_UNIQUE,
};

/* detection.thresholds and a class's thresholds: offsets in struct ps_thresholds. */
static const struct ps_key threshold_keys[] = {
	{
		.name = "requests_per_minute",
		INT_FIELD(struct ps_thresholds, requests_per_minute, 1, 1000000000),
		.def = PS_DEF_UNSET,
	},
	{
		.name = "requests_per_hour",
		INT_FIELD(struct ps_thresholds, requests_per_hour, 1, 1000000000000LL),
		.def = PS_DEF_UNSET,
	},
	{
		.name = "requests_per_day",
		INT_FIELD(struct ps_thresholds, requests_per_day, 1, 1000000000000LL),
		.def = PS_DEF_UNSET,
	},
	{
		.name = "tx_payload_per_hour",
		QTY_FIELD(struct ps_thresholds, tx_payload_per_hour, ps_parse_size, "size", "bytes"),
		.def = PS_DEF_UNSET,
	},
	{
		.name = "tx_payload_per_day",
		QTY_FIELD(struct ps_thresholds, tx_payload_per_day, ps_parse_size, "size", "bytes"),
		.def = PS_DEF_UNSET,
	},
	{}
};

static const struct ps_key class_keys[] = {
	{
		.name = "name",
		STR_FIELD(struct ps_class_cfg, name, 1, PS_NAME_MAX - 1),
		.flags = PS_K_REQUIRED | PS_K_UNIQUE,
		.check = check_name,
		.rule = "printable ASCII",
	},
	{
		.name = "clients",
		LIST_FIELD(struct ps_class_cfg, clients, nclients, 1, PS_MAX_CLASS_PREFIXES),
		.flags = PS_K_REQUIRED,
		.elem = &prefix_entry,
		.what = "prefixes",
	},
	LIMIT_KEYS(struct ps_class_cfg, limits, PS_ON_EXCEED_UNSET),
	{
		.name = "unlimited",
		BOOL_FIELD(struct ps_class_cfg, limits.unlimited),
		.def = PS_DEF_UNSET,
	},
	{
		.name = "dry_run",
		BOOL_FIELD(struct ps_class_cfg, limits.dry_run),
		.def = PS_DEF_UNSET,
	},
	{
		.name = "exempt",
		BOOL_FIELD(struct ps_class_cfg, exempt),
		.def = 0,
	},
	{
		.name = "alert_only",
		BOOL_FIELD(struct ps_class_cfg, alert_only),
		.def = 0,
	},
	{
		.name = "thresholds",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_class_cfg, thresholds),
		.keys = threshold_keys,
	},
	{}
};

static const struct ps_key class_entry = {
	.type = PS_T_MAP,
	.keys = class_keys,
	.verify = class_verify,
};

/* limits: a level of the file only, its keys are fields of struct ps_config. */
static const struct ps_key limits_keys[] = {
	{
		.name = "default",
		.type = PS_T_MAP,
		.keys = default_keys,
		.finish = default_finish,
		.verify = default_verify,
	},
	{
		.name = "classes",
		LIST_FIELD(struct ps_config, classes, nclasses, 0, PS_MAX_CLASSES - 1),
		.elem = &class_entry,
		.what = "classes",
	},
	{}
};

/* alerts.jsonl: the JSON-lines file and its rotation. */
static const struct ps_key alerts_jsonl_keys[] = {
	{
		.name = "path",
		STR_FIELD(struct ps_alerts_jsonl_cfg, path, 1, PS_ALERT_PATH_MAX - 1),
		.flags = PS_K_REQUIRED,
		.check = check_abs_path,
		.rule = "an absolute path",
	},
	{
		.name = "max_bytes",
		QTY_RANGE(struct ps_alerts_jsonl_cfg, max_bytes, ps_parse_size, "size", "bytes",
			  1024, 1ULL << 40),
		.def = 10 << 20,
	},
	{
		.name = "keep",
		INT_FIELD(struct ps_alerts_jsonl_cfg, keep, 0, 1000),
		.def = 5,
	},
	{}
};

/* alerts.webhook: Alertmanager's API v2, through a spool on disk. */
static const struct ps_key alerts_webhook_keys[] = {
	{
		.name = "url",
		STR_FIELD(struct ps_alerts_webhook_cfg, url, 1, PS_ALERT_PATH_MAX - 1),
		.flags = PS_K_REQUIRED,
		.check = check_url,
		.rule = "an http:// or https:// URL",
	},
	{
		.name = "spool_dir",
		STR_FIELD(struct ps_alerts_webhook_cfg, spool_dir, 1, PS_ALERT_PATH_MAX - 1),
		.check = check_abs_path,
		.rule = "an absolute path",
		.def_str = "/var/lib/penstock/spool",
	},
	{
		.name = "timeout",
		QTY_RANGE(struct ps_alerts_webhook_cfg, timeout, ps_parse_duration, "duration",
			  "seconds", 1, 300),
		.def = 5,
	},
	{
		.name = "max_spool",
		QTY_RANGE(struct ps_alerts_webhook_cfg, max_spool, ps_parse_size, "size", "bytes",
			  1 << 20, 1ULL << 40),
		.def = 100 << 20,
	},
	{
		.name = "max_backoff",
		QTY_RANGE(struct ps_alerts_webhook_cfg, max_backoff, ps_parse_duration, "duration",
			  "seconds", 1, 3600),
		.def = 60,
	},
	{}
};

/* alerts: offsets in struct ps_alerts_cfg. */
static const struct ps_key alerts_keys[] = {
	{
		.name = "stderr",
		BOOL_FIELD(struct ps_alerts_cfg, to_stderr),
		.def = 1,
	},
	{
		.name = "jsonl",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_alerts_cfg, jsonl),
		.keys = alerts_jsonl_keys,
	},
	{
		.name = "webhook",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_alerts_cfg, webhook),
		.keys = alerts_webhook_keys,
	},
	{
		.name = "keep_in_memory",
		INT_FIELD(struct ps_alerts_cfg, keep_in_memory, 0, 1000000),
		.def = 1000,
	},
	{}
};

#define MINUTE	60
#define HOUR	3600
#define DAY	86400

/*
 * One step of detection.escalation.steps: offsets in struct ps_step_cfg.
 * A key that does not apply to the step's action is an error when given
 * (step_verify) and 0 when not (step_finish).
 */
static const struct ps_key step_keys[] = {
	{
		.name = "action",
		ENUM_FIELD(struct ps_step_cfg, action, step_action_names),
		.flags = PS_K_REQUIRED,
		.def = PS_STEP_ALERT,
	},
	{
		.name = "for",
		QTY_RANGE(struct ps_step_cfg, duration, ps_parse_duration, "duration", "seconds",
			  1, 30 * DAY),
		.def = HOUR,
	},
	{
		.name = "cooldown",
		QTY_RANGE(struct ps_step_cfg, cooldown, ps_parse_duration, "duration", "seconds",
			  0, 30 * DAY),
		.def = 10 * MINUTE,
	},
	{
		.name = "rate",
		QTY_FIELD(struct ps_step_cfg, rate, ps_parse_rate, "rate", "bit/s"),
		.def = 4000000,
	},
	{
		.name = "requests_per_minute",
		INT_FIELD(struct ps_step_cfg, requests_per_minute, 1, 10000000),
		.def = 10,
	},
	{}
};

static const struct ps_key step_entry = {
	.type = PS_T_MAP,
	.keys = step_keys,
	.finish = step_finish,
	.verify = step_verify,
};

/* The steps of a config that gives none; keys that don't apply are 0. */
static const struct ps_step_cfg default_steps[] = {
	{ .action = PS_STEP_ALERT, .cooldown = 5 * MINUTE },
	{ .action = PS_STEP_SHAPE, .duration = HOUR, .cooldown = 10 * MINUTE, .rate = 4000000 },
	{ .action = PS_STEP_DELAY, .duration = HOUR, .cooldown = 10 * MINUTE,
	  .requests_per_minute = 10 },
	{ .action = PS_STEP_BLOCK, .duration = HOUR, .cooldown = 10 * MINUTE },
};

/* detection.escalation: a level of the file only, offsets in struct ps_detection_cfg. */
static const struct ps_key escalation_keys[] = {
	{
		.name = "forget",
		QTY_RANGE(struct ps_detection_cfg, forget, ps_parse_duration, "duration", "seconds",
			  MINUTE, 30 * DAY),
		.def = 6 * HOUR,
	},
	{
		.name = "steps",
		LIST_FIELD(struct ps_detection_cfg, steps, nsteps, 1, PS_MAX_STEPS),
		LIST_DEFAULTS(struct ps_detection_cfg, steps, default_steps),
		.elem = &step_entry,
		.what = "steps",
	},
	{}
};

/* The detectors' mappings are levels of the file: offsets in struct ps_detection_cfg. */
static const struct ps_key high_rate_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, high_rate.enabled),
		.def = 1,
	},
	{
		.name = "requests_per_minute",
		INT_FIELD(struct ps_detection_cfg, high_rate.requests_per_minute, 1, 1000000000),
		.def = 15,
	},
	{}
};

static const struct ps_key prefix_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, prefix.enabled),
		.def = 1,
	},
	{
		.name = "min_clients",
		INT_FIELD(struct ps_detection_cfg, prefix.min_clients, 2, 1000000),
		.def = 10,
	},
	{
		.name = "requests_per_hour",
		INT_FIELD(struct ps_detection_cfg, prefix.requests_per_hour, 1, 1000000000000LL),
		.def = 300,
	},
	{}
};

static const struct ps_key low_and_slow_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, low_and_slow.enabled),
		.def = 1,
	},
	{
		.name = "min_history",
		QTY_RANGE(struct ps_detection_cfg, low_and_slow.min_history, ps_parse_duration,
			  "duration", "seconds", MINUTE, 7 * DAY),
		.def = 3 * HOUR,
	},
	{
		.name = "duty_cycle",
		DEC_FIELD(struct ps_detection_cfg, low_and_slow.duty_cycle, 0, 1),
		.ddef = 0.9,
	},
	{
		.name = "max_cv",
		DEC_FIELD(struct ps_detection_cfg, low_and_slow.max_cv, 0, 10),
		.ddef = 0.3,
	},
	{
		.name = "requests_per_hour",
		INT_FIELD(struct ps_detection_cfg, low_and_slow.requests_per_hour, 1,
			  1000000000000LL),
		.def = 120,
	},
	{}
};

static const struct ps_key surge_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, surge.enabled),
		.def = 1,
	},
	{
		.name = "factor",
		DEC_FIELD(struct ps_detection_cfg, surge.factor, 1, 1000000),
		.ddef = 5,
	},
	{
		.name = "min_history",
		QTY_RANGE(struct ps_detection_cfg, surge.min_history, ps_parse_duration,
			  "duration", "seconds", MINUTE, 7 * DAY),
		.def = 3 * HOUR,
	},
	{
		.name = "requests_per_hour",
		INT_FIELD(struct ps_detection_cfg, surge.requests_per_hour, 1, 1000000000000LL),
		.def = 120,
	},
	{}
};

static const struct ps_key ratio_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, ratio.enabled),
		.def = 1,
	},
	{
		.name = "min_ratio",
		DEC_FIELD(struct ps_detection_cfg, ratio.min_ratio, 1, 1000000),
		.ddef = 25,
	},
	{
		.name = "min_requests",
		INT_FIELD(struct ps_detection_cfg, ratio.min_requests, 1, 1000000000000LL),
		.def = 100,
	},
	{}
};

/* detection: offsets in struct ps_detection_cfg. */
static const struct ps_key detection_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, enabled),
		.def = 1,
	},
	{
		.name = "interval",
		QTY_RANGE(struct ps_detection_cfg, interval, ps_parse_duration, "duration",
			  "seconds", 1, HOUR),
		.def = 10,
	},
	{
		.name = "min_population",
		INT_FIELD(struct ps_detection_cfg, min_population, 2, 1000000),
		.def = 20,
	},
	{
		.name = "zscore",
		DEC_FIELD(struct ps_detection_cfg, zscore, 1, 1000),
		.ddef = 3.5,
	},
	{ .name = "high_rate", .type = PS_T_MAP, .keys = high_rate_keys },
	{ .name = "prefix", .type = PS_T_MAP, .keys = prefix_keys },
	{ .name = "low_and_slow", .type = PS_T_MAP, .keys = low_and_slow_keys },
	{ .name = "surge", .type = PS_T_MAP, .keys = surge_keys },
	{ .name = "ratio", .type = PS_T_MAP, .keys = ratio_keys },
	{
		.name = "thresholds",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_detection_cfg, thresholds),
		.keys = threshold_keys,
	},
	{ .name = "escalation", .type = PS_T_MAP, .keys = escalation_keys },
	{}
};

static const struct ps_key root_keys[] = {
	{
		.name = "interfaces",
		LIST_FIELD(struct ps_config, ifaces, nifaces, 0, PS_MAX_IFACES),
		.elem = &iface_entry,
		.what = "interface names",
	},
	{
		.name = "endpoints",
		LIST_FIELD(struct ps_config, endpoints, nendpoints, 1, PS_MAX_ENDPOINTS),
		.flags = PS_K_REQUIRED,
		.elem = &endpoint_entry,
		.what = "endpoints",
	},
	{
		.name = "max_clients",
		INT_FIELD(struct ps_config, max_clients, 16, 16777216),
		.def = PS_MAX_CLIENTS,
	},
	{
		.name = "reclaim_idle",
		INT_FIELD(struct ps_config, reclaim_idle, 1, 31536000),
		.def = 600,
	},
	{
		.name = "limits",
		.type = PS_T_MAP,
		.keys = limits_keys,
		.verify = limits_verify,
	},
	{
		.name = "dry_run",
		BOOL_FIELD(struct ps_config, dry_run),
		.def = 0,
	},
	{
		.name = "alerts",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_config, alerts),
		.keys = alerts_keys,
	},
	{
		.name = "detection",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_config, detection),
		.keys = detection_keys,
	},
	{}
};

static const struct ps_key root_map = {
	.type = PS_T_MAP,
	.keys = root_keys,
};

/* Interface names as the kernel takes them, minus non-ASCII oddities. */
static const char *check_ifname(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] <= ' ' || s[i] > '~')
			return "contains a space or a character that is not visible ASCII";
		if (s[i] == '/' || s[i] == ':')
			return "contains '/' or ':'";
	}
	return NULL;
}

/* Names end up in one-line output and logs: keep them printable. */
static const char *check_name(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < ' ' || s[i] > '~')
			return "contains a character that is not printable ASCII";
	return NULL;
}

/*
 * A path is compared with the request-target of an HTTP request line,
 * which is visible ASCII (non-ASCII is percent-encoded on the wire), so
 * any other byte is a path that could never match.
 */
static const char *check_path(const char *s, size_t len)
{
	size_t i;

	if (s[0] != '/')
		return "does not start with '/'";
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return "contains a space or a character that is not visible ASCII";
	return NULL;
}

/* Files of a daemon that never changes directory: no relative path. */
static const char *check_abs_path(const char *s, size_t len)
{
	(void)len;
	return s[0] == '/' ? NULL : "does not start with '/'";
}

/* The webhook's URL goes to libcurl as is: no space, nothing but visible ASCII. */
static const char *check_url(const char *s, size_t len)
{
	size_t i, scheme;

	if (!strncasecmp(s, "http://", 7))
		scheme = 7;
	else if (!strncasecmp(s, "https://", 8))
		scheme = 8;
	else
		return "does not start with http:// or https://";
	if (len == scheme)
		return "has no host";
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return "contains a space or a character that is not visible ASCII";
	return NULL;
}

/* The default name needs the port, so it is filled after the keys are read. */
static void endpoint_finish(void *obj)
{
	struct ps_endpoint_cfg *ep = obj;

	if (!ep->name[0])
		snprintf(ep->name, sizeof(ep->name), "port-%u", ep->port);
}

/*
 * requests_per_minute alone allows no burst: a burst of 1. unlimited and
 * dry_run are not keys of limits.default (the global dry_run is), so they
 * stay unset.
 */
static void default_finish(void *obj)
{
	struct ps_limits *l = &((struct ps_config *)obj)->limits_default;

	if (l->requests_per_minute != PS_LIMIT_UNSET && l->burst == PS_LIMIT_UNSET)
		l->burst = 1;
	l->unlimited = -1;
	l->dry_run = -1;
}

static const struct ps_key *find_key(const struct ps_key *keys, const char *s, size_t len)
{
	for (; keys->name; keys++)
		if (strlen(keys->name) == len && !memcmp(keys->name, s, len))
			return keys;
	return NULL;
}

static int store_int(void *p, size_t size, long long v)
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

static long long load_int(const void *p, size_t size, bool is_signed)
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
static void apply_defaults(const struct ps_key *keys, void *obj)
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
			store_int(field, k->size, k->def);
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
			apply_defaults(k->keys, field);
			if (k->finish)
				k->finish(field);
			break;
		}
	}
}

struct ps_ctx {
	const char *file;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

static int __attribute__((format(printf, 3, 4)))
ps_error(struct ps_ctx *c, const yaml_mark_t *m, const char *fmt, ...)
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
static const char *quote(char *buf, size_t buflen, const char *s, size_t len)
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

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* YAML 1.1 nulls: an optional key with one of these is as if absent. */
static bool node_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (i = 0; i < NELEMS(nulls); i++)
		if (!strcmp(scalar(n), nulls[i]))
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
		if (node_is_null(n))
			return "an empty value";
		quote(q, sizeof(q), scalar(n), n->data.scalar.length);
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
	char names[256];
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
	char got[4 * PS_QUOTE_MAX + 32], want[512];

	return ps_error(c, &n->start_mark, "%s%sgot %s, expected %s", path, sep(path),
			describe(n, got, sizeof(got)), expectation(k, want, sizeof(want)));
}

static yaml_node_t *node(struct ps_ctx *c, int index)
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

	return ps_error(c, &n->start_mark,
			"%s%s%.*s%s has a leading zero (octal in YAML 1.1), expected %s without one",
			path, sep(path), PS_QUOTE_MAX, scalar(n), len > PS_QUOTE_MAX ? "..." : "",
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

	if (n->type != YAML_SCALAR_NODE || node_is_null(n) ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return type_error(c, k, n, path);
	s = scalar(n);
	len = n->data.scalar.length;
	if (s[0] == '-' || s[0] == '+')
		neg = s[i++] == '-';
	if (i == len || strspn(s + i, "0123456789") != len - i)
		return type_error(c, k, n, path);
	if (s[i] == '0' && len - i > 1)
		return leading_zero_error(c, k, n, path);
	for (; i < len && !big; i++) {
		v = v * 10 + (s[i] - '0');
		big = v > (unsigned long long)LLONG_MAX;
	}
	val = neg ? -(long long)v : (long long)v;
	if (big || val < k->min || val > k->max)
		return ps_error(c, &n->start_mark, "%s%s%.*s%s is out of range, expected %s",
				path, sep(path), PS_QUOTE_MAX, s, len > PS_QUOTE_MAX ? "..." : "",
				expectation(k, want, sizeof(want)));
	return store_int((char *)obj + k->off, k->size, val);
}

/* Booleans are the plain scalars true and false: not yes/no/on/off, not quoted. */
static int parse_bool(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		      const char *path)
{
	int v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return type_error(c, k, n, path);
	if (!strcmp(scalar(n), "true"))
		v = 1;
	else if (!strcmp(scalar(n), "false"))
		v = 0;
	else
		return type_error(c, k, n, path);
	return store_int((char *)obj + k->off, k->size, v);
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

	if (n->type != YAML_SCALAR_NODE || node_is_null(n) ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return type_error(c, k, n, path);
	s = scalar(n);
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
		return ps_error(c, &n->start_mark, "%s%s%.*s%s is out of range, expected %s",
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

	if (n->type != YAML_SCALAR_NODE || node_is_null(n))
		return type_error(c, k, n, path);
	len = n->data.scalar.length;
	for (v = k->min; v <= k->max; v++)
		if (k->names[v] && strlen(k->names[v]) == len && !memcmp(k->names[v], scalar(n), len))
			return store_int((char *)obj + k->off, k->size, v);
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
	if (n->type != YAML_SCALAR_NODE || node_is_null(n) ||
	    memchr(scalar(n), 0, n->data.scalar.length)) {
		type_error(c, k, n, path);
		return NULL;
	}
	return scalar(n);
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
		return ps_error(c, &n->start_mark, "%s%sgot %s, expected %s", path, sep(path),
				describe(n, got, sizeof(got)), why);
	if (v < k->umin || v > k->umax)
		return ps_error(c, &n->start_mark,
				"%s%s%.*s%s is out of range, expected a %s in %llu..%llu %s",
				path, sep(path), PS_QUOTE_MAX, s, len > PS_QUOTE_MAX ? "..." : "",
				k->what, (unsigned long long)k->umin,
				(unsigned long long)k->umax, k->unit);
	memcpy((char *)obj + k->off, &v, sizeof(v));
	return 0;
}

/* Prefixes, plain or quoted (an IPv6 one often needs quotes in a flow list). */
static int parse_prefix(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
			const char *path)
{
	char got[4 * PS_QUOTE_MAX + 32], why[256];
	const char *s = parser_text(c, k, n, path);
	struct ps_prefix p;

	if (!s)
		return -EINVAL;
	if (ps_parse_prefix(s, &p, why, sizeof(why)))
		return ps_error(c, &n->start_mark, "%s%sgot %s, expected %s", path, sep(path),
				describe(n, got, sizeof(got)), why);
	memcpy((char *)obj + k->off, &p, sizeof(p));
	return 0;
}

static int parse_str(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		     const char *path)
{
	char q[4 * PS_QUOTE_MAX + 8], want[512];
	const char *s, *problem = NULL;
	size_t i, len;

	if (n->type != YAML_SCALAR_NODE || node_is_null(n))
		return type_error(c, k, n, path);
	s = scalar(n);
	len = n->data.scalar.length;
	if (!len)
		return ps_error(c, &n->start_mark, "%s%sgot an empty string, expected %s",
				path, sep(path), expectation(k, want, sizeof(want)));
	if ((long long)len < k->min || (long long)len > k->max)
		return ps_error(c, &n->start_mark, "%s%s%s is %zu characters long, expected %s",
				path, sep(path), quote(q, sizeof(q), s, len), len,
				expectation(k, want, sizeof(want)));
	/* Whatever a row allows, no control byte (or NUL) gets into a C string. */
	for (i = 0; i < len && !problem; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			problem = "contains a control character";
	if (!problem && k->check)
		problem = k->check(s, len);
	if (problem)
		return ps_error(c, &n->start_mark, "%s%s%s %s, expected %s", path, sep(path),
				quote(q, sizeof(q), s, len), problem,
				expectation(k, want, sizeof(want)));
	memcpy((char *)obj + k->off, s, len);
	((char *)obj)[k->off + len] = 0;
	return 0;
}

static yaml_node_t *map_value(struct ps_ctx *c, yaml_node_t *map, const char *name)
{
	yaml_node_pair_t *p;
	yaml_node_t *key;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		key = node(c, p->key);
		if (key->type == YAML_SCALAR_NODE && !strcmp(scalar(key), name))
			return node(c, p->value);
	}
	return NULL;
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
		quote(buf, len, obj + k->off, strlen(obj + k->off));
	else if (k->type == PS_T_PREFIX)
		ps_prefix_str((const struct ps_prefix *)(obj + k->off), buf, len);
	else if (k->type == PS_T_QTY)
		snprintf(buf, len, "%llu", (unsigned long long)load_int(obj + k->off, k->size, false));
	else if (k->type == PS_T_DEC)
		snprintf(buf, len, "%.15g", *(const double *)(obj + k->off));
	else
		snprintf(buf, len, "%lld", load_int(obj + k->off, k->size, k->min < 0));
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
		here = node(c, items[i]);
		there = node(c, items[j]);
		if (key) {
			/* A value filled by default has no node: point at its entry. */
			v = map_value(c, here, key);
			here = v ? v : here;
			v = map_value(c, there, key);
			there = v ? v : there;
		}
		snprintf(kpath, sizeof(kpath), "%s%s%s", path, key ? "." : "", key ? key : "");
		return ps_error(c, &here->start_mark,
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
		return ps_error(c, &n->start_mark, "%s%sgot an empty list, expected %s",
				path, sep(path), expectation(k, want, sizeof(want)));
	if (count < k->min || count > k->max)
		return ps_error(c, count > k->max ? &node(c, items[k->max])->start_mark :
						   &n->start_mark,
				"%s%sgot %d entries, expected %s", path, sep(path), count,
				expectation(k, want, sizeof(want)));

	/* The file's list replaces the default one, not adds to it. */
	memset(arr, 0, k->max * k->size);
	for (i = 0; i < count; i++) {
		char *entry = arr + i * k->size;

		snprintf(epath, sizeof(epath), "%s[%d]", path, i);
		if (e->type == PS_T_MAP)
			apply_defaults(e->keys, entry + e->off);
		ret = parse_value(c, e, node(c, items[i]), entry, epath);
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
	char kpath[256], got[4 * PS_QUOTE_MAX + 32], names[256], want[512];
	int ret;

	if (n->type != YAML_MAPPING_NODE)
		return type_error(c, m, n, path);
	pairs = n->data.mapping.pairs.start;
	key_names(m->keys, names, sizeof(names));
	for (p = pairs; p < n->data.mapping.pairs.top; p++) {
		key = node(c, p->key);
		if (key->type != YAML_SCALAR_NODE)
			return ps_error(c, &key->start_mark, "%s%sgot %s as a key, expected one of %s",
					path, sep(path), describe(key, got, sizeof(got)), names);
		k = find_key(m->keys, scalar(key), key->data.scalar.length);
		if (!k)
			return ps_error(c, &key->start_mark, "%s%sunknown key %s, expected one of %s",
					path, sep(path),
					quote(got, sizeof(got), scalar(key), key->data.scalar.length),
					names);
		/* Earlier keys are all known and distinct, so this stays small. */
		for (q = pairs; q < p; q++) {
			if (strcmp(scalar(node(c, q->key)), k->name))
				continue;
			return ps_error(c, &key->start_mark,
					"%s%skey '%s' appears twice (first at line %zu), expected each key once",
					path, sep(path), k->name,
					node(c, q->key)->start_mark.line + 1);
		}
		val = node(c, p->value);
		/* "key:" with nothing after it keeps the default, as if absent. */
		if (node_is_null(val) && !(k->flags & PS_K_REQUIRED))
			continue;
		snprintf(kpath, sizeof(kpath), "%s%s%s", path, *path ? "." : "", k->name);
		ret = parse_value(c, k, val, obj, kpath);
		if (ret)
			return ret;
	}
	for (k = m->keys; k->name; k++) {
		if (!(k->flags & PS_K_REQUIRED) || map_value(c, n, k->name))
			continue;
		return ps_error(c, &n->start_mark, "%s%smissing key '%s', expected %s",
				path, sep(path), k->name, expectation(k, want, sizeof(want)));
	}
	if (m->finish)
		m->finish(obj);
	if (m->verify)
		return m->verify(c, n, obj, path);
	return 0;
}

static int parse_value(struct ps_ctx *c, const struct ps_key *k, yaml_node_t *n, void *obj,
		       const char *path)
{
	switch (k->type) {
	case PS_T_INT:
		return parse_int(c, k, n, obj, path);
	case PS_T_STR:
		return parse_str(c, k, n, obj, path);
	case PS_T_LIST:
		return parse_list(c, k, n, obj, path);
	case PS_T_MAP:
		return parse_map(c, k, n, (char *)obj + k->off, path);
	case PS_T_BOOL:
		return parse_bool(c, k, n, obj, path);
	case PS_T_ENUM:
		return parse_enum(c, k, n, obj, path);
	case PS_T_QTY:
		return parse_qty(c, k, n, obj, path);
	case PS_T_PREFIX:
		return parse_prefix(c, k, n, obj, path);
	case PS_T_DEC:
		return parse_dec(c, k, n, obj, path);
	}
	return -EINVAL;
}

/* The key node of name in a mapping, or NULL. */
static yaml_node_t *map_key(struct ps_ctx *c, yaml_node_t *map, const char *name)
{
	yaml_node_pair_t *p;
	yaml_node_t *key;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		key = node(c, p->key);
		if (key->type == YAML_SCALAR_NODE && !strcmp(scalar(key), name))
			return key;
	}
	return NULL;
}

/* Entry i of a sequence (which has it: the list was read from it). */
static yaml_node_t *seq_item(struct ps_ctx *c, yaml_node_t *seq, int i)
{
	return node(c, seq->data.sequence.items.start[i]);
}

/* Whether the limit key k (a row of default_keys) has a value in l. */
static bool limit_is_set(const struct ps_key *k, const struct ps_limits *l)
{
	const char *field = (const char *)l + k->off - offsetof(struct ps_config, limits_default);

	if (k->type == PS_T_ENUM)
		return load_int(field, k->size, true) != 0;
	return (uint64_t)load_int(field, k->size, false) != PS_LIMIT_UNSET;
}

static int default_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path)
{
	const struct ps_limits *l = &((struct ps_config *)obj)->limits_default;

	/* Only a given burst is set without requests_per_minute (see default_finish). */
	if (l->burst != PS_LIMIT_UNSET && l->requests_per_minute == PS_LIMIT_UNSET)
		return ps_error(c, &map_key(c, n, "burst")->start_mark,
				"%s.burst: burst without requests_per_minute, expected requests_per_minute as well",
				path);
	if (l->on_exceed == PS_ON_EXCEED_SHAPE && l->shape_rate == PS_LIMIT_UNSET)
		return ps_error(c, &map_key(c, n, "on_exceed")->start_mark,
				"%s.on_exceed: shape without shape_rate, expected shape_rate as well",
				path);
	return 0;
}

/* The key node of name in a mapping if it has a value ("key:" alone has none), or NULL. */
static yaml_node_t *given_key(struct ps_ctx *c, yaml_node_t *map, const char *name)
{
	yaml_node_pair_t *p;
	yaml_node_t *key;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		key = node(c, p->key);
		if (key->type == YAML_SCALAR_NODE && !strcmp(scalar(key), name))
			return node_is_null(node(c, p->value)) ? NULL : key;
	}
	return NULL;
}

/*
 * unlimited: true with limits beside it, or exempt: true with alert_only:
 * true, says two things: refuse it rather than pick one. Limits left
 * empty ("burst:") are absent.
 */
static int class_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path)
{
	const struct ps_class_cfg *cls = obj;
	yaml_node_pair_t *p;
	yaml_node_t *key;

	if (cls->exempt == 1 && cls->alert_only == 1)
		return ps_error(c, &map_key(c, n, "alert_only")->start_mark,
				"%s.alert_only: alert_only: true in a class with exempt: true (line %zu), expected either exempt: true or alert_only: true, not both",
				path, map_key(c, n, "exempt")->start_mark.line + 1);
	if (cls->limits.unlimited != 1)
		return 0;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		key = node(c, p->key);
		if (!find_key(default_keys, scalar(key), key->data.scalar.length) ||
		    node_is_null(node(c, p->value)))
			continue;
		return ps_error(c, &key->start_mark,
				"%s.%s: a limit in a class with unlimited: true (line %zu), expected either limits or unlimited: true, not both",
				path, scalar(key), map_key(c, n, "unlimited")->start_mark.line + 1);
	}
	return 0;
}

/* What a step's action does not use is 0, whatever the defaults say. */
static void step_finish(void *obj)
{
	struct ps_step_cfg *s = obj;

	if (s->action == PS_STEP_ALERT)
		s->duration = 0;
	if (s->action != PS_STEP_SHAPE)
		s->rate = 0;
	if (s->action != PS_STEP_DELAY)
		s->requests_per_minute = 0;
}

/* A key given for an action that has no use for it is a mistake: refuse it. */
static int step_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path)
{
#define A(x)	(1u << PS_STEP_##x)
	static const struct {
		const char *key;
		unsigned int actions;	/* A() of the actions it is for */
		const char *which;	/* the same, for the message */
	} rules[] = {
		{ "for", A(SHAPE) | A(DELAY) | A(BLOCK), "shape, delay or block" },
		{ "rate", A(SHAPE), "shape" },
		{ "requests_per_minute", A(DELAY), "delay" },
	};
#undef A
	const struct ps_step_cfg *s = obj;
	yaml_node_t *key;
	size_t i;

	for (i = 0; i < NELEMS(rules); i++) {
		key = given_key(c, n, rules[i].key);
		if (key && !(rules[i].actions & (1u << s->action)))
			return ps_error(c, &key->start_mark,
					"%s.%s: %s with action %s, expected %s only with action %s",
					path, rules[i].key, rules[i].key,
					step_action_names[s->action], rules[i].key, rules[i].which);
	}
	return 0;
}

struct prefix_owner {
	const struct ps_prefix *p;
	int cls, idx;		/* classes[cls].clients[idx] */
};

static int cmp_owner(const void *a, const void *b)
{
	const struct prefix_owner *x = a, *y = b;
	int r = memcmp(x->p, y->p, sizeof(*x->p));

	if (r)
		return r;
	if (x->cls != y->cls)
		return x->cls < y->cls ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

/*
 * A client is in one class: no prefix in two. Sorted, the entries of one
 * prefix are adjacent in file order; of all the prefixes seen again, the
 * one seen again first in the file is reported.
 */
static int check_class_prefixes(struct ps_ctx *c, yaml_node_t *classes,
				const struct ps_config *cfg, const char *path)
{
	struct prefix_owner *all, *again = NULL, *first = NULL;
	char text[64], name[4 * PS_QUOTE_MAX + 8];
	yaml_node_t *here, *there;
	int i, j, n = 0;

	for (i = 0; i < cfg->nclasses; i++)
		n += cfg->classes[i].nclients;
	if (n < 2)
		return 0;
	all = malloc(n * sizeof(*all));
	if (!all) {
		snprintf(c->err, c->errlen, "%s: out of memory", c->file);
		return -ENOMEM;
	}
	for (i = 0, n = 0; i < cfg->nclasses; i++)
		for (j = 0; j < cfg->classes[i].nclients; j++)
			all[n++] = (struct prefix_owner){ &cfg->classes[i].clients[j], i, j };
	qsort(all, n, sizeof(*all), cmp_owner);
	for (i = 1; i < n; i++) {
		/* The second of a run only: a third is later in the file. */
		if (memcmp(all[i].p, all[i - 1].p, sizeof(*all[i].p)) ||
		    (i > 1 && !memcmp(all[i].p, all[i - 2].p, sizeof(*all[i].p))))
			continue;
		if (!again || all[i].cls < again->cls ||
		    (all[i].cls == again->cls && all[i].idx < again->idx)) {
			again = &all[i];
			first = &all[i - 1];
		}
	}
	if (again) {
		here = seq_item(c, map_value(c, seq_item(c, classes, again->cls), "clients"),
				again->idx);
		there = seq_item(c, map_value(c, seq_item(c, classes, first->cls), "clients"),
				 first->idx);
		ps_error(c, &here->start_mark,
			 "%s.classes[%d].clients[%d]: %s is already in class %s (line %zu), expected each prefix in one class only",
			 path, again->cls, again->idx, ps_prefix_str(again->p, text, sizeof(text)),
			 quote(name, sizeof(name), cfg->classes[first->cls].name,
			       strlen(cfg->classes[first->cls].name)),
			 there->start_mark.line + 1);
	}
	free(all);
	return again ? -EINVAL : 0;
}

/*
 * What needs limits.default and the classes both, which may come in
 * either order: a class's burst or on_exceed: shape against what it
 * inherits, and the classes' prefixes against each other.
 */
static int limits_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path)
{
	const struct ps_config *cfg = obj;
	const struct ps_limits *d = &cfg->limits_default, *l;
	yaml_node_t *classes = map_value(c, n, "classes"), *cn;
	int i;

	for (i = 0; i < cfg->nclasses; i++) {
		l = &cfg->classes[i].limits;
		if (l->unlimited == 1)
			continue;
		cn = seq_item(c, classes, i);
		if (l->burst != PS_LIMIT_UNSET && l->requests_per_minute == PS_LIMIT_UNSET &&
		    d->requests_per_minute == PS_LIMIT_UNSET)
			return ps_error(c, &map_key(c, cn, "burst")->start_mark,
					"%s.classes[%d].burst: burst without requests_per_minute, expected requests_per_minute in the class or in %s.default",
					path, i, path);
		if (l->on_exceed == PS_ON_EXCEED_SHAPE && l->shape_rate == PS_LIMIT_UNSET &&
		    d->shape_rate == PS_LIMIT_UNSET)
			return ps_error(c, &map_key(c, cn, "on_exceed")->start_mark,
					"%s.classes[%d].on_exceed: shape without shape_rate, expected shape_rate in the class or in %s.default",
					path, i, path);
	}
	return check_class_prefixes(c, classes, cfg, path);
}

void ps_limits_resolve(const struct ps_config *cfg, int class_id, struct ps_limits *out)
{
	const size_t base = offsetof(struct ps_config, limits_default);
	const struct ps_limits *l = NULL;
	const struct ps_key *k;

	if (class_id >= 1 && class_id <= cfg->nclasses)
		l = &cfg->classes[class_id - 1].limits;
	*out = cfg->limits_default;
	/* Every limit key is a row of default_keys: copy those the class sets. */
	for (k = default_keys; l && k->name; k++)
		if (limit_is_set(k, l))
			memcpy((char *)out + k->off - base, (const char *)l + k->off - base, k->size);
	out->unlimited = l && l->unlimited == 1;
	out->dry_run = l && l->dry_run >= 0 ? l->dry_run == 1 : cfg->dry_run > 0;
	if (out->on_exceed == PS_ON_EXCEED_UNSET)
		out->on_exceed = PS_ON_EXCEED_DELAY;
	if (out->requests_per_minute != PS_LIMIT_UNSET && out->burst == PS_LIMIT_UNSET)
		out->burst = 1;
	for (k = default_keys; out->unlimited && k->name; k++)
		if (k->type != PS_T_ENUM)
			store_int((char *)out + k->off - base, k->size, PS_DEF_UNSET);
}

void ps_thresholds_resolve(const struct ps_config *cfg, int class_id, struct ps_thresholds *out)
{
	const struct ps_thresholds *t = NULL;
	const struct ps_key *k;
	long long v;

	if (class_id >= 1 && class_id <= cfg->nclasses)
		t = &cfg->classes[class_id - 1].thresholds;
	*out = cfg->detection.thresholds;
	/* Every threshold is a uint64_t row of threshold_keys: copy those the class sets. */
	for (k = threshold_keys; t && k->name; k++) {
		v = load_int((const char *)t + k->off, k->size, false);
		if ((uint64_t)v != PS_LIMIT_UNSET)
			store_int((char *)out + k->off, k->size, v);
	}
}

int ps_config_class_of(const struct ps_config *cfg, const struct ps_client_key *k)
{
	int c, j, best = 0, best_len = -1;

	for (c = 0; c < cfg->nclasses; c++)
		for (j = 0; j < cfg->classes[c].nclients; j++) {
			const struct ps_prefix *p = &cfg->classes[c].clients[j];
			const uint8_t *a = (const uint8_t *)&k->addr;
			int bits = p->len, i;

			if (p->family != k->family || bits <= best_len)
				continue;
			for (i = 0; i < bits / 8; i++)
				if (a[i] != p->addr[i])
					break;
			if (i < bits / 8)
				continue;
			if (bits % 8 && ((a[i] ^ p->addr[i]) & (0xff00 >> (bits % 8)) & 0xff))
				continue;
			best = c + 1;
			best_len = bits;
		}
	return best;
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
			return ps_error(c, &m, "invalid input: %s #x%X, expected UTF-8 text",
					p->problem, p->problem_value);
		return ps_error(c, &m, "invalid input: %s, expected UTF-8 text", p->problem);
	default:
		if (p->context)
			return ps_error(c, &p->problem_mark,
					"YAML syntax error %s (line %zu, column %zu): %s",
					p->context, p->context_mark.line + 1,
					p->context_mark.column + 1, p->problem);
		return ps_error(c, &p->problem_mark, "YAML syntax error: %s",
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
	apply_defaults(root_keys, cfg);
}

/* Parse a loaded document into cfg. */
static int load_document(struct ps_ctx *c, struct ps_config *cfg)
{
	yaml_node_t *root = yaml_document_get_root_node(c->doc);
	yaml_mark_t start = { 0 };
	char want[512];

	if (!root || node_is_null(root))
		return ps_error(c, root ? &root->start_mark : &start,
				"the file is empty, expected %s",
				expectation(&root_map, want, sizeof(want)));
	return parse_map(c, &root_map, root, cfg, "");
}

int ps_config_load(const char *path, struct ps_config *cfg, char *err, size_t errlen)
{
	char dummy[1], *buf = NULL;
	struct ps_ctx c = { .file = path, .err = err, .errlen = errlen };
	yaml_document_t doc, next;
	yaml_parser_t parser;
	struct ps_config *tmp;
	size_t len = 0;
	int ret;

	/* Callers that don't want the message may pass NULL. */
	if (!c.err || !c.errlen) {
		c.err = dummy;
		c.errlen = sizeof(dummy);
	}
	c.err[0] = 0;
	if (strlen(path) >= sizeof(cfg->source)) {
		snprintf(c.err, c.errlen, "%.64s...: file name longer than %zu bytes",
			 path, sizeof(cfg->source) - 1);
		return -ENAMETOOLONG;
	}
	ret = read_file(path, &buf, &len);
	if (ret == -EFBIG) {
		snprintf(c.err, c.errlen, "%s: larger than %d bytes, expected a configuration file",
			 path, PS_CONFIG_MAX_BYTES);
		return ret;
	}
	if (ret) {
		snprintf(c.err, c.errlen, "%s: cannot read: %s", path, strerror(-ret));
		return ret;
	}

	/* Parse into a copy, so that cfg is untouched unless all of it is good. */
	tmp = malloc(sizeof(*tmp));
	if (!tmp || !yaml_parser_initialize(&parser)) {
		snprintf(c.err, c.errlen, "%s: out of memory", path);
		free(tmp);
		free(buf);
		return -ENOMEM;
	}
	ps_config_init(tmp);
	snprintf(tmp->source, sizeof(tmp->source), "%s", path);
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
	if (yaml_document_get_root_node(&next))
		ret = ps_error(&c, &next.start_mark,
			       "a second YAML document, expected one document per file");
	yaml_document_delete(&next);
	if (ret)
		goto out_doc;

	c.doc = &doc;
	ret = load_document(&c, tmp);
	if (!ret) {
		memcpy(cfg, tmp, sizeof(*cfg));
		pr_debug("config %s: %d interfaces, %d endpoints\n", path, cfg->nifaces,
			 cfg->nendpoints);
	}
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	free(tmp);
	free(buf);
	return ret;
}

int ps_config_add_port(struct ps_config *cfg, long port)
{
	const struct ps_key *k = find_key(endpoint_keys, "port", 4);
	struct ps_endpoint_cfg *ep;
	int i;

	if (!k || port < k->min || port > k->max)
		return -EINVAL;
	for (i = 0; i < cfg->nendpoints; i++)
		if (cfg->endpoints[i].port == port)
			return 0;
	if (cfg->nendpoints >= PS_MAX_ENDPOINTS)
		return -ENOSPC;
	ep = &cfg->endpoints[cfg->nendpoints];
	memset(ep, 0, sizeof(*ep));
	apply_defaults(endpoint_keys, ep);
	store_int((char *)ep + k->off, k->size, port);
	endpoint_finish(ep);
	cfg->nendpoints++;
	return 0;
}
