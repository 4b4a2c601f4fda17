// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fleet's pure parts: fleet.redis's forms (fleet/url.c), the key
 * layout and bucket arithmetic (fleet/keys.c) against figures worked out
 * by hand and a client table fed real counter reads, and the fleet and
 * fleet_limits keys of the configuration with their FILE:LINE:COLUMN
 * errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "count/clients.h"
#include "fleet/keys.h"
#include "fleet/url.h"
#include "../check.h"

/* 2024-10-04T00:00:00Z = 20000 * 86400: starts a UTC day, hour and minute. */
#define T0 1728000000U

struct url_case {
	const char *url;
	const char *err;	/* NULL: parses */
	enum ps_fleet_mode mode;
	int tls, nnodes;
	const char *host0;
	int port0;
	const char *host1;
	int port1;
	int db;
	const char *master, *password;
};

static const struct url_case url_cases[] = {
	{ "redis://10.0.0.1:6380/3", NULL, PS_FLEET_STANDALONE, 0, 1, "10.0.0.1", 6380, NULL, 0, 3,
	  "", "" },
	{ "redis://r.example", NULL, PS_FLEET_STANDALONE, 0, 1, "r.example", 6379, NULL, 0, 0, "",
	  "" },
	{ "REDIS://[fd00::1]:7000/0", NULL, PS_FLEET_STANDALONE, 0, 1, "fd00::1", 7000, NULL, 0, 0,
	  "", "" },
	{ "redis://:s3cret@10.0.0.1", NULL, PS_FLEET_STANDALONE, 0, 1, "10.0.0.1", 6379, NULL, 0, 0,
	  "", "s3cret" },
	{ "redis://user:pw@h:1/15", NULL, PS_FLEET_STANDALONE, 0, 1, "h", 1, NULL, 0, 15, "", "pw" },
	{ "rediss://h", NULL, PS_FLEET_STANDALONE, 1, 1, "h", 6379, NULL, 0, 0, "", "" },
	{ "redis-sentinel://s1,s2:26380/main/2", NULL, PS_FLEET_SENTINEL, 0, 2, "s1", 26379, "s2",
	  26380, 2, "main", "" },
	{ "redis-cluster://c1:7000,[fd00::2]:7001", NULL, PS_FLEET_CLUSTER, 0, 2, "c1", 7000,
	  "fd00::2", 7001, 0, "", "" },
	{ .url = "http://h", .err = "does not start with redis://, rediss://, redis-sentinel:// or redis-cluster://" },
	{ .url = "redis://", .err = "has no host" },
	{ .url = "redis://h:0", .err = "has a port that is not a number 1..65535" },
	{ .url = "redis://h:65536", .err = "has a port that is not a number 1..65535" },
	{ .url = "redis://h:6379/16", .err = "has a database that is not a number 0..15" },
	{ .url = "redis://h/x", .err = "has a database that is not a number 0..15" },
	{ .url = "redis://a,b", .err = "names several hosts, expected one (or redis-sentinel:// or redis-cluster://)" },
	{ .url = "redis://[fd00::1", .err = "has a '[' without its ']'" },
	{ .url = "redis://[fd00::1]x", .err = "has something other than ':PORT' after ']'" },
	{ .url = "redis://h h", .err = "contains a space or a character that is not visible ASCII" },
	{ .url = "redis-sentinel://s1:1", .err = "has no master name after the sentinels (redis-sentinel://HOST:PORT/MASTER)" },
	{ .url = "redis-cluster://c1/0", .err = "has a database number, which a Cluster does not have" },
	{ .url = "redis-sentinel://a,", .err = "has an empty host" },
};

