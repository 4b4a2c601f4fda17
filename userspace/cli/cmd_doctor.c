// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstock doctor: what this host gives penstock and what stands in its
 * way, one check a line, each ok, warn or fail with what was found and
 * what to do. It asks the kernel itself (libbpf's probes, a throwaway
 * network namespace for the qdiscs, netlink through libnl for the qdiscs,
 * filters and XDP features of each interface, /proc for the listening
 * sockets), loads the configuration with penstockd's own loader, and asks
 * penstockd over its control socket. It changes nothing on the host.
 *
 * Exit status: 0 every check ok, 1 a warning and no failure, 2 a failure
 * (or bad usage).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/pkt_sched.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/route/classifier.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/opts.h"
#include "common/config.h"
#include "common/datapath.h"
#include "common/netdev.h"
#include "daemon/attach.h"
#include "penstock.skel.h"

#define DEFAULT_CONFIG	"/etc/penstock/penstock.yaml"
#define BTF_PATH	"/sys/kernel/btf/vmlinux"
#define BPFFS		"/sys/fs/bpf"
#define JIT_SYSCTL	"/proc/sys/net/core/bpf_jit_enable"

/* tcx (Linux 6.6): not in the uAPI headers this builds against. */
#define TCX_INGRESS	46
#define TCX_EGRESS	47
/* The netdev generic netlink family (Linux 6.3, include/uapi/linux/netdev.h). */
#define NETDEV_CMD_DEV_GET		1
#define NETDEV_A_DEV_IFINDEX		1
#define NETDEV_A_DEV_XDP_FEATURES	3
#define NETDEV_A_DEV_MAX		8
#define NETDEV_XDP_ACT_BASIC		1

enum status { OK = 0, WARN, FAIL };
static const char *const status_names[] = { "ok", "warn", "fail" };

#define MAX_CHECKS	(16 + 4 * PS_MAX_IFACES + PS_MAX_ENDPOINTS)
#define TEXT_MAX	768

struct check {
	char name[48];
	enum status st;
	char found[TEXT_MAX];
	char todo[TEXT_MAX];
};

struct doctor {
	struct check v[MAX_CHECKS];
	int n;
	bool root;		/* privileged enough for the probes (CAP_BPF, CAP_NET_ADMIN, ...) */
	bool have_cfg;
	struct ps_config *cfg;
	const char *config_path;
	const char *socket;
	long daemon_pid;	/* from its status, 0 when not asked */
};

static const char doctor_usage[] =
	"usage: penstock doctor [--config FILE] [--socket PATH] [--json]\n"
	"\n"
	"Check what this host gives penstock and what is in its way: the kernel's\n"
	"BTF, program types, bpf_loop, JIT, clsact and HTB qdiscs, the BPF file\n"
	"system, the memory the maps need, the caller's privileges, the\n"
	"configuration (read by penstockd's own loader), on each configured\n"
	"interface the XDP mode the driver gives and any other tool's XDP program,\n"
	"tc filters or root qdisc, whether each endpoint's port is listening, and\n"
	"whether penstockd runs and answers. Each check says ok, warn or fail,\n"
	"what it found and what to do. Nothing on the host is changed.\n"
	"\n"
	"  -c, --config FILE  the configuration (default " DEFAULT_CONFIG ")\n"
	PS_SOCKET_HELP
	"  -j, --json         {\"status\":..,\"checks\":[{\"check\",\"status\",\"found\",\"todo\"}]}\n"
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock doctor\n"
	"  penstock doctor --config ./penstock.yaml --json | jq '.checks[] | select(.status != \"ok\")'\n"
	"\n"
	"exit status: 0 every check ok, 1 a warning (and no failure), 2 a failure\n"
	"or bad usage\n";

struct doctor_opts {
	struct ps_opts_common c;
	const char *config;
};

const struct ps_cmd_opts ps_cmd_doctor_opts = {
	"doctor", doctor_usage, PS_OPTS_SOCKET | PS_OPTS_JSON,
	(const struct ps_opt[]){
		{ .name = "config", .key = 'c', .type = PS_OPT_STRING,
		  .off = offsetof(struct doctor_opts, config) },
		{},
	},
};

static void vappend(char *buf, const char *fmt, va_list ap)
{
	size_t len = strlen(buf);

	if (len < TEXT_MAX - 1)
		vsnprintf(buf + len, TEXT_MAX - len, fmt, ap);
}

/* A new check: its name, its status and what was found. */
__attribute__((format(printf, 4, 5)))
static struct check *add(struct doctor *d, const char *name, enum status st, const char *fmt, ...)
{
	static struct check spare;
	struct check *c = d->n < MAX_CHECKS ? &d->v[d->n++] : &spare;
	va_list ap;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->st = st;
	va_start(ap, fmt);
	vappend(c->found, fmt, ap);
	va_end(ap);
	return c;
}

/* What to do about it. */
__attribute__((format(printf, 2, 3)))
static void todo(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(c->todo, fmt, ap);
	va_end(ap);
}

/* More of what was found. */
__attribute__((format(printf, 2, 3)))
static void found(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(c->found, fmt, ap);
	va_end(ap);
}

