/*
 * The GnuTLS 3.7 backend.
 *
 * Context: a certificate credentials object plus a priority cache built from
 * the configuration (never GnuTLS's defaults), a ticket key and a small
 * session cache (GnuTLS keeps no server cache of its own).  Connection: a
 * gnutls_session_t whose push/pull go to core's buffers and whose certificate
 * check runs in our verify function, because GnuTLS verifies nothing unless
 * told to and the user's callback must see the chain and the verdict.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "core/backend.h"
#include "backends/gnutls/gnutls_int.h"

/* ---- Small helpers ------------------------------------------------------ */

static struct tlsplug_error *conn_err(struct gt_sess *gs)
{
    return tlsplug__conn_err(gs->conn);
}

static int proto_to_version(gnutls_protocol_t p)
{
    switch (p) {
    case GNUTLS_TLS1_2:
        return TLSPLUG_TLS1_2;
    case GNUTLS_TLS1_3:
        return TLSPLUG_TLS1_3;
    default:
        return 0;
    }
}

/* ---- Transport ---------------------------------------------------------- */

/* Follow the record framing of incoming bytes, only to remember whether the
 * last record was a bare 2-byte alert.  A peer that fails a TLS 1.3
 * handshake before installing its handshake keys (OpenSSL refusing our
 * certificate) sends its alert in plaintext, which GnuTLS reports as a
 * decryption failure; with this we report the peer's alert instead. */
static void sniff(struct gt_sniff *sn, const uint8_t *p, size_t n)
{
    while (n) {
        if (sn->hdr_got < 5) {
            if (sn->hdr_got == 0)
                sn->last_alert = -1;
            sn->hdr[sn->hdr_got++] = *p++;
            n--;
            if (sn->hdr_got == 5) {
                sn->body_left = (size_t)sn->hdr[3] << 8 | sn->hdr[4];
                sn->plain_alert = sn->hdr[0] == 21 && sn->body_left == 2;
                sn->alert_got = 0;
                if (sn->body_left == 0)
                    sn->hdr_got = 0;
            }
            continue;
        }
        size_t k = n < sn->body_left ? n : sn->body_left;
        for (size_t i = 0; sn->plain_alert && i < k && sn->alert_got < 2; i++)
            sn->alert[sn->alert_got++] = p[i];
        p += k;
        n -= k;
        sn->body_left -= k;
        if (sn->body_left == 0) {
            sn->hdr_got = 0;
            if (sn->plain_alert)
                sn->last_alert = sn->alert[1];
        }
    }
}

static ssize_t gt_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    struct gt_sess *gs = ptr;
    size_t n = 0;
    switch (tlsplug__io_recv(gs->conn, buf, len, &n)) {
    case TLSPLUG_OK:
        sniff(&gs->sniff, buf, n);
        return (ssize_t)n;
    case TLSPLUG_WANT_READ:
        gs->io_blocked = 1;
        gnutls_transport_set_errno(gs->s, EAGAIN);
        return -1;
    case TLSPLUG_E_CLOSED:
        return 0;
    default:
        gnutls_transport_set_errno(gs->s, ECONNRESET);
        return -1;
    }
}

static ssize_t gt_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
    struct gt_sess *gs = ptr;
    size_t n = 0;
    switch (tlsplug__io_send(gs->conn, buf, len, &n)) {
    case TLSPLUG_OK:
        return (ssize_t)n;
    case TLSPLUG_WANT_WRITE:
        gs->io_blocked = 1;
        gnutls_transport_set_errno(gs->s, EAGAIN);
        return -1;
    default:
        gnutls_transport_set_errno(gs->s, ECONNRESET);
        return -1;
    }
}

/* GnuTLS waits with this before some reads (the default would select() on
 * our pointer as if it were a socket).  Time belongs to core: say "maybe
 * ready" so the pull that follows answers EAGAIN instead of a timeout. */
static int gt_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
    return 1;
}

/* ---- Verification -------------------------------------------------------- */

/* GnuTLS status bits -> class, in the order OpenSSL reports them (chain,
 * extensions, name, revocation, then signature and dates) so that a
 * certificate with several defects gives the same class on every backend. */
static const struct {
    unsigned bits;
    int cls;
} status_table[] = {
    {GNUTLS_CERT_SIGNER_NOT_FOUND, TLSPLUG_E_CERT_UNTRUSTED},
    {GNUTLS_CERT_SIGNER_NOT_CA, TLSPLUG_E_CERT_UNTRUSTED},
    {GNUTLS_CERT_PURPOSE_MISMATCH | GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE |
         GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS,
     TLSPLUG_E_CERT_INVALID},
    {GNUTLS_CERT_UNEXPECTED_OWNER, TLSPLUG_E_CERT_HOSTNAME},
    {GNUTLS_CERT_REVOKED, TLSPLUG_E_CERT_REVOKED},
    {GNUTLS_CERT_SIGNATURE_FAILURE, TLSPLUG_E_CERT_BAD_SIGNATURE},
    {GNUTLS_CERT_EXPIRED, TLSPLUG_E_CERT_EXPIRED},
    {GNUTLS_CERT_NOT_ACTIVATED, TLSPLUG_E_CERT_NOT_YET_VALID},
    {GNUTLS_CERT_INVALID, TLSPLUG_E_CERT_INVALID},
};

