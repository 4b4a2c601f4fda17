/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An alert: a subject (a client, or a prefix of clients), the detector
 * that found it, a score, the action the escalation took and the
 * evidence, as JSON for `penstock alerts`, the JSON-lines file and replay,
 * and as an Alertmanager PostableAlert for the webhook.
 */
#ifndef PS_ALERT_H
#define PS_ALERT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

enum {
	PS_ALERT_CLIENT = 0,	/* subject is one client's address */
	PS_ALERT_PREFIX = 1,	/* subject is a prefix: every client under it */
};

struct ps_alert {
	uint64_t time_ms;	/* Unix ms (daemon: wall clock; replay: the capture's clock) */
	char subject[64];	/* "198.18.0.2" or "198.18.7.0/24" */
	int kind;		/* PS_ALERT_CLIENT or PS_ALERT_PREFIX */
	char detector[32];	/* e.g. "high_rate", "hydra", "low_and_slow", "surge", "ratio", "threshold" */
	double score;
	char action[16];	/* "alert", "shape", "delay", "block" */
	json_t *evidence;	/* features, values, baselines, window: owned by the caller (copied) */
};

/*
 * {"time":"RFC3339","subject":..,"kind":"client|prefix","detector":..,
 *  "score":..,"action":..,"evidence":{..}}: time to the millisecond, UTC;
 * score null when it is not finite; evidence a copy ({} when NULL).
 */
json_t *ps_alert_json(const struct ps_alert *al);

/*
 * The alert in Alertmanager's API v2 form (one PostableAlert): labels
 * alertname, subject, kind, detector, action, severity; annotations
 * summary, score, evidence (JSON text); startsAt, endsAt (one hour later);
 * generatorURL penstock://HOST/alerts?... The webhook POSTs an array of
 * these.
 */
json_t *ps_alert_am_json(const struct ps_alert *al, const char *host);

/*
 * "rpm=340 baseline_rpm=12 window=60s": an alert's evidence object in one
 * short line (penstockd's stderr sink, `penstock alerts`), cut with "..."
 * to fit len.
 */
const char *ps_alert_evidence_str(json_t *evidence, char *buf, size_t len);

#endif
