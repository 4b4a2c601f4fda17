/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The JSON-lines sink: one alert a line, appended, synced each second,
 * rotated by size (path -> path.1 -> ... -> path.keep).
 */
#ifndef PS_JSONL_H
#define PS_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct ps_jsonl {
	struct ps_alerts_jsonl_cfg cfg;
	int fd;
	uint64_t size;
	bool dirty;		/* written since the last fdatasync */
	bool failing;		/* the last write failed: warned once */
};

/* Open (create) cfg->path, its directory too. 0, or -errno and a message in err. */
int ps_jsonl_open(struct ps_jsonl *j, const struct ps_alerts_jsonl_cfg *cfg, char *err,
		  size_t errlen);
/* fdatasync what was written since the last sync. */
void ps_jsonl_sync(struct ps_jsonl *j);
void ps_jsonl_close(struct ps_jsonl *j);
/* Append one line (newline included), rotating first if it would pass max_bytes. */
void ps_jsonl_write(struct ps_jsonl *j, const char *line, size_t len);

#endif
