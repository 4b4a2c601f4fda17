// SPDX-License-Identifier: GPL-2.0-only
/*
 * enforce/: what the BPF programs apply at packet time, written by user
 * space: the classes of the configuration and the entries of ps_enforce
 * (this file), the manual entries kept in a file across restarts
 * (manual.c), and the HTB qdisc and classes that shape (shape.c, the
 * daemon's).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/log.h"
#include "enforce/enforce.h"
#include "penstock.skel.h"

const char *const ps_action_names[] = {
	[PS_ACT_NONE] = "none",
	[PS_ACT_BLOCK] = "block",
	[PS_ACT_THROTTLE] = "throttle",
	[PS_ACT_SHAPE] = "shape",
};

const char *const ps_origin_names[] = {
	[0] = "unknown",
	[PS_ORIGIN_MANUAL] = "manual",
	[PS_ORIGIN_DAY_LIMIT] = "day_limit",
	[PS_ORIGIN_DETECTOR] = "detector",
	[PS_ORIGIN_MINUTE_LIMIT] = "minute_limit",
};


void ps_class_of_limits(const struct ps_limits *l, struct ps_class *cl)
{
	memset(cl, 0, sizeof(*cl));
	if (l->requests_per_minute != PS_LIMIT_UNSET)
		ps_gcra_params(l->requests_per_minute, l->burst != PS_LIMIT_UNSET ? l->burst : 1,
			       &cl->emission_ns, &cl->tolerance_ns);
	if (l->max_connections != PS_LIMIT_UNSET)
		cl->max_connections = l->max_connections;
	if (l->tokens_per_minute != PS_LIMIT_UNSET)
		ps_token_params(l->tokens_per_minute, 60,
				l->token_burst != PS_LIMIT_UNSET ? l->token_burst :
								  l->tokens_per_minute,
				&cl->tpm_emission, &cl->tpm_tolerance_ns);
	if (l->tokens_per_day != PS_LIMIT_UNSET)
		ps_token_params(l->tokens_per_day, 86400, l->tokens_per_day, &cl->tpd_emission,
				&cl->tpd_tolerance_ns);
	if (l->token_reserve != PS_LIMIT_UNSET && (cl->tpm_emission || cl->tpd_emission))
		cl->tok_reserve = l->token_reserve;
	cl->dry_run = l->dry_run > 0;
}

/*
 * A token limit of budget tokens every period_s seconds, burst tokens at
 * once: ns per token in 1/2^PS_TOK_FRAC_BITS ns (at least 1), and the
 * tolerance, burst tokens' worth of ns.
 */
void ps_token_params(uint64_t budget, uint64_t period_s, uint64_t burst, __u64 *emission,
		     __u64 *tolerance_ns)
{
	unsigned __int128 per = (unsigned __int128)period_s * 1000000000ULL;
	unsigned __int128 em = (per << PS_TOK_FRAC_BITS) / budget;
	unsigned __int128 tau = per * burst / budget;

	*emission = em ? (__u64)em : 1;
	*tolerance_ns = tau > (1ULL << 62) ? (1ULL << 62) : (__u64)tau;
}

void ps_gcra_params(uint64_t rpm, uint64_t burst, __u64 *emission_ns, __u64 *tolerance_ns)
{
	*emission_ns = rpm ? 60000000000ULL / rpm : 0;
	*tolerance_ns = burst > 1 ? *emission_ns * (burst - 1) : 0;
}

static int state_update(struct ps_datapath *dp, int entries, int classes)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_enforce_state);
	struct ps_enforce_state st = {};
	uint32_t zero = 0;

	bpf_map_lookup_elem(fd, &zero, &st);
	if (entries >= 0)
		st.entries = entries;
	if (classes >= 0)
		st.classes = classes;
	return bpf_map_update_elem(fd, &zero, &st, BPF_ANY) ? -errno : 0;
}

int ps_enf_keys(int fd, struct ps_lpm_key **out)
{
	struct ps_lpm_key k, next, *keys = NULL, *tmp;
	void *prev = NULL;
	int n = 0, cap = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			tmp = realloc(keys, cap * sizeof(*keys));
			if (!tmp) {
				free(keys);
				return -ENOMEM;
			}
			keys = tmp;
		}
		keys[n++] = next;
		k = next;
		prev = &k;
	}
	*out = keys;
	return n;
}

