/*
 * The portable configuration -> SSL_CTX settings.  Every field of the
 * configuration is applied here, explicitly, so nothing depends on OpenSSL's
 * own defaults (or the system openssl.cnf).
 */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "ossl_int.h"

/* ---- Small tables --------------------------------------------------------- */

static const struct {
    uint16_t iana;
    int nid;
} group_nids[] = {
    {29, NID_X25519},
    {23, NID_X9_62_prime256v1},
    {24, NID_secp384r1},
    {25, NID_secp521r1},
    {30, NID_X448},
    {256, NID_ffdhe2048},
    {257, NID_ffdhe3072},
    {258, NID_ffdhe4096},
    {259, NID_ffdhe6144},
    {260, NID_ffdhe8192},
};

static int group_nid(uint16_t iana)
{
    for (size_t i = 0; i < sizeof group_nids / sizeof group_nids[0]; i++)
        if (group_nids[i].iana == iana)
            return group_nids[i].nid;
    return NID_undef;
}

uint16_t tlsplug__ossl_group_iana(int nid)
{
    /* libssl reports groups it has no NID for as the wire id plus a flag. */
    if (nid & TLSEXT_nid_unknown)
        return (uint16_t)(nid & 0xffff);
    for (size_t i = 0; i < sizeof group_nids / sizeof group_nids[0]; i++)
        if (group_nids[i].nid == nid)
            return group_nids[i].iana;
    return 0;
}

int tlsplug__ossl_verify_mode(tlsplug_verify v, tlsplug_side side)
{
    if (v == TLSPLUG_VERIFY_NONE)
        return SSL_VERIFY_NONE;
    if (side == TLSPLUG_SIDE_SERVER && v == TLSPLUG_VERIFY_REQUIRED)
        return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    return SSL_VERIFY_PEER;
}

/* ---- Configuration translation ------------------------------------------- */

/* A configuration failure carrying OpenSSL's own text, if it has any. */
/* 1 if OpenSSL's error queue says an allocation failed (the first error is
 * the cause, the last the step that gave up). */
static int queue_has_malloc_failure(void)
{
    return ERR_GET_REASON(ERR_peek_error()) == ERR_R_MALLOC_FAILURE ||
           ERR_GET_REASON(ERR_peek_last_error()) == ERR_R_MALLOC_FAILURE;
}

int tlsplug__ossl_fail(struct tlsplug_error *err, int cls, const char *what)
{
    /* A failure that OpenSSL attributes to memory is out-of-memory, whatever
     * the step that met it would otherwise be called. */
    if (queue_has_malloc_failure())
        cls = TLSPLUG_E_NO_MEMORY;
    unsigned long code = ERR_peek_last_error();
    if (code) {
        char text[160];
        ERR_error_string_n(code, text, sizeof text);
        ERR_clear_error();
        return tlsplug__err_set(err, cls, (long)code, "%s (%s)", what, text);
    }
    return tlsplug__err_set(err, cls, 0, "%s", what);
}

static BIO *mem_bio(const void *data, size_t len)
{
    if (len > INT_MAX)
        return NULL;
    return BIO_new_mem_buf(data, (int)len);
}

/* Only a clean end of the PEM data after at least one object is success. */
static int pem_at_end(void)
{
    unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        return 1;
    }
    return 0;
}

static int set_versions(SSL_CTX *c, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    int min = cfg->min_version, max = cfg->max_version;
    /* An empty suite list for a version means that version is off: OpenSSL
     * refuses an empty TLS 1.2 cipher list outright. */
    if (cfg->n_suites12 == 0 && min < TLS1_3_VERSION)
        min = TLS1_3_VERSION;
    if (cfg->n_suites13 == 0 && max > TLS1_2_VERSION)
        max = TLS1_2_VERSION;
    if (min > max)
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0,
                                "no cipher suite left for the enabled TLS versions");
    if (!SSL_CTX_set_min_proto_version(c, min) || !SSL_CTX_set_max_proto_version(c, max))
        return tlsplug__ossl_fail(err, TLSPLUG_E_UNSUPPORTED,
                                  "cannot set the TLS version range");
    return TLSPLUG_OK;
}

