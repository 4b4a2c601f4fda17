/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The webhook's spool: a directory of batch files, each line of one an
 * alert in Alertmanager's API v2 form (a PostableAlert, one JSON object):
 *   open                        the batch ps_spool_append() appends to
 *   00000000000000000042.batch  a sealed batch, for the sender
 *   lock                        flock()ed by the one process that uses it
 * ps_spool_append() writes one line to "open" with one write(): once it
 * returns, the alert is in the page cache and a crash of the daemon loses
 * nothing. ps_spool_seal() syncs the batch, renames it to the next number
 * and syncs the directory, so a sealed batch is whole on disk or not there
 * at all. A crash leaves "open" behind: the next ps_spool_open() seals it.
 *
 * The open batch is the caller's thread's; the sender (webhook.c) reads
 * and unlinks sealed batches only.
 */
#ifndef PS_SPOOL_H
#define PS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct ps_spool {
	char dir[PS_ALERT_PATH_MAX];
	int dirfd;
	int lockfd;		/* SPOOL_LOCK, flock()ed: one process per spool */
	int fd;			/* the open batch, -1 none */
	uint64_t next_seq;	/* the number of the next sealed batch */
	int nalerts;		/* in the open batch */
	size_t bytes;
	bool failing;
};

/*
 * Open the spool directory (created if need be), take its lock, number
 * after the highest sealed batch, and seal what a crash left open. 0, or
 * -errno with a message in err.
 */
int ps_spool_open(struct ps_spool *sp, const char *dir, char *err, size_t errlen);
/* Seal the open batch: synced, then renamed into the sender's queue. */
int ps_spool_seal(struct ps_spool *sp);
/* Seal and close; the lock goes. */
void ps_spool_close(struct ps_spool *sp);
/* Append one line (newline included) to the open batch. */
void ps_spool_append(struct ps_spool *sp, const char *line, size_t len);
/* The open batch is as large as one POST should be: seal it now. */
bool ps_spool_full(const struct ps_spool *sp);

/* A sealed batch. */
struct ps_batch {
	uint64_t seq;
	uint64_t bytes;
};

/* The sealed batches of dir, oldest first (malloc'ed in *out). Count or -errno. */
int ps_spool_list(const char *dir, struct ps_batch **out);
/* The file of sealed batch seq. */
void ps_batch_path(const char *dir, uint64_t seq, char *buf, size_t len);

#endif
