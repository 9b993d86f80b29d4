/* The TCP transport: both ends are tlsplug_aio on the built-in loop over real
 * loopback TCP.  Handshakes go through tlsplug_listen + tlsplug_aio_connect;
 * the scenarios that need a hand on the wire (STARTTLS, timeouts, a plain
 * peer, a byte-at-a-time relay) use a connected socket pair and
 * tlsplug_aio_attach. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aiokit.h"
#include "runner.h"
#include "tcp_util.h"

static const char S_MSG[] = "hello from the server";
static const char C_MSG[] = "hello from the client";

#define SHORT_TIMEOUT_MS 300u /* handshake timeout of the timeout cases */
#define DRIP_EVERY_S 0.1      /* the dripping peer's pace                */
#define WAIT_S 10.0           /* bound of every wait                     */


typedef struct sess {
    tlsplug_aio *c, *s;
    op oc, os;       /* attach / connect results */
    op closed_c, closed_s;
} sess;

typedef struct tcp {
    kit k;
    cf_run *r;
    tlsplug_ctx *cc, *sc, *sc2;
    cf_cb ccb, scb, scb2;
    reader rd[4];
    writer wr[4];
    sess x;                /* the connection under test */
    op sh[2];              /* SC_CLOSE: the two shutdowns */
    tlsplug_listener *l;
    unsigned char *big_out, *big_in[2];
} tcp;

static void relay_tick(void *arg)
{
    relay_step(arg);
}

static reader *rd_start(tcp *t, int slot, tlsplug_aio *a, void *buf, size_t want, int until_end)
{
    return start_read(&t->k, &t->rd[slot], a, buf, want, until_end);
}

static writer *wr_start(tcp *t, int slot, tlsplug_aio *a, const void *buf, size_t len,
                        size_t wsize)
{
    return start_write(&t->k, &t->wr[slot], a, buf, len, wsize);
}

static int wait4(tcp *t, op *a, op *b, op *c, op *d)
{
    return wait_ops(&t->k, WAIT_S, a, b, c, d);
}

/* One message from one aio to the other, compared on arrival. */
static int send_msg(tcp *t, tlsplug_aio *from, tlsplug_aio *to, const char *msg, op *wo, op *ro)
{
    size_t len = strlen(msg);
    char got[256];
    writer *w = wr_start(t, 0, from, msg, len, 0);
    reader *rd = rd_start(t, 0, to, got, len, 0);
    wait4(t, &w->o, &rd->o, NULL, NULL);
    stalled(&t->k, &w->o, "write did not complete");
    stalled(&t->k, &rd->o, "nothing arrived: stalled");
    *wo = w->o;
    *ro = rd->o;
    if (w->o.cls || rd->o.cls)
        return -1;
    if (memcmp(got, msg, len)) {
        op_fail(&t->k, ro, TLSPLUG_E_INTERNAL, "received bytes differ from those sent");
        return -1;
    }
    return 0;
}

/* ---- the connection under test ------------------------------------------- */

static void on_connected(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    tcp *t = arg;
    op_set(&t->k, &t->x.oc, e);
    if (!e)
        t->x.c = a;
}

static void on_accept(tlsplug_listener *l, tlsplug_aio *a, void *arg)
{
    tcp *t = arg;
    if (t->x.s) {
        tlsplug_aio_close(a, NULL, NULL); /* only one connection is expected */
        return;
    }
    t->x.s = a;
    op_set(&t->k, &t->x.os, NULL);
}

static void on_accept_error(tlsplug_listener *l, const tlsplug_error *e, void *arg)
{
    tcp *t = arg;
    if (!t->x.os.done)
        op_set(&t->k, &t->x.os, e);
}

static void record_hs(tcp *t, int second)
{
    cf_run *r = t->r;
    sess *x = &t->x;
    out_from_op(&r->c, &x->oc);
    out_from_op(&r->s, &x->os);
    tlsplug_conn *cc = x->c ? tlsplug_aio_conn(x->c) : NULL;
    tlsplug_conn *sc = x->s ? tlsplug_aio_conn(x->s) : NULL;
    if (cc && tlsplug_conn_info(cc, second ? &r->c.info2 : &r->c.info) == TLSPLUG_OK)
        *(second ? &r->c.info2_ok : &r->c.info_ok) = 1;
    if (sc && tlsplug_conn_info(sc, second ? &r->s.info2 : &r->s.info) == TLSPLUG_OK)
        *(second ? &r->s.info2_ok : &r->s.info_ok) = 1;
    if (!second) {
        r->c.cb_calls = t->ccb.calls;
        r->c.cb_verdict = t->ccb.verdict;
    }
}

