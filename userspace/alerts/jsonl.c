// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerts/jsonl.h"
#include "common/files.h"
#include "common/log.h"

int ps_jsonl_open(struct ps_jsonl *j, const struct ps_alerts_jsonl_cfg *cfg, char *err,
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

void ps_jsonl_sync(struct ps_jsonl *j)
{
	if (j->fd >= 0 && j->dirty && fdatasync(j->fd) == 0)
		j->dirty = false;
}

void ps_jsonl_close(struct ps_jsonl *j)
{
	if (j->fd < 0)
		return;
	ps_jsonl_sync(j);
	close(j->fd);
	j->fd = -1;
}

/* path -> path.1 -> ... -> path.keep (the oldest goes), then a new path. */
static void jsonl_rotate(struct ps_jsonl *j)
{
	char from[PS_ALERT_PATH_MAX + 16], to[PS_ALERT_PATH_MAX + 16];
	char err[PS_ALERT_PATH_MAX + 128];
	struct ps_alerts_jsonl_cfg cfg = j->cfg;
	int i;

	ps_jsonl_close(j);
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
	if (ps_jsonl_open(j, &cfg, err, sizeof(err)))
		pr_warn("penstockd: %s\n", err);
}

void ps_jsonl_write(struct ps_jsonl *j, const char *line, size_t len)
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
