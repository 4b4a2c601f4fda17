/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The client table's lock in penstockd: the loop holds it but while it
 * waits for events; the threads that read the table beside it (the state
 * saver, count/state.c; the detector, policy/detect_bg.c) take it between
 * the loop's turns. The loop goes first: a thread that holds it for a
 * long piece of work (a detection run) looks at `want` between pieces
 * and lets the loop in as soon as it asks (ps_tlock_yield_bg), so that a
 * tick or a control request waits for a piece, never for a whole run.
 * A pthread mutex alone is no such promise: its holder may take it again
 * before a waiter wakes.
 *
 * The loop first, but not always: on a machine short of CPU the loop
 * may never wait for events long enough for a thread to take the table
 * (it wakes, late, to a tick already due), and a detection run would
 * never end. A thread that waited PS_TLOCK_STARVE_NS for the table is
 * let in first at the loop's next tick (ps_tlock_take_fair): the loop
 * waits for it to take the table, then asks for it back, and the thread
 * keeps it for a slice (PS_TLOCK_SLICE_NS of its CPU time) before it
 * gives way, as the loop's own passes once took their turn inline.
 *
 * The slice is the tick's wait, not a control request's: 50 ms of a
 * thread's CPU are 200 ms and more of wall time on a loaded machine. While
 * the loop waits for a slice it looks every PS_TLOCK_LOOK_NS whether a
 * request waits (ps_tlock_take_fair's `waiting`); if one does, it says so
 * (`urgent`), the thread gives way at its next look as if its slice were
 * over, the loop answers (`serve`) and lets the thread in again for the
 * rest of its slice. A request waits for a piece of the thread's work,
 * never for its slice.
 */
#ifndef PS_TLOCK_H
#define PS_TLOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define PS_TLOCK_STARVE_NS	250000000ULL	/* a thread waited that long: its slice */
#define PS_TLOCK_SLICE_NS	50000000ULL	/* of its CPU time, before it gives way */
#define PS_TLOCK_LOOK_NS	2000000ULL	/* the loop, waiting for a slice, looks for requests */

struct ps_tlock {
	pthread_mutex_t mu;	/* the table */
	pthread_mutex_t wmu;	/* with wcv: the threads waiting for the loop's turn to end */
	pthread_cond_t wcv;
	atomic_uint want;	/* the loop waits for mu */
	atomic_uint urgent;	/* ... and a control request waits: a slice gives way */
	/* Under wmu: */
	bool bg_waits;		/* a thread waits in ps_tlock_take_bg ... */
	uint64_t bg_since;	/* ... since (CLOCK_MONOTONIC ns) */
	bool granted;		/* the loop lets it take mu first (ps_tlock_take_fair) */
	bool resume;		/* a thread gave way inside its slice (urgent): it comes back */
};

static inline uint64_t ps_tlock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline void ps_tlock_init(struct ps_tlock *l)
{
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->wmu, NULL);
	pthread_cond_init(&l->wcv, NULL);
	atomic_init(&l->want, 0);
	atomic_init(&l->urgent, 0);
	l->bg_waits = l->granted = l->resume = false;
	l->bg_since = 0;
}

/* The loop's: take the table before any thread that waits for it. */
static inline void ps_tlock_take(struct ps_tlock *l)
{
	atomic_fetch_add(&l->want, 1);
	pthread_mutex_lock(&l->mu);
	pthread_mutex_lock(&l->wmu);
	atomic_fetch_sub(&l->want, 1);
	pthread_cond_broadcast(&l->wcv);
	pthread_mutex_unlock(&l->wmu);
}

static inline void ps_tlock_give(struct ps_tlock *l)
{
	pthread_mutex_unlock(&l->mu);
}

/* Under wmu, holding no mu: the waiting thread takes mu first; until it holds it. */
static inline void ps_tlock_grant_locked(struct ps_tlock *l)
{
	l->granted = true;
	pthread_cond_broadcast(&l->wcv);
	/* It is on its way to mu (no one asks for it): until it holds it. */
	while (l->granted)
		pthread_cond_wait(&l->wcv, &l->wmu);
}

/*
 * The loop's, while a thread has its slice: ps_tlock_take, looking every
 * PS_TLOCK_LOOK_NS whether a control request waits (then `urgent`: the
 * thread gives way at its next look). *req_ns: when a request was first
 * seen waiting (CLOCK_MONOTONIC ns), 0: none.
 */
