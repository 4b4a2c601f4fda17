// SPDX-License-Identifier: GPL-2.0-only
/*
 * The client table's lock (count/tlock.h) between the loop and a thread
 * that waited too long for it: the slice the loop lets it have at a tick,
 * and a control request that comes during that slice. Real threads on the
 * real lock; the thread's own CPU clock is the oracle: a request is
 * answered before the slice's 50 ms of the thread's CPU are spent, and the
 * thread still gets the whole slice after it.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "count/tlock.h"
#include "../check.h"

#define PIECE_NS	1000000ULL	/* the thread's work between two looks: 1 ms of CPU */

struct bg {
	struct ps_tlock *l;
	atomic_bool stop;
	atomic_bool in_slice;		/* it holds the table for a slice */
	atomic_ullong slice_cpu;	/* CPU ns it spent holding the table since the slice began */
	atomic_uint gave;		/* times it gave way */
	/* Once its slice spent this much CPU, it waits (asleep: no CPU of its
	 * slice spent) until the loop says a request waits, or 2 s: the
	 * request is seen at the same point of the slice however late the
	 * loop's look comes on a loaded machine. 0: it never waits. */
	uint64_t hold_at;
	pthread_t th;
};

static void spin_cpu(uint64_t ns)
{
	uint64_t end = ps_tlock_ns(CLOCK_THREAD_CPUTIME_ID) + ns;

	while (ps_tlock_ns(CLOCK_THREAD_CPUTIME_ID) < end)
		;
}

/* A detection run's shape: pieces of work with a look at the loop between them. */
static void *bg_main(void *arg)
{
	struct bg *b = arg;
	uint64_t slice_end, t0, held0;

	slice_end = ps_tlock_take_bg(b->l) ? ps_tlock_ns(CLOCK_THREAD_CPUTIME_ID) +
					     PS_TLOCK_SLICE_NS : 0;
	t0 = ps_tlock_ns(CLOCK_THREAD_CPUTIME_ID);
	held0 = 0;
	atomic_store(&b->in_slice, slice_end != 0);
	while (!atomic_load(&b->stop)) {
		if (b->hold_at && atomic_load(&b->slice_cpu) >= b->hold_at) {
			uint64_t until = ps_tlock_ns(CLOCK_MONOTONIC) + 2000000000ULL;
			struct timespec nap = { 0, 100000 };

			while (!atomic_load(&b->l->urgent) && ps_tlock_ns(CLOCK_MONOTONIC) < until)
				nanosleep(&nap, NULL);
			b->hold_at = 0;
			t0 = ps_tlock_ns(CLOCK_THREAD_CPUTIME_ID);
		}
		spin_cpu(PIECE_NS);
		atomic_store(&b->slice_cpu, held0 + ps_tlock_ns(CLOCK_THREAD_CPUTIME_ID) - t0);
		held0 = atomic_load(&b->slice_cpu);
		if (ps_tlock_yield_bg(b->l, &slice_end))
			atomic_fetch_add(&b->gave, 1);
		t0 = ps_tlock_ns(CLOCK_THREAD_CPUTIME_ID);
	}
	ps_tlock_give(b->l);
	return NULL;
}

struct req {
	struct bg *b;
	uint64_t after_ns;	/* a request comes once the slice spent this much CPU */
	int served;
	uint64_t served_at;	/* the thread's slice CPU when it was answered */
	bool held;		/* the table was the loop's while it answered */
};

static bool req_waiting(void *ctx)
{
	struct req *r = ctx;

	return r->after_ns && !r->served && atomic_load(&r->b->slice_cpu) >= r->after_ns;
}

static void req_serve(void *ctx)
{
	struct req *r = ctx;

	r->served++;
	r->served_at = atomic_load(&r->b->slice_cpu);
	/* The thread is parked outside the table: trylock fails, the loop holds it. */
	r->held = pthread_mutex_trylock(&r->b->l->mu) != 0;
	if (!r->held)
		pthread_mutex_unlock(&r->b->l->mu);
}

