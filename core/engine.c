/* The sans-I/O engine: one backend session over core-owned ciphertext
 * buffers.  It normalises what backends report (EOF without close_notify,
 * non-TLS input, verification verdicts) so every backend gives the same class
 * for the same event, keeps errors sticky, and owns the client session store
 * bookkeeping. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

#define BUF_CAP TLSPLUG_RECBUF_CAP

typedef struct tlsplug_buf {
    uint8_t *p;
    size_t off, len; /* live bytes are p[off .. off+len) */
} tlsplug_buf;

struct tlsplug_conn {
    tlsplug_ctx *ctx;
    const struct tlsplug_backend *be;
    void *bs;
    tlsplug_side side;
    tlsplug_buf in, out;
    tlsplug_rec rec;
    int in_eof;
    int failed;          /* sticky error class, 0 if none          */
    int closed;          /* peer's close_notify read               */
    int established;
    int shutdown_queued;
    int verify_verdict;  /* class from tlsplug__verify, 0 if ok    */
    const char *oom;     /* what could not be allocated (tlsplug__io_oom), or NULL */
    /* The backend's read said WANT_READ and nothing it could use has changed
     * since (no ciphertext arrived or was consumed, nothing was sent): the
     * next read would say the same, so it is not asked again.  An event loop
     * re-reads on every wake-up; a library's failing read costs thousands of
     * instructions (OpenSSL about 2,000). */
    int starved;
    int out_blocked; /* the send buffer refused bytes since the last ack */
    /* Ciphertext the caller lends for one step (tlsplug_conn_recv_lend):
     * read after the receive buffer, never copied into it. */
    const uint8_t *lend_p;
    size_t lend_len, lend_taken;
    /* Where tlsplug_conn_write's records go while the send buffer is empty
     * (tlsplug__conn_set_sink): the aio's socket, so application data leaves
     * without a copy into the send buffer.  direct: inside such a write. */
    tlsplug__sink_fn sink;
    void *sink_arg;
    int direct;
    tlsplug__source_fn source; /* tlsplug__conn_set_source */
    void *source_arg;
    /* Allocated at the first error (err_rec); if that fails the class
     * still stays right in failed. */
    struct tlsplug_error *err;
    char *session_name;  /* client store key; NULL: no resumption  */
    void *data;
};

static struct tlsplug_error *err_rec(tlsplug_conn *c)
{
    return tlsplug__err_lazy(&c->err);
}

/* ---- buffers ------------------------------------------------------------ */

static int buf_reserve(tlsplug_buf *b)
{
    if (!b->p && !(b->p = tlsplug__recbuf_get()))
        return TLSPLUG_E_NO_MEMORY;
    return TLSPLUG_OK;
}

/* Free space at the end, moving live bytes to the front when that helps. */
static size_t buf_space(tlsplug_buf *b)
{
    if (b->len == 0)
        b->off = 0;
    else if (b->off && b->off + b->len > BUF_CAP / 2) {
        memmove(b->p, b->p + b->off, b->len);
        b->off = 0;
    }
    return BUF_CAP - b->off - b->len;
}

static void buf_consume(tlsplug_buf *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0)
        b->off = 0;
}

static void buf_release_if_empty(tlsplug_buf *b)
{
    if (b->p && b->len == 0) {
        tlsplug__recbuf_put(b->p);
        b->p = NULL;
        b->off = 0;
    }
}

/* ---- creation ----------------------------------------------------------- */

static char *normalise_name(const char *name)
{
    char *n = tlsplug__strdup(name);
    size_t len = n ? strlen(n) : 0;
    if (len > 1 && n[len - 1] == '.')
        n[len - 1] = 0;
    return n;
}

