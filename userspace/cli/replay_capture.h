/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The captures of penstock replay, packet by packet through the datapath's
 * programs (BPF_PROG_TEST_RUN) on the capture's clock, with a callback at
 * the end of each second of capture time for the tick.
 */
#ifndef PS_REPLAY_CAPTURE_H
#define PS_REPLAY_CAPTURE_H

#include <stdio.h>

#include "common/datapath.h"

enum ps_replay_prog {
	PS_REPLAY_INGRESS,	/* to an endpoint port, and whatever is not from one */
	PS_REPLAY_EGRESS,	/* from an endpoint port (as on the server) */
};

struct ps_replay {
	struct ps_datapath *dp;
	unsigned char endpoint_port[65536 / 8];	/* bitmap of endpoint ports */
	unsigned long long packets;		/* packets read */
	/*
	 * Runs one frame (len bytes, Ethernet, at most PS_TEST_RUN_MAX)
	 * through a program at ts_ns, the capture's time (Unix ns): 0 or a
	 * negative errno. piece: the frame is a piece of a longer packet
	 * (NULL: a whole one). ps_replay_init() sets the datapath's, by
	 * BPF_PROG_TEST_RUN.
	 */
	int (*run)(struct ps_replay *r, enum ps_replay_prog prog, const unsigned char *frame,
		   unsigned int len, uint64_t ts_ns, const struct ps_piece *piece);
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
/*
 * Run every packet of a capture file (pcap or pcapng) through r->run.
 * Returns 0, or -EINVAL for bad input (message printed, naming the file
 * and packet), or another negative errno.
 */
int ps_replay_file(struct ps_replay *r, const char *path);
/* The same for a capture open as file (closed here), named name in messages. */
int ps_replay_stream(struct ps_replay *r, FILE *file, const char *name);
/* The tick after the last packet (on_second for the last second seen). */
void ps_replay_finish(struct ps_replay *r);

#endif
