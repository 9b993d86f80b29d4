/*
 * The wolfSSL 5.5 backend, on the native wolfSSL_* API.
 *
 * The Debian build is permissive by default (ADH, RC4, 3DES, NULL, PSK and
 * TLS 1.1 offered; a VERIFY_PEER client finishes an ADH handshake without a
 * certificate), so every context gets an explicit suite list from the
 * configuration and clients never run without a peer certificate.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backends/wolfssl/wolfssl_int.h"

/* ---- One-time init and static facts ------------------------------------ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static char version_str[64];

static void init_library(void)
{
    wolfSSL_Init();
    snprintf(version_str, sizeof version_str, "wolfSSL %s", wolfSSL_lib_version());
}

static const char *wolf_version(void)
{
    pthread_once(&init_once, init_library);
    return version_str;
}

static unsigned wolf_caps(void)
{
    /* No KEYLOG: the Debian build has no secret callback (HAVE_SECRET_CALLBACK
     * is off), so a keylog configuration fails in core with UNSUPPORTED. */
    unsigned caps = TLSPLUG_CAP_TLS12 | TLSPLUG_CAP_SNI | TLSPLUG_CAP_ALPN |
                    TLSPLUG_CAP_SESSION_TICKETS | TLSPLUG_CAP_SESSION_CACHE |
                    TLSPLUG_CAP_VERIFY_CALLBACK | TLSPLUG_CAP_CLIENT_CERT |
                    TLSPLUG_CAP_KEY_PASSWORD | TLSPLUG_CAP_ADOPT_CTX;
    if (wolfSSL_get_cipher_name_from_suite(0x13, 0x01) &&
        strcmp(wolfSSL_get_cipher_name_from_suite(0x13, 0x01), "None") != 0)
        caps |= TLSPLUG_CAP_TLS13;
    const char *chacha = wolfSSL_get_cipher_name_from_suite(0xCC, 0xA9);
    if (chacha && strcmp(chacha, "None") != 0)
        caps |= TLSPLUG_CAP_CHACHA20;
    /* X25519 is a compile-time fact of the build, visible in the headers. */
#ifdef HAVE_CURVE25519
    caps |= TLSPLUG_CAP_X25519;
#endif
    return caps;
}

/* ---- Groups ------------------------------------------------------------ */

/* IANA id (= WOLFSSL_ECC_*) and the names set1_curves_list takes;
 * get_curve_name reports the long names. */
static const struct {
    uint16_t id;
    const char *list_name;
    const char *curve_name;
} groups[] = {
    {WOLFSSL_ECC_X25519, "X25519", "X25519"},
    {WOLFSSL_ECC_SECP256R1, "P-256", "SECP256R1"},
    {WOLFSSL_ECC_SECP384R1, "P-384", "SECP384R1"},
    {WOLFSSL_ECC_SECP521R1, "P-521", "SECP521R1"},
    {WOLFSSL_ECC_X448, "X448", "X448"},
};

static int group_index(uint16_t id)
{
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (groups[i].id == id)
            return (int)i;
    return -1;
}

const char *tlsplug__wolf_group_name(uint16_t id)
{
    int k = group_index(id);
    return k < 0 ? NULL : groups[k].list_name;
}

static uint16_t group_id_from_wolf(const char *name)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (strcmp(groups[i].curve_name, name) == 0 || strcmp(groups[i].list_name, name) == 0)
            return groups[i].id;
    return 0;
}

static int group_configured(const tlsplug_config *cfg, uint16_t id)
{
    for (size_t i = 0; i < cfg->n_groups; i++)
        if (cfg->groups[i] == id)
            return 1;
    return 0;
}

/* ---- Context ----------------------------------------------------------- */

static int password_cb(char *buf, int size, int rw, void *userdata)
{
    const char *pw = userdata;
    if (!pw || size <= 0)
        return 0;
    size_t n = strlen(pw);
    if (n > (size_t)size)
        n = (size_t)size;
    memcpy(buf, pw, n);
    return (int)n;
}

static int pem_is_encrypted_key(const tlsplug_bytes *b)
{
    return b->len && (strstr((const char *)b->data, "ENCRYPTED PRIVATE KEY") ||
                      strstr((const char *)b->data, "Proc-Type: 4,ENCRYPTED"));
}

static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store);

/* wolfSSL's own server match takes the client's first protocol it knows;
 * tlsplug servers pick by their own order.  No overlap: decline, and the
 * list set with WOLFSSL_ALPN_FAILED_ON_MISMATCH fails the handshake with
 * no_application_protocol. */
static int alpn_select(WOLFSSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    return tlsplug__alpn_pick(arg, in, inlen, out, outlen) == 0 ? 0 : noack_return;
}

static int load_cert_and_key(WOLFSSL_CTX *ctx, const tlsplug_config *cfg,
                             struct tlsplug_error *err)
{
    int r = wolfSSL_CTX_use_certificate_chain_buffer_format(
        ctx, cfg->cert_pem.data, (long)cfg->cert_pem.len, WOLFSSL_FILETYPE_PEM);
    if (r != WOLFSSL_SUCCESS)
        return tlsplug__wolf_err(err, TLSPLUG_E_BAD_CONFIG, r,
                                 "cannot parse the certificate chain");

