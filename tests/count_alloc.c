#define _GNU_SOURCE 1 /* dl_iterate_phdr, RTLD_DEFAULT */
#include <dlfcn.h>
#include <link.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tlsplug/tlsplug.h"
#include "count_alloc.h"

/* A header in front of every block: a magic number catches a block freed
 * here that some other allocator made (a mismatch the hook must never
 * cause), and keeps the caller's memory aligned like malloc's. */
#define MAGIC 0x746c73706c7567UL /* "tlsplug" */
#define DEAD 0xdeadUL

typedef union header {
    max_align_t align;
    struct {
        size_t magic;
        size_t lib; /* 1: a library's block */
    } h;
} header;

static size_t live, live_own, events, countdown;
static int failed, failed_lib;
static int (*classify)(void *pc);

static unsigned char *rec;
static size_t rec_len, rec_cap;
static int recording;

static void remember(int lib)
{
    if (!recording)
        return;
    if (rec_len == rec_cap) {
        size_t cap = rec_cap ? rec_cap * 2 : 4096;
        unsigned char *p = realloc(rec, cap);
        if (!p)
            return;
        rec = p;
        rec_cap = cap;
    }
    rec[rec_len++] = (unsigned char)lib;
}

/* Counts the event; 1 if this one is to fail. */
static int should_fail(int lib)
{
    events++;
    remember(lib);
    if (!countdown || --countdown)
        return 0;
    failed = 1;
    failed_lib = lib;
    return 1;
}

static header *check(void *p)
{
    header *h = (header *)p - 1;
    if (h->h.magic != MAGIC) {
        fprintf(stderr, "count_alloc: block %p was not allocated by the hook (magic %zx)\n", p,
                h->h.magic);
        abort();
    }
    return h;
}

static void *alloc_block(size_t n, int lib)
{
    if (should_fail(lib))
        return NULL;
    header *h = malloc(sizeof *h + n);
    if (!h)
        return NULL;
    h->h.magic = MAGIC;
    h->h.lib = (size_t)lib;
    live++;
    live_own += !lib;
    return h + 1;
}

static void *ca_malloc(size_t n)
{
    return alloc_block(n, classify ? classify(__builtin_return_address(0)) : 0);
}

static void ca_free(void *p)
{
    if (!p)
        return;
    header *h = check(p);
    h->h.magic = DEAD;
    live--;
    live_own -= !h->h.lib;
    free(h);
}

static void *ca_realloc(void *p, size_t n)
{
    int lib = classify ? classify(__builtin_return_address(0)) : 0;
    if (!p)
        return alloc_block(n, lib);
    if (n == 0) {
        ca_free(p);
        return NULL;
    }
    check(p);
    if (should_fail(lib))
        return NULL;
    header *nh = realloc((header *)p - 1, sizeof *nh + n);
    if (!nh)
        return NULL;
    return nh + 1;
}

int count_alloc_install(void)
{
    return tlsplug_set_allocator(ca_malloc, ca_realloc, ca_free);
}

void count_alloc_set_classifier(int (*is_library)(void *pc))
{
    classify = is_library;
}

size_t count_alloc_live(void)
{
    return live;
}

size_t count_alloc_live_own(void)
{
    return live_own;
}

size_t count_alloc_events(void)
{
    return events;
}

void count_alloc_fail_at(size_t n)
{
    countdown = n;
    failed = failed_lib = 0;
}

int count_alloc_failed(void)
{
    return failed;
}

int count_alloc_failed_in_library(void)
{
    return failed_lib;
}

void count_alloc_record(int on)
{
    recording = on;
    if (on)
        rec_len = 0;
}

int count_alloc_recorded(size_t i)
{
    return i >= 1 && i <= rec_len ? rec[i - 1] : -1;
}

/* tlsplug is linked into the test program and the libraries are shared
 * objects, so the return address of a hook call tells who asked: outside
 * the program's text it is a library (wolfSSL calls the hook itself; OpenSSL
 * through tlsplug's trampolines, which tail-call it at -O2).  Where the
 * trampolines are frames of their own (-O0/-O1), their addresses come from
 * CRYPTO_get_mem_functions. */
static uintptr_t text_lo = UINTPTR_MAX, text_hi;
static uintptr_t tramp[3];

static int find_text(struct dl_phdr_info *info, size_t size, void *arg)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (lo < text_lo)
            text_lo = lo;
        if (hi > text_hi)
            text_hi = hi;
    }
    return 1; /* the first object is the program itself */
}

static int by_caller(void *pc)
{
    uintptr_t a = (uintptr_t)pc;
    if (a < text_lo || a >= text_hi)
        return 1;
    for (int i = 0; i < 3; i++)
        if (tramp[i] && a >= tramp[i] && a < tramp[i] + 96)
            return 1;
    return 0;
}

void count_alloc_classify_by_caller(void)
{
    dl_iterate_phdr(find_text, NULL);
    typedef void (*get_fns)(void **, void **, void **);
    get_fns get = (get_fns)dlsym(RTLD_DEFAULT, "CRYPTO_get_mem_functions");
    if (get) {
        void *m = NULL, *r = NULL, *f = NULL;
        get(&m, &r, &f);
        tramp[0] = (uintptr_t)m;
        tramp[1] = (uintptr_t)r;
        tramp[2] = (uintptr_t)f;
    }
    count_alloc_set_classifier(by_caller);
}
