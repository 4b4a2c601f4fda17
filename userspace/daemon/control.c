// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control socket's server. A connection goes through three states:
 * reading its request (up to the newline, or EOF), waiting (complete, while
 * too many answers wait to be read), writing its answer; then it is
 * closed. Nothing blocks: every socket is non-blocking, each connection
 * has its own buffers, and a batch of work per call leaves the loop free
 * for the tick. Deadlines are checked every tick.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/files.h"
#include "common/log.h"
#include "daemon/control.h"

#define ACCEPT_BATCH	64	/* connections accepted per call */
#define EVENT_BATCH	64	/* connections served per call */
#define IN_FIRST	512	/* a request buffer's first size */
/* Answers written but not yet read, in all: past this, complete requests
 * wait (their handlers run later), so memory follows what clients read. */
#define OUT_PENDING_MAX	(256u << 20)

enum conn_state {
	CONN_READING,
	CONN_WAITING,
	CONN_WRITING,
};

struct ps_conn {
	struct ps_conn *prev, *next;
	int fd;
	enum conn_state state;
	bool other;		/* not root: counted in nconns_other */
	bool may_read;		/* root, or in the socket's group */
	bool may_change;	/* root */
	uint64_t deadline_ms;	/* CLOCK_MONOTONIC */
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off;
};

/* ---- the socket ---- */

/* Room for the connections: the soft limit on descriptors up to the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= PS_CTL_MAX_CONNS + 256)
		return;
	rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* Mode 0660 and the group, when it exists; 0600 (root only) when not. */
static int set_owner(struct ps_control *c, const char *group, bool required)
{
	struct group gr, *res = NULL;
	char buf[4096];
	int r;

	c->has_group = false;
	r = getgrnam_r(group, &gr, buf, sizeof(buf), &res);
	if (!res) {
		if (required) {
			pr_warn("penstockd: --socket-group: no group '%s'%s%s\n", group,
				r ? ": " : "", r ? strerror(r) : "");
			return -ENOENT;
		}
		pr_info("penstockd: no group '%s': the control socket %s is for root only (mode "
			"0600)\n", group, c->path);
		return chmod(c->path, 0600) ? -errno : 0;
	}
	if (chown(c->path, -1, gr.gr_gid) || chmod(c->path, 0660)) {
		r = -errno;
		pr_warn("penstockd: control socket %s: group '%s': %s\n", c->path, group,
			strerror(errno));
		return r;
	}
	c->gid = gr.gr_gid;
	c->has_group = true;
	snprintf(c->group, sizeof(c->group), "%s", group);
	return 0;
}

int ps_control_listen(struct ps_control *c, const char *path, const char *group, bool required)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	char dir[sizeof(sa.sun_path)];
	mode_t umask_was;
	int fd, err;

	memset(c, 0, sizeof(*c));
	c->fd = c->epfd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		pr_warn("penstockd: control socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	err = ps_mkdir_p(dirname(dir), 0755);
	if (err) {
		pr_warn("penstockd: cannot create the directory of %s: %s\n", path, strerror(-err));
		return err;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Another daemon answering on it? Then it is not ours to replace. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		pr_warn("penstockd: another penstockd answers on %s\n", path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	/* Born 0600: nobody but root connects before its mode is set. */
	umask_was = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(umask_was);
	if (!err)
		err = listen(fd, SOMAXCONN) ? -errno : 0;
	if (err) {
		pr_warn("penstockd: control socket %s: %s\n", path, strerror(-err));
		close(fd);
		unlink(path);
		return err;
	}
	c->fd = fd;
	err = set_owner(c, group, required);
	if (!err) {
		c->epfd = epoll_create1(EPOLL_CLOEXEC);
		ev.data.ptr = c;
		if (c->epfd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev))
			err = -errno;
	}
	if (err) {
		ps_control_close(c);
		return err;
	}
	raise_nofile();
	return 0;
}

/* ---- connections ---- */

static void conn_close(struct ps_control *c, struct ps_conn *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		c->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	/* Out of the epoll set first: close() alone leaves it there while a
	 * child forked meanwhile (the state saver) holds the socket too, and
	 * its events would name this connection after it is freed. */
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	c->nconns--;
	if (k->other)
		c->nconns_other--;
	c->out_pending -= k->out_len - k->out_off;
	free(k->in);
	free(k->out);
	free(k);
	if (c->paused) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (!epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev))
			c->paused = false;
	}
}

