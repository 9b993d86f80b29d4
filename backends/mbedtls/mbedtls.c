/*
 * The mbedTLS 2.28 backend: the portable configuration becomes an
 * mbedtls_ssl_config (plus everything it points to, which mbedTLS stores by
 * pointer), and each session is an mbedtls_ssl_context whose bio callbacks
 * read and write core's buffers.
 *
 * The backend drives the handshake itself, one mbedtls_ssl_handshake_step at
 * a time, because 2.28 gives no per-connection hook for what tlsplug needs:
 *  - verification: the library runs in OPTIONAL mode so that it only
 *    collects flags; right after the step that parsed the peer's
 *    Certificate, the backend maps the flags to a class, calls
 *    tlsplug__verify once, and aborts with its own alert if needed.  That
 *    is how "a missing client certificate is fine, a bad one is not"
 *    (tlsplug's OPTIONAL) and user overrides both work.
 *  - the name to verify differs from the SNI name (IP literals, hostname
 *    check off): mbedTLS uses one ssl->hostname for both, so it holds the
 *    SNI name while the ClientHello is written and the verify name after.
 *  - key log, negotiated group and "resumed" live in the handshake
 *    structure, which the library frees at the end of the handshake; the
 *    export-keys callback has no per-connection argument in 2.28.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/ecp.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/platform.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/ssl_internal.h> /* handshake params: randbytes, resume, ecdh */
#include <mbedtls/version.h>

#include "core/backend.h"
#include "tlsplug/mbedtls.h"
#include "mbed_int.h"

#if !defined(MBEDTLS_SSL_PROTO_TLS1_2) || !defined(MBEDTLS_SSL_SERVER_NAME_INDICATION) ||       \
    !defined(MBEDTLS_SSL_ALPN) || !defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE) ||                \
    !defined(MBEDTLS_SSL_CLI_C) || !defined(MBEDTLS_SSL_SRV_C)
#error "tlsplug needs an mbedTLS with TLS 1.2, client, server, SNI, ALPN and KEEP_PEER_CERTIFICATE"
#endif

/* Bound on library calls that say WANT_READ although the transport still
 * had bytes (a record consumed without output, e.g. an empty record). */
#define MBED_SPIN_MAX 64

typedef struct mbed_sess {
    /* First member: library callbacks hand out the mbedtls_ssl_context
     * only, and mbedTLS 2.28 has no per-connection user pointer. */
    mbedtls_ssl_context ssl;
    mbed_ctx *bc;
    tlsplug_conn *conn;
    mbedtls_ssl_config *conf_copy; /* a context for both sides: the other side */
    tlsplug_side side;
    int verify; /* TLSPLUG_VERIFY_NONE / OPTIONAL / REQUIRED */
    /* Client names: sni is sent; check_name or ip is what the certificate
     * must match (neither: no name check). */
    char *sni;
    char *check_name;
    unsigned char ip[16];
    size_t ip_len;
    int name_switched;
    char *server_name; /* server: SNI received (allocated: most are short) */
    /* Captured while the handshake structure exists. */
    unsigned char client_random[32];
    int have_random;
    int keylogged;
    int resumed;
    uint16_t group;
    int hs_done;
    int failed;      /* sticky class once we aborted */
    int peer_closed; /* close_notify read: never read past it */
    int close_sent;
    int recv_blocked; /* the last io_recv said WANT_READ */
    int eof;          /* io_recv reported the transport's end */
    int hello_checked; /* server: first record looked at */
    int hello_13_only; /* server: the client offers TLS 1.3 only */
    int sent_alert;   /* last plaintext fatal alert we sent, -1 none */
} mbed_sess;

/* ---- small helpers ------------------------------------------------------- */


static int same_name(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcasecmp(a, b) == 0;
}

static int is_ours(const mbedtls_ssl_context *ssl);

static mbed_sess *sess_of(mbedtls_ssl_context *ssl)
{
    return is_ours(ssl) ? (mbed_sess *)(void *)ssl : NULL;
}

/* ---- transport ------------------------------------------------------------ */

