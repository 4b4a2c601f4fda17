// SPDX-License-Identifier: GPL-2.0-only
/*
 * What is done about a subject (a client, or a prefix) the detectors find:
 * the escalation steps of detection.escalation (detect.h tells the rules),
 * each an alert and, but for an alert step, an enforcement entry of origin
 * detector; and the escalation of every subject to a file and back, so
 * that a restart goes on where the last run was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/files.h"
#include "common/units.h"
#include "enforce/enforce.h"
#include "policy/detect_int.h"

static const char *const step_names[] = { "alert", "shape", "delay", "block" };

uint64_t ps_dt_prefix_hash(const struct ps_prefix *p)
{
	uint64_t h = (uint64_t)p->family << 8 | p->len;
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ p->addr[i]) * 0x100000001b3ULL;
	return h ^ h >> 29;
}

bool ps_dt_prefix_eq(const struct ps_prefix *a, const struct ps_prefix *b)
{
	return a->family == b->family && a->len == b->len && !memcmp(a->addr, b->addr, 16);
}

struct esc *ps_dt_esc_get(struct ps_detect *d, const struct ps_prefix *p)
{
	uint32_t i, mask;

	mask = d->cap_esc ? d->cap_esc - 1 : 0;
	for (i = d->cap_esc ? ps_dt_prefix_hash(p) & mask : 0; d->cap_esc && d->esc[i].used;
	     i = (i + 1) & mask)
		if (ps_dt_prefix_eq(&d->esc[i].subj, p))
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
			for (i = ps_dt_prefix_hash(&old[j].subj) & (cap - 1); ne[i].used;
			     i = (i + 1) & (cap - 1))
				;
			ne[i] = old[j];
		}
		free(old);
		d->esc = ne;
		d->cap_esc = cap;
	}
	mask = d->cap_esc - 1;
	for (i = ps_dt_prefix_hash(p) & mask; d->esc[i].used; i = (i + 1) & mask)
		if (ps_dt_prefix_eq(&d->esc[i].subj, p))
			return &d->esc[i];
	d->esc[i].used = true;
	d->esc[i].subj = *p;
	d->esc[i].stage = -1;
	d->nesc++;
	return &d->esc[i];
}

/*
 * The entry a step puts its subject under (origin detector), through the
 * hooks; the step's action when it was applied, "alert" when it was not
 * (the evidence then says why).
 */
static const char *step_enforce(struct ps_detect *d, const struct ps_prefix *p,
				const struct ps_step_cfg *step, int stage, const char *detector,
				uint32_t members, bool dry_run, uint64_t now_ms, uint64_t boot_now,
				json_t *evidence)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;
	struct ps_enforcement en = {};
	const char *action = "alert";
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
	return action;
}

/* Every step taken is an alert, with its evidence: to the hooks. */
static void raise_alert(struct ps_detect *d, const struct ps_prefix *p, int kind,
			const char *detector, double score, const char *action, int stage,
			json_t *evidence, uint64_t now_ms)
{
	struct ps_alert al = {};

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
}

int ps_dt_escalate(struct ps_detect *d, const struct ps_prefix *p, int kind,
		   const char *detector, double score, json_t *evidence, bool alert_only,
		   uint32_t members, bool dry_run, uint64_t now_ms, uint64_t boot_now)
{
	const struct ps_detection_cfg *dc = &d->cfg->detection;
	const struct ps_step_cfg *step;
	const char *action = "alert";
	struct esc *e;
	bool renew;
	int stage;

	/* Found by a run in the detector's thread: the loop takes the step
	 * (the escalation, the entries and the alerts are the loop's). */
	if (ps_dt_bg_self == d)
		return ps_dt_bg_queue(d, p, kind, detector, score, evidence, alert_only, members,
				      dry_run, now_ms, boot_now);
	e = ps_dt_esc_get(d, p);
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
	if (!alert_only && step->action != PS_STEP_ALERT && d->h.enforce)
		action = step_enforce(d, p, step, stage, detector, members, dry_run, now_ms,
				      boot_now, evidence);
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
	raise_alert(d, p, kind, detector, score, action, stage, evidence, now_ms);
	d->st.alerts++;
	return 1;
}

