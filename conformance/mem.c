/* The memory transport: two tlsplug engines joined by tests/pair.c, no
 * sockets and no clock.  Every scenario that does not need time or a real
 * socket runs here first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pair.h"
#include "runner.h"

static const char S_MSG[] = "hello from the server";
static const char C_MSG[] = "hello from the client";

typedef struct mem {
    cf_run *r;
    tlsplug_ctx *cc, *sc, *sc2;
    cf_cb ccb, scb, scb2;
    pair p;
} mem;

static int make_ctxs(mem *m)
{
    const cf_case *k = m->r->k;
    char msg[256];
    int bad = 0;
    m->r->c.ran = m->r->s.ran = 1;
    int rc = cf_ctx(&k->c, TLSPLUG_SIDE_CLIENT, (tlsplug_impl)m->r->cep, &m->ccb, &m->cc, msg,
                    sizeof msg);
    if (rc) {
        cf_set_msg(&m->r->c, rc, "%s", msg);
        bad = 1;
    }
    rc = cf_ctx(&k->s, TLSPLUG_SIDE_SERVER, (tlsplug_impl)m->r->sep, &m->scb, &m->sc, msg,
                sizeof msg);
    if (rc) {
        cf_set_msg(&m->r->s, rc, "%s", msg);
        bad = 1;
    }
    if (!bad && k->use_s2) {
        rc = cf_ctx(&k->s2, TLSPLUG_SIDE_SERVER, (tlsplug_impl)m->r->sep, &m->scb2, &m->sc2, msg,
                    sizeof msg);
        if (rc) {
            cf_set_msg(&m->r->s, rc, "second server: %s", msg);
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

static void free_ctxs(mem *m)
{
    tlsplug_ctx_free(m->cc);
    tlsplug_ctx_free(m->sc);
    tlsplug_ctx_free(m->sc2);
}

static int open_pair(mem *m, tlsplug_ctx *sc, size_t chunk)
{
    memset(&m->p, 0, sizeof m->p);
    m->p.chunk = chunk;
    tlsplug_conn_options co = {.side = TLSPLUG_SIDE_CLIENT,
                               .server_name = cf_server_name(&m->r->k->c)};
    tlsplug_error *err = NULL;
    int rc = tlsplug_conn_new(&m->p.c, m->cc, &co, &err);
    if (rc) {
        cf_set(&m->r->c, rc, err);
        tlsplug_error_free(err);
        return -1;
    }
    tlsplug_conn_options so = {.side = TLSPLUG_SIDE_SERVER};
    rc = tlsplug_conn_new(&m->p.s, sc, &so, &err);
    if (rc) {
        cf_set(&m->r->s, rc, err);
        tlsplug_error_free(err);
        pair_free(&m->p);
        return -1;
    }
    return 0;
}

/* Writes all of buf from one end, moving ciphertext to the other. */
static int mem_write(pair *p, int client, const void *buf, size_t len)
{
    tlsplug_conn *me = client ? p->c : p->s, *peer = client ? p->s : p->c;
    size_t done = 0;
    for (int idle = 0; done < len && idle < 1000;) {
        size_t n = 0;
        int rc = tlsplug_conn_write(me, (const char *)buf + done, len - done, &n);
        if (rc < 0)
            return rc;
        done += n;
        size_t moved = pair_move(me, peer, p->chunk);
        idle = n || moved ? 0 : idle + 1;
    }
    while (pair_move(me, peer, p->chunk))
        ;
    return done == len ? TLSPLUG_OK : TLSPLUG_WANT_WRITE;
}

/* Reads exactly len bytes and compares them with want. */
static int mem_read_exact(pair *p, int client, const char *want, size_t len, cf_side_out *o)
{
    char got[256];
    size_t have = 0;
    while (have < len) {
        size_t n = 0;
        int rc = pair_read(p, client, got + have, len - have, &n);
        if (rc == TLSPLUG_WANT_READ) {
            cf_set_msg(o, rc, "stalled after %zu of %zu bytes", have, len);
            return rc;
        }
        if (rc != TLSPLUG_OK) {
            cf_set(o, rc, tlsplug_conn_error(client ? p->c : p->s));
            return rc;
        }
        have += n;
    }
    if (memcmp(got, want, len)) {
        cf_set_msg(o, TLSPLUG_E_INTERNAL, "received bytes differ from those sent");
        return TLSPLUG_E_INTERNAL;
    }
    cf_set(o, TLSPLUG_OK, NULL);
    return TLSPLUG_OK;
}

