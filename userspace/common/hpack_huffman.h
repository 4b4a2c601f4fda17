/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef PS_COMMON_HPACK_HUFFMAN_H
#define PS_COMMON_HPACK_HUFFMAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * The HPACK Huffman code of s[0..n) (RFC 7541 section 5.2) into out, its
 * last byte's unused low bits zero (not the padding): returns the bytes
 * written, the code's length in bits in *bits, or -1 if cap is too small.
 */
int ps_huffman_encode(const char *s, size_t n, uint8_t *out, size_t cap, unsigned int *bits);

#endif
