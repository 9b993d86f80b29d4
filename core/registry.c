/* The backend registry: the one place that knows which backends are built
 * (the only #ifdefs for backends in the project), and the default choice. */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "core/backend.h"

#ifdef TLSPLUG_WITH_OPENSSL
extern const struct tlsplug_backend tlsplug__backend_openssl;
#endif
#ifdef TLSPLUG_WITH_MBEDTLS
extern const struct tlsplug_backend tlsplug__backend_mbedtls;
#endif
#ifdef TLSPLUG_WITH_WOLFSSL
extern const struct tlsplug_backend tlsplug__backend_wolfssl;
#endif
#ifdef TLSPLUG_WITH_GNUTLS
extern const struct tlsplug_backend tlsplug__backend_gnutls;
#endif

static const struct tlsplug_backend *const backends[] = {
#ifdef TLSPLUG_WITH_OPENSSL
    &tlsplug__backend_openssl,
#endif
#ifdef TLSPLUG_WITH_MBEDTLS
    &tlsplug__backend_mbedtls,
#endif
#ifdef TLSPLUG_WITH_WOLFSSL
    &tlsplug__backend_wolfssl,
#endif
#ifdef TLSPLUG_WITH_GNUTLS
    &tlsplug__backend_gnutls,
#endif
    NULL};

#ifndef TLSPLUG_DEFAULT_IMPL
#error "TLSPLUG_DEFAULT_IMPL must be set by the build"
#endif

/* A backend registered at run time by the unit tests (the scripted mock):
 * reachable by its impl number, never listed or chosen by default. */
static const struct tlsplug_backend *test_backend;

void tlsplug__backend_register_test(const struct tlsplug_backend *be)
{
    test_backend = be;
}

int tlsplug__backends_set_allocator(void *(*malloc_fn)(size_t),
                                    void *(*realloc_fn)(void *, size_t), void (*free_fn)(void *))
{
    int took = 0;
    for (size_t i = 0; backends[i]; i++)
        if (backends[i]->set_allocator &&
            backends[i]->set_allocator(malloc_fn, realloc_fn, free_fn) == TLSPLUG_OK)
            took++;
    return took;
}

static tlsplug_impl default_impl = TLSPLUG_IMPL_NONE;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

const struct tlsplug_backend *tlsplug__backend_get(tlsplug_impl impl)
{
    for (size_t i = 0; backends[i]; i++)
        if (backends[i]->impl == impl)
            return backends[i];
    if (test_backend && test_backend->impl == impl)
        return test_backend;
    return NULL;
}

static void default_init(void)
{
    default_impl = TLSPLUG_DEFAULT_IMPL;
    const char *env = getenv("TLSPLUG_BACKEND");
    if (env && *env) {
        tlsplug_impl e = tlsplug_impl_from_name(env);
        if (tlsplug__backend_get(e))
            default_impl = e;
    }
}

tlsplug_impl tlsplug_default_impl(void)
{
    pthread_once(&default_once, default_init);
    return default_impl;
}

int tlsplug_set_default_impl(tlsplug_impl impl)
{
    pthread_once(&default_once, default_init);
    if (!tlsplug__backend_get(impl))
        return TLSPLUG_E_UNSUPPORTED;
    default_impl = impl;
    return TLSPLUG_OK;
}

int tlsplug_impl_available(tlsplug_impl impl)
{
    return tlsplug__backend_get(impl) != NULL;
}

size_t tlsplug_impl_list(tlsplug_impl *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; backends[i]; i++) {
        if (out && n < max)
            out[n] = backends[i]->impl;
        n++;
    }
    return n;
}

const char *tlsplug_impl_version(tlsplug_impl impl)
{
    const struct tlsplug_backend *b = tlsplug__backend_get(impl);
    return b ? b->version() : NULL;
}

unsigned tlsplug_impl_caps(tlsplug_impl impl)
{
    const struct tlsplug_backend *b = tlsplug__backend_get(impl);
    return b ? b->caps() : 0;
}
