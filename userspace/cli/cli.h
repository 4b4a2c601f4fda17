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

#include <jansson.h>

/*
 * Alerts (ps_alert_json objects) as `penstock alerts` prints them: a table,
 * time to the second, the evidence in one line. 0, or -ENOMEM.
 */
int ps_alerts_table(json_t *alerts);

#endif
