// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The benchmark's yardsticks, run with BPF_PROG_TEST_RUN on the same
 * packets as the datapath:
 *
 * bench_min: a tc program that only increments one per-CPU counter. make
 * bench reports the datapath's cost per packet as a ratio to this one's.
 *
 * bench_floor: the least a program that counts per connection must do,
 * and nothing more: parse the packet with the datapath's own ps_parse(),
 * find its connection in an LRU hash of the datapath's key and value
 * (made on a miss), and increment one per-CPU counter. With
 * bench_floor_scan[0] set to N it also looks at each 8 bytes of the first
 * N payload bytes once for a line end (floor_bytes()): the least any
 * request parser must do. bench_floor_lines does the same but takes the
 * lines one at a time (floor_lines()), the least a parser that goes line
 * by line must do.
 *
 * The later parsers' floors, in the same style (bench_floor_found holds
 * what each found, for ps_bench to check against the packets):
 * bench_floor_ident is bench_floor_lines that also finds the identity
 * header lines by name (X-Forwarded-For, Authorization: Bearer, a PROXY
 * v1 line first) and walks their values as it goes (the commas of the
 * chain; the key's and the PROXY line's words folded into a hash);
 * bench_floor_h2 walks the HTTP/2 frame headers of the segment, the
 * frame it ends in kept in the flow; bench_floor_sse finds each LF of an
 * event stream's body and compares the 5 bytes after it with "data:",
 * a match cut by the segment's end kept in the flow.
 *
 * No program that keeps per-connection state in a BPF map and counts
 * requests can cost less than bench_floor: its ratio to bench_min bounds
 * what a target on that ratio can ask.
 */
#include "../bpf/lib/parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_count SEC(".maps");

SEC("tc")
int bench_min(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&bench_count, &zero);

	if (v)
		*v += 1;
	return TC_ACT_OK;
}

/* As the datapath's ps_flows. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_FLOWS);
	__type(key, struct ps_flow_key);
	__type(value, struct ps_flow);
} bench_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_flow);
} bench_flow_blank SEC(".maps");

/* Payload bytes bench_floor looks at for lines (set by ps_bench). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_floor_scan SEC(".maps");

/*
 * What each floor found, per program (0: bench_floor, 1: bench_floor_lines):
 * ps_bench checks it against the packets, so that a floor that looked at
 * nothing cannot pass for a low one.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} bench_floor_count SEC(".maps");

#define FLOOR_LINES	64	/* lines looked at */
#define FLOOR_WORDS	8	/* words looked at per step */

/*
 * The lines of the first n payload bytes, up to the empty line that ends
 * a header block: each line's end (the first CR or LF, taken to be a
 * CR LF) and whether it holds a colon, eight bytes at a time straight from
 * the packet, one iteration per line (the last, which ends less than 8
 * bytes before n, is not looked at). Less than any parser that takes
 * lines one at a time must do: it has to know every line of the block
 * (any may be a Content-Length, and one without a colon changes framing),
 * and does more with each.
 */
static __always_inline __u64 floor_lines(struct __sk_buff *skb, __u32 off, __u32 n)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 cur = off, ls = off, stop = off + n, j;
	__u64 lines = 0, colons = 0;
	int i;

	for (i = 0; i < FLOOR_LINES; i++) {
		__u64 w, x, t = 0, co = 0;
		__u32 pos;

		for (j = 0; j < FLOOR_WORDS; j++) {
			__u8 *q = data + (cur & 0x7ff);

			if (cur + 8 > stop || (void *)(q + 8) > end)
				goto out;
			w = *(__u64 *)q;
			/* bytes 0x08..0x0f (CR, LF among them), and ':' */
			x = (w | 0x0707070707070707ULL) ^ 0x0f0f0f0f0f0f0f0fULL;
			t = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
			x = w ^ 0x3a3a3a3a3a3a3a3aULL;
			co |= (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
			if (t)
				break;
			cur += 8;
		}
		if (!t)
			continue;
		pos = cur + ps_lowest_byte(t);
		if (pos == ls)
			break;		/* the empty line: the block ends */
		lines++;
		colons += !!co;
		cur = ls = pos + 2;
	}
out:
	/* Lines in the low half, for ps_bench to check; colons above. */
	return lines + (colons << 32);
}

