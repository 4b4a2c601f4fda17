// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the bulk-extraction detectors and the escalation
 * (userspace/policy/detect.c), through its public API only: a client table fed
 * with cumulative counters once per simulated second (ps_ctable_update,
 * whose fold observer the detector is), ps_detect_run() at chosen times,
 * and hooks that record every alert (with a copy of its evidence) and
 * every enforcement entry. A call within detection.interval of the last
 * run judges only the clients that went over the high_rate floor since
 * (high_rate_between_runs); every other case calls an interval apart.
 *
 * Every expected figure is a literal worked out by hand from the inputs
 * (the arithmetic is in the comment beside it), never a value asked of the
 * code under test. Times are explicit: T0 is a Unix time that starts a UTC
 * day (so also an hour and a minute); "s" below is seconds after T0. The
 * programs' clock reads BOOT0 seconds at T0. The defaults the cases lean
 * on (ps_config_init) are checked first, by config_defaults.
 *
 * Window figures, as clients.c computes them at time now inside a bucket
 * (minute, hour) at fraction f of it: the current bucket plus the
 * previous one times (1 - f); a record whose last fold was in the
 * previous bucket gives its current bucket times (1 - f).
 *
 * Output: one line per case, "PASS name" or "FAIL name: why"; the exit
 * status is 1 if any case failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/units.h"
#include "count/clients.h"
#include "count/tlock.h"
#include "policy/detect.h"
#include "policy/detect_int.h"
#include "../check.h"

/* 2024-10-04T00:00:00Z = 20000 * 86400: starts a UTC day, hour and minute. */
#define T0 1728000000U
#define NS 1000000000ULL
/* The programs' clock (boot_now) reads BOOT0 seconds at T0. */
#define BOOT0 5000ULL
#define BOOT(s) ((BOOT0 + (uint64_t)(s)) * NS)

#define NA(x) (int)(sizeof(x) / sizeof((x)[0]))

/* Relative tolerance of figures computed in doubles from exact inputs. */
#define TOL 1e-9
/* ... and of figures that went through the detector's floats. */
#define FTOL 1e-6


static bool near(double got, double want, double tol)
{
	return fabs(got - want) <= tol * fmax(1.0, fabs(want));
}

/* --------------------------------------------------------------- addresses */

static struct ps_client_key key_of(int family, const char *s)
{
	struct ps_client_key k;

	memset(&k, 0, sizeof(k));
	k.family = family;
	if (inet_pton(family == PS_AF_INET ? AF_INET : AF_INET6, s, k.addr.a) != 1) {
		printf("FAIL setup: bad address literal %s\n", s);
		exit(1);
	}
	return k;
}

static struct ps_client_key __attribute__((format(printf, 1, 2))) key4f(const char *fmt, ...)
{
	char s[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	return key_of(PS_AF_INET, s);
}

static struct ps_client_key __attribute__((format(printf, 1, 2))) key6f(const char *fmt, ...)
{
	char s[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	return key_of(PS_AF_INET6, s);
}

/* ------------------------------------------------------------------ config */

static struct ps_config *cfg_new(void)
{
	struct ps_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg) {
		printf("FAIL setup: out of memory\n");
		exit(1);
	}
	ps_config_init(cfg);
	/* The cases below reckon with a high_rate floor of 20. */
	cfg->detection.high_rate.requests_per_minute = 20;
	return cfg;
}

static void thresholds_unset(struct ps_thresholds *t)
{
	t->requests_per_minute = PS_LIMIT_UNSET;
	t->requests_per_hour = PS_LIMIT_UNSET;
	t->requests_per_day = PS_LIMIT_UNSET;
	t->tx_payload_per_hour = PS_LIMIT_UNSET;
	t->tx_payload_per_day = PS_LIMIT_UNSET;
}

/*
 * A class as the parser leaves one that gives only clients (and exempt or
 * alert_only): no limit, no threshold of its own. Returns its id.
 */
static int add_class(struct ps_config *cfg, const char *name, const char *prefix, int exempt,
		     int alert_only)
{
	struct ps_class_cfg *c = &cfg->classes[cfg->nclasses];
	char err[256];

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (ps_parse_prefix(prefix, &c->clients[0], err, sizeof(err))) {
		printf("FAIL setup: prefix %s: %s\n", prefix, err);
		exit(1);
	}
	c->nclients = 1;
	c->limits.requests_per_minute = PS_LIMIT_UNSET;
	c->limits.burst = PS_LIMIT_UNSET;
	c->limits.requests_per_day = PS_LIMIT_UNSET;
	c->limits.egress_bytes_per_minute = PS_LIMIT_UNSET;
	c->limits.egress_bytes_per_day = PS_LIMIT_UNSET;
	c->limits.max_connections = PS_LIMIT_UNSET;
	c->limits.shape_rate = PS_LIMIT_UNSET;
	c->limits.on_exceed = PS_ON_EXCEED_UNSET;
	c->limits.unlimited = -1;
	c->limits.dry_run = -1;
	c->exempt = exempt;
	c->alert_only = alert_only;
	thresholds_unset(&c->thresholds);
	return ++cfg->nclasses;
}

/* ------------------------------------------------------------------- hooks */

#define MAX_GOT 64

struct got_alert {
	uint64_t time_ms;
	char subject[64];
	int kind;
	char detector[32];
	double score;
	char action[16];
	json_t *ev;
};

struct got_enf {
	struct ps_prefix p;
	struct ps_enforcement e;
};

struct got {
	struct got_alert al[MAX_GOT];
	int nal, lost;
	struct got_enf en[MAX_GOT];
	int nen;
	int enforce_ret;	/* what the enforce hook answers */
};

static void hook_alert(void *ctx, const struct ps_alert *al)
{
	struct got *g = ctx;
	struct got_alert *a;

	if (g->nal == MAX_GOT) {
		g->lost++;
		return;
	}
	a = &g->al[g->nal++];
	a->time_ms = al->time_ms;
	snprintf(a->subject, sizeof(a->subject), "%s", al->subject);
	a->kind = al->kind;
	snprintf(a->detector, sizeof(a->detector), "%s", al->detector);
	a->score = al->score;
	snprintf(a->action, sizeof(a->action), "%s", al->action);
	/* the detector frees its evidence when this returns */
	a->ev = al->evidence ? json_deep_copy(al->evidence) : NULL;
}

static int hook_enforce(void *ctx, const struct ps_prefix *p, const struct ps_enforcement *e)
{
	struct got *g = ctx;

	if (g->nen == MAX_GOT) {
		g->lost++;
		return g->enforce_ret;
	}
	g->en[g->nen].p = *p;
	g->en[g->nen].e = *e;
	g->nen++;
	return g->enforce_ret;
}

static void got_clear(struct got *g)
{
	int i;

	for (i = 0; i < g->nal; i++)
		json_decref(g->al[i].ev);
	g->nal = g->nen = g->lost = 0;
}

/* ----------------------------------------------------------------- traffic */

/*
 * A client sends `per` inference requests at s = start, start + every, ...
 * up to end, each with rx_pl bytes of request payload and tx_pl of
 * response payload (and 100 bytes of headers each way).
 */
struct pat {
	uint32_t start, end, every, per;
	uint64_t rx_pl, tx_pl;
	uint64_t rx_tok, tx_tok;	/* tokens each answer reports (pat_tokens), 0: none */
	uint64_t est_tok;		/* a streamed answer's events, no usage (pat_streamed) */
};

struct client {
	struct ps_client_key k;
	struct pat p[8];	/* a burst is a pattern a second */
	int np;
	bool seen;		/* sent its first request: the map holds it */
	struct ps_counters c;	/* cumulative */
	struct ps_tokens tok;	/* cumulative */
};

struct sim {
	struct ck *ck;
	struct ps_config *cfg;
	struct ps_ctable t;
	struct ps_detect *d;
	struct got g;
	struct client *cl;
	int ncl;
	/* Clients first seen an hour before T0 (their first request in the
	 * sim is not their first ever): no young client's pace (detect.c,
	 * pace_1m), the 1m figure itself. */
	bool old;
};

/* A table and a detector over cfg (freed with the sim), for up to maxcl clients. */
static struct sim *sim_new_n(struct ck *ck, struct ps_config *cfg, int maxcl)
{
	struct ps_detect_hooks h = { .alert = hook_alert, .enforce = hook_enforce };
	struct sim *s = calloc(1, sizeof(*s));

	if (!s || !(s->cl = calloc(maxcl, sizeof(*s->cl)))) {
		printf("FAIL setup: out of memory\n");
		exit(1);
	}
	s->ck = ck;
	s->cfg = cfg;
	ps_ctable_init(&s->t);
	h.ctx = &s->g;
	s->d = ps_detect_new(cfg, &s->t, &h);
	if (!s->d)
		ck_fail(ck, "ps_detect_new returned NULL");
	return s;
}

static struct sim *sim_new(struct ck *ck, struct ps_config *cfg)
{
	return sim_new_n(ck, cfg, 2048);
}

static void sim_free(struct sim *s)
{
	ps_detect_free(s->d);
	ps_ctable_free(&s->t);
	got_clear(&s->g);
	free(s->cl);
	free(s->cfg);
	free(s);
}

static struct client *cl_add(struct sim *s, struct ps_client_key k)
{
	struct client *c = &s->cl[s->ncl++];

	c->k = k;
	return c;
}

static void pat_add(struct client *c, uint32_t start, uint32_t end, uint32_t every, uint32_t per,
		    uint64_t rx_pl, uint64_t tx_pl)
{
	struct pat *p = &c->p[c->np++];

	p->start = start;
	p->end = end;
	p->every = every;
	p->per = per;
	p->rx_pl = rx_pl;
	p->tx_pl = tx_pl;
}

/* The answers of c's last pattern report rx_tok prompt and tx_tok completion tokens. */
static void pat_tokens(struct client *c, uint64_t rx_tok, uint64_t tx_tok)
{
	c->p[c->np - 1].rx_tok = rx_tok;
	c->p[c->np - 1].tx_tok = tx_tok;
}

/* The answers of c's last pattern are streamed without usage: est events each. */
static void pat_streamed(struct client *c, uint64_t est)
{
	c->p[c->np - 1].est_tok = est;
}

/* Feed every client that has been seen, once per second from..to (s). */
static void advance(struct sim *s, uint32_t from, uint32_t to)
{
	uint32_t sec;
	int i, j;

	for (sec = from; sec <= to && ck_ok(s->ck); sec++)
		for (i = 0; i < s->ncl; i++) {
			struct client *c = &s->cl[i];
			uint64_t n = 0, rx = 0, tx = 0, rxt = 0, txt = 0, est = 0;
			int rc;

			for (j = 0; j < c->np; j++) {
				const struct pat *p = &c->p[j];

				if (sec < p->start || sec > p->end || (sec - p->start) % p->every)
					continue;
				n += p->per;
				rx += p->per * p->rx_pl;
				tx += p->per * p->tx_pl;
				rxt += p->per * p->rx_tok;
				txt += p->per * p->tx_tok;
				est += p->per * p->est_tok;
			}
			if (n) {
				if (!c->seen) {
					c->seen = true;
					c->c.connections = 1;
					c->c.first_seen_ns = s->old ? (uint64_t)(T0 - 3600) * NS
								    : (uint64_t)(T0 + sec) * NS;
				}
				c->c.requests += n;
				c->c.inference_requests += n;
				c->c.rx_packets += n;
				c->c.tx_packets += n;
				c->c.rx_bytes += rx + 100 * n;
				c->c.tx_bytes += tx + 100 * n;
				c->c.rx_payload += rx;
				c->c.tx_payload += tx;
				c->tok.v[PS_F_TX_TOKENS - PS_NCTRFIELDS] += txt;
				c->tok.v[PS_F_RX_TOKENS - PS_NCTRFIELDS] += rxt;
				c->tok.v[PS_F_TX_TOKENS_ESTIMATED - PS_NCTRFIELDS] += est;
				c->c.last_seen_ns = (uint64_t)(T0 + sec) * NS;
			}
			if (!c->seen)
				continue;
			rc = ps_ctable_update(&s->t, &c->k, &c->c, &c->tok, T0 + sec, 0);
			if (rc)
				ck_fail(s->ck, "ps_ctable_update at s=%u returned %d", sec, rc);
		}
}

/* A detection pass at T0 + sec. */
static int run(struct sim *s, uint32_t sec)
{
	return ps_detect_run(s->d, (uint64_t)(T0 + sec) * 1000, BOOT(sec));
}

/* Run at sec and expect `want` steps taken. */
static void run_expect(struct sim *s, uint32_t sec, int want)
{
	int n = run(s, sec);

	if (n != want)
		ck_fail(s->ck, "run at s=%u took %d steps, expected %d (last alert: %s by %s)",
			sec, n, want, s->g.nal ? s->g.al[s->g.nal - 1].subject : "none",
			s->g.nal ? s->g.al[s->g.nal - 1].detector : "none");
}

/* ------------------------------------------------------------------ checks */

static json_t *ev_get(json_t *ev, const char *path)
{
	char buf[128], *tok, *save;
	json_t *j = ev;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && j; tok = strtok_r(NULL, ".", &save))
		j = json_is_object(j) ? json_object_get(j, tok) : NULL;
	return j;
}

static void ev_num(struct ck *ck, const struct got_alert *a, const char *path, double want,
		   double tol)
{
	json_t *j = ev_get(a->ev, path);

	if (!j || !json_is_number(j))
		ck_fail(ck, "alert on %s: evidence %s missing or not a number", a->subject, path);
	else if (!near(json_number_value(j), want, tol))
		ck_fail(ck, "alert on %s: evidence %s %.9g, expected %.9g", a->subject, path,
			json_number_value(j), want);
}

static void ev_str(struct ck *ck, const struct got_alert *a, const char *path, const char *want)
{
	json_t *j = ev_get(a->ev, path);

	if (!j || !json_is_string(j))
		ck_fail(ck, "alert on %s: evidence %s missing or not a string", a->subject, path);
	else if (strcmp(json_string_value(j), want))
		ck_fail(ck, "alert on %s: evidence %s \"%s\", expected \"%s\"", a->subject, path,
			json_string_value(j), want);
}

static void ev_true(struct ck *ck, const struct got_alert *a, const char *path)
{
	json_t *j = ev_get(a->ev, path);

	if (!json_is_true(j))
		ck_fail(ck, "alert on %s: evidence %s is not true", a->subject, path);
}

static void ev_absent(struct ck *ck, const struct got_alert *a, const char *path)
{
	if (ev_get(a->ev, path))
		ck_fail(ck, "alert on %s: evidence has %s, expected none", a->subject, path);
}

/* The alert on subject (NULL, and the case fails, when there is none). */
static const struct got_alert *alert_on(struct sim *s, const char *subject)
{
	int i;

	for (i = 0; i < s->g.nal; i++)
		if (!strcmp(s->g.al[i].subject, subject))
			return &s->g.al[i];
	ck_fail(s->ck, "no alert on %s (%d alerts)", subject, s->g.nal);
	return NULL;
}

static void expect_nalerts(struct sim *s, const char *when, int want)
{
	if (s->g.lost)
		ck_fail(s->ck, "%s: more than %d hook calls", when, MAX_GOT);
	if (s->g.nal != want) {
		if (s->g.nal)
			ck_fail(s->ck, "%s: %d alerts, expected %d (first: %s by %s, action %s)",
				when, s->g.nal, want, s->g.al[0].subject, s->g.al[0].detector,
				s->g.al[0].action);
		else
			ck_fail(s->ck, "%s: no alert, expected %d", when, want);
	}
}

static void expect_nenf(struct sim *s, const char *when, int want)
{
	if (s->g.nen != want)
		ck_fail(s->ck, "%s: %d enforcement entries, expected %d", when, s->g.nen, want);
}

/* The alert carries every evidence key its detector's row names. */
static void check_row_evidence(struct ck *ck, const struct got_alert *a)
{
	const struct dt_row *row = ps_dt_row(a->detector);
	const char *const *k;

	if (!row) {
		ck_fail(ck, "alert on %s: detector %s has no row", a->subject, a->detector);
		return;
	}
	for (k = row->evidence; a->ev && *k; k++)
		if (!json_object_get(a->ev, *k))
			ck_fail(ck, "alert on %s by %s: no evidence key %s (its row names it)",
				a->subject, a->detector, *k);
}

/* An alert's header: subject, kind, detector, action, score, step, when. */
static void check_alert(struct sim *s, const struct got_alert *a, int kind, const char *detector,
			const char *action, double score, double tol, int step, uint32_t sec)
{
	struct ck *ck = s->ck;

	if (!a)
		return;
	if (a->kind != kind)
		ck_fail(ck, "alert on %s: kind %d, expected %d", a->subject, a->kind, kind);
	if (strcmp(a->detector, detector))
		ck_fail(ck, "alert on %s: detector %s, expected %s", a->subject, a->detector,
			detector);
	if (strcmp(a->action, action))
		ck_fail(ck, "alert on %s: action %s, expected %s", a->subject, a->action, action);
	if (!near(a->score, score, tol))
		ck_fail(ck, "alert on %s: score %.9g, expected %.9g", a->subject, a->score, score);
	if (a->time_ms != (uint64_t)(T0 + sec) * 1000)
		ck_fail(ck, "alert on %s: time T0%+.3fs, expected T0+%us", a->subject,
			((double)a->time_ms - (double)T0 * 1000) / 1000, sec);
	if (!a->ev)
		ck_fail(ck, "alert on %s: no evidence", a->subject);
	else
		ev_num(ck, a, "step", step, 0);
	check_row_evidence(ck, a);
}

/* An enforcement entry: subject, action, figures, clock, reason. */
static void check_enf(struct sim *s, int i, const char *subject, int action, uint64_t rate,
		      uint64_t emission, uint64_t duration, uint32_t sec, const char *reason)
{
	const struct got_enf *g;
	const struct ps_enforcement *e;
	char p[64];

	if (i >= s->g.nen) {
		ck_fail(s->ck, "enforcement entry %d missing (%d)", i + 1, s->g.nen);
		return;
	}
	g = &s->g.en[i];
	e = &g->e;
	ps_prefix_str(&g->p, p, sizeof(p));
	if (strcmp(p, subject))
		ck_fail(s->ck, "entry %d on %s, expected %s", i + 1, p, subject);
	if (e->action != action)
		ck_fail(s->ck, "entry %d: action %u, expected %d", i + 1, e->action, action);
	if (e->origin != PS_ORIGIN_DETECTOR)
		ck_fail(s->ck, "entry %d: origin %u, expected PS_ORIGIN_DETECTOR (%d)", i + 1,
			e->origin, PS_ORIGIN_DETECTOR);
	if (e->rate_bps != rate)
		ck_fail(s->ck, "entry %d: rate_bps %llu, expected %llu", i + 1,
			(unsigned long long)e->rate_bps, (unsigned long long)rate);
	/* A burst of 1: no tolerance beyond the emission interval. */
	if (e->emission_ns != emission || e->tolerance_ns != 0)
		ck_fail(s->ck, "entry %d: emission/tolerance %llu/%llu ns, expected %llu/0",
			i + 1, (unsigned long long)e->emission_ns,
			(unsigned long long)e->tolerance_ns, (unsigned long long)emission);
	if (e->until_ns != BOOT(sec) + duration * NS)
		ck_fail(s->ck,
			"entry %d: until_ns %llu, expected %llu (boot clock at s=%u + %llus)",
			i + 1, (unsigned long long)e->until_ns,
			(unsigned long long)(BOOT(sec) + duration * NS), sec,
			(unsigned long long)duration);
	if (e->since_ns != (uint64_t)(T0 + sec) * NS)
		ck_fail(s->ck, "entry %d: since_ns %llu, expected %llu", i + 1,
			(unsigned long long)e->since_ns, (unsigned long long)(T0 + sec) * NS);
	if (e->dry_run)
		ck_fail(s->ck, "entry %d: dry_run %u, expected 0", i + 1, e->dry_run);
	if (strcmp(e->reason, reason))
		ck_fail(s->ck, "entry %d: reason \"%.64s\", expected \"%s\"", i + 1, e->reason,
			reason);
}

/* ---------------------------------------------------------- median and MAD */