/* Server message, then client message; each end's outcome is its first
 * failure (TLS 1.3 clients learn of a rejection when they read). */
static int exchange(tcp *t)
{
    cf_run *r = t->r;
    sess *x = &t->x;
    op wo, ro;
    if (!x->c || !x->s) {
        if (x->c) {
            /* the server failed: the client should hear of it when reading */
            char b[64];
            reader *rd = rd_start(t, 0, x->c, b, sizeof b, 1);
            wait4(t, &rd->o, NULL, NULL, NULL);
            stalled(&t->k, &rd->o, "the server failed but the client heard nothing");
            out_from_op(&r->c, &rd->o);
        }
        return -1;
    }
    if (send_msg(t, x->s, x->c, S_MSG, &wo, &ro)) {
        out_from_op(&r->s, &wo);
        out_from_op(&r->c, &ro);
        return -1;
    }
    if (send_msg(t, x->c, x->s, C_MSG, &wo, &ro)) {
        out_from_op(&r->c, &wo);
        out_from_op(&r->s, &ro);
        return -1;
    }
    return 0;
}

static int connect_listen(tcp *t, tlsplug_ctx *sc, int second)
{
    cf_run *r = t->r;
    memset(&t->x, 0, sizeof t->x);
    tlsplug_attach_options sa = {.ctx = sc};
    tlsplug_listen_options lo = {.attach = &sa};
    int rc = tlsplug_listen(&t->l, t->k.R, "127.0.0.1", 0, &lo, on_accept, on_accept_error, t);
    if (rc) {
        cf_fail(r, "tlsplug_listen failed: %s", tlsplug_error_name(rc));
        return -1;
    }
    tlsplug_attach_options ca = {.ctx = t->cc, .server_name = cf_server_name(&r->k->c)};
    tlsplug_connect_options co = {.attach = &ca};
    tlsplug_aio *a;
    rc = tlsplug_aio_connect(&a, t->k.R, "127.0.0.1", tlsplug_listener_port(t->l), &co,
                             on_connected, t);
    if (rc) {
        cf_fail(r, "tlsplug_aio_connect failed: %s", tlsplug_error_name(rc));
        tlsplug_listener_close(t->l);
        t->l = NULL;
        return -1;
    }
    if (wait4(t, &t->x.oc, &t->x.os, NULL, NULL)) {
        stalled(&t->k, &t->x.oc, "the handshake did not complete");
        stalled(&t->k, &t->x.os, "the handshake did not complete");
    }
    tlsplug_listener_close(t->l);
    t->l = NULL;
    record_hs(t, second);
    return t->x.c && t->x.s ? 0 : -1;
}

static void close_sess(tcp *t)
{
    sess *x = &t->x;
    if (x->c)
        tlsplug_aio_close(x->c, on_op, &x->closed_c);
    if (x->s)
        tlsplug_aio_close(x->s, on_op, &x->closed_s);
    wait4(t, x->c ? &x->closed_c : NULL, x->s ? &x->closed_s : NULL, NULL, NULL);
    x->c = x->s = NULL;
}

/* ---- scenarios ----------------------------------------------------------- */

/* One leg of a close: from shuts down, the other end reads to the end of
 * the stream.  The shutdown op lives in t: if it is still pending here, the
 * close of the session cancels it later and its callback must land in live
 * memory.  Returns the class the reader ended with (X_ANY: never read). */
static int close_leg(tcp *t, int leg, tlsplug_aio *from, tlsplug_aio *to, cf_side_out *oto,
                     const char *what)
{
    cf_run *r = t->r;
    op *sh = &t->sh[leg];
    memset(sh, 0, sizeof *sh);
    int rc = tlsplug_aio_shutdown(from, 3000, on_op, sh);
    if (rc) {
        cf_fail(r, "%s shutdown refused: %s", what, tlsplug_error_name(rc));
        return X_ANY;
    }
    reader *rd = rd_start(t, 1 + leg, to, NULL, 0, 1);
    wait4(t, sh, &rd->o, NULL, NULL);
    stalled(&t->k, &rd->o, "nothing arrived: stalled");
    if (!sh->done)
        cf_fail(r, "%s shutdown never completed", what);
    else if (sh->cls)
        cf_fail(r, "%s shutdown completed with %s", what, tlsplug_error_name(sh->cls));
    out_from_op(oto, &rd->o);
    return rd->o.cls;
}

