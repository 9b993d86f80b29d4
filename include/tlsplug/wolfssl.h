/*
 * tlsplug on wolfSSL 5.5: typed access to the native objects.
 *
 * <wolfssl/options.h> is included first, as wolfSSL requires: it carries the
 * build's feature macros (and, in the Debian build, redefines _FORTIFY_SOURCE
 * and defines OPENSSL_NO_EC).  Do not include this header and
 * <openssl/ssl.h> in the same file: the two libraries' headers conflict.
 *
 * Ownership and lifetime:
 *  - tlsplug_wolfssl_ctx() returns the WOLFSSL_CTX behind a context, or NULL
 *    when the context runs on another implementation.  It belongs to the
 *    tlsplug context and lives as long as it does (until the last connection
 *    made from it is freed).  Do not free it.  tlsplug never changes it after
 *    tlsplug_ctx_new() returned; changing it yourself while connections use
 *    it from other threads is your own synchronisation problem.
 *  - tlsplug_wolfssl_conn() returns the WOLFSSL behind a connection, or NULL
 *    for another implementation.  It belongs to the connection and is freed
 *    by tlsplug_conn_free().  Its I/O callbacks and their contexts
 *    (wolfSSL_SSLSetIORecv/Send, wolfSSL_SetIOReadCtx/WriteCtx) and its
 *    verify-callback context (wolfSSL_SetCertCbCtx) are tlsplug's: do not
 *    replace them, and do not call wolfSSL_read/write/shutdown/connect/accept
 *    on it yourself.  Inspecting it (wolfSSL_get_*) is fine.
 *  - tlsplug_wolfssl_adopt() wraps a WOLFSSL_CTX you made.  On success the
 *    tlsplug context owns it and calls wolfSSL_CTX_free() when the context
 *    goes away; on failure you keep it.  Its settings are used as they are
 *    (versions, suites, groups, certificates, verification mode and
 *    callback, tickets, ALPN through your ssl-configure hook): tlsplug only
 *    sets the I/O callbacks on each WOLFSSL, the SNI and the name to verify
 *    (wolfSSL_check_domain_name, which also takes an IP literal) from the
 *    connection options, and picks the side on a wolfSSLv23_method() (either-side)
 *    context.  Note that the Debian wolfSSL defaults are not safe (anonymous,
 *    RC4, 3DES, NULL and PSK suites, TLS 1.1): set a cipher list and a
 *    minimum version on a context you adopt.  A certificate failure is
 *    reported with the class of wolfSSL's error code.
 */
#ifndef TLSPLUG_WOLFSSL_H
#define TLSPLUG_WOLFSSL_H

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <tlsplug/tlsplug.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline WOLFSSL_CTX *tlsplug_wolfssl_ctx(tlsplug_ctx *ctx)
{
    return (WOLFSSL_CTX *)tlsplug_ctx_native(ctx, TLSPLUG_IMPL_WOLFSSL);
}

static inline WOLFSSL *tlsplug_wolfssl_conn(tlsplug_conn *conn)
{
    return (WOLFSSL *)tlsplug_conn_native(conn, TLSPLUG_IMPL_WOLFSSL);
}

/* side: CLIENT, SERVER or BOTH (BOTH needs a wolfSSLv23_method() context). */
static inline int tlsplug_wolfssl_adopt(tlsplug_ctx **out, WOLFSSL_CTX *native, tlsplug_side side,
                                        tlsplug_error **err)
{
    return tlsplug_ctx_adopt(out, TLSPLUG_IMPL_WOLFSSL, native, side, NULL, err);
}

#ifdef __cplusplus
}
#endif

#endif
