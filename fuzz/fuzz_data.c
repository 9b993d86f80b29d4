/* The data phase: a real handshake between two engines in memory, then the
 * input is a program of operations on the engine under test (T) and its peer
 * (P), with the ciphertext from P to T on a wire the program can cut, flip,
 * repeat, drop and add raw bytes to.  Recorded flights cannot be replayed
 * here (every handshake has fresh keys), so valid records come from P and
 * hostile ones from the input.
 *
 * What must hold whatever the program does:
 *  - every step result is legal and errors are sticky (fz_check_step);
 *  - T never delivers a byte P did not write, in P's order (the data carry
 *    a position-dependent pattern, so any reordering, repeat or forgery shows);
 *  - P never fails unless T did (T's output is never tampered with);
 *  - with the wire untouched, after P's close_notify T reads everything P
 *    wrote, then "closed", and the bytes after close_notify come back from
 *    tlsplug_conn_unread exactly;
 *  - after end of file T fails or is closed, never waits.
 *
 * Input: one byte of settings, then operations (one byte each, arguments
 * after it).  settings bits 0-1: context variant; bit 2: T is the server. */
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_data.h"
#include "fuzz_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SALT_P 0x5eed0001u /* P -> T */
#define SALT_T 0x5eed0002u /* T -> P */
#define DATA_MAX (1u << 18) /* bytes each side may write per input */

typedef struct run {
    tlsplug_conn *t, *p;
    fz_wire wire; /* P -> T, tampered with */
    fz_wire back; /* T -> P, never touched  */
    uint64_t p_written, t_got, t_written, p_got;
    int tampered;  /* the wire was touched: only safety checks hold    */
    int p_shut;    /* P queued close_notify: raw bytes after it are plain */
    int t_eof, t_closed, t_failed, t_shut;
    fz_wire plain; /* bytes put on the wire after P's close_notify      */
    size_t plain_back; /* of them, returned by tlsplug_conn_unread       */
} run;

static uint8_t buf[1u << 16];

/* T's output goes to P as it is: only P -> T is tampered with. */
static void t_to_p(run *r)
{
    fz_wire_from_conn(&r->back, r->t);
    fz_wire_to_conn(&r->back, r->p, 0);
}

static void handshake(run *r)
{
    int tres = TLSPLUG_WANT_READ, pres = TLSPLUG_WANT_READ;
    for (int i = 0; i < 100 && (tres > 0 || pres > 0); i++) {
        if (tres > 0)
            tres = tlsplug_conn_handshake(r->t);
        t_to_p(r);
        if (pres > 0)
            pres = tlsplug_conn_handshake(r->p);
        fz_wire_from_conn(&r->wire, r->p);
        fz_wire_to_conn(&r->wire, r->t, 0);
    }
    if (tres || pres)
        fprintf(stderr, "fuzz_data: handshake: T %s (%s), P %s (%s)\n", tlsplug_error_name(tres),
                tlsplug_error_message(tlsplug_conn_error(r->t)), tlsplug_error_name(pres),
                tlsplug_error_message(tlsplug_conn_error(r->p)));
    FZ_CHECK(tres == TLSPLUG_OK && pres == TLSPLUG_OK);
}

static void t_result(run *r, int rc)
{
    fz_check_step(r->t, rc);
    if (rc == TLSPLUG_E_CLOSED)
        r->t_closed = 1;
    else if (rc < 0 && rc != TLSPLUG_E_INVALID_ARGUMENT)
        r->t_failed = 1;
    t_to_p(r);
}

/* Bytes after close_notify: T gives back exactly what was put on the wire
 * after it, as far as it got. */
static void check_unread(run *r)
{
    size_t len;
    const uint8_t *u = tlsplug_conn_unread(r->t, &len);
    if (!len)
        return;
    FZ_CHECK(u != NULL);
    if (!r->tampered && r->p_shut) {
        FZ_CHECK(r->plain_back + len <= r->plain.len);
        FZ_CHECK(!memcmp(u, r->plain.p + r->plain_back, len));
    }
    r->plain_back += len;
    tlsplug_conn_unread_ack(r->t, len);
}

