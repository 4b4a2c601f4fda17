// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the hosts of a fleet share beyond counts (fleet.h):
 *
 * - Entries. A subject one host's escalation acts on (a detector's
 *   entry) is published in the hash ps:{FLEET}:entries, a field per
 *   subject holding {"host","action","until_ms",...}; each host reads the
 *   hash every tick (pipelined with its push) and applies the other
 *   hosts' entries that are still in force, as detector entries whose
 *   reason starts "fleet HOST:", within a tick or two. A manual entry
 *   stays, and so does a stronger entry of this host's own.
 * - Detection on the fleet's windows. Every detection.interval, each
 *   client this host saw in the last minute is judged on the fleet's 1m
 *   and 24h windows against its class's thresholds (requests_per_minute,
 *   requests_per_day) and the high_rate floor (with the z-score over the
 *   fleet's figures of the clients seen here, given min_population of
 *   them); a client found goes through this host's escalation, detector
 *   "fleet_threshold" or "fleet_high_rate". Every host sees the same
 *   sums, so each finds it itself.
 * - Prefixes across the fleet (a hydra whose addresses the balancer
 *   spreads, each host seeing a few). Every detection run, each IPv4 /24
 *   and IPv6 /48 with clients active here this hour sends this host's
 *   whole count of the prefix's requests in this hour's bucket and the
 *   last (a field per host, as the clients' buckets) and its active
 *   addresses (PFADD to a HyperLogLog of the hour), and gets back the
 *   fleet's sums and distinct addresses of the two hours. The next run
 *   judges them: at least detection.prefix.min_clients addresses over
 *   the fleet and the fleet's 1h window at least its requests_per_hour
 *   is detector "fleet_prefix" on the prefix.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "common/log.h"
#include "enforce/enforce.h"
#include "fleet/cluster.h"
#include "fleet/fleet.h"
#include "penstock.skel.h"
#include "policy/detect_int.h"
#include "policy/policy.h"

#define FLEET_REASON		"fleet "
#define ENTRIES_TTL		(2 * 86400)
#define MAX_REMOTE		4096

static bool is_fleet_reason(const char *r)
{
	return !strncmp(r, FLEET_REASON, strlen(FLEET_REASON));
}

static int action_of(const char *s)
{
	int a;

	for (a = PS_ACT_NONE + 1; a <= PS_ACT_SHAPE; a++)
		if (ps_action_names[a] && !strcmp(s, ps_action_names[a]))
			return a;
	return PS_ACT_NONE;
}

static void on_entries(redisAsyncContext *ac, void *r, void *priv)
{
	struct ps_fleet *f = ac->data;
	redisReply *rep = r;
	size_t i;

	(void)priv;
	if (f)
		ps_fleet_cluster_note(f, rep);
	if (!f || !rep || rep->type != REDIS_REPLY_ARRAY)
		return;
	free(f->remote);
	f->remote = NULL;
	f->nremote = 0;
	if (!rep->elements)
		return;
	f->remote = calloc(rep->elements / 2 < MAX_REMOTE ? rep->elements / 2 : MAX_REMOTE,
			   sizeof(*f->remote));
	if (!f->remote)
		return;
	for (i = 0; i + 1 < rep->elements && f->nremote < MAX_REMOTE; i += 2) {
		struct ps_fleet_entry *x = &f->remote[f->nremote];
		redisReply *k = rep->element[i], *v = rep->element[i + 1];
		json_t *doc, *h, *a, *u, *rs;
		json_error_t jerr;

		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    k->len >= sizeof(x->subject))
			continue;
		doc = json_loadb(v->str, v->len, 0, &jerr);
		h = json_object_get(doc, "host");
		a = json_object_get(doc, "action");
		u = json_object_get(doc, "until_ms");
		rs = json_object_get(doc, "reason");
		if (!json_is_string(h) || !json_is_string(a) || !json_is_integer(u) ||
		    !json_is_string(rs) || !strcmp(json_string_value(h), f->host_id) ||
		    !(x->e.action = action_of(json_string_value(a)))) {
			json_decref(doc);
			continue;
		}
		memcpy(x->subject, k->str, k->len);
		x->subject[k->len] = 0;
		snprintf(x->host, sizeof(x->host), "%s", json_string_value(h));
		x->until_ms = json_integer_value(u);
		x->e.emission_ns = json_integer_value(json_object_get(doc, "emission_ns"));
		x->e.tolerance_ns = json_integer_value(json_object_get(doc, "tolerance_ns"));
		x->e.rate_bps = json_integer_value(json_object_get(doc, "rate_bps"));
		snprintf(x->e.reason, sizeof(x->e.reason), "%s", json_string_value(rs));
		json_decref(doc);
		f->nremote++;
	}
}

