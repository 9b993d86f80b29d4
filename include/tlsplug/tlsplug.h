/*
 * tlsplug — attach TLS to a non-blocking TCP connection and detach it again,
 * on any of several TLS libraries, with one behaviour.
 *
 * Layers (data flows down, callbacks flow up):
 *   tlsplug_aio_*     async I/O state over a reactor: plain TCP or TLS attached
 *   tlsplug_conn_*    sans-I/O TLS engine over tlsplug-owned ciphertext buffers
 *   tlsplug_ctx_*     abstract context: one portable configuration, one backend
 *   tlsplug_config_*  the portable configuration a context is made from
 *
 * Conventions that hold for the whole API:
 *  - Functions returning int return TLSPLUG_OK (0), a positive status
 *    (TLSPLUG_WANT_READ / TLSPLUG_WANT_WRITE) where documented, or a negative
 *    tlsplug_errclass. A call that returns an error never fires its callback.
 *  - A completion callback fires exactly once, never from inside the call that
 *    started it.  Closing an aio from inside any of its callbacks is safe.
 *  - Strings and buffers passed in are copied unless the doc says otherwise.
 *  - Returned const pointers are owned by the object they came from.
 *
 * Global state: none beyond the backend registry (the default implementation:
 * tlsplug_set_default_impl, or TLSPLUG_BACKEND read once) and the allocator
 * hook (tlsplug_set_allocator).  Set both once at start up, before other
 * threads use tlsplug; everything else lives in objects the caller owns, so
 * independent users of tlsplug can share a process.
 *
 * Thread safety: objects are not locked: one object is used by one thread at
 * a time.  Contexts may be shared by connections on several threads once
 * made, because tlsplug never mutates a context after tlsplug_ctx_new returns
 * (its client session store has its own lock, and the backend libraries lock
 * their own session caches).  An aio, listener or pending connect is used
 * only from the thread that runs its reactor; several loops on several
 * threads are fine.
 */
#ifndef TLSPLUG_H
#define TLSPLUG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(TLSPLUG_STATIC_ONLY)
#define TLSPLUG_API __attribute__((visibility("default")))
#else
#define TLSPLUG_API
#endif

#define TLSPLUG_VERSION_MAJOR 0
#define TLSPLUG_VERSION_MINOR 1
#define TLSPLUG_VERSION_PATCH 0
#define TLSPLUG_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Results and errors                                                        */

/* Step results that are not errors. */
#define TLSPLUG_OK 0
#define TLSPLUG_WANT_READ 1  /* the engine needs more ciphertext from the peer */
#define TLSPLUG_WANT_WRITE 2 /* the engine's send buffer is full: drain it     */

/* The one set of result classes shared by every backend.  The same failure
 * gives the same class whatever the TLS library.  Values are stable. */
typedef enum tlsplug_errclass {
    TLSPLUG_E_WOULD_BLOCK = -1,         /* "would-block"                       */
    TLSPLUG_E_CLOSED = -2,              /* "closed": clean close_notify / EOF  */
    TLSPLUG_E_TRUNCATED = -3,           /* "truncated": EOF w/o close_notify   */
    TLSPLUG_E_TIMEOUT = -4,             /* "timeout"                           */
    TLSPLUG_E_CERT_EXPIRED = -5,        /* "certificate-expired"               */
    TLSPLUG_E_CERT_NOT_YET_VALID = -6,  /* "certificate-not-yet-valid"         */
    TLSPLUG_E_CERT_HOSTNAME = -7,       /* "certificate-hostname-mismatch"     */
    TLSPLUG_E_CERT_UNTRUSTED = -8,      /* "certificate-untrusted"             */
    TLSPLUG_E_CERT_REVOKED = -9,        /* "certificate-revoked"               */
    TLSPLUG_E_CERT_BAD_SIGNATURE = -10, /* "certificate-bad-signature"         */
    TLSPLUG_E_CERT_REJECTED = -11,      /* "certificate-rejected": verify cb   */
    TLSPLUG_E_CERT_REQUIRED = -12,      /* "certificate-required": none sent   */
    TLSPLUG_E_CERT_INVALID = -13,       /* "certificate-invalid": other defect */
    TLSPLUG_E_PROTOCOL_VERSION = -14,   /* "protocol-version"                  */
    TLSPLUG_E_NO_SHARED_CIPHER = -15,   /* "no-shared-cipher"                  */
    TLSPLUG_E_NO_ALPN = -16,            /* "no-application-protocol"           */
    TLSPLUG_E_PEER_ALERT = -17,         /* "peer-alert": see tlsplug_error_alert */
    TLSPLUG_E_HANDSHAKE = -18,          /* "handshake-failure"                 */
    TLSPLUG_E_NOT_TLS = -19,            /* "not-tls": peer does not speak TLS  */
    TLSPLUG_E_PROTOCOL = -20,           /* "protocol-error": malformed records */
    TLSPLUG_E_BAD_CONFIG = -21,         /* "bad-configuration"                 */
    TLSPLUG_E_UNSUPPORTED = -22,        /* "unsupported-feature"               */
    TLSPLUG_E_BUSY = -23,               /* "busy": another operation pending   */
    TLSPLUG_E_INVALID_ARGUMENT = -24,   /* "invalid-argument"                  */
    TLSPLUG_E_NO_MEMORY = -25,          /* "out-of-memory"                     */
    TLSPLUG_E_IO = -26,                 /* "io-error": transport failed        */
    TLSPLUG_E_CANCELED = -27,           /* "canceled": aio closed before done  */
    TLSPLUG_E_INTERNAL = -28            /* "internal-error": a library bug     */
} tlsplug_errclass;