static void worse(struct check *c, enum status st)
{
	if (st > c->st)
		c->st = st;
}

static int read_long(const char *path, long *v)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%ld", v) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

/* --- the caller ------------------------------------------------------------ */

/* What penstockd needs at start (etc/penstockd.service's CapabilityBoundingSet). */
static const struct {
	cap_value_t cap;
	bool must;	/* without it penstockd cannot start */
	const char *what;
} start_caps[] = {
	{ CAP_BPF, true, "load programs, create maps" },
	{ CAP_PERFMON, true, "load programs that read packet memory" },
	{ CAP_NET_ADMIN, true, "clsact, tc filters, XDP, HTB" },
	{ CAP_SYS_ADMIN, true, "mount bpffs, find programs by id (adoption)" },
	{ CAP_CHOWN, false, "give the control socket its group" },
	{ CAP_SETPCAP, false, "cut the bounding set once attached" },
};

static void check_privileges(struct doctor *d)
{
	cap_t cur = cap_get_proc();
	char missing[256] = "", lost[256] = "";
	cap_flag_value_t v;
	bool must_ok = true;
	struct check *c;
	size_t i;

	for (i = 0; i < sizeof(start_caps) / sizeof(start_caps[0]); i++) {
		char *name;

		if (cur && !cap_get_flag(cur, start_caps[i].cap, CAP_EFFECTIVE, &v) && v == CAP_SET)
			continue;
		name = cap_to_name(start_caps[i].cap);
		if (start_caps[i].must) {
			must_ok = false;
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 "%s%s (%s)", missing[0] ? ", " : "", name ? name : "?",
				 start_caps[i].what);
		} else {
			snprintf(lost + strlen(lost), sizeof(lost) - strlen(lost), "%s%s (%s)",
				 lost[0] ? ", " : "", name ? name : "?", start_caps[i].what);
		}
		cap_free(name);
	}
	cap_free(cur);
	d->root = must_ok;
	if (must_ok && !lost[0]) {
		add(d, "privileges", OK, "uid %u with every capability penstockd starts with",
		    (unsigned int)geteuid());
		return;
	}
	if (!must_ok) {
		c = add(d, "privileges", FAIL, "uid %u without %s: penstockd cannot start so, and "
			"the checks that need them were not run", (unsigned int)geteuid(), missing);
		todo(c, "run penstockd, and penstock doctor, as root (sudo penstock doctor); under "
		     "systemd, keep these in CapabilityBoundingSet");
		if (lost[0])
			found(c, "; also without %s", lost);
		return;
	}
	c = add(d, "privileges", WARN, "uid %u without %s", (unsigned int)geteuid(), lost);
	todo(c, "penstockd starts without them, but its socket is root's alone (no group) "
	     "and its bounding set stays whole; add them to CapabilityBoundingSet");
}

/* --- the kernel ------------------------------------------------------------ */

/* Bytes of machine code the kernel gave a two-instruction program, or -errno. */
static int jited(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, r;

	fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "ps_doctor_jit", "GPL", insns, 2, NULL);
	if (fd < 0)
		return fd;
	r = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : (int)info.jited_prog_len;
	close(fd);
	return r;
}

static void check_kernel(struct doctor *d)
{
	struct utsname u;
	struct check *c;
	struct stat st;
	struct btf *btf;
	long jit;
	int r;

	uname(&u);
	if (stat(BTF_PATH, &st)) {
		c = add(d, "btf", FAIL, "no %s (%s) on Linux %s", BTF_PATH, strerror(errno),
			u.release);
		todo(c, "penstock's programs need the kernel's BTF: a kernel built with "
		     "CONFIG_DEBUG_INFO_BTF=y (Debian's are)");
	} else if (!(btf = btf__load_vmlinux_btf())) {
		c = add(d, "btf", FAIL, "%s cannot be read: %s", BTF_PATH, strerror(errno));
		todo(c, "check the kernel's BTF (bpftool btf dump file %s | head)", BTF_PATH);
	} else {
		add(d, "btf", OK, "%s: %u types, Linux %s", BTF_PATH, btf__type_cnt(btf), u.release);
		btf__free(btf);
	}

	if (!d->root) {
		c = add(d, "bpf", WARN, "not probed: loading a program needs CAP_BPF");
		todo(c, "run penstock doctor as root");
	} else {
		int tc = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL);
		int xdp = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, NULL);
		int loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_loop, NULL);

		if (tc == 1 && xdp == 1 && loop == 1) {
			add(d, "bpf", OK, "tc and XDP programs load, bpf_loop is there");
		} else {
			c = add(d, "bpf", FAIL, "tc programs %s, XDP programs %s, bpf_loop %s",
				tc == 1 ? "load" : "do not load", xdp == 1 ? "load" : "do not load",
				loop == 1 ? "there" : "missing");
			todo(c, "penstock needs Linux 5.17 or newer with CONFIG_BPF_SYSCALL, "
			     "CONFIG_NET_CLS_BPF and CONFIG_XDP_SOCKETS' BPF support");
		}
	}

	r = d->root ? jited() : -EPERM;
	if (r > 0) {
		add(d, "jit", OK, "programs are JIT-compiled (a probe program: %d bytes of "
		    "machine code)", r);
		return;
	}
	if (r == 0) {
		c = add(d, "jit", WARN, "programs are interpreted (a probe program got no "
			"machine code)");
		todo(c, "sysctl -w net.core.bpf_jit_enable=1 (and in /etc/sysctl.d/); without "
		     "the JIT every packet costs several times more");
		return;
	}
	/* The sysctl is the initial network namespace's only. */
	r = read_long(JIT_SYSCTL, &jit);
	if (r) {
		c = add(d, "jit", WARN, "not known: no probe program (it needs CAP_BPF) and "
			"%s: %s", JIT_SYSCTL, strerror(-r));
		todo(c, "run penstock doctor as root");
	} else if (!jit) {
		c = add(d, "jit", WARN, "net.core.bpf_jit_enable = 0: programs are interpreted");
		todo(c, "sysctl -w net.core.bpf_jit_enable=1 (and in /etc/sysctl.d/)");
	} else {
		add(d, "jit", OK, "net.core.bpf_jit_enable = %ld", jit);
	}
}

