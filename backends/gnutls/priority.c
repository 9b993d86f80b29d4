/*
 * Suites, groups and versions: the configuration as GnuTLS priority caches,
 * never GnuTLS's defaults, and the hello hooks that make GnuTLS negotiate
 * what the other backends negotiate.
 *
 * GnuTLS enables TLS 1.2 suites as the product key exchanges x ciphers x
 * MACs, orders them by its own rule and shares the cipher list with TLS 1.3.
 * When one cache says the lists exactly (the defaults do), it is all there
 * is.  Otherwise:
 *  - the server reads the ClientHello first (hook) and switches to a cache
 *    that allows only the suite its list prefers among those offered (TLS
 *    1.2) or only the TLS 1.3 ciphers listed;
 *  - the client offers the union and refuses a ServerHello whose suite is
 *    not in its lists.
 */
#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "core/backend.h"
#include "backends/gnutls/gnutls_int.h"

/* ---- Suites and groups ----------------------------------------------------- */

struct gt_suite {
    uint16_t id;
    gnutls_kx_algorithm_t kx;
    gnutls_cipher_algorithm_t cipher;
    gnutls_mac_algorithm_t mac;
    int tls13;
};

/* Entry idx of GnuTLS's suite table; 0 past the end. */
static int suite_at(size_t idx, struct gt_suite *out)
{
    unsigned char cs[2];
    gnutls_protocol_t minv;
    if (!gnutls_cipher_suite_info(idx, cs, &out->kx, &out->cipher, &out->mac, &minv))
        return 0;
    out->id = (uint16_t)(cs[0] << 8 | cs[1]);
    out->tls13 = minv == GNUTLS_TLS1_3;
    return 1;
}

static int suite_lookup(uint16_t id, struct gt_suite *out)
{
    for (size_t i = 0; suite_at(i, out); i++)
        if (out->id == id)
            return 1;
    return 0;
}

uint16_t tlsplug__gnutls_suite_id(gnutls_session_t s)
{
    int tls13 = gnutls_protocol_get_version(s) == GNUTLS_TLS1_3;
    gnutls_kx_algorithm_t kx = gnutls_kx_get(s);
    gnutls_cipher_algorithm_t cipher = gnutls_cipher_get(s);
    gnutls_mac_algorithm_t mac = gnutls_mac_get(s);
    struct gt_suite su;
    for (size_t i = 0; suite_at(i, &su); i++)
        if (su.tls13 == tls13 && su.cipher == cipher && (tls13 || (su.kx == kx && su.mac == mac)))
            return su.id;
    return 0;
}

static int listed(const uint16_t *list, size_t n, uint16_t id)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == id)
            return 1;
    return 0;
}

static const char *suite_name(uint16_t id)
{
    const tlsplug_suite_info *si = tlsplug__suite_by_id(id);
    return si ? si->name : "?";
}

static const struct {
    uint16_t iana;
    gnutls_group_t group;
} group_table[] = {
    {0x0017, GNUTLS_GROUP_SECP256R1}, {0x0018, GNUTLS_GROUP_SECP384R1},
    {0x0019, GNUTLS_GROUP_SECP521R1}, {0x001D, GNUTLS_GROUP_X25519},
    {0x001E, GNUTLS_GROUP_X448},      {0x0100, GNUTLS_GROUP_FFDHE2048},
    {0x0101, GNUTLS_GROUP_FFDHE3072}, {0x0102, GNUTLS_GROUP_FFDHE4096},
    {0x0103, GNUTLS_GROUP_FFDHE6144}, {0x0104, GNUTLS_GROUP_FFDHE8192},
};

static gnutls_group_t group_from_iana(uint16_t id)
{
    for (size_t i = 0; i < sizeof group_table / sizeof group_table[0]; i++)
        if (group_table[i].iana == id)
            return group_table[i].group;
    return GNUTLS_GROUP_INVALID;
}