static inline void ps_tlock_take_looking(struct ps_tlock *l, bool (*waiting)(void *ctx),
					 void *ctx, uint64_t *req_ns)
{
	atomic_fetch_add(&l->want, 1);
	for (;;) {
		uint64_t until = ps_tlock_ns(CLOCK_MONOTONIC) + PS_TLOCK_LOOK_NS;
		struct timespec ts = { .tv_sec = until / 1000000000ULL,
				       .tv_nsec = until % 1000000000ULL };

		if (!pthread_mutex_clocklock(&l->mu, CLOCK_MONOTONIC, &ts))
			break;
		if (!*req_ns && waiting(ctx)) {
			*req_ns = ps_tlock_ns(CLOCK_MONOTONIC);
			atomic_store(&l->urgent, 1);
		}
	}
	pthread_mutex_lock(&l->wmu);
	atomic_fetch_sub(&l->want, 1);
	atomic_store(&l->urgent, 0);
	pthread_cond_broadcast(&l->wcv);
	pthread_mutex_unlock(&l->wmu);
}

/*
 * The loop's, woken by a tick: as ps_tlock_take, but a thread that waited
 * for the table PS_TLOCK_STARVE_NS or more takes it first (for its slice).
 * Meanwhile a control request does not wait for the slice: waiting(ctx)
 * says one waits, serve(ctx) answers it with the table held, and the
 * thread has the rest of its slice after it. The wall time the slice took
 * (its resumptions included) in *slice_ns, 0: no slice; the longest a
 * request waited for the table, from the look that found it, in *req_ns.
 */
static inline void ps_tlock_take_fair(struct ps_tlock *l, bool (*waiting)(void *ctx),
				      void (*serve)(void *ctx), void *ctx, uint64_t *slice_ns,
				      uint64_t *req_ns)
{
	uint64_t t0 = ps_tlock_ns(CLOCK_MONOTONIC), seen;
	bool slice;

	*slice_ns = *req_ns = 0;
	pthread_mutex_lock(&l->wmu);
	slice = l->bg_waits && t0 - l->bg_since >= PS_TLOCK_STARVE_NS;
	if (slice)
		ps_tlock_grant_locked(l);
	pthread_mutex_unlock(&l->wmu);
	if (!slice) {
		ps_tlock_take(l);
		return;
	}
	for (;;) {
		seen = 0;
		ps_tlock_take_looking(l, waiting, ctx, &seen);
		if (seen && ps_tlock_ns(CLOCK_MONOTONIC) - seen > *req_ns)
			*req_ns = ps_tlock_ns(CLOCK_MONOTONIC) - seen;
		if (!seen)
			break;		/* the slice is over (or the run): the tick's turn */
		serve(ctx);
		pthread_mutex_lock(&l->wmu);
		if (!l->resume) {
			/* It gave way at its slice's end, or its run ended. */
			pthread_mutex_unlock(&l->wmu);
			break;
		}
		/* The rest of its slice. */
		l->resume = false;
		pthread_mutex_unlock(&l->mu);
		ps_tlock_grant_locked(l);
		pthread_mutex_unlock(&l->wmu);
	}
	*slice_ns = ps_tlock_ns(CLOCK_MONOTONIC) - t0;
}

/*
 * A thread's: take the table once the loop does not ask for it (or lets
 * it in first). True when it was let in: its slice begins.
 */
static inline bool ps_tlock_take_bg(struct ps_tlock *l)
{
	bool granted;

	pthread_mutex_lock(&l->wmu);
	if (!l->bg_waits) {
		l->bg_waits = true;
		l->bg_since = ps_tlock_ns(CLOCK_MONOTONIC);
	}
	while (atomic_load(&l->want) && !l->granted)
		pthread_cond_wait(&l->wcv, &l->wmu);
	pthread_mutex_unlock(&l->wmu);
	pthread_mutex_lock(&l->mu);
	pthread_mutex_lock(&l->wmu);
	l->bg_waits = false;
	granted = l->granted;
	if (granted) {
		l->granted = false;
		pthread_cond_broadcast(&l->wcv);
	}
	pthread_mutex_unlock(&l->wmu);
	return granted;
}

/*
 * A thread holding the table, between two pieces of its work: if the
 * loop asks for it, give it and take it back after the loop's turn, but
 * not before the end of a slice (*slice_end: the thread's CPU time it
 * ends at, 0: none). True when it gave it (what the thread read before
 * may have changed: a tick folded counts, records were added, arrays
 * moved).
 */
static inline bool ps_tlock_yield_bg(struct ps_tlock *l, uint64_t *slice_end)
{
	uint64_t left = 0, now;

	if (!atomic_load_explicit(&l->want, memory_order_relaxed))
		return false;
	if (*slice_end && (now = ps_tlock_ns(CLOCK_THREAD_CPUTIME_ID)) < *slice_end) {
		if (!atomic_load(&l->urgent))
			return false;
		/* A control request waits: it goes first, the slice's rest after it. */
		left = *slice_end - now;
		pthread_mutex_lock(&l->wmu);
		l->resume = true;
		pthread_mutex_unlock(&l->wmu);
	}
	pthread_mutex_unlock(&l->mu);
	*slice_end = ps_tlock_take_bg(l) ?
		     ps_tlock_ns(CLOCK_THREAD_CPUTIME_ID) + (left ? left : PS_TLOCK_SLICE_NS) : 0;
	return true;
}

#endif
