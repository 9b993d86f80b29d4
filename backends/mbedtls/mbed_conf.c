/* The portable configuration onto an mbedtls_ssl_config, and the objects it
 * points to (kept in the backend context: mbedTLS stores them by pointer). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/version.h>

#include "mbed_int.h"


static int set_suites_groups(mbed_ctx *bc, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    size_t k = 0;
    for (size_t i = 0; i < cfg->n_suites12; i++) {
        /* mbedTLS ciphersuite ids are the IANA numbers. */
        if (!mbedtls_ssl_ciphersuite_from_id(cfg->suites12[i])) {
            const tlsplug_suite_info *si = tlsplug__suite_by_id(cfg->suites12[i]);
            return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, 0, "mbedTLS (%s) has no cipher suite %s",
                            MBEDTLS_VERSION_STRING, si ? si->name : "?");
        }
        bc->suites[k++] = cfg->suites12[i];
    }
    bc->suites[k] = 0;
    if (k == 0)
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0, "no TLS 1.2 cipher suite configured");
    mbedtls_ssl_conf_ciphersuites(bc->conf, bc->suites);

    /* Exactly the configured groups.  mbedTLS also checks the peer's EC
     * certificate curve against this list; in TLS 1.2 a server may only use
     * an ECDSA certificate on a curve the client offered anyway (RFC 8422),
     * so adding curves behind the user's back would buy nothing but a group
     * list that differs from the other backends. */
    k = 0;
    for (size_t i = 0; i < cfg->n_groups; i++) {
        const mbedtls_ecp_curve_info *ci = mbedtls_ecp_curve_info_from_tls_id(cfg->groups[i]);
        if (!ci) {
            const tlsplug_group_info *gi = tlsplug__group_by_id(cfg->groups[i]);
            return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, 0, "mbedTLS (%s) has no group %s",
                            MBEDTLS_VERSION_STRING, gi ? gi->name : "?");
        }
        bc->curves[k++] = ci->grp_id;
    }
    bc->curves[k] = MBEDTLS_ECP_DP_NONE;
    mbedtls_ssl_conf_curves(bc->conf, bc->curves);

    /* Signature hashes for ServerKeyExchange / CertificateVerify: no SHA-1. */
    bc->hashes[0] = MBEDTLS_MD_SHA512;
    bc->hashes[1] = MBEDTLS_MD_SHA384;
    bc->hashes[2] = MBEDTLS_MD_SHA256;
    bc->hashes[3] = MBEDTLS_MD_NONE;
    mbedtls_ssl_conf_sig_hashes(bc->conf, bc->hashes);
    return TLSPLUG_OK;
}

static int set_versions(mbedtls_ssl_config *conf, const tlsplug_config *cfg,
                        struct tlsplug_error *err)
{
    if (cfg->min_version != TLSPLUG_TLS1_2 || cfg->max_version != TLSPLUG_TLS1_2)
        return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, 0, "mbedTLS (%s) has TLS 1.2 only",
                        MBEDTLS_VERSION_STRING);
    /* The library's default minimum is TLS 1.0. */
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    return TLSPLUG_OK;
}

static int parse_certs(mbedtls_x509_crt *crt, const tlsplug_bytes *pem, int strict,
                       const char *what, struct tlsplug_error *err)
{
    /* PEM input must include the terminating NUL in the length. */
    int ret = mbedtls_x509_crt_parse(crt, pem->data, pem->len + 1);
    if (ret < 0)
        return tlsplug__mbed_err(err, tlsplug__mbed_class(ret, TLSPLUG_E_BAD_CONFIG) ==
                                              TLSPLUG_E_NO_MEMORY
                                          ? TLSPLUG_E_NO_MEMORY
                                          : TLSPLUG_E_BAD_CONFIG,
                                 ret, what);
    /* > 0: that many certificates could not be parsed.  A trust bundle (the
     * system store) may hold some this build cannot read; an own chain may
     * not. */
    if (ret > 0 && (strict || !crt->raw.p))
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0, "%s: %d certificate(s) could not be parsed",
                        what, ret);
    if (!crt->raw.p)
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0, "%s: no certificate found", what);
    return TLSPLUG_OK;
}

