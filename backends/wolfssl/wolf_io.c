/* The transport between wolfSSL and core's buffers, and what the backend
 * learns on the way: the server's first record (ClientHello facts wolfSSL
 * mishandles) and plaintext alerts wolfSSL cannot parse. */
#include <string.h>

#include "backends/wolfssl/wolfssl_int.h"

static unsigned get16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static void note_version(struct wolf_hello *h, unsigned v)
{
    if (v == TLSPLUG_TLS1_2)
        h->offers12 = 1;
    else if (v == TLSPLUG_TLS1_3)
        h->offers13 = 1;
}

static void parse_extensions(struct wolf_hello *h, const uint8_t *p, size_t n)
{
    while (n >= 4) {
        unsigned type = get16(p);
        size_t len = get16(p + 2);
        if (len > n - 4)
            return;
        const uint8_t *d = p + 4;
        if (type == 43 && len >= 1 && (size_t)d[0] + 1 <= len) {
            /* supported_versions replaces legacy_version entirely */
            h->offers12 = h->offers13 = 0;
            for (size_t i = 1; i + 1 < (size_t)d[0] + 1; i += 2)
                note_version(h, get16(d + i));
        } else if (type == 10 && len >= 2 && get16(d) + 2 <= len) {
            h->has_groups = 1;
            for (size_t i = 2; i + 1 < get16(d) + 2u && h->n_groups < WOLF_HELLO_MAX_GROUPS; i += 2)
                h->groups[h->n_groups++] = (uint16_t)get16(d + i);
        }
        p += 4 + len;
        n -= 4 + len;
    }
}

/* Parse one TLS record holding a ClientHello; -1 if it is not one. */
static int parse_hello(struct wolf_hello *h, const uint8_t *rec, size_t n)
{
    memset(h, 0, sizeof *h);
    /* record header, handshake header, legacy_version, random */
    if (n < 5 + 4 + 2 + 32 + 1 || rec[0] != 22 || rec[5] != 1)
        return -1;
    size_t i = 5 + 4;
    note_version(h, get16(rec + i));
    i += 2 + 32;
    i += 1 + (size_t)rec[i]; /* session id */
    if (i + 2 > n)
        return -1;
    i += 2 + get16(rec + i); /* cipher suites */
    if (i + 1 > n)
        return -1;
    i += 1 + (size_t)rec[i]; /* compression */
    if (i + 2 > n)
        return 0; /* no extensions */
    size_t ext_len = get16(rec + i);
    i += 2;
    if (ext_len > n - i)
        return -1;
    parse_extensions(h, rec + i, ext_len);
    return 0;
}

static int cbio_from_recv(int r)
{
    if (r == TLSPLUG_WANT_READ)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    if (r == TLSPLUG_E_CLOSED)
        return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    return WOLFSSL_CBIO_ERR_GENERAL;
}

/* Watch the record headers going to wolfSSL for a renegotiation request,
 * and for a plaintext fatal alert after encryption started (OpenSSL's TLS
 * 1.3 client refusing our certificate sends one), which wolfSSL fails to
 * parse (PARSE_ERROR) instead of reporting the alert. */
static void track_records(struct wsess *s, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (s->rec_hdr_have < 5) {
            s->rec_hdr[s->rec_hdr_have++] = *p++;
            n--;
            if (s->rec_hdr_have == 5) {
                s->rec_left = (size_t)s->rec_hdr[3] << 8 | s->rec_hdr[4];
                s->rec_body_have = 0;
                /* After the handshake only TLS 1.2 renegotiation comes in a
                 * handshake record (TLS 1.3 ones travel as application
                 * data).  A client's wolfSSL answers a HelloRequest with the
                 * no_renegotiation warning and goes on, as the other
                 * backends do; a server's fails the ClientHello as a
                 * duplicate, which is reported as the refusal it is. */
                if (s->rec_hdr[0] == 22 && s->hs_done && s->side == TLSPLUG_SIDE_SERVER)
                    s->reneg_seen = 1;
                if (s->rec_left == 0)
                    s->rec_hdr_have = 0;
            }
            continue;
        }
        size_t k = n < s->rec_left ? n : s->rec_left;
        int plain_alert = s->rec_hdr[0] == 21 && s->rec_hdr[3] == 0 && s->rec_hdr[4] == 2;
        for (size_t i = 0; plain_alert && i < k && s->rec_body_have + i < 2; i++)
            s->rec_alert[s->rec_body_have + i] = p[i];
        s->rec_body_have += k;
        s->rec_left -= k;
        p += k;
        n -= k;
        if (s->rec_left == 0) {
            if (plain_alert && s->rec_alert[0] == 2)
                s->plain_alert = s->rec_alert[1];
            s->rec_hdr_have = 0;
        }
    }
}

