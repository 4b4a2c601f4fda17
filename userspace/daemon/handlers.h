/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The handlers of the control requests, one per command of ps_cmds
 * (common/protocol.h), dispatched by handlers.c. A request goes in two
 * steps: its check reads the members into a struct ps_ask and refuses a
 * member of the wrong type, out of bounds or malformed (nothing runs, no
 * datapath is read); its run does what was asked and writes one JSON
 * object, the answer, to out.
 */
#ifndef PS_HANDLERS_H
#define PS_HANDLERS_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

#include "common/units.h"
#include "daemon/daemon.h"

/* A request as its check read it: the members its command takes. */
struct ps_ask {
	enum ps_cmd cmd;
	enum ps_window window;		/* clients */
	enum ps_sort sort;		/* clients */
	uint32_t limit;			/* clients: 0 all */
	struct ps_client_key addr;	/* client */
	struct ps_prefix subject;	/* block, throttle, unblock */
	char subj[64];			/* the subject as ps_prefix_str() writes it */
	/* block, throttle: action, limits and reason (times are set when it runs) */
	struct ps_enforcement entry;
	char rate[40];			/* throttle by rate: " at N bit/s" */
	uint64_t for_s;			/* block, throttle: 0 until removed */
	uint64_t since_s;		/* alerts: 0 every alert kept */
	bool keep_datapath;		/* stop */
};

/*
 * Check a request: its command and every member it takes. 0 with a filled
 * in, or -1 with the error answered on out.
 */
int ps_daemon_check(json_t *req, FILE *out, struct ps_ask *a);
/* Whether the run of cmd reads or changes the datapath (maps, programs, HTB classes). */
bool ps_daemon_uses_datapath(enum ps_cmd cmd);
/* Run a checked request and answer it. */
void ps_daemon_answer(struct ps_daemon *d, const struct ps_ask *a, FILE *out);

/* handlers_status.c */
void ps_run_status(struct ps_daemon *d, const struct ps_ask *a, FILE *out);
/* handlers_enforce.c */
int ps_check_block(json_t *req, FILE *out, struct ps_ask *a);
int ps_check_throttle(json_t *req, FILE *out, struct ps_ask *a);
int ps_check_unblock(json_t *req, FILE *out, struct ps_ask *a);
void ps_run_set(struct ps_daemon *d, const struct ps_ask *a, FILE *out);
void ps_run_unblock(struct ps_daemon *d, const struct ps_ask *a, FILE *out);
void ps_run_enforcement(struct ps_daemon *d, const struct ps_ask *a, FILE *out);

#endif