/*
 * The loop holds the table while the thread waits for it, until the thread
 * has waited PS_TLOCK_STARVE_NS; then a tick: ps_tlock_take_fair.
 */
static void starve_then_tick(struct ck *ck, uint64_t req_after_ns)
{
	struct ps_tlock l;
	struct bg b;
	struct req r = { .b = &b, .after_ns = req_after_ns };
	uint64_t slice_ns = 0, req_ns = 0, since;
	bool waits = false;

	memset(&b, 0, sizeof(b));
	b.l = &l;
	b.hold_at = req_after_ns;
	ps_tlock_init(&l);
	ps_tlock_take(&l);
	/* The loop asks for the table as it does when woken: the thread waits. */
	atomic_fetch_add(&l.want, 1);
	if (pthread_create(&b.th, NULL, bg_main, &b)) {
		ck_fail(ck, "pthread_create");
		return;
	}
	/* Until the thread has waited PS_TLOCK_STARVE_NS for the table. */
	for (;;) {
		pthread_mutex_lock(&l.wmu);
		waits = l.bg_waits;
		since = l.bg_since;
		pthread_mutex_unlock(&l.wmu);
		if (waits && ps_tlock_ns(CLOCK_MONOTONIC) - since >= PS_TLOCK_STARVE_NS)
			break;
		sched_yield();
	}
	atomic_fetch_sub(&l.want, 1);
	ps_tlock_give(&l);
	ps_tlock_take_fair(&l, req_waiting, req_serve, &r, &slice_ns, &req_ns);
	/* The loop holds the table: the slice is over. */
	if (!atomic_load(&b.in_slice))
		ck_fail(ck, "the thread was not let in for a slice");
	else if (!slice_ns)
		ck_fail(ck, "no slice reported");
	else if (atomic_load(&b.slice_cpu) < PS_TLOCK_SLICE_NS - PIECE_NS / 10)
		ck_fail(ck, "the tick took the table after %.1f ms of the thread's CPU, not its slice's %.1f",
			atomic_load(&b.slice_cpu) / 1e6, PS_TLOCK_SLICE_NS / 1e6);
	else if (atomic_load(&b.slice_cpu) > PS_TLOCK_SLICE_NS + 2 * PIECE_NS)
		ck_fail(ck, "the slice ran %.1f ms of the thread's CPU, over %.1f and a piece",
			atomic_load(&b.slice_cpu) / 1e6, PS_TLOCK_SLICE_NS / 1e6);
	else if (!req_after_ns && (r.served || req_ns))
		ck_fail(ck, "a request answered where none came");
	else if (req_after_ns && r.served != 1)
		ck_fail(ck, "the request answered %d times during the slice", r.served);
	else if (req_after_ns && !r.held)
		ck_fail(ck, "the request answered without the table");
	else if (req_after_ns && r.served_at > req_after_ns + 2 * PIECE_NS)
		/* Seen at the loop's look, answered at the thread's next look:
		 * a piece of its work (the one going), not its slice. */
		ck_fail(ck, "the request, come after %.1f ms of the slice, answered after %.1f ms of it",
			req_after_ns / 1e6, r.served_at / 1e6);
	else if (atomic_load(&b.gave) != (req_after_ns ? 1u : 0u))
		/* (the give at the slice's end returns when the loop gives the table back) */
		ck_fail(ck, "the thread came back %u times, not %d", atomic_load(&b.gave),
			req_after_ns ? 1 : 0);
	atomic_store(&b.stop, true);
	ps_tlock_give(&l);
	pthread_join(b.th, NULL);
}

int main(void)
{
	struct ck ck;

	ck_init(&ck, "slice_whole_without_requests");
	starve_then_tick(&ck, 0);
	ck_end(&ck);

	ck_init(&ck, "slice_cut_by_a_request_then_resumed");
	starve_then_tick(&ck, 5 * PIECE_NS);
	ck_end(&ck);

	ck_init(&ck, "slice_cut_by_a_request_early");
	starve_then_tick(&ck, PIECE_NS);
	ck_end(&ck);
	return nfailed ? 1 : 0;
}
