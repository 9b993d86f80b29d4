/* Allocation-failure sweep, run once per backend (`test_alloc_fail <backend>`).
 *
 * A counting allocator is handed to tlsplug_set_allocator first thing in
 * main (tlsplug passes it on to the libraries that take one: OpenSSL and
 * wolfSSL).  Then, for N = 1, 2, ... the N-th allocation of a run fails,
 * until a run completes without reaching the N-th allocation.  Two runs are
 * swept, each its own numbering:
 *   memory: contexts from files + two engines in memory: handshake, 4000
 *           bytes each way, close_notify both ways, free;
 *   aio:    listener + connect with TLS attached on loopback (contexts made
 *           before the sweep window), 4000 bytes echoed, close both ends.
 * What every round must show (any violation fails the test):
 *   1. no crash (the process lives; ASan/valgrind in their CI jobs);
 *   2. no leak: blocks live through the hook after the round == before it;
 *   3. a run that reached the failure either still succeeds with every byte
 *      checked (the failure was absorbed, e.g. a retried allocation), or
 *      fails cleanly: a call returns a class (< 0) with a message, or a
 *      callback reports one, every callback fires exactly once and the loop
 *      drains;
 *   4. in the memory run, when the failed allocation was tlsplug's own (no
 *      library frame on the stack), the class is out-of-memory;
 *   5. a run that did not reach the failure succeeds.
 * In the aio run an allocation failing on one side can surface on the other
 * side as the peer's reaction (truncated, peer-alert); how each failure
 * surfaced is counted and printed, not asserted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "count_alloc.h"
#include "pair.h"

static tlsplug_impl impl;
static int verbose;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- outcome of one run ----------------------------------------------------- */

struct outcome {
    int ok;             /* the run completed and every byte was checked   */
    int cls;            /* first error class, 0 if none                    */
    char where[48];     /* the call or callback that reported it           */
    char msg[256];
    int stalled;        /* no error but no progress either                 */
    int callbacks_bad;  /* a callback missing or fired twice               */
};

static void fail_with(struct outcome *o, const char *where, int cls, const char *msg)
{
    if (o->cls)
        return;
    o->cls = cls;
    snprintf(o->where, sizeof o->where, "%s", where);
    snprintf(o->msg, sizeof o->msg, "%s", msg ? msg : "");
}

/* ---- the memory run ---------------------------------------------------------- */

#define LEN 4000

static int make_ctx(tlsplug_ctx **out, tlsplug_side side, struct outcome *o)
{
    *out = NULL;
    tlsplug_config *cfg = tlsplug_config_new(side);
    if (!cfg) {
        fail_with(o, "tlsplug_config_new", TLSPLUG_E_NO_MEMORY, "NULL (out of memory)");
        return -1;
    }
    int rc;
    const char *what;
    if (side == TLSPLUG_SIDE_SERVER) {
        what = "tlsplug_config_set_cert_file";
        rc = tlsplug_config_set_cert_file(cfg, pki("server-ec-chain.pem"),
                                          pki("server-ec.key.pem"), NULL);
    } else {
        what = "tlsplug_config_add_trust_file";
        rc = tlsplug_config_add_trust_file(cfg, pki("ca.pem"));
    }
    if (!rc && (tlsplug_impl_caps(impl) & TLSPLUG_CAP_ALPN)) {
        what = "tlsplug_config_set_alpn_list";
        rc = tlsplug_config_set_alpn_list(cfg, "h2,http/1.1");
    }
    if (rc) {
        fail_with(o, what, rc, tlsplug_error_message(tlsplug_config_error(cfg)));
        tlsplug_config_free(cfg);
        return -1;
    }
    tlsplug_error *err = NULL;
    rc = tlsplug_ctx_new(out, cfg, impl, &err);
    tlsplug_config_free(cfg);
    if (rc) {
        fail_with(o, "tlsplug_ctx_new", rc, err ? tlsplug_error_message(err) : "(no error object)");
        tlsplug_error_free(err);
        return -1;
    }
    return 0;
}

