// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bulk-extraction detectors and escalation (detect.h says what each one
 * judges). Numbers of requests are inference requests throughout.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/files.h"
#include "common/units.h"
#include "enforce/enforce.h"
#include "policy/detect.h"

/* Clients idle longer than this are not judged. */
#define ACTIVE_S	3600
/* A prefix member counts as active when seen this recently. */
#define PREFIX_ACTIVE_S	600
/* Scale floor of a robust z-score, in log(1 + x) units: a population
 * whose values are nearly all the same has a MAD of about 0. */
#define Z_SCALE_FLOOR	0.5
/* MAD to standard deviation for normal data. */
#define MAD_SIGMA	1.4826
/* Intervals in the regularity average: the first are averaged equally,
 * then each new one weighs 1/REG_N. */
#define REG_N		32
/* A client seen for less than a minute is judged on its pace so far,
 * over at least this many seconds. */
#define YOUNG_MIN_S	30
/* More hot clients than this (or than a hundredth of the clients) at
 * once: they are judged by a full run, against the population of now,
 * not one by one against the last run's. */
#define HOT_MAX		1024
/* Subjects in escalation at most: beyond, a new subject is not taken up
 * (counted in the stats) until old ones are forgotten. */
#define ESC_MAX		(1u << 20)
/* Requests in a client's own history before a surge can be judged. */
#define SURGE_MIN_BASE	10

/* What the detector keeps per client (index: the client table's record). */
struct dstate {
	uint32_t since;		/* Unix s the detector first saw it (this run) */
	uint32_t last_req;	/* Unix s of the tick that last saw requests */
	uint32_t act_minute;	/* the last minute with requests */
	uint16_t act[2];	/* minutes with requests: its UTC day, the day before */
	uint16_t nint;		/* intervals averaged (saturates at REG_N) */
	uint8_t cls;		/* class id, CLS_UNKNOWN until looked up */
	uint8_t hot;		/* the epoch it was last judged over the high_rate floor in */
	float imean, ivar;	/* the intervals' weighted mean and variance, seconds */
};
_Static_assert(sizeof(struct dstate) == 28, "28 bytes a client");
_Static_assert(sizeof(double) == sizeof(uint64_t), "a run's scratch holds hashes too");
#define CLS_UNKNOWN	0xff

/* A subject in escalation. */
struct esc {
	struct ps_prefix subj;
	bool used;
	int stage;		/* the step taken last, -1 none */
	uint64_t next_ms;	/* when the next step may be taken */
	uint64_t last_ms;	/* the last detection */
	uint64_t until_ms;	/* the end of the action last taken (0: an alert) */
};

/* A prefix's aggregate at one run. */
struct pfx {
	struct ps_prefix p;
	bool hold;		/* holds an exempt or alert_only client: alert only */
	uint32_t members;	/* clients active in the last hour */
	uint32_t active;	/* of them, active in the last PREFIX_ACTIVE_S */
	double inf1m, inf1h, txp1h, rxp1h;
};

/* One client judged at a run. */
struct cand {
	uint32_t idx;
	float inf1m, inf1h, txp1h, rxp1h;
	float pace1m;		/* inf1m, or a young client's pace a minute */
	bool recent;		/* active in the last minute */
	bool in_found;		/* in a prefix found at this run */
	uint8_t family;
};

struct baseline {
	double median;		/* of log(1 + x) */
	double mad;
	double scale;		/* max(MAD_SIGMA * mad, Z_SCALE_FLOOR) */
	size_t n;
	bool population;	/* from the population; else the defaults */
};

struct ps_detect {
	const struct ps_config *cfg;
	struct ps_ctable *t;
	struct ps_detect_hooks h;
	struct dstate *ds;
	uint32_t nds;
	struct esc *esc;
	uint32_t nesc, cap_esc;	/* open addressing, cap_esc a power of two */
	struct cand *cand;
	uint32_t cap_cand;
	double *scratch;	/* a baseline's values; then the prefix hashes */
	size_t cap_scratch;
	uint64_t last_run_ms;
	bool dirty;		/* escalation changed since the last save */
	struct ps_thresholds th[PS_MAX_CLASSES];	/* each class's, at this run */
	uint16_t *pcount;	/* prefix members per hash bucket, PCOUNT_N */
	uint32_t *hot;		/* clients over the high_rate floor since the last run */
	uint32_t nhot, cap_hot;
	bool hot_overflow;	/* more hot clients than the list holds */
	uint8_t epoch;		/* runs, mod 255 (1..255): dstate.hot's mark */
	struct baseline b1m;	/* the last run's baseline of the last minute */
	uint32_t *ex;		/* exempt clients active in the last hour, at this run */
	uint32_t nex, cap_ex;
	struct ps_detect_stats st;
};

/* ---- statistics ---- */

static void swapd(double *a, double *b)
{
	double t = *a;

	*a = *b;
	*b = t;
}

