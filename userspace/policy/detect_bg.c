// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstockd's detection runs in a thread of their own (detect.h,
 * ps_detect_bg_start): the loop hands a run over at the tick it is due
 * at; the thread takes the table's lock (count/tlock.h) once the loop is
 * waiting for events, runs it as an inline run would (detect.c,
 * ps_dt_full_run) and, at each of the run's yields, gives the lock to
 * the loop if the loop asks for it; the steps the run finds are queued
 * (ps_dt_escalate), and the loop takes them at its next tick. Everything
 * the thread touches (the table, the detector's state, the queue, the
 * configuration) it touches with the lock held, as the loop does: the
 * two never run on the detector at once.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "common/clock.h"
#include "count/tlock.h"
#include "policy/detect_int.h"

_Thread_local const struct ps_detect *ps_dt_bg_self;

/* A step found by the thread's run: ps_dt_escalate's arguments. */
struct dt_step {
	struct ps_prefix p;
	int kind;
	char detector[32];
	double score;
	json_t *ev;		/* a reference of the queue's */
	bool alert_only, dry_run;
	uint32_t members;
	uint64_t now_ms, boot_now;
};

/* Steps queued that wake the loop to take them before the run ends: a
 * run that finds thousands (a population of hydras) holds a few KB of
 * evidence each, megabytes if the loop took them only at the end. */
#define BG_WAKE_STEPS	64

struct dt_bg {
	pthread_t th;
	struct ps_tlock *lk;
	int efd;		/* an eventfd: a run ended with steps queued (ps_detect_bg_fd) */
	pthread_mutex_t jmu;	/* with jcv: job, quit and the job's clock */
	pthread_cond_t jcv;
	bool job, quit;
	uint64_t now_ms, boot_now;
	uint64_t look_ns;	/* the thread's CPU time at its last look at `want` (or take) */
	uint64_t slice_end;	/* its CPU time its slice ends at, 0: none (count/tlock.h) */
	void (*at_yield)(void *ctx);	/* ps_detect_bg_at_yield */
	void *at_yield_ctx;
	/* Under the table's lock: */
	bool busy;		/* a run handed over, not finished */
	struct dt_step *q;	/* steps found, for the loop */
	uint32_t nq, cap_q;
};

/* The run looks at `want` (or ends): the CPU time since it last did. */
static void bg_looked(struct ps_detect *d)
{
	uint64_t now = ps_cpu_ns();

	if (now - d->bg->look_ns > d->st.gap_max_ns)
		d->st.gap_max_ns = now - d->bg->look_ns;
	d->bg->look_ns = now;
}

bool ps_dt_bg_yield(struct ps_detect *d)
{
	bg_looked(d);
	if (ps_tlock_yield_bg(d->bg->lk, &d->bg->slice_end)) {
		d->st.gave_way++;
		d->bg->look_ns = ps_cpu_ns();
	}
	if (d->bg->at_yield)
		d->bg->at_yield(d->bg->at_yield_ctx);
	return d->stale;
}

void ps_detect_bg_at_yield(struct ps_detect *d, void (*fn)(void *ctx), void *ctx)
{
	d->bg->at_yield = fn;
	d->bg->at_yield_ctx = ctx;
}

/* The loop, to take the steps queued (ps_detect_bg_fd). */
static void bg_wake(struct dt_bg *bg)
{
	uint64_t one = 1;

	if (write(bg->efd, &one, sizeof(one)) < 0) {
		/* (never full: the loop reads it; else the next tick takes them) */
	}
}

int ps_dt_bg_queue(struct ps_detect *d, const struct ps_prefix *p, int kind,
		   const char *detector, double score, json_t *evidence, bool alert_only,
		   uint32_t members, bool dry_run, uint64_t now_ms, uint64_t boot_now)
{
	struct dt_bg *bg = d->bg;
	struct dt_step *s;

	if (bg->nq == bg->cap_q) {
		uint32_t cap = bg->cap_q ? bg->cap_q * 2 : 64;
		struct dt_step *nq = realloc(bg->q, cap * sizeof(*nq));

		if (!nq) {
			d->st.dropped++;	/* a subject not taken up, as when too many are */
			return 0;
		}
		bg->q = nq;
		bg->cap_q = cap;
	}
	s = &bg->q[bg->nq++];
	memset(s, 0, sizeof(*s));
	s->p = *p;
	s->kind = kind;
	snprintf(s->detector, sizeof(s->detector), "%s", detector);
	s->score = score;
	s->ev = json_incref(evidence);
	s->alert_only = alert_only;
	s->dry_run = dry_run;
	s->members = members;
	s->now_ms = now_ms;
	s->boot_now = boot_now;
	if (bg->nq == BG_WAKE_STEPS)
		bg_wake(bg);
	return 0;
}

/* The loop (or the stop, the thread gone): the steps found, in the order found. */
static int take_steps(struct ps_detect *d)
{
	struct dt_bg *bg = d->bg;
	uint32_t i;
	int taken = 0;

	for (i = 0; i < bg->nq; i++) {
		struct dt_step *s = &bg->q[i];

		taken += ps_dt_escalate(d, &s->p, s->kind, s->detector, s->score, s->ev,
					s->alert_only, s->members, s->dry_run, s->now_ms,
					s->boot_now);
		json_decref(s->ev);
	}
	bg->nq = 0;
	return taken;
}

