// SPDX-License-Identifier: GPL-2.0-only
/*
 * ps_bench: what one packet costs penstock's datapath, and a capture of
 * synthetic inference traffic for the replay benchmark.
 *
 * The cost is measured with BPF_PROG_TEST_RUN (the kernel times the
 * program, opts.duration is its mean ns per repetition) on the replay-mode
 * datapath, and set beside tools/bench_min.bpf.c, a program that only
 * bumps one per-CPU counter, run the same way on the same frames.
 *
 * The datapath keeps state: a frame repeated with repeat=N is new data
 * only the first time and a retransmission after that. So data segments
 * are measured twice: "steady repeat" (one frame, repeat=N: mostly the
 * retransmission path) and "distinct packets" (N frames, each the next
 * segment of one connection, repeat=1 each, ns/packet = sum of durations
 * / N), the minimal program interleaved on the very same frames.
 *
 * The ingress rows (a) and (b) are measured once more with enforcement
 * on (a default request limit that throttles nothing, classes, and a
 * thousand entries in ps_enforce), in the same runs as without; (b) once
 * more beside requests that name their client, in an X-Forwarded-For
 * chain on a gateway's pooled connection or behind a PROXY header as a new
 * connection's first segment, or by their bearer key (identity: api_key),
 * or all three at once, and beside the same new connection's first
 * segment without any of them (and, with --ident-detail, rows that take
 * that cost apart); and --gcra drives request starts far over a request
 * limit on the program clock to report the rate the limit lets through.
 *
 * Nothing here touches a network: test runs take bytes from user space,
 * and --write-pcap only writes a file.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
/*
 * libpcap's classic-BPF struct bpf_insn and the kernel uapi's eBPF one
 * share a name; libpcap's is only used here behind pointers of its own.
 */
#define bpf_insn pcap_bpf_insn
#include <pcap/pcap.h>
#undef bpf_insn
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "common/config.h"
#include "common/datapath.h"
#include "common/keyid.h"
#include "common/log.h"
#include "common/units.h"
#include "enforce/enforce.h"
#include "penstock.skel.h"
#include "csum.h"

#define BENCH_PORT	8000
#define PX_PORT		8001		/* proxy_protocol and forwarded_for: the (b-px) row's */
#define XFF_PORT	8002		/* forwarded_for only: the (b-xff) row's */
#define KEY_PORT	8003		/* identity: api_key only: the (b-key) row's */
#define ALL_PORT	8004		/* all three: the (b-all) row's */
#define OTHER_PORT	5432		/* a non-endpoint service (PostgreSQL) */
#define SERVER_ADDR	0xc612000a	/* 198.18.0.10: RFC 2544 benchmark range */
#define ADV_MSS		1460		/* advertised: 1500 MTU less IPv4 and TCP */
#define MSS		1448		/* sent: less the timestamp option too */
#define BODY_SEG	1400		/* payload of a measured mid-body segment */
#define FRAME_MAX	(ETH_HLEN + 20 + 40 + MSS)
#define STEADY_REPEAT	100000
#define MAX_RUNS	101
#define MAX_PACKETS	1000000		/* distinct packets per run */
/*
 * The body the mid-body segments are in: longer than MAX_PACKETS segments,
 * and below 2^31, beyond which the datapath (as tshark) takes a message
 * as ending with its segment instead of following the body.
 */
#define BODY_LEN	1500000000ULL

/* One TCP segment to put in a frame. Addresses and ports in host order. */
struct seg {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;		/* TCP flag byte: FIN 0x01 SYN 0x02 PSH 0x08 ACK 0x10 */
	const void *data;
	unsigned int len;
	uint64_t ts_ns;
};

#define F_FIN	0x01
#define F_SYN	0x02
#define F_PSH	0x08
#define F_ACK	0x10

/*
 * Ethernet + IPv4 + TCP with the options a Linux peer sends (MSS, SACK,
 * timestamps, window scale on a SYN; timestamps after), checksums right so
 * tshark reads the capture as it would a real one. Returns the length.
 */
static unsigned int build_frame(unsigned char *out, const struct seg *s)
{
	/* Built where the IP header is 4-byte aligned, as the structs want, then copied. */
	static unsigned char abuf[FRAME_MAX + 8] __attribute__((aligned(8)));
	unsigned char *buf = abuf + 2;
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct tcphdr *th = (struct tcphdr *)(ip + 1);
	unsigned char *opt = (unsigned char *)(th + 1);
	uint32_t tsval = htonl((uint32_t)(s->ts_ns / 1000000)), tsecr = 0;
	unsigned int olen, tcplen;
	uint32_t sum;

	memset(eth, 0, sizeof(*eth));
	eth->h_dest[0] = 0x02;
	eth->h_dest[5] = s->daddr == SERVER_ADDR && s->dport != OTHER_PORT ? 1 : 2;
	eth->h_source[0] = 0x02;
	eth->h_source[5] = eth->h_dest[5] == 1 ? 2 : 1;
	eth->h_proto = htons(ETH_P_IP);

	if (s->flags & F_SYN) {
		static const unsigned char syn_opt[20] = {
			2, 4, ADV_MSS >> 8, ADV_MSS & 0xff,		/* MSS */
			4, 2,						/* SACK permitted */
			8, 10, 0, 0, 0, 0, 0, 0, 0, 0,			/* timestamps */
			1, 3, 3, 7,					/* NOP, wscale 7 */
		};

		memcpy(opt, syn_opt, sizeof(syn_opt));
		memcpy(opt + 8, &tsval, 4);
		olen = sizeof(syn_opt);
	} else {
		opt[0] = 1;
		opt[1] = 1;
		opt[2] = 8;
		opt[3] = 10;
		memcpy(opt + 4, &tsval, 4);
		memcpy(opt + 8, &tsecr, 4);
		olen = 12;
	}
	tcplen = sizeof(*th) + olen + s->len;

	memset(th, 0, sizeof(*th));
	th->source = htons(s->sport);
	th->dest = htons(s->dport);
	th->seq = htonl(s->seq);
	th->ack_seq = htonl(s->ack);
	th->doff = (sizeof(*th) + olen) / 4;
	((uint8_t *)th)[13] = s->flags;
	th->window = htons(502);
	if (s->len)
		memcpy(opt + olen, s->data, s->len);

	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(sizeof(*ip) + tcplen);
	ip->frag_off = htons(0x4000);	/* DF */
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->saddr = htonl(s->saddr);
	ip->daddr = htonl(s->daddr);
	ip->check = csum_fold(csum_add(0, ip, sizeof(*ip)));

	/* pseudo-header: addresses, protocol, TCP length */
	sum = csum_add(0, &ip->saddr, 8);
	sum += IPPROTO_TCP + tcplen;
	th->check = csum_fold(csum_add(sum, th, tcplen));
	memcpy(out, buf, ETH_HLEN + sizeof(*ip) + tcplen);
	return ETH_HLEN + sizeof(*ip) + tcplen;
}

/* xorshift64*: a fixed seed makes every capture and run the same. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dULL;
}

static uint32_t rnd_range(uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rnd() % (hi - lo + 1));
}

/* Filler for JSON strings: prose without characters JSON must escape. */
static const char lorem[] =
	"Summarise the following incident report for the on-call engineer and list the "
	"three most likely causes with the evidence for each. The ingest service began "
	"returning errors shortly after the deploy of build 4812, latency rose on every "
	"shard and the queue depth doubled within ten minutes of the rollout. ";

static int fill_text(char *dst, int n)
{
	int i;

	for (i = 0; i < n; i++)
		dst[i] = lorem[i % (sizeof(lorem) - 1)];
	return n;
}

/* The API key every request carries in its Authorization line but (b-key)'s and (b-all)'s. */
#define REQ_KEY		"sk-bench-7f3a9c2e41d8b6a0"

/*
 * A request into buf: GET when want is 0, else a POST with a chat
 * completion body of about want bytes (at least the fixed JSON around the
 * prompt). extra: header lines (each ending in CR LF) after Host, where a
 * gateway puts the ones it sets, or NULL; key: its Authorization: Bearer
 * key.
 */
static int make_request_key(char *buf, size_t cap, const char *path, int want, unsigned int id,
			    const char *extra, const char *key)
{
	char body[8192];
	int n = 0, hl;

	if (want > 0) {
		n = snprintf(body, sizeof(body),
			     "{\"model\":\"llama-3.1-8b-instruct\",\"messages\":[{\"role\":\"user\","
			     "\"content\":\"");
		if (want > (int)sizeof(body) - 64)
			want = sizeof(body) - 64;
		n += fill_text(body + n, want > n + 40 ? want - n - 40 : 8);
		n += snprintf(body + n, sizeof(body) - n, "\"}],\"max_tokens\":512}");
	}
	hl = snprintf(buf, cap,
		      "%s %s HTTP/1.1\r\n"
		      "Host: 198.18.0.10:8000\r\n"
		      "%s"
		      "User-Agent: OpenAI/Python 1.51.0\r\n"
		      "Accept: application/json\r\n"
		      "Content-Type: application/json\r\n"
		      "Authorization: Bearer %s\r\n"
		      "X-Request-Id: req-%08x\r\n"
		      "Content-Length: %d\r\n"
		      "\r\n",
		      n ? "POST" : "GET", path, extra ? extra : "", key, id, n);
	if (hl < 0 || (size_t)(hl + n) > cap)
		return -ENOSPC;
	memcpy(buf + hl, body, n);
	return hl + n;
}

static int make_request(char *buf, size_t cap, const char *path, int want, unsigned int id,
			const char *extra)
{
	return make_request_key(buf, cap, path, want, id, extra, REQ_KEY);
}

/* A chat completion response of about want body bytes into buf. */
static int make_response(char *buf, size_t cap, int want, unsigned int id)
{
	char body[8192];
	int n, hl;

	n = snprintf(body, sizeof(body),
		     "{\"id\":\"chatcmpl-%08x\",\"object\":\"chat.completion\",\"created\":1700000000,"
		     "\"model\":\"llama-3.1-8b-instruct\",\"choices\":[{\"index\":0,\"message\":"
		     "{\"role\":\"assistant\",\"content\":\"", id);
	if (want > (int)sizeof(body) - n - 160)
		want = sizeof(body) - n - 160;
	n += fill_text(body + n, want > n + 120 ? want - n - 120 : 8);
	n += snprintf(body + n, sizeof(body) - n,
		      "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":%u,"
		      "\"completion_tokens\":%u,\"total_tokens\":%u}}",
		      want / 4, n / 4, want / 4 + n / 4);
	hl = snprintf(buf, cap,
		      "HTTP/1.1 200 OK\r\n"
		      "date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
		      "server: uvicorn\r\n"
		      "content-length: %d\r\n"
		      "content-type: application/json\r\n"
		      "\r\n", n);
	if (hl < 0 || (size_t)(hl + n) > cap)
		return -ENOSPC;
	memcpy(buf + hl, body, n);
	return hl + n;
}

/*
 * SC_ANSWER: an embeddings answer as nginx sends a static one (its header
 * lines, in its order), 240 bytes of JSON with the prompt's usage.
 */
#define ANSWER_PROMPT_TOKENS 8
static char answer_seg[1024];
static int answer_len;

static void answer_init(void)
{
	static const char body[] =
		"{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
		"\"embedding\":[0.0023064255,-0.009327292,0.015797347,-0.0077780345,"
		"0.0045392185]}],\"model\":\"e5-small\",\"usage\":{\"prompt_tokens\":8,"
		"\"total_tokens\":8}}";

	answer_len = snprintf(answer_seg, sizeof(answer_seg),
			      "HTTP/1.1 200 OK\r\n"
			      "Server: nginx/1.22.1\r\n"
			      "Date: Mon, 07 Dec 2026 07:29:05 GMT\r\n"
			      "Content-Type: application/json\r\n"
			      "Content-Length: %zu\r\n"
			      "Last-Modified: Mon, 07 Dec 2026 07:28:59 GMT\r\n"
			      "Connection: keep-alive\r\n"
			      "ETag: \"6934ed7b-f0\"\r\n"
			      "Accept-Ranges: bytes\r\n"
			      "\r\n%s", sizeof(body) - 1, body);
}

/* A client's TCP connection to the endpoint. */
struct conn {
	uint32_t caddr;
	uint16_t cport;
	uint16_t port;		/* the endpoint's */
	uint32_t cseq, sseq;	/* next sequence number each side sends */
};

/* The next segment of c one way, at ts; advances that side's sequence. */
static struct seg conn_seg(struct conn *c, int c2s, uint8_t flags, const void *data,
			   unsigned int len, uint64_t ts)
{
	struct seg s = {
		.saddr = c2s ? c->caddr : SERVER_ADDR,
		.daddr = c2s ? SERVER_ADDR : c->caddr,
		.sport = c2s ? c->cport : c->port,
		.dport = c2s ? c->port : c->cport,
		.seq = c2s ? c->cseq : c->sseq,
		.ack = c2s ? c->sseq : c->cseq,
		.flags = flags, .data = data, .len = len, .ts_ns = ts,
	};
	uint32_t adv = len + (flags & (F_SYN | F_FIN) ? 1 : 0);

	if (c2s)
		c->cseq += adv;
	else
		c->sseq += adv;
	return s;
}

/* ---- per-packet cost ---- */

struct bench {
	struct ps_datapath dp;
	struct bpf_object *min_obj;
	int min_fd;
	int floor_fd;		/* bench_floor: the per-connection floor */
	int floor_lines_fd;	/* bench_floor_lines: the same, line by line */
	int floor_scan_fd;	/* its bench_floor_scan map ... */
	int floor_count_fd;	/* ... and bench_floor_count */
	int floor_ident_fd;	/* bench_floor_ident: floor_lines + the identity lines */
	int floor_h2_fd;	/* bench_floor_h2: the HTTP/2 frame headers */
	int floor_sse_fd;	/* bench_floor_sse: an event stream's "data:" lines */
	int floor_found_fd;	/* what those found: bench_floor_found */
	int setup_floor_fd;	/* > 0: a floor that sees the client's handshake too */
	struct bpf_object *stage_obj[9];	/* bench_stage.bpf.o stopped after stage k */
	int stage_fd[9];	/* [0]: the datapath's own ps_ingress */
	unsigned int npkts;	/* distinct packets per run */
	unsigned int xff_chain;	/* entries in the identity rows' X-Forwarded-For */
	int ident_detail;	/* the identity table's breakdown rows too */
	int ident_only;		/* the identity table alone */
	uint64_t ts_ns;		/* program clock, advanced per packet */
	unsigned char frame[FRAME_MAX];
	/* enforcement "on": its config, and what the tries hold */
	struct ps_config enf_cfg;
	int enf_entries;	/* in ps_enforce */
	int enf_prefixes;	/* in ps_class_of */
	struct ps_class enf_default;	/* ps_classes[0] when on */
};

static int test_run(int fd, const void *frame, unsigned int len, uint64_t ts, uint32_t repeat,
		    uint32_t *duration, int *retval)
{
	struct __sk_buff ctx = { .tstamp = ts };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &opts))
		return -errno;
	*duration = opts.duration;
	*retval = (int)opts.retval;
	return 0;
}

/* The next segment of c in b's frame, a microsecond after the last one. */
static unsigned int conn_frame(struct bench *b, struct conn *c, int c2s, uint8_t flags,
			       const void *data, unsigned int len)
{
	struct seg s = conn_seg(c, c2s, flags, data, len, b->ts_ns += 1000);

	return build_frame(b->frame, &s);
}

/* Send one segment through the datapath, untimed (connection set-up). */
static int conn_send(struct bench *b, struct conn *c, int c2s, uint8_t flags, const void *data,
		     unsigned int len)
{
	unsigned int flen = conn_frame(b, c, c2s, flags, data, len);
	uint32_t dur;
	int ret, err;

	err = test_run(c2s ? b->dp.ingress_fd : b->dp.egress_fd, b->frame, flen, b->ts_ns, 1,
		       &dur, &ret);
	/* The floor makes its flow where the datapath does: at the SYN, untimed. */
	if (!err && c2s && b->setup_floor_fd > 0)
		err = test_run(b->setup_floor_fd, b->frame, flen, b->ts_ns, 1, &dur, &ret);
	return err;
}

/* A connection from caddr:cport to port, its handshake sent untimed. */
static int conn_start(struct bench *b, struct conn *c, uint32_t caddr, uint16_t cport,
		      uint16_t port, uint32_t cseq, uint32_t sseq)
{
	int err;

	c->caddr = caddr;
	c->cport = cport;
	c->port = port;
	c->cseq = cseq;
	c->sseq = sseq;
	err = conn_send(b, c, 1, F_SYN, NULL, 0);
	if (!err)
		err = conn_send(b, c, 0, F_SYN | F_ACK, NULL, 0);
	if (!err)
		err = conn_send(b, c, 1, F_ACK, NULL, 0);
	return err;
}

/*
 * A fresh client per scenario and run, so each run starts on a new flow,
 * to the endpoint on port. Both streams pass 2^32 early in a run, as long
 * transfers do.
 */
static int conn_open_to(struct bench *b, struct conn *c, unsigned int id, uint16_t port)
{
	/* 198.18.1.0/24 and up */
	return conn_start(b, c, 0xc6120100 + id, 40000 + id, port, 0xfe000000 + id * 4096,
			  0xff000000 + id * 4096);
}

static int conn_open(struct bench *b, struct conn *c, unsigned int id)
{
	return conn_open_to(b, c, id, BENCH_PORT);
}

enum scenario {
	SC_BODY,	/* ingress, mid-body client segment */
	SC_REQ,		/* ingress, a whole request in one segment */
	SC_OTHER,	/* ingress, TCP to a port that is no endpoint */
	SC_EGRESS,	/* egress, mid-body server segment */
	SC_H2_HEADERS,	/* ingress, h2c: a request's HEADERS and DATA in one segment */
	SC_H2_DATA,	/* ingress, h2c: an upload's DATA frames, a segment at a time */
	SC_SSE,		/* egress, mid-body of an event stream answering an inference request */
	SC_H2_SSE,	/* egress, h2c: inside a DATA frame of an inference stream (scanned) */
	SC_ANSWER,	/* egress, a whole small answer to an inference request (headers + JSON) */
	SC_H2_ANSWER,	/* egress, h2c: the same answer, HEADERS and DATA */
	SC_MAX,
};

enum mode {
	M_DISTINCT,
	M_STEADY,
	M_ENF_OFF,	/* distinct packets, enforcement off, alternating with ... */
	M_ENF,		/* ... distinct packets, enforcement on */
	M_FLOOR,	/* bench_floor on the frames of M_DISTINCT */
	M_FLOOR_LINES,	/* bench_floor_lines on the frames of M_DISTINCT */
	M_MAX,
};

struct result {
	double dp_ns[MAX_RUNS];
	double min_ns[MAX_RUNS];
	unsigned int runs;
	int measured;
};

static struct result results[SC_MAX][M_MAX];
static char req_seg[1024];
static int req_seg_len;
static unsigned int req_hdr_len;	/* its header block, blank line included */
static char body_seg[BODY_SEG];

/*
 * What a run must leave behind, checked so that a row measures the path it
 * names: the client's counters, and where the request parser stands.
 */
struct expect {
	uint64_t requests, rx_payload, tx_payload;
	uint64_t tx_events;	/* SC_SSE: "data:" lines in the body sent */
	uint64_t rx_tokens;	/* SC_ANSWER: the answers' "prompt_tokens" */
	int state;		/* enum ps_http_state */
	uint64_t body_left;	/* in PS_H1_BODY */
	uint64_t gcra_tat;	/* the client's GCRA state: 0 when no limit ran */
};

/* What the later floors found, as tools/bench_min.bpf.c's struct floor_found. */
struct found {
	uint64_t packets, a, b, c, d, e;
};

#define FOUND_H2	8	/* bench_floor_found's slots: bench_floor_h2's ... */
#define FOUND_SSE	9	/* ... and bench_floor_sse's; 0..7 bench_floor_ident's */

static int check_client(struct bench *b, uint32_t caddr, const struct expect *e, const char *what)
{
	struct ps_client *list = NULL;
	int n, i, err = -ENOENT;

	n = ps_dp_read_clients(&b->dp, &list);
	if (n < 0) {
		pr_warn("ps_bench: %s: cannot read the counters: %s\n", what, strerror(-n));
		return n;
	}
	for (i = 0; i < n; i++) {
		const struct ps_counters *c = &list[i].c;

		if (list[i].key.family != PS_AF_INET || list[i].key.addr.a[0] != htonl(caddr))
			continue;
		err = 0;
		if (c->requests != e->requests || c->rx_payload != e->rx_payload ||
		    c->tx_payload != e->tx_payload || list[i].tx_events != e->tx_events ||
		    list[i].rx_tokens != e->rx_tokens) {
			pr_warn("ps_bench: warning: %s: counted requests %llu rx_payload %llu "
				"tx_payload %llu tx_events %llu rx_tokens %llu, expected %llu %llu "
				"%llu %llu %llu: the row does not measure the path it names\n", what,
				(unsigned long long)c->requests, (unsigned long long)c->rx_payload,
				(unsigned long long)c->tx_payload,
				(unsigned long long)list[i].tx_events,
				(unsigned long long)list[i].rx_tokens,
				(unsigned long long)e->requests, (unsigned long long)e->rx_payload,
				(unsigned long long)e->tx_payload, (unsigned long long)e->tx_events,
				(unsigned long long)e->rx_tokens);
			err = -EPROTO;
		}
		break;
	}
	if (err == -ENOENT)
		pr_warn("ps_bench: warning: %s: the client was not counted at all\n", what);
	free(list);
	return err;
}

static int check_flow(struct bench *b, const struct conn *c, const struct expect *e,
		      const char *what)
{
	struct ps_flow_key k = {
		.client.a[0] = htonl(c->caddr), .server.a[0] = htonl(SERVER_ADDR),
		.cport = htons(c->cport), .sport = htons(c->port), .family = PS_AF_INET,
	};
	struct ps_flow f;

	if (ps_dp_flow_lookup(&b->dp, &k, &f) < 0) {
		pr_warn("ps_bench: warning: %s: the flow is gone: %s\n", what, strerror(errno));
		return -ENOENT;
	}
	if (f.http.state != e->state ||
	    (e->state == PS_H1_BODY && f.http.body_left != e->body_left)) {
		pr_warn("ps_bench: warning: %s: the request parser is in state %u (%llu body bytes "
			"left), expected %d (%llu): the row does not measure the path it names\n",
			what, f.http.state, (unsigned long long)f.http.body_left, e->state,
			(unsigned long long)e->body_left);
		return -EPROTO;
	}
	return 0;
}

/* A client's slot in ps_client_ctrs, read whole: an address's or an API key's. */
static int read_ctr_of(struct bench *b, const struct ps_client_key *k, struct ps_client_ctr *ctr)
{
	struct ps_client_slot s;

	if (bpf_map_lookup_elem(bpf_map__fd(b->dp.skel->maps.ps_clients), k, &s) ||
	    bpf_map_lookup_elem(bpf_map__fd(b->dp.skel->maps.ps_client_ctrs), &s.slot, ctr))
		return -errno;
	return 0;
}

static int read_ctr(struct bench *b, uint32_t caddr, struct ps_client_ctr *ctr)
{
	struct ps_client_key k = { .addr.a[0] = htonl(caddr), .family = PS_AF_INET };

	return read_ctr_of(b, &k, ctr);
}

