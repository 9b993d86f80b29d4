/* A look at the client's first record, for what mbedTLS 2.28 ignores: the
 * supported_versions extension (RFC 8446 4.2.1).  A TLS 1.3-only client
 * offers TLS 1.2 nowhere but in the legacy version field; other servers
 * answer protocol_version, mbedTLS would negotiate TLS 1.2 or fail with "no
 * cipher in common". */
#include "mbed_int.h"

#define EXT_SUPPORTED_VERSIONS 43

typedef struct rd {
    const unsigned char *p, *end;
} rd;

static int take(rd *r, size_t n, const unsigned char **out)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    if (out)
        *out = r->p;
    r->p += n;
    return 0;
}

static int num(rd *r, size_t bytes, size_t *v)
{
    const unsigned char *b;
    if (take(r, bytes, &b))
        return -1;
    *v = 0;
    for (size_t i = 0; i < bytes; i++)
        *v = *v << 8 | b[i];
    return 0;
}

/* Skip a vector with a length prefix of the given size. */
static int skip_vec(rd *r, size_t len_bytes)
{
    size_t n;
    return num(r, len_bytes, &n) || take(r, n, NULL) ? -1 : 0;
}

int tlsplug__mbed_hello_lacks_tls12(const unsigned char *rec, size_t len)
{
    rd r = {rec, rec + len};
    size_t type, ver, rec_len, hs_type, hs_len, ext_len;
    if (num(&r, 1, &type) || type != 22 || num(&r, 2, &ver) || num(&r, 2, &rec_len) ||
        rec_len != len - 5)
        return 0;
    if (num(&r, 1, &hs_type) || hs_type != 1 || num(&r, 3, &hs_len) ||
        hs_len > (size_t)(r.end - r.p))
        return 0; /* not a ClientHello, or one spread over several records */
    r.end = r.p + hs_len;
    if (take(&r, 2 + 32, NULL) || skip_vec(&r, 1) || skip_vec(&r, 2) || skip_vec(&r, 1) ||
        num(&r, 2, &ext_len) || ext_len > (size_t)(r.end - r.p))
        return 0;
    r.end = r.p + ext_len;
    while (r.p < r.end) {
        size_t et, el;
        const unsigned char *data;
        if (num(&r, 2, &et) || num(&r, 2, &el) || take(&r, el, &data))
            return 0;
        if (et != EXT_SUPPORTED_VERSIONS)
            continue;
        rd v = {data, data + el};
        size_t list;
        if (num(&v, 1, &list) || list != el - 1 || list % 2)
            return 0;
        while (v.p < v.end) {
            size_t one;
            (void)num(&v, 2, &one);
            if (one == 0x0303)
                return 0;
        }
        return 1;
    }
    return 0;
}
