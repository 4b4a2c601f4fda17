// SPDX-License-Identifier: GPL-2.0-only
/*
 * libbpf 1.1 has no tcx links: the programs go on the clsact qdisc with
 * bpf_tc_hook_create()/bpf_tc_attach(), at a priority of their own, and
 * only what penstock created is destroyed.
 */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "log.h"
#include "penstock.skel.h"

#define PS_TC_HANDLE	0x5053	/* "PS" */
#define PS_TC_PRIORITY	0x5053

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

int ps_attach(struct ps_datapath *dp, const char *ifname, struct ps_attachment *a)
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
	pr_info("penstockd: attached to %s (ifindex %d, clsact %s)\n", ifname, a->ifindex,
		a->created_qdisc ? "created" : "existing");
	return 0;
}

void ps_detach(struct ps_attachment *a)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	if (a->ingress)
		detach_one(a->ifindex, BPF_TC_INGRESS);
	if (a->egress)
		detach_one(a->ifindex, BPF_TC_EGRESS);
	if (a->created_qdisc)
		bpf_tc_hook_destroy(&hook);
	a->ingress = a->egress = a->created_qdisc = false;
}
