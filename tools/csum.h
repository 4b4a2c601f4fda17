/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Internet checksum (RFC 1071) of the frames the tools write
 * (ps_bench, ps_flood): add data in 16-bit big-endian words, then fold.
 */
#ifndef PS_TOOLS_CSUM_H
#define PS_TOOLS_CSUM_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>

static inline uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

/* The folded sum's complement, in network byte order, for a header's field. */
static inline uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

#endif
