/* ssl_configure_hook, wolfSSL half: the native object is a WOLFSSL *.
 * tlsplug/wolfssl.h includes <wolfssl/options.h> first, as wolfSSL needs. */
#include <stdio.h>
#include <tlsplug/wolfssl.h>

#include "hooks.h"

static int configure(void *native)
{
    WOLFSSL *ssl = native;
    printf("    wolfssl: hook got WOLFSSL %p (%s side)\n", native,
           wolfSSL_is_server(ssl) ? "server" : "client");
    return 0;
}

static void report(tlsplug_conn *conn)
{
    WOLFSSL *ssl = tlsplug_wolfssl_conn(conn);
    printf("    wolfssl: wolfSSL_get_version=%s wolfSSL_get_cipher=%s\n", wolfSSL_get_version(ssl),
           wolfSSL_get_cipher(ssl));
}

const struct native_hooks hooks_wolfssl = {TLSPLUG_IMPL_WOLFSSL, configure, report};
