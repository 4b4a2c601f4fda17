/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hiredis's asynchronous context on penstockd's epoll loop, as hiredis's
 * own adapters put it on ae or libevent (adapters/ae.h): the context asks
 * for read and write interest through addRead/delRead/addWrite/delWrite,
 * and this keeps its socket in an epoll set of the fleet's own, which the
 * daemon's loop waits on as one fd (like the control socket's set).
 */
#ifndef PS_FLEET_REDIS_EV_H
#define PS_FLEET_REDIS_EV_H

#include <hiredis/async.h>

/* Put ac's socket in the epoll set epfd: 0, or -errno (ac untouched). */
int ps_redis_ev_attach(redisAsyncContext *ac, int epfd);

/*
 * Run one event ready in epfd (without waiting): a read or a write of a
 * context attached there (one, or a Cluster's several). The context may
 * be freed on the way (a disconnect): its callbacks say so. 1 when an
 * event ran, 0 when none was ready.
 */
int ps_redis_ev_run(int epfd);

#endif