static void conn_watch(struct ps_control *c, struct ps_conn *k, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = k };

	epoll_ctl(c->epfd, EPOLL_CTL_MOD, k->fd, &ev);
}

/* Write what the peer will take of the answer; close once it is all out. */
static void conn_flush(struct ps_control *c, struct ps_conn *k)
{
	while (k->out_off < k->out_len) {
		ssize_t n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_watch(c, k, EPOLLOUT);
			return;
		}
		if (n <= 0) {
			conn_close(c, k);	/* the peer went away */
			return;
		}
		k->out_off += n;
		c->out_pending -= n;
		/* A reader that makes progress has the time it needs. */
		k->deadline_ms = ps_mono_ms() + PS_CTL_DEADLINE_S * 1000;
	}
	c->st.answered++;
	conn_close(c, k);
}

/* {"ok":false,"error":...} to a peer that gets nothing more: what goes at once. */
static void say_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say_line(int fd, const char *fmt, ...)
{
	char msg[256], *text;
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (text) {
		size_t len = strlen(text);

		text[len] = '\n';	/* over the NUL: send() takes a length */
		if (send(fd, text, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			pr_debug("penstockd: control: %s: %s\n", msg, strerror(errno));
	}
	free(text);
	json_decref(o);
}

/* {"ok":false,"denied":true,"error":...}: the peer may not send cmd. */
static void denied(const struct ps_control *c, int cmd, FILE *out)
{
	char who[128] = "root";
	json_t *o;
	char msg[512];

	if (c->has_group && (cmd < 0 || ps_cmds[cmd].priv == PS_PRIV_READ))
		snprintf(who, sizeof(who), "root or the group '%s'", c->group);
	if (cmd >= 0)
		snprintf(msg, sizeof(msg), "permission denied: '%s' %s and needs %s",
			 ps_cmds[cmd].name, ps_cmds[cmd].does, who);
	else
		snprintf(msg, sizeof(msg), "permission denied: penstockd's control socket is for %s",
			 who);
	o = json_pack("{s:b, s:b, s:s}", "ok", 0, "denied", 1, "error", msg);
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}

void ps_control_answer(struct ps_control *c, const char *line, size_t len, bool may_read,
		       bool may_change, FILE *out, ps_control_fn fn, void *ctx)
{
	json_t *req = NULL;
	json_error_t jerr;
	const char *cmd;
	int ci;

	if (len)
		req = json_loadb(line, len, 0, &jerr);
	cmd = json_string_value(json_object_get(req, "cmd"));
	ci = cmd ? ps_cmd_find(cmd) : -1;
	if (!may_read || (ci >= 0 && ps_cmds[ci].priv == PS_PRIV_CHANGE && !may_change)) {
		c->st.denied++;
		denied(c, ci, out);
	} else if (!req) {
		c->st.bad++;
		if (len)
			ps_control_error(out, "bad request: %s (byte %d)", jerr.text, jerr.position);
		else
			ps_control_error(out, "bad request: empty (one JSON object and a newline)");
	} else if (!json_is_object(req)) {
		c->st.bad++;
		ps_control_error(out, "bad request: not a JSON object");
	} else {
		fn(req, out, ctx);
	}
	json_decref(req);
	fputc('\n', out);
}

/* The request in k->in[0..in_len) (its newline cut), answered into k->out. */
static void conn_request(struct ps_control *c, struct ps_conn *k, ps_control_fn fn, void *ctx)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	if (c->out_pending > OUT_PENDING_MAX) {
		k->state = CONN_WAITING;	/* its turn when answers have been read */
		conn_watch(c, k, 0);
		return;
	}
	out = open_memstream(&buf, &len);
	if (!out) {
		conn_close(c, k);
		return;
	}
	ps_control_answer(c, k->in, k->in_len, k->may_read, k->may_change, out, fn, ctx);
	if (fclose(out)) {
		free(buf);
		conn_close(c, k);
		return;
	}
	free(k->in);
	k->in = NULL;
	k->out = buf;
	k->out_len = len;
	k->out_off = 0;
	c->out_pending += len;
	k->state = CONN_WRITING;
	k->deadline_ms = ps_mono_ms() + PS_CTL_DEADLINE_S * 1000;
	conn_flush(c, k);
}

/* Read what has come; at the newline (or EOF) the request is whole. */
static void conn_read(struct ps_control *c, struct ps_conn *k, ps_control_fn fn, void *ctx)
{
	for (;;) {
		ssize_t n;
		char *nl;

		if (k->in_len == k->in_cap) {
			size_t cap = k->in_cap ? k->in_cap * 2 : IN_FIRST;
			char *in;

			if (cap > PS_CTL_REQUEST_MAX + 1)
				cap = PS_CTL_REQUEST_MAX + 1;	/* its newline */
			in = realloc(k->in, cap);
			if (!in) {
				conn_close(c, k);
				return;
			}
			k->in = in;
			k->in_cap = cap;
		}
		n = recv(k->fd, k->in + k->in_len, k->in_cap - k->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			conn_close(c, k);
			return;
		}
		if (n == 0) {
			conn_request(c, k, fn, ctx);	/* EOF: what came is the request */
			return;
		}
		nl = memchr(k->in + k->in_len, '\n', n);
		k->in_len += n;
		if (nl) {
			k->in_len = nl - k->in;
			conn_request(c, k, fn, ctx);
			return;
		}
		if (k->in_len > PS_CTL_REQUEST_MAX) {
			c->st.too_long++;
			say_line(k->fd, "request longer than %d bytes", PS_CTL_REQUEST_MAX);
			conn_close(c, k);
			return;
		}
	}
}

/* Whether the peer on fd is in group gid, by its credentials at connect(). */
static bool peer_in_group(int fd, gid_t peer_gid, gid_t gid)
{
	gid_t some[64], *groups = some;
	socklen_t len = sizeof(some);
	bool in = peer_gid == gid;
	size_t i;

	if (in)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len)) {
		if (errno != ERANGE)
			return false;
		groups = malloc(len);
		if (!groups || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len)) {
			free(groups);
			return false;
		}
	}
	for (i = 0; i < len / sizeof(gid_t) && !in; i++)
		in = groups[i] == gid;
	if (groups != some)
		free(groups);
	return in;
}

