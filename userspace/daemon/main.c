// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstockd: loads the datapath (or adopts the one a previous daemon left
 * pinned and attached), attaches it to clsact ingress and egress of every
 * configured interface, reads the per-client counters every second into
 * sliding windows and totals, saves them to a state file every few
 * seconds, and answers the control socket.
 *
 * One thread, one epoll loop: a signalfd (SIGTERM/SIGINT stop, SIGHUP
 * reloads), a timerfd (the tick) and the listening control socket. State
 * files are written by a forked child, so a save never stalls a tick.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <systemd/sd-daemon.h>

#include "alerts/sinks.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/files.h"
#include "common/datapath.h"
#include "common/log.h"
#include "count/clients.h"
#include "count/state.h"
#include "count/tick.h"
#include "daemon/attach.h"
#include "daemon/control.h"
#include "enforce/enforce.h"
#include "enforce/shape.h"
#include "policy/policy.h"
#include "penstock.skel.h"

#define PS_VERSION		"0.3.0"
#define SAVE_INTERVAL_S		5
#define ENFORCEMENT_FILE	"enforcement.json"
#define ESCALATION_FILE		"escalation.json"

static const char usage_text[] =
	"usage: penstockd [OPTIONS]\n"
	"\n"
	"Count per-client traffic on the configured inference endpoints with eBPF\n"
	"programs on clsact ingress and egress of the configured interfaces; keep\n"
	"sliding windows and totals per client; answer `penstock` on a control socket.\n"
	"\n"
	"  -c, --config FILE     configuration (default " PS_DEFAULT_CONFIG ")\n"
	"  -f, --foreground      stay in the foreground (penstockd never forks; for systemd)\n"
	"  -C, --check-config    validate the configuration and exit: 0, or 2 with\n"
	"                        FILE:LINE:COLUMN and what was expected\n"
	"  -s, --socket PATH     control socket (default " PS_CONTROL_SOCKET ")\n"
	"  -S, --state-dir DIR   state file directory (default " PS_STATE_DIR ")\n"
	"  -P, --pin-dir DIR     where the maps are pinned (default " PS_PIN_DIR ")\n"
	"  -k, --keep-datapath   on exit leave the programs attached and the maps pinned,\n"
	"                        for the next daemon to adopt (an upgrade)\n"
	"  -v, --verbose         debug messages\n"
	"  -h, --help            this text\n"
	"\n"
	"signals: SIGTERM/SIGINT save and exit (detaching what penstockd attached,\n"
	"unless --keep-datapath); SIGHUP re-reads the configuration.\n";

struct daemon {
	const char *config_path;
	const char *socket_path;
	const char *state_dir;
	const char *pin_dir;
	char run_record[4200];
	bool keep_datapath;
	bool adopted;
	bool stop;
	bool owner;		/* the control socket is ours: no other daemon runs */
	struct ps_config cfg;
	struct ps_datapath dp;
	struct ps_attachment att[PS_MAX_IFACES];
	int natt;
	struct ps_ctable table;
	struct ps_tick tick;
	struct ps_control ctl;
	struct ps_alerts *alerts;	/* the alert sinks (alerts/) */
	struct ps_policy pol;	/* window limits, detection, escalation (policy/) */
	struct ps_shaper shape;
	bool shape_dirty;	/* shape entries changed: sync the HTB classes */
	pid_t saver;
	uint64_t saver_started_ms;
	uint64_t last_save_ms;
	uint64_t save_took_ms;	/* the last save, fork to exit */
	uint64_t started_ms;
};

/* bpffs must be mounted for pinning; mount it where systemd has not. */
static int ensure_bpffs(const char *pin_dir)
{
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		goto mkdir;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		int err = -errno;

		pr_warn("penstockd: cannot mount bpffs at /sys/fs/bpf: %s\n", strerror(errno));
		return err;
	}
mkdir:
	if (mkdir(pin_dir, 0700) && errno != EEXIST) {
		int err = -errno;

		pr_warn("penstockd: cannot create %s: %s\n", pin_dir, strerror(errno));
		return err;
	}
	return 0;
}

/* ---- the run record: what this daemon attached, for its successor ---- */

static void run_record_write(struct daemon *d)
{
	json_t *ifs = json_array(), *doc;
	int i, err;

	for (i = 0; i < d->natt; i++)
		json_array_append_new(ifs, json_pack("{s:s, s:i, s:b}", "name", d->att[i].ifname,
						     "ifindex", d->att[i].ifindex,
						     "created_clsact",
						     d->att[i].created_qdisc));
	doc = json_pack("{s:s, s:o, s:o}", "pin_dir", d->pin_dir, "interfaces", ifs, "shaping",
			ps_shape_record(&d->shape));
	err = ps_json_replace(doc, d->run_record, JSON_COMPACT);
	if (err)
		pr_warn("penstockd: cannot write %s: %s\n", d->run_record, strerror(-err));
	json_decref(doc);
}

/* The shaper's record changed (a root qdisc installed or put back). */
static void shape_record(void *ctx)
{
	run_record_write(ctx);
}

/*
 * Interfaces a previous daemon attached to: their clsact may be its
 * creation (then it is ours to remove in the end).
 */
static int run_record_read(struct daemon *d, struct ps_attachment *old, int max)
{
	json_t *doc = json_load_file(d->run_record, 0, NULL), *ifs, *it;
	size_t i;
	int n = 0;

	if (!doc)
		return 0;
	ifs = json_object_get(doc, "interfaces");
	json_array_foreach(ifs, i, it) {
		const char *name = json_string_value(json_object_get(it, "name"));

		if (!name || n == max)
			continue;
		memset(&old[n], 0, sizeof(old[n]));
		snprintf(old[n].ifname, sizeof(old[n].ifname), "%s", name);
		old[n].ifindex = json_integer_value(json_object_get(it, "ifindex"));
		old[n].created_qdisc = json_is_true(json_object_get(it, "created_clsact"));
		old[n].ingress = old[n].egress = true;
		old[n].xdp = true;	/* detached only if the XDP program is penstock's */
		n++;
	}
	json_decref(doc);
	return n;
}

