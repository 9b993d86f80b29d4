/* Loopback TCP echo over one connection, both ends in this thread: tlsplug
 * aios on the built-in loop against the library driven on a plain epoll loop
 * of our own.  Two patterns: small-message round trips (64 bytes, one in
 * flight) and throughput (the client streams 16 KiB writes and counts the
 * bytes echoed back).  The system calls made in the window are counted.
 * Under --callgrind the same traffic runs for a fixed number of operations
 * instead of a time, inside tlsplug_bench_cg_region. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define CHUNK 16384
#define SMALL 64
/* Throughput: bytes the client may have out unechoed.  A bounded pipeline,
 * so neither end can starve the other inside one wake-up. */
#define WINDOW (4 * CHUNK)

enum { M_RT, M_TPUT };

typedef struct echo_out {
    double rate;     /* round trips/s or MB/s echoed               */
    double syscalls; /* per round trip or per 16 KiB echoed        */
    double copies;   /* bytes memcpy'd per byte echoed (M_TPUT)    */
    double kind[BENCH_SC_KINDS]; /* syscalls by kind, same unit     */
} echo_out;

/* Callgrind: warm operations first (first-use allocations), then ops
 * operations inside the region.  An operation is a round trip (M_RT) or a
 * 16 KiB chunk echoed (M_TPUT). */
typedef struct echo_cg {
    unsigned long long warm, ops;
    int ran, ok;
} echo_cg;

/* The client's progress, kept alike by both sides: what the measured phase
 * counts and when it stops. */
typedef struct echo_prog {
    int mode;
    size_t acc;
    unsigned long long rts, rbytes, sent;
    unsigned long long limit; /* operations to stop at; 0: until end */
    double end;
} echo_prog;

static int prog_done(const echo_prog *p)
{
    return p->limit && (p->mode == M_RT ? p->rts >= p->limit : p->rbytes >= p->limit * CHUNK);
}

static void out_nan(echo_out *r)
{
    r->rate = r->syscalls = r->copies = NAN;
    for (int k = 0; k < BENCH_SC_KINDS; k++)
        r->kind[k] = NAN;
}

typedef struct sys_snap {
    unsigned long long all, kind[BENCH_SC_KINDS], copies;
} sys_snap;

static sys_snap snap(void)
{
    sys_snap s = {bench_syscalls(), {0}, bench_copy_bytes()};
    for (int k = 0; k < BENCH_SC_KINDS; k++)
        s.kind[k] = bench_syscalls_of(k);
    return s;
}

/* Fills r from the window [t0, t] that started at snapshot s0. */
static void finish(echo_out *r, int mode, sys_snap s0, double t0, double t,
                   unsigned long long rts, unsigned long long rbytes)
{
    sys_snap s1 = snap();
    double units = mode == M_RT ? (double)rts : (double)rbytes / CHUNK;
    r->rate = mode == M_RT ? (double)rts / (t - t0) : (double)rbytes / (t - t0) / 1e6;
    if (units <= 0)
        return;
    r->syscalls = (double)(s1.all - s0.all) / units;
    for (int k = 0; k < BENCH_SC_KINDS; k++)
        r->kind[k] = (double)(s1.kind[k] - s0.kind[k]) / units;
    if (mode == M_TPUT)
        r->copies = (double)(s1.copies - s0.copies) / (double)rbytes;
}

/* The measured phase, phase(arg) with p its progress: under callgrind
 * (cg) cg->warm operations, then cg->ops more inside the region; else for
 * o->echo_s, timed and counted into r. */
static void run_phase(const bench_opts *o, echo_prog *p, int (*phase)(void *), void *arg,
                      echo_out *r, echo_cg *cg)
{
    if (cg) {
        p->end = bench_now() + 60;
        p->limit = cg->warm;
        if (phase(arg))
            return;
        p->limit = cg->warm + cg->ops;
        int rc = -1;
        tlsplug_bench_cg_region(phase, arg, &rc);
        cg->ran = 1;
        cg->ok = rc == 0;
        return;
    }
    sys_snap s0 = snap();
    double t0 = bench_now();
    p->end = t0 + o->echo_s;
    int prc = phase(arg);
    double t = bench_now();
    if (!prc)
        finish(r, p->mode, s0, t0, t, p->rts, p->rbytes);
}

