/*
 * tlsplug_aio: an async I/O state over one non-blocking TCP socket, plain or
 * with TLS attached, modelled on the LispWorks comm async-io-state SSL API.
 *
 *   PLAIN --attach--> ATTACHING --ok--> SECURE --detach--> DETACHING --> PLAIN
 *                          \--fail--> PLAIN          (close from any: CLOSED)
 *
 * Rules:
 *  - One read and one write may be pending at a time, in PLAIN and SECURE.
 *    Attach and detach need no other operation pending; otherwise they, and
 *    reads/writes during ATTACHING/DETACHING, fail with TLSPLUG_E_BUSY at once
 *    and no callback fires.
 *  - Every callback fires exactly once and never from inside the call that
 *    started it.  err is NULL on success; it is valid only during the call.
 *  - tlsplug_aio_close / tlsplug_aio_abort may be called from inside any
 *    callback.  Pending operations then complete with TLSPLUG_E_CANCELED
 *    before the close callback; the aio's memory is released after the close
 *    callback returns.
 *  - Bytes that arrived before attach are never fed to TLS unless the caller
 *    hands them over (tlsplug_attach_options.initial_data); tlsplug reads the
 *    socket only for a pending operation.  After detach, the bytes the peer
 *    sent after its close_notify are the first plain bytes read.
 *  - A SECURE connection with nothing to do but wait for the peer gives back
 *    tlsplug's empty record buffers at once (up to four of them stay as
 *    spares for the process's other connections while any connection
 *    lives), and the library's own where it can (tlsplug_conn_idle) once it
 *    has been quiet for 1 to 2 seconds; the next byte allocates them again.
 *  - Each aio holds one watch and one timer of the reactor.  The timer serves
 *    the pump's kick, the read, write and operation timeouts and the idle
 *    release above; the release never fires a callback, but it keeps
 *    tlsplug_loop_run going for those 1 to 2 seconds after the last
 *    operation of a connection that stays open.
 */
#ifndef TLSPLUG_AIO_H
#define TLSPLUG_AIO_H

/* Self-contained: tlsplug.h includes this file at its end, and the guard
 * makes either order of inclusion work. */
#include "tlsplug/tlsplug.h"
#include "tlsplug/reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Built-in loop: epoll, with a poll fallback, and a timer heap.  A build    */
/* with -DTLSPLUG_BUILTIN_LOOP=OFF leaves it out (bring your own reactor).    */

typedef struct tlsplug_loop tlsplug_loop;

#define TLSPLUG_LOOP_POLL 1 /* flags: force the poll backend */

TLSPLUG_API int tlsplug_loop_new(tlsplug_loop **out, unsigned flags);
/* Fails with TLSPLUG_E_BUSY while watches or timers are still registered. */
TLSPLUG_API int tlsplug_loop_free(tlsplug_loop *loop);
/* The reactor to hand to tlsplug_aio_*; owned by the loop. */
TLSPLUG_API tlsplug_reactor *tlsplug_loop_reactor(tlsplug_loop *loop);
/* Runs until no watch has events of interest and no timer is armed, or until
 * tlsplug_loop_stop.  Returns 0, or <0 on a system error. */
TLSPLUG_API int tlsplug_loop_run(tlsplug_loop *loop);
/* One iteration: wait at most timeout_ms (-1: until something happens) and
 * dispatch.  Returns the number of callbacks run, or <0. */
TLSPLUG_API int tlsplug_loop_run_once(tlsplug_loop *loop, int timeout_ms);
TLSPLUG_API void tlsplug_loop_stop(tlsplug_loop *loop);
/* "epoll" or "poll". */
TLSPLUG_API const char *tlsplug_loop_backend(const tlsplug_loop *loop);

/* ------------------------------------------------------------------------ */
/* Async I/O state                                                            */

typedef struct tlsplug_aio tlsplug_aio;

/* Timeouts in milliseconds: 0 is the default named with each option,
 * TLSPLUG_TIMEOUT_NONE waits forever. */
