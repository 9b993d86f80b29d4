/* GnuTLS error codes -> tlsplug classes: the backend's one table. */
#include <gnutls/gnutls.h>

#include "core/backend.h"
#include "backends/gnutls/gnutls_int.h"

static const struct {
    int code;
    int cls;
} code_table[] = {
    /* Nothing in common to negotiate with. */
    {GNUTLS_E_NO_CIPHER_SUITES, TLSPLUG_E_NO_SHARED_CIPHER},
    {GNUTLS_E_UNKNOWN_CIPHER_SUITE, TLSPLUG_E_NO_SHARED_CIPHER},
    {GNUTLS_E_INSUFFICIENT_CREDENTIALS, TLSPLUG_E_NO_SHARED_CIPHER},
    {GNUTLS_E_NO_COMMON_KEY_SHARE, TLSPLUG_E_NO_SHARED_CIPHER},
    {GNUTLS_E_ECC_NO_SUPPORTED_CURVES, TLSPLUG_E_NO_SHARED_CIPHER},
    {GNUTLS_E_ECC_UNSUPPORTED_CURVE, TLSPLUG_E_NO_SHARED_CIPHER},
    {GNUTLS_E_UNSUPPORTED_SIGNATURE_ALGORITHM, TLSPLUG_E_NO_SHARED_CIPHER},
    {GNUTLS_E_INCOMPATIBLE_SIG_WITH_KEY, TLSPLUG_E_NO_SHARED_CIPHER},
    {GNUTLS_E_UNSUPPORTED_VERSION_PACKET, TLSPLUG_E_PROTOCOL_VERSION},
    {GNUTLS_E_NO_APPLICATION_PROTOCOL, TLSPLUG_E_NO_ALPN},
    /* The client sent no certificate to a server that requires one. */
    {GNUTLS_E_NO_CERTIFICATE_FOUND, TLSPLUG_E_CERT_REQUIRED},
    {GNUTLS_E_CERTIFICATE_REQUIRED, TLSPLUG_E_CERT_REQUIRED},
    /* Core replaces these with the verdict it recorded. */
    {GNUTLS_E_CERTIFICATE_ERROR, TLSPLUG_E_CERT_INVALID},
    {GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR, TLSPLUG_E_CERT_INVALID},
    /* Malformed or unexpected records. */
    {GNUTLS_E_UNEXPECTED_PACKET_LENGTH, TLSPLUG_E_PROTOCOL},
    {GNUTLS_E_UNEXPECTED_PACKET, TLSPLUG_E_PROTOCOL},
    {GNUTLS_E_UNEXPECTED_HANDSHAKE_PACKET, TLSPLUG_E_PROTOCOL},
    {GNUTLS_E_DECRYPTION_FAILED, TLSPLUG_E_PROTOCOL},
    {GNUTLS_E_RECORD_OVERFLOW, TLSPLUG_E_PROTOCOL},
    /* Transport: core turns these into truncated / not-tls / io-error. */
    {GNUTLS_E_PREMATURE_TERMINATION, TLSPLUG_E_TRUNCATED},
    {GNUTLS_E_PULL_ERROR, TLSPLUG_E_IO},
    {GNUTLS_E_PUSH_ERROR, TLSPLUG_E_IO},
    {GNUTLS_E_MEMORY_ERROR, TLSPLUG_E_NO_MEMORY},
    {GNUTLS_E_INTERNAL_ERROR, TLSPLUG_E_INTERNAL},
};

int tlsplug__gnutls_class(int code)
{
    for (size_t i = 0; i < sizeof code_table / sizeof code_table[0]; i++)
        if (code_table[i].code == code)
            return code_table[i].cls;
    return TLSPLUG_E_HANDSHAKE;
}

int tlsplug__gnutls_is_transport(int code)
{
    return code == GNUTLS_E_PREMATURE_TERMINATION || code == GNUTLS_E_PULL_ERROR ||
           code == GNUTLS_E_PUSH_ERROR;
}
