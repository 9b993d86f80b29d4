/* A TLS 1.3 client that offers a valid ticket with a binder made from the
 * wrong PSK, against each server backend (`test_bad_binder <server>`): the
 * server refuses the handshake with a fatal alert that the client sees,
 * never a silent wait.  The alert is illegal_parameter on every backend, as
 * OpenSSL 3.0 and GnuTLS 3.7 send it (RFC 8446 6.2 would have
 * decrypt_error).  The client is tlsplug's OpenSSL backend: its saved
 * session's PSK (SSL_SESSION_set1_master_key) is replaced and the session
 * set from an ssl-configure hook. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "pair.h"

static tlsplug_impl server_impl;

static void tls13_with_resumption(tlsplug_config *cfg)
{
    tlsplug_config_set_versions(cfg, TLSPLUG_TLS1_3, TLSPLUG_TLS1_3);
    tlsplug_config_set_resumption(cfg, 1, 1);
}

static int offer(tlsplug_impl impl, void *native, void *arg)
{
    /* a failed assertion here would jump out of tlsplug_conn_new and leave
     * its connection half made: fail the hook, and tlsplug_conn_new with it */
    if (impl != TLSPLUG_IMPL_OPENSSL)
        return -1;
    return SSL_set_session(native, arg) == 1 ? 0 : -1;
}

/* A client offering sess (NULL: what core saved) to a new server conn. */
static void pair_offering(pair *p, tlsplug_ctx *cc, tlsplug_ctx *sc, SSL_SESSION *sess)
{
    tlsplug_conn_options co = {.side = TLSPLUG_SIDE_CLIENT, .server_name = "localhost",
                               .ssl_configure = sess ? offer : NULL,
                               .ssl_configure_arg = sess};
    assert_int_equal(pair_new_with(p, cc, sc, &co), TLSPLUG_OK);
    pair_handshake(p);
}

/* A copy of sess whose PSK has every bit flipped (same length). */
static SSL_SESSION *wrong_psk(SSL_SESSION *sess)
{
    SSL_SESSION *bad = SSL_SESSION_dup(sess);
    assert_non_null(bad);
    unsigned char key[SSL_MAX_MASTER_KEY_LENGTH];
    size_t n = SSL_SESSION_get_master_key(bad, key, sizeof key);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++)
        key[i] ^= 0xff;
    assert_int_equal(SSL_SESSION_set1_master_key(bad, key, n), 1);
    return bad;
}

static void bad_binder_gets_an_alert(void **state)
{
    (void)state;
    tlsplug_ctx *cc = client_ctx(TLSPLUG_IMPL_OPENSSL, tls13_with_resumption);
    tlsplug_ctx *sc = server_ctx(server_impl, "server-ec-chain.pem", "server-ec.key.pem",
                                 tls13_with_resumption);
    assert_non_null(cc);
    assert_non_null(sc);

    /* A session with a ticket: the client reads what follows the handshake. */
    pair p;
    pair_offering(&p, cc, sc, NULL);
    assert_int_equal(p.cres, TLSPLUG_OK);
    assert_int_equal(p.sres, TLSPLUG_OK);
    unsigned char ping[4] = "ping";
    assert_int_equal(pair_transfer(&p, 0, ping, sizeof ping, sizeof ping), 0);
    SSL_SESSION *good = SSL_get1_session(tlsplug_conn_native(p.c, TLSPLUG_IMPL_OPENSSL));
    assert_non_null(good);
    assert_true(SSL_SESSION_is_resumable(good));
    assert_int_equal(SSL_SESSION_get_protocol_version(good), TLS1_3_VERSION);
    pair_free(&p);

    /* Control: the session offered through the hook as it is resumes. */
    pair_offering(&p, cc, sc, good);
    assert_int_equal(p.cres, TLSPLUG_OK);
    assert_int_equal(p.sres, TLSPLUG_OK);
    tlsplug_info ci, si;
    assert_int_equal(tlsplug_conn_info(p.c, &ci), TLSPLUG_OK);
    assert_int_equal(ci.resumed, 1);
    assert_int_equal(tlsplug_conn_info(p.s, &si), TLSPLUG_OK);
    assert_int_equal(si.resumed, 1);
    pair_free(&p);

    SSL_SESSION *bad = wrong_psk(good);
    pair_offering(&p, cc, sc, bad);
    const tlsplug_error *ce = tlsplug_conn_error(p.c), *se = tlsplug_conn_error(p.s);
    if (p.sres != TLSPLUG_E_HANDSHAKE || p.cres != TLSPLUG_E_PEER_ALERT ||
        tlsplug_error_alert(se) != 47 || tlsplug_error_alert(ce) != 47)
        fprintf(stderr, "server %s: %s (alert %d); client %s: %s (alert %d)\n",
                tlsplug_error_name(p.sres), tlsplug_error_message(se),
                tlsplug_error_alert(se), tlsplug_error_name(p.cres),
                tlsplug_error_message(ce), tlsplug_error_alert(ce));
    assert_int_equal(p.sres, TLSPLUG_E_HANDSHAKE);
    assert_int_equal(tlsplug_error_alert(se), 47);
    assert_int_equal(p.cres, TLSPLUG_E_PEER_ALERT);
    assert_int_equal(tlsplug_error_alert(ce), 47);
    pair_free(&p);

    SSL_SESSION_free(bad);
    SSL_SESSION_free(good);
    tlsplug_ctx_free(cc);
    tlsplug_ctx_free(sc);
}

int main(int argc, char **argv)
{
    server_impl = test_backend(argc > 1 ? argv[1] : NULL);
    (void)test_backend("openssl");
    /* the whole test needs a TLS 1.3 server with tickets: ctest shows a
     * backend without them as skipped, not passed */
    if (!(tlsplug_impl_caps(server_impl) & TLSPLUG_CAP_TLS13) ||
        !(tlsplug_impl_caps(server_impl) & TLSPLUG_CAP_SESSION_TICKETS)) {
        printf("SKIP: %s has no TLS 1.3 with tickets\n", tlsplug_impl_name(server_impl));
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_binder_gets_an_alert),
    };
    char name[64];
    snprintf(name, sizeof name, "bad-binder-%s", tlsplug_impl_name(server_impl));
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
