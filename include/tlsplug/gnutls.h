/*
 * Typed access to the GnuTLS objects behind tlsplug contexts and connections.
 *
 * Ownership and lifetime:
 *  - tlsplug_gnutls_ctx() returns the context's gnutls_certificate_credentials_t.
 *    The context owns it (whether tlsplug made it or adopted it): never free
 *    it.  It lives as long as the context, i.e. until tlsplug_ctx_free() and
 *    the last connection made from the context are gone.  Contexts may be
 *    shared by threads, so only read from it once connections exist.  It
 *    holds the default chain: a server session whose client asked (SNI) for
 *    a name set with tlsplug_config_add_sni_cert_* switches to a separate
 *    credentials object the context also owns.
 *  - tlsplug_gnutls_conn() returns the connection's gnutls_session_t, owned
 *    by the connection until tlsplug_conn_free().  Never replace its
 *    transport (push/pull functions, transport pointer), its session pointer
 *    (gnutls_session_set_ptr), its verify function or its priorities'
 *    version range: tlsplug drives I/O, verification and errors through them.
 *  - tlsplug_gnutls_adopt() hands a credentials object the caller made to a
 *    new context.  On success the context owns it and frees it with
 *    gnutls_certificate_free_credentials(); on failure the caller keeps it.
 *    The credentials' own settings (trust, certificates, verify flags) are
 *    used as they are.  priority is a GnuTLS priority string for the
 *    context's sessions, or NULL for tlsplug's default (the suites, groups and
 *    versions of a default tlsplug configuration).  Verification still runs
 *    through tlsplug with the default mode for the side (client: required,
 *    server: no client certificate requested).
 * All three return NULL / an error when the object is not a GnuTLS one.
 */
#ifndef TLSPLUG_GNUTLS_H
#define TLSPLUG_GNUTLS_H

#include <gnutls/gnutls.h>
#include <tlsplug/tlsplug.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline gnutls_certificate_credentials_t tlsplug_gnutls_ctx(tlsplug_ctx *ctx)
{
    return (gnutls_certificate_credentials_t)tlsplug_ctx_native(ctx, TLSPLUG_IMPL_GNUTLS);
}

static inline gnutls_session_t tlsplug_gnutls_conn(tlsplug_conn *conn)
{
    return (gnutls_session_t)tlsplug_conn_native(conn, TLSPLUG_IMPL_GNUTLS);
}

static inline int tlsplug_gnutls_adopt(tlsplug_ctx **out, gnutls_certificate_credentials_t cred,
                                       tlsplug_side side, const char *priority,
                                       tlsplug_error **err)
{
    return tlsplug_ctx_adopt(out, TLSPLUG_IMPL_GNUTLS, (void *)cred, side, priority, err);
}

#ifdef __cplusplus
}
#endif

#endif
