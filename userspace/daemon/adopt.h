/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A running datapath for penstockd to take over: the maps of penstock's
 * programs attached to the configured interfaces (found through the
 * programs, no pin needed), or else those pinned in the pin directory;
 * checked against the maps this build would create; reused by the
 * programs about to load, or, when they do not fit, read for what still
 * has a layout this build knows once fresh programs have replaced them.
 */
#ifndef PS_ADOPT_H
#define PS_ADOPT_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/bpf.h>

#include "common/config.h"
#include "common/datapath.h"

struct bpf_object;
struct btf;
struct ps_ctable;

#define PS_ADOPT_MAX_MAPS	48

enum ps_adopt_from {
	PS_FROM_NONE = 0,
	PS_FROM_PROGRAMS,	/* the programs attached to the interfaces */
	PS_FROM_PINS,		/* the pin directory (no program attached) */
};

struct ps_adopt_map {
	int fd;
	struct bpf_map_info info;	/* info.name: the kernel's, 15 characters at most */
};

struct ps_adopt {
	enum ps_adopt_from from;
	char progs[512];	/* the programs found, for the log */
	int nmaps;
	struct ps_adopt_map maps[PS_ADOPT_MAX_MAPS];
	uint32_t abi;		/* the programs' ps_abi_version; 0: not recorded */
	struct btf *btf;	/* the BTF of the maps (one object's), loaded once */
	uint32_t btf_id;
	/* Set by ps_adopt_check(): */
	bool fits;		/* every map is the one this build would create */
	bool ctrs_readable;	/* ps_client_ctrs holds key and counters as this build's */
	uint32_t ctr_key_off, ctr_c_off;	/* ... at these offsets of its value */
	/* Its output token and gRPC message counters (tx_events .. tx_messages, 64-bit
	 * members of those names) at these offsets; 0: it has none. */
	uint32_t ctr_tok_off[PS_NTOKFIELDS];
	bool enforce_readable;	/* ps_enforce has this build's key and value */
	/* The programs attached, by PS_PROG_* (prog_id 0: none found), and
	 * whether another id of the same name was found on another hook. */
	int prog_fd[PS_NPROGS];
	__u32 prog_id[PS_NPROGS];
	bool progs_mixed;
};

/*
 * Collect the maps of penstock's programs attached to cfg's interfaces
 * (tc ingress and egress at penstock's handle and priority, XDP): programs
 * named ps_ingress, ps_egress and ps_xdp, all counting into one
 * ps_client_ctrs. Returns the programs found (0: none) or -errno; -EPERM
 * (or -EACCES) when programs are there that this process may not open by
 * their ids (without CAP_SYS_ADMIN): then a->progs names them, and no map
 * is taken.
 */
int ps_adopt_find_attached(struct ps_adopt *a, const struct ps_config *cfg);
/* Collect the maps pinned in pin_dir under the names of obj's maps. Returns how many. */
int ps_adopt_find_pinned(struct ps_adopt *a, struct bpf_object *obj, const char *pin_dir);
/*
 * Compare a's maps with obj's (opened, not loaded): every misfit is
 * logged, and for attached programs that do not fit, what can still be
 * read from their maps. Returns a->fits.
 */
bool ps_adopt_check(struct ps_adopt *a, struct bpf_object *obj);
/*
 * Unlink the pins under obj's pin paths that name a's maps (same), or
 * that name other maps (!same: a stale datapath's, which libbpf would
 * take instead of a's).
 */
void ps_adopt_unpin(struct ps_adopt *a, struct bpf_object *obj, bool same);
/* Point each pinned map of obj (not loaded yet) at a's map of its name. */
int ps_adopt_reuse(struct ps_adopt *a, struct bpf_object *obj);
/*
 * After ps_adopt_reuse(), for attached programs that fit: if they were
 * loaded from this very object with the same .rodata (ps_build_id among
 * it) and their maps are all the object's, hand their fds to dp in place
 * of loading the object's programs (its XDP program is loaded when none
 * was attached), and point obj's other maps at theirs. Returns whether
 * they were kept, or -errno.
 */
int ps_adopt_keep_progs(struct ps_adopt *a, struct ps_datapath *dp);
/*
 * After a datapath that did not fit was replaced: fold the counters of
 * each client in its ps_client_ctrs into t, as a tick would. Returns the
 * clients read (0 if the layout is unknown) or -errno.
 */
int ps_adopt_read_counts(struct ps_adopt *a, struct ps_ctable *t, uint32_t now,
			 int64_t boot_to_wall);
/*
 * Copy its enforcement entries into dp's ps_enforce, but for subjects
 * that have one there already. Returns the entries copied or -errno.
 */
int ps_adopt_copy_entries(struct ps_adopt *a, struct ps_datapath *dp);
/* Close the fds and free the BTF; a is empty again. */
void ps_adopt_close(struct ps_adopt *a);

#endif