/*
 * Each 8 bytes of the first n payload bytes looked at once for a line end,
 * straight from the packet: the least any parser that finds the end of a
 * header block must do, whatever it does with the lines. Returns the
 * words that hold a LF.
 */
static __always_inline __u64 floor_bytes(struct __sk_buff *skb, __u32 off, __u32 n)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u64 lines = 0;
	__u32 i;

	off &= 0x3ff;
	for (i = 0; i < 64; i++) {
		__u8 *q = data + off + i * 8;
		__u64 x;

		if (i * 8 + 8 > n || (void *)(q + 8) > end)
			break;
		x = *(__u64 *)q ^ 0x0a0a0a0a0a0a0a0aULL;
		lines += !!((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL);
	}
	return lines;
}

/* Parse, find or make the connection, and the bytes to look at (0: none). */
static __always_inline int floor_conn(struct __sk_buff *skb, struct ps_pkt *p, __u32 *n)
{
	struct ps_flow_key k = {};
	struct ps_flow *f;
	__u32 zero = 0, *scan;

	if (ps_parse(skb, p))
		return -1;
	k.family = p->family;
	k.client = p->saddr;
	k.server = p->daddr;
	k.cport = p->sport;
	k.sport = p->dport;
	f = bpf_map_lookup_elem(&bench_flows, &k);
	if (!f) {
		f = bpf_map_lookup_elem(&bench_flow_blank, &zero);
		if (!f || bpf_map_update_elem(&bench_flows, &k, f, BPF_ANY))
			return -1;
	}
	scan = bpf_map_lookup_elem(&bench_floor_scan, &zero);
	*n = scan ? *scan : 0;
	if (*n > p->payload_avail)
		*n = p->payload_avail;
	return 0;
}

/* One packet, and what the floor found in it. */
static __always_inline void floor_count(__u32 which, __u64 found)
{
	__u64 *v = bpf_map_lookup_elem(&bench_floor_count, &which);

	if (v)
		*v += 1 + found;
}

/* Floor which (0: bench_floor, 1: bench_floor_lines) on one packet. */
static __always_inline int floor_run(struct __sk_buff *skb, __u32 which)
{
	struct ps_pkt p = {};
	__u64 found = 0;
	__u32 n;

	if (floor_conn(skb, &p, &n))
		return TC_ACT_OK;
	if (n)
		found = which ? floor_lines(skb, p.payload_off, n) :
				floor_bytes(skb, p.payload_off, n);
	floor_count(which, found);
	return TC_ACT_OK;
}

SEC("tc")
int bench_floor(struct __sk_buff *skb)
{
	return floor_run(skb, 0);
}

SEC("tc")
int bench_floor_lines(struct __sk_buff *skb)
{
	return floor_run(skb, 1);
}

/*
 * What the later floors found: slots 0..7 bench_floor_ident's, by the
 * destination port's low 3 bits (ps_bench's identity endpoints are ports
 * 8000..8004); slot 8 bench_floor_h2's; slot 9 bench_floor_sse's.
 */
struct floor_found {
	__u64 packets;
	__u64 a;	/* ident: lines; h2: frame headers; sse: LFs */
	__u64 b;	/* ident: X-Forwarded-For entries; h2: HEADERS frames; sse: "data:" */
	__u64 c;	/* ident: words of a key or PROXY line folded */
	__u64 d;	/* ident: PROXY lines */
	__u64 e;	/* ident: the sum of the folds */
};

#define FLOOR_SLOT_H2	8
#define FLOOR_SLOT_SSE	9

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 10);
	__type(key, __u32);
	__type(value, struct floor_found);
} bench_floor_found SEC(".maps");

/* Header names, lower-cased, lowest byte first: "x-forwar" "ded-for:", "authoriz" "ation: b". */
#define FL_XFF1		0x726177726f662d78ULL
#define FL_XFF2		0x3a726f662d646564ULL
#define FL_AUTH1	0x7a69726f68747561ULL
#define FL_AUTH2	0x62203a6e6f697461ULL
#define FL_PROXY	0x2059584f5250ULL	/* "PROXY " */
#define FL_LOWER	0x2020202020202020ULL
#define FL_ONES		0x0101010101010101ULL
#define FL_HIGHS	0x8080808080808080ULL
#define FL_PRIME	0x100000001b3ULL

/* Where bench_floor_ident's identity lines are, on their way from the scan to the walk. */
struct floor_ranges {
	__u64 xs, xe, ks, ke, ps, pe;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct floor_ranges);
} bench_floor_ranges SEC(".maps");

