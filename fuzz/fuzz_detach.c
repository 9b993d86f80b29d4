/* Attach and detach on a real tlsplug_aio: the aio on one end of a socket
 * pair and the built-in loop, a scripted peer (a tlsplug engine, or plain
 * bytes) on the other.  The input is a program (fuzz_detach.h): plain bytes,
 * attach, data and hostile records, close_notify, detach, plain bytes again,
 * in any order and with any timing the loop allows.
 *
 * What must hold whatever the program does:
 *  - every call that returns an error fires no callback; every accepted
 *    operation's callback fires exactly once, never inside a call, never
 *    after the close callback; the close callback fires exactly once;
 *  - the state after an attach or detach callback is the documented one;
 *  - while the peer sends nothing hostile and nothing failed, the aio reads
 *    exactly the bytes the peer sent, in order, across every transition
 *    (plain, TLS, the data before the peer's close_notify, the plain bytes
 *    after it), and the peer gets exactly what the aio wrote;
 *  - at the end the loop has nothing left registered. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "fuzz_common.h"
#include "fuzz_detach.h"
#include "fuzz_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SALT_PEER 0x0dd0001u
#define SALT_AIO 0x0dd0002u
#define DATA_MAX (1u << 18)

enum peer_mode { PEER_PLAIN_MODE, PEER_TLS, PEER_BROKEN };

typedef struct dt {
    tlsplug_loop *loop;
    tlsplug_aio *a;
    int fd; /* the peer's end */
    unsigned v;
    int aio_server, stall, abort_close;
    /* the peer */
    enum peer_mode mode;
    tlsplug_conn *p;
    int p_sent_close, p_eof, p_write_ok;
    uint64_t p_data; /* pattern bytes the peer has sent so far */
    fz_wire out;     /* to the socket, in order */
    /* aio -> peer */
    uint64_t aio_written, peer_got;
    int psync;
    /* peer -> aio */
    fz_wire expect;
    size_t got;
    int sync;
    /* operations and their callbacks */
    int in_api, closed_cb, close_started;
    double wait_left; /* ms the WAIT operations may still take */
    int reads, read_cbs, writes, write_cbs, ops, op_cbs;
    int op_kinds[64]; /* accepted attach (1) / detach (2) in order; FIFO */
    uint8_t rbuf[1u << 16];
    uint8_t wbuf[2][40000]; /* the pending write's and the next one's */
    int wcur;
} dt;

/* TLSPLUG_FUZZ_TRACE=1 prints each operation and callback: what a bug report
 * needs. */
static int trace;
#define TRACE(...)                                                                   \
    do {                                                                             \
        if (trace)                                                                   \
            fprintf(stderr, __VA_ARGS__);                                            \
    } while (0)