/*
 * clsact and HTB, tried for real on the loopback of a network namespace
 * made for the purpose and gone with the child that made it: the host's
 * interfaces are never touched. The child's status: 100 no namespace, else
 * bit 0 clsact failed, bit 1 HTB failed.
 */
static int probe_qdiscs_child(void)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1, .attach_point = BPF_TC_INGRESS);
	struct rtnl_qdisc *q = NULL;
	struct nl_sock *sk = NULL;
	int code = 0;

	if (unshare(CLONE_NEWNET))
		return 100;
	libbpf_set_print(NULL);
	if (bpf_tc_hook_create(&hook))
		code |= 1;
	sk = nl_socket_alloc();
	q = rtnl_qdisc_alloc();
	if (!sk || !q || nl_connect(sk, NETLINK_ROUTE)) {
		code |= 2;
	} else {
		rtnl_tc_set_ifindex(TC_CAST(q), 1);
		rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
		rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(1, 0));
		if (rtnl_tc_set_kind(TC_CAST(q), "htb") || rtnl_qdisc_add(sk, q, NLM_F_CREATE))
			code |= 2;
	}
	rtnl_qdisc_put(q);
	nl_socket_free(sk);
	return code;
}

static void check_qdiscs(struct doctor *d)
{
	struct check *c;
	pid_t pid;
	int ws = 0;

	if (!d->root) {
		c = add(d, "qdiscs", WARN, "clsact and HTB not probed: it needs CAP_SYS_ADMIN and "
			"CAP_NET_ADMIN");
		todo(c, "run penstock doctor as root");
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(probe_qdiscs_child());
	if (pid < 0 || waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) == 100) {
		c = add(d, "qdiscs", WARN, "clsact and HTB not probed: no network namespace "
			"of our own");
		todo(c, "run penstock doctor as root, outside a restricted container");
		return;
	}
	if (WEXITSTATUS(ws) & 1) {
		c = add(d, "clsact", FAIL, "the clsact qdisc cannot be created");
		todo(c, "penstock's programs go on clsact: a kernel with CONFIG_NET_SCH_INGRESS "
		     "(modprobe sch_ingress)");
	} else {
		add(d, "clsact", OK, "the clsact qdisc can be created");
	}
	if (WEXITSTATUS(ws) & 2) {
		c = add(d, "htb", WARN, "the HTB qdisc cannot be created: shaping "
			"(on_exceed: shape, shape steps, throttle --rate) will fail");
		todo(c, "a kernel with CONFIG_NET_SCH_HTB (modprobe sch_htb), or no shaping in "
		     "the configuration");
	} else {
		add(d, "htb", OK, "the HTB qdisc can be created (shaping)");
	}
}

static void check_bpffs(struct doctor *d)
{
	struct statfs sf;
	struct check *c;

	if (statfs(BPFFS, &sf)) {
		c = add(d, "bpffs", WARN, "%s: %s", BPFFS, strerror(errno));
		todo(c, "mount the BPF file system: mount -t bpf bpf %s (systemd's "
		     "sys-fs-bpf.mount does it at boot)", BPFFS);
	} else if ((unsigned long)sf.f_type != BPF_FS_MAGIC) {
		c = add(d, "bpffs", WARN, "%s is not a BPF file system: penstockd mounts one at "
			"start, seen by its mount namespace only", BPFFS);
		todo(c, "mount it on the host so that the pins outlive penstockd and penstock "
		     "sees them: mount -t bpf bpf %s (systemd's sys-fs-bpf.mount)", BPFFS);
	} else {
		add(d, "bpffs", OK, "%s is a BPF file system", BPFFS);
	}
}

/*
 * The memory limit file of a process's memory cgroup: cgroup v1's memory
 * controller (memory.limit_in_bytes) where it is mounted, else cgroup v2's
 * memory.max, from /proc/PID/cgroup.
 */