uint16_t tlsplug__gnutls_group_id(gnutls_session_t s)
{
    gnutls_group_t g = gnutls_group_get(s);
    for (size_t i = 0; i < sizeof group_table / sizeof group_table[0]; i++)
        if (group_table[i].group == g)
            return group_table[i].iana;
    return 0;
}

/* ---- Priority strings ------------------------------------------------------- */

/* Signature algorithms: every modern one, no SHA-1 or SHA-224.  Both ECDSA
 * spellings because GnuTLS keeps curve-bound (TLS 1.3) and curve-free (TLS
 * 1.2) entries for the same code points. */
static const char gt_sigalgs[] =
    "+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SECP384R1-SHA384:+SIGN-ECDSA-SECP521R1-SHA512:"
    "+SIGN-ECDSA-SHA256:+SIGN-ECDSA-SHA384:+SIGN-ECDSA-SHA512:"
    "+SIGN-EdDSA-Ed25519:+SIGN-EdDSA-Ed448:"
    "+SIGN-RSA-PSS-SHA256:+SIGN-RSA-PSS-SHA384:+SIGN-RSA-PSS-SHA512:"
    "+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-PSS-RSAE-SHA384:+SIGN-RSA-PSS-RSAE-SHA512:"
    "+SIGN-RSA-SHA256:+SIGN-RSA-SHA384:+SIGN-RSA-SHA512";

/* What one cache is made of: ciphers and key exchanges in preference order,
 * and which configured group goes first. */
struct prio_spec {
    gnutls_cipher_algorithm_t ciphers[2 * TLSPLUG_MAX_SUITES];
    size_t nc;
    gnutls_kx_algorithm_t kxs[TLSPLUG_MAX_SUITES];
    size_t nkx;
    size_t first_group;
    int server;
};

static void add_cipher(struct prio_spec *sp, gnutls_cipher_algorithm_t c)
{
    for (size_t i = 0; i < sp->nc; i++)
        if (sp->ciphers[i] == c)
            return;
    sp->ciphers[sp->nc++] = c;
}

static void add_kx(struct prio_spec *sp, gnutls_kx_algorithm_t k)
{
    for (size_t i = 0; i < sp->nkx; i++)
        if (sp->kxs[i] == k)
            return;
    sp->kxs[sp->nkx++] = k;
}

struct strbuf {
    char s[2048];
    size_t len;
    int overflow;
};

static void sb_add(struct strbuf *b, const char *a, const char *c)
{
    int n = snprintf(b->s + b->len, sizeof b->s - b->len, "%s%s", a, c);
    if (n < 0 || (size_t)n >= sizeof b->s - b->len)
        b->overflow = 1;
    else
        b->len += (size_t)n;
}

static int priority_init(gnutls_priority_t *prio, const char *str, struct tlsplug_error *err)
{
    const char *pos = NULL;
    int rc = gnutls_priority_init2(prio, str, &pos, 0);
    if (rc == GNUTLS_E_MEMORY_ERROR)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, rc, "out of memory");
    if (rc < 0) {
        *prio = NULL;
        return tlsplug__err_set(err, TLSPLUG_E_BAD_CONFIG, rc,
                                "GnuTLS rejected the priority string at \"%.40s\": %s",
                                pos ? pos : str, gnutls_strerror(rc));
    }
    return TLSPLUG_OK;
}

