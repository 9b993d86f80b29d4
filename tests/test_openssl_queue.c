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
    pair p;
    /* not run_pair: making a context empties the queue, so the entries go
     * in between, and the handshake below is stepped by hand */
    stale_entries();
    assert_int_equal(pair_take(&p, cc, sc, NULL), TLSPLUG_OK);
    /* the handshake stepped by hand, with entries before every step */
    int cres = TLSPLUG_WANT_READ, sres = TLSPLUG_WANT_READ;
    for (int i = 0; i < 50 && (cres != TLSPLUG_OK || sres != TLSPLUG_OK); i++) {
        stale_entries();
        cres = tlsplug_conn_handshake(p.c);
        pair_move(p.c, p.s, 0);
        stale_entries();
        sres = tlsplug_conn_handshake(p.s);
        pair_move(p.s, p.c, 0);
        assert_true(cres >= 0 && sres >= 0);
    }
    assert_int_equal(cres, TLSPLUG_OK);
    assert_int_equal(sres, TLSPLUG_OK);

    unsigned char b[64];
    size_t n;
    for (int i = 0; i < 3; i++) {
        stale_entries();
        assert_int_equal(tlsplug_conn_read(p.s, b, sizeof b, &n), TLSPLUG_WANT_READ);
    }
    /* writes until the send buffer refuses (WANT_WRITE is a retry, not a
     * failure), then everything arrives */
    static unsigned char big[256 * 1024], got[sizeof big];
    pattern(big, sizeof big, 7);
    size_t sent = 0, w = 0;
    int wr;
    do {
        stale_entries();
        wr = tlsplug_conn_write(p.c, big + sent, sizeof big - sent, &w);
        sent += w;
    } while (wr == TLSPLUG_OK && sent < sizeof big);
    assert_int_equal(wr, TLSPLUG_WANT_WRITE);
    size_t recvd = 0;
    for (int i = 0; i < 10000 && recvd < sizeof big; i++) {
        pair_move(p.c, p.s, 0);
        stale_entries();
        int r = tlsplug_conn_read(p.s, got + recvd, sizeof got - recvd, &n);
        assert_true(r == TLSPLUG_OK || r == TLSPLUG_WANT_READ);
        recvd += r == TLSPLUG_OK ? n : 0;
        if (sent < sizeof big) {
            stale_entries();
            wr = tlsplug_conn_write(p.c, big + sent, sizeof big - sent, &w);
            assert_true(wr == TLSPLUG_OK || wr == TLSPLUG_WANT_WRITE);
            sent += wr == TLSPLUG_OK ? w : 0;
        }
    }
    assert_int_equal(recvd, sizeof big);
    assert_memory_equal(got, big, sizeof big);
    unsigned char data[5000];
    pattern(data, sizeof data, 3);
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