/*
 * The enforcement a run went through: the request limit ran on every
 * request start (its theoretical arrival time is where N admissions put
 * it), or never (0); nothing was throttled or blocked, not even in a dry
 * run, so that the row measures passing traffic.
 */
static int check_enforce(struct bench *b, const struct conn *c, const struct expect *e,
			 const char *what)
{
	struct ps_client_ctr ctr;
	int err = read_ctr(b, c->caddr, &ctr);

	if (err) {
		pr_warn("ps_bench: warning: %s: cannot read the client's slot: %s\n", what,
			strerror(-err));
		return err;
	}
	if (ctr.gcra_tat != e->gcra_tat || ctr.would_throttle || ctr.throttled_requests ||
	    ctr.would_block || ctr.blocked_packets) {
		pr_warn("ps_bench: warning: %s: GCRA time %llu (expected %llu), %llu + %llu "
			"throttled, %llu + %llu blocked (expected none): the row does not "
			"measure the path it names\n", what, (unsigned long long)ctr.gcra_tat,
			(unsigned long long)e->gcra_tat, (unsigned long long)ctr.would_throttle,
			(unsigned long long)ctr.throttled_requests,
			(unsigned long long)ctr.would_block, (unsigned long long)ctr.blocked_packets);
		return -EPROTO;
	}
	return 0;
}

/* The checks of a run; a mismatch is reported, the figures still are. */
static void check_run(struct bench *b, const struct conn *c, enum scenario sc,
		      const struct expect *e, const char *what)
{
	if (sc == SC_OTHER)
		return;
	check_client(b, c->caddr, e, what);
	check_flow(b, c, e, what);
	check_enforce(b, c, e, what);
}

/*
 * HTTP/2 (h2c with prior knowledge): the preface, an empty SETTINGS, and
 * stream 1, whose header block puts ":path: /v1/chat/completions" in the
 * HPACK table (index 62); each measured request indexes it, as h2load's
 * repeated requests do.
 */
#define H2_DATA_FRAME	16384		/* the initial SETTINGS_MAX_FRAME_SIZE */
static unsigned char h2_seg[256];	/* a request: HEADERS, then a DATA frame with the body */
static unsigned int h2_seg_len;
static uint64_t h2_up_pos;		/* SC_H2_DATA: stream bytes of the upload sent */

static unsigned int h2_frame_hdr(unsigned char *b, unsigned int len, uint8_t type, uint8_t flags,
				 uint32_t sid)
{
	b[0] = len >> 16;
	b[1] = len >> 8;
	b[2] = len;
	b[3] = type;
	b[4] = flags;
	b[5] = sid >> 24;
	b[6] = sid >> 16;
	b[7] = sid >> 8;
	b[8] = sid;
	return 9;
}

/* The request on stream sid into h2_seg: HEADERS (END_HEADERS), DATA (END_STREAM). */
static void h2_request(uint32_t sid)
{
	static const char body[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
				   "\"content\":\"hi\"}],\"max_tokens\":16}";
	/* :method POST, :scheme http, :path (62), :authority literal, content-type literal */
	static const unsigned char blk[] = { 0x83, 0x86, 0xbe, 0x01, 0x0a, '1', '9', '8', '.',
					     '1', '8', '.', '0', '.', '1', 0x0f, 0x10, 0x10,
					     'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o',
					     'n', '/', 'j', 's', 'o', 'n' };
	unsigned int n = 0;

	n += h2_frame_hdr(h2_seg + n, sizeof(blk), 1, 0x4, sid);
	memcpy(h2_seg + n, blk, sizeof(blk));
	n += sizeof(blk);
	n += h2_frame_hdr(h2_seg + n, sizeof(body) - 1, 0, 0x1, sid);
	memcpy(h2_seg + n, body, sizeof(body) - 1);
	h2_seg_len = n + sizeof(body) - 1;
}

/* The next BODY_SEG bytes of an upload of H2_DATA_FRAME-byte DATA frames on stream 1. */
static void h2_upload_seg(void)
{
	unsigned char hdr[9];
	unsigned int i;

	h2_frame_hdr(hdr, H2_DATA_FRAME, 0, 0, 1);
	for (i = 0; i < BODY_SEG; i++, h2_up_pos++) {
		uint64_t at = h2_up_pos % (9 + H2_DATA_FRAME);

		body_seg[i] = at < 9 ? (char)hdr[at] : 'd';
	}
}

/* The stream 1 set-up of the HTTP/2 scenarios: 1 request, parser at a frame header. */
static int h2_setup(struct bench *b, struct conn *c, struct expect *e, int upload)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const unsigned char blk[] = { 0x83, 0x86, 0x44, 20, '/', 'v', '1', '/', 'c', 'h',
					     'a', 't', '/', 'c', 'o', 'm', 'p', 'l', 'e', 't',
					     'i', 'o', 'n', 's' };
	unsigned char s1[128];
	unsigned int n = 0;

	memcpy(s1, preface, 24);
	n = 24 + h2_frame_hdr(s1 + 24, 0, 4, 0, 0);
	/* Stream 1: END_STREAM unless an upload follows. */
	n += h2_frame_hdr(s1 + n, sizeof(blk), 1, upload ? 0x4 : 0x5, 1);
	memcpy(s1 + n, blk, sizeof(blk));
	n += sizeof(blk);
	e->requests = 1;
	e->rx_payload = n;
	e->state = PS_H2_FRAME;
	h2_up_pos = 0;
	return conn_send(b, c, 1, F_ACK | F_PSH, s1, n);
}

/*
 * The client's side of the egress h2c scenarios: the preface, an empty
 * SETTINGS, and stream 1, an inference request (its :path before :scheme,
 * so that its block ends classified).
 */
static int h2_egress_open(struct bench *b, struct conn *c, struct expect *e)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const unsigned char blk[] = { 0x83, 0x44, 20, '/', 'v', '1', '/', 'c', 'h',
					     'a', 't', '/', 'c', 'o', 'm', 'p', 'l', 'e', 't',
					     'i', 'o', 'n', 's', 0x86 };
	unsigned char s1[128];
	unsigned int n;

	memcpy(s1, preface, 24);
	n = 24 + h2_frame_hdr(s1 + 24, 0, 4, 0, 0);
	n += h2_frame_hdr(s1 + n, sizeof(blk), 1, 0x5, 1);
	memcpy(s1 + n, blk, sizeof(blk));
	n += sizeof(blk);
	e->requests = 1;
	e->rx_payload = n;
	e->state = PS_H2_FRAME;
	return conn_send(b, c, 1, F_ACK | F_PSH, s1, n);
}

/*
 * The server's side of h2c (SC_H2_SSE): stream 1 an inference request
 * (h2_egress_open()), the server's preface (SETTINGS), its HEADERS and the
 * header of a DATA frame of 2^24 - 1 bytes on stream 1, whose data the
 * measured segments are: each scanned as the data of an inference stream
 * (bpf/lib/h2resp.h).
 */
static int h2_sse_setup(struct bench *b, struct conn *c, struct expect *e)
{
	unsigned char s2[64];
	unsigned int m = 0;
	int err = h2_egress_open(b, c, e);

	if (err)
		return err;
	m = h2_frame_hdr(s2, 0, 4, 0, 0);		/* SETTINGS */
	m += h2_frame_hdr(s2 + m, 1, 1, 0x4, 1);	/* HEADERS: :status 200 */
	s2[m++] = 0x88;
	m += h2_frame_hdr(s2 + m, 0xffffff, 0, 0, 1);	/* DATA */
	e->tx_payload = m;
	return conn_send(b, c, 0, F_ACK | F_PSH, s2, m);
}

/*
 * SC_H2_ANSWER: h2c as h2_sse_setup() opens it (stream 1 an inference
 * request, the server's SETTINGS and stream 1's answer, whole); each
 * measured segment answers the next request (h2_request(), through
 * ingress untimed) with its HEADERS (:status 200, content-type and
 * content-length literals) and a DATA frame ending the stream, the
 * embeddings JSON of SC_ANSWER.
 */
static unsigned char h2_ans[512];
static unsigned int h2_ans_len;
static unsigned int h2_ans_body;	/* its DATA frame's offset */

/* The answer on stream sid into h2_ans (h2_answer_init() made the rest). */
static void h2_answer_sid(uint32_t sid)
{
	h2_frame_hdr(h2_ans, h2_ans_body - 9, 1, 0x4, sid);
	h2_frame_hdr(h2_ans + h2_ans_body, h2_ans_len - h2_ans_body - 9, 0, 0x1, sid);
}

static int h2_answer_setup(struct bench *b, struct conn *c, struct expect *e)
{
	unsigned char s2[16];
	unsigned int n;
	int err = h2_egress_open(b, c, e);

	if (err)
		return err;
	n = h2_frame_hdr(s2, 0, 4, 0, 0);	/* the server's SETTINGS */
	e->tx_payload = n;
	err = conn_send(b, c, 0, F_ACK | F_PSH, s2, n);
	if (err)
		return err;
	h2_answer_sid(1);
	e->tx_payload += h2_ans_len;
	e->rx_tokens = ANSWER_PROMPT_TOKENS;
	return conn_send(b, c, 0, F_ACK | F_PSH, h2_ans, h2_ans_len);
}

static void h2_answer_init(void)
{
	const char *body = strstr(answer_seg, "\r\n\r\n") + 4;
	unsigned int nb = answer_seg + answer_len - body, n = 9, k;
	char len[16];

	h2_ans[n++] = 0x88;				/* :status 200 */
	h2_ans[n++] = 0x0f;				/* content-type (31), literal */
	h2_ans[n++] = 0x10;
	h2_ans[n++] = 16;
	memcpy(h2_ans + n, "application/json", 16);
	n += 16;
	k = snprintf(len, sizeof(len), "%u", nb);
	h2_ans[n++] = 0x0f;				/* content-length (28), literal */
	h2_ans[n++] = 0x0d;
	h2_ans[n++] = k;
	memcpy(h2_ans + n, len, k);
	n += k;
	h2_ans_body = n;
	memcpy(h2_ans + n + 9, body, nb);
	h2_ans_len = n + 9 + nb;
}

/*
 * SC_SSE: the body of a streamed chat completion as an OpenAI-compatible
 * server sends it, one chunk event per token ("data: {...}" and a blank
 * line), SSE_EVENTS of them over and over; the measured segments are its
 * next BODY_SEG bytes, cut wherever they fall.
 */
#define SSE_EVENTS	48
static char sse_stream[SSE_EVENTS * 256];
static unsigned int sse_len;
static uint64_t sse_pos;		/* body bytes sent */
static char sse_seg_buf[BODY_SEG];
static uint64_t sse_want[2];		/* bench_floor_sse's LFs and "data:" lines */

static void sse_init(void)
{
	const char *w = lorem;
	unsigned int i, wl;

	sse_len = 0;
	for (i = 0; i < SSE_EVENTS; i++) {
		while (*w == ' ')
			w++;
		if (!*w)
			w = lorem;
		wl = strcspn(w, " ");
		sse_len += snprintf(sse_stream + sse_len, sizeof(sse_stream) - sse_len,
				    "data: {\"id\":\"chatcmpl-5eed\",\"object\":\"chat.completion."
				    "chunk\",\"created\":1700000000,\"model\":\"llama-3.1-8b-instruct\","
				    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" %.*s\"},"
				    "\"finish_reason\":null}]}\n\n", (int)wl, w);
		w += wl;
	}
}

static char sse_at(uint64_t q)
{
	return sse_stream[q % sse_len];
}

/*
 * The next BODY_SEG bytes of the stream into sse_seg_buf, and what they
 * complete, byte by byte: "data:" at a line's start (the body's first
 * byte or after a LF), which the datapath counts as an event and
 * bench_floor_sse finds, and the LFs the floor finds.
 */
static void sse_next_seg(struct expect *e)
{
	uint64_t q, l;

	for (q = sse_pos; q < sse_pos + BODY_SEG; q++) {
		sse_seg_buf[q - sse_pos] = sse_at(q);
		sse_want[0] += sse_at(q) == '\n';
		if (q < 4)
			continue;
		l = q - 4;
		if ((!l || sse_at(l - 1) == '\n') && sse_at(l) == 'd' && sse_at(l + 1) == 'a' &&
		    sse_at(l + 2) == 't' && sse_at(l + 3) == 'a' && sse_at(l + 4) == ':') {
			e->tx_events++;
			sse_want[1]++;
		}
	}
	sse_pos += BODY_SEG;
}

/*
 * Set up a connection for a scenario and leave it where the measured
 * segments continue: inside a body too long to end during the run.
 */
static int scenario_setup(struct bench *b, struct conn *c, enum scenario sc, unsigned int id,
			  struct expect *e)
{
	char hdr[1024];
	int err, n;

	memset(e, 0, sizeof(*e));
	e->state = PS_H1_START;
	err = conn_open(b, c, id);
	if (err)
		return err;
	switch (sc) {
	case SC_BODY:
		/* The request completes (and counts) when its body ends. */
		n = snprintf(hdr, sizeof(hdr),
			     "POST /v1/chat/completions HTTP/1.1\r\nHost: 198.18.0.10:8000\r\n"
			     "Content-Type: application/json\r\nContent-Length: %llu\r\n\r\n",
			     BODY_LEN);
		e->rx_payload = n;
		e->state = PS_H1_BODY;
		e->body_left = BODY_LEN;
		return conn_send(b, c, 1, F_ACK | F_PSH, hdr, n);
	case SC_EGRESS:
	case SC_SSE:
		/* The body of an event stream is read byte by byte (events,
		 * usage); any other is skipped by arithmetic. */
		n = snprintf(hdr, sizeof(hdr),
			     "HTTP/1.1 200 OK\r\ncontent-type: %s\r\n"
			     "content-length: %llu\r\n\r\n",
			     sc == SC_SSE ? "text/event-stream" : "application/octet-stream",
			     BODY_LEN);
		e->requests = 1;
		e->rx_payload = req_seg_len;
		e->tx_payload = n;
		sse_pos = 0;
		sse_want[0] = sse_want[1] = 0;
		err = conn_send(b, c, 1, F_ACK | F_PSH, req_seg, req_seg_len);
		if (!err)
			err = conn_send(b, c, 0, F_ACK | F_PSH, hdr, n);
		return err;
	case SC_H2_HEADERS:
		return h2_setup(b, c, e, 0);
	case SC_H2_DATA:
		return h2_setup(b, c, e, 1);
	case SC_H2_SSE:
		return h2_sse_setup(b, c, e);
	case SC_H2_ANSWER:
		return h2_answer_setup(b, c, e);
	default:
		return 0;
	}
}

/*
 * SC_ANSWER: the request an answer answers, through ingress untimed, so
 * that the answer is one to an inference request (its body scanned).
 */
static int answer_request(struct bench *b, struct conn *c, struct expect *e)
{
	e->requests++;
	e->rx_payload += req_seg_len;
	return conn_send(b, c, 1, F_ACK | F_PSH, req_seg, req_seg_len);
}

/* The measured segment of a scenario, appended to c. */
static unsigned int scenario_frame(struct bench *b, struct conn *c, enum scenario sc,
				   struct expect *e)
{
	switch (sc) {
	case SC_BODY:
		e->rx_payload += BODY_SEG;
		e->body_left -= BODY_SEG;
		return conn_frame(b, c, 1, F_ACK, body_seg, BODY_SEG);
	case SC_REQ:
		e->requests++;
		e->rx_payload += req_seg_len;
		return conn_frame(b, c, 1, F_ACK | F_PSH, req_seg, req_seg_len);
	case SC_EGRESS:
	case SC_H2_SSE:
		e->tx_payload += BODY_SEG;
		return conn_frame(b, c, 0, F_ACK, body_seg, BODY_SEG);
	case SC_SSE:
		e->tx_payload += BODY_SEG;
		sse_next_seg(e);
		return conn_frame(b, c, 0, F_ACK, sse_seg_buf, BODY_SEG);
	case SC_H2_ANSWER: {
		uint32_t sid = 2 * (uint32_t)e->requests + 1;

		h2_request(sid);
		e->requests++;
		e->rx_payload += h2_seg_len;
		if (conn_send(b, c, 1, F_ACK | F_PSH, h2_seg, h2_seg_len))
			return 0;
		h2_answer_sid(sid);
		e->tx_payload += h2_ans_len;
		e->rx_tokens += ANSWER_PROMPT_TOKENS;
		return conn_frame(b, c, 0, F_ACK | F_PSH, h2_ans, h2_ans_len);
	}
	case SC_ANSWER:
		if (answer_request(b, c, e))
			return 0;
		e->tx_payload += answer_len;
		e->rx_tokens += ANSWER_PROMPT_TOKENS;
		return conn_frame(b, c, 0, F_ACK | F_PSH, answer_seg, answer_len);
	case SC_H2_HEADERS:
		h2_request(2 * (uint32_t)e->requests + 1);
		e->requests++;
		e->rx_payload += h2_seg_len;
		return conn_frame(b, c, 1, F_ACK | F_PSH, h2_seg, h2_seg_len);
	case SC_H2_DATA: {
		uint64_t at;

		h2_upload_seg();
		at = h2_up_pos % (9 + H2_DATA_FRAME);
		e->rx_payload += BODY_SEG;
		/* In a payload, or at a frame header (cut or not). */
		e->state = at >= 9 ? PS_H2_PAYLOAD : PS_H2_FRAME;
		return conn_frame(b, c, 1, F_ACK, body_seg, BODY_SEG);
	}
	default: {
		struct seg s = {
			.saddr = c->caddr, .daddr = SERVER_ADDR, .sport = c->cport,
			.dport = OTHER_PORT, .seq = c->cseq, .ack = 1, .flags = F_ACK | F_PSH,
			.data = body_seg, .len = BODY_SEG, .ts_ns = b->ts_ns += 1000,
		};

		return build_frame(b->frame, &s);
	}
	}
}

static int scenario_prog(struct bench *b, enum scenario sc)
{
	return sc == SC_EGRESS || sc == SC_SSE || sc == SC_H2_SSE || sc == SC_ANSWER ||
			       sc == SC_H2_ANSWER ?
		       b->dp.egress_fd : b->dp.ingress_fd;
}

static int scenario_verdict(enum scenario sc)
{
	(void)sc;
	return TC_ACT_OK;
}

static const char *const sc_name[SC_MAX] = {
	[SC_BODY] = "(a) ingress, mid-body data segment",
	[SC_REQ] = "(b) ingress, request start",
	[SC_OTHER] = "(c) ingress, non-endpoint packet",
	[SC_EGRESS] = "egress, mid-body server->client",
	[SC_H2_HEADERS] = "(d) ingress, HTTP/2 request (HEADERS + DATA)",
	[SC_H2_DATA] = "(e) ingress, HTTP/2 upload (DATA frames)",
	[SC_SSE] = "(f) egress, mid-body of an event stream (scanned)",
	[SC_H2_SSE] = "egress, HTTP/2 DATA of an inference stream (scanned)",
	[SC_ANSWER] = "(g) egress, a whole answer: nginx's 9 header lines and a 240-byte JSON "
		      "answer to an inference request",
	[SC_H2_ANSWER] = "(h) egress, the same answer over h2c: HEADERS and a DATA frame that "
			 "ends the stream",
};

/* ---- enforcement policy ---- */

/*
 * The policy maps are written here, entry by entry, so that the runs can
 * switch them on and off between packets: the same entries
 * ps_enf_apply_classes and ps_enf_set write (through the same
 * ps_class_of_limits and ps_lpm_key_of), from a struct ps_config built
 * here and resolved by ps_limits_resolve() as the daemon resolves its own.
 */

/* ps_enforce_state: what the programs take the tries to hold. */
static int set_enforce_state(struct bench *b, int entries, int prefixes)
{
	struct ps_enforce_state st = { .entries = entries, .classes = prefixes };
	uint32_t zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(b->dp.skel->maps.ps_enforce_state), &zero, &st,
				BPF_ANY))
		return -errno;
	return 0;
}

/*
 * ps_classes[0..nclasses] from cfg as ps_enf_apply_classes() writes them,
 * and with prefixes their ps_class_of entries too. Returns the prefixes
 * written, or -errno.
 */
static int apply_classes(struct bench *b, const struct ps_config *cfg, int prefixes)
{
	int cfd = bpf_map__fd(b->dp.skel->maps.ps_classes);
	int ofd = bpf_map__fd(b->dp.skel->maps.ps_class_of);
	int i, j, n = 0;

	for (i = 0; i <= cfg->nclasses && i < PS_MAX_CLASSES; i++) {
		struct ps_class cl;
		struct ps_limits l;
		uint32_t id = i;

		ps_limits_resolve(cfg, i, &l);
		ps_class_of_limits(&l, &cl);
		if (bpf_map_update_elem(cfd, &id, &cl, BPF_ANY))
			return -errno;
		if (i == 0 && cfg == &b->enf_cfg)
			b->enf_default = cl;
	}
	for (i = 0; prefixes && i < cfg->nclasses; i++)
		for (j = 0; j < cfg->classes[i].nclients; j++) {
			struct ps_class_ref ref = { .class_id = i + 1 };
			struct ps_lpm_key k;

			ps_lpm_key_of(&k, &cfg->classes[i].clients[j]);
			if (bpf_map_update_elem(ofd, &k, &ref, BPF_ANY))
				return -errno;
			n++;
		}
	return n;
}

static void limits_unset(struct ps_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->requests_per_minute = l->burst = l->requests_per_day = PS_LIMIT_UNSET;
	l->egress_bytes_per_minute = l->egress_bytes_per_day = PS_LIMIT_UNSET;
	l->max_connections = l->shape_rate = PS_LIMIT_UNSET;
	l->tokens_per_minute = l->token_burst = l->tokens_per_day = PS_LIMIT_UNSET;
	l->on_exceed = PS_ON_EXCEED_UNSET;
	l->unlimited = -1;
	l->dry_run = -1;
}

#define ENF_BLOCKS	1000		/* /32 blocks in ps_enforce, besides a /16 */
#define ENF_RPM		10000000	/* the default limit when on: the config's */
#define ENF_BURST	1000000		/* highest, so that no request is throttled */

/* The classes of "enforcement on": none covers the clients measured. */
static const struct {
	const char *name;
	const char *prefixes[4];
	uint64_t rpm, burst;	/* 0: unlimited */
} enf_classes[] = {
	{ "batch", { "10.1.0.0/16", "10.2.0.0/16", "fd00:1::/32" }, 60, 10 },
	{ "partners", { "172.16.0.0/12", "192.168.7.0/24", "2001:db8:1::/48" }, 6000, 100 },
	{ "internal", { "198.18.128.0/17", "203.0.113.0/24" }, 0, 0 },
};

/*
 * Fill the tries for "enforcement on" and leave enforcement off: a
 * default class limit, three classes of a few prefixes each, ENF_BLOCKS
 * /32 blocks and a /16 block, none of them on the measured clients
 * (198.18.1.0/24 and up) or the server (198.18.0.10).
 */
