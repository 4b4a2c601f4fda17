// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstockd: loads the datapath (or adopts the one a previous daemon left
 * pinned and attached), attaches it to clsact ingress and egress of every
 * configured interface, reads the per-client counters every second into
 * sliding windows and totals, saves them to a state file every few
 * seconds, and answers the control socket.
 *
 * One thread, one epoll loop (loop.c): a signalfd (SIGTERM/SIGINT stop,
 * SIGHUP reloads), a timerfd (the tick) and the listening control socket.
 * State files are written by a forked child, so a save never stalls a tick.
 */
#include <getopt.h>
#include <malloc.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/daemon_opts.h"
#include "common/log.h"
#include "count/state.h"
#include "daemon/daemon.h"

static const char usage_text[] =
	"usage: penstockd [OPTIONS]\n"
	"\n"
	"Count per-client traffic on the configured inference endpoints with eBPF\n"
	"programs on clsact ingress and egress of the configured interfaces; keep\n"
	"sliding windows and totals per client; answer `penstock` on a control socket.\n"
	"\n"
	"  -c, --config FILE     configuration (default " PS_DEFAULT_CONFIG ")\n"
	"  -f, --foreground      stay in the foreground (penstockd never forks; for systemd)\n"
	"  -C, --check-config    validate the configuration and exit: 0, or 2 with\n"
	"                        FILE:LINE:COLUMN and what was expected\n"
	"  -s, --socket PATH     control socket (default " PS_CONTROL_SOCKET ")\n"
	"  -g, --socket-group NAME\n"
	"                        the group that may read (status, clients, ...) over the\n"
	"                        socket; changes are for root. Default " PS_CONTROL_GROUP ",\n"
	"                        if it exists (else the socket is for root only)\n"
	"  -S, --state-dir DIR   state file directory (default " PS_STATE_DIR ")\n"
	"  -P, --pin-dir DIR     where the maps are pinned (default " PS_PIN_DIR ")\n"
	"  -k, --keep-datapath   on exit leave the programs attached and the maps pinned,\n"
	"                        for the next daemon to adopt (an upgrade)\n"
	"  -v, --verbose         debug messages\n"
	"  -h, --help            this text\n"
	"\n"
	"signals: SIGTERM/SIGINT save and exit (detaching what penstockd attached,\n"
	"unless --keep-datapath); SIGHUP re-reads the configuration.\n";

/* The options into d; -1 to go on, else the exit status. */
static int parse_options(struct ps_daemon *d, int argc, char **argv, int *check)
{
	int opt;

	while ((opt = getopt_long(argc, argv, PS_DAEMON_SHORTOPTS, ps_daemon_longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d->config_path = optarg;
			break;
		case 'f':
			break;
		case 'C':
			*check = 1;
			break;
		case 's':
			d->socket_path = optarg;
			break;
		case 'g':
			d->socket_group = optarg;
			d->socket_group_given = true;
			break;
		case 'S':
			d->state_dir = optarg;
			break;
		case 'P':
			d->pin_dir = optarg;
			break;
		case 'k':
			d->keep_datapath = true;
			break;
		case 'v':
			ps_log_set_level(PS_LOG_DEBUG);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "penstockd: unexpected argument '%s'\n\n%s", argv[optind], usage_text);
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static struct ps_daemon d;
	int check = 0, ret = 1;
	char errbuf[4200];
	sigset_t mask;

	/*
	 * Blocks of 256 KiB and more mapped on their own and unmapped when
	 * freed, whatever was freed before: glibc would otherwise raise the
	 * threshold to the size of the last such block freed (up to 32 MiB),
	 * and a detection run's scratch, freed, would stay in the heap.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	/*
	 * One heap for every thread: the detector's thread allocates the
	 * evidence of what it finds, which the loop frees; a heap of its own
	 * (glibc gives a thread one) keeps what a run that finds thousands
	 * held, a few MB more at the peak.
	 */
	mallopt(M_ARENA_MAX, 1);
	d.config_path = PS_DEFAULT_CONFIG;
	d.socket_path = PS_CONTROL_SOCKET;
	d.socket_group = PS_CONTROL_GROUP;
	d.state_dir = PS_STATE_DIR;
	d.pin_dir = PS_PIN_DIR;
	d.ctl.fd = d.ctl.epfd = -1;
	ret = parse_options(&d, argc, argv, &check);
	if (ret >= 0)
		return ret;
	ps_config_init(&d.cfg);
	if (ps_config_load(d.config_path, &d.cfg, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "penstockd: %s\n", errbuf);
		return 2;
	}
	if (check) {
		printf("%s: ok (%d interfaces, %d endpoints)\n", d.config_path, d.cfg.nifaces,
		       d.cfg.nendpoints);
		return 0;
	}
	if (!d.cfg.nifaces) {
		fprintf(stderr, "penstockd: %s: no interfaces to attach to (interfaces: [...])\n",
			d.config_path);
		return 2;
	}
	if (d.socket_group_given && !getgrnam(d.socket_group)) {
		fprintf(stderr, "penstockd: --socket-group: no group '%s'\n", d.socket_group);
		return 2;
	}
	if (geteuid() != 0)
		pr_warn("penstockd: not running as root: loading BPF programs will likely fail\n");

	/* Signals come through the loop's signalfd, never to a handler. */
	ps_daemon_signals(&mask);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.started_ms = ps_wall_ms();
	ps_log_libbpf();
	ret = 1;
	if (!ps_daemon_setup(&d))
		ret = ps_daemon_run(&d);
	ps_daemon_teardown(&d);
	return ret;
}
