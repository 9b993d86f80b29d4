/* Fault injection at the transport, run once per backend (`test_faults
 * <backend>`), over real sockets and the built-in loop:
 *  - a relay in the test forwards one byte per loop turn between two
 *    socketpairs, so every read of the aio gets one byte and would-blocks
 *    after it, and its writes fill a small socket buffer and go out in parts;
 *  - a peer driven by hand (a tlsplug engine over a raw TCP socket) resets
 *    the connection (SO_LINGER 0 + close) or ends it without close_notify
 *    (FIN) before, during and after the handshake and during detach;
 *  - the same peer stalls: handshake, read (also mid-record), write (socket
 *    buffers full) and detach timeouts.
 * Each outcome must be the class documented in docs/reliability.md, every
 * callback fires exactly once, and every block tlsplug allocated is freed
 * (counted through tlsplug_set_allocator). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "count_alloc.h"
#include "pair.h"

static tlsplug_impl impl;
static tlsplug_loop *loop;
static tlsplug_reactor *R;
static tlsplug_ctx *sctx, *cctx;
static size_t live_at_setup;
static unsigned long faults_injected, bytes_relayed, scenarios;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the relay: one byte per turn each way ------------------------------ */

struct relay {
    int a, b; /* the far ends of the two socketpairs */
    unsigned char ab, ba;
    int ab_pending, ba_pending, a_eof, b_eof;
};

static int relay_one(int from, int to, unsigned char *c, int *pending, int *eof)
{
    if (!*pending && !*eof) {
        ssize_t n = recv(from, c, 1, 0);
        if (n == 1) {
            *pending = 1;
        } else if (n == 0) {
            *eof = 1;
            shutdown(to, SHUT_WR);
        }
    }
    if (*pending && send(to, c, 1, MSG_NOSIGNAL) == 1) {
        *pending = 0;
        bytes_relayed++;
        return 1;
    }
    return 0;
}

static int relay_turn(struct relay *r)
{
    int moved = relay_one(r->a, r->b, &r->ab, &r->ab_pending, &r->a_eof);
    return moved + relay_one(r->b, r->a, &r->ba, &r->ba_pending, &r->b_eof);
}

/* ---- a peer driven by hand: an engine over a raw socket ------------------ */

struct peer {
    int fd;
    tlsplug_conn *c;
    int active; /* pumped on every turn; 0: the peer stalls */
    int hs, rd; /* last handshake and read results */
    unsigned long wire_in;
    unsigned char plain[4096];
    size_t plain_len;
};

