// SPDX-License-Identifier: GPL-2.0-only
/*
 * outflow_tokens (a row of detectors.c): what a subject took in
 * completion tokens against the population of its kind, at every run.
 * Three kinds of subject, each with its own population:
 *
 *   an address  compared with addresses, one a network (an IPv4 /24, an
 *               IPv6 /48: the first of the table's order with tokens in
 *               the hour), as the outflow in bytes compares them
 *   an API key  compared with keys: a key is a person, and a person's
 *               answers weigh the same in tokens streamed or not (in
 *               bytes a stream is thirty times its text, so the outflow
 *               in bytes leaves keys out)
 *   a network   its addresses with tokens together (TOK_NET_MIN_CLIENTS
 *               or more, those found as addresses at this run aside),
 *               a request's tokens compared with the networks': a
 *               campus's requests are its people's, as long as anyone's,
 *               where many addresses that each take long answers under
 *               every per-address arm make a network's answers long
 *
 * An address's or a key's arms, the first that holds speaks (z: robust
 * z-score of log(1 + x) against its kind's baseline over the hour), each
 * only where the hour's answers are longer than most people's (a
 * request's tokens over the hour at half the z-score: a proxy's minute
 * of a few of its people's answers is as long as chance makes it, its
 * hour of hundreds of them a person's):
 *   1m    OUT_MIN_REQ_1M requests or more in the last minute and
 *         TOK_MIN_1M tokens, a request's tokens at the z-score;
 *   flow  the minute's tokens (a young client's pace) at the z-score
 *         against a busy minute's (the hour's tokens over min(60,
 *         requests)) and OUT_FLOW_FACTOR times its median, a request's
 *         at half the z-score: long answers one after another;
 *   1h    OUT_MIN_REQ_1H requests and TOK_MIN_1H tokens in the hour,
 *         the hour at the z-score against the hours (many answers of
 *         people's length are a heavy user, not an outflow: the hour's
 *         answers are longer than most people's).
 * A network's: the minute's (TOK_NET_MIN_REQ_1M requests or more, and
 * TOK_MIN_1M tokens) or the hour's (OUT_MIN_REQ_1H, TOK_MIN_1H) tokens a
 * request at the z-score against the networks' over the hour, the
 * hour's at half the z-score at least.
 *
 * A population is min_population subjects of the kind with tokens in the
 * hour; with fewer, the last baselines a population gave, up to
 * OUT_KEEP_S old (what a person's answers are does not change at night);
 * with none, that kind is not judged (no defaults: a quiet default would
 * make every long answer an outlier). Clients that never counted a token
 * (no token entry) cost one look at their record.
 */
#include <math.h>
#include <string.h>

#include "common/units.h"
#include "policy/detect_int.h"

/* A network with completion tokens in the hour (an open-addressed slot, 32 bytes). */
struct tnet {
	uint64_t h;		/* its prefix's hash | 1; 0: a free slot */
	uint32_t rep;		/* its first address with tokens: the addresses' population */
	uint32_t members;	/* its addresses with tokens in the hour; TNET_HOLD */
	float inf1m, tok1m, inf1h, tok1h;	/* theirs together */
};
_Static_assert(sizeof(struct tnet) == 32, "a network's slot");
/* Holds an alert_only or exempt client: alerts only. */
#define TNET_HOLD	(1u << 31)
#define TNET_MEMBERS(t)	((t)->members & ~TNET_HOLD)

enum { K_ADDR, K_KEY };

static int net_len(const struct ps_client_key *k)
{
	return k->family == PS_AF_INET ? 24 : 48;
}

static uint64_t net_hash(const struct ps_client_key *k, struct ps_prefix *p)
{
	ps_dt_mask_prefix(k, net_len(k), p);
	return ps_dt_prefix_hash(p) | 1;
}

