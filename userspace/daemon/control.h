/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's end of the control socket (common/protocol.h): a Unix
 * stream socket, one JSON request line and one JSON answer line per
 * connection. Every connection is non-blocking, with buffers of its own,
 * in an epoll set of the control's (the loop polls that set as one fd):
 * a client that sends slowly, or nothing, or reads slowly, never holds
 * the loop or the tick. Bounds: PS_CTL_REQUEST_MAX bytes a request,
 * PS_CTL_DEADLINE_S seconds to send it (and between two reads of the
 * answer), PS_CTL_MAX_CONNS connections at once; past a bound the client
 * gets {"ok":false,"error":...} and the connection is closed.
 *
 * Each request is checked against its peer's credentials, from the kernel
 * (SO_PEERCRED, SO_PEERGROUPS, as of its connect()): a command that reads
 * (ps_cmds[].priv) is for root and the members of the socket's group, one
 * that changes for root only. A refusal is answered here,
 * {"ok":false,"denied":true,"error":"permission denied: ..."}; the
 * handler sees only what the peer may ask.
 */
#ifndef PS_CONTROL_H
#define PS_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <jansson.h>

#include "common/protocol.h"

struct ps_conn;

/* What the control socket has seen since the daemon started. */
struct ps_control_stats {
	uint64_t accepted;	/* connections */
	uint64_t answered;	/* answers written whole */
	uint64_t denied;	/* requests refused for the peer's credentials */
	uint64_t bad;		/* not JSON, not an object, empty */
	uint64_t too_long;	/* more than PS_CTL_REQUEST_MAX bytes */
	uint64_t timed_out;	/* not sent, or answer not read, in time */
	uint64_t busy;		/* refused: PS_CTL_MAX_CONNS open */
};

struct ps_control {
	int fd;			/* the listening socket */
	int epfd;		/* its connections' epoll set, and the socket's */
	char path[108];
	gid_t gid;		/* the socket's group (may read), when has_group */
	bool has_group;
	char group[64];
	bool paused;		/* not accepting: out of file descriptors */
	uint64_t fds_warned_ms;	/* when it last said so */
	uint32_t nconns, nconns_other;	/* open; of them, not root's */
	size_t out_pending;	/* bytes of answers not yet read */
	struct ps_conn *conns;	/* open connections, oldest first */
	struct ps_control_stats st;
};

/*
 * Listen on path, its directory created 0755. The socket file is mode
 * 0660 with group `group` when that group exists, else 0600 (root only);
 * required: a missing group is an error (-ENOENT) rather than 0600. A
 * socket left by a daemon that is gone is replaced; one that answers means
 * another penstockd runs: -EADDRINUSE. Returns 0 or -errno (message
 * printed).
 */
int ps_control_listen(struct ps_control *c, const char *path, const char *group, bool required);
void ps_control_close(struct ps_control *c);

/*
 * The handler writes one JSON object (no newline) to out; req is the
 * parsed request object, of a peer allowed to send its command.
 */
typedef void (*ps_control_fn)(json_t *req, FILE *out, void *ctx);

/*
 * Answer one request: line[0..len) is what the client sent, its newline
 * cut (len 0: nothing). A peer that may not send its command (may_read,
 * may_change: its credentials' verdict) or a line that is not one JSON
 * object is answered here, and counted in c->st; else the request goes to
 * fn. The answer, one JSON object and a newline, goes to out.
 */
void ps_control_answer(struct ps_control *c, const char *line, size_t len, bool may_read,
		       bool may_change, FILE *out, ps_control_fn fn, void *ctx);

/* Accept, read, answer: the work waiting on c->epfd, a bounded batch of it. */
void ps_control_serve(struct ps_control *c, ps_control_fn fn, void *ctx);
/* Close the connections past their deadline (each tick); resume accepting. */
void ps_control_sweep(struct ps_control *c, ps_control_fn fn, void *ctx);

/* {"ok":false,"error":msg} to out. */
void ps_control_error(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
