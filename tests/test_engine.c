/* Engine-to-engine tests in memory, one source run once per backend
 * (`test_engine <backend>`): the same assertions hold for every library. */
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

static int has(unsigned cap)
{
    return (tlsplug_impl_caps(impl) & cap) != 0;
}

/* run_pair on this program's backend: contexts and connections must be
 * made (the handshake's outcome is the test's to judge). */
static void engine_pair(pair *p, void (*cx)(tlsplug_config *), const char *chain,
                        const char *key, void (*sx)(tlsplug_config *), const char *name)
{
    assert_int_equal(run_pair(p, impl, cx, chain, key, sx, name), TLSPLUG_OK);
}

static void expect_client_fails(const char *chain, const char *key, int cls, const char *name)
{
    pair p;
    engine_pair(&p, NULL, chain, key, NULL, name);
    if (p.cres != cls)
        fprintf(stderr, "client: %s (%s)\n", tlsplug_error_name(p.cres),
                tlsplug_error_message(tlsplug_conn_error(p.c)));
    assert_int_equal(p.cres, cls);
    /* the server learns of it through the client's alert */
    assert_true(p.sres < 0);
    pair_free(&p);
}

static void default_handshake(void **state)
{
    pair p;
    engine_pair(&p, NULL, "server-ec-chain.pem", "server-ec.key.pem", NULL, NULL);
    assert_int_equal(p.cres, TLSPLUG_OK);
    assert_int_equal(p.sres, TLSPLUG_OK);
    tlsplug_info ci, si;
    assert_int_equal(tlsplug_conn_info(p.c, &ci), TLSPLUG_OK);
    assert_int_equal(tlsplug_conn_info(p.s, &si), TLSPLUG_OK);
    int want = has(TLSPLUG_CAP_TLS13) ? TLSPLUG_TLS1_3 : TLSPLUG_TLS1_2;
    assert_int_equal(ci.version, want);
    assert_int_equal(si.version, want);
    assert_int_equal(ci.cipher_id, si.cipher_id);
    assert_int_equal(ci.cipher_id, want == TLSPLUG_TLS1_3 ? 0x1301 : 0xC02B);
    assert_string_equal(ci.cipher, tlsplug_cipher_name(ci.cipher_id));
    if (ci.group_id && si.group_id)
        assert_int_equal(ci.group_id, si.group_id);
    assert_string_equal(ci.peer_subject, "CN=localhost");
    assert_int_equal(ci.peer_verified, 1);
    assert_int_equal(ci.impl, impl);
    assert_int_equal(ci.resumed, 0);
    char line[512];
    assert_int_equal(tlsplug_conn_summary(p.c, line, sizeof line), TLSPLUG_OK);
    assert_non_null(strstr(line, tlsplug_impl_name(impl)));
    pair_free(&p);
}

static void pin12(tlsplug_config *cfg)
{
    tlsplug_config_set_versions(cfg, TLSPLUG_TLS1_2, TLSPLUG_TLS1_2);
}

static void pin13(tlsplug_config *cfg)
{
    tlsplug_config_set_versions(cfg, TLSPLUG_TLS1_3, TLSPLUG_TLS1_3);
}

static void tls12_pinned_rsa(void **state)
{
    pair p;
    engine_pair(&p, pin12, "server-rsa-chain.pem", "server-rsa.key.pem", NULL, NULL);
    assert_int_equal(p.cres, TLSPLUG_OK);
    assert_int_equal(p.sres, TLSPLUG_OK);
    tlsplug_info ci;
    tlsplug_conn_info(p.c, &ci);
    assert_int_equal(ci.version, TLSPLUG_TLS1_2);
    assert_int_equal(ci.cipher_id, 0xC02F);
    pair_free(&p);
}

