/*
 * The reactor interface tlsplug_aio runs on.  The built-in loop
 * (tlsplug_loop) implements it; the libuv and libevent adapters implement
 * it over the user's loop; an application with its own loop can implement it
 * too.  All calls happen on the loop's thread.
 */
#ifndef TLSPLUG_REACTOR_H
#define TLSPLUG_REACTOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TLSPLUG_EV_READ 1
#define TLSPLUG_EV_WRITE 2

typedef struct tlsplug_watch tlsplug_watch; /* reactor-defined */
typedef struct tlsplug_timer tlsplug_timer; /* reactor-defined */

/* events: TLSPLUG_EV_READ | TLSPLUG_EV_WRITE as reported ready (errors and
 * hang-ups are reported as both, so the next read/write sees them). */
typedef void (*tlsplug_watch_cb)(tlsplug_watch *w, int events, void *arg);
typedef void (*tlsplug_timer_cb)(tlsplug_timer *t, void *arg);

typedef struct tlsplug_reactor_ops {
    /* Watch fd (level-triggered); no events until watch_set.  0 or <0. */
    int (*watch_new)(void *self, int fd, tlsplug_watch_cb cb, void *arg, tlsplug_watch **out);
    /* Set the events of interest (0 to pause).  0 or <0. */
    int (*watch_set)(void *self, tlsplug_watch *w, int events);
    /* Stop and release; the callback is not called after this returns.  The
     * fd is not closed. */
    void (*watch_free)(void *self, tlsplug_watch *w);
    int (*timer_new)(void *self, tlsplug_timer_cb cb, void *arg, tlsplug_timer **out);
    /* One shot after ms milliseconds (0: on the next loop iteration, after
     * the current callback returned).  Restarting re-arms. */
    int (*timer_start)(void *self, tlsplug_timer *t, uint64_t ms);
    void (*timer_stop)(void *self, tlsplug_timer *t);
    void (*timer_free)(void *self, tlsplug_timer *t);
    /* Monotonic milliseconds. */
    uint64_t (*now_ms)(void *self);
} tlsplug_reactor_ops;

/* A reactor: the ops and the loop they act on.  Plain data owned by whoever
 * provides the loop; it must outlive every aio that uses it. */
typedef struct tlsplug_reactor {
    const tlsplug_reactor_ops *ops;
    void *self;
} tlsplug_reactor;

#ifdef __cplusplus
}
#endif

#endif