#define TLSPLUG_ERRCLASS_MIN TLSPLUG_E_INTERNAL

/* Stable kebab-case name of a result (the strings above; "ok",
 * "want-read", "want-write"; "unknown" for anything else).  Static storage. */
TLSPLUG_API const char *tlsplug_error_name(int result);

/* An error: class, the backend's own code, a human message, and the TLS
 * alert involved (if any).  Opaque. */
typedef struct tlsplug_error tlsplug_error;

TLSPLUG_API int tlsplug_error_class(const tlsplug_error *err); /* <0 */
/* The library's own code (OpenSSL ERR/X509_V, mbedTLS, wolfSSL, GnuTLS
 * error, or errno for io-error), 0 if none. */
TLSPLUG_API long tlsplug_error_code(const tlsplug_error *err);
/* TLS alert description received or sent, or -1. */
TLSPLUG_API int tlsplug_error_alert(const tlsplug_error *err);
/* Never NULL; owned by err. */
TLSPLUG_API const char *tlsplug_error_message(const tlsplug_error *err);
/* Copy an error (for example to keep one past a callback).  NULL on OOM.
 * Free with tlsplug_error_free. */
TLSPLUG_API tlsplug_error *tlsplug_error_copy(const tlsplug_error *err);
/* Free an error handed out through a tlsplug_error ** parameter or made by
 * tlsplug_error_copy.  NULL is ignored. */
TLSPLUG_API void tlsplug_error_free(tlsplug_error *err);

/* ------------------------------------------------------------------------ */
/* Allocation                                                                 */

/* Replace the allocator used by tlsplug itself (and, where a library allows
 * it, handed to the backend).  Set before any other call; all three must be
 * given (realloc(NULL,n) must behave like malloc(n)).  Returns
 * TLSPLUG_E_INVALID_ARGUMENT if any is NULL, TLSPLUG_E_BUSY if tlsplug has
 * allocated already or an allocator was set before (it is set once). */
TLSPLUG_API int tlsplug_set_allocator(void *(*malloc_fn)(size_t),
                                      void *(*realloc_fn)(void *, size_t),
                                      void (*free_fn)(void *));

/* ------------------------------------------------------------------------ */
/* Implementations (backends) and capabilities                               */

typedef enum tlsplug_impl {
    TLSPLUG_IMPL_NONE = 0,
    TLSPLUG_IMPL_OPENSSL = 1,
    TLSPLUG_IMPL_MBEDTLS = 2,
    TLSPLUG_IMPL_WOLFSSL = 3,
    TLSPLUG_IMPL_GNUTLS = 4
} tlsplug_impl;

#define TLSPLUG_IMPL_COUNT 5

/* Capability bits: what a backend (as built, with this library build) can do.
 * A configuration asking for something its backend lacks fails at
 * tlsplug_ctx_new with TLSPLUG_E_UNSUPPORTED. */