static int memory_limit_file(long pid, char *buf, size_t len)
{
	char path[64], line[4000], v2[4000] = "";
	struct stat st;
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), pid ? "/proc/%ld/cgroup" : "/proc/self/cgroup", pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *ctl = strchr(line, ':'), *cg = ctl ? strchr(ctl + 1, ':') : NULL;

		if (!cg)
			continue;
		line[strcspn(line, "\n")] = 0;
		*cg++ = 0;
		if (!strcmp(ctl + 1, "")) {
			snprintf(v2, sizeof(v2), "%s", cg);
		} else if (strstr(ctl + 1, "memory")) {
			snprintf(buf, len, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", cg);
			if (!stat(buf, &st))
				ret = 0;
		}
	}
	fclose(f);
	if (ret && v2[0]) {
		snprintf(buf, len, "/sys/fs/cgroup%s%smemory.max", v2,
			 v2[strlen(v2) - 1] == '/' ? "" : "/");
		ret = stat(buf, &st) ? -ENOENT : 0;
	}
	return ret;
}

/*
 * The memory of the maps penstockd would create for this configuration
 * (the object opened and sized as penstockd does, never loaded), against
 * what may hold it: RLIMIT_MEMLOCK before Linux 5.11, the cgroup's
 * memory.max since (maps are charged to the memory cgroup).
 */
static void check_memory(struct doctor *d)
{
	struct ps_dp_opts o = { .max_clients = d->have_cfg ? d->cfg->max_clients : 0 };
	struct ps_datapath dp;
	unsigned long long need = 0, limit = ULLONG_MAX;
	int ncpu = libbpf_num_possible_cpus(), maj = 0, min = 0;
	char path[4200], limit_s[64] = "max", where[160];
	struct bpf_map *m;
	struct utsname u;
	struct check *c;
	FILE *f;

	if (ps_dp_prepare(&dp, &o)) {
		c = add(d, "memory", WARN, "the BPF object cannot be opened to size its maps");
		todo(c, "rebuild penstock (make)");
		return;
	}
	bpf_object__for_each_map(m, dp.skel->obj) {
		enum bpf_map_type t = bpf_map__type(m);
		unsigned long long v = bpf_map__value_size(m);

		if (t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
		    t == BPF_MAP_TYPE_LRU_PERCPU_HASH)
			v = ((v + 7) & ~7ULL) * (ncpu > 0 ? ncpu : 1);
		need += (unsigned long long)bpf_map__max_entries(m) * (bpf_map__key_size(m) + v);
	}
	ps_dp_close(&dp);

	uname(&u);
	sscanf(u.release, "%d.%d", &maj, &min);
	if (maj < 5 || (maj == 5 && min < 11)) {
		struct rlimit rl;

		getrlimit(RLIMIT_MEMLOCK, &rl);
		limit = rl.rlim_cur == RLIM_INFINITY ? ULLONG_MAX : rl.rlim_cur;
		snprintf(where, sizeof(where), "RLIMIT_MEMLOCK (Linux %s charges maps to it)",
			 u.release);
	} else {
		snprintf(where, sizeof(where), "no memory cgroup limit found");
		if (!memory_limit_file(d->daemon_pid, path, sizeof(path))) {
			f = fopen(path, "r");
			if (f) {
				/* v1 says "no limit" with a page-rounded LLONG_MAX. */
				if (fscanf(f, "%63s", limit_s) == 1 && strcmp(limit_s, "max") &&
				    strtoull(limit_s, NULL, 10) < (1ULL << 62))
					limit = strtoull(limit_s, NULL, 10);
				else
					snprintf(limit_s, sizeof(limit_s), "max");
				fclose(f);
			}
			snprintf(where, sizeof(where), "%s of %s's memory cgroup",
				 strrchr(path, '/') + 1, d->daemon_pid ? "penstockd" : "this process");
		}
	}
	if (need > limit) {
		c = add(d, "memory", FAIL, "the maps for max_clients %u take about %llu MiB, "
			"above %s (%llu MiB)", o.max_clients ? o.max_clients : PS_MAX_CLIENTS,
			need >> 20, where, limit >> 20);
		todo(c, "raise the limit (MemoryMax= of the unit, ulimit -l) or lower max_clients");
	} else if (limit != ULLONG_MAX && need > limit / 10 * 8) {
		c = add(d, "memory", WARN, "the maps for max_clients %u take about %llu MiB, "
			"most of %s (%llu MiB)", o.max_clients ? o.max_clients : PS_MAX_CLIENTS,
			need >> 20, where, limit >> 20);
		todo(c, "leave room for penstockd's client table: raise the limit or lower "
		     "max_clients");
	} else {
		add(d, "memory", OK, "the maps for max_clients %u take about %llu MiB; %s: %s",
		    o.max_clients ? o.max_clients : PS_MAX_CLIENTS, need >> 20, where,
		    limit == ULLONG_MAX ? "no limit" : limit_s);
	}
}

/* --- the configuration ----------------------------------------------------- */

