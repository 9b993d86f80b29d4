/* The OpenSSL 3 baseline: an SSL_CTX and one SSL per connection, a custom
 * BIO over the in-memory pipes, SSL_set_fd over sockets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench.h"

typedef struct octx {
    SSL_CTX *ctx;
    int server, verify;
} octx;

typedef struct oconn {
    SSL *ssl;
    bn_pipe *in, *out;
    char err[160];
} oconn;

static BIO_METHOD *pipe_method;

static int pipe_write(BIO *b, const char *buf, int len)
{
    oconn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t n = bn_pipe_put(c->out, buf, (size_t)len);
    if (n == 0) {
        BIO_set_retry_write(b);
        return -1;
    }
    return (int)n;
}

static int pipe_read(BIO *b, char *buf, int len)
{
    oconn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t n = bn_pipe_get(c->in, buf, (size_t)len);
    if (n == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    return (int)n;
}

static long pipe_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH; /* libssl flushes after each flight */
}

static int method_ready(void)
{
    if (pipe_method)
        return 1;
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "bench-pipe");
    if (!m || !BIO_meth_set_write(m, pipe_write) || !BIO_meth_set_read(m, pipe_read) ||
        !BIO_meth_set_ctrl(m, pipe_ctrl)) {
        BIO_meth_free(m);
        return 0;
    }
    pipe_method = m;
    return 1;
}

static void ossl_ctx_free(void *p)
{
    octx *o = p;
    if (o) {
        SSL_CTX_free(o->ctx);
        free(o);
    }
}

static void *ossl_ctx_new(const bn_ctx_opts *op, char *err, size_t errlen)
{
    if (!method_ready()) {
        snprintf(err, errlen, "BIO_meth_new failed");
        return NULL;
    }
    octx *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->server = op->server;
    o->verify = op->verify;
    SSL_CTX *c = o->ctx = SSL_CTX_new(TLS_method());
    int v = op->version == TLSPLUG_TLS1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    int ok = c && SSL_CTX_set_min_proto_version(c, v) && SSL_CTX_set_max_proto_version(c, v) &&
             SSL_CTX_set_cipher_list(c, op->cert == BN_CERT_RSA ? "ECDHE-RSA-AES128-GCM-SHA256"
                                                                : "ECDHE-ECDSA-AES128-GCM-SHA256") &&
             SSL_CTX_set_ciphersuites(c, "TLS_AES_128_GCM_SHA256") &&
             SSL_CTX_set1_groups_list(c, "X25519:P-256");
    if (ok && op->server) {
        const char *chain = op->cert == BN_CERT_RSA ? "server-rsa-chain.pem" : "server-ec-chain.pem";
        const char *key = op->cert == BN_CERT_RSA ? "server-rsa.key.pem" : "server-ec.key.pem";
        ok = SSL_CTX_use_certificate_chain_file(c, bench_pki_path(op->pki, chain)) == 1 &&
             SSL_CTX_use_PrivateKey_file(c, bench_pki_path(op->pki, key), SSL_FILETYPE_PEM) == 1;
    } else if (ok && op->verify) {
        ok = SSL_CTX_load_verify_locations(c, bench_pki_path(op->pki, "ca.pem"), NULL) == 1;
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    }
    if (ok) {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        if (op->tickets) {
            SSL_CTX_clear_options(c, SSL_OP_NO_TICKET);
            SSL_CTX_set_num_tickets(c, 1); /* as many as tlsplug's backend issues */
        } else {
            SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
            SSL_CTX_set_num_tickets(c, 0);
        }
    }
    if (!ok) {
        unsigned long e = ERR_get_error();
        snprintf(err, errlen, "OpenSSL context: %s", e ? ERR_error_string(e, NULL) : "failed");
        ERR_clear_error();
        ossl_ctx_free(o);
        return NULL;
    }
    return o;
}

static void ossl_conn_free(void *p)
{
    oconn *c = p;
    if (c) {
        /* libssl marks the session of an SSL freed without a shutdown as
         * not resumable; the bench skips the close_notify exchange, so say
         * it was sent (tlsplug's backend does the same). */
        if (c->ssl && SSL_is_init_finished(c->ssl))
            SSL_set_shutdown(c->ssl, SSL_get_shutdown(c->ssl) | SSL_SENT_SHUTDOWN);
        SSL_free(c->ssl);
        free(c);
    }
}

