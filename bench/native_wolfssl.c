/* The wolfSSL 5.5 baseline: a WOLFSSL_CTX on the version's own method, one
 * WOLFSSL per connection, per-object I/O callbacks over the in-memory pipes
 * or wolfSSL_set_fd over a socket. */
#include <wolfssl/options.h> /* must come first (BACKEND-NOTES) */
#include <wolfssl/ssl.h>
#include <wolfssl/wolfio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct wctx {
    WOLFSSL_CTX *ctx;
    int server, tickets, version;
} wctx;

typedef struct wconn {
    WOLFSSL *ssl;
    bn_pipe *in, *out;
    char err[160];
} wconn;

static int pipe_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    (void)ssl;
    wconn *c = arg;
    size_t n = bn_pipe_get(c->in, buf, (size_t)sz);
    return n ? (int)n : WOLFSSL_CBIO_ERR_WANT_READ;
}

static int pipe_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    (void)ssl;
    wconn *c = arg;
    size_t n = bn_pipe_put(c->out, buf, (size_t)sz);
    return n ? (int)n : WOLFSSL_CBIO_ERR_WANT_WRITE;
}

static void wf_ctx_free(void *p)
{
    wctx *w = p;
    if (w) {
        wolfSSL_CTX_free(w->ctx);
        free(w);
    }
}

static void *wf_ctx_new(const bn_ctx_opts *o, char *err, size_t errlen)
{
    static int inited;
    if (!inited++)
        wolfSSL_Init();
    wctx *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->server = o->server;
    w->tickets = o->tickets;
    w->version = o->version;
    int v13 = o->version == TLSPLUG_TLS1_3;
    WOLFSSL_METHOD *m = o->server ? (v13 ? wolfTLSv1_3_server_method() : wolfTLSv1_2_server_method())
                                  : (v13 ? wolfTLSv1_3_client_method() : wolfTLSv1_2_client_method());
    const char *what = "CTX_new";
    int ok = (w->ctx = wolfSSL_CTX_new(m)) != NULL;
    if (ok) {
        what = "cipher list";
        const char *list = v13 ? "TLS13-AES128-GCM-SHA256"
                           : o->cert == BN_CERT_RSA ? "ECDHE-RSA-AES128-GCM-SHA256"
                                                    : "ECDHE-ECDSA-AES128-GCM-SHA256";
        ok = wolfSSL_CTX_set_cipher_list(w->ctx, list) == WOLFSSL_SUCCESS;
    }
    if (ok) {
        what = "groups";
        if (v13) {
            int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1};
            ok = wolfSSL_CTX_set_groups(w->ctx, groups, 2) == WOLFSSL_SUCCESS;
        } else {
            ok = wolfSSL_CTX_UseSupportedCurve(w->ctx, WOLFSSL_ECC_X25519) == WOLFSSL_SUCCESS &&
                 wolfSSL_CTX_UseSupportedCurve(w->ctx, WOLFSSL_ECC_SECP256R1) == WOLFSSL_SUCCESS;
        }
    }
    if (ok && o->server) {
        what = "certificate";
        const char *chain = o->cert == BN_CERT_RSA ? "server-rsa-chain.pem" : "server-ec-chain.pem";
        const char *key = o->cert == BN_CERT_RSA ? "server-rsa.key.pem" : "server-ec.key.pem";
        ok = wolfSSL_CTX_use_certificate_chain_file(w->ctx, bench_pki_path(o->pki, chain)) ==
                 WOLFSSL_SUCCESS &&
             wolfSSL_CTX_use_PrivateKey_file(w->ctx, bench_pki_path(o->pki, key),
                                             WOLFSSL_FILETYPE_PEM) == WOLFSSL_SUCCESS;
        /* The server's defaults: a TLS 1.3 ticket and a session cache. */
        wolfSSL_CTX_set_session_cache_mode(w->ctx, WOLFSSL_SESS_CACHE_OFF);
        if (!o->tickets) {
            wolfSSL_CTX_NoTicketTLSv12(w->ctx);
            wolfSSL_CTX_no_ticket_TLSv13(w->ctx);
        }
    } else if (ok && o->verify) {
        what = "trust";
        ok = wolfSSL_CTX_load_verify_locations(w->ctx, bench_pki_path(o->pki, "ca.pem"), NULL) ==
             WOLFSSL_SUCCESS;
        wolfSSL_CTX_set_verify(w->ctx, WOLFSSL_VERIFY_PEER, NULL);
    } else if (ok) {
        wolfSSL_CTX_set_verify(w->ctx, WOLFSSL_VERIFY_NONE, NULL);
    }
    if (!ok) {
        snprintf(err, errlen, "wolfSSL context: %s failed", what);
        wf_ctx_free(w);
        return NULL;
    }
    return w;
}