#define TLSPLUG_CAP_TLS12 (1u << 0)
#define TLSPLUG_CAP_TLS13 (1u << 1)
#define TLSPLUG_CAP_SNI (1u << 2)
#define TLSPLUG_CAP_ALPN (1u << 3)
#define TLSPLUG_CAP_SESSION_TICKETS (1u << 4)
#define TLSPLUG_CAP_SESSION_CACHE (1u << 5)
#define TLSPLUG_CAP_KEYLOG (1u << 6)
#define TLSPLUG_CAP_VERIFY_CALLBACK (1u << 7)
#define TLSPLUG_CAP_CLIENT_CERT (1u << 8)
#define TLSPLUG_CAP_KEY_PASSWORD (1u << 9)
#define TLSPLUG_CAP_CHACHA20 (1u << 10)
#define TLSPLUG_CAP_X25519 (1u << 11)
#define TLSPLUG_CAP_ADOPT_CTX (1u << 12)
#define TLSPLUG_CAP_SNI_CERTS (1u << 13) /* server picks a certificate by SNI */

/* Name of one capability bit ("tls1.3", "alpn", ...), NULL if unknown. */
TLSPLUG_API const char *tlsplug_cap_name(unsigned cap_bit);

/* "openssl", "mbedtls", "wolfssl", "gnutls"; NULL for an unknown value. */
TLSPLUG_API const char *tlsplug_impl_name(tlsplug_impl impl);
/* TLSPLUG_IMPL_NONE if the name is unknown. */
TLSPLUG_API tlsplug_impl tlsplug_impl_from_name(const char *name);
/* 1 if this build has the backend. */
TLSPLUG_API int tlsplug_impl_available(tlsplug_impl impl);
/* Fills out[] with the built backends in build order; returns their count. */
TLSPLUG_API size_t tlsplug_impl_list(tlsplug_impl *out, size_t max);
/* The library's version string, e.g. "OpenSSL 3.0.11 19 Sep 2023".  NULL if
 * the backend is not built.  Static storage. */
TLSPLUG_API const char *tlsplug_impl_version(tlsplug_impl impl);
/* Capability bits of a built backend, 0 if not built. */
TLSPLUG_API unsigned tlsplug_impl_caps(tlsplug_impl impl);

/* The implementation contexts use when none is named.  Starts as the
 * build's TLSPLUG_DEFAULT_BACKEND, overridden by the TLSPLUG_BACKEND
 * environment variable (read once, on first use). */
TLSPLUG_API tlsplug_impl tlsplug_default_impl(void);
/* Returns TLSPLUG_E_UNSUPPORTED if impl is not built. */
TLSPLUG_API int tlsplug_set_default_impl(tlsplug_impl impl);

/* ------------------------------------------------------------------------ */
/* Portable configuration                                                    */

typedef enum tlsplug_side {
    TLSPLUG_SIDE_DEFAULT = 0, /* in conn/attach options: the context's side */
    TLSPLUG_SIDE_CLIENT = 1,
    TLSPLUG_SIDE_SERVER = 2,
    TLSPLUG_SIDE_BOTH = 3 /* contexts only: each connection picks a side */
} tlsplug_side;

typedef enum tlsplug_verify {
    TLSPLUG_VERIFY_DEFAULT = 0,  /* client: REQUIRED; server: NONE          */
    TLSPLUG_VERIFY_NONE = 1,     /* no peer verification (server: no request) */
    TLSPLUG_VERIFY_OPTIONAL = 2, /* a peer certificate may be absent; one that
                                  * is presented must verify                */
    TLSPLUG_VERIFY_REQUIRED = 3  /* the peer must present a valid certificate */
} tlsplug_verify;

#define TLSPLUG_TLS1_2 0x0303
#define TLSPLUG_TLS1_3 0x0304

/* The portable configuration.  Opaque; owned by the caller; may be freed as
 * soon as contexts have been made from it (a context keeps its own copy). */
typedef struct tlsplug_config tlsplug_config;

/* Defaults, identical on every backend: verify REQUIRED + hostname check on
 * clients, TLS 1.2..1.3 (1.2 only where the backend lacks 1.3), forward-secret
 * AEAD suites only in tlsplug's order, groups x25519:secp256r1:secp384r1,
 * renegotiation refused, compression off, tickets and cache off. */
TLSPLUG_API tlsplug_config *tlsplug_config_new(tlsplug_side side); /* NULL: OOM */
TLSPLUG_API void tlsplug_config_free(tlsplug_config *cfg);
/* The message of the last failed setter, or NULL if the last call on cfg
 * succeeded.  Owned by cfg, valid until the next call on it. */
