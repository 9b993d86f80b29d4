/*
 * OpenSSL codes -> tlsplug classes: the one place where the backend decides
 * what a library failure means.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "ossl_int.h"

static const struct {
    long x509;
    int cls;
} x509_classes[] = {
    {X509_V_ERR_CERT_HAS_EXPIRED, TLSPLUG_E_CERT_EXPIRED},
    {X509_V_ERR_CERT_NOT_YET_VALID, TLSPLUG_E_CERT_NOT_YET_VALID},
    {X509_V_ERR_HOSTNAME_MISMATCH, TLSPLUG_E_CERT_HOSTNAME},
    {X509_V_ERR_IP_ADDRESS_MISMATCH, TLSPLUG_E_CERT_HOSTNAME},
    {X509_V_ERR_EMAIL_MISMATCH, TLSPLUG_E_CERT_HOSTNAME},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_CERT_UNTRUSTED, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_CERT_REJECTED, TLSPLUG_E_CERT_UNTRUSTED},
    {X509_V_ERR_CERT_REVOKED, TLSPLUG_E_CERT_REVOKED},
    {X509_V_ERR_CERT_SIGNATURE_FAILURE, TLSPLUG_E_CERT_BAD_SIGNATURE},
    {X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE, TLSPLUG_E_CERT_BAD_SIGNATURE},
};

int tlsplug__ossl_x509_class(long x509_err)
{
    for (size_t i = 0; i < sizeof x509_classes / sizeof x509_classes[0]; i++)
        if (x509_classes[i].x509 == x509_err)
            return x509_classes[i].cls;
    return TLSPLUG_E_CERT_INVALID; /* any other defect of the chain */
}

/* Local decisions of libssl (ERR_LIB_SSL reasons).  Received alerts are not
 * here: they are the reasons SSL_AD_REASON_OFFSET + alert. */
#define VERIFY_RESULT 1 /* class comes from SSL_get_verify_result */

static const struct {
    int reason;
    int cls;
} ssl_classes[] = {
    {SSL_R_CERTIFICATE_VERIFY_FAILED, VERIFY_RESULT},
    {SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE, TLSPLUG_E_CERT_REQUIRED},
    {SSL_R_NO_SHARED_CIPHER, TLSPLUG_E_NO_SHARED_CIPHER},
    {SSL_R_NO_SHARED_GROUPS, TLSPLUG_E_NO_SHARED_CIPHER},
    {SSL_R_NO_SUITABLE_KEY_SHARE, TLSPLUG_E_NO_SHARED_CIPHER},
    {SSL_R_NO_SUITABLE_GROUPS, TLSPLUG_E_NO_SHARED_CIPHER},
    {SSL_R_NO_CIPHERS_AVAILABLE, TLSPLUG_E_NO_SHARED_CIPHER},
    {SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS, TLSPLUG_E_NO_SHARED_CIPHER},
    {SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM, TLSPLUG_E_NO_SHARED_CIPHER},
    {SSL_R_UNSUPPORTED_PROTOCOL, TLSPLUG_E_PROTOCOL_VERSION},
    {SSL_R_WRONG_VERSION_NUMBER, TLSPLUG_E_PROTOCOL_VERSION},
    {SSL_R_WRONG_SSL_VERSION, TLSPLUG_E_PROTOCOL_VERSION},
    {SSL_R_VERSION_TOO_LOW, TLSPLUG_E_PROTOCOL_VERSION},
    {SSL_R_VERSION_TOO_HIGH, TLSPLUG_E_PROTOCOL_VERSION},
    {SSL_R_NO_PROTOCOLS_AVAILABLE, TLSPLUG_E_PROTOCOL_VERSION},
    {SSL_R_UNKNOWN_PROTOCOL, TLSPLUG_E_PROTOCOL_VERSION},
    {SSL_R_INAPPROPRIATE_FALLBACK, TLSPLUG_E_PROTOCOL_VERSION},
    {SSL_R_NO_APPLICATION_PROTOCOL, TLSPLUG_E_NO_ALPN},
    {SSL_R_UNEXPECTED_EOF_WHILE_READING, TLSPLUG_E_TRUNCATED},
    {SSL_R_PROTOCOL_IS_SHUTDOWN, TLSPLUG_E_CLOSED},
    {SSL_R_HTTP_REQUEST, TLSPLUG_E_NOT_TLS},
    {SSL_R_HTTPS_PROXY_REQUEST, TLSPLUG_E_NOT_TLS},
    {SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC, TLSPLUG_E_PROTOCOL},
    {SSL_R_DECRYPTION_FAILED, TLSPLUG_E_PROTOCOL},
    {SSL_R_RECORD_LENGTH_MISMATCH, TLSPLUG_E_PROTOCOL},
    {SSL_R_PACKET_LENGTH_TOO_LONG, TLSPLUG_E_PROTOCOL},
    {SSL_R_ENCRYPTED_LENGTH_TOO_LONG, TLSPLUG_E_PROTOCOL},
    {SSL_R_DATA_LENGTH_TOO_LONG, TLSPLUG_E_PROTOCOL},
    {SSL_R_RECORD_TOO_SMALL, TLSPLUG_E_PROTOCOL},
    {SSL_R_BAD_RECORD_TYPE, TLSPLUG_E_PROTOCOL},
    {SSL_R_UNEXPECTED_RECORD, TLSPLUG_E_PROTOCOL},
    {SSL_R_UNEXPECTED_MESSAGE, TLSPLUG_E_PROTOCOL},
    {SSL_R_BAD_LENGTH, TLSPLUG_E_PROTOCOL},
    {SSL_R_LENGTH_MISMATCH, TLSPLUG_E_PROTOCOL},
    {SSL_R_BAD_PACKET_LENGTH, TLSPLUG_E_PROTOCOL},
    {SSL_R_BAD_PACKET, TLSPLUG_E_PROTOCOL},
    {SSL_R_EXCESSIVE_MESSAGE_SIZE, TLSPLUG_E_PROTOCOL},
    {SSL_R_BAD_DECOMPRESSION, TLSPLUG_E_PROTOCOL},
    {SSL_R_BAD_EXTENSION, TLSPLUG_E_PROTOCOL},
    {SSL_R_BAD_KEY_SHARE, TLSPLUG_E_PROTOCOL},
};

