// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstock top: penstockd's clients, live and full screen, as top and
 * iftop show processes and flows. Every interval it asks the daemon for its
 * status and for as many clients of the chosen window as the screen has
 * rows, plus each shown client's total requests (the "client" request;
 * the total window itself when that is the one shown). A daemon that goes
 * away is reported on the screen and asked again at the next interval.
 *
 * Signals only set a flag (the loop waits in poll(), which they cut
 * short); the terminal is restored on every way out.
 */
#include <curses.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/format.h"
#include "cli/opts.h"
#include "common/clock.h"

/* Two header lines, a message line, the column header; a footer. */
#define TOP_HEAD_LINES	4
#define TOP_FOOT_LINES	1

static const char top_usage[] =
	"usage: penstock top [--sort KEY] [--window W] [--interval SECONDS] [--socket PATH]\n"
	"       penstock top --json [--sort KEY] [--window W] [--limit N] [--socket PATH]\n"
	"\n"
	"penstockd's clients, live, full screen, largest first: inference requests\n"
	"per minute (RPM), requests (REQ), inference requests (INFER), bytes in and\n"
	"out and unique payload out, the completion tokens the answers reported\n"
	"(TX_TOK) over the chosen window, and every request the client ever made\n"
	"(TOTAL_REQ). Bytes are in units of 1024 (K, M, G, ...). With --json, one\n"
	"look, printed, no terminal needed.\n"
	"\n"
	"  -o, --sort KEY          requests (default), inference_requests, rx_bytes,\n"
	"                          tx_bytes, tx_payload, tx_tokens, rx_tokens or rpm\n"
	"  -b, --by KEY            the same as --sort\n"
	"  -w, --window W          1m (default), 1h, 24h or total\n"
	"  -d, --interval SECONDS  time between refreshes, 0.1 to 3600 (default 1)\n"
	"  -n, --limit N           --json: the first N clients (default 20, 0: all)\n"
	"  -s, --socket PATH       penstockd's control socket (default $" PS_SOCKET_ENV ",\n"
	"                          else " PS_CONTROL_SOCKET ")\n"
	"  -j, --json              print {\"window\":..,\"sort\":..,\"total_clients\":..,\n"
	"                          \"clients\":[...]} once, as penstock clients --json\n"
	"  -h, --help              this text\n"
	"\n"
	"keys: r requests, i inference requests, b rx bytes, t tx bytes, p tx payload,\n"
	"      k tx tokens, m rpm (sort, descending); w next window (1m, 1h, 24h,\n"
	"      total); space refresh now; q quit\n"
	"\n"
	"examples:\n"
	"  penstock top\n"
	"  penstock top --sort rpm --window 1h --interval 5\n"
	"  penstock top --by tx_tokens --window 1h --json\n"
	"\n"
	"exit status: 0 ok, 1 no terminal to draw on (or, with --json, penstockd\n"
	"missing or refused the request), 2 bad usage, 3 permission denied (--json)\n";

struct top_opts {
	struct ps_opts_common c;
	const char *sort, *window;
	long interval_ms;
	uint64_t limit;
};

const struct ps_cmd_opts ps_cmd_top_opts = {
	"top", top_usage, PS_OPTS_SOCKET | PS_OPTS_JSON,
	(const struct ps_opt[]){
		PS_OPT_SORT(struct top_opts, sort),
		{ .name = "by", .key = 'b', .type = PS_OPT_CHOICE, .choices = ps_sort_names,
		  .off = offsetof(struct top_opts, sort) },
		PS_OPT_WINDOW(struct top_opts, window),
		{ .name = "interval", .key = 'd', .type = PS_OPT_SECONDS, .dmin = 0.1, .dmax = 3600,
		  .off = offsetof(struct top_opts, interval_ms) },
		{ .name = "limit", .key = 'n', .type = PS_OPT_UINT, .min = 0, .max = INT32_MAX,
		  .expect = "a number of clients, 0 for all",
		  .off = offsetof(struct top_opts, limit) },
		{},
	},
};

/* The sort keys, in ps_sort_names' spelling. */
static const struct {
	int key;
	const char *sort;
} sort_keys[] = {
	{ 'r', "requests" }, { 'i', "inference_requests" }, { 'b', "rx_bytes" },
	{ 't', "tx_bytes" }, { 'p', "tx_payload" },	    { 'k', "tx_tokens" },
	{ 'm', "rpm" },
};