static void tls13_or_unsupported(void **state)
{
    if (!has(TLSPLUG_CAP_TLS13)) {
        tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_CLIENT);
        tlsplug_config_add_trust_file(cfg, pki("ca.pem"));
        pin13(cfg);
        tlsplug_ctx *ctx = NULL;
        tlsplug_error *err = NULL;
        assert_int_equal(tlsplug_ctx_new(&ctx, cfg, impl, &err), TLSPLUG_E_UNSUPPORTED);
        assert_null(ctx);
        assert_non_null(strstr(tlsplug_error_message(err), "TLS 1.3"));
        tlsplug_error_free(err);
        tlsplug_config_free(cfg);
        return;
    }
    pair p;
    engine_pair(&p, pin13, "server-ec-chain.pem", "server-ec.key.pem", NULL, NULL);
    assert_int_equal(p.cres, TLSPLUG_OK);
    tlsplug_info ci;
    tlsplug_conn_info(p.c, &ci);
    assert_int_equal(ci.version, TLSPLUG_TLS1_3);
    pair_free(&p);
}

static void version_mismatch(void **state)
{
    if (!has(TLSPLUG_CAP_TLS13))
        skip();
    pair p;
    engine_pair(&p, pin13, "server-ec-chain.pem", "server-ec.key.pem", pin12, NULL);
    assert_true(p.cres < 0);
    assert_int_equal(p.sres, TLSPLUG_E_PROTOCOL_VERSION);
    pair_free(&p);
}

