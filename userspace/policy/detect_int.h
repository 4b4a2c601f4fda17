/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The detector's insides, shared by its files: detect.c (a run, the hot
 * clients between runs, per-tick observation), detectors.c (the detectors
 * of single clients, a table), prefix.c (the prefix detector), escalate.c
 * (what is done about a subject found) and stats.c (robust baselines).
 * Numbers of requests are inference requests throughout.
 */
#ifndef PS_DETECT_INT_H
#define PS_DETECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

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
/* Buckets of the prefix detector's count of members by prefix hash. */
#define PCOUNT_N	(1u << 20)
/* Prefix keys the prefix detector sorts at once at least (a slice of the
 * hashes; more when one slice holds more, a big prefix's members). */
#define PSLICE_MIN	(1u << 16)

/* What the detector keeps per client (index: the client table's record). */
struct dstate {
	uint32_t since;		/* Unix s the detector first saw it (this run) */
	uint32_t last_req;	/* Unix s of the tick that last saw requests; its
				 * minute (last_req / 60) the last with requests */
	uint16_t act[2];	/* minutes with requests: its UTC day, the day before */
	uint16_t nint;		/* intervals averaged (saturates at REG_N) */
	uint8_t cls;		/* class id, CLS_UNKNOWN until looked up */
	uint8_t hot;		/* the epoch it was last judged over the high_rate floor in */
	float imean, ivar;	/* the intervals' weighted mean and variance, seconds */
};
_Static_assert(sizeof(struct dstate) == 24, "24 bytes a client");

/* The last minute with requests (0: none yet): written with last_req, always. */
static inline uint32_t ps_dt_act_minute(const struct dstate *s)
{
	return s->last_req / 60;
}
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

/*
 * outflow: what a client took, in bytes of response (the response
 * payload: every answer has one, where only some report their tokens).
 * The completion and prompt tokens its answers reported go in an alert's
 * evidence (tx_tokens_1m, tx_tokens_1h, rx_tokens_1h).
 */
/* A minute's outflow judged: at least this many requests (several
 * answers, never one long one) and bytes. */
#define OUT_MIN_REQ_1M	3
#define OUT_MIN_1M	16384.0
/* The minute's outflow against a person's busy minute: at least this
 * many times the population's median, besides the z-score (a robust
 * z-score over a population of light and heavy users, streamed and
 * not, may need fifty times the median), each answer longer than most
 * people's (a request's outflow at half the z-score). */
#define OUT_FLOW_FACTOR	10.0
/* With fewer than min_population networks to compare with, the outflow
 * baselines are the last ones made from a population, up to OUT_KEEP_S
 * old (what a person takes does not change at night); else, from
 * OUT_SMALL_POP clients with answers, the few there are (every client,
 * not one a network), judged by the minute's outflow arm alone
 * (OUT_FLOW_FACTOR times their median). */
#define OUT_KEEP_S	(24 * 3600)
#define OUT_KEEP_EVERY_S	600	/* made at a run this often, needed or not */
/* Who the outflow judges and compares with: addresses (mark_networks()). */
#define OUTFLOW_SUBJECT(k)	((k)->family != PS_AF_KEY)
#define OUT_SMALL_POP	5
#define OUT_SMALL_AGE_S	300	/* ... each of them watched this long */
/* Against those few, bytes alone are thin evidence (an application's
 * embeddings answers are large in bytes and carry no completion tokens):
 * where the client's answers reported their usage in the minute, its
 * completion tokens a request must also reach this, four times a
 * person's median answer (about 250 tokens in published chat traffic). */
#define OUT_SMALL_TOK_REQ	1000.0
/* An hour's: at least this many requests and bytes. */
#define OUT_MIN_REQ_1H	10
#define OUT_MIN_1H	1048576.0
/* Own history: the last hour this many times its hourly baseline from
 * the rest of its last 24 h, watched at least OUT_HIST_S, a baseline of
 * at least OUT_HIST_MIN_REQ requests. */
#define OUT_HIST_FACTOR	5.0
#define OUT_HIST_S	(3 * 3600)
#define OUT_HIST_MIN_REQ	10
/* The medians of a population too small to compare with (which the
 * population arms do not judge against): a person's answer and hour. */
#define OUT_DEF_REQ	2048.0
#define OUT_DEF_1H	20480.0

