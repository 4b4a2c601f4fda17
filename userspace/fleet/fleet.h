/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fleet: penstockd's on every inference host behind one load
 * balancer share their clients' counts in Redis, so that limits and
 * detection hold for the fleet and not each host's fraction of a client
 * (docs/fleet.md).
 *
 * Each tick the daemon hands the fleet its client table: the counts of
 * the clients active in the last two minutes go out to Redis, pipelined,
 * one script call (EVALSHA) per batch of subjects, on hiredis's
 * asynchronous context in penstockd's own epoll loop (redis_ev.h): no
 * tick waits on the network. The replies bring back the fleet's sums,
 * which limits.c turns into enforcement entries at the next tick. Idle,
 * down or slow, the fleet only stops being consulted: the host keeps its
 * own limits and detection, says so (penstock status, an alert), and
 * when Redis answers again writes its buckets whole, which cannot count
 * anything twice (keys.h).
 */
#ifndef PS_FLEET_H
#define PS_FLEET_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "alerts/alert.h"
#include "common/config.h"
#include "common/datapath.h"
#include "count/clients.h"
#include "fleet/keys.h"
#include "fleet/url.h"

enum ps_fleet_state {
	PS_FLEET_OFF = 0,	/* no fleet: in the configuration */
	PS_FLEET_DOWN,		/* no connection; the next attempt after a backoff */
	PS_FLEET_CONNECTING,	/* connecting, authenticating, loading the script */
	PS_FLEET_UP,		/* answering */
};

/* What the fleet last said of one subject (a record of the client table). */
struct ps_fleet_sub {
	uint64_t sent_sig;	/* the counts Redis acknowledged, hashed */
	uint64_t pend_sig;	/* the counts in flight, hashed */
	uint64_t tot[PS_FB_N][PS_FV_N];	/* the fleet's sums of the four buckets ... */
	uint32_t tot_minute;	/* ... as of this Unix minute (0: never answered) */
	uint32_t tot_tick;	/* the push that brought them */
	uint64_t tot_wall_ms;	/* that push's start, Unix ms (a Cluster: fresh per subject) */
};

#define PS_FLEET_CONNECT_TIMEOUT_MS	2000
#define PS_FLEET_BACKOFF_MIN_MS		500
#define PS_FLEET_BACKOFF_MAX_MS		10000
#define PS_FLEET_ACTIVE_S		120	/* a subject is pushed this long after its last packet */
#define PS_FLEET_MAX_CNODES		32	/* masters of a Cluster */

/* redis-cluster://: one master (cluster.c). */
struct ps_fleet_cnode {
	char addr[64];
	uint16_t port;
	void *ac;		/* redisAsyncContext, NULL when none */
	enum ps_fleet_state state;	/* up: the script loaded */
	uint64_t attempt_ms, next_attempt_ms, backoff_ms;	/* mono ms */
	uint32_t slots;		/* the slots the map gives it */
	bool failed;		/* a call of the current push to it failed */
	uint64_t ok_wall_ms;	/* the last push it answered whole, Unix ms (0: none) */
	uint64_t down_since_ms;	/* not usable since, Unix ms (0: usable) */
	bool said_down;
	uint64_t connects, disconnects;
	char last_error[160];
};

struct ps_fleet_cluster {
	int nseeds, next_seed;
	char seed_addr[PS_FLEET_MAX_NODES][64];
	uint16_t seed_port[PS_FLEET_MAX_NODES];
	struct ps_fleet_cnode node[PS_FLEET_MAX_CNODES];
	int nnodes;
	uint8_t slot_node[PS_FLEET_SLOTS];	/* node index + 1, 0: nobody known */
	bool slots_known;
	bool refresh;		/* ask for the map again */
	bool asking;		/* a CLUSTER SLOTS in flight */
	bool unmapped;		/* a subject of the current push was in a slot nobody serves */
	void *probe;		/* a seed's context asked for the map (no master connected) */
	uint64_t probe_ms, next_probe_ms;	/* mono ms */
	uint64_t moved, asked, maps;
};

