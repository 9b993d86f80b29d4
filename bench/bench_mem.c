/* The in-memory cases: bulk throughput, full and resumed handshakes, memory
 * per idle connection and peak while connecting.  Each case runs the same
 * loop over two sides: tlsplug engines (each step reads the peer engine's
 * send buffer in place, tlsplug_conn_recv_lend) and the native baseline
 * (ciphertext written by the library's callbacks into a pipe the peer reads).
 * One thread runs both ends; object creation and freeing are part of a
 * handshake. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define REC 16384                 /* bytes per write in the bulk case     */
#define PIPE_CAP (64 * 1024)      /* one direction of a native transport  */
#define HS_ROUNDS 64              /* handshake step rounds before giving up */

typedef struct mpair {
    void *c, *s; /* tlsplug_conn* or native connection */
    bn_pipe c2s, s2c;
    size_t s2c_hs; /* server-to-client bytes during the handshake */
} mpair;

typedef struct mcase {
    tlsplug_impl impl;
    const bench_native *nat; /* NULL: the tlsplug side */
    bn_ctx_opts co, so;
    void *cctx, *sctx;
    void *session; /* native client: the session to offer next */
    mpair pair;
    unsigned char *wbuf, *rbuf;
    int checked, failed;
    const char *what; /* for messages */
} mcase;

static const char *side_name(const mcase *m)
{
    return m->nat ? "native" : "tlsplug";
}

static void fail(mcase *m, const char *fmt, const char *detail)
{
    if (!m->failed)
        bench_note("%s %s %s: %s%s%s", tlsplug_impl_name(m->impl), side_name(m), m->what, fmt,
                   detail && *detail ? ": " : "", detail ? detail : "");
    m->failed = 1;
}

/* ---- one pair, either side ----------------------------------------------- */

static int pair_pipes(mpair *p)
{
    return bn_pipe_init(&p->c2s, PIPE_CAP) || bn_pipe_init(&p->s2c, PIPE_CAP) ? -1 : 0;
}

static void pair_pipes_free(mpair *p)
{
    bn_pipe_free(&p->c2s);
    bn_pipe_free(&p->s2c);
}

static int pair_open(mcase *m, mpair *p)
{
    p->c = p->s = NULL;
    p->s2c_hs = 0;
    p->c2s.off = p->c2s.len = p->s2c.off = p->s2c.len = 0;
    if (m->nat) {
        p->c = m->nat->conn_new(m->cctx, -1, &p->s2c, &p->c2s, m->session);
        p->s = m->nat->conn_new(m->sctx, -1, &p->c2s, &p->s2c, NULL);
    } else {
        tlsplug_conn_options co = {.side = TLSPLUG_SIDE_CLIENT, .server_name = "localhost"};
        tlsplug_conn_options so = {.side = TLSPLUG_SIDE_SERVER};
        tlsplug_error *err = NULL;
        tlsplug_conn *c = NULL, *s = NULL;
        if (tlsplug_conn_new(&c, m->cctx, &co, &err) || tlsplug_conn_new(&s, m->sctx, &so, &err)) {
            fail(m, "tlsplug_conn_new", err ? tlsplug_error_message(err) : "");
            tlsplug_error_free(err);
        }
        p->c = c;
        p->s = s;
    }
    if (!p->c || !p->s) {
        fail(m, "cannot make a connection", "");
        return -1;
    }
    return 0;
}

static void pair_close(mcase *m, mpair *p)
{
    if (m->nat) {
        if (p->c && m->co.tickets) {
            void *s = m->nat->session_get(p->c);
            if (s) {
                if (m->session)
                    m->nat->session_free(m->session);
                m->session = s;
            }
        }
        if (p->c)
            m->nat->conn_free(p->c);
        if (p->s)
            m->nat->conn_free(p->s);
    } else {
        /* the client's context keeps the session to offer next time */
        tlsplug_conn_free(p->c);
        tlsplug_conn_free(p->s);
    }
    p->c = p->s = NULL;
}

static int tl_result(int rc)
{
    switch (rc) {
    case TLSPLUG_OK:
        return 0;
    case TLSPLUG_WANT_READ:
        return BN_WANT_READ;
    case TLSPLUG_WANT_WRITE:
        return BN_WANT_WRITE;
    case TLSPLUG_E_CLOSED:
        return BN_CLOSED;
    default:
        return BN_ERROR;
    }
}

