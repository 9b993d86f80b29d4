#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_wire.h"

/* Room for n more bytes (n already capped at FZ_WIRE_MAX). */
static void reserve(fz_wire *w, size_t n)
{
    if (w->len + n <= w->cap)
        return;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + n)
        cap *= 2;
    uint8_t *np = realloc(w->p, cap);
    FZ_CHECK(np);
    w->p = np;
    w->cap = cap;
}

size_t fz_wire_put(fz_wire *w, const void *p, size_t n)
{
    if (n > FZ_WIRE_MAX - w->len)
        n = FZ_WIRE_MAX - w->len;
    if (!n)
        return 0;
    reserve(w, n);
    memcpy(w->p + w->len, p, n);
    w->len += n;
    return n;
}

void fz_wire_from_conn(fz_wire *w, tlsplug_conn *c)
{
    size_t len;
    const void *p;
    while ((p = tlsplug_conn_send_buf(c, &len)) && len) {
        size_t k = fz_wire_put(w, p, len);
        tlsplug_conn_send_ack(c, k);
        if (k < len)
            break;
    }
}

size_t fz_wire_to_conn(fz_wire *w, tlsplug_conn *c, size_t max)
{
    size_t want = max && max < w->len ? max : w->len;
    size_t k = tlsplug_conn_feed(c, w->p, want);
    fz_wire_drop(w, 0, k);
    return k;
}

void fz_wire_drop(fz_wire *w, size_t off, size_t n)
{
    if (off >= w->len)
        return;
    if (n > w->len - off)
        n = w->len - off;
    memmove(w->p + off, w->p + off + n, w->len - off - n);
    w->len -= n;
}

void fz_wire_dup(fz_wire *w, size_t off, size_t n)
{
    if (off >= w->len)
        return;
    if (n > w->len - off)
        n = w->len - off;
    if (n > FZ_WIRE_MAX - w->len)
        return;
    reserve(w, n);
    memmove(w->p + off + 2 * n, w->p + off + n, w->len - off - n);
    memcpy(w->p + off + n, w->p + off, n);
    w->len += n;
}

void fz_wire_free(fz_wire *w)
{
    free(w->p);
    memset(w, 0, sizeof *w);
}

void fz_pattern_fill(uint32_t salt, uint64_t from, uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = fz_pattern(salt, from + i);
}

int fz_pattern_check(uint32_t salt, uint64_t from, const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != fz_pattern(salt, from + i))
            return 0;
    return 1;
}