/* The k-th smallest of v[0..n) (Hoare's selection; v is reordered). */
static double select_kth(double *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				swapd(&v[i], &v[j]);
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

static double median_of(double *v, size_t n)
{
	double a = select_kth(v, n, n / 2), b;
	size_t i;

	if (n % 2)
		return a;
	/* The largest of the lower half. */
	b = v[0];
	for (i = 1; i < n / 2; i++)
		if (v[i] > b)
			b = v[i];
	return (a + b) / 2;
}

void ps_median_mad(double *v, size_t n, double *median, double *mad)
{
	size_t i;
	double m = median_of(v, n);

	for (i = 0; i < n; i++)
		v[i] = fabs(v[i] - m);
	*median = m;
	*mad = median_of(v, n);
}

static void baseline_of(struct ps_detect *d, size_t n, double def_median, struct baseline *b)
{
	memset(b, 0, sizeof(*b));
	b->n = n;
	if (n >= d->cfg->detection.min_population && n > 0) {
		ps_median_mad(d->scratch, n, &b->median, &b->mad);
		b->population = true;
	} else {
		/* Too few clients to compare with: a quiet population. */
		b->median = log1p(def_median);
		b->mad = 0;
	}
	b->scale = MAD_SIGMA * b->mad > Z_SCALE_FLOOR ? MAD_SIGMA * b->mad : Z_SCALE_FLOOR;
}

static double zscore(const struct baseline *b, double x)
{
	return (log1p(x) - b->median) / b->scale;
}

static json_t *baseline_json(const struct baseline *b, const char *feature, const char *window)
{
	return json_pack("{s:s,s:s,s:f,s:f,s:I,s:s}", "feature", feature, "window", window,
			 "median", expm1(b->median), "mad_log", b->mad, "clients", (json_int_t)b->n,
			 "from", b->population ? "population" : "defaults");
}

/* ---- classes ---- */

int ps_config_class_of(const struct ps_config *cfg, const struct ps_client_key *k)
{
	int c, j, best = 0, best_len = -1;

	for (c = 0; c < cfg->nclasses; c++)
		for (j = 0; j < cfg->classes[c].nclients; j++) {
			const struct ps_prefix *p = &cfg->classes[c].clients[j];
			const uint8_t *a = (const uint8_t *)&k->addr;
			int bits = p->len, i;

			if (p->family != k->family || bits <= best_len)
				continue;
			for (i = 0; i < bits / 8; i++)
				if (a[i] != p->addr[i])
					break;
			if (i < bits / 8)
				continue;
			if (bits % 8 && ((a[i] ^ p->addr[i]) & (0xff00 >> (bits % 8)) & 0xff))
				continue;
			best = c + 1;
			best_len = bits;
		}
	return best;
}

static int class_of(struct ps_detect *d, uint32_t idx)
{
	struct dstate *s = &d->ds[idx];

	if (s->cls == CLS_UNKNOWN)
		s->cls = ps_config_class_of(d->cfg, &d->t->rec[idx].key);
	return s->cls;
}

static bool class_exempt(const struct ps_config *cfg, int cls)
{
	return cls > 0 && cfg->classes[cls - 1].exempt > 0;
}

static bool class_alert_only(const struct ps_config *cfg, int cls)
{
	return cls > 0 && cfg->classes[cls - 1].alert_only > 0;
}

/*
 * Inference requests a minute: the last minute's, or, for a client first
 * seen less than a minute ago, its pace since then (over YOUNG_MIN_S at
 * least), which its one-minute window has not caught up with yet.
 */
static double pace_1m(const struct ps_crec *r, double inf1m, uint32_t now)
{
	uint32_t age = now > r->first_wall ? now - r->first_wall : 0;

	if (age >= 60)
		return inf1m;
	return inf1m * 60 / (age > YOUNG_MIN_S ? age : YOUNG_MIN_S);
}

/* ---- per-tick observation ---- */

static int grow_ds(struct ps_detect *d, uint32_t n)
{
	uint32_t cap = d->nds ? d->nds : 1024, i;
	struct dstate *ns;

	while (cap < n)
		cap *= 2;
	ns = realloc(d->ds, (size_t)cap * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	memset(ns + d->nds, 0, (size_t)(cap - d->nds) * sizeof(*ns));
	for (i = d->nds; i < cap; i++)
		ns[i].cls = CLS_UNKNOWN;
	d->ds = ns;
	d->nds = cap;
	return 0;
}

static void reg_sample(struct dstate *s, double x)
{
	double a, delta;

	if (s->nint < REG_N)
		s->nint++;
	a = 1.0 / s->nint;
	delta = x - s->imean;
	s->imean += a * delta;
	s->ivar = (1 - a) * (s->ivar + a * delta * delta);
}

void ps_detect_observe(void *ctx, struct ps_crec *r, const uint64_t delta[PS_NWFIELDS],
		       uint32_t now)
{
	struct ps_detect *d = ctx;
	uint32_t idx = r - d->t->rec, m = now / 60;
	uint64_t k = delta[PS_W_INFERENCE], i;
	struct dstate *s;

	if (idx >= d->nds && grow_ds(d, idx + 1))
		return;
	s = &d->ds[idx];
	if (!s->since)
		s->since = now;
	if (!k)
		return;
	if (!s->act_minute || m != s->act_minute) {
		uint32_t day = m / 1440, old = s->act_minute / 1440;

		if (s->act_minute && day != old) {
			s->act[1] = day == old + 1 ? s->act[0] : 0;
			s->act[0] = 0;
		}
		if (s->act[0] < UINT16_MAX)
			s->act[0]++;
		s->act_minute = m;
	}
	/* Over the high_rate floor in the last minute: judged at the next
	 * tick rather than at the next run (the two buckets bound the window). */
	if (s->hot != d->epoch && d->cfg->detection.enabled &&
	    d->cfg->detection.high_rate.enabled &&
	    (r->ext || 2 * ((uint64_t)r->w[PS_WIN_1M][0][PS_W_INFERENCE] +
			    r->w[PS_WIN_1M][1][PS_W_INFERENCE]) >=
			       d->cfg->detection.high_rate.requests_per_minute)) {
		struct ps_cview v;

		ps_crec_view(d->t, r, PS_WIN_1M, (uint64_t)now * 1000, &v);
		if (pace_1m(r, v.v[PS_F_INFERENCE], now) >=
		    d->cfg->detection.high_rate.requests_per_minute) {
			if (d->nhot >= HOT_MAX) {
				d->hot_overflow = true;	/* a full run judges them */
				goto regular;
			}
			if (d->nhot == d->cap_hot) {
				uint32_t cap = d->cap_hot ? d->cap_hot * 2 : 64, *nh;

				nh = realloc(d->hot, cap * sizeof(*nh));
				if (!nh)
					goto regular;
				d->hot = nh;
				d->cap_hot = cap;
			}
			d->hot[d->nhot++] = idx;
			s->hot = d->epoch;
		}
	}
regular:
	/* Requests seen at one tick came within a second of each other. */
	if (s->last_req)
		reg_sample(s, now - s->last_req);
	for (i = 1; i < k && i < REG_N; i++)
		reg_sample(s, 0);
	s->last_req = now;
}

/* Share of its watched minutes (at most the last 24 h) with requests. */
static double duty_cycle(const struct dstate *s, uint32_t now, double *watched_min)
{
	uint32_t m = now / 60, day = m / 1440, aday = s->act_minute / 1440;
	uint32_t sm = s->since / 60, from = m % 1440 + 1;
	double watched = (double)(m - sm + 1), active = 0, share;

	if (watched > 1440)
		watched = 1440;
	/* The share of yesterday's active minutes still in the window: they
	 * lie between the first minute watched that day and midnight. */
	if (sm / 1440 + 1 == day && sm % 1440 >= from)
		share = 1;
	else if (sm / 1440 + 1 == day)
		share = (1440.0 - from) / (1440.0 - sm % 1440);
	else
		share = (1440.0 - from) / 1440.0;
	if (aday == day)
		active = s->act[0] + s->act[1] * share;
	else if (aday + 1 == day)
		active = s->act[0] * share;
	*watched_min = watched;
	return watched > 0 ? (active > watched ? 1.0 : active / watched) : 0;
}

/* ---- escalation ---- */

static uint64_t prefix_hash(const struct ps_prefix *p)
{
	uint64_t h = (uint64_t)p->family << 8 | p->len;
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ p->addr[i]) * 0x100000001b3ULL;
	return h ^ h >> 29;
}

static bool prefix_eq(const struct ps_prefix *a, const struct ps_prefix *b)
{
	return a->family == b->family && a->len == b->len && !memcmp(a->addr, b->addr, 16);
}

static struct esc *esc_get(struct ps_detect *d, const struct ps_prefix *p)
{
	uint32_t i, mask;

	mask = d->cap_esc ? d->cap_esc - 1 : 0;
	for (i = d->cap_esc ? prefix_hash(p) & mask : 0; d->cap_esc && d->esc[i].used;
	     i = (i + 1) & mask)
		if (prefix_eq(&d->esc[i].subj, p))
			return &d->esc[i];
	if (d->nesc >= ESC_MAX) {
		d->st.dropped++;
		return NULL;
	}
	if ((d->nesc + 1) * 2 > d->cap_esc) {
		uint32_t cap = d->cap_esc ? d->cap_esc * 2 : 256, j;
		struct esc *ne = calloc(cap, sizeof(*ne)), *old = d->esc;

		if (!ne)
			return NULL;
		for (j = 0; j < d->cap_esc; j++) {
			if (!old[j].used)
				continue;
			for (i = prefix_hash(&old[j].subj) & (cap - 1); ne[i].used;
			     i = (i + 1) & (cap - 1))
				;
			ne[i] = old[j];
		}
		free(old);
		d->esc = ne;
		d->cap_esc = cap;
	}
	mask = d->cap_esc - 1;
	for (i = prefix_hash(p) & mask; d->esc[i].used; i = (i + 1) & mask)
		if (prefix_eq(&d->esc[i].subj, p))
			return &d->esc[i];
	d->esc[i].used = true;
	d->esc[i].subj = *p;
	d->esc[i].stage = -1;
	d->nesc++;
	return &d->esc[i];
}

static const char *const step_names[] = { "alert", "shape", "delay", "block" };

/*
 * A detection of subject p: take the next step if its time has come.
 * members: clients that share a prefix's delay. Returns 1 when a step
 * was taken.
 */
static int escalate(struct ps_detect *d, const struct ps_prefix *p, int kind,
		    const char *detector, double score, json_t *evidence, bool alert_only,
		    uint32_t members, bool dry_run, uint64_t now_ms, uint64_t boot_now)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;
	const struct ps_step_cfg *step;
	struct ps_alert al = {};
	struct esc *e = esc_get(d, p);
	const char *action = "alert";
	bool renew;
	int stage;

	if (!e)
		return 0;
	if (e->stage >= 0 && now_ms - e->last_ms > dc->forget * 1000)
		e->stage = -1;
	e->last_ms = now_ms;
	if (e->stage >= 0 && now_ms < e->next_ms)
		return 0;
	stage = e->stage + 1 < dc->nsteps ? e->stage + 1 : dc->nsteps - 1;
	step = &dc->steps[stage];
	/* The last step again while its action is in force: renewed,
	 * without a new alert. */
	renew = stage == e->stage && now_ms < e->until_ms;
	if (!alert_only && step->action != PS_STEP_ALERT && d->h.enforce) {
		struct ps_enforcement en = {};
		int err;

		en.origin = PS_ORIGIN_DETECTOR;
		en.dry_run = dry_run;
		en.since_ns = now_ms * 1000000ULL;
		en.until_ns = boot_now + step->duration * 1000000000ULL;
		snprintf(en.reason, sizeof(en.reason), "%s: step %d of %d", detector, stage + 1,
			 dc->nsteps);
		switch (step->action) {
		case PS_STEP_SHAPE:
			en.action = PS_ACT_SHAPE;
			en.rate_bps = step->rate;
			break;
		case PS_STEP_DELAY:
			en.action = PS_ACT_THROTTLE;
			/* A prefix's members share the rate: each gets its part. */
			en.emission_ns = 60000000000ULL * (members ? members : 1) /
					 step->requests_per_minute;
			en.tolerance_ns = 0;	/* a burst of 1, as ps_gcra_params() */
			break;
		default:
			en.action = PS_ACT_BLOCK;
			break;
		}
		err = d->h.enforce(d->h.ctx, p, &en);
		if (!err)
			action = step_names[step->action];
		else
			json_object_set_new(evidence, "not_applied", json_string(strerror(-err)));
	}
	if (alert_only)
		json_object_set_new(evidence, "alert_only", json_true());
	else if (dry_run && strcmp(action, "alert"))
		json_object_set_new(evidence, "dry_run", json_true());

	e->stage = stage;
	e->next_ms = now_ms + step->cooldown * 1000;
	e->until_ms = 0;
	if (step->action != PS_STEP_ALERT && !alert_only) {
		e->until_ms = now_ms + step->duration * 1000;
		/* At the last step, renewed before its action runs out. */
		if (stage == dc->nsteps - 1 && step->duration / 2 < step->cooldown)
			e->next_ms = now_ms + step->duration / 2 * 1000;
	}
	d->dirty = true;
	if (renew)
		return 0;
	al.time_ms = now_ms;
	ps_prefix_str(p, al.subject, sizeof(al.subject));
	al.kind = kind;
	snprintf(al.detector, sizeof(al.detector), "%s", detector);
	al.score = score;
	snprintf(al.action, sizeof(al.action), "%s", action);
	/* The step first: what the one-line summaries show before they cut. */
	al.evidence = json_pack("{s:i}", "step", stage + 1);
	if (al.evidence)
		json_object_update(al.evidence, evidence);
	if (d->h.alert)
		d->h.alert(d->h.ctx, &al);
	json_decref(al.evidence);
	d->st.alerts++;
	return 1;
}

