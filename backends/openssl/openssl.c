/*
 * The OpenSSL 3 backend: the portable configuration becomes an SSL_CTX, and
 * each session is an SSL whose BIO reads and writes core's buffers.
 *
 * Verification runs through SSL_CTX_set_cert_verify_callback so that the
 * library's verdict, mapped to a class, reaches tlsplug__verify exactly once
 * per handshake, and the user's decision can still abort the handshake with
 * OpenSSL's own alert.  The configuration translation is in ossl_config.c;
 * errors are classified from the error queue through one table
 * (ossl_errors.c).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/backend.h"
#include "tlsplug/openssl.h"
#include "ossl_int.h"

/* ---- One-time state ------------------------------------------------------ */

/* Written once under pthread_once, read-only afterwards. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *g_bio_method;
static int g_sess_index = -1;

static int bio_write(BIO *b, const char *buf, int len);
static int bio_read(BIO *b, char *buf, int len);
static long bio_ctrl(BIO *b, int cmd, long num, void *ptr);

static void global_init(void)
{
    OPENSSL_init_ssl(0, NULL);
    /* An ex_data slot of our own rather than SSL_set_app_data, which the
     * application may use through the ssl-configure hook. */
    g_sess_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    int type = BIO_get_new_index();
    if (type < 0)
        return;
    BIO_METHOD *m = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "tlsplug");
    if (!m)
        return;
    if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl)) {
        BIO_meth_free(m);
        return;
    }
    g_bio_method = m;
}

static int global_ready(void)
{
    pthread_once(&g_once, global_init);
    return g_bio_method != NULL && g_sess_index >= 0;
}

static ossl_sess *sess_of(const SSL *ssl)
{
    return ssl && g_sess_index >= 0 ? SSL_get_ex_data(ssl, g_sess_index) : NULL;
}

/* ---- The BIO over core's buffers ---------------------------------------- */

static int bio_write(BIO *b, const char *buf, int len)
{
    ossl_sess *s = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    size_t n = 0;
    int r = tlsplug__io_send(s->conn, buf, (size_t)len, &n);
    if (r == TLSPLUG_OK)
        return (int)n;
    if (r == TLSPLUG_WANT_WRITE) {
        BIO_set_retry_write(b);
        s->bio_retry = 1;
        return -1;
    }
    s->io_status = r;
    return -1;
}

static int bio_read(BIO *b, char *buf, int len)
{
    ossl_sess *s = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    size_t n = 0;
    int r = tlsplug__io_recv(s->conn, buf, (size_t)len, &n);
    if (r == TLSPLUG_OK)
        return (int)n;
    if (r == TLSPLUG_WANT_READ) {
        BIO_set_retry_read(b);
        s->bio_retry = 1;
        return -1;
    }
    s->io_status = r;
    /* 0 without a retry flag is how a BIO says end of file. */
    return r == TLSPLUG_E_CLOSED ? 0 : -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    /* libssl flushes after every flight and treats 0 as a failure. */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/* ---- Callbacks libssl calls ------------------------------------------------ */

void tlsplug__ossl_keylog_cb(const SSL *ssl, const char *line)
{
    ossl_sess *s = sess_of(ssl);
    if (s)
        tlsplug__keylog(s->conn, line);
}

/* Records the fatal alert libssl sends, for the error record. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    if (!(where & SSL_CB_WRITE_ALERT) || (ret >> 8) != SSL3_AL_FATAL)
        return;
    ossl_sess *s = sess_of(ssl);
    if (s && s->sent_alert < 0)
        s->sent_alert = ret & 0xff;
}

/* Chain as DER, leaf first as the peer sent it, in one allocation. */
static int chain_der(X509_STORE_CTX *xctx, uint8_t ***der, size_t **len, size_t *count,
                     void **block)
{
    X509 *leaf = X509_STORE_CTX_get0_cert(xctx);
    STACK_OF(X509) *sk = X509_STORE_CTX_get0_untrusted(xctx);
    int nsk = sk ? sk_X509_num(sk) : 0;
    /* libssl passes the whole received list, leaf included, as untrusted. */
    int skip = (nsk > 0 && sk_X509_value(sk, 0) == leaf) ? 1 : 0;
    size_t n = (leaf ? 1 : 0) + (size_t)(nsk - skip);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        X509 *x = (leaf && i == 0) ? leaf : sk_X509_value(sk, (int)i - (leaf ? 1 : 0) + skip);
        int l = i2d_X509(x, NULL);
        if (l <= 0)
            return 0;
        total += (size_t)l;
    }
    size_t head = n * (sizeof(size_t) + sizeof(uint8_t *));
    uint8_t *mem = tlsplug__malloc(head + total + 1);
    if (!mem)
        return 0;
    size_t *lens = (size_t *)(void *)mem;
    uint8_t **ptrs = (uint8_t **)(void *)(mem + n * sizeof(size_t));
    uint8_t *p = mem + head;
    for (size_t i = 0; i < n; i++) {
        X509 *x = (leaf && i == 0) ? leaf : sk_X509_value(sk, (int)i - (leaf ? 1 : 0) + skip);
        ptrs[i] = p;
        int l = i2d_X509(x, &p);
        lens[i] = l > 0 ? (size_t)l : 0;
    }
    *der = ptrs;
    *len = lens;
    *count = n;
    *block = mem;
    return 1;
}

