// SPDX-License-Identifier: GPL-2.0-only
/*
 * Another tool's programs, for tests/e2e/test_doctor: a tc program and an
 * XDP program that pass every packet, with names of their own, attached
 * by tc and ip to an interface penstock is configured on, where penstock
 * doctor must find them and name them.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int other_tool_tc(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("xdp")
int other_tool_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