static int enf_setup(struct bench *b)
{
	struct ps_config *cfg = &b->enf_cfg;
	int efd = bpf_map__fd(b->dp.skel->maps.ps_enforce);
	struct ps_enforcement blk = {
		.action = PS_ACT_BLOCK, .origin = PS_ORIGIN_MANUAL,
		.since_ns = 1700000000ULL * 1000000000ULL,
	};
	struct ps_prefix p = { .family = PS_AF_INET, .len = 32 };
	struct ps_lpm_key k;
	char err[128];
	unsigned int i, j;
	uint32_t a;
	int n;

	ps_config_init(cfg);
	cfg->limits_default.requests_per_minute = ENF_RPM;
	cfg->limits_default.burst = ENF_BURST;
	for (i = 0; i < sizeof(enf_classes) / sizeof(enf_classes[0]); i++) {
		struct ps_class_cfg *cc = &cfg->classes[cfg->nclasses++];

		snprintf(cc->name, sizeof(cc->name), "%s", enf_classes[i].name);
		limits_unset(&cc->limits);
		if (enf_classes[i].rpm) {
			cc->limits.requests_per_minute = enf_classes[i].rpm;
			cc->limits.burst = enf_classes[i].burst;
		} else {
			cc->limits.unlimited = 1;
		}
		for (j = 0; j < 4 && enf_classes[i].prefixes[j]; j++)
			if (ps_parse_prefix(enf_classes[i].prefixes[j],
					    &cc->clients[cc->nclients++], err, sizeof(err))) {
				pr_warn("ps_bench: %s: expected %s\n", enf_classes[i].prefixes[j],
					err);
				return -EINVAL;
			}
	}
	n = apply_classes(b, cfg, 1);
	if (n < 0)
		return n;
	b->enf_prefixes = n;

	snprintf(blk.reason, sizeof(blk.reason), "ps_bench: an unrelated block");
	for (i = 0; i <= ENF_BLOCKS; i++) {
		if (i < ENF_BLOCKS) {
			a = htonl(0x64400001 + i);	/* 100.64.0.1 and up */
		} else {
			a = htonl(0xc6130000);		/* 198.19.0.0/16 */
			p.len = 16;
		}
		memcpy(p.addr, &a, 4);
		ps_lpm_key_of(&k, &p);
		if (bpf_map_update_elem(efd, &k, &blk, BPF_ANY))
			return -errno;
	}
	b->enf_entries = ENF_BLOCKS + 1;
	return 0;
}

/*
 * Enforcement on: the default class's limit and the counts of both tries,
 * as the daemon leaves them (classes 1.. and the tries' contents stay as
 * enf_setup() wrote them). Off: no default limit and empty counts, which
 * the programs read as "no classes, no entries": they skip both tries.
 */
static int enf_switch(struct bench *b, int on)
{
	struct ps_class none = {};
	uint32_t zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(b->dp.skel->maps.ps_classes), &zero,
				on ? &b->enf_default : &none, BPF_ANY))
		return -errno;
	return on ? set_enforce_state(b, b->enf_entries, b->enf_prefixes) :
		    set_enforce_state(b, 0, 0);
}

/*
 * What floor k (0: bench_floor, 1: bench_floor_lines) found over all
 * CPUs, into *sum; with sum NULL, set it to zero instead.
 */
static int floor_found(struct bench *b, uint32_t k, uint64_t *sum)
{
	int i, ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (sum) {
		if (bpf_map_lookup_elem(b->floor_count_fd, &k, v)) {
			free(v);
			return -errno;
		}
		for (*sum = 0, i = 0; i < ncpu; i++)
			*sum += v[i];
	} else if (bpf_map_update_elem(b->floor_count_fd, &k, v, BPF_ANY)) {
		free(v);
		return -errno;
	}
	free(v);
	return 0;
}

static void ident_line(const char *buf, unsigned int ls, unsigned int pos, struct found *w,
		       uint64_t *h);

/*
 * The lines bench_floor_lines finds in the first n bytes of buf: the same
 * walk, byte by byte. With w, what bench_floor_ident finds in each line
 * too (ident_line()).
 */
static uint64_t lines_model(const char *buf, unsigned int n, struct found *w)
{
	unsigned int cur = 0, ls = 0, pos = 0, i, j, k;
	uint64_t lines = 0, h = 0;
	int found;

	for (i = 0; i < 64; i++) {
		found = 0;
		for (j = 0; j < 8 && !found; j++) {
			if (cur + 8 > n)
				return lines;
			for (k = 0; k < 8 && !found; k++)
				if (((unsigned char)buf[cur + k] | 7) == 0x0f) {
					pos = cur + k;
					found = 1;
				}
			if (!found)
				cur += 8;
		}
		if (!found)
			continue;
		if (pos == ls)
			break;
		lines++;
		if (w)
			ident_line(buf, ls, pos, w, &h);
		cur = ls = pos + 2;
	}
	if (w) {
		w->a += lines;
		w->e += h;
	}
	return lines;
}

static uint64_t floor_lines_model(unsigned int n)
{
	return lines_model(req_seg, n, NULL);
}

/* buf's 16 bytes at at, lower-cased as bench_floor_ident does (each | 0x20), are pat. */
static int ident_name(const char *buf, unsigned int at, const char *pat)
{
	unsigned int i;

	for (i = 0; i < 16; i++)
		if (((unsigned char)buf[at + i] | 0x20) != (unsigned char)pat[i])
			return 0;
	return 1;
}

/*
 * The 8-byte words of buf from "from" on that start before pos (the
 * line's end), the bytes from pos on zeroed, folded as bench_floor_ident
 * folds them; returns how many.
 */
static uint64_t ident_fold(const char *buf, unsigned int from, unsigned int pos, uint64_t *h)
{
	uint64_t n = 0, x;
	unsigned int at, k;

	for (at = from; at < pos; at += 8, n++) {
		memcpy(&x, buf + at, 8);
		k = pos - at;
		if (k < 8)
			x &= k ? (1ULL << (8 * k)) - 1 : 0;
		*h = (*h ^ x) * 0x100000001b3ULL;
	}
	return n;
}

/*
 * What bench_floor_ident must find in the line [ls, pos) of buf, byte by
 * byte: a PROXY line first (its words folded), an X-Forwarded-For line's
 * entries (its commas + 1), an Authorization: Bearer line's words from its
 * 17th byte (folded).
 */
static void ident_line(const char *buf, unsigned int ls, unsigned int pos, struct found *w,
		       uint64_t *h)
{
	unsigned int i;

	if (!ls && !memcmp(buf, "PROXY ", 6)) {
		w->d++;
		w->c += ident_fold(buf, ls, pos, h);
	} else if (pos - ls >= 16 && ident_name(buf, ls, "x-forwarded-for:")) {
		w->b++;
		for (i = ls + 16; i < pos; i++)
			w->b += buf[i] == ',';
	} else if (pos - ls >= 16 && ident_name(buf, ls, "authorization: b")) {
		w->c += ident_fold(buf, ls + 16, pos, h);
	}
}

/*
 * A floor must have done its work on every packet: with no bytes to look
 * at, count the packet; else also find what the request's header block
 * holds, worked out here from req_seg by the floor's own rule.
 */
static int floor_check(struct bench *b, uint32_t k, uint32_t scan)
{
	uint64_t got = 0, want = 1, mask = k ? 0xffffffffULL : ~0ULL;
	unsigned int i;
	int err;

	if (scan && !k) {
		/* bench_floor: the 8-byte words that hold a LF */
		for (i = 0; i + 8 <= scan; i += 8)
			want += memchr(req_seg + i, '\n', 8) != NULL;
	} else if (scan) {
		/* bench_floor_lines: its lines, in the low half */
		want += floor_lines_model(scan);
	}
	err = floor_found(b, k, &got);
	if (err)
		return err;
	if ((got & mask) != (want * b->npkts & mask)) {
		pr_warn("ps_bench: floor %u found %llu over %u packets, expected %llu: it did "
			"not do its work\n", k, (unsigned long long)(got & mask), b->npkts,
			(unsigned long long)(want * b->npkts & mask));
		return -EBADMSG;
	}
	return 0;
}

/* bench_floor_found[slot] summed over CPUs into *sum; with sum NULL, zeroed. */
static int found_io(struct bench *b, uint32_t slot, struct found *sum)
{
	int i, ncpu = libbpf_num_possible_cpus();
	struct found *v;

	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (sum) {
		if (bpf_map_lookup_elem(b->floor_found_fd, &slot, v)) {
			free(v);
			return -errno;
		}
		memset(sum, 0, sizeof(*sum));
		for (i = 0; i < ncpu; i++) {
			sum->packets += v[i].packets;
			sum->a += v[i].a;
			sum->b += v[i].b;
			sum->c += v[i].c;
			sum->d += v[i].d;
			sum->e += v[i].e;
		}
	} else if (bpf_map_update_elem(b->floor_found_fd, &slot, v, BPF_ANY)) {
		free(v);
		return -errno;
	}
	free(v);
	return 0;
}

/* A later floor's findings against what it had to find. */
static int found_check(struct bench *b, uint32_t slot, const struct found *want,
		       const char *what)
{
	struct found got;
	int err = found_io(b, slot, &got);

	if (err)
		return err;
	if (memcmp(&got, want, sizeof(got))) {
		pr_warn("ps_bench: floor %s found packets %llu, %llu, %llu, %llu, %llu, %llx; "
			"expected %llu, %llu, %llu, %llu, %llu, %llx: it did not do its work\n", what,
			(unsigned long long)got.packets, (unsigned long long)got.a,
			(unsigned long long)got.b, (unsigned long long)got.c,
			(unsigned long long)got.d, (unsigned long long)got.e,
			(unsigned long long)want->packets, (unsigned long long)want->a,
			(unsigned long long)want->b, (unsigned long long)want->c,
			(unsigned long long)want->d, (unsigned long long)want->e);
		return -EBADMSG;
	}
	return 0;
}

/*
 * What bench_floor_h2 must find in a run: (d) a HEADERS and a DATA frame
 * a segment; (e) the DATA frames' headers whose 9th byte was sent.
 */
static void h2_found(const struct bench *b, enum scenario sc, struct found *w)
{
	uint64_t sent = (uint64_t)b->npkts * BODY_SEG, per = 9 + H2_DATA_FRAME;

	memset(w, 0, sizeof(*w));
	w->packets = b->npkts;
	if (sc == SC_H2_HEADERS) {
		w->a = 2ULL * b->npkts;
		w->b = b->npkts;
	} else {
		w->a = sent >= 9 ? (sent - 9) / per + 1 : 0;
	}
}

/*
 * N distinct frames, each the next segment of one connection, run once
 * each through the datapath program and, right after, the minimal program.
 * The kernel's per-run timer reads are in both sums alike.
 */
static int measure_distinct(struct bench *b, enum scenario sc, unsigned int run, unsigned int id)
{
	struct result *r = &results[sc][M_DISTINCT];
	struct result *fl[2] = { &results[sc][M_FLOOR], &results[sc][M_FLOOR_LINES] };
	uint64_t sum_dp = 0, sum_min = 0, sum_floor[2] = {}, sum_min2[2] = {};
	int fd = scenario_prog(b, sc), err, ret, k;
	/*
	 * The floors: (a) and the plain egress body bench_floor; (b) bench_floor
	 * and bench_floor_lines; HTTP/2 bench_floor_h2; the event stream
	 * bench_floor_sse. fk: bench_floor_count's index, or a
	 * bench_floor_found slot + 2.
	 */
	int floor = sc == SC_REQ ? 2 : sc == SC_OTHER ? 0 : 1;
	int floor_fd[2] = { b->floor_fd, b->floor_lines_fd }, fk[2] = { 0, 1 };
	uint32_t dur, zero = 0, scan = sc == SC_REQ ? req_hdr_len : 0;
	struct found want;
	struct expect e;
	struct conn c;
	unsigned int i, len;

	if (sc == SC_H2_HEADERS || sc == SC_H2_DATA) {
		floor_fd[0] = b->floor_h2_fd;
		fk[0] = FOUND_H2 + 2;
	} else if (sc == SC_SSE) {
		floor_fd[0] = b->floor_sse_fd;
		fk[0] = FOUND_SSE + 2;
	}
	if (floor && bpf_map_update_elem(b->floor_scan_fd, &zero, &scan, BPF_ANY))
		return -errno;
	for (k = 0; k < floor; k++) {
		err = fk[k] < 2 ? floor_found(b, fk[k], NULL) : found_io(b, fk[k] - 2, NULL);
		if (err)
			return err;
	}
	err = scenario_setup(b, &c, sc, id, &e);
	if (err)
		return err;
	for (i = 0; i < b->npkts; i++) {
		len = scenario_frame(b, &c, sc, &e);
		err = test_run(fd, b->frame, len, b->ts_ns, 1, &dur, &ret);
		if (err)
			return err;
		if (ret != scenario_verdict(sc))
			return -EPROTO;
		sum_dp += dur;
		err = test_run(b->min_fd, b->frame, len, b->ts_ns, 1, &dur, &ret);
		if (err)
			return err;
		sum_min += dur;
		/* Each floor, then the minimal program again: its own pair. */
		for (k = 0; k < floor; k++) {
			err = test_run(floor_fd[k], b->frame, len, b->ts_ns, 1, &dur, &ret);
			if (err)
				return err;
			sum_floor[k] += dur;
			err = test_run(b->min_fd, b->frame, len, b->ts_ns, 1, &dur, &ret);
			if (err)
				return err;
			sum_min2[k] += dur;
		}
	}
	r->dp_ns[run] = (double)sum_dp / b->npkts;
	r->min_ns[run] = (double)sum_min / b->npkts;
	r->runs = run + 1;
	r->measured = 1;
	for (k = 0; k < floor; k++) {
		if (fk[k] == FOUND_H2 + 2) {
			h2_found(b, sc, &want);
			err = found_check(b, FOUND_H2, &want, sc_name[sc]);
		} else if (fk[k] == FOUND_SSE + 2) {
			memset(&want, 0, sizeof(want));
			want.packets = b->npkts;
			want.a = sse_want[0];
			want.b = sse_want[1];
			err = found_check(b, FOUND_SSE, &want, sc_name[sc]);
		} else {
			err = floor_check(b, fk[k], scan);
		}
		if (err)
			return err;
		fl[k]->dp_ns[run] = (double)sum_floor[k] / b->npkts;
		fl[k]->min_ns[run] = (double)sum_min2[k] / b->npkts;
		fl[k]->runs = run + 1;
		fl[k]->measured = 1;
	}
	check_run(b, &c, sc, &e, sc_name[sc]);
	return 0;
}

/*
 * Distinct packets with enforcement off and on, packet by packet: two
 * connections, the next segment of the one with enforcement off, then of
 * the other with it on, each followed by the minimal program on the same
 * frame. Whatever else the machine does falls on both alike.
 */
static int measure_enf(struct bench *b, enum scenario sc, unsigned int run, unsigned int id)
{
	struct result *r[2] = { &results[sc][M_ENF_OFF], &results[sc][M_ENF] };
	uint64_t sum_dp[2] = {}, sum_min[2] = {}, t1 = 0;
	int fd = scenario_prog(b, sc), err, ret, on;
	struct expect e[2];
	struct conn c[2];
	unsigned int i, len;
	char what[128];
	uint32_t dur;

	/* Each connection lives under its setting from its SYN on. */
	for (on = 0; on < 2; on++) {
		err = enf_switch(b, on);
		if (!err)
			err = scenario_setup(b, &c[on], sc, id + on, &e[on]);
		if (err)
			goto out;
	}
	/* (a)'s request began with the last segment of the set-up. */
	if (sc == SC_BODY)
		e[1].gcra_tat = b->ts_ns + b->enf_default.emission_ns;
	for (i = 0; i < b->npkts; i++) {
		for (on = 0; on < 2; on++) {
			err = enf_switch(b, on);
			if (err)
				goto out;
			len = scenario_frame(b, &c[on], sc, &e[on]);
			if (!i && on)
				t1 = b->ts_ns;
			err = test_run(fd, b->frame, len, b->ts_ns, 1, &dur, &ret);
			if (err)
				goto out;
			if (ret != scenario_verdict(sc)) {
				err = -EPROTO;
				goto out;
			}
			sum_dp[on] += dur;
			err = test_run(b->min_fd, b->frame, len, b->ts_ns, 1, &dur, &ret);
			if (err)
				goto out;
			sum_min[on] += dur;
		}
	}
	/*
	 * Every request start passed the limit: each put the theoretical
	 * arrival time one emission interval further from the first's time
	 * (they come faster than the limit, within its burst). (a) has only
	 * the one request, whose body the measured segments are.
	 */
	if (sc == SC_REQ)
		e[1].gcra_tat = t1 + (uint64_t)b->npkts * b->enf_default.emission_ns;
	for (on = 0; on < 2; on++) {
		r[on]->dp_ns[run] = (double)sum_dp[on] / b->npkts;
		r[on]->min_ns[run] = (double)sum_min[on] / b->npkts;
		r[on]->runs = run + 1;
		r[on]->measured = 1;
		snprintf(what, sizeof(what), "%s, enforcement %s", sc_name[sc], on ? "on" : "off");
		check_run(b, &c[on], sc, &e[on], what);
	}
out:
	if (enf_switch(b, 0) && !err)
		err = -EIO;
	return err;
}

/*
 * One frame, repeat=STEADY_REPEAT. For data segments only the first
 * repetition is new data; the rest take the retransmission path.
 */