/* 1 if x is 0, else 0: without a branch (the verifier follows every branch of a loop). */
static __always_inline __u64 fl_zero(__u64 x)
{
	return ((x | -x) >> 63) ^ 1;
}

/* c (0 or 1) ? a : b, without a branch. */
static __always_inline __u64 fl_sel(__u64 c, __u64 a, __u64 b)
{
	return b ^ ((a ^ b) & -c);
}

/* The word of the packet at off, its bytes from e on zeroed; 0 past the packet. */
static __always_inline __u64 fl_word(struct __sk_buff *skb, __u32 off, __u32 e)
{
	__u8 *q = (void *)(long)skb->data + (off & 0x7ff);
	__u64 d = e - off;

	if ((void *)(q + 8) > (void *)(long)skb->data_end)
		return 0;
	return *(__u64 *)q & fl_sel(((d - 8) >> 63) & 1, (1ULL << (8 * (d & 7))) - 1, ~0ULL);
}

/*
 * floor_lines() over the header block at off (at most n bytes, at most
 * FLOOR_LINES lines) that also tells each line by its first 16 bytes,
 * lower-cased, once it has its end (a PROXY v1 line by its first 6, first
 * in the segment): where the X-Forwarded-For, Authorization: Bearer and
 * PROXY lines are, kept without a branch. Then it walks their values
 * eight bytes at a time: the commas of the X-Forwarded-For value
 * (entries = commas + 1), the Authorization value's words from the line's
 * 17th byte and the PROXY line's words folded into a hash, bytes past the
 * line's end zeroed. Less than any parser that finds a client in those
 * lines must do: it has to find and read them as well, and does more.
 */
static __always_inline void floor_ident(struct __sk_buff *skb, __u32 off, __u32 n,
					struct floor_found *ff, struct floor_ranges *r)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 cur = off, ls = off, stop = off + n, j, k, at;
	__u64 lines = 0, ents = 0, kw = 0, px = 0, h = 0;
	__u64 xs = 0, xe = 0, ks = 0, ke = 0, ps = 0, pe = 0;
	int i;

	for (i = 0; i < FLOOR_LINES; i++) {
		__u64 w, x, t = 0, w0, w1, l16, mx, mk, mp;
		__u32 pos;
		__u8 *q;

		for (j = 0; j < FLOOR_WORDS; j++) {
			q = data + (cur & 0x7ff);
			if (cur + 8 > stop || (void *)(q + 8) > end)
				goto out;
			w = *(__u64 *)q;
			x = (w | 0x0707070707070707ULL) ^ 0x0f0f0f0f0f0f0f0fULL;
			t = (x - FL_ONES) & ~x & FL_HIGHS;
			if (t)
				break;
			cur += 8;
		}
		if (!t)
			continue;
		pos = cur + ps_lowest_byte(t);
		if (pos == ls)
			break;		/* the empty line: the block ends */
		lines++;
		/* The line's name. */
		q = data + (ls & 0x7ff);
		if ((void *)(q + 16) > end)
			goto out;
		w0 = *(__u64 *)q;
		w1 = *(__u64 *)(q + 8) | FL_LOWER;
		l16 = (((pos - ls - 16) >> 31) & 1) ^ 1;
		mx = l16 & fl_zero((w0 | FL_LOWER) ^ FL_XFF1) & fl_zero(w1 ^ FL_XFF2);
		mk = l16 & fl_zero((w0 | FL_LOWER) ^ FL_AUTH1) & fl_zero(w1 ^ FL_AUTH2);
		mp = fl_zero((__u64)(ls - off)) & fl_zero((w0 & 0xffffffffffffULL) ^ FL_PROXY);
		xs = fl_sel(mx, ls + 16, xs);
		xe = fl_sel(mx, pos, xe);
		ks = fl_sel(mk, ls + 16, ks);
		ke = fl_sel(mk, pos, ke);
		ps = fl_sel(mp, ls, ps);
		pe = fl_sel(mp, pos, pe);
		px += mp;
		cur = ls = pos + 2;
	}
