/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * penstockd's /metrics: an HTTP server (libmicrohttpd, a thread of its
 * own) that serves the last text the loop published. The loop renders
 * the text once per tick (daemon/scrape.c) and hands it over with
 * ps_metrics_publish(); a scrape takes a reference to the text in force
 * and never touches the daemon's state, so that no scrape can block or
 * slow a tick, and a tick never waits for a scrape: the lock between them
 * guards a pointer and a reference count only.
 */
#ifndef PS_METRICS_H
#define PS_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct ps_metrics;

/*
 * Bind and listen on listen ("127.0.0.1:9464", "[::1]:9464"), in the
 * calling thread, so that an address in use or not on this host fails
 * here. NULL with what is wrong in err and errno set (EADDRINUSE: another
 * process listens there).
 */
struct ps_metrics *ps_metrics_bind(const char *listen, char *err, size_t errlen);

/*
 * The starter of the servers' threads: call once, before the process
 * drops its privileges. It drops every capability of its own, bounding
 * set included, and every server thread it starts inherits that: none
 * (capabilities are per thread, inherited by the threads a thread
 * starts). 0, or -errno with what is wrong in err. Stop it at exit.
 */
int ps_metrics_starter(char *err, size_t errlen);
void ps_metrics_starter_stop(void);

/*
 * Make a thread by the starter, pthread_create(th, NULL, fn, arg) there,
 * every signal blocked: it holds no capability either (penstockd's
 * detector thread). Without a starter, in the calling thread. 0 or
 * -errno.
 */
int ps_metrics_spawn(pthread_t *th, void *(*fn)(void *), void *arg);

/*
 * Start serving: the server's thread started by the starter (without
 * one, by a thread that drops what it can first). 0, or -errno with what
 * is wrong in err.
 */
int ps_metrics_serve(struct ps_metrics *m, char *err, size_t errlen);

/* Put text[0..len) in force (the server copies nothing: it takes text, malloc'ed). */
void ps_metrics_publish(struct ps_metrics *m, char *text, size_t len);

/* Whether a text was published (else a scrape gets 503). */
bool ps_metrics_has_text(struct ps_metrics *m);

/* The address it listens on, as given. */
const char *ps_metrics_listen(const struct ps_metrics *m);

/* Scrapes answered so far (GET /metrics). */
unsigned long long ps_metrics_scrapes(const struct ps_metrics *m);

/* Stop serving (waits for the server's thread), close, free. NULL is fine. */
void ps_metrics_close(struct ps_metrics *m);

#endif
