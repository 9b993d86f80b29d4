/* The allocator hook.  Replaceable once, before tlsplug allocated anything,
 * so that no block is ever freed by a different allocator than made it. */
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>

#include "core/alloc.h"
#include "core/backend.h"
#include "tlsplug/tlsplug.h"

static void *(*a_malloc)(size_t) = malloc;
static void *(*a_realloc)(void *, size_t) = realloc;
static void (*a_free)(void *) = free;
static atomic_int allocated_once;

int tlsplug_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                          void (*free_fn)(void *))
{
    if (!malloc_fn || !realloc_fn || !free_fn)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (atomic_load(&allocated_once))
        return TLSPLUG_E_BUSY;
    a_malloc = malloc_fn;
    a_realloc = realloc_fn;
    a_free = free_fn;
    /* Where a library takes them (OpenSSL, wolfSSL), its blocks come from
     * the same functions; one that has allocated already keeps its own,
     * consistently, so a refusal is not an error here. */
    (void)tlsplug__backends_set_allocator(malloc_fn, realloc_fn, free_fn);
    /* Those libraries may allocate through it from now on without tlsplug
     * seeing it: a second call would free their blocks with another free. */
    atomic_store(&allocated_once, 1);
    return TLSPLUG_OK;
}

void *tlsplug__malloc(size_t n)
{
    atomic_store_explicit(&allocated_once, 1, memory_order_relaxed);
    return a_malloc(n ? n : 1);
}

void *tlsplug__calloc(size_t count, size_t size)
{
    if (size && count > (size_t)-1 / size)
        return NULL;
    void *p = tlsplug__malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *tlsplug__realloc(void *p, size_t n)
{
    atomic_store_explicit(&allocated_once, 1, memory_order_relaxed);
    return a_realloc(p, n ? n : 1);
}

void tlsplug__free(void *p)
{
    if (p)
        a_free(p);
}

char *tlsplug__strdup(const char *s)
{
    return s ? tlsplug__memdup(s, strlen(s) + 1) : NULL;
}

void *tlsplug__memdup(const void *p, size_t n)
{
    void *d = tlsplug__malloc(n);
    if (d && n)
        memcpy(d, p, n);
    return d;
}
