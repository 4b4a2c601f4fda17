// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the alert sinks (userspace/alerts/) without a receiver:
 * the JSON of an alert and its Alertmanager form (exact text, worked out
 * from the documented formats), the evidence summary, the memory kept for
 * penstock alerts, the JSON-lines file and its rotation, and the spool
 * (what ps_alerts_emit() and ps_alerts_tick() leave on disk, a crash's
 * open batch, the lock, max_spool). tests/e2e/test_alerts delivers to a
 * real HTTP receiver.
 *
 * The webhook here points at 127.0.0.1:1, where nothing listens: the
 * sender fails, retries and leaves the spool alone (its warnings on
 * stderr are expected). Output: "PASS name"
 * or "FAIL name: why" per case; exit 1 if any failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alerts/sinks.h"
#include "common/config.h"
#include "../check.h"

static char tmpdir[] = "/tmp/penstock-unit-alerts-XXXXXX";

/* A compact dump, for comparing with an expected text. */
static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY);

	return s ? s : strdup("(null)");
}

static bool check_text(const char *name, const char *what, const char *got, const char *want)
{
	if (!strcmp(got, want))
		return true;
	fail(name, "%s\n  got  %s\n  want %s", what, got, want);
	return false;
}

static struct ps_alert sample(uint64_t time_ms, int seq)
{
	struct ps_alert al = {
		.time_ms = time_ms,
		.kind = PS_ALERT_CLIENT,
		.score = 0.75,
	};

	snprintf(al.subject, sizeof(al.subject), "198.18.0.%d", seq % 250);
	snprintf(al.detector, sizeof(al.detector), "high_rate");
	snprintf(al.action, sizeof(al.action), "shape");
	al.evidence = json_pack("{s:i, s:f, s:s}", "seq", seq, "rpm", 340.5, "window", "1m");
	return al;
}

/* A config with every sink off (stderr too: the test's output stays readable). */
static void quiet_config(struct ps_config *cfg)
{
	ps_config_init(cfg);
	cfg->alerts.to_stderr = 0;
}

static void set_jsonl(struct ps_config *cfg, const char *sub, uint64_t max_bytes, int keep)
{
	snprintf(cfg->alerts.jsonl.path, sizeof(cfg->alerts.jsonl.path), "%s/%s/alerts.jsonl",
		 tmpdir, sub);
	cfg->alerts.jsonl.max_bytes = max_bytes;
	cfg->alerts.jsonl.keep = keep;
}

static void set_webhook(struct ps_config *cfg, const char *sub)
{
	snprintf(cfg->alerts.webhook.url, sizeof(cfg->alerts.webhook.url),
		 "http://127.0.0.1:1/api/v2/alerts");
	snprintf(cfg->alerts.webhook.spool_dir, sizeof(cfg->alerts.webhook.spool_dir), "%s/%s",
		 tmpdir, sub);
	cfg->alerts.webhook.max_backoff = 60;
}

/* The lines of a file (0 if there is none), and the size. */
static int count_lines(const char *path, long *size)
{
	int c, n = 0;
	long sz = 0;
	FILE *f = fopen(path, "r");

	if (size)
		*size = 0;
	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF) {
		n += c == '\n';
		sz++;
	}
	fclose(f);
	if (size)
		*size = sz;
	return n;
}

/* evidence.seq of every line of a file, appended to seqs. */
static int read_seqs(const char *path, int *seqs, int max, int n)
{
	char line[4096];
	FILE *f = fopen(path, "r");

	if (!f)
		return n;
	while (fgets(line, sizeof(line), f) && n < max) {
		json_t *o = json_loads(line, 0, NULL);

		seqs[n++] = json_integer_value(json_object_get(json_object_get(o, "evidence"), "seq"));
		json_decref(o);
	}
	fclose(f);
	return n;
}

/* Files in dir whose name ends with suffix ("" for all but . and ..). */
static int count_files(const char *dir, const char *suffix)
{
	struct dirent *de;
	size_t l = strlen(suffix);
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t dl = strlen(de->d_name);

		if (de->d_name[0] == '.' || dl < l || strcmp(de->d_name + dl - l, suffix))
			continue;
		n++;
	}
	closedir(d);
	return n;
}

