// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fleet on a Redis Cluster (cluster.h): the slot map, a context per
 * master, redirections, a master down.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "common/clock.h"
#include "common/log.h"
#include "fleet/cluster.h"
#include "fleet/redis_ev.h"

#define MAX_REDIRECTS	5

static void node_error(struct ps_fleet_cnode *n, struct ps_fleet *f, const char *what,
		       const char *detail)
{
	char msg[sizeof(n->last_error)];

	snprintf(msg, sizeof(msg), "%s:%u: %s%s%s", n->addr, n->port, what, detail ? ": " : "",
		 detail ? detail : "");
	memcpy(n->last_error, msg, sizeof(msg));
	memcpy(f->last_error, msg, sizeof(msg) < sizeof(f->last_error) ? sizeof(msg) :
						    sizeof(f->last_error));
	f->last_error[sizeof(f->last_error) - 1] = 0;
	f->errors++;
}

static int node_index(struct ps_fleet *f, const redisAsyncContext *ac)
{
	int i;

	for (i = 0; i < f->cl->nnodes; i++)
		if (f->cl->node[i].ac == ac)
			return i;
	return -1;
}

/* The master at addr:port, added (not connected yet) when new; -1 when the list is full. */
static int node_find_or_add(struct ps_fleet *f, const char *addr, size_t alen, uint16_t port)
{
	struct ps_fleet_cluster *cl = f->cl;
	struct ps_fleet_cnode *n;
	int i;

	if (!alen || alen >= sizeof(cl->node[0].addr))
		return -1;
	for (i = 0; i < cl->nnodes; i++)
		if (cl->node[i].port == port && strlen(cl->node[i].addr) == alen &&
		    !memcmp(cl->node[i].addr, addr, alen))
			return i;
	if (cl->nnodes == PS_FLEET_MAX_CNODES)
		return -1;
	n = &cl->node[cl->nnodes];
	memset(n, 0, sizeof(*n));
	memcpy(n->addr, addr, alen);
	n->addr[alen] = 0;
	n->port = port;
	n->state = PS_FLEET_DOWN;
	return cl->nnodes++;
}

/* No context from here on; the next attempt after a backoff. */
static void node_went_down(struct ps_fleet *f, int i)
{
	struct ps_fleet_cnode *n = &f->cl->node[i];

	n->ac = NULL;
	n->state = PS_FLEET_DOWN;
	n->failed = true;
	n->backoff_ms = n->backoff_ms ? n->backoff_ms * 2 : PS_FLEET_BACKOFF_MIN_MS;
	if (n->backoff_ms > PS_FLEET_BACKOFF_MAX_MS)
		n->backoff_ms = PS_FLEET_BACKOFF_MAX_MS;
	n->next_attempt_ms = ps_mono_ms() + n->backoff_ms;
	n->disconnects++;
	f->disconnects++;
	f->cl->refresh = true;	/* its slots may be another's now */
}

static void node_drop(struct ps_fleet *f, int i)
{
	redisAsyncContext *ac = f->cl->node[i].ac;

	if (!ac)
		return;
	f->cl->node[i].ac = NULL;
	/* Our callbacks see no fleet from here: the pending calls fail. */
	ac->data = NULL;
	redisAsyncFree(ac);
	node_went_down(f, i);
}

static void probe_drop(struct ps_fleet *f)
{
	redisAsyncContext *ac = f->cl->probe;

	if (!ac)
		return;
	f->cl->probe = NULL;
	ac->data = NULL;
	redisAsyncFree(ac);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct ps_fleet *f = ac->data;
	int i;

	if (!f || !f->cl)
		return;
	if (ac == f->cl->probe) {
		f->cl->probe = NULL;
		f->cl->asking = false;
		return;
	}
	i = node_index(f, ac);
	if (i < 0)
		return;
	if (status != REDIS_OK)
		node_error(&f->cl->node[i], f, "connection lost", ac->errstr);
	node_went_down(f, i);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct ps_fleet *f = ac->data;
	int i;

	if (!f || !f->cl || status == REDIS_OK)
		return;
	/* hiredis frees the context after this. */
	i = node_index(f, ac);
	if (i >= 0) {
		node_error(&f->cl->node[i], f, "cannot connect", ac->errstr);
		node_went_down(f, i);
		return;
	}
	if (ac == f->cl->probe) {
		f->cl->probe = NULL;
		f->cl->asking = false;
	}
	snprintf(f->last_error, sizeof(f->last_error), "cluster seed: cannot connect: %s",
		 ac->errstr);
	f->errors++;
}