/*
 * outflow_tokens: what a client, a network or an API key took in
 * completion tokens (tx_tokens + tx_tokens_estimated: reported where the
 * answers reported usage, else a stream's events), against the
 * population of its kind (tokflow.c). A token is a token however it is
 * sent: streamed or not, an answer's tokens are the same, so keys, which
 * the outflow in bytes leaves out, are judged. The minute's and the
 * hour's floors (OUT_MIN_REQ_1M, OUT_MIN_REQ_1H requests besides):
 */
#define TOK_MIN_1M	4096.0	/* the minute's completion tokens */
#define TOK_MIN_1H	20000.0	/* the hour's */
/* A network (IPv4 /24, IPv6 /48) is judged as one on its addresses with
 * tokens in the hour, those found as addresses at the run aside: at
 * least this many, and this many requests in the minute for its minute's
 * arm (a few people's minute is a few answers, as long as chance makes
 * them; a network's requests a minute are many answers, averaged). */
#define TOK_NET_MIN_CLIENTS	3
#define TOK_NET_MIN_REQ_1M	10

/* A candidate's completion tokens and inference requests (ps_dt_tokens). */
struct tokc {
	double inf1m, inf1h;
	double tok1m, tok1h;	/* completion tokens: tx_tokens + tx_tokens_estimated */
	double tpace1m;		/* tok1m, or a young client's pace a minute */
	bool recent;		/* active in the last minute */
};

/* (ps_dt_cand reads the same field of the 1m and 1h windows.) */
static inline double ps_dt_outflow(const struct ps_cview *v)
{
	return v->v[PS_F_TX_PAYLOAD];
}

/*
 * One client judged at a run, read from its record when it is needed
 * (ps_dt_cand): a run keeps no copy of its candidates, only a bit each
 * (struct ps_detect's bitmaps), so that its scratch is a few bytes a
 * client, not the tens a copy of their figures took.
 */
struct cand {
	uint32_t idx;
	float inf1m, inf1h, txp1h, rxp1h;
	float out1m, out1h;	/* outflow (ps_dt_outflow) of the last minute, hour */
	float opace1m;		/* out1m, or a young client's pace a minute */
	float pace1m;		/* inf1m, or a young client's pace a minute */
	bool recent;		/* active in the last minute */
	uint8_t family;
};
/* What ps_dt_cand reads: the last minute's figures, the last hour's. */
#define CAND_1M	1
#define CAND_1H	2
#define CAND_ALL	(CAND_1M | CAND_1H)

/*
 * A run's scratch: an anonymous mapping kept from run to run and grown
 * when a run needs more, its pages given back (MADV_DONTNEED) at the end
 * of every run, so that between runs it costs no memory and glibc's
 * malloc (its mmap threshold moves up with what is freed) keeps none.
 */
struct dt_arena {
	void *p;
	size_t cap;
};
/* At least bytes (contents not kept when it grows); NULL when out of memory. */
void *ps_dt_arena(struct dt_arena *a, size_t bytes);
void ps_dt_arena_drop(struct dt_arena *a);
void ps_dt_arena_free(struct dt_arena *a);
/* The group detectors' arenas' pages given back (all but the run's bitmaps). */
void ps_dt_drop_group_scratch(struct ps_detect *d);

/* Bitmaps over the records of a run. */
static inline bool ps_bit(const uint64_t *b, uint32_t i)
{
	return b[i >> 6] >> (i & 63) & 1;
}

static inline void ps_bit_set(uint64_t *b, uint32_t i)
{
	b[i >> 6] |= 1ULL << (i & 63);
}

/* The first bit set at i or after, n when none. */
static inline uint32_t ps_bit_next(const uint64_t *b, uint32_t n, uint32_t i)
{
	uint64_t w;

	if (i >= n)
		return n;
	w = b[i >> 6] & (~0ULL << (i & 63));
	while (!w) {
		i = (i | 63) + 1;
		if (i >= n)
			return n;
		w = b[i >> 6];
	}
	i = (i & ~63u) + (uint32_t)__builtin_ctzll(w);
	return i < n ? i : n;
}

/* The candidates of the run: records [0, run_n) with their bit set in bcand. */
#define FOR_CAND(d, i)                                                                    \
	for ((i) = ps_bit_next((d)->bcand, (d)->run_n, 0); (i) < (d)->run_n;               \
	     (i) = ps_bit_next((d)->bcand, (d)->run_n, (i) + 1))

