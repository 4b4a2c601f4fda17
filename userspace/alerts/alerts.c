// SPDX-License-Identifier: GPL-2.0-only
/*
 * Alert sinks: stderr, a JSON-lines file rotated by size, an Alertmanager
 * webhook through a spool on disk, and the newest alerts in memory.
 *
 * The spool is a directory of batch files, each line of one an alert in
 * Alertmanager's API v2 form (a PostableAlert, one JSON object):
 *   open                        the batch ps_alerts_emit() appends to
 *   00000000000000000042.batch  a sealed batch, for the sender
 * ps_alerts_emit() appends one line to "open" with one write(): once it
 * returns, the alert is in the page cache and a crash of the daemon loses
 * nothing. ps_alerts_tick() seals the batch: fdatasync, rename to the next
 * number, fsync of the directory, so a sealed batch is whole on disk or
 * not there at all. A crash leaves "open" behind: the next
 * ps_alerts_open() seals it before the sender starts.
 *
 * The sender is a thread of its own (the daemon's loop never waits on
 * HTTP): it takes the sealed batch with the lowest number, POSTs its
 * alerts as one JSON array and unlinks the file on a 2xx answer only.
 * Anything else (no connection, a timeout, any other status) is retried,
 * the same batch first so that alerts arrive in the order they were
 * emitted, after 1 s, 2 s, 4 s ... up to max_backoff. A batch delivered
 * just before a crash, and not yet unlinked, is sent again: delivery is at
 * least once (Alertmanager merges identical alerts). When the sealed
 * batches outgrow max_spool, the oldest are dropped, with a warning.
 *
 * One process per spool: ps_alerts_open() takes an flock on its file
 * "lock", or fails.
 *
 * Threads: the sender reads and unlinks sealed batches; everything else
 * (the open batch, the numbering, the JSON-lines file, the memory) is the
 * caller's thread's. They share only struct sender's counters, under its
 * mutex.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alerts/alerts.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/log.h"

#define SPOOL_OPEN		"open"
#define SPOOL_LOCK		"lock"
#define SPOOL_SUFFIX		".batch"
#define SPOOL_DIGITS		20
/* A batch is sealed early past either: one POST stays reasonably small. */
#define BATCH_MAX_ALERTS	500
#define BATCH_MAX_BYTES		(1 << 20)
/* A sealed batch larger than this is not one of ours: set aside, not sent. */
#define BATCH_READ_MAX		(16 << 20)
#define BACKOFF_FIRST_MS	1000
#define AM_ENDS_AFTER_MS	(3600ULL * 1000)	/* endsAt: startsAt + 1 h */
#define ERR_TEXT_MAX		256

/* ---- time and text --------------------------------------------------- */

/* RFC 3339, UTC, milliseconds: "2026-11-23T02:00:00.123Z". */
static const char *rfc3339_ms(uint64_t ms, char *buf, size_t len)
{
	time_t t = ms / 1000;
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ", (unsigned int)(ms % 1000));
	return buf;
}

/*
 * A fixed-size field of struct ps_alert as a JSON string: up to its size
 * (a missing NUL is not an overrun), anything but printable ASCII as '?'
 * (jansson refuses invalid UTF-8), dflt when empty.
 */
static json_t *field_json(const char *s, size_t size, const char *dflt)
{
	char buf[128];
	size_t i, n = strnlen(s, size);

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	for (i = 0; i < n; i++)
		buf[i] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
	buf[n] = 0;
	return json_string(n ? buf : dflt);
}

static const char *kind_name(int kind)
{
	return kind == PS_ALERT_PREFIX ? "prefix" : "client";
}

json_t *ps_alert_json(const struct ps_alert *al)
{
	char ts[40];
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "time", json_string(rfc3339_ms(al->time_ms, ts, sizeof(ts))));
	json_object_set_new(o, "subject", field_json(al->subject, sizeof(al->subject), "?"));
	json_object_set_new(o, "kind", json_string(kind_name(al->kind)));
	json_object_set_new(o, "detector", field_json(al->detector, sizeof(al->detector), "unknown"));
	/* jansson has no NaN or infinity: a score that is neither is null. */
	json_object_set_new(o, "score", isfinite(al->score) ? json_real(al->score) : json_null());
	json_object_set_new(o, "action", field_json(al->action, sizeof(al->action), "alert"));
	json_object_set_new(o, "evidence", al->evidence ? json_deep_copy(al->evidence) : json_object());
	return o;
}

/* Percent-encode s (RFC 3986 unreserved characters pass) into buf. */
static void url_encode(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 < len; s++) {
		unsigned char c = *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf[o++] = c;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = 0;
}

