// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstock's daemon commands: the client side of penstockd's control socket
 * (docs/control-protocol.md). One connection per exchange: write one JSON
 * object and a newline, read the answer to EOF, parse it with jansson.
 * Failures become one line for a person, never a bare errno.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/capture.h"
#include "alerts/alert.h"
#include "cli/ctl.h"
#include "common/report.h"
#include "common/units.h"

/* An answer larger than this is not penstockd's (a million clients of
 * every window is well under it). */
#define PS_CTL_MAX_ANSWER	(1UL << 31)

const char *ps_ctl_socket_path(const char *opt)
{
	const char *env;

	if (opt)
		return opt;
	env = getenv(PS_SOCKET_ENV);
	return env && *env ? env : PS_CONTROL_SOCKET;
}

static void connect_error(int err, const char *path, char *buf, size_t len)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		snprintf(buf, len, "penstockd is not running (no control socket at %s)", path);
		break;
	case ECONNREFUSED:
		snprintf(buf, len, "penstockd is not running (%s is left from a daemon that stopped)",
			 path);
		break;
	case EACCES:
	case EPERM:
		snprintf(buf, len,
			 "permission denied on %s: run as root or as a member of the socket's group",
			 path);
		break;
	case EAGAIN:
	case EINPROGRESS:
	case ETIMEDOUT:
		/* A Unix socket's connect waits, up to the send timeout, for
		 * room in a full accept queue. */
		snprintf(buf, len, "penstockd did not answer within %d s", PS_CTL_TIMEOUT_S);
		break;
	default:
		snprintf(buf, len, "cannot connect to penstockd at %s: %s", path, strerror(err));
	}
}

static int ctl_connect(const char *path, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = PS_CTL_TIMEOUT_S };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path too long (at most %zu bytes): %s",
			 sizeof(sun.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot create a Unix socket: %s", strerror(e));
		return -e;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		e = errno;
		snprintf(err, errlen, "cannot set the socket's timeouts: %s", strerror(e));
		close(fd);
		return -e;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		e = errno;
		if (e == EINTR)
			continue;
		connect_error(e, path, err, errlen);
		close(fd);
		return -e;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len, char *err, size_t errlen)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			if (e == EAGAIN || e == EWOULDBLOCK)
				snprintf(err, errlen, "penstockd did not answer within %d s",
					 PS_CTL_TIMEOUT_S);
			else if (e == EPIPE || e == ECONNRESET)
				snprintf(err, errlen,
					 "penstockd closed the connection before reading the request");
			else
				snprintf(err, errlen, "cannot send the request to penstockd: %s",
					 strerror(e));
			return -e;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/* Read to EOF into a malloc'ed buffer. */
static int recv_all(int fd, char **out, size_t *outlen, char *err, size_t errlen)
{
	size_t len = 0, cap = 64 * 1024;
	char *buf = malloc(cap), *nbuf;
	ssize_t n;

	if (!buf)
		goto nomem;
	for (;;) {
		if (len == cap) {
			if (cap >= PS_CTL_MAX_ANSWER) {
				snprintf(err, errlen, "penstockd's answer is larger than %lu bytes",
					 PS_CTL_MAX_ANSWER);
				free(buf);
				return -EFBIG;
			}
			nbuf = realloc(buf, cap * 2);
			if (!nbuf)
				goto nomem;
			buf = nbuf;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			if (e == EAGAIN || e == EWOULDBLOCK)
				snprintf(err, errlen, "penstockd did not answer within %d s",
					 PS_CTL_TIMEOUT_S);
			else if (e == ECONNRESET)
				snprintf(err, errlen,
					 "penstockd closed the connection without answering");
			else
				snprintf(err, errlen, "cannot read penstockd's answer: %s",
					 strerror(e));
			free(buf);
			return -e;
		}
		len += n;
	}
	*out = buf;
	*outlen = len;
	return 0;
nomem:
	free(buf);
	snprintf(err, errlen, "out of memory reading penstockd's answer");
	return -ENOMEM;
}

json_t *ps_ctl_request(const char *socket_path, json_t *req, char *err, size_t errlen)
{
	char *text = NULL, *answer = NULL;
	json_t *doc = NULL;
	json_error_t jerr;
	size_t len = 0;
	int fd;

	text = json_dumps(req, JSON_COMPACT);
	if (!text) {
		snprintf(err, errlen, "cannot encode the request");
		return NULL;
	}
	fd = ctl_connect(socket_path, err, errlen);
	if (fd < 0)
		goto cleanup;
	if (send_all(fd, text, strlen(text), err, errlen) || send_all(fd, "\n", 1, err, errlen))
		goto cleanup;
	/* Nothing more from us: a daemon reading to EOF sees it at once. */
	shutdown(fd, SHUT_WR);
	if (recv_all(fd, &answer, &len, err, errlen))
		goto cleanup;
	if (!len) {
		snprintf(err, errlen, "penstockd closed the connection without answering");
		goto cleanup;
	}
	doc = json_loadb(answer, len, 0, &jerr);
	if (!doc) {
		snprintf(err, errlen, "penstockd's answer is not valid JSON (byte %d): %s",
			 jerr.position, jerr.text);
	} else if (!json_is_object(doc)) {
		snprintf(err, errlen, "penstockd's answer is not a JSON object");
		json_decref(doc);
		doc = NULL;
	}
cleanup:
	if (fd >= 0)
		close(fd);
	free(answer);
	free(text);
	return doc;
}

json_t *ps_ctl_call(const char *cmd, const char *socket_path, json_t *req)
{
	char err[PATH_MAX + 256];
	json_t *ans, *ok;
	const char *msg;

	if (!req) {
		fprintf(stderr, "penstock %s: out of memory\n", cmd);
		return NULL;
	}
	ans = ps_ctl_request(socket_path, req, err, sizeof(err));
	json_decref(req);
	if (!ans) {
		fprintf(stderr, "penstock %s: %s\n", cmd, err);
		return NULL;
	}
	ok = json_object_get(ans, "ok");
	if (json_is_true(ok))
		return ans;
	msg = json_string_value(json_object_get(ans, "error"));
	if (!msg)
		msg = ok ? "penstockd refused the request (and gave no reason)"
			 : "penstockd's answer has no \"ok\" member";
	fprintf(stderr, "penstock %s: %s\n", cmd, msg);
	json_decref(ans);
	return NULL;
}

int ps_ctl_print_json(FILE *f, json_t *answer)
{
	json_object_del(answer, "ok");
	if (json_dumpf(answer, f, JSON_COMPACT) < 0 || fputc('\n', f) == EOF)
		return -EIO;
	return 0;
}

const char *ps_fmt_duration(long long secs, char *buf, size_t len)
{
	long long d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60, s = secs % 60;

	if (secs < 0)
		snprintf(buf, len, "-");
	else if (d)
		snprintf(buf, len, "%lldd %lldh %lldm %llds", d, h, m, s);
	else if (h)
		snprintf(buf, len, "%lldh %lldm %llds", h, m, s);
	else if (m)
		snprintf(buf, len, "%lldm %llds", m, s);
	else
		snprintf(buf, len, "%llds", s);
	return buf;
}