static int prio_make(const tlsplug_config *cfg, const struct prio_spec *sp, gnutls_priority_t *out,
                     struct tlsplug_error *err)
{
    struct strbuf b = {.len = 0, .overflow = 0};
    sb_add(&b, "NONE", "");
    if (cfg->max_version >= TLSPLUG_TLS1_3)
        sb_add(&b, ":+VERS-TLS1.3", "");
    if (cfg->min_version <= TLSPLUG_TLS1_2)
        sb_add(&b, ":+VERS-TLS1.2", "");
    for (size_t i = 0; i < sp->nc; i++)
        sb_add(&b, ":+", gnutls_cipher_get_name(sp->ciphers[i]));
    sb_add(&b, ":+AEAD", "");
    for (size_t i = 0; i < sp->nkx; i++)
        sb_add(&b, ":+", gnutls_kx_get_name(sp->kxs[i]));
    for (size_t j = 0; j < cfg->n_groups; j++) {
        /* first_group, then the others in their order */
        size_t i = j == 0 ? sp->first_group : j <= sp->first_group ? j - 1 : j;
        gnutls_group_t g = group_from_iana(cfg->groups[i]);
        const char *name = g == GNUTLS_GROUP_INVALID ? NULL : gnutls_group_get_name(g);
        if (!name) {
            const tlsplug_group_info *gi = tlsplug__group_by_id(cfg->groups[i]);
            return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, 0, "GnuTLS has no group %s",
                                    gi ? gi->name : "?");
        }
        sb_add(&b, ":+GROUP-", name);
    }
    sb_add(&b, ":", gt_sigalgs);
    sb_add(&b, ":+COMP-NULL:+CTYPE-X509:%SERVER_PRECEDENCE", "");
    /* Renegotiation is refused both ways (gnutls.c), which is what protects
     * a server; like OpenSSL, a server still talks to clients that do not
     * say RFC 5746 (wolfSSL's) and a client insists on it. */
    sb_add(&b, sp->server ? ":%PARTIAL_RENEGOTIATION" : ":%SAFE_RENEGOTIATION", "");
    if (b.overflow)
        return tlsplug__err_set(err, TLSPLUG_E_INTERNAL, 0, "GnuTLS priority string too long");
    return priority_init(out, b.s, err);
}

/* ---- What a cache enables --------------------------------------------------- */

/* The suites of a cache for one version, in GnuTLS's preference order. */
static size_t cache_suites(gnutls_priority_t prio, int tls13, uint16_t *ids, size_t cap)
{
    size_t n = 0;
    for (unsigned i = 0; n < cap; i++) {
        unsigned idx;
        int rc = gnutls_priority_get_cipher_suite_index(prio, i, &idx);
        if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        struct gt_suite su;
        if (rc == 0 && suite_at(idx, &su) && su.tls13 == tls13)
            ids[n++] = su.id;
    }
    return n;
}

/* 1 if cache offers exactly list (TLS 1.3: same order too; TLS 1.2: same
 * order among the suites of each key exchange, the only choice a server with
 * one certificate makes). */
static int cache_is_exact(gnutls_priority_t prio, int tls13, const uint16_t *list, size_t n)
{
    uint16_t got[64];
    size_t ng = cache_suites(prio, tls13, got, sizeof got / sizeof got[0]);
    if (ng != n)
        return 0;
    for (size_t i = 0; i < ng; i++)
        if (!listed(list, n, got[i]))
            return 0;
    if (tls13)
        return memcmp(got, list, n * sizeof *list) == 0;
    for (size_t i = 0; i < n; i++) {
        struct gt_suite a;
        suite_lookup(list[i], &a);
        /* the suites of a's kx, in both orders */
        size_t gi = 0, li = 0;
        for (;;) {
            struct gt_suite x;
            while (gi < ng && !(suite_lookup(got[gi], &x) && x.kx == a.kx))
                gi++;
            while (li < n && !(suite_lookup(list[li], &x) && x.kx == a.kx))
                li++;
            if (gi == ng || li == n)
                break;
            if (got[gi++] != list[li++])
                return 0;
        }
    }
    return 1;
}

/* ---- Building ------------------------------------------------------------------ */

void tlsplug__gnutls_prio_free(struct gt_prio *p)
{
    if (p->main)
        gnutls_priority_deinit(p->main);
    for (size_t i = 0; i < TLSPLUG_MAX_GROUPS; i++)
        if (p->first13[i])
            gnutls_priority_deinit(p->first13[i]);
    for (size_t i = 0; i < TLSPLUG_MAX_SUITES; i++)
        if (p->one12[i])
            gnutls_priority_deinit(p->one12[i]);
    memset(p, 0, sizeof *p);
}