json_t *ps_alert_am_json(const struct ps_alert *al, const char *host)
{
	json_t *base = ps_alert_json(al), *labels, *ann, *o;
	const char *subject, *kind, *detector, *action;
	char name[64], ts[40], te[40], score[32], summary[256], url[640];
	char esubj[200], edet[100], ehost[200];
	char *evidence;
	size_t i;

	if (!base)
		return NULL;
	subject = json_string_value(json_object_get(base, "subject"));
	kind = json_string_value(json_object_get(base, "kind"));
	detector = json_string_value(json_object_get(base, "detector"));
	action = json_string_value(json_object_get(base, "action"));
	if (!subject || !kind || !detector || !action) {
		json_decref(base);
		return NULL;
	}
	/* A label name is [a-zA-Z_][a-zA-Z0-9_]*: the prefix makes the start one. */
	snprintf(name, sizeof(name), "penstock_%s", detector);
	for (i = 0; name[i]; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			name[i] = '_';
	if (isfinite(al->score))
		snprintf(score, sizeof(score), "%.6g", al->score);
	else
		snprintf(score, sizeof(score), "NaN");
	snprintf(summary, sizeof(summary), "%s: %s %s scored %s, action %s", detector, kind,
		 subject, score, action);
	url_encode(subject, esubj, sizeof(esubj));
	url_encode(detector, edet, sizeof(edet));
	url_encode(host && *host ? host : "localhost", ehost, sizeof(ehost));
	snprintf(url, sizeof(url), "penstock://%s/alerts?subject=%s&detector=%s&time=%llu", ehost,
		 esubj, edet, (unsigned long long)al->time_ms);
	evidence = json_dumps(json_object_get(base, "evidence"), JSON_COMPACT | JSON_REAL_PRECISION(15));
	labels = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "alertname", name, "subject", subject,
			   "kind", kind, "detector", detector, "action", action, "severity",
			   "warning");
	ann = json_pack("{s:s, s:s, s:s}", "summary", summary, "score", score, "evidence",
			evidence ? evidence : "{}");
	o = json_pack("{s:o, s:o, s:s, s:s, s:s}", "labels", labels, "annotations", ann,
		      "startsAt", rfc3339_ms(al->time_ms, ts, sizeof(ts)), "endsAt",
		      rfc3339_ms(al->time_ms + AM_ENDS_AFTER_MS, te, sizeof(te)), "generatorURL",
		      url);
	free(evidence);
	json_decref(base);
	return o;
}

/* ---- the JSON-lines file --------------------------------------------- */

struct jsonl {
	struct ps_alerts_jsonl_cfg cfg;
	int fd;
	uint64_t size;
	bool dirty;		/* written since the last fdatasync */
	bool failing;		/* the last write failed: warned once */
};