/*
 * The networks: an open-addressed index of cap slots (a power of two,
 * never full; 4 bytes a slot: entry + 1, 0 free) over the networks
 * themselves, packed in the order found. A slot index of a network's
 * own, not the network in its slot: at a million clients, 100,000 with
 * tokens, the index is 1 MB and a few thousand networks 100 KB, where
 * slots of 32 bytes were 8 MB, all written. The order of the slots, and
 * so of the networks judged, is what the slots' was.
 */
struct tnets {
	uint32_t *idx, cap;
	struct tnet *e;
	uint32_t n;
};

/* Network j of the slots' order, NULL for a free slot. */
static inline struct tnet *net_at(const struct tnets *ns, uint32_t j)
{
	return ns->idx[j] ? &ns->e[ns->idx[j] - 1] : NULL;
}

/* The network of hash h: made (zeroed, h set) if make, else NULL when there is none. */
static struct tnet *net_get(struct tnets *ns, uint64_t h, bool make)
{
	uint32_t j;

	for (j = h & (ns->cap - 1); ns->idx[j] && ns->e[ns->idx[j] - 1].h != h;
	     j = (j + 1) & (ns->cap - 1))
		;
	if (ns->idx[j])
		return &ns->e[ns->idx[j] - 1];
	if (!make)
		return NULL;
	memset(&ns->e[ns->n], 0, sizeof(ns->e[0]));
	ns->e[ns->n].h = h;
	ns->idx[j] = ++ns->n;
	return &ns->e[ns->n - 1];
}

/* A busy minute: the hour's tokens over its minutes with requests, min(60, requests). */
static double busy_of(const struct tokc *c)
{
	return c->tok1h / (c->inf1h < 1 ? 1 : c->inf1h > 60 ? 60 : c->inf1h);
}

/* The three features of a subject: a request's tokens, a busy minute's, the hour's. */
static void feat_of(const struct tokc *c, float v[3])
{
	v[0] = c->tok1h / c->inf1h;
	v[1] = busy_of(c);
	v[2] = c->tok1h;
}

/*
 * b from x[0..n) (reordered); with too few, the kept one made from a
 * population up to OUT_KEEP_S before now (b->population stays false when
 * there is none: the feature is not judged).
 */
static void tok_baseline(struct ps_detect *d, float *x, size_t n, struct baseline *b,
			 struct baseline *keep, uint32_t now)
{
	ps_dt_baseline_f(d, x, n, 0, b);
	if (b->population) {
		*keep = *b;
		keep->at = now;
		return;
	}
	if (keep->population && now >= keep->at && now - keep->at <= OUT_KEEP_S) {
		*b = *keep;
		b->from = BL_EARLIER;
	}
}

/* A finding: its arm, value, score and baseline. */
struct tfind {
	const char *window, *feature;
	double value, z;
	const struct baseline *b;
	const char *bfeature;
	double factor;		/* the flow arm's: the minute over the busy minute's median */
	double zr;		/* the flow arm's: a request's z-score in the minute */
	bool has_zr;
	double zh;		/* a request's z-score over the hour, every arm's */
};

/*
 * An address or a key against its kind's baselines. Every arm also asks
 * for the hour's answers longer than most people's (a request's tokens
 * over the hour at half the z-score): a proxy's or a campus's address
 * answers many people, and its minute of a few of their answers is as
 * long as chance makes it, its hour of hundreds of them a person's.
 */
