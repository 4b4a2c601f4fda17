/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * penstock configuration (YAML). One struct holds everything a config file
 * can say; ps_config_load() fills it and checks every value against the
 * bounds table in config.c, reporting "file:line:column: message".
 */
#ifndef PS_CONFIG_H
#define PS_CONFIG_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "common/units.h"
#include "penstock_abi.h"

#define PS_DEFAULT_CONFIG	"/etc/penstock/penstock.yaml"
#define PS_MAX_IFACES		16
#define PS_NAME_MAX		32

#define PS_MAX_TRUSTED		64	/* trusted_proxies: entries of one endpoint */

/* endpoints[].forwarded_for: which headers name a request's client. */
enum ps_forwarded_for {
	PS_FWD_FOR_OFF = 0,	/* false (the default): none */
	PS_FWD_FOR_BOTH,	/* true: X-Forwarded-For, else Forwarded */
	PS_FWD_FOR_XFF,		/* x-forwarded-for */
	PS_FWD_FOR_FORWARDED,	/* forwarded (RFC 7239) */
};

/* xdp: where blocks are applied first */
enum ps_xdp_mode {
	PS_XDP_AUTO = 0,	/* native XDP where the driver runs it, but on veth */
	PS_XDP_ON,		/* native XDP where the driver runs it, veth included */
	PS_XDP_OFF,		/* no XDP: blocks in the tc programs */
};

/* endpoints[].identity */
enum ps_identity {
	PS_IDENTITY_ADDRESS = 0,	/* the client's address (the default) */
	PS_IDENTITY_API_KEY,		/* the request's API key, else its address */
};

struct ps_endpoint_cfg {
	char name[PS_NAME_MAX];
	uint16_t port;
	int npaths;
	char paths[PS_MAX_PATHS][PS_PATH_MAX + 1];
	int proxy_protocol;	/* 0 or 1: a PROXY header starts each connection */
	int forwarded_for;	/* enum ps_forwarded_for: whose forwarded headers count */
	int identity;		/* enum ps_identity: whom a request is counted to */
	int ntrusted;		/* 0..PS_MAX_TRUSTED */
	struct ps_prefix trusted[PS_MAX_TRUSTED];	/* trusted_proxies: whose headers count */
};

/* A numeric limit not given: no such limit (in the default) or inherited (in a class). */
#define PS_LIMIT_UNSET		UINT64_MAX
#define PS_MAX_CLASS_PREFIXES	256	/* clients: and keys: entries of one class */
#define PS_MAX_CLASS_KEYS	128	/* keys: entries of one class */

/* What happens to a client over a limit (limits.*.on_exceed). */
enum ps_on_exceed {
	PS_ON_EXCEED_UNSET = 0,	/* not given: a class inherits the default's */
	PS_ON_EXCEED_DELAY,	/* hold its requests back until it is within the limit */
	PS_ON_EXCEED_SHAPE,	/* slow its traffic to shape_rate */
	PS_ON_EXCEED_BLOCK,	/* drop its packets */
};

/*
 * The limits of one client: limits.default, or the limits a class gives
 * (the keys of limits.default plus unlimited and dry_run), or, through
 * ps_limits_resolve(), what applies to the clients of a class. A number
 * is PS_LIMIT_UNSET and a boolean -1 when it is not given.
 */
struct ps_limits {
	uint64_t requests_per_minute;	/* inference requests per minute per client, 1..10^7 */
	uint64_t burst;		/* requests at once beyond that rate, 1..10^6; only with
				 * requests_per_minute, which alone means a burst of 1 */
	uint64_t requests_per_day;	/* inference requests per day per client, 1..10^12 */
	uint64_t egress_bytes_per_minute;	/* bytes sent to a client per minute, >= 1 */
	uint64_t egress_bytes_per_day;	/* bytes sent to a client per day, >= 1 */
	uint64_t max_connections;	/* concurrent connections per client, 1..10^6 */
	uint64_t shape_rate;	/* bits per second for PS_ON_EXCEED_SHAPE, >= 1; required
				 * (given or inherited) when on_exceed is shape */
	enum ps_on_exceed on_exceed;	/* default's default: PS_ON_EXCEED_DELAY */
	int unlimited;		/* class only: 1 no limit applies (none may be given); -1 unset */
	int dry_run;		/* class only: 1 decide and report, touch no packet; -1 unset:
				 * the global dry_run */
	uint64_t tokens_per_minute;	/* prompt + completion tokens a minute, 1..10^12 */
	uint64_t token_burst;	/* tokens at once within that rate, 1..10^12; only with
				 * tokens_per_minute, which alone means a burst of a
				 * minute's tokens (PS_LIMIT_UNSET here) */
	uint64_t tokens_per_day;	/* prompt + completion tokens a sliding day, 1..10^15 */
	uint64_t token_reserve;	/* tokens each inference request is charged at its start,
				 * 1..10^9, the first of its answer's; only with a token
				 * limit */
};