/* The other hosts' entries, from the last read, in force here. */
static void apply_remote(struct ps_fleet *f, struct ps_datapath *dp, uint64_t now_ms,
			 uint64_t bnow)
{
	uint32_t i;

	f->applied = 0;
	for (i = 0; i < f->nremote; i++) {
		const struct ps_fleet_entry *x = &f->remote[i];
		struct ps_enforcement old = {}, e = x->e;
		struct ps_prefix p;
		char perr[128];
		bool had;

		if (x->until_ms && x->until_ms <= now_ms)
			continue;
		if (ps_parse_subject(x->subject, &p, perr, sizeof(perr)))
			continue;
		e.origin = PS_ORIGIN_DETECTOR;
		e.dry_run = f->cfg->dry_run > 0;
		e.since_ns = now_ms * 1000000ULL;
		e.until_ns = x->until_ms ? bnow + (x->until_ms - now_ms) * 1000000ULL : 0;
		snprintf(e.reason, sizeof(e.reason), FLEET_REASON "%.20s: %.35s", x->host,
			 x->e.reason);
		had = !ps_enf_get(dp, &p, &old);
		if (had && old.origin == PS_ORIGIN_MANUAL)
			continue;
		if (had && !is_fleet_reason(old.reason) &&
		    ps_policy_strength(old.action) >= ps_policy_strength(e.action))
			continue;
		f->applied++;
		/* In force already, the same: not written again each tick. */
		if (had && is_fleet_reason(old.reason) && old.action == e.action &&
		    !strcmp(old.reason, e.reason) &&
		    (old.until_ns > e.until_ns ? old.until_ns - e.until_ns : e.until_ns - old.until_ns) <
			    2000000000ULL)
			continue;
		if (had)
			e.since_ns = old.since_ns;
		if (e.action == PS_ACT_SHAPE) {
			e.shape_class = had && old.action == PS_ACT_SHAPE ? old.shape_class : 0;
			f->shape_dirty = true;
		}
		if (ps_enf_set(dp, &p, &e))
			continue;
		if (!had || old.action != e.action || !is_fleet_reason(old.reason))
			pr_info("penstockd: fleet: %s %s, as %s's escalation did: %s\n",
				ps_action_names[e.action], x->subject, x->host, x->e.reason);
	}
}

/* This host's detector entries to the fleet's hash, and the hash read back. */
static void publish(struct ps_fleet *f, struct ps_datapath *dp, uint64_t now_ms, uint64_t bnow)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_enforce), n, i;
	struct ps_lpm_key *keys = NULL;
	char hkey[PS_FLEET_KEY_MAX];
	redisAsyncContext *ac;

	f->published = 0;
	snprintf(hkey, sizeof(hkey), "ps:{%s}:entries", f->cfg->fleet.name);
	ac = ps_fleet_ctx(f, hkey);
	/* With the tick's push only: nothing piles up behind a slow Redis. */
	if (!ac || !f->pushed)
		return;
	f->pushed = false;
	n = ps_enf_keys(fd, &keys);
	for (i = 0; i < n; i++) {
		struct ps_enforcement e;
		struct ps_prefix p;
		char subj[64], *val;
		uint64_t until_ms;
		json_t *doc;

		if (bpf_map_lookup_elem(fd, &keys[i], &e) || e.origin != PS_ORIGIN_DETECTOR ||
		    is_fleet_reason(e.reason) || e.action == PS_ACT_NONE || e.action > PS_ACT_SHAPE ||
		    (e.until_ns && e.until_ns <= bnow))
			continue;
		ps_prefix_of_key(&p, &keys[i]);
		ps_prefix_str(&p, subj, sizeof(subj));
		until_ms = e.until_ns ? now_ms + (e.until_ns - bnow) / 1000000ULL : 0;
		doc = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "host", f->host_id, "action",
				ps_action_names[e.action], "until_ms", (json_int_t)until_ms,
				"emission_ns", (json_int_t)e.emission_ns, "tolerance_ns",
				(json_int_t)e.tolerance_ns, "rate_bps", (json_int_t)e.rate_bps,
				"reason", e.reason);
		val = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
		json_decref(doc);
		if (!val)
			continue;
		redisAsyncCommand(ac, NULL, NULL, "HSET %s %s %s", hkey, subj, val);
		free(val);
		f->published++;
		f->last_cmds++;
	}
	free(keys);
	if (f->published) {
		redisAsyncCommand(ac, NULL, NULL, "EXPIRE %s %d", hkey, ENTRIES_TTL);
		f->last_cmds++;
	}
	redisAsyncCommand(ac, on_entries, NULL, "HGETALL %s", hkey);
	f->last_cmds++;
}

