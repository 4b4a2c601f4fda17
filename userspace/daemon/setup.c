// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstockd's start, reload and stop: the control socket first (one daemon
 * at a time), the state file, the alert sinks, then the datapath
 * (common/datapath.c): loaded on the maps of the one running if they fit
 * this build, found through the programs attached to the configured
 * interfaces or else pinned (adopt.c), or on fresh maps; attached to the
 * interfaces (attach.c), replacing the programs there; then the policy;
 * then penstockd drops the privileges only start needed.
 * The run record (datapath.json beside the socket) says what this daemon
 * attached and which root qdiscs its HTB replaced, so that a successor
 * can take them over or put them back.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "alerts/webhook.h"
#include "common/caps.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/keyid.h"
#include "common/log.h"
#include "count/state.h"
#include "daemon/daemon.h"
#include "enforce/enforce.h"
#include "metrics/metrics.h"
#include "penstock.skel.h"

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

/*
 * A file of the daemon's that its reader found unreadable (err names it
 * and says what is wrong): said, and moved aside for a person to look
 * at; the daemon goes on without it (instead: how).
 */
static void set_aside(const char *path, const char *err, const char *instead)
{
	char aside[4300];
	int r = ps_set_aside(path, aside, sizeof(aside));

	if (r)
		pr_warn("penstockd: %s; cannot move it aside (%s); %s\n", err, strerror(-r),
			instead);
	else
		pr_warn("penstockd: %s; moved to %s, %s\n", err, aside, instead);
}

/* ---- the run record: what this daemon attached, for its successor ---- */

static void run_record_write(struct ps_daemon *d)
{
	json_t *ifs = json_array(), *doc;
	int i, err;

	for (i = 0; i < d->natt; i++)
		json_array_append_new(ifs, json_pack("{s:s, s:i, s:b, s:I}", "name", d->att[i].ifname,
						     "ifindex", d->att[i].ifindex,
						     "created_clsact",
						     d->att[i].created_qdisc, "xdp_prog_id",
						     (json_int_t)(d->att[i].xdp ?
								  d->att[i].xdp_prog_id : 0)));
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

/* The run record a previous daemon left, or NULL (none, or set aside). */
static json_t *run_record_load(struct ps_daemon *d)
{
	char err[4300];
	json_t *doc;

	if (ps_json_load_file(d->run_record, &doc, err, sizeof(err)) < 0)
		set_aside(d->run_record, err,
			  "taking over no clsact or root qdisc of the previous daemon");
	return doc;
}

/*
 * Interfaces a previous daemon attached to (doc: its run record): their
 * clsact may be its creation (then it is ours to remove in the end).
 */
static int run_record_read(json_t *doc, struct ps_attachment *old, int max)
{
	json_t *ifs, *it;
	size_t i;
	int n = 0;

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
		old[n].xdp_prog_id = json_integer_value(json_object_get(it, "xdp_prog_id"));
		ps_attach_prev_xdp(old[n].xdp_prog_id);
		n++;
	}
	return n;
}

/* ---- interfaces and the endpoint and class maps ---- */

/* Point ps_ports at cfg's endpoints and nothing else. */
static int configure_ports(struct ps_daemon *d, const struct ps_config *cfg)
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
static int apply_interfaces(struct ps_daemon *d, const struct ps_config *cfg,
			    struct ps_attachment *prev, int nprev)
{
	struct ps_attachment keep[PS_MAX_IFACES];
	int i, j, n = 0, err = 0;