/* libssl calls this instead of X509_verify_cert, with the store context
 * already set up from the SSL (purpose, host name, trust store). */
int tlsplug__ossl_cert_verify_cb(X509_STORE_CTX *xctx, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    ossl_sess *s = sess_of(ssl);
    if (!s) /* an SSL the application made on our SSL_CTX itself */
        return X509_verify_cert(xctx);
    /* NONE: libssl ignores the outcome, and tlsplug verifies nothing. */
    if (SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE)
        return 1;
    /* libssl checks one chain per handshake; should it ever ask again, the
     * first decision stands (core wants exactly one verify call). */
    if (s->verify_called)
        return s->verify_final == TLSPLUG_OK;

    int ok = X509_verify_cert(xctx);
    int xerr = X509_STORE_CTX_get_error(xctx);
    int verdict = ok > 0 ? TLSPLUG_OK : tlsplug__ossl_x509_class(xerr);

    uint8_t **der = NULL;
    size_t *len = NULL, n = 0;
    void *block = NULL;
    int final;
    if (!chain_der(xctx, &der, &len, &n, &block)) {
        final = tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_NO_MEMORY, 0,
                                 "cannot encode the peer certificate chain");
    } else {
        final = tlsplug__verify(s->conn, verdict, (const uint8_t *const *)der, len, n);
        tlsplug__free(block);
    }
    s->verify_called = 1;
    s->verify_final = final;
    if (final == TLSPLUG_OK) {
        /* The user may accept what the library refused: make the SSL's
         * verify result say so too. */
        X509_STORE_CTX_set_error(xctx, X509_V_OK);
        return 1;
    }
    if (xerr == X509_V_OK)
        X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REJECTED); /* bad_certificate */
    return 0;
}

/* ---- Vtable: contexts ------------------------------------------------------ */

static const char *ossl_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}

static unsigned ossl_caps(void)
{
    return TLSPLUG_CAP_TLS12 | TLSPLUG_CAP_TLS13 | TLSPLUG_CAP_SNI | TLSPLUG_CAP_ALPN |
           TLSPLUG_CAP_SESSION_TICKETS | TLSPLUG_CAP_SESSION_CACHE | TLSPLUG_CAP_KEYLOG |
           TLSPLUG_CAP_VERIFY_CALLBACK | TLSPLUG_CAP_CLIENT_CERT | TLSPLUG_CAP_KEY_PASSWORD |
           TLSPLUG_CAP_CHACHA20 | TLSPLUG_CAP_X25519 | TLSPLUG_CAP_ADOPT_CTX |
           TLSPLUG_CAP_SNI_CERTS;
}

/* Up-ref'd session for this blob, or NULL. */
static SSL_SESSION *memo_get(ossl_ctx *o, const uint8_t *blob, size_t len)
{
    SSL_SESSION *s = NULL;
    pthread_mutex_lock(&o->memo_lock);
    if (o->memo_sess && o->memo_len == len && memcmp(o->memo_blob, blob, len) == 0 &&
        SSL_SESSION_up_ref(o->memo_sess))
        s = o->memo_sess;
    pthread_mutex_unlock(&o->memo_lock);
    return s;
}

static void memo_put(ossl_ctx *o, const uint8_t *blob, size_t len, SSL_SESSION *sess)
{
    uint8_t *copy = tlsplug__memdup(blob, len);
    if (!copy || !SSL_SESSION_up_ref(sess)) {
        tlsplug__free(copy);
        return;
    }
    pthread_mutex_lock(&o->memo_lock);
    SSL_SESSION *old = o->memo_sess;
    tlsplug__free(o->memo_blob);
    o->memo_blob = copy;
    o->memo_len = len;
    o->memo_sess = sess;
    pthread_mutex_unlock(&o->memo_lock);
    SSL_SESSION_free(old);
}