const char *ps_fmt_bytes(double v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	if (v < 1024) {
		snprintf(buf, len, "%.0f", v);
		return buf;
	}
	while (v >= 1024 && units[u + 1]) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

const char *ps_fmt_count(json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.0f", json_real_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

const char *ps_fmt_decimal(json_t *v, char *buf, size_t len)
{
	if (json_is_number(v))
		snprintf(buf, len, "%.1f", json_number_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

double ps_json_num(json_t *obj, const char *key)
{
	return json_number_value(json_object_get(obj, key));
}

/* A string member for display: dflt when absent, null or empty. */
static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && *s ? s : dflt;
}

/* --- an aligned text table ------------------------------------------------ */

struct tbl_col {
	const char *head;
	int minw;
	bool left;
};

struct tbl {
	const struct tbl_col *cols;
	int ncols;
	int ncells, cap;
	char **cells;	/* row after row, headers not included */
	int err;
};

static void tbl_init(struct tbl *t, const struct tbl_col *cols, int ncols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols;
}

/* The next cell, row after row. */
static void tbl_add(struct tbl *t, const char *s)
{
	char *dup;

	if (t->err)
		return;
	if (t->ncells == t->cap) {
		int cap = t->cap ? t->cap * 2 : 64;
		char **n = realloc(t->cells, cap * sizeof(*n));

		if (!n) {
			t->err = -ENOMEM;
			return;
		}
		t->cells = n;
		t->cap = cap;
	}
	dup = strdup(s);
	if (!dup) {
		t->err = -ENOMEM;
		return;
	}
	t->cells[t->ncells++] = dup;
}

static void tbl_row(FILE *f, const struct tbl *t, const int *w, const char *const *cells)
{
	int c;

	for (c = 0; c < t->ncols; c++) {
		const char *sep = c ? " " : "";

		if (!t->cols[c].left)
			fprintf(f, "%s%*s", sep, w[c], cells[c]);
		else if (c == t->ncols - 1)	/* no trailing blanks */
			fprintf(f, "%s%s", sep, cells[c]);
		else
			fprintf(f, "%s%-*s", sep, w[c], cells[c]);
	}
	fputc('\n', f);
}

/* Prints the table and frees it; 0 or -ENOMEM (nothing printed). */
static int tbl_print(struct tbl *t, FILE *f)
{
	const char *heads[16];
	int w[16], c, i, err = t->err;

	if (!err && t->ncols > 16)
		err = -EINVAL;
	for (c = 0; !err && c < t->ncols; c++) {
		heads[c] = t->cols[c].head;
		w[c] = t->cols[c].minw > (int)strlen(heads[c]) ? t->cols[c].minw
							       : (int)strlen(heads[c]);
	}
	for (i = 0; !err && i < t->ncells; i++) {
		int l = strlen(t->cells[i]);

		if (l > w[i % t->ncols])
			w[i % t->ncols] = l;
	}
	if (!err) {
		tbl_row(f, t, w, heads);
		for (i = 0; i + t->ncols <= t->ncells; i += t->ncols)
			tbl_row(f, t, w, (const char *const *)t->cells + i);
	}
	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->ncells = t->cap = 0;
	return err;
}

/* --- options shared by the commands --------------------------------------- */

#define SOCKET_HELP \
	"  -s, --socket PATH  penstockd's control socket (default $" PS_SOCKET_ENV ", else\n" \
	"                     " PS_CONTROL_SOCKET ")\n"
#define EXIT_HELP \
	"exit status: 0 ok, 1 penstockd missing or refused the request, 2 bad usage\n"

enum { OPT_SOCKET = 's', OPT_JSON = 'j', OPT_HELP = 'h' };

#define COMMON_OPTS \
	{ "socket", required_argument, NULL, OPT_SOCKET }, \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "help", no_argument, NULL, OPT_HELP }

/* Result of a command's request: print it as JSON, or hand it back. */
static int answer_json(const char *cmd, json_t *ans)
{
	int ret = PS_EXIT_OK;

	if (ps_ctl_print_json(stdout, ans)) {
		fprintf(stderr, "penstock %s: cannot write the answer\n", cmd);
		ret = PS_EXIT_FAIL;
	}
	json_decref(ans);
	return ret;
}

static int usage_error(const char *usage)
{
	fputs(usage, stderr);
	return PS_EXIT_INPUT;
}

static int extra_args(const char *cmd, int argc, char **argv, const char *usage)
{
	if (optind >= argc)
		return 0;
	fprintf(stderr, "penstock %s: unexpected argument '%s'\n\n", cmd, argv[optind]);
	return usage_error(usage);
}

/* --- status --------------------------------------------------------------- */

static const char status_usage[] =
	"usage: penstock status [--socket PATH] [--json]\n"
	"\n"
	"What penstockd is doing: its process, configuration and files, the\n"
	"interfaces it is attached to, its BPF programs and maps, the cost of its\n"
	"read-and-aggregate tick, and how many clients it holds.\n"
	"\n"
	SOCKET_HELP
	"  -j, --json         print the daemon's answer as one JSON object\n"
	"  -h, --help         this text\n"
	"\n"
	"examples:\n"
	"  penstock status\n"
	"  penstock status --json | jq .maps\n"
	"\n"
	EXIT_HELP;

static const char *yes_no(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : "-";
}

static void print_status(json_t *ans)
{
	static const struct tbl_col ifcols[] = {
		{ "INTERFACE", 0, true }, { "IFINDEX", 0, false }, { "INGRESS", 0, true },
		{ "EGRESS", 0, true }, { "CLSACT", 0, true },
	};
	static const struct tbl_col progcols[] = {
		{ "PROGRAM", 0, true }, { "ID", 0, false }, { "VERIFIED_INSNS", 0, false },
		{ "TAG", 0, true },
	};
	static const struct tbl_col mapcols[] = {
		{ "MAP", 0, true }, { "ENTRIES", 0, false }, { "MAX_ENTRIES", 0, false },
		{ "FILL", 6, false },
	};
	json_t *d = json_object_get(ans, "daemon"), *tick = json_object_get(ans, "tick");
	json_t *cl = json_object_get(ans, "clients"), *arr, *e, *v;
	char a[64], b[64], dur[64], ifc[64];
	struct tbl t;
	size_t i;

	printf("penstockd   pid %s, version %s, up %s (since %s)\n",
	       ps_fmt_count(json_object_get(d, "pid"), a, sizeof(a)), str_or(d, "version", "-"),
	       json_is_number(json_object_get(d, "uptime_s"))
		       ? ps_fmt_duration((long long)ps_json_num(d, "uptime_s"), dur, sizeof(dur))
		       : "-",
	       str_or(d, "started", "-"));
	printf("config      %s\n", str_or(d, "config", "-"));
	printf("socket      %s\n", str_or(d, "socket", "-"));
	printf("pin dir     %s%s\n", str_or(d, "pin_dir", "-"),
	       json_is_true(json_object_get(d, "adopted"))
		       ? " (datapath adopted from the previous penstockd)"
		       : "");
	if (*str_or(d, "state_file", ""))
		printf("state file  %s (last saved %s)\n", str_or(d, "state_file", "-"),
		       str_or(d, "last_save", "never"));
	else
		printf("state file  none\n");
	if (tick)
		printf("tick        last %.1f ms, avg %.1f ms, max %.1f ms "
		       "(%s ticks, every %s ms)\n",
		       ps_json_num(tick, "last_ms"), ps_json_num(tick, "avg_ms"),
		       ps_json_num(tick, "max_ms"),
		       ps_fmt_count(json_object_get(tick, "count"), a, sizeof(a)),
		       ps_fmt_count(json_object_get(tick, "interval_ms"), b, sizeof(b)));
	printf("clients     %s tracked, %s in map\n",
	       ps_fmt_count(json_object_get(cl, "tracked"), a, sizeof(a)),
	       ps_fmt_count(json_object_get(cl, "in_map"), b, sizeof(b)));
	v = json_object_get(ans, "detection");
	if (json_is_object(v) && !json_is_true(json_object_get(v, "enabled")))
		printf("detection   off\n");
	else if (json_is_object(v))
		printf("detection   %s runs, %s steps taken, %s subjects in escalation, "
		       "last pass %.1f ms (max %.1f ms) over %s clients\n",
		       ps_fmt_count(json_object_get(v, "runs"), a, sizeof(a)),
		       ps_fmt_count(json_object_get(v, "steps_taken"), b, sizeof(b)),
		       ps_fmt_count(json_object_get(v, "subjects"), dur, sizeof(dur)),
		       ps_json_num(v, "last_ms"), ps_json_num(v, "max_ms"),
		       ps_fmt_count(json_object_get(v, "clients_judged"), ifc, sizeof(ifc)));

	putchar('\n');
	arr = json_object_get(ans, "interfaces");
	if (!json_array_size(arr)) {
		printf("no interface: penstockd is attached nowhere\n");
	} else {
		tbl_init(&t, ifcols, 5);
		json_array_foreach(arr, i, e) {
			tbl_add(&t, str_or(e, "name", "-"));
			tbl_add(&t, ps_fmt_count(json_object_get(e, "ifindex"), a, sizeof(a)));
			tbl_add(&t, yes_no(e, "ingress"));
			tbl_add(&t, yes_no(e, "egress"));
			v = json_object_get(e, "created_clsact");
			tbl_add(&t, !json_is_boolean(v) ? "-"
				    : json_is_true(v)   ? "created by penstockd"
							: "already there");
		}
		tbl_print(&t, stdout);
	}

	putchar('\n');
	tbl_init(&t, progcols, 4);
	json_array_foreach(json_object_get(ans, "programs"), i, e) {
		tbl_add(&t, str_or(e, "name", "-"));
		tbl_add(&t, ps_fmt_count(json_object_get(e, "id"), a, sizeof(a)));
		tbl_add(&t, ps_fmt_count(json_object_get(e, "verified_insns"), a, sizeof(a)));
		tbl_add(&t, str_or(e, "tag", "-"));
	}
	tbl_print(&t, stdout);

	putchar('\n');
	tbl_init(&t, mapcols, 4);
	json_array_foreach(json_object_get(ans, "maps"), i, e) {
		json_t *n = json_object_get(e, "entries");
		double max = ps_json_num(e, "max_entries");

		tbl_add(&t, str_or(e, "name", "-"));
		tbl_add(&t, ps_fmt_count(n, a, sizeof(a)));
		tbl_add(&t, ps_fmt_count(json_object_get(e, "max_entries"), a, sizeof(a)));
		if (json_is_number(n) && max > 0)
			snprintf(a, sizeof(a), "%.1f%%", 100.0 * json_number_value(n) / max);
		else
			snprintf(a, sizeof(a), "-");
		tbl_add(&t, a);
	}
	tbl_print(&t, stdout);
}

int ps_cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = { COMMON_OPTS, {} };
	const char *sock = NULL;
	int json = 0, opt;
	json_t *ans;

	while ((opt = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			fputs(status_usage, stdout);
			return PS_EXIT_OK;
		default:
			return usage_error(status_usage);
		}
	}
	if (extra_args("status", argc, argv, status_usage))
		return PS_EXIT_INPUT;
	ans = ps_ctl_call("status", ps_ctl_socket_path(sock), ps_request(PS_CMD_STATUS));
	if (!ans)
		return PS_EXIT_FAIL;
	if (json)
		return answer_json("status", ans);
	print_status(ans);
	json_decref(ans);
	return PS_EXIT_OK;
}

/* --- clients -------------------------------------------------------------- */

static const char clients_usage[] =
	"usage: penstock clients [--sort KEY] [--window W] [--limit N] [--socket PATH] [--json]\n"
	"\n"
	"Per-client counts from penstockd, largest first. A window's figures are\n"
	"sliding: the current bucket plus the part of the previous one still inside\n"
	"the window. RPM is inference requests per minute over the window.\n"
	"\n"
	"  -o, --sort KEY     requests (default), inference_requests, rx_bytes,\n"
	"                     tx_bytes, tx_payload or rpm; descending, ties by address\n"
	"  -w, --window W     1m, 1h, 24h or total (default); total adds CONNS,\n"
	"                     RX_PKTS and TX_PKTS\n"
	"  -n, --limit N      the first N clients only (default 0: all)\n"
	SOCKET_HELP
	"  -j, --json         print {\"window\":..,\"sort\":..,\"total_clients\":..,\n"
	"                     \"clients\":[...]} (the fields of penstock replay --json,\n"
	"                     plus rpm, first_seen, last_seen)\n"
	"  -h, --help         this text\n"
	"\n"
	"examples:\n"
	"  penstock clients\n"
	"  penstock clients --window 1m --sort rpm --limit 10\n"
	"  penstock clients --window 24h --sort tx_payload --json\n"
	"\n"
	EXIT_HELP;

/* Columns of the clients table, by the JSON member each shows. */
struct field {
	const char *key;
	const char *head;
	int minw;
	bool total_only;	/* present in the total window only */
	bool decimal;		/* one decimal (rpm) */
};

static const struct field client_fields[] = {
	{ "connections", "CONNS", 6, true, false },
	{ "requests", "REQUESTS", 8, false, false },
	{ "inference_requests", "INFERENCE", 9, false, false },
	{ "rpm", "RPM", 7, false, true },
	{ "rx_packets", "RX_PKTS", 10, true, false },
	{ "tx_packets", "TX_PKTS", 10, true, false },
	{ "rx_bytes", "RX_BYTES", 12, false, false },
	{ "tx_bytes", "TX_BYTES", 12, false, false },
	{ "rx_payload", "RX_PAYLOAD", 12, false, false },
	{ "tx_payload", "TX_PAYLOAD", 12, false, false },
};

#define NFIELDS ((int)(sizeof(client_fields) / sizeof(client_fields[0])))

static const char *fmt_field(const struct field *f, json_t *obj, char *buf, size_t len)
{
	json_t *v = json_object_get(obj, f->key);

	return f->decimal ? ps_fmt_decimal(v, buf, len) : ps_fmt_count(v, buf, len);
}

static int print_clients(json_t *ans, bool total)
{
	struct tbl_col cols[1 + NFIELDS] = { { "CLIENT", 6, true } };
	const struct field *shown[NFIELDS];
	json_t *arr = json_object_get(ans, "clients"), *e;
	int n = 0, i, err;
	struct tbl t;
	char buf[64];
	size_t k;

	for (i = 0; i < NFIELDS; i++) {
		if (client_fields[i].total_only && !total)
			continue;
		shown[n] = &client_fields[i];
		cols[1 + n].head = client_fields[i].head;
		cols[1 + n].minw = client_fields[i].minw;
		n++;
	}
	tbl_init(&t, cols, 1 + n);
	json_array_foreach(arr, k, e) {
		tbl_add(&t, str_or(e, "client", "-"));
		for (i = 0; i < n; i++)
			tbl_add(&t, fmt_field(shown[i], e, buf, sizeof(buf)));
	}
	err = tbl_print(&t, stdout);
	if (!err && json_is_integer(json_object_get(ans, "total_clients")) &&
	    json_integer_value(json_object_get(ans, "total_clients")) > (json_int_t)k)
		printf("(%zu of %lld clients; --limit 0 shows all)\n", k,
		       (long long)json_integer_value(json_object_get(ans, "total_clients")));
	return err;
}

/* {"cmd":"clients","window":..,"sort":..,"limit":..}, as top asks too. */
json_t *ps_clients_request(const char *window, const char *sort, long long limit)
{
	json_t *req = ps_request(PS_CMD_CLIENTS);

	req = ps_request_set(req, PS_ARG_WINDOW, json_string(window));
	req = ps_request_set(req, PS_ARG_SORT, json_string(sort));
	return ps_request_set(req, PS_ARG_LIMIT, json_integer(limit));
}

int ps_cmd_clients(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sort", required_argument, NULL, 'o' },
		{ "window", required_argument, NULL, 'w' },
		{ "limit", required_argument, NULL, 'n' },
		COMMON_OPTS,
		{},
	};
	const char *sock = NULL, *window = "total", *sort = "requests";
	int json = 0, opt;
	char list[128], *end;
	long limit = 0;
	json_t *ans;

	while ((opt = getopt_long(argc, argv, "o:w:n:s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			if (ps_name_find(ps_sort_names, optarg) < 0) {
				fprintf(stderr, "penstock clients: --sort '%s': expected %s\n", optarg,
					ps_names_str(ps_sort_names, list, sizeof(list)));
				return PS_EXIT_INPUT;
			}
			sort = optarg;
			break;
		case 'w':
			if (ps_name_find(ps_window_names, optarg) < 0) {
				fprintf(stderr, "penstock clients: --window '%s': expected %s\n",
					optarg, ps_names_str(ps_window_names, list, sizeof(list)));
				return PS_EXIT_INPUT;
			}
			window = optarg;
			break;
		case 'n':
			errno = 0;
			limit = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || limit < 0 || limit > INT_MAX) {
				fprintf(stderr,
					"penstock clients: --limit '%s': expected a number of clients, "
					"0 for all\n",
					optarg);
				return PS_EXIT_INPUT;
			}
			break;
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			fputs(clients_usage, stdout);
			return PS_EXIT_OK;
		default:
			return usage_error(clients_usage);
		}
	}
	if (extra_args("clients", argc, argv, clients_usage))
		return PS_EXIT_INPUT;
	ans = ps_ctl_call("clients", ps_ctl_socket_path(sock),
			  ps_clients_request(window, sort, limit));
	if (!ans)
		return PS_EXIT_FAIL;
	if (json)
		return answer_json("clients", ans);
	if (print_clients(ans, !strcmp(window, "total"))) {
		fprintf(stderr, "penstock clients: out of memory\n");
		json_decref(ans);
		return PS_EXIT_FAIL;
	}
	json_decref(ans);
	return PS_EXIT_OK;
}

