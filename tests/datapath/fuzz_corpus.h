/* SPDX-License-Identifier: GPL-2.0-only */
/* The datapath fuzzer's corpus: the Ethernet frames of capture files. */
#ifndef PS_FUZZ_CORPUS_H
#define PS_FUZZ_CORPUS_H

#define FRAME_MAX	2048
#define CORPUS_MAX	200000

/*
 * Two bytes before the frame put its IP and TCP headers on 4-byte
 * boundaries (the kernel's NET_IP_ALIGN), where the mutator reads and
 * writes them as structs.
 */
struct frame {
	unsigned int len;
	unsigned char ip_align[2];
	unsigned char b[FRAME_MAX];
};

/*
 * Append the frames of an Ethernet capture (others are skipped) to
 * corpus[*n..max). Returns 0, or -1 with a message naming the file.
 */
int fuzz_load_corpus(const char *path, struct frame *corpus, unsigned int max, unsigned int *n);

#endif
