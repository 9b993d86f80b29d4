/*
 * The backend contract: one `const struct tlsplug_backend` per TLS library,
 * and the core services a backend may call.  A backend only translates and
 * steps: time, I/O, callbacks, buffers, validation and error normalisation
 * belong to core.  Anything a second backend would also need goes to core.
 */
#ifndef TLSPLUG_CORE_BACKEND_H
#define TLSPLUG_CORE_BACKEND_H

#include "tlsplug/tlsplug.h"
#include "core/config.h"
#include "core/error.h"
#include "core/alloc.h"

/* Per-connection parameters core resolved from the context, the connection
 * options and the attach options. */
typedef struct tlsplug_sess_params {
    tlsplug_side side;       /* CLIENT or SERVER, never DEFAULT/BOTH          */
    /* Client only.  sni: the name to send as SNI, NULL for none (core never
     * passes an IP address or a trailing dot).  verify_name: the name or IP
     * address literal the certificate must match, NULL when the hostname
     * check is off (or verify is NONE). */
    const char *sni;
    const char *verify_name;
    /* Client only: a saved session to offer (from session_save), or NULL. */
    const uint8_t *session;
    size_t session_len;
} tlsplug_sess_params;

struct tlsplug_backend {
    const char *name; /* "openssl" ...                                         */
    tlsplug_impl impl;
    /* Library version string (static). */
    const char *(*version)(void);
    /* TLSPLUG_CAP_* this backend has with the library it runs on. */
    unsigned (*caps)(void);

    /* Make a native context from cfg.  cfg is core's validated copy and lives
     * as long as the backend context, so pointers into it may be kept (the
     * mbedTLS arrays).  cfg->max_version is resolved (never 0).  side is
     * CLIENT, SERVER or BOTH.  Must apply *every* field: suites, groups,
     * versions, verify mode, trust, cert/key (+password), ALPN, tickets,
     * session cache, keylog, and the secure defaults (no renegotiation, no
     * compression).  On failure fill err and return its class. */
    int (*ctx_new)(const tlsplug_config *cfg, tlsplug_side side, void **bctx,
                   struct tlsplug_error *err);
    /* Wrap a caller-made native context, owning it on success.  cfg is a
     * default configuration (no files) for things tlsplug still drives per
     * connection.  NULL if the backend cannot adopt. */
    int (*ctx_adopt)(void *native, tlsplug_side side, const char *priority,
                     const tlsplug_config *cfg, void **bctx, struct tlsplug_error *err);
    void (*ctx_free)(void *bctx);
    void *(*ctx_native)(void *bctx);

    /* New session on conn (keep conn: the I/O and verify services take it).
     * Must bind I/O to tlsplug__io_recv / tlsplug__io_send. */
    int (*sess_new)(void *bctx, tlsplug_conn *conn, const tlsplug_sess_params *p, void **bsess,
                    struct tlsplug_error *err);
    void (*sess_free)(void *bsess);
    void *(*sess_native)(void *bsess);

    /* Steps.  Return TLSPLUG_OK, TLSPLUG_WANT_READ, TLSPLUG_WANT_WRITE, or an
     * error class after filling tlsplug__conn_err(conn).
     *  - handshake: OK when complete (all its output handed to io_send).
     *  - read: OK with *n > 0; WANT_READ; TLSPLUG_E_CLOSED at the peer's
     *    close_notify (also after shutdown was called); a transport EOF
     *    without close_notify may be reported as any error: core turns it
     *    into TLSPLUG_E_TRUNCATED.  Renegotiation must be refused.
     *  - write: OK with *n > 0 plaintext bytes taken, or WANT_WRITE with
     *    *n == 0 (core calls again with the same bytes).  OK only once every
     *    record made from those bytes was handed to tlsplug__io_send: core
     *    calls the backend again only when the application acts, so ciphertext
     *    kept inside the library could wait forever.
     *  - shutdown: queue close_notify; OK once handed to io_send, WANT_WRITE
     *    otherwise.  Must not wait for the peer: core then calls read until
     *    it returns TLSPLUG_E_CLOSED. */
    int (*handshake)(void *bsess);
    int (*read)(void *bsess, void *buf, size_t cap, size_t *n);
    int (*write)(void *bsess, const void *buf, size_t len, size_t *n);
    int (*shutdown)(void *bsess);
    /* Decrypted bytes buffered inside the library. */
    size_t (*pending)(void *bsess);
    /* Fill version, cipher_id, group_id (0 if the library cannot say), alpn,
     * server_name, peer_subject, resumed, peer_verified.  Core fills the
     * names from the ids and impl. */
    int (*info)(void *bsess, tlsplug_info *out);

