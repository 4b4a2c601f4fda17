// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every detector as data: a function and a row of ps_dt_rows (the name
 * its alerts carry, what it judges, the windows it reads, its thresholds
 * and the evidence each of its alerts has), so that adding one touches
 * one place. Client detectors judge one candidate (struct cand: the last
 * minute and hour, read at the run) and, when they need them, the
 * client's 24h window and its detector state (struct dstate); the rows
 * are asked in order and the first that fires speaks for the client.
 * Group detectors (a prefix's clients, an API key's addresses, an
 * address's keys) judge the run's groups once a run: prefix.c, keys.c.
 * Each detector's settings are its table of detection in the config
 * (struct ps_detection_cfg), and its row names the switch that turns it
 * off.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "policy/detect_int.h"

/*
 * The outflow and ratio baselines, at the first need of a run: they read
 * every candidate, yielding as they go; in the detector's thread a tick
 * may then move the records and the detector state (the pointers are
 * taken again).
 */
static void need_outflow(struct judge *j)
{
	ps_dt_need_outflow(j->d);
	j->r = &j->d->t->rec[j->c->idx];
	j->s = &j->d->ds[j->c->idx];
}

static void read24(struct judge *j)
{
	if (j->have24)
		return;
	ps_crec_view(j->d->t, j->r, PS_WIN_24H, j->now_ms, &j->v24);
	j->have24 = true;
}

/*
 * The 24h window only for a client that may be a surge or a ratio: the
 * others keep zeros there, which no 24h figure of those detectors passes.
 */
static const struct ps_cview *view24(struct judge *j)
{
	const struct ps_detection_cfg *dc = j->dc;
	const struct cand *c = j->c;

	if ((dc->surge.enabled && c->inf1h >= dc->surge.requests_per_hour) ||
	    (dc->ratio.enabled && c->inf1h >= 1 &&
	     c->txp1h >= dc->ratio.min_ratio * (c->rxp1h > 1 ? c->rxp1h : 1)))
		read24(j);
	return &j->v24;
}

/* threshold: a configured threshold of the client's class passed. */
static bool threshold(struct judge *j, struct finding *f)
{
	static const char *const names[] = { "requests_per_minute", "requests_per_hour",
					     "requests_per_day", "tx_payload_per_hour",
					     "tx_payload_per_day" };
	const struct ps_thresholds *th = j->th;
	const uint64_t lim[] = { th->requests_per_minute, th->requests_per_hour,
				 th->requests_per_day, th->tx_payload_per_hour,
				 th->tx_payload_per_day };
	double val[5] = { j->c->inf1m, j->c->inf1h, 0, j->c->txp1h, 0 };
	int i;

	if (lim[2] != PS_LIMIT_UNSET || lim[4] != PS_LIMIT_UNSET) {
		read24(j);
		val[2] = j->v24.v[PS_F_INFERENCE];
		val[4] = j->v24.v[PS_F_TX_PAYLOAD];
	}
	for (i = 0; i < 5; i++) {
		if (lim[i] == PS_LIMIT_UNSET || val[i] <= (double)lim[i])
			continue;
		f->score = val[i] / (double)lim[i];
		f->ev = ps_dt_client_features(j->c);
		json_object_set_new(f->ev, "threshold", json_string(names[i]));
		json_object_set_new(f->ev, "value", json_real(val[i]));
		json_object_set_new(f->ev, "limit", json_integer((json_int_t)lim[i]));
		json_object_set_new(f->ev, "class", json_integer(j->cls));
		return true;
	}
	return false;
}

/* high_rate: the last minute far above the population's, and over the floor. */
static bool high_rate(struct judge *j, struct finding *f)
{
	const struct ps_detection_cfg *dc = j->dc;
	const struct cand *c = j->c;
	double z;

	if (!(c->recent && c->pace1m >= dc->high_rate.requests_per_minute))
		return false;
	z = ps_dt_zscore(j->run->b1m, c->pace1m);
	if (!(z >= dc->zscore))
		return false;
	f->score = z;
	f->ev = ps_dt_client_features(c);
	json_object_set_new(f->ev, "window", json_string("1m"));
	if (c->pace1m != c->inf1m)
		json_object_set_new(f->ev, "pace_1m", json_real(c->pace1m));
	json_object_set_new(f->ev, "zscore", json_real(z));
	json_object_set_new(f->ev, "floor",
			    json_integer((json_int_t)dc->high_rate.requests_per_minute));
	json_object_set_new(f->ev, "baseline", ps_dt_baseline_json(j->run->b1m, "requests_1m", "1m"));
	return true;
}

/* surge: the last hour `factor` times the client's own hourly baseline. */
static bool surge(struct judge *j, struct finding *f)
{
	const struct ps_detection_cfg *dc = j->dc;
	const struct cand *c = j->c;
	uint32_t now = j->now;
	double hist, base_n, base_h, base, factor, duty, watched, before, per_active, intensity;

	if (!(c->inf1h >= dc->surge.requests_per_hour))
		return false;
	hist = (double)(now - (j->r->first_wall < now ? j->r->first_wall : now));
	base_n = view24(j)->v[PS_F_INFERENCE] - c->inf1h;
	if (hist > 86400)
		hist = 86400;
	base_h = hist / 3600.0 - 1;
	if (!(hist >= dc->surge.min_history && base_h >= 1 && base_n >= SURGE_MIN_BASE))
		return false;
	base = base_n / base_h;
	factor = c->inf1h / base;
	if (!(factor >= dc->surge.factor))
		return false;
	/*
	 * A day's rhythm is no surge: people and their agents sleep, and
	 * their morning hour is many times a day's average. What changes in
	 * a surge is how busy the client is while it works: its requests an
	 * active minute, now against before the last hour (the hour's active
	 * minutes taken at their most, min(60, requests)). Now is the last
	 * minute and the hour's average both (the lesser): a crowd behind
	 * one address (a proxy's people at work) sends a Poisson stream
	 * whose minutes swing, at 3 requests a minute one in twenty has 7,
	 * five times its quiet hours' one or so; the hour's average stays
	 * with its people's pace, a surge's rises with it.
	 */
	duty = ps_dt_duty_cycle(j->s, now, &watched);
	before = duty * watched - (c->inf1h < 60 ? c->inf1h : 60);
	per_active = base_n / (before > 1 ? before : 1);
	intensity = c->inf1h / (c->inf1h < 60 ? c->inf1h : 60);
	if (c->pace1m < intensity)
		intensity = c->pace1m;
	intensity /= per_active;
	if (!(intensity >= dc->surge.factor))
		return false;
	f->score = factor;
	f->ev = ps_dt_client_features(c);
	json_object_set_new(f->ev, "window", json_string("1h"));
	json_object_set_new(f->ev, "factor", json_real(factor));
	json_object_set_new(f->ev, "baseline",
			    json_pack("{s:s,s:f,s:f,s:s,s:f,s:f}", "feature", "requests_per_hour",
				      "value", base, "hours", base_h, "from", "own history, last 24h",
				      "requests_per_active_minute", per_active, "intensity",
				      intensity));
	return true;
}

/* low_and_slow: busy nearly every minute watched, requests spaced like a machine's. */
static bool low_and_slow(struct judge *j, struct finding *f)
{
	const struct ps_detection_cfg *dc = j->dc;
	const struct dstate *s = j->s;
	double watched, duty, cv;

	if (!(s->nint >= REG_N && s->imean > 0 &&
	      j->c->inf1h >= dc->low_and_slow.requests_per_hour &&
	      j->now - s->since >= dc->low_and_slow.min_history))
		return false;
	duty = ps_dt_duty_cycle(s, j->now, &watched);
	cv = sqrt(s->ivar) / s->imean;
	if (!(duty >= dc->low_and_slow.duty_cycle && cv <= dc->low_and_slow.max_cv))
		return false;
	f->score = (duty / dc->low_and_slow.duty_cycle) *
		   (dc->low_and_slow.max_cv / (cv > 0.01 ? cv : 0.01));
	f->ev = ps_dt_client_features(j->c);
	json_object_set_new(f->ev, "window", json_string("24h"));
	json_object_set_new(f->ev, "duty_cycle", json_real(duty));
	json_object_set_new(f->ev, "watched_minutes", json_real(watched));
	json_object_set_new(f->ev, "interval_mean_s", json_real(s->imean));
	json_object_set_new(f->ev, "interval_cv", json_real(cv));
	json_object_set_new(f->ev, "baseline",
			    json_pack("{s:f,s:f}", "duty_cycle", dc->low_and_slow.duty_cycle,
				      "max_cv", dc->low_and_slow.max_cv));
	return true;
}

/* ratio: long answers to short prompts, over 24 h and in the last hour. */
static bool ratio(struct judge *j, struct finding *f)
{
	const struct ps_detection_cfg *dc = j->dc;
	const struct cand *c = j->c;
	const struct ps_cview *v24;
	double r24, r1;

	if (!(c->inf1h >= 1))
		return false;
	v24 = view24(j);
	if (!(v24->v[PS_F_INFERENCE] >= dc->ratio.min_requests))
		return false;
	r24 = v24->v[PS_F_TX_PAYLOAD] / (v24->v[PS_F_RX_PAYLOAD] > 1 ? v24->v[PS_F_RX_PAYLOAD] : 1);
	r1 = c->txp1h / (c->rxp1h > 1 ? c->rxp1h : 1);
	if (!(r24 >= dc->ratio.min_ratio && r1 >= dc->ratio.min_ratio))
		return false;
	need_outflow(j);
	/* Against a population, far above its ratios too: people reading
	 * streamed answers (an event of a few hundred bytes a token) reach
	 * the bound, and so does an address many of them share. */
	if (j->run->bratio->population && ps_dt_zscore(j->run->bratio, r1) < dc->zscore / 2)
		return false;
	f->score = r24 / dc->ratio.min_ratio;
	f->ev = ps_dt_client_features(c);
	json_object_set_new(f->ev, "window", json_string("24h"));
	json_object_set_new(f->ev, "ratio_24h", json_real(r24));
	json_object_set_new(f->ev, "ratio_1h", json_real(r1));
	json_object_set_new(f->ev, "requests_24h", json_real(v24->v[PS_F_INFERENCE]));
	json_object_set_new(f->ev, "tx_payload_24h", json_real(v24->v[PS_F_TX_PAYLOAD]));
	json_object_set_new(f->ev, "rx_payload_24h", json_real(v24->v[PS_F_RX_PAYLOAD]));
	json_object_set_new(f->ev, "baseline",
			    json_pack("{s:f,s:f,s:f,s:I}", "min_ratio", dc->ratio.min_ratio,
				      "population_median", expm1(j->run->bratio->median),
				      "zscore", ps_dt_zscore(j->run->bratio, r1), "clients",
				      (json_int_t)j->run->bratio->n));
	return true;
}

json_t *ps_dt_client_features(const struct cand *c)
{
	return json_pack("{s:f,s:f,s:f,s:f}", "requests_1m", (double)c->inf1m, "requests_1h",
			 (double)c->inf1h, "tx_payload_1h", (double)c->txp1h, "rx_payload_1h",
			 (double)c->rxp1h);
}

/*
 * outflow: what the client takes, in bytes of response, against the
 * population and against its own history. Three arms, the first that
 * holds speaks:
 *   1m    several answers in the last minute (OUT_MIN_REQ_1M), each far
 *         longer than people's: the minute's outflow a request, robust
 *         z-score against the population's outflow a request over the
 *         hour; found within a minute of a client taking ten times a
 *         person's output, at a request rate no rate detector sees;
 *   flow  the last minute's outflow (a young client's pace), from 3
 *         requests or more, far above a person's busy minute (the hour's
 *         outflow over min(60, requests) of each network's client) and
 *         OUT_FLOW_FACTOR times its median, its answers longer than most
 *         people's (a request's outflow in the minute at half the
 *         z-score): long answers one after another or side by side.
 *         Against the few networks there are when they are fewer than
 *         min_population (OUT_SMALL_POP or more), or the last baselines
 *         of a population (up to OUT_KEEP_S old): found within two
 *         minutes when few people are about, at night, on a small site;
 *   1h    the hour's outflow far above the population's hours;
 *   own   the hour's outflow OUT_HIST_FACTOR times its own hourly
 *         baseline from the rest of its last 24 h, and above most of
 *         the population's hours (half the z-score).
 * Both hour arms need answers longer than most people's (the hour's
 * outflow a request at half the z-score or more): an application making
 * many requests of ordinary length is a heavy user, not an outflow.
 * The population arms judge only against a population (min_population
 * networks with answers in the hour, or the last such baselines of a
 * request's outflow and a busy minute, OUT_KEEP_S), never against the
 * defaults; the flow arm also against a small one (OUT_SMALL_POP).
 */
static bool outflow(struct judge *j, struct finding *f)
{
	const struct ps_detection_cfg *dc = j->dc;
	const struct dt_run *run = j->run;
	const struct cand *c = j->c;
	const char *window = NULL, *feature = NULL;
	double value = 0, score = 0, z;
	json_t *base = NULL;

	/* An API key: not judged (mark_networks()); over no arm's floor:
	 * the baselines are not needed. */
	if (!OUTFLOW_SUBJECT(&j->r->key))
		return false;
	if (!((c->recent && c->inf1m >= OUT_MIN_REQ_1M &&
	       (c->out1m >= OUT_MIN_1M || c->opace1m >= OUT_MIN_1M)) ||
	      (c->inf1h >= OUT_MIN_REQ_1H && c->out1h >= OUT_MIN_1H)))
		return false;
	need_outflow(j);
	if (c->recent && c->inf1m >= OUT_MIN_REQ_1M && c->out1m >= OUT_MIN_1M &&
	    run->boreq->population) {
		value = c->out1m / c->inf1m;
		z = ps_dt_zscore(run->boreq, value);
		if (z >= dc->zscore) {
			window = "1m";
			feature = "outflow_per_request_1m";
			score = z;
			base = ps_dt_baseline_json(run->boreq, "outflow_per_request of one client",
						   "1h");
		}
	}
	if (!window && c->recent && c->inf1m >= OUT_MIN_REQ_1M && c->opace1m >= OUT_MIN_1M &&
	    (run->bbusy->population || run->bbusy->from == BL_SMALL)) {
		double med = expm1(run->bbusy->median);
		double zr = ps_dt_zscore(run->boreq, c->out1m / c->inf1m);
		double tok = -1;

		z = ps_dt_zscore(run->bbusy, c->opace1m);
		if (run->bbusy->from == BL_SMALL) {
			/* The few there are: the completion tokens a request,
			 * where the answers reported their usage (-1: none). */
			struct ps_cview v;

			ps_crec_view(j->d->t, j->r, PS_WIN_1M, j->now_ms, &v);
			if (v.v[PS_F_TX_TOKENS] + v.v[PS_F_RX_TOKENS] > 0 && v.v[PS_F_INFERENCE] > 0)
				tok = v.v[PS_F_TX_TOKENS] / v.v[PS_F_INFERENCE];
		}
		if (z >= dc->zscore && c->opace1m >= OUT_FLOW_FACTOR * med &&
		    zr >= dc->zscore / 2 && (tok < 0 || tok >= OUT_SMALL_TOK_REQ)) {
			window = "1m";
			feature = "outflow_1m";
			value = c->opace1m;
			score = z;
			base = ps_dt_baseline_json(run->bbusy, "outflow a busy minute of one client",
						   "1h");
			json_object_set_new(base, "factor", json_real(c->opace1m /
								     (med > 1 ? med : 1)));
			json_object_set_new(base, "zscore_per_request", json_real(zr));
			if (tok >= 0)
				json_object_set_new(base, "tx_tokens_per_request_1m",
						    json_real(tok));
		}
	}
	if (!window && c->inf1h >= OUT_MIN_REQ_1H && c->out1h >= OUT_MIN_1H &&
	    run->bo1h->population) {
		double zr = ps_dt_zscore(run->boreq, c->out1h / c->inf1h);

		z = ps_dt_zscore(run->bo1h, c->out1h);
		if (zr < dc->zscore / 2) {
			/* Many answers of people's length: a heavy user, the
			 * rate detectors' to judge. */
		} else if (z >= dc->zscore) {
			window = "1h";
			feature = "outflow_1h";
			value = c->out1h;
			score = z;
			base = ps_dt_baseline_json(run->bo1h, "outflow_1h of one client", "1h");
		} else if (z >= dc->zscore / 2) {
			uint32_t now = j->now;
			double hist = (double)(now - (j->r->first_wall < now ? j->r->first_wall : now));
			double base_h, base_n, per_h, factor;

			read24(j);
			if (hist > 86400)
				hist = 86400;
			base_h = hist / 3600.0 - 1;
			base_n = j->v24.v[PS_F_INFERENCE] - c->inf1h;
			per_h = base_h >= 1 ? (ps_dt_outflow(&j->v24) - c->out1h) / base_h : 0;
			factor = c->out1h / (per_h > 1 ? per_h : 1);
			if (hist >= OUT_HIST_S && base_h >= 1 && base_n >= OUT_HIST_MIN_REQ &&
			    factor >= OUT_HIST_FACTOR) {
				window = "1h";
				feature = "outflow_1h over its own";
				value = c->out1h;
				score = factor;
				base = json_pack("{s:s,s:f,s:f,s:f,s:s}", "feature",
						 "outflow per hour", "value", per_h, "hours", base_h,
						 "zscore_population", z, "from",
						 "own history, last 24h");
			}
		}
	}
	if (!window)
		return false;
	f->score = score;
	f->ev = ps_dt_client_features(c);
	json_object_set_new(f->ev, "window", json_string(window));
	json_object_set_new(f->ev, "feature", json_string(feature));
	json_object_set_new(f->ev, "value", json_real(value));
	json_object_set_new(f->ev, "outflow_1m", json_real(c->out1m));
	json_object_set_new(f->ev, "outflow_1h", json_real(c->out1h));
	{
		/* What the answers reported in tokens (0 where none was counted). */
		struct ps_cview v1m, v1h;

		ps_crec_view(j->d->t, j->r, PS_WIN_1M, j->now_ms, &v1m);
		ps_crec_view(j->d->t, j->r, PS_WIN_1H, j->now_ms, &v1h);
		json_object_set_new(f->ev, "tx_tokens_1m", json_real(v1m.v[PS_F_TX_TOKENS]));
		json_object_set_new(f->ev, "tx_tokens_1h", json_real(v1h.v[PS_F_TX_TOKENS]));
		json_object_set_new(f->ev, "rx_tokens_1h", json_real(v1h.v[PS_F_RX_TOKENS]));
	}
	json_object_set_new(f->ev, "score", json_real(score));
	json_object_set_new(f->ev, "baseline", base);
	return true;
}

#define SWITCH(d)	offsetof(struct ps_detection_cfg, d.enabled)
#define FEATURES	"requests_1m", "requests_1h", "tx_payload_1h", "rx_payload_1h"
#define EVIDENCE(...)	(const char *const[]){ __VA_ARGS__, NULL }

/* Every detector, client ones in the order they are asked. */
const struct dt_row ps_dt_rows[] = {
	{
		.name = "threshold", .kind = DT_CLIENT, .subject = "client",
		.enabled = DT_ALWAYS, .window = "1m, 1h, 24h",
		.features = "requests and tx payload of the client",
		.thresholds = "its class's thresholds (detection.thresholds)",
		.evidence = EVIDENCE(FEATURES, "threshold", "value", "limit", "class"),
		.client = threshold,
	},
	{
		.name = "high_rate", .kind = DT_CLIENT, .subject = "client",
		.enabled = SWITCH(high_rate), .window = "1m",
		.features = "requests in the last minute (a young client's pace)",
		.thresholds = "zscore against the population; high_rate.requests_per_minute",
		.evidence = EVIDENCE(FEATURES, "window", "zscore", "floor", "baseline"),
		.client = high_rate,
	},
	{
		.name = "surge", .kind = DT_CLIENT, .subject = "client",
		.enabled = SWITCH(surge), .window = "1h, 24h",
		.features = "requests in the last hour over its own hourly baseline, and its "
			    "last minute and the hour's requests an active minute over its "
			    "requests an active minute before",
		.thresholds = "surge.factor, min_history, requests_per_hour",
		.evidence = EVIDENCE(FEATURES, "window", "factor", "baseline"),
		.client = surge,
	},
	{
		.name = "low_and_slow", .kind = DT_CLIENT, .subject = "client",
		.enabled = SWITCH(low_and_slow), .window = "1h, 24h (watched minutes)",
		.features = "duty cycle of its minutes, regularity of its request intervals",
		.thresholds = "low_and_slow.duty_cycle, max_cv, min_history, requests_per_hour",
		.evidence = EVIDENCE(FEATURES, "window", "duty_cycle", "watched_minutes",
				     "interval_mean_s", "interval_cv", "baseline"),
		.client = low_and_slow,
	},
	{
		.name = "ratio", .kind = DT_CLIENT, .subject = "client",
		.enabled = SWITCH(ratio), .window = "1h, 24h",
		.features = "tx payload over rx payload",
		.thresholds = "ratio.min_ratio, min_requests",
		.evidence = EVIDENCE(FEATURES, "window", "ratio_24h", "ratio_1h", "requests_24h",
				     "tx_payload_24h", "rx_payload_24h", "baseline"),
		.client = ratio,
	},
	{
		.name = "outflow", .kind = DT_CLIENT, .subject = "client",
		.enabled = DT_ALWAYS, .window = "1m, 1h, 24h",
		.features = "response payload: a request's in the last minute, the hour's; "
			    "the hour over its own history (the tokens its answers reported "
			    "in evidence)",
		.thresholds = "zscore against the population; OUT_* in detect_int.h",
		.evidence = EVIDENCE(FEATURES, "window", "feature", "value", "outflow_1m",
				     "outflow_1h", "tx_tokens_1m", "tx_tokens_1h", "rx_tokens_1h",
				     "score", "baseline"),
		.client = outflow,
	},
	{
		.name = "outflow_tokens", .kind = DT_GROUP,
		.subject = "address, API key, IPv4 /24 or IPv6 /48",
		.enabled = DT_ALWAYS, .window = "1m, 1h",
		.features = "completion tokens (tx_tokens + tx_tokens_estimated): an address's "
			    "or a key's a request in the last minute, its minute against a busy "
			    "minute, its hour; a network's a request in the minute and the hour",
		.thresholds = "zscore against the population of its kind (addresses one a "
			      "network, keys, networks); OUT_*, TOK_* in detect_int.h",
		.evidence = EVIDENCE("subject_kind", "clients", "window", "feature", "value",
				     "requests_1m", "requests_1h", "completion_tokens_1m",
				     "completion_tokens_1h", "completion_tokens_per_request_1h",
				     "zscore", "baseline"),
		.group = ps_dt_judge_token_outflow,
	},
	{
		.name = "prefix", .kind = DT_GROUP, .subject = "IPv4 /24, IPv6 /64 or /48",
		.enabled = SWITCH(prefix), .window = "1m, 1h",
		.features = "the members' requests together (a young campaign's pace); "
			    "a hydra, not a crowd: members first seen together, staying, "
			    "machine-regular, or each far busier than a person",
		.thresholds = "zscore against the population of single clients; "
			      "prefix.min_clients, requests_per_hour; HYDRA_* in prefix.c",
		.evidence = EVIDENCE("window", "active_clients", "clients", "requests_per_hour",
				     "requests_1m", "requests_1h", "tx_payload_1h",
				     "rx_payload_1h", "tx_tokens_1h", "rx_tokens_1h", "zscore",
				     "baseline", "hydra"),
		.group = ps_dt_judge_prefixes,
	},
	{
		.name = "shared_key", .kind = DT_GROUP, .subject = "API key",
		.enabled = SWITCH(shared_key), .window = "1h",
		.features = "networks (IPv4 /24, IPv6 /48) one key came from",
		.thresholds = "zscore against the population of keys; shared_key.min_networks",
		.evidence = EVIDENCE("window", "networks", "addresses", "requests",
				     "inference_requests", "zscore", "top_addresses", "baseline"),
		.group = ps_dt_judge_shared_key,
	},
	{
		.name = "key_hydra", .kind = DT_GROUP, .subject = "address, IPv4 /24 or IPv6 /48",
		.enabled = SWITCH(key_hydra), .window = "1h",
		.features = "keys of one address or network, their rates and spread",
		.thresholds = "zscore against the population of addresses (networks); "
			      "key_hydra.min_keys, max_cv, requests_per_key",
		.evidence = EVIDENCE("window", "keys", "addresses", "requests",
				     "inference_requests", "mean_key_requests_per_hour",
				     "cv_key_requests_per_hour", "zscore", "keys_seen", "baseline"),
		.group = ps_dt_judge_key_hydra,
	},
};
const size_t ps_dt_nrows = sizeof(ps_dt_rows) / sizeof(ps_dt_rows[0]);

const struct dt_row *ps_dt_row(const char *name)
{
	size_t i;

	for (i = 0; i < ps_dt_nrows; i++)
		if (!strcmp(ps_dt_rows[i].name, name))
			return &ps_dt_rows[i];
	return NULL;
}

bool ps_dt_row_enabled(const struct ps_detection_cfg *dc, const struct dt_row *row)
{
	return row->enabled == DT_ALWAYS || *(const int *)((const char *)dc + row->enabled);
}

bool ps_dt_judge_client(struct ps_detect *d, const struct cand *c, int cls,
			const struct dt_run *run, const char **detector, double *score,
			json_t **ev)
{
	struct judge j = {
		.d = d, .dc = &d->cfg->detection, .c = c, .r = &d->t->rec[c->idx],
		.s = &d->ds[c->idx], .th = &d->th[cls < PS_MAX_CLASSES ? cls : 0], .cls = cls,
		.run = run, .now_ms = run->now_ms, .now = run->now_ms / 1000,
	};
	struct finding f = {};
	size_t i;

	for (i = 0; i < ps_dt_nrows; i++) {
		const struct dt_row *row = &ps_dt_rows[i];

		if (row->kind != DT_CLIENT || !ps_dt_row_enabled(j.dc, row))
			continue;
		if (row->client(&j, &f)) {
			*detector = row->name;
			*score = f.score;
			*ev = f.ev;
			return true;
		}
	}
	return false;
}

int ps_dt_judge_groups(struct ps_detect *d, struct dt_run *run)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;
	int taken = 0;
	size_t i;

	for (i = 0; i < ps_dt_nrows && !d->stale; i++) {
		const struct dt_row *row = &ps_dt_rows[i];

		if (row->kind == DT_GROUP && ps_dt_row_enabled(dc, row)) {
			taken += row->group(d, run);
			/* Its scratch's pages go before the next one's come. */
			ps_dt_drop_group_scratch(d);
		}
	}
	if (run->kp_read)
		ps_kpairs_free(&run->kp);
	run->kp_read = false;
	return taken;
}

const struct ps_kpairs *ps_dt_key_pairs(struct ps_detect *d, struct dt_run *run)
{
	if (!run->kp_read) {
		run->kp_read = true;
		memset(&run->kp, 0, sizeof(run->kp));
		run->kp_err = d->h.key_pairs ? d->h.key_pairs(d->h.ctx, &run->kp) : -ENOENT;
	}
	return run->kp_err || !run->kp.n ? NULL : &run->kp;
}