    const tlsplug_bytes *key = cfg->key_pem.len ? &cfg->key_pem : &cfg->cert_pem;
    /* The callback is only needed while the key is decrypted; clearing it
     * afterwards keeps the password out of reach of a ctx-configure hook. */
    wolfSSL_CTX_set_default_passwd_cb(ctx, password_cb);
    wolfSSL_CTX_set_default_passwd_cb_userdata(ctx, cfg->key_password);
    r = wolfSSL_CTX_use_PrivateKey_buffer(ctx, key->data, (long)key->len, WOLFSSL_FILETYPE_PEM);
    wolfSSL_CTX_set_default_passwd_cb(ctx, NULL);
    wolfSSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    if (r != WOLFSSL_SUCCESS) {
        if (pem_is_encrypted_key(key))
            return tlsplug__wolf_err(err, TLSPLUG_E_BAD_CONFIG, r,
                                     cfg->key_password
                                         ? "cannot decrypt private key: wrong password?"
                                         : "cannot decrypt private key: no password given");
        return tlsplug__wolf_err(err, TLSPLUG_E_BAD_CONFIG, r, "cannot parse the private key");
    }
    r = wolfSSL_CTX_check_private_key(ctx);
    int m = r == WOLFSSL_SUCCESS ? tlsplug__wolf_ecc_key_matches(&cfg->cert_pem, key,
                                                                 cfg->key_password)
                                 : 0;
    if (m == -3)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0,
                                "out of memory checking the private key");
    if (m == 0)
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, r,
                                "private key does not match the certificate");
    return TLSPLUG_OK;
}

/* Suites as the two IANA bytes, TLS 1.3 first: wolfSSL only considers the
 * suites of the version being negotiated, so the order between the two
 * lists does not matter, only within each. */
static int set_suites(WOLFSSL_CTX *ctx, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    unsigned char list[4 * TLSPLUG_MAX_SUITES];
    int n = 0;
    if (cfg->max_version >= TLSPLUG_TLS1_3)
        for (size_t i = 0; i < cfg->n_suites13; i++) {
            list[n++] = (unsigned char)(cfg->suites13[i] >> 8);
            list[n++] = (unsigned char)(cfg->suites13[i] & 0xff);
        }
    if (cfg->min_version <= TLSPLUG_TLS1_2)
        for (size_t i = 0; i < cfg->n_suites12; i++) {
            list[n++] = (unsigned char)(cfg->suites12[i] >> 8);
            list[n++] = (unsigned char)(cfg->suites12[i] & 0xff);
        }
    if (n == 0)
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0,
                                "no cipher suite for the configured versions");
    int r = wolfSSL_CTX_set_cipher_list_bytes(ctx, list, n);
    if (r != WOLFSSL_SUCCESS)
        return tlsplug__wolf_err(err, TLSPLUG_E_BAD_CONFIG, r, "cannot set the cipher suites");
    return TLSPLUG_OK;
}

static int set_groups(WOLFSSL_CTX *ctx, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    /* Three settings for one list.  set1_curves_list disables every other
     * curve: without it a TLS 1.2 server replaces its own list with the
     * client's and accepts any curve the build has.  set_groups gives the
     * TLS 1.3 order and the first key share (it fails on a 1.2-only
     * context).  UseSupportedCurve, in order, gives the TLS 1.2
     * supported_groups extension. */
    char list[TLSPLUG_MAX_GROUPS * 8] = "";
    int ids[TLSPLUG_MAX_GROUPS];
    for (size_t i = 0; i < cfg->n_groups; i++) {
        int k = group_index(cfg->groups[i]);
        if (k < 0)
            return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, 0,
                                    "wolfSSL backend: group %u is not supported",
                                    (unsigned)cfg->groups[i]);
        if (i)
            strcat(list, ":");
        strcat(list, groups[k].list_name);
        ids[i] = cfg->groups[i];
    }
    int r = wolfSSL_CTX_set1_curves_list(ctx, list);
    if (r != WOLFSSL_SUCCESS)
        return tlsplug__wolf_err(err, TLSPLUG_E_UNSUPPORTED, r, "cannot set the groups");
    if (cfg->max_version >= TLSPLUG_TLS1_3) {
        r = wolfSSL_CTX_set_groups(ctx, ids, (int)cfg->n_groups);
        if (r != WOLFSSL_SUCCESS)
            return tlsplug__wolf_err(err, TLSPLUG_E_UNSUPPORTED, r, "cannot set the groups");
    }
    for (size_t i = 0; i < cfg->n_groups; i++) {
        r = wolfSSL_CTX_UseSupportedCurve(ctx, cfg->groups[i]);
        if (r != WOLFSSL_SUCCESS)
            return tlsplug__wolf_err(err, TLSPLUG_E_UNSUPPORTED, r, "cannot set a group");
    }
    return TLSPLUG_OK;
}

static int set_versions(WOLFSSL_CTX *ctx, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    int r = wolfSSL_CTX_SetMinVersion(
        ctx, cfg->min_version >= TLSPLUG_TLS1_3 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2);
    if (r != WOLFSSL_SUCCESS)
        return tlsplug__wolf_err(err, TLSPLUG_E_BAD_CONFIG, r, "cannot set the minimum version");
    /* NO_TLSv1_3 rather than a TLS 1.2 method or set_max_proto_version: the
     * server then still reads supported_versions and refuses a 1.3-only
     * client with protocol_version instead of a suite mismatch. */
    if (cfg->max_version < TLSPLUG_TLS1_3)
        wolfSSL_CTX_set_options(ctx, WOLFSSL_OP_NO_TLSv1_3);
    return TLSPLUG_OK;
}

/* Resumption: the TLS 1.3 server sends a ticket and keeps a session cache
 * by default; both go unless configured.  In TLS 1.3 a ticket is the only
 * way to resume, so the cache alone still issues tickets there. */
static int set_resumption(struct wctx *wc, const tlsplug_config *cfg, tlsplug_side side,
                          struct tlsplug_error *err)
{
    WOLFSSL_CTX *ctx = wc->ctx;
    if (side == TLSPLUG_SIDE_CLIENT) {
        /* The client resumes only what core hands it (session_save).  A
         * wolfSSL client sends no session_ticket extension unless told to,
         * so a TLS 1.2 server would issue no ticket; the OpenSSL and GnuTLS
         * clients offer it by default.  Only asked for when core keeps
         * sessions for this context, as there is no use for one otherwise. */
        wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
        if ((cfg->tickets || cfg->session_cache) &&
            wolfSSL_CTX_UseSessionTicket(ctx) != WOLFSSL_SUCCESS)
            return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0,
                                    "cannot ask for session tickets");
        return TLSPLUG_OK;
    }
    if (!cfg->tickets)
        wolfSSL_CTX_NoTicketTLSv12(ctx);
    if (!cfg->tickets && !cfg->session_cache)
        wolfSSL_CTX_no_ticket_TLSv13(ctx);
    if (!cfg->session_cache) {
        wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
        return TLSPLUG_OK;
    }
    wc->cache = tlsplug__wolf_cache_new(ctx);
    if (!wc->cache)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    return TLSPLUG_OK;
}

