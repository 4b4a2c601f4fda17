// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every key of a config file, a row each (config_keys.h says what a row
 * holds): bounds checked against struct ps_config's fields at compile
 * time, defaults, and the checks of what several keys say together
 * (finish and verify); then what the rows make of a client: the limits
 * and thresholds of its class, and its class by prefix.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/config.h"
#include "common/config_keys.h"
#include "common/units.h"
#include "fleet/url.h"

const char *const ps_default_paths[] = {
	"/v1/chat/completions",
	"/v1/completions",
	"/v1/embeddings",
	"/v1/responses",
	NULL,
};

static const char *check_ifname(const char *s, size_t len);
static const char *check_name(const char *s, size_t len);
static const char *check_path(const char *s, size_t len);
static const char *check_abs_path(const char *s, size_t len);
static const char *check_url(const char *s, size_t len);
static const char *check_listen(const char *s, size_t len);
static const char *check_fleet_word(const char *s, size_t len);
static int fleet_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path);
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

static const char *const forwarded_for_names[] = {
	[PS_FWD_FOR_OFF] = "false",
	[PS_FWD_FOR_BOTH] = "true",
	[PS_FWD_FOR_XFF] = "x-forwarded-for",
	[PS_FWD_FOR_FORWARDED] = "forwarded",
};

static const char *const identity_names[] = {
	[PS_IDENTITY_ADDRESS] = "address",
	[PS_IDENTITY_API_KEY] = "api_key",
};

static const char *const xdp_names[] = {
	[PS_XDP_AUTO] = "auto",
	[PS_XDP_ON] = "on",
	[PS_XDP_OFF] = "off",
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

static const struct ps_key trusted_entry = {
	PREFIX_ENTRY(struct ps_endpoint_cfg, trusted),
	.flags = PS_K_UNIQUE,
};

static int endpoint_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path);

static const struct ps_key endpoint_keys[] = {
	{
		.name = "name",
		STR_FIELD(struct ps_endpoint_cfg, name, 1, PS_NAME_MAX - 1),
		.check = check_name,
		.rule = "printable ASCII",
		.doc = "a label",
		.doc_def = "`port-<port>`",
	},
	{
		.name = "port",
		INT_FIELD(struct ps_endpoint_cfg, port, 1, 65535),
		.flags = PS_K_REQUIRED | PS_K_UNIQUE,
		.doc = "the server's TCP port",
	},
	{
		.name = "paths",
		LIST_FIELD(struct ps_endpoint_cfg, paths, npaths, 1, PS_MAX_PATHS),
		.elem = &path_entry,
		.what = "paths",
		.def_list = ps_default_paths,
		.doc = "a request whose path starts with one of these is an inference request",
	},
	{
		.name = "proxy_protocol",
		BOOL_FIELD(struct ps_endpoint_cfg, proxy_protocol),
		.doc = "each connection starts with a PROXY protocol header, v1 or v2, naming "
			"its client ([Behind a load "
			"balancer](#behind-a-load-balancer-the-proxy-protocol))",
		.doc_rule = "`true` needs `trusted_proxies`",
	},
	{
		.name = "forwarded_for",
		ENUM_FIELD(struct ps_endpoint_cfg, forwarded_for, forwarded_for_names),
		.doc = "each request's client from its `X-Forwarded-For` (else `Forwarded`), "
			"only that header, or only `Forwarded`, on connections from a trusted "
			"proxy ([Behind a "
			"gateway](#behind-a-gateway-x-forwarded-for-and-forwarded))",
		.doc_rule = "any but `false` needs `trusted_proxies`",
	},
	{
		.name = "identity",
		ENUM_FIELD(struct ps_endpoint_cfg, identity, identity_names),
		.doc = "whom a request is counted to: its address, or its API key when it "
			"carries one ([Per API key](#per-api-key-identity-api_key))",
	},
	{
		.name = "trusted_proxies",
		LIST_FIELD(struct ps_endpoint_cfg, trusted, ntrusted, 1, PS_MAX_TRUSTED),
		.elem = &trusted_entry,
		.what = "prefixes",
		.doc = "the load balancers and gateways whose headers are believed; quote an "
			"IPv6 one in a `[...]` list",
		.doc_rule = "only with `proxy_protocol: true` or `forwarded_for`",
	},
	{}
};

static const struct ps_key endpoint_entry = {
	.type = PS_T_MAP,
	.keys = endpoint_keys,
	.finish = endpoint_finish,
	.verify = endpoint_verify,
};

/* limits.default: offsets are in struct ps_config, as the map has none of its own. */
static const struct ps_key default_keys[] = {
	LIMIT_KEYS(struct ps_config, limits_default, PS_ON_EXCEED_DELAY, "no limit", "`1`", NULL),
	{}
};

static const struct ps_key prefix_entry = {
	PREFIX_ENTRY(struct ps_class_cfg, clients),
	.flags = PS_K_UNIQUE,
};

static const struct ps_key keyid_entry = {
	PREFIX_ENTRY(struct ps_class_cfg, keys),
	.flags = PS_K_UNIQUE | PS_K_KEYID,
};

