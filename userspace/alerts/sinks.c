// SPDX-License-Identifier: GPL-2.0-only
/*
 * The alert sinks together (sinks.h): each alert to stderr, the JSON-lines
 * file (jsonl.c), the webhook's spool (spool.c, sent by webhook.c) and a
 * ring of the newest in memory. One process per spool: ps_alerts_open()
 * takes the spool's lock, or fails.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts/jsonl.h"
#include "alerts/sinks.h"
#include "alerts/spool.h"
#include "alerts/webhook.h"
#include "common/log.h"

struct ring {
	json_t **doc;		/* ps_alert_json() of each, oldest at head */
	uint64_t *time_ms;
	size_t cap, head, n;
};

struct ps_alerts {
	struct ps_alerts_cfg cfg;
	struct ps_jsonl jsonl;		/* fd -1: off */
	struct ps_spool spool;		/* dirfd -1: no webhook */
	struct ps_webhook *sender;
	struct ring ring;
	char host[256];
};

static void ring_free(struct ring *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		json_decref(r->doc[(r->head + i) % r->cap]);
	free(r->doc);
	free(r->time_ms);
	memset(r, 0, sizeof(*r));
}

static void ring_push(struct ring *r, json_t *doc, uint64_t time_ms)
{
	size_t at;

	if (!r->cap) {
		json_decref(doc);
		return;
	}
	if (r->n == r->cap) {
		json_decref(r->doc[r->head]);
		r->head = (r->head + 1) % r->cap;
		r->n--;
	}
	at = (r->head + r->n) % r->cap;
	r->doc[at] = doc;
	r->time_ms[at] = time_ms;
	r->n++;
}

/* A ring of cap holding the newest of old's alerts. */
static int ring_resize(struct ring *r, size_t cap)
{
	struct ring nr = {};
	size_t i;

	if (cap == r->cap)
		return 0;
	if (cap) {
		nr.doc = calloc(cap, sizeof(*nr.doc));
		nr.time_ms = calloc(cap, sizeof(*nr.time_ms));
		if (!nr.doc || !nr.time_ms) {
			free(nr.doc);
			free(nr.time_ms);
			return -ENOMEM;
		}
	}
	nr.cap = cap;
	for (i = 0; i < r->n; i++) {
		size_t at = (r->head + i) % r->cap;

		ring_push(&nr, json_incref(r->doc[at]), r->time_ms[at]);
	}
	ring_free(r);
	*r = nr;
	return 0;
}

static bool same_webhook(const struct ps_alerts_webhook_cfg *a,
			 const struct ps_alerts_webhook_cfg *b)
{
	return !strcmp(a->url, b->url) && !strcmp(a->spool_dir, b->spool_dir) &&
	       a->timeout == b->timeout && a->max_spool == b->max_spool &&
	       a->max_backoff == b->max_backoff;
}

struct ps_alerts *ps_alerts_open(const struct ps_config *cfg, char *err, size_t errlen)
{
	struct ps_alerts *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(err, errlen, "alerts: out of memory");
		return NULL;
	}
	a->jsonl.fd = -1;
	a->spool.dirfd = a->spool.fd = a->spool.lockfd = -1;
	if (gethostname(a->host, sizeof(a->host) - 1))
		snprintf(a->host, sizeof(a->host), "localhost");
	if (ps_webhook_global_init()) {
		snprintf(err, errlen, "alerts: cannot initialize libcurl");
		free(a);
		return NULL;
	}
	if (ps_alerts_reconfigure(a, cfg, err, errlen)) {
		ps_alerts_close(a);
		return NULL;
	}
	return a;
}

