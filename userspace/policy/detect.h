/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Bulk-extraction detection: features per client and per prefix from the
 * client table's windows, the detectors that judge them, and the
 * escalation that acts on what they find. penstockd runs it on the wall
 * clock, penstock replay on the capture's.
 *
 * Every tick, the table hands each client whose counters moved to
 * ps_detect_observe(), which keeps what the windows cannot tell: the
 * minutes with inference requests (duty cycle) and the spacing of
 * requests (regularity). Every detection.interval, ps_detect_run() reads
 * every client active in the last hour and runs the detectors:
 *
 *   threshold     the configured thresholds of the client's class
 *   high_rate     inference requests in the last minute far above the
 *                 population (robust z-score of log(1 + x) by median and
 *                 MAD over the clients active in that minute) and at
 *                 least detection.high_rate.requests_per_minute
 *   surge         the last hour at least `factor` times the client's own
 *                 hourly baseline from the rest of its last 24 h
 *   low_and_slow  active in nearly every minute it was watched, requests
 *                 spaced like a machine's (coefficient of variation of the
 *                 intervals), and enough of them
 *   ratio         response payload over request payload, sustained over
 *                 24 h and in the last hour
 *   outflow       response payload far above the population's (a
 *                 request's, a busy minute's, the hour's) or the
 *                 client's own history
 *   outflow_tokens  completion tokens (tx_tokens + tx_tokens_estimated)
 *                 of an address, an API key or a network far above its
 *                 kind's population (tokflow.c)
 *   prefix        an IPv4 /24, IPv6 /64 or /48 with many active clients
 *                 whose requests together are far above the population
 *                 of single clients (a "hydra")
 *
 * A subject (a client, or a prefix) found by a detector goes through the
 * escalation steps: the first detection takes the first step; a
 * detection after that step's cooldown takes the next; the last step's
 * action is renewed while the subject is still found (after its cooldown,
 * or half its duration if that is shorter), without a new alert while it
 * is in force, with one after it ran out. A subject not detected for escalation.forget starts over.
 * Every step taken is an alert. Clients of an exempt class are left out
 * of everything; an alert_only class (or a prefix holding such a client
 * or an exempt one) gets alerts and no action.
 */
#ifndef PS_DETECT_H
#define PS_DETECT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "alerts/alert.h"
#include "common/config.h"
#include "count/clients.h"
#include "count/keyaddrs.h"

struct ps_detect;	/* opaque */

struct ps_detect_hooks {
	/* A step was taken: the alert (evidence owned by the detector). */
	void (*alert)(void *ctx, const struct ps_alert *al);
	/*
	 * Put a subject under an enforcement entry (origin
	 * PS_ORIGIN_DETECTOR, until_ns on the programs' clock). 0, or
	 * -errno when it was not applied (a manual entry stays).
	 */
	int (*enforce)(void *ctx, const struct ps_prefix *p, const struct ps_enforcement *e);
	/* The (API key, address) pairs of the programs (NULL: none). 0 or -errno. */
	int (*key_pairs)(void *ctx, struct ps_kpairs *out);
	void *ctx;
};

/*
 * A detector over table t with the settings of cfg (both must outlive
 * it); it registers itself as t's fold observer. NULL when out of memory.
 */
struct ps_detect *ps_detect_new(const struct ps_config *cfg, struct ps_ctable *t,
				const struct ps_detect_hooks *hooks);
void ps_detect_free(struct ps_detect *d);

/* cfg changed in place (a reload): classes are looked up again. */
void ps_detect_reconfigure(struct ps_detect *d);

/*
 * The table's fold observer: record r's counters moved by delta (window
 * fields) at the tick of Unix second now.
 */
void ps_detect_observe(void *ctx, struct ps_crec *r, const uint64_t delta[PS_NWFIELDS],
		       uint32_t now);

/*
 * Run the detectors when detection.interval has passed since the last
 * run: now_ms is the detection clock (Unix ms: the wall clock, or the
 * capture's), boot_now_ns the programs' clock at that moment. Returns the
 * steps taken.
 */
int ps_detect_run(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now_ns);

