// SPDX-License-Identifier: GPL-2.0-only
/*
 * The client side of penstockd's control socket (common/protocol.h). One
 * connection per exchange: write one JSON object and a newline, read the
 * answer to EOF, parse it with jansson. Failures become one line for a
 * person, never a bare errno.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/ctl.h"


/* An answer larger than this is not penstockd's (a million clients of
 * every window is well under it). */
#define PS_CTL_MAX_ANSWER	(1UL << 31)

const char *ps_ctl_socket_path(const char *opt)
{
	const char *env;

	if (opt)
		return opt;
	env = getenv(PS_SOCKET_ENV);
	return env && *env ? env : PS_CONTROL_SOCKET;
}

static void connect_error(int err, const char *path, char *buf, size_t len)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		snprintf(buf, len, "penstockd is not running (no control socket at %s)", path);
		break;
	case ECONNREFUSED:
		snprintf(buf, len, "penstockd is not running (%s is left from a daemon that stopped)",
			 path);
		break;
	case EACCES:
	case EPERM:
		snprintf(buf, len,
			 "permission denied on %s: reading is for root and the socket's group, "
			 "changes for root",
			 path);
		break;
	case EAGAIN:
	case EINPROGRESS:
	case ETIMEDOUT:
		/* A Unix socket's connect waits, up to the send timeout, for
		 * room in a full accept queue. */
		snprintf(buf, len, "penstockd did not answer within %d s", PS_CTL_TIMEOUT_S);
		break;
	default:
		snprintf(buf, len, "cannot connect to penstockd at %s: %s", path, strerror(err));
	}
}

static int ctl_connect(const char *path, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = PS_CTL_TIMEOUT_S };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path too long (at most %zu bytes): %s",
			 sizeof(sun.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot create a Unix socket: %s", strerror(e));
		return -e;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		e = errno;
		snprintf(err, errlen, "cannot set the socket's timeouts: %s", strerror(e));
		close(fd);
		return -e;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		e = errno;
		if (e == EINTR)
			continue;
		connect_error(e, path, err, errlen);
		close(fd);
		return -e;
	}
	return fd;
}

/*
 * A send (sending) or a recv that failed with e, in words for a person
 * in err. Returns -e.
 */
static int io_error(int e, bool sending, char *err, size_t errlen)
{
	if (e == EAGAIN || e == EWOULDBLOCK)
		snprintf(err, errlen, "penstockd did not answer within %d s", PS_CTL_TIMEOUT_S);
	else if (sending && (e == EPIPE || e == ECONNRESET))
		snprintf(err, errlen, "penstockd closed the connection before reading the request");
	else if (e == ECONNRESET)
		snprintf(err, errlen, "penstockd closed the connection without answering");
	else if (sending)
		snprintf(err, errlen, "cannot send the request to penstockd: %s", strerror(e));
	else
		snprintf(err, errlen, "cannot read penstockd's answer: %s", strerror(e));
	return -e;
}

static int send_all(int fd, const char *buf, size_t len, char *err, size_t errlen)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return io_error(errno, true, err, errlen);
		buf += n;
		len -= n;
	}
	return 0;
}

/* Read to EOF into a malloc'ed buffer. */
static int recv_all(int fd, char **out, size_t *outlen, char *err, size_t errlen)
{
	size_t len = 0, cap = 64 * 1024;
	char *buf = malloc(cap), *nbuf;
	ssize_t n;

	if (!buf)
		goto nomem;
	for (;;) {
		if (len == cap) {
			if (cap >= PS_CTL_MAX_ANSWER) {
				snprintf(err, errlen, "penstockd's answer is larger than %lu bytes",
					 PS_CTL_MAX_ANSWER);
				free(buf);
				return -EFBIG;
			}
			nbuf = realloc(buf, cap * 2);
			if (!nbuf)
				goto nomem;
			buf = nbuf;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			return io_error(e, false, err, errlen);
		}
		len += n;
	}
	*out = buf;
	*outlen = len;
	return 0;
nomem:
	free(buf);
	snprintf(err, errlen, "out of memory reading penstockd's answer");
	return -ENOMEM;
}

