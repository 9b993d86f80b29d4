/* Shared by every transport: run records, the test PKI, contexts made from a
 * row's settings, the native handle checks, end names, and whether a case
 * applies to a pair. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pair.h"
#include "runner.h"

const char *cf_pki_dir = TLSPLUG_PKI_DIR;

const char *cf_pki(const char *file)
{
    static char path[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", cf_pki_dir, file);
    return path[k];
}

void cf_run_init(cf_run *r, const cf_case *k, int cep, int sep)
{
    memset(r, 0, sizeof *r);
    r->k = k;
    r->cep = cep;
    r->sep = sep;
    r->c.cls = r->s.cls = X_ANY;
    r->c.alert = r->s.alert = -1;
}

void cf_fail(cf_run *r, const char *fmt, ...)
{
    size_t len = strlen(r->extra);
    if (len + 4 >= sizeof r->extra)
        return;
    if (len)
        len += (size_t)snprintf(r->extra + len, sizeof r->extra - len, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->extra + len, sizeof r->extra - len, fmt, ap);
    va_end(ap);
}

void cf_set(cf_side_out *o, int cls, const tlsplug_error *err)
{
    o->cls = cls;
    o->alert = err ? tlsplug_error_alert(err) : -1;
    snprintf(o->msg, sizeof o->msg, "%s", err ? tlsplug_error_message(err) : "");
}

void cf_set_msg(cf_side_out *o, int cls, const char *fmt, ...)
{
    o->cls = cls;
    o->alert = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof o->msg, fmt, ap);
    va_end(ap);
}

const char *cf_server_name(const cf_end *e)
{
    return e->name ? e->name : "localhost";
}

static int verify_cb(tlsplug_conn *conn, int verdict, const uint8_t *const *der,
                     const size_t *der_len, size_t count, void *arg)
{
    cf_cb *cb = arg;
    cb->calls++;
    cb->verdict = verdict;
    /* a chain the callback cannot look at would make it useless */
    if (count < 1 || !der[0] || der_len[0] < 100)
        return TLSPLUG_E_CERT_INVALID;
    return cb->answer;
}

int cf_ctx(const cf_end *e, tlsplug_side side, tlsplug_impl impl, cf_cb *cb, tlsplug_ctx **out,
           char *msg, size_t cap)
{
    *out = NULL;
    msg[0] = 0;
    tlsplug_config *cfg = tlsplug_config_new(side);
    if (!cfg) {
        snprintf(msg, cap, "tlsplug_config_new failed");
        return TLSPLUG_E_NO_MEMORY;
    }
    const char *cert = e->cert, *key = e->key;
    if (!cert && side == TLSPLUG_SIDE_SERVER) {
        cert = "server-ec-chain.pem";
        key = "server-ec.key.pem";
    }
    int rc = TLSPLUG_OK;
    if (cert)
        rc = tlsplug_config_set_cert_file(cfg, cf_pki(cert), key ? cf_pki(key) : NULL,
                                          e->password);
    if (!rc && e->sni_cert)
        rc = tlsplug_config_add_sni_cert_file(cfg, e->sni_name, cf_pki(e->sni_cert),
                                              e->sni_key ? cf_pki(e->sni_key) : NULL, NULL);
    if (!rc && e->verify)
        rc = tlsplug_config_set_verify(cfg, (tlsplug_verify)e->verify);
    int verifies = side == TLSPLUG_SIDE_CLIENT
                       ? e->verify != TLSPLUG_VERIFY_NONE
                       : e->verify == TLSPLUG_VERIFY_OPTIONAL || e->verify == TLSPLUG_VERIFY_REQUIRED;
    if (!rc && verifies)
        rc = tlsplug_config_add_trust_file(cfg, cf_pki(e->ca ? e->ca : "ca.pem"));
    if (!rc && e->no_hostname)
        rc = tlsplug_config_set_verify_hostname(cfg, 0);
    if (!rc && (e->min_version || e->max_version))
        rc = tlsplug_config_set_versions(cfg, e->min_version, e->max_version);
    if (!rc && e->suites12)
        rc = tlsplug_config_set_ciphers_tls12(cfg, e->suites12);
    if (!rc && e->suites13)
        rc = tlsplug_config_set_ciphers_tls13(cfg, e->suites13);
    if (!rc && e->groups)
        rc = tlsplug_config_set_groups(cfg, e->groups);
    if (!rc && e->alpn)
        rc = tlsplug_config_set_alpn_list(cfg, e->alpn);
    if (!rc && e->resumption)
        rc = tlsplug_config_set_resumption(cfg, 1, 1);
    if (!rc && e->verify_cb) {
        cb->answer = e->verify_cb == CB_ACCEPT ? TLSPLUG_OK : TLSPLUG_E_CERT_REJECTED;
        rc = tlsplug_config_set_verify_callback(cfg, verify_cb, cb);
    }
    if (rc) {
        const tlsplug_error *ce = tlsplug_config_error(cfg);
        snprintf(msg, cap, "config: %s", ce ? tlsplug_error_message(ce) : tlsplug_error_name(rc));
        tlsplug_config_free(cfg);
        return rc;
    }
    tlsplug_error *err = NULL;
    rc = tlsplug_ctx_new(out, cfg, impl, &err);
    if (rc)
        snprintf(msg, cap, "%s", err ? tlsplug_error_message(err) : tlsplug_error_name(rc));
    tlsplug_error_free(err);
    tlsplug_config_free(cfg);
    return rc;
}

