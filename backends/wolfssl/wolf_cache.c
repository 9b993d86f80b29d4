/* The server's TLS 1.2 session cache, one per tlsplug context.  wolfSSL's own
 * cache is one table for the whole process and 5.5.4 does not check the
 * session id context on lookup: a session made with one context resumed on
 * any other, skipping that context's client certificate requirement.  So
 * the internal cache is off and this one is plugged in through the
 * HAVE_EXT_CACHE callbacks. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "backends/wolfssl/wolfssl_int.h"

#define CACHE_SLOTS 256

struct wolf_cache {
    pthread_mutex_t lock;
    unsigned next;
    struct {
        unsigned char id[32];
        unsigned id_len;
        WOLFSSL_SESSION *sess;
    } slot[CACHE_SLOTS];
};

static struct wolf_cache *cache_of(WOLFSSL *ssl)
{
    /* Only tlsplug's own sessions (IO context set in sess_new) get here. */
    struct wsess *s = wolfSSL_GetIOReadCtx(ssl);
    return s && s->side == TLSPLUG_SIDE_SERVER ? s->wc->cache : NULL;
}

static int expired(WOLFSSL_SESSION *sess)
{
    long born = wolfSSL_SESSION_get_time(sess), life = wolfSSL_SESSION_get_timeout(sess);
    return (long)time(NULL) - born > life;
}

/* wolfSSL hands over a reference of its own: keep it (1). */
static int cache_new(WOLFSSL *ssl, WOLFSSL_SESSION *sess)
{
    struct wolf_cache *c = cache_of(ssl);
    unsigned int len = 0;
    const unsigned char *id = wolfSSL_SESSION_get_id(sess, &len);
    if (!c || !id || len == 0 || len > sizeof c->slot[0].id)
        return 0;
    pthread_mutex_lock(&c->lock);
    unsigned k = CACHE_SLOTS;
    for (unsigned i = 0; i < CACHE_SLOTS && k == CACHE_SLOTS; i++)
        if (c->slot[i].sess && c->slot[i].id_len == len && !memcmp(c->slot[i].id, id, len))
            k = i;
    if (k == CACHE_SLOTS) {
        k = c->next; /* the oldest slot */
        c->next = (c->next + 1) % CACHE_SLOTS;
    }
    WOLFSSL_SESSION *old = c->slot[k].sess;
    memcpy(c->slot[k].id, id, len);
    c->slot[k].id_len = len;
    c->slot[k].sess = sess;
    pthread_mutex_unlock(&c->lock);
    if (old)
        wolfSSL_SESSION_free(old);
    return 1;
}

/* Returns a reference for wolfSSL to drop (copy = 0): the slot may be
 * reused by another thread as soon as the lock is released. */
static WOLFSSL_SESSION *cache_get(WOLFSSL *ssl, const unsigned char *id, int len, int *copy)
{
    struct wolf_cache *c = cache_of(ssl);
    WOLFSSL_SESSION *found = NULL, *stale = NULL;
    *copy = 0;
    if (!c || len <= 0)
        return NULL;
    pthread_mutex_lock(&c->lock);
    for (unsigned i = 0; i < CACHE_SLOTS && !found && !stale; i++) {
        if (!c->slot[i].sess || c->slot[i].id_len != (unsigned)len ||
            memcmp(c->slot[i].id, id, (size_t)len) != 0)
            continue;
        if (expired(c->slot[i].sess)) {
            stale = c->slot[i].sess;
            c->slot[i].sess = NULL;
        } else if (wolfSSL_SESSION_up_ref(c->slot[i].sess) == WOLFSSL_SUCCESS) {
            found = c->slot[i].sess;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (stale)
        wolfSSL_SESSION_free(stale);
    return found;
}

struct wolf_cache *tlsplug__wolf_cache_new(WOLFSSL_CTX *ctx)
{
    struct wolf_cache *c = tlsplug__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        tlsplug__free(c);
        return NULL;
    }
    wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_SERVER |
                                                WOLFSSL_SESS_CACHE_NO_INTERNAL);
    wolfSSL_CTX_sess_set_new_cb(ctx, cache_new);
    wolfSSL_CTX_sess_set_get_cb(ctx, cache_get);
    return c;
}

void tlsplug__wolf_cache_free(struct wolf_cache *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        if (c->slot[i].sess)
            wolfSSL_SESSION_free(c->slot[i].sess);
    pthread_mutex_destroy(&c->lock);
    tlsplug__free(c);
}