/* The first record could not be held back: the ClientHello policy cannot
 * run, so the handshake must not go on without it (prefetch fails it). */
static int first_oom(struct wsess *s)
{
    tlsplug__io_oom(s->conn, "the first record");
    s->hello_state = 3;
    return WOLFSSL_CBIO_ERR_GENERAL;
}

/* Room for total bytes in s->first; the caller then raises first_need to
 * total.  A live buffer is never smaller than FIRST_ROOM or first_need, so
 * most first flights fit in the first allocation and are not copied again
 * as they grow. */
#define FIRST_ROOM 512
static int first_room(struct wsess *s, size_t total)
{
    size_t room = !s->first ? 0 : s->first_need > FIRST_ROOM ? s->first_need : FIRST_ROOM;
    if (total <= room)
        return 0;
    uint8_t *p = tlsplug__realloc(s->first, total > FIRST_ROOM ? total : FIRST_ROOM);
    if (!p)
        return -1;
    s->first = p;
    return 0;
}

/* Collect the server's first record; 0 once it is whole (or not a hello). */
static int collect_first(struct wsess *s)
{
    if (!s->first) {
        if (first_room(s, 5))
            return first_oom(s);
        s->first_need = 5;
    }
    while (s->first_have < s->first_need) {
        size_t n = 0;
        int r = tlsplug__io_recv(s->conn, s->first + s->first_have, s->first_need - s->first_have,
                                 &n);
        if (r != TLSPLUG_OK)
            return cbio_from_recv(r);
        s->first_have += n;
        if (s->first_have == 5) {
            size_t len = (size_t)s->first[3] << 8 | s->first[4];
            if (s->first[0] != 22 || len > 16384 + 2048)
                break; /* not a handshake record: wolfSSL will say so */
            if (first_room(s, 5 + len))
                return first_oom(s);
            s->first_need = 5 + len;
        }
    }
    s->hello_state = 1;
    return 0;
}

/* Server, once the ClientHello is known and before wolfSSL reads it: do
 * for groups what tlsplug servers do and the wolfSSL server does not. */
void tlsplug__wolf_plain_alert_send(struct wsess *s, int description)
{
    char alert[] = {21, 3, 3, 0, 2, 2, (char)description};
    /* Through io_send, behind anything still held back. */
    (void)tlsplug__wolf_io_send(s->ssl, alert, sizeof alert, s);
    (void)tlsplug__wolf_flush(s);
}

static void refuse(struct wsess *s, int reason)
{
    /* Nothing has been sent yet, so the alert is a plaintext record we can
     * write ourselves. */
    tlsplug__wolf_plain_alert_send(s, reason == WOLF_REFUSE_VERSION ? 70 : 40);
    s->hello_state = 2;
    s->refused = reason;
}

static void server_hello_policy(struct wsess *s)
{
    const tlsplug_config *cfg = s->wc->cfg;
    if (s->wc->adopted || parse_hello(&s->hello, s->first, s->first_have) != 0)
        return;
    s->hello_parsed = 1;
    /* A 1.3-only client at a 1.2 server gets handshake_failure from wolfSSL
     * (it does not look at supported_versions then): protocol_version is
     * the answer every other server gives. */
    int v13 = s->hello.offers13 && cfg->max_version >= TLSPLUG_TLS1_3;
    int v12 = s->hello.offers12 && cfg->min_version <= TLSPLUG_TLS1_2;
    if (!v13 && !v12) {
        refuse(s, WOLF_REFUSE_VERSION);
        return;
    }
    uint16_t chosen = 0;
    for (size_t k = 0; k < cfg->n_groups && !chosen; k++)
        for (size_t i = 0; i < s->hello.n_groups; i++)
            if (s->hello.groups[i] == cfg->groups[k])
                chosen = cfg->groups[k];
    /* No common group: wolfSSL would use P-256 anyway (1.2) or stop without
     * an alert (1.3). */
    if (s->hello.has_groups && !chosen) {
        refuse(s, WOLF_REFUSE_GROUP);
        return;
    }
    if (v13 || !s->hello.has_groups)
        return;
    /* TLS 1.2 from here.  An ECDSA certificate's curve must be one the
     * client takes (RFC 8422 section 5.1), as OpenSSL and mbedTLS servers
     * insist. */
    int ok = !s->wc->cert_group;
    for (size_t i = 0; i < s->hello.n_groups; i++)
        ok |= s->hello.groups[i] == s->wc->cert_group;
    if (!ok) {
        refuse(s, WOLF_REFUSE_CERT_CURVE);
        return;
    }
    /* Server preference (wolfSSL takes the client's first): leave this
     * connection only the group we pick; the context is not touched. */
    wolfSSL_set1_curves_list(s->ssl, tlsplug__wolf_group_name(chosen));
    s->tls12_group = chosen;
}