static int set_verify(WOLFSSL_CTX *ctx, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    if (cfg->trust_pem.len) {
        /* The system bundle may hold certificates wolfSSL cannot parse; skip
         * those rather than refusing the whole store. */
        int r = wolfSSL_CTX_load_verify_buffer_ex(
            ctx, cfg->trust_pem.data, (long)cfg->trust_pem.len, WOLFSSL_FILETYPE_PEM, 0,
            cfg->trust_system ? WOLFSSL_LOAD_FLAG_IGNORE_ERR : WOLFSSL_LOAD_FLAG_NONE);
        if (r != WOLFSSL_SUCCESS)
            return tlsplug__wolf_err(err, TLSPLUG_E_BAD_CONFIG, r,
                                     "cannot load the trusted certificates");
    }
    int mode;
    switch (cfg->verify) {
    case TLSPLUG_VERIFY_NONE:
        mode = WOLFSSL_VERIFY_NONE;
        break;
    case TLSPLUG_VERIFY_OPTIONAL:
        mode = WOLFSSL_VERIFY_PEER;
        break;
    default:
        /* A client always gets a certificate from the server (no anonymous
         * suites in the list); the flag matters for servers. */
        mode = WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        break;
    }
    wolfSSL_CTX_set_verify(ctx, mode, mode == WOLFSSL_VERIFY_NONE ? NULL : verify_cb);
    return TLSPLUG_OK;
}

static int wolf_ctx_new(const tlsplug_config *cfg, tlsplug_side side, void **bctx,
                        struct tlsplug_error *err)
{
    pthread_once(&init_once, init_library);
    WOLFSSL_METHOD *method = side == TLSPLUG_SIDE_CLIENT   ? wolfSSLv23_client_method()
                             : side == TLSPLUG_SIDE_SERVER ? wolfSSLv23_server_method()
                                                           : wolfSSLv23_method();
    if (!method)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "wolfSSL method allocation failed");
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(method);
    if (!ctx)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "wolfSSL_CTX_new failed");

    struct wctx *wc = tlsplug__calloc(1, sizeof *wc);
    if (!wc) {
        wolfSSL_CTX_free(ctx);
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    }
    wc->ctx = ctx;
    wc->cfg = cfg;
    wc->side = side;
    /* Without it (OOM) a session offered is decoded every time. */
    if (side != TLSPLUG_SIDE_SERVER)
        wc->resume = tlsplug__wolf_resume_new();

    int r = set_versions(ctx, cfg, err);
    if (r == TLSPLUG_OK)
        r = set_suites(ctx, cfg, err);
    if (r == TLSPLUG_OK)
        r = set_groups(ctx, cfg, err);
    if (r == TLSPLUG_OK && cfg->cert_pem.len) {
        r = load_cert_and_key(ctx, cfg, err);
        wc->cert_group = tlsplug__wolf_cert_group(&cfg->cert_pem);
    }
    if (r == TLSPLUG_OK)
        r = set_verify(ctx, cfg, err);
    if (r == TLSPLUG_OK)
        r = set_resumption(wc, cfg, side, err);
    if (r == TLSPLUG_OK && side != TLSPLUG_SIDE_CLIENT && cfg->n_alpn)
        wolfSSL_CTX_set_alpn_select_cb(ctx, alpn_select, (void *)cfg);
    if (r == TLSPLUG_OK) {
        /* Renegotiation needs HAVE_SECURE_RENEGOTIATION, which this build
         * lacks: nothing to turn off there. */
        wolfSSL_CTX_set_options(ctx, WOLFSSL_OP_CIPHER_SERVER_PREFERENCE |
                                         WOLFSSL_OP_NO_COMPRESSION);
        *bctx = wc;
        return TLSPLUG_OK;
    }
    wolfSSL_CTX_free(ctx);
    tlsplug__wolf_cache_free(wc->cache);
    tlsplug__wolf_resume_free(wc->resume);
    tlsplug__free(wc);
    return r;
}

static int wolf_ctx_adopt(void *native, tlsplug_side side, const char *priority,
                          const tlsplug_config *cfg, void **bctx, struct tlsplug_error *err)
{
    pthread_once(&init_once, init_library);
    if (!native)
        return tlsplug__err_set(err, TLSPLUG_E_INVALID_ARGUMENT, 0, "no WOLFSSL_CTX to adopt");
    struct wctx *wc = tlsplug__calloc(1, sizeof *wc);
    if (!wc)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    wc->ctx = native;
    wc->cfg = cfg;
    wc->side = side;
    wc->adopted = 1;
    if (side != TLSPLUG_SIDE_SERVER)
        wc->resume = tlsplug__wolf_resume_new();
    *bctx = wc;
    return TLSPLUG_OK;
}

static void wolf_ctx_free(void *bctx)
{
    struct wctx *wc = bctx;
    if (!wc)
        return;
    wolfSSL_CTX_free(wc->ctx);
    tlsplug__wolf_cache_free(wc->cache);
    tlsplug__wolf_resume_free(wc->resume);
    tlsplug__free(wc);
}

static void *wolf_ctx_native(void *bctx)
{
    return ((struct wctx *)bctx)->ctx;
}

/* ---- Verification ------------------------------------------------------ */

/* wolfSSL keeps at most MAX_CHAIN_DEPTH (9) certificates plus the leaf. */
#define MAX_PEER_CHAIN 16

/* wolfSSL_check_domain_name would also accept an IP literal written in a DNS
 * SAN or the CN; tlsplug matches IP literals against IP SANs only. */