/* A chain and its key, checked against each other. */
static int load_pair(mbedtls_x509_crt *chain, mbedtls_pk_context *key, const tlsplug_bytes *cert,
                     const tlsplug_bytes *key_pem, const char *pw, const char *name,
                     struct tlsplug_error *err)
{
    char what[128];
    snprintf(what, sizeof what, "cannot parse the certificate chain%s%s", name ? " for " : "",
             name ? name : "");
    int rc = parse_certs(chain, cert, 1, what, err);
    if (rc)
        return rc;
    const tlsplug_bytes *kp = key_pem->len ? key_pem : cert;
    int ret = mbedtls_pk_parse_key(key, kp->data, kp->len + 1, (const unsigned char *)pw,
                                   pw ? strlen(pw) : 0);
    if (ret == MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE && pw) {
        mbedtls_pk_free(key);
        mbedtls_pk_init(key);
        ret = tlsplug__mbed_parse_pbes2_key(key, kp->data, pw);
    }
    const char *why = NULL;
    int cls = TLSPLUG_E_BAD_CONFIG;
    if (ret != 0) {
        int hi = -((-ret) & 0x7F80);
        if (hi == MBEDTLS_ERR_PK_PASSWORD_MISMATCH)
            why = "cannot decrypt private key: wrong password?";
        else if (hi == MBEDTLS_ERR_PK_PASSWORD_REQUIRED)
            why = "cannot decrypt private key: it is encrypted and no password was given";
        else
            why = "cannot parse the private key";
        if (tlsplug__mbed_class(ret, 0) == TLSPLUG_E_NO_MEMORY)
            cls = TLSPLUG_E_NO_MEMORY;
    } else if ((ret = mbedtls_pk_check_pair(&chain->pk, key)) != 0) {
        why = "the private key does not match the certificate";
    }
    if (!why)
        return TLSPLUG_OK;
    snprintf(what, sizeof what, "%s%s%s", why, name ? " for " : "", name ? name : "");
    return tlsplug__mbed_err(err, cls, ret, what);
}

static int set_own_certs(mbed_ctx *bc, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    int rc;
    if (cfg->cert_pem.len) {
        if ((rc = load_pair(&bc->chain, &bc->key, &cfg->cert_pem, &cfg->key_pem,
                            cfg->key_password, NULL, err)))
            return rc;
        int ret = mbedtls_ssl_conf_own_cert(bc->conf, &bc->chain, &bc->key);
        if (ret != 0)
            return tlsplug__mbed_err(err, tlsplug__mbed_class(ret, TLSPLUG_E_INTERNAL), ret,
                                     "cannot use the certificate");
    }
    /* Served from the SNI callback (mbedtls_ssl_set_hs_own_cert). */
    for (size_t i = 0; i < cfg->n_sni_certs && i < TLSPLUG_MAX_SNI_CERTS; i++) {
        const tlsplug_sni_cert *sc = &cfg->sni_certs[i];
        if ((rc = load_pair(&bc->sni_chain[i], &bc->sni_key[i], &sc->cert_pem, &sc->key_pem,
                            sc->key_password, sc->name, err)))
            return rc;
    }
    return TLSPLUG_OK;
}

static int set_alpn(mbed_ctx *bc, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    if (cfg->n_alpn == 0)
        return TLSPLUG_OK;
    /* The server picks by its own list order (ssl_srv.c walks its list
     * first) and answers no overlap with no_application_protocol. */
    bc->alpn = tlsplug__calloc(cfg->n_alpn + 1, sizeof *bc->alpn);
    if (!bc->alpn)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    for (size_t i = 0; i < cfg->n_alpn; i++)
        bc->alpn[i] = cfg->alpn[i];
    int ret = mbedtls_ssl_conf_alpn_protocols(bc->conf, bc->alpn);
    if (ret != 0)
        return tlsplug__mbed_err(err, TLSPLUG_E_BAD_CONFIG, ret, "cannot set the ALPN protocols");
    return TLSPLUG_OK;
}