/* ---- TLS 1.2 tickets offered by a client --------------------------------
 * wolfSSL 5.5 (fixed in 5.7.4) takes any TLS 1.2 ServerHello as resuming
 * while its session holds a ticket: a server that declines the ticket and
 * runs a full handshake gets an unexpected_message alert.  Its ClientHello
 * carries no session id then, so (RFC 5077, 3.4) only the message after
 * the ServerHello tells: ChangeCipherSpec or NewSessionTicket when the
 * server resumes, Certificate and the rest when it does not.  So the
 * ticket is withdrawn once the ClientHello is out, the server's records
 * are held back up to that message, and the ticket is put back only when
 * the server resumes, before wolfSSL reads the ServerHello. */

int tlsplug__wolf_ticket12_withdraw(struct wsess *s)
{
    uint8_t small[1024];
    word32 n = sizeof small;
    uint8_t *t = small;
    s->ticket12_state = WOLF_T12_DONE;
    /* n comes back 0 when the ticket is larger than the buffer. */
    if (wolfSSL_get_SessionTicket(s->ssl, t, &n) == WOLFSSL_SUCCESS && n == 0) {
        n = 65535;
        if (!(t = tlsplug__malloc(n)))
            return TLSPLUG_E_NO_MEMORY;
        if (wolfSSL_get_SessionTicket(s->ssl, t, &n) != WOLFSSL_SUCCESS)
            n = 0;
    }
    if (n > 0)
        s->ticket12 = tlsplug__memdup(t, n);
    if (t != small)
        tlsplug__free(t);
    if (n == 0)
        return TLSPLUG_OK;
    if (!s->ticket12)
        return TLSPLUG_E_NO_MEMORY;
    s->ticket12_len = n;
    if (wolfSSL_set_SessionTicket(s->ssl, NULL, 0) == WOLFSSL_SUCCESS)
        s->ticket12_state = WOLF_T12_WITHDRAWN;
    return TLSPLUG_OK;
}

/* Hold back the server's bytes until total of them are here (s->first). */
static int hold(struct wsess *s, size_t total)
{
    if (total > s->first_need) {
        if (first_room(s, total)) {
            tlsplug__io_oom(s->conn, "the server's first records");
            return WOLFSSL_CBIO_ERR_GENERAL;
        }
        s->first_need = total;
    }
    while (s->first_have < total) {
        size_t n = 0;
        int r = tlsplug__io_recv(s->conn, s->first + s->first_have, total - s->first_have, &n);
        if (r != TLSPLUG_OK)
            return cbio_from_recv(r);
        s->first_have += n;
    }
    return 0;
}

/* 1 if the server resumes, 0 if not, -1 while it cannot tell yet (the
 * bytes needed are then asked for with hold). */
static int server_resumes(struct wsess *s, int *r)
{
    if ((*r = hold(s, 5)) != 0)
        return -1;
    size_t rec = (size_t)s->first[3] << 8 | s->first[4];
    if (s->first[0] != 22 || rec < 4)
        return 1; /* no ServerHello: wolfSSL fails it either way */
    if ((*r = hold(s, 5 + 4)) != 0)
        return -1;
    const uint8_t *p = s->first;
    size_t msg = (size_t)p[6] << 16 | (size_t)p[7] << 8 | p[8];
    if (p[5] != 2 || rec < 4 + msg)
        return 1; /* not a whole ServerHello record: as wolfSSL would have */
    if (rec > 4 + msg) { /* the next message shares the record */
        if ((*r = hold(s, 5 + 4 + msg + 1)) != 0)
            return -1;
        return s->first[5 + 4 + msg] == 4;
    }
    if ((*r = hold(s, 5 + rec + 5)) != 0)
        return -1;
    p = s->first + 5 + rec;
    if (p[0] == 20)
        return 1;
    if (p[0] != 22 || (p[3] == 0 && p[4] == 0))
        return 0;
    if ((*r = hold(s, 5 + rec + 5 + 1)) != 0)
        return -1;
    return s->first[5 + rec + 5] == 4;
}

static int ticket12_decide(struct wsess *s)
{
    int r = 0;
    int resumes = server_resumes(s, &r);
    if (resumes < 0)
        return r;
    if (resumes)
        wolfSSL_set_SessionTicket(s->ssl, s->ticket12, (word32)s->ticket12_len);
    tlsplug__free(s->ticket12);
    s->ticket12 = NULL;
    s->ticket12_state = WOLF_T12_DONE;
    return 0;
}