/*
 * detection.thresholds, and a class's thresholds: a client over one is
 * alerted by the "threshold" detector. PS_LIMIT_UNSET: no such threshold
 * (in detection.thresholds) or the default's (in a class).
 */
struct ps_thresholds {
	uint64_t requests_per_minute;	/* inference requests, 1m window, 1..10^9 */
	uint64_t requests_per_hour;	/* 1h window, 1..10^12 */
	uint64_t requests_per_day;	/* 24h window, 1..10^12 */
	uint64_t tx_payload_per_hour;	/* response payload bytes, 1h window, >= 1 */
	uint64_t tx_payload_per_day;	/* 24h window, >= 1 */
};

/* One entry of limits.classes: the clients under some prefixes. */
struct ps_class_cfg {
	char name[PS_NAME_MAX];	/* 1..31 printable ASCII, unique among the classes */
	int nclients;		/* 1..PS_MAX_CLASS_PREFIXES */
	/*
	 * Distinct, and in no other class (a longer prefix in another class
	 * is fine). The class's keys: are the last nkeys of them.
	 */
	struct ps_prefix clients[PS_MAX_CLASS_PREFIXES];
	int nkeys;		/* keys: as read, 0..PS_MAX_CLASS_KEYS ... */
	struct ps_prefix keys[PS_MAX_CLASS_KEYS];	/* ... API key ids (PS_AF_KEY) */
	struct ps_limits limits;	/* as written: unset keys not yet inherited */
	int exempt;		/* 0 or 1: never alerted or acted on by detection (default 0) */
	int alert_only;		/* 0 or 1: alerted, never acted on (default 0); not with exempt */
	struct ps_thresholds thresholds;	/* thresholds:, unset keys are the default's */
};

/*
 * detection: the detectors of bulk extraction (userspace/policy/detect.c) and
 * what is done about a subject (a client, or a prefix of clients) they
 * find. Every key has a default: a config that lists only endpoints gets
 * every detector and the default escalation. Durations are seconds;
 * decimals are doubles.
 */
enum ps_step_action {
	PS_STEP_ALERT = 0,	/* an alert only */
	PS_STEP_SHAPE,		/* egress at rate (a prefix: its clients share it) */
	PS_STEP_DELAY,		/* requests_per_minute (a prefix: its clients together) */
	PS_STEP_BLOCK,		/* every packet dropped */
};

#define PS_MAX_STEPS	8

/*
 * One escalation step. A key that does not apply to the action is an
 * error in the file, and 0 here: the duration of an alert step, the rate
 * of any step but shape, the requests_per_minute of any step but delay.
 */
struct ps_step_cfg {
	enum ps_step_action action;	/* required */
	uint64_t duration;	/* for: seconds the action lasts, 1..30 days (default 1h);
				 * not for alert */
	uint64_t cooldown;	/* seconds before the next step may follow, 0..30 days
				 * (default 10m) */
	uint64_t rate;		/* shape only: bits per second, >= 1 (default 4mbit) */
	uint64_t requests_per_minute;	/* delay only: 1..10^7 (default 10) */
};