/* detection.thresholds and a class's thresholds: offsets in struct ps_thresholds. */
static const struct ps_key threshold_keys[] = {
	{
		.name = "requests_per_minute",
		INT_FIELD(struct ps_thresholds, requests_per_minute, 1, 1000000000),
		.def = PS_DEF_UNSET,
		.doc = "inference requests, 1m window",
	},
	{
		.name = "requests_per_hour",
		INT_FIELD(struct ps_thresholds, requests_per_hour, 1, 1000000000000LL),
		.def = PS_DEF_UNSET,
		.doc = "inference requests, 1h window",
	},
	{
		.name = "requests_per_day",
		INT_FIELD(struct ps_thresholds, requests_per_day, 1, 1000000000000LL),
		.def = PS_DEF_UNSET,
		.doc = "inference requests, 24h window",
	},
	{
		.name = "tx_payload_per_hour",
		QTY_FIELD(struct ps_thresholds, tx_payload_per_hour, ps_parse_size, "size", "bytes"),
		.def = PS_DEF_UNSET,
		.doc = "response payload bytes, 1h window",
	},
	{
		.name = "tx_payload_per_day",
		QTY_FIELD(struct ps_thresholds, tx_payload_per_day, ps_parse_size, "size", "bytes"),
		.def = PS_DEF_UNSET,
		.doc = "response payload bytes, 24h window",
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
		.doc = "a label",
	},
	{
		.name = "clients",
		LIST_FIELD(struct ps_class_cfg, clients, nclients, 1, PS_MAX_CLASS_PREFIXES),
		.elem = &prefix_entry,
		.what = "prefixes",
		.doc = "who is in the class; quote an IPv6 one in a `[...]` list",
		.doc_rule = "each in one class only (a longer prefix in another class is fine)",
		.doc_def = "required unless `keys`",
	},
	{
		.name = "keys",
		LIST_FIELD(struct ps_class_cfg, keys, nkeys, 1, PS_MAX_CLASS_KEYS),
		.elem = &keyid_entry,
		.what = "API key ids",
		.doc = "the API keys in the class (endpoints with `identity: api_key`)",
		.doc_rule = "each in one class only; with `clients`, 256 in all",
	},
	LIMIT_KEYS(struct ps_class_cfg, limits, PS_ON_EXCEED_UNSET, "the default's",
		   "the default's", "the default's"),
	{
		.name = "unlimited",
		BOOL_FIELD(struct ps_class_cfg, limits.unlimited),
		.def = PS_DEF_UNSET,
		.doc = "no limit applies to the class's clients",
		.doc_rule = "with `true`, no limit key in the class",
		.doc_def = "`false`",
	},
	{
		.name = "dry_run",
		BOOL_FIELD(struct ps_class_cfg, limits.dry_run),
		.def = PS_DEF_UNSET,
		.doc = "dry run for the class's clients only",
		.doc_def = "the global `dry_run`",
	},
	{
		.name = "exempt",
		BOOL_FIELD(struct ps_class_cfg, exempt),
		.def = 0,
		.doc = "detection never alerts on the class's clients nor acts against them",
	},
	{
		.name = "alert_only",
		BOOL_FIELD(struct ps_class_cfg, alert_only),
		.def = 0,
		.doc = "alerts on the class's clients have action `alert` only: nothing is "
			"shaped, delayed or blocked",
		.doc_rule = "not `true` with `exempt: true`",
	},
	{
		.name = "thresholds",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_class_cfg, thresholds),
		.keys = threshold_keys,
		.doc = "the class's own thresholds; a key left out is `detection.thresholds`'",
		.doc_def = "`detection.thresholds`'",
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
		.doc = "the limits of clients in no class, and what classes inherit",
		.doc_rule = "the limit keys below",
		.doc_def = "no limit",
	},
	{
		.name = "classes",
		LIST_FIELD(struct ps_config, classes, nclasses, 0, PS_MAX_CLASSES - 1),
		.elem = &class_entry,
		.what = "classes",
		.doc = "[Classes](#classes)",
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
		.doc = "the file; its directory is made if need be",
	},
	{
		.name = "max_bytes",
		QTY_RANGE(struct ps_alerts_jsonl_cfg, max_bytes, ps_parse_size, "size", "bytes",
			  1024, 1ULL << 40),
		.def = 10 << 20,
		.doc = "rotate before the file would grow past this",
	},
	{
		.name = "keep",
		INT_FIELD(struct ps_alerts_jsonl_cfg, keep, 0, 1000),
		.def = 5,
		.doc = "rotated files kept (`path.1` .. `path.KEEP`)",
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
		.doc = "where alerts are POSTed, e.g. `http://alertmanager:9093/api/v2/alerts`; "
			"`https://` is verified against the system's CA certificates",
	},
	{
		.name = "spool_dir",
		STR_FIELD(struct ps_alerts_webhook_cfg, spool_dir, 1, PS_ALERT_PATH_MAX - 1),
		.check = check_abs_path,
		.rule = "an absolute path",
		.def_str = "/var/lib/penstock/spool",
		.doc = "where alerts wait until delivered (made with mode 0700)",
	},
	{
		.name = "timeout",
		QTY_RANGE(struct ps_alerts_webhook_cfg, timeout, ps_parse_duration, "duration",
			  "seconds", 1, 300),
		.def = 5,
		.doc = "one POST, connecting included",
	},
	{
		.name = "max_spool",
		QTY_RANGE(struct ps_alerts_webhook_cfg, max_spool, ps_parse_size, "size", "bytes",
			  1 << 20, 1ULL << 40),
		.def = 100 << 20,
		.doc = "past it the oldest batches waiting are dropped",
	},
	{
		.name = "max_backoff",
		QTY_RANGE(struct ps_alerts_webhook_cfg, max_backoff, ps_parse_duration, "duration",
			  "seconds", 1, 3600),
		.def = 60,
		.doc = "retries wait 1 s, doubling up to this",
	},
	{}
};

