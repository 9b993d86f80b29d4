/* Soak: one built-in loop holding and churning many TLS connections over
 * loopback for a bounded time, with every echoed byte checked and memory
 * measured.
 *
 *   soak [--backend B] [--server-backend B] [--seconds S] [--connections N]
 *        [--max-growth-kb K] [--seed X]
 *
 * N client connections are kept open at once against a listener of the same
 * loop (an echo server).  Each one: connect with TLS attached, 1-4 echo
 * rounds of 1..16384 bytes, then either detach (both ends go back to plain
 * TCP and echo one more plain message, proving no byte is lost or added
 * across the switch) or close with close_notify; its slot then opens a new
 * connection.  Client messages are frames [type][length, 4 bytes][payload]
 * so the echo server knows whether a detach ('D') or a close ('C') comes
 * next; an echo round is an 'E' frame.
 *
 * Memory (mallinfo2: uordblks + hblkhd, the heap in use) is measured with no
 * connection open: after a warm-up phase that reaches N connections once (so
 * high-water structures like the loop's timer heap exist), and at the end.
 * The run fails if anything errs, a byte differs, a connection (client or
 * server end) does not finish, the loop cannot be freed at the end, or the
 * heap grew by more than --max-growth-kb (default 512) from the first
 * measurement to the second. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "pair.h"

#define MAX_MSG 16384
#define HDR 5

static tlsplug_loop *loop;
static tlsplug_reactor *R;
static tlsplug_ctx *cctx, *sctx;
static int port;
static int active, starting, stop_starting;
/* server aios accepted whose close callback has not come yet */
static int live_servers;
static unsigned long next_id, completed, detached, closed_tls, bytes_checked, errors;
static unsigned long long rng = 88172645463325252ull;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void error_at(unsigned long id, const char *what, const tlsplug_error *e)
{
    errors++;
    if (errors <= 10)
        fprintf(stderr, "soak: connection %lu: %s: %s: %s\n", id, what,
                tlsplug_error_name(tlsplug_error_class(e)), tlsplug_error_message(e));
}

/* ---- the echo server -------------------------------------------------------- */

struct srv {
    tlsplug_aio *a;
    int tls;
    unsigned char buf[MAX_MSG + HDR];
    /* frame parser over the bytes received under TLS */
    unsigned char hdr[HDR];
    int hdr_got;
    uint32_t body_left;
    int last_type;
};

static void srv_read(struct srv *s);

static void srv_closed(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    live_servers--;
    free(arg);
}

static void srv_close(struct srv *s)
{
    tlsplug_aio_close(s->a, srv_closed, s);
}

static void srv_parse(struct srv *s, const unsigned char *p, size_t n)
{
    while (n) {
        if (s->body_left) {
            size_t k = n < s->body_left ? n : s->body_left;
            s->body_left -= (uint32_t)k;
            p += k;
            n -= k;
            continue;
        }
        s->hdr[s->hdr_got++] = *p++;
        n--;
        if (s->hdr_got == HDR) {
            s->last_type = s->hdr[0];
            s->body_left = (uint32_t)s->hdr[1] << 24 | (uint32_t)s->hdr[2] << 16 |
                           (uint32_t)s->hdr[3] << 8 | s->hdr[4];
            s->hdr_got = 0;
        }
    }
}

static void srv_wrote(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct srv *s = arg;
    if (e) {
        error_at(0, "server write", e);
        srv_close(s);
        return;
    }
    srv_read(s);
}

static void srv_detached(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct srv *s = arg;
    if (e) {
        error_at(0, "server detach", e);
        srv_close(s);
        return;
    }
    s->tls = 0;
    srv_read(s);
}

static void srv_got(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    struct srv *s = arg;
    if (e) {
        int cls = tlsplug_error_class(e);
        if (cls == TLSPLUG_E_CLOSED && s->tls && s->last_type == 'D' && !s->body_left) {
            if (tlsplug_aio_detach(a, 20000, srv_detached, s) != TLSPLUG_OK) {
                errors++;
                srv_close(s);
            }
            return;
        }
        /* end of the conversation: after 'C' under TLS, or in plain */
        if (cls != TLSPLUG_E_CLOSED || (s->tls && s->last_type != 'C'))
            error_at(0, "server read", e);
        srv_close(s);
        return;
    }
    if (s->tls)
        srv_parse(s, buf, n);
    if (tlsplug_aio_write(a, buf, n, 20000, srv_wrote, s) != TLSPLUG_OK) {
        errors++;
        srv_close(s);
    }
}

