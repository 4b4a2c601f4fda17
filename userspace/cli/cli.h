/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cli/: penstock, the command-line tool. main.c holds the table of
 * commands; each command parses typed options (opts.c) and either asks
 * penstockd over the control socket (ctl.c; cmd_daemon.c, cmd_enforce.c,
 * cmd_alerts.c, top.c) or runs captures through the datapath (replay.c).
 */
#ifndef PS_CLI_H
#define PS_CLI_H

/* Exit statuses of the CLI. */
#define PS_EXIT_OK	0
#define PS_EXIT_FAIL	1	/* the system or penstockd failed us (BPF load, memory, refused) */
#define PS_EXIT_INPUT	2	/* bad input: usage, config, capture */
#define PS_EXIT_DENIED	3	/* penstockd's socket or penstockd refused us: not root, not in its group */

/* The commands, as main.c's table calls them: argv[0] is the command. */
int ps_cmd_replay(int argc, char **argv);	/* replay.c */
int ps_cmd_status(int argc, char **argv);	/* cmd_daemon.c */
int ps_cmd_clients(int argc, char **argv);
int ps_cmd_client(int argc, char **argv);
int ps_cmd_endpoints(int argc, char **argv);
int ps_cmd_reload(int argc, char **argv);
int ps_cmd_stop(int argc, char **argv);
int ps_cmd_top(int argc, char **argv);		/* top.c */
int ps_cmd_block(int argc, char **argv);	/* cmd_enforce.c */
int ps_cmd_throttle(int argc, char **argv);
int ps_cmd_unblock(int argc, char **argv);
int ps_cmd_enforcement(int argc, char **argv);
int ps_cmd_alerts(int argc, char **argv);	/* cmd_alerts.c */
int ps_cmd_key_id(int argc, char **argv);	/* cmd_keyid.c */
int ps_cmd_doctor(int argc, char **argv);	/* cmd_doctor.c */
int ps_cmd_config_keys(int argc, char **argv);	/* cmd_config_keys.c */

#include <stddef.h>
#include <jansson.h>

struct ps_cmd_opts;

/* penstock's commands: main.c's table, also read by penstock completion. */
struct ps_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;	/* NULL: not listed (for the build: man pages, completion) */
	const struct ps_cmd_opts *opts;	/* its options (opts.h) */
	const char *args;	/* what its positional arguments are: "files", or NULL */
};

extern const struct ps_command ps_commands[];
extern const size_t ps_ncommands;

/* Each command's options, beside its function. */
extern const struct ps_cmd_opts ps_cmd_alerts_opts;
extern const struct ps_cmd_opts ps_cmd_config_keys_opts;
extern const struct ps_cmd_opts ps_cmd_status_opts;
extern const struct ps_cmd_opts ps_cmd_clients_opts;
extern const struct ps_cmd_opts ps_cmd_client_opts;
extern const struct ps_cmd_opts ps_cmd_endpoints_opts;
extern const struct ps_cmd_opts ps_cmd_reload_opts;
extern const struct ps_cmd_opts ps_cmd_stop_opts;
extern const struct ps_cmd_opts ps_cmd_doctor_opts;
extern const struct ps_cmd_opts ps_cmd_block_opts;
extern const struct ps_cmd_opts ps_cmd_throttle_opts;
extern const struct ps_cmd_opts ps_cmd_unblock_opts;
extern const struct ps_cmd_opts ps_cmd_enforcement_opts;
extern const struct ps_cmd_opts ps_cmd_key_id_opts;
extern const struct ps_cmd_opts ps_cmd_replay_opts;
extern const struct ps_cmd_opts ps_cmd_top_opts;
extern const struct ps_cmd_opts ps_cmd_completion_opts;

int ps_cmd_completion(int argc, char **argv);	/* cmd_completion.c */

/*
 * Alerts (ps_alert_json objects) as `penstock alerts` prints them: a table,
 * time to the second, the evidence in one line. 0, or -ENOMEM.
 */
int ps_alerts_table(json_t *alerts);

#endif