static void test_urls(void)
{
	size_t i;

	for (i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		const struct url_case *c = &url_cases[i];
		struct ps_fleet_url u;
		const char *e = ps_fleet_url_parse(c->url, strlen(c->url), &u);
		char name[96];
		struct ck ck;

		snprintf(name, sizeof(name), "url %s", c->url);
		ck_init(&ck, name);
		if (c->err) {
			if (!e || strcmp(e, c->err))
				ck_fail(&ck, "error \"%s\", expected \"%s\"", e ? e : "(none)", c->err);
		} else if (e) {
			ck_fail(&ck, "error \"%s\", expected none", e);
		} else if (u.mode != c->mode || u.tls != c->tls || u.nnodes != c->nnodes ||
			   strcmp(u.nodes[0].host, c->host0) || u.nodes[0].port != c->port0 ||
			   (c->host1 && (strcmp(u.nodes[1].host, c->host1) ||
					 u.nodes[1].port != c->port1)) ||
			   u.db != c->db || strcmp(u.master, c->master) ||
			   strcmp(u.password, c->password)) {
			ck_fail(&ck, "mode %d tls %d nodes %d %s:%u db %d master '%s' password '%s'",
				u.mode, u.tls, u.nnodes, u.nodes[0].host, u.nodes[0].port, u.db,
				u.master, u.password);
		}
		ck_end(&ck);
	}
}

static void test_keys(void)
{
	uint32_t b[PS_FB_N];
	char k[PS_FLEET_KEY_MAX], big[200];
	struct ck ck;

	ck_init(&ck, "bucket numbers");
	/* T0 + 1 day + 90.5 s: minute 28800000 + 1440 + 1, day 20001. */
	ps_fleet_buckets((uint64_t)(T0 + 86400 + 90) * 1000 + 500, b);
	if (b[PS_FB_MIN] != 28801441 || b[PS_FB_MIN_PREV] != 28801440 || b[PS_FB_DAY] != 20001 ||
	    b[PS_FB_DAY_PREV] != 20000)
		ck_fail(&ck, "%u %u %u %u, expected 28801441 28801440 20001 20000", b[0], b[1], b[2],
			b[3]);
	ck_end(&ck);

	ck_init(&ck, "key layout");
	if (ps_fleet_key(k, sizeof(k), "prod", "198.18.0.2", PS_FB_MIN, 28801441) < 0 ||
	    strcmp(k, "ps:{prod|198.18.0.2}:m:28801441"))
		ck_fail(&ck, "minute key %s", k);
	else if (ps_fleet_key(k, sizeof(k), "prod", "fd00::2", PS_FB_DAY_PREV, 20000) < 0 ||
		 strcmp(k, "ps:{prod|fd00::2}:d:20000"))
		ck_fail(&ck, "day key %s", k);
	else if (ps_fleet_key(k, sizeof(k), "prod", "key:0123456789abcdef", PS_FB_DAY, 20001) < 0 ||
		 strcmp(k, "ps:{prod|key:0123456789abcdef}:d:20001"))
		ck_fail(&ck, "key subject %s", k);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	if (ps_fleet_key(k, sizeof(k), big, "198.18.0.2", PS_FB_MIN, 1) != -1)
		ck_fail(&ck, "a key longer than the buffer was not refused");
	ck_end(&ck);

	ck_init(&ck, "fleet windows");
	{
		/* 20 s into a minute: the previous minute weighs 40/60. */
		double w = ps_fleet_window(30, 60, (uint64_t)(T0 + 20) * 1000, 0);
		/* 6 h into a day: the previous day weighs 3/4. */
		double d = ps_fleet_window(100, 400, (uint64_t)(T0 + 6 * 3600) * 1000, 1);

		if (fabs(w - 70.0) > 1e-9)
			ck_fail(&ck, "1m %.6f, expected 70", w);
		if (fabs(d - 400.0) > 1e-9)
			ck_fail(&ck, "24h %.6f, expected 400", d);
		if (ps_fleet_window(5, 9, (uint64_t)T0 * 1000, 0) != 14.0)
			ck_fail(&ck, "at a minute's start the previous bucket weighs 1");
	}
	ck_end(&ck);
}

/* The counters read at now: inf requests, txb bytes; completion and prompt tokens. */
static void read_at(struct ps_ctable *t, const struct ps_client_key *key, uint64_t inf,
		    uint64_t txb, uint64_t txt, uint64_t rxt, uint32_t now)
{
	struct ps_counters c = { .inference_requests = inf, .requests = inf, .tx_bytes = txb,
				 .first_seen_ns = 1, .last_seen_ns = 1 };
	struct ps_tokens tk = {};

	tk.v[PS_F_TX_TOKENS - PS_NCTRFIELDS] = txt;
	tk.v[PS_F_RX_TOKENS - PS_NCTRFIELDS] = rxt;
	ps_ctable_update(t, key, &c, txt || rxt ? &tk : NULL, now, 0);
}

