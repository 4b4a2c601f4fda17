// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the control protocol's one definition
 * (userspace/common/protocol.c): command names, requests as they go on
 * the wire, the members each command takes, and the bounds, against the
 * figures docs/control-protocol.md gives.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/protocol.h"
#include "../check.h"

static void test_commands(void)
{
	static const char *const names[] = { "status", "clients", "client", "endpoints",
					     "reload", "stop", "block", "throttle", "unblock",
					     "enforcement", "alerts" };
	struct ck ck;
	int i;

	ck_init(&ck, "commands");
	if (PS_NCMDS != sizeof(names) / sizeof(names[0]))
		ck_fail(&ck, "%d commands, expected %zu", PS_NCMDS, sizeof(names) / sizeof(names[0]));
	for (i = 0; ck_ok(&ck) && i < PS_NCMDS; i++)
		if (ps_cmd_find(names[i]) != i || strcmp(ps_cmds[i].name, names[i]))
			ck_fail(&ck, "'%s' is command %d, expected %d", names[i],
				ps_cmd_find(names[i]), i);
	if (ps_cmd_find("Status") != -1 || ps_cmd_find("") != -1)
		ck_fail(&ck, "an unknown name is found");
	ck_end(&ck);
}

/* The request's text, compact, as the CLI sends it. */
static int wire_is(json_t *req, const char *want, struct ck *ck)
{
	char *s = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int ok = s && !strcmp(s, want);

	if (!ok)
		ck_fail(ck, "request %s, expected %s", s ? s : "NULL", want);
	free(s);
	json_decref(req);
	return ok;
}

static void test_requests(void)
{
	struct ck ck;
	json_t *req;

	ck_init(&ck, "requests");
	req = ps_request(PS_CMD_CLIENTS);
	req = ps_request_set(req, PS_ARG_WINDOW, json_string("1m"));
	req = ps_request_set(req, PS_ARG_SORT, json_string("rpm"));
	req = ps_request_set(req, PS_ARG_LIMIT, json_integer(20));
	wire_is(req, "{\"cmd\":\"clients\",\"window\":\"1m\",\"sort\":\"rpm\",\"limit\":20}", &ck);
	req = ps_request_set(ps_request(PS_CMD_THROTTLE), PS_ARG_SUBJECT,
			     json_string("2001:db8::7"));
	req = ps_request_set(req, PS_ARG_RATE_BPS, json_integer(2000000));
	wire_is(req, "{\"cmd\":\"throttle\",\"subject\":\"2001:db8::7\",\"rate_bps\":2000000}",
		&ck);
	req = ps_request_set(ps_request(PS_CMD_STOP), PS_ARG_KEEP_DATAPATH, json_false());
	wire_is(req, "{\"cmd\":\"stop\",\"keep_datapath\":false}", &ck);
	/* A member of another command: refused, the request freed. */
	if (ps_request_set(ps_request(PS_CMD_BLOCK), PS_ARG_RPM, json_integer(5)))
		ck_fail(&ck, "block took rpm");
	if (ps_request_set(NULL, PS_ARG_RPM, json_integer(5)))
		ck_fail(&ck, "NULL request passed as one");
	req = json_pack("{s:s, s:i}", "cmd", "alerts", "since_s", 600);
	if (json_integer_value(ps_request_get(req, PS_ARG_SINCE_S)) != 600 ||
	    ps_request_get(req, PS_ARG_FOR_S))
		ck_fail(&ck, "ps_request_get reads the wrong member");
	json_decref(req);
	ck_end(&ck);
}

