/* wolfSSL error codes -> tlsplug classes: the backend's one mapping table. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "backends/wolfssl/wolfssl_int.h"

struct code_class {
    int code;
    int cls;
};

/* Certificate verdicts first.  Everything a chain or a hostname can fail
 * with that is not listed is CERT_INVALID.
 *
 * In the verify callback this OPENSSL_EXTRA build translates wolfCrypt's ASN
 * codes into X509_V_ERR numbers (positive; dates oddly as the "error in
 * field" pair), while hostname and other TLS-layer codes stay negative; a
 * failed handshake reports the native negative code.  Both forms are here. */
static const struct code_class table[] = {
    {X509_V_ERR_CERT_HAS_EXPIRED, TLSPLUG_E_CERT_EXPIRED},
    {X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD, TLSPLUG_E_CERT_EXPIRED},
    {X509_V_ERR_CERT_NOT_YET_VALID, TLSPLUG_E_CERT_NOT_YET_VALID},
    {X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD, TLSPLUG_E_CERT_NOT_YET_VALID},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_CERT_UNTRUSTED, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_CERT_SIGNATURE_FAILURE, TLSPLUG_E_CERT_BAD_SIGNATURE},
    {X509_V_ERR_CERT_REVOKED, TLSPLUG_E_CERT_REVOKED},
    {ASN_AFTER_DATE_E, TLSPLUG_E_CERT_EXPIRED},
    {ASN_BEFORE_DATE_E, TLSPLUG_E_CERT_NOT_YET_VALID},
    {DOMAIN_NAME_MISMATCH, TLSPLUG_E_CERT_HOSTNAME},
    {IPADDR_MISMATCH, TLSPLUG_E_CERT_HOSTNAME},
    {ASN_NO_SIGNER_E, TLSPLUG_E_CERT_UNTRUSTED},
    {ASN_SELF_SIGNED_E, TLSPLUG_E_CERT_UNTRUSTED},
    {NOT_CA_ERROR, TLSPLUG_E_CERT_UNTRUSTED},
    {MAX_CHAIN_ERROR, TLSPLUG_E_CERT_UNTRUSTED},
    {ASN_SIG_CONFIRM_E, TLSPLUG_E_CERT_BAD_SIGNATURE},
    {ASN_SIG_OID_E, TLSPLUG_E_CERT_BAD_SIGNATURE},
    {CRL_CERT_REVOKED, TLSPLUG_E_CERT_REVOKED},
    {OCSP_CERT_REVOKED, TLSPLUG_E_CERT_REVOKED},
    {VERIFY_CERT_ERROR, TLSPLUG_E_CERT_REJECTED},
    {NO_PEER_CERT, TLSPLUG_E_CERT_REQUIRED},
    {VERSION_ERROR, TLSPLUG_E_PROTOCOL_VERSION},
    {UNSUPPORTED_PROTO_VERSION, TLSPLUG_E_PROTOCOL_VERSION},
    {MATCH_SUITE_ERROR, TLSPLUG_E_NO_SHARED_CIPHER},
    {UNSUPPORTED_SUITE, TLSPLUG_E_NO_SHARED_CIPHER},
    {KEY_SHARE_ERROR, TLSPLUG_E_NO_SHARED_CIPHER},
    {ECC_CURVE_ERROR, TLSPLUG_E_NO_SHARED_CIPHER},
    {UNKNOWN_ALPN_PROTOCOL_NAME_E, TLSPLUG_E_NO_ALPN},
    {FATAL_ERROR, TLSPLUG_E_PEER_ALERT},
    {ZERO_RETURN, TLSPLUG_E_CLOSED},
    {MEMORY_ERROR, TLSPLUG_E_NO_MEMORY},
    {MEMORY_E, TLSPLUG_E_NO_MEMORY},
    {SOCKET_ERROR_E, TLSPLUG_E_IO},
    {SOCKET_PEER_CLOSED_E, TLSPLUG_E_IO},
    {SOCKET_NODATA, TLSPLUG_E_IO},
    {PARSE_ERROR, TLSPLUG_E_PROTOCOL},
    {BAD_HELLO, TLSPLUG_E_PROTOCOL},
    {UNKNOWN_HANDSHAKE_TYPE, TLSPLUG_E_PROTOCOL},
    {UNKNOWN_RECORD_TYPE, TLSPLUG_E_PROTOCOL},
    {DECRYPT_ERROR, TLSPLUG_E_PROTOCOL},
    {VERIFY_MAC_ERROR, TLSPLUG_E_PROTOCOL},
    {LENGTH_ERROR, TLSPLUG_E_PROTOCOL},
    {BUFFER_ERROR, TLSPLUG_E_PROTOCOL},
    {INCOMPLETE_DATA, TLSPLUG_E_PROTOCOL},
    {RECV_OVERFLOW_E, TLSPLUG_E_PROTOCOL},
    {OUT_OF_ORDER_E, TLSPLUG_E_PROTOCOL},
    {SANITY_MSG_E, TLSPLUG_E_PROTOCOL},
    {SANITY_CIPHER_E, TLSPLUG_E_PROTOCOL},
    {DUPLICATE_MSG_E, TLSPLUG_E_PROTOCOL},
    {NO_CHANGE_CIPHER_E, TLSPLUG_E_PROTOCOL},
    {HANDSHAKE_SIZE_ERROR, TLSPLUG_E_PROTOCOL},
    {DECODE_E, TLSPLUG_E_PROTOCOL},
    {BAD_KEY_SHARE_DATA, TLSPLUG_E_PROTOCOL},
    {MISSING_HANDSHAKE_DATA, TLSPLUG_E_PROTOCOL},
    {EXT_NOT_ALLOWED, TLSPLUG_E_PROTOCOL},
    {EXT_MISSING, TLSPLUG_E_PROTOCOL},
    {UNSUPPORTED_EXTENSION, TLSPLUG_E_PROTOCOL},
    {DUPLICATE_TLS_EXT_E, TLSPLUG_E_PROTOCOL},
    {INVALID_PARAMETER, TLSPLUG_E_PROTOCOL},
    {ALERT_COUNT_E, TLSPLUG_E_PROTOCOL},
    {AES_GCM_AUTH_E, TLSPLUG_E_PROTOCOL},
    {AES_CCM_AUTH_E, TLSPLUG_E_PROTOCOL},
    {MAC_CMP_FAILED_E, TLSPLUG_E_PROTOCOL},
    {BAD_FUNC_ARG, TLSPLUG_E_INTERNAL},
    /* Other certificate defects: structure, key usage, name constraints,
     * key sizes, revocation data. */
    {KEYUSE_SIGNATURE_E, TLSPLUG_E_CERT_INVALID},
    {KEYUSE_ENCIPHER_E, TLSPLUG_E_CERT_INVALID},
    {EXTKEYUSE_AUTH_E, TLSPLUG_E_CERT_INVALID},
    {ECC_KEY_SIZE_E, TLSPLUG_E_CERT_INVALID},
    {RSA_KEY_SIZE_E, TLSPLUG_E_CERT_INVALID},
    {CRL_MISSING, TLSPLUG_E_CERT_INVALID},
    {CRL_CERT_DATE_ERR, TLSPLUG_E_CERT_INVALID},
    {ASN_NAME_INVALID_E, TLSPLUG_E_CERT_INVALID},
    {ASN_PATHLEN_SIZE_E, TLSPLUG_E_CERT_INVALID},
    {ASN_PATHLEN_INV_E, TLSPLUG_E_CERT_INVALID},
    {ASN_CRIT_EXT_E, TLSPLUG_E_CERT_INVALID},
    {ASN_ALT_NAME_E, TLSPLUG_E_CERT_INVALID},
    {ASN_ECC_KEY_E, TLSPLUG_E_CERT_INVALID},
    {ASN_NO_SKID, TLSPLUG_E_CERT_INVALID},
    {ASN_NO_AKID, TLSPLUG_E_CERT_INVALID},
    {ASN_NO_KEYUSAGE, TLSPLUG_E_CERT_INVALID},
};