static const char *state_name(tlsplug_aio *a)
{
    static const char *names[] = {"PLAIN", "ATTACHING", "SECURE", "DETACHING", "CLOSING",
                                  "CLOSED"};
    return names[tlsplug_aio_state_of(a)];
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- callbacks ------------------------------------------------------------ */

static void on_read(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    dt *d = arg;
    TRACE("  read cb: %s n=%zu (%s)\n", e ? tlsplug_error_name(tlsplug_error_class(e)) : "ok", n,
          e ? tlsplug_error_message(e) : state_name(a));
    FZ_CHECK(!d->in_api && !d->closed_cb);
    d->read_cbs++;
    FZ_CHECK(d->read_cbs <= d->reads);
    if (e) {
        FZ_CHECK(n == 0);
        FZ_CHECK(tlsplug_error_message(e)[0]);
        if (tlsplug_error_class(e) != TLSPLUG_E_CLOSED)
            d->sync = 0;
        return;
    }
    FZ_CHECK(n > 0 && n <= sizeof d->rbuf && buf == d->rbuf);
    TRACE("  read %zu bytes at %zu of %zu expected\n", n, d->got, d->expect.len);
    if (d->sync) {
        FZ_CHECK(d->got + n <= d->expect.len);
        FZ_CHECK(!memcmp(buf, d->expect.p + d->got, n));
    }
    d->got += n;
}

static void on_write(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    dt *d = arg;
    TRACE("  write cb: %s (%s)\n", e ? tlsplug_error_name(tlsplug_error_class(e)) : "ok",
          e ? tlsplug_error_message(e) : state_name(a));
    FZ_CHECK(!d->in_api && !d->closed_cb);
    d->write_cbs++;
    FZ_CHECK(d->write_cbs <= d->writes);
    if (e) {
        FZ_CHECK(tlsplug_error_message(e)[0]);
        d->sync = d->psync = 0;
    }
}

static void on_op(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    dt *d = arg;
    int kind = d->op_kinds[d->op_cbs % 64];
    TRACE("  %s cb: %s, now %s (%s)\n", kind == 1 ? "attach" : "detach",
          e ? tlsplug_error_name(tlsplug_error_class(e)) : "ok", state_name(a),
          e ? tlsplug_error_message(e) : "");
    FZ_CHECK(!d->in_api && !d->closed_cb);
    d->op_cbs++;
    FZ_CHECK(d->op_cbs <= d->ops);
    tlsplug_aio_state st = tlsplug_aio_state_of(a);
    if (e) {
        FZ_CHECK(tlsplug_error_message(e)[0]);
        d->sync = d->psync = 0;
    }
    if (st == TLSPLUG_AIO_CLOSING || st == TLSPLUG_AIO_CLOSED)
        ; /* canceled, or it completed before the close and was still queued */
    else if (kind == 1 && !e)
        FZ_CHECK(st == TLSPLUG_AIO_SECURE && tlsplug_aio_conn(a));
    else
        FZ_CHECK(st == TLSPLUG_AIO_PLAIN && !tlsplug_aio_conn(a));
}

static void on_close(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    dt *d = arg;
    TRACE("  close cb (reads %d/%d writes %d/%d ops %d/%d)\n", d->read_cbs, d->reads,
          d->write_cbs, d->writes, d->op_cbs, d->ops);
    FZ_CHECK(!d->in_api && !d->closed_cb);
    d->closed_cb = 1;
    /* every operation completed before the close callback */
    FZ_CHECK(d->read_cbs == d->reads && d->write_cbs == d->writes && d->op_cbs == d->ops);
}

/* ---- the peer -------------------------------------------------------------- */

static void peer_send(dt *d, const void *p, size_t n)
{
    if (!d->p_eof)
        fz_wire_put(&d->out, p, n);
}

static void peer_from_conn(dt *d)
{
    if (d->p && !d->p_eof)
        fz_wire_from_conn(&d->out, d->p);
}

/* Plain bytes from the aio, checked against what it wrote. */
static void peer_plain_in(dt *d, const uint8_t *p, size_t n)
{
    if (d->psync) {
        FZ_CHECK(d->peer_got + n <= d->aio_written);
        FZ_CHECK(fz_pattern_check(SALT_AIO, d->peer_got, p, n));
    }
    d->peer_got += n;
}

static void peer_drop_tls(dt *d, enum peer_mode mode)
{
    tlsplug_conn_free(d->p);
    d->p = NULL;
    d->mode = mode;
}

/* Steps the peer's engine; returns 1 on progress. */
static int peer_step(dt *d)
{
    if (d->mode != PEER_TLS)
        return 0;
    int rc;
    size_t n = 0;
    if (!tlsplug_conn_established(d->p)) {
        rc = tlsplug_conn_handshake(d->p);
        peer_from_conn(d);
        if (rc < 0) {
            d->sync = d->psync = 0;
            peer_drop_tls(d, PEER_BROKEN);
            return 1;
        }
        return rc == TLSPLUG_OK;
    }
    static uint8_t buf[1u << 16];
    rc = tlsplug_conn_read(d->p, buf, sizeof buf, &n);
    peer_from_conn(d);
    if (rc == TLSPLUG_OK) {
        if (d->psync) {
            FZ_CHECK(d->peer_got + n <= d->aio_written);
            FZ_CHECK(fz_pattern_check(SALT_AIO, d->peer_got, buf, n));
        }
        d->peer_got += n;
        return 1;
    }
    if (rc == TLSPLUG_E_CLOSED) {
        /* the aio detached (or closed): what follows its close_notify is plain */
        size_t len;
        const uint8_t *u = tlsplug_conn_unread(d->p, &len);
        peer_plain_in(d, u, len);
        tlsplug_conn_unread_ack(d->p, len);
        if (!d->p_sent_close && !d->stall && tlsplug_conn_shutdown(d->p) == TLSPLUG_OK) {
            peer_from_conn(d);
            d->p_sent_close = 1;
        }
        if (d->p_sent_close) {
            peer_drop_tls(d, PEER_PLAIN_MODE);
            return 1;
        }
        return len > 0; /* a stalling peer keeps its closed engine */
    }
    if (rc < 0) {
        d->sync = d->psync = 0;
        peer_drop_tls(d, PEER_BROKEN);
        return 1;
    }
    return 0;
}

/* Moves bytes between the peer and the socket; returns 1 on progress. */
static int peer_io(dt *d)
{
    int progress = 0;
    while (d->out.len && !d->p_eof) {
        ssize_t n = send(d->fd, d->out.p, d->out.len, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                d->out.len = 0; /* the aio is gone */
                d->sync = 0;
            }
            break;
        }
        fz_wire_drop(&d->out, 0, (size_t)n);
        progress = 1;
    }
    for (;;) {
        uint8_t tmp[16384], *dst = tmp;
        size_t cap = sizeof tmp;
        int into_tls = d->mode == PEER_TLS && d->p;
        if (into_tls && !(dst = tlsplug_conn_recv_buf(d->p, &cap)))
            break;
        ssize_t n = recv(d->fd, dst, cap, 0);
        if (n < 0)
            break;
        if (n == 0) {
            if (into_tls)
                tlsplug_conn_recv_eof(d->p);
            break;
        }
        progress = 1;
        if (into_tls)
            tlsplug_conn_recv_ack(d->p, (size_t)n);
        else if (d->mode == PEER_PLAIN_MODE)
            peer_plain_in(d, tmp, (size_t)n);
        if (into_tls)
            break; /* step the engine before it takes more */
    }
    return progress;
}

