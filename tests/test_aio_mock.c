/*
 * The aio contract (include/tlsplug/aio.h, "Rules") checked over real
 * sockets on the built-in loop, with the scripted mock backend
 * (tests/mock_backend.c) so every failure can be provoked on purpose.
 *
 * The peer of the aio under test is either another aio (mock server
 * context) or raw bytes written by the test on the other end of a
 * non-blocking AF_UNIX socketpair.  The loop is always run in bounded steps
 * (RUN_UNTIL: at most 5 s of wall clock), never with an unbounded wait.
 * Every test ends with finish(): the loop must be empty and every mock
 * context and session freed.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tlsplug/tlsplug.h"
#include "core/backend.h"
#include "mock_backend.h"

/* Markers only: config.c checks for the PEM blocks, the mock never parses
 * them. */
static const char fake_cert_and_key[] = "-----BEGIN CERTIFICATE-----\nTU9DSw==\n"
                                        "-----END CERTIFICATE-----\n"
                                        "-----BEGIN PRIVATE KEY-----\nTU9DSw==\n"
                                        "-----END PRIVATE KEY-----\n";

static const uint8_t close_notify_record[7] = {21, 3, 3, 0, 2, 1, 0};

#define BOUND_MS 5000

/* ------------------------------------------------------------------------ */
/* Time, fixture                                                              */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct fx {
    tlsplug_loop *loop;
    tlsplug_reactor *r;
    tlsplug_ctx *cli, *srv;
};

static tlsplug_config *mock_cfg(tlsplug_side side)
{
    tlsplug_config *cfg = tlsplug_config_new(side);
    assert_non_null(cfg);
    if (side != TLSPLUG_SIDE_CLIENT)
        assert_int_equal(tlsplug_config_set_cert_mem(cfg, fake_cert_and_key,
                                                     sizeof fake_cert_and_key - 1, NULL, 0, NULL),
                         0);
    if (side == TLSPLUG_SIDE_CLIENT)
        assert_int_equal(tlsplug_config_set_verify(cfg, TLSPLUG_VERIFY_NONE), 0);
    return cfg;
}

static tlsplug_ctx *mock_ctx_from(const tlsplug_config *cfg)
{
    tlsplug_ctx *ctx = NULL;
    tlsplug_error *err = NULL;
    int rc = tlsplug_ctx_new(&ctx, cfg, MOCK_IMPL, &err);
    if (rc)
        print_error("tlsplug_ctx_new: %s\n", err ? tlsplug_error_message(err) : "?");
    tlsplug_error_free(err);
    assert_int_equal(rc, 0);
    return ctx;
}

static tlsplug_ctx *mock_ctx(tlsplug_side side)
{
    tlsplug_config *cfg = mock_cfg(side);
    tlsplug_ctx *ctx = mock_ctx_from(cfg);
    tlsplug_config_free(cfg);
    return ctx;
}

static int setup(void **state)
{
    mock_reset();
    tlsplug__backend_register_test(&mock_backend);
    struct fx *f = calloc(1, sizeof *f);
    if (!f || tlsplug_loop_new(&f->loop, 0) != 0) {
        free(f);
        return -1;
    }
    f->r = tlsplug_loop_reactor(f->loop);
    f->cli = mock_ctx(TLSPLUG_SIDE_CLIENT);
    f->srv = mock_ctx(TLSPLUG_SIDE_SERVER);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tlsplug_ctx_free(f->cli);
    tlsplug_ctx_free(f->srv);
    if (f->loop && tlsplug_loop_free(f->loop) != 0)
        print_error("teardown: the loop was not empty (leaking it)\n");
    free(f);
    return 0;
}

/* The end of every test: contexts dropped, loop empty, no mock object
 * alive. */
static void finish(struct fx *f)
{
    tlsplug_ctx_free(f->cli);
    tlsplug_ctx_free(f->srv);
    f->cli = f->srv = NULL;
    for (int i = 0; i < 5; i++)
        tlsplug_loop_run_once(f->loop, 0);
    assert_int_equal(tlsplug_loop_free(f->loop), 0);
    f->loop = NULL;
    assert_int_equal(mock_live_sess(), 0);
    assert_int_equal(mock_live_ctx(), 0);
}

#define RUN_UNTIL(f, cond)                                                                     \
    do {                                                                                       \
        uint64_t deadline_ = now_ms() + BOUND_MS;                                              \
        while (!(cond) && now_ms() < deadline_)                                                \
            tlsplug_loop_run_once((f)->loop, 10);                                              \
        assert_true(cond);                                                                     \
    } while (0)

/* Keep the loop turning for a while (to see that nothing more fires). */
static void run_for(struct fx *f, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (now_ms() < end)
        tlsplug_loop_run_once(f->loop, 5);
}

/* ------------------------------------------------------------------------ */
/* Callback recorders                                                         */

/* Set around every API call: a callback that sees it set fired from inside
 * the call that started it. */
static int g_in_api;
static int g_rc;
static int g_seq; /* order in which callbacks fired */

#define CALL(expr) (g_in_api = 1, g_rc = (expr), g_in_api = 0, g_rc)
#define CALLV(expr)                                                                            \
    do {                                                                                       \
        g_in_api = 1;                                                                          \
        expr;                                                                                  \
        g_in_api = 0;                                                                          \
    } while (0)

struct rec {
    int calls;
    int sync; /* fired inside an API call */
    int cls;  /* 0: err was NULL */
    int alert;
    int seq;
    char msg[256];
    tlsplug_aio_state state; /* the aio's state inside the callback */
};

static void rec_note(struct rec *r, tlsplug_aio *aio, const tlsplug_error *err)
{
    r->calls++;
    if (g_in_api)
        r->sync++;
    r->cls = err ? tlsplug_error_class(err) : 0;
    r->alert = err ? tlsplug_error_alert(err) : -1;
    snprintf(r->msg, sizeof r->msg, "%s", err ? tlsplug_error_message(err) : "");
    r->seq = ++g_seq;
    r->state = tlsplug_aio_state_of(aio);
}

static void op_cb(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    rec_note(arg, aio, err);
}

struct reader {
    struct rec r;
    uint8_t buf[20000];
    size_t cap;   /* per read */
    int rearm;    /* read again after data, until an error */
    uint32_t timeout_ms;
    size_t last_n;
    uint8_t *acc;
    size_t acc_len, acc_cap;
};

static struct reader *reader_new(size_t cap, size_t acc_cap)
{
    struct reader *rd = calloc(1, sizeof *rd);
    assert_non_null(rd);
    rd->cap = cap < sizeof rd->buf ? cap : sizeof rd->buf;
    rd->acc = calloc(1, acc_cap + 1);
    assert_non_null(rd->acc);
    rd->acc_cap = acc_cap;
    return rd;
}

static void reader_free(struct reader *rd)
{
    if (rd)
        free(rd->acc);
    free(rd);
}

static void read_cb(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n, void *arg)
{
    struct reader *rd = arg;
    rec_note(&rd->r, aio, err);
    rd->last_n = n;
    if (buf != rd->buf)
        fail_msg("read callback got another buffer");
    if (n && rd->acc_len + n <= rd->acc_cap) {
        memcpy(rd->acc + rd->acc_len, buf, n);
        rd->acc_len += n;
    }
    if (rd->rearm && !err)
        assert_int_equal(CALL(tlsplug_aio_read(aio, rd->buf, rd->cap, rd->timeout_ms, read_cb,
                                               rd)),
                         0);
}

static int reader_start(tlsplug_aio *a, struct reader *rd, uint32_t timeout_ms)
{
    rd->timeout_ms = timeout_ms;
    return CALL(tlsplug_aio_read(a, rd->buf, rd->cap, timeout_ms, read_cb, rd));
}

/* ------------------------------------------------------------------------ */
/* Sockets, raw peers                                                         */

static void make_pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK), 0);
}

static tlsplug_aio *new_aio(struct fx *f, int fd)
{
    tlsplug_aio *a = NULL;
    assert_int_equal(tlsplug_aio_new(&a, f->r, fd), 0);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    return a;
}

/* A plain aio on one end; *peer is the raw other end. */
static tlsplug_aio *plain_aio(struct fx *f, int *peer)
{
    int sv[2];
    make_pair(sv);
    *peer = sv[1];
    return new_aio(f, sv[0]);
}

static void raw_write(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t deadline = now_ms() + BOUND_MS;
    while (n) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k > 0) {
            b += k;
            n -= (size_t)k;
            continue;
        }
        assert_true(k < 0 && (errno == EAGAIN || errno == EINTR));
        assert_true(now_ms() < deadline);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void raw_write_record(int fd, int type, const void *body, size_t len)
{
    uint8_t rec[5 + 16384];
    assert_true(len <= 16384);
    raw_write(fd, rec, mock_record(rec, type, body, len));
}

/* Read exactly n bytes from a raw peer while the loop runs.  Returns how
 * many arrived (fewer on EOF). */
static size_t raw_read_n(struct fx *f, int fd, void *buf, size_t n)
{
    size_t got = 0;
    uint64_t deadline = now_ms() + BOUND_MS;
    while (got < n && now_ms() < deadline) {
        ssize_t k = recv(fd, (uint8_t *)buf + got, n - got, 0);
        if (k > 0) {
            got += (size_t)k;
            continue;
        }
        if (k == 0)
            break;
        if (errno != EAGAIN && errno != EINTR)
            break;
        tlsplug_loop_run_once(f->loop, 10);
    }
    return got;
}

/* 1 once the raw peer sees end of stream (or a reset) before any byte. */
static int raw_expect_eof(struct fx *f, int fd)
{
    uint64_t deadline = now_ms() + BOUND_MS;
    while (now_ms() < deadline) {
        uint8_t b;
        ssize_t k = recv(fd, &b, 1, 0);
        if (k == 0 || (k < 0 && errno == ECONNRESET))
            return 1;
        if (k > 0)
            return 0;
        tlsplug_loop_run_once(f->loop, 10);
    }
    return 0;
}

/* Nothing arrives at the raw peer for ms milliseconds. */
static int raw_silent_for(struct fx *f, int fd, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (now_ms() < end) {
        uint8_t b;
        if (recv(fd, &b, 1, 0) >= 0)
            return 0;
        tlsplug_loop_run_once(f->loop, 5);
    }
    return 1;
}

static void expect_client_hello(struct fx *f, int peer)
{
    uint8_t got[MOCK_HELLO_RECORD_LEN], want[MOCK_HELLO_RECORD_LEN];
    mock_record(want, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    assert_int_equal(raw_read_n(f, peer, got, sizeof got), sizeof got);
    assert_memory_equal(got, want, sizeof want);
}

static void expect_close_notify(struct fx *f, int peer)
{
    uint8_t got[7];
    assert_int_equal(raw_read_n(f, peer, got, sizeof got), sizeof got);
    assert_memory_equal(got, close_notify_record, sizeof got);
}

/* An aio attached as client, SECURE, whose server is the raw peer. */
static tlsplug_aio *secure_client_raw_peer(struct fx *f, int *peer)
{
    tlsplug_aio *a = plain_aio(f, peer);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    expect_client_hello(f, *peer);
    raw_write_record(*peer, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.cls, 0);
    assert_int_equal(at.sync, 0);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_SECURE);
    return a;
}