static void ossl_ctx_free(void *bctx)
{
    ossl_ctx *o = bctx;
    if (!o)
        return;
    for (size_t i = 0; i < o->n_sni; i++) {
        ossl_ctx_free(o->sni[i]);
        tlsplug__free(o->sni_cfg[i]); /* a shallow copy: its pointers are cfg's */
    }
    SSL_SESSION_free(o->memo_sess);
    tlsplug__free(o->memo_blob);
    pthread_mutex_destroy(&o->memo_lock);
    SSL_CTX_free(o->ctx);
    tlsplug__free(o);
}

static int ossl_ctx_build(ossl_ctx **out, const tlsplug_config *cfg, tlsplug_side side,
                          struct tlsplug_error *err);

/* The client's SNI picks the context whose certificate serves that name. */
static int servername_cb(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    ossl_ctx *o = arg;
    int i = tlsplug__sni_cert_pick(o->cfg, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    if (i >= 0 && (size_t)i < o->n_sni && !SSL_set_SSL_CTX(ssl, o->sni[i]->ctx))
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    return SSL_TLSEXT_ERR_OK;
}

static int add_sni_contexts(ossl_ctx *o, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    for (size_t i = 0; i < cfg->n_sni_certs; i++) {
        tlsplug_config *c = tlsplug__malloc(sizeof *c);
        if (!c)
            return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
        *c = *cfg;
        c->cert_pem = cfg->sni_certs[i].cert_pem;
        c->key_pem = cfg->sni_certs[i].key_pem;
        c->key_password = cfg->sni_certs[i].key_password;
        c->n_sni_certs = 0;
        o->sni_cfg[o->n_sni] = c;
        int rc = ossl_ctx_build(&o->sni[o->n_sni], c, o->side, err);
        if (rc) {
            tlsplug__free(c);
            char name[64];
            snprintf(name, sizeof name, "%s", cfg->sni_certs[i].name);
            size_t l = strlen(err->msg);
            snprintf(err->msg + l, sizeof err->msg - l, " (SNI certificate for %s)", name);
            return rc;
        }
        o->n_sni++;
    }
    if (o->n_sni) {
        SSL_CTX_set_tlsext_servername_callback(o->ctx, servername_cb);
        SSL_CTX_set_tlsext_servername_arg(o->ctx, o);
    }
    return TLSPLUG_OK;
}

static int ossl_ctx_build(ossl_ctx **out, const tlsplug_config *cfg, tlsplug_side side,
                          struct tlsplug_error *err)
{
    *out = NULL;
    ossl_ctx *o = tlsplug__calloc(1, sizeof *o);
    if (!o)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    o->cfg = cfg;
    o->side = side;
    pthread_mutex_init(&o->memo_lock, NULL);
    o->ctx = SSL_CTX_new(TLS_method());
    int rc = o->ctx ? tlsplug__ossl_configure(o, cfg, err)
                    : tlsplug__ossl_fail(err, TLSPLUG_E_NO_MEMORY, "SSL_CTX_new failed");
    if (rc == TLSPLUG_OK)
        rc = add_sni_contexts(o, cfg, err);
    if (rc != TLSPLUG_OK) {
        ERR_clear_error();
        ossl_ctx_free(o);
        return rc;
    }
    *out = o;
    return TLSPLUG_OK;
}

static int ossl_ctx_new(const tlsplug_config *cfg, tlsplug_side side, void **bctx,
                        struct tlsplug_error *err)
{
    *bctx = NULL;
    if (!global_ready())
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "OpenSSL initialisation failed");
    ERR_clear_error();
    ossl_ctx *o;
    int rc = ossl_ctx_build(&o, cfg, side, err);
    if (rc == TLSPLUG_OK)
        *bctx = o;
    return rc;
}

static int ossl_ctx_adopt(void *native, tlsplug_side side, const char *priority,
                          const tlsplug_config *cfg, void **bctx, struct tlsplug_error *err)
{
    (void)priority;
    *bctx = NULL;
    if (!native)
        return tlsplug__err_set(err, TLSPLUG_E_INVALID_ARGUMENT, 0, "no SSL_CTX to adopt");
    if (!global_ready())
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "OpenSSL initialisation failed");
    ossl_ctx *o = tlsplug__calloc(1, sizeof *o);
    if (!o)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    o->ctx = native;
    o->cfg = cfg;
    o->side = side;
    o->adopted = 1;
    pthread_mutex_init(&o->memo_lock, NULL);
    *bctx = o;
    return TLSPLUG_OK;
}

