/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The handlers of the control requests, one per command of ps_cmds
 * (common/protocol.h), dispatched by handlers.c: each writes one JSON
 * object, its answer, to out.
 */
#ifndef PS_HANDLERS_H
#define PS_HANDLERS_H

#include <stdio.h>
#include <jansson.h>

#include "daemon/daemon.h"

typedef void (*ps_handler_fn)(struct ps_daemon *d, json_t *req, FILE *out);

/* handlers_status.c */
void ps_handle_status(struct ps_daemon *d, json_t *req, FILE *out);
/* handlers_enforce.c */
void ps_handle_block(struct ps_daemon *d, json_t *req, FILE *out);
void ps_handle_throttle(struct ps_daemon *d, json_t *req, FILE *out);
void ps_handle_unblock(struct ps_daemon *d, json_t *req, FILE *out);
void ps_handle_enforcement(struct ps_daemon *d, json_t *req, FILE *out);

#endif