int tlsplug_conn_new(tlsplug_conn **out, tlsplug_ctx *ctx, const tlsplug_conn_options *opts,
                     tlsplug_error **err)
{
    if (err)
        *err = NULL;
    if (!out || !ctx)
        return tlsplug__err_outf(err, TLSPLUG_E_INVALID_ARGUMENT, "tlsplug_conn_new: NULL argument");
    *out = NULL;
    static const tlsplug_conn_options none = {0};
    if (!opts)
        opts = &none;
    tlsplug_side side = opts->side ? opts->side : ctx->side;
    if (side != TLSPLUG_SIDE_CLIENT && side != TLSPLUG_SIDE_SERVER)
        return tlsplug__err_outf(err, TLSPLUG_E_INVALID_ARGUMENT,
                             side == TLSPLUG_SIDE_BOTH
                                 ? "the context serves both sides: the connection must choose "
                                   "client or server"
                                 : "bad side %d",
                             (int)side);
    if (ctx->side != TLSPLUG_SIDE_BOTH && side != ctx->side)
        return tlsplug__err_outf(err, TLSPLUG_E_INVALID_ARGUMENT,
                             "a %s context cannot make a %s connection",
                             ctx->side == TLSPLUG_SIDE_CLIENT ? "client" : "server",
                             side == TLSPLUG_SIDE_CLIENT ? "client" : "server");
    const tlsplug_config *cfg = ctx->cfg;
    const char *given = opts->server_name ? opts->server_name : cfg->server_name;
    char why[128];
    if (given && tlsplug__check_server_name(given, why, sizeof why))
        return tlsplug__err_outf(err, TLSPLUG_E_INVALID_ARGUMENT, "server name: %s", why);

    tlsplug_conn *c = tlsplug__calloc(1, sizeof *c);
    char *name = given ? normalise_name(given) : NULL;
    if (!c || (given && !name)) {
        tlsplug__free(c);
        tlsplug__free(name);
        return tlsplug__err_outf(err, TLSPLUG_E_NO_MEMORY, "out of memory");
    }
    c->ctx = ctx;
    c->be = ctx->be;
    c->side = side;

    tlsplug_sess_params p = {.side = side};
    uint8_t *sess = NULL;
    int rc = TLSPLUG_OK;
    if (side == TLSPLUG_SIDE_CLIENT) {
        if (name && !tlsplug__is_ip_literal(name))
            p.sni = name;
        int checks = ctx->adopted ? name != NULL
                                  : cfg->verify != TLSPLUG_VERIFY_NONE && cfg->verify_hostname;
        if (checks && !name && !ctx->adopted) {
            rc = tlsplug__err_outf(err, TLSPLUG_E_BAD_CONFIG,
                               "hostname verification is on but no server name was given (set "
                               "one, or turn the hostname check off)");
            goto fail;
        }
        p.verify_name = checks ? name : NULL;
        if (cfg->tickets || cfg->session_cache) {
            c->session_name = tlsplug__strdup(name ? name : "");
            if (!c->session_name) {
                rc = tlsplug__err_outf(err, TLSPLUG_E_NO_MEMORY, "out of memory");
                goto fail;
            }
            if (tlsplug__ctx_session_get(ctx, c->session_name, &sess, &p.session_len) == 0)
                p.session = sess;
        }
    }
    struct tlsplug_error e = {0};
    rc = c->be->sess_new(ctx->bctx, c, &p, &c->bs, &e);
    tlsplug__free(sess);
    if (rc) {
        c->bs = NULL;
        if (e.cls == 0)
            tlsplug__err_set(&e, rc, 0, "%s: cannot make the session", c->be->name);
        tlsplug__err_out(err, &e);
        goto fail;
    }
    tlsplug_native_hook hooks[2] = {cfg->ssl_configure, opts->ssl_configure};
    void *args[2] = {cfg->ssl_configure_arg, opts->ssl_configure_arg};
    for (int i = 0; i < 2; i++) {
        if (!hooks[i])
            continue;
        int hr = hooks[i](c->be->impl, c->be->sess_native(c->bs), args[i]);
        if (hr != 0) {
            rc = tlsplug__err_outf(err, TLSPLUG_E_BAD_CONFIG, "ssl-configure hook failed (returned %d)",
                               hr);
            goto fail;
        }
    }
    tlsplug__free(name);
    tlsplug__ctx_ref(ctx);
    tlsplug__recbuf_users(1);
    *out = c;
    return TLSPLUG_OK;
fail:
    if (c->bs)
        c->be->sess_free(c->bs);
    tlsplug__free(c->session_name);
    tlsplug__free(name);
    tlsplug__free(c);
    return rc;
}

static void save_session(tlsplug_conn *c)
{
    if (!c->session_name || !c->established || c->failed || !c->be->session_save)
        return;
    uint8_t *data = NULL;
    size_t len = 0;
    if (c->be->session_save(c->bs, &data, &len) == TLSPLUG_OK && data)
        tlsplug__ctx_session_put(c->ctx, c->session_name, data, len);
}

