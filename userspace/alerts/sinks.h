/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Alert sinks: where what the detectors find goes. The configuration's
 * alerts section (config.h, struct ps_alerts_cfg) picks them:
 *   stderr   one line per alert (under systemd, the journal)
 *   jsonl    one JSON object per line, appended, rotated by size
 *   webhook  Alertmanager's API v2 (POST /api/v2/alerts), through a spool
 *            directory and a sender thread that retries with backoff, so
 *            that a receiver that is down loses nothing
 * and the newest alerts are kept in memory for `penstock alerts`.
 *
 * Everything but the sender thread runs in the caller's thread (the
 * daemon's loop): ps_alerts_emit() writes to files and never waits on the
 * network.
 */
#ifndef PS_SINKS_H
#define PS_SINKS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "alerts/alert.h"
#include "common/config.h"

struct ps_alerts;	/* opaque */

/*
 * Open the sinks cfg->alerts names: create the JSON-lines file's and the
 * spool's directories if need be, seal what a previous run left in the
 * spool and start the webhook's sender, which sends it first. NULL with a
 * one-line message in err when a sink cannot be opened.
 */
struct ps_alerts *ps_alerts_open(const struct ps_config *cfg, char *err, size_t errlen);

/*
 * Switch to the sinks of cfg (a reload): a sink whose settings are the
 * same is kept as it is. 0, or -errno with a message in err and the
 * running sinks unchanged.
 */
int ps_alerts_reconfigure(struct ps_alerts *a, const struct ps_config *cfg, char *err,
			  size_t errlen);

/*
 * Hand one alert to every sink: a line on stderr, a line in the JSON-lines
 * file, a line in the spool's open batch (in the page cache before this
 * returns: a crash of the process loses nothing), a copy in memory.
 * Never blocks on the network.
 */
void ps_alerts_emit(struct ps_alerts *a, const struct ps_alert *al);

/*
 * Housekeeping, called each second: sync the JSON-lines file, seal the
 * spool's open batch (synced, then renamed for the sender to take).
 */
void ps_alerts_tick(struct ps_alerts *a, uint64_t now_ms);

/*
 * Recent alerts with time_ms >= since_ms, newest last: {"alerts":[...]}
 * (ps_alert_json's objects), and, when a webhook is configured,
 * "webhook":{"url","spool_dir","spooled_batches","spooled_bytes",
 * "delivered","dropped","last_error","failing_since"}.
 */
json_t *ps_alerts_list(struct ps_alerts *a, uint64_t since_ms);

/* Flush and close every sink; the spool keeps what was not delivered. NULL is fine. */
void ps_alerts_close(struct ps_alerts *a);

#endif