/* Two aios on a socketpair, attached as client (a) and server (b). */
static void secure_pair(struct fx *f, tlsplug_aio **a, tlsplug_aio **b)
{
    int sv[2];
    make_pair(sv);
    *a = new_aio(f, sv[0]);
    *b = new_aio(f, sv[1]);
    struct rec ra = {0}, rb = {0};
    tlsplug_attach_options oc = {.ctx = f->cli}, os = {.ctx = f->srv};
    assert_int_equal(CALL(tlsplug_aio_attach(*a, &oc, op_cb, &ra)), 0);
    assert_int_equal(CALL(tlsplug_aio_attach(*b, &os, op_cb, &rb)), 0);
    RUN_UNTIL(f, ra.calls && rb.calls);
    assert_int_equal(ra.cls, 0);
    assert_int_equal(rb.cls, 0);
    assert_int_equal(ra.sync + rb.sync, 0);
    assert_int_equal(tlsplug_aio_state_of(*a), TLSPLUG_AIO_SECURE);
    assert_int_equal(tlsplug_aio_state_of(*b), TLSPLUG_AIO_SECURE);
}

/* Close and wait for the close callback; the aio is gone afterwards. */
static void close_and_wait(struct fx *f, tlsplug_aio *a)
{
    struct rec c = {0};
    CALLV(tlsplug_aio_close(a, op_cb, &c));
    assert_int_equal(c.calls, 0);
    RUN_UNTIL(f, c.calls == 1);
    assert_int_equal(c.sync, 0);
    assert_int_equal(c.cls, 0);
}

/* Make a plain write stay pending: tiny socket buffers and a big write the
 * raw peer does not read. */
static uint8_t *start_stuck_write(tlsplug_aio *a, int peer, struct rec *w, size_t *len,
                                  uint32_t timeout_ms)
{
    int small = 4096;
    setsockopt(tlsplug_aio_fd(a), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    *len = 4u << 20;
    uint8_t *big = calloc(1, *len);
    assert_non_null(big);
    assert_int_equal(CALL(tlsplug_aio_write(a, big, *len, timeout_ms, op_cb, w)), 0);
    return big;
}

/* ------------------------------------------------------------------------ */
/* Error names                                                                */

/* Every class has a stable kebab-case name; the names are distinct. */
static void test_error_names_kebab_case(void **state)
{
    (void)state;
    const char *seen[40] = {0};
    for (int c = -1; c >= TLSPLUG_ERRCLASS_MIN; c--) {
        const char *n = tlsplug_error_name(c);
        assert_non_null(n);
        assert_string_not_equal(n, "unknown");
        assert_true(n[0] != 0 && n[0] != '-' && n[strlen(n) - 1] != '-');
        for (const char *p = n; *p; p++)
            assert_true(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-');
        for (int k = 1; k < -c; k++)
            assert_string_not_equal(seen[k], n);
        seen[-c] = n;
    }
    assert_string_equal(tlsplug_error_name(TLSPLUG_OK), "ok");
    assert_string_equal(tlsplug_error_name(TLSPLUG_WANT_READ), "want-read");
    assert_string_equal(tlsplug_error_name(TLSPLUG_WANT_WRITE), "want-write");
    assert_string_equal(tlsplug_error_name(TLSPLUG_E_CERT_EXPIRED), "certificate-expired");
    assert_string_equal(tlsplug_error_name(TLSPLUG_E_NOT_TLS), "not-tls");
    assert_string_equal(tlsplug_error_name(TLSPLUG_E_PEER_ALERT), "peer-alert");
    assert_string_equal(tlsplug_error_name(TLSPLUG_E_TRUNCATED), "truncated");
    assert_string_equal(tlsplug_error_name(TLSPLUG_E_CANCELED), "canceled");
    assert_string_equal(tlsplug_error_name(TLSPLUG_E_BUSY), "busy");
    assert_string_equal(tlsplug_error_name(TLSPLUG_ERRCLASS_MIN - 1), "unknown");
    assert_string_equal(tlsplug_error_name(3), "unknown");
}

/* ------------------------------------------------------------------------ */
/* Completion callbacks: exactly once, never synchronous                     */

/* Attach on both sides: each attach callback once, later, err NULL; the
 * engine reports what the mock negotiated. */
static void test_attach_completes_once_async(void **state)
{
    struct fx *f = *state;
    tlsplug_aio *a, *b;
    secure_pair(f, &a, &b);
    run_for(f, 30); /* secure_pair counted one call each; nothing more */
    tlsplug_info info;
    assert_int_equal(tlsplug_conn_info(tlsplug_aio_conn(a), &info), 0);
    assert_int_equal(info.version, TLSPLUG_TLS1_2);
    assert_int_equal(info.cipher_id, 0xC02B);
    assert_int_equal(info.group_id, 29);
    assert_string_equal(info.group, "x25519");
    assert_true(info.cipher[0] != 0);
    assert_int_equal(info.impl, MOCK_IMPL);
    close_and_wait(f, a);
    close_and_wait(f, b);
    finish(f);
}

/* Plain and secure read/write: one callback each, after the call returned,
 * with the data intact. */
static void check_ping(struct fx *f, tlsplug_aio *a, tlsplug_aio *b)
{
    struct reader *rd = reader_new(64, 64);
    struct rec w = {0};
    assert_int_equal(reader_start(b, rd, 0), 0);
    assert_int_equal(CALL(tlsplug_aio_write(a, "ping", 4, 0, op_cb, &w)), 0);
    assert_int_equal(w.calls + rd->r.calls, 0);
    RUN_UNTIL(f, w.calls == 1 && rd->acc_len == 4);
    run_for(f, 20);
    assert_int_equal(w.calls, 1);
    assert_int_equal(rd->r.calls, 1);
    assert_int_equal(w.sync + rd->r.sync, 0);
    assert_int_equal(w.cls, 0);
    assert_int_equal(rd->r.cls, 0);
    assert_memory_equal(rd->acc, "ping", 4);
    reader_free(rd);
}

static void test_read_write_once_async_plain(void **state)
{
    struct fx *f = *state;
    int sv[2];
    make_pair(sv);
    tlsplug_aio *a = new_aio(f, sv[0]), *b = new_aio(f, sv[1]);
    check_ping(f, a, b);
    check_ping(f, b, a);
    close_and_wait(f, a);
    close_and_wait(f, b);
    finish(f);
}

static void test_read_write_once_async_secure(void **state)
{
    struct fx *f = *state;
    tlsplug_aio *a, *b;
    secure_pair(f, &a, &b);
    check_ping(f, a, b);
    check_ping(f, b, a);
    close_and_wait(f, a);
    close_and_wait(f, b);
    finish(f);
}

/* A write larger than a record and than the socket buffer completes once,
 * and the bytes arrive in order (partial sends in core and the mock). */
static void test_large_secure_write_once(void **state)
{
    struct fx *f = *state;
    tlsplug_aio *a, *b;
    secure_pair(f, &a, &b);
    const size_t len = 300000;
    uint8_t *data = malloc(len);
    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 9));
    struct reader *rd = reader_new(sizeof rd->buf, len);
    rd->rearm = 1;
    struct rec w = {0};
    assert_int_equal(reader_start(b, rd, 0), 0);
    assert_int_equal(CALL(tlsplug_aio_write(a, data, len, 0, op_cb, &w)), 0);
    RUN_UNTIL(f, w.calls == 1 && rd->acc_len == len);
    run_for(f, 20);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.sync + rd->r.sync, 0);
    assert_int_equal(w.cls, 0);
    assert_memory_equal(rd->acc, data, len);
    /* the rearmed read is pending: close cancels it */
    close_and_wait(f, b);
    assert_int_equal(rd->r.cls, TLSPLUG_E_CANCELED);
    close_and_wait(f, a);
    reader_free(rd);
    free(data);
    finish(f);
}

/* Detach on PLAIN has nothing to do: it succeeds (err NULL), later. */
static void test_detach_on_plain_succeeds_async(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec d = {0};
    assert_int_equal(CALL(tlsplug_aio_detach(a, 0, op_cb, &d)), 0);
    assert_int_equal(d.calls, 0);
    RUN_UNTIL(f, d.calls == 1);
    run_for(f, 20);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.sync, 0);
    assert_int_equal(d.cls, 0);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    assert_true(raw_silent_for(f, peer, 20)); /* nothing was sent */
    close_and_wait(f, a);
    close(peer);
    finish(f);
}

/* Close: one callback, later; a second close does nothing (its callback
 * never fires). */
static void test_close_once_async_second_close_harmless(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec c1 = {0}, c2 = {0};
    CALLV(tlsplug_aio_close(a, op_cb, &c1));
    CALLV(tlsplug_aio_close(a, op_cb, &c2)); /* the aio lives until c1 fired */
    assert_int_equal(c1.calls, 0);
    RUN_UNTIL(f, c1.calls == 1);
    run_for(f, 20);
    assert_int_equal(c1.calls, 1);
    assert_int_equal(c1.sync, 0);
    assert_int_equal(c2.calls, 0);
    assert_true(raw_expect_eof(f, peer));
    close(peer);
    finish(f);
}

/* Close with a NULL callback is allowed. */
static void test_close_null_callback(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    CALLV(tlsplug_aio_close(a, NULL, NULL));
    assert_true(raw_expect_eof(f, peer));
    close(peer);
    finish(f);
}

/* Graceful close of a SECURE aio sends close_notify before the FIN. */
static void test_close_secure_sends_close_notify(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    close_and_wait(f, a);
    expect_close_notify(f, peer);
    assert_true(raw_expect_eof(f, peer));
    close(peer);
    finish(f);
}

/* Connect (plain): the callback fires once, later, and the listener's
 * on_conn sees the other end. */
struct acceptor {
    int conns, errors, err_cls;
    tlsplug_aio *aio;
    tlsplug_aio_state state;
};

static void on_accept(tlsplug_listener *l, tlsplug_aio *aio, void *arg)
{
    struct acceptor *ac = arg;
    ac->conns++;
    ac->aio = aio;
    ac->state = tlsplug_aio_state_of(aio);
}

static void on_accept_error(tlsplug_listener *l, const tlsplug_error *err, void *arg)
{
    struct acceptor *ac = arg;
    ac->errors++;
    ac->err_cls = tlsplug_error_class(err);
}

