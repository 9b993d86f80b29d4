/* The portable configuration: setters validate at once and say what is wrong;
 * files are read into memory here so backends only ever parse memory. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/config.h"
#include "core/internal.h"

/* Distribution CA bundles, first match wins (Debian/Ubuntu, Fedora/RHEL,
 * openSUSE, Alpine/Arch use the first or second). */
static const char *const system_bundles[] = {
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    NULL,
};

#define FAIL(cfg, cls, ...) cfg_fail((cfg), (cls), __VA_ARGS__)

__attribute__((format(printf, 3, 4))) static int cfg_fail(tlsplug_config *cfg, int cls,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tlsplug__err_vset(&cfg->err, cls, 0, fmt, ap);
    va_end(ap);
    cfg->has_err = 1;
    return cls;
}

static int cfg_ok(tlsplug_config *cfg)
{
    cfg->has_err = 0;
    return TLSPLUG_OK;
}

static void set_default_suites(tlsplug_config *cfg)
{
    cfg->n_suites12 = cfg->n_suites13 = 0;
    for (const tlsplug_suite_info *s = tlsplug__suite_table(); s->name; s++) {
        if (s->version == TLSPLUG_TLS1_3)
            cfg->suites13[cfg->n_suites13++] = s->id;
        else
            cfg->suites12[cfg->n_suites12++] = s->id;
    }
}

tlsplug_config *tlsplug_config_new(tlsplug_side side)
{
    if (side != TLSPLUG_SIDE_CLIENT && side != TLSPLUG_SIDE_SERVER && side != TLSPLUG_SIDE_BOTH)
        return NULL;
    tlsplug_config *cfg = tlsplug__calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->side = side;
    cfg->verify = side == TLSPLUG_SIDE_SERVER ? TLSPLUG_VERIFY_NONE : TLSPLUG_VERIFY_REQUIRED;
    cfg->verify_hostname = 1;
    cfg->min_version = TLSPLUG_TLS1_2;
    cfg->max_version = 0;
    set_default_suites(cfg);
    cfg->groups[0] = 29; /* x25519    */
    cfg->groups[1] = 23; /* secp256r1 */
    cfg->groups[2] = 24; /* secp384r1 */
    cfg->n_groups = 3;
    return cfg;
}

static void bytes_free(tlsplug_bytes *b)
{
    tlsplug__free(b->data);
    b->data = NULL;
    b->len = 0;
}

static void secret_free(char **p)
{
    if (*p) {
        /* volatile so the wipe of the key password is not optimised out */
        volatile char *v = *p;
        while (*v)
            *v++ = 0;
        tlsplug__free(*p);
        *p = NULL;
    }
}

static void alpn_free(tlsplug_config *cfg)
{
    for (size_t i = 0; i < cfg->n_alpn; i++)
        tlsplug__free(cfg->alpn[i]);
    tlsplug__free(cfg->alpn);
    cfg->alpn = NULL;
    cfg->n_alpn = 0;
    bytes_free(&cfg->alpn_wire);
}

static void sni_certs_free(tlsplug_config *cfg)
{
    for (size_t i = 0; i < cfg->n_sni_certs; i++) {
        tlsplug_sni_cert *c = &cfg->sni_certs[i];
        tlsplug__free(c->name);
        bytes_free(&c->cert_pem);
        bytes_free(&c->key_pem);
        secret_free(&c->key_password);
    }
    cfg->n_sni_certs = 0;
}

void tlsplug__config_clear(tlsplug_config *cfg)
{
    sni_certs_free(cfg);
    bytes_free(&cfg->cert_pem);
    bytes_free(&cfg->key_pem);
    secret_free(&cfg->key_password);
    bytes_free(&cfg->trust_pem);
    tlsplug__free(cfg->server_name);
    cfg->server_name = NULL;
    alpn_free(cfg);
}