TLSPLUG_API const tlsplug_error *tlsplug_config_error(const tlsplug_config *cfg);

/* Certificate chain (leaf first) and private key, PEM.  key may be NULL if
 * the key is in the chain file/buffer.  password decrypts an encrypted key
 * (NULL: unencrypted). Files are read now: a missing or unreadable file fails
 * here with TLSPLUG_E_BAD_CONFIG naming the file. */
TLSPLUG_API int tlsplug_config_set_cert_file(tlsplug_config *cfg, const char *chain_path,
                                             const char *key_path, const char *password);
TLSPLUG_API int tlsplug_config_set_cert_mem(tlsplug_config *cfg, const void *chain_pem,
                                            size_t chain_len, const void *key_pem,
                                            size_t key_len, const char *password);
/* Server: another certificate chain and key, used when the client's SNI
 * matches name ("example.com", or "*.example.com" for one label); the chain
 * set with tlsplug_config_set_cert_* stays the default.  Up to 16 names. */
TLSPLUG_API int tlsplug_config_add_sni_cert_file(tlsplug_config *cfg, const char *name,
                                                 const char *chain_path, const char *key_path,
                                                 const char *password);
TLSPLUG_API int tlsplug_config_add_sni_cert_mem(tlsplug_config *cfg, const char *name,
                                                const void *chain_pem, size_t chain_len,
                                                const void *key_pem, size_t key_len,
                                                const char *password);
/* Trust anchors; several calls add up.  A directory adds every PEM file in
 * it.  The system store is the distribution's CA bundle. */
TLSPLUG_API int tlsplug_config_add_trust_file(tlsplug_config *cfg, const char *path);
TLSPLUG_API int tlsplug_config_add_trust_dir(tlsplug_config *cfg, const char *path);
TLSPLUG_API int tlsplug_config_add_trust_mem(tlsplug_config *cfg, const void *pem, size_t len);
TLSPLUG_API int tlsplug_config_add_trust_system(tlsplug_config *cfg);

TLSPLUG_API int tlsplug_config_set_verify(tlsplug_config *cfg, tlsplug_verify mode);
/* Client: check the server certificate against the server name (SNI name,
 * or the name given with tlsplug_config_set_server_name). Default on. */
TLSPLUG_API int tlsplug_config_set_verify_hostname(tlsplug_config *cfg, int on);
/* Client: default SNI name and name to verify; a connection may override. */
TLSPLUG_API int tlsplug_config_set_server_name(tlsplug_config *cfg, const char *name);
/* TLSPLUG_TLS1_2 or TLSPLUG_TLS1_3; 0 for min means 1.2, 0 for max means the
 * highest the backend has. */
TLSPLUG_API int tlsplug_config_set_versions(tlsplug_config *cfg, int min_version,
                                            int max_version);
/* IANA names separated by ':' or ','.  TLS 1.2 and 1.3 lists are independent.
 * Only forward-secret AEAD suites are known; any other name fails with
 * TLSPLUG_E_BAD_CONFIG naming it. */
TLSPLUG_API int tlsplug_config_set_ciphers_tls12(tlsplug_config *cfg, const char *list);
TLSPLUG_API int tlsplug_config_set_ciphers_tls13(tlsplug_config *cfg, const char *list);
/* IANA group names: x25519, secp256r1, secp384r1, secp521r1, x448. */
TLSPLUG_API int tlsplug_config_set_groups(tlsplug_config *cfg, const char *list);
/* ALPN protocols in preference order, any number; each 1..255 bytes. */
TLSPLUG_API int tlsplug_config_set_alpn(tlsplug_config *cfg, const char *const *protos,
                                        size_t count);
/* The same, from "h2,http/1.1". */
TLSPLUG_API int tlsplug_config_set_alpn_list(tlsplug_config *cfg, const char *list);

typedef struct tlsplug_conn tlsplug_conn;

/* Verify callback: sees the peer chain (DER, leaf first) and the backend's
 * verdict (TLSPLUG_OK or a certificate error class).  Returns the final
 * verdict: TLSPLUG_OK to accept, or an error class (any negative value; a
 * non-certificate one becomes TLSPLUG_E_CERT_REJECTED).  Pointers are valid
 * only during the call. */
