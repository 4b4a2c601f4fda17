/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel/user ABI of penstock: map keys and values, limits, pinned
 * names. Included by the BPF programs and by user space alike, so it uses
 * fixed-width __u8..__u64 types only, with explicit padding. Numbers and
 * field order are append-only: a field or a code, once shipped, keeps its
 * place, because pinned maps outlive the programs that created them.
 */
#ifndef PENSTOCK_ABI_H
#define PENSTOCK_ABI_H

#include <linux/types.h>

#define PS_PIN_DIR		"/sys/fs/bpf/penstock"

/*
 * The ABI's version, raised when a map's meaning changes in a way its
 * layout does not show (a field's unit, a code's sense). The programs
 * carry it in their .rodata (ps_abi_version); a penstockd takes over the
 * maps of a running datapath only if its version is this one and every
 * map's key and value, compared member by member through BTF, have the
 * layout this build has.
 */
#define PS_ABI_VERSION		1

/*
 * A replay's piece of a captured packet longer than BPF_PROG_TEST_RUN
 * takes (a page less the skb's head- and tailroom): penstock replay runs
 * such a TCP packet as pieces of its payload, each with the packet's
 * headers, and marks each in skb->cb: cb[0] this value, cb[1] the wire
 * packets and cb[2] the IP bytes it stands for (the packet's on its first
 * piece, none on the others). Read in replay mode only.
 */
#define PS_REPLAY_PIECE		0x70696563	/* "piec" */
/* The largest frame BPF_PROG_TEST_RUN takes on this kernel's 4 KB pages. */
#define PS_TEST_RUN_MAX		3584

/* Map capacities. */
#define PS_MAX_ENDPOINTS	16	/* configured endpoint slots */
#define PS_MAX_PATHS		8	/* inference path prefixes per endpoint */
#define PS_PATH_MAX		64	/* bytes of one path prefix */
#define PS_MAX_CLIENTS		(1 << 20)
/* (API key, address) pairs kept in ps_key_addrs by default. */
#define PS_KEY_ADDRS_DEF	(1 << 16)
#define PS_MAX_FLOWS		(1 << 18)
#define PS_MAX_OOO_SEGS		(1 << 14)
/* HTTP/2 connections whose HPACK table is followed at once (least recently used forgotten). */
#define PS_MAX_H2_CONNS		(1 << 14)
/* Key ids and forwarded walks of HTTP/2 dynamic table entries kept (ps_h2_kept). */
#define PS_MAX_H2_KEPT		(1 << 14)
#define PS_MAX_H2_LATE		(1 << 16)	/* ps_h2_late: streams out of the window */
#define PS_MAX_RQ_LATE		(1 << 16)	/* ps_rq_late: HTTP/1 subjects past the ring */

/*
 * Bytes of one piece of an out-of-order client segment, kept until the
 * hole before it is filled. A longer segment is kept as several pieces.
 */
#define PS_OOO_SEG_MAX		2048
/*
 * Pieces one flow may hold at a time. A segment beyond a hole that does
 * not fit (or that the stash cannot take) is dropped on a live interface,
 * so that no byte reaches the server unread: the client's TCP sends it
 * again once the hole is filled. In replay it is kept in part, and the
 * bytes not kept end request parsing on the connection.
 */
#define PS_OOO_FLOW_PIECES	64

/* Bytes of the start of a request or header line carried across segments. */
#define PS_LINE_CARRY		128

#define PS_AF_INET		4
#define PS_AF_INET6		6
/*
 * A client that is an API key: its id, SipHash-2-4 of the key under the
 * daemon's secret (ps_key_secret), in addr.a[0] (low 32 bits) and a[1]
 * (high), host order, the rest zero. Printed "key:" and 16 hex digits.
 */
#define PS_AF_KEY		75

/*
 * An address in network byte order: IPv4 in a[0], the rest zero, with the
 * family beside it in every key that holds one, so an IPv6 peer with a
 * v4-mapped address is a client of its own.
 */
struct ps_addr {
	__u32 a[4];
};

/* Key of ps_clients: the peer of an endpoint port. */
struct ps_client_key {
	struct ps_addr addr;
	__u8 family;		/* PS_AF_INET or PS_AF_INET6 */
	__u8 pad[3];
};

/*
 * A client's counters since its slot was assigned. rx is client to
 * server, tx server to client. Definitions:
 *   connections         client SYNs seen, a retransmitted SYN once
 *   requests            HTTP/1.x requests (framing followed as tshark does)
 *   inference_requests  requests whose path starts with an endpoint path
 *   *_packets           wire packets (GSO segments counted one by one)
 *   *_bytes             IP octets: IPv4 total length, IPv6 payload + 40
 *   *_payload           unique TCP payload bytes (union of sequence ranges)
 */
struct ps_counters {
	__u64 connections;
	__u64 requests;
	__u64 inference_requests;
	__u64 rx_packets;
	__u64 tx_packets;
	__u64 rx_bytes;
	__u64 tx_bytes;
	__u64 rx_payload;
	__u64 tx_payload;
	__u64 first_seen_ns;	/* program clock when the slot was assigned */
	__u64 last_seen_ns;	/* program clock of the client's last packet */
};

/*
 * Clients live in slots of ps_client_ctrs, an mmap-able array that the
 * daemon reads without a system call per client; ps_clients maps a
 * client to its slot. The programs take a new client's slot from
 * ps_slot_free (slots the daemon has reclaimed), else the next never used
 * one (ps_slot_state.next), and publish it by setting key.family last.
 * Counters are shared by all CPUs: the programs add to them atomically.
 */
struct ps_client_slot {
	__u32 slot;
	__u32 gen;		/* ps_client_ctr.gen of this assignment */
};