static void test_local(void)
{
	struct ps_client_key key = { .family = PS_AF_INET };
	uint32_t m0 = T0 / 60, d0 = T0 / 86400;
	struct ps_ctable t;
	struct ps_crec *r;
	struct ps_cview v;
	struct ck ck;

	ck_init(&ck, "local buckets of a client table");
	inet_pton(AF_INET, "198.18.0.2", key.addr.a);
	ps_ctable_init(&t);
	/* minute m0: 5 requests, 1000 bytes, 40 + 10 tokens */
	read_at(&t, &key, 5, 1000, 40, 10, T0 + 10);
	/* minute m0 + 1: 3 more, 500 more, 20 + 7 more */
	read_at(&t, &key, 8, 1500, 60, 17, T0 + 70);
	r = ps_ctable_find(&t, &key);
	if (!r) {
		ck_fail(&ck, "no record");
	} else {
		uint64_t a = ps_fleet_local(&t, r, PS_FB_MIN, m0 + 1, PS_FV_REQ),
			 b = ps_fleet_local(&t, r, PS_FB_MIN_PREV, m0, PS_FV_REQ),
			 c = ps_fleet_local(&t, r, PS_FB_MIN, m0 + 2, PS_FV_REQ),
			 d = ps_fleet_local(&t, r, PS_FB_DAY, d0, PS_FV_REQ),
			 e = ps_fleet_local(&t, r, PS_FB_MIN_PREV, m0, PS_FV_EGRESS),
			 f = ps_fleet_local(&t, r, PS_FB_DAY, d0, PS_FV_EGRESS),
			 g = ps_fleet_local(&t, r, PS_FB_DAY_PREV, d0 - 1, PS_FV_REQ);

		uint64_t tm = ps_fleet_local(&t, r, PS_FB_MIN, m0 + 1, PS_FV_TOKENS),
			 tp = ps_fleet_local(&t, r, PS_FB_MIN_PREV, m0, PS_FV_TOKENS),
			 td = ps_fleet_local(&t, r, PS_FB_DAY, d0, PS_FV_TOKENS);

		/* Tokens: prompt + completion, as tokens_per_minute counts them. */
		if (tm != 27 || tp != 50 || td != 77)
			ck_fail(&ck, "tokens minute %llu prev %llu day %llu, expected 27 50 77",
				(unsigned long long)tm, (unsigned long long)tp,
				(unsigned long long)td);
		if (a != 3 || b != 5 || c != 0 || d != 8 || e != 1000 || f != 1500 || g != 0)
			ck_fail(&ck, "minute %llu prev %llu next %llu day %llu egress prev %llu "
				"day %llu day before %llu, expected 3 5 0 8 1000 1500 0",
				(unsigned long long)a, (unsigned long long)b, (unsigned long long)c,
				(unsigned long long)d, (unsigned long long)e, (unsigned long long)f,
				(unsigned long long)g);
		/* The fleet's window of one host's buckets is the table's own window. */
		ps_crec_view(&t, r, PS_WIN_1M, (uint64_t)(T0 + 75) * 1000, &v);
		if (fabs(ps_fleet_window(a, b, (uint64_t)(T0 + 75) * 1000, 0) -
			 v.v[PS_F_INFERENCE]) > 1e-9)
			ck_fail(&ck, "fleet window %.3f, the table's %.3f",
				ps_fleet_window(a, b, (uint64_t)(T0 + 75) * 1000, 0),
				v.v[PS_F_INFERENCE]);
	}
	ck_end(&ck);
	ps_ctable_free(&t);
}

/*
 * Key slots: CRC16's test vector from the Redis Cluster specification
 * ("123456789" gives 0x31C3), and the slots redis-server 7.0 answers to
 * CLUSTER KEYSLOT for the specification's hash-tag examples and keys of
 * penstock's layout.
 */
