// SPDX-License-Identifier: GPL-2.0-only
/*
 * The /metrics server (metrics.h): libmicrohttpd with a polling thread of
 * its own (epoll), on a socket bound by the caller's thread. It answers
 * GET and HEAD of /metrics with the text last published, a small page at
 * /, 404 elsewhere and 405 for other methods. Texts are reference
 * counted: a scrape holds the text it answers with until libmicrohttpd is
 * done sending it, while the loop may already have put a newer one in
 * force.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "common/caps.h"
#include "common/units.h"
#include "metrics/expo.h"
#include "metrics/metrics.h"

/* At most this many scrapes at once, each done in this many seconds. */
#define MAX_CONNS	16
#define CONN_TIMEOUT_S	10

struct text {
	atomic_int ref;
	size_t len;
	char *buf;
};

struct ps_metrics {
	char listen[80];
	int fd;
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock;	/* cur only */
	struct text *cur;
	atomic_ullong scrapes;
};

static const char index_page[] =
	"<html><head><title>penstockd</title></head><body>"
	"<h1>penstockd</h1><p><a href=\"/metrics\">metrics</a></p></body></html>\n";

static void text_unref(void *cls)
{
	struct text *t = cls;

	if (t && atomic_fetch_sub(&t->ref, 1) == 1) {
		free(t->buf);
		free(t);
	}
}

static struct text *text_get(struct ps_metrics *m)
{
	struct text *t;

	pthread_mutex_lock(&m->lock);
	t = m->cur;
	if (t)
		atomic_fetch_add(&t->ref, 1);
	pthread_mutex_unlock(&m->lock);
	return t;
}

static enum MHD_Result answer_static(struct MHD_Connection *c, unsigned int code,
				     const char *type, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct ps_metrics *m = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	struct text *t;

	(void)version;
	(void)upload;
	/* The first call is for the headers alone; a body is never read. */
	if (!*con_cls) {
		*con_cls = m;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return answer_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				     "only GET and HEAD\n");
	if (!strcmp(url, "/"))
		return answer_static(c, MHD_HTTP_OK, "text/html", index_page);
	if (strcmp(url, "/metrics"))
		return answer_static(c, MHD_HTTP_NOT_FOUND, "text/plain",
				     "not found: the metrics are at /metrics\n");
	t = text_get(m);
	if (!t)
		return answer_static(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
				     "no metrics yet\n");
	r = MHD_create_response_from_buffer_with_free_callback_cls(t->len, t->buf, text_unref, t);
	if (!r) {
		text_unref(t);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, PS_EXPO_CONTENT_TYPE);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	atomic_fetch_add(&m->scrapes, 1);
	return ret;
}

