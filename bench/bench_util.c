/* Helpers the scenario files share: the in-memory pipe, clocks, medians, the
 * PKI paths, the tlsplug context with the pins the natives use, the version
 * measured, waiting for children and the callgrind child's CASE lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "bench.h"

int bn_pipe_init(bn_pipe *pp, size_t cap)
{
    memset(pp, 0, sizeof *pp);
    pp->p = malloc(cap);
    pp->cap = pp->p ? cap : 0;
    return pp->p ? 0 : -1;
}

void bn_pipe_free(bn_pipe *pp)
{
    free(pp->p);
    memset(pp, 0, sizeof *pp);
}

size_t bn_pipe_put(bn_pipe *pp, const void *data, size_t len)
{
    if (pp->len == 0)
        pp->off = 0;
    if (pp->off + pp->len + len > pp->cap && pp->off) {
        memmove(pp->p, pp->p + pp->off, pp->len);
        pp->off = 0;
    }
    size_t room = pp->cap - pp->off - pp->len;
    size_t n = len < room ? len : room;
    memcpy(pp->p + pp->off + pp->len, data, n);
    pp->len += n;
    pp->total += n;
    return n;
}

size_t bn_pipe_get(bn_pipe *pp, void *out, size_t cap)
{
    size_t n = pp->len < cap ? pp->len : cap;
    memcpy(out, pp->p + pp->off, n);
    pp->off += n;
    pp->len -= n;
    return n;
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    if (n <= 0)
        return 0.0 / 0.0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

const char *bench_pki_path(const char *dir, const char *file)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, file);
    return path[k];
}

int bench_top_version(tlsplug_impl impl)
{
    return (tlsplug_impl_caps(impl) & TLSPLUG_CAP_TLS13) ? TLSPLUG_TLS1_3 : TLSPLUG_TLS1_2;
}

pid_t bench_waitpid(pid_t pid, int *status, int flags)
{
    pid_t r;
    do
        r = waitpid(pid, status, flags);
    while (r < 0 && errno == EINTR);
    return r;
}

void bench_cg_case(const char *backend, const char *metric, int native, unsigned long long ops,
                   int ran, int ok)
{
    printf("CASE %s|%s|%s|%llu|%d|%d\n", backend, metric, native ? "native" : "tlsplug", ops, ran,
           ok);
    fflush(stdout);
}

tlsplug_ctx *bench_tl_ctx(tlsplug_impl impl, const bn_ctx_opts *o)
{
    tlsplug_config *cfg = tlsplug_config_new(o->server ? TLSPLUG_SIDE_SERVER : TLSPLUG_SIDE_CLIENT);
    if (!cfg)
        return NULL;
    int rc;
    if (o->server) {
        int rsa = o->cert == BN_CERT_RSA;
        rc = tlsplug_config_set_cert_file(
            cfg, bench_pki_path(o->pki, rsa ? "server-rsa-chain.pem" : "server-ec-chain.pem"),
            bench_pki_path(o->pki, rsa ? "server-rsa.key.pem" : "server-ec.key.pem"), NULL);
    } else if (o->verify) {
        rc = tlsplug_config_add_trust_file(cfg, bench_pki_path(o->pki, "ca.pem"));
    } else {
        rc = tlsplug_config_set_verify(cfg, TLSPLUG_VERIFY_NONE);
    }
    if (!rc)
        rc = tlsplug_config_set_versions(cfg, o->version, o->version);
    /* only the version in use: a backend without TLS 1.3 refuses 1.3 suites */
    if (!rc && o->version == TLSPLUG_TLS1_2)
        rc = tlsplug_config_set_ciphers_tls12(cfg, o->cert == BN_CERT_RSA
                                                       ? "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
                                                       : "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    if (!rc && o->version == TLSPLUG_TLS1_3)
        rc = tlsplug_config_set_ciphers_tls13(cfg, "TLS_AES_128_GCM_SHA256");
    if (!rc)
        rc = tlsplug_config_set_groups(cfg, "x25519,secp256r1");
    if (!rc)
        rc = tlsplug_config_set_resumption(cfg, o->tickets, 0);
    tlsplug_ctx *ctx = NULL;
    if (rc) {
        const tlsplug_error *e = tlsplug_config_error(cfg);
        bench_note("%s: tlsplug config: %s", tlsplug_impl_name(impl),
                   e ? tlsplug_error_message(e) : tlsplug_error_name(rc));
    } else {
        tlsplug_error *err = NULL;
        if (tlsplug_ctx_new(&ctx, cfg, impl, &err) != TLSPLUG_OK) {
            bench_note("%s: tlsplug_ctx_new: %s", tlsplug_impl_name(impl),
                       err ? tlsplug_error_message(err) : "failed");
            tlsplug_error_free(err);
            ctx = NULL;
        }
    }
    tlsplug_config_free(cfg);
    return ctx;
}