static void test_slots(void)
{
	static const struct {
		const char *key;
		uint16_t slot;
	} cases[] = {
		{ "123456789", 12739 },
		{ "foo", 12182 },
		{ "{user1000}.following", 3443 },
		{ "foo{}{bar}", 8363 },		/* an empty tag: the whole key */
		{ "foo{{bar}}zap", 4015 },	/* the tag "{bar" */
		{ "foo{bar}{zap}", 5061 },	/* the first tag: "bar" */
		{ "ps:{t1|198.18.0.2}:m:1", 417 },
		{ "ps:{penstock}:entries", 10804 },
	};
	char a[PS_FLEET_KEY_MAX], b[PS_FLEET_KEY_MAX];
	struct ck ck;
	size_t i;
	int la, lb;

	ck_init(&ck, "cluster key slots");
	if (ps_fleet_crc16("123456789", 9) != 0x31C3)
		ck_fail(&ck, "crc16(123456789) 0x%04x, expected 0x31C3",
			ps_fleet_crc16("123456789", 9));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t got = ps_fleet_slot(cases[i].key, strlen(cases[i].key));

		if (got != cases[i].slot)
			ck_fail(&ck, "%s: slot %u, expected %u", cases[i].key, got, cases[i].slot);
	}
	/* A subject's minute and day keys: one slot. */
	la = ps_fleet_key(a, sizeof(a), "prod", "key:abc", PS_FB_MIN, 29000000);
	lb = ps_fleet_key(b, sizeof(b), "prod", "key:abc", PS_FB_DAY_PREV, 20000);
	if (la < 0 || lb < 0 || ps_fleet_slot(a, la) != ps_fleet_slot(b, lb))
		ck_fail(&ck, "%s and %s in different slots", a, b);
	ck_end(&ck);
}

struct cfg_case {
	const char *name, *yaml, *msg;	/* msg: NULL loads */
};

#define EP "endpoints: [{port: 1}]\n"

static const struct cfg_case cfg_cases[] = {
	{ "fleet_no_redis", EP "fleet: {name: a}\n",
	  "2:8: fleet: missing key 'redis', expected a string of 1..511 characters, "
	  "redis://HOST:PORT/DB, rediss://, redis-sentinel://H:P,H:P/MASTER or "
	  "redis-cluster://H:P,H:P" },
	{ "fleet_bad_url", EP "fleet:\n  redis: http://x\n",
	  "3:10: fleet.redis: 'http://x' does not start with redis://, rediss://, "
	  "redis-sentinel:// or redis-cluster://, expected a string of 1..511 characters, "
	  "redis://HOST:PORT/DB, rediss://, redis-sentinel://H:P,H:P/MASTER or "
	  "redis-cluster://H:P,H:P" },
	{ "fleet_bad_name", EP "fleet: {redis: \"redis://h\", name: a/b}\n",
	  "2:35: fleet.name: 'a/b' contains a character other than a letter, a digit, '.', "
	  "'-' or '_', expected a string of 1..63 characters, letters, digits, '.', '-' and '_'" },
	{ "fleet_relative_password", EP "fleet: {redis: \"redis://h\", password_file: pw}\n",
	  "2:44: fleet.password_file: 'pw' does not start with '/', expected a string of "
	  "1..1023 characters, an absolute path" },
	{ "fleet_stale_after", EP "fleet: {redis: \"redis://h\", stale_after: 1s}\n",
	  "2:42: fleet.stale_after: 1s is out of range, expected a duration in 2..3600 seconds" },
	{ "fleet_limits_without_fleet", EP "fleet_limits: [{class: default, requests_per_minute: 5}]\n",
	  "2:1: fleet_limits: given without fleet, expected fleet: {redis: ...} as well" },
	{ "fleet_limits_unknown_class",
	  EP "fleet: {redis: \"redis://h\"}\nfleet_limits:\n  - {class: gold}\n",
	  "4:13: fleet_limits[0].class: no class 'gold', expected default or a name of "
	  "limits.classes" },
	{ "fleet_limits_tokens_zero",
	  EP "fleet: {redis: \"redis://h\"}\nfleet_limits:\n  - {class: default, tokens_per_minute: 0}\n",
	  "4:41: fleet_limits[0].tokens_per_minute: 0 is out of range, expected an integer in "
	  "1..1000000000000" },
	{ "fleet_limits_twice",
	  EP "fleet: {redis: \"redis://h\"}\nfleet_limits:\n  - {class: default}\n"
	     "  - {class: default}\n",
	  "5:13: fleet_limits[1].class: duplicate 'default' (first at line 4), expected unique "
	  "values" },
};

