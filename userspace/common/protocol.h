/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control protocol between penstockd and its clients, in one place
 * (docs/control-protocol.md tells it to people): where the socket is, the
 * commands, the members of their requests with their types and bounds,
 * and the spellings both sides share (windows, sort keys, the per-client
 * figures of the answers and of penstock replay --json).
 *
 * One JSON request line and one JSON answer line per connection; every
 * answer has "ok", and "error" when it is false. Each command reads or
 * changes (enum ps_priv): reading is for root and the socket's group,
 * changing for root. penstockd dispatches from
 * ps_cmds (daemon/handlers.c holds a handler per command, in the same
 * order); the CLI builds its requests from the same rows (ps_request(),
 * ps_request_set()). Adding a command is a row here and a row on each side.
 */
#ifndef PS_PROTOCOL_H
#define PS_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define PS_CONTROL_SOCKET	"/run/penstock/penstock.sock"
#define PS_CONTROL_GROUP	"penstock"	/* may read; the socket's group when it exists */
#define PS_SOCKET_ENV		"PENSTOCK_SOCKET"	/* the CLI's default socket */
#define PS_CTL_TIMEOUT_S	5	/* the CLI's receive timeout, per read */
/* The daemon's bounds: a request's bytes (its newline excluded), the
 * seconds a client has to send it (and to go on reading its answer), and
 * the connections open at once (the last PS_CTL_ROOT_CONNS for root). */
#define PS_CTL_REQUEST_MAX	(64 * 1024)
#define PS_CTL_DEADLINE_S	5
#define PS_CTL_MAX_CONNS	1024
#define PS_CTL_ROOT_CONNS	64
/* Answers: compact; reals with enough digits and no binary noise (0.05, not 0.0500000001). */
#define PS_JSON_DUMP		(JSON_COMPACT | JSON_REAL_PRECISION(15))

/* Bounds of the enforcement and alerts requests. */
#define PS_ENF_REASON_MAX	63		/* bytes, printable ASCII */
#define PS_ENF_FOR_MAX		(3650ULL * 86400)	/* seconds: ten years */
#define PS_ENF_RPM_MAX		10000000
#define PS_ENF_BURST_MAX	1000000
#define PS_ENF_RATE_MAX		1000000000000ULL	/* bits per second: 1tbit */

enum ps_cmd {
	PS_CMD_STATUS = 0,
	PS_CMD_CLIENTS,
	PS_CMD_CLIENT,
	PS_CMD_ENDPOINTS,
	PS_CMD_RELOAD,
	PS_CMD_STOP,
	PS_CMD_BLOCK,
	PS_CMD_THROTTLE,
	PS_CMD_UNBLOCK,
	PS_CMD_ENFORCEMENT,
	PS_CMD_ALERTS,
	PS_NCMDS,
};

/* The members of requests besides "cmd". */
enum ps_arg {
	PS_ARG_WINDOW = 0,
	PS_ARG_SORT,
	PS_ARG_LIMIT,
	PS_ARG_ADDR,
	PS_ARG_KEEP_DATAPATH,
	PS_ARG_SUBJECT,
	PS_ARG_RPM,
	PS_ARG_BURST,
	PS_ARG_RATE_BPS,
	PS_ARG_FOR_S,
	PS_ARG_REASON,
	PS_ARG_SINCE_S,
	PS_NARGS,
};

enum ps_arg_type {
	PS_ARG_STRING,
	PS_ARG_INTEGER,
	PS_ARG_BOOLEAN,
};

struct ps_arg_def {
	const char *name;
	enum ps_arg_type type;
	long long min, max;	/* an integer's range; a free string's bytes (0, 0: any) */
	const char *const *values;	/* a string that names one of these (NULL-terminated) */
};

#define PS_ARG(a)	(1u << (a))

/*
 * Who may send a command: PS_PRIV_READ root and the members of the
 * socket's group (PS_CONTROL_GROUP), PS_PRIV_CHANGE root only. The daemon
 * checks its peer's credentials (SO_PEERCRED, SO_PEERGROUPS) against it;
 * a refusal is {"ok":false,"denied":true,"error":"permission denied: ..."}.
 */