/* IANA ids -> "NAME:NAME"; the library's own names come from its table. */
static int suite_list(SSL *tmp, const uint16_t *ids, size_t n, int tls13, char *out,
                      size_t cap, struct tlsplug_error *err)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        unsigned char wire[2] = {(unsigned char)(ids[i] >> 8), (unsigned char)ids[i]};
        const SSL_CIPHER *c = SSL_CIPHER_find(tmp, wire);
        int is13 = c && strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0;
        if (!c || is13 != tls13) {
            ERR_clear_error();
            return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, 0,
                                    "cipher suite 0x%04X is not available in OpenSSL",
                                    (unsigned)ids[i]);
        }
        const char *name = SSL_CIPHER_get_name(c);
        size_t len = strlen(name);
        if (used + len + 2 > cap)
            return tlsplug__err_set(err, TLSPLUG_E_INTERNAL, 0, "cipher list too long");
        if (used)
            out[used++] = ':';
        memcpy(out + used, name, len + 1);
        used += len;
    }
    return TLSPLUG_OK;
}

static int set_suites(SSL_CTX *c, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    char list12[1024], list13[512];
    /* SSL_CIPHER_find wants an SSL; it looks in every suite the library
     * knows, whatever the context enables. */
    SSL *tmp = SSL_new(c);
    if (!tmp)
        return tlsplug__ossl_fail(err, TLSPLUG_E_NO_MEMORY, "SSL_new failed");
    int rc = suite_list(tmp, cfg->suites12, cfg->n_suites12, 0, list12, sizeof list12, err);
    if (rc == TLSPLUG_OK)
        rc = suite_list(tmp, cfg->suites13, cfg->n_suites13, 1, list13, sizeof list13, err);
    SSL_free(tmp);
    if (rc != TLSPLUG_OK)
        return rc;
    if (cfg->n_suites12 && !SSL_CTX_set_cipher_list(c, list12))
        return tlsplug__ossl_fail(err, TLSPLUG_E_BAD_CONFIG,
                                  "cannot set the TLS 1.2 cipher suites");
    if (!SSL_CTX_set_ciphersuites(c, list13))
        return tlsplug__ossl_fail(err, TLSPLUG_E_BAD_CONFIG,
                                  "cannot set the TLS 1.3 cipher suites");
    return TLSPLUG_OK;
}

static int set_groups(SSL_CTX *c, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    int nids[TLSPLUG_MAX_GROUPS];
    size_t n = cfg->n_groups;
    if (n == 0)
        return TLSPLUG_OK;
    if (n > TLSPLUG_MAX_GROUPS)
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0, "too many groups");
    for (size_t i = 0; i < n; i++) {
        nids[i] = group_nid(cfg->groups[i]);
        if (nids[i] == NID_undef)
            return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, 0,
                                    "group 0x%04X is not available in OpenSSL",
                                    (unsigned)cfg->groups[i]);
    }
    /* The first group is also the one the client sends a key share for. */
    if (!SSL_CTX_set1_groups(c, nids, (long)n))
        return tlsplug__ossl_fail(err, TLSPLUG_E_UNSUPPORTED,
                                  "cannot set the key exchange groups");
    return TLSPLUG_OK;
}

static int load_trust(SSL_CTX *c, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    if (cfg->trust_pem.len == 0)
        return TLSPLUG_OK;
    BIO *b = mem_bio(cfg->trust_pem.data, cfg->trust_pem.len);
    if (!b)
        return tlsplug__ossl_fail(err, TLSPLUG_E_NO_MEMORY,
                                  "cannot read the trusted certificates");
    X509_STORE *store = SSL_CTX_get_cert_store(c);
    int count = 0, rc = TLSPLUG_OK;
    X509 *x;
    while ((x = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL)) != NULL) {
        int ok = X509_STORE_add_cert(store, x);
        X509_free(x);
        if (!ok) {
            rc = tlsplug__ossl_fail(err, TLSPLUG_E_BAD_CONFIG,
                                    "cannot add a trusted certificate");
            break;
        }
        count++;
    }
    if (rc == TLSPLUG_OK && !(count > 0 && pem_at_end()))
        rc = tlsplug__ossl_fail(err, TLSPLUG_E_BAD_CONFIG,
                                "cannot parse the trusted certificates");
    BIO_free(b);
    return rc;
}

typedef struct pw_state {
    const char *password;
    int asked;
} pw_state;

