/* tlsplug_reactor over a libuv loop (include/tlsplug/uv.h).
 *
 * Lifetimes follow libuv's rule that a handle's memory may only be released
 * in its close callback: watch_free and timer_free close the handles and the
 * close callbacks free the wrapper.  uv_close stops a handle synchronously,
 * so no tlsplug callback runs after watch_free/timer_free return, and closing
 * a uv_poll_t drops the fd from the kernel set at once, so tlsplug may close
 * the fd right after watch_free. */
#include <stdlib.h>
#include <uv.h>

#include "tlsplug/uv.h"

struct tlsplug_watch {
    uv_poll_t poll;
    tlsplug_watch_cb cb;
    void *arg;
    int events;  /* interest, TLSPLUG_EV_* */
    int polling; /* uv_poll_start in force: libuv stops the handle itself on POLLERR */
    int closing;
};

struct tlsplug_timer {
    uv_timer_t timer;
    /* Zero-delay starts: libuv 1.44 runs a timer restarted with 0 ms from
     * its own callback again within the same uv__run_timers pass, forever.
     * An idle handle started from a callback runs on the next iteration. */
    uv_idle_t idle;
    tlsplug_timer_cb cb;
    void *arg;
    int open_handles; /* close callbacks still to come */
};

static int uv_class(int uverr)
{
    switch (uverr) {
    case UV_ENOMEM:
    case UV_ENOSPC:
        return TLSPLUG_E_NO_MEMORY;
    case UV_EEXIST:
        return TLSPLUG_E_BUSY; /* libuv allows one poll handle per fd and loop */
    case UV_EBADF:
    case UV_EINVAL:
    case UV_ENOTSOCK:
    case UV_EPERM:
        return TLSPLUG_E_INVALID_ARGUMENT;
    default:
        return TLSPLUG_E_IO;
    }
}

static int uv_events_of(int events)
{
    return ((events & TLSPLUG_EV_READ) ? UV_READABLE : 0) |
           ((events & TLSPLUG_EV_WRITE) ? UV_WRITABLE : 0);
}

/* ------------------------------------------------------------------------ */
/* Watches                                                                    */

static void on_poll(uv_poll_t *p, int status, int uvev)
{
    tlsplug_watch *w = p->data;
    if (w->closing)
        return;
    int ev;
    if (status < 0) {
        /* libuv has stopped the handle: report both sides, as the built-in
         * loop does for errors, so whichever operation is pending sees it. */
        w->polling = 0;
        ev = TLSPLUG_EV_READ | TLSPLUG_EV_WRITE;
    } else {
        ev = (((uvev & UV_READABLE) ? TLSPLUG_EV_READ : 0) |
              ((uvev & UV_WRITABLE) ? TLSPLUG_EV_WRITE : 0)) &
             w->events;
    }
    if (ev)
        w->cb(w, ev, w->arg);
    /* The wrapper outlives a watch_free from inside cb (freed in the close
     * callback), so w is still readable here.  The reactor is
     * level-triggered: keep watching after an error until tlsplug pauses. */
    if (!w->closing && !w->polling && w->events &&
        uv_poll_start(&w->poll, uv_events_of(w->events), on_poll) == 0)
        w->polling = 1;
}

static int uvr_watch_new(void *self, int fd, tlsplug_watch_cb cb, void *arg, tlsplug_watch **out)
{
    if (!self || fd < 0 || !cb || !out)
        return TLSPLUG_E_INVALID_ARGUMENT;
    tlsplug_watch *w = calloc(1, sizeof *w);
    if (!w)
        return TLSPLUG_E_NO_MEMORY;
    int rc = uv_poll_init_socket(self, &w->poll, fd);
    if (rc < 0) {
        /* a handle whose init failed is not registered with the loop */
        free(w);
        return uv_class(rc);
    }
    w->poll.data = w;
    w->cb = cb;
    w->arg = arg;
    *out = w;
    return 0;
}

