/* The server's session cache.  GnuTLS leaves it to the application (db
 * callbacks); a bounded ring is enough: the oldest session is dropped first,
 * and the lock is there because contexts are shared by threads. */
#include <pthread.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "core/backend.h"
#include "backends/gnutls/gnutls_int.h"

#define GT_CACHE_SLOTS 1024

struct gt_cache_slot {
    uint8_t *key;
    size_t klen;
    uint8_t *val;
    size_t vlen;
};

struct gt_cache {
    pthread_mutex_t mu;
    size_t next;
    struct gt_cache_slot slot[GT_CACHE_SLOTS];
};

static void cache_slot_clear(struct gt_cache_slot *sl)
{
    tlsplug__free(sl->key);
    tlsplug__free(sl->val);
    memset(sl, 0, sizeof *sl);
}

static struct gt_cache_slot *cache_find(struct gt_cache *c, const gnutls_datum_t *key)
{
    for (size_t i = 0; i < GT_CACHE_SLOTS; i++) {
        struct gt_cache_slot *sl = &c->slot[i];
        if (sl->key && sl->klen == key->size && memcmp(sl->key, key->data, key->size) == 0)
            return sl;
    }
    return NULL;
}

static int cache_store(void *ptr, gnutls_datum_t key, gnutls_datum_t data)
{
    struct gt_cache *c = ptr;
    uint8_t *k = tlsplug__memdup(key.data, key.size);
    uint8_t *v = tlsplug__memdup(data.data, data.size);
    if (!k || !v || key.size == 0) {
        tlsplug__free(k);
        tlsplug__free(v);
        return -1;
    }
    pthread_mutex_lock(&c->mu);
    struct gt_cache_slot *sl = cache_find(c, &key);
    if (!sl) {
        sl = &c->slot[c->next];
        c->next = (c->next + 1) % GT_CACHE_SLOTS;
    }
    cache_slot_clear(sl);
    sl->key = k;
    sl->klen = key.size;
    sl->val = v;
    sl->vlen = data.size;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static gnutls_datum_t cache_retrieve(void *ptr, gnutls_datum_t key)
{
    struct gt_cache *c = ptr;
    gnutls_datum_t out = {NULL, 0};
    pthread_mutex_lock(&c->mu);
    struct gt_cache_slot *sl = cache_find(c, &key);
    /* GnuTLS frees what we return with gnutls_free. */
    if (sl && (out.data = gnutls_malloc(sl->vlen)) != NULL) {
        memcpy(out.data, sl->val, sl->vlen);
        out.size = (unsigned)sl->vlen;
    }
    pthread_mutex_unlock(&c->mu);
    return out;
}

static int cache_remove(void *ptr, gnutls_datum_t key)
{
    struct gt_cache *c = ptr;
    pthread_mutex_lock(&c->mu);
    struct gt_cache_slot *sl = cache_find(c, &key);
    if (sl)
        cache_slot_clear(sl);
    pthread_mutex_unlock(&c->mu);
    return sl ? 0 : -1;
}

struct gt_cache *tlsplug__gnutls_cache_new(void)
{
    struct gt_cache *c = tlsplug__calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->mu, NULL) != 0) {
        tlsplug__free(c);
        c = NULL;
    }
    return c;
}

void tlsplug__gnutls_cache_free(struct gt_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < GT_CACHE_SLOTS; i++)
        cache_slot_clear(&c->slot[i]);
    pthread_mutex_destroy(&c->mu);
    tlsplug__free(c);
}

void tlsplug__gnutls_cache_attach(struct gt_cache *c, gnutls_session_t s)
{
    gnutls_db_set_ptr(s, c);
    gnutls_db_set_store_function(s, cache_store);
    gnutls_db_set_retrieve_function(s, cache_retrieve);
    gnutls_db_set_remove_function(s, cache_remove);
}
