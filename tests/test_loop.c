/* The built-in loop, run against both backends (epoll and poll). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* socketpair, dup, nanosleep under -std=c11 */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tlsplug/tlsplug.h"

static const unsigned flags_epoll = 0;
static const unsigned flags_poll = TLSPLUG_LOOP_POLL;

struct fx {
    tlsplug_loop *loop;
    tlsplug_reactor *r;
    const tlsplug_reactor_ops *ops;
    void *self;
    unsigned flags;
};

static int setup(void **state)
{
    const unsigned *flags = *state;
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->flags = *flags;
    if (tlsplug_loop_new(&f->loop, f->flags) != 0) {
        free(f);
        return -1;
    }
    f->r = tlsplug_loop_reactor(f->loop);
    f->ops = f->r->ops;
    f->self = f->r->self;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int rc = tlsplug_loop_free(f->loop);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void make_pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK), 0);
}

static void close_pair(int sv[2])
{
    close(sv[0]);
    close(sv[1]);
}

/* ------------------------------------------------------------------------ */

static void test_backend(void **state)
{
    struct fx *f = *state;
    const char *b = tlsplug_loop_backend(f->loop);
    assert_string_equal(b, (f->flags & TLSPLUG_LOOP_POLL) ? "poll" : "epoll");
    uint64_t a = f->ops->now_ms(f->self);
    nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 20000000}, NULL);
    uint64_t c = f->ops->now_ms(f->self);
    assert_true(c >= a + 15);
}

/* --- timers -------------------------------------------------------------- */

struct order {
    int seen[16];
    int n;
};

struct tagged {
    struct order *o;
    int tag;
};

static void record_cb(tlsplug_timer *t, void *arg)
{
    (void)t;
    struct tagged *tg = arg;
    tg->o->seen[tg->o->n++] = tg->tag;
}