/* --- client --------------------------------------------------------------- */

static const char client_usage[] =
	"usage: penstock client ADDR [--socket PATH] [--json]\n"
	"\n"
	"One client's counts in every window (1m, 1h, 24h and total), and when\n"
	"penstockd first and last saw it. ADDR is an IPv4 or IPv6 address.\n"
	"\n"
	SOCKET_HELP
	"  -j, --json         print the daemon's answer as one JSON object\n"
	"  -h, --help         this text\n"
	"\n"
	"examples:\n"
	"  penstock client 198.18.0.2\n"
	"  penstock client fd00::2 --json\n"
	"\n"
	EXIT_HELP;

static int print_client(json_t *ans)
{
	static const struct tbl_col cols[] = {
		{ "FIELD", 0, true }, { "1m", 10, false }, { "1h", 10, false },
		{ "24h", 10, false }, { "total", 12, false },
	};
	json_t *wins = json_object_get(ans, "windows"), *inmap = json_object_get(ans, "in_map");
	char buf[64];
	struct tbl t;
	int i, w;

	printf("client      %s%s\n", str_or(ans, "client", "-"),
	       !json_is_boolean(inmap) ? ""
	       : json_is_true(inmap)   ? " (in the kernel map)"
				       : " (no longer in the kernel map)");
	printf("first seen  %s\n", str_or(ans, "first_seen", "-"));
	printf("last seen   %s\n\n", str_or(ans, "last_seen", "-"));
	tbl_init(&t, cols, 5);
	for (i = 0; i < NFIELDS; i++) {
		tbl_add(&t, client_fields[i].key);
		for (w = 0; ps_window_names[w]; w++)
			tbl_add(&t, fmt_field(&client_fields[i],
					      json_object_get(wins, ps_window_names[w]), buf,
					      sizeof(buf)));
	}
	return tbl_print(&t, stdout);
}

