/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Files as the daemon writes them: whole writes, directories made as
 * needed, and JSON files replaced atomically (a temporary file renamed
 * over the old one, so that a crash leaves the old file or the new one).
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

/*
 * Write doc to path.tmp with json_dump_file()'s flags and rename it over
 * path. 0, or -errno with path.tmp removed.
 */
int ps_json_replace(json_t *doc, const char *path, size_t flags);

#endif
