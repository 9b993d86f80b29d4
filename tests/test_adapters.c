/* tlsplug_aio on the libuv and libevent adapters, once per adapter and backend
 * (`test_adapters uv|event <backend>`).  First the reactor behaviour the aio
 * layer leans on (a zero-delay timer runs on the next iteration and cannot
 * spin, a watch or timer released from a callback never calls back, every
 * loop handle is released in the end), then the aio subset over real
 * sockets: TLS echo over loopback, STARTTLS attach/detach, handshake timeout
 * and close from inside callbacks.  Callbacks are counted and ordered. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "echo_server.h"
#include "pair.h"
#ifdef TLSPLUG_TEST_UV
#include "tlsplug/uv.h"
#endif
#ifdef TLSPLUG_TEST_EVENT
#include <event2/event.h>
#include "tlsplug/event.h"
#endif

static tlsplug_impl impl;
static tlsplug_reactor reactor;
static tlsplug_reactor *const R = &reactor;

/* One event loop library behind the tests. */
struct driver {
    const char *name;
    void (*open)(void);
    void (*iterate)(int max_ms); /* one iteration, waiting at most max_ms */
    void (*nowait)(void);        /* one iteration that does not wait      */
    int (*close)(void);          /* 0 once the loop is freed, every handle released */
};
static const struct driver *drv;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

#ifdef TLSPLUG_TEST_UV
static uv_loop_t uvl;
static uv_timer_t uv_guard; /* bounds the wait of one iteration */

static void uv_guard_cb(uv_timer_t *t)
{
}
static void uvd_open(void)
{
    assert_int_equal(uv_loop_init(&uvl), 0);
    assert_int_equal(uv_timer_init(&uvl, &uv_guard), 0);
    assert_int_equal(tlsplug_uv_reactor_init(R, &uvl), TLSPLUG_OK);
    assert_ptr_equal(tlsplug_uv_reactor_loop(R), &uvl);
}
static void uvd_iterate(int max_ms)
{
    uv_timer_start(&uv_guard, uv_guard_cb, (uint64_t)max_ms, 0);
    uv_run(&uvl, UV_RUN_ONCE);
    uv_timer_stop(&uv_guard);
}
static void uvd_nowait(void)
{
    uv_run(&uvl, UV_RUN_NOWAIT);
}
static void uvd_report(uv_handle_t *h, void *arg)
{
    fprintf(stderr, "left open: %s handle%s\n", uv_handle_type_name(uv_handle_get_type(h)),
            uv_is_closing(h) ? " (closing)" : "");
}
static int uvd_close(void)
{
    uv_close((uv_handle_t *)&uv_guard, NULL);
    /* Close callbacks (which free the adapter's wrappers) need iterations;
     * uv_loop_close fails while any handle is left. */
    double end = now_s() + 5;
    while (now_s() < end) {
        uv_run(&uvl, UV_RUN_NOWAIT);
        if (uv_loop_close(&uvl) == 0)
            return 0;
        usleep(1000);
    }
    uv_walk(&uvl, uvd_report, NULL);
    return -1;
}
static const struct driver uv_driver = {"uv", uvd_open, uvd_iterate, uvd_nowait, uvd_close};
#endif

#ifdef TLSPLUG_TEST_EVENT
static struct event_base *base;
static struct event *ev_guard;

static void ev_guard_cb(evutil_socket_t fd, short what, void *arg)
{
}
static void evd_open(void)
{
    base = event_base_new();
    assert_non_null(base);
    ev_guard = evtimer_new(base, ev_guard_cb, NULL);
    assert_non_null(ev_guard);
    assert_int_equal(tlsplug_event_reactor_init(R, base), TLSPLUG_OK);
    assert_ptr_equal(tlsplug_event_reactor_base(R), base);
}
static void evd_iterate(int max_ms)
{
    struct timeval tv = {.tv_sec = max_ms / 1000, .tv_usec = (max_ms % 1000) * 1000};
    evtimer_add(ev_guard, &tv);
    event_base_loop(base, EVLOOP_ONCE);
    evtimer_del(ev_guard);
}
static void evd_nowait(void)
{
    /* NONBLOCK alone keeps looping while callbacks arm zero timers. */
    event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
}
static int evd_close(void)
{
    /* The guard is not added between iterations, so it is not counted. */
    double end = now_s() + 5;
    int left;
    while ((left = event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED |
                                                       EVENT_BASE_COUNT_ACTIVE)) > 0 &&
           now_s() < end)
        evd_iterate(10);
    event_free(ev_guard);
    event_base_free(base);
    base = NULL;
    if (left)
        fprintf(stderr, "left open: %d events\n", left);
    return left ? -1 : 0;
}
static const struct driver event_driver = {"event", evd_open, evd_iterate, evd_nowait,
                                           evd_close};