/* ---- datapath configuration ---- */

/* Point ps_ports at cfg's endpoints and nothing else. */
static int configure_ports(struct daemon *d, const struct ps_config *cfg)
{
	int fd = bpf_map__fd(d->dp.skel->maps.ps_ports);
	uint32_t port;
	int i, err;

	err = ps_dp_configure(&d->dp, cfg);
	if (err)
		return err;
	for (port = 0; port < 65536; port++) {
		struct ps_port pp = {}, zero = {};

		if (bpf_map_lookup_elem(fd, &port, &pp) || !pp.endpoint)
			continue;
		for (i = 0; i < cfg->nendpoints; i++)
			if (cfg->endpoints[i].port == port)
				break;
		if (i == cfg->nendpoints)
			bpf_map_update_elem(fd, &port, &zero, BPF_ANY);
	}
	return 0;
}

static bool in_config(const struct ps_config *cfg, const char *ifname)
{
	int i;

	for (i = 0; i < cfg->nifaces; i++)
		if (!strcmp(cfg->ifaces[i], ifname))
			return true;
	return false;
}

/*
 * Attach to every interface of cfg not attached yet and detach from those
 * cfg no longer names. prev: a previous daemon's attachments (adoption).
 */
static int apply_interfaces(struct daemon *d, const struct ps_config *cfg,
			    struct ps_attachment *prev, int nprev)
{
	struct ps_attachment keep[PS_MAX_IFACES];
	int i, j, n = 0, err = 0;

	for (i = 0; i < d->natt; i++) {
		if (in_config(cfg, d->att[i].ifname))
			keep[n++] = d->att[i];
		else
			ps_detach(&d->att[i]);
	}
	for (i = 0; i < nprev; i++)
		if (!in_config(cfg, prev[i].ifname)) {
			pr_info("penstockd: %s is no longer configured: detaching\n",
				prev[i].ifname);
			ps_detach(&prev[i]);
		}
	for (i = 0; i < cfg->nifaces; i++) {
		for (j = 0; j < n; j++)
			if (!strcmp(keep[j].ifname, cfg->ifaces[i]))
				break;
		if (j < n)
			continue;
		if (ps_attach(&d->dp, cfg->ifaces[i], &keep[n])) {
			err = -EINVAL;
			continue;
		}
		/* A clsact created by the daemon we took over is ours now. */
		for (j = 0; j < nprev; j++)
			if (!strcmp(prev[j].ifname, cfg->ifaces[i]) &&
			    prev[j].ifindex == keep[n].ifindex && prev[j].created_qdisc)
				keep[n].created_qdisc = true;
		n++;
	}
	memcpy(d->att, keep, n * sizeof(keep[0]));
	d->natt = n;
	ps_shape_ifaces(&d->shape, d->att, d->natt);
	d->shape_dirty = true;
	run_record_write(d);
	return err;
}

/* Re-read the config file; keep the running one if it is invalid. */
static int reload(struct daemon *d, char *err, size_t errlen)
{
	static struct ps_config ncfg;

	ps_config_init(&ncfg);
	if (ps_config_load(d->config_path, &ncfg, err, errlen)) {
		pr_warn("penstockd: reload: %s (the running configuration stays)\n", err);
		return -EINVAL;
	}
	if (!ncfg.nifaces) {
		snprintf(err, errlen, "%s: no interfaces to attach to (interfaces: [...])",
			 d->config_path);
		pr_warn("penstockd: reload: %s (the running configuration stays)\n", err);
		return -EINVAL;
	}
	/* The alert sinks first: one that cannot open leaves everything as it was. */
	if (ps_alerts_reconfigure(d->alerts, &ncfg, err, errlen)) {
		pr_warn("penstockd: reload: %s (the running configuration stays)\n", err);
		return -EINVAL;
	}
	if (configure_ports(d, &ncfg) || ps_enf_apply_classes(&d->dp, &ncfg)) {
		snprintf(err, errlen, "cannot write the endpoint or class maps");
		return -EIO;
	}
	if ((ncfg.dry_run > 0) != (d->cfg.dry_run > 0)) {
		ps_enf_set_dry_run(&d->dp, ncfg.dry_run > 0);
		d->shape_dirty = true;
	}
	if (ncfg.max_clients != d->cfg.max_clients)
		pr_info("penstockd: max_clients %u takes effect when penstockd starts without "
			"pinned maps; %u slots now\n", ncfg.max_clients, d->tick.max);
	d->cfg = ncfg;
	ps_policy_reconfigure(&d->pol);
	d->tick.idle_s = d->cfg.reclaim_idle;
	if (apply_interfaces(d, &d->cfg, NULL, 0))
		snprintf(err, errlen, "some interfaces could not be attached (see the log)");
	pr_info("penstockd: configuration reloaded from %s: %d endpoints on %d interfaces\n",
		d->config_path, d->cfg.nendpoints, d->natt);
	return 0;
}

/* ---- control requests ---- */

static json_t *view_json(const struct ps_ctable *t, const struct ps_crec *r, enum ps_window w,
			 uint64_t now_ms, bool with_client)
{
	char addr[INET6_ADDRSTRLEN], ts[32];
	struct ps_cview v;
	json_t *o = json_object();
	int f;

	ps_crec_view(t, r, w, now_ms, &v);
	if (with_client)
		json_object_set_new(o, "client", json_string(ps_client_str(&r->key, addr,
									   sizeof(addr))));
	for (f = 0; f < PS_NFIELDS; f++) {
		if (w != PS_WIN_TOTAL &&
		    (f == PS_F_CONNECTIONS || f == PS_F_RX_PACKETS || f == PS_F_TX_PACKETS))
			continue;
		json_object_set_new(o, ps_field_names[f], json_integer((json_int_t)llround(v.v[f])));
	}
	json_object_set_new(o, "rpm", json_real(round(v.rpm * 100.0) / 100.0));
	if (with_client) {
		json_object_set_new(o, "first_seen", json_string(ps_rfc3339(r->first_wall, ts,
									  sizeof(ts))));
		json_object_set_new(o, "last_seen", json_string(ps_rfc3339(r->last_wall, ts,
									 sizeof(ts))));
	}
	return o;
}