/* The columns after CLIENT: each shows one member of a clients entry. */
enum col_kind { COL_DECIMAL, COL_COUNT, COL_BYTES, COL_TOTAL_REQ };

static const struct {
	const char *head;
	const char *key;	/* member of the clients entry; the sort key it is */
	enum col_kind kind;
	int width;
} top_cols[] = {
	{ "RPM", "rpm", COL_DECIMAL, 9 },
	{ "REQ", "requests", COL_COUNT, 10 },
	{ "INFER", "inference_requests", COL_COUNT, 10 },
	{ "RX_BYTES", "rx_bytes", COL_BYTES, 9 },
	{ "TX_BYTES", "tx_bytes", COL_BYTES, 9 },
	{ "TX_PAYLOAD", "tx_payload", COL_BYTES, 11 },
	{ "TX_TOK", "tx_tokens", COL_COUNT, 10 },
	{ "TOTAL_REQ", NULL, COL_TOTAL_REQ, 10 },
};

#define TOP_NCOLS ((int)(sizeof(top_cols) / sizeof(top_cols[0])))

struct top {
	const char *sock;
	const char *sort;	/* one of ps_sort_names */
	int window;		/* index in ps_window_names */
	long interval_ms;
	json_t *status;		/* the last answers; NULL when they failed */
	json_t *clients;
	json_t *totals;		/* {address: total requests} of the rows shown */
	char err[PATH_MAX + 256];	/* why the last refresh failed, "" if it did not */
};

static volatile sig_atomic_t top_signal;

static void on_signal(int sig)
{
	top_signal = sig;
}

/* One request; an answer with "ok":false is a failure too. Takes req. */
static json_t *top_call(struct top *t, json_t *req)
{
	const char *msg;
	json_t *ans;

	if (!req) {
		snprintf(t->err, sizeof(t->err), "out of memory");
		return NULL;
	}
	ans = ps_ctl_request(t->sock, req, t->err, sizeof(t->err));
	json_decref(req);
	if (!ans || json_is_true(json_object_get(ans, "ok")))
		return ans;
	msg = json_string_value(json_object_get(ans, "error"));
	snprintf(t->err, sizeof(t->err), "penstockd: %s", msg ? msg : "request refused");
	json_decref(ans);
	return NULL;
}

static void top_fetch(struct top *t, int rows)
{
	const char *window = ps_window_names[t->window];
	json_t *st, *cl = NULL, *tot = NULL, *e;
	size_t i;

	t->err[0] = '\0';
	st = top_call(t, ps_request(PS_CMD_STATUS));
	if (st && rows > 0)	/* limit 0 would be every client */
		cl = top_call(t, ps_clients_request(window, t->sort, rows));
	if (cl && strcmp(window, "total")) {
		tot = json_object();
		json_array_foreach(json_object_get(cl, "clients"), i, e) {
			json_t *addr = json_object_get(e, "client"), *one, *req, *total;

			if (!tot || !json_is_string(addr))
				continue;
			req = ps_request_set(ps_request(PS_CMD_CLIENT), PS_ARG_ADDR,
					     json_incref(addr));
			if (!req) {
				snprintf(t->err, sizeof(t->err), "out of memory");
				break;
			}
			one = ps_ctl_request(t->sock, req, t->err, sizeof(t->err));
			json_decref(req);
			if (!one)
				break;	/* the daemon went away: t->err says how */
			/* A client forgotten since the list was made has no total. */
			total = json_object_get(json_object_get(one, "windows"), "total");
			json_object_set(tot, json_string_value(addr),
					json_object_get(total, "requests") ?: json_null());
			json_decref(one);
		}
	}
	json_decref(t->status);
	json_decref(t->clients);
	json_decref(t->totals);
	t->status = st;
	t->clients = cl;
	t->totals = tot;
}

/* A line, clipped to the screen's width. */
static void put_line(int y, int attr, const char *s)
{
	if (y < 0 || y >= LINES)
		return;
	attron(attr);
	mvaddnstr(y, 0, s, COLS);
	attroff(attr);
}