/* ---- tlsplug side --------------------------------------------------------- */

typedef struct techo {
    tlsplug_loop *loop;
    tlsplug_listener *l;
    tlsplug_aio *c, *s;
    int stop, failed, c_ready, c_writing, c_reading;
    echo_prog p;
    unsigned char *cw, *cr, *sb;
} techo;

static void t_fail(techo *x, const char *what, const tlsplug_error *err)
{
    if (!x->failed && !x->stop)
        bench_note("tlsplug echo: %s: %s", what, err ? tlsplug_error_message(err) : "failed");
    x->failed = 1;
}

static void t_s_read(tlsplug_aio *a, const tlsplug_error *err, void *buf, size_t n, void *arg);

static void t_s_wrote(tlsplug_aio *a, const tlsplug_error *err, void *arg)
{
    techo *x = arg;
    if (err) {
        t_fail(x, "server write", err);
        return;
    }
    if (tlsplug_aio_read(a, x->sb, CHUNK, 0, t_s_read, x))
        t_fail(x, "server read", NULL);
}

static void t_s_read(tlsplug_aio *a, const tlsplug_error *err, void *buf, size_t n, void *arg)
{
    techo *x = arg;
    if (err) {
        t_fail(x, "server read", err);
        return;
    }
    if (tlsplug_aio_write(a, buf, n, 0, t_s_wrote, x))
        t_fail(x, "server write", NULL);
}

static void t_on_conn(tlsplug_listener *l, tlsplug_aio *a, void *arg)
{
    techo *x = arg;
    x->s = a;
    if (tlsplug_aio_read(a, x->sb, CHUNK, 0, t_s_read, x))
        t_fail(x, "server read", NULL);
}

static void t_on_accept_error(tlsplug_listener *l, const tlsplug_error *err, void *arg)
{
    t_fail(arg, "server attach", err);
}

static void t_c_wrote(tlsplug_aio *a, const tlsplug_error *err, void *arg);

/* Throughput: another chunk while the window has room. */
static void t_c_more(techo *x, tlsplug_aio *a)
{
    if (x->p.mode != M_TPUT || x->stop || x->c_writing ||
        x->p.sent - x->p.rbytes + CHUNK > WINDOW ||
        (x->p.limit && x->p.sent + CHUNK > x->p.limit * CHUNK))
        return;
    x->c_writing = 1;
    x->p.sent += CHUNK;
    if (tlsplug_aio_write(a, x->cw, CHUNK, 0, t_c_wrote, x))
        t_fail(x, "client write", NULL);
}

static void t_c_wrote(tlsplug_aio *a, const tlsplug_error *err, void *arg)
{
    techo *x = arg;
    x->c_writing = 0;
    if (err) {
        t_fail(x, "client write", err);
        return;
    }
    t_c_more(x, a);
}

static void t_c_read(tlsplug_aio *a, const tlsplug_error *err, void *buf, size_t n, void *arg)
{
    techo *x = arg;
    if (err) {
        t_fail(x, "client read", err);
        return;
    }
    if (x->p.mode == M_RT) {
        x->p.acc += n;
        if (x->p.acc >= SMALL) {
            x->p.acc -= SMALL;
            x->p.rts++;
            if (!x->stop && !(x->p.limit && x->p.rts >= x->p.limit) &&
                tlsplug_aio_write(a, x->cw, SMALL, 0, t_c_wrote, x))
                t_fail(x, "client write", NULL);
        }
    } else {
        x->p.rbytes += n;
        t_c_more(x, a);
    }
    if (!x->stop && tlsplug_aio_read(a, x->cr, CHUNK, 0, t_c_read, x))
        t_fail(x, "client read", NULL);
}

static void t_connected(tlsplug_aio *a, const tlsplug_error *err, void *arg)
{
    techo *x = arg;
    if (err) {
        x->c = NULL; /* already closed */
        t_fail(x, "client connect", err);
        return;
    }
    x->c_ready = 1;
}

