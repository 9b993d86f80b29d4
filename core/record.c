/* Record framing outside the library.  Two jobs: never give a backend bytes
 * past the record it is reading (so the bytes after the peer's close_notify
 * stay plain for detach, whatever the library's read-ahead habits), and say
 * "not TLS" the same way on every backend when the peer speaks something
 * else (an HTTP request, a banner, garbage). */
#include "core/internal.h"

/* TLS 1.2 allows 2^14 + 2048 bytes of ciphertext per record. */
#define REC_BODY_MAX (16384 + 2048)

static int header_byte_ok(const tlsplug_rec *r, size_t idx, uint8_t b)
{
    switch (idx) {
    case 0: /* change_cipher_spec, alert, handshake, application_data, heartbeat */
        return b >= 20 && b <= 24;
    case 1:
        return b == 3;
    case 2:
        return b <= 4;
    default:
        return 1;
    }
}

static void mark_bad(tlsplug_rec *r)
{
    /* Before the first complete record it is another protocol; later it is
     * a broken TLS stream. */
    r->bad = r->records == 0 ? TLSPLUG_E_NOT_TLS : TLSPLUG_E_PROTOCOL;
}

size_t tlsplug__rec_allow(tlsplug_rec *r, const uint8_t *p, size_t avail)
{
    if (r->bad)
        return 0;
    if (r->hdr_got < 5) {
        size_t want = 5u - r->hdr_got;
        size_t n = avail < want ? avail : want;
        for (size_t i = 0; i < n; i++) {
            if (!header_byte_ok(r, r->hdr_got + i, p[i])) {
                mark_bad(r);
                return 0;
            }
        }
        return n;
    }
    return avail < r->body_left ? avail : r->body_left;
}

void tlsplug__rec_advance(tlsplug_rec *r, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (r->hdr_got < 5) {
            r->hdr[r->hdr_got++] = *p++;
            n--;
            if (r->hdr_got == 5) {
                r->body_left = ((size_t)r->hdr[3] << 8) | r->hdr[4];
                if (r->body_left > REC_BODY_MAX) {
                    mark_bad(r);
                    return;
                }
                r->records++;
                if (r->body_left == 0) /* legal for TLS 1.2 application data */
                    r->hdr_got = 0;
            }
        } else {
            size_t k = n < r->body_left ? n : r->body_left;
            r->body_left -= k;
            p += k;
            n -= k;
            if (r->body_left == 0)
                r->hdr_got = 0;
        }
    }
}