int ps_cmd_client(int argc, char **argv)
{
	static const struct option longopts[] = { COMMON_OPTS, {} };
	char canon[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	const char *sock = NULL;
	int json = 0, opt;
	json_t *ans;

	while ((opt = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			fputs(client_usage, stdout);
			return PS_EXIT_OK;
		default:
			return usage_error(client_usage);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "penstock client: no address given\n\n");
		return usage_error(client_usage);
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "penstock client: one address at a time ('%s' is one too many)\n\n",
			argv[optind + 1]);
		return usage_error(client_usage);
	}
	/* The daemon's spelling of the address, whatever the user's. */
	if (inet_pton(AF_INET, argv[optind], bin) == 1) {
		inet_ntop(AF_INET, bin, canon, sizeof(canon));
	} else if (inet_pton(AF_INET6, argv[optind], bin) == 1) {
		inet_ntop(AF_INET6, bin, canon, sizeof(canon));
	} else {
		fprintf(stderr, "penstock client: '%s' is not an IPv4 or IPv6 address\n",
			argv[optind]);
		return PS_EXIT_INPUT;
	}
	ans = ps_ctl_call("client", ps_ctl_socket_path(sock),
			  ps_request_set(ps_request(PS_CMD_CLIENT), PS_ARG_ADDR, json_string(canon)));
	if (!ans)
		return PS_EXIT_FAIL;
	if (json)
		return answer_json("client", ans);
	if (print_client(ans)) {
		fprintf(stderr, "penstock client: out of memory\n");
		json_decref(ans);
		return PS_EXIT_FAIL;
	}
	json_decref(ans);
	return PS_EXIT_OK;
}

/* --- endpoints ------------------------------------------------------------ */

static const char endpoints_usage[] =
	"usage: penstock endpoints [--socket PATH] [--json]\n"
	"\n"
	"The inference endpoints penstockd counts: name, TCP port, and the paths\n"
	"that make a request an inference request.\n"
	"\n"
	SOCKET_HELP
	"  -j, --json         print {\"endpoints\":[...]}\n"
	"  -h, --help         this text\n"
	"\n"
	"examples:\n"
	"  penstock endpoints\n"
	"  penstock endpoints --json\n"
	"\n"
	EXIT_HELP;

int ps_cmd_endpoints(int argc, char **argv)
{
	static const struct tbl_col cols[] = {
		{ "NAME", 0, true }, { "PORT", 5, false }, { "PATHS", 0, true },
	};
	static const struct option longopts[] = { COMMON_OPTS, {} };
	const char *sock = NULL;
	int json = 0, opt, err;
	json_t *ans, *e, *p;
	char buf[64], paths[PS_MAX_PATHS * (PS_PATH_MAX + 1) + 1];
	size_t i, j, off;
	struct tbl t;

	while ((opt = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			fputs(endpoints_usage, stdout);
			return PS_EXIT_OK;
		default:
			return usage_error(endpoints_usage);
		}
	}
	if (extra_args("endpoints", argc, argv, endpoints_usage))
		return PS_EXIT_INPUT;
	ans = ps_ctl_call("endpoints", ps_ctl_socket_path(sock),
			  ps_request(PS_CMD_ENDPOINTS));
	if (!ans)
		return PS_EXIT_FAIL;
	if (json)
		return answer_json("endpoints", ans);
	tbl_init(&t, cols, 3);
	json_array_foreach(json_object_get(ans, "endpoints"), i, e) {
		tbl_add(&t, str_or(e, "name", "-"));
		tbl_add(&t, ps_fmt_count(json_object_get(e, "port"), buf, sizeof(buf)));
		off = 0;
		paths[0] = '\0';
		json_array_foreach(json_object_get(e, "paths"), j, p) {
			if (off < sizeof(paths))
				off += snprintf(paths + off, sizeof(paths) - off, "%s%s",
						j ? "," : "", json_string_value(p) ?: "?");
		}
		tbl_add(&t, paths[0] ? paths : "-");
	}
	err = tbl_print(&t, stdout);
	json_decref(ans);
	if (err) {
		fprintf(stderr, "penstock endpoints: out of memory\n");
		return PS_EXIT_FAIL;
	}
	return PS_EXIT_OK;
}

/* --- reload, stop --------------------------------------------------------- */

