/*
 * tlsplug on libuv: a tlsplug_reactor over the application's uv_loop_t, so
 * tlsplug_aio objects run on the loop the application already has.
 * Library tlsplug-uv (CMake target tlsplug::uv, pkg-config tlsplug-uv).
 *
 *     uv_loop_t *loop = uv_default_loop();
 *     tlsplug_reactor r;
 *     tlsplug_uv_reactor_init(&r, loop);
 *     tlsplug_aio_connect(&aio, &r, "example.org", 443, &opts, on_ready, NULL);
 *     uv_run(loop, UV_RUN_DEFAULT);
 *
 * Each watch is a uv_poll_t and each timer a uv_timer_t (plus a uv_idle_t
 * for zero-delay timers: libuv 1.44 runs a timer restarted with 0 ms from its
 * own callback again in the same iteration, which would spin).  Handles are
 * closed with uv_close when tlsplug releases them; their memory is freed by
 * the close callbacks, so after the last aio is closed run the loop once more
 * (uv_run) before uv_loop_close.  The adapter allocates with malloc.
 */
#ifndef TLSPLUG_UV_H
#define TLSPLUG_UV_H

#include <uv.h>

#include "tlsplug/tlsplug.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fill r so that the aio objects given r run on loop.  Allocates nothing and
 * keeps no state besides loop: r is plain data (copy it freely), and r and
 * loop must outlive every aio, connect and listener using r.  All tlsplug
 * calls on those objects must come from the loop's thread.  Returns
 * TLSPLUG_OK, or TLSPLUG_E_INVALID_ARGUMENT if r or loop is NULL. */
TLSPLUG_API int tlsplug_uv_reactor_init(tlsplug_reactor *r, uv_loop_t *loop);

/* The loop a reactor filled by tlsplug_uv_reactor_init runs on, or NULL if r
 * is not such a reactor. */
TLSPLUG_API uv_loop_t *tlsplug_uv_reactor_loop(const tlsplug_reactor *r);

#ifdef __cplusplus
}
#endif

#endif