static void no_shared_cipher(void **state)
{
    pair p;
    void (*cx)(tlsplug_config *) = NULL;
    tlsplug_ctx *cc, *sc;
    tlsplug_config *c = tlsplug_config_new(TLSPLUG_SIDE_CLIENT);
    tlsplug_config_add_trust_file(c, pki("ca.pem"));
    pin12(c);
    tlsplug_config_set_ciphers_tls12(c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
    tlsplug_error *err = NULL;
    assert_int_equal(tlsplug_ctx_new(&cc, c, impl, &err), TLSPLUG_OK);
    tlsplug_config_free(c);
    tlsplug_config *s = tlsplug_config_new(TLSPLUG_SIDE_SERVER);
    tlsplug_config_set_cert_file(s, pki("server-ec-chain.pem"), pki("server-ec.key.pem"), NULL);
    tlsplug_config_set_ciphers_tls12(s, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    assert_int_equal(tlsplug_ctx_new(&sc, s, impl, &err), TLSPLUG_OK);
    tlsplug_config_free(s);
    (void)cx;
    assert_int_equal(pair_take(&p, cc, sc, NULL), TLSPLUG_OK);
    pair_handshake(&p);
    assert_int_equal(p.sres, TLSPLUG_E_NO_SHARED_CIPHER);
    assert_int_equal(p.cres, TLSPLUG_E_PEER_ALERT);
    pair_free(&p);
}

static void cert_expired(void **s) { expect_client_fails("expired-chain.pem", "bad.key.pem", TLSPLUG_E_CERT_EXPIRED, NULL); }
static void cert_not_yet(void **s) { expect_client_fails("notyet-chain.pem", "bad.key.pem", TLSPLUG_E_CERT_NOT_YET_VALID, NULL); }
static void cert_wrong_host(void **s) { expect_client_fails("wronghost-chain.pem", "bad.key.pem", TLSPLUG_E_CERT_HOSTNAME, NULL); }
static void cert_self_signed(void **s) { expect_client_fails("selfsigned.pem", "bad.key.pem", TLSPLUG_E_CERT_UNTRUSTED, NULL); }
static void cert_unknown_ca(void **s) { expect_client_fails("unknownca.pem", "bad.key.pem", TLSPLUG_E_CERT_UNTRUSTED, NULL); }
static void cert_bad_signature(void **s) { expect_client_fails("badsig-chain.pem", "badsig.key.pem", TLSPLUG_E_CERT_BAD_SIGNATURE, NULL); }

static void verify_none(tlsplug_config *cfg)
{
    tlsplug_config_set_verify(cfg, TLSPLUG_VERIFY_NONE);
}

static void verify_off_connects(void **state)
{
    pair p;
    engine_pair(&p, verify_none, "expired-chain.pem", "bad.key.pem", NULL, NULL);
    assert_int_equal(p.cres, TLSPLUG_OK);
    assert_int_equal(p.sres, TLSPLUG_OK);
    pair_free(&p);
}

static void ip_san_and_wildcard(void **state)
{
    pair p;
    engine_pair(&p, NULL, "ipsan-chain.pem", "bad.key.pem", NULL, "127.0.0.1");
    assert_int_equal(p.cres, TLSPLUG_OK);
    pair_free(&p);
    engine_pair(&p, NULL, "wildcard-chain.pem", "bad.key.pem", NULL, "a.tlsplug.test");
    assert_int_equal(p.cres, TLSPLUG_OK);
    pair_free(&p);
    engine_pair(&p, NULL, "server-ec-chain.pem", "server-ec.key.pem", NULL, "localhost.");
    assert_int_equal(p.cres, TLSPLUG_OK); /* a trailing dot names the same host */
    pair_free(&p);
    expect_client_fails("wildcard-chain.pem", "bad.key.pem", TLSPLUG_E_CERT_HOSTNAME,
                        "a.b.tlsplug.test");
    expect_client_fails("ipsan-chain.pem", "bad.key.pem", TLSPLUG_E_CERT_HOSTNAME, "127.0.0.2");
}

static int verify_calls, verify_last_verdict;
static size_t verify_chain_len;

static int reject_all(tlsplug_conn *conn, int verdict, const uint8_t *const *der,
                      const size_t *der_len, size_t count, void *arg)
{
    verify_calls++;
    verify_last_verdict = verdict;
    verify_chain_len = count;
    assert_true(count >= 1 && der[0] && der_len[0] > 100);
    return *(int *)arg;
}

static int verdict_answer;

static void with_verify_cb(tlsplug_config *cfg)
{
    tlsplug_config_set_verify_callback(cfg, reject_all, &verdict_answer);
}

static void verify_callback(void **state)
{
    if (!has(TLSPLUG_CAP_VERIFY_CALLBACK))
        skip();
    pair p;
    verify_calls = 0;
    verdict_answer = TLSPLUG_E_CERT_REJECTED;
    engine_pair(&p, with_verify_cb, "server-ec-chain.pem", "server-ec.key.pem", NULL, NULL);
    assert_int_equal(verify_calls, 1);
    assert_int_equal(verify_last_verdict, TLSPLUG_OK);
    assert_true(verify_chain_len >= 1);
    assert_int_equal(p.cres, TLSPLUG_E_CERT_REJECTED);
    pair_free(&p);
    /* accepting overrides the library's verdict */
    verify_calls = 0;
    verdict_answer = TLSPLUG_OK;
    engine_pair(&p, with_verify_cb, "expired-chain.pem", "bad.key.pem", NULL, NULL);
    assert_int_equal(verify_calls, 1);
    assert_int_equal(verify_last_verdict, TLSPLUG_E_CERT_EXPIRED);
    assert_int_equal(p.cres, TLSPLUG_OK);
    pair_free(&p);
}

static void alpn_h2_http(tlsplug_config *cfg)
{
    tlsplug_config_set_alpn_list(cfg, "h2,http/1.1");
}
static void alpn_http_h2(tlsplug_config *cfg)
{
    tlsplug_config_set_alpn_list(cfg, "http/1.1,h2");
}
static void alpn_other(tlsplug_config *cfg)
{
    tlsplug_config_set_alpn_list(cfg, "imap");
}

static void alpn(void **state)
{
    if (!has(TLSPLUG_CAP_ALPN))
        skip();
    pair p;
    engine_pair(&p, alpn_h2_http, "server-ec-chain.pem", "server-ec.key.pem", alpn_http_h2, NULL);
    assert_int_equal(p.cres, TLSPLUG_OK);
    tlsplug_info ci, si;
    tlsplug_conn_info(p.c, &ci);
    tlsplug_conn_info(p.s, &si);
    assert_string_equal(ci.alpn, "http/1.1"); /* the server's preference wins */
    assert_string_equal(si.alpn, "http/1.1");
    pair_free(&p);
    engine_pair(&p, alpn_h2_http, "server-ec-chain.pem", "server-ec.key.pem", alpn_other, NULL);
    assert_int_equal(p.sres, TLSPLUG_E_NO_ALPN);
    assert_int_equal(p.cres, TLSPLUG_E_PEER_ALERT);
    assert_int_equal(tlsplug_error_alert(tlsplug_conn_error(p.c)), 120);
    pair_free(&p);
}

static void require_client_cert(tlsplug_config *cfg)
{
    tlsplug_config_add_trust_file(cfg, pki("ca.pem"));
    tlsplug_config_set_verify(cfg, TLSPLUG_VERIFY_REQUIRED);
}

static void optional_client_cert(tlsplug_config *cfg)
{
    tlsplug_config_add_trust_file(cfg, pki("ca.pem"));
    tlsplug_config_set_verify(cfg, TLSPLUG_VERIFY_OPTIONAL);
}

static void with_client_cert(tlsplug_config *cfg)
{
    tlsplug_config_set_cert_file(cfg, pki("client-chain.pem"), pki("client.key.pem"), NULL);
}

/* In TLS 1.3 the client finishes before the server judged its certificate:
 * the server's verdict reaches it on the first read. */
static int client_outcome(pair *p)
{
    if (p->cres != TLSPLUG_OK)
        return p->cres;
    unsigned char b[16];
    size_t n;
    int rc = pair_read(p, 1, b, sizeof b, &n);
    return rc == TLSPLUG_WANT_READ ? TLSPLUG_OK : rc;
}

static void client_certs(void **state)
{
    pair p;
    engine_pair(&p, NULL, "server-ec-chain.pem", "server-ec.key.pem", require_client_cert, NULL);
    assert_int_equal(p.sres, TLSPLUG_E_CERT_REQUIRED);
    assert_int_equal(client_outcome(&p), TLSPLUG_E_PEER_ALERT);
    pair_free(&p);

    engine_pair(&p, NULL, "server-ec-chain.pem", "server-ec.key.pem", optional_client_cert, NULL);
    assert_int_equal(p.sres, TLSPLUG_OK);
    assert_int_equal(p.cres, TLSPLUG_OK);
    tlsplug_info si;
    tlsplug_conn_info(p.s, &si);
    assert_int_equal(si.peer_verified, 0);
    pair_free(&p);

    engine_pair(&p, with_client_cert, "server-ec-chain.pem", "server-ec.key.pem",
                require_client_cert, NULL);
    assert_int_equal(p.sres, TLSPLUG_OK);
    assert_int_equal(p.cres, TLSPLUG_OK);
    tlsplug_conn_info(p.s, &si);
    assert_int_equal(si.peer_verified, 1);
    assert_string_equal(si.peer_subject, "CN=tlsplug client");
    pair_free(&p);
}

static void bad_key_config(void **state)
{
    struct {
        const char *chain, *key, *pw;
        int cls;
    } cases[] = {
        {"server-ec-chain.pem", "mismatch.key.pem", NULL, TLSPLUG_E_BAD_CONFIG},
        {"server-ec-chain.pem", "server-ec.enc.key.pem", "wrong", TLSPLUG_E_BAD_CONFIG},
        {"server-ec-chain.pem", "server-ec.enc.key.pem", "secret", TLSPLUG_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_SERVER);
        assert_int_equal(tlsplug_config_set_cert_file(cfg, pki(cases[i].chain), pki(cases[i].key),
                                                      cases[i].pw),
                         TLSPLUG_OK);
        tlsplug_ctx *ctx = NULL;
        tlsplug_error *err = NULL;
        int rc = tlsplug_ctx_new(&ctx, cfg, impl, &err);
        if (rc != cases[i].cls)
            fprintf(stderr, "case %zu: %s\n", i, tlsplug_error_message(err));
        assert_int_equal(rc, cases[i].cls);
        if (rc)
            assert_true(strlen(tlsplug_error_message(err)) > 10);
        tlsplug_error_free(err);
        tlsplug_ctx_free(ctx);
        tlsplug_config_free(cfg);
    }
}

static void data_and_close(void **state)
{
    pair p;
    engine_pair(&p, NULL, "server-ec-chain.pem", "server-ec.key.pem", NULL, NULL);
    assert_int_equal(p.cres, TLSPLUG_OK);
    size_t len = 1 << 20;
    unsigned char *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 9));
    assert_int_equal(pair_transfer(&p, 1, data, len, 1237), 0);
    assert_int_equal(pair_transfer(&p, 0, data, len, 16384), 0);
    free(data);

    /* server closes; trailing plain bytes after its close_notify stay plain */
    assert_int_equal(tlsplug_conn_shutdown(p.s), TLSPLUG_OK);
    pair_move(p.s, p.c, 0);
    assert_int_equal(tlsplug_conn_feed(p.c, "PLAIN", 5), 5);
    unsigned char b[64];
    size_t n;
    assert_int_equal(tlsplug_conn_read(p.c, b, sizeof b, &n), TLSPLUG_E_CLOSED);
    assert_int_equal(tlsplug_conn_read(p.c, b, sizeof b, &n), TLSPLUG_E_CLOSED);
    size_t ulen;
    const void *u = tlsplug_conn_unread(p.c, &ulen);
    assert_int_equal(ulen, 5);
    assert_memory_equal(u, "PLAIN", 5);
    tlsplug_conn_unread_ack(p.c, ulen);
    /* the client answers; the server sees a clean close too */
    assert_int_equal(tlsplug_conn_shutdown(p.c), TLSPLUG_OK);
    pair_move(p.c, p.s, 0);
    assert_int_equal(tlsplug_conn_read(p.s, b, sizeof b, &n), TLSPLUG_E_CLOSED);
    pair_free(&p);
}