#endif

/* Runs the loop until *flag is set or 10 s passed. */
static void run_until(int *flag)
{
    double end = now_s() + 10;
    while (!*flag && now_s() < end)
        drv->iterate(50);
    assert_true(*flag);
}

static int setup(void **state)
{
    drv->open();
    return 0;
}

static int teardown(void **state)
{
    assert_int_equal(drv->close(), 0);
    return 0;
}

/* ---- the reactor itself -------------------------------------------------- */

struct tick {
    int n, restart;
};
static void tick_cb(tlsplug_timer *t, void *arg)
{
    struct tick *k = arg;
    k->n++;
    if (k->restart)
        assert_int_equal(R->ops->timer_start(R->self, t, 0), 0);
}

/* A timer restarted with 0 ms from its own callback runs once per iteration
 * (libuv 1.44 alone would run it forever within one). */
static void zero_timer_runs_next_iteration(void **state)
{
    struct tick k = {.restart = 1};
    tlsplug_timer *t;
    assert_int_equal(R->ops->timer_new(R->self, tick_cb, &k, &t), 0);
    assert_int_equal(R->ops->timer_start(R->self, t, 0), 0);
    assert_int_equal(k.n, 0); /* never from inside the call */
    drv->nowait();
    assert_int_equal(k.n, 1);
    drv->nowait();
    assert_int_equal(k.n, 2);
    R->ops->timer_stop(R->self, t);
    drv->nowait();
    assert_int_equal(k.n, 2);
    /* restarting re-arms: a long delay replaces the zero one */
    assert_int_equal(R->ops->timer_start(R->self, t, 0), 0);
    assert_int_equal(R->ops->timer_start(R->self, t, 60000), 0);
    drv->nowait();
    assert_int_equal(k.n, 2);
    k.restart = 0;
    assert_int_equal(R->ops->timer_start(R->self, t, 5), 0);
    double end = now_s() + 5;
    while (k.n < 3 && now_s() < end)
        drv->iterate(20);
    assert_int_equal(k.n, 3);
    R->ops->timer_free(R->self, t);
    assert_true(R->ops->now_ms(R->self) > 0);
}

/* Stopped or released timers never fire, even when due. */
static void stopped_and_freed_timers_stay_quiet(void **state)
{
    struct tick a = {0}, b = {0};
    tlsplug_timer *ta, *tb;
    assert_int_equal(R->ops->timer_new(R->self, tick_cb, &a, &ta), 0);
    assert_int_equal(R->ops->timer_new(R->self, tick_cb, &b, &tb), 0);
    assert_int_equal(R->ops->timer_start(R->self, ta, 0), 0);
    assert_int_equal(R->ops->timer_start(R->self, tb, 1), 0);
    R->ops->timer_stop(R->self, ta);
    R->ops->timer_free(R->self, tb);
    usleep(5000);
    for (int i = 0; i < 5; i++)
        drv->iterate(5);
    assert_int_equal(a.n, 0);
    assert_int_equal(b.n, 0);
    R->ops->timer_free(R->self, ta);
}

/* Two watches ready in the same iteration: the first callback releases the
 * other, whose callback then never runs. */
struct wpair {
    tlsplug_watch *w[2];
    int calls[2];
    int last_events;
};
static struct wpair wp;
static void wp_cb(tlsplug_watch *w, int events, void *arg)
{
    int i = (int)(intptr_t)arg;
    wp.calls[i]++;
    wp.last_events = events;
    if (wp.w[1 - i]) {
        R->ops->watch_free(R->self, wp.w[1 - i]);
        wp.w[1 - i] = NULL;
    }
}