static void accept_some(struct ps_control *c)
{
	int i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		socklen_t len = sizeof(struct ucred);
		struct ucred cr;
		struct ps_conn *k;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				/* Out of descriptors or memory: wait for a connection to close. */
				ev.events = 0;
				ev.data.ptr = c;
				if (!c->fds_warned_ms || ps_mono_ms() - c->fds_warned_ms >= 60000) {
					pr_warn("penstockd: control socket: %s; not accepting until a "
						"connection closes (said once a minute)\n",
						strerror(errno));
					c->fds_warned_ms = ps_mono_ms();
				}
				if (!epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev))
					c->paused = true;
			}
			return;
		}
		c->st.accepted++;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
			close(fd);
			continue;
		}
		if (c->nconns >= PS_CTL_MAX_CONNS ||
		    (cr.uid != 0 && c->nconns_other >= PS_CTL_MAX_CONNS - PS_CTL_ROOT_CONNS)) {
			c->st.busy++;
			say_line(fd, "penstockd is busy: %u connections open; try again", c->nconns);
			close(fd);
			continue;
		}
		k = calloc(1, sizeof(*k));
		if (!k) {
			close(fd);
			continue;
		}
		k->fd = fd;
		k->may_change = cr.uid == 0;
		k->may_read = k->may_change || (c->has_group && peer_in_group(fd, cr.gid, c->gid));
		k->other = cr.uid != 0;
		k->deadline_ms = ps_mono_ms() + PS_CTL_DEADLINE_S * 1000;
		ev.data.ptr = k;
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			free(k);
			close(fd);
			continue;
		}
		k->next = c->conns;	/* newest first */
		if (c->conns)
			c->conns->prev = k;
		c->conns = k;
		c->nconns++;
		if (k->other)
			c->nconns_other++;
	}
}

