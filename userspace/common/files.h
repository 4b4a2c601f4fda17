/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Files as the daemon writes them: whole writes, directories made as
 * needed, and JSON files replaced atomically (a temporary file synced and
 * renamed over the old one, so that a crash leaves the old file or the
 * new one); and as it reads them back: a file that is not whole is named
 * with what is wrong, and set aside.
 */
#ifndef PS_FILES_H
#define PS_FILES_H

#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

/* write() until all of p is written. 0 or -errno. */
int ps_write_all(int fd, const void *p, size_t len);

/* mkdir -p: the parents 0755, the last component with mode. 0 or -errno. */
int ps_mkdir_p(const char *path, mode_t mode);

/* The directory of path into buf ("/x" -> "/"). 0 or -errno. */
int ps_parent_dir(const char *path, char *buf, size_t len);

/* fsync the directory that holds path, so that a rename in it lasts. 0 or -errno. */
int ps_fsync_parent(const char *path);

/*
 * Write doc to path.tmp with json_dump_file()'s flags (and a newline),
 * fsync it, rename it over path and fsync the directory: a crash at any
 * point leaves the old file or the new one, whole. 0, or -errno with
 * path.tmp removed.
 */
int ps_json_replace(json_t *doc, const char *path, size_t flags);
/* The same for a body its writer writes to fd (0, or -errno), as it goes:
 * no whole document in memory first. */
int ps_file_replace(const char *path, int (*write_body)(int fd, void *ctx), void *ctx);

/*
 * A JSON object from path, as ps_json_replace() wrote it. Returns 1 with
 * *doc (the caller's), 0 when there is no file, or -EINVAL when it is not
 * a whole JSON object (cut short, garbage, unreadable) with
 * "PATH:LINE:COLUMN: what" in err.
 */
int ps_json_load_file(const char *path, json_t **doc, char *err, size_t errlen);

/*
 * Move a file its reader could not use out of the way, to
 * PATH.unreadable-<unix time> (.N after it when that is taken), for a
 * person to look at; the new name in aside. 0 or -errno.
 */
int ps_set_aside(const char *path, char *aside, size_t len);

#endif