static const char *cell(struct top *t, int c, json_t *e, char *buf, size_t len)
{
	json_t *v;

	switch (top_cols[c].kind) {
	case COL_DECIMAL:
		return ps_fmt_decimal(json_object_get(e, top_cols[c].key), buf, len);
	case COL_COUNT:
		return ps_fmt_count(json_object_get(e, top_cols[c].key), buf, len);
	case COL_BYTES:
		v = json_object_get(e, top_cols[c].key);
		return json_is_number(v) ? ps_fmt_bytes(json_number_value(v), buf, len) : "-";
	case COL_TOTAL_REQ:
		if (!t->totals)	/* the window shown is total */
			return ps_fmt_count(json_object_get(e, "requests"), buf, len);
		v = json_object_get(t->totals, json_string_value(json_object_get(e, "client")));
		return ps_fmt_count(v, buf, len);
	}
	return "-";
}

static void draw_header(struct top *t, int shown)
{
	json_t *d = json_object_get(t->status, "daemon");
	json_t *tick = json_object_get(t->status, "tick");
	json_t *cls = json_object_get(t->status, "clients"), *arr, *e;
	char line[1024], a[64], b[64], c[64], x[64], y[64];
	double req = 0, infer = 0, rx = 0, tx = 0, pay = 0;
	size_t i;
	int n;

	if (t->status)
		snprintf(line, sizeof(line),
			 "penstock top - penstockd pid %s, up %s   clients %s tracked, %s in map   "
			 "tick %.1f ms (avg %.1f, max %.1f)",
			 ps_fmt_count(json_object_get(d, "pid"), a, sizeof(a)),
			 ps_fmt_duration((long long)ps_json_num(d, "uptime_s"), b, sizeof(b)),
			 ps_fmt_count(json_object_get(cls, "tracked"), c, sizeof(c)),
			 ps_fmt_count(json_object_get(cls, "in_map"), x, sizeof(x)),
			 ps_json_num(tick, "last_ms"), ps_json_num(tick, "avg_ms"),
			 ps_json_num(tick, "max_ms"));
	else
		snprintf(line, sizeof(line), "penstock top - penstockd at %s", t->sock);
	put_line(0, A_BOLD, line);

	arr = json_object_get(t->clients, "clients");
	json_array_foreach(arr, i, e) {
		if ((int)i >= shown)
			break;
		req += ps_json_num(e, "requests");
		infer += ps_json_num(e, "inference_requests");
		rx += ps_json_num(e, "rx_bytes");
		tx += ps_json_num(e, "tx_bytes");
		pay += ps_json_num(e, "tx_payload");
	}
	n = snprintf(line, sizeof(line), "window %s   sort %s   every %gs",
		     ps_window_names[t->window], t->sort, t->interval_ms / 1000.0);
	if (t->clients)
		snprintf(line + n, sizeof(line) - n,
			 "   %s clients in the window; the %d shown: req %.0f, infer %.0f, rx %s, "
			 "tx %s, tx payload %s",
			 ps_fmt_count(json_object_get(t->clients, "total_clients"), a, sizeof(a)),
			 shown, req, infer, ps_fmt_bytes(rx, b, sizeof(b)),
			 ps_fmt_bytes(tx, c, sizeof(c)), ps_fmt_bytes(pay, y, sizeof(y)));
	put_line(1, 0, line);
	if (t->err[0]) {
		snprintf(line, sizeof(line), "%s; trying again every %gs", t->err,
			 t->interval_ms / 1000.0);
		put_line(2, A_BOLD, line);
	}
}

static void top_draw(struct top *t)
{
	json_t *arr = json_object_get(t->clients, "clients"), *e;
	int cw = 6, rows = LINES - TOP_HEAD_LINES - TOP_FOOT_LINES, x, c, n = 0;
	char line[1024], buf[64];
	size_t i;

	erase();
	json_array_foreach(arr, i, e) {
		const char *addr = json_string_value(json_object_get(e, "client"));
		int l = addr ? (int)strlen(addr) : 1;

		if ((int)i >= rows)
			break;
		if (l > cw)
			cw = l;
		n++;
	}
	draw_header(t, n);

	/* The column header, the sort key's column in reverse video. */
	x = snprintf(line, sizeof(line), "%-*s", cw, "CLIENT");
	for (c = 0; c < TOP_NCOLS; c++)
		x += snprintf(line + x, sizeof(line) - x, " %*s", top_cols[c].width,
			      top_cols[c].head);
	snprintf(line + x, sizeof(line) - x, "%*s", COLS > x ? COLS - x : 0, "");
	put_line(3, A_BOLD, line);
	for (x = cw, c = 0; c < TOP_NCOLS; x += 1 + top_cols[c].width, c++) {
		if (top_cols[c].key && !strcmp(top_cols[c].key, t->sort) && x + 1 < COLS) {
			attron(A_BOLD | A_REVERSE);
			mvaddnstr(3, x + 1, line + x + 1, COLS - x - 1 < top_cols[c].width
								 ? COLS - x - 1
								 : top_cols[c].width);
			attroff(A_BOLD | A_REVERSE);
		}
	}

	json_array_foreach(arr, i, e) {
		if ((int)i >= n)
			break;
		x = snprintf(line, sizeof(line), "%-*s", cw,
			     json_string_value(json_object_get(e, "client")) ?: "?");
		for (c = 0; c < TOP_NCOLS; c++)
			x += snprintf(line + x, sizeof(line) - x, " %*s", top_cols[c].width,
				      cell(t, c, e, buf, sizeof(buf)));
		put_line(TOP_HEAD_LINES + i, 0, line);
	}
	put_line(LINES - 1, A_REVERSE,
		 " r requests  i inference  b rx bytes  t tx bytes  p tx payload  k tx tokens  "
		 "m rpm  w window  space refresh  q quit ");
	refresh();
}