/* tlsplug_conn_idle may be called at any point: it gives back only what is
 * unused, and every byte still arrives afterwards. */
static void idle_anywhere(void **state)
{
    (void)state;
    pair p;
    tlsplug_conn_idle(NULL);
    tlsplug_ctx *cctx = client_ctx(impl, NULL);
    tlsplug_ctx *sctx = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    assert_int_equal(pair_take(&p, cctx, sctx, NULL), TLSPLUG_OK);
    tlsplug_conn_idle(p.c); /* before the handshake: nothing to give back */
    tlsplug_conn_idle(p.s);
    pair_handshake(&p);
    assert_int_equal(p.cres, TLSPLUG_OK);
    assert_int_equal(p.sres, TLSPLUG_OK);
    size_t len = 100000;
    unsigned char *data = malloc(len);
    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 13 + (i >> 8));
    for (int round = 0; round < 3; round++) {
        tlsplug_conn_idle(p.c);
        tlsplug_conn_idle(p.s);
        assert_int_equal(pair_transfer(&p, round & 1, data, len, 4099), 0);
    }
    /* with ciphertext still in flight: queued bytes must survive */
    size_t n;
    assert_int_equal(tlsplug_conn_write(p.c, data, 3000, &n), TLSPLUG_OK);
    assert_int_equal(n, 3000);
    tlsplug_conn_idle(p.c);
    pair_move(p.c, p.s, 1000); /* part of the record only */
    tlsplug_conn_idle(p.s);
    tlsplug_conn_idle(p.c);
    unsigned char got[3000];
    size_t have = 0;
    for (int spins = 0; have < sizeof got; spins++) {
        assert_true(spins < 100);
        pair_move(p.c, p.s, 0);
        int rc = tlsplug_conn_read(p.s, got + have, sizeof got - have, &n);
        if (rc == TLSPLUG_WANT_READ)
            continue;
        assert_int_equal(rc, TLSPLUG_OK);
        have += n;
        tlsplug_conn_idle(p.s);
    }
    assert_memory_equal(got, data, sizeof got);
    free(data);
    pair_free(&p);
}

