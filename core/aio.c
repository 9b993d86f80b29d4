/*
 * The async I/O state machine:
 *
 *   PLAIN --attach--> ATTACHING --ok--> SECURE --detach--> DETACHING --> PLAIN
 *                          \--fail--> PLAIN        (close from any: CLOSING/CLOSED)
 *
 * Structure: API calls only record an operation and "kick" (arm a zero-delay
 * timer); reactor callbacks run pump(), which moves bytes and steps the
 * engine without ever calling the user, queueing completions instead; then
 * dispatch() runs the queued callbacks.  So no callback can fire inside the
 * call that started it, callbacks may call any API (including close) safely,
 * and the aio is freed in one place, after its close callback returned.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/aio_internal.h"

/* ---- completion queue ---------------------------------------------------- */

static void queue_push(tlsplug_aio *a, int kind, const struct tlsplug_error *e, size_t n)
{
    struct aio_completion *c = &a->done[kind - 1];
    /* one per kind can wait (see aio_completion); the guard keeps a broken
     * invariant from losing an owned record */
    if (c->queued)
        return;
    c->queued = 1;
    c->seq = a->done_seq++;
    c->has_err = e != NULL;
    c->err = NULL;
    if (e) {
        c->cls = e->cls;
        c->code = e->code;
        c->alert = (short)e->alert;
        if ((c->err = tlsplug__malloc(sizeof *c->err)))
            *c->err = *e;
    }
    c->n = n;
}

/* ---- the timer ------------------------------------------------------------ */

#define ARMED_KICK 1 /* armed_for: at once; below every real deadline */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Arms the timer for the earliest deadline.  A timer armed earlier than
 * needed (its deadline was cleared) is left to fire and re-arm: stopping and
 * starting would cost two timer-heap updates per completed timed read. */
static void schedule(tlsplug_aio *a)
{
    if (a->kick_pending || !a->t)
        return; /* the kick fires first and schedules again */
    uint64_t next = 0;
    for (int i = 0; i < AIO_T_COUNT; i++)
        if (a->deadline[i] && (!next || a->deadline[i] < next))
            next = a->deadline[i];
    if (next == a->armed_for || (next && a->armed_for && a->armed_for < next))
        return;
    if (!next) {
        a->r->ops->timer_stop(a->r->self, a->t);
        a->armed_for = 0;
        return;
    }
    uint64_t now = now_ns();
    /* rounded up: a timer may not fire before its deadline is due */
    uint64_t ms = next > now ? (next - now + 999999) / 1000000 : 0;
    a->r->ops->timer_start(a->r->self, a->t, ms);
    a->armed_for = next;
}

void tlsplug__aio_deadline(tlsplug_aio *a, int which, uint32_t ms)
{
    uint64_t d = 0;
    if (ms && ms != TLSPLUG_TIMEOUT_NONE)
        d = now_ns() + (uint64_t)ms * 1000000u;
    if (d == a->deadline[which])
        return;
    a->deadline[which] = d;
    schedule(a);
}

/* From inside one of this aio's callbacks the pump runs again once the
 * callback has returned (tlsplug__aio_dispatch), without a trip through the
 * reactor: a zero timer would cost one more poll per operation. */
void tlsplug__aio_kick_later(tlsplug_aio *a)
{
    if (a->kick_pending)
        return;
    a->kick_pending = 1;
    a->armed_for = ARMED_KICK;
    a->r->ops->timer_start(a->r->self, a->t, 0);
}

static void kick(tlsplug_aio *a)
{
    if (a->dispatching)
        a->repump = 1;
    else
        tlsplug__aio_kick_later(a);
}

static struct tlsplug_error mkerr(int cls, long code, const char *msg)
{
    struct tlsplug_error e;
    tlsplug__err_set(&e, cls, code, "%s", msg);
    return e;
}

static struct tlsplug_error errno_err(const char *what, int err)
{
    struct tlsplug_error e;
    tlsplug__err_set(&e, TLSPLUG_E_IO, err, "%s: %s", what, strerror(err));
    return e;
}

static void complete_read(tlsplug_aio *a, const struct tlsplug_error *e, size_t n)
{
    if (!a->rd.active)
        return;
    a->rd.active = 0;
    tlsplug__aio_deadline(a, AIO_T_READ, 0);
    queue_push(a, AIO_DONE_READ, e, n);
}

static void complete_write(tlsplug_aio *a, const struct tlsplug_error *e)
{
    if (!a->wr.active)
        return;
    a->wr.active = 0;
    tlsplug__aio_deadline(a, AIO_T_WRITE, 0);
    queue_push(a, AIO_DONE_WRITE, e, 0);
}

static void complete_op(tlsplug_aio *a, const struct tlsplug_error *e)
{
    if (!a->op.kind)
        return;
    a->op.kind = 0;
    tlsplug__aio_deadline(a, AIO_T_OP, 0);
    queue_push(a, AIO_DONE_OP, e, 0);
}

/* ---- transport helpers ---------------------------------------------------- */

/* One send or recv, EINTR retried: the bytes moved (recv: 0 at end of
 * file), IO_AGAIN when the socket is full or empty, IO_FAILED with *e
 * filled (errno read before anything else can change it). */
enum { IO_AGAIN = -1, IO_FAILED = -2 };

static ssize_t send_some(tlsplug_aio *a, const void *p, size_t len, struct tlsplug_error *e)
{
    for (;;) {
        ssize_t n = send(a->fd, p, len, MSG_NOSIGNAL);
        if (n > 0)
            return n;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return IO_AGAIN;
        *e = errno_err("send", n < 0 ? errno : EPIPE);
        return IO_FAILED;
    }
}