struct ps_client_ctr {
	struct ps_counters c;
	struct ps_client_key key;	/* key.family 0: the slot is free */
	__u32 gen;		/* assignments of this slot so far */
	__u64 gcra_tat;		/* request limit: theoretical arrival time (program clock) */
	__u64 throttled_requests;	/* inference requests delayed (their first segment dropped) */
	__u64 would_throttle;	/* ... that a dry run let through */
	__u64 blocked_packets;	/* packets dropped by a block */
	__u64 would_block;	/* ... that a dry run let through */
	__u8 retired;		/* unlinked by the daemon: flows must not use it */
	__u8 pad[3];
	__u32 open_connections;	/* connections open now (counted flows not yet closed) */
	__u64 refused_connections;	/* SYNs dropped over max_connections */
	__u64 would_refuse;	/* ... that a dry run let through */
	__u64 dropped_fragments;	/* first IP fragments to an endpoint port dropped */
	__u64 would_drop_fragments;	/* ... that replay let through */
	__u64 tx_events;	/* server-sent events (data: lines) in text/event-stream
				 * responses to inference requests */
	__u64 tx_tokens;	/* "completion_tokens" the responses to inference
				 * requests reported (JSON bodies, a stream's usage) */
	__u64 rx_tokens;	/* ... and their "prompt_tokens" */
	__u64 tx_tokens_estimated;	/* a stream's events (not [DONE]) where it
					 * reported no completion_tokens */
	/* Token limits (GCRA on tokens, bpf/lib/tokens.h): each limit's
	 * theoretical arrival time, program clock, moved on by the tokens
	 * counted (tx_tokens + rx_tokens) times the class's emission. */
	__u64 tpm_tat;		/* tokens_per_minute */
	__u64 tpd_tat;		/* tokens_per_day */
	__u64 token_held;	/* inference requests held back by a token limit (counted
				 * in throttled_requests too) */
	__u64 token_would_throttle;	/* ... that a dry run let through (counted in
					 * would_throttle too) */
	/* gRPC messages (their 5-byte length prefixes) in the DATA of gRPC
	 * inference calls (http2.h, h2resp.h): */
	__u64 rx_messages;	/* ... the client sent */
	__u64 tx_messages;	/* ... the server sent */
};

/*
 * Value of ps_ep_ctrs, a per-CPU array indexed by endpoint slot: an
 * endpoint's totals, added where the client's counters are added (same
 * definitions as struct ps_counters), so that an endpoint's figure is the
 * sum of what its connections added to their clients' ones. A client
 * counts to the endpoint whose port its connection is on. Nothing is
 * added where a client has no slot (the client table full). Summed over
 * CPUs by readers.
 */
struct ps_ep_ctr {
	__u64 connections;
	__u64 requests;
	__u64 inference_requests;
	__u64 rx_packets;
	__u64 tx_packets;
	__u64 rx_bytes;
	__u64 tx_bytes;
	__u64 throttled_requests;	/* as ps_client_ctr.throttled_requests */
};

/* Enforcement classes: per-client limits the programs apply. */
#define PS_MAX_CLASSES		64
#define PS_CLASS_DEFAULT	0	/* clients in no class */

/* Value of ps_classes, indexed by class id. */
struct ps_class {
	__u64 emission_ns;	/* request limit (GCRA): ns per inference request; 0: none */
	__u64 tolerance_ns;	/* burst tolerance: emission_ns x (burst - 1) */
	__u32 max_connections;	/* concurrent connections per client; 0: no limit */
	__u8 dry_run;		/* decide and count, touch no packet */
	__u8 pad[3];
	/* Token limits: GCRA on the tokens a client's answers report
	 * (prompt + completion), judged at each inference request's start.
	 * Emission is ns per token in 1/65536 ns (PS_TOK_FRAC_BITS); 0: none. */
	__u64 tpm_emission;	/* tokens_per_minute: 60 s / the limit */
	__u64 tpm_tolerance_ns;	/* token_burst x its emission */
	__u64 tpd_emission;	/* tokens_per_day: 86400 s / the limit */
	__u64 tpd_tolerance_ns;	/* a day: the day's budget at once */
	__u32 tok_reserve;	/* token_reserve: tokens each inference request is
				 * charged as it starts, the first of its answer's
				 * (tokens.h); 0: none */
	__u32 pad2;
};

/* Fraction bits of ps_class.tpm_emission and tpd_emission. */
#define PS_TOK_FRAC_BITS	16

/*
 * Key of the LPM tries ps_class_of and ps_enforce. prefixlen counts the
 * family byte too: 8 + the address prefix length.
 */
struct ps_lpm_key {
	__u32 prefixlen;
	__u8 family;		/* PS_AF_INET or PS_AF_INET6 */
	__u8 addr[16];		/* network byte order */
	__u8 pad[3];
};

/* Value of ps_class_of: the class of the clients under a prefix. */
struct ps_class_ref {
	__u32 class_id;
};

enum ps_action {
	PS_ACT_NONE = 0,
	PS_ACT_BLOCK,		/* drop every packet from or to the subject */
	PS_ACT_THROTTLE,	/* a request limit of its own (emission_ns, tolerance_ns) */
	PS_ACT_SHAPE,		/* egress rate (rate_bps) */
};

enum ps_origin {
	PS_ORIGIN_MANUAL = 1,	/* penstock block / throttle */
	PS_ORIGIN_DAY_LIMIT,	/* requests_per_day, egress_bytes_per_day */
	PS_ORIGIN_DETECTOR,	/* bulk-extraction detection */
	PS_ORIGIN_MINUTE_LIMIT,	/* egress_bytes_per_minute */
};

/* Value of ps_enforce: an action on a client or a prefix. */
struct ps_enforcement {
	__u64 since_ns;		/* Unix time it began, ns (for people) */
	__u64 until_ns;		/* program clock it ends; 0: until removed */
	__u64 emission_ns;	/* PS_ACT_THROTTLE */
	__u64 tolerance_ns;
	__u64 rate_bps;		/* PS_ACT_SHAPE: bits per second */
	__u8 action;		/* enum ps_action */
	__u8 origin;		/* enum ps_origin */
	__u8 dry_run;
	__u8 pad0;
	__u16 shape_class;	/* PS_ACT_SHAPE: minor of the HTB class PS_SHAPE_MAJOR:
				 * shape_class the daemon made for the entry; 0: none
				 * yet (the packets stay unshaped) */
	__u8 pad[2];
	char reason[64];	/* NUL-terminated */
};

/*
 * Egress shaping: penstockd puts an HTB qdisc with this handle at the root
 * of every configured interface that shapes, one class PS_SHAPE_MAJOR:N
 * (N >= PS_SHAPE_FIRST) per shape entry, and the egress program sets
 * skb->priority to that class for the entry's packets. Minor
 * PS_SHAPE_DEFAULT is the class of all other traffic (unlimited).
 */
#define PS_SHAPE_MAJOR		0x5053	/* "PS" */
#define PS_SHAPE_DEFAULT	1
#define PS_SHAPE_FIRST		2

/* Value of ps_enforce_state[0]: lets the programs skip empty tries. */
struct ps_enforce_state {
	__u32 entries;		/* entries in ps_enforce */
	__u32 classes;		/* entries in ps_class_of */
};

struct ps_slot_state {
	__u32 next;		/* slots [0, next) have been handed out */
	__u32 pad;
};

/* Value of ps_ports, indexed by TCP port: endpoint slot + 1, 0 for none. */
struct ps_port {
	__u32 endpoint;
};