static int step_failed(tlsplug_conn *c, int rc, const char *where, struct outcome *o)
{
    if (rc >= 0)
        return 0;
    fail_with(o, where, rc, tlsplug_error_message(tlsplug_conn_error(c)));
    return 1;
}

/* Reads up to want bytes on rx, pumping both ways; 0 on success. */
static int mem_recv(pair *p, tlsplug_conn *rx, unsigned char *got, size_t want, const char *where,
                    struct outcome *o)
{
    size_t have = 0;
    tlsplug_conn *tx = rx == p->c ? p->s : p->c;
    for (int idle = 0; have < want && idle < 8;) {
        size_t n = 0;
        int rc = tlsplug_conn_read(rx, got + have, want - have, &n);
        if (step_failed(rx, rc, where, o))
            return -1;
        have += n;
        size_t m = pair_move(tx, rx, 0) + pair_move(rx, tx, 0);
        idle = (n || m) ? 0 : idle + 1;
    }
    if (have < want) {
        o->stalled = 1;
        fail_with(o, where, 0, "no progress");
        return -1;
    }
    return 0;
}

static int mem_send(pair *p, tlsplug_conn *tx, const unsigned char *data, size_t len,
                    const char *where, struct outcome *o)
{
    size_t sent = 0;
    tlsplug_conn *rx = tx == p->c ? p->s : p->c;
    for (int idle = 0; sent < len && idle < 8;) {
        size_t n = 0;
        int rc = tlsplug_conn_write(tx, data + sent, len - sent, &n);
        if (step_failed(tx, rc, where, o))
            return -1;
        sent += n;
        size_t m = pair_move(tx, rx, 0);
        idle = (n || m) ? 0 : idle + 1;
    }
    if (sent < len) {
        o->stalled = 1;
        fail_with(o, where, 0, "no progress");
        return -1;
    }
    pair_move(tx, rx, 0);
    return 0;
}

/* Reads until the peer's close_notify. */
static int mem_wait_close(pair *p, tlsplug_conn *rx, const char *where, struct outcome *o)
{
    tlsplug_conn *tx = rx == p->c ? p->s : p->c;
    unsigned char tmp[256];
    for (int idle = 0; idle < 8;) {
        size_t n = 0;
        int rc = tlsplug_conn_read(rx, tmp, sizeof tmp, &n);
        if (rc == TLSPLUG_E_CLOSED)
            return 0;
        if (step_failed(rx, rc, where, o))
            return -1;
        size_t m = pair_move(tx, rx, 0) + pair_move(rx, tx, 0);
        idle = (n || m) ? 0 : idle + 1;
    }
    o->stalled = 1;
    fail_with(o, where, 0, "no progress");
    return -1;
}

