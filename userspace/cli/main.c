// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstock: the command-line tool. A table of subcommands, each with its
 * own options and --help.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;	/* NULL: not listed (for the build: man pages, completion) */
};

static const struct command commands[] = {
	{ "replay", ps_cmd_replay, "run captures through the BPF programs and print per-client counts" },
	{ "status", ps_cmd_status, "penstockd's process, interfaces, programs, maps and tick" },
	{ "clients", ps_cmd_clients, "per-client counts from penstockd, by window, largest first" },
	{ "client", ps_cmd_client, "one client's counts in every window" },
	{ "top", ps_cmd_top, "live full-screen view of the clients, refreshed every second" },
	{ "endpoints", ps_cmd_endpoints, "the inference endpoints penstockd counts" },
	{ "reload", ps_cmd_reload, "have penstockd re-read its configuration file" },
	{ "stop", ps_cmd_stop, "have penstockd save its state and exit" },
	{ "block", ps_cmd_block, "drop a client's or a prefix's packets, for a time or until removed" },
	{ "throttle", ps_cmd_throttle, "limit a client or prefix to N requests a minute, or to a rate" },
	{ "unblock", ps_cmd_unblock, "remove the block or throttle on a client or prefix" },
	{ "enforcement", ps_cmd_enforcement, "the blocks, throttles and shapings in force, and why" },
	{ "alerts", ps_cmd_alerts, "the alerts the detectors raised, newest last, and the webhook's state" },
	{ "doctor", ps_cmd_doctor, "check the kernel, privileges, config, interfaces, ports and penstockd" },
	{ "key-id", ps_cmd_key_id, "the id penstockd counts an API key under (the key on standard input)" },
	{ "config-keys", ps_cmd_config_keys, NULL },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: penstock COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary)
			fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'penstock COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return PS_EXIT_INPUT;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return PS_EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "penstock: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return PS_EXIT_INPUT;
}