static void test_timers_in_order(void **state)
{
    struct fx *f = *state;
    struct order o = {.n = 0};
    static const uint64_t delay[] = {30, 10, 20, 10, 0, 10};
    /* Equal deadlines fire in start order: 1 before 3 before 5. */
    static const int expect[] = {4, 1, 3, 5, 2, 0};
    struct tagged tg[6];
    tlsplug_timer *t[6];
    for (int i = 0; i < 6; i++) {
        tg[i] = (struct tagged){&o, i};
        assert_int_equal(f->ops->timer_new(f->self, record_cb, &tg[i], &t[i]), 0);
    }
    uint64_t start = f->ops->now_ms(f->self);
    for (int i = 0; i < 6; i++)
        assert_int_equal(f->ops->timer_start(f->self, t[i], delay[i]), 0);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_true(f->ops->now_ms(f->self) - start >= 30);
    assert_int_equal(o.n, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(o.seen[i], expect[i]);
    for (int i = 0; i < 6; i++)
        f->ops->timer_free(f->self, t[i]);
}

static void test_equal_deadlines_many(void **state)
{
    struct fx *f = *state;
    struct order o = {.n = 0};
    struct tagged tg[16];
    tlsplug_timer *t[16];
    for (int i = 0; i < 16; i++) {
        tg[i] = (struct tagged){&o, i};
        assert_int_equal(f->ops->timer_new(f->self, record_cb, &tg[i], &t[i]), 0);
    }
    /* Start in an order that scrambles heap positions. */
    for (int i = 0; i < 16; i++)
        assert_int_equal(f->ops->timer_start(f->self, t[i], 5), 0);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(o.n, 16);
    for (int i = 0; i < 16; i++)
        assert_int_equal(o.seen[i], i);
    for (int i = 0; i < 16; i++)
        f->ops->timer_free(f->self, t[i]);
}

struct counter {
    struct fx *f;
    int fired;
    int limit;
    uint64_t restart_ms;
};

static void count_cb(tlsplug_timer *t, void *arg)
{
    (void)t;
    struct counter *c = arg;
    c->fired++;
}

static void test_zero_timer_not_synchronous(void **state)
{
    struct fx *f = *state;
    struct counter c = {.f = f};
    tlsplug_timer *t;
    assert_int_equal(f->ops->timer_new(f->self, count_cb, &c, &t), 0);
    assert_int_equal(f->ops->timer_start(f->self, t, 0), 0);
    assert_int_equal(c.fired, 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(c.fired, 1);
    /* Fired once: a one-shot does not re-arm. */
    assert_int_equal(tlsplug_loop_run_once(f->loop, 0), 0);
    assert_int_equal(c.fired, 1);
    f->ops->timer_free(f->self, t);
}

static void restart_cb(tlsplug_timer *t, void *arg)
{
    struct counter *c = arg;
    c->fired++;
    if (c->fired < c->limit)
        assert_int_equal(c->f->ops->timer_start(c->f->self, t, c->restart_ms), 0);
}

static void test_zero_timer_restart_next_iteration(void **state)
{
    struct fx *f = *state;
    struct counter c = {.f = f, .limit = 3, .restart_ms = 0};
    tlsplug_timer *t;
    assert_int_equal(f->ops->timer_new(f->self, restart_cb, &c, &t), 0);
    assert_int_equal(f->ops->timer_start(f->self, t, 0), 0);
    /* Each iteration runs it exactly once: a 0 ms restart from inside the
     * callback waits for the next iteration. */
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(c.fired, 1);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(c.fired, 2);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(c.fired, 3);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 0);
    f->ops->timer_free(f->self, t);
}

static void test_timer_restart_in_callback(void **state)
{
    struct fx *f = *state;
    struct counter c = {.f = f, .limit = 4, .restart_ms = 5};
    tlsplug_timer *t;
    assert_int_equal(f->ops->timer_new(f->self, restart_cb, &c, &t), 0);
    uint64_t start = f->ops->now_ms(f->self);
    assert_int_equal(f->ops->timer_start(f->self, t, 5), 0);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(c.fired, 4);
    assert_true(f->ops->now_ms(f->self) - start >= 20);
    f->ops->timer_free(f->self, t);
}

static void test_timer_restart_while_armed(void **state)
{
    struct fx *f = *state;
    struct counter c = {.f = f};
    tlsplug_timer *t;
    assert_int_equal(f->ops->timer_new(f->self, count_cb, &c, &t), 0);
    assert_int_equal(f->ops->timer_start(f->self, t, 10000), 0);
    assert_int_equal(f->ops->timer_start(f->self, t, 10), 0);
    uint64_t start = f->ops->now_ms(f->self);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(c.fired, 1);
    assert_true(f->ops->now_ms(f->self) - start < 5000);
    f->ops->timer_free(f->self, t);
}

struct killer {
    struct fx *f;
    tlsplug_timer *stop_me;
    tlsplug_timer *free_me;
    tlsplug_timer *self_t;
    int fired;
    int free_self;
};

static void killer_cb(tlsplug_timer *t, void *arg)
{
    struct killer *k = arg;
    k->fired++;
    if (k->stop_me)
        k->f->ops->timer_stop(k->f->self, k->stop_me);
    if (k->free_me) {
        k->f->ops->timer_free(k->f->self, k->free_me);
        k->free_me = NULL;
    }
    if (k->free_self)
        k->f->ops->timer_free(k->f->self, t);
}

static void test_timer_stop_free_in_callbacks(void **state)
{
    struct fx *f = *state;
    struct counter b = {.f = f}, c = {.f = f};
    struct killer k = {.f = f};
    struct killer self = {.f = f, .free_self = 1};
    tlsplug_timer *ta, *tb, *tc, *td;
    assert_int_equal(f->ops->timer_new(f->self, killer_cb, &k, &ta), 0);
    assert_int_equal(f->ops->timer_new(f->self, count_cb, &b, &tb), 0);
    assert_int_equal(f->ops->timer_new(f->self, count_cb, &c, &tc), 0);
    assert_int_equal(f->ops->timer_new(f->self, killer_cb, &self, &td), 0);
    k.stop_me = tb;
    k.free_me = tc;
    /* All due in the same iteration; a runs first and disarms b and c. */
    assert_int_equal(f->ops->timer_start(f->self, ta, 0), 0);
    assert_int_equal(f->ops->timer_start(f->self, tb, 0), 0);
    assert_int_equal(f->ops->timer_start(f->self, tc, 0), 0);
    assert_int_equal(f->ops->timer_start(f->self, td, 0), 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 2);
    assert_int_equal(k.fired, 1);
    assert_int_equal(self.fired, 1);
    assert_int_equal(b.fired, 0);
    assert_int_equal(c.fired, 0);
    /* b was stopped, not freed: it can be armed again. */
    assert_int_equal(f->ops->timer_start(f->self, tb, 0), 0);
    k.stop_me = NULL;
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(b.fired, 1);
    assert_int_equal(k.fired, 1);
    f->ops->timer_stop(f->self, tb); /* not armed: harmless */
    f->ops->timer_free(f->self, ta);
    f->ops->timer_free(f->self, tb);
}

static void test_timer_stop_then_nothing_left(void **state)
{
    struct fx *f = *state;
    struct counter c = {.f = f};
    tlsplug_timer *t;
    assert_int_equal(f->ops->timer_new(f->self, count_cb, &c, &t), 0);
    assert_int_equal(f->ops->timer_start(f->self, t, 10), 0);
    f->ops->timer_stop(f->self, t);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(c.fired, 0);
    f->ops->timer_free(f->self, t);
}

/* --- watches ------------------------------------------------------------- */

struct wrec {
    struct fx *f;
    int fd;
    int calls;
    int last;
    tlsplug_watch *w;
    tlsplug_watch *victim;
    tlsplug_watch *pause_other;
    int free_self;
    int set_self;     /* events to set from the callback, -1: none */
    int start_timer;  /* arm `timer` with 0 ms from the callback */
    tlsplug_timer *timer;
};

static void wrec_cb(tlsplug_watch *w, int events, void *arg)
{
    struct wrec *r = arg;
    r->calls++;
    r->last = events;
    if (r->victim) {
        r->f->ops->watch_free(r->f->self, r->victim);
        r->victim = NULL;
    }
    if (r->pause_other) {
        assert_int_equal(r->f->ops->watch_set(r->f->self, r->pause_other, 0), 0);
        r->pause_other = NULL;
    }
    if (r->set_self >= 0)
        assert_int_equal(r->f->ops->watch_set(r->f->self, w, r->set_self), 0);
    if (r->start_timer)
        assert_int_equal(r->f->ops->timer_start(r->f->self, r->timer, 0), 0);
    if (r->free_self) {
        r->f->ops->watch_free(r->f->self, w);
        r->w = NULL;
    }
}

static void test_watch_readiness(void **state)
{
    struct fx *f = *state;
    int sv[2];
    make_pair(sv);
    struct wrec r = {.f = f, .fd = sv[0], .set_self = -1};
    assert_int_equal(f->ops->watch_new(f->self, sv[0], wrec_cb, &r, &r.w), 0);
    /* No events of interest until watch_set. */
    assert_int_equal(tlsplug_loop_run_once(f->loop, 0), 0);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);

    assert_int_equal(f->ops->watch_set(f->self, r.w, TLSPLUG_EV_WRITE), 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(r.last, TLSPLUG_EV_WRITE);

    assert_int_equal(f->ops->watch_set(f->self, r.w, TLSPLUG_EV_READ), 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, 20), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(r.last, TLSPLUG_EV_READ);
    /* Level-triggered: still readable until drained. */
    assert_int_equal(tlsplug_loop_run_once(f->loop, 0), 1);
    assert_int_equal(f->ops->watch_set(f->self, r.w, TLSPLUG_EV_READ | TLSPLUG_EV_WRITE), 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, 0), 1);
    assert_int_equal(r.last, TLSPLUG_EV_READ | TLSPLUG_EV_WRITE);
    char ch;
    assert_int_equal(read(sv[0], &ch, 1), 1);
    assert_int_equal(tlsplug_loop_run_once(f->loop, 0), 1);
    assert_int_equal(r.last, TLSPLUG_EV_WRITE);

    /* Paused: nothing fires and run has nothing to wait for. */
    assert_int_equal(f->ops->watch_set(f->self, r.w, 0), 0);
    assert_int_equal(write(sv[1], "y", 1), 1);
    assert_int_equal(tlsplug_loop_run_once(f->loop, 0), 0);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(r.calls, 5);
    /* Resumed after a pause: the pending byte is seen. */
    assert_int_equal(f->ops->watch_set(f->self, r.w, TLSPLUG_EV_READ), 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(r.last, TLSPLUG_EV_READ);

    f->ops->watch_free(f->self, r.w);
    close_pair(sv);
}

static void test_watch_hangup(void **state)
{
    struct fx *f = *state;
    int sv[2];
    make_pair(sv);
    struct wrec r = {.f = f, .set_self = -1};
    assert_int_equal(f->ops->watch_new(f->self, sv[0], wrec_cb, &r, &r.w), 0);
    assert_int_equal(f->ops->watch_set(f->self, r.w, TLSPLUG_EV_READ), 0);
    close(sv[1]);
    assert_int_equal(tlsplug_loop_run_once(f->loop, 1000), 1);
    assert_true(r.last & TLSPLUG_EV_READ);
    /* A paused watch on a hung-up socket must not keep the loop busy. */
    assert_int_equal(f->ops->watch_set(f->self, r.w, 0), 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, 0), 0);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    f->ops->watch_free(f->self, r.w);
    close(sv[0]);
}

