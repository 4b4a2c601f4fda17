/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Alertmanager webhook (API v2, POST /api/v2/alerts): a sender thread
 * that delivers the spool's sealed batches (spool.h) with libcurl,
 * retrying with backoff, so that a receiver that is down loses nothing.
 */
#ifndef PS_WEBHOOK_H
#define PS_WEBHOOK_H

#include <jansson.h>
#include <pthread.h>

#include "common/config.h"

struct ps_webhook;	/* opaque */

/* libcurl's global set-up, once for every user: 0 or -EIO; cleanup after the last. */
int ps_webhook_global_init(void);
void ps_webhook_global_cleanup(void);

/*
 * What makes the sender's thread: penstockd's is the metrics' starter
 * (ps_metrics_spawn), a thread that holds no capability, bounding set
 * included, so that a sender made by a reload, once penstockd has cut
 * its own bounding set, holds none either. NULL (the default):
 * pthread_create() in the calling thread, the sender then dropping what
 * it can itself.
 */
void ps_webhook_spawner(int (*spawn)(pthread_t *th, void *(*fn)(void *), void *arg));

/* Start the sender on cfg's spool. NULL with a message in err. */
struct ps_webhook *ps_webhook_start(const struct ps_alerts_webhook_cfg *cfg, char *err,
				    size_t errlen);
/* A batch was sealed: look at the spool now. NULL is fine. */
void ps_webhook_kick(struct ps_webhook *s);
/* Stop the sender (a POST under way is cut short) and free it. NULL is fine. */
void ps_webhook_stop(struct ps_webhook *s);
/*
 * {"url","spool_dir","spooled_batches","spooled_bytes","delivered",
 *  "dropped","last_error","failing_since"}: the sender's state.
 */
json_t *ps_webhook_json(struct ps_webhook *s);

#endif