void tlsplug_config_free(tlsplug_config *cfg)
{
    if (!cfg)
        return;
    tlsplug__config_clear(cfg);
    tlsplug__free(cfg);
}

const tlsplug_error *tlsplug_config_error(const tlsplug_config *cfg)
{
    return cfg && cfg->has_err ? &cfg->err : NULL;
}

static int bytes_set(tlsplug_bytes *b, const void *data, size_t len)
{
    uint8_t *d = tlsplug__malloc(len + 1);
    if (!d)
        return TLSPLUG_E_NO_MEMORY;
    if (len)
        memcpy(d, data, len);
    d[len] = 0;
    tlsplug__free(b->data);
    b->data = d;
    b->len = len;
    return TLSPLUG_OK;
}

static int bytes_append(tlsplug_bytes *b, const void *data, size_t len)
{
    uint8_t *d = tlsplug__realloc(b->data, b->len + len + 2);
    if (!d)
        return TLSPLUG_E_NO_MEMORY;
    memcpy(d + b->len, data, len);
    b->len += len;
    /* keep PEM blocks on separate lines even if a file lacks the final newline */
    if (b->len && d[b->len - 1] != '\n')
        d[b->len++] = '\n';
    d[b->len] = 0;
    b->data = d;
    return TLSPLUG_OK;
}

/* Reads a whole file; on failure fills cfg's error naming the file. */
static int read_file(tlsplug_config *cfg, const char *what, const char *path, tlsplug_bytes *out)
{
    if (!path || !*path)
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT, "%s: no file name given", what);
    FILE *f = fopen(path, "rb");
    if (!f)
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "%s: cannot open '%s': %s", what, path,
                    strerror(errno));
    out->data = NULL;
    out->len = 0;
    size_t cap = 0;
    for (;;) {
        if (out->len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (64u << 20)) {
                fclose(f);
                bytes_free(out);
                return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "%s: '%s' is larger than 64 MiB", what,
                            path);
            }
            uint8_t *d = tlsplug__realloc(out->data, cap);
            if (!d) {
                fclose(f);
                bytes_free(out);
                return FAIL(cfg, TLSPLUG_E_NO_MEMORY, "%s: out of memory reading '%s'", what,
                            path);
            }
            out->data = d;
        }
        size_t n = fread(out->data + out->len, 1, cap - out->len - 1, f);
        out->len += n;
        if (n == 0)
            break;
    }
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad) {
        bytes_free(out);
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "%s: cannot read '%s': %s", what, path,
                    strerror(saved));
    }
    out->data[out->len] = 0;
    return TLSPLUG_OK;
}

static int has_pem(const tlsplug_bytes *b, const char *label)
{
    char marker[64];
    snprintf(marker, sizeof marker, "-----BEGIN %s", label);
    return b->data && strstr((const char *)b->data, marker) != NULL;
}

static int has_pem_key(const tlsplug_bytes *b)
{
    return b->data && strstr((const char *)b->data, "-----BEGIN ") &&
           strstr((const char *)b->data, "PRIVATE KEY-----");
}

/* Checks a chain/key pair and the password copy; on failure frees both and
 * fills cfg's error. */
static int check_cert(tlsplug_config *cfg, tlsplug_bytes *chain, tlsplug_bytes *key,
                      const char *password, char **pw_out, const char *where)
{
    *pw_out = NULL;
    if (!has_pem(chain, "CERTIFICATE")) {
        bytes_free(chain);
        bytes_free(key);
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "certificate %s: no PEM CERTIFICATE block found",
                    where);
    }
    tlsplug_bytes *keysrc = key->len ? key : chain;
    if (!has_pem_key(keysrc)) {
        bytes_free(chain);
        bytes_free(key);
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "private key %s: no PEM PRIVATE KEY block found",
                    where);
    }
    if (password && !(*pw_out = tlsplug__strdup(password))) {
        bytes_free(chain);
        bytes_free(key);
        return FAIL(cfg, TLSPLUG_E_NO_MEMORY, "out of memory");
    }
    return TLSPLUG_OK;
}

