/* The allocator every part of tlsplug goes through (tlsplug_set_allocator). */
#ifndef TLSPLUG_CORE_ALLOC_H
#define TLSPLUG_CORE_ALLOC_H

#include <stddef.h>

void *tlsplug__malloc(size_t n);
void *tlsplug__calloc(size_t count, size_t size);
void *tlsplug__realloc(void *p, size_t n);
void tlsplug__free(void *p);
char *tlsplug__strdup(const char *s); /* NULL in, NULL out */
void *tlsplug__memdup(const void *p, size_t n);

#endif
