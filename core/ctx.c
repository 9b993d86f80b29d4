/* Abstract contexts: validate the portable configuration against the
 * backend's capabilities, let the backend build its native context, run the
 * ctx-configure hook, and hold the client session store. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "core/keylog.h"

int tlsplug__is_ip_literal(const char *name)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

int tlsplug__check_server_name(const char *name, char *why, size_t whylen)
{
    size_t len = strlen(name);
    if (len && name[len - 1] == '.')
        len--; /* a fully qualified name: the trailing dot is dropped */
    if (len == 0) {
        snprintf(why, whylen, "empty name");
        return -1;
    }
    if (len > 253) {
        snprintf(why, whylen, "longer than 253 characters");
        return -1;
    }
    char tmp[256];
    memcpy(tmp, name, len);
    tmp[len] = 0;
    if (tlsplug__is_ip_literal(tmp))
        return 0;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (label == 0) {
                snprintf(why, whylen, "'%s' has an empty label", name);
                return -1;
            }
            label = 0;
            continue;
        }
        if (c <= ' ' || c >= 127 || c == '/' || c == '\\') {
            snprintf(why, whylen, "'%.64s' contains a character not allowed in a host name",
                     name);
            return -1;
        }
        if (++label > 63) {
            snprintf(why, whylen, "a label of '%.64s' is longer than 63 characters", name);
            return -1;
        }
    }
    return 0;
}

static int is_cert_verify_config(const tlsplug_config *cfg, tlsplug_side side)
{
    return cfg->verify != TLSPLUG_VERIFY_NONE;
}

/* Makes cfg fit the backend, or says which asked-for feature it lacks.
 * Defaults silently shrink to what the backend has (mbedTLS: no TLS 1.3);
 * explicit requests fail. */