/* Value of ps_endpoints, indexed by endpoint slot. */
struct ps_endpoint {
	__u16 port;
	__u8 npaths;
	__u8 flags;		/* PS_EP_* */
	__u8 pad[4];
	__u8 path_len[PS_MAX_PATHS];
	char paths[PS_MAX_PATHS][PS_PATH_MAX];
	/* Each path as HPACK's Huffman code writes it (RFC 7541 5.2), for an
	 * HTTP/2 :path sent Huffman-coded: its first hpath_bits bits (0: the
	 * code is longer than PS_PATH_MAX bytes, compared on those only). */
	__u16 hpath_bits[PS_MAX_PATHS];
	__u8 hpaths[PS_MAX_PATHS][PS_PATH_MAX];
};

/* ps_endpoint.flags */
#define PS_EP_PROXY_PROTOCOL	0x01	/* a PROXY header (v1 or v2) starts each connection */
#define PS_EP_XFF		0x02	/* a request's client from its X-Forwarded-For ... */
#define PS_EP_FORWARDED		0x04	/* ... or Forwarded for= (RFC 7239), on a connection
					 * from a trusted proxy (ps_trusted) */
#define PS_EP_API_KEY		0x08	/* a request with an API key is its key's */

/*
 * Value of ps_trusted, an LPM trie of the peers whose PROXY headers and
 * forwarded headers are believed: bit i set for endpoint slot i.
 */
struct ps_trusted {
	__u32 endpoints;
};

/*
 * Who a connection's client is. The peer, unless a trusted proxy's PROXY
 * header declared another source: addr and family then. Until the header
 * is read, the connection's packets and bytes wait here (pend_*) and go
 * to whoever it names.
 */
enum ps_proxy_state {
	PS_PROXY_NONE = 0,	/* no header expected: the peer is the client */
	PS_PROXY_WAIT,		/* a header is expected at the stream's start */
	PS_PROXY_DONE,		/* read (or found missing): hdr_end says where it ended */
};

struct ps_who {
	struct ps_addr addr;	/* the declared source */
	__u8 family;		/* PS_AF_*, 0: the peer is the client */
	__u8 proxy;		/* enum ps_proxy_state */
	__u8 open;		/* the connection was opened while waiting */
	__u8 held;		/* it waits for room under its client's max_connections */
	__u32 hdr_end;		/* sequence number after the header (PS_PROXY_DONE) */
	__u32 pend_rx_packets;
	__u32 pend_tx_packets;
	__u64 pend_rx_bytes;
	__u64 pend_tx_bytes;
	__u64 pend_rx_payload;
	__u64 pend_tx_payload;
};

/*
 * The walk of one request's X-Forwarded-For or Forwarded lines, left to
 * right, for the right-most entry that is not a trusted proxy (the ones
 * on its left are the client's to forge): subj is the last such address
 * so far, left the first address; an entry that is no address makes the
 * walk end on the connection's client unless an address not trusted
 * comes after it (PS_FWD_BAD).
 */
struct ps_fwd {
	struct ps_addr subj;
	struct ps_addr left;
	__u8 subj_family;
	__u8 left_family;
	__u8 kind;		/* PS_FWD_* */
	__u8 flags;		/* PS_FWDF_* */
	__u32 pad;
};

#define PS_FWD_NONE		0	/* no entry yet that is not a trusted proxy */
#define PS_FWD_ADDR		1	/* subj */
#define PS_FWD_BAD		2	/* an entry that is no address */

#define PS_FWDF_XFF		0x01	/* an X-Forwarded-For line was read */
#define PS_FWDF_FWD		0x02	/* a Forwarded line was read */
#define PS_FWDF_CONT		0x04	/* the line being read is one of them, its entries
					 * read up to the carry, which holds the unfinished one */
#define PS_FWDF_CONT_FWD	0x08	/* ... a Forwarded line */
#define PS_FWDF_SKIP		0x10	/* ... whose unfinished entry was too long to carry */
#define PS_FWDF_UNTRUSTED	0x20	/* such a line from a peer that is not trusted */
#define PS_FWDF_SETTLED		0x40	/* the header block ended: subj (kind ADDR) is the
					 * request's client */
#define PS_FWDF_H2IDX		0x80	/* HTTP/2: a forwarded field the block named by the
					 * dynamic table (its value is not kept) */

/*
 * The API key of one request (Authorization: Bearer, x-api-key, api-key),
 * hashed with SipHash-2-4 as its bytes come, so that no byte of it is
 * kept: the hash's state, its bytes not yet in a word (m), and the id of
 * the best key the request has sent so far.
 */
struct ps_keyh {
	__u64 v[4];		/* SipHash state of the key being read */
	__u64 m;		/* its last bytes, not yet a whole word */
	__u64 id;		/* the request's key id (kind says from which header) */
	__u32 len;		/* bytes of the key being read so far */
	__u8 kind;		/* PS_KEY_*: where id came from, 0: no key */
	__u8 cur;		/* PS_KEY_*: the line being read */
	__u8 flags;		/* PS_KEYF_* */
	__u8 fold;		/* PS_KEY_*: the key line an obs-fold line goes on (PS_KEYF_FOLD) */
};

/* Where a key came from; a higher one wins when a request sends several. */
#define PS_KEY_NONE		0
#define PS_KEY_API_KEY		1	/* api-key: (Azure OpenAI) */
#define PS_KEY_X_API_KEY	2	/* x-api-key: (Anthropic, gateways) */
#define PS_KEY_BEARER		3	/* Authorization: Bearer (OpenAI) */

#define PS_KEYF_CONT		0x01	/* the line being read is a key line that goes on in
					 * the next chunk, its key hashed so far */
#define PS_KEYF_ENDED		0x02	/* ... whose key has ended: the rest is not read */
#define PS_KEYF_FOLD		0x04	/* the last header line was a key line of blanks only:
					 * an obs-fold line after it goes on with its value */
#define PS_KEYF_FOLD_KEY	0x08	/* ... or Authorization's "Bearer" and blanks: the key
					 * comes on the obs-fold line */

/* Value of ps_key_secret[0]: the SipHash key, written by penstockd. */
struct ps_key_secret {
	__u64 k0;
	__u64 k1;
};

/*
 * Key of ps_key_addrs: an API key and an address it came from (the
 * request's forwarded client, else the connection's).
 */
struct ps_key_addr_key {
	__u64 id;		/* the key's id */
	struct ps_addr addr;	/* the address, as in ps_client_key */
	__u8 family;		/* PS_AF_INET or PS_AF_INET6 */
	__u8 pad[7];
};

/* Value of ps_key_addrs: what the key did from the address. */
struct ps_key_addr_val {
	__u64 requests;
	__u64 inference_requests;
	__u64 first_ns;		/* the programs' clock, first request */
	__u64 last_ns;		/* ... and the last */
};