static void do_clients(struct daemon *d, json_t *req, FILE *out)
{
	const char *ws = "total", *ss = "requests";
	json_int_t limit = 0;
	uint64_t now = ps_wall_ms();
	uint32_t *idx;
	int win, sort, n, i;

	if (json_unpack(req, "{s?s, s?s, s?I}", "window", &ws, "sort", &ss, "limit", &limit)) {
		ps_control_error(out, "clients: window and sort are strings, limit a number");
		return;
	}
	win = ps_window_parse(ws);
	sort = ps_sort_parse(ss);
	if (win < 0 || sort < 0 || limit < 0) {
		ps_control_error(out,
				 win < 0 ? "unknown window '%s': 1m, 1h, 24h or total" :
				 sort < 0 ? "unknown sort key '%s': requests, inference_requests, rx_bytes, tx_bytes, tx_payload or rpm" :
				 "limit must be 0 (all) or more%s",
				 win < 0 ? ws : sort < 0 ? ss : "");
		return;
	}
	n = ps_ctable_top(&d->table, win, sort, (uint32_t)limit, now, &idx);
	if (n < 0) {
		ps_control_error(out, "out of memory");
		return;
	}
	fprintf(out, "{\"ok\":true,\"window\":\"%s\",\"sort\":\"%s\",\"total_clients\":%u,"
		     "\"clients\":[",
		ps_window_names[win], ps_sort_names[sort], d->table.n);
	for (i = 0; i < n; i++) {
		json_t *o = view_json(&d->table, &d->table.rec[idx[i]], win, now, true);

		if (i)
			fputc(',', out);
		json_dumpf(o, out, PS_JSON_DUMP);
		json_decref(o);
	}
	fputs("]}", out);
	free(idx);
}

static int parse_addr(const char *s, struct ps_client_key *k)
{
	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, s, &k->addr) == 1) {
		k->family = PS_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &k->addr) == 1) {
		k->family = PS_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/*
 * What the programs count for a client's current slot only: enforcement
 * counters since the client got the slot (null when it has none).
 */
static json_t *slot_json(struct daemon *d, const struct ps_client_key *key)
{
	struct ps_client_slot v;
	struct ps_client_ctr ctr;

	if (bpf_map_lookup_elem(bpf_map__fd(d->dp.skel->maps.ps_clients), key, &v) ||
	    bpf_map_lookup_elem(bpf_map__fd(d->dp.skel->maps.ps_client_ctrs), &v.slot, &ctr))
		return json_null();
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "slot", v.slot,
			 "throttled_requests", (json_int_t)ctr.throttled_requests,
			 "would_throttle", (json_int_t)ctr.would_throttle, "blocked_packets",
			 (json_int_t)ctr.blocked_packets, "would_block",
			 (json_int_t)ctr.would_block, "open_connections",
			 (json_int_t)ctr.open_connections, "refused_connections",
			 (json_int_t)ctr.refused_connections, "would_refuse",
			 (json_int_t)ctr.would_refuse);
}

static void do_client(struct daemon *d, json_t *req, FILE *out)
{
	const char *addr = json_string_value(json_object_get(req, "addr"));
	char buf[INET6_ADDRSTRLEN], ts[32], ts2[32];
	struct ps_client_key key;
	const struct ps_crec *r;
	uint64_t now = ps_wall_ms();
	json_t *wins, *o;
	int w;

	if (!addr) {
		ps_control_error(out, "client: give \"addr\"");
		return;
	}
	if (parse_addr(addr, &key)) {
		ps_control_error(out, "'%s' is not an IPv4 or IPv6 address", addr);
		return;
	}
	r = ps_ctable_find(&d->table, &key);
	if (!r) {
		ps_control_error(out, "no client %s", ps_client_str(&key, buf, sizeof(buf)));
		return;
	}
	wins = json_object();
	for (w = 0; w <= PS_WIN_TOTAL; w++)
		json_object_set_new(wins, ps_window_names[w], view_json(&d->table, r, w, now, false));
	o = json_pack("{s:b, s:s, s:s, s:s, s:b, s:o}", "ok", 1, "client",
		      ps_client_str(&r->key, buf, sizeof(buf)), "first_seen",
		      ps_rfc3339(r->first_wall, ts, sizeof(ts)), "last_seen",
		      ps_rfc3339(r->last_wall, ts2, sizeof(ts2)), "in_map", r->gen == d->table.gen,
		      "windows", wins);
	if (o)
		json_object_set_new(o, "slot", slot_json(d, &r->key));
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}

static void do_endpoints(struct daemon *d, FILE *out)
{
	json_t *eps = json_array(), *o;
	int i, j;

	for (i = 0; i < d->cfg.nendpoints; i++) {
		const struct ps_endpoint_cfg *e = &d->cfg.endpoints[i];
		json_t *paths = json_array();

		for (j = 0; j < e->npaths; j++)
			json_array_append_new(paths, json_string(e->paths[j]));
		json_array_append_new(eps, json_pack("{s:s, s:i, s:o}", "name", e->name, "port",
						     e->port, "paths", paths));
	}
	o = json_pack("{s:b, s:o}", "ok", 1, "endpoints", eps);
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}

static long map_entries(struct bpf_map *map)
{
	int fd = bpf_map__fd(map);
	char key[64], next[64];
	void *prev = NULL;
	long n = 0;

	if (bpf_map__key_size(map) > sizeof(key))
		return -1;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, bpf_map__key_size(map));
		prev = key;
		n++;
	}
	return n;
}

/* The datapath's global counters (ps_stats), summed over CPUs. */
static json_t *stats_json(struct daemon *d)
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

