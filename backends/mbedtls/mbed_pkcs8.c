/* PKCS#8 keys encrypted with PBES2 + AES-CBC, the format `openssl pkey
 * -aes256` and OpenSSL 3 write by default.  mbedTLS 2.28 decrypts PBES2 only
 * with DES / 3DES and answers PKCS5_FEATURE_UNAVAILABLE for AES; the pieces
 * it does have (PEM, ASN.1, PBKDF2, AES-CBC) are put together here, after
 * RFC 8018, and the decrypted key goes back to mbedtls_pk_parse_key. */
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/cipher.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform.h>
#include <mbedtls/platform_util.h>

#include "mbed_int.h"

#define SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

static int aes_cbc_type(const mbedtls_asn1_buf *oid, mbedtls_cipher_type_t *type)
{
    static const struct {
        const char *oid;
        mbedtls_cipher_type_t type;
    } aes[] = {
        {MBEDTLS_OID_AES "\x02", MBEDTLS_CIPHER_AES_128_CBC},
        {MBEDTLS_OID_AES "\x16", MBEDTLS_CIPHER_AES_192_CBC},
        {MBEDTLS_OID_AES "\x2a", MBEDTLS_CIPHER_AES_256_CBC},
    };
    for (size_t i = 0; i < sizeof aes / sizeof aes[0]; i++) {
        size_t len = strlen(aes[i].oid);
        if (oid->len == len && memcmp(oid->p, aes[i].oid, len) == 0) {
            *type = aes[i].type;
            return 0;
        }
    }
    return MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE;
}

typedef struct pbes2 {
    const unsigned char *salt;
    size_t salt_len;
    int iterations;
    mbedtls_md_type_t prf;
    mbedtls_cipher_type_t cipher;
    const unsigned char *iv;
    size_t iv_len;
    const unsigned char *data;
    size_t data_len;
} pbes2;

/* EncryptedPrivateKeyInfo with PBES2(PBKDF2, aes-*-cbc). */
static int parse_info(unsigned char *p, const unsigned char *end, pbes2 *out)
{
    size_t len;
    mbedtls_asn1_buf oid, params, kdf_oid, kdf, enc_oid, enc;
    if (mbedtls_asn1_get_tag(&p, end, &len, SEQ) != 0)
        return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
    end = p + len;
    if (mbedtls_asn1_get_alg(&p, end, &oid, &params) != 0 || params.tag != SEQ)
        return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_PKCS5_PBES2, &oid) != 0)
        return MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE;

    unsigned char *q = params.p;
    const unsigned char *qend = params.p + params.len;
    if (mbedtls_asn1_get_alg(&q, qend, &kdf_oid, &kdf) != 0 || kdf.tag != SEQ ||
        mbedtls_asn1_get_alg(&q, qend, &enc_oid, &enc) != 0)
        return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_PKCS5_PBKDF2, &kdf_oid) != 0 ||
        aes_cbc_type(&enc_oid, &out->cipher) != 0)
        return MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE;
    if (enc.tag != MBEDTLS_ASN1_OCTET_STRING || enc.len != 16)
        return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
    out->iv = enc.p;
    out->iv_len = enc.len;

    /* PBKDF2-params: salt, iterationCount, keyLength OPTIONAL, prf DEFAULT
     * hmacWithSHA1. */
    unsigned char *r = kdf.p;
    const unsigned char *rend = kdf.p + kdf.len;
    if (mbedtls_asn1_get_tag(&r, rend, &len, MBEDTLS_ASN1_OCTET_STRING) != 0)
        return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
    out->salt = r;
    out->salt_len = len;
    r += len;
    if (mbedtls_asn1_get_int(&r, rend, &out->iterations) != 0 || out->iterations <= 0)
        return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
    int keylen = 0;
    if (r < rend && *r == MBEDTLS_ASN1_INTEGER && mbedtls_asn1_get_int(&r, rend, &keylen) != 0)
        return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
    out->prf = MBEDTLS_MD_SHA1;
    if (r < rend) {
        mbedtls_asn1_buf prf_oid, prf_params;
        if (mbedtls_asn1_get_alg(&r, rend, &prf_oid, &prf_params) != 0)
            return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
        if (mbedtls_oid_get_md_hmac(&prf_oid, &out->prf) != 0)
            return MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE;
    }
    const mbedtls_cipher_info_t *ci = mbedtls_cipher_info_from_type(out->cipher);
    if (!ci || (keylen && (unsigned)keylen * 8 != ci->key_bitlen))
        return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;

    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0 || len == 0)
        return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
    out->data = p;
    out->data_len = len;
    return 0;
}