static int status_to_class(unsigned status)
{
    if (status == 0)
        return TLSPLUG_OK;
    for (size_t i = 0; i < sizeof status_table / sizeof status_table[0]; i++)
        if (status & status_table[i].bits)
            return status_table[i].cls;
    return TLSPLUG_E_CERT_INVALID;
}

static int class_to_alert(int cls, gnutls_protocol_t ver)
{
    /* GnuTLS alert enums are the protocol's numbers */
    return tlsplug__cert_alert(cls, ver == GNUTLS_TLS1_3 ? TLSPLUG_TLS1_3 : TLSPLUG_TLS1_2);
}

static int fail_in_callback(struct gt_sess *gs, int cls)
{
    gs->fail_cls = cls;
    gs->fail_alert = class_to_alert(cls, gnutls_protocol_get_version(gs->s));
    return -1;
}

static int gt_verify(gnutls_session_t s)
{
    struct gt_sess *gs = gnutls_session_get_ptr(s);
    const tlsplug_config *cfg = gs->ctx->cfg;

    /* Once per handshake, whatever GnuTLS does. */
    if (gs->verify_ran)
        return 0;
    gs->verify_ran = 1;
    if (cfg->verify == TLSPLUG_VERIFY_NONE)
        return 0;

    unsigned n = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(s, &n);
    if (!peers || n == 0) {
        if (cfg->verify != TLSPLUG_VERIFY_REQUIRED)
            return 0;
        tlsplug__err_set(conn_err(gs), TLSPLUG_E_CERT_REQUIRED, GNUTLS_E_NO_CERTIFICATE_FOUND,
                         "the peer sent no certificate");
        gs->err_filled = 1;
        return fail_in_callback(gs, TLSPLUG_E_CERT_REQUIRED);
    }

    gnutls_typed_vdata_st vd[2];
    unsigned nvd = 0;
    uint8_t ip[16];
    vd[nvd].type = GNUTLS_DT_KEY_PURPOSE_OID;
    vd[nvd].data =
        (unsigned char *)(gs->side == TLSPLUG_SIDE_CLIENT ? GNUTLS_KP_TLS_WWW_SERVER
                                                          : GNUTLS_KP_TLS_WWW_CLIENT);
    vd[nvd++].size = 0;
    if (gs->verify_name) {
        /* An IP literal must match an IP SAN only; GnuTLS would also try it
         * as a DNS name if given as a hostname. */
        if (inet_pton(AF_INET, gs->verify_name, ip) == 1) {
            vd[nvd].type = GNUTLS_DT_IP_ADDRESS;
            vd[nvd].data = ip;
            vd[nvd++].size = 4;
        } else if (inet_pton(AF_INET6, gs->verify_name, ip) == 1) {
            vd[nvd].type = GNUTLS_DT_IP_ADDRESS;
            vd[nvd].data = ip;
            vd[nvd++].size = 16;
        } else {
            vd[nvd].type = GNUTLS_DT_DNS_HOSTNAME;
            vd[nvd].data = (unsigned char *)gs->verify_name;
            vd[nvd++].size = 0;
        }
    }

    unsigned status = 0;
    int verdict;
    int rc = gnutls_certificate_verify_peers(s, vd, nvd, &status);
    if (rc == GNUTLS_E_MEMORY_ERROR)
        verdict = TLSPLUG_E_NO_MEMORY;
    else if (rc < 0)
        verdict = TLSPLUG_E_CERT_INVALID; /* unparsable chain */
    else
        verdict = status_to_class(status);

    const uint8_t *der_small[8];
    size_t len_small[8];
    const uint8_t **der = der_small;
    size_t *len = len_small;
    if (n > 8) {
        der = tlsplug__calloc(n, sizeof *der);
        len = tlsplug__calloc(n, sizeof *len);
        if (!der || !len) {
            if (der != der_small)
                tlsplug__free(der);
            if (len != len_small)
                tlsplug__free(len);
            tlsplug__err_set(conn_err(gs), TLSPLUG_E_NO_MEMORY, 0, "out of memory");
            gs->err_filled = 1;
            gs->fail_cls = TLSPLUG_E_NO_MEMORY;
            gs->fail_alert = GNUTLS_A_INTERNAL_ERROR;
            return -1;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        der[i] = peers[i].data;
        len[i] = peers[i].size;
    }
    int final = tlsplug__verify(gs->conn, verdict, der, len, n);
    if (der != der_small)
        tlsplug__free(der);
    if (len != len_small)
        tlsplug__free(len);

    if (final != TLSPLUG_OK) {
        /* Core has filled the error record: keep its message. */
        gs->err_filled = 1;
        return fail_in_callback(gs, final);
    }
    gs->peer_verified = 1;
    return 0;
}

/* ---- Key log ---------------------------------------------------------- */

static int gt_keylog(gnutls_session_t s, const char *label, const gnutls_datum_t *secret)
{
    struct gt_sess *gs = gnutls_session_get_ptr(s);
    if (!gs->ctx->cfg->keylog_cb)
        return 0;
    gnutls_datum_t cr, sr;
    gnutls_session_get_random(s, &cr, &sr);
    tlsplug__keylog_secret(gs->conn, label, cr.data, cr.size, secret->data, secret->size);
    return 0;
}

/* A no-op keylog for contexts without a callback: GnuTLS's own default writes
 * secrets to $SSLKEYLOGFILE, which no other backend does. */
static int gt_keylog_none(gnutls_session_t s, const char *label, const gnutls_datum_t *secret)
{
    return 0;
}

/* ---- Errors ---------------------------------------------------------------- */

/* Make the library's failure the conn's error and tell the peer with an
 * alert (GnuTLS sends none by itself when a handshake step fails). */
static int fail(struct gt_sess *gs, int rc, const char *what)
{
    if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
        return tlsplug__peer_alert(gs->conn, (int)gnutls_alert_get(gs->s), rc);
    if ((rc == GNUTLS_E_DECRYPTION_FAILED || rc == GNUTLS_E_UNEXPECTED_PACKET) &&
        gs->sniff.last_alert >= 0)
        return tlsplug__peer_alert(gs->conn, gs->sniff.last_alert, rc);

    int cls = gs->fail_cls ? gs->fail_cls : tlsplug__gnutls_class(rc);
    int alert = -1;
    if (!tlsplug__gnutls_is_transport(rc)) {
        if (gs->fail_cls)
            alert = gs->fail_alert;
        else if (cls == TLSPLUG_E_CERT_REQUIRED)
            alert = class_to_alert(cls, gnutls_protocol_get_version(gs->s));
        else {
            int level;
            alert = gnutls_error_to_alert(rc, &level);
            if (alert < 0)
                alert = GNUTLS_A_INTERNAL_ERROR;
        }
        /* Best effort: a full send buffer must not hide the real error. */
        gnutls_alert_send(gs->s, GNUTLS_AL_FATAL, (gnutls_alert_description_t)alert);
    }
    struct tlsplug_error *e = conn_err(gs);
    if (!gs->err_filled)
        tlsplug__err_set(e, cls, rc, "%s: %s", what, gnutls_strerror(rc));
    if (alert >= 0)
        e->alert = alert;
    return cls;
}

/* ---- Context ------------------------------------------------------------ */

static void gt_ctx_free(void *bctx)
{
    struct gt_ctx *c = bctx;
    if (!c)
        return;
    if (c->cert.cred)
        gnutls_certificate_free_credentials(c->cert.cred);
    for (size_t i = 0; i < c->n_sni; i++)
        if (c->sni[i].cred)
            gnutls_certificate_free_credentials(c->sni[i].cred);
    tlsplug__gnutls_prio_free(&c->prio);
    tlsplug__gnutls_prio_free(&c->prio_client);
    if (c->ticket_key.data) {
        gnutls_memset(c->ticket_key.data, 0, c->ticket_key.size);
        gnutls_free(c->ticket_key.data);
    }
    tlsplug__gnutls_cache_free(c->cache);
    tlsplug__free(c->alpn);
    tlsplug__free(c);
}

/* One credentials object: trust (to verify peers) plus one chain and key.
 * what names the chain in messages ("" for the default one). */
static int load_cred(struct gt_cert *out, const tlsplug_config *cfg, const tlsplug_bytes *chain,
                     const tlsplug_bytes *keypem, const char *password, const char *what,
                     struct tlsplug_error *err)
{
    int rc = gnutls_certificate_allocate_credentials(&out->cred);
    if (rc < 0) {
        out->cred = NULL;
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, rc, "cannot allocate credentials: %s",
                                gnutls_strerror(rc));
    }
    if (cfg->trust_pem.len) {
        gnutls_datum_t t = {cfg->trust_pem.data, (unsigned)cfg->trust_pem.len};
        rc = gnutls_certificate_set_x509_trust_mem(out->cred, &t, GNUTLS_X509_FMT_PEM);
        if (rc < 0)
            return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, rc, "cannot load trust anchors: %s",
                                    gnutls_strerror(rc));
        if (rc == 0)
            return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0,
                                    "cannot load trust anchors: no certificate found");
    }
    if (!chain->len)
        return TLSPLUG_OK;
    gnutls_datum_t crt = {chain->data, (unsigned)chain->len};
    gnutls_datum_t key = crt;
    if (keypem->len)
        key = (gnutls_datum_t){keypem->data, (unsigned)keypem->len};
    rc = gnutls_certificate_set_x509_key_mem2(out->cred, &crt, &key, GNUTLS_X509_FMT_PEM, password,
                                              0);
    if (rc == GNUTLS_E_MEMORY_ERROR)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, rc, "out of memory");
    if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, rc,
                                "%sprivate key does not match the certificate", what);
    if (rc == GNUTLS_E_DECRYPTION_FAILED || (rc < 0 && password))
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, rc,
                                "%scannot decrypt private key: wrong password? (%s)", what,
                                gnutls_strerror(rc));
    if (rc < 0)
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, rc,
                                "%scannot load certificate and key: %s", what, gnutls_strerror(rc));
    /* The server's TLS 1.2 suite choice needs the key type (priority.c). */
    gnutls_x509_crt_t leaf;
    out->pk = GNUTLS_PK_UNKNOWN;
    if (gnutls_x509_crt_init(&leaf) >= 0) {
        if (gnutls_x509_crt_import(leaf, &crt, GNUTLS_X509_FMT_PEM) >= 0) {
            int pk = gnutls_x509_crt_get_pk_algorithm(leaf, NULL);
            out->pk = pk > 0 ? (gnutls_pk_algorithm_t)pk : GNUTLS_PK_UNKNOWN;
        }
        gnutls_x509_crt_deinit(leaf);
    }
    return TLSPLUG_OK;
}