int tlsplug__gnutls_prio_new(struct gt_prio *p, const tlsplug_config *cfg, tlsplug_side side,
                             const char *user, struct tlsplug_error *err)
{
    memset(p, 0, sizeof *p);
    if (user) {
        p->user = p->exact12 = p->exact13 = 1;
        return priority_init(&p->main, user, err);
    }
    int has13 = cfg->max_version >= TLSPLUG_TLS1_3;
    int has12 = cfg->min_version <= TLSPLUG_TLS1_2;
    int server = side != TLSPLUG_SIDE_CLIENT;
    struct prio_spec all = {.nc = 0, .nkx = 0, .first_group = 0, .server = server};
    struct prio_spec only13 = all;
    struct gt_suite su;

    for (size_t i = 0; has13 && i < cfg->n_suites13; i++) {
        if (!suite_lookup(cfg->suites13[i], &su) || !su.tls13)
            return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, 0,
                                    "GnuTLS %s has no TLS 1.3 suite %s",
                                    gnutls_check_version(NULL), suite_name(cfg->suites13[i]));
        add_cipher(&all, su.cipher);
        add_cipher(&only13, su.cipher);
    }
    for (size_t i = 0; has12 && i < cfg->n_suites12; i++) {
        if (!suite_lookup(cfg->suites12[i], &su) || su.tls13 || su.mac != GNUTLS_MAC_AEAD)
            return tlsplug__err_set(err, TLSPLUG_E_UNSUPPORTED, 0,
                                    "GnuTLS %s has no TLS 1.2 AEAD suite %s",
                                    gnutls_check_version(NULL), suite_name(cfg->suites12[i]));
        add_cipher(&all, su.cipher);
        add_kx(&all, su.kx);
        add_kx(&only13, su.kx);
    }
    int rc = prio_make(cfg, &all, &p->main, err);
    if (rc != TLSPLUG_OK)
        return rc;
    p->exact13 = !has13 || cache_is_exact(p->main, 1, cfg->suites13, cfg->n_suites13);
    p->exact12 = !has12 || cache_is_exact(p->main, 0, cfg->suites12, cfg->n_suites12);
    if (!server) {
        p->hook = !p->exact12 || !p->exact13;
        return TLSPLUG_OK;
    }

    /* Server. */
    for (size_t g = 0; has13 && g < cfg->n_groups; g++) {
        if (g == 0 && p->exact13)
            continue;
        only13.first_group = g;
        if ((rc = prio_make(cfg, &only13, &p->first13[g], err)) != TLSPLUG_OK)
            return rc;
    }
    for (size_t i = 0; has12 && !p->exact12 && i < cfg->n_suites12; i++) {
        struct prio_spec one = {.nc = 0, .nkx = 0, .first_group = 0, .server = 1};
        suite_lookup(cfg->suites12[i], &su);
        add_cipher(&one, su.cipher);
        add_kx(&one, su.kx);
        if ((rc = prio_make(cfg, &one, &p->one12[i], err)) != TLSPLUG_OK)
            return rc;
    }
    p->hook = !p->exact12 || p->first13[0] || p->first13[1] || !has12 || !has13 ||
              cfg->n_sni_certs;
    return TLSPLUG_OK;
}

/* ---- Server: the ClientHello hook --------------------------------------------- */

/* What the server reads of a ClientHello before GnuTLS does. */
struct hello_seen {
    int versions_present;
    int has12, has13;
    char sni[256]; /* first host_name, "" if none */
    uint16_t shares[8]; /* key share groups, in the client's order */
    size_t n_shares;
};

static int hello_ext(void *ptr, unsigned tls_id, const unsigned char *data, unsigned size)
{
    struct hello_seen *h = ptr;
    if (tls_id == 43 && size >= 1) { /* supported_versions */
        h->versions_present = 1;
        for (unsigned i = 1; i + 1 < size && i < 1u + data[0]; i += 2) {
            if (data[i] == 3 && data[i + 1] == 3)
                h->has12 = 1;
            else if (data[i] == 3 && data[i + 1] == 4)
                h->has13 = 1;
        }
    } else if (tls_id == 0 && size >= 5 && data[2] == 0) { /* server_name: host_name */
        unsigned len = (unsigned)(data[3] << 8 | data[4]);
        if (len < sizeof h->sni && 5u + len <= size && !memchr(data + 5, 0, len)) {
            memcpy(h->sni, data + 5, len);
            h->sni[len] = 0;
        }
    } else if (tls_id == 51 && size >= 2) { /* key_share */
        for (unsigned i = 2; i + 4 <= size && h->n_shares < 8;) {
            h->shares[h->n_shares++] = (uint16_t)(data[i] << 8 | data[i + 1]);
            i += 4 + (data[i + 2] << 8 | data[i + 3]);
        }
    }
    return 0;
}

