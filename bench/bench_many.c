#define _GNU_SOURCE 1 /* accept4 */
/* Many concurrent connections on one loop: this process is the server under
 * test (tlsplug aios on the built-in loop, or the native library on a plain
 * epoll loop), a forked child is the load generator (a native client of the
 * fastest library built, on its own epoll loop, the same for both sides).
 * Measured in the server: time and CPU to establish every connection, heap
 * per connection held (after every connection has echoed), and the echo
 * round trips the child completes across all of them.  ECDSA P-256, x25519,
 * AES-128-GCM, the backend's highest version, no tickets, no client
 * verification (the client is not what is measured).  Under --callgrind a
 * few hundred connections and a fixed number of round trips on each: the
 * client is exec'd, so it runs outside valgrind, and only the server's
 * establishing and echoing run inside tlsplug_bench_cg_region. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MSG 32
#define INFLIGHT 200  /* client connects/handshakes in flight            */
#define BACKLOG 1024
#define EST_TIMEOUT 180.0
#define REPEAT_S 120.0 /* a first pair faster than this is run again, reversed */

/* ---- control channel ------------------------------------------------------- */

typedef struct ctl {
    int fd;
    char buf[512];
    size_t len;
} ctl;

static void ctl_send(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ctl_send(int fd, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof line && send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0)
        (void)0; /* the peer went away: its absence shows up as a timeout */
}

/* Next complete line into out (without newline): 1, 0 none yet, -1 EOF. */
static int ctl_line(ctl *c, char *out, size_t cap)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t k = (size_t)(nl - c->buf);
            snprintf(out, cap, "%.*s", (int)k, c->buf);
            memmove(c->buf, nl + 1, c->len - k - 1);
            c->len -= k + 1;
            return 1;
        }
        if (c->len == sizeof c->buf)
            c->len = 0;
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        c->len += (size_t)n;
    }
}

static int raise_nofile(int want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 0;
    if (rl.rlim_cur >= (rlim_t)want)
        return want;
    if (rl.rlim_max < (rlim_t)want) {
        struct rlimit up = {(rlim_t)want, (rlim_t)want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) /* root may raise the hard limit */
            return want;
    }
    rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return (int)rl.rlim_cur;
}

/* ---- load generator (child) -------------------------------------------------- */

typedef struct cslot {
    void *conn;
    int fd, state, events; /* state: 0 connecting, 1 handshaking, 2 up, 3 dead */
    size_t got, sent;
    int inflight, rts;
} cslot;

typedef struct client {
    const bench_native *nat;
    void *ctx;
    int ep, n, go, stop;
    int per_conn; /* round trips per connection; 0: until the time is up */
    int warming;  /* one round trip per connection before the timed window */
    unsigned long long rts;
    int est, fails, inflight;
    struct sockaddr_in sa;
    cslot *s;
    unsigned char msg[MSG];
} client;

static void c_interest(client *c, cslot *s, int ev)
{
    if (ev == s->events)
        return;
    struct epoll_event ee = {.events = (uint32_t)ev, .data.ptr = s};
    epoll_ctl(c->ep, s->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ee);
    s->events = ev;
}

static void c_dead(client *c, cslot *s)
{
    if (s->state < 2) {
        c->fails++;
        c->inflight--;
    }
    s->state = 3;
    epoll_ctl(c->ep, EPOLL_CTL_DEL, s->fd, NULL);
}

static int c_start(client *c, cslot *s)
{
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s->fd < 0)
        return -1;
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s->fd, (struct sockaddr *)&c->sa, sizeof c->sa) && errno != EINPROGRESS)
        return -1;
    c->inflight++;
    c_interest(c, s, EPOLLOUT);
    return 0;
}