struct baseline {
	double median;		/* of log(1 + x) */
	double mad;
	double scale;		/* max(MAD_SIGMA * mad, Z_SCALE_FLOOR) */
	size_t n;
	bool population;	/* from the population; else the defaults */
	uint8_t from;		/* BL_*: what it was made from */
	uint32_t at;		/* BL_EARLIER: Unix s it was made at */
};
enum {
	BL_DEFAULTS,		/* too few to compare with: a quiet population */
	BL_POPULATION,		/* the population of this run */
	BL_EARLIER,		/* the last run's that had a population (outflow) */
	BL_SMALL,		/* fewer than min_population, OUT_SMALL_POP or more (outflow) */
};

/* The outflow in tokens' baselines of a kind of subject: a request's
 * tokens over the hour, a busy minute's, the hour's. */
struct tok_base {
	struct baseline req, busy, hour;
};

struct ps_detect {
	const struct ps_config *cfg;
	struct ps_ctable *t;
	struct ps_detect_hooks h;
	struct dstate *ds;
	uint32_t nds, cap_ds;	/* entries made, allocated */
	struct esc *esc;
	uint32_t nesc, cap_esc;	/* open addressing, cap_esc a power of two */
	/* A run's candidates: the records [0, run_n) active in the last hour,
	 * exempt ones aside (bcand); its network's one client in the outflow
	 * baselines (brep); in a prefix found at this run (bfound), before
	 * the prefix level began (bskip); grouped at this prefix level (bgroup). */
	uint32_t run_n;
	uint64_t *bcand, *brep, *bfound, *bskip, *bgroup;
	uint64_t *b6;		/* the IPv6 ones among the candidates (the /48 level's) */
	struct dt_arena bits;	/* the bitmaps */
	struct dt_arena vals;	/* a baseline's values (float); the hydra features' */
	struct dt_arena pcount;	/* prefix members per hash bucket (uint8_t), PCOUNT_N */
	struct dt_arena tags;	/* a grouped candidate's hash, its top byte */
	struct dt_arena keys;	/* a slice of the prefix keys */
	struct dt_arena hyd;	/* a prefix's members' figures (hydra features) */
	struct dt_arena tnets;	/* the outflow in tokens' networks (tokflow.c) */
	struct dt_arena tidx;	/* and their index */
	uint64_t last_run_ms;
	bool dirty;		/* escalation changed since the last save */
	struct ps_thresholds th[PS_MAX_CLASSES];	/* each class's, at this run */
	uint32_t *hot;		/* clients over the high_rate floor since the last run */
	uint32_t nhot, cap_hot;
	bool hot_overflow;	/* more hot clients than the list holds */
	uint8_t epoch;		/* runs, mod 255 (1..255): dstate.hot's mark */
	struct baseline b1m;	/* the last run's baseline of the last minute */
	struct baseline b1h;	/* and of the last hour */
	struct baseline bo1h, boreq;	/* the outflow's: the last hour, a request */
	struct baseline bratio;	/* tx over rx payload in the last hour */
	struct baseline bbusy;	/* outflow a busy minute over the last hour: a person's minute */
	struct baseline boreq_pop, bbusy_pop;	/* the last boreq, bbusy made from a population */
	uint32_t ob_made;	/* Unix s the outflow baselines were last made */
	/* The outflow in tokens' last baselines made from a population, for
	 * a quiet time (OUT_KEEP_S): addresses (one a network), API keys,
	 * networks (a request's tokens only). */
	struct tok_base tk_addr, tk_key, tk_net;
	uint64_t run_seq;	/* runs begun */
	uint64_t ob_seq;	/* the run the four above were made at (ps_dt_need_outflow) */
	bool in_run;		/* a run's bitmaps are made */
	uint32_t *ex;		/* exempt clients active in the last hour, at this run */
	uint32_t nex, cap_ex;
	bool stale;		/* a reload during this run: it stops (ps_dt_yield) */
	struct dt_bg *bg;	/* penstockd: the runs' thread (detect_bg.c), NULL: inline */
	struct ps_detect_stats st;
};

/* detect_bg.c: the detector run in a thread of its own (detect.h). */
/* The detector whose run this thread is running (NULL: the loop's, or an inline run). */
extern _Thread_local const struct ps_detect *ps_dt_bg_self;
/* Every this many clients, a run in the thread looks whether the loop asks for the table. */
#define BG_YIELD_EVERY	4096
/* The thread's run gives the table to the loop if it asks; whether the run goes stale. */
bool ps_dt_bg_yield(struct ps_detect *d);
/* A step found by the thread's run, queued for the loop (ps_dt_escalate's arguments); 0. */
int ps_dt_bg_queue(struct ps_detect *d, const struct ps_prefix *p, int kind,
		   const char *detector, double score, json_t *evidence, bool alert_only,
		   uint32_t members, bool dry_run, uint64_t now_ms, uint64_t boot_now);