static void check_config(struct doctor *d)
{
	char err[1024];
	struct check *c;
	int r;

	r = ps_config_load(d->config_path, d->cfg, err, sizeof(err));
	if (r) {
		c = add(d, "config", FAIL, "%s", err);
		todo(c, "fix the file (penstockd --check-config --config %s checks it); "
		     "the interfaces and endpoints were not checked, the memory for the default "
		     "max_clients",
		     d->config_path);
		return;
	}
	d->have_cfg = true;
	if (!d->cfg->nifaces) {
		c = add(d, "config", FAIL, "%s names no interface: penstockd will not start",
			d->config_path);
		todo(c, "list where to attach: interfaces: [eth0]");
		return;
	}
	add(d, "config", OK, "%s: %d interface%s, %d endpoint%s", d->config_path,
	    d->cfg->nifaces, d->cfg->nifaces == 1 ? "" : "s", d->cfg->nendpoints,
	    d->cfg->nendpoints == 1 ? "" : "s");
}

/* --- each interface -------------------------------------------------------- */

struct xdp_features {
	bool known;
	uint64_t flags;
};

static int xdp_features_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[NETDEV_A_DEV_MAX + 1];
	struct xdp_features *xf = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, NETDEV_A_DEV_MAX, NULL) ||
	    !tb[NETDEV_A_DEV_XDP_FEATURES])
		return NL_SKIP;
	xf->known = true;
	xf->flags = nla_get_u64(tb[NETDEV_A_DEV_XDP_FEATURES]);
	return NL_OK;
}

/* The XDP features the driver announces (Linux 6.3's netdev family). */
static int xdp_features(int ifindex, struct xdp_features *xf)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = NULL;
	int fam, ret = -ENOTSUP;

	memset(xf, 0, sizeof(*xf));
	if (!sk || genl_connect(sk))
		goto out;
	fam = genl_ctrl_resolve(sk, "netdev");
	if (fam < 0)
		goto out;
	msg = nlmsg_alloc();
	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, fam, 0, 0,
				 NETDEV_CMD_DEV_GET, 1) ||
	    nla_put_u32(msg, NETDEV_A_DEV_IFINDEX, ifindex))
		goto out;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, xdp_features_cb, xf);
	if (nl_send_auto(sk, msg) < 0 || nl_recvmsgs_default(sk) < 0)
		goto out;
	ret = xf->known ? 0 : -ENOTSUP;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ret;
}

/* A program's name by its id ("id N" when it cannot be opened: that needs CAP_SYS_ADMIN). */
static const char *prog_name(__u32 id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &ilen) && info.name[0])
		snprintf(buf, len, "%s (id %u)", info.name, id);
	else
		snprintf(buf, len, "id %u", id);
	if (fd >= 0)
		close(fd);
	return buf;
}

/* Is program id named name: 1 or 0, -errno when it cannot be opened (CAP_SYS_ADMIN). */
static int prog_is(__u32 id, const char *name)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), is;

	if (fd < 0)
		return -errno;
	is = !bpf_obj_get_info_by_fd(fd, &info, &ilen) && !strcmp(info.name, name);
	close(fd);
	return is;
}

static void check_xdp(struct doctor *d, const char *ifname, int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct xdp_features xf;
	char name[64], buf[128];
	struct check *c;
	__u32 foreign = 0;
	const char *mode = "";
	int ours;

	snprintf(name, sizeof(name), "xdp %s", ifname);
	if (d->have_cfg && (d->cfg->xdp == PS_XDP_OFF ||
			    (d->cfg->xdp == PS_XDP_AUTO && ps_if_is_veth(ifname)))) {
		c = add(d, name, OK, d->cfg->xdp == PS_XDP_OFF ?
			"xdp: off: blocks are applied in tc" :
			"a veth, which xdp: auto leaves to tc (XDP on a veth takes TSO and GSO "
			"from its peer): blocks are applied in tc");
	} else if (!xdp_features(ifindex, &xf) && (xf.flags & NETDEV_XDP_ACT_BASIC)) {
		c = add(d, name, OK, "the driver runs XDP (native): blocks drop there");
	} else if (xf.known) {
		c = add(d, name, WARN, "the driver has no native XDP: blocks are applied in tc, "
			"after the kernel has built each packet");
		todo(c, "nothing to do for counting; a NIC whose driver runs XDP drops blocked "
		     "clients earlier");
	} else {
		c = add(d, name, WARN, "the kernel does not say whether the driver runs XDP "
			"(no netdev netlink family before Linux 6.3)");
		todo(c, "penstockd tries native XDP and says in its log whether it got it");
	}
	if (bpf_xdp_query(ifindex, 0, &q))
		return;
	ours = q.drv_prog_id ? prog_is(q.drv_prog_id, "ps_xdp") : 0;
	if (ours < 0) {
		found(c, "; an XDP program is attached (id %u), not identified without "
		      "CAP_SYS_ADMIN", q.drv_prog_id);
		return;
	}
	if (q.drv_prog_id && !ours) {
		foreign = q.drv_prog_id;
		mode = "native";
	} else if (q.skb_prog_id) {
		foreign = q.skb_prog_id;
		mode = "generic";
	} else if (q.hw_prog_id) {
		foreign = q.hw_prog_id;
		mode = "offloaded";
	}
	if (q.drv_prog_id && !foreign)
		found(c, "; penstock's ps_xdp is attached");
	if (foreign) {
		worse(c, WARN);
		found(c, "; another XDP program is attached (%s mode): %s", mode,
		      prog_name(foreign, buf, sizeof(buf)));
		todo(c, "%sit sees every packet before penstock and may drop or redirect what "
		     "penstock should count, and penstock's blocks fall back to tc; find its "
		     "owner (bpftool net show dev %s) and remove it (ip link set dev %s xdp off) "
		     "or move penstock behind it", c->todo[0] ? "; " : "", ifname, ifname);
	}
}