/* An entry another host's escalation published (share.c). */
struct ps_fleet_entry {
	char subject[64];	/* as penstock prints it */
	char host[PS_FLEET_NAME_MAX];
	struct ps_enforcement e;	/* until_ns unused: until_ms */
	uint64_t until_ms;	/* Unix ms; 0: until removed */
};

/* A prefix's figures for the fleet, as the last detection run's call answered (share.c). */
struct ps_fleet_pfx {
	struct ps_prefix p;
	uint64_t cur, prev;	/* the fleet's requests in this hour's bucket and the last's */
	uint64_t distinct;	/* addresses seen in the two hours, fleet-wide (HyperLogLog) */
	bool hold;		/* an alert_only client in it */
	uint32_t hour;		/* the bucket's Unix hour */
};

struct ps_fleet {
	const struct ps_config *cfg;	/* the daemon's (reloaded in place) */
	struct ps_ctable *table;
	char host_id[PS_FLEET_NAME_MAX];
	char password[256];
	char shown[PS_FLEET_URL_MAX];	/* fleet.redis with its password as "***" */
	char addr[64];		/* the server connected to: an address */
	uint16_t port;
	/* redis-sentinel://: the Sentinels, asked for the master before each connect. */
	bool sentinel;
	int nsentinels, next_sentinel;
	char sentinel_addr[PS_FLEET_MAX_NODES][64];
	uint16_t sentinel_port[PS_FLEET_MAX_NODES];
	char master[64];	/* its name */
	bool asking;		/* this connection is to a Sentinel */
	bool master_known;	/* addr and port are the master's, as a Sentinel said */
	/* redis-cluster://: the masters (cluster.h); addr and port unused. */
	bool cluster;
	struct ps_fleet_cluster *cl;
	char url[PS_FLEET_URL_MAX];	/* fleet.redis as set up (a reload compares) */
	int epfd;		/* the Redis sockets' epoll set: one fd for the loop */
	void *ac;		/* redisAsyncContext, NULL when none */
	enum ps_fleet_state state;
	char sha[41];		/* the script's SHA1 on this server */
	uint64_t attempt_ms;	/* mono ms: this connect began */
	uint64_t next_attempt_ms;	/* mono ms: no connect before */
	uint64_t backoff_ms;
	uint32_t push;		/* pushes sent so far (the batches' tag) */
	uint32_t inflight;	/* batches of the last push not answered yet */
	bool push_failed;	/* one of its batches came back with an error */
	uint64_t push_mono_ms;	/* when the last push began */
	uint64_t progress_mono_ms;	/* when it last had an answer */
	uint32_t cursor;	/* the next record of the table the push looks at */
	uint32_t cutoff;	/* the push's subjects: active since (Unix s) */
	bool force;		/* the push writes every bucket (a resync) */
	uint32_t bk[PS_FB_N];	/* the push's buckets ... */
	char suffix[PS_FB_N][24];	/* ... and their keys' ends */
	size_t suflen[PS_FB_N];
	bool pushed;		/* this tick pushed: share.c's commands may follow */
	uint64_t push_wall_ms;
	uint64_t ok_wall_ms;	/* the last push answered whole, Unix ms (0: none) */
	bool resync;		/* write every bucket of every subject since resync_from */
	uint32_t resync_from;	/* Unix s */
	bool stale;		/* the fleet's sums are set aside (said once) */
	uint64_t stale_since_ms;
	struct ps_fleet_sub *sub;	/* by record index of table */
	uint32_t nsub;
	/* For penstock status and make bench. */
	uint64_t connects, disconnects, errors, skipped;
	uint64_t last_cmds, last_bytes, last_subjects, last_writes;	/* the last push */
	uint64_t cmds, bytes;	/* since start */
	uint64_t push_us;	/* CPU time of the last push (formatting, queueing) */
	uint64_t limits_us;	/* CPU time of the last tick's fleet limits pass */
	char last_error[160];
	bool shape_dirty;	/* limits.c or share.c set a shape entry */
	struct ps_fleet_entry *remote;	/* the fleet's published entries, last read */
	uint32_t nremote;
	uint32_t applied;	/* remote entries in force here, last tick */
	uint32_t published;	/* this host's entries published, last tick */
	uint64_t detect_ms;	/* the last fleet detection run */
	uint64_t found;		/* subjects the fleet's detection found */
	struct ps_fleet_pfx *pfx;	/* prefixes' answers since the last run */
	uint32_t npfx, cap_pfx;
	uint32_t entries;	/* entries limits.c holds at the last tick */
	/* The daemon's: said when the fleet turns stale and back. */
	void (*on_alert)(void *ctx, const struct ps_alert *al);
	void *ctx;
};