static void watch_freed_in_callback_never_calls_back(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    memset(&wp, 0, sizeof wp);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(R->ops->watch_new(R->self, sv[i], wp_cb, (void *)(intptr_t)i, &wp.w[i]),
                         0);
        assert_int_equal(send(sv[1 - i], "x", 1, 0), 1);
    }
    drv->nowait(); /* no interest yet: nothing */
    assert_int_equal(wp.calls[0] + wp.calls[1], 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(R->ops->watch_set(R->self, wp.w[i], TLSPLUG_EV_READ), 0);
    drv->nowait();
    assert_int_equal(wp.calls[0] + wp.calls[1], 1);
    assert_int_equal(wp.last_events, TLSPLUG_EV_READ);
    int live = wp.w[0] ? 0 : 1;
    assert_non_null(wp.w[live]);
    /* level-triggered: still readable, so it fires again */
    drv->nowait();
    assert_int_equal(wp.calls[live], 2);
    /* paused: quiet; write interest: fires with WRITE only */
    assert_int_equal(R->ops->watch_set(R->self, wp.w[live], 0), 0);
    drv->nowait();
    assert_int_equal(wp.calls[live], 2);
    assert_int_equal(R->ops->watch_set(R->self, wp.w[live], TLSPLUG_EV_WRITE), 0);
    drv->nowait();
    assert_int_equal(wp.calls[live], 3);
    assert_int_equal(wp.last_events, TLSPLUG_EV_WRITE);
    R->ops->watch_free(R->self, wp.w[live]);
    wp.w[live] = NULL;
    drv->nowait();
    assert_int_equal(wp.calls[live], 3);
    /* the fd can be watched again at once (libuv: before the old handle's
     * close callback ran), and closed right after watch_free */
    assert_int_equal(R->ops->watch_new(R->self, sv[live], wp_cb, (void *)(intptr_t)live,
                                       &wp.w[live]),
                     0);
    assert_int_equal(R->ops->watch_set(R->self, wp.w[live], TLSPLUG_EV_READ), 0);
    drv->nowait();
    assert_int_equal(wp.calls[live], 4);
    assert_int_equal(wp.last_events, TLSPLUG_EV_READ);
    R->ops->watch_free(R->self, wp.w[live]);
    wp.w[live] = NULL;
    close(sv[live]);
    close(sv[1 - live]);
}

/* ---- the aio subset ------------------------------------------------------ */

/* One side of a conversation: counts every callback and keeps the last
 * result. */
struct side {
    tlsplug_aio *a;
    int done, err;
    char buf[256];
    size_t n;
};

static void side_op(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct side *s = arg;
    s->err = e ? tlsplug_error_class(e) : 0;
    s->done++;
}
static void side_read(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    struct side *s = arg;
    s->err = e ? tlsplug_error_class(e) : 0;
    s->n = n;
    s->done++;
}

static void wait_done(struct side *s, int target)
{
    double end = now_s() + 10;
    while (s->done < target && now_s() < end)
        drv->iterate(50);
    assert_int_equal(s->done, target);
}

static void write_str(struct side *s, const char *msg)
{
    int d = s->done;
    assert_int_equal(tlsplug_aio_write(s->a, msg, strlen(msg), 3000, side_op, s), 0);
    assert_int_equal(s->done, d); /* never from inside the call */
    wait_done(s, d + 1);
    assert_int_equal(s->err, 0);
}

static void expect_read(struct side *s, const char *want)
{
    size_t got = 0, len = strlen(want);
    char acc[256];
    while (got < len) {
        int d = s->done;
        assert_int_equal(tlsplug_aio_read(s->a, s->buf, sizeof s->buf, 3000, side_read, s), 0);
        wait_done(s, d + 1);
        assert_int_equal(s->err, 0);
        assert_true(got + s->n <= len);
        memcpy(acc + got, s->buf, s->n);
        got += s->n;
    }
    assert_memory_equal(acc, want, len);
}

