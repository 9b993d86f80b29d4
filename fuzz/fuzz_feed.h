/* Feeding a peer's bytes into one engine, the way a transport would. */
#ifndef TLSPLUG_FUZZ_FEED_H
#define TLSPLUG_FUZZ_FEED_H

#include "fuzz_common.h"

/* Transport chunk size for a 3-bit setting: 0 (all at once), 1, 2, 3, 5, 16,
 * 100 or 1000 bytes. */
size_t fz_chunk(unsigned setting);

/* Feeds the rest of the input to c in chunks, stepping c after each (the
 * handshake, then reads) and dropping what c sends back, until the input is
 * used up or c failed.  With eof, then signals end of file: c must then fail
 * (an engine waiting for bytes that can never come would hang its
 * connection).  Every step result is checked. */
void fz_feed_peer(tlsplug_conn *c, fz *in, size_t chunk, int eof);

#endif