static int fit_caps(tlsplug_config *cfg, const struct tlsplug_backend *be, tlsplug_side side,
                    tlsplug_error **err)
{
    unsigned caps = be->caps();
    const char *bn = be->name;
    if (!(caps & TLSPLUG_CAP_TLS13)) {
        if (cfg->min_version == TLSPLUG_TLS1_3 || cfg->max_version == TLSPLUG_TLS1_3)
            return tlsplug__err_outf(err, TLSPLUG_E_UNSUPPORTED, "%s (%s) has no TLS 1.3", bn,
                            be->version());
        if (cfg->suites13_set)
            return tlsplug__err_outf(err, TLSPLUG_E_UNSUPPORTED,
                            "%s has no TLS 1.3, so TLS 1.3 cipher suites cannot be set", bn);
        cfg->n_suites13 = 0;
    }
    if (cfg->max_version == 0)
        cfg->max_version = (caps & TLSPLUG_CAP_TLS13) ? TLSPLUG_TLS1_3 : TLSPLUG_TLS1_2;

    /* ChaCha20 and X25519 are build options of some libraries. */
    uint16_t *lists[2] = {cfg->suites12, cfg->suites13};
    size_t *counts[2] = {&cfg->n_suites12, &cfg->n_suites13};
    int explicit_[2] = {cfg->suites12_set, cfg->suites13_set};
    for (int l = 0; l < 2; l++) {
        size_t k = 0;
        for (size_t i = 0; i < *counts[l]; i++) {
            const tlsplug_suite_info *s = tlsplug__suite_by_id(lists[l][i]);
            if (s->chacha && !(caps & TLSPLUG_CAP_CHACHA20)) {
                if (explicit_[l])
                    return tlsplug__err_outf(err, TLSPLUG_E_UNSUPPORTED, "%s has no %s", bn, s->name);
                continue;
            }
            lists[l][k++] = lists[l][i];
        }
        *counts[l] = k;
    }
    size_t k = 0;
    for (size_t i = 0; i < cfg->n_groups; i++) {
        /* x448 rides on the same capability as x25519 (the same libraries
         * build both); it is never in the default list. */
        int montgomery = cfg->groups[i] == 29 || cfg->groups[i] == 30;
        if (montgomery && !(caps & TLSPLUG_CAP_X25519)) {
            if (cfg->groups_set)
                return tlsplug__err_outf(err, TLSPLUG_E_UNSUPPORTED, "%s has no group %s", bn,
                                tlsplug_group_name(cfg->groups[i]));
            continue;
        }
        cfg->groups[k++] = cfg->groups[i];
    }
    cfg->n_groups = k;
    int need12 = cfg->min_version == TLSPLUG_TLS1_2;
    int need13 = cfg->max_version == TLSPLUG_TLS1_3;
    if ((need12 && !need13 && cfg->n_suites12 == 0) || (need13 && !need12 && !cfg->n_suites13) ||
        (cfg->n_suites12 == 0 && cfg->n_suites13 == 0))
        return tlsplug__err_outf(err, TLSPLUG_E_BAD_CONFIG, "no cipher suite left for the enabled versions");
    if (cfg->n_groups == 0)
        return tlsplug__err_outf(err, TLSPLUG_E_BAD_CONFIG, "no key exchange group left");

    struct {
        int asked;
        unsigned cap;
        const char *what;
    } feats[] = {
        {cfg->n_alpn > 0, TLSPLUG_CAP_ALPN, "ALPN"},
        {cfg->keylog_cb != NULL, TLSPLUG_CAP_KEYLOG, "key logging"},
        {cfg->tickets, TLSPLUG_CAP_SESSION_TICKETS, "session tickets"},
        {cfg->session_cache, TLSPLUG_CAP_SESSION_CACHE, "a session cache"},
        {cfg->verify_cb != NULL, TLSPLUG_CAP_VERIFY_CALLBACK, "a verify callback"},
        {cfg->n_sni_certs > 0, TLSPLUG_CAP_SNI_CERTS, "certificates chosen by SNI"},
        {cfg->key_password != NULL, TLSPLUG_CAP_KEY_PASSWORD, "encrypted private keys"},
        {side != TLSPLUG_SIDE_CLIENT && cfg->verify != TLSPLUG_VERIFY_NONE,
         TLSPLUG_CAP_CLIENT_CERT, "client certificates"},
        {side == TLSPLUG_SIDE_CLIENT && cfg->cert_pem.len, TLSPLUG_CAP_CLIENT_CERT,
         "client certificates"},
    };
    for (size_t i = 0; i < sizeof feats / sizeof feats[0]; i++)
        if (feats[i].asked && !(caps & feats[i].cap))
            return tlsplug__err_outf(err, TLSPLUG_E_UNSUPPORTED, "%s (%s) does not support %s", bn,
                            be->version(), feats[i].what);

    if (side == TLSPLUG_SIDE_SERVER && !cfg->cert_pem.len)
        return tlsplug__err_outf(err, TLSPLUG_E_BAD_CONFIG,
                        "a server context needs a certificate and private key");
    if (is_cert_verify_config(cfg, side) && !cfg->trust_pem.len)
        return tlsplug__err_outf(err, TLSPLUG_E_BAD_CONFIG,
                        "peer verification is on but no trust anchors were given (add a CA "
                        "file, directory or the system store, or set verify to none)");
    return TLSPLUG_OK;
}

static tlsplug_ctx *ctx_alloc(const struct tlsplug_backend *be, tlsplug_side side)
{
    tlsplug_ctx *ctx = tlsplug__calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    atomic_init(&ctx->refs, 1);
    ctx->be = be;
    ctx->side = side;
    pthread_mutex_init(&ctx->lock, NULL);
    return ctx;
}

static void ctx_destroy(tlsplug_ctx *ctx)
{
    if (ctx->bctx)
        ctx->be->ctx_free(ctx->bctx);
    if (ctx->cfg)
        tlsplug_config_free(ctx->cfg);
    for (size_t i = 0; i < ctx->n_sessions; i++) {
        tlsplug__free(ctx->sessions[i].name);
        tlsplug__free(ctx->sessions[i].data);
    }
    pthread_mutex_destroy(&ctx->lock);
    tlsplug__free(ctx);
}

static const struct tlsplug_backend *pick_backend(tlsplug_impl impl, tlsplug_error **err)
{
    if (impl == TLSPLUG_IMPL_NONE)
        impl = tlsplug_default_impl();
    const struct tlsplug_backend *be = tlsplug__backend_get(impl);
    if (!be) {
        const char *n = tlsplug_impl_name(impl);
        tlsplug__err_outf(err, TLSPLUG_E_UNSUPPORTED, "backend '%s' is not built into this tlsplug",
                 n ? n : "?");
    }
    return be;
}