/* The default chain, then one credentials object per SNI name (the server
 * switches to it from the ClientHello, priority.c). */
static int load_keys(struct gt_ctx *c, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    int rc = load_cred(&c->cert, cfg, &cfg->cert_pem, &cfg->key_pem, cfg->key_password, "", err);
    for (size_t i = 0; rc == TLSPLUG_OK && i < cfg->n_sni_certs; i++) {
        const tlsplug_sni_cert *sc = &cfg->sni_certs[i];
        char what[300];
        snprintf(what, sizeof what, "certificate for SNI '%s': ", sc->name);
        rc = load_cred(&c->sni[i], cfg, &sc->cert_pem, &sc->key_pem, sc->key_password, what, err);
        c->n_sni = i + 1;
    }
    return rc;
}

/* GnuTLS limits ALPN lists (8 names under 32 bytes in 3.7): find out at
 * context creation rather than at the first connection. */
static int alpn_probe(const gnutls_datum_t *alpn, unsigned n)
{
    gnutls_session_t s;
    int rc = gnutls_init(&s, GNUTLS_CLIENT);
    if (rc < 0)
        return rc;
    rc = gnutls_alpn_set_protocols(s, alpn, n, 0);
    gnutls_deinit(s);
    return rc;
}

static int ctx_setup(struct gt_ctx *c, const tlsplug_config *cfg, tlsplug_side side,
                     struct tlsplug_error *err)
{
    c->cfg = cfg;
    c->side = side;

