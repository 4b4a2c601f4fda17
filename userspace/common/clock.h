/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The clocks penstock reads: the wall clock (Unix time, for people, files
 * and the windows), the monotonic clock (timeouts), a thread's CPU time
 * (what a pass costs), and the kernel's boot clock, which is the BPF
 * programs' (bpf_ktime_get_boot_ns) and expiry times' clock.
 */
#ifndef PS_CLOCK_H
#define PS_CLOCK_H

#include <stdint.h>

uint64_t ps_wall_ms(void);	/* Unix ms */
uint64_t ps_mono_ms(void);	/* CLOCK_MONOTONIC, ms */
uint64_t ps_cpu_ns(void);	/* this thread's CPU time, ns */

/* Unix time and the offset from the kernel's boot clock to it, in ns. */
void ps_clock(uint64_t *wall_ns, int64_t *boot_to_wall);

/* The programs' clock (boot time) now, ns; boot_to_wall if not NULL. */
uint64_t ps_boot_now(int64_t *boot_to_wall);

#endif
