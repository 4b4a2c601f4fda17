// SPDX-License-Identifier: GPL-2.0-only
/*
 * alerts_driver: emits alerts through the real alert sinks (userspace/
 * alerts/sinks.c) as penstockd does, for tests/e2e/test_alerts: ps_alerts_open()
 * on a config file's alerts section, ps_alerts_emit(), ps_alerts_tick()
 * on a timer, ps_alerts_close().
 *
 *   alerts_driver -c CONFIG [-n COUNT] [-f FIRST] [-i MS] [-t MS] [-w] [-T S]
 *
 *   -c CONFIG  a penstock config file (its alerts section is what counts)
 *   -n COUNT   alerts to emit (default 0): numbered FIRST, FIRST+1, ...;
 *              alert N has evidence {"seq":N,...}, and is on client
 *              198.18.0.N%250 or, every fifth, on prefix 198.18.N%250.0/24
 *   -f FIRST   the first number (default 1)
 *   -i MS      wait MS between two alerts (default 0)
 *   -t MS      tick every MS (default 1000, the daemon's tick)
 *   -w         after the last alert, tick until the webhook's spool is
 *              empty, then close and exit 0 (1 if -T passes first)
 *   -T S       run at most S seconds after the last alert (default 30)
 *
 * Prints "emitted N" once ps_alerts_emit() has returned for alert N, and
 * at the end "list {...}", ps_alerts_list()'s answer. SIGTERM or SIGINT
 * close the sinks and exit 0.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerts/sinks.h"
#include "common/config.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* No sealed batch and no open one left in dir. */
static int spool_empty(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT;
	while ((de = readdir(d)))
		if (!strcmp(de->d_name, "open") || strstr(de->d_name, ".batch"))
			n++;
	closedir(d);
	return !n;
}

int main(int argc, char **argv)
{
	static struct ps_config cfg;
	const char *config = NULL;
	long count = 0, first = 1, interval = 0, tick = 1000, limit = 30, i;
	int opt, wait_empty = 0, ret = 0;
	uint64_t next_tick, deadline;
	struct ps_alerts *a;
	char err[4200], *dump;
	json_t *list;

	while ((opt = getopt(argc, argv, "c:n:f:i:t:wT:")) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'n':
			count = atol(optarg);
			break;
		case 'f':
			first = atol(optarg);
			break;
		case 'i':
			interval = atol(optarg);
			break;
		case 't':
			tick = atol(optarg);
			break;
		case 'w':
			wait_empty = 1;
			break;
		case 'T':
			limit = atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: alerts_driver -c CONFIG [-n COUNT] [-f FIRST] "
					"[-i MS] [-t MS] [-w] [-T S]\n");
			return 2;
		}
	}
	if (!config || tick < 1) {
		fprintf(stderr, "alerts_driver: -c CONFIG is required, -t at least 1\n");
		return 2;
	}
	ps_config_init(&cfg);
	if (ps_config_load(config, &cfg, err, sizeof(err))) {
		fprintf(stderr, "alerts_driver: %s\n", err);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	a = ps_alerts_open(&cfg, err, sizeof(err));
	if (!a) {
		fprintf(stderr, "alerts_driver: %s\n", err);
		return 1;
	}
	next_tick = now_ms(CLOCK_MONOTONIC) + tick;
	for (i = 0; i < count && !stop; i++) {
		long n = first + i;
		struct ps_alert al = {
			.time_ms = now_ms(CLOCK_REALTIME),
			.kind = n % 5 ? PS_ALERT_CLIENT : PS_ALERT_PREFIX,
			.score = n / 8.0,
		};

		if (al.kind == PS_ALERT_CLIENT)
			snprintf(al.subject, sizeof(al.subject), "198.18.0.%ld", n % 250);
		else
			snprintf(al.subject, sizeof(al.subject), "198.18.%ld.0/24", n % 250);
		snprintf(al.detector, sizeof(al.detector), "%s", n % 2 ? "high_rate" : "low_and_slow");
		snprintf(al.action, sizeof(al.action), "%s", n % 3 ? "alert" : "shape");
		al.evidence = json_pack("{s:I, s:f, s:f, s:s}", "seq", (json_int_t)n, "rpm",
					100.0 + n, "baseline_rpm", 12.5, "window", "1m");
		ps_alerts_emit(a, &al);
		json_decref(al.evidence);
		printf("emitted %ld\n", n);
		fflush(stdout);
		if (interval)
			sleep_ms(interval);
		if (now_ms(CLOCK_MONOTONIC) >= next_tick) {
			ps_alerts_tick(a, now_ms(CLOCK_REALTIME));
			next_tick += tick;
		}
	}
	deadline = now_ms(CLOCK_MONOTONIC) + limit * 1000;
	while (!stop) {
		uint64_t now = now_ms(CLOCK_MONOTONIC);

		if (now >= next_tick) {
			ps_alerts_tick(a, now_ms(CLOCK_REALTIME));
			next_tick += tick;
		}
		if (wait_empty && cfg.alerts.webhook.url[0] &&
		    spool_empty(cfg.alerts.webhook.spool_dir))
			break;
		if (now >= deadline) {
			if (wait_empty) {
				fprintf(stderr, "alerts_driver: the spool is not empty after %ld s\n",
					limit);
				ret = 1;
			}
			break;
		}
		sleep_ms(next_tick > now && next_tick - now < 50 ? next_tick - now : 50);
	}
	list = ps_alerts_list(a, 0);
	json_object_del(list, "alerts");
	dump = json_dumps(list, JSON_COMPACT);
	printf("list %s\n", dump ? dump : "null");
	free(dump);
	json_decref(list);
	ps_alerts_close(a);
	return ret;
}