/* Forget subjects not detected for escalation.forget (a rebuilt table). */
void ps_dt_esc_prune(struct ps_detect *d, uint64_t now_ms)
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
		e = ps_dt_esc_get(d, &old[j].subj);
		if (e)
			*e = old[j];
	}
	free(old);
}

/* ---- escalation across restarts ---- */

struct ps_esc_snap {
	uint32_t n;
	struct esc e[];
};

struct ps_esc_snap *ps_detect_snapshot(struct ps_detect *d)
{
	struct ps_esc_snap *s;
	uint32_t i, n = 0;

	for (i = 0; i < d->cap_esc; i++)
		n += d->esc[i].used && d->esc[i].stage >= 0;
	s = malloc(sizeof(*s) + (size_t)n * sizeof(s->e[0]));
	if (!s)
		return NULL;
	s->n = 0;
	for (i = 0; i < d->cap_esc; i++)
		if (d->esc[i].used && d->esc[i].stage >= 0)
			s->e[s->n++] = d->esc[i];
	d->dirty = false;
	return s;
}

/*
 * {"subjects":[{...},...]} written a subject at a time (the bytes a whole
 * document dumped with JSON_COMPACT gives): tens of thousands of subjects
 * in escalation (a population of hydras) made a tree of megabytes in
 * penstockd's heap at every save.
 */
static int snap_body(int fd, void *ctx)
{
	const struct ps_esc_snap *s = ctx;
	char subj[64], out[65536];
	size_t len = 0;
	uint32_t i;
	int r;

	len = (size_t)snprintf(out, sizeof(out), "{\"subjects\":[");
	for (i = 0; i < s->n; i++) {
		const struct esc *e = &s->e[i];
		json_t *o = json_pack("{s:s,s:i,s:I,s:I,s:I}", "subject",
				      ps_prefix_str(&e->subj, subj, sizeof(subj)), "stage", e->stage,
				      "next_ms", (json_int_t)e->next_ms, "last_ms",
				      (json_int_t)e->last_ms, "until_ms", (json_int_t)e->until_ms);
		size_t n;

		/* (a subject's object is under 256 bytes: room for one more, and its comma) */
		if (sizeof(out) - len < 512) {
			if ((r = ps_write_all(fd, out, len))) {
				json_decref(o);
				return r;
			}
			len = 0;
		}
		if (i)
			out[len++] = ',';
		n = o ? json_dumpb(o, out + len, sizeof(out) - len - 8, JSON_COMPACT) : 0;
		json_decref(o);
		if (!n || n > sizeof(out) - len - 8)
			return -ENOMEM;
		len += n;
	}
	memcpy(out + len, "]}\n", 3);
	return ps_write_all(fd, out, len + 3);
}

int ps_esc_snap_write(struct ps_esc_snap *s, const char *path)
{
	int err = ps_file_replace(path, snap_body, s);

	free(s);
	return err;
}

void ps_detect_mark_dirty(struct ps_detect *d)
{
	d->dirty = true;
}

int ps_detect_save(struct ps_detect *d, const char *path)
{
	struct ps_esc_snap *s = ps_detect_snapshot(d);
	int err;

	if (!s) {
		d->dirty = true;
		return -ENOMEM;
	}
	err = ps_esc_snap_write(s, path);
	if (err)
		d->dirty = true;
	return err;
}

int ps_detect_load(struct ps_detect *d, const char *path, char *errbuf, size_t errlen)
{
	json_t *doc, *arr, *o;
	size_t i;
	int n = 0, r;

	r = ps_json_load_file(path, &doc, errbuf, errlen);
	if (r <= 0)
		return r;
	arr = json_object_get(doc, "subjects");
	if (!json_is_array(arr)) {
		snprintf(errbuf, errlen, "%s: no \"subjects\" array", path);
		json_decref(doc);
		return -EINVAL;
	}
	json_array_foreach(arr, i, o) {
		const char *s = json_string_value(json_object_get(o, "subject"));
		json_int_t stage = json_integer_value(json_object_get(o, "stage"));
		struct ps_prefix p;
		char err[128];
		struct esc *e;

		if (!s || ps_parse_subject(s, &p, err, sizeof(err)) || stage < 0 ||
		    !json_is_integer(json_object_get(o, "next_ms")) ||
		    !json_is_integer(json_object_get(o, "last_ms")))
			continue;
		e = ps_dt_esc_get(d, &p);
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