static const char reload_usage[] =
	"usage: penstock reload [--socket PATH] [--json]\n"
	"\n"
	"Have penstockd re-read its configuration file, as SIGHUP does. An invalid\n"
	"file is reported (FILE:LINE:COLUMN) and the running configuration stays.\n"
	"\n"
	SOCKET_HELP
	"  -j, --json         print the daemon's answer as one JSON object\n"
	"  -h, --help         this text\n"
	"\n"
	"example:\n"
	"  penstock reload\n"
	"\n"
	EXIT_HELP;

int ps_cmd_reload(int argc, char **argv)
{
	static const struct option longopts[] = { COMMON_OPTS, {} };
	const char *sock = NULL, *file;
	json_t *ans, *st = NULL;
	int json = 0, opt;

	while ((opt = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			fputs(reload_usage, stdout);
			return PS_EXIT_OK;
		default:
			return usage_error(reload_usage);
		}
	}
	if (extra_args("reload", argc, argv, reload_usage))
		return PS_EXIT_INPUT;
	sock = ps_ctl_socket_path(sock);
	ans = ps_ctl_call("reload", sock, ps_request(PS_CMD_RELOAD));
	if (!ans)
		return PS_EXIT_FAIL;
	if (json)
		return answer_json("reload", ans);
	file = json_string_value(json_object_get(ans, "config"));
	if (!file) {
		/* An answer without the file's name: status has it. */
		st = ps_ctl_call("reload", sock, ps_request(PS_CMD_STATUS));
		file = json_string_value(json_object_get(json_object_get(st, "daemon"), "config"));
	}
	printf("penstockd: configuration reloaded from %s\n", file ? file : "its file");
	json_decref(st);
	json_decref(ans);
	return PS_EXIT_OK;
}

static const char stop_usage[] =
	"usage: penstock stop [--keep-datapath] [--socket PATH] [--json]\n"
	"\n"
	"Have penstockd save its state and exit. By default it detaches its BPF\n"
	"programs and unpins their maps.\n"
	"\n"
	"  -k, --keep-datapath\n"
	"                     leave the programs attached and the maps pinned, for the\n"
	"                     next penstockd (an upgrade) to adopt without missing a\n"
	"                     packet\n"
	SOCKET_HELP
	"  -j, --json         print the daemon's answer as one JSON object\n"
	"  -h, --help         this text\n"
	"\n"
	"examples:\n"
	"  penstock stop\n"
	"  penstock stop --keep-datapath && install -m 0755 penstockd /usr/local/sbin/ &&\n"
	"      systemctl start penstockd\n"
	"\n"
	EXIT_HELP;

int ps_cmd_stop(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "keep-datapath", no_argument, NULL, 'k' },
		COMMON_OPTS,
		{},
	};
	const char *sock = NULL;
	int json = 0, keep = 0, opt;
	json_t *ans;

	while ((opt = getopt_long(argc, argv, "ks:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			keep = 1;
			break;
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			fputs(stop_usage, stdout);
			return PS_EXIT_OK;
		default:
			return usage_error(stop_usage);
		}
	}
	if (extra_args("stop", argc, argv, stop_usage))
		return PS_EXIT_INPUT;
	ans = ps_ctl_call("stop", ps_ctl_socket_path(sock),
			  ps_request_set(ps_request(PS_CMD_STOP), PS_ARG_KEEP_DATAPATH,
					 json_boolean(keep)));
	if (!ans)
		return PS_EXIT_FAIL;
	if (json)
		return answer_json("stop", ans);
	printf(keep ? "penstockd: stopping; its programs stay attached and its maps pinned for "
		      "the next penstockd\n"
		    : "penstockd: stopping\n");
	json_decref(ans);
	return PS_EXIT_OK;
}

/* --- enforcement: block, throttle, unblock, enforcement ------------------- */

#define SUBJECT_HELP \
	"ADDR|PREFIX is an IPv4 or IPv6 address (one client) or a prefix such as\n" \
	"203.0.113.0/24 or 2001:db8::/48 (every client under it), host bits zero.\n"

/* "2mbit": bits per second in the largest unit that divides them exactly. */
static const char *fmt_rate(uint64_t bps, char *buf, size_t len)
{
	static const struct {
		uint64_t mult;
		const char *unit;
	} units[] = {
		{ 1000000000000ULL, "tbit" }, { 1000000000ULL, "gbit" }, { 1000000ULL, "mbit" },
		{ 1000ULL, "kbit" }, { 1ULL << 30, "gibit" }, { 1ULL << 20, "mibit" },
		{ 1ULL << 10, "kibit" },
	};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (bps >= units[i].mult && bps % units[i].mult == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(bps / units[i].mult),
				 units[i].unit);
			return buf;
		}
	}
	snprintf(buf, len, "%llubit", (unsigned long long)bps);
	return buf;
}

/* The one positional argument of an enforcement command, parsed and
 * normalized into subject (ps_prefix_str's spelling). 0 or an exit status. */
static int enf_subject(const char *cmd, int argc, char **argv, const char *usage, char *subject,
		       size_t len)
{
	struct ps_prefix p;
	char err[256];

	if (optind >= argc) {
		fprintf(stderr, "penstock %s: no address or prefix given\n\n", cmd);
		return usage_error(usage);
	}
	if (optind + 1 < argc) {
		fprintf(stderr,
			"penstock %s: one address or prefix at a time ('%s' is one too many)\n\n",
			cmd, argv[optind + 1]);
		return usage_error(usage);
	}
	if (ps_parse_prefix(argv[optind], &p, err, sizeof(err))) {
		fprintf(stderr, "penstock %s: '%s': expected %s\n", cmd, argv[optind], err);
		return PS_EXIT_INPUT;
	}
	ps_prefix_str(&p, subject, len);
	return 0;
}

/* --for DURATION: seconds, 1..PS_ENF_FOR_MAX. */
static int enf_for(const char *cmd, const char *arg, uint64_t *secs)
{
	char err[256];

	if (ps_parse_duration(arg, secs, err, sizeof(err))) {
		fprintf(stderr, "penstock %s: --for '%s': expected %s\n", cmd, arg, err);
		return PS_EXIT_INPUT;
	}
	if (*secs == 0 || *secs > PS_ENF_FOR_MAX) {
		fprintf(stderr,
			"penstock %s: --for '%s': expected a duration from 1s to %llud, "
			"such as 10m (without --for: until removed)\n",
			cmd, arg, PS_ENF_FOR_MAX / 86400);
		return PS_EXIT_INPUT;
	}
	return 0;
}

/* --reason TEXT: at most PS_ENF_REASON_MAX bytes of printable ASCII. */
static int enf_reason(const char *cmd, const char *arg)
{
	size_t i, n = strlen(arg);

	for (i = 0; i < n; i++)
		if ((unsigned char)arg[i] < 0x20 || (unsigned char)arg[i] > 0x7e)
			break;
	if (n > PS_ENF_REASON_MAX || i < n) {
		fprintf(stderr,
			"penstock %s: --reason: expected at most %d printable ASCII characters "
			"(got %zu bytes%s)\n",
			cmd, PS_ENF_REASON_MAX, n,
			i < n ? ", with a control or non-ASCII character" : "");
		return PS_EXIT_INPUT;
	}
	return 0;
}

/* A decimal integer lo..hi, digits only. */
static int enf_uint(const char *cmd, const char *opt, const char *arg, unsigned long long lo,
		    unsigned long long hi, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = arg[0] >= '0' && arg[0] <= '9' ? strtoull(arg, &end, 10) : 0;
	if (arg[0] < '0' || arg[0] > '9' || errno || *end || *v < lo || *v > hi) {
		fprintf(stderr, "penstock %s: --%s '%s': expected an integer %llu..%llu\n", cmd, opt,
			arg, lo, hi);
		return PS_EXIT_INPUT;
	}
	return 0;
}