static void *ossl_ctx_native(void *bctx)
{
    return ((ossl_ctx *)bctx)->ctx;
}

/* ---- Vtable: sessions ------------------------------------------------------ */

static void ossl_sess_free(void *bsess)
{
    ossl_sess *s = bsess;
    if (!s)
        return;
    /* libssl drops the session of an SSL freed without close_notify from
     * the server cache (a TLS 1.0 rule, lifted since TLS 1.1), so the cache
     * would only work for connections that were shut down.  A fatal error
     * has already removed the session, so this keeps only good ones. */
    if (s->ssl && SSL_is_init_finished(s->ssl))
        SSL_set_shutdown(s->ssl, SSL_get_shutdown(s->ssl) | SSL_SENT_SHUTDOWN);
    SSL_free(s->ssl); /* frees the BIO too */
    tlsplug__free(s);
}

/* SSL_get_error consults this thread's error queue, so entries someone else
 * left there (the application's own OpenSSL use) would turn a retry into a
 * failure: the queue must be empty before each step.  It nearly always is
 * (every failure path here empties it), and ERR_clear_error costs ~750
 * instructions even then (three per 16 KiB record in a bulk transfer: most
 * of the backend's own cost); a peek costs a quarter of that. */
static void queue_empty(void)
{
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

/* The name the peer certificate must match: an IP literal matches IP SANs
 * only, anything else is a DNS name. */
static int set_verify_name(SSL *ssl, const char *name)
{
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(vp, name))
        return 1;
    ERR_clear_error();
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return X509_VERIFY_PARAM_set1_host(vp, name, 0);
}

static int sess_setup(ossl_sess *s, const tlsplug_sess_params *p, struct tlsplug_error *err)
{
    ossl_ctx *o = s->octx;
    SSL *ssl = s->ssl;
    BIO *bio = BIO_new(g_bio_method);
    if (!bio)
        return tlsplug__ossl_fail(err, TLSPLUG_E_NO_MEMORY, "BIO_new failed");
    BIO_set_data(bio, s);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl, bio, bio); /* one reference, owned by the SSL */
    if (!SSL_set_ex_data(ssl, g_sess_index, s))
        return tlsplug__ossl_fail(err, TLSPLUG_E_NO_MEMORY, "SSL_set_ex_data failed");
    /* Partial writes and a moving buffer because core hands out whatever
     * fits its send buffer; buffers are released while idle (ossl_idle). */
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!SSL_CTX_get_info_callback(o->ctx))
        SSL_set_info_callback(ssl, info_cb);

    if (!o->adopted && o->side == TLSPLUG_SIDE_BOTH) {
        /* The context holds the client settings; a server session of a
         * BOTH context gets its own, unless a hook changed the context. */
        int ctx_mode = tlsplug__ossl_verify_mode(o->cfg->verify, TLSPLUG_SIDE_CLIENT);
        if (p->side == TLSPLUG_SIDE_SERVER && SSL_CTX_get_verify_mode(o->ctx) == ctx_mode)
            SSL_set_verify(ssl, tlsplug__ossl_verify_mode(o->cfg->verify, TLSPLUG_SIDE_SERVER),
                           SSL_CTX_get_verify_callback(o->ctx));
        if (p->side == TLSPLUG_SIDE_CLIENT)
            SSL_clear_options(ssl, SSL_OP_NO_TICKET);
    }

    if (p->side != TLSPLUG_SIDE_CLIENT) {
        SSL_set_accept_state(ssl);
        return TLSPLUG_OK;
    }
    SSL_set_connect_state(ssl);
    if (p->sni && !SSL_set_tlsext_host_name(ssl, p->sni))
        return tlsplug__ossl_fail(err, TLSPLUG_E_INVALID_ARGUMENT, "cannot set the SNI name");
    if (p->verify_name && !set_verify_name(ssl, p->verify_name))
        return tlsplug__ossl_fail(err, TLSPLUG_E_INVALID_ARGUMENT,
                                  "cannot set the name to verify");
    if (p->session && p->session_len && p->session_len <= LONG_MAX) {
        const unsigned char *q = p->session;
        SSL_SESSION *sess = memo_get(o, p->session, p->session_len);
        if (!sess && (sess = d2i_SSL_SESSION(NULL, &q, (long)p->session_len)) != NULL)
            memo_put(o, p->session, p->session_len, sess);
        /* A stale or foreign blob just means a full handshake. */
        if (sess) {
            SSL_set_session(ssl, sess);
            SSL_SESSION_free(sess);
        }
        queue_empty();
    }
    return TLSPLUG_OK;
}