static ssize_t recv_some(tlsplug_aio *a, void *p, size_t len, struct tlsplug_error *e)
{
    for (;;) {
        ssize_t n = recv(a->fd, p, len, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return IO_AGAIN;
        *e = errno_err("recv", errno);
        return IO_FAILED;
    }
}

/* Sends what the engine has.  TLSPLUG_OK when empty, TLSPLUG_WANT_WRITE when the
 * socket is full, TLSPLUG_E_IO (a->io_err filled) on failure. */
static int flush(tlsplug_aio *a)
{
    if (!a->conn)
        return TLSPLUG_OK;
    if (a->sink_failed)
        return TLSPLUG_E_IO;
    if (!a->out_dirty)
        return TLSPLUG_OK;
    for (;;) {
        size_t len;
        const void *p = tlsplug_conn_send_buf(a->conn, &len);
        if (!len) {
            a->out_dirty = 0;
            return TLSPLUG_OK;
        }
        struct tlsplug_error e;
        ssize_t n = a->sink_full ? IO_AGAIN : send_some(a, p, len, &e);
        if (n > 0) {
            tlsplug_conn_send_ack(a->conn, (size_t)n);
            continue;
        }
        if (n == IO_AGAIN) {
            a->want_write = 1;
            return TLSPLUG_WANT_WRITE;
        }
        *tlsplug__err_lazy(&a->io_err) = e;
        return TLSPLUG_E_IO;
    }
}

/* The engine's sink: a record of application data goes straight to the
 * socket while nothing is buffered before it, instead of being copied into
 * the send buffer first.  A full socket or a failure is remembered for
 * flush, which then need not try again. */
static size_t sink(void *arg, const void *p, size_t len)
{
    tlsplug_aio *a = arg;
    if (a->sink_full || a->sink_failed)
        return 0;
    struct tlsplug_error e;
    ssize_t n = send_some(a, p, len, &e);
    if (n > 0)
        return (size_t)n;
    if (n == IO_AGAIN) {
        a->sink_full = 1;
    } else {
        *tlsplug__err_lazy(&a->io_err) = e;
        a->sink_failed = 1;
    }
    return 0;
}

/* The engine's source: the rest of a record body goes straight from the
 * socket into the library's buffer.  What it meets instead (an empty
 * socket, end of file, a failure) is remembered for fill. */
static size_t source(void *arg, void *p, size_t len)
{
    tlsplug_aio *a = arg;
    if (a->src_empty || a->src_eof || a->src_failed)
        return 0;
    struct tlsplug_error e;
    ssize_t n = recv_some(a, p, len, &e);
    if (n > 0)
        return (size_t)n;
    if (n == 0) {
        a->src_eof = 1;
    } else if (n == IO_AGAIN) {
        a->src_empty = 1;
    } else {
        *tlsplug__err_lazy(&a->io_err) = e;
        a->src_failed = 1;
    }
    return 0;
}

/* Reads ciphertext into the engine.  TLSPLUG_OK when bytes (or EOF) were
 * handed over, TLSPLUG_WANT_READ when the socket is empty, TLSPLUG_WANT_WRITE
 * when the receive buffer is full, TLSPLUG_E_CLOSED after end of file,
 * TLSPLUG_E_IO. */
static int fill(tlsplug_aio *a)
{
    if (a->src_failed)
        return TLSPLUG_E_IO;
    if (a->src_eof) {
        a->src_eof = 0;
        tlsplug_conn_recv_eof(a->conn);
        return TLSPLUG_OK;
    }
    if (a->src_empty) {
        a->want_read = 1;
        return TLSPLUG_WANT_READ;
    }
    size_t avail;
    void *dst = tlsplug_conn_recv_buf(a->conn, &avail);
    if (!dst && tlsplug__conn_failed(a->conn))
        return TLSPLUG_OK; /* no buffer (out of memory): the next step reports it */
    if (!dst) /* at end of file, or the receive buffer is full: calling again
               * changes nothing until the library takes some (no progress) */
        return avail == 0 && tlsplug__conn_unconsumed(a->conn) == 0 ? TLSPLUG_E_CLOSED
                                                                     : TLSPLUG_WANT_WRITE;
    struct tlsplug_error e;
    ssize_t n = recv_some(a, dst, avail, &e);
    if (n > 0) {
        tlsplug_conn_recv_ack(a->conn, (size_t)n);
        return TLSPLUG_OK;
    }
    if (n == 0) {
        tlsplug_conn_recv_eof(a->conn);
        return TLSPLUG_OK;
    }
    if (n == IO_AGAIN) {
        a->want_read = 1;
        return TLSPLUG_WANT_READ;
    }
    *tlsplug__err_lazy(&a->io_err) = e;
    return TLSPLUG_E_IO;
}

static void drop_tls(tlsplug_aio *a)
{
    tlsplug_conn_free(a->conn);
    a->conn = NULL;
    tlsplug_ctx_free(a->own_ctx);
    a->own_ctx = NULL;
}

static int plain_append(tlsplug_aio *a, const void *p, size_t n)
{
    if (!n)
        return TLSPLUG_OK;
    if (a->plain_off && a->plain_len == 0)
        a->plain_off = 0;
    uint8_t *np = tlsplug__realloc(a->plain, a->plain_off + a->plain_len + n);
    if (!np)
        return TLSPLUG_E_NO_MEMORY;
    memcpy(np + a->plain_off + a->plain_len, p, n);
    a->plain = np;
    a->plain_len += n;
    return TLSPLUG_OK;
}

/* ---- state steps: each returns 1 when it made progress ------------------- */

static int step_plain_read(tlsplug_aio *a)
{
    if (!a->rd.active)
        return 0;
    if (a->plain_len) {
        size_t k = a->plain_len < a->rd.cap ? a->plain_len : a->rd.cap;
        memcpy(a->rd.buf, a->plain + a->plain_off, k);
        a->plain_off += k;
        a->plain_len -= k;
        if (!a->plain_len) {
            tlsplug__free(a->plain);
            a->plain = NULL;
            a->plain_off = 0;
        }
        complete_read(a, NULL, k);
        return 1;
    }
    struct tlsplug_error e;
    ssize_t n = recv_some(a, a->rd.buf, a->rd.cap, &e);
    if (n == IO_AGAIN) {
        a->want_read = 1;
        return 0;
    }
    if (n == 0)
        e = mkerr(TLSPLUG_E_CLOSED, 0, "end of stream");
    complete_read(a, n > 0 ? NULL : &e, n > 0 ? (size_t)n : 0);
    return 1;
}

static int step_plain_write(tlsplug_aio *a)
{
    if (!a->wr.active)
        return 0;
    if (a->wr.shutdown) {
        if (shutdown(a->fd, SHUT_WR) != 0 && errno != ENOTCONN) {
            struct tlsplug_error e = errno_err("shutdown", errno);
            complete_write(a, &e);
            return 1;
        }
        complete_write(a, NULL);
        return 1;
    }
    while (a->wr.done < a->wr.len) {
        struct tlsplug_error e;
        ssize_t n = send_some(a, a->wr.buf + a->wr.done, a->wr.len - a->wr.done, &e);
        if (n > 0) {
            a->wr.done += (size_t)n;
            continue;
        }
        if (n == IO_AGAIN) {
            a->want_write = 1;
            return 0;
        }
        complete_write(a, &e);
        return 1;
    }
    complete_write(a, NULL);
    return 1;
}

static int step_connect(tlsplug_aio *a)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr == EINPROGRESS || soerr == EALREADY || soerr == EINTR) {
        a->want_write = 1;
        return 0;
    }
    if (soerr == 0) {
        /* Writable with no error can also mean "not yet" on some kernels:
         * getpeername tells connected apart. */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(a->fd, (struct sockaddr *)&ss, &sl) != 0) {
            if (errno != ENOTCONN) {
                soerr = errno;
            } else {
                a->want_write = 1;
                return 0;
            }
        }
    }
    if (soerr) {
        struct tlsplug_error e = errno_err("connect", soerr);
        tlsplug__aio_fail_connect(a, &e);
        return 1;
    }
    a->connecting = 0;
    if (a->ca) {
        int rc = tlsplug__aio_begin_attach(a, &a->ca->o);
        if (rc) {
            tlsplug__aio_fail_connect(a, tlsplug__err_peek(&a->attach_err));
            return 1;
        }
        /* the connect operation continues as the attach */
        return 1;
    }
    complete_op(a, NULL);
    return 1;
}

