/* Private to the mbedTLS backend: what its files share. */
#ifndef TLSPLUG_MBED_INT_H
#define TLSPLUG_MBED_INT_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "core/backend.h"

#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_TICKET_C)
#define MBED_HAVE_TICKETS 1
#else
#define MBED_HAVE_TICKETS 0
#endif
#if defined(MBEDTLS_SSL_CACHE_C)
#define MBED_HAVE_CACHE 1
#else
#define MBED_HAVE_CACHE 0
#endif

/* Sessions live at most this long in tickets and the server cache. */
#define MBED_SESSION_LIFETIME 7200
#define MBED_CACHE_ENTRIES 1024
typedef int (*sni_fn)(void *, mbedtls_ssl_context *, const unsigned char *, size_t);

typedef struct mbed_ctx {
    mbedtls_ssl_config *conf; /* &own_conf, or the adopted one */
    mbedtls_ssl_config own_conf;
    int adopted;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt chain;
    mbedtls_x509_crt trust;
    mbedtls_pk_context key;
    /* mbedTLS keeps these by pointer: they live as long as the config. */
    int suites[TLSPLUG_MAX_SUITES + 1];
    mbedtls_ecp_group_id curves[TLSPLUG_MAX_GROUPS + 1];
    int hashes[4];
    const char **alpn;
#if MBED_HAVE_TICKETS
    mbedtls_ssl_ticket_context ticket;
#endif
#if MBED_HAVE_CACHE
    mbedtls_ssl_cache_context cache;
#endif
    /* Server certificates chosen by SNI (cfg->sni_certs, same order). */
    const tlsplug_config *cfg; /* core's copy: lives as long as this */
    mbedtls_x509_crt sni_chain[TLSPLUG_MAX_SNI_CERTS];
    mbedtls_pk_context sni_key[TLSPLUG_MAX_SNI_CERTS];
    /* Adopted configs: the application's own SNI callback, chained. */
    sni_fn user_sni;
    void *user_sni_arg;
} mbed_ctx;

/* mbed_conf.c: everything of cfg onto bc->conf (made by
 * mbedtls_ssl_config_defaults, with its RNG set). */
int tlsplug__mbed_configure(mbed_ctx *bc, const tlsplug_config *cfg, tlsplug_side side,
                            struct tlsplug_error *err);

/* mbed_errors.c: the one table from mbedTLS error codes to classes. */
int tlsplug__mbed_class(int code, int fallback);
/* Fills err with cls, code and mbedTLS's own text for code; returns cls. */
int tlsplug__mbed_err(struct tlsplug_error *err, int cls, int code, const char *what);
/* The alert a verification class is reported with (OpenSSL's choices). */
int tlsplug__mbed_verify_alert(int cls);
/* Peer certificate verification flags (MBEDTLS_X509_BADCERT_*) to a class. */
int tlsplug__mbed_flags_class(unsigned flags);

/* mbed_x509.c */
int tlsplug__mbed_ip_matches(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t len);
/* 1 if a certificate of chain has its issuer at hand (chain or trust) but
 * none of the candidates signed it. */
int tlsplug__mbed_bad_signature(mbedtls_x509_crt *chain, mbedtls_x509_crt *trust);
/* RFC 4514 string of a DN, as OpenSSL's RFC 2253 mode prints it. */
void tlsplug__mbed_subject(const mbedtls_x509_name *dn, char *buf, size_t cap);

/* mbed_pkcs8.c: private keys in PKCS#8 PBES2 with AES-CBC (mbedTLS 2.28
 * cannot): an mbedTLS code, MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE if pem is
 * not that. */
int tlsplug__mbed_parse_pbes2_key(mbedtls_pk_context *pk, const unsigned char *pem,
                                  const char *pw);

/* mbed_hello.c: 1 if rec (one whole record) is a ClientHello whose
 * supported_versions extension leaves out TLS 1.2. */
int tlsplug__mbed_hello_lacks_tls12(const unsigned char *rec, size_t len);

#endif