/* Every ordering of v[0..n) (Heap's algorithm on indexes), median and MAD each time. */
static void all_orders(struct ck *ck, const double *v, int n, double want_med, double want_mad)
{
	int idx[8], c[8] = { 0 }, i = 1, k;
	double w[8], med, mad;

	for (k = 0; k < n; k++)
		idx[k] = k;
	for (;;) {
		for (k = 0; k < n; k++)
			w[k] = v[idx[k]];
		ps_median_mad(w, n, &med, &mad);
		if (med != want_med || mad != want_mad) {
			char order[128];
			int o = 0;

			for (k = 0; k < n; k++)
				o += snprintf(order + o, sizeof(order) - o, "%s%g", k ? "," : "",
					      v[idx[k]]);
			ck_fail(ck, "{%s}: median %g MAD %g, expected %g %g", order, med, mad,
				want_med, want_mad);
			return;
		}
		while (i < n && c[i] >= i) {
			c[i] = 0;
			i++;
		}
		if (i >= n)
			break;
		k = i % 2 ? c[i] : 0;
		{
			int tmp = idx[k];

			idx[k] = idx[i];
			idx[i] = tmp;
		}
		c[i]++;
		i = 1;
	}
}

static void one_order(struct ck *ck, const char *label, const double *v, int n, double want_med,
		      double want_mad)
{
	double w[16], med, mad;
	int k;

	for (k = 0; k < n; k++)
		w[k] = v[k];
	ps_median_mad(w, n, &med, &mad);
	if (med != want_med || mad != want_mad)
		ck_fail(ck, "%s: median %g MAD %g, expected %g %g", label, med, mad, want_med,
			want_mad);
}

static void test_median_mad(void)
{
	struct ck ck;

	ck_init(&ck, "median_mad_odd");
	{
		/* sorted 1 2 4 7 9: median 4; |x - 4| = 5 3 0 3 5, sorted 0 3 3 5 5: MAD 3 */
		static const double v[] = { 9, 1, 4, 2, 7 };
		/* one value: itself, MAD 0 */
		static const double one[] = { 3.5 };

		one_order(&ck, "{9,1,4,2,7}", v, NA(v), 4, 3);
		one_order(&ck, "{3.5}", one, NA(one), 3.5, 0);
		all_orders(&ck, v, NA(v), 4, 3);
	}
	ck_end(&ck);

	ck_init(&ck, "median_mad_even");
	{
		/* sorted 1 2 3 4: median (2 + 3) / 2 = 2.5;
		 * |x - 2.5| = 1.5 .5 .5 1.5: MAD (.5 + 1.5) / 2 = 1 */
		static const double v[] = { 4, 1, 3, 2 };
		/* (1 + 10) / 2 = 5.5; |x - 5.5| = 4.5 4.5: MAD 4.5 */
		static const double two[] = { 10, 1 };
		/* sorted 0 2 4 6 8 10: median 5; |x - 5| sorted 1 1 3 3 5 5: MAD 3 */
		static const double six[] = { 8, 2, 6, 4, 10, 0 };

		one_order(&ck, "{4,1,3,2}", v, NA(v), 2.5, 1);
		one_order(&ck, "{10,1}", two, NA(two), 5.5, 4.5);
		one_order(&ck, "{8,2,6,4,10,0}", six, NA(six), 5, 3);
		all_orders(&ck, v, NA(v), 2.5, 1);
		all_orders(&ck, six, NA(six), 5, 3);
	}
	ck_end(&ck);

	ck_init(&ck, "median_mad_duplicates");
	{
		/* sorted 2 2 2 2 7: median 2; |x - 2| = 0 0 0 0 5: MAD 0 */
		static const double a[] = { 2, 2, 7, 2, 2 };
		/* sorted 1 5 5 5 5 9: median 5; |x - 5| sorted 0 0 0 0 4 4: MAD (0 + 0) / 2 = 0 */
		static const double b[] = { 5, 5, 1, 5, 9, 5 };
		/* sorted 1 2 2 3 5 8: median 2.5; |x - 2.5| sorted .5 .5 .5 1.5 2.5 5.5: MAD 1 */
		static const double c[] = { 1, 2, 2, 3, 5, 8 };
		/* sorted 0 1 4 4 4 4 9: median 4; |x - 4| sorted 0 0 0 0 3 4 5: MAD 0 */
		static const double d[] = { 4, 4, 1, 4, 9, 0, 4 };
		/* sorted 1 1 2 3 3 3 7 9: median 3;
		 * |x - 3| sorted 0 0 0 1 2 2 4 6: MAD (1 + 2) / 2 = 1.5 */
		static const double e[] = { 7, 1, 3, 3, 2, 9, 3, 1 };

		one_order(&ck, "{2,2,7,2,2}", a, NA(a), 2, 0);
		one_order(&ck, "{5,5,1,5,9,5}", b, NA(b), 5, 0);
		all_orders(&ck, a, NA(a), 2, 0);
		all_orders(&ck, b, NA(b), 5, 0);
		all_orders(&ck, c, NA(c), 2.5, 1);
		all_orders(&ck, d, NA(d), 4, 0);
		all_orders(&ck, e, NA(e), 3, 1.5);
	}
	ck_end(&ck);
}

/* ---------------------------------------------------------------- defaults */

static void test_defaults(void)
{
	struct ps_config *cfg = cfg_new();
	const struct ps_detection_cfg *dc = &cfg->detection;
	struct ck ck;

	ps_config_init(cfg);	/* as documented, not as the cases below set it */

	/* what every case below leans on (config.h's documented defaults) */
	ck_init(&ck, "config_defaults");
	if (dc->enabled != 1 || dc->interval != 10 || dc->min_population != 20 ||
	    dc->zscore != 3.5)
		ck_fail(&ck, "enabled/interval/min_population/zscore %d/%llu/%llu/%g, "
			     "expected 1/10/20/3.5",
			dc->enabled, (unsigned long long)dc->interval,
			(unsigned long long)dc->min_population, dc->zscore);
	if (dc->high_rate.enabled != 1 || dc->high_rate.requests_per_minute != 15)
		ck_fail(&ck, "high_rate %d/%llu, expected 1/15", dc->high_rate.enabled,
			(unsigned long long)dc->high_rate.requests_per_minute);
	if (dc->prefix.enabled != 1 || dc->prefix.min_clients != 10 ||
	    dc->prefix.requests_per_hour != 300)
		ck_fail(&ck, "prefix %d/%llu/%llu, expected 1/10/300", dc->prefix.enabled,
			(unsigned long long)dc->prefix.min_clients,
			(unsigned long long)dc->prefix.requests_per_hour);
	if (dc->low_and_slow.enabled != 1 || dc->low_and_slow.min_history != 10800 ||
	    dc->low_and_slow.duty_cycle != 0.9 || dc->low_and_slow.max_cv != 0.3 ||
	    dc->low_and_slow.requests_per_hour != 120)
		ck_fail(&ck, "low_and_slow %d/%llu/%g/%g/%llu, expected 1/10800/0.9/0.3/120",
			dc->low_and_slow.enabled, (unsigned long long)dc->low_and_slow.min_history,
			dc->low_and_slow.duty_cycle, dc->low_and_slow.max_cv,
			(unsigned long long)dc->low_and_slow.requests_per_hour);
	if (dc->surge.enabled != 1 || dc->surge.factor != 5 || dc->surge.min_history != 10800 ||
	    dc->surge.requests_per_hour != 120)
		ck_fail(&ck, "surge %d/%g/%llu/%llu, expected 1/5/10800/120", dc->surge.enabled,
			dc->surge.factor, (unsigned long long)dc->surge.min_history,
			(unsigned long long)dc->surge.requests_per_hour);
	if (dc->ratio.enabled != 1 || dc->ratio.min_ratio != 25 || dc->ratio.min_requests != 100)
		ck_fail(&ck, "ratio %d/%g/%llu, expected 1/25/100", dc->ratio.enabled,
			dc->ratio.min_ratio, (unsigned long long)dc->ratio.min_requests);
	if (dc->thresholds.requests_per_minute != PS_LIMIT_UNSET ||
	    dc->thresholds.requests_per_hour != PS_LIMIT_UNSET ||
	    dc->thresholds.requests_per_day != PS_LIMIT_UNSET ||
	    dc->thresholds.tx_payload_per_hour != PS_LIMIT_UNSET ||
	    dc->thresholds.tx_payload_per_day != PS_LIMIT_UNSET)
		ck_fail(&ck, "a threshold is set by default");
	if (dc->forget != 21600)
		ck_fail(&ck, "forget %llu, expected 21600", (unsigned long long)dc->forget);
	if (dc->nsteps != 4)
		ck_fail(&ck, "%d steps, expected 4", dc->nsteps);
	else if (dc->steps[0].action != PS_STEP_ALERT || dc->steps[0].cooldown != 300 ||
		 dc->steps[1].action != PS_STEP_SHAPE || dc->steps[1].duration != 3600 ||
		 dc->steps[1].cooldown != 600 || dc->steps[1].rate != 4000000 ||
		 dc->steps[2].action != PS_STEP_DELAY || dc->steps[2].duration != 3600 ||
		 dc->steps[2].cooldown != 600 || dc->steps[2].requests_per_minute != 10 ||
		 dc->steps[3].action != PS_STEP_BLOCK || dc->steps[3].duration != 3600 ||
		 dc->steps[3].cooldown != 600)
		ck_fail(&ck, "steps are not alert 5m; shape 4mbit 1h 10m; delay 10/min 1h 10m; "
			     "block 1h 10m");
	if (cfg->dry_run != 0 || cfg->nclasses != 0)
		ck_fail(&ck, "dry_run %d, %d classes; expected 0, 0", cfg->dry_run, cfg->nclasses);
	ck_end(&ck);
	free(cfg);
}

/* ----------------------------------------------------------------- classes */

static void test_class_of(void)
{
	struct ps_config *cfg = cfg_new();
	struct ck ck;
	static const struct {
		int family;
		const char *addr;
		int want;
	} cases[] = {
		{ PS_AF_INET, "10.1.2.3", 2 },		/* /8 and /16 match: the /16 */
		{ PS_AF_INET, "10.2.0.1", 1 },		/* only the /8 */
		{ PS_AF_INET, "10.1.2.200", 3 },	/* /8, /16, /25 (.128-.255): the /25 */
		{ PS_AF_INET, "10.1.2.127", 2 },	/* just below the /25 */
		{ PS_AF_INET, "192.0.2.1", 0 },		/* none */
		{ PS_AF_INET6, "2001:db8::1", 4 },
		{ PS_AF_INET6, "2001:db9::1", 0 },
		{ PS_AF_INET6, "::ffff:10.1.2.3", 0 },	/* v4-mapped is IPv6: no IPv4 class */
	};
	int i;

	add_class(cfg, "a", "10.0.0.0/8", 0, 0);
	add_class(cfg, "b", "10.1.0.0/16", 0, 0);
	add_class(cfg, "c", "10.1.2.128/25", 0, 0);
	add_class(cfg, "d", "2001:db8::/32", 0, 0);
	ck_init(&ck, "class_of_longest_match");
	for (i = 0; i < NA(cases); i++) {
		struct ps_client_key k = key_of(cases[i].family, cases[i].addr);
		int got = ps_config_class_of(cfg, &k);

		if (got != cases[i].want)
			ck_fail(&ck, "%s: class %d, expected %d", cases[i].addr, got,
				cases[i].want);
	}
	ck_end(&ck);
	free(cfg);
}

/* --------------------------------------------------------------- high_rate */

static void test_high_rate(void)
{
	struct ck ck;

	/*
	 * Two clients, below min_population 20: the defaults baseline,
	 * median log(1 + 1) = ln 2, scale 0.5. A sends 20 requests at
	 * s = 0..19, B 19 at s = 0..18; at s = 30 (minute 0, no previous
	 * bucket) their 1m figures are 20 and 19.
	 * A: z = (ln 21 - ln 2) / 0.5 = 2 ln 10.5 = 4.702750514 >= 3.5, at the floor 20.
	 * B: 19 < floor 20 (z would be 2 ln 10 = 4.6): nothing.
	 */
	ck_init(&ck, "high_rate_floor_defaults_baseline");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;

		s->old = true;
		pat_add(cl_add(s, key4f("192.0.2.20")), 0, 19, 1, 1, 0, 0);
		pat_add(cl_add(s, key4f("192.0.2.19")), 0, 18, 1, 1, 0, 0);
		advance(s, 0, 30);
		run_expect(s, 30, 1);
		expect_nalerts(s, "run at s=30", 1);
		a = alert_on(s, "192.0.2.20");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "high_rate", "alert", 4.702750514326955,
				    TOL, 1, 30);
			ev_str(&ck, a, "window", "1m");
			ev_num(&ck, a, "zscore", 4.702750514326955, TOL);
			ev_num(&ck, a, "floor", 20, 0);
			ev_num(&ck, a, "requests_1m", 20, 0);
			ev_num(&ck, a, "requests_1h", 20, 0);
			ev_str(&ck, a, "baseline.feature", "requests_1m");
			ev_str(&ck, a, "baseline.from", "defaults");
			ev_num(&ck, a, "baseline.median", 1, TOL);	/* expm1(ln 2) */
			ev_num(&ck, a, "baseline.mad_log", 0, 0);
			ev_num(&ck, a, "baseline.clients", 2, 0);
		}
		expect_nenf(s, "first step", 0);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * min_population 5, five clients whose 1m figures are 1, 3, 7, 15,
	 * 511 (all in minute 0, seen at s = 10): log(1 + x) = 1, 2, 3, 4, 9
	 * times ln 2. Median 3 ln 2 (x = 7); |deviations| 2, 1, 0, 1, 6 times
	 * ln 2, sorted 0 1 1 2 6: MAD ln 2 = 0.693147181; scale 1.4826 ln 2 =
	 * 1.027660010 (above the floor 0.5).
	 * 511: z = 6 ln 2 / (1.4826 ln 2) = 6 / 1.4826 = 4.046944557 >= 3.5.
	 * 15 is below the floor 20, the others far below.
	 */
	ck_init(&ck, "high_rate_population_zscore");
	{
		struct ps_config *cfg = cfg_new();
		struct sim *s;
		const struct got_alert *a;

		cfg->detection.min_population = 5;
		s = sim_new(&ck, cfg);
		s->old = true;
		pat_add(cl_add(s, key4f("192.0.2.1")), 0, 0, 1, 1, 0, 0);	/* 1 */
		pat_add(cl_add(s, key4f("192.0.2.2")), 0, 2, 1, 1, 0, 0);	/* 3 x 1 */
		pat_add(cl_add(s, key4f("192.0.2.3")), 0, 6, 1, 1, 0, 0);	/* 7 x 1 */
		pat_add(cl_add(s, key4f("192.0.2.4")), 0, 4, 1, 3, 0, 0);	/* 5 x 3 = 15 */
		pat_add(cl_add(s, key4f("192.0.2.5")), 0, 6, 1, 73, 0, 0);	/* 7 x 73 = 511 */
		advance(s, 0, 10);
		run_expect(s, 10, 1);
		expect_nalerts(s, "run at s=10", 1);
		a = alert_on(s, "192.0.2.5");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "high_rate", "alert", 4.046944556859572,
				    TOL, 1, 10);
			ev_num(&ck, a, "zscore", 4.046944556859572, TOL);
			ev_num(&ck, a, "requests_1m", 511, 0);
			ev_str(&ck, a, "baseline.from", "population");
			ev_num(&ck, a, "baseline.median", 7, TOL);	/* expm1(3 ln 2) */
			ev_num(&ck, a, "baseline.mad_log", 0.6931471805599453, TOL);
			ev_num(&ck, a, "baseline.clients", 5, 0);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * The same with 255 (log 8 ln 2): deviations 2 1 0 1 5 times ln 2,
	 * MAD ln 2, z = 5 / 1.4826 = 3.372453797 < 3.5: nothing, though 255 is
	 * over the floor and the defaults baseline would give 2 ln 128 = 9.7.
	 */
	ck_init(&ck, "high_rate_population_below_zscore");
	{
		struct ps_config *cfg = cfg_new();
		struct sim *s;

		cfg->detection.min_population = 5;
		s = sim_new(&ck, cfg);
		s->old = true;
		pat_add(cl_add(s, key4f("192.0.2.1")), 0, 0, 1, 1, 0, 0);
		pat_add(cl_add(s, key4f("192.0.2.2")), 0, 2, 1, 1, 0, 0);
		pat_add(cl_add(s, key4f("192.0.2.3")), 0, 6, 1, 1, 0, 0);
		pat_add(cl_add(s, key4f("192.0.2.4")), 0, 4, 1, 3, 0, 0);
		pat_add(cl_add(s, key4f("192.0.2.5")), 0, 4, 1, 51, 0, 0);	/* 5 x 51 = 255 */
		advance(s, 0, 10);
		run_expect(s, 10, 0);
		expect_nalerts(s, "run at s=10", 0);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * Between runs, a client that went over the high_rate floor is judged
	 * at the next call (the "hot" clients). Class "internal" (10/8)
	 * exempt. A 192.0.2.20 sends 1 request a second from s = 0, E 10.0.0.5
	 * 2 a second.
	 *   s=10  a run: A's 1m 11 < 20; one client in the minute's
	 *         population: defaults baseline (baseline.clients 1)
	 *   s=15  within the interval: A at 16 is not over the floor; E is
	 *         (32) but exempt: nothing
	 *   s=19  within the interval: A reached 20 at s = 19: judged on the
	 *         baseline of the run at s = 10, z = 2 ln 10.5 = 4.702750514;
	 *         no new run (runs stays 1)
	 */
	ck_init(&ck, "high_rate_between_runs");
	{
		struct ps_config *cfg = cfg_new();
		struct ps_detect_stats st;
		struct sim *s;
		const struct got_alert *a;

		add_class(cfg, "internal", "10.0.0.0/8", 1, 0);
		s = sim_new(&ck, cfg);
		s->old = true;
		pat_add(cl_add(s, key4f("192.0.2.20")), 0, 30, 1, 1, 0, 0);
		pat_add(cl_add(s, key4f("10.0.0.5")), 0, 30, 1, 2, 0, 0);
		advance(s, 0, 10);
		run_expect(s, 10, 0);
		advance(s, 11, 15);
		run_expect(s, 15, 0);
		expect_nalerts(s, "s=15", 0);
		advance(s, 16, 19);
		run_expect(s, 19, 1);
		expect_nalerts(s, "s=19", 1);
		a = alert_on(s, "192.0.2.20");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "high_rate", "alert", 4.702750514326955,
				    TOL, 1, 19);
			ev_num(&ck, a, "requests_1m", 20, 0);
			ev_str(&ck, a, "baseline.from", "defaults");
			ev_num(&ck, a, "baseline.clients", 1, 0);
		}
		ps_detect_stats(s->d, &st);
		if (st.runs != 1)
			ck_fail(&ck, "%llu runs, expected 1", (unsigned long long)st.runs);
		sim_free(s);
	}
	ck_end(&ck);
}

/*
 * A young client (first seen at s = 0, in this sim as in the daemon) is
 * judged on its pace: a request every 2 s from s = 0.
 *   s=10  a run: 6 requests over max(10, 30) s: pace 6 x 60 / 30 = 12 < 20
 *   s=19  10 requests (s = 0, 2, .., 18) over 30 s: pace 20 >= the floor,
 *         judged between runs on the defaults baseline:
 *         z = (ln 21 - ln 2) / 0.5 = 2 ln 10.5 = 4.702750514; evidence
 *         requests_1m 10, pace_1m 20
 * An old client (first seen an hour before) with the same requests: its
 * 1m figure, 10 at s = 19, is under the floor: nothing.
 */
static void test_high_rate_young(void)
{
	struct ck ck;
	int old;

	for (old = 0; old < 2; old++) {
		ck_init(&ck, old ? "high_rate_old_client_1m_figure" : "high_rate_young_client_pace");
		{
			struct sim *s = sim_new(&ck, cfg_new());
			const struct got_alert *a;

			s->old = old;
			pat_add(cl_add(s, key4f("192.0.2.30")), 0, 40, 2, 1, 0, 0);
			advance(s, 0, 10);
			run_expect(s, 10, 0);
			advance(s, 11, 19);
			run_expect(s, 19, old ? 0 : 1);
			expect_nalerts(s, "s=19", old ? 0 : 1);
			a = old ? NULL : alert_on(s, "192.0.2.30");
			if (a) {
				check_alert(s, a, PS_ALERT_CLIENT, "high_rate", "alert",
					    4.702750514326955, TOL, 1, 19);
				ev_num(&ck, a, "requests_1m", 10, 0);
				ev_num(&ck, a, "pace_1m", 20, TOL);
			}
			sim_free(s);
		}
		ck_end(&ck);
	}
}