static int reason_class(unsigned long code)
{
    int reason = ERR_GET_REASON(code);
    if (reason == ERR_R_MALLOC_FAILURE)
        return TLSPLUG_E_NO_MEMORY;
    if (ERR_GET_LIB(code) != ERR_LIB_SSL)
        return 0;
    for (size_t i = 0; i < sizeof ssl_classes / sizeof ssl_classes[0]; i++)
        if (ssl_classes[i].reason == reason)
            return ssl_classes[i].cls;
    return 0;
}

static int received_alert(unsigned long code)
{
    int reason = ERR_GET_REASON(code);
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
        reason < SSL_AD_REASON_OFFSET + 256)
        return reason - SSL_AD_REASON_OFFSET;
    return -1;
}

/* A local failure: the record also names the alert libssl sent for it. */
static int finish(ossl_sess *s, int cls)
{
    struct tlsplug_error *e = tlsplug__conn_err(s->conn);
    if (s->sent_alert >= 0)
        e->alert = s->sent_alert;
    ERR_clear_error();
    return cls;
}

int tlsplug__ossl_step_error(ossl_sess *s, int ret, int dflt, const char *what)
{
    struct tlsplug_error *e = tlsplug__conn_err(s->conn);
    switch (SSL_get_error(s->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        return TLSPLUG_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLSPLUG_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return tlsplug__err_set(e, TLSPLUG_E_CLOSED, 0, "peer sent close_notify");
    default:
        break;
    }

    /* The verify decision point already filled the record: keep it. */
    if (s->verify_called && s->verify_final != TLSPLUG_OK)
        return finish(s, s->verify_final);
    /* Transport failures: core knows better what they were. */
    if (s->io_status == TLSPLUG_E_NOT_TLS)
        return finish(s, tlsplug__err_set(e, TLSPLUG_E_NOT_TLS, 0,
                                          "%s: the peer does not speak TLS", what));

    /* The first entry the table knows is the cause; later ones are the
     * consequences libssl stacked on top. */
    unsigned long code, first = 0, chosen = 0;
    int cls = 0, alert = -1;
    while ((code = ERR_get_error()) != 0) {
        if (!first)
            first = code;
        if (cls)
            continue;
        if ((alert = received_alert(code)) >= 0) {
            chosen = code;
            cls = TLSPLUG_E_PEER_ALERT;
        } else if ((cls = reason_class(code)) != 0) {
            chosen = code;
        }
    }
    if (cls == TLSPLUG_E_PEER_ALERT) {
        ERR_clear_error();
        return tlsplug__peer_alert(s->conn, alert, (long)chosen);
    }
    if (cls == VERIFY_RESULT) {
        long vr = SSL_get_verify_result(s->ssl);
        return finish(s, tlsplug__err_set(e, tlsplug__ossl_x509_class(vr), vr,
                                          "%s: certificate verify failed: %s", what,
                                          X509_verify_cert_error_string(vr)));
    }
    if (!chosen)
        chosen = first;
    if (!chosen) {
        /* Nothing queued: the BIO failed. */
        if (s->io_status == TLSPLUG_E_CLOSED)
            return finish(s, tlsplug__err_set(e, TLSPLUG_E_TRUNCATED, 0,
                                              "%s: connection closed without close_notify",
                                              what));
        int io = s->io_status < 0 ? s->io_status : TLSPLUG_E_IO;
        return finish(s, tlsplug__err_set(e, io, 0, "%s: transport failed (%s)", what,
                                          tlsplug_error_name(io)));
    }
    char text[200];
    ERR_error_string_n(chosen, text, sizeof text);
    return finish(s, tlsplug__err_set(e, cls ? cls : dflt, (long)chosen, "%s: %s", what, text));
}