struct ps_detection_cfg {
	int enabled;		/* default 1 */
	uint64_t interval;	/* seconds between runs, 1..3600 (default 10) */
	uint64_t min_population;	/* active clients needed for a population
					 * baseline, 2..10^6 (default 20) */
	double zscore;		/* robust z-score that counts as far above the
				 * population, 1..1000 (default 3.5) */
	struct {
		int enabled;			/* default 1 */
		uint64_t requests_per_minute;	/* floor: 1m window, 1..10^9 (default 15) */
	} high_rate;
	struct {
		int enabled;			/* default 1 */
		uint64_t min_clients;		/* active clients in the prefix, 2..10^6 (default 10) */
		uint64_t requests_per_hour;	/* floor: the prefix's 1h window, 1..10^12 (default 300) */
	} prefix;
	struct {
		int enabled;			/* default 1 */
		uint64_t min_history;		/* seconds observed before judging, 60..7 days (default 3h) */
		double duty_cycle;		/* share of active minutes, 0..1 (default 0.9) */
		double max_cv;			/* inter-request coefficient of variation, 0..10 (default 0.3) */
		uint64_t requests_per_hour;	/* floor: 1h window, 1..10^12 (default 120) */
	} low_and_slow;
	struct {
		int enabled;			/* default 1 */
		double factor;			/* current rate / own baseline, 1..10^6 (default 5) */
		uint64_t min_history;		/* seconds of history before judging, 60..7 days (default 3h) */
		uint64_t requests_per_hour;	/* floor on the current rate, 1..10^12 (default 120) */
	} surge;
	struct {
		int enabled;			/* default 1 */
		double min_ratio;		/* tx_payload / rx_payload, 1..10^6 (default 25) */
		uint64_t min_requests;		/* inference requests in 24h, 1..10^12 (default 100) */
	} ratio;
	struct {
		int enabled;			/* default 1 */
		uint64_t min_networks;		/* networks (IPv4 /24, IPv6 /48) one key came
						 * from in the hour, 2..10^6 (default 8) */
	} shared_key;
	struct {
		int enabled;			/* default 1 */
		uint64_t min_keys;		/* keys from one address or network in the
						 * hour, 2..10^6 (default 8) */
		double max_cv;			/* spread of the keys' request rates, 0..10
						 * (default 0.35) */
		uint64_t requests_per_key;	/* floor: the keys' mean requests an hour,
						 * 1..10^9 (default 3) */
	} key_hydra;
	struct ps_thresholds thresholds;	/* default: none */
	int nsteps;		/* escalation.steps, 1..PS_MAX_STEPS; given, they replace the default */
	/*
	 * Default: alert (cooldown 5m), shape 4mbit for 1h, delay 10/min for
	 * 1h, block for 1h (each of the last three with cooldown 10m).
	 */
	struct ps_step_cfg steps[PS_MAX_STEPS];
	uint64_t forget;	/* escalation.forget: seconds without a detection after which
				 * a subject starts again at the first step, 60..30 days (default 6h) */
};

/*
 * alerts: where the alerts of the detectors go (userspace/alerts/). A
 * sink whose path or url is "" is off; stderr is on unless false.
 */
#define PS_ALERT_PATH_MAX	1024	/* bytes of a path or URL, NUL included */

struct ps_alerts_jsonl_cfg {
	char path[PS_ALERT_PATH_MAX];	/* absolute; "" no JSON-lines file */
	uint64_t max_bytes;	/* rotate before the file would grow past this */
	int keep;		/* rotated files kept: path.1 .. path.keep */
};

struct ps_alerts_webhook_cfg {
	char url[PS_ALERT_PATH_MAX];	/* http:// or https://; "" no webhook */
	char spool_dir[PS_ALERT_PATH_MAX];	/* absolute: alerts not yet delivered */
	uint64_t timeout;	/* seconds, one POST */
	uint64_t max_spool;	/* bytes of spool before the oldest alerts are dropped */
	uint64_t max_backoff;	/* seconds: retries wait 1 s, doubling up to this */
};

struct ps_alerts_cfg {
	int to_stderr;		/* 0 or 1: one line per alert on stderr (the journal) */
	struct ps_alerts_jsonl_cfg jsonl;
	struct ps_alerts_webhook_cfg webhook;
	int keep_in_memory;	/* alerts kept for penstock alerts, 0..1000000 */
};

/*
 * metrics: penstockd's Prometheus endpoint (userspace/metrics/, README
 * "Metrics").
 */
#define PS_METRICS_LISTEN_MAX	64	/* bytes of metrics.listen, NUL included */
#define PS_METRICS_TOP_MAX	1000

struct ps_metrics_cfg {
	int enabled;		/* 0 or 1 (default 1) */
	char listen[PS_METRICS_LISTEN_MAX];	/* ADDRESS:PORT, "[v6]:PORT" (default
						 * 127.0.0.1:9464) */
	int top;		/* subjects in each top list, 0..PS_METRICS_TOP_MAX (default 20) */
};

/*
 * fleet: the counters this host shares with the others serving the same
 * model, in Redis (userspace/fleet/, docs/fleet.md); fleet_limits: what
 * the fleet as a whole allows a client of a class. redis "" is no fleet.
 */
#define PS_FLEET_URL_MAX	512
#define PS_FLEET_NAME_MAX	64
#define PS_MAX_FLEET_LIMITS	PS_MAX_CLASSES

struct ps_fleet_cfg {
	char redis[PS_FLEET_URL_MAX];	/* fleet/url.h's forms; "" no fleet */
	char name[PS_FLEET_NAME_MAX];	/* the fleet's name in every key (default "penstock") */
	char host_id[PS_FLEET_NAME_MAX];	/* this host's field in the counters (default:
					 * the host name) */
	char password_file[PS_ALERT_PATH_MAX];	/* absolute; its first line is the password */
	int tls;		/* 0 or 1 (or rediss://) */
	uint64_t stale_after;	/* seconds without an answer before the fleet's totals are
				 * set aside for the local ones, 2..3600 (default 5) */
};

