/*
 * tlsplug on libevent 2.1: a tlsplug_reactor over the application's
 * event_base, so tlsplug_aio objects run on the loop the application already
 * has.  Library tlsplug-event (CMake target tlsplug::event, pkg-config
 * tlsplug-event).
 *
 *     struct event_base *base = event_base_new();
 *     tlsplug_reactor r;
 *     tlsplug_event_reactor_init(&r, base);
 *     tlsplug_aio_connect(&aio, &r, "example.org", 443, &opts, on_ready, NULL);
 *     event_base_dispatch(base);
 *
 * Each watch and each timer is one struct event (event_new, released with
 * event_free at once: libevent allows freeing an event from any callback,
 * its own included) in a small wrapper allocated with malloc.
 */
#ifndef TLSPLUG_EVENT_H
#define TLSPLUG_EVENT_H

#include "tlsplug/tlsplug.h"

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

/* Fill r so that the aio objects given r run on base.  Allocates nothing and
 * keeps no state besides base: r is plain data, and r and base must outlive
 * every aio, connect and listener using r.  All tlsplug calls on those
 * objects must come from the thread running base.  Returns TLSPLUG_OK, or
 * TLSPLUG_E_INVALID_ARGUMENT if r or base is NULL. */
TLSPLUG_API int tlsplug_event_reactor_init(tlsplug_reactor *r, struct event_base *base);

/* The event_base a reactor filled by tlsplug_event_reactor_init runs on, or
 * NULL if r is not such a reactor. */
TLSPLUG_API struct event_base *tlsplug_event_reactor_base(const tlsplug_reactor *r);

#ifdef __cplusplus
}
#endif

#endif
