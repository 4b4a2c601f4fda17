// SPDX-License-Identifier: GPL-2.0-only
/*
 * block, throttle, unblock and enforcement: the entries a person sets in
 * ps_enforce (origin manual), kept in the state directory too, and the
 * list of every entry in force. A throttle by rate is a shape entry, which
 * needs its HTB class: one that no interface can make is taken back.
 */
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/units.h"
#include "daemon/handlers.h"
#include "enforce/enforce.h"

/* The subject: an address, a prefix or a key id, in a->subject and as text in a->subj. */
static int subject_of(json_t *req, FILE *out, struct ps_ask *a)
{
	const char *s = json_string_value(ps_request_get(req, PS_ARG_SUBJECT));
	char err[256];

	if (!s) {
		ps_control_error(out, "give \"subject\": an address or a prefix");
		return -1;
	}
	if (ps_parse_subject(s, &a->subject, err, sizeof(err))) {
		ps_control_error(out, "'%s': expected %s", s, err);
		return -1;
	}
	ps_prefix_str(&a->subject, a->subj, sizeof(a->subj));
	return 0;
}

/* reason: absent, or at most PS_ENF_REASON_MAX bytes of printable ASCII. */
static int reason_ok(const char *reason)
{
	size_t i, n;

	if (!reason)
		return 1;
	n = strlen(reason);
	for (i = 0; i < n && reason[i] >= 0x20 && reason[i] <= 0x7e; i++)
		;
	return ps_arg_in_range(PS_ARG_REASON, n) && i == n;
}

/*
 * The entry a block or throttle request asks for (a throttle by rate_bps
 * is a shape), in a->entry with its action, limits and reason, its
 * duration in a->for_s and " at N bit/s" in a->rate; -1 when the request
 * is refused (answered).
 */
static int entry_of(json_t *req, FILE *out, int action, struct ps_ask *a)
{
	const char *reason = json_string_value(ps_request_get(req, PS_ARG_REASON));
	json_int_t for_s = 0, rpm = 0, burst = 1, rate_bps = 0;
	const struct ps_arg_def *f = &ps_args[PS_ARG_FOR_S];
	struct ps_enforcement *e = &a->entry;

	/* for_s 0 is as absent: until removed. */
	if (json_unpack(req, "{s?I, s?I, s?I}", f->name, &for_s, ps_args[PS_ARG_RPM].name, &rpm,
			ps_args[PS_ARG_BURST].name, &burst) || for_s < 0 || for_s > f->max) {
		ps_control_error(out, "for_s, rpm and burst are numbers; for_s %lld..%lld "
				      "(or absent: until removed)", f->min, f->max);
		return -1;
	}
	if (!reason_ok(reason)) {
		ps_control_error(out, "reason: at most %lld printable ASCII characters",
				 ps_args[PS_ARG_REASON].max);
		return -1;
	}
	if (action == PS_ACT_THROTTLE && ps_request_get(req, PS_ARG_RATE_BPS)) {
		f = &ps_args[PS_ARG_RATE_BPS];
		if (json_unpack(req, "{s:I}", f->name, &rate_bps) ||
		    !ps_arg_in_range(PS_ARG_RATE_BPS, rate_bps)) {
			ps_control_error(out, "throttle: rate_bps %lld..%lld (bits per second)",
					 f->min, f->max);
			return -1;
		}
		if (ps_request_get(req, PS_ARG_RPM) || ps_request_get(req, PS_ARG_BURST)) {
			ps_control_error(out, "throttle: rate_bps goes without rpm and burst (one of "
					      "rpm and rate_bps)");
			return -1;
		}
		/* One HTB class per entry: the clients of a prefix share it. */
		action = PS_ACT_SHAPE;
		e->rate_bps = rate_bps;
		snprintf(a->rate, sizeof(a->rate), " at %lld bit/s", (long long)rate_bps);
	} else if (action == PS_ACT_THROTTLE) {
		if (!ps_arg_in_range(PS_ARG_RPM, rpm) || !ps_arg_in_range(PS_ARG_BURST, burst)) {
			ps_control_error(out, "throttle: rpm %lld..%lld and burst %lld..%lld",
					 ps_args[PS_ARG_RPM].min, ps_args[PS_ARG_RPM].max,
					 ps_args[PS_ARG_BURST].min, ps_args[PS_ARG_BURST].max);
			return -1;
		}
		ps_gcra_params(rpm, burst, &e->emission_ns, &e->tolerance_ns);
	}
	a->for_s = for_s;
	e->action = action;
	e->origin = PS_ORIGIN_MANUAL;
	if (reason)
		snprintf(e->reason, sizeof(e->reason), "%s", reason);
	return 0;
}