static void run_memory(struct outcome *o)
{
    memset(o, 0, sizeof *o);
    tlsplug_ctx *sc = NULL, *cc = NULL;
    pair p = {0};
    static unsigned char out[LEN], got[LEN];
    pattern(out, LEN, 5);
    if (make_ctx(&sc, TLSPLUG_SIDE_SERVER, o) || make_ctx(&cc, TLSPLUG_SIDE_CLIENT, o))
        goto done;
    tlsplug_error *err = NULL;
    tlsplug_conn_options co = {.side = TLSPLUG_SIDE_CLIENT, .server_name = "localhost"};
    int rc = tlsplug_conn_new(&p.c, cc, &co, &err);
    if (!rc) {
        tlsplug_conn_options so = {.side = TLSPLUG_SIDE_SERVER};
        rc = tlsplug_conn_new(&p.s, sc, &so, &err);
    }
    if (rc) {
        fail_with(o, "tlsplug_conn_new", rc, err ? tlsplug_error_message(err) : "(no error object)");
        tlsplug_error_free(err);
        goto done;
    }
    /* the handshake, stepped by hand so the first failing step is known */
    int cdone = 0, sdone = 0;
    for (int idle = 0; !(cdone && sdone) && idle < 8;) {
        int before = cdone + sdone;
        if (!cdone) {
            rc = tlsplug_conn_handshake(p.c);
            if (step_failed(p.c, rc, "client handshake", o))
                goto done;
            cdone = rc == TLSPLUG_OK;
        }
        size_t m = pair_move(p.c, p.s, 0);
        if (!sdone) {
            rc = tlsplug_conn_handshake(p.s);
            if (step_failed(p.s, rc, "server handshake", o))
                goto done;
            sdone = rc == TLSPLUG_OK;
        }
        m += pair_move(p.s, p.c, 0);
        idle = (m == 0 && before == cdone + sdone) ? idle + 1 : 0;
    }
    if (!(cdone && sdone)) {
        o->stalled = 1;
        fail_with(o, "handshake", 0, "no progress");
        goto done;
    }
    /* 4000 bytes each way, every byte checked */
    if (mem_send(&p, p.c, out, LEN, "client write", o) ||
        mem_recv(&p, p.s, got, LEN, "server read", o))
        goto done;
    if (memcmp(got, out, LEN) != 0) {
        fail_with(o, "server read", TLSPLUG_E_INTERNAL, "bytes differ");
        goto done;
    }
    memset(got, 0, LEN);
    if (mem_send(&p, p.s, out, LEN, "server write", o) ||
        mem_recv(&p, p.c, got, LEN, "client read", o))
        goto done;
    if (memcmp(got, out, LEN) != 0) {
        fail_with(o, "client read", TLSPLUG_E_INTERNAL, "bytes differ");
        goto done;
    }
    /* close_notify both ways */
    rc = tlsplug_conn_shutdown(p.c);
    if (step_failed(p.c, rc, "client shutdown", o))
        goto done;
    pair_move(p.c, p.s, 0);
    if (mem_wait_close(&p, p.s, "server read close_notify", o))
        goto done;
    rc = tlsplug_conn_shutdown(p.s);
    if (step_failed(p.s, rc, "server shutdown", o))
        goto done;
    pair_move(p.s, p.c, 0);
    if (mem_wait_close(&p, p.c, "client read close_notify", o))
        goto done;
    o->ok = 1;
done:
    pair_free(&p);
    tlsplug_ctx_free(sc);
    tlsplug_ctx_free(cc);
}

/* ---- the aio run ----------------------------------------------------------------- */

static tlsplug_ctx *aio_sctx, *aio_cctx;

struct side {
    tlsplug_aio *a;
    unsigned char buf[LEN];
    size_t have;
    int issued, completed, closes;
    int done, verified;
};

struct aio_run {
    struct outcome *o;
    struct side cli, srv;
    int conns, accept_errors, connect_cbs;
    unsigned char out[LEN];
};

static void record(struct aio_run *r, const char *where, const tlsplug_error *e)
{
    fail_with(r->o, where, tlsplug_error_class(e), tlsplug_error_message(e));
}

static void on_close(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct side *s = arg;
    s->closes++;
    s->done = 1;
}

static void finish(struct side *s)
{
    tlsplug_aio_close(s->a, on_close, s);
}

static void srv_read(struct aio_run *r);

static void srv_wrote(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct aio_run *r = arg;
    r->srv.completed++;
    if (e) {
        record(r, "server write callback", e);
        finish(&r->srv);
        return;
    }
    r->srv.have = 0;
    srv_read(r);
}

static void srv_got(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    struct aio_run *r = arg;
    r->srv.completed++;
    if (e) {
        /* the client's close_notify ends the exchange normally */
        if (tlsplug_error_class(e) != TLSPLUG_E_CLOSED)
            record(r, "server read callback", e);
        finish(&r->srv);
        return;
    }
    r->srv.issued++;
    int rc = tlsplug_aio_write(a, buf, n, 3000, srv_wrote, r);
    if (rc) {
        r->srv.issued--;
        fail_with(r->o, "tlsplug_aio_write (server)", rc, "");
        finish(&r->srv);
    }
}