static int run_ctx_hook(tlsplug_ctx *ctx, tlsplug_native_hook hook, void *arg,
                        tlsplug_error **err)
{
    if (!hook)
        return TLSPLUG_OK;
    int rc = hook(ctx->be->impl, ctx->be->ctx_native(ctx->bctx), arg);
    if (rc != 0)
        return tlsplug__err_outf(err, TLSPLUG_E_BAD_CONFIG, "ctx-configure hook failed (returned %d)", rc);
    return TLSPLUG_OK;
}

int tlsplug_ctx_new(tlsplug_ctx **out, const tlsplug_config *cfg, tlsplug_impl impl,
                    tlsplug_error **err)
{
    if (err)
        *err = NULL;
    if (!out || !cfg)
        return tlsplug__err_outf(err, TLSPLUG_E_INVALID_ARGUMENT, "tlsplug_ctx_new: NULL argument");
    *out = NULL;
    const struct tlsplug_backend *be = pick_backend(impl, err);
    if (!be)
        return TLSPLUG_E_UNSUPPORTED;
    tlsplug_ctx *ctx = ctx_alloc(be, cfg->side);
    if (!ctx || !(ctx->cfg = tlsplug__config_dup(cfg))) {
        if (ctx)
            ctx_destroy(ctx);
        return tlsplug__err_outf(err, TLSPLUG_E_NO_MEMORY, "out of memory");
    }
    int rc = fit_caps(ctx->cfg, be, cfg->side, err);
    if (rc) {
        ctx_destroy(ctx);
        return rc;
    }
    tlsplug__keylog_from_env(ctx->cfg, be);
    struct tlsplug_error e = {0};
    rc = be->ctx_new(ctx->cfg, cfg->side, &ctx->bctx, &e);
    if (rc) {
        ctx->bctx = NULL;
        if (e.cls == 0)
            tlsplug__err_set(&e, rc, 0, "%s: cannot make the context", be->name);
        tlsplug__err_out(err, &e);
        ctx_destroy(ctx);
        return rc;
    }
    rc = run_ctx_hook(ctx, ctx->cfg->ctx_configure, ctx->cfg->ctx_configure_arg, err);
    if (rc) {
        ctx_destroy(ctx);
        return rc;
    }
    *out = ctx;
    return TLSPLUG_OK;
}

/* Used by aio's attach with no context: a default context for one attach,
 * with the attach's ctx-configure hook. */
int tlsplug__ctx_new_default(tlsplug_ctx **out, tlsplug_side side, tlsplug_native_hook hook,
                             void *arg, tlsplug_error **err);
int tlsplug__ctx_new_default(tlsplug_ctx **out, tlsplug_side side, tlsplug_native_hook hook,
                             void *arg, tlsplug_error **err)
{
    tlsplug_config *cfg = tlsplug_config_new(side);
    if (!cfg)
        return tlsplug__err_outf(err, TLSPLUG_E_NO_MEMORY, "out of memory");
    int rc = TLSPLUG_OK;
    if (side == TLSPLUG_SIDE_CLIENT && (rc = tlsplug_config_add_trust_system(cfg)) != 0) {
        tlsplug__err_out(err, tlsplug_config_error(cfg));
        tlsplug_config_free(cfg);
        return rc;
    }
    tlsplug_config_set_ctx_configure(cfg, hook, arg);
    rc = tlsplug_ctx_new(out, cfg, TLSPLUG_IMPL_NONE, err);
    tlsplug_config_free(cfg);
    return rc;
}