#define TLSPLUG_TIMEOUT_NONE UINT32_MAX
#define TLSPLUG_DEFAULT_HANDSHAKE_TIMEOUT 10000u
#define TLSPLUG_DEFAULT_DETACH_TIMEOUT 5000u
#define TLSPLUG_DEFAULT_CONNECT_TIMEOUT 30000u
#define TLSPLUG_DEFAULT_CLOSE_TIMEOUT 1000u

typedef enum tlsplug_aio_state {
    TLSPLUG_AIO_PLAIN = 0,
    TLSPLUG_AIO_ATTACHING = 1,
    TLSPLUG_AIO_SECURE = 2,
    TLSPLUG_AIO_DETACHING = 3,
    TLSPLUG_AIO_CLOSING = 4,
    TLSPLUG_AIO_CLOSED = 5
} tlsplug_aio_state;

typedef void (*tlsplug_aio_cb)(tlsplug_aio *aio, const tlsplug_error *err, void *arg);
/* n > 0 bytes were read into the operation's buffer; on end of stream err is
 * class TLSPLUG_E_CLOSED (clean) or TLSPLUG_E_TRUNCATED (TLS without
 * close_notify) and n == 0. */
typedef void (*tlsplug_aio_read_cb)(tlsplug_aio *aio, const tlsplug_error *err, void *buf,
                                    size_t n, void *arg);

/* Attach options (async-io-state-attach-ssl).  Plain data; zero-initialise
 * and set what you need.  Pointers need to live only during the call (the
 * context is referenced by whatever keeps it: the connection, a pending
 * connect, a listener). */
typedef struct tlsplug_attach_options {
    tlsplug_side side; /* DEFAULT: the context's side; with ctx NULL: SERVER */
    /* Context to use; NULL: a fresh default context of the default impl for
     * this side (verify on, system trust for clients), made and configured
     * for this attach and released when TLS is detached. */
    tlsplug_ctx *ctx;
    /* Only with ctx NULL: called with the new native context. */
    tlsplug_native_hook ctx_configure;
    void *ctx_configure_arg;
    /* Called with the native per-connection object before the handshake. */
    tlsplug_native_hook ssl_configure;
    void *ssl_configure_arg;
    uint32_t handshake_timeout_ms; /* 0: TLSPLUG_DEFAULT_HANDSHAKE_TIMEOUT */
    const char *server_name;       /* SNI and verified name (clients)     */
    /* Ciphertext the caller already read from the socket (for example a
     * ClientHello it peeked at): fed to TLS first.  Copied. */
    const void *initial_data;
    size_t initial_len;
} tlsplug_attach_options;

/* Wrap a connected non-blocking socket.  The aio owns fd from now on (also
 * on failure: fd is closed).  r must outlive the aio. */
TLSPLUG_API int tlsplug_aio_new(tlsplug_aio **out, tlsplug_reactor *r, int fd);

TLSPLUG_API void tlsplug_aio_set_data(tlsplug_aio *aio, void *data);
TLSPLUG_API void *tlsplug_aio_get_data(const tlsplug_aio *aio);
TLSPLUG_API int tlsplug_aio_fd(const tlsplug_aio *aio);
TLSPLUG_API tlsplug_aio_state tlsplug_aio_state_of(const tlsplug_aio *aio);
/* The TLS engine while attached (SECURE, DETACHING), else NULL. */
TLSPLUG_API tlsplug_conn *tlsplug_aio_conn(tlsplug_aio *aio);

/* buf (cap > 0) must stay valid until the callback. timeout_ms 0: none. */
TLSPLUG_API int tlsplug_aio_read(tlsplug_aio *aio, void *buf, size_t cap, uint32_t timeout_ms,
                                 tlsplug_aio_read_cb cb, void *arg);
/* Writes all len bytes (buf valid until the callback). timeout_ms 0: none. */
TLSPLUG_API int tlsplug_aio_write(tlsplug_aio *aio, const void *buf, size_t len,
                                  uint32_t timeout_ms, tlsplug_aio_cb cb, void *arg);
