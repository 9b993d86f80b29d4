/* The mbedTLS 2.28 baseline: one mbedtls_ssl_config per context, one
 * mbedtls_ssl_context per connection, mbedtls_ssl_set_bio with callbacks
 * over the in-memory pipes, or mbedtls_net_send/recv over a socket.
 * mbedTLS 2.28 has no TLS 1.3: asking for it fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "bench.h"

typedef struct mctx {
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt chain; /* server: own chain; client: trust */
    mbedtls_pk_context key;
    mbedtls_ssl_ticket_context ticket;
    int server;
} mctx;

typedef struct mconn {
    mbedtls_ssl_context ssl;
    mbedtls_net_context net;
    bn_pipe *in, *out;
    char err[160];
} mconn;

/* Stored by pointer in the configuration: static. */
static const int suites_ec[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0};
static const int suites_rsa[] = {MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0};
static const mbedtls_ecp_group_id curves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                              MBEDTLS_ECP_DP_NONE};

static void mb_ctx_free(void *p)
{
    mctx *m = p;
    if (!m)
        return;
    mbedtls_ssl_config_free(&m->conf);
    mbedtls_ssl_ticket_free(&m->ticket);
    mbedtls_x509_crt_free(&m->chain);
    mbedtls_pk_free(&m->key);
    mbedtls_ctr_drbg_free(&m->drbg);
    mbedtls_entropy_free(&m->entropy);
    free(m);
}