int tlsplug_ctx_adopt(tlsplug_ctx **out, tlsplug_impl impl, void *native, tlsplug_side side,
                      const char *priority, tlsplug_error **err)
{
    if (err)
        *err = NULL;
    if (!out || !native)
        return tlsplug__err_outf(err, TLSPLUG_E_INVALID_ARGUMENT, "tlsplug_ctx_adopt: NULL argument");
    *out = NULL;
    if (side != TLSPLUG_SIDE_CLIENT && side != TLSPLUG_SIDE_SERVER && side != TLSPLUG_SIDE_BOTH)
        return tlsplug__err_outf(err, TLSPLUG_E_INVALID_ARGUMENT, "tlsplug_ctx_adopt: bad side %d",
                        (int)side);
    if (impl == TLSPLUG_IMPL_NONE)
        return tlsplug__err_outf(err, TLSPLUG_E_INVALID_ARGUMENT,
                        "tlsplug_ctx_adopt: name the implementation of the native context");
    const struct tlsplug_backend *be = pick_backend(impl, err);
    if (!be)
        return TLSPLUG_E_UNSUPPORTED;
    if (!be->ctx_adopt || !(be->caps() & TLSPLUG_CAP_ADOPT_CTX))
        return tlsplug__err_outf(err, TLSPLUG_E_UNSUPPORTED, "%s cannot adopt a native context", be->name);
    tlsplug_ctx *ctx = ctx_alloc(be, side);
    if (!ctx || !(ctx->cfg = tlsplug_config_new(side))) {
        if (ctx)
            ctx_destroy(ctx);
        return tlsplug__err_outf(err, TLSPLUG_E_NO_MEMORY, "out of memory");
    }
    ctx->adopted = 1;
    ctx->cfg->max_version =
        (be->caps() & TLSPLUG_CAP_TLS13) ? TLSPLUG_TLS1_3 : TLSPLUG_TLS1_2;
    struct tlsplug_error e = {0};
    int rc = be->ctx_adopt(native, side, priority, ctx->cfg, &ctx->bctx, &e);
    if (rc) {
        ctx->bctx = NULL;
        if (e.cls == 0)
            tlsplug__err_set(&e, rc, 0, "%s: cannot adopt the context", be->name);
        tlsplug__err_out(err, &e);
        ctx_destroy(ctx);
        return rc;
    }
    *out = ctx;
    return TLSPLUG_OK;
}

void tlsplug__ctx_ref(tlsplug_ctx *ctx)
{
    atomic_fetch_add(&ctx->refs, 1);
}

void tlsplug_ctx_free(tlsplug_ctx *ctx)
{
    if (ctx && atomic_fetch_sub(&ctx->refs, 1) == 1)
        ctx_destroy(ctx);
}

tlsplug_impl tlsplug_ctx_impl(const tlsplug_ctx *ctx)
{
    return ctx ? ctx->be->impl : TLSPLUG_IMPL_NONE;
}

tlsplug_side tlsplug_ctx_side(const tlsplug_ctx *ctx)
{
    return ctx ? ctx->side : TLSPLUG_SIDE_DEFAULT;
}

void *tlsplug_ctx_native(tlsplug_ctx *ctx, tlsplug_impl impl)
{
    if (!ctx || impl != ctx->be->impl)
        return NULL;
    return ctx->be->ctx_native(ctx->bctx);
}

int tlsplug__ctx_session_get(tlsplug_ctx *ctx, const char *name, uint8_t **data, size_t *len)
{
    int rc = TLSPLUG_E_INVALID_ARGUMENT;
    *data = NULL;
    *len = 0;
    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < ctx->n_sessions; i++) {
        if (strcmp(ctx->sessions[i].name, name) == 0) {
            *data = tlsplug__memdup(ctx->sessions[i].data, ctx->sessions[i].len);
            if (*data) {
                *len = ctx->sessions[i].len;
                rc = TLSPLUG_OK;
            } else {
                rc = TLSPLUG_E_NO_MEMORY;
            }
            break;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    return rc;
}

/* Takes ownership of data. */
void tlsplug__ctx_session_put(tlsplug_ctx *ctx, const char *name, uint8_t *data, size_t len)
{
    pthread_mutex_lock(&ctx->lock);
    size_t i;
    for (i = 0; i < ctx->n_sessions; i++)
        if (strcmp(ctx->sessions[i].name, name) == 0)
            break;
    if (i == ctx->n_sessions) {
        char *n = tlsplug__strdup(name);
        if (!n) {
            pthread_mutex_unlock(&ctx->lock);
            tlsplug__free(data);
            return;
        }
        if (ctx->n_sessions == TLSPLUG_SESSION_CACHE_MAX) {
            /* evict the oldest entry */
            tlsplug__free(ctx->sessions[0].name);
            tlsplug__free(ctx->sessions[0].data);
            memmove(&ctx->sessions[0], &ctx->sessions[1],
                    (TLSPLUG_SESSION_CACHE_MAX - 1) * sizeof ctx->sessions[0]);
            i = --ctx->n_sessions;
        }
        ctx->sessions[i].name = n;
        ctx->sessions[i].data = NULL;
        ctx->n_sessions++;
    }
    tlsplug__free(ctx->sessions[i].data);
    ctx->sessions[i].data = data;
    ctx->sessions[i].len = len;
    pthread_mutex_unlock(&ctx->lock);
}