    if (cfg->n_alpn) {
        c->alpn = tlsplug__calloc(cfg->n_alpn, sizeof *c->alpn);
        if (!c->alpn)
            return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
        for (size_t i = 0; i < cfg->n_alpn; i++) {
            c->alpn[i].data = (unsigned char *)cfg->alpn[i];
            c->alpn[i].size = (unsigned)strlen(cfg->alpn[i]);
        }
        c->n_alpn = (unsigned)cfg->n_alpn;
        int rc = alpn_probe(c->alpn, c->n_alpn);
        if (rc < 0)
            return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, rc,
                                    "GnuTLS cannot take this ALPN list (at most 8 protocols of "
                                    "at most 31 bytes): %s",
                                    gnutls_strerror(rc));
    }

    c->ticket_flags = GNUTLS_NO_TICKETS;
    if (side != TLSPLUG_SIDE_CLIENT) {
        /* TLS 1.3 resumes only with tickets, so a server cache alone still
         * issues (TLS 1.3 only) tickets, as OpenSSL does with its stateful
         * ones; TLS 1.2 then resumes by session ID. */
        int t13 = cfg->tickets || cfg->session_cache;
        if (t13) {
            int rc = gnutls_session_ticket_key_generate(&c->ticket_key);
            if (rc < 0)
                return tlsplug__err_set(err, TLSPLUG_E_INTERNAL, rc,
                                        "cannot make a session ticket key: %s",
                                        gnutls_strerror(rc));
            c->ticket_flags = cfg->tickets ? 0 : GNUTLS_NO_TICKETS_TLS12;
        }
        if (cfg->session_cache && !(c->cache = tlsplug__gnutls_cache_new()))
            return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    }
    return TLSPLUG_OK;
}