int ps_alerts_reconfigure(struct ps_alerts *a, const struct ps_config *cfg, char *err,
			  size_t errlen)
{
	const struct ps_alerts_cfg *n = &cfg->alerts;
	struct ps_jsonl nj = { .fd = -1 };
	struct ps_spool nsp = { .fd = -1, .dirfd = -1, .lockfd = -1 };
	bool new_jsonl, new_webhook;
	int r;

	new_jsonl = strcmp(n->jsonl.path, a->jsonl.fd >= 0 ? a->jsonl.cfg.path : "");
	new_webhook = !same_webhook(&n->webhook, &a->cfg.webhook) ||
		      (n->webhook.url[0] && !a->sender);
	/* What may fail first, while the running sinks stay as they are. */
	if (new_jsonl && n->jsonl.path[0]) {
		r = ps_jsonl_open(&nj, &n->jsonl, err, errlen);
		if (r)
			return r;
	}
	if (new_webhook && n->webhook.url[0] && strcmp(n->webhook.spool_dir, a->spool.dir)) {
		r = ps_spool_open(&nsp, n->webhook.spool_dir, err, errlen);
		if (r) {
			ps_jsonl_close(&nj);
			return r;
		}
	}
	r = ring_resize(&a->ring, n->keep_in_memory);
	if (r) {
		snprintf(err, errlen, "alerts: out of memory for keep_in_memory %d",
			 n->keep_in_memory);
		ps_jsonl_close(&nj);
		ps_spool_close(&nsp);
		return r;
	}

	if (new_jsonl) {
		ps_jsonl_close(&a->jsonl);
		a->jsonl = nj;
	} else {
		/* Same file: new rotation settings apply from the next line. */
		a->jsonl.cfg = n->jsonl;
	}
	if (new_webhook) {
		/* One sender per spool: the old one stops before another starts. */
		ps_webhook_stop(a->sender);
		a->sender = NULL;
		if (nsp.dirfd >= 0 || !n->webhook.url[0]) {
			ps_spool_close(&a->spool);
			if (!n->webhook.url[0])
				memset(a->spool.dir, 0, sizeof(a->spool.dir));
		}
		if (nsp.dirfd >= 0)
			a->spool = nsp;
		if (n->webhook.url[0]) {
			a->sender = ps_webhook_start(&n->webhook, err, errlen);
			if (!a->sender) {
				pr_warn("penstockd: %s: alerts stay in %s\n", err, a->spool.dir);
				a->cfg = *n;
				return -EAGAIN;
			}
		}
	}
	a->cfg = *n;
	return 0;
}

void ps_alerts_emit(struct ps_alerts *a, const struct ps_alert *al)
{
	json_t *doc, *am;
	char *line;
	char ev[160], score[32] = "-";

	if (!a || !al)
		return;
	doc = ps_alert_json(al);
	if (!doc) {
		pr_warn("penstockd: alerts: out of memory, an alert of %.32s is lost\n",
			al->detector);
		return;
	}
	if (a->cfg.to_stderr) {
		if (isfinite(al->score))
			snprintf(score, sizeof(score), "%.4g", al->score);
		pr_warn("penstockd: alert: %s on %s %s, score %s, action %s: %s\n",
			json_string_value(json_object_get(doc, "detector")),
			json_string_value(json_object_get(doc, "kind")),
			json_string_value(json_object_get(doc, "subject")), score,
			json_string_value(json_object_get(doc, "action")),
			ps_alert_evidence_str(json_object_get(doc, "evidence"), ev, sizeof(ev)));
	}
	if (a->jsonl.fd >= 0 || a->cfg.jsonl.path[0]) {
		line = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
		if (line) {
			size_t len = strlen(line);

			line[len] = '\n';	/* over the NUL: written by length */
			ps_jsonl_write(&a->jsonl, line, len + 1);
		}
		free(line);
	}
	if (a->spool.dirfd >= 0) {
		am = ps_alert_am_json(al, a->host);
		line = am ? json_dumps(am, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
		json_decref(am);
		if (line) {
			size_t len = strlen(line);

			line[len] = '\n';
			ps_spool_append(&a->spool, line, len + 1);
		} else {
			pr_warn("penstockd: alerts: out of memory, the webhook misses an alert\n");
		}
		free(line);
		if (ps_spool_full(&a->spool)) {
			ps_spool_seal(&a->spool);
			ps_webhook_kick(a->sender);
		}
	}
	ring_push(&a->ring, doc, al->time_ms);
}

void ps_alerts_tick(struct ps_alerts *a, uint64_t now_ms)
{
	(void)now_ms;
	if (!a)
		return;
	ps_jsonl_sync(&a->jsonl);
	if (a->spool.fd >= 0) {
		ps_spool_seal(&a->spool);
		ps_webhook_kick(a->sender);
	}
}

json_t *ps_alerts_list(struct ps_alerts *a, uint64_t since_ms)
{
	json_t *o = json_object(), *arr = json_array();
	size_t i;

	if (!o || !arr) {
		json_decref(o);
		json_decref(arr);
		return NULL;
	}
	for (i = 0; a && i < a->ring.n; i++) {
		size_t at = (a->ring.head + i) % a->ring.cap;

		if (a->ring.time_ms[at] >= since_ms)
			json_array_append(arr, a->ring.doc[at]);
	}
	json_object_set_new(o, "alerts", arr);
	if (a && a->sender)
		json_object_set_new(o, "webhook", ps_webhook_json(a->sender));
	return o;
}

void ps_alerts_close(struct ps_alerts *a)
{
	if (!a)
		return;
	/* Sealed first, so that the next start finds the batch whole. */
	ps_spool_close(&a->spool);
	ps_webhook_stop(a->sender);
	ps_jsonl_close(&a->jsonl);
	ring_free(&a->ring);
	ps_webhook_global_cleanup();
	free(a);
}
