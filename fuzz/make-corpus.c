/* Writes the seed corpus at build time: `make-corpus OUTDIR`.
 *
 * client/, server/  real handshakes between every client and every server
 *                   backend built, per context variant, recorded flight by
 *                   flight: what the server sent (seeds for a client engine)
 *                   and what the client sent (seeds for a server engine);
 *                   the first flight alone and the whole conversation
 *                   (handshake, tickets, data, close_notify).
 * data/, detach/    operation programs (fuzz_data.h, fuzz_detach.h), some
 *                   with recorded records injected raw.
 * config/           the test PKI's certificates and keys in fuzz_config's
 *                   layout, with configuration strings. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "fuzz_config.h"
#include "fuzz_data.h"
#include "fuzz_detach.h"
#include "fuzz_wire.h"

static const char *outdir;
static int files;

static void save(const char *target, const char *name, const uint8_t *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", outdir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    files++;
}

/* A seed: the settings byte, then the bytes. */
static void save_seed(const char *target, const char *name, uint8_t set, const fz_wire *w)
{
    fz_wire s = {0};
    fz_wire_put(&s, &set, 1);
    fz_wire_put(&s, w->p, w->len);
    save(target, name, s.p, s.len);
    fz_wire_free(&s);
}

/* ---- recorded conversations --------------------------------------------- */

typedef struct side_rec {
    tlsplug_conn *c;
    fz_wire first, all; /* first flight, everything sent */
    int flights;
} side_rec;

/* Takes what the engine sent since the last call: a flight. */
static void take(side_rec *s, tlsplug_conn *to)
{
    fz_wire w = {0};
    fz_wire_from_conn(&w, s->c);
    if (w.len) {
        if (!s->flights++)
            fz_wire_put(&s->first, w.p, w.len);
        fz_wire_put(&s->all, w.p, w.len);
        FZ_CHECK(tlsplug_conn_feed(to, w.p, w.len) == w.len);
    }
    fz_wire_free(&w);
}

static void app_data(side_rec *from, side_rec *to, const char *msg)
{
    size_t n = 0;
    FZ_CHECK(tlsplug_conn_write(from->c, msg, strlen(msg), &n) == TLSPLUG_OK);
    take(from, to->c);
    char buf[256];
    (void)tlsplug_conn_read(to->c, buf, sizeof buf, &n);
    take(to, from->c); /* whatever reading made it send */
}

static void record_pair(tlsplug_impl ci, tlsplug_impl si, unsigned v, fz_wire *app_record)
{
    tlsplug_ctx *cc = fz_new_client_ctx(v, ci), *sc = fz_new_server_ctx(v, si);
    if (!cc || !sc) { /* this variant does not exist on one of them */
        tlsplug_ctx_free(cc);
        tlsplug_ctx_free(sc);
        return;
    }
    side_rec c = {.c = fz_conn(cc)}, s = {.c = fz_conn(sc)};
    tlsplug_ctx_free(cc);
    tlsplug_ctx_free(sc);
    int cr = TLSPLUG_WANT_READ, sr = TLSPLUG_WANT_READ;
    for (int i = 0; i < 50 && (cr > 0 || sr > 0); i++) {
        if (cr > 0)
            cr = tlsplug_conn_handshake(c.c);
        take(&c, s.c);
        if (sr > 0)
            sr = tlsplug_conn_handshake(s.c);
        take(&s, c.c);
    }
    if (cr || sr) {
        fprintf(stderr, "make-corpus: %s client / %s server, variant %u: %s / %s\n",
                tlsplug_impl_name(ci), tlsplug_impl_name(si), v, tlsplug_error_name(cr),
                tlsplug_error_name(sr));
    } else {
        app_data(&s, &c, "hello from the server\n");
        size_t before = c.all.len;
        app_data(&c, &s, "hello from the client\n");
        if (!app_record->len && c.all.len > before) /* a real data record, for data/ */
            fz_wire_put(app_record, c.all.p + before, c.all.len - before);
        FZ_CHECK(tlsplug_conn_shutdown(c.c) == TLSPLUG_OK);
        take(&c, s.c);
        FZ_CHECK(tlsplug_conn_shutdown(s.c) == TLSPLUG_OK);
        take(&s, c.c);
    }
    char name[128];
    const char *cn = tlsplug_impl_name(ci), *sn = tlsplug_impl_name(si);
    snprintf(name, sizeof name, "%s-from-%s-v%u-first", cn, sn, v);
    save_seed("client", name, (uint8_t)v, &s.first);
    snprintf(name, sizeof name, "%s-from-%s-v%u-all", cn, sn, v);
    save_seed("client", name, (uint8_t)(v | 1u << 5), &s.all);
    snprintf(name, sizeof name, "%s-from-%s-v%u-first", sn, cn, v);
    save_seed("server", name, (uint8_t)v, &c.first);
    snprintf(name, sizeof name, "%s-from-%s-v%u-all", sn, cn, v);
    save_seed("server", name, (uint8_t)(v | 1u << 5), &c.all);
    tlsplug_conn_free(c.c);
    tlsplug_conn_free(s.c);
    fz_wire_free(&c.first);
    fz_wire_free(&c.all);
    fz_wire_free(&s.first);
    fz_wire_free(&s.all);
}

