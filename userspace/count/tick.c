// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reclaiming a slot takes two ticks, so that no program can still be
 * counting into it when it is handed to another client: at the first the
 * client is unlinked from ps_clients (new packets then find no slot and get
 * a new one); at the next, a second later, the slot's final counters are
 * folded in, and it is zeroed and pushed to ps_slot_free. A slot a killed
 * daemon left between the two is finished by the next daemon's first tick.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/datapath.h"
#include "common/clock.h"
#include "common/log.h"
#include "count/tick.h"
#include "penstock.skel.h"

/*
 * Slots mapped at a time: 0.9 MiB. The pages of the window count in
 * penstockd's resident memory while it is mapped (a detection pass or a
 * control request run inside the tick finds it there, the peak with
 * them): 14 MiB at 65536, 1.75 MiB at 8192. A million slots are 245
 * mappings a tick, about 1 ms of CPU more than 122.
 */
#define TICK_CHUNK	4096
_Static_assert(TICK_CHUNK * sizeof(struct ps_client_ctr) % 4096 == 0,
	       "a window starts at a page: ps_ctrs_map rounds down to one");
/* Slots unlinked per tick at most. */
#define RECLAIM_MAX	65536
/*
 * The work of a tick is bounded: a slot whose client the tick has not
 * found yet (a new client, or every client at a daemon's first tick) costs
 * a record made or looked up by its key (cache misses in the hash and the
 * records, new pages), 0.5 to 0.7 us at a million clients, five to seven
 * times the fold of a known one. A tick finds such clients while their
 * finds (timed on the monotonic clock: a find preempted counts whole) and
 * the known clients' folds (a fold's CPU time at the last tick times the
 * clients known now) stay under TICK_TARGET_NS, at least TICK_NEW_MIN of
 * them (the table grows whatever the load) and at most TICK_NEW_MAX. The
 * others are left (the table's unfolded), and penstockd finds them between
 * its events (ps_tick_catch_up, a piece at a time), or the next ticks do.
 * Nothing is lost: the counters are cumulative, so a client found later
 * has all it counted, and it lands in the windows of the moment it is
 * found (the tick's or the catch-up's second: at most that much after the
 * packets), as every client's first counts land in the windows of the
 * tick that first finds it.
 */
#define TICK_TARGET_NS		(120ULL * 1000000)
#define TICK_NEW_MIN		4096
#define TICK_NEW_MAX		65536
/* How far ahead of the scan a client not found yet has its hash bucket
 * and its chain's first record fetched into the cache. */
#define TICK_PREFETCH		8

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int ps_tick_init(struct ps_tick *tk, struct ps_datapath *dp)
{
	memset(tk, 0, sizeof(*tk));
	tk->dp = dp;
	tk->ctrs_fd = bpf_map__fd(dp->skel->maps.ps_client_ctrs);
	tk->clients_fd = bpf_map__fd(dp->skel->maps.ps_clients);
	tk->free_fd = bpf_map__fd(dp->skel->maps.ps_slot_free);
	tk->max = bpf_map__max_entries(dp->skel->maps.ps_client_ctrs);
	tk->idle_s = 600;
	tk->reclaim_pct = 90;
	tk->bounded = true;
	/* Zero pages until touched: memory follows the slots in use. */
	tk->slot_rec = calloc(tk->max, sizeof(*tk->slot_rec));
	tk->slot_gen = calloc(tk->max, sizeof(*tk->slot_gen));
	tk->pending = calloc(RECLAIM_MAX, sizeof(*tk->pending));
	if (!tk->slot_rec || !tk->slot_gen || !tk->pending) {
		ps_tick_free(tk);
		return -ENOMEM;
	}
	return 0;
}

void ps_tick_free(struct ps_tick *tk)
{
	free(tk->slot_rec);
	free(tk->slot_gen);
	free(tk->pending);
	tk->slot_rec = tk->pending = NULL;
	tk->slot_gen = NULL;
}

/*
 * Fold one slot into its client's record: 1, 0 for a free slot, 2 for a
 * client the tick has not found yet and may not look for (!may_find), or
 * -ENOMEM.
 */
