/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's state file: the client table (totals, windows, the map
 * incarnation each record follows), gzip-compressed, written to a
 * temporary file, synced and renamed over the old one (the directory
 * synced after), so that a crash at any point leaves either the old file
 * or the new one. Saves and loads lock the directory (flock): a daemon
 * that starts waits for the save of one that was killed.
 */
#ifndef PS_STATE_H
#define PS_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "count/clients.h"

#define PS_STATE_DIR	"/var/lib/penstock"
#define PS_STATE_FILE	"state.gz"

/* Write t to dir/state.gz. Returns 0 or -errno (message in err). */
int ps_state_save(const struct ps_ctable *t, const char *dir, uint64_t now_ms, char *err,
		  size_t errlen);

/*
 * Save in a child process (fork: the child writes a copy-on-write
 * snapshot while the daemon goes on; it closes every file descriptor but
 * stdin, stdout and stderr first). Returns the child's pid or -errno.
 */
pid_t ps_state_save_bg(const struct ps_ctable *t, const char *dir, uint64_t now_ms);

/*
 * Save by a thread of this process, which copies the records a chunk at
 * a time (about 1 MiB) with mu held and writes them with it released:
 * the caller holds mu whenever it changes t (penstockd: whenever its loop
 * is not waiting for events). Nothing is copied on write by the kernel,
 * as after a fork, so the ticks during a save cost what the others do.
 * A client that gets its extension (ps_cext) during the save, in a
 * chunk not yet copied, ends it with -EAGAIN (its file removed): the
 * caller starts another, or saves by ps_state_save_bg.
 * 0 (*out the saver) or -errno.
 */
struct ps_state_saver;
int ps_state_saver_start(struct ps_state_saver **out, const struct ps_ctable *t,
			 pthread_mutex_t *mu, const char *dir, uint64_t now_ms);
/* The save ended (join it now without waiting). */
bool ps_state_saver_done(const struct ps_state_saver *s);
/* Wait for the save, with mu NOT held; free s. 0 or -errno (message in err). */
int ps_state_saver_join(struct ps_state_saver *s, char *err, size_t errlen);

/*
 * Load dir/state.gz into an empty table, after removing the temporary
 * files of saves that never ended. Returns 1 loaded, 0 no file, or
 * -errno with a message in err naming the file and what is wrong with it
 * (the file is then left alone).
 * *saved_ms gets the time the file was written.
 */
int ps_state_load(struct ps_ctable *t, const char *dir, uint64_t *saved_ms, char *err,
		  size_t errlen);

#endif