/* ---- programs ------------------------------------------------------------ */

static void op(fz_wire *w, int code)
{
    uint8_t b = (uint8_t)code;
    fz_wire_put(w, &b, 1);
}

static void op16(fz_wire *w, int code, unsigned arg)
{
    uint8_t b[3] = {(uint8_t)code, (uint8_t)(arg >> 8), (uint8_t)arg};
    fz_wire_put(w, b, 3);
}

static void op8(fz_wire *w, int code, unsigned arg)
{
    uint8_t b[2] = {(uint8_t)code, (uint8_t)arg};
    fz_wire_put(w, b, 2);
}

static void op_bytes(fz_wire *w, int code, const void *p, size_t n)
{
    uint8_t b[2] = {(uint8_t)code, (uint8_t)n};
    fz_wire_put(w, b, 2);
    fz_wire_put(w, p, n);
}

static void data_programs(const fz_wire *app_record)
{
    static const char plain[] = "plain bytes after close_notify\r\n";
    for (unsigned set = 0; set < 8; set++) {
        fz_wire w[7] = {{0}};
        /* data both ways, then a clean close with plain bytes after it */
        op16(&w[0], FZD_P_WRITE, 3000);
        op(&w[0], FZD_PUMP);
        op16(&w[0], FZD_T_WRITE, 1500);
        op16(&w[0], FZD_P_READ, 4096);
        op(&w[0], FZD_T_INFO);
        op(&w[0], FZD_P_SHUTDOWN);
        op_bytes(&w[0], FZD_INJECT, plain, sizeof plain - 1);
        op(&w[0], FZD_PUMP);
        /* a flipped ciphertext byte */
        op16(&w[1], FZD_P_WRITE, 100);
        op16(&w[1], FZD_FLIP, 20);
        fz_wire_put(&w[1], "\x01", 1);
        op(&w[1], FZD_PUMP);
        /* a record from another session, then data */
        op_bytes(&w[2], FZD_INJECT, app_record->p, app_record->len < 255 ? app_record->len : 255);
        op16(&w[2], FZD_P_WRITE, 10);
        op(&w[2], FZD_PUMP);
        /* end of file in the middle of a record */
        op16(&w[3], FZD_P_WRITE, 5000);
        op16(&w[3], FZD_MOVE, 100);
        op(&w[3], FZD_T_EOF);
        op(&w[3], FZD_PUMP);
        /* a repeated and a lost record */
        op16(&w[4], FZD_P_WRITE, 50);
        op16(&w[4], FZD_P_WRITE, 50);
        uint8_t dup[5] = {FZD_DUP, 0, 0, 0, 60};
        fz_wire_put(&w[4], dup, 5);
        op(&w[4], FZD_PUMP);
        uint8_t drop[5] = {FZD_DROP, 0, 0, 0, 30};
        op16(&w[5], FZD_P_WRITE, 50);
        fz_wire_put(&w[5], drop, 5);
        op(&w[5], FZD_PUMP);
        /* the engine closes first, byte-by-byte reads, half-close */
        op(&w[6], FZD_T_SHUTDOWN);
        op16(&w[6], FZD_P_READ, 100);
        op16(&w[6], FZD_P_WRITE, 700);
        for (int i = 0; i < 8; i++) {
            op16(&w[6], FZD_MOVE, 7);
            op16(&w[6], FZD_T_READ, 1);
        }
        op(&w[6], FZD_T_HANDSHAKE);
        op16(&w[6], FZD_T_WRITE, 10);
        op(&w[6], FZD_P_SHUTDOWN);
        op(&w[6], FZD_PUMP);
        static const char *names[7] = {"clean", "flip", "foreign-record", "eof-mid-record",
                                       "dup", "drop", "half-close"};
        for (int i = 0; i < 7; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s-v%u-%s", names[i], set & 3,
                     set & 4 ? "server" : "client");
            save_seed("data", name, (uint8_t)set, &w[i]);
            fz_wire_free(&w[i]);
        }
    }
}

