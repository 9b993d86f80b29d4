/* The aio's direct socket path, per backend (`test_aio_direct <backend>`):
 * application records sent straight from the library to the socket while
 * nothing is buffered (the engine's sink), and the rest of a record whose
 * start was read ahead read straight into the library (the engine's
 * source).  The peer is an engine driven by hand over a socketpair, so the
 * test decides where the byte stream is cut. */
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
#include "pair.h"

static tlsplug_impl impl;
static tlsplug_loop *loop;
static tlsplug_reactor *R;

/* The aio end (client) and the hand-driven engine end (server). */
struct fixture {
    int sv[2];
    tlsplug_ctx *sc, *cc;
    tlsplug_aio *a;
    tlsplug_conn *s;
    struct aio_steps w; /* the aio's operations */
};

/* Moves what the socket holds into the server engine. */
static void server_fill(struct fixture *f)
{
    for (;;) {
        size_t avail;
        void *dst = tlsplug_conn_recv_buf(f->s, &avail);
        if (!dst)
            return;
        ssize_t n = recv(f->sv[1], dst, avail, 0);
        if (n <= 0)
            return;
        tlsplug_conn_recv_ack(f->s, (size_t)n);
    }
}

/* Sends the server engine's output, waiting (running the loop) while the
 * socket is full. */
static void server_flush(struct fixture *f)
{
    double end = aio_steps_now() + 10;
    size_t len;
    const void *out;
    while ((out = tlsplug_conn_send_buf(f->s, &len)) != NULL && aio_steps_now() < end) {
        ssize_t n = send(f->sv[1], out, len, MSG_NOSIGNAL);
        if (n > 0)
            tlsplug_conn_send_ack(f->s, (size_t)n);
        else
            tlsplug_loop_run_once(loop, 5);
    }
    assert_null(tlsplug_conn_send_buf(f->s, &len));
}

static void setup_secure(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, f->sv), 0);
    f->sc = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    f->cc = client_ctx(impl, NULL);
    assert_int_equal(tlsplug_aio_new(&f->a, R, f->sv[0]), 0);
    f->w.a = f->a;
    tlsplug_conn_options so = {.side = TLSPLUG_SIDE_SERVER};
    assert_int_equal(tlsplug_conn_new(&f->s, f->sc, &so, NULL), 0);
    tlsplug_attach_options ca = {.ctx = f->cc, .server_name = "localhost"};
    assert_int_equal(tlsplug_aio_attach(f->a, &ca, aio_steps_op, &f->w), 0);
    double end = aio_steps_now() + 10;
    int hs = TLSPLUG_WANT_READ;
    while ((f->w.done < 1 || hs != TLSPLUG_OK) && aio_steps_now() < end) {
        tlsplug_loop_run_once(loop, 10);
        server_fill(f);
        hs = tlsplug_conn_handshake(f->s);
        server_flush(f);
    }
    assert_int_equal(hs, TLSPLUG_OK);
    assert_int_equal(f->w.done, 1);
    assert_int_equal(f->w.err, 0);
    assert_int_equal(tlsplug_aio_state_of(f->a), TLSPLUG_AIO_SECURE);
}