/* alerts: offsets in struct ps_alerts_cfg. */
static const struct ps_key alerts_keys[] = {
	{
		.name = "stderr",
		BOOL_FIELD(struct ps_alerts_cfg, to_stderr),
		.def = 1,
		.doc = "one line per alert on stderr",
	},
	{
		.name = "jsonl",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_alerts_cfg, jsonl),
		.keys = alerts_jsonl_keys,
		.doc = "the JSON-lines file",
		.doc_def = "none: no file",
	},
	{
		.name = "webhook",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_alerts_cfg, webhook),
		.keys = alerts_webhook_keys,
		.doc = "Alertmanager API v2",
		.doc_def = "none: no webhook",
	},
	{
		.name = "keep_in_memory",
		INT_FIELD(struct ps_alerts_cfg, keep_in_memory, 0, 1000000),
		.def = 1000,
		.doc = "alerts kept for `penstock alerts`",
	},
	{}
};

/* metrics: offsets in struct ps_metrics_cfg. */
static const struct ps_key metrics_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_metrics_cfg, enabled),
		.def = 1,
		.doc = "serve `/metrics`",
	},
	{
		.name = "listen",
		STR_FIELD(struct ps_metrics_cfg, listen, 1, PS_METRICS_LISTEN_MAX - 1),
		.check = check_listen,
		.rule = "ADDRESS:PORT, a numeric IPv4 address or a bracketed IPv6 one and a "
			"port 1..65535, such as 127.0.0.1:9464 or [::1]:9464",
		.def_str = "127.0.0.1:9464",
		.doc = "where penstockd listens; no host names",
	},
	{
		.name = "top",
		INT_FIELD(struct ps_metrics_cfg, top, 0, PS_METRICS_TOP_MAX),
		.def = 20,
		.doc = "subjects in each top list (by egress, by requests and by completion tokens in "
		       "the last minute); "
		       "0: none",
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
		.doc = "an alert only; egress shaped to `rate`; requests held to "
			"`requests_per_minute`; every packet dropped",
	},
	{
		.name = "for",
		QTY_RANGE(struct ps_step_cfg, duration, ps_parse_duration, "duration", "seconds",
			  1, 30 * DAY),
		.def = HOUR,
		.doc = "how long the action lasts",
		.doc_rule = "not with `alert`",
	},
	{
		.name = "cooldown",
		QTY_RANGE(struct ps_step_cfg, cooldown, ps_parse_duration, "duration", "seconds",
			  0, 30 * DAY),
		.def = 10 * MINUTE,
		.doc = "how long before the next step may follow",
	},
	{
		.name = "rate",
		QTY_FIELD(struct ps_step_cfg, rate, ps_parse_rate, "rate", "bit/s"),
		.def = 4000000,
		.doc = "a prefix's clients share it",
		.doc_rule = "`shape` only",
	},
	{
		.name = "requests_per_minute",
		INT_FIELD(struct ps_step_cfg, requests_per_minute, 1, 10000000),
		.def = 10,
		.doc = "a prefix's clients together",
		.doc_rule = "`delay` only",
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
		.doc = "a subject not detected this long starts again at the first step",
	},
	{
		.name = "steps",
		LIST_FIELD(struct ps_detection_cfg, steps, nsteps, 1, PS_MAX_STEPS),
		LIST_DEFAULTS(struct ps_detection_cfg, steps, default_steps),
		.elem = &step_entry,
		.what = "steps",
		.doc = "the steps of the escalation",
		.doc_rule = "given, it replaces the default",
		.doc_def = "alert (cooldown 5m); shape 4mbit for 1h; delay 10 a minute for "
			"1h; block for 1h (cooldown 10m each)",
	},
	{}
};

/* The detectors' mappings are levels of the file: offsets in struct ps_detection_cfg. */
static const struct ps_key high_rate_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, high_rate.enabled),
		.def = 1,
		.doc = "`false`: the detector does not run",
	},
	{
		.name = "requests_per_minute",
		INT_FIELD(struct ps_detection_cfg, high_rate.requests_per_minute, 1, 1000000000),
		.def = 15,
		.doc = "floor: the client's 1m window (a person at a chat interface stays well "
			"under it)",
	},
	{}
};

static const struct ps_key prefix_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, prefix.enabled),
		.def = 1,
		.doc = "`false`: the detector does not run",
	},
	{
		.name = "min_clients",
		INT_FIELD(struct ps_detection_cfg, prefix.min_clients, 2, 1000000),
		.def = 10,
		.doc = "active clients in the prefix",
	},
	{
		.name = "requests_per_hour",
		INT_FIELD(struct ps_detection_cfg, prefix.requests_per_hour, 1, 1000000000000LL),
		.def = 300,
		.doc = "floor: the prefix's 1h window",
	},
	{}
};

static const struct ps_key shared_key_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, shared_key.enabled),
		.def = 1,
		.doc = "`false`: the detector does not run",
	},
	{
		.name = "min_networks",
		INT_FIELD(struct ps_detection_cfg, shared_key.min_networks, 2, 1000000),
		.def = 8,
		.doc = "networks (IPv4 /24, IPv6 /48) one API key came from in the last hour",
	},
	{}
};

static const struct ps_key key_hydra_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, key_hydra.enabled),
		.def = 1,
		.doc = "`false`: the detector does not run",
	},
	{
		.name = "min_keys",
		INT_FIELD(struct ps_detection_cfg, key_hydra.min_keys, 2, 1000000),
		.def = 8,
		.doc = "API keys from one address or network in the last hour",
	},
	{
		.name = "max_cv",
		DEC_FIELD(struct ps_detection_cfg, key_hydra.max_cv, 0, 10),
		.ddef = 0.35,
		.doc = "coefficient of variation of those keys' request rates",
	},
	{
		.name = "requests_per_key",
		INT_FIELD(struct ps_detection_cfg, key_hydra.requests_per_key, 1, 1000000000),
		.def = 3,
		.doc = "their mean request rate, an hour",
	},
	{}
};