/* Core never hands out bytes past the current record, so wolfSSL asking for
 * a whole buffer's worth cannot swallow what follows a close_notify. */
int tlsplug__wolf_io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    struct wsess *s = ctx;
    if (s->side == TLSPLUG_SIDE_SERVER && s->hello_state == 0) {
        int r = collect_first(s);
        if (r != 0)
            return r;
    }
    if (s->hello_state >= 2) /* refused, or no memory to hold it back */
        return WOLFSSL_CBIO_ERR_GENERAL;
    if (s->ticket12_state == WOLF_T12_WITHDRAWN) {
        int r = ticket12_decide(s);
        if (r != 0)
            return r;
    }
    if (s->first) {
        size_t k = s->first_have - s->first_served;
        if (k > (size_t)sz)
            k = (size_t)sz;
        memcpy(buf, s->first + s->first_served, k);
        track_records(s, s->first + s->first_served, k);
        s->first_served += k;
        if (s->first_served == s->first_have) {
            tlsplug__free(s->first);
            s->first = NULL;
        }
        return (int)k;
    }
    size_t n = 0;
    int r = tlsplug__io_recv(s->conn, buf, (size_t)sz, &n);
    if (r != TLSPLUG_OK)
        return cbio_from_recv(r);
    track_records(s, (const uint8_t *)buf, n);
    return (int)n;
}

int tlsplug__wolf_flush(struct wsess *s)
{
    while (s->out_len > 0) {
        size_t n = 0;
        int r = tlsplug__io_send(s->conn, s->out + s->out_off, s->out_len, &n);
        if (r != TLSPLUG_OK)
            return r;
        s->out_off += n;
        s->out_len -= n;
    }
    tlsplug__free(s->out);
    s->out = NULL;
    s->out_off = s->out_cap = 0;
    return TLSPLUG_OK;
}

/* wolfSSL is never told WANT_WRITE: after one, it keeps a half-sent record
 * and state for the write it belongs to, and a close_notify sent before that
 * write is retried lands in the middle of the record (the peer sees a bad
 * MAC).  What core cannot take now waits here; the steps hold wolfSSL back
 * (WANT_WRITE) until it is gone, so this is at most one call's output. */
int tlsplug__wolf_io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    struct wsess *s = ctx;
    size_t done = 0;
    /* Nothing goes to core while older bytes wait here. */
    if (s->out_len == 0)
        (void)tlsplug__io_send(s->conn, buf, (size_t)sz, &done);
    size_t rest = (size_t)sz - done;
    if (rest == 0)
        return sz;
    if (s->out_off + s->out_len + rest > s->out_cap) {
        if (s->out_off) {
            memmove(s->out, s->out + s->out_off, s->out_len);
            s->out_off = 0;
        }
        if (s->out_len + rest > s->out_cap) {
            size_t cap = s->out_len + rest + 4096;
            uint8_t *p = tlsplug__realloc(s->out, cap);
            if (!p) {
                tlsplug__io_oom(s->conn, "output held back");
                return WOLFSSL_CBIO_ERR_GENERAL;
            }
            s->out = p;
            s->out_cap = cap;
        }
    }
    memcpy(s->out + s->out_off + s->out_len, buf + done, rest);
    s->out_len += rest;
    return sz;
}

int tlsplug__wolf_prefetch_hello(struct wsess *s)
{
    int c = collect_first(s);
    if (c == WOLFSSL_CBIO_ERR_WANT_READ)
        return TLSPLUG_WANT_READ;
    if (s->hello_state == 3)
        return TLSPLUG_E_NO_MEMORY;
    /* Errors are left for wolfSSL to meet again through io_recv. */
    if (c == 0 && s->first)
        server_hello_policy(s);
    return TLSPLUG_OK;
}

int tlsplug__wolf_plain_alert(struct wsess *s)
{
    if (s->rec_hdr_have == 5 && s->rec_hdr[0] == 21 && s->rec_hdr[3] == 0 &&
        s->rec_hdr[4] == 2 && s->rec_body_have == 0) {
        /* wolfSSL gave up at the header of a plaintext alert; its body is
         * still in core, and nobody else will read it now. */
        uint8_t body[2];
        size_t got = 0, n = 0;
        while (got < sizeof body &&
               tlsplug__io_recv(s->conn, body + got, sizeof body - got, &n) == TLSPLUG_OK)
            got += n;
        if (got == sizeof body && body[0] == 2)
            s->plain_alert = body[1];
    }
    return s->plain_alert;
}