static int measure_steady(struct bench *b, enum scenario sc, unsigned int run, unsigned int id)
{
	struct result *r = &results[sc][M_STEADY];
	int fd = scenario_prog(b, sc), err, ret;
	struct expect e;
	struct conn c;
	unsigned int len;
	uint32_t dur;

	err = scenario_setup(b, &c, sc, id, &e);
	if (err)
		return err;
	len = scenario_frame(b, &c, sc, &e);
	err = test_run(fd, b->frame, len, b->ts_ns, STEADY_REPEAT, &dur, &ret);
	if (err)
		return err;
	if (ret != scenario_verdict(sc))
		return -EPROTO;
	r->dp_ns[run] = dur;
	err = test_run(b->min_fd, b->frame, len, b->ts_ns, STEADY_REPEAT, &dur, &ret);
	if (err)
		return err;
	r->min_ns[run] = dur;
	r->runs = run + 1;
	r->measured = 1;
	check_run(b, &c, sc, &e, sc_name[sc]);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned int n)
{
	double s[MAX_RUNS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void print_row(enum scenario sc, enum mode m, const char *how, double target)
{
	const struct result *r = &results[sc][m];
	double dp, mn, lo = 1e9, hi = 0, ratio;
	char tgt[32] = "-";
	unsigned int i;

	if (!r->measured)
		return;
	dp = median(r->dp_ns, r->runs);
	mn = median(r->min_ns, r->runs);
	ratio = dp / mn;
	for (i = 0; i < r->runs; i++) {
		double x = r->dp_ns[i] / r->min_ns[i];

		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
	}
	if (target > 0)
		snprintf(tgt, sizeof(tgt), "<= %.1fx (%s)", target, ratio <= target ? "met" : "NOT met");
	printf("| %s | %s | %.1f | %.1f | %.1f | %.2fx | %.2f..%.2fx | %s |\n", sc_name[sc], how,
	       dp, mn, dp - mn, ratio, lo, hi, tgt);
}

/* An ingress row with enforcement off (M_ENF_OFF) or on (M_ENF). */
static void print_enf_row(enum scenario sc, enum mode m, const char *how)
{
	const struct result *r = &results[sc][m], *off = &results[sc][M_ENF_OFF];
	double dp, mn, lo = 1e9, hi = 0, olo = 1e9, ohi = 0, odp;
	char vs[64] = "-", vsr[32] = "-";
	unsigned int i;

	if (!r->measured || !off->measured)
		return;
	dp = median(r->dp_ns, r->runs);
	mn = median(r->min_ns, r->runs);
	odp = median(off->dp_ns, off->runs);
	for (i = 0; i < r->runs; i++) {
		double x = r->dp_ns[i] / r->min_ns[i], y = r->dp_ns[i] / off->dp_ns[i];

		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
		olo = y < olo ? y : olo;
		ohi = y > ohi ? y : ohi;
	}
	if (m == M_ENF) {
		snprintf(vs, sizeof(vs), "%.2fx (%+.1f ns)", dp / odp, dp - odp);
		snprintf(vsr, sizeof(vsr), "%.2f..%.2fx", olo, ohi);
	}
	printf("| %s | %s | %s | %.1f | %.1f | %.1f | %.2fx | %.2f..%.2fx | %s | %s |\n",
	       sc_name[sc], m == M_ENF ? "**on**" : "off", how, dp, mn, dp - mn, dp / mn, lo, hi,
	       vs, vsr);
}

static void print_enf_table(const struct bench *b, unsigned int runs, int cpu, const char *how)
{
	unsigned int i;

	printf("\n### Enforcement cost: the ingress program with enforcement off and on, "
	       "BPF_PROG_TEST_RUN, median of %u runs, CPU %d\n\n", runs, cpu);
	printf("| packet | enforcement | measurement | penstock ns/pkt | minimal ns/pkt "
	       "| added ns/pkt | ratio | ratio range over runs | on vs off | on/off range over "
	       "runs |\n");
	printf("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
	print_enf_row(SC_BODY, M_ENF_OFF, how);
	print_enf_row(SC_BODY, M_ENF, how);
	print_enf_row(SC_REQ, M_ENF_OFF, how);
	print_enf_row(SC_REQ, M_ENF, how);
	printf("\n");
	printf("- off: no default limit, no classes, no entries (ps_enforce_state counts 0: "
	       "the programs skip both tries), as in the table above.\n");
	printf("- on: a default request limit of %d requests/minute with a burst of %d "
	       "(emission %llu ns; no request is throttled), %d classes with %d prefixes in "
	       "ps_class_of (", ENF_RPM, ENF_BURST,
	       (unsigned long long)b->enf_default.emission_ns,
	       (int)(sizeof(enf_classes) / sizeof(enf_classes[0])), b->enf_prefixes);
	for (i = 0; i < sizeof(enf_classes) / sizeof(enf_classes[0]); i++) {
		if (enf_classes[i].rpm)
			printf("%s%s: %llu rpm", i ? "; " : "", enf_classes[i].name,
			       (unsigned long long)enf_classes[i].rpm);
		else
			printf("%s%s: unlimited", i ? "; " : "", enf_classes[i].name);
	}
	printf("), and %d entries in ps_enforce (%d /32 blocks in 100.64.0.0/22 and a /16 "
	       "block, 198.19.0.0/16), none of them on the measured client or server: every "
	       "packet looks up ps_enforce for a block (a miss); (b) then looks it up again "
	       "for a throttle of the client's own (a miss), then ps_class_of (a miss), "
	       "ps_classes[0], the inference-path peek and the GCRA compare-and-swap.\n",
	       b->enf_entries, ENF_BLOCKS);
	printf("- off and on alternate packet by packet within each run, on two fresh "
	       "connections (two clients), each set up under its setting: the next segment of "
	       "the one with enforcement off, then of the other with it on, each followed by "
	       "the minimal program on the same frame; the switch (ps_classes[0] and "
	       "ps_enforce_state) is written between them, outside the timed runs. The policy "
	       "is written straight into the maps as ps_enf_apply_classes and ps_enf_set write "
	       "it (through their ps_class_of_limits and ps_lpm_key_of), from a struct "
	       "ps_config resolved by ps_limits_resolve. Checked after each run: on, (b) "
	       "advanced the client's "
	       "GCRA time by N emission intervals (the limit ran on every request; (a): by one, "
	       "for the request whose body it is), nothing "
	       "was throttled or blocked, even as a dry run; off, the GCRA time is untouched.\n");
	printf("- on vs off = median ns with enforcement on / median ns off (and the "
	       "difference); its range is the lowest and highest per-run ratio.\n");
}

/* ---- client identity: PROXY header and X-Forwarded-For ---- */

/*
 * The identity rows' addresses. trusted_proxies of PX_PORT and XFF_PORT:
 * the bench's peers (198.18.0.0/16: the gateways' pooled connections come
 * from 198.18.1.0/24 and up, new connections from 198.18.64.0/18) and the
 * proxies in the chains (10.0.0.0/8). The clients the chains name
 * (100.96.0.0/12) and the forged entries (192.0.2.0/24) are in neither.
 */
#define ID_POOL		1024		/* clients a row names, one after another */
#define ID_CHAIN_MAX	32		/* --xff-chain: at most */
#define ID_PEERS	0xc6124000	/* 198.18.64.0/18: new connections' peers, ... */
#define ID_PEER_SPAN	1024		/* ... so many addresses a row, ... */
#define ID_PEER_CONNS	50000		/* ... so many connections from each */
#define ID_GW		0x0a280001	/* 10.40.0.1 and up: whom a row's PROXY headers name */
#define ID_T1		0x0a140001	/* 10.20.0.1, 10.30.0.1: trusted proxies in the chains */
#define ID_T2		0x0a1e0001
#define ID_FORGED	0xc0000201	/* 192.0.2.1 and up: what a client forges */
#define ID_CLIENTS	0x64600001	/* 100.96.0.1, 100.97.0.1, ...: each row's clients */
#define ID_SEG_MAX	2048
#define ID_TARGET	1.3		/* (b-xff), (b-px), (b-key), (b-all) against (b) (and
					 * (b-new)): the identity issue's */

static const char *const id_trusted[] = { "198.18.0.0/16", "10.0.0.0/8" };

/* One identity row: its segments, where they go, who holds their requests. */
struct id_row {
	const char *name;
	uint16_t port;		/* the endpoint */
	uint8_t fresh;		/* each request the first segment of a new connection */
	uint8_t px;		/* behind a PROXY v1 header */
	uint8_t named;		/* counted to the chain's client (else the connection's) */
	uint8_t key;		/* each request's Authorization: Bearer key the next of the
				 * row's pool of keys (else every request's REQ_KEY) */
	uint8_t keyed;		/* identity: api_key: counted to the request's key */
	uint8_t detail;		/* a breakdown row (--ident-detail) */
	int chain;		/* X-Forwarded-For entries: 0 no line, -1 --xff-chain's */
	unsigned int pool;	/* clients the chains name (and keys sent), in turn */
	unsigned int conns;	/* so many pooled connections in turn, each its own client's
				 * (the pool's); 0: one, or a new one a request */
};

/* The main rows, then the breakdown's (--ident-detail). At most 16 (id_peer(), id_client()). */
enum { ID_B, ID_NEW, ID_XFF, ID_PX, ID_KEY, ID_ALL, ID_XNONE, ID_XUNREAD, ID_X1, ID_X16, ID_XONE,
       ID_BMANY, ID_XNEW, ID_PXONLY, ID_KUNREAD, ID_KONE, ID_ROWS };

/* (b-xff)'s name with its chain's length: set by micro_setup(). */
static char id_xff_name[64];

static struct id_row id_rows[ID_ROWS] = {
	[ID_B] = { .name = "(b) ingress, request start", .port = BENCH_PORT },
	[ID_NEW] = { .name = "(b-new) (b) as a new connection's first segment, no identity "
			     "feature", .port = BENCH_PORT, .fresh = 1 },
	[ID_XFF] = { .name = id_xff_name, .port = XFF_PORT, .named = 1, .chain = -1,
		     .pool = ID_POOL },
	[ID_PX] = { .name = "(b-px) request start behind a proxy", .port = PX_PORT, .fresh = 1,
		    .px = 1, .named = 1, .chain = -1, .pool = ID_POOL },
	[ID_KEY] = { .name = "(b-key) request start, a bearer key of 1024, identity: api_key",
		     .port = KEY_PORT, .key = 1, .keyed = 1, .pool = ID_POOL },
	[ID_ALL] = { .name = "(b-all) request start behind a proxy: PROXY header, X-Forwarded-For "
			     "and a bearer key", .port = ALL_PORT, .fresh = 1, .px = 1, .key = 1,
		     .keyed = 1, .chain = -1, .pool = ID_POOL },
	[ID_XNONE] = { .name = "(x-none) (b-xff) without its X-Forwarded-For line",
		       .port = XFF_PORT, .detail = 1 },
	[ID_XUNREAD] = { .name = "(x-unread) (b) with (b-xff)'s X-Forwarded-For line, not read",
			 .port = BENCH_PORT, .detail = 1, .chain = -1, .pool = ID_POOL },
	[ID_X1] = { .name = "(x1) (b-xff) with a chain of 1", .port = XFF_PORT, .named = 1,
		    .detail = 1, .chain = 1, .pool = ID_POOL },
	[ID_X16] = { .name = "(x16) (b-xff) with a chain of 16", .port = XFF_PORT, .named = 1,
		     .detail = 1, .chain = 16, .pool = ID_POOL },
	[ID_XONE] = { .name = "(x-one) (b-xff), every request naming the same client",
		      .port = XFF_PORT, .named = 1, .detail = 1, .chain = -1, .pool = 1 },
	[ID_BMANY] = { .name = "(b-many) (b) on 1024 pooled connections of 1024 clients, in turn",
		       .port = BENCH_PORT, .detail = 1, .pool = ID_POOL, .conns = ID_POOL },
	[ID_XNEW] = { .name = "(x-new) (b-xff) as a new connection's first segment, no PROXY "
			      "header", .port = XFF_PORT, .fresh = 1, .named = 1, .detail = 1,
		      .chain = -1, .pool = ID_POOL },
	[ID_PXONLY] = { .name = "(px-only) (b-px) without its X-Forwarded-For line",
			.port = PX_PORT, .fresh = 1, .px = 1, .detail = 1 },
	[ID_KUNREAD] = { .name = "(k-unread) (b) with (b-key)'s keys, not read",
			 .port = BENCH_PORT, .key = 1, .detail = 1, .pool = ID_POOL },
	[ID_KONE] = { .name = "(k-one) (b-key), every request with the same key",
		      .port = KEY_PORT, .key = 1, .keyed = 1, .detail = 1, .pool = 1 },
};

/* A row's run: its connection, what it sent, what it timed, and the counters before. */
struct id_state {
	struct conn c;		/* the pooled connection, or the last new one */
	struct conn many[ID_POOL];	/* id_row.conns of them */
	struct expect e;	/* pooled: what its client must hold */
	uint64_t payload;	/* payload bytes sent, PROXY headers included */
	uint64_t kept;		/* ... of them, the connection's client's: all but the
				 * requests a chain or a key names another client of */
	uint64_t first;		/* new connections: the run's first */
	uint64_t sum_dp, sum_min;
	uint64_t sum_floor, sum_min3;	/* bench_floor_ident and the minimal after it */
	struct found want;	/* what bench_floor_ident must find */
	uint64_t pool_before[ID_POOL][2];	/* requests, inference requests */
	uint64_t key_before[ID_POOL][2];	/* the same, of the keys (keyed rows) */
	struct ps_counters holder_before;	/* the gateway named, or the peers summed */
};

static struct id_state id_st[ID_ROWS];
static uint64_t id_conns[ID_ROWS];	/* new connections opened so far, per row */
static struct result id_res[ID_ROWS];
static struct result id_floor_res[ID_ROWS];	/* bench_floor_ident on the same frames */

/* The rows bench_floor_ident runs beside: one a port, its bench_floor_found slot. */
static int id_has_floor(unsigned int r)
{
	return r == ID_B || r == ID_XFF || r == ID_PX || r == ID_KEY || r == ID_ALL;
}

static int id_active(const struct bench *b, unsigned int r)
{
	return !id_rows[r].detail || b->ident_detail;
}

static unsigned int id_chain(const struct bench *b, unsigned int r)
{
	return id_rows[r].chain < 0 ? b->xff_chain : (unsigned int)id_rows[r].chain;
}

static uint32_t id_client(unsigned int r, unsigned int j)
{
	return ID_CLIENTS + (r << 16) + j;
}

/* The secret the datapath hashes keys under (ps_key_secret): random, made by micro_setup(). */
static uint8_t id_secret[PS_KEY_SECRET_LEN];

#define ID_KEY_LEN	51		/* "sk-" and 48 letters and digits: OpenAI's form */

/*
 * Row r's j-th API key into buf (ID_KEY_LEN + 1 bytes): "sk-" and 48
 * letters and digits, the same in every run, no two alike.
 */
static const char *id_key(unsigned int r, unsigned int j, char *buf)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint64_t x = 0x6b657973ULL << 32 ^ (uint64_t)r << 20 ^ j, z;
	int i;

	memcpy(buf, "sk-", 3);
	for (i = 3; i < ID_KEY_LEN; i++) {
		/* splitmix64 */
		z = (x += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		buf[i] = abc[(z ^ (z >> 31)) % (sizeof(abc) - 1)];
	}
	buf[ID_KEY_LEN] = '\0';
	return buf;
}

/* The client that row r's j-th key is: its id under id_secret (penstock_abi.h PS_AF_KEY). */
static struct ps_client_key id_key_subject(unsigned int r, unsigned int j)
{
	struct ps_client_key k = { .family = PS_AF_KEY };
	char key[ID_KEY_LEN + 1];
	uint64_t id = ps_siphash24(id_secret, id_key(r, j, key), ID_KEY_LEN);

	k.addr.a[0] = (uint32_t)id;
	k.addr.a[1] = (uint32_t)(id >> 32);
	return k;
}

/* The k-th new connection of row r comes from *addr:*port. */
static void id_peer(unsigned int r, uint64_t k, uint32_t *addr, uint16_t *port)
{
	k %= (uint64_t)ID_PEER_SPAN * ID_PEER_CONNS;
	*addr = ID_PEERS + r * ID_PEER_SPAN + k / ID_PEER_CONNS;
	*port = 10000 + k % ID_PEER_CONNS;
}

static const char *ip4_str(uint32_t a, char *buf, size_t len)
{
	uint32_t n = htonl(a);

	return inet_ntop(AF_INET, &n, buf, len);
}

/*
 * The X-Forwarded-For line of a chain of n entries whose client is
 * client, as proxies leave it: n - 3 forged entries, the client, then the
 * trusted proxies each hop appended (two; fewer in a shorter chain).
 */
static int xff_line(char *buf, size_t cap, unsigned int n, uint32_t client)
{
	const uint32_t proxy[2] = { ID_T1, ID_T2 };
	unsigned int forged = n > 3 ? n - 3 : 0, i;
	char a[INET_ADDRSTRLEN];
	int len;

	len = snprintf(buf, cap, "X-Forwarded-For: ");
	for (i = 0; i < n && len > 0 && (size_t)len < cap; i++) {
		uint32_t e = i < forged ? ID_FORGED + i :
			     i == forged ? client : proxy[i - forged - 1];

		len += snprintf(buf + len, cap - len, "%s%s", i ? ", " : "",
				ip4_str(e, a, sizeof(a)));
	}
	if (len > 0 && (size_t)len < cap)
		len += snprintf(buf + len, cap - len, "\r\n");
	return len > 0 && (size_t)len < cap ? len : -ENOSPC;
}

/*
 * A row's payload into seg: (b)'s request, with an X-Forwarded-For line of
 * chain entries naming client after its Host line (chain 0: none), key
 * its bearer key (NULL: (b)'s); with gw, behind a PROXY v1 header naming
 * gw:gport to port. Returns its length.
 */
static int id_payload(char *seg, unsigned int chain, uint32_t client, const char *key,
		      uint32_t gw, uint16_t gport, uint16_t port, int *hdr)
{
	char line[ID_CHAIN_MAX * 20 + 32], a[INET_ADDRSTRLEN];
	int n = 0, m;

	if (chain && xff_line(line, sizeof(line), chain, client) < 0)
		return -ENOSPC;
	if (gw)
		n = snprintf(seg, ID_SEG_MAX, "PROXY TCP4 %s 198.18.0.10 %u %u\r\n",
			     ip4_str(gw, a, sizeof(a)), gport, port);
	if (hdr)
		*hdr = n;
	m = make_request_key(seg + n, ID_SEG_MAX - n, "/v1/chat/completions", 1, 0x5eed,
			     chain ? line : NULL, key ? key : REQ_KEY);
	return m < 0 ? m : n + m;
}

/* ps_stats summed over CPUs. */
static int read_stats(struct bench *b, uint64_t *out)
{
	int fd = bpf_map__fd(b->dp.skel->maps.ps_stats), ncpu = libbpf_num_possible_cpus();
	uint64_t *v;
	uint32_t k;
	int i;

	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (k = 0; k < PS_STAT_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, v)) {
			free(v);
			return -errno;
		}
		for (out[k] = 0, i = 0; i < ncpu; i++)
			out[k] += v[i];
	}
	free(v);
	return 0;
}

/*
 * Whoever holds row r's connections, their counters summed: the gateway
 * its PROXY headers name, or the peers of the new connections first..last.
 */
static void id_holder(struct bench *b, unsigned int r, uint64_t first, uint64_t last,
		      struct ps_counters *sum)
{
	struct ps_client_ctr ctr;
	uint32_t a0, a1, a;
	uint16_t port;

	memset(sum, 0, sizeof(*sum));
	if (id_rows[r].px) {
		if (!read_ctr(b, ID_GW + r, &ctr))
			*sum = ctr.c;
		return;
	}
	id_peer(r, first, &a0, &port);
	id_peer(r, last, &a1, &port);
	for (a = a0; a <= a1; a++) {
		if (read_ctr(b, a, &ctr))
			continue;
		sum->requests += ctr.c.requests;
		sum->inference_requests += ctr.c.inference_requests;
		sum->connections += ctr.c.connections;
		sum->rx_packets += ctr.c.rx_packets;
		sum->tx_packets += ctr.c.tx_packets;
		sum->rx_payload += ctr.c.rx_payload;
	}
}

/* Row r's counters before its run, and its pooled connection. */
static int id_begin(struct bench *b, unsigned int r, unsigned int id)
{
	const struct id_row *w = &id_rows[r];
	struct id_state *st = &id_st[r];
	struct ps_client_ctr ctr;
	unsigned int j;

	memset(st, 0, sizeof(*st));
	st->first = id_conns[r];
	for (j = 0; (id_chain(b, r) || w->conns) && j < w->pool; j++) {
		if (read_ctr(b, id_client(r, j), &ctr))
			continue;
		st->pool_before[j][0] = ctr.c.requests;
		st->pool_before[j][1] = ctr.c.inference_requests;
	}
	for (j = 0; w->keyed && j < w->pool; j++) {
		struct ps_client_key k = id_key_subject(r, j);

		if (read_ctr_of(b, &k, &ctr))
			continue;
		st->key_before[j][0] = ctr.c.requests;
		st->key_before[j][1] = ctr.c.inference_requests;
	}
	if (w->fresh)
		id_holder(b, r, st->first, st->first + b->npkts - 1, &st->holder_before);
	st->e.state = PS_H1_START;
	/* Many connections: from the pool's clients, ports new each run. */
	for (j = 0; j < w->conns; j++) {
		int err = conn_start(b, &st->many[j], id_client(r, j), 10000 + id_conns[r] % 50000,
				     w->port, 0x30000000 + j * 65536, 0x40000000 + j * 65536);

		if (err)
			return err;
	}
	if (w->conns)
		id_conns[r]++;
	return w->fresh || w->conns ? 0 : conn_open_to(b, &st->c, id, w->port);
}

/* The next new connection of row r, its handshake untimed. */
static int id_connect(struct bench *b, unsigned int r)
{
	uint64_t k = id_conns[r]++;
	uint16_t cport;
	uint32_t caddr;

	id_peer(r, k, &caddr, &cport);
	return conn_start(b, &id_st[r].c, caddr, cport, id_rows[r].port,
			  0x10000000 + (uint32_t)k * 7919, 0x20000000 + (uint32_t)k * 104729);
}

/* Row r's i-th segment in b's frame: its length, or -errno. */
static int id_frame(struct bench *b, unsigned int r, unsigned int i)
{
	static char seg[ID_SEG_MAX];
	const struct id_row *w = &id_rows[r];
	struct id_state *st = &id_st[r];
	unsigned int chain = id_chain(b, r);
	char key[ID_KEY_LEN + 1];
	int n, hdr = 0;

	n = id_payload(seg, chain, chain ? id_client(r, i % w->pool) : 0,
		       w->key ? id_key(r, i % w->pool, key) : NULL, w->px ? ID_GW + r : 0,
		       20000 + i % 40000, w->port, &hdr);
	if (n < 0)
		return n;
	st->payload += n;
	/* A request counted to the client its chain or key names is that
	 * client's payload; a PROXY header stays the connection's. */
	st->kept += w->named || w->keyed ? (uint64_t)hdr : (uint64_t)n;
	if (id_has_floor(r)) {
		st->want.packets++;
		lines_model(seg, n, &st->want);
	}
	return conn_frame(b, w->conns ? &st->many[i % w->conns] : &st->c, 1, F_ACK | F_PSH, seg, n);
}

/*
 * Row r after its run: the requests with the keys they carry on an
 * identity: api_key endpoint (each key of its pool its share of N), else
 * with whom its chains name (each client of its pool its share) or, not
 * named, with the connection's client; none of them with the gateway that
 * sent or was named by the PROXY headers, nor with a client a chain names
 * in a keyed request; a named gateway or the new connections' peers hold
 * the connections, packets and payload; a load balancer has no slot.
 */
static void id_check_row(struct bench *b, unsigned int r)
{
	const struct id_row *w = &id_rows[r];
	struct id_state *st = &id_st[r];
	uint64_t n = b->npkts, reqs = w->named || w->keyed ? 0 : n, want, got[2];
	struct ps_counters h;
	struct ps_client_ctr ctr;
	char a[INET_ADDRSTRLEN];
	unsigned int j, bad = 0;
	uint32_t addr;
	uint16_t port;

	/* The pool's clients: named, or each the client of its connection. */
	for (j = 0; (id_chain(b, r) || w->conns) && j < w->pool; j++) {
		want = w->named || w->conns ? n / w->pool + (j < n % w->pool) : 0;
		memset(&ctr, 0, sizeof(ctr));
		read_ctr(b, id_client(r, j), &ctr);
		got[0] = ctr.c.requests - st->pool_before[j][0];
		got[1] = ctr.c.inference_requests - st->pool_before[j][1];
		if ((got[0] != want || got[1] != want) && !bad++)
			pr_warn("ps_bench: warning: %s: %s got %llu requests, %llu inference "
				"requests, expected %llu: the row does not measure the path it "
				"names\n", w->name, ip4_str(id_client(r, j), a, sizeof(a)),
				(unsigned long long)got[0], (unsigned long long)got[1],
				(unsigned long long)want);
	}
	if (bad > 1)
		pr_warn("ps_bench: warning: %s: ... and %u more of its clients\n", w->name, bad - 1);
	/* The keys: each its share of N. */
	for (bad = 0, j = 0; w->keyed && j < w->pool; j++) {
		struct ps_client_key k = id_key_subject(r, j);
		char text[PS_KEY_STRLEN];

		want = n / w->pool + (j < n % w->pool);
		memset(&ctr, 0, sizeof(ctr));
		read_ctr_of(b, &k, &ctr);
		got[0] = ctr.c.requests - st->key_before[j][0];
		got[1] = ctr.c.inference_requests - st->key_before[j][1];
		if ((got[0] != want || got[1] != want) && !bad++)
			pr_warn("ps_bench: warning: %s: %s got %llu requests, %llu inference "
				"requests, expected %llu: the row does not measure the path it "
				"names\n", w->name,
				ps_key_str(ps_key_id_of(&k.addr), text, sizeof(text)),
				(unsigned long long)got[0], (unsigned long long)got[1],
				(unsigned long long)want);
	}
	if (bad > 1)
		pr_warn("ps_bench: warning: %s: ... and %u more of its keys\n", w->name, bad - 1);
	if (w->conns) {
		check_flow(b, &st->many[(n - 1) % w->conns], &st->e, w->name);
		return;
	}
	if (!w->fresh) {
		st->e.requests = reqs;
		st->e.rx_payload = st->kept;
		check_run(b, &st->c, SC_REQ, &st->e, w->name);
		return;
	}
	check_flow(b, &st->c, &st->e, w->name);
	id_holder(b, r, st->first, id_conns[r] - 1, &h);
	if (h.requests - st->holder_before.requests != reqs ||
	    h.inference_requests - st->holder_before.inference_requests != reqs ||
	    h.connections - st->holder_before.connections != n ||
	    h.rx_packets - st->holder_before.rx_packets != 3 * n ||
	    h.tx_packets - st->holder_before.tx_packets != n ||
	    h.rx_payload - st->holder_before.rx_payload != st->kept)
		pr_warn("ps_bench: warning: %s: %s got %llu requests, %llu connections, %llu + "
			"%llu packets, %llu payload bytes; expected %llu, %llu, %llu + %llu, %llu: "
			"the row does not measure the path it names\n", w->name,
			w->px ? "the gateway the PROXY headers name" : "the peers",
			(unsigned long long)(h.requests - st->holder_before.requests),
			(unsigned long long)(h.connections - st->holder_before.connections),
			(unsigned long long)(h.rx_packets - st->holder_before.rx_packets),
			(unsigned long long)(h.tx_packets - st->holder_before.tx_packets),
			(unsigned long long)(h.rx_payload - st->holder_before.rx_payload),
			(unsigned long long)reqs, (unsigned long long)n,
			(unsigned long long)(3 * n), (unsigned long long)n,
			(unsigned long long)st->kept);
	for (j = 0; w->px && j < 2; j++) {
		id_peer(r, j ? id_conns[r] - 1 : st->first, &addr, &port);
		if (!read_ctr(b, addr, &ctr))
			pr_warn("ps_bench: warning: %s: the load balancer %s has a slot: its "
				"PROXY headers were not believed\n", w->name,
				ip4_str(addr, a, sizeof(a)));
	}
}

/*
 * The run's stats: every chain read to an address (forwarded_requests
 * went up by N a row that names clients), every key read to its id
 * (keyed_requests by N a keyed row) and every PROXY header believed;
 * nothing bad, untrusted, full or cut short.
 */