typedef int (*tlsplug_verify_cb)(tlsplug_conn *conn, int verdict, const uint8_t *const *der,
                                 const size_t *der_len, size_t count, void *arg);
TLSPLUG_API int tlsplug_config_set_verify_callback(tlsplug_config *cfg, tlsplug_verify_cb cb,
                                                   void *arg);

/* Key log: one NSS key log line (no newline) per secret.  Without a
 * callback, a context made while the SSLKEYLOGFILE environment variable names
 * a file appends the lines there (the file Wireshark reads), on backends with
 * TLSPLUG_CAP_KEYLOG (the Debian wolfSSL build has none). */
typedef void (*tlsplug_keylog_cb)(const tlsplug_conn *conn, const char *line, void *arg);
TLSPLUG_API int tlsplug_config_set_keylog_callback(tlsplug_config *cfg, tlsplug_keylog_cb cb,
                                                   void *arg);

/* Session resumption.  Server: issue tickets and/or keep a session cache.
 * Client: remember the last session per server name in the context and offer
 * it again (tickets or session IDs, whichever the server supports). */
TLSPLUG_API int tlsplug_config_set_resumption(tlsplug_config *cfg, int tickets, int cache);

/* Hook on a native object: the context (after tlsplug configured it) or the
 * per-connection object (before the handshake).  impl tells which library,
 * native is SSL_CTX*, mbedtls_ssl_config*, WOLFSSL_CTX*,
 * gnutls_certificate_credentials_t  (context) or SSL*, mbedtls_ssl_context*,
 * WOLFSSL*, gnutls_session_t (connection).  Return 0 to go on; anything else
 * fails the creation with TLSPLUG_E_BAD_CONFIG. */
typedef int (*tlsplug_native_hook)(tlsplug_impl impl, void *native, void *arg);
TLSPLUG_API int tlsplug_config_set_ctx_configure(tlsplug_config *cfg, tlsplug_native_hook hook,
                                                 void *arg);
TLSPLUG_API int tlsplug_config_set_ssl_configure(tlsplug_config *cfg, tlsplug_native_hook hook,
                                                 void *arg);

/* ------------------------------------------------------------------------ */
/* Abstract contexts and the type query                                      */

typedef struct tlsplug_ctx tlsplug_ctx;

/* Make a context from cfg on impl (TLSPLUG_IMPL_NONE: the default impl).
 * On failure returns the class and, if err is non-NULL, *err gets the detail
 * (free with tlsplug_error_free). */
TLSPLUG_API int tlsplug_ctx_new(tlsplug_ctx **out, const tlsplug_config *cfg, tlsplug_impl impl,
                                tlsplug_error **err);
/* Adopt a native context made by the caller (SSL_CTX*, mbedtls_ssl_config*,
 * WOLFSSL_CTX*, gnutls_certificate_credentials_t).  On success the tlsplug
 * context owns it and frees it with the library's own free function; its
 * settings are used as they are (tlsplug changes only what it needs for I/O).
 * On failure the caller keeps ownership. For GnuTLS, priority may name the
 * priority string (NULL: tlsplug's default); other backends ignore it. */
TLSPLUG_API int tlsplug_ctx_adopt(tlsplug_ctx **out, tlsplug_impl impl, void *native,
                                  tlsplug_side side, const char *priority, tlsplug_error **err);
/* Drops the caller's reference; the context lives on while connections made
 * from it exist. NULL is ignored. */
TLSPLUG_API void tlsplug_ctx_free(tlsplug_ctx *ctx);
TLSPLUG_API tlsplug_impl tlsplug_ctx_impl(const tlsplug_ctx *ctx);
TLSPLUG_API tlsplug_side tlsplug_ctx_side(const tlsplug_ctx *ctx);
/* The native context, only if impl names ctx's implementation; else NULL.
 * Owned by ctx. */
TLSPLUG_API void *tlsplug_ctx_native(tlsplug_ctx *ctx, tlsplug_impl impl);

/* ------------------------------------------------------------------------ */
/* The sans-I/O engine                                                        */

typedef struct tlsplug_conn_options {
    tlsplug_side side;       /* DEFAULT: the context's (must not be BOTH)   */
    const char *server_name; /* client SNI + name verified; NULL: context's */
    /* Called with the native per-connection object before the handshake, after
     * the context's ssl-configure hook. */
    tlsplug_native_hook ssl_configure;
    void *ssl_configure_arg;
} tlsplug_conn_options;