static void detach_programs(void)
{
    static const char before[] = "EHLO plain before TLS\r\n", after[] = "plain after TLS\r\n";
    for (unsigned set = 0; set < 8; set++) {
        fz_wire w[5] = {{0}};
        /* STARTTLS: plain, attach, data both ways, peer-initiated detach */
        op_bytes(&w[0], FZDT_PEER_PLAIN, before, sizeof before - 1);
        op16(&w[0], FZDT_AIO_READ, 4096);
        op(&w[0], FZDT_RUN);
        op(&w[0], FZDT_AIO_ATTACH);
        op(&w[0], FZDT_RUN);
        op16(&w[0], FZDT_PEER_WRITE, 2000);
        op16(&w[0], FZDT_AIO_READ, 4096);
        op16(&w[0], FZDT_AIO_WRITE, 1000);
        op(&w[0], FZDT_RUN);
        op(&w[0], FZDT_PEER_CLOSE);
        op_bytes(&w[0], FZDT_PEER_PLAIN, after, sizeof after - 1);
        op8(&w[0], FZDT_AIO_DETACH, 50);
        op(&w[0], FZDT_RUN);
        op16(&w[0], FZDT_AIO_READ, 4096);
        op(&w[0], FZDT_RUN);
        /* our side detaches first, then attaches again */
        op(&w[1], FZDT_AIO_ATTACH);
        op(&w[1], FZDT_RUN);
        op16(&w[1], FZDT_AIO_WRITE, 300);
        op(&w[1], FZDT_RUN);
        op8(&w[1], FZDT_AIO_DETACH, 50);
        op(&w[1], FZDT_RUN);
        op16(&w[1], FZDT_AIO_WRITE, 20);
        op(&w[1], FZDT_RUN);
        op(&w[1], FZDT_AIO_ATTACH);
        op(&w[1], FZDT_RUN);
        op16(&w[1], FZDT_PEER_WRITE, 20);
        op16(&w[1], FZDT_AIO_READ, 100);
        op(&w[1], FZDT_RUN);
        /* garbage instead of a handshake */
        op(&w[2], FZDT_AIO_ATTACH);
        op_bytes(&w[2], FZDT_PEER_RAW, "GET / HTTP/1.0\r\n\r\n", 18);
        op(&w[2], FZDT_RUN);
        /* the peer resets during detach */
        op(&w[3], FZDT_AIO_ATTACH);
        op(&w[3], FZDT_RUN);
        op8(&w[3], FZDT_AIO_DETACH, 50);
        op(&w[3], FZDT_PEER_EOF);
        op(&w[3], FZDT_RUN);
        /* close with everything pending */
        op(&w[4], FZDT_AIO_ATTACH);
        op(&w[4], FZDT_RUN);
        op16(&w[4], FZDT_AIO_READ, 10);
        op16(&w[4], FZDT_AIO_WRITE, 30000);
        op(&w[4], FZDT_AIO_CLOSE);
        op(&w[4], FZDT_RUN);
        static const char *names[5] = {"starttls", "detach-reattach", "not-tls",
                                       "reset-in-detach", "close-pending"};
        for (int i = 0; i < 5; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s-v%u-%s", names[i], set & 3,
                     set & 4 ? "server" : "client");
            save_seed("detach", name, (uint8_t)set, &w[i]);
            fz_wire_free(&w[i]);
        }
    }
}

/* ---- configuration ------------------------------------------------------- */

static void put_file(fz_wire *w, const char *file)
{
    FILE *f = fopen(fz_pki(file), "rb");
    if (!f) {
        perror(fz_pki(file));
        exit(1);
    }
    uint8_t b[4096];
    size_t n;
    while ((n = fread(b, 1, sizeof b, f)) > 0)
        fz_wire_put(w, b, n);
    fclose(f);
}