static void c_pump(client *c, cslot *s)
{
    if (s->state == 0) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            c_dead(c, s);
            return;
        }
        s->conn = c->nat->conn_new(c->ctx, s->fd, NULL, NULL, NULL);
        if (!s->conn) {
            c_dead(c, s);
            return;
        }
        s->state = 1;
    }
    if (s->state == 1) {
        int r = c->nat->handshake(s->conn);
        if (r == BN_WANT_READ || r == BN_WANT_WRITE) {
            c_interest(c, s, r == BN_WANT_READ ? EPOLLIN : EPOLLOUT);
            return;
        }
        if (r != 0) {
            c_dead(c, s);
            return;
        }
        s->state = 2;
        c->est++;
        c->inflight--;
        c_interest(c, s, EPOLLIN);
    }
    if (s->state != 2)
        return;
    for (int progress = 1; progress;) {
        progress = 0;
        if (!s->inflight && c->go && !c->stop && (!c->per_conn || s->rts < c->per_conn) &&
            !(c->warming && s->rts >= 1)) {
            s->inflight = 1;
            s->sent = 0;
        }
        if (s->inflight && s->sent < MSG) {
            long n = c->nat->write(s->conn, c->msg + s->sent, MSG - s->sent);
            if (n > 0) {
                s->sent += (size_t)n;
                progress = 1;
            } else if (n != BN_WANT_WRITE && n != BN_WANT_READ) {
                c_dead(c, s);
                return;
            }
        }
        unsigned char b[MSG * 4];
        long n = c->nat->read(s->conn, b, sizeof b);
        if (n > 0) {
            progress = 1;
            s->got += (size_t)n;
            if (s->got >= MSG) {
                s->got -= MSG;
                c->rts++;
                s->rts++;
                s->inflight = 0;
            }
        } else if (n != BN_WANT_READ) {
            c_dead(c, s);
            return;
        }
    }
    c_interest(c, s, EPOLLIN | (s->inflight && s->sent < MSG ? EPOLLOUT : 0));
}

/* pace_ms: a pause before each wait, so the client answers the server only
 * that much later (the callgrind run, see bench_many_callgrind). */