static int leaf_has_ip(const unsigned char *der, unsigned len, const char *ip)
{
    unsigned char want[16];
    int want_len;
    if (inet_pton(AF_INET, ip, want) == 1)
        want_len = 4;
    else if (inet_pton(AF_INET6, ip, want) == 1)
        want_len = 16;
    else
        return 0;
    DecodedCert *dc = tlsplug__malloc(sizeof *dc);
    if (!dc)
        return 0;
    int found = 0;
    wc_InitDecodedCert(dc, der, len, NULL);
    if (wc_ParseCert(dc, CERT_TYPE, NO_VERIFY, NULL) == 0)
        for (DNS_entry *a = dc->altNames; a && !found; a = a->next)
            found = a->type == ASN_IP_TYPE && a->len == want_len &&
                    memcmp(a->name, want, (size_t)want_len) == 0;
    wc_FreeDecodedCert(dc);
    tlsplug__free(dc);
    return found;
}

static int decide(struct wsess *s, WOLFSSL_X509_STORE_CTX *store)
{
    const uint8_t *der[MAX_PEER_CHAIN];
    size_t len[MAX_PEER_CHAIN];
    size_t n = 0;
    for (int i = 0; i < store->totalCerts && n < MAX_PEER_CHAIN; i++, n++) {
        der[n] = store->certs[i].buffer;
        len[n] = store->certs[i].length;
    }
    int verdict = tlsplug__wolf_cert_class(s->chain_err);
    if (verdict == TLSPLUG_OK && s->ip_name && n > 0 &&
        !leaf_has_ip(der[0], (unsigned)len[0], s->ip_name))
        verdict = TLSPLUG_E_CERT_HOSTNAME;
    s->verify_result = tlsplug__verify(s->conn, verdict, der, len, n);
    s->verify_done = 1;
    s->peer_verified = s->verify_result == TLSPLUG_OK && verdict == TLSPLUG_OK;
    return s->verify_result == TLSPLUG_OK;
}

/* With this build (WOLFSSL_VERIFY_CB_ALL_CERTS, ALWAYS_VERIFY_CB) the
 * callback runs for every certificate, top of the chain first, leaf last
 * (error_depth 0), also when it verified.  The decision is taken at the
 * leaf, or at the first failing certificate above it: accepting a failed
 * intermediate would make wolfSSL add it to the context's trusted CAs, so
 * such a chain is decided (and normally refused) right there. */
static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    struct wsess *s = store ? store->userCtx : NULL;
    if (!s)
        return preverify;
    if (s->verify_done)
        return s->verify_result == TLSPLUG_OK;
    if (store->totalCerts <= 0)
        return preverify; /* no certificate: FAIL_IF_NO_PEER_CERT decides */
    /* A failure without a reason (error 0) counts as CERT_INVALID. */
    if (!preverify && !s->chain_err)
        s->chain_err = store->error ? store->error : WOLFSSL_FATAL_ERROR;
    if (store->error_depth > 0 && preverify)
        return 1;
    return decide(s, store);
}

/* ---- Session ----------------------------------------------------------- */

/* A saved session is wolfSSL's i2d form after a small header of ours: a
 * magic pair, the version and the group of the handshake that made it. */
#define SESSION_HEADER 6
#define SESSION_MAGIC0 'w'
#define SESSION_MAGIC1 '2'

static char *alpn_csv(const tlsplug_config *cfg)
{
    size_t total = 0;
    for (size_t i = 0; i < cfg->n_alpn; i++)
        total += strlen(cfg->alpn[i]) + 1;
    char *csv = tlsplug__malloc(total ? total : 1);
    if (!csv)
        return NULL;
    size_t off = 0;
    for (size_t i = 0; i < cfg->n_alpn; i++) {
        size_t l = strlen(cfg->alpn[i]);
        if (i)
            csv[off++] = ',';
        memcpy(csv + off, cfg->alpn[i], l);
        off += l;
    }
    csv[off] = '\0';
    return csv;
}

static void wolf_sess_free(void *bsess)
{
    struct wsess *s = bsess;
    if (!s)
        return;
    if (s->ssl)
        wolfSSL_free(s->ssl);
    /* Only now is nothing left that could change the session kept. */
    tlsplug__wolf_resume_release(s->wc->resume, s);
    tlsplug__free(s->alpn_csv);
    tlsplug__free(s->sni);
    tlsplug__free(s->ip_name);
    tlsplug__free(s->first);
    tlsplug__free(s->out);
    tlsplug__free(s->ticket12);
    tlsplug__free(s);
}

static int apply_alpn(struct wsess *s, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    if (!cfg || cfg->n_alpn == 0)
        return TLSPLUG_OK;
    for (size_t i = 0; i < cfg->n_alpn; i++)
        if (strchr(cfg->alpn[i], ','))
            return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, 0,
                                    "wolfSSL cannot use an ALPN protocol containing ','");
    s->alpn_csv = alpn_csv(cfg);
    if (!s->alpn_csv)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    /* The server takes the first of its own protocols the client offered and
     * refuses the handshake when there is none (alert 120); the client just
     * offers. */
    unsigned char opt = s->side == TLSPLUG_SIDE_SERVER ? WOLFSSL_ALPN_FAILED_ON_MISMATCH
                                                       : WOLFSSL_ALPN_CONTINUE_ON_MISMATCH;
    int r = wolfSSL_UseALPN(s->ssl, s->alpn_csv, (unsigned)strlen(s->alpn_csv), opt);
    if (r != WOLFSSL_SUCCESS)
        return tlsplug__wolf_err(err, TLSPLUG_E_BAD_CONFIG, r, "cannot set ALPN");
    return TLSPLUG_OK;
}

/* wolfSSL calls this for every ticket the server sends (SetTicket: TLS 1.2
 * and 1.3), after storing it in the session; its result is not used. */