static int set_cert(tlsplug_config *cfg, tlsplug_bytes *chain, tlsplug_bytes *key,
                    const char *password, const char *where)
{
    char *pw;
    int rc = check_cert(cfg, chain, key, password, &pw, where);
    if (rc)
        return rc;
    bytes_free(&cfg->cert_pem);
    bytes_free(&cfg->key_pem);
    secret_free(&cfg->key_password);
    cfg->cert_pem = *chain;
    cfg->key_pem = *key;
    cfg->key_password = pw;
    return cfg_ok(cfg);
}

/* Reads a chain and an optional key file; "where" names the file for errors. */
static int read_cert_files(tlsplug_config *cfg, const char *chain_path, const char *key_path,
                           tlsplug_bytes *chain, tlsplug_bytes *key, char *where, size_t wlen)
{
    int rc = read_file(cfg, "certificate", chain_path, chain);
    if (rc)
        return rc;
    if (key_path && (rc = read_file(cfg, "private key", key_path, key)) != 0) {
        bytes_free(chain);
        return rc;
    }
    snprintf(where, wlen, "file '%s'", key_path && !key->len ? key_path : chain_path);
    return TLSPLUG_OK;
}

/* Copies a chain and an optional key from memory. */
static int copy_cert_mem(tlsplug_config *cfg, const void *chain_pem, size_t chain_len,
                         const void *key_pem, size_t key_len, tlsplug_bytes *chain,
                         tlsplug_bytes *key)
{
    if (!chain_pem || !chain_len || (key_len && !key_pem))
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT, "certificate: empty buffer");
    if (bytes_set(chain, chain_pem, chain_len) || (key_len && bytes_set(key, key_pem, key_len))) {
        bytes_free(chain);
        return FAIL(cfg, TLSPLUG_E_NO_MEMORY, "out of memory");
    }
    return TLSPLUG_OK;
}

int tlsplug_config_set_cert_file(tlsplug_config *cfg, const char *chain_path,
                                 const char *key_path, const char *password)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    tlsplug_bytes chain = {0}, key = {0};
    char where[300];
    int rc = read_cert_files(cfg, chain_path, key_path, &chain, &key, where, sizeof where);
    return rc ? rc : set_cert(cfg, &chain, &key, password, where);
}

int tlsplug_config_set_cert_mem(tlsplug_config *cfg, const void *chain_pem, size_t chain_len,
                                const void *key_pem, size_t key_len, const char *password)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    tlsplug_bytes chain = {0}, key = {0};
    int rc = copy_cert_mem(cfg, chain_pem, chain_len, key_pem, key_len, &chain, &key);
    return rc ? rc : set_cert(cfg, &chain, &key, password, "in memory");
}

static int add_sni_cert(tlsplug_config *cfg, const char *name, tlsplug_bytes *chain,
                        tlsplug_bytes *key, const char *password, const char *where)
{
    char *pw;
    int rc = check_cert(cfg, chain, key, password, &pw, where);
    if (rc)
        return rc;
    char *n = tlsplug__strdup(name);
    if (!n) {
        bytes_free(chain);
        bytes_free(key);
        secret_free(&pw);
        return FAIL(cfg, TLSPLUG_E_NO_MEMORY, "out of memory");
    }
    for (char *p = n; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    size_t len = strlen(n);
    if (len > 1 && n[len - 1] == '.')
        n[len - 1] = 0;
    tlsplug_sni_cert *c = &cfg->sni_certs[cfg->n_sni_certs++];
    c->name = n;
    c->cert_pem = *chain;
    c->key_pem = *key;
    c->key_password = pw;
    return cfg_ok(cfg);
}

static int check_sni_name(tlsplug_config *cfg, const char *name)
{
    if (cfg->side == TLSPLUG_SIDE_CLIENT)
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT,
                    "SNI certificates are for servers; this is a client configuration");
    if (cfg->n_sni_certs == TLSPLUG_MAX_SNI_CERTS)
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "more than %d SNI certificates",
                    TLSPLUG_MAX_SNI_CERTS);
    char why[128];
    const char *check = name && name[0] == '*' && name[1] == '.' ? name + 2 : name;
    if (!name || tlsplug__check_server_name(check, why, sizeof why) ||
        tlsplug__is_ip_literal(check))
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT, "SNI certificate name '%s' is not a host name",
                    name ? name : "(null)");
    return TLSPLUG_OK;
}