static void srv_read(struct aio_run *r)
{
    r->srv.issued++;
    int rc = tlsplug_aio_read(r->srv.a, r->srv.buf, sizeof r->srv.buf, 3000, srv_got, r);
    if (rc) {
        r->srv.issued--;
        fail_with(r->o, "tlsplug_aio_read (server)", rc, "");
        finish(&r->srv);
    }
}

static void on_conn(tlsplug_listener *l, tlsplug_aio *a, void *arg)
{
    struct aio_run *r = arg;
    r->conns++;
    r->srv.a = a;
    srv_read(r);
}

static void on_accept_error(tlsplug_listener *l, const tlsplug_error *e, void *arg)
{
    struct aio_run *r = arg;
    r->accept_errors++;
    record(r, "listener on_error", e);
    r->srv.done = 1;
}

static void cli_read(struct aio_run *r);

static void cli_got(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    struct aio_run *r = arg;
    r->cli.completed++;
    if (e) {
        record(r, "client read callback", e);
        finish(&r->cli);
        return;
    }
    r->cli.have += n;
    if (r->cli.have < LEN) {
        cli_read(r);
        return;
    }
    r->cli.verified = memcmp(r->cli.buf, r->out, LEN) == 0;
    if (!r->cli.verified)
        fail_with(r->o, "client read callback", TLSPLUG_E_INTERNAL, "bytes differ");
    finish(&r->cli);
}

static void cli_read(struct aio_run *r)
{
    r->cli.issued++;
    int rc = tlsplug_aio_read(r->cli.a, r->cli.buf + r->cli.have, LEN - r->cli.have, 3000, cli_got,
                              r);
    if (rc) {
        r->cli.issued--;
        fail_with(r->o, "tlsplug_aio_read (client)", rc, "");
        finish(&r->cli);
    }
}

static void cli_wrote(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct aio_run *r = arg;
    r->cli.completed++;
    if (e) {
        record(r, "client write callback", e);
        finish(&r->cli);
    }
}

static void cli_connected(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct aio_run *r = arg;
    r->connect_cbs++;
    r->cli.completed++;
    if (e) {
        /* the aio is already closed */
        record(r, "connect callback", e);
        r->cli.a = NULL;
        r->cli.done = 1;
        return;
    }
    r->cli.issued++;
    int rc = tlsplug_aio_write(a, r->out, LEN, 3000, cli_wrote, r);
    if (rc) {
        r->cli.issued--;
        fail_with(r->o, "tlsplug_aio_write (client)", rc, "");
        finish(&r->cli);
        return;
    }
    cli_read(r);
}