static void test_alert_json(void)
{
	struct ps_alert al = sample(1700000000123ULL, 2);
	json_t *o = ps_alert_json(&al);
	char *s = dump(o);

	if (check_text("alert_json", "ps_alert_json", s,
		       "{\"time\":\"2023-11-14T22:13:20.123Z\",\"subject\":\"198.18.0.2\","
		       "\"kind\":\"client\",\"detector\":\"high_rate\",\"score\":0.75,"
		       "\"action\":\"shape\",\"evidence\":{\"seq\":2,\"rpm\":340.5,\"window\":\"1m\"}}"))
		pass("alert_json");
	free(s);
	json_decref(o);
	json_decref(al.evidence);
}

/* Fields that are full, odd or empty; evidence copied, not shared. */
static void test_alert_json_edges(void)
{
	struct ps_alert al = { .time_ms = 0, .kind = PS_ALERT_PREFIX, .score = NAN };
	json_t *ev = json_pack("{s:i}", "n", 1), *o;
	char *s;

	memset(al.subject, 'a', sizeof(al.subject));	/* no NUL at all */
	al.subject[3] = '\n';
	al.subject[4] = (char)0xc3;
	al.evidence = ev;
	o = ps_alert_json(&al);
	json_object_set_new(ev, "n", json_integer(2));	/* the caller's, after emit */
	s = dump(o);
	if (check_text("alert_json_edges", "ps_alert_json", s,
		       "{\"time\":\"1970-01-01T00:00:00.000Z\",\"subject\":\"aaa??"
		       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		       "\"kind\":\"prefix\",\"detector\":\"unknown\",\"score\":null,"
		       "\"action\":\"alert\",\"evidence\":{\"n\":1}}"))
		pass("alert_json_edges");
	free(s);
	json_decref(o);
	json_decref(ev);

	memset(&al, 0, sizeof(al));
	o = ps_alert_json(&al);
	s = dump(json_object_get(o, "evidence"));
	if (check_text("alert_json_no_evidence", "evidence", s, "{}"))
		pass("alert_json_no_evidence");
	free(s);
	json_decref(o);
}

static void test_am_json(void)
{
	struct ps_alert al = sample(1700000000123ULL, 7);
	json_t *o;
	char *s;

	al.kind = PS_ALERT_PREFIX;
	snprintf(al.subject, sizeof(al.subject), "2001:db8::/48");
	snprintf(al.detector, sizeof(al.detector), "low-and-slow");
	o = ps_alert_am_json(&al, "gpu-7.example");
	s = dump(o);
	if (check_text("am_json", "ps_alert_am_json", s,
		       "{\"labels\":{\"alertname\":\"penstock_low_and_slow\","
		       "\"subject\":\"2001:db8::/48\",\"kind\":\"prefix\",\"detector\":\"low-and-slow\","
		       "\"action\":\"shape\",\"severity\":\"warning\"},"
		       "\"annotations\":{\"summary\":\"low-and-slow: prefix 2001:db8::/48 scored 0.75, "
		       "action shape\",\"score\":\"0.75\","
		       "\"evidence\":\"{\\\"seq\\\":7,\\\"rpm\\\":340.5,\\\"window\\\":\\\"1m\\\"}\"},"
		       "\"startsAt\":\"2023-11-14T22:13:20.123Z\",\"endsAt\":\"2023-11-14T23:13:20.123Z\","
		       "\"generatorURL\":\"penstock://gpu-7.example/alerts?subject=2001%3Adb8%3A%3A%2F48"
		       "&detector=low-and-slow&time=1700000000123\"}"))
		pass("am_json");
	free(s);
	json_decref(o);
	json_decref(al.evidence);
}