static void test_watch_freed_by_other_callback(void **state)
{
    struct fx *f = *state;
    int a[2], b[2];
    make_pair(a);
    make_pair(b);
    struct wrec ra = {.f = f, .set_self = -1}, rb = {.f = f, .set_self = -1};
    assert_int_equal(f->ops->watch_new(f->self, a[0], wrec_cb, &ra, &ra.w), 0);
    assert_int_equal(f->ops->watch_new(f->self, b[0], wrec_cb, &rb, &rb.w), 0);
    /* Whichever runs first frees the other; both are ready in the same
     * iteration, so the second must not run. */
    ra.victim = rb.w;
    rb.victim = ra.w;
    assert_int_equal(f->ops->watch_set(f->self, ra.w, TLSPLUG_EV_WRITE), 0);
    assert_int_equal(f->ops->watch_set(f->self, rb.w, TLSPLUG_EV_WRITE), 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(ra.calls + rb.calls, 1);
    struct wrec *alive = ra.calls ? &ra : &rb;
    alive->victim = NULL;
    assert_int_equal(tlsplug_loop_run_once(f->loop, 0), 1);
    assert_int_equal(ra.calls + rb.calls, 2);
    f->ops->watch_free(f->self, alive->w);
    close_pair(a);
    close_pair(b);
}

static void test_watch_paused_by_other_callback(void **state)
{
    struct fx *f = *state;
    int a[2], b[2];
    make_pair(a);
    make_pair(b);
    struct wrec ra = {.f = f, .set_self = -1}, rb = {.f = f, .set_self = -1};
    assert_int_equal(f->ops->watch_new(f->self, a[0], wrec_cb, &ra, &ra.w), 0);
    assert_int_equal(f->ops->watch_new(f->self, b[0], wrec_cb, &rb, &rb.w), 0);
    assert_int_equal(f->ops->watch_set(f->self, ra.w, TLSPLUG_EV_WRITE), 0);
    assert_int_equal(f->ops->watch_set(f->self, rb.w, TLSPLUG_EV_WRITE), 0);
    /* Whichever runs first pauses the other, which then is not called with
     * events it no longer asks for, although they were already collected. */
    ra.pause_other = rb.w;
    rb.pause_other = ra.w;
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(ra.calls + rb.calls, 1);
    struct wrec *first = ra.calls ? &ra : &rb;
    struct wrec *second = ra.calls ? &rb : &ra;
    assert_int_equal(tlsplug_loop_run_once(f->loop, 0), 1);
    assert_int_equal(first->calls, 2);
    assert_int_equal(second->calls, 0);
    /* Each pauses itself from now on: run ends once both have. */
    ra.set_self = 0;
    rb.set_self = 0;
    assert_int_equal(f->ops->watch_set(f->self, second->w, TLSPLUG_EV_WRITE), 0);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(first->calls, 3);
    assert_int_equal(second->calls, 1);
    f->ops->watch_free(f->self, ra.w);
    f->ops->watch_free(f->self, rb.w);
    close_pair(a);
    close_pair(b);
}

static void test_watch_set_in_callback(void **state)
{
    struct fx *f = *state;
    int sv[2];
    make_pair(sv);
    struct wrec r = {.f = f, .set_self = TLSPLUG_EV_READ};
    assert_int_equal(f->ops->watch_new(f->self, sv[0], wrec_cb, &r, &r.w), 0);
    assert_int_equal(f->ops->watch_set(f->self, r.w, TLSPLUG_EV_WRITE), 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    /* The callback switches to READ: this iteration still reports what was
     * asked for (WRITE), the next one reports READ. */
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(r.last, TLSPLUG_EV_WRITE);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(r.last, TLSPLUG_EV_READ);
    f->ops->watch_free(f->self, r.w);
    close_pair(sv);
}

static void test_watch_free_self_and_rewatch(void **state)
{
    struct fx *f = *state;
    int sv[2];
    make_pair(sv);
    struct wrec r = {.f = f, .set_self = -1, .free_self = 1};
    assert_int_equal(f->ops->watch_new(f->self, sv[0], wrec_cb, &r, &r.w), 0);
    assert_int_equal(f->ops->watch_set(f->self, r.w, TLSPLUG_EV_WRITE), 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_null(r.w);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    /* The fd can be watched again once its watch is gone. */
    struct wrec r2 = {.f = f, .set_self = -1, .free_self = 1};
    assert_int_equal(f->ops->watch_new(f->self, sv[0], wrec_cb, &r2, &r2.w), 0);
    assert_int_equal(f->ops->watch_set(f->self, r2.w, TLSPLUG_EV_WRITE), 0);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(r2.calls, 1);
    close_pair(sv);
}

struct rewatch {
    struct fx *f;
    tlsplug_watch *old;
    tlsplug_watch *fresh;
    int fd;
    struct wrec rec;
    int calls;
};

static void rewatch_cb(tlsplug_watch *w, int events, void *arg)
{
    (void)events;
    struct rewatch *rw = arg;
    rw->calls++;
    rw->f->ops->watch_free(rw->f->self, w);
    rw->old = NULL;
    /* Same fd, new watch, inside the dispatch that freed the old one. */
    assert_int_equal(rw->f->ops->watch_new(rw->f->self, rw->fd, wrec_cb, &rw->rec, &rw->fresh),
                     0);
    assert_int_equal(rw->f->ops->watch_set(rw->f->self, rw->fresh, TLSPLUG_EV_WRITE), 0);
}

static void test_watch_replaced_in_callback(void **state)
{
    struct fx *f = *state;
    int sv[2];
    make_pair(sv);
    struct rewatch rw = {.f = f, .fd = sv[0]};
    rw.rec = (struct wrec){.f = f, .set_self = -1, .free_self = 1};
    assert_int_equal(f->ops->watch_new(f->self, sv[0], rewatch_cb, &rw, &rw.old), 0);
    assert_int_equal(f->ops->watch_set(f->self, rw.old, TLSPLUG_EV_WRITE), 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(rw.calls, 1);
    assert_int_equal(rw.rec.calls, 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(rw.rec.calls, 1);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    close_pair(sv);
}

static void test_watch_errors(void **state)
{
    struct fx *f = *state;
    int sv[2];
    make_pair(sv);
    struct wrec r = {.f = f, .set_self = -1};
    tlsplug_watch *w, *w2;
    assert_int_equal(f->ops->watch_new(f->self, sv[0], wrec_cb, &r, &w), 0);
    assert_int_equal(f->ops->watch_new(f->self, sv[0], wrec_cb, &r, &w2), TLSPLUG_E_BUSY);
    assert_int_equal(f->ops->watch_new(f->self, -1, wrec_cb, &r, &w2),
                     TLSPLUG_E_INVALID_ARGUMENT);
    int closed_fd = dup(sv[1]);
    assert_true(closed_fd >= 0);
    close(closed_fd);
    assert_int_equal(f->ops->watch_new(f->self, closed_fd, wrec_cb, &r, &w2),
                     TLSPLUG_E_INVALID_ARGUMENT);
    assert_int_equal(f->ops->watch_set(f->self, w, 4), TLSPLUG_E_INVALID_ARGUMENT);
    f->ops->watch_free(f->self, w);
    close_pair(sv);
}

static void test_watch_fd_closed_before_free(void **state)
{
    struct fx *f = *state;
    int sv[2];
    make_pair(sv);
    struct wrec r = {.f = f, .set_self = -1};
    assert_int_equal(f->ops->watch_new(f->self, sv[0], wrec_cb, &r, &r.w), 0);
    assert_int_equal(f->ops->watch_set(f->self, r.w, TLSPLUG_EV_READ), 0);
    /* A second descriptor keeps the file open, so the kernel keeps an epoll
     * registration that can no longer be removed by fd; its events must not
     * reach the freed watch. */
    int keep = dup(sv[0]);
    assert_true(keep >= 0);
    close(sv[0]);
    f->ops->watch_free(f->self, r.w);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(tlsplug_loop_run_once(f->loop, 0), 0);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(r.calls, 0);
    close(keep);
    close(sv[1]);
}

static void test_timer_from_watch_callback(void **state)
{
    struct fx *f = *state;
    int sv[2];
    make_pair(sv);
    struct counter c = {.f = f};
    struct wrec r = {.f = f, .set_self = 0, .start_timer = 1};
    assert_int_equal(f->ops->timer_new(f->self, count_cb, &c, &r.timer), 0);
    assert_int_equal(f->ops->watch_new(f->self, sv[0], wrec_cb, &r, &r.w), 0);
    assert_int_equal(f->ops->watch_set(f->self, r.w, TLSPLUG_EV_WRITE), 0);
    struct counter early = {.f = f};
    tlsplug_timer *te;
    assert_int_equal(f->ops->timer_new(f->self, count_cb, &early, &te), 0);
    assert_int_equal(f->ops->timer_start(f->self, te, 0), 0);
    /* The timer armed by the watch callback waits for the next iteration;
     * the one armed before it does not. */
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 2);
    assert_int_equal(early.fired, 1);
    assert_int_equal(c.fired, 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(c.fired, 1);
    f->ops->watch_free(f->self, r.w);
    f->ops->timer_free(f->self, r.timer);
    f->ops->timer_free(f->self, te);
    close_pair(sv);
}

struct frees_watch {
    struct fx *f;
    tlsplug_watch *victim;
};

static void timer_frees_watch_cb(tlsplug_timer *t, void *arg)
{
    (void)t;
    struct frees_watch *fw = arg;
    fw->f->ops->watch_free(fw->f->self, fw->victim);
}

static void test_watch_freed_by_timer(void **state)
{
    struct fx *f = *state;
    int sv[2];
    make_pair(sv);
    struct wrec r = {.f = f, .set_self = -1};
    struct frees_watch fw = {.f = f};
    tlsplug_timer *t;
    assert_int_equal(f->ops->watch_new(f->self, sv[0], wrec_cb, &r, &r.w), 0);
    assert_int_equal(f->ops->watch_set(f->self, r.w, TLSPLUG_EV_READ), 0);
    fw.victim = r.w;
    assert_int_equal(f->ops->timer_new(f->self, timer_frees_watch_cb, &fw, &t), 0);
    assert_int_equal(f->ops->timer_start(f->self, t, 10), 0);
    /* The timer frees the only active watch: run ends. */
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(r.calls, 0);
    f->ops->timer_free(f->self, t);
    close_pair(sv);
}

/* --- run / stop / free --------------------------------------------------- */

static void test_run_nothing_left(void **state)
{
    struct fx *f = *state;
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 0);
    tlsplug_timer *t;
    struct counter c = {.f = f};
    /* An unarmed timer is nothing to wait for. */
    assert_int_equal(f->ops->timer_new(f->self, count_cb, &c, &t), 0);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    f->ops->timer_free(f->self, t);
}

static void test_run_once_timeout(void **state)
{
    struct fx *f = *state;
    uint64_t start = f->ops->now_ms(f->self);
    assert_int_equal(tlsplug_loop_run_once(f->loop, 30), 0);
    uint64_t spent = f->ops->now_ms(f->self) - start;
    assert_true(spent >= 30 && spent < 2000);

    /* The nearest timer caps the wait. */
    struct counter c = {.f = f};
    tlsplug_timer *t;
    assert_int_equal(f->ops->timer_new(f->self, count_cb, &c, &t), 0);
    start = f->ops->now_ms(f->self);
    assert_int_equal(f->ops->timer_start(f->self, t, 15), 0);
    assert_int_equal(tlsplug_loop_run_once(f->loop, 10000), 1);
    spent = f->ops->now_ms(f->self) - start;
    assert_true(spent >= 15 && spent < 2000);
    f->ops->timer_free(f->self, t);
}

struct stopper {
    struct fx *f;
    int fired;
    int rc_nested;
};

static void stopper_cb(tlsplug_timer *t, void *arg)
{
    struct stopper *s = arg;
    s->fired++;
    s->rc_nested = tlsplug_loop_run(s->f->loop);
    assert_int_equal(s->f->ops->timer_start(s->f->self, t, 1), 0);
    if (s->fired == 2)
        tlsplug_loop_stop(s->f->loop);
}

static void test_loop_stop(void **state)
{
    struct fx *f = *state;
    struct stopper s = {.f = f};
    tlsplug_timer *t;
    assert_int_equal(f->ops->timer_new(f->self, stopper_cb, &s, &t), 0);
    assert_int_equal(f->ops->timer_start(f->self, t, 1), 0);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(s.fired, 2);
    assert_int_equal(s.rc_nested, TLSPLUG_E_BUSY);
    /* The timer is still armed; the stop was consumed, so run goes on. */
    assert_int_equal(tlsplug_loop_run_once(f->loop, -1), 1);
    assert_int_equal(s.fired, 3);
    /* A stop issued while idle makes the next run return at once. */
    tlsplug_loop_stop(f->loop);
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    assert_int_equal(s.fired, 3);
    f->ops->timer_free(f->self, t);
}

static void test_loop_free_busy(void **state)
{
    struct fx *f = *state;
    tlsplug_loop *loop;
    assert_int_equal(tlsplug_loop_new(&loop, f->flags), 0);
    tlsplug_reactor *r = tlsplug_loop_reactor(loop);
    int sv[2];
    make_pair(sv);
    struct wrec rec = {.f = f, .set_self = -1};
    tlsplug_watch *w;
    tlsplug_timer *t;
    struct counter c = {.f = f};
    assert_int_equal(r->ops->watch_new(r->self, sv[0], wrec_cb, &rec, &w), 0);
    assert_int_equal(tlsplug_loop_free(loop), TLSPLUG_E_BUSY);
    r->ops->watch_free(r->self, w);
    assert_int_equal(r->ops->timer_new(r->self, count_cb, &c, &t), 0);
    assert_int_equal(tlsplug_loop_free(loop), TLSPLUG_E_BUSY);
    r->ops->timer_free(r->self, t);
    assert_int_equal(tlsplug_loop_free(loop), 0);
    assert_int_equal(tlsplug_loop_new(&loop, 0x80), TLSPLUG_E_INVALID_ARGUMENT);
    close_pair(sv);
}

/* --- many watches -------------------------------------------------------- */

#define MANY 400

struct many {
    struct fx *f;
    tlsplug_watch *w[MANY];
    int calls[MANY];
    int total;
};

struct many_slot {
    struct many *m;
    int i;
};

static struct many_slot slots[MANY];

static void many_cb(tlsplug_watch *w, int events, void *arg)
{
    (void)events;
    struct many_slot *s = arg;
    struct many *m = s->m;
    m->calls[s->i]++;
    m->total++;
    /* Every odd one frees its even neighbour (which may or may not have run
     * yet) and pauses itself. */
    if (s->i % 2 == 1 && m->w[s->i - 1]) {
        m->f->ops->watch_free(m->f->self, m->w[s->i - 1]);
        m->w[s->i - 1] = NULL;
    }
    if (m->w[s->i])
        assert_int_equal(m->f->ops->watch_set(m->f->self, w, 0), 0);
}

static void test_many_watches(void **state)
{
    struct fx *f = *state;
    static int fds[MANY][2];
    static struct many m;
    memset(&m, 0, sizeof m);
    m.f = f;
    for (int i = 0; i < MANY; i++) {
        make_pair(fds[i]);
        slots[i] = (struct many_slot){&m, i};
        assert_int_equal(f->ops->watch_new(f->self, fds[i][0], many_cb, &slots[i], &m.w[i]), 0);
        assert_int_equal(f->ops->watch_set(f->self, m.w[i], TLSPLUG_EV_WRITE), 0);
    }
    assert_int_equal(tlsplug_loop_run(f->loop), 0);
    for (int i = 1; i < MANY; i += 2)
        assert_int_equal(m.calls[i], 1);
    for (int i = 0; i < MANY; i += 2)
        assert_true(m.calls[i] <= 1);
    for (int i = 0; i < MANY; i++) {
        if (m.w[i])
            f->ops->watch_free(f->self, m.w[i]);
        close_pair(fds[i]);
    }
}

/* ------------------------------------------------------------------------ */

/* Named per backend so a failure says which one. */
#define BOTH(fn)                                                      \
    {"epoll/" #fn, fn, setup, teardown, (void *)&flags_epoll},        \
    {                                                                 \
        "poll/" #fn, fn, setup, teardown, (void *)&flags_poll         \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_backend),
        BOTH(test_timers_in_order),
        BOTH(test_equal_deadlines_many),
        BOTH(test_zero_timer_not_synchronous),
        BOTH(test_zero_timer_restart_next_iteration),
        BOTH(test_timer_restart_in_callback),
        BOTH(test_timer_restart_while_armed),
        BOTH(test_timer_stop_free_in_callbacks),
        BOTH(test_timer_stop_then_nothing_left),
        BOTH(test_watch_readiness),
        BOTH(test_watch_hangup),
        BOTH(test_watch_freed_by_other_callback),
        BOTH(test_watch_paused_by_other_callback),
        BOTH(test_watch_set_in_callback),
        BOTH(test_watch_free_self_and_rewatch),
        BOTH(test_watch_replaced_in_callback),
        BOTH(test_watch_errors),
        BOTH(test_watch_fd_closed_before_free),
        BOTH(test_timer_from_watch_callback),
        BOTH(test_watch_freed_by_timer),
        BOTH(test_run_nothing_left),
        BOTH(test_run_once_timeout),
        BOTH(test_loop_stop),
        BOTH(test_loop_free_busy),
        BOTH(test_many_watches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