static void id_check_stats(struct bench *b, const uint64_t *before)
{
	static const struct { int stat; const char *name; } zero[] = {
		{ PS_STAT_FORWARDED_BAD, "forwarded_bad" },
		{ PS_STAT_FORWARDED_UNTRUSTED, "forwarded_untrusted" },
		{ PS_STAT_FORWARDED_FULL, "forwarded_full" },
		{ PS_STAT_PROXY_BAD, "proxy_bad" },
		{ PS_STAT_PROXY_UNTRUSTED, "proxy_untrusted" },
		{ PS_STAT_CLIENT_FULL, "client_full" },
		{ PS_STAT_PARSE_LIMIT, "parse_limit" },
	};
	uint64_t after[PS_STAT_MAX], fwd = 0, px = 0, keyed = 0;
	unsigned int r, j;
	int err = read_stats(b, after);

	if (err) {
		pr_warn("ps_bench: warning: cannot read ps_stats: %s\n", strerror(-err));
		return;
	}
	for (r = 0; r < ID_ROWS; r++) {
		fwd += id_active(b, r) && id_rows[r].named ? b->npkts : 0;
		px += id_active(b, r) && id_rows[r].px ? b->npkts : 0;
		keyed += id_active(b, r) && id_rows[r].keyed ? b->npkts : 0;
	}
	if (after[PS_STAT_FORWARDED] - before[PS_STAT_FORWARDED] != fwd ||
	    after[PS_STAT_PROXY] - before[PS_STAT_PROXY] != px)
		pr_warn("ps_bench: warning: identity rows: stats.forwarded_requests +%llu, "
			"proxy_headers +%llu, expected +%llu, +%llu\n",
			(unsigned long long)(after[PS_STAT_FORWARDED] - before[PS_STAT_FORWARDED]),
			(unsigned long long)(after[PS_STAT_PROXY] - before[PS_STAT_PROXY]),
			(unsigned long long)fwd, (unsigned long long)px);
	if (after[PS_STAT_KEYED] - before[PS_STAT_KEYED] != keyed)
		pr_warn("ps_bench: warning: identity rows: stats.keyed_requests +%llu, expected "
			"+%llu\n",
			(unsigned long long)(after[PS_STAT_KEYED] - before[PS_STAT_KEYED]),
			(unsigned long long)keyed);
	for (j = 0; j < sizeof(zero) / sizeof(zero[0]); j++)
		if (after[zero[j].stat] != before[zero[j].stat])
			pr_warn("ps_bench: warning: identity rows: stats.%s +%llu, expected "
				"none\n", zero[j].name,
				(unsigned long long)(after[zero[j].stat] - before[zero[j].stat]));
}

/*
 * Row r's connections of the run: their flows go (a new connection's, if
 * the handshakes have not evicted it yet), so that the other rows run on
 * a flow table as small as before (the daemon collects closed ones).
 */
static void id_forget(struct bench *b, unsigned int r)
{
	struct ps_flow_key k = {
		.server.a[0] = htonl(SERVER_ADDR), .sport = htons(id_rows[r].port),
		.family = PS_AF_INET,
	};
	uint32_t addr;
	uint16_t port;
	uint64_t i;

	for (i = 0; i < id_rows[r].conns; i++) {
		k.client.a[0] = htonl(id_st[r].many[i].caddr);
		k.cport = htons(id_st[r].many[i].cport);
		ps_dp_flow_forget(&b->dp, &k);
	}
	for (i = id_st[r].first; id_rows[r].fresh && i < id_conns[r]; i++) {
		id_peer(r, i, &addr, &port);
		k.client.a[0] = htonl(addr);
		k.cport = htons(port);
		ps_dp_flow_forget(&b->dp, &k);
	}
}

/* One turn: each row's next segment, each followed by the minimal program. */
static int id_turn(struct bench *b, unsigned int i)
{
	unsigned int r;
	uint32_t dur;
	int err, ret, len;

	/* New connections' handshakes first, untimed; a row's floor sees the client's half. */
	for (r = 0; r < ID_ROWS; r++)
		if (id_active(b, r) && id_rows[r].fresh) {
			b->setup_floor_fd = id_has_floor(r) ? b->floor_ident_fd : 0;
			err = id_connect(b, r);
			b->setup_floor_fd = 0;
			if (err)
				return err;
			if (id_has_floor(r))
				id_st[r].want.packets += 2;	/* SYN, ACK */
		}
	for (r = 0; r < ID_ROWS; r++) {
		if (!id_active(b, r))
			continue;
		len = id_frame(b, r, i);
		if (len < 0)
			return len;
		err = test_run(b->dp.ingress_fd, b->frame, len, b->ts_ns, 1, &dur, &ret);
		if (err)
			return err;
		if (ret != TC_ACT_OK)
			return -EPROTO;
		id_st[r].sum_dp += dur;
		err = test_run(b->min_fd, b->frame, len, b->ts_ns, 1, &dur, &ret);
		if (err)
			return err;
		id_st[r].sum_min += dur;
		if (!id_has_floor(r))
			continue;
		/* The row's floor, then the minimal program again: its own pair. */
		err = test_run(b->floor_ident_fd, b->frame, len, b->ts_ns, 1, &dur, &ret);
		if (err)
			return err;
		id_st[r].sum_floor += dur;
		err = test_run(b->min_fd, b->frame, len, b->ts_ns, 1, &dur, &ret);
		if (err)
			return err;
		id_st[r].sum_min3 += dur;
	}
	return 0;
}

/*
 * The client-identity rows, packet by packet in one run, each segment
 * followed by the minimal program on the same frame: (b) on its
 * connection to BENCH_PORT; (b-xff), the next request on a gateway's
 * pooled connection to XFF_PORT, its chain naming the next client of its
 * pool; (b-px), the first data segment of a new connection from a load
 * balancer to PX_PORT, a PROXY v1 header naming a gateway before the
 * (b-xff) request; (b-key), the next request on a connection to
 * KEY_PORT, its bearer key the next of its pool; (b-all), (b-px) to
 * ALL_PORT with (b-key)'s key line; (b-new), (b) as the first segment of
 * a new connection to BENCH_PORT; with --ident-detail, the breakdown rows.
 * The new connections' handshakes (SYN, SYN-ACK, ACK) go through the datapath
 * untimed, before the turn's segments: each measured segment is new data,
 * and a new connection's is the one that reads its PROXY header.
 */
static int measure_ident(struct bench *b, unsigned int run, unsigned int id)
{
	static uint64_t stats[PS_STAT_MAX];
	unsigned int i, r;
	int err;

	err = read_stats(b, stats);
	for (r = 0; r < ID_ROWS && !err; r++)
		if (id_active(b, r))
			err = id_begin(b, r, id + r);
	for (r = 0; r < ID_ROWS && !err; r++)
		if (id_has_floor(r))
			err = found_io(b, id_rows[r].port & 7, NULL);
	for (i = 0; i < b->npkts && !err; i++)
		err = id_turn(b, i);
	if (err)
		return err;
	for (r = 0; r < ID_ROWS; r++) {
		if (!id_active(b, r))
			continue;
		id_res[r].dp_ns[run] = (double)id_st[r].sum_dp / b->npkts;
		id_res[r].min_ns[run] = (double)id_st[r].sum_min / b->npkts;
		id_res[r].runs = run + 1;
		id_res[r].measured = 1;
		if (id_has_floor(r)) {
			err = found_check(b, id_rows[r].port & 7, &id_st[r].want, id_rows[r].name);
			if (err)
				return err;
			id_floor_res[r].dp_ns[run] = (double)id_st[r].sum_floor / b->npkts;
			id_floor_res[r].min_ns[run] = (double)id_st[r].sum_min3 / b->npkts;
			id_floor_res[r].runs = run + 1;
			id_floor_res[r].measured = 1;
		}
		id_check_row(b, r);
		if (id_rows[r].fresh || id_rows[r].conns)
			id_forget(b, r);
	}
	id_check_stats(b, stats);
	return 0;
}

/*
 * Row r against row base of the same runs: the ratio of their medians
 * (and the difference) into vs, the lowest and highest per-run ratio into
 * range.
 */
static double id_vs(unsigned int r, unsigned int base, char *vs, size_t vlen, char *range,
		    size_t rlen)
{
	const struct result *res = &id_res[r], *bs = &id_res[base];
	double dp = median(res->dp_ns, res->runs), bdp = median(bs->dp_ns, bs->runs);
	double lo = 1e9, hi = 0;
	unsigned int i;

	for (i = 0; i < res->runs && i < bs->runs; i++) {
		double y = res->dp_ns[i] / bs->dp_ns[i];

		lo = y < lo ? y : lo;
		hi = y > hi ? y : hi;
	}
	snprintf(vs, vlen, "%.2fx (%+.1f ns)", dp / bdp, dp - bdp);
	snprintf(range, rlen, "%.2f..%.2fx", lo, hi);
	return dp / bdp;
}

/*
 * An identity row: against the minimal program and, but for (b), against
 * (b) of the same runs; a new connection's first segment also against
 * (b-new), the same without any identity feature; (b-xff), (b-px),
 * (b-key) and (b-all) with the identity issue's target.
 */
static void id_print_row(unsigned int r, const char *how)
{
	const struct result *res = &id_res[r];
	double dp, mn, lo = 1e9, hi = 0, vb = 0, vn = 0;
	char vs[64] = "-", vsr[32] = "-", vsn[64] = "-", vsnr[32] = "-", tgt[96] = "-";
	unsigned int i;

	if (!res->measured || !id_res[ID_B].measured || !id_res[ID_NEW].measured)
		return;
	dp = median(res->dp_ns, res->runs);
	mn = median(res->min_ns, res->runs);
	for (i = 0; i < res->runs; i++) {
		double x = res->dp_ns[i] / res->min_ns[i];

		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
	}
	if (r != ID_B)
		vb = id_vs(r, ID_B, vs, sizeof(vs), vsr, sizeof(vsr));
	if (id_rows[r].fresh && r != ID_NEW)
		vn = id_vs(r, ID_NEW, vsn, sizeof(vsn), vsnr, sizeof(vsnr));
	if (r == ID_XFF || r == ID_KEY)
		snprintf(tgt, sizeof(tgt), "<= %.1fx (b) (%s)", ID_TARGET,
			 vb <= ID_TARGET ? "met" : "NOT met");
	else if (r == ID_PX || r == ID_ALL)
		snprintf(tgt, sizeof(tgt), "<= %.1fx: vs (b) %s, vs (b-new) %s", ID_TARGET,
			 vb <= ID_TARGET ? "met" : "NOT met", vn <= ID_TARGET ? "met" : "NOT met");
	printf("| %s | %s | %.1f | %.1f | %.1f | %.2fx | %.2f..%.2fx | %s | %s | %s | %s | %s |\n",
	       id_rows[r].name, how, dp, mn, dp - mn, dp / mn, lo, hi, vs, vsr, vsn, vsnr, tgt);
}

/* Median ns of row a less row b's. */
static double id_diff(unsigned int a, unsigned int b)
{
	return median(id_res[a].dp_ns, id_res[a].runs) - median(id_res[b].dp_ns, id_res[b].runs);
}

/* Median ns of row a over row b's. */
static double id_ratio(unsigned int a, unsigned int b)
{
	return median(id_res[a].dp_ns, id_res[a].runs) / median(id_res[b].dp_ns, id_res[b].runs);
}

/* The issue's case at a glance, from the main rows. */
static void id_summary(const struct bench *b)
{
	unsigned int r;

	for (r = 0; r < ID_ROWS; r++)
		if (!id_rows[r].detail && !id_res[r].measured)
			return;
	printf("- **the issue's case, (b-all)**: %.2fx (b) (%+.0f ns), %.2fx (b-new) (%+.0f ns), "
	       "against a goal of <= %.1fx: %s. Of its %+.0f ns over (b-new), the PROXY header "
	       "and the chain of %u, (b-px) - (b-new) = %+.0f ns; the key on top of them, "
	       "(b-all) - (b-px) = %+.0f ns. A new connection's first segment without any "
	       "identity feature against the next request of a pooled one, (b-new) - (b) = "
	       "%+.0f ns. Alone: the chain on a pooled connection %.2fx (b), the key %.2fx (b).\n",
	       id_ratio(ID_ALL, ID_B), id_diff(ID_ALL, ID_B), id_ratio(ID_ALL, ID_NEW),
	       id_diff(ID_ALL, ID_NEW), ID_TARGET,
	       id_ratio(ID_ALL, ID_B) <= ID_TARGET && id_ratio(ID_ALL, ID_NEW) <= ID_TARGET ?
	       "met" : "NOT met", id_diff(ID_ALL, ID_NEW), b->xff_chain,
	       id_diff(ID_PX, ID_NEW), id_diff(ID_ALL, ID_PX), id_diff(ID_NEW, ID_B),
	       id_ratio(ID_XFF, ID_B), id_ratio(ID_KEY, ID_B));
}

/* Where (b-xff)'s, (b-px)'s and (b-key)'s added ns go, from the breakdown rows. */
static void id_breakdown(const struct bench *b)
{
	char line[ID_CHAIN_MAX * 20 + 32];
	unsigned int r;
	int n;

	for (r = 0; r < ID_ROWS; r++)
		if (!id_res[r].measured)
			return;
	n = xff_line(line, sizeof(line), b->xff_chain, id_client(ID_XFF, 0));
	printf("- breakdown of (b-xff) - (b) = %+.0f ns, each part the difference of two "
	       "rows' medians: the line's %d bytes through the parser, (x-unread) - (b) = "
	       "%+.0f ns; forwarded_for on a trusted gateway's connection, no line, (x-none) - "
	       "(b) = %+.0f ns; reading the line, the rest: %+.0f ns. Of that, each entry "
	       "walked about %+.1f ns ((x16) - (x1)) / 15; a named client whose state was not "
	       "touched for a while rather than the same one each time, %+.0f ns ((b-xff) - "
	       "(x-one)); the same for a client's own connection, (b-many) - (b) = %+.0f ns: "
	       "against (b-many), (b-xff) is %.2fx, (b-px) %.2fx, (b-key) %.2fx and (b-all) "
	       "%.2fx.\n",
	       id_diff(ID_XFF, ID_B), n, id_diff(ID_XUNREAD, ID_B), id_diff(ID_XNONE, ID_B),
	       id_diff(ID_XFF, ID_XUNREAD) - id_diff(ID_XNONE, ID_B),
	       id_diff(ID_X16, ID_X1) / 15, id_diff(ID_XFF, ID_XONE), id_diff(ID_BMANY, ID_B),
	       id_ratio(ID_XFF, ID_BMANY), id_ratio(ID_PX, ID_BMANY), id_ratio(ID_KEY, ID_BMANY),
	       id_ratio(ID_ALL, ID_BMANY));
	printf("- breakdown of (b-px) - (b-new) = %+.0f ns: the PROXY header, (b-px) - (x-new) "
	       "= %+.0f ns (%+.0f ns without the X-Forwarded-For line, (px-only) - (b-new)); the "
	       "X-Forwarded-For line, (x-new) - (b-new) = %+.0f ns.\n",
	       id_diff(ID_PX, ID_NEW), id_diff(ID_PX, ID_XNEW), id_diff(ID_PXONLY, ID_NEW),
	       id_diff(ID_XNEW, ID_NEW));
	printf("- breakdown of (b-key) - (b) = %+.0f ns: its %d-byte key for (b)'s %zu-byte one "
	       "through the parser, where keys are overwritten and not read, (k-unread) - (b) "
	       "= %+.0f ns; reading the key (hashing it, the request counted to the key's "
	       "slot), (b-key) - (k-unread) = %+.0f ns; of that, a key whose slot was not "
	       "touched for a while rather than the same one each time, (b-key) - (k-one) = "
	       "%+.0f ns.\n", id_diff(ID_KEY, ID_B), ID_KEY_LEN, strlen(REQ_KEY),
	       id_diff(ID_KUNREAD, ID_B), id_diff(ID_KEY, ID_KUNREAD), id_diff(ID_KEY, ID_KONE));
}

/* What the identity table's rows are. */
static void print_ident_notes(const struct bench *b)
{
	static char seg[ID_SEG_MAX];
	char line[ID_CHAIN_MAX * 20 + 32], key[ID_KEY_LEN + 1], *eol;
	int nx, np, nk, na;

	nx = id_payload(seg, b->xff_chain, id_client(ID_XFF, 0), NULL, 0, 0, 0, NULL);
	nk = id_payload(seg, 0, 0, id_key(ID_KEY, 0, key), 0, 0, 0, NULL);
	na = id_payload(seg, b->xff_chain, id_client(ID_ALL, 0), id_key(ID_ALL, 0, key),
			ID_GW + ID_ALL, 20000, ALL_PORT, NULL);
	xff_line(line, sizeof(line), b->xff_chain, id_client(ID_XFF, 0));
	eol = strstr(line, "\r\n");
	if (eol)
		*eol = '\0';
	printf("- (b): the request of the table above, each the next pipelined request on its "
	       "connection to port %d (no identity feature), measured again in these runs.\n",
	       BENCH_PORT);
	printf("- (b-new): the same request as the first data segment of a new connection to "
	       "port %d (no identity feature) from a peer of 198.18.64.0/18, its handshake "
	       "untimed as (b-px)'s: the base for (b-px) and (b-all), which also start a "
	       "connection each; vs (b-new) is given for the rows that do.\n", BENCH_PORT);
	printf("- (b-xff), the gateway case: the same request with `%s` after its Host line "
	       "(%d bytes), each the next pipelined request on one pooled connection from a "
	       "gateway (198.18.1.0/24 and up) to port %d, `forwarded_for: true`, "
	       "`trusted_proxies: [%s, %s]`. The chain: ", line, nx, XFF_PORT, id_trusted[0],
	       id_trusted[1]);
	if (b->xff_chain > 3)
		printf("%u forged entr%s (192.0.2.1 and up), ", b->xff_chain - 3,
		       b->xff_chain > 4 ? "ies" : "y");
	printf("the client%s; each request names the next of %d clients in turn. The datapath "
	       "walks every entry, looks each up in trusted_proxies and counts the request to "
	       "the right-most one that is not trusted.\n",
	       b->xff_chain > 2 ? ", then the two trusted proxies it passed (10.20.0.1, "
	       "10.30.0.1)" : b->xff_chain == 2 ? ", then a trusted proxy (10.20.0.1)" : "",
	       ID_POOL);
	np = id_payload(seg, b->xff_chain, id_client(ID_PX, 0), NULL, ID_GW + ID_PX, 20000,
			PX_PORT, NULL);
	eol = strstr(seg, "\r\n");
	if (eol)
		*eol = '\0';
	printf("- (b-px), behind a load balancer: the first data segment of a new connection "
	       "from a load balancer (198.18.64.0/18) to port %d, `proxy_protocol: true`, "
	       "`forwarded_for: true`, the same trusted_proxies: `%s` (v1, naming the gateway "
	       "in front of it), then the (b-xff) request naming the next of %d clients of its "
	       "own, %d bytes. One connection per request, as a balancer that does not pool "
	       "sends them (HAProxy in TCP mode with send-proxy). Its handshake (SYN, SYN-ACK, "
	       "ACK) goes through the datapath untimed, before the turn's measured segments, so "
	       "the measured segment is new data and the one that reads the header, hands the "
	       "connection (and the handshake's packets, waiting in its flow) to the gateway "
	       "the header names, and walks the chain. The replay datapath's flow table holds "
	       "65536 flows: the handshakes evict old ones (untimed).\n", PX_PORT, seg, ID_POOL,
	       np);
	printf("- (b-key), API keys: (b)'s request with `Authorization: Bearer %.12s...` (a "
	       "%d-byte key, `sk-` and 48 letters and digits, as OpenAI's secret keys are) in "
	       "place of (b)'s %zu-byte `%s`, %d bytes, each the next pipelined request on one "
	       "connection to port %d, `identity: api_key` (no forwarded_for, no "
	       "proxy_protocol); each request carries the next of %d keys in turn, the same "
	       "in every run, so that their slots recur as (b-xff)'s clients do. ps_key_secret "
	       "holds a random secret (getrandom, as penstockd makes its own). The datapath "
	       "hashes the key (SipHash-2-4, a word at a time, overwriting its bytes) and "
	       "counts the request to the key's id.\n", id_key(ID_KEY, 0, key), ID_KEY_LEN,
	       strlen(REQ_KEY), REQ_KEY, nk, KEY_PORT, ID_POOL);
	printf("- (b-all), the issue's case: a new connection's first data segment from a load "
	       "balancer to port %d, `proxy_protocol: true`, `forwarded_for: true` (the same "
	       "trusted_proxies) and `identity: api_key`: (b-px)'s PROXY header, the chain of "
	       "%u naming the next of %d clients and (b-key)'s line with the next of %d keys "
	       "of its own, %d bytes, handshake untimed as (b-px)'s. The key wins: the request "
	       "is the key's; the chain is walked all the same, its client not counted; the "
	       "connection is the gateway's the header names.\n", ALL_PORT, b->xff_chain,
	       ID_POOL, ID_POOL, na);
	if (b->ident_detail)
		printf("- breakdown rows (ps_bench --ident-detail), in the same runs, each "
		       "(b-xff), (b-px), (b-key) or (b) with one thing left out or changed: "
		       "(x-none) no X-Forwarded-For line on the gateway's connection (its own "
		       "requests); (x-unread) the line on port %d, where nothing reads it; (x1), "
		       "(x16) chains of 1 (the client alone) and 16 (13 forged entries); (x-one) "
		       "the same client named by every request; (b-many) (b) from %d clients, each "
		       "on its own pooled connection, in turn, as many as (b-xff) names; (x-new) "
		       "(b-xff) as a new connection's first segment to port %d; (px-only) (b-px) "
		       "without the line (the named gateway's own requests); (k-unread) (b-key)'s "
		       "requests on port %d, where keys are overwritten but not read (the "
		       "connection's client's); (k-one) (b-key) with the same key in every "
		       "request.\n", BENCH_PORT, ID_POOL, XFF_PORT, BENCH_PORT);
	printf("- the rows alternate packet by packet within each run, each followed by the "
	       "minimal program on the same frame; ratio as in the table above; vs (b) = "
	       "median ns / median ns of (b) in the same runs (and the difference), its range "
	       "the lowest and highest per-run ratio; vs (b-new) likewise. Target: <= %.1fx, "
	       "from the client identity issue (a request with a PROXY header, a chain of 4 "
	       "and a bearer key vs one without).\n", ID_TARGET);
	printf("- checked after each run: each named client's requests and inference requests "
	       "went up by its share of N, and each key's on a keyed row, whose chain's clients "
	       "got none; the gateway on a pooled connection got none of them (its payload "
	       "only), nor did one a PROXY header names, which got the N connections, 3N + N "
	       "packets and the payload, headers included; load balancers have no slot; "
	       "stats.forwarded_requests went up by N a row that counts to the chain's "
	       "clients, keyed_requests by N a keyed row and proxy_headers by N a row that "
	       "sends the header; forwarded_bad, forwarded_untrusted, forwarded_full, "
	       "proxy_bad, proxy_untrusted, client_full and parse_limit not at all. A row whose "
	       "requests name no client and carry no key read: the connection's client holds "
	       "them.\n");
	printf("- the named clients and keys recur: a row's %d are the same in every run, their "
	       "slots made by the first %d requests of the first run and found after that (a "
	       "gateway's known clients, a service's known keys).\n", ID_POOL, ID_POOL);
	printf("- every row's request carries an `Authorization: Bearer` line; on an endpoint "
	       "without `identity: api_key` its key is overwritten in the working buffer but "
	       "not hashed.\n");
}