static void do_status(struct daemon *d, FILE *out)
{
	struct bpf_map *counted[] = { d->dp.skel->maps.ps_clients, d->dp.skel->maps.ps_flows,
				      d->dp.skel->maps.ps_ooo };
	json_t *ifs = json_array(), *progs = json_array(), *maps = json_array(), *o;
	struct bpf_program *prog;
	uint64_t now = ps_wall_ms();
	char ts[32], ts2[32];
	size_t i;

	for (i = 0; i < (size_t)d->natt; i++)
		json_array_append_new(ifs, json_pack("{s:s, s:i, s:b, s:b, s:b, s:b}", "name",
						     d->att[i].ifname, "ifindex", d->att[i].ifindex,
						     "ingress", d->att[i].ingress, "egress",
						     d->att[i].egress, "xdp", d->att[i].xdp,
						     "created_clsact", d->att[i].created_qdisc));
	bpf_object__for_each_program(prog, d->dp.skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		char tag[2 * BPF_TAG_SIZE + 1];
		int k;

		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			continue;
		for (k = 0; k < BPF_TAG_SIZE; k++)
			snprintf(tag + 2 * k, 3, "%02x", info.tag[k]);
		json_array_append_new(progs, json_pack("{s:s, s:i, s:s, s:i}", "name",
						       bpf_program__name(prog), "id", info.id,
						       "tag", tag, "verified_insns",
						       info.verified_insns));
	}
	for (i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
		long n = i == 0 ? (long)d->table.in_map : map_entries(counted[i]);

		json_array_append_new(maps, json_pack("{s:s, s:I, s:I}", "name",
						      bpf_map__name(counted[i]), "entries",
						      (json_int_t)n, "max_entries",
						      (json_int_t)bpf_map__max_entries(counted[i])));
	}
	o = json_pack("{s:b, s:{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:b}, s:o, s:o, s:o,"
		      " s:{s:I, s:f, s:f, s:f, s:i}, s:{s:I, s:I}}",
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
		      d->tick.max_ns / 1e6, "interval_ms", 1000,
		      "clients", "tracked", (json_int_t)d->table.n, "in_map",
		      (json_int_t)d->table.in_map);
	if (o)
		json_object_set_new(o, "stats", stats_json(d));
	if (o && d->pol.det) {
		struct ps_detect_stats ds;

		ps_detect_stats(d->pol.det, &ds);
		json_object_set_new(o, "detection",
				    json_pack("{s:b, s:I, s:I, s:I, s:I, s:f, s:f}", "enabled",
					      d->cfg.detection.enabled > 0, "runs",
					      (json_int_t)ds.runs, "steps_taken",
					      (json_int_t)ds.alerts, "subjects",
					      (json_int_t)ds.subjects, "clients_judged",
					      (json_int_t)ds.clients, "last_ms", ds.last_ns / 1e6,
					      "max_ms", ds.max_ns / 1e6));
	}
	if (o)
		json_object_set_new(o, "slots",
				    json_pack("{s:I, s:I, s:I, s:I}", "handed_out",
					      (json_int_t)d->tick.next, "max",
					      (json_int_t)d->tick.max, "reclaimed",
					      (json_int_t)d->tick.reclaimed, "unlinked",
					      (json_int_t)d->tick.npending));
	if (o) {
		char path[4200];

		snprintf(path, sizeof(path), "%s/" PS_STATE_FILE, d->state_dir);
		json_object_set_new(json_object_get(o, "daemon"), "state_file", json_string(path));
		json_object_set_new(json_object_get(o, "daemon"), "save_ms",
				    json_integer((json_int_t)d->save_took_ms));
		json_object_set_new(json_object_get(o, "daemon"), "rss_kb",
				    json_integer(rss_kb()));
	}
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}

static int subject_of(json_t *req, FILE *out, struct ps_prefix *p, char *norm, size_t len)
{
	const char *s = json_string_value(json_object_get(req, "subject"));
	char err[256];

	if (!s) {
		ps_control_error(out, "give \"subject\": an address or a prefix");
		return -1;
	}
	if (ps_parse_prefix(s, p, err, sizeof(err))) {
		ps_control_error(out, "'%s': expected %s", s, err);
		return -1;
	}
	ps_prefix_str(p, norm, len);
	return 0;
}

/*
 * Bring the HTB classes in line with the shape entries now. Returns what
 * ps_shape_sync() does (a message in err).
 */
static int shape_sync(struct daemon *d, char *err, size_t errlen)
{
	static char last[256];	/* the last warning: said once, not every sync */
	char buf[256];
	int r;

	d->shape_dirty = false;
	r = ps_shape_sync(&d->shape, &d->dp, ps_boot_now(NULL), err ? err : buf,
			  err ? errlen : sizeof(buf));
	if (r && !err) {
		if (!buf[0])
			snprintf(buf, sizeof(buf), "%s", strerror(-r));
		if (strcmp(buf, last))
			pr_warn("penstockd: shaping: %s\n", buf);
		snprintf(last, sizeof(last), "%s", buf);
	} else if (!r) {
		last[0] = 0;
	}
	return r;
}

/* An entry ps_enf_sweep() removed: a shaped one leaves a class behind. */
static void on_expire(const struct ps_prefix *p, const struct ps_enforcement *e, void *ctx)
{
	struct daemon *d = ctx;
	char buf[64];

	pr_info("penstockd: %s of %s (%s) expired\n", ps_action_names[e->action],
		ps_prefix_str(p, buf, sizeof(buf)), ps_origin_names[e->origin]);
	if (e->action == PS_ACT_SHAPE)
		d->shape_dirty = true;
}

/* Manual entries to state_dir/enforcement.json after every change to them. */
static void save_manual(struct daemon *d)
{
	char path[4200];
	int64_t b2w;
	uint64_t now = ps_boot_now(&b2w);

	snprintf(path, sizeof(path), "%s/" ENFORCEMENT_FILE, d->state_dir);
	ps_enf_save_manual(&d->dp, path, now, b2w);
}