/*
 * Many clients over the floor at once are judged by a full run against the
 * population of now, not one by one against the last run's baseline.
 * min_population 20. 25 quiet clients make 1 request at s = 1; the run at
 * s = 15 has them as its population: median ln 2, MAD 0. 40 busy clients
 * (a /24 each) make 3 requests a second from s = 16: at s = 22 each has
 * 21 in its 1m window, over the floor 20: 40 hot clients, within the
 * interval (15 + 10 > 22), but more than 16 and than a hundredth of the
 * 65: s = 22 is a full run (runs 2). Its population: 25 x ln 2 and
 * 40 x ln 22, median ln 22, MAD 0: every busy z is 0: no alert. (Judged
 * against the run at s = 15, each would have had
 * z = (ln 22 - ln 2) / 0.5 = 4.80: 40 alerts.)
 */
static void test_hot_flood(void)
{
	struct ck ck;

	ck_init(&ck, "high_rate_many_hot_judged_by_a_run");
	{
		struct ps_config *cfg = cfg_new();
		struct ps_detect_stats st;
		struct sim *s;
		int i;

		cfg->detection.min_population = 20;
		s = sim_new(&ck, cfg);
		s->old = true;
		for (i = 0; i < 25; i++)
			pat_add(cl_add(s, key4f("192.0.%d.7", i)), 1, 1, 1, 1, 0, 0);
		for (i = 0; i < 40; i++)
			pat_add(cl_add(s, key4f("198.51.%d.1", i)), 16, 60, 1, 3, 0, 0);
		advance(s, 0, 15);
		run_expect(s, 15, 0);
		advance(s, 16, 22);
		run_expect(s, 22, 0);
		expect_nalerts(s, "s=22", 0);
		ps_detect_stats(s->d, &st);
		if (st.runs != 2)
			ck_fail(&ck, "%llu runs, expected 2 (s=15 and a full run at s=22)",
				(unsigned long long)st.runs);
		sim_free(s);
	}
	ck_end(&ck);
}

/*
 * A run over many clients yields to its table's on_yield every
 * PS_CTABLE_YIELD_EVERY of them (penstockd answers requests there): what
 * is done there (reading the table, as `penstock clients` does) changes
 * nothing in the run, and the time it takes is not the run's. A reload
 * there (the hook returns true) stops the run, and the next one is due
 * at once.
 */
struct yield_probe {
	struct ps_ctable *t;
	struct ps_detect *d;
	int calls;
	int top_ok;
	int reload_at;		/* the call that reloads (0: none) */
};

/*
 * The CPU time each yield takes: well above the run's own time between
 * two yields (about 2.3 ms under the sanitizers on a loaded machine, less
 * without), so that a run that counted the hook's would show it.
 */
#define HOOK_NS 5000000ULL

static bool probe_yield(void *ctx)
{
	struct yield_probe *y = ctx;
	uint32_t *idx = NULL;
	uint64_t t0 = ps_cpu_ns();

	y->calls++;
	if (ps_ctable_top(y->t, PS_WIN_1M, PS_SORT_REQUESTS, 10, (uint64_t)(T0 + 2) * 1000,
			  &idx) == 10)
		y->top_ok++;
	free(idx);
	while (ps_cpu_ns() - t0 < HOOK_NS)
		;	/* CPU time that the run must not count as its own */
	if (y->calls != y->reload_at)
		return false;
	ps_detect_reconfigure(y->d);
	return true;
}

static void test_yield(void)
{
	uint32_t n = 3 * PS_CTABLE_YIELD_EVERY + 100, i;
	struct ck ck;

	ck_init(&ck, "run_yields_to_the_daemon_every_16384_clients");
	{
		struct ps_config *cfg = cfg_new();
		struct yield_probe y = {};
		struct ps_detect_stats st;
		struct sim *s = sim_new_n(&ck, cfg, n);

		for (i = 0; i < n; i++)
			pat_add(cl_add(s, key4f("10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255)),
				1, 1, 1, 1, 0, 0);
		advance(s, 0, 1);
		y.t = &s->t;
		y.d = s->d;
		s->t.on_yield = probe_yield;
		s->t.on_yield_ctx = &y;
		run(s, 2);
		ps_detect_stats(s->d, &st);
		/* Collecting, judging, and the prefixes' hashes: 3 each. */
		if (y.calls < 9 || y.top_ok != y.calls)
			ck_fail(&ck, "%d yields (%d read the top 10), expected at least 9", y.calls,
				y.top_ok);
		if (st.runs != 1 || st.clients != n)
			ck_fail(&ck, "%llu runs, %u clients judged, expected 1 and %u",
				(unsigned long long)st.runs, st.clients, n);
		if (st.last_ns >= (uint64_t)y.calls * HOOK_NS)
			ck_fail(&ck, "the run's CPU time %llu ns holds the hook's (%d x 5 ms)",
				(unsigned long long)st.last_ns, y.calls);

		/* The next run, reloaded at its 2nd yield, stops; the next tick runs. */
		y.calls = y.top_ok = 0;
		y.reload_at = 2;
		run(s, 13);
		ps_detect_stats(s->d, &st);
		if (y.calls != 2 || st.runs != 1)
			ck_fail(&ck, "reloaded at the 2nd yield: %d yields, %llu runs, expected 2 and 1",
				y.calls, (unsigned long long)st.runs);
		y.reload_at = 0;
		run(s, 14);
		ps_detect_stats(s->d, &st);
		if (st.runs != 2 || st.clients != n)
			ck_fail(&ck, "after the reload: %llu runs, %u clients judged, expected 2 and %u",
				(unsigned long long)st.runs, st.clients, n);
		sim_free(s);
	}
	ck_end(&ck);
}

/* ------------------------------------------------------ threshold, classes */

static void test_threshold(void)
{
	struct ck ck;

	/*
	 * detection.thresholds: requests_per_hour 100, tx_payload_per_hour
	 * 1000000. Class 1 "batch" (198.51.100.128/25): requests_per_hour
	 * 1000, tx_payload_per_hour inherited. Class 2 "internal" (10/8):
	 * exempt. Everything in hour 0, seen at s = 1800: 1h = totals.
	 *   A 192.0.2.1       1 req / 12 s, s = 0..1788: 150 > 100: score 1.5
	 *   B 198.51.100.130  the same, 150 <= 1000: nothing
	 *   C 198.51.100.131  5 req / 6 s, s = 0..1794: 300 x 5 = 1500 > 1000: score 1.5
	 *   D 198.51.100.132  1 req / 36 s, s = 0..1764: 50, tx 50 x 40000 =
	 *                     2000000 > 1000000: score 2
	 *   E 10.1.2.3        25 req / 9 s, s = 0..1791: 200 x 25 = 5000, tx 10^9: exempt
	 * Nothing else fires: B's 1m is 5 (< 20), its ratio 1000/100 = 10
	 * (< 25), its history 1800 s (< 3 h for surge); B, C, D are 3 of a /24.
	 */
	ck_init(&ck, "threshold_per_class");
	{
		struct ps_config *cfg = cfg_new();
		struct ps_detect_stats st;
		struct sim *s;
		const struct got_alert *a;

		cfg->detection.thresholds.requests_per_hour = 100;
		cfg->detection.thresholds.tx_payload_per_hour = 1000000;
		add_class(cfg, "batch", "198.51.100.128/25", 0, 0);
		cfg->classes[0].thresholds.requests_per_hour = 1000;
		add_class(cfg, "internal", "10.0.0.0/8", 1, 0);
		s = sim_new(&ck, cfg);
		pat_add(cl_add(s, key4f("192.0.2.1")), 0, 1788, 12, 1, 100, 1000);
		pat_add(cl_add(s, key4f("198.51.100.130")), 0, 1788, 12, 1, 100, 1000);
		pat_add(cl_add(s, key4f("198.51.100.131")), 0, 1794, 6, 5, 100, 100);
		pat_add(cl_add(s, key4f("198.51.100.132")), 0, 1764, 36, 1, 100, 40000);
		pat_add(cl_add(s, key4f("10.1.2.3")), 0, 1791, 9, 25, 100, 200000);
		advance(s, 0, 1800);
		run_expect(s, 1800, 3);
		expect_nalerts(s, "run at s=1800", 3);
		a = alert_on(s, "192.0.2.1");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "threshold", "alert", 1.5, TOL, 1, 1800);
			ev_str(&ck, a, "threshold", "requests_per_hour");
			ev_num(&ck, a, "value", 150, 0);
			ev_num(&ck, a, "limit", 100, 0);
			ev_num(&ck, a, "class", 0, 0);
		}
		a = alert_on(s, "198.51.100.131");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "threshold", "alert", 1.5, TOL, 1, 1800);
			ev_str(&ck, a, "threshold", "requests_per_hour");
			ev_num(&ck, a, "value", 1500, 0);
			ev_num(&ck, a, "limit", 1000, 0);
			ev_num(&ck, a, "class", 1, 0);
		}
		a = alert_on(s, "198.51.100.132");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "threshold", "alert", 2, TOL, 1, 1800);
			ev_str(&ck, a, "threshold", "tx_payload_per_hour");
			ev_num(&ck, a, "value", 2000000, 0);
			ev_num(&ck, a, "limit", 1000000, 0);
			ev_num(&ck, a, "class", 1, 0);
		}
		/* A, B, C, D judged; E (exempt) left out */
		ps_detect_stats(s->d, &st);
		if (st.clients != 4)
			ck_fail(&ck, "%u clients judged, expected 4", st.clients);
		expect_nenf(s, "first steps", 0);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * min_population 3; A 20 and B 19 requests in minute 0 as in
	 * high_rate_floor_defaults_baseline, E (exempt, 10/8) 30 at
	 * s = 0..29. Without E, 2 clients < 3: defaults baseline, A alerted
	 * with z = 2 ln 10.5 = 4.702750514 and baseline.clients 2. (Counting
	 * E would give a population of 3, median ln 21, and A a z of 0.)
	 * E itself (30 >= floor, z 2 ln 15.5 = 5.48 on the defaults) is never
	 * alerted.
	 */
	ck_init(&ck, "exempt_not_alerted_nor_in_population");
	{
		struct ps_config *cfg = cfg_new();
		struct ps_detect_stats st;
		struct sim *s;
		const struct got_alert *a;

		cfg->detection.min_population = 3;
		add_class(cfg, "internal", "10.0.0.0/8", 1, 0);
		s = sim_new(&ck, cfg);
		s->old = true;
		pat_add(cl_add(s, key4f("192.0.2.20")), 0, 19, 1, 1, 0, 0);
		pat_add(cl_add(s, key4f("192.0.2.19")), 0, 18, 1, 1, 0, 0);
		pat_add(cl_add(s, key4f("10.0.0.5")), 0, 29, 1, 1, 0, 0);
		advance(s, 0, 30);
		run_expect(s, 30, 1);
		expect_nalerts(s, "run at s=30", 1);
		a = alert_on(s, "192.0.2.20");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "high_rate", "alert", 4.702750514326955,
				    TOL, 1, 30);
			ev_str(&ck, a, "baseline.from", "defaults");
			ev_num(&ck, a, "baseline.clients", 2, 0);
		}
		ps_detect_stats(s->d, &st);
		if (st.clients != 2)
			ck_fail(&ck, "%u clients judged, expected 2", st.clients);
		sim_free(s);
	}
	ck_end(&ck);
}

/* -------------------------------------------------------------- escalation */

