// SPDX-License-Identifier: GPL-2.0-only
/*
 * common/: what penstockd and penstock share: the datapath loader
 * (datapath.c), the configuration (config.c, config_keys.c), the control
 * protocol (protocol.c), per-client reports (report.c), quantities
 * (units.c), logging, clocks (this file) and files.
 */
#include <time.h>

#include "common/clock.h"

static uint64_t ts_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t ps_wall_ms(void)
{
	return ts_ns(CLOCK_REALTIME) / 1000000;
}

uint64_t ps_mono_ms(void)
{
	return ts_ns(CLOCK_MONOTONIC) / 1000000;
}

uint64_t ps_cpu_ns(void)
{
	return ts_ns(CLOCK_THREAD_CPUTIME_ID);
}

void ps_clock(uint64_t *wall_ns, int64_t *boot_to_wall)
{
	uint64_t b1 = ts_ns(CLOCK_BOOTTIME), w = ts_ns(CLOCK_REALTIME);
	uint64_t b2 = ts_ns(CLOCK_BOOTTIME);

	*wall_ns = w;
	*boot_to_wall = (int64_t)w - (int64_t)(b1 + (b2 - b1) / 2);
}

uint64_t ps_boot_now(int64_t *boot_to_wall)
{
	uint64_t wall;
	int64_t off;

	ps_clock(&wall, &off);
	if (boot_to_wall)
		*boot_to_wall = off;
	return wall - off;
}
