#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pair.h"

const char *pki(const char *file)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", TLSPLUG_PKI_DIR, file);
    return path[k];
}

static tlsplug_ctx *finish(tlsplug_config *cfg, tlsplug_impl impl, int rc)
{
    tlsplug_ctx *ctx = NULL;
    if (rc) {
        fprintf(stderr, "config: %s\n", tlsplug_error_message(tlsplug_config_error(cfg)));
    } else {
        tlsplug_error *err = NULL;
        if (tlsplug_ctx_new(&ctx, cfg, impl, &err)) {
            fprintf(stderr, "ctx_new: %s: %s\n", tlsplug_error_name(tlsplug_error_class(err)),
                    tlsplug_error_message(err));
            tlsplug_error_free(err);
        }
    }
    tlsplug_config_free(cfg);
    return ctx;
}

tlsplug_ctx *server_ctx(tlsplug_impl impl, const char *chain, const char *key,
                        void (*extra)(tlsplug_config *))
{
    tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_SERVER);
    int rc = tlsplug_config_set_cert_file(cfg, pki(chain), pki(key), NULL);
    if (!rc && extra)
        extra(cfg);
    return finish(cfg, impl, rc);
}

tlsplug_ctx *client_ctx(tlsplug_impl impl, void (*extra)(tlsplug_config *))
{
    tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_CLIENT);
    int rc = tlsplug_config_add_trust_file(cfg, pki("ca.pem"));
    if (!rc && extra)
        extra(cfg);
    return finish(cfg, impl, rc);
}

int pair_new(pair *p, tlsplug_ctx *cctx, tlsplug_ctx *sctx, const char *name)
{
    tlsplug_conn_options co = {.side = TLSPLUG_SIDE_CLIENT,
                               .server_name = name ? name : "localhost"};
    return pair_new_with(p, cctx, sctx, &co);
}

int pair_new_with(pair *p, tlsplug_ctx *cctx, tlsplug_ctx *sctx, const tlsplug_conn_options *co)
{
    memset(p, 0, sizeof *p);
    tlsplug_error *err = NULL;
    int rc = tlsplug_conn_new(&p->c, cctx, co, &err);
    if (rc) {
        fprintf(stderr, "conn_new client: %s\n", tlsplug_error_message(err));
        tlsplug_error_free(err);
        return rc;
    }
    tlsplug_conn_options so = {.side = TLSPLUG_SIDE_SERVER};
    rc = tlsplug_conn_new(&p->s, sctx, &so, &err);
    if (rc) {
        fprintf(stderr, "conn_new server: %s\n", tlsplug_error_message(err));
        tlsplug_error_free(err);
        tlsplug_conn_free(p->c);
        p->c = NULL;
    }
    return rc;
}

int pair_take(pair *p, tlsplug_ctx *cctx, tlsplug_ctx *sctx, const char *name)
{
    int rc = TLSPLUG_E_INVALID_ARGUMENT;
    if (cctx && sctx)
        rc = pair_new(p, cctx, sctx, name);
    else
        memset(p, 0, sizeof *p);
    tlsplug_ctx_free(cctx); /* connections hold their own references */
    tlsplug_ctx_free(sctx);
    return rc;
}

int run_pair(pair *p, tlsplug_impl impl, void (*cx)(tlsplug_config *), const char *chain,
             const char *key, void (*sx)(tlsplug_config *), const char *name)
{
    tlsplug_ctx *cctx = client_ctx(impl, cx);
    tlsplug_ctx *sctx = server_ctx(impl, chain, key, sx);
    int rc = pair_take(p, cctx, sctx, name);
    if (rc == TLSPLUG_OK)
        pair_handshake(p);
    return rc;
}

