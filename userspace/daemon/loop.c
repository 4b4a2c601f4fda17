// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstockd's loop, in the shape of redis's ae.c: one thread waits in
 * epoll on a signalfd, a timerfd (the tick, each second) and the control
 * socket's epoll set (its listening socket and connections, control.c). The tick folds the counters into the client table (count/),
 * runs the policy (policy/), syncs the HTB classes (enforce/shape.c),
 * hands the alert sinks their housekeeping (alerts/), expires idle flows
 * and, every few seconds, forks a child to write the state file.
 *
 * A pass over every client takes a while with a million of them (the
 * fold, the window limits: up to a hundred ms, more on a loaded machine),
 * so the passes yield every PS_CTABLE_YIELD_EVERY clients and, every
 * YIELD_MS, the requests waiting on the control socket are answered from
 * there, as redis answers while it loads (processEventsWhileBlocked):
 * `penstock` never waits for a whole pass. The longest pass, a detection
 * run (hundreds of ms), is not the loop's: it goes to the detector's
 * thread (policy/detect_bg.c), which reads the table while the loop waits
 * for events and gives it back as soon as the loop wakes (count/tlock.h);
 * an eventfd tells the loop that a run ended with steps to take.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "common/clock.h"
#include "common/log.h"
#include "count/flows.h"
#include "count/state.h"
#include "daemon/daemon.h"
#include "enforce/enforce.h"
#include "metrics/metrics.h"

#define SAVE_INTERVAL_S		5
/* Saves by thread that gave up in a row (clients changed under them)
 * before the next one is a fork's. */
#define SAVE_ABORTS_MAX		3
/* How often a pass looks for control requests waiting (a poll() of the
 * control socket's epoll set: a few us). */
#define YIELD_MS		20

static void reap_saver_thread(struct ps_daemon *d, bool wait)
{
	char err[4200];
	bool held = d->table_held;
	int r;

	if (!d->saver_th || (!wait && !ps_state_saver_done(d->saver_th)))
		return;
	if (held)
		ps_tlock_give(&d->table_mu);
	r = ps_state_saver_join(d->saver_th, err, sizeof(err));
	if (held)
		ps_tlock_take(&d->table_mu);
	d->saver_th = NULL;
	if (!r) {
		d->last_save_ms = ps_wall_ms();
		d->save_took_ms = d->last_save_ms - d->saver_started_ms;
		d->save_aborts = 0;
	} else if (r == -EAGAIN) {
		d->save_aborts++;
		d->save_soon = true;
	} else {
		pr_warn("penstockd: cannot save state: %s\n", err);
	}
}

static void reap_saver(struct ps_daemon *d, bool wait)
{
	int status;
	pid_t p;

	reap_saver_thread(d, wait);
	if (d->saver <= 0)
		return;
	p = waitpid(d->saver, &status, wait ? 0 : WNOHANG);
	if (p == 0)
		return;
	if (p == d->saver && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		d->last_save_ms = ps_wall_ms();
		d->save_took_ms = d->last_save_ms - d->saver_started_ms;
	}
	d->saver = 0;
}

void ps_daemon_save_state(struct ps_daemon *d)
{
	char err[4200];

	reap_saver(d, true);
	if (ps_state_save(&d->table, d->state_dir, ps_wall_ms(), err, sizeof(err)))
		pr_warn("penstockd: cannot save state: %s\n", err);
}

/*
 * The escalation file, written by a thread of its own from a copy of the
 * subjects taken in the loop, at most every ESCALATION_SAVE_MS (and at
 * stop): formatting thousands of subjects took the loop 80 ms of CPU at
 * every batch of 64 steps a detection run found (5 s of CPU for a run that
 * found 4000 prefixes), with no look at the control socket. A daemon
 * killed meanwhile starts the subjects of those last seconds' steps over
 * (a step again at the next run). One save at a time; the thread made by
 * the metrics' starter (no capability).
 */
#define ESCALATION_SAVE_MS	5000
static uint64_t esc_saved_ms;

struct esc_save {
	pthread_t th;
	struct ps_esc_snap *snap;
	char path[4200];
	atomic_bool done;
	int err;
};
static struct esc_save *esc_saving;

