/* Resumption with several connections of one client context in flight, one
 * source run once per backend (`test_resume <backend>`).  Core saves a
 * client's session when its handshake completes and again when it is freed;
 * in TLS 1.3 a connection's ticket only arrives after its handshake, so what
 * is saved in between must still resume, never make the server refuse the
 * next connection.  The backend runs against itself, then as the client of
 * every other backend built. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

static tlsplug_impl impl;
static int version; /* the one version both ends are pinned to */

static void pinned_with_resumption(tlsplug_config *cfg)
{
    tlsplug_config_set_versions(cfg, version, version);
    tlsplug_config_set_resumption(cfg, 1, 1);
}

static int can(tlsplug_impl i)
{
    unsigned caps = tlsplug_impl_caps(i);
    return (caps & TLSPLUG_CAP_SESSION_TICKETS) &&
           (version != TLSPLUG_TLS1_3 || (caps & TLSPLUG_CAP_TLS13));
}

/* A handshake that must succeed on both ends. */
static void connect_ok(pair *p, tlsplug_ctx *cc, tlsplug_ctx *sc, const char *what)
{
    assert_int_equal(pair_new(p, cc, sc, NULL), TLSPLUG_OK);
    pair_handshake(p);
    if (p->cres != TLSPLUG_OK || p->sres != TLSPLUG_OK)
        fprintf(stderr, "%s client, %s server, %s: client %s (%s), server %s (%s)\n",
                tlsplug_impl_name(tlsplug_ctx_impl(cc)), tlsplug_impl_name(tlsplug_ctx_impl(sc)),
                what, tlsplug_error_name(p->cres),
                tlsplug_error_message(tlsplug_conn_error(p->c)), tlsplug_error_name(p->sres),
                tlsplug_error_message(tlsplug_conn_error(p->s)));
    assert_int_equal(p->cres, TLSPLUG_OK);
    assert_int_equal(p->sres, TLSPLUG_OK);
    tlsplug_info ci;
    assert_int_equal(tlsplug_conn_info(p->c, &ci), TLSPLUG_OK);
    assert_int_equal(ci.version, version);
}

/* Data both ways; the client's read takes in what the server sent after its
 * handshake (TLS 1.3 tickets). */
static void exchange(pair *p)
{
    unsigned char data[300];
    pattern(data, sizeof data, 7);
    assert_int_equal(pair_transfer(p, 1, data, sizeof data, sizeof data), 0);
    pattern(data, sizeof data, 8);
    assert_int_equal(pair_transfer(p, 0, data, sizeof data, sizeof data), 0);
}

static void expect_resumed(const pair *p, int want, const char *what)
{
    tlsplug_info ci, si;
    assert_int_equal(tlsplug_conn_info(p->c, &ci), TLSPLUG_OK);
    assert_int_equal(tlsplug_conn_info(p->s, &si), TLSPLUG_OK);
    if (ci.resumed != want || si.resumed != want)
        fprintf(stderr, "%s client, %s server, %s: resumed client %d, server %d, expected %d\n",
                tlsplug_impl_name(ci.impl), tlsplug_impl_name(si.impl), what, ci.resumed,
                si.resumed, want);
    assert_int_equal(ci.resumed, want);
    assert_int_equal(si.resumed, want);
}

static void contexts(tlsplug_impl client, tlsplug_impl server, tlsplug_ctx **cc,
                     tlsplug_ctx **sc)
{
    *cc = client_ctx(client, pinned_with_resumption);
    *sc = server_ctx(server, "server-ec-chain.pem", "server-ec.key.pem", pinned_with_resumption);
    assert_non_null(*cc);
    assert_non_null(*sc);
}

/* conn1 makes a session; conn2 resumes it and reads nothing; conn3 starts
 * while conn2 is open; conn2 is freed unread, and conn4 starts after it.
 * Every one after conn1 resumes. */
static void overlapping(tlsplug_impl client, tlsplug_impl server)
{
    tlsplug_ctx *cc, *sc;
    contexts(client, server, &cc, &sc);
    pair p1, p2, p3, p4;

    connect_ok(&p1, cc, sc, "conn1");
    exchange(&p1);
    expect_resumed(&p1, 0, "conn1");
    pair_free(&p1);

    connect_ok(&p2, cc, sc, "conn2");
    expect_resumed(&p2, 1, "conn2");

    connect_ok(&p3, cc, sc, "conn3 (conn2 open)");
    exchange(&p3);
    expect_resumed(&p3, 1, "conn3 (conn2 open)");
    pair_free(&p3);

    pair_free(&p2); /* unread: in TLS 1.3 its ticket is still in its buffer */

    connect_ok(&p4, cc, sc, "conn4 (conn2 freed unread)");
    exchange(&p4);
    expect_resumed(&p4, 1, "conn4 (conn2 freed unread)");
    pair_free(&p4);

    tlsplug_ctx_free(cc);
    tlsplug_ctx_free(sc);
}

/* Resumptions in a row, none reading: each offers what was saved before. */
static void chain_unread(tlsplug_impl client, tlsplug_impl server)
{
    tlsplug_ctx *cc, *sc;
    contexts(client, server, &cc, &sc);
    pair p;
    connect_ok(&p, cc, sc, "first");
    exchange(&p);
    pair_free(&p);
    for (int i = 0; i < 3; i++) {
        connect_ok(&p, cc, sc, "unread resumption");
        expect_resumed(&p, 1, "unread resumption");
        pair_free(&p);
    }
    connect_ok(&p, cc, sc, "last");
    exchange(&p);
    expect_resumed(&p, 1, "last");
    pair_free(&p);
    tlsplug_ctx_free(cc);
    tlsplug_ctx_free(sc);
}

/* Both scenarios against itself. */
static void same(int v)
{
    version = v;
    if (!can(impl))
        skip();
    overlapping(impl, impl);
    chain_unread(impl, impl);
}

/* Both scenarios as the client of every other backend built. */
static void cross(int v)
{
    version = v;
    if (!can(impl))
        skip();
    int ran = 0;
    for (int s = 1; s < TLSPLUG_IMPL_COUNT; s++) {
        if ((tlsplug_impl)s == impl || !tlsplug_impl_available((tlsplug_impl)s) ||
            !can((tlsplug_impl)s))
            continue;
        overlapping(impl, (tlsplug_impl)s);
        chain_unread(impl, (tlsplug_impl)s);
        ran++;
    }
    if (!ran)
        skip(); /* a build with one backend (or none other with this version) */
}

static void tls13_same_backend(void **state)
{
    (void)state;
    same(TLSPLUG_TLS1_3);
}

static void tls12_same_backend(void **state)
{
    (void)state;
    same(TLSPLUG_TLS1_2);
}

static void tls13_as_client_of_the_others(void **state)
{
    (void)state;
    cross(TLSPLUG_TLS1_3);
}

static void tls12_as_client_of_the_others(void **state)
{
    (void)state;
    cross(TLSPLUG_TLS1_2);
}

int main(int argc, char **argv)
{
    impl = test_backend(argc > 1 ? argv[1] : NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tls13_same_backend),
        cmocka_unit_test(tls12_same_backend),
        cmocka_unit_test(tls13_as_client_of_the_others),
        cmocka_unit_test(tls12_as_client_of_the_others),
    };
    char name[64];
    snprintf(name, sizeof name, "resume-%s", tlsplug_impl_name(impl));
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
