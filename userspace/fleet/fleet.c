// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fleet's connection to Redis and its pushes (fleet.h). One
 * asynchronous hiredis context on penstockd's loop: connect, AUTH,
 * SELECT and SCRIPT LOAD go out at once; the script's SHA1 coming back
 * makes the fleet up. With Sentinels, a connection to one of them (in
 * turn) asks for the master's address first, and a lost connection to
 * the master asks again. With a Cluster, cluster.c holds a context per
 * master, and each subject's call goes to the master of its slot (a
 * subject a call: a script's keys share a slot). A lost connection is
 * tried again after a backoff (0.5 s doubling to 10 s); a connect that
 * has not completed in 2 s is given up; a push unanswered for 30 s drops
 * the connection (a Cluster's: every master's).
 *
 * A push: for each client active in the last two minutes (since the last
 * whole answer minus two minutes after an outage), its four buckets
 * (keys.h) and what this host counted in each, in batches of
 * PUSH_BATCH subjects, one EVALSHA each. Counts Redis already holds
 * (the same hash as acknowledged) go as "-": read, not written again.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "common/clock.h"
#include "common/log.h"
#include "fleet/cluster.h"
#include "fleet/fleet.h"
#include "fleet/redis_ev.h"
#include "fleet/url.h"

#define PUSH_BATCH		64	/* subjects per EVALSHA: 256 keys */
#define PUSH_WINDOW		64	/* EVALSHA in flight at most: about 900 KB queued */
#define PUSH_WINDOW_CLUSTER	512	/* a Cluster's: a subject a call */
#define CONNECT_TIMEOUT_MS	PS_FLEET_CONNECT_TIMEOUT_MS
#define PUSH_TIMEOUT_MS		30000
#define BACKOFF_MIN_MS		PS_FLEET_BACKOFF_MIN_MS
#define BACKOFF_MAX_MS		PS_FLEET_BACKOFF_MAX_MS
#define ACTIVE_S		PS_FLEET_ACTIVE_S

/*
 * KEYS: four per subject (keys.h's slots). ARGV: this host's id, the
 * minute and day TTLs, then per key this host's requests, egress bytes
 * and tokens in it ("-": Redis has them already, "0": none, nothing
 * written). Returns, per key, the fleet's requests, egress bytes and
 * tokens: the sums of the hosts' fields ("r:", "e:", "t:").
 */
const char ps_fleet_script[] =
	"local rf, ef, tf = 'r:' .. ARGV[1], 'e:' .. ARGV[1], 't:' .. ARGV[1]\n"
	"local out = {}\n"
	"for i = 1, #KEYS do\n"
	"  local k, r, e, t = KEYS[i], ARGV[1 + 3 * i], ARGV[2 + 3 * i], ARGV[3 + 3 * i]\n"
	"  if r ~= '-' and (r ~= '0' or e ~= '0' or t ~= '0') then\n"
	"    redis.call('HSET', k, rf, r, ef, e, tf, t)\n"
	"    redis.call('EXPIRE', k, (i - 1) % 4 < 2 and ARGV[2] or ARGV[3])\n"
	"  end\n"
	"  local sr, se, st = 0, 0, 0\n"
	"  local all = redis.call('HGETALL', k)\n"
	"  for j = 1, #all, 2 do\n"
	"    local c = string.byte(all[j])\n"
	"    if c == 114 then sr = sr + tonumber(all[j + 1])\n"
	"    elseif c == 101 then se = se + tonumber(all[j + 1])\n"
	"    elseif c == 116 then st = st + tonumber(all[j + 1]) end\n"
	"  end\n"
	"  out[#out + 1] = sr\n"
	"  out[#out + 1] = se\n"
	"  out[#out + 1] = st\n"
	"end\n"
	"return out\n";

/* One EVALSHA in flight: the records it is about. */
struct batch {
	struct ps_fleet *f;
	uint32_t push;
	uint32_t minute;
	uint64_t wall_ms;	/* its push's start */
	int node;		/* a Cluster: the master it went to */
	int redirects;
	char *cmd;		/* a Cluster: the call, to send it again where MOVED or ASK says */
	size_t cmdlen;
	uint32_t n;
	uint32_t idx[PUSH_BATCH];
	uint64_t sig[PUSH_BATCH];
};

static void set_error(struct ps_fleet *f, const char *what, const char *detail)
{
	snprintf(f->last_error, sizeof(f->last_error), "%s%s%s", what, detail ? ": " : "",
		 detail ? detail : "");
	f->errors++;
}