static int t_read(run *r, size_t cap)
{
    size_t n = 0;
    if (cap > sizeof buf)
        cap = sizeof buf;
    int rc = tlsplug_conn_read(r->t, buf, cap, &n);
    FZ_CHECK(rc == TLSPLUG_OK ? (n > 0 && n <= cap) || cap == 0 : n == 0);
    if (n) {
        FZ_CHECK(r->t_got + n <= r->p_written);
        FZ_CHECK(fz_pattern_check(SALT_P, r->t_got, buf, n));
        r->t_got += n;
    }
    t_result(r, rc);
    if (rc == TLSPLUG_E_CLOSED)
        check_unread(r);
    return rc;
}

static void p_read(run *r, size_t cap)
{
    t_to_p(r);
    size_t n = 0;
    if (cap > sizeof buf)
        cap = sizeof buf;
    int rc = tlsplug_conn_read(r->p, buf, cap, &n);
    if (n) {
        FZ_CHECK(r->p_got + n <= r->t_written);
        FZ_CHECK(fz_pattern_check(SALT_T, r->p_got, buf, n));
        r->p_got += n;
    }
    if (rc < 0 && rc != TLSPLUG_E_CLOSED)
        FZ_CHECK(r->t_failed || r->t_eof); /* P only fails on T's alert */
    fz_wire_from_conn(&r->wire, r->p);
}

static void p_write(run *r, size_t len)
{
    if (r->p_shut || tlsplug_conn_error(r->p))
        return;
    if (len > DATA_MAX - r->p_written)
        len = (size_t)(DATA_MAX - r->p_written);
    while (len) {
        size_t k = len < sizeof buf ? len : sizeof buf, n = 0;
        fz_pattern_fill(SALT_P, r->p_written, buf, k);
        int rc = tlsplug_conn_write(r->p, buf, k, &n);
        size_t before = r->wire.len;
        fz_wire_from_conn(&r->wire, r->p);
        if (rc < 0 || (n == 0 && r->wire.len == before))
            return; /* the wire is full */
        r->p_written += n;
        len -= n;
    }
}

static void t_write(run *r, size_t len)
{
    if (len > DATA_MAX - r->t_written)
        len = (size_t)(DATA_MAX - r->t_written);
    for (int i = 0; len && i < 64; i++) {
        size_t k = len < sizeof buf ? len : sizeof buf, n = 0;
        fz_pattern_fill(SALT_T, r->t_written, buf, k);
        int rc = tlsplug_conn_write(r->t, buf, k, &n);
        FZ_CHECK(rc == TLSPLUG_OK ? n > 0 && n <= k : n == 0);
        r->t_written += n;
        len -= n;
        t_result(r, rc);
        if (rc < 0)
            return;
        if (rc == TLSPLUG_WANT_WRITE)
            p_read(r, sizeof buf); /* make room */
    }
}

static void t_info(run *r)
{
    tlsplug_info info;
    char line[600];
    FZ_CHECK(tlsplug_conn_info(r->t, &info) == TLSPLUG_OK);
    FZ_CHECK(info.version == TLSPLUG_TLS1_2 || info.version == TLSPLUG_TLS1_3);
    FZ_CHECK(tlsplug_conn_summary(r->t, line, sizeof line) == TLSPLUG_OK);
    (void)tlsplug_conn_pending(r->t);
    FZ_CHECK(tlsplug_conn_native(r->t, tlsplug_conn_impl(r->t)) != NULL);
}

/* Everything on the wire to T, and T read until it has nothing more. */
static void pump(run *r)
{
    for (int i = 0; i < 256; i++) {
        fz_wire_from_conn(&r->wire, r->p);
        size_t moved = r->t_eof ? 0 : fz_wire_to_conn(&r->wire, r->t, 0);
        int rc = t_read(r, sizeof buf);
        if (rc < 0 || (rc == TLSPLUG_WANT_READ && !moved && !r->wire.len))
            return;
        if (rc == TLSPLUG_WANT_READ && !moved)
            return; /* T's buffer is full and it wants more: checked by the caller */
    }
}

