/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The datapath object: open, size and load the BPF programs, fill the
 * endpoint maps from a config, and read the per-client counters back.
 */
#ifndef PS_DATAPATH_H
#define PS_DATAPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "penstock_abi.h"

struct penstock_bpf;

struct ps_dp_opts {
	bool replay;		/* virtual clock, no pinning, small maps */
	bool own_maps;		/* live programs on maps of their own, never pinned
				 * (tests of the datapath's decisions) */
	uint32_t max_clients;	/* 0: PS_MAX_CLIENTS (replay: 65536) */
	uint32_t max_flows;	/* 0: PS_MAX_FLOWS (replay: 65536) */
	const char *pin_root;	/* live: maps pinned here (PS_PIN_DIR) */
};

enum { PS_PROG_INGRESS, PS_PROG_EGRESS, PS_PROG_XDP, PS_NPROGS };

struct ps_datapath {
	struct penstock_bpf *skel;
	int ingress_fd;
	int egress_fd;
	int xdp_fd;
	/* Programs of a running datapath kept in place of the object's own
	 * (ps_dp_keep_prog()): kept_fd[i] is owned here where kept[i]. */
	int kept_fd[PS_NPROGS];
	bool kept[PS_NPROGS];
};

/* The programs' names, by PS_PROG_*. */
extern const char *const ps_prog_names[PS_NPROGS];

/* One client's counters summed over CPUs. */
struct ps_client {
	struct ps_client_key key;
	struct ps_counters c;
	uint64_t would_throttle;	/* requests a request limit would have delayed */
	uint64_t would_block;		/* packets a block would have dropped */
	uint64_t would_refuse;		/* connections max_connections would have refused */
	uint64_t fragments;		/* first IP fragments to an endpoint, dropped or
					 * (replay) that would have been */
	uint64_t tx_events;		/* server-sent events in responses to inference
					 * requests */
	uint64_t tx_tokens;		/* completion_tokens those responses reported */
	uint64_t rx_tokens;		/* prompt_tokens they reported */
	uint64_t tx_tokens_estimated;	/* events of streams that reported none */
	uint64_t rx_messages;		/* gRPC messages of inference calls, the client's ... */
	uint64_t tx_messages;		/* ... and the server's */
};

int ps_dp_open(struct ps_datapath *dp, const struct ps_dp_opts *opts);
/*
 * Between ps_dp_prepare() and ps_dp_load(): use the loaded program fd
 * (taken: closed with dp) as program `which` instead of loading the
 * object's. Only for a program loaded from this very object with the same
 * .rodata (the caller checks) on the maps the object will reuse.
 */
void ps_dp_keep_prog(struct ps_datapath *dp, int which, int fd);
/* Program `which`'s fd once loaded: the kept one or the object's. */
int ps_dp_prog_fd(const struct ps_datapath *dp, int which);

/*
 * ps_dp_open() in two steps: open and size the object (dp->skel, its maps
 * not created yet, so that some may be pointed at maps that exist with
 * bpf_map__reuse_fd()), then load it. A failed load destroys the object.
 */
int ps_dp_prepare(struct ps_datapath *dp, const struct ps_dp_opts *opts);
int ps_dp_load(struct ps_datapath *dp);
/* Write ps_ports and ps_endpoints from cfg. */
int ps_dp_configure(struct ps_datapath *dp, const struct ps_config *cfg);
/* Write ps_key_secret: the secret API keys are hashed under (common/keyid.h). */
int ps_dp_set_secret(struct ps_datapath *dp, const uint8_t key[16]);
void ps_dp_close(struct ps_datapath *dp);
/*
 * Every map of a loaded datapath back to what the load left (hash tables,
 * tries and queues empty, arrays zero), its programs kept: configure it
 * again after. 0 or -errno.
 */
int ps_dp_clear(struct ps_datapath *dp);
/* Remove the pinned maps (the datapath is going away for good). */
void ps_dp_unpin(struct ps_datapath *dp);

/* Slots handed out so far: [0, *next) of ps_client_ctrs. */
int ps_dp_slots_used(struct ps_datapath *dp, uint32_t *next);
/*
 * mmap the slots [first, first + count) of a ps_client_ctrs map fd (and
 * what surrounds them up to whole pages): returns the mapping, which
 * starts at slot first rounded down to a page, and its length; NULL with
 * errno on failure.
 */
void *ps_ctrs_map(int fd, uint32_t first, uint32_t count, size_t *len);

/*
 * Read every client into a malloc'ed array sorted by
 * address. Returns the count or a negative errno.
 */
int ps_dp_read_clients(struct ps_datapath *dp, struct ps_client **out);

/*
 * The endpoints' totals (ps_ep_ctrs) of slots [0, n), summed over CPUs:
 * out[i] is config endpoint i's. 0 or -errno.
 */
int ps_dp_read_endpoints(struct ps_datapath *dp, int n, struct ps_ep_ctr *out);

/*
 * The entries of a small hash map, key by key (keys of at most 64 bytes;
 * -1 otherwise). At most max_entries steps: an LRU map's walk starts over
 * from its first key when the key it stands on is evicted, and would not
 * end while packets keep coming.
 */
struct bpf_map;
long ps_dp_map_entries(struct bpf_map *map);

/*
 * The flow of key k, in whichever table holds it (ps_flows_est, else
 * ps_flows): the fd of that table and the flow in *f, or -1 (errno set).
 */
int ps_dp_flow_lookup(struct ps_datapath *dp, const struct ps_flow_key *k, struct ps_flow *f);
/* The flow of key k taken from both tables. */
void ps_dp_flow_forget(struct ps_datapath *dp, const struct ps_flow_key *k);

/*
 * Run one Ethernet frame through a program with BPF_PROG_TEST_RUN, the
 * program clock reading ts_ns. Returns 0 and the verdict, or -errno.
 */
int ps_dp_test_run(int prog_fd, const void *frame, unsigned int len, uint64_t ts_ns,
		   int *retval);
/* A replay's piece of a longer packet: what it stands for (PS_REPLAY_PIECE). */
struct ps_piece {
	uint32_t packets;	/* wire packets: 1 on the first piece, else 0 */
	uint32_t ip_bytes;	/* the packet's IP bytes on the first piece, else 0 */
};
/* ps_dp_test_run() of a piece (NULL: a whole packet). */
int ps_dp_test_run_piece(int prog_fd, const void *frame, unsigned int len, uint64_t ts_ns,
			 const struct ps_piece *piece, int *retval);

/* Format a client key as inet_ntop does. */
const char *ps_client_str(const struct ps_client_key *k, char *buf, size_t len);

#endif