static void print_ident_table(const struct bench *b, unsigned int runs, int cpu)
{
	char how[160], chain[32] = "";
	unsigned int r;

	printf("\n### Client identity: PROXY header, X-Forwarded-For and API keys, "
	       "BPF_PROG_TEST_RUN, median of %u runs, CPU %d\n\n", runs, cpu);
	printf("| packet | measurement | penstock ns/pkt | minimal ns/pkt | added ns/pkt | ratio "
	       "| ratio range over runs | vs (b) | vs (b) range over runs | vs (b-new) "
	       "| vs (b-new) range over runs | target |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
	snprintf(how, sizeof(how), "distinct packets, the rows alternating (N=%u each, "
		 "repeat=1 each)", b->npkts);
	for (r = 0; r < ID_ROWS; r++)
		id_print_row(r, how);
	printf("\n");
	if (b->xff_chain != 4)
		snprintf(chain, sizeof(chain), " --xff-chain %u", b->xff_chain);
	printf("- measured by `ps_bench --runs %u --packets %u%s%s%s`%s.\n", runs, b->npkts,
	       b->ident_only ? " --ident-only" : "", b->ident_detail ? " --ident-detail" : "",
	       chain, b->ident_only ? "" : ", which measures the tables above in the same process");
	id_summary(b);
	print_ident_notes(b);
	id_breakdown(b);
}

static int load_min(struct bench *b, const char *path)
{
	struct bpf_program *prog, *lines;
	struct bpf_map *map;
	int err;

	b->min_obj = bpf_object__open_file(path, NULL);
	if (!b->min_obj) {
		err = -errno;
		pr_warn("ps_bench: cannot open %s: %s\n", path, strerror(-err));
		return err;
	}
	/* The floors' flow table as large as the datapath's, LRU evictions alike. */
	map = bpf_object__find_map_by_name(b->min_obj, "bench_flows");
	if (map)
		bpf_map__set_max_entries(map, bpf_map__max_entries(b->dp.skel->maps.ps_flows));
	err = bpf_object__load(b->min_obj);
	if (err) {
		pr_warn("ps_bench: cannot load %s: %s\n", path, strerror(-err));
		return err;
	}
	prog = bpf_object__find_program_by_name(b->min_obj, "bench_min");
	if (!prog) {
		pr_warn("ps_bench: %s has no program bench_min\n", path);
		return -ENOENT;
	}
	b->min_fd = bpf_program__fd(prog);
	prog = bpf_object__find_program_by_name(b->min_obj, "bench_floor");
	lines = bpf_object__find_program_by_name(b->min_obj, "bench_floor_lines");
	map = bpf_object__find_map_by_name(b->min_obj, "bench_floor_scan");
	if (!prog || !lines || !map) {
		pr_warn("ps_bench: %s lacks bench_floor, bench_floor_lines or "
			"bench_floor_scan\n", path);
		return -ENOENT;
	}
	b->floor_fd = bpf_program__fd(prog);
	b->floor_lines_fd = bpf_program__fd(lines);
	b->floor_scan_fd = bpf_map__fd(map);
	map = bpf_object__find_map_by_name(b->min_obj, "bench_floor_count");
	if (!map) {
		pr_warn("ps_bench: %s lacks bench_floor_count\n", path);
		return -ENOENT;
	}
	b->floor_count_fd = bpf_map__fd(map);
	map = bpf_object__find_map_by_name(b->min_obj, "bench_floor_found");
	if (!map) {
		pr_warn("ps_bench: %s lacks bench_floor_found\n", path);
		return -ENOENT;
	}
	b->floor_found_fd = bpf_map__fd(map);
	{
		static const char *const names[3] = { "bench_floor_ident", "bench_floor_h2",
						      "bench_floor_sse" };
		int *fds[3] = { &b->floor_ident_fd, &b->floor_h2_fd, &b->floor_sse_fd };
		int i;

		for (i = 0; i < 3; i++) {
			prog = bpf_object__find_program_by_name(b->min_obj, names[i]);
			if (!prog) {
				pr_warn("ps_bench: %s has no program %s\n", path, names[i]);
				return -ENOENT;
			}
			*fds[i] = bpf_program__fd(prog);
		}
	}
	return 0;
}

/* Run every measurement on one CPU: per-CPU maps and caches stay put. */
static int pin_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return -errno;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	return cpu;
}

/*
 * The identity rows' endpoints: PX_PORT with proxy_protocol: true and
 * forwarded_for: true, XFF_PORT with forwarded_for: true, both trusting
 * id_trusted; KEY_PORT with identity: api_key alone; ALL_PORT with all
 * three, trusting id_trusted.
 */
static int ident_endpoints(struct ps_config *cfg)
{
	const uint16_t port[4] = { PX_PORT, XFF_PORT, KEY_PORT, ALL_PORT };
	struct ps_endpoint_cfg *ep;
	char err_s[128];
	unsigned int i, j;
	int err;

	for (i = 0; i < 4; i++) {
		err = ps_config_add_port(cfg, port[i]);
		if (err)
			return err;
		ep = &cfg->endpoints[cfg->nendpoints - 1];
		ep->proxy_protocol = port[i] == PX_PORT || port[i] == ALL_PORT;
		if (port[i] == KEY_PORT || port[i] == ALL_PORT)
			ep->identity = PS_IDENTITY_API_KEY;
		if (port[i] == KEY_PORT)
			continue;
		ep->forwarded_for = PS_FWD_FOR_BOTH;
		for (j = 0; j < sizeof(id_trusted) / sizeof(id_trusted[0]); j++)
			if (ps_parse_prefix(id_trusted[j], &ep->trusted[ep->ntrusted++], err_s,
					    sizeof(err_s))) {
				pr_warn("ps_bench: %s: expected %s\n", id_trusted[j], err_s);
				return -EINVAL;
			}
	}
	return 0;
}

/* ---- the request start's stages ---- */

#define STAGES		8

static const char *const stage_name[STAGES + 1][2] = {
	{ "ps_ingress", "the datapath's own program, beside stage 8" },
	{ "1 parse", "ps_parse(): Ethernet, IP, TCP headers; the clock; the block check "
		     "(enforcement off: no lookup)" },
	{ "2 flow", "the endpoint's port (ps_ports), the flow found (ps_flows_est, "
		    "ps_flow_get/settle)" },
	{ "3 client", "the rest of ps_account(): the client's slot (ps_clients), packet and "
		      "byte counters, the endpoint's, the flow's flags" },
	{ "4 sequencing", "the flow claimed (not in replay), the segment placed in the "
			  "stream (ps_rx_resync, ps_seq_next)" },
	{ "5 parser set-up", "the flow's parser state, its client and identity settings into "
			     "the per-CPU scratch (ps_h1_begin)" },
	{ "6 HTTP/1 parser", "the segment through ps_h1_feed: request line, each header line, "
			     "framing, the inference path's classification" },
	{ "7 enforcement", "the request limit's gate (ps_gate_segment), enforcement off" },
	{ "8 counters", "the parser state back, requests and inference requests counted, "
			"the payload counted (ps_h1_end): the whole path" },
};

static struct result stage_res[STAGES + 1];
static struct result stage_more_res;	/* ps_ingress on (b) with STAGE_MORE more lines */

/* The OpenAI Python SDK's own header lines: (b) with them, for the cost of a line. */
#define STAGE_MORE	4
static const char stage_more_lines[] =
	"X-Stainless-Lang: python\r\nX-Stainless-Package-Version: 1.51.0\r\n"
	"X-Stainless-OS: Linux\r\nX-Stainless-Arch: x64\r\n";
static char more_seg[1024];
static int more_seg_len;
static unsigned int req_lines;		/* (b)'s lines before the blank line */

/* The .rodata variable name of obj (not loaded yet) set to val. */
static int rodata_set(struct bpf_object *obj, const char *name, const void *val, size_t len)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *t;
	struct bpf_map *m;
	size_t sz, nl;
	unsigned int i;
	char *data;
	int id;

	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -ENOENT;
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	bpf_object__for_each_map(m, obj) {
		nl = strlen(bpf_map__name(m));
		if (bpf_map__is_internal(m) && nl >= 7 &&
		    !strcmp(bpf_map__name(m) + nl - 7, ".rodata"))
			break;
	}
	if (!m)
		return -ENOENT;
	data = (char *)bpf_map__initial_value(m, &sz);
	for (i = 0, vs = btf_var_secinfos(t); data && i < btf_vlen(t); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, v->name_off), name) || vs->offset + len > sz)
			continue;
		memcpy(data + vs->offset, val, len);
		return 0;
	}
	return -ENOENT;
}

/*
 * bench_stage.bpf.o once per stage, each stopped after its stage (its
 * bench_stop), in replay mode as the datapath is, on the datapath's own
 * maps.
 */
static int load_stages(struct bench *b, const char *path)
{
	struct bpf_program *prog;
	struct bpf_map *m, *dm;
	uint8_t replay = 1;
	uint32_t k;
	int err;

	b->stage_fd[0] = b->dp.ingress_fd;
	for (k = 1; k <= STAGES; k++) {
		b->stage_obj[k] = bpf_object__open_file(path, NULL);
		if (!b->stage_obj[k]) {
			err = -errno;
			b->stage_obj[k] = NULL;
			pr_warn("ps_bench: cannot open %s: %s\n", path, strerror(-err));
			return err;
		}
		bpf_object__for_each_map(m, b->stage_obj[k]) {
			if (bpf_map__is_internal(m))
				continue;
			dm = bpf_object__find_map_by_name(b->dp.skel->obj, bpf_map__name(m));
			if (!dm) {
				pr_warn("ps_bench: %s: the datapath has no map %s\n", path,
					bpf_map__name(m));
				return -ENOENT;
			}
			/* The datapath's map, never one pinned anywhere. */
			err = bpf_map__set_pin_path(m, NULL);
			if (!err)
				err = bpf_map__reuse_fd(m, bpf_map__fd(dm));
			if (err)
				return err;
		}
		prog = bpf_object__find_program_by_name(b->stage_obj[k], "ps_ingress_unused");
		if (prog)
			bpf_program__set_autoload(prog, false);
		err = rodata_set(b->stage_obj[k], "ps_replay", &replay, 1);
		if (!err)
			err = rodata_set(b->stage_obj[k], "bench_stop", &k, 4);
		if (err) {
			pr_warn("ps_bench: %s: cannot set its constants\n", path);
			return err;
		}
		err = bpf_object__load(b->stage_obj[k]);
		if (err) {
			pr_warn("ps_bench: cannot load %s (stage %u): %s\n", path, k, strerror(-err));
			return err;
		}
		prog = bpf_object__find_program_by_name(b->stage_obj[k], "bench_stage");
		if (!prog)
			return -ENOENT;
		b->stage_fd[k] = bpf_program__fd(prog);
	}
	return 0;
}

/*
 * The request start through the datapath's ps_ingress and through each
 * stage's program, each on a connection of its own (a stage that stops
 * early leaves its stream where it was), packet by packet, each followed
 * by the minimal program on the same frame. Checked after each run: stage
 * 8 and ps_ingress counted every request and its payload; stages 4 and on
 * placed every segment in the stream, stages 1 to 3 none; no stage before
 * 8 counted a request.
 */
static int measure_stages(struct bench *b, unsigned int run, unsigned int id)
{
	uint64_t sum_dp[STAGES + 2] = {}, sum_min[STAGES + 2] = {};
	struct expect e[STAGES + 2];
	struct conn c[STAGES + 2];
	uint32_t seq0[STAGES + 2], dur;
	unsigned int i, j, k, len;
	char what[96];
	int err, ret;

	/* [STAGES + 1]: ps_ingress on the request with more lines */
	for (k = 0; k <= STAGES + 1; k++) {
		err = scenario_setup(b, &c[k], SC_REQ, id + k, &e[k]);
		if (err)
			return err;
		seq0[k] = c[k].cseq;
	}
	for (i = 0; i < b->npkts; i++)
		for (j = 0; j <= STAGES + 1; j++) {
			/*
			 * ps_ingress, the stages, and ps_ingress on more lines
			 * between stages 4 and 5: no program runs twice in a row,
			 * each comes after another's code, as the stages do.
			 */
			k = j < 5 ? j : j == 5 ? STAGES + 1 : j - 1;
			if (k <= STAGES) {
				len = scenario_frame(b, &c[k], SC_REQ, &e[k]);
			} else {
				e[k].requests++;
				e[k].rx_payload += more_seg_len;
				len = conn_frame(b, &c[k], 1, F_ACK | F_PSH, more_seg, more_seg_len);
			}
			err = test_run(b->stage_fd[k <= STAGES ? k : 0], b->frame, len, b->ts_ns, 1,
				       &dur, &ret);
			if (err)
				return err;
			if (ret != TC_ACT_OK)
				return -EPROTO;
			sum_dp[k] += dur;
			err = test_run(b->min_fd, b->frame, len, b->ts_ns, 1, &dur, &ret);
			if (err)
				return err;
			sum_min[k] += dur;
		}
	for (k = 0; k <= STAGES + 1; k++) {
		struct ps_flow_key fk = {
			.client.a[0] = htonl(c[k].caddr), .server.a[0] = htonl(SERVER_ADDR),
			.cport = htons(c[k].cport), .sport = htons(c[k].port),
			.family = PS_AF_INET,
		};
		uint32_t want = k == 0 || k >= 4 ? c[k].cseq : seq0[k];
		struct result *r = k <= STAGES ? &stage_res[k] : &stage_more_res;
		struct ps_flow f;

		r->dp_ns[run] = (double)sum_dp[k] / b->npkts;
		r->min_ns[run] = (double)sum_min[k] / b->npkts;
		r->runs = run + 1;
		r->measured = 1;
		snprintf(what, sizeof(what), "stage %s", k <= STAGES ? stage_name[k][0] :
			 "ps_ingress, more lines");
		if (k && k < STAGES) {
			e[k].requests = e[k].rx_payload = 0;
			e[k].state = PS_H1_START;
		}
		check_client(b, c[k].caddr, &e[k], what);
		check_flow(b, &c[k], &e[k], what);
		if (ps_dp_flow_lookup(&b->dp, &fk, &f) < 0 || f.dir[PS_DIR_RX].next != want)
			pr_warn("ps_bench: warning: %s: the stream is at %u, expected %u: the row "
				"does not measure the path it names\n", what, f.dir[PS_DIR_RX].next,
				want);
	}
	return 0;
}

/* What each stage of a request start costs: the table, from the runs' medians. */
static void print_stage_table(unsigned int runs, int cpu)
{
	double prev, cur, lo, hi, full, mn;
	unsigned int k, i;

	if (!stage_res[STAGES].measured)
		return;
	full = median(stage_res[STAGES].dp_ns, stage_res[STAGES].runs);
	printf("\n### Where a request start's time goes: the ingress path stopped after each "
	       "stage, BPF_PROG_TEST_RUN, median of %u runs, CPU %d\n\n", runs, cpu);
	printf("| stage | what it adds | ns/pkt, up to and with it | added by the stage | "
	       "its range over runs | share of the whole | minimal ns/pkt |\n");
	printf("|---|---|---:|---:|---:|---:|---:|\n");
	for (k = 1; k <= STAGES + 1; k++) {
		unsigned int s = k == STAGES + 1 ? 0 : k;
		const struct result *r = &stage_res[s];

		cur = median(r->dp_ns, r->runs);
		mn = median(r->min_ns, r->runs);
		lo = 1e9;
		hi = -1e9;
		for (i = 0; i < r->runs; i++) {
			double x = r->dp_ns[i] - (s == 0 ? stage_res[STAGES].dp_ns[i] :
						  s == 1 ? r->min_ns[i] : stage_res[s - 1].dp_ns[i]);

			lo = x < lo ? x : lo;
			hi = x > hi ? x : hi;
		}
		if (s == 0) {
			printf("| %s | %s | %.1f | %+.1f vs stage 8 | %+.1f..%+.1f | %.2fx stage 8 | "
			       "%.1f |\n", stage_name[s][0], stage_name[s][1], cur, cur - full, lo,
			       hi, cur / full, mn);
			continue;
		}
		prev = s == 1 ? mn : median(stage_res[s - 1].dp_ns, stage_res[s - 1].runs);
		printf("| %s | %s | %.1f | %+.1f%s | %+.1f..%+.1f | %.0f%% | %.1f |\n",
		       stage_name[s][0], stage_name[s][1], cur, cur - prev,
		       s == 1 ? " over the minimal" : "", lo, hi, 100 * (cur - prev) / full, mn);
	}
	if (stage_more_res.measured) {
		const struct result *r = &stage_more_res, *o = &stage_res[0];
		double line, own = median(o->dp_ns, o->runs), p5, p6;

		cur = median(r->dp_ns, r->runs);
		lo = 1e9;
		hi = -1e9;
		for (i = 0; i < r->runs; i++) {
			double x = (r->dp_ns[i] - o->dp_ns[i]) / STAGE_MORE;

			lo = x < lo ? x : lo;
			hi = x > hi ? x : hi;
		}
		line = (cur - own) / STAGE_MORE;
		printf("| ps_ingress, %d more lines | the datapath's own program on (b) with the "
		       "OpenAI SDK's %d X-Stainless-* header lines (%d bytes): a header line's cost "
		       "| %.1f | %+.1f a line | %+.1f..%+.1f | - | %.1f |\n", STAGE_MORE,
		       STAGE_MORE, more_seg_len, cur, line, lo, hi, median(r->min_ns, r->runs));
		p5 = median(stage_res[5].dp_ns, stage_res[5].runs);
		p6 = median(stage_res[6].dp_ns, stage_res[6].runs);
		printf("\n- stage 6 split by the line's cost: (b)'s %u lines (request line and "
		       "%u header lines, blank line left out) at %.1f ns a line = %.0f ns; the rest "
		       "of the stage, %.0f ns, is per request whatever its lines (the feed's "
		       "set-up, the request line's path decoded and classified, the header "
		       "block's end and framing).\n", req_lines, req_lines - 1, line,
		       line * req_lines, p6 - p5 - line * req_lines);
	}
	printf("\n");
	printf("- (b)'s request (%d bytes, headers and body in one segment, each the next "
	       "pipelined request on its connection), through tools/bench_stage.bpf.c: "
	       "bpf/ingress.bpf.c itself with a program that follows ps_ingress() and stops "
	       "after the stage (bench_stop, a constant set before load: the verifier drops "
	       "what comes after), loaded once per stage on the datapath's own maps, in "
	       "replay mode as the datapath here is (no flow claim). Each stage and "
	       "ps_ingress on a connection of its own, packet by packet in the same runs, "
	       "each followed by the minimal program on the same frame.\n", req_seg_len);
	printf("- added by the stage = its median less the stage before's (stage 1: less "
	       "the minimal program's); share = that over stage 8's median. Checked after "
	       "each run: stage 8 and ps_ingress counted every request and its payload, "
	       "stages 4 and on placed every segment in the stream and stages 1 to 3 none, "
	       "no stage before 8 counted a request or left the parser anywhere but at a "
	       "request's start.\n");
	printf("- a stage stopped early also skips the work the later ones would have done "
	       "on its state (stage 6's parser state is not written back, so each of its "
	       "requests starts from the same state): the figures are what the path costs "
	       "up to that point, not a stage alone.\n");
}

/* The request and body the micro benchmark sends, and the datapath beside bench_min. */
static int micro_setup(struct bench *b, struct ps_config *cfg, const char *min_path)
{
	struct ps_dp_opts dopts = { .replay = true };
	const char *p;
	int err;

	ps_log_libbpf();
	b->ts_ns = 1700000000ULL * 1000000000ULL;
	fill_text(body_seg, BODY_SEG);
	sse_init();
	answer_init();
	h2_answer_init();
	req_seg_len = make_request(req_seg, sizeof(req_seg), "/v1/chat/completions", 1, 0x5eed,
				   NULL);
	if (req_seg_len < 0) {
		pr_warn("ps_bench: the request does not fit its buffer\n");
		return req_seg_len;
	}
	req_hdr_len = strstr(req_seg, "\r\n\r\n") - req_seg + 4;
	for (req_lines = 0, p = req_seg; p < req_seg + req_hdr_len - 2; p++)
		req_lines += *p == '\n';
	more_seg_len = make_request(more_seg, sizeof(more_seg), "/v1/chat/completions", 1, 0x5eed,
				    stage_more_lines);
	if (more_seg_len < 0)
		return more_seg_len;
	snprintf(id_xff_name, sizeof(id_xff_name),
		 "(b-xff) request start, X-Forwarded-For chain of %u", b->xff_chain);
	ps_config_init(cfg);
	err = ps_config_add_port(cfg, BENCH_PORT);
	if (!err)
		err = ident_endpoints(cfg);
	if (!err)
		err = ps_dp_open(&b->dp, &dopts);
	if (err)
		return err;
	err = ps_dp_configure(&b->dp, cfg);
	/* The keys' secret, as penstockd makes it at its first start. */
	if (!err)
		err = ps_key_secret_random(id_secret);
	if (!err)
		err = ps_dp_set_secret(&b->dp, id_secret);
	if (!err)
		err = load_min(b, min_path);
	if (!err) {
		/* bench_stage.bpf.o next to the minimal program's object */
		char path[PATH_MAX];
		const char *slash = strrchr(min_path, '/');

		snprintf(path, sizeof(path), "%.*sbench_stage.bpf.o",
			 slash ? (int)(slash - min_path + 1) : 0, min_path);
		err = load_stages(b, path);
	}
	if (err)
		return err;
	err = enf_setup(b);
	if (!err)
		err = enf_switch(b, 0);
	if (err)
		pr_warn("ps_bench: cannot write the enforcement maps: %s\n", strerror(-err));
	return err;
}

/*
 * Every measurement of every scenario, runs times over; with ident_only,
 * only the client-identity rows.
 */
static int micro_measure(struct bench *b, unsigned int runs, int ident_only, int stages_only,
			 int egress_only)
{
	unsigned int run, id = 1;
	int sc, err;

	for (run = 0; run < runs; run++) {
		if (egress_only) {
			for (sc = 0; sc < SC_MAX; sc++) {
				if (scenario_prog(b, sc) != b->dp.egress_fd)
					continue;
				err = measure_distinct(b, sc, run, id++);
				if (err)
					return err;
			}
			continue;
		}
		if (!ident_only) {
			err = measure_stages(b, run, id);
			id += STAGES + 2;
			if (err)
				return err;
			if (stages_only)
				continue;
		}
		err = measure_ident(b, run, id);
		id += ID_ROWS;
		if (err)
			return err;
		for (sc = 0; sc < SC_MAX && !ident_only; sc++) {
			if (sc != SC_OTHER) {
				err = measure_distinct(b, sc, run, id++);
				if (err)
					return err;
			}
			if (sc == SC_BODY || sc == SC_REQ) {
				err = measure_enf(b, sc, run, id);
				id += 2;
				if (err)
					return err;
			}
			if (sc != SC_EGRESS && sc != SC_H2_HEADERS && sc != SC_H2_DATA &&
			    sc != SC_SSE && sc != SC_H2_SSE && sc != SC_ANSWER &&
			    sc != SC_H2_ANSWER) {
				err = measure_steady(b, sc, run, id++);
				if (err)
					return err;
			}
		}
	}
	return 0;
}