static void peer_flush(struct peer *p)
{
    size_t len;
    const void *out;
    while ((out = tlsplug_conn_send_buf(p->c, &len)) != NULL) {
        ssize_t n = send(p->fd, out, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        tlsplug_conn_send_ack(p->c, (size_t)n);
    }
}

static void peer_pump(struct peer *p)
{
    if (!p || !p->active || p->fd < 0)
        return;
    size_t avail;
    void *dst = tlsplug_conn_recv_buf(p->c, &avail);
    if (dst) {
        ssize_t n = recv(p->fd, dst, avail, 0);
        if (n > 0) {
            tlsplug_conn_recv_ack(p->c, (size_t)n);
            p->wire_in += (unsigned long)n;
        } else if (n == 0) {
            tlsplug_conn_recv_eof(p->c);
        }
    }
    if (!tlsplug_conn_established(p->c)) {
        p->hs = tlsplug_conn_handshake(p->c);
    } else {
        for (;;) {
            size_t n = 0;
            p->rd = tlsplug_conn_read(p->c, p->plain + p->plain_len,
                                      sizeof p->plain - p->plain_len, &n);
            if (p->rd != TLSPLUG_OK || n == 0)
                break;
            p->plain_len += n;
        }
    }
    peer_flush(p);
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A connected loopback TCP pair, both ends non-blocking. */
static void tcp_pair(int *mine, int *theirs)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c >= 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
    int s = accept(l, NULL, NULL);
    assert_true(s >= 0);
    close(l);
    set_nonblock(c);
    set_nonblock(s);
    *mine = c;
    *theirs = s;
}

static void peer_new(struct peer *p, int fd, tlsplug_side side)
{
    memset(p, 0, sizeof *p);
    p->fd = fd;
    p->active = 1;
    p->hs = TLSPLUG_WANT_READ;
    tlsplug_conn_options o = {.side = side, .server_name = "localhost"};
    assert_int_equal(tlsplug_conn_new(&p->c, side == TLSPLUG_SIDE_SERVER ? sctx : cctx, &o, NULL),
                     TLSPLUG_OK);
}

static void peer_free(struct peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    tlsplug_conn_free(p->c);
    p->c = NULL;
}

/* The two faults: a reset (RST, SO_LINGER 0 + close) and an end of stream
 * without close_notify (FIN). */
static void peer_reset(struct peer *p)
{
    struct linger lg = {1, 0};
    assert_int_equal(setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(p->fd);
    p->fd = -1;
    faults_injected++;
}

static void peer_fin(struct peer *p)
{
    shutdown(p->fd, SHUT_WR);
    p->active = 0;
    faults_injected++;
}

/* ---- driving the loop ------------------------------------------------------- */

static void turn(struct relay *r, struct peer *p)
{
    int moved = 0;
    tlsplug_loop_run_once(loop, 0);
    if (r)
        moved = relay_turn(r);
    peer_pump(p);
    if (!moved)
        tlsplug_loop_run_once(loop, 1);
}

/* Turns until cond holds; 10 s is a hang guard, not a timing assertion. */
#define WAIT(cond, r, p)                                                                         \
    do {                                                                                         \
        double end_ = now_s() + 10;                                                              \
        while (!(cond) && now_s() < end_)                                                        \
            turn((r), (p));                                                                      \
        assert_true(cond);                                                                       \
    } while (0)

/* ---- callbacks, counted ------------------------------------------------------- */

struct op {
    int calls, err;
    char msg[256];
};

/* Asserts an outcome class; on a mismatch the message says what happened. */
static void expect_class(const char *what, int got, const char *msg, int want)
{
    if (got != want)
        fprintf(stderr, "%s: %s (%s), wanted %s\n", what, tlsplug_error_name(got), msg,
                tlsplug_error_name(want));
    assert_int_equal(got, want);
}

static void op_cb(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct op *o = arg;
    o->calls++;
    o->err = e ? tlsplug_error_class(e) : 0;
    snprintf(o->msg, sizeof o->msg, "%s", e ? tlsplug_error_message(e) : "");
    if (e)
        assert_true(o->msg[0] != 0); /* every error names its problem */
}

/* Reads until cap bytes arrived or an error, re-arming from the callback. */
struct sink {
    unsigned char *buf;
    size_t cap, got;
    int issued, calls, done, err;
    uint32_t timeout;
    char msg[256];
};

static void sink_cb(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg);

static void sink_read(tlsplug_aio *a, struct sink *s)
{
    s->issued++;
    assert_int_equal(tlsplug_aio_read(a, s->buf + s->got, s->cap - s->got, s->timeout, sink_cb, s),
                     TLSPLUG_OK);
}

static void sink_cb(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    struct sink *s = arg;
    s->calls++;
    if (e) {
        s->err = tlsplug_error_class(e);
        snprintf(s->msg, sizeof s->msg, "%s", tlsplug_error_message(e));
        assert_true(s->msg[0] != 0);
        assert_int_equal(n, 0);
        s->done = 1;
        return;
    }
    assert_true(n > 0);
    assert_ptr_equal(buf, s->buf + s->got);
    s->got += n;
    if (s->got == s->cap)
        s->done = 1;
    else
        sink_read(a, s);
}

static void sink_init(struct sink *s, void *buf, size_t cap, uint32_t timeout)
{
    memset(s, 0, sizeof *s);
    s->buf = buf;
    s->cap = cap;
    s->timeout = timeout;
}

/* ---- fixtures ------------------------------------------------------------------ */

static void pin12(tlsplug_config *cfg)
{
    tlsplug_config_set_versions(cfg, TLSPLUG_TLS1_2, TLSPLUG_TLS1_2);
}

static int setup(void **state)
{
    live_at_setup = count_alloc_live_own();
    assert_int_equal(tlsplug_loop_new(&loop, 0), TLSPLUG_OK);
    R = tlsplug_loop_reactor(loop);
    sctx = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    cctx = client_ctx(impl, NULL);
    assert_non_null(sctx);
    assert_non_null(cctx);
    scenarios++;
    return 0;
}

static int setup12(void **state)
{
    setup(state);
    tlsplug_ctx_free(sctx);
    tlsplug_ctx_free(cctx);
    sctx = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", pin12);
    cctx = client_ctx(impl, pin12);
    assert_non_null(sctx);
    assert_non_null(cctx);
    return 0;
}

static int teardown(void **state)
{
    tlsplug_ctx_free(sctx);
    tlsplug_ctx_free(cctx);
    sctx = cctx = NULL;
    /* every aio released its handles */
    assert_int_equal(drain_loop(loop, 5), TLSPLUG_OK);
    loop = NULL;
    /* every block tlsplug allocated for the scenario is freed (the
     * libraries' own caches are valgrind's to judge) */
    assert_int_equal(count_alloc_live_own(), live_at_setup);
    return 0;
}

/* Closes a and waits for its close callback, which must come exactly once. */
static void close_and_wait(tlsplug_aio *a, struct relay *r, struct peer *p)
{
    struct op c = {0};
    tlsplug_aio_close(a, op_cb, &c);
    tlsplug_aio_close(a, op_cb, &c); /* a second close does nothing */
    assert_int_equal(c.calls, 0);
    WAIT(c.calls == 1, r, p);
    for (int i = 0; i < 5; i++)
        turn(r, p);
    assert_int_equal(c.calls, 1);
}

/* Attach the aio on `mine` against a hand-driven peer of the other side and
 * wait for both handshakes. */
static tlsplug_aio *secure_against_peer(struct peer *p, tlsplug_side aio_side)
{
    int mine, theirs;
    tcp_pair(&mine, &theirs);
    peer_new(p, theirs, aio_side == TLSPLUG_SIDE_CLIENT ? TLSPLUG_SIDE_SERVER : TLSPLUG_SIDE_CLIENT);
    tlsplug_aio *a;
    assert_int_equal(tlsplug_aio_new(&a, R, mine), TLSPLUG_OK);
    tlsplug_attach_options o = {.ctx = aio_side == TLSPLUG_SIDE_CLIENT ? cctx : sctx,
                                .side = aio_side,
                                .server_name = "localhost",
                                .handshake_timeout_ms = 5000};
    struct op at = {0};
    assert_int_equal(tlsplug_aio_attach(a, &o, op_cb, &at), TLSPLUG_OK);
    WAIT(at.calls == 1 && p->hs == TLSPLUG_OK, NULL, p);
    assert_int_equal(at.err, 0);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_SECURE);
    return a;
}

/* ---- one byte at a time ----------------------------------------------------------- */

#define RELAY_LEN 20000 /* more than one TLS record */

static void relay_one_byte(void **state)
{
    int cp[2], sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, cp), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
    /* small send buffers: with the relay draining one byte per turn, the
     * aio's writes fill them and complete in parts */
    int small = 4096;
    setsockopt(cp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    struct relay r = {.a = cp[1], .b = sp[1]};
    tlsplug_aio *c, *s;
    assert_int_equal(tlsplug_aio_new(&c, R, cp[0]), TLSPLUG_OK);
    assert_int_equal(tlsplug_aio_new(&s, R, sp[0]), TLSPLUG_OK);

    tlsplug_attach_options ca = {.ctx = cctx, .server_name = "localhost",
                                 .handshake_timeout_ms = 20000};
    tlsplug_attach_options sa = {.ctx = sctx, .handshake_timeout_ms = 20000};
    struct op cat = {0}, sat = {0};
    assert_int_equal(tlsplug_aio_attach(c, &ca, op_cb, &cat), TLSPLUG_OK);
    assert_int_equal(tlsplug_aio_attach(s, &sa, op_cb, &sat), TLSPLUG_OK);
    WAIT(cat.calls && sat.calls, &r, NULL);
    assert_int_equal(cat.err, 0);
    assert_int_equal(sat.err, 0);

    /* client -> server, then the server echoes it all back */
    static unsigned char out[RELAY_LEN], mid[RELAY_LEN], back[RELAY_LEN];
    pattern(out, sizeof out, 1);
    struct sink sin, cin;
    sink_init(&sin, mid, sizeof mid, 0);
    sink_init(&cin, back, sizeof back, 0);
    struct op cw = {0}, sw = {0};
    assert_int_equal(tlsplug_aio_write(c, out, sizeof out, 0, op_cb, &cw), TLSPLUG_OK);
    sink_read(s, &sin);
    WAIT(sin.done && cw.calls, &r, NULL);
    assert_int_equal(cw.err, 0);
    assert_int_equal(sin.err, 0);
    assert_int_equal(sin.issued, sin.calls);
    assert_memory_equal(mid, out, sizeof out);
    assert_int_equal(tlsplug_aio_write(s, mid, sizeof mid, 0, op_cb, &sw), TLSPLUG_OK);
    sink_read(c, &cin);
    WAIT(cin.done && sw.calls, &r, NULL);
    assert_int_equal(sw.err, 0);
    assert_int_equal(cin.err, 0);
    assert_int_equal(cin.issued, cin.calls);
    assert_memory_equal(back, out, sizeof out);

    /* both detach (one byte at a time too), then plain bytes both ways */
    struct op cd = {0}, sd = {0};
    assert_int_equal(tlsplug_aio_detach(c, 20000, op_cb, &cd), TLSPLUG_OK);
    assert_int_equal(tlsplug_aio_detach(s, 20000, op_cb, &sd), TLSPLUG_OK);
    WAIT(cd.calls && sd.calls, &r, NULL);
    assert_int_equal(cd.err, 0);
    assert_int_equal(sd.err, 0);
    assert_int_equal(tlsplug_aio_state_of(c), TLSPLUG_AIO_PLAIN);
    assert_int_equal(tlsplug_aio_state_of(s), TLSPLUG_AIO_PLAIN);
    unsigned char plain[64];
    struct sink pin;
    sink_init(&pin, plain, 10, 0);
    struct op pw = {0};
    assert_int_equal(tlsplug_aio_write(s, "plain-text", 10, 0, op_cb, &pw), TLSPLUG_OK);
    sink_read(c, &pin);
    WAIT(pin.done && pw.calls, &r, NULL);
    assert_int_equal(pin.err, 0);
    assert_memory_equal(plain, "plain-text", 10);

    close_and_wait(c, &r, NULL);
    close_and_wait(s, &r, NULL);
    assert_int_equal(cat.calls + sat.calls + cw.calls + sw.calls + cd.calls + sd.calls + pw.calls, 7);
    close(r.a);
    close(r.b);
}

/* ---- resets and EOFs ------------------------------------------------------------- */

/* Waits until the kernel has processed the peer's RST/FIN on fd. */
static void wait_hangup(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    poll(&pfd, 1, 2000);
}

static void attach_fails(tlsplug_aio *a, tlsplug_side side, struct peer *p, int want)
{
    tlsplug_attach_options o = {.ctx = side == TLSPLUG_SIDE_CLIENT ? cctx : sctx,
                                .side = side,
                                .server_name = "localhost",
                                .handshake_timeout_ms = 5000};
    struct op at = {0};
    assert_int_equal(tlsplug_aio_attach(a, &o, op_cb, &at), TLSPLUG_OK);
    assert_int_equal(at.calls, 0);
    WAIT(at.calls, NULL, p);
    expect_class("attach", at.err, at.msg, want);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    assert_null(tlsplug_aio_conn(a));
    for (int i = 0; i < 5; i++)
        turn(NULL, p);
    assert_int_equal(at.calls, 1);
}

static void reset_before_handshake(tlsplug_side side)
{
    int mine, theirs;
    tcp_pair(&mine, &theirs);
    struct peer p = {.fd = theirs};
    peer_reset(&p);
    wait_hangup(mine);
    tlsplug_aio *a;
    assert_int_equal(tlsplug_aio_new(&a, R, mine), TLSPLUG_OK);
    attach_fails(a, side, NULL, TLSPLUG_E_IO);
    close_and_wait(a, NULL, NULL);
}

static void reset_before_handshake_client(void **state)
{
    reset_before_handshake(TLSPLUG_SIDE_CLIENT);
}

static void reset_before_handshake_server(void **state)
{
    reset_before_handshake(TLSPLUG_SIDE_SERVER);
}

/* Bytes on fd (a raw read, the peer stays silent). */
static size_t raw_drain(int fd)
{
    unsigned char tmp[8192];
    size_t total = 0;
    ssize_t n;
    while ((n = recv(fd, tmp, sizeof tmp, 0)) > 0)
        total += (size_t)n;
    return total;
}

/* The aio is the client; the peer reads the ClientHello and then resets or
 * sends FIN instead of answering. */
static void fault_during_handshake_client(int reset)
{
    int mine, theirs;
    tcp_pair(&mine, &theirs);
    tlsplug_aio *a;
    assert_int_equal(tlsplug_aio_new(&a, R, mine), TLSPLUG_OK);
    tlsplug_attach_options o = {.ctx = cctx, .server_name = "localhost",
                                .handshake_timeout_ms = 5000};
    struct op at = {0};
    assert_int_equal(tlsplug_aio_attach(a, &o, op_cb, &at), TLSPLUG_OK);
    size_t got = 0;
    WAIT((got += raw_drain(theirs)) > 0, NULL, NULL);
    struct peer p = {.fd = theirs};
    if (reset) {
        peer_reset(&p);
    } else {
        peer_fin(&p);
    }
    WAIT(at.calls, NULL, NULL);
    int want = reset ? TLSPLUG_E_IO : TLSPLUG_E_TRUNCATED;
    expect_class("attach", at.err, at.msg, want);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    close_and_wait(a, NULL, NULL);
    if (p.fd >= 0)
        close(p.fd);
    assert_int_equal(at.calls, 1);
}

static void reset_during_handshake_client(void **state)
{
    fault_during_handshake_client(1);
}

static void eof_during_handshake_client(void **state)
{
    fault_during_handshake_client(0);
}

/* The aio is the server; the peer sends its ClientHello, waits for the
 * server's first flight, then resets or sends FIN. */
static void fault_during_handshake_server(int reset)
{
    int mine, theirs;
    tcp_pair(&mine, &theirs);
    struct peer p;
    peer_new(&p, theirs, TLSPLUG_SIDE_CLIENT);
    p.active = 0;
    assert_int_equal(tlsplug_conn_handshake(p.c), TLSPLUG_WANT_READ);
    peer_flush(&p);
    tlsplug_aio *a;
    assert_int_equal(tlsplug_aio_new(&a, R, mine), TLSPLUG_OK);
    tlsplug_attach_options o = {.ctx = sctx, .handshake_timeout_ms = 5000};
    struct op at = {0};
    assert_int_equal(tlsplug_aio_attach(a, &o, op_cb, &at), TLSPLUG_OK);
    size_t got = 0;
    WAIT((got += raw_drain(theirs)) > 0, NULL, NULL);
    if (reset)
        peer_reset(&p);
    else
        peer_fin(&p);
    WAIT(at.calls, NULL, NULL);
    int want = reset ? TLSPLUG_E_IO : TLSPLUG_E_TRUNCATED;
    expect_class("attach", at.err, at.msg, want);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    close_and_wait(a, NULL, NULL);
    peer_free(&p);
    assert_int_equal(at.calls, 1);
}

static void reset_during_handshake_server(void **state)
{
    fault_during_handshake_server(1);
}

static void eof_during_handshake_server(void **state)
{
    fault_during_handshake_server(0);
}

/* After the handshake: a read is pending when the fault hits; a write after
 * it fails too. */
static void fault_after_handshake(int reset)
{
    struct peer p;
    tlsplug_aio *a = secure_against_peer(&p, TLSPLUG_SIDE_CLIENT);
    unsigned char buf[64];
    struct sink s;
    sink_init(&s, buf, sizeof buf, 0);
    sink_read(a, &s);
    for (int i = 0; i < 5; i++)
        turn(NULL, &p);
    assert_int_equal(s.calls, 0);
    if (reset)
        peer_reset(&p);
    else
        peer_fin(&p);
    WAIT(s.calls, NULL, &p);
    int want = reset ? TLSPLUG_E_IO : TLSPLUG_E_TRUNCATED;
    expect_class("read", s.err, s.msg, want);
    if (reset) {
        /* the socket is gone: a write reports it through its callback */
        struct op w = {0};
        assert_int_equal(tlsplug_aio_write(a, "x", 1, 2000, op_cb, &w), TLSPLUG_OK);
        WAIT(w.calls, NULL, &p);
        expect_class("write", w.err, w.msg, TLSPLUG_E_IO);
        assert_int_equal(w.calls, 1);
    }
    close_and_wait(a, NULL, &p);
    peer_free(&p);
    assert_int_equal(s.calls, 1);
}

static void reset_after_handshake(void **state)
{
    fault_after_handshake(1);
}

static void eof_after_handshake(void **state)
{
    fault_after_handshake(0);
}

/* During detach: the peer receives our close_notify and then resets or
 * sends FIN instead of its own close_notify. */
static void fault_during_detach(int reset)
{
    struct peer p;
    tlsplug_aio *a = secure_against_peer(&p, TLSPLUG_SIDE_CLIENT);
    unsigned long before = p.wire_in;
    struct op d = {0};
    assert_int_equal(tlsplug_aio_detach(a, 5000, op_cb, &d), TLSPLUG_OK);
    WAIT(p.wire_in > before, NULL, &p);
    assert_int_equal(d.calls, 0);
    if (reset)
        peer_reset(&p);
    else
        peer_fin(&p);
    WAIT(d.calls, NULL, &p);
    int want = reset ? TLSPLUG_E_IO : TLSPLUG_E_TRUNCATED;
    expect_class("detach", d.err, d.msg, want);
    /* after a failed detach TLS is gone all the same */
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    close_and_wait(a, NULL, &p);
    peer_free(&p);
    assert_int_equal(d.calls, 1);
}

static void reset_during_detach(void **state)
{
    fault_during_detach(1);
}

static void eof_during_detach(void **state)
{
    fault_during_detach(0);
}

/* ---- stalls ------------------------------------------------------------------------ */

static void stall_handshake_client(void **state)
{
    int mine, theirs;
    tcp_pair(&mine, &theirs);
    tlsplug_aio *a;
    assert_int_equal(tlsplug_aio_new(&a, R, mine), TLSPLUG_OK);
    tlsplug_attach_options o = {.ctx = cctx, .server_name = "localhost",
                                .handshake_timeout_ms = 200};
    struct op at = {0};
    assert_int_equal(tlsplug_aio_attach(a, &o, op_cb, &at), TLSPLUG_OK);
    faults_injected++;
    WAIT(at.calls, NULL, NULL);
    expect_class("attach", at.err, at.msg, TLSPLUG_E_TIMEOUT);
    assert_true(raw_drain(theirs) > 0); /* the ClientHello went out */
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    close_and_wait(a, NULL, NULL);
    close(theirs);
    assert_int_equal(at.calls, 1);
}

/* The server aio has sent its flight and waits for the client's answer. */
static void stall_handshake_server(void **state)
{
    int mine, theirs;
    tcp_pair(&mine, &theirs);
    struct peer p;
    peer_new(&p, theirs, TLSPLUG_SIDE_CLIENT);
    p.active = 0;
    assert_int_equal(tlsplug_conn_handshake(p.c), TLSPLUG_WANT_READ);
    peer_flush(&p);
    tlsplug_aio *a;
    assert_int_equal(tlsplug_aio_new(&a, R, mine), TLSPLUG_OK);
    tlsplug_attach_options o = {.ctx = sctx, .handshake_timeout_ms = 200};
    struct op at = {0};
    assert_int_equal(tlsplug_aio_attach(a, &o, op_cb, &at), TLSPLUG_OK);
    faults_injected++;
    size_t got = 0;
    WAIT(at.calls, NULL, NULL);
    got = raw_drain(theirs);
    assert_true(got > 0);
    expect_class("attach", at.err, at.msg, TLSPLUG_E_TIMEOUT);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    close_and_wait(a, NULL, NULL);
    peer_free(&p);
    assert_int_equal(at.calls, 1);
}

/* A silent peer, then a peer that stops in the middle of a record: both
 * reads time out, and the connection still delivers the record once the
 * rest arrives. */
static void stall_read(void **state)
{
    struct peer p;
    tlsplug_aio *a = secure_against_peer(&p, TLSPLUG_SIDE_CLIENT);
    p.active = 0;
    unsigned char buf[64];
    struct sink s;
    sink_init(&s, buf, sizeof buf, 200);
    sink_read(a, &s);
    faults_injected++;
    WAIT(s.calls, NULL, NULL);
    expect_class("read (silent peer)", s.err, s.msg, TLSPLUG_E_TIMEOUT);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_SECURE);

    size_t n;
    assert_int_equal(tlsplug_conn_write(p.c, "hello", 5, &n), TLSPLUG_OK);
    unsigned char wire[512];
    size_t wl = tlsplug_conn_drain(p.c, wire, sizeof wire);
    assert_true(wl > 8);
    assert_int_equal(send(p.fd, wire, 3, 0), 3);
    sink_init(&s, buf, 5, 200);
    sink_read(a, &s);
    faults_injected++;
    WAIT(s.calls, NULL, NULL);
    expect_class("read (partial record)", s.err, s.msg, TLSPLUG_E_TIMEOUT);

    assert_int_equal(send(p.fd, wire + 3, wl - 3, 0), (ssize_t)(wl - 3));
    sink_init(&s, buf, 5, 0);
    sink_read(a, &s);
    WAIT(s.done, NULL, NULL);
    expect_class("read (rest of the record)", s.err, s.msg, 0);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(s.issued, s.calls);
    close_and_wait(a, NULL, NULL);
    peer_free(&p);
}

