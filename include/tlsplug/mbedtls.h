/*
 * tlsplug on mbedTLS 2.28: typed access to the native objects.
 *
 * Ownership and lifetime:
 *  - tlsplug_mbedtls_ctx() returns the context's mbedtls_ssl_config, owned by
 *    the tlsplug context (together with the RNG, certificates, key, trust
 *    anchors, cipher suite / curve / ALPN arrays, ticket and cache contexts
 *    it points to).  Valid while the context lives (connections keep it
 *    alive).  Change it only from a ctx-configure hook: contexts may be
 *    shared between threads once made.  A context made for both sides holds
 *    a server configuration; client connections of it run on a shallow copy
 *    taken when the connection is made.
 *  - tlsplug_mbedtls_conn() returns the connection's mbedtls_ssl_context,
 *    owned by the connection and valid until tlsplug_conn_free.  Do not
 *    replace its bio callbacks, and do not call mbedtls_ssl_handshake /
 *    read / write on it yourself: tlsplug drives it.
 *  - tlsplug_mbedtls_adopt() hands a configuration you made to tlsplug.  On
 *    success tlsplug owns the mbedtls_ssl_config structure: it calls
 *    mbedtls_ssl_config_free() and then mbedtls_free() on it, so allocate it
 *    with mbedtls_calloc() (calloc() on Debian's build).  What the
 *    configuration points to (RNG context, own certificate and key, CA
 *    chain, suite/curve/ALPN arrays, ticket or cache context) stays yours:
 *    keep it alive until the tlsplug context is freed (its last connection
 *    gone).  Its settings are used as they are, with two exceptions:
 *    tlsplug chains its own SNI callback in front of yours (to report the
 *    name received), and it runs certificate checks per connection in
 *    OPTIONAL mode and decides itself (authmode NONE = no verification,
 *    OPTIONAL = a client certificate may be absent but a presented one must
 *    verify, REQUIRED = must be present and valid), so the outcome is the
 *    same as with a tlsplug-made context.  The configuration must have an
 *    RNG (mbedtls_ssl_conf_rng) and be a TLS (not DTLS) one.  On failure
 *    you keep ownership.
 */
#ifndef TLSPLUG_MBEDTLS_H
#define TLSPLUG_MBEDTLS_H

#include <tlsplug/tlsplug.h>

#include <mbedtls/ssl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The context's configuration, or NULL if ctx is not an mbedTLS context. */
static inline mbedtls_ssl_config *tlsplug_mbedtls_ctx(tlsplug_ctx *ctx)
{
    return (mbedtls_ssl_config *)tlsplug_ctx_native(ctx, TLSPLUG_IMPL_MBEDTLS);
}

/* The connection's SSL context, or NULL if conn is not an mbedTLS one. */
static inline mbedtls_ssl_context *tlsplug_mbedtls_conn(tlsplug_conn *conn)
{
    return (mbedtls_ssl_context *)tlsplug_conn_native(conn, TLSPLUG_IMPL_MBEDTLS);
}

/* Make a tlsplug context that owns conf (see above).  side: CLIENT or
 * SERVER (must match conf's endpoint), or BOTH.  err as in tlsplug_ctx_new. */
static inline int tlsplug_mbedtls_adopt(tlsplug_ctx **out, mbedtls_ssl_config *conf,
                                        tlsplug_side side, tlsplug_error **err)
{
    return tlsplug_ctx_adopt(out, TLSPLUG_IMPL_MBEDTLS, conf, side, NULL, err);
}

#ifdef __cplusplus
}
#endif

#endif