/* A key: true when the view must be fetched again. *quit on q. */
static bool top_key(struct top *t, int ch, bool *quit)
{
	size_t k;

	if (ch == 'q' || ch == 'Q') {
		*quit = true;
		return false;
	}
	if (ch == 'w') {
		t->window = ps_window_names[t->window + 1] ? t->window + 1 : 0;
		return true;
	}
	if (ch == ' ' || ch == KEY_RESIZE)
		return true;
	for (k = 0; k < sizeof(sort_keys) / sizeof(sort_keys[0]); k++) {
		if (ch == sort_keys[k].key) {
			t->sort = sort_keys[k].sort;
			return true;
		}
	}
	return false;
}

static void top_loop(struct top *t)
{
	long long next = 0, now;
	bool quit = false, dirty = true;
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	int ch;

	while (!quit && !top_signal) {
		now = (long long)ps_mono_ms();
		if (dirty || now >= next) {
			top_fetch(t, LINES - TOP_HEAD_LINES - TOP_FOOT_LINES);
			top_draw(t);
			dirty = false;
			now = (long long)ps_mono_ms();
			next = now + t->interval_ms;
		}
		/* Cut short by a key, a signal (SIGWINCH, SIGINT...) or the
		 * terminal going away. */
		if (poll(&pfd, 1, next > now ? (int)(next - now) : 0) > 0 &&
		    (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
			break;
		while (!quit && (ch = getch()) != ERR)
			dirty |= top_key(t, ch, &quit);
	}
}

int ps_cmd_top(int argc, char **argv)
{
	struct top_opts o = {
		.sort = ps_sort_names[PS_SORT_REQUESTS], .window = ps_window_names[PS_WIN_1M],
		.interval_ms = 1000, .limit = 20,
	};
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	int ret = ps_opts_parse(&ps_cmd_top_opts, argc, argv, &o);
	struct top t = {};
	SCREEN *scr;

	if (ret >= 0)
		return ret;
	if (o.c.json) {
		/* One look, as penstock clients --json prints it. */
		json_t *ans = ps_ctl_ask(ps_cmd_top_opts.cmd, &o.c,
					 ps_clients_request(o.window, o.sort, o.limit), &ret);

		return ans ? ps_ctl_done(ps_cmd_top_opts.cmd, ans, 0) : ret;
	}
	t.sort = o.sort;
	t.window = ps_name_find(ps_window_names, o.window);
	t.interval_ms = o.interval_ms;
	t.sock = ps_ctl_socket_path(o.c.socket);
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "penstock top: needs a terminal (penstock clients prints a table "
				"anywhere)\n");
		return PS_EXIT_FAIL;
	}

	/* Ours before ncurses starts: it leaves a handler in place alone. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		fprintf(stderr, "penstock top: cannot drive terminal type '%s'\n",
			getenv("TERM") ?: "(unset)");
		return PS_EXIT_FAIL;
	}
	cbreak();
	noecho();
	nonl();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);

	top_loop(&t);

	endwin();
	delscreen(scr);
	json_decref(t.status);
	json_decref(t.clients);
	json_decref(t.totals);
	if (top_signal) {
		/* The terminal is back: die of the signal, as the shell expects. */
		signal(top_signal, SIG_DFL);
		raise(top_signal);
	}
	return PS_EXIT_OK;
}
