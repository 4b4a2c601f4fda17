#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Write bpf/lib/huffdec.h: HPACK's Huffman code (RFC 7541 Appendix B) as a
decoding automaton that reads four bits at a time.

The code's tree has 257 leaves (the 256 octets and EOS) and so 256 inner
nodes; a state is an inner node (0: the root), where the bits read since the
last symbol lead. Each entry, for a state and the next four bits, says the
state they lead to, the symbol they end (at most one: no code is shorter
than five bits), whether they run into EOS (a decoding error, section
5.2), and whether a string may end there: the bits since the last symbol
are all ones and at most seven (padding, section 5.2).

The codes are read from userspace/common/hpack_huffman.c, the table the
endpoints' paths are coded with; EOS is 30 ones.

    tools/gen_huffdec.py userspace/common/hpack_huffman.c > bpf/lib/huffdec.h
"""
import re
import sys

src = open(sys.argv[1]).read()
body = src[src.index("ps_huff[256]"):]
codes = [(int(c, 16), int(b)) for c, b in re.findall(r"\{\s*(0x[0-9a-fA-F]+),\s*(\d+)\s*\}", body)][:256]
assert len(codes) == 256
codes.append((0x3fffffff, 30))  # EOS

# The tree: inner nodes numbered as they are made, children as ("n", i) or ("s", sym).
kids = [[None, None]]
for sym, (code, bits) in enumerate(codes):
    node = 0
    for i in range(bits - 1, -1, -1):
        b = (code >> i) & 1
        if i == 0:
            assert kids[node][b] is None
            kids[node][b] = ("s", sym)
        else:
            if kids[node][b] is None:
                kids.append([None, None])
                kids[node][b] = ("n", len(kids) - 1)
            assert kids[node][b][0] == "n"
            node = kids[node][b][1]
assert len(kids) == 256 and all(k[0] and k[1] for k in kids)

# Nodes reached from the root by ones only, seven at most: where padding may end.
accept = {0}
node = 0
for depth in range(1, 8):
    node = kids[node][1][1]
    accept.add(node)

EMIT, ACCEPT, FAIL = 1 << 8, 1 << 9, 1 << 10
rows = []
for st in range(256):
    row = []
    for nib in range(16):
        node, sym, fail = st, 0, False
        emit = False
        for i in range(3, -1, -1):
            k = kids[node][(nib >> i) & 1]
            if k[0] == "n":
                node = k[1]
            elif k[1] == 256:
                fail = True
                break
            else:
                assert not emit
                emit, sym, node = True, k[1], 0
        if fail:
            row.append(FAIL)
            continue
        v = node | (EMIT if emit else 0) | (ACCEPT if node in accept else 0) | (sym << 16)
        row.append(v)
    rows.append(row)

print("/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */")
print("/* Written by tools/gen_huffdec.py from userspace/common/hpack_huffman.c: do not edit. */")
print("#ifndef PS_BPF_HUFFDEC_H")
print("#define PS_BPF_HUFFDEC_H")
print()
print("/* ps_huffdec[state][4 bits]: the next state (bits 0-7), a symbol ends (PS_HD_EMIT,")
print(" * the symbol in bits 16-23), a string may end here (PS_HD_ACCEPT), EOS met (PS_HD_FAIL). */")
print("#define PS_HD_EMIT\t0x100")
print("#define PS_HD_ACCEPT\t0x200")
print("#define PS_HD_FAIL\t0x400")
print()
print("static const __u32 ps_huffdec[256][16] = {")
for row in rows:
    print("\t{ " + ", ".join("0x%x" % v for v in row) + " },")
print("};")
print()
print("#endif")