void tlsplug_conn_free(tlsplug_conn *c)
{
    if (!c)
        return;
    /* TLS 1.3 tickets arrive after the handshake: the latest session is the
     * one to offer next time. */
    save_session(c);
    c->be->sess_free(c->bs);
    tlsplug__recbuf_put(c->in.p);
    tlsplug__recbuf_put(c->out.p);
    tlsplug__recbuf_users(-1);
    tlsplug__free(c->session_name);
    tlsplug__free(c->err);
    tlsplug_ctx *ctx = c->ctx;
    tlsplug__free(c);
    tlsplug_ctx_free(ctx);
}

void tlsplug_conn_set_data(tlsplug_conn *c, void *data)
{
    if (c)
        c->data = data;
}

void *tlsplug_conn_get_data(const tlsplug_conn *c)
{
    return c ? c->data : NULL;
}

/* ---- ciphertext buffers --------------------------------------------------- */

/* lend_taken stays readable; nothing is left to read. */
static void end_loan(tlsplug_conn *c)
{
    c->lend_p = NULL;
    c->lend_len = c->lend_taken;
}

void tlsplug_conn_recv_lend(tlsplug_conn *c, const void *data, size_t len)
{
    if (!c)
        return;
    c->lend_taken = 0;
    c->lend_p = data && !c->in_eof ? data : NULL;
    c->lend_len = c->lend_p ? len : 0;
    if (c->lend_len)
        c->starved = 0;
}

size_t tlsplug_conn_recv_taken(const tlsplug_conn *c)
{
    return c ? c->lend_taken : 0;
}

void *tlsplug_conn_recv_buf(tlsplug_conn *c, size_t *avail)
{
    size_t dummy;
    if (!avail)
        avail = &dummy;
    *avail = 0;
    if (!c)
        return NULL;
    end_loan(c); /* bytes written here come after the loan's: not to be read first */
    if (c->in_eof)
        return NULL;
    if (buf_reserve(&c->in)) {
        /* No room must not read as "full": the next step reports it. */
        if (!c->failed)
            c->failed = tlsplug__err_set(err_rec(c), TLSPLUG_E_NO_MEMORY, 0,
                                         "out of memory for the receive buffer");
        return NULL;
    }
    size_t space = buf_space(&c->in);
    if (!space)
        return NULL;
    *avail = space;
    return c->in.p + c->in.off + c->in.len;
}

void tlsplug_conn_recv_ack(tlsplug_conn *c, size_t n)
{
    if (!c || !c->in.p)
        return;
    size_t space = BUF_CAP - c->in.off - c->in.len;
    c->in.len += n < space ? n : space;
    if (n)
        c->starved = 0;
}

size_t tlsplug_conn_feed(tlsplug_conn *c, const void *data, size_t len)
{
    size_t done = 0;
    if (c)
        end_loan(c);
    if (!data)
        return 0;
    while (done < len) {
        size_t avail;
        uint8_t *dst = tlsplug_conn_recv_buf(c, &avail);
        if (!dst)
            break;
        size_t k = len - done < avail ? len - done : avail;
        memcpy(dst, (const uint8_t *)data + done, k);
        tlsplug_conn_recv_ack(c, k);
        done += k;
    }
    return done;
}

void tlsplug_conn_recv_eof(tlsplug_conn *c)
{
    if (c) {
        c->in_eof = 1;
        c->starved = 0;
    }
}

const void *tlsplug_conn_send_buf(tlsplug_conn *c, size_t *len)
{
    size_t dummy;
    if (!len)
        len = &dummy;
    *len = 0;
    if (!c || !c->out.len)
        return NULL;
    *len = c->out.len;
    return c->out.p + c->out.off;
}

void tlsplug_conn_send_ack(tlsplug_conn *c, size_t n)
{
    if (!c)
        return;
    buf_consume(&c->out, n < c->out.len ? n : c->out.len);
    if (n && c->out_blocked) { /* the backend holds output that now fits */
        c->out_blocked = 0;
        c->starved = 0;
    }
}

size_t tlsplug_conn_drain(tlsplug_conn *c, void *out, size_t cap)
{
    size_t len;
    if (!out)
        return 0;
    const void *p = tlsplug_conn_send_buf(c, &len);
    size_t k = len < cap ? len : cap;
    if (k) {
        memcpy(out, p, k);
        tlsplug_conn_send_ack(c, k);
    }
    return k;
}

