/* What the transports share: one run of one case on one pair, the contexts
 * made from a row's settings, and the judgement of a run against the row. */
#ifndef TLSPLUG_CONFORMANCE_RUNNER_H
#define TLSPLUG_CONFORMANCE_RUNNER_H

#include <stdarg.h>

#include "cases.h"

/* Ends of a pair: a tlsplug backend (its tlsplug_impl) or an external
 * program (s_server/s_client, gnutls-serv/gnutls-cli by position). */
enum { EP_OPENSSL_PROG = 100, EP_GNUTLS_PROG = 101 };

/* What one end did. */
typedef struct cf_side_out {
    int ran;                 /* the end was set up at all                   */
    int cls;                 /* outcome class; X_ANY when never reached     */
    int alert;               /* tlsplug_error_alert of the outcome, or -1   */
    char msg[256];           /* tlsplug_error_message of the outcome        */
    int info_ok, info2_ok;
    tlsplug_info info;       /* after the (first) handshake                 */
    tlsplug_info info2;      /* after the second handshake (resumption)     */
    int cb_calls, cb_verdict;
} cf_side_out;

typedef struct cf_run {
    const cf_case *k;
    int cep, sep;            /* client and server ends (impl or EP_*)       */
    cf_side_out c, s;
    char extra[768];         /* scenario checks that failed                 */
} cf_run;

/* State of a verify callback, one per context that has one. */
typedef struct cf_cb {
    int calls, verdict, answer;
} cf_cb;

void cf_run_init(cf_run *r, const cf_case *k, int cep, int sep);
/* Records a scenario check that failed (appended to r->extra). */
void cf_fail(cf_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records an outcome class with its error (err may be NULL for OK). */
void cf_set(cf_side_out *o, int cls, const tlsplug_error *err);
void cf_set_msg(cf_side_out *o, int cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The test PKI, set once from --pki or the build's default. */
extern const char *cf_pki_dir;
const char *cf_pki(const char *file); /* rotating static buffers */
/* len bytes of tests/pair.c's pattern in a new buffer (free it); NULL on OOM. */
unsigned char *cf_pattern_new(size_t len);

/* The client's server name for a row end ("localhost" unless given). */
const char *cf_server_name(const cf_end *e);
/* Makes a context from a row end.  Returns TLSPLUG_OK or the class, with the
 * message in msg.  cb receives the verify callback's calls. */
int cf_ctx(const cf_end *e, tlsplug_side side, tlsplug_impl impl, cf_cb *cb, tlsplug_ctx **out,
           char *msg, size_t cap);

/* Does the case apply to this pair on this transport?  0 with the reason in
 * why when it does not. */
int cf_applies(const cf_case *k, int transport, int cep, int sep, char *why, size_t cap);

/* Judges a run against its row: 0 when everything matched, else 1 with what
 * did not in detail. */
int cf_judge(const cf_run *r, char *detail, size_t cap);

/* Transports. */
void cf_mem_run(cf_run *r);
void cf_tcp_run(cf_run *r);
void cf_peer_run(cf_run *r);
/* Can the external program ep (as client or server) be told to play its
 * end of the case?  0 with the reason in why when not. */
int cf_peer_supports(const cf_case *k, int ep, int as_client, char *why, size_t cap);
/* Native handle checks on both ends of a connection (either may be NULL). */
void cf_check_native(cf_run *r, tlsplug_conn *c, tlsplug_conn *s);
/* 1 if the external programs can be found (fills why otherwise). */
int cf_peer_available(int ep, char *why, size_t cap);
/* Kills every external program still running (atexit / signals). */
void cf_peer_cleanup(void);

/* Names. */
const char *cf_ep_name(int ep, int as_client); /* "openssl", "s_server", ... */
char cf_ep_letter(int ep);                     /* o m w g, O G               */
int cf_ep_from_name(const char *name);         /* 0 if unknown               */
unsigned cf_ep_caps(int ep);

#endif
