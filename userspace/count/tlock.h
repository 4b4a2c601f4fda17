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
 */
#ifndef PS_TLOCK_H
#define PS_TLOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct ps_tlock {
	pthread_mutex_t mu;	/* the table */
	pthread_mutex_t wmu;	/* with wcv: the threads waiting for the loop's turn to end */
	pthread_cond_t wcv;
	atomic_uint want;	/* the loop waits for mu */
};

static inline void ps_tlock_init(struct ps_tlock *l)
{
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->wmu, NULL);
	pthread_cond_init(&l->wcv, NULL);
	atomic_init(&l->want, 0);
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

/* A thread's: take the table once the loop does not ask for it. */
static inline void ps_tlock_take_bg(struct ps_tlock *l)
{
	pthread_mutex_lock(&l->wmu);
	while (atomic_load(&l->want))
		pthread_cond_wait(&l->wcv, &l->wmu);
	pthread_mutex_unlock(&l->wmu);
	pthread_mutex_lock(&l->mu);
}

/*
 * A thread holding the table, between two pieces of its work: if the
 * loop asks for it, give it and take it back after the loop's turn. True
 * when it gave it (what the thread read before may have changed: a tick
 * folded counts, records were added, arrays moved).
 */
static inline bool ps_tlock_yield_bg(struct ps_tlock *l)
{
	if (!atomic_load_explicit(&l->want, memory_order_relaxed))
		return false;
	pthread_mutex_unlock(&l->mu);
	ps_tlock_take_bg(l);
	return true;
}

#endif
