// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/files.h"
#include "common/log.h"
#include "daemon/control.h"

#define REQUEST_MAX	(64 * 1024)

int ps_control_listen(struct ps_control *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	int fd, err;

	c->fd = -1;
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
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0660) ||
	    listen(fd, 64)) {
		err = -errno;
		pr_warn("penstockd: control socket %s: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return err;
	}
	c->fd = fd;
	return 0;
}

void ps_control_close(struct ps_control *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	unlink(c->path);
	c->fd = -1;
}

void ps_control_error(FILE *out, const char *fmt, ...)
{
	char msg[4300];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	json_dumpf(o, out, PS_JSON_DUMP);
	json_decref(o);
}

static void serve_one(int cfd, ps_control_fn fn, void *ctx)
{
	struct timeval tv = { .tv_sec = 2 };
	char *buf = malloc(REQUEST_MAX);
	size_t len = 0;
	json_error_t jerr;
	json_t *req;
	FILE *out;

	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	tv.tv_sec = 5;
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!buf) {
		close(cfd);
		return;
	}
	while (len < REQUEST_MAX) {
		ssize_t r = read(cfd, buf + len, REQUEST_MAX - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += r;
		if (memchr(buf + len - r, '\n', r))
			break;
	}
	out = fdopen(cfd, "w");
	if (!out) {
		close(cfd);
		free(buf);
		return;
	}
	req = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (!req || !json_is_object(req))
		ps_control_error(out, "bad request: %s", req ? "not a JSON object" : jerr.text);
	else
		fn(req, out, ctx);
	json_decref(req);
	fputc('\n', out);
	fclose(out);
	free(buf);
}

void ps_control_serve(struct ps_control *c, ps_control_fn fn, void *ctx)
{
	for (;;) {
		int cfd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EINTR)
				continue;
			return;	/* EAGAIN: none left */
		}
		serve_one(cfd, fn, ctx);
	}
}