static void sc_close(tcp *t)
{
    cf_run *r = t->r;
    int actor_client = r->k->actor == TLSPLUG_SIDE_CLIENT;
    tlsplug_aio *x = actor_client ? t->x.c : t->x.s, *y = actor_client ? t->x.s : t->x.c;
    cf_side_out *ox = actor_client ? &r->c : &r->s, *oy = actor_client ? &r->s : &r->c;
    if (close_leg(t, 0, x, y, oy, "first") == TLSPLUG_E_CLOSED)
        close_leg(t, 1, y, x, ox, "answering");
}

static void sc_truncate(tcp *t)
{
    cf_run *r = t->r;
    int actor_client = r->k->actor == TLSPLUG_SIDE_CLIENT;
    tlsplug_aio *x = actor_client ? t->x.c : t->x.s, *y = actor_client ? t->x.s : t->x.c;
    /* FIN without close_notify: below tlsplug, on the socket itself */
    shutdown(tlsplug_aio_fd(x), SHUT_WR);
    reader *ry = rd_start(t, 1, y, NULL, 0, 1);
    wait4(t, &ry->o, NULL, NULL, NULL);
    stalled(&t->k, &ry->o, "nothing arrived: stalled");
    out_from_op(actor_client ? &r->s : &r->c, &ry->o);
}

static void both_ways(tcp *t, size_t len, size_t wc, size_t ws, const char *what)
{
    cf_run *r = t->r;
    t->big_out = cf_pattern_new(len);
    t->big_in[0] = malloc(len);
    t->big_in[1] = malloc(len);
    writer *w1 = wr_start(t, 1, t->x.c, t->big_out, len, wc);
    writer *w2 = wr_start(t, 2, t->x.s, t->big_out, len, ws);
    reader *r1 = rd_start(t, 1, t->x.s, t->big_in[0], len, 0);
    reader *r2 = rd_start(t, 2, t->x.c, t->big_in[1], len, 0);
    wait4(t, &w1->o, &w2->o, &r1->o, &r2->o);
    stalled(&t->k, &r1->o, "stalled");
    stalled(&t->k, &r2->o, "stalled");
    if (w1->o.cls || r1->o.cls || memcmp(t->big_in[0], t->big_out, len))
        cf_fail(r, "client to server: %s did not arrive intact (%zu bytes, %s/%s)", what,
                r1->have, tlsplug_error_name(w1->o.cls), tlsplug_error_name(r1->o.cls));
    if (w2->o.cls || r2->o.cls || memcmp(t->big_in[1], t->big_out, len))
        cf_fail(r, "server to client: %s did not arrive intact (%zu bytes, %s/%s)", what,
                r2->have, tlsplug_error_name(w2->o.cls), tlsplug_error_name(r2->o.cls));
}