/* A TLS session driven by the caller.  The engine never touches a socket:
 * the caller moves ciphertext with the recv/send buffer calls and steps the
 * engine.  After every step, send whatever tlsplug_conn_send_buf holds.
 * Errors are sticky: once a step failed every later step returns the same
 * class.  opts may be NULL. */
TLSPLUG_API int tlsplug_conn_new(tlsplug_conn **out, tlsplug_ctx *ctx,
                                 const tlsplug_conn_options *opts, tlsplug_error **err);
TLSPLUG_API void tlsplug_conn_free(tlsplug_conn *conn);

TLSPLUG_API void tlsplug_conn_set_data(tlsplug_conn *conn, void *data);
TLSPLUG_API void *tlsplug_conn_get_data(const tlsplug_conn *conn);

/* Ciphertext received from the peer: write up to *avail bytes at the returned
 * pointer, then acknowledge how many.  *avail is 0 (and the pointer NULL)
 * when the receive buffer is full: step the engine first. */
TLSPLUG_API void *tlsplug_conn_recv_buf(tlsplug_conn *conn, size_t *avail);
TLSPLUG_API void tlsplug_conn_recv_ack(tlsplug_conn *conn, size_t n);
/* Copying convenience: returns how many bytes were taken. */
TLSPLUG_API size_t tlsplug_conn_feed(tlsplug_conn *conn, const void *data, size_t len);
/* Zero-copy receive, for ciphertext that already sits in the caller's memory
 * (an in-memory transport, the other engine's send buffer): the next step
 * (handshake, read, write or shutdown) reads data[0..len) straight into the
 * library, after whatever the receive buffer still holds, instead of the
 * caller copying it into the receive buffer first.  The loan ends when that
 * step returns, or at tlsplug_conn_recv_buf/feed; the caller owns data
 * throughout and must keep it unchanged until then.  Afterwards
 * tlsplug_conn_recv_taken says how many of the bytes the step consumed (it
 * never reads past the record it is in, so after the peer's close_notify the
 * rest are plain bytes); the others are still the caller's, to lend again or
 * feed.  A NULL data, or a connection whose transport has ended, lends
 * nothing. */
TLSPLUG_API void tlsplug_conn_recv_lend(tlsplug_conn *conn, const void *data, size_t len);
TLSPLUG_API size_t tlsplug_conn_recv_taken(const tlsplug_conn *conn);
/* The transport reached end of file. */
TLSPLUG_API void tlsplug_conn_recv_eof(tlsplug_conn *conn);

/* Ciphertext to send: *len bytes at the returned pointer (NULL, 0: none). */
TLSPLUG_API const void *tlsplug_conn_send_buf(tlsplug_conn *conn, size_t *len);
TLSPLUG_API void tlsplug_conn_send_ack(tlsplug_conn *conn, size_t n);
/* Copying convenience: returns how many bytes were copied out. */
TLSPLUG_API size_t tlsplug_conn_drain(tlsplug_conn *conn, void *out, size_t cap);

/* TLSPLUG_OK once the handshake is done, TLSPLUG_WANT_READ/WANT_WRITE, or an
 * error class. */
TLSPLUG_API int tlsplug_conn_handshake(tlsplug_conn *conn);
/* Decrypted bytes into buf.  TLSPLUG_OK with *n > 0; TLSPLUG_WANT_READ;
 * TLSPLUG_E_CLOSED once the peer's close_notify was read; TLSPLUG_E_TRUNCATED
 * when the transport ended without it; or another error class. */
TLSPLUG_API int tlsplug_conn_read(tlsplug_conn *conn, void *buf, size_t cap, size_t *n);
/* Encrypts up to len bytes: TLSPLUG_OK with *n bytes taken (the rest to be
 * written by a later call), or TLSPLUG_WANT_WRITE with *n == 0: drain the send
 * buffer and call again with the same bytes. */
TLSPLUG_API int tlsplug_conn_write(tlsplug_conn *conn, const void *buf, size_t len, size_t *n);
/* Queues close_notify: TLSPLUG_OK when it is in the send buffer, or
 * TLSPLUG_WANT_WRITE.  Then tlsplug_conn_read returns the peer's remaining
 * data and finally TLSPLUG_E_CLOSED at the peer's close_notify. */