static void *esc_save_main(void *arg)
{
	struct esc_save *s = arg;

	s->err = ps_esc_snap_write(s->snap, s->path);
	atomic_store(&s->done, true);
	return NULL;
}

/* The save going, if any, over (waited for if wait): true when none is left. */
static bool esc_save_reap(struct ps_daemon *d, bool wait)
{
	struct esc_save *s = esc_saving;

	if (!s)
		return true;
	if (!wait && !atomic_load(&s->done))
		return false;
	pthread_join(s->th, NULL);
	if (s->err) {
		pr_warn("penstockd: cannot save %s: %s\n", s->path, strerror(-s->err));
		ps_detect_mark_dirty(d->pol.det);
	}
	free(s);
	esc_saving = NULL;
	return true;
}

void ps_daemon_save_escalation(struct ps_daemon *d, bool always)
{
	struct esc_save *s;
	char path[4200];
	int err;

	if (!d->pol.det || !esc_save_reap(d, always) ||
	    (!always && (!ps_detect_dirty(d->pol.det) ||
			 ps_mono_ms() - esc_saved_ms < ESCALATION_SAVE_MS)))
		return;
	esc_saved_ms = ps_mono_ms();
	snprintf(path, sizeof(path), "%s/" PS_ESCALATION_FILE, d->state_dir);
	s = always ? NULL : calloc(1, sizeof(*s));
	if (s) {
		s->snap = ps_detect_snapshot(d->pol.det);
		snprintf(s->path, sizeof(s->path), "%s", path);
		atomic_init(&s->done, false);
		if (s->snap && !ps_metrics_spawn(&s->th, esc_save_main, s)) {
			esc_saving = s;
			return;
		}
		if (s->snap) {
			/* (no thread: written here) */
			err = ps_esc_snap_write(s->snap, path);
		} else {
			err = -ENOMEM;
		}
		free(s);
		if (err) {
			ps_detect_mark_dirty(d->pol.det);
			pr_warn("penstockd: cannot save %s: %s\n", path, strerror(-err));
		}
		return;
	}
	err = ps_detect_save(d->pol.det, path);
	if (err)
		pr_warn("penstockd: cannot save %s: %s\n", path, strerror(-err));
}

void ps_daemon_save_manual(struct ps_daemon *d)
{
	char path[4200];
	int64_t b2w;
	uint64_t now = ps_boot_now(&b2w);

	snprintf(path, sizeof(path), "%s/" PS_ENFORCEMENT_FILE, d->state_dir);
	ps_enf_save_manual(&d->dp, path, now, b2w);
}

int ps_daemon_shape_sync(struct ps_daemon *d, char *err, size_t errlen)
{
	static char last[256];	/* the last warning: said once, not every sync */
	char buf[256];
	int r;

	d->shape_dirty = false;
	r = ps_shape_sync(&d->shape, &d->dp, ps_boot_now(NULL), err ? err : buf,
			  err ? errlen : sizeof(buf));
	if (r && !err) {
		if (!buf[0])
			snprintf(buf, sizeof(buf), "%s", strerror(-r));
		if (strcmp(buf, last))
			pr_warn("penstockd: shaping: %s\n", buf);
		snprintf(last, sizeof(last), "%s", buf);
	} else if (!r) {
		last[0] = 0;
	}
	return r;
}

/* The loop looks at the control socket now: the CPU time since it last did. */
static void ctl_looked(struct ps_daemon *d)
{
	uint64_t now = ps_cpu_ns();

	if (d->ctl_look_ns && now - d->ctl_look_ns > d->ctl_gap_max_ns)
		d->ctl_gap_max_ns = now - d->ctl_look_ns;
	d->ctl_look_ns = now;
}