/* The cipher_suites vector of a ClientHello body, or NULL. */
static const uint8_t *hello_suites(const gnutls_datum_t *msg, size_t *len)
{
    size_t off = 2 + 32;
    if (msg->size < off + 1)
        return NULL;
    off += 1 + msg->data[off]; /* session id */
    if (msg->size < off + 2)
        return NULL;
    *len = (size_t)msg->data[off] << 8 | msg->data[off + 1];
    off += 2;
    return msg->size < off + *len ? NULL : msg->data + off;
}

static int kx_fits_cert(gnutls_kx_algorithm_t kx, gnutls_pk_algorithm_t pk)
{
    if (pk == GNUTLS_PK_UNKNOWN)
        return 1; /* no certificate of ours to judge by */
    switch (kx) {
    case GNUTLS_KX_ECDHE_ECDSA:
        return pk == GNUTLS_PK_EC || pk == GNUTLS_PK_EDDSA_ED25519 || pk == GNUTLS_PK_EDDSA_ED448;
    case GNUTLS_KX_ECDHE_RSA:
    case GNUTLS_KX_DHE_RSA:
        return pk == GNUTLS_PK_RSA || pk == GNUTLS_PK_RSA_PSS;
    default:
        return 1;
    }
}

/* Differences fixed here, before GnuTLS reads the hello:
 *  - Versions: a GnuTLS server with only one of TLS 1.2 / 1.3 does not
 *    refuse a client of the other version (without 1.3 it ignores
 *    supported_versions; with 1.3 only it goes on with a 1.2 client) and
 *    fails later with "no cipher suites".  The others send protocol_version.
 *  - Groups: with %SERVER_PRECEDENCE a TLS 1.3 server asks for its own
 *    first group (HelloRetryRequest) even when the client sent a share for
 *    another allowed group; OpenSSL takes the client's first acceptable
 *    share.
 *  - Suites: see the top of the file.
 *  - Certificates chosen by SNI: tlsplug's rule (tlsplug__sni_cert_pick),
 *    not GnuTLS's own matching of names in the credentials. */