static void run_aio(struct outcome *o, size_t arm_at, int record)
{
    memset(o, 0, sizeof *o);
    static struct aio_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    pattern(r.out, LEN, 9);
    count_alloc_fail_at(arm_at);
    if (record)
        count_alloc_record(1);
    tlsplug_loop *loop = NULL;
    tlsplug_listener *l = NULL;
    int rc = tlsplug_loop_new(&loop, 0);
    if (rc) {
        fail_with(o, "tlsplug_loop_new", rc, "");
        return;
    }
    tlsplug_reactor *R = tlsplug_loop_reactor(loop);
    tlsplug_attach_options sa = {.ctx = aio_sctx, .handshake_timeout_ms = 3000};
    tlsplug_listen_options lo = {.attach = &sa};
    rc = tlsplug_listen(&l, R, "127.0.0.1", 0, &lo, on_conn, on_accept_error, &r);
    if (rc) {
        fail_with(o, "tlsplug_listen", rc, "");
        l = NULL;
        goto drain;
    }
    tlsplug_attach_options ca = {.ctx = aio_cctx, .server_name = "localhost",
                                 .handshake_timeout_ms = 3000};
    tlsplug_connect_options co = {.attach = &ca};
    r.cli.issued = 1;
    rc = tlsplug_aio_connect(&r.cli.a, R, "127.0.0.1", tlsplug_listener_port(l), &co,
                             cli_connected, &r);
    if (rc) {
        r.cli.issued = 0;
        fail_with(o, "tlsplug_aio_connect", rc, "");
        goto drain;
    }
    /* until the client is done and the server side is done or never came */
    double end = now_s() + 15;
    while (now_s() < end) {
        int srv_settled = r.srv.done || (r.cli.done && r.conns == 0);
        if (r.cli.done && srv_settled)
            break;
        tlsplug_loop_run_once(loop, 20);
    }
    if (!r.cli.done || !(r.srv.done || r.conns == 0)) {
        o->stalled = 1;
        fail_with(o, "aio run", 0, "did not finish within 15 s");
    }
drain:
    tlsplug_listener_close(l);
    if (drain_loop(loop, 5) != TLSPLUG_OK) {
        o->stalled = 1;
        fail_with(o, "tlsplug_loop_free", TLSPLUG_E_BUSY, "loop still busy after 5 s");
    }
    /* every callback exactly once: completions == operations started, and
     * each aio that lived was closed once */
    if (r.cli.issued != r.cli.completed || r.srv.issued != r.srv.completed ||
        r.connect_cbs > 1 || r.cli.closes > 1 || r.srv.closes > 1 ||
        (r.cli.a && r.cli.closes != 1) || (r.srv.a && r.srv.closes != 1))
        o->callbacks_bad = 1;
    if (record)
        count_alloc_record(0);
    o->ok = !o->cls && !o->stalled && r.cli.verified && r.srv.closes == 1;
}

/* ---- the sweep ---------------------------------------------------------------- */

/* Backend results known to break rule 4 (reported, listed in
 * docs/reliability.md): printed as KNOWN GAP, not failed, so the rest of the
 * sweep keeps guarding. */
static const struct {
    tlsplug_impl impl;
    const char *where, *msg;
} known_gaps[] = {
    {TLSPLUG_IMPL_NONE, "", ""}, /* none left */
};

static int known_gap(const struct outcome *o)
{
    for (size_t i = 0; i < sizeof known_gaps / sizeof known_gaps[0]; i++)
        if (known_gaps[i].impl == impl && strcmp(o->where, known_gaps[i].where) == 0 &&
            strstr(o->msg, known_gaps[i].msg))
            return 1;
    return 0;
}

struct tally {
    unsigned long rounds, skipped, absorbed, failed, oom, oom_tlsplug, oom_library, other;
    unsigned long known, violations, lib_rounds;
    size_t full_run;
    char others[1024];
};

static void note_other(struct tally *t, int cls)
{
    char tag[64];
    snprintf(tag, sizeof tag, " %s", tlsplug_error_name(cls));
    if (!strstr(t->others, tag) && strlen(t->others) + strlen(tag) < sizeof t->others)
        strcat(t->others, tag);
}

static void violation(struct tally *t, const char *part, size_t n, const char *why,
                      const struct outcome *o, const char *src)
{
    t->violations++;
    fprintf(stderr, "VIOLATION %s N=%zu (%s): %s; %s: %s: %s\n", part, n, src, why, o->where,
            tlsplug_error_name(o->cls), o->msg);
}

/* Whose each allocation of a full run is, from the warm-up run. */
struct origins {
    unsigned char *v;
    size_t n;
};

static void take_origins(struct origins *org)
{
    org->n = 0;
    while (count_alloc_recorded(org->n + 1) >= 0)
        org->n++;
    org->v = malloc(org->n ? org->n : 1);
    for (size_t i = 0; i < org->n; i++)
        org->v[i] = (unsigned char)count_alloc_recorded(i + 1);
}

/* Sweeps N = from, from+1, ... until a run does not reach its N-th
 * allocation.  Points that were a library's in the warm-up run are swept
 * only every lib_stride-th (1: all). */