int ps_enf_apply_classes(struct ps_datapath *dp, const struct ps_config *cfg)
{
	int cfd = bpf_map__fd(dp->skel->maps.ps_classes);
	int ofd = bpf_map__fd(dp->skel->maps.ps_class_of);
	struct ps_lpm_key *old = NULL, k;
	int i, j, n, nold, err = 0;

	for (i = 0; i <= cfg->nclasses && i < PS_MAX_CLASSES; i++) {
		struct ps_class cl = {};
		struct ps_limits l;
		uint32_t id = i;

		ps_limits_resolve(cfg, i, &l);
		ps_class_of_limits(&l, &cl);
		if (bpf_map_update_elem(cfd, &id, &cl, BPF_ANY))
			return -errno;
	}
	/* Prefixes: drop those no class names any more, then (re)write all. */
	nold = ps_enf_keys(ofd, &old);
	if (nold < 0)
		return nold;
	n = 0;
	for (i = 0; i < cfg->nclasses; i++) {
		for (j = 0; j < cfg->classes[i].nclients; j++) {
			struct ps_class_ref ref = { .class_id = i + 1 };

			ps_lpm_key_of(&k, &cfg->classes[i].clients[j]);
			if (bpf_map_update_elem(ofd, &k, &ref, BPF_ANY)) {
				err = -errno;
				pr_warn("penstockd: class %s: cannot add a prefix: %s\n",
					cfg->classes[i].name, strerror(errno));
				continue;
			}
			n++;
		}
	}
	for (i = 0; i < nold; i++) {
		int keep = 0, c;

		for (c = 0; c < cfg->nclasses && !keep; c++)
			for (j = 0; j < cfg->classes[c].nclients && !keep; j++) {
				ps_lpm_key_of(&k, &cfg->classes[c].clients[j]);
				keep = !memcmp(&k, &old[i], sizeof(k));
			}
		if (!keep)
			bpf_map_delete_elem(ofd, &old[i]);
	}
	free(old);
	state_update(dp, -1, n);
	return err;
}

int ps_enf_set(struct ps_datapath *dp, const struct ps_prefix *p, const struct ps_enforcement *e)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_enforce);
	struct ps_lpm_key k;
	struct ps_lpm_key *keys = NULL;
	int n;

	ps_lpm_key_of(&k, p);
	if (bpf_map_update_elem(fd, &k, e, BPF_ANY))
		return -errno;
	n = ps_enf_keys(fd, &keys);
	free(keys);
	return n < 0 ? n : state_update(dp, n, -1);
}

int ps_enf_get(struct ps_datapath *dp, const struct ps_prefix *p, struct ps_enforcement *e)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_enforce);
	struct ps_lpm_key k, *keys = NULL;
	int n, i, found = 0;

	/* Exactly this prefix: a lookup would find the longest match. */
	ps_lpm_key_of(&k, p);
	n = ps_enf_keys(fd, &keys);
	for (i = 0; i < n && !found; i++)
		found = !memcmp(&keys[i], &k, sizeof(k));
	free(keys);
	if (!found)
		return -ENOENT;
	return bpf_map_lookup_elem(fd, &k, e) ? -errno : 0;
}

int ps_enf_remove(struct ps_datapath *dp, const struct ps_prefix *p)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_enforce);
	struct ps_lpm_key k, *keys = NULL;
	int n, removed;

	ps_lpm_key_of(&k, p);
	removed = bpf_map_delete_elem(fd, &k) == 0;
	n = ps_enf_keys(fd, &keys);
	free(keys);
	if (n >= 0)
		state_update(dp, n, -1);
	return removed;
}

static void (*expire_fn)(const struct ps_prefix *p, const struct ps_enforcement *e, void *ctx);
static void *expire_ctx;

void ps_enf_on_expire(void (*fn)(const struct ps_prefix *p, const struct ps_enforcement *e,
				 void *ctx),
		      void *ctx)
{
	expire_fn = fn;
	expire_ctx = ctx;
}

static struct ps_enf_tally last_tally;