static int ticket_arrived(WOLFSSL *ssl, const unsigned char *ticket, int len, void *arg)
{
    (void)ssl;
    (void)ticket;
    (void)len;
    ((struct wsess *)arg)->ticket_seen = 1;
    return 0;
}

static int apply_client_params(struct wsess *s, const tlsplug_sess_params *p,
                               struct tlsplug_error *err)
{
    int r;
    /* See wolf_session_save.  An ssl-configure hook that sets its own
     * callback only costs TLS 1.3 resumption, never a refused handshake. */
    wolfSSL_set_SessionTicket_cb(s->ssl, ticket_arrived, s);
    if (p->sni) {
        s->sni = tlsplug__strdup(p->sni);
        if (!s->sni)
            return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
        r = wolfSSL_UseSNI(s->ssl, WOLFSSL_SNI_HOST_NAME, p->sni, (unsigned short)strlen(p->sni));
        if (r != WOLFSSL_SUCCESS)
            return tlsplug__wolf_err(err, TLSPLUG_E_BAD_CONFIG, r, "cannot set SNI");
    }
    if (p->verify_name) {
        /* An adopted context has no tlsplug verify callback to do the strict
         * IP check in: wolfSSL's own check is all there is.  The name sent
         * as SNI is never an IP literal (core's promise), so the usual case
         * of checking that name needs no parse. */
        int is_sni = p->sni && strcmp(p->verify_name, p->sni) == 0;
        if (!is_sni && tlsplug__is_ip_literal(p->verify_name) && !s->wc->adopted) {
            s->ip_name = tlsplug__strdup(p->verify_name);
            if (!s->ip_name)
                return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
        } else {
            r = wolfSSL_check_domain_name(s->ssl, p->verify_name);
            if (r != WOLFSSL_SUCCESS)
                return tlsplug__wolf_err(err, TLSPLUG_E_BAD_CONFIG, r,
                                         "cannot set the name to verify");
        }
    }
    /* A wolfSSL client resuming a session offers only that session's
     * version (a TLS 1.2 session: a TLS 1.2-only ClientHello) and fails
     * when the server answers with another one.  A session of our highest
     * version is what the server chose last time we offered everything;
     * an older one would pin us below what we could get, so it is not
     * offered. */
    if (p->session && p->session_len > SESSION_HEADER && p->session_len <= LONG_MAX &&
        p->session[0] == SESSION_MAGIC0 && p->session[1] == SESSION_MAGIC1 &&
        (p->session[2] << 8 | p->session[3]) == s->wc->cfg->max_version) {
        s->session_group = (uint16_t)(p->session[4] << 8 | p->session[5]);
        const unsigned char *q = p->session + SESSION_HEADER;
        long der_len = (long)(p->session_len - SESSION_HEADER);
        WOLFSSL_SESSION *sess = tlsplug__wolf_resume_find(s->wc->resume, q, (size_t)der_len);
        if (!sess)
            sess = wolfSSL_d2i_SSL_SESSION(NULL, &q, der_len);
        /* A stale or foreign session just means a full handshake. */
        if (sess) {
            /* See tlsplug__wolf_ticket12_withdraw. */
            if (wolfSSL_set_session(s->ssl, sess) == WOLFSSL_SUCCESS &&
                s->wc->cfg->max_version == TLSPLUG_TLS1_2 && wolfSSL_SESSION_has_ticket(sess))
                s->ticket12_state = WOLF_T12_ARMED;
            wolfSSL_SESSION_free(sess);
        }
    }
    return TLSPLUG_OK;
}

static int wolf_sess_new(void *bctx, tlsplug_conn *conn, const tlsplug_sess_params *p,
                         void **bsess, struct tlsplug_error *err)
{
    struct wctx *wc = bctx;
    struct wsess *s = tlsplug__calloc(1, sizeof *s);
    if (!s)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "out of memory");
    s->wc = wc;
    s->conn = conn;
    s->side = p->side;
    s->plain_alert = -1;
    s->ssl = wolfSSL_new(wc->ctx);
    if (!s->ssl) {
        tlsplug__free(s);
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "wolfSSL_new failed");
    }
    int ctx_side = wolfSSL_GetSide(s->ssl);
    int want = p->side == TLSPLUG_SIDE_CLIENT ? WOLFSSL_CLIENT_END : WOLFSSL_SERVER_END;
    if (ctx_side == WOLFSSL_NEITHER_END) {
        if (p->side == TLSPLUG_SIDE_CLIENT)
            wolfSSL_set_connect_state(s->ssl);
        else
            wolfSSL_set_accept_state(s->ssl);
    } else if (ctx_side != want) {
        wolf_sess_free(s);
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0,
                                "the adopted WOLFSSL_CTX was made for the other side");
    }

    wolfSSL_SSLSetIORecv(s->ssl, tlsplug__wolf_io_recv);
    wolfSSL_SSLSetIOSend(s->ssl, tlsplug__wolf_io_send);
    wolfSSL_SetIOReadCtx(s->ssl, s);
    wolfSSL_SetIOWriteCtx(s->ssl, s);
    /* An adopted context may have its own verify callback and context. */
    if (!wc->adopted)
        wolfSSL_SetCertCbCtx(s->ssl, s);

    int r = TLSPLUG_OK;
    if (!wc->adopted)
        r = apply_alpn(s, wc->cfg, err);
    if (r == TLSPLUG_OK && p->side == TLSPLUG_SIDE_CLIENT)
        r = apply_client_params(s, p, err);
    if (r != TLSPLUG_OK) {
        wolf_sess_free(s);
        return r;
    }
    *bsess = s;
    return TLSPLUG_OK;
}

static void *wolf_sess_native(void *bsess)
{
    return ((struct wsess *)bsess)->ssl;
}

/* ---- Steps ------------------------------------------------------------- */

#define MAX_WRITE 16384