/* The client's traffic until the limit or the end time: the measured part. */
static int t_phase(void *p)
{
    techo *x = p;
    if (!x->c_reading) {
        x->c_reading = 1;
        if (tlsplug_aio_read(x->c, x->cr, CHUNK, 0, t_c_read, x))
            return -1;
    }
    if (x->p.mode == M_RT) {
        if (tlsplug_aio_write(x->c, x->cw, SMALL, 0, t_c_wrote, x))
            return -1;
    } else {
        t_c_more(x, x->c);
    }
    while (!x->failed && !prog_done(&x->p) && bench_now() < x->p.end)
        tlsplug_loop_run_once(x->loop, 100);
    return x->failed || (x->p.limit && !prog_done(&x->p)) ? -1 : 0;
}

/* cg: NULL for the timed run. */
static void tl_echo(const bench_opts *o, tlsplug_impl impl, int version, int mode, echo_out *r,
                    echo_cg *cg)
{
    out_nan(r);
    techo x;
    memset(&x, 0, sizeof x);
    x.p.mode = mode;
    bn_ctx_opts co = {.server = 0, .version = version, .cert = BN_CERT_EC, .verify = 1,
                      .pki = o->pki};
    bn_ctx_opts so = co;
    so.server = 1;
    tlsplug_ctx *cctx = bench_tl_ctx(impl, &co), *sctx = cctx ? bench_tl_ctx(impl, &so) : NULL;
    x.cw = calloc(1, CHUNK);
    x.cr = malloc(CHUNK);
    x.sb = malloc(CHUNK);
    if (!cctx || !sctx || !x.cw || !x.cr || !x.sb || tlsplug_loop_new(&x.loop, 0))
        goto out;
    tlsplug_reactor *R = tlsplug_loop_reactor(x.loop);
    tlsplug_attach_options sa = {.ctx = sctx};
    tlsplug_listen_options lo = {.attach = &sa};
    if (tlsplug_listen(&x.l, R, "127.0.0.1", 0, &lo, t_on_conn, t_on_accept_error, &x))
        goto out;
    tlsplug_attach_options ca = {.ctx = cctx, .server_name = "localhost"};
    tlsplug_connect_options cop = {.attach = &ca};
    if (tlsplug_aio_connect(&x.c, R, "127.0.0.1", tlsplug_listener_port(x.l), &cop, t_connected,
                            &x)) {
        x.c = NULL;
        goto out;
    }
    double limit = bench_now() + 10;
    while (!(x.c_ready && x.s) && !x.failed && bench_now() < limit)
        tlsplug_loop_run_once(x.loop, 100);
    if (!(x.c_ready && x.s) || x.failed)
        goto out;

    run_phase(o, &x.p, t_phase, &x, r, cg);
out:
    x.stop = 1;
    if (x.c)
        tlsplug_aio_abort(x.c, NULL, NULL);
    if (x.s)
        tlsplug_aio_abort(x.s, NULL, NULL);
    if (x.l)
        tlsplug_listener_close(x.l);
    if (x.loop) {
        double limit2 = bench_now() + 5;
        while (tlsplug_loop_free(x.loop) == TLSPLUG_E_BUSY && bench_now() < limit2)
            tlsplug_loop_run_once(x.loop, 10);
    }
    tlsplug_ctx_free(cctx);
    tlsplug_ctx_free(sctx);
    free(x.cw);
    free(x.cr);
    free(x.sb);
}

/* ---- native side ----------------------------------------------------------- */

typedef struct nend {
    void *conn;
    int fd, client, hs, events;
    int inflight;       /* client, round trips: a message is out */
    unsigned char *buf; /* server: echo buffer; client: read buffer */
    const unsigned char *out;
    size_t out_off, out_len;
} nend;

typedef struct necho {
    const bench_native *nat;
    int ep, stop, failed;
    echo_prog p;
    nend c, s;
    unsigned char *cw;
} necho;

static void n_fail(necho *x, nend *e, const char *what)
{
    if (!x->failed && !x->stop)
        bench_note("%s native echo (%s): %s: %s", x->nat->name, e->client ? "client" : "server",
                   what, e->conn ? x->nat->last_error(e->conn) : "");
    x->failed = 1;
}