static int bio_send(void *arg, const unsigned char *buf, size_t len)
{
    mbed_sess *s = arg;
    size_t n = 0;
    if (len > INT_MAX)
        len = INT_MAX;
    /* A plaintext alert record (before ChangeCipherSpec): remember which
     * one we sent, mbedTLS does not keep it (no_application_protocol must
     * become NO_ALPN). */
    if (len >= 7 && buf[0] == MBEDTLS_SSL_MSG_ALERT && buf[3] == 0 && buf[4] == 2 &&
        buf[5] == MBEDTLS_SSL_ALERT_LEVEL_FATAL)
        s->sent_alert = buf[6];
    int rc = tlsplug__io_send(s->conn, buf, len, &n);
    if (rc == TLSPLUG_OK)
        return (int)n;
    if (rc == TLSPLUG_WANT_WRITE)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

/* Server, first record: mbedTLS reads it into in_hdr, header first.  Once
 * it is complete, see whether the client speaks TLS 1.2 at all. */
static int check_hello(mbed_sess *s, const unsigned char *buf, size_t n)
{
    const unsigned char *hdr = s->ssl.in_hdr;
    if (s->side != TLSPLUG_SIDE_SERVER || s->ssl.state > MBEDTLS_SSL_CLIENT_HELLO || !hdr ||
        buf != hdr + s->ssl.in_left) {
        s->hello_checked = 1;
        return 0;
    }
    size_t have = s->ssl.in_left + n;
    if (have < 5 || have < 5 + ((size_t)hdr[3] << 8 | hdr[4]))
        return 0;
    s->hello_checked = 1;
    s->hello_13_only = tlsplug__mbed_hello_lacks_tls12(hdr, have);
    return s->hello_13_only;
}

static int bio_recv(void *arg, unsigned char *buf, size_t len)
{
    mbed_sess *s = arg;
    size_t n = 0;
    if (len > INT_MAX)
        len = INT_MAX;
    int rc = tlsplug__io_recv(s->conn, buf, len, &n);
    if (rc == TLSPLUG_OK && !s->hello_checked && check_hello(s, buf, n))
        return MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION;
    if (rc == TLSPLUG_OK)
        return (int)n;
    if (rc == TLSPLUG_WANT_READ) {
        s->recv_blocked = 1;
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    if (rc == TLSPLUG_E_CLOSED) {
        s->eof = 1;
        return 0; /* EOF: mbedTLS reports MBEDTLS_ERR_SSL_CONN_EOF */
    }
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

static int is_ours(const mbedtls_ssl_context *ssl)
{
    /* An application may run its own contexts on a config we made. */
    return ssl && ssl->f_send == bio_send && ssl->p_bio == (const void *)ssl;
}

/* ---- errors ----------------------------------------------------------- */

static int sess_fail(mbed_sess *s, int cls)
{
    s->failed = cls;
    return cls;
}

/* A failed library call: peer alert, our own alert, or the table. */
static int step_error(mbed_sess *s, int ret, const char *what, int fallback)
{
    struct tlsplug_error *err = tlsplug__conn_err(s->conn);
    if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && s->ssl.in_msg)
        return tlsplug__peer_alert(s->conn, s->ssl.in_msg[1], ret);
    int cls = tlsplug__mbed_class(ret, fallback);
    /* The library judged a certificate itself (an application's SNI
     * callback set REQUIRED): its flags say why. */
    if (cls == TLSPLUG_E_CERT_INVALID && s->ssl.session_negotiate &&
        tlsplug__mbed_flags_class(s->ssl.session_negotiate->verify_result) != TLSPLUG_OK)
        cls = tlsplug__mbed_flags_class(s->ssl.session_negotiate->verify_result);
    if (s->sent_alert == MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL)
        cls = TLSPLUG_E_NO_ALPN;
    else if (s->sent_alert == MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION)
        cls = TLSPLUG_E_PROTOCOL_VERSION;
    tlsplug__mbed_err(err, cls, ret, what);
    if (cls == TLSPLUG_E_NO_ALPN)
        tlsplug__err_set(err, cls, ret,
                         "no application protocol (ALPN) in common with the peer");
    if (s->sent_alert >= 0)
        err->alert = s->sent_alert;
    return cls;
}

static void send_fatal_alert(mbed_sess *s, int alert)
{
    /* Best effort: the handshake is over either way. */
    (void)mbedtls_ssl_send_alert_message(&s->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                         (unsigned char)alert);
    tlsplug__conn_err(s->conn)->alert = alert;
}

/* ---- verification ---------------------------------------------------- */

/* Right after the step that parsed the peer's Certificate message. */
static int check_peer(mbed_sess *s)
{
    if (s->verify == TLSPLUG_VERIFY_NONE)
        return TLSPLUG_OK;
    mbedtls_ssl_session *sn = s->ssl.session_negotiate;
    mbedtls_x509_crt *peer = sn ? sn->peer_cert : NULL;
    struct tlsplug_error *err = tlsplug__conn_err(s->conn);
    if (!peer || !peer->raw.p) {
        if (s->side == TLSPLUG_SIDE_SERVER && s->verify == TLSPLUG_VERIFY_OPTIONAL)
            return TLSPLUG_OK;
        tlsplug__err_set(err, TLSPLUG_E_CERT_REQUIRED, 0, "the peer sent no certificate");
        send_fatal_alert(s, tlsplug__mbed_verify_alert(TLSPLUG_E_CERT_REQUIRED));
        return TLSPLUG_E_CERT_REQUIRED;
    }
    uint32_t flags = sn->verify_result;
    if (s->ip_len && !tlsplug__mbed_ip_matches(peer, s->ip, s->ip_len))
        flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    int verdict = tlsplug__mbed_flags_class(flags);
    if (verdict == TLSPLUG_E_CERT_UNTRUSTED &&
        tlsplug__mbed_bad_signature(peer, s->ssl.conf->ca_chain))
        verdict = TLSPLUG_E_CERT_BAD_SIGNATURE;

    size_t n = 0;
    for (mbedtls_x509_crt *c = peer; c && c->raw.p; c = c->next)
        n++;
    const uint8_t **der = tlsplug__calloc(n, sizeof *der);
    size_t *len = tlsplug__calloc(n, sizeof *len);
    int final;
    if (!der || !len) {
        final = tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0,
                                 "cannot list the peer certificate chain");
    } else {
        size_t i = 0;
        for (mbedtls_x509_crt *c = peer; c && c->raw.p; c = c->next, i++) {
            der[i] = c->raw.p;
            len[i] = c->raw.len;
        }
        final = tlsplug__verify(s->conn, verdict, (const uint8_t *const *)der, len, n);
    }
    tlsplug__free(der);
    tlsplug__free(len);
    if (final == TLSPLUG_OK) {
        /* Accepted (maybe by the user over the library's flags): the
         * session, and so a resumption of it, says verified. */
        sn->verify_result = 0;
        return TLSPLUG_OK;
    }
    send_fatal_alert(s, tlsplug__mbed_verify_alert(final));
    return final;
}

/* ---- handshake ------------------------------------------------------------ */

static void keylog(mbed_sess *s, const unsigned char master[48])
{
    s->keylogged = 1;
    if (tlsplug__conn_config(s->conn)->keylog_cb)
        tlsplug__keylog_secret(s->conn, "CLIENT_RANDOM", s->client_random,
                               sizeof s->client_random, master, 48);
}

/* After every step: take what only the handshake structure knows, and swap
 * the client's hostname from the SNI name to the name to verify. */
static int observe(mbed_sess *s)
{
    mbedtls_ssl_context *ssl = &s->ssl;
    mbedtls_ssl_handshake_params *hs = ssl->handshake;
    if (!hs)
        return TLSPLUG_OK;
    s->resumed = hs->resume;
    /* Both sides have ClientHello.random once past CLIENT_HELLO; it is
     * wiped when the keys are derived. */
    if (!s->have_random && ssl->state > MBEDTLS_SSL_CLIENT_HELLO) {
        memcpy(s->client_random, hs->randbytes, sizeof s->client_random);
        s->have_random = 1;
    }
#if defined(MBEDTLS_ECDH_LEGACY_CONTEXT)
    mbedtls_ecp_group_id gid = hs->ecdh_ctx.grp.id;
#else
    mbedtls_ecp_group_id gid = hs->ecdh_ctx.grp_id;
#endif
    if (gid != MBEDTLS_ECP_DP_NONE) {
        const mbedtls_ecp_curve_info *ci = mbedtls_ecp_curve_info_from_grp_id(gid);
        s->group = ci ? ci->tls_id : 0;
    }
    /* The master secret is final once the keys are derived: the server
     * does it on ClientKeyExchange, the client on CertificateVerify, and a
     * resumption right after ServerHello (the state jumps to the CCS). */
    if (!s->keylogged && s->have_random && ssl->state > MBEDTLS_SSL_CERTIFICATE_VERIFY &&
        ssl->session_negotiate)
        keylog(s, ssl->session_negotiate->master);
    if (s->side == TLSPLUG_SIDE_CLIENT && !s->name_switched &&
        ssl->state > MBEDTLS_SSL_CLIENT_HELLO) {
        s->name_switched = 1;
        int ret = mbedtls_ssl_set_hostname(ssl, s->check_name);
        if (ret != 0)
            return tlsplug__mbed_err(tlsplug__conn_err(s->conn),
                                     tlsplug__mbed_class(ret, TLSPLUG_E_INTERNAL), ret,
                                     "cannot set the name to verify");
    }
    return TLSPLUG_OK;
}

static int drive(mbed_sess *s)
{
    if (s->failed)
        return s->failed;
    if (s->hs_done)
        return TLSPLUG_OK;
    mbedtls_ssl_context *ssl = &s->ssl;
    const int cert_state = s->side == TLSPLUG_SIDE_CLIENT ? MBEDTLS_SSL_SERVER_CERTIFICATE
                                                          : MBEDTLS_SSL_CLIENT_CERTIFICATE;
    int spins = 0;
    while (ssl->state != MBEDTLS_SSL_HANDSHAKE_OVER) {
        int before = ssl->state;
        s->recv_blocked = 0;
        int ret = mbedtls_ssl_handshake_step(ssl);
        int rc = observe(s);
        if (rc)
            return sess_fail(s, rc);
        if (ret == 0 && before == cert_state && ssl->state != before &&
            (rc = check_peer(s)) != TLSPLUG_OK)
            return sess_fail(s, rc);
        if (ret == 0)
            continue;
        if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            return TLSPLUG_WANT_WRITE;
        if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
            if (!s->recv_blocked && ++spins < MBED_SPIN_MAX)
                continue;
            return TLSPLUG_WANT_READ;
        }
        if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
            s->peer_closed = 1;
        if (s->hello_13_only) {
            tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_PROTOCOL_VERSION, ret,
                             "the client offers TLS 1.3 only; mbedTLS %s has TLS 1.2 only",
                             MBEDTLS_VERSION_STRING);
            /* Nothing negotiated yet: give the alert record a TLS 1.2
             * version rather than mbedTLS's unset 0.0. */
            ssl->major_ver = MBEDTLS_SSL_MAJOR_VERSION_3;
            ssl->minor_ver = MBEDTLS_SSL_MINOR_VERSION_3;
            send_fatal_alert(s, MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION);
            return sess_fail(s, TLSPLUG_E_PROTOCOL_VERSION);
        }
        return sess_fail(s, step_error(s, ret, "handshake", TLSPLUG_E_HANDSHAKE));
    }
    s->hs_done = 1;
    if (!s->keylogged && s->have_random && ssl->session)
        keylog(s, ssl->session->master);
    return TLSPLUG_OK;
}