/* Key of ps_flows: one TCP connection, oriented client to server. */
struct ps_flow_key {
	struct ps_addr client;
	struct ps_addr server;
	__u16 cport;		/* network byte order */
	__u16 sport;		/* network byte order */
	__u8 family;
	__u8 pad[3];
};

/* Direction index inside a flow. */
#define PS_DIR_RX		0	/* client to server */
#define PS_DIR_TX		1	/* server to client */

/* Out-of-order byte ranges remembered per direction for payload union. */
#define PS_OOO_RANGES		4

struct ps_range {
	__u32 start;
	__u32 end;
};

/* Sequence state of one direction of a flow. */
struct ps_seq {
	__u32 isn;		/* first data byte is isn + 1 when syn_seen */
	__u32 next;		/* end of the contiguous data accounted for */
	__u8 valid;		/* next is meaningful */
	__u8 syn_seen;
	__u8 fin_seen;
	__u8 nranges;
	__u8 open;		/* dir[PS_DIR_RX] only: the flow counts in its client's
				 * open_connections until it closes */
	__u8 pieces;		/* dir[PS_DIR_RX] only: ps_ooo entries held for ranges */
	__u8 pad[2];
	struct ps_range ranges[PS_OOO_RANGES];	/* sorted, disjoint, beyond next */
};

/* HTTP/1 request parser states (client to server direction). */
enum ps_http_state {
	PS_H1_START = 0,	/* at a message boundary */
	PS_H1_REQLINE,		/* inside the first line of a message */
	PS_H1_HEADERS,		/* at the start of a header line */
	PS_H1_HDRLINE,		/* inside a header line */
	PS_H1_BODY,		/* skipping body_left bytes of a body */
	PS_H1_CHUNK_SIZE,	/* inside a chunk-size line */
	PS_H1_CHUNK_DATA,	/* skipping body_left bytes of chunk data */
	PS_H1_CHUNK_CRLF,	/* the line end after chunk data */
	PS_H1_TRAILERS,		/* trailer lines after the last chunk */
	PS_H1_SKIP_SEGMENT,	/* not HTTP here: skip to the end of this segment */
	PS_H1_DEAD,		/* stream lost (gap): no parsing until the flow ends */
	PS_H1_REFILL,		/* bytes the capture cut off: waiting for them to be
				 * sent again from refill_seq */
	/* HTTP/2 (bpf/lib/http2.h): clen holds the highest client stream id */
	PS_H2_PREFACE,		/* skipping body_left bytes of the connection preface */
	PS_H2_FRAME,		/* at a frame header (its first carry_len bytes carried) */
	PS_H2_PAYLOAD,		/* skipping body_left bytes of a frame's payload */
	PS_H2_BLOCK,		/* in a header block (ps_h2_conn says where) */
	/* Live, a stream whose framing is not known (picked up midway, or
	 * moved on past a hole): no framing is followed, and every line that
	 * ends like a request line is a request (http1.h ps_g_hunt()). */
	PS_H1_HUNT,
	/* HTTP/2: body_left bytes of a gRPC call's DATA, its messages'
	 * prefixes read (ps_h2_conn.g[gslot]), then the frame's pad_left */
	PS_H2_GDATA,
};

/* Flags of ps_http.flags */
#define PS_H1F_REQUEST		0x01	/* this message's first line is a request */
#define PS_H1F_INFERENCE	0x02	/* ... whose path matches an endpoint path */
#define PS_H1F_CHUNKED		0x04	/* Transfer-Encoding: chunked seen */
#define PS_H1F_CLEN		0x08	/* Content-Length seen */
/* 0x10 is free */
#define PS_H1F_RESPONSE		0x20	/* a status line (a response sent by the client) */
#define PS_H1F_TE		0x40	/* a Transfer-Encoding header was seen */
#define PS_H1F_COUNTED		0x80	/* counted before its end (FIN, last chunk) */
#define PS_H1F_NOCOLON		0x100	/* a header line without a colon: the message
					 * ends there, the rest of its buffer is lost */
#define PS_H1F_SPANNED		0x200	/* the message began in an earlier segment */
#define PS_H1F_CRLF_SKIPPED	0x400	/* unused (blank lines before a message are skipped) */
#define PS_H1F_UPGRADE		0x800	/* an Upgrade header was seen */
#define PS_H1F_CONNECT		0x1000	/* the method is CONNECT */
#define PS_H1F_LASTCHUNK	0x2000	/* the last chunk was seen: complete */
#define PS_H1F_PREV_TE		0x4000	/* the last header line was Transfer-Encoding ... */
#define PS_H1F_PREV_CL		0x8000	/* ... or Content-Length (for a folded line after it) */

/* ps_http.tunnel: the last request, if its answer can end HTTP/1. */
#define PS_TUNNEL_NONE		0
#define PS_TUNNEL_CONNECT	1	/* a 200 answer starts a tunnel */
#define PS_TUNNEL_UPGRADE	2	/* a 101 answer switches protocol */

struct ps_http {
	__u8 state;		/* enum ps_http_state */
	__u8 tunnel;		/* PS_TUNNEL_*: what the last request may switch to */
	__u16 carry_len;	/* bytes of the current line seen so far */
	__u32 flags;		/* PS_H1F_* */
	__u64 body_left;	/* bytes of body or chunk data still to skip */
	__u64 clen;		/* Content-Length of the message being parsed; HTTP/2:
				 * the highest stream id the client opened */
	__u32 refill_seq;	/* PS_H1_REFILL: first byte missing */
	__u8 refill_state;	/* PS_H1_REFILL: the state to resume in */
	__u8 pad2[3];
	char carry[PS_LINE_CARRY];	/* first bytes of the current line */
};

/*
 * The requests of an HTTP/1 connection, in order, as the ingress program
 * read them: bit (i mod 64) of bits is set when request i was an
 * inference request. Responses come back in the same order, so the
 * egress program knows which request a response answers (ps_resp.n).
 * Ingress sets the bits of a request before it raises n.
 */
#define PS_RQ_QUEUE		64

/*
 * On a connection whose requests name their own clients (forwarded
 * headers, API keys), the subject of each request in flight, so that the
 * egress program counts a response's bytes and tokens, and debits its
 * token limits, to the client of the request it answers: request i's at
 * subj[i mod PS_RQ_SUBJ]. Gateways do not pipeline deeply; a response to
 * a request more than PS_RQ_SUBJ behind the newest is the connection's
 * client's (stats.resp_unpaired).
 */
#define PS_RQ_SUBJ		8

struct ps_rq_subj {
	__u32 slot;		/* the subject's slot in ps_client_ctrs ... */
	__u32 gen;		/* ... while its gen is this; 0: the connection's client */
};

