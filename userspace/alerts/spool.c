// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerts/spool.h"
#include "common/files.h"
#include "common/log.h"

#define SPOOL_OPEN		"open"
#define SPOOL_LOCK		"lock"
#define SPOOL_SUFFIX		".batch"
#define SPOOL_DIGITS		20
/* A batch is sealed early past either: one POST stays reasonably small. */
#define BATCH_MAX_ALERTS	500
#define BATCH_MAX_BYTES		(1 << 20)

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
	const struct ps_batch *x = a, *y = b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

int ps_spool_list(const char *dir, struct ps_batch **out)
{
	struct ps_batch *v = NULL, *nv;
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

void ps_batch_path(const char *dir, uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%0*llu" SPOOL_SUFFIX, dir, SPOOL_DIGITS, (unsigned long long)seq);
}

/* Seal the open batch: synced, then renamed into the sender's queue. */
int ps_spool_seal(struct ps_spool *sp)
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

void ps_spool_close(struct ps_spool *sp)
{
	if (sp->dirfd < 0)
		return;
	ps_spool_seal(sp);
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
static int spool_lock(struct ps_spool *sp, char *err, size_t errlen)
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
int ps_spool_open(struct ps_spool *sp, const char *dir, char *err, size_t errlen)
{
	struct ps_batch *v;
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
	n = r ? r : ps_spool_list(dir, &v);
	if (n < 0) {
		if (!r)
			snprintf(err, errlen, "alerts.webhook: cannot read the spool directory %s: %s",
				 dir, strerror(-n));
		ps_spool_close(sp);
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
		ps_spool_seal(sp);
	}
	return 0;
}

void ps_spool_append(struct ps_spool *sp, const char *line, size_t len)
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

bool ps_spool_full(const struct ps_spool *sp)
{
	return sp->nalerts >= BATCH_MAX_ALERTS || sp->bytes >= BATCH_MAX_BYTES;
}
