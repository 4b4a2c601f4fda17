/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HPACK (RFC 7541) written by the datapath tests themselves, for their
 * HTTP/2 requests: integers, string literals plain or Huffman-coded
 * (common/hpack_huffman.c's code, padded with EOS's first bits), header
 * fields by representation, a request's header block and its HEADERS
 * frame (h2.h's h2f()).
 */
#ifndef PS_TEST_HPACK_WRITER_H
#define PS_TEST_HPACK_WRITER_H

#include <stdint.h>
#include <string.h>

#include "h2.h"
#include "common/hpack_huffman.h"

/* An integer with an n-bit prefix (section 5.1), the first byte's high bits hi. */
static __attribute__((unused)) unsigned int hp_int(uint8_t *b, unsigned int n, uint8_t hi,
						   uint32_t v)
{
	uint32_t max = (1u << n) - 1;
	unsigned int k = 0;

	if (v < max) {
		b[k++] = hi | v;
		return k;
	}
	b[k++] = hi | max;
	v -= max;
	while (v >= 128) {
		b[k++] = 0x80 | (v & 0x7f);
		v >>= 7;
	}
	b[k++] = v;
	return k;
}

/* A string literal (section 5.2), Huffman-coded when huff. */
static __attribute__((unused)) unsigned int hp_str(uint8_t *b, const char *s, int huff)
{
	uint8_t code[4096];
	unsigned int bits = 0, k;
	int n;

	if (!huff) {
		k = hp_int(b, 7, 0, strlen(s));
		memcpy(b + k, s, strlen(s));
		return k + strlen(s);
	}
	n = ps_huffman_encode(s, strlen(s), code, sizeof(code), &bits);
	if (n < 0)
		return 0;
	/* Padded with EOS's first bits, ones (section 5.2): the encoder leaves zeros. */
	if (bits % 8)
		code[n - 1] |= 0xff >> (bits % 8);
	k = hp_int(b, 7, 0x80, n);
	memcpy(b + k, code, n);
	return k + n;
}

/* How a key field is written. */
enum rep {
	R_NOIDX,	/* literal without indexing (0000) */
	R_NEVER,	/* literal never indexed (0001) */
	R_INC,		/* literal with incremental indexing (01): a dynamic entry */
};

/* name: NULL for authorization by the static table's index 23. */
struct field {
	const char *name;
	int name_huff;
	const char *value;
	int value_huff;
	enum rep rep;
};

static __attribute__((unused)) unsigned int hp_field(uint8_t *b, const struct field *f)
{
	unsigned int k;

	switch (f->rep) {
	case R_INC:
		k = hp_int(b, 6, 0x40, f->name ? 0 : 23);
		break;
	case R_NEVER:
		k = hp_int(b, 4, 0x10, f->name ? 0 : 23);
		break;
	default:
		k = hp_int(b, 4, 0x00, f->name ? 0 : 23);
	}
	if (f->name)
		k += hp_str(b + k, f->name, f->name_huff);
	return k + hp_str(b + k, f->value, f->value_huff);
}

/*
 * A request's header block: :method POST, :scheme http (static 3, 6), a
 * :path literal to the inference path, :authority, then the fields (nf
 * of them) or the raw representation bytes tail (ntail), content-type ct.
 */
static __attribute__((unused)) unsigned int hp_request_ct(uint8_t *b, const struct field *f,
							  int nf, const uint8_t *tail,
							  unsigned int ntail, const char *ct)
{
	unsigned int k = 0;
	int i;

	b[k++] = 0x83;
	b[k++] = 0x86;
	k += hp_int(b + k, 4, 0x00, 4);
	k += hp_str(b + k, INF_PATH, 0);
	k += hp_int(b + k, 4, 0x00, 1);
	k += hp_str(b + k, "a", 0);
	for (i = 0; i < nf; i++)
		k += hp_field(b + k, &f[i]);
	if (ntail) {
		memcpy(b + k, tail, ntail);
		k += ntail;
	}
	k += hp_int(b + k, 4, 0x00, 31);
	k += hp_str(b + k, ct, 0);
	return k;
}

/* ... content-type application/json. */
static __attribute__((unused)) unsigned int hp_request(uint8_t *b, const struct field *f, int nf,
						       const uint8_t *tail, unsigned int ntail)
{
	return hp_request_ct(b, f, nf, tail, ntail, "application/json");
}

/* The HEADERS frame (END_HEADERS, END_STREAM) of block on stream sid, at b. */
static __attribute__((unused)) unsigned int h2_req(uint8_t *b, uint32_t sid, const uint8_t *blk,
						   unsigned int n)
{
	return h2f(b, 1, 0x5, sid, blk, n);
}

#endif