static int ossl_sess_new(void *bctx, tlsplug_conn *conn, const tlsplug_sess_params *p,
                         void **bsess, struct tlsplug_error *err)
{
    ossl_ctx *o = bctx;
    *bsess = NULL;
    if (!global_ready())
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "OpenSSL initialisation failed");
    queue_empty();
    ossl_sess *s = tlsplug__calloc(1, sizeof *s);
    if (!s)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    s->conn = conn;
    s->octx = o;
    s->side = p->side;
    s->sent_alert = -1;
    s->ssl = SSL_new(o->ctx);
    int rc = s->ssl ? sess_setup(s, p, err)
                    : tlsplug__ossl_fail(err, TLSPLUG_E_NO_MEMORY, "SSL_new failed");
    queue_empty();
    if (rc != TLSPLUG_OK) {
        ossl_sess_free(s);
        return rc;
    }
    *bsess = s;
    return TLSPLUG_OK;
}

static void *ossl_sess_native(void *bsess)
{
    return ((ossl_sess *)bsess)->ssl;
}

/* ---- Vtable: steps ---------------------------------------------------------- */

static int ossl_handshake(void *bsess)
{
    ossl_sess *s = bsess;
    queue_empty();
    int r = SSL_do_handshake(s->ssl);
    if (r == 1)
        return TLSPLUG_OK;
    return tlsplug__ossl_step_error(s, r, TLSPLUG_E_HANDSHAKE, "TLS handshake failed");
}

/* A read or write that stopped because the BIO ran dry (or full) is a retry,
 * whatever the thread's error queue holds: deciding that from the BIO's own
 * flag, as SSL_get_error would after its queue check, spares the queue a
 * look per record (the queue check before each step cost more than the
 * rest of the backend; the handshake and shutdown keep it). */
static int retry_of(ossl_sess *s)
{
    if (!s->bio_retry)
        return 0;
    if (SSL_want_read(s->ssl))
        return TLSPLUG_WANT_READ;
    if (SSL_want_write(s->ssl))
        return TLSPLUG_WANT_WRITE;
    return 0;
}

static int ossl_read(void *bsess, void *buf, size_t cap, size_t *n)
{
    ossl_sess *s = bsess;
    size_t got = 0;
    *n = 0;
    s->bio_retry = 0;
    if (SSL_read_ex(s->ssl, buf, cap, &got) == 1) {
        *n = got;
        return TLSPLUG_OK;
    }
    int rc = retry_of(s);
    return rc ? rc : tlsplug__ossl_step_error(s, 0, TLSPLUG_E_PROTOCOL, "TLS read failed");
}

static int ossl_write(void *bsess, const void *buf, size_t len, size_t *n)
{
    ossl_sess *s = bsess;
    size_t put = 0;
    *n = 0;
    s->bio_retry = 0;
    if (SSL_write_ex(s->ssl, buf, len, &put) == 1) {
        *n = put;
        return TLSPLUG_OK;
    }
    int rc = retry_of(s);
    return rc ? rc : tlsplug__ossl_step_error(s, 0, TLSPLUG_E_PROTOCOL, "TLS write failed");
}

static int ossl_shutdown(void *bsess)
{
    ossl_sess *s = bsess;
    /* Once close_notify is out, a further SSL_shutdown would start reading
     * for the peer's; core does that through read instead. */
    if (s->shutdown_sent)
        return TLSPLUG_OK;
    queue_empty();
    int r = SSL_shutdown(s->ssl);
    if (r >= 0) { /* 0: sent, peer's not seen yet, which is all we want */
        s->shutdown_sent = 1;
        ERR_clear_error();
        return TLSPLUG_OK;
    }
    return tlsplug__ossl_step_error(s, r, TLSPLUG_E_PROTOCOL, "TLS shutdown failed");
}

/* Buffers go while idle, not after every record as RELEASE_BUFFERS would
 * (a free and a malloc of 16 KiB per record on the hot path). */
static void ossl_idle(void *bsess)
{
    (void)SSL_free_buffers(((ossl_sess *)bsess)->ssl); /* 0: data pending, kept */
}