static void client_main(int cfd, int n, const bench_native *nat, const char *pki, double echo_s,
                        int pace_ms)
{
    signal(SIGPIPE, SIG_IGN);
    ctl cl = {.fd = cfd};
    client c;
    memset(&c, 0, sizeof c);
    c.nat = nat;
    c.n = n;
    char line[256];
    int port = 0, version = 0;
    double limit = bench_now() + 30;
    while (bench_now() < limit) { /* wait for "P port version" */
        int r = ctl_line(&cl, line, sizeof line);
        if (r < 0)
            _exit(1);
        if (r > 0 && sscanf(line, "P %d %d", &port, &version) == 2)
            break;
        usleep(1000);
    }
    char err[256] = "";
    bn_ctx_opts co = {.server = 0, .version = version, .cert = BN_CERT_EC, .verify = 0,
                      .pki = pki};
    c.ctx = nat->ctx_new(&co, err, sizeof err);
    c.s = calloc((size_t)n, sizeof *c.s);
    c.ep = epoll_create1(0);
    if (!port || !c.ctx || !c.s || c.ep < 0) {
        ctl_send(cfd, "F client set-up failed: %s\n", err);
        _exit(1);
    }
    c.sa = (struct sockaddr_in){.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct epoll_event ce = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(c.ep, EPOLL_CTL_ADD, cfd, &ce);
    struct epoll_event evs[512];
    int started = 0, phase = 0; /* 0 connect, 1 wait go, 2 echo, 3 wait quit */
    double t_echo = 0, warm_s = 0, end = bench_now() + EST_TIMEOUT;
    while (bench_now() < end) {
        while (phase == 0 && started < n && c.inflight < INFLIGHT)
            if (c_start(&c, &c.s[started++])) {
                c.s[started - 1].state = 3;
                c.fails++;
            }
        if (phase == 0 && c.est + c.fails == n) {
            ctl_send(cfd, "E %d %d\n", c.est, c.fails);
            phase = 1;
        }
        if (phase == 2 && c.warming && c.rts >= (unsigned long long)c.est) {
            /* every connection has woken from idle: the timed window starts */
            c.warming = 0;
            c.rts = 0;
            t_echo = bench_now();
            warm_s = t_echo - warm_s;
            for (int j = 0; j < n; j++)
                if (c.s[j].state == 2)
                    c_pump(&c, &c.s[j]);
        }
        if (phase == 2 && !c.warming &&
            (c.per_conn ? c.rts >= (unsigned long long)c.est * (unsigned)c.per_conn
                        : bench_now() >= t_echo + echo_s)) {
            double secs = bench_now() - t_echo;
            c.stop = 1;
            ctl_send(cfd, "R %llu %.6f %.6f\n", c.rts, secs, warm_s);
            phase = 3;
        }
        if (pace_ms)
            usleep((useconds_t)pace_ms * 1000);
        int k = epoll_wait(c.ep, evs, 512, 50);
        for (int i = 0; i < k; i++) {
            if (evs[i].data.ptr)
                c_pump(&c, evs[i].data.ptr);
            else
                for (int r; (r = ctl_line(&cl, line, sizeof line)) != 0;) {
                    if (r < 0 || line[0] == 'Q')
                        goto quit;
                    if (line[0] == 'G' && phase == 1) {
                        if (sscanf(line, "G %d", &c.per_conn) != 1)
                            c.per_conn = 0;
                        phase = 2;
                        /* timed: the first message on every connection
                         * (waking it from idle) is timed apart */
                        c.warming = !c.per_conn;
                        t_echo = warm_s = bench_now();
                        c.go = 1;
                        for (int j = 0; j < n; j++)
                            if (c.s[j].state == 2)
                                c_pump(&c, &c.s[j]);
                    }
                }
        }
        if (phase == 2 || phase == 3)
            end = bench_now() + 60; /* the echo phase ends on its own clock */
    }
quit:;
    /* reset, not close: no TIME_WAIT pile-up across runs */
    struct linger lg = {1, 0};
    for (int j = 0; j < n; j++)
        if (c.s[j].fd > 0) {
            setsockopt(c.s[j].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(c.s[j].fd);
        }
    _exit(0);
}

/* The client as a program of its own (the callgrind run execs it so that it
 * runs outside valgrind, paced): --many-client FD N IMPL PKI ECHO_S PACE_MS. */
int bench_many_client_main(int argc, char **argv)
{
    if (argc != 8)
        return 2;
    const bench_native *nat = bench_native_for((tlsplug_impl)atoi(argv[4]));
    if (!nat)
        return 2;
    client_main(atoi(argv[2]), atoi(argv[3]), nat, argv[5], atof(argv[6]), atoi(argv[7]));
    return 0;
}

/* ---- server under test: common state ----------------------------------------------- */

typedef struct sslot {
    void *conn; /* tlsplug_aio* or native connection */
    int fd, hs, events, closed;
    size_t out_off, out_len;
    struct many *m;
    unsigned char buf[MSG * 4];
} sslot;

typedef struct many {
    int n, used, est, hs_fail, closed;
    double t0, t_est, cpu0, cpu_est;
    /* where the establishing CPU went: user/system time, page faults and
     * counted system calls, at the start and when the last one was up */
    struct rusage ru0, ru_est;
    unsigned long long sc0[BENCH_SC_KINDS], sc_est[BENCH_SC_KINDS];
    ctl cl;
    int child_est, child_fail, child_done, child_gone;
    unsigned long long child_rts;
    double child_secs, child_warm_s;
    char child_msg[200];
    sslot *slots;
    const bench_native *nat;
    void *sctx;
    int ep;
} many;

static void got_established(many *m)
{
    if (++m->est == m->n) {
        m->t_est = bench_now();
        m->cpu_est = bench_cpu_now();
        getrusage(RUSAGE_SELF, &m->ru_est);
        for (int k = 0; k < BENCH_SC_KINDS; k++)
            m->sc_est[k] = bench_syscalls_of(k);
    }
}

static void ctl_poll(many *m)
{
    char line[256];
    for (int r; (r = ctl_line(&m->cl, line, sizeof line)) != 0;) {
        if (r < 0) {
            m->child_gone = 1;
            return;
        }
        int a, b;
        unsigned long long rts;
        double secs;
        if (sscanf(line, "E %d %d", &a, &b) == 2) {
            m->child_est = a;
            m->child_fail = b;
        } else if (sscanf(line, "R %llu %lf", &rts, &secs) == 2) {
            double warm = NAN;
            sscanf(line, "R %*u %*f %lf", &warm);
            m->child_rts = rts;
            m->child_secs = secs;
            m->child_warm_s = warm;
            m->child_done = 1;
        } else if (line[0] == 'F') {
            snprintf(m->child_msg, sizeof m->child_msg, "%.190s", line + 2);
            m->child_gone = 1;
        }
    }
}

/* ---- tlsplug server ------------------------------------------------------------------- */

static void t_read(tlsplug_aio *a, const tlsplug_error *err, void *buf, size_t n, void *arg);

static void t_closed(tlsplug_aio *a, const tlsplug_error *err, void *arg)
{
    sslot *s = arg;
    s->closed = 1;
    s->m->closed++;
}

static void t_wrote(tlsplug_aio *a, const tlsplug_error *err, void *arg)
{
    sslot *s = arg;
    if (err || tlsplug_aio_read(a, s->buf, sizeof s->buf, 0, t_read, s))
        tlsplug_aio_close(a, t_closed, s);
}

static void t_read(tlsplug_aio *a, const tlsplug_error *err, void *buf, size_t n, void *arg)
{
    sslot *s = arg;
    if (err || tlsplug_aio_write(a, buf, n, 0, t_wrote, s))
        tlsplug_aio_close(a, t_closed, s);
}

static void t_conn(tlsplug_listener *l, tlsplug_aio *a, void *arg)
{
    many *m = arg;
    if (m->used == m->n) {
        tlsplug_aio_abort(a, NULL, NULL);
        return;
    }
    sslot *s = &m->slots[m->used++];
    s->conn = a;
    s->m = m;
    got_established(m);
    if (tlsplug_aio_read(a, s->buf, sizeof s->buf, 0, t_read, s))
        tlsplug_aio_close(a, t_closed, s);
}

static void t_accept_error(tlsplug_listener *l, const tlsplug_error *err, void *arg)
{
    many *m = arg;
    if (!m->hs_fail++)
        bench_note("tlsplug server: %s", tlsplug_error_message(err));
}

static void t_ctl(tlsplug_watch *w, int events, void *arg)
{
    ctl_poll(arg);
}

/* Runs the loop until cond(m) or the deadline. */
static void t_run(tlsplug_loop *loop, many *m, int (*cond)(many *), double deadline)
{
    while (!cond(m) && !m->child_gone && bench_now() < deadline)
        tlsplug_loop_run_once(loop, 100);
}

/* ---- native server --------------------------------------------------------------------- */

static void n_close(many *m, sslot *s)
{
    if (s->closed)
        return;
    s->closed = 1;
    m->closed++;
    if (!s->hs)
        m->hs_fail++;
    m->nat->conn_free(s->conn);
    s->conn = NULL;
    close(s->fd); /* leaves the epoll set with it */
}

static void n_interest(many *m, sslot *s, int ev)
{
    if (ev == s->events)
        return;
    struct epoll_event ee = {.events = (uint32_t)ev, .data.ptr = s};
    epoll_ctl(m->ep, s->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ee);
    s->events = ev;
}

static void n_pump(many *m, sslot *s)
{
    if (!s->hs) {
        int r = m->nat->handshake(s->conn);
        if (r == BN_WANT_READ || r == BN_WANT_WRITE) {
            n_interest(m, s, r == BN_WANT_READ ? EPOLLIN : EPOLLOUT);
            return;
        }
        if (r != 0) {
            n_close(m, s);
            return;
        }
        s->hs = 1;
        got_established(m);
    }
    int ww = 0;
    for (;;) {
        if (s->out_len) {
            long n = m->nat->write(s->conn, s->buf + s->out_off, s->out_len);
            if (n > 0) {
                s->out_off += (size_t)n;
                s->out_len -= (size_t)n;
                continue;
            }
            if (n == BN_WANT_WRITE)
                ww = 1;
            else if (n != BN_WANT_READ) {
                n_close(m, s);
                return;
            }
            break;
        }
        long n = m->nat->read(s->conn, s->buf, sizeof s->buf);
        if (n > 0) {
            s->out_off = 0;
            s->out_len = (size_t)n;
            continue;
        }
        if (n != BN_WANT_READ) {
            n_close(m, s);
            return;
        }
        break;
    }
    n_interest(m, s, ww ? EPOLLOUT : EPOLLIN);
}

static void n_accept(many *m, int lfd)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (m->used == m->n) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sslot *s = &m->slots[m->used++];
        s->fd = fd;
        s->m = m;
        s->conn = m->nat->conn_new(m->sctx, fd, NULL, NULL, NULL);
        if (!s->conn) {
            s->closed = 1;
            m->closed++;
            m->hs_fail++;
            close(fd);
            continue;
        }
        n_pump(m, s);
    }
}

