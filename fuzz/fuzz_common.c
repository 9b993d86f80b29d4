#include <string.h>

#include "fuzz_common.h"

uint8_t fz_u8(fz *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

uint16_t fz_u16(fz *in)
{
    uint16_t hi = fz_u8(in);
    return (uint16_t)(hi << 8 | fz_u8(in));
}

size_t fz_bytes(fz *in, size_t want, const uint8_t **out)
{
    size_t k = want < in->n ? want : in->n;
    *out = in->p;
    in->p += k;
    in->n -= k;
    return k;
}

const char *fz_pki(const char *file)
{
    static char path[4][512];
    static unsigned k;
    k = (k + 1) % 4;
    const char *dir = getenv("TLSPLUG_FUZZ_PKI");
    snprintf(path[k], sizeof path[k], "%s/%s", dir ? dir : TLSPLUG_PKI_DIR, file);
    return path[k];
}

static tlsplug_ctx *make(tlsplug_config *cfg, int rc, tlsplug_impl impl, int quiet)
{
    tlsplug_ctx *ctx = NULL;
    tlsplug_error *err = NULL;
    if (rc == TLSPLUG_OK)
        rc = tlsplug_ctx_new(&ctx, cfg, impl, &err);
    else
        err = tlsplug_error_copy(tlsplug_config_error(cfg));
    if (rc && !quiet)
        fprintf(stderr, "fuzz: cannot make a context: %s\n",
                err ? tlsplug_error_message(err) : tlsplug_error_name(rc));
    tlsplug_error_free(err);
    tlsplug_config_free(cfg);
    return ctx;
}

static int pin(tlsplug_config *cfg, int v)
{
    return tlsplug_config_set_versions(cfg, v, v);
}

tlsplug_ctx *fz_new_client_ctx(unsigned v, tlsplug_impl impl)
{
    tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_CLIENT);
    FZ_CHECK(cfg);
    int rc = tlsplug_config_add_trust_file(cfg, fz_pki("ca.pem"));
    if (!rc && (v == 2 || v == 3))
        rc = tlsplug_config_set_cert_file(cfg, fz_pki("client-chain.pem"),
                                          fz_pki("client.key.pem"), NULL);
    if (!rc && (v == 1 || v == 2))
        rc = pin(cfg, TLSPLUG_TLS1_2);
    if (!rc && v == 3)
        rc = pin(cfg, TLSPLUG_TLS1_3);
    if (!rc && v == 3)
        rc = tlsplug_config_set_alpn_list(cfg, "h2");
    return make(cfg, rc, impl, v != 0);
}

tlsplug_ctx *fz_new_server_ctx(unsigned v, tlsplug_impl impl)
{
    tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_SERVER);
    FZ_CHECK(cfg);
    int rc = v == 1 ? tlsplug_config_set_cert_file(cfg, fz_pki("server-rsa-chain.pem"),
                                                   fz_pki("server-rsa.key.pem"), NULL)
                    : tlsplug_config_set_cert_file(cfg, fz_pki("server-ec-chain.pem"),
                                                   fz_pki("server-ec.key.pem"), NULL);
    if (!rc && (v == 1 || v == 2))
        rc = pin(cfg, TLSPLUG_TLS1_2);
    if (!rc && (v == 2 || v == 3))
        rc = tlsplug_config_add_trust_file(cfg, fz_pki("ca.pem"));
    if (!rc && v == 2)
        rc = tlsplug_config_set_verify(cfg, TLSPLUG_VERIFY_REQUIRED);
    if (!rc && v == 3)
        rc = tlsplug_config_set_verify(cfg, TLSPLUG_VERIFY_OPTIONAL);
    if (!rc && v == 3)
        rc = pin(cfg, TLSPLUG_TLS1_3);
    if (!rc && v == 3)
        rc = tlsplug_config_set_alpn_list(cfg, "h2,http/1.1");
    return make(cfg, rc, impl, v != 0);
}

/* Made once: loading and checking the PEM files costs more than a handshake.
 * They stay reachable until exit, so leak checkers do not count them. */
static tlsplug_ctx *clients[FZ_VARIANTS], *servers[FZ_VARIANTS];
static unsigned client_as[FZ_VARIANTS], server_as[FZ_VARIANTS];
static int client_tried[FZ_VARIANTS], server_tried[FZ_VARIANTS];

tlsplug_ctx *fz_client_ctx(unsigned v)
{
    v %= FZ_VARIANTS;
    if (!client_tried[v]) {
        client_tried[v] = 1;
        client_as[v] = v;
        if (!(clients[v] = fz_new_client_ctx(v, TLSPLUG_IMPL_NONE))) {
            client_as[v] = 0;
            clients[v] = v ? fz_client_ctx(0) : NULL;
        }
    }
    FZ_CHECK(clients[v]);
    return clients[v];
}

tlsplug_ctx *fz_server_ctx(unsigned v)
{
    v %= FZ_VARIANTS;
    if (!server_tried[v]) {
        server_tried[v] = 1;
        server_as[v] = v;
        if (!(servers[v] = fz_new_server_ctx(v, TLSPLUG_IMPL_NONE))) {
            server_as[v] = 0;
            servers[v] = v ? fz_server_ctx(0) : NULL;
        }
    }
    FZ_CHECK(servers[v]);
    return servers[v];
}

unsigned fz_client_variant(unsigned v)
{
    fz_client_ctx(v);
    return client_as[v % FZ_VARIANTS];
}

unsigned fz_server_variant(unsigned v)
{
    fz_server_ctx(v);
    return server_as[v % FZ_VARIANTS];
}

tlsplug_conn *fz_conn(tlsplug_ctx *ctx)
{
    tlsplug_conn_options o = {.server_name = "localhost"};
    tlsplug_conn *c = NULL;
    tlsplug_error *err = NULL;
    int rc = tlsplug_conn_new(&c, ctx, &o, &err);
    if (rc)
        fprintf(stderr, "fuzz: conn_new: %s\n", tlsplug_error_message(err));
    tlsplug_error_free(err);
    FZ_CHECK(rc == TLSPLUG_OK && c);
    return c;
}

void fz_check_step(tlsplug_conn *c, int rc)
{
    FZ_CHECK(rc == TLSPLUG_OK || rc == TLSPLUG_WANT_READ || rc == TLSPLUG_WANT_WRITE ||
             (rc < 0 && rc >= TLSPLUG_ERRCLASS_MIN && rc != TLSPLUG_E_WOULD_BLOCK));
    if (rc >= 0)
        return;
    FZ_CHECK(strcmp(tlsplug_error_name(rc), "unknown") != 0);
    /* misuse errors (write after shutdown) are not sticky; every other is */
    if (rc == TLSPLUG_E_INVALID_ARGUMENT && !tlsplug_conn_error(c))
        return;
    const tlsplug_error *e = tlsplug_conn_error(c);
    FZ_CHECK(e != NULL);
    FZ_CHECK(tlsplug_error_class(e) == rc);
    const char *msg = tlsplug_error_message(e);
    FZ_CHECK(msg && msg[0]);
    FZ_CHECK(tlsplug_conn_handshake(c) == rc || (rc == TLSPLUG_E_CLOSED &&
                                                 tlsplug_conn_established(c)));
}
