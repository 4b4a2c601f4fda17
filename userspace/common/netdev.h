/* SPDX-License-Identifier: GPL-2.0-only */
/* What kind of device an interface is, as penstockd and penstock doctor ask. */
#ifndef PS_NETDEV_H
#define PS_NETDEV_H

#include <stdbool.h>

/* Whether ifname's driver is veth (ETHTOOL_GDRVINFO); false when unknown. */
bool ps_if_is_veth(const char *ifname);

#endif
