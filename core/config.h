/* The portable configuration as backends read it.  Core validates every field
 * before a backend sees it: names are resolved to IANA numbers, files are
 * read into memory, lists are non-empty and in tlsplug's order. */
#ifndef TLSPLUG_CORE_CONFIG_H
#define TLSPLUG_CORE_CONFIG_H

#include "tlsplug/tlsplug.h"
#include "core/error.h"

#define TLSPLUG_MAX_SUITES 16
#define TLSPLUG_MAX_GROUPS 8

typedef struct tlsplug_bytes {
    uint8_t *data; /* NUL-terminated as a convenience for PEM parsers      */
    size_t len;    /* not counting the terminator                          */
} tlsplug_bytes;

#define TLSPLUG_MAX_SNI_CERTS 16

/* A server certificate chosen by the client's SNI. */
typedef struct tlsplug_sni_cert {
    char *name;             /* lower case; "*.example.com" for a wildcard   */
    tlsplug_bytes cert_pem; /* chain, leaf first                            */
    tlsplug_bytes key_pem;  /* len 0: key inside cert_pem                    */
    char *key_password;
} tlsplug_sni_cert;

struct tlsplug_config {
    tlsplug_side side;
    tlsplug_bytes cert_pem; /* chain, leaf first; len 0: none                */
    tlsplug_bytes key_pem;  /* len 0: none (or key inside cert_pem)          */
    char *key_password;     /* NULL: key not encrypted                       */
    tlsplug_sni_cert sni_certs[TLSPLUG_MAX_SNI_CERTS];
    size_t n_sni_certs;
    tlsplug_bytes trust_pem; /* concatenated PEM certificates; len 0: none   */
    int trust_system;        /* 1 if the system store was added (in trust_pem) */
    tlsplug_verify verify;   /* resolved: never TLSPLUG_VERIFY_DEFAULT       */
    int verify_hostname;
    char *server_name;      /* NULL: none                                   */
    int min_version;        /* TLSPLUG_TLS1_2 / TLSPLUG_TLS1_3               */
    int max_version;        /* 0: the backend's highest (resolved per ctx)   */
    uint16_t suites12[TLSPLUG_MAX_SUITES];
    size_t n_suites12;
    uint16_t suites13[TLSPLUG_MAX_SUITES];
    size_t n_suites13;
    uint16_t groups[TLSPLUG_MAX_GROUPS];
    size_t n_groups;
    char **alpn;            /* alpn[0..n_alpn-1], NUL-terminated strings    */
    size_t n_alpn;
    tlsplug_bytes alpn_wire; /* RFC 7301 wire format (length-prefixed)       */
    tlsplug_verify_cb verify_cb;
    void *verify_arg;
    tlsplug_keylog_cb keylog_cb;
    void *keylog_arg;
    int suites12_set, suites13_set, groups_set; /* given explicitly */
    int tickets;
    int session_cache;
    tlsplug_native_hook ctx_configure;
    void *ctx_configure_arg;
    tlsplug_native_hook ssl_configure;
    void *ssl_configure_arg;
    struct tlsplug_error err; /* last setter error                         */
    int has_err;
};

/* Server: which certificate serves this SNI name: an index into
 * cfg->sni_certs, or -1 for the default one (also for a NULL name). */
int tlsplug__sni_cert_pick(const tlsplug_config *cfg, const char *sni);
/* The server's ALPN choice: its own order first, among the client's list in
 * wire form (in, inlen).  0 with *out pointing into cfg (valid as long as
 * cfg), or -1 when nothing is in common or the client's list is malformed. */
int tlsplug__alpn_pick(const tlsplug_config *cfg, const uint8_t *in, size_t inlen,
                       const uint8_t **out, uint8_t *outlen);

/* Deep copy; NULL on OOM. */
tlsplug_config *tlsplug__config_dup(const tlsplug_config *cfg);
/* Release what the fields own (not cfg itself). */
void tlsplug__config_clear(tlsplug_config *cfg);

/* Suite and group tables: IANA id <-> name, with the facts backends need. */
typedef struct tlsplug_suite_info {
    uint16_t id;
    const char *name;   /* IANA                                         */
    int version;        /* TLSPLUG_TLS1_2 or TLSPLUG_TLS1_3              */
    int chacha;         /* 1 for CHACHA20-POLY1305                       */
} tlsplug_suite_info;
const tlsplug_suite_info *tlsplug__suite_by_id(uint16_t id);
const tlsplug_suite_info *tlsplug__suite_by_name(const char *name);
/* Every known suite, in the default preference order; ends with name NULL. */
const tlsplug_suite_info *tlsplug__suite_table(void);

typedef struct tlsplug_group_info {
    uint16_t id;
    const char *name; /* IANA: x25519, secp256r1, ...                  */
} tlsplug_group_info;
const tlsplug_group_info *tlsplug__group_by_id(uint16_t id);
const tlsplug_group_info *tlsplug__group_by_name(const char *name);

#endif