/* One step on me with the peer's whole send buffer lent (at most max bytes
 * of it); the peer lets go of what the step took.  Returns the step's result. */
static int lend_step(tlsplug_conn *me, tlsplug_conn *peer, size_t max, int (*step)(tlsplug_conn *))
{
    size_t len;
    const void *src = tlsplug_conn_send_buf(peer, &len);
    tlsplug_conn_recv_lend(me, src, len < max ? len : max);
    int rc = step(me);
    size_t taken = tlsplug_conn_recv_taken(me);
    assert_true(taken <= (len < max ? len : max));
    tlsplug_conn_send_ack(peer, taken);
    return rc;
}

static int hs_step(tlsplug_conn *c)
{
    return tlsplug_conn_handshake(c);
}

static unsigned char lend_buf[4096];
static size_t lend_n;

static int read_step(tlsplug_conn *c)
{
    size_t n = 0;
    int rc = tlsplug_conn_read(c, lend_buf + lend_n, sizeof lend_buf - lend_n, &n);
    lend_n += n;
    return rc;
}

/* Zero-copy receive: the handshake and the data go through loans only
 * (nothing is fed), in pieces as small as 3 bytes, and the
 * bytes after the peer's close_notify are left with the caller. */
static void lend_instead_of_copy(void **state)
{
    (void)state;
    tlsplug_ctx *cctx = client_ctx(impl, NULL);
    tlsplug_ctx *sctx = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    pair p;
    assert_int_equal(pair_take(&p, cctx, sctx, NULL), TLSPLUG_OK);
    int cr = TLSPLUG_WANT_READ, sr = TLSPLUG_WANT_READ;
    for (int i = 0; i < 2000 && (cr != TLSPLUG_OK || sr != TLSPLUG_OK); i++) {
        size_t max = i % 2 ? 3 : (size_t)-1;
        cr = lend_step(p.c, p.s, max, hs_step);
        sr = lend_step(p.s, p.c, max, hs_step);
        assert_true(cr == TLSPLUG_OK || cr == TLSPLUG_WANT_READ);
        assert_true(sr == TLSPLUG_OK || sr == TLSPLUG_WANT_READ);
    }
    assert_int_equal(cr, TLSPLUG_OK);
    assert_int_equal(sr, TLSPLUG_OK);

    const char msg[] = "lent, not copied";
    size_t n;
    assert_int_equal(tlsplug_conn_write(p.c, msg, sizeof msg, &n), TLSPLUG_OK);
    lend_n = 0;
    for (int i = 0; i < 100 && lend_n < sizeof msg; i++) {
        int rc = lend_step(p.s, p.c, 3, read_step);
        assert_true(rc == TLSPLUG_OK || rc == TLSPLUG_WANT_READ);
    }
    assert_int_equal(lend_n, sizeof msg);
    assert_memory_equal(lend_buf, msg, sizeof msg);

    /* data, close_notify, then plain bytes, all in the caller's memory */
    assert_int_equal(tlsplug_conn_write(p.s, "bye", 3, &n), TLSPLUG_OK);
    assert_int_equal(tlsplug_conn_shutdown(p.s), TLSPLUG_OK);
    size_t len;
    const void *ct = tlsplug_conn_send_buf(p.s, &len);
    unsigned char *wire = malloc(len + 5);
    assert_non_null(wire);
    memcpy(wire, ct, len);
    memcpy(wire + len, "PLAIN", 5);
    tlsplug_conn_send_ack(p.s, len);
    size_t off = 0;
    int rc = TLSPLUG_WANT_READ;
    lend_n = 0;
    for (int i = 0; i < 100 && rc != TLSPLUG_E_CLOSED; i++) {
        tlsplug_conn_recv_lend(p.c, wire + off, len + 5 - off);
        rc = read_step(p.c);
        off += tlsplug_conn_recv_taken(p.c);
        assert_true(rc == TLSPLUG_OK || rc == TLSPLUG_WANT_READ || rc == TLSPLUG_E_CLOSED);
    }
    assert_int_equal(rc, TLSPLUG_E_CLOSED);
    assert_int_equal(lend_n, 3);
    assert_memory_equal(lend_buf, "bye", 3);
    assert_int_equal(off, len); /* the plain bytes were not taken */
    tlsplug_conn_unread(p.c, &len);
    assert_int_equal(len, 0);
    free(wire);

    /* nothing to lend: NULL, and NULL connections, are ignored */
    tlsplug_conn_recv_lend(p.c, NULL, 10);
    assert_int_equal(read_step(p.c), TLSPLUG_E_CLOSED);
    assert_int_equal(tlsplug_conn_recv_taken(p.c), 0);
    tlsplug_conn_recv_lend(NULL, "x", 1);
    assert_int_equal(tlsplug_conn_recv_taken(NULL), 0);
    pair_free(&p);
}

