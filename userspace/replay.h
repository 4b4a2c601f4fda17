/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef PS_REPLAY_H
#define PS_REPLAY_H

#include "loader.h"

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
};

void ps_replay_init(struct ps_replay *r, struct ps_datapath *dp, const struct ps_config *cfg);
int ps_replay_file(struct ps_replay *r, const char *path);

#endif