static void teardown_fixture(struct fixture *f)
{
    if (f->a)
        tlsplug_aio_close(f->a, NULL, NULL);
    tlsplug_conn_free(f->s);
    if (f->sv[1] >= 0)
        close(f->sv[1]);
    tlsplug_ctx_free(f->sc);
    tlsplug_ctx_free(f->cc);
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

/* The server engine's records for data, all of them, into wire. */
static size_t server_records(struct fixture *f, const unsigned char *data, size_t len,
                             unsigned char *wire, size_t cap)
{
    size_t done = 0, wl = 0;
    while (done < len) {
        size_t n = 0;
        int rc = tlsplug_conn_write(f->s, data + done, len - done, &n);
        assert_true(rc == TLSPLUG_OK || rc == TLSPLUG_WANT_WRITE);
        done += n;
        wl += tlsplug_conn_drain(f->s, wire + wl, cap - wl);
        assert_true(wl < cap);
    }
    return wl;
}

/* Sends wire cut at the given offsets, letting the aio read (and its
 * library take what arrived, as far as a record's start) between cuts. */
static void send_cut(struct fixture *f, const unsigned char *wire, size_t wl, const size_t *cuts,
                     size_t ncuts)
{
    size_t off = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : wl;
        assert_true(end >= off && end <= wl);
        while (off < end) {
            ssize_t n = send(f->sv[1], wire + off, end - off, MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
            else
                tlsplug_loop_run_once(loop, 5);
        }
        for (int k = 0; k < 5; k++)
            tlsplug_loop_run_once(loop, 5);
    }
}

struct reader {
    struct fixture *f;
    unsigned char *buf;
    size_t want, got;
    int err, reading;
};

static void reader_got(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg);

static void reader_next(struct reader *r)
{
    if (r->err || r->got >= r->want) {
        r->reading = 0;
        return;
    }
    r->reading = 1;
    assert_int_equal(
        tlsplug_aio_read(r->f->a, r->buf + r->got, r->want - r->got, 5000, reader_got, r), 0);
}

static void reader_got(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    struct reader *r = arg;
    r->err = e ? tlsplug_error_class(e) : 0;
    r->got += n;
    reader_next(r);
}

/* Three 16 KiB records, close_notify and plain bytes, cut inside record
 * headers and bodies: every byte arrives in order, and the plain bytes
 * after close_notify are still there after detach. */
static void records_cut_anywhere_arrive_whole(void **state)
{
    struct fixture f;
    setup_secure(&f);
    enum { LEN = 3 * 16384 };
    unsigned char *data = malloc(LEN), *got = calloc(1, LEN), *wire = malloc(LEN + 4096);
    assert_non_null(data);
    assert_non_null(got);
    assert_non_null(wire);
    pattern(data, LEN, 7);
    size_t wl = server_records(&f, data, LEN, wire, LEN + 4096);
    assert_int_equal(tlsplug_conn_shutdown(f.s), TLSPLUG_OK);
    wl += tlsplug_conn_drain(f.s, wire + wl, LEN + 4096 - wl);
    memcpy(wire + wl, "PLAIN-TAIL", 10);
    wl += 10;
    /* Inside the first header, inside bodies, one byte past a header; then
     * the rest at once, more than the aio's receive buffer holds: the last
     * record's rest is read straight into the library, with close_notify
     * and the plain bytes right behind it in the socket. */
    const size_t cuts[] = {3, 3000, 3001, 16000, 16390, 16420, 20000};
    struct reader r = {.f = &f, .buf = got, .want = LEN};
    reader_next(&r);
    send_cut(&f, wire, wl, cuts, sizeof cuts / sizeof cuts[0]);
    double end = aio_steps_now() + 10;
    while (r.reading && aio_steps_now() < end)
        tlsplug_loop_run_once(loop, 20);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.got, LEN);
    assert_memory_equal(got, data, LEN);

    int d = f.w.done;
    assert_int_equal(tlsplug_aio_detach(f.a, 3000, aio_steps_op, &f.w), 0);
    aio_steps_wait(loop, &f.w, d + 1);
    assert_int_equal(f.w.err, 0);
    assert_int_equal(tlsplug_aio_state_of(f.a), TLSPLUG_AIO_PLAIN);
    aio_steps_expect_read(loop, &f.w, "PLAIN-TAIL");
    free(data);
    free(got);
    free(wire);
    teardown_fixture(&f);
}

/* End of file in the middle of a record body, after the library took the
 * record's start: the read fails as truncated, as when the whole rest is
 * missing. */