/* Runs the loop and the peer until neither moves, within max_ms. */
static void run(dt *d, double max_ms, int iterations)
{
    double end = now_ms() + max_ms;
    for (int idle = 0, i = 0; i < iterations && idle < 3; i++) {
        int cbs = tlsplug_loop_run_once(d->loop, max_ms > 0 ? 1 : 0);
        FZ_CHECK(cbs >= 0);
        int progress = peer_io(d);
        while (peer_step(d))
            progress |= 1 | peer_io(d);
        progress |= peer_io(d);
        idle = progress || cbs ? 0 : idle + 1;
        if (max_ms > 0 && now_ms() < end)
            idle = 0;
        if (max_ms > 0 && now_ms() >= end)
            break;
    }
}

/* ---- operations ------------------------------------------------------------- */

static int usable(dt *d)
{
    return d->a && !d->close_started;
}

/* An accepted call while an earlier operation of its kind still awaits its
 * callback breaks "no other operation pending" (and the callback ring is
 * sized for one of each). */
static void api_result(int rc, int started, int delivered)
{
    FZ_CHECK(rc == TLSPLUG_OK || rc == TLSPLUG_E_BUSY || rc == TLSPLUG_E_INVALID_ARGUMENT);
    if (rc == TLSPLUG_OK && started != delivered) {
        fprintf(stderr, "fuzz_detach: a call was accepted while %d earlier operation(s) of its "
                        "kind had not completed\n", started - delivered);
        FZ_CHECK(started == delivered);
    }
}

static void aio_read(dt *d, size_t cap)
{
    if (!usable(d))
        return;
    d->in_api = 1;
    int rc = tlsplug_aio_read(d->a, d->rbuf, cap ? cap : 1, 0, on_read, d);
    d->in_api = 0;
    TRACE("  -> %s\n", tlsplug_error_name(rc));
    api_result(rc, d->reads, d->read_cbs);
    d->reads += rc == TLSPLUG_OK;
}

static void aio_write(dt *d, size_t len)
{
    if (!usable(d))
        return;
    if (len > DATA_MAX - d->aio_written)
        len = (size_t)(DATA_MAX - d->aio_written);
    uint8_t *wbuf = d->wbuf[d->wcur ^ 1];
    fz_pattern_fill(SALT_AIO, d->aio_written, wbuf, len);
    d->in_api = 1;
    int rc = tlsplug_aio_write(d->a, wbuf, len, 0, on_write, d);
    d->in_api = 0;
    TRACE("  -> %s\n", tlsplug_error_name(rc));
    api_result(rc, d->writes, d->write_cbs);
    if (rc == TLSPLUG_OK) {
        d->writes++;
        d->aio_written += len;
        d->wcur ^= 1;
    }
}

