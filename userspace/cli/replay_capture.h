/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The captures of penstock replay, packet by packet through the datapath's
 * programs (BPF_PROG_TEST_RUN) on the capture's clock, with a callback at
 * the end of each second of capture time for the tick.
 */
#ifndef PS_REPLAY_CAPTURE_H
#define PS_REPLAY_CAPTURE_H

#include "common/datapath.h"

/*
 * Run every packet of a capture file through the datapath with
 * BPF_PROG_TEST_RUN. Returns 0, or -EINVAL for bad input (message printed,
 * naming the file and packet), or another negative errno.
 */
struct ps_replay {
	struct ps_datapath *dp;
	unsigned char endpoint_port[65536 / 8];	/* bitmap of endpoint ports */
	unsigned long long packets;		/* packets read */
	/*
	 * Called before the first packet of each new second of capture
	 * time with the end of the last second seen (Unix ns): the time of
	 * a tick that folds what that second counted. NULL: no ticks.
	 */
	void (*on_second)(void *ctx, uint64_t end_ns);
	void *ctx;
	uint64_t second;			/* the last second seen + 1, 0: none */
};

void ps_replay_init(struct ps_replay *r, struct ps_datapath *dp, const struct ps_config *cfg);
int ps_replay_file(struct ps_replay *r, const char *path);
/* The tick after the last packet (on_second for the last second seen). */
void ps_replay_finish(struct ps_replay *r);

#endif
