/* Certificate helpers for what mbedTLS 2.28 lacks: IP address SANs, telling
 * a bad signature from a missing issuer, and RFC 4514 subject strings. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509.h>

#include "mbed_int.h"

int tlsplug__mbed_ip_matches(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t len)
{
    /* 2.28 keeps every SAN entry raw but matches dNSName only; IP SANs are
     * ours.  No CN fallback for addresses, as RFC 6125 says. */
    if (!(crt->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME))
        return 0;
    for (const mbedtls_x509_sequence *c = &crt->subject_alt_names; c; c = c->next)
        if (c->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS) &&
            c->buf.len == len && memcmp(c->buf.p, ip, len) == 0)
            return 1;
    return 0;
}

static int signed_by(mbedtls_x509_crt *child, mbedtls_x509_crt *parent)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(child->sig_md);
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    if (!md || !mbedtls_pk_can_do(&parent->pk, child->sig_pk) ||
        mbedtls_md(md, child->tbs.p, child->tbs.len, hash) != 0)
        return 0;
    return mbedtls_pk_verify_ext(child->sig_pk, child->sig_opts, &parent->pk, child->sig_md, hash,
                                 mbedtls_md_get_size(md), child->sig.p, child->sig.len) == 0;
}

/* mbedTLS reports a bad signature as NOT_TRUSTED, like a missing issuer.
 * Tell them apart: some certificate whose issuer is at hand (in the chain or
 * the trust store) but signed by none of the candidates. */
int tlsplug__mbed_bad_signature(mbedtls_x509_crt *chain, mbedtls_x509_crt *trust)
{
    for (mbedtls_x509_crt *c = chain; c && c->raw.p; c = c->next) {
        int found = 0;
        mbedtls_x509_crt *lists[2] = {chain, trust};
        for (int l = 0; l < 2; l++) {
            for (mbedtls_x509_crt *p = lists[l]; p && p->raw.p; p = p->next) {
                if (p->subject_raw.len != c->issuer_raw.len ||
                    memcmp(p->subject_raw.p, c->issuer_raw.p, c->issuer_raw.len) != 0)
                    continue;
                if (signed_by(c, p))
                    goto next;
                found = 1;
            }
        }
        if (found)
            return 1;
    next:;
    }
    return 0;
}

typedef struct outbuf {
    char *p;
    size_t cap, len;
} outbuf;

static void out_bytes(outbuf *o, const char *s, size_t n)
{
    while (n-- && o->len + 1 < o->cap)
        o->p[o->len++] = *s++;
    o->p[o->len] = '\0';
}

static void out_str(outbuf *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

static void out_hex(outbuf *o, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    char h[2] = {hex[c >> 4], hex[c & 15]};
    out_bytes(o, h, 2);
}

/* Attribute names as OpenSSL prints them in RFC 2253 mode. */
static const struct {
    unsigned char len;
    unsigned char oid[11];
    const char *name;
} attr_names[] = {
    {3, {0x55, 0x04, 0x03}, "CN"},
    {3, {0x55, 0x04, 0x04}, "SN"},
    {3, {0x55, 0x04, 0x05}, "serialNumber"},
    {3, {0x55, 0x04, 0x06}, "C"},
    {3, {0x55, 0x04, 0x07}, "L"},
    {3, {0x55, 0x04, 0x08}, "ST"},
    {3, {0x55, 0x04, 0x09}, "street"},
    {3, {0x55, 0x04, 0x0A}, "O"},
    {3, {0x55, 0x04, 0x0B}, "OU"},
    {3, {0x55, 0x04, 0x0C}, "title"},
    {3, {0x55, 0x04, 0x0F}, "businessCategory"},
    {3, {0x55, 0x04, 0x11}, "postalCode"},
    {3, {0x55, 0x04, 0x2A}, "GN"},
    {3, {0x55, 0x04, 0x2B}, "initials"},
    {3, {0x55, 0x04, 0x2C}, "generationQualifier"},
    {3, {0x55, 0x04, 0x2E}, "dnQualifier"},
    {3, {0x55, 0x04, 0x41}, "pseudonym"},
    {3, {0x55, 0x04, 0x61}, "organizationIdentifier"},
    {11, {0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3C, 0x02, 0x01, 0x01}, "jurisdictionL"},
    {11, {0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3C, 0x02, 0x01, 0x02}, "jurisdictionST"},
    {11, {0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3C, 0x02, 0x01, 0x03}, "jurisdictionC"},
    {9, {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01}, "emailAddress"},
    {10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19}, "DC"},
    {10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x01}, "UID"},
};

static void out_ava(outbuf *o, const mbedtls_x509_name *a)
{
    const char *name = NULL;
    for (size_t i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++)
        if (a->oid.len == attr_names[i].len && memcmp(a->oid.p, attr_names[i].oid, a->oid.len) == 0)
            name = attr_names[i].name;
    if (!name) {
        /* Unknown attribute: dotted OID and the DER value in hex (RFC 4514). */
        char dotted[64];
        if (mbedtls_oid_get_numeric_string(dotted, sizeof dotted, &a->oid) < 0)
            snprintf(dotted, sizeof dotted, "?");
        out_str(o, dotted);
        out_str(o, "=#");
        out_hex(o, (unsigned char)a->val.tag);
        size_t l = a->val.len;
        if (l < 0x80) {
            out_hex(o, (unsigned char)l);
        } else {
            unsigned char lb[sizeof l];
            int k = 0;
            for (size_t v = l; v; v >>= 8)
                lb[k++] = (unsigned char)v;
            out_hex(o, (unsigned char)(0x80 | k));
            while (k--)
                out_hex(o, lb[k]);
        }
        for (size_t i = 0; i < a->val.len; i++)
            out_hex(o, a->val.p[i]);
        return;
    }
    out_str(o, name);
    out_str(o, "=");
    for (size_t i = 0; i < a->val.len; i++) {
        unsigned char c = a->val.p[i];
        int special = strchr(",+\"\\<>;", c) != NULL && c != '\0';
        if (special || (i == 0 && (c == '#' || c == ' ')) || (i + 1 == a->val.len && c == ' ')) {
            char e[2] = {'\\', (char)c};
            out_bytes(o, e, 2);
        } else if (c < 0x20 || c == 0x7F) {
            out_str(o, "\\");
            out_hex(o, c);
        } else {
            out_bytes(o, (const char *)&c, 1); /* UTF-8 kept as is */
        }
    }
}

/* RFC 4514 as OpenSSL prints it: attributes in reverse DER order (RDNs
 * most specific first, and the members of a multi-valued RDN reversed too),
 * ',' between RDNs and '+' inside one. */
void tlsplug__mbed_subject(const mbedtls_x509_name *dn, char *buf, size_t cap)
{
    outbuf o = {buf, cap, 0};
    buf[0] = '\0';
    const mbedtls_x509_name *ava[64];
    size_t n = 0;
    for (const mbedtls_x509_name *a = dn; a && n < 64; a = a->next)
        if (a->oid.p)
            ava[n++] = a;
    for (size_t i = n; i-- > 0;) {
        out_ava(&o, ava[i]);
        if (i > 0)
            out_str(&o, ava[i - 1]->next_merged ? "+" : ",");
    }
}