/* Bytes fed before a loan are read before the loan's; a loan ends with the
 * step, so a later step does not read freed memory. */
static void lend_after_feed(void **state)
{
    (void)state;
    pair p;
    engine_pair(&p, NULL, "server-ec-chain.pem", "server-ec.key.pem", NULL, NULL);
    assert_int_equal(p.cres, TLSPLUG_OK);
    assert_int_equal(p.sres, TLSPLUG_OK);
    unsigned char b[64];
    size_t n;
    /* tickets, if any: no data */
    assert_int_equal(pair_read(&p, 1, b, sizeof b, &n), TLSPLUG_WANT_READ);
    assert_int_equal(tlsplug_conn_write(p.s, "0123456789", 10, &n), TLSPLUG_OK);
    size_t len;
    const unsigned char *ct = tlsplug_conn_send_buf(p.s, &len);
    unsigned char *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, ct, len);
    tlsplug_conn_send_ack(p.s, len);
    size_t first = len / 2;
    assert_int_equal(tlsplug_conn_feed(p.c, copy, first), first);
    tlsplug_conn_recv_lend(p.c, copy + first, len - first);
    assert_int_equal(tlsplug_conn_read(p.c, b, sizeof b, &n), TLSPLUG_OK);
    assert_int_equal(n, 10);
    assert_memory_equal(b, "0123456789", 10);
    assert_int_equal(tlsplug_conn_recv_taken(p.c), len - first);
    memset(copy, 0, len); /* the loan is over: this must not be read */
    free(copy);
    assert_int_equal(tlsplug_conn_read(p.c, b, sizeof b, &n), TLSPLUG_WANT_READ);
    pair_free(&p);
}