static void srv_read(struct srv *s)
{
    if (tlsplug_aio_read(s->a, s->buf, sizeof s->buf, 0, srv_got, s) != TLSPLUG_OK) {
        errors++;
        srv_close(s);
    }
}

static void on_accept(tlsplug_listener *l, tlsplug_aio *a, void *arg)
{
    live_servers++;
    struct srv *s = calloc(1, sizeof *s);
    if (!s) {
        errors++;
        tlsplug_aio_close(a, srv_closed, NULL);
        return;
    }
    s->a = a;
    s->tls = 1;
    srv_read(s);
}

static void on_accept_error(tlsplug_listener *l, const tlsplug_error *e, void *arg)
{
    error_at(0, "accept", e);
}

/* ---- clients ------------------------------------------------------------------ */

enum { C_CONNECT, C_ECHO, C_END, C_DETACH, C_PLAIN, C_CLOSING };

struct cli {
    unsigned long id;
    tlsplug_aio *a;
    int phase, round, rounds, detach;
    int wrote, got;
    unsigned char out[MAX_MSG + HDR], in[MAX_MSG + HDR];
    size_t len, have;
};

static void cli_step(struct cli *c);

static void cli_closed(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct cli *c = arg;
    active--;
    completed++;
    free(c);
}

static void cli_fail(struct cli *c, const char *what, const tlsplug_error *e)
{
    error_at(c->id, what, e);
    c->phase = C_CLOSING;
    tlsplug_aio_close(c->a, cli_closed, c);
}

/* A frame of type t with a payload of n bytes, all from the pattern. */
static void make_frame(struct cli *c, int t, size_t n)
{
    c->out[0] = (unsigned char)t;
    c->out[1] = (unsigned char)(n >> 24);
    c->out[2] = (unsigned char)(n >> 16);
    c->out[3] = (unsigned char)(n >> 8);
    c->out[4] = (unsigned char)n;
    for (size_t i = 0; i < n; i++)
        c->out[HDR + i] = (unsigned char)(c->id * 31 + (unsigned long)c->round * 7 + i);
    c->len = HDR + n;
}

static void cli_got(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg);

static void cli_read(struct cli *c)
{
    if (tlsplug_aio_read(c->a, c->in + c->have, c->len - c->have, 20000, cli_got, c) !=
        TLSPLUG_OK) {
        errors++;
        c->phase = C_CLOSING;
        tlsplug_aio_close(c->a, cli_closed, c);
    }
}

static void cli_got(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    struct cli *c = arg;
    if (e) {
        cli_fail(c, "client read", e);
        return;
    }
    c->have += n;
    if (c->have < c->len) {
        cli_read(c);
        return;
    }
    if (memcmp(c->in, c->out, c->len) != 0) {
        errors++;
        fprintf(stderr, "soak: connection %lu: echoed bytes differ\n", c->id);
        c->phase = C_CLOSING;
        tlsplug_aio_close(c->a, cli_closed, c);
        return;
    }
    bytes_checked += c->len;
    c->got = 1;
    if (c->wrote)
        cli_step(c);
}

static void cli_wrote(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct cli *c = arg;
    if (e) {
        cli_fail(c, "client write", e);
        return;
    }
    c->wrote = 1;
    if (c->got)
        cli_step(c);
}

/* Sends the current frame and reads its echo. */
static void cli_exchange(struct cli *c)
{
    c->wrote = c->got = 0;
    c->have = 0;
    if (tlsplug_aio_write(c->a, c->out, c->len, 20000, cli_wrote, c) != TLSPLUG_OK) {
        errors++;
        c->phase = C_CLOSING;
        tlsplug_aio_close(c->a, cli_closed, c);
        return;
    }
    cli_read(c);
}