/* block and throttle (by rpm, or by rate: shape): an entry of origin manual. */
static void do_enforce(struct daemon *d, json_t *req, FILE *out, int action)
{
	const char *reason = json_string_value(json_object_get(req, "reason"));
	json_int_t for_s = 0, rpm = 0, burst = 1, rate_bps = 0;
	struct ps_enforcement e = {}, old = {};
	struct ps_prefix p;
	char subj[64], serr[256], rate[40] = "";
	uint64_t now;
	int err, had_old;

	if (subject_of(req, out, &p, subj, sizeof(subj)))
		return;
	if (json_unpack(req, "{s?I, s?I, s?I}", "for_s", &for_s, "rpm", &rpm, "burst", &burst) ||
	    for_s < 0 || for_s > 315360000) {
		ps_control_error(out, "for_s, rpm and burst are numbers; for_s 1..315360000 "
				      "(or absent: until removed)");
		return;
	}
	if (reason) {
		size_t i, n = strlen(reason);

		for (i = 0; i < n && reason[i] >= 0x20 && reason[i] <= 0x7e; i++)
			;
		if (n > 63 || i < n) {
			ps_control_error(out, "reason: at most 63 printable ASCII characters");
			return;
		}
	}
	if (action == PS_ACT_THROTTLE && json_object_get(req, "rate_bps")) {
		if (json_unpack(req, "{s:I}", "rate_bps", &rate_bps) || rate_bps < 1 ||
		    rate_bps > 1000000000000LL) {
			ps_control_error(out, "throttle: rate_bps 1..1000000000000 (bits per second)");
			return;
		}
		if (json_object_get(req, "rpm") || json_object_get(req, "burst")) {
			ps_control_error(out, "throttle: rate_bps goes without rpm and burst (one of "
					      "rpm and rate_bps)");
			return;
		}
		/* One HTB class per entry: the clients of a prefix share it. */
		action = PS_ACT_SHAPE;
		e.rate_bps = rate_bps;
		snprintf(rate, sizeof(rate), " at %lld bit/s", (long long)rate_bps);
	} else if (action == PS_ACT_THROTTLE) {
		if (rpm < 1 || rpm > 10000000 || burst < 1 || burst > 1000000) {
			ps_control_error(out, "throttle: rpm 1..10000000 and burst 1..1000000");
			return;
		}
		ps_gcra_params(rpm, burst, &e.emission_ns, &e.tolerance_ns);
	}
	now = ps_boot_now(NULL);
	e.since_ns = ps_wall_ms() * 1000000ULL;
	e.until_ns = for_s ? now + (uint64_t)for_s * 1000000000ULL : 0;
	e.action = action;
	e.origin = PS_ORIGIN_MANUAL;
	e.dry_run = d->cfg.dry_run > 0;
	if (reason)
		snprintf(e.reason, sizeof(e.reason), "%s", reason);
	had_old = !ps_enf_get(&d->dp, &p, &old);
	/* A new rate for a shaped client: the same class, changed in place. */
	if (had_old && old.action == PS_ACT_SHAPE && action == PS_ACT_SHAPE)
		e.shape_class = old.shape_class;
	err = ps_enf_set(&d->dp, &p, &e);
	if (err) {
		ps_control_error(out, "%s %s: %s", ps_action_names[action], subj, strerror(-err));
		return;
	}
	if (action == PS_ACT_SHAPE || (had_old && old.action == PS_ACT_SHAPE)) {
		err = shape_sync(d, serr, sizeof(serr));
		if (err && action == PS_ACT_SHAPE && !e.dry_run) {
			/* Not shaped anywhere: back to what was there. */
			if (had_old)
				ps_enf_set(&d->dp, &p, &old);
			else
				ps_enf_remove(&d->dp, &p);
			shape_sync(d, NULL, 0);
			ps_control_error(out, "throttle %s: %s", subj, serr);
			return;
		} else if (err) {
			pr_warn("penstockd: shaping: %s\n", serr);
		}
	}
	pr_info("penstockd: %s %s%s%s%s%s (manual)\n", ps_action_names[action], subj, rate,
		reason ? ": " : "", reason ? reason : "", e.dry_run ? " [dry run]" : "");
	save_manual(d);
	json_t *o = json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "subject", subj, "action",
			      ps_action_names[action], "dry_run", e.dry_run);
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}

static void do_unblock(struct daemon *d, json_t *req, FILE *out)
{
	struct ps_prefix p;
	char subj[64];
	int r;

	if (subject_of(req, out, &p, subj, sizeof(subj)))
		return;
	r = ps_enf_remove(&d->dp, &p);
	if (r < 0) {
		ps_control_error(out, "unblock %s: %s", subj, strerror(-r));
		return;
	}
	if (r) {
		pr_info("penstockd: enforcement on %s removed (manual)\n", subj);
		shape_sync(d, NULL, 0);
		save_manual(d);
	}
	fprintf(out, "{\"ok\":true,\"subject\":\"%s\",\"removed\":%d}", subj, r);
}

static void do_enforcement(struct daemon *d, FILE *out)
{
	int64_t b2w;
	uint64_t now = ps_boot_now(&b2w);
	json_t *o = ps_enf_list_json(&d->dp, d->cfg.dry_run > 0, now, b2w);

	json_object_set_new(o, "ok", json_true());
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}

/* {"cmd":"alerts","since_s":N}: the alerts kept in memory, newest last. */
static void do_alerts(struct daemon *d, json_t *req, FILE *out)
{
	json_t *since = json_object_get(req, "since_s"), *list, *o;
	json_int_t s = json_integer_value(since);

	if (since && (!json_is_integer(since) || s < 0 || s > 315360000)) {
		ps_control_error(out, "alerts: since_s is seconds, 0..315360000 (0: every alert kept)");
		return;
	}
	list = ps_alerts_list(d->alerts, s ? ps_wall_ms() - (uint64_t)s * 1000 : 0);
	o = json_pack("{s:b}", "ok", 1);
	if (!list || !o || json_object_update(o, list)) {
		ps_control_error(out, "out of memory");
	} else {
		json_dumpf(o, out, PS_JSON_DUMP);
	}
	json_decref(list);
	json_decref(o);
}

