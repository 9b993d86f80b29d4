/* A counting allocator for tlsplug_set_allocator, shared by the fault and
 * allocation-failure tests: it counts live blocks (so a test can assert that
 * nothing leaked) and can fail one chosen allocation.  tlsplug hands the same
 * functions to the libraries that take an allocator (OpenSSL, wolfSSL), so a
 * classifier, given the return address of each call, tells tlsplug's own
 * blocks from the library's. */
#ifndef TLSPLUG_TESTS_COUNT_ALLOC_H
#define TLSPLUG_TESTS_COUNT_ALLOC_H

#include <stddef.h>

/* Hands the allocator to tlsplug (and, through it, to the backends that take
 * one).  Must run before anything else allocates through tlsplug; returns
 * tlsplug_set_allocator's result. */
int count_alloc_install(void);

/* Returns 1 if the allocation called from pc is a library's; NULL (the
 * default): every block counts as tlsplug's. */
void count_alloc_set_classifier(int (*is_library)(void *pc));

/* The classifier for tests linked with tlsplug_static: a call from outside
 * the program's own text (or through OpenSSL's trampolines) is a
 * library's. */
void count_alloc_classify_by_caller(void);

/* Blocks currently allocated through the hook: all, and tlsplug's own. */
size_t count_alloc_live(void);
size_t count_alloc_live_own(void);
/* Allocation events (malloc, and realloc of a block or of NULL) so far. */
size_t count_alloc_events(void);

/* Fail the n-th allocation event from now on (1 = the next one); 0 disables.
 * Only that one fails; later ones succeed again. */
void count_alloc_fail_at(size_t n);
/* 1 once the armed failure was injected, and whether a library asked. */
int count_alloc_failed(void);
int count_alloc_failed_in_library(void);

/* Record, from now on, whether each event is a library's (recording stops
 * at the next call with on = 0).  count_alloc_recorded(i) for the i-th event
 * since recording started (1-based): 1 library, 0 tlsplug, -1 unknown. */
void count_alloc_record(int on);
int count_alloc_recorded(size_t i);

#endif