out:
	/*
	 * The values: the chain's commas; the PROXY line's words, then the
	 * key's. Where they are goes through map memory (r), so that the
	 * verifier does not carry their bounds back into the line scan.
	 */
	WRITE_ONCE(r->xs, xs);
	WRITE_ONCE(r->xe, xe);
	WRITE_ONCE(r->ks, ks);
	WRITE_ONCE(r->ke, ke);
	WRITE_ONCE(r->ps, ps);
	WRITE_ONCE(r->pe, pe);
	xs = READ_ONCE(r->xs);
	xe = READ_ONCE(r->xe);
	ks = READ_ONCE(r->ks);
	ke = READ_ONCE(r->ke);
	ps = READ_ONCE(r->ps);
	pe = READ_ONCE(r->pe);
	ents = !!xe;
	for (k = 0, at = xs; k < 32 && at < xe; k++, at += 8) {
		__u64 x = fl_word(skb, at, xe) ^ 0x2c2c2c2c2c2c2c2cULL;

		x = ((x - FL_ONES) & ~x & FL_HIGHS) >> 7;
		ents += (x * FL_ONES) >> 56;
	}
	for (k = 0, at = ps; k < 16 && at < pe; k++, at += 8, kw++)
		h = (h ^ fl_word(skb, at, pe)) * FL_PRIME;
	for (k = 0, at = ks; k < 32 && at < ke; k++, at += 8, kw++)
		h = (h ^ fl_word(skb, at, ke)) * FL_PRIME;
	ff->a += lines;
	ff->b += ents;
	ff->c += kw;
	ff->d += px;
	ff->e += h;
}

/* A byte of the packet at off, or -1 past its end. */
static __always_inline int floor_byte(struct __sk_buff *skb, __u32 off)
{
	__u8 *q = (void *)(long)skb->data + (off & 0x7ff);

	if ((void *)(q + 1) > (void *)(long)skb->data_end)
		return -1;
	return *q;
}

/*
 * The HTTP/2 frame headers of a segment of n payload bytes at off: skip
 * what is left of the frame the last segment ended in (f->http.body_left),
 * read each 9-byte header (its length and type), skip its payload; a
 * header cut by the segment's end is read on byte by byte in the next
 * (f->http.carry_len bytes of it seen, its length and type so far in
 * f->http.clen). Frames and HEADERS frames into ff.
 */
static __always_inline void floor_h2(struct __sk_buff *skb, struct ps_flow *f, __u32 off,
				     __u32 n, struct floor_found *ff)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u64 left = f->http.body_left, take;
	__u32 hs = f->http.carry_len, hl = f->http.clen, pos = 0, k;
	int i, c;

	for (i = 0; i < 32; i++) {
		take = left < n - pos ? left : n - pos;
		pos += take;
		left -= take;
		if (pos >= n)
			break;
		if (!hs && pos + 9 <= n) {
			__u8 *q = data + ((off + pos) & 0x7ff);

			if ((void *)(q + 9) > end)
				break;
			hl = bpf_ntohl(*(__u32 *)q);	/* length (24 bits), type */
			pos += 9;
			hs = 9;
		}
		for (k = 0; k < 9 && hs < 9 && pos < n; k++) {
			c = floor_byte(skb, off + pos);
			if (c < 0)
				goto out;
			if (hs < 4)
				hl = hl << 8 | c;
			hs++;
			pos++;
		}
		if (hs < 9)
			break;
		ff->a++;
		ff->b += (hl & 0xff) == 1;
		left = hl >> 8;
		hs = 0;
		hl = 0;
	}
out:
	f->http.body_left = left;
	f->http.carry_len = hs;
	f->http.clen = hl;
}

#define FL_DATA		0x3a61746164ULL		/* "data:" */
#define FL_DATA_MASK	0xffffffffffULL
#define FL_SSE_MID	0xff			/* not at a line's start */

/*
 * An event stream's segment of n payload bytes at off: each LF found eight
 * bytes at a time, the 5 bytes after it (shifted out of the word and the
 * next) compared with "data:" at once, up to the last LF whose next 8
 * bytes are in the segment; the last 8 to 15 bytes byte by byte. A line start that the
 * segment's end cuts keeps the bytes of "data:" it matched so far in
 * f->http.carry_len, and the next segment compares the rest byte by
 * byte. LFs and matches into ff.
 */
