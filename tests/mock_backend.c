/* The scripted mock backend: see mock_backend.h for the toy protocol. */
#include <stdlib.h>
#include <string.h>

#include "mock_backend.h"

#define MOCK_MAX_PLAIN 16384
#define MOCK_MAX_BODY (16384 + 2048)

struct mock_script mock_script;
struct mock_calls mock_calls;

enum { HS_START, HS_WAIT_HELLO, HS_DONE, HS_FAILED };

struct mock_sess {
    uint32_t magic;
    tlsplug_conn *conn;
    struct mock_ctx *ctx;
    tlsplug_side side;
    struct mock_script script;
    char *sni;
    int hs;
    int peer_closed;     /* close_notify read                          */
    int close_queued;    /* our close_notify handed to the pending out */
    size_t write_queued; /* plaintext of a record queued by a WANT_WRITE write */
    /* record being read */
    uint8_t hdr[5];
    size_t hdr_got;
    uint8_t body[MOCK_MAX_BODY];
    size_t body_len, body_got;
    /* plaintext of the last app data record not yet returned */
    uint8_t plain[MOCK_MAX_PLAIN];
    size_t plain_off, plain_len;
    /* ciphertext io_send has not taken yet */
    uint8_t *out;
    size_t out_len, out_cap;
};

size_t mock_record(uint8_t *out, int type, const void *body, size_t len)
{
    out[0] = (uint8_t)type;
    out[1] = 3;
    out[2] = 3;
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
    if (len)
        memcpy(out + 5, body, len);
    return 5 + len;
}

void mock_reset(void)
{
    memset(&mock_script, 0, sizeof mock_script);
    memset(&mock_calls, 0, sizeof mock_calls);
}

int mock_live_ctx(void)
{
    return mock_calls.ctx_new - mock_calls.ctx_free;
}

int mock_live_sess(void)
{
    return mock_calls.sess_new - mock_calls.sess_free;
}

uint32_t mock_sess_magic(const void *native_sess)
{
    return native_sess ? ((const struct mock_sess *)native_sess)->magic : 0;
}

const char *mock_sess_sni(const void *native_sess)
{
    return native_sess ? ((const struct mock_sess *)native_sess)->sni : NULL;
}

/* ---- vtable: library and contexts ---------------------------------------- */

static const char *m_version(void)
{
    mock_calls.version++;
    return "mock 1.0";
}

static unsigned m_caps(void)
{
    mock_calls.caps++;
    return TLSPLUG_CAP_TLS12 | TLSPLUG_CAP_TLS13 | TLSPLUG_CAP_SNI | TLSPLUG_CAP_ALPN |
           TLSPLUG_CAP_VERIFY_CALLBACK | TLSPLUG_CAP_CLIENT_CERT | TLSPLUG_CAP_KEY_PASSWORD |
           TLSPLUG_CAP_CHACHA20 | TLSPLUG_CAP_X25519 | TLSPLUG_CAP_KEYLOG;
}

static int m_ctx_new(const tlsplug_config *cfg, tlsplug_side side, void **bctx,
                     struct tlsplug_error *err)
{
    *bctx = NULL;
    if (mock_script.ctx_new_fail_class)
        return tlsplug__err_set(err, mock_script.ctx_new_fail_class, 0,
                                "mock: ctx_new fails by script");
    struct mock_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "mock: out of memory");
    c->magic = MOCK_CTX_MAGIC;
    c->side = side;
    c->cfg = cfg;
    mock_calls.ctx_new++;
    *bctx = c;
    return TLSPLUG_OK;
}

static void m_ctx_free(void *bctx)
{
    struct mock_ctx *c = bctx;
    if (!c)
        return;
    mock_calls.ctx_free++;
    c->magic = 0;
    free(c);
}

static void *m_ctx_native(void *bctx)
{
    mock_calls.ctx_native++;
    return bctx;
}

/* ---- vtable: sessions ------------------------------------------------------ */