/* The handshake, then one message from the server and one from the client.
 * In TLS 1.3 a client learns that the server rejected it only when it reads,
 * so the outcome of each end is the first failure of the whole exchange. */
static int handshake_exchange(mem *m, int second)
{
    cf_run *r = m->r;
    pair *p = &m->p;
    pair_handshake(p);
    cf_side_out *c = &r->c, *s = &r->s;
    if (p->cres != TLSPLUG_OK)
        cf_set(c, p->cres, tlsplug_conn_error(p->c));
    else if (tlsplug_conn_info(p->c, second ? &c->info2 : &c->info) == TLSPLUG_OK)
        *(second ? &c->info2_ok : &c->info_ok) = 1;
    if (p->sres != TLSPLUG_OK)
        cf_set(s, p->sres, tlsplug_conn_error(p->s));
    else if (tlsplug_conn_info(p->s, second ? &s->info2 : &s->info) == TLSPLUG_OK)
        *(second ? &s->info2_ok : &s->info_ok) = 1;
    if (!second) {
        c->cb_calls = m->ccb.calls;
        c->cb_verdict = m->ccb.verdict;
    }
    if (p->cres > 0 || p->sres > 0) {
        if (p->cres > 0)
            cf_set_msg(c, p->cres, "handshake stalled");
        if (p->sres > 0)
            cf_set_msg(s, p->sres, "handshake stalled");
        return -1;
    }
    if (p->sres == TLSPLUG_OK) {
        int rc = mem_write(p, 0, S_MSG, sizeof S_MSG - 1);
        if (rc)
            cf_set(s, rc, tlsplug_conn_error(p->s));
    }
    if (p->cres != TLSPLUG_OK)
        return -1;
    if (p->sres != TLSPLUG_OK || s->cls < 0) {
        /* the server failed after the client finished: the client hears of
         * it when it reads */
        char buf[256];
        size_t n = 0;
        int rc = pair_read(p, 1, buf, sizeof buf, &n);
        if (rc == TLSPLUG_WANT_READ)
            cf_set_msg(c, rc, "the server failed but the client heard nothing");
        else
            cf_set(c, rc, rc < 0 ? tlsplug_conn_error(p->c) : NULL);
        return -1;
    }
    if (mem_read_exact(p, 1, S_MSG, sizeof S_MSG - 1, c))
        return -1;
    int rc = mem_write(p, 1, C_MSG, sizeof C_MSG - 1);
    if (rc) {
        cf_set(c, rc, tlsplug_conn_error(p->c));
        return -1;
    }
    if (p->sres != TLSPLUG_OK)
        return -1;
    return mem_read_exact(p, 0, C_MSG, sizeof C_MSG - 1, s) ? -1 : 0;
}

/* Reads on one end until something other than data arrives. */
static int read_to_end(pair *p, int client, cf_side_out *o)
{
    char buf[4096];
    for (int i = 0; i < 1000; i++) {
        size_t n = 0;
        int rc = pair_read(p, client, buf, sizeof buf, &n);
        if (rc == TLSPLUG_OK)
            continue;
        if (rc == TLSPLUG_WANT_READ)
            cf_set_msg(o, rc, "nothing arrived: stalled");
        else
            cf_set(o, rc, tlsplug_conn_error(client ? p->c : p->s));
        return rc;
    }
    cf_set_msg(o, TLSPLUG_E_INTERNAL, "data kept coming");
    return TLSPLUG_E_INTERNAL;
}

static void sc_close(mem *m)
{
    pair *p = &m->p;
    int actor_client = m->r->k->actor == TLSPLUG_SIDE_CLIENT;
    tlsplug_conn *x = actor_client ? p->c : p->s, *y = actor_client ? p->s : p->c;
    cf_side_out *ox = actor_client ? &m->r->c : &m->r->s;
    cf_side_out *oy = actor_client ? &m->r->s : &m->r->c;
    int rc = tlsplug_conn_shutdown(x);
    if (rc != TLSPLUG_OK) {
        cf_fail(m->r, "first shutdown returned %s", tlsplug_error_name(rc));
        return;
    }
    pair_move(x, y, 0);
    if (read_to_end(p, !actor_client, oy) != TLSPLUG_E_CLOSED)
        return;
    rc = tlsplug_conn_shutdown(y);
    if (rc != TLSPLUG_OK) {
        cf_fail(m->r, "answering shutdown returned %s", tlsplug_error_name(rc));
        return;
    }
    pair_move(y, x, 0);
    read_to_end(p, actor_client, ox);
}