/* ---- services for backends ----------------------------------------------- */

struct tlsplug_error *tlsplug__conn_err(tlsplug_conn *c)
{
    return err_rec(c);
}

const tlsplug_config *tlsplug__conn_config(const tlsplug_conn *c)
{
    return c->ctx->cfg;
}

int tlsplug__io_recv(tlsplug_conn *c, void *buf, size_t len, size_t *n)
{
    *n = 0;
    if (c->rec.bad)
        return c->rec.bad;
    int lent = c->in.len == 0;
    size_t have = lent ? c->lend_len - c->lend_taken : c->in.len;
    size_t k = 0;
    if (have) { /* before any pointer arithmetic: lend_p may be NULL */
        const uint8_t *src = lent ? c->lend_p + c->lend_taken : c->in.p + c->in.off;
        k = tlsplug__rec_allow(&c->rec, src, have);
        if (c->rec.bad)
            return c->rec.bad;
        if (k > len)
            k = len;
        memcpy(buf, src, k);
        tlsplug__rec_advance(&c->rec, src, k);
        if (lent)
            c->lend_taken += k;
        else
            buf_consume(&c->in, k);
    }
    /* The rest of a record whose start was read ahead comes straight from
     * the transport into the library's buffer: no copy, and the library gets
     * the record whole instead of in pieces (GnuTLS copies pieces together).
     * Never past the record's end, so detach still finds its plain bytes. */
    if (c->source && k < len && c->rec.hdr_got == 5 && c->rec.body_left && !c->in_eof &&
        c->in.len == 0 && c->lend_len == c->lend_taken) {
        size_t want = len - k < c->rec.body_left ? len - k : c->rec.body_left;
        size_t got = c->source(c->source_arg, (uint8_t *)buf + k, want);
        tlsplug__rec_advance(&c->rec, (uint8_t *)buf + k, got);
        k += got;
    }
    if (k == 0)
        return c->in_eof ? TLSPLUG_E_CLOSED : TLSPLUG_WANT_READ;
    *n = k;
    c->starved = 0;
    return TLSPLUG_OK;
}

void tlsplug__io_oom(tlsplug_conn *c, const char *what)
{
    c->oom = what;
}

size_t tlsplug__io_buffered(const tlsplug_conn *c)
{
    return c->rec.bad ? 0 : c->in.len + (c->lend_len - c->lend_taken);
}

int tlsplug__io_send(tlsplug_conn *c, const void *buf, size_t len, size_t *n)
{
    *n = 0;
    size_t sent = 0;
    /* Only behind nothing: bytes already buffered must leave first. */
    if (c->direct && c->out.len == 0 && len) {
        sent = c->sink(c->sink_arg, buf, len);
        *n = sent;
        if (sent == len)
            return TLSPLUG_OK;
        buf = (const uint8_t *)buf + sent;
        len -= sent;
    }
    if (buf_reserve(&c->out)) {
        if (sent) /* what the socket took is sent; the rest is asked again */
            return TLSPLUG_OK;
        tlsplug__io_oom(c, "the send buffer");
        return TLSPLUG_E_NO_MEMORY;
    }
    size_t space = buf_space(&c->out);
    if (space < len)
        c->out_blocked = 1;
    if (!space)
        return sent ? TLSPLUG_OK : TLSPLUG_WANT_WRITE;
    size_t k = len < space ? len : space;
    memcpy(c->out.p + c->out.off + c->out.len, buf, k);
    c->out.len += k;
    *n = sent + k;
    return TLSPLUG_OK;
}

void tlsplug__conn_set_sink(tlsplug_conn *c, tlsplug__sink_fn fn, void *arg)
{
    c->sink = fn;
    c->sink_arg = arg;
}

void tlsplug__conn_set_source(tlsplug_conn *c, tlsplug__source_fn fn, void *arg)
{
    c->source = fn;
    c->source_arg = arg;
}

static int is_cert_class(int cls)
{
    return cls <= TLSPLUG_E_CERT_EXPIRED && cls >= TLSPLUG_E_CERT_INVALID;
}

