/*
 * ssl_configure_hook: reach the TLS library under tlsplug for what tlsplug
 * does not abstract.  One ssl-configure hook serves every backend: it gets
 * the implementation and the native per-connection object (SSL *,
 * mbedtls_ssl_context *, WOLFSSL *, gnutls_session_t) before the handshake,
 * and dispatches on the implementation to code written for that library.
 * After the handshake the typed accessors of include/tlsplug/<backend>.h give
 * the native object back, and only to a caller naming the right library.
 *
 * Usage: ssl_configure_hook CA_FILE CERT_CHAIN KEY
 *
 * For each built backend, a client and a server engine of that backend talk
 * in memory (the sans-I/O engine: no sockets, no loop); the client's
 * configuration carries the hook.  The library-specific halves live in
 * hooks/hook_<backend>.c, one file each (see hooks/hooks.h for why).
 */
#include <stdio.h>
#include <string.h>

#include <tlsplug/tlsplug.h>

#include "hooks/hooks.h"

/* The backends this build has (the build defines EXAMPLE_HAVE_<BACKEND>). */
static const struct native_hooks *const table[] = {
#ifdef EXAMPLE_HAVE_OPENSSL
    &hooks_openssl,
#endif
#ifdef EXAMPLE_HAVE_MBEDTLS
    &hooks_mbedtls,
#endif
#ifdef EXAMPLE_HAVE_WOLFSSL
    &hooks_wolfssl,
#endif
#ifdef EXAMPLE_HAVE_GNUTLS
    &hooks_gnutls,
#endif
};
#define N_TABLE (sizeof table / sizeof table[0])

static const struct native_hooks *hooks_for(tlsplug_impl impl)
{
    for (size_t i = 0; i < N_TABLE; i++)
        if (table[i]->impl == impl)
            return table[i];
    return NULL;
}

static int hook_calls;

/* The one hook, registered with tlsplug_config_set_ssl_configure. */
static int ssl_configure(tlsplug_impl impl, void *native, void *arg)
{
    hook_calls++;
    const struct native_hooks *h = hooks_for(impl);
    return h ? h->configure(native) : 0; /* non-zero would fail the connection */
}

/* Moves the ciphertext one engine has to send into the other. */
static size_t pump(tlsplug_conn *from, tlsplug_conn *to)
{
    size_t len, avail;
    const void *out = tlsplug_conn_send_buf(from, &len);
    void *in = tlsplug_conn_recv_buf(to, &avail);
    size_t n = len < avail ? len : avail;
    if (n) {
        memcpy(in, out, n);
        tlsplug_conn_send_ack(from, n);
        tlsplug_conn_recv_ack(to, n);
    }
    return n;
}

static tlsplug_ctx *make_ctx(tlsplug_impl impl, tlsplug_side side, char **argv)
{
    tlsplug_config *cfg = tlsplug_config_new(side);
    if (side == TLSPLUG_SIDE_CLIENT) {
        tlsplug_config_add_trust_file(cfg, argv[1]);
        tlsplug_config_set_server_name(cfg, "localhost");
        tlsplug_config_set_ssl_configure(cfg, ssl_configure, NULL);
    } else {
        tlsplug_config_set_cert_file(cfg, argv[2], argv[3], NULL);
    }
    tlsplug_ctx *ctx = NULL;
    tlsplug_error *err = NULL;
    if (tlsplug_ctx_new(&ctx, cfg, impl, &err) != TLSPLUG_OK) {
        fprintf(stderr, "%s: %s\n", tlsplug_impl_name(impl), tlsplug_error_message(err));
        tlsplug_error_free(err);
    }
    tlsplug_config_free(cfg);
    return ctx;
}

static int run(tlsplug_impl impl, char **argv)
{
    printf("%s:\n", tlsplug_impl_name(impl));
    tlsplug_ctx *cctx = make_ctx(impl, TLSPLUG_SIDE_CLIENT, argv);
    tlsplug_ctx *sctx = make_ctx(impl, TLSPLUG_SIDE_SERVER, argv);
    tlsplug_conn *c = NULL, *s = NULL;
    int ok = cctx && sctx && tlsplug_conn_new(&c, cctx, NULL, NULL) == TLSPLUG_OK &&
             tlsplug_conn_new(&s, sctx, NULL, NULL) == TLSPLUG_OK;
    int rc_c = TLSPLUG_WANT_READ, rc_s = TLSPLUG_WANT_READ;
    for (int i = 0; ok && i < 100; i++) {
        rc_c = tlsplug_conn_handshake(c);
        rc_s = tlsplug_conn_handshake(s);
        size_t moved = pump(c, s) + pump(s, c);
        if ((rc_c == TLSPLUG_OK && rc_s == TLSPLUG_OK && !moved) || rc_c < 0 || rc_s < 0)
            break;
    }
    ok = ok && rc_c == TLSPLUG_OK && rc_s == TLSPLUG_OK;
    if (ok) {
        hooks_for(impl)->report(c);
        /* The type query: naming another library gives NULL, never a wrapper. */
        tlsplug_impl other = impl == TLSPLUG_IMPL_OPENSSL ? TLSPLUG_IMPL_GNUTLS : TLSPLUG_IMPL_OPENSSL;
        ok = tlsplug_conn_native(c, impl) != NULL && tlsplug_conn_native(c, other) == NULL;
    } else {
        const tlsplug_error *e = c ? tlsplug_conn_error(c) : NULL;
        fprintf(stderr, "  handshake failed: %s\n", e ? tlsplug_error_message(e) : "setup");
    }
    tlsplug_conn_free(c);
    tlsplug_conn_free(s);
    tlsplug_ctx_free(cctx);
    tlsplug_ctx_free(sctx);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: ssl_configure_hook CA_FILE CERT_CHAIN KEY\n");
        return 2;
    }
    tlsplug_impl impls[TLSPLUG_IMPL_COUNT];
    size_t n = tlsplug_impl_list(impls, TLSPLUG_IMPL_COUNT);
    int good = 0, calls_before;
    for (size_t i = 0; i < n; i++) {
        calls_before = hook_calls;
        if (run(impls[i], argv) && hook_calls == calls_before + 1)
            good++;
    }
    printf("%d of %zu backends: hook ran once per connection, native handle checked\n", good, n);
    return good == (int)n ? 0 : 1;
}
