/* The error record behind the opaque tlsplug_error. */
#ifndef TLSPLUG_CORE_ERROR_H
#define TLSPLUG_CORE_ERROR_H

#include <stdarg.h>
#include "tlsplug/tlsplug.h"

struct tlsplug_error {
    int cls;        /* tlsplug_errclass (<0)                 */
    long code;      /* the library's code, errno, or 0        */
    int alert;      /* TLS alert description, -1 if none      */
    char msg[256];
};

/* Fill e; returns cls so callers can `return tlsplug__err_set(...)`. */
int tlsplug__err_set(struct tlsplug_error *e, int cls, long code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int tlsplug__err_vset(struct tlsplug_error *e, int cls, long code, const char *fmt, va_list ap);
/* The record behind *slot, allocated on first use: most connections never
 * fail, and an embedded record is 280 bytes.  If that allocation fails a
 * per-thread scratch record stands in (its message may then be overwritten
 * by another failure on the same thread). */
struct tlsplug_error *tlsplug__err_lazy(struct tlsplug_error **slot);
/* What was written through tlsplug__err_lazy(slot), without allocating: the
 * record, or the stand-in if its allocation failed.  Read an error back with
 * this, never with a second tlsplug__err_lazy (which could allocate a fresh,
 * empty record). */
const struct tlsplug_error *tlsplug__err_peek(struct tlsplug_error *const *slot);
/* A record for a failure whose own record could not be allocated: the class,
 * code and alert, and a message saying the rest was lost. */
void tlsplug__err_lost(struct tlsplug_error *e, int cls, long code, int alert);
/* Hand a copy out through an optional tlsplug_error ** parameter. */
void tlsplug__err_out(tlsplug_error **out, const struct tlsplug_error *e);
/* A one-off error for an out parameter, without a record at hand. */
int tlsplug__err_outf(tlsplug_error **out, int cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