/* The high_rate z-score's population: the fleet's 1m figures of the clients seen here. */
struct pop {
	double *v;
	size_t n;
	double median, mad;
};

static void detect(struct ps_fleet *f, struct ps_detect *det, uint64_t now_ms, uint64_t bnow)
{
	const struct ps_detection_cfg *dc = &f->cfg->detection;
	uint32_t now_s = now_ms / 1000, i;
	struct pop pop = {};
	int pass;

	if (!det || dc->enabled <= 0)
		return;
	pop.v = malloc((size_t)(f->table->n ? f->table->n : 1) * sizeof(double));
	if (!pop.v)
		return;
	/* Pass 0 gathers the population, pass 1 judges. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < f->table->n && i < f->nsub; i++) {
			const struct ps_crec *r = &f->table->rec[i];
			double m[PS_FV_N], d[PS_FV_N], score = 0;
			struct ps_thresholds th;
			const char *what = NULL;
			struct ps_cview lm;
			struct ps_limits lim;
			struct ps_prefix p;
			json_t *ev;
			int cls;

			if (r->last_wall + 60 < now_s || !ps_fleet_raw_windows(f, r, now_ms, m, d))
				continue;
			if (pass == 0) {
				if (m[PS_FV_REQ] > 0)
					pop.v[pop.n++] = log1p(m[PS_FV_REQ]);
				continue;
			}
			cls = ps_config_class_of(f->cfg, &r->key);
			if (ps_dt_exempt(f->cfg, cls))
				continue;
			ps_thresholds_resolve(f->cfg, cls, &th);
			if (th.requests_per_minute != PS_LIMIT_UNSET &&
			    m[PS_FV_REQ] > (double)th.requests_per_minute) {
				what = "fleet_threshold";
				score = m[PS_FV_REQ] / (double)th.requests_per_minute;
			} else if (th.requests_per_day != PS_LIMIT_UNSET &&
				   d[PS_FV_REQ] > (double)th.requests_per_day) {
				what = "fleet_threshold";
				score = d[PS_FV_REQ] / (double)th.requests_per_day;
			} else if (dc->high_rate.enabled > 0 &&
				   m[PS_FV_REQ] >= (double)dc->high_rate.requests_per_minute) {
				double z = pop.mad > 0 ? 0.6745 * (log1p(m[PS_FV_REQ]) - pop.median) /
								 pop.mad : INFINITY;

				if (pop.n < dc->min_population || z >= dc->zscore) {
					what = "fleet_high_rate";
					score = isfinite(z) ? z :
						m[PS_FV_REQ] / (double)dc->high_rate.requests_per_minute;
				}
			}
			if (!what)
				continue;
			ps_crec_view(f->table, r, PS_WIN_1M, now_ms, &lm);
			ev = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "fleet_rpm",
				       m[PS_FV_REQ], "fleet_requests_24h", d[PS_FV_REQ],
				       "fleet_tokens_1m", m[PS_FV_TOKENS], "fleet_tokens_24h",
				       d[PS_FV_TOKENS], "fleet_egress_1m", m[PS_FV_EGRESS], "local_rpm",
				       lm.v[PS_F_INFERENCE], "local_tokens_1m",
				       lm.v[PS_F_TX_TOKENS] + lm.v[PS_F_RX_TOKENS], "population",
				       (json_int_t)pop.n, "class", (json_int_t)cls);
			ps_prefix_of_client(&r->key, &p);
			ps_limits_resolve(f->cfg, cls, &lim);
			f->found += ps_dt_escalate(det, &p, PS_ALERT_CLIENT, what, score, ev,
						   ps_dt_alert_only(f->cfg, cls), 1, lim.dry_run > 0,
						   now_ms, bnow);
			json_decref(ev);
		}
		if (pass == 0 && pop.n)
			ps_median_mad(pop.v, pop.n, &pop.median, &pop.mad);
	}
	free(pop.v);
}

/* --- prefixes across the fleet --- */

#define PFX_TTL		(3 * 3600)
#define PFX_MAX_ADDRS	1000	/* PFADD arguments in one call */

static const char pfx_script[] =
	"local f = 'r:' .. ARGV[1]\n"
	"if ARGV[3] ~= '0' then redis.call('HSET', KEYS[1], f, ARGV[3])"
	" redis.call('EXPIRE', KEYS[1], ARGV[2]) end\n"
	"if ARGV[4] ~= '0' then redis.call('HSET', KEYS[2], f, ARGV[4])"
	" redis.call('EXPIRE', KEYS[2], ARGV[2]) end\n"
	"if #ARGV > 4 then redis.call('PFADD', KEYS[3], unpack(ARGV, 5))"
	" redis.call('EXPIRE', KEYS[3], ARGV[2]) end\n"
	"local function sum(k) local s = 0 local a = redis.call('HVALS', k)"
	" for i = 1, #a do s = s + tonumber(a[i]) end return s end\n"
	"return {sum(KEYS[1]), sum(KEYS[2]), redis.call('PFCOUNT', KEYS[3], KEYS[4])}\n";

struct pfx_call {
	struct ps_fleet *f;
	struct ps_fleet_pfx x;
};

static void on_pfx(redisAsyncContext *ac, void *r, void *priv)
{
	struct pfx_call *c = priv;
	struct ps_fleet *f = c->f;
	redisReply *rep = r;
	int i;

	(void)ac;
	ps_fleet_cluster_note(f, rep);
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3) {
		for (i = 0; i < 3; i++)
			if (rep->element[i]->type != REDIS_REPLY_INTEGER)
				break;
		if (i == 3 && f->npfx < 65536) {
			if (f->npfx == f->cap_pfx) {
				uint32_t cap = f->cap_pfx ? f->cap_pfx * 2 : 64;
				struct ps_fleet_pfx *np = realloc(f->pfx, cap * sizeof(*np));

				if (!np)
					goto out;
				f->pfx = np;
				f->cap_pfx = cap;
			}
			c->x.cur = rep->element[0]->integer;
			c->x.prev = rep->element[1]->integer;
			c->x.distinct = rep->element[2]->integer;
			f->pfx[f->npfx++] = c->x;
		}
	}
out:
	free(c);
}

