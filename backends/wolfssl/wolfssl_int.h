/* Shared between the wolfSSL backend's files (not a public header). */
#ifndef TLSPLUG_BACKEND_WOLFSSL_INT_H
#define TLSPLUG_BACKEND_WOLFSSL_INT_H

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "core/backend.h"

struct wctx {
    WOLFSSL_CTX *ctx;
    const tlsplug_config *cfg;
    tlsplug_side side;
    int adopted;
    uint16_t cert_group; /* IANA group of our ECDSA certificate, 0 if none */
    struct wolf_cache *cache; /* server TLS 1.2 session cache, or NULL */
    struct wolf_resume *resume; /* client: the last saved session, or NULL */
};

/* What the server learns from the first ClientHello record before wolfSSL
 * sees it: the versions the client offers (to tell a version mismatch from
 * a suite mismatch, which wolfSSL reports the other way round) and its
 * groups (a TLS 1.2 wolfSSL server picks by the client's order, and falls
 * back to a curve the client never offered when none is shared). */
#define WOLF_HELLO_MAX_GROUPS 32
enum { WOLF_REFUSE_VERSION = 1, WOLF_REFUSE_GROUP, WOLF_REFUSE_CERT_CURVE };
struct wolf_hello {
    int offers12, offers13;
    int has_groups;
    size_t n_groups;
    uint16_t groups[WOLF_HELLO_MAX_GROUPS];
};

/* A TLS 1.2 session with a ticket, offered by a client: set with the
 * session, the ticket withdrawn while the server's answer is awaited,
 * decided. */
enum { WOLF_T12_NONE, WOLF_T12_ARMED, WOLF_T12_WITHDRAWN, WOLF_T12_DONE };

struct wsess {
    struct wctx *wc;
    tlsplug_conn *conn;
    WOLFSSL *ssl;
    tlsplug_side side;
    char *alpn_csv;    /* wolfSSL_UseALPN wants a writable comma list       */
    char *sni;         /* client: the SNI sent, for info                    */
    char *ip_name;     /* IP literal to match against IP SANs ourselves     */
    int verify_done;   /* tlsplug__verify was called in this handshake      */
    int verify_result; /* its verdict                                       */
    int chain_err;     /* first wolfSSL error seen on the peer chain        */
    int peer_verified;
    /* Server: the first record, held back from wolfSSL until it is whole
     * and its ClientHello facts are known; client: the server's records up
     * to the message after its ServerHello (wolf_io.c). */
    uint8_t *first;
    size_t first_have, first_need, first_served;
    int hello_state; /* 0 collecting, 1 parsed (or not a hello), 2 refused,
                      * 3 no memory to hold it back */
    int refused;     /* WOLF_REFUSE_* when hello_state is 2 */
    int hello_parsed;
    struct wolf_hello hello;
    uint16_t tls12_group;   /* server: the group picked for TLS 1.2          */
    uint16_t session_group; /* client: the group of the session offered      */
    /* Client: the ticket of a TLS 1.2 session offered, withdrawn until the
     * ServerHello shows the server resumes (wolf_io.c). */
    int ticket12_state;      /* WOLF_T12_*                                */
    uint8_t *ticket12;       /* the ticket, while withdrawn               */
    size_t ticket12_len;
    int reneg_seen;         /* a handshake record after the handshake        */
    int ticket_seen;        /* client: a NewSessionTicket arrived here       */
    /* Record tracking for plaintext alerts (wolf_io.c). */
    uint8_t rec_hdr[5], rec_alert[2];
    size_t rec_hdr_have, rec_left, rec_body_have;
    int plain_alert; /* description of a fatal plaintext alert, or -1 */
    /* Ciphertext core could not take yet (tlsplug__wolf_io_send). */
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    size_t write_taken; /* plaintext of a write answered WANT_WRITE   */
    int hs_done, shutdown_sent;
};

/* ---- wolf_io.c ---------------------------------------------------------- */

/* The transport callbacks (wolfSSL_SSLSetIORecv/Send). */
int tlsplug__wolf_io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx);
int tlsplug__wolf_io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx);
/* Hand held-back ciphertext to core: TLSPLUG_OK once none is left,
 * TLSPLUG_WANT_WRITE while core's buffer is full, or an error class. */
