/*
 * A scripted mock TLS backend for the aio and engine unit tests.
 *
 * It speaks a toy protocol framed as real TLS records (type, 0x03, 0x03,
 * len16) so core's record framing accepts it:
 *   handshake      client -> type 22 "HELLO", server -> type 22 "HELLO"
 *   app data       type 23 records carrying the plaintext (<= 16384 each)
 *   close_notify   type 21 {1, 0}
 *   fatal alert    type 21 {2, desc}
 * It moves ciphertext only through tlsplug__io_recv / tlsplug__io_send and
 * keeps what io_send did not take in a per-session pending buffer.
 *
 * Register with tlsplug__backend_register_test(&mock_backend) and make
 * contexts with tlsplug_ctx_new(&ctx, cfg, MOCK_IMPL, &err).
 */
#ifndef TLSPLUG_TESTS_MOCK_BACKEND_H
#define TLSPLUG_TESTS_MOCK_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

#define MOCK_IMPL ((tlsplug_impl)15)

extern const struct tlsplug_backend mock_backend;

/* Record types and the wire bytes of the toy protocol, for tests that play
 * the peer with raw bytes. */
#define MOCK_REC_ALERT 21
#define MOCK_REC_HANDSHAKE 22
#define MOCK_REC_APPDATA 23
#define MOCK_HELLO "HELLO"
#define MOCK_HELLO_LEN 5
#define MOCK_HELLO_RECORD_LEN (5 + MOCK_HELLO_LEN)

/* Frame one record into out (cap >= 5 + len); returns the bytes written. */
size_t mock_record(uint8_t *out, int type, const void *body, size_t len);

/* What the next sessions do (copied at sess_new).  Zero = well behaved. */
struct mock_script {
    /* Fail the handshake of a session on this side (CLIENT, SERVER; 0 means
     * none) with class hs_fail_class and message hs_fail_msg, once the peer's
     * HELLO arrived.  A non-zero hs_fail_alert is also sent to the peer as a
     * fatal alert record. */
    tlsplug_side hs_fail_side;
    int hs_fail_class;
    const char *hs_fail_msg;
    int hs_fail_alert;
    /* Server: read the client's HELLO and never answer. */
    int server_silent;
    /* Server: answer the client's HELLO with a fatal alert of this
     * description (and fail itself with TLSPLUG_E_HANDSHAKE). */
    int server_alert;
    /* ctx_new fails with this class (0: succeeds). */
    int ctx_new_fail_class;
};
extern struct mock_script mock_script;

/* How often each vtable entry was called. */
struct mock_calls {
    int version, caps, ctx_new, ctx_free, ctx_native, sess_new, sess_free, sess_native;
    int handshake, read, write, shutdown, pending, info, session_save, idle;
    int shutdown_blocked; /* shutdown returned WANT_WRITE (io_send was full) */
};
extern struct mock_calls mock_calls;

/* The native objects, recognisable by their magic. */
#define MOCK_CTX_MAGIC 0x4d4f434bu  /* "MOCK" */
#define MOCK_SESS_MAGIC 0x53455353u /* "SESS" */
struct mock_ctx {
    uint32_t magic;
    tlsplug_side side;
    const tlsplug_config *cfg;
};
struct mock_sess; /* opaque; its first member is a uint32_t magic */
uint32_t mock_sess_magic(const void *native_sess);
/* The SNI the session was given (NULL for none). */
const char *mock_sess_sni(const void *native_sess);

/* Reset the script and the counters. */
void mock_reset(void);
/* Native objects alive now (ctx_new - ctx_free, sess_new - sess_free). */
int mock_live_ctx(void);
int mock_live_sess(void);

#endif
