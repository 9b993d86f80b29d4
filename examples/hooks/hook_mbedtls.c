/* ssl_configure_hook, mbedTLS half: the native object is an
 * mbedtls_ssl_context *.  mbedTLS 2.28 keeps nearly every setting on the
 * shared mbedtls_ssl_config (reach it with the ctx-configure hook); per
 * connection there is little to set, so this hook inspects. */
#include <stdio.h>
#include <tlsplug/mbedtls.h>

#include "hooks.h"

static int configure(void *native)
{
    mbedtls_ssl_context *ssl = native;
    printf("    mbedtls: hook got mbedtls_ssl_context %p (max record payload %d)\n", native,
           mbedtls_ssl_get_max_out_record_payload(ssl));
    return 0;
}

static void report(tlsplug_conn *conn)
{
    mbedtls_ssl_context *ssl = tlsplug_mbedtls_conn(conn);
    printf("    mbedtls: mbedtls_ssl_get_version=%s mbedtls_ssl_get_ciphersuite=%s\n",
           mbedtls_ssl_get_version(ssl), mbedtls_ssl_get_ciphersuite(ssl));
}

const struct native_hooks hooks_mbedtls = {TLSPLUG_IMPL_MBEDTLS, configure, report};