static int fold_slot(struct ps_tick *tk, struct ps_ctable *t, uint32_t s,
		     const volatile struct ps_client_ctr *ctr, uint32_t now, int64_t b2w,
		     bool may_find)
{
	struct ps_client_key key = {};
	struct ps_counters c;
	struct ps_tokens tok;
	uint32_t gen;
	struct ps_crec *r;

	key.family = ctr->key.family;
	if (!key.family)
		return 0;	/* free, or being handed out right now */
	asm volatile("" ::: "memory");
	gen = ctr->gen;
	memcpy(&c, (const void *)&ctr->c, sizeof(c));
	ps_tokens_of(ctr, &tok);
	if (tk->slot_rec[s] && tk->slot_gen[s] == (uint16_t)gen) {
		r = &t->rec[tk->slot_rec[s] - 1];
	} else {
		uint64_t t0;
		int err;

		if (!may_find)
			return 2;	/* the tick's budget is spent: at a later tick */
		t0 = mono_ns();
		memcpy(&key.addr, (const void *)&ctr->key.addr, sizeof(key.addr));
		r = ps_ctable_get(t, &key, now);
		if (!r)
			return -ENOMEM;
		tk->slot_rec[s] = r - t->rec + 1;
		tk->slot_gen[s] = (uint16_t)gen;
		tk->found++;
		err = ps_ctable_fold(t, r, &c, &tok, now, b2w);
		tk->find_ns += mono_ns() - t0;
		return err ? -ENOMEM : 1;
	}
	return ps_ctable_fold(t, r, &c, &tok, now, b2w) ? -ENOMEM : 1;
}

/*
 * The cache lines a find of slot s's client will read, fetched ahead:
 * its hash bucket (deep: the bucket's line), or the first record of the
 * bucket's chain (once the bucket is in the cache).
 */
static inline void prefetch_find(const struct ps_tick *tk, const struct ps_ctable *t, uint32_t s,
				 const volatile struct ps_client_ctr *ctr, bool deep)
{
	struct ps_client_key key = {};
	uint32_t h, b;

	/* (a known slot's gen is not read: the counters ahead stay unread) */
	if (tk->slot_rec[s])
		return;
	key.family = ctr->key.family;
	if (!key.family || !t->nbuckets)
		return;
	memcpy(&key.addr, (const void *)&ctr->key.addr, sizeof(key.addr));
	h = ps_ctable_hash(&key) & (t->nbuckets - 1);
	if (deep) {
		__builtin_prefetch(&t->bucket[h]);
		return;
	}
	b = t->bucket[h];
	if (b)
		__builtin_prefetch(&t->rec[b - 1]);
}

/*
 * Unlink a client from ps_clients if it still points at slot s. The slot
 * is marked retired first, so that flows stop using the slot they cached.
 */
static bool unlink_slot(struct ps_tick *tk, uint32_t s, struct ps_client_ctr *ctr)
{
	struct ps_client_key key = {};
	struct ps_client_slot v;

	key.family = ctr->key.family;
	key.addr = ctr->key.addr;
	if (bpf_map_lookup_elem(tk->clients_fd, &key, &v) || v.slot != s || v.gen != ctr->gen)
		return false;
	__atomic_store_n(&ctr->retired, 1, __ATOMIC_RELEASE);
	if (bpf_map_delete_elem(tk->clients_fd, &key)) {
		__atomic_store_n(&ctr->retired, 0, __ATOMIC_RELEASE);
		return false;
	}
	return true;
}

/*
 * At a daemon's first tick, a slot marked retired is one a daemon that was
 * killed had begun to reclaim and not freed: finish it (unlink the client
 * if that was not done), and free it at the next tick as if unlinked now,
 * or the slot would be lost to every client from then on.
 */
static void finish_reclaim(struct ps_tick *tk, uint32_t s, struct ps_client_ctr *ctr)
{
	struct ps_client_key key = {};
	struct ps_client_slot v;

	if (tk->npending >= RECLAIM_MAX)
		return;
	key.family = ctr->key.family;
	key.addr = ctr->key.addr;
	if (!bpf_map_lookup_elem(tk->clients_fd, &key, &v) && v.slot == s && v.gen == ctr->gen &&
	    bpf_map_delete_elem(tk->clients_fd, &key))
		return;	/* still the client's: not ours to free */
	tk->pending[tk->npending++] = s;
	pr_debug("penstockd: client slot %u unlinked (reclaim of a previous daemon)\n", s);
}

/*
 * Free the slots unlinked at the last tick, before the scan: a client that
 * came back meanwhile has a new slot, and its record must take the old
 * slot's last counts before it meets the new one.
 */