/* One entry of fleet_limits: the fleet's limits of one class's clients. */
struct ps_fleet_limit_cfg {
	char class_name[PS_NAME_MAX];	/* "default" or a name of limits.classes */
	int class_id;		/* 0 default, i + 1 classes[i] (set once the file is read) */
	uint64_t requests_per_minute;	/* inference requests, PS_LIMIT_UNSET none */
	uint64_t burst;		/* the fleet's burst beyond it, default 1 */
	uint64_t requests_per_day;
	uint64_t egress_bytes_per_minute;
	uint64_t egress_bytes_per_day;
	uint64_t tokens_per_minute;	/* prompt + completion tokens, as the answers report */
	uint64_t tokens_per_day;
};

struct ps_config {
	char source[4096];	/* file the config came from, "" for built-in */
	int nifaces;
	char ifaces[PS_MAX_IFACES][IF_NAMESIZE];
	int nendpoints;
	struct ps_endpoint_cfg endpoints[PS_MAX_ENDPOINTS];
	uint32_t max_clients;	/* client slots in the maps (at the next start) */
	uint32_t reclaim_idle;	/* seconds idle before a client's slot may be reclaimed */
	/*
	 * limits.default: the limits of clients in no class, and what a class
	 * inherits. A number not given is no such limit; burst is 1 when only
	 * requests_per_minute is given; on_exceed is PS_ON_EXCEED_DELAY when
	 * not given; unlimited and dry_run are always -1 (not keys here).
	 */
	struct ps_limits limits_default;
	int nclasses;		/* 0..PS_MAX_CLASSES - 1 */
	/* limits.classes, in file order: class id i + 1 is classes[i] (0: the default). */
	struct ps_class_cfg classes[PS_MAX_CLASSES - 1];
	int dry_run;		/* 0 or 1: every decision is reported, no packet touched */
	int xdp;		/* enum ps_xdp_mode */
	struct ps_alerts_cfg alerts;
	struct ps_detection_cfg detection;
	struct ps_metrics_cfg metrics;
	struct ps_fleet_cfg fleet;
	int nfleet_limits;	/* 0..PS_MAX_FLEET_LIMITS */
	struct ps_fleet_limit_cfg fleet_limits[PS_MAX_FLEET_LIMITS];
};

/* Inference paths an endpoint gets when it lists none (OpenAI-compatible). */
extern const char *const ps_default_paths[];

/*
 * An empty config: no interfaces, no endpoints, no limits, no classes;
 * every other key (alerts, detection) at its default.
 */
void ps_config_init(struct ps_config *cfg);

/*
 * Load and check a YAML file. Returns 0, or a negative errno with a
 * one-line message in err ("file:line:column: what was expected").
 * cfg is left unchanged on error.
 */
int ps_config_load(const char *path, struct ps_config *cfg, char *err, size_t errlen);

/*
 * What ps_config_load() does once the file is read: check len bytes of
 * YAML as the file name (named so in messages and cfg->source). The same
 * returns and messages.
 */
int ps_config_parse(const char *name, const char *buf, size_t len, struct ps_config *cfg,
		    char *err, size_t errlen);

/*
 * Add an endpoint on port with the default inference paths, unless an
 * endpoint already serves that port. Returns 0 or -ENOSPC / -EINVAL.
 */
int ps_config_add_port(struct ps_config *cfg, long port);

/*
 * The limits that apply to the clients of class class_id (0: the default,
 * 1..nclasses: classes[class_id - 1]; any other id gets the default's):
 * each key the class leaves unset is the default's; burst is 1 when
 * requests_per_minute is set and burst is not; token_burst stays unset
 * (a minute's tokens) when the class sets tokens_per_minute and no
 * token_burst; an unlimited class has
 * every number PS_LIMIT_UNSET. In out, unlimited is 0 or 1, dry_run the
 * class's if it gives one, else the global dry_run (0 or 1), and on_exceed
 * never PS_ON_EXCEED_UNSET.
 */
void ps_limits_resolve(const struct ps_config *cfg, int class_id, struct ps_limits *out);

/*
 * The thresholds that apply to the clients of class class_id (numbered as
 * for ps_limits_resolve()): each key the class leaves unset is
 * detection.thresholds' (which may be PS_LIMIT_UNSET: no such threshold).
 */
void ps_thresholds_resolve(const struct ps_config *cfg, int class_id, struct ps_thresholds *out);

/* The class of a client by the configured prefixes (longest match), 0 if none. */
int ps_config_class_of(const struct ps_config *cfg, const struct ps_client_key *k);

#endif