static __always_inline void floor_sse(struct __sk_buff *skb, struct ps_flow *f, __u32 off,
				      __u32 n, struct floor_found *ff)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 st = f->http.carry_len, cur, p, k, lim = n >= 8 ? n - 8 : 0;
	__u64 w, x, t, lfs = 0, ev = 0;
	int i, c;

	/* A line start the last segment cut: the rest of "data:". */
	for (k = 0; k < 5 && st < 5; k++) {
		c = floor_byte(skb, off + k);
		if (c < 0 || k >= n || c != (__u8)(FL_DATA >> (8 * st))) {
			st = FL_SSE_MID;
			break;
		}
		st++;
	}
	ev += st == 5;
	w = 0;
	if (lim >= 8) {
		__u8 *q = data + (off & 0x7ff);

		if ((void *)(q + 8) > end)
			goto out;
		w = *(__u64 *)q;
	}
	for (i = 0, cur = 0; i < 192 && cur + 8 <= lim; i++, cur += 8) {
		/* This word and the next: the 5 bytes after a LF are in them. */
		__u8 *q = data + ((off + cur + 8) & 0x7ff);
		__u64 nx, v;

		if ((void *)(q + 8) > end)
			goto out;
		nx = *(__u64 *)q;
		x = w ^ 0x0a0a0a0a0a0a0a0aULL;
		t = (x - FL_ONES) & ~x & FL_HIGHS;
		for (k = 0; k < 8 && t; k++) {
			/* the LF's byte in the word, found without a branch */
			p = (((t & -t) >> 7) * 0x0001020304050607ULL) >> 56;
			t &= t - 1;
			lfs++;
			v = ((w >> 8) >> (8 * p)) | (nx << (56 - 8 * p));
			ev += fl_zero((v & FL_DATA_MASK) ^ FL_DATA);
		}
		w = nx;
	}
	/* The rest, byte by byte: "data:" matched as far as it goes. */
	st = FL_SSE_MID;
	for (k = 0; k < 16 && cur < n; k++, cur++) {
		c = floor_byte(skb, off + cur);
		if (c < 0)
			goto out;
		if (st < 5) {
			if (c == (__u8)(FL_DATA >> (8 * st))) {
				st++;
				ev += st == 5;
			} else {
				st = FL_SSE_MID;
			}
		}
		if (c == '\n') {
			lfs++;
			st = 0;
		}
	}
out:
	f->http.carry_len = st == 5 ? FL_SSE_MID : st;
	ff->a += lfs;
	ff->b += ev;
}

/* A later floor on one packet: which is 2 ident, 3 h2, 4 sse. */
static __always_inline int floor_run2(struct __sk_buff *skb, int which)
{
	struct ps_flow_key k = {};
	struct floor_found *ff;
	struct ps_pkt p = {};
	struct ps_flow *f;
	__u32 zero = 0, slot;

	if (ps_parse(skb, &p))
		return TC_ACT_OK;
	k.family = p.family;
	k.client = p.saddr;
	k.server = p.daddr;
	k.cport = p.sport;
	k.sport = p.dport;
	f = bpf_map_lookup_elem(&bench_flows, &k);
	if (!f) {
		f = bpf_map_lookup_elem(&bench_flow_blank, &zero);
		if (!f || bpf_map_update_elem(&bench_flows, &k, f, BPF_ANY))
			return TC_ACT_OK;
		f = bpf_map_lookup_elem(&bench_flows, &k);
		if (!f)
			return TC_ACT_OK;
	}
	slot = which == 2 ? bpf_ntohs(p.dport) & 7 : which == 3 ? FLOOR_SLOT_H2 : FLOOR_SLOT_SSE;
	ff = bpf_map_lookup_elem(&bench_floor_found, &slot);
	if (!ff)
		return TC_ACT_OK;
	ff->packets++;
	if (which == 2) {
		struct floor_ranges *r = bpf_map_lookup_elem(&bench_floor_ranges, &zero);

		if (r)
			floor_ident(skb, p.payload_off, p.payload_avail, ff, r);
	}
	else if (which == 3)
		floor_h2(skb, f, p.payload_off, p.payload_avail, ff);
	else
		floor_sse(skb, f, p.payload_off, p.payload_avail, ff);
	return TC_ACT_OK;
}

SEC("tc")
int bench_floor_ident(struct __sk_buff *skb)
{
	return floor_run2(skb, 2);
}

SEC("tc")
int bench_floor_h2(struct __sk_buff *skb)
{
	return floor_run2(skb, 3);
}

SEC("tc")
int bench_floor_sse(struct __sk_buff *skb)
{
	return floor_run2(skb, 4);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