static size_t ossl_pending(void *bsess)
{
    int n = SSL_pending(((ossl_sess *)bsess)->ssl);
    return n > 0 ? (size_t)n : 0;
}

/* RFC 4514 (OpenSSL's RFC 2253 mode), UTF-8 kept as is. */
static void subject_string(X509 *x, char *out, size_t cap)
{
    out[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
    if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0, flags) >= 0) {
        char *data;
        long len = BIO_get_mem_data(b, &data);
        if (len > 0) {
            size_t n = (size_t)len < cap - 1 ? (size_t)len : cap - 1;
            memcpy(out, data, n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
}

static int ossl_info(void *bsess, tlsplug_info *out)
{
    ossl_sess *s = bsess;
    SSL *ssl = s->ssl;
    out->version = SSL_version(ssl);
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    out->cipher_id = c ? (uint16_t)SSL_CIPHER_get_protocol_id(c) : 0;
    out->group_id = tlsplug__ossl_group_iana((int)SSL_get_negotiated_group(ssl));

    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len >= sizeof out->alpn)
        alpn_len = sizeof out->alpn - 1;
    if (alpn_len)
        memcpy(out->alpn, alpn, alpn_len);
    out->alpn[alpn_len] = '\0';

    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    snprintf(out->server_name, sizeof out->server_name, "%s", sni ? sni : "");

    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (peer)
        subject_string(peer, out->peer_subject, sizeof out->peer_subject);
    else
        out->peer_subject[0] = '\0';
    out->resumed = SSL_session_reused(ssl) ? 1 : 0;
    /* The verify callback leaves X509_V_OK exactly when the peer was
     * accepted, and the result survives resumption with the session. */
    out->peer_verified = peer && SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE &&
                         SSL_get_verify_result(ssl) == X509_V_OK;
    return TLSPLUG_OK;
}

static int ossl_session_save(void *bsess, uint8_t **data, size_t *len)
{
    ossl_sess *s = bsess;
    *data = NULL;
    *len = 0;
    if (s->side != TLSPLUG_SIDE_CLIENT)
        return TLSPLUG_E_UNSUPPORTED;
    /* Asked for now rather than at handshake end: a TLS 1.3 ticket comes
     * after the handshake, and libssl then replaces the session. */
    SSL_SESSION *sess = SSL_get1_session(s->ssl);
    if (!sess)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = TLSPLUG_E_INVALID_ARGUMENT;
    /* The session we were given (or saved last time): its blob is at hand. */
    pthread_mutex_lock(&s->octx->memo_lock);
    if (sess == s->octx->memo_sess && (*data = tlsplug__memdup(s->octx->memo_blob,
                                                              s->octx->memo_len)) != NULL) {
        *len = s->octx->memo_len;
        rc = TLSPLUG_OK;
    }
    pthread_mutex_unlock(&s->octx->memo_lock);
    if (rc == TLSPLUG_OK) {
        SSL_SESSION_free(sess);
        return rc;
    }
    int n = SSL_SESSION_is_resumable(sess) ? i2d_SSL_SESSION(sess, NULL) : 0;
    if (n > 0) {
        uint8_t *buf = tlsplug__malloc((size_t)n);
        unsigned char *p = buf;
        if (!buf)
            rc = TLSPLUG_E_NO_MEMORY;
        else if (i2d_SSL_SESSION(sess, &p) != n)
            tlsplug__free(buf);
        else {
            *data = buf;
            *len = (size_t)n;
            rc = TLSPLUG_OK;
            memo_put(s->octx, buf, (size_t)n, sess);
        }
    }
    SSL_SESSION_free(sess);
    ERR_clear_error();
    return rc;
}

const struct tlsplug_backend tlsplug__backend_openssl = {
    .name = "openssl",
    .impl = TLSPLUG_IMPL_OPENSSL,
    .version = ossl_version,
    .caps = ossl_caps,
    .ctx_new = ossl_ctx_new,
    .ctx_adopt = ossl_ctx_adopt,
    .ctx_free = ossl_ctx_free,
    .ctx_native = ossl_ctx_native,
    .sess_new = ossl_sess_new,
    .sess_free = ossl_sess_free,
    .sess_native = ossl_sess_native,
    .handshake = ossl_handshake,
    .read = ossl_read,
    .write = ossl_write,
    .shutdown = ossl_shutdown,
    .pending = ossl_pending,
    .info = ossl_info,
    .session_save = ossl_session_save,
    .idle = ossl_idle,
    .set_allocator = tlsplug__ossl_set_allocator,
};