static void sweep(const char *part, int is_aio, const struct origins *org, size_t from,
                  size_t lib_stride, size_t max_n, struct tally *t)
{
    struct outcome o;
    for (size_t n = from; !max_n || n <= max_n; n++) {
        int lib_point = n <= org->n && org->v[n - 1];
        if (lib_point && (n - 1) % lib_stride != 0) {
            t->skipped++;
            continue;
        }
        size_t own = count_alloc_live_own(), ev0 = count_alloc_events();
        if (is_aio) {
            run_aio(&o, n, 0);
        } else {
            count_alloc_fail_at(n);
            run_memory(&o);
        }
        int injected = count_alloc_failed();
        int in_lib = injected && count_alloc_failed_in_library();
        size_t used = count_alloc_events() - ev0;
        count_alloc_fail_at(0);
        t->rounds++;
        t->lib_rounds += in_lib;
        const char *src = !injected ? "-" : in_lib ? "library" : "tlsplug";
        if (count_alloc_live_own() != own) {
            char why[96];
            snprintf(why, sizeof why, "leak: %zu of tlsplug's blocks live before, %zu after", own,
                     count_alloc_live_own());
            violation(t, part, n, why, &o, src);
        }
        if (o.callbacks_bad)
            violation(t, part, n, "a callback missing or fired twice", &o, src);
        if (verbose)
            printf("%s N=%zu %s: %s%s %s: %s\n", part, n, src,
                   o.ok ? "ok" : tlsplug_error_name(o.cls), o.stalled ? " (stalled)" : "",
                   o.where, o.msg);
        if (!injected) {
            if (!o.ok)
                violation(t, part, n, "the run failed without an injected failure", &o, src);
            t->full_run = used;
            t->rounds--; /* the closing full run is not a failure point */
            return;
        }
        if (o.ok) {
            t->absorbed++;
            continue;
        }
        t->failed++;
        if (o.stalled || o.cls == 0) {
            violation(t, part, n, "the failure was swallowed (no error, no progress)", &o, src);
            continue;
        }
        if (!o.msg[0] && strncmp(o.where, "tlsplug_", 8) != 0)
            violation(t, part, n, "an error without a message", &o, src);
        if (o.cls == TLSPLUG_E_NO_MEMORY) {
            t->oom++;
            if (in_lib)
                t->oom_library++;
            else
                t->oom_tlsplug++;
            continue;
        }
        t->other++;
        note_other(t, o.cls);
        if (is_aio || in_lib)
            continue;
        if (known_gap(&o)) {
            t->known++;
            printf("KNOWN GAP %s N=%zu: %s: %s: %s\n", part, n, o.where,
                   tlsplug_error_name(o.cls), o.msg);
        } else {
            violation(t, part, n, "tlsplug's own allocation failed but the class is not "
                                  "out-of-memory",
                      &o, src);
        }
    }
    printf("%s: stopped at N = %zu before a full run (--max)\n", part, max_n);
}

static void usage(void)
{
    fprintf(stderr, "usage: test_alloc_fail BACKEND [--part memory|aio] [--from N] [--max N] "
                    "[--lib-stride K] [--verbose]\n");
}