static int free_pending(struct ps_tick *tk, struct ps_ctable *t, uint32_t now, int64_t b2w)
{
	uint32_t i;

	for (i = 0; i < tk->npending; i++) {
		uint32_t s = tk->pending[i];
		struct ps_client_ctr ctr;
		struct ps_crec *r;
		uint32_t gen;

		/* The tick reads no configuration: a reload does not stop it. */
		(void)ps_ctable_yield_at(t, i);
		if (bpf_map_lookup_elem(tk->ctrs_fd, &s, &ctr))
			continue;
		if (ctr.key.family) {
			struct ps_tokens tok;

			memset(ctr.key.pad, 0, sizeof(ctr.key.pad));
			ps_tokens_of(&ctr, &tok);
			r = ps_ctable_get(t, &ctr.key, now);
			if (!r || ps_ctable_fold(t, r, &ctr.c, &tok, now, b2w))
				return -ENOMEM;
		}
		gen = ctr.gen;
		memset(&ctr, 0, sizeof(ctr));
		ctr.gen = gen;
		tk->slot_rec[s] = 0;
		if (bpf_map_update_elem(tk->ctrs_fd, &s, &ctr, BPF_ANY) ||
		    bpf_map_update_elem(tk->free_fd, NULL, &s, BPF_ANY)) {
			pr_warn("penstockd: freeing client slot %u: %s\n", s, strerror(errno));
			continue;
		}
		tk->reclaimed++;
		pr_debug("penstockd: client slot %u freed\n", s);
	}
	tk->npending = 0;
	return 0;
}

int ps_tick_run(struct ps_tick *tk, struct ps_ctable *t)
{
	uint64_t cpu0 = ps_cpu_ns(), yield0 = t->yield_ns, wall_ns, boot_now;
	uint32_t first, i, now, next, in_use = 0, want = 0, target, was_in_use, unfolded = 0;
	uint64_t find_budget;
	uint32_t known;
	bool may_find = true;
	int64_t b2w;
	int err = 0;

	if (tk->clock_ns) {
		wall_ns = tk->clock_ns;
		b2w = 0;
	} else {
		ps_clock(&wall_ns, &b2w);
	}
	now = wall_ns / 1000000000ULL;
	boot_now = wall_ns - b2w;
	t->gen++;
	err = ps_dp_slots_used(tk->dp, &next);
	if (err) {
		pr_warn("penstockd: reading ps_slot_state: %s\n", strerror(-err));
		return err;
	}
	was_in_use = t->in_map - (tk->npending < t->in_map ? tk->npending : t->in_map);
	t->folding = true;
	err = free_pending(tk, t, now, b2w);
	if (err) {
		t->folding = false;
		return err;
	}
	/* Once reclaim_pct of the slots have been handed out, keep the
	 * clients in slots down to a tenth of all slots below that. */
	target = (uint64_t)tk->max * (tk->reclaim_pct - 10) / 100;
	if ((uint64_t)next * 100 >= (uint64_t)tk->max * tk->reclaim_pct && was_in_use > target)
		want = was_in_use - target;
	if (want > RECLAIM_MAX)
		want = RECLAIM_MAX;
	tk->found = 0;
	tk->find_ns = 0;
	/* What the known clients' folds leave of the target for the finds. */
	known = t->in_map - (t->unfolded < t->in_map ? t->unfolded : t->in_map);
	find_budget = (uint64_t)known * tk->known_ns < TICK_TARGET_NS ?
			      TICK_TARGET_NS - (uint64_t)known * tk->known_ns : 0;
	for (first = 0; first < next && !err; first += TICK_CHUNK) {
		uint32_t cnt = next - first < TICK_CHUNK ? next - first : TICK_CHUNK;
		struct ps_client_ctr *m;
		size_t len;

		m = ps_ctrs_map(tk->ctrs_fd, first, cnt, &len);
		if (!m) {
			err = -errno;
			pr_warn("penstockd: mmap ps_client_ctrs: %s\n", strerror(errno));
			break;
		}
		for (i = 0; i < cnt; i++) {
			uint32_t s = first + i;
			uint64_t seen;
			int r;

			(void)ps_ctable_yield_at(t, s);
			/* The budget for clients not found yet. */
			if (may_find && tk->bounded)
				may_find = tk->found < TICK_NEW_MAX &&
					   (tk->found < TICK_NEW_MIN || tk->find_ns < find_budget);
			if (may_find && i + 2 * TICK_PREFETCH < cnt)
				prefetch_find(tk, t, s + 2 * TICK_PREFETCH,
					      &m[i + 2 * TICK_PREFETCH], true);
			if (may_find && i + TICK_PREFETCH < cnt)
				prefetch_find(tk, t, s + TICK_PREFETCH, &m[i + TICK_PREFETCH], false);
			r = fold_slot(tk, t, s, &m[i], now, b2w, may_find);
			if (r < 0) {
				err = r;
				break;
			}
			if (!r)
				continue;
			in_use++;
			if (!tk->count && m[i].retired) {
				finish_reclaim(tk, s, &m[i]);
				continue;
			}
			if (r == 2) {
				unfolded++;
				continue;
			}
			seen = m[i].c.last_seen_ns ? m[i].c.last_seen_ns : m[i].c.first_seen_ns;
			if (tk->npending < want && boot_now >= seen &&
			    boot_now - seen >= (uint64_t)tk->idle_s * 1000000000ULL &&
			    unlink_slot(tk, s, &m[i])) {
				tk->pending[tk->npending++] = s;
				pr_debug("penstockd: client slot %u unlinked (idle %llu ms; %u in use, "
					 "%u wanted)\n", s,
					 (unsigned long long)(boot_now - seen) / 1000000, was_in_use,
					 want);
			}
		}
		munmap(m, len);
	}
	tk->next = next;
	t->in_map = in_use;
	if (!err)
		t->unfolded = unfolded;
	tk->catch_pos = 0;	/* the catch-up starts over on what this tick left */
	if (tk->found > tk->found_max)
		tk->found_max = tk->found;
	if (unfolded)
		tk->behind_ticks++;
	t->folding = false;
	tk->last_ns = ps_cpu_ns() - cpu0 - (t->yield_ns - yield0);
	tk->sum_ns += tk->last_ns;
	if (tk->last_ns > tk->max_ns)
		tk->max_ns = tk->last_ns;
	/* A known client's fold, for the next tick's budget: the tick's CPU
	 * but its finds', over the clients it folded but found. */
	if (!err && in_use - unfolded - tk->found >= 16384) {
		uint64_t rest = tk->last_ns > tk->find_ns ? tk->last_ns - tk->find_ns : 0;
		uint64_t per = rest / (in_use - unfolded - tk->found);

		tk->known_ns = tk->known_ns ? (tk->known_ns + per) / 2 : per;
	}
	tk->count++;
	return err ? err : (int)in_use;
}

