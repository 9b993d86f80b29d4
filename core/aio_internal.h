/* The aio structure, shared by aio.c (the state machine) and net.c (connect
 * and listen helpers). */
#ifndef TLSPLUG_CORE_AIO_INTERNAL_H
#define TLSPLUG_CORE_AIO_INTERNAL_H

#include "core/internal.h"
#include "tlsplug/aio.h"

enum { AIO_DONE_READ = 1, AIO_DONE_WRITE, AIO_DONE_OP, AIO_DONE_CLOSE };
enum { AIO_OP_ATTACH = 1, AIO_OP_DETACH, AIO_OP_CONNECT };

/* A completion waiting for dispatch.  At most one per kind can wait: a new
 * read, write or operation is refused until the last one's callback ran, so
 * the callback, its argument and the read buffer are still those in rd, wr,
 * op and close_cb when it is delivered.  The error record (280 bytes) lives
 * out of line and only while queued; if that allocation fails, the class,
 * code and alert still travel inline and only the message is lost. */
struct aio_completion {
    struct tlsplug_error *err; /* owned; NULL: see cls/code/alert */
    long code;
    size_t n;
    unsigned seq; /* delivery order */
    int cls;
    short alert;
    unsigned char queued, has_err;
};

/* The deadlines sharing the aio's one timer (with the kick). */
enum { AIO_T_READ, AIO_T_WRITE, AIO_T_OP, AIO_T_IDLE, AIO_T_COUNT };

/* What a connect keeps for the attach that follows it. */
struct aio_connect_attach {
    tlsplug_attach_options o; /* server_name and initial_data point below */
    char *name;
    uint8_t *initial;
};

struct tlsplug_aio {
    tlsplug_reactor *r;
    int fd;
    tlsplug_watch *w;
    /* One timer for the kick, the three timeouts and the idle release: a
     * timer per purpose was four allocations per connection.  It is armed
     * for the earliest of deadline[] (CLOCK_MONOTONIC ns, 0: none), or at
     * once while kick_pending. */
    tlsplug_timer *t;
    uint64_t deadline[AIO_T_COUNT];
    uint64_t armed_for; /* what t is armed for: 0 none, 1 the kick */
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
    struct aio_connect_attach *ca; /* attach once connected; owned */
    struct tlsplug_error *attach_err; /* allocated at failure: tlsplug__err_lazy */
    struct tlsplug_error *io_err;
    /* The engine's sink and source (aio.c) met a full socket, an empty one,
     * end of file or an error (then in io_err): flush and fill report that
     * without another system call.  full and empty last one pump round. */
    int sink_full, sink_failed;
    int src_empty, src_eof, src_failed;
    /* The engine was stepped since flush last found its send buffer empty
     * (only a step adds output): flush runs several times per pump round,
     * and most find nothing. */
    int out_dirty;
    int detach_sent, detach_peer_closed, close_sent;
    int close_requested, close_cb_set;
    tlsplug_aio_cb close_cb;
    void *close_arg;
    /* per kind; until its callback ran an operation still counts as pending */
    struct aio_completion done[AIO_DONE_CLOSE]; /* [kind - 1] */
    unsigned done_seq;
    int dispatching;
    int repump; /* an API call from a callback wants the pump again */
    /* Buffers are given back once the connection has been quiet for a whole
     * TLSPLUG_AIO_IDLE_RELEASE_MS (deadline[AIO_T_IDLE]). */
    int kick_pending;  /* the pump runs when t fires next (at once)        */
    int idle_armed;    /* deadline[AIO_T_IDLE] is set                      */
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
/* Arms (ms) or clears (0 or TLSPLUG_TIMEOUT_NONE) one of the deadlines. */
void tlsplug__aio_deadline(tlsplug_aio *a, int which, uint32_t ms);
int tlsplug__aio_begin_attach(tlsplug_aio *a, const tlsplug_attach_options *o);
void tlsplug__aio_fail_connect(tlsplug_aio *a, const struct tlsplug_error *e);
void tlsplug__aio_finish_close(tlsplug_aio *a, int abort_conn);
const tlsplug_error *tlsplug__aio_attach_error(const tlsplug_aio *a);

#endif