static void n_run(many *m, int lfd, int (*cond)(many *), double deadline)
{
    static struct epoll_event evs[512];
    while (!cond(m) && !m->child_gone && bench_now() < deadline) {
        int k = epoll_wait(m->ep, evs, 512, 100);
        for (int i = 0; i < k; i++) {
            void *p = evs[i].data.ptr;
            if (p == &m->cl)
                ctl_poll(m);
            else if (p == m)
                n_accept(m, lfd);
            else
                n_pump(m, p);
        }
    }
}

/* ---- one server run ----------------------------------------------------------------------- */

static int c_all_up(many *m)
{
    return m->est + m->hs_fail >= m->n && m->child_est + m->child_fail >= m->n;
}

static int c_echo_done(many *m)
{
    return m->child_done;
}

static int c_never(many *m)
{
    (void)m;
    return 0;
}

static int c_all_closed(many *m)
{
    return m->closed >= m->used;
}

typedef struct many_out {
    double held, est_s, cpu_s, mem, own, rts;
    double warm_s; /* the first echo on every (idle) connection, all of them */
    double user_s, sys_s, minflt, nvcsw, sc[BENCH_SC_KINDS]; /* establishing; per conn */
} many_out;

/* Callgrind: the two server regions, establishing and echoing (per_conn
 * round trips on every connection). */
