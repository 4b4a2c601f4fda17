/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * penstockd's state and what its files share: main.c reads the options,
 * setup.c loads (or adopts) and attaches the datapath and reloads the
 * configuration, loop.c runs the event loop and the tick, handlers*.c
 * answer the control requests (common/protocol.h).
 */
#ifndef PS_DAEMON_H
#define PS_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "alerts/sinks.h"
#include "common/config.h"
#include "common/datapath.h"
#include "count/clients.h"
#include "count/tick.h"
#include "count/tlock.h"
#include "daemon/adopt.h"
#include "daemon/attach.h"
#include "daemon/control.h"
#include "enforce/shape.h"
#include "fleet/fleet.h"
#include "policy/policy.h"

#define PS_VERSION		"0.3.0"
#define PS_ENFORCEMENT_FILE	"enforcement.json"	/* manual entries, in the state dir */
#define PS_ESCALATION_FILE	"escalation.json"	/* the detectors' escalation, likewise */

struct ps_daemon {
	const char *config_path;
	const char *socket_path;
	const char *socket_group;	/* may read; the socket's group */
	bool socket_group_given;	/* --socket-group: the group must exist */
	const char *state_dir;
	const char *pin_dir;
	char run_record[4200];
	bool keep_datapath;
	bool adopted;		/* took over the maps of a running datapath ... */
	enum ps_adopt_from adopted_from;	/* ... found through its programs or pins */
	bool replacing;		/* a running datapath that did not fit was replaced ... */
	struct ps_adopt prev;	/* ... its maps, until they are read */
	bool stop;
	bool owner;		/* the control socket is ours: no other daemon runs */
	struct ps_config cfg;
	struct ps_datapath dp;
	struct ps_attachment att[PS_MAX_IFACES];
	int natt;
	struct ps_ctable table;
	struct ps_tick tick;
	struct ps_control ctl;
	struct ps_alerts *alerts;	/* the alert sinks (alerts/) */
	struct ps_policy pol;	/* window limits, detection, escalation (policy/) */
	struct ps_shaper shape;
	bool shape_dirty;	/* shape entries changed: sync the HTB classes */
	pid_t saver;		/* a forked saver (after SAVE_ABORTS_MAX saves by thread gave up) */
	struct ps_state_saver *saver_th;	/* a save by thread (count/state.h) */
	/* The table's lock: held by the loop but while it waits for events;
	 * the saver thread and the detector's take it between (count/tlock.h). */
	struct ps_tlock table_mu;
	bool table_held;
	uint32_t save_aborts;	/* saves by thread in a row that gave up */
	bool save_durable;	/* the next save by a fork: a child outlives a killed daemon */
	uint64_t tick_save_max_ns;	/* the largest tick CPU time while a save ran */
	uint64_t tick_start_ms;	/* monotonic, the last tick's start */
	uint64_t tick_late_max_ms;	/* the most a tick started after its second */
	uint64_t table_wait_max_ns;	/* the most the loop, awake, waited for the table's lock
					 * (a starved thread's slice aside: a request's wait in it) */
	uint64_t slice_wait_max_ns;	/* the most a tick waited for a starved thread's slice */
	uint64_t ctl_look_ns;	/* thread CPU time when the loop last looked at the control socket */
	uint64_t ctl_gap_max_ns;	/* the most CPU time between two looks */
	bool save_soon;		/* slots were freed: save at the next chance */
	uint64_t saver_started_ms;
	uint64_t last_save_ms;
	uint64_t save_took_ms;	/* the last save, fork to exit */
	uint64_t started_ms;
	bool yielding;		/* answering requests from inside a pass (loop_yield) */
	uint64_t reloads;	/* configurations put in force since start */
	uint64_t yielded_ms;	/* when a pass last looked for requests */
	uint32_t flows;		/* ps_flows entries at the last sweep of idle flows */
	uint32_t flows_est;	/* ps_flows_est entries then */
	struct ps_metrics *metrics;	/* the /metrics server (metrics/), NULL: off */
	struct ps_metrics *metrics_next;	/* a reload's, until it is in force */
	bool metrics_change;	/* a reload turns metrics on, off or moves them */
	struct ps_scrape *scrape;	/* what /metrics says (scrape.c) */
	struct ps_fleet fleet;	/* the fleet's counters in Redis (fleet/) */
};

/* setup.c */
int ps_daemon_setup(struct ps_daemon *d);
void ps_daemon_teardown(struct ps_daemon *d);
/* Re-read the config file; keep the running one if it is invalid (message in err). */
int ps_daemon_reload(struct ps_daemon *d, char *err, size_t errlen);

/* loop.c */
int ps_daemon_run(struct ps_daemon *d);
/* Let the passes over the client table answer control requests (loop.c). */
void ps_daemon_yield_init(struct ps_daemon *d);
/* The signals the loop takes through its signalfd: stop, reload, a saver's exit. */
void ps_daemon_signals(sigset_t *mask);
/*
 * Bring the HTB classes in line with the shape entries now. Returns what
 * ps_shape_sync() does (a message in err; NULL err: warned once).
 */
int ps_daemon_shape_sync(struct ps_daemon *d, char *err, size_t errlen);
/* Manual entries to state_dir/enforcement.json after every change to them. */
void ps_daemon_save_manual(struct ps_daemon *d);
/* The escalation to state_dir/escalation.json, when it changed (or always). */
void ps_daemon_save_escalation(struct ps_daemon *d, bool always);
/* The client table to the state file now, after the saver in flight. */
void ps_daemon_save_state(struct ps_daemon *d);

/*
 * scrape.c: the text of /metrics, rendered at the end of each tick and
 * served by the metrics server (metrics/metrics.h) until the next.
 */
struct ps_scrape;
int ps_scrape_init(struct ps_daemon *d);
void ps_scrape_free(struct ps_daemon *d);
/* Start the server of cfg.metrics (nothing when disabled): 0, or -errno with err. */
int ps_scrape_start(struct ps_daemon *d, char *err, size_t errlen);
void ps_scrape_stop(struct ps_daemon *d);
/* The ticks and detection passes run since the last call, into the histograms. */
void ps_scrape_observe(struct ps_daemon *d);
/* An alert, counted by detector and action. */
void ps_scrape_alert(struct ps_daemon *d, const struct ps_alert *al);
/* Render the text and put it in force (once a tick). */
void ps_scrape_render(struct ps_daemon *d);
/*
 * A reload: open the server ncfg wants (0, or -errno with err: the
 * reload is refused), then commit (put it in force) or abort.
 */
int ps_scrape_prepare(struct ps_daemon *d, const struct ps_config *ncfg, char *err,
		      size_t errlen);
void ps_scrape_commit(struct ps_daemon *d);
void ps_scrape_abort(struct ps_daemon *d);

/* handlers.c: one control request (a ps_control_fn; ctx is the daemon). */
void ps_daemon_handle(json_t *req, FILE *out, void *ctx);

#endif
