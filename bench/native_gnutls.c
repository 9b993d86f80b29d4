/* The GnuTLS 3.7 baseline: certificate credentials and a priority cache per
 * context, one session per connection, push/pull functions over the
 * in-memory pipes or the library's own socket I/O (gnutls_transport_set_int).
 * Non-blocking sessions (GNUTLS_NONBLOCK) and one key share, as tlsplug's
 * backend asks for, so both send the same ClientHello. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "bench.h"

typedef struct gctx {
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    gnutls_datum_t ticket_key;
    int server, verify, tickets;
} gctx;

typedef struct gconn {
    gnutls_session_t s;
    bn_pipe *in, *out;
    char err[160];
} gconn;

static void gt_ctx_free(void *p)
{
    gctx *g = p;
    if (!g)
        return;
    if (g->prio)
        gnutls_priority_deinit(g->prio);
    if (g->cred)
        gnutls_certificate_free_credentials(g->cred);
    if (g->ticket_key.data)
        gnutls_free(g->ticket_key.data);
    free(g);
}

static void *gt_ctx_new(const bn_ctx_opts *o, char *err, size_t errlen)
{
    gctx *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->server = o->server;
    g->verify = o->verify;
    g->tickets = o->tickets;
    char prio[256];
    snprintf(prio, sizeof prio,
             "NORMAL:-VERS-ALL:+VERS-TLS1.%d:-CIPHER-ALL:+AES-128-GCM:-GROUP-ALL:+GROUP-X25519:"
             "+GROUP-SECP256R1:-KX-ALL:%s",
             o->version == TLSPLUG_TLS1_3 ? 3 : 2,
             o->cert == BN_CERT_RSA ? "+ECDHE-RSA" : "+ECDHE-ECDSA");
    const char *what = "credentials";
    int rc = gnutls_certificate_allocate_credentials(&g->cred);
    if (rc >= 0) {
        what = "priority";
        rc = gnutls_priority_init(&g->prio, prio, NULL);
    }
    if (rc >= 0 && o->server) {
        what = "certificate";
        const char *chain = o->cert == BN_CERT_RSA ? "server-rsa-chain.pem" : "server-ec-chain.pem";
        const char *key = o->cert == BN_CERT_RSA ? "server-rsa.key.pem" : "server-ec.key.pem";
        rc = gnutls_certificate_set_x509_key_file(g->cred, bench_pki_path(o->pki, chain),
                                                  bench_pki_path(o->pki, key),
                                                  GNUTLS_X509_FMT_PEM);
        if (rc >= 0 && o->tickets) {
            what = "ticket key";
            rc = gnutls_session_ticket_key_generate(&g->ticket_key);
        }
    } else if (rc >= 0 && o->verify) {
        what = "trust";
        rc = gnutls_certificate_set_x509_trust_file(g->cred, bench_pki_path(o->pki, "ca.pem"),
                                                    GNUTLS_X509_FMT_PEM);
    }
    if (rc < 0) {
        snprintf(err, errlen, "GnuTLS context (%s): %s", what, gnutls_strerror(rc));
        gt_ctx_free(g);
        return NULL;
    }
    return g;
}

static ssize_t pipe_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
    gconn *c = ptr;
    size_t n = bn_pipe_put(c->out, buf, len);
    if (n == 0) {
        gnutls_transport_set_errno(c->s, EAGAIN);
        return -1;
    }
    return (ssize_t)n;
}

static ssize_t pipe_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    gconn *c = ptr;
    size_t n = bn_pipe_get(c->in, buf, len);
    if (n == 0) {
        gnutls_transport_set_errno(c->s, EAGAIN);
        return -1;
    }
    return (ssize_t)n;
}

static int pipe_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    (void)ms;
    return ((gconn *)ptr)->in->len > 0;
}

static void gt_conn_free(void *p)
{
    gconn *c = p;
    if (c) {
        if (c->s)
            gnutls_deinit(c->s);
        free(c);
    }
}

static void *gt_conn_new(void *ctx, int fd, bn_pipe *in, bn_pipe *out, void *session)
{
    gctx *g = ctx;
    gconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->in = in;
    c->out = out;
    unsigned flags = GNUTLS_NONBLOCK | (g->tickets ? 0 : GNUTLS_NO_TICKETS);
    flags |= g->server ? GNUTLS_SERVER : GNUTLS_CLIENT | GNUTLS_KEY_SHARE_TOP;
    if (gnutls_init(&c->s, flags) < 0) {
        c->s = NULL;
        goto fail;
    }
    if (gnutls_priority_set(c->s, g->prio) < 0 ||
        gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, g->cred) < 0)
        goto fail;
    if (fd >= 0) {
        gnutls_transport_set_int(c->s, fd);
    } else {
        gnutls_transport_set_ptr(c->s, c);
        gnutls_transport_set_push_function(c->s, pipe_push);
        gnutls_transport_set_pull_function(c->s, pipe_pull);
        gnutls_transport_set_pull_timeout_function(c->s, pipe_pull_timeout);
    }
    if (g->server) {
        if (g->ticket_key.data && gnutls_session_ticket_enable_server(c->s, &g->ticket_key) < 0)
            goto fail;
    } else {
        if (gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, "localhost", 9) < 0)
            goto fail;
        if (g->verify)
            gnutls_session_set_verify_cert(c->s, "localhost", 0);
        if (session) {
            gnutls_datum_t *d = session;
            (void)gnutls_session_set_data(c->s, d->data, d->size);
        }
    }
    return c;
fail:
    gt_conn_free(c);
    return NULL;
}

static int step_result(gconn *c, long rc)
{
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
        return gnutls_record_get_direction(c->s) ? BN_WANT_WRITE : BN_WANT_READ;
    if (rc == 0)
        return BN_CLOSED;
    snprintf(c->err, sizeof c->err, "%s", gnutls_strerror((int)rc));
    return BN_ERROR;
}

static int gt_handshake(void *p)
{
    gconn *c = p;
    int rc;
    do
        rc = gnutls_handshake(c->s);
    while (rc < 0 && !gnutls_error_is_fatal(rc) && rc != GNUTLS_E_AGAIN);
    return rc == 0 ? 0 : step_result(c, rc);
}

static long gt_read(void *p, void *buf, size_t cap)
{
    gconn *c = p;
    ssize_t rc = gnutls_record_recv(c->s, buf, cap);
    return rc > 0 ? (long)rc : step_result(c, (long)rc);
}

static long gt_write(void *p, const void *buf, size_t len)
{
    gconn *c = p;
    ssize_t rc = gnutls_record_send(c->s, buf, len);
    return rc > 0 ? (long)rc : step_result(c, (long)rc);
}

static void *gt_session_get(void *p)
{
    gconn *c = p;
    gnutls_datum_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (gnutls_session_get_data2(c->s, d) < 0) {
        free(d);
        return NULL;
    }
    return d;
}

static void gt_session_free(void *p)
{
    gnutls_datum_t *d = p;
    if (d) {
        gnutls_free(d->data);
        free(d);
    }
}

static int gt_resumed(void *p)
{
    return gnutls_session_is_resumed(((gconn *)p)->s) ? 1 : 0;
}

static void gt_describe(void *p, int *version, int *aes, int *x25519)
{
    gconn *c = p;
    gnutls_protocol_t v = gnutls_protocol_get_version(c->s);
    *version = v == GNUTLS_TLS1_3 ? TLSPLUG_TLS1_3 : v == GNUTLS_TLS1_2 ? TLSPLUG_TLS1_2 : 0;
    *aes = gnutls_cipher_get(c->s) == GNUTLS_CIPHER_AES_128_GCM;
    *x25519 = gnutls_group_get(c->s) == GNUTLS_GROUP_X25519;
}

static const char *gt_last_error(void *p)
{
    return ((gconn *)p)->err;
}

const bench_native bench_native_gnutls = {
    .name = "gnutls",
    .impl = TLSPLUG_IMPL_GNUTLS,
    .ctx_new = gt_ctx_new,
    .ctx_free = gt_ctx_free,
    .conn_new = gt_conn_new,
    .conn_free = gt_conn_free,
    .handshake = gt_handshake,
    .read = gt_read,
    .write = gt_write,
    .session_get = gt_session_get,
    .session_free = gt_session_free,
    .resumed = gt_resumed,
    .describe = gt_describe,
    .last_error = gt_last_error,
};
