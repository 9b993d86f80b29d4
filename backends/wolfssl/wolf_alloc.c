/* tlsplug_set_allocator for wolfSSL: wolfSSL_SetAllocators, process-wide.
 * Debian builds wolfSSL without WOLFSSL_STATIC_MEMORY and
 * WOLFSSL_DEBUG_MEMORY, so its hooks have malloc's own signatures and take
 * the application's functions as they are (a build with either would not
 * compile here, rather than pass mismatched pointers). */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/memory.h>

#include "backends/wolfssl/wolfssl_int.h"

int tlsplug__wolf_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                                void (*free_fn)(void *))
{
    return wolfSSL_SetAllocators(malloc_fn, free_fn, realloc_fn) == 0 ? TLSPLUG_OK
                                                                      : TLSPLUG_E_UNSUPPORTED;
}
