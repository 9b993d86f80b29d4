/* A few spare record buffers, shared by every connection of the process.
 *
 * Core gives a connection's empty ciphertext buffers back at every pause, so
 * that 10,000 idle connections do not hold 37 KiB each; a busy connection
 * then takes two fresh ones for every round trip.  Allocating and freeing
 * two 18 KiB blocks per round trip per end was a tenth of the server's
 * instructions per echoed message.  The spares make that a lock and a
 * pointer swap, and stay bounded: at most BUFCACHE_MAX buffers, and none
 * once the last connection is gone (tests and applications that count the
 * allocator's live bytes see nothing of it between connections). */
#include <pthread.h>

#include "core/internal.h"

#define BUFCACHE_MAX 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *spare[BUFCACHE_MAX];
static int nspare;
static long users; /* live connections */

void *tlsplug__recbuf_get(void)
{
    void *p = NULL;
    pthread_mutex_lock(&lock);
    if (nspare)
        p = spare[--nspare];
    pthread_mutex_unlock(&lock);
    return p ? p : tlsplug__malloc(TLSPLUG_RECBUF_CAP);
}

void tlsplug__recbuf_put(void *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&lock);
    if (users > 0 && nspare < BUFCACHE_MAX) {
        spare[nspare++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&lock);
    tlsplug__free(p);
}

void tlsplug__recbuf_users(int delta)
{
    void *drop[BUFCACHE_MAX];
    int n = 0;
    pthread_mutex_lock(&lock);
    users += delta;
    if (users <= 0) {
        users = 0;
        while (nspare)
            drop[n++] = spare[--nspare];
    }
    pthread_mutex_unlock(&lock);
    while (n)
        tlsplug__free(drop[--n]);
}