/* Whether a control request waits (a poll() of the control socket's epoll set). */
static bool ctl_waiting(void *ctx)
{
	struct ps_daemon *d = ctx;
	struct pollfd pfd = { .fd = d->ctl.epfd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/* The requests waiting, answered while a starved thread's slice is cut (the table held). */
static void ctl_serve_in_slice(void *ctx)
{
	struct ps_daemon *d = ctx;
	bool yielding = d->yielding;

	d->table_held = true;
	ctl_looked(d);
	d->yielding = true;	/* (a handler's pass does not serve again from inside) */
	ps_control_serve(&d->ctl, ps_daemon_handle, d);
	d->yielding = yielding;
	d->table_held = false;
}

/*
 * The loop, awake: the table, after the piece of work of the thread that
 * holds it (a detection run's, a save's chunk), the wait counted; or, at a
 * tick, after the slice of one that waited too long for it (count/tlock.h),
 * the requests that come meanwhile answered at the thread's next look, not
 * at the slice's end.
 */
static void take_table(struct ps_daemon *d, bool tick)
{
	uint64_t t0 = ps_tlock_ns(CLOCK_MONOTONIC), slice_ns = 0, req_ns = 0, ns;

	/* A tick lets a starved thread have its slice first; a request does not wait for one. */
	if (tick)
		ps_tlock_take_fair(&d->table_mu, ctl_waiting, ctl_serve_in_slice, d, &slice_ns,
				   &req_ns);
	else
		ps_tlock_take(&d->table_mu);
	d->table_held = true;
	if (slice_ns) {
		/* The tick's wait for the slice; a request's for the table within it. */
		if (slice_ns > d->slice_wait_max_ns)
			d->slice_wait_max_ns = slice_ns;
		ns = req_ns;
	} else {
		ns = ps_tlock_ns(CLOCK_MONOTONIC) - t0;
	}
	if (ns > d->table_wait_max_ns)
		d->table_wait_max_ns = ns;
}

/*
 * From inside a pass (the table's on_yield): answer the control requests
 * waiting, if YIELD_MS went by since the pass last looked. The handlers
 * change no record of the table; true when one of them put a new
 * configuration in force (a reload), which stops the passes that read it.
 */
static bool loop_yield(void *ctx)
{
	struct ps_daemon *d = ctx;
	/* The control socket's epoll set: a new connection, or a request on one accepted. */
	struct pollfd pfd = { .fd = d->ctl.epfd, .events = POLLIN };
	uint64_t now = ps_mono_ms(), reloads = d->reloads;

	if (d->yielding || now - d->yielded_ms < YIELD_MS)
		return false;
	d->yielded_ms = now;
	ctl_looked(d);
	if (poll(&pfd, 1, 0) != 1)
		return false;
	d->yielding = true;
	ps_control_serve(&d->ctl, ps_daemon_handle, d);
	d->yielding = false;
	return d->reloads != reloads;
}

/* The same between batches of a sweep of the flows, which reads no configuration. */
static void sweep_yield(void *ctx)
{
	loop_yield(ctx);
}

void ps_daemon_yield_init(struct ps_daemon *d)
{
	d->table.on_yield = loop_yield;
	d->table.on_yield_ctx = d;
}

/* Sweep the idle flows, counting those left for `penstock status`. */
static void sweep_flows(struct ps_daemon *d)
{
	uint32_t left, left_est;

	ps_flows_expire(&d->dp, ps_boot_now(NULL) - PS_FLOW_IDLE_S * 1000000000ULL, &left,
			&left_est, sweep_yield, d);
	d->flows = left;
	d->flows_est = left_est;
}

/*
 * The steps the detector's thread found at the run that just ended, taken
 * at once (policy/detect_bg.c), what a tick does after its policy.
 */
static void detect_steps(struct ps_daemon *d)
{
	ps_detect_bg_take(d->pol.det);
	ps_daemon_save_escalation(d, false);
	if (d->pol.shape_dirty) {
		d->pol.shape_dirty = false;
		ps_daemon_shape_sync(d, NULL, 0);
	}
}

/*
 * A piece of the clients a tick left for later (its budget of new ones
 * spent: count/tick.c), when the loop has nothing else to do, and one
 * after each tick: at a million new clients the table is whole a second
 * or two after they came, not TICK_NEW_MAX a tick.
 */
#define CATCH_UP_FINDS		16384

static void catch_up(struct ps_daemon *d)
{
	int r = ps_tick_catch_up(&d->tick, &d->table, CATCH_UP_FINDS);

	if (r < 0) {
		/* (out of memory, or the map unreadable: the next ticks try again) */
		pr_warn("penstockd: folding the clients left for later: %s\n", strerror(-r));
		d->table.unfolded = 0;
	}
}

static void tick(struct ps_daemon *d)
{
	uint64_t now, reclaimed = d->tick.reclaimed, mono = ps_mono_ms();
	bool saving = d->saver > 0 || d->saver_th;
	uint32_t known = d->table.n;

	/* How late this tick starts: a pass of the last one (a detection run)
	 * that held the loop past its second. */
	if (d->tick_start_ms && mono - d->tick_start_ms > 1000 &&
	    mono - d->tick_start_ms - 1000 > d->tick_late_max_ms)
		d->tick_late_max_ms = mono - d->tick_start_ms - 1000;
	d->tick_start_ms = mono;
	d->yielded_ms = mono;
	ps_tick_run(&d->tick, &d->table);
	/* (a tick that met new clients costs what it costs, save or not) */
	if (saving && d->table.n == known && d->tick.last_ns > d->tick_save_max_ns)
		d->tick_save_max_ns = d->tick.last_ns;
	/* A freed slot's last counts are in the table alone (the slot was
	 * zeroed): into the state file at once, not in SAVE_INTERVAL_S. */
	if (d->tick.reclaimed != reclaimed)
		d->save_soon = d->save_durable = true;
	/* The fleet: this tick's counts out, the sums of the last push judged. */
	ps_fleet_tick(&d->fleet, ps_wall_ms());
	ps_fleet_limits(&d->fleet, &d->dp, ps_wall_ms(), ps_boot_now(NULL));
	if (d->fleet.shape_dirty) {
		d->shape_dirty = true;
		d->fleet.shape_dirty = false;
	}
	ps_policy_tick(&d->pol, ps_wall_ms(), ps_boot_now(NULL));
	/* The fleet's entries both ways, and its detection on the fleet's windows. */
	ps_fleet_share(&d->fleet, &d->dp, d->pol.det, ps_wall_ms(), ps_boot_now(NULL));
	if (d->fleet.shape_dirty) {
		d->shape_dirty = true;
		d->fleet.shape_dirty = false;
	}
	ps_daemon_save_escalation(d, false);
	if (d->pol.shape_dirty) {
		d->shape_dirty = true;
		d->pol.shape_dirty = false;
	}
	/* From the first tick on, so that status has a count at once. */
	if (d->tick.count % 10 == 1) {
		sweep_flows(d);
		ps_ooo_collect(&d->dp, ps_boot_now(NULL) / 1000000000ULL);
	}
	/* Expired or new shape entries now; every 10 s, whatever changed
	 * behind the daemon's back (a class someone deleted). */
	if (d->shape_dirty || d->tick.count % 10 == 0)
		ps_daemon_shape_sync(d, NULL, 0);
	ps_alerts_tick(d->alerts, ps_wall_ms());
	/* Requests that waited through the tail of the passes, before the render. */
	(void)loop_yield(d);
	/* The metrics' text for the scrapes until the next tick. */
	ps_scrape_render(d);
	ps_control_sweep(&d->ctl, ps_daemon_handle, d);
	sd_notify(0, "WATCHDOG=1");
	reap_saver(d, false);
	now = ps_wall_ms();
	if (!d->saver && !d->saver_th &&
	    (d->save_soon || now - d->last_save_ms >= SAVE_INTERVAL_S * 1000)) {
		pid_t p = 0;

		/* Counts the table alone holds (a slot freed) are saved by a
		 * child, which finishes the save if the daemon is killed. */
		if (d->save_aborts < SAVE_ABORTS_MAX && !d->save_durable) {
			int r = ps_state_saver_start(&d->saver_th, &d->table, &d->table_mu.mu,
						     d->state_dir, now);

			if (!r) {
				d->save_soon = false;
				d->saver_started_ms = now;
				return;
			}
			pr_warn("penstockd: cannot start a thread to save state: %s\n",
				strerror(-r));
		}
		p = ps_state_save_bg(&d->table, d->state_dir, now);

		d->save_soon = d->save_durable = false;
		if (p < 0)
			pr_warn("penstockd: cannot fork to save state: %s\n", strerror(-p));
		if (p < 0) {
			d->last_save_ms = now;	/* retry in SAVE_INTERVAL_S */
		} else {
			d->saver = p;
			d->saver_started_ms = now;
		}
	}
}

void ps_daemon_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGCHLD);
}

