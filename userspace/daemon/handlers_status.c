// SPDX-License-Identifier: GPL-2.0-only
/*
 * {"cmd":"status"}: what penstockd is doing, from its process and files
 * to its programs, maps, tick, clients, slots, detection, control socket
 * and the datapath's global counters (docs/control-protocol.md lists each member).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/caps.h"
#include "common/clock.h"
#include "common/report.h"
#include "common/units.h"
#include "count/state.h"
#include "daemon/handlers.h"
#include "metrics/metrics.h"
#include "penstock.skel.h"

/* The datapath's global counters (ps_stats), summed over CPUs. */
static json_t *stats_json(struct ps_daemon *d)
{
	static const char *const names[PS_STAT_MAX] = {
		[PS_STAT_PACKETS] = "packets",
		[PS_STAT_ENDPOINT_PACKETS] = "endpoint_packets",
		[PS_STAT_NOT_PARSED] = "not_parsed",
		[PS_STAT_FLOW_FULL] = "flow_full",
		[PS_STAT_CLIENT_FULL] = "client_full",
		[PS_STAT_OOO_STASHED] = "ooo_stashed",
		[PS_STAT_OOO_DROPPED] = "ooo_dropped",
		[PS_STAT_PARSE_LIMIT] = "parse_limit",
		[PS_STAT_BLOCKED] = "blocked",
		[PS_STAT_WOULD_BLOCK] = "would_block",
		[PS_STAT_THROTTLED] = "throttled",
		[PS_STAT_WOULD_THROTTLE] = "would_throttle",
		[PS_STAT_RESYNC] = "resyncs",
		[PS_STAT_FRAGMENTS] = "fragments",
		[PS_STAT_FRAG_DROPPED] = "fragments_dropped",
		[PS_STAT_WOULD_DROP_FRAG] = "fragments_would_drop",
		[PS_STAT_FLOW_BUSY] = "flow_busy",
		[PS_STAT_PROXY] = "proxy_headers",
		[PS_STAT_PROXY_UNTRUSTED] = "proxy_untrusted",
		[PS_STAT_PROXY_BAD] = "proxy_bad",
		[PS_STAT_NO_SLOT_HELD] = "no_slot_held",
		[PS_STAT_FORWARDED] = "forwarded_requests",
		[PS_STAT_FORWARDED_BAD] = "forwarded_bad",
		[PS_STAT_FORWARDED_UNTRUSTED] = "forwarded_untrusted",
		[PS_STAT_FORWARDED_FULL] = "forwarded_full",
		[PS_STAT_KEYED] = "keyed_requests",
		[PS_STAT_H2_UNCLASSIFIED] = "h2_unclassified",
		[PS_STAT_HUNTED] = "hunted",
		[PS_STAT_TOKEN_HELD] = "token_held",
		[PS_STAT_RESP_UNPAIRED] = "resp_unpaired",
		[PS_STAT_RESP_ENCODED] = "resp_encoded",
		[PS_STAT_H2_RESP_LOST] = "h2_resp_lost",
		[PS_STAT_H2_NO_SLOT] = "h2_no_slot",
		[PS_STAT_GRPC_NO_SLOT] = "grpc_no_slot",
		[PS_STAT_H2_KEY_UNKNOWN] = "h2_key_unknown",
		[PS_STAT_H2_FWD_INDEXED] = "h2_forwarded_indexed",
		[PS_STAT_H2_REFUSED] = "h2_refused",
		[PS_STAT_URGENT_DROPPED] = "urgent_dropped",
	};
	int fd = bpf_map__fd(d->dp.skel->maps.ps_stats), ncpu = libbpf_num_possible_cpus();
	json_t *o = json_object();
	uint64_t *v = ncpu > 0 ? calloc(ncpu, sizeof(*v)) : NULL;
	uint32_t k;
	int c;

	for (k = 0; v && k < PS_STAT_MAX; k++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (c = 0; c < ncpu; c++)
			sum += v[c];
		json_object_set_new(o, names[k], json_integer((json_int_t)sum));
	}
	free(v);
	return o;
}

