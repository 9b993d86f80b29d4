/* The conformance case table: one declarative row per case, in the spirit of
 * OpenSSL's test/ssl-tests/ (the .cnf.in files).  A row names the settings of each end,
 * what the transports should do (the scenario), the result class expected on
 * each end and what is checked afterwards.  Zero means "tlsplug's default"
 * for a setting and "success / not checked" for an expectation. */
#ifndef TLSPLUG_CONFORMANCE_CASES_H
#define TLSPLUG_CONFORMANCE_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "tlsplug/tlsplug.h"

/* Transports. */
enum { T_MEM = 1, T_TCP = 2, T_PEERS = 4, T_ALL = 7 };

/* An outcome class that is not checked on that end. */
#define X_ANY 1000
/* Expected version: the highest both ends have; expected group: x25519 when
 * both ends have it, else secp256r1. */
#define V_BEST 1
#define G_BEST 1

enum { CB_NONE = 0, CB_ACCEPT, CB_REJECT };
enum { VF_ANY = 0, VF_YES, VF_NO };

/* External peer roles (the peers transport). */
enum {
    EXT_OSSL_SRV = 1, /* openssl s_server  */
    EXT_GNU_SRV = 2,  /* gnutls-serv       */
    EXT_OSSL_CLI = 4, /* openssl s_client  */
    EXT_GNU_CLI = 8,  /* gnutls-cli        */
    EXT_SRV = EXT_OSSL_SRV | EXT_GNU_SRV,
    EXT_CLI = EXT_OSSL_CLI | EXT_GNU_CLI,
    EXT_ANY = EXT_SRV | EXT_CLI
};

/* The settings of one end.  Files are names in the test PKI directory. */
typedef struct cf_end {
    const char *cert, *key, *password; /* NULL: server-ec for a server, none for a client */
    const char *ca;                    /* NULL: ca.pem when this end verifies its peer */
    int verify;                        /* TLSPLUG_VERIFY_*; 0: tlsplug's default */
    int no_hostname;                   /* client: hostname check off */
    int min_version, max_version;      /* 0: default */
    const char *suites12, *suites13, *groups, *alpn; /* NULL: default */
    int resumption;                    /* 1: tickets and cache */
    int verify_cb;                     /* CB_* */
    const char *name;                  /* client: server name; NULL: "localhost" */
    /* server: a second certificate to present when the client asks for
     * sni_name (tlsplug has no portable API for it yet: see the table). */
    const char *sni_name, *sni_cert, *sni_key;
} cf_end;

typedef enum cf_scenario {
    SC_HANDSHAKE = 0, /* handshake, then one message each way             */
    SC_CONFIG,        /* contexts only: the classes tlsplug_ctx_new gives  */
    SC_RESUME,        /* two connections; the second one's resumed flag    */
    SC_CLOSE,         /* actor sends close_notify, the peer answers        */
    SC_TRUNCATE,      /* actor's transport ends without close_notify       */
    SC_MIDHS,         /* actor gives up in the middle of the handshake     */
    SC_DATA,          /* 1 MiB each way in odd-sized writes                */
    SC_ONEBYTE,       /* the transport passes one byte at a time           */
    SC_NOT_TLS,       /* actor is a plain peer sending junk                */
    SC_TIMEOUT_SILENT,/* both ends attach against a peer that says nothing */
    SC_TIMEOUT_DRIP,  /* both ends attach against a peer dripping its flight */
    SC_STARTTLS,      /* plain, attach, TLS, detach, plain with the tail kept */
    SC_TRAILING,      /* close_notify and plain bytes arrive in one write  */
    SC_NATIVE,        /* native handle query                               */
    SC_RENEG          /* actor (an external peer) asks to renegotiate      */
} cf_scenario;

typedef struct cf_expect {
    int cls;          /* outcome class on this end; X_ANY: not checked    */
    int alert;        /* with cls peer-alert: the alert number; 0: any    */
    const char *peer; /* peer subject on this end; NULL: not checked      */
    int verified;     /* VF_*: peer_verified on this end                  */
} cf_expect;

typedef struct cf_case {
    const char *name, *group, *what;
    cf_scenario sc;
    tlsplug_side actor;      /* for the scenarios that name one end            */
    unsigned transports;     /* T_*; 0: every transport                        */
    const char *transports_why; /* why the others do not apply                 */
    unsigned caps_c, caps_s; /* TLSPLUG_CAP_* each end needs                   */
    cf_end c, s;
    cf_end s2;               /* SC_RESUME: server of the second connection     */
    int use_s2;
    cf_expect ec, es;
    int version;             /* expected version; V_BEST; 0: not checked       */
    uint16_t suite12, suite13; /* expected suite for the version negotiated    */
    uint16_t kx_group;       /* IANA group; G_BEST; 0: not checked             */
    const char *alpn;        /* expected ALPN on both ends ("": none)          */
    const char *sni;         /* expected name the server saw ("": none)        */
    int resumed;             /* SC_RESUME: the second connection's flag        */
    int cb_verdict;          /* verify_cb: the verdict the callback must see   */
    const char *junk;        /* SC_NOT_TLS: what the plain peer sends          */
    unsigned no_ext;         /* EXT_* roles this case cannot use               */
    const char *no_ext_why;
} cf_case;

extern const cf_case cf_cases[];
extern const size_t cf_n_cases;

#endif