	for (i = 0; i < d->natt; i++) {
		if (in_config(cfg, d->att[i].ifname)) {
			keep[n] = d->att[i];
			ps_attach_xdp(&d->dp, &keep[n++], cfg->xdp);
		} else {
			ps_detach(&d->att[i]);
		}
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
		if (ps_attach(&d->dp, cfg->ifaces[i], &keep[n], cfg->xdp)) {
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

int ps_daemon_reload(struct ps_daemon *d, char *err, size_t errlen)
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
	/* The metrics server and the alert sinks first: one that cannot open
	 * leaves everything as it was. */
	if (ps_scrape_prepare(d, &ncfg, err, errlen)) {
		pr_warn("penstockd: reload: %s (the running configuration stays)\n", err);
		return -EINVAL;
	}
	if (ps_alerts_reconfigure(d->alerts, &ncfg, err, errlen)) {
		ps_scrape_abort(d);
		pr_warn("penstockd: reload: %s (the running configuration stays)\n", err);
		return -EINVAL;
	}
	ps_scrape_commit(d);
	if (configure_ports(d, &ncfg) || ps_enf_apply_classes(&d->dp, &ncfg)) {
		snprintf(err, errlen, "cannot write the endpoint or class maps");
		return -EIO;
	}
	if ((ncfg.dry_run > 0) != (d->cfg.dry_run > 0)) {
		ps_enf_set_dry_run(&d->dp, ncfg.dry_run > 0);
		d->shape_dirty = true;
	}
	if (ncfg.max_clients != d->cfg.max_clients)
		pr_info("penstockd: max_clients %u takes effect when penstockd starts a fresh "
			"datapath; %u slots now\n", ncfg.max_clients, d->tick.max);
	d->cfg = ncfg;
	d->reloads++;
	ps_policy_reconfigure(&d->pol);
	if (ps_fleet_reconfigure(&d->fleet, err, errlen))
		pr_warn("penstockd: reload: %s (no fleet until it is fixed)\n", err);
	d->tick.idle_s = d->cfg.reclaim_idle;
	if (apply_interfaces(d, &d->cfg, NULL, 0))
		snprintf(err, errlen, "some interfaces could not be attached (see the log)");
	/* A server the reload opened answers with the figures at once, not at the next tick. */
	if (d->metrics && !ps_metrics_has_text(d->metrics))
		ps_scrape_render(d);
	pr_info("penstockd: configuration reloaded from %s: %d endpoints on %d interfaces\n",
		d->config_path, d->cfg.nendpoints, d->natt);
	return 0;
}

/* ---- start and stop ---- */

static int load_state(struct ps_daemon *d)
{
	char err[4300], path[4200];
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
	set_aside(path, err, "starting with no history");
	ps_ctable_init(&d->table);
	return 0;
}

/*
 * The secret API keys are hashed under: state_dir/key_secret, made at the
 * first start. A secret that cannot be read stops the start: key ids
 * under another one would name other clients than the ones counted.
 */
static int set_key_secret(struct ps_daemon *d)
{
	uint8_t key[PS_KEY_SECRET_LEN];
	char path[4200], err[4300];
	int r;

	snprintf(path, sizeof(path), "%s/" PS_KEY_SECRET_FILE, d->state_dir);
	r = ps_key_secret_ensure(path, key, err, sizeof(err));
	if (r < 0) {
		pr_warn("penstockd: API key secret: %s\n", err);
		return r;
	}
	if (r == 1)
		pr_info("penstockd: made a new API key secret in %s\n", path);
	r = ps_dp_set_secret(&d->dp, key);
	memset(key, 0, sizeof(key));
	if (r)
		pr_warn("penstockd: cannot write the API key secret: %s\n", strerror(-r));
	return r;
}

/* An entry ps_enf_sweep() removed: a shaped one leaves a class behind. */
static void on_expire(const struct ps_prefix *p, const struct ps_enforcement *e, void *ctx)
{
	struct ps_daemon *d = ctx;
	char buf[64];

	pr_info("penstockd: %s of %s (%s) expired\n", ps_action_names[e->action],
		ps_prefix_str(p, buf, sizeof(buf)), ps_origin_names[e->origin]);
	if (e->action == PS_ACT_SHAPE)
		d->shape_dirty = true;
}

/* What the detectors found, to the alert sinks. */
static void policy_alert(void *ctx, const struct ps_alert *al)
{
	struct ps_daemon *d = ctx;

	ps_alerts_emit(d->alerts, al);
	ps_scrape_alert(d, al);
}

/* An entry the window limits or the detectors set, or changed. */
static void policy_enforce(void *ctx, const struct ps_prefix *p, const struct ps_enforcement *e)
{
	char who[64];

	(void)ctx;
	pr_info("penstockd: %s %s: %s%s\n", ps_action_names[e->action],
		ps_prefix_str(p, who, sizeof(who)), e->reason, e->dry_run ? " [dry run]" : "");
}

/*
 * The datapath running already, if any: the maps of penstock's programs
 * attached to the configured interfaces, else those pinned in the pin
 * directory. Maps that fit this build are taken over (d->adopted), the
 * programs about to load will use them; a datapath attached that does
 * not fit is to be replaced (d->replacing), and read where its layout is
 * known. Maps pinned that do not fit, with no program attached, are left
 * for a person to remove.
 *
 * Programs attached that penstockd may not open by their ids (that takes
 * CAP_SYS_ADMIN, which a container may not grant) cannot be adopted: nor
 * can their maps pinned, whose layouts (BTF, by its id) cannot be checked.
 * That datapath is replaced, unread, and its pins go: failing instead would
 * leave it attached with no daemon able to start.
 */
static int find_running(struct ps_daemon *d, bool pinned)
{
	struct bpf_object *obj = d->dp.skel->obj;
	struct ps_adopt *a = &d->prev;
	int n;

	n = ps_adopt_find_attached(a, &d->cfg);
	if (n == -EPERM || n == -EACCES) {
		pr_warn("penstockd: the datapath %s cannot be adopted without CAP_SYS_ADMIN "
			"(its programs and their maps' layouts are read by their ids): replacing "
			"it with fresh maps; what it counted since the state file was last saved "
			"is lost, and its enforcement entries but the manual ones, which come "
			"back from the state directory\n", a->progs);
		if (pinned) {
			ps_adopt_find_pinned(a, obj, d->pin_dir);
			ps_adopt_unpin(a, obj, true);
		}
		ps_adopt_close(a);
		d->replacing = true;
		return 0;
	}
	if (n < 0)
		return n;
	if (n > 0) {
		if (!ps_adopt_check(a, obj)) {
			pr_warn("penstockd: replacing the datapath %s with fresh maps\n",
				a->progs);
			ps_adopt_unpin(a, obj, true);
			d->replacing = true;
			return 0;
		}
		/* Pins of other maps would be taken instead: they go. */
		ps_adopt_unpin(a, obj, false);
		pr_info("penstockd: taking over the maps of the datapath %s%s\n", a->progs,
			pinned ? "" : " (none pinned: pinning them again)");
	} else if (pinned) {
		ps_adopt_find_pinned(a, obj, d->pin_dir);
		if (!ps_adopt_check(a, obj)) {
			pr_warn("penstockd: the maps pinned in %s do not fit this penstockd; if no "
				"daemon uses them, remove them (rm -r %s) and start again\n",
				d->pin_dir, d->pin_dir);
			ps_adopt_close(a);
			return -EINVAL;
		}
	} else {
		return 0;
	}
	d->adopted = true;
	d->adopted_from = a->from;
	n = ps_adopt_reuse(a, obj);
	if (!n)
		n = ps_adopt_keep_progs(a, &d->dp);
	return n < 0 ? n : 0;
}

/*
 * Load the datapath, on the maps of the one running if they fit, and
 * write its endpoint and class maps; on fresh maps, the manual entries
 * come back from the state directory, and a replaced datapath's other
 * entries from its maps.
 */
static int open_datapath(struct ps_daemon *d)
{
	struct ps_dp_opts dopts = { .pin_root = d->pin_dir, .max_clients = d->cfg.max_clients };
	char probe[4200];
	bool pinned;
	int err;

	err = ensure_bpffs(d->pin_dir);
	if (err)
		return err;
	snprintf(probe, sizeof(probe), "%s/" PS_MAP_CLIENTS, d->pin_dir);
	pinned = access(probe, F_OK) == 0;
	err = ps_dp_prepare(&d->dp, &dopts);
	if (err)
		return err;
	err = find_running(d, pinned);
	if (!err)
		err = ps_dp_load(&d->dp);
	else
		ps_dp_close(&d->dp);
	if (!d->replacing)
		ps_adopt_close(&d->prev);	/* the skeleton holds what it took */
	if (err)
		return err;
	err = configure_ports(d, &d->cfg);
	if (err)
		return err;
	err = ps_enf_apply_classes(&d->dp, &d->cfg);
	if (err)
		return err;
	if (!d->adopted) {
		/* Fresh maps: the manual entries a clean stop (or a reboot)
		 * took with them come back from the state directory. */
		char path[4200], lerr[4300];
		int64_t b2w;
		uint64_t now = ps_boot_now(&b2w);
		int n;

		snprintf(path, sizeof(path), "%s/" PS_ENFORCEMENT_FILE, d->state_dir);
		n = ps_enf_load_manual(&d->dp, path, now, b2w, lerr, sizeof(lerr));
		if (n > 0)
			pr_info("penstockd: %d manual enforcement entries restored from %s\n", n,
				path);
		else if (n < 0)
			set_aside(path, lerr, "no manual enforcement restored");
	}
	if (d->replacing) {
		int n = ps_adopt_copy_entries(&d->prev, &d->dp);

		if (n > 0)
			pr_info("penstockd: %d enforcement entries kept from the replaced "
				"datapath\n", n);
	}
	ps_enf_set_dry_run(&d->dp, d->cfg.dry_run > 0);
	return 0;
}

/*
 * Attach to the configured interfaces (taking over a previous daemon's
 * attachments and HTB roots) and make the HTB classes of the shape
 * entries in force.
 */
static int attach_all(struct ps_daemon *d)
{
	struct ps_attachment prev[PS_MAX_IFACES];
	json_t *doc;
	int nprev, err;

	doc = run_record_load(d);
	nprev = (d->adopted || d->replacing) && doc ? run_record_read(doc, prev, PS_MAX_IFACES) : 0;
	err = ps_shape_init(&d->shape, shape_record, d);
	if (err) {
		json_decref(doc);
		return err;
	}
	/* What a previous daemon's HTB replaced, to put it back in the end
	 * (read even without a datapath to adopt: its qdisc may still be
	 * there). */
	ps_shape_adopt(&d->shape, json_object_get(doc, "shaping"));
	json_decref(doc);
	ps_enf_on_expire(on_expire, d);
	err = apply_interfaces(d, &d->cfg, prev, nprev);
	if (err)
		return err;
	/* Classes for the shape entries in force (adopted ones included),
	 * none for the others. */
	ps_daemon_shape_sync(d, NULL, 0);
	return 0;
}

/* The tick and the policy, the escalation where the last stop left it. */
static int start_policy(struct ps_daemon *d)
{
	char path[4200], lerr[4300];
	int n, err;

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
	ps_daemon_yield_init(d);
	snprintf(path, sizeof(path), "%s/" PS_ESCALATION_FILE, d->state_dir);
	n = ps_detect_load(d->pol.det, path, lerr, sizeof(lerr));
	if (n < 0)
		set_aside(path, lerr, "escalation starts afresh");
	else if (n > 0)
		pr_info("penstockd: escalation of %d subjects restored from %s\n", n, path);
	return 0;
}

/*
 * The programs of the replaced datapath are off the interfaces now, so
 * its counters move no more: what they counted since a daemon last read
 * them goes into the client table, as a tick would put it, and the fresh
 * maps start new incarnations of the same clients.
 */
static void fold_replaced(struct ps_daemon *d)
{
	uint64_t wall_ns;
	int64_t b2w;
	int n;

	ps_clock(&wall_ns, &b2w);
	n = ps_adopt_read_counts(&d->prev, &d->table, wall_ns / 1000000000ULL, b2w);
	if (n < 0)
		pr_warn("penstockd: reading the replaced datapath's counters: %s\n",
			strerror(-n));
	else if (d->prev.ctrs_readable)
		pr_info("penstockd: the counters of %d clients read from the replaced datapath\n",
			n);
	ps_adopt_close(&d->prev);
}

/* ---- privileges ---- */

/*
 * What penstockd keeps once its programs are loaded and attached and its
 * socket and files are open, each for what needs it:
 *   CAP_NET_ADMIN  netlink: the tc filters and clsact qdisc of interfaces a
 *                  reload adds or removes, XDP attach and detach, the HTB
 *                  root qdisc and classes of shaping, detaching at stop
 *   CAP_BPF        bpf() on the maps penstockd holds (the tick's reads,
 *                  enforcement entries, the endpoints of a reload), where
 *                  the kernel asks for it: before Linux 6.5, with
 *                  kernel.unprivileged_bpf_disabled set. Kept only if a
 *                  map read fails without it (drop_privileges tries one).
 * The rest only start needs, and goes: CAP_BPF and CAP_PERFMON load the
 * programs, CAP_SYS_ADMIN mounts bpffs and finds a previous daemon's XDP
 * program by its id, CAP_CHOWN gives the socket its group, CAP_SETPCAP cuts
 * the bounding set; any other root had, penstockd never used.
 */
static const cap_value_t run_caps[] = { CAP_NET_ADMIN, CAP_BPF };

/* A read of a map penstockd holds: 0, or -errno (-EPERM: the kernel wants CAP_BPF). */
static int map_read(void *ctx)
{
	struct ps_daemon *d = ctx;
	uint32_t key = 0;
	uint64_t v[1024];	/* ps_stats: a value per CPU */

	if (libbpf_num_possible_cpus() > (int)(sizeof(v) / sizeof(v[0])))
		return -EPERM;	/* cannot tell: keep it */
	return bpf_map_lookup_elem(bpf_map__fd(d->dp.skel->maps.ps_stats), &key, v) ? -errno : 0;
}

static int drop_privileges(struct ps_daemon *d)
{
	/* Tried with what it keeps but CAP_BPF (CAP_SETPCAP: still to cut the bounding set). */
	static const cap_value_t without_bpf[] = { CAP_NET_ADMIN, CAP_SETPCAP };
	int nkeep = sizeof(run_caps) / sizeof(run_caps[0]), r;
	char err[256], caps[256];

	r = ps_caps_try(without_bpf, 2, map_read, d);
	if (r && r != -EPERM && r != -EACCES) {
		pr_warn("penstockd: dropping privileges: a map read: %s\n", strerror(-r));
		return r;
	}
	if (!r)
		nkeep--;	/* CAP_BPF, last: this kernel lets penstockd read its maps without it */
	r = ps_caps_limit(run_caps, nkeep, err, sizeof(err));
	if (r) {
		pr_warn("penstockd: dropping privileges: %s\n", err);
		return r;
	}
	pr_info("penstockd: capabilities kept: %s\n", ps_caps_effective(caps, sizeof(caps))[0]
							 ? caps : "none");
	return 0;
}

int ps_daemon_setup(struct ps_daemon *d)
{
	char sockdir[4200], aerr[4200];
	int err;

	snprintf(sockdir, sizeof(sockdir), "%s", d->socket_path);
	snprintf(d->run_record, sizeof(d->run_record), "%s/datapath.json", dirname(sockdir));
	err = ps_control_listen(&d->ctl, d->socket_path, d->socket_group, d->socket_group_given);
	if (err)
		return err;
	d->owner = true;
	err = load_state(d);
	if (err)
		return err;
	/* The webhook's sender, at start and at every reload that makes one: by
	 * the metrics' starter once it runs (a thread that holds no
	 * capability, bounding set included), by this thread before. */
	ps_webhook_spawner(ps_metrics_spawn);
	d->alerts = ps_alerts_open(&d->cfg, aerr, sizeof(aerr));
	if (!d->alerts) {
		pr_warn("penstockd: %s\n", aerr);
		return -EINVAL;
	}
	err = open_datapath(d);
	if (!err)
		err = set_key_secret(d);
	if (!err)
		err = attach_all(d);
	if (!err)
		err = start_policy(d);
	if (err)
		return err;
	if (d->replacing)
		fold_replaced(d);
	/* The fleet's Redis: the address resolved and the password read now, as root. */
	err = ps_fleet_init(&d->fleet, &d->cfg, &d->table, aerr, sizeof(aerr));
	if (err) {
		pr_warn("penstockd: %s\n", aerr);
		return err;
	}
	d->fleet.on_alert = policy_alert;
	d->fleet.ctx = d;
	/* Catch up with what the datapath counted while no daemon ran. */
	ps_tick_run(&d->tick, &d->table);
	/* Before the drop: the metrics' starter may still cut its bounding set. */
	if (ps_metrics_starter(aerr, sizeof(aerr)))
		pr_warn("penstockd: %s; the metrics server's thread starts from the main "
			"thread's\n", aerr);
	err = drop_privileges(d);
	if (err)
		return err;
	err = ps_scrape_init(d);
	if (!err && ps_scrape_start(d, aerr, sizeof(aerr))) {
		pr_warn("penstockd: %s\n", aerr);
		err = -EADDRNOTAVAIL;
	}
	if (err)
		return err;
	pr_info("penstockd: %s the datapath: %d endpoints on %d interfaces, maps in %s%s%s, "
		"%u clients\n",
		d->adopted ? "adopted" : d->replacing ? "replaced" : "started",
		d->cfg.nendpoints, d->natt, d->pin_dir,
		d->adopted_from == PS_FROM_PROGRAMS ? " (found through its programs)" :
		d->adopted_from == PS_FROM_PINS ? " (found pinned)" : "",
		d->dp.kept[PS_PROG_INGRESS] ? ", its programs kept" : "", d->table.n);
	return 0;
}

void ps_daemon_teardown(struct ps_daemon *d)
{
	int i;

	if (!d->owner)
		return;		/* another daemon's datapath: not ours to touch */
	if (d->dp.skel)
		ps_daemon_save_manual(d);
	ps_daemon_save_escalation(d, true);
	if (!d->keep_datapath) {
		/* The root qdiscs back first: the classes go with the HTB. */
		ps_shape_restore(&d->shape);
		for (i = 0; i < d->natt; i++)
			ps_detach(&d->att[i]);
	}
	if (d->tick.slot_rec) {
		/* The last counts, after detaching: nothing comes in behind them;
		 * every client's, those the ticks had left for later among them. */
		d->tick.bounded = false;
		ps_tick_run(&d->tick, &d->table);
		ps_daemon_save_state(d);
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
	ps_scrape_stop(d);
	ps_scrape_free(d);
	ps_metrics_starter_stop();
	ps_adopt_close(&d->prev);
	ps_shape_free(&d->shape);
	ps_fleet_free(&d->fleet);
	ps_policy_free(&d->pol);
	ps_alerts_close(d->alerts);
	ps_control_close(&d->ctl);
	ps_ctable_free(&d->table);
}