static void test_evidence_str(void)
{
	json_t *ev = json_pack("{s:i, s:f, s:s, s:b, s:[i,i], s:f, s:f}", "rpm", 340, "ratio",
			       0.123456, "window", "1m", "new", 1, "hours", 1, 2, "bytes", 32306.4,
			       "whole", 20.0);
	char buf[160], small[16];

	/* Reals: whole numbers and those of 10^4 or more without a fraction. */
	if (check_text("evidence_str", "summary", ps_alert_evidence_str(ev, buf, sizeof(buf)),
		       "rpm=340 ratio=0.1235 window=1m new=true hours=[1,2] bytes=32306 whole=20") &&
	    check_text("evidence_str", "cut", ps_alert_evidence_str(ev, small, sizeof(small)),
		       "rpm=340 rati..."))
		pass("evidence_str");
	json_decref(ev);
}

/* keep_in_memory newest, since_ms, and a reconfigure that shrinks it. */
static void test_list(void)
{
	static struct ps_config cfg;
	struct ps_alerts *a;
	char err[512], *s;
	json_t *l;
	int i;

	quiet_config(&cfg);
	cfg.alerts.keep_in_memory = 3;
	a = ps_alerts_open(&cfg, err, sizeof(err));
	if (!a) {
		fail("list", "open: %s", err);
		return;
	}
	for (i = 1; i <= 5; i++) {
		struct ps_alert al = sample(i * 1000ULL, i);

		ps_alerts_emit(a, &al);
		json_decref(al.evidence);
	}
	l = ps_alerts_list(a, 0);
	s = dump(l);
	if (json_array_size(json_object_get(l, "alerts")) != 3 ||
	    strncmp(json_string_value(json_object_get(
			    json_array_get(json_object_get(l, "alerts"), 0), "subject")),
		    "198.18.0.3", 11) || json_object_get(l, "webhook"))
		fail("list_keep", "%s", s);
	else
		pass("list_keep");
	free(s);
	json_decref(l);

	l = ps_alerts_list(a, 4000);
	if (json_array_size(json_object_get(l, "alerts")) != 2)
		fail("list_since", "%zu alerts since 4000, expected 2",
		     json_array_size(json_object_get(l, "alerts")));
	else
		pass("list_since");
	json_decref(l);

	cfg.alerts.keep_in_memory = 1;
	if (ps_alerts_reconfigure(a, &cfg, err, sizeof(err)))
		fail("list_shrink", "reconfigure: %s", err);
	l = ps_alerts_list(a, 0);
	s = dump(json_object_get(l, "alerts"));
	if (!strstr(s, "\"seq\":5") || json_array_size(json_object_get(l, "alerts")) != 1)
		fail("list_shrink", "%s", s);
	else
		pass("list_shrink");
	free(s);
	json_decref(l);

	cfg.alerts.keep_in_memory = 0;
	ps_alerts_reconfigure(a, &cfg, err, sizeof(err));
	{
		struct ps_alert al = sample(9000, 9);

		ps_alerts_emit(a, &al);
		json_decref(al.evidence);
	}
	l = ps_alerts_list(a, 0);
	if (json_array_size(json_object_get(l, "alerts")))
		fail("list_none", "alerts kept with keep_in_memory 0");
	else
		pass("list_none");
	json_decref(l);
	ps_alerts_close(a);
}

/*
 * 40 alerts of about 130 bytes in files of 1 KiB at most: every line in
 * alerts.jsonl and alerts.jsonl.1 ... .N, oldest in the highest, and a
 * reopened file goes on where it was.
 */
static void test_jsonl_rotate(void)
{
	static struct ps_config cfg;
	char path[PS_ALERT_PATH_MAX + 16], err[512];
	int seqs[200], n = 0, i, k, files = 0;
	struct ps_alerts *a;
	long size;
	bool big = false;

	quiet_config(&cfg);
	set_jsonl(&cfg, "log", 1024, 100);
	for (k = 0; k < 2; k++) {	/* a second run appends */
		a = ps_alerts_open(&cfg, err, sizeof(err));
		if (!a) {
			fail("jsonl_rotate", "open: %s", err);
			return;
		}
		for (i = 1; i <= 20; i++) {
			struct ps_alert al = sample(1700000000000ULL + i, k * 20 + i);

			ps_alerts_emit(a, &al);
			json_decref(al.evidence);
			if (i % 7 == 0)
				ps_alerts_tick(a, 0);
		}
		ps_alerts_close(a);
	}
	for (i = 100; i >= 0; i--) {
		if (i)
			snprintf(path, sizeof(path), "%s.%d", cfg.alerts.jsonl.path, i);
		else
			snprintf(path, sizeof(path), "%s", cfg.alerts.jsonl.path);
		if (access(path, F_OK))
			continue;
		files++;
		count_lines(path, &size);
		big = big || size > 1024;
		n = read_seqs(path, seqs, 200, n);
	}
	for (i = 0; i < n && seqs[i] == i + 1; i++)
		;
	if (n != 40 || i != 40)
		fail("jsonl_rotate", "%d lines, in order up to %d; expected 40", n, i);
	else if (files < 5 || big)
		fail("jsonl_rotate", "%d files, %s larger than 1 KiB", files, big ? "some" : "none");
	else
		pass("jsonl_rotate");
}