int tlsplug__wolf_flush(struct wsess *s);
/* Server, before wolfSSL_accept first runs: read the first record and apply
 * the group policy wolfSSL lacks.  TLSPLUG_WANT_READ until it is whole. */
int tlsplug__wolf_prefetch_hello(struct wsess *s);
/* Client, after the wolfSSL call that sent the ClientHello offering a TLS
 * 1.2 ticket: take the ticket out of the session until the ServerHello
 * shows whether the server resumes.  TLSPLUG_E_NO_MEMORY or TLSPLUG_OK. */
int tlsplug__wolf_ticket12_withdraw(struct wsess *s);
/* After a failed step: the description of a plaintext fatal alert wolfSSL
 * could not parse, or -1. */
int tlsplug__wolf_plain_alert(struct wsess *s);
/* Queue a fatal alert as a plaintext record: only while this end sends
 * unencrypted records (before its ChangeCipherSpec / ServerHello). */
void tlsplug__wolf_plain_alert_send(struct wsess *s, int description);

/* ---- wolf_cache.c ------------------------------------------------------- */

/* A per-context server session cache, installed on ctx in place of
 * wolfSSL's process-wide one.  NULL on OOM. */
struct wolf_cache *tlsplug__wolf_cache_new(WOLFSSL_CTX *ctx);
void tlsplug__wolf_cache_free(struct wolf_cache *c);

/* ---- wolf_resume.c ------------------------------------------------------ */

/* The client's last saved session, kept to offer again without decoding.
 * NULL on OOM (every call then does nothing). */
struct wolf_resume *tlsplug__wolf_resume_new(void);
void tlsplug__wolf_resume_free(struct wolf_resume *r);
/* Keep sess, the session of owner just saved, taking the caller's
 * reference; it is not offered while owner's WOLFSSL lives. */
void tlsplug__wolf_resume_keep(struct wolf_resume *r, const struct wsess *owner,
                               WOLFSSL_SESSION *sess);
/* owner's WOLFSSL is gone. */
void tlsplug__wolf_resume_release(struct wolf_resume *r, const struct wsess *owner);
/* A reference to the kept session if it serialises (i2d) to der now,
 * else NULL. */
WOLFSSL_SESSION *tlsplug__wolf_resume_find(struct wolf_resume *r, const uint8_t *der,
                                           size_t len);

/* ---- wolf_errors.c ------------------------------------------------------ */

/* The class a wolfSSL (or wolfCrypt) error code belongs to, from the one
 * table.  Unknown codes give TLSPLUG_E_HANDSHAKE. */
int tlsplug__wolf_class(int code);
/* The certificate class for a verification error seen in the verify
 * callback (store->error).  0 gives TLSPLUG_OK. */
int tlsplug__wolf_cert_class(int code);
/* Fill e with cls, the code and "what: <wolfSSL's text> (wolfSSL code)". */
int tlsplug__wolf_err(struct tlsplug_error *e, int cls, int code, const char *what);

/* ---- wolf_keys.c -------------------------------------------------------- */

/* 1 if the private key (PEM, optionally encrypted) is the one of the first
 * certificate in cert_pem, 0 if not, -1 if this check cannot tell (key types
 * other than ECC, which wolfSSL_CTX_check_private_key handles itself), -3
 * when tlsplug ran out of memory. */
int tlsplug__wolf_ecc_key_matches(const tlsplug_bytes *cert_pem, const tlsplug_bytes *key_pem,
                                  const char *password);
/* The IANA group of the first certificate's ECDSA key, 0 for other keys. */
uint16_t tlsplug__wolf_cert_group(const tlsplug_bytes *cert_pem);

/* ---- wolf_alloc.c ------------------------------------------------------- */

/* tlsplug_set_allocator's functions to wolfSSL_SetAllocators. */
int tlsplug__wolf_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                                void (*free_fn)(void *));

/* ---- wolfssl.c ---------------------------------------------------------- */

/* The set1_curves_list name of an IANA group, NULL if unknown. */
const char *tlsplug__wolf_group_name(uint16_t id);

#endif
