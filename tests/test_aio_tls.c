/* tlsplug_aio with a real backend over real loopback TCP, run once per backend
 * (`test_aio_tls <backend>`): listen + connect with TLS attached, echo, STARTTLS
 * (plain, attach, TLS, detach, plain again with trailing bytes kept), handshake
 * timeout against a silent peer, callbacks counted. */
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

#include "aio_steps.h"
#include "echo_server.h"
#include "pair.h"

static tlsplug_impl impl;
static tlsplug_loop *loop;
static tlsplug_reactor *R;

/* Runs the loop until *flag is set or 10 s passed. */
static void run_until(int *flag)
{
    double end = aio_steps_now() + 10;
    while (!*flag && aio_steps_now() < end)
        tlsplug_loop_run_once(loop, 50);
    assert_true(*flag);
}

static int setup(void **state)
{
    assert_int_equal(tlsplug_loop_new(&loop, 0), TLSPLUG_OK);
    R = tlsplug_loop_reactor(loop);
    return 0;
}

static int teardown(void **state)
{
    if (loop) {
        assert_int_equal(drain_loop(loop, 5), TLSPLUG_OK);
        loop = NULL;
    }
    return 0;
}

/* ---- client side --------------------------------------------------------- */

struct cli {
    int connected, conn_err, wrote, got, closed;
    int calls;
    char buf[4096];
    size_t n;
    int read_err;
};

static void cli_connected(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct cli *c = arg;
    c->calls++;
    c->connected = 1;
    c->conn_err = e ? tlsplug_error_class(e) : 0;
}
static void cli_wrote(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct cli *c = arg;
    assert_null(e);
    c->wrote++;
}
static void cli_got(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    struct cli *c = arg;
    c->got++;
    c->n = n;
    c->read_err = e ? tlsplug_error_class(e) : 0;
}
static void cli_closed(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    ((struct cli *)arg)->closed++;
}

static void roundtrip(tlsplug_aio *a, struct cli *c, const char *msg)
{
    int w = c->wrote, g = c->got;
    assert_int_equal(tlsplug_aio_write(a, msg, strlen(msg), 2000, cli_wrote, c), TLSPLUG_OK);
    assert_int_equal(tlsplug_aio_read(a, c->buf, sizeof c->buf, 2000, cli_got, c), TLSPLUG_OK);
    assert_int_equal(c->wrote, w); /* never synchronous */
    assert_int_equal(c->got, g);
    int done = 0;
    double end = aio_steps_now() + 10;
    while (!(c->got > g && c->wrote > w) && aio_steps_now() < end)
        tlsplug_loop_run_once(loop, 50);
    done = c->got > g;
    assert_true(done);
    assert_int_equal(c->read_err, 0);
    assert_int_equal(c->n, strlen(msg));
    assert_memory_equal(c->buf, msg, c->n);
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
    struct cli c = {0};
    tlsplug_attach_options ca = {.ctx = cc, .server_name = "localhost"};
    tlsplug_connect_options co = {.attach = &ca};
    tlsplug_aio *a;
    assert_int_equal(tlsplug_aio_connect(&a, R, "127.0.0.1", tlsplug_listener_port(l), &co,
                                         cli_connected, &c),
                     TLSPLUG_OK);
    assert_int_equal(c.calls, 0);
    run_until(&c.connected);
    assert_int_equal(c.conn_err, 0);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_SECURE);
    assert_non_null(tlsplug_conn_native(tlsplug_aio_conn(a), impl));
    roundtrip(a, &c, "hello over TLS");
    roundtrip(a, &c, "again");
    tlsplug_aio_close(a, cli_closed, &c);
    run_until(&c.closed);
    run_until(&echoes[0].closed);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.closed, 1);
    tlsplug_listener_close(l);
    tlsplug_ctx_free(sc);
    tlsplug_ctx_free(cc);
}