int tlsplug_config_add_sni_cert_file(tlsplug_config *cfg, const char *name,
                                     const char *chain_path, const char *key_path,
                                     const char *password)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = check_sni_name(cfg, name);
    if (rc)
        return rc;
    tlsplug_bytes chain = {0}, key = {0};
    char where[300];
    rc = read_cert_files(cfg, chain_path, key_path, &chain, &key, where, sizeof where);
    return rc ? rc : add_sni_cert(cfg, name, &chain, &key, password, where);
}

int tlsplug_config_add_sni_cert_mem(tlsplug_config *cfg, const char *name, const void *chain_pem,
                                    size_t chain_len, const void *key_pem, size_t key_len,
                                    const char *password)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = check_sni_name(cfg, name);
    if (rc)
        return rc;
    tlsplug_bytes chain = {0}, key = {0};
    rc = copy_cert_mem(cfg, chain_pem, chain_len, key_pem, key_len, &chain, &key);
    return rc ? rc : add_sni_cert(cfg, name, &chain, &key, password, "in memory");
}

int tlsplug__sni_cert_pick(const tlsplug_config *cfg, const char *sni)
{
    if (!sni || !*sni)
        return -1;
    size_t len = strlen(sni);
    if (sni[len - 1] == '.')
        len--;
    int wildcard = -1;
    for (size_t i = 0; i < cfg->n_sni_certs; i++) {
        const char *n = cfg->sni_certs[i].name;
        if (strlen(n) == len && strncasecmp(n, sni, len) == 0)
            return (int)i; /* an exact name beats any wildcard */
        const char *dot = memchr(sni, '.', len);
        if (wildcard < 0 && n[0] == '*' && dot && dot != sni &&
            strlen(n + 1) == len - (size_t)(dot - sni) &&
            strncasecmp(n + 1, dot, len - (size_t)(dot - sni)) == 0)
            wildcard = (int)i;
    }
    return wildcard;
}

static int add_trust(tlsplug_config *cfg, const tlsplug_bytes *pem, const char *where)
{
    if (!has_pem(pem, "CERTIFICATE"))
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "trust anchors %s: no PEM CERTIFICATE block found",
                    where);
    if (bytes_append(&cfg->trust_pem, pem->data, pem->len))
        return FAIL(cfg, TLSPLUG_E_NO_MEMORY, "out of memory");
    return cfg_ok(cfg);
}

int tlsplug_config_add_trust_file(tlsplug_config *cfg, const char *path)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    tlsplug_bytes b = {0};
    int rc = read_file(cfg, "trust file", path, &b);
    if (rc)
        return rc;
    char where[300];
    snprintf(where, sizeof where, "file '%s'", path);
    rc = add_trust(cfg, &b, where);
    bytes_free(&b);
    return rc;
}

