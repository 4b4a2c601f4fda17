// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstock: the command-line tool. A table of subcommands, each with its
 * own options and --help; penstock completion and the man pages read the
 * same table.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"

const struct ps_command ps_commands[] = {
	{ "replay", ps_cmd_replay, "run captures through the BPF programs and print per-client counts",
	  &ps_cmd_replay_opts, "files" },
	{ "status", ps_cmd_status, "penstockd's process, interfaces, programs, maps and tick",
	  &ps_cmd_status_opts, NULL },
	{ "clients", ps_cmd_clients, "per-client counts from penstockd, by window, largest first",
	  &ps_cmd_clients_opts, NULL },
	{ "client", ps_cmd_client, "one client's counts in every window", &ps_cmd_client_opts, NULL },
	{ "top", ps_cmd_top, "live full-screen view of the clients, refreshed every second",
	  &ps_cmd_top_opts, NULL },
	{ "endpoints", ps_cmd_endpoints, "the inference endpoints penstockd counts",
	  &ps_cmd_endpoints_opts, NULL },
	{ "reload", ps_cmd_reload, "have penstockd re-read its configuration file",
	  &ps_cmd_reload_opts, NULL },
	{ "stop", ps_cmd_stop, "have penstockd save its state and exit", &ps_cmd_stop_opts, NULL },
	{ "block", ps_cmd_block, "drop a client's or a prefix's packets, for a time or until removed",
	  &ps_cmd_block_opts, NULL },
	{ "throttle", ps_cmd_throttle, "limit a client or prefix to N requests a minute, or to a rate",
	  &ps_cmd_throttle_opts, NULL },
	{ "unblock", ps_cmd_unblock, "remove the block or throttle on a client or prefix",
	  &ps_cmd_unblock_opts, NULL },
	{ "enforcement", ps_cmd_enforcement, "the blocks, throttles and shapings in force, and why",
	  &ps_cmd_enforcement_opts, NULL },
	{ "alerts", ps_cmd_alerts, "the alerts the detectors raised, newest last, and the webhook's state",
	  &ps_cmd_alerts_opts, NULL },
	{ "doctor", ps_cmd_doctor, "check the kernel, privileges, config, interfaces, ports and penstockd",
	  &ps_cmd_doctor_opts, NULL },
	{ "key-id", ps_cmd_key_id, "the id penstockd counts an API key under (the key on standard input)",
	  &ps_cmd_key_id_opts, NULL },
	{ "completion", ps_cmd_completion, "print the bash completion of penstock and penstockd",
	  &ps_cmd_completion_opts, NULL },
	{ "config-keys", ps_cmd_config_keys, NULL, &ps_cmd_config_keys_opts, NULL },
};
const size_t ps_ncommands = sizeof(ps_commands) / sizeof(ps_commands[0]);

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: penstock COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < ps_ncommands; i++)
		if (ps_commands[i].summary)
			fprintf(f, "  %-11s %s\n", ps_commands[i].name, ps_commands[i].summary);
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
	for (i = 0; i < ps_ncommands; i++)
		if (!strcmp(argv[1], ps_commands[i].name))
			return ps_commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "penstock: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return PS_EXIT_INPUT;
}