static const struct ps_key low_and_slow_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, low_and_slow.enabled),
		.def = 1,
		.doc = "`false`: the detector does not run",
	},
	{
		.name = "min_history",
		QTY_RANGE(struct ps_detection_cfg, low_and_slow.min_history, ps_parse_duration,
			  "duration", "seconds", MINUTE, 7 * DAY),
		.def = 3 * HOUR,
		.doc = "how long a client is observed before it is judged",
	},
	{
		.name = "duty_cycle",
		DEC_FIELD(struct ps_detection_cfg, low_and_slow.duty_cycle, 0, 1),
		.ddef = 0.9,
		.doc = "share of its minutes the client is active in",
	},
	{
		.name = "max_cv",
		DEC_FIELD(struct ps_detection_cfg, low_and_slow.max_cv, 0, 10),
		.ddef = 0.3,
		.doc = "coefficient of variation of the time between its requests",
	},
	{
		.name = "requests_per_hour",
		INT_FIELD(struct ps_detection_cfg, low_and_slow.requests_per_hour, 1,
			  1000000000000LL),
		.def = 120,
		.doc = "floor: the client's 1h window",
	},
	{}
};

static const struct ps_key surge_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, surge.enabled),
		.def = 1,
		.doc = "`false`: the detector does not run",
	},
	{
		.name = "factor",
		DEC_FIELD(struct ps_detection_cfg, surge.factor, 1, 1000000),
		.ddef = 5,
		.doc = "the 1h rate over the client's own baseline",
	},
	{
		.name = "min_history",
		QTY_RANGE(struct ps_detection_cfg, surge.min_history, ps_parse_duration,
			  "duration", "seconds", MINUTE, 7 * DAY),
		.def = 3 * HOUR,
		.doc = "history needed before the client is judged",
	},
	{
		.name = "requests_per_hour",
		INT_FIELD(struct ps_detection_cfg, surge.requests_per_hour, 1, 1000000000000LL),
		.def = 120,
		.doc = "floor: the client's 1h window",
	},
	{}
};

static const struct ps_key ratio_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, ratio.enabled),
		.def = 1,
		.doc = "`false`: the detector does not run",
	},
	{
		.name = "min_ratio",
		DEC_FIELD(struct ps_detection_cfg, ratio.min_ratio, 1, 1000000),
		.ddef = 25,
		.doc = "`tx_payload` / `rx_payload` over 24h",
	},
	{
		.name = "min_requests",
		INT_FIELD(struct ps_detection_cfg, ratio.min_requests, 1, 1000000000000LL),
		.def = 100,
		.doc = "inference requests in 24h",
	},
	{}
};

/* detection: offsets in struct ps_detection_cfg. */
static const struct ps_key detection_keys[] = {
	{
		.name = "enabled",
		BOOL_FIELD(struct ps_detection_cfg, enabled),
		.def = 1,
		.doc = "`false`: no detector runs",
	},
	{
		.name = "interval",
		QTY_RANGE(struct ps_detection_cfg, interval, ps_parse_duration, "duration",
			  "seconds", 1, HOUR),
		.def = 10,
		.doc = "how often the detectors run",
	},
	{
		.name = "min_population",
		INT_FIELD(struct ps_detection_cfg, min_population, 2, 1000000),
		.def = 20,
		.doc = "active clients needed for a population baseline",
	},
	{
		.name = "zscore",
		DEC_FIELD(struct ps_detection_cfg, zscore, 1, 1000),
		.ddef = 3.5,
		.doc = "the robust z-score that is \"far above the population\"",
	},
	{
		.name = "high_rate",
		.type = PS_T_MAP,
		.keys = high_rate_keys,
		.doc = "the `high_rate` detector (below)",
		.doc_def = "its keys' defaults",
	},
	{
		.name = "prefix",
		.type = PS_T_MAP,
		.keys = prefix_keys,
		.doc = "the `prefix` detector (below)",
		.doc_def = "its keys' defaults",
	},
	{
		.name = "low_and_slow",
		.type = PS_T_MAP,
		.keys = low_and_slow_keys,
		.doc = "the `low_and_slow` detector (below)",
		.doc_def = "its keys' defaults",
	},
	{
		.name = "surge",
		.type = PS_T_MAP,
		.keys = surge_keys,
		.doc = "the `surge` detector (below)",
		.doc_def = "its keys' defaults",
	},
	{
		.name = "ratio",
		.type = PS_T_MAP,
		.keys = ratio_keys,
		.doc = "the `ratio` detector (below)",
		.doc_def = "its keys' defaults",
	},
	{
		.name = "shared_key",
		.type = PS_T_MAP,
		.keys = shared_key_keys,
		.doc = "the `shared_key` detector (below)",
		.doc_def = "its keys' defaults",
	},
	{
		.name = "key_hydra",
		.type = PS_T_MAP,
		.keys = key_hydra_keys,
		.doc = "the `key_hydra` detector (below)",
		.doc_def = "its keys' defaults",
	},
	{
		.name = "thresholds",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_detection_cfg, thresholds),
		.keys = threshold_keys,
		.doc = "the `threshold` detector's thresholds",
	},
	{
		.name = "escalation",
		.type = PS_T_MAP,
		.keys = escalation_keys,
		.doc = "what is done about what the detectors find",
		.doc_def = "its keys' defaults",
	},
	{}
};

/* fleet: the fleet's Redis and this host's name in it (fleet/url.h, docs/fleet.md). */
static const char *check_redis_url(const char *s, size_t len)
{
	struct ps_fleet_url u;

	return ps_fleet_url_parse(s, len, &u);
}