static void test_escalation(void)
{
	struct ck ck;

	/*
	 * detection.thresholds.requests_per_hour 10, default steps. X sends
	 * 1 request a second from s = 0; at s = 20 its 1h figure is 21 > 10
	 * (score 2.1) and stays over 10 at every run below.
	 *   s=20    step 1 alert, next step at 20 + 300 = 320
	 *   s=100, 319  cooldown: nothing
	 *   s=320   step 2 shape 4mbit for 1h, next at 320 + 600 = 920
	 *   s=919   nothing
	 *   s=920   step 3 delay 10/min: emission 60e9 x 1 / 10 = 6e9 ns, next 1520
	 *   s=1520  step 4 block, next 2120
	 *   s=2119  nothing
	 *   s=2120  block renewed: an entry, no alert, 0 steps taken
	 * X stops at s = 2120 and comes back at s = 23700..23720 (hour 6: 21
	 * requests in it): at s = 23720, 23720 - 2120 = 21600 = forget, not
	 * more: still the last step; the block renewed at s = 2120 ran out at
	 * 2120 + 3600 = 5720, so it is taken again, with an alert (step 4).
	 * Back again at s = 45300..45321 (hour 12: 22 requests):
	 * 45321 - 23720 = 21601 > forget: step 1.
	 */
	ck_init(&ck, "escalation_steps_cooldowns_forget");
	{
		struct ps_config *cfg = cfg_new();
		struct ps_detect_stats st;
		struct client *x;
		struct sim *s;
		int i;

		cfg->detection.thresholds.requests_per_hour = 10;
		s = sim_new(&ck, cfg);
		x = cl_add(s, key4f("192.0.2.50"));
		pat_add(x, 0, 2120, 1, 1, 0, 0);
		advance(s, 0, 20);
		run_expect(s, 20, 1);
		expect_nalerts(s, "s=20", 1);
		if (s->g.nal == 1) {
			check_alert(s, &s->g.al[0], PS_ALERT_CLIENT, "threshold", "alert", 2.1, TOL,
				    1, 20);
			ev_num(&ck, &s->g.al[0], "value", 21, 0);
		}
		expect_nenf(s, "s=20", 0);
		advance(s, 21, 100);
		run_expect(s, 100, 0);
		advance(s, 101, 319);
		run_expect(s, 319, 0);
		expect_nalerts(s, "s=319 (cooldown of step 1)", 1);
		expect_nenf(s, "s=319", 0);

		advance(s, 320, 320);
		run_expect(s, 320, 1);
		expect_nalerts(s, "s=320", 2);
		if (s->g.nal == 2)
			check_alert(s, &s->g.al[1], PS_ALERT_CLIENT, "threshold", "shape",
				    321.0 / 10, TOL, 2, 320);
		expect_nenf(s, "s=320", 1);
		check_enf(s, 0, "192.0.2.50", PS_ACT_SHAPE, 4000000, 0, 3600, 320,
			  "threshold: step 2 of 4");

		advance(s, 321, 919);
		run_expect(s, 919, 0);
		expect_nalerts(s, "s=919 (cooldown of step 2)", 2);
		advance(s, 920, 920);
		run_expect(s, 920, 1);
		expect_nalerts(s, "s=920", 3);
		if (s->g.nal == 3)
			check_alert(s, &s->g.al[2], PS_ALERT_CLIENT, "threshold", "delay",
				    921.0 / 10, TOL, 3, 920);
		expect_nenf(s, "s=920", 2);
		check_enf(s, 1, "192.0.2.50", PS_ACT_THROTTLE, 0, 6000000000ULL, 3600, 920,
			  "threshold: step 3 of 4");

		advance(s, 921, 1520);
		run_expect(s, 1520, 1);
		expect_nalerts(s, "s=1520", 4);
		if (s->g.nal == 4)
			check_alert(s, &s->g.al[3], PS_ALERT_CLIENT, "threshold", "block",
				    1521.0 / 10, TOL, 4, 1520);
		expect_nenf(s, "s=1520", 3);
		check_enf(s, 2, "192.0.2.50", PS_ACT_BLOCK, 0, 0, 3600, 1520,
			  "threshold: step 4 of 4");

		advance(s, 1521, 2119);
		run_expect(s, 2119, 0);
		expect_nenf(s, "s=2119 (cooldown of step 4)", 3);
		advance(s, 2120, 2120);
		run_expect(s, 2120, 0);
		expect_nalerts(s, "s=2120 (renewal)", 4);
		expect_nenf(s, "s=2120 (renewal)", 4);
		check_enf(s, 3, "192.0.2.50", PS_ACT_BLOCK, 0, 0, 3600, 2120,
			  "threshold: step 4 of 4");

		/* back at forget exactly: still the last step, its block over */
		pat_add(x, 23700, 23720, 1, 1, 0, 0);
		advance(s, 23700, 23720);
		run_expect(s, 23720, 1);
		expect_nalerts(s, "s=23720 (forget not yet passed, block ran out)", 5);
		if (s->g.nal == 5)
			check_alert(s, &s->g.al[4], PS_ALERT_CLIENT, "threshold", "block", 2.1,
				    TOL, 4, 23720);
		expect_nenf(s, "s=23720", 5);
		check_enf(s, 4, "192.0.2.50", PS_ACT_BLOCK, 0, 0, 3600, 23720,
			  "threshold: step 4 of 4");

		/* back after forget: step 1 again */
		x->np = 1;
		pat_add(x, 45300, 45321, 1, 1, 0, 0);
		advance(s, 45300, 45321);
		run_expect(s, 45321, 1);
		expect_nalerts(s, "s=45321 (forgotten)", 6);
		if (s->g.nal == 6)
			check_alert(s, &s->g.al[5], PS_ALERT_CLIENT, "threshold", "alert", 2.2, TOL,
				    1, 45321);
		expect_nenf(s, "s=45321", 5);

		for (i = 0; i < s->g.nal; i++)
			if (strcmp(s->g.al[i].subject, "192.0.2.50"))
				ck_fail(&ck, "alert %d on %s, expected 192.0.2.50", i + 1,
					s->g.al[i].subject);
		ps_detect_stats(s->d, &st);
		if (st.alerts != 6 || st.subjects != 1)
			ck_fail(&ck, "stats: %llu alerts, %u subjects; expected 6, 1",
				(unsigned long long)st.alerts, st.subjects);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * Class "partner" (192.0.2.0/24) alert_only; the same client and
	 * threshold: steps 1, 2, 3 at s = 20, 320, 920, each an alert with
	 * action "alert" and evidence alert_only, and no enforcement at all.
	 */
	ck_init(&ck, "alert_only_class");
	{
		struct ps_config *cfg = cfg_new();
		static const uint32_t when[] = { 20, 320, 920 };
		struct sim *s;
		uint32_t prev = 0;
		int i;

		cfg->detection.thresholds.requests_per_hour = 10;
		add_class(cfg, "partner", "192.0.2.0/24", 0, 1);
		s = sim_new(&ck, cfg);
		pat_add(cl_add(s, key4f("192.0.2.60")), 0, 1000, 1, 1, 0, 0);
		for (i = 0; i < NA(when); i++) {
			advance(s, prev, when[i]);
			prev = when[i] + 1;
			run_expect(s, when[i], 1);
		}
		expect_nalerts(s, "s=20, 320, 920", 3);
		for (i = 0; i < s->g.nal && i < 3; i++) {
			/* score: (when + 1) / 10 */
			check_alert(s, &s->g.al[i], PS_ALERT_CLIENT, "threshold", "alert",
				    (when[i] + 1) / 10.0, TOL, i + 1, when[i]);
			ev_true(&ck, &s->g.al[i], "alert_only");
		}
		expect_nenf(s, "alert_only", 0);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * The enforce hook answers -EEXIST (a manual entry): step 2 at s = 320
	 * asks for shape once, and the alert says "alert" with evidence
	 * not_applied "File exists" (strerror(EEXIST)).
	 */
	ck_init(&ck, "enforce_refused_not_applied");
	{
		struct ps_config *cfg = cfg_new();
		struct sim *s;

		cfg->detection.thresholds.requests_per_hour = 10;
		s = sim_new(&ck, cfg);
		s->g.enforce_ret = -EEXIST;
		pat_add(cl_add(s, key4f("192.0.2.50")), 0, 400, 1, 1, 0, 0);
		advance(s, 0, 20);
		run_expect(s, 20, 1);
		advance(s, 21, 320);
		run_expect(s, 320, 1);
		expect_nalerts(s, "s=20, 320", 2);
		if (s->g.nal == 2) {
			check_alert(s, &s->g.al[1], PS_ALERT_CLIENT, "threshold", "alert", 32.1,
				    TOL, 2, 320);
			ev_str(&ck, &s->g.al[1], "not_applied", "File exists");
			ev_absent(&ck, &s->g.al[0], "not_applied");
		}
		expect_nenf(s, "s=320", 1);
		check_enf(s, 0, "192.0.2.50", PS_ACT_SHAPE, 4000000, 0, 3600, 320,
			  "threshold: step 2 of 4");
		sim_free(s);
	}
	ck_end(&ck);

	/* Global dry_run: the entry is marked dry_run, the alert says shape and dry_run. */
	ck_init(&ck, "dry_run_marked");
	{
		struct ps_config *cfg = cfg_new();
		struct sim *s;

		cfg->detection.thresholds.requests_per_hour = 10;
		cfg->dry_run = 1;
		s = sim_new(&ck, cfg);
		pat_add(cl_add(s, key4f("192.0.2.50")), 0, 400, 1, 1, 0, 0);
		advance(s, 0, 20);
		run_expect(s, 20, 1);
		advance(s, 21, 320);
		run_expect(s, 320, 1);
		expect_nalerts(s, "s=20, 320", 2);
		if (s->g.nal == 2) {
			check_alert(s, &s->g.al[1], PS_ALERT_CLIENT, "threshold", "shape", 32.1,
				    TOL, 2, 320);
			ev_true(&ck, &s->g.al[1], "dry_run");
			ev_absent(&ck, &s->g.al[0], "dry_run");
		}
		expect_nenf(s, "s=320", 1);
		if (s->g.nen == 1 && s->g.en[0].e.dry_run != 1)
			ck_fail(&ck, "entry dry_run %u, expected 1", s->g.en[0].e.dry_run);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * A reload that puts an alerted client in an exempt class: after
	 * ps_detect_reconfigure, the run at s = 25 (inside the interval of
	 * the run at 20, which a reconfigure resets) judges it no more, and
	 * at s = 330 (past step 1's cooldown) no step 2 is taken.
	 */
	ck_init(&ck, "reconfigure_reclassifies");
	{
		struct ps_config *cfg = cfg_new();
		struct ps_detect_stats st;
		struct sim *s;

		cfg->detection.thresholds.requests_per_hour = 10;
		s = sim_new(&ck, cfg);
		pat_add(cl_add(s, key4f("192.0.2.50")), 0, 400, 1, 1, 0, 0);
		advance(s, 0, 20);
		run_expect(s, 20, 1);
		add_class(cfg, "internal", "192.0.2.50/32", 1, 0);
		ps_detect_reconfigure(s->d);
		advance(s, 21, 25);
		run_expect(s, 25, 0);
		ps_detect_stats(s->d, &st);
		if (st.runs != 2 || st.clients != 0)
			ck_fail(&ck, "after the run at s=25: %llu runs, %u clients; expected 2, 0",
				(unsigned long long)st.runs, st.clients);
		advance(s, 26, 330);
		run_expect(s, 330, 0);
		expect_nalerts(s, "s=330", 1);
		expect_nenf(s, "s=330", 0);
		sim_free(s);
	}
	ck_end(&ck);
}

/* ------------------------------------------------------------------ prefix */

/*
 * A hydra member: one request a minute at s = 60 j + i, j = 0..n-1
 * (minutes 0..n-1), 200 bytes up and 1000 down each.
 */
static void hydra_member(struct sim *s, struct ps_client_key k, uint32_t i, uint32_t n)
{
	pat_add(cl_add(s, k), i, i + 60 * (n - 1), 60, 1, 200, 1000);
}

/*
 * Ten members (i = 1..10) of 40 requests, seen at s = 2430 (hour 0;
 * minute 40 at fraction 0.5): 1h 40 each, 400 together; 1m: the last
 * request was in minute 39, so 1 x 0.5 each, 5 together, a pace of
 * 60 x 5 = 300 an hour < 400: rate 400 >= 300. Ten clients with 1h > 0
 * < min_population 20: defaults baseline, median ln 11, scale 0.5;
 * z = (ln 401 - ln 11) / 0.5 = 2 ln(401 / 11) = 7.192132309 >= 3.5.
 * Each member (40/h, 1/min) is under every per-client detector.
 */
#define HYDRA_Z 7.192132309016397

static void check_hydra_alert(struct sim *s, const struct got_alert *a, int step,
			      const char *action, uint32_t sec, int bclients)
{
	struct ck *ck = s->ck;

	if (!a)
		return;
	check_alert(s, a, PS_ALERT_PREFIX, "prefix", action, HYDRA_Z, TOL, step, sec);
	ev_str(ck, a, "window", "1h");
	ev_num(ck, a, "active_clients", 10, 0);
	ev_num(ck, a, "clients", 10, 0);
	ev_num(ck, a, "requests_per_hour", 400, TOL);
	ev_num(ck, a, "requests_1h", 400, TOL);
	ev_num(ck, a, "tx_payload_1h", 400000, TOL);	/* 400 x 1000 */
	ev_num(ck, a, "rx_payload_1h", 80000, TOL);	/* 400 x 200 */
	ev_num(ck, a, "zscore", HYDRA_Z, TOL);
	ev_str(ck, a, "baseline.from", "defaults");
	ev_num(ck, a, "baseline.median", 10, TOL);	/* expm1(ln 11) */
	ev_num(ck, a, "baseline.clients", bclients, 0);
	ev_str(ck, a, "hydra.decided_by", "together");
}

/*
 * A crowd behind one /24: twelve people (i = 1..12) arriving one a
 * minute (s = 60 i), each a session of five minutes, requests at two
 * paces (every 20 s and every 33 s: irregular intervals), then gone.
 * At s = 720 all twelve are active (seen in the last 10 min), the last
 * minute's pace well over 300 an hour and far above the defaults'
 * baseline: as busy as a hydra. But never 80% of them first seen within
 * 120 s (3 of 12), watched 660 s < 1800, their intervals irregular, and
 * a member's hour (24 requests) like a client's: a crowd, no alert.
 */
static void test_prefix_crowd(void)
{
	struct ck ck;
	uint32_t i;

	ck_init(&ck, "prefix_crowd_not_hydra");
	{
		struct sim *s = sim_new(&ck, cfg_new());

		for (i = 1; i <= 12; i++) {
			struct client *c = cl_add(s, key4f("198.51.100.%u", i));

			pat_add(c, 60 * i, 60 * i + 280, 20, 1, 200, 1000);
			pat_add(c, 60 * i + 5, 60 * i + 280, 33, 1, 200, 1000);
		}
		advance(s, 0, 720);
		run_expect(s, 720, 0);
		expect_nalerts(s, "s=720", 0);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * The same arrivals, but every member stays: requests every 120 s
	 * and every 170 s from s = 60 i on. At s = 1200 (watched 1140 s <
	 * 1800, arrivals spread) nothing; at s = 2400 (watched 2340 s) all
	 * twelve members seen in the hour are active: staying, found.
	 */
	ck_init(&ck, "prefix_hydra_staying");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;

		for (i = 1; i <= 12; i++) {
			struct client *c = cl_add(s, key4f("198.51.100.%u", i));

			pat_add(c, 60 * i, 90000, 120, 1, 200, 1000);
			pat_add(c, 60 * i + 7, 90000, 170, 1, 200, 1000);
		}
		advance(s, 0, 1200);
		run_expect(s, 1200, 0);
		advance(s, 1201, 2400);
		run_expect(s, 2400, 1);
		a = alert_on(s, "198.51.100.0/24");
		if (a) {
			ev_str(&ck, a, "hydra.decided_by", "staying");
			ev_num(&ck, a, "hydra.staying", 1, 0);
			ev_num(&ck, a, "hydra.watched_s", 2340, 0);
			ev_num(&ck, a, "hydra.together", 0.25, TOL);
			check_row_evidence(&ck, a);
		}
		sim_free(s);
	}
	ck_end(&ck);
}

/*
 * The bursty-members rule of the hydra/crowd decision (prefix.c): members
 * whose requests come in bursts with pauses between (people's sessions,
 * their coding agents) are no hydra for staying, however long they stay;
 * a campaign that starts its members together still is.
 *
 * Twelve members (i = 1..12) of 198.51.100.0/24 first seen one a minute
 * (s = 60 i), each sending `burst` requests one a second every `every` s
 * (200 bytes up, 1000 down each), judged at s = 2430 (hour 0; minute 40
 * at fraction 0.5). Every member stays (a request in the last 600 s),
 * arrivals are spread (3 of 12 within 120 s: together 0.25) and the
 * prefix was watched 2430 - 60 = 2370 >= 1800 s: staying holds, unless
 * the members' intervals are bursty (median CV >= HYDRA_BURSTY_CV = 2).
 *
 * Interval CV of a member as the detector keeps it: the intervals between
 * its requests, at most REG_N = 32 of them averaged equally (a population
 * mean and variance), so CV = sqrt(n S2 - S1^2) / S1 over its n intervals
 * (S1 their sum, S2 the sum of their squares); the prefix's is the median
 * member's (cv[nr / 2] of the 12 sorted).
 *
 * bursty:  8 requests every 600 s. Members 1..10 saw 4 bursts by s = 2430
 *          (at 60 i + 0, 600, 1200, 1800), 31 intervals: 28 of 1 s and 3
 *          of 600 - 7 = 593 s: S1 = 28 + 1779 = 1807, S2 = 28 + 3 x 351649
 *          = 1054975, CV = sqrt(31 x 1054975 - 1807^2) / 1807 =
 *          sqrt(29438976) / 1807 = 3.0026; members 11, 12 three bursts,
 *          3.1786. Median 3.0026 >= 2: no hydra, no alert.
 * sessions: the same 8 requests per 600 s as bursts of 4 every 300 s:
 *          members 6..10 saw 7 bursts, 27 intervals: 21 of 1 s and 6 of
 *          297 s: S1 = 21 + 1782 = 1803, S2 = 21 + 6 x 88209 = 529275,
 *          CV = sqrt(27 x 529275 - 1803^2) / 1803 = sqrt(11039616) / 1803
 *          = 1.842813; members 1..5 (8 bursts) 1.824345, 11..12 (6 bursts)
 *          1.868332: the median (the 7th smallest) is 1.842813 < 2:
 *          staying, found.
 *          Its figures: 1h: 5 x 32 + 5 x 28 + 2 x 24 = 348 requests (hour 0,
 *          nothing before); 1m at minute 40, fraction 0.5: the bursts at
 *          s = 2400 (members 5, 10: 8 requests) + those at s = 2340
 *          (members 4, 9: 8) x 0.5 = 12, a pace of 720 an hour > 348:
 *          rate 720 >= 300; 12 clients < min_population 20: the defaults'
 *          baseline (median ln 11, scale 0.5), z = 2 ln(721 / 11) =
 *          8.365487729 >= 3.5.
 * together: the bursty members (8 every 600 s) first seen at s = 61..72:
 *          12 of 12 within 120 s, decided by together before the bursty
 *          rule: a campaign's bursts are still a campaign. At s = 2430
 *          (the last bursts at 1860 + i, ended by s = 1879): 1h 12 x 32 = 384,
 *          1m 0: rate 384, z = 2 ln(385 / 11) = 7.110696123.
 * Each member's own figures (8 requests in a minute at most, 32 in the
 * hour, 8000 bytes a minute) are under every client detector.
 */
static void test_prefix_bursty(void)
{
	static const struct {
		const char *name;
		uint32_t burst, every;
		bool together;
		const char *why;	/* NULL: no alert */
		double z, rate, inf1h, inf1m, cv;
	} cases[] = {
		{ "prefix_bursty_members_not_hydra", 8, 600, false, NULL, 0, 0, 0, 0, 0 },
		{ "prefix_sessions_staying_hydra", 4, 300, false, "staying",
		  8.365487728973157, 720, 348, 12, 1.8428129558820079 },
		{ "prefix_bursty_together_hydra", 8, 600, true, "together",
		  7.110696122978827, 384, 384, 0, 3.0026395256379166 },
	};
	int k;

	for (k = 0; k < NA(cases); k++) {
		struct ck ck;
		struct sim *s;
		const struct got_alert *a;
		uint32_t i, b;

		ck_init(&ck, cases[k].name);
		s = sim_new(&ck, cfg_new());
		for (i = 1; i <= 12; i++) {
			struct client *c = cl_add(s, key4f("198.51.100.%u", i));
			uint32_t at = cases[k].together ? 60 + i : 60 * i;

			/* A burst: one request a second for `burst` seconds. */
			for (b = 0; b < cases[k].burst; b++)
				pat_add(c, at + b, 90000, cases[k].every, 1, 200, 1000);
		}
		advance(s, 0, 2430);
		run_expect(s, 2430, cases[k].why ? 1 : 0);
		expect_nalerts(s, "s=2430", cases[k].why ? 1 : 0);
		if (cases[k].why && (a = alert_on(s, "198.51.100.0/24"))) {
			check_alert(s, a, PS_ALERT_PREFIX, "prefix", "alert", cases[k].z, TOL, 1,
				    2430);
			ev_str(&ck, a, "hydra.decided_by", cases[k].why);
			ev_num(&ck, a, "active_clients", 12, 0);
			ev_num(&ck, a, "requests_per_hour", cases[k].rate, TOL);
			ev_num(&ck, a, "requests_1h", cases[k].inf1h, TOL);
			ev_num(&ck, a, "requests_1m", cases[k].inf1m, TOL);
			ev_num(&ck, a, "hydra.staying", 1, 0);
			ev_num(&ck, a, "hydra.together", cases[k].together ? 1 : 0.25, TOL);
			ev_num(&ck, a, "hydra.watched_s", cases[k].together ? 2430 - 61 : 2370, 0);
			/* Through the detector's float mean and variance: 1e-5. */
			ev_num(&ck, a, "hydra.interval_cv_median", cases[k].cv, 1e-5);
		}
		sim_free(s);
		ck_end(&ck);
	}
}

static void test_prefix(void)
{
	struct ck ck;
	uint32_t i;

	ck_init(&ck, "prefix_hydra_ipv4_24");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;

		for (i = 1; i <= 10; i++) {
			hydra_member(s, key4f("198.51.100.%u", i), i, 40);
			/* each answer reports 20 prompt and 300 completion tokens */
			pat_tokens(&s->cl[s->ncl - 1], 20, 300);
		}
		advance(s, 0, 2430);
		run_expect(s, 2430, 1);
		expect_nalerts(s, "s=2430", 1);
		a = alert_on(s, "198.51.100.0/24");
		check_hydra_alert(s, a, 1, "alert", 2430, 10);
		if (a) {
			ev_num(&ck, a, "requests_1m", 5, TOL);
			/* 10 members x 40 answers in hour 0: x 300, x 20 */
			ev_num(&ck, a, "tx_tokens_1h", 120000, 0);
			ev_num(&ck, a, "rx_tokens_1h", 8000, 0);
		}
		expect_nenf(s, "s=2430", 0);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * Nine members of 45 requests (minutes 0..44), seen at s = 2730
	 * (minute 45 at 0.5): 405 an hour together, over 300, but 9 active
	 * clients < min_clients 10: nothing.
	 */
	ck_init(&ck, "prefix_below_min_clients");
	{
		struct sim *s = sim_new(&ck, cfg_new());

		for (i = 1; i <= 9; i++)
			hydra_member(s, key4f("198.51.100.%u", i), i, 45);
		advance(s, 0, 2730);
		run_expect(s, 2730, 0);
		expect_nalerts(s, "s=2730", 0);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * A campaign younger than its hour: ten members each sending at
	 * s = i, i + 20, i + 40 (all in minute 0), seen at s = 55: 1m 3 each,
	 * 30 together, a pace of 60 x 30 = 1800 an hour > 1h figure 30:
	 * rate 1800; z = 2 ln(1801 / 11) = 10.196404145.
	 */
	ck_init(&ck, "prefix_young_campaign_pace");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;

		for (i = 1; i <= 10; i++)
			pat_add(cl_add(s, key4f("198.51.100.%u", i)), i, i + 40, 20, 1, 0, 0);
		advance(s, 0, 55);
		run_expect(s, 55, 1);
		expect_nalerts(s, "s=55", 1);
		a = alert_on(s, "198.51.100.0/24");
		if (a) {
			check_alert(s, a, PS_ALERT_PREFIX, "prefix", "alert", 10.19640414475517,
				    TOL, 1, 55);
			ev_num(&ck, a, "requests_per_hour", 1800, TOL);
			ev_num(&ck, a, "requests_1m", 30, TOL);
			ev_num(&ck, a, "requests_1h", 30, TOL);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/* The ten members in one IPv6 /64: the /64, and not the /48 around it. */
	ck_init(&ck, "prefix_ipv6_64_not_48");
	{
		struct sim *s = sim_new(&ck, cfg_new());

		for (i = 1; i <= 10; i++)
			hydra_member(s, key6f("2001:db8:1:2::%x", i), i, 40);
		advance(s, 0, 2430);
		run_expect(s, 2430, 1);
		expect_nalerts(s, "s=2430", 1);
		check_hydra_alert(s, alert_on(s, "2001:db8:1:2::/64"), 1, "alert", 2430, 10);
		sim_free(s);
	}
	ck_end(&ck);

	/* The ten members one per /64 of 2001:db8:2::/48: the /48. */
	ck_init(&ck, "prefix_ipv6_48_spread");
	{
		struct sim *s = sim_new(&ck, cfg_new());

		for (i = 1; i <= 10; i++)
			hydra_member(s, key6f("2001:db8:2:%x::1", i), i, 40);
		advance(s, 0, 2430);
		run_expect(s, 2430, 1);
		expect_nalerts(s, "s=2430", 1);
		check_hydra_alert(s, alert_on(s, "2001:db8:2::/48"), 1, "alert", 2430, 10);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * Ten members in 2001:db8:3:1::/64 and five more one per /64
	 * 2001:db8:3:2..6::/64 (same traffic): the /64 is found; its members
	 * are left out of the /48, which holds 5 active < 10: no /48 alert.
	 * Fifteen clients with 1h > 0, still < 20: defaults, baseline.clients 15.
	 */
	ck_init(&ck, "prefix_ipv6_48_without_found_64");
	{
		struct sim *s = sim_new(&ck, cfg_new());

		for (i = 1; i <= 10; i++)
			hydra_member(s, key6f("2001:db8:3:1::%x", i), i, 40);
		for (i = 2; i <= 6; i++)
			hydra_member(s, key6f("2001:db8:3:%x::1", i), i, 40);
		advance(s, 0, 2430);
		run_expect(s, 2430, 1);
		expect_nalerts(s, "s=2430", 1);
		check_hydra_alert(s, alert_on(s, "2001:db8:3:1::/64"), 1, "alert", 2430, 15);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * The ten IPv4 members in 203.0.113.0/24 and an exempt client
	 * 203.0.113.200 (2 requests a second at s = 2370..2429: its 1m at
	 * s = 2430 is 60 + 60 x 0.5 = 90, far over the high_rate floor). The
	 * /24 is found from the ten (active_clients 10) and only alerted: at
	 * s = 2430 step 1, at s = 2730 (past the 300 s cooldown; 1h still
	 * 400, members active within 600 s) step 2, action "alert",
	 * alert_only; nothing enforced, the exempt client never alerted.
	 */
	ck_init(&ck, "prefix_with_exempt_member_alert_only");
	{
		struct ps_config *cfg = cfg_new();
		struct sim *s;

		add_class(cfg, "internal", "203.0.113.200/32", 1, 0);
		s = sim_new(&ck, cfg);
		for (i = 1; i <= 10; i++)
			hydra_member(s, key4f("203.0.113.%u", i), i, 40);
		pat_add(cl_add(s, key4f("203.0.113.200")), 2370, 2429, 1, 2, 0, 0);
		advance(s, 0, 2430);
		run_expect(s, 2430, 1);
		expect_nalerts(s, "s=2430", 1);
		if (s->g.nal == 1) {
			check_hydra_alert(s, &s->g.al[0], 1, "alert", 2430, 10);
			ev_true(&ck, &s->g.al[0], "alert_only");
		}
		advance(s, 2431, 2730);
		run_expect(s, 2730, 1);
		expect_nalerts(s, "s=2730", 2);
		if (s->g.nal == 2) {
			check_hydra_alert(s, &s->g.al[1], 2, "alert", 2730, 10);
			ev_true(&ck, &s->g.al[1], "alert_only");
		}
		if (s->g.nal >= 1 && strcmp(s->g.al[0].subject, "203.0.113.0/24"))
			ck_fail(&ck, "alert on %s, expected 203.0.113.0/24", s->g.al[0].subject);
		expect_nenf(s, "s=2730", 0);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * One step only: delay 30 requests a minute for 600 s, cooldown 0.
	 * The hydra /24 at s = 2430: the ten active members share the rate,
	 * emission 60e9 x 10 / 30 = 2e10 ns; at s = 2440 the step (the last)
	 * is renewed: a second entry, no alert.
	 */
	ck_init(&ck, "prefix_delay_shared_by_members");
	{
		struct ps_config *cfg = cfg_new();
		struct sim *s;

		cfg->detection.nsteps = 1;
		memset(&cfg->detection.steps[0], 0, sizeof(cfg->detection.steps[0]));
		cfg->detection.steps[0].action = PS_STEP_DELAY;
		cfg->detection.steps[0].duration = 600;
		cfg->detection.steps[0].cooldown = 0;
		cfg->detection.steps[0].requests_per_minute = 30;
		s = sim_new(&ck, cfg);
		for (i = 1; i <= 10; i++)
			hydra_member(s, key4f("198.51.100.%u", i), i, 40);
		advance(s, 0, 2430);
		run_expect(s, 2430, 1);
		expect_nalerts(s, "s=2430", 1);
		if (s->g.nal == 1)
			check_hydra_alert(s, alert_on(s, "198.51.100.0/24"), 1, "delay", 2430, 10);
		expect_nenf(s, "s=2430", 1);
		check_enf(s, 0, "198.51.100.0/24", PS_ACT_THROTTLE, 0, 20000000000ULL, 600, 2430,
			  "prefix: step 1 of 1");
		advance(s, 2431, 2440);
		run_expect(s, 2440, 0);
		expect_nalerts(s, "s=2440", 1);
		expect_nenf(s, "s=2440", 2);
		check_enf(s, 1, "198.51.100.0/24", PS_ACT_THROTTLE, 0, 20000000000ULL, 600, 2440,
			  "prefix: step 1 of 1");
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * prefix.min_clients may be up to 10^6. min_clients 65536 and 65536
	 * clients 2001:db8:5::1:0 .. 2001:db8:5::1:ffff, 1 request each at
	 * s = 0, seen at s = 10: 65536 active in 2001:db8:5::/64. Population
	 * baseline of the hour (65536 >= 20 clients, all log(1 + 1)): median
	 * ln 2, MAD 0, scale 0.5. Rate max(65536, 60 x 65536) = 3932160;
	 * z = 2 ln(3932161 / 2) = 28.983105050.
	 */
	ck_init(&ck, "prefix_min_clients_over_65535");
	{
		struct ps_config *cfg = cfg_new();
		struct sim *s;
		const struct got_alert *a;

		cfg->detection.prefix.min_clients = 65536;
		s = sim_new_n(&ck, cfg, 65536);
		for (i = 0; i < 65536; i++)
			pat_add(cl_add(s, key6f("2001:db8:5::1:%x", i)), 0, 0, 1, 1, 0, 0);
		advance(s, 0, 0);
		run_expect(s, 10, 1);
		expect_nalerts(s, "s=10", 1);
		a = s->g.nal ? alert_on(s, "2001:db8:5::/64") : NULL;
		if (a) {
			check_alert(s, a, PS_ALERT_PREFIX, "prefix", "alert", 28.983105049868797,
				    TOL, 1, 10);
			ev_num(&ck, a, "active_clients", 65536, 0);
			ev_num(&ck, a, "requests_per_hour", 3932160, TOL);
		}
		sim_free(s);
	}
	ck_end(&ck);
}

/* ------------------------------------------------ prefix table, in a child */

/* The pipe to the parent, in a child of run_in_child(). */
static int child_fd = -1;

/* In a child: say what it is about to do, in case it does not come back. */
static void __attribute__((format(printf, 1, 2))) child_note(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (child_fd >= 0 && write(child_fd, line, n) < 0)
		child_fd = -1;
}

/*
 * Run fn in a child process with a time limit, for a case that may hang
 * or crash: the child sends notes and its verdict through a pipe (one per
 * line, the verdict after "="); a crash or the alarm is a failure too,
 * reported with the last note.
 */
static void run_in_child(const char *name, bool (*fn)(char *why, size_t len), unsigned secs)
{
	char buf[8192], *line, *save, *verdict = NULL, *note = NULL;
	ssize_t r;
	size_t o = 0;
	int pfd[2], status = 0;
	pid_t pid;

	fflush(stdout);
	if (pipe(pfd)) {
		fail(name, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		fail(name, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		char msg[1024] = "";
		bool ok;

		close(pfd[0]);
		child_fd = pfd[1];
		alarm(secs);
		ok = fn(msg, sizeof(msg));
		if (!ok)
			child_note("=%s", msg[0] ? msg : "failed without a reason");
		close(pfd[1]);
		_exit(ok ? 0 : 1);
	}
	close(pfd[1]);
	while (o < sizeof(buf) - 1 && (r = read(pfd[0], buf + o, sizeof(buf) - 1 - o)) > 0)
		o += r;
	buf[o] = 0;
	close(pfd[0]);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '=')
			verdict = line + 1;
		else
			note = line;
	}
	if (waitpid(pid, &status, 0) != pid)
		fail(name, "waitpid: %s", strerror(errno));
	else if (verdict)
		fail(name, "%s", verdict);
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		fail(name, "did not finish within %u s while %s", secs, note ? note : "starting");
	else if (WIFSIGNALED(status))
		fail(name, "crashed with signal %d (%s) while %s", WTERMSIG(status),
		     strsignal(WTERMSIG(status)), note ? note : "starting");
	else if (WEXITSTATUS(status))
		fail(name, "exit status %d while %s", WEXITSTATUS(status),
		     note ? note : "starting");
	else
		pass(name);
}

/*
 * An exempt class 10.0.0.0/8 with 1100 clients active, each in a /24 of
 * its own (10.a.b.1), and one other client: the prefix pass must account
 * for 1100 exempt prefixes beside one candidate's (an earlier version
 * sized its prefix table by the candidates alone and spun forever once
 * it was full). The run must come back, with nothing to alert (the other
 * client sent 1 request).
 */
static bool many_exempt_prefixes(char *why, size_t len)
{
	struct ps_config *cfg = cfg_new();
	struct ck ck;
	struct sim *s;
	uint32_t i;
	int n;

	ck_init(&ck, "prefix_table_many_exempt_clients");
	add_class(cfg, "internal", "10.0.0.0/8", 1, 0);
	s = sim_new(&ck, cfg);
	for (i = 0; i < 1100; i++)
		pat_add(cl_add(s, key4f("10.%u.%u.1", i / 256, i % 256)), 0, 0, 1, 1, 0, 0);
	pat_add(cl_add(s, key4f("192.0.2.1")), 0, 0, 1, 1, 0, 0);
	advance(s, 0, 10);
	child_note("running the detectors over 1100 exempt clients in 1100 /24s, 1 other");
	n = run(s, 10);
	child_note("checking the run");
	if (n != 0)
		ck_fail(&ck, "run took %d steps, expected 0", n);
	expect_nalerts(s, "s=10", 0);
	sim_free(s);
	if (!ck_ok(&ck))
		snprintf(why, len, "%s", ck.why);
	return ck_ok(&ck);
}

/*
 * The prefix detector at a run's scale: more grouped clients than it
 * sorts at once (PSLICE_MIN, 65536), in a slice of hashes at a time, and
 * one prefix bigger than that (its members all in one slice):
 *   100 quiet /24s, 10.0.q.0/24, 256 members each (25600), one request
 *     each at s = 1: grouped (their /24 holds min_clients), but none
 *     active in the last 10 min at s = 660: no prefix of theirs found;
 *   20 hydra /24s, 172.16.h.0/24, 256 members each (5120), and one
 *     hydra /64, fd00:1::/64, of 70000 members: two requests each at
 *     s = 650, all first seen together.
 * 100720 grouped keys, the /64's 70000 in one slice. At s = 660 (minute
 * 11 at fraction 0, hour 0): a member's 1m and 1h are 2 each (a quiet
 * one's 1h 1, its 1m 0). The baseline of the hour: 100720 clients,
 * 75120 at 2 and 25600 at 1: median ln 3, MAD 0, scale 0.5. A hydra
 * /24: 512 requests in the hour and in the minute, a pace of
 * 60 x 512 = 30720 an hour: z = 2 ln(30721 / 3). The /64: 140000, a pace
 * of 8400000: z = 2 ln(8400001 / 3). Each member's own pace: first seen
 * 10 s ago, 2 x 60 / 30 = 4 a minute, under the high_rate floor of 20,
 * and under every other detector's floors: 21 alerts, all prefixes.
 */
static void test_prefix_slices(void)
{
	struct ck ck;
	uint32_t i, m;

	ck_init(&ck, "prefix_many_grouped_in_slices");
	{
		struct sim *s = sim_new_n(&ck, cfg_new(), 100720);
		const struct got_alert *a;
		char subj[64];

		for (i = 0; i < 100; i++)
			for (m = 0; m < 256; m++)
				pat_add(cl_add(s, key4f("10.0.%u.%u", i, m)), 1, 1, 1, 1, 200, 1000);
		for (i = 0; i < 20; i++)
			for (m = 0; m < 256; m++)
				pat_add(cl_add(s, key4f("172.16.%u.%u", i, m)), 650, 650, 1, 2, 200,
					1000);
		for (m = 0; m < 70000; m++)
			pat_add(cl_add(s, key6f("fd00:1::%x:%x", m >> 16, m & 0xffff)), 650, 650, 1,
				2, 200, 1000);
		/* Nothing happens between the two bursts: no second is fed. */
		advance(s, 0, 1);
		advance(s, 650, 660);
		run_expect(s, 660, 21);
		expect_nalerts(s, "s=660", 21);
		for (i = 0; i < 20 && ck_ok(&ck); i++) {
			snprintf(subj, sizeof(subj), "172.16.%u.0/24", i);
			a = alert_on(s, subj);
			if (!a)
				break;
			check_alert(s, a, PS_ALERT_PREFIX, "prefix", "alert",
				    2 * log(30721.0 / 3), TOL, 1, 660);
			ev_num(&ck, a, "active_clients", 256, 0);
			ev_num(&ck, a, "clients", 256, 0);
			ev_num(&ck, a, "requests_1h", 512, TOL);
			ev_num(&ck, a, "requests_1m", 512, TOL);
			ev_num(&ck, a, "requests_per_hour", 30720, TOL);
			ev_num(&ck, a, "baseline.clients", 100720, 0);
			ev_num(&ck, a, "baseline.median", 2, TOL);	/* expm1(ln 3) */
			ev_str(&ck, a, "hydra.decided_by", "together");
		}
		a = alert_on(s, "fd00:1::/64");
		if (a) {
			check_alert(s, a, PS_ALERT_PREFIX, "prefix", "alert",
				    2 * log(8400001.0 / 3), TOL, 1, 660);
			ev_num(&ck, a, "active_clients", 70000, 0);
			ev_num(&ck, a, "requests_1h", 140000, TOL);
			ev_num(&ck, a, "requests_per_hour", 8400000, TOL);
			ev_str(&ck, a, "hydra.decided_by", "together");
		}
		sim_free(s);
	}
	ck_end(&ck);
}

/*
 * A run reads its candidates' figures through ps_dt_cand, which computes
 * the fields it needs by the window arithmetic of ps_crec_view: the two
 * must agree to the bit, for records in 16-bit, 32-bit and wide buckets
 * (70000 requests in a second), read in the minute of their last fold,
 * the next, later, and the next hours.
 */
static void test_cand_figures(void)
{
	static const uint32_t at[] = { 125, 130, 179, 180, 185, 239, 240, 300, 3599, 3600,
				       3725, 7300, 7400 };
	struct ck ck;
	uint32_t i, k;

	ck_init(&ck, "candidate_figures_as_the_table_views");
	{
		struct sim *s = sim_new(&ck, cfg_new());

		for (i = 0; i < 40; i++)
			pat_add(cl_add(s, key4f("198.51.100.%u", i + 1)), i, 120 + i, 1 + i % 7,
				1 + i % 3, 100 + 37 * i, 5000 + 1001 * i);
		pat_add(cl_add(s, key4f("203.0.113.1")), 100, 100, 1, 70000, 10, 4000000);
		pat_add(cl_add(s, key6f("2001:db8::%x", 1)), 60, 124, 2, 4, 300, 100000);
		pat_tokens(&s->cl[s->ncl - 1], 10, 200);
		advance(s, 0, 125);
		for (k = 0; k < NA(at) && ck_ok(&ck); k++) {
			uint64_t now_ms = (uint64_t)(T0 + at[k]) * 1000 + 250;

			for (i = 0; i < s->t.n && ck_ok(&ck); i++) {
				const struct ps_crec *r = &s->t.rec[i];
				struct ps_cview v1m, v1h;
				struct cand c;

				ps_dt_cand(s->d, i, now_ms / 1000, now_ms, CAND_ALL, &c);
				ps_crec_view(&s->t, r, PS_WIN_1M, now_ms, &v1m);
				ps_crec_view(&s->t, r, PS_WIN_1H, now_ms, &v1h);
				if (c.inf1m != (float)v1m.v[PS_F_INFERENCE] ||
				    c.out1m != (float)v1m.v[PS_F_TX_PAYLOAD] ||
				    c.inf1h != (float)v1h.v[PS_F_INFERENCE] ||
				    c.txp1h != (float)v1h.v[PS_F_TX_PAYLOAD] ||
				    c.rxp1h != (float)v1h.v[PS_F_RX_PAYLOAD] ||
				    c.out1h != (float)v1h.v[PS_F_TX_PAYLOAD])
					ck_fail(&ck, "record %u at s=%u.25: candidate %g %g %g %g %g, "
						"view %g %g %g %g %g", i, at[k], c.inf1m, c.out1m,
						c.inf1h, c.txp1h, c.rxp1h, v1m.v[PS_F_INFERENCE],
						v1m.v[PS_F_TX_PAYLOAD], v1h.v[PS_F_INFERENCE],
						v1h.v[PS_F_TX_PAYLOAD], v1h.v[PS_F_RX_PAYLOAD]);
			}
		}
		if (!s->t.next_ext)
			ck_fail(&ck, "no record went wide: the case does not cover the extension");
		sim_free(s);
	}
	ck_end(&ck);
}

/*
 * A run's baselines are made over the figures as floats, their logarithms
 * taken as the selection compares them (ps_median_mad_f): the median and
 * MAD must be those of ps_median_mad over log(1 + x) as doubles, to the
 * bit, whatever the values (counts, fractions, tiny and huge ones, many
 * equal), the count (odd, even) and the order.
 */
static void test_median_mad_floats(void)
{
	struct ck ck;
	struct sim *s;
	uint64_t seed = 88172645463325252ULL;
	static const size_t sizes[] = { 1, 2, 3, 4, 5, 10, 11, 64, 999, 1000, 65537, 200000 };
	size_t k, i;

	ck_init(&ck, "median_mad_of_floats_as_of_their_logs");
	s = sim_new(&ck, cfg_new());
	for (k = 0; k < NA(sizes) * 4 && ck_ok(&ck); k++) {
		size_t n = sizes[k / 4];
		float *x = malloc(n * sizeof(*x));
		double *v = malloc(n * sizeof(*v)), m1, d1, m2, d2;

		if (!x || !v) {
			ck_fail(&ck, "out of memory");
			free(x);
			free(v);
			break;
		}
		for (i = 0; i < n; i++) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			switch (k % 4) {
			case 0:	/* requests: small counts, many equal */
				x[i] = (float)(seed % 8);
				break;
			case 1:	/* window figures: fractions */
				x[i] = (float)(seed % 100000) / 7.0f;
				break;
			case 2:	/* bytes an answer: tiny to huge */
				x[i] = (float)ldexp((double)(seed % 1000 + 1), (int)(seed >> 40) % 90 - 30);
				break;
			default:	/* two values */
				x[i] = seed % 3 ? 1.0f : 1.0000001f;
			}
			v[i] = log1p(x[i]);
		}
		ps_median_mad(v, n, &m1, &d1);
		ps_median_mad_f(s->d, x, n, &m2, &d2);
		if (m1 != m2 || d1 != d2)
			ck_fail(&ck, "%zu values (kind %zu): median %.17g, MAD %.17g from the floats; "
				"%.17g, %.17g from their logs", n, k % 4, m2, d2, m1, d1);
		free(x);
		free(v);
	}
	sim_free(s);
	ck_end(&ck);
}

/* ------------------------------------------------------------ low_and_slow */

static void test_low_and_slow(void)
{
	struct ck ck;

	/*
	 * R sends 1 request every 5 s from s = 0 (first seen then), I one at
	 * s = 10 j and 10 j + 1 (intervals 1, 9, 1, 9...: mean 5, standard
	 * deviation 4, cv 0.8 > max_cv 0.3); both 720 an hour, every minute
	 * active, no payload.
	 * s = 10790: 10790 s watched < min_history 10800: nothing.
	 * s = 10800: R: intervals all 5: mean 5, cv 0; minutes 0..180 active
	 * of 10800 / 60 + 1 = 181 watched: duty 1; 1h: 1 in hour 3 + 720 of
	 * hour 2 x 1 = 721 >= 120. Score (1 / 0.9) x (0.3 / max(cv, 0.01)) =
	 * 33.333333333. (1m 1 + 12 = 13 < 20; surge: own baseline (2161 -
	 * 721) / (3 - 1) = 720 an hour, factor 721 / 720 < 5.)
	 */
	ck_init(&ck, "low_and_slow_regular_not_irregular");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		struct client *irr;
		const struct got_alert *a;

		pat_add(cl_add(s, key4f("192.0.2.5")), 0, 10800, 5, 1, 0, 0);
		irr = cl_add(s, key4f("192.0.2.6"));
		pat_add(irr, 0, 10800, 10, 1, 0, 0);
		pat_add(irr, 1, 10791, 10, 1, 0, 0);
		advance(s, 0, 10790);
		run_expect(s, 10790, 0);
		expect_nalerts(s, "s=10790 (before min_history)", 0);
		advance(s, 10791, 10800);
		run_expect(s, 10800, 1);
		expect_nalerts(s, "s=10800", 1);
		a = alert_on(s, "192.0.2.5");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "low_and_slow", "alert",
				    33.333333333333336, FTOL, 1, 10800);
			ev_str(&ck, a, "window", "24h");
			ev_num(&ck, a, "duty_cycle", 1, TOL);
			ev_num(&ck, a, "watched_minutes", 181, 0);
			ev_num(&ck, a, "interval_mean_s", 5, TOL);
			ev_num(&ck, a, "interval_cv", 0, TOL);
			ev_num(&ck, a, "requests_1h", 721, TOL);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * A machine that started yesterday at noon: 1 request every 5 s from
	 * s = 43200 (day 0, 12:00) on, seen at s = 108000 (day 1, 06:00).
	 * Watched: minutes 720..1439 of day 0 and 0..360 of day 1,
	 * 1080 + 1 = 1081, every one of them active: duty 1081 / 1081 = 1;
	 * cv 0; 1h 1 + 720 = 721; score (1 / 0.9) x (0.3 / 0.01) = 33.333333.
	 * (1m 13 < 20; surge: 24h 4321 + 8640 x 0.75 = 10801, own baseline
	 * (10801 - 721) / (18 - 1) = 592.9 an hour, factor 1.2 < 5.)
	 */
	ck_init(&ck, "low_and_slow_since_yesterday");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;

		pat_add(cl_add(s, key4f("192.0.2.8")), 43200, 108000, 5, 1, 0, 0);
		advance(s, 43200, 108000);
		run_expect(s, 108000, 1);
		expect_nalerts(s, "s=108000", 1);
		a = s->g.nal ? alert_on(s, "192.0.2.8") : NULL;
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "low_and_slow", "alert",
				    33.333333333333336, FTOL, 1, 108000);
			ev_num(&ck, a, "duty_cycle", 1, TOL);
			ev_num(&ck, a, "watched_minutes", 1081, 0);
		}
		sim_free(s);
	}
	ck_end(&ck);
}

/* ------------------------------------------------------------------- surge */

static void test_surge(void)
{
	struct ck ck;

	/*
	 * S: 1 request a minute at s = 60 j, j = 0..239 (4 h, 60 in each hour),
	 * then 1 every 3 s (20 a minute) from s = 14400 (hour 4). high_rate and
	 * low_and_slow are off: this case judges surge alone (20 a minute is
	 * at the high_rate floor, and the interval average settles on 3 s).
	 * Runs every 10 s. At s = 14400 + u, f = u / 3600:
	 *   1h = (u div 3 + 1) + 60 (1 - f); 24h = 240 + u div 3 + 1
	 *   own baseline: (24h - 1h) / (hours seen - 1)
	 *     = (180 + 60 f) / ((14400 + u) / 3600 - 1) = (180 + 60 f) / (3 + f) = 60
	 *   u = 750: 251 + 60 x (1 - 750/3600) = 251 + 47.5 = 298.5; 298.5 / 60 = 4.975 < 5
	 *   u = 760: 254 + 60 x (1 - 760/3600) = 254 + 47.333 = 301.333;
	 *            / 60 = 5.022222 >= 5: surge at s = 15160,
	 *            baseline hours 3 + 760/3600 = 3.211111
	 */
	ck_init(&ck, "surge_after_own_baseline");
	{
		struct ps_config *cfg = cfg_new();
		struct client *c;
		struct sim *s;
		const struct got_alert *a;
		uint32_t sec, first = 0;

		cfg->detection.high_rate.enabled = 0;
		cfg->detection.low_and_slow.enabled = 0;
		s = sim_new(&ck, cfg);
		c = cl_add(s, key4f("192.0.2.7"));
		pat_add(c, 0, 14340, 60, 1, 0, 0);
		pat_add(c, 14400, 16000, 3, 1, 0, 0);
		advance(s, 0, 0);
		for (sec = 10; sec <= 15200 && ck_ok(&ck); sec += 10) {
			advance(s, sec - 9, sec);
			if (run(s, sec) && !first)
				first = sec;
		}
		if (first != 15160)
			ck_fail(&ck, "first detection at s=%u, expected 15160", first);
		expect_nalerts(s, "s=10..15200", 1);
		a = alert_on(s, "192.0.2.7");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "surge", "alert", 5.022222222222222,
				    FTOL, 1, 15160);
			ev_str(&ck, a, "window", "1h");
			ev_num(&ck, a, "factor", 5.022222222222222, FTOL);
			ev_num(&ck, a, "requests_1h", 301.3333333333333, FTOL);
			ev_num(&ck, a, "baseline.value", 60, FTOL);
			ev_num(&ck, a, "baseline.hours", 3.2111111111111112, TOL);
			/*
			 * Busier while it works, not only more hours: 253
			 * active minutes watched (240 + 13), less the hour's
			 * at most 60: 193 before, for (494 - 301.333) requests;
			 * the last minute 14 + 20 x (1 - 40/60) = 20.667.
			 */
			ev_num(&ck, a, "baseline.requests_per_active_minute",
			       (494 - 301.3333333333333) / 193, FTOL);
			/* Now: the lesser of the last minute (20.667) and
			 * the hour's 301.333 over 60 active minutes. */
			ev_num(&ck, a, "baseline.intensity",
			       (301.3333333333333 / 60) / ((494 - 301.3333333333333) / 193), FTOL);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * A crowd behind one address in the morning (a proxy's people at
	 * work): P 1 request every 300 s for 4 h (48, each in a minute of
	 * its own: 1 an active minute), then 3 a minute (every 20 s) from
	 * s = 14400, and in one minute a swing of 4 more at once (s = 17390:
	 * people's requests are a Poisson stream, whose minutes swing).
	 * At s = 17390 (hour 4 at f = 2990/3600): 1h = 150 + 4 + 12 x (1 - f)
	 * = 156.03; 24h = 48 + 154 = 202, base_n = 45.97 over 17390/3600 - 1
	 * = 3.83 h: 12.0 an hour, a factor of 13 >= 5: the hour is a surge
	 * over its quiet hours. Active minutes: 48 + 50 = 98, less 60: 38
	 * before, 45.97 / 38 = 1.21 requests an active minute. Its last
	 * minute (7 or more) is 5.8 times that, but the hour's 156.03 / 60 =
	 * 2.6 a minute is 2.15 times: its people's pace, not a faster client.
	 * No alert at any run (every 10 s) up to s = 18000. The same client
	 * judged by its last minute alone (the rule before) is alerted when
	 * the swing comes.
	 */
	ck_init(&ck, "surge_not_a_crowd_swing");
	{
		struct ps_config *cfg = cfg_new();
		struct client *c;
		struct sim *s;
		uint32_t sec;

		cfg->detection.high_rate.enabled = 0;
		cfg->detection.low_and_slow.enabled = 0;
		s = sim_new(&ck, cfg);
		c = cl_add(s, key4f("192.0.2.9"));
		pat_add(c, 0, 14340, 300, 1, 0, 0);
		pat_add(c, 14400, 90000, 20, 1, 0, 0);
		pat_add(c, 17390, 17390, 1, 4, 0, 0);
		advance(s, 0, 0);
		for (sec = 10; sec <= 18000 && ck_ok(&ck); sec += 10) {
			advance(s, sec - 9, sec);
			run(s, sec);
		}
		expect_nalerts(s, "s=10..18000", 0);
		sim_free(s);
	}
	ck_end(&ck);
}

/* ------------------------------------------------------------------- ratio */

static void test_ratio(void)
{
	struct ck ck;

	/*
	 * Hour 0, 1 request every 30 s, seen at s = 3590 (1h = 24h = totals):
	 *   R1 s = 0..3570: 120 requests, 100 up, 3000 down each: ratio 30 >= 25
	 *      over 24h and 1h, 120 >= 100 requests: score 30 / 25 = 1.2
	 *   R2 the same with 2000 down: ratio 20 < 25
	 *   R3 s = 0..2940: 99 requests < 100, ratio 30
	 * (R1's 1h 120 is at the surge floor, but 3590 s of history < 3 h.)
	 */
	ck_init(&ck, "ratio_24h_and_1h");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;

		pat_add(cl_add(s, key4f("192.0.2.11")), 0, 3570, 30, 1, 100, 3000);
		pat_add(cl_add(s, key4f("192.0.2.12")), 0, 3570, 30, 1, 100, 2000);
		pat_add(cl_add(s, key4f("192.0.2.13")), 0, 2940, 30, 1, 100, 3000);
		advance(s, 0, 3590);
		run_expect(s, 3590, 1);
		expect_nalerts(s, "s=3590", 1);
		a = alert_on(s, "192.0.2.11");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "ratio", "alert", 1.2, FTOL, 1, 3590);
			ev_str(&ck, a, "window", "24h");
			ev_num(&ck, a, "ratio_24h", 30, TOL);
			ev_num(&ck, a, "ratio_1h", 30, FTOL);
			ev_num(&ck, a, "requests_24h", 120, 0);
			ev_num(&ck, a, "tx_payload_24h", 360000, 0);	/* 120 x 3000 */
			ev_num(&ck, a, "rx_payload_24h", 12000, 0);	/* 120 x 100 */
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * Two clients, seen at s = 7190 (hour 1 at f = 3590/3600; hour 0
	 * weighs 10/3600 = 1/360):
	 *   M hour 0: 120 req (1/30 s), 100 up 5000 down; hour 1 (s = 3600..7140,
	 *     1/min): 60 req, 100 up 100 down. 24h: 606000 / 18000 = 33.7 >= 25;
	 *     1h: (6000 + 600000/360) / (6000 + 12000/360) = 7666.7 / 6033.3 = 1.27 < 25
	 *   N hour 0: 120 req 100/100; hour 1: 60 req 100 up 3000 down.
	 *     24h: 192000 / 18000 = 10.7 < 25; 1h: (180000 + 12000/360) /
	 *     (6000 + 12000/360) = 29.8 >= 25
	 * Neither is both: nothing.
	 */
	ck_init(&ck, "ratio_needs_both_windows");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		struct client *m, *n;

		m = cl_add(s, key4f("192.0.2.14"));
		pat_add(m, 0, 3570, 30, 1, 100, 5000);
		pat_add(m, 3600, 7140, 60, 1, 100, 100);
		n = cl_add(s, key4f("192.0.2.15"));
		pat_add(n, 0, 3570, 30, 1, 100, 100);
		pat_add(n, 3600, 7140, 60, 1, 100, 3000);
		advance(s, 0, 7190);
		run_expect(s, 7190, 0);
		expect_nalerts(s, "s=7190", 0);
		sim_free(s);
	}
	ck_end(&ck);
}

/* ----------------------------------------------------------------- outflow */

/*
 * n people, each in a /24 of its own (203.0.i.1, i = 1..n): one request
 * a minute from s = i, tx_pl bytes down each and a tenth of that up
 * (300 at least: never a ratio of 25).
 */
static void people(struct sim *s, int n, uint64_t tx_pl)
{
	int i;

	for (i = 1; i <= n; i++)
		pat_add(cl_add(s, key4f("203.0.%d.1", i)), i, 90000, 60, 1,
			tx_pl / 10 > 300 ? tx_pl / 10 : 300, tx_pl);
}

static void test_outflow(void)
{
	struct ck ck;

	/*
	 * A client taking ten times a person's output at a rate no rate
	 * detector sees: X one request every 10 s from s = 0 (6 a minute),
	 * 10000 bytes each; 30 people of 1000-byte answers a minute.
	 *   s = 10: people 1..10 seen, 11 networks < min_population 20:
	 *     the population arms do not judge (and X has 2 requests < 3).
	 *   s = 20: X 3 requests in the minute, 30000 >= 16384 bytes; 21
	 *     networks with answers, a request's outflow ln 1001 (20 people)
	 *     and ln 10001 (X): median ln 1001, MAD 0, scale 0.5;
	 *     z = 2 ln(10001 / 1001) = 4.603... >= 3.5. Found 20 s in.
	 */
	ck_init(&ck, "outflow_1m_ten_times_a_person");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;
		double z = 2 * log(10001.0 / 1001.0);
		struct client *x;

		people(s, 30, 1000);
		x = cl_add(s, key4f("198.51.100.7"));
		pat_add(x, 0, 90000, 10, 1, 300, 10000);
		/* each answer reports 75 prompt and 2500 completion tokens */
		pat_tokens(x, 75, 2500);
		advance(s, 0, 10);
		run_expect(s, 10, 0);
		advance(s, 11, 20);
		run_expect(s, 20, 1);
		expect_nalerts(s, "s=20", 1);
		a = alert_on(s, "198.51.100.7");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "outflow", "alert", z, FTOL, 1, 20);
			ev_str(&ck, a, "window", "1m");
			ev_str(&ck, a, "feature", "outflow_per_request_1m");
			ev_num(&ck, a, "value", 10000, FTOL);
			ev_num(&ck, a, "outflow_1m", 30000, 0);
			/* answers at s = 0, 10, 20, all in minute 0: 3 x 2500, 3 x 75 */
			ev_num(&ck, a, "tx_tokens_1m", 7500, 0);
			ev_num(&ck, a, "tx_tokens_1h", 7500, 0);
			ev_num(&ck, a, "rx_tokens_1h", 225, 0);
			ev_num(&ck, a, "requests_1m", 3, 0);
			ev_str(&ck, a, "baseline.from", "population");
			ev_num(&ck, a, "baseline.median", 1000, FTOL);
			ev_num(&ck, a, "baseline.clients", 21, 0);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * Ordinary answers are no outflow, however many: at s = 60, with the
	 * 30 people of 1000 bytes,
	 *   P a chatty person, 4 requests a minute of 1000 bytes: 4000 <
	 *     16384 bytes in the minute;
	 *   A an application, 12 a minute (under the high_rate floor 15) of
	 *     1500 bytes: 18000 bytes, a request's z = 2 ln(1501 / 1001) =
	 *     0.81 < 3.5, and < 1.75: its minute (18 times a person's busy
	 *     minute of 1000 bytes) is many ordinary answers, not long ones.
	 */
	ck_init(&ck, "outflow_ordinary_answers_not_found");
	{
		struct sim *s = sim_new(&ck, cfg_new());

		people(s, 30, 1000);
		pat_add(cl_add(s, key4f("198.51.100.8")), 0, 90000, 15, 1, 300, 1000);
		pat_add(cl_add(s, key4f("198.51.100.9")), 0, 90000, 5, 1, 300, 1500);
		advance(s, 0, 60);
		run_expect(s, 60, 0);
		expect_nalerts(s, "s=60", 0);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * X of the first test among 5 people only, from s = 400: 6 networks
	 * with answers (< min_population 20), a small population, which
	 * only the minute's outflow arm judges against: its clients watched
	 * 300 s or more (OUT_SMALL_AGE_S: the 5 people, first seen at s = i;
	 * not X), >= OUT_SMALL_POP 5. At s = 410 X has 2 requests (< 3). At
	 * s = 420 (minute 7 at fraction 0, hour 0):
	 *   each person 7 requests of 1000 bytes (s = i, i + 60, ...): a
	 *     request's outflow and a busy minute (the hour's outflow over
	 *     min(60, requests)) both ln 1001, MAD 0, scale 0.5;
	 *   X 3 requests (s = 400, 410, 420), 30000 bytes, watched 20 s: a
	 *     young pace of 30000 x 60 / 30 = 60000 a minute;
	 *   60000 >= 10 x 1000, z = 2 ln(60001 / 1001) = 8.1907... >= 3.5, a
	 *     request's z = 2 ln(10001 / 1001) = 4.60 >= 1.75: found at
	 *     s = 420, 20 s in, by the minute's outflow.
	 */
	ck_init(&ck, "outflow_small_population");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;
		double z = 2 * log(60001.0 / 1001.0);

		people(s, 5, 1000);
		pat_add(cl_add(s, key4f("198.51.100.7")), 400, 90000, 10, 1, 300, 10000);
		advance(s, 0, 410);
		run_expect(s, 410, 0);
		advance(s, 411, 420);
		run_expect(s, 420, 1);
		a = alert_on(s, "198.51.100.7");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "outflow", "alert", z, FTOL, 1, 420);
			ev_str(&ck, a, "window", "1m");
			ev_str(&ck, a, "feature", "outflow_1m");
			ev_num(&ck, a, "value", 60000, FTOL);
			ev_num(&ck, a, "requests_1m", 3, 0);
			ev_num(&ck, a, "outflow_1m", 30000, 0);
			ev_str(&ck, a, "baseline.from", "small population");
			ev_num(&ck, a, "baseline.median", 1000, FTOL);
			ev_num(&ck, a, "baseline.clients", 5, 0);
			ev_num(&ck, a, "baseline.factor", 60, FTOL);
			ev_num(&ck, a, "baseline.zscore_per_request", 2 * log(10001.0 / 1001.0),
			       FTOL);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * At night, the day's population: 30 people (203.0.i.1) a request a
	 * minute of 1000 bytes from s = i to s = 600, two of them (i = 1, 2)
	 * on all along. The run at s = 600 has 30 networks and makes the
	 * outflow baselines (the first run, OUT_KEEP_EVERY_S) though no
	 * client needs them: a request's outflow and a busy minute, median
	 * ln 1001, MAD 0, are kept. At s = 8000, past the hour of the 28 who
	 * left, X starts (a request every 10 s of 10000 bytes) among 2
	 * networks. At s = 8020: X 3 requests, 30000 >= 16384 bytes in the
	 * minute, a request's outflow against the kept baseline (from
	 * s = 600, 30 clients): z = 2 ln(10001 / 1001) = 4.603... >= 3.5,
	 * found 20 s in by a request's outflow (the first arm).
	 */
	ck_init(&ck, "outflow_population_earlier");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;
		double z = 2 * log(10001.0 / 1001.0);
		int i;

		for (i = 1; i <= 30; i++)
			pat_add(cl_add(s, key4f("203.0.%d.1", i)), i, i <= 2 ? 90000 : 600, 60, 1,
				300, 1000);
		pat_add(cl_add(s, key4f("198.51.100.7")), 8000, 90000, 10, 1, 300, 10000);
		advance(s, 0, 600);
		run_expect(s, 600, 0);
		advance(s, 601, 8020);
		run_expect(s, 8020, 1);
		a = alert_on(s, "198.51.100.7");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "outflow", "alert", z, FTOL, 1, 8020);
			ev_str(&ck, a, "feature", "outflow_per_request_1m");
			ev_str(&ck, a, "baseline.from", "population, earlier");
			ev_num(&ck, a, "baseline.made_at", T0 + 600, 0);
			ev_num(&ck, a, "baseline.clients", 30, 0);
			ev_num(&ck, a, "baseline.median", 1000, FTOL);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * An hour of long answers at a low rate: X one request every 300 s
	 * of 120000 bytes (never 3 in a minute); 30 people of 1000 bytes.
	 *   s = 2400: 9 requests < 10: not judged.
	 *   s = 2700: 10 requests, 1200000 >= 2^20 bytes; each person 45
	 *     requests, 45000: median ln 45001, MAD 0, scale 0.5;
	 *     z = 2 ln(1200001 / 45001) = 6.566... >= 3.5, and a request's
	 *     2 ln(120001 / 1001) >= 1.75.
	 */
	ck_init(&ck, "outflow_1h_population");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;
		double z = 2 * log(1200001.0 / 45001.0);

		people(s, 30, 1000);
		pat_add(cl_add(s, key4f("198.51.100.7")), 0, 90000, 300, 1, 300, 120000);
		advance(s, 0, 2400);
		run_expect(s, 2400, 0);
		advance(s, 2401, 2700);
		run_expect(s, 2700, 1);
		a = alert_on(s, "198.51.100.7");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "outflow", "alert", z, FTOL, 1, 2700);
			ev_str(&ck, a, "window", "1h");
			ev_str(&ck, a, "feature", "outflow_1h");
			ev_num(&ck, a, "outflow_1h", 1200000, 0);
			ev_num(&ck, a, "baseline.median", 45000, FTOL);
			ev_num(&ck, a, "baseline.clients", 31, 0);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * The hour over its own history: X one request every 600 s of 50000
	 * bytes for 4 h (24), then one every 90 s (39 in hour 4 up to
	 * s = 17880); 30 people of 10000 bytes a minute. At s = 17880
	 * (hour 4 at 3480/3600: hour 3 weighs 1/30):
	 *   X 1h: 39 x 50000 + 6 x 50000 / 30 = 1960000; a person's about
	 *     59 x 10000 + 60 x 10000 / 30 = 610000: z = 2 ln(1960001 /
	 *     610001) about 2.3, under 3.5 and over 1.75: not the 1h arm;
	 *   own history: 24h 63 requests, 3150000 bytes; watched 17880 s,
	 *     3.967 h besides the last: (3150000 - 1960000) / 3.967 = 300000
	 *     an hour, a factor 6.53 >= 5.
	 */
	ck_init(&ck, "outflow_own_history");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;
		struct client *x;
		double base_h = 17880.0 / 3600 - 1, per_h = (3150000.0 - 1960000) / base_h;

		people(s, 30, 10000);
		x = cl_add(s, key4f("198.51.100.7"));
		pat_add(x, 0, 14399, 600, 1, 300, 50000);
		pat_add(x, 14400, 90000, 90, 1, 300, 50000);
		advance(s, 0, 17880);
		run_expect(s, 17880, 1);
		a = alert_on(s, "198.51.100.7");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "outflow", "alert", 1960000 / per_h,
				    FTOL, 1, 17880);
			ev_str(&ck, a, "window", "1h");
			ev_str(&ck, a, "feature", "outflow_1h over its own");
			ev_num(&ck, a, "outflow_1h", 1960000, FTOL);
			ev_num(&ck, a, "baseline.value", per_h, FTOL);
			ev_num(&ck, a, "baseline.hours", base_h, TOL);
			ev_str(&ck, a, "baseline.from", "own history, last 24h");
		}
		sim_free(s);
	}
	ck_end(&ck);
}

