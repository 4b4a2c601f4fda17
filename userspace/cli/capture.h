/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef PS_CAPTURE_H
#define PS_CAPTURE_H

#include "common/datapath.h"

/* Exit statuses of the CLI. */
#define PS_EXIT_OK	0
#define PS_EXIT_FAIL	1	/* the system failed us (BPF load, memory) */
#define PS_EXIT_INPUT	2	/* bad input: usage, config, capture */

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
