/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The CLI side of penstockd's control socket (common/protocol.h): one
 * JSON request, one JSON answer per connection.
 */
#ifndef PS_CTL_H
#define PS_CTL_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#include "cli/opts.h"
#include "common/protocol.h"

/* --socket PATH if given, else $PENSTOCK_SOCKET if set and not empty, else
 * PS_CONTROL_SOCKET. */
const char *ps_ctl_socket_path(const char *opt);

/*
 * Send req to the daemon at socket_path and return its answer, a JSON
 * object (the caller json_decref()s it), whether "ok" is true or false.
 * On failure returns NULL with a message for a person in err ("penstockd is
 * not running (...)", "penstockd did not answer within 5 s", ...) and
 * errno set (EACCES: the socket's mode let us not connect).
 */
json_t *ps_ctl_request(const char *socket_path, json_t *req, char *err, size_t errlen);

/*
 * ps_ctl_request() for command cmd (used in messages): on a failure, or an
 * answer with "ok":false, prints "penstock CMD: MESSAGE" to stderr and
 * returns NULL. Takes the reference to req. *status (when not NULL) gets
 * the exit status: PS_EXIT_OK, PS_EXIT_DENIED (the socket's mode, or an
 * answer with "denied":true) or PS_EXIT_FAIL.
 */
json_t *ps_ctl_call(const char *cmd, const char *socket_path, json_t *req, int *status);

/* {"cmd":"clients",...}: a request for the first limit clients of a window by a sort key. */
json_t *ps_clients_request(const char *window, const char *sort, long long limit);

/* Print answer without its "ok" member, compact, one line. 0 or -EIO. */
int ps_ctl_print_json(FILE *f, json_t *answer);

/* The answer of command cmd on stdout as --json prints it; frees it. An exit status. */
int ps_ctl_answer_json(const char *cmd, json_t *ans);

/*
 * Send req (taken) for command cmd to the socket of o, and hand back the
 * answer to print as text; NULL when there is nothing more to do, with
 * the exit status in *ret: a failure (said on stderr), or --json (the
 * answer printed).
 */
json_t *ps_ctl_ask(const char *cmd, const struct ps_opts_common *o, json_t *req, int *ret);
/* After the answer was printed (err: what printing returned): frees it; an exit status. */
int ps_ctl_done(const char *cmd, json_t *ans, int err);
/*
 * A command with no options of its own: ask penstockd for cmd, print its
 * answer by print() (0 or -ENOMEM), or as JSON with --json. An exit status.
 */
int ps_ctl_show(const struct ps_cmd_opts *c, int argc, char **argv, enum ps_cmd cmd,
		int (*print)(json_t *ans));

#endif