static void test_connect_once_async(void **state)
{
    struct fx *f = *state;
    struct acceptor ac = {0};
    tlsplug_listener *l = NULL;
    assert_int_equal(tlsplug_listen(&l, f->r, "127.0.0.1", 0, NULL, on_accept, on_accept_error,
                                    &ac),
                     0);
    int port = tlsplug_listener_port(l);
    assert_true(port > 0);
    tlsplug_aio *c = NULL;
    struct rec cr = {0};
    assert_int_equal(CALL(tlsplug_aio_connect(&c, f->r, "127.0.0.1", port, NULL, op_cb, &cr)),
                     0);
    assert_non_null(c);
    assert_int_equal(cr.calls, 0);
    RUN_UNTIL(f, cr.calls == 1 && ac.conns == 1);
    run_for(f, 20);
    assert_int_equal(cr.calls, 1);
    assert_int_equal(cr.sync, 0);
    assert_int_equal(cr.cls, 0);
    assert_int_equal(tlsplug_aio_state_of(c), TLSPLUG_AIO_PLAIN);
    assert_int_equal(ac.state, TLSPLUG_AIO_PLAIN);
    check_ping(f, c, ac.aio);
    tlsplug_listener_close(l);
    close_and_wait(f, c);
    close_and_wait(f, ac.aio);
    finish(f);
}

/* Close while connecting: the connect completes with CANCELED before the
 * close callback. */
static void test_close_during_connect_cancels(void **state)
{
    struct fx *f = *state;
    struct acceptor ac = {0};
    tlsplug_listener *l = NULL;
    assert_int_equal(tlsplug_listen(&l, f->r, "127.0.0.1", 0, NULL, on_accept, NULL, &ac), 0);
    tlsplug_aio *c = NULL;
    struct rec cr = {0}, cc = {0};
    assert_int_equal(CALL(tlsplug_aio_connect(&c, f->r, "127.0.0.1", tlsplug_listener_port(l),
                                              NULL, op_cb, &cr)),
                     0);
    CALLV(tlsplug_aio_close(c, op_cb, &cc));
    RUN_UNTIL(f, cc.calls == 1);
    run_for(f, 20);
    assert_int_equal(cr.calls, 1);
    assert_int_equal(cr.cls, TLSPLUG_E_CANCELED);
    assert_true(cr.seq < cc.seq);
    assert_int_equal(cr.sync + cc.sync, 0);
    tlsplug_listener_close(l);
    if (ac.conns)
        close_and_wait(f, ac.aio);
    finish(f);
}

/* A refused connect: the callback once with an error; the aio is closed by
 * tlsplug (not touched again here). */
static void test_connect_refused_once(void **state)
{
    struct fx *f = *state;
    struct acceptor ac = {0};
    tlsplug_listener *l = NULL;
    assert_int_equal(tlsplug_listen(&l, f->r, "127.0.0.1", 0, NULL, on_accept, NULL, &ac), 0);
    int port = tlsplug_listener_port(l);
    tlsplug_listener_close(l); /* nobody listens there now */
    tlsplug_aio *c = NULL;
    struct rec cr = {0};
    assert_int_equal(CALL(tlsplug_aio_connect(&c, f->r, "127.0.0.1", port, NULL, op_cb, &cr)),
                     0);
    RUN_UNTIL(f, cr.calls == 1);
    run_for(f, 20);
    assert_int_equal(cr.calls, 1);
    assert_int_equal(cr.sync, 0);
    assert_int_equal(cr.cls, TLSPLUG_E_IO);
    finish(f);
}

/* Connect with attach on both ends: the connect callback fires once, when
 * TLS is up; the listener hands out a SECURE aio; SNI reaches the mock. */
static void test_connect_with_attach(void **state)
{
    struct fx *f = *state;
    struct acceptor ac = {0};
    tlsplug_listener *l = NULL;
    tlsplug_attach_options so = {.ctx = f->srv};
    tlsplug_listen_options lo = {.attach = &so};
    assert_int_equal(tlsplug_listen(&l, f->r, "127.0.0.1", 0, &lo, on_accept, on_accept_error,
                                    &ac),
                     0);
    tlsplug_attach_options co = {.ctx = f->cli, .server_name = "mock.test"};
    tlsplug_connect_options cop = {.attach = &co};
    tlsplug_aio *c = NULL;
    struct rec cr = {0};
    assert_int_equal(CALL(tlsplug_aio_connect(&c, f->r, "127.0.0.1", tlsplug_listener_port(l),
                                              &cop, op_cb, &cr)),
                     0);
    RUN_UNTIL(f, cr.calls == 1 && ac.conns == 1);
    run_for(f, 20);
    assert_int_equal(cr.calls, 1);
    assert_int_equal(cr.sync, 0);
    assert_int_equal(cr.cls, 0);
    assert_int_equal(ac.errors, 0);
    assert_int_equal(tlsplug_aio_state_of(c), TLSPLUG_AIO_SECURE);
    assert_int_equal(ac.state, TLSPLUG_AIO_SECURE);
    void *native = tlsplug_conn_native(tlsplug_aio_conn(c), MOCK_IMPL);
    assert_int_equal(mock_sess_magic(native), MOCK_SESS_MAGIC);
    assert_non_null(mock_sess_sni(native));
    assert_string_equal(mock_sess_sni(native), "mock.test");
    check_ping(f, c, ac.aio);
    check_ping(f, ac.aio, c);
    tlsplug_listener_close(l);
    close_and_wait(f, c);
    close_and_wait(f, ac.aio);
    finish(f);
}

/* Connect whose attach fails: one connect callback with the class, the aio
 * closed by tlsplug; the listener reports its side's failure. */
static void test_connect_with_failing_attach(void **state)
{
    struct fx *f = *state;
    mock_script.server_alert = 40; /* handshake_failure */
    struct acceptor ac = {0};
    tlsplug_listener *l = NULL;
    tlsplug_attach_options so = {.ctx = f->srv};
    tlsplug_listen_options lo = {.attach = &so};
    assert_int_equal(tlsplug_listen(&l, f->r, "127.0.0.1", 0, &lo, on_accept, on_accept_error,
                                    &ac),
                     0);
    tlsplug_attach_options co = {.ctx = f->cli};
    tlsplug_connect_options cop = {.attach = &co};
    tlsplug_aio *c = NULL;
    struct rec cr = {0};
    assert_int_equal(CALL(tlsplug_aio_connect(&c, f->r, "127.0.0.1", tlsplug_listener_port(l),
                                              &cop, op_cb, &cr)),
                     0);
    RUN_UNTIL(f, cr.calls == 1 && ac.errors == 1);
    run_for(f, 30);
    assert_int_equal(cr.calls, 1);
    assert_int_equal(cr.sync, 0);
    assert_int_equal(cr.cls, TLSPLUG_E_PEER_ALERT);
    assert_int_equal(cr.alert, 40);
    assert_int_equal(ac.conns, 0);
    assert_int_equal(ac.err_cls, TLSPLUG_E_HANDSHAKE);
    tlsplug_listener_close(l);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* BUSY rules                                                                 */

/* Attach with a read pending fails at once with BUSY and never calls back;
 * the read is unaffected. */
static void test_attach_busy_while_read_pending(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct reader *rd = reader_new(64, 64);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(reader_start(a, rd, 0), 0);
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), TLSPLUG_E_BUSY);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    /* a second read is busy too */
    struct reader *rd2 = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd2, 0), TLSPLUG_E_BUSY);
    raw_write(peer, "data", 4);
    RUN_UNTIL(f, rd->r.calls == 1);
    run_for(f, 20);
    assert_int_equal(rd->r.cls, 0);
    assert_memory_equal(rd->acc, "data", 4);
    assert_int_equal(at.calls, 0);
    assert_int_equal(rd2->r.calls, 0);
    assert_true(raw_silent_for(f, peer, 20)); /* no HELLO went out */
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    reader_free(rd2);
    finish(f);
}

/* Attach, detach and shutdown with a write pending: BUSY, no callback; a
 * second write is busy too.  Close cancels the write. */
static void test_attach_busy_while_write_pending(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec w = {0}, w2 = {0}, at = {0}, d = {0}, s = {0};
    size_t len;
    uint8_t *big = start_stuck_write(a, peer, &w, &len, 0);
    run_for(f, 30);
    assert_int_equal(w.calls, 0); /* stuck: the peer does not read */
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), TLSPLUG_E_BUSY);
    assert_int_equal(CALL(tlsplug_aio_detach(a, 0, op_cb, &d)), TLSPLUG_E_BUSY);
    assert_int_equal(CALL(tlsplug_aio_shutdown(a, 0, op_cb, &s)), TLSPLUG_E_BUSY);
    assert_int_equal(CALL(tlsplug_aio_write(a, "x", 1, 0, op_cb, &w2)), TLSPLUG_E_BUSY);
    struct rec c = {0};
    CALLV(tlsplug_aio_close(a, op_cb, &c));
    RUN_UNTIL(f, c.calls == 1);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.cls, TLSPLUG_E_CANCELED);
    assert_true(w.seq < c.seq);
    assert_int_equal(at.calls + d.calls + s.calls + w2.calls, 0);
    close(peer);
    free(big);
    finish(f);
}

/* During ATTACHING: read, write, shutdown, detach and a second attach all
 * fail with BUSY at once and never call back; the one attach completes. */
static void test_busy_during_attaching(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec at = {0}, at2 = {0}, w = {0}, d = {0}, s = {0};
    struct reader *rd = reader_new(64, 64);
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_ATTACHING);
    assert_null(tlsplug_aio_conn(a)); /* only SECURE/DETACHING expose it */
    assert_int_equal(reader_start(a, rd, 0), TLSPLUG_E_BUSY);
    assert_int_equal(CALL(tlsplug_aio_write(a, "x", 1, 0, op_cb, &w)), TLSPLUG_E_BUSY);
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at2)), TLSPLUG_E_BUSY);
    assert_int_equal(CALL(tlsplug_aio_detach(a, 0, op_cb, &d)), TLSPLUG_E_BUSY);
    assert_int_equal(CALL(tlsplug_aio_shutdown(a, 0, op_cb, &s)), TLSPLUG_E_BUSY);
    expect_client_hello(f, peer);
    raw_write_record(peer, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    RUN_UNTIL(f, at.calls == 1);
    run_for(f, 20);
    assert_int_equal(at.cls, 0);
    assert_int_equal(at.sync, 0);
    assert_int_equal(rd->r.calls + at2.calls + w.calls + d.calls + s.calls, 0);
    /* attach again once SECURE: busy as well (only PLAIN may attach) */
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at2)), TLSPLUG_E_BUSY);
    run_for(f, 20);
    assert_int_equal(at2.calls, 0);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* During DETACHING (the peer never answers our close_notify): read, write,
 * attach and a second detach are BUSY; the detach ends with TIMEOUT and the
 * aio is PLAIN again. */