static void tls_echo_over_loopback(void **state)
{
    tlsplug_ctx *sc = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    tlsplug_ctx *cc = client_ctx(impl, NULL);
    tlsplug_attach_options sa = {.ctx = sc};
    tlsplug_listen_options lo = {.attach = &sa};
    tlsplug_listener *l;
    echo_reset();
    assert_int_equal(tlsplug_listen(&l, R, "127.0.0.1", 0, &lo, echo_on_accept, echo_on_accept_error, NULL),
                     TLSPLUG_OK);
    struct side c = {0};
    tlsplug_attach_options ca = {.ctx = cc, .server_name = "localhost"};
    tlsplug_connect_options co = {.attach = &ca};
    assert_int_equal(tlsplug_aio_connect(&c.a, R, "127.0.0.1", tlsplug_listener_port(l), &co,
                                         side_op, &c),
                     TLSPLUG_OK);
    assert_int_equal(c.done, 0);
    wait_done(&c, 1);
    assert_int_equal(c.err, 0);
    assert_int_equal(tlsplug_aio_state_of(c.a), TLSPLUG_AIO_SECURE);
    assert_int_equal(tlsplug_conn_impl(tlsplug_aio_conn(c.a)), impl);
    write_str(&c, "hello over TLS");
    expect_read(&c, "hello over TLS");
    /* a larger message crosses several records and partial socket writes */
    static char big[200000], back[sizeof big];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    struct side wr = {.a = c.a};
    assert_int_equal(tlsplug_aio_write(c.a, big, sizeof big, 5000, side_op, &wr), 0);
    size_t got = 0;
    while (got < sizeof big) {
        int before = c.done;
        assert_int_equal(tlsplug_aio_read(c.a, back + got, sizeof big - got, 5000, side_read, &c),
                         0);
        wait_done(&c, before + 1);
        assert_int_equal(c.err, 0);
        got += c.n;
    }
    wait_done(&wr, 1);
    assert_int_equal(wr.err, 0);
    assert_memory_equal(big, back, sizeof big);
    int d = c.done;
    tlsplug_aio_close(c.a, side_op, &c);
    wait_done(&c, d + 1);
    run_until(&echoes[0].closed);
    assert_int_equal(n_echo, 1);
    assert_int_equal(accept_errors, 0);
    tlsplug_listener_close(l);
    tlsplug_ctx_free(sc);
    tlsplug_ctx_free(cc);
}

static void starttls_attach_detach(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    tlsplug_ctx *sc = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    tlsplug_ctx *cc = client_ctx(impl, NULL);
    struct side c = {0}, s = {0};
    assert_int_equal(tlsplug_aio_new(&c.a, R, sv[0]), 0);
    assert_int_equal(tlsplug_aio_new(&s.a, R, sv[1]), 0);

    write_str(&c, "STARTTLS\r\n");
    expect_read(&s, "STARTTLS\r\n");
    write_str(&s, "220 go ahead\r\n");
    expect_read(&c, "220 go ahead\r\n");

    tlsplug_attach_options ca = {.ctx = cc, .server_name = "localhost"};
    tlsplug_attach_options sa = {.ctx = sc};
    int dc = c.done, ds = s.done;
    assert_int_equal(tlsplug_aio_attach(c.a, &ca, side_op, &c), 0);
    assert_int_equal(tlsplug_aio_attach(s.a, &sa, side_op, &s), 0);
    assert_int_equal(tlsplug_aio_attach(c.a, &ca, side_op, &c), TLSPLUG_E_BUSY);
    assert_int_equal(c.done, dc);
    wait_done(&c, dc + 1);
    wait_done(&s, ds + 1);
    assert_int_equal(c.err, 0);
    assert_int_equal(s.err, 0);
    assert_int_equal(tlsplug_aio_state_of(c.a), TLSPLUG_AIO_SECURE);

    write_str(&c, "secret");
    expect_read(&s, "secret");

    ds = s.done;
    dc = c.done;
    assert_int_equal(tlsplug_aio_detach(s.a, 3000, side_op, &s), 0);
    assert_int_equal(tlsplug_aio_detach(c.a, 3000, side_op, &c), 0);
    wait_done(&s, ds + 1);
    wait_done(&c, dc + 1);
    assert_int_equal(s.err, 0);
    assert_int_equal(c.err, 0);
    assert_int_equal(tlsplug_aio_state_of(c.a), TLSPLUG_AIO_PLAIN);
    assert_null(tlsplug_aio_conn(c.a));
    write_str(&s, "250 plain again\r\n");
    expect_read(&c, "250 plain again\r\n");

    tlsplug_aio_close(c.a, NULL, NULL);
    tlsplug_aio_close(s.a, NULL, NULL);
    tlsplug_ctx_free(sc);
    tlsplug_ctx_free(cc);
}

static void handshake_timeout_silent_peer(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    tlsplug_ctx *cc = client_ctx(impl, NULL);
    struct side c = {0};
    assert_int_equal(tlsplug_aio_new(&c.a, R, sv[0]), 0);
    tlsplug_attach_options ca = {.ctx = cc, .server_name = "localhost",
                                 .handshake_timeout_ms = 200};
    assert_int_equal(tlsplug_aio_attach(c.a, &ca, side_op, &c), 0);
    wait_done(&c, 1);
    assert_int_equal(c.err, TLSPLUG_E_TIMEOUT);
    assert_int_equal(tlsplug_aio_state_of(c.a), TLSPLUG_AIO_PLAIN);
    tlsplug_aio_close(c.a, NULL, NULL);
    close(sv[1]);
    tlsplug_ctx_free(cc);
}