/* Adds an integer member; on failure frees req and returns NULL. */
static json_t *req_set_int(json_t *req, enum ps_arg arg, unsigned long long v)
{
	return ps_request_set(req, arg, json_integer((json_int_t)v));
}

/* "for 10m" or "until removed (penstock unblock X)". */
static void print_term(const char *subject, uint64_t for_s)
{
	char dur[64];

	if (for_s)
		printf(" for %s", ps_duration_str(for_s, dur, sizeof(dur)));
	else
		printf(" until removed (penstock unblock %s)", subject);
}

/* The answer to block or throttle, as text. what: "blocked X", ... */
static int enf_set_done(const char *cmd, json_t *ans, bool json, const char *what,
			const char *subject, uint64_t for_s, const char *reason)
{
	bool dry = json_is_true(json_object_get(ans, "dry_run"));

	if (json)
		return answer_json(cmd, ans);
	fputs(what, stdout);
	print_term(subject, for_s);
	if (reason && *reason)
		printf(": %s", reason);
	putchar('\n');
	if (dry)
		printf("(dry run: penstockd counts what this would do, and touches no packet)\n");
	json_decref(ans);
	return PS_EXIT_OK;
}

static const char block_usage[] =
	"usage: penstock block ADDR|PREFIX [--for DURATION] [--reason TEXT]\n"
	"                      [--socket PATH] [--json]\n"
	"\n"
	"Have penstockd drop every packet from or to a client, or every client under\n"
	"a prefix, until penstock unblock or, with --for, until it expires. It\n"
	"replaces any enforcement on the same subject.\n"
	"\n"
	SUBJECT_HELP
	"\n"
	"  -f, --for DURATION lift the block after DURATION: 30s, 10m, 2h, 1d, at most\n"
	"                     3650d (default: until removed)\n"
	"  -r, --reason TEXT  why, shown by penstock enforcement: at most 63 printable\n"
	"                     ASCII characters\n"
	SOCKET_HELP
	"  -j, --json         print the daemon's answer as one JSON object\n"
	"  -h, --help         this text\n"
	"\n"
	"examples:\n"
	"  penstock block 203.0.113.7\n"
	"  penstock block 203.0.113.0/24 --for 10m --reason \"bulk completions\"\n"
	"  penstock block 2001:db8::/48 --reason abuse --json\n"
	"\n"
	EXIT_HELP;

int ps_cmd_block(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "for", required_argument, NULL, 'f' },
		{ "reason", required_argument, NULL, 'r' },
		COMMON_OPTS,
		{},
	};
	const char *sock = NULL, *reason = NULL;
	char subject[INET6_ADDRSTRLEN + 8], what[sizeof(subject) + 16];
	uint64_t for_s = 0;
	int json = 0, opt, ret;
	json_t *req, *ans;

	while ((opt = getopt_long(argc, argv, "f:r:s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if ((ret = enf_for("block", optarg, &for_s)))
				return ret;
			break;
		case 'r':
			if ((ret = enf_reason("block", optarg)))
				return ret;
			reason = optarg;
			break;
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			fputs(block_usage, stdout);
			return PS_EXIT_OK;
		default:
			return usage_error(block_usage);
		}
	}
	if ((ret = enf_subject("block", argc, argv, block_usage, subject, sizeof(subject))))
		return ret;
	req = ps_request_set(ps_request(PS_CMD_BLOCK), PS_ARG_SUBJECT, json_string(subject));
	if (for_s)
		req = req_set_int(req, PS_ARG_FOR_S, for_s);
	if (reason && *reason)
		req = ps_request_set(req, PS_ARG_REASON, json_string(reason));
	ans = ps_ctl_call("block", ps_ctl_socket_path(sock), req);
	if (!ans)
		return PS_EXIT_FAIL;
	snprintf(what, sizeof(what), "blocked %s", subject);
	return enf_set_done("block", ans, json, what, subject, for_s, reason);
}

static const char throttle_usage[] =
	"usage: penstock throttle ADDR|PREFIX (--rpm N | --rate RATE) [--burst N]\n"
	"                         [--for DURATION] [--reason TEXT] [--socket PATH]\n"
	"                         [--json]\n"
	"\n"
	"Have penstockd limit a client, or each client under a prefix on its own:\n"
	"with --rpm, to N inference requests a minute (a request over the limit is\n"
	"held back: its first segment is dropped, and TCP sends it again); with\n"
	"--rate, what the endpoints send it, shaped to RATE. Until penstock unblock\n"
	"or, with --for, until it expires. It replaces any enforcement on the same\n"
	"subject.\n"
	"\n"
	SUBJECT_HELP
	"\n"
	"  -m, --rpm N        at most N inference requests a minute, 1..10000000\n"
	"  -b, --burst N      with --rpm: up to N requests back to back, 1..1000000\n"
	"                     (default 1: evenly spaced)\n"
	"  -R, --rate RATE    shape what the endpoints send it to RATE, written as tc\n"
	"                     does: 2mbit, 500kbit, 1.5gbit, 100kbps (bytes); at most\n"
	"                     1tbit\n"
	"  -f, --for DURATION lift the limit after DURATION: 30s, 10m, 2h, 1d, at most\n"
	"                     3650d (default: until removed)\n"
	"  -r, --reason TEXT  why, shown by penstock enforcement: at most 63 printable\n"
	"                     ASCII characters\n"
	SOCKET_HELP
	"  -j, --json         print the daemon's answer as one JSON object\n"
	"  -h, --help         this text\n"
	"\n"
	"examples:\n"
	"  penstock throttle 198.18.0.2 --rpm 120\n"
	"  penstock throttle 203.0.113.0/24 --rpm 60 --burst 10 --for 1h --reason quota\n"
	"  penstock throttle 2001:db8::7 --rate 2mbit --for 30m\n"
	"\n"
	EXIT_HELP;

int ps_cmd_throttle(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rpm", required_argument, NULL, 'm' },
		{ "burst", required_argument, NULL, 'b' },
		{ "rate", required_argument, NULL, 'R' },
		{ "for", required_argument, NULL, 'f' },
		{ "reason", required_argument, NULL, 'r' },
		COMMON_OPTS,
		{},
	};
	const char *sock = NULL, *reason = NULL;
	char subject[INET6_ADDRSTRLEN + 8], what[sizeof(subject) + 96], rate[64], err[256];
	unsigned long long rpm = 0, burst = 0;
	uint64_t for_s = 0, rate_bps = 0;
	int json = 0, opt, ret;
	json_t *req, *ans;

	while ((opt = getopt_long(argc, argv, "m:b:R:f:r:s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if ((ret = enf_uint("throttle", "rpm", optarg, 1, PS_ENF_RPM_MAX, &rpm)))
				return ret;
			break;
		case 'b':
			if ((ret = enf_uint("throttle", "burst", optarg, 1, PS_ENF_BURST_MAX,
					    &burst)))
				return ret;
			break;
		case 'R':
			if (ps_parse_rate(optarg, &rate_bps, err, sizeof(err))) {
				fprintf(stderr, "penstock throttle: --rate '%s': expected %s\n",
					optarg, err);
				return PS_EXIT_INPUT;
			}
			if (rate_bps > PS_ENF_RATE_MAX) {
				fprintf(stderr,
					"penstock throttle: --rate '%s': expected a rate of at most "
					"1tbit\n",
					optarg);
				return PS_EXIT_INPUT;
			}
			break;
		case 'f':
			if ((ret = enf_for("throttle", optarg, &for_s)))
				return ret;
			break;
		case 'r':
			if ((ret = enf_reason("throttle", optarg)))
				return ret;
			reason = optarg;
			break;
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			fputs(throttle_usage, stdout);
			return PS_EXIT_OK;
		default:
			return usage_error(throttle_usage);
		}
	}
	if ((ret = enf_subject("throttle", argc, argv, throttle_usage, subject, sizeof(subject))))
		return ret;
	if (!rpm == !rate_bps) {
		fprintf(stderr, rpm ? "penstock throttle: --rpm and --rate exclude each other\n"
				    : "penstock throttle: give --rpm N or --rate RATE\n\n%s",
			throttle_usage);
		return PS_EXIT_INPUT;
	}
	if (burst && !rpm) {
		fprintf(stderr, "penstock throttle: --burst goes with --rpm (a request limit), "
				"not with --rate\n");
		return PS_EXIT_INPUT;
	}
	req = ps_request_set(ps_request(PS_CMD_THROTTLE), PS_ARG_SUBJECT, json_string(subject));
	if (rpm) {
		req = req_set_int(req, PS_ARG_RPM, rpm);
		if (burst)
			req = req_set_int(req, PS_ARG_BURST, burst);
		snprintf(what, sizeof(what), "throttled %s to %llu rpm, burst %llu,", subject, rpm,
			 burst ? burst : 1);
	} else {
		req = req_set_int(req, PS_ARG_RATE_BPS, rate_bps);
		snprintf(what, sizeof(what), "shaping %s to %s", subject,
			 fmt_rate(rate_bps, rate, sizeof(rate)));
	}
	if (for_s)
		req = req_set_int(req, PS_ARG_FOR_S, for_s);
	if (reason && *reason)
		req = ps_request_set(req, PS_ARG_REASON, json_string(reason));
	ans = ps_ctl_call("throttle", ps_ctl_socket_path(sock), req);
	if (!ans)
		return PS_EXIT_FAIL;
	return enf_set_done("throttle", ans, json, what, subject, for_s, reason);
}