static int m_sess_new(void *bctx, tlsplug_conn *conn, const tlsplug_sess_params *p, void **bsess,
                      struct tlsplug_error *err)
{
    *bsess = NULL;
    struct mock_sess *s = calloc(1, sizeof *s);
    if (!s)
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "mock: out of memory");
    if (p->sni && !(s->sni = strdup(p->sni))) {
        free(s);
        return tlsplug__err_set(err, TLSPLUG_E_NO_MEMORY, 0, "mock: out of memory");
    }
    s->magic = MOCK_SESS_MAGIC;
    s->conn = conn;
    s->ctx = bctx;
    s->side = p->side;
    s->script = mock_script;
    mock_calls.sess_new++;
    *bsess = s;
    return TLSPLUG_OK;
}

static void m_sess_free(void *bsess)
{
    struct mock_sess *s = bsess;
    if (!s)
        return;
    mock_calls.sess_free++;
    s->magic = 0;
    free(s->sni);
    free(s->out);
    free(s);
}

static void *m_sess_native(void *bsess)
{
    mock_calls.sess_native++;
    return bsess;
}

/* ---- transport helpers ------------------------------------------------------ */

/* Hand pending ciphertext to core.  OK when all of it went, WANT_WRITE. */
static int out_flush(struct mock_sess *s)
{
    if (!s->out_len)
        return TLSPLUG_OK;
    size_t off = 0;
    int rc = TLSPLUG_OK;
    while (off < s->out_len) {
        size_t n = 0;
        rc = tlsplug__io_send(s->conn, s->out + off, s->out_len - off, &n);
        if (rc != TLSPLUG_OK)
            break;
        off += n;
    }
    memmove(s->out, s->out + off, s->out_len - off);
    s->out_len -= off;
    if (rc < 0)
        return tlsplug__err_set(tlsplug__conn_err(s->conn), rc, 0, "mock: io_send failed");
    return s->out_len ? TLSPLUG_WANT_WRITE : TLSPLUG_OK;
}

static int out_queue(struct mock_sess *s, int type, const void *body, size_t len)
{
    if (s->out_len + 5 + len > s->out_cap) {
        size_t cap = s->out_len + 5 + len;
        uint8_t *p = realloc(s->out, cap);
        if (!p)
            return tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_NO_MEMORY, 0,
                                    "mock: out of memory");
        s->out = p;
        s->out_cap = cap;
    }
    s->out_len += mock_record(s->out + s->out_len, type, body, len);
    return TLSPLUG_OK;
}

/* Read one whole record into s->hdr/s->body.  OK when complete; WANT_READ;
 * or an error class with the conn's error filled.  At transport EOF it
 * reports a generic I/O error on purpose: turning that into
 * TLSPLUG_E_TRUNCATED is core's job. */
static int rec_read(struct mock_sess *s)
{
    for (;;) {
        uint8_t *dst;
        size_t want;
        if (s->hdr_got < 5) {
            dst = s->hdr + s->hdr_got;
            want = 5 - s->hdr_got;
        } else if (s->body_got < s->body_len) {
            dst = s->body + s->body_got;
            want = s->body_len - s->body_got;
        } else {
            return TLSPLUG_OK;
        }
        size_t n = 0;
        int rc = tlsplug__io_recv(s->conn, dst, want, &n);
        if (rc == TLSPLUG_WANT_READ)
            return rc;
        if (rc == TLSPLUG_E_CLOSED)
            return tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_IO, 0,
                                    "mock: unexpected end of file");
        if (rc < 0)
            return tlsplug__err_set(tlsplug__conn_err(s->conn), rc, 0, "mock: io_recv: %s",
                                    tlsplug_error_name(rc));
        if (s->hdr_got < 5) {
            s->hdr_got += n;
            if (s->hdr_got == 5) {
                s->body_len = ((size_t)s->hdr[3] << 8) | s->hdr[4];
                s->body_got = 0;
                if (s->body_len > MOCK_MAX_BODY)
                    return tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_PROTOCOL, 0,
                                            "mock: record too long");
            }
        } else {
            s->body_got += n;
        }
    }
}

static void rec_done(struct mock_sess *s)
{
    s->hdr_got = 0;
    s->body_len = s->body_got = 0;
}