static void handle(json_t *req, FILE *out, void *ctx)
{
	struct daemon *d = ctx;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	char err[4200];

	if (!cmd) {
		ps_control_error(out, "bad request: no \"cmd\"");
	} else if (!strcmp(cmd, "status")) {
		do_status(d, out);
	} else if (!strcmp(cmd, "clients")) {
		do_clients(d, req, out);
	} else if (!strcmp(cmd, "client")) {
		do_client(d, req, out);
	} else if (!strcmp(cmd, "endpoints")) {
		do_endpoints(d, out);
	} else if (!strcmp(cmd, "reload")) {
		if (reload(d, err, sizeof(err))) {
			ps_control_error(out, "%s", err);
		} else {
			json_t *o = json_pack("{s:b, s:s}", "ok", 1, "config", d->config_path);

			json_dumpf(o, out, PS_JSON_DUMP);
			json_decref(o);
		}
	} else if (!strcmp(cmd, "block")) {
		do_enforce(d, req, out, PS_ACT_BLOCK);
	} else if (!strcmp(cmd, "throttle")) {
		do_enforce(d, req, out, PS_ACT_THROTTLE);
	} else if (!strcmp(cmd, "unblock")) {
		do_unblock(d, req, out);
	} else if (!strcmp(cmd, "enforcement")) {
		do_enforcement(d, out);
	} else if (!strcmp(cmd, "alerts")) {
		do_alerts(d, req, out);
	} else if (!strcmp(cmd, "stop")) {
		d->keep_datapath = d->keep_datapath || json_is_true(json_object_get(req, "keep_datapath"));
		d->stop = true;
		fputs("{\"ok\":true}", out);
	} else {
		ps_control_error(out, "unknown command '%s'", cmd);
	}
}

/* ---- the tick and the state file ---- */

static void reap_saver(struct daemon *d, bool wait)
{
	int status;
	pid_t p;

	if (d->saver <= 0)
		return;
	p = waitpid(d->saver, &status, wait ? 0 : WNOHANG);
	if (p == 0)
		return;
	if (p == d->saver && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		d->last_save_ms = ps_wall_ms();
		d->save_took_ms = d->last_save_ms - d->saver_started_ms;
	}
	d->saver = 0;
}

/*
 * Connections that ended without a FIN or RST the programs saw: every 10
 * ticks, flows idle for FLOW_IDLE_S are removed, and a flow that counted
 * in its client's open connections stops counting.
 */
#define FLOW_IDLE_S	300

/* One fewer open connection in a slot still of that gen (through mmap: atomic). */
static void slot_dec_open(int cfd, uint32_t slot, uint32_t gen)
{
	size_t off = (size_t)slot * sizeof(struct ps_client_ctr) % sysconf(_SC_PAGESIZE), len;
	struct ps_client_ctr ctr, *m;
	char *p;

	if (bpf_map_lookup_elem(cfd, &slot, &ctr) || ctr.gen != gen)
		return;
	/* The page(s) that hold the slot: the mapping starts at its page. */
	p = ps_ctrs_map(cfd, slot, 1, &len);
	if (!p)
		return;
	m = (struct ps_client_ctr *)(p + off);
	if (__atomic_load_n(&m->open_connections, __ATOMIC_RELAXED))
		__atomic_fetch_sub(&m->open_connections, 1, __ATOMIC_RELAXED);
	munmap(p, len);
}

#define FLOW_BATCH	1024

static void expire_flows(struct daemon *d)
{
	int ffd = bpf_map__fd(d->dp.skel->maps.ps_flows);
	int cfd = bpf_map__fd(d->dp.skel->maps.ps_client_ctrs);
	uint64_t cutoff = ps_boot_now(NULL) - (uint64_t)FLOW_IDLE_S * 1000000000ULL;
	static struct ps_flow_key keys[FLOW_BATCH];
	static struct ps_flow vals[FLOW_BATCH];
	uint32_t expired = 0, batch, count, i;
	void *in = NULL;
	int err;

	if (d->tick.count % 10)
		return;
	/* Batches of flows: one system call per FLOW_BATCH, not two per flow. */
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		bool done;

		count = FLOW_BATCH;
		err = bpf_map_lookup_batch(ffd, in, &batch, keys, vals, &count, &opts);
		if (err < 0 && errno != ENOENT)
			break;
		done = err < 0;
		for (i = 0; i < count; i++) {
			if (vals[i].last_seen_ns >= cutoff)
				continue;
			if (bpf_map_delete_elem(ffd, &keys[i]))
				continue;	/* gone meanwhile */
			expired++;
			if (vals[i].dir[PS_DIR_RX].open && vals[i].client_gen)
				slot_dec_open(cfd, vals[i].client_slot, vals[i].client_gen);
		}
		if (done)
			break;
		in = &batch;
	}
	if (expired)
		pr_debug("penstockd: %u idle flows expired\n", expired);
}

/* What the detectors found, to the alert sinks. */
static void policy_alert(void *ctx, const struct ps_alert *al)
{
	struct daemon *d = ctx;

	ps_alerts_emit(d->alerts, al);
}

/* An entry the window limits or the detectors set, or changed. */
static void policy_enforce(void *ctx, const struct ps_prefix *p, const struct ps_enforcement *e)
{
	char who[64];

	(void)ctx;
	pr_info("penstockd: %s %s: %s%s\n", ps_action_names[e->action],
		ps_prefix_str(p, who, sizeof(who)), e->reason, e->dry_run ? " [dry run]" : "");
}

