/* Bytes in flight between two parties, owned by the harness so a target can
 * cut, flip, repeat or drop them; and the data pattern that lets a reader
 * check every byte it gets without keeping a copy of what was written. */
#ifndef TLSPLUG_FUZZ_WIRE_H
#define TLSPLUG_FUZZ_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "tlsplug/tlsplug.h"

/* A wire never holds more than this: ops that would grow it further are
 * dropped, which bounds memory and time per input. */
#define FZ_WIRE_MAX (1u << 20)

typedef struct fz_wire {
    uint8_t *p;
    size_t len, cap;
} fz_wire;

/* Appends n bytes; returns how many fitted under FZ_WIRE_MAX. */
size_t fz_wire_put(fz_wire *w, const void *p, size_t n);
/* Moves everything c has to send onto the wire. */
void fz_wire_from_conn(fz_wire *w, tlsplug_conn *c);
/* Moves up to max bytes (0: all) from the front of the wire into c's receive
 * buffer; returns how many. */
size_t fz_wire_to_conn(fz_wire *w, tlsplug_conn *c, size_t max);
void fz_wire_drop(fz_wire *w, size_t off, size_t n);
/* Repeats n bytes at off right after them. */
void fz_wire_dup(fz_wire *w, size_t off, size_t n);
void fz_wire_free(fz_wire *w);

/* Byte i of the data stream with the given salt. */
static inline uint8_t fz_pattern(uint32_t salt, uint64_t i)
{
    uint32_t x = (uint32_t)i * 2654435761u ^ (uint32_t)(i >> 32) ^ salt;
    x ^= x >> 15;
    x *= 2246822519u;
    return (uint8_t)(x >> 24);
}
void fz_pattern_fill(uint32_t salt, uint64_t from, uint8_t *buf, size_t n);
/* 1 if buf holds bytes from..from+n of the stream. */
int fz_pattern_check(uint32_t salt, uint64_t from, const uint8_t *buf, size_t n);

#endif