/* Resident memory of this process (VmRSS), in KiB. */
static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The interfaces penstockd is attached to. */
static json_t *interfaces_json(struct ps_daemon *d)
{
	json_t *ifs = json_array();
	int i;

	for (i = 0; i < d->natt; i++)
		json_array_append_new(ifs, json_pack("{s:s, s:i, s:b, s:b, s:b, s:b}", "name",
						     d->att[i].ifname, "ifindex", d->att[i].ifindex,
						     "ingress", d->att[i].ingress, "egress",
						     d->att[i].egress, "xdp", d->att[i].xdp,
						     "created_clsact", d->att[i].created_qdisc));
	return ifs;
}

/* The BPF programs: name, id, tag, instructions verified, whether kept from
 * the datapath adopted rather than loaded by this daemon. */
static json_t *programs_json(struct ps_daemon *d)
{
	json_t *progs = json_array();
	int i;

	for (i = 0; i < PS_NPROGS; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		char tag[2 * BPF_TAG_SIZE + 1];
		int k;

		if (bpf_obj_get_info_by_fd(ps_dp_prog_fd(&d->dp, i), &info, &len))
			continue;
		for (k = 0; k < BPF_TAG_SIZE; k++)
			snprintf(tag + 2 * k, 3, "%02x", info.tag[k]);
		json_array_append_new(progs, json_pack("{s:s, s:i, s:s, s:i, s:b}", "name",
						       ps_prog_names[i], "id", info.id, "tag", tag,
						       "verified_insns", info.verified_insns, "kept",
						       d->dp.kept[i]));
	}
	return progs;
}

/*
 * The maps that fill up: ps_clients (its slots in use at the last tick),
 * ps_flows and ps_flows_est (at the last sweep of idle flows: 262144 flows are too many
 * to walk for each request), ps_ooo (now).
 */
static json_t *maps_json(struct ps_daemon *d)
{
	struct bpf_map *counted[] = { d->dp.skel->maps.ps_clients, d->dp.skel->maps.ps_flows,
				      d->dp.skel->maps.ps_flows_est, d->dp.skel->maps.ps_ooo };
	long counts[] = { d->table.in_map, d->flows, d->flows_est, -1 };
	json_t *maps = json_array();
	size_t i;

	for (i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
		long n = counts[i] >= 0 ? counts[i] : ps_dp_map_entries(counted[i]);

		json_array_append_new(maps, json_pack("{s:s, s:I, s:I}", "name",
						      bpf_map__name(counted[i]), "entries",
						      (json_int_t)n, "max_entries",
						      (json_int_t)bpf_map__max_entries(counted[i])));
	}
	return maps;
}