/*
 * A request whose subject the flow's ring loses before its answer begins
 * (a client that pipelines more than PS_RQ_SUBJ requests): its subject is
 * kept in ps_rq_late (value struct ps_rq_subj) under this key, and the
 * egress program finds it there when the answer begins.
 */
struct ps_rq_late_key {
	struct ps_flow_key k;	/* the connection ... */
	__u32 isn;		/* ... its client's initial sequence number (a new
				 * connection between the same ports is another) */
	__u32 idx;		/* the request's index on the connection (ps_rq_queue.n) */
};

/* ps_rq_queue.b_state: whom the client bytes being read are counted to */
#define PS_RB_CONN		0	/* the connection's client */
#define PS_RB_PEND		1	/* a request whose header block has not ended:
					 * kept in b_pend until its client is known */
#define PS_RB_SUBJ		2	/* the request's own client (b_slot, b_gen) */

struct ps_rq_queue {
	__u64 bits;
	__u32 n;		/* requests whose header block ended */
	__u32 named;		/* its requests may name their own clients: subj and
				 * b_* are kept */
	struct ps_rq_subj subj[PS_RQ_SUBJ];
	__u32 b_slot;		/* PS_RB_SUBJ: the request's client ... */
	__u32 b_gen;		/* ... (as in ps_rq_subj) */
	__u32 b_pend;		/* PS_RB_PEND: the request's bytes so far */
	__u8 b_state;		/* PS_RB_* */
	__u8 pad2[3];
};

/* HTTP/1 response parser states (server to client, bpf/lib/response.h). */
enum ps_resp_state {
	PS_R_START = 0,		/* at a message boundary */
	PS_R_VERSION,		/* the status line's "HTTP/x.y" */
	PS_R_CODE,		/* its status code */
	PS_R_LINE,		/* the rest of the status line */
	PS_R_HDR,		/* at the start of a header line */
	PS_R_NAME,		/* inside a header name */
	PS_R_VALUE,		/* inside the value of a header named PS_RH_* */
	PS_R_SKIPLINE,		/* inside a header line not read */
	PS_R_BODY,		/* left bytes of a Content-Length body */
	PS_R_EOF,		/* a body that runs to the connection's end */
	PS_R_CHUNK_SIZE,	/* inside a chunk-size line */
	PS_R_CHUNK_EXT,		/* ... past its digits */
	PS_R_CHUNK_DATA,	/* left bytes of chunk data */
	PS_R_CHUNK_CRLF,	/* the line end after chunk data */
	PS_R_TRAILERS,		/* at the start of a trailer line */
	PS_R_TRAILER_LINE,	/* inside a trailer line */
	PS_R_DEAD,		/* not HTTP/1, or bytes lost: no parsing until the flow ends */
};

/* ps_resp.flags */
#define PS_RF_CHUNKED		0x01	/* Transfer-Encoding: chunked */
#define PS_RF_CLEN		0x02	/* Content-Length */
#define PS_RF_SSE		0x04	/* Content-Type: text/event-stream */
#define PS_RF_INFERENCE		0x08	/* it answers an inference request */
#define PS_RF_JSON		0x10	/* Content-Type: application/json */
#define PS_RF_USAGE		0x20	/* a "completion_tokens" was read in its body */
#define PS_RF_ENCODED		0x40	/* Content-Encoding other than identity: its body is
					 * not read; ps_resp.ev counts its bytes */

/* ps_resp.hdr: the header whose name or value is being read */
#define PS_RH_CLEN		0x01	/* candidates while in PS_R_NAME: a mask */
#define PS_RH_TE		0x02
#define PS_RH_CTYPE		0x04
#define PS_RH_CENC		0x08

/*
 * ps_resp.sse: where a body line stands. 0..4: bytes of "data:" matched at
 * its start; PS_SSE_VALUE: right after "data:"; PS_SSE_MID: inside a line
 * not read further; PS_SSE_DONE + k: k bytes of the value "[DONE]" matched.
 */
#define PS_SSE_VALUE		5
#define PS_SSE_MID		6
#define PS_SSE_DONE		7

/* The response being read on an HTTP/1 connection. */
struct ps_resp {
	__u64 left;		/* body or chunk bytes still to come; chunk size or
				 * Content-Length being read */
	__u32 n;		/* responses begun (final ones: 1xx not counted) */
	__u16 code;		/* status code */
	__u8 state;		/* enum ps_resp_state */
	__u8 flags;		/* PS_RF_* */
	__u8 hdr;		/* PS_RH_* */
	__u8 idx;		/* bytes of a name or value matched so far */
	__u8 sse;		/* PS_SSE_*: where the body line stands */
	__u8 vmask;		/* Content-Type values still matching (bit 0 SSE, 1 JSON) */
	__u8 tk_idx;		/* bytes of a usage key matched ... */
	__u8 tk_key;		/* ... PS_TK_*: the keys still matching, or the one matched */
	__u8 tk_phase;		/* PS_TKP_*: where in "key": N the body stands */
	__u8 pad;
	__u32 tk_val;		/* the number being read */
	__u32 tx_seen;		/* the response's completion_tokens counted so far ... */
	__u32 rx_seen;		/* ... and prompt_tokens */
	__u32 ev;		/* its events, [DONE] lines not included (an encoded
				 * body's bytes: PS_RF_ENCODED) */
	__u32 sslot;		/* the client of the request it answers (ps_rq_subj) ... */
	__u32 sgen;		/* ... 0: the connection's */
	__u32 dbt;		/* tokens debited for it so far: the higher of its
				 * events and its reported usage (response.h) */
	__u32 pad2;
};

/* ps_resp.tk_key */
#define PS_TK_COMPLETION	0x01	/* "completion_tokens" */
#define PS_TK_PROMPT		0x02	/* "prompt_tokens" */

/* ps_resp.tk_phase */
#define PS_TKP_KEY		0	/* in a key (tk_idx > 0) or outside one */
#define PS_TKP_COLON		1	/* after the key: white space, then ':' */
#define PS_TKP_VALUE		2	/* after ':': white space, then digits */
#define PS_TKP_DIGITS		3	/* in the number */