/* tlsplug: a step reads the peer's send buffer in place
 * (tlsplug_conn_recv_lend), the way the natives' read callbacks read their
 * pipe; afterwards the peer lets go of what the step consumed. */
static void tl_lend(mpair *p, int client)
{
    tlsplug_conn *me = client ? p->c : p->s, *peer = client ? p->s : p->c;
    size_t len;
    const void *src = tlsplug_conn_send_buf(peer, &len);
    tlsplug_conn_recv_lend(me, src, len);
}

static void tl_settle(mpair *p, int client)
{
    tlsplug_conn *me = client ? p->c : p->s, *peer = client ? p->s : p->c;
    size_t k = tlsplug_conn_recv_taken(me);
    tlsplug_conn_send_ack(peer, k);
    if (client)
        p->s2c_hs += k;
}

static const char *err_of(mcase *m, mpair *p, int client)
{
    void *e = client ? p->c : p->s;
    if (m->nat)
        return m->nat->last_error(e);
    const tlsplug_error *te = tlsplug_conn_error(e);
    return te ? tlsplug_error_message(te) : "";
}

static int step_hs(mcase *m, mpair *p, int client)
{
    void *e = client ? p->c : p->s;
    if (m->nat)
        return m->nat->handshake(e);
    tl_lend(p, client);
    int r = tl_result(tlsplug_conn_handshake(e));
    tl_settle(p, client);
    return r;
}

static long side_write(mcase *m, mpair *p, int client, const void *buf, size_t len)
{
    void *e = client ? p->c : p->s;
    if (m->nat)
        return m->nat->write(e, buf, len);
    size_t n = 0;
    tl_lend(p, client);
    int rc = tlsplug_conn_write(e, buf, len, &n);
    tl_settle(p, client);
    return rc == TLSPLUG_OK ? (long)n : tl_result(rc);
}

static long side_read(mcase *m, mpair *p, int client, void *buf, size_t cap)
{
    void *e = client ? p->c : p->s;
    if (m->nat)
        return m->nat->read(e, buf, cap);
    size_t n = 0;
    tl_lend(p, client);
    int rc = tlsplug_conn_read(e, buf, cap, &n);
    tl_settle(p, client);
    return rc == TLSPLUG_OK ? (long)n : tl_result(rc);
}

/* Version, AES-128-GCM, x25519 and resumption as negotiated. */
static void describe(mcase *m, mpair *p, int *version, int *aes, int *x25519, int *resumed)
{
    if (m->nat) {
        m->nat->describe(p->c, version, aes, x25519);
        *resumed = m->nat->resumed ? m->nat->resumed(p->c) : -1;
    } else {
        tlsplug_info i;
        if (tlsplug_conn_info(p->c, &i) != TLSPLUG_OK) {
            *version = *aes = *x25519 = *resumed = 0;
            return;
        }
        *version = i.version;
        *aes = i.cipher_id == 0x1301 || i.cipher_id == 0xC02B || i.cipher_id == 0xC02F;
        *x25519 = i.group_id ? i.group_id == 29 : -1;
        *resumed = i.resumed;
    }
    /* A resumed handshake carries no certificate: a few hundred bytes from
     * the server instead of well over a kilobyte.  The fallback for a
     * library that cannot say (mbedTLS 2.28). */
    if (*resumed < 0) {
        size_t s2c = m->nat ? p->s2c.total : p->s2c_hs;
        *resumed = s2c < 700;
    }
}

static int pair_handshake(mcase *m, mpair *p)
{
    int cdone = 0, sdone = 0;
    if (m->nat)
        p->s2c.total = 0;
    for (int i = 0; i < HS_ROUNDS && !(cdone && sdone); i++) {
        if (!cdone) {
            int r = step_hs(m, p, 1);
            if (r == BN_ERROR || r == BN_CLOSED) {
                fail(m, "client handshake failed", err_of(m, p, 1));
                return -1;
            }
            cdone = r == 0;
        }
        if (!sdone) {
            int r = step_hs(m, p, 0);
            if (r == BN_ERROR || r == BN_CLOSED) {
                fail(m, "server handshake failed", err_of(m, p, 0));
                return -1;
            }
            sdone = r == 0;
        }
    }
    if (!(cdone && sdone)) {
        fail(m, "handshake did not finish", "");
        return -1;
    }
    if (!m->checked) {
        m->checked = 1;
        int v, aes, x, res;
        describe(m, p, &v, &aes, &x, &res);
        if (v != m->co.version || !aes || x == 0)
            bench_note("%s %s %s: negotiated version 0x%04x aes128gcm=%d x25519=%d, not the "
                       "pinned ones",
                       tlsplug_impl_name(m->impl), side_name(m), m->what, (unsigned)v, aes, x);
    }
    return 0;
}