/* keep: 2 keeps the newest in three files; keep: 0 starts the file afresh. */
static void test_jsonl_keep(void)
{
	static struct ps_config cfg;
	char path[PS_ALERT_PATH_MAX + 16], err[512];
	int seqs[200], n = 0, i, keep;
	struct ps_alerts *a;

	for (keep = 2; keep >= 0; keep -= 2) {
		const char *name = keep ? "jsonl_keep" : "jsonl_keep_0";

		quiet_config(&cfg);
		set_jsonl(&cfg, keep ? "keep2" : "keep0", 1024, keep);
		a = ps_alerts_open(&cfg, err, sizeof(err));
		if (!a) {
			fail(name, "open: %s", err);
			continue;
		}
		for (i = 1; i <= 40; i++) {
			struct ps_alert al = sample(1700000000000ULL, i);

			ps_alerts_emit(a, &al);
			json_decref(al.evidence);
		}
		ps_alerts_close(a);
		n = 0;
		for (i = keep + 1; i >= 0; i--) {
			if (i)
				snprintf(path, sizeof(path), "%s.%d", cfg.alerts.jsonl.path, i);
			else
				snprintf(path, sizeof(path), "%s", cfg.alerts.jsonl.path);
			n = read_seqs(path, seqs, 200, n);
		}
		snprintf(path, sizeof(path), "%s.%d", cfg.alerts.jsonl.path, keep + 1);
		for (i = 1; i < n && seqs[i] == seqs[i - 1] + 1; i++)
			;
		/* A file holds 7 of these lines: 2 full ones and the current one. */
		if (!access(path, F_OK))
			fail(name, "%s exists", path);
		else if (!n || i != n || seqs[n - 1] != 40 || n > (keep + 1) * 7 || n < keep * 7 + 1)
			fail(name, "%d lines from %d to %d, %s", n, n ? seqs[0] : 0,
			     n ? seqs[n - 1] : 0, i == n ? "in order" : "out of order");
		else
			pass(name);
	}
}