/* One filter priority seen on a clsact hook. */
struct filter_seen {
	uint16_t prio;
	uint32_t handle;
	char kind[16];
};

static int list_filters(struct nl_sock *sk, int ifindex, uint32_t parent,
			struct filter_seen *out, int max)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int n = 0, i;

	if (rtnl_cls_alloc_cache(sk, ifindex, parent, &cache))
		return -EIO;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_cls *cls = (struct rtnl_cls *)o;
		uint16_t prio = rtnl_cls_get_prio(cls);
		uint32_t handle = rtnl_tc_get_handle(TC_CAST(cls));

		/* A dump has a line per priority (handle 0) and one per filter. */
		for (i = 0; i < n && out[i].prio != prio; i++)
			;
		if (i < n) {
			if (!out[i].handle)
				out[i].handle = handle;
			continue;
		}
		if (n == max)
			break;
		out[n].prio = prio;
		out[n].handle = handle;
		snprintf(out[n].kind, sizeof(out[n].kind), "%s",
			 rtnl_tc_get_kind(TC_CAST(cls)) ?: "?");
		n++;
	}
	nl_cache_free(cache);
	return n;
}

static void describe_filters(struct check *c, const char *hookname, int ifindex,
			     enum bpf_tc_attach_point where, const struct filter_seen *f, int n,
			     int *ours, int *others)
{
	char buf[128];
	int i;

	for (i = 0; i < n; i++) {
		if (f[i].prio == PS_TC_PRIORITY && !strcmp(f[i].kind, "bpf")) {
			(*ours)++;
			continue;
		}
		(*others)++;
		found(c, "%s %s: %s filter, priority %u, handle 0x%x", *others > 1 ? "," : ";",
		      hookname, f[i].kind, f[i].prio, f[i].handle);
		if (!strcmp(f[i].kind, "bpf") && f[i].handle) {
			DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
					    .attach_point = where);
			DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f[i].handle,
					    .priority = f[i].prio);

			if (!bpf_tc_query(&hook, &opts))
				found(c, ", program %s", prog_name(opts.prog_id, buf, sizeof(buf)));
		}
		found(c, f[i].prio < PS_TC_PRIORITY ? " (runs before penstock's)" :
		      " (runs after penstock's)");
	}
}

/* Root qdiscs a system puts there by itself. */
static bool default_root(const char *kind)
{
	static const char *const kinds[] = { "noqueue", "pfifo_fast", "mq", "fq_codel", "fq",
					     NULL };
	int i;

	for (i = 0; kinds[i]; i++)
		if (!strcmp(kind, kinds[i]))
			return true;
	return false;
}

static void check_tc(struct doctor *d, struct nl_sock *sk, const char *ifname, int ifindex)
{
	struct filter_seen f[32];
	struct nl_cache *qc = NULL;
	struct nl_object *o;
	char name[64], root[32] = "", clsact[16] = "";
	uint32_t root_handle = 0;
	__u32 ids[8], cnt, flags;
	int ours = 0, others = 0, n, i;
	struct check *c;

	snprintf(name, sizeof(name), "tc %s", ifname);
	if (rtnl_qdisc_alloc_cache(sk, &qc)) {
		c = add(d, name, WARN, "the qdiscs cannot be listed");
		todo(c, "check netlink (tc qdisc show dev %s)", ifname);
		return;
	}
	for (o = nl_cache_get_first(qc); o; o = nl_cache_get_next(o)) {
		struct rtnl_tc *t = TC_CAST(o);
		const char *k = rtnl_tc_get_kind(t) ?: "?";

		if (rtnl_tc_get_ifindex(t) != ifindex)
			continue;
		if (rtnl_tc_get_parent(t) == TC_H_ROOT) {
			snprintf(root, sizeof(root), "%s", k);
			root_handle = rtnl_tc_get_handle(t);
		} else if (rtnl_tc_get_parent(t) == TC_H_INGRESS) {
			snprintf(clsact, sizeof(clsact), "%s", k);
		}
	}
	nl_cache_free(qc);

	c = add(d, name, OK, "root qdisc %s", root[0] ? root : "none");
	if (root_handle == TC_H_MAKE((uint32_t)PS_SHAPE_MAJOR << 16, 0) && !strcmp(root, "htb"))
		found(c, " (penstock's, for shaping)");
	else if (root[0] && !default_root(root)) {
		worse(c, WARN);
		found(c, " %x: (another tool's)", TC_H_MAJ(root_handle) >> 16);
		todo(c, "penstockd puts its HTB in place of this root qdisc while a client is "
		     "shaped, and puts it back after; keep the other tool's shaping off this "
		     "interface, or penstock's shaping off (no on_exceed: shape, no shape step)");
	}
	if (!clsact[0]) {
		found(c, "; no clsact (penstockd creates one)");
	} else if (strcmp(clsact, "clsact")) {
		worse(c, FAIL);
		found(c, "; an %s qdisc where penstockd puts clsact", clsact);
		todo(c, "%sremove it (tc qdisc del dev %s ingress) or move its filters to "
		     "clsact", c->todo[0] ? "; " : "", ifname);
	} else {
		n = list_filters(sk, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), f, 32);
		if (n > 0)
			describe_filters(c, "ingress", ifindex, BPF_TC_INGRESS, f, n, &ours, &others);
		n = list_filters(sk, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), f, 32);
		if (n > 0)
			describe_filters(c, "egress", ifindex, BPF_TC_EGRESS, f, n, &ours, &others);
		found(c, "; clsact with %d filter%s of penstock's", ours, ours == 1 ? "" : "s");
	}
	/* tcx programs run before any clsact filter. */
	for (i = 0; i < 2; i++) {
		cnt = sizeof(ids) / sizeof(ids[0]);
		if (bpf_prog_query(ifindex, i ? TCX_EGRESS : TCX_INGRESS, 0, &flags, ids, &cnt) ||
		    !cnt)
			continue;
		for (n = 0; n < (int)cnt; n++) {
			char buf[128];

			others++;
			found(c, "; tcx %s: program %s (runs before penstock's)",
			      i ? "egress" : "ingress", prog_name(ids[n], buf, sizeof(buf)));
		}
	}
	if (others) {
		worse(c, WARN);
		todo(c, "%sanother tool's filters are on this interface: one that runs before "
		     "penstock's and drops or redirects packets hides them from penstock, one "
		     "after may undo its verdicts; find the owner (bpftool net show dev %s, "
		     "tc filter show dev %s ingress) and make sure it passes the endpoints' "
		     "traffic on", c->todo[0] ? "; " : "", ifname, ifname);
	}
}