static void test_busy_during_detaching_then_timeout(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    struct rec d = {0}, d2 = {0}, w = {0}, at = {0};
    struct reader *rd = reader_new(64, 64);
    uint64_t t0 = now_ms();
    assert_int_equal(CALL(tlsplug_aio_detach(a, 200, op_cb, &d)), 0);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_DETACHING);
    assert_int_equal(reader_start(a, rd, 0), TLSPLUG_E_BUSY);
    assert_int_equal(CALL(tlsplug_aio_write(a, "x", 1, 0, op_cb, &w)), TLSPLUG_E_BUSY);
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), TLSPLUG_E_BUSY);
    assert_int_equal(CALL(tlsplug_aio_detach(a, 0, op_cb, &d2)), TLSPLUG_E_BUSY);
    expect_close_notify(f, peer);
    RUN_UNTIL(f, d.calls == 1);
    assert_true(now_ms() - t0 < BOUND_MS);
    run_for(f, 20);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.sync, 0);
    assert_int_equal(d.cls, TLSPLUG_E_TIMEOUT);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    assert_null(tlsplug_aio_conn(a));
    assert_int_equal(mock_live_sess(), 0);
    assert_int_equal(rd->r.calls + d2.calls + w.calls + at.calls, 0);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* Timeouts                                                                   */

/* A silent peer: the attach ends with TIMEOUT (after about the 200 ms asked
 * for; only a generous bound is checked) and the aio is PLAIN again. */
static void test_handshake_timeout_silent_peer(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = f->cli, .handshake_timeout_ms = 200};
    uint64_t t0 = now_ms();
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    RUN_UNTIL(f, at.calls == 1);
    assert_true(now_ms() - t0 < BOUND_MS);
    run_for(f, 20);
    assert_int_equal(at.calls, 1);
    assert_int_equal(at.sync, 0);
    assert_int_equal(at.cls, TLSPLUG_E_TIMEOUT);
    assert_int_equal(at.state, TLSPLUG_AIO_PLAIN);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    assert_null(tlsplug_aio_conn(a));
    assert_int_equal(mock_live_sess(), 0);
    /* PLAIN again means usable again: a second attach can succeed */
    expect_client_hello(f, peer); /* the first attempt's */
    struct rec at2 = {0};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at2)), 0);
    expect_client_hello(f, peer);
    raw_write_record(peer, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    RUN_UNTIL(f, at2.calls == 1);
    assert_int_equal(at2.cls, 0);
    assert_int_equal(at.calls, 1);
    close_and_wait(f, a);
    close(peer);
    finish(f);
}

/* The same with a mock server that reads the HELLO and never answers: the
 * client times out; the server still waits, until it is closed (its attach
 * is then canceled). */
static void test_handshake_timeout_server_silent_script(void **state)
{
    struct fx *f = *state;
    mock_script.server_silent = 1;
    int sv[2];
    make_pair(sv);
    tlsplug_aio *a = new_aio(f, sv[0]), *b = new_aio(f, sv[1]);
    struct rec ra = {0}, rb = {0};
    tlsplug_attach_options oc = {.ctx = f->cli, .handshake_timeout_ms = 200};
    tlsplug_attach_options os = {.ctx = f->srv};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &oc, op_cb, &ra)), 0);
    assert_int_equal(CALL(tlsplug_aio_attach(b, &os, op_cb, &rb)), 0);
    RUN_UNTIL(f, ra.calls == 1);
    assert_int_equal(ra.cls, TLSPLUG_E_TIMEOUT);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    assert_int_equal(rb.calls, 0);
    assert_int_equal(tlsplug_aio_state_of(b), TLSPLUG_AIO_ATTACHING);
    struct rec cb = {0};
    CALLV(tlsplug_aio_close(b, op_cb, &cb));
    RUN_UNTIL(f, cb.calls == 1);
    assert_int_equal(rb.calls, 1);
    assert_int_equal(rb.cls, TLSPLUG_E_CANCELED);
    assert_true(rb.seq < cb.seq);
    close_and_wait(f, a);
    finish(f);
}

/* A read timeout ends the read with TIMEOUT; the aio stays usable and the
 * next read gets the data.  Plain, then secure. */
static void check_read_timeout(struct fx *f, tlsplug_aio *a, int peer, int secure)
{
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd, 100), 0);
    RUN_UNTIL(f, rd->r.calls == 1);
    assert_int_equal(rd->r.sync, 0);
    assert_int_equal(rd->r.cls, TLSPLUG_E_TIMEOUT);
    assert_int_equal(rd->last_n, 0);
    assert_int_equal(tlsplug_aio_state_of(a), secure ? TLSPLUG_AIO_SECURE : TLSPLUG_AIO_PLAIN);
    /* usable afterwards */
    struct reader *rd2 = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd2, 2000), 0);
    if (secure)
        raw_write_record(peer, MOCK_REC_APPDATA, "late", 4);
    else
        raw_write(peer, "late", 4);
    RUN_UNTIL(f, rd2->r.calls == 1);
    assert_int_equal(rd2->r.cls, 0);
    assert_int_equal(rd2->acc_len, 4);
    assert_memory_equal(rd2->acc, "late", 4);
    run_for(f, 150); /* the finished read's timer must not fire later */
    assert_int_equal(rd2->r.calls, 1);
    assert_int_equal(rd->r.calls, 1);
    reader_free(rd);
    reader_free(rd2);
}

static void test_read_timeout_plain_then_usable(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    check_read_timeout(f, a, peer, 0);
    close_and_wait(f, a);
    close(peer);
    finish(f);
}

static void test_read_timeout_secure_then_usable(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    check_read_timeout(f, a, peer, 1);
    close_and_wait(f, a);
    close(peer);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* Bytes across attach and detach                                             */

/* The peer sends app data, close_notify and plain bytes in ONE write.  After
 * detach the next plain reads return the TLS data first, then the plain
 * bytes; later socket bytes follow in order. */
static void test_detach_keeps_trailing_plain_bytes(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    uint8_t wire[64];
    size_t n = mock_record(wire, MOCK_REC_APPDATA, "APPDATA", 7);
    memcpy(wire + n, close_notify_record, sizeof close_notify_record);
    n += sizeof close_notify_record;
    memcpy(wire + n, "PLAIN-TAIL", 10);
    n += 10;
    raw_write(peer, wire, n);
    struct rec d = {0};
    assert_int_equal(CALL(tlsplug_aio_detach(a, 2000, op_cb, &d)), 0);
    RUN_UNTIL(f, d.calls == 1);
    assert_int_equal(d.sync, 0);
    assert_int_equal(d.cls, 0);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    assert_int_equal(mock_live_sess(), 0);
    expect_close_notify(f, peer); /* ours */
    /* small reads, re-armed from the callback while bytes are buffered in
     * tlsplug: each still completes later, never inside the call */
    struct reader *rd = reader_new(4, 64);
    rd->rearm = 1;
    assert_int_equal(reader_start(a, rd, 0), 0);
    RUN_UNTIL(f, rd->acc_len >= 17);
    assert_int_equal(rd->acc_len, 17);
    assert_memory_equal(rd->acc, "APPDATAPLAIN-TAIL", 17);
    raw_write(peer, "MORE", 4);
    RUN_UNTIL(f, rd->acc_len >= 21);
    assert_memory_equal(rd->acc + 17, "MORE", 4);
    assert_int_equal(rd->r.cls, 0);
    assert_int_equal(rd->r.sync, 0);
    close_and_wait(f, a); /* cancels the rearmed read */
    assert_int_equal(rd->r.cls, TLSPLUG_E_CANCELED);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* Plain bytes kept by a detach are not fed to a new attach: attach is
 * refused (BUSY) until they were read. */
static void test_attach_refused_while_detach_bytes_unread(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    uint8_t wire[32];
    memcpy(wire, close_notify_record, sizeof close_notify_record);
    memcpy(wire + sizeof close_notify_record, "TAIL", 4);
    raw_write(peer, wire, sizeof close_notify_record + 4);
    struct rec d = {0}, at = {0};
    assert_int_equal(CALL(tlsplug_aio_detach(a, 2000, op_cb, &d)), 0);
    RUN_UNTIL(f, d.calls == 1);
    assert_int_equal(d.cls, 0);
    expect_close_notify(f, peer);
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), TLSPLUG_E_BUSY);
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd, 0), 0);
    RUN_UNTIL(f, rd->r.calls == 1);
    assert_int_equal(rd->acc_len, 4);
    assert_memory_equal(rd->acc, "TAIL", 4);
    /* now it may attach again, and TLS starts clean */
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    expect_client_hello(f, peer);
    raw_write_record(peer, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.cls, 0);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* Both ends are aios: data written under TLS that the other side never read
 * comes out of its plain reads after both detached, before later plain data. */
static void test_detach_both_sides_keeps_order(void **state)
{
    struct fx *f = *state;
    tlsplug_aio *a, *b;
    secure_pair(f, &a, &b);
    struct rec w = {0}, da = {0}, db = {0};
    assert_int_equal(CALL(tlsplug_aio_write(a, "under-tls|", 10, 0, op_cb, &w)), 0);
    RUN_UNTIL(f, w.calls == 1);
    assert_int_equal(CALL(tlsplug_aio_detach(a, 2000, op_cb, &da)), 0);
    assert_int_equal(CALL(tlsplug_aio_detach(b, 2000, op_cb, &db)), 0);
    RUN_UNTIL(f, da.calls == 1 && db.calls == 1);
    assert_int_equal(da.cls, 0);
    assert_int_equal(db.cls, 0);
    assert_int_equal(da.sync + db.sync, 0);
    struct rec w2 = {0};
    assert_int_equal(CALL(tlsplug_aio_write(a, "plain", 5, 0, op_cb, &w2)), 0);
    struct reader *rd = reader_new(64, 64);
    rd->rearm = 1;
    assert_int_equal(reader_start(b, rd, 0), 0);
    RUN_UNTIL(f, rd->acc_len >= 15);
    assert_int_equal(rd->acc_len, 15);
    assert_memory_equal(rd->acc, "under-tls|plain", 15);
    close_and_wait(f, b);
    close_and_wait(f, a);
    reader_free(rd);
    finish(f);
}

/* Plain bytes the user read before attaching are not fed to TLS: the
 * handshake that follows succeeds. */
static void test_attach_after_user_read_early_bytes(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    raw_write(peer, "EARLY", 5);
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd, 0), 0);
    RUN_UNTIL(f, rd->r.calls == 1);
    assert_memory_equal(rd->acc, "EARLY", 5);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    expect_client_hello(f, peer);
    raw_write_record(peer, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.cls, 0);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_SECURE);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* tlsplug holds no plain bytes of its own without a pending read: bytes
 * still sitting in the socket when attach starts are the peer's first TLS
 * bytes (here not TLS, so the attach fails with NOT_TLS rather than
 * silently skipping them). */
static void test_unread_socket_bytes_go_to_tls(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    raw_write(peer, "EARLY", 5);
    run_for(f, 20); /* no read pending: nothing consumes them */
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = f->srv};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.cls, TLSPLUG_E_NOT_TLS);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    close_and_wait(f, a);
    close(peer);
    finish(f);
}

/* initial_data is fed to TLS first: a server that already read the whole
 * client HELLO (peeked at it in plain mode) completes the handshake without
 * the peer sending anything more. */