static void aio_attach(dt *d)
{
    if (!usable(d))
        return;
    tlsplug_attach_options o = {
        .side = d->aio_server ? TLSPLUG_SIDE_SERVER : TLSPLUG_SIDE_CLIENT,
        .ctx = d->aio_server ? fz_server_ctx(d->v) : fz_client_ctx(d->v),
        .server_name = "localhost",
        .handshake_timeout_ms = 2000,
    };
    int unread = d->got < d->expect.len || d->out.len;
    d->in_api = 1;
    int rc = tlsplug_aio_attach(d->a, &o, on_op, d);
    d->in_api = 0;
    TRACE("  -> %s\n", tlsplug_error_name(rc));
    api_result(rc, d->ops, d->op_cbs);
    if (rc != TLSPLUG_OK)
        return;
    d->op_kinds[d->ops++ % 64] = 1;
    if (unread)
        d->sync = 0; /* plain bytes still in the socket will be taken for TLS */
    /* the peer starts TLS too, after taking the aio's plain bytes */
    peer_io(d);
    if (d->p)
        d->sync = d->psync = 0; /* the last session never ended on the peer */
    peer_drop_tls(d, PEER_TLS);
    d->p = fz_conn(d->aio_server ? fz_client_ctx(d->v) : fz_server_ctx(d->v));
    d->p_sent_close = 0;
}

static void aio_detach(dt *d, unsigned ms)
{
    if (!usable(d))
        return;
    d->in_api = 1;
    int rc = tlsplug_aio_detach(d->a, ms, on_op, d);
    d->in_api = 0;
    TRACE("  -> %s\n", tlsplug_error_name(rc));
    api_result(rc, d->ops, d->op_cbs);
    if (rc == TLSPLUG_OK)
        d->op_kinds[d->ops++ % 64] = 2;
}

static void aio_shutdown(dt *d)
{
    if (!usable(d))
        return;
    d->in_api = 1;
    int rc = tlsplug_aio_shutdown(d->a, 0, on_write, d);
    d->in_api = 0;
    TRACE("  -> %s\n", tlsplug_error_name(rc));
    api_result(rc, d->writes, d->write_cbs);
    d->writes += rc == TLSPLUG_OK;
}

static void aio_close(dt *d)
{
    if (!usable(d))
        return;
    d->close_started = 1;
    d->in_api = 1;
    if (d->abort_close)
        tlsplug_aio_abort(d->a, on_close, d);
    else
        tlsplug_aio_close(d->a, on_close, d);
    tlsplug_aio_close(d->a, on_close, d); /* twice is harmless */
    d->in_api = 0;
}

static void peer_write(dt *d, size_t len)
{
    if (d->mode == PEER_BROKEN || d->p_eof)
        return;
    if (len > DATA_MAX - d->expect.len)
        len = DATA_MAX - d->expect.len;
    static uint8_t buf[40000];
    fz_pattern_fill(SALT_PEER, d->p_data, buf, len);
    if (d->mode == PEER_PLAIN_MODE || d->p_sent_close) {
        if (d->mode == PEER_TLS)
            return; /* between its close_notify and the aio's: plain would be garbage */
        peer_send(d, buf, len);
        fz_wire_put(&d->expect, buf, len);
        d->p_data += len;
        return;
    }
    if (!tlsplug_conn_established(d->p))
        return;
    size_t done = 0;
    for (int i = 0; done < len && i < 64; i++) {
        size_t n = 0;
        int rc = tlsplug_conn_write(d->p, buf + done, len - done, &n);
        peer_from_conn(d);
        if (rc < 0)
            break;
        done += n;
    }
    fz_wire_put(&d->expect, buf, done);
    d->p_data += done;
}

static void peer_plain(dt *d, const uint8_t *p, size_t n, int raw)
{
    if (d->p_eof)
        return;
    int garbage = raw || (d->mode == PEER_TLS && !d->p_sent_close) || d->mode == PEER_BROKEN;
    peer_send(d, p, n);
    if (garbage)
        d->sync = 0;
    else
        fz_wire_put(&d->expect, p, n);
}

