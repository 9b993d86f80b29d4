/* Shared between the OpenSSL backend's files; not part of any API. */
#ifndef TLSPLUG_OSSL_INT_H
#define TLSPLUG_OSSL_INT_H

#include <pthread.h>
#include <openssl/ssl.h>

#include "core/backend.h"

typedef struct ossl_ctx {
    SSL_CTX *ctx;
    const tlsplug_config *cfg; /* core's copy, lives as long as we do */
    tlsplug_side side;         /* CLIENT, SERVER or BOTH                 */
    int adopted;               /* made by the application: used as is    */
    /* The last session blob core handed us or we saved, and its object:
     * d2i_SSL_SESSION re-parses the peer certificate (~1.7M instructions). */
    pthread_mutex_t memo_lock;
    uint8_t *memo_blob;
    size_t memo_len;
    SSL_SESSION *memo_sess;
    /* Server: one whole context per certificate chosen by SNI, each from a
     * shallow copy of cfg with that certificate (switched to with
     * SSL_set_SSL_CTX in the servername callback). */
    struct ossl_ctx *sni[TLSPLUG_MAX_SNI_CERTS];
    tlsplug_config *sni_cfg[TLSPLUG_MAX_SNI_CERTS];
    size_t n_sni;
} ossl_ctx;

typedef struct ossl_sess {
    SSL *ssl;
    tlsplug_conn *conn;
    ossl_ctx *octx;
    tlsplug_side side;
    int io_status;     /* last failure io_recv/io_send gave the BIO, or 0  */
    int bio_retry;     /* the BIO asked libssl to retry during this step   */
    int verify_called; /* tlsplug__verify ran for this handshake            */
    int verify_final;  /* and what it decided (core filled the error then) */
    int sent_alert;    /* fatal alert libssl sent, -1 if none               */
    int shutdown_sent;
} ossl_sess;

/* ossl_config.c: the whole configuration onto o->ctx (fresh SSL_CTX). */
int tlsplug__ossl_configure(ossl_ctx *o, const tlsplug_config *cfg, struct tlsplug_error *err);
/* Fills err with what, plus OpenSSL's text of the last queued error if any
 * (the queue is then cleared); returns cls. */
int tlsplug__ossl_fail(struct tlsplug_error *err, int cls, const char *what);
/* SSL_VERIFY_* for a verify mode on one side (CLIENT or SERVER). */
int tlsplug__ossl_verify_mode(tlsplug_verify v, tlsplug_side side);
/* Negotiated group NID (SSL_get_negotiated_group) -> IANA id, 0 if unknown. */
uint16_t tlsplug__ossl_group_iana(int nid);

/* openssl.c: callbacks the context installs. */
int tlsplug__ossl_cert_verify_cb(X509_STORE_CTX *xctx, void *arg);
void tlsplug__ossl_keylog_cb(const SSL *ssl, const char *line);

/* openssl_alloc.c: tlsplug_set_allocator's functions to CRYPTO_set_mem_functions. */
int tlsplug__ossl_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                                void (*free_fn)(void *));

/* ossl_errors.c: X509_V_ERR_* -> certificate class (TLSPLUG_E_CERT_*). */
int tlsplug__ossl_x509_class(long x509_err);

/* ossl_errors.c: after a failed SSL_* step: WANT_READ / WANT_WRITE, or a class with the
 * conn's error filled from the error queue (which is then empty).  ret is the
 * step's return value; dflt the class for errors the table does not know. */
int tlsplug__ossl_step_error(ossl_sess *s, int ret, int dflt, const char *what);

#endif