int tlsplug_config_add_trust_dir(tlsplug_config *cfg, const char *path)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (!path || !*path)
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT, "trust directory: no name given");
    DIR *d = opendir(path);
    if (!d)
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "trust directory '%s': %s", path, strerror(errno));
    size_t added = 0;
    int rc = TLSPLUG_OK;
    struct dirent *de;
    while (rc == TLSPLUG_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char full[4096];
        if ((size_t)snprintf(full, sizeof full, "%s/%s", path, de->d_name) >= sizeof full)
            continue;
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        tlsplug_bytes b = {0};
        /* Unreadable or non-PEM files are skipped: hashed directories carry
         * other files (CRLs, READMEs) beside the certificates. */
        tlsplug_error saved = cfg->err;
        if (read_file(cfg, "trust file", full, &b) == TLSPLUG_OK) {
            if (has_pem(&b, "CERTIFICATE")) {
                if (bytes_append(&cfg->trust_pem, b.data, b.len))
                    rc = TLSPLUG_E_NO_MEMORY;
                else
                    added++;
            }
            bytes_free(&b);
        }
        cfg->err = saved;
    }
    closedir(d);
    if (rc)
        return FAIL(cfg, rc, "out of memory");
    if (!added)
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "trust directory '%s': no PEM certificate in it",
                    path);
    return cfg_ok(cfg);
}

int tlsplug_config_add_trust_mem(tlsplug_config *cfg, const void *pem, size_t len)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (!pem || !len)
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT, "trust anchors: empty buffer");
    tlsplug_bytes b = {(uint8_t *)pem, len};
    /* has_pem needs a terminated string: check a terminated copy */
    tlsplug_bytes copy = {0};
    if (bytes_set(&copy, b.data, b.len))
        return FAIL(cfg, TLSPLUG_E_NO_MEMORY, "out of memory");
    int rc = add_trust(cfg, &copy, "in memory");
    bytes_free(&copy);
    return rc;
}

int tlsplug_config_add_trust_system(tlsplug_config *cfg)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    for (size_t i = 0; system_bundles[i]; i++) {
        if (access(system_bundles[i], R_OK) == 0) {
            int rc = tlsplug_config_add_trust_file(cfg, system_bundles[i]);
            if (rc == TLSPLUG_OK)
                cfg->trust_system = 1;
            return rc;
        }
    }
    return FAIL(cfg, TLSPLUG_E_BAD_CONFIG,
                "system trust store: no CA bundle found (install ca-certificates)");
}

int tlsplug_config_set_verify(tlsplug_config *cfg, tlsplug_verify mode)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    switch (mode) {
    case TLSPLUG_VERIFY_DEFAULT:
        cfg->verify =
            cfg->side == TLSPLUG_SIDE_SERVER ? TLSPLUG_VERIFY_NONE : TLSPLUG_VERIFY_REQUIRED;
        return cfg_ok(cfg);
    case TLSPLUG_VERIFY_NONE:
    case TLSPLUG_VERIFY_OPTIONAL:
    case TLSPLUG_VERIFY_REQUIRED:
        cfg->verify = mode;
        return cfg_ok(cfg);
    }
    return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT, "verify mode %d is not one of tlsplug_verify",
                (int)mode);
}

int tlsplug_config_set_verify_hostname(tlsplug_config *cfg, int on)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    cfg->verify_hostname = on != 0;
    return cfg_ok(cfg);
}


int tlsplug_config_set_server_name(tlsplug_config *cfg, const char *name)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    char why[128];
    if (name && tlsplug__check_server_name(name, why, sizeof why))
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT, "server name: %s", why);
    char *d = NULL;
    if (name && !(d = tlsplug__strdup(name)))
        return FAIL(cfg, TLSPLUG_E_NO_MEMORY, "out of memory");
    tlsplug__free(cfg->server_name);
    cfg->server_name = d;
    return cfg_ok(cfg);
}

int tlsplug_config_set_versions(tlsplug_config *cfg, int min_version, int max_version)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (min_version == 0)
        min_version = TLSPLUG_TLS1_2;
    if (min_version != TLSPLUG_TLS1_2 && min_version != TLSPLUG_TLS1_3)
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT,
                    "minimum version 0x%04x: only TLS 1.2 (0x0303) and 1.3 (0x0304) exist here",
                    (unsigned)min_version);
    if (max_version != 0 && max_version != TLSPLUG_TLS1_2 && max_version != TLSPLUG_TLS1_3)
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT,
                    "maximum version 0x%04x: only TLS 1.2 (0x0303) and 1.3 (0x0304) exist here",
                    (unsigned)max_version);
    if (max_version && max_version < min_version)
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT, "maximum version %s is below minimum %s",
                    tlsplug_version_name(max_version), tlsplug_version_name(min_version));
    cfg->min_version = min_version;
    cfg->max_version = max_version;
    return cfg_ok(cfg);
}