/* Forget subjects not detected for escalation.forget (a rebuilt table). */
static void esc_prune(struct ps_detect *d, uint64_t now_ms)
{
	uint64_t forget = d->cfg->detection.forget * 1000;
	struct esc *old = d->esc;
	uint32_t cap = d->cap_esc, j, live = 0;

	for (j = 0; j < cap; j++)
		if (old[j].used && now_ms - old[j].last_ms <= forget)
			live++;
	if (live == d->nesc)
		return;
	d->esc = NULL;
	d->cap_esc = d->nesc = 0;
	for (j = 0; j < cap; j++) {
		struct esc *e;

		if (!old[j].used || now_ms - old[j].last_ms > forget)
			continue;
		e = esc_get(d, &old[j].subj);
		if (e)
			*e = old[j];
	}
	free(old);
}

/* ---- the detectors ---- */

static void mask_prefix(const struct ps_client_key *k, int len, struct ps_prefix *p)
{
	int i;

	ps_prefix_of_client(k, p);
	p->len = len;
	for (i = len / 8; i < 16; i++)
		p->addr[i] = 0;
	if (len % 8)
		p->addr[len / 8] = ((const uint8_t *)&k->addr)[len / 8] & (0xff00 >> (len % 8));
}

static json_t *client_features(const struct cand *c)
{
	return json_pack("{s:f,s:f,s:f,s:f}", "requests_1m", (double)c->inf1m, "requests_1h",
			 (double)c->inf1h, "tx_payload_1h", (double)c->txp1h, "rx_payload_1h",
			 (double)c->rxp1h);
}