static int gt_ctx_new(const tlsplug_config *cfg, tlsplug_side side, void **bctx,
                      struct tlsplug_error *err)
{
    struct gt_ctx *c = tlsplug__calloc(1, sizeof *c);
    if (!c)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    int rc = tlsplug__gnutls_prio_new(&c->prio, cfg, side, NULL, err);
    if (rc == TLSPLUG_OK && side == TLSPLUG_SIDE_BOTH)
        rc = tlsplug__gnutls_prio_new(&c->prio_client, cfg, TLSPLUG_SIDE_CLIENT, NULL, err);
    if (rc == TLSPLUG_OK)
        rc = load_keys(c, cfg, err);
    if (rc == TLSPLUG_OK)
        rc = ctx_setup(c, cfg, side, err);
    if (rc != TLSPLUG_OK) {
        gt_ctx_free(c);
        return rc;
    }
    *bctx = c;
    return TLSPLUG_OK;
}

static int gt_ctx_adopt(void *native, tlsplug_side side, const char *priority,
                        const tlsplug_config *cfg, void **bctx, struct tlsplug_error *err)
{
    if (!native)
        return tlsplug__err_set(err, TLSPLUG_E_INVALID_ARGUMENT, 0, "no credentials to adopt");
    struct gt_ctx *c = tlsplug__calloc(1, sizeof *c);
    if (!c)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    int rc = tlsplug__gnutls_prio_new(&c->prio, cfg, side, priority, err);
    if (rc == TLSPLUG_OK && side == TLSPLUG_SIDE_BOTH && !priority)
        rc = tlsplug__gnutls_prio_new(&c->prio_client, cfg, TLSPLUG_SIDE_CLIENT, NULL, err);
    if (rc == TLSPLUG_OK)
        rc = ctx_setup(c, cfg, side, err);
    if (rc != TLSPLUG_OK) {
        gt_ctx_free(c); /* cred not yet ours: the caller keeps it */
        return rc;
    }
    c->cert.cred = native;
    c->cert.pk = GNUTLS_PK_UNKNOWN;
    *bctx = c;
    return TLSPLUG_OK;
}

static void *gt_ctx_native(void *bctx)
{
    return ((struct gt_ctx *)bctx)->cert.cred;
}

/* ---- Session -------------------------------------------------------------- */

static void gt_sess_free(void *bsess)
{
    struct gt_sess *gs = bsess;
    if (!gs)
        return;
    if (gs->s)
        gnutls_deinit(gs->s);
    tlsplug__free(gs->sni);
    tlsplug__free(gs->verify_name);
    tlsplug__free(gs);
}

static int sess_setup(struct gt_sess *gs, const tlsplug_sess_params *p, struct tlsplug_error *err)
{
    struct gt_ctx *c = gs->ctx;
    gnutls_session_t s = gs->s;
    int rc;

    gnutls_session_set_ptr(s, gs);
    gnutls_handshake_set_timeout(s, 0);
    if ((rc = tlsplug__gnutls_prio_apply(gs)) < 0 ||
        (rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, c->cert.cred)) < 0)
        goto fail;
    gnutls_transport_set_ptr(s, gs);
    gnutls_transport_set_push_function(s, gt_push);
    gnutls_transport_set_pull_function(s, gt_pull);
    gnutls_transport_set_pull_timeout_function(s, gt_pull_timeout);
    gnutls_session_set_verify_function(s, gt_verify);
    gnutls_session_set_keylog_function(s, c->cfg->keylog_cb ? gt_keylog : gt_keylog_none);

    if (gs->side == TLSPLUG_SIDE_SERVER) {
        gnutls_certificate_request_t req = GNUTLS_CERT_IGNORE;
        if (c->cfg->verify == TLSPLUG_VERIFY_OPTIONAL)
            req = GNUTLS_CERT_REQUEST;
        else if (c->cfg->verify == TLSPLUG_VERIFY_REQUIRED)
            req = GNUTLS_CERT_REQUIRE;
        gnutls_certificate_server_set_request(s, req);
        /* No CA names in the CertificateRequest, as the other backends:
         * a GnuTLS client would otherwise withhold a certificate whose
         * issuer is not listed instead of letting verification say why. */
        gnutls_certificate_send_x509_rdn_sequence(s, 1);
        if (c->ticket_key.data && (rc = gnutls_session_ticket_enable_server(s, &c->ticket_key)) < 0)
            goto fail;
        if (c->cache)
            tlsplug__gnutls_cache_attach(c->cache, s);
        if (c->n_alpn && (rc = gnutls_alpn_set_protocols(s, c->alpn, c->n_alpn,
                                                         GNUTLS_ALPN_SERVER_PRECEDENCE |
                                                             GNUTLS_ALPN_MANDATORY)) < 0)
            goto fail;
    } else {
        if (p->sni) {
            if (!(gs->sni = tlsplug__strdup(p->sni)))
                goto oom;
            if ((rc = gnutls_server_name_set(s, GNUTLS_NAME_DNS, p->sni, strlen(p->sni))) < 0)
                goto fail;
        }
        if (p->verify_name && !(gs->verify_name = tlsplug__strdup(p->verify_name)))
            goto oom;
        if (c->n_alpn && (rc = gnutls_alpn_set_protocols(s, c->alpn, c->n_alpn, 0)) < 0)
            goto fail;
        /* Resumption is advisory: a session GnuTLS cannot take means a full
         * handshake, not a failed connection. */
        if (p->session && p->session_len)
            (void)gnutls_session_set_data(s, p->session, p->session_len);
    }
    return TLSPLUG_OK;