static void *mb_ctx_new(const bn_ctx_opts *o, char *err, size_t errlen)
{
    if (o->version != TLSPLUG_TLS1_2) {
        snprintf(err, errlen, "mbedTLS 2.28 has no TLS 1.3");
        return NULL;
    }
    mctx *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->server = o->server;
    mbedtls_ssl_config_init(&m->conf);
    mbedtls_entropy_init(&m->entropy);
    mbedtls_ctr_drbg_init(&m->drbg);
    mbedtls_x509_crt_init(&m->chain);
    mbedtls_pk_init(&m->key);
    mbedtls_ssl_ticket_init(&m->ticket);
    const char *what = "seed";
    int ret = mbedtls_ctr_drbg_seed(&m->drbg, mbedtls_entropy_func, &m->entropy,
                                    (const unsigned char *)"bench", 5);
    if (!ret) {
        what = "defaults";
        ret = mbedtls_ssl_config_defaults(&m->conf,
                                          o->server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                          MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    }
    if (!ret) {
        mbedtls_ssl_config *c = &m->conf;
        mbedtls_ssl_conf_rng(c, mbedtls_ctr_drbg_random, &m->drbg);
        mbedtls_ssl_conf_min_version(c, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
        mbedtls_ssl_conf_max_version(c, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
        mbedtls_ssl_conf_ciphersuites(c, o->cert == BN_CERT_RSA ? suites_rsa : suites_ec);
        mbedtls_ssl_conf_curves(c, curves);
        mbedtls_ssl_conf_session_tickets(c, o->tickets ? MBEDTLS_SSL_SESSION_TICKETS_ENABLED
                                                       : MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    }
    if (!ret && o->server) {
        what = "certificate";
        const char *chain = o->cert == BN_CERT_RSA ? "server-rsa-chain.pem" : "server-ec-chain.pem";
        const char *key = o->cert == BN_CERT_RSA ? "server-rsa.key.pem" : "server-ec.key.pem";
        ret = mbedtls_x509_crt_parse_file(&m->chain, bench_pki_path(o->pki, chain));
        if (!ret)
            ret = mbedtls_pk_parse_keyfile(&m->key, bench_pki_path(o->pki, key), NULL);
        if (!ret)
            ret = mbedtls_ssl_conf_own_cert(&m->conf, &m->chain, &m->key);
        mbedtls_ssl_conf_authmode(&m->conf, MBEDTLS_SSL_VERIFY_NONE);
        if (!ret && o->tickets) {
            what = "tickets";
            ret = mbedtls_ssl_ticket_setup(&m->ticket, mbedtls_ctr_drbg_random, &m->drbg,
                                           MBEDTLS_CIPHER_AES_256_GCM, 86400);
            if (!ret)
                mbedtls_ssl_conf_session_tickets_cb(&m->conf, mbedtls_ssl_ticket_write,
                                                    mbedtls_ssl_ticket_parse, &m->ticket);
        }
    } else if (!ret && o->verify) {
        what = "trust";
        ret = mbedtls_x509_crt_parse_file(&m->chain, bench_pki_path(o->pki, "ca.pem"));
        mbedtls_ssl_conf_ca_chain(&m->conf, &m->chain, NULL);
        mbedtls_ssl_conf_authmode(&m->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else if (!ret) {
        mbedtls_ssl_conf_authmode(&m->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    if (ret) {
        char msg[100];
        mbedtls_strerror(ret, msg, sizeof msg);
        snprintf(err, errlen, "mbedTLS context (%s): %s", what, msg);
        mb_ctx_free(m);
        return NULL;
    }
    return m;
}

static int pipe_send(void *arg, const unsigned char *buf, size_t len)
{
    mconn *c = arg;
    size_t n = bn_pipe_put(c->out, buf, len);
    return n ? (int)n : MBEDTLS_ERR_SSL_WANT_WRITE;
}

static int pipe_recv(void *arg, unsigned char *buf, size_t len)
{
    mconn *c = arg;
    size_t n = bn_pipe_get(c->in, buf, len);
    return n ? (int)n : MBEDTLS_ERR_SSL_WANT_READ;
}

static void mb_conn_free(void *p)
{
    mconn *c = p;
    if (c) {
        mbedtls_ssl_free(&c->ssl); /* the socket belongs to the caller */
        free(c);
    }
}

static void *mb_conn_new(void *ctx, int fd, bn_pipe *in, bn_pipe *out, void *session)
{
    mctx *m = ctx;
    mconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->in = in;
    c->out = out;
    mbedtls_ssl_init(&c->ssl);
    mbedtls_net_init(&c->net);
    if (mbedtls_ssl_setup(&c->ssl, &m->conf) != 0)
        goto fail;
    if (fd >= 0) {
        c->net.fd = fd;
        mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send, mbedtls_net_recv, NULL);
    } else {
        mbedtls_ssl_set_bio(&c->ssl, c, pipe_send, pipe_recv, NULL);
    }
    if (!m->server) {
        /* Without a hostname a verifying client sends no SNI and checks no
         * name (BACKEND-NOTES). */
        if (mbedtls_ssl_set_hostname(&c->ssl, "localhost") != 0)
            goto fail;
        if (session && mbedtls_ssl_set_session(&c->ssl, session) != 0)
            goto fail;
    }
    return c;
fail:
    mb_conn_free(c);
    return NULL;
}

static int step_result(mconn *c, int ret)
{
    if (ret == MBEDTLS_ERR_SSL_WANT_READ)
        return BN_WANT_READ;
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return BN_WANT_WRITE;
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == 0)
        return BN_CLOSED;
    mbedtls_strerror(ret, c->err, sizeof c->err);
    return BN_ERROR;
}

static int mb_handshake(void *p)
{
    mconn *c = p;
    int ret = mbedtls_ssl_handshake(&c->ssl);
    return ret == 0 ? 0 : step_result(c, ret);
}

static long mb_read(void *p, void *buf, size_t cap)
{
    mconn *c = p;
    int ret = mbedtls_ssl_read(&c->ssl, buf, cap);
    return ret > 0 ? ret : step_result(c, ret);
}

static long mb_write(void *p, const void *buf, size_t len)
{
    mconn *c = p;
    int ret = mbedtls_ssl_write(&c->ssl, buf, len);
    return ret > 0 ? ret : step_result(c, ret);
}

static void *mb_session_get(void *p)
{
    mconn *c = p;
    mbedtls_ssl_session *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    mbedtls_ssl_session_init(s);
    if (mbedtls_ssl_get_session(&c->ssl, s) != 0) {
        mbedtls_ssl_session_free(s);
        free(s);
        return NULL;
    }
    return s;
}

static void mb_session_free(void *p)
{
    if (p) {
        mbedtls_ssl_session_free(p);
        free(p);
    }
}

static void mb_describe(void *p, int *version, int *aes, int *x25519)
{
    mconn *c = p;
    const char *v = mbedtls_ssl_get_version(&c->ssl);
    const char *s = mbedtls_ssl_get_ciphersuite(&c->ssl);
    *version = v && strcmp(v, "TLSv1.2") == 0 ? TLSPLUG_TLS1_2 : 0;
    *aes = s && strstr(s, "AES-128-GCM") != NULL;
    *x25519 = -1; /* 2.28 has no getter for the group */
}

static const char *mb_last_error(void *p)
{
    return ((mconn *)p)->err;
}

const bench_native bench_native_mbedtls = {
    .name = "mbedtls",
    .impl = TLSPLUG_IMPL_MBEDTLS,
    .ctx_new = mb_ctx_new,
    .ctx_free = mb_ctx_free,
    .conn_new = mb_conn_new,
    .conn_free = mb_conn_free,
    .handshake = mb_handshake,
    .read = mb_read,
    .write = mb_write,
    .session_get = mb_session_get,
    .session_free = mb_session_free,
    .resumed = NULL,
    .describe = mb_describe,
    .last_error = mb_last_error,
};