static void bad_cert_reported_on_both_sides(void **state)
{
    tlsplug_ctx *sc = server_ctx(impl, "expired-chain.pem", "bad.key.pem", NULL);
    tlsplug_ctx *cc = client_ctx(impl, NULL);
    tlsplug_attach_options sa = {.ctx = sc};
    tlsplug_listen_options lo = {.attach = &sa};
    tlsplug_listener *l;
    echo_reset();
    assert_int_equal(tlsplug_listen(&l, R, "127.0.0.1", 0, &lo, echo_on_accept, echo_on_accept_error, NULL),
                     TLSPLUG_OK);
    struct cli c = {0};
    tlsplug_attach_options ca = {.ctx = cc, .server_name = "localhost"};
    tlsplug_connect_options co = {.attach = &ca};
    tlsplug_aio *a;
    assert_int_equal(tlsplug_aio_connect(&a, R, "127.0.0.1", tlsplug_listener_port(l), &co,
                                         cli_connected, &c),
                     TLSPLUG_OK);
    run_until(&c.connected);
    assert_int_equal(c.conn_err, TLSPLUG_E_CERT_EXPIRED);
    run_until(&accept_errors);
    assert_int_equal(last_accept_error, TLSPLUG_E_PEER_ALERT);
    assert_int_equal(n_echo, 0);
    tlsplug_listener_close(l);
    tlsplug_ctx_free(sc);
    tlsplug_ctx_free(cc);
}

/* STARTTLS: plain exchange, attach, TLS exchange, detach, plain again, with
 * the peer's trailing plain bytes (sent right behind its close_notify) kept. */
static void starttls_attach_detach(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    tlsplug_ctx *sc = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    tlsplug_ctx *cc = client_ctx(impl, NULL);
    struct aio_steps c = {0}, s = {0};
    assert_int_equal(tlsplug_aio_new(&c.a, R, sv[0]), 0);
    assert_int_equal(tlsplug_aio_new(&s.a, R, sv[1]), 0);

    /* plain */
    aio_steps_write_str(loop, &c, "STARTTLS\r\n");
    aio_steps_expect_read(loop, &s, "STARTTLS\r\n");
    aio_steps_write_str(loop, &s, "220 go ahead\r\n");
    aio_steps_expect_read(loop, &c, "220 go ahead\r\n");

    /* attach both ends */
    tlsplug_attach_options ca = {.ctx = cc, .server_name = "localhost"};
    tlsplug_attach_options sa = {.ctx = sc};
    int dc = c.done, ds = s.done;
    assert_int_equal(tlsplug_aio_attach(c.a, &ca, aio_steps_op, &c), 0);
    assert_int_equal(tlsplug_aio_attach(s.a, &sa, aio_steps_op, &s), 0);
    assert_int_equal(tlsplug_aio_attach(c.a, &ca, aio_steps_op, &c), TLSPLUG_E_BUSY);
    char tmp[8];
    assert_int_equal(tlsplug_aio_read(c.a, tmp, sizeof tmp, 0, aio_steps_read, &c), TLSPLUG_E_BUSY);
    assert_int_equal(c.done, dc);
    aio_steps_wait(loop, &c, dc + 1);
    aio_steps_wait(loop, &s, ds + 1);
    assert_int_equal(c.err, 0);
    assert_int_equal(s.err, 0);
    assert_int_equal(tlsplug_aio_state_of(c.a), TLSPLUG_AIO_SECURE);

    aio_steps_write_str(loop, &c, "secret");
    aio_steps_expect_read(loop, &s, "secret");

    /* the server detaches and at once sends plain bytes behind its close_notify;
     * the client detaches too; both are plain afterwards */
    ds = s.done;
    dc = c.done;
    assert_int_equal(tlsplug_aio_detach(s.a, 3000, aio_steps_op, &s), 0);
    assert_int_equal(tlsplug_aio_detach(c.a, 3000, aio_steps_op, &c), 0);
    aio_steps_wait(loop, &s, ds + 1);
    aio_steps_wait(loop, &c, dc + 1);
    assert_int_equal(s.err, 0);
    assert_int_equal(c.err, 0);
    assert_int_equal(tlsplug_aio_state_of(c.a), TLSPLUG_AIO_PLAIN);
    assert_null(tlsplug_aio_conn(c.a));
    aio_steps_write_str(loop, &s, "250 plain again\r\n");
    aio_steps_expect_read(loop, &c, "250 plain again\r\n");

    /* detach on PLAIN succeeds, asynchronously */
    dc = c.done;
    assert_int_equal(tlsplug_aio_detach(c.a, 0, aio_steps_op, &c), 0);
    assert_int_equal(c.done, dc);
    aio_steps_wait(loop, &c, dc + 1);
    assert_int_equal(c.err, 0);

    int closed = 0;
    tlsplug_aio_close(c.a, NULL, NULL);
    tlsplug_aio_close(s.a, NULL, &closed);
    tlsplug_ctx_free(sc);
    tlsplug_ctx_free(cc);
}