static void eof_inside_a_record_is_truncation(void **state)
{
    struct fixture f;
    setup_secure(&f);
    enum { LEN = 16384 };
    unsigned char *data = malloc(LEN), *got = malloc(LEN), *wire = malloc(LEN + 4096);
    assert_non_null(data);
    assert_non_null(got);
    assert_non_null(wire);
    pattern(data, LEN, 3);
    size_t wl = server_records(&f, data, LEN, wire, LEN + 4096);
    assert_true(wl > 8000);
    struct reader r = {.f = &f, .buf = got, .want = LEN};
    reader_next(&r);
    send_cut(&f, wire, 8000, NULL, 0);
    assert_int_equal(r.got, 0);
    assert_true(r.reading);
    assert_int_equal(shutdown(f.sv[1], SHUT_WR), 0);
    double end = aio_steps_now() + 10;
    while (r.reading && aio_steps_now() < end)
        tlsplug_loop_run_once(loop, 20);
    assert_false(r.reading);
    assert_int_equal(r.got, 0);
    assert_int_equal(r.err, TLSPLUG_E_TRUNCATED);
    free(data);
    free(got);
    free(wire);
    teardown_fixture(&f);
}

struct writer {
    int done, err;
};

static void writer_done(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct writer *w = arg;
    w->err = e ? tlsplug_error_class(e) : 0;
    w->done++;
}

/* One write much larger than the socket's buffer: records leave directly,
 * in part, or through the send buffer once the socket is full; the peer
 * gets every byte in order. */
static void large_write_through_a_small_socket_buffer(void **state)
{
    struct fixture f;
    setup_secure(&f);
    int small = 4096;
    assert_int_equal(setsockopt(f.sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    enum { LEN = 512 * 1024 };
    unsigned char *data = malloc(LEN), *got = malloc(LEN);
    assert_non_null(data);
    assert_non_null(got);
    pattern(data, LEN, 11);
    struct writer w = {0};
    assert_int_equal(tlsplug_aio_write(f.a, data, LEN, 10000, writer_done, &w), 0);
    size_t n_got = 0;
    double end = aio_steps_now() + 20;
    while ((n_got < LEN || !w.done) && aio_steps_now() < end) {
        tlsplug_loop_run_once(loop, 1);
        server_fill(&f);
        size_t n = 0;
        int rc;
        while (n_got < LEN &&
               (rc = tlsplug_conn_read(f.s, got + n_got, LEN - n_got, &n)) == TLSPLUG_OK)
            n_got += n;
    }
    assert_int_equal(w.done, 1);
    assert_int_equal(w.err, 0);
    assert_int_equal(n_got, LEN);
    assert_memory_equal(got, data, LEN);
    free(data);
    free(got);
    teardown_fixture(&f);
}

/* The peer is gone: a write fails with the transport's error, and so does
 * the next one. */
static void write_to_a_closed_peer_fails(void **state)
{
    struct fixture f;
    setup_secure(&f);
    close(f.sv[1]);
    f.sv[1] = -1;
    static unsigned char data[64 * 1024];
    pattern(data, sizeof data, 5);
    for (int i = 0; i < 2; i++) {
        struct writer w = {0};
        assert_int_equal(tlsplug_aio_write(f.a, data, sizeof data, 5000, writer_done, &w), 0);
        double end = aio_steps_now() + 10;
        while (!w.done && aio_steps_now() < end)
            tlsplug_loop_run_once(loop, 20);
        assert_int_equal(w.done, 1);
        assert_int_equal(w.err, TLSPLUG_E_IO);
    }
    teardown_fixture(&f);
}

int main(int argc, char **argv)
{
    impl = test_backend(argc > 1 ? argv[1] : NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(records_cut_anywhere_arrive_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(eof_inside_a_record_is_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(large_write_through_a_small_socket_buffer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(write_to_a_closed_peer_fails, setup, teardown),
    };
    char name[64];
    snprintf(name, sizeof name, "aio-direct-%s", tlsplug_impl_name(impl));
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