/* Level-triggered: always readable interest, writable only while blocked. */
static void n_interest(necho *x, nend *e, int want_write)
{
    int ev = EPOLLIN | (want_write ? EPOLLOUT : 0);
    if (ev == e->events)
        return;
    struct epoll_event ee = {.events = (uint32_t)ev, .data.ptr = e};
    epoll_ctl(x->ep, e->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, e->fd, &ee);
    e->events = ev;
}

/* Writes what is pending: 1 progress, 0 blocked (*ww on WANT_WRITE), -1. */
static int n_flush(necho *x, nend *e, int *ww)
{
    if (!e->out_len)
        return 0;
    long n = x->nat->write(e->conn, e->out + e->out_off, e->out_len);
    if (n > 0) {
        e->out_off += (size_t)n;
        e->out_len -= (size_t)n;
        return 1;
    }
    if (n == BN_WANT_WRITE)
        *ww = 1;
    else if (n != BN_WANT_READ)
        return -1;
    return 0;
}

static void n_next_message(necho *x, nend *e)
{
    if (!e->client || e->out_len || x->stop || !x->cw || (x->p.mode == M_RT && e->inflight) ||
        (x->p.mode == M_TPUT && x->p.sent - x->p.rbytes + CHUNK > WINDOW))
        return;
    if (x->p.limit &&
        (x->p.mode == M_RT ? x->p.rts >= x->p.limit : x->p.sent + CHUNK > x->p.limit * CHUNK))
        return;
    e->out = x->cw;
    e->out_off = 0;
    e->out_len = x->p.mode == M_RT ? SMALL : CHUNK;
    e->inflight = 1;
    x->p.sent += e->out_len;
}

