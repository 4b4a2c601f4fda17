/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's end of the control socket (common/protocol.h): a
 * Unix stream socket, one JSON request line and one JSON answer line per
 * connection.
 */
#ifndef PS_CONTROL_H
#define PS_CONTROL_H

#include <stdio.h>
#include <jansson.h>

#include "common/protocol.h"

struct ps_control {
	int fd;
	char path[108];
};

/*
 * Listen on path (mode 0660, its directory created 0755). A socket left by
 * a daemon that is gone is replaced; one that answers means another
 * penstockd runs: -EADDRINUSE. Returns 0 or -errno (message printed).
 */
int ps_control_listen(struct ps_control *c, const char *path);
void ps_control_close(struct ps_control *c);

/*
 * The handler writes one JSON object (no newline) to out; req is the
 * parsed request object.
 */
typedef void (*ps_control_fn)(json_t *req, FILE *out, void *ctx);

/* Accept and serve the connections waiting on the socket. */
void ps_control_serve(struct ps_control *c, ps_control_fn fn, void *ctx);

/* {"ok":false,"error":msg} to out. */
void ps_control_error(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