static int mb_handshake(void *bsess)
{
    return drive(bsess);
}

/* ---- application data --------------------------------------------------- */

static int closed(mbed_sess *s)
{
    s->peer_closed = 1;
    return tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_CLOSED,
                            MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY, "the peer sent close_notify");
}

static int mb_read(void *bsess, void *buf, size_t cap, size_t *n)
{
    mbed_sess *s = bsess;
    *n = 0;
    if (s->failed)
        return s->failed;
    if (s->peer_closed) /* bytes after close_notify are not ours to read */
        return closed(s);
    int rc = drive(s);
    if (rc != TLSPLUG_OK)
        return rc;
    if (cap > INT_MAX)
        cap = INT_MAX;
    for (int spins = 0;;) {
        s->recv_blocked = 0;
        int ret = mbedtls_ssl_read(&s->ssl, buf, cap);
        if (ret > 0) {
            *n = (size_t)ret;
            return TLSPLUG_OK;
        }
        /* mbedtls_ssl_read turns the transport's EOF into 0. */
        if (ret == 0 && s->eof)
            ret = MBEDTLS_ERR_SSL_CONN_EOF;
        /* 0 otherwise: an empty record; WANT_READ with input left: a record
         * that gave no data (a refused renegotiation). */
        if (ret == 0 || (ret == MBEDTLS_ERR_SSL_WANT_READ && !s->recv_blocked)) {
            if (++spins < MBED_SPIN_MAX)
                continue;
            return TLSPLUG_WANT_READ;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ)
            return TLSPLUG_WANT_READ;
        if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            return TLSPLUG_WANT_WRITE;
        if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
            return closed(s);
        return sess_fail(s, step_error(s, ret, "read", TLSPLUG_E_PROTOCOL));
    }
}

