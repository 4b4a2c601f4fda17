// SPDX-License-Identifier: GPL-2.0-only
/*
 * The webhook's sender is a thread of its own (the daemon's loop never
 * waits on HTTP): it takes the sealed batch with the lowest number,
 * POSTs its alerts as one JSON array and unlinks the file on a 2xx answer
 * only. Anything else (no connection, a timeout, any other status) is
 * retried, the same batch first so that alerts arrive in the order they
 * were emitted, after 1 s, 2 s, 4 s ... up to max_backoff. A batch
 * delivered just before a crash, and not yet unlinked, is sent again:
 * delivery is at least once (Alertmanager merges identical alerts). When
 * the sealed batches outgrow max_spool, the oldest are dropped, with a
 * warning.
 *
 * Threads: the sender reads and unlinks sealed batches; everything else
 * is the caller's thread's. They share only struct ps_webhook's counters,
 * under its mutex.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alerts/spool.h"
#include "alerts/webhook.h"
#include "common/caps.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/units.h"

/* A sealed batch larger than this is not one of ours: set aside, not sent. */
#define BATCH_READ_MAX		(16 << 20)
#define BACKOFF_FIRST_MS	1000
#define ERR_TEXT_MAX		256

struct ps_webhook {
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
	/* What ps_webhook_json() shows, under mu. */
	uint64_t delivered, dropped;	/* alerts since the sender started */
	uint64_t batches, bytes;	/* sealed batches in the spool at the last look */
	uint64_t failing_since;		/* wall ms of the first failure in a row, 0 */
	char last_error[ERR_TEXT_MAX];
};

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

static void set_error(struct ps_webhook *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct ps_webhook *s, const char *fmt, ...)
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
static int spool_scan(struct ps_webhook *s, uint64_t *oldest)
{
	char path[PS_ALERT_PATH_MAX + 64];
	uint64_t total = 0, dropped = 0;
	struct ps_batch *v;
	int n, i, first = 0;

	n = ps_spool_list(s->cfg.spool_dir, &v);
	if (n < 0) {
		set_error(s, "cannot read the spool %s: %s", s->cfg.spool_dir, strerror(-n));
		return 0;
	}
	for (i = 0; i < n; i++)
		total += v[i].bytes;
	for (; first < n && total > s->cfg.max_spool; first++) {
		ps_batch_path(s->cfg.spool_dir, v[first].seq, path, sizeof(path));
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
	struct ps_webhook *s = ctx;
	size_t n = size * nmemb, room = sizeof(s->reply) - 1 - s->reply_len;

	memcpy(s->reply + s->reply_len, data, n < room ? n : room);
	s->reply_len += n < room ? n : room;
	s->reply[s->reply_len] = 0;
	return n;
}

/* Called by curl during a transfer: non-zero aborts it (ps_alerts_close). */
static int on_progress(void *ctx, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
	struct ps_webhook *s = ctx;

	(void)dlt, (void)dln, (void)ult, (void)uln;
	return __atomic_load_n(&s->stop, __ATOMIC_RELAXED);
}

/* The receiver's answer for a message: printable, one line. */
static const char *reply_text(struct ps_webhook *s)
{
	size_t i;

	for (i = 0; i < s->reply_len; i++)
		if (s->reply[i] < ' ' || s->reply[i] > '~')
			s->reply[i] = ' ';
	return s->reply;
}

/* POST one sealed batch. 0: delivered (the file is gone), or -errno. */
static int post_batch(struct ps_webhook *s, uint64_t seq)
{
	char path[PS_ALERT_PATH_MAX + 64], *body = NULL;
	json_t *arr;
	long status = 0;
	size_t nalerts;
	CURLcode rc;
	int bad, err;

	ps_batch_path(s->cfg.spool_dir, seq, path, sizeof(path));
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
	struct ps_webhook *s = arg;
	uint64_t backoff = 0, next_try = 0, oldest = 0, now;
	struct timespec ts;
	bool failing = false;
	char err[256];
	int n, r;

	/* HTTP and the spool's files need no privilege: none is kept (made by
	 * penstockd's spawner, it holds none already: this is for the others). */
	if (ps_caps_limit(NULL, 0, err, sizeof(err)))
		pr_warn("penstockd: alerts: webhook sender: %s\n", err);
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

void ps_webhook_kick(struct ps_webhook *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->kick = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void sender_free(struct ps_webhook *s)
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

void ps_webhook_stop(struct ps_webhook *s)
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

static int (*spawner)(pthread_t *th, void *(*fn)(void *), void *arg);

void ps_webhook_spawner(int (*spawn)(pthread_t *th, void *(*fn)(void *), void *arg))
{
	spawner = spawn;
}

struct ps_webhook *ps_webhook_start(const struct ps_alerts_webhook_cfg *cfg, char *err,
				    size_t errlen)
{
	struct ps_webhook *s = calloc(1, sizeof(*s));
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
	r = spawner ? -spawner(&s->thread, sender_main, s) :
		      pthread_create(&s->thread, NULL, sender_main, s);
	if (r) {
		snprintf(err, errlen, "alerts.webhook: cannot start the sender thread: %s",
			 strerror(r));
		sender_free(s);
		return NULL;
	}
	pthread_setname_np(s->thread, "ps-webhook");
	return s;
}

static int curl_users;	/* curl_global_init() once, for every user */

int ps_webhook_global_init(void)
{
	if (!curl_users++ && curl_global_init(CURL_GLOBAL_DEFAULT)) {
		curl_users--;
		return -EIO;
	}
	return 0;
}

void ps_webhook_global_cleanup(void)
{
	if (!--curl_users)
		curl_global_cleanup();
}

json_t *ps_webhook_json(struct ps_webhook *s)
{
	char ts[40];
	json_t *wh;

	pthread_mutex_lock(&s->mu);
	wh = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s?, s:s?}", "url", s->cfg.url,
		       "spool_dir", s->cfg.spool_dir, "spooled_batches",
		       (json_int_t)s->batches, "spooled_bytes", (json_int_t)s->bytes,
		       "delivered", (json_int_t)s->delivered, "dropped",
		       (json_int_t)s->dropped, "last_error",
		       s->last_error[0] ? s->last_error : NULL, "failing_since",
		       s->failing_since ? ps_rfc3339_ms(s->failing_since, ts, sizeof(ts)) : NULL);
	pthread_mutex_unlock(&s->mu);
	return wh;
}