/* The peer never reads: the socket buffers fill and the write times out. */
static void stall_write(void **state)
{
    struct peer p;
    tlsplug_aio *a = secure_against_peer(&p, TLSPLUG_SIDE_CLIENT);
    p.active = 0;
    int small = 4096;
    setsockopt(tlsplug_aio_fd(a), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(p.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    size_t len = 4u << 20;
    unsigned char *big = malloc(len);
    assert_non_null(big);
    pattern(big, len, 3);
    struct op w = {0};
    assert_int_equal(tlsplug_aio_write(a, big, len, 300, op_cb, &w), TLSPLUG_OK);
    faults_injected++;
    WAIT(w.calls, NULL, NULL);
    expect_class("write", w.err, w.msg, TLSPLUG_E_TIMEOUT);
    /* close cannot flush close_notify into full buffers: it gives up after
     * its own bound and still calls back once */
    close_and_wait(a, NULL, NULL);
    free(big);
    peer_free(&p);
    assert_int_equal(w.calls, 1);
}

static void stall_detach(void **state)
{
    struct peer p;
    tlsplug_aio *a = secure_against_peer(&p, TLSPLUG_SIDE_CLIENT);
    p.active = 0;
    struct op d = {0};
    assert_int_equal(tlsplug_aio_detach(a, 200, op_cb, &d), TLSPLUG_OK);
    faults_injected++;
    WAIT(d.calls, NULL, NULL);
    expect_class("detach", d.err, d.msg, TLSPLUG_E_TIMEOUT);
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_PLAIN);
    assert_true(raw_drain(p.fd) > 0); /* our close_notify went out */
    close_and_wait(a, NULL, NULL);
    peer_free(&p);
    assert_int_equal(d.calls, 1);
}

/* Lazily made library state (error tables, providers) is not a leak: make
 * it once before the first baseline. */
static void warm_up(void)
{
    tlsplug_ctx *s = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    tlsplug_ctx *c = client_ctx(impl, NULL);
    pair p;
    if (s && c && pair_new(&p, c, s, NULL) == TLSPLUG_OK) {
        pair_handshake(&p);
        pair_free(&p);
    }
    tlsplug_ctx_free(s);
    tlsplug_ctx_free(c);
}

int main(int argc, char **argv)
{
    /* before anything allocates through tlsplug */
    if (count_alloc_install() != TLSPLUG_OK) {
        fprintf(stderr, "tlsplug_set_allocator failed\n");
        return 1;
    }
    count_alloc_classify_by_caller();
    impl = test_backend(argc > 1 ? argv[1] : NULL);
    warm_up();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(relay_one_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(relay_one_byte, setup12, teardown),
        cmocka_unit_test_setup_teardown(reset_before_handshake_client, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_before_handshake_server, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_during_handshake_client, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_during_handshake_server, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_after_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_during_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(eof_during_handshake_client, setup, teardown),
        cmocka_unit_test_setup_teardown(eof_during_handshake_server, setup, teardown),
        cmocka_unit_test_setup_teardown(eof_after_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(eof_during_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(stall_handshake_client, setup, teardown),
        cmocka_unit_test_setup_teardown(stall_handshake_server, setup, teardown),
        cmocka_unit_test_setup_teardown(stall_read, setup, teardown),
        cmocka_unit_test_setup_teardown(stall_write, setup, teardown),
        cmocka_unit_test_setup_teardown(stall_detach, setup, teardown),
    };
    char name[64];
    snprintf(name, sizeof name, "faults-%s", tlsplug_impl_name(impl));
    int failed = cmocka_run_group_tests_name(name, tests, NULL, NULL);
    printf("faults-%s: %lu scenarios, %lu faults injected (resets, FINs, stalls), %lu bytes "
           "relayed one per loop turn, %d failed\n",
           tlsplug_impl_name(impl), scenarios, faults_injected, bytes_relayed, failed);
    return failed;
}