static void n_pump(necho *x, nend *e)
{
    int ww = 0;
    if (!e->hs) {
        int r = x->nat->handshake(e->conn);
        if (r == BN_ERROR || r == BN_CLOSED) {
            n_fail(x, e, "handshake");
            return;
        }
        if (r != 0) {
            n_interest(x, e, r == BN_WANT_WRITE);
            return;
        }
        e->hs = 1;
    }
    for (int progress = 1; progress && !x->failed;) {
        progress = 0;
        n_next_message(x, e);
        int f = n_flush(x, e, &ww);
        if (f < 0) {
            n_fail(x, e, "write");
            return;
        }
        progress |= f;
        if (!e->client && e->out_len) {
            if (f > 0)
                continue; /* part of the echo left: try the rest */
            break;        /* the echo leaves before the next read */
        }
        long n = x->nat->read(e->conn, e->buf, CHUNK);
        if (n > 0) {
            progress = 1;
            if (!e->client) {
                e->out = e->buf;
                e->out_off = 0;
                e->out_len = (size_t)n;
            } else if (x->p.mode == M_RT) {
                x->p.acc += (size_t)n;
                if (x->p.acc >= SMALL) {
                    x->p.acc -= SMALL;
                    x->p.rts++;
                    e->inflight = 0;
                }
            } else {
                x->p.rbytes += (size_t)n;
            }
        } else if (n != BN_WANT_READ) {
            n_fail(x, e, "read");
            return;
        }
    }
    n_interest(x, e, ww);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* A connected loopback pair, non-blocking, TCP_NODELAY as tlsplug sets. */
static int tcp_pair(int *cfd, int *sfd)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    *cfd = *sfd = -1;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 4) ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl))
        goto fail;
    *cfd = socket(AF_INET, SOCK_STREAM, 0);
    if (*cfd < 0 || connect(*cfd, (struct sockaddr *)&sa, sizeof sa))
        goto fail;
    *sfd = accept(lfd, NULL, NULL);
    if (*sfd < 0)
        goto fail;
    close(lfd);
    setsockopt(*cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(*sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return set_nonblock(*cfd) || set_nonblock(*sfd) ? -1 : 0;
fail:
    if (lfd >= 0)
        close(lfd);
    if (*cfd >= 0)
        close(*cfd);
    *cfd = *sfd = -1;
    return -1;
}

static void n_run(necho *x, double until, int (*done)(necho *))
{
    struct epoll_event evs[8];
    while (!x->failed && !(done && done(x)) && bench_now() < until) {
        int n = epoll_wait(x->ep, evs, 8, 100);
        for (int i = 0; i < n && !x->failed; i++)
            n_pump(x, evs[i].data.ptr);
    }
}

static int n_both_ready(necho *x)
{
    return x->c.hs && x->s.hs;
}

static int n_done(necho *x)
{
    return prog_done(&x->p);
}

/* The client's traffic until the limit or the end time: the measured part. */
static int n_phase(void *p)
{
    necho *x = p;
    n_pump(x, &x->c);
    n_run(x, x->p.end, n_done);
    return x->failed || (x->p.limit && !n_done(x)) ? -1 : 0;
}

/* cg: NULL for the timed run. */
static void native_echo(const bench_opts *o, const bench_native *nat, int version, int mode,
                        echo_out *r, echo_cg *cg)
{
    out_nan(r);
    necho x;
    memset(&x, 0, sizeof x);
    x.nat = nat;
    x.p.mode = mode;
    x.ep = -1;
    x.c.fd = x.s.fd = -1;
    x.c.client = 1;
    char err[256] = "";
    bn_ctx_opts co = {.server = 0, .version = version, .cert = BN_CERT_EC, .verify = 1,
                      .pki = o->pki};
    bn_ctx_opts so = co;
    so.server = 1;
    void *cctx = nat->ctx_new(&co, err, sizeof err);
    void *sctx = cctx ? nat->ctx_new(&so, err, sizeof err) : NULL;
    unsigned char *cw = calloc(1, CHUNK);
    x.c.buf = malloc(CHUNK);
    x.s.buf = malloc(CHUNK);
    if (!cctx || !sctx) {
        bench_note("%s native echo: %s", nat->name, err);
        goto out;
    }
    if (!cw || !x.c.buf || !x.s.buf || tcp_pair(&x.c.fd, &x.s.fd) ||
        (x.ep = epoll_create1(0)) < 0)
        goto out;
    x.c.conn = nat->conn_new(cctx, x.c.fd, NULL, NULL, NULL);
    x.s.conn = nat->conn_new(sctx, x.s.fd, NULL, NULL, NULL);
    if (!x.c.conn || !x.s.conn)
        goto out;
    n_pump(&x, &x.c);
    n_pump(&x, &x.s);
    n_run(&x, bench_now() + 10, n_both_ready);
    if (!n_both_ready(&x) || x.failed)
        goto out;

    x.cw = cw; /* from now on the client sends */
    run_phase(o, &x.p, n_phase, &x, r, cg);
out:
    x.stop = 1;
    if (x.c.conn)
        nat->conn_free(x.c.conn);
    if (x.s.conn)
        nat->conn_free(x.s.conn);
    if (x.c.fd >= 0)
        close(x.c.fd);
    if (x.s.fd >= 0)
        close(x.s.fd);
    if (x.ep >= 0)
        close(x.ep);
    if (cctx)
        nat->ctx_free(cctx);
    if (sctx)
        nat->ctx_free(sctx);
    free(cw);
    free(x.c.buf);
    free(x.s.buf);
}

/* ---- entry ------------------------------------------------------------------ */

void bench_net_run(const bench_opts *o, tlsplug_impl impl)
{
    const bench_native *nat = bench_native_for(impl);
    if (!nat)
        return;
    const char *b = tlsplug_impl_name(impl);
    int version = bench_top_version(impl);
    int vv = version == TLSPLUG_TLS1_3 ? 3 : 2;
    for (int mode = M_RT; mode <= M_TPUT; mode++) {
        bench_progress("%s: loopback echo %s", b, mode == M_RT ? "round trips" : "throughput");
        double tr[16], nr[16], ts[16], ns[16], tc[16], nc[16];
        double tk[BENCH_SC_KINDS][16], nk[BENCH_SC_KINDS][16];
        int runs = o->runs > 16 ? 16 : o->runs;
        for (int i = 0; i < runs; i++) {
            echo_out t, n;
            if (i % 2 == 0) {
                tl_echo(o, impl, version, mode, &t, NULL);
                native_echo(o, nat, version, mode, &n, NULL);
            } else {
                native_echo(o, nat, version, mode, &n, NULL);
                tl_echo(o, impl, version, mode, &t, NULL);
            }
            tr[i] = t.rate, nr[i] = n.rate, ts[i] = t.syscalls, ns[i] = n.syscalls;
            tc[i] = t.copies, nc[i] = n.copies;
            for (int k = 0; k < BENCH_SC_KINDS; k++)
                tk[k][i] = t.kind[k], nk[k][i] = n.kind[k];
        }
        char metric[96];
        if (bench_count_available()) {
            double a[BENCH_SC_KINDS], z[BENCH_SC_KINDS];
            for (int k = 0; k < BENCH_SC_KINDS; k++) {
                a[k] = bench_median(tk[k], runs);
                z[k] = bench_median(nk[k], runs);
            }
            bench_note("%s echo %s: syscalls per %s: tlsplug read %.2f write %.2f wait %.2f "
                       "epoll_ctl %.2f; native read %.2f write %.2f wait %.2f epoll_ctl %.2f",
                       b, mode == M_RT ? "64B" : "16KiB",
                       mode == M_RT ? "round trip" : "16 KiB echoed", a[0], a[1], a[2], a[3],
                       z[0], z[1], z[2], z[3]);
        }
        if (mode == M_RT) {
            snprintf(metric, sizeof metric, "echo round trips 64B loopback TLS1.%d (/s)", vv);
            bench_result(b, metric, bench_median(tr, runs), bench_median(nr, runs), 1);
            if (bench_count_available()) {
                snprintf(metric, sizeof metric, "echo syscalls per round trip 64B TLS1.%d", vv);
                bench_result(b, metric, bench_median(ts, runs), bench_median(ns, runs), 0);
            }
        } else {
            snprintf(metric, sizeof metric, "echo throughput 16KiB loopback TLS1.%d (MB/s)", vv);
            bench_result(b, metric, bench_median(tr, runs), bench_median(nr, runs), 1);
            if (bench_count_available()) {
                snprintf(metric, sizeof metric, "echo syscalls per 16KiB echoed TLS1.%d", vv);
                bench_result(b, metric, bench_median(ts, runs), bench_median(ns, runs), 0);
                double a = bench_median(tc, runs), n = bench_median(nc, runs);
                bench_note("%s echo: bytes copied per byte echoed: tlsplug %.2f, native %.2f "
                           "(each byte is sent and received twice, so 4 extra = one copy per "
                           "record per send and per receive)",
                           b, a, n);
            }
        }
    }
}

/* Callgrind child: both echo patterns once per side, a fixed number of
 * operations each (both ends run in this thread, so both are counted, as
 * both are timed in the timed run). */
void bench_net_callgrind(const bench_opts *o, tlsplug_impl impl)
{
    const bench_native *nat = bench_native_for(impl);
    if (!nat)
        return;
    const char *b = tlsplug_impl_name(impl);
    int version = bench_top_version(impl);
    int vv = version == TLSPLUG_TLS1_3 ? 3 : 2;
    for (int mode = M_RT; mode <= M_TPUT; mode++) {
        char metric[96];
        if (mode == M_RT)
            snprintf(metric, sizeof metric, "echo round trip 64B TLS1.%d both ends", vv);
        else
            snprintf(metric, sizeof metric, "echo 16KiB echoed TLS1.%d both ends", vv);
        for (int side = 0; side < 2; side++) {
            echo_cg cg = {.warm = mode == M_RT ? 50 : 8};
            cg.ops = mode == M_RT ? (o->quick ? 300 : 3000) : (o->quick ? 30 : 300);
            echo_out r;
            if (side)
                native_echo(o, nat, version, mode, &r, &cg);
            else
                tl_echo(o, impl, version, mode, &r, &cg);
            bench_cg_case(b, metric, side, cg.ops, cg.ran, cg.ok);
        }
    }
}