static void wf_conn_free(void *p)
{
    wconn *c = p;
    if (c) {
        wolfSSL_free(c->ssl);
        free(c);
    }
}

static void *wf_conn_new(void *ctx, int fd, bn_pipe *in, bn_pipe *out, void *session)
{
    wctx *w = ctx;
    wconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->in = in;
    c->out = out;
    if (!(c->ssl = wolfSSL_new(w->ctx)))
        goto fail;
    if (fd >= 0) {
        if (wolfSSL_set_fd(c->ssl, fd) != WOLFSSL_SUCCESS)
            goto fail;
        wolfSSL_set_using_nonblock(c->ssl, 1);
    } else {
        wolfSSL_SSLSetIORecv(c->ssl, pipe_recv);
        wolfSSL_SSLSetIOSend(c->ssl, pipe_send);
        wolfSSL_SetIOReadCtx(c->ssl, c);
        wolfSSL_SetIOWriteCtx(c->ssl, c);
    }
    if (!w->server) {
        if (wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, "localhost", 9) != WOLFSSL_SUCCESS ||
            wolfSSL_check_domain_name(c->ssl, "localhost") != WOLFSSL_SUCCESS)
            goto fail;
        /* TLS 1.2 tickets are only asked for when the client says so. */
        if (w->tickets && w->version == TLSPLUG_TLS1_2)
            wolfSSL_UseSessionTicket(c->ssl);
        if (session && wolfSSL_set_session(c->ssl, session) != WOLFSSL_SUCCESS)
            goto fail;
    }
    return c;
fail:
    wf_conn_free(c);
    return NULL;
}

static int step_result(wconn *c, int r)
{
    int e = wolfSSL_get_error(c->ssl, r);
    if (e == WOLFSSL_ERROR_WANT_READ)
        return BN_WANT_READ;
    if (e == WOLFSSL_ERROR_WANT_WRITE)
        return BN_WANT_WRITE;
    if (e == WOLFSSL_ERROR_ZERO_RETURN)
        return BN_CLOSED;
    char buf[WOLFSSL_MAX_ERROR_SZ];
    snprintf(c->err, sizeof c->err, "%d %s", e, wolfSSL_ERR_error_string((unsigned long)e, buf));
    return BN_ERROR;
}

static int wf_handshake(void *p)
{
    wconn *c = p;
    int r = wolfSSL_negotiate(c->ssl);
    return r == WOLFSSL_SUCCESS ? 0 : step_result(c, r);
}

static long wf_read(void *p, void *buf, size_t cap)
{
    wconn *c = p;
    int r = wolfSSL_read(c->ssl, buf, (int)cap);
    return r > 0 ? r : step_result(c, r);
}

static long wf_write(void *p, const void *buf, size_t len)
{
    wconn *c = p;
    int r = wolfSSL_write(c->ssl, buf, (int)len);
    return r > 0 ? r : step_result(c, r);
}

static void *wf_session_get(void *p)
{
    return wolfSSL_get1_session(((wconn *)p)->ssl);
}

static void wf_session_free(void *s)
{
    wolfSSL_SESSION_free(s);
}

static int wf_resumed(void *p)
{
    return wolfSSL_session_reused(((wconn *)p)->ssl) ? 1 : 0;
}

static void wf_describe(void *p, int *version, int *aes, int *x25519)
{
    wconn *c = p;
    *version = wolfSSL_version(c->ssl);
    int cs = wolfSSL_get_current_cipher_suite(c->ssl);
    /* (first byte << 8) | second: 0x1301 for TLS 1.3, ECC suites 0xC02B/F */
    *aes = cs == 0x1301 || cs == 0xC02B || cs == 0xC02F;
    const char *g = wolfSSL_get_curve_name(c->ssl);
    *x25519 = g ? strstr(g, "25519") != NULL : -1;
}

static const char *wf_last_error(void *p)
{
    return ((wconn *)p)->err;
}

const bench_native bench_native_wolfssl = {
    .name = "wolfssl",
    .impl = TLSPLUG_IMPL_WOLFSSL,
    .ctx_new = wf_ctx_new,
    .ctx_free = wf_ctx_free,
    .conn_new = wf_conn_new,
    .conn_free = wf_conn_free,
    .handshake = wf_handshake,
    .read = wf_read,
    .write = wf_write,
    .session_get = wf_session_get,
    .session_free = wf_session_free,
    .resumed = wf_resumed,
    .describe = wf_describe,
    .last_error = wf_last_error,
};
