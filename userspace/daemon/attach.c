// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon/: penstockd: its options (main.c), start and reload (setup.c),
 * loop and tick (loop.c), control socket (control.c) and the handlers of
 * its requests (handlers*.c), and the attachment of the datapath to
 * interfaces (this file).
 *
 * libbpf 1.1 has no tcx links: the programs go on the clsact qdisc with
 * bpf_tc_hook_create()/bpf_tc_attach(), at a priority of their own, and
 * only what penstock created is destroyed.
 */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/config.h"
#include "common/log.h"
#include "common/netdev.h"
#include "daemon/attach.h"
#include "penstock.skel.h"

static int attach_one(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PS_TC_HANDLE,
			    .priority = PS_TC_PRIORITY, .prog_fd = prog_fd,
			    .flags = BPF_TC_F_REPLACE);

	return bpf_tc_attach(&hook, &opts);
}

static void detach_one(int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PS_TC_HANDLE,
			    .priority = PS_TC_PRIORITY);

	bpf_tc_detach(&hook, &opts);
}

/* The id of a program, 0 when unknown. */
static __u32 prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/*
 * Is the XDP program with this id penstock's: ours (its id known), or a
 * previous daemon's? Another program is looked up by its id, which takes
 * CAP_SYS_ADMIN: penstockd has it at start (adopting an attachment), not
 * once it has dropped it, nor in a container that does not grant it; then
 * only ours and those the previous daemon's run record names (the ids it
 * attached) are known as penstock's.
 */
static __u32 prev_xdp[PS_MAX_IFACES];	/* the previous daemon's, from its run record */
static int nprev_xdp;

void ps_attach_prev_xdp(__u32 id)
{
	if (id && nprev_xdp < PS_MAX_IFACES)
		prev_xdp[nprev_xdp++] = id;
}

static bool xdp_is_ours(__u32 id, __u32 our_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, i;
	bool ours;

	if (id == our_id)
		return true;
	for (i = 0; i < nprev_xdp; i++)
		if (id == prev_xdp[i])
			return true;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, "ps_xdp");
	close(fd);
	return ours;
}

static void detach_xdp(struct ps_attachment *a);

/*
 * ps_xdp on the interface, or not, as mode says. On veth, any XDP program
 * takes TSO and GSO from the peer (the kernel's veth_fix_features): every
 * segment of the peer's then crosses one MTU at a time, which costs a bulk
 * transfer far more CPU (make bench-peers); so xdp: auto leaves veth to
 * tc, which blocks as well, a little later.
 */
static void attach_xdp(struct ps_datapath *dp, struct ps_attachment *a, int mode)
{
	libbpf_print_fn_t prev;
	__u32 cur = 0;
	int err;

	a->xdp_prog_id = prog_id(dp->xdp_fd);
	if (mode == PS_XDP_OFF || (mode == PS_XDP_AUTO && ps_if_is_veth(a->ifname))) {
		/* A previous daemon's ps_xdp goes (adopted, or after a reload). */
		if (!bpf_xdp_query_id(a->ifindex, XDP_FLAGS_DRV_MODE, &cur) && cur &&
		    xdp_is_ours(cur, a->xdp_prog_id))
			detach_xdp(a);
		a->xdp = false;
		pr_info("penstockd: %s: %s; blocks are applied in tc\n", a->ifname,
			mode == PS_XDP_OFF ? "xdp: off" :
			"a veth, where XDP would take TSO and GSO from its peer (xdp: on attaches it)");
		return;
	}
	if (a->xdp)
		return;
	if (!bpf_xdp_query_id(a->ifindex, XDP_FLAGS_DRV_MODE, &cur) && cur &&
	    !xdp_is_ours(cur, a->xdp_prog_id)) {
		pr_info("penstockd: %s: another XDP program (id %u) is attached; blocks are "
			"applied in tc\n", a->ifname, cur);
		return;
	}
	prev = libbpf_set_print(NULL);
	err = bpf_xdp_attach(a->ifindex, dp->xdp_fd, XDP_FLAGS_DRV_MODE, NULL);
	libbpf_set_print(prev);
	if (err) {
		pr_info("penstockd: %s: no XDP in the driver (%s); blocks are applied in tc\n",
			a->ifname, strerror(-err));
		return;
	}
	a->xdp = true;
}

static void detach_xdp(struct ps_attachment *a)
{
	__u32 cur = 0;

	if (!bpf_xdp_query_id(a->ifindex, XDP_FLAGS_DRV_MODE, &cur) && cur &&
	    xdp_is_ours(cur, a->xdp_prog_id))
		bpf_xdp_detach(a->ifindex, XDP_FLAGS_DRV_MODE, NULL);
	a->xdp = false;
}

void ps_attach_xdp(struct ps_datapath *dp, struct ps_attachment *a, int mode)
{
	attach_xdp(dp, a, mode);
}

int ps_attach(struct ps_datapath *dp, const char *ifname, struct ps_attachment *a, int xdp_mode)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err;

	memset(a, 0, sizeof(*a));
	snprintf(a->ifname, sizeof(a->ifname), "%s", ifname);
	a->ifindex = if_nametoindex(ifname);
	if (!a->ifindex) {
		err = -errno;
		pr_warn("penstockd: interface %s: %s\n", ifname, strerror(errno));
		return err;
	}
	hook.ifindex = a->ifindex;
	/* An existing clsact is fine: keep libbpf from reporting the kernel's
	 * "Exclusivity flag on" for it. */
	{
		libbpf_print_fn_t prev = libbpf_set_print(NULL);

		err = bpf_tc_hook_create(&hook);
		libbpf_set_print(prev);
	}
	if (err && err != -EEXIST) {
		pr_warn("penstockd: %s: cannot create the clsact qdisc: %s\n", ifname,
			strerror(-err));
		return err;
	}
	a->created_qdisc = !err;
	err = attach_one(a->ifindex, BPF_TC_INGRESS, dp->ingress_fd);
	if (!err) {
		a->ingress = true;
		err = attach_one(a->ifindex, BPF_TC_EGRESS, dp->egress_fd);
	}
	if (err) {
		pr_warn("penstockd: %s: cannot attach: %s\n", ifname, strerror(-err));
		ps_detach(a);
		return err;
	}
	a->egress = true;
	attach_xdp(dp, a, xdp_mode);
	pr_info("penstockd: attached to %s (ifindex %d, clsact %s%s)\n", ifname, a->ifindex,
		a->created_qdisc ? "created" : "existing", a->xdp ? ", XDP" : "");
	return 0;
}

void ps_detach(struct ps_attachment *a)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	if (a->xdp)
		detach_xdp(a);
	if (a->ingress)
		detach_one(a->ifindex, BPF_TC_INGRESS);
	if (a->egress)
		detach_one(a->ifindex, BPF_TC_EGRESS);
	if (a->created_qdisc)
		bpf_tc_hook_destroy(&hook);
	a->ingress = a->egress = a->created_qdisc = false;
}
