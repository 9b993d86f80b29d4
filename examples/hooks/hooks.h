/* Per-backend halves of the ssl_configure_hook example: one file per TLS
 * library, because their headers cannot all share one translation unit
 * (wolfSSL's <wolfssl/ssl.h> and OpenSSL's <openssl/ssl.h> conflict). */
#ifndef EXAMPLE_HOOKS_H
#define EXAMPLE_HOOKS_H

#include <tlsplug/tlsplug.h>

struct native_hooks {
    tlsplug_impl impl;
    /* The ssl-configure hook's work on this library's per-connection
     * object, before the handshake.  0 to go on. */
    int (*configure)(void *native);
    /* After the handshake: ask the library itself, through the typed
     * accessor of include/tlsplug/<backend>.h. */
    void (*report)(tlsplug_conn *conn);
};

extern const struct native_hooks hooks_openssl, hooks_mbedtls, hooks_wolfssl, hooks_gnutls;

#endif