/* Core's class for a failed flush (WANT_WRITE passes through). */
static int flush_error(struct wsess *s, int r)
{
    if (r == TLSPLUG_OK || r == TLSPLUG_WANT_WRITE)
        return r;
    return tlsplug__err_set(tlsplug__conn_err(s->conn), r, 0, "cannot queue TLS output: %s",
                            tlsplug_error_name(r));
}

/* Turn a failed wolfSSL call into a step result. */
static int step_error(struct wsess *s, int ret, const char *what)
{
    int e = wolfSSL_get_error(s->ssl, ret);
    /* Whatever wolfSSL queued (an alert) goes out if core can take it. */
    (void)tlsplug__wolf_flush(s);
    if (e == WOLFSSL_ERROR_WANT_READ)
        /* The peer may be waiting for what is still held back. */
        return s->out_len ? TLSPLUG_WANT_WRITE : TLSPLUG_WANT_READ;
    if (e == WOLFSSL_ERROR_WANT_WRITE)
        return TLSPLUG_WANT_WRITE;
    struct tlsplug_error *err = tlsplug__conn_err(s->conn);
    if (e == WOLFSSL_ERROR_ZERO_RETURN || e == ZERO_RETURN)
        return tlsplug__err_set(err, TLSPLUG_E_CLOSED, 0, "the peer sent close_notify");
    WOLFSSL_ALERT_HISTORY h;
    memset(&h, 0, sizeof h);
    int have_alerts = wolfSSL_get_alert_history(s->ssl, &h) == WOLFSSL_SUCCESS;
    if (e == FATAL_ERROR && have_alerts && h.last_rx.code >= 0)
        return tlsplug__peer_alert(s->conn, h.last_rx.code, e);
    int alert = tlsplug__wolf_plain_alert(s);
    if (alert >= 0)
        return tlsplug__peer_alert(s->conn, alert, e);
    int cls = tlsplug__wolf_class(e);
    /* NO_PEER_CERT only exists for servers; a client without a server
     * certificate is a broken server (or an anonymous suite). */
    if (cls == TLSPLUG_E_CERT_REQUIRED && s->side == TLSPLUG_SIDE_CLIENT)
        cls = TLSPLUG_E_HANDSHAKE;
    if (s->hello_state == 2) {
        int version = s->refused == WOLF_REFUSE_VERSION;
        tlsplug__err_set(err, version ? TLSPLUG_E_PROTOCOL_VERSION : TLSPLUG_E_NO_SHARED_CIPHER,
                         e, "TLS handshake failed: %s",
                         version ? "no protocol version in common with the client"
                         : s->refused == WOLF_REFUSE_GROUP
                             ? "no group in common with the client"
                             : "the client does not take the curve of our ECDSA certificate");
        err->alert = version ? 70 : 40;
        return err->cls;
    }
    if (s->reneg_seen) {
        tlsplug__err_set(err, TLSPLUG_E_HANDSHAKE, e,
                         "the peer asked to renegotiate: refused (wolfSSL %d)", e);
        return TLSPLUG_E_HANDSHAKE;
    }
    /* wolfSSL reports a TLS 1.3 suite mismatch as VERSION_ERROR; that the
     * versions overlap was checked before wolfSSL saw the ClientHello. */
    if (s->hello_parsed && cls == TLSPLUG_E_PROTOCOL_VERSION)
        cls = TLSPLUG_E_NO_SHARED_CIPHER;
    int sent_fatal = have_alerts && h.last_tx.code > 0 && h.last_tx.level == alert_fatal;
    if (e == NO_PEER_CERT && !sent_fatal && s->side == TLSPLUG_SIDE_SERVER &&
        wolfSSL_version(s->ssl) == TLSPLUG_TLS1_2) {
        /* The TLS 1.2 wolfSSL server refuses a missing client certificate
         * without a word, and the client would wait for ever.  It has not
         * sent its ChangeCipherSpec yet, so handshake_failure, as other
         * servers send it, goes as a plaintext record. */
        tlsplug__wolf_plain_alert_send(s, 40);
        h.last_tx.code = 40;
        sent_fatal = 1;
    }
    if (e == BAD_BINDER && !sent_fatal && s->side == TLSPLUG_SIDE_SERVER) {
        /* wolfSSL 5.5 refuses a TLS 1.3 PSK binder that does not verify
         * (DoPreSharedKeys) without an alert, and the client would wait for
         * ever.  The ClientHello is still being answered, so nothing is
         * encrypted yet.  illegal_parameter is what OpenSSL 3.0 and GnuTLS
         * 3.7 servers send there (and later wolfSSL, TranslateErrorToAlert),
         * although RFC 8446 6.2 names decrypt_error. */
        tlsplug__wolf_plain_alert_send(s, 47);
        h.last_tx.code = 47;
        sent_fatal = 1;
    }
    tlsplug__wolf_err(err, cls, e, what);
    if (sent_fatal)
        err->alert = h.last_tx.code;
    return cls;
}

