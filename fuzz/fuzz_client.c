/* Hostile server: the input is what a server sends, fed to a client engine
 * once it has produced its ClientHello.  Input: one byte of settings, then
 * the server's bytes.
 *   settings bits 0-1  client context variant (fuzz_common.h)
 *            bits 2-4  transport chunk size (0: all at once)
 *            bit  5    end of file after the last byte */
#include "fuzz_common.h"
#include "fuzz_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz in = {data, size};
    uint8_t set = fz_u8(&in);
    tlsplug_conn *c = fz_conn(fz_client_ctx(set & 3));
    int rc = tlsplug_conn_handshake(c);
    FZ_CHECK(rc == TLSPLUG_WANT_READ);
    fz_feed_peer(c, &in, fz_chunk(set >> 2), (set >> 5) & 1);
    tlsplug_conn_free(c);
    return 0;
}
