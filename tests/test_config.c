/* The portable configuration and the registry: every bad input gives a clear
 * error naming the problem, never a crash; names are stable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tlsplug/tlsplug.h"
#include "core/config.h"

#define PKI(f) TLSPLUG_PKI_DIR "/" f

static void expect_fail(tlsplug_config *cfg, int rc, int cls, const char *needle)
{
    assert_int_equal(rc, cls);
    const tlsplug_error *e = tlsplug_config_error(cfg);
    assert_non_null(e);
    assert_int_equal(tlsplug_error_class(e), cls);
    if (!strstr(tlsplug_error_message(e), needle))
        fail_msg("message '%s' does not mention '%s'", tlsplug_error_message(e), needle);
}

static void error_names_are_stable(void **state)
{
    assert_string_equal(tlsplug_error_name(TLSPLUG_OK), "ok");
    assert_string_equal(tlsplug_error_name(TLSPLUG_WANT_READ), "want-read");
    assert_string_equal(tlsplug_error_name(TLSPLUG_WANT_WRITE), "want-write");
    assert_string_equal(tlsplug_error_name(TLSPLUG_E_CERT_EXPIRED), "certificate-expired");
    assert_string_equal(tlsplug_error_name(TLSPLUG_E_CERT_HOSTNAME),
                        "certificate-hostname-mismatch");
    assert_string_equal(tlsplug_error_name(TLSPLUG_E_NOT_TLS), "not-tls");
    assert_string_equal(tlsplug_error_name(TLSPLUG_E_PEER_ALERT), "peer-alert");
    assert_string_equal(tlsplug_error_name(TLSPLUG_E_INTERNAL), "internal-error");
    assert_string_equal(tlsplug_error_name(-999), "unknown");
    assert_string_equal(tlsplug_error_name(77), "unknown");
    /* every class has a distinct kebab-case name */
    for (int a = TLSPLUG_ERRCLASS_MIN; a < 0; a++) {
        const char *na = tlsplug_error_name(a);
        for (const char *p = na; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || *p == '-' || (*p >= '0' && *p <= '9'));
        for (int b = a + 1; b < 0; b++)
            assert_string_not_equal(na, tlsplug_error_name(b));
    }
}

static void registry(void **state)
{
    tlsplug_impl list[TLSPLUG_IMPL_COUNT];
    size_t n = tlsplug_impl_list(list, TLSPLUG_IMPL_COUNT);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        assert_true(tlsplug_impl_available(list[i]));
        assert_non_null(tlsplug_impl_version(list[i]));
        assert_true(tlsplug_impl_caps(list[i]) & TLSPLUG_CAP_TLS12);
        assert_int_equal(tlsplug_impl_from_name(tlsplug_impl_name(list[i])), list[i]);
    }
    assert_true(tlsplug_impl_available(tlsplug_default_impl()));
    assert_int_equal(tlsplug_impl_from_name("nope"), TLSPLUG_IMPL_NONE);
    assert_null(tlsplug_impl_name((tlsplug_impl)42));
    assert_int_equal(tlsplug_set_default_impl((tlsplug_impl)42), TLSPLUG_E_UNSUPPORTED);
    assert_int_equal(tlsplug_set_default_impl(list[n - 1]), TLSPLUG_OK);
    assert_int_equal(tlsplug_default_impl(), list[n - 1]);
    assert_int_equal(tlsplug_set_default_impl(list[0]), TLSPLUG_OK);
    assert_string_equal(tlsplug_cap_name(TLSPLUG_CAP_TLS13), "tls1.3");
    assert_null(tlsplug_cap_name(1u << 30));
    assert_string_equal(tlsplug_cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
    assert_string_equal(tlsplug_group_name(29), "x25519");
    assert_string_equal(tlsplug_version_name(TLSPLUG_TLS1_3), "TLS1.3");
}