static int wolf_handshake(void *bsess)
{
    struct wsess *s = bsess;
    int f = tlsplug__wolf_flush(s);
    if (f != TLSPLUG_OK)
        return flush_error(s, f);
    if (s->hs_done)
        return TLSPLUG_OK;
    /* The server reads its first record itself (wolfSSL gets it later from
     * io_recv) to apply server_hello_policy outside any wolfSSL callback. */
    if (s->side == TLSPLUG_SIDE_SERVER && s->hello_state == 0) {
        int pr = tlsplug__wolf_prefetch_hello(s);
        if (pr == TLSPLUG_WANT_READ)
            return TLSPLUG_WANT_READ;
        if (pr == TLSPLUG_E_NO_MEMORY)
            return tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_NO_MEMORY, 0,
                                    "out of memory for the first record");
    }
    int r = s->side == TLSPLUG_SIDE_CLIENT ? wolfSSL_connect(s->ssl) : wolfSSL_accept(s->ssl);
    /* No ServerHello can have come in the call that sent the ClientHello. */
    if (s->ticket12_state == WOLF_T12_ARMED && tlsplug__wolf_ticket12_withdraw(s) != TLSPLUG_OK)
        return tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_NO_MEMORY, 0,
                                "out of memory");
    if (r != WOLFSSL_SUCCESS)
        return step_error(s, r, "TLS handshake failed");
    s->hs_done = 1;
    /* Belt and braces against the anonymous-suite trap: a verifying client
     * that finished without seeing (and deciding on) a certificate fails,
     * unless the session was resumed from one that was verified. */
    if (s->side == TLSPLUG_SIDE_CLIENT && !s->wc->adopted &&
        s->wc->cfg->verify != TLSPLUG_VERIFY_NONE && !s->verify_done &&
        !wolfSSL_session_reused(s->ssl))
        return tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_CERT_REQUIRED, 0,
                                "the server sent no certificate");
    /* A TLS 1.2 wolfSSL client takes whatever curve the server picks, also
     * one it never offered (a wolfSSL server falls back to P-256). */
    if (s->side == TLSPLUG_SIDE_CLIENT && !s->wc->adopted && !wolfSSL_session_reused(s->ssl) &&
        wolfSSL_version(s->ssl) == TLSPLUG_TLS1_2) {
        const char *name = wolfSSL_get_curve_name(s->ssl);
        if (name && !group_configured(s->wc->cfg, group_id_from_wolf(name)))
            return tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_NO_SHARED_CIPHER, 0,
                                    "the server chose group %s, which was not offered", name);
    }
    /* Complete only once the last flight is with core. */
    return flush_error(s, tlsplug__wolf_flush(s));
}