static int jsonl_open(struct jsonl *j, const struct ps_alerts_jsonl_cfg *cfg, char *err,
		      size_t errlen)
{
	char dir[PS_ALERT_PATH_MAX];
	struct stat st;
	int r;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->cfg = *cfg;
	r = ps_parent_dir(cfg->path, dir, sizeof(dir));
	if (!r)
		r = ps_mkdir_p(dir, 0755);
	if (r) {
		snprintf(err, errlen, "alerts.jsonl: cannot create the directory of %s: %s",
			 cfg->path, strerror(-r));
		return r;
	}
	j->fd = open(cfg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (j->fd < 0 || fstat(j->fd, &st)) {
		r = -errno;
		snprintf(err, errlen, "alerts.jsonl: cannot open %s: %s", cfg->path, strerror(errno));
		if (j->fd >= 0)
			close(j->fd);
		j->fd = -1;
		return r;
	}
	j->size = st.st_size;
	return 0;
}

static void jsonl_sync(struct jsonl *j)
{
	if (j->fd >= 0 && j->dirty && fdatasync(j->fd) == 0)
		j->dirty = false;
}

static void jsonl_close(struct jsonl *j)
{
	if (j->fd < 0)
		return;
	jsonl_sync(j);
	close(j->fd);
	j->fd = -1;
}

/* path -> path.1 -> ... -> path.keep (the oldest goes), then a new path. */
static void jsonl_rotate(struct jsonl *j)
{
	char from[PS_ALERT_PATH_MAX + 16], to[PS_ALERT_PATH_MAX + 16];
	char err[PS_ALERT_PATH_MAX + 128];
	struct ps_alerts_jsonl_cfg cfg = j->cfg;
	int i;

	jsonl_close(j);
	for (i = cfg.keep - 1; i >= 1; i--) {
		snprintf(from, sizeof(from), "%s.%d", cfg.path, i);
		snprintf(to, sizeof(to), "%s.%d", cfg.path, i + 1);
		if (rename(from, to) && errno != ENOENT)
			pr_warn("penstockd: alerts: cannot rename %s to %s: %s\n", from, to,
				strerror(errno));
	}
	if (cfg.keep) {
		snprintf(to, sizeof(to), "%s.1", cfg.path);
		if (rename(cfg.path, to))
			pr_warn("penstockd: alerts: cannot rename %s to %s: %s\n", cfg.path, to,
				strerror(errno));
	} else if (unlink(cfg.path)) {
		pr_warn("penstockd: alerts: cannot remove %s: %s\n", cfg.path, strerror(errno));
	}
	if (jsonl_open(j, &cfg, err, sizeof(err)))
		pr_warn("penstockd: %s\n", err);
}

static void jsonl_write(struct jsonl *j, const char *line, size_t len)
{
	int r;

	/* No file grows past max_bytes, unless one line alone does. */
	if (j->fd >= 0 && j->size && j->size + len > j->cfg.max_bytes)
		jsonl_rotate(j);
	if (j->fd < 0) {
		r = -EBADF;
	} else {
		r = ps_write_all(j->fd, line, len);
		if (!r) {
			j->size += len;
			j->dirty = true;
		}
	}
	if (r && !j->failing)
		pr_warn("penstockd: alerts: cannot write to %s: %s\n", j->cfg.path, strerror(-r));
	else if (!r && j->failing)
		pr_info("penstockd: alerts: writing to %s again\n", j->cfg.path);
	j->failing = r != 0;
}

/* ---- the webhook's sender thread ------------------------------------- */

struct sender {
	struct ps_alerts_webhook_cfg cfg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* on CLOCK_MONOTONIC */
	int stop;		/* under mu; read without it by curl's progress callback */
	bool kick;		/* a batch was sealed */
	CURL *curl;
	struct curl_slist *headers;
	char curl_err[CURL_ERROR_SIZE];
	char reply[200];	/* the start of the receiver's answer, for messages */
	size_t reply_len;
	/* What ps_alerts_list() shows, under mu. */
	uint64_t delivered, dropped;	/* alerts since the sender started */
	uint64_t batches, bytes;	/* sealed batches in the spool at the last look */
	uint64_t failing_since;		/* wall ms of the first failure in a row, 0 */
	char last_error[ERR_TEXT_MAX];
};

struct batch {
	uint64_t seq;
	uint64_t bytes;
};

static bool batch_name(const char *name, uint64_t *seq)
{
	size_t i;

	if (strlen(name) != SPOOL_DIGITS + strlen(SPOOL_SUFFIX) ||
	    strcmp(name + SPOOL_DIGITS, SPOOL_SUFFIX))
		return false;
	for (i = 0, *seq = 0; i < SPOOL_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		*seq = *seq * 10 + (name[i] - '0');
	}
	return true;
}

static int cmp_batch(const void *a, const void *b)
{
	const struct batch *x = a, *y = b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The sealed batches of dir, oldest first (malloc'ed in *out). Count or -errno. */
static int spool_list(const char *dir, struct batch **out)
{
	struct batch *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	uint64_t seq;
	DIR *d = opendir(dir);

	*out = NULL;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!batch_name(de->d_name, &seq) || fstatat(dirfd(d), de->d_name, &st, 0))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n].seq = seq;
		v[n].bytes = st.st_size;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_batch);
	*out = v;
	return (int)n;
}

static void batch_path(const char *dir, uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%0*llu" SPOOL_SUFFIX, dir, SPOOL_DIGITS, (unsigned long long)seq);
}