static void test_initial_data_fed_first(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    raw_write_record(peer, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    struct reader *rd = reader_new(MOCK_HELLO_RECORD_LEN, 64);
    assert_int_equal(reader_start(a, rd, 0), 0);
    RUN_UNTIL(f, rd->r.calls == 1);
    assert_int_equal(rd->acc_len, MOCK_HELLO_RECORD_LEN);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = f->srv, .initial_data = rd->acc, .initial_len = rd->acc_len};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    memset(rd->acc, 0, rd->acc_cap); /* copied by attach */
    uint8_t got[MOCK_HELLO_RECORD_LEN], want[MOCK_HELLO_RECORD_LEN];
    mock_record(want, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    assert_int_equal(raw_read_n(f, peer, got, sizeof got), sizeof got);
    assert_memory_equal(got, want, sizeof got);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.cls, 0);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_SECURE);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* initial_data holding only part of the record: the rest is read from the
 * socket after it, in order. */
static void test_initial_data_then_socket(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    uint8_t hello[MOCK_HELLO_RECORD_LEN];
    mock_record(hello, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    raw_write(peer, hello + 3, sizeof hello - 3);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = f->srv, .initial_data = hello, .initial_len = 3};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.cls, 0);
    close_and_wait(f, a);
    close(peer);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* Closing from callbacks                                                     */

/* Close from inside a read callback while a write is stuck: the write ends
 * with CANCELED before the close callback; each fires once. */
struct close_in_read {
    struct reader *rd;
    struct rec close;
};

static void read_then_close_cb(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n,
                               void *arg)
{
    struct close_in_read *c = arg;
    read_cb(aio, err, buf, n, c->rd);
    CALLV(tlsplug_aio_close(aio, op_cb, &c->close));
    assert_int_equal(c->close.calls, 0);
}

static void test_close_from_read_callback(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec w = {0};
    size_t len;
    uint8_t *big = start_stuck_write(a, peer, &w, &len, 0);
    struct close_in_read c = {.rd = reader_new(64, 64)};
    assert_int_equal(CALL(tlsplug_aio_read(a, c.rd->buf, c.rd->cap, 0, read_then_close_cb, &c)),
                     0);
    raw_write(peer, "x", 1);
    RUN_UNTIL(f, c.close.calls == 1);
    run_for(f, 20);
    assert_int_equal(c.rd->r.calls, 1);
    assert_int_equal(c.rd->r.cls, 0);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.cls, TLSPLUG_E_CANCELED);
    assert_int_equal(c.close.calls, 1);
    assert_int_equal(c.close.sync + w.sync + c.rd->r.sync, 0);
    assert_true(w.seq < c.close.seq);
    close(peer);
    free(big);
    reader_free(c.rd);
    finish(f);
}

/* Same in SECURE: close from the read callback with a read re-armed first
 * (that one is canceled), after a real TLS read. */
struct rearm_close {
    struct reader *first, *second;
    struct rec close;
};

static void read_rearm_close_cb(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n,
                                void *arg)
{
    struct rearm_close *c = arg;
    read_cb(aio, err, buf, n, c->first);
    assert_int_equal(reader_start(aio, c->second, 0), 0);
    CALLV(tlsplug_aio_close(aio, op_cb, &c->close));
}

static void test_close_from_secure_read_callback(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    struct rearm_close c = {.first = reader_new(64, 64), .second = reader_new(64, 64)};
    assert_int_equal(CALL(tlsplug_aio_read(a, c.first->buf, c.first->cap, 0, read_rearm_close_cb,
                                           &c)),
                     0);
    raw_write_record(peer, MOCK_REC_APPDATA, "hi", 2);
    RUN_UNTIL(f, c.close.calls == 1);
    run_for(f, 20);
    assert_int_equal(c.first->r.calls, 1);
    assert_memory_equal(c.first->acc, "hi", 2);
    assert_int_equal(c.second->r.calls, 1);
    assert_int_equal(c.second->r.cls, TLSPLUG_E_CANCELED);
    assert_true(c.second->r.seq < c.close.seq);
    assert_int_equal(c.close.calls, 1);
    expect_close_notify(f, peer); /* graceful: SECURE and no error */
    close(peer);
    reader_free(c.first);
    reader_free(c.second);
    finish(f);
}

/* Graceful close with a backlog: a big secure write is stuck (the peer does
 * not read), the aio is closed, then the peer reads everything.  The stream
 * it sees is whole records ending with close_notify, then end of stream. */
static void check_close_with_backlog(struct fx *f, int small)
{
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    if (small) {
        setsockopt(tlsplug_aio_fd(a), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    const size_t len = 4u << 20;
    uint8_t *big = calloc(1, len);
    assert_non_null(big);
    struct rec w = {0}, c = {0};
    assert_int_equal(CALL(tlsplug_aio_write(a, big, len, 0, op_cb, &w)), 0);
    run_for(f, 30);
    assert_int_equal(w.calls, 0);
    CALLV(tlsplug_aio_close(a, op_cb, &c));
    /* the close starts while the socket is still full ... */
    run_for(f, 30);
    assert_int_equal(c.calls, 0);
    /* ... then the peer drains everything, the loop running in between */
    size_t cap = len + 65536, got = 0;
    uint8_t *in = malloc(cap);
    assert_non_null(in);
    uint64_t deadline = now_ms() + BOUND_MS;
    int eof = 0;
    while (!eof && got < cap && now_ms() < deadline) {
        ssize_t k = recv(peer, in + got, cap - got, 0);
        if (k > 0)
            got += (size_t)k;
        else if (k == 0 || errno == ECONNRESET)
            eof = 1;
        else
            tlsplug_loop_run_once(f->loop, 5);
    }
    RUN_UNTIL(f, c.calls == 1);
    assert_true(eof);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.cls, TLSPLUG_E_CANCELED);
    /* A shutdown blocked by a full engine buffer must be retried once the
     * flush made room, so the stream ends with a whole close_notify.  Walk the records: */
    size_t off = 0, last = (size_t)-1;
    while (off + 5 <= got) {
        size_t blen = ((size_t)in[off + 3] << 8) | in[off + 4];
        assert_true(in[off] == MOCK_REC_APPDATA || in[off] == MOCK_REC_ALERT);
        assert_true(off + 5 + blen <= got);
        last = off;
        off += 5 + blen;
    }
    assert_int_equal(off, got);
    assert_true(last != (size_t)-1);
    assert_memory_equal(in + last, close_notify_record, sizeof close_notify_record);
    close(peer);
    free(in);
    free(big);
}

static void test_close_with_backlog_ends_with_close_notify(void **state)
{
    struct fx *f = *state;
    check_close_with_backlog(f, 4096); /* tiny socket buffers */
    check_close_with_backlog(f, 0);    /* the system's default sizes */
    finish(f);
}

/* Read everything the peer gets until *done is set and the socket is empty
 * (or end of stream).  Returns the byte count; *eof tells which. */
static size_t drain_peer(struct fx *f, int fd, uint8_t *in, size_t cap, const int *done, int *eof)
{
    size_t got = 0;
    uint64_t deadline = now_ms() + BOUND_MS;
    *eof = 0;
    while (got < cap && now_ms() < deadline) {
        ssize_t k = recv(fd, in + got, cap - got, 0);
        if (k > 0) {
            got += (size_t)k;
            continue;
        }
        if (k == 0 || errno == ECONNRESET) {
            *eof = 1;
            break;
        }
        if (*done)
            break;
        tlsplug_loop_run_once(f->loop, 5);
    }
    return got;
}

/* 1 if in[0..got) is whole mock records and the last is close_notify. */
static int records_end_with_close_notify(const uint8_t *in, size_t got)
{
    size_t off = 0, last = (size_t)-1;
    while (off + 5 <= got) {
        size_t blen = ((size_t)in[off + 3] << 8) | in[off + 4];
        if (off + 5 + blen > got)
            return 0;
        last = off;
        off += 5 + blen;
    }
    return off == got && last != (size_t)-1 &&
           memcmp(in + last, close_notify_record, sizeof close_notify_record) == 0;
}

/* Half-close with a backlog: a secure write timed out with the socket full
 * (its bytes still queued in tlsplug), then tlsplug_aio_shutdown; once the
 * peer reads, the shutdown completes and the stream ends with close_notify. */
static void test_shutdown_after_write_timeout_completes(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    const size_t len = 4u << 20;
    uint8_t *big = calloc(1, len);
    assert_non_null(big);
    struct rec w = {0}, s = {0};
    assert_int_equal(CALL(tlsplug_aio_write(a, big, len, 100, op_cb, &w)), 0);
    RUN_UNTIL(f, w.calls == 1);
    assert_int_equal(w.cls, TLSPLUG_E_TIMEOUT);
    assert_int_equal(CALL(tlsplug_aio_shutdown(a, 0, op_cb, &s)), 0);
    run_for(f, 30); /* the peer has not read yet */
    size_t cap = len + 65536;
    uint8_t *in = malloc(cap);
    assert_non_null(in);
    int eof;
    size_t got = drain_peer(f, peer, in, cap, &s.calls, &eof);
    RUN_UNTIL(f, s.calls == 1);
    assert_int_equal(s.cls, 0);
    assert_int_equal(s.sync, 0);
    assert_false(eof); /* half-close: TCP stays open */
    assert_true(records_end_with_close_notify(in, got));
    close_and_wait(f, a);
    close(peer);
    free(in);
    free(big);
    finish(f);
}

/* The read, write and operation deadlines share one timer: a deadline that
 * ends early (the read gets data) neither fires nor takes the others along,
 * and each of the rest fires in its own order, never before it is due. */
static void test_timeouts_share_one_timer(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    const size_t len = 4u << 20;
    uint8_t *big = calloc(1, len);
    assert_non_null(big);
    uint64_t t0 = now_ms();
    struct rec w = {0};
    /* the peer never reads: the write can only end by its timeout */
    assert_int_equal(CALL(tlsplug_aio_write(a, big, len, 600, op_cb, &w)), 0);
    struct reader *r1 = reader_new(64, 64);
    assert_int_equal(reader_start(a, r1, 150), 0);
    raw_write_record(peer, MOCK_REC_APPDATA, "ok", 2);
    RUN_UNTIL(f, r1->r.calls == 1);
    assert_int_equal(r1->r.cls, 0);
    assert_int_equal(r1->last_n, 2);
    struct reader *r2 = reader_new(64, 64);
    assert_int_equal(reader_start(a, r2, 300), 0);
    /* past r1's cleared deadline (t0 + 150), before r2's (>= t0 + 300) and
     * the write's (t0 + 600): a stale deadline would end r2 here */
    while (now_ms() < t0 + 250)
        tlsplug_loop_run_once(f->loop, 5);
    assert_int_equal(r2->r.calls, 0);
    assert_int_equal(w.calls, 0);
    RUN_UNTIL(f, r2->r.calls == 1 && w.calls == 1);
    assert_int_equal(r2->r.cls, TLSPLUG_E_TIMEOUT);
    assert_int_equal(w.cls, TLSPLUG_E_TIMEOUT);
    assert_true(r2->r.seq < w.seq);
    assert_true(now_ms() - t0 >= 600); /* not before its deadline */
    assert_int_equal(r1->r.calls, 1);
    struct rec c = {0};
    CALLV(tlsplug_aio_abort(a, op_cb, &c));
    RUN_UNTIL(f, c.calls == 1);
    close(peer);
    reader_free(r1);
    reader_free(r2);
    free(big);
    finish(f);
}

/* A secure connection that stays quiet gives its library's buffers back
 * once (tlsplug_aio's idle release, aio.h), not before a whole
 * TLSPLUG_AIO_IDLE_RELEASE_MS; traffic makes it wait a new period. */
static void test_idle_release_after_quiet_period(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    int base = mock_calls.idle;
    uint64_t t0 = now_ms();
    struct reader *r1 = reader_new(64, 64);
    assert_int_equal(reader_start(a, r1, 0), 0); /* waits for the peer: quiet */
    RUN_UNTIL(f, mock_calls.idle == base + 1);
    assert_true(now_ms() - t0 >= 1000);
    run_for(f, 100);
    assert_int_equal(mock_calls.idle, base + 1); /* once per quiet spell */
    raw_write_record(peer, MOCK_REC_APPDATA, "hi", 2);
    RUN_UNTIL(f, r1->r.calls == 1);
    assert_int_equal(r1->r.cls, 0);
    uint64_t t1 = now_ms();
    struct reader *r2 = reader_new(64, 64);
    assert_int_equal(reader_start(a, r2, 0), 0);
    RUN_UNTIL(f, mock_calls.idle == base + 2);
    assert_true(now_ms() - t1 >= 1000);
    struct rec c = {0};
    CALLV(tlsplug_aio_abort(a, op_cb, &c));
    RUN_UNTIL(f, c.calls == 1 && r2->r.calls == 1);
    assert_int_equal(r2->r.cls, TLSPLUG_E_CANCELED);
    close(peer);
    reader_free(r1);
    reader_free(r2);
    finish(f);
}

/* Close from inside the attach callback (success, then failure). */
static void attach_then_close_cb(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct rec *r = arg; /* r[0]: attach, r[1]: close */
    rec_note(&r[0], aio, err);
    CALLV(tlsplug_aio_close(aio, op_cb, &r[1]));
}

static void test_close_from_attach_callback(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec r[2] = {{0}};
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, attach_then_close_cb, r)), 0);
    expect_client_hello(f, peer);
    raw_write_record(peer, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    RUN_UNTIL(f, r[1].calls == 1);
    run_for(f, 20);
    assert_int_equal(r[0].calls, 1);
    assert_int_equal(r[0].cls, 0);
    assert_int_equal(r[1].calls, 1);
    assert_int_equal(r[0].sync + r[1].sync, 0);
    assert_true(r[0].seq < r[1].seq);
    expect_close_notify(f, peer);
    assert_true(raw_expect_eof(f, peer));
    close(peer);
    finish(f);
}