/* Value of ps_flows. */
struct ps_flow {
	struct ps_seq dir[2];
	struct ps_http http;
	__u64 last_seen_ns;
	__u32 endpoint;		/* endpoint slot */
	__u32 client_slot;	/* the client's slot in ps_client_ctrs ... */
	__u32 client_gen;	/* ... while its gen is this (0: not known) */
	__u32 throttled_seq;	/* line end of the last request held back by its limit */
	__u32 paid;		/* inference requests the limit let in whose segment was
				 * held back for a later one: the flow's next ones go
				 * in without a new charge */
	__u8 pad3;
	__u8 acked_valid;	/* rx_acked is meaningful */
	__u8 pad[2];
	__u32 rx_acked;		/* the server's highest acknowledgment of client bytes */
	__u32 pad2;
	__u64 busy_ns;		/* program clock when a CPU took the flow's client
				 * stream to work on it; 0: free */
	struct ps_who who;	/* the client, and its PROXY header */
	struct ps_fwd fwd;	/* the request's client, by its forwarded headers */
	struct ps_keyh key;	/* the request's API key */
	struct ps_rq_queue rq;	/* written by ingress only: its requests, in order */
	struct ps_resp resp;	/* written by egress only: the responses to them */
};

/*
 * HPACK (RFC 7541) on an HTTP/2 connection, as far as classifying each
 * request's :path needs: the dynamic table's entries, newest at head, by
 * their sizes and whether each is a :path that starts with an endpoint
 * path, and where the header block being read stands. Value of ps_h2,
 * keyed by the connection's ps_flow_key (bpf/lib/hpack.h).
 */
#define PS_HPACK_ENTRIES	128	/* entries followed: a 4096-byte table of the
					 * smallest (32-byte) entries */
#define PS_HPACK_TABLE		4096	/* SETTINGS_HEADER_TABLE_SIZE's initial value */
#define PS_HPACK_VAL		(2 * PS_PATH_MAX + 8)	/* room for PS_PATH_MAX bytes of a
							 * string copied at any of them */

/* ps_h2_conn.ent[] flags beside an entry's size */
#define PS_HENT_PATH		0x01	/* its name is :path */
#define PS_HENT_INF		0x02	/* ... and its value starts with an endpoint path */
#define PS_HENT_UNKNOWN		0x04	/* its name could not be read */
#define PS_HENT_CTYPE		0x08	/* its name is content-type (PS_HENT_INF: and its
					 * value starts with application/grpc) */
#define PS_HENT_KEYNAME		0x30	/* its name is a key header's: PS_KEY_* << 4 */
#define PS_HENT_KEYNAME_SHIFT	4
#define PS_HENT_KEYID		0x40	/* ... and its value a key, its id in ps_h2_kept */
#define PS_HENT_FWDNAME		0x80	/* its name is x-forwarded-for (a name of 15 bytes,
					 * 11 Huffman-coded) or forwarded (9, 7): its value
					 * is not kept ... */
#define PS_HENT_FWDWALK		PS_HENT_INF	/* ... but its walk is, in ps_h2_kept */

/*
 * The client's DATA of a gRPC inference call (http2.h): where its messages
 * stand. pfx 0: in a message, left bytes of it to come (0: a message's
 * 5-byte prefix comes next); 1 to 4: that many bytes of the prefix read,
 * left holding the length's bytes read so far.
 */
#define PS_H2G_SLOTS		4
struct ps_h2g_slot {
	__u32 sid;		/* the stream (0: a free slot) */
	__u32 left;
	__u8 pfx;
	__u8 pad[3];
};

/*
 * What a connection's dynamic table entry said, kept beside the table
 * (whose values are not kept), so that a later request naming the entry by
 * its index names the same client (hpack.h): a key entry's id
 * (PS_HENT_KEYID), a forwarded value's walk alone (PS_HENT_FWDWALK,
 * h2fwd.h). Keyed by the connection's tag (ps_h2_conn.ftag) and the
 * entry's insertion number (ps_h2_conn.ins_no); value of ps_h2_kept, the
 * least recently used forgotten: a request naming an entry whose record is
 * gone is its address's (stats.h2_key_unknown, h2_forwarded_indexed).
 */
struct ps_h2_kept_key {
	__u64 tag;
	__u32 ino;
	__u32 pad;
};

struct ps_h2_kept {
	struct ps_addr addr;	/* a walk of kind ADDR: the client; NONE: the left-most
				 * trusted proxy (family 0: none) */
	__u64 kid;		/* a key's id */
	__u8 family;		/* PS_AF_* of addr */
	__u8 kind;		/* a walk's PS_FWD_*, a key's PS_KEY_* */
	__u8 pad[6];
};

/*
 * An inference stream whose request was its own client's (its API key's):
 * the egress program counts the answer's events and tokens, and debits
 * them, to that client (h2resp.h). Stream sid at hs[(sid >> 1) mod
 * PS_H2S_SLOTS], while sid is there; any other stream is the connection's
 * client's. As many as the inference streams inf_bits tells apart: a
 * gateway's pooled connection carries many clients' streams at once.
 */
#define PS_H2S_SLOTS		64
struct ps_h2_subj {
	__u32 sid;
	__u32 slot;		/* the client's slot in ps_client_ctrs ... */
	__u32 gen;		/* ... while its gen is this */
};

struct ps_h2_conn {
	__u32 tbl_bytes;	/* sum of the entries' sizes (name + value + 32) */
	__u32 tbl_max;		/* the table's maximum size, as size updates set it */
	__u32 blk_left;		/* header block bytes left in the frame being read */
	__u32 ival;		/* an integer being read ... */
	__u32 str_left;		/* ... a string's bytes still to read ... */
	__u32 str_len;		/* ... and its length */
	__u32 name_len;		/* the name of the literal being read: its length */
	__u32 ins;		/* size of the entry to insert (PS_HP_INSERT) */
	__u8 head;		/* ring index of the newest entry */
	__u8 count;		/* entries in the table */
	__u8 lost;		/* the table cannot be followed any more */
	__u8 rstate;		/* PS_HP_*: where in a representation the block is */
	__u8 kind;		/* PS_HK_*: the representation being read */
	__u8 ishift;		/* bits of ival read so far */
	__u8 pro_left;		/* pad length and priority bytes before the block's bytes */
	__u8 pad_left;		/* padding after them */
	__u8 open;		/* a header block waits for CONTINUATION */
	__u8 req;		/* the block opens a request ... */
	__u8 path;		/* PS_H2P_*: what its :path is so far */
	__u8 name;		/* the literal's name: PS_HENT_PATH, PS_HENT_UNKNOWN or 0 */
	__u8 huff;		/* the string being read is Huffman-coded */
	__u8 vn;		/* bytes of it kept in val */
	__u8 inf;		/* the literal's value starts with an endpoint path */
	__u8 ipart;		/* PS_HI_*: which integer or string is being read */
	__u32 inf_hi;		/* the highest stream that is an inference request ... */
	__u32 hs_used;		/* hs has held a stream (egress reads it only then) */
	__u64 inf_bits;		/* ... bit i: stream inf_hi - 2i is one (egress reads
				 * these to know which responses to scan: h2resp.h) */
	__u64 grpc_bits;	/* ... and is a gRPC call (content-type application/grpc) */
	struct ps_h2g_slot g[PS_H2G_SLOTS];	/* the client's gRPC calls' DATA */
	__u8 grpc;		/* the request's block says content-type application/grpc */
	__u8 gslot;		/* the DATA frame being read is g[gslot]'s */
	/* API keys (identity: api_key, bpf/lib/hpack.h): the key value being read */
	__u8 kname;		/* PS_KEY_*: the literal's name is a key header's (0: not) */
	__u8 kst;		/* PS_HKS_*: where in the value it stands */
	__u8 hst;		/* the Huffman decoder's state (bpf/lib/huffdec.h) ... */
	__u8 hacc;		/* ... and whether the value may end there */
	__u8 kunk;		/* the request named a key the table no longer says */
	__u8 kok;		/* the value just read is a key, its id kid kept in ps_h2_kept */
	__u64 kid;
	__u32 ins_no;		/* entries inserted into the dynamic table so far */
	__u8 kpad0;
	/* Forwarded headers (bpf/lib/h2fwd.h): the value being read */
	__u8 fname;		/* PS_HFN_*: the literal's name is a forwarded header's */
	__u8 fskip;		/* the value's unfinished entry is too long: skipped to a comma */
	__u8 fsolo;		/* the value is the block's first to name anyone: its walk is its own */
	__u8 kpad[64];
	struct ps_h2_subj hs[PS_H2S_SLOTS];	/* inference streams of their own clients */
	__u8 val[PS_HPACK_VAL];	/* the first bytes of a name or a :path value */
	__u16 ent_size[PS_HPACK_ENTRIES];	/* each entry's size ... */
	__u16 ent_name[PS_HPACK_ENTRIES];	/* ... its name's length ... */
	__u8 ent_flags[PS_HPACK_ENTRIES];	/* ... and PS_HENT_* */
	__u64 ftag;		/* the connection's tag in ps_h2_kept (random, not 0) */
};