static void test_bounds(void)
{
	static const struct {
		enum ps_arg arg;
		long long min, max;
	} docs[] = {
		{ PS_ARG_FOR_S, 1, 315360000 },		/* ten years */
		{ PS_ARG_RPM, 1, 10000000 },
		{ PS_ARG_BURST, 1, 1000000 },
		{ PS_ARG_RATE_BPS, 1, 1000000000000LL },
		{ PS_ARG_REASON, 0, 63 },
		{ PS_ARG_SINCE_S, 0, 315360000 },
	};
	struct ck ck;
	size_t i;

	ck_init(&ck, "bounds");
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		const struct ps_arg_def *a = &ps_args[docs[i].arg];

		if (a->min != docs[i].min || a->max != docs[i].max)
			ck_fail(&ck, "%s %lld..%lld, the docs say %lld..%lld", a->name, a->min,
				a->max, docs[i].min, docs[i].max);
		if (!ps_arg_in_range(docs[i].arg, docs[i].max) ||
		    ps_arg_in_range(docs[i].arg, docs[i].max + 1) ||
		    ps_arg_in_range(docs[i].arg, docs[i].min - 1))
			ck_fail(&ck, "%s: ps_arg_in_range is off at an end", a->name);
	}
	ck_end(&ck);
}

static void test_names(void)
{
	struct ck ck;
	char buf[160];

	ck_init(&ck, "names");
	if (strcmp(ps_names_str(ps_window_names, buf, sizeof(buf)), "1m, 1h, 24h or total"))
		ck_fail(&ck, "windows '%s'", buf);
	if (strcmp(ps_names_str(ps_sort_names, buf, sizeof(buf)),
		   "requests, inference_requests, rx_bytes, tx_bytes, tx_payload, tx_tokens, "
		   "rx_tokens or rpm"))
		ck_fail(&ck, "sort keys '%s'", buf);
	if (ps_name_find(ps_window_names, "total") != PS_WIN_TOTAL ||
	    ps_name_find(ps_sort_names, "rpm") != PS_SORT_RPM ||
	    ps_name_find(ps_field_names, "tx_payload") != PS_F_TX_PAYLOAD ||
	    ps_name_find(ps_sort_names, "tx_tokens") != PS_SORT_TX_TOKENS ||
	    ps_name_find(ps_field_names, "tx_events") != PS_F_TX_EVENTS ||
	    ps_name_find(ps_field_names, "tx_tokens_estimated") != PS_F_TX_TOKENS_ESTIMATED ||
	    ps_name_find(ps_field_names, "rx_messages") != PS_F_RX_MESSAGES ||
	    ps_name_find(ps_field_names, "tx_messages") != PS_F_TX_MESSAGES ||
	    ps_name_find(ps_field_names, "rpm") != -1)
		ck_fail(&ck, "a name and its enum disagree");
	ck_end(&ck);
}

/*
 * Who may send what (docs/control-protocol.md, "Who may ask"): the
 * commands that change something are root's, the rest the group's too.
 */
static void test_privileges(void)
{
	static const char *const change[] = { "reload", "stop", "block", "throttle", "unblock" };
	struct ck ck;
	size_t j;
	int i;

	ck_init(&ck, "privileges");
	for (i = 0; i < PS_NCMDS; i++) {
		bool is_change = false;

		for (j = 0; j < sizeof(change) / sizeof(change[0]); j++)
			is_change |= !strcmp(ps_cmds[i].name, change[j]);
		if (ps_cmds[i].priv != (is_change ? PS_PRIV_CHANGE : PS_PRIV_READ))
			ck_fail(&ck, "'%s' is %s, expected %s", ps_cmds[i].name,
				ps_cmds[i].priv == PS_PRIV_CHANGE ? "change" : "read",
				is_change ? "change" : "read");
		if (!ps_cmds[i].does || !*ps_cmds[i].does)
			ck_fail(&ck, "'%s' says not what it does", ps_cmds[i].name);
	}
	if (strcmp(ps_cmds[PS_CMD_BLOCK].does, "changes enforcement"))
		ck_fail(&ck, "block: '%s'", ps_cmds[PS_CMD_BLOCK].does);
	ck_end(&ck);
}

int main(void)
{
	test_privileges();
	test_commands();
	test_requests();
	test_bounds();
	test_names();
	return nfailed ? 1 : 0;
}