/* AUTH: an error is the configuration's, said and the connection dropped. */
static void on_setup_reply(redisAsyncContext *ac, void *r, void *priv)
{
	struct ps_fleet *f = ac->data;
	redisReply *rep = r;

	(void)priv;
	if (!f || !rep || rep->type != REDIS_REPLY_ERROR)
		return;
	snprintf(f->last_error, sizeof(f->last_error), "redis refused the set-up: %s", rep->str);
	f->errors++;
	pr_warn("penstockd: fleet: %s\n", f->last_error);
	redisAsyncDisconnect(ac);
}

/* CLUSTER SLOTS: [[start, end, [ip, port, id, ...], replicas...], ...]. */
static void on_slots(redisAsyncContext *ac, void *r, void *priv)
{
	struct ps_fleet *f = ac->data;
	struct ps_fleet_cluster *cl;
	redisReply *rep = r;
	size_t i;
	int k;

	(void)priv;
	if (!f || !f->cl)
		return;
	cl = f->cl;
	cl->asking = false;
	if (!rep)
		return;
	if (rep->type != REDIS_REPLY_ARRAY) {
		snprintf(f->last_error, sizeof(f->last_error), "CLUSTER SLOTS: %s",
			 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
		f->errors++;
		cl->refresh = true;
		if (ac == cl->probe)
			redisAsyncDisconnect(ac);
		return;
	}
	memset(cl->slot_node, 0, sizeof(cl->slot_node));
	for (k = 0; k < cl->nnodes; k++)
		cl->node[k].slots = 0;
	for (i = 0; i < rep->elements; i++) {
		redisReply *e = rep->element[i], *m;
		const char *addr;
		size_t alen;
		long long lo, hi, s;
		int n;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER)
			continue;
		m = e->element[2];
		if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
		    m->element[0]->type != REDIS_REPLY_STRING ||
		    m->element[1]->type != REDIS_REPLY_INTEGER || m->element[1]->integer < 1 ||
		    m->element[1]->integer > 65535)
			continue;
		addr = m->element[0]->str;
		alen = m->element[0]->len;
		if (!alen) {	/* "": the node we asked does not know its own address */
			addr = ac->c.tcp.host;
			alen = addr ? strlen(addr) : 0;
		}
		n = node_find_or_add(f, addr, alen, m->element[1]->integer);
		if (n < 0)
			continue;
		lo = e->element[0]->integer;
		hi = e->element[1]->integer;
		for (s = lo < 0 ? 0 : lo; s <= hi && s < PS_FLEET_SLOTS; s++)
			cl->slot_node[s] = n + 1;
		cl->node[n].slots += hi >= lo ? (uint32_t)(hi - lo + 1) : 0;
	}
	cl->slots_known = true;
	cl->maps++;
	if (ac == cl->probe)
		redisAsyncDisconnect(ac);
}

static void on_script(redisAsyncContext *ac, void *r, void *priv)
{
	struct ps_fleet *f = ac->data;
	struct ps_fleet_cnode *n;
	redisReply *rep = r;
	int i;

	(void)priv;
	if (!f || !f->cl || !rep || (i = node_index(f, ac)) < 0)
		return;
	n = &f->cl->node[i];
	if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
		node_error(n, f, "SCRIPT LOAD", rep->type == REDIS_REPLY_ERROR ? rep->str : "no SHA1");
		redisAsyncDisconnect(ac);
		return;
	}
	memcpy(f->sha, rep->str, 40);	/* the same on every node: the script's SHA1 */
	f->sha[40] = 0;
	n->state = PS_FLEET_UP;
	n->backoff_ms = 0;
	n->connects++;
	f->connects++;
	/* Whatever it kept or lost meanwhile, its buckets are written again, whole. */
	ps_fleet_resync_from(f, n->ok_wall_ms);
	pr_info("penstockd: fleet: connected to the cluster's master %s:%u (%u slots)\n", n->addr,
		n->port, n->slots);
}