static void fail_attach(tlsplug_aio *a, const struct tlsplug_error *e)
{
    struct tlsplug_error copy = *e;
    flush(a); /* best effort: let the peer see our alert */
    drop_tls(a);
    a->state = TLSPLUG_AIO_PLAIN;
    if (a->op.kind == AIO_OP_CONNECT)
        tlsplug__aio_fail_connect(a, &copy);
    else
        complete_op(a, &copy);
}

static int step_attach(tlsplug_aio *a)
{
    int rc = tlsplug_conn_handshake(a->conn);
    a->out_dirty = 1;
    int fl = flush(a);
    if (rc < 0) {
        fail_attach(a, tlsplug_conn_error(a->conn));
        return 1;
    }
    if (fl == TLSPLUG_E_IO) {
        fail_attach(a, tlsplug__err_peek(&a->io_err));
        return 1;
    }
    if (rc == TLSPLUG_OK) {
        a->state = TLSPLUG_AIO_SECURE;
        complete_op(a, NULL);
        return 1;
    }
    if (rc == TLSPLUG_WANT_READ) {
        int fr = fill(a);
        if (fr == TLSPLUG_OK)
            return 1;
        if (fr == TLSPLUG_E_IO) {
            fail_attach(a, tlsplug__err_peek(&a->io_err));
            return 1;
        }
        return 0;
    }
    /* WANT_WRITE: go on if the flush emptied the engine, else wait */
    return fl == TLSPLUG_OK;
}

static int step_secure_read(tlsplug_aio *a)
{
    if (!a->rd.active)
        return 0;
    size_t n = 0;
    int rc = tlsplug_conn_read(a->conn, a->rd.buf, a->rd.cap, &n);
    a->out_dirty = 1;
    int fl = flush(a);
    if (rc == TLSPLUG_OK) {
        complete_read(a, NULL, n);
        return 1;
    }
    if (rc < 0) {
        complete_read(a, tlsplug_conn_error(a->conn), 0);
        return 1;
    }
    if (fl == TLSPLUG_E_IO) {
        complete_read(a, tlsplug__err_peek(&a->io_err), 0);
        return 1;
    }
    /* WANT_WRITE too: a read must not wait behind a write the peer is not
     * draining (it may be waiting for us to read first). */
    if (rc == TLSPLUG_WANT_READ || rc == TLSPLUG_WANT_WRITE) {
        int fr = fill(a);
        if (fr == TLSPLUG_OK)
            return 1;
        if (fr == TLSPLUG_E_IO) {
            complete_read(a, tlsplug__err_peek(&a->io_err), 0);
            return 1;
        }
    }
    return 0;
}

