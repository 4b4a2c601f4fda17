// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstockd: loads the datapath, pins its maps under PS_PIN_DIR, attaches
 * it to clsact ingress and egress of every configured interface, and
 * detaches on SIGTERM or SIGINT.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "attach.h"
#include "config.h"
#include "log.h"
#include "loader.h"

static const char usage_text[] =
	"usage: penstockd [--config FILE] [--foreground] [--check-config] [--verbose]\n"
	"\n"
	"Count per-client traffic on the configured inference endpoints with eBPF\n"
	"programs on clsact ingress and egress of the configured interfaces.\n"
	"\n"
	"  -c, --config FILE  configuration (default " PS_DEFAULT_CONFIG ")\n"
	"  -f, --foreground   stay in the foreground (penstockd never forks; for systemd)\n"
	"  -C, --check-config validate the configuration and exit: 0, or 2 with\n"
	"                     FILE:LINE:COLUMN and what was expected\n"
	"  -v, --verbose      debug messages\n"
	"  -h, --help         this text\n";

/* bpffs must be mounted for pinning; mount it where systemd has not. */
static int ensure_bpffs(void)
{
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		goto mkdir;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		int err = -errno;

		pr_warn("penstockd: cannot mount bpffs at /sys/fs/bpf: %s\n", strerror(errno));
		return err;
	}
mkdir:
	if (mkdir(PS_PIN_DIR, 0700) && errno != EEXIST) {
		int err = -errno;

		pr_warn("penstockd: cannot create %s: %s\n", PS_PIN_DIR, strerror(errno));
		return err;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct ps_attachment att[PS_MAX_IFACES] = {};
	struct ps_dp_opts dopts = { .pin_root = PS_PIN_DIR };
	const char *config = PS_DEFAULT_CONFIG;
	struct ps_datapath dp = {};
	static struct ps_config cfg;
	int opt, check = 0, err, i, nattached = 0, sfd = -1, ret = 1;
	struct signalfd_siginfo si;
	char errbuf[4200];
	sigset_t mask;

	while ((opt = getopt_long(argc, argv, "c:fCvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			break;
		case 'C':
			check = 1;
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
	ps_config_init(&cfg);
	err = ps_config_load(config, &cfg, errbuf, sizeof(errbuf));
	if (err) {
		fprintf(stderr, "penstockd: %s\n", errbuf);
		return 2;
	}
	if (check) {
		printf("%s: ok (%d interfaces, %d endpoints)\n", config, cfg.nifaces,
		       cfg.nendpoints);
		return 0;
	}
	if (!cfg.nifaces) {
		fprintf(stderr, "penstockd: %s: no interfaces to attach to (interfaces: [...])\n",
			config);
		return 2;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		pr_warn("penstockd: signalfd: %s\n", strerror(errno));
		return 1;
	}
	ps_log_libbpf();
	if (ensure_bpffs())
		goto cleanup;
	if (ps_dp_open(&dp, &dopts))
		goto cleanup;
	if (ps_dp_configure(&dp, &cfg))
		goto cleanup;
	for (i = 0; i < cfg.nifaces; i++) {
		if (ps_attach(&dp, cfg.ifaces[i], &att[i]))
			goto cleanup;
		nattached++;
	}
	pr_info("penstockd: counting %d endpoints on %d interfaces; maps in %s\n",
		cfg.nendpoints, cfg.nifaces, PS_PIN_DIR);
	while (read(sfd, &si, sizeof(si)) < 0 && errno == EINTR)
		;
	pr_info("penstockd: signal %u, detaching\n", si.ssi_signo);
	ret = 0;
cleanup:
	for (i = 0; i < nattached; i++)
		ps_detach(&att[i]);
	if (dp.skel) {
		ps_dp_unpin(&dp);
		ps_dp_close(&dp);
	}
	rmdir(PS_PIN_DIR);
	if (sfd >= 0)
		close(sfd);
	return ret;
}