oom:
    return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
fail:
    return tlsplug__err_set(err, rc == GNUTLS_E_MEMORY_ERROR ? TLSPLUG_E_NO_MEMORY
                                                             : TLSPLUG_E_BAD_CONFIG,
                            rc, "cannot set up the GnuTLS session: %s", gnutls_strerror(rc));
}

static int gt_sess_new(void *bctx, tlsplug_conn *conn, const tlsplug_sess_params *p,
                       void **bsess, struct tlsplug_error *err)
{
    struct gt_ctx *c = bctx;
    struct gt_sess *gs = tlsplug__calloc(1, sizeof *gs);
    if (!gs)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    gs->conn = conn;
    gs->ctx = c;
    gs->side = p->side;
    gs->fail_alert = -1;
    gs->sniff.last_alert = -1;

    /* Time is core's business: no handshake timeout, no blocking waits. */
    unsigned flags = GNUTLS_NONBLOCK;
    if (p->side == TLSPLUG_SIDE_SERVER)
        flags |= GNUTLS_SERVER | c->ticket_flags;
    else /* one key share, for the first group, as every backend sends;
          * and the configured certificate whatever CA names the server
          * lists, as the other libraries send it (GnuTLS would withhold
          * one whose issuer is not among them) */
        flags |= GNUTLS_CLIENT | GNUTLS_KEY_SHARE_TOP | GNUTLS_FORCE_CLIENT_CERT;
    int rc = gnutls_init(&gs->s, flags);
    if (rc < 0) {
        gs->s = NULL;
        gt_sess_free(gs);
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, rc, "gnutls_init: %s",
                                gnutls_strerror(rc));
    }
    rc = sess_setup(gs, p, err);
    if (rc != TLSPLUG_OK) {
        gt_sess_free(gs);
        return rc;
    }
    *bsess = gs;
    return TLSPLUG_OK;
}

static void *gt_sess_native(void *bsess)
{
    return ((struct gt_sess *)bsess)->s;
}

/* ---- Steps ------------------------------------------------------------------ */

static int want(struct gt_sess *gs)
{
    return gnutls_record_get_direction(gs->s) ? TLSPLUG_WANT_WRITE : TLSPLUG_WANT_READ;
}

/* Every record call loops over GnuTLS's non-fatal results (warning alerts,
 * EINTR); a peer that sends nothing but warnings is broken, as OpenSSL
 * also decides (its limit is lower). */
#define GT_MAX_SPINS 64

static int too_many_warnings(struct gt_sess *gs)
{
    gnutls_alert_send(gs->s, GNUTLS_AL_FATAL, GNUTLS_A_UNEXPECTED_MESSAGE);
    struct tlsplug_error *e = conn_err(gs);
    tlsplug__err_set(e, TLSPLUG_E_PROTOCOL, GNUTLS_E_WARNING_ALERT_RECEIVED,
                     "the peer sent too many warning alerts");
    e->alert = GNUTLS_A_UNEXPECTED_MESSAGE;
    return TLSPLUG_E_PROTOCOL;
}

static int gt_handshake(void *bsess)
{
    struct gt_sess *gs = bsess;
    for (int i = 0; i < GT_MAX_SPINS; i++) {
        int rc = gnutls_handshake(gs->s);
        if (rc == GNUTLS_E_SUCCESS)
            return TLSPLUG_OK;
        if (rc == GNUTLS_E_AGAIN)
            return want(gs);
        if (gnutls_error_is_fatal(rc))
            return fail(gs, rc, "handshake");
    }
    return too_many_warnings(gs);
}