static void test_close_from_failed_attach_callback(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec r[2] = {{0}};
    tlsplug_attach_options o = {.ctx = f->cli, .handshake_timeout_ms = 100};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, attach_then_close_cb, r)), 0);
    RUN_UNTIL(f, r[1].calls == 1);
    run_for(f, 20);
    assert_int_equal(r[0].calls, 1);
    assert_int_equal(r[0].cls, TLSPLUG_E_TIMEOUT);
    assert_int_equal(r[1].calls, 1);
    assert_true(r[0].seq < r[1].seq);
    close(peer);
    finish(f);
}

/* Close during ATTACHING: the attach completes with CANCELED before the
 * close callback. */
static void test_close_during_attaching_cancels(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec at = {0}, c = {0};
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    CALLV(tlsplug_aio_close(a, op_cb, &c));
    assert_int_equal(at.calls + c.calls, 0);
    RUN_UNTIL(f, c.calls == 1);
    run_for(f, 20);
    assert_int_equal(at.calls, 1);
    assert_int_equal(at.cls, TLSPLUG_E_CANCELED);
    assert_int_equal(at.sync + c.sync, 0);
    assert_true(at.seq < c.seq);
    close(peer);
    finish(f);
}

/* Close B from inside A's close callback: B's pending read is canceled
 * before B's close callback; every callback once. */
struct chain {
    tlsplug_aio *other;
    struct rec a_close, b_close;
};

static void close_other_cb(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct chain *c = arg;
    rec_note(&c->a_close, aio, err);
    CALLV(tlsplug_aio_close(c->other, op_cb, &c->b_close));
    assert_int_equal(c->b_close.calls, 0);
}

static void test_close_from_close_of_other(void **state)
{
    struct fx *f = *state;
    int sv[2];
    make_pair(sv);
    tlsplug_aio *a = new_aio(f, sv[0]), *b = new_aio(f, sv[1]);
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(b, rd, 0), 0);
    struct chain c = {.other = b};
    CALLV(tlsplug_aio_close(a, close_other_cb, &c));
    RUN_UNTIL(f, c.b_close.calls == 1);
    run_for(f, 20);
    assert_int_equal(c.a_close.calls, 1);
    assert_int_equal(c.b_close.calls, 1);
    /* B's read ends once: canceled, or end of stream if A's FIN won the
     * race; either way before B's close callback */
    assert_int_equal(rd->r.calls, 1);
    assert_true(rd->r.cls == TLSPLUG_E_CANCELED || rd->r.cls == TLSPLUG_E_CLOSED);
    assert_true(rd->r.seq < c.b_close.seq);
    assert_int_equal(c.a_close.sync + c.b_close.sync + rd->r.sync, 0);
    reader_free(rd);
    finish(f);
}

/* Same with both SECURE (graceful closes with close_notify). */
static void test_close_from_close_of_other_secure(void **state)
{
    struct fx *f = *state;
    tlsplug_aio *a, *b;
    secure_pair(f, &a, &b);
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(b, rd, 0), 0);
    struct chain c = {.other = b};
    CALLV(tlsplug_aio_close(a, close_other_cb, &c));
    RUN_UNTIL(f, c.b_close.calls == 1);
    run_for(f, 20);
    assert_int_equal(c.a_close.calls, 1);
    assert_int_equal(rd->r.calls, 1);
    assert_true(rd->r.cls == TLSPLUG_E_CANCELED || rd->r.cls == TLSPLUG_E_CLOSED);
    assert_true(rd->r.seq < c.b_close.seq);
    reader_free(rd);
    finish(f);
}

/* Abort: pending read canceled before the close callback; no close_notify
 * reaches the peer, only the end of the connection. */
static void test_abort_cancels_without_close_notify(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd, 0), 0);
    struct rec c = {0};
    CALLV(tlsplug_aio_abort(a, op_cb, &c));
    assert_int_equal(rd->r.calls + c.calls, 0);
    RUN_UNTIL(f, c.calls == 1);
    assert_int_equal(rd->r.calls, 1);
    assert_int_equal(rd->r.cls, TLSPLUG_E_CANCELED);
    assert_true(rd->r.seq < c.seq);
    assert_true(raw_expect_eof(f, peer));
    close(peer);
    reader_free(rd);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* Failures and their classes                                                 */

/* The handshake fails (script: certificate expired on the client): that
 * class and message reach the attach callback; the aio is PLAIN; the alert
 * the client sent reaches the server as PEER_ALERT. */
static void test_attach_fails_cert_expired(void **state)
{
    struct fx *f = *state;
    mock_script.hs_fail_side = TLSPLUG_SIDE_CLIENT;
    mock_script.hs_fail_class = TLSPLUG_E_CERT_EXPIRED;
    mock_script.hs_fail_msg = "mock: the certificate expired";
    mock_script.hs_fail_alert = 45; /* certificate_expired */
    int sv[2];
    make_pair(sv);
    tlsplug_aio *a = new_aio(f, sv[0]), *b = new_aio(f, sv[1]);
    struct rec ra = {0}, rb = {0};
    tlsplug_attach_options oc = {.ctx = f->cli}, os = {.ctx = f->srv};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &oc, op_cb, &ra)), 0);
    assert_int_equal(CALL(tlsplug_aio_attach(b, &os, op_cb, &rb)), 0);
    RUN_UNTIL(f, ra.calls == 1 && rb.calls == 1);
    assert_int_equal(ra.cls, TLSPLUG_E_CERT_EXPIRED);
    assert_string_equal(ra.msg, "mock: the certificate expired");
    assert_int_equal(ra.state, TLSPLUG_AIO_PLAIN);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    assert_null(tlsplug_aio_conn(a));
    /* the server finished its side before the client judged it */
    assert_int_equal(rb.cls, 0);
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(b, rd, 0), 0);
    RUN_UNTIL(f, rd->r.calls == 1);
    assert_int_equal(rd->r.cls, TLSPLUG_E_PEER_ALERT);
    assert_int_equal(rd->r.alert, 45);
    close_and_wait(f, a);
    close_and_wait(f, b);
    reader_free(rd);
    finish(f);
}

/* A fatal alert from the peer: PEER_ALERT with the alert number. */
static void test_peer_alert_during_attach(void **state)
{
    struct fx *f = *state;
    mock_script.server_alert = 40; /* handshake_failure */
    int sv[2];
    make_pair(sv);
    tlsplug_aio *a = new_aio(f, sv[0]), *b = new_aio(f, sv[1]);
    struct rec ra = {0}, rb = {0};
    tlsplug_attach_options oc = {.ctx = f->cli}, os = {.ctx = f->srv};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &oc, op_cb, &ra)), 0);
    assert_int_equal(CALL(tlsplug_aio_attach(b, &os, op_cb, &rb)), 0);
    RUN_UNTIL(f, ra.calls == 1 && rb.calls == 1);
    assert_int_equal(ra.cls, TLSPLUG_E_PEER_ALERT);
    assert_int_equal(ra.alert, 40);
    assert_int_equal(rb.cls, TLSPLUG_E_HANDSHAKE);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    assert_int_equal(tlsplug_aio_state_of(b), TLSPLUG_AIO_PLAIN);
    close_and_wait(f, a);
    close_and_wait(f, b);
    finish(f);
}

/* The same alert written as raw bytes by the peer, and one arriving after
 * the handshake on a read. */
static void test_peer_alert_raw_and_after_handshake(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    expect_client_hello(f, peer);
    raw_write_record(peer, MOCK_REC_ALERT, "\x02\x28", 2);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.cls, TLSPLUG_E_PEER_ALERT);
    assert_int_equal(at.alert, 40);
    close_and_wait(f, a);
    close(peer);

    a = secure_client_raw_peer(f, &peer);
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd, 0), 0);
    raw_write_record(peer, MOCK_REC_ALERT, "\x02\x50", 2); /* internal_error */
    RUN_UNTIL(f, rd->r.calls == 1);
    assert_int_equal(rd->r.cls, TLSPLUG_E_PEER_ALERT);
    assert_int_equal(rd->r.alert, 80);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* A plain peer during attach: core's record check says NOT_TLS, at once,
 * for the client side (answer is an HTTP request / garbage) and the server
 * side (the client speaks HTTP). */
