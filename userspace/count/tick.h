/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's tick: read every client slot of ps_client_ctrs through
 * mmap, a chunk at a time, and fold each client's counters into the client
 * table; reclaim the slots of idle clients when the slots run short.
 */
#ifndef PS_TICK_H
#define PS_TICK_H

#include <stdint.h>

#include "count/clients.h"

struct ps_datapath;

struct ps_tick {
	int ctrs_fd;			/* ps_client_ctrs */
	int clients_fd;			/* ps_clients */
	int free_fd;			/* ps_slot_free */
	struct ps_datapath *dp;
	uint32_t max;			/* slots */
	uint32_t *slot_rec;		/* record index + 1 of each slot, 0: unknown */
	uint16_t *slot_gen;		/* the slot's gen when slot_rec was set, mod 2^16
					 * (a slot is reassigned only once freed, which
					 * clears its slot_rec) */
	uint32_t *pending;		/* slots unlinked at the last tick, freed at this */
	uint32_t npending;
	uint32_t next;			/* slots handed out at the last tick */
	uint32_t idle_s;		/* reclaim clients idle this long ... */
	uint32_t reclaim_pct;		/* ... once this share of slots is handed out */
	uint64_t reclaimed;		/* slots reclaimed since start */
	/*
	 * Whether a tick finds at most a budget of clients it had not found
	 * before (tick.c), leaving the others to the next ticks (the
	 * table's unfolded); false: every one (a replay, the daemon's last
	 * tick before it saves its state).
	 */
	bool bounded;
	uint32_t found;			/* clients found at the last tick */
	uint64_t find_ns;		/* the time their finds took (monotonic clock) */
	uint64_t known_ns;		/* CPU time of a known client's fold, ns (measured) */
	uint32_t found_max;		/* the most in one tick */
	uint64_t behind_ticks;		/* ticks that left clients unfolded */
	uint32_t catch_pos;		/* the slot ps_tick_catch_up goes on from */
	uint64_t caught_up;		/* clients it found, since start */
	uint64_t catch_ns;		/* CPU time it took, since start */
	uint64_t count;			/* ticks run */
	uint64_t last_ns, sum_ns, max_ns;	/* CPU time per tick */
	/*
	 * 0: the tick reads the wall and boot clocks. Else the time of the
	 * next tick in Unix ns, which is also the programs' clock (replay:
	 * the capture's clock).
	 */
	uint64_t clock_ns;
};

int ps_tick_init(struct ps_tick *tk, struct ps_datapath *dp);
void ps_tick_free(struct ps_tick *tk);
/* One pass. Returns the clients in slots, or -errno. */
int ps_tick_run(struct ps_tick *tk, struct ps_ctable *t);
/*
 * Between ticks: find and fold up to max_finds of the clients the last
 * tick left (t->unfolded), from where the last call stopped, as a tick
 * would at that moment (their counts land in the windows of now). Returns
 * the clients still left, or -errno.
 */
int ps_tick_catch_up(struct ps_tick *tk, struct ps_ctable *t, uint32_t max_finds);

#endif