enum ps_priv {
	PS_PRIV_READ = 0,
	PS_PRIV_CHANGE,
};

struct ps_cmd_def {
	const char *name;
	uint32_t args;		/* PS_ARG() of the members it takes */
	const char *answer;	/* the members of its answer besides "ok" */
	enum ps_priv priv;
	const char *does;	/* for a refusal: "'NAME' DOES and needs root" */
};

extern const struct ps_arg_def ps_args[PS_NARGS];
extern const struct ps_cmd_def ps_cmds[PS_NCMDS];

/* The windows of "clients" and "client" (all of them: 1m, 1h, 24h, total). */
enum ps_window {
	PS_WIN_1M = 0,
	PS_WIN_1H,
	PS_WIN_24H,
	PS_NWINDOWS,
	PS_WIN_TOTAL = PS_NWINDOWS,	/* not a window: totals since first seen */
};

/* The sort keys of "clients" (penstock clients --sort, top). */
enum ps_sort {
	PS_SORT_REQUESTS = 0,
	PS_SORT_INFERENCE,
	PS_SORT_RX_BYTES,
	PS_SORT_TX_BYTES,
	PS_SORT_TX_PAYLOAD,
	PS_SORT_TX_TOKENS,
	PS_SORT_RX_TOKENS,
	PS_SORT_RPM,
	PS_NSORTS,
};

/*
 * A client's figures: the counters of struct ps_counters, in its order
 * (PS_NCTRFIELDS of them), then the output token counters that follow in
 * struct ps_client_ctr, in theirs (tx_events .. tx_tokens_estimated), and the
 * gRPC message counters at its end (rx_messages, tx_messages).
 */
enum ps_field {
	PS_F_CONNECTIONS = 0,
	PS_F_REQUESTS,
	PS_F_INFERENCE,
	PS_F_RX_PACKETS,
	PS_F_TX_PACKETS,
	PS_F_RX_BYTES,
	PS_F_TX_BYTES,
	PS_F_RX_PAYLOAD,
	PS_F_TX_PAYLOAD,
	PS_NCTRFIELDS,			/* those of struct ps_counters */
	PS_F_TX_EVENTS = PS_NCTRFIELDS,
	PS_F_TX_TOKENS,
	PS_F_RX_TOKENS,
	PS_F_TX_TOKENS_ESTIMATED,
	PS_F_RX_MESSAGES,
	PS_F_TX_MESSAGES,
	PS_NFIELDS,
};
#define PS_NTOKFIELDS	(PS_NFIELDS - PS_NCTRFIELDS)

/* Spellings, by the enums above; NULL-terminated. */
extern const char *const ps_window_names[PS_NWINDOWS + 2];
extern const char *const ps_sort_names[PS_NSORTS + 1];
extern const char *const ps_field_names[PS_NFIELDS + 1];
#define PS_RPM_NAME	"rpm"	/* inference requests a minute, beside the figures */

/* Index of s in a NULL-terminated list of names, or -1. */
int ps_name_find(const char *const *names, const char *s);
/* "requests, rpm or total": a list of names for messages. */
const char *ps_names_str(const char *const *names, char *buf, size_t len);
/* The command named s, or -1. */
int ps_cmd_find(const char *s);
/* Whether v is in the range of the integer member arg. */
int ps_arg_in_range(enum ps_arg arg, long long v);

/* A request for cmd: {"cmd":NAME}. NULL when out of memory. */
json_t *ps_request(enum ps_cmd cmd);
/*
 * Add member arg (value taken, of the row's type) to req, a request of a
 * command that takes it. Returns req, or NULL with req freed (out of
 * memory, a member of another command); NULL req passes through.
 */
json_t *ps_request_set(json_t *req, enum ps_arg arg, json_t *value);
/* Member arg of a request, NULL when absent. */
json_t *ps_request_get(json_t *req, enum ps_arg arg);

#endif