static bool judge_subject(const struct ps_detection_cfg *dc, const struct tokc *c,
			  const struct tok_base *tb, struct tfind *f)
{
	double zr, zh;

	memset(f, 0, sizeof(*f));
	if (!tb->req.population)
		return false;
	zh = ps_dt_zscore(&tb->req, c->tok1h / c->inf1h);
	if (zh < dc->zscore / 2)
		return false;
	f->zh = zh;
	if (c->recent && c->inf1m >= OUT_MIN_REQ_1M && c->tok1m >= TOK_MIN_1M) {
		zr = ps_dt_zscore(&tb->req, c->tok1m / c->inf1m);
		if (zr >= dc->zscore) {
			f->window = "1m";
			f->feature = "completion_tokens_per_request_1m";
			f->value = c->tok1m / c->inf1m;
			f->z = zr;
			f->b = &tb->req;
			f->bfeature = "completion tokens a request of one client";
			return true;
		}
	}
	if (c->recent && c->inf1m >= OUT_MIN_REQ_1M && c->tpace1m >= TOK_MIN_1M &&
	    tb->busy.population) {
		double med = expm1(tb->busy.median), z = ps_dt_zscore(&tb->busy, c->tpace1m);

		zr = ps_dt_zscore(&tb->req, c->tok1m / c->inf1m);
		if (z >= dc->zscore && c->tpace1m >= OUT_FLOW_FACTOR * med && zr >= dc->zscore / 2) {
			f->window = "1m";
			f->feature = "completion_tokens_1m";
			f->value = c->tpace1m;
			f->z = z;
			f->b = &tb->busy;
			f->bfeature = "completion tokens a busy minute of one client";
			f->factor = c->tpace1m / (med > 1 ? med : 1);
			f->zr = zr;
			f->has_zr = true;
			return true;
		}
	}
	if (c->inf1h >= OUT_MIN_REQ_1H && c->tok1h >= TOK_MIN_1H && tb->hour.population) {
		double z = ps_dt_zscore(&tb->hour, c->tok1h);

		if (z >= dc->zscore) {
			f->window = "1h";
			f->feature = "completion_tokens_1h";
			f->value = c->tok1h;
			f->z = z;
			f->b = &tb->hour;
			f->bfeature = "completion_tokens_1h of one client";
			return true;
		}
	}
	return false;
}

/* A network against the networks' tokens a request (its minute's arm
 * also asks for its hour's at half the z-score, as an address's). */
static bool judge_net(const struct ps_detection_cfg *dc, const struct tnet *n,
		      const struct baseline *b, struct tfind *f)
{
	double z, zh;

	memset(f, 0, sizeof(*f));
	if (TNET_MEMBERS(n) < TOK_NET_MIN_CLIENTS || !b->population || !(n->inf1h > 0))
		return false;
	zh = ps_dt_zscore(b, n->tok1h / n->inf1h);
	if (zh < dc->zscore / 2)
		return false;
	f->zh = zh;
	f->b = b;
	f->bfeature = "completion tokens a request of one network";
	if (n->inf1m >= TOK_NET_MIN_REQ_1M && n->tok1m >= TOK_MIN_1M) {
		z = ps_dt_zscore(b, n->tok1m / n->inf1m);
		if (z >= dc->zscore) {
			f->window = "1m";
			f->feature = "completion_tokens_per_request_1m";
			f->value = n->tok1m / n->inf1m;
			f->z = z;
			return true;
		}
	}
	if (n->inf1h >= OUT_MIN_REQ_1H && n->tok1h >= TOK_MIN_1H && zh >= dc->zscore) {
		f->window = "1h";
		f->feature = "completion_tokens_per_request_1h";
		f->value = n->tok1h / n->inf1h;
		f->z = zh;
		return true;
	}
	return false;
}

/* An alert's evidence: the subject's figures, the arm's, its baseline. */
static json_t *evidence(const struct tfind *f, const char *kind, uint32_t clients, double inf1m,
			double inf1h, double tok1m, double tok1h)
{
	json_t *ev = json_pack("{s:s,s:I,s:s,s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "subject_kind",
			       kind, "clients", (json_int_t)clients, "window", f->window,
			       "feature", f->feature, "value", f->value,
			       "requests_1m", inf1m, "requests_1h", inf1h,
			       "completion_tokens_1m", tok1m, "completion_tokens_1h", tok1h,
			       "completion_tokens_per_request_1h", inf1h > 0 ? tok1h / inf1h : 0.0,
			       "zscore", f->z);
	json_t *b = ps_dt_baseline_json(f->b, f->bfeature, "1h");

	if (f->factor > 0)
		json_object_set_new(b, "factor", json_real(f->factor));
	if (f->has_zr)
		json_object_set_new(b, "zscore_per_request", json_real(f->zr));
	json_object_set_new(b, "zscore_per_request_1h", json_real(f->zh));
	json_object_set_new(ev, "baseline", b);
	return ev;
}

