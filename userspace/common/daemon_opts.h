/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * penstockd's options, one table for its getopt_long (daemon/main.c) and
 * for penstock completion (cli/cmd_completion.c), which completes a
 * FILE, DIR or NAME after the options whose argument names one.
 */
#ifndef PS_DAEMON_OPTS_H
#define PS_DAEMON_OPTS_H

#include <getopt.h>

#define PS_DAEMON_SHORTOPTS	"c:fCs:g:S:P:kvh"

static const struct option ps_daemon_longopts[] = {
	{ "config", required_argument, NULL, 'c' },		/* FILE */
	{ "foreground", no_argument, NULL, 'f' },
	{ "check-config", no_argument, NULL, 'C' },
	{ "socket", required_argument, NULL, 's' },		/* FILE */
	{ "socket-group", required_argument, NULL, 'g' },	/* a group's NAME */
	{ "state-dir", required_argument, NULL, 'S' },		/* DIR */
	{ "pin-dir", required_argument, NULL, 'P' },		/* DIR */
	{ "keep-datapath", no_argument, NULL, 'k' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

#endif