typedef struct many_cg {
    int per_conn;
    int est_ran, est_ok, rt_ran, rt_ok;
    unsigned long long rts;
} many_cg;

typedef struct region {
    many *m;
    tlsplug_loop *loop; /* NULL: the native server */
    int lfd;
    int (*cond)(many *);
    double deadline;
} region;

/* a becomes the mean of a and b (held: the smaller, so a lost connection in
 * either run shows). */
static void many_mean(many_out *a, const many_out *b)
{
    double *x[] = {&a->est_s, &a->cpu_s, &a->mem,   &a->own,  &a->rts,
                   &a->warm_s, &a->user_s, &a->sys_s, &a->minflt, &a->nvcsw};
    const double *y[] = {&b->est_s, &b->cpu_s, &b->mem,   &b->own,  &b->rts,
                         &b->warm_s, &b->user_s, &b->sys_s, &b->minflt, &b->nvcsw};
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        *x[i] = (*x[i] + *y[i]) / 2;
    for (int k = 0; k < BENCH_SC_KINDS; k++)
        a->sc[k] = (a->sc[k] + b->sc[k]) / 2;
    if (b->held < a->held || isnan(b->held))
        a->held = b->held;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static const bench_native *client_native(void)
{
    static const tlsplug_impl order[] = {TLSPLUG_IMPL_OPENSSL, TLSPLUG_IMPL_GNUTLS,
                                         TLSPLUG_IMPL_WOLFSSL, TLSPLUG_IMPL_MBEDTLS};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (bench_native_for(order[i]))
            return bench_native_for(order[i]);
    return NULL;
}

/* Runs either server until rg->cond or rg->deadline (under callgrind, what a
 * region measures). */
static int run_until(void *p)
{
    region *rg = p;
    if (rg->loop)
        t_run(rg->loop, rg->m, rg->cond, rg->deadline);
    else
        n_run(rg->m, rg->lfd, rg->cond, rg->deadline);
    return rg->cond(rg->m) ? 0 : -1;
}

/* The load generator on fd (other: the server's end): forked, or
 * (callgrind) forked and exec'd. */
static pid_t start_client(const bench_opts *o, int fd, int other, int n, const bench_native *cn,
                          int exec)
{
    char sfd[16], sn[16], simpl[16], secho[32];
    snprintf(sfd, sizeof sfd, "%d", fd);
    snprintf(sn, sizeof sn, "%d", n);
    snprintf(simpl, sizeof simpl, "%d", (int)cn->impl);
    snprintf(secho, sizeof secho, "%.3f", o->echo_s);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(other);
        if (exec) {
            /* Our stdout is the callgrind parent's pipe: the client must not
             * hold it open, or the parent's read of the CASE lines waits on
             * a client that outlives this run. */
            int null = open("/dev/null", O_WRONLY);
            if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
                close(STDOUT_FILENO);
            if (null > STDOUT_FILENO)
                close(null);
            /* Outside valgrind the client is some fifty times faster than
             * the server: unpaced, it would answer a native server's flight
             * while that server is still inside the call that sent it (one
             * handshake call instead of two), which never happens at full
             * speed, where the client is the slower side. */
            char *args[] = {(char *)o->self_exe, "--many-client", sfd, sn, simpl,
                            (char *)o->pki, secho, "10", NULL};
            execv(o->self_exe, args);
            _exit(127);
        }
        client_main(fd, n, cn, o->pki, o->echo_s, 0);
    }
    return pid;
}

