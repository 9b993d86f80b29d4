/* Certificate/key match for ECC keys: wolfSSL 5.5.4's
 * wolfSSL_CTX_check_private_key accepts any P-256 key for a P-256
 * certificate, so the public point is derived from the private scalar and
 * compared with the certificate's. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <string.h>

#include "backends/wolfssl/wolfssl_int.h"

#define MAX_POINT (2 * 66 + 1)

/* The certificate's public point, or -1 (not ECC) / -2 (unreadable).
 * *group gets the IANA group of its curve (0 if not one tlsplug knows). */
static int cert_point(const tlsplug_bytes *cert_pem, uint8_t *out, word32 *out_len,
                      uint16_t *group)
{
    *group = 0;
    int ret = -2;
    int der_cap = (int)cert_pem->len;
    uint8_t *der = tlsplug__malloc((size_t)der_cap);
    DecodedCert *dc = tlsplug__malloc(sizeof *dc);
    ecc_key *pub = tlsplug__malloc(sizeof *pub);
    uint8_t *spki = tlsplug__malloc((size_t)der_cap);
    if (!der || !dc || !pub || !spki) {
        ret = -3; /* out of memory, not a mismatch */
        goto out;
    }
    int der_len = wc_CertPemToDer(cert_pem->data, (int)cert_pem->len, der, der_cap, CERT_TYPE);
    if (der_len <= 0)
        goto out;
    wc_InitDecodedCert(dc, der, (word32)der_len, NULL);
    if (wc_ParseCert(dc, CERT_TYPE, NO_VERIFY, NULL) == 0) {
        word32 spki_len = (word32)der_cap, idx = 0;
        if (dc->keyOID != ECDSAk)
            ret = -1;
        else if (wc_GetPubKeyDerFromCert(dc, spki, &spki_len) == 0 && wc_ecc_init(pub) == 0) {
            if (wc_EccPublicKeyDecode(spki, &idx, pub, spki_len) == 0 &&
                wc_ecc_export_x963(pub, out, out_len) == 0) {
                ret = 0;
                if (pub->dp)
                    *group = pub->dp->id == ECC_SECP256R1   ? WOLFSSL_ECC_SECP256R1
                             : pub->dp->id == ECC_SECP384R1 ? WOLFSSL_ECC_SECP384R1
                             : pub->dp->id == ECC_SECP521R1 ? WOLFSSL_ECC_SECP521R1
                                                            : 0;
            }
            wc_ecc_free(pub);
        }
    }
    wc_FreeDecodedCert(dc);
out:
    tlsplug__free(der);
    tlsplug__free(dc);
    tlsplug__free(pub);
    tlsplug__free(spki);
    return ret;
}

/* The point of the private key's own scalar (not the optional copy stored
 * next to it, which a mismatched file could carry too). */
static int key_point(const tlsplug_bytes *key_pem, const char *password, uint8_t *out,
                     word32 *out_len)
{
    int ret = -2;
    int der_cap = (int)key_pem->len;
    uint8_t *der = tlsplug__malloc((size_t)der_cap);
    ecc_key *key = tlsplug__malloc(sizeof *key);
    if (!der || !key) {
        ret = -3; /* out of memory, not a mismatch */
        goto out;
    }
    int der_len = wc_KeyPemToDer(key_pem->data, (int)key_pem->len, der, der_cap, password);
    if (der_len <= 0 || wc_ecc_init(key) != 0)
        goto out;
    word32 idx = 0;
    if (wc_GetPkcs8TraditionalOffset(der, &idx, (word32)der_len) < 0)
        idx = 0;
    if (wc_EccPrivateKeyDecode(der, &idx, key, (word32)der_len) == 0 &&
        wc_ecc_make_pub(key, NULL) == 0 && wc_ecc_export_x963(key, out, out_len) == 0)
        ret = 0;
    wc_ecc_free(key);
out:
    if (der)
        memset(der, 0, (size_t)der_cap);
    tlsplug__free(der);
    tlsplug__free(key);
    return ret;
}

int tlsplug__wolf_ecc_key_matches(const tlsplug_bytes *cert_pem, const tlsplug_bytes *key_pem,
                                  const char *password)
{
    uint8_t cp[MAX_POINT], kp[MAX_POINT];
    word32 cl = sizeof cp, kl = sizeof kp;
    uint16_t group;
    int r = cert_point(cert_pem, cp, &cl, &group);
    if (r == -1 || r == -3)
        return r;
    if (r < 0)
        return 0;
    r = key_point(key_pem, password, kp, &kl);
    if (r == -3)
        return r;
    if (r < 0)
        return 0;
    return cl == kl && memcmp(cp, kp, cl) == 0;
}

uint16_t tlsplug__wolf_cert_group(const tlsplug_bytes *cert_pem)
{
    uint8_t cp[MAX_POINT];
    word32 cl = sizeof cp;
    uint16_t group;
    return cert_point(cert_pem, cp, &cl, &group) == 0 ? group : 0;
}