static void check_not_tls(struct fx *f, tlsplug_side side, const void *bytes, size_t len)
{
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = side == TLSPLUG_SIDE_CLIENT ? f->cli : f->srv};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    raw_write(peer, bytes, len);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.sync, 0);
    assert_int_equal(at.cls, TLSPLUG_E_NOT_TLS);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    close_and_wait(f, a);
    close(peer);
}

static const char http_get[] = "GET / HTTP/1.1\r\n\r\n";
static const uint8_t garbage[] = {0x00, 0xff, 0x13, 0x37, 0x42, 0x99, 0x01, 0x02};
static const uint8_t bad_version[] = {0x16, 0x03, 0x09, 0x00, 0x05, 'H', 'E', 'L', 'L', 'O'};

static void test_not_tls_http_request(void **state)
{
    struct fx *f = *state;
    check_not_tls(f, TLSPLUG_SIDE_CLIENT, http_get, sizeof http_get - 1);
    check_not_tls(f, TLSPLUG_SIDE_SERVER, http_get, sizeof http_get - 1);
    finish(f);
}

static void test_not_tls_garbage(void **state)
{
    struct fx *f = *state;
    check_not_tls(f, TLSPLUG_SIDE_CLIENT, garbage, sizeof garbage);
    check_not_tls(f, TLSPLUG_SIDE_SERVER, garbage, sizeof garbage);
    check_not_tls(f, TLSPLUG_SIDE_SERVER, bad_version, sizeof bad_version);
    finish(f);
}

/* Once TLS records were seen, junk is a broken TLS stream: PROTOCOL. */
static void test_junk_after_handshake_is_protocol_error(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd, 0), 0);
    raw_write(peer, http_get, sizeof http_get - 1);
    RUN_UNTIL(f, rd->r.calls == 1);
    assert_int_equal(rd->r.cls, TLSPLUG_E_PROTOCOL);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* The peer closes TCP during the handshake: TRUNCATED, no hang. */
static void test_eof_during_handshake_truncated(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    expect_client_hello(f, peer);
    shutdown(peer, SHUT_WR);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.cls, TLSPLUG_E_TRUNCATED);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    close_and_wait(f, a);
    close(peer);
    finish(f);
}

/* TCP FIN without close_notify after SECURE: data first, then TRUNCATED
 * (n == 0); the error stays for later reads. */
static void test_fin_without_close_notify_truncated(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    raw_write_record(peer, MOCK_REC_APPDATA, "last", 4);
    shutdown(peer, SHUT_WR);
    struct reader *rd = reader_new(64, 64);
    rd->rearm = 1;
    assert_int_equal(reader_start(a, rd, 0), 0);
    RUN_UNTIL(f, rd->r.cls != 0);
    assert_int_equal(rd->acc_len, 4);
    assert_memory_equal(rd->acc, "last", 4);
    assert_int_equal(rd->r.cls, TLSPLUG_E_TRUNCATED);
    assert_int_equal(rd->last_n, 0);
    assert_int_equal(rd->r.calls, 2);
    struct reader *rd2 = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd2, 0), 0);
    RUN_UNTIL(f, rd2->r.calls == 1);
    assert_int_equal(rd2->r.cls, TLSPLUG_E_TRUNCATED);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    reader_free(rd2);
    finish(f);
}

/* close_notify: the read ends with CLOSED (n == 0), and again later. */
static void test_close_notify_closed(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    raw_write(peer, close_notify_record, sizeof close_notify_record);
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd, 0), 0);
    RUN_UNTIL(f, rd->r.calls == 1);
    assert_int_equal(rd->r.cls, TLSPLUG_E_CLOSED);
    assert_int_equal(rd->last_n, 0);
    struct reader *rd2 = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd2, 0), 0);
    RUN_UNTIL(f, rd2->r.calls == 1);
    assert_int_equal(rd2->r.cls, TLSPLUG_E_CLOSED);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    reader_free(rd2);
    finish(f);
}

/* Plain end of stream reads as CLOSED. */
static void test_plain_eof_closed(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd, 0), 0);
    shutdown(peer, SHUT_WR);
    RUN_UNTIL(f, rd->r.calls == 1);
    assert_int_equal(rd->r.cls, TLSPLUG_E_CLOSED);
    assert_int_equal(rd->last_n, 0);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* Half-close                                                                 */

/* SECURE: shutdown sends close_notify and completes once; later writes fail
 * with INVALID_ARGUMENT at once; reads go on until the peer closes. */
static void test_shutdown_half_close_secure(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    struct rec s = {0}, w = {0};
    assert_int_equal(CALL(tlsplug_aio_shutdown(a, 0, op_cb, &s)), 0);
    assert_int_equal(s.calls, 0);
    RUN_UNTIL(f, s.calls == 1);
    assert_int_equal(s.sync, 0);
    assert_int_equal(s.cls, 0);
    expect_close_notify(f, peer);
    assert_int_equal(CALL(tlsplug_aio_write(a, "x", 1, 0, op_cb, &w)),
                     TLSPLUG_E_INVALID_ARGUMENT);
    assert_int_equal(CALL(tlsplug_aio_shutdown(a, 0, op_cb, &w)), TLSPLUG_E_INVALID_ARGUMENT);
    struct reader *rd = reader_new(64, 64);
    rd->rearm = 1;
    assert_int_equal(reader_start(a, rd, 0), 0);
    raw_write_record(peer, MOCK_REC_APPDATA, "still-open", 10);
    RUN_UNTIL(f, rd->acc_len == 10);
    assert_memory_equal(rd->acc, "still-open", 10);
    /* the re-armed read is pending; stop re-arming and let the peer close */
    rd->rearm = 0;
    int before = rd->r.calls;
    raw_write(peer, close_notify_record, sizeof close_notify_record);
    RUN_UNTIL(f, rd->r.calls == before + 1);
    assert_int_equal(rd->r.cls, TLSPLUG_E_CLOSED);
    run_for(f, 20);
    assert_int_equal(w.calls, 0);
    assert_int_equal(s.calls, 1);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* PLAIN: shutdown sends FIN; reads go on. */
static void test_shutdown_half_close_plain(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec s = {0}, w = {0};
    assert_int_equal(CALL(tlsplug_aio_shutdown(a, 0, op_cb, &s)), 0);
    RUN_UNTIL(f, s.calls == 1);
    assert_int_equal(s.sync, 0);
    assert_int_equal(s.cls, 0);
    assert_true(raw_expect_eof(f, peer));
    assert_int_equal(CALL(tlsplug_aio_write(a, "x", 1, 0, op_cb, &w)),
                     TLSPLUG_E_INVALID_ARGUMENT);
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd, 0), 0);
    raw_write(peer, "reply", 5);
    RUN_UNTIL(f, rd->r.calls == 1);
    assert_int_equal(rd->r.cls, 0);
    assert_memory_equal(rd->acc, "reply", 5);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* Native objects and hooks                                                   */

struct hook_log {
    int calls;
    tlsplug_impl impl;
    void *native;
    int seq;
    int ret;
};

static void hook_note(struct hook_log *h, tlsplug_impl impl, void *native)
{
    h->calls++;
    h->impl = impl;
    h->native = native;
    h->seq = ++g_seq;
}

static int hook_cb(tlsplug_impl impl, void *native, void *arg)
{
    struct hook_log *h = arg;
    hook_note(h, impl, native);
    return h->ret;
}

/* ctx-configure sees the mock context, ssl-configure (context's, then the
 * attach's) the mock session; the native queries return the same objects
 * for the mock's impl and NULL for another. */
static void test_native_objects_and_hooks(void **state)
{
    struct fx *f = *state;
    struct hook_log hctx = {0}, hssl_cfg = {0}, hssl_att = {0};
    tlsplug_config *cfg = mock_cfg(TLSPLUG_SIDE_CLIENT);
    assert_int_equal(tlsplug_config_set_ctx_configure(cfg, hook_cb, &hctx), 0);
    assert_int_equal(tlsplug_config_set_ssl_configure(cfg, hook_cb, &hssl_cfg), 0);
    tlsplug_ctx *ctx = mock_ctx_from(cfg);
    tlsplug_config_free(cfg);
    assert_int_equal(hctx.calls, 1);
    assert_int_equal(hctx.impl, MOCK_IMPL);
    assert_non_null(hctx.native);
    assert_int_equal(((struct mock_ctx *)hctx.native)->magic, MOCK_CTX_MAGIC);
    assert_ptr_equal(tlsplug_ctx_native(ctx, MOCK_IMPL), hctx.native);
    assert_null(tlsplug_ctx_native(ctx, TLSPLUG_IMPL_OPENSSL));
    assert_int_equal(tlsplug_ctx_impl(ctx), MOCK_IMPL);

    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = ctx, .ssl_configure = hook_cb,
                                .ssl_configure_arg = &hssl_att};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    assert_int_equal(hssl_cfg.calls, 1);
    assert_int_equal(hssl_att.calls, 1);
    assert_true(hssl_cfg.seq < hssl_att.seq);
    assert_int_equal(hssl_att.impl, MOCK_IMPL);
    assert_ptr_equal(hssl_cfg.native, hssl_att.native);
    assert_int_equal(mock_sess_magic(hssl_att.native), MOCK_SESS_MAGIC);
    expect_client_hello(f, peer);
    raw_write_record(peer, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.cls, 0);
    tlsplug_conn *conn = tlsplug_aio_conn(a);
    assert_non_null(conn);
    assert_int_equal(tlsplug_conn_impl(conn), MOCK_IMPL);
    assert_ptr_equal(tlsplug_conn_native(conn, MOCK_IMPL), hssl_att.native);
    assert_null(tlsplug_conn_native(conn, TLSPLUG_IMPL_OPENSSL));
    assert_ptr_equal(tlsplug_conn_ctx(conn), ctx);
    assert_int_equal(hctx.calls, 1); /* once per context, not per session */
    close_and_wait(f, a);
    close(peer);
    tlsplug_ctx_free(ctx);
    finish(f);
}

/* A failing ssl-configure hook fails the attach at once (BAD_CONFIG, no
 * callback, still PLAIN, no session left); a failing ctx-configure hook
 * fails tlsplug_ctx_new (no context left). */
static void test_failing_hooks(void **state)
{
    struct fx *f = *state;
    struct hook_log h = {.ret = 7};
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = f->cli, .ssl_configure = hook_cb, .ssl_configure_arg = &h};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), TLSPLUG_E_BAD_CONFIG);
    assert_int_equal(h.calls, 1);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    assert_int_equal(mock_live_sess(), 0);
    run_for(f, 20);
    assert_int_equal(at.calls, 0);
    assert_true(raw_silent_for(f, peer, 10));

    struct hook_log hc = {.ret = 1};
    tlsplug_config *cfg = mock_cfg(TLSPLUG_SIDE_CLIENT);
    assert_int_equal(tlsplug_config_set_ctx_configure(cfg, hook_cb, &hc), 0);
    int live = mock_live_ctx();
    tlsplug_ctx *ctx = NULL;
    tlsplug_error *err = NULL;
    assert_int_equal(tlsplug_ctx_new(&ctx, cfg, MOCK_IMPL, &err), TLSPLUG_E_BAD_CONFIG);
    assert_null(ctx);
    assert_non_null(err);
    assert_int_equal(tlsplug_error_class(err), TLSPLUG_E_BAD_CONFIG);
    tlsplug_error_free(err);
    assert_int_equal(hc.calls, 1);
    assert_int_equal(mock_live_ctx(), live);
    tlsplug_config_free(cfg);
    close_and_wait(f, a);
    close(peer);
    finish(f);
}