TLSPLUG_API int tlsplug_conn_shutdown(tlsplug_conn *conn);
/* Decrypted bytes the engine holds that tlsplug_conn_read would return now. */
TLSPLUG_API size_t tlsplug_conn_pending(const tlsplug_conn *conn);
/* Gives back memory the connection does not need while it waits for the
 * peer: the engine's receive and send buffers when they are empty (about
 * 18 KiB each) and, once both are, the library's own record buffers where it
 * can release them (OpenSSL SSL_free_buffers).  Call it when a read returned
 * TLSPLUG_WANT_READ and the send buffer is drained; calling it at any other
 * time is harmless (what is in use stays).  The next call that needs a
 * buffer allocates it again.  tlsplug_aio does this by itself: its own
 * buffers at every pause, the library's once a connection has been quiet
 * for 1 to 2 seconds (at every pause that would cost more than a small
 * message's TLS work). */
TLSPLUG_API void tlsplug_conn_idle(tlsplug_conn *conn);
/* After tlsplug_conn_read returned TLSPLUG_E_CLOSED: bytes the peer sent
 * after its close_notify, not part of TLS (the first plain bytes).  Owned by
 * conn, valid until the next call on it; consume them with
 * tlsplug_conn_unread_ack. */
TLSPLUG_API const void *tlsplug_conn_unread(const tlsplug_conn *conn, size_t *len);
TLSPLUG_API void tlsplug_conn_unread_ack(tlsplug_conn *conn, size_t n);
/* The sticky error (class TLSPLUG_E_CLOSED once the peer's close_notify was
 * read), or NULL.  Owned by conn. */
TLSPLUG_API const tlsplug_error *tlsplug_conn_error(const tlsplug_conn *conn);
/* 1 once the handshake completed. */
TLSPLUG_API int tlsplug_conn_established(const tlsplug_conn *conn);
TLSPLUG_API tlsplug_side tlsplug_conn_side(const tlsplug_conn *conn);
TLSPLUG_API tlsplug_ctx *tlsplug_conn_ctx(const tlsplug_conn *conn);

/* What was negotiated.  Plain data, filled by tlsplug_conn_info. */
typedef struct tlsplug_info {
    int version;            /* TLSPLUG_TLS1_2 / TLSPLUG_TLS1_3, 0 unknown     */
    uint16_t cipher_id;     /* IANA cipher suite number                       */
    uint16_t group_id;      /* IANA supported-group number, 0 if unknown      */
    char cipher[64];        /* IANA suite name, "" if unknown                 */
    char group[32];         /* IANA group name, "" if unknown                 */
    char alpn[256];         /* negotiated protocol, "" if none                */
    char server_name[256];  /* SNI sent (client) or received (server)         */
    char peer_subject[256]; /* peer leaf subject, RFC 4514-ish; "" if none    */
    int resumed;            /* 1 if the session was resumed                   */
    int peer_verified;      /* 1 if a peer certificate was verified           */
    tlsplug_impl impl;
} tlsplug_info;

/* TLSPLUG_OK or TLSPLUG_E_INVALID_ARGUMENT before the handshake is done. */
TLSPLUG_API int tlsplug_conn_info(const tlsplug_conn *conn, tlsplug_info *out);
/* A one-line summary "backend=openssl version=TLS1.3 cipher=... group=...
 * alpn=... resumed=0 peer=CN=...", written into buf (always terminated). */
TLSPLUG_API int tlsplug_conn_summary(const tlsplug_conn *conn, char *buf, size_t cap);

TLSPLUG_API tlsplug_impl tlsplug_conn_impl(const tlsplug_conn *conn);
/* The native per-connection object, only if impl names conn's
 * implementation; else NULL.  Owned by conn. */
TLSPLUG_API void *tlsplug_conn_native(tlsplug_conn *conn, tlsplug_impl impl);

/* Names used by the portable configuration and tlsplug_info. */
TLSPLUG_API const char *tlsplug_cipher_name(uint16_t iana_id); /* NULL unknown */
TLSPLUG_API const char *tlsplug_group_name(uint16_t iana_id);  /* NULL unknown */
TLSPLUG_API const char *tlsplug_version_name(int version);     /* "TLS1.2" */

#ifdef __cplusplus
}
#endif

#include "tlsplug/aio.h"

#endif
