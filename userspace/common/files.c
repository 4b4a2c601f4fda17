// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/files.h"

int ps_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

int ps_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *p;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

int ps_parent_dir(const char *path, char *buf, size_t len)
{
	char *slash;

	if (snprintf(buf, len, "%s", path) >= (int)len)
		return -ENAMETOOLONG;
	slash = strrchr(buf, '/');
	if (!slash)
		return -EINVAL;
	slash[slash == buf] = 0;	/* "/x" -> "/" */
	return 0;
}

int ps_fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	int fd, err = ps_parent_dir(path, dir, sizeof(dir));

	if (err == -EINVAL)
		snprintf(dir, sizeof(dir), ".");	/* a bare name: the working directory */
	else if (err)
		return err;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = fsync(fd) ? -errno : 0;
	close(fd);
	return err;
}

struct dump_doc {
	json_t *doc;
	size_t flags;
};

static int dump_doc(int fd, void *ctx)
{
	struct dump_doc *dd = ctx;

	errno = 0;
	if (json_dumpfd(dd->doc, fd, dd->flags) || ps_write_all(fd, "\n", 1))
		return errno ? -errno : -EIO;
	return 0;
}

int ps_json_replace(json_t *doc, const char *path, size_t flags)
{
	struct dump_doc dd = { .doc = doc, .flags = flags };

	return ps_file_replace(path, dump_doc, &dd);
}

int ps_file_replace(const char *path, int (*write_body)(int fd, void *ctx), void *ctx)
{
	char tmp[PATH_MAX + 8];
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* The data on disk before the name points at it: a crash leaves
	 * the old file or the new one, whole. */
	err = write_body(fd, ctx);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return ps_fsync_parent(path);
}

int ps_set_aside(const char *path, char *aside, size_t len)
{
	long long now = (long long)time(NULL);
	int i;

	for (i = 0; i < 100; i++) {
		int n = i ? snprintf(aside, len, "%s.unreadable-%lld.%d", path, now, i)
			  : snprintf(aside, len, "%s.unreadable-%lld", path, now);

		if (n >= (int)len)
			return -ENAMETOOLONG;
		if (access(aside, F_OK) == 0)
			continue;	/* set aside earlier this second: keep it too */
		if (rename(path, aside))
			return -errno;
		ps_fsync_parent(path);
		return 0;
	}
	return -EEXIST;
}

int ps_json_load_file(const char *path, json_t **doc, char *err, size_t errlen)
{
	json_error_t jerr;

	*doc = json_load_file(path, 0, &jerr);
	if (!*doc) {
		if (access(path, F_OK) && errno == ENOENT)
			return 0;
		if (jerr.line > 0)
			snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column,
				 jerr.text);
		else
			snprintf(err, errlen, "%s: %s", path, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(*doc)) {
		snprintf(err, errlen, "%s: not a JSON object", path);
		json_decref(*doc);
		*doc = NULL;
		return -EINVAL;
	}
	return 1;
}
