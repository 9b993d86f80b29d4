/* What every fuzz target shares: a cursor over the input, the contexts (made
 * once per process, on the backend named by TLSPLUG_BACKEND), and the checks
 * that must hold whatever the bytes were.  A failed check aborts, so libFuzzer
 * and the replay driver both see it as a crash. */
#ifndef TLSPLUG_FUZZ_COMMON_H
#define TLSPLUG_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tlsplug/tlsplug.h"

#define FZ_CHECK(x)                                                                  \
    do {                                                                             \
        if (!(x)) {                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);   \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* The fuzz input, read front to back; reads past the end give zeros. */
typedef struct fz {
    const uint8_t *p;
    size_t n;
} fz;

uint8_t fz_u8(fz *in);
uint16_t fz_u16(fz *in);
/* Up to want bytes; returns how many, *out points at them. */
size_t fz_bytes(fz *in, size_t want, const uint8_t **out);

/* Context variants, made on first use and kept for the process.  A variant
 * the backend cannot make (TLS 1.3 on mbedTLS) falls back to variant 0.
 * Clients trust ca.pem and verify "localhost".  Servers:
 *   0  EC chain, defaults            1  RSA chain, TLS 1.2 only
 *   2  EC, TLS 1.2 only, client certificate required
 *   3  EC, TLS 1.3 only, client certificate optional, ALPN h2,http/1.1
 * Clients: 0 defaults; 1 TLS 1.2 only; 2 client certificate, TLS 1.2 only;
 *   3 TLS 1.3 only, client certificate, ALPN h2. */
#define FZ_VARIANTS 4
tlsplug_ctx *fz_client_ctx(unsigned variant);
tlsplug_ctx *fz_server_ctx(unsigned variant);
/* A new context of a variant on impl, or NULL if impl cannot make it. */
tlsplug_ctx *fz_new_client_ctx(unsigned variant, tlsplug_impl impl);
tlsplug_ctx *fz_new_server_ctx(unsigned variant, tlsplug_impl impl);
/* The variant a context was actually made as (after any fallback). */
unsigned fz_client_variant(unsigned variant);
unsigned fz_server_variant(unsigned variant);

/* A new engine on ctx; the side is the context's. */
tlsplug_conn *fz_conn(tlsplug_ctx *ctx);

/* rc is a legal step result; an error is sticky and described. */
void fz_check_step(tlsplug_conn *c, int rc);

/* Path of a file of the test PKI. */
const char *fz_pki(const char *file);

#endif
