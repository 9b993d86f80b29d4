/* Shared between the GnuTLS backend's files (not a public header). */
#ifndef TLSPLUG_BACKEND_GNUTLS_INT_H
#define TLSPLUG_BACKEND_GNUTLS_INT_H

#include <gnutls/gnutls.h>

#include "core/backend.h"

/* The configuration's suites, groups and versions as priority caches.
 * GnuTLS enables TLS 1.2 suites as key exchanges x ciphers and shares the
 * cipher list with TLS 1.3, so one cache cannot say every list; the server
 * then switches to a narrower cache from the ClientHello (priority.c). */
struct gt_prio {
    gnutls_priority_t main; /* every session starts with it                  */
    int user;               /* main is the caller's string: no switching     */
    int exact12, exact13;   /* main negotiates exactly the list, in order    */
    /* Server: TLS 1.3 ciphers only, configured group i first (to take the
     * client's first acceptable key share, as OpenSSL does); NULL where
     * main already does. */
    gnutls_priority_t first13[TLSPLUG_MAX_GROUPS];
    /* Server, when !exact12: exactly configured TLS 1.2 suite i. */
    gnutls_priority_t one12[TLSPLUG_MAX_SUITES];
    int hook; /* sessions need the hello hook                            */
};

struct gt_cache;

/* A credentials object: trust plus (at most) one chain and its key. */
struct gt_cert {
    gnutls_certificate_credentials_t cred;
    gnutls_pk_algorithm_t pk; /* of the chain's leaf, UNKNOWN if none/unknown */
};

struct gt_ctx {
    const tlsplug_config *cfg; /* core's copy, outlives us                   */
    tlsplug_side side;
    struct gt_cert cert;                      /* the native context          */
    struct gt_cert sni[TLSPLUG_MAX_SNI_CERTS]; /* cfg->sni_certs[i]           */
    size_t n_sni;
    struct gt_prio prio;        /* the context's side; server if BOTH       */
    struct gt_prio prio_client; /* BOTH: client sessions' (main NULL if not)  */
    gnutls_datum_t *alpn;          /* points into cfg->alpn                  */
    unsigned n_alpn;
    gnutls_datum_t ticket_key; /* data NULL: the server issues no tickets     */
    unsigned ticket_flags;     /* GNUTLS_NO_TICKETS* for server sessions      */
    struct gt_cache *cache;    /* NULL: no server-side session cache          */
};

/* Record framing of what the peer sent (see gt_pull in gnutls.c). */
struct gt_sniff {
    uint8_t hdr[5];
    unsigned hdr_got;
    size_t body_left;
    int plain_alert; /* the current record is a 2-byte alert               */
    uint8_t alert[2];
    unsigned alert_got;
    int last_alert; /* description of the last record if it was a complete
                     * 2-byte alert, else -1                                */
};

struct gt_sess {
    int io_blocked; /* pull or push said EAGAIN during the current call */
    gnutls_session_t s;
    tlsplug_conn *conn;
    struct gt_ctx *ctx;
    tlsplug_side side;
    char *sni;          /* client: the SNI sent                               */
    char *verify_name;  /* client: name or IP literal to match, or NULL       */
    int verify_ran;     /* our verify function ran this handshake             */
    int peer_verified;
    int fail_cls;       /* a class decided in a callback, 0 if none           */
    int err_filled;     /* a callback (or tlsplug__verify) filled the error   */
    int fail_alert;     /* alert to send for fail_cls, -1 for the default     */
    int refuse_pending; /* a no_renegotiation warning still to be flushed     */
    struct gt_sniff sniff;
};

/* errors.c: the class of a GnuTLS error code (the one table). */
int tlsplug__gnutls_class(int code);
/* 1 if code means the transport failed or ended (no alert can be sent). */
int tlsplug__gnutls_is_transport(int code);

/* priority.c.  user: the caller's priority string (adopt), or NULL to
 * translate cfg.  side: CLIENT or SERVER (BOTH is taken as SERVER). */
int tlsplug__gnutls_prio_new(struct gt_prio *p, const tlsplug_config *cfg, tlsplug_side side,
                             const char *user, struct tlsplug_error *err);
void tlsplug__gnutls_prio_free(struct gt_prio *p);
/* Give a new session its priorities (and hooks). */
int tlsplug__gnutls_prio_apply(struct gt_sess *gs);
/* IANA numbers of what a session negotiated, 0 if unknown. */
uint16_t tlsplug__gnutls_suite_id(gnutls_session_t s);
uint16_t tlsplug__gnutls_group_id(gnutls_session_t s);

/* cache.c: the server's session cache (TLS 1.2 session IDs). */
struct gt_cache *tlsplug__gnutls_cache_new(void);
void tlsplug__gnutls_cache_free(struct gt_cache *c);
void tlsplug__gnutls_cache_attach(struct gt_cache *c, gnutls_session_t s);

#endif