static const struct ps_key fleet_keys[] = {
	{
		.name = "redis",
		STR_FIELD(struct ps_fleet_cfg, redis, 1, PS_FLEET_URL_MAX - 1),
		.flags = PS_K_REQUIRED,
		.check = check_redis_url,
		.rule = "redis://HOST:PORT/DB, rediss://, redis-sentinel://H:P,H:P/MASTER or redis-cluster://H:P,H:P",
		.doc = "the fleet's Redis; penstockd serves `redis://`, `redis-sentinel://` and "
		       "`redis-cluster://` (seed nodes: the masters are found from the slot map) and "
		       "refuses `rediss://` at start",
	},
	{
		.name = "name",
		STR_FIELD(struct ps_fleet_cfg, name, 1, PS_FLEET_NAME_MAX - 1),
		.def_str = "penstock",
		.doc = "the fleet's name, in every key of its counters (docs/fleet.md)",
		.check = check_fleet_word,
		.rule = "letters, digits, '.', '-' and '_'",
	},
	{
		.name = "host_id",
		STR_FIELD(struct ps_fleet_cfg, host_id, 1, PS_FLEET_NAME_MAX - 1),
		.doc = "this host's field in the buckets; unique in the fleet",
		.doc_def = "the host name",
		.check = check_fleet_word,
		.rule = "letters, digits, '.', '-' and '_'",
	},
	{
		.name = "password_file",
		STR_FIELD(struct ps_fleet_cfg, password_file, 1, PS_ALERT_PATH_MAX - 1),
		.doc = "its first line is the password (`AUTH`), read at start",
		.check = check_abs_path,
		.rule = "an absolute path",
	},
	{
		.name = "tls",
		BOOL_FIELD(struct ps_fleet_cfg, tls),
		.doc = "TLS to Redis (refused: this hiredis has none)",
		.def = 0,
	},
	{
		.name = "stale_after",
		QTY_RANGE(struct ps_fleet_cfg, stale_after, ps_parse_duration, "duration", "seconds",
			  2, 3600),
		.def = 5,
		.doc = "no whole answer for this long: the fleet's sums are set aside, local limits only",
	},
	{}
};

/* fleet_limits: one entry per class, the fleet's limits of its clients. */
static const struct ps_key fleet_limit_keys[] = {
	{
		.name = "class",
		STR_FIELD(struct ps_fleet_limit_cfg, class_name, 1, PS_NAME_MAX - 1),
		.flags = PS_K_REQUIRED | PS_K_UNIQUE,
		.check = check_name,
		.rule = "printable ASCII",
		.doc = "whose limits these are: `default` or a name of `limits.classes`",
	},
	{
		.name = "requests_per_minute",
		INT_FIELD(struct ps_fleet_limit_cfg, requests_per_minute, 1, 100000000),
		.doc = "inference requests a minute, the whole fleet",
		.def = PS_DEF_UNSET,
	},
	{
		.name = "burst",
		INT_FIELD(struct ps_fleet_limit_cfg, burst, 1, 1000000),
		.doc = "requests back to back, the whole fleet (each host gets its share)",
		.def = 1,
	},
	{
		.name = "requests_per_day",
		INT_FIELD(struct ps_fleet_limit_cfg, requests_per_day, 1, 1000000000000LL),
		.doc = "inference requests per 24h window, the whole fleet",
		.def = PS_DEF_UNSET,
	},
	{
		.name = "egress_bytes_per_minute",
		QTY_FIELD(struct ps_fleet_limit_cfg, egress_bytes_per_minute, ps_parse_size, "size",
			  "bytes"),
		.doc = "bytes sent to the client per 1m window, the whole fleet",
		.def = PS_DEF_UNSET,
	},
	{
		.name = "egress_bytes_per_day",
		QTY_FIELD(struct ps_fleet_limit_cfg, egress_bytes_per_day, ps_parse_size, "size",
			  "bytes"),
		.doc = "bytes sent to the client per 24h window, the whole fleet",
		.def = PS_DEF_UNSET,
	},
	{
		.name = "tokens_per_minute",
		INT_FIELD(struct ps_fleet_limit_cfg, tokens_per_minute, 1, 1000000000000LL),
		.doc = "prompt + completion tokens per 1m window, as the servers report them, the "
		       "whole fleet",
		.def = PS_DEF_UNSET,
	},
	{
		.name = "tokens_per_day",
		INT_FIELD(struct ps_fleet_limit_cfg, tokens_per_day, 1, 1000000000000000LL),
		.doc = "prompt + completion tokens per 24h window, as the servers report them, the "
		       "whole fleet",
		.def = PS_DEF_UNSET,
	},
	{}
};

static const struct ps_key fleet_limit_entry = {
	.type = PS_T_MAP,
	.keys = fleet_limit_keys,
};

