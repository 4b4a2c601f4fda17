/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Capabilities (libcap): what a thread keeps of root's privileges, and
 * what it holds now. penstockd keeps, once its programs are loaded and
 * attached and its sockets and files open, only what its loop needs
 * (daemon/setup.c says which and why); the alert sender's thread keeps
 * nothing. Capabilities belong to a thread, not to the process: each
 * thread limits its own, and a thread started later inherits its
 * creator's.
 */
#ifndef PS_CAPS_H
#define PS_CAPS_H

#include <stddef.h>
#include <sys/capability.h>

/*
 * Keep keep[0..n) (those of them the thread has) in the calling thread's
 * permitted and effective sets, and nothing else: the inheritable and
 * ambient sets emptied, the bounding set cut to keep[] (when the thread
 * may: CAP_SETPCAP), and no_new_privs set, so that no execve() gives any
 * back. 0, or -errno with what failed in err.
 */
int ps_caps_limit(const cap_value_t *keep, int n, char *err, size_t errlen);

/*
 * Run op with the calling thread's effective set cut to eff[0..n) (those
 * of them it has), then put the effective set back: what op needs, found
 * by trying. Returns what op returns, or -errno when the capabilities
 * cannot be set.
 */
int ps_caps_try(const cap_value_t *eff, int n, int (*op)(void *ctx), void *ctx);

/* The calling thread's effective capabilities, "cap_bpf,cap_net_admin" ("" for none). */
const char *ps_caps_effective(char *buf, size_t len);

#endif