int ps_tick_catch_up(struct ps_tick *tk, struct ps_ctable *t, uint32_t max_finds)
{
	uint64_t cpu0 = ps_cpu_ns(), yield0 = t->yield_ns, wall_ns;
	uint32_t first, i, now, end = tk->next, left = 0, finds = 0;
	int64_t b2w;
	int err = 0;

	if (!t->unfolded)
		return 0;
	ps_clock(&wall_ns, &b2w);
	now = wall_ns / 1000000000ULL;
	if (tk->catch_pos >= end)
		tk->catch_pos = 0;
	for (first = tk->catch_pos / TICK_CHUNK * TICK_CHUNK; first < end && !err &&
							      finds < max_finds;
	     first += TICK_CHUNK) {
		uint32_t cnt = end - first < TICK_CHUNK ? end - first : TICK_CHUNK;
		struct ps_client_ctr *m;
		size_t len;

		m = ps_ctrs_map(tk->ctrs_fd, first, cnt, &len);
		if (!m) {
			err = -errno;
			break;
		}
		for (i = tk->catch_pos - first; i < cnt && finds < max_finds; i++) {
			uint32_t s = first + i;
			int r;

			(void)ps_ctable_yield_at(t, s);
			if (i + 2 * TICK_PREFETCH < cnt)
				prefetch_find(tk, t, s + 2 * TICK_PREFETCH,
					      &m[i + 2 * TICK_PREFETCH], true);
			if (i + TICK_PREFETCH < cnt)
				prefetch_find(tk, t, s + TICK_PREFETCH, &m[i + TICK_PREFETCH], false);
			if (!m[i].key.family || (tk->slot_rec[s] && tk->slot_gen[s] == (uint16_t)m[i].gen))
				continue;	/* free, or its client known */
			r = fold_slot(tk, t, s, &m[i], now, b2w, true);
			if (r < 0) {
				err = r;
				break;
			}
			finds += r == 1;
		}
		tk->catch_pos = first + i;
		munmap(m, len);
	}
	if (!err && tk->catch_pos >= end) {
		/* The whole scan behind: what is left is what failed (none). */
		tk->catch_pos = 0;
		left = 0;
	} else {
		left = t->unfolded > finds ? t->unfolded - finds : 0;
	}
	t->unfolded = left;
	tk->caught_up += finds;
	tk->catch_ns += ps_cpu_ns() - cpu0 - (t->yield_ns - yield0);
	return err ? err : (int)left;
}