static void check_interfaces(struct doctor *d)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct check *c;
	int i;

	if (!sk || nl_connect(sk, NETLINK_ROUTE)) {
		c = add(d, "netlink", FAIL, "no route netlink socket");
		todo(c, "check the kernel's netlink");
		nl_socket_free(sk);
		return;
	}
	for (i = 0; i < d->cfg->nifaces; i++) {
		const char *ifname = d->cfg->ifaces[i];
		int ifindex = if_nametoindex(ifname);
		char name[64];

		snprintf(name, sizeof(name), "interface %s", ifname);
		if (!ifindex) {
			c = add(d, name, FAIL, "no interface %s in this network namespace (%s)",
				ifname, strerror(errno));
			todo(c, "fix interfaces: in the configuration (ip link shows the names), "
			     "or run penstock doctor in penstockd's network namespace");
			continue;
		}
		add(d, name, OK, "ifindex %d", ifindex);
		check_xdp(d, ifname, ifindex);
		check_tc(d, sk, ifname, ifindex);
	}
	nl_socket_free(sk);
}

/* --- the endpoints --------------------------------------------------------- */

/* Is anything listening on TCP port in /proc/net/tcp or tcp6 (this network namespace)? */
static int listening(const char *file, int port)
{
	char line[512];
	unsigned int lport, state;
	int found_it = 0;
	FILE *f = fopen(file, "r");

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {	/* the header */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", &lport, &state) == 2 &&
		    state == 0x0A && (int)lport == port)
			found_it = 1;
	fclose(f);
	return found_it;
}

static void check_ports(struct doctor *d)
{
	struct check *c;
	int i;

	for (i = 0; i < d->cfg->nendpoints; i++) {
		const struct ps_endpoint_cfg *e = &d->cfg->endpoints[i];
		int v4 = listening("/proc/net/tcp", e->port);
		int v6 = listening("/proc/net/tcp6", e->port);
		char name[64];

		snprintf(name, sizeof(name), "port %s:%d", e->name, e->port);
		if (v4 > 0 || v6 > 0) {
			add(d, name, OK, "listening (%s%s%s)", v4 > 0 ? "IPv4" : "",
			    v4 > 0 && v6 > 0 ? ", " : "", v6 > 0 ? "IPv6" : "");
			continue;
		}
		c = add(d, name, WARN, "nothing listens on TCP port %d in this network namespace",
			e->port);
		todo(c, "start the inference server, or fix the endpoint's port (ss -ltnp shows "
		     "what listens where); penstock counts the port whatever listens");
	}
}

/* --- penstockd ------------------------------------------------------------- */

