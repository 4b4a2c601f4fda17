// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: penstock replay's capture input. The input is a
 * capture file (pcap or pcapng), read by ps_replay_stream() as
 * ps_replay_file() reads a file: libpcap's reader, the link types
 * replay takes, each packet made an Ethernet frame (make_frame) and sent
 * to the ingress or the egress program by its ports (frame_ports) on the
 * capture's clock, with the tick called at each new second.
 *
 * The programs themselves are not run: BPF_PROG_TEST_RUN needs root and a
 * loaded datapath (tests/datapath/test_fuzz puts random and mutated
 * frames through them). Here r.run receives each frame instead, and an
 * input fails the target, besides what the sanitizers catch, when a frame
 * is shorter than an Ethernet header or longer than a test run takes, or
 * the capture's clock goes to the tick out of order.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/replay_capture.h"
#include "common/config.h"

#define FRAME_MIN	14	/* an Ethernet header */
#define FRAME_MAX	3584	/* replay_capture.c: what BPF_PROG_TEST_RUN takes */

static struct {
	uint64_t last_tick;
	unsigned long long frames, sum;
	const char *bad;
} seen;

static int sink(struct ps_replay *r, enum ps_replay_prog prog, const unsigned char *frame,
		unsigned int len, uint64_t ts_ns, const struct ps_piece *piece)
{
	unsigned int i;

	(void)r;
	(void)ts_ns;
	if (piece && (piece->packets > 1 || (!piece->packets && piece->ip_bytes)))
		seen.bad = "a piece that stands for more than its packet";
	if (len < FRAME_MIN || len > FRAME_MAX)
		seen.bad = "a frame shorter than Ethernet or longer than a test run";
	if (prog != PS_REPLAY_INGRESS && prog != PS_REPLAY_EGRESS)
		seen.bad = "a frame for no program";
	/* Every byte read, so that ASan sees any read past the frame. */
	for (i = 0; i < len; i++)
		seen.sum += frame[i];
	seen.frames++;
	return 0;
}

static void on_second(void *ctx, uint64_t end_ns)
{
	(void)ctx;
	if (end_ns < seen.last_tick)
		seen.bad = "the tick's clock went back";
	seen.last_tick = end_ns;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ps_config cfg;
	static struct ps_replay r;
	static int inited;
	FILE *file;
	int fd;

	if (!inited) {
		/* The endpoint ports of tests/datapath/cases.py's captures. */
		ps_config_init(&cfg);
		ps_config_add_port(&cfg, 8000);
		ps_config_add_port(&cfg, 80);
		inited = 1;
	}
	ps_replay_init(&r, NULL, &cfg);
	r.run = sink;
	r.on_second = on_second;
	memset(&seen, 0, sizeof(seen));

	/* A file as replay reads one (fmemopen takes no empty buffer). */
	fd = memfd_create("capture", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) ||
	    lseek(fd, 0, SEEK_SET) || !(file = fdopen(fd, "rb")))
		abort();
	ps_replay_stream(&r, file, "fuzz.pcap");
	ps_replay_finish(&r);
	if (seen.bad || seen.frames > r.packets) {
		printf("fuzz_capture: %s\n", seen.bad ? seen.bad : "more frames than packets");
		fflush(stdout);
		abort();
	}
	return 0;
}