static int uvr_watch_set(void *self, tlsplug_watch *w, int events)
{
    if (!w || w->closing || (events & ~(TLSPLUG_EV_READ | TLSPLUG_EV_WRITE)))
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (events == w->events && w->polling == (events != 0))
        return 0;
    if (!events) {
        uv_poll_stop(&w->poll);
        w->polling = 0;
    } else {
        int rc = uv_poll_start(&w->poll, uv_events_of(events), on_poll);
        if (rc < 0)
            return uv_class(rc);
        w->polling = 1;
    }
    w->events = events;
    return 0;
}

static void watch_closed(uv_handle_t *h)
{
    free(h->data);
}

static void uvr_watch_free(void *self, tlsplug_watch *w)
{
    if (!w || w->closing)
        return;
    w->closing = 1;
    w->events = 0;
    uv_close((uv_handle_t *)&w->poll, watch_closed);
}

/* ------------------------------------------------------------------------ */
/* Timers                                                                     */

static void on_timer(uv_timer_t *h)
{
    tlsplug_timer *t = h->data;
    t->cb(t, t->arg);
}

static void on_idle(uv_idle_t *h)
{
    tlsplug_timer *t = h->data;
    uv_idle_stop(h);
    t->cb(t, t->arg);
}

static int uvr_timer_new(void *self, tlsplug_timer_cb cb, void *arg, tlsplug_timer **out)
{
    if (!self || !cb || !out)
        return TLSPLUG_E_INVALID_ARGUMENT;
    tlsplug_timer *t = calloc(1, sizeof *t);
    if (!t)
        return TLSPLUG_E_NO_MEMORY;
    /* Both inits only link the handle into the loop; they cannot fail. */
    uv_timer_init(self, &t->timer);
    uv_idle_init(self, &t->idle);
    t->timer.data = t;
    t->idle.data = t;
    t->cb = cb;
    t->arg = arg;
    *out = t;
    return 0;
}

static int uvr_timer_start(void *self, tlsplug_timer *t, uint64_t ms)
{
    if (!self || !t)
        return TLSPLUG_E_INVALID_ARGUMENT;
    uv_timer_stop(&t->timer);
    uv_idle_stop(&t->idle);
    int rc;
    if (ms == 0) {
        rc = uv_idle_start(&t->idle, on_idle);
        return rc < 0 ? uv_class(rc) : 0;
    }
    /* libuv measures from the time cached at the start of the iteration; a
     * long callback before this call would otherwise shorten the delay. */
    uv_update_time(self);
    rc = uv_timer_start(&t->timer, on_timer, ms, 0);
    return rc < 0 ? uv_class(rc) : 0;
}

static void uvr_timer_stop(void *self, tlsplug_timer *t)
{
    if (!t)
        return;
    uv_timer_stop(&t->timer);
    uv_idle_stop(&t->idle);
}

static void timer_closed(uv_handle_t *h)
{
    tlsplug_timer *t = h->data;
    if (--t->open_handles == 0)
        free(t);
}

static void uvr_timer_free(void *self, tlsplug_timer *t)
{
    if (!t || t->open_handles)
        return;
    t->open_handles = 2;
    uv_close((uv_handle_t *)&t->timer, timer_closed);
    uv_close((uv_handle_t *)&t->idle, timer_closed);
}

static uint64_t uvr_now_ms(void *self)
{
    (void)self;
    return uv_hrtime() / 1000000u;
}

static const tlsplug_reactor_ops uv_reactor_ops = {
    .watch_new = uvr_watch_new,
    .watch_set = uvr_watch_set,
    .watch_free = uvr_watch_free,
    .timer_new = uvr_timer_new,
    .timer_start = uvr_timer_start,
    .timer_stop = uvr_timer_stop,
    .timer_free = uvr_timer_free,
    .now_ms = uvr_now_ms,
};

int tlsplug_uv_reactor_init(tlsplug_reactor *r, uv_loop_t *loop)
{
    if (!r || !loop)
        return TLSPLUG_E_INVALID_ARGUMENT;
    r->ops = &uv_reactor_ops;
    r->self = loop;
    return TLSPLUG_OK;
}

uv_loop_t *tlsplug_uv_reactor_loop(const tlsplug_reactor *r)
{
    return r && r->ops == &uv_reactor_ops ? r->self : NULL;
}