static void bad_inputs(void **state)
{
    assert_null(tlsplug_config_new((tlsplug_side)9));
    tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_SERVER);
    assert_non_null(cfg);
    assert_null(tlsplug_config_error(cfg));
    expect_fail(cfg, tlsplug_config_set_cert_file(cfg, "/nonexistent/x.pem", NULL, NULL),
                TLSPLUG_E_BAD_CONFIG, "/nonexistent/x.pem");
    expect_fail(cfg, tlsplug_config_set_cert_file(cfg, PKI("ca.pem"), NULL, NULL),
                TLSPLUG_E_BAD_CONFIG, "PRIVATE KEY");
    expect_fail(cfg, tlsplug_config_set_cert_mem(cfg, "garbage", 7, "x", 1, NULL),
                TLSPLUG_E_BAD_CONFIG, "CERTIFICATE");
    expect_fail(cfg, tlsplug_config_set_cert_file(cfg, NULL, NULL, NULL),
                TLSPLUG_E_INVALID_ARGUMENT, "file");
    expect_fail(cfg, tlsplug_config_add_trust_file(cfg, PKI("server-ec.key.pem")),
                TLSPLUG_E_BAD_CONFIG, "CERTIFICATE");
    expect_fail(cfg, tlsplug_config_add_trust_dir(cfg, "/nonexistent-dir"), TLSPLUG_E_BAD_CONFIG,
                "/nonexistent-dir");
    expect_fail(cfg, tlsplug_config_set_ciphers_tls12(cfg, "TLS_RSA_WITH_RC4_128_SHA"),
                TLSPLUG_E_BAD_CONFIG, "TLS_RSA_WITH_RC4_128_SHA");
    expect_fail(cfg, tlsplug_config_set_ciphers_tls12(cfg, "TLS_AES_128_GCM_SHA256"),
                TLSPLUG_E_BAD_CONFIG, "1.3");
    expect_fail(cfg, tlsplug_config_set_ciphers_tls13(cfg, ""), TLSPLUG_E_BAD_CONFIG, "empty");
    expect_fail(cfg, tlsplug_config_set_groups(cfg, "ffdhe1024"), TLSPLUG_E_BAD_CONFIG,
                "ffdhe1024");
    expect_fail(cfg, tlsplug_config_set_versions(cfg, 0x0301, 0), TLSPLUG_E_INVALID_ARGUMENT,
                "0x0301");
    expect_fail(cfg, tlsplug_config_set_versions(cfg, TLSPLUG_TLS1_3, TLSPLUG_TLS1_2),
                TLSPLUG_E_INVALID_ARGUMENT, "below");
    const char *empty[] = {""};
    expect_fail(cfg, tlsplug_config_set_alpn(cfg, empty, 1), TLSPLUG_E_BAD_CONFIG, "ALPN");
    char longp[300];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    const char *lp[] = {longp};
    expect_fail(cfg, tlsplug_config_set_alpn(cfg, lp, 1), TLSPLUG_E_BAD_CONFIG, "255");
    expect_fail(cfg, tlsplug_config_set_verify(cfg, (tlsplug_verify)17),
                TLSPLUG_E_INVALID_ARGUMENT, "verify");
    expect_fail(cfg, tlsplug_config_set_server_name(cfg, "bad name.example"),
                TLSPLUG_E_INVALID_ARGUMENT, "server name");
    expect_fail(cfg, tlsplug_config_set_server_name(cfg, "a..b"), TLSPLUG_E_INVALID_ARGUMENT,
                "empty label");
    /* good values clear the error */
    assert_int_equal(tlsplug_config_set_alpn_list(cfg, "h2,http/1.1"), TLSPLUG_OK);
    assert_null(tlsplug_config_error(cfg));
    assert_int_equal(tlsplug_config_set_groups(cfg, "P-256:x25519"), TLSPLUG_OK);
    assert_int_equal(tlsplug_config_set_server_name(cfg, "example.com."), TLSPLUG_OK);
    assert_int_equal(tlsplug_config_set_server_name(cfg, "127.0.0.1"), TLSPLUG_OK);
    assert_int_equal(tlsplug_config_add_trust_dir(cfg, TLSPLUG_PKI_DIR), TLSPLUG_OK);
    /* NULL objects are refused, not dereferenced */
    assert_int_equal(tlsplug_config_set_verify(NULL, TLSPLUG_VERIFY_NONE),
                     TLSPLUG_E_INVALID_ARGUMENT);
    assert_int_equal(tlsplug_config_add_trust_file(NULL, "x"), TLSPLUG_E_INVALID_ARGUMENT);
    tlsplug_config_free(cfg);
    tlsplug_config_free(NULL);
}