/*
 * The server's side of an HTTP/2 connection (egress, bpf/lib/h2resp.h):
 * where its frames stand, and the scan of the DATA of up to PS_H2R_SLOTS
 * inference streams at once (each with the state of an HTTP/1 body's
 * scan, struct ps_resp: its events and usage; the scans of more streams in
 * progress wait in ps_h2r_page). Value of ps_h2r, keyed by the
 * connection's ps_flow_key; written by egress only.
 */
#define PS_H2R_SLOTS		8
/* The first bytes of an inference stream's data judged before any is
 * scanned or counted (text an inference server writes, or encoded data). */
#define PS_H2R_HOLD		32
#define PS_H2R_BEGUN		64

/* ps_h2_resp.state */
enum ps_h2r_state {
	PS_H2R_FRAME = 0,	/* at a frame header (hdr_n of its bytes in hdr) */
	PS_H2R_PADLEN,		/* at the pad length of a PADDED DATA frame */
	PS_H2R_DATA,		/* left bytes of a DATA frame's data, scanned */
	PS_H2R_SKIP,		/* left bytes of a payload skipped, then pad_left */
	PS_H2R_DEAD,		/* not followed any more */
};

struct ps_h2r_slot {
	struct ps_resp r;	/* flags, sse, tk_*, tx_seen, rx_seen, ev */
	__u32 sid;		/* the stream (0: a free slot) */
	__u32 left;		/* a gRPC call's: as ps_h2g_slot's left and pfx */
	__u8 grpc;		/* the stream is a gRPC call: its messages are counted */
	__u8 pfx;
	__u8 body;		/* the stream's data was judged (text or encoded) ... */
	__u8 held;		/* ... until then, this many of its first bytes ... */
	__u8 pad[4];
	__u8 hold[PS_H2R_HOLD];	/* ... held here */
};

struct ps_h2_resp {
	__u32 left;		/* payload bytes left of the frame being read ... */
	__u32 pad_left;		/* ... then its padding */
	__u32 sid;		/* its stream */
	__u8 state;		/* enum ps_h2r_state */
	__u8 type;		/* its type ... */
	__u8 flags;		/* ... and flags */
	__u8 slot;		/* the slot its data is scanned in (PS_H2R_SLOTS: none) */
	__u8 hdr_n;		/* bytes of a frame header cut by a segment's end ... */
	__u8 up1;		/* stream 1 answers an h2c Upgrade request that was
				 * an inference request */
	__u8 rr;		/* the slot put aside next when none is free */
	__u8 pad1;
	__u16 npaged;		/* streams put aside in ps_h2r_page (saturating) */
	__u8 pad[2];
	__u8 hdr[24];		/* ... held here */
	struct ps_h2r_slot s[PS_H2R_SLOTS];
	/* The inference streams whose answers began, by (stream id / 2) mod
	 * PS_H2R_BEGUN: the ingress keeps a stream that leaves its window in
	 * ps_h2_late only if its answer had not begun. */
	__u32 begun[PS_H2R_BEGUN];
};

/*
 * An HTTP/2 stream of a connection: tag is the connection's
 * ps_h2_conn.ftag. Key of ps_h2r_page, the scan state (struct
 * ps_h2r_slot) of an inference stream put aside while PS_H2R_SLOTS others
 * of its connection held the slots (written by egress only), and of
 * ps_h2_late (struct ps_h2_late).
 */
struct ps_h2_stream_key {
	__u64 tag;
	__u32 sid;
	__u32 pad;
};

/*
 * Value of ps_h2_late: an inference stream that left the ingress's window
 * (ps_h2_conn.inf_hi, inf_bits and hs: the client's last 64 stream ids)
 * before the egress could know it, its answer perhaps not begun: written
 * by ingress as its bit leaves, read (and deleted) by egress when the
 * stream's first DATA comes, so that a connection with more than 64
 * requests waiting for their answers has each answer scanned, and counted
 * to its own client.
 */
struct ps_h2_late {
	__u32 slot;		/* the client the request named (hs), its slot ... */
	__u32 gen;		/* ... while its gen is this (0: the connection's) */
	__u8 grpc;		/* the request is a gRPC call */
	__u8 pad[7];
};

/* Key of ps_ooo: a stashed out-of-order client segment. */
struct ps_ooo_key {
	struct ps_flow_key flow;
	__u32 seq;
	__u32 pad;
};

/*
 * ps_ooo_seg.len with this bit: the piece holds no byte, its length is
 * that many bytes of a body being skipped (the parser at the hole skips a
 * body that goes on past them), which need no reading.
 */
#define PS_OOO_SKIPPED		0x80000000U

struct ps_ooo_seg {
	__u32 len;		/* bytes stored in data, or PS_OOO_SKIPPED | bytes skipped */
	__u32 stashed_s;	/* program clock when kept, seconds */
	__u8 data[PS_OOO_SEG_MAX];
};

