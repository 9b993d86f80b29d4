/* tlsplug_reactor over a libevent 2.1 event_base (include/tlsplug/event.h).
 *
 * A watch is one persistent struct event whose flags are re-assigned when the
 * interest changes (libevent cannot change the flags of an added event).
 * event_del also takes an event off the active queue, so after watch_set(0)
 * or watch_free no callback for the old interest runs, even one that was
 * already collected in the current iteration. */
#include <stdlib.h>
#include <time.h>
#include <event2/event.h>

#include "tlsplug/event.h"

struct tlsplug_watch {
    struct event *ev;
    struct event_base *base;
    int fd;
    int events; /* interest, TLSPLUG_EV_* */
    tlsplug_watch_cb cb;
    void *arg;
};

struct tlsplug_timer {
    struct event *ev;
    tlsplug_timer_cb cb;
    void *arg;
};

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    tlsplug_watch *w = arg;
    /* libevent's epoll backend turns EPOLLERR/EPOLLHUP into READ|WRITE for
     * the events of interest, which is what the reactor contract asks. */
    int ev = (((what & EV_READ) ? TLSPLUG_EV_READ : 0) | ((what & EV_WRITE) ? TLSPLUG_EV_WRITE : 0)) &
             w->events;
    if (ev)
        w->cb(w, ev, w->arg);
}

static int evr_watch_new(void *self, int fd, tlsplug_watch_cb cb, void *arg, tlsplug_watch **out)
{
    if (!self || fd < 0 || !cb || !out)
        return TLSPLUG_E_INVALID_ARGUMENT;
    tlsplug_watch *w = calloc(1, sizeof *w);
    if (!w)
        return TLSPLUG_E_NO_MEMORY;
    w->base = self;
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    w->ev = event_new(self, fd, EV_PERSIST, on_io, w);
    if (!w->ev) {
        free(w);
        return TLSPLUG_E_NO_MEMORY;
    }
    *out = w;
    return 0;
}

static int evr_watch_set(void *self, tlsplug_watch *w, int events)
{
    if (!w || (events & ~(TLSPLUG_EV_READ | TLSPLUG_EV_WRITE)))
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (events == w->events)
        return 0;
    event_del(w->ev);
    w->events = 0;
    if (!events)
        return 0;
    short what = (short)(EV_PERSIST | ((events & TLSPLUG_EV_READ) ? EV_READ : 0) |
                         ((events & TLSPLUG_EV_WRITE) ? EV_WRITE : 0));
    if (event_assign(w->ev, w->base, w->fd, what, on_io, w) < 0 || event_add(w->ev, NULL) < 0)
        return TLSPLUG_E_IO;
    w->events = events;
    return 0;
}

static void evr_watch_free(void *self, tlsplug_watch *w)
{
    if (!w)
        return;
    event_free(w->ev);
    free(w);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    tlsplug_timer *t = arg;
    t->cb(t, t->arg);
}

static int evr_timer_new(void *self, tlsplug_timer_cb cb, void *arg, tlsplug_timer **out)
{
    if (!self || !cb || !out)
        return TLSPLUG_E_INVALID_ARGUMENT;
    tlsplug_timer *t = calloc(1, sizeof *t);
    if (!t)
        return TLSPLUG_E_NO_MEMORY;
    t->cb = cb;
    t->arg = arg;
    t->ev = evtimer_new((struct event_base *)self, on_timeout, t);
    if (!t->ev) {
        free(t);
        return TLSPLUG_E_NO_MEMORY;
    }
    *out = t;
    return 0;
}

static int evr_timer_start(void *self, tlsplug_timer *t, uint64_t ms)
{
    if (!t)
        return TLSPLUG_E_INVALID_ARGUMENT;
    /* A zero timeout is put on the timer heap, not the active queue: it runs
     * on the next iteration, never within the callback pass that armed it. */
    uint64_t s = ms / 1000u;
    if (s > 0x7fffffffu)
        s = 0x7fffffffu; /* "never" within any process lifetime */
    struct timeval tv = {.tv_sec = (time_t)s, .tv_usec = (suseconds_t)(ms % 1000u) * 1000};
    return evtimer_add(t->ev, &tv) < 0 ? TLSPLUG_E_IO : 0;
}

static void evr_timer_stop(void *self, tlsplug_timer *t)
{
    if (t)
        evtimer_del(t->ev);
}

static void evr_timer_free(void *self, tlsplug_timer *t)
{
    if (!t)
        return;
    event_free(t->ev);
    free(t);
}

static uint64_t evr_now_ms(void *self)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const tlsplug_reactor_ops event_reactor_ops = {
    .watch_new = evr_watch_new,
    .watch_set = evr_watch_set,
    .watch_free = evr_watch_free,
    .timer_new = evr_timer_new,
    .timer_start = evr_timer_start,
    .timer_stop = evr_timer_stop,
    .timer_free = evr_timer_free,
    .now_ms = evr_now_ms,
};

int tlsplug_event_reactor_init(tlsplug_reactor *r, struct event_base *base)
{
    if (!r || !base)
        return TLSPLUG_E_INVALID_ARGUMENT;
    r->ops = &event_reactor_ops;
    r->self = base;
    return TLSPLUG_OK;
}

struct event_base *tlsplug_event_reactor_base(const tlsplug_reactor *r)
{
    return r && r->ops == &event_reactor_ops ? r->self : NULL;
}