/* An alert record just read: close_notify -> CLOSED, anything else is fatal. */
static int on_alert(struct mock_sess *s)
{
    if (s->body_len != 2)
        return tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_PROTOCOL, 0,
                                "mock: bad alert record");
    if (s->body[0] == 1 && s->body[1] == 0) {
        s->peer_closed = 1;
        return TLSPLUG_E_CLOSED;
    }
    return tlsplug__peer_alert(s->conn, s->body[1], 0);
}

static int fail_hs(struct mock_sess *s, int cls, int alert, const char *msg)
{
    s->hs = HS_FAILED;
    if (alert) {
        uint8_t a[2] = {2, (uint8_t)alert};
        if (out_queue(s, MOCK_REC_ALERT, a, 2) == TLSPLUG_OK)
            out_flush(s);
    }
    return tlsplug__err_set(tlsplug__conn_err(s->conn), cls, 0, "%s", msg);
}

/* ---- vtable: steps --------------------------------------------------------- */

static int m_handshake(void *bsess)
{
    struct mock_sess *s = bsess;
    mock_calls.handshake++;
    if (s->hs == HS_DONE)
        return out_flush(s);
    if (s->hs == HS_FAILED)
        return tlsplug__conn_err(s->conn)->cls ? tlsplug__conn_err(s->conn)->cls
                                               : TLSPLUG_E_HANDSHAKE;
    if (s->hs == HS_START) {
        if (s->side == TLSPLUG_SIDE_CLIENT) {
            int rc = out_queue(s, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
            if (rc)
                return rc;
        }
        s->hs = HS_WAIT_HELLO;
    }
    int fl = out_flush(s);
    if (fl < 0)
        return fl;
    for (;;) {
        int rc = rec_read(s);
        if (rc != TLSPLUG_OK)
            return rc == TLSPLUG_WANT_READ && fl == TLSPLUG_WANT_WRITE ? TLSPLUG_WANT_WRITE : rc;
        int type = s->hdr[0];
        if (type == MOCK_REC_ALERT) {
            rc = on_alert(s);
            rec_done(s);
            s->hs = HS_FAILED;
            return rc;
        }
        if (type != MOCK_REC_HANDSHAKE || s->body_len != MOCK_HELLO_LEN ||
            memcmp(s->body, MOCK_HELLO, MOCK_HELLO_LEN) != 0) {
            rec_done(s);
            return fail_hs(s, TLSPLUG_E_HANDSHAKE, 10 /* unexpected_message */,
                           "mock: unexpected record during the handshake");
        }
        rec_done(s);
        if (s->side == TLSPLUG_SIDE_SERVER && s->script.server_silent)
            continue; /* swallow it and wait forever */
        if (s->script.hs_fail_side == s->side && s->script.hs_fail_class)
            return fail_hs(s, s->script.hs_fail_class, s->script.hs_fail_alert,
                           s->script.hs_fail_msg ? s->script.hs_fail_msg
                                                 : "mock: handshake fails by script");
        if (s->side == TLSPLUG_SIDE_SERVER && s->script.server_alert)
            return fail_hs(s, TLSPLUG_E_HANDSHAKE, s->script.server_alert,
                           "mock: server refuses the handshake by script");
        if (s->side == TLSPLUG_SIDE_SERVER) {
            rc = out_queue(s, MOCK_REC_HANDSHAKE, MOCK_HELLO, MOCK_HELLO_LEN);
            if (rc)
                return rc;
        }
        s->hs = HS_DONE;
        return out_flush(s);
    }
}

static int m_read(void *bsess, void *buf, size_t cap, size_t *n)
{
    struct mock_sess *s = bsess;
    mock_calls.read++;
    *n = 0;
    int fl = out_flush(s);
    if (fl < 0)
        return fl;
    for (;;) {
        if (s->plain_len) {
            size_t k = s->plain_len < cap ? s->plain_len : cap;
            memcpy(buf, s->plain + s->plain_off, k);
            s->plain_off += k;
            s->plain_len -= k;
            *n = k;
            return TLSPLUG_OK;
        }
        if (s->peer_closed)
            return TLSPLUG_E_CLOSED;
        int rc = rec_read(s);
        if (rc != TLSPLUG_OK)
            return rc;
        int type = s->hdr[0];
        if (type == MOCK_REC_APPDATA) {
            if (s->body_len > MOCK_MAX_PLAIN) {
                rec_done(s);
                return tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_PROTOCOL, 0,
                                        "mock: app data record too long");
            }
            memcpy(s->plain, s->body, s->body_len);
            s->plain_off = 0;
            s->plain_len = s->body_len;
            rec_done(s);
            continue;
        }
        if (type == MOCK_REC_ALERT) {
            rc = on_alert(s);
            rec_done(s);
            return rc;
        }
        rec_done(s);
        return tlsplug__err_set(tlsplug__conn_err(s->conn), TLSPLUG_E_PROTOCOL, 0,
                                "mock: unexpected record type %d after the handshake "
                                "(renegotiation refused)",
                                type);
    }
}