static int mb_write(void *bsess, const void *buf, size_t len, size_t *n)
{
    mbed_sess *s = bsess;
    *n = 0;
    int rc = drive(s);
    if (rc != TLSPLUG_OK)
        return rc;
    /* mbedTLS takes at most one record; after WANT_WRITE the same call
     * again flushes what it already took (core repeats the same bytes). */
    int ret = mbedtls_ssl_write(&s->ssl, buf, len);
    if (ret > 0) {
        *n = (size_t)ret;
        return TLSPLUG_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == 0)
        return TLSPLUG_WANT_WRITE;
    if (ret == MBEDTLS_ERR_SSL_WANT_READ)
        return TLSPLUG_WANT_READ;
    return sess_fail(s, step_error(s, ret, "write", TLSPLUG_E_PROTOCOL));
}

static int mb_shutdown(void *bsess)
{
    mbed_sess *s = bsess;
    if (s->failed)
        return s->failed;
    if (s->close_sent)
        return TLSPLUG_OK;
    /* Sends close_notify; called again after WANT_WRITE it only flushes. */
    int ret = mbedtls_ssl_close_notify(&s->ssl);
    if (ret == 0) {
        s->close_sent = 1;
        return TLSPLUG_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return TLSPLUG_WANT_WRITE;
    return sess_fail(s, step_error(s, ret, "shutdown", TLSPLUG_E_IO));
}

static size_t mb_pending(void *bsess)
{
    mbed_sess *s = bsess;
    return mbedtls_ssl_get_bytes_avail(&s->ssl);
}

/* ---- info ---------------------------------------------------------------- */

static int mb_info(void *bsess, tlsplug_info *out)
{
    mbed_sess *s = bsess;
    mbedtls_ssl_context *ssl = &s->ssl;
    if (!s->hs_done || !ssl->session)
        return TLSPLUG_E_INVALID_ARGUMENT;
    out->version = (ssl->major_ver << 8) | ssl->minor_ver;
    out->cipher_id = (uint16_t)ssl->session->ciphersuite;
    out->group_id = s->group;
    const char *alpn = mbedtls_ssl_get_alpn_protocol(ssl);
    snprintf(out->alpn, sizeof out->alpn, "%s", alpn ? alpn : "");
    const char *sni = s->side == TLSPLUG_SIDE_CLIENT ? s->sni : s->server_name;
    snprintf(out->server_name, sizeof out->server_name, "%s", sni ? sni : "");
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(ssl);
    if (peer && peer->raw.p)
        tlsplug__mbed_subject(&peer->subject, out->peer_subject, sizeof out->peer_subject);
    else
        out->peer_subject[0] = '\0';
    out->resumed = s->resumed;
    /* check_peer zeroes the flags exactly when the peer was accepted, and
     * the session carries them into resumptions. */
    out->peer_verified = peer && peer->raw.p && s->verify != TLSPLUG_VERIFY_NONE &&
                         ssl->session->verify_result == 0;
    return TLSPLUG_OK;
}

/* ---- sessions -------------------------------------------------------------- */

/* Records the name for info() and serves the certificate configured for
 * it; adopted configs then run the application's own callback. */
static int sni_cb(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    mbed_ctx *bc = arg;
    mbed_sess *s = sess_of(ssl);
    char host[MBEDTLS_SSL_MAX_HOST_NAME_LEN + 1];
    size_t k = len < sizeof host - 1 ? len : sizeof host - 1;
    memcpy(host, name, k);
    host[k] = '\0';
    if (s) {
        tlsplug__free(s->server_name);
        if (!(s->server_name = tlsplug__strdup(host))) {
            tlsplug__io_oom(s->conn, "the server name"); /* mbedTLS says bad ClientHello */
            return MBEDTLS_ERR_SSL_ALLOC_FAILED;
        }
    }
    /* A name with a NUL in it matches nothing. */
    int pick = bc->cfg && k == len && strlen(host) == len ? tlsplug__sni_cert_pick(bc->cfg, host)
                                                          : -1;
    if (pick >= 0) {
        int ret = mbedtls_ssl_set_hs_own_cert(ssl, &bc->sni_chain[pick], &bc->sni_key[pick]);
        if (ret != 0)
            return ret;
    }
    return bc->user_sni ? bc->user_sni(bc->user_sni_arg, ssl, name, len) : 0;
}

static int verify_of_authmode(int authmode)
{
    switch (authmode) {
    case MBEDTLS_SSL_VERIFY_NONE:
        return TLSPLUG_VERIFY_NONE;
    case MBEDTLS_SSL_VERIFY_OPTIONAL:
        return TLSPLUG_VERIFY_OPTIONAL;
    default:
        return TLSPLUG_VERIFY_REQUIRED;
    }
}

static void mb_sess_free(void *bsess)
{
    mbed_sess *s = bsess;
    if (!s)
        return;
    mbedtls_ssl_free(&s->ssl);
    /* a shallow copy: what it points to belongs to the context */
    tlsplug__free(s->conf_copy);
    tlsplug__free(s->sni);
    tlsplug__free(s->server_name);
    tlsplug__free(s->check_name);
    tlsplug__free(s);
}

static int client_names(mbed_sess *s, const tlsplug_sess_params *p, struct tlsplug_error *err)
{
    if (p->sni && !(s->sni = tlsplug__strdup(p->sni)))
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    if (p->verify_name && s->verify != TLSPLUG_VERIFY_NONE) {
        if (inet_pton(AF_INET, p->verify_name, s->ip) == 1)
            s->ip_len = 4;
        else if (inet_pton(AF_INET6, p->verify_name, s->ip) == 1)
            s->ip_len = 16;
        else if (!(s->check_name = tlsplug__strdup(p->verify_name)))
            return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    }
    /* Without a hostname mbedTLS sends no SNI and checks no name. */
    int ret = mbedtls_ssl_set_hostname(&s->ssl, s->sni);
    if (ret != 0)
        return tlsplug__mbed_err(err, tlsplug__mbed_class(ret, TLSPLUG_E_INVALID_ARGUMENT), ret,
                                 "cannot set the server name");
    /* The swap in observe() is only needed when the two names differ. */
    s->name_switched = s->verify == TLSPLUG_VERIFY_NONE || same_name(s->sni, s->check_name);
    if (p->session && p->session_len) {
        mbedtls_ssl_session saved;
        mbedtls_ssl_session_init(&saved);
        /* A session this library build cannot read is simply not offered. */
        if (mbedtls_ssl_session_load(&saved, p->session, p->session_len) == 0)
            (void)mbedtls_ssl_set_session(&s->ssl, &saved);
        mbedtls_ssl_session_free(&saved);
    }
    return TLSPLUG_OK;
}

static int mb_sess_new(void *bctx, tlsplug_conn *conn, const tlsplug_sess_params *p,
                       void **bsess, struct tlsplug_error *err)
{
    mbed_ctx *bc = bctx;
    *bsess = NULL;
    mbed_sess *s = tlsplug__calloc(1, sizeof *s);
    if (!s)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    mbedtls_ssl_init(&s->ssl);
    s->bc = bc;
    s->conn = conn;
    s->side = p->side;
    s->sent_alert = -1;
    int rc = TLSPLUG_OK;
    int endpoint = p->side == TLSPLUG_SIDE_CLIENT ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER;
    mbedtls_ssl_config *conf = bc->conf;
    if (conf->endpoint != endpoint) {
        /* One config serves one endpoint: a context for both sides lends
         * the other side a shallow copy, made now so that changes of the
         * ctx-configure hook reach it too. */
        if (!(s->conf_copy = tlsplug__malloc(sizeof *conf))) {
            rc = tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
            goto fail;
        }
        *s->conf_copy = *conf;
        mbedtls_ssl_conf_endpoint(s->conf_copy, endpoint);
        if (endpoint == MBEDTLS_SSL_IS_CLIENT) {
            /* Never let a client session into the server's cache: a
             * server we connect to chooses its session ID. */
            s->conf_copy->f_get_cache = NULL;
            s->conf_copy->f_set_cache = NULL;
            s->conf_copy->p_cache = NULL;
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
            s->conf_copy->f_ticket_write = NULL;
            s->conf_copy->f_ticket_parse = NULL;
            s->conf_copy->p_ticket = NULL;
            s->conf_copy->session_tickets = MBEDTLS_SSL_SESSION_TICKETS_ENABLED;
#endif
        }
        conf = s->conf_copy;
    }
    s->verify = verify_of_authmode(conf->authmode);
    int ret = mbedtls_ssl_setup(&s->ssl, conf);
    if (ret != 0) {
        rc = tlsplug__mbed_err(err, tlsplug__mbed_class(ret, TLSPLUG_E_INTERNAL), ret,
                               "cannot set up the session");
        goto fail;
    }
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    /* The library only collects flags; check_peer decides. */
    if (s->verify != TLSPLUG_VERIFY_NONE)
        mbedtls_ssl_set_hs_authmode(&s->ssl, MBEDTLS_SSL_VERIFY_OPTIONAL);
    if (p->side == TLSPLUG_SIDE_CLIENT && (rc = client_names(s, p, err)) != TLSPLUG_OK)
        goto fail;
    *bsess = s;
    return TLSPLUG_OK;
fail:
    mb_sess_free(s);
    return rc;
}

static void *mb_sess_native(void *bsess)
{
    return &((mbed_sess *)bsess)->ssl;
}

static int mb_session_save(void *bsess, uint8_t **data, size_t *len)
{
    mbed_sess *s = bsess;
    *data = NULL;
    *len = 0;
    if (s->side != TLSPLUG_SIDE_CLIENT)
        return TLSPLUG_E_UNSUPPORTED;
    const mbedtls_ssl_session *sess = mbedtls_ssl_get_session_pointer(&s->ssl);
    if (!s->hs_done || s->failed || !sess)
        return TLSPLUG_E_INVALID_ARGUMENT;
    size_t need = 0;
    int ret = mbedtls_ssl_session_save(sess, NULL, 0, &need);
    if (ret != MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL || need == 0)
        return TLSPLUG_E_INVALID_ARGUMENT;
    uint8_t *buf = tlsplug__malloc(need);
    if (!buf)
        return TLSPLUG_E_NO_MEMORY;
    if (mbedtls_ssl_session_save(sess, buf, need, &need) != 0) {
        tlsplug__free(buf);
        return TLSPLUG_E_INVALID_ARGUMENT;
    }
    *data = buf;
    *len = need;
    return TLSPLUG_OK;
}

/* ---- contexts ---------------------------------------------------------------- */

static mbed_ctx *ctx_alloc(void)
{
    mbed_ctx *bc = tlsplug__calloc(1, sizeof *bc);
    if (!bc)
        return NULL;
    mbedtls_ssl_config_init(&bc->own_conf);
    mbedtls_entropy_init(&bc->entropy);
    mbedtls_ctr_drbg_init(&bc->drbg);
    mbedtls_x509_crt_init(&bc->chain);
    mbedtls_x509_crt_init(&bc->trust);
    mbedtls_pk_init(&bc->key);
    for (size_t i = 0; i < TLSPLUG_MAX_SNI_CERTS; i++) {
        mbedtls_x509_crt_init(&bc->sni_chain[i]);
        mbedtls_pk_init(&bc->sni_key[i]);
    }
#if MBED_HAVE_TICKETS
    mbedtls_ssl_ticket_init(&bc->ticket);
#endif
#if MBED_HAVE_CACHE
    mbedtls_ssl_cache_init(&bc->cache);
#endif
    bc->conf = &bc->own_conf;
    return bc;
}

static void mb_ctx_free(void *bctx)
{
    mbed_ctx *bc = bctx;
    if (!bc)
        return;
    if (bc->adopted) {
        mbedtls_ssl_config_free(bc->conf);
        mbedtls_free(bc->conf);
    }
    mbedtls_ssl_config_free(&bc->own_conf);
#if MBED_HAVE_TICKETS
    mbedtls_ssl_ticket_free(&bc->ticket);
#endif
#if MBED_HAVE_CACHE
    mbedtls_ssl_cache_free(&bc->cache);
#endif
    mbedtls_pk_free(&bc->key);
    mbedtls_x509_crt_free(&bc->chain);
    for (size_t i = 0; i < TLSPLUG_MAX_SNI_CERTS; i++) {
        mbedtls_x509_crt_free(&bc->sni_chain[i]);
        mbedtls_pk_free(&bc->sni_key[i]);
    }
    mbedtls_x509_crt_free(&bc->trust);
    mbedtls_ctr_drbg_free(&bc->drbg);
    mbedtls_entropy_free(&bc->entropy);
    tlsplug__free(bc->alpn);
    tlsplug__free(bc);
}

static void *mb_ctx_native(void *bctx)
{
    return ((mbed_ctx *)bctx)->conf;
}

static int mb_ctx_new(const tlsplug_config *cfg, tlsplug_side side, void **bctx,
                      struct tlsplug_error *err)
{
    *bctx = NULL;
    mbed_ctx *bc = ctx_alloc();
    if (!bc)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    mbedtls_ssl_config *conf = bc->conf;
    bc->cfg = cfg;
    int rc;
    /* One DRBG per context; the library locks it (MBEDTLS_THREADING_C). */
    static const unsigned char pers[] = "tlsplug-mbedtls";
    int ret = mbedtls_ctr_drbg_seed(&bc->drbg, mbedtls_entropy_func, &bc->entropy, pers,
                                    sizeof pers - 1);
    if (ret != 0) {
        rc = tlsplug__mbed_err(err, TLSPLUG_E_INTERNAL, ret, "cannot seed the random generator");
        goto fail;
    }
    /* BOTH: the config is a server's; client sessions get a copy. */
    ret = mbedtls_ssl_config_defaults(
        conf, side == TLSPLUG_SIDE_CLIENT ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
        MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        rc = tlsplug__mbed_err(err, tlsplug__mbed_class(ret, TLSPLUG_E_INTERNAL), ret,
                               "cannot make the configuration");
        goto fail;
    }
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &bc->drbg);
    if ((rc = tlsplug__mbed_configure(bc, cfg, side, err)) != TLSPLUG_OK)
        goto fail;
    if (side != TLSPLUG_SIDE_CLIENT)
        mbedtls_ssl_conf_sni(conf, sni_cb, bc);
    *bctx = bc;
    return TLSPLUG_OK;
fail:
    mb_ctx_free(bc);
    return rc;
}