/* What emit and tick leave in the spool; a batch in the Alertmanager form. */
static void test_spool(void)
{
	static struct ps_config cfg;
	char dir[PS_ALERT_PATH_MAX], path[PS_ALERT_PATH_MAX + 64], err[1024], line[4096];
	struct ps_alerts *a, *b;
	json_t *o;
	FILE *f;
	int i;

	quiet_config(&cfg);
	set_webhook(&cfg, "spool");
	snprintf(dir, sizeof(dir), "%s", cfg.alerts.webhook.spool_dir);
	a = ps_alerts_open(&cfg, err, sizeof(err));
	if (!a) {
		fail("spool_emit", "open: %s", err);
		return;
	}
	for (i = 1; i <= 3; i++) {
		struct ps_alert al = sample(1700000000000ULL, i);

		ps_alerts_emit(a, &al);
		json_decref(al.evidence);
	}
	snprintf(path, sizeof(path), "%s/open", dir);
	if (count_lines(path, NULL) != 3 || count_files(dir, ".batch"))
		fail("spool_emit", "%d lines in open, %d batches; expected 3 and 0",
		     count_lines(path, NULL), count_files(dir, ".batch"));
	else
		pass("spool_emit");

	ps_alerts_tick(a, 0);
	snprintf(path, sizeof(path), "%s/00000000000000000001.batch", dir);
	f = fopen(path, "r");
	o = f && fgets(line, sizeof(line), f) ? json_loads(line, 0, NULL) : NULL;
	if (f)
		fclose(f);
	snprintf(line, sizeof(line), "%s/open", dir);
	if (count_lines(path, NULL) != 3 || !access(line, F_OK))
		fail("spool_tick", "%s: %d lines, open %s", path, count_lines(path, NULL),
		     access(line, F_OK) ? "gone" : "still there");
	else if (strcmp(json_string_value(json_object_get(json_object_get(o, "labels"),
							  "alertname")) ?: "",
			"penstock_high_rate"))
		fail("spool_tick", "the batch's first line is not an Alertmanager alert");
	else
		pass("spool_tick");
	json_decref(o);

	/* One process per spool. */
	b = ps_alerts_open(&cfg, err, sizeof(err));
	snprintf(line, sizeof(line), "alerts.webhook: the spool %s is in use by another process",
		 dir);
	if (b)
		fail("spool_lock", "a second ps_alerts_open() on the spool succeeded");
	else if (check_text("spool_lock", "message", err, line))
		pass("spool_lock");
	ps_alerts_close(b);

	/* The webhook, down: its state in the list. */
	{
		json_t *l = ps_alerts_list(a, 0), *w = json_object_get(l, "webhook");

		if (!w || strcmp(json_string_value(json_object_get(w, "spool_dir")) ?: "", dir) ||
		    json_integer_value(json_object_get(w, "delivered")))
			fail("spool_list", "no webhook state, or a wrong one");
		else
			pass("spool_list");
		json_decref(l);
	}

	/* Closed with an open batch: sealed, numbered after the first. */
	{
		struct ps_alert al = sample(1700000000000ULL, 4);

		ps_alerts_emit(a, &al);
		json_decref(al.evidence);
	}
	ps_alerts_close(a);
	snprintf(path, sizeof(path), "%s/00000000000000000002.batch", dir);
	if (count_lines(path, NULL) != 1 || count_files(dir, ".batch") != 2)
		fail("spool_close", "%s: %d lines, %d batches", path, count_lines(path, NULL),
		     count_files(dir, ".batch"));
	else
		pass("spool_close");
}

/*
 * A crash leaves "open", its last line maybe cut short: the next open
 * seals it (a newline added), numbered after the highest batch, and the
 * next alert is a line of its own.
 */