/* Client reads once so a TLS 1.3 ticket that came after the handshake is
 * taken in before the session is saved. */
static int pair_settle(mcase *m, mpair *p)
{
    unsigned char b[64];
    long r = side_read(m, p, 1, b, sizeof b);
    if (r != BN_WANT_READ) {
        fail(m, "unexpected data after the handshake", err_of(m, p, 1));
        return -1;
    }
    return 0;
}

/* One byte each way: the connection has carried data, as an idle one has. */
static int pair_ping(mcase *m, mpair *p)
{
    unsigned char b[16] = {'x'};
    for (int dir = 0; dir < 2; dir++) {
        int from_client = dir == 0;
        if (side_write(m, p, from_client, b, 1) != 1) {
            fail(m, "1-byte write failed", err_of(m, p, from_client));
            return -1;
        }
        long r;
        int tries = 0;
        while ((r = side_read(m, p, !from_client, b, sizeof b)) == BN_WANT_READ && tries++ < 4)
            ;
        if (r != 1) {
            fail(m, "1-byte read failed", err_of(m, p, !from_client));
            return -1;
        }
    }
    return 0;
}

/* ---- case set-up ------------------------------------------------------------ */

static int case_setup(mcase *m, tlsplug_impl impl, const bench_native *nat, const char *pki,
                      int version, bn_cert cert, int tickets, const char *what)
{
    memset(m, 0, sizeof *m);
    m->impl = impl;
    m->nat = nat;
    m->what = what;
    m->co = (bn_ctx_opts){.server = 0, .version = version, .cert = cert, .tickets = tickets,
                          .verify = 1, .pki = pki};
    m->so = m->co;
    m->so.server = 1;
    if (nat) {
        char err[256] = "";
        m->cctx = nat->ctx_new(&m->co, err, sizeof err);
        if (m->cctx)
            m->sctx = nat->ctx_new(&m->so, err, sizeof err);
        if (!m->cctx || !m->sctx)
            fail(m, "native context", err);
    } else {
        m->cctx = bench_tl_ctx(impl, &m->co);
        m->sctx = m->cctx ? bench_tl_ctx(impl, &m->so) : NULL;
        if (!m->cctx || !m->sctx)
            m->failed = 1; /* bench_tl_ctx said why */
    }
    m->wbuf = malloc(REC);
    m->rbuf = malloc(REC);
    if (!m->wbuf || !m->rbuf || pair_pipes(&m->pair)) {
        fail(m, "out of memory", "");
        return -1;
    }
    memset(m->wbuf, 0x5a, REC);
    return m->failed ? -1 : 0;
}

static void case_teardown(mcase *m)
{
    if (m->pair.c || m->pair.s)
        pair_close(m, &m->pair);
    pair_pipes_free(&m->pair);
    if (m->nat) {
        if (m->session)
            m->nat->session_free(m->session);
        if (m->cctx)
            m->nat->ctx_free(m->cctx);
        if (m->sctx)
            m->nat->ctx_free(m->sctx);
    } else {
        tlsplug_ctx_free(m->cctx);
        tlsplug_ctx_free(m->sctx);
    }
    free(m->wbuf);
    free(m->rbuf);
    m->cctx = m->sctx = m->session = NULL;
}

/* ---- the operations measured ------------------------------------------------- */

static int op_handshake(mcase *m)
{
    int rc = pair_open(m, &m->pair);
    if (!rc)
        rc = pair_handshake(m, &m->pair);
    pair_close(m, &m->pair);
    return rc;
}

static int op_resume(mcase *m)
{
    int rc = pair_open(m, &m->pair);
    if (!rc)
        rc = pair_handshake(m, &m->pair);
    if (!rc)
        rc = pair_settle(m, &m->pair);
    if (!rc && m->checked == 1) {
        m->checked = 2;
        int v, aes, x, res;
        describe(m, &m->pair, &v, &aes, &x, &res);
        if (!res) {
            fail(m, "the session was not resumed", "");
            rc = -1;
        }
    }
    pair_close(m, &m->pair);
    return rc;
}