/* The loop's turn of a detector with a thread (ps_detect_run); steps taken. */
int ps_dt_bg_tick(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now);
/* detect.c, for the thread: whether a run is due now; a whole run (steps taken). */
bool ps_dt_run_due(struct ps_detect *d, uint64_t now_ms);
int ps_dt_full_run(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now);
int ps_dt_judge_hot(struct ps_detect *d, uint64_t now_ms, uint64_t boot_now);

/*
 * A run at its i-th client (or item): let the daemon answer requests
 * (count/clients.h, on_yield). True once a reload put a new configuration
 * in force meanwhile: the run stops, and the next tick runs it again
 * (ps_detect_reconfigure made it due).
 */
static inline bool ps_dt_yield(struct ps_detect *d, uint32_t i)
{
	if (ps_dt_bg_self == d)
		return i && i % BG_YIELD_EVERY == 0 ? ps_dt_bg_yield(d) : d->stale;
	if (!d->stale && ps_ctable_yield_at(d->t, i))
		d->stale = true;
	return d->stale;
}

/* The same, now (between the passes of a sort, say). */
static inline bool ps_dt_yield_now(struct ps_detect *d)
{
	if (ps_dt_bg_self == d)
		return ps_dt_bg_yield(d);
	if (!d->stale && ps_ctable_yield(d->t))
		d->stale = true;
	return d->stale;
}

/* stats.c */
/*
 * The baseline of log(1 + x) over x[0..n) (reordered; n 0: the defaults):
 * the values are kept as the floats they are (4 bytes each, not the 8 of
 * their logarithms), the logarithms taken as the selection compares them.
 */
void ps_dt_baseline_f(struct ps_detect *d, float *x, size_t n, double def_median,
		      struct baseline *b);
/* The median and MAD of log(1 + x) over x[0..n) (reordered); n > 0. */
void ps_median_mad_f(struct ps_detect *d, float *x, size_t n, double *median, double *mad);
/* The same over v[0..n) (reordered), log(1 + x) values. */
void ps_dt_baseline_of(struct ps_detect *d, double *v, size_t n, double def_median,
		       struct baseline *b);
double ps_dt_zscore(const struct baseline *b, double x);
json_t *ps_dt_baseline_json(const struct baseline *b, const char *feature, const char *window);

/* detect.c */
/*
 * The outflow and ratio baselines (bo1h, boreq, bratio, bbusy), made at the
 * first need of a run, so that a run where no client reaches their floors
 * pays nothing for them; between runs, the last ones made.
 */
void ps_dt_need_outflow(struct ps_detect *d);
int ps_dt_class_of(struct ps_detect *d, uint32_t idx);
bool ps_dt_exempt(const struct ps_config *cfg, int cls);
bool ps_dt_alert_only(const struct ps_config *cfg, int cls);
double ps_dt_pace_1m(const struct ps_crec *r, double inf1m, uint32_t now);
/* Candidate c of record idx at now_ms (what: CAND_*, the others left 0). */
void ps_dt_cand(struct ps_detect *d, uint32_t idx, uint32_t now, uint64_t now_ms, int what,
		struct cand *c);
int ps_dt_grow(struct ps_detect *d, uint32_t n);
/* Candidate idx's completion tokens at now_ms into o: false (o not all
 * set) when it took none with its requests in the last hour. */
bool ps_dt_tokens(struct ps_detect *d, uint32_t idx, uint32_t now, uint64_t now_ms,
		  struct tokc *o);
double ps_dt_duty_cycle(const struct dstate *s, uint32_t now, double *watched_min);

/* ---- the detectors as data (detectors.c) ---- */

/* A run's shared figures, for the detectors of every row. */
struct dt_run {
	uint32_t nc;			/* candidates (d->bcand) */
	uint32_t now;			/* Unix s */
	uint64_t now_ms, boot_now;
	const struct baseline *b1m;	/* requests in the last minute */
	const struct baseline *b1h;	/* requests in the last hour */
	const struct baseline *bo1h;	/* outflow in the last hour */
	const struct baseline *boreq;	/* outflow a request, over the last hour */
	const struct baseline *bratio;	/* tx over rx payload, over the last hour */
	const struct baseline *bbusy;	/* outflow a busy minute, over the last hour */
	/* The programs' (key, address) pairs, read by the first key
	 * detector that asks (dt_key_pairs). */
	struct ps_kpairs kp;
	bool kp_read;
	int kp_err;
};

