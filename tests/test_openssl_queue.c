/* The OpenSSL backend inside an application that leaves entries on the
 * thread's error queue (its own OpenSSL use): the backend decides a retry
 * from its BIO, not from the queue, so reads and writes still say "retry"
 * and every byte arrives. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/err.h>

#include "pair.h"

static void stale_entries(void)
{
    ERR_raise_data(ERR_LIB_USER, 42, "left here by the application");
}

static void retry_despite_stale_queue(void **state)
{
    (void)state;
    tlsplug_ctx *cc = client_ctx(TLSPLUG_IMPL_OPENSSL, NULL);
    tlsplug_ctx *sc = server_ctx(TLSPLUG_IMPL_OPENSSL, "server-ec-chain.pem",
                                 "server-ec.key.pem", NULL);
    assert_non_null(cc);
    assert_non_null(sc);
    pair p;
    assert_int_equal(pair_new(&p, cc, sc, NULL), TLSPLUG_OK);
    tlsplug_ctx_free(cc);
    tlsplug_ctx_free(sc);
    pair_handshake(&p);
    assert_int_equal(p.cres, TLSPLUG_OK);
    assert_int_equal(p.sres, TLSPLUG_OK);

    unsigned char b[64];
    size_t n;
    for (int i = 0; i < 3; i++) {
        stale_entries();
        assert_int_equal(tlsplug_conn_read(p.s, b, sizeof b, &n), TLSPLUG_WANT_READ);
    }
    unsigned char data[5000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 31);
    stale_entries();
    assert_int_equal(pair_transfer(&p, 1, data, sizeof data, 700), 0);
    stale_entries();
    assert_int_equal(pair_transfer(&p, 0, data, sizeof data, 1300), 0);
    assert_null(tlsplug_conn_error(p.c));
    assert_null(tlsplug_conn_error(p.s));
    ERR_clear_error();
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_despite_stale_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
