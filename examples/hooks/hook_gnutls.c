/* ssl_configure_hook, GnuTLS half: the native object is a gnutls_session_t.
 * tlsplug uses the session pointer, the priority and the handshake hook
 * functions itself; inspecting the session is always fine. */
#include <stdio.h>
#include <tlsplug/gnutls.h>

#include "hooks.h"

static int configure(void *native)
{
    gnutls_session_t s = native;
    printf("    gnutls: hook got gnutls_session_t %p (max record size %zu)\n", native,
           gnutls_record_get_max_size(s));
    return 0;
}

static void report(tlsplug_conn *conn)
{
    gnutls_session_t s = tlsplug_gnutls_conn(conn);
    char *desc = gnutls_session_get_desc(s);
    printf("    gnutls: gnutls_session_get_desc=%s\n", desc);
    gnutls_free(desc);
}

const struct native_hooks hooks_gnutls = {TLSPLUG_IMPL_GNUTLS, configure, report};