const struct ps_key ps_cfg_root_keys[] = {
	{
		.name = "interfaces",
		LIST_FIELD(struct ps_config, ifaces, nifaces, 0, PS_MAX_IFACES),
		.elem = &iface_entry,
		.what = "interface names",
		.doc = "where penstockd attaches (it needs at least one)",
	},
	{
		.name = "endpoints",
		LIST_FIELD(struct ps_config, endpoints, nendpoints, 1, PS_MAX_ENDPOINTS),
		.flags = PS_K_REQUIRED,
		.elem = &endpoint_entry,
		.what = "endpoints",
		.doc = "the inference servers",
	},
	{
		.name = "max_clients",
		INT_FIELD(struct ps_config, max_clients, 16, 16777216),
		.def = PS_MAX_CLIENTS,
		.doc = "client slots in the kernel's maps; takes effect when penstockd starts a "
			"fresh datapath (none running to adopt)",
	},
	{
		.name = "reclaim_idle",
		INT_FIELD(struct ps_config, reclaim_idle, 1, 31536000),
		.def = 600,
		.doc = "how long a client must have been idle before its slot may be reclaimed",
		.doc_rule = "seconds",
	},
	{
		.name = "limits",
		.type = PS_T_MAP,
		.keys = limits_keys,
		.verify = limits_verify,
		.doc = "what clients may take ([Enforcement](#enforcement))",
		.doc_def = "none: nothing limited",
	},
	{
		.name = "dry_run",
		BOOL_FIELD(struct ps_config, dry_run),
		.def = 0,
		.doc = "decide and count, touch no packet ([Dry run](#dry-run))",
	},
	{
		.name = "xdp",
		ENUM_FIELD(struct ps_config, xdp, xdp_names),
		.doc = "where the XDP program drops blocked clients' packets first: `auto` on each "
		       "interface whose driver runs XDP but a veth (where XDP takes TSO and GSO "
		       "from the peer), `on` on veth too, `off` nowhere: tc blocks alone "
		       "([Blocks](#blocks))",
	},
	{
		.name = "alerts",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_config, alerts),
		.keys = alerts_keys,
		.doc = "[Alerts](#alerts)",
		.doc_def = "stderr only",
	},
	{
		.name = "detection",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_config, detection),
		.keys = detection_keys,
		.doc = "the detectors and what is done about what they find (below)",
		.doc_def = "every detector, the default escalation",
	},
	{
		.name = "metrics",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_config, metrics),
		.keys = metrics_keys,
		.doc = "penstockd's Prometheus endpoint ([Metrics](#metrics))",
		.doc_def = "on, `127.0.0.1:9464`, top 20",
	},
	{
		.name = "fleet",
		.type = PS_T_MAP,
		.off = offsetof(struct ps_config, fleet),
		.keys = fleet_keys,
		.doc = "[The fleet](#the-fleet-limits-and-detection-across-hosts), docs/fleet.md",
		.doc_def = "none: no fleet",
	},
	{
		.name = "fleet_limits",
		LIST_FIELD(struct ps_config, fleet_limits, nfleet_limits, 0, PS_MAX_FLEET_LIMITS),
		.elem = &fleet_limit_entry,
		.what = "fleet limits",
		.doc = "the fleet's limits, per class (needs `fleet`)",
	},
	{}
};

const struct ps_key ps_cfg_root = {
	.type = PS_T_MAP,
	.keys = ps_cfg_root_keys,
	.verify = fleet_verify,
};

/* fleet.name and host_id go into Redis keys and fields: no separator, no space. */
static const char *check_fleet_word(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-' || s[i] == '_'))
			return "contains a character other than a letter, a digit, '.', '-' or '_'";
	return NULL;
}

/*
 * Once the whole file is read: each fleet_limits entry names a class
 * (limits.classes may come after it), and fleet_limits need a fleet.
 */
static int fleet_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path)
{
	struct ps_config *cfg = obj;
	yaml_node_t *list = ps_cfg_map_value(c, n, "fleet_limits"), *e;
	int i, j;

	(void)path;
	if (cfg->nfleet_limits && !cfg->fleet.redis[0])
		return ps_cfg_error(c, &ps_cfg_map_key(c, n, "fleet_limits")->start_mark,
				"fleet_limits: given without fleet, expected fleet: {redis: ...} as well");
	for (i = 0; i < cfg->nfleet_limits; i++) {
		struct ps_fleet_limit_cfg *fl = &cfg->fleet_limits[i];

		fl->class_id = -1;
		if (!strcmp(fl->class_name, "default"))
			fl->class_id = 0;
		for (j = 0; j < cfg->nclasses && fl->class_id < 0; j++)
			if (!strcmp(fl->class_name, cfg->classes[j].name))
				fl->class_id = j + 1;
		if (fl->class_id >= 0)
			continue;
		e = ps_cfg_seq_item(c, list, i);
		return ps_cfg_error(c, &ps_cfg_map_value(c, e, "class")->start_mark,
				"fleet_limits[%d].class: no class '%s', expected default or a name of limits.classes",
				i, fl->class_name);
	}
	return 0;
}

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