/* Whatever the state, no context from here on; the next attempt after a backoff. */
static void went_down(struct ps_fleet *f)
{
	uint64_t now = ps_mono_ms();

	f->ac = NULL;
	f->state = PS_FLEET_DOWN;
	f->inflight = 0;
	if (f->sentinel && !f->asking)
		f->master_known = false;	/* it may have failed over: ask again */
	if (f->sentinel && f->asking && !f->master_known)
		f->next_sentinel = (f->next_sentinel + 1) % f->nsentinels;
	f->backoff_ms = f->backoff_ms ? f->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (f->backoff_ms > BACKOFF_MAX_MS)
		f->backoff_ms = BACKOFF_MAX_MS;
	f->next_attempt_ms = now + f->backoff_ms;
	f->disconnects++;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct ps_fleet *f = ac->data;
	bool handed_over;

	if (!f)
		return;
	handed_over = f->asking && f->master_known;
	if (status != REDIS_OK)
		set_error(f, "connection lost", ac->errstr);
	went_down(f);
	if (handed_over) {
		/* A Sentinel named the master: connect to it at the next tick. */
		f->disconnects--;
		f->backoff_ms = 0;
		f->next_attempt_ms = 0;
	}
}

/* SENTINEL get-master-addr-by-name: [address, port], or nil for an unknown master. */
static void on_master(redisAsyncContext *ac, void *r, void *priv)
{
	struct ps_fleet *f = ac->data;
	redisReply *rep = r;
	long port;

	(void)priv;
	if (!f || !rep)
		return;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING ||
	    rep->element[0]->len >= sizeof(f->addr) ||
	    (port = strtol(rep->element[1]->str, NULL, 10)) < 1 || port > 65535) {
		set_error(f, "Sentinel", rep->type == REDIS_REPLY_ERROR ? rep->str :
					 "no master of that name");
		redisAsyncDisconnect(ac);
		return;
	}
	memcpy(f->addr, rep->element[0]->str, rep->element[0]->len);
	f->addr[rep->element[0]->len] = 0;
	f->port = port;
	f->master_known = true;
	pr_info("penstockd: fleet: Sentinel %s:%u names %s:%u the master of %s\n",
		f->sentinel_addr[f->next_sentinel], f->sentinel_port[f->next_sentinel], f->addr,
		f->port, f->master);
	redisAsyncDisconnect(ac);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct ps_fleet *f = ac->data;

	if (!f || status == REDIS_OK)
		return;
	/* hiredis frees the context after this. */
	set_error(f, "cannot connect", ac->errstr);
	went_down(f);
}

/* AUTH and SELECT: an error is the configuration's, said and the connection dropped. */
static void on_setup_reply(redisAsyncContext *ac, void *r, void *priv)
{
	struct ps_fleet *f = ac->data;
	redisReply *rep = r;

	(void)priv;
	if (!f || !rep || rep->type != REDIS_REPLY_ERROR)
		return;
	set_error(f, "redis refused the set-up", rep->str);
	pr_warn("penstockd: fleet: %s\n", f->last_error);
	redisAsyncDisconnect(ac);
}

static void on_script(redisAsyncContext *ac, void *r, void *priv)
{
	struct ps_fleet *f = ac->data;
	redisReply *rep = r;

	(void)priv;
	if (!f || !rep)
		return;
	if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
		set_error(f, "SCRIPT LOAD", rep->type == REDIS_REPLY_ERROR ? rep->str : "no SHA1");
		redisAsyncDisconnect(ac);
		return;
	}
	memcpy(f->sha, rep->str, 40);
	f->sha[40] = 0;
	f->state = PS_FLEET_UP;
	f->backoff_ms = 0;
	f->connects++;
	/*
	 * Whatever Redis kept or lost meanwhile, every bucket since the last
	 * whole answer is written again: the host's fields are whole counts,
	 * so this catches up without counting anything twice.
	 */
	f->resync = false;
	ps_fleet_resync_from(f, f->ok_wall_ms);
	pr_info("penstockd: fleet: connected to %s:%u\n", f->addr, f->port);
}

void ps_fleet_resync_from(struct ps_fleet *f, uint64_t ok_wall_ms)
{
	uint32_t from = ok_wall_ms ? ok_wall_ms / 1000 - ACTIVE_S : 0;

	if (!f->resync || from < f->resync_from)
		f->resync_from = from;
	f->resync = true;
}

