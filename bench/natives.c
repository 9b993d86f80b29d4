/* The natives built into this bench: one per backend the build has (the only
 * #ifdefs in bench/, as core/registry.c is for backends). */
#include <stddef.h>

#include "bench.h"

#ifdef TLSPLUG_WITH_OPENSSL
extern const bench_native bench_native_openssl;
#endif
#ifdef TLSPLUG_WITH_MBEDTLS
extern const bench_native bench_native_mbedtls;
#endif
#ifdef TLSPLUG_WITH_WOLFSSL
extern const bench_native bench_native_wolfssl;
#endif
#ifdef TLSPLUG_WITH_GNUTLS
extern const bench_native bench_native_gnutls;
#endif

const bench_native *const bench_natives[] = {
#ifdef TLSPLUG_WITH_OPENSSL
    &bench_native_openssl,
#endif
#ifdef TLSPLUG_WITH_MBEDTLS
    &bench_native_mbedtls,
#endif
#ifdef TLSPLUG_WITH_WOLFSSL
    &bench_native_wolfssl,
#endif
#ifdef TLSPLUG_WITH_GNUTLS
    &bench_native_gnutls,
#endif
    NULL};

const bench_native *bench_native_for(tlsplug_impl impl)
{
    for (size_t i = 0; bench_natives[i]; i++)
        if (bench_natives[i]->impl == impl)
            return bench_natives[i];
    return NULL;
}
