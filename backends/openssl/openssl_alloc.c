/* tlsplug_set_allocator for OpenSSL: CRYPTO_set_mem_functions, which OpenSSL
 * accepts only before its first allocation and which then holds for the
 * whole process.  OpenSSL's hooks carry file and line; these trampolines
 * drop them and keep OpenSSL's own rules for zero sizes, so the application's
 * functions see only what malloc/realloc/free would. */
#include <openssl/crypto.h>

#include "backends/openssl/ossl_int.h"

static void *(*app_malloc)(size_t);
static void *(*app_realloc)(void *, size_t);
static void (*app_free)(void *);

static void *ossl_malloc(size_t num, const char *file, int line)
{
    /* CRYPTO_malloc gives NULL for 0 bytes; callers expect that */
    return num ? app_malloc(num) : NULL;
}

static void *ossl_realloc(void *p, size_t num, const char *file, int line)
{
    /* CRYPTO_realloc(p, 0) frees p */
    if (num == 0) {
        if (p)
            app_free(p);
        return NULL;
    }
    return app_realloc(p, num);
}

static void ossl_free(void *p, const char *file, int line)
{
    if (p)
        app_free(p);
}

int tlsplug__ossl_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                                void (*free_fn)(void *))
{
    app_malloc = malloc_fn;
    app_realloc = realloc_fn;
    app_free = free_fn;
    return CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) ? TLSPLUG_OK
                                                                         : TLSPLUG_E_BUSY;
}