/* Requests that waited for answers to be read, oldest first. */
static void run_waiting(struct ps_control *c, ps_control_fn fn, void *ctx)
{
	struct ps_conn *k, *prev;

	if (c->out_pending > OUT_PENDING_MAX)
		return;
	for (k = c->conns; k && k->next; k = k->next)
		;
	for (; k && c->out_pending <= OUT_PENDING_MAX; k = prev) {
		prev = k->prev;
		if (k->state == CONN_WAITING)
			conn_request(c, k, fn, ctx);
	}
}

void ps_control_serve(struct ps_control *c, ps_control_fn fn, void *ctx)
{
	struct epoll_event evs[EVENT_BATCH];
	int n, i;

	n = epoll_wait(c->epfd, evs, EVENT_BATCH, 0);
	for (i = 0; i < n; i++) {
		struct ps_conn *k = evs[i].data.ptr;

		if (evs[i].data.ptr == c)
			accept_some(c);
		else if (k->state == CONN_READING)
			conn_read(c, k, fn, ctx);
		else if (k->state == CONN_WRITING)
			conn_flush(c, k);
		else if (evs[i].events & (EPOLLHUP | EPOLLERR))
			conn_close(c, k);	/* waiting, and its peer gone */
	}
	run_waiting(c, fn, ctx);
}

void ps_control_sweep(struct ps_control *c, ps_control_fn fn, void *ctx)
{
	uint64_t now = ps_mono_ms();
	struct ps_conn *k, *next;

	for (k = c->conns; k; k = next) {
		next = k->next;
		if (k->state == CONN_WAITING || now < k->deadline_ms)
			continue;
		c->st.timed_out++;
		if (k->state == CONN_READING)
			say_line(k->fd, "request not complete within %d s", PS_CTL_DEADLINE_S);
		/* else its answer not read for that long */
		conn_close(c, k);
	}
	if (c->paused) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (!epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev))
			c->paused = false;
	}
	run_waiting(c, fn, ctx);
}

void ps_control_close(struct ps_control *c)
{
	while (c->conns)
		conn_close(c, c->conns);
	if (c->epfd >= 0)
		close(c->epfd);
	c->epfd = -1;
	if (c->fd < 0)
		return;
	close(c->fd);
	unlink(c->path);
	c->fd = -1;
}

/*
 * Bytes that are not UTF-8 made '?': a JSON string is UTF-8, and a message
 * quotes what a client sent (or jansson's error, the bytes near it), or is
 * cut in the middle of a character.
 */
static void utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;
	uint32_t cp;
	int n, i;

	while (*p) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		n = *p >= 0xc2 && *p <= 0xdf ? 1 : (*p & 0xf0) == 0xe0 ? 2 :
		    *p >= 0xf0 && *p <= 0xf4 ? 3 : 0;
		cp = *p & (0x3f >> n);
		for (i = 1; i <= n && (p[i] & 0xc0) == 0x80; i++)
			cp = cp << 6 | (p[i] & 0x3f);
		/* Whole, and neither overlong, a surrogate nor past U+10FFFF. */
		if (n && i > n && !(n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) &&
		    !(n == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
			p += n + 1;
			continue;
		}
		*p++ = '?';
	}
}

void ps_control_error(FILE *out, const char *fmt, ...)
{
	char msg[4300];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_clean(msg);
	o = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}
