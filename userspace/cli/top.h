/* SPDX-License-Identifier: GPL-2.0-only */
/* penstock top: a full-screen live view of penstockd's clients (ncurses). */
#ifndef PS_TOP_H
#define PS_TOP_H

/* The command, as cli/main.c's table calls it: argv[0] is "top". */
int ps_cmd_top(int argc, char **argv);

#endif