/* One 16 KiB write from the client, read whole by the server. */
static int op_bulk(mcase *m)
{
    mpair *p = &m->pair;
    size_t sent = 0, got = 0;
    for (int guard = 0; got < REC && guard < 64; guard++) {
        if (sent < REC) {
            long n = side_write(m, p, 1, m->wbuf + sent, REC - sent);
            if (n > 0)
                sent += (size_t)n;
            else if (n != BN_WANT_WRITE && n != BN_WANT_READ) {
                fail(m, "write failed", err_of(m, p, 1));
                return -1;
            }
        }
        for (;;) {
            long n = side_read(m, p, 0, m->rbuf, REC);
            if (n > 0) {
                got += (size_t)n;
                continue;
            }
            if (n == BN_WANT_READ)
                break;
            fail(m, "read failed", err_of(m, p, 0));
            return -1;
        }
    }
    if (got != REC) {
        fail(m, "bulk transfer stalled", "");
        return -1;
    }
    return 0;
}

typedef enum { K_BULK, K_HS, K_RESUME } kind;

typedef struct spec {
    kind k;
    int version;
    bn_cert cert;
    char metric[96];
} spec;

static int case_prepare(mcase *m, tlsplug_impl impl, const bench_native *nat,
                        const bench_opts *o, const spec *s)
{
    if (case_setup(m, impl, nat, o->pki, s->version, s->cert, s->k == K_RESUME, s->metric))
        return -1;
    if (s->k == K_BULK)
        return pair_open(m, &m->pair) || pair_handshake(m, &m->pair) ? -1 : 0;
    if (s->k == K_RESUME) /* a full handshake first leaves a session to offer */
        return pair_open(m, &m->pair) || pair_handshake(m, &m->pair) ||
                       pair_settle(m, &m->pair)
                   ? -1
                   : (pair_close(m, &m->pair), 0);
    return 0;
}

static int op_of(mcase *m, kind k)
{
    return k == K_BULK ? op_bulk(m) : k == K_HS ? op_handshake(m) : op_resume(m);
}

/* Operations per second over about run_s seconds (NaN on failure). */
static double timed_run(tlsplug_impl impl, const bench_native *nat, const bench_opts *o,
                        const spec *s)
{
    mcase m;
    double rate = NAN;
    if (case_prepare(&m, impl, nat, o, s) == 0 && op_of(&m, s->k) == 0) {
        long ops = 0;
        double t0 = bench_now(), t = t0;
        while (t - t0 < o->run_s) {
            if (op_of(&m, s->k))
                break;
            ops++;
            t = bench_now();
        }
        if (!m.failed && t > t0)
            rate = (double)ops / (t - t0);
    }
    case_teardown(&m);
    return rate;
}

/* Bytes copied and allocations per operation, over a few operations. */
static void per_op_counts(tlsplug_impl impl, const bench_native *nat, const bench_opts *o,
                          const spec *s, double *copies, double *allocs)
{
    mcase m;
    *copies = *allocs = NAN;
    const int n = 32;
    if (case_prepare(&m, impl, nat, o, s) == 0 && op_of(&m, s->k) == 0) {
        unsigned long long c0 = bench_copy_bytes(), a0 = bench_alloc_calls();
        int i;
        for (i = 0; i < n && op_of(&m, s->k) == 0; i++)
            ;
        if (i == n) {
            *copies = (double)(bench_copy_bytes() - c0) / n;
            *allocs = (double)(bench_alloc_calls() - a0) / n;
        }
    }
    case_teardown(&m);
}

static void measure(const bench_opts *o, tlsplug_impl impl, const bench_native *nat,
                    const spec *s, double scale)
{
    double tl[16], na[16];
    int runs = o->runs > 16 ? 16 : o->runs;
    for (int r = 0; r < runs; r++) {
        /* alternate which side goes first so drift hits both alike */
        if (r % 2 == 0) {
            tl[r] = timed_run(impl, NULL, o, s);
            na[r] = timed_run(impl, nat, o, s);
        } else {
            na[r] = timed_run(impl, nat, o, s);
            tl[r] = timed_run(impl, NULL, o, s);
        }
    }
    bench_result(tlsplug_impl_name(impl), s->metric, bench_median(tl, runs) * scale,
                 bench_median(na, runs) * scale, 1);
}

/* ---- memory -------------------------------------------------------------------- */

