/* The input layout of fuzz_detach, shared with make-corpus: a settings byte
 * (bits 0-1 context variant, bit 2 the aio is the server, bit 3 the peer
 * never answers a close_notify with its own, bit 4 close by abort), then
 * operations, each one byte (taken modulo FZDT_COUNT) and its arguments:
 *   PEER_PLAIN n8 bytes  the peer sends plain bytes (after its close_notify,
 *                        the first plain bytes after TLS)
 *   PEER_RAW n8 bytes    the peer sends bytes as they are, whatever the state
 *   PEER_WRITE len16     the peer sends len % 40000 bytes of data (under TLS
 *                        once its handshake is done, else plain)
 *   PEER_CLOSE           the peer sends close_notify
 *   PEER_EOF             the peer shuts its side of the socket down
 *   AIO_READ cap16       tlsplug_aio_read (cap 0 counts as 1)
 *   AIO_WRITE len16      tlsplug_aio_write of len % 40000 bytes
 *   AIO_ATTACH           tlsplug_aio_attach
 *   AIO_DETACH ms8       tlsplug_aio_detach with a timeout of 1 + ms8 % 100 ms
 *   AIO_SHUTDOWN         tlsplug_aio_shutdown
 *   AIO_CLOSE            tlsplug_aio_close (or abort, see the settings)
 *   RUN                  loop and peer until neither makes progress
 *   WAIT ms8             loop and peer for up to ms8 % 64 ms (timeouts) */
#ifndef TLSPLUG_FUZZ_DETACH_H
#define TLSPLUG_FUZZ_DETACH_H

enum fzdt_op {
    FZDT_PEER_PLAIN, FZDT_PEER_RAW, FZDT_PEER_WRITE, FZDT_PEER_CLOSE, FZDT_PEER_EOF,
    FZDT_AIO_READ, FZDT_AIO_WRITE, FZDT_AIO_ATTACH, FZDT_AIO_DETACH, FZDT_AIO_SHUTDOWN,
    FZDT_AIO_CLOSE, FZDT_RUN, FZDT_WAIT, FZDT_COUNT
};

#endif