static int decrypt(const pbes2 *e, const char *pw, unsigned char *out, size_t *out_len)
{
    const mbedtls_cipher_info_t *ci = mbedtls_cipher_info_from_type(e->cipher);
    const mbedtls_md_info_t *mi = mbedtls_md_info_from_type(e->prf);
    if (!ci || !mi)
        return MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE;
    unsigned char key[32];
    size_t key_len = ci->key_bitlen / 8;
    mbedtls_md_context_t md;
    mbedtls_cipher_context_t c;
    mbedtls_md_init(&md);
    mbedtls_cipher_init(&c);
    int ret = mbedtls_md_setup(&md, mi, 1);
    if (ret == 0)
        ret = mbedtls_pkcs5_pbkdf2_hmac(&md, (const unsigned char *)pw, strlen(pw), e->salt,
                                        e->salt_len, (unsigned)e->iterations, (uint32_t)key_len,
                                        key);
    if (ret == 0)
        ret = mbedtls_cipher_setup(&c, ci);
    if (ret == 0)
        ret = mbedtls_cipher_setkey(&c, key, (int)ci->key_bitlen, MBEDTLS_DECRYPT);
    if (ret == 0)
        ret = mbedtls_cipher_crypt(&c, e->iv, e->iv_len, e->data, e->data_len, out, out_len);
    /* A wrong password shows up as bad padding. */
    if (ret == MBEDTLS_ERR_CIPHER_INVALID_PADDING)
        ret = MBEDTLS_ERR_PK_PASSWORD_MISMATCH;
    mbedtls_platform_zeroize(key, sizeof key);
    mbedtls_cipher_free(&c);
    mbedtls_md_free(&md);
    return ret;
}

int tlsplug__mbed_parse_pbes2_key(mbedtls_pk_context *pk, const unsigned char *pem_text,
                                  const char *pw)
{
    mbedtls_pem_context pem;
    size_t used;
    mbedtls_pem_init(&pem);
    int ret = mbedtls_pem_read_buffer(&pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----",
                                      "-----END ENCRYPTED PRIVATE KEY-----", pem_text, NULL, 0,
                                      &used);
    if (ret != 0) {
        mbedtls_pem_free(&pem);
        return MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE;
    }
    pbes2 e;
    ret = parse_info(pem.buf, pem.buf + pem.buflen, &e);
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    if (ret == 0) {
        /* CBC output is at most the input plus one block. */
        plain = mbedtls_calloc(1, e.data_len + 16);
        ret = plain ? decrypt(&e, pw, plain, &plain_len) : MBEDTLS_ERR_PK_ALLOC_FAILED;
    }
    if (ret == 0) {
        ret = mbedtls_pk_parse_key(pk, plain, plain_len, NULL, 0);
        /* The padding was right by chance but the key is garbage. */
        if (ret != 0 && ret != MBEDTLS_ERR_PK_ALLOC_FAILED)
            ret = MBEDTLS_ERR_PK_PASSWORD_MISMATCH;
    }
    if (plain) {
        mbedtls_platform_zeroize(plain, e.data_len + 16);
        mbedtls_free(plain);
    }
    mbedtls_pem_free(&pem);
    return ret;
}