/* cg: NULL for the timed run. */
static void many_server(const bench_opts *o, tlsplug_impl impl, int native, int n, many_out *r,
                        many_cg *cg)
{
    r->held = r->est_s = r->cpu_s = r->mem = r->own = r->rts = NAN;
    r->user_s = r->sys_s = r->minflt = r->nvcsw = r->warm_s = NAN;
    for (int k = 0; k < BENCH_SC_KINDS; k++)
        r->sc[k] = NAN;
    int version = bench_top_version(impl);
    const bench_native *cn = client_native();
    int sv[2];
    if (!cn || (cg && !o->self_exe) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        return;
    pid_t pid = start_client(o, sv[1], sv[0], n, cn, cg != NULL);
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    close(sv[1]);

    many m;
    memset(&m, 0, sizeof m);
    m.n = n;
    m.cl.fd = sv[0];
    m.ep = -1;
    m.slots = calloc((size_t)n, sizeof *m.slots); /* the application's, not counted */
    bn_ctx_opts so = {.server = 1, .version = version, .cert = BN_CERT_EC, .pki = o->pki};
    tlsplug_loop *loop = NULL;
    tlsplug_listener *l = NULL;
    tlsplug_watch *cw = NULL;
    tlsplug_ctx *tctx = NULL;
    int lfd = -1, port = 0;
    long long base = bench_live_bytes(), own_base = bench_tlsplug_live_bytes();
    if (!m.slots)
        goto out;
    if (native) {
        char err[256] = "";
        m.nat = bench_native_for(impl);
        m.sctx = m.nat->ctx_new(&so, err, sizeof err);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof sa;
        int one = 1;
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        m.ep = epoll_create1(EPOLL_CLOEXEC);
        if (!m.sctx || lfd < 0 || m.ep < 0 ||
            setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
            bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, BACKLOG) ||
            getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
            bench_note("%s native server set-up failed %s", m.nat->name, err);
            goto out;
        }
        port = ntohs(sa.sin_port);
        struct epoll_event le = {.events = EPOLLIN, .data.ptr = &m};
        struct epoll_event ce = {.events = EPOLLIN, .data.ptr = &m.cl};
        epoll_ctl(m.ep, EPOLL_CTL_ADD, lfd, &le);
        epoll_ctl(m.ep, EPOLL_CTL_ADD, m.cl.fd, &ce);
    } else {
        tctx = bench_tl_ctx(impl, &so);
        if (!tctx || tlsplug_loop_new(&loop, 0))
            goto out;
        tlsplug_reactor *R = tlsplug_loop_reactor(loop);
        tlsplug_attach_options sa = {.ctx = tctx};
        tlsplug_listen_options lo = {.backlog = BACKLOG, .attach = &sa};
        if (tlsplug_listen(&l, R, "127.0.0.1", 0, &lo, t_conn, t_accept_error, &m) ||
            R->ops->watch_new(R->self, m.cl.fd, t_ctl, &m, &cw) ||
            R->ops->watch_set(R->self, cw, TLSPLUG_EV_READ))
            goto out;
        port = tlsplug_listener_port(l);
    }

    ctl_send(m.cl.fd, "P %d %d\n", port, version);
    m.t0 = bench_now();
    m.cpu0 = bench_cpu_now();
    getrusage(RUSAGE_SELF, &m.ru0);
    for (int k = 0; k < BENCH_SC_KINDS; k++)
        m.sc0[k] = bench_syscalls_of(k);
    region rg = {&m, native ? NULL : loop, lfd, c_all_up, m.t0 + EST_TIMEOUT};
    if (cg) {
        int rc = -1;
        tlsplug_bench_cg_region(run_until, &rg, &rc);
        cg->est_ran = 1;
        cg->est_ok = rc == 0 && m.est == n;
    } else {
        run_until(&rg);
    }
    r->held = m.est;
    if (m.est == n) {
        r->est_s = m.t_est - m.t0;
        r->cpu_s = m.cpu_est - m.cpu0;
        r->user_s = tv_s(m.ru_est.ru_utime) - tv_s(m.ru0.ru_utime);
        r->sys_s = tv_s(m.ru_est.ru_stime) - tv_s(m.ru0.ru_stime);
        r->minflt = (double)(m.ru_est.ru_minflt - m.ru0.ru_minflt) / n;
        r->nvcsw = (double)(m.ru_est.ru_nvcsw - m.ru0.ru_nvcsw) / n;
        for (int k = 0; k < BENCH_SC_KINDS; k++)
            r->sc[k] = (double)(m.sc_est[k] - m.sc0[k]) / n;
    }
    if (m.child_msg[0])
        bench_note("%s 10k client: %s", tlsplug_impl_name(impl), m.child_msg);
    if (m.hs_fail || m.child_fail)
        bench_note("%s %s: %d server-side and %d client-side connection failures",
                   tlsplug_impl_name(impl), native ? "native" : "tlsplug", m.hs_fail,
                   m.child_fail);
    if (m.child_gone || m.est == 0)
        goto out;
    if (cg) {
        ctl_send(m.cl.fd, "G %d\n", cg->per_conn);
        rg.cond = c_echo_done;
        rg.deadline = bench_now() + 120;
        int rc = -1;
        tlsplug_bench_cg_region(run_until, &rg, &rc);
        cg->rt_ran = 1;
        cg->rt_ok = rc == 0 && m.child_rts == (unsigned long long)m.est * (unsigned)cg->per_conn;
        cg->rts = m.child_rts;
        goto out;
    }
    ctl_send(m.cl.fd, "G\n");
    rg.cond = c_echo_done;
    rg.deadline = bench_now() + o->echo_s + 60;
    run_until(&rg);
    if (m.child_done && m.child_secs > 0)
        r->rts = (double)m.child_rts / m.child_secs;
    if (m.child_done)
        r->warm_s = m.child_warm_s;
    /* let the last echoes finish: every connection has carried data and
     * now waits for more, long enough to count as idle (tlsplug_aio gives
     * buffers back after 1 to 2 s without traffic; native keeps them) */
    rg.cond = c_never;
    rg.deadline = bench_now() + 2.5;
    run_until(&rg);
    r->mem = (double)(bench_live_bytes() - base) / m.est;
    r->own = (double)(bench_tlsplug_live_bytes() - own_base) / m.est;
out:
    ctl_send(m.cl.fd, "Q\n");
    if (native) {
        if (m.ep >= 0)
            n_run(&m, lfd, c_all_closed, bench_now() + 15);
        for (int i = 0; i < m.used; i++)
            if (!m.slots[i].closed)
                n_close(&m, &m.slots[i]);
        if (lfd >= 0)
            close(lfd);
        if (m.ep >= 0)
            close(m.ep);
        if (m.sctx)
            m.nat->ctx_free(m.sctx);
    } else {
        if (loop) {
            tlsplug_reactor *R = tlsplug_loop_reactor(loop);
            t_run(loop, &m, c_all_closed, bench_now() + 15);
            for (int i = 0; i < m.used; i++)
                if (!m.slots[i].closed)
                    tlsplug_aio_abort(m.slots[i].conn, NULL, NULL);
            if (cw)
                R->ops->watch_free(R->self, cw);
            if (l)
                tlsplug_listener_close(l);
            double limit = bench_now() + 15;
            while (tlsplug_loop_free(loop) == TLSPLUG_E_BUSY && bench_now() < limit)
                tlsplug_loop_run_once(loop, 10);
        }
        tlsplug_ctx_free(tctx);
    }
    close(m.cl.fd);
    int st;
    for (double limit = bench_now() + 10; bench_waitpid(pid, &st, WNOHANG) == 0;) {
        if (bench_now() > limit) {
            kill(pid, SIGKILL);
            bench_waitpid(pid, &st, 0);
            break;
        }
        usleep(10000);
    }
    free(m.slots);
}

