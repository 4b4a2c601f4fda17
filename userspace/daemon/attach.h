/* SPDX-License-Identifier: GPL-2.0-only */
/* Attaching the datapath to clsact ingress and egress of interfaces. */
#ifndef PS_ATTACH_H
#define PS_ATTACH_H

#include <stdbool.h>
#include <linux/types.h>

#include "common/datapath.h"

/* Penstock's tc filters: this handle and priority on clsact ingress and egress. */
#define PS_TC_HANDLE	0x5053	/* "PS" */
#define PS_TC_PRIORITY	0x5053

struct ps_attachment {
	int ifindex;
	char ifname[IF_NAMESIZE];
	bool created_qdisc;	/* clsact was created by us: destroy it on detach */
	bool ingress;
	bool egress;
	bool xdp;		/* ps_xdp attached in driver mode (blocks at XDP) */
	__u32 xdp_prog_id;	/* our ps_xdp's id: what detaching takes for ours */
};

/*
 * Attach both tc programs to ifname, and the XDP program as xdp_mode (enum
 * ps_xdp_mode) says, where the driver runs XDP and no other XDP program is
 * there. Returns 0 or -errno (message printed); XDP is optional.
 */
int ps_attach(struct ps_datapath *dp, const char *ifname, struct ps_attachment *a, int xdp_mode);
/* The XDP program on an attached interface, or not, as mode now says (a reload). */
void ps_attach_xdp(struct ps_datapath *dp, struct ps_attachment *a, int mode);
/*
 * The id of a ps_xdp a previous daemon attached (its run record says so):
 * taken for penstock's where it is found, to replace or detach, without
 * opening it by its id (which takes CAP_SYS_ADMIN).
 */
void ps_attach_prev_xdp(__u32 id);
/* Detach what ps_attach() attached, and the clsact qdisc if it created it. */
void ps_detach(struct ps_attachment *a);

#endif