static void cli_detached(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct cli *c = arg;
    if (e) {
        cli_fail(c, "client detach", e);
        return;
    }
    detached++;
    c->phase = C_PLAIN;
    c->round++;
    make_frame(c, 'P', 1 + rnd(256));
    cli_exchange(c);
}

/* The last exchange completed: on to the next phase. */
static void cli_step(struct cli *c)
{
    switch (c->phase) {
    case C_ECHO:
        if (++c->round < c->rounds) {
            make_frame(c, 'E', 1 + rnd(MAX_MSG));
            cli_exchange(c);
            return;
        }
        c->phase = C_END;
        make_frame(c, c->detach ? 'D' : 'C', 0);
        cli_exchange(c);
        return;
    case C_END:
        if (c->detach) {
            c->phase = C_DETACH;
            if (tlsplug_aio_detach(c->a, 20000, cli_detached, c) != TLSPLUG_OK) {
                errors++;
                c->phase = C_CLOSING;
                tlsplug_aio_close(c->a, cli_closed, c);
            }
            return;
        }
        closed_tls++; /* close with close_notify */
        c->phase = C_CLOSING;
        tlsplug_aio_close(c->a, cli_closed, c);
        return;
    case C_PLAIN:
        c->phase = C_CLOSING;
        tlsplug_aio_close(c->a, cli_closed, c);
        return;
    default:
        return;
    }
}

static void cli_connected(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct cli *c = arg;
    starting--;
    if (e) {
        /* the aio is already closed */
        error_at(c->id, "connect", e);
        active--;
        free(c);
        return;
    }
    c->a = a;
    c->phase = C_ECHO;
    c->round = 0;
    make_frame(c, 'E', 1 + rnd(MAX_MSG));
    cli_exchange(c);
}

static void start_client(void)
{
    struct cli *c = calloc(1, sizeof *c);
    if (!c) {
        errors++;
        return;
    }
    c->id = next_id++;
    c->rounds = 1 + (int)rnd(4);
    c->detach = (int)rnd(2);
    tlsplug_attach_options ca = {.ctx = cctx, .server_name = "localhost",
                                 .handshake_timeout_ms = 20000};
    tlsplug_connect_options co = {.attach = &ca};
    tlsplug_aio *a;
    int rc = tlsplug_aio_connect(&a, R, "127.0.0.1", port, &co, cli_connected, c);
    if (rc) {
        errors++;
        fprintf(stderr, "soak: connect: %s\n", tlsplug_error_name(rc));
        free(c);
        return;
    }
    active++;
    starting++;
}

/* Keeps `target` connections open until `until`, then lets them finish.
 * Returns the peak heap seen. */
static size_t churn(int target, double until, double drain_limit)
{
    size_t peak = 0;
    double next_sample = 0;
    stop_starting = 0;
    for (;;) {
        double t = now_s();
        if (t >= until)
            stop_starting = 1;
        /* bounded handshakes in flight: the listener's backlog is finite */
        while (!stop_starting && active < target && starting < 64)
            start_client();
        if (stop_starting && active == 0)
            break;
        if (t > until + drain_limit) {
            fprintf(stderr, "soak: %d connections did not finish within %.0f s\n", active,
                    drain_limit);
            errors++;
            break;
        }
        if (t >= next_sample) {
            size_t h = heap_in_use();
            if (h > peak)
                peak = h;
            next_sample = t + 0.5;
        }
        tlsplug_loop_run_once(loop, 10);
    }
    /* the server ends see the last closes a turn later; each must close
     * (bounded: a close callback that never comes is what this catches) */
    double end = now_s() + 10;
    for (int i = 0; i < 50 || (live_servers > 0 && now_s() < end); i++)
        tlsplug_loop_run_once(loop, 2);
    if (live_servers != 0) {
        fprintf(stderr, "soak: %d server connections still open after the clients finished\n",
                live_servers);
        errors++;
    }
    return peak;
}

static void usage(void)
{
    fprintf(stderr, "usage: soak [--backend B] [--server-backend B] [--seconds S] "
                    "[--connections N] [--max-growth-kb K] [--seed X]\n");
}