void ps_run_status(struct ps_daemon *d, const struct ps_ask *a, FILE *out)
{
	json_t *ifs = interfaces_json(d), *progs = programs_json(d), *maps = maps_json(d), *o;
	uint64_t now = ps_wall_ms();
	char ts[32], ts2[32];

	(void)a;
	o = json_pack("{s:b, s:{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:b}, s:o, s:o, s:o,"
		      " s:{s:I, s:f, s:f, s:f, s:i, s:I, s:I, s:I, s:f}, s:{s:I, s:I, s:I}}",
		      "ok", 1,
		      "daemon", "pid", (int)getpid(), "version", PS_VERSION, "config",
		      d->config_path, "started", ps_rfc3339(d->started_ms / 1000, ts, sizeof(ts)),
		      "uptime_s", (json_int_t)((now - d->started_ms) / 1000), "socket",
		      d->socket_path, "pin_dir", d->pin_dir, "state_file", d->state_dir,
		      "last_save",
		      d->last_save_ms ? ps_rfc3339(d->last_save_ms / 1000, ts2, sizeof(ts2)) : "",
		      "adopted", d->adopted,
		      "interfaces", ifs, "programs", progs, "maps", maps,
		      "tick", "count", (json_int_t)d->tick.count, "last_ms",
		      d->tick.last_ns / 1e6, "avg_ms",
		      d->tick.count ? d->tick.sum_ns / 1e6 / d->tick.count : 0.0, "max_ms",
		      d->tick.max_ns / 1e6, "interval_ms", 1000, "found_max",
		      (json_int_t)d->tick.found_max, "behind", (json_int_t)d->tick.behind_ticks,
		      "caught_up", (json_int_t)d->tick.caught_up, "catch_up_ms",
		      d->tick.catch_ns / 1e6,
		      "clients", "tracked", (json_int_t)d->table.n, "in_map",
		      (json_int_t)d->table.in_map, "unfolded", (json_int_t)d->table.unfolded);
	if (o)
		json_object_set_new(o, "stats", stats_json(d));
	if (o) {
		struct ps_ep_ctr tot[PS_MAX_ENDPOINTS];

		json_object_set_new(o, "endpoints",
				    ps_dp_read_endpoints(&d->dp, d->cfg.nendpoints, tot) ?
				    json_null() : ps_endpoint_totals_json(&d->cfg, tot));
	}
	if (o && d->pol.det) {
		struct ps_detect_stats ds;

		ps_detect_stats(d->pol.det, &ds);
		json_object_set_new(o, "detection",
				    json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:b, s:b, s:f}",
					      "enabled", d->cfg.detection.enabled > 0, "runs",
					      (json_int_t)ds.runs, "steps_taken",
					      (json_int_t)ds.alerts, "subjects",
					      (json_int_t)ds.subjects, "subjects_dropped",
					      (json_int_t)ds.dropped, "clients_judged",
					      (json_int_t)ds.clients, "last_ms", ds.last_ns / 1e6,
					      "max_ms", ds.max_ns / 1e6, "thread",
					      ps_detect_bg_fd(d->pol.det) >= 0, "running",
					      ps_detect_bg_busy(d->pol.det), "table_gap_max_ms",
					      ds.gap_max_ns / 1e6));
	}
	if (o)
		json_object_set_new(o, "slots",
				    json_pack("{s:I, s:I, s:I, s:I}", "handed_out",
					      (json_int_t)d->tick.next, "max",
					      (json_int_t)d->tick.max, "reclaimed",
					      (json_int_t)d->tick.reclaimed, "unlinked",
					      (json_int_t)d->tick.npending));
	if (o) {
		const struct ps_control_stats *cs = &d->ctl.st;

		json_object_set_new(o, "control",
				    json_pack("{s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
					      "group", d->ctl.has_group ? d->ctl.group : NULL,
					      "connections", (json_int_t)d->ctl.nconns,
					      "accepted", (json_int_t)cs->accepted,
					      "answered", (json_int_t)cs->answered,
					      "denied", (json_int_t)cs->denied,
					      "bad", (json_int_t)cs->bad,
					      "too_long", (json_int_t)cs->too_long,
					      "timed_out", (json_int_t)cs->timed_out,
					      "busy", (json_int_t)cs->busy));
	}
	if (o) {
		static const char *const from[] = { [PS_FROM_NONE] = "",
						     [PS_FROM_PROGRAMS] = "programs",
						     [PS_FROM_PINS] = "pins" };
		char path[4200];

		json_object_set_new(json_object_get(o, "daemon"), "adopted_from",
				    json_string(from[d->adopted_from]));
		snprintf(path, sizeof(path), "%s/" PS_STATE_FILE, d->state_dir);
		json_object_set_new(json_object_get(o, "daemon"), "state_file", json_string(path));
		json_object_set_new(json_object_get(o, "daemon"), "save_ms",
				    json_integer((json_int_t)d->save_took_ms));
		json_object_set_new(json_object_get(o, "daemon"), "tick_save_max_ms",
				    json_real(d->tick_save_max_ns / 1e6));
		json_object_set_new(json_object_get(o, "daemon"), "control_gap_max_ms",
				    json_real(d->ctl_gap_max_ns / 1e6));
		json_object_set_new(json_object_get(o, "daemon"), "tick_late_max_ms",
				    json_integer((json_int_t)d->tick_late_max_ms));
		json_object_set_new(json_object_get(o, "daemon"), "table_wait_max_ms",
				    json_real(d->table_wait_max_ns / 1e6));
		json_object_set_new(json_object_get(o, "daemon"), "slice_wait_max_ms",
				    json_real(d->slice_wait_max_ns / 1e6));
		json_object_set_new(json_object_get(o, "daemon"), "rss_kb",
				    json_integer(rss_kb()));
		json_object_set_new(json_object_get(o, "daemon"), "capabilities",
				    json_string(ps_caps_effective(path, sizeof(path))));
	}
	if (o) {
		json_object_set_new(o, "metrics",
				    d->metrics ?
				    json_pack("{s:s, s:I}", "listen", ps_metrics_listen(d->metrics),
					      "scrapes",
					      (json_int_t)ps_metrics_scrapes(d->metrics)) :
				    json_null());
		json_object_set_new(o, "fleet", ps_fleet_status_json(&d->fleet, ps_wall_ms()));
	}
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}