/* Splits list at ':' or ',' (spaces ignored) and calls fn on each token. */
static int each_token(tlsplug_config *cfg, const char *list, const char *what,
                      int (*fn)(tlsplug_config *, const char *, void *), void *arg)
{
    if (!list)
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT, "%s: no list given", what);
    const char *p = list;
    size_t count = 0;
    while (*p) {
        while (*p == ' ' || *p == ':' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = p;
        while (*end && *end != ':' && *end != ',' && *end != ' ')
            end++;
        char tok[96];
        size_t len = (size_t)(end - p);
        if (len >= sizeof tok)
            return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "%s: name '%.*s...' is too long", what, 40, p);
        memcpy(tok, p, len);
        tok[len] = 0;
        int rc = fn(cfg, tok, arg);
        if (rc)
            return rc;
        count++;
        p = end;
    }
    if (!count)
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "%s: the list is empty", what);
    return TLSPLUG_OK;
}

struct suite_acc {
    uint16_t ids[TLSPLUG_MAX_SUITES];
    size_t n;
    int version;
};

static int add_suite(tlsplug_config *cfg, const char *name, void *arg)
{
    struct suite_acc *a = arg;
    const tlsplug_suite_info *s = tlsplug__suite_by_name(name);
    if (!s)
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG,
                    "unknown cipher suite '%s' (tlsplug knows only forward-secret AEAD suites, "
                    "by IANA name, e.g. TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)",
                    name);
    if (s->version != a->version)
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "cipher suite '%s' is a TLS %s suite, not %s", name,
                    s->version == TLSPLUG_TLS1_3 ? "1.3" : "1.2",
                    a->version == TLSPLUG_TLS1_3 ? "1.3" : "1.2");
    for (size_t i = 0; i < a->n; i++)
        if (a->ids[i] == s->id)
            return TLSPLUG_OK;
    if (a->n == TLSPLUG_MAX_SUITES)
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "too many cipher suites");
    a->ids[a->n++] = s->id;
    return TLSPLUG_OK;
}

static int set_suites(tlsplug_config *cfg, const char *list, int version)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    struct suite_acc a = {.n = 0, .version = version};
    int rc = each_token(cfg, list, version == TLSPLUG_TLS1_3 ? "TLS 1.3 suites" : "TLS 1.2 suites",
                        add_suite, &a);
    if (rc)
        return rc;
    if (version == TLSPLUG_TLS1_3) {
        memcpy(cfg->suites13, a.ids, sizeof a.ids);
        cfg->n_suites13 = a.n;
        cfg->suites13_set = 1;
    } else {
        memcpy(cfg->suites12, a.ids, sizeof a.ids);
        cfg->n_suites12 = a.n;
        cfg->suites12_set = 1;
    }
    return cfg_ok(cfg);
}

int tlsplug_config_set_ciphers_tls12(tlsplug_config *cfg, const char *list)
{
    return set_suites(cfg, list, TLSPLUG_TLS1_2);
}

int tlsplug_config_set_ciphers_tls13(tlsplug_config *cfg, const char *list)
{
    return set_suites(cfg, list, TLSPLUG_TLS1_3);
}

struct group_acc {
    uint16_t ids[TLSPLUG_MAX_GROUPS];
    size_t n;
};

