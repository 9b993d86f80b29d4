#include <string.h>

#include "fuzz_feed.h"

size_t fz_chunk(unsigned setting)
{
    static const size_t sizes[8] = {0, 1, 2, 3, 5, 16, 100, 1000};
    return sizes[setting & 7];
}

static void drop_output(tlsplug_conn *c)
{
    size_t len;
    while (tlsplug_conn_send_buf(c, &len) && len)
        tlsplug_conn_send_ack(c, len);
}

/* One step: the handshake, or a read once established.  Returns its result. */
static int step(tlsplug_conn *c)
{
    int rc;
    if (!tlsplug_conn_established(c)) {
        rc = tlsplug_conn_handshake(c);
    } else {
        static uint8_t buf[20000];
        size_t n = 0;
        rc = tlsplug_conn_read(c, buf, sizeof buf, &n);
        FZ_CHECK(rc == TLSPLUG_OK ? n > 0 && n <= sizeof buf : n == 0);
    }
    fz_check_step(c, rc);
    drop_output(c);
    return rc;
}

void fz_feed_peer(tlsplug_conn *c, fz *in, size_t chunk, int eof)
{
    int rc = TLSPLUG_WANT_READ;
    for (int idle = 0; idle < 3 && in->n;) {
        size_t want = chunk && chunk < in->n ? chunk : in->n;
        size_t fed = tlsplug_conn_feed(c, in->p, want);
        in->p += fed;
        in->n -= fed;
        rc = step(c);
        while (rc == TLSPLUG_OK && tlsplug_conn_established(c))
            rc = step(c); /* drain what the engine decrypted */
        if (rc < 0)
            return;
        idle = fed ? 0 : idle + 1;
    }
    if (!eof || in->n)
        return;
    tlsplug_conn_recv_eof(c);
    for (int i = 0; i < 64 && rc >= 0; i++)
        rc = step(c);
    FZ_CHECK(rc < 0);
}