static void config_seed(const char *name, uint8_t set, const char *chain, const char *key,
                        const char *trust, const char *password, const char *string)
{
    fz_wire w = {0};
    const char *sep = FZ_CONFIG_SEP;
    if (chain)
        put_file(&w, chain);
    fz_wire_put(&w, sep, strlen(sep));
    if (key)
        put_file(&w, key);
    fz_wire_put(&w, sep, strlen(sep));
    if (trust)
        put_file(&w, trust);
    fz_wire_put(&w, sep, strlen(sep));
    if (password)
        fz_wire_put(&w, password, strlen(password));
    fz_wire_put(&w, sep, strlen(sep));
    if (string)
        fz_wire_put(&w, string, strlen(string));
    save_seed("config", name, set, &w);
    fz_wire_free(&w);
}

static void config_seeds(void)
{
    enum { SERVER = 1, KEY = 2, PASS = 4, NEWCONN = 64 };
    config_seed("server-ec", SERVER | KEY | NEWCONN, "server-ec-chain.pem", "server-ec.key.pem",
                NULL, NULL, NULL);
    config_seed("server-rsa", SERVER | KEY | 1 << 3, "server-rsa-chain.pem", "server-rsa.key.pem",
                NULL, NULL, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
    config_seed("server-enc-key", SERVER | KEY | PASS, "server-ec-chain.pem",
                "server-ec.enc.key.pem", NULL, "secret", NULL);
    config_seed("server-wrong-password", SERVER | KEY | PASS, "server-ec-chain.pem",
                "server-ec.enc.key.pem", NULL, "wrong", NULL);
    config_seed("server-mismatch", SERVER | KEY, "server-ec-chain.pem", "mismatch.key.pem", NULL,
                NULL, NULL);
    config_seed("server-mtls", SERVER | KEY | 7 << 3, "server-ec-chain.pem", "server-ec.key.pem",
                "ca.pem", NULL, "\x03");
    config_seed("server-groups", SERVER | KEY | 3 << 3, "server-ec-chain.pem",
                "server-ec.key.pem", NULL, NULL, "x25519:secp256r1:secp384r1");
    config_seed("server-tls13", SERVER | KEY | 2 << 3, "server-ec-chain.pem", "server-ec.key.pem",
                NULL, NULL, "TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256");
    config_seed("client-alpn", 4 << 3 | NEWCONN, NULL, NULL, "ca.pem", NULL, "h2,http/1.1");
    config_seed("client-cert", KEY | 5 << 3, "client-chain.pem", "client.key.pem", "ca.pem", NULL,
                "localhost");
    config_seed("client-versions", 6 << 3, NULL, NULL, "inter.pem", NULL, "\x03\x03\x03\x04");
    config_seed("client-untrusted", KEY, "client-untrusted.pem", "client-untrusted.key.pem",
                "other.pem", NULL, NULL);
    config_seed("server-selfsigned", SERVER | KEY, "selfsigned.pem", "bad.key.pem", NULL, NULL,
                NULL);
    config_seed("server-badsig", SERVER | KEY, "badsig-chain.pem", "badsig.key.pem", NULL, NULL,
                NULL);
    /* chain and key in one buffer */
    fz_wire w = {0};
    put_file(&w, "server-ec-chain.pem");
    put_file(&w, "server-ec.key.pem");
    fz_wire_put(&w, FZ_CONFIG_SEP FZ_CONFIG_SEP FZ_CONFIG_SEP FZ_CONFIG_SEP,
                4 * strlen(FZ_CONFIG_SEP));
    save_seed("config", "server-combined", SERVER, &w);
    fz_wire_free(&w);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make-corpus OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        perror(outdir);
        return 1;
    }
    tlsplug_impl impls[TLSPLUG_IMPL_COUNT];
    size_t n = tlsplug_impl_list(impls, TLSPLUG_IMPL_COUNT);
    fz_wire app_record = {0};
    for (size_t c = 0; c < n; c++)
        for (size_t s = 0; s < n; s++)
            for (unsigned v = 0; v < FZ_VARIANTS; v++)
                record_pair(impls[c], impls[s], v, &app_record);
    data_programs(&app_record);
    detach_programs();
    config_seeds();
    fz_wire_free(&app_record);
    printf("make-corpus: %d seed files in %s\n", files, outdir);
    return 0;
}