/*
 * Put e on p, in place of what was there; a shape entry that no interface
 * can shape is taken back (unless in dry run). 0, or -1 when refused
 * (answered).
 */
static int set_entry(struct ps_daemon *d, FILE *out, const struct ps_prefix *p,
		     const char *subj, struct ps_enforcement *e)
{
	struct ps_enforcement old = {};
	int err, had_old = !ps_enf_get(&d->dp, p, &old);
	char serr[256];

	/* A new rate for a shaped client: the same class, changed in place. */
	if (had_old && old.action == PS_ACT_SHAPE && e->action == PS_ACT_SHAPE)
		e->shape_class = old.shape_class;
	err = ps_enf_set(&d->dp, p, e);
	if (err) {
		ps_control_error(out, "%s %s: %s", ps_action_names[e->action], subj,
				 strerror(-err));
		return -1;
	}
	if (e->action != PS_ACT_SHAPE && !(had_old && old.action == PS_ACT_SHAPE))
		return 0;
	err = ps_daemon_shape_sync(d, serr, sizeof(serr));
	if (err && e->action == PS_ACT_SHAPE && !e->dry_run) {
		/* Not shaped anywhere: back to what was there. */
		if (had_old)
			ps_enf_set(&d->dp, p, &old);
		else
			ps_enf_remove(&d->dp, p);
		ps_daemon_shape_sync(d, NULL, 0);
		ps_control_error(out, "throttle %s: %s", subj, serr);
		return -1;
	} else if (err) {
		pr_warn("penstockd: shaping: %s\n", serr);
	}
	return 0;
}

/* block: an entry of origin manual. */
int ps_check_block(json_t *req, FILE *out, struct ps_ask *a)
{
	return subject_of(req, out, a) || entry_of(req, out, PS_ACT_BLOCK, a) ? -1 : 0;
}

/* throttle, by rpm, or by rate (a shape entry): an entry of origin manual. */
int ps_check_throttle(json_t *req, FILE *out, struct ps_ask *a)
{
	return subject_of(req, out, a) || entry_of(req, out, PS_ACT_THROTTLE, a) ? -1 : 0;
}

/* block and throttle: the checked entry, from now. */
void ps_run_set(struct ps_daemon *d, const struct ps_ask *a, FILE *out)
{
	struct ps_enforcement e = a->entry;
	const char *reason = e.reason[0] ? e.reason : NULL;
	json_t *o;

	e.since_ns = ps_wall_ms() * 1000000ULL;
	e.until_ns = a->for_s ? ps_boot_now(NULL) + a->for_s * 1000000000ULL : 0;
	e.dry_run = d->cfg.dry_run > 0;
	if (set_entry(d, out, &a->subject, a->subj, &e))
		return;
	pr_info("penstockd: %s %s%s%s%s%s (manual)\n", ps_action_names[e.action], a->subj,
		a->rate, reason ? ": " : "", reason ? reason : "", e.dry_run ? " [dry run]" : "");
	ps_daemon_save_manual(d);
	o = json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "subject", a->subj, "action",
		      ps_action_names[e.action], "dry_run", e.dry_run);
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}

int ps_check_unblock(json_t *req, FILE *out, struct ps_ask *a)
{
	return subject_of(req, out, a);
}

void ps_run_unblock(struct ps_daemon *d, const struct ps_ask *a, FILE *out)
{
	int r;

	r = ps_enf_remove(&d->dp, &a->subject);
	if (r < 0) {
		ps_control_error(out, "unblock %s: %s", a->subj, strerror(-r));
		return;
	}
	if (r) {
		pr_info("penstockd: enforcement on %s removed (manual)\n", a->subj);
		ps_daemon_shape_sync(d, NULL, 0);
		ps_daemon_save_manual(d);
	}
	fprintf(out, "{\"ok\":true,\"subject\":\"%s\",\"removed\":%d}", a->subj, r);
}

void ps_run_enforcement(struct ps_daemon *d, const struct ps_ask *a, FILE *out)
{
	int64_t b2w;
	uint64_t now = ps_boot_now(&b2w);
	json_t *o = ps_enf_list_json(&d->dp, d->cfg.dry_run > 0, now, b2w);

	(void)a;
	json_object_set_new(o, "ok", json_true());
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}