int ps_dt_bg_tick(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now)
{
	struct dt_bg *bg = d->bg;
	int taken = take_steps(d);

	/* A run going: the hot clients wait for it (it judges them, or the
	 * next tick after it does). */
	if (bg->busy || !d->cfg->detection.enabled)
		return taken;
	if (!ps_dt_run_due(d, now_ms))
		return taken + ps_dt_judge_hot(d, now_ms, boot_now);
	bg->busy = true;
	pthread_mutex_lock(&bg->jmu);
	bg->job = true;
	bg->now_ms = now_ms;
	bg->boot_now = boot_now;
	pthread_cond_signal(&bg->jcv);
	pthread_mutex_unlock(&bg->jmu);
	return taken;
}

static void *bg_main(void *arg)
{
	struct ps_detect *d = arg;
	struct dt_bg *bg = d->bg;
	sigset_t all;

	/* Signals stay the loop's (its signalfd), whoever made this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	ps_dt_bg_self = d;
	for (;;) {
		uint64_t now_ms, boot_now;
		bool quit;

		pthread_mutex_lock(&bg->jmu);
		while (!bg->job && !bg->quit)
			pthread_cond_wait(&bg->jcv, &bg->jmu);
		quit = bg->quit;
		bg->job = false;
		now_ms = bg->now_ms;
		boot_now = bg->boot_now;
		pthread_mutex_unlock(&bg->jmu);
		if (quit)
			break;
		bg->slice_end = ps_tlock_take_bg(bg->lk) ? ps_cpu_ns() + PS_TLOCK_SLICE_NS : 0;
		bg->look_ns = ps_cpu_ns();
		pthread_mutex_lock(&bg->jmu);
		quit = bg->quit;
		pthread_mutex_unlock(&bg->jmu);
		if (!quit)
			ps_dt_full_run(d, now_ms, boot_now);
		bg_looked(d);
		bg->busy = false;
		/* The loop takes the steps now, not at its next tick: an
		 * entry in force a second late lets a second of extraction by. */
		if (bg->nq)
			bg_wake(bg);
		ps_tlock_give(bg->lk);
		/* What the run freed in the heap (its small blocks, among the
		 * loop's) goes back to the system, not only its top. */
		malloc_trim(0);
	}
	return NULL;
}

static int (*bg_spawn)(pthread_t *th, void *(*fn)(void *), void *arg);

void ps_detect_bg_spawner(int (*spawn)(pthread_t *th, void *(*fn)(void *), void *arg))
{
	bg_spawn = spawn;
}

int ps_detect_bg_start(struct ps_detect *d, struct ps_tlock *lk)
{
	struct dt_bg *bg;
	sigset_t all, old;
	int err;

	if (d->bg)
		return -EALREADY;
	bg = calloc(1, sizeof(*bg));
	if (!bg)
		return -ENOMEM;
	bg->lk = lk;
	bg->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bg->efd < 0) {
		err = -errno;
		free(bg);
		return err;
	}
	pthread_mutex_init(&bg->jmu, NULL);
	pthread_cond_init(&bg->jcv, NULL);
	d->bg = bg;
	/* Signals stay the loop's (its signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = bg_spawn ? bg_spawn(&bg->th, bg_main, d) : -pthread_create(&bg->th, NULL, bg_main, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		d->bg = NULL;
		pthread_cond_destroy(&bg->jcv);
		pthread_mutex_destroy(&bg->jmu);
		close(bg->efd);
		free(bg);
		return err;
	}
	pthread_setname_np(bg->th, "ps-detect");
	return 0;
}

void ps_detect_bg_stop(struct ps_detect *d)
{
	struct dt_bg *bg = d->bg;

	if (!bg)
		return;
	pthread_mutex_lock(&bg->jmu);
	bg->quit = true;
	pthread_cond_signal(&bg->jcv);
	pthread_mutex_unlock(&bg->jmu);
	/* A run going stops at its next yield. */
	ps_tlock_take(bg->lk);
	if (d->in_run)
		d->stale = true;
	ps_tlock_give(bg->lk);
	pthread_join(bg->th, NULL);
	/* What it found is not lost: the steps now, on this thread. */
	take_steps(d);
	d->bg = NULL;
	close(bg->efd);
	free(bg->q);
	pthread_cond_destroy(&bg->jcv);
	pthread_mutex_destroy(&bg->jmu);
	free(bg);
}

bool ps_detect_bg_busy(const struct ps_detect *d)
{
	return d->bg && d->bg->busy;
}

int ps_detect_bg_fd(const struct ps_detect *d)
{
	return d->bg ? d->bg->efd : -1;
}

int ps_detect_bg_take(struct ps_detect *d)
{
	uint64_t n;

	if (!d->bg)
		return 0;
	if (read(d->bg->efd, &n, sizeof(n)) < 0) {
		/* (nothing to read: taken by a tick since) */
	}
	return take_steps(d);
}