static void truncation(void **state)
{
    pair p;
    engine_pair(&p, NULL, "server-ec-chain.pem", "server-ec.key.pem", NULL, NULL);
    assert_int_equal(p.cres, TLSPLUG_OK);
    unsigned char b[16];
    size_t n;
    pair_read(&p, 1, b, sizeof b, &n); /* consume any tickets */
    tlsplug_conn_recv_eof(p.c);
    assert_int_equal(tlsplug_conn_read(p.c, b, sizeof b, &n), TLSPLUG_E_TRUNCATED);
    pair_free(&p);
}

static void one_byte_transport(void **state)
{
    tlsplug_ctx *cc = client_ctx(impl, NULL);
    tlsplug_ctx *sc = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    pair p;
    assert_int_equal(pair_take(&p, cc, sc, NULL), TLSPLUG_OK);
    p.chunk = 1;
    pair_handshake(&p);
    assert_int_equal(p.cres, TLSPLUG_OK);
    assert_int_equal(p.sres, TLSPLUG_OK);
    const unsigned char msg[] = "one byte at a time, with would-block in between";
    assert_int_equal(pair_transfer(&p, 1, msg, sizeof msg, 7), 0);
    pair_free(&p);
}

static void not_tls_peer(void **state)
{
    tlsplug_ctx *sc = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    tlsplug_conn *s;
    tlsplug_conn_options so = {.side = TLSPLUG_SIDE_SERVER};
    assert_int_equal(tlsplug_conn_new(&s, sc, &so, NULL), TLSPLUG_OK);
    tlsplug_conn_feed(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    assert_int_equal(tlsplug_conn_handshake(s), TLSPLUG_E_NOT_TLS);
    tlsplug_conn_free(s);
    tlsplug_ctx_free(sc);
}

static int keylog_lines;
static void count_keylog(const tlsplug_conn *c, const char *line, void *arg)
{
    assert_non_null(strchr(line, ' '));
    keylog_lines++;
}
static void with_keylog(tlsplug_config *cfg)
{
    tlsplug_config_set_keylog_callback(cfg, count_keylog, NULL);
}

static void keylog(void **state)
{
    if (!has(TLSPLUG_CAP_KEYLOG)) {
        tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_CLIENT);
        tlsplug_config_add_trust_file(cfg, pki("ca.pem"));
        with_keylog(cfg);
        tlsplug_ctx *ctx = NULL;
        assert_int_equal(tlsplug_ctx_new(&ctx, cfg, impl, NULL), TLSPLUG_E_UNSUPPORTED);
        tlsplug_config_free(cfg);
        return;
    }
    keylog_lines = 0;
    pair p;
    engine_pair(&p, with_keylog, "server-ec-chain.pem", "server-ec.key.pem", NULL, NULL);
    assert_int_equal(p.cres, TLSPLUG_OK);
    assert_true(keylog_lines >= 1);
    pair_free(&p);
}

static void resumption_on(tlsplug_config *cfg)
{
    tlsplug_config_set_resumption(cfg, 1, 1);
}