/* Flush the no_renegotiation warning queued by read (it may have met a full
 * send buffer; GnuTLS keeps it and wants the same call again). */
static int flush_refusal(struct gt_sess *gs)
{
    if (!gs->refuse_pending)
        return TLSPLUG_OK;
    int rc = gnutls_alert_send(gs->s, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
        return TLSPLUG_WANT_WRITE;
    gs->refuse_pending = 0;
    return TLSPLUG_OK;
}

static int gt_read(void *bsess, void *buf, size_t cap, size_t *n)
{
    struct gt_sess *gs = bsess;
    *n = 0;
    int refused = 0;
    for (int i = 0; i < GT_MAX_SPINS; i++) {
        int r = flush_refusal(gs);
        if (r != TLSPLUG_OK)
            return r;
        gs->io_blocked = 0;
        ssize_t rc = gnutls_record_recv(gs->s, buf, cap);
        /* A server's GnuTLS keeps the refused ClientHello and hands it to
         * the next read as an unexpected record, dropping it: that is the
         * refusal, not a broken peer (OpenSSL ignores it likewise). */
        if (refused && rc == GNUTLS_E_UNEXPECTED_PACKET) {
            refused = 0;
            continue;
        }
        refused = 0;
        if (rc > 0) {
            *n = (size_t)rc;
            return TLSPLUG_OK;
        }
        if (rc == 0)
            return tlsplug__err_set(conn_err(gs), TLSPLUG_E_CLOSED, 0,
                                    "the peer closed the TLS session (close_notify)");
        /* After a post-handshake message (a TLS 1.3 ticket) GnuTLS returns
         * E_AGAIN although more records may already be buffered: only a
         * transport that really blocked means wait. */
        if (rc == GNUTLS_E_AGAIN && !gs->io_blocked && (tlsplug__io_buffered(gs->conn) || gnutls_record_check_pending(gs->s)))
            continue;
        if (rc == GNUTLS_E_AGAIN)
            return want(gs);
        if (rc == GNUTLS_E_REHANDSHAKE) {
            /* Renegotiation is refused: never handshake again.  TLS 1.2 has
             * a warning for that; in TLS 1.3 GnuTLS does not get here. */
            if (gnutls_protocol_get_version(gs->s) != GNUTLS_TLS1_3)
                gs->refuse_pending = 1;
            refused = 1;
            continue;
        }
        if (gnutls_error_is_fatal((int)rc))
            return fail(gs, (int)rc, "read");
    }
    return too_many_warnings(gs);
}

static int gt_write(void *bsess, const void *buf, size_t len, size_t *n)
{
    struct gt_sess *gs = bsess;
    *n = 0;
    int r = flush_refusal(gs);
    if (r != TLSPLUG_OK)
        return TLSPLUG_WANT_WRITE;
    for (int i = 0; i < GT_MAX_SPINS; i++) {
        ssize_t rc = gnutls_record_send(gs->s, buf, len);
        if (rc >= 0) {
            *n = (size_t)rc;
            return TLSPLUG_OK;
        }
        if (rc == GNUTLS_E_AGAIN)
            return TLSPLUG_WANT_WRITE;
        if (gnutls_error_is_fatal((int)rc))
            return fail(gs, (int)rc, "write");
    }
    return TLSPLUG_WANT_WRITE;
}

static int gt_shutdown(void *bsess)
{
    struct gt_sess *gs = bsess;
    /* SHUT_WR: queue close_notify and return; core reads the peer's. */
    int rc = gnutls_bye(gs->s, GNUTLS_SHUT_WR);
    if (rc == GNUTLS_E_SUCCESS)
        return TLSPLUG_OK;
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
        return TLSPLUG_WANT_WRITE;
    return fail(gs, rc, "shutdown");
}

static size_t gt_pending(void *bsess)
{
    return gnutls_record_check_pending(((struct gt_sess *)bsess)->s);
}

/* ---- Info and resumption ---------------------------------------------------- */

static void peer_subject(gnutls_session_t s, char *out, size_t cap)
{
    unsigned n = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(s, &n);
    gnutls_x509_crt_t crt;
    out[0] = 0;
    if (!peers || n == 0 || gnutls_x509_crt_init(&crt) < 0)
        return;
    gnutls_datum_t dn = {NULL, 0};
    if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) >= 0 &&
        gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0)
        snprintf(out, cap, "%.*s", (int)dn.size, (const char *)dn.data);
    gnutls_free(dn.data);
    gnutls_x509_crt_deinit(crt);
}