static void step(dt *d, fz *in)
{
    unsigned op = fz_u8(in) % FZDT_COUNT;
    static const char *names[FZDT_COUNT] = {"PEER_PLAIN", "PEER_RAW", "PEER_WRITE",
        "PEER_CLOSE", "PEER_EOF", "AIO_READ", "AIO_WRITE", "AIO_ATTACH", "AIO_DETACH",
        "AIO_SHUTDOWN", "AIO_CLOSE", "RUN", "WAIT"};
    TRACE("%s [aio %s, peer %s%s, sync %d/%d]\n", names[op], d->close_started ? "closing" : state_name(d->a),
          d->mode == PEER_TLS ? "tls" : d->mode == PEER_PLAIN_MODE ? "plain" : "broken",
          d->p_sent_close ? " closed" : "", d->sync, d->psync);
    switch (op) {
    case FZDT_PEER_PLAIN:
    case FZDT_PEER_RAW: {
        int raw = op == FZDT_PEER_RAW;
        const uint8_t *p;
        size_t n = fz_bytes(in, fz_u8(in), &p);
        peer_plain(d, p, n, raw);
        break;
    }
    case FZDT_PEER_WRITE:
        peer_write(d, fz_u16(in) % 40000);
        break;
    case FZDT_PEER_CLOSE:
        if (d->mode == PEER_TLS && tlsplug_conn_established(d->p) && !d->p_sent_close &&
            !tlsplug_conn_error(d->p) && tlsplug_conn_shutdown(d->p) == TLSPLUG_OK) {
            peer_from_conn(d);
            d->p_sent_close = 1;
        }
        break;
    case FZDT_PEER_EOF:
        if (!d->p_eof) {
            peer_io(d);
            if (d->out.len)
                d->sync = 0; /* what did not fit is lost */
            shutdown(d->fd, SHUT_WR);
            d->p_eof = 1;
        }
        break;
    case FZDT_AIO_READ:
        aio_read(d, fz_u16(in));
        break;
    case FZDT_AIO_WRITE:
        aio_write(d, fz_u16(in) % 40000);
        break;
    case FZDT_AIO_ATTACH:
        aio_attach(d);
        break;
    case FZDT_AIO_DETACH:
        aio_detach(d, 1 + fz_u8(in) % 100);
        break;
    case FZDT_AIO_SHUTDOWN:
        aio_shutdown(d);
        break;
    case FZDT_AIO_CLOSE:
        aio_close(d);
        break;
    case FZDT_RUN:
        run(d, 0, 400);
        break;
    case FZDT_WAIT: {
        double ms = fz_u8(in) % 64;
        ms = ms < d->wait_left ? ms : d->wait_left;
        d->wait_left -= ms;
        run(d, ms, 1000);
        break;
    }
    }
}

/* With nothing hostile sent and nothing failed, every byte the peer sent is
 * still to be read, in order, once the aio is plain again. */
static void drain_plain(dt *d)
{
    for (int i = 0; i < 64 && d->sync && usable(d) && d->got < d->expect.len; i++) {
        if (tlsplug_aio_state_of(d->a) != TLSPLUG_AIO_PLAIN || d->mode == PEER_TLS)
            return;
        if (d->read_cbs == d->reads)
            aio_read(d, sizeof d->rbuf);
        run(d, 0, 400);
    }
    if (d->sync && usable(d) && tlsplug_aio_state_of(d->a) == TLSPLUG_AIO_PLAIN &&
        d->mode != PEER_TLS)
        FZ_CHECK(d->got == d->expect.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz in = {data, size};
    uint8_t set = fz_u8(&in);
    static dt d;
    memset(&d, 0, sizeof d);
    d.v = set & 3;
    d.aio_server = (set >> 2) & 1;
    d.stall = (set >> 3) & 1;
    d.abort_close = (set >> 4) & 1;
    d.sync = d.psync = 1;
    d.wait_left = 250;
    trace = getenv("TLSPLUG_FUZZ_TRACE") != NULL;
    int sv[2];
    FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    FZ_CHECK(tlsplug_loop_new(&d.loop, 0) == TLSPLUG_OK);
    FZ_CHECK(tlsplug_aio_new(&d.a, tlsplug_loop_reactor(d.loop), sv[0]) == TLSPLUG_OK);
    d.fd = sv[1];

    for (int i = 0; i < 512 && in.n; i++)
        step(&d, &in);
    run(&d, 0, 400);
    drain_plain(&d);
    /* a completed write is in the socket: the peer must have all of it */
    run(&d, 0, 400);
    if (d.psync && usable(&d) && d.write_cbs == d.writes)
        FZ_CHECK(d.peer_got == d.aio_written);
    aio_close(&d);
    /* a graceful close waits at most TLSPLUG_DEFAULT_CLOSE_TIMEOUT */
    for (int i = 0; i < 300 && !d.closed_cb; i++)
        run(&d, 5, 1000);
    FZ_CHECK(d.closed_cb);
    FZ_CHECK(d.read_cbs == d.reads && d.write_cbs == d.writes && d.op_cbs == d.ops);
    int rc = TLSPLUG_E_BUSY;
    for (int i = 0; i < 100 && (rc = tlsplug_loop_free(d.loop)) == TLSPLUG_E_BUSY; i++)
        tlsplug_loop_run_once(d.loop, 1);
    FZ_CHECK(rc == TLSPLUG_OK);
    peer_drop_tls(&d, PEER_PLAIN_MODE);
    close(d.fd);
    fz_wire_free(&d.out);
    fz_wire_free(&d.expect);
    return 0;
}