static const char unblock_usage[] =
	"usage: penstock unblock ADDR|PREFIX [--socket PATH] [--json]\n"
	"\n"
	"Remove the enforcement on exactly ADDR|PREFIX: a block, a throttle or a\n"
	"shaping, set by hand or by penstockd (a day limit, the detector: those may\n"
	"be set again while their cause lasts). Entries on other prefixes, wider or\n"
	"narrower, stay: penstock enforcement lists them.\n"
	"\n"
	SUBJECT_HELP
	"\n"
	SOCKET_HELP
	"  -j, --json         print {\"subject\":..,\"removed\":N}\n"
	"  -h, --help         this text\n"
	"\n"
	"examples:\n"
	"  penstock unblock 203.0.113.0/24\n"
	"  penstock unblock 2001:db8::7\n"
	"\n"
	"exit status: 0 ok, 1 penstockd missing or refused the request, or no\n"
	"enforcement on the subject, 2 bad usage\n";

int ps_cmd_unblock(int argc, char **argv)
{
	static const struct option longopts[] = { COMMON_OPTS, {} };
	char subject[INET6_ADDRSTRLEN + 8];
	const char *sock = NULL;
	int json = 0, opt, ret;
	json_t *ans, *removed;
	json_int_t n;

	while ((opt = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			fputs(unblock_usage, stdout);
			return PS_EXIT_OK;
		default:
			return usage_error(unblock_usage);
		}
	}
	if ((ret = enf_subject("unblock", argc, argv, unblock_usage, subject, sizeof(subject))))
		return ret;
	ans = ps_ctl_call("unblock", ps_ctl_socket_path(sock),
			  ps_request_set(ps_request(PS_CMD_UNBLOCK), PS_ARG_SUBJECT,
					 json_string(subject)));
	if (!ans)
		return PS_EXIT_FAIL;
	removed = json_object_get(ans, "removed");
	if (!json_is_integer(removed) || json_integer_value(removed) < 0) {
		fprintf(stderr, "penstock unblock: penstockd's answer has no \"removed\" count\n");
		json_decref(ans);
		return PS_EXIT_FAIL;
	}
	n = json_integer_value(removed);
	if (json) {
		ret = answer_json("unblock", ans);
	} else {
		if (n)
			printf("removed %lld %s for %s\n", (long long)n, n == 1 ? "entry" : "entries",
			       subject);
		json_decref(ans);
		ret = PS_EXIT_OK;
	}
	if (!n) {
		fprintf(stderr, "penstock unblock: no enforcement on %s\n", subject);
		ret = PS_EXIT_FAIL;
	}
	return ret;
}

static const char enforcement_usage[] =
	"usage: penstock enforcement [--socket PATH] [--json]\n"
	"\n"
	"The blocks, throttles and shapings penstockd has in force: on what subject\n"
	"(a client or a prefix), the limit (DETAIL), who set it (ORIGIN: manual,\n"
	"day_limit, minute_limit or detector), the time left (LEFT, - for until\n"
	"removed) and why.\n"
	"An entry marked (dry run) is counted, and touches no packet.\n"
	"\n"
	SOCKET_HELP
	"  -j, --json         print {\"dry_run\":..,\"entries\":[...]}\n"
	"  -h, --help         this text\n"
	"\n"
	"examples:\n"
	"  penstock enforcement\n"
	"  penstock enforcement --json | jq '.entries[] | select(.origin == \"detector\")'\n"
	"\n"
	EXIT_HELP;

/* DETAIL: "120 rpm, burst 1", "2mbit" or "-". */
static const char *enf_detail(json_t *e, char *buf, size_t len)
{
	const char *action = str_or(e, "action", "");
	json_t *rate = json_object_get(e, "rate_bps");
	char a[32], b[32];

	if (!strcmp(action, "throttle"))
		snprintf(buf, len, "%s rpm, burst %s",
			 ps_fmt_count(json_object_get(e, "rpm"), a, sizeof(a)),
			 ps_fmt_count(json_object_get(e, "burst"), b, sizeof(b)));
	else if (!strcmp(action, "shape") && json_is_integer(rate) && json_integer_value(rate) > 0)
		fmt_rate(json_integer_value(rate), buf, len);
	else
		snprintf(buf, len, "-");
	return buf;
}

struct enf_row {
	struct ps_prefix p;
	bool parsed;	/* p holds the entry's subject */
	size_t idx;	/* in the daemon's answer: ties keep its order */
	json_t *e;
};