static int mb_ctx_adopt(void *native, tlsplug_side side, const char *priority,
                        const tlsplug_config *cfg, void **bctx, struct tlsplug_error *err)
{
    (void)priority;
    (void)cfg;
    *bctx = NULL;
    mbedtls_ssl_config *conf = native;
    if (!conf->f_rng)
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0,
                        "the mbedtls_ssl_config has no random generator (mbedtls_ssl_conf_rng)");
    if (conf->transport != MBEDTLS_SSL_TRANSPORT_STREAM)
        return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, 0, "the mbedtls_ssl_config is for DTLS");
    int is_client = conf->endpoint == MBEDTLS_SSL_IS_CLIENT;
    if ((side == TLSPLUG_SIDE_CLIENT && !is_client) || (side == TLSPLUG_SIDE_SERVER && is_client))
        return tlsplug__err_set(err, TLSPLUG_E_INVALID_ARGUMENT, 0, "the mbedtls_ssl_config is a %s's",
                        is_client ? "client" : "server");
    mbed_ctx *bc = ctx_alloc();
    if (!bc)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    bc->conf = conf;
    bc->adopted = 1;
    /* tlsplug reports the SNI received: chain the application's callback. */
    if (side != TLSPLUG_SIDE_CLIENT) {
        bc->user_sni = conf->f_sni;
        bc->user_sni_arg = conf->p_sni;
        mbedtls_ssl_conf_sni(conf, sni_cb, bc);
    }
    *bctx = bc;
    return TLSPLUG_OK;
}