/* The escalation to state_dir/escalation.json, when it changed. */
static void save_escalation(struct daemon *d, bool always)
{
	char path[4200];
	int err;

	if (!d->pol.det || (!always && !ps_detect_dirty(d->pol.det)))
		return;
	snprintf(path, sizeof(path), "%s/" ESCALATION_FILE, d->state_dir);
	err = ps_detect_save(d->pol.det, path);
	if (err)
		pr_warn("penstockd: cannot save %s: %s\n", path, strerror(-err));
}

static void tick(struct daemon *d)
{
	uint64_t now;

	ps_tick_run(&d->tick, &d->table);
	ps_policy_tick(&d->pol, ps_wall_ms(), ps_boot_now(NULL));
	save_escalation(d, false);
	if (d->pol.shape_dirty) {
		d->shape_dirty = true;
		d->pol.shape_dirty = false;
	}
	expire_flows(d);
	/* Expired or new shape entries now; every 10 s, whatever changed
	 * behind the daemon's back (a class someone deleted). */
	if (d->shape_dirty || d->tick.count % 10 == 0)
		shape_sync(d, NULL, 0);
	ps_alerts_tick(d->alerts, ps_wall_ms());
	sd_notify(0, "WATCHDOG=1");
	reap_saver(d, false);
	now = ps_wall_ms();
	if (!d->saver && now - d->last_save_ms >= SAVE_INTERVAL_S * 1000) {
		pid_t p = ps_state_save_bg(&d->table, d->state_dir, now);

		if (p < 0)
			pr_warn("penstockd: cannot fork to save state: %s\n", strerror(-p));
		if (p < 0) {
			d->last_save_ms = now;	/* retry in SAVE_INTERVAL_S */
		} else {
			d->saver = p;
			d->saver_started_ms = now;
		}
	}
}

static void save_now(struct daemon *d)
{
	char err[4200];

	reap_saver(d, true);
	if (ps_state_save(&d->table, d->state_dir, ps_wall_ms(), err, sizeof(err)))
		pr_warn("penstockd: cannot save state: %s\n", err);
}

static int load_state(struct daemon *d)
{
	char err[4300], aside[4300], path[4200];
	uint64_t saved;
	int r;

	if (mkdir(d->state_dir, 0700) && errno != EEXIST) {
		pr_warn("penstockd: cannot create %s: %s\n", d->state_dir, strerror(errno));
		return -errno;
	}
	r = ps_state_load(&d->table, d->state_dir, &saved, err, sizeof(err));
	if (r > 0) {
		pr_info("penstockd: %u clients restored from %s/" PS_STATE_FILE " (saved %llu s ago)\n",
			d->table.n, d->state_dir,
			(unsigned long long)((ps_wall_ms() - saved) / 1000));
		return 0;
	}
	if (r == 0)
		return 0;
	/* Unreadable: keep it aside for a person to look at; start afresh. */
	snprintf(path, sizeof(path), "%s/" PS_STATE_FILE, d->state_dir);
	snprintf(aside, sizeof(aside), "%s.unreadable-%llu", path,
		 (unsigned long long)(ps_wall_ms() / 1000));
	rename(path, aside);
	pr_warn("penstockd: %s; moved to %s, starting with no history\n", err, aside);
	ps_ctable_init(&d->table);
	return 0;
}

/* ---- main ---- */

static int setup(struct daemon *d)
{
	struct ps_attachment prev[PS_MAX_IFACES];
	struct ps_dp_opts dopts = { .pin_root = d->pin_dir, .max_clients = d->cfg.max_clients };
	char probe[4200], sockdir[4200];
	int nprev, err;

	snprintf(sockdir, sizeof(sockdir), "%s", d->socket_path);
	snprintf(d->run_record, sizeof(d->run_record), "%s/datapath.json", dirname(sockdir));
	err = ps_control_listen(&d->ctl, d->socket_path);
	if (err)
		return err;
	d->owner = true;
	err = load_state(d);
	if (err)
		return err;
	{
		char aerr[4200];

		d->alerts = ps_alerts_open(&d->cfg, aerr, sizeof(aerr));
		if (!d->alerts) {
			pr_warn("penstockd: %s\n", aerr);
			return -EINVAL;
		}
	}
	err = ensure_bpffs(d->pin_dir);
	if (err)
		return err;
	snprintf(probe, sizeof(probe), "%s/" PS_MAP_CLIENTS, d->pin_dir);
	d->adopted = access(probe, F_OK) == 0;
	err = ps_dp_open(&d->dp, &dopts);
	if (err) {
		if (d->adopted)
			pr_warn("penstockd: the maps pinned in %s do not fit this penstockd; if no "
				"daemon uses them, remove them (rm -r %s) and start again\n",
				d->pin_dir, d->pin_dir);
		return err;
	}
	err = configure_ports(d, &d->cfg);
	if (err)
		return err;
	err = ps_enf_apply_classes(&d->dp, &d->cfg);
	if (err)
		return err;
	if (!d->adopted) {
		/* Fresh maps: the manual entries a clean stop (or a reboot)
		 * took with them come back from the state directory. */
		char path[4200];
		int64_t b2w;
		uint64_t now = ps_boot_now(&b2w);
		int n;

		snprintf(path, sizeof(path), "%s/" ENFORCEMENT_FILE, d->state_dir);
		n = ps_enf_load_manual(&d->dp, path, now, b2w);
		if (n > 0)
			pr_info("penstockd: %d manual enforcement entries restored from %s\n", n,
				path);
	}
	ps_enf_set_dry_run(&d->dp, d->cfg.dry_run > 0);
	nprev = d->adopted ? run_record_read(d, prev, PS_MAX_IFACES) : 0;
	err = ps_shape_init(&d->shape, shape_record, d);
	if (err)
		return err;
	/* What a previous daemon's HTB replaced, to put it back in the end
	 * (read even without pinned maps: its qdisc may still be there). */
	{
		json_t *doc = json_load_file(d->run_record, 0, NULL);

		ps_shape_adopt(&d->shape, json_object_get(doc, "shaping"));
		json_decref(doc);
	}
	ps_enf_on_expire(on_expire, d);
	err = apply_interfaces(d, &d->cfg, prev, nprev);
	if (err)
		return err;
	/* Classes for the shape entries in force (adopted ones included),
	 * none for the others. */
	shape_sync(d, NULL, 0);
	err = ps_tick_init(&d->tick, &d->dp);
	if (err)
		return err;
	d->tick.idle_s = d->cfg.reclaim_idle;
	err = ps_policy_init(&d->pol, &d->dp, &d->cfg, &d->table);
	if (err)
		return err;
	d->pol.on_alert = policy_alert;
	d->pol.on_enforce = policy_enforce;
	d->pol.ctx = d;
	{
		/* Where the escalation of each subject stood at the last stop. */
		char path[4200];
		int n;

		snprintf(path, sizeof(path), "%s/" ESCALATION_FILE, d->state_dir);
		n = ps_detect_load(d->pol.det, path);
		if (n < 0)
			pr_warn("penstockd: %s: unreadable, escalation starts afresh\n", path);
		else if (n > 0)
			pr_info("penstockd: escalation of %d subjects restored from %s\n", n, path);
	}
	/* Catch up with what the datapath counted while no daemon ran. */
	ps_tick_run(&d->tick, &d->table);
	pr_info("penstockd: %s the datapath: %d endpoints on %d interfaces, maps in %s, %u clients\n",
		d->adopted ? "adopted" : "started", d->cfg.nendpoints, d->natt, d->pin_dir,
		d->table.n);
	return 0;
}

