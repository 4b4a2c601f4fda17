// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of HPACK's Huffman code (userspace/common/hpack_huffman.c),
 * which penstockd writes the endpoint paths in for the datapath to compare
 * Huffman-coded :path values with: the examples of RFC 7541 Appendix C
 * (their codes end in EOS padding, all ones; penstock's in zeros, with
 * the code's length in bits beside). Output: one line per case, "PASS
 * name" or "FAIL name: why"; the exit status is 1 if any case failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/hpack_huffman.h"
#include "../check.h"

struct vec {
	const char *where;	/* RFC 7541 section */
	const char *in;
	const char *hex;	/* the RFC's code, padding included */
};

static const struct vec vecs[] = {
	{ "C.4.1", "www.example.com", "f1e3c2e5f23a6ba0ab90f4ff" },
	{ "C.4.2", "no-cache", "a8eb10649cbf" },
	{ "C.4.3 name", "custom-key", "25a849e95ba97d7f" },
	{ "C.4.3 value", "custom-value", "25a849e95bb8e8b4bf" },
	{ "C.6.1 status", "302", "6402" },
	{ "C.6.1 cache-control", "private", "aec3771a4b" },
	{ "C.6.1 date", "Mon, 21 Oct 2013 20:13:21 GMT",
	  "d07abe941054d444a8200595040b8166e082a62d1bff" },
	{ "C.6.1 location", "https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3" },
};

static unsigned int unhex(const char *hex, uint8_t *out)
{
	unsigned int n = 0, v;

	for (; hex[0] && hex[1]; hex += 2) {
		sscanf(hex, "%2x", &v);
		out[n++] = v;
	}
	return n;
}

static void test_vec(const struct vec *v)
{
	uint8_t want[64], got[64];
	unsigned int n = unhex(v->hex, want), bits = 0, pad, i;
	int len = ps_huffman_encode(v->in, strlen(v->in), got, sizeof(got), &bits);
	struct ck c;

	ck_init(&c, v->where);
	if (len != (int)n) {
		ck_fail(&c, "%d bytes, the RFC's %u", len, n);
		ck_end(&c);
		return;
	}
	pad = n * 8 - bits;
	if (bits > n * 8 || pad > 7)
		ck_fail(&c, "%u bits in %u bytes", bits, n);
	/* The RFC pads with EOS's first bits, all ones; penstock with zeros. */
	else if ((want[n - 1] & ((1u << pad) - 1)) != (1u << pad) - 1)
		ck_fail(&c, "%u bits leave %u of padding, not all ones in the RFC's code", bits,
			pad);
	for (i = 0; i < n && ck_ok(&c); i++) {
		uint8_t m = i + 1 < n ? 0xff : (uint8_t)(0xff << pad);

		if (got[i] != (want[i] & m))
			ck_fail(&c, "byte %u: %02x, the RFC's %02x", i, got[i], want[i] & m);
	}
	ck_end(&c);
}

/*
 * ":path", as a literal's name the datapath compares (bpf/lib/hpack.h):
 * Appendix B gives ':' 7 bits (1011100), 'p' 6 (101011), 'a' 5 (00011),
 * 't' 5 (01001), 'h' 6 (100111): 29 bits, b9 58 d3 38 with zeros after.
 */
static void test_path_name(void)
{
	uint8_t got[8];
	unsigned int bits = 0;
	struct ck c;

	ck_init(&c, "path-name");
	if (ps_huffman_encode(":path", 5, got, sizeof(got), &bits) != 4 || bits != 29 ||
	    got[0] != 0xb9 || got[1] != 0x58 || got[2] != 0xd3 || got[3] != 0x38)
		ck_fail(&c, "%02x %02x %02x %02x (%u bits)", got[0], got[1], got[2], got[3], bits);
	ck_end(&c);
}

static void test_short_buffer(void)
{
	uint8_t got[4];
	unsigned int bits = 0;
	struct ck c;

	ck_init(&c, "short-buffer");
	if (ps_huffman_encode("www.example.com", 15, got, sizeof(got), &bits) != -1)
		ck_fail(&c, "no error for 12 bytes in 4");
	if (ps_huffman_encode("", 0, got, sizeof(got), &bits) != 0 || bits)
		ck_fail(&c, "the empty string is not 0 bytes, 0 bits");
	ck_end(&c);
}

int main(void)
{
	unsigned int i;

	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		test_vec(&vecs[i]);
	test_path_name();
	test_short_buffer();
	return nfailed ? 1 : 0;
}