static int wolf_read(void *bsess, void *buf, size_t cap, size_t *n)
{
    struct wsess *s = bsess;
    *n = 0;
    /* Held-back output does not stop reading; it goes when it can. */
    (void)tlsplug__wolf_flush(s);
    int r = wolfSSL_read(s->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    if (r > 0) {
        *n = (size_t)r;
        (void)tlsplug__wolf_flush(s);
        return TLSPLUG_OK;
    }
    return step_error(s, r, "TLS read failed");
}

static int wolf_write(void *bsess, const void *buf, size_t len, size_t *n)
{
    struct wsess *s = bsess;
    *n = 0;
    int f = tlsplug__wolf_flush(s);
    if (f != TLSPLUG_OK)
        return flush_error(s, f);
    if (s->write_taken) {
        /* The retry of a write whose record has now left completely. */
        *n = s->write_taken;
        s->write_taken = 0;
        return TLSPLUG_OK;
    }
    /* One record per call bounds what io_send may have to hold back. */
    int r = wolfSSL_write(s->ssl, buf, len > MAX_WRITE ? MAX_WRITE : (int)len);
    if (r <= 0)
        return step_error(s, r, "TLS write failed");
    f = tlsplug__wolf_flush(s);
    if (f == TLSPLUG_WANT_WRITE) {
        /* Part of the record is still held back.  Saying OK now would leave
         * bytes core does not know about; instead this is a WANT_WRITE and
         * the retry (same bytes, by contract) reports them taken. */
        s->write_taken = (size_t)r;
        return TLSPLUG_WANT_WRITE;
    }
    if (f != TLSPLUG_OK)
        return flush_error(s, f);
    *n = (size_t)r;
    return TLSPLUG_OK;
}

static int wolf_shutdown(void *bsess)
{
    struct wsess *s = bsess;
    int f = tlsplug__wolf_flush(s);
    if (f != TLSPLUG_OK)
        return flush_error(s, f);
    if (!s->shutdown_sent) {
        /* Not done (close_notify sent, the peer's still to come) is success
         * here: core reads on until the peer's close_notify. */
        int r = wolfSSL_shutdown(s->ssl);
        if (r != WOLFSSL_SUCCESS && r != WOLFSSL_SHUTDOWN_NOT_DONE)
            return step_error(s, r, "TLS shutdown failed");
        s->shutdown_sent = 1;
    }
    return flush_error(s, tlsplug__wolf_flush(s));
}

static size_t wolf_pending(void *bsess)
{
    int n = wolfSSL_pending(((struct wsess *)bsess)->ssl);
    return n > 0 ? (size_t)n : 0;
}

/* wolfSSL's one-line form is "/C=US/O=Org/CN=name", most significant first;
 * RFC 4514 is the reverse, comma-separated, with special characters escaped. */
static void oneline_to_rfc4514(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    size_t len = strlen(in);
    out[0] = '\0';
    size_t end = len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && in[start - 1] != '/')
            start--;
        if (start < end) {
            if (o && o + 1 < cap)
                out[o++] = ',';
            const char *eq = memchr(in + start, '=', end - start);
            for (size_t i = start; i < end && o + 2 < cap; i++) {
                char c = in[i];
                int in_value = eq && in + i > eq;
                if (in_value && (strchr(",+\"\\<>;", c) ||
                                 (c == '#' && in + i == eq + 1) ||
                                 (c == ' ' && (in + i == eq + 1 || i + 1 == end))))
                    out[o++] = '\\';
                out[o++] = c;
            }
        }
        end = start > 0 ? start - 1 : 0;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

static void peer_subject(struct wsess *s, char *out, size_t cap)
{
    out[0] = '\0';
    WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(s->ssl);
    if (!chain || wolfSSL_get_chain_count(chain) <= 0)
        return;
    const unsigned char *der = wolfSSL_get_chain_cert(chain, 0);
    int der_len = wolfSSL_get_chain_length(chain, 0);
    if (!der || der_len <= 0)
        return;
    WOLFSSL_X509 *x = wolfSSL_X509_d2i(NULL, der, der_len);
    if (!x)
        return;
    char line[512];
    if (wolfSSL_X509_NAME_oneline(wolfSSL_X509_get_subject_name(x), line, sizeof line))
        oneline_to_rfc4514(line, out, cap);
    wolfSSL_X509_free(x);
}

/* The group of this connection.  A resumed TLS 1.2 session has no key
 * exchange: it is then the group of the handshake that made the session,
 * as OpenSSL reports it (the server, which wolfSSL does not tell, names the
 * one it would pick now). */
static uint16_t current_group(struct wsess *s)
{
    uint16_t g = group_id_from_wolf(wolfSSL_get_curve_name(s->ssl));
    if (g == 0 && wolfSSL_session_reused(s->ssl))
        g = s->side == TLSPLUG_SIDE_CLIENT ? s->session_group : s->tls12_group;
    return g;
}

static int wolf_info(void *bsess, tlsplug_info *out)
{
    struct wsess *s = bsess;
    int v = wolfSSL_version(s->ssl);
    out->version = v == TLSPLUG_TLS1_2 || v == TLSPLUG_TLS1_3 ? v : 0;
    int cs = wolfSSL_get_current_cipher_suite(s->ssl);
    out->cipher_id = cs > 0 ? (uint16_t)cs : 0;
    out->group_id = current_group(s);

    char *proto = NULL;
    unsigned short plen = 0;
    out->alpn[0] = '\0';
    if (wolfSSL_ALPN_GetProtocol(s->ssl, &proto, &plen) == WOLFSSL_SUCCESS && proto &&
        plen < sizeof out->alpn) {
        memcpy(out->alpn, proto, plen);
        out->alpn[plen] = '\0';
    }

    out->server_name[0] = '\0';
    if (s->side == TLSPLUG_SIDE_CLIENT) {
        if (s->sni)
            snprintf(out->server_name, sizeof out->server_name, "%s", s->sni);
    } else {
        void *name = NULL;
        unsigned short nlen = wolfSSL_SNI_GetRequest(s->ssl, WOLFSSL_SNI_HOST_NAME, &name);
        if (name && nlen > 0 && nlen < sizeof out->server_name) {
            memcpy(out->server_name, name, nlen);
            out->server_name[nlen] = '\0';
        }
    }
    peer_subject(s, out->peer_subject, sizeof out->peer_subject);
    out->resumed = wolfSSL_session_reused(s->ssl) ? 1 : 0;
    /* A resumed session carries the chain that was verified when it was
     * made; no callback runs again. */
    int verifying = !s->wc->adopted && s->wc->cfg->verify != TLSPLUG_VERIFY_NONE;
    out->peer_verified =
        s->peer_verified || (out->resumed && verifying && out->peer_subject[0] != '\0');
    return TLSPLUG_OK;
}

static int wolf_session_save(void *bsess, uint8_t **data, size_t *len)
{
    struct wsess *s = bsess;
    if (s->side != TLSPLUG_SIDE_CLIENT)
        return TLSPLUG_E_UNSUPPORTED;
    /* When a TLS 1.3 client sends its Finished, wolfSSL overwrites the
     * session's secret with this connection's resumption secret
     * (SendTls13Finished: DeriveResumptionSecret into session->masterSecret);
     * the ticket and nonce stay those of the session offered until a
     * NewSessionTicket replaces them (DoTls13NewSessionTicket).  Saved in
     * between (at the end of a resumed handshake, or freed before reading
     * the ticket), the session would offer the old ticket with a PSK the
     * server never made, and the server refuses its binder (-423).  Until
     * a ticket has come, the session saved before stays the one to offer. */
    if (!s->ticket_seen && wolfSSL_version(s->ssl) == TLSPLUG_TLS1_3)
        return TLSPLUG_E_INVALID_ARGUMENT;
    WOLFSSL_SESSION *sess = wolfSSL_get1_session(s->ssl);
    if (!sess)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = TLSPLUG_E_INVALID_ARGUMENT;
    unsigned int id_len = 0;
    wolfSSL_SESSION_get_id(sess, &id_len);
    if (wolfSSL_SESSION_is_resumable(sess) && (id_len > 0 || wolfSSL_SESSION_has_ticket(sess))) {
        int n = wolfSSL_i2d_SSL_SESSION(sess, NULL);
        uint8_t *buf = n > 0 ? tlsplug__malloc(SESSION_HEADER + (size_t)n) : NULL;
        if (n > 0 && !buf) {
            rc = TLSPLUG_E_NO_MEMORY;
        } else if (buf) {
            uint16_t g = current_group(s);
            int v = wolfSSL_version(s->ssl);
            buf[0] = SESSION_MAGIC0;
            buf[1] = SESSION_MAGIC1;
            buf[2] = (uint8_t)(v >> 8);
            buf[3] = (uint8_t)v;
            buf[4] = (uint8_t)(g >> 8);
            buf[5] = (uint8_t)g;
            unsigned char *q = buf + SESSION_HEADER;
            if (wolfSSL_i2d_SSL_SESSION(sess, &q) == n) {
                *data = buf;
                *len = SESSION_HEADER + (size_t)n;
                rc = TLSPLUG_OK;
            } else {
                tlsplug__free(buf);
            }
        }
    }
    if (rc == TLSPLUG_OK)
        tlsplug__wolf_resume_keep(s->wc->resume, s, sess); /* takes the reference */
    else
        wolfSSL_SESSION_free(sess);
    return rc;
}

const struct tlsplug_backend tlsplug__backend_wolfssl = {
    .name = "wolfssl",
    .impl = TLSPLUG_IMPL_WOLFSSL,
    .version = wolf_version,
    .caps = wolf_caps,
    .ctx_new = wolf_ctx_new,
    .ctx_adopt = wolf_ctx_adopt,
    .ctx_free = wolf_ctx_free,
    .ctx_native = wolf_ctx_native,
    .sess_new = wolf_sess_new,
    .sess_free = wolf_sess_free,
    .sess_native = wolf_sess_native,
    .handshake = wolf_handshake,
    .read = wolf_read,
    .write = wolf_write,
    .shutdown = wolf_shutdown,
    .pending = wolf_pending,
    .info = wolf_info,
    .session_save = wolf_session_save,
    .idle = NULL,
    .set_allocator = tlsplug__wolf_set_allocator,
};
