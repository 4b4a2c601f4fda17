// SPDX-License-Identifier: GPL-2.0-only
/*
 * The datapath fuzzer's corpus, read with libpcap (in a file of its own:
 * libpcap's and libbpf's headers both define struct bpf_insn).
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_corpus.h"

int fuzz_load_corpus(const char *path, struct frame *corpus, unsigned int max, unsigned int *n)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const unsigned char *d;
	pcap_t *pc = pcap_open_offline(path, err);

	if (!pc) {
		fprintf(stderr, "fuzz_datapath: %s: %s\n", path, err);
		return -1;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		pcap_close(pc);
		return 0;
	}
	while (*n < max && pcap_next_ex(pc, &h, &d) == 1) {
		unsigned int len = h->caplen < FRAME_MAX ? h->caplen : FRAME_MAX;

		if (len < 14 + 20)
			continue;
		memcpy(corpus[*n].b, d, len);
		corpus[*n].len = len;
		(*n)++;
	}
	pcap_close(pc);
	return 0;
}