/* Attach with no context: a default context of the default impl (the mock
 * here) is made for this attach, its ctx-configure hook sees it, and it is
 * released when TLS is detached. */
static void test_attach_default_ctx_released_at_detach(void **state)
{
    struct fx *f = *state;
    tlsplug_impl saved = tlsplug_default_impl();
    assert_int_equal(tlsplug_set_default_impl(MOCK_IMPL), 0);
    tlsplug_config *probe = tlsplug_config_new(TLSPLUG_SIDE_CLIENT);
    int have_system_trust = tlsplug_config_add_trust_system(probe) == 0;
    tlsplug_config_free(probe);
    if (!have_system_trust) {
        tlsplug_set_default_impl(saved);
        finish(f);
        skip(); /* the default client context needs the system trust store */
    }
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct hook_log h = {0};
    struct rec at = {0}, d = {0};
    int live = mock_live_ctx();
    tlsplug_attach_options o = {.side = TLSPLUG_SIDE_CLIENT, .ctx_configure = hook_cb,
                                .ctx_configure_arg = &h, .server_name = "mock.test"};
    int rc = CALL(tlsplug_aio_attach(a, &o, op_cb, &at));
    tlsplug_set_default_impl(saved);
    assert_int_equal(rc, 0);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.impl, MOCK_IMPL);
    assert_int_equal(((struct mock_ctx *)h.native)->magic, MOCK_CTX_MAGIC);
    assert_int_equal(mock_live_ctx(), live + 1);
    expect_client_hello(f, peer);
    raw_write_record(peer, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.cls, 0);
    raw_write(peer, close_notify_record, sizeof close_notify_record);
    assert_int_equal(CALL(tlsplug_aio_detach(a, 2000, op_cb, &d)), 0);
    RUN_UNTIL(f, d.calls == 1);
    assert_int_equal(d.cls, 0);
    assert_int_equal(mock_live_ctx(), live);
    /* with a context given, ctx_configure is refused */
    tlsplug_attach_options bad = {.ctx = f->cli, .ctx_configure = hook_cb, .ctx_configure_arg = &h};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &bad, op_cb, &at)), TLSPLUG_E_INVALID_ARGUMENT);
    close_and_wait(f, a);
    close(peer);
    finish(f);
}

/* The mock's bookkeeping itself: a ctx_new failure by script is reported
 * with the backend's class and leaves nothing alive. */
static void test_ctx_new_failure_reported(void **state)
{
    struct fx *f = *state;
    mock_script.ctx_new_fail_class = TLSPLUG_E_BAD_CONFIG;
    tlsplug_config *cfg = mock_cfg(TLSPLUG_SIDE_CLIENT);
    tlsplug_ctx *ctx = NULL;
    tlsplug_error *err = NULL;
    int live = mock_live_ctx();
    assert_int_equal(tlsplug_ctx_new(&ctx, cfg, MOCK_IMPL, &err), TLSPLUG_E_BAD_CONFIG);
    assert_null(ctx);
    assert_non_null(err);
    assert_string_equal(tlsplug_error_message(err), "mock: ctx_new fails by script");
    tlsplug_error_free(err);
    tlsplug_config_free(cfg);
    assert_int_equal(mock_live_ctx(), live);
    finish(f);
}


/* ------------------------------------------------------------------------ */
/* More edges                                                                 */

/* Reads smaller than a record: the record comes out over several reads, in
 * order, each re-armed from the callback with plaintext already decrypted,
 * none of them completing inside the call. */
static void test_secure_small_reads(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    struct reader *rd = reader_new(3, 64);
    rd->rearm = 1;
    assert_int_equal(reader_start(a, rd, 0), 0);
    raw_write_record(peer, MOCK_REC_APPDATA, "0123456789", 10);
    RUN_UNTIL(f, rd->acc_len == 10);
    assert_memory_equal(rd->acc, "0123456789", 10);
    assert_int_equal(rd->r.calls, 4);
    assert_int_equal(rd->r.sync, 0);
    close_and_wait(f, a);
    assert_int_equal(rd->r.cls, TLSPLUG_E_CANCELED);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* App data arriving in the same segment as the server's HELLO is kept for
 * the first secure read. */
static void test_data_coalesced_with_handshake(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec at = {0};
    tlsplug_attach_options o = {.ctx = f->cli};
    assert_int_equal(CALL(tlsplug_aio_attach(a, &o, op_cb, &at)), 0);
    expect_client_hello(f, peer);
    uint8_t wire[64];
    size_t n = mock_record(wire, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
    n += mock_record(wire + n, MOCK_REC_APPDATA, "early-tls", 9);
    raw_write(peer, wire, n);
    RUN_UNTIL(f, at.calls == 1);
    assert_int_equal(at.cls, 0);
    run_for(f, 20); /* no read pending: the data waits inside tlsplug */
    struct reader *rd = reader_new(64, 64);
    assert_int_equal(reader_start(a, rd, 0), 0);
    RUN_UNTIL(f, rd->r.calls == 1);
    assert_int_equal(rd->r.cls, 0);
    assert_int_equal(rd->acc_len, 9);
    assert_memory_equal(rd->acc, "early-tls", 9);
    close_and_wait(f, a);
    close(peer);
    reader_free(rd);
    finish(f);
}

/* A write timeout ends the write with TIMEOUT, once. */
static void test_write_timeout(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = plain_aio(f, &peer);
    struct rec w = {0};
    size_t len;
    uint8_t *big = start_stuck_write(a, peer, &w, &len, 100);
    RUN_UNTIL(f, w.calls == 1);
    run_for(f, 150);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.sync, 0);
    assert_int_equal(w.cls, TLSPLUG_E_TIMEOUT);
    close_and_wait(f, a);
    close(peer);
    free(big);
    finish(f);
}

/* Close during DETACHING: the detach completes with CANCELED before the
 * close callback. */
static void test_close_during_detaching_cancels(void **state)
{
    struct fx *f = *state;
    int peer;
    tlsplug_aio *a = secure_client_raw_peer(f, &peer);
    struct rec d = {0}, c = {0};
    assert_int_equal(CALL(tlsplug_aio_detach(a, 5000, op_cb, &d)), 0);
    CALLV(tlsplug_aio_close(a, op_cb, &c));
    RUN_UNTIL(f, c.calls == 1);
    run_for(f, 20);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.cls, TLSPLUG_E_CANCELED);
    assert_true(d.seq < c.seq);
    assert_int_equal(d.sync + c.sync, 0);
    close(peer);
    finish(f);
}

/* Closing a listener aborts the attaches it has running: their aios and
 * sessions go away without reaching on_conn or on_error. */
static void test_listener_close_aborts_pending_attach(void **state)
{
    struct fx *f = *state;
    struct acceptor ac = {0};
    tlsplug_listener *l = NULL;
    tlsplug_attach_options so = {.ctx = f->srv};
    tlsplug_listen_options lo = {.attach = &so};
    assert_int_equal(tlsplug_listen(&l, f->r, "127.0.0.1", 0, &lo, on_accept, on_accept_error,
                                    &ac),
                     0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)tlsplug_listener_port(l))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    RUN_UNTIL(f, mock_calls.sess_new == 1); /* accepted, attach running */
    tlsplug_listener_close(l);
    run_for(f, 50);
    assert_int_equal(ac.conns + ac.errors, 0);
    assert_int_equal(mock_live_sess(), 0);
    assert_true(raw_expect_eof(f, fd));
    close(fd);
    finish(f);
}

/* ------------------------------------------------------------------------ */

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* Optional argument: a cmocka test name filter ('*' and '?' globs), e.g.
 *   test_aio_mock 'test_close_*'    or    valgrind ... test_aio_mock test_x */
int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        T(test_error_names_kebab_case),
        T(test_attach_completes_once_async),
        T(test_read_write_once_async_plain),
        T(test_read_write_once_async_secure),
        T(test_large_secure_write_once),
        T(test_detach_on_plain_succeeds_async),
        T(test_close_once_async_second_close_harmless),
        T(test_close_null_callback),
        T(test_close_secure_sends_close_notify),
        T(test_connect_once_async),
        T(test_connect_refused_once),
        T(test_close_during_connect_cancels),
        T(test_connect_with_attach),
        T(test_connect_with_failing_attach),
        T(test_attach_busy_while_read_pending),
        T(test_attach_busy_while_write_pending),
        T(test_busy_during_attaching),
        T(test_busy_during_detaching_then_timeout),
        T(test_handshake_timeout_silent_peer),
        T(test_handshake_timeout_server_silent_script),
        T(test_read_timeout_plain_then_usable),
        T(test_read_timeout_secure_then_usable),
        T(test_detach_keeps_trailing_plain_bytes),
        T(test_attach_refused_while_detach_bytes_unread),
        T(test_detach_both_sides_keeps_order),
        T(test_attach_after_user_read_early_bytes),
        T(test_unread_socket_bytes_go_to_tls),
        T(test_initial_data_fed_first),
        T(test_initial_data_then_socket),
        T(test_close_from_read_callback),
        T(test_close_from_secure_read_callback),
        T(test_close_with_backlog_ends_with_close_notify),
        T(test_shutdown_after_write_timeout_completes),
        T(test_timeouts_share_one_timer),
        T(test_idle_release_after_quiet_period),
        T(test_close_from_attach_callback),
        T(test_close_from_failed_attach_callback),
        T(test_close_during_attaching_cancels),
        T(test_close_from_close_of_other),
        T(test_close_from_close_of_other_secure),
        T(test_abort_cancels_without_close_notify),
        T(test_attach_fails_cert_expired),
        T(test_peer_alert_during_attach),
        T(test_peer_alert_raw_and_after_handshake),
        T(test_not_tls_http_request),
        T(test_not_tls_garbage),
        T(test_junk_after_handshake_is_protocol_error),
        T(test_eof_during_handshake_truncated),
        T(test_fin_without_close_notify_truncated),
        T(test_close_notify_closed),
        T(test_plain_eof_closed),
        T(test_shutdown_half_close_secure),
        T(test_shutdown_half_close_plain),
        T(test_native_objects_and_hooks),
        T(test_failing_hooks),
        T(test_attach_default_ctx_released_at_detach),
        T(test_ctx_new_failure_reported),
        T(test_secure_small_reads),
        T(test_data_coalesced_with_handshake),
        T(test_write_timeout),
        T(test_close_during_detaching_cancels),
        T(test_listener_close_aborts_pending_attach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