/* Attach TLS.  Only in PLAIN with nothing pending.  After a failure the state
 * is PLAIN again (the peer has most likely given up on the connection). */
TLSPLUG_API int tlsplug_aio_attach(tlsplug_aio *aio, const tlsplug_attach_options *opts,
                                   tlsplug_aio_cb cb, void *arg);
/* Detach TLS: send close_notify, wait for the peer's (timeout_ms 0:
 * TLSPLUG_DEFAULT_DETACH_TIMEOUT), then plain TCP again.  Data the peer sent
 * under TLS before its close_notify and the plain bytes after it are returned
 * by the next reads, in order.  On PLAIN it completes with success. */
TLSPLUG_API int tlsplug_aio_detach(tlsplug_aio *aio, uint32_t timeout_ms, tlsplug_aio_cb cb,
                                   void *arg);
/* Half-close: when SECURE, queue close_notify and complete once it is sent;
 * when PLAIN, shut the socket down for writing.  Reads go on until the peer
 * closes too.  Needs no write pending (else TLSPLUG_E_BUSY); later writes fail
 * with TLSPLUG_E_INVALID_ARGUMENT.  timeout_ms 0: none, as for writes. */
TLSPLUG_API int tlsplug_aio_shutdown(tlsplug_aio *aio, uint32_t timeout_ms, tlsplug_aio_cb cb,
                                     void *arg);
/* Close: when SECURE, send close_notify (waiting at most
 * TLSPLUG_DEFAULT_CLOSE_TIMEOUT to flush it), then close the socket.  cb may
 * be NULL.  Calling it twice is harmless (the second call does nothing). */
TLSPLUG_API void tlsplug_aio_close(tlsplug_aio *aio, tlsplug_aio_cb cb, void *arg);
/* Close at once without close_notify, resetting the TCP connection. */
TLSPLUG_API void tlsplug_aio_abort(tlsplug_aio *aio, tlsplug_aio_cb cb, void *arg);

/* Connect to host:port (numeric or resolvable name; resolution is blocking),
 * optionally attaching TLS at once (attach non-NULL; server_name defaults to
 * host).  cb gets the aio on success; on failure err is set and the aio is
 * already closed (do not use it after the callback). */
typedef struct tlsplug_connect_options {
    uint32_t connect_timeout_ms;          /* 0: TLSPLUG_DEFAULT_CONNECT_TIMEOUT */
    const tlsplug_attach_options *attach; /* NULL: plain TCP                     */
} tlsplug_connect_options;
TLSPLUG_API int tlsplug_aio_connect(tlsplug_aio **out, tlsplug_reactor *r, const char *host,
                                    int port, const tlsplug_connect_options *opts,
                                    tlsplug_aio_cb cb, void *arg);

/* Listen on host:port (port 0: ephemeral) and accept connections; with attach
 * non-NULL, TLS is attached on each before on_conn sees it, and a failed
 * attach goes to on_error (the connection is then closed). */
typedef struct tlsplug_listener tlsplug_listener;
typedef void (*tlsplug_accept_cb)(tlsplug_listener *l, tlsplug_aio *aio, void *arg);
typedef void (*tlsplug_accept_error_cb)(tlsplug_listener *l, const tlsplug_error *err, void *arg);
typedef struct tlsplug_listen_options {
    int backlog;                          /* 0: 128                    */
    const tlsplug_attach_options *attach; /* NULL: plain; copied       */
} tlsplug_listen_options;
TLSPLUG_API int tlsplug_listen(tlsplug_listener **out, tlsplug_reactor *r, const char *host,
                               int port, const tlsplug_listen_options *opts,
                               tlsplug_accept_cb on_conn, tlsplug_accept_error_cb on_error,
                               void *arg);
TLSPLUG_API int tlsplug_listener_port(const tlsplug_listener *l);
/* Stops accepting and frees the listener (connections it made live on;
 * attaches in progress are aborted). */
TLSPLUG_API void tlsplug_listener_close(tlsplug_listener *l);

#ifdef __cplusplus
}
#endif

#endif