static int gt_info(void *bsess, tlsplug_info *out)
{
    struct gt_sess *gs = bsess;
    gnutls_session_t s = gs->s;
    gnutls_protocol_t ver = gnutls_protocol_get_version(s);

    out->version = proto_to_version(ver);
    out->cipher_id = tlsplug__gnutls_suite_id(s);
    out->group_id = tlsplug__gnutls_group_id(s);

    gnutls_datum_t a;
    out->alpn[0] = 0;
    if (gnutls_alpn_get_selected_protocol(s, &a) == 0 && a.size < sizeof out->alpn) {
        memcpy(out->alpn, a.data, a.size);
        out->alpn[a.size] = 0;
    }

    out->server_name[0] = 0;
    if (gs->side == TLSPLUG_SIDE_CLIENT) {
        if (gs->sni)
            snprintf(out->server_name, sizeof out->server_name, "%s", gs->sni);
    } else {
        size_t len = sizeof out->server_name;
        unsigned type;
        if (gnutls_server_name_get(s, out->server_name, &len, &type, 0) < 0 ||
            type != GNUTLS_NAME_DNS)
            out->server_name[0] = 0;
    }

    peer_subject(s, out->peer_subject, sizeof out->peer_subject);
    out->resumed = gnutls_session_is_resumed(s) != 0;
    /* A resumed session skips certificate exchange; its peer was verified
     * when the session was made (same context, same verify mode). */
    out->peer_verified =
        gs->peer_verified ||
        (out->resumed && gs->ctx->cfg->verify != TLSPLUG_VERIFY_NONE && out->peer_subject[0]);
    return TLSPLUG_OK;
}

static int gt_session_save(void *bsess, uint8_t **data, size_t *len)
{
    struct gt_sess *gs = bsess;
    gnutls_session_t s = gs->s;
    if (gs->side != TLSPLUG_SIDE_CLIENT)
        return tlsplug__err_set(conn_err(gs), TLSPLUG_E_INVALID_ARGUMENT, 0,
                                "only a client saves sessions");
    gnutls_datum_t d = {NULL, 0};
    int rc = gnutls_session_get_data2(s, &d);
    /* TLS 1.3 resumes only with a ticket, which comes after the handshake;
     * without one GnuTLS hands out a placeholder that cannot resume. */
    if (rc >= 0 && gnutls_protocol_get_version(s) == GNUTLS_TLS1_3 &&
        !(gnutls_session_get_flags(s) & GNUTLS_SFLAGS_SESSION_TICKET)) {
        gnutls_free(d.data);
        return TLSPLUG_E_UNSUPPORTED;
    }
    if (rc < 0)
        return rc == GNUTLS_E_MEMORY_ERROR ? TLSPLUG_E_NO_MEMORY : TLSPLUG_E_UNSUPPORTED;
    *data = tlsplug__memdup(d.data, d.size);
    *len = d.size;
    gnutls_free(d.data);
    return *data ? TLSPLUG_OK : TLSPLUG_E_NO_MEMORY;
}

/* ---- Backend ---------------------------------------------------------------- */

static pthread_once_t version_once = PTHREAD_ONCE_INIT;
static char version_str[64];

static void version_init(void)
{
    snprintf(version_str, sizeof version_str, "GnuTLS %s", gnutls_check_version(NULL));
}

static const char *gt_version(void)
{
    pthread_once(&version_once, version_init);
    return version_str;
}

static unsigned gt_caps(void)
{
    return TLSPLUG_CAP_TLS12 | TLSPLUG_CAP_TLS13 | TLSPLUG_CAP_SNI | TLSPLUG_CAP_ALPN |
           TLSPLUG_CAP_SESSION_TICKETS | TLSPLUG_CAP_SESSION_CACHE | TLSPLUG_CAP_KEYLOG |
           TLSPLUG_CAP_VERIFY_CALLBACK | TLSPLUG_CAP_CLIENT_CERT | TLSPLUG_CAP_KEY_PASSWORD |
           TLSPLUG_CAP_CHACHA20 | TLSPLUG_CAP_X25519 | TLSPLUG_CAP_ADOPT_CTX |
           TLSPLUG_CAP_SNI_CERTS;
}

const struct tlsplug_backend tlsplug__backend_gnutls = {
    .name = "gnutls",
    .impl = TLSPLUG_IMPL_GNUTLS,
    .version = gt_version,
    .caps = gt_caps,
    .ctx_new = gt_ctx_new,
    .ctx_adopt = gt_ctx_adopt,
    .ctx_free = gt_ctx_free,
    .ctx_native = gt_ctx_native,
    .sess_new = gt_sess_new,
    .sess_free = gt_sess_free,
    .sess_native = gt_sess_native,
    .handshake = gt_handshake,
    .read = gt_read,
    .write = gt_write,
    .shutdown = gt_shutdown,
    .pending = gt_pending,
    .info = gt_info,
    .session_save = gt_session_save,
    .idle = NULL,
};