size_t pair_move(tlsplug_conn *from, tlsplug_conn *to, size_t chunk)
{
    size_t moved = 0;
    for (;;) {
        size_t len, avail;
        const unsigned char *src = tlsplug_conn_send_buf(from, &len);
        if (!len)
            break;
        unsigned char *dst = tlsplug_conn_recv_buf(to, &avail);
        if (!avail)
            break;
        size_t k = len < avail ? len : avail;
        if (chunk && k > chunk)
            k = chunk;
        memcpy(dst, src, k);
        tlsplug_conn_recv_ack(to, k);
        tlsplug_conn_send_ack(from, k);
        moved += k;
        if (chunk)
            break; /* one chunk per turn: the peer must cope with partial input */
    }
    return moved;
}

void pair_handshake(pair *p)
{
    int cdone = 0, sdone = 0;
    p->cres = p->sres = TLSPLUG_WANT_READ;
    for (int idle = 0, i = 0; i < 200000 && idle < 4 && !(cdone && sdone); i++) {
        int before = cdone + sdone;
        if (!cdone) {
            p->cres = tlsplug_conn_handshake(p->c);
            cdone = p->cres <= 0;
        }
        size_t m = pair_move(p->c, p->s, p->chunk);
        if (!sdone) {
            p->sres = tlsplug_conn_handshake(p->s);
            sdone = p->sres <= 0;
        }
        m += pair_move(p->s, p->c, p->chunk);
        idle = (m == 0 && before == cdone + sdone) ? idle + 1 : 0;
    }
}

int pair_read(pair *p, int client, void *buf, size_t cap, size_t *n)
{
    tlsplug_conn *me = client ? p->c : p->s, *peer = client ? p->s : p->c;
    int rc = TLSPLUG_WANT_READ;
    for (int idle = 0; idle < 4;) {
        rc = tlsplug_conn_read(me, buf, cap, n);
        if (rc != TLSPLUG_WANT_READ)
            return rc;
        size_t m = pair_move(peer, me, p->chunk) + pair_move(me, peer, p->chunk);
        /* the peer may owe us records it has not produced yet (tickets) */
        unsigned char tmp[1];
        size_t dn;
        if (tlsplug_conn_established(peer) && !tlsplug_conn_error(peer))
            (void)tlsplug_conn_read(peer, tmp, 0, &dn);
        idle = m ? 0 : idle + 1;
    }
    return rc;
}

int pair_transfer(pair *p, int from_client, const unsigned char *data, size_t len, size_t wsize)
{
    tlsplug_conn *tx = from_client ? p->c : p->s, *rx = from_client ? p->s : p->c;
    unsigned char *got = malloc(len ? len : 1);
    size_t sent = 0, recvd = 0;
    int stuck = 0;
    while (recvd < len && stuck < 1000) {
        size_t progress = 0;
        if (sent < len) {
            size_t want = len - sent < wsize ? len - sent : wsize, n = 0;
            int rc = tlsplug_conn_write(tx, data + sent, want, &n);
            if (rc < 0)
                break;
            sent += n;
            progress += n;
        }
        progress += pair_move(tx, rx, p->chunk);
        while (recvd < len) {
            size_t n = 0;
            int rc = tlsplug_conn_read(rx, got + recvd, len - recvd, &n);
            if (rc != TLSPLUG_OK || n == 0)
                break;
            recvd += n;
            progress += n;
        }
        progress += pair_move(rx, tx, p->chunk);
        stuck = progress ? 0 : stuck + 1;
    }
    int bad = recvd != len || memcmp(got, data, len) != 0;
    free(got);
    return bad;
}

void pair_free(pair *p)
{
    tlsplug_conn_free(p->c);
    tlsplug_conn_free(p->s);
    p->c = p->s = NULL;
}

tlsplug_impl test_backend(const char *name)
{
    tlsplug_impl impl = name ? tlsplug_impl_from_name(name) : tlsplug_default_impl();
    if (!tlsplug_impl_available(impl)) {
        fprintf(stderr, "backend '%s' is not built\n", name ? name : "(default)");
        exit(1);
    }
    return impl;
}

void pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int drain_loop(tlsplug_loop *loop, double seconds)
{
    double end = mono_s() + seconds;
    int rc;
    while ((rc = tlsplug_loop_free(loop)) == TLSPLUG_E_BUSY && mono_s() < end)
        tlsplug_loop_run_once(loop, 10);
    return rc;
}