/*
 * penstockd: the runs in a thread of their own over the table under lock
 * lk (the loop holds it but while it waits for events, count/tlock.h),
 * so that a run (hundreds of ms of CPU with a million clients) delays no
 * tick and no control request. From then on ps_detect_run, called by the
 * loop with the lock held at every tick, takes the steps the thread's
 * last run found (the escalation, its entries and alerts stay the
 * loop's), hands the thread a run when one is due and none is going,
 * and judges the hot clients between runs as before. The thread holds
 * the lock for its run but gives it to the loop at the run's yields
 * (every few thousand clients, between the passes of a sort) whenever
 * the loop asks; a tick folded there moves the figures of the clients
 * the run reads after it, so a run in the thread finds what an inline
 * run finds only on a table that does not move meanwhile (penstock
 * replay runs inline: the same capture, the same alerts). 0 or -errno.
 */
struct ps_tlock;
int ps_detect_bg_start(struct ps_detect *d, struct ps_tlock *lk);
/*
 * How ps_detect_bg_start() makes its thread: spawn(th, fn, arg), as
 * pthread_create would (0 or -errno), so that penstockd has it made by a
 * thread that holds no capability (metrics/metrics.h, ps_metrics_spawn);
 * NULL (the default): pthread_create in the calling thread.
 */
void ps_detect_bg_spawner(int (*spawn)(pthread_t *th, void *(*fn)(void *), void *arg));
/* The thread stopped (its run at its next yield), the steps it found taken; lock not held. */
void ps_detect_bg_stop(struct ps_detect *d);
/*
 * Readable when the thread's run ended with steps found, or found 64
 * since the loop last took them (-1: no thread): the loop then takes them
 * at once with ps_detect_bg_take (lock held; steps taken), not at its
 * next tick.
 */
int ps_detect_bg_fd(const struct ps_detect *d);
int ps_detect_bg_take(struct ps_detect *d);
/*
 * Tests: fn(ctx) at each yield of the thread's runs, the lock held, as
 * if the loop had its turn there (a tick that moves the table at every
 * yield, where a real loop has one at a few). NULL: none.
 */
void ps_detect_bg_at_yield(struct ps_detect *d, void (*fn)(void *ctx), void *ctx);
/* Whether a run is handed to the thread and not finished (lock held). */
bool ps_detect_bg_busy(const struct ps_detect *d);

struct ps_detect_stats {
	uint64_t runs;		/* detector passes */
	uint64_t alerts;	/* steps taken */
	uint64_t last_ns;	/* CPU time of the last pass */
	uint64_t max_ns;	/* the longest pass */
	uint64_t dropped;	/* subjects not taken up: too many in escalation */
	uint32_t subjects;	/* subjects in escalation */
	uint32_t clients;	/* clients judged at the last pass */
	uint64_t gave_way;	/* the thread's runs gave the table to the loop (ps_detect_bg_start) */
	uint64_t gap_max_ns;	/* the most CPU time a run in the thread held the table without
				 * looking whether the loop asks for it */
};
void ps_detect_stats(const struct ps_detect *d, struct ps_detect_stats *out);

/*
 * The escalation of every subject to a file and back, so that a restart
 * goes on where the last run was ({"subjects":[{"subject","stage",
 * "next_ms","last_ms","until_ms"}]}, times on the detection clock). Save
 * replaces the file atomically (ps_json_replace): 0 or -errno. Load
 * returns the subjects read (a subject that is not valid is skipped), 0
 * when there is no file, or -EINVAL when the file is not a whole JSON
 * document of subjects, with what is wrong in err (the file is left alone).
 */
int ps_detect_save(struct ps_detect *d, const char *path);
int ps_detect_load(struct ps_detect *d, const char *path, char *err, size_t errlen);
/* Whether the escalation changed since the last save. */
bool ps_detect_dirty(const struct ps_detect *d);
/*
 * The same save in two halves, so that the second goes to another thread
 * (penstockd: thousands of subjects in escalation take tens of ms to
 * format, which the loop does not wait for): a copy of the subjects in
 * escalation, taken now (the escalation then counts as saved; NULL when
 * out of memory), and the file written from it (the copy freed), 0 or
 * -errno. A write that failed: mark the escalation changed again.
 */
struct ps_esc_snap;
struct ps_esc_snap *ps_detect_snapshot(struct ps_detect *d);
int ps_esc_snap_write(struct ps_esc_snap *s, const char *path);
void ps_detect_mark_dirty(struct ps_detect *d);

/* Median and MAD of v[0..n) (reordered); n > 0. */
void ps_median_mad(double *v, size_t n, double *median, double *mad);

#endif