/*
 * Judge one client; on a detection fill detector, score and evidence
 * (a new object) and return true. The first detector that fires, in
 * this order, speaks.
 */
static bool judge_client(struct ps_detect *d, const struct cand *c, int cls,
			 const struct baseline *b1m, uint64_t now_ms,
			 const char **detector, double *score, json_t **ev)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;
	const struct ps_crec *r = &d->t->rec[c->idx];
	const struct dstate *s = &d->ds[c->idx];
	uint32_t now = now_ms / 1000;
	struct ps_thresholds th;
	struct ps_cview v24 = {};
	bool have24 = false;
	double z;

	th = d->th[cls < PS_MAX_CLASSES ? cls : 0];
	{
		static const char *const names[] = { "requests_per_minute", "requests_per_hour",
						     "requests_per_day", "tx_payload_per_hour",
						     "tx_payload_per_day" };
		const uint64_t lim[] = { th.requests_per_minute, th.requests_per_hour,
					 th.requests_per_day, th.tx_payload_per_hour,
					 th.tx_payload_per_day };
		double val[5] = { c->inf1m, c->inf1h, 0, c->txp1h, 0 };
		int i;

		if (lim[2] != PS_LIMIT_UNSET || lim[4] != PS_LIMIT_UNSET) {
			ps_crec_view(d->t, r, PS_WIN_24H, now_ms, &v24);
			have24 = true;
			val[2] = v24.v[PS_F_INFERENCE];
			val[4] = v24.v[PS_F_TX_PAYLOAD];
		}
		for (i = 0; i < 5; i++) {
			if (lim[i] == PS_LIMIT_UNSET || val[i] <= (double)lim[i])
				continue;
			*detector = "threshold";
			*score = val[i] / (double)lim[i];
			*ev = client_features(c);
			json_object_set_new(*ev, "threshold", json_string(names[i]));
			json_object_set_new(*ev, "value", json_real(val[i]));
			json_object_set_new(*ev, "limit", json_integer((json_int_t)lim[i]));
			json_object_set_new(*ev, "class", json_integer(cls));
			return true;
		}
	}
	if (dc->high_rate.enabled && c->recent && c->pace1m >= dc->high_rate.requests_per_minute) {
		z = zscore(b1m, c->pace1m);
		if (z >= dc->zscore) {
			*detector = "high_rate";
			*score = z;
			*ev = client_features(c);
			json_object_set_new(*ev, "window", json_string("1m"));
			if (c->pace1m != c->inf1m)
				json_object_set_new(*ev, "pace_1m", json_real(c->pace1m));
			json_object_set_new(*ev, "zscore", json_real(z));
			json_object_set_new(*ev, "floor",
					    json_integer((json_int_t)dc->high_rate.requests_per_minute));
			json_object_set_new(*ev, "baseline",
					    baseline_json(b1m, "requests_1m", "1m"));
			return true;
		}
	}
	/* The 24h window only for a client that may be a surge or a ratio. */
	if (!have24 && ((dc->surge.enabled && c->inf1h >= dc->surge.requests_per_hour) ||
			(dc->ratio.enabled && c->inf1h >= 1 &&
			 c->txp1h >= dc->ratio.min_ratio * (c->rxp1h > 1 ? c->rxp1h : 1)))) {
		ps_crec_view(d->t, r, PS_WIN_24H, now_ms, &v24);
		have24 = true;
	}
	if (dc->surge.enabled && c->inf1h >= dc->surge.requests_per_hour) {
		double hist = (double)(now - (r->first_wall < now ? r->first_wall : now));
		double base_n = v24.v[PS_F_INFERENCE] - c->inf1h, base_h, base, factor;

		if (hist > 86400)
			hist = 86400;
		base_h = hist / 3600.0 - 1;
		if (hist >= dc->surge.min_history && base_h >= 1 && base_n >= SURGE_MIN_BASE) {
			base = base_n / base_h;
			factor = c->inf1h / base;
			if (factor >= dc->surge.factor) {
				*detector = "surge";
				*score = factor;
				*ev = client_features(c);
				json_object_set_new(*ev, "window", json_string("1h"));
				json_object_set_new(*ev, "factor", json_real(factor));
				json_object_set_new(
					*ev, "baseline",
					json_pack("{s:s,s:f,s:f,s:s}", "feature", "requests_per_hour",
						  "value", base, "hours", base_h, "from",
						  "own history, last 24h"));
				return true;
			}
		}
	}
	if (dc->low_and_slow.enabled && s->nint >= REG_N && s->imean > 0 &&
	    c->inf1h >= dc->low_and_slow.requests_per_hour &&
	    now - s->since >= dc->low_and_slow.min_history) {
		double watched, duty = duty_cycle(s, now, &watched);
		double cv = sqrt(s->ivar) / s->imean;

		if (duty >= dc->low_and_slow.duty_cycle && cv <= dc->low_and_slow.max_cv) {
			*detector = "low_and_slow";
			*score = (duty / dc->low_and_slow.duty_cycle) *
				 (dc->low_and_slow.max_cv / (cv > 0.01 ? cv : 0.01));
			*ev = client_features(c);
			json_object_set_new(*ev, "window", json_string("24h"));
			json_object_set_new(*ev, "duty_cycle", json_real(duty));
			json_object_set_new(*ev, "watched_minutes", json_real(watched));
			json_object_set_new(*ev, "interval_mean_s", json_real(s->imean));
			json_object_set_new(*ev, "interval_cv", json_real(cv));
			json_object_set_new(
				*ev, "baseline",
				json_pack("{s:f,s:f}", "duty_cycle", dc->low_and_slow.duty_cycle,
					  "max_cv", dc->low_and_slow.max_cv));
			return true;
		}
	}
	if (dc->ratio.enabled && c->inf1h >= 1 &&
	    v24.v[PS_F_INFERENCE] >= dc->ratio.min_requests) {
		double r24 = v24.v[PS_F_TX_PAYLOAD] / (v24.v[PS_F_RX_PAYLOAD] > 1 ?
							       v24.v[PS_F_RX_PAYLOAD] : 1);
		double r1 = c->txp1h / (c->rxp1h > 1 ? c->rxp1h : 1);

		if (r24 >= dc->ratio.min_ratio && r1 >= dc->ratio.min_ratio) {
			*detector = "ratio";
			*score = r24 / dc->ratio.min_ratio;
			*ev = client_features(c);
			json_object_set_new(*ev, "window", json_string("24h"));
			json_object_set_new(*ev, "ratio_24h", json_real(r24));
			json_object_set_new(*ev, "ratio_1h", json_real(r1));
			json_object_set_new(*ev, "requests_24h", json_real(v24.v[PS_F_INFERENCE]));
			json_object_set_new(*ev, "tx_payload_24h",
					    json_real(v24.v[PS_F_TX_PAYLOAD]));
			json_object_set_new(*ev, "rx_payload_24h",
					    json_real(v24.v[PS_F_RX_PAYLOAD]));
			json_object_set_new(*ev, "baseline",
					    json_pack("{s:f}", "min_ratio", dc->ratio.min_ratio));
			return true;
		}
	}
	return false;
}

