/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The CLI side of penstockd's control socket (docs/control-protocol.md):
 * one JSON request, one JSON answer per connection, and the penstock
 * commands that speak it (status, clients, client, endpoints, reload,
 * stop, the enforcement commands block, throttle, unblock,
 * enforcement, and alerts; top is in cli/top.h).
 */
#ifndef PS_CTL_H
#define PS_CTL_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#include "common/protocol.h"


/* --socket PATH if given, else $PENSTOCK_SOCKET if set and not empty, else
 * PS_CONTROL_SOCKET. */
const char *ps_ctl_socket_path(const char *opt);

/*
 * Send req to the daemon at socket_path and return its answer, a JSON
 * object (the caller json_decref()s it), whether "ok" is true or false.
 * On failure returns NULL with a message for a person in err ("penstockd is
 * not running (...)", "penstockd did not answer within 5 s", ...).
 */
json_t *ps_ctl_request(const char *socket_path, json_t *req, char *err, size_t errlen);

/*
 * ps_ctl_request() for command cmd (used in messages): on a failure, or an
 * answer with "ok":false, prints "penstock CMD: MESSAGE" to stderr and
 * returns NULL. Takes the reference to req.
 */
json_t *ps_ctl_call(const char *cmd, const char *socket_path, json_t *req);

/* {"cmd":"clients",...}: a request for the first limit clients of a window by a sort key. */
json_t *ps_clients_request(const char *window, const char *sort, long long limit);

/* Print answer without its "ok" member, compact, one line. 0 or -EIO. */
int ps_ctl_print_json(FILE *f, json_t *answer);


/* Formatting shared by the commands and top. */
const char *ps_fmt_duration(long long secs, char *buf, size_t len);	/* "1d 2h 3m 4s" */
const char *ps_fmt_bytes(double v, char *buf, size_t len);		/* "1.2M" */
/* A counter cell: integer as is, a real rounded, absent "-". */
const char *ps_fmt_count(json_t *v, char *buf, size_t len);
/* A figure with one decimal (rpm), absent "-". */
const char *ps_fmt_decimal(json_t *v, char *buf, size_t len);
/* A member as a number (integer or real), or 0. */
double ps_json_num(json_t *obj, const char *key);

/* The commands, as cli/main.c's table calls them: argv[0] is the command. */
/*
 * Alerts (ps_alert_json objects) as `penstock alerts` prints them: a table,
 * time to the second, the evidence in one line. 0, or -ENOMEM.
 */
int ps_alerts_table(json_t *alerts);

int ps_cmd_status(int argc, char **argv);
int ps_cmd_clients(int argc, char **argv);
int ps_cmd_client(int argc, char **argv);
int ps_cmd_endpoints(int argc, char **argv);
int ps_cmd_reload(int argc, char **argv);
int ps_cmd_stop(int argc, char **argv);
int ps_cmd_block(int argc, char **argv);
int ps_cmd_throttle(int argc, char **argv);
int ps_cmd_unblock(int argc, char **argv);
int ps_cmd_enforcement(int argc, char **argv);
int ps_cmd_alerts(int argc, char **argv);

#endif