static void connect_now(struct ps_fleet *f)
{
	const struct ps_fleet_url *u = NULL;
	struct ps_fleet_url url;
	redisAsyncContext *ac;

	ps_fleet_url_parse(f->cfg->fleet.redis, strlen(f->cfg->fleet.redis), &url);
	u = &url;
	f->attempt_ms = ps_mono_ms();
	f->asking = f->sentinel && !f->master_known;
	if (f->asking)
		ac = redisAsyncConnect(f->sentinel_addr[f->next_sentinel],
				       f->sentinel_port[f->next_sentinel]);
	else
		ac = redisAsyncConnect(f->addr, f->port);
	if (!ac) {
		set_error(f, "cannot connect", "out of memory");
		went_down(f);
		return;
	}
	if (ac->err) {
		set_error(f, "cannot connect", ac->errstr);
		redisAsyncFree(ac);
		went_down(f);
		return;
	}
	ac->data = f;
	if (ps_redis_ev_attach(ac, f->epfd)) {
		set_error(f, "cannot connect", "epoll");
		ac->data = NULL;
		redisAsyncFree(ac);
		went_down(f);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	f->ac = ac;
	f->state = PS_FLEET_CONNECTING;
	if (f->asking) {
		redisAsyncCommand(ac, on_master, NULL, "SENTINEL get-master-addr-by-name %s",
				  f->master);
		return;
	}
	if (f->password[0])
		redisAsyncCommand(ac, on_setup_reply, NULL, "AUTH %s", f->password);
	if (u->db)
		redisAsyncCommand(ac, on_setup_reply, NULL, "SELECT %d", u->db);
	redisAsyncCommand(ac, on_script, NULL, "SCRIPT LOAD %s", ps_fleet_script);
}

/* FNV-1a over what a subject's push would write. */
static uint64_t sig_of(const uint32_t b[PS_FB_N], const uint64_t v[PS_FB_N][PS_FV_N])
{
	const unsigned char *p;
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	p = (const unsigned char *)b;
	for (i = 0; i < sizeof(uint32_t) * PS_FB_N; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	p = (const unsigned char *)v;
	for (i = 0; i < sizeof(uint64_t) * PS_FB_N * PS_FV_N; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static void push_more(struct ps_fleet *f);

static void free_batch(struct batch *b)
{
	free(b->cmd);
	free(b);
}

static void on_batch(redisAsyncContext *ac, void *r, void *priv)
{
	struct batch *b = priv;
	struct ps_fleet *f = b->f;
	redisReply *rep = r;
	uint32_t i, b_push = b->push;
	int k, v;

	/* A Cluster's slot elsewhere (MOVED) or moving (ASK): the call goes there. */
	if (f->cluster && rep && rep->type == REDIS_REPLY_ERROR && b->cmd &&
	    ps_fleet_cluster_redirect(f, rep, b->cmd, b->cmdlen, on_batch, b, &b->node,
				      &b->redirects))
		return;
	if (b->push == f->push && f->inflight)
		f->inflight--;
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != (size_t)b->n * PS_FB_N * PS_FV_N) {
		if (rep)
			set_error(f, "EVALSHA", rep->type == REDIS_REPLY_ERROR ? rep->str :
								       "unexpected reply");
		/* The script flushed behind our back: a new connection loads it again. */
		if (rep && rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8) &&
		    ac->data)
			redisAsyncDisconnect(ac);
		f->push_failed = true;
		k = b->node;
		free_batch(b);
		if (f->cluster) {
			/* One master's error: the others' subjects go on (a connection lost: the next push). */
			ps_fleet_cluster_failed(f, k);
			if (b_push == f->push && rep)
				push_more(f);
		}
		return;
	}
	for (i = 0; i < b->n; i++) {
		struct ps_fleet_sub *s;

		if (b->idx[i] >= f->nsub)
			continue;
		s = &f->sub[b->idx[i]];
		for (k = 0; k < PS_FB_N; k++)
			for (v = 0; v < PS_FV_N; v++) {
				redisReply *e = rep->element[(i * PS_FB_N + k) * PS_FV_N + v];

				s->tot[k][v] = e->type == REDIS_REPLY_INTEGER && e->integer > 0 ?
						       (uint64_t)e->integer : 0;
			}
		s->tot_minute = b->minute;
		s->tot_tick = b->push;
		s->tot_wall_ms = b->wall_ms;
		s->sent_sig = b->sig[i];
	}
	free_batch(b);
	if (b_push == f->push) {
		f->progress_mono_ms = ps_mono_ms();
		push_more(f);
	}
}

/* Room for every record of the table in f->sub. */
static int grow_subs(struct ps_fleet *f)
{
	struct ps_fleet_sub *ns;
	uint32_t cap = f->table->cap;

	if (cap <= f->nsub)
		return 0;
	ns = realloc(f->sub, (size_t)cap * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	memset(ns + f->nsub, 0, (size_t)(cap - f->nsub) * sizeof(*ns));
	f->sub = ns;
	f->nsub = cap;
	return 0;
}

/* A push's arguments: EVALSHA sha nkeys, 4 keys a subject, host ttl ttl, 12 values a subject. */
enum { NK = PUSH_BATCH * PS_FB_N, NARG = 3 + NK + 3 + NK * PS_FV_N };
static char keys[NK][PS_FLEET_KEY_MAX];
static size_t keylen[NK];
static char vals[NK * PS_FV_N][24];
static size_t vallen[NK * PS_FV_N];
static const char *argv[NARG];
static size_t argvlen[NARG];

/* v in decimal at s (room for 21 bytes): its length. snprintf costs a push of a million. */
static size_t utoa(char *s, uint64_t v)
{
	char t[24];
	size_t n = 0, i;

	do {
		t[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		s[i] = t[n - 1 - i];
	s[n] = 0;
	return n;
}

/* Send batch b, its keys and values in keys and vals, on ac. */
static void send_batch(struct ps_fleet *f, struct batch *b, redisAsyncContext *ac)
{
	int nkeys = b->n * PS_FB_N, a = 3 + nkeys, argc = a + 3 + nkeys * PS_FV_N, q, len;
	char nk[16], mttl[16], dttl[16];
	char *cmd = NULL;

	snprintf(nk, sizeof(nk), "%d", nkeys);
	snprintf(mttl, sizeof(mttl), "%d", PS_FLEET_MIN_TTL);
	snprintf(dttl, sizeof(dttl), "%d", PS_FLEET_DAY_TTL);
	argv[0] = "EVALSHA";
	argv[1] = f->sha;
	argv[2] = nk;
	for (q = 0; q < 3; q++)
		argvlen[q] = strlen(argv[q]);
	for (q = 0; q < nkeys; q++) {
		argv[3 + q] = keys[q];
		argvlen[3 + q] = keylen[q];
	}
	argv[a] = f->host_id;
	argv[a + 1] = mttl;
	argv[a + 2] = dttl;
	for (q = 0; q < 3; q++)
		argvlen[a + q] = strlen(argv[a + q]);
	for (q = 0; q < nkeys * PS_FV_N; q++) {
		argv[a + 3 + q] = vals[q];
		argvlen[a + 3 + q] = vallen[q];
	}
	len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
	if (len < 0 || redisAsyncFormattedCommand(ac, on_batch, b, cmd, len) != REDIS_OK) {
		free(cmd);
		if (f->cluster)
			ps_fleet_cluster_failed(f, b->node);
		free(b);
		f->push_failed = true;
		return;
	}
	if (f->cluster) {
		b->cmd = cmd;	/* kept for a redirection */
		b->cmdlen = len;
	} else {
		free(cmd);
	}
	f->last_cmds++;
	f->last_bytes += len;
	f->cmds++;
	f->bytes += len;
	f->inflight++;
}

/* The push's whole answer came: the fleet's sums are fresh up to its start. */
static void push_done(struct ps_fleet *f)
{
	if (f->cursor < f->table->n || f->inflight)
		return;
	/*
	 * A Cluster: the masters that answered their part whole are fresh, the
	 * others not. Those down write theirs again whole when they are back
	 * (cluster.c): a resync ends when every master up answered whole.
	 */
	if (f->cluster && ps_fleet_cluster_push_done(f, f->push_wall_ms))
		f->ok_wall_ms = f->push_wall_ms;
	if (f->cluster && f->push_failed && ps_fleet_cluster_whole_but_down(f))
		f->resync = false;
	if (f->push_failed)
		return;
	f->ok_wall_ms = f->push_wall_ms;
	f->resync = false;
}

/*
 * Queue the push's next batches from the cursor until PUSH_WINDOW of them
 * are in flight: hiredis's output buffer stays small (it moves what is
 * left of it after every write), and the formatting of a push of a million
 * subjects is spread over the loop, a window at a time, as answers come.
 */
static void push_more(struct ps_fleet *f)
{
	uint32_t per_call = f->cluster ? 1 : PUSH_BATCH;
	uint32_t window = f->cluster ? PUSH_WINDOW_CLUSTER : PUSH_WINDOW;
	redisAsyncContext *ac = f->ac;
	struct timespec c0, c1;
	struct batch *b = NULL;
	int node = -1;

	if ((!f->ac && !f->cluster) || f->state != PS_FLEET_UP || grow_subs(f))
		return;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	for (; f->cursor < f->table->n && f->nsub > f->cursor; f->cursor++) {
		const struct ps_crec *r = &f->table->rec[f->cursor];
		uint64_t v[PS_FB_N][PS_FV_N];
		char subj[PS_FLEET_KEY_MAX / 2], prefix[PS_FLEET_KEY_MAX];
		uint32_t j, i = f->cursor;
		int plen, k, x;
		bool write;
		uint64_t sig;

		if (r->last_wall < f->cutoff || !r->minute)
			continue;
		if (!b && f->inflight >= window)
			break;
		ps_client_str(&r->key, subj, sizeof(subj));
		plen = ps_fleet_key_prefix(prefix, sizeof(prefix), f->cfg->fleet.name, subj);
		if (plen < 0 || plen + 24 > PS_FLEET_KEY_MAX)
			continue;
		if (f->cluster) {
			/* The master of the subject's slot; down: its subjects wait for it. */
			uint16_t slot = ps_fleet_slot(prefix, plen);

			node = ps_fleet_cluster_node_of(f, slot);
			if (node < 0) {
				ps_fleet_cluster_failed_slot(f, slot);
				f->push_failed = true;
				continue;
			}
			ac = ps_fleet_cluster_ctx(f, node);
		}
		if (!b) {
			b = calloc(1, sizeof(*b));
			if (!b) {
				f->push_failed = true;
				break;
			}
			b->f = f;
			b->push = f->push;
			b->minute = f->bk[PS_FB_MIN];
			b->wall_ms = f->push_wall_ms;
			b->node = node;
		}
		for (k = 0; k < PS_FB_N; k++)
			for (x = 0; x < PS_FV_N; x++)
				v[k][x] = ps_fleet_local(f->table, r, k, f->bk[k], x);
		sig = sig_of(f->bk, v);
		write = f->force || sig != f->sub[i].sent_sig;
		j = b->n;
		for (k = 0; k < PS_FB_N; k++) {
			char *key = keys[j * PS_FB_N + k];

			memcpy(key, prefix, plen);
			memcpy(key + plen, f->suffix[k], f->suflen[k] + 1);
			keylen[j * PS_FB_N + k] = plen + f->suflen[k];
			for (x = 0; x < PS_FV_N; x++) {
				int q = (j * PS_FB_N + k) * PS_FV_N + x;

				if (write) {
					vallen[q] = utoa(vals[q], v[k][x]);
				} else {
					vals[q][0] = '-';
					vals[q][1] = 0;
					vallen[q] = 1;
				}
			}
		}
		f->last_writes += write;
		b->idx[j] = i;
		b->sig[j] = sig;
		b->n++;
		f->last_subjects++;
		if (b->n == per_call) {
			send_batch(f, b, ac);
			b = NULL;
		}
	}
	if (b)
		send_batch(f, b, ac);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	f->push_us += (c1.tv_sec - c0.tv_sec) * 1000000ULL + (c1.tv_nsec - c0.tv_nsec) / 1000;
	push_done(f);
}

/* A push begins: the subjects active since the cutoff, from the table's start. */
static void push(struct ps_fleet *f, uint64_t now_ms)
{
	uint32_t now_s = now_ms / 1000, i;

	ps_fleet_buckets(now_ms, f->bk);
	for (i = 0; i < PS_FB_N; i++)
		f->suflen[i] = ps_fleet_key_suffix(f->suffix[i], sizeof(f->suffix[i]), i, f->bk[i]);
	f->cutoff = now_s > ACTIVE_S ? now_s - ACTIVE_S : 0;
	if (f->resync && f->resync_from < f->cutoff)
		f->cutoff = f->resync_from;
	f->force = f->resync;
	f->push++;
	f->cursor = 0;
	f->inflight = 0;
	f->push_failed = false;
	f->push_mono_ms = f->progress_mono_ms = ps_mono_ms();
	f->push_wall_ms = now_ms;
	if (f->cluster)
		ps_fleet_cluster_push_begin(f);
	f->last_cmds = f->last_bytes = f->last_subjects = f->last_writes = 0;
	f->push_us = 0;
	push_more(f);
}

/* The first line of the password file, without its newline. */
static int read_password(const char *path, char *out, size_t len, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "re");
	size_t n;

	if (!fp) {
		snprintf(err, errlen, "fleet.password_file: cannot open %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	if (!fgets(out, len, fp))
		out[0] = 0;
	fclose(fp);
	n = strcspn(out, "\r\n");
	out[n] = 0;
	if (!n) {
		snprintf(err, errlen, "fleet.password_file: %s has no password on its first line",
			 path);
		return -EINVAL;
	}
	return 0;
}

/* The server's address, resolved once here: no name lookup on the loop. */
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

/* The URL for status and alerts: a password in it is nobody's business there. */
static void redact(const char *url, char *out, size_t len)
{
	const char *at = strchr(url, '@'), *scheme = strstr(url, "://");

	if (!at || !scheme || at < scheme) {
		snprintf(out, len, "%s", url);
		return;
	}
	snprintf(out, len, "%.*s***%s", (int)(scheme + 3 - url), url, at);
}

static int setup(struct ps_fleet *f, char *err, size_t errlen)
{
	const struct ps_fleet_cfg *fc = &f->cfg->fleet;
	struct ps_fleet_url u;
	const char *e;
	int r;

	f->password[0] = 0;
	redact(fc->redis, f->shown, sizeof(f->shown));
	snprintf(f->url, sizeof(f->url), "%s", fc->redis);
	if (!fc->redis[0]) {
		f->state = PS_FLEET_OFF;
		return 0;
	}
	e = ps_fleet_url_parse(fc->redis, strlen(fc->redis), &u);
	if (e) {
		snprintf(err, errlen, "fleet.redis: %s", e);
		return -EINVAL;
	}
	/* hiredis 0.14 (Debian 12) has no TLS (nor a Cluster client: cluster.c is one). */
	if (u.tls || fc->tls) {
		snprintf(err, errlen, "fleet.tls: this penstockd's hiredis (%d.%d) has no TLS; "
			 "expected redis:// without tls (a TLS tunnel such as stunnel on the host)",
			 HIREDIS_MAJOR, HIREDIS_MINOR);
		return -EOPNOTSUPP;
	}
	if (fc->host_id[0]) {
		snprintf(f->host_id, sizeof(f->host_id), "%s", fc->host_id);
	} else if (gethostname(f->host_id, sizeof(f->host_id))) {
		snprintf(f->host_id, sizeof(f->host_id), "host");
	}
	f->host_id[sizeof(f->host_id) - 1] = 0;
	if (fc->password_file[0]) {
		r = read_password(fc->password_file, f->password, sizeof(f->password), err, errlen);
		if (r)
			return r;
	} else {
		snprintf(f->password, sizeof(f->password), "%s", u.password);
	}
	f->sentinel = u.mode == PS_FLEET_SENTINEL;
	f->master_known = false;
	f->next_sentinel = 0;
	if (u.mode == PS_FLEET_CLUSTER) {
		r = ps_fleet_cluster_setup(f, &u, err, errlen);
		if (r)
			return r;
		f->addr[0] = 0;
		f->port = 0;
	} else if (f->sentinel) {
		int i;

		snprintf(f->master, sizeof(f->master), "%s", u.master);
		for (i = 0; i < u.nnodes; i++) {
			r = resolve(&u.nodes[i], f->sentinel_addr[i], sizeof(f->sentinel_addr[i]), err,
				    errlen);
			if (r)
				return r;
			f->sentinel_port[i] = u.nodes[i].port;
		}
		f->nsentinels = u.nnodes;
		f->addr[0] = 0;
		f->port = 0;
	} else {
		r = resolve(&u.nodes[0], f->addr, sizeof(f->addr), err, errlen);
		if (r)
			return r;
		f->port = u.nodes[0].port;
	}
	f->state = PS_FLEET_DOWN;
	f->next_attempt_ms = 0;
	return 0;
}

int ps_fleet_init(struct ps_fleet *f, const struct ps_config *cfg, struct ps_ctable *t,
		  char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	f->cfg = cfg;
	f->table = t;
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (f->epfd < 0) {
		snprintf(err, errlen, "fleet: epoll: %s", strerror(errno));
		return -errno;
	}
	return setup(f, err, errlen);
}

static void drop_connection(struct ps_fleet *f)
{
	redisAsyncContext *ac = f->ac;

	if (f->cluster) {
		ps_fleet_cluster_drop(f);
		f->state = PS_FLEET_DOWN;
		f->inflight = 0;
		return;
	}
	if (!ac)
		return;
	/* Our callbacks see no fleet from here: the batches are freed by hiredis's calls. */
	ac->data = NULL;
	f->ac = NULL;
	redisAsyncFree(ac);
	went_down(f);
}

void ps_fleet_free(struct ps_fleet *f)
{
	if (!f->cfg)
		return;		/* never set up */
	drop_connection(f);
	ps_fleet_cluster_free(f);
	if (f->epfd >= 0)
		close(f->epfd);
	f->epfd = -1;
	free(f->sub);
	f->sub = NULL;
	f->nsub = 0;
	free(f->remote);
	f->remote = NULL;
	f->nremote = 0;
	free(f->pfx);
	f->pfx = NULL;
	f->npfx = f->cap_pfx = 0;
}

int ps_fleet_reconfigure(struct ps_fleet *f, char *err, size_t errlen)
{
	char addr[sizeof(f->addr)], host[sizeof(f->host_id)], pw[sizeof(f->password)];
	uint16_t port = f->port;
	int r;

	memcpy(addr, f->addr, sizeof(addr));
	memcpy(host, f->host_id, sizeof(host));
	memcpy(pw, f->password, sizeof(pw));
	if (strcmp(f->url, f->cfg->fleet.redis)) {
		/* Another Redis: the connections of the last one go, a Cluster's map too. */
		drop_connection(f);
		ps_fleet_cluster_free(f);
		f->backoff_ms = 0;
		f->next_attempt_ms = 0;
	}
	r = setup(f, err, errlen);
	if (r || f->state == PS_FLEET_OFF || strcmp(addr, f->addr) || port != f->port ||
	    strcmp(host, f->host_id) || strcmp(pw, f->password)) {
		drop_connection(f);
		f->backoff_ms = 0;
		f->next_attempt_ms = 0;
		if (r || !f->cfg->fleet.redis[0])
			f->state = PS_FLEET_OFF;
	}
	return r;
}

bool ps_fleet_usable(const struct ps_fleet *f, uint64_t now_ms)
{
	return f->state == PS_FLEET_UP && f->ok_wall_ms &&
	       now_ms - f->ok_wall_ms <= f->cfg->fleet.stale_after * 1000;
}

static const char *const state_names[] = {
	[PS_FLEET_OFF] = "off",
	[PS_FLEET_DOWN] = "down",
	[PS_FLEET_CONNECTING] = "connecting",
	[PS_FLEET_UP] = "up",
};

void ps_fleet_alert(struct ps_fleet *f, uint64_t now_ms, const char *detector, json_t *ev)
{
	struct ps_alert al = { .time_ms = now_ms, .kind = PS_ALERT_CLIENT, .score = 0 };

	snprintf(al.subject, sizeof(al.subject), "fleet:%.*s", (int)sizeof(al.subject) - 7,
		 f->cfg->fleet.name);
	snprintf(al.detector, sizeof(al.detector), "%s", detector);
	snprintf(al.action, sizeof(al.action), "alert");
	al.evidence = ev;
	if (f->on_alert)
		f->on_alert(f->ctx, &al);
}

/* Said once when the fleet's sums are set aside, once when they are back. */
static void say_stale(struct ps_fleet *f, uint64_t now_ms, bool stale)
{
	json_t *ev;

	if (stale == f->stale)
		return;
	f->stale = stale;
	if (stale)
		f->stale_since_ms = now_ms;
	ev = json_pack("{s:s, s:s, s:s, s:s, s:I}", "redis", f->shown, "state",
		       state_names[f->state], "fleet", stale ? "local limits only" : "back",
		       "error", f->last_error,
		       "down_ms", (json_int_t)(stale ? 0 : now_ms - f->stale_since_ms));
	if (stale)
		pr_warn("penstockd: fleet: no answer from %s:%u (%s): local limits and detection only\n",
			f->addr, f->port, f->last_error[0] ? f->last_error : "slow");
	else
		pr_info("penstockd: fleet: %s:%u answers again\n", f->addr, f->port);
	ps_fleet_alert(f, now_ms, stale ? "fleet_down" : "fleet_up", ev);
	json_decref(ev);
}

void ps_fleet_tick(struct ps_fleet *f, uint64_t now_ms)
{
	uint64_t mono = ps_mono_ms();

	if (f->state == PS_FLEET_OFF)
		return;
	if (f->cluster) {
		ps_fleet_cluster_tick(f, now_ms);
	} else {
		if (!f->ac && mono >= f->next_attempt_ms)
			connect_now(f);
		if (f->ac && f->state == PS_FLEET_CONNECTING &&
		    mono - f->attempt_ms > CONNECT_TIMEOUT_MS) {
			set_error(f, "cannot connect", "timed out");
			drop_connection(f);
		}
	}
	if ((f->ac || f->cluster) && f->state == PS_FLEET_UP) {
		if (!f->inflight) {
			push(f, now_ms);
			f->pushed = true;
		} else {
			/* Slow: this tick's counts go with the next push, whole. */
			f->skipped++;
			if (mono - f->progress_mono_ms > PUSH_TIMEOUT_MS) {
				set_error(f, "no answer", "timed out");
				drop_connection(f);
			}
		}
	}
	/* Down from the start (no answer ever): stale once stale_after has passed. */
	if (!f->ok_wall_ms && !f->stale_since_ms)
		f->stale_since_ms = now_ms;
	if (!ps_fleet_usable(f, now_ms) &&
	    (f->ok_wall_ms || now_ms - f->stale_since_ms > f->cfg->fleet.stale_after * 1000))
		say_stale(f, now_ms, true);
	else if (ps_fleet_usable(f, now_ms))
		say_stale(f, now_ms, false);
}

void ps_fleet_events(struct ps_fleet *f)
{
	int i;

	for (i = 0; i < 64 && (f->ac || f->cluster); i++)
		if (!ps_redis_ev_run(f->epfd))
			break;
}

bool ps_fleet_raw_windows(const struct ps_fleet *f, const struct ps_crec *r, uint64_t now_ms,
			  double m[PS_FV_N], double d[PS_FV_N])
{
	uint32_t idx = r - f->table->rec, minute = now_ms / 60000;
	const struct ps_fleet_sub *s;
	int v;

	if (idx >= f->nsub)
		return false;
	s = &f->sub[idx];
	if (!s->tot_minute || s->tot_minute + 1 < minute)
		return false;
	/* A Cluster: a subject whose master has not answered lately is this host's alone. */
	if (f->cluster && now_ms - s->tot_wall_ms > f->cfg->fleet.stale_after * 1000)
		return false;
	for (v = 0; v < PS_FV_N; v++) {
		uint64_t mc = s->tot[PS_FB_MIN][v], mp = s->tot[PS_FB_MIN_PREV][v];
		uint64_t dc = s->tot[PS_FB_DAY][v], dp = s->tot[PS_FB_DAY_PREV][v];

		if (s->tot_minute + 1 == minute) {
			/* Sums of the minute before: it is the previous bucket now. */
			mp = mc;
			mc = 0;
			if ((minute - 1) / 1440 != minute / 1440) {
				dp = dc;
				dc = 0;
			}
		}
		m[v] = ps_fleet_window(mc, mp, now_ms, 0);
		d[v] = ps_fleet_window(dc, dp, now_ms, 1);
	}
	return true;
}

bool ps_fleet_windows(const struct ps_fleet *f, const struct ps_crec *r, uint64_t now_ms,
		      double m[PS_FV_N], double d[PS_FV_N])
{
	struct ps_cview lm, ld;
	int v;

	if (!ps_fleet_raw_windows(f, r, now_ms, m, d))
		return false;
	ps_crec_view(f->table, r, PS_WIN_1M, now_ms, &lm);
	ps_crec_view(f->table, r, PS_WIN_24H, now_ms, &ld);
	for (v = 0; v < PS_FV_N; v++) {
		double lmv, ldv;

		if (v == PS_FV_TOKENS) {
			lmv = lm.v[PS_F_TX_TOKENS] + lm.v[PS_F_RX_TOKENS];
			ldv = ld.v[PS_F_TX_TOKENS] + ld.v[PS_F_RX_TOKENS];
		} else {
			int lf = v == PS_FV_REQ ? PS_F_INFERENCE : PS_F_TX_BYTES;

			lmv = lm.v[lf];
			ldv = ld.v[lf];
		}
		if (m[v] < lmv)
			m[v] = lmv;
		if (d[v] < ldv)
			d[v] = ldv;
	}
	return true;
}

json_t *ps_fleet_status_json(const struct ps_fleet *f, uint64_t now_ms)
{
	json_t *o;

	if (f->state == PS_FLEET_OFF)
		return json_pack("{s:s}", "state", "off");
	o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "state", state_names[f->state],
		      "redis", f->shown, "name", f->cfg->fleet.name, "host_id",
		      f->host_id, "usable", ps_fleet_usable(f, now_ms), "local_only",
		      !ps_fleet_usable(f, now_ms));
	if (!o)
		return NULL;
	json_object_set_new(o, "answered_ms_ago",
			    f->ok_wall_ms ? json_integer(now_ms - f->ok_wall_ms) : json_null());
	json_object_set_new(o, "connects", json_integer(f->connects));
	json_object_set_new(o, "disconnects", json_integer(f->disconnects));
	json_object_set_new(o, "errors", json_integer(f->errors));
	json_object_set_new(o, "skipped_ticks", json_integer(f->skipped));
	json_object_set_new(o, "last_error", json_string(f->last_error));
	json_object_set_new(o, "last_push", json_pack("{s:I, s:I, s:I, s:I, s:I}",
		"subjects", (json_int_t)f->last_subjects, "writes", (json_int_t)f->last_writes,
		"commands", (json_int_t)f->last_cmds, "bytes", (json_int_t)f->last_bytes,
		"cpu_us", (json_int_t)f->push_us));
	json_object_set_new(o, "limits_cpu_us", json_integer(f->limits_us));
	json_object_set_new(o, "commands", json_integer(f->cmds));
	json_object_set_new(o, "bytes", json_integer(f->bytes));
	json_object_set_new(o, "entries", json_integer(f->entries));
	json_object_set_new(o, "published", json_integer(f->published));
	json_object_set_new(o, "applied", json_integer(f->applied));
	json_object_set_new(o, "found", json_integer(f->found));
	if (f->cluster)
		json_object_set_new(o, "cluster", ps_fleet_cluster_json(f, now_ms));
	return o;
}

int ps_fleet_nodes(const struct ps_fleet *f, uint64_t now_ms, struct ps_fleet_node_state *out,
		   int max)
{
	if (f->state == PS_FLEET_OFF || max < 1)
		return 0;
	if (f->cluster)
		return ps_fleet_cluster_nodes(f, now_ms, out, max);
	if (!f->addr[0])
		return 0;	/* no Sentinel has named the master yet */
	snprintf(out[0].node, sizeof(out[0].node), "%s:%u", f->addr, f->port);
	out[0].usable = ps_fleet_usable(f, now_ms);
	return 1;
}

redisAsyncContext *ps_fleet_ctx(struct ps_fleet *f, const char *key)
{
	if (f->state != PS_FLEET_UP)
		return NULL;
	if (!f->cluster)
		return f->ac;
	return ps_fleet_cluster_ctx(f, ps_fleet_cluster_node_of(f, ps_fleet_slot(key,
										   strlen(key))));
}