/* ---- prefixes ---- */

/*
 * Prefixes are grouped by sorting their members by the hash of the
 * prefix: no table of all prefixes (there may be as many as clients).
 * An entry is a candidate (its index), or an exempt client's record (the
 * EXEMPT bit set) that only marks its prefix.
 */
#define EXEMPT_BIT	0x80000000u
#define PCOUNT_N	(1u << 20)

struct pkey {
	uint64_t h;
	uint32_t who;		/* candidate index, or record index | EXEMPT_BIT */
	uint32_t pad;
};

static int pkey_cmp(const void *a, const void *b)
{
	const struct pkey *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->who < y->who ? -1 : x->who > y->who;
}

static uint32_t pkey_rec(const struct ps_detect *d, const struct pkey *k)
{
	return k->who & EXEMPT_BIT ? k->who & ~EXEMPT_BIT : d->cand[k->who].idx;
}

/* Judge one prefix's members keys[0..n); returns steps taken. */
static int judge_prefix(struct ps_detect *d, const struct pkey *keys, uint32_t n, int len,
			const struct baseline *b1h, uint32_t now, uint64_t now_ms, uint64_t boot_now)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;
	const struct ps_crec *first = &d->t->rec[pkey_rec(d, &keys[0])];
	struct pfx x = {};
	double rate, z;
	uint32_t i;
	json_t *ev;
	int taken;

	mask_prefix(&first->key, len, &x.p);
	for (i = 0; i < n; i++) {
		const struct cand *c;

		if (keys[i].who & EXEMPT_BIT) {
			x.hold = true;
			continue;
		}
		c = &d->cand[keys[i].who];
		if (class_alert_only(d->cfg, d->ds[c->idx].cls))
			x.hold = true;
		x.members++;
		if (d->t->rec[c->idx].last_wall + PREFIX_ACTIVE_S >= now)
			x.active++;
		x.inf1m += c->inf1m;
		x.inf1h += c->inf1h;
		x.txp1h += c->txp1h;
		x.rxp1h += c->rxp1h;
	}
	if (x.active < dc->prefix.min_clients)
		return 0;
	/* Requests an hour: the last hour's, or the last minute's pace when
	 * a campaign is younger than an hour. */
	rate = x.inf1h > 60 * x.inf1m ? x.inf1h : 60 * x.inf1m;
	if (rate < dc->prefix.requests_per_hour)
		return 0;
	z = zscore(b1h, rate);
	if (z < dc->zscore)
		return 0;
	/* Found: its members are not judged again under a shorter prefix. */
	for (i = 0; i < n; i++)
		if (!(keys[i].who & EXEMPT_BIT))
			d->cand[keys[i].who].in_found = true;
	ev = json_pack("{s:s,s:i,s:i,s:f,s:f,s:f,s:f,s:f,s:f}", "window", "1h", "active_clients",
		       (int)x.active, "clients", (int)x.members, "requests_per_hour", rate,
		       "requests_1m", x.inf1m, "requests_1h", x.inf1h, "tx_payload_1h", x.txp1h,
		       "rx_payload_1h", x.rxp1h, "zscore", z);
	json_object_set_new(ev, "baseline", baseline_json(b1h, "requests_1h of one client", "1h"));
	taken = escalate(d, &x.p, PS_ALERT_PREFIX, "prefix", z, ev, x.hold, x.active,
			 d->cfg->dry_run > 0, now_ms, boot_now);
	json_decref(ev);
	return taken;
}