    /* Client resumption: serialise the session to offer next time (allocated
     * with tlsplug__malloc, caller frees).  TLSPLUG_E_UNSUPPORTED or
     * TLSPLUG_E_INVALID_ARGUMENT when there is nothing to save. */
    int (*session_save)(void *bsess, uint8_t **data, size_t *len);

    /* Optional: drop buffers while idle (OpenSSL RELEASE_BUFFERS-like); NULL ok. */
    void (*idle)(void *bsess);

    /* Optional: hand tlsplug_set_allocator's functions to the library, which
     * then allocates through them too (process-wide).  Called once, before
     * tlsplug made anything.  TLSPLUG_OK, or a class when the library cannot
     * take them any more (it allocated already).  NULL: the library has no
     * such hook (or the distribution built it without one). */
    int (*set_allocator)(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                         void (*free_fn)(void *));
};

/* ---- Core services for backends ---------------------------------------- */

/* The conn's sticky error record, to fill before returning an error class. */
struct tlsplug_error *tlsplug__conn_err(tlsplug_conn *conn);
const tlsplug_config *tlsplug__conn_config(const tlsplug_conn *conn);

/* Transport: ciphertext from the peer.  Returns TLSPLUG_OK with 0 < *n <= len,
 * TLSPLUG_WANT_READ when nothing is buffered, TLSPLUG_E_CLOSED when the
 * transport reached EOF, or TLSPLUG_E_NOT_TLS when the bytes are not TLS
 * records.  Never hands out bytes beyond the end of the current TLS record,
 * so bytes after the peer's close_notify stay in core (detach needs them). */
int tlsplug__io_recv(tlsplug_conn *conn, void *buf, size_t len, size_t *n);
/* Ciphertext core holds that tlsplug__io_recv would hand out (for libraries
 * that report "again" after a post-handshake message with records left). */
size_t tlsplug__io_buffered(const tlsplug_conn *conn);
/* A backend could not allocate what (a static string, e.g. "the first
 * record") inside a library callback: the step that fails next reports
 * out-of-memory, whatever the library made of the failed callback. */
void tlsplug__io_oom(tlsplug_conn *conn, const char *what);
/* Transport: ciphertext to the peer.  TLSPLUG_OK with 0 < *n <= len, or
 * TLSPLUG_WANT_WRITE when the send buffer is full. */
int tlsplug__io_send(tlsplug_conn *conn, const void *buf, size_t len, size_t *n);

/* Verification decision point.  Call once per handshake when the peer's
 * chain has been checked by the library (verdict TLSPLUG_OK or a
 * certificate class), with the chain as DER, leaf first.  Runs the user's
 * verify callback if any.  Returns the final verdict: TLSPLUG_OK to go on,
 * or the class to fail with (core has filled the conn's error; the backend
 * makes the library abort with a suitable alert). */
int tlsplug__verify(tlsplug_conn *conn, int verdict, const uint8_t *const *der,
                    const size_t *der_len, size_t count);

/* Key log: one NSS line without newline.  No-op if no callback is set. */
void tlsplug__keylog(tlsplug_conn *conn, const char *line);
/* Helper for libraries that hand out raw secrets: writes "LABEL <client
 * random hex> <secret hex>" and passes it to tlsplug__keylog. */
void tlsplug__keylog_secret(tlsplug_conn *conn, const char *label, const uint8_t *client_random,
                            size_t random_len, const uint8_t *secret, size_t secret_len);

/* Set the error record for a fatal alert received from the peer. */
int tlsplug__peer_alert(tlsplug_conn *conn, int alert, long code);
/* 1 if name is an IPv4 or IPv6 literal (then it is matched against IP SANs,
 * and never sent as SNI). */
int tlsplug__is_ip_literal(const char *name);
/* The alert to send when refusing a peer certificate with class cls, the same
 * on every backend (version: the negotiated TLSPLUG_TLS1_x). */
int tlsplug__cert_alert(int cls, int version);
/* "handshake_failure", "bad_certificate", ... ; "unknown" otherwise. */
const char *tlsplug__alert_name(int alert);

/* The list of every built backend (registry.c, the only #ifdef place). */
const struct tlsplug_backend *tlsplug__backend_get(tlsplug_impl impl);
/* Unit tests only: make one extra backend reachable by its impl number. */
void tlsplug__backend_register_test(const struct tlsplug_backend *be);
/* Hands the allocator to every built backend that takes one; returns how
 * many took it. */
int tlsplug__backends_set_allocator(void *(*malloc_fn)(size_t),
                                    void *(*realloc_fn)(void *, size_t), void (*free_fn)(void *));

#endif