int tlsplug__verify(tlsplug_conn *c, int verdict, const uint8_t *const *der,
                    const size_t *der_len, size_t count)
{
    const tlsplug_config *cfg = c->ctx->cfg;
    int final = verdict;
    int by_user = 0;
    if (cfg->verify_cb) {
        int r = cfg->verify_cb(c, verdict, der, der_len, count, cfg->verify_arg);
        by_user = r != verdict;
        final = r == TLSPLUG_OK ? TLSPLUG_OK : is_cert_class(r) ? r : TLSPLUG_E_CERT_REJECTED;
    }
    if (final != TLSPLUG_OK) {
        c->verify_verdict = final;
        if (by_user)
            tlsplug__err_set(err_rec(c), final, 0, "the verify callback rejected the peer "
                                                "certificate (%s)",
                             tlsplug_error_name(final));
        else
            tlsplug__err_set(err_rec(c), final, 0, "peer certificate verification failed: %s",
                             tlsplug_error_name(final));
    }
    return final;
}

void tlsplug__keylog(tlsplug_conn *c, const char *line)
{
    const tlsplug_config *cfg = c->ctx->cfg;
    if (cfg->keylog_cb)
        cfg->keylog_cb(c, line, cfg->keylog_arg);
}

void tlsplug__keylog_secret(tlsplug_conn *c, const char *label, const uint8_t *client_random,
                            size_t random_len, const uint8_t *secret, size_t secret_len)
{
    static const char hex[] = "0123456789abcdef";
    char line[64 + 2 * 64 + 2 * 128 + 4];
    size_t o = (size_t)snprintf(line, sizeof line, "%s ", label);
    if (o >= 64 || random_len > 64 || secret_len > 128)
        return;
    for (size_t i = 0; i < random_len; i++) {
        line[o++] = hex[client_random[i] >> 4];
        line[o++] = hex[client_random[i] & 15];
    }
    line[o++] = ' ';
    for (size_t i = 0; i < secret_len; i++) {
        line[o++] = hex[secret[i] >> 4];
        line[o++] = hex[secret[i] & 15];
    }
    line[o] = 0;
    tlsplug__keylog(c, line);
}

int tlsplug__peer_alert(tlsplug_conn *c, int alert, long code)
{
    struct tlsplug_error *e = err_rec(c);
    tlsplug__err_set(e, TLSPLUG_E_PEER_ALERT, code, "peer sent fatal alert %d (%s)", alert,
                     tlsplug__alert_name(alert));
    e->alert = alert;
    return TLSPLUG_E_PEER_ALERT;
}

/* ---- steps --------------------------------------------------------------- */

/* Every backend error passes here: core's own knowledge beats the library's
 * guess, so the class is the same on every backend. */
static int normalise(tlsplug_conn *c, int rc)
{
    /* A send buffer core could not allocate is the cause, whatever the
     * library made of its failed transport call (io-error, truncated, a
     * retry). */
    if (c->oom) {
        const char *what = c->oom;
        c->oom = NULL;
        if (rc != TLSPLUG_OK && rc != TLSPLUG_E_CLOSED) {
            c->failed = tlsplug__err_set(err_rec(c), TLSPLUG_E_NO_MEMORY, 0,
                                         "out of memory for %s", what);
            return c->failed;
        }
    }
    if (rc >= 0 || rc == TLSPLUG_E_WOULD_BLOCK)
        return rc;
    /* One fetch: if the record's allocation fails, a second err_rec could
     * allocate a fresh, empty record and lose what was written to the first. */
    struct tlsplug_error *e = err_rec(c);
    if (rc == TLSPLUG_E_CLOSED) {
        c->closed = 1;
        if (e->cls != TLSPLUG_E_CLOSED)
            tlsplug__err_set(e, TLSPLUG_E_CLOSED, 0, "the peer closed TLS (close_notify)");
        return rc;
    }
    if (c->rec.bad == TLSPLUG_E_NOT_TLS) {
        tlsplug__err_set(e, TLSPLUG_E_NOT_TLS, e->code,
                         "the peer does not speak TLS (first bytes are not a TLS record)");
    } else if (c->rec.bad == TLSPLUG_E_PROTOCOL) {
        tlsplug__err_set(e, TLSPLUG_E_PROTOCOL, e->code, "malformed TLS record from the peer");
    } else if (c->verify_verdict) {
        rc = c->verify_verdict;
        if (e->cls != rc)
            tlsplug__err_set(e, rc, e->code, "peer certificate verification failed: %s",
                             tlsplug_error_name(rc));
    } else if (c->in_eof && c->in.len == 0 && c->lend_len == c->lend_taken &&
               rc != TLSPLUG_E_PEER_ALERT && rc != TLSPLUG_E_NO_MEMORY) {
        tlsplug__err_set(e, TLSPLUG_E_TRUNCATED, e->code,
                         c->established ? "the peer closed the connection without close_notify"
                                        : "the peer closed the connection during the handshake");
    } else if (e->cls != rc) {
        /* a backend that forgot to fill the record still gives a message */
        tlsplug__err_set(e, rc, 0, "%s: %s", c->be->name, tlsplug_error_name(rc));
    }
    c->failed = e->cls;
    return c->failed;
}

