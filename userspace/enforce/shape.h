/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Egress shaping through HTB, with libnl-route. When the first shape entry
 * needs it, penstockd puts an HTB qdisc PS_SHAPE_MAJOR: at the root of
 * each configured interface, with a default class PS_SHAPE_DEFAULT for
 * all unshaped traffic (rate far above any link), and one class
 * PS_SHAPE_MAJOR:N per shape entry in ps_enforce, rate = ceil = rate_bps;
 * the egress program sends the entry's packets to class N through
 * skb->priority (bpf/lib/shape.h).
 *
 * The root qdisc that was there before is remembered and put back when
 * the daemon exits (unless it keeps the datapath: then the qdisc and the
 * classes stay and shaping goes on without a daemon; the next daemon
 * adopts them). The kernel's own default (handle 0: noqueue, pfifo_fast,
 * mq, fq_codel) comes back by deleting the HTB; a pfifo, bfifo,
 * pfifo_head_drop or tbf root (with no qdisc of its own under it) is made
 * again with the same handle and options; any other root qdisc (classful
 * ones, with classes and filters that could not all be put back, or kinds
 * whose options were not checked to come back intact) is left alone, and
 * that interface is not shaped.
 *
 * A shape entry is one class: on a prefix, the clients under it share the
 * rate (penstockd's control requests only shape single clients).
 */
#ifndef PS_SHAPE_H
#define PS_SHAPE_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "common/config.h"
#include "common/datapath.h"
#include "daemon/attach.h"

/*
 * The root qdisc found before penstock's HTB, to put back: its kind,
 * handle and options exactly as the kernel reported them (TCA_OPTIONS),
 * which the kernel takes back as they are for the kinds accepted here.
 */
#define PS_SHAPE_OPTS_MAX	256

struct ps_shape_prev {
	char kind[16];		/* "": the kernel's default (handle 0) */
	uint32_t handle;
	uint32_t optlen;
	uint8_t opts[PS_SHAPE_OPTS_MAX];
};

struct ps_shape_if {
	char ifname[IF_NAMESIZE];
	int ifindex;
	bool installed;		/* our HTB is (or is being put) at the root */
	bool refused;		/* the root qdisc could not be put back: not shaped */
	char why[200];		/* ... why */
	struct ps_shape_prev prev;
};

struct ps_shaper {
	struct nl_sock *sk;
	struct ps_shape_if ifs[PS_MAX_IFACES];
	int nifs;
	/* The previous daemon's record ("shaping" in datapath.json). */
	json_t *adopt;
	/*
	 * Called when what ps_shape_record() returns changes: before a root
	 * qdisc is replaced (so that a daemon killed right after leaves what
	 * its successor needs to put it back), and after one is restored.
	 */
	void (*record)(void *ctx);
	void *ctx;
};

/* Open the netlink socket. Returns 0 or -errno (message printed). */
int ps_shape_init(struct ps_shaper *s, void (*record)(void *ctx), void *ctx);
/* A previous daemon's record, taken over (may be NULL). */
void ps_shape_adopt(struct ps_shaper *s, json_t *rec);
/*
 * The interfaces to shape on: those attached now. An HTB of ours found at
 * an interface's root is adopted; an interface no longer in the list gets
 * its root qdisc back, and so does one the previous daemon shaped that is
 * not in the first list.
 */
void ps_shape_ifaces(struct ps_shaper *s, const struct ps_attachment *att, int n);
/*
 * Make the classes match the shape entries of ps_enforce in force at
 * boot_now (the programs' clock): a class for each entry, at its rate, on
 * each interface; none for anything else. Installs the root HTB where it
 * is needed first. Returns 0, or -EOPNOTSUPP when shape entries exist but
 * no interface can shape (why in err), or another -errno.
 */
int ps_shape_sync(struct ps_shaper *s, struct ps_datapath *dp, uint64_t boot_now, char *err,
		  size_t errlen);
/* Put every interface's root qdisc back (the classes go with the HTB). */
void ps_shape_restore(struct ps_shaper *s);
/* For the run record: the interfaces with our HTB and what it replaced. */
json_t *ps_shape_record(const struct ps_shaper *s);
void ps_shape_free(struct ps_shaper *s);

#endif