/*
 * The length a client is grouped by at a level: level -1 is IPv4 /24 and
 * IPv6 /64, level 48 the IPv6 /48s; 0 when the client has no part in it.
 */
static int level_len(int level, uint8_t family)
{
	if (level == 48)
		return family == PS_AF_INET6 ? 48 : 0;
	return family == PS_AF_INET ? 24 : 64;
}

/*
 * Group keys[0..n) by their prefix at a level and judge each group. Equal
 * hashes of different prefixes (unlikely) are kept apart.
 */
static int judge_groups(struct ps_detect *d, struct pkey *keys, uint32_t n, int level,
			const struct baseline *b1h, uint32_t now, uint64_t now_ms,
			uint64_t boot_now)
{
	uint32_t i, j;
	int taken = 0;

	qsort(keys, n, sizeof(*keys), pkey_cmp);
	for (i = 0; i < n; i = j) {
		const struct ps_client_key *k = &d->t->rec[pkey_rec(d, &keys[i])].key;
		int l = level_len(level, k->family);
		struct ps_prefix p, q;

		mask_prefix(k, l, &p);
		for (j = i + 1; j < n && keys[j].h == keys[i].h; j++) {
			mask_prefix(&d->t->rec[pkey_rec(d, &keys[j])].key, l, &q);
			if (!prefix_eq(&p, &q))
				break;
		}
		taken += judge_prefix(d, keys + i, j - i, l, b1h, now, now_ms, boot_now);
	}
	return taken;
}

static uint64_t key_prefix_hash(const struct ps_client_key *k, int len)
{
	struct ps_prefix p;

	mask_prefix(k, len, &p);
	return prefix_hash(&p);
}

/* Group and judge the clients of one level not found at an earlier one. */
static int judge_level(struct ps_detect *d, uint32_t nc, int level, const struct baseline *b1h,
		       uint32_t now, uint64_t now_ms, uint64_t boot_now)
{
	struct ps_ctable *t = d->t;
	/* A bucket's count saturates: a saturated one may hold min_clients. */
	uint32_t min = d->cfg->detection.prefix.min_clients < UINT16_MAX ?
		       d->cfg->detection.prefix.min_clients : UINT16_MAX;
	/* The baselines are made: their array holds each candidate's hash. */
	uint64_t *hash = (uint64_t *)d->scratch;
	uint32_t i, n = 0;
	struct pkey *keys;
	int l, taken;

	/* Most prefixes hold one client: only those whose hash bucket holds
	 * min_clients (or more, with other prefixes') are grouped. */
	memset(d->pcount, 0, PCOUNT_N * sizeof(*d->pcount));
	for (i = 0; i < nc; i++) {
		const struct cand *c = &d->cand[i];

		l = level_len(level, c->family);
		if (!l || c->in_found)
			continue;
		hash[i] = key_prefix_hash(&t->rec[c->idx].key, l);
		if (d->pcount[hash[i] & (PCOUNT_N - 1)] < UINT16_MAX)
			d->pcount[hash[i] & (PCOUNT_N - 1)]++;
	}
#define GROUPED(i)                                                                        \
	(level_len(level, d->cand[i].family) && !d->cand[i].in_found &&                    \
	 d->pcount[hash[i] & (PCOUNT_N - 1)] >= min)
	for (i = 0; i < nc; i++)
		n += GROUPED(i);
	keys = malloc(((size_t)n + d->nex + 1) * sizeof(*keys));
	if (!keys)
		return 0;
	for (i = 0, n = 0; i < nc; i++)
		if (GROUPED(i)) {
			keys[n].h = hash[i];
			keys[n++].who = i;
		}
#undef GROUPED
	/* Exempt clients: they mark their prefixes. */
	for (i = 0; i < d->nex; i++) {
		const struct ps_client_key *k = &t->rec[d->ex[i]].key;

		l = level_len(level, k->family);
		if (!l)
			continue;
		keys[n].h = key_prefix_hash(k, l);
		keys[n++].who = d->ex[i] | EXEMPT_BIT;
	}
	/* /24 and /64 hashes differ in the length hashed: one sort for both. */
	taken = judge_groups(d, keys, n, level, b1h, now, now_ms, boot_now);
	free(keys);
	return taken;
}

/*
 * The prefix detector: IPv4 /24s and IPv6 /64s, then IPv6 /48s from the
 * clients whose /64 was not found on its own.
 */
static int judge_all_prefixes(struct ps_detect *d, uint32_t nc, const struct baseline *b1h,
			      uint32_t now, uint64_t now_ms, uint64_t boot_now)
{
	uint32_t i;
	int taken;

	for (i = 0; i < nc; i++)
		d->cand[i].in_found = false;
	taken = judge_level(d, nc, -1, b1h, now, now_ms, boot_now);
	/* After the /64s: their found clients are left out of the /48s. */
	return taken + judge_level(d, nc, 48, b1h, now, now_ms, boot_now);
}

