/* Small synchronous-looking helpers over tlsplug_aio for the TCP and peers
 * transports: completion records, a reader that collects an exact number of
 * bytes (or everything until the end), a writer that writes a buffer in
 * fixed-size writes, and a bounded wait that runs the built-in loop. */
#ifndef TLSPLUG_CONFORMANCE_AIOKIT_H
#define TLSPLUG_CONFORMANCE_AIOKIT_H

#include "runner.h"

typedef struct kit {
    tlsplug_loop *loop;
    tlsplug_reactor *R;
    int seq;
    void (*tick)(void *arg); /* called on every loop turn while waiting */
    void *tick_arg;
    int turn_ms;             /* longest wait of one loop turn */
} kit;

typedef struct op {
    int done, cls, alert, seq;
    char msg[256];
} op;

typedef struct reader {
    kit *k;
    tlsplug_aio *a;
    unsigned char *buf; /* where the bytes go (NULL: counted only) */
    size_t want, have;
    int until_end;      /* read until an error (the end of the stream) */
    unsigned char chunk[16384];
    op o;
} reader;

typedef struct writer {
    kit *k;
    tlsplug_aio *a;
    const unsigned char *buf;
    size_t len, off, cur, wsize;
    op o;
} writer;

double now_s(void);
void op_set(kit *k, op *o, const tlsplug_error *e);
void op_fail(kit *k, op *o, int cls, const char *msg);
/* A tlsplug_aio_cb whose arg is an op. */
void on_op(tlsplug_aio *a, const tlsplug_error *e, void *arg);
void out_from_op(cf_side_out *s, const op *o);
/* Runs the loop until every op given (NULL: none) is done or secs passed;
 * 0 when all are done. */
int wait_ops(kit *k, double secs, op *a, op *b, op *c, op *d);
/* Marks an op that never finished, so the judge reports a stall. */
void stalled(kit *k, op *o, const char *what);
reader *start_read(kit *k, reader *rd, tlsplug_aio *a, void *buf, size_t want, int until_end);
writer *start_write(kit *k, writer *w, tlsplug_aio *a, const void *buf, size_t len, size_t wsize);

#endif