/* metrics.listen: what penstockd binds, numeric so that no lookup can wait or lie. */
static const char *check_listen(const char *s, size_t len)
{
	static __thread char why[96];
	struct sockaddr_storage ss;
	unsigned int sl;

	(void)len;
	if (ps_parse_listen(s, &ss, sizeof(ss), &sl, why, sizeof(why)))
		return why;
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
 * A header nobody is trusted to send would never be believed, and a list
 * of trusted proxies with no header to trust says nothing: both are
 * mistakes, not settings.
 */
static int endpoint_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path)
{
	const struct ps_endpoint_cfg *ep = obj;

	if (ep->proxy_protocol == 1 && !ep->ntrusted)
		return ps_cfg_error(c, &ps_cfg_map_key(c, n, "proxy_protocol")->start_mark,
				"%s.proxy_protocol: true without trusted_proxies, expected "
				"trusted_proxies: the prefixes of the proxies whose headers count",
				path);
	if (ep->forwarded_for != PS_FWD_FOR_OFF && !ep->ntrusted)
		return ps_cfg_error(c, &ps_cfg_map_key(c, n, "forwarded_for")->start_mark,
				"%s.forwarded_for: set without trusted_proxies, expected "
				"trusted_proxies: the prefixes of the proxies whose headers count",
				path);
	if (ep->ntrusted && ep->proxy_protocol != 1 && ep->forwarded_for == PS_FWD_FOR_OFF)
		return ps_cfg_error(c, &ps_cfg_map_key(c, n, "trusted_proxies")->start_mark,
				"%s.trusted_proxies: given without proxy_protocol: true or "
				"forwarded_for, expected one of them (or no trusted_proxies)", path);
	return 0;
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

/* Whether the limit key k (a row of default_keys) has a value in l. */
static bool limit_is_set(const struct ps_key *k, const struct ps_limits *l)
{
	const char *field = (const char *)l + k->off - offsetof(struct ps_config, limits_default);

	if (k->type == PS_T_ENUM)
		return ps_cfg_load_int(field, k->size, true) != 0;
	return (uint64_t)ps_cfg_load_int(field, k->size, false) != PS_LIMIT_UNSET;
}

static int default_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path)
{
	const struct ps_limits *l = &((struct ps_config *)obj)->limits_default;

	/* Only a given burst is set without requests_per_minute (see default_finish). */
	if (l->burst != PS_LIMIT_UNSET && l->requests_per_minute == PS_LIMIT_UNSET)
		return ps_cfg_error(c, &ps_cfg_map_key(c, n, "burst")->start_mark,
				"%s.burst: burst without requests_per_minute, expected requests_per_minute as well",
				path);
	if (l->token_burst != PS_LIMIT_UNSET && l->tokens_per_minute == PS_LIMIT_UNSET)
		return ps_cfg_error(c, &ps_cfg_map_key(c, n, "token_burst")->start_mark,
				"%s.token_burst: token_burst without tokens_per_minute, expected tokens_per_minute as well",
				path);
	if (l->on_exceed == PS_ON_EXCEED_SHAPE && l->shape_rate == PS_LIMIT_UNSET)
		return ps_cfg_error(c, &ps_cfg_map_key(c, n, "on_exceed")->start_mark,
				"%s.on_exceed: shape without shape_rate, expected shape_rate as well",
				path);
	if (l->token_reserve != PS_LIMIT_UNSET && l->tokens_per_minute == PS_LIMIT_UNSET &&
	    l->tokens_per_day == PS_LIMIT_UNSET)
		return ps_cfg_error(c, &ps_cfg_map_key(c, n, "token_reserve")->start_mark,
				"%s.token_reserve: token_reserve without a token limit, expected tokens_per_minute or tokens_per_day as well",
				path);
	return 0;
}

/*
 * unlimited: true with limits beside it, or exempt: true with alert_only:
 * true, says two things: refuse it rather than pick one. Limits left
 * empty ("burst:") are absent.
 */
