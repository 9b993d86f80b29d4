/* Hostile client: the input is what a client sends (ClientHello and later
 * flights), fed to a server engine.  Input: one byte of settings, then the
 * client's bytes.
 *   settings bits 0-1  server context variant (fuzz_common.h)
 *            bits 2-4  transport chunk size (0: all at once)
 *            bit  5    end of file after the last byte */
#include "fuzz_common.h"
#include "fuzz_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz in = {data, size};
    uint8_t set = fz_u8(&in);
    tlsplug_conn *c = fz_conn(fz_server_ctx(set & 3));
    fz_feed_peer(c, &in, fz_chunk(set >> 2), (set >> 5) & 1);
    tlsplug_conn_free(c);
    return 0;
}
