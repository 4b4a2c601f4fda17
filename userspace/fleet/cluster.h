/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * redis-cluster://: the fleet's counters spread over the masters of a
 * Redis Cluster (docs/fleet.md, "Addresses"). hiredis 0.14 has no
 * Cluster client; this is one on its asynchronous contexts, on
 * penstockd's loop (redis_ev.h), all in the fleet's one epoll set:
 *
 * - The slot map: CLUSTER SLOTS, asked of a connected master, or of the
 *   seed nodes of the URL in turn (and the masters known) when none is
 *   connected; asked again after a MOVED and after a master's
 *   connection is lost.
 * - A context per master: AUTH, SCRIPT LOAD, then the calls of the
 *   subjects whose hash tag's slot (keys.h's ps_fleet_slot) it serves,
 *   a call per subject (a script's keys must share a slot).
 * - MOVED: the slot is the named node's from now on (the map is asked
 *   again), and the call goes there; ASK: the call goes there once,
 *   after ASKING. A node that is not connected yet fails the call; the
 *   next push sends it again.
 * - A master down is Redis down for the subjects it serves: their calls
 *   fail at once, their sums stop being fresh (ps_fleet_raw_windows),
 *   so this host judges them on its own windows; status says which
 *   master, and an alert fleet_node_down (fleet_node_up when back). A
 *   master that comes back has every bucket since its last whole answer
 *   written again, whole: nothing counted twice.
 */
#ifndef PS_FLEET_CLUSTER_H
#define PS_FLEET_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <jansson.h>

#include "fleet/fleet.h"

/* Resolve the seeds of u; the map and the masters come at the ticks. 0 or -EINVAL. */
int ps_fleet_cluster_setup(struct ps_fleet *f, const struct ps_fleet_url *u, char *err,
			   size_t errlen);
/* Every connection dropped (the next tick connects again). */
void ps_fleet_cluster_drop(struct ps_fleet *f);
void ps_fleet_cluster_free(struct ps_fleet *f);
/* Connect, time out, ask for the map; f->state from the masters'; alerts per master. */
void ps_fleet_cluster_tick(struct ps_fleet *f, uint64_t now_ms);
/* The master serving slot, connected and with the script: its index, or -1. */
int ps_fleet_cluster_node_of(struct ps_fleet *f, uint16_t slot);
/* Its context (a redisAsyncContext). */
redisAsyncContext *ps_fleet_cluster_ctx(struct ps_fleet *f, int node);
/*
 * rep, an error: a MOVED or ASK sends cmd (len bytes, formatted) again,
 * to the node named, with fn and priv: true, *node its index. False for
 * any other error, a node not connected, or past a few redirections.
 */
bool ps_fleet_cluster_redirect(struct ps_fleet *f, const redisReply *rep, const char *cmd,
			       size_t len, redisCallbackFn *fn, void *priv, int *node,
			       int *redirects);
/* A reply to a call that is not sent again: a MOVED in it updates the map. */
void ps_fleet_cluster_note(struct ps_fleet *f, const redisReply *rep);
/* A push begins; a call of it to node failed; it ended (the masters without a failure answered it whole). */
void ps_fleet_cluster_push_begin(struct ps_fleet *f);
void ps_fleet_cluster_failed(struct ps_fleet *f, int node);
/* A subject of slot not sent: its master down, or nobody's in the map. */
void ps_fleet_cluster_failed_slot(struct ps_fleet *f, uint16_t slot);
/* Whether the failures of the push were all the calls of masters down (and no slot unmapped). */
bool ps_fleet_cluster_whole_but_down(const struct ps_fleet *f);
bool ps_fleet_cluster_push_done(struct ps_fleet *f, uint64_t push_wall_ms);
/* Masters that serve slots and are not usable (down, or no whole answer for stale_after). */
int ps_fleet_cluster_down(const struct ps_fleet *f, uint64_t now_ms);
json_t *ps_fleet_cluster_json(const struct ps_fleet *f, uint64_t now_ms);
/* The masters that serve slots (fleet.h's ps_fleet_nodes). */
int ps_fleet_cluster_nodes(const struct ps_fleet *f, uint64_t now_ms,
			   struct ps_fleet_node_state *out, int max);

#endif