/* Never let OpenSSL fall back to prompting on the terminal. */
static int pw_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    pw_state *pw = u;
    pw->asked = 1;
    if (!pw->password)
        return -1;
    size_t len = strlen(pw->password);
    if (len > (size_t)size)
        return -1;
    memcpy(buf, pw->password, len);
    return (int)len;
}

/* Finds the private key block in a PEM text (it may follow certificates)
 * and whether it is encrypted, so that the messages can say which failure
 * it was. */
static const char *find_key_block(const char *pem, int *encrypted)
{
    const char *p = pem;
    *encrypted = 0;
    while ((p = strstr(p, "-----BEGIN ")) != NULL) {
        const char *label = p + 11;
        const char *end = strstr(label, "-----");
        if (!end)
            return NULL;
        size_t len = (size_t)(end - label);
        if (len >= 11 && memcmp(end - 11, "PRIVATE KEY", 11) == 0) {
            const char *stop = strstr(end, "-----END ");
            *encrypted = (len == 21 && memcmp(label, "ENCRYPTED", 9) == 0);
            const char *proc = strstr(end, "Proc-Type: 4,ENCRYPTED");
            if (proc && (!stop || proc < stop))
                *encrypted = 1;
            return p;
        }
        p = end;
    }
    return NULL;
}

static int load_key(SSL_CTX *c, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    const tlsplug_bytes *src = cfg->key_pem.len ? &cfg->key_pem : &cfg->cert_pem;
    int encrypted = 0;
    const char *text = (const char *)src->data;
    const char *block = find_key_block(text, &encrypted);
    if (!block)
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0,
                                "no private key found for the certificate");
    BIO *b = mem_bio(block, src->len - (size_t)(block - text));
    if (!b)
        return tlsplug__ossl_fail(err, TLSPLUG_E_NO_MEMORY, "cannot read the private key");
    pw_state pw = {cfg->key_password, 0};
    EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, pw_cb, &pw);
    BIO_free(b);
    if (!key) {
        if (encrypted && !cfg->key_password)
            return tlsplug__ossl_fail(err, TLSPLUG_E_BAD_CONFIG,
                                      "private key is encrypted and no password was given");
        if (encrypted || (pw.asked && cfg->key_password))
            return tlsplug__ossl_fail(err, TLSPLUG_E_BAD_CONFIG,
                                      "cannot decrypt private key: wrong password?");
        return tlsplug__ossl_fail(err, TLSPLUG_E_BAD_CONFIG, "cannot parse the private key");
    }
    int ok = SSL_CTX_use_PrivateKey(c, key);
    EVP_PKEY_free(key);
    /* use_PrivateKey compares with a certificate of the same key type
     * (OpenSSL's text says how); check_private_key catches a key of another
     * type, where OpenSSL's text would only confuse. */
    if (!ok)
        return tlsplug__ossl_fail(err, TLSPLUG_E_BAD_CONFIG,
                                  "private key does not match the certificate");
    if (!SSL_CTX_check_private_key(c)) {
        ERR_clear_error();
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0,
                                "private key does not match the certificate (another key type)");
    }
    return TLSPLUG_OK;
}

static int load_cert(SSL_CTX *c, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    if (cfg->cert_pem.len == 0) {
        if (cfg->key_pem.len)
            return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, 0,
                                    "private key given without a certificate");
        return TLSPLUG_OK;
    }
    BIO *b = mem_bio(cfg->cert_pem.data, cfg->cert_pem.len);
    if (!b)
        return tlsplug__ossl_fail(err, TLSPLUG_E_NO_MEMORY,
                                  "cannot read the certificate chain");
    int rc = TLSPLUG_OK;
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if (!leaf || !SSL_CTX_use_certificate(c, leaf))
        rc = tlsplug__ossl_fail(err, TLSPLUG_E_BAD_CONFIG, "cannot parse the certificate");
    X509_free(leaf);
    X509 *x;
    while (rc == TLSPLUG_OK && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (!SSL_CTX_add0_chain_cert(c, x)) {
            X509_free(x);
            rc = tlsplug__ossl_fail(err, TLSPLUG_E_BAD_CONFIG,
                                    "cannot add a chain certificate");
        }
    }
    if (rc == TLSPLUG_OK && !pem_at_end())
        rc = tlsplug__ossl_fail(err, TLSPLUG_E_BAD_CONFIG,
                                "cannot parse the certificate chain");
    BIO_free(b);
    if (rc == TLSPLUG_OK)
        rc = load_key(c, cfg, err);
    return rc;
}