static int handshake_step(tlsplug_conn *c)
{
    if (c->failed)
        return c->failed;
    if (c->established)
        return TLSPLUG_OK;
    /* as in read_step: an event loop steps the handshake on every wake-up,
     * and a library's handshake call that finds nothing new is not cheap
     * (GnuTLS hashes the transcript again: ~80,000 instructions) */
    if (c->starved)
        return TLSPLUG_WANT_READ;
    int rc = normalise(c, c->be->handshake(c->bs));
    c->starved = rc == TLSPLUG_WANT_READ && !c->in_eof && tlsplug__io_buffered(c) == 0;
    if (rc == TLSPLUG_E_CLOSED) {
        /* close_notify during the handshake is an aborted handshake */
        c->failed = tlsplug__err_set(err_rec(c), TLSPLUG_E_TRUNCATED, 0,
                                     "the peer closed TLS during the handshake");
        return c->failed;
    }
    if (rc == TLSPLUG_OK) {
        c->established = 1;
        save_session(c);
    }
    return rc;
}

int tlsplug_conn_handshake(tlsplug_conn *c)
{
    if (!c)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = handshake_step(c);
    end_loan(c);
    return rc;
}

static int read_step(tlsplug_conn *c, void *buf, size_t cap, size_t *n)
{
    if (c->failed)
        return c->failed;
    if (c->closed)
        return TLSPLUG_E_CLOSED;
    if (!c->established) {
        int hs = handshake_step(c);
        if (hs != TLSPLUG_OK)
            return hs;
    }
    if (cap == 0)
        return TLSPLUG_OK;
    if (c->starved)
        return TLSPLUG_WANT_READ;
    int rc = normalise(c, c->be->read(c->bs, buf, cap, n));
    /* at end of file a read must go on to report it, however the library
     * answered this time (GnuTLS says "again" after a post-handshake message
     * without looking at the transport); nor while ciphertext is still
     * buffered (a backend may stop early, mbedTLS after many empty records) */
    c->starved = rc == TLSPLUG_WANT_READ && !c->in_eof && tlsplug__io_buffered(c) == 0;
    return rc;
}

int tlsplug_conn_read(tlsplug_conn *c, void *buf, size_t cap, size_t *n)
{
    size_t dummy;
    if (!n)
        n = &dummy;
    *n = 0;
    if (!c || (!buf && cap))
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = read_step(c, buf, cap, n);
    end_loan(c);
    return rc;
}

static int write_step(tlsplug_conn *c, const void *buf, size_t len, size_t *n)
{
    if (c->failed)
        return c->failed;
    if (c->shutdown_queued)
        return tlsplug__err_set(err_rec(c), TLSPLUG_E_INVALID_ARGUMENT, 0,
                                "write after shutdown");
    if (!c->established) {
        int hs = handshake_step(c);
        if (hs != TLSPLUG_OK)
            return hs;
    }
    if (len == 0)
        return TLSPLUG_OK;
    c->direct = c->sink != NULL;
    int rc = c->be->write(c->bs, buf, len, n);
    c->direct = 0;
    return normalise(c, rc);
}

int tlsplug_conn_write(tlsplug_conn *c, const void *buf, size_t len, size_t *n)
{
    size_t dummy;
    if (!n)
        n = &dummy;
    *n = 0;
    if (!c || (!buf && len))
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = write_step(c, buf, len, n);
    end_loan(c);
    return rc;
}

static int shutdown_step(tlsplug_conn *c)
{
    if (c->failed)
        return c->failed;
    if (!c->established)
        return tlsplug__err_set(err_rec(c), TLSPLUG_E_INVALID_ARGUMENT, 0,
                                "shutdown before the handshake completed");
    if (c->shutdown_queued)
        return TLSPLUG_OK;
    int rc = normalise(c, c->be->shutdown(c->bs));
    if (rc == TLSPLUG_OK)
        c->shutdown_queued = 1;
    return rc;
}

