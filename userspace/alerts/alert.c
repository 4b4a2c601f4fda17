// SPDX-License-Identifier: GPL-2.0-only
/*
 * alerts/: what the detectors raise and where it goes. The record and its
 * JSON (this file) are shared by penstockd and penstock replay; the sinks
 * (sinks.c: stderr, jsonl.c, spool.c and webhook.c, memory) are the
 * daemon's.
 *
 * This file: an alert as JSON, penstock's own form and Alertmanager's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alert.h"
#include "common/units.h"

#define AM_ENDS_AFTER_MS	(3600ULL * 1000)	/* endsAt: startsAt + 1 h */

/*
 * A fixed-size field of struct ps_alert as a JSON string: up to its size
 * (a missing NUL is not an overrun), anything but printable ASCII as '?'
 * (jansson refuses invalid UTF-8), dflt when empty.
 */
static json_t *field_json(const char *s, size_t size, const char *dflt)
{
	char buf[128];
	size_t i, n = strnlen(s, size);

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	for (i = 0; i < n; i++)
		buf[i] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
	buf[n] = 0;
	return json_string(n ? buf : dflt);
}

static const char *kind_name(int kind)
{
	return kind == PS_ALERT_PREFIX ? "prefix" : "client";
}

json_t *ps_alert_json(const struct ps_alert *al)
{
	char ts[40];
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "time", json_string(ps_rfc3339_ms(al->time_ms, ts, sizeof(ts))));
	json_object_set_new(o, "subject", field_json(al->subject, sizeof(al->subject), "?"));
	json_object_set_new(o, "kind", json_string(kind_name(al->kind)));
	json_object_set_new(o, "detector", field_json(al->detector, sizeof(al->detector), "unknown"));
	/* jansson has no NaN or infinity: a score that is neither is null. */
	json_object_set_new(o, "score", isfinite(al->score) ? json_real(al->score) : json_null());
	json_object_set_new(o, "action", field_json(al->action, sizeof(al->action), "alert"));
	json_object_set_new(o, "evidence", al->evidence ? json_deep_copy(al->evidence) : json_object());
	return o;
}

/* Percent-encode s (RFC 3986 unreserved characters pass) into buf. */
static void url_encode(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 < len; s++) {
		unsigned char c = *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf[o++] = c;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = 0;
}

json_t *ps_alert_am_json(const struct ps_alert *al, const char *host)
{
	json_t *base = ps_alert_json(al), *labels, *ann, *o;
	const char *subject, *kind, *detector, *action;
	char name[64], ts[40], te[40], score[32], summary[256], url[640];
	char esubj[200], edet[100], ehost[200];
	char *evidence;
	size_t i;

	if (!base)
		return NULL;
	subject = json_string_value(json_object_get(base, "subject"));
	kind = json_string_value(json_object_get(base, "kind"));
	detector = json_string_value(json_object_get(base, "detector"));
	action = json_string_value(json_object_get(base, "action"));
	if (!subject || !kind || !detector || !action) {
		json_decref(base);
		return NULL;
	}
	/* A label name is [a-zA-Z_][a-zA-Z0-9_]*: the prefix makes the start one. */
	snprintf(name, sizeof(name), "penstock_%s", detector);
	for (i = 0; name[i]; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			name[i] = '_';
	if (isfinite(al->score))
		snprintf(score, sizeof(score), "%.6g", al->score);
	else
		snprintf(score, sizeof(score), "NaN");
	snprintf(summary, sizeof(summary), "%s: %s %s scored %s, action %s", detector, kind,
		 subject, score, action);
	url_encode(subject, esubj, sizeof(esubj));
	url_encode(detector, edet, sizeof(edet));
	url_encode(host && *host ? host : "localhost", ehost, sizeof(ehost));
	snprintf(url, sizeof(url), "penstock://%s/alerts?subject=%s&detector=%s&time=%llu", ehost,
		 esubj, edet, (unsigned long long)al->time_ms);
	evidence = json_dumps(json_object_get(base, "evidence"), JSON_COMPACT | JSON_REAL_PRECISION(15));
	labels = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "alertname", name, "subject", subject,
			   "kind", kind, "detector", detector, "action", action, "severity",
			   "warning");
	ann = json_pack("{s:s, s:s, s:s}", "summary", summary, "score", score, "evidence",
			evidence ? evidence : "{}");
	o = json_pack("{s:o, s:o, s:s, s:s, s:s}", "labels", labels, "annotations", ann,
		      "startsAt", ps_rfc3339_ms(al->time_ms, ts, sizeof(ts)), "endsAt",
		      ps_rfc3339_ms(al->time_ms + AM_ENDS_AFTER_MS, te, sizeof(te)), "generatorURL",
		      url);
	free(evidence);
	json_decref(base);
	return o;
}

const char *ps_alert_evidence_str(json_t *evidence, char *buf, size_t len)
{
	const char *key;
	json_t *v;
	size_t o = 0;
	char val[64], *dump;

	if (!len)
		return buf;
	buf[0] = 0;
	if (!json_is_object(evidence)) {
		dump = evidence ? json_dumps(evidence, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		snprintf(buf, len, "%s", dump ? dump : "");
		free(dump);
		goto cut;
	}
	json_object_foreach(evidence, key, v) {
		if (json_is_integer(v)) {
			snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(v));
		} else if (json_is_real(v)) {
			double x = json_real_value(v);

			/* Counts and byte figures whole, ratios and scores short. */
			if (fabs(x) >= 1e4 || (fabs(x) < 1e15 && x == (double)(long long)x))
				snprintf(val, sizeof(val), "%.0f", x);
			else
				snprintf(val, sizeof(val), "%.4g", x);
		} else if (json_is_string(v)) {
			snprintf(val, sizeof(val), "%s", json_string_value(v));
		} else {
			dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(4));
			snprintf(val, sizeof(val), "%s", dump ? dump : "?");
			free(dump);
		}
		o += snprintf(buf + o, len - o, "%s%s=%s", o ? " " : "", key, val);
		if (o >= len)
			break;
	}
cut:
	/* Cut short: say so. */
	if (strlen(buf) == len - 1 && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}