int ps_dt_judge_token_outflow(struct ps_detect *d, struct dt_run *run)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;
	uint32_t now = run->now, i, k = 0, ntok = 0, naddr = 0, cap = 64, j;
	size_t stride;
	uint64_t now_ms = run->now_ms;
	struct tok_base ba, bk;
	struct baseline bn;
	struct tnets nets;
	struct tfind f;
	struct tokc c;
	size_t n, kind;
	float *x;
	int taken = 0;

	/* Who may have tokens: a token entry (or 64-bit buckets). */
	/* A record is read after the yield before it: in the detector's
	 * thread, a tick at the yield may move the records. */
	FOR_CAND(d, i) {
		const struct ps_crec *r;

		if (ps_dt_yield(d, k++))
			return 0;
		r = &d->t->rec[i];
		if (r->tok || (r->ext && d->t->ext[r->ext - 1].wide)) {
			ntok++;
			naddr += r->key.family != PS_AF_KEY;
		}
	}
	if (!ntok)
		return 0;
	/* Half full at most: 64 to 128 bytes an address with tokens at most
	 * (a network's), none for the others. */
	while (cap < 2 * naddr)
		cap *= 2;
	nets.cap = cap;
	nets.n = 0;
	nets.idx = ps_dt_arena(&d->tidx, (size_t)cap * sizeof(*nets.idx));
	/* (pages written as networks are found: one a network) */
	nets.e = ps_dt_arena(&d->tnets, ((size_t)naddr + 1) * sizeof(*nets.e));
	/* Three features' values a subject with tokens at most (keys'). */
	stride = (size_t)ntok + 1;
	x = ps_dt_arena(&d->vals, 3 * stride * sizeof(float));
	if (!nets.idx || !nets.e || !x)
		return 0;
	memset(nets.idx, 0, (size_t)cap * sizeof(*nets.idx));

	/* The networks, their first address with tokens the population's. */
	FOR_CAND(d, i) {
		const struct ps_client_key *key;
		struct ps_prefix p;
		struct tnet *t;
		uint64_t h;

		if (ps_dt_yield(d, k++))
			return 0;
		key = &d->t->rec[i].key;
		if (key->family == PS_AF_KEY || !ps_dt_tokens(d, i, now, now_ms, &c))
			continue;
		h = net_hash(key, &p);
		t = net_get(&nets, h, false);
		if (!t) {
			/* (naddr networks at most: one an address, as counted) */
			if (nets.n > naddr)
				continue;
			t = net_get(&nets, h, true);
			t->rep = i;
		}
		t->members++;
		t->inf1m += c.inf1m;
		t->tok1m += c.tok1m;
		t->inf1h += c.inf1h;
		t->tok1h += c.tok1h;
		if (ps_dt_alert_only(d->cfg, d->ds[i].cls))
			t->members |= TNET_HOLD;
	}
	/* An exempt client is in no judgement, but its network is alerted only. */
	for (i = 0; i < d->nex; i++) {
		struct ps_prefix p;
		struct tnet *t;

		if (d->t->rec[d->ex[i]].key.family == PS_AF_KEY)
			continue;
		t = net_get(&nets, net_hash(&d->t->rec[d->ex[i]].key, &p), false);
		if (t)
			t->members |= TNET_HOLD;
	}

	/* The baselines: addresses (one a network), keys, networks. */
	for (kind = K_ADDR; kind <= K_KEY; kind++) {
		struct tok_base *tb = kind == K_ADDR ? &ba : &bk;
		struct tok_base *keep = kind == K_ADDR ? &d->tk_addr : &d->tk_key;
		float v[3];
		int feat;

		n = 0;
		if (kind == K_ADDR) {
			for (j = 0; j < cap; j++) {
				const struct tnet *t = net_at(&nets, j);

				if (!t || !ps_dt_tokens(d, t->rep, now, now_ms, &c))
					continue;
				feat_of(&c, v);
				for (feat = 0; feat < 3; feat++)
					x[feat * stride + n] = v[feat];
				n++;
			}
		} else {
			FOR_CAND(d, i) {
				if (ps_dt_yield(d, k++))
					return 0;
				if (d->t->rec[i].key.family != PS_AF_KEY ||
				    !ps_dt_tokens(d, i, now, now_ms, &c))
					continue;
				feat_of(&c, v);
				for (feat = 0; feat < 3; feat++)
					x[feat * stride + n] = v[feat];
				n++;
			}
		}
		tok_baseline(d, x, n, &tb->req, &keep->req, now);
		tok_baseline(d, x + stride, n, &tb->busy, &keep->busy, now);
		tok_baseline(d, x + 2 * stride, n, &tb->hour, &keep->hour, now);
	}
	n = 0;
	for (j = 0; j < cap; j++)
		if (net_at(&nets, j))
			x[n++] = net_at(&nets, j)->tok1h / net_at(&nets, j)->inf1h;
	tok_baseline(d, x, n, &bn, &d->tk_net.req, now);
	if (!ba.req.population && !bk.req.population && !bn.population)
		return 0;

	/* Addresses and keys: each against its kind. */
	FOR_CAND(d, i) {
		const struct ps_crec *r;
		struct ps_limits lim;
		struct ps_prefix p;
		bool is_key;
		json_t *ev;
		int cls;

		if (ps_dt_yield(d, k++))
			return taken;
		r = &d->t->rec[i];
		is_key = r->key.family == PS_AF_KEY;
		cls = d->ds[i].cls;
		if (!ps_dt_tokens(d, i, now, now_ms, &c) ||
		    !judge_subject(dc, &c, is_key ? &bk : &ba, &f))
			continue;
		if (!is_key) {
			/* Found as an address: its network is judged without it. */
			struct tnet *t = net_get(&nets, net_hash(&r->key, &p), false);

			/* (none: its first tokens came at a yield since the networks were made) */
			if (t) {
				t->members--;
				t->inf1m -= c.inf1m;
				t->tok1m -= c.tok1m;
				t->inf1h -= c.inf1h;
				t->tok1h -= c.tok1h;
			}
		}
		ev = evidence(&f, is_key ? "api_key" : "address", 1, c.inf1m, c.inf1h, c.tok1m,
			      c.tok1h);
		ps_prefix_of_client(&r->key, &p);
		ps_limits_resolve(d->cfg, cls, &lim);
		taken += ps_dt_escalate(d, &p, PS_ALERT_CLIENT, "outflow_tokens", f.z, ev,
					ps_dt_alert_only(d->cfg, cls), 1, lim.dry_run > 0, now_ms,
					run->boot_now);
		json_decref(ev);
	}

	/* Networks: their addresses together. */
	for (j = 0; j < cap; j++) {
		struct tnet *t = net_at(&nets, j);
		struct ps_prefix p;
		json_t *ev;

		if (!t || !judge_net(dc, t, &bn, &f))
			continue;
		ps_dt_mask_prefix(&d->t->rec[t->rep].key, net_len(&d->t->rec[t->rep].key), &p);
		ev = evidence(&f, "network", TNET_MEMBERS(t), t->inf1m, t->inf1h, t->tok1m, t->tok1h);
		taken += ps_dt_escalate(d, &p, PS_ALERT_PREFIX, "outflow_tokens", f.z, ev,
					t->members & TNET_HOLD, TNET_MEMBERS(t), d->cfg->dry_run > 0,
					now_ms, run->boot_now);
		json_decref(ev);
	}
	return taken;
}