/* By subject: IPv4 before IPv6, by address, then prefix length. */
static int enf_row_cmp(const void *a, const void *b)
{
	const struct enf_row *x = a, *y = b;
	int c;

	if (x->parsed != y->parsed)
		return x->parsed ? -1 : 1;
	if (x->parsed) {
		if (x->p.family != y->p.family)
			return x->p.family < y->p.family ? -1 : 1;
		c = memcmp(x->p.addr, y->p.addr, sizeof(x->p.addr));
		if (c)
			return c;
		if (x->p.len != y->p.len)
			return x->p.len < y->p.len ? -1 : 1;
	}
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int print_enforcement(json_t *ans)
{
	static const struct tbl_col cols[] = {
		{ "SUBJECT", 0, true }, { "ACTION", 0, true }, { "DETAIL", 0, true },
		{ "ORIGIN", 0, true }, { "LEFT", 0, false }, { "REASON", 0, true },
	};
	json_t *entries = json_object_get(ans, "entries"), *e, *left;
	size_t i, n = json_array_size(entries);
	struct enf_row *rows;
	char buf[128];
	struct tbl t;
	int err;

	if (json_is_true(json_object_get(ans, "dry_run")))
		printf("penstockd is in dry run: it counts what enforcement would do, and "
		       "touches no packet\n\n");
	if (!json_array_size(entries)) {
		printf("no enforcement in force\n");
		return 0;
	}
	rows = calloc(n, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	json_array_foreach(entries, i, e) {
		const char *subj = json_string_value(json_object_get(e, "subject"));

		rows[i].parsed = subj && !ps_parse_prefix(subj, &rows[i].p, buf, sizeof(buf));
		rows[i].idx = i;
		rows[i].e = e;
	}
	qsort(rows, n, sizeof(*rows), enf_row_cmp);
	tbl_init(&t, cols, 6);
	for (i = 0; i < n; i++) {
		e = rows[i].e;
		tbl_add(&t, str_or(e, "subject", "-"));
		snprintf(buf, sizeof(buf), "%s%s", str_or(e, "action", "-"),
			 json_is_true(json_object_get(e, "dry_run")) ? " (dry run)" : "");
		tbl_add(&t, buf);
		tbl_add(&t, enf_detail(e, buf, sizeof(buf)));
		tbl_add(&t, str_or(e, "origin", "-"));
		left = json_object_get(e, "left_s");
		tbl_add(&t, json_is_integer(left) && json_integer_value(left) >= 0
				    ? ps_duration_str(json_integer_value(left), buf, sizeof(buf))
				    : "-");
		tbl_add(&t, str_or(e, "reason", "-"));
	}
	err = tbl_print(&t, stdout);
	free(rows);
	return err;
}

int ps_cmd_enforcement(int argc, char **argv)
{
	static const struct option longopts[] = { COMMON_OPTS, {} };
	const char *sock = NULL;
	int json = 0, opt;
	json_t *ans;

	while ((opt = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			fputs(enforcement_usage, stdout);
			return PS_EXIT_OK;
		default:
			return usage_error(enforcement_usage);
		}
	}
	if (extra_args("enforcement", argc, argv, enforcement_usage))
		return PS_EXIT_INPUT;
	ans = ps_ctl_call("enforcement", ps_ctl_socket_path(sock),
			  ps_request(PS_CMD_ENFORCEMENT));
	if (!ans)
		return PS_EXIT_FAIL;
	if (json)
		return answer_json("enforcement", ans);
	if (print_enforcement(ans)) {
		fprintf(stderr, "penstock enforcement: out of memory\n");
		json_decref(ans);
		return PS_EXIT_FAIL;
	}
	json_decref(ans);
	return PS_EXIT_OK;
}

/* --- alerts ---------------------------------------------------------------- */

static const char alerts_usage[] =
	"usage: penstock alerts [--since DURATION] [--socket PATH] [--json]\n"
	"\n"
	"The alerts penstockd's detectors raised, oldest first, out of those it keeps\n"
	"in memory (alerts.keep_in_memory in the config, 1000 by default): when\n"
	"(UTC), on what subject (KIND: one client or a prefix), which detector, its\n"
	"score, the action it called for and the evidence in short. With a webhook\n"
	"configured, a last line says whether alerts wait in its spool, and why.\n"
	"\n"
	"  -S, --since DURATION\n"
	"                     only the alerts of the last DURATION: 30s, 10m, 2h, 1d\n"
	"                     (default: every alert kept)\n"
	SOCKET_HELP
	"  -j, --json         print {\"alerts\":[...]} (and \"webhook\":{...})\n"
	"  -h, --help         this text\n"
	"\n"
	"examples:\n"
	"  penstock alerts --since 1h\n"
	"  penstock alerts --json | jq '.alerts[] | select(.action == \"block\")'\n"
	"\n"
	EXIT_HELP;

/* The evidence in one short line, "-" when there is none. */
static const char *evidence_str(json_t *ev, char *buf, size_t len)
{
	ps_alert_evidence_str(ev, buf, len);
	return buf[0] ? buf : "-";
}

int ps_alerts_table(json_t *alerts)
{
	static const struct tbl_col cols[] = {
		{ "TIME", 0, true }, { "SUBJECT", 0, true }, { "KIND", 0, true },
		{ "DETECTOR", 0, true }, { "SCORE", 0, false }, { "ACTION", 0, true },
		{ "EVIDENCE", 0, true },
	};
	json_t *a, *score;
	char buf[128];
	struct tbl t;
	size_t i;

	tbl_init(&t, cols, 7);
	json_array_foreach(alerts, i, a) {
		/* To the second: "2026-11-23T02:00:00.123Z" -> "2026-11-23T02:00:00Z". */
		snprintf(buf, sizeof(buf), "%.19sZ", str_or(a, "time", "-"));
		tbl_add(&t, strlen(buf) == 20 ? buf : str_or(a, "time", "-"));
		tbl_add(&t, str_or(a, "subject", "-"));
		tbl_add(&t, str_or(a, "kind", "-"));
		tbl_add(&t, str_or(a, "detector", "-"));
		score = json_object_get(a, "score");
		if (json_is_number(score))
			snprintf(buf, sizeof(buf), "%.2f", json_number_value(score));
		else
			snprintf(buf, sizeof(buf), "-");
		tbl_add(&t, buf);
		tbl_add(&t, str_or(a, "action", "-"));
		tbl_add(&t, evidence_str(json_object_get(a, "evidence"), buf, 72));
	}
	return tbl_print(&t, stdout);
}

static int print_alerts(json_t *ans, uint64_t since_s)
{
	json_t *alerts = json_object_get(ans, "alerts"), *wh = json_object_get(ans, "webhook");
	char buf[128], dur[64];
	int err = 0;

	if (!json_array_size(alerts)) {
		if (since_s)
			printf("no alerts in the last %s\n", ps_duration_str(since_s, dur, sizeof(dur)));
		else
			printf("no alerts\n");
	} else {
		err = ps_alerts_table(alerts);
	}
	if (!err && wh) {
		json_t *batches = json_object_get(wh, "spooled_batches");

		if (json_integer_value(batches) || *str_or(wh, "last_error", ""))
			printf("\nwebhook %s: failing since %s: %s; %lld batches (%s) wait in %s\n",
			       str_or(wh, "url", "-"), str_or(wh, "failing_since", "-"),
			       str_or(wh, "last_error", "-"), (long long)json_integer_value(batches),
			       ps_fmt_bytes(ps_json_num(wh, "spooled_bytes"), buf, sizeof(buf)),
			       str_or(wh, "spool_dir", "-"));
		else
			printf("\nwebhook %s: %lld alerts delivered, none waiting\n",
			       str_or(wh, "url", "-"),
			       (long long)json_integer_value(json_object_get(wh, "delivered")));
	}
	return err;
}

int ps_cmd_alerts(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 'S' },
		COMMON_OPTS,
		{},
	};
	const char *sock = NULL;
	uint64_t since_s = 0;
	int json = 0, opt;
	char err[256];
	json_t *ans, *req;

	while ((opt = getopt_long(argc, argv, "S:s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'S':
			if (ps_parse_duration(optarg, &since_s, err, sizeof(err))) {
				fprintf(stderr, "penstock alerts: --since '%s': expected %s\n", optarg,
					err);
				return PS_EXIT_INPUT;
			}
			if (since_s == 0 || since_s > PS_ENF_FOR_MAX) {
				fprintf(stderr, "penstock alerts: --since '%s': expected a duration from "
						"1s to %llud, such as 10m\n", optarg, PS_ENF_FOR_MAX / 86400);
				return PS_EXIT_INPUT;
			}
			break;
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			fputs(alerts_usage, stdout);
			return PS_EXIT_OK;
		default:
			return usage_error(alerts_usage);
		}
	}
	if (extra_args("alerts", argc, argv, alerts_usage))
		return PS_EXIT_INPUT;
	req = ps_request(PS_CMD_ALERTS);
	if (since_s)
		req = req_set_int(req, PS_ARG_SINCE_S, since_s);
	ans = ps_ctl_call("alerts", ps_ctl_socket_path(sock), req);
	if (!ans)
		return PS_EXIT_FAIL;
	if (json)
		return answer_json("alerts", ans);
	if (print_alerts(ans, since_s)) {
		fprintf(stderr, "penstock alerts: out of memory\n");
		json_decref(ans);
		return PS_EXIT_FAIL;
	}
	json_decref(ans);
	return PS_EXIT_OK;
}