/*
 * Set up for cfg->fleet (off when redis is ""): the URL read, a name
 * resolved once, the password file read. No connection yet. 0, or
 * -errno with a message in err.
 */
int ps_fleet_init(struct ps_fleet *f, const struct ps_config *cfg, struct ps_ctable *t,
		  char *err, size_t errlen);
void ps_fleet_free(struct ps_fleet *f);
/* The configuration changed (a reload): reconnect if the server did. Same returns. */
int ps_fleet_reconfigure(struct ps_fleet *f, char *err, size_t errlen);

/* After the tick folded the counters: connect, push, time out. now: Unix ms. */
void ps_fleet_tick(struct ps_fleet *f, uint64_t now_ms);
/* The loop saw f->epfd ready. */
void ps_fleet_events(struct ps_fleet *f);
/* Whether the fleet's sums are fresh enough to act on. */
bool ps_fleet_usable(const struct ps_fleet *f, uint64_t now_ms);

/* The same from the fleet's sums alone (no floor of this host's own): cheap. */
bool ps_fleet_raw_windows(const struct ps_fleet *f, const struct ps_crec *r, uint64_t now_ms,
			  double m[PS_FV_N], double d[PS_FV_N]);

/*
 * The fleet's 1m and 24h windows of record r at now_ms: requests and
 * egress bytes (PS_FV_*), at least what this host counted itself. False
 * when the fleet has said nothing of r lately.
 */
bool ps_fleet_windows(const struct ps_fleet *f, const struct ps_crec *r, uint64_t now_ms,
		      double m[PS_FV_N], double d[PS_FV_N]);

/*
 * limits.c: fleet_limits judged on the fleet's windows, each client over
 * its share tightened in the datapath (enforcement entries). bnow: the
 * programs' clock.
 */
void ps_fleet_limits(struct ps_fleet *f, struct ps_datapath *dp, uint64_t now_ms, uint64_t bnow);

/*
 * share.c, after the policy's tick: this host's detector entries
 * published to the fleet, the other hosts' applied here (as detector
 * entries, reason "fleet HOST: ..."), and every detection.interval the
 * fleet's detection: each client's class thresholds and the high_rate
 * floor and z-score on the fleet's windows, through the escalation of
 * det (a struct ps_detect). bnow: the programs' clock.
 */
void ps_fleet_share(struct ps_fleet *f, struct ps_datapath *dp, void *det, uint64_t now_ms,
		    uint64_t bnow);

/* The script a push calls (SCRIPT LOAD on each connection). */
extern const char ps_fleet_script[];
/* An alert about the fleet itself (subject fleet:NAME), evidence ev (borrowed). */
void ps_fleet_alert(struct ps_fleet *f, uint64_t now_ms, const char *detector, json_t *ev);
/* What a (re)connected server lost since its last whole answer (Unix ms, 0: everything) is written again. */
void ps_fleet_resync_from(struct ps_fleet *f, uint64_t ok_wall_ms);
/* The context serving key (NULL: none up): f->ac, or a Cluster's master of its slot. */
struct redisAsyncContext *ps_fleet_ctx(struct ps_fleet *f, const char *key);

/* A server the fleet writes to, for the metrics: a single Redis, or a Cluster's master. */
struct ps_fleet_node_state {
	char node[80];		/* ADDRESS:PORT */
	bool usable;		/* answered whole within stale_after */
};
/* Up to max of them into out (a Sentinel's master once known): how many. */
int ps_fleet_nodes(const struct ps_fleet *f, uint64_t now_ms, struct ps_fleet_node_state *out,
		   int max);

/* {"state":..,"redis":..,...} for penstock status. */
json_t *ps_fleet_status_json(const struct ps_fleet *f, uint64_t now_ms);

#endif