void ps_enf_last_tally(struct ps_enf_tally *out)
{
	*out = last_tally;
}

int ps_enf_sweep(struct ps_datapath *dp, uint64_t boot_now)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_enforce);
	struct ps_lpm_key *keys = NULL;
	struct ps_enforcement e;
	struct ps_enf_tally tally = {};
	int n, i, left = 0;

	n = ps_enf_keys(fd, &keys);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &keys[i], &e))
			continue;
		if (e.until_ns && boot_now >= e.until_ns) {
			struct ps_prefix p;

			ps_prefix_of_key(&p, &keys[i]);
			bpf_map_delete_elem(fd, &keys[i]);
			if (expire_fn)
				expire_fn(&p, &e, expire_ctx);
			continue;
		}
		left++;
		tally.n[e.action <= PS_ACT_SHAPE ? e.action : 0]
		       [e.origin <= PS_ORIGIN_MINUTE_LIMIT ? e.origin : 0]++;
		tally.dry_run += !!e.dry_run;
	}
	free(keys);
	last_tally = tally;
	state_update(dp, left, -1);
	return left;
}

void ps_enf_set_dry_run(struct ps_datapath *dp, int dry_run)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_enforce);
	struct ps_lpm_key *keys = NULL;
	struct ps_enforcement e;
	int n, i;

	n = ps_enf_keys(fd, &keys);
	/* Manual entries follow the global dry_run; the others carry their
	 * class's. */
	for (i = 0; i < n; i++)
		if (!bpf_map_lookup_elem(fd, &keys[i], &e) && e.origin == PS_ORIGIN_MANUAL &&
		    e.dry_run != !!dry_run) {
			e.dry_run = !!dry_run;
			bpf_map_update_elem(fd, &keys[i], &e, BPF_EXIST);
		}
	free(keys);
}

json_t *ps_enf_list_json(struct ps_datapath *dp, int dry_run, uint64_t boot_now,
			 int64_t boot_to_wall)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_enforce);
	struct ps_lpm_key *keys = NULL;
	json_t *arr = json_array();
	struct ps_enforcement e;
	int n, i;

	n = ps_enf_keys(fd, &keys);
	for (i = 0; i < n; i++) {
		char subj[64], since[32], until[32];
		struct ps_prefix p;
		json_t *o;

		if (bpf_map_lookup_elem(fd, &keys[i], &e))
			continue;
		if (e.until_ns && boot_now >= e.until_ns)
			continue;	/* expired: the next sweep removes it */
		ps_prefix_of_key(&p, &keys[i]);
		e.reason[sizeof(e.reason) - 1] = 0;
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "subject",
			      ps_prefix_str(&p, subj, sizeof(subj)), "action",
			      e.action <= PS_ACT_SHAPE ? ps_action_names[e.action] : "unknown",
			      "origin", e.origin <= PS_ORIGIN_MINUTE_LIMIT ? ps_origin_names[e.origin] :
			      "unknown", "reason", e.reason, "since",
			      ps_rfc3339(e.since_ns / 1000000000ULL, since, sizeof(since)),
			      "dry_run", e.dry_run);
		if (e.until_ns) {
			json_object_set_new(o, "expires",
					    json_string(ps_rfc3339((e.until_ns + boot_to_wall) / 1000000000ULL,
								   until, sizeof(until))));
			json_object_set_new(o, "left_s",
					    json_integer((e.until_ns - boot_now + 999999999) /
							 1000000000ULL));
		} else {
			json_object_set_new(o, "expires", json_null());
			json_object_set_new(o, "left_s", json_null());
		}
		if (e.action == PS_ACT_THROTTLE && e.emission_ns) {
			json_object_set_new(o, "rpm",
					    json_integer(60000000000ULL / e.emission_ns));
			json_object_set_new(o, "burst",
					    json_integer(e.tolerance_ns / e.emission_ns + 1));
		}
		if (e.action == PS_ACT_SHAPE)
			json_object_set_new(o, "rate_bps", json_integer((json_int_t)e.rate_bps));
		json_array_append_new(arr, o);
	}
	free(keys);
	return json_pack("{s:b, s:o}", "dry_run", dry_run, "entries", arr);
}