/* The per-packet table's rows. */
static void micro_rows(unsigned int npkts)
{
	char how_d[128], how_s[128], how_f[192], how_fl[128];

	snprintf(how_d, sizeof(how_d), "distinct packets (N=%u, repeat=1 each)", npkts);
	snprintf(how_s, sizeof(how_s),
		 "steady repeat (repeat=%d, one frame: retransmission path after the 1st)",
		 STEADY_REPEAT);
	print_row(SC_BODY, M_DISTINCT, how_d, 0);
	print_row(SC_BODY, M_STEADY, how_s, 0);
	snprintf(how_fl, sizeof(how_fl), "**floor**: parse + connection lookup (bench_floor), "
		 "distinct packets (N=%u)", npkts);
	print_row(SC_BODY, M_FLOOR, how_fl, 0);
	print_row(SC_REQ, M_DISTINCT, how_d, 0);
	print_row(SC_REQ, M_STEADY, how_s, 0);
	snprintf(how_f, sizeof(how_f), "**floor**: parse + connection lookup + each 8 bytes "
		 "of the %u-byte header block looked at once (bench_floor), distinct packets "
		 "(N=%u)", req_hdr_len, npkts);
	print_row(SC_REQ, M_FLOOR, how_f, 0);
	snprintf(how_f, sizeof(how_f), "**floor, line by line**: the same, its lines taken "
		 "one at a time (bench_floor_lines), distinct packets (N=%u)", npkts);
	print_row(SC_REQ, M_FLOOR_LINES, how_f, 0);
	snprintf(how_s, sizeof(how_s), "repeat=%d (no state: exact)", STEADY_REPEAT);
	print_row(SC_OTHER, M_STEADY, how_s, 0);
	print_row(SC_EGRESS, M_DISTINCT, how_d, 0);
	print_row(SC_EGRESS, M_FLOOR, how_fl, 0);
	print_row(SC_SSE, M_DISTINCT, how_d, 0);
	snprintf(how_f, sizeof(how_f), "**floor**: parse + connection lookup + each LF found "
		 "and the 5 bytes after it compared with \"data:\" (bench_floor_sse), distinct "
		 "packets (N=%u)", npkts);
	print_row(SC_SSE, M_FLOOR, how_f, 0);
	print_row(SC_H2_SSE, M_DISTINCT, how_d, 0);
	print_row(SC_ANSWER, M_DISTINCT, how_d, 0);
	print_row(SC_ANSWER, M_FLOOR, how_fl, 0);
	print_row(SC_H2_ANSWER, M_DISTINCT, how_d, 0);
	print_row(SC_H2_ANSWER, M_FLOOR, how_fl, 0);
	print_row(SC_H2_HEADERS, M_DISTINCT, how_d, 0);
	snprintf(how_f, sizeof(how_f), "**floor**: parse + connection lookup + the segment's "
		 "frame headers walked (bench_floor_h2), distinct packets (N=%u)", npkts);
	print_row(SC_H2_HEADERS, M_FLOOR, how_f, 0);
	print_row(SC_H2_DATA, M_DISTINCT, how_d, 0);
	print_row(SC_H2_DATA, M_FLOOR, how_f, 0);
}

#define FLOOR_BODY	1.1	/* (a) against bench_floor */
#define FLOOR_REQ	2.0	/* (b) against bench_floor_lines */
#define FLOOR_ENF	1.2	/* (b) enforcement on against off */
#define SSE_VS_BODY	2.0	/* (f) against the plain egress body segment */

/*
 * One row of the floors' table: the datapath's results dp beside the
 * floor's fl, measured on the same frames in the same runs (and the
 * minimal program after the floor); target 0: none.
 */
static void floor_row(const char *name, const char *floor, const struct result *dp,
		      const struct result *fl, double target)
{
	double d, f, m, lo = 1e9, hi = 0;
	char tgt[48] = "-";
	unsigned int i;

	if (!dp->measured || !fl->measured)
		return;
	d = median(dp->dp_ns, dp->runs);
	f = median(fl->dp_ns, fl->runs);
	m = median(fl->min_ns, fl->runs);
	for (i = 0; i < dp->runs && i < fl->runs; i++) {
		double x = dp->dp_ns[i] / fl->dp_ns[i];

		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
	}
	if (target > 0)
		snprintf(tgt, sizeof(tgt), "<= %.1fx (%s)", target, d / f <= target ? "met" :
			 "NOT met");
	printf("| %s | %s | %.1f | %.1f | %.1f | %.2fx | **%.2fx** (%+.1f ns) | %.2f..%.2fx | %s |\n",
	       name, floor, d, f, m, f / m, d / f, d - f, lo, hi, tgt);
}

/* Row a's datapath against row b's, the same runs: ratio of medians, per-run range. */
static void vs_row(const char *name, const char *base, const struct result *a,
		   const struct result *b, double target)
{
	double x, y, lo = 1e9, hi = 0;
	char tgt[48] = "-";
	unsigned int i;

	if (!a->measured || !b->measured)
		return;
	x = median(a->dp_ns, a->runs);
	y = median(b->dp_ns, b->runs);
	for (i = 0; i < a->runs && i < b->runs; i++) {
		double r = a->dp_ns[i] / b->dp_ns[i];

		lo = r < lo ? r : lo;
		hi = r > hi ? r : hi;
	}
	if (target > 0)
		snprintf(tgt, sizeof(tgt), "<= %.1fx (%s)", target, x / y <= target ? "met" :
			 "NOT met");
	printf("| %s | %s | %.1f | %.1f | **%.2fx** (%+.1f ns) | %.2f..%.2fx | %s |\n", name,
	       base, x, y, x / y, x - y, lo, hi, tgt);
}

/*
 * Each datapath row against its floor, measured on the same frames in the
 * same runs; then the HTTP/2 and event-stream rows against HTTP/1's.
 */
static void print_floor_table(unsigned int runs, int cpu)
{
	static const unsigned int idr[] = { ID_B, ID_XFF, ID_PX, ID_KEY, ID_ALL };
	unsigned int i;

	printf("\n### Against the floors: each row beside the least a program doing its job "
	       "with per-connection state can do, BPF_PROG_TEST_RUN, median of %u runs, CPU %d\n\n",
	       runs, cpu);
	printf("| packet | floor (tools/bench_min.bpf.c) | penstock ns/pkt | floor ns/pkt | "
	       "minimal ns/pkt | floor / minimal | **penstock / floor** | range over runs | "
	       "target |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|---|\n");
	floor_row(sc_name[SC_BODY], "bench_floor: parse + flow lookup + a counter",
		  &results[SC_BODY][M_DISTINCT], &results[SC_BODY][M_FLOOR], FLOOR_BODY);
	floor_row(sc_name[SC_REQ], "bench_floor_lines: + the header block's lines one at a time",
		  &results[SC_REQ][M_DISTINCT], &results[SC_REQ][M_FLOOR_LINES], FLOOR_REQ);
	floor_row(sc_name[SC_REQ], "bench_floor: + each 8 bytes of the header block once",
		  &results[SC_REQ][M_DISTINCT], &results[SC_REQ][M_FLOOR], 0);
	for (i = 0; i < sizeof(idr) / sizeof(idr[0]); i++)
		floor_row(id_rows[idr[i]].name, "bench_floor_ident: floor_lines + the identity "
			  "lines found by name, their values walked", &id_res[idr[i]],
			  &id_floor_res[idr[i]], 0);
	floor_row(sc_name[SC_H2_HEADERS], "bench_floor_h2: + the frame headers walked",
		  &results[SC_H2_HEADERS][M_DISTINCT], &results[SC_H2_HEADERS][M_FLOOR], 0);
	floor_row(sc_name[SC_H2_DATA], "bench_floor_h2: + the frame headers walked",
		  &results[SC_H2_DATA][M_DISTINCT], &results[SC_H2_DATA][M_FLOOR], 0);
	floor_row(sc_name[SC_EGRESS], "bench_floor: parse + flow lookup + a counter",
		  &results[SC_EGRESS][M_DISTINCT], &results[SC_EGRESS][M_FLOOR], 0);
	floor_row(sc_name[SC_SSE], "bench_floor_sse: + each LF and \"data:\" after it",
		  &results[SC_SSE][M_DISTINCT], &results[SC_SSE][M_FLOOR], 0);
	floor_row(sc_name[SC_ANSWER], "bench_floor: parse + flow lookup + a counter",
		  &results[SC_ANSWER][M_DISTINCT], &results[SC_ANSWER][M_FLOOR], 0);
	floor_row(sc_name[SC_H2_ANSWER], "bench_floor: parse + flow lookup + a counter",
		  &results[SC_H2_ANSWER][M_DISTINCT], &results[SC_H2_ANSWER][M_FLOOR], 0);
	printf("\n| packet | against | penstock ns/pkt | against ns/pkt | ratio | range over runs "
	       "| target |\n");
	printf("|---|---|---:|---:|---:|---:|---|\n");
	vs_row("(b) request start, enforcement **on**",
	       "(b), enforcement off, alternating with it (the enforcement table)",
	       &results[SC_REQ][M_ENF], &results[SC_REQ][M_ENF_OFF], FLOOR_ENF);
	vs_row(sc_name[SC_SSE], sc_name[SC_EGRESS], &results[SC_SSE][M_DISTINCT],
	       &results[SC_EGRESS][M_DISTINCT], SSE_VS_BODY);
	vs_row(sc_name[SC_H2_HEADERS], sc_name[SC_REQ], &results[SC_H2_HEADERS][M_DISTINCT],
	       &results[SC_REQ][M_DISTINCT], 0);
	vs_row(sc_name[SC_H2_DATA], sc_name[SC_BODY], &results[SC_H2_DATA][M_DISTINCT],
	       &results[SC_BODY][M_DISTINCT], 0);
	printf("\n");
	printf("- targets from the issue that restated the per-packet ones against the floors: "
	       "(a) <= %.1fx bench_floor; (b) <= %.1fx bench_floor_lines, enforcement on adding "
	       "<= %.0f%%; (f) an event-stream segment <= %.1fx a plain body segment on egress. "
	       "The other floors have no target yet: their ratio is reported.\n", FLOOR_BODY,
	       FLOOR_REQ, (FLOOR_ENF - 1) * 100, SSE_VS_BODY);
	printf("- each floor runs right after the datapath on the very same frame, then the "
	       "minimal program again (minimal ns/pkt, its own pair): penstock / floor = median "
	       "penstock ns / median floor ns of the same runs, the range the lowest and "
	       "highest per-run ratio.\n");
	printf("- bench_floor_ident: bench_floor_lines (at most 64 lines) that also tells each "
	       "line by its first 16 bytes, lower-cased (`x-forwarded-for:`, `authorization: "
	       "b`; a PROXY v1 line by `PROXY ` first in the segment) and walks the value in "
	       "the words the line scan reads anyway: an X-Forwarded-For value's commas "
	       "counted (entries), an Authorization value's words from the 17th byte and a "
	       "PROXY line's words folded into a hash (FNV-style multiply), bytes past the "
	       "line's end masked off; which line it is in kept in masks without branches. "
	       "Beside the identity table's rows, in its runs (its (b) is the same request as "
	       "above, measured again there).\n");
	printf("- bench_floor_h2: the 9-byte frame headers of the segment, the frame it ends "
	       "in kept in the flow (bytes left, a header cut by the segment's end read on "
	       "byte by byte); (d) holds a HEADERS and a DATA frame, (e) a DATA frame header in "
	       "about one segment of 12.\n");
	printf("- bench_floor_sse: each LF of the body, eight bytes at a time, the 5 bytes "
	       "after it compared with `data:` at once, the segment's last 8 to 15 bytes byte "
	       "by byte, a line start cut by the segment's end kept in the flow. (f)'s body: "
	       "the chunk events of a streamed chat completion (`data: {\"id\":...,\"object\":"
	       "\"chat.completion.chunk\",...}` and a blank line, %u bytes for %u events, over "
	       "and over), each segment the next %d bytes wherever they fall; the plain egress "
	       "row's body is `application/octet-stream`.\n", sse_len, SSE_EVENTS, BODY_SEG);
	printf("- checked after each run, as the first floors are: what each floor found "
	       "(bench_floor_found: lines, X-Forwarded-For entries, key and PROXY words and "
	       "their fold, PROXY lines; frame headers and HEADERS frames; LFs and `data:` "
	       "lines) equals what ps_bench works out from the bytes it sent, byte by byte; "
	       "and the datapath counted (f)'s `data:` lines as events (tx_events), each of "
	       "them.\n");
}

/* What the per-packet table's figures mean. */
static void micro_notes(void)
{
	printf("- (a) a %d-byte payload inside a Content-Length body of an established flow; "
	       "(b) a %d-byte `POST /v1/chat/completions` with headers and JSON body in one "
	       "segment, in distinct mode each the next pipelined request on the connection; "
	       "(c) TCP to port %d, %d-byte payload.\n", BODY_SEG, req_seg_len, OTHER_PORT,
	       BODY_SEG);
	printf("- (d) h2c: a %u-byte request, HEADERS (the :path an index into the HPACK "
	       "table) and a DATA frame with the JSON body, each the next stream of one "
	       "connection; (e) h2c: a %d-byte segment of an upload in %d-byte DATA frames, a "
	       "frame header in one segment of about 12.\n", h2_seg_len, BODY_SEG, H2_DATA_FRAME);
	printf("- steady repeat: map writes persist across repetitions, so only the first of "
	       "the %d is new data; the rest are retransmissions to the datapath (sequence "
	       "range already seen), a cheaper path than new data. The kernel reports whole "
	       "ns per repetition.\n", STEADY_REPEAT);
	printf("- distinct packets: ns/pkt = sum of the kernel's per-run durations / N; the "
	       "minimal program runs right after the datapath on each same frame. A repeat=1 "
	       "run carries a fixed cost (a pair of clock reads, cold caches after the "
	       "syscall) in both columns alike: the minimal program's distinct figure less its "
	       "steady one is about that cost, which pulls distinct ratios towards 1; "
	       "\"added ns\" is free of it.\n");
	printf("- ratio = median penstock ns / median minimal ns over the runs; the range is "
	       "the lowest and highest per-run ratio.\n");
	printf("- **floor** rows (tools/bench_min.bpf.c), in the penstock column: the least "
	       "any program that keeps per-connection state in a BPF map can do: the "
	       "datapath's own ps_parse(), one lookup in an LRU hash of its flow key and "
	       "value, one per-CPU counter; for (b) also one look at each 8 bytes of the "
	       "header block for a line end, read straight from the packet (no copy). "
	       "**Line by line**: the header block's lines taken one at a time, each line's "
	       "end and colon found and nothing done with them; any parser that goes line by "
	       "line does more. The floors run on the same frames right after the datapath, "
	       "each followed by the minimal program again; after each run, what each floor "
	       "found (LF words, lines) is checked against the request, worked out in ps_bench "
	       "by the floor's own rule. Where a floor's ratio is over a target, no datapath "
	       "of that kind can meet it on this machine.\n");
}

/* What the command line chose for the per-packet tables. */
struct micro_opts {
	unsigned int npkts;	/* distinct packets per run */
	unsigned int xff_chain;	/* --xff-chain */
	int ident_only;		/* --ident-only */
	int ident_detail;	/* --ident-detail */
	int stages_only;	/* --stages-only */
	int egress_only;	/* --egress-only */
};

static int run_micro(const char *min_path, unsigned int runs, const struct micro_opts *o)
{
	static struct ps_config cfg;
	static struct bench b;
	unsigned int npkts = o->npkts;
	int err, cpu, ident_only = o->ident_only;
	unsigned int i;
	char how_d[128];

	b.npkts = npkts;
	b.xff_chain = o->xff_chain;
	b.ident_detail = o->ident_detail;
	b.ident_only = o->ident_only;
	err = micro_setup(&b, &cfg, min_path);
	if (err)
		goto cleanup;
	cpu = pin_cpu();
	if (cpu < 0) {
		err = cpu;
		goto cleanup;
	}
	err = micro_measure(&b, runs, ident_only, o->stages_only, o->egress_only);
	if (err) {
		pr_warn("ps_bench: measurement failed: %s\n",
			err == -EPROTO ? "unexpected verdict" : strerror(-err));
		goto cleanup;
	}
	if (ident_only) {
		print_ident_table(&b, runs, cpu);
		print_floor_table(runs, cpu);
		goto cleanup;
	}
	if (o->stages_only) {
		print_stage_table(runs, cpu);
		goto cleanup;
	}
	printf("### Per-packet cost: BPF_PROG_TEST_RUN, median of %u runs, CPU %d\n\n", runs, cpu);
	printf("| packet | measurement | penstock ns/pkt | minimal ns/pkt | added ns/pkt | ratio "
	       "| ratio range over runs | target |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---|\n");
	micro_rows(npkts);
	printf("\n");
	if (o->egress_only) {
		print_floor_table(runs, cpu);
		goto cleanup;
	}
	micro_notes();
	snprintf(how_d, sizeof(how_d), "distinct packets, off and on alternating (N=%u each, "
		 "repeat=1 each)", npkts);
	print_enf_table(&b, runs, cpu, how_d);
	print_ident_table(&b, runs, cpu);
	print_floor_table(runs, cpu);
	print_stage_table(runs, cpu);
cleanup:
	for (i = 1; i <= STAGES; i++)
		bpf_object__close(b.stage_obj[i]);
	bpf_object__close(b.min_obj);
	ps_dp_close(&b.dp);
	return err;
}

/* ---- request limit: admitted vs configured rate ---- */

#define GCRA_SECONDS	600ULL		/* virtual duration of each row */
#define GCRA_OVER	10		/* offered rate / configured rate */

static const uint64_t gcra_rpm[] = { 60, 600, 6000 };
static const uint64_t gcra_burst[] = { 1, 20 };

/*
 * One client on one keep-alive connection sends request starts (each a
 * whole small POST to an inference path in one segment, no answer needed)
 * GCRA_OVER times faster than its default-class limit, evenly spaced, for
 * GCRA_SECONDS on the program clock (replay: skb->tstamp). Every decision
 * is a dry run's, so what the limit admits is the inference requests
 * counted less those it would have throttled.
 */
/*
 * One row of the GCRA table: a fresh client offered GCRA_OVER times rpm
 * for GCRA_SECONDS. Adds the requests sent to *total.
 */
static int gcra_row(struct bench *b, struct ps_config *cfg, uint64_t rpm, uint64_t burst,
		    unsigned int id, uint64_t *total)
{
	uint64_t gap = 60000000000ULL / (rpm * GCRA_OVER);
	uint64_t n = GCRA_SECONDS * 1000000000ULL / gap, i, t0, admitted;
	uint64_t configured = rpm * GCRA_SECONDS / 60, wt;
	struct ps_client_ctr ctr;
	struct conn c;
	int ret, err;

	/* limits.default: {requests_per_minute: rpm, burst: burst} */
	ps_config_init(cfg);
	err = ps_config_add_port(cfg, BENCH_PORT);
	if (err)
		return err;
	cfg->limits_default.requests_per_minute = rpm;
	cfg->limits_default.burst = burst;
	err = apply_classes(b, cfg, 0);
	if (err < 0)
		return err;
	err = set_enforce_state(b, 0, 0);
	if (!err)
		err = conn_open(b, &c, id);
	if (err)
		return err;
	t0 = b->ts_ns + 1000000000ULL;
	for (i = 0; i < n; i++) {
		struct seg sg = conn_seg(&c, 1, F_ACK | F_PSH, req_seg, req_seg_len, t0 + i * gap);
		unsigned int len = build_frame(b->frame, &sg);

		err = ps_dp_test_run(b->dp.ingress_fd, b->frame, len, sg.ts_ns, &ret);
		if (err)
			return err;
		if (ret != TC_ACT_OK)
			return -EPROTO;
	}
	*total += n;
	b->ts_ns = t0 + n * gap;
	err = read_ctr(b, c.caddr, &ctr);
	if (err)
		return err;
	if (ctr.c.inference_requests != n || ctr.c.requests != n)
		pr_warn("ps_bench: warning: GCRA %llu rpm burst %llu: %llu requests, %llu "
			"inference requests counted of %llu sent: the row does not measure what "
			"it names\n", (unsigned long long)rpm, (unsigned long long)burst,
			(unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.inference_requests, (unsigned long long)n);
	wt = ctr.would_throttle + ctr.throttled_requests;
	admitted = ctr.c.inference_requests - wt;
	printf("| %llu | %llu | %llu | %llu | %llu | %llu | %.2f | %.4f | %.4f |\n",
	       (unsigned long long)rpm, (unsigned long long)burst,
	       (unsigned long long)rpm * GCRA_OVER, (unsigned long long)n, (unsigned long long)wt,
	       (unsigned long long)admitted, admitted / (GCRA_SECONDS / 60.0),
	       (double)admitted / configured, (double)(configured + burst - 1) / configured);
	return 0;
}

/* What the GCRA table's figures mean. */
static void gcra_notes(uint64_t total, uint64_t t_wall)
{
	printf("- each row: a fresh client, one keep-alive connection, a %d-byte `POST "
	       "/v1/chat/completions` (headers and JSON body in one segment) every 1/%d of the "
	       "emission interval, evenly spaced, for %llu s of program clock (replay mode: "
	       "the clock is the frame's timestamp); the limit is limits.default "
	       "{requests_per_minute, burst} as the daemon writes it into ps_classes.\n",
	       req_seg_len, GCRA_OVER, GCRA_SECONDS);
	printf("- admitted = inference requests counted - would_throttle; admitted rpm = "
	       "admitted / %llu min; achieved / configured = admitted / (rpm x %llu min). "
	       "GCRA ideal = (rpm x %llu min + burst - 1) / (rpm x %llu min): the limit lets "
	       "burst - 1 requests in at once beyond the rate, which adds (burst - 1) / "
	       "(rpm x duration).\n", GCRA_SECONDS / 60, GCRA_SECONDS / 60,
	       GCRA_SECONDS / 60, GCRA_SECONDS / 60);
	printf("- replay runs are dry runs: a request the limit would delay is counted in "
	       "would_throttle and let through, never sent again, so this measures the rate "
	       "of the limit's decisions (arrivals evenly spaced at %dx land on each "
	       "theoretical arrival time; random arrivals would leave the limit idle between "
	       "one and the next request, below the rate). The live achieved rate, with the "
	       "client's TCP sending dropped request segments again, is measured by "
	       "tests/e2e/test_enforce (120 rpm, within 10%%, over 60 s).\n", GCRA_OVER);
	printf("- %llu test runs in %.1f s of wall-clock time.\n", (unsigned long long)total,
	       t_wall / 1000.0);
}

static int run_gcra(void)
{
	static struct ps_config cfg;
	static struct bench b;
	struct ps_dp_opts dopts = { .replay = true };
	uint64_t total = 0, t_wall;
	unsigned int ri, bi, id = 1;
	struct timespec w0, w1;
	int err;

	ps_log_libbpf();
	req_seg_len = make_request(req_seg, sizeof(req_seg), "/v1/chat/completions", 1, 0x5eed,
				   NULL);
	if (req_seg_len < 0)
		return req_seg_len;
	b.ts_ns = 1700000000ULL * 1000000000ULL;
	ps_config_init(&cfg);
	err = ps_config_add_port(&cfg, BENCH_PORT);
	if (!err)
		err = ps_dp_open(&b.dp, &dopts);
	if (err)
		return err;
	err = ps_dp_configure(&b.dp, &cfg);
	if (err)
		goto out;
	printf("### Request limit (GCRA): admitted vs configured rate, %llu virtual seconds per "
	       "row, offered at %dx the limit\n\n", GCRA_SECONDS, GCRA_OVER);
	printf("| configured rpm | burst | offered rpm | requests sent | would throttle "
	       "| admitted | admitted rpm | achieved / configured | GCRA ideal |\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	clock_gettime(CLOCK_MONOTONIC, &w0);
	for (ri = 0; ri < sizeof(gcra_rpm) / sizeof(gcra_rpm[0]) && !err; ri++)
		for (bi = 0; bi < sizeof(gcra_burst) / sizeof(gcra_burst[0]) && !err; bi++)
			err = gcra_row(&b, &cfg, gcra_rpm[ri], gcra_burst[bi], id++, &total);
	if (err)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &w1);
	t_wall = (w1.tv_sec - w0.tv_sec) * 1000 + (w1.tv_nsec - w0.tv_nsec) / 1000000;
	printf("\n");
	gcra_notes(total, t_wall);
out:
	if (err)
		pr_warn("ps_bench: GCRA rate: %s\n",
			err == -EPROTO ? "unexpected verdict" : strerror(-err));
	ps_dp_close(&b.dp);
	return err;
}

/* ---- the realistic mix: captures through both programs ---- */

#define MIX_MAX		2		/* captures: HTTP/1.1's, HTTP/2's */
#define MIX_PKTS_MAX	2000000

struct mix_cap {
	const char *path;
	unsigned char **frame;
	uint32_t *len;
	uint64_t *ts;
	uint8_t *ingress;	/* to the endpoint port: ps_ingress, else ps_egress */
	unsigned int n, nin;
};

/* A capture's packets, each to its program by the endpoint port. 0 or -errno. */
static int mix_load(struct mix_cap *c, uint16_t port)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const unsigned char *d;
	unsigned int cap = 0;
	pcap_t *pd;
	int rc, err = 0;

	pd = pcap_open_offline_with_tstamp_precision(c->path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pd) {
		fprintf(stderr, "ps_bench: %s\n", errbuf);
		return -EINVAL;
	}
	if (pcap_datalink(pd) != DLT_EN10MB) {
		fprintf(stderr, "ps_bench: %s: not an Ethernet capture\n", c->path);
		pcap_close(pd);
		return -EINVAL;
	}
	while ((rc = pcap_next_ex(pd, &h, &d)) == 1) {
		unsigned int ihl;
		uint16_t dport;

		if (h->caplen != h->len || h->caplen > PS_TEST_RUN_MAX || h->caplen < 14 + 20 + 20 ||
		    d[12] != 0x08 || d[13] != 0x00 || d[23] != 6) {
			fprintf(stderr, "ps_bench: %s: packet %u is not a whole IPv4 TCP packet of "
				"at most %d bytes\n", c->path, c->n + 1, PS_TEST_RUN_MAX);
			err = -EINVAL;
			break;
		}
		if (c->n == cap) {
			cap = cap ? 2 * cap : 4096;
			if (cap > MIX_PKTS_MAX) {
				err = -E2BIG;
				break;
			}
			c->frame = realloc(c->frame, cap * sizeof(*c->frame));
			c->len = realloc(c->len, cap * sizeof(*c->len));
			c->ts = realloc(c->ts, cap * sizeof(*c->ts));
			c->ingress = realloc(c->ingress, cap);
			if (!c->frame || !c->len || !c->ts || !c->ingress) {
				err = -ENOMEM;
				break;
			}
		}
		ihl = (d[14] & 0xf) * 4;
		dport = (uint16_t)(d[14 + ihl + 2] << 8 | d[14 + ihl + 3]);
		c->frame[c->n] = malloc(h->caplen);
		if (!c->frame[c->n]) {
			err = -ENOMEM;
			break;
		}
		memcpy(c->frame[c->n], d, h->caplen);
		c->len[c->n] = h->caplen;
		c->ts[c->n] = (uint64_t)h->ts.tv_sec * 1000000000ULL + h->ts.tv_usec;
		c->ingress[c->n] = dport == port;
		c->nin += dport == port;
		c->n++;
	}
	pcap_close(pd);
	if (!err && !c->n) {
		fprintf(stderr, "ps_bench: %s: no packets\n", c->path);
		err = -EINVAL;
	}
	return err;
}