static int set_resumption(mbed_ctx *bc, const tlsplug_config *cfg, tlsplug_side side,
                          struct tlsplug_error *err)
{
    mbedtls_ssl_config *conf = bc->conf;
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
    /* Client side: offer tickets; core decides whether to keep sessions.
     * A server only issues them with the callbacks below. */
    mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
#endif
    if (side == TLSPLUG_SIDE_CLIENT)
        return TLSPLUG_OK;
#if MBED_HAVE_TICKETS
    if (cfg->tickets) {
        int ret = mbedtls_ssl_ticket_setup(&bc->ticket, mbedtls_ctr_drbg_random, &bc->drbg,
                                           MBEDTLS_CIPHER_AES_256_GCM, MBED_SESSION_LIFETIME);
        if (ret != 0)
            return tlsplug__mbed_err(err, tlsplug__mbed_class(ret, TLSPLUG_E_INTERNAL), ret,
                                     "cannot set up session tickets");
        mbedtls_ssl_conf_session_tickets_cb(conf, mbedtls_ssl_ticket_write,
                                            mbedtls_ssl_ticket_parse, &bc->ticket);
    }
#endif
#if MBED_HAVE_CACHE
    if (cfg->session_cache) {
        mbedtls_ssl_cache_set_timeout(&bc->cache, MBED_SESSION_LIFETIME);
        mbedtls_ssl_cache_set_max_entries(&bc->cache, MBED_CACHE_ENTRIES);
        mbedtls_ssl_conf_session_cache(conf, &bc->cache, mbedtls_ssl_cache_get,
                                       mbedtls_ssl_cache_set);
    }
#endif
    (void)err;
    return TLSPLUG_OK;
}

int tlsplug__mbed_configure(mbed_ctx *bc, const tlsplug_config *cfg, tlsplug_side side,
                            struct tlsplug_error *err)
{
    mbedtls_ssl_config *conf = bc->conf;
    int rc;
    if ((rc = set_versions(conf, cfg, err)) || (rc = set_suites_groups(bc, cfg, err)))
        return rc;
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
    mbedtls_ssl_conf_legacy_renegotiation(conf, MBEDTLS_SSL_LEGACY_NO_RENEGOTIATION);
    /* The session side maps this back (sess_new) and runs the library in
     * OPTIONAL mode; keeping tlsplug's mode here lets a ctx-configure hook
     * change it. */
    static const int authmode[] = {
        [TLSPLUG_VERIFY_NONE] = MBEDTLS_SSL_VERIFY_NONE,
        [TLSPLUG_VERIFY_OPTIONAL] = MBEDTLS_SSL_VERIFY_OPTIONAL,
        [TLSPLUG_VERIFY_REQUIRED] = MBEDTLS_SSL_VERIFY_REQUIRED,
    };
    mbedtls_ssl_conf_authmode(conf, cfg->verify >= TLSPLUG_VERIFY_NONE &&
                                            cfg->verify <= TLSPLUG_VERIFY_REQUIRED
                                        ? authmode[cfg->verify]
                                        : MBEDTLS_SSL_VERIFY_REQUIRED);
    /* Like OpenSSL's default: no CA name list in CertificateRequest (a
     * system store would make it huge; no client here filters by it). */
    mbedtls_ssl_conf_cert_req_ca_list(conf, MBEDTLS_SSL_CERT_REQ_CA_LIST_DISABLED);
    if (cfg->trust_pem.len) {
        if ((rc = parse_certs(&bc->trust, &cfg->trust_pem, 0, "cannot parse the trust anchors",
                              err)))
            return rc;
        mbedtls_ssl_conf_ca_chain(conf, &bc->trust, NULL);
    }
    if ((rc = set_own_certs(bc, cfg, err)) || (rc = set_alpn(bc, cfg, err)) ||
        (rc = set_resumption(bc, cfg, side, err)))
        return rc;
    return TLSPLUG_OK;
}
