// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/log.h"
#include "count/flows.h"
#include "penstock.skel.h"

#define FLOW_BATCH	1024

/* One fewer open connection in a slot still of that gen (through mmap: atomic). */
static void slot_dec_open(int cfd, uint32_t slot, uint32_t gen)
{
	size_t off = (size_t)slot * sizeof(struct ps_client_ctr) % sysconf(_SC_PAGESIZE), len;
	struct ps_client_ctr ctr, *m;
	char *p;

	if (bpf_map_lookup_elem(cfd, &slot, &ctr) || ctr.gen != gen)
		return;
	/* The page(s) that hold the slot: the mapping starts at its page. */
	p = ps_ctrs_map(cfd, slot, 1, &len);
	if (!p)
		return;
	m = (struct ps_client_ctr *)(p + off);
	if (__atomic_load_n(&m->open_connections, __ATOMIC_RELAXED))
		__atomic_fetch_sub(&m->open_connections, 1, __ATOMIC_RELAXED);
	munmap(p, len);
}

/* One table's walk: see ps_flows_expire(). */
static uint32_t expire_map(struct ps_datapath *dp, int ffd, uint64_t cutoff,
			   uint64_t closed_cutoff, uint32_t *left, void (*yield)(void *ctx),
			   void *ctx)
{
	int cfd = bpf_map__fd(dp->skel->maps.ps_client_ctrs);
	int hfd = bpf_map__fd(dp->skel->maps.ps_h2);
	int rfd = bpf_map__fd(dp->skel->maps.ps_h2r);
	static struct ps_flow_key keys[FLOW_BATCH];
	static struct ps_flow vals[FLOW_BATCH];
	uint32_t expired = 0, seen = 0, batch, count, i;
	void *in = NULL;
	int err;

	/* Batches of flows: one system call per FLOW_BATCH, not two per flow. */
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		bool done;

		count = FLOW_BATCH;
		err = bpf_map_lookup_batch(ffd, in, &batch, keys, vals, &count, &opts);
		if (err < 0 && errno != ENOENT)
			break;
		done = err < 0;
		seen += count;
		for (i = 0; i < count; i++) {
			if (vals[i].last_seen_ns >= cutoff &&
			    (vals[i].dir[PS_DIR_RX].open || vals[i].last_seen_ns >= closed_cutoff))
				continue;
			if (bpf_map_delete_elem(ffd, &keys[i]))
				continue;	/* gone meanwhile */
			expired++;
			/* An HTTP/2 connection's HPACK table goes with it (one
			 * whose parsing ended may have had one). */
			if ((vals[i].http.state >= PS_H2_PREFACE &&
			     vals[i].http.state <= PS_H2_BLOCK) ||
			    vals[i].http.state == PS_H2_GDATA ||
			    vals[i].http.state == PS_H1_DEAD || vals[i].http.state == PS_H1_REFILL)
				bpf_map_delete_elem(hfd, &keys[i]);
			/* ... and the following of its server's frames
			 * (whose responses are then no HTTP/1 ones). */
			if (vals[i].resp.state == PS_R_DEAD)
				bpf_map_delete_elem(rfd, &keys[i]);
			if (vals[i].dir[PS_DIR_RX].open && vals[i].client_gen)
				slot_dec_open(cfd, vals[i].client_slot, vals[i].client_gen);
		}
		if (done)
			break;
		in = &batch;
		if (yield)
			yield(ctx);
	}
	*left = seen - expired;
	return expired;
}

uint32_t ps_flows_expire(struct ps_datapath *dp, uint64_t cutoff, uint32_t *left,
			 uint32_t *left_est, void (*yield)(void *ctx), void *ctx)
{
	const uint64_t d = (uint64_t)(PS_FLOW_IDLE_S - PS_FLOW_CLOSED_S) * 1000000000ULL;
	uint64_t closed = cutoff > UINT64_MAX - d ? UINT64_MAX : cutoff + d;
	uint32_t expired, l1, l2;

	/* ps_flows gives up its least recently used entry when full: only
	 * idle flows are taken there; ps_flows_est's closed ones leave too. */
	expired = expire_map(dp, bpf_map__fd(dp->skel->maps.ps_flows), cutoff, cutoff, &l1,
			     yield, ctx);
	expired += expire_map(dp, bpf_map__fd(dp->skel->maps.ps_flows_est), cutoff, closed, &l2,
			      yield, ctx);
	if (left)
		*left = l1;
	if (left_est)
		*left_est = l2;
	if (expired)
		pr_debug("penstockd: %u idle flows expired\n", expired);
	return expired;
}

/* Does the flow still hold a range that seq lies in? */
static bool flow_holds(const struct ps_flow *f, uint32_t seq)
{
	const struct ps_seq *d = &f->dir[PS_DIR_RX];
	unsigned int i;

	for (i = 0; i < d->nranges && i < PS_OOO_RANGES; i++)
		if ((int32_t)(seq - d->ranges[i].start) >= 0 &&
		    (int32_t)(seq - d->ranges[i].end) < 0)
			return true;
	return false;
}

uint32_t ps_ooo_collect(struct ps_datapath *dp, uint64_t now_s)
{
	int ofd = bpf_map__fd(dp->skel->maps.ps_ooo);
	int ffd = bpf_map__fd(dp->skel->maps.ps_flows);
	int efd = bpf_map__fd(dp->skel->maps.ps_flows_est);
	struct ps_ooo_key key, next;
	static struct ps_ooo_seg seg;
	struct ps_flow f;
	uint32_t gone = 0;
	bool more;

	/* Key by key: the values are 2 KB each, and the stash is small. The
	 * next key is taken before this one may be deleted (a deleted key
	 * would start the walk again from the first). */
	more = !bpf_map_get_next_key(ofd, NULL, &key);
	while (more) {
		more = !bpf_map_get_next_key(ofd, &key, &next);
		if (!bpf_map_lookup_elem(ofd, &key, &seg) &&
		    seg.stashed_s + PS_OOO_GRACE_S <= now_s &&
		    ((bpf_map_lookup_elem(efd, &key.flow, &f) &&
		      bpf_map_lookup_elem(ffd, &key.flow, &f)) || !flow_holds(&f, key.seq)) &&
		    !bpf_map_delete_elem(ofd, &key))
			gone++;
		key = next;
	}
	/* The pieces are client bytes (API keys among them): none stays here. */
	explicit_bzero(&seg, sizeof(seg));
	if (gone)
		pr_debug("penstockd: %u stale out-of-order pieces collected\n", gone);
	return gone;
}