/* One client at one run, as a client detector sees it. */
struct judge {
	struct ps_detect *d;
	const struct ps_detection_cfg *dc;
	const struct cand *c;
	const struct ps_crec *r;
	const struct dstate *s;
	const struct ps_thresholds *th;	/* its class's */
	int cls;
	const struct dt_run *run;
	uint64_t now_ms;
	uint32_t now;
	bool have24;
	struct ps_cview v24;		/* zeros until read */
};

/* A client detector found the client: its score and evidence (a new object). */
struct finding {
	double score;
	json_t *ev;
};

enum dt_subject {
	DT_CLIENT,	/* one client (an address or a key): judged client by client */
	DT_GROUP,	/* groups of clients or of (key, address) pairs: once a run */
};

/*
 * A detector: its function and what it is made of. Adding one is a
 * function and a row of ps_dt_rows (detectors.c); its settings are its
 * table in detection (struct ps_detection_cfg) or, for the ones that have
 * none, the row's constants.
 */
struct dt_row {
	const char *name;		/* the alert's detector */
	enum dt_subject kind;
	const char *subject;		/* what its alerts name */
	size_t enabled;			/* its switch: an int in struct ps_detection_cfg,
					 * DT_ALWAYS: none */
	const char *window;		/* the windows it reads */
	const char *features;		/* what it judges */
	const char *thresholds;		/* what it compares them with */
	const char *const *evidence;	/* keys every alert of it carries (NULL ends) */
	/* DT_CLIENT: judge one client; the first row that fires speaks. */
	bool (*client)(struct judge *j, struct finding *f);
	/* DT_GROUP: judge the run's groups; steps taken. */
	int (*group)(struct ps_detect *d, struct dt_run *run);
};
#define DT_ALWAYS	SIZE_MAX

extern const struct dt_row ps_dt_rows[];
extern const size_t ps_dt_nrows;
/* The row of a detector, by name (NULL: none). */
const struct dt_row *ps_dt_row(const char *name);
bool ps_dt_row_enabled(const struct ps_detection_cfg *dc, const struct dt_row *row);

/*
 * Judge one client by the client rows, in order; on a detection fill
 * detector, score and evidence (a new object) and return true.
 */
bool ps_dt_judge_client(struct ps_detect *d, const struct cand *c, int cls,
			const struct dt_run *run, const char **detector, double *score,
			json_t **ev);
json_t *ps_dt_client_features(const struct cand *c);
/* The group rows, in order; steps taken. Stops when the run goes stale. */
int ps_dt_judge_groups(struct ps_detect *d, struct dt_run *run);
/* The run's (key, address) pairs, read once (NULL: none to be had). */
const struct ps_kpairs *ps_dt_key_pairs(struct ps_detect *d, struct dt_run *run);

/* prefix.c: the prefix detector (a row); steps taken. */
int ps_dt_judge_prefixes(struct ps_detect *d, struct dt_run *run);
void ps_dt_mask_prefix(const struct ps_client_key *k, int len, struct ps_prefix *p);

/* tokflow.c: the outflow in tokens (a row): addresses, API keys, networks; steps taken. */
int ps_dt_judge_token_outflow(struct ps_detect *d, struct dt_run *run);

/* keys.c: the API key detectors (rows); steps taken. */
int ps_dt_judge_shared_key(struct ps_detect *d, struct dt_run *run);
int ps_dt_judge_key_hydra(struct ps_detect *d, struct dt_run *run);

/* escalate.c */
uint64_t ps_dt_prefix_hash(const struct ps_prefix *p);
bool ps_dt_prefix_eq(const struct ps_prefix *a, const struct ps_prefix *b);
struct esc *ps_dt_esc_get(struct ps_detect *d, const struct ps_prefix *p);
/*
 * A detection of subject p: take the next step if its time has come.
 * members: clients that share a prefix's delay. Returns 1 when a step
 * was taken.
 */
int ps_dt_escalate(struct ps_detect *d, const struct ps_prefix *p, int kind,
		   const char *detector, double score, json_t *evidence, bool alert_only,
		   uint32_t members, bool dry_run, uint64_t now_ms, uint64_t boot_now);
/* Forget subjects not detected for escalation.forget (a rebuilt table). */
void ps_dt_esc_prune(struct ps_detect *d, uint64_t now_ms);

#endif