/* Per-CPU global counters (ps_stats), indexed by enum ps_stat. */
enum ps_stat {
	PS_STAT_PACKETS = 0,	/* packets seen by any program */
	PS_STAT_ENDPOINT_PACKETS,	/* packets on an endpoint port */
	PS_STAT_NOT_PARSED,	/* IP packets whose TCP header was not reached:
				 * unreadable headers (fragments: PS_STAT_FRAGMENTS) */
	PS_STAT_FLOW_FULL,	/* flow state could not be created (its client packet dropped) */
	PS_STAT_CLIENT_FULL,	/* client counters could not be created */
	PS_STAT_OOO_STASHED,	/* out-of-order segments stashed */
	PS_STAT_OOO_DROPPED,	/* out-of-order segments that could not be stashed */
	PS_STAT_PARSE_LIMIT,	/* a segment held more messages than one pass parses */
	PS_STAT_BLOCKED,	/* packets dropped by a block */
	PS_STAT_WOULD_BLOCK,	/* ... that a dry run let through */
	PS_STAT_THROTTLED,	/* request segments dropped by a request limit */
	PS_STAT_WOULD_THROTTLE,	/* ... that a dry run let through */
	PS_STAT_RESYNC,		/* connections whose server acknowledged client bytes
				 * the ingress program never took in order */
	PS_STAT_FRAGMENTS,	/* IP fragments seen (any port: only a first fragment
				 * shows its ports) */
	PS_STAT_FRAG_DROPPED,	/* first fragments to an endpoint port dropped */
	PS_STAT_WOULD_DROP_FRAG,	/* ... that replay let through */
	PS_STAT_FLOW_BUSY,	/* client segments dropped because another CPU was
				 * working on their connection's stream */
	PS_STAT_PROXY,		/* PROXY headers believed (a trusted peer's) */
	PS_STAT_PROXY_UNTRUSTED,	/* ... not believed: the peer is no trusted proxy */
	PS_STAT_PROXY_BAD,	/* connections to a PROXY endpoint without a valid header */
	PS_STAT_NO_SLOT_HELD,	/* inference requests held back under a limit because
				 * their client has no slot (the client table full) */
	PS_STAT_FORWARDED,	/* requests counted to a client their X-Forwarded-For or
				 * Forwarded named */
	PS_STAT_FORWARDED_BAD,	/* ... whose walk met an entry that is no address: the
				 * connection's client's */
	PS_STAT_FORWARDED_UNTRUSTED,	/* requests with such headers from a peer that is
					 * not trusted: the peer's */
	PS_STAT_FORWARDED_FULL,	/* requests whose named client did not fit the segment's
				 * table of clients: the connection's client's */
	PS_STAT_KEYED,		/* requests counted to their API key */
	PS_STAT_H2_UNCLASSIFIED,	/* HTTP/2 requests counted whose :path could not be
					 * read (an HPACK dynamic table not followed): not
					 * inference requests */
	PS_STAT_HUNTED,		/* requests found on a stream without framing (PS_H1_HUNT) */
	PS_STAT_TOKEN_HELD,	/* request segments dropped by a token limit (in
				 * PS_STAT_THROTTLED too) */
	PS_STAT_RESP_UNPAIRED,	/* responses on a connection whose requests name their
				 * own clients, counted to the connection's client:
				 * their request was past the ring (PS_RQ_SUBJ) */
	PS_STAT_H2_RESP_LOST,	/* HTTP/2 connections whose server frames stopped being
				 * followed: a hole in the server's stream, bytes not
				 * captured, more frames than a segment's steps, or
				 * padding longer than its frame */
	PS_STAT_H2_NO_SLOT,	/* DATA frames of inference streams not scanned: more
				 * streams at once than PS_H2R_SLOTS */
	PS_STAT_RESP_ENCODED,	/* answers to inference requests with a Content-Encoding
				 * (gzip, br, ...; HTTP/2: data that starts as a
				 * compressed format does): not read, their body's
				 * bytes taken as their tokens' estimate */
	PS_STAT_GRPC_NO_SLOT,	/* gRPC calls whose client messages stopped being
				 * counted: more than PS_H2G_SLOTS of a connection's at once */
	PS_STAT_H2_KEY_UNKNOWN,	/* HTTP/2 requests on an identity: api_key endpoint that
				 * named a key the HPACK table no longer says (its
				 * ps_h2_kept record forgotten, or a table not
				 * followed): counted to their address */
	PS_STAT_H2_FWD_INDEXED,	/* HTTP/2 requests on a forwarded_for endpoint, from a
				 * trusted proxy, whose X-Forwarded-For or Forwarded
				 * field came from the HPACK dynamic table without its
				 * walk (inserted after a field of its block that named
				 * someone, or its ps_h2_kept record forgotten):
				 * counted to the connection's client */
	PS_STAT_H2_REFUSED,	/* HTTP/2 requests over their client's limit (or
				 * blocked) on a connection from a trusted proxy of a
				 * forwarded_for endpoint, refused in place: their :method POST
				 * rewritten to GET, so that the other clients' streams
				 * on the connection are not held with their segment
				 * (in PS_STAT_THROTTLED too, when a limit held them) */
	PS_STAT_URGENT_DROPPED,	/* client segments to an endpoint carrying TCP urgent
				 * data, dropped: the server's stack takes the urgent
				 * byte out of the stream the programs would read */
	PS_STAT_MAX,
};

/* Map names (pinned by name under PS_PIN_DIR). */
#define PS_MAP_CLIENTS		"ps_clients"
#define PS_MAP_CLIENT_CTRS	"ps_client_ctrs"
#define PS_MAP_SLOT_FREE	"ps_slot_free"
#define PS_MAP_SLOT_STATE	"ps_slot_state"
#define PS_MAP_CLASSES		"ps_classes"
#define PS_MAP_CLASS_OF		"ps_class_of"
#define PS_MAP_ENFORCE		"ps_enforce"
#define PS_MAP_ENFORCE_STATE	"ps_enforce_state"
#define PS_MAP_FLOWS		"ps_flows"
#define PS_MAP_PORTS		"ps_ports"
#define PS_MAP_ENDPOINTS	"ps_endpoints"
#define PS_MAP_STATS		"ps_stats"
#define PS_MAP_OOO		"ps_ooo"
#define PS_MAP_TRUSTED		"ps_trusted"
#define PS_MAP_KEY_SECRET	"ps_key_secret"
#define PS_MAP_KEY_ADDRS	"ps_key_addrs"
#define PS_MAP_H2		"ps_h2"
#define PS_MAP_EP_CTRS		"ps_ep_ctrs"

#endif /* PENSTOCK_ABI_H */
