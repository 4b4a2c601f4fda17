/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Includes, startup knobs and the program clock shared by every program. */
#ifndef PS_BPF_COMMON_H
#define PS_BPF_COMMON_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "penstock_abi.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/* barrier_var() (bpf_helpers.h) makes the compiler forget what it knows of
 * a variable, so a bounds check is made on the register the verifier sees
 * passed to a helper. */

#define READ_ONCE(x)	(*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))

/*
 * Set by the loader before load. In replay mode the programs run under
 * BPF_PROG_TEST_RUN on packets from a capture, and their clock is the
 * capture's: user space passes each packet's timestamp in skb->tstamp.
 * Weak because every program object of the datapath includes this header
 * and bpftool's static linker merges them into one.
 */
const volatile __u8 ps_replay __weak = 0;

/*
 * The ABI these programs were built for. No program reads it: a later
 * penstockd finds it in the .rodata of the programs attached to an
 * interface before it takes over their maps (userspace/daemon/adopt.c).
 */
const volatile __u32 ps_abi_version __weak = PS_ABI_VERSION;

/*
 * The object these programs were loaded from: a hash of its bytes, set by
 * the loader. No program reads it: a later penstockd whose .rodata equals
 * the attached programs' keeps them instead of loading its own.
 */
const volatile __u64 ps_build_id __weak = 0;

static __always_inline __u64 ps_now(const struct __sk_buff *skb)
{
	if (ps_replay)
		return skb->tstamp;
	return bpf_ktime_get_boot_ns();
}

/* Serial number arithmetic on 32-bit TCP sequence numbers (RFC 1982). */
/* Two addresses (struct ps_addr) the same, word by word. */
static __always_inline int ps_addr_eq(const struct ps_addr *a, const struct ps_addr *b)
{
	return a->a[0] == b->a[0] && a->a[1] == b->a[1] && a->a[2] == b->a[2] &&
	       a->a[3] == b->a[3];
}

static __always_inline int seq_before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

static __always_inline int seq_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

static __always_inline __u32 seq_max(__u32 a, __u32 b)
{
	return seq_after(a, b) ? a : b;
}

static __always_inline __u32 seq_min(__u32 a, __u32 b)
{
	return seq_before(a, b) ? a : b;
}

/* The low n bytes of a word (all of it for 8 or more). */
static __always_inline __u64 ps_mask(__u32 n)
{
	return n >= 8 ? ~0ULL : (1ULL << (n * 8)) - 1;
}

static __always_inline __u8 ps_lower(__u8 c)
{
	return (c >= 'A' && c <= 'Z') ? c | 0x20 : c;
}

/* Position of the lowest flagged byte in a has-byte mask (bits 7, 15, ...). */
static __always_inline __u32 ps_lowest_byte(__u64 t)
{
	__u32 b = 0;

	if (!(t & 0xffffffffULL)) {
		b += 4;
		t >>= 32;
	}
	if (!(t & 0xffffULL)) {
		b += 2;
		t >>= 16;
	}
	if (!(t & 0xffULL))
		b += 1;
	return b;
}

/* Position of the highest flagged byte in a has-byte mask (not 0). */
static __always_inline __u32 ps_highest_byte(__u64 t)
{
	__u32 b = 0;

	if (t >> 32) {
		b += 4;
		t >>= 32;
	}
	if (t >> 16) {
		b += 2;
		t >>= 16;
	}
	if (t >> 8)
		b += 1;
	return b;
}

#endif