static int add_group(tlsplug_config *cfg, const char *name, void *arg)
{
    struct group_acc *a = arg;
    const tlsplug_group_info *g = tlsplug__group_by_name(name);
    if (!g)
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG,
                    "unknown group '%s' (known: x25519, secp256r1, secp384r1, secp521r1, x448)",
                    name);
    for (size_t i = 0; i < a->n; i++)
        if (a->ids[i] == g->id)
            return TLSPLUG_OK;
    if (a->n == TLSPLUG_MAX_GROUPS)
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "too many groups");
    a->ids[a->n++] = g->id;
    return TLSPLUG_OK;
}

int tlsplug_config_set_groups(tlsplug_config *cfg, const char *list)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    struct group_acc a = {.n = 0};
    int rc = each_token(cfg, list, "groups", add_group, &a);
    if (rc)
        return rc;
    memcpy(cfg->groups, a.ids, sizeof a.ids);
    cfg->n_groups = a.n;
    cfg->groups_set = 1;
    return cfg_ok(cfg);
}

int tlsplug_config_set_alpn(tlsplug_config *cfg, const char *const *protos, size_t count)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (count && !protos)
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT, "ALPN: no list given");
    size_t wire = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = protos[i] ? strlen(protos[i]) : 0;
        if (len == 0 || len > 255)
            return FAIL(cfg, TLSPLUG_E_BAD_CONFIG,
                        "ALPN protocol #%zu must be 1 to 255 bytes long", i + 1);
        wire += 1 + len;
    }
    if (wire > 65535)
        return FAIL(cfg, TLSPLUG_E_BAD_CONFIG, "ALPN list is longer than 65535 bytes");
    char **list = count ? tlsplug__calloc(count, sizeof *list) : NULL;
    uint8_t *w = count ? tlsplug__malloc(wire + 1) : NULL;
    if (count && (!list || !w)) {
        tlsplug__free(list);
        tlsplug__free(w);
        return FAIL(cfg, TLSPLUG_E_NO_MEMORY, "out of memory");
    }
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(protos[i]);
        if (!(list[i] = tlsplug__strdup(protos[i]))) {
            for (size_t j = 0; j < i; j++)
                tlsplug__free(list[j]);
            tlsplug__free(list);
            tlsplug__free(w);
            return FAIL(cfg, TLSPLUG_E_NO_MEMORY, "out of memory");
        }
        w[off++] = (uint8_t)len;
        memcpy(w + off, protos[i], len);
        off += len;
    }
    if (w)
        w[off] = 0;
    alpn_free(cfg);
    cfg->alpn = list;
    cfg->n_alpn = count;
    cfg->alpn_wire.data = w;
    cfg->alpn_wire.len = off;
    return cfg_ok(cfg);
}

int tlsplug_config_set_alpn_list(tlsplug_config *cfg, const char *list)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (!list)
        return FAIL(cfg, TLSPLUG_E_INVALID_ARGUMENT, "ALPN: no list given");
    /* split on ',' only: protocol names may contain ':' */
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    char *copy = tlsplug__strdup(list);
    const char **v = tlsplug__calloc(n, sizeof *v);
    if (!copy || !v) {
        tlsplug__free(copy);
        tlsplug__free(v);
        return FAIL(cfg, TLSPLUG_E_NO_MEMORY, "out of memory");
    }
    size_t k = 0;
    for (char *p = copy, *tok; (tok = strsep(&p, ",")) != NULL;)
        v[k++] = tok;
    int rc = (k == 1 && !*v[0]) ? tlsplug_config_set_alpn(cfg, NULL, 0)
                                : tlsplug_config_set_alpn(cfg, v, k);
    tlsplug__free(v);
    tlsplug__free(copy);
    return rc;
}

int tlsplug_config_set_verify_callback(tlsplug_config *cfg, tlsplug_verify_cb cb, void *arg)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    cfg->verify_cb = cb;
    cfg->verify_arg = arg;
    return cfg_ok(cfg);
}

int tlsplug_config_set_keylog_callback(tlsplug_config *cfg, tlsplug_keylog_cb cb, void *arg)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    cfg->keylog_cb = cb;
    cfg->keylog_arg = arg;
    return cfg_ok(cfg);
}