/* Close from inside callbacks: the callbacks still pending complete with
 * canceled, in order, before the close callback. */
static char order[16];
static size_t n_order;
static char rbuf[2][64];

static void note(char c)
{
    if (n_order < sizeof order - 1)
        order[n_order++] = c;
}
static void cl_closed(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    note('C');
}
static void cl_second_read(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    note(e && tlsplug_error_class(e) == TLSPLUG_E_CANCELED ? 'x' : '?');
}
static void cl_first_read(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    note(e ? '?' : 'r');
    assert_int_equal(tlsplug_aio_read(a, rbuf[1], sizeof rbuf[1], 0, cl_second_read, NULL), 0);
    tlsplug_aio_close(a, cl_closed, NULL);
    tlsplug_aio_close(a, cl_closed, NULL); /* twice is harmless */
}

static void cl_attached_close(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct side *s = arg;
    s->err = e ? tlsplug_error_class(e) : 0;
    s->done++;
    tlsplug_aio_close(a, side_op, s); /* SECURE: close_notify goes out first */
}
static void srv_attached_read(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct side *s = arg;
    s->err = e ? tlsplug_error_class(e) : 0;
    s->done++;
    assert_int_equal(tlsplug_aio_read(a, s->buf, sizeof s->buf, 3000, side_read, s), 0);
}

static void close_from_callbacks(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct side c = {0};
    tlsplug_aio *s;
    assert_int_equal(tlsplug_aio_new(&c.a, R, sv[0]), 0);
    assert_int_equal(tlsplug_aio_new(&s, R, sv[1]), 0);
    n_order = 0;
    memset(order, 0, sizeof order);
    assert_int_equal(tlsplug_aio_read(s, rbuf[0], sizeof rbuf[0], 0, cl_first_read, NULL), 0);
    write_str(&c, "ping");
    double end = now_s() + 10;
    while (strchr(order, 'C') == NULL && now_s() < end)
        drv->iterate(50);
    assert_string_equal(order, "rxC");
    tlsplug_aio_close(c.a, NULL, NULL);

    /* TLS: the client closes inside its attach callback; the server's read
     * sees the close_notify as a clean end of stream. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    tlsplug_ctx *sc = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    tlsplug_ctx *cc = client_ctx(impl, NULL);
    struct side tc = {0}, ts = {0};
    assert_int_equal(tlsplug_aio_new(&tc.a, R, sv[0]), 0);
    assert_int_equal(tlsplug_aio_new(&ts.a, R, sv[1]), 0);
    tlsplug_attach_options ca = {.ctx = cc, .server_name = "localhost"};
    tlsplug_attach_options sa = {.ctx = sc};
    assert_int_equal(tlsplug_aio_attach(tc.a, &ca, cl_attached_close, &tc), 0);
    assert_int_equal(tlsplug_aio_attach(ts.a, &sa, srv_attached_read, &ts), 0);
    wait_done(&tc, 2); /* attached, then closed */
    wait_done(&ts, 2); /* attached, then end of stream */
    assert_int_equal(ts.err, TLSPLUG_E_CLOSED);
    assert_int_equal(ts.n, 0);
    tlsplug_aio_close(ts.a, NULL, NULL);
    tlsplug_ctx_free(sc);
    tlsplug_ctx_free(cc);
}

int main(int argc, char **argv)
{
    const char *loop_name = argc > 1 ? argv[1] : "";
#ifdef TLSPLUG_TEST_UV
    if (strcmp(loop_name, "uv") == 0)
        drv = &uv_driver;
#endif
#ifdef TLSPLUG_TEST_EVENT
    if (strcmp(loop_name, "event") == 0)
        drv = &event_driver;
#endif
    if (!drv) {
        fprintf(stderr, "usage: test_adapters uv|event [backend] (adapter '%s' not built)\n",
                loop_name);
        return 2;
    }
    impl = test_backend(argc > 2 ? argv[2] : NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(zero_timer_runs_next_iteration, setup, teardown),
        cmocka_unit_test_setup_teardown(stopped_and_freed_timers_stay_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(watch_freed_in_callback_never_calls_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(tls_echo_over_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(starttls_attach_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(handshake_timeout_silent_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(close_from_callbacks, setup, teardown),
    };
    char name[64];
    snprintf(name, sizeof name, "adapter-%s-%s", drv->name, tlsplug_impl_name(impl));
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
