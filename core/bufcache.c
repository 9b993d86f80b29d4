/* A few spare record buffers, shared by every connection of the process.
 *
 * Core gives a connection's empty ciphertext buffers back at every pause, so
 * that 10,000 idle connections do not hold 37 KiB each; a busy connection
 * then takes two fresh ones for every round trip.  Allocating and freeing
 * two 18 KiB blocks per round trip per end was a tenth of the server's
 * instructions per echoed message.  The spares make that a pointer swap, and stay bounded: at most BUFCACHE_MAX buffers, and none
 * once the last connection is gone (tests and applications that count the
 * allocator's live bytes see nothing of it between connections). */
#include <stdatomic.h>

#include "core/internal.h"

#define BUFCACHE_MAX 4

/* A spin lock: it is held for a few instructions and never across a call,
 * and a mutex's lock and unlock stood out in the profile of a small round
 * trip, which takes and gives buffers four times. */
static atomic_flag lock_flag = ATOMIC_FLAG_INIT;

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&lock_flag, memory_order_acquire))
        ;
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&lock_flag, memory_order_release);
}

static void *spare[BUFCACHE_MAX];
static int nspare;
static long users; /* live connections */

void *tlsplug__recbuf_get(void)
{
    void *p = NULL;
    lock();
    if (nspare)
        p = spare[--nspare];
    unlock();
    return p ? p : tlsplug__malloc(TLSPLUG_RECBUF_CAP);
}

void tlsplug__recbuf_put(void *p)
{
    if (!p)
        return;
    lock();
    if (users > 0 && nspare < BUFCACHE_MAX) {
        spare[nspare++] = p;
        p = NULL;
    }
    unlock();
    tlsplug__free(p);
}

void tlsplug__recbuf_users(int delta)
{
    void *drop[BUFCACHE_MAX];
    int n = 0;
    lock();
    users += delta;
    if (users <= 0) {
        users = 0;
        while (nspare)
            drop[n++] = spare[--nspare];
    }
    unlock();
    while (n)
        tlsplug__free(drop[--n]);
}