int tlsplug_conn_shutdown(tlsplug_conn *c)
{
    if (!c)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = shutdown_step(c);
    end_loan(c);
    return rc;
}

size_t tlsplug_conn_pending(const tlsplug_conn *c)
{
    return c && c->established && !c->failed ? c->be->pending(c->bs) : 0;
}

const void *tlsplug_conn_unread(const tlsplug_conn *c, size_t *len)
{
    size_t dummy;
    if (!len)
        len = &dummy;
    *len = 0;
    if (!c || !c->closed || !c->in.len)
        return NULL;
    *len = c->in.len;
    return c->in.p + c->in.off;
}

void tlsplug_conn_unread_ack(tlsplug_conn *c, size_t n)
{
    if (c && c->closed)
        buf_consume(&c->in, n < c->in.len ? n : c->in.len);
}

size_t tlsplug__conn_unconsumed(const tlsplug_conn *c)
{
    return c->in.len;
}

void tlsplug__conn_trim(tlsplug_conn *c)
{
    buf_release_if_empty(&c->in);
    buf_release_if_empty(&c->out);
}

void tlsplug__conn_idle(tlsplug_conn *c)
{
    tlsplug__conn_trim(c);
    if (c->be->idle && c->established && !c->failed)
        c->be->idle(c->bs);
}

void tlsplug_conn_idle(tlsplug_conn *c)
{
    if (!c)
        return;
    if (c->in.len == 0 && c->out.len == 0)
        tlsplug__conn_idle(c);
    else /* bytes in flight: the library's buffers may hold their rest */
        tlsplug__conn_trim(c);
}

const tlsplug_error *tlsplug_conn_error(const tlsplug_conn *c)
{
    if (!c || !(c->failed || c->closed))
        return NULL;
    if (c->err)
        return c->err;
    static _Thread_local struct tlsplug_error lost;
    tlsplug__err_lost(&lost, c->failed ? c->failed : TLSPLUG_E_CLOSED, 0, -1);
    return &lost;
}

int tlsplug__conn_failed(const tlsplug_conn *c)
{
    return c->failed;
}

int tlsplug_conn_established(const tlsplug_conn *c)
{
    return c && c->established;
}

tlsplug_side tlsplug_conn_side(const tlsplug_conn *c)
{
    return c ? c->side : TLSPLUG_SIDE_DEFAULT;
}

tlsplug_ctx *tlsplug_conn_ctx(const tlsplug_conn *c)
{
    return c ? c->ctx : NULL;
}

int tlsplug_conn_info(const tlsplug_conn *c, tlsplug_info *out)
{
    if (!c || !out)
        return TLSPLUG_E_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (!c->established)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = c->be->info(c->bs, out);
    if (rc)
        return rc;
    const char *cn = tlsplug_cipher_name(out->cipher_id);
    const char *gn = tlsplug_group_name(out->group_id);
    snprintf(out->cipher, sizeof out->cipher, "%s", cn ? cn : "");
    snprintf(out->group, sizeof out->group, "%s", gn ? gn : "");
    out->impl = c->be->impl;
    return TLSPLUG_OK;
}

int tlsplug_conn_summary(const tlsplug_conn *c, char *buf, size_t cap)
{
    if (!buf || !cap)
        return TLSPLUG_E_INVALID_ARGUMENT;
    tlsplug_info i;
    int rc = tlsplug_conn_info(c, &i);
    if (rc) {
        snprintf(buf, cap, "no handshake");
        return rc;
    }
    snprintf(buf, cap, "backend=%s version=%s cipher=%s group=%s alpn=%s resumed=%d peer=%s",
             tlsplug_impl_name(i.impl), tlsplug_version_name(i.version),
             i.cipher[0] ? i.cipher : "?", i.group[0] ? i.group : "?", i.alpn[0] ? i.alpn : "-",
             i.resumed, i.peer_subject[0] ? i.peer_subject : "-");
    return TLSPLUG_OK;
}

tlsplug_impl tlsplug_conn_impl(const tlsplug_conn *c)
{
    return c ? c->be->impl : TLSPLUG_IMPL_NONE;
}

void *tlsplug_conn_native(tlsplug_conn *c, tlsplug_impl impl)
{
    if (!c || impl != c->be->impl)
        return NULL;
    return c->be->sess_native(c->bs);
}