/* ---------------------------------------------------------- outflow_tokens */

/*
 * people() whose answers report tok completion (and 50 prompt) tokens:
 * 203.0.i.1, one request a minute from s = i, 1000 bytes down.
 */
static void tok_people(struct sim *s, int n, uint64_t tok)
{
	int i;

	people(s, n, 1000);
	for (i = s->ncl - n; i < s->ncl; i++)
		pat_tokens(&s->cl[i], 50, tok);
}

/* The common evidence of an outflow_tokens alert. */
static void tok_ev(struct ck *ck, const struct got_alert *a, const char *kind, int clients,
		   double inf1m, double inf1h, double tok1m, double tok1h)
{
	ev_str(ck, a, "subject_kind", kind);
	ev_num(ck, a, "clients", clients, 0);
	ev_num(ck, a, "requests_1m", inf1m, FTOL);
	ev_num(ck, a, "requests_1h", inf1h, FTOL);
	ev_num(ck, a, "completion_tokens_1m", tok1m, FTOL);
	ev_num(ck, a, "completion_tokens_1h", tok1h, FTOL);
	ev_num(ck, a, "completion_tokens_per_request_1h", tok1h / inf1h, FTOL);
}

static void test_outflow_tokens(void)
{
	struct ck ck;

	/*
	 * An address whose answers are long in tokens and not in bytes: X a
	 * request every 10 s from s = 0, 1000 bytes each as a person's, each
	 * reporting 2000 completion tokens; 30 people of 250 tokens a minute.
	 * The outflow in bytes sees nothing (a request's bytes are a
	 * person's). At s = 10: 11 networks with tokens < min_population 20,
	 * and no earlier baseline: not judged. At s = 20 (minute 0 and hour 0
	 * at their start: the windows are the buckets): X 3 requests, 6000 >=
	 * 4096 tokens in the minute; 21 networks (people 1..20, X), a
	 * request's tokens ln 251 (20) and ln 2001: median ln 251, MAD 0,
	 * scale 0.5; z = 2 ln(2001 / 251) = 4.151... >= 3.5.
	 */
	ck_init(&ck, "outflow_tokens_per_request_1m");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;
		double z = 2 * log(2001.0 / 251.0);

		tok_people(s, 30, 250);
		pat_add(cl_add(s, key4f("198.51.100.7")), 0, 90000, 10, 1, 300, 1000);
		pat_tokens(&s->cl[s->ncl - 1], 75, 2000);
		advance(s, 0, 10);
		run_expect(s, 10, 0);
		advance(s, 11, 20);
		run_expect(s, 20, 1);
		expect_nalerts(s, "s=20", 1);
		a = alert_on(s, "198.51.100.7");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "outflow_tokens", "alert", z, FTOL, 1, 20);
			tok_ev(&ck, a, "address", 1, 3, 3, 6000, 6000);
			ev_str(&ck, a, "window", "1m");
			ev_str(&ck, a, "feature", "completion_tokens_per_request_1m");
			ev_num(&ck, a, "value", 2000, FTOL);
			ev_num(&ck, a, "zscore", z, FTOL);
			ev_str(&ck, a, "baseline.from", "population");
			ev_num(&ck, a, "baseline.median", 250, FTOL);
			ev_num(&ck, a, "baseline.mad_log", 0, 0);
			ev_num(&ck, a, "baseline.clients", 21, 0);
			ev_absent(&ck, a, "baseline.zscore_per_request");
			ev_num(&ck, a, "baseline.zscore_per_request_1h", z, FTOL);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * Streamed answers that report no usage: X a request every 10 s of
	 * 1000 bytes, each a stream of 1000 events (tx_tokens_estimated);
	 * 30 people of 250 reported tokens a minute. A request's 1000 tokens
	 * against 250: z = 2 ln(1001 / 251) = 2.766 < 3.5 (not the first
	 * arm), >= 1.75. At s = 10: 11 networks, not judged. At s = 20: X 3
	 * requests, 3000 tokens, watched 20 s: a young pace of 3000 x 60 / 30
	 * = 6000 >= 4096 a minute; a busy minute (the hour's tokens over
	 * min(60, requests)): people 1..20 250, X 1000: median ln 251, MAD 0;
	 * z = 2 ln(6001 / 251) = 6.35... >= 3.5, 24 times the median >= 10.
	 */
	ck_init(&ck, "outflow_tokens_flow_estimated");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;
		double z = 2 * log(6001.0 / 251.0);

		tok_people(s, 30, 250);
		pat_add(cl_add(s, key4f("198.51.100.7")), 0, 90000, 10, 1, 300, 1000);
		pat_streamed(&s->cl[s->ncl - 1], 1000);
		advance(s, 0, 10);
		run_expect(s, 10, 0);
		advance(s, 11, 20);
		run_expect(s, 20, 1);
		expect_nalerts(s, "s=20", 1);
		a = alert_on(s, "198.51.100.7");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "outflow_tokens", "alert", z, FTOL, 1, 20);
			tok_ev(&ck, a, "address", 1, 3, 3, 3000, 3000);
			ev_str(&ck, a, "window", "1m");
			ev_str(&ck, a, "feature", "completion_tokens_1m");
			ev_num(&ck, a, "value", 6000, FTOL);
			ev_str(&ck, a, "baseline.feature",
			       "completion tokens a busy minute of one client");
			ev_num(&ck, a, "baseline.median", 250, FTOL);
			ev_num(&ck, a, "baseline.clients", 21, 0);
			ev_num(&ck, a, "baseline.factor", 24, FTOL);
			ev_num(&ck, a, "baseline.zscore_per_request", 2 * log(1001.0 / 251.0), FTOL);
			ev_num(&ck, a, "baseline.zscore_per_request_1h", 2 * log(1001.0 / 251.0),
			       FTOL);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * At night, the day's baselines: 30 people (203.0.i.1) of 250 tokens a
	 * minute from s = i to s = 600, two of them (i = 1, 2) on all along.
	 * The run at s = 600 makes the baselines of 30 networks (a request's
	 * tokens ln 251, MAD 0), kept. At s = 8000, past the hour of the 28
	 * who left, X starts (2000 tokens every 10 s): at s = 8020, 3
	 * networks with tokens (< 20): the kept baseline (made at s = 600, 30
	 * clients); X 3 requests, 6000 tokens, z = 2 ln(2001 / 251) >= 3.5.
	 */
	ck_init(&ck, "outflow_tokens_population_earlier");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;
		double z = 2 * log(2001.0 / 251.0);
		int i;

		for (i = 1; i <= 30; i++) {
			pat_add(cl_add(s, key4f("203.0.%d.1", i)), i, i <= 2 ? 90000 : 600, 60, 1,
				300, 1000);
			pat_tokens(&s->cl[s->ncl - 1], 50, 250);
		}
		pat_add(cl_add(s, key4f("198.51.100.7")), 8000, 90000, 10, 1, 300, 1000);
		pat_tokens(&s->cl[s->ncl - 1], 50, 2000);
		advance(s, 0, 600);
		run_expect(s, 600, 0);
		advance(s, 601, 8020);
		run_expect(s, 8020, 1);
		a = alert_on(s, "198.51.100.7");
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "outflow_tokens", "alert", z, FTOL, 1,
				    8020);
			ev_str(&ck, a, "feature", "completion_tokens_per_request_1m");
			ev_str(&ck, a, "baseline.from", "population, earlier");
			ev_num(&ck, a, "baseline.made_at", T0 + 600, 0);
			ev_num(&ck, a, "baseline.clients", 30, 0);
			ev_num(&ck, a, "baseline.median", 250, FTOL);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * A proxy's address, its people's answers: P 10 requests a minute of
	 * 250 tokens from s = 0 to 2999 (every 6 s: 500), then 5 a minute of
	 * 1000 (every 12 s from s = 3000); 30 people of 250 tokens a minute.
	 * At s = 3060 (minute 51 at its start, hour 0): P's minute 6
	 * requests, 6000 tokens, 1000 a request (z = 2 ln(1001 / 251) =
	 * 2.77 >= 1.75), 24 times a person's busy minute; its hour 506
	 * requests, 131000 tokens (far above a person's 51 x 250), but
	 * 258.9 a request: z = 2 ln(259.89 / 251) = 0.07 < 1.75, its answers
	 * over the hour a person's: not found by any arm.
	 */
	ck_init(&ck, "outflow_tokens_proxy_not_found");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		struct client *p;

		tok_people(s, 30, 250);
		p = cl_add(s, key4f("198.51.100.9"));
		pat_add(p, 0, 2999, 6, 1, 300, 1000);
		pat_tokens(p, 50, 250);
		pat_add(p, 3000, 90000, 12, 1, 300, 1000);
		pat_tokens(p, 50, 1000);
		advance(s, 0, 3060);
		run_expect(s, 3060, 0);
		expect_nalerts(s, "s=3060", 0);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * API keys, against keys: 30 keys of 250 tokens a minute from s = i,
	 * and K a request every 10 s of 2000 tokens, streamed (its bytes
	 * would be thirty times a plain answer's: keys have no outflow in
	 * bytes). At s = 20: 21 keys with tokens, K's 3 requests, 6000
	 * tokens: z = 2 ln(2001 / 251) >= 3.5, as an address's.
	 */
	ck_init(&ck, "outflow_tokens_api_key");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		struct ps_client_key k;
		const struct got_alert *a;
		double z = 2 * log(2001.0 / 251.0);
		char name[32];
		int i;

		for (i = 1; i <= 30; i++) {
			ps_key_client(0x5000 + i, &k);
			pat_add(cl_add(s, k), i, 90000, 60, 1, 300, 1000);
			pat_tokens(&s->cl[s->ncl - 1], 50, 250);
		}
		ps_key_client(0xfeed, &k);
		pat_add(cl_add(s, k), 0, 90000, 10, 1, 300, 30000);
		pat_tokens(&s->cl[s->ncl - 1], 50, 2000);
		advance(s, 0, 20);
		run_expect(s, 20, 1);
		expect_nalerts(s, "s=20", 1);
		a = alert_on(s, ps_key_str(0xfeed, name, sizeof(name)));
		if (a) {
			check_alert(s, a, PS_ALERT_CLIENT, "outflow_tokens", "alert", z, FTOL, 1, 20);
			tok_ev(&ck, a, "api_key", 1, 3, 3, 6000, 6000);
			ev_str(&ck, a, "feature", "completion_tokens_per_request_1m");
			ev_num(&ck, a, "baseline.clients", 21, 0);
		}
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * A network: 5 addresses of 198.51.100.0/24, each a request every
	 * 30 s from s = 0 of 2000 tokens: each 2 requests a minute (< 3), an
	 * address arm for none. Beside them a crowd, 9 addresses of
	 * 203.0.200.0/24 (fewer than the prefix detector's 10) each a request
	 * every 20 s of 300 tokens, and an
	 * application at 203.0.201.1, 15 requests a minute of 250 tokens;
	 * 30 people of 250 tokens a minute. Runs at s = 10 and 20: the
	 * network's minute 5 requests (< 10). At s = 30: networks with tokens
	 * the 30 people's, the two /24s, the application's: 33 >= 20, a
	 * request's tokens ln 251 (31), ln 301, ln 2001: median ln 251, MAD
	 * 0, scale 0.5. The network: 10 requests, 20000 tokens in the minute,
	 * z = 2 ln(2001 / 251) >= 3.5, found (a prefix); the crowd's minute
	 * of 18 requests of 300: z = 2 ln(301 / 251) = 0.36; the
	 * application: a request's 250, z 0, and its minute 3750 < 4096.
	 */
	ck_init(&ck, "outflow_tokens_network");
	{
		struct sim *s = sim_new(&ck, cfg_new());
		const struct got_alert *a;
		double z = 2 * log(2001.0 / 251.0);
		int i;

		tok_people(s, 30, 250);
		for (i = 1; i <= 5; i++) {
			pat_add(cl_add(s, key4f("198.51.100.%d", i)), 0, 90000, 30, 1, 300, 1000);
			pat_tokens(&s->cl[s->ncl - 1], 50, 2000);
		}
		for (i = 1; i <= 9; i++) {
			pat_add(cl_add(s, key4f("203.0.200.%d", i)), 0, 90000, 20, 1, 300, 1000);
			pat_tokens(&s->cl[s->ncl - 1], 50, 300);
		}
		pat_add(cl_add(s, key4f("203.0.201.1")), 0, 90000, 4, 1, 300, 1000);
		pat_tokens(&s->cl[s->ncl - 1], 50, 250);
		advance(s, 0, 10);
		run_expect(s, 10, 0);
		advance(s, 11, 20);
		run_expect(s, 20, 0);
		advance(s, 21, 30);
		run_expect(s, 30, 1);
		expect_nalerts(s, "s=30", 1);
		a = alert_on(s, "198.51.100.0/24");
		if (a) {
			check_alert(s, a, PS_ALERT_PREFIX, "outflow_tokens", "alert", z, FTOL, 1, 30);
			tok_ev(&ck, a, "network", 5, 10, 10, 20000, 20000);
			ev_str(&ck, a, "window", "1m");
			ev_str(&ck, a, "feature", "completion_tokens_per_request_1m");
			ev_num(&ck, a, "value", 2000, FTOL);
			ev_str(&ck, a, "baseline.feature", "completion tokens a request of one network");
			ev_num(&ck, a, "baseline.median", 250, FTOL);
			ev_num(&ck, a, "baseline.clients", 33, 0);
		}
		sim_free(s);
	}
	ck_end(&ck);
}

/* ------------------------------------------------------- enabled, interval */

static void test_enabled_interval(void)
{
	struct ck ck;

	/* detection.enabled false: a client over the threshold, no run, no alert. */
	ck_init(&ck, "detection_disabled");
	{
		struct ps_config *cfg = cfg_new();
		struct ps_detect_stats st;
		struct sim *s;

		cfg->detection.enabled = 0;
		cfg->detection.thresholds.requests_per_hour = 10;
		s = sim_new(&ck, cfg);
		pat_add(cl_add(s, key4f("192.0.2.50")), 0, 60, 1, 1, 0, 0);
		advance(s, 0, 30);
		run_expect(s, 30, 0);
		advance(s, 31, 60);
		run_expect(s, 60, 0);
		expect_nalerts(s, "s=30, 60", 0);
		ps_detect_stats(s->d, &st);
		if (st.runs != 0)
			ck_fail(&ck, "%llu runs, expected 0", (unsigned long long)st.runs);
		sim_free(s);
	}
	ck_end(&ck);

	/*
	 * Interval 10 s, threshold 10 an hour, 1 request a second from s = 0.
	 * s = 5: a run (6 requests, nothing); s = 12 (< 5 + 10): no run,
	 * though 13 > 10 (the client is under the high_rate floor, so not
	 * judged between runs either); s = 15: a run, the alert (16
	 * requests: score 1.6).
	 */
	ck_init(&ck, "interval_respected");
	{
		struct ps_config *cfg = cfg_new();
		struct ps_detect_stats st;
		struct sim *s;

		cfg->detection.thresholds.requests_per_hour = 10;
		s = sim_new(&ck, cfg);
		s->old = true;
		pat_add(cl_add(s, key4f("192.0.2.50")), 0, 60, 1, 1, 0, 0);
		advance(s, 0, 5);
		run_expect(s, 5, 0);
		advance(s, 6, 12);
		run_expect(s, 12, 0);
		expect_nalerts(s, "s=12", 0);
		ps_detect_stats(s->d, &st);
		if (st.runs != 1)
			ck_fail(&ck, "after s=12: %llu runs, expected 1",
				(unsigned long long)st.runs);
		advance(s, 13, 15);
		run_expect(s, 15, 1);
		expect_nalerts(s, "s=15", 1);
		if (s->g.nal == 1)
			check_alert(s, &s->g.al[0], PS_ALERT_CLIENT, "threshold", "alert", 1.6, TOL,
				    1, 15);
		ps_detect_stats(s->d, &st);
		if (st.runs != 2)
			ck_fail(&ck, "after s=15: %llu runs, expected 2",
				(unsigned long long)st.runs);
		sim_free(s);
	}
	ck_end(&ck);
}

/*
 * A table the ticks have not made whole (clients left for the next ticks:
 * the table's unfolded, count/tick.c) is not judged: threshold 10 an hour,
 * interval 10 s, X at 1 request a second from s = 0, 3 clients left
 * unfolded until s = 25. s = 5, 15: no run (X over the threshold at 15,
 * 16 requests); s = 25, unfolded 0: the run, the alert (26 requests:
 * score 2.6), one run in all.
 */
static void test_partial_table(void)
{
	struct ps_config *cfg = cfg_new();
	struct ps_detect_stats st;
	struct sim *s;
	struct ck ck;

	ck_init(&ck, "no_run_on_a_partial_table");
	cfg->detection.thresholds.requests_per_hour = 10;
	s = sim_new(&ck, cfg);
	s->old = true;
	pat_add(cl_add(s, key4f("192.0.2.50")), 0, 60, 1, 1, 0, 0);
	s->t.unfolded = 3;
	advance(s, 0, 5);
	run_expect(s, 5, 0);
	advance(s, 6, 15);
	run_expect(s, 15, 0);
	expect_nalerts(s, "s=15, 3 clients unfolded", 0);
	ps_detect_stats(s->d, &st);
	if (st.runs != 0)
		ck_fail(&ck, "after s=15: %llu runs, expected 0", (unsigned long long)st.runs);
	advance(s, 16, 25);
	s->t.unfolded = 0;
	run_expect(s, 25, 1);
	expect_nalerts(s, "s=25, the table whole", 1);
	if (s->g.nal == 1)
		check_alert(s, &s->g.al[0], PS_ALERT_CLIENT, "threshold", "alert", 2.6, TOL, 1, 25);
	ps_detect_stats(s->d, &st);
	if (st.runs != 1)
		ck_fail(&ck, "after s=25: %llu runs, expected 1", (unsigned long long)st.runs);
	sim_free(s);
	ck_end(&ck);
}

/*
 * The escalation across a restart: X over detection.thresholds
 * requests_per_hour 10 takes step 1 (alert) at s = 20 and step 2 (shape)
 * at s = 320; the file then says stage 1 (0-based: the shape), next step
 * at (T0 + 320 + 600) * 1000 ms, last detection (T0 + 320) * 1000 ms. A new
 * detector loads it: X, fed again from s = 321, takes nothing at s = 919
 * (cooldown) and step 3 (delay) at s = 920, as if nothing had stopped.
 * A file that is not JSON gives -EINVAL; no file gives 0.
 */
/*
 * A last step whose action is shorter than its cooldown: one step, block
 * for 60 s, cooldown 600 s; X over detection.thresholds requests_per_hour
 * 10 from s = 20 (21 requests).
 *   s=20  block (alert, step 1) until 80; renewal due at 20 + 60/2 = 50,
 *         not at 20 + 600
 *   s=49  nothing
 *   s=50  renewed: a new entry until 110, no alert; next renewal at 80
 * X stops at s = 50; back at s = 200..210, its block over since 110:
 *   s=210 the block again, with an alert (step 1).
 */
static void test_last_step_renewal(void)
{
	struct ck ck;

	ck_init(&ck, "last_step_renewed_within_its_duration");
	{
		struct ps_config *cfg = cfg_new();
		struct client *x;
		struct sim *s;

		cfg->detection.thresholds.requests_per_hour = 10;
		cfg->detection.nsteps = 1;
		memset(&cfg->detection.steps[0], 0, sizeof(cfg->detection.steps[0]));
		cfg->detection.steps[0].action = PS_STEP_BLOCK;
		cfg->detection.steps[0].duration = 60;
		cfg->detection.steps[0].cooldown = 600;
		s = sim_new(&ck, cfg);
		x = cl_add(s, key4f("192.0.2.70"));
		pat_add(x, 0, 50, 1, 1, 0, 0);
		advance(s, 0, 20);
		run_expect(s, 20, 1);
		expect_nalerts(s, "s=20", 1);
		expect_nenf(s, "s=20", 1);
		check_enf(s, 0, "192.0.2.70", PS_ACT_BLOCK, 0, 0, 60, 20, "threshold: step 1 of 1");
		advance(s, 21, 49);
		run_expect(s, 49, 0);
		expect_nenf(s, "s=49", 1);
		advance(s, 50, 50);
		run_expect(s, 50, 0);
		expect_nalerts(s, "s=50 (renewal)", 1);
		expect_nenf(s, "s=50 (renewal)", 2);
		check_enf(s, 1, "192.0.2.70", PS_ACT_BLOCK, 0, 0, 60, 50, "threshold: step 1 of 1");
		x->np = 0;
		pat_add(x, 200, 210, 1, 1, 0, 0);
		advance(s, 200, 210);
		run_expect(s, 210, 1);
		expect_nalerts(s, "s=210 (block ran out)", 2);
		if (s->g.nal == 2)
			check_alert(s, &s->g.al[1], PS_ALERT_CLIENT, "threshold", "block",
				    (51.0 + 11) / 10, TOL, 1, 210);
		expect_nenf(s, "s=210", 3);
		sim_free(s);
	}
	ck_end(&ck);
}

/*
 * The escalation file, written a subject at a time: thousands of subjects
 * (more than the writer's 64 KiB buffer holds) come back whole, and the
 * file is byte for byte what jansson writes for the whole document
 * (JSON_COMPACT, a newline), as when it was dumped as one tree.
 */
static void test_escalation_file_streamed(void)
{
	char dir[] = "/tmp/pst-detect-XXXXXX", in[64], out[64], lerr[256];
	json_t *arr = json_array(), *doc, *back = NULL, *o;
	struct ps_config *cfg = cfg_new();
	struct sim *s = NULL;
	char *text = NULL, *dump = NULL, subj[32];
	size_t i, len = 0, n = 3000, found = 0;
	struct ck ck;
	FILE *f;
	int r;

	ck_init(&ck, "escalation_file_streamed");
	if (!mkdtemp(dir)) {
		ck_fail(&ck, "mkdtemp: %s", strerror(errno));
		ck_end(&ck);
		return;
	}
	snprintf(in, sizeof(in), "%s/in.json", dir);
	snprintf(out, sizeof(out), "%s/escalation.json", dir);
	for (i = 0; i < n; i++) {
		snprintf(subj, sizeof(subj), "198.18.%zu.%zu", i / 250, i % 250 + 1);
		json_array_append_new(arr, json_pack("{s:s,s:i,s:I,s:I,s:I}", "subject", subj,
						     "stage", 0, "next_ms",
						     (json_int_t)(T0 + i) * 1000, "last_ms",
						     (json_int_t)(T0 + i) * 1000 - 7, "until_ms",
						     (json_int_t)i * 3));
	}
	doc = json_pack("{s:o}", "subjects", arr);
	if (json_dump_file(doc, in, JSON_COMPACT))
		ck_fail(&ck, "cannot write %s", in);
	s = sim_new(&ck, cfg);
	if ((r = ps_detect_load(s->d, in, lerr, sizeof(lerr))) != (int)n)
		ck_fail(&ck, "loaded %d subjects of %zu: %s", r, n, lerr);
	else if (ps_detect_save(s->d, out))
		ck_fail(&ck, "ps_detect_save failed");
	f = fopen(out, "r");
	if (f) {
		text = calloc(1, 1 << 20);
		len = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
		fclose(f);
	}
	back = text ? json_loads(text, 0, NULL) : NULL;
	dump = back ? json_dumps(back, JSON_COMPACT) : NULL;
	if (!back || !dump)
		ck_fail(&ck, "%s is not JSON", out);
	else if (len != strlen(dump) + 1 || memcmp(text, dump, len - 1) || text[len - 1] != '\n')
		ck_fail(&ck, "%s (%zu bytes) is not jansson's compact dump of it (%zu bytes) and a newline",
			out, len, strlen(dump) + 1);
	json_array_foreach(json_object_get(back, "subjects"), i, o) {
		const char *sj = json_string_value(json_object_get(o, "subject"));
		unsigned a, b;
		size_t k;

		if (!sj || sscanf(sj, "198.18.%u.%u", &a, &b) != 2)
			continue;
		k = (size_t)a * 250 + b - 1;
		if (json_integer_value(json_object_get(o, "stage")) == 0 &&
		    json_integer_value(json_object_get(o, "next_ms")) == (json_int_t)(T0 + k) * 1000 &&
		    json_integer_value(json_object_get(o, "last_ms")) ==
			    (json_int_t)(T0 + k) * 1000 - 7 &&
		    json_integer_value(json_object_get(o, "until_ms")) == (json_int_t)k * 3)
			found++;
	}
	if (found != n)
		ck_fail(&ck, "%zu of %zu subjects came back with their stage and times", found, n);
	free(dump);
	free(text);
	json_decref(back);
	json_decref(doc);
	if (s)
		sim_free(s);
	unlink(in);
	unlink(out);
	rmdir(dir);
	ck_end(&ck);
}

static void test_escalation_restart(void)
{
	char dir[] = "/tmp/pst-detect-XXXXXX", path[64], bad[64], lerr[256];
	struct ck ck;

	ck_init(&ck, "escalation_survives_restart");
	if (!mkdtemp(dir)) {
		ck_fail(&ck, "mkdtemp: %s", strerror(errno));
		ck_end(&ck);
		return;
	}
	snprintf(path, sizeof(path), "%s/escalation.json", dir);
	snprintf(bad, sizeof(bad), "%s/bad.json", dir);
	{
		struct ps_config *cfg = cfg_new(), *cfg2 = cfg_new();
		struct sim *s, *s2;
		struct client *x;
		json_t *doc, *o;
		FILE *f;
		int n;

		cfg->detection.thresholds.requests_per_hour = 10;
		cfg2->detection.thresholds.requests_per_hour = 10;
		s = sim_new(&ck, cfg);
		x = cl_add(s, key4f("192.0.2.60"));
		pat_add(x, 0, 320, 1, 1, 0, 0);
		advance(s, 0, 20);
		run_expect(s, 20, 1);
		advance(s, 21, 320);
		run_expect(s, 320, 1);
		if (ps_detect_save(s->d, path))
			ck_fail(&ck, "ps_detect_save failed");
		sim_free(s);

		doc = json_load_file(path, 0, NULL);
		o = json_array_get(json_object_get(doc, "subjects"), 0);
		if (json_array_size(json_object_get(doc, "subjects")) != 1 ||
		    strcmp(json_string_value(json_object_get(o, "subject")) ?: "", "192.0.2.60") ||
		    json_integer_value(json_object_get(o, "stage")) != 1 ||
		    json_integer_value(json_object_get(o, "next_ms")) != (json_int_t)(T0 + 920) * 1000 ||
		    json_integer_value(json_object_get(o, "last_ms")) != (json_int_t)(T0 + 320) * 1000)
			ck_fail(&ck, "saved escalation is not stage 1, next at s=920, last at s=320");
		json_decref(doc);

		s2 = sim_new(&ck, cfg2);
		n = ps_detect_load(s2->d, path, lerr, sizeof(lerr));
		if (n != 1)
			ck_fail(&ck, "ps_detect_load returned %d, expected 1", n);
		x = cl_add(s2, key4f("192.0.2.60"));
		pat_add(x, 321, 920, 1, 1, 0, 0);
		advance(s2, 321, 919);
		run_expect(s2, 919, 0);
		advance(s2, 920, 920);
		run_expect(s2, 920, 1);
		expect_nalerts(s2, "s=920 after the restart", 1);
		if (s2->g.nal == 1)
			check_alert(s2, &s2->g.al[0], PS_ALERT_CLIENT, "threshold", "delay",
				    600.0 / 10, TOL, 3, 920);
		sim_free(s2);

		f = fopen(bad, "w");
		if (f) {
			fputs("{not json", f);
			fclose(f);
		}
		s = sim_new(&ck, cfg_new());
		if ((n = ps_detect_load(s->d, bad, lerr, sizeof(lerr))) != -EINVAL)
			ck_fail(&ck, "an unreadable file gave %d, expected -EINVAL", n);
		else if (!strstr(lerr, bad) || !strstr(lerr, ":1:"))
			ck_fail(&ck, "message \"%s\" does not name %s:1:COLUMN", lerr, bad);
		unlink(bad);
		if ((n = ps_detect_load(s->d, bad, lerr, sizeof(lerr))) != 0)
			ck_fail(&ck, "no file gave %d, expected 0", n);
		sim_free(s);
	}
	unlink(path);
	rmdir(dir);
	ck_end(&ck);
}

/* ------------------------------------------------- the run in a thread */

/*
 * The scene of bg_same_as_inline, fed to a sim: 12000 people, each in a
 * /24 of its own, a request every 20 s (3 a minute, answers of 1000
 * bytes); a client at 2 requests a second (high_rate); a client of
 * 10000-byte answers every 10 s (outflow); ten members of an IPv4 /24
 * and ten of an IPv6 /64 every 20 s from s = i, first seen together
 * (prefix); 5000 members of another /64 alike (a prefix big enough for
 * the run to yield among its members).
 */
#define BG_PEOPLE	12000
#define BG_BIG		5000
#define BG_CLIENTS	(BG_PEOPLE + BG_BIG + 22)

static void bg_scene(struct sim *s)
{
	uint32_t i;

	s->old = true;
	/* Every third person's answers report tokens, and the heavy
	 * client's (the outflow in tokens' passes over the table yield too). */
	for (i = 0; i < BG_PEOPLE; i++) {
		pat_add(cl_add(s, key4f("10.%u.%u.1", i >> 8, i & 255)), i % 20, 90000, 20, 1,
			300, 1000);
		if (i % 3 == 0)
			pat_tokens(&s->cl[s->ncl - 1], 10, 250);
	}
	pat_add(cl_add(s, key4f("192.0.2.7")), 1, 90000, 1, 2, 300, 1000);
	pat_add(cl_add(s, key4f("203.0.113.9")), 0, 90000, 10, 1, 300, 10000);
	pat_tokens(&s->cl[s->ncl - 1], 10, 3000);
	for (i = 1; i <= 10; i++) {
		pat_add(cl_add(s, key4f("198.51.100.%u", i)), i, 90000, 20, 1, 0, 0);
		pat_add(cl_add(s, key6f("2001:db8:0:1::%x", i)), i, 90000, 20, 1, 0, 0);
	}
	for (i = 1; i <= BG_BIG; i++)
		pat_add(cl_add(s, key6f("2001:db8:0:2::%x", i)), i % 20, 90000, 20, 1, 0, 0);
}

/* The loop's turn, emulated: give the table, take it back as soon as the
 * thread holds it (or the run ended), so that the loop asks for it while
 * the thread's run holds it. The table is taken back held. */
static void bg_turns(struct ps_tlock *lk, struct ps_detect *d)
{
	for (;;) {
		ps_tlock_give(lk);
		while (pthread_mutex_trylock(&lk->mu) == 0) {
			/* The thread has not taken it yet, or its run ended. */
			if (!ps_detect_bg_busy(d))
				return;
			pthread_mutex_unlock(&lk->mu);
			sched_yield();
		}
		/* The thread's run holds it: ask for it (it gives way at its next yield). */
		ps_tlock_take(lk);
		if (!ps_detect_bg_busy(d))
			return;
		/* The steps found so far, as the loop takes them when woken. */
		ps_detect_bg_take(d);
	}
}

static void bg_same(struct ck *ck, const char *when, const struct got *a, const struct got *b)
{
	int i;

	if (a->lost || b->lost || a->nal != b->nal || a->nen != b->nen) {
		ck_fail(ck, "%s: inline %d alerts, %d entries (%d lost); thread %d, %d (%d lost)",
			when, a->nal, a->nen, a->lost, b->nal, b->nen, b->lost);
		return;
	}
	for (i = 0; i < a->nal; i++) {
		const struct got_alert *x = &a->al[i], *y = &b->al[i];

		if (x->time_ms != y->time_ms || strcmp(x->subject, y->subject) ||
		    x->kind != y->kind || strcmp(x->detector, y->detector) ||
		    x->score != y->score || strcmp(x->action, y->action) ||
		    !json_equal(x->ev, y->ev)) {
			char *ex = json_dumps(x->ev, JSON_COMPACT), *ey = json_dumps(y->ev, JSON_COMPACT);

			ck_fail(ck, "%s: alert %d inline %s %s %s %.17g %s, thread %s %s %s %.17g %s",
				when, i, x->subject, x->detector, x->action, x->score, ex ? ex : "",
				y->subject, y->detector, y->action, y->score, ey ? ey : "");
			free(ex);
			free(ey);
			return;
		}
	}
	for (i = 0; i < a->nen; i++)
		if (memcmp(&a->en[i].p, &b->en[i].p, sizeof(a->en[i].p)) ||
		    memcmp(&a->en[i].e, &b->en[i].e, sizeof(a->en[i].e)))
			ck_fail(ck, "%s: entry %d differs", when, i);
}

/*
 * A run in the detector's thread finds what an inline run finds on a
 * table that does not move during it: two sims fed alike, one run
 * inline, one in the thread while this thread takes the table's lock
 * from it as penstockd's loop does; the same alerts (subject, detector,
 * score, action, evidence), in the same order, and the same entries.
 * Steps 30 s apart, a run every 30 s: each subject found goes up a step
 * at every run.
 */
static void test_bg_same_as_inline(void)
{
	static const uint32_t at[] = { 30, 60, 90, 120, 150, 180 };
	struct ck ck;

	ck_init(&ck, "bg_run_same_as_inline");
	{
		struct sim *a = sim_new_n(&ck, cfg_new(), BG_CLIENTS + 10);
		struct sim *b = sim_new_n(&ck, cfg_new(), BG_CLIENTS + 10);
		struct ps_detect_stats sa, sb;
		static const char *const want[] = { "192.0.2.7", "203.0.113.9",
						    "198.51.100.0/24", "2001:db8:0:1::/64",
						    "2001:db8:0:2::/64" };
		struct ps_tlock lk;
		uint32_t from = 0;
		int r, i, j;

		/* Steps 30 s apart: every run takes the next (alerts and entries). */
		for (j = 0; j < a->cfg->detection.nsteps; j++)
			a->cfg->detection.steps[j].cooldown = b->cfg->detection.steps[j].cooldown = 30;
		bg_scene(a);
		bg_scene(b);
		ps_tlock_init(&lk);
		ps_tlock_take(&lk);
		r = ps_detect_bg_start(b->d, &lk);
		if (r)
			ck_fail(&ck, "ps_detect_bg_start: %d", r);
		for (i = 0; i < NA(at) && !r && ck_ok(&ck); i++) {
			char when[32];

			snprintf(when, sizeof(when), "s=%u", at[i]);
			advance(a, from, at[i]);
			advance(b, from, at[i]);
			from = at[i] + 1;
			run(a, at[i]);
			/* Hands the run over (takes the last run's steps first). */
			run(b, at[i]);
			if (!ps_detect_bg_busy(b->d))
				ck_fail(&ck, "%s: no run handed to the thread", when);
			bg_turns(&lk, b->d);
			/* The loop's next call takes the steps the run found. */
			ps_detect_bg_take(b->d);
			bg_same(&ck, when, &a->g, &b->g);
		}
		ps_tlock_give(&lk);
		ps_detect_bg_stop(b->d);
		ps_detect_stats(a->d, &sa);
		ps_detect_stats(b->d, &sb);
		if (sa.runs != NA(at) || sb.runs != sa.runs || sb.alerts != sa.alerts ||
		    sb.clients != sa.clients || sa.clients != BG_CLIENTS)
			ck_fail(&ck, "runs %llu and %llu, alerts %llu and %llu, clients %u and %u "
				"(expected %d runs, %d clients)", (unsigned long long)sa.runs,
				(unsigned long long)sb.runs, (unsigned long long)sa.alerts,
				(unsigned long long)sb.alerts, sa.clients, sb.clients, NA(at),
				BG_CLIENTS);
		/* The loop asked for the table during the runs, and got it. */
		if (!sb.gave_way)
			ck_fail(&ck, "the thread's runs never gave the table to the loop");
		for (j = 0; j < NA(want); j++) {
			for (i = 0; i < a->g.nal && strcmp(a->g.al[i].subject, want[j]); i++)
				;
			if (i == a->g.nal)
				ck_fail(&ck, "no alert on %s (%d alerts)", want[j], a->g.nal);
		}
		printf("# %d alerts, %d entries; the thread gave the table to the loop %llu times\n",
		       a->g.nal, a->g.nen, (unsigned long long)sb.gave_way);
		sim_free(a);
		sim_free(b);
	}
	ck_end(&ck);
}

/*
 * A tick at each yield of the thread's run (ps_detect_bg_at_yield): a
 * second of counts folded for every client and 100 new clients; then the
 * table's records and the detector's state are moved to new memory, as
 * a realloc may move them, and the old freed (under the sanitizers, a
 * read of it is an error).
 */
struct bg_mover {
	struct sim *s;
	uint32_t sec, added, turns;
};

static void bg_move(void *ctx)
{
	struct bg_mover *m = ctx;
	uint32_t i;

	struct ps_detect *d = m->s->d;
	struct ps_ctable *t = &m->s->t;
	struct ps_crec *rec;
	struct dstate *ds;

	m->turns++;
	advance(m->s, m->sec, m->sec);
	for (i = 0; i < 100; i++) {
		struct ps_counters c = { .requests = 1, .inference_requests = 1, .rx_packets = 1,
					 .connections = 1,
					 .first_seen_ns = (uint64_t)(T0 + m->sec) * NS,
					 .last_seen_ns = (uint64_t)(T0 + m->sec) * NS };
		struct ps_client_key k = key4f("100.%u.%u.%u", 64 + (m->added >> 16),
					       (m->added >> 8) & 255, m->added & 255);

		m->added++;
		if (ps_ctable_update(t, &k, &c, NULL, T0 + m->sec, 0))
			ck_fail(m->s->ck, "ps_ctable_update of a new client failed");
	}
	rec = malloc((size_t)t->cap * sizeof(*rec));
	ds = malloc((size_t)d->cap_ds * sizeof(*ds));
	if (!rec || !ds) {
		printf("FAIL setup: out of memory\n");
		exit(1);
	}
	memcpy(rec, t->rec, (size_t)t->n * sizeof(*rec));
	memcpy(ds, d->ds, (size_t)d->nds * sizeof(*ds));
	free(t->rec);
	free(d->ds);
	t->rec = rec;
	d->ds = ds;
}

/*
 * The table moves under the thread's run (a tick at every one of its
 * yields): the run reads no record or detector state through a pointer
 * taken before a yield (under the sanitizers: no use after a realloc),
 * judges the candidates of its start and ends; the next run judges the
 * new clients too.
 */
static void test_bg_table_moves(void)
{
	struct ck ck;

	ck_init(&ck, "bg_run_while_the_table_moves");
	{
		struct sim *s = sim_new_n(&ck, cfg_new(), BG_CLIENTS + 10);
		struct bg_mover m = { .s = s, .sec = 31 };
		struct ps_detect_stats st;
		struct ps_tlock lk;
		uint32_t n0;
		int r;

		bg_scene(s);
		advance(s, 0, 30);
		ps_tlock_init(&lk);
		ps_tlock_take(&lk);
		r = ps_detect_bg_start(s->d, &lk);
		if (r)
			ck_fail(&ck, "ps_detect_bg_start: %d", r);
		n0 = s->t.n;
		ps_detect_bg_at_yield(s->d, bg_move, &m);
		run(s, 30);
		bg_turns(&lk, s->d);
		ps_detect_bg_take(s->d);
		ps_detect_bg_at_yield(s->d, NULL, NULL);
		ps_detect_stats(s->d, &st);
		/* 17022 candidates: yields at 4096, 8192, 12288 and 16384 of each pass over them */
		if (st.runs != 1 || st.clients != n0 || m.turns < 10 ||
		    s->t.n != n0 + 100 * m.turns)
			ck_fail(&ck, "%llu runs of %u clients, %u ticks, %u clients now (expected 1 "
				"run of %u, %u + 100 a tick)", (unsigned long long)st.runs,
				st.clients, m.turns, s->t.n, n0, n0);
		/* The next run, every client of its start active: the outflow
		 * baselines, made at the first, are made again when the outflow
		 * client is judged (their yields inside its judgement). */
		m.sec++;
		advance(s, m.sec, 60);
		m.sec = 61;
		n0 = s->t.n;
		ps_detect_bg_at_yield(s->d, bg_move, &m);
		run(s, 60);
		bg_turns(&lk, s->d);
		ps_detect_bg_take(s->d);
		ps_detect_bg_at_yield(s->d, NULL, NULL);
		ps_detect_stats(s->d, &st);
		if (st.runs != 2 || st.clients != n0)
			ck_fail(&ck, "%llu runs, %u clients at the last (expected 2 and %u)",
				(unsigned long long)st.runs, st.clients, n0);
		printf("# %u ticks at the yields of the two runs, %u clients added\n", m.turns,
		       m.added);
		ps_tlock_give(&lk);
		ps_detect_bg_stop(s->d);
		sim_free(s);
	}
	ck_end(&ck);
}

int main(void)
{
	test_defaults();
	test_median_mad();
	test_class_of();
	test_high_rate();
	test_high_rate_young();
	test_hot_flood();
	test_yield();
	test_threshold();
	test_escalation();
	test_escalation_restart();
	test_escalation_file_streamed();
	test_last_step_renewal();
	test_prefix();
	test_prefix_crowd();
	test_prefix_bursty();
	test_prefix_slices();
	test_cand_figures();
	test_median_mad_floats();
	run_in_child("prefix_table_many_exempt_clients", many_exempt_prefixes, 2);
	test_low_and_slow();
	test_surge();
	test_ratio();
	test_outflow();
	test_outflow_tokens();
	test_enabled_interval();
	test_partial_table();
	test_bg_same_as_inline();
	test_bg_table_moves();
	return nfailed ? 1 : 0;
}