/* What this host counted for r in hour bucket h (Unix hour). */
static uint64_t local_hour(const struct ps_ctable *t, const struct ps_crec *r, uint32_t h)
{
	uint32_t cur = r->minute / 60;
	int which;

	if (!r->minute)
		return 0;
	if (h == cur)
		which = 0;
	else if (h + 1 == cur)
		which = 1;
	else
		return 0;
	return ps_crec_bucket(t, r, PS_WIN_1H, which, PS_W_INFERENCE);
}

struct member {
	struct ps_prefix p;
	uint32_t idx;
};

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int c = memcmp(&x->p, &y->p, sizeof(x->p));

	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* One call for the prefix of members m[0..n). */
static void send_prefix(struct ps_fleet *f, const struct member *m, uint32_t n, uint32_t hour)
{
	static const char *argv[10 + PFX_MAX_ADDRS];
	static size_t argvlen[10 + PFX_MAX_ADDRS];
	static char addrs[PFX_MAX_ADDRS][64];
	char keys[4][PS_FLEET_KEY_MAX], subj[64], rc[24], rp[24], ttl[16];
	redisAsyncContext *ac;
	struct pfx_call *c;
	uint64_t cur = 0, prev = 0;
	uint32_t i, na = 0;
	int argc, a;

	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->f = f;
	c->x.p = m[0].p;
	c->x.hour = hour;
	for (i = 0; i < n; i++) {
		const struct ps_crec *r = &f->table->rec[m[i].idx];
		uint64_t h = local_hour(f->table, r, hour);
		int cls = ps_config_class_of(f->cfg, &r->key);

		cur += h;
		prev += local_hour(f->table, r, hour - 1);
		if (ps_dt_exempt(f->cfg, cls) || ps_dt_alert_only(f->cfg, cls))
			c->x.hold = true;
		if (h && na < PFX_MAX_ADDRS)
			ps_client_str(&r->key, addrs[na++], sizeof(addrs[0]));
	}
	ps_prefix_str(&m[0].p, subj, sizeof(subj));
	snprintf(keys[0], sizeof(keys[0]), "ps:{%s|%s}:h:%u", f->cfg->fleet.name, subj, hour);
	snprintf(keys[1], sizeof(keys[1]), "ps:{%s|%s}:h:%u", f->cfg->fleet.name, subj, hour - 1);
	snprintf(keys[2], sizeof(keys[2]), "ps:{%s|%s}:u:%u", f->cfg->fleet.name, subj, hour);
	snprintf(keys[3], sizeof(keys[3]), "ps:{%s|%s}:u:%u", f->cfg->fleet.name, subj, hour - 1);
	snprintf(rc, sizeof(rc), "%llu", (unsigned long long)cur);
	snprintf(rp, sizeof(rp), "%llu", (unsigned long long)prev);
	snprintf(ttl, sizeof(ttl), "%d", PFX_TTL);
	argv[0] = "EVAL";
	argv[1] = pfx_script;
	argv[2] = "4";
	for (a = 0; a < 4; a++)
		argv[3 + a] = keys[a];
	argv[7] = f->host_id;
	argv[8] = ttl;
	argv[9] = rc;
	argv[10] = rp;
	argc = 11;
	for (i = 0; i < na; i++)
		argv[argc++] = addrs[i];
	for (a = 0; a < argc; a++)
		argvlen[a] = strlen(argv[a]);
	ac = ps_fleet_ctx(f, keys[0]);
	if (!ac || redisAsyncCommandArgv(ac, on_pfx, c, argc, argv, argvlen) != REDIS_OK) {
		free(c);
		return;
	}
	f->last_cmds++;
}

