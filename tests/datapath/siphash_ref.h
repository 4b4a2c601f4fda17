/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * SipHash-2-4 as the paper (Aumasson and Bernstein, 2012) describes it, a
 * byte at a time: the datapath tests' own, to compute the key ids the
 * BPF programs must give, and the paper's vectors it is checked on.
 */
#ifndef PS_TEST_SIPHASH_REF_H
#define PS_TEST_SIPHASH_REF_H

#include <stddef.h>
#include <stdint.h>

#include "../unit/check.h"

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32);
	v[2] += v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32);
}

static inline __attribute__((unused)) uint64_t sip(const uint8_t *k, const uint8_t *m, size_t n)
{
	uint64_t k0 = 0, k1 = 0, v[4], b = (uint64_t)(n & 0xff) << 56;
	size_t i, j;

	for (i = 0; i < 8; i++) {
		k0 |= (uint64_t)k[i] << (8 * i);
		k1 |= (uint64_t)k[8 + i] << (8 * i);
	}
	v[0] = k0 ^ 0x736f6d6570736575ULL;
	v[1] = k1 ^ 0x646f72616e646f6dULL;
	v[2] = k0 ^ 0x6c7967656e657261ULL;
	v[3] = k1 ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t w = 0;

		for (j = 0; j < 8; j++)
			w |= (uint64_t)m[i + j] << (8 * j);
		v[3] ^= w;
		sipround(v);
		sipround(v);
		v[0] ^= w;
	}
	for (j = 0; i + j < n; j++)
		b |= (uint64_t)m[i + j] << (8 * j);
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	sipround(v);
	sipround(v);
	sipround(v);
	sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The paper's vectors (key 00..0f, message 00..n-1) for some lengths. */
static inline __attribute__((unused)) void sip_check_vectors(const char *name,
							     const uint8_t key[16])
{
	static const struct {
		size_t n;
		uint64_t want;
	} vec[] = {
		{ 0, 0x726fdb47dd0e0e31ULL }, { 1, 0x74f839c593dc67fdULL },
		{ 7, 0xab0200f58b01d137ULL }, { 8, 0x93f5f5799a932462ULL },
		{ 15, 0xa129ca6149be45e5ULL },
	};
	uint8_t m[64];
	struct ck c;
	size_t i;

	ck_init(&c, name);
	for (i = 0; i < sizeof(m); i++)
		m[i] = i;
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++)
		if (sip(key, m, vec[i].n) != vec[i].want)
			ck_fail(&c, "length %zu: %016llx, expected %016llx", vec[i].n,
				(unsigned long long)sip(key, m, vec[i].n),
				(unsigned long long)vec[i].want);
	ck_end(&c);
}

#endif