/* ---- backend ------------------------------------------------------------------ */

static const char *mb_version(void)
{
    return MBEDTLS_VERSION_STRING_FULL;
}

static unsigned mb_caps(void)
{
    unsigned caps = TLSPLUG_CAP_TLS12 | TLSPLUG_CAP_SNI | TLSPLUG_CAP_ALPN | TLSPLUG_CAP_KEYLOG |
                    TLSPLUG_CAP_VERIFY_CALLBACK | TLSPLUG_CAP_CLIENT_CERT |
                    TLSPLUG_CAP_KEY_PASSWORD | TLSPLUG_CAP_ADOPT_CTX | TLSPLUG_CAP_SNI_CERTS;
#if MBED_HAVE_TICKETS
    caps |= TLSPLUG_CAP_SESSION_TICKETS;
#endif
#if MBED_HAVE_CACHE
    caps |= TLSPLUG_CAP_SESSION_CACHE;
#endif
    /* TLS_ECDHE_{RSA,ECDSA}_WITH_CHACHA20_POLY1305_SHA256 */
    if (mbedtls_ssl_ciphersuite_from_id(0xCCA8) && mbedtls_ssl_ciphersuite_from_id(0xCCA9))
        caps |= TLSPLUG_CAP_CHACHA20;
    if (mbedtls_ecp_curve_info_from_tls_id(29))
        caps |= TLSPLUG_CAP_X25519;
    return caps;
}

const struct tlsplug_backend tlsplug__backend_mbedtls = {
    .name = "mbedtls",
    .impl = TLSPLUG_IMPL_MBEDTLS,
    .version = mb_version,
    .caps = mb_caps,
    .ctx_new = mb_ctx_new,
    .ctx_adopt = mb_ctx_adopt,
    .ctx_free = mb_ctx_free,
    .ctx_native = mb_ctx_native,
    .sess_new = mb_sess_new,
    .sess_free = mb_sess_free,
    .sess_native = mb_sess_native,
    .handshake = mb_handshake,
    .read = mb_read,
    .write = mb_write,
    .shutdown = mb_shutdown,
    .pending = mb_pending,
    .info = mb_info,
    .session_save = mb_session_save,
    .idle = NULL, /* 2.28 cannot drop its record buffers */
};