int main(int argc, char **argv)
{
    const char *cname = NULL, *sname = NULL;
    double seconds = 20;
    int target = 200;
    size_t max_growth_kb = 512;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--backend") && v)
            cname = v;
        else if (!strcmp(argv[i], "--server-backend") && v)
            sname = v;
        else if (!strcmp(argv[i], "--seconds") && v)
            seconds = atof(v);
        else if (!strcmp(argv[i], "--connections") && v)
            target = atoi(v);
        else if (!strcmp(argv[i], "--max-growth-kb") && v)
            max_growth_kb = strtoul(v, NULL, 10);
        else if (!strcmp(argv[i], "--seed") && v)
            rng = strtoull(v, NULL, 10) | 1;
        else {
            usage();
            return 2;
        }
        i++;
    }
    tlsplug_impl ci = test_backend(cname);
    tlsplug_impl si = sname ? test_backend(sname) : ci;
    if (seconds <= 0 || target <= 0) {
        usage();
        return 2;
    }
    /* two descriptors per connection, plus the loop's own */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)target * 2 + 64) {
        fprintf(stderr, "soak: %d connections need %d descriptors, the limit is %lu\n", target,
                target * 2 + 64, (unsigned long)rl.rlim_cur);
        return 2;
    }

    if (tlsplug_loop_new(&loop, 0) != TLSPLUG_OK)
        return 1;
    R = tlsplug_loop_reactor(loop);
    sctx = server_ctx(si, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    cctx = client_ctx(ci, NULL);
    if (!sctx || !cctx)
        return 1;
    tlsplug_attach_options sa = {.ctx = sctx, .handshake_timeout_ms = 20000};
    tlsplug_listen_options lo = {.backlog = 4096, .attach = &sa};
    tlsplug_listener *l;
    if (tlsplug_listen(&l, R, "127.0.0.1", 0, &lo, on_accept, on_accept_error, NULL)) {
        fprintf(stderr, "soak: listen failed\n");
        return 1;
    }
    port = tlsplug_listener_port(l);

    /* warm-up: reach the target once, then let everything close */
    double t0 = now_s();
    double warm = seconds / 5 < 2 ? (seconds < 4 ? seconds / 2 : 2) : seconds / 5;
    churn(target, t0 + warm, 60);
    unsigned long warm_conns = completed;
    size_t mem0 = heap_in_use();
    double t1 = now_s();
    size_t peak = churn(target, t0 + seconds, 60);
    size_t mem1 = heap_in_use();
    double t2 = now_s();
    unsigned long conns = completed - warm_conns;

    long growth_kb = ((long)mem1 - (long)mem0) / 1024;
    tlsplug_listener_close(l);
    tlsplug_ctx_free(sctx);
    tlsplug_ctx_free(cctx);
    /* every aio and the listener let go of the loop */
    int loop_rc = drain_loop(loop, 5);
    if (loop_rc != TLSPLUG_OK)
        fprintf(stderr, "soak: tlsplug_loop_free: %s after 5 s (something is still registered)\n",
                tlsplug_error_name(loop_rc));
    int ok = errors == 0 && live_servers == 0 && loop_rc == TLSPLUG_OK &&
             growth_kb <= (long)max_growth_kb && conns > 0;
    printf("soak: client %s, server %s, %.0f s (warm-up %.1f s + %.1f s measured), %d "
           "connections held at once; %lu connections completed after the warm-up (%lu in all: "
           "%lu detached to plain, %lu closed with close_notify), %lu bytes echoed and checked, "
           "%lu errors, %d server connections left open, loop freed: %s\n",
           tlsplug_impl_name(ci), tlsplug_impl_name(si), t2 - t0, t1 - t0, t2 - t1, target,
           conns, completed, detached, closed_tls, bytes_checked, errors, live_servers,
           loop_rc == TLSPLUG_OK ? "yes" : "no");
    printf("soak: heap in use with no connection open: %zu KB after the warm-up, %zu KB at the "
           "end, growth %ld KB (bound %zu KB); peak %zu KB with %d connections (%.1f KB per "
           "client+server pair) -> %s\n",
           mem0 / 1024, mem1 / 1024, growth_kb, max_growth_kb, peak / 1024, target,
           peak > mem0 ? (double)(peak - mem0) / 1024 / target : 0.0, ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