int tlsplug_config_set_resumption(tlsplug_config *cfg, int tickets, int cache)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    cfg->tickets = tickets != 0;
    cfg->session_cache = cache != 0;
    return cfg_ok(cfg);
}

int tlsplug_config_set_ctx_configure(tlsplug_config *cfg, tlsplug_native_hook hook, void *arg)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    cfg->ctx_configure = hook;
    cfg->ctx_configure_arg = arg;
    return cfg_ok(cfg);
}

int tlsplug_config_set_ssl_configure(tlsplug_config *cfg, tlsplug_native_hook hook, void *arg)
{
    if (!cfg)
        return TLSPLUG_E_INVALID_ARGUMENT;
    cfg->ssl_configure = hook;
    cfg->ssl_configure_arg = arg;
    return cfg_ok(cfg);
}

static int dup_bytes(tlsplug_bytes *dst, const tlsplug_bytes *src)
{
    dst->data = NULL;
    dst->len = 0;
    if (!src->data)
        return TLSPLUG_OK;
    return bytes_set(dst, src->data, src->len);
}

tlsplug_config *tlsplug__config_dup(const tlsplug_config *cfg)
{
    tlsplug_config *d = tlsplug__malloc(sizeof *d);
    if (!d)
        return NULL;
    *d = *cfg;
    d->cert_pem = d->key_pem = d->trust_pem = d->alpn_wire = (tlsplug_bytes){0};
    d->key_password = d->server_name = NULL;
    d->alpn = NULL;
    d->n_alpn = 0;
    d->n_sni_certs = 0; /* the copied pointers are cfg's: never free them */
    d->has_err = 0;
    int bad = dup_bytes(&d->cert_pem, &cfg->cert_pem) || dup_bytes(&d->key_pem, &cfg->key_pem) ||
              dup_bytes(&d->trust_pem, &cfg->trust_pem);
    if (!bad && cfg->key_password && !(d->key_password = tlsplug__strdup(cfg->key_password)))
        bad = 1;
    if (!bad && cfg->server_name && !(d->server_name = tlsplug__strdup(cfg->server_name)))
        bad = 1;
    for (size_t i = 0; !bad && i < cfg->n_sni_certs; i++) {
        const tlsplug_sni_cert *src = &cfg->sni_certs[i];
        tlsplug_sni_cert *dst = &d->sni_certs[i];
        memset(dst, 0, sizeof *dst);
        d->n_sni_certs = i + 1;
        bad = !(dst->name = tlsplug__strdup(src->name)) || dup_bytes(&dst->cert_pem, &src->cert_pem) ||
              dup_bytes(&dst->key_pem, &src->key_pem) ||
              (src->key_password && !(dst->key_password = tlsplug__strdup(src->key_password)));
    }
    if (!bad && cfg->n_alpn &&
        tlsplug_config_set_alpn(d, (const char *const *)cfg->alpn, cfg->n_alpn))
        bad = 1;
    if (bad) {
        tlsplug_config_free(d);
        return NULL;
    }
    return d;
}

int tlsplug__alpn_pick(const tlsplug_config *cfg, const uint8_t *in, size_t inlen,
                       const uint8_t **out, uint8_t *outlen)
{
    const uint8_t *ours = cfg->alpn_wire.data;
    for (size_t i = 0; i < cfg->alpn_wire.len; i += 1 + (size_t)ours[i]) {
        for (size_t j = 0; j < inlen;) {
            size_t len = in[j];
            if (len == 0 || j + 1 + len > inlen)
                break; /* malformed from here on */
            if (len == ours[i] && memcmp(in + j + 1, ours + i + 1, len) == 0) {
                *out = ours + i + 1;
                *outlen = ours[i];
                return 0;
            }
            j += 1 + len;
        }
    }
    return -1;
}
