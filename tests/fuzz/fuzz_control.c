// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the control protocol as penstockd serves it. The input
 * is what a client sent on the socket; its line (up to the first newline,
 * as the connection's reader cuts it) goes through ps_control_answer():
 * the peer's credentials against the command, the JSON, then penstockd's
 * handler entry: the command's check of every member it takes (types,
 * bounds, addresses, prefixes, reason), then its run. Each input is
 * answered three times: to root, to a member of the socket's group, and
 * to anyone else. A line longer than PS_CTL_REQUEST_MAX bytes never gets
 * here: the reader answers it.
 *
 * The daemon state here has everything but a datapath: a configuration,
 * a client table with clients in it, the alerts kept in memory. Loading a
 * datapath takes root and BPF, so the runs that read or change it
 * (status, client, reload, block, throttle, unblock, enforcement: see
 * ps_daemon_uses_datapath()) stop here after their check, which is all
 * of their handling of the request's members; clients, endpoints, alerts
 * and stop run in full.
 *
 * An input fails the target, besides what the sanitizers catch, when an
 * answer is not one line holding one JSON object with a boolean "ok", and
 * a string "error" when ok is false; or when a command that changes is
 * not refused ("denied") to the group's member, or any command to anyone
 * else.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/handlers.h"

static struct ps_daemon d;

static void fail(const char *what, const uint8_t *data, size_t size, const char *answer)
{
	printf("fuzz_control: %s\nrequest (%zu bytes): %.*s\nanswer: %s\n", what, size,
		(int)(size > 512 ? 512 : size), (const char *)data, answer ? answer : "(none)");
	fflush(stdout);
	abort();
}

/* Check, then run what needs no datapath (see above). */
static void handle(json_t *req, FILE *out, void *ctx)
{
	struct ps_ask a;

	if (ps_daemon_check(req, out, &a))
		return;
	if (ps_daemon_uses_datapath(a.cmd)) {
		fputs("{\"ok\":true,\"checked\":true}", out);
		return;
	}
	ps_daemon_answer(ctx, &a, out);
}

static void add_client(const char *addr, uint64_t requests, int64_t b2w)
{
	struct ps_counters c = {
		.connections = 1, .requests = requests, .inference_requests = requests / 2,
		.rx_packets = 3 * requests, .tx_packets = 3 * requests, .rx_bytes = 500 * requests,
		.tx_bytes = 900 * requests, .rx_payload = 400 * requests,
		.tx_payload = 800 * requests,
	};
	struct ps_client_key k = { .family = strchr(addr, ':') ? PS_AF_INET6 : PS_AF_INET };

	inet_pton(k.family == PS_AF_INET ? AF_INET : AF_INET6, addr, &k.addr);
	ps_ctable_update(&d.table, &k, &c, NULL, ps_wall_ms() / 1000, b2w);
}

static void setup(void)
{
	struct ps_alert al = {
		.time_ms = ps_wall_ms(), .subject = "198.18.0.2", .kind = PS_ALERT_CLIENT,
		.detector = "high_rate", .score = 7.5, .action = "alert",
	};
	char err[512];
	int64_t b2w;

	ps_log_set_level(PS_LOG_WARN);
	d.config_path = "/etc/penstock/penstock.yaml";
	d.socket_path = PS_CONTROL_SOCKET;
	ps_config_init(&d.cfg);
	ps_config_add_port(&d.cfg, 8000);
	ps_config_add_port(&d.cfg, 8443);
	d.cfg.alerts.to_stderr = 0;
	d.cfg.alerts.keep_in_memory = 16;
	ps_ctable_init(&d.table);
	ps_boot_now(&b2w);
	add_client("198.18.0.2", 40, b2w);
	add_client("198.18.0.3", 7, b2w);
	add_client("fd00:5053::2", 12, b2w);
	d.alerts = ps_alerts_open(&d.cfg, err, sizeof(err));
	if (!d.alerts) {
		fprintf(stderr, "fuzz_control: alerts: %s\n", err);
		abort();
	}
	ps_alerts_emit(d.alerts, &al);
}

/* The answer to line from a peer that may read and may change; its "denied". */
static bool answer(const uint8_t *data, size_t size, size_t line, bool may_read,
		   bool may_change)
{
	static struct ps_control ctl = { .has_group = true, .group = "penstock" };
	char *text = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *o, *ok, *error;
	bool denied;
	FILE *out;

	d.stop = false;
	d.keep_datapath = false;
	out = open_memstream(&text, &len);
	if (!out)
		abort();
	ps_control_answer(&ctl, (const char *)data, line, may_read, may_change, out, handle, &d);
	fclose(out);

	if (!len || text[len - 1] != '\n' || memchr(text, '\n', len - 1))
		fail("the answer is not one line", data, size, text);
	o = json_loadb(text, len, 0, &jerr);
	ok = json_object_get(o, "ok");
	error = json_object_get(o, "error");
	if (!json_is_object(o) || !json_is_boolean(ok) ||
	    (json_is_false(ok) && !json_is_string(error)))
		fail("the answer is not a JSON object with ok (and error)", data, size, text);
	denied = json_is_true(json_object_get(o, "denied"));
	json_decref(o);
	free(text);
	return denied;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t line = nl ? (size_t)(nl - data) : size;
	static int inited;
	const char *cmd;
	json_t *req;
	int c;

	if (!inited) {
		setup();
		inited = 1;
	}
	if (line > PS_CTL_REQUEST_MAX)
		return 0;
	/* The command the line names, if it is a request at all. */
	req = json_loadb((const char *)data, line, 0, NULL);
	cmd = json_string_value(json_object_get(req, "cmd"));
	c = cmd ? ps_cmd_find(cmd) : -1;
	json_decref(req);

	answer(data, size, line, true, true);
	if (!answer(data, size, line, true, false) && c >= 0 &&
	    ps_cmds[c].priv == PS_PRIV_CHANGE)
		fail("a command that changes, not denied to the group", data, size, NULL);
	if (!answer(data, size, line, false, false))
		fail("a request not denied to a peer that may not read", data, size, NULL);
	return 0;
}