static void test_spool_crash(void)
{
	static struct ps_config cfg;
	char dir[PS_ALERT_PATH_MAX], path[PS_ALERT_PATH_MAX + 64], err[1024];
	struct ps_alerts *a;
	FILE *f;

	quiet_config(&cfg);
	set_webhook(&cfg, "crash");
	snprintf(dir, sizeof(dir), "%s", cfg.alerts.webhook.spool_dir);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/00000000000000000041.batch", dir);
	f = fopen(path, "w");
	if (f) {
		fputs("{\"labels\":{}}\n", f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/open", dir);
	f = fopen(path, "w");
	if (f) {
		fputs("{\"labels\":{}}\n{\"labels\":{\"cut", f);
		fclose(f);
	}
	a = ps_alerts_open(&cfg, err, sizeof(err));
	if (!a) {
		fail("spool_crash", "open: %s", err);
		return;
	}
	{
		struct ps_alert al = sample(1700000000000ULL, 1);

		ps_alerts_emit(a, &al);
		json_decref(al.evidence);
	}
	ps_alerts_close(a);
	snprintf(path, sizeof(path), "%s/00000000000000000042.batch", dir);
	if (count_lines(path, NULL) != 2)
		fail("spool_crash", "%s: %d lines, expected 2", path, count_lines(path, NULL));
	else if (snprintf(path, sizeof(path), "%s/00000000000000000043.batch", dir) &&
		 count_lines(path, NULL) != 1)
		fail("spool_crash", "%s: %d lines, expected 1", path, count_lines(path, NULL));
	else
		pass("spool_crash");
}

/* Bytes of the sealed batches in dir. */
static long spool_bytes(const char *dir)
{
	char p[PS_ALERT_PATH_MAX + 300];
	struct dirent *de;
	long total = 0, size;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		if (!strstr(de->d_name, ".batch"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		count_lines(p, &size);
		total += size;
	}
	if (d)
		closedir(d);
	return total;
}

/* Over max_spool (1 MiB): the oldest batches go, counted as dropped. */
static void test_spool_max(void)
{
	static struct ps_config cfg;
	char dir[PS_ALERT_PATH_MAX], err[1024];
	struct ps_alerts *a;
	json_int_t dropped;
	long total = 0;
	json_t *l;
	int i, tries;

	quiet_config(&cfg);
	set_webhook(&cfg, "max");
	cfg.alerts.webhook.max_spool = 1 << 20;
	snprintf(dir, sizeof(dir), "%s", cfg.alerts.webhook.spool_dir);
	a = ps_alerts_open(&cfg, err, sizeof(err));
	if (!a) {
		fail("spool_max", "open: %s", err);
		return;
	}
	/* About 700 bytes each in the Alertmanager form: 3000 are 2 MiB. */
	for (i = 1; i <= 3000; i++) {
		struct ps_alert al = sample(1700000000000ULL, i);

		ps_alerts_emit(a, &al);
		json_decref(al.evidence);
	}
	ps_alerts_tick(a, 0);
	/* The sender drops on its next look at the spool: wait for it. */
	for (tries = 0; tries < 100; tries++) {
		total = spool_bytes(dir);
		if (total <= 1 << 20)
			break;
		usleep(100000);
	}
	l = ps_alerts_list(a, 0);
	dropped = json_integer_value(json_object_get(json_object_get(l, "webhook"), "dropped"));
	json_decref(l);
	ps_alerts_close(a);
	if (!dropped || dropped % 500 || total > (1 << 20) || total < (1 << 19))
		fail("spool_max", "%lld dropped, %ld bytes left", (long long)dropped, total);
	else
		pass("spool_max");
}

/* A sink that cannot open: open fails with the reason; a reload keeps the running sinks. */
static void test_open_errors(void)
{
	static struct ps_config cfg, bad;
	char err[1024], path[PS_ALERT_PATH_MAX];
	struct ps_alerts *a;

	quiet_config(&bad);
	snprintf(bad.alerts.jsonl.path, sizeof(bad.alerts.jsonl.path), "/proc/penstock/alerts.jsonl");
	a = ps_alerts_open(&bad, err, sizeof(err));
	if (a)
		fail("open_error", "opened a file under /proc");
	else if (check_text("open_error", "message", err,
			    "alerts.jsonl: cannot create the directory of /proc/penstock/alerts.jsonl: "
			    "No such file or directory"))
		pass("open_error");
	ps_alerts_close(a);

	quiet_config(&cfg);
	set_jsonl(&cfg, "reload", 1 << 20, 1);
	a = ps_alerts_open(&cfg, err, sizeof(err));
	if (!a) {
		fail("reload_error", "open: %s", err);
		return;
	}
	if (!ps_alerts_reconfigure(a, &bad, err, sizeof(err)))
		fail("reload_error", "reconfigure to a file under /proc succeeded");
	{
		struct ps_alert al = sample(1700000000000ULL, 1);

		ps_alerts_emit(a, &al);
		json_decref(al.evidence);
	}
	ps_alerts_close(a);
	snprintf(path, sizeof(path), "%s", cfg.alerts.jsonl.path);
	if (count_lines(path, NULL) != 1)
		fail("reload_error", "%d lines in %s after a failed reload, expected 1",
		     count_lines(path, NULL), path);
	else
		pass("reload_error");
}

int main(void)
{
	char cmd[200];

	if (!mkdtemp(tmpdir)) {
		printf("FAIL setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_alert_json();
	test_alert_json_edges();
	test_am_json();
	test_evidence_str();
	test_list();
	test_jsonl_rotate();
	test_jsonl_keep();
	test_spool();
	test_spool_crash();
	test_spool_max();
	test_open_errors();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		printf("FAIL cleanup: cannot remove %s\n", tmpdir);
	return nfailed ? 1 : 0;
}