static const struct code_class *find(int code)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == code)
            return &table[i];
    return NULL;
}

int tlsplug__wolf_class(int code)
{
    const struct code_class *r = find(code);
    if (r)
        return r->cls;
    /* ASN_PARSE_E .. ASN_NO_PEM_HEADER: a certificate that does not parse. */
    if (code <= ASN_PARSE_E && code >= ASN_NO_PEM_HEADER)
        return TLSPLUG_E_CERT_INVALID;
    return TLSPLUG_E_HANDSHAKE;
}

int tlsplug__wolf_cert_class(int code)
{
    if (code == 0)
        return TLSPLUG_OK;
    int cls = tlsplug__wolf_class(code);
    return cls <= TLSPLUG_E_CERT_EXPIRED && cls >= TLSPLUG_E_CERT_INVALID ? cls
                                                                          : TLSPLUG_E_CERT_INVALID;
}

int tlsplug__wolf_err(struct tlsplug_error *e, int cls, int code, const char *what)
{
    /* Setters that fail with WOLFSSL_FAILURE (0) have no text to add. */
    if (code >= 0)
        return tlsplug__err_set(e, cls, code, "%s", what);
    char text[WOLFSSL_MAX_ERROR_SZ];
    wolfSSL_ERR_error_string_n((unsigned long)code, text, sizeof text);
    return tlsplug__err_set(e, cls, code, "%s: %s (wolfSSL %d)", what, text, code);
}