int main(int argc, char **argv)
{
    /* first of all: every block tlsplug ever makes goes through the hook */
    if (count_alloc_install() != TLSPLUG_OK) {
        fprintf(stderr, "tlsplug_set_allocator failed\n");
        return 1;
    }
    if (argc < 2) {
        usage();
        return 2;
    }
    impl = test_backend(argv[1]);
    const char *only = NULL;
    size_t from = 1, lib_stride = 1, max_n = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--verbose"))
            verbose = 1;
        else if (!strcmp(argv[i], "--part") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--from") && i + 1 < argc)
            from = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--lib-stride") && i + 1 < argc)
            lib_stride = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--max") && i + 1 < argc)
            max_n = strtoul(argv[++i], NULL, 10);
        else {
            usage();
            return 2;
        }
    }
    /* a mistyped part would sweep nothing and still pass */
    if (only && strcmp(only, "memory") != 0 && strcmp(only, "aio") != 0) {
        fprintf(stderr, "test_alloc_fail: unknown part '%s' (memory or aio)\n", only);
        usage();
        return 2;
    }
    if (!from || !lib_stride) {
        usage();
        return 2;
    }
    count_alloc_classify_by_caller();

    /* Warm-up runs: lazily made library state (error tables, providers,
     * RNG) is made here once, and whose each allocation is gets recorded. */
    struct outcome o;
    struct origins mem_org, aio_org;
    run_memory(&o); /* the first run also makes the libraries' lazy state */
    count_alloc_record(1);
    run_memory(&o);
    count_alloc_record(0);
    take_origins(&mem_org);
    if (!o.ok) {
        fprintf(stderr, "warm-up memory run failed: %s: %s\n", o.where, o.msg);
        return 1;
    }
    struct outcome oc = {0};
    if (make_ctx(&aio_sctx, TLSPLUG_SIDE_SERVER, &oc) ||
        make_ctx(&aio_cctx, TLSPLUG_SIDE_CLIENT, &oc)) {
        fprintf(stderr, "contexts for the aio run: %s: %s\n", oc.where, oc.msg);
        return 1;
    }
    run_aio(&o, 0, 0);
    run_aio(&o, 0, 1);
    take_origins(&aio_org);
    if (!o.ok) {
        fprintf(stderr, "warm-up aio run failed: %s: %s\n", o.where, o.msg);
        return 1;
    }
    size_t lib_live0 = count_alloc_live() - count_alloc_live_own();

    struct tally tm = {0}, ta = {0};
    double t0 = now_s();
    if (!only || !strcmp(only, "memory"))
        sweep("memory", 0, &mem_org, from, lib_stride, max_n, &tm);
    double t1 = now_s();
    if (!only || !strcmp(only, "aio"))
        sweep("aio", 1, &aio_org, from, lib_stride, max_n, &ta);
    double t2 = now_s();
    size_t lib_live1 = count_alloc_live() - count_alloc_live_own();
    tlsplug_ctx_free(aio_sctx);
    tlsplug_ctx_free(aio_cctx);

    const char *name = tlsplug_impl_name(impl);
    struct {
        const char *part;
        struct tally *t;
        const struct origins *org;
        double secs;
    } parts[] = {{"memory", &tm, &mem_org, t1 - t0}, {"aio", &ta, &aio_org, t2 - t1}};
    unsigned long violations = 0;
    for (int i = 0; i < 2; i++) {
        struct tally *t = parts[i].t;
        if (!t->rounds && !t->full_run)
            continue;
        size_t libs = 0;
        for (size_t k = 0; k < parts[i].org->n; k++)
            libs += parts[i].org->v[k];
        violations += t->violations;
        printf("alloc-fail-%s %s: a full run makes %zu allocations (%zu tlsplug, %zu library); "
               "%lu failure points swept (%lu skipped, library stride %zu) in %.1f s: %lu "
               "absorbed (run still correct), %lu failed cleanly (out-of-memory %lu: at a "
               "tlsplug allocation %lu, at a library one %lu; other classes %lu:%s), %lu known "
               "gaps, %lu violations\n",
               name, parts[i].part, t->full_run, parts[i].org->n - libs, libs, t->rounds,
               t->skipped, lib_stride, parts[i].secs, t->absorbed, t->failed, t->oom,
               t->oom_tlsplug, t->oom_library, t->other, t->others[0] ? t->others : " none",
               t->known, t->violations);
    }
    printf("alloc-fail-%s: library blocks live after the warm-up %zu, after the sweep %zu "
           "(caches; library leaks are valgrind's job)\n",
           name, lib_live0, lib_live1);
    free(mem_org.v);
    free(aio_org.v);
    return violations ? 1 : 0;
}