/* Server: pick by *our* preference among what the client offered. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    /* no overlap: libssl turns ALERT_FATAL into no_application_protocol */
    return tlsplug__alpn_pick(arg, in, inlen, out, outlen) == 0 ? SSL_TLSEXT_ERR_OK
                                                                 : SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* A BOTH context holds the client mode; sess_setup gives server sessions
 * theirs. */
static void set_verify(SSL_CTX *c, const tlsplug_config *cfg, tlsplug_side side)
{
    tlsplug_side s = side == TLSPLUG_SIDE_SERVER ? TLSPLUG_SIDE_SERVER : TLSPLUG_SIDE_CLIENT;
    SSL_CTX_set_verify(c, tlsplug__ossl_verify_mode(cfg->verify, s), NULL);
    SSL_CTX_set_cert_verify_callback(c, tlsplug__ossl_cert_verify_cb, NULL);
}

static int set_alpn(SSL_CTX *c, const tlsplug_config *cfg, tlsplug_side side,
                    struct tlsplug_error *err)
{
    if (cfg->n_alpn == 0)
        return TLSPLUG_OK;
    if (side != TLSPLUG_SIDE_SERVER) {
        if (cfg->alpn_wire.len > UINT_MAX ||
            SSL_CTX_set_alpn_protos(c, cfg->alpn_wire.data, (unsigned)cfg->alpn_wire.len) != 0)
            return tlsplug__ossl_fail(err, TLSPLUG_E_NO_MEMORY,
                                      "cannot set the ALPN protocols");
    }
    if (side != TLSPLUG_SIDE_CLIENT)
        SSL_CTX_set_alpn_select_cb(c, alpn_select, (void *)cfg);
    return TLSPLUG_OK;
}

static int set_resumption(SSL_CTX *c, const tlsplug_config *cfg, tlsplug_side side,
                          struct tlsplug_error *err)
{
    if (side == TLSPLUG_SIDE_CLIENT)
        return TLSPLUG_OK; /* clients offer what core hands them */
    /* Without a session id context a server that verifies clients refuses
     * every resumption with a fatal error. */
    static const unsigned char sid_ctx[] = "tlsplug";
    if (!SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx - 1))
        return tlsplug__ossl_fail(err, TLSPLUG_E_INTERNAL,
                                  "cannot set the session id context");
    if (cfg->tickets)
        SSL_CTX_clear_options(c, SSL_OP_NO_TICKET);
    else
        SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    /* TLS 1.3 resumes through tickets either way: stateless ones, or (with
     * NO_TICKET) ids into the server cache.  One per handshake is enough. */
    SSL_CTX_set_num_tickets(c, (cfg->tickets || cfg->session_cache) ? 1 : 0);
    SSL_CTX_set_session_cache_mode(c, cfg->session_cache ? SSL_SESS_CACHE_SERVER
                                                         : SSL_SESS_CACHE_OFF);
    return TLSPLUG_OK;
}

int tlsplug__ossl_configure(ossl_ctx *o, const tlsplug_config *cfg, struct tlsplug_error *err)
{
    SSL_CTX *c = o->ctx;
    int rc;
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_clear_options(c, SSL_OP_ALLOW_CLIENT_RENEGOTIATION |
                                 SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION |
                                 SSL_OP_LEGACY_SERVER_CONNECT);
    if ((rc = set_versions(c, cfg, err)) != TLSPLUG_OK ||
        (rc = set_suites(c, cfg, err)) != TLSPLUG_OK ||
        (rc = set_groups(c, cfg, err)) != TLSPLUG_OK ||
        (rc = load_trust(c, cfg, err)) != TLSPLUG_OK ||
        (rc = load_cert(c, cfg, err)) != TLSPLUG_OK ||
        (rc = set_alpn(c, cfg, o->side, err)) != TLSPLUG_OK ||
        (rc = set_resumption(c, cfg, o->side, err)) != TLSPLUG_OK)
        return rc;
    set_verify(c, cfg, o->side);
    if (cfg->keylog_cb)
        SSL_CTX_set_keylog_callback(c, tlsplug__ossl_keylog_cb);
    return TLSPLUG_OK;
}