static void memory_case(const bench_opts *o, tlsplug_impl impl, const bench_native *nat,
                        int version, double out[4])
{
    /* out: idle per server conn, idle per client conn, peak per pair while
     * connecting, tlsplug core bytes per pair (tlsplug side only) */
    for (int i = 0; i < 4; i++)
        out[i] = NAN;
    mcase m;
    memset(&m, 0, sizeof m);
    int n = o->idle_conns;
    mpair *pairs = calloc((size_t)n, sizeof *pairs);
    double peaks[64];
    int npeaks = 0;
    char what[64];
    snprintf(what, sizeof what, "memory TLS1.%d", version == TLSPLUG_TLS1_3 ? 3 : 2);
    if (!pairs || case_setup(&m, impl, nat, o->pki, version, BN_CERT_EC, 0, what))
        goto done;
    for (int i = 0; i < n; i++)
        if (pair_pipes(&pairs[i]))
            goto done;
    /* warm-up: lazy library initialisation is not per connection */
    if (op_handshake(&m))
        goto done;
    /* peak while connecting, one pair at a time */
    for (int i = 0; i < 16 && npeaks < 64; i++) {
        long long base = bench_live_bytes();
        bench_peak_reset();
        if (pair_open(&m, &m.pair) || pair_handshake(&m, &m.pair)) {
            pair_close(&m, &m.pair);
            goto done;
        }
        peaks[npeaks++] = (double)(bench_peak_bytes() - base);
        pair_close(&m, &m.pair);
    }
    long long base = bench_live_bytes(), tl_base = bench_tlsplug_live_bytes();
    for (int i = 0; i < n; i++) {
        if (pair_open(&m, &pairs[i]) || pair_handshake(&m, &pairs[i]) || pair_ping(&m, &pairs[i]))
            goto done;
        /* what an engine user does while waiting for the peer (tlsplug_aio
         * does it by itself); the natives keep their library's default */
        if (!nat) {
            tlsplug_conn_idle(pairs[i].c);
            tlsplug_conn_idle(pairs[i].s);
        }
    }
    long long both = bench_live_bytes() - base;
    long long tl_both = bench_tlsplug_live_bytes() - tl_base;
    for (int i = 0; i < n; i++) {
        if (nat)
            nat->conn_free(pairs[i].c);
        else
            tlsplug_conn_free(pairs[i].c);
        pairs[i].c = NULL;
    }
    long long servers = bench_live_bytes() - base;
    out[0] = (double)servers / n;
    out[1] = (double)(both - servers) / n;
    out[2] = bench_median(peaks, npeaks);
    out[3] = nat ? NAN : (double)tl_both / n;
done:
    if (pairs) {
        for (int i = 0; i < n; i++) {
            if (pairs[i].c || pairs[i].s)
                pair_close(&m, &pairs[i]);
            pair_pipes_free(&pairs[i]);
        }
        free(pairs);
    }
    case_teardown(&m);
}

static void measure_memory(const bench_opts *o, tlsplug_impl impl, const bench_native *nat,
                           int version)
{
    if (!bench_count_available()) {
        bench_note("%s: memory not measured (built without the counting hooks)",
                   tlsplug_impl_name(impl));
        return;
    }
    double tl[4], na[4];
    memory_case(o, impl, NULL, version, tl);
    memory_case(o, impl, nat, version, na);
    const char *b = tlsplug_impl_name(impl);
    int v = version == TLSPLUG_TLS1_3 ? 3 : 2;
    char metric[96];
    snprintf(metric, sizeof metric, "idle memory per server conn, engine TLS1.%d (bytes)", v);
    bench_result(b, metric, tl[0], na[0], 0);
    snprintf(metric, sizeof metric, "idle memory per client conn, engine TLS1.%d (bytes)", v);
    bench_result(b, metric, tl[1], na[1], 0);
    snprintf(metric, sizeof metric, "peak memory while connecting, pair TLS1.%d (bytes)", v);
    bench_result(b, metric, tl[2], na[2], 0);
    if (!isnan(tl[3]))
        bench_note("%s: of tlsplug's idle client+server engine pair, %.0f bytes went through "
                   "tlsplug's allocator (core, plus the library where the backend hands it "
                   "tlsplug_set_allocator's functions; %d pairs)",
                   b, tl[3], o->idle_conns);
}

/* ---- entry points ---------------------------------------------------------------- */

