/* mbedTLS error codes and verification flags to tlsplug classes: the one
 * table of the backend. */
#include <stdio.h>

#include <mbedtls/bignum.h>
#include <mbedtls/cipher.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>

#include "mbed_int.h"

static const struct {
    int code;
    int cls;
} table[] = {
    /* No suite in common; the server also lands here when no group is
     * shared, because mbedTLS skips every ECDHE suite then. */
    {MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN, TLSPLUG_E_NO_SHARED_CIPHER},
    {MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE, TLSPLUG_E_NO_SHARED_CIPHER},
    {MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION, TLSPLUG_E_PROTOCOL_VERSION},
    {MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE, TLSPLUG_E_CERT_REQUIRED},
    /* Verification failures: core replaces these with the verdict. */
    {MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, TLSPLUG_E_CERT_INVALID},
    {MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE, TLSPLUG_E_CERT_INVALID},
    {MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED, TLSPLUG_E_CERT_INVALID},
    {MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED, TLSPLUG_E_CERT_UNTRUSTED},
    /* Malformed records. */
    {MBEDTLS_ERR_SSL_INVALID_MAC, TLSPLUG_E_PROTOCOL},
    {MBEDTLS_ERR_SSL_INVALID_RECORD, TLSPLUG_E_PROTOCOL},
    {MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE, TLSPLUG_E_PROTOCOL},
    {MBEDTLS_ERR_SSL_UNEXPECTED_RECORD, TLSPLUG_E_PROTOCOL},
    {MBEDTLS_ERR_SSL_BAD_INPUT_DATA, TLSPLUG_E_PROTOCOL},
    {MBEDTLS_ERR_SSL_COUNTER_WRAPPING, TLSPLUG_E_PROTOCOL},
    /* Transport: core overrides these with TRUNCATED / NOT_TLS. */
    {MBEDTLS_ERR_SSL_CONN_EOF, TLSPLUG_E_TRUNCATED},
    {MBEDTLS_ERR_NET_RECV_FAILED, TLSPLUG_E_IO},
    {MBEDTLS_ERR_NET_SEND_FAILED, TLSPLUG_E_IO},
    {MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY, TLSPLUG_E_CLOSED},
    /* Local configuration. */
    {MBEDTLS_ERR_SSL_NO_RNG, TLSPLUG_E_BAD_CONFIG},
    {MBEDTLS_ERR_SSL_BAD_CONFIG, TLSPLUG_E_BAD_CONFIG},
    {MBEDTLS_ERR_SSL_PRIVATE_KEY_REQUIRED, TLSPLUG_E_BAD_CONFIG},
    {MBEDTLS_ERR_SSL_CERTIFICATE_REQUIRED, TLSPLUG_E_BAD_CONFIG},
    {MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE, TLSPLUG_E_UNSUPPORTED},
    {MBEDTLS_ERR_SSL_INTERNAL_ERROR, TLSPLUG_E_INTERNAL},
    /* Memory, whichever module ran out. */
    {MBEDTLS_ERR_SSL_ALLOC_FAILED, TLSPLUG_E_NO_MEMORY},
    {MBEDTLS_ERR_X509_ALLOC_FAILED, TLSPLUG_E_NO_MEMORY},
    {MBEDTLS_ERR_PK_ALLOC_FAILED, TLSPLUG_E_NO_MEMORY},
    {MBEDTLS_ERR_ECP_ALLOC_FAILED, TLSPLUG_E_NO_MEMORY},
    {MBEDTLS_ERR_MD_ALLOC_FAILED, TLSPLUG_E_NO_MEMORY},
    {MBEDTLS_ERR_CIPHER_ALLOC_FAILED, TLSPLUG_E_NO_MEMORY},
    {MBEDTLS_ERR_MPI_ALLOC_FAILED, TLSPLUG_E_NO_MEMORY},
};

static int lookup(int code)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == code)
            return table[i].cls;
    return 0;
}

/* mbedTLS adds a low-level module code (bits 0-6) to a high-level one
 * (bits 7-14): try the whole code, then each part. */
int tlsplug__mbed_class(int code, int fallback)
{
    if (code >= 0)
        return fallback;
    int cls = lookup(code);
    if (!cls)
        cls = lookup(-((-code) & 0x7F80));
    if (!cls)
        cls = lookup(-((-code) & 0x007F));
    return cls ? cls : fallback;
}

int tlsplug__mbed_err(struct tlsplug_error *err, int cls, int code, const char *what)
{
    char text[160];
    mbedtls_strerror(code, text, sizeof text);
    return tlsplug__err_set(err, cls, code, "%s: %s (mbedTLS -0x%04X)", what, text,
                            (unsigned)-code);
}

int tlsplug__mbed_verify_alert(int cls)
{
    return tlsplug__cert_alert(cls, TLSPLUG_TLS1_2); /* mbedTLS 2.28 speaks 1.2 only */
}

int tlsplug__mbed_flags_class(unsigned flags)
{
    /* Chain problems first, the name last, as OpenSSL reports them. */
    static const struct {
        unsigned flag;
        int cls;
    } order[] = {
        {MBEDTLS_X509_BADCERT_NOT_TRUSTED, TLSPLUG_E_CERT_UNTRUSTED},
        {MBEDTLS_X509_BADCERT_REVOKED, TLSPLUG_E_CERT_REVOKED},
        {MBEDTLS_X509_BADCERT_EXPIRED, TLSPLUG_E_CERT_EXPIRED},
        {MBEDTLS_X509_BADCERT_FUTURE, TLSPLUG_E_CERT_NOT_YET_VALID},
        {MBEDTLS_X509_BADCERT_CN_MISMATCH, TLSPLUG_E_CERT_HOSTNAME},
    };
    flags &= ~(unsigned)(MBEDTLS_X509_BADCERT_MISSING | MBEDTLS_X509_BADCERT_SKIP_VERIFY);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (flags & order[i].flag)
            return order[i].cls;
    /* key usage, weak hash or key, curve not allowed, ... */
    return flags ? TLSPLUG_E_CERT_INVALID : TLSPLUG_OK;
}