/* Plain bytes sent right behind the peer's close_notify, in the same write,
 * are the first plain bytes read after detach. */
static void detach_keeps_trailing_bytes(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    tlsplug_ctx *sc = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    tlsplug_ctx *cc = client_ctx(impl, NULL);
    struct aio_steps c = {0};
    assert_int_equal(tlsplug_aio_new(&c.a, R, sv[0]), 0);
    /* the server is an engine driven by hand over sv[1] */
    tlsplug_conn *s;
    tlsplug_conn_options so = {.side = TLSPLUG_SIDE_SERVER};
    assert_int_equal(tlsplug_conn_new(&s, sc, &so, NULL), 0);
    tlsplug_attach_options ca = {.ctx = cc, .server_name = "localhost"};
    assert_int_equal(tlsplug_aio_attach(c.a, &ca, aio_steps_op, &c), 0);
    double end = aio_steps_now() + 10;
    int hs = TLSPLUG_WANT_READ;
    while ((c.done < 1 || hs != TLSPLUG_OK) && aio_steps_now() < end) {
        tlsplug_loop_run_once(loop, 10);
        size_t avail;
        void *dst = tlsplug_conn_recv_buf(s, &avail);
        ssize_t n = recv(sv[1], dst, avail, 0);
        if (n > 0)
            tlsplug_conn_recv_ack(s, (size_t)n);
        hs = tlsplug_conn_handshake(s);
        size_t len;
        const void *out = tlsplug_conn_send_buf(s, &len);
        if (len && send(sv[1], out, len, 0) == (ssize_t)len)
            tlsplug_conn_send_ack(s, len);
    }
    assert_int_equal(hs, TLSPLUG_OK);
    assert_int_equal(c.err, 0);
    /* TLS data, close_notify and plain bytes in one write */
    size_t n;
    assert_int_equal(tlsplug_conn_write(s, "tls-data", 8, &n), 0);
    assert_int_equal(tlsplug_conn_shutdown(s), 0);
    unsigned char wire[8192];
    size_t wl = tlsplug_conn_drain(s, wire, sizeof wire);
    memcpy(wire + wl, "PLAIN-TAIL", 10);
    assert_int_equal(send(sv[1], wire, wl + 10, 0), (ssize_t)(wl + 10));
    int d = c.done;
    assert_int_equal(tlsplug_aio_detach(c.a, 3000, aio_steps_op, &c), 0);
    aio_steps_wait(loop, &c, d + 1);
    assert_int_equal(c.err, 0);
    aio_steps_expect_read(loop, &c, "tls-dataPLAIN-TAIL");
    tlsplug_aio_close(c.a, NULL, NULL);
    tlsplug_conn_free(s);
    close(sv[1]);
    tlsplug_ctx_free(sc);
    tlsplug_ctx_free(cc);
}

static void handshake_timeout_silent_peer(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    tlsplug_ctx *cc = client_ctx(impl, NULL);
    struct aio_steps c = {0};
    assert_int_equal(tlsplug_aio_new(&c.a, R, sv[0]), 0);
    tlsplug_attach_options ca = {.ctx = cc, .server_name = "localhost",
                                 .handshake_timeout_ms = 200};
    assert_int_equal(tlsplug_aio_attach(c.a, &ca, aio_steps_op, &c), 0);
    aio_steps_wait(loop, &c, 1);
    assert_int_equal(c.err, TLSPLUG_E_TIMEOUT);
    assert_int_equal(tlsplug_aio_state_of(c.a), TLSPLUG_AIO_PLAIN);
    tlsplug_aio_close(c.a, NULL, NULL);
    close(sv[1]);
    tlsplug_ctx_free(cc);
}

int main(int argc, char **argv)
{
    impl = test_backend(argc > 1 ? argv[1] : NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tls_echo_over_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_cert_reported_on_both_sides, setup, teardown),
        cmocka_unit_test_setup_teardown(starttls_attach_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(detach_keeps_trailing_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(handshake_timeout_silent_peer, setup, teardown),
    };
    char name[64];
    snprintf(name, sizeof name, "aio-tls-%s", tlsplug_impl_name(impl));
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