static int make_specs(tlsplug_impl impl, unsigned groups, spec *out)
{
    int n = 0;
    int top = bench_top_version(impl);
    for (int v = TLSPLUG_TLS1_2; v <= top; v++) {
        int vv = v == TLSPLUG_TLS1_3 ? 3 : 2;
        if (groups & BG_BULK) {
            out[n] = (spec){K_BULK, v, BN_CERT_EC, ""};
            snprintf(out[n++].metric, sizeof out->metric,
                     "bulk throughput 16KiB AES-128-GCM TLS1.%d (MB/s)", vv);
        }
        if (groups & BG_HANDSHAKE) {
            for (int c = 0; c < 2; c++) {
                out[n] = (spec){K_HS, v, c ? BN_CERT_RSA : BN_CERT_EC, ""};
                snprintf(out[n++].metric, sizeof out->metric, "full handshake %s TLS1.%d (/s)",
                         c ? "RSA-2048" : "ECDSA-P256", vv);
            }
        }
        if (groups & BG_RESUME) {
            out[n] = (spec){K_RESUME, v, BN_CERT_EC, ""};
            snprintf(out[n++].metric, sizeof out->metric,
                     "resumed handshake ticket TLS1.%d (/s)", vv);
        }
    }
    return n;
}

void bench_mem_run(const bench_opts *o, tlsplug_impl impl)
{
    const bench_native *nat = bench_native_for(impl);
    const char *b = tlsplug_impl_name(impl);
    if (!nat)
        return;
    if (bench_top_version(impl) == TLSPLUG_TLS1_2 &&
        (o->groups & (BG_BULK | BG_HANDSHAKE | BG_RESUME)))
        bench_note("%s: TLS 1.2 only (the library as built has no TLS 1.3)", b);
    spec specs[16];
    int n = make_specs(impl, o->groups, specs);
    for (int i = 0; i < n; i++) {
        bench_progress("%s: %s", b, specs[i].metric);
        double scale = specs[i].k == K_BULK ? REC / 1e6 : 1.0;
        measure(o, impl, nat, &specs[i], scale);
        if (specs[i].k == K_BULK && bench_count_available()) {
            double tc, ta, nc, na;
            per_op_counts(impl, NULL, o, &specs[i], &tc, &ta);
            per_op_counts(impl, nat, o, &specs[i], &nc, &na);
            int vv = specs[i].version == TLSPLUG_TLS1_3 ? 3 : 2;
            char metric[96];
            snprintf(metric, sizeof metric, "bulk bytes copied per 16KiB record TLS1.%d", vv);
            bench_result(b, metric, tc, nc, 0);
            snprintf(metric, sizeof metric, "bulk allocations per 16KiB record TLS1.%d", vv);
            bench_result(b, metric, ta, na, 0);
            bench_note("%s TLS1.%d bulk: tlsplug copies %.2f records' worth more per record than "
                       "native (memcpy/memmove bytes, both ends)",
                       b, vv, (tc - nc) / REC);
        }
    }
    if (o->groups & BG_MEMORY) {
        bench_progress("%s: memory", b);
        measure_memory(o, impl, nat, bench_top_version(impl));
    }
}

/* ---- callgrind child ------------------------------------------------------------------ */

typedef struct cg_arg {
    mcase *m;
    kind k;
    int n;
} cg_arg;

static int cg_ops(void *p)
{
    cg_arg *a = p;
    for (int i = 0; i < a->n; i++)
        if (op_of(a->m, a->k))
            return -1;
    return 0;
}

void bench_mem_callgrind(const bench_opts *o, tlsplug_impl impl)
{
    const bench_native *nat = bench_native_for(impl);
    if (!nat)
        return;
    spec specs[16];
    int n = make_specs(impl, o->groups & (BG_BULK | BG_HANDSHAKE | BG_RESUME), specs);
    for (int i = 0; i < n; i++) {
        for (int side = 0; side < 2; side++) {
            mcase m;
            cg_arg a = {&m, specs[i].k, specs[i].k == K_BULK ? 64 : o->quick ? 2 : 5};
            int rc = -1, ran = 0;
            if (case_prepare(&m, impl, side ? nat : NULL, o, &specs[i]) == 0 &&
                op_of(&m, specs[i].k) == 0) {
                tlsplug_bench_cg_region(cg_ops, &a, &rc);
                ran = 1;
            }
            /* the parent pairs every region dump (ran=1) with its CASE line */
            bench_cg_case(tlsplug_impl_name(impl), specs[i].metric, side, (unsigned)a.n, ran,
                          rc == 0);
            case_teardown(&m);
        }
    }
}