static void step(run *r, fz *in)
{
    uint8_t op = fz_u8(in) % FZD_COUNT;
    switch (op) {
    case FZD_P_WRITE:
        p_write(r, fz_u16(in) % 40000);
        break;
    case FZD_MOVE:
        if (!r->t_eof)
            fz_wire_to_conn(&r->wire, r->t, fz_u16(in));
        break;
    case FZD_INJECT: {
        const uint8_t *raw;
        size_t n = fz_bytes(in, fz_u8(in), &raw);
        size_t k = fz_wire_put(&r->wire, raw, n);
        if (r->p_shut && !r->tampered)
            fz_wire_put(&r->plain, raw, k);
        else
            r->tampered = 1;
        break;
    }
    case FZD_FLIP: {
        uint16_t off = fz_u16(in);
        uint8_t x = fz_u8(in);
        if (r->wire.len && x) {
            r->wire.p[off % r->wire.len] ^= x;
            r->tampered = 1;
        }
        break;
    }
    case FZD_T_READ:
        t_read(r, fz_u16(in));
        break;
    case FZD_T_WRITE:
        if (!r->t_shut)
            t_write(r, fz_u16(in) % 40000);
        break;
    case FZD_P_SHUTDOWN:
        if (!r->p_shut && !tlsplug_conn_error(r->p) &&
            tlsplug_conn_shutdown(r->p) == TLSPLUG_OK) {
            fz_wire_from_conn(&r->wire, r->p);
            r->p_shut = 1;
        }
        break;
    case FZD_T_SHUTDOWN: {
        int rc = tlsplug_conn_shutdown(r->t);
        t_result(r, rc);
        if (rc == TLSPLUG_OK)
            r->t_shut = 1;
        break;
    }
    case FZD_T_EOF:
        tlsplug_conn_recv_eof(r->t);
        r->t_eof = 1;
        break;
    case FZD_P_READ:
        p_read(r, fz_u16(in));
        break;
    case FZD_T_INFO:
        t_info(r);
        break;
    case FZD_DUP:
    case FZD_DROP: {
        uint16_t off = fz_u16(in), n = fz_u16(in);
        if (!r->wire.len || !n)
            break;
        if (op == FZD_DUP)
            fz_wire_dup(&r->wire, off % r->wire.len, n);
        else
            fz_wire_drop(&r->wire, off % r->wire.len, n);
        r->tampered = 1;
        break;
    }
    case FZD_T_HANDSHAKE: {
        int rc = tlsplug_conn_handshake(r->t);
        FZ_CHECK(rc == TLSPLUG_OK || r->t_failed);
        t_result(r, rc);
        break;
    }
    case FZD_PUMP:
        pump(r);
        break;
    }
}

/* The end: deliver everything and check what an untouched wire promises. */
static void finish(run *r)
{
    pump(r);
    if (r->t_closed) {
        for (int i = 0; i < 256 && r->wire.len && !r->t_eof; i++) {
            fz_wire_to_conn(&r->wire, r->t, 0);
            check_unread(r);
        }
        check_unread(r);
    }
    if (r->tampered || r->t_failed || r->t_eof)
        return;
    FZ_CHECK(r->t_got == r->p_written);
    if (r->p_shut) {
        FZ_CHECK(r->t_closed);
        FZ_CHECK(r->plain_back == r->plain.len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz in = {data, size};
    uint8_t set = fz_u8(&in);
    unsigned v = set & 3;
    int t_server = (set >> 2) & 1;
    run r = {0};
    tlsplug_conn *c = fz_conn(fz_client_ctx(v)), *s = fz_conn(fz_server_ctx(v));
    r.t = t_server ? s : c;
    r.p = t_server ? c : s;
    handshake(&r);
    for (int i = 0; i < 4096 && in.n; i++)
        step(&r, &in);
    finish(&r);
    if (r.t_eof) {
        int rc = t_read(&r, sizeof buf);
        FZ_CHECK(rc < 0 || (rc == TLSPLUG_OK && r.t_got <= r.p_written));
    }
    tlsplug_conn_free(c);
    tlsplug_conn_free(s);
    fz_wire_free(&r.wire);
    fz_wire_free(&r.back);
    fz_wire_free(&r.plain);
    return 0;
}