void bench_many_run(const bench_opts *o, tlsplug_impl impl)
{
    if (!bench_native_for(impl))
        return;
    const char *b = tlsplug_impl_name(impl);
    /* mbedTLS's ECC handshakes are about ten times slower: quick runs use
     * fewer connections there (the full run uses the same number). */
    int n = impl == TLSPLUG_IMPL_MBEDTLS ? o->many_conns_slow : o->many_conns;
    int lim = raise_nofile(n + 64);
    if (lim < n + 64) {
        bench_note("%s: RLIMIT_NOFILE allows %d descriptors: %d connections instead of %d", b,
                   lim, lim - 64, n);
        n = lim - 64;
    }
    if (n <= 0)
        return;
    const bench_native *cn = client_native();
    bench_progress("%s: %d concurrent connections (load from a %s client process)", b, n,
                   cn ? cn->name : "?");
    /* Tlsplug, native, then (when that took under REPEAT_S) native and
     * tlsplug again, and the means: on this kind of shared machine the first
     * of two identical servers came out some 10% slower more often than not,
     * so a single pair in a fixed order favoured whichever ran second. */
    many_out t, nt, t2, nt2;
    double t0 = bench_now();
    many_server(o, impl, 0, n, &t, NULL);
    many_server(o, impl, 1, n, &nt, NULL);
    if (!o->quick && bench_now() - t0 < REPEAT_S) {
        many_server(o, impl, 1, n, &nt2, NULL);
        many_server(o, impl, 0, n, &t2, NULL);
        many_mean(&t, &t2);
        many_mean(&nt, &nt2);
        bench_note("%s %d conns: each server twice, in the order tlsplug, native, native, "
                   "tlsplug; figures are the means",
                   b, n);
    } else if (!o->quick) {
        bench_note("%s %d conns: one tlsplug run, then one native run (a second pair in the "
                   "other order would take too long)",
                   b, n);
    }
    char metric[96];
    snprintf(metric, sizeof metric, "%d conns: connections held (count)", n);
    bench_result(b, metric, t.held, nt.held, 1);
    snprintf(metric, sizeof metric, "%d conns: time to establish all (s)", n);
    bench_result(b, metric, t.est_s, nt.est_s, 0);
    snprintf(metric, sizeof metric, "%d conns: server CPU to establish all (s)", n);
    bench_result(b, metric, t.cpu_s, nt.cpu_s, 0);
    bench_note("%s %d conns, server establishing: tlsplug user %.2f s, system %.2f s, per conn "
               "%.1f minor faults, %.2f voluntary switches, syscalls read %.2f write %.2f wait "
               "%.2f epoll_ctl %.2f; native user %.2f s, system %.2f s, per conn %.1f minor "
               "faults, %.2f voluntary switches, syscalls read %.2f write %.2f wait %.2f "
               "epoll_ctl %.2f",
               b, n, t.user_s, t.sys_s, t.minflt, t.nvcsw, t.sc[0], t.sc[1], t.sc[2], t.sc[3],
               nt.user_s, nt.sys_s, nt.minflt, nt.nvcsw, nt.sc[0], nt.sc[1], nt.sc[2], nt.sc[3]);
    if (bench_count_available()) {
        snprintf(metric, sizeof metric, "%d conns: server heap per conn held (bytes)", n);
        bench_result(b, metric, t.mem, nt.mem, 0);
        bench_note("%s %d conns: of tlsplug's heap per connection held, %.0f bytes went through "
                   "tlsplug's allocator (core, plus the library where the backend hands it "
                   "tlsplug_set_allocator's functions)",
                   b, n, t.own);
    }
    snprintf(metric, sizeof metric, "%d conns: echo round trips 32B across all (/s)", n);
    bench_result(b, metric, t.rts, nt.rts, 1);
    bench_note("%s %d conns: the first echo on every connection, idle since its handshake, "
               "before the timed echo window: tlsplug %.3f s (its buffers were given back "
               "while idle), native %.3f s",
               b, n, t.warm_s, nt.warm_s);
}

/* Callgrind child: a reduced many-connections case per side, the server's
 * instructions per connection established and per echo round trip. */
void bench_many_callgrind(const bench_opts *o, tlsplug_impl impl)
{
    if (!bench_native_for(impl))
        return;
    const char *b = tlsplug_impl_name(impl);
    /* mbedTLS's server handshake costs ten times the others' */
    int n = impl == TLSPLUG_IMPL_MBEDTLS ? (o->quick ? 5 : 30) : (o->quick ? 20 : 200);
    if (o->cg_conns > 0)
        n = o->cg_conns;
    if (raise_nofile(n + 64) < n + 64)
        return;
    char est[96], rt[96];
    snprintf(est, sizeof est, "%d conns: server per connection established", n);
    snprintf(rt, sizeof rt, "%d conns: server per echo round trip 32B", n);
    for (int side = 0; side < 2; side++) {
        many_out r;
        many_cg cg = {.per_conn = 10};
        many_server(o, impl, side, n, &r, &cg);
        bench_cg_case(b, est, side, (unsigned)n, cg.est_ran, cg.est_ok);
        bench_cg_case(b, rt, side, cg.rts, cg.rt_ran, cg.rt_ok);
    }
}