/* ---- native handles ------------------------------------------------------- */

static void check_native(cf_run *r, tlsplug_conn *conn, tlsplug_impl impl, const char *side)
{
    tlsplug_ctx *ctx = tlsplug_conn_ctx(conn);
    if (tlsplug_conn_impl(conn) != impl || tlsplug_ctx_impl(ctx) != impl)
        cf_fail(r, "%s: impl query says %s", side, tlsplug_impl_name(tlsplug_conn_impl(conn)));
    if (!tlsplug_conn_native(conn, impl) || !tlsplug_ctx_native(ctx, impl))
        cf_fail(r, "%s: no native handle for its own impl", side);
    for (int other = 0; other < TLSPLUG_IMPL_COUNT; other++) {
        if (other == (int)impl)
            continue;
        if (tlsplug_conn_native(conn, (tlsplug_impl)other) ||
            tlsplug_ctx_native(ctx, (tlsplug_impl)other))
            cf_fail(r, "%s: a native handle for %s", side,
                    other ? tlsplug_impl_name((tlsplug_impl)other) : "none");
    }
}

void cf_check_native(cf_run *r, tlsplug_conn *c, tlsplug_conn *s)
{
    if (c)
        check_native(r, c, (tlsplug_impl)r->cep, "client");
    if (s)
        check_native(r, s, (tlsplug_impl)r->sep, "server");
}

/* ---- ends ----------------------------------------------------------------- */

const char *cf_ep_name(int ep, int as_client)
{
    if (ep == EP_OPENSSL_PROG)
        return as_client ? "s_client" : "s_server";
    if (ep == EP_GNUTLS_PROG)
        return as_client ? "gnutls-cli" : "gnutls-serv";
    const char *n = tlsplug_impl_name((tlsplug_impl)ep);
    return n ? n : "?";
}

char cf_ep_letter(int ep)
{
    switch (ep) {
    case TLSPLUG_IMPL_OPENSSL:
        return 'o';
    case TLSPLUG_IMPL_MBEDTLS:
        return 'm';
    case TLSPLUG_IMPL_WOLFSSL:
        return 'w';
    case TLSPLUG_IMPL_GNUTLS:
        return 'g';
    case EP_OPENSSL_PROG:
        return 'O';
    case EP_GNUTLS_PROG:
        return 'G';
    default:
        return '?';
    }
}

int cf_ep_from_name(const char *name)
{
    if (!strcmp(name, "s_server") || !strcmp(name, "s_client") || !strcmp(name, "openssl-prog"))
        return EP_OPENSSL_PROG;
    if (!strcmp(name, "gnutls-serv") || !strcmp(name, "gnutls-cli") ||
        !strcmp(name, "gnutls-prog"))
        return EP_GNUTLS_PROG;
    tlsplug_impl i = tlsplug_impl_from_name(name);
    return tlsplug_impl_available(i) ? (int)i : 0;
}

unsigned cf_ep_caps(int ep)
{
    if (ep == EP_OPENSSL_PROG || ep == EP_GNUTLS_PROG)
        return ~0u; /* the command-line programs of full builds */
    return tlsplug_impl_caps((tlsplug_impl)ep);
}

static int ext_role(int ep, int as_client)
{
    if (ep == EP_OPENSSL_PROG)
        return as_client ? EXT_OSSL_CLI : EXT_OSSL_SRV;
    if (ep == EP_GNUTLS_PROG)
        return as_client ? EXT_GNU_CLI : EXT_GNU_SRV;
    return 0;
}

static int missing_caps(int ep, unsigned need, int as_client, char *why, size_t cap)
{
    unsigned lack = need & ~cf_ep_caps(ep);
    if (!lack)
        return 0;
    for (unsigned bit = 1; bit; bit <<= 1)
        if (lack & bit) {
            snprintf(why, cap, "%s (%s end) has no %s", cf_ep_name(ep, as_client),
                     as_client ? "client" : "server", tlsplug_cap_name(bit));
            return 1;
        }
    return 1;
}

int cf_applies(const cf_case *k, int transport, int cep, int sep, char *why, size_t cap)
{
    why[0] = 0;
    unsigned tr = k->transports ? k->transports : T_ALL;
    if (!(tr & (unsigned)transport)) {
        snprintf(why, cap, "%s", k->transports_why ? k->transports_why : "not on this transport");
        return 0;
    }
    if (missing_caps(cep, k->caps_c, 1, why, cap) || missing_caps(sep, k->caps_s, 0, why, cap))
        return 0;
    if (transport != T_PEERS)
        return 1;
    int role = ext_role(cep, 1) | ext_role(sep, 0);
    if (k->no_ext & (unsigned)role) {
        snprintf(why, cap, "%s", k->no_ext_why ? k->no_ext_why : "not with this peer");
        return 0;
    }
    int ext = ext_role(cep, 1) ? cep : sep;
    return cf_peer_supports(k, ext, ext_role(cep, 1) != 0, why, cap);
}

unsigned char *cf_pattern_new(size_t len)
{
    unsigned char *d = malloc(len);
    if (d)
        pattern(d, len, 0);
    return d;
}
