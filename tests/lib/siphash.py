#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""SipHash-2-4, written from the paper (Aumasson and Bernstein, "SipHash: a
fast short-input PRF", 2012), as an oracle for penstock's API key ids: no
code of penstock's is read or imported here.

The 128-bit key is 16 bytes, k0 the first 8 little-endian and k1 the next
8 (the reference code's k array); the output is the 64-bit v0^v1^v2^v3,
which penstock prints as %016x. A key id is "key:" and that.

Usage:
  siphash.py --self-test            the reference vectors (below), exit 0/1
  siphash.py --secret FILE [HEX]... the id of each key given in hex (or of
                                    each line of standard input, as bytes)

Only the Python standard library is used.
"""

import sys

MASK = (1 << 64) - 1

# The reference implementation's vectors (vectors.h, vectors_sip64, as
# 64-bit little-endian words): key 00 01 .. 0f, message 00 01 .. n-1 for
# n = 0..63. Entry 15 is the paper's worked example in its Appendix A.
VECTORS = [
    0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
    0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
    0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
    0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
    0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
    0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
    0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad,
    0xde4daaaca71dc9a5, 0xa6a2506687956571, 0xad87a3535c49ef28, 0x32d892fad841c342,
    0x7127512f72f27cce, 0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
    0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d, 0x9abfd8766a33735c,
    0x0e3ea96b5304a7d0, 0xad0c42d6fc585992, 0x187306c89bc215a9, 0xd4a60abcf3792b95,
    0xf935451de4f21df2, 0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
    0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72, 0xa192d576b245165a,
    0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f, 0x7fa8220ba3b2ecea, 0x245731c13ca42499,
    0xb78dbfaf3a8d83bd, 0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
    0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57, 0x958a324ceb064572,
]


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK


def _round(v):
    v0, v1, v2, v3 = v
    v0 = (v0 + v1) & MASK
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & MASK
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & MASK
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & MASK
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return [v0, v1, v2, v3]


def siphash24(key, msg):
    """SipHash-2-4 of the bytes msg under the 16-byte key: the 64-bit output."""
    if len(key) != 16:
        raise ValueError("a SipHash key is 16 bytes, not %d" % len(key))
    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:], "little")
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d,
         k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]
    # The message in 8-byte little-endian words; the last word holds the
    # 0..7 bytes left over and, in its top byte, the length mod 256.
    whole = len(msg) - len(msg) % 8
    words = [int.from_bytes(msg[i:i + 8], "little") for i in range(0, whole, 8)]
    words.append(int.from_bytes(msg[whole:], "little") | (len(msg) & 0xff) << 56)
    for m in words:
        v[3] ^= m
        v = _round(_round(v))	# c = 2 compression rounds
        v[0] ^= m
    v[2] ^= 0xff
    for _ in range(4):		# d = 4 finalization rounds
        v = _round(v)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def read_secret(path):
    """The 16 bytes of a penstock key_secret file: 32 hex digits and a newline."""
    with open(path, "rb") as f:
        text = f.read()
    if len(text) != 33 or text[32:] != b"\n" or \
            any(c not in b"0123456789abcdefABCDEF" for c in text[:32]):
        raise ValueError("%s: not 32 hex digits and a newline: %r" % (path, text[:40]))
    return bytes.fromhex(text[:32].decode())


def key_id(secret, key):
    """penstock's name of an API key (bytes) under the 16-byte secret."""
    return "key:%016x" % siphash24(secret, key)


def self_test():
    """The failures against the reference vectors (empty: all pass)."""
    key = bytes(range(16))
    return ["vector %d: got %016x, expected %016x" % (n, siphash24(key, bytes(range(n))), want)
            for n, want in enumerate(VECTORS) if siphash24(key, bytes(range(n))) != want]


def main(argv):
    if argv[1:] == ["--self-test"]:
        bad = self_test()
        for b in bad:
            print(b)
        print("%d of %d reference vectors" % (len(VECTORS) - len(bad), len(VECTORS)))
        return 1 if bad else 0
    if len(argv) < 3 or argv[1] != "--secret":
        sys.stderr.write(__doc__)
        return 2
    secret = read_secret(argv[2])
    keys = [bytes.fromhex(h) for h in argv[3:]] if argv[3:] else \
        sys.stdin.buffer.read().splitlines()
    for k in keys:
        print(key_id(secret, k))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
