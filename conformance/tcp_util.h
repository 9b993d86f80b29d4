/* Wire-level helpers for the TCP transport: loopback connection pairs, a
 * relay that passes one byte at a time, a peer that drips its handshake
 * flight, and a tlsplug engine driven by hand over a socket. */
#ifndef TLSPLUG_CONFORMANCE_TCP_UTIL_H
#define TLSPLUG_CONFORMANCE_TCP_UTIL_H

#include <stddef.h>

#include "tlsplug/tlsplug.h"

/* A connected loopback TCP pair, both ends non-blocking.  0 or -1 (errno). */
int cf_tcp_pair(int fds[2]);

/* Moves bytes between a and b, at most one byte each way per step, so each
 * end sees would-block between bytes. */
typedef struct relay {
    int a, b;
    int have_ab, have_ba, eof_ab, eof_ba;
    unsigned char ab, ba;
    size_t moved;
} relay;
void relay_init(relay *rl, int a, int b);
void relay_step(relay *rl);
void relay_close(relay *rl); /* closes a and b */

/* A peer that answers with a valid flight from an engine of its own, one
 * byte every `every` seconds. */
typedef struct dripper {
    tlsplug_conn *conn;
    int fd;
    unsigned char out[32768];
    size_t out_len, out_off, sent;
    double every, next;
} dripper;
int dripper_init(dripper *d, tlsplug_ctx *ctx, tlsplug_side side, const char *name, int fd,
                 double every);
void dripper_step(dripper *d, double now);
void dripper_free(dripper *d);

/* One step of an engine over a non-blocking socket: what arrived goes in,
 * the handshake is stepped, what it made goes out.  Returns the handshake's
 * result (TLSPLUG_OK once established). */
int cf_hand_step(tlsplug_conn *conn, int fd);

#endif
