#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
# The odds that encoded data passes for text on an HTTP/2 inference stream
# (egress, bpf/lib/h2resp.h ps_h2r_text(), docs/output-tokens.md "HTTP/2"):
# for each first byte b0, the probability that b0 followed by n-1 bytes
# drawn uniformly (entropy-coded data, as a brotli stream's after its
# header) is taken for text when n bytes are judged. The reading below is
# ps_h2r_text_byte()'s, byte for byte; the sum runs over its states.
#
#   tools/h2text_odds.py [n]     n: bytes judged (32, PS_H2R_HOLD)
from collections import defaultdict
WS=b' \t\n\r'
NAMES={0:ord('a'),1:ord('t'),2:ord('a'),4:ord('v'),5:ord('e'),6:ord('n'),7:ord('t'),9:ord('d'),11:ord('e'),12:ord('t'),13:ord('r'),14:ord('y')}
def name(p): return NAMES.get(p, ord(':'))
WS_,OBJ,ARR,IN,JNO=range(5)
LINE,NAME,TEXT,SNO=range(4)
def step(st,c):
    j,e,p,cont=st
    if cont:
        if c&0xc0!=0x80: return 'no'
        cont-=1
    elif 0xc2<=c<=0xf4: cont=3 if c>=0xf0 else 2 if c>=0xe0 else 1
    elif c>=0x7f or (c<0x20 and c not in WS[1:]): return 'no'
    if j==WS_: j=OBJ if c==ord('{') else ARR if c==ord('[') else WS_ if c in WS else JNO
    elif j in (OBJ,ARR):
        if c in WS: pass
        elif c==ord('"') or (j==OBJ and c==ord('}')) or (j==ARR and (c in b']{[-tfn' or 48<=c<=57)): j=IN
        else: j=JNO
    if e==LINE:
        if c==ord(':'): e=TEXT
        elif c in b'deir': e=NAME; p={ord('d'):0,ord('e'):4,ord('i'):9,ord('r'):11}[c]
        elif c not in b'\n\r': e=SNO
    elif e==NAME:
        if c!=name(p): e=SNO
        elif c==ord(':'):
            e=TEXT
            if p!=10: return 'sure'
        else: p+=1
    elif e==TEXT and c in b'\n\r': e=LINE
    if j==JNO and e==SNO: return 'no'
    if e!=NAME: p=0
    return (j,e,p,cont)
def prob(b0,n=32):
    acc=0.0
    st=step((WS_,LINE,0,0),b0)
    if st=='no': return 0.0
    if st=='sure': return 1.0
    cur={st:1.0}
    for i in range(1,n):
        nxt=defaultdict(float)
        for s,pr in cur.items():
            for c in range(256):
                t=step(s,c)
                if t=='no': continue
                if t=='sure': acc+=pr/256; continue
                nxt[t]+=pr/256
        cur=nxt
    for (j,e,p,cont),pr in cur.items():
        if j==IN or e!=SNO: acc+=pr
    return acc
import sys
n=int(sys.argv[1]) if len(sys.argv)>1 else 32
res=sorted(((prob(b,n),b) for b in range(256)),reverse=True)
for pr,b in res[:8]: print("%r %.3g"%(chr(b),pr))
print("first bytes of brotli's lgwin 22 ('[': a first meta-block of more than 64 kB):", [(chr(b),"%.3g"%prob(b)) for b in (0x2b,0x3b,0x4b,0x5b,0x6b,0x7b)])