static void test_config(void)
{
	static const char full[] =
		EP "fleet_limits:\n"
		"  - {class: gold, requests_per_minute: 600, burst: 20, egress_bytes_per_day: 1GiB}\n"
		"  - {class: default, requests_per_day: 100000, tokens_per_minute: 9000,\n"
		"     tokens_per_day: 2000000}\n"
		"fleet:\n"
		"  redis: redis://10.1.2.3:6380/2\n"
		"  name: prod-eu\n"
		"  host_id: gpu-7\n"
		"  password_file: /etc/penstock/redis.pw\n"
		"  stale_after: 10s\n"
		"limits:\n"
		"  classes:\n"
		"    - {name: gold, clients: [10.0.0.0/8]}\n";
	static struct ps_config cfg;
	char err[1024], want[1024];
	struct ck ck;
	size_t i;

	for (i = 0; i < sizeof(cfg_cases) / sizeof(cfg_cases[0]); i++) {
		const struct cfg_case *c = &cfg_cases[i];
		int rc = ps_config_parse("f.yaml", c->yaml, strlen(c->yaml), &cfg, err, sizeof(err));

		ck_init(&ck, c->name);
		snprintf(want, sizeof(want), "f.yaml:%s", c->msg);
		if (rc != -EINVAL || strcmp(err, want))
			ck_fail(&ck, "returned %d \"%s\", expected \"%s\"", rc, rc ? err : "", want);
		ck_end(&ck);
	}

	ck_init(&ck, "fleet config");
	if (ps_config_parse("f.yaml", full, strlen(full), &cfg, err, sizeof(err))) {
		ck_fail(&ck, "refused: %s", err);
	} else {
		const struct ps_fleet_cfg *f = &cfg.fleet;
		const struct ps_fleet_limit_cfg *a = &cfg.fleet_limits[0], *b = &cfg.fleet_limits[1];

		if (strcmp(f->redis, "redis://10.1.2.3:6380/2") || strcmp(f->name, "prod-eu") ||
		    strcmp(f->host_id, "gpu-7") || strcmp(f->password_file, "/etc/penstock/redis.pw") ||
		    f->stale_after != 10 || f->tls != 0)
			ck_fail(&ck, "fleet %s %s %s %s %llu %d", f->redis, f->name, f->host_id,
				f->password_file, (unsigned long long)f->stale_after, f->tls);
		else if (cfg.nfleet_limits != 2 || a->class_id != 1 || a->requests_per_minute != 600 ||
			 a->burst != 20 || a->egress_bytes_per_day != (1ULL << 30) ||
			 a->requests_per_day != PS_LIMIT_UNSET || b->class_id != 0 ||
			 b->requests_per_day != 100000 || b->burst != 1 ||
			 b->requests_per_minute != PS_LIMIT_UNSET || b->tokens_per_minute != 9000 ||
			 b->tokens_per_day != 2000000 || a->tokens_per_minute != PS_LIMIT_UNSET ||
			 a->tokens_per_day != PS_LIMIT_UNSET)
			ck_fail(&ck, "fleet_limits: %d entries, class ids %d %d", cfg.nfleet_limits,
				a->class_id, b->class_id);
	}
	ck_end(&ck);

	ck_init(&ck, "fleet defaults");
	if (ps_config_parse("f.yaml", EP "fleet: {redis: \"redis://h\"}\n",
			    strlen(EP "fleet: {redis: \"redis://h\"}\n"), &cfg, err, sizeof(err)))
		ck_fail(&ck, "refused: %s", err);
	else if (strcmp(cfg.fleet.name, "penstock") || cfg.fleet.host_id[0] ||
		 cfg.fleet.password_file[0] || cfg.fleet.stale_after != 5 || cfg.nfleet_limits)
		ck_fail(&ck, "name %s host_id '%s' stale_after %llu", cfg.fleet.name,
			cfg.fleet.host_id, (unsigned long long)cfg.fleet.stale_after);
	ck_end(&ck);

	ck_init(&ck, "no fleet");
	if (ps_config_parse("f.yaml", EP, strlen(EP), &cfg, err, sizeof(err)))
		ck_fail(&ck, "refused: %s", err);
	else if (cfg.fleet.redis[0] || cfg.nfleet_limits)
		ck_fail(&ck, "a fleet without fleet:");
	ck_end(&ck);
}

int main(void)
{
	test_slots();
	test_urls();
	test_keys();
	test_local();
	test_config();
	return nfailed ? 1 : 0;
}