static void check_daemon(struct doctor *d)
{
	json_t *req = json_pack("{s:s}", "cmd", "status"), *ans, *dm, *ifs, *it;
	char err[512];
	struct check *c;
	struct stat st;
	size_t k;
	int i;

	if (stat(d->socket, &st) && errno == ENOENT) {
		c = add(d, "penstockd", WARN, "not running: no control socket at %s", d->socket);
		todo(c, "start it: systemctl start penstockd (or penstockd --config %s)",
		     d->config_path);
		json_decref(req);
		return;
	}
	ans = ps_ctl_request(d->socket, req, err, sizeof(err));
	json_decref(req);
	if (!ans) {
		bool denied = errno == EACCES;

		c = add(d, "penstockd", denied ? WARN : FAIL, "%s", err);
		if (denied)
			todo(c, "ask as root or as a member of the socket's group (group %s)",
			     PS_CONTROL_GROUP);
		else
			todo(c, "a socket nobody answers on is left by a penstockd that was killed: "
			     "start penstockd again (it takes the socket over and adopts the "
			     "datapath), and see its log (journalctl -u penstockd)");
		return;
	}
	if (!json_is_true(json_object_get(ans, "ok"))) {
		bool denied = json_is_true(json_object_get(ans, "denied"));

		c = add(d, "penstockd", denied ? WARN : FAIL, "%s: %s", d->socket,
			json_string_value(json_object_get(ans, "error")) ?: "refused");
		todo(c, denied ? "ask as root or as a member of the socket's group" :
		     "see penstockd's log (journalctl -u penstockd)");
		json_decref(ans);
		return;
	}
	dm = json_object_get(ans, "daemon");
	d->daemon_pid = (long)json_integer_value(json_object_get(dm, "pid"));
	c = add(d, "penstockd", OK, "pid %ld, version %s, answers on %s", d->daemon_pid,
		json_string_value(json_object_get(dm, "version")) ?: "?", d->socket);
	ifs = json_object_get(ans, "interfaces");
	for (i = 0; d->have_cfg && i < d->cfg->nifaces; i++) {
		bool on = false;

		json_array_foreach(ifs, k, it)
			if (!strcmp(json_string_value(json_object_get(it, "name")) ?: "",
				    d->cfg->ifaces[i]))
				on = json_is_true(json_object_get(it, "ingress")) &&
				     json_is_true(json_object_get(it, "egress"));
		if (!on) {
			worse(c, FAIL);
			found(c, "; not attached to %s", d->cfg->ifaces[i]);
			if (!c->todo[0])
				todo(c, "penstockd runs another configuration than %s: penstock "
				     "reload, or penstock status for what it runs", d->config_path);
		}
	}
	json_decref(ans);
}

/* --- output ---------------------------------------------------------------- */

static enum status overall(const struct doctor *d)
{
	enum status st = OK;
	int i;

	for (i = 0; i < d->n; i++)
		if (d->v[i].st > st)
			st = d->v[i].st;
	return st;
}

static int print_json(const struct doctor *d)
{
	json_t *doc = json_object(), *arr = json_array();
	int i, n[3] = {};

	for (i = 0; i < d->n; i++) {
		json_t *o = json_pack("{s:s,s:s,s:s}", "check", d->v[i].name, "status",
				      status_names[d->v[i].st], "found", d->v[i].found);

		if (d->v[i].todo[0])
			json_object_set_new(o, "todo", json_string(d->v[i].todo));
		json_array_append_new(arr, o);
		n[d->v[i].st]++;
	}
	json_object_set_new(doc, "status", json_string(status_names[overall(d)]));
	json_object_set_new(doc, "ok", json_integer(n[OK]));
	json_object_set_new(doc, "warn", json_integer(n[WARN]));
	json_object_set_new(doc, "fail", json_integer(n[FAIL]));
	json_object_set_new(doc, "checks", arr);
	i = json_dumpf(doc, stdout, PS_JSON_DUMP);
	putchar('\n');
	json_decref(doc);
	return i ? -EIO : 0;
}

static void print_text(const struct doctor *d)
{
	int i, n[3] = {};

	for (i = 0; i < d->n; i++) {
		printf("%-4s  %-20s %s\n", status_names[d->v[i].st], d->v[i].name, d->v[i].found);
		if (d->v[i].todo[0])
			printf("%-4s  %-20s -> %s\n", "", "", d->v[i].todo);
		n[d->v[i].st]++;
	}
	printf("\n%d ok, %d warning%s, %d failure%s\n", n[OK], n[WARN], n[WARN] == 1 ? "" : "s",
	       n[FAIL], n[FAIL] == 1 ? "" : "s");
}

int ps_cmd_doctor(int argc, char **argv)
{
	struct doctor_opts o = {};
	struct doctor *d;
	int ret = ps_opts_parse(&ps_cmd_doctor_opts, argc, argv, &o);

	if (ret >= 0)
		return ret;
	d = calloc(1, sizeof(*d));
	if (d)
		d->cfg = calloc(1, sizeof(*d->cfg));
	if (!d || !d->cfg) {
		fprintf(stderr, "penstock doctor: out of memory\n");
		free(d);
		return PS_EXIT_FAIL;
	}
	d->config_path = o.config ? o.config : DEFAULT_CONFIG;
	d->socket = ps_ctl_socket_path(o.c.socket);
	libbpf_set_print(NULL);

	check_privileges(d);
	check_kernel(d);
	check_qdiscs(d);
	check_bpffs(d);
	check_config(d);
	if (d->have_cfg) {
		check_interfaces(d);
		check_ports(d);
	}
	check_daemon(d);
	check_memory(d);

	ret = overall(d);
	if (!o.c.json)
		print_text(d);
	else if (print_json(d))
		ret = FAIL;
	free(d->cfg);
	free(d);
	return ret;
}