/* ---- a run ---- */

/*
 * The arrays of one run (candidates, and the values of a baseline): mapped
 * for the run and given back after it, so that between runs the daemon's
 * memory is its table's and the detector's per-client state.
 */
static int map_run_arrays(struct ps_detect *d, uint32_t n)
{
	size_t lc = (size_t)n * sizeof(*d->cand), ls = (size_t)n * sizeof(*d->scratch);
	void *c, *x;

	c = mmap(NULL, lc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (c == MAP_FAILED)
		return -ENOMEM;
	x = mmap(NULL, ls, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (x == MAP_FAILED) {
		munmap(c, lc);
		return -ENOMEM;
	}
	d->cand = c;
	d->cap_cand = n;
	d->scratch = x;
	d->cap_scratch = n;
	return 0;
}

static void unmap_run_arrays(struct ps_detect *d)
{
	if (d->cand)
		munmap(d->cand, (size_t)d->cap_cand * sizeof(*d->cand));
	if (d->scratch)
		munmap(d->scratch, d->cap_scratch * sizeof(*d->scratch));
	d->cand = NULL;
	d->scratch = NULL;
	d->cap_cand = 0;
	d->cap_scratch = 0;
}

/* Fill a candidate from record idx at now_ms. */
static void cand_of(struct ps_detect *d, uint32_t idx, uint32_t now, uint64_t now_ms,
		    struct cand *c)
{
	const struct ps_crec *r = &d->t->rec[idx];
	struct ps_cview v;

	memset(c, 0, sizeof(*c));
	c->idx = idx;
	c->family = r->key.family;
	ps_crec_view(d->t, r, PS_WIN_1M, now_ms, &v);
	c->inf1m = v.v[PS_F_INFERENCE];
	c->pace1m = pace_1m(r, c->inf1m, now);
	ps_crec_view(d->t, r, PS_WIN_1H, now_ms, &v);
	c->inf1h = v.v[PS_F_INFERENCE];
	c->txp1h = v.v[PS_F_TX_PAYLOAD];
	c->rxp1h = v.v[PS_F_RX_PAYLOAD];
	c->recent = r->last_wall + 60 >= now;
}

/* Judge one client and take its step if it is found. */
static int judge_one(struct ps_detect *d, const struct cand *c, const struct baseline *b1m,
		     uint64_t now_ms, uint64_t boot_now)
{
	const struct ps_config *cfg = d->cfg;
	int cls = d->ds[c->idx].cls, taken;
	const char *det = NULL;
	double score = 0;
	json_t *ev = NULL;
	struct ps_limits lim;
	struct ps_prefix p;

	if (!judge_client(d, c, cls, b1m, now_ms, &det, &score, &ev)) {
		/* Over the high_rate floor and judged clean: not again
		 * between runs. A client found stays eligible, so that its
		 * next step comes on time. */
		if (c->pace1m >= cfg->detection.high_rate.requests_per_minute)
			d->ds[c->idx].hot = d->epoch;
		return 0;
	}
	d->ds[c->idx].hot = 0;
	ps_prefix_of_client(&d->t->rec[c->idx].key, &p);
	ps_limits_resolve(cfg, cls, &lim);
	taken = escalate(d, &p, PS_ALERT_CLIENT, det, score, ev, class_alert_only(cfg, cls), 1,
			 lim.dry_run > 0, now_ms, boot_now);
	json_decref(ev);
	return taken;
}

/* Between runs: the clients that went over the high_rate floor. */
static int judge_hot(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now)
{
	uint32_t now = now_ms / 1000, i;
	int taken = 0;

	if (!d->nhot)
		return 0;
	if (!d->b1m.scale)
		baseline_of(d, 0, 1, &d->b1m);	/* no run yet: the defaults */
	for (i = 0; i < d->nhot; i++) {
		uint32_t idx = d->hot[i];
		struct cand c;

		if (idx >= d->t->n || idx >= d->nds)
			continue;
		if (class_exempt(d->cfg, class_of(d, idx)))
			continue;
		cand_of(d, idx, now, now_ms, &c);
		taken += judge_one(d, &c, &d->b1m, now_ms, boot_now);
	}
	d->nhot = 0;
	return taken;
}

int ps_detect_run(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now)
{
	const struct ps_config *cfg = d->cfg;
	const struct ps_detection_cfg *dc = &cfg->detection;
	struct ps_ctable *t = d->t;
	uint32_t now = now_ms / 1000, i, nc = 0;
	struct baseline b1m, b1h;
	uint64_t cpu0;
	size_t n;
	int taken = 0;

	if (!dc->enabled)
		return 0;
	/* Many clients over the floor at once: a full run now, so that they
	 * are judged against the population of now. */
	if (d->last_run_ms && now_ms < d->last_run_ms + dc->interval * 1000 &&
	    now_ms >= d->last_run_ms && !d->hot_overflow &&
	    !(d->nhot > 16 && (uint64_t)d->nhot * 100 > t->n))
		return judge_hot(d, now_ms, boot_now);
	d->hot_overflow = false;
	/* Each class's thresholds, for this run and the ticks up to the next
	 * (a reload makes the next call a run). */
	for (i = 0; i < PS_MAX_CLASSES; i++)
		ps_thresholds_resolve(cfg, (int)i <= cfg->nclasses ? (int)i : 0, &d->th[i]);
	d->last_run_ms = now_ms;
	/* A new epoch: every client may be hot again. */
	d->epoch = d->epoch == UINT8_MAX ? 1 : d->epoch + 1;
	d->nhot = 0;
	cpu0 = ps_cpu_ns();
	if ((t->n > d->nds && grow_ds(d, t->n)) || map_run_arrays(d, t->n ? t->n : 1))
		return 0;

	/* The clients active in the last hour, exempt ones aside. */
	d->nex = 0;
	for (i = 0; i < t->n; i++) {
		const struct ps_crec *r = &t->rec[i];

		if (r->last_wall + ACTIVE_S < now)
			continue;
		if (class_exempt(cfg, class_of(d, i))) {
			/* Out of every judgement; it only marks its prefixes. */
			if (d->nex == d->cap_ex) {
				uint32_t cap = d->cap_ex ? d->cap_ex * 2 : 64, *ne;

				ne = realloc(d->ex, cap * sizeof(*ne));
				if (!ne)
					continue;
				d->ex = ne;
				d->cap_ex = cap;
			}
			d->ex[d->nex++] = i;
			continue;
		}
		cand_of(d, i, now, now_ms, &d->cand[nc++]);
	}
	d->st.clients = nc;

	/* Baselines: the last minute of those active in it, the last hour
	 * of those with requests in it. */
	for (i = 0, n = 0; i < nc; i++)
		if (d->cand[i].recent && d->cand[i].inf1m > 0)
			d->scratch[n++] = log1p(d->cand[i].inf1m);
	baseline_of(d, n, 1, &b1m);
	d->b1m = b1m;
	for (i = 0, n = 0; i < nc; i++)
		if (d->cand[i].inf1h > 0)
			d->scratch[n++] = log1p(d->cand[i].inf1h);
	baseline_of(d, n, 10, &b1h);

	for (i = 0; i < nc; i++)
		taken += judge_one(d, &d->cand[i], &b1m, now_ms, boot_now);

	if (dc->prefix.enabled && nc)
		taken += judge_all_prefixes(d, nc, &b1h, now, now_ms, boot_now);
	unmap_run_arrays(d);
	if (d->st.runs % 360 == 0)
		esc_prune(d, now_ms);
	d->st.runs++;
	d->st.last_ns = ps_cpu_ns() - cpu0;
	if (d->st.last_ns > d->st.max_ns)
		d->st.max_ns = d->st.last_ns;
	return taken;
}

/* ---- life cycle ---- */

struct ps_detect *ps_detect_new(const struct ps_config *cfg, struct ps_ctable *t,
				const struct ps_detect_hooks *hooks)
{
	struct ps_detect *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cfg = cfg;
	d->t = t;
	if (hooks)
		d->h = *hooks;
	d->epoch = 1;
	d->pcount = calloc(PCOUNT_N, sizeof(*d->pcount));
	if (!d->pcount || grow_ds(d, t->n > 1024 ? t->n : 1024)) {
		free(d->pcount);
		free(d);
		return NULL;
	}
	t->on_fold = ps_detect_observe;
	t->on_fold_ctx = d;
	return d;
}

void ps_detect_free(struct ps_detect *d)
{
	if (!d)
		return;
	if (d->t->on_fold_ctx == d) {
		d->t->on_fold = NULL;
		d->t->on_fold_ctx = NULL;
	}
	free(d->ds);
	free(d->pcount);
	free(d->hot);
	free(d->ex);
	free(d->esc);
	unmap_run_arrays(d);
	free(d);
}

void ps_detect_reconfigure(struct ps_detect *d)
{
	uint32_t i;

	for (i = 0; i < d->nds; i++)
		d->ds[i].cls = CLS_UNKNOWN;
	d->last_run_ms = 0;
}

void ps_detect_stats(const struct ps_detect *d, struct ps_detect_stats *out)
{
	*out = d->st;
	out->subjects = d->nesc;
}

/* ---- escalation across restarts ---- */

int ps_detect_save(const struct ps_detect *d, const char *path)
{
	json_t *arr = json_array(), *doc;
	char subj[64];
	uint32_t i;
	int err;

	if (!arr)
		return -ENOMEM;
	for (i = 0; i < d->cap_esc; i++) {
		const struct esc *e = &d->esc[i];

		if (!e->used || e->stage < 0)
			continue;
		json_array_append_new(arr, json_pack("{s:s,s:i,s:I,s:I,s:I}", "subject",
						     ps_prefix_str(&e->subj, subj, sizeof(subj)),
						     "stage", e->stage, "next_ms",
						     (json_int_t)e->next_ms, "last_ms",
						     (json_int_t)e->last_ms, "until_ms",
						     (json_int_t)e->until_ms));
	}
	doc = json_pack("{s:o}", "subjects", arr);
	if (!doc)
		return -ENOMEM;
	err = ps_json_replace(doc, path, JSON_COMPACT);
	json_decref(doc);
	if (!err)
		((struct ps_detect *)d)->dirty = false;
	return err;
}

int ps_detect_load(struct ps_detect *d, const char *path)
{
	json_error_t jerr;
	json_t *doc, *arr, *o;
	size_t i;
	int n = 0;

	doc = json_load_file(path, 0, &jerr);
	if (!doc)
		return access(path, F_OK) ? 0 : -EINVAL;
	arr = json_object_get(doc, "subjects");
	json_array_foreach(arr, i, o) {
		const char *s = json_string_value(json_object_get(o, "subject"));
		json_int_t stage = json_integer_value(json_object_get(o, "stage"));
		struct ps_prefix p;
		char err[128];
		struct esc *e;

		if (!s || ps_parse_prefix(s, &p, err, sizeof(err)) || stage < 0 ||
		    !json_is_integer(json_object_get(o, "next_ms")) ||
		    !json_is_integer(json_object_get(o, "last_ms")))
			continue;
		e = esc_get(d, &p);
		if (!e)
			break;
		/* A shorter escalation now: its last step. */
		e->stage = stage < d->cfg->detection.nsteps ? (int)stage :
							      d->cfg->detection.nsteps - 1;
		e->next_ms = json_integer_value(json_object_get(o, "next_ms"));
		e->last_ms = json_integer_value(json_object_get(o, "last_ms"));
		e->until_ms = json_integer_value(json_object_get(o, "until_ms"));
		n++;
	}
	json_decref(doc);
	return n;
}

bool ps_detect_dirty(const struct ps_detect *d)
{
	return d->dirty;
}
