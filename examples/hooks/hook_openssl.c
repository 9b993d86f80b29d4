/* ssl_configure_hook, OpenSSL half: the native object is an SSL *. */
#include <stdio.h>
#include <tlsplug/openssl.h>

#include "hooks.h"

/* A per-connection handshake tracer: something tlsplug does not abstract,
 * set on the one SSL it concerns (SSL_set_msg_callback). */
static void trace(int write_p, int version, int content_type, const void *buf, size_t len,
                  SSL *ssl, void *arg)
{
    if (content_type == SSL3_RT_HANDSHAKE && len > 0)
        printf("    openssl: %s handshake message type %u (%zu bytes)\n",
               write_p ? "sent" : "received", ((const unsigned char *)buf)[0], len);
}

static int configure(void *native)
{
    SSL *ssl = native;
    SSL_set_msg_callback(ssl, trace);
    printf("    openssl: hook got SSL %p (%s side)\n", native,
           SSL_is_server(ssl) ? "server" : "client");
    return 0;
}

static void report(tlsplug_conn *conn)
{
    SSL *ssl = tlsplug_openssl_conn(conn); /* NULL on any other backend */
    printf("    openssl: SSL_get_version=%s SSL_get_cipher=%s\n", SSL_get_version(ssl),
           SSL_get_cipher(ssl));
}

const struct native_hooks hooks_openssl = {TLSPLUG_IMPL_OPENSSL, configure, report};
