/*
 * tlsplug on OpenSSL 3: typed access to the native objects.
 *
 * Ownership and lifetime:
 *  - tlsplug_openssl_ctx() returns the SSL_CTX behind a context, or NULL when
 *    the context runs on another implementation.  The SSL_CTX belongs to the
 *    tlsplug context and lives as long as it does (that is, until the last
 *    connection made from it is freed).  Do not free it; take your own
 *    reference with SSL_CTX_up_ref() to keep it longer.  tlsplug never changes
 *    it after tlsplug_ctx_new() returned, so changing it yourself while
 *    connections use it from other threads is your own synchronisation
 *    problem, as with OpenSSL.
 *  - tlsplug_openssl_conn() returns the SSL behind a connection, or NULL for
 *    another implementation.  It belongs to the connection and is freed by
 *    tlsplug_conn_free().  Its BIO is tlsplug's: do not replace it, and do not
 *    call SSL_read/SSL_write/SSL_shutdown on it yourself (the engine keeps
 *    state around those calls).  Inspecting it (SSL_get_*) is fine.
 *  - tlsplug_openssl_adopt() wraps an SSL_CTX you made.  On success the
 *    tlsplug context owns it (it calls SSL_CTX_free() when the context goes
 *    away: take an SSL_CTX_up_ref() first if you want to keep using it); on
 *    failure you keep it.  Its settings are used as they are: tlsplug only
 *    attaches its own BIO, sets SNI / the verified host name from the
 *    connection options, sets the SSL_MODE_* bits its non-blocking I/O needs
 *    and (only if the SSL_CTX has none) an info callback that records sent
 *    alerts, all on each SSL, never on the SSL_CTX.  Certificate
 *    verification stays OpenSSL's (your SSL_CTX_set_verify mode and
 *    callbacks); a failure is reported with the certificate class of
 *    SSL_get_verify_result().
 */
#ifndef TLSPLUG_OPENSSL_H
#define TLSPLUG_OPENSSL_H

#include <openssl/ssl.h>
#include <tlsplug/tlsplug.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline SSL_CTX *tlsplug_openssl_ctx(tlsplug_ctx *ctx)
{
    return (SSL_CTX *)tlsplug_ctx_native(ctx, TLSPLUG_IMPL_OPENSSL);
}

static inline SSL *tlsplug_openssl_conn(tlsplug_conn *conn)
{
    return (SSL *)tlsplug_conn_native(conn, TLSPLUG_IMPL_OPENSSL);
}

/* side: CLIENT, SERVER or BOTH. */
static inline int tlsplug_openssl_adopt(tlsplug_ctx **out, SSL_CTX *native, tlsplug_side side,
                                        tlsplug_error **err)
{
    return tlsplug_ctx_adopt(out, TLSPLUG_IMPL_OPENSSL, native, side, NULL, err);
}

#ifdef __cplusplus
}
#endif

#endif
