// SPDX-License-Identifier: GPL-2.0-only
/*
 * Replay of captures through the live datapath's programs: each packet is
 * given an Ethernet header if its link type has none, and run with
 * BPF_PROG_TEST_RUN through the ingress program; a packet that is not
 * client-to-endpoint there (TC_ACT_UNSPEC) goes through egress. The
 * programs' clock is the capture's: the packet timestamp in skb->tstamp.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <pcap/sll.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>

#include "log.h"
#include "replay.h"

/*
 * BPF_PROG_TEST_RUN takes at most a page less skb head- and tailroom;
 * longer packets (GRO-merged captures) are run with their head only: the
 * counters follow the IP length field, and the parser treats the bytes
 * beyond as not captured.
 */
#define PS_TEST_RUN_MAX	3584

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2	276
#endif

struct frame {
	unsigned char buf[PS_TEST_RUN_MAX];
	unsigned int len;
};

/* EtherType for an IP packet, from its version nibble; 0 if neither. */
static uint16_t ip_ethertype(const unsigned char *p, unsigned int len)
{
	if (!len)
		return 0;
	switch (p[0] >> 4) {
	case 4:
		return ETH_P_IP;
	case 6:
		return ETH_P_IPV6;
	}
	return 0;
}

static void put_frame(struct frame *f, uint16_t proto, const unsigned char *l3, unsigned int len)
{
	struct ethhdr eth = { .h_proto = htons(proto) };

	/* Locally administered MACs: nothing in the datapath reads them. */
	eth.h_source[0] = 0x02;
	eth.h_dest[0] = 0x02;
	eth.h_dest[5] = 1;
	memcpy(f->buf, &eth, sizeof(eth));
	if (len > sizeof(f->buf) - sizeof(eth))
		len = sizeof(f->buf) - sizeof(eth);
	memcpy(f->buf + sizeof(eth), l3, len);
	f->len = sizeof(eth) + len;
}

/* Build an Ethernet frame from one captured packet; 0, or 1 to skip it. */
static int make_frame(int dlt, const unsigned char *p, unsigned int caplen, struct frame *f)
{
	uint32_t af;
	uint16_t proto;

	switch (dlt) {
	case DLT_EN10MB:
		if (caplen < ETH_HLEN)
			return 1;
		f->len = caplen < sizeof(f->buf) ? caplen : sizeof(f->buf);
		memcpy(f->buf, p, f->len);
		return 0;
	case DLT_LINUX_SLL:
		if (caplen < SLL_HDR_LEN)
			return 1;
		memcpy(&proto, p + 14, 2);
		put_frame(f, ntohs(proto), p + SLL_HDR_LEN, caplen - SLL_HDR_LEN);
		return 0;
	case DLT_LINUX_SLL2:
		if (caplen < 20)
			return 1;
		memcpy(&proto, p, 2);
		put_frame(f, ntohs(proto), p + 20, caplen - 20);
		return 0;
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		proto = ip_ethertype(p, caplen);
		if (!proto)
			return 1;
		put_frame(f, proto, p, caplen);
		return 0;
	case DLT_NULL:
	case DLT_LOOP:
		if (caplen < 4)
			return 1;
		memcpy(&af, p, 4);
		if (dlt == DLT_LOOP)
			af = ntohl(af);
		/* DLT_NULL is in the capturing host's byte order: accept both. */
		if (af > 0xffff)
			af = __builtin_bswap32(af);
		/* AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30. */
		if (af == 2)
			proto = ETH_P_IP;
		else if (af == 10 || af == 24 || af == 28 || af == 30)
			proto = ETH_P_IPV6;
		else
			return 1;
		put_frame(f, proto, p + 4, caplen - 4);
		return 0;
	}
	return 1;
}

static int supported_dlt(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		return 1;
	}
	return 0;
}

int ps_replay_file(struct ps_datapath *dp, const char *path, unsigned long long *packets)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	static struct frame f;
	struct pcap_pkthdr *hdr;
	const unsigned char *data;
	unsigned long long n = 0;
	int dlt, rc, retval, err = 0;
	pcap_t *pc;

	pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		/* libpcap's message names the file for open errors only. */
		if (strstr(errbuf, path))
			pr_warn("penstock: %s\n", errbuf);
		else
			pr_warn("penstock: %s: %s\n", path, errbuf);
		return -EINVAL;
	}
	dlt = pcap_datalink(pc);
	if (!supported_dlt(dlt)) {
		const char *name = pcap_datalink_val_to_name(dlt);

		pr_warn("penstock: %s: unsupported link type %s (%d); supported: EN10MB, "
			"LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP\n",
			path, name ? name : "unknown", dlt);
		pcap_close(pc);
		return -EINVAL;
	}
	while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
		uint64_t ts = (uint64_t)hdr->ts.tv_sec * 1000000000ULL + hdr->ts.tv_usec;

		n++;
		/* pcapng files may change link type per interface. */
		dlt = pcap_datalink(pc);
		if (make_frame(dlt, data, hdr->caplen, &f))
			continue;
		err = ps_dp_test_run(dp->ingress_fd, f.buf, f.len, ts, &retval);
		if (!err && retval == PS_TC_NOT_MINE)
			err = ps_dp_test_run(dp->egress_fd, f.buf, f.len, ts, &retval);
		if (err) {
			pr_warn("penstock: %s: packet %llu: BPF_PROG_TEST_RUN failed: %s\n", path,
				n, strerror(-err));
			break;
		}
	}
	if (!err && rc == PCAP_ERROR) {
		pr_warn("penstock: %s: packet %llu: %s\n", path, n + 1, pcap_geterr(pc));
		err = -EINVAL;
	}
	pcap_close(pc);
	if (packets)
		*packets += n;
	return err;
}