static void *ossl_conn_new(void *ctx, int fd, bn_pipe *in, bn_pipe *out, void *session)
{
    octx *o = ctx;
    oconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->in = in;
    c->out = out;
    c->ssl = SSL_new(o->ctx);
    if (!c->ssl)
        goto fail;
    if (fd >= 0) {
        /* A performance-minded user lets libssl read ahead on a socket:
         * one read per record instead of header and body apart. */
        SSL_set_read_ahead(c->ssl, 1);
        if (!SSL_set_fd(c->ssl, fd))
            goto fail;
    } else {
        BIO *b = BIO_new(pipe_method);
        if (!b)
            goto fail;
        BIO_set_data(b, c);
        BIO_set_init(b, 1);
        SSL_set_bio(c->ssl, b, b);
    }
    if (o->server) {
        SSL_set_accept_state(c->ssl);
    } else {
        SSL_set_connect_state(c->ssl);
        if (!SSL_set_tlsext_host_name(c->ssl, "localhost"))
            goto fail;
        if (o->verify && !SSL_set1_host(c->ssl, "localhost"))
            goto fail;
        if (session)
            SSL_set_session(c->ssl, session);
    }
    return c;
fail:
    ERR_clear_error();
    ossl_conn_free(c);
    return NULL;
}

static int step_result(oconn *c, int r)
{
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return BN_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return BN_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return BN_CLOSED;
    default: {
        unsigned long e = ERR_get_error();
        snprintf(c->err, sizeof c->err, "%s", e ? ERR_error_string(e, NULL) : "SSL error");
        ERR_clear_error();
        return BN_ERROR;
    }
    }
}

static int ossl_handshake(void *p)
{
    oconn *c = p;
    int r = SSL_do_handshake(c->ssl);
    return r == 1 ? 0 : step_result(c, r);
}

static long ossl_read(void *p, void *buf, size_t cap)
{
    oconn *c = p;
    size_t n = 0;
    if (SSL_read_ex(c->ssl, buf, cap, &n) == 1)
        return (long)n;
    return step_result(c, 0);
}

static long ossl_write(void *p, const void *buf, size_t len)
{
    oconn *c = p;
    size_t n = 0;
    if (SSL_write_ex(c->ssl, buf, len, &n) == 1)
        return (long)n;
    return step_result(c, 0);
}

static void *ossl_session_get(void *p)
{
    oconn *c = p;
    SSL_SESSION *s = SSL_get1_session(c->ssl);
    if (s && !SSL_SESSION_is_resumable(s)) {
        SSL_SESSION_free(s);
        return NULL;
    }
    return s;
}

static void ossl_session_free(void *s)
{
    SSL_SESSION_free(s);
}

static int ossl_resumed(void *p)
{
    return SSL_session_reused(((oconn *)p)->ssl) ? 1 : 0;
}

static void ossl_describe(void *p, int *version, int *aes, int *x25519)
{
    oconn *c = p;
    *version = SSL_version(c->ssl);
    const SSL_CIPHER *ci = SSL_get_current_cipher(c->ssl);
    unsigned id = ci ? SSL_CIPHER_get_protocol_id(ci) : 0;
    *aes = id == 0x1301 || id == 0xC02B || id == 0xC02F;
    *x25519 = SSL_get_negotiated_group(c->ssl) == NID_X25519;
}

static const char *ossl_last_error(void *p)
{
    return ((oconn *)p)->err;
}

const bench_native bench_native_openssl = {
    .name = "openssl",
    .impl = TLSPLUG_IMPL_OPENSSL,
    .ctx_new = ossl_ctx_new,
    .ctx_free = ossl_ctx_free,
    .conn_new = ossl_conn_new,
    .conn_free = ossl_conn_free,
    .handshake = ossl_handshake,
    .read = ossl_read,
    .write = ossl_write,
    .session_get = ossl_session_get,
    .session_free = ossl_session_free,
    .resumed = ossl_resumed,
    .describe = ossl_describe,
    .last_error = ossl_last_error,
};
