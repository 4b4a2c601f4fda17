// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/files.h"
#include "common/log.h"
#include "common/units.h"
#include "enforce/enforce.h"
#include "penstock.skel.h"

/*
 * Manual entries in a file, so that they outlive the maps (a clean stop
 * unpins them; a reboot clears bpffs): one JSON object with an array of
 * entries, expiry as Unix time. Written to a temporary file, synced and
 * renamed (ps_json_replace).
 */
int ps_enf_save_manual(struct ps_datapath *dp, const char *path, uint64_t boot_now,
		       int64_t boot_to_wall)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_enforce);
	struct ps_lpm_key *keys = NULL;
	json_t *arr = json_array(), *doc;
	struct ps_enforcement e;
	char subj[64];
	int n, i, err;

	n = ps_enf_keys(fd, &keys);
	for (i = 0; i < n; i++) {
		struct ps_prefix p;

		if (bpf_map_lookup_elem(fd, &keys[i], &e) || e.origin != PS_ORIGIN_MANUAL)
			continue;
		if (e.until_ns && boot_now >= e.until_ns)
			continue;
		ps_prefix_of_key(&p, &keys[i]);
		e.reason[sizeof(e.reason) - 1] = 0;
		json_array_append_new(arr, json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:b, s:s}",
			"subject", ps_prefix_str(&p, subj, sizeof(subj)), "action", e.action,
			"since_ns", (json_int_t)e.since_ns,
			"until_unix_ns", (json_int_t)(e.until_ns ? e.until_ns + boot_to_wall : 0),
			"emission_ns", (json_int_t)e.emission_ns,
			"tolerance_ns", (json_int_t)e.tolerance_ns,
			"rate_bps", (json_int_t)e.rate_bps, "dry_run", e.dry_run,
			"reason", e.reason));
	}
	free(keys);
	doc = json_pack("{s:i, s:o}", "version", 1, "entries", arr);
	err = ps_json_replace(doc, path, JSON_INDENT(1));
	if (err)
		pr_warn("penstockd: cannot write %s: %s\n", path, strerror(-err));
	json_decref(doc);
	return err;
}

int ps_enf_load_manual(struct ps_datapath *dp, const char *path, uint64_t boot_now,
		       int64_t boot_to_wall, char *errbuf, size_t errlen)
{
	json_t *doc, *entries, *it;
	size_t i;
	int n = 0, r;

	r = ps_json_load_file(path, &doc, errbuf, errlen);
	if (r <= 0)
		return r;
	entries = json_object_get(doc, "entries");
	if (!json_is_array(entries)) {
		snprintf(errbuf, errlen, "%s: no \"entries\" array", path);
		json_decref(doc);
		return -EINVAL;
	}
	json_array_foreach(entries, i, it) {
		struct ps_enforcement e = {};
		const char *subj = NULL, *reason = "";
		json_int_t action = 0, since = 0, until = 0, em = 0, tol = 0, rate = 0;
		int dry = 0;
		struct ps_prefix p;
		char err[256];

		if (json_unpack(it, "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s}", "subject", &subj,
				"action", &action, "since_ns", &since, "until_unix_ns", &until,
				"emission_ns", &em, "tolerance_ns", &tol, "rate_bps", &rate,
				"dry_run", &dry, "reason", &reason) ||
		    ps_parse_subject(subj, &p, err, sizeof(err)) || action < PS_ACT_BLOCK ||
		    action > PS_ACT_SHAPE) {
			pr_warn("penstockd: %s: entry %zu is not valid; skipped\n", path, i);
			continue;
		}
		if (until && until - boot_to_wall <= (json_int_t)boot_now)
			continue;	/* ran out while no daemon ran */
		e.action = action;
		e.origin = PS_ORIGIN_MANUAL;
		e.since_ns = since;
		e.until_ns = until ? until - boot_to_wall : 0;
		e.emission_ns = em;
		e.tolerance_ns = tol;
		e.rate_bps = rate;
		e.dry_run = dry;
		snprintf(e.reason, sizeof(e.reason), "%s", reason);
		if (!ps_enf_set(dp, &p, &e))
			n++;
	}
	json_decref(doc);
	return n;
}