static int class_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path)
{
	struct ps_class_cfg *cls = obj;
	yaml_node_pair_t *p;
	yaml_node_t *key;
	int i;

	if (!cls->nclients && !cls->nkeys) {
		yaml_node_t *v = ps_cfg_map_value(c, n, "clients");

		if (v)
			return ps_cfg_error(c, &v->start_mark,
					    "%s.clients: got an empty value, expected a list of "
					    "1..%d prefixes (or keys: a list of API key ids)", path,
					    PS_MAX_CLASS_PREFIXES);
		return ps_cfg_error(c, &n->start_mark,
				    "%s: missing key 'clients', expected a list of 1..%d prefixes "
				    "(or keys: a list of API key ids)", path, PS_MAX_CLASS_PREFIXES);
	}
	if (cls->nclients + cls->nkeys > PS_MAX_CLASS_PREFIXES)
		return ps_cfg_error(c, &ps_cfg_map_key(c, n, "keys")->start_mark,
				    "%s: %d clients and %d keys, expected %d in all at most", path,
				    cls->nclients, cls->nkeys, PS_MAX_CLASS_PREFIXES);
	/* The keys are the class's last clients: looked up as the addresses are. */
	for (i = 0; i < cls->nkeys; i++)
		cls->clients[cls->nclients++] = cls->keys[i];

	if (cls->exempt == 1 && cls->alert_only == 1)
		return ps_cfg_error(c, &ps_cfg_map_key(c, n, "alert_only")->start_mark,
				"%s.alert_only: alert_only: true in a class with exempt: true (line %zu), expected either exempt: true or alert_only: true, not both",
				path, ps_cfg_map_key(c, n, "exempt")->start_mark.line + 1);
	if (cls->limits.unlimited != 1)
		return 0;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		key = ps_cfg_node(c, p->key);
		if (!ps_cfg_find_key(default_keys, ps_cfg_scalar(key), key->data.scalar.length) ||
		    ps_cfg_is_null(ps_cfg_node(c, p->value)))
			continue;
		return ps_cfg_error(c, &key->start_mark,
				    "%s.%s: a limit in a class with unlimited: true (line %zu), "
				    "expected either limits or unlimited: true, not both",
				    path, ps_cfg_scalar(key),
				    ps_cfg_map_key(c, n, "unlimited")->start_mark.line + 1);
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
		key = ps_cfg_given_key(c, n, rules[i].key);
		if (key && !(rules[i].actions & (1u << s->action)))
			return ps_cfg_error(c, &key->start_mark,
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

/* Which list of its class an entry of clients[] was read from, and where. */
static const char *owner_list(const struct ps_config *cfg, const struct prefix_owner *o)
{
	const struct ps_class_cfg *cls = &cfg->classes[o->cls];

	return o->idx >= cls->nclients - cls->nkeys ? "keys" : "clients";
}

static int owner_idx(const struct ps_config *cfg, const struct prefix_owner *o)
{
	const struct ps_class_cfg *cls = &cfg->classes[o->cls];

	return o->idx >= cls->nclients - cls->nkeys ? o->idx - (cls->nclients - cls->nkeys) :
						       o->idx;
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
		const char *list = owner_list(cfg, again), *list1 = owner_list(cfg, first);
		int idx = owner_idx(cfg, again);

		here = ps_cfg_seq_item(
		    c, ps_cfg_map_value(c, ps_cfg_seq_item(c, classes, again->cls), list), idx);
		there = ps_cfg_seq_item(
		    c, ps_cfg_map_value(c, ps_cfg_seq_item(c, classes, first->cls), list1),
		    owner_idx(cfg, first));
		ps_cfg_error(c, &here->start_mark,
			 "%s.classes[%d].%s[%d]: %s is already in class %s (line %zu), expected each %s in one class only",
			 path, again->cls, list, idx, ps_prefix_str(again->p, text, sizeof(text)),
			 ps_cfg_quote(name, sizeof(name), cfg->classes[first->cls].name,
			       strlen(cfg->classes[first->cls].name)),
			 there->start_mark.line + 1, *list == 'k' ? "key" : "prefix");
	}
	free(all);
	return again ? -EINVAL : 0;
}

/*
 * What needs limits.default and the classes both, which may come in
 * either order: a class's burst, token_burst or on_exceed: shape against what it
 * inherits, and the classes' prefixes against each other.
 */
static int limits_verify(struct ps_ctx *c, yaml_node_t *n, void *obj, const char *path)
{
	const struct ps_config *cfg = obj;
	const struct ps_limits *d = &cfg->limits_default, *l;
	yaml_node_t *classes = ps_cfg_map_value(c, n, "classes"), *cn;
	int i;

	for (i = 0; i < cfg->nclasses; i++) {
		l = &cfg->classes[i].limits;
		if (l->unlimited == 1)
			continue;
		cn = ps_cfg_seq_item(c, classes, i);
		if (l->burst != PS_LIMIT_UNSET && l->requests_per_minute == PS_LIMIT_UNSET &&
		    d->requests_per_minute == PS_LIMIT_UNSET)
			return ps_cfg_error(c, &ps_cfg_map_key(c, cn, "burst")->start_mark,
					"%s.classes[%d].burst: burst without requests_per_minute, expected requests_per_minute in the class or in %s.default",
					path, i, path);
		if (l->token_burst != PS_LIMIT_UNSET && l->tokens_per_minute == PS_LIMIT_UNSET &&
		    d->tokens_per_minute == PS_LIMIT_UNSET)
			return ps_cfg_error(c, &ps_cfg_map_key(c, cn, "token_burst")->start_mark,
					"%s.classes[%d].token_burst: token_burst without tokens_per_minute, expected tokens_per_minute in the class or in %s.default",
					path, i, path);
		if (l->token_reserve != PS_LIMIT_UNSET && l->tokens_per_minute == PS_LIMIT_UNSET &&
		    l->tokens_per_day == PS_LIMIT_UNSET && d->tokens_per_minute == PS_LIMIT_UNSET &&
		    d->tokens_per_day == PS_LIMIT_UNSET)
			return ps_cfg_error(c, &ps_cfg_map_key(c, cn, "token_reserve")->start_mark,
					"%s.classes[%d].token_reserve: token_reserve without a token limit, expected tokens_per_minute or tokens_per_day in the class or in %s.default",
					path, i, path);
		if (l->on_exceed == PS_ON_EXCEED_SHAPE && l->shape_rate == PS_LIMIT_UNSET &&
		    d->shape_rate == PS_LIMIT_UNSET)
			return ps_cfg_error(c, &ps_cfg_map_key(c, cn, "on_exceed")->start_mark,
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
	/*
	 * A rate and its burst are one setting: a class that gives its own
	 * requests_per_minute without a burst has a burst of 1, not the
	 * default's (which was sized for the default's rate: a class of
	 * 600/min must not inherit a burst of 100000 and never be held).
	 */
	if (l && l->requests_per_minute != PS_LIMIT_UNSET && l->burst == PS_LIMIT_UNSET)
		out->burst = 1;
	/* The same for tokens: a class's own tokens_per_minute without a
	 * token_burst has its own minute's budget at once. */
	if (l && l->tokens_per_minute != PS_LIMIT_UNSET && l->token_burst == PS_LIMIT_UNSET)
		out->token_burst = PS_LIMIT_UNSET;
	out->unlimited = l && l->unlimited == 1;
	out->dry_run = l && l->dry_run >= 0 ? l->dry_run == 1 : cfg->dry_run > 0;
	if (out->on_exceed == PS_ON_EXCEED_UNSET)
		out->on_exceed = PS_ON_EXCEED_DELAY;
	if (out->requests_per_minute != PS_LIMIT_UNSET && out->burst == PS_LIMIT_UNSET)
		out->burst = 1;
	for (k = default_keys; out->unlimited && k->name; k++)
		if (k->type != PS_T_ENUM)
			ps_cfg_store_int((char *)out + k->off - base, k->size, PS_DEF_UNSET);
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
		v = ps_cfg_load_int((const char *)t + k->off, k->size, false);
		if ((uint64_t)v != PS_LIMIT_UNSET)
			ps_cfg_store_int((char *)out + k->off, k->size, v);
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

int ps_config_add_port(struct ps_config *cfg, long port)
{
	const struct ps_key *k = ps_cfg_find_key(endpoint_keys, "port", 4);
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
	ps_cfg_defaults(endpoint_keys, ep);
	ps_cfg_store_int((char *)ep + k->off, k->size, port);
	endpoint_finish(ep);
	cfg->nendpoints++;
	return 0;
}