static void sc_truncate(mem *m)
{
    pair *p = &m->p;
    int actor_client = m->r->k->actor == TLSPLUG_SIDE_CLIENT;
    tlsplug_conn *x = actor_client ? p->c : p->s, *y = actor_client ? p->s : p->c;
    while (pair_move(x, y, 0))
        ;
    tlsplug_conn_recv_eof(y);
    read_to_end(p, !actor_client, actor_client ? &m->r->s : &m->r->c);
}

static void sc_midhs(mem *m)
{
    pair *p = &m->p;
    cf_run *r = m->r;
    int rc = tlsplug_conn_handshake(p->c);
    pair_move(p->c, p->s, 0);
    int src = tlsplug_conn_handshake(p->s);
    pair_move(p->s, p->c, 0);
    if (rc != TLSPLUG_WANT_READ || src != TLSPLUG_WANT_READ) {
        cf_fail(r, "first flights: client %s, server %s", tlsplug_error_name(rc),
                tlsplug_error_name(src));
        return;
    }
    /* the client gives up: shutdown before the handshake completed is refused */
    rc = tlsplug_conn_shutdown(p->c);
    cf_set(&r->c, rc, rc < 0 ? tlsplug_conn_error(p->c) : NULL);
    if (rc != TLSPLUG_E_INVALID_ARGUMENT)
        cf_fail(r, "client: shutdown during the handshake returned %s, expected %s",
                tlsplug_error_name(rc), tlsplug_error_name(TLSPLUG_E_INVALID_ARGUMENT));
    tlsplug_conn_recv_eof(p->s);
    src = tlsplug_conn_handshake(p->s);
    cf_set(&r->s, src, src < 0 ? tlsplug_conn_error(p->s) : NULL);
}

static void sc_data(mem *m)
{
    size_t len = 1u << 20;
    unsigned char *d = cf_pattern_new(len);
    if (pair_transfer(&m->p, 1, d, len, 1237))
        cf_fail(m->r, "client to server: 1 MiB in 1237-byte writes did not arrive intact");
    if (pair_transfer(&m->p, 0, d, len, 4099))
        cf_fail(m->r, "server to client: 1 MiB in 4099-byte writes did not arrive intact");
    free(d);
}

static void sc_onebyte_tail(mem *m)
{
    size_t len = 3000;
    unsigned char *d = cf_pattern_new(len);
    if (pair_transfer(&m->p, 1, d, len, 1001))
        cf_fail(m->r, "client to server: 3000 bytes one byte at a time did not arrive intact");
    if (pair_transfer(&m->p, 0, d, len, 999))
        cf_fail(m->r, "server to client: 3000 bytes one byte at a time did not arrive intact");
    free(d);
}

/* close_notify from `from`, then plain bytes in the same buffer: the reader
 * sees its data, then closed, then exactly the plain bytes. */
static int close_with_tail(mem *m, int from_client, const char *data, const char *tail)
{
    pair *p = &m->p;
    tlsplug_conn *x = from_client ? p->c : p->s, *y = from_client ? p->s : p->c;
    const char *who = from_client ? "client" : "server";
    size_t n;
    if (data && tlsplug_conn_write(x, data, strlen(data), &n) != TLSPLUG_OK) {
        cf_fail(m->r, "%s: write before close_notify failed", who);
        return -1;
    }
    if (tlsplug_conn_shutdown(x) != TLSPLUG_OK) {
        cf_fail(m->r, "%s: shutdown failed", who);
        return -1;
    }
    unsigned char wire[8192];
    size_t wl = tlsplug_conn_drain(x, wire, sizeof wire - 64);
    memcpy(wire + wl, tail, strlen(tail));
    wl += strlen(tail);
    if (tlsplug_conn_feed(y, wire, wl) != wl) {
        cf_fail(m->r, "%s: peer's buffer refused %zu bytes", who, wl);
        return -1;
    }
    char got[256];
    size_t have = 0;
    int rc;
    for (;;) {
        rc = tlsplug_conn_read(y, got + have, sizeof got - have, &n);
        if (rc != TLSPLUG_OK)
            break;
        have += n;
    }
    if (rc != TLSPLUG_E_CLOSED) {
        cf_fail(m->r, "after the %s's close_notify: %s instead of closed", who,
                tlsplug_error_name(rc));
        return -1;
    }
    if (data && (have != strlen(data) || memcmp(got, data, have)))
        cf_fail(m->r, "data before the %s's close_notify lost (%zu bytes read)", who, have);
    size_t ul;
    const void *u = tlsplug_conn_unread(y, &ul);
    if (ul != strlen(tail) || memcmp(u, tail, ul)) {
        cf_fail(m->r, "plain bytes after the %s's close_notify: %zu kept, expected '%s'", who, ul,
                tail);
        return -1;
    }
    tlsplug_conn_unread_ack(y, ul);
    return 0;
}