static void teardown(struct daemon *d)
{
	int i;

	if (!d->owner)
		return;		/* another daemon's datapath: not ours to touch */
	if (d->dp.skel)
		save_manual(d);
	save_escalation(d, true);
	if (!d->keep_datapath) {
		/* The root qdiscs back first: the classes go with the HTB. */
		ps_shape_restore(&d->shape);
		for (i = 0; i < d->natt; i++)
			ps_detach(&d->att[i]);
	}
	if (d->tick.slot_rec) {
		/* The last counts, after detaching: nothing comes in behind them. */
		ps_tick_run(&d->tick, &d->table);
		save_now(d);
		ps_tick_free(&d->tick);
	}
	if (d->dp.skel) {
		if (!d->keep_datapath)
			ps_dp_unpin(&d->dp);
		ps_dp_close(&d->dp);
	}
	if (!d->keep_datapath) {
		rmdir(d->pin_dir);
		unlink(d->run_record);
	} else {
		pr_info("penstockd: the datapath stays attached, its maps pinned in %s\n",
			d->pin_dir);
	}
	ps_shape_free(&d->shape);
	ps_policy_free(&d->pol);
	ps_alerts_close(d->alerts);
	ps_control_close(&d->ctl);
	ps_ctable_free(&d->table);
}

static int run(struct daemon *d)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct epoll_event ev, evs[4];
	int sfd, tfd, efd, n, i;
	sigset_t mask;
	char err[4200];

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || efd < 0 || timerfd_settime(tfd, 0, &its, NULL)) {
		pr_warn("penstockd: event loop: %s\n", strerror(errno));
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = sfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.fd = d->ctl.fd;
	epoll_ctl(efd, EPOLL_CTL_ADD, d->ctl.fd, &ev);
	sd_notifyf(0, "READY=1\nSTATUS=counting %d endpoints on %d interfaces\nMAINPID=%d",
		   d->cfg.nendpoints, d->natt, (int)getpid());
	while (!d->stop) {
		n = epoll_wait(efd, evs, 4, -1);
		if (n < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == tfd) {
				uint64_t exp;

				if (read(tfd, &exp, sizeof(exp)) > 0)
					tick(d);
			} else if (evs[i].data.fd == sfd) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD) {
						reap_saver(d, false);
					} else if (si.ssi_signo == SIGHUP) {
						sd_notify(0, "RELOADING=1");
						reload(d, err, sizeof(err));
						sd_notify(0, "READY=1");
					} else {
						pr_info("penstockd: signal %u, stopping\n",
							si.ssi_signo);
						d->stop = true;
					}
				}
			} else {
				ps_control_serve(&d->ctl, handle, d);
			}
		}
	}
	sd_notify(0, "STOPPING=1");
	close(efd);
	close(tfd);
	close(sfd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "keep-datapath", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static struct daemon d;
	int opt, check = 0, ret = 1;
	char errbuf[4200];
	sigset_t mask;

	d.config_path = PS_DEFAULT_CONFIG;
	d.socket_path = PS_CONTROL_SOCKET;
	d.state_dir = PS_STATE_DIR;
	d.pin_dir = PS_PIN_DIR;
	d.ctl.fd = -1;
	while ((opt = getopt_long(argc, argv, "c:fCs:S:P:kvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'f':
			break;
		case 'C':
			check = 1;
			break;
		case 's':
			d.socket_path = optarg;
			break;
		case 'S':
			d.state_dir = optarg;
			break;
		case 'P':
			d.pin_dir = optarg;
			break;
		case 'k':
			d.keep_datapath = true;
			break;
		case 'v':
			ps_log_set_level(PS_LOG_DEBUG);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "penstockd: unexpected argument '%s'\n\n%s", argv[optind], usage_text);
		return 2;
	}
	ps_config_init(&d.cfg);
	if (ps_config_load(d.config_path, &d.cfg, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "penstockd: %s\n", errbuf);
		return 2;
	}
	if (check) {
		printf("%s: ok (%d interfaces, %d endpoints)\n", d.config_path, d.cfg.nifaces,
		       d.cfg.nendpoints);
		return 0;
	}
	if (!d.cfg.nifaces) {
		fprintf(stderr, "penstockd: %s: no interfaces to attach to (interfaces: [...])\n",
			d.config_path);
		return 2;
	}
	if (geteuid() != 0)
		pr_warn("penstockd: not running as root: loading BPF programs will likely fail\n");

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.started_ms = ps_wall_ms();
	ps_log_libbpf();
	if (!setup(&d))
		ret = run(&d);
	teardown(&d);
	return ret;
}
