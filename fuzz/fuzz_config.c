/* Hostile configuration: PEM certificates, keys, trust anchors, a key
 * password and one configuration string, through the config setters and
 * tlsplug_ctx_new (where the backend parses the PEM).  Input: one byte of
 * settings, then up to five parts separated by FZ_CONFIG_SEP:
 *   chain PEM, key PEM, trust PEM, password, setting string.
 *   settings bit  0    server (else client)
 *            bit  1    key given apart (else the key is looked for in the chain)
 *            bit  2    use the password
 *            bits 3-5  what the string sets: none, TLS 1.2 suites, TLS 1.3
 *                      suites, groups, ALPN list, server name, versions (its
 *                      first four bytes), verify mode (its first byte)
 *            bit  6    also make an engine from the context */
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each part in its own allocation of exactly its size (plus the NUL a C string
 * needs), so a read past its end is caught. */
static char *part(const uint8_t **p, const uint8_t *end, size_t *len)
{
    const uint8_t *s = *p, *q = s;
    size_t seplen = strlen(FZ_CONFIG_SEP);
    while (q < end && !((size_t)(end - q) >= seplen && !memcmp(q, FZ_CONFIG_SEP, seplen)))
        q++;
    *len = (size_t)(q - s);
    *p = q < end ? q + seplen : end;
    char *copy = malloc(*len + 1);
    FZ_CHECK(copy);
    memcpy(copy, s, *len);
    copy[*len] = 0;
    return copy;
}

/* A setter's result agrees with tlsplug_config_error. */
static int checked(tlsplug_config *cfg, int rc)
{
    FZ_CHECK(rc == TLSPLUG_OK || (rc < 0 && rc >= TLSPLUG_ERRCLASS_MIN));
    const tlsplug_error *e = tlsplug_config_error(cfg);
    if (rc == TLSPLUG_OK) {
        FZ_CHECK(e == NULL);
    } else {
        FZ_CHECK(e != NULL && tlsplug_error_class(e) == rc);
        FZ_CHECK(tlsplug_error_message(e)[0]);
    }
    return rc;
}

static void set_string(tlsplug_config *cfg, unsigned what, const char *s, size_t len)
{
    const uint8_t *u = (const uint8_t *)s;
    switch (what) {
    case 1: checked(cfg, tlsplug_config_set_ciphers_tls12(cfg, s)); break;
    case 2: checked(cfg, tlsplug_config_set_ciphers_tls13(cfg, s)); break;
    case 3: checked(cfg, tlsplug_config_set_groups(cfg, s)); break;
    case 4: checked(cfg, tlsplug_config_set_alpn_list(cfg, s)); break;
    case 5: checked(cfg, tlsplug_config_set_server_name(cfg, s)); break;
    case 6:
        if (len >= 4)
            checked(cfg, tlsplug_config_set_versions(cfg, u[0] << 8 | u[1], u[2] << 8 | u[3]));
        break;
    case 7:
        if (len >= 1)
            checked(cfg, tlsplug_config_set_verify(cfg, (tlsplug_verify)(u[0] % 5)));
        break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    unsigned set = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    size_t lens[5];
    char *parts[5];
    for (int i = 0; i < 5; i++)
        parts[i] = part(&p, end, &lens[i]);

    tlsplug_side side = set & 1 ? TLSPLUG_SIDE_SERVER : TLSPLUG_SIDE_CLIENT;
    tlsplug_config *cfg = tlsplug_config_new(side);
    FZ_CHECK(cfg);
    const char *password = set & 4 ? parts[3] : NULL;
    if (lens[0] || side == TLSPLUG_SIDE_SERVER)
        checked(cfg, tlsplug_config_set_cert_mem(cfg, parts[0], lens[0], set & 2 ? parts[1] : NULL,
                                                 set & 2 ? lens[1] : 0, password));
    if (lens[2])
        checked(cfg, tlsplug_config_add_trust_mem(cfg, parts[2], lens[2]));
    set_string(cfg, (set >> 3) & 7, parts[4], lens[4]);

    tlsplug_ctx *ctx = NULL;
    tlsplug_error *err = NULL;
    int rc = tlsplug_ctx_new(&ctx, cfg, TLSPLUG_IMPL_NONE, &err);
    FZ_CHECK(rc == TLSPLUG_OK || (rc < 0 && rc >= TLSPLUG_ERRCLASS_MIN));
    if (rc == TLSPLUG_OK) {
        FZ_CHECK(ctx && !err);
    } else {
        FZ_CHECK(!ctx && err && tlsplug_error_class(err) == rc);
        FZ_CHECK(tlsplug_error_message(err)[0]);
    }
    tlsplug_error_free(err);
    tlsplug_config_free(cfg);
    if (ctx && (set & 64)) {
        tlsplug_conn *c = NULL;
        tlsplug_conn_options o = {.server_name = "localhost"};
        if (tlsplug_conn_new(&c, ctx, &o, &err) == TLSPLUG_OK) {
            int hs = tlsplug_conn_handshake(c);
            fz_check_step(c, hs);
            tlsplug_conn_free(c);
        }
        tlsplug_error_free(err);
    }
    tlsplug_ctx_free(ctx);
    for (int i = 0; i < 5; i++)
        free(parts[i]);
    return 0;
}