static void ctx_validation(void **state)
{
    tlsplug_ctx *ctx = NULL;
    tlsplug_error *err = NULL;
    /* a server without a certificate */
    tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_SERVER);
    assert_int_equal(tlsplug_ctx_new(&ctx, cfg, TLSPLUG_IMPL_NONE, &err), TLSPLUG_E_BAD_CONFIG);
    assert_non_null(strstr(tlsplug_error_message(err), "certificate"));
    tlsplug_error_free(err);
    tlsplug_config_free(cfg);
    /* a verifying client without trust anchors */
    cfg = tlsplug_config_new(TLSPLUG_SIDE_CLIENT);
    assert_int_equal(tlsplug_ctx_new(&ctx, cfg, TLSPLUG_IMPL_NONE, &err), TLSPLUG_E_BAD_CONFIG);
    assert_non_null(strstr(tlsplug_error_message(err), "trust"));
    tlsplug_error_free(err);
    /* a backend that is not built */
    tlsplug_impl missing = TLSPLUG_IMPL_NONE;
    for (int i = 1; i < TLSPLUG_IMPL_COUNT; i++)
        if (!tlsplug_impl_available((tlsplug_impl)i))
            missing = (tlsplug_impl)i;
    if (missing) {
        assert_int_equal(tlsplug_ctx_new(&ctx, cfg, missing, &err), TLSPLUG_E_UNSUPPORTED);
        assert_non_null(strstr(tlsplug_error_message(err), "not built"));
        tlsplug_error_free(err);
    }
    /* hostname verification needs a name */
    assert_int_equal(tlsplug_config_add_trust_file(cfg, PKI("ca.pem")), 0);
    assert_int_equal(tlsplug_ctx_new(&ctx, cfg, TLSPLUG_IMPL_NONE, NULL), TLSPLUG_OK);
    tlsplug_conn *c = NULL;
    assert_int_equal(tlsplug_conn_new(&c, ctx, NULL, &err), TLSPLUG_E_BAD_CONFIG);
    assert_non_null(strstr(tlsplug_error_message(err), "server name"));
    tlsplug_error_free(err);
    /* a client context cannot make a server connection */
    tlsplug_conn_options so = {.side = TLSPLUG_SIDE_SERVER};
    assert_int_equal(tlsplug_conn_new(&c, ctx, &so, NULL), TLSPLUG_E_INVALID_ARGUMENT);
    tlsplug_conn_options co = {.server_name = "localhost"};
    assert_int_equal(tlsplug_conn_new(&c, ctx, &co, NULL), TLSPLUG_OK);
    /* steps before/after misuse: clear errors, no crash */
    assert_int_equal(tlsplug_conn_shutdown(c), TLSPLUG_E_INVALID_ARGUMENT);
    tlsplug_info info;
    assert_int_equal(tlsplug_conn_info(c, &info), TLSPLUG_E_INVALID_ARGUMENT);
    assert_int_equal(tlsplug_conn_read(NULL, NULL, 0, NULL), TLSPLUG_E_INVALID_ARGUMENT);
    assert_int_equal(tlsplug_conn_write(c, NULL, 5, NULL), TLSPLUG_E_INVALID_ARGUMENT);
    tlsplug_conn_free(c);
    tlsplug_ctx_free(ctx);
    tlsplug_config_free(cfg);
    assert_int_equal(tlsplug_ctx_new(NULL, NULL, TLSPLUG_IMPL_NONE, NULL),
                     TLSPLUG_E_INVALID_ARGUMENT);
    assert_int_equal(tlsplug_ctx_adopt(&ctx, TLSPLUG_IMPL_NONE, &ctx, TLSPLUG_SIDE_CLIENT, NULL,
                                       NULL),
                     TLSPLUG_E_INVALID_ARGUMENT);
}

static void set_allocator_after_use(void **state)
{
    assert_int_equal(tlsplug_set_allocator(NULL, NULL, NULL), TLSPLUG_E_INVALID_ARGUMENT);
    /* tlsplug has allocated by now: replacing the allocator is refused */
    tlsplug_config_free(tlsplug_config_new(TLSPLUG_SIDE_CLIENT));
    assert_int_equal(tlsplug_set_allocator(malloc, realloc, free), TLSPLUG_E_BUSY);
}

static void sni_cert_selection(void **state)
{
    tlsplug_config *cli = tlsplug_config_new(TLSPLUG_SIDE_CLIENT);
    expect_fail(cli, tlsplug_config_add_sni_cert_file(cli, "a.example", PKI("server-alt-chain.pem"),
                                                      PKI("server-alt.key.pem"), NULL),
                TLSPLUG_E_INVALID_ARGUMENT, "servers");
    tlsplug_config_free(cli);
    tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_SERVER);
    expect_fail(cfg, tlsplug_config_add_sni_cert_file(cfg, "127.0.0.1", PKI("server-alt-chain.pem"),
                                                      PKI("server-alt.key.pem"), NULL),
                TLSPLUG_E_INVALID_ARGUMENT, "host name");
    expect_fail(cfg, tlsplug_config_add_sni_cert_file(cfg, "x.example", PKI("missing.pem"), NULL,
                                                      NULL),
                TLSPLUG_E_BAD_CONFIG, "missing.pem");
    assert_int_equal(tlsplug_config_add_sni_cert_file(cfg, "*.tlsplug.test", PKI("wildcard-chain.pem"),
                                                      PKI("bad.key.pem"), NULL),
                     TLSPLUG_OK);
    assert_int_equal(tlsplug_config_add_sni_cert_file(cfg, "Alt.TLSplug.test.",
                                                      PKI("server-alt-chain.pem"),
                                                      PKI("server-alt.key.pem"), NULL),
                     TLSPLUG_OK);
    assert_int_equal(tlsplug__sni_cert_pick(cfg, "alt.tlsplug.test"), 1); /* exact beats wildcard */
    assert_int_equal(tlsplug__sni_cert_pick(cfg, "ALT.tlsplug.test."), 1);
    assert_int_equal(tlsplug__sni_cert_pick(cfg, "b.tlsplug.test"), 0);
    assert_int_equal(tlsplug__sni_cert_pick(cfg, "a.b.tlsplug.test"), -1); /* one label only */
    assert_int_equal(tlsplug__sni_cert_pick(cfg, "tlsplug.test"), -1);
    assert_int_equal(tlsplug__sni_cert_pick(cfg, "localhost"), -1);
    assert_int_equal(tlsplug__sni_cert_pick(cfg, NULL), -1);
    tlsplug_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(error_names_are_stable),
        cmocka_unit_test(registry),
        cmocka_unit_test(bad_inputs),
        cmocka_unit_test(ctx_validation),
        cmocka_unit_test(sni_cert_selection),
        cmocka_unit_test(set_allocator_after_use),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