int ps_daemon_run(struct ps_daemon *d)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct epoll_event ev, evs[8];
	int sfd, tfd, efd, dfd, n, i, r;
	sigset_t mask;
	char err[4200];

	ps_daemon_signals(&mask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || efd < 0 || timerfd_settime(tfd, 0, &its, NULL)) {
		pr_warn("penstockd: event loop: %s\n", strerror(errno));
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = sfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, tfd, &ev);
	/* The control socket's own epoll set: its connections as one fd. */
	ev.data.fd = d->ctl.epfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, d->ctl.epfd, &ev);
	/* The fleet's Redis connection, likewise (fleet/redis_ev.c). */
	ev.data.fd = d->fleet.epfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, d->fleet.epfd, &ev);
	sd_notifyf(0, "READY=1\nSTATUS=counting %d endpoints on %d interfaces\nMAINPID=%d",
		   d->cfg.nendpoints, d->natt, (int)getpid());
	/* A save by thread, and the detection runs in a thread of their own,
	 * read the table while the loop waits for events. */
	ps_tlock_init(&d->table_mu);
	ps_tlock_take(&d->table_mu);
	d->table_held = true;
	/* Made by the metrics' starter: a thread that holds no capability. */
	ps_detect_bg_spawner(ps_metrics_spawn);
	if (d->pol.det && (r = ps_detect_bg_start(d->pol.det, &d->table_mu)))
		pr_warn("penstockd: cannot start the detector's thread (detection runs in the loop): %s\n",
			strerror(-r));
	dfd = d->pol.det ? ps_detect_bg_fd(d->pol.det) : -1;
	if (dfd >= 0) {
		ev.data.fd = dfd;
		epoll_ctl(efd, EPOLL_CTL_ADD, dfd, &ev);
	}
	while (!d->stop) {
		d->table_held = false;
		ps_tlock_give(&d->table_mu);
		ctl_looked(d);
		/* Clients the last tick left for later: taken in between events. */
		n = epoll_wait(efd, evs, 8, d->table.unfolded ? 0 : -1);
		for (i = 0; i < n && evs[i].data.fd != tfd; i++)
			;
		take_table(d, i < n);
		if (n < 0 && errno != EINTR)
			break;
		if (n == 0 && d->table.unfolded) {
			catch_up(d);
			continue;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == tfd) {
				uint64_t exp;

				if (read(tfd, &exp, sizeof(exp)) > 0) {
					tick(d);
					/* A piece after every tick too: a loop that
					 * never finds itself idle (ticks back to back
					 * on a machine short of CPU) still catches up. */
					if (d->table.unfolded)
						catch_up(d);
				}
			} else if (evs[i].data.fd == dfd) {
				detect_steps(d);
			} else if (evs[i].data.fd == d->fleet.epfd && d->fleet.cfg) {
				ps_fleet_events(&d->fleet);
			} else if (evs[i].data.fd == sfd) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD) {
						reap_saver(d, false);
					} else if (si.ssi_signo == SIGHUP) {
						sd_notify(0, "RELOADING=1");
						ps_daemon_reload(d, err, sizeof(err));
						sd_notify(0, "READY=1");
					} else {
						pr_info("penstockd: signal %u, stopping\n",
							si.ssi_signo);
						d->stop = true;
					}
				}
			} else {
				ps_control_serve(&d->ctl, ps_daemon_handle, d);
			}
		}
	}
	d->table_held = false;
	ps_tlock_give(&d->table_mu);
	/* Its run stops; what the runs found is taken now, before the escalation is saved. */
	if (d->pol.det)
		ps_detect_bg_stop(d->pol.det);
	sd_notify(0, "STOPPING=1");
	close(efd);
	close(tfd);
	close(sfd);
	return 0;
}