static redisAsyncContext *open_ctx(struct ps_fleet *f, const char *addr, uint16_t port,
				   char *why, size_t whylen)
{
	redisAsyncContext *ac = redisAsyncConnect(addr, port);

	if (!ac) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (ac->err) {
		snprintf(why, whylen, "%s", ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = f;
	if (ps_redis_ev_attach(ac, f->epfd)) {
		snprintf(why, whylen, "epoll");
		ac->data = NULL;
		redisAsyncFree(ac);
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (f->password[0])
		redisAsyncCommand(ac, on_setup_reply, NULL, "AUTH %s", f->password);
	return ac;
}

static void node_connect(struct ps_fleet *f, int i)
{
	struct ps_fleet_cnode *n = &f->cl->node[i];
	char why[128];
	redisAsyncContext *ac;

	n->attempt_ms = ps_mono_ms();
	ac = open_ctx(f, n->addr, n->port, why, sizeof(why));
	if (!ac) {
		node_error(n, f, "cannot connect", why);
		node_went_down(f, i);
		return;
	}
	n->ac = ac;
	n->state = PS_FLEET_CONNECTING;
	redisAsyncCommand(ac, on_script, NULL, "SCRIPT LOAD %s", ps_fleet_script);
}

/* The map, asked of a master that answers, else of a seed (or a master known) in turn. */
static void ask_map(struct ps_fleet *f, uint64_t mono)
{
	struct ps_fleet_cluster *cl = f->cl;
	int i, total;
	char why[128];

	if (cl->asking)
		return;
	for (i = 0; i < cl->nnodes; i++) {
		redisAsyncContext *ac = cl->node[i].ac;

		if (ac && cl->node[i].state == PS_FLEET_UP &&
		    redisAsyncCommand(ac, on_slots, NULL, "CLUSTER SLOTS") == REDIS_OK) {
			cl->asking = true;
			cl->refresh = false;
			return;
		}
	}
	if (cl->probe || mono < cl->next_probe_ms)
		return;
	total = cl->nseeds + cl->nnodes;
	i = cl->next_seed++ % total;
	cl->next_probe_ms = mono + PS_FLEET_BACKOFF_MIN_MS;
	cl->probe_ms = mono;
	if (i < cl->nseeds)
		cl->probe = open_ctx(f, cl->seed_addr[i], cl->seed_port[i], why, sizeof(why));
	else
		cl->probe = open_ctx(f, cl->node[i - cl->nseeds].addr,
				     cl->node[i - cl->nseeds].port, why, sizeof(why));
	if (!cl->probe) {
		snprintf(f->last_error, sizeof(f->last_error), "cluster seed: cannot connect: %s",
			 why);
		f->errors++;
		return;
	}
	if (redisAsyncCommand(cl->probe, on_slots, NULL, "CLUSTER SLOTS") == REDIS_OK) {
		cl->asking = true;
		cl->refresh = false;
	}
}

static bool node_usable(const struct ps_fleet *f, const struct ps_fleet_cnode *n, uint64_t now_ms)
{
	return n->state == PS_FLEET_UP && n->ok_wall_ms &&
	       now_ms - n->ok_wall_ms <= f->cfg->fleet.stale_after * 1000;
}

/* fleet_node_down once a master has not been usable for stale_after; fleet_node_up when it is. */
static void say_nodes(struct ps_fleet *f, uint64_t now_ms)
{
	int i;

	for (i = 0; i < f->cl->nnodes; i++) {
		struct ps_fleet_cnode *n = &f->cl->node[i];
		char node[80];
		json_t *ev;

		if (!n->slots && !n->said_down)
			continue;
		if (node_usable(f, n, now_ms)) {
			if (n->said_down) {
				snprintf(node, sizeof(node), "%s:%u", n->addr, n->port);
				ev = json_pack("{s:s, s:i, s:I}", "node", node, "slots", (int)n->slots,
					       "down_ms", (json_int_t)(now_ms - n->down_since_ms));
				pr_info("penstockd: fleet: the cluster's master %s answers again\n", node);
				ps_fleet_alert(f, now_ms, "fleet_node_up", ev);
				json_decref(ev);
			}
			n->said_down = false;
			n->down_since_ms = 0;
			continue;
		}
		if (!n->down_since_ms)
			n->down_since_ms = now_ms;
		if (n->said_down || now_ms - n->down_since_ms <= f->cfg->fleet.stale_after * 1000)
			continue;
		n->said_down = true;
		snprintf(node, sizeof(node), "%s:%u", n->addr, n->port);
		ev = json_pack("{s:s, s:i, s:s, s:s}", "node", node, "slots", (int)n->slots, "fleet",
			       "local limits only for the subjects of its slots", "error",
			       n->last_error);
		pr_warn("penstockd: fleet: no answer from the cluster's master %s (%s): its subjects "
			"on local limits and detection only\n", node,
			n->last_error[0] ? n->last_error : "slow");
		ps_fleet_alert(f, now_ms, "fleet_node_down", ev);
		json_decref(ev);
	}
}

void ps_fleet_cluster_tick(struct ps_fleet *f, uint64_t now_ms)
{
	struct ps_fleet_cluster *cl = f->cl;
	uint64_t mono = ps_mono_ms();
	bool up = false, any = false;
	int i;

	if (cl->probe && mono - cl->probe_ms > PS_FLEET_CONNECT_TIMEOUT_MS) {
		snprintf(f->last_error, sizeof(f->last_error), "cluster seed: timed out");
		f->errors++;
		probe_drop(f);
		cl->asking = false;
	}
	if (!cl->slots_known || cl->refresh)
		ask_map(f, mono);
	for (i = 0; i < cl->nnodes; i++) {
		struct ps_fleet_cnode *n = &cl->node[i];

		if (!n->ac && n->slots && mono >= n->next_attempt_ms)
			node_connect(f, i);
		if (n->ac && n->state == PS_FLEET_CONNECTING &&
		    mono - n->attempt_ms > PS_FLEET_CONNECT_TIMEOUT_MS) {
			node_error(n, f, "cannot connect", "timed out");
			node_drop(f, i);
		}
		up |= n->state == PS_FLEET_UP;
		any |= n->ac != NULL;
	}
	if (cl->slots_known && f->sha[0] && up)
		f->state = PS_FLEET_UP;
	else
		f->state = any || cl->probe ? PS_FLEET_CONNECTING : PS_FLEET_DOWN;
	say_nodes(f, now_ms);
}

int ps_fleet_cluster_node_of(struct ps_fleet *f, uint16_t slot)
{
	int i = f->cl->slot_node[slot & (PS_FLEET_SLOTS - 1)] - 1;

	if (i < 0 || !f->cl->node[i].ac || f->cl->node[i].state != PS_FLEET_UP)
		return -1;
	return i;
}

redisAsyncContext *ps_fleet_cluster_ctx(struct ps_fleet *f, int node)
{
	return node >= 0 && node < f->cl->nnodes ? f->cl->node[node].ac : NULL;
}

/* "MOVED 3999 127.0.0.1:6381" or "ASK ...": 1 moved, 2 ask, 0 neither; the slot and node. */
static int parse_redirect(struct ps_fleet *f, const redisReply *rep, uint16_t *slot, int *node)
{
	const char *s = rep->str, *sp, *colon;
	char *end;
	long v, port;
	int kind;

	if (rep->type != REDIS_REPLY_ERROR || !s)
		return 0;
	if (!strncmp(s, "MOVED ", 6))
		kind = 1, s += 6;
	else if (!strncmp(s, "ASK ", 4))
		kind = 2, s += 4;
	else
		return 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != ' ' || v < 0 || v >= PS_FLEET_SLOTS)
		return 0;
	sp = end + 1;
	colon = strrchr(sp, ':');
	if (!colon)
		return 0;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return 0;
	*slot = v;
	*node = node_find_or_add(f, sp, colon - sp, port);
	return *node < 0 ? 0 : kind;
}

bool ps_fleet_cluster_redirect(struct ps_fleet *f, const redisReply *rep, const char *cmd,
			       size_t len, redisCallbackFn *fn, void *priv, int *node,
			       int *redirects)
{
	uint16_t slot;
	int kind, i;
	redisAsyncContext *ac;

	kind = parse_redirect(f, rep, &slot, &i);
	if (!kind)
		return false;
	if (kind == 1) {
		f->cl->slot_node[slot] = i + 1;
		f->cl->refresh = true;
		f->cl->moved++;
	} else {
		f->cl->asked++;
	}
	if (++*redirects > MAX_REDIRECTS)
		return false;
	ac = f->cl->node[i].ac;
	if (!ac || f->cl->node[i].state != PS_FLEET_UP)
		return false;	/* not connected yet: the next push */
	if (kind == 2 && redisAsyncCommand(ac, NULL, NULL, "ASKING") != REDIS_OK)
		return false;
	if (redisAsyncFormattedCommand(ac, fn, priv, cmd, len) != REDIS_OK)
		return false;
	*node = i;
	return true;
}

void ps_fleet_cluster_note(struct ps_fleet *f, const redisReply *rep)
{
	uint16_t slot;
	int i;

	if (!f->cluster || !rep || parse_redirect(f, rep, &slot, &i) != 1)
		return;
	f->cl->slot_node[slot] = i + 1;
	f->cl->refresh = true;
	f->cl->moved++;
}

void ps_fleet_cluster_push_begin(struct ps_fleet *f)
{
	int i;

	f->cl->unmapped = false;
	for (i = 0; i < f->cl->nnodes; i++)
		f->cl->node[i].failed = f->cl->node[i].state != PS_FLEET_UP;
}

void ps_fleet_cluster_failed(struct ps_fleet *f, int node)
{
	if (node >= 0 && node < f->cl->nnodes)
		f->cl->node[node].failed = true;
}

void ps_fleet_cluster_failed_slot(struct ps_fleet *f, uint16_t slot)
{
	int i = f->cl->slot_node[slot & (PS_FLEET_SLOTS - 1)] - 1;

	if (i < 0)
		f->cl->unmapped = true;
	else
		f->cl->node[i].failed = true;
}

bool ps_fleet_cluster_whole_but_down(const struct ps_fleet *f)
{
	int i;

	if (f->cl->unmapped)
		return false;
	for (i = 0; i < f->cl->nnodes; i++)
		if (f->cl->node[i].failed && f->cl->node[i].state == PS_FLEET_UP)
			return false;
	return true;
}

bool ps_fleet_cluster_push_done(struct ps_fleet *f, uint64_t push_wall_ms)
{
	bool any = false;
	int i;

	for (i = 0; i < f->cl->nnodes; i++) {
		struct ps_fleet_cnode *n = &f->cl->node[i];

		if (n->failed || n->state != PS_FLEET_UP)
			continue;
		n->ok_wall_ms = push_wall_ms;
		any = true;
	}
	return any;
}

int ps_fleet_cluster_down(const struct ps_fleet *f, uint64_t now_ms)
{
	int i, n = 0;

	for (i = 0; i < f->cl->nnodes; i++)
		n += f->cl->node[i].slots && !node_usable(f, &f->cl->node[i], now_ms);
	return n;
}

int ps_fleet_cluster_nodes(const struct ps_fleet *f, uint64_t now_ms,
			   struct ps_fleet_node_state *out, int max)
{
	int i, n = 0;

	for (i = 0; i < f->cl->nnodes && n < max; i++) {
		const struct ps_fleet_cnode *c = &f->cl->node[i];

		if (!c->slots)
			continue;
		snprintf(out[n].node, sizeof(out[n].node), "%s:%u", c->addr, c->port);
		out[n++].usable = node_usable(f, c, now_ms);
	}
	return n;
}

static const char *const state_names[] = {
	[PS_FLEET_OFF] = "off",
	[PS_FLEET_DOWN] = "down",
	[PS_FLEET_CONNECTING] = "connecting",
	[PS_FLEET_UP] = "up",
};

json_t *ps_fleet_cluster_json(const struct ps_fleet *f, uint64_t now_ms)
{
	const struct ps_fleet_cluster *cl = f->cl;
	json_t *o, *nodes = json_array();
	int i;

	for (i = 0; nodes && i < cl->nnodes; i++) {
		const struct ps_fleet_cnode *n = &cl->node[i];
		char node[80];

		snprintf(node, sizeof(node), "%s:%u", n->addr, n->port);
		json_array_append_new(nodes, json_pack("{s:s, s:s, s:i, s:b, s:o, s:I, s:I, s:s}",
			"node", node, "state", state_names[n->state], "slots", (int)n->slots,
			"usable", node_usable(f, n, now_ms), "answered_ms_ago",
			n->ok_wall_ms ? json_integer(now_ms - n->ok_wall_ms) : json_null(),
			"connects", (json_int_t)n->connects, "disconnects",
			(json_int_t)n->disconnects, "last_error", n->last_error));
	}
	o = json_pack("{s:b, s:i, s:I, s:I, s:I}", "map", cl->slots_known, "nodes_down",
		      ps_fleet_cluster_down(f, now_ms), "moved", (json_int_t)cl->moved, "asked",
		      (json_int_t)cl->asked, "maps", (json_int_t)cl->maps);
	if (o && nodes)
		json_object_set_new(o, "nodes", nodes);
	else
		json_decref(nodes);
	return o;
}

/* A seed's address, resolved once here: no name lookup on the loop. */
static int resolve(const struct ps_fleet_node *n, char *out, size_t len, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int r = getaddrinfo(n->host, NULL, &hints, &res);

	if (r || !res) {
		snprintf(err, errlen, "fleet.redis: cannot resolve %s: %s", n->host,
			 gai_strerror(r));
		return -EINVAL;
	}
	if (res->ai_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, out, len);
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out, len);
	freeaddrinfo(res);
	return 0;
}

int ps_fleet_cluster_setup(struct ps_fleet *f, const struct ps_fleet_url *u, char *err,
			   size_t errlen)
{
	struct ps_fleet_cluster *cl = f->cl;
	int i, r;

	if (!cl) {
		cl = calloc(1, sizeof(*cl));
		if (!cl) {
			snprintf(err, errlen, "fleet: out of memory");
			return -ENOMEM;
		}
		f->cl = cl;
	}
	for (i = 0; i < u->nnodes; i++) {
		r = resolve(&u->nodes[i], cl->seed_addr[i], sizeof(cl->seed_addr[i]), err, errlen);
		if (r)
			return r;
		cl->seed_port[i] = u->nodes[i].port;
	}
	cl->nseeds = u->nnodes;
	f->cluster = true;
	return 0;
}

void ps_fleet_cluster_drop(struct ps_fleet *f)
{
	int i;

	if (!f->cl)
		return;
	probe_drop(f);
	f->cl->asking = false;
	for (i = 0; i < f->cl->nnodes; i++) {
		node_drop(f, i);
		f->cl->node[i].backoff_ms = 0;
		f->cl->node[i].next_attempt_ms = 0;
	}
}

void ps_fleet_cluster_free(struct ps_fleet *f)
{
	ps_fleet_cluster_drop(f);
	free(f->cl);
	f->cl = NULL;
	f->cluster = false;
}