/* Queues close_notify, flushing to make room when the engine's buffer is
 * full.  TLSPLUG_OK once queued (a->close_sent), TLSPLUG_WANT_WRITE to wait,
 * TLSPLUG_E_IO (a->io_err) or the engine's error class. */
static int queue_close_notify(tlsplug_aio *a)
{
    while (!a->close_sent) {
        int rc = tlsplug_conn_shutdown(a->conn);
        a->out_dirty = 1;
        if (rc < 0)
            return rc;
        if (rc == TLSPLUG_OK) {
            a->close_sent = 1;
            break;
        }
        int fl = flush(a);
        if (fl != TLSPLUG_OK)
            return fl;
    }
    return TLSPLUG_OK;
}

static int step_secure_write(tlsplug_aio *a)
{
    if (!a->wr.active)
        return 0;
    int progress = 0;
    if (a->wr.shutdown && !a->close_sent) {
        int rc = queue_close_notify(a);
        if (rc == TLSPLUG_E_IO) {
            complete_write(a, tlsplug__err_peek(&a->io_err));
            return 1;
        }
        if (rc < 0) {
            complete_write(a, tlsplug_conn_error(a->conn));
            return 1;
        }
        if (rc != TLSPLUG_OK)
            return 0;
    }
    for (;;) {
        int fl = flush(a);
        if (fl == TLSPLUG_E_IO) {
            complete_write(a, tlsplug__err_peek(&a->io_err));
            return 1;
        }
        if (a->wr.done == a->wr.len) {
            if (a->wr.shutdown && !a->close_sent)
                return progress;
            if (fl == TLSPLUG_OK) {
                complete_write(a, NULL);
                return 1;
            }
            return progress;
        }
        size_t n = 0;
        int rc = tlsplug_conn_write(a->conn, a->wr.buf + a->wr.done, a->wr.len - a->wr.done, &n);
        a->out_dirty = 1;
        if (rc == TLSPLUG_OK) {
            a->wr.done += n;
            progress = 1;
            continue;
        }
        if (rc < 0) {
            complete_write(a, tlsplug_conn_error(a->conn));
            return 1;
        }
        /* WANT_WRITE: the engine's buffer is full; go on only if the socket
         * took some of it */
        if (fl == TLSPLUG_WANT_WRITE)
            return progress;
        if (rc == TLSPLUG_WANT_READ) {
            a->want_read = 1;
            return progress;
        }
    }
}

static void finish_detach(tlsplug_aio *a, const struct tlsplug_error *e)
{
    struct tlsplug_error copy;
    if (e)
        copy = *e;
    drop_tls(a);
    a->state = TLSPLUG_AIO_PLAIN;
    a->write_shut = 0; /* a TLS half-close ends with TLS; TCP is still open */
    complete_op(a, e ? &copy : NULL);
}

static int step_detach(tlsplug_aio *a)
{
    if (!a->detach_sent) {
        int rc = tlsplug_conn_shutdown(a->conn);
        a->out_dirty = 1;
        if (rc < 0) {
            finish_detach(a, tlsplug_conn_error(a->conn));
            return 1;
        }
        if (rc == TLSPLUG_OK)
            a->detach_sent = 1;
    }
    int fl = flush(a);
    if (fl == TLSPLUG_E_IO) {
        finish_detach(a, tlsplug__err_peek(&a->io_err));
        return 1;
    }
    if (!a->detach_sent)
        return fl == TLSPLUG_OK; /* room was made: queue close_notify again */
    int progress = 0;
    while (!a->detach_peer_closed) {
        uint8_t tmp[4096];
        size_t n = 0;
        int rc = tlsplug_conn_read(a->conn, tmp, sizeof tmp, &n);
        a->out_dirty = 1;
        if (rc == TLSPLUG_OK) {
            /* data the peer sent under TLS before its close_notify: keep it for
             * the next reads rather than lose it */
            if (plain_append(a, tmp, n)) {
                struct tlsplug_error e = mkerr(TLSPLUG_E_NO_MEMORY, 0, "out of memory");
                finish_detach(a, &e);
                return 1;
            }
            progress = 1;
            continue;
        }
        if (rc == TLSPLUG_E_CLOSED) {
            a->detach_peer_closed = 1;
            size_t len;
            const void *rest = tlsplug_conn_unread(a->conn, &len);
            if (plain_append(a, rest, len)) {
                struct tlsplug_error e = mkerr(TLSPLUG_E_NO_MEMORY, 0, "out of memory");
                finish_detach(a, &e);
                return 1;
            }
            tlsplug_conn_unread_ack(a->conn, len);
            progress = 1;
            break;
        }
        if (rc < 0) {
            finish_detach(a, tlsplug_conn_error(a->conn));
            return 1;
        }
        if (rc == TLSPLUG_WANT_READ) {
            flush(a);
            int fr = fill(a);
            if (fr == TLSPLUG_OK) {
                progress = 1;
                continue;
            }
            if (fr == TLSPLUG_E_IO) {
                finish_detach(a, tlsplug__err_peek(&a->io_err));
                return 1;
            }
        }
        return progress;
    }
    if (flush(a) == TLSPLUG_OK) {
        finish_detach(a, NULL);
        return 1;
    }
    return progress;
}

/* ---- closing ------------------------------------------------------------- */

