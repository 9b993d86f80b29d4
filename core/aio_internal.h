/* The aio structure, shared by aio.c (the state machine) and net.c (connect
 * and listen helpers). */
#ifndef TLSPLUG_CORE_AIO_INTERNAL_H
#define TLSPLUG_CORE_AIO_INTERNAL_H

#include "core/internal.h"
#include "tlsplug/aio.h"

enum { AIO_DONE_READ = 1, AIO_DONE_WRITE, AIO_DONE_OP, AIO_DONE_CLOSE };
enum { AIO_OP_ATTACH = 1, AIO_OP_DETACH, AIO_OP_CONNECT };

#define AIO_QUEUE_MAX 6

/* A queued callback.  Its error record (280 bytes) lives out of line and
 * only while queued: six of them in every aio were most of an idle
 * connection's own memory.  If that allocation fails, the class, code and
 * alert still travel inline and only the message is lost. */
struct aio_completion {
    int kind;
    void *cb;
    void *arg;
    int has_err;
    struct tlsplug_error *err; /* owned; NULL: see cls/code/alert */
    int cls, alert;
    long code;
    void *buf;
    size_t n;
};

struct tlsplug_aio {
    tlsplug_reactor *r;
    int fd;
    tlsplug_watch *w;
    tlsplug_timer *t_kick, *t_read, *t_write, *t_op;
    int events; /* interest currently set on w */
    int want_read, want_write;
    tlsplug_aio_state state;
    tlsplug_conn *conn;
    tlsplug_ctx *own_ctx; /* default context made for this attach */
    uint8_t *plain;       /* bytes to return before reading the socket */
    size_t plain_off, plain_len;
    struct {
        int active;
        void *buf;
        size_t cap;
        tlsplug_aio_read_cb cb;
        void *arg;
    } rd;
    struct {
        int active;
        const uint8_t *buf;
        size_t len, done;
        int shutdown; /* this write is the half-close */
        tlsplug_aio_cb cb;
        void *arg;
    } wr;
    struct {
        int kind;
        tlsplug_aio_cb cb;
        void *arg;
    } op;
    int connecting;
    int write_shut; /* half-closed: no more writes */
    int connect_attach;                /* attach once connected          */
    tlsplug_attach_options attach_opts; /* copy for connect's attach      */
    char *attach_opts_name;
    uint8_t *attach_initial;
    struct tlsplug_error *attach_err; /* allocated at failure: tlsplug__err_lazy */
    struct tlsplug_error *io_err;
    int detach_sent, detach_peer_closed, close_sent;
    int close_requested, close_cb_set;
    tlsplug_aio_cb close_cb;
    void *close_arg;
    struct aio_completion q[AIO_QUEUE_MAX];
    int q_head, q_len;
    int dispatching;
    /* completions queued but not yet delivered, per kind: until its callback
     * ran an operation still counts as pending */
    int undelivered[AIO_DONE_CLOSE + 1];
    int repump; /* an API call from a callback wants the pump again */
    /* t_kick also serves as the idle timer: buffers are given back once the
     * connection has been quiet for a whole TLSPLUG_AIO_IDLE_RELEASE_MS. */
    int kick_pending;  /* t_kick is armed as a kick (0 ms)                 */
    int idle_armed;    /* t_kick is armed as the idle timer                */
    int idle_done;     /* buffers given back, nothing happened since       */
    unsigned activity; /* pumps that made progress                         */
    unsigned idle_mark; /* activity when the idle timer was armed          */
    void *data;
};

/* How long a secure connection must stay quiet before its buffers (core's
 * and the library's) are given back: releasing them at every pause cost more
 * than a round trip's TLS work (a malloc and free of four ~17 KiB buffers per
 * side and OpenSSL's buffer set-up). */
#define TLSPLUG_AIO_IDLE_RELEASE_MS 1000

void tlsplug__aio_pump(tlsplug_aio *a);
/* Pump on the next loop iteration. */
void tlsplug__aio_kick_later(tlsplug_aio *a);
void tlsplug__aio_dispatch(tlsplug_aio *a);
int tlsplug__aio_begin_attach(tlsplug_aio *a, const tlsplug_attach_options *o);
void tlsplug__aio_fail_connect(tlsplug_aio *a, const struct tlsplug_error *e);
void tlsplug__aio_finish_close(tlsplug_aio *a, int abort_conn);
const tlsplug_error *tlsplug__aio_attach_error(const tlsplug_aio *a);

#endif
