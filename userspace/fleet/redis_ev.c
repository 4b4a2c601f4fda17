// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hiredis adapter for penstockd's loop (redis_ev.h). epoll is
 * level-triggered here: an interest hiredis drops is taken out of the
 * set at once, and what one run leaves unread is reported again.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "fleet/redis_ev.h"

struct ps_redis_ev {
	redisAsyncContext *ac;
	int epfd, fd;
	uint32_t events;	/* EPOLLIN / EPOLLOUT asked for */
	int added;		/* fd is in epfd */
};

static void update(struct ps_redis_ev *e, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	if (events == e->events)
		return;
	e->events = events;
	if (!events) {
		if (e->added)
			epoll_ctl(e->epfd, EPOLL_CTL_DEL, e->fd, NULL);
		e->added = 0;
	} else if (e->added) {
		epoll_ctl(e->epfd, EPOLL_CTL_MOD, e->fd, &ev);
	} else if (!epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->fd, &ev)) {
		e->added = 1;
	}
}

static void add_read(void *p)
{
	struct ps_redis_ev *e = p;

	update(e, e->events | EPOLLIN);
}

static void del_read(void *p)
{
	struct ps_redis_ev *e = p;

	update(e, e->events & ~EPOLLIN);
}

static void add_write(void *p)
{
	struct ps_redis_ev *e = p;

	update(e, e->events | EPOLLOUT);
}

static void del_write(void *p)
{
	struct ps_redis_ev *e = p;

	update(e, e->events & ~EPOLLOUT);
}

/* The context is being freed, its socket not yet closed. */
static void cleanup(void *p)
{
	struct ps_redis_ev *e = p;

	update(e, 0);
	free(e);
}

int ps_redis_ev_attach(redisAsyncContext *ac, int epfd)
{
	struct ps_redis_ev *e;

	if (ac->ev.data)
		return -EBUSY;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ac = ac;
	e->epfd = epfd;
	e->fd = ac->c.fd;
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	ac->ev.data = e;
	return 0;
}

int ps_redis_ev_run(int epfd)
{
	struct epoll_event ev;
	struct ps_redis_ev *e;

	/*
	 * One event per run, one handler per event: a handler may free the
	 * context (and e with it), so nothing of e is touched after it.
	 * Writes first: a connect completes as the socket turns writable.
	 */
	if (epoll_wait(epfd, &ev, 1, 0) != 1)
		return 0;
	e = ev.data.ptr;
	if ((ev.events & EPOLLOUT) && (e->events & EPOLLOUT))
		redisAsyncHandleWrite(e->ac);
	else
		redisAsyncHandleRead(e->ac);
	return 1;
}