struct ps_metrics *ps_metrics_bind(const char *listen_at, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned int sl;
	struct ps_metrics *m;
	char why[128];
	int one = 1;

	if (ps_parse_listen(listen_at, &ss, sizeof(ss), &sl, why, sizeof(why))) {
		snprintf(err, errlen, "metrics.listen: '%s' %s", listen_at, why);
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	snprintf(m->listen, sizeof(m->listen), "%s", listen_at);
	pthread_mutex_init(&m->lock, NULL);
	m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(m->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(m->fd, (struct sockaddr *)&ss, sl) || listen(m->fd, 64)) {
		int e = errno;

		snprintf(err, errlen, "metrics: cannot listen on %s: %s", listen_at, strerror(e));
		ps_metrics_close(m);
		errno = e;
		return NULL;
	}
	return m;
}

struct start {
	struct ps_metrics *m;	/* a server to start, or ... */
	void *(*fn)(void *);	/* ... a thread to make: pthread_create(th, NULL, fn, arg) */
	void *arg;
	pthread_t *th;
	char err[256];
	int ret;
	bool done;
};

/*
 * The metrics' starter: a thread made before penstockd drops its
 * privileges, which drops every capability of its own (the bounding set
 * too: it still may), then starts the servers' threads when asked, at
 * start and at reloads. A thread inherits its creator's capabilities, so
 * every server thread holds none.
 */
static struct {
	pthread_t th;
	bool running, quit;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct start *req;
} starter = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void launch(struct start *s)
{
	struct ps_metrics *m = s->m;
	sigset_t all, old;

	if (s->fn) {
		/* Made with every signal blocked: they stay the loop's. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		s->ret = -pthread_create(s->th, NULL, s->fn, s->arg);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (s->ret)
			snprintf(s->err, sizeof(s->err), "cannot start a thread: %s",
				 strerror(-s->ret));
		return;
	}
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				  NULL, handle, m, MHD_OPTION_LISTEN_SOCKET, m->fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!m->mhd) {
		snprintf(s->err, sizeof(s->err), "libmicrohttpd did not start");
		s->ret = -EIO;
	}
}

static void *starter_main(void *arg)
{
	struct start *init = arg, *s;
	int r;

	r = ps_caps_limit(NULL, 0, init->err, sizeof(init->err));
	pthread_mutex_lock(&starter.lock);
	init->ret = r;
	init->done = true;
	pthread_cond_broadcast(&starter.cond);
	while (!r) {
		while (!starter.req && !starter.quit)
			pthread_cond_wait(&starter.cond, &starter.lock);
		if (starter.quit)
			break;
		s = starter.req;
		pthread_mutex_unlock(&starter.lock);
		launch(s);
		pthread_mutex_lock(&starter.lock);
		starter.req = NULL;
		s->done = true;
		pthread_cond_broadcast(&starter.cond);
	}
	pthread_mutex_unlock(&starter.lock);
	return NULL;
}

int ps_metrics_starter(char *err, size_t errlen)
{
	struct start init = {};
	int r;

	if (starter.running)
		return 0;
	starter.quit = false;
	r = pthread_create(&starter.th, NULL, starter_main, &init);
	if (r) {
		snprintf(err, errlen, "metrics: cannot start a thread: %s", strerror(r));
		return -r;
	}
	pthread_mutex_lock(&starter.lock);
	while (!init.done)
		pthread_cond_wait(&starter.cond, &starter.lock);
	pthread_mutex_unlock(&starter.lock);
	if (init.ret) {
		pthread_join(starter.th, NULL);
		snprintf(err, errlen, "metrics: %s", init.err);
		return init.ret;
	}
	starter.running = true;
	return 0;
}

void ps_metrics_starter_stop(void)
{
	if (!starter.running)
		return;
	pthread_mutex_lock(&starter.lock);
	starter.quit = true;
	pthread_cond_broadcast(&starter.cond);
	pthread_mutex_unlock(&starter.lock);
	pthread_join(starter.th, NULL);
	starter.running = false;
}

/* Have the starter run s (launch()); false without a starter. */
static bool starter_call(struct start *s)
{
	if (!starter.running)
		return false;
	pthread_mutex_lock(&starter.lock);
	while (starter.req)
		pthread_cond_wait(&starter.cond, &starter.lock);
	starter.req = s;
	pthread_cond_broadcast(&starter.cond);
	while (!s->done)
		pthread_cond_wait(&starter.cond, &starter.lock);
	pthread_mutex_unlock(&starter.lock);
	return true;
}

int ps_metrics_spawn(pthread_t *th, void *(*fn)(void *), void *arg)
{
	struct start s = { .fn = fn, .arg = arg, .th = th };

	if (starter_call(&s))
		return s.ret;
	return -pthread_create(th, NULL, fn, arg);
}

/* Without the starter: a thread of its own that drops what it can first. */
static void *start_once(void *arg)
{
	struct start *s = arg;

	s->ret = ps_caps_limit(NULL, 0, s->err, sizeof(s->err));
	if (!s->ret)
		launch(s);
	return NULL;
}

int ps_metrics_serve(struct ps_metrics *m, char *err, size_t errlen)
{
	struct start s = { .m = m };
	pthread_t th;
	int r;

	if (!starter_call(&s)) {
		r = pthread_create(&th, NULL, start_once, &s);
		if (r) {
			snprintf(err, errlen, "metrics: cannot start a thread: %s", strerror(r));
			return -r;
		}
		pthread_join(th, NULL);
	}
	if (s.ret)
		snprintf(err, errlen, "metrics: %s", s.err);
	return s.ret;
}

void ps_metrics_publish(struct ps_metrics *m, char *buf, size_t len)
{
	struct text *t = malloc(sizeof(*t)), *old;

	if (!t) {
		free(buf);
		return;
	}
	atomic_init(&t->ref, 1);
	t->buf = buf;
	t->len = len;
	pthread_mutex_lock(&m->lock);
	old = m->cur;
	m->cur = t;
	pthread_mutex_unlock(&m->lock);
	text_unref(old);
}

bool ps_metrics_has_text(struct ps_metrics *m)
{
	bool has;

	pthread_mutex_lock(&m->lock);
	has = m->cur != NULL;
	pthread_mutex_unlock(&m->lock);
	return has;
}

const char *ps_metrics_listen(const struct ps_metrics *m)
{
	return m->listen;
}

unsigned long long ps_metrics_scrapes(const struct ps_metrics *m)
{
	return atomic_load(&((struct ps_metrics *)m)->scrapes);
}

void ps_metrics_close(struct ps_metrics *m)
{
	if (!m)
		return;
	/* libmicrohttpd closes the listening socket it was given. */
	if (m->mhd)
		MHD_stop_daemon(m->mhd);
	else if (m->fd >= 0)
		close(m->fd);
	text_unref(m->cur);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