/* Connected aios over a socket pair, plain. */
static int plain_pair(tcp *t, int fds[2])
{
    if (cf_tcp_pair(fds)) {
        cf_fail(t->r, "cannot make a loopback TCP connection: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int attach_both(tcp *t, uint32_t timeout_ms, int second)
{
    tlsplug_attach_options ca = {.ctx = t->cc,
                                 .server_name = cf_server_name(&t->r->k->c),
                                 .handshake_timeout_ms = timeout_ms};
    tlsplug_attach_options sa = {.ctx = t->sc, .handshake_timeout_ms = timeout_ms};
    int rc = tlsplug_aio_attach(t->x.c, &ca, on_op, &t->x.oc);
    if (rc)
        op_fail(&t->k, &t->x.oc, rc, "tlsplug_aio_attach refused");
    rc = tlsplug_aio_attach(t->x.s, &sa, on_op, &t->x.os);
    if (rc)
        op_fail(&t->k, &t->x.os, rc, "tlsplug_aio_attach refused");
    wait4(t, &t->x.oc, &t->x.os, NULL, NULL);
    stalled(&t->k, &t->x.oc, "the handshake did not complete");
    stalled(&t->k, &t->x.os, "the handshake did not complete");
    /* record_hs wants the aios only when attached */
    tlsplug_aio *c = t->x.c, *s = t->x.s;
    if (t->x.oc.cls)
        t->x.c = NULL;
    if (t->x.os.cls)
        t->x.s = NULL;
    record_hs(t, second);
    t->x.c = c;
    t->x.s = s;
    return t->x.oc.cls || t->x.os.cls ? -1 : 0;
}

static int new_aio(tcp *t, int fd, tlsplug_aio **a)
{
    int rc = tlsplug_aio_new(a, t->k.R, fd);
    if (rc)
        cf_fail(t->r, "tlsplug_aio_new: %s", tlsplug_error_name(rc));
    return rc;
}

static void sc_onebyte(tcp *t)
{
    int a[2], b[2];
    if (plain_pair(t, a))
        return;
    if (plain_pair(t, b)) {
        close(a[0]);
        close(a[1]);
        return;
    }
    relay rl;
    relay_init(&rl, a[1], b[0]);
    t->k.tick = relay_tick;
    t->k.tick_arg = &rl;
    t->k.turn_ms = 1;
    memset(&t->x, 0, sizeof t->x);
    if (new_aio(t, a[0], &t->x.c) || new_aio(t, b[1], &t->x.s))
        goto out;
    if (attach_both(t, 20000, 0) == 0 && exchange(t) == 0)
        both_ways(t, 3000, 1001, 999, "3000 bytes over a one-byte relay");
out:
    close_sess(t);
    t->k.tick = NULL;
    t->k.turn_ms = 0;
    relay_close(&rl);
}

static int peek_len(int fd)
{
    unsigned char b[64];
    ssize_t n = recv(fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 ? (int)n : 0;
}

/* Runs the loop until fd has at least n bytes waiting. */
static int wait_bytes(tcp *t, int fd, int n)
{
    double end = now_s() + WAIT_S;
    while (peek_len(fd) < n && now_s() < end)
        tlsplug_loop_run_once(t->k.loop, 10);
    return peek_len(fd) >= n ? 0 : -1;
}

static void sc_midhs(tcp *t)
{
    cf_run *r = t->r;
    int fds[2];
    if (plain_pair(t, fds))
        return;
    memset(&t->x, 0, sizeof t->x);
    tlsplug_aio *c;
    if (new_aio(t, fds[0], &c)) {
        close(fds[1]);
        return;
    }
    tlsplug_attach_options ca = {.ctx = t->cc, .server_name = cf_server_name(&r->k->c)};
    op att = {0}, sh = {0}, closed = {0};
    int rc = tlsplug_aio_attach(c, &ca, on_op, &att);
    if (rc)
        cf_fail(r, "client attach refused: %s", tlsplug_error_name(rc));
    if (wait_bytes(t, fds[1], 5))
        cf_fail(r, "no ClientHello arrived");
    /* the client gives up mid-handshake: a half-close is busy, a close cancels */
    rc = tlsplug_aio_shutdown(c, 1000, on_op, &sh);
    if (rc != TLSPLUG_E_BUSY)
        cf_fail(r, "client: shutdown during the handshake returned %s, expected busy",
                tlsplug_error_name(rc));
    tlsplug_aio_close(c, on_op, &closed);
    double end = now_s() + WAIT_S;
    while ((!att.done || !closed.done) && now_s() < end)
        tlsplug_loop_run_once(t->k.loop, 10);
    r->c.cls = att.done ? att.cls : X_ANY;
    snprintf(r->c.msg, sizeof r->c.msg, "%s", att.msg);
    if (!att.done || att.cls != TLSPLUG_E_CANCELED)
        cf_fail(r, "client: the attach completed with %s, expected canceled",
                att.done ? tlsplug_error_name(att.cls) : "nothing");
    if (!closed.done)
        cf_fail(r, "client: the close callback never ran");
    else if (att.done && att.seq > closed.seq)
        cf_fail(r, "client: the close callback ran before the canceled attach's");
    /* the server now meets a ClientHello and then the end of the stream */
    tlsplug_aio *s;
    if (new_aio(t, fds[1], &s))
        return;
    tlsplug_attach_options sa = {.ctx = t->sc, .handshake_timeout_ms = 5000};
    op satt = {0}, sclosed = {0};
    rc = tlsplug_aio_attach(s, &sa, on_op, &satt);
    if (rc)
        op_fail(&t->k, &satt, rc, "server attach refused");
    wait4(t, &satt, NULL, NULL, NULL);
    stalled(&t->k, &satt, "the server's attach never completed");
    out_from_op(&r->s, &satt);
    tlsplug_aio_close(s, on_op, &sclosed);
    wait4(t, &sclosed, NULL, NULL, NULL);
}

static void sc_not_tls(tcp *t)
{
    cf_run *r = t->r;
    int fds[2];
    if (plain_pair(t, fds))
        return;
    int client_plain = r->k->actor == TLSPLUG_SIDE_CLIENT;
    int plain_fd = client_plain ? fds[0] : fds[1];
    tlsplug_aio *a;
    if (new_aio(t, client_plain ? fds[1] : fds[0], &a)) {
        close(plain_fd);
        return;
    }
    (client_plain ? &r->c : &r->s)->ran = 0;
    tlsplug_attach_options o = {.ctx = client_plain ? t->sc : t->cc,
                                .server_name = client_plain ? NULL : cf_server_name(&r->k->c),
                                .handshake_timeout_ms = 5000};
    op att = {0}, closed = {0};
    int rc = tlsplug_aio_attach(a, &o, on_op, &att);
    if (rc)
        op_fail(&t->k, &att, rc, "attach refused");
    if (!client_plain && wait_bytes(t, plain_fd, 5) == 0) {
        unsigned char hello[4096];
        (void)!recv(plain_fd, hello, sizeof hello, MSG_DONTWAIT);
    }
    /* the plain peer says its piece and keeps the connection open: the
     * attach must fail on the bytes, not on the timeout */
    (void)!send(plain_fd, r->k->junk, strlen(r->k->junk) ? strlen(r->k->junk) : 1, MSG_NOSIGNAL);
    wait4(t, &att, NULL, NULL, NULL);
    stalled(&t->k, &att, "no result: hung");
    out_from_op(client_plain ? &r->s : &r->c, &att);
    if (att.done && tlsplug_aio_state_of(a) != TLSPLUG_AIO_PLAIN)
        cf_fail(r, "state after the failed attach is %d, expected plain",
                (int)tlsplug_aio_state_of(a));
    tlsplug_aio_close(a, on_op, &closed);
    wait4(t, &closed, NULL, NULL, NULL);
    close(plain_fd);
}

/* A peer that says nothing, or that drips a valid flight: both ends' attach
 * must end with timeout after SHORT_TIMEOUT_MS, whatever still arrives. */
static void sc_timeout(tcp *t, int drip)
{
    cf_run *r = t->r;
    int a[2], b[2];
    if (plain_pair(t, a))
        return;
    if (plain_pair(t, b)) {
        close(a[0]);
        close(a[1]);
        return;
    }
    tlsplug_aio *c, *s;
    if (new_aio(t, a[0], &c)) {
        close(a[1]);
        close(b[0]);
        close(b[1]);
        return;
    }
    if (new_aio(t, b[1], &s)) {
        tlsplug_aio_close(c, NULL, NULL);
        close(a[1]);
        close(b[0]);
        return;
    }
    /* the dripping peers are engines of the other backend, driven by hand */
    dripper dc, ds;
    int bad = 0;
    if (drip) {
        bad |= dripper_init(&dc, t->sc, TLSPLUG_SIDE_SERVER, NULL, a[1], DRIP_EVERY_S);
        bad |= dripper_init(&ds, t->cc, TLSPLUG_SIDE_CLIENT, cf_server_name(&r->k->c), b[0],
                            DRIP_EVERY_S);
        if (bad)
            cf_fail(r, "cannot make the dripping peers");
    }
    tlsplug_attach_options ca = {.ctx = t->cc,
                                 .server_name = cf_server_name(&r->k->c),
                                 .handshake_timeout_ms = SHORT_TIMEOUT_MS};
    tlsplug_attach_options sa = {.ctx = t->sc, .handshake_timeout_ms = SHORT_TIMEOUT_MS};
    op oc = {0}, os = {0}, cc = {0}, cs = {0};
    int rc = tlsplug_aio_attach(c, &ca, on_op, &oc);
    if (rc)
        op_fail(&t->k, &oc, rc, "attach refused");
    rc = tlsplug_aio_attach(s, &sa, on_op, &os);
    if (rc)
        op_fail(&t->k, &os, rc, "attach refused");
    double end = now_s() + 3.0;
    while ((!oc.done || !os.done) && now_s() < end) {
        tlsplug_loop_run_once(t->k.loop, 5);
        if (drip && !bad) {
            dripper_step(&dc, now_s());
            dripper_step(&ds, now_s());
        }
    }
    stalled(&t->k, &oc, "no result within 3 s: hung");
    stalled(&t->k, &os, "no result within 3 s: hung");
    out_from_op(&r->c, &oc);
    out_from_op(&r->s, &os);
    if (drip && !bad && (!dc.sent || !ds.sent))
        cf_fail(r, "the dripping peers sent nothing (client side %zu, server side %zu bytes)",
                dc.sent, ds.sent);
    if (oc.done && tlsplug_aio_state_of(c) != TLSPLUG_AIO_PLAIN)
        cf_fail(r, "client: state after the timeout is not plain");
    if (os.done && tlsplug_aio_state_of(s) != TLSPLUG_AIO_PLAIN)
        cf_fail(r, "server: state after the timeout is not plain");
    tlsplug_aio_close(c, on_op, &cc);
    tlsplug_aio_close(s, on_op, &cs);
    wait4(t, &cc, &cs, NULL, NULL);
    if (drip && !bad) {
        dripper_free(&dc);
        dripper_free(&ds);
    }
    close(a[1]);
    close(b[0]);
}

static int plain_msg(tcp *t, tlsplug_aio *from, tlsplug_aio *to, const char *msg, const char *when)
{
    op wo, ro;
    if (send_msg(t, from, to, msg, &wo, &ro) == 0)
        return 0;
    cf_fail(t->r, "%s: '%.*s' did not get through (%s / %s: %s)", when, (int)strcspn(msg, "\r"),
            msg, tlsplug_error_name(wo.cls), tlsplug_error_name(ro.cls), ro.msg[0] ? ro.msg : wo.msg);
    return -1;
}

static void sc_starttls(tcp *t)
{
    cf_run *r = t->r;
    int fds[2];
    if (plain_pair(t, fds))
        return;
    memset(&t->x, 0, sizeof t->x);
    if (new_aio(t, fds[0], &t->x.c)) {
        close(fds[1]);
        return;
    }
    if (new_aio(t, fds[1], &t->x.s))
        goto out;
    if (plain_msg(t, t->x.c, t->x.s, "STARTTLS\r\n", "plain, before attach") ||
        plain_msg(t, t->x.s, t->x.c, "220 ready\r\n", "plain, before attach"))
        goto out;
    if (attach_both(t, 5000, 0) || exchange(t))
        goto out;
    op dc = {0}, ds = {0};
    int rc = tlsplug_aio_detach(t->x.s, 3000, on_op, &ds);
    int rc2 = tlsplug_aio_detach(t->x.c, 3000, on_op, &dc);
    if (rc || rc2) {
        cf_fail(r, "detach refused: server %s, client %s", tlsplug_error_name(rc),
                tlsplug_error_name(rc2));
        goto out;
    }
    wait4(t, &dc, &ds, NULL, NULL);
    if (!dc.done || !ds.done || dc.cls || ds.cls) {
        cf_fail(r, "detach: client %s, server %s (%s)",
                dc.done ? tlsplug_error_name(dc.cls) : "stalled",
                ds.done ? tlsplug_error_name(ds.cls) : "stalled", dc.cls ? dc.msg : ds.msg);
        goto out;
    }
    if (tlsplug_aio_state_of(t->x.c) != TLSPLUG_AIO_PLAIN || tlsplug_aio_conn(t->x.c))
        cf_fail(r, "client: not plain after detach");
    if (plain_msg(t, t->x.s, t->x.c, "250 plain again\r\n", "plain, after detach") ||
        plain_msg(t, t->x.c, t->x.s, "QUIT\r\n", "plain, after detach"))
        goto out;
    /* and TLS again on the same connection */
    memset(&t->x.oc, 0, sizeof t->x.oc);
    memset(&t->x.os, 0, sizeof t->x.os);
    if (attach_both(t, 5000, 1) || exchange(t))
        cf_fail(r, "attaching TLS a second time failed");
out:
    close_sess(t);
}

/* close_notify and plain bytes leave the hand-driven end in one write; the
 * aio end detaches and must read the TLS data, then exactly the plain bytes. */
static void trailing_one_way(tcp *t, int hand_is_server)
{
    cf_run *r = t->r;
    const char *who = hand_is_server ? "client aio" : "server aio";
    int fds[2];
    if (plain_pair(t, fds))
        return;
    int hand_fd = hand_is_server ? fds[1] : fds[0];
    tlsplug_aio *a;
    if (new_aio(t, hand_is_server ? fds[0] : fds[1], &a)) {
        close(hand_fd);
        return;
    }
    tlsplug_conn *h = NULL;
    tlsplug_conn_options ho = {.side = hand_is_server ? TLSPLUG_SIDE_SERVER : TLSPLUG_SIDE_CLIENT,
                               .server_name = hand_is_server ? NULL : cf_server_name(&r->k->c)};
    tlsplug_error *err = NULL;
    op att = {0}, det = {0}, closed = {0};
    if (tlsplug_conn_new(&h, hand_is_server ? t->sc : t->cc, &ho, &err)) {
        cf_fail(r, "hand-driven engine: %s", tlsplug_error_message(err));
        tlsplug_error_free(err);
        goto out;
    }
    tlsplug_attach_options o = {.ctx = hand_is_server ? t->cc : t->sc,
                                .server_name = hand_is_server ? cf_server_name(&r->k->c) : NULL};
    if (tlsplug_aio_attach(a, &o, on_op, &att)) {
        cf_fail(r, "%s: attach refused", who);
        goto out;
    }
    int hs = TLSPLUG_WANT_READ;
    double end = now_s() + WAIT_S;
    while ((!att.done || hs > 0) && now_s() < end) {
        tlsplug_loop_run_once(t->k.loop, 5);
        hs = cf_hand_step(h, hand_fd);
    }
    if (!att.done || att.cls || hs != TLSPLUG_OK) {
        cf_fail(r, "handshake: %s %s, hand-driven end %s", who,
                att.done ? tlsplug_error_name(att.cls) : "stalled", tlsplug_error_name(hs));
        goto out;
    }
    size_t n;
    if (tlsplug_conn_write(h, "tls-data", 8, &n) != TLSPLUG_OK || n != 8 ||
        tlsplug_conn_shutdown(h) != TLSPLUG_OK) {
        cf_fail(r, "hand-driven end: write or shutdown failed");
        goto out;
    }
    unsigned char wire[8192];
    size_t wl = tlsplug_conn_drain(h, wire, sizeof wire - 16);
    memcpy(wire + wl, "PLAIN-TAIL", 10);
    if (send(hand_fd, wire, wl + 10, MSG_NOSIGNAL) != (ssize_t)(wl + 10)) {
        cf_fail(r, "short send on the hand-driven end");
        goto out;
    }
    if (tlsplug_aio_detach(a, 3000, on_op, &det)) {
        cf_fail(r, "%s: detach refused", who);
        goto out;
    }
    wait4(t, &det, NULL, NULL, NULL);
    if (!det.done || det.cls) {
        cf_fail(r, "%s: detach %s (%s)", who, det.done ? tlsplug_error_name(det.cls) : "stalled",
                det.msg);
        goto out;
    }
    char got[32] = {0};
    reader *rd = rd_start(t, 3, a, got, 18, 0);
    wait4(t, &rd->o, NULL, NULL, NULL);
    if (!rd->o.done || rd->o.cls || memcmp(got, "tls-dataPLAIN-TAIL", 18))
        cf_fail(r, "%s: after detach read '%.*s' (%s), expected 'tls-dataPLAIN-TAIL'", who,
                (int)rd->have, got, rd->o.done ? tlsplug_error_name(rd->o.cls) : "stalled");
out:
    tlsplug_aio_close(a, on_op, &closed);
    wait4(t, &closed, NULL, NULL, NULL);
    tlsplug_conn_free(h);
    close(hand_fd);
}

static void sc_trailing(tcp *t)
{
    cf_run *r = t->r;
    r->c.ran = r->s.ran = 1;
    trailing_one_way(t, 1);
    trailing_one_way(t, 0);
    cf_set(&r->c, TLSPLUG_OK, NULL);
    cf_set(&r->s, TLSPLUG_OK, NULL);
}

/* ---- the run ------------------------------------------------------------- */

static int make_ctxs(tcp *t)
{
    cf_run *r = t->r;
    const cf_case *k = r->k;
    char msg[256];
    int bad = 0;
    r->c.ran = r->s.ran = 1;
    int rc = cf_ctx(&k->c, TLSPLUG_SIDE_CLIENT, (tlsplug_impl)r->cep, &t->ccb, &t->cc, msg,
                    sizeof msg);
    if (rc) {
        cf_set_msg(&r->c, rc, "%s", msg);
        bad = 1;
    }
    rc = cf_ctx(&k->s, TLSPLUG_SIDE_SERVER, (tlsplug_impl)r->sep, &t->scb, &t->sc, msg,
                sizeof msg);
    if (rc) {
        cf_set_msg(&r->s, rc, "%s", msg);
        bad = 1;
    }
    if (!bad && k->use_s2) {
        rc = cf_ctx(&k->s2, TLSPLUG_SIDE_SERVER, (tlsplug_impl)r->sep, &t->scb2, &t->sc2, msg,
                    sizeof msg);
        if (rc) {
            cf_set_msg(&r->s, rc, "second server: %s", msg);
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

static void run_scenario(tcp *t)
{
    cf_run *r = t->r;
    switch (r->k->sc) {
    case SC_MIDHS:
        sc_midhs(t);
        return;
    case SC_NOT_TLS:
        sc_not_tls(t);
        return;
    case SC_TIMEOUT_SILENT:
        sc_timeout(t, 0);
        return;
    case SC_TIMEOUT_DRIP:
        sc_timeout(t, 1);
        return;
    case SC_STARTTLS:
        sc_starttls(t);
        return;
    case SC_TRAILING:
        sc_trailing(t);
        return;
    case SC_ONEBYTE:
        sc_onebyte(t);
        return;
    default:
        break;
    }
    if (connect_listen(t, t->sc, 0) == 0 && exchange(t) == 0) {
        switch (r->k->sc) {
        case SC_RESUME:
            close_sess(t);
            if (connect_listen(t, t->sc2 ? t->sc2 : t->sc, 1) == 0)
                exchange(t);
            break;
        case SC_CLOSE:
            sc_close(t);
            break;
        case SC_TRUNCATE:
            sc_truncate(t);
            break;
        case SC_DATA:
            both_ways(t, 1u << 20, 1237, 4099, "1 MiB in odd-sized writes");
            break;
        case SC_NATIVE:
            cf_check_native(r, tlsplug_aio_conn(t->x.c), tlsplug_aio_conn(t->x.s));
            break;
        default:
            break;
        }
    } else if (t->x.c && !t->x.s) {
        /* the server end failed: the client hears of it when it reads */
        exchange(t);
    }
    close_sess(t);
}

void cf_tcp_run(cf_run *r)
{
    tcp *t = calloc(1, sizeof *t);
    if (!t) {
        cf_fail(r, "out of memory");
        return;
    }
    t->r = r;
    if (tlsplug_loop_new(&t->k.loop, 0)) {
        cf_fail(r, "tlsplug_loop_new failed");
        free(t);
        return;
    }
    t->k.R = tlsplug_loop_reactor(t->k.loop);
    if (make_ctxs(t) == 0)
        run_scenario(t);
    tlsplug_ctx_free(t->cc);
    tlsplug_ctx_free(t->sc);
    tlsplug_ctx_free(t->sc2);
    /* every aio is closed: the loop must empty (no leaked watch or timer) */
    double end = now_s() + 3.0;
    while (tlsplug_loop_free(t->k.loop) == TLSPLUG_E_BUSY) {
        if (now_s() > end) {
            cf_fail(r, "the loop still had watches or timers 3 s after every aio was closed");
            return; /* leaked on purpose: callbacks may still point into t */
        }
        tlsplug_loop_run_once(t->k.loop, 10);
    }
    free(t->big_out);
    free(t->big_in[0]);
    free(t->big_in[1]);
    free(t);
}