static int server_hello_hook(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
                             const gnutls_datum_t *msg)
{
    struct gt_sess *gs = gnutls_session_get_ptr(s);
    const struct gt_ctx *c = gs->ctx;
    const struct gt_prio *p = &c->prio;
    const tlsplug_config *cfg = c->cfg;
    struct hello_seen h;
    memset(&h, 0, sizeof h);
    if (!incoming || htype != GNUTLS_HANDSHAKE_CLIENT_HELLO || msg->size < 2)
        return 0;
    /* A hello GnuTLS cannot parse is GnuTLS's to refuse. */
    if (gnutls_ext_raw_parse(&h, hello_ext, msg, GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO) < 0)
        return 0;
    if (!h.versions_present) /* legacy_version: TLS 1.2 at most */
        h.has12 = msg->data[0] == 3 && msg->data[1] >= 3;
    const struct gt_cert *cert = &c->cert;
    if (c->n_sni) {
        int i = tlsplug__sni_cert_pick(cfg, h.sni[0] ? h.sni : NULL);
        if (i >= 0 && (size_t)i < c->n_sni) {
            cert = &c->sni[i];
            int rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cert->cred);
            if (rc < 0)
                return rc;
        }
    }
    int ok12 = h.has12 && cfg->min_version <= TLSPLUG_TLS1_2;
    int ok13 = h.has13 && cfg->max_version >= TLSPLUG_TLS1_3;
    if (!ok12 && !ok13)
        return GNUTLS_E_UNSUPPORTED_VERSION_PACKET;

    if (ok13) {
        /* the client's first share in a group we allow decides */
        size_t g = 0;
        for (size_t k = 0, found = 0; k < h.n_shares && !found; k++)
            for (size_t i = 0; i < cfg->n_groups && !found; i++)
                if (cfg->groups[i] == h.shares[k]) {
                    g = i;
                    found = 1;
                }
        return p->first13[g] ? gnutls_priority_set(s, p->first13[g]) : 0;
    }

    if (p->exact12)
        return 0;
    /* TLS 1.2: our first listed suite the client offers and our
     * certificate can serve, and nothing else. */
    size_t len = 0;
    const uint8_t *offered = hello_suites(msg, &len);
    for (size_t i = 0; offered && i < cfg->n_suites12; i++) {
        struct gt_suite su;
        if (!p->one12[i] || !suite_lookup(cfg->suites12[i], &su) ||
            !kx_fits_cert(su.kx, cert->pk))
            continue;
        for (size_t j = 0; j + 1 < len; j += 2)
            if ((uint16_t)(offered[j] << 8 | offered[j + 1]) == su.id)
                return gnutls_priority_set(s, p->one12[i]);
    }
    return GNUTLS_E_NO_CIPHER_SUITES;
}

/* ---- Client: the ServerHello hook ----------------------------------------------- */

/* The client offered more than its lists (see the top of the file): refuse a
 * suite it did not list. */
static int client_hello_hook(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
                             const gnutls_datum_t *msg)
{
    struct gt_sess *gs = gnutls_session_get_ptr(s);
    const tlsplug_config *cfg = gs->ctx->cfg;
    if (!incoming || htype != GNUTLS_HANDSHAKE_SERVER_HELLO)
        return 0;
    /* The cipher getters say nothing before the keys change: read the
     * suite from the message (version, random, session id, suite). */
    if (msg->size < 35 || msg->size < 35u + msg->data[34] + 2)
        return 0; /* GnuTLS refuses it itself */
    const uint8_t *cs = msg->data + 35 + msg->data[34];
    uint16_t id = (uint16_t)(cs[0] << 8 | cs[1]);
    int ok = gnutls_protocol_get_version(s) == GNUTLS_TLS1_3
                 ? listed(cfg->suites13, cfg->n_suites13, id)
                 : listed(cfg->suites12, cfg->n_suites12, id);
    if (ok)
        return 0;
    tlsplug__err_set(tlsplug__conn_err(gs->conn), TLSPLUG_E_NO_SHARED_CIPHER,
                     GNUTLS_E_UNKNOWN_CIPHER_SUITE,
                     "the server chose %s, which this client does not list (GnuTLS offers "
                     "every listed cipher with every key exchange and both TLS versions)",
                     suite_name(id));
    gs->err_filled = 1;
    gs->fail_cls = TLSPLUG_E_NO_SHARED_CIPHER;
    gs->fail_alert = GNUTLS_A_HANDSHAKE_FAILURE;
    return GNUTLS_E_UNKNOWN_CIPHER_SUITE;
}

int tlsplug__gnutls_prio_apply(struct gt_sess *gs)
{
    const struct gt_ctx *c = gs->ctx;
    const struct gt_prio *p = gs->side == TLSPLUG_SIDE_CLIENT && c->prio_client.main
                                  ? &c->prio_client
                                  : &c->prio;
    int rc = gnutls_priority_set(gs->s, p->main);
    if (rc < 0 || !p->hook)
        return rc;
    if (gs->side == TLSPLUG_SIDE_SERVER)
        gnutls_handshake_set_hook_function(gs->s, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_PRE,
                                           server_hello_hook);
    else
        gnutls_handshake_set_hook_function(gs->s, GNUTLS_HANDSHAKE_SERVER_HELLO, GNUTLS_HOOK_POST,
                                           client_hello_hook);
    return 0;
}