/* The lines of a file, one alert each, as a JSON array; skipped: bad lines. */
static json_t *batch_read(const char *path, int *bad, int *err)
{
	json_t *arr = NULL, *o;
	char *buf = NULL, *line, *nl;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd;

	*bad = 0;
	*err = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		*err = -errno;
		goto out;
	}
	if (st.st_size > BATCH_READ_MAX) {
		*err = -EFBIG;
		goto out;
	}
	buf = malloc(st.st_size + 1);
	arr = json_array();
	if (!buf || !arr) {
		*err = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	buf[len] = 0;
	for (line = buf; line < buf + len; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = buf + len;	/* a last line cut short by a crash: it fails to parse */
		*nl = 0;
		if (!*line)
			continue;
		o = json_loads(line, 0, NULL);
		if (json_is_object(o))
			json_array_append_new(arr, o);
		else {
			json_decref(o);
			(*bad)++;
		}
	}
out:
	if (*err) {
		json_decref(arr);
		arr = NULL;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return arr;
}

/* Alerts in a batch file: its lines. */
static uint64_t batch_count(const char *path)
{
	char buf[65536];
	uint64_t lines = 0;
	ssize_t n, i;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return lines;
}

static void set_error(struct sender *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(struct sender *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->mu);
	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
	if (!s->failing_since)
		s->failing_since = ps_wall_ms();
	pthread_mutex_unlock(&s->mu);
}

/*
 * Look at the spool: drop the oldest batches while the sealed ones hold
 * more than max_spool bytes, and note what is left. The oldest left in
 * *oldest. Returns the number of batches.
 */
static int spool_scan(struct sender *s, uint64_t *oldest)
{
	char path[PS_ALERT_PATH_MAX + 64];
	uint64_t total = 0, dropped = 0;
	struct batch *v;
	int n, i, first = 0;

	n = spool_list(s->cfg.spool_dir, &v);
	if (n < 0) {
		set_error(s, "cannot read the spool %s: %s", s->cfg.spool_dir, strerror(-n));
		return 0;
	}
	for (i = 0; i < n; i++)
		total += v[i].bytes;
	for (; first < n && total > s->cfg.max_spool; first++) {
		batch_path(s->cfg.spool_dir, v[first].seq, path, sizeof(path));
		dropped += batch_count(path);
		if (unlink(path) == 0)
			total -= v[first].bytes;
	}
	if (dropped)
		pr_warn("penstockd: alerts: the spool %s holds more than max_spool (%llu bytes): "
			"the oldest %llu alerts were dropped\n",
			s->cfg.spool_dir, (unsigned long long)s->cfg.max_spool,
			(unsigned long long)dropped);
	if (first < n)
		*oldest = v[first].seq;
	pthread_mutex_lock(&s->mu);
	s->dropped += dropped;
	s->batches = n - first;
	s->bytes = total;
	pthread_mutex_unlock(&s->mu);
	free(v);
	return n - first;
}

static size_t on_reply(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct sender *s = ctx;
	size_t n = size * nmemb, room = sizeof(s->reply) - 1 - s->reply_len;

	memcpy(s->reply + s->reply_len, data, n < room ? n : room);
	s->reply_len += n < room ? n : room;
	s->reply[s->reply_len] = 0;
	return n;
}

/* Called by curl during a transfer: non-zero aborts it (ps_alerts_close). */
static int on_progress(void *ctx, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
	struct sender *s = ctx;

	(void)dlt, (void)dln, (void)ult, (void)uln;
	return __atomic_load_n(&s->stop, __ATOMIC_RELAXED);
}

/* The receiver's answer for a message: printable, one line. */
static const char *reply_text(struct sender *s)
{
	size_t i;

	for (i = 0; i < s->reply_len; i++)
		if (s->reply[i] < ' ' || s->reply[i] > '~')
			s->reply[i] = ' ';
	return s->reply;
}

/* POST one sealed batch. 0: delivered (the file is gone), or -errno. */
static int post_batch(struct sender *s, uint64_t seq)
{
	char path[PS_ALERT_PATH_MAX + 64], *body = NULL;
	json_t *arr;
	long status = 0;
	size_t nalerts;
	CURLcode rc;
	int bad, err;

	batch_path(s->cfg.spool_dir, seq, path, sizeof(path));
	arr = batch_read(path, &bad, &err);
	if (!arr) {
		if (err == -ENOENT)
			return 0;	/* gone already */
		set_error(s, "cannot read %s: %s", path, strerror(-err));
		if (err == -EFBIG || err == -EISDIR) {
			/* Not a batch of ours: aside, out of the queue, for a person. */
			char aside[PS_ALERT_PATH_MAX + 80];

			snprintf(aside, sizeof(aside), "%s.unreadable", path);
			rename(path, aside);
			pr_warn("penstockd: alerts: %s is not a batch of alerts: moved to %s\n",
				path, aside);
		}
		return err;
	}
	if (bad)
		pr_warn("penstockd: alerts: %s: %d lines that are not alerts skipped\n", path, bad);
	nalerts = json_array_size(arr);
	if (!nalerts) {
		json_decref(arr);
		unlink(path);
		return 0;
	}
	body = json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(arr);
	if (!body) {
		set_error(s, "out of memory");
		return -ENOMEM;
	}
	s->reply_len = 0;
	s->reply[0] = 0;
	s->curl_err[0] = 0;
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	rc = curl_easy_perform(s->curl);
	free(body);
	if (rc != CURLE_OK) {
		set_error(s, "%s", s->curl_err[0] ? s->curl_err : curl_easy_strerror(rc));
		return -EIO;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		set_error(s, "HTTP %ld%s%s", status, s->reply_len ? ": " : "", reply_text(s));
		return -EPROTO;
	}
	if (unlink(path))
		pr_warn("penstockd: alerts: cannot remove %s (delivered): %s\n", path,
			strerror(errno));
	pthread_mutex_lock(&s->mu);
	s->delivered += nalerts;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	uint64_t backoff = 0, next_try = 0, oldest = 0, now;
	struct timespec ts;
	bool failing = false;
	int n, r;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		s->kick = false;
		pthread_mutex_unlock(&s->mu);
		n = spool_scan(s, &oldest);
		now = ps_mono_ms();
		if (n && now >= next_try) {
			r = post_batch(s, oldest);
			if (!r) {
				if (failing)
					pr_info("penstockd: alerts: webhook %s: delivering again\n",
						s->cfg.url);
				failing = false;
				backoff = next_try = 0;
				pthread_mutex_lock(&s->mu);
				s->failing_since = 0;
				s->last_error[0] = 0;
				continue;	/* the next batch at once */
			}
			backoff = backoff ? backoff * 2 : BACKOFF_FIRST_MS;
			if (backoff > s->cfg.max_backoff * 1000)
				backoff = s->cfg.max_backoff * 1000;
			next_try = ps_mono_ms() + backoff;
			pthread_mutex_lock(&s->mu);
			if (!failing && !s->stop)
				pr_warn("penstockd: alerts: webhook %s: %s; alerts wait in %s, "
					"retrying\n", s->cfg.url, s->last_error, s->cfg.spool_dir);
			else if (!s->stop)
				pr_debug("penstockd: alerts: webhook %s: %s; next try in %llu ms\n",
					 s->cfg.url, s->last_error, (unsigned long long)backoff);
			failing = true;
			pthread_mutex_unlock(&s->mu);
		}
		pthread_mutex_lock(&s->mu);
		if (s->stop || s->kick)
			continue;
		if (!n) {
			pthread_cond_wait(&s->cv, &s->mu);
		} else {
			ts.tv_sec = next_try / 1000;
			ts.tv_nsec = (next_try % 1000) * 1000000;
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void sender_kick(struct sender *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->kick = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void sender_free(struct sender *s)
{
	if (!s)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);
	curl_slist_free_all(s->headers);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static void sender_stop(struct sender *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	sender_free(s);
}

static struct sender *sender_start(const struct ps_alerts_webhook_cfg *cfg, char *err,
				   size_t errlen)
{
	struct sender *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int r;

	if (!s) {
		snprintf(err, errlen, "alerts.webhook: out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->curl = curl_easy_init();
	s->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* No "Expect: 100-continue" wait before a large body. */
	s->headers = s->headers ? curl_slist_append(s->headers, "Expect:") : NULL;
	if (!s->curl || !s->headers) {
		snprintf(err, errlen, "alerts.webhook: cannot set up libcurl");
		sender_free(s);
		return NULL;
	}
	curl_easy_setopt(s->curl, CURLOPT_URL, cfg->url);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "penstockd");
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)cfg->timeout * 1000);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);	/* a thread: no SIGALRM */
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->curl_err);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	r = pthread_create(&s->thread, NULL, sender_main, s);
	if (r) {
		snprintf(err, errlen, "alerts.webhook: cannot start the sender thread: %s",
			 strerror(r));
		sender_free(s);
		return NULL;
	}
	return s;
}

/* ---- the spool's open batch (the caller's thread) --------------------- */

struct spool {
	char dir[PS_ALERT_PATH_MAX];
	int dirfd;
	int lockfd;		/* SPOOL_LOCK, flock()ed: one process per spool */
	int fd;			/* the open batch, -1 none */
	uint64_t next_seq;	/* the number of the next sealed batch */
	int nalerts;		/* in the open batch */
	size_t bytes;
	bool failing;
};

/* Seal the open batch: synced, then renamed into the sender's queue. */
static int spool_seal(struct spool *sp)
{
	char name[SPOOL_DIGITS + sizeof(SPOOL_SUFFIX)];
	int r = 0;

	if (sp->fd < 0)
		return 0;
	if (fdatasync(sp->fd))
		r = -errno;
	close(sp->fd);
	sp->fd = -1;
	if (!sp->nalerts) {
		unlinkat(sp->dirfd, SPOOL_OPEN, 0);
		return r;
	}
	snprintf(name, sizeof(name), "%0*llu" SPOOL_SUFFIX, SPOOL_DIGITS,
		 (unsigned long long)sp->next_seq);
	if (renameat(sp->dirfd, SPOOL_OPEN, sp->dirfd, name)) {
		r = -errno;
		pr_warn("penstockd: alerts: cannot seal %s/" SPOOL_OPEN ": %s\n", sp->dir,
			strerror(errno));
		return r;
	}
	sp->next_seq++;
	sp->nalerts = 0;
	sp->bytes = 0;
	fsync(sp->dirfd);
	return r;
}

static void spool_close(struct spool *sp)
{
	if (sp->dirfd < 0)
		return;
	spool_seal(sp);
	close(sp->dirfd);
	sp->dirfd = -1;
	if (sp->lockfd >= 0)
		close(sp->lockfd);
	sp->lockfd = -1;
}

/*
 * Two processes on one spool would send its batches twice: the second
 * is refused. The lock goes with the process, however it ends.
 */
static int spool_lock(struct spool *sp, char *err, size_t errlen)
{
	sp->lockfd = openat(sp->dirfd, SPOOL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->lockfd < 0) {
		snprintf(err, errlen, "alerts.webhook: cannot create %s/" SPOOL_LOCK ": %s",
			 sp->dir, strerror(errno));
		return -errno;
	}
	if (flock(sp->lockfd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		if (e == EWOULDBLOCK)
			snprintf(err, errlen, "alerts.webhook: the spool %s is in use by another "
				 "process", sp->dir);
		else
			snprintf(err, errlen, "alerts.webhook: cannot lock %s/" SPOOL_LOCK ": %s",
				 sp->dir, strerror(e));
		close(sp->lockfd);
		sp->lockfd = -1;
		return -e;
	}
	return 0;
}

/*
 * Open the spool directory (created if need be), number after the
 * highest sealed batch, and seal what a crash left open.
 */
static int spool_open(struct spool *sp, const char *dir, char *err, size_t errlen)
{
	struct batch *v;
	struct stat st;
	int n, r;

	memset(sp, 0, sizeof(*sp));
	sp->fd = sp->dirfd = sp->lockfd = -1;
	snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
	r = ps_mkdir_p(dir, 0700);
	if (!r) {
		sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = sp->dirfd < 0 ? -errno : 0;
	}
	if (r) {
		snprintf(err, errlen, "alerts.webhook: cannot use the spool directory %s: %s", dir,
			 strerror(-r));
		return r;
	}
	r = spool_lock(sp, err, errlen);
	n = r ? r : spool_list(dir, &v);
	if (n < 0) {
		if (!r)
			snprintf(err, errlen, "alerts.webhook: cannot read the spool directory %s: %s",
				 dir, strerror(-n));
		spool_close(sp);
		return n;
	}
	sp->next_seq = n ? v[n - 1].seq + 1 : 1;
	free(v);
	if (fstatat(sp->dirfd, SPOOL_OPEN, &st, 0) == 0) {
		char last = '\n';

		sp->fd = openat(sp->dirfd, SPOOL_OPEN, O_RDWR | O_APPEND | O_CLOEXEC);
		sp->nalerts = st.st_size > 0;	/* some lines: sealed, whatever their number */
		/* A line cut short by the crash stays one bad line, apart from the next. */
		if (sp->fd >= 0 && st.st_size > 0 && pread(sp->fd, &last, 1, st.st_size - 1) == 1 &&
		    last != '\n')
			ps_write_all(sp->fd, "\n", 1);
		if (sp->nalerts)
			pr_info("penstockd: alerts: %s/" SPOOL_OPEN " left by a previous run: "
				"queued for the webhook\n", dir);
		spool_seal(sp);
	}
	return 0;
}

static void spool_append(struct spool *sp, const char *line, size_t len)
{
	int r;

	if (sp->fd < 0)
		sp->fd = openat(sp->dirfd, SPOOL_OPEN, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				0600);
	r = sp->fd < 0 ? -errno : ps_write_all(sp->fd, line, len);
	if (!r) {
		sp->nalerts++;
		sp->bytes += len;
	}
	if (r && !sp->failing)
		pr_warn("penstockd: alerts: cannot write to the spool %s: %s; the webhook "
			"misses alerts\n", sp->dir, strerror(-r));
	sp->failing = r != 0;
}

/* ---- the sinks together ---------------------------------------------- */

struct ring {
	json_t **doc;		/* ps_alert_json() of each, oldest at head */
	uint64_t *time_ms;
	size_t cap, head, n;
};

struct ps_alerts {
	struct ps_alerts_cfg cfg;
	struct jsonl jsonl;		/* fd -1: off */
	struct spool spool;		/* dirfd -1: no webhook */
	struct sender *sender;
	struct ring ring;
	char host[256];
};

static int curl_users;	/* curl_global_init() once, for every open ps_alerts */

static void ring_free(struct ring *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		json_decref(r->doc[(r->head + i) % r->cap]);
	free(r->doc);
	free(r->time_ms);
	memset(r, 0, sizeof(*r));
}

static void ring_push(struct ring *r, json_t *doc, uint64_t time_ms)
{
	size_t at;

	if (!r->cap) {
		json_decref(doc);
		return;
	}
	if (r->n == r->cap) {
		json_decref(r->doc[r->head]);
		r->head = (r->head + 1) % r->cap;
		r->n--;
	}
	at = (r->head + r->n) % r->cap;
	r->doc[at] = doc;
	r->time_ms[at] = time_ms;
	r->n++;
}

/* A ring of cap holding the newest of old's alerts. */
static int ring_resize(struct ring *r, size_t cap)
{
	struct ring nr = {};
	size_t i;

	if (cap == r->cap)
		return 0;
	if (cap) {
		nr.doc = calloc(cap, sizeof(*nr.doc));
		nr.time_ms = calloc(cap, sizeof(*nr.time_ms));
		if (!nr.doc || !nr.time_ms) {
			free(nr.doc);
			free(nr.time_ms);
			return -ENOMEM;
		}
	}
	nr.cap = cap;
	for (i = 0; i < r->n; i++) {
		size_t at = (r->head + i) % r->cap;

		ring_push(&nr, json_incref(r->doc[at]), r->time_ms[at]);
	}
	ring_free(r);
	*r = nr;
	return 0;
}

static bool same_webhook(const struct ps_alerts_webhook_cfg *a,
			 const struct ps_alerts_webhook_cfg *b)
{
	return !strcmp(a->url, b->url) && !strcmp(a->spool_dir, b->spool_dir) &&
	       a->timeout == b->timeout && a->max_spool == b->max_spool &&
	       a->max_backoff == b->max_backoff;
}

struct ps_alerts *ps_alerts_open(const struct ps_config *cfg, char *err, size_t errlen)
{
	struct ps_alerts *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(err, errlen, "alerts: out of memory");
		return NULL;
	}
	a->jsonl.fd = -1;
	a->spool.dirfd = a->spool.fd = a->spool.lockfd = -1;
	if (gethostname(a->host, sizeof(a->host) - 1))
		snprintf(a->host, sizeof(a->host), "localhost");
	if (!curl_users++ && curl_global_init(CURL_GLOBAL_DEFAULT)) {
		curl_users--;
		snprintf(err, errlen, "alerts: cannot initialize libcurl");
		free(a);
		return NULL;
	}
	if (ps_alerts_reconfigure(a, cfg, err, errlen)) {
		ps_alerts_close(a);
		return NULL;
	}
	return a;
}

int ps_alerts_reconfigure(struct ps_alerts *a, const struct ps_config *cfg, char *err,
			  size_t errlen)
{
	const struct ps_alerts_cfg *n = &cfg->alerts;
	struct jsonl nj = { .fd = -1 };
	struct spool nsp = { .fd = -1, .dirfd = -1, .lockfd = -1 };
	bool new_jsonl, new_webhook;
	int r;

	new_jsonl = strcmp(n->jsonl.path, a->jsonl.fd >= 0 ? a->jsonl.cfg.path : "");
	new_webhook = !same_webhook(&n->webhook, &a->cfg.webhook) ||
		      (n->webhook.url[0] && !a->sender);
	/* What may fail first, while the running sinks stay as they are. */
	if (new_jsonl && n->jsonl.path[0]) {
		r = jsonl_open(&nj, &n->jsonl, err, errlen);
		if (r)
			return r;
	}
	if (new_webhook && n->webhook.url[0] && strcmp(n->webhook.spool_dir, a->spool.dir)) {
		r = spool_open(&nsp, n->webhook.spool_dir, err, errlen);
		if (r) {
			jsonl_close(&nj);
			return r;
		}
	}
	r = ring_resize(&a->ring, n->keep_in_memory);
	if (r) {
		snprintf(err, errlen, "alerts: out of memory for keep_in_memory %d",
			 n->keep_in_memory);
		jsonl_close(&nj);
		spool_close(&nsp);
		return r;
	}

	if (new_jsonl) {
		jsonl_close(&a->jsonl);
		a->jsonl = nj;
	} else {
		/* Same file: new rotation settings apply from the next line. */
		a->jsonl.cfg = n->jsonl;
	}
	if (new_webhook) {
		/* One sender per spool: the old one stops before another starts. */
		sender_stop(a->sender);
		a->sender = NULL;
		if (nsp.dirfd >= 0 || !n->webhook.url[0]) {
			spool_close(&a->spool);
			if (!n->webhook.url[0])
				memset(a->spool.dir, 0, sizeof(a->spool.dir));
		}
		if (nsp.dirfd >= 0)
			a->spool = nsp;
		if (n->webhook.url[0]) {
			a->sender = sender_start(&n->webhook, err, errlen);
			if (!a->sender) {
				pr_warn("penstockd: %s: alerts stay in %s\n", err, a->spool.dir);
				a->cfg = *n;
				return -EAGAIN;
			}
		}
	}
	a->cfg = *n;
	return 0;
}

void ps_alerts_emit(struct ps_alerts *a, const struct ps_alert *al)
{
	json_t *doc, *am;
	char *line;
	char ev[160], score[32] = "-";

	if (!a || !al)
		return;
	doc = ps_alert_json(al);
	if (!doc) {
		pr_warn("penstockd: alerts: out of memory, an alert of %.32s is lost\n",
			al->detector);
		return;
	}
	if (a->cfg.to_stderr) {
		if (isfinite(al->score))
			snprintf(score, sizeof(score), "%.4g", al->score);
		pr_warn("penstockd: alert: %s on %s %s, score %s, action %s: %s\n",
			json_string_value(json_object_get(doc, "detector")),
			json_string_value(json_object_get(doc, "kind")),
			json_string_value(json_object_get(doc, "subject")), score,
			json_string_value(json_object_get(doc, "action")),
			ps_alert_evidence_str(json_object_get(doc, "evidence"), ev, sizeof(ev)));
	}
	if (a->jsonl.fd >= 0 || a->cfg.jsonl.path[0]) {
		line = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
		if (line) {
			size_t len = strlen(line);

			line[len] = '\n';	/* over the NUL: written by length */
			jsonl_write(&a->jsonl, line, len + 1);
		}
		free(line);
	}
	if (a->spool.dirfd >= 0) {
		am = ps_alert_am_json(al, a->host);
		line = am ? json_dumps(am, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
		json_decref(am);
		if (line) {
			size_t len = strlen(line);

			line[len] = '\n';
			spool_append(&a->spool, line, len + 1);
		} else {
			pr_warn("penstockd: alerts: out of memory, the webhook misses an alert\n");
		}
		free(line);
		if (a->spool.nalerts >= BATCH_MAX_ALERTS || a->spool.bytes >= BATCH_MAX_BYTES) {
			spool_seal(&a->spool);
			sender_kick(a->sender);
		}
	}
	ring_push(&a->ring, doc, al->time_ms);
}

void ps_alerts_tick(struct ps_alerts *a, uint64_t now_ms)
{
	(void)now_ms;
	if (!a)
		return;
	jsonl_sync(&a->jsonl);
	if (a->spool.fd >= 0) {
		spool_seal(&a->spool);
		sender_kick(a->sender);
	}
}

json_t *ps_alerts_list(struct ps_alerts *a, uint64_t since_ms)
{
	json_t *o = json_object(), *arr = json_array(), *wh;
	char ts[40];
	size_t i;

	if (!o || !arr) {
		json_decref(o);
		json_decref(arr);
		return NULL;
	}
	for (i = 0; a && i < a->ring.n; i++) {
		size_t at = (a->ring.head + i) % a->ring.cap;

		if (a->ring.time_ms[at] >= since_ms)
			json_array_append(arr, a->ring.doc[at]);
	}
	json_object_set_new(o, "alerts", arr);
	if (a && a->sender) {
		struct sender *s = a->sender;

		pthread_mutex_lock(&s->mu);
		wh = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s?, s:s?}", "url", s->cfg.url,
			       "spool_dir", s->cfg.spool_dir, "spooled_batches",
			       (json_int_t)s->batches, "spooled_bytes", (json_int_t)s->bytes,
			       "delivered", (json_int_t)s->delivered, "dropped",
			       (json_int_t)s->dropped, "last_error",
			       s->last_error[0] ? s->last_error : NULL, "failing_since",
			       s->failing_since ? rfc3339_ms(s->failing_since, ts, sizeof(ts)) : NULL);
		pthread_mutex_unlock(&s->mu);
		json_object_set_new(o, "webhook", wh);
	}
	return o;
}

void ps_alerts_close(struct ps_alerts *a)
{
	if (!a)
		return;
	/* Sealed first, so that the next start finds the batch whole. */
	spool_close(&a->spool);
	sender_stop(a->sender);
	jsonl_close(&a->jsonl);
	ring_free(&a->ring);
	if (!--curl_users)
		curl_global_cleanup();
	free(a);
}
