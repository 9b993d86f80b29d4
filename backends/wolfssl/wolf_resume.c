/* The client's last saved session, kept as the wolfSSL object it was saved
 * from.  Offering core's copy of the bytes means wolfSSL_d2i_SSL_SESSION,
 * whose wolfSSL_SESSION_new zeroes a 37 KB object for every resumed
 * handshake; a wolfSSL user keeps the object instead.
 *
 * The object is the saving connection's own session (its reference from
 * wolfSSL_get1_session).  It is offered only once that connection is freed
 * (nothing writes to it then: wolfSSL_set_session copies the session it is
 * given) and only when it serialises to exactly the bytes being offered.
 * Decoding those bytes gives the same object, byte for byte but for the
 * pointer to its own ticket buffer (wolfSSL 5.5.4, TLS 1.2 and 1.3). */
#include <pthread.h>
#include <string.h>

#include "backends/wolfssl/wolfssl_int.h"

/* Sessions up to this size are compared without an allocation. */
#define DER_ON_STACK 4096

struct wolf_resume {
    pthread_mutex_t lock;
    WOLFSSL_SESSION *sess;
    const struct wsess *owner; /* the live connection it belongs to, or NULL */
};

struct wolf_resume *tlsplug__wolf_resume_new(void)
{
    struct wolf_resume *r = tlsplug__calloc(1, sizeof *r);
    if (r && pthread_mutex_init(&r->lock, NULL) != 0) {
        tlsplug__free(r);
        r = NULL;
    }
    return r;
}

void tlsplug__wolf_resume_free(struct wolf_resume *r)
{
    if (!r)
        return;
    if (r->sess)
        wolfSSL_SESSION_free(r->sess);
    pthread_mutex_destroy(&r->lock);
    tlsplug__free(r);
}

void tlsplug__wolf_resume_keep(struct wolf_resume *r, const struct wsess *owner,
                               WOLFSSL_SESSION *sess)
{
    WOLFSSL_SESSION *old = sess;
    if (r) {
        pthread_mutex_lock(&r->lock);
        old = r->sess;
        r->sess = sess;
        r->owner = owner;
        pthread_mutex_unlock(&r->lock);
    }
    if (old)
        wolfSSL_SESSION_free(old);
}

void tlsplug__wolf_resume_release(struct wolf_resume *r, const struct wsess *owner)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    if (r->owner == owner)
        r->owner = NULL;
    pthread_mutex_unlock(&r->lock);
}

/* 1 if sess serialises to der. */
static int same_der(WOLFSSL_SESSION *sess, const uint8_t *der, size_t len)
{
    int n = wolfSSL_i2d_SSL_SESSION(sess, NULL);
    if (n <= 0 || (size_t)n != len)
        return 0;
    uint8_t small[DER_ON_STACK];
    uint8_t *buf = len <= sizeof small ? small : tlsplug__malloc(len);
    unsigned char *q = buf;
    int same = buf && wolfSSL_i2d_SSL_SESSION(sess, &q) == n && memcmp(buf, der, len) == 0;
    if (buf != small)
        tlsplug__free(buf);
    return same;
}

WOLFSSL_SESSION *tlsplug__wolf_resume_find(struct wolf_resume *r, const uint8_t *der,
                                           size_t len)
{
    if (!r)
        return NULL;
    WOLFSSL_SESSION *sess = NULL;
    pthread_mutex_lock(&r->lock);
    if (r->sess && !r->owner && wolfSSL_SESSION_up_ref(r->sess) == WOLFSSL_SUCCESS)
        sess = r->sess;
    pthread_mutex_unlock(&r->lock);
    /* With the reference taken and no owner left, nothing changes it. */
    if (sess && !same_der(sess, der, len)) {
        wolfSSL_SESSION_free(sess);
        sess = NULL;
    }
    return sess;
}