/* Like OpenSSL: bytes count as written only once their record is wholly
 * handed to io_send.  If io_send cannot take it all, WANT_WRITE with
 * *n == 0, and core calls again with the same bytes; that call finishes the
 * record already queued and reports its length. */
static int m_write(void *bsess, const void *buf, size_t len, size_t *n)
{
    struct mock_sess *s = bsess;
    mock_calls.write++;
    *n = 0;
    int fl = out_flush(s);
    if (fl < 0)
        return fl;
    if (fl == TLSPLUG_WANT_WRITE)
        return TLSPLUG_WANT_WRITE;
    if (s->write_queued) {
        size_t k = s->write_queued < len ? s->write_queued : len;
        s->write_queued = 0;
        *n = k;
        return TLSPLUG_OK;
    }
    size_t k = len < MOCK_MAX_PLAIN ? len : MOCK_MAX_PLAIN;
    int rc = out_queue(s, MOCK_REC_APPDATA, buf, k);
    if (rc)
        return rc;
    fl = out_flush(s);
    if (fl < 0)
        return fl;
    if (fl == TLSPLUG_WANT_WRITE) {
        s->write_queued = k;
        return TLSPLUG_WANT_WRITE;
    }
    *n = k;
    return TLSPLUG_OK;
}

static int m_shutdown(void *bsess)
{
    struct mock_sess *s = bsess;
    mock_calls.shutdown++;
    if (!s->close_queued) {
        static const uint8_t cn[2] = {1, 0};
        int rc = out_queue(s, MOCK_REC_ALERT, cn, 2);
        if (rc)
            return rc;
        s->close_queued = 1;
    }
    int rc = out_flush(s);
    if (rc == TLSPLUG_WANT_WRITE)
        mock_calls.shutdown_blocked++;
    return rc;
}

static size_t m_pending(void *bsess)
{
    struct mock_sess *s = bsess;
    mock_calls.pending++;
    return s->plain_len;
}

static int m_info(void *bsess, tlsplug_info *out)
{
    struct mock_sess *s = bsess;
    mock_calls.info++;
    out->version = TLSPLUG_TLS1_2;
    out->cipher_id = 0xC02B;
    out->group_id = 29;
    if (s->sni)
        strncpy(out->server_name, s->sni, sizeof out->server_name - 1);
    out->resumed = 0;
    out->peer_verified = 0;
    return TLSPLUG_OK;
}

static int m_session_save(void *bsess, uint8_t **data, size_t *len)
{
    (void)bsess;
    mock_calls.session_save++;
    *data = NULL;
    *len = 0;
    return TLSPLUG_E_UNSUPPORTED;
}

static void m_idle(void *bsess)
{
    (void)bsess;
    mock_calls.idle++;
}

const struct tlsplug_backend mock_backend = {
    .name = "mock",
    .impl = MOCK_IMPL,
    .version = m_version,
    .caps = m_caps,
    .ctx_new = m_ctx_new,
    .ctx_adopt = NULL,
    .ctx_free = m_ctx_free,
    .ctx_native = m_ctx_native,
    .sess_new = m_sess_new,
    .sess_free = m_sess_free,
    .sess_native = m_sess_native,
    .handshake = m_handshake,
    .read = m_read,
    .write = m_write,
    .shutdown = m_shutdown,
    .pending = m_pending,
    .info = m_info,
    .session_save = m_session_save,
    .idle = m_idle,
};