static void resumption(void **state)
{
    if (!has(TLSPLUG_CAP_SESSION_TICKETS))
        skip();
    tlsplug_ctx *cc = client_ctx(impl, resumption_on);
    tlsplug_ctx *sc = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", resumption_on);
    for (int round = 0; round < 2; round++) {
        pair p;
        assert_int_equal(pair_new(&p, cc, sc, NULL), TLSPLUG_OK);
        pair_handshake(&p);
        assert_int_equal(p.cres, TLSPLUG_OK);
        /* exchange data so TLS 1.3 tickets reach the client */
        const unsigned char ping[] = "ping";
        assert_int_equal(pair_transfer(&p, 0, ping, 4, 4), 0);
        assert_int_equal(pair_transfer(&p, 1, ping, 4, 4), 0);
        tlsplug_info ci;
        tlsplug_conn_info(p.c, &ci);
        assert_int_equal(ci.resumed, round);
        pair_free(&p);
    }
    tlsplug_ctx_free(cc);
    tlsplug_ctx_free(sc);
}

static int hook_calls;
static void *hook_native;
static int hook(tlsplug_impl i, void *native, void *arg)
{
    assert_int_equal(i, impl);
    hook_calls++;
    hook_native = native;
    return 0;
}
static void with_hooks(tlsplug_config *cfg)
{
    tlsplug_config_set_ctx_configure(cfg, hook, NULL);
    tlsplug_config_set_ssl_configure(cfg, hook, NULL);
}

static void native_handles_and_hooks(void **state)
{
    hook_calls = 0;
    tlsplug_ctx *cc = client_ctx(impl, with_hooks);
    assert_int_equal(hook_calls, 1);
    assert_ptr_equal(hook_native, tlsplug_ctx_native(cc, impl));
    tlsplug_ctx *sc = server_ctx(impl, "server-ec-chain.pem", "server-ec.key.pem", NULL);
    pair p;
    assert_int_equal(pair_new(&p, cc, sc, NULL), TLSPLUG_OK);
    assert_int_equal(hook_calls, 2);
    assert_ptr_equal(hook_native, tlsplug_conn_native(p.c, impl));
    assert_int_equal(tlsplug_ctx_impl(cc), impl);
    assert_int_equal(tlsplug_conn_impl(p.c), impl);
    for (int other = 1; other < TLSPLUG_IMPL_COUNT; other++) {
        if (other == (int)impl)
            continue;
        assert_null(tlsplug_ctx_native(cc, (tlsplug_impl)other));
        assert_null(tlsplug_conn_native(p.c, (tlsplug_impl)other));
    }
    assert_non_null(tlsplug_conn_native(p.c, impl));
    pair_free(&p);
    tlsplug_ctx_free(cc);
    tlsplug_ctx_free(sc);
}

int main(int argc, char **argv)
{
    impl = test_backend(argc > 1 ? argv[1] : NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_handshake),
        cmocka_unit_test(tls12_pinned_rsa),
        cmocka_unit_test(tls13_or_unsupported),
        cmocka_unit_test(version_mismatch),
        cmocka_unit_test(no_shared_cipher),
        cmocka_unit_test(cert_expired),
        cmocka_unit_test(cert_not_yet),
        cmocka_unit_test(cert_wrong_host),
        cmocka_unit_test(cert_self_signed),
        cmocka_unit_test(cert_unknown_ca),
        cmocka_unit_test(cert_bad_signature),
        cmocka_unit_test(verify_off_connects),
        cmocka_unit_test(ip_san_and_wildcard),
        cmocka_unit_test(verify_callback),
        cmocka_unit_test(alpn),
        cmocka_unit_test(client_certs),
        cmocka_unit_test(bad_key_config),
        cmocka_unit_test(data_and_close),
        cmocka_unit_test(idle_anywhere),
        cmocka_unit_test(lend_instead_of_copy),
        cmocka_unit_test(lend_after_feed),
        cmocka_unit_test(truncation),
        cmocka_unit_test(one_byte_transport),
        cmocka_unit_test(not_tls_peer),
        cmocka_unit_test(keylog),
        cmocka_unit_test(resumption),
        cmocka_unit_test(native_handles_and_hooks),
    };
    char name[64];
    snprintf(name, sizeof name, "engine-%s", tlsplug_impl_name(impl));
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