static void mix_free(struct mix_cap *c)
{
	unsigned int i;

	for (i = 0; i < c->n; i++)
		free(c->frame[i]);
	free(c->frame);
	free(c->len);
	free(c->ts);
	free(c->ingress);
}

/* One run of capture c through a fresh replay datapath: the kernel's ns in
 * each program; what the client counted. 0 or -errno. */
static int mix_run(const struct mix_cap *c, uint16_t port, uint64_t ns[2],
		   struct ps_client_ctr *ctr)
{
	static struct ps_config cfg;
	struct ps_dp_opts dopts = { .replay = true };
	struct ps_client_key k = { .addr.a[0] = htonl(0x7f000001), .family = PS_AF_INET };
	static struct bench b;
	uint32_t dur;
	unsigned int i;
	int err, ret;

	memset(&b.dp, 0, sizeof(b.dp));
	ps_config_init(&cfg);
	err = ps_config_add_port(&cfg, port);
	if (!err)
		err = ps_dp_open(&b.dp, &dopts);
	if (err)
		return err;
	err = ps_dp_configure(&b.dp, &cfg);
	ns[0] = ns[1] = 0;
	for (i = 0; i < c->n && !err; i++) {
		err = test_run(c->ingress[i] ? b.dp.ingress_fd : b.dp.egress_fd, c->frame[i],
			       c->len[i], c->ts[i], 1, &dur, &ret);
		ns[!c->ingress[i]] += dur;
	}
	if (!err)
		err = read_ctr_of(&b, &k, ctr);
	ps_dp_close(&b.dp);
	return err;
}

/*
 * The captures (HTTP/1.1's, then HTTP/2's) of the same nreq requests, run
 * after run, alternating which goes first: ns a request and a packet,
 * ingress and egress apart, and HTTP/2's ratio to HTTP/1.1's, medians and
 * ranges. The client's counters show both captures counted alike.
 */
static int run_mix(const char *const path[MIX_MAX], uint16_t port, unsigned long nreq,
		   unsigned long runs)
{
	static const char *const name[MIX_MAX] = { "HTTP/1.1 keep-alive", "HTTP/2 (h2c)" };
	static struct mix_cap c[MIX_MAX];
	static double req[MIX_MAX][MAX_RUNS], pkt[MIX_MAX][MAX_RUNS], in[MIX_MAX][MAX_RUNS],
		eg[MIX_MAX][MAX_RUNS], ratio[MAX_RUNS];
	struct ps_client_ctr ctr[MIX_MAX];
	double lo, hi;
	unsigned long r;
	uint64_t ns[2];
	int p, q, err = 0;

	ps_log_libbpf();
	for (p = 0; p < MIX_MAX && !err; p++) {
		c[p].path = path[p];
		err = mix_load(&c[p], port);
	}
	for (r = 0; r < runs && !err; r++)
		for (q = 0; q < MIX_MAX && !err; q++) {
			p = (int)(r & 1) ? MIX_MAX - 1 - q : q;
			err = mix_run(&c[p], port, ns, &ctr[p]);
			req[p][r] = (double)(ns[0] + ns[1]) / nreq;
			pkt[p][r] = (double)(ns[0] + ns[1]) / c[p].n;
			in[p][r] = (double)ns[0] / nreq;
			eg[p][r] = (double)ns[1] / nreq;
		}
	if (err) {
		pr_warn("ps_bench: the mix: %s\n", strerror(-err));
		goto out;
	}
	for (r = 0; r < runs; r++)
		ratio[r] = req[1][r] / req[0][r];
	printf("| capture | packets (client's / server's) | ns a request | ingress | egress "
	       "| ns a packet | inference requests, events, tx_tokens, rx_tokens counted |\n");
	printf("|---|---:|---:|---:|---:|---:|---|\n");
	for (p = 0; p < MIX_MAX; p++) {
		printf("| %s | %u (%u / %u) | %.0f | %.0f | %.0f | %.1f | %llu, %llu, %llu, "
		       "%llu |\n", name[p], c[p].n, c[p].nin, c[p].n - c[p].nin,
		       median(req[p], runs), median(in[p], runs), median(eg[p], runs),
		       median(pkt[p], runs), (unsigned long long)ctr[p].c.inference_requests,
		       (unsigned long long)ctr[p].tx_events, (unsigned long long)ctr[p].tx_tokens,
		       (unsigned long long)ctr[p].rx_tokens);
	}
	lo = hi = ratio[0];
	for (r = 1; r < runs; r++) {
		lo = ratio[r] < lo ? ratio[r] : lo;
		hi = ratio[r] > hi ? ratio[r] : hi;
	}
	printf("\nHTTP/2 / HTTP/1.1, a request: **%.2fx** (runs %.2f..%.2fx); ingress %.2fx, "
	       "egress %.2fx; a packet %.2fx.\n", median(ratio, runs), lo, hi,
	       median(in[1], runs) / median(in[0], runs), median(eg[1], runs) / median(eg[0], runs),
	       median(pkt[1], runs) / median(pkt[0], runs));
	if (ctr[0].c.inference_requests != nreq || ctr[1].c.inference_requests != nreq ||
	    ctr[0].tx_tokens != ctr[1].tx_tokens || ctr[0].tx_events != ctr[1].tx_events) {
		printf("\n**The two captures were not counted alike** (%lu requests sent each).\n",
		       nreq);
		err = -EPROTO;
	}
out:
	for (p = 0; p < MIX_MAX; p++)
		mix_free(&c[p]);
	return err;
}

/* ---- synthetic capture ---- */

#define GEN_SLOTS	64		/* connections open at once */
#define GEN_CLIENTS	256
#define GEN_QMAX	64
#define GEN_MSG_MAX	8192

struct gen_conn {
	struct conn c;
	uint64_t t;		/* when the next phase starts */
	uint32_t rtt;		/* ns */
	int left;		/* requests still to send on this connection */
	int phase;
	unsigned int qh, qn;	/* queued segments, sorted by time */
	struct seg q[GEN_QMAX];
	char req[GEN_MSG_MAX];
	char resp[GEN_MSG_MAX];
};

enum { GEN_OPEN, GEN_EXCHANGE, GEN_CLOSE, GEN_DONE, GEN_IDLE };

static uint16_t gen_port[GEN_CLIENTS];
static unsigned int gen_reqid;

static void gen_push(struct gen_conn *g, uint64_t ts, int c2s, uint8_t flags, const char *data,
		     unsigned int len)
{
	if (g->qn < GEN_QMAX)
		g->q[g->qn++] = conn_seg(&g->c, c2s, flags, data, len, ts);
}

/*
 * One message in MSS-sized segments, back to back at 1 Gbit/s; the peer
 * acknowledges every second segment and the last, half an RTT later.
 * Returns when the last segment leaves.
 */
static uint64_t gen_message(struct gen_conn *g, uint64_t t, int c2s, const char *msg, int len)
{
	int off, n, segs = 0;

	for (off = 0; off < len; off += n) {
		n = len - off < MSS ? len - off : MSS;
		gen_push(g, t, c2s, F_ACK | (off + n == len ? F_PSH : 0), msg + off, n);
		if (++segs % 2 == 0 || off + n == len)
			gen_push(g, t + g->rtt / 2, !c2s, F_ACK, NULL, 0);
		t += 12000;
	}
	return t;
}

static int cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

static void gen_new_conn(struct gen_conn *g, uint64_t t)
{
	unsigned int client = rnd_range(0, GEN_CLIENTS - 1);

	g->c.caddr = 0xc6120100 + (client / 250) * 256 + client % 250 + 1;
	if (gen_port[client] < 32768)
		gen_port[client] = rnd_range(32768, 60000);
	g->c.cport = ++gen_port[client];
	g->c.port = BENCH_PORT;
	g->c.cseq = (uint32_t)rnd();
	g->c.sseq = (uint32_t)rnd();
	g->t = t;
	g->rtt = rnd_range(100000, 2000000);
	g->left = rnd_range(4, 32);
	g->phase = GEN_OPEN;
	g->qh = g->qn = 0;
}

/* Queue the packets of the connection's next phase. */
static void gen_refill(struct gen_conn *g, int stopping)
{
	uint64_t t = g->t;
	int len, body;
	const char *path;

	g->qh = g->qn = 0;
	switch (g->phase) {
	case GEN_OPEN:
		gen_push(g, t, 1, F_SYN, NULL, 0);
		gen_push(g, t + g->rtt / 2, 0, F_SYN | F_ACK, NULL, 0);
		gen_push(g, t + g->rtt, 1, F_ACK, NULL, 0);
		g->t = t + g->rtt + rnd_range(50000, 500000);
		g->phase = GEN_EXCHANGE;
		break;
	case GEN_EXCHANGE:
		if (stopping || g->left-- <= 0) {
			g->phase = GEN_CLOSE;
			gen_refill(g, stopping);
			return;
		}
		switch (rnd_range(0, 19)) {
		case 0:
			path = "/v1/models";
			body = 0;
			break;
		case 1:
		case 2:
			path = "/v1/embeddings";
			body = rnd_range(200, 2000);
			break;
		case 3:
			path = "/v1/completions";
			body = rnd_range(300, 3000);
			break;
		default:
			/* prompts: mostly short, a few long conversations */
			path = "/v1/chat/completions";
			body = 300 + (int)(rnd_range(0, 5700) * (uint64_t)rnd_range(0, 1000) / 1000);
			break;
		}
		len = make_request(g->req, sizeof(g->req), path, body, ++gen_reqid, NULL);
		if (len < 0)
			len = 0;
		t = gen_message(g, t, 1, g->req, len);
		/* inference time, then the answer */
		t += g->rtt / 2 + rnd_range(20000000, 400000000);
		len = make_response(g->resp, sizeof(g->resp), rnd_range(1000, 6000), gen_reqid);
		if (len < 0)
			len = 0;
		t = gen_message(g, t, 0, g->resp, len);
		g->t = t + g->rtt + rnd_range(5000000, 200000000);
		break;
	case GEN_CLOSE:
		gen_push(g, t, 1, F_FIN | F_ACK, NULL, 0);
		gen_push(g, t + g->rtt / 2, 0, F_FIN | F_ACK, NULL, 0);
		gen_push(g, t + g->rtt, 1, F_ACK, NULL, 0);
		g->t = t + g->rtt + rnd_range(1000000, 50000000);
		g->phase = GEN_DONE;
		break;
	}
	qsort(g->q, g->qn, sizeof(g->q[0]), cmp_seg);
}

/*
 * Write about npkts packets of HTTP/1.1 inference traffic to port 8000:
 * GEN_CLIENTS clients, GEN_SLOTS keep-alive connections at a time, each
 * carrying several POSTs with JSON bodies and JSON answers of a few KB.
 * Once npkts are written no request starts; open connections finish
 * their exchange and close.
 */
static int write_pcap(const char *path, unsigned long npkts)
{
	static struct gen_conn conns[GEN_SLOTS];
	static unsigned char frame[FRAME_MAX];
	unsigned long written = 0;
	pcap_dumper_t *d = NULL;
	pcap_t *pd;
	int i, err = 0;

	pd = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
	if (!pd)
		return -ENOMEM;
	d = pcap_dump_open(pd, path);
	if (!d) {
		pr_warn("ps_bench: %s\n", pcap_geterr(pd));
		pcap_close(pd);
		return -EIO;
	}
	for (i = 0; i < GEN_SLOTS; i++)
		gen_new_conn(&conns[i], 1700000000ULL * 1000000000ULL + i * 3000000ULL);

	for (;;) {
		struct gen_conn *best = NULL;
		struct pcap_pkthdr h = {};
		const struct seg *p;
		int stopping = written >= npkts;

		for (i = 0; i < GEN_SLOTS; i++) {
			struct gen_conn *g = &conns[i];

			if (g->qh == g->qn) {
				if (g->phase == GEN_DONE && !stopping)
					gen_new_conn(g, g->t);
				if (g->phase == GEN_DONE || g->phase == GEN_IDLE) {
					g->phase = GEN_IDLE;
					continue;
				}
				gen_refill(g, stopping);
			}
			if (g->qh < g->qn &&
			    (!best || g->q[g->qh].ts_ns < best->q[best->qh].ts_ns))
				best = g;
		}
		if (!best)
			break;
		p = &best->q[best->qh++];
		h.caplen = h.len = build_frame(frame, p);
		h.ts.tv_sec = p->ts_ns / 1000000000ULL;
		h.ts.tv_usec = p->ts_ns % 1000000000ULL;	/* nanoseconds in a nano pcap */
		pcap_dump((unsigned char *)d, &h, frame);
		written++;
	}
	if (pcap_dump_flush(d)) {
		pr_warn("ps_bench: %s: write failed\n", path);
		err = -EIO;
	}
	pcap_dump_close(d);
	pcap_close(pd);
	if (!err)
		printf("wrote %lu packets to %s\n", written, path);
	return err;
}

static const char usage_text[] =
	"usage: ps_bench [--min OBJ] [--runs N] [--packets N] [--xff-chain N] [--ident-only]\n"
	"                [--ident-detail] [--stages-only] [--egress-only]\n"
	"       ps_bench --gcra\n"
	"       ps_bench --write-pcap FILE [--packets N]\n"
	"       ps_bench --mix H1.pcap --mix H2.pcap --mix-port PORT --mix-requests N\n"
	"                [--runs N]\n"
	"\n"
	"Measure penstock's per-packet cost with BPF_PROG_TEST_RUN beside a minimal\n"
	"counting program (root), or write a capture of synthetic HTTP/1.1 inference\n"
	"traffic on port 8000 for the replay benchmark. Prints Markdown.\n"
	"\n"
	"  -m, --min OBJ         the minimal program and floors (default: bench_min.bpf.o\n"
	"                        next to this binary; bench_stage.bpf.o is taken from the\n"
	"                        same directory)\n"
	"  -r, --runs N          runs per measurement, median reported (default 5)\n"
	"  -n, --packets N       distinct packets per run (default 100000, at most\n"
	"                        1000000), or packets to write (default 200000)\n"
	"  -x, --xff-chain N     entries in the X-Forwarded-For chains of the client\n"
	"                        identity rows, 1..32 (default 4)\n"
	"  -i, --ident-only      measure only the client identity rows (PROXY header,\n"
	"                        X-Forwarded-For, API keys)\n"
	"  -d, --ident-detail    the client identity rows' breakdown too: rows that each\n"
	"                        leave out or change one thing\n"
	"  -s, --stages-only     measure only where a request start's time goes: the\n"
	"                        ingress path stopped after each stage\n"
	"  -e, --egress-only     measure only the egress rows (server segments)\n"
	"  -g, --gcra            report the rate a request limit admits, against the\n"
	"                        configured one, on a virtual clock (root), and exit\n"
	"  -w, --write-pcap FILE write the capture and exit\n"
	"  -X, --mix PCAP        twice: the same requests over HTTP/1.1, then over HTTP/2,\n"
	"                        captured (Ethernet, IPv4, client 127.0.0.1); both through\n"
	"                        ps_ingress and ps_egress, ns a request and a packet\n"
	"  -P, --mix-port PORT   the captures' endpoint port\n"
	"  -R, --mix-requests N  the requests each capture holds\n"
	"  -h, --help            this text\n"
	"\n"
	"examples:\n"
	"  ps_bench --runs 7\n"
	"  ps_bench --ident-only --ident-detail --xff-chain 16\n"
	"  ps_bench --stages-only --runs 7\n"
	"  ps_bench --gcra\n"
	"  ps_bench --write-pcap /tmp/cap.pcap --packets 200000\n";

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || *end || end == s || !*out || *out > max)
		return -EINVAL;
	return 0;
}

/* The identity table's options: 0 taken, 2 a bad value, -1 not one of them. */
static int ident_opt(int opt, const char *arg, struct micro_opts *mo)
{
	unsigned long chain;

	switch (opt) {
	case 'x':
		if (parse_count(arg, ID_CHAIN_MAX, &chain)) {
			fprintf(stderr, "ps_bench: --xff-chain: expected 1..%d\n", ID_CHAIN_MAX);
			return 2;
		}
		mo->xff_chain = chain;
		return 0;
	case 'i':
		mo->ident_only = 1;
		return 0;
	case 'd':
		mo->ident_detail = 1;
		return 0;
	case 's':
		mo->stages_only = 1;
		return 0;
	case 'e':
		mo->egress_only = 1;
		return 0;
	}
	return -1;
}

/* bench_min.bpf.o next to this binary, into buf; NULL if not found. */
static const char *default_min(char *buf, size_t len)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0) {
		fprintf(stderr, "ps_bench: cannot find myself: %s\n", strerror(errno));
		return NULL;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(buf, len, "%s/bench_min.bpf.o", self);
	return buf;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "min", required_argument, NULL, 'm' },
		{ "runs", required_argument, NULL, 'r' },
		{ "packets", required_argument, NULL, 'n' },
		{ "write-pcap", required_argument, NULL, 'w' },
		{ "gcra", no_argument, NULL, 'g' },
		{ "xff-chain", required_argument, NULL, 'x' },
		{ "ident-only", no_argument, NULL, 'i' },
		{ "ident-detail", no_argument, NULL, 'd' },
		{ "stages-only", no_argument, NULL, 's' },
		{ "egress-only", no_argument, NULL, 'e' },
		{ "mix", required_argument, NULL, 'X' },
		{ "mix-port", required_argument, NULL, 'P' },
		{ "mix-requests", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct micro_opts mo = { .xff_chain = 4 };
	unsigned long runs = 5, npkts = 0, mix_port = 0, mix_req = 0;
	const char *min_path = NULL, *pcap_path = NULL, *mix[MIX_MAX] = { NULL };
	int nmix = 0;
	char minbuf[PATH_MAX + 32];
	int opt, err, gcra = 0;

	while ((opt = getopt_long(argc, argv, "m:r:n:w:x:X:P:R:idsegh", longopts, NULL)) != -1) {
		err = ident_opt(opt, optarg, &mo);
		if (err >= 0) {
			if (err)
				return err;
			continue;
		}
		switch (opt) {
		case 'm':
			min_path = optarg;
			break;
		case 'r':
			if (parse_count(optarg, MAX_RUNS, &runs)) {
				fprintf(stderr, "ps_bench: --runs: expected 1..%d\n", MAX_RUNS);
				return 2;
			}
			break;
		case 'n':
			if (parse_count(optarg, MAX_PACKETS * 100UL, &npkts)) {
				fprintf(stderr, "ps_bench: --packets: expected 1..%lu\n",
					MAX_PACKETS * 100UL);
				return 2;
			}
			break;
		case 'w':
			pcap_path = optarg;
			break;
		case 'g':
			gcra = 1;
			break;
		case 'X':
			if (nmix == MIX_MAX) {
				fprintf(stderr, "ps_bench: --mix: two captures\n");
				return 2;
			}
			mix[nmix++] = optarg;
			break;
		case 'P':
			if (parse_count(optarg, 65535, &mix_port)) {
				fprintf(stderr, "ps_bench: --mix-port: expected 1..65535\n");
				return 2;
			}
			break;
		case 'R':
			if (parse_count(optarg, MIX_PKTS_MAX, &mix_req)) {
				fprintf(stderr, "ps_bench: --mix-requests: expected 1..%d\n",
					MIX_PKTS_MAX);
				return 2;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (pcap_path)
		return write_pcap(pcap_path, npkts ? npkts : 200000) ? 1 : 0;
	if (gcra)
		return run_gcra() ? 1 : 0;
	if (nmix) {
		if (nmix != MIX_MAX || !mix_port || !mix_req) {
			fprintf(stderr, "ps_bench: --mix twice, --mix-port and --mix-requests\n");
			return 2;
		}
		return run_mix(mix, (uint16_t)mix_port, mix_req, runs) ? 1 : 0;
	}

	if (!min_path && !(min_path = default_min(minbuf, sizeof(minbuf))))
		return 1;
	if (npkts > MAX_PACKETS) {
		fprintf(stderr, "ps_bench: --packets: at most %d distinct packets per run\n",
			MAX_PACKETS);
		return 2;
	}
	mo.npkts = npkts ? npkts : 100000;
	err = run_micro(min_path, runs, &mo);
	return err ? 1 : 0;
}
