/* Names shared by every backend: implementations, capabilities, IANA cipher
 * suites and groups, TLS alerts and versions.  Backends normalise through the
 * IANA numbers so the same negotiation reads the same everywhere. */
#include <string.h>
#include <strings.h>

#include "core/backend.h"

static const char *const impl_names[TLSPLUG_IMPL_COUNT] = {NULL, "openssl", "mbedtls", "wolfssl",
                                                           "gnutls"};

const char *tlsplug_impl_name(tlsplug_impl impl)
{
    return (unsigned)impl < TLSPLUG_IMPL_COUNT ? impl_names[impl] : NULL;
}

tlsplug_impl tlsplug_impl_from_name(const char *name)
{
    for (int i = 1; name && i < TLSPLUG_IMPL_COUNT; i++)
        if (strcasecmp(name, impl_names[i]) == 0)
            return (tlsplug_impl)i;
    return TLSPLUG_IMPL_NONE;
}

static const char *const cap_names[] = {
    "tls1.2",         "tls1.3",       "sni",         "alpn",     "session-tickets",
    "session-cache",  "keylog",       "verify-callback", "client-cert", "key-password",
    "chacha20",       "x25519",       "adopt-ctx",   "sni-certificates",
};

const char *tlsplug_cap_name(unsigned cap_bit)
{
    for (unsigned i = 0; i < sizeof cap_names / sizeof cap_names[0]; i++)
        if (cap_bit == (1u << i))
            return cap_names[i];
    return NULL;
}

/* Only forward-secret AEAD suites exist for tlsplug.  The order of this table
 * is the default preference order on every backend. */
static const tlsplug_suite_info suites[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256", TLSPLUG_TLS1_3, 0},
    {0x1302, "TLS_AES_256_GCM_SHA384", TLSPLUG_TLS1_3, 0},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", TLSPLUG_TLS1_3, 1},
    {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", TLSPLUG_TLS1_2, 0},
    {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", TLSPLUG_TLS1_2, 0},
    {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", TLSPLUG_TLS1_2, 0},
    {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", TLSPLUG_TLS1_2, 0},
    {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", TLSPLUG_TLS1_2, 1},
    {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", TLSPLUG_TLS1_2, 1},
    {0, NULL, 0, 0},
};

const tlsplug_suite_info *tlsplug__suite_by_id(uint16_t id)
{
    for (const tlsplug_suite_info *s = suites; s->name; s++)
        if (s->id == id)
            return s;
    return NULL;
}

const tlsplug_suite_info *tlsplug__suite_by_name(const char *name)
{
    for (const tlsplug_suite_info *s = suites; s->name; s++)
        if (strcasecmp(s->name, name) == 0)
            return s;
    return NULL;
}

const tlsplug_suite_info *tlsplug__suite_table(void)
{
    return suites;
}

const char *tlsplug_cipher_name(uint16_t id)
{
    const tlsplug_suite_info *s = tlsplug__suite_by_id(id);
    return s ? s->name : NULL;
}

/* The default group order is the first three entries. */
static const tlsplug_group_info groups[] = {
    {29, "x25519"}, {23, "secp256r1"}, {24, "secp384r1"}, {25, "secp521r1"}, {30, "x448"},
    {0, NULL},
};

const tlsplug_group_info *tlsplug__group_by_id(uint16_t id)
{
    for (const tlsplug_group_info *g = groups; g->name; g++)
        if (g->id == id)
            return g;
    return NULL;
}

const tlsplug_group_info *tlsplug__group_by_name(const char *name)
{
    /* Accept the common aliases too: users copy them from other tools. */
    static const struct {
        const char *alias, *name;
    } aliases[] = {{"X25519", "x25519"}, {"P-256", "secp256r1"}, {"prime256v1", "secp256r1"},
                   {"P-384", "secp384r1"}, {"P-521", "secp521r1"}, {"X448", "x448"}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].alias) == 0)
            name = aliases[i].name;
    for (const tlsplug_group_info *g = groups; g->name; g++)
        if (strcasecmp(g->name, name) == 0)
            return g;
    return NULL;
}

const char *tlsplug_group_name(uint16_t id)
{
    const tlsplug_group_info *g = tlsplug__group_by_id(id);
    return g ? g->name : NULL;
}

const char *tlsplug_version_name(int version)
{
    switch (version) {
    case TLSPLUG_TLS1_2:
        return "TLS1.2";
    case TLSPLUG_TLS1_3:
        return "TLS1.3";
    case 0x0302:
        return "TLS1.1";
    case 0x0301:
        return "TLS1.0";
    default:
        return "unknown";
    }
}

const char *tlsplug__alert_name(int alert)
{
    switch (alert) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 100: return "no_renegotiation";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 113: return "bad_certificate_status_response";
    case 115: return "unknown_psk_identity";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return "unknown";
    }
}

int tlsplug__cert_alert(int cls, int version)
{
    /* OpenSSL's choices (ssl_x509err2alert), so a peer sees the same alert
     * whichever backend refused it */
    switch (cls) {
    case TLSPLUG_E_CERT_EXPIRED:
        return 45; /* certificate_expired */
    case TLSPLUG_E_CERT_UNTRUSTED:
        return 48; /* unknown_ca */
    case TLSPLUG_E_CERT_REVOKED:
        return 44; /* certificate_revoked */
    case TLSPLUG_E_CERT_BAD_SIGNATURE:
        return 51; /* decrypt_error */
    case TLSPLUG_E_CERT_REJECTED:
        return 40; /* handshake_failure: an application verdict */
    case TLSPLUG_E_CERT_REQUIRED:
        return version == TLSPLUG_TLS1_3 ? 116 : 40; /* certificate_required */
    case TLSPLUG_E_NO_MEMORY:
        return 80; /* internal_error */
    default: /* not yet valid, hostname, invalid */
        return 42; /* bad_certificate */
    }
}