json_t *ps_ctl_request(const char *socket_path, json_t *req, char *err, size_t errlen)
{
	char *text = NULL, *answer = NULL;
	json_t *doc = NULL;
	json_error_t jerr;
	size_t len = 0;
	int fd, e = EPROTO;

	text = json_dumps(req, JSON_COMPACT);
	if (!text) {
		snprintf(err, errlen, "cannot encode the request");
		errno = ENOMEM;
		return NULL;
	}
	fd = ctl_connect(socket_path, err, errlen);
	if (fd < 0) {
		e = -fd;
		goto cleanup;
	}
	e = -send_all(fd, text, strlen(text), err, errlen);
	if (!e)
		e = -send_all(fd, "\n", 1, err, errlen);
	if (e)
		goto cleanup;
	/* Nothing more from us: a daemon reading to EOF sees it at once. */
	shutdown(fd, SHUT_WR);
	e = -recv_all(fd, &answer, &len, err, errlen);
	if (e)
		goto cleanup;
	e = EPROTO;
	if (!len) {
		snprintf(err, errlen, "penstockd closed the connection without answering");
		goto cleanup;
	}
	doc = json_loadb(answer, len, 0, &jerr);
	if (!doc) {
		snprintf(err, errlen, "penstockd's answer is not valid JSON (byte %d): %s",
			 jerr.position, jerr.text);
	} else if (!json_is_object(doc)) {
		snprintf(err, errlen, "penstockd's answer is not a JSON object");
		json_decref(doc);
		doc = NULL;
	}
cleanup:
	if (fd >= 0)
		close(fd);
	free(answer);
	free(text);
	if (!doc)
		errno = e;
	return doc;
}

json_t *ps_ctl_call(const char *cmd, const char *socket_path, json_t *req, int *status)
{
	char err[PATH_MAX + 256];
	json_t *ans, *ok;
	const char *msg;

	if (status)
		*status = PS_EXIT_FAIL;
	if (!req) {
		fprintf(stderr, "penstock %s: out of memory\n", cmd);
		return NULL;
	}
	ans = ps_ctl_request(socket_path, req, err, sizeof(err));
	json_decref(req);
	if (!ans) {
		if (status && (errno == EACCES || errno == EPERM))
			*status = PS_EXIT_DENIED;	/* the socket's mode */
		fprintf(stderr, "penstock %s: %s\n", cmd, err);
		return NULL;
	}
	ok = json_object_get(ans, "ok");
	if (json_is_true(ok)) {
		if (status)
			*status = PS_EXIT_OK;
		return ans;
	}
	if (status && json_is_true(json_object_get(ans, "denied")))
		*status = PS_EXIT_DENIED;	/* the peer's credentials */
	msg = json_string_value(json_object_get(ans, "error"));
	if (!msg)
		msg = ok ? "penstockd refused the request (and gave no reason)"
			 : "penstockd's answer has no \"ok\" member";
	fprintf(stderr, "penstock %s: %s\n", cmd, msg);
	json_decref(ans);
	return NULL;
}

int ps_ctl_print_json(FILE *f, json_t *answer)
{
	json_object_del(answer, "ok");
	if (json_dumpf(answer, f, JSON_COMPACT) < 0 || fputc('\n', f) == EOF)
		return -EIO;
	return 0;
}

int ps_ctl_answer_json(const char *cmd, json_t *ans)
{
	int ret = PS_EXIT_OK;

	if (ps_ctl_print_json(stdout, ans)) {
		fprintf(stderr, "penstock %s: cannot write the answer\n", cmd);
		ret = PS_EXIT_FAIL;
	}
	json_decref(ans);
	return ret;
}

json_t *ps_ctl_ask(const char *cmd, const struct ps_opts_common *o, json_t *req, int *ret)
{
	json_t *ans = ps_ctl_call(cmd, ps_ctl_socket_path(o->socket), req, ret);

	if (ans && o->json) {
		*ret = ps_ctl_answer_json(cmd, ans);
		return NULL;
	}
	return ans;
}

int ps_ctl_show(const struct ps_cmd_opts *c, int argc, char **argv, enum ps_cmd cmd,
		int (*print)(json_t *ans))
{
	struct ps_opts_common o = {};
	int ret = ps_opts_parse(c, argc, argv, &o);
	json_t *ans;

	if (ret >= 0)
		return ret;
	ans = ps_ctl_ask(c->cmd, &o, ps_request(cmd), &ret);
	if (!ans)
		return ret;
	return ps_ctl_done(c->cmd, ans, print(ans));
}

int ps_ctl_done(const char *cmd, json_t *ans, int err)
{
	json_decref(ans);
	if (!err)
		return PS_EXIT_OK;
	fprintf(stderr, "penstock %s: out of memory\n", cmd);
	return PS_EXIT_FAIL;
}

json_t *ps_clients_request(const char *window, const char *sort, long long limit)
{
	json_t *req = ps_request(PS_CMD_CLIENTS);

	req = ps_request_set(req, PS_ARG_WINDOW, json_string(window));
	req = ps_request_set(req, PS_ARG_SORT, json_string(sort));
	return ps_request_set(req, PS_ARG_LIMIT, json_integer(limit));
}