static void sc_starttls(mem *m)
{
    /* server detaches first with "250" behind its close_notify, the client
     * answers with "QUIT" behind its own; then TLS is attached again */
    if (close_with_tail(m, 0, NULL, "250 plain again\r\n") ||
        close_with_tail(m, 1, NULL, "QUIT\r\n"))
        return;
    pair_free(&m->p);
    cf_side_out keep_c = m->r->c, keep_s = m->r->s;
    if (open_pair(m, m->sc, 0) == 0 && handshake_exchange(m, 1) == 0)
        return;
    cf_fail(m->r, "attaching TLS again failed: client %s, server %s", tlsplug_error_name(m->r->c.cls),
            tlsplug_error_name(m->r->s.cls));
    m->r->c = keep_c;
    m->r->s = keep_s;
}

static void sc_not_tls(mem *m)
{
    cf_run *r = m->r;
    const char *junk = r->k->junk;
    size_t jl = strlen(junk) ? strlen(junk) : 1;
    if (r->k->actor == TLSPLUG_SIDE_CLIENT) {
        r->c.ran = 0; /* the client is the suite, speaking plain text */
        tlsplug_conn_feed(m->p.s, junk, jl);
        int rc = tlsplug_conn_handshake(m->p.s);
        if (rc == TLSPLUG_WANT_READ)
            cf_set_msg(&r->s, rc, "still waiting for more after %zu plain bytes", jl);
        else
            cf_set(&r->s, rc, tlsplug_conn_error(m->p.s));
        return;
    }
    r->s.ran = 0;
    int rc = tlsplug_conn_handshake(m->p.c);
    unsigned char hello[4096];
    tlsplug_conn_drain(m->p.c, hello, sizeof hello);
    if (rc != TLSPLUG_WANT_READ) {
        cf_set(&r->c, rc, tlsplug_conn_error(m->p.c));
        return;
    }
    tlsplug_conn_feed(m->p.c, junk, jl);
    rc = tlsplug_conn_handshake(m->p.c);
    if (rc == TLSPLUG_WANT_READ)
        cf_set_msg(&r->c, rc, "still waiting for more after %zu plain bytes", jl);
    else
        cf_set(&r->c, rc, tlsplug_conn_error(m->p.c));
}

void cf_mem_run(cf_run *r)
{
    mem m = {.r = r};
    const cf_case *k = r->k;
    int bad = make_ctxs(&m);
    if (k->sc == SC_CONFIG) {
        if (m.cc)
            cf_set(&r->c, TLSPLUG_OK, NULL);
        if (m.sc)
            cf_set(&r->s, TLSPLUG_OK, NULL);
        goto out;
    }
    if (bad)
        goto out;
    if (open_pair(&m, m.sc, k->sc == SC_ONEBYTE ? 1 : 0))
        goto out;
    switch (k->sc) {
    case SC_MIDHS:
        sc_midhs(&m);
        break;
    case SC_NOT_TLS:
        sc_not_tls(&m);
        break;
    default:
        if (handshake_exchange(&m, 0))
            break;
        switch (k->sc) {
        case SC_RESUME:
            pair_free(&m.p);
            if (open_pair(&m, m.sc2 ? m.sc2 : m.sc, 0) == 0)
                handshake_exchange(&m, 1);
            break;
        case SC_CLOSE:
            sc_close(&m);
            break;
        case SC_TRUNCATE:
            sc_truncate(&m);
            break;
        case SC_DATA:
            sc_data(&m);
            break;
        case SC_ONEBYTE:
            sc_onebyte_tail(&m);
            break;
        case SC_STARTTLS:
            sc_starttls(&m);
            break;
        case SC_TRAILING:
            close_with_tail(&m, 0, "tls-data", "PLAIN-TAIL");
            break;
        case SC_NATIVE:
            cf_check_native(r, m.p.c, m.p.s);
            break;
        default:
            break;
        }
    }
    pair_free(&m.p);
out:
    free_ctxs(&m);
}