/* Every prefix with clients active here this hour: this host's figures out, the fleet's back. */
static void push_prefixes(struct ps_fleet *f, uint64_t now_ms)
{
	uint32_t now_s = now_ms / 1000, hour = now_s / 3600, i, n = 0, start;
	struct member *m;

	if (f->state != PS_FLEET_UP || f->cfg->detection.enabled <= 0 ||
	    f->cfg->detection.prefix.enabled <= 0)
		return;
	m = malloc((size_t)(f->table->n ? f->table->n : 1) * sizeof(*m));
	if (!m)
		return;
	for (i = 0; i < f->table->n; i++) {
		const struct ps_crec *r = &f->table->rec[i];

		if (r->key.family == PS_AF_KEY || r->last_wall / 3600 != hour || !r->minute)
			continue;
		ps_dt_mask_prefix(&r->key, r->key.family == PS_AF_INET ? 24 : 48, &m[n].p);
		m[n++].idx = i;
	}
	qsort(m, n, sizeof(*m), member_cmp);
	for (start = 0, i = 1; i <= n; i++) {
		if (i < n && !memcmp(&m[i].p, &m[start].p, sizeof(m[0].p)))
			continue;
		if (i > start)
			send_prefix(f, m + start, i - start, hour);
		start = i;
	}
	free(m);
}

/* The prefixes the last run's calls answered, judged on the fleet's figures. */
static void judge_prefixes(struct ps_fleet *f, struct ps_detect *det, uint64_t now_ms,
			   uint64_t bnow)
{
	const struct ps_detection_cfg *dc = &f->cfg->detection;
	double frac = (double)(now_ms % 3600000) / 3600000.0;
	uint32_t i;

	for (i = 0; i < f->npfx && det && dc->enabled > 0 && dc->prefix.enabled > 0; i++) {
		const struct ps_fleet_pfx *x = &f->pfx[i];
		double hw = (double)x->cur + (double)x->prev * (1.0 - frac);
		json_t *ev;

		if (x->hour != now_ms / 3600000)
			hw = (double)x->cur * (1.0 - frac);
		if (x->distinct < dc->prefix.min_clients || hw < (double)dc->prefix.requests_per_hour)
			continue;
		ev = json_pack("{s:f, s:I, s:I, s:I}", "fleet_requests_1h", hw, "fleet_addresses",
			       (json_int_t)x->distinct, "min_clients",
			       (json_int_t)dc->prefix.min_clients, "requests_per_hour",
			       (json_int_t)dc->prefix.requests_per_hour);
		f->found += ps_dt_escalate(det, &x->p, PS_ALERT_PREFIX, "fleet_prefix",
					   hw / (double)dc->prefix.requests_per_hour, ev, x->hold,
					   x->distinct, f->cfg->dry_run > 0, now_ms, bnow);
		json_decref(ev);
	}
	f->npfx = 0;
}

void ps_fleet_share(struct ps_fleet *f, struct ps_datapath *dp, void *det, uint64_t now_ms,
		    uint64_t bnow)
{
	if (f->state == PS_FLEET_OFF)
		return;
	if (ps_fleet_usable(f, now_ms)) {
		apply_remote(f, dp, now_ms, bnow);
		if (!f->detect_ms || now_ms - f->detect_ms >= f->cfg->detection.interval * 1000 ||
		    now_ms < f->detect_ms) {
			f->detect_ms = now_ms;
			detect(f, det, now_ms, bnow);
			judge_prefixes(f, det, now_ms, bnow);
			push_prefixes(f, now_ms);
		}
	}
	publish(f, dp, now_ms, bnow);
}
