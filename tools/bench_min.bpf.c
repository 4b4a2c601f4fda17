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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
