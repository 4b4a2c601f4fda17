/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's side of enforcement: it writes the policy the BPF programs
 * apply at packet time. Classes (limits per client, by prefix) come from
 * the configuration; blocks and throttles on clients and prefixes live in
 * the pinned LPM trie ps_enforce, where they stay in force while no daemon
 * runs, and expire on the programs' clock.
 */
#ifndef PS_ENFORCE_H
#define PS_ENFORCE_H

#include <stdint.h>
#include <jansson.h>

#include "common/config.h"
#include "common/datapath.h"
#include "common/units.h"

/* Write ps_classes and ps_class_of from cfg (replacing what was there). */
int ps_enf_apply_classes(struct ps_datapath *dp, const struct ps_config *cfg);

/* Add or replace the entry for a prefix. Returns 0 or -errno. */
int ps_enf_set(struct ps_datapath *dp, const struct ps_prefix *p, const struct ps_enforcement *e);
/* Remove the entry for exactly this prefix: 1 removed, 0 none, -errno. */
int ps_enf_remove(struct ps_datapath *dp, const struct ps_prefix *p);
/* The entry for exactly this prefix: 0, or -ENOENT. */
int ps_enf_get(struct ps_datapath *dp, const struct ps_prefix *p, struct ps_enforcement *e);

/*
 * Remove entries whose time is up (boot_now: the programs' clock), and
 * keep ps_enforce_state.entries right. Returns the entries left.
 */
int ps_enf_sweep(struct ps_datapath *dp, uint64_t boot_now);
/*
 * The entries ps_enf_sweep() left in force at its last run, by action and
 * origin (their enum values; an unknown one counts as 0), and how many of
 * them are dry runs.
 */
struct ps_enf_tally {
	uint32_t n[PS_ACT_SHAPE + 1][PS_ORIGIN_MINUTE_LIMIT + 1];
	uint32_t dry_run;
};
void ps_enf_last_tally(struct ps_enf_tally *out);
/*
 * fn(prefix, entry, ctx) is called for each entry ps_enf_sweep() removes,
 * after it is gone (the daemon removes a shaped entry's HTB class).
 */
void ps_enf_on_expire(void (*fn)(const struct ps_prefix *p, const struct ps_enforcement *e,
				 void *ctx),
		      void *ctx);

/* Set the dry_run flag of every entry (the global dry_run changed). */
void ps_enf_set_dry_run(struct ps_datapath *dp, int dry_run);

/*
 * {"dry_run":..,"entries":[...]} as docs/control-protocol.md describes
 * (without "ok"); boot_to_wall converts the programs' clock to Unix ns.
 */
json_t *ps_enf_list_json(struct ps_datapath *dp, int dry_run, uint64_t boot_now,
			 int64_t boot_to_wall);

/* What the programs apply for resolved limits (a ps_classes entry). */
void ps_class_of_limits(const struct ps_limits *l, struct ps_class *cl);
/*
 * Every key of an LPM trie (ps_class_of, ps_enforce: small maps, a few
 * thousand entries at most), malloc'ed in *out. The count or -ENOMEM.
 */
int ps_enf_keys(int fd, struct ps_lpm_key **out);

/* GCRA parameters for a rate of rpm requests per minute with a burst. */
void ps_gcra_params(uint64_t rpm, uint64_t burst, __u64 *emission_ns, __u64 *tolerance_ns);
/*
 * A token limit's parameters (ps_class.tpm_*, tpd_*): budget tokens every
 * period_s seconds with burst at once.
 */
void ps_token_params(uint64_t budget, uint64_t period_s, uint64_t burst, __u64 *emission,
		     __u64 *tolerance_ns);

/*
 * manual.c: manual entries to a file and back (a clean stop unpins the
 * maps, a reboot clears them). Save replaces the file atomically
 * (ps_json_replace). Load returns the entries restored (entries whose
 * time ran out are left out, an invalid entry is skipped with a
 * warning), 0 when there is no file, or -EINVAL when the file is not a
 * whole JSON document of entries, with what is wrong in err.
 */
int ps_enf_save_manual(struct ps_datapath *dp, const char *path, uint64_t boot_now,
		       int64_t boot_to_wall);
int ps_enf_load_manual(struct ps_datapath *dp, const char *path, uint64_t boot_now,
		       int64_t boot_to_wall, char *err, size_t errlen);

extern const char *const ps_action_names[];
extern const char *const ps_origin_names[];

#endif