static void release_handles(tlsplug_aio *a)
{
    if (a->w) {
        a->r->ops->watch_free(a->r->self, a->w);
        a->w = NULL;
    }
    for (int i = 0; i < AIO_T_COUNT; i++)
        a->deadline[i] = 0;
    a->idle_armed = 0;
    schedule(a);
}

/* Everything but the timer (its kick delivers the queue) goes. */
void tlsplug__aio_finish_close(tlsplug_aio *a, int abort_conn)
{
    static const struct tlsplug_error canceled = {TLSPLUG_E_CANCELED, 0, -1, "operation canceled: "
                                                                             "the aio was closed"};
    complete_read(a, &canceled, 0);
    complete_write(a, &canceled);
    complete_op(a, &canceled);
    release_handles(a);
    drop_tls(a);
    if (a->fd >= 0) {
        if (abort_conn) {
            struct linger lg = {1, 0};
            setsockopt(a->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(a->fd);
        a->fd = -1;
    }
    tlsplug__free(a->plain);
    a->plain = NULL;
    a->plain_len = a->plain_off = 0;
    a->state = TLSPLUG_AIO_CLOSED;
    if (a->close_cb_set)
        queue_push(a, AIO_DONE_CLOSE, NULL, 0);
    kick(a);
}

static int step_closing(tlsplug_aio *a)
{
    if (a->conn && !a->close_sent) {
        int rc = queue_close_notify(a);
        if (rc < 0) {
            tlsplug__aio_finish_close(a, 0);
            return 1;
        }
        if (rc != TLSPLUG_OK)
            return 0;
    }
    if (flush(a) == TLSPLUG_WANT_WRITE)
        return 0;
    tlsplug__aio_finish_close(a, 0);
    return 1;
}

/* ---- the pump ------------------------------------------------------------ */

static void update_interest(tlsplug_aio *a)
{
    if (!a->w)
        return;
    int ev = (a->want_read ? TLSPLUG_EV_READ : 0) | (a->want_write ? TLSPLUG_EV_WRITE : 0);
    if (ev != a->events) {
        a->r->ops->watch_set(a->r->self, a->w, ev);
        a->events = ev;
    }
}

/* A secure connection with nothing to do but wait for the peer. */
static int quiet(const tlsplug_aio *a)
{
    return a->state == TLSPLUG_AIO_SECURE && a->conn &&
           ((!a->rd.active && !a->wr.active) || (a->want_read && !a->want_write));
}

static void release_buffers(tlsplug_aio *a)
{
    if (!a->rd.active && !a->wr.active)
        tlsplug__conn_idle(a->conn);
    else /* a read waits for the peer: what is in flight stays */
        tlsplug_conn_idle(a->conn);
    a->idle_done = 1;
}

static void arm_idle(tlsplug_aio *a)
{
    if (a->idle_armed || a->idle_done || !quiet(a))
        return;
    a->idle_armed = 1;
    a->idle_mark = a->activity;
    tlsplug__aio_deadline(a, AIO_T_IDLE, TLSPLUG_AIO_IDLE_RELEASE_MS);
}

void tlsplug__aio_pump(tlsplug_aio *a)
{
    int progress = 1, any = 0;
    while (progress && a->state != TLSPLUG_AIO_CLOSED) {
        a->want_read = a->want_write = 0;
        a->sink_full = a->src_empty = 0;
        progress = 0;
        switch (a->state) {
        case TLSPLUG_AIO_PLAIN:
            if (a->connecting) {
                progress |= step_connect(a);
                break;
            }
            progress |= step_plain_read(a);
            progress |= step_plain_write(a);
            break;
        case TLSPLUG_AIO_ATTACHING:
            progress |= step_attach(a);
            break;
        case TLSPLUG_AIO_SECURE:
            progress |= step_secure_read(a);
            progress |= step_secure_write(a);
            if (a->state == TLSPLUG_AIO_SECURE && flush(a) == TLSPLUG_E_IO && !progress)
                a->want_write = 0; /* the next read or write reports it */
            break;
        case TLSPLUG_AIO_DETACHING:
            progress |= step_detach(a);
            break;
        case TLSPLUG_AIO_CLOSING:
            progress |= step_closing(a);
            break;
        case TLSPLUG_AIO_CLOSED:
            break;
        }
        any |= progress;
    }
    if (any) {
        a->activity++;
        a->idle_done = 0;
    }
    /* Core's empty buffers go at every pause: kept, 10,000 busy connections
     * would hold 37 KiB each and grow the heap into fresh pages.  The
     * library's release waits for the idle timer. */
    if (quiet(a))
        tlsplug__conn_trim(a->conn);
    arm_idle(a);
    update_interest(a);
}

static void destroy(tlsplug_aio *a)
{
    if (a->t)
        a->r->ops->timer_free(a->r->self, a->t);
    if (a->ca) {
        tlsplug_ctx_free(a->ca->o.ctx);
        tlsplug__free(a->ca->name);
        tlsplug__free(a->ca->initial);
        tlsplug__free(a->ca);
    }
    tlsplug__free(a->attach_err);
    tlsplug__free(a->io_err);
    tlsplug__free(a);
}

/* The kind queued first, 0 when none is. */
static int next_done(const tlsplug_aio *a)
{
    int best = 0;
    for (int k = AIO_DONE_READ; k <= AIO_DONE_CLOSE; k++)
        if (a->done[k - 1].queued &&
            (!best || (int)(a->done[k - 1].seq - a->done[best - 1].seq) < 0))
            best = k;
    return best;
}

void tlsplug__aio_dispatch(tlsplug_aio *a)
{
    if (a->dispatching)
        return;
    a->dispatching = 1;
    for (int round = 0;; round++) {
        int kind;
        while ((kind = next_done(a))) {
            struct aio_completion c = a->done[kind - 1];
            a->done[kind - 1].queued = 0;
            struct tlsplug_error spare;
            const tlsplug_error *e = c.err;
            if (c.has_err && !e) {
                tlsplug__err_lost(&spare, c.cls, c.code, c.alert);
                e = &spare;
            }
            /* cb and arg are read before the call: it may start the next
             * operation of the same kind */
            switch (kind) {
            case AIO_DONE_READ:
                a->rd.cb(a, e, a->rd.buf, c.n, a->rd.arg);
                break;
            case AIO_DONE_WRITE:
                a->wr.cb(a, e, a->wr.arg);
                break;
            case AIO_DONE_OP:
                if (a->op.cb)
                    a->op.cb(a, e, a->op.arg);
                break;
            case AIO_DONE_CLOSE:
                if (a->close_cb)
                    a->close_cb(a, e, a->close_arg);
                break;
            }
            tlsplug__free(c.err);
        }
        if (!a->repump || a->state == TLSPLUG_AIO_CLOSED)
            break;
        a->repump = 0;
        if (round == 8) { /* a busy connection yields to the others */
            tlsplug__aio_kick_later(a);
            break;
        }
        tlsplug__aio_pump(a);
    }
    a->repump = 0;
    a->dispatching = 0;
    if (a->state == TLSPLUG_AIO_CLOSED && !next_done(a))
        destroy(a);
}

static void on_watch(tlsplug_watch *w, int events, void *arg)
{
    tlsplug_aio *a = arg;
    tlsplug__aio_pump(a);
    tlsplug__aio_dispatch(a);
}

static void op_timed_out(tlsplug_aio *a)
{
    switch (a->state) {
    case TLSPLUG_AIO_ATTACHING: {
        struct tlsplug_error e = mkerr(TLSPLUG_E_TIMEOUT, 0, "TLS handshake timed out");
        fail_attach(a, &e);
        break;
    }
    case TLSPLUG_AIO_DETACHING: {
        struct tlsplug_error e =
            mkerr(TLSPLUG_E_TIMEOUT, 0, "detach timed out waiting for the peer's close_notify");
        finish_detach(a, &e);
        break;
    }
    case TLSPLUG_AIO_CLOSING:
        tlsplug__aio_finish_close(a, 0);
        break;
    default:
        if (a->connecting) {
            struct tlsplug_error e = mkerr(TLSPLUG_E_TIMEOUT, ETIMEDOUT, "connect timed out");
            tlsplug__aio_fail_connect(a, &e);
        }
        break;
    }
}

/* Takes the deadline if it is due. */
static int due(tlsplug_aio *a, int which, uint64_t now)
{
    if (!a->deadline[which] || a->deadline[which] > now)
        return 0;
    a->deadline[which] = 0;
    return 1;
}

static void on_timer(tlsplug_timer *t, void *arg)
{
    tlsplug_aio *a = arg;
    int run = a->kick_pending;
    a->kick_pending = 0;
    a->armed_for = 0;
    uint64_t now = 0;
    for (int i = 0; i < AIO_T_COUNT && !now; i++)
        if (a->deadline[i])
            now = now_ns();
    if (now) {
        if (due(a, AIO_T_READ, now)) {
            struct tlsplug_error e = mkerr(TLSPLUG_E_TIMEOUT, 0, "read timed out");
            complete_read(a, &e, 0);
            run = 1;
        }
        if (due(a, AIO_T_WRITE, now)) {
            struct tlsplug_error e = mkerr(TLSPLUG_E_TIMEOUT, 0, "write timed out");
            complete_write(a, &e);
            run = 1;
        }
        if (due(a, AIO_T_OP, now)) {
            op_timed_out(a);
            run = 1;
        }
        if (due(a, AIO_T_IDLE, now)) {
            a->idle_armed = 0;
            if (a->activity == a->idle_mark && quiet(a))
                release_buffers(a);
            else
                arm_idle(a); /* busy meanwhile: look again a period later */
        }
    }
    schedule(a);
    if (!run)
        return;
    tlsplug__aio_pump(a);
    tlsplug__aio_dispatch(a);
}

/* ---- public API ------------------------------------------------------------ */

int tlsplug_aio_new(tlsplug_aio **out, tlsplug_reactor *r, int fd)
{
    if (!out || !r || !r->ops || fd < 0) {
        if (fd >= 0)
            close(fd);
        return TLSPLUG_E_INVALID_ARGUMENT;
    }
    *out = NULL;
    tlsplug_aio *a = tlsplug__calloc(1, sizeof *a);
    if (!a) {
        close(fd);
        return TLSPLUG_E_NO_MEMORY;
    }
    a->r = r;
    a->fd = fd;
    const tlsplug_reactor_ops *o = r->ops;
    int rc;
    if ((rc = o->watch_new(r->self, fd, on_watch, a, &a->w)) != 0 ||
        (rc = o->timer_new(r->self, on_timer, a, &a->t)) != 0) {
        release_handles(a);
        if (a->t)
            o->timer_free(r->self, a->t);
        tlsplug__free(a);
        close(fd);
        /* the reactor's class: a bad descriptor is not out of memory */
        return rc < 0 && rc >= TLSPLUG_ERRCLASS_MIN ? rc : TLSPLUG_E_NO_MEMORY;
    }
    *out = a;
    return TLSPLUG_OK;
}

void tlsplug_aio_set_data(tlsplug_aio *a, void *data)
{
    if (a)
        a->data = data;
}

void *tlsplug_aio_get_data(const tlsplug_aio *a)
{
    return a ? a->data : NULL;
}

int tlsplug_aio_fd(const tlsplug_aio *a)
{
    return a ? a->fd : -1;
}

tlsplug_aio_state tlsplug_aio_state_of(const tlsplug_aio *a)
{
    return a ? a->state : TLSPLUG_AIO_CLOSED;
}

tlsplug_conn *tlsplug_aio_conn(tlsplug_aio *a)
{
    return a && (a->state == TLSPLUG_AIO_SECURE || a->state == TLSPLUG_AIO_DETACHING) ? a->conn
                                                                                    : NULL;
}

/* Any read, write or attach/detach not yet completed, or completed with its
 * callback still queued. */
static int ops_pending(const tlsplug_aio *a)
{
    return a->rd.active || a->wr.active || a->done[AIO_DONE_READ - 1].queued ||
           a->done[AIO_DONE_WRITE - 1].queued || a->done[AIO_DONE_OP - 1].queued;
}

static int usable_for_io(const tlsplug_aio *a)
{
    if (a->state == TLSPLUG_AIO_PLAIN && !a->connecting)
        return TLSPLUG_OK;
    if (a->state == TLSPLUG_AIO_SECURE)
        return TLSPLUG_OK;
    if (a->state == TLSPLUG_AIO_CLOSING || a->state == TLSPLUG_AIO_CLOSED)
        return TLSPLUG_E_INVALID_ARGUMENT;
    return TLSPLUG_E_BUSY;
}

int tlsplug_aio_read(tlsplug_aio *a, void *buf, size_t cap, uint32_t timeout_ms,
                     tlsplug_aio_read_cb cb, void *arg)
{
    if (!a || !buf || !cap || !cb)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = usable_for_io(a);
    if (rc)
        return rc;
    if (a->rd.active || a->done[AIO_DONE_READ - 1].queued)
        return TLSPLUG_E_BUSY;
    a->rd.active = 1;
    a->rd.buf = buf;
    a->rd.cap = cap;
    a->rd.cb = cb;
    a->rd.arg = arg;
    tlsplug__aio_deadline(a, AIO_T_READ, timeout_ms);
    kick(a);
    return TLSPLUG_OK;
}

/* Writes and the half-close share one slot: TLSPLUG_OK when it is free. */
static int write_slot_free(const tlsplug_aio *a)
{
    int rc = usable_for_io(a);
    if (rc)
        return rc;
    if (a->wr.active || a->done[AIO_DONE_WRITE - 1].queued)
        return TLSPLUG_E_BUSY;
    return a->write_shut ? TLSPLUG_E_INVALID_ARGUMENT : TLSPLUG_OK;
}

int tlsplug_aio_write(tlsplug_aio *a, const void *buf, size_t len, uint32_t timeout_ms,
                      tlsplug_aio_cb cb, void *arg)
{
    if (!a || (!buf && len) || !cb)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = write_slot_free(a);
    if (rc)
        return rc;
    a->wr.active = 1;
    a->wr.shutdown = 0;
    a->wr.buf = buf;
    a->wr.len = len;
    a->wr.done = 0;
    a->wr.cb = cb;
    a->wr.arg = arg;
    tlsplug__aio_deadline(a, AIO_T_WRITE, timeout_ms);
    kick(a);
    return TLSPLUG_OK;
}

int tlsplug_aio_shutdown(tlsplug_aio *a, uint32_t timeout_ms, tlsplug_aio_cb cb, void *arg)
{
    if (!a || !cb)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = write_slot_free(a);
    if (rc)
        return rc;
    a->write_shut = 1;
    a->close_sent = 0;
    a->wr.active = 1;
    a->wr.shutdown = 1;
    a->wr.buf = NULL;
    a->wr.len = a->wr.done = 0;
    a->wr.cb = cb;
    a->wr.arg = arg;
    tlsplug__aio_deadline(a, AIO_T_WRITE, timeout_ms);
    kick(a);
    return TLSPLUG_OK;
}

int tlsplug__ctx_new_default(tlsplug_ctx **out, tlsplug_side side, tlsplug_native_hook hook,
                             void *arg, tlsplug_error **err);

/* Makes the engine and enters ATTACHING; the caller has set a->op. */
int tlsplug__aio_begin_attach(tlsplug_aio *a, const tlsplug_attach_options *o)
{
    tlsplug_error *err = NULL;
    tlsplug_ctx *ctx = o->ctx;
    int rc;
    if (!ctx) {
        tlsplug_side side = o->side ? o->side : TLSPLUG_SIDE_SERVER;
        rc = tlsplug__ctx_new_default(&a->own_ctx, side, o->ctx_configure, o->ctx_configure_arg,
                                      &err);
        if (rc)
            goto fail;
        ctx = a->own_ctx;
    }
    tlsplug_conn_options co = {.side = o->side,
                               .server_name = o->server_name,
                               .ssl_configure = o->ssl_configure,
                               .ssl_configure_arg = o->ssl_configure_arg};
    rc = tlsplug_conn_new(&a->conn, ctx, &co, &err);
    if (rc)
        goto fail;
    a->sink_failed = a->src_failed = a->src_eof = 0;
    tlsplug__conn_set_sink(a->conn, sink, a);
    tlsplug__conn_set_source(a->conn, source, a);
    if (o->initial_len && tlsplug_conn_feed(a->conn, o->initial_data, o->initial_len) !=
                              o->initial_len) {
        rc = tlsplug__err_outf(&err, TLSPLUG_E_INVALID_ARGUMENT,
                               "initial_data is larger than the engine's receive buffer");
        goto fail;
    }
    a->state = TLSPLUG_AIO_ATTACHING;
    tlsplug__aio_deadline(a, AIO_T_OP,
                          o->handshake_timeout_ms ? o->handshake_timeout_ms
                                                  : TLSPLUG_DEFAULT_HANDSHAKE_TIMEOUT);
    kick(a);
    return TLSPLUG_OK;
fail:
    if (err) {
        *tlsplug__err_lazy(&a->attach_err) = *err;
        tlsplug_error_free(err);
    } else {
        tlsplug__err_set(tlsplug__err_lazy(&a->attach_err), rc, 0, "attach failed: %s",
                         tlsplug_error_name(rc));
    }
    drop_tls(a);
    return rc;
}

int tlsplug_aio_attach(tlsplug_aio *a, const tlsplug_attach_options *opts, tlsplug_aio_cb cb,
                       void *arg)
{
    static const tlsplug_attach_options defaults = {0};
    if (!a || !cb)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (!opts)
        opts = &defaults;
    if (a->state == TLSPLUG_AIO_CLOSING || a->state == TLSPLUG_AIO_CLOSED)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (a->state != TLSPLUG_AIO_PLAIN || a->connecting || a->op.kind || ops_pending(a))
        return TLSPLUG_E_BUSY;
    if (opts->ctx && opts->ctx_configure)
        return TLSPLUG_E_INVALID_ARGUMENT; /* the hook only applies to a context made here */
    if (opts->initial_len && !opts->initial_data)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (a->plain_len)
        /* plain bytes buffered from a detach must be read first, or they would
         * be taken for TLS */
        return TLSPLUG_E_BUSY;
    int rc = tlsplug__aio_begin_attach(a, opts);
    if (rc)
        return rc;
    a->op.kind = AIO_OP_ATTACH;
    a->op.cb = cb;
    a->op.arg = arg;
    return TLSPLUG_OK;
}

/* The last synchronous attach failure, for callers that want its message. */
const tlsplug_error *tlsplug__aio_attach_error(const tlsplug_aio *a)
{
    return tlsplug__err_peek(&a->attach_err);
}

int tlsplug_aio_detach(tlsplug_aio *a, uint32_t timeout_ms, tlsplug_aio_cb cb, void *arg)
{
    if (!a || !cb)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (a->state == TLSPLUG_AIO_CLOSING || a->state == TLSPLUG_AIO_CLOSED)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (a->op.kind || ops_pending(a) || a->connecting ||
        (a->state != TLSPLUG_AIO_PLAIN && a->state != TLSPLUG_AIO_SECURE))
        return TLSPLUG_E_BUSY;
    a->op.kind = AIO_OP_DETACH;
    a->op.cb = cb;
    a->op.arg = arg;
    if (a->state == TLSPLUG_AIO_PLAIN) {
        complete_op(a, NULL); /* nothing to detach: success, delivered later */
        kick(a);
        return TLSPLUG_OK;
    }
    a->state = TLSPLUG_AIO_DETACHING;
    a->detach_sent = 0;
    a->detach_peer_closed = 0;
    tlsplug__aio_deadline(a, AIO_T_OP, timeout_ms ? timeout_ms : TLSPLUG_DEFAULT_DETACH_TIMEOUT);
    kick(a);
    return TLSPLUG_OK;
}

static void close_common(tlsplug_aio *a, tlsplug_aio_cb cb, void *arg, int abort_conn)
{
    if (!a || a->state == TLSPLUG_AIO_CLOSING || a->state == TLSPLUG_AIO_CLOSED ||
        a->close_requested)
        return;
    a->close_requested = 1;
    a->close_cb = cb;
    a->close_arg = arg;
    a->close_cb_set = 1;
    int graceful = !abort_conn && a->state == TLSPLUG_AIO_SECURE && a->conn &&
                   !tlsplug__conn_failed(a->conn);
    if (!graceful) {
        tlsplug__aio_finish_close(a, abort_conn);
        return;
    }
    static const struct tlsplug_error canceled = {TLSPLUG_E_CANCELED, 0, -1,
                                                  "operation canceled: the aio was closed"};
    complete_read(a, &canceled, 0);
    complete_write(a, &canceled);
    complete_op(a, &canceled);
    a->state = TLSPLUG_AIO_CLOSING;
    a->close_sent = 0;
    tlsplug__aio_deadline(a, AIO_T_OP, TLSPLUG_DEFAULT_CLOSE_TIMEOUT);
    kick(a);
}

void tlsplug_aio_close(tlsplug_aio *a, tlsplug_aio_cb cb, void *arg)
{
    close_common(a, cb, arg, 0);
}

void tlsplug_aio_abort(tlsplug_aio *a, tlsplug_aio_cb cb, void *arg)
{
    close_common(a, cb, arg, 1);
}

/* A failed connect closes the aio: the caller gets the error through the
 * connect callback and must not touch the aio afterwards. */
void tlsplug__aio_fail_connect(tlsplug_aio *a, const struct tlsplug_error *e)
{
    struct tlsplug_error copy = *e;
    a->connecting = 0;
    complete_op(a, &copy);
    a->close_requested = 1;
    a->close_cb_set = 0;
    tlsplug__aio_finish_close(a, 0);
}
