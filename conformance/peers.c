/* The peers transport: one end is a tlsplug backend on tlsplug_aio, the other
 * is openssl s_server/s_client or gnutls-serv/gnutls-cli, started here on an
 * ephemeral loopback port.  Every wait is bounded and every program is
 * killed when its case ends (and at exit).  Only the tlsplug end is judged
 * against the row; what the program printed is checked where it proves the
 * tlsplug end really talked to it. */
#define _GNU_SOURCE 1 /* memmem */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aiokit.h"
#include "runner.h"

#define WAIT_S 10.0
#define C_LINE "hello from the client\n"
#define S_LINE "hello from the server\n"

/* ---- child processes -------------------------------------------------------- */

typedef struct proc {
    pid_t pid;
    int in, out, err;
    char *obuf;
    size_t olen, ocap;
    char ebuf[32768];
    size_t elen;
    const char *feed;
    size_t feed_len, feed_off;
    int exited, status;
    char what[64];
} proc;

static proc *live[8];

static void track(proc *p, int on)
{
    for (int i = 0; i < 8; i++)
        if (on ? !live[i] : live[i] == p) {
            live[i] = on ? p : NULL;
            return;
        }
}

void cf_peer_cleanup(void)
{
    for (int i = 0; i < 8; i++)
        if (live[i] && live[i]->pid > 0 && !live[i]->exited) {
            kill(live[i]->pid, SIGKILL);
            waitpid(live[i]->pid, NULL, 0);
            live[i]->exited = 1;
        }
}

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int spawn(proc *p, char *const argv[])
{
    memset(p, 0, sizeof *p);
    p->in = p->out = p->err = -1;
    snprintf(p->what, sizeof p->what, "%s", argv[0]);
    int pin[2], pout[2], perr[2];
    if (pipe2(pin, O_CLOEXEC))
        return -1;
    if (pipe2(pout, O_CLOEXEC)) {
        close(pin[0]);
        close(pin[1]);
        return -1;
    }
    if (pipe2(perr, O_CLOEXEC)) {
        close(pin[0]);
        close(pin[1]);
        close(pout[0]);
        close(pout[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    if (pid < 0) {
        close(pin[1]);
        close(pout[0]);
        close(perr[0]);
        return -1;
    }
    p->pid = pid;
    p->in = pin[1];
    p->out = pout[0];
    p->err = perr[0];
    nonblock(p->in);
    nonblock(p->out);
    nonblock(p->err);
    track(p, 1);
    return 0;
}

static void close_in(proc *p)
{
    if (p->in >= 0)
        close(p->in);
    p->in = -1;
}

/* Moves what is pending: the child's output in, our feed out. */
static void pump(proc *p)
{
    if (!p->pid)
        return;
    for (;;) {
        if (p->ocap - p->olen < 65536) {
            size_t cap = p->ocap ? p->ocap * 2 : 262144;
            if (cap > (16u << 20))
                break;
            char *nb = realloc(p->obuf, cap);
            if (!nb)
                break;
            p->obuf = nb;
            p->ocap = cap;
            /* realloc does not clear: a fresh buffer could hand back the
             * previous server's "ACCEPT host:port" line, and its port */
            p->obuf[p->olen] = 0;
        }
        ssize_t n = read(p->out, p->obuf + p->olen, p->ocap - p->olen - 1);
        if (n <= 0)
            break;
        p->olen += (size_t)n;
        p->obuf[p->olen] = 0;
    }
    for (;;) {
        char tmp[4096];
        ssize_t n = read(p->err, tmp, sizeof tmp);
        if (n <= 0)
            break;
        size_t k = (size_t)n < sizeof p->ebuf - 1 - p->elen ? (size_t)n : sizeof p->ebuf - 1 - p->elen;
        memcpy(p->ebuf + p->elen, tmp, k);
        p->elen += k;
        p->ebuf[p->elen] = 0;
    }
    while (p->in >= 0 && p->feed_off < p->feed_len) {
        ssize_t n = write(p->in, p->feed + p->feed_off, p->feed_len - p->feed_off);
        if (n <= 0)
            break;
        p->feed_off += (size_t)n;
    }
    if (!p->exited && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
        p->exited = 1;
}

static void feed(proc *p, const char *data, size_t len)
{
    p->feed = data;
    p->feed_len = len;
    p->feed_off = 0;
    pump(p);
}

static void reap(proc *p)
{
    if (!p->pid)
        return;
    close_in(p);
    if (!p->exited) {
        kill(p->pid, SIGTERM);
        double end = now_s() + 1.0;
        while (!p->exited && now_s() < end) {
            pump(p);
            if (!p->exited)
                usleep(2000);
        }
        if (!p->exited) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &p->status, 0);
            p->exited = 1;
        }
    }
    track(p, 0);
    close(p->out);
    close(p->err);
    free(p->obuf);
    memset(p, 0, sizeof *p);
}

static const char *out_text(const proc *p)
{
    return p->obuf ? p->obuf : "";
}

/* The last line of what a program said, for messages. */
static void tail_line(const proc *p, char *buf, size_t cap)
{
    const char *src = p->elen ? p->ebuf : out_text(p);
    size_t len = strlen(src);
    while (len && (src[len - 1] == '\n' || src[len - 1] == '\r'))
        len--;
    size_t start = len;
    while (start && src[start - 1] != '\n')
        start--;
    snprintf(buf, cap, "%.*s", (int)(len - start), src + start);
}

/* ---- argument lists -------------------------------------------------------- */

typedef struct args {
    char *v[96];
    int n;
    char store[8192];
    size_t used;
} args;

__attribute__((format(printf, 2, 3))) static void arg(args *a, const char *fmt, ...)
{
    if (a->n >= 95)
        return;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(a->store + a->used, sizeof a->store - a->used, fmt, ap);
    va_end(ap);
    if (len < 0 || a->used + (size_t)len + 1 > sizeof a->store)
        return;
    a->v[a->n++] = a->store + a->used;
    a->v[a->n] = NULL;
    a->used += (size_t)len + 1;
}

/* "X-chain.pem" is X.pem plus inter.pem: programs that want the leaf and the
 * chain apart get them apart. */
static int split_chain(const char *file, char *leaf, size_t cap)
{
    size_t len = strlen(file);
    const char *suffix = "-chain.pem";
    size_t sl = strlen(suffix);
    if (len > sl && !strcmp(file + len - sl, suffix)) {
        snprintf(leaf, cap, "%.*s.pem", (int)(len - sl), file);
        return 1;
    }
    snprintf(leaf, cap, "%s", file);
    return 0;
}

static const char *ossl_suite(const char *iana)
{
    static const char *const map[][2] = {
        {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
        {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
        {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
        {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
        {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
        {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], iana))
            return map[i][1];
    return iana; /* TLS 1.3 names are the IANA names */
}

static const char *gnu_cipher(const char *iana)
{
    if (strstr(iana, "AES_128_GCM"))
        return "AES-128-GCM";
    if (strstr(iana, "AES_256_GCM"))
        return "AES-256-GCM";
    return "CHACHA20-POLY1305";
}

static const char *ossl_group(const char *iana)
{
    if (!strcmp(iana, "x25519"))
        return "X25519";
    if (!strcmp(iana, "x448"))
        return "X448";
    if (!strcmp(iana, "secp256r1"))
        return "P-256";
    if (!strcmp(iana, "secp384r1"))
        return "P-384";
    return "P-521";
}

/* Applies fn to every item of a ':' or ',' separated list. */
static void each(const char *list, void (*fn)(const char *item, void *arg), void *fnarg)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ":,", &save); t; t = strtok_r(NULL, ":,", &save))
        fn(t, fnarg);
}

typedef struct joined {
    char s[512];
    const char *(*map)(const char *);
    const char *prefix;
} joined;

static void join_one(const char *item, void *arg)
{
    joined *j = arg;
    size_t len = strlen(j->s);
    snprintf(j->s + len, sizeof j->s - len, "%s%s%s", len && !j->prefix ? ":" : "",
             j->prefix ? j->prefix : "", j->map(item));
}

static const char *join(joined *j, const char *list, const char *(*map)(const char *),
                        const char *prefix)
{
    j->s[0] = 0;
    j->map = map;
    j->prefix = prefix;
    each(list, join_one, j);
    return j->s;
}

static const char *version_name(int v)
{
    return v == TLSPLUG_TLS1_3 ? "TLSv1.3" : "TLSv1.2";
}

static void ossl_common(args *a, const cf_end *e)
{
    joined j;
    if (e->min_version)
        arg(a, "-min_protocol"), arg(a, "%s", version_name(e->min_version));
    if (e->max_version)
        arg(a, "-max_protocol"), arg(a, "%s", version_name(e->max_version));
    if (e->suites12)
        arg(a, "-cipher"), arg(a, "%s", join(&j, e->suites12, ossl_suite, NULL));
    if (e->suites13)
        arg(a, "-ciphersuites"), arg(a, "%s", join(&j, e->suites13, ossl_suite, NULL));
    if (e->groups)
        arg(a, "-groups"), arg(a, "%s", join(&j, e->groups, ossl_group, NULL));
    if (e->alpn)
        arg(a, "-alpn"), arg(a, "%s", e->alpn);
}

static void ossl_cert(args *a, const cf_end *e, const char *dcert, const char *dkey,
                      const char *opt_cert, const char *opt_key)
{
    const char *cert = e->cert ? e->cert : dcert, *key = e->cert ? e->key : dkey;
    if (!cert)
        return;
    char leaf[256];
    int chained = split_chain(cert, leaf, sizeof leaf);
    arg(a, "%s", opt_cert), arg(a, "%s", cf_pki(leaf));
    if (chained && !strcmp(opt_cert, "-cert"))
        arg(a, "-cert_chain"), arg(a, "%s", cf_pki("inter.pem"));
    if (key)
        arg(a, "%s", opt_key), arg(a, "%s", cf_pki(key));
    if (e->password)
        arg(a, "-pass"), arg(a, "pass:%s", e->password);
}

static void add_gnu_group(const char *item, void *arg)
{
    char *s = arg;
    size_t len = strlen(s);
    char up[32];
    size_t i = 0;
    for (; item[i] && i < sizeof up - 1; i++)
        up[i] = (char)(item[i] >= 'a' && item[i] <= 'z' ? item[i] - 32 : item[i]);
    up[i] = 0;
    snprintf(s + len, 1024 - len, ":+GROUP-%s", up);
}

static void add_gnu_cipher(const char *item, void *arg)
{
    char *s = arg;
    size_t len = strlen(s);
    const char *c = gnu_cipher(item);
    if (!strstr(s, c))
        snprintf(s + len, 1024 - len, ":+%s", c);
}

static void gnu_priority(args *a, const cf_end *e)
{
    char p[1024] = "NORMAL";
    if (e->min_version || e->max_version) {
        strcat(p, ":-VERS-ALL");
        int lo = e->min_version ? e->min_version : TLSPLUG_TLS1_2;
        int hi = e->max_version ? e->max_version : TLSPLUG_TLS1_3;
        if (lo <= TLSPLUG_TLS1_2 && hi >= TLSPLUG_TLS1_2)
            strcat(p, ":+VERS-TLS1.2");
        if (hi >= TLSPLUG_TLS1_3)
            strcat(p, ":+VERS-TLS1.3");
    }
    if (e->suites12 || e->suites13) {
        strcat(p, ":-CIPHER-ALL");
        if (e->suites12)
            each(e->suites12, add_gnu_cipher, p);
        if (e->suites13)
            each(e->suites13, add_gnu_cipher, p);
    }
    if (e->groups) {
        strcat(p, ":-GROUP-ALL");
        each(e->groups, add_gnu_group, p);
    }
    arg(a, "--priority=%s", p);
}

static void add_gnu_alpn(const char *item, void *list)
{
    arg((args *)list, "--alpn=%s", item);
}

static int is_ip(const char *name)
{
    unsigned char b[16];
    return inet_pton(AF_INET, name, b) == 1 || inet_pton(AF_INET6, name, b) == 1;
}

/* ---- what each program can be asked to do ----------------------------------- */

/* GnuTLS has one cipher list for both versions: a list for one version
 * would also change the other one, when that one is enabled. */
static int one_list_only(const cf_end *e)
{
    int lo = e->min_version ? e->min_version : TLSPLUG_TLS1_2;
    int hi = e->max_version ? e->max_version : TLSPLUG_TLS1_3;
    return (e->suites13 && !e->suites12 && lo <= TLSPLUG_TLS1_2) ||
           (e->suites12 && !e->suites13 && hi >= TLSPLUG_TLS1_3);
}

int cf_peer_supports(const cf_case *k, int ep, int as_client, char *why, size_t cap)
{
    const cf_end *e = as_client ? &k->c : &k->s;
    const char *prog = cf_ep_name(ep, as_client);
    int actor_is_ext = (k->actor == TLSPLUG_SIDE_CLIENT) == as_client;
    if (e->verify_cb) {
        snprintf(why, cap, "%s has no verify callback", prog);
        return 0;
    }
    if ((k->sc == SC_TRUNCATE || k->sc == SC_RENEG) && !actor_is_ext) {
        snprintf(why, cap, "the end that acts is tlsplug and the end under test would be %s",
                 prog);
        return 0;
    }
    if (ep == EP_GNUTLS_PROG) {
        if (one_list_only(e)) {
            snprintf(why, cap, "GnuTLS has one cipher list for both versions: %s cannot set a "
                               "list for one version only", prog);
            return 0;
        }
        if (e->password) {
            snprintf(why, cap, "%s cannot read an encrypted key", prog);
            return 0;
        }
        if (!as_client && k->sc == SC_CLOSE && k->actor == TLSPLUG_SIDE_SERVER) {
            snprintf(why, cap, "%s has no command to close a connection first", prog);
            return 0;
        }
        if (!as_client && k->sc == SC_RENEG) {
            snprintf(why, cap, "%s has no command to request renegotiation", prog);
            return 0;
        }
        if (as_client && k->sc == SC_RESUME && !k->s.resumption) {
            snprintf(why, cap, "%s --resume waits for a session the server never issues", prog);
            return 0;
        }
        if (as_client && k->sc == SC_CLOSE && k->actor == TLSPLUG_SIDE_SERVER) {
            snprintf(why, cap, "%s exits on the server's close_notify without answering it", prog);
            return 0;
        }
        if (!as_client && k->sc == SC_RESUME && !e->resumption) {
            snprintf(why, cap, "%s cannot turn its session cache off", prog);
            return 0;
        }
    }
    return 1;
}

int cf_peer_available(int ep, char *why, size_t cap)
{
    static int state[2];          /* 0 unknown, 1 yes, -1 no */
    static char missing[2][64];   /* the programs not found */
    int i = ep == EP_GNUTLS_PROG;
    if (!state[i]) {
        static const char *const names[2][2] = {{"openssl", NULL}, {"gnutls-serv", "gnutls-cli"}};
        state[i] = 1;
        for (int j = 0; j < 2 && names[i][j]; j++) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", names[i][j]);
            if (system(cmd) != 0) {
                size_t len = strlen(missing[i]);
                snprintf(missing[i] + len, sizeof missing[i] - len, "%s%s", len ? " and " : "",
                         names[i][j]);
                state[i] = -1;
            }
        }
    }
    if (state[i] < 0)
        snprintf(why, cap, "%s not found in PATH (Debian package %s; ci/setup.sh installs it)",
                 missing[i], i ? "gnutls-bin" : "openssl");
    return state[i] > 0;
}

/* ---- a run ---------------------------------------------------------------- */

typedef struct peer {
    kit k;
    cf_run *r;
    int ext, ext_client;
    tlsplug_ctx *ctx;
    cf_cb cb;
    proc p;
    reader rd[3];
    writer wr[3];
    tlsplug_aio *a; /* the tlsplug end of the current connection */
    op oa;          /* its connect / accept */
    op sh;          /* its shutdown: close_aio may cancel it after the case */
    int sh_started;
    op closed;
    tlsplug_listener *l;
    int port, accepted;
    /* connections the listener delivered, not yet taken by accept_one */
    struct {
        tlsplug_aio *a;
        op o;
    } q[4];
    int q_head, q_len;
    char tmp[64];
    char *data, *expect; /* SC_DATA */
    size_t data_len;
} peer;

static void tick(void *arg)
{
    peer *x = arg;
    pump(&x->p);
}

static int wait2(peer *x, op *a, op *b)
{
    return wait_ops(&x->k, WAIT_S, a, b, NULL, NULL);
}

/* Runs the loop (and the program's pipes) for secs, or until the program
 * exited when until_exit. */
static void idle(peer *x, double secs, int until_exit)
{
    double end = now_s() + secs;
    while (now_s() < end && !(until_exit && x->p.exited)) {
        tlsplug_loop_run_once(x->k.loop, 5);
        pump(&x->p);
    }
}

static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int port = -1;
    if (!bind(fd, (struct sockaddr *)&sa, sizeof sa) && !getsockname(fd, (struct sockaddr *)&sa, &sl))
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static void server_args(peer *x, args *a, int naccept, int port)
{
    const cf_case *k = x->r->k;
    const cf_end *e = &k->s;
    int reneg = k->sc == SC_RENEG;
    if (x->ext == EP_OPENSSL_PROG) {
        arg(a, "openssl"), arg(a, "s_server"), arg(a, "-accept"), arg(a, "127.0.0.1:0");
        arg(a, "-naccept"), arg(a, "%d", naccept);
        if (!reneg)
            arg(a, "-rev");
        ossl_cert(a, e, "server-ec-chain.pem", "server-ec.key.pem", "-cert", "-key");
        if (e->sni_cert) {
            /* s_server sends no chain with -cert2 (and its -build_chain
             * runs before -CAfile is loaded), so it serves the same name
             * and key issued by the root: <leaf>-root.pem */
            char leaf[256], direct[300];
            split_chain(e->sni_cert, leaf, sizeof leaf);
            snprintf(direct, sizeof direct, "%.*s-root.pem", (int)(strlen(leaf) - 4), leaf);
            arg(a, "-servername"), arg(a, "%s", e->sni_name);
            arg(a, "-cert2"), arg(a, "%s", cf_pki(direct));
            arg(a, "-key2"), arg(a, "%s", cf_pki(e->sni_key));
        }
        ossl_common(a, e);
        if (e->verify == TLSPLUG_VERIFY_REQUIRED || e->verify == TLSPLUG_VERIFY_OPTIONAL) {
            arg(a, e->verify == TLSPLUG_VERIFY_REQUIRED ? "-Verify" : "-verify"), arg(a, "5");
            arg(a, "-CAfile"), arg(a, "%s", cf_pki(e->ca ? e->ca : "ca.pem"));
            arg(a, "-verify_return_error");
        }
        if (k->sc == SC_RESUME && !e->resumption)
            arg(a, "-no_ticket"), arg(a, "-no_cache");
        return;
    }
    arg(a, "gnutls-serv"), arg(a, "-p"), arg(a, "%d", port), arg(a, "--echo");
    const char *cert = e->cert ? e->cert : "server-ec-chain.pem";
    const char *key = e->cert ? e->key : "server-ec.key.pem";
    arg(a, "--x509certfile=%s", cf_pki(cert));
    arg(a, "--x509keyfile=%s", cf_pki(key));
    if (e->sni_cert) {
        arg(a, "--x509certfile=%s", cf_pki(e->sni_cert));
        arg(a, "--x509keyfile=%s", cf_pki(e->sni_key));
    }
    gnu_priority(a, e);
    if (e->alpn) {
        each(e->alpn, add_gnu_alpn, a);
        arg(a, "--alpn-fatal");
    }
    if (e->verify == TLSPLUG_VERIFY_REQUIRED)
        arg(a, "--require-client-cert"), arg(a, "--verify-client-cert");
    else if (e->verify == TLSPLUG_VERIFY_OPTIONAL)
        arg(a, "--verify-client-cert");
    else
        arg(a, "--disable-client-cert");
    if (e->verify == TLSPLUG_VERIFY_REQUIRED || e->verify == TLSPLUG_VERIFY_OPTIONAL)
        arg(a, "--x509cafile=%s", cf_pki(e->ca ? e->ca : "ca.pem"));
    if (k->sc == SC_RESUME && !e->resumption)
        arg(a, "--noticket");
}

static void client_args(peer *x, args *a, int second)
{
    const cf_case *k = x->r->k;
    const cf_end *e = &k->c;
    const char *name = cf_server_name(e);
    int verify = e->verify != TLSPLUG_VERIFY_NONE;
    if (x->ext == EP_OPENSSL_PROG) {
        arg(a, "openssl"), arg(a, "s_client"), arg(a, "-connect"), arg(a, "127.0.0.1:%d", x->port);
        /* lines of data starting with Q, R, k... would be commands */
        if (k->sc != SC_RENEG)
            arg(a, "-nocommands");
        if (is_ip(name)) {
            arg(a, "-noservername");
            if (verify && !e->no_hostname)
                arg(a, "-verify_ip"), arg(a, "%s", name);
        } else {
            arg(a, "-servername"), arg(a, "%s", name);
            if (verify && !e->no_hostname)
                arg(a, "-verify_hostname"), arg(a, "%s", name);
        }
        if (verify) {
            arg(a, "-CAfile"), arg(a, "%s", cf_pki(e->ca ? e->ca : "ca.pem"));
            arg(a, "-verify_return_error");
        }
        ossl_cert(a, e, NULL, NULL, "-cert", "-key");
        ossl_common(a, e);
        char sess[128];
        snprintf(sess, sizeof sess, "%s/sess.pem", x->tmp);
        struct stat st;
        /* no saved session (the server issued none): nothing to offer */
        if (k->sc == SC_RESUME && (!second || stat(sess, &st) == 0))
            arg(a, "%s", second ? "-sess_in" : "-sess_out"), arg(a, "%s", sess);
        return;
    }
    arg(a, "gnutls-cli"), arg(a, "-p"), arg(a, "%d", x->port), arg(a, "127.0.0.1");
    arg(a, "--logfile=%s/gnutls-cli.log", x->tmp);
    if (is_ip(name))
        arg(a, "--disable-sni");
    else
        arg(a, "--sni-hostname=%s", name);
    if (verify) {
        arg(a, "--x509cafile=%s", cf_pki(e->ca ? e->ca : "ca.pem"));
        if (!e->no_hostname)
            arg(a, "--verify-hostname=%s", name);
    } else {
        arg(a, "--insecure");
    }
    if (e->cert) {
        arg(a, "--x509certfile=%s", cf_pki(e->cert));
        arg(a, "--x509keyfile=%s", cf_pki(e->key));
    }
    gnu_priority(a, e);
    if (e->alpn)
        each(e->alpn, add_gnu_alpn, a);
    if (k->sc == SC_RESUME)
        arg(a, "--resume"), arg(a, "--waitresumption");
    if (k->sc == SC_RENEG)
        arg(a, "--rehandshake");
}

/* Starts the external server and learns its port.  0 or -1. */
static int start_server(peer *x, int naccept)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        args a = {0};
        int port = x->ext == EP_GNUTLS_PROG ? free_port() : 0;
        server_args(x, &a, naccept, port);
        if (spawn(&x->p, a.v)) {
            cf_fail(x->r, "cannot start %s: %s", a.v[0], strerror(errno));
            return -1;
        }
        double end = now_s() + 5.0;
        while (now_s() < end && !x->p.exited) {
            pump(&x->p);
            const char *o = out_text(&x->p);
            if (x->ext == EP_OPENSSL_PROG) {
                const char *acc = strstr(o, "ACCEPT 127.0.0.1:");
                if (acc && strchr(acc, '\n')) {
                    x->port = atoi(acc + strlen("ACCEPT 127.0.0.1:"));
                    return 0;
                }
            } else if (strstr(x->p.ebuf, "IPv4") && strstr(strstr(x->p.ebuf, "IPv4"), "done")) {
                /* gnutls-serv says it on stderr */
                x->port = port;
                return 0;
            }
            usleep(2000);
        }
        char last[256];
        tail_line(&x->p, last, sizeof last);
        int bind_race = strstr(x->p.ebuf, "bind") || strstr(out_text(&x->p), "bind");
        reap(&x->p);
        if (!bind_race || attempt == 2) {
            cf_fail(x->r, "%s did not start listening: %s", cf_ep_name(x->ext, 0), last);
            return -1;
        }
    }
    return -1;
}

static void on_connected(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    peer *x = arg;
    op_set(&x->k, &x->oa, e);
    if (!e)
        x->a = a;
}

static int connect_tlsplug(peer *x)
{
    x->a = NULL;
    memset(&x->oa, 0, sizeof x->oa);
    tlsplug_attach_options ca = {.ctx = x->ctx, .server_name = cf_server_name(&x->r->k->c)};
    tlsplug_connect_options co = {.attach = &ca};
    tlsplug_aio *a;
    int rc = tlsplug_aio_connect(&a, x->k.R, "127.0.0.1", x->port, &co, on_connected, x);
    if (rc) {
        op_fail(&x->k, &x->oa, rc, "tlsplug_aio_connect refused");
        return -1;
    }
    wait2(x, &x->oa, NULL);
    stalled(&x->k, &x->oa, "the handshake did not complete");
    return x->oa.cls ? -1 : 0;
}

static void close_aio(peer *x)
{
    if (!x->a)
        return;
    memset(&x->closed, 0, sizeof x->closed);
    tlsplug_aio_close(x->a, on_op, &x->closed);
    wait2(x, &x->closed, NULL);
    x->a = NULL;
}

static void record(peer *x, cf_side_out *o, int second)
{
    out_from_op(o, &x->oa);
    tlsplug_conn *c = x->a ? tlsplug_aio_conn(x->a) : NULL;
    if (c && tlsplug_conn_info(c, second ? &o->info2 : &o->info) == TLSPLUG_OK)
        *(second ? &o->info2_ok : &o->info_ok) = 1;
    if (!second) {
        o->cb_calls = x->cb.calls;
        o->cb_verdict = x->cb.verdict;
    }
}

/* What the external server answers to a line: s_server -rev reverses it. */
static void transform(peer *x, const char *in, char *out, size_t len)
{
    if (x->ext != EP_OPENSSL_PROG) {
        memcpy(out, in, len);
        return;
    }
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] != '\n')
            continue;
        for (size_t j = start; j < i; j++)
            out[j] = in[i - 1 - (j - start)];
        out[i] = '\n';
        start = i + 1;
    }
}

/* The tlsplug client sends a line and reads the server's answer. */
static int client_line(peer *x, cf_side_out *o)
{
    char want[64], got[64];
    size_t len = strlen(C_LINE);
    transform(x, C_LINE, want, len);
    writer *w = start_write(&x->k, &x->wr[0], x->a, C_LINE, len, 0);
    reader *rd = start_read(&x->k, &x->rd[0], x->a, got, len, 0);
    wait2(x, &w->o, &rd->o);
    stalled(&x->k, &rd->o, "no answer from the server: stalled");
    const op *bad = rd->o.cls ? &rd->o : w->o.cls ? &w->o : NULL;
    if (bad) {
        out_from_op(o, bad);
        return -1;
    }
    if (memcmp(got, want, len)) {
        cf_set_msg(o, TLSPLUG_E_INTERNAL, "the server's answer differs from what it should be");
        return -1;
    }
    return 0;
}

static char *make_lines(size_t len)
{
    char *d = malloc(len);
    unsigned seed = 12345;
    size_t i = 0;
    while (d && i < len) {
        seed = seed * 1103515245u + 12345u;
        size_t line = 1 + (seed >> 16) % 200;
        for (size_t j = 0; j < line && i < len - 1; j++) {
            seed = seed * 1103515245u + 12345u;
            d[i++] = "abcdefghijklmnopqrstuvwxyz0123456789"[(seed >> 16) % 36];
        }
        d[i++] = '\n';
    }
    return d;
}

static void client_data(peer *x)
{
    cf_run *r = x->r;
    size_t len = 1u << 20;
    x->data = make_lines(len);
    x->expect = malloc(len);
    char *got = malloc(len);
    transform(x, x->data, x->expect, len);
    writer *w = start_write(&x->k, &x->wr[1], x->a, x->data, len, 1237);
    reader *rd = start_read(&x->k, &x->rd[1], x->a, got, len, 0);
    wait2(x, &w->o, &rd->o);
    stalled(&x->k, &rd->o, "stalled");
    if (w->o.cls || rd->o.cls || memcmp(got, x->expect, len))
        cf_fail(r, "1 MiB of lines in 1237-byte writes: %zu bytes came back (%s / %s)%s", rd->have,
                tlsplug_error_name(w->o.cls), tlsplug_error_name(rd->o.cls),
                !w->o.cls && !rd->o.cls ? ", not as sent" : "");
    free(got);
}

/* Reads on the tlsplug end until the stream ends; the class tells how. */
static void read_to_end(peer *x, int slot, cf_side_out *o)
{
    reader *rd = start_read(&x->k, &x->rd[slot], x->a, NULL, 0, 1);
    wait2(x, &rd->o, NULL);
    stalled(&x->k, &rd->o, "nothing arrived: stalled");
    out_from_op(o, &rd->o);
}

/* Starts the tlsplug end's shutdown (into x->sh, which outlives the case
 * block: a shutdown still pending there is canceled by close_aio later).
 * 0, or -1 when refused. */
static int shutdown_start(peer *x)
{
    memset(&x->sh, 0, sizeof x->sh);
    x->sh_started = tlsplug_aio_shutdown(x->a, 3000, on_op, &x->sh) == 0;
    return x->sh_started ? 0 : -1;
}

/* Waits for a started shutdown; fails the cell when it never completed or
 * completed with an error (what: whose close_notify). */
static void shutdown_finish(peer *x, const char *what)
{
    if (!x->sh_started)
        return;
    x->sh_started = 0;
    wait2(x, &x->sh, NULL);
    if (!x->sh.done)
        cf_fail(x->r, "%s: shutdown never completed", what);
    else if (x->sh.cls)
        cf_fail(x->r, "%s: %s", what, tlsplug_error_name(x->sh.cls));
}

/* tlsplug client against s_server / gnutls-serv. */
static void run_against_server(peer *x)
{
    cf_run *r = x->r;
    const cf_case *k = r->k;
    cf_side_out *o = &r->c;
    if (start_server(x, k->sc == SC_RESUME ? 2 : 1))
        return;
    if (connect_tlsplug(x)) {
        record(x, o, 0);
        return;
    }
    record(x, o, 0);
    if (k->sc == SC_RENEG) {
        /* s_server's "r" sends a HelloRequest; the line after it is data */
        char got[64] = {0};
        reader *rd = start_read(&x->k, &x->rd[0], x->a, got, strlen("after\n"), 0);
        static const char cmd[] = "r\n";
        feed(&x->p, cmd, strlen(cmd));
        idle(x, 0.3, 0);
        static const char after[] = "after\n";
        feed(&x->p, after, strlen(after));
        wait2(x, &rd->o, NULL);
        stalled(&x->k, &rd->o, "nothing arrived after the HelloRequest: stalled");
        out_from_op(o, &rd->o);
        if (!rd->o.cls && memcmp(got, "after\n", 6))
            cf_fail(r, "data after the HelloRequest arrived changed");
        return;
    }
    if (client_line(x, o))
        return;
    cf_set(o, TLSPLUG_OK, NULL);
    switch (k->sc) {
    case SC_RESUME:
        close_aio(x);
        if (connect_tlsplug(x) == 0) {
            record(x, o, 1);
            client_line(x, o);
        } else {
            record(x, o, 1);
        }
        break;
    case SC_CLOSE: {
        if (k->actor == TLSPLUG_SIDE_CLIENT) {
            if (shutdown_start(x))
                cf_fail(r, "shutdown refused");
        } else {
            /* s_server -rev closes with close_notify on the line CLOSE */
            static const char close_line[] = "CLOSE\n";
            writer *w = start_write(&x->k, &x->wr[0], x->a, close_line, 6, 0);
            wait2(x, &w->o, NULL);
        }
        read_to_end(x, 1, o);
        if (k->actor == TLSPLUG_SIDE_SERVER && o->cls == TLSPLUG_E_CLOSED)
            shutdown_start(x);
        shutdown_finish(x, "the client's close_notify");
        break;
    }
    case SC_TRUNCATE:
        kill(x->p.pid, SIGKILL);
        read_to_end(x, 1, o);
        break;
    case SC_DATA:
        client_data(x);
        break;
    default:
        break;
    }
}

static void queue_conn(peer *x, tlsplug_aio *a, const tlsplug_error *e)
{
    x->accepted++;
    if (x->q_len == 4) {
        if (a)
            tlsplug_aio_close(a, NULL, NULL);
        return;
    }
    int i = (x->q_head + x->q_len++) % 4;
    x->q[i].a = a;
    memset(&x->q[i].o, 0, sizeof x->q[i].o);
    op_set(&x->k, &x->q[i].o, e);
}

static void on_accept(tlsplug_listener *l, tlsplug_aio *a, void *arg)
{
    queue_conn(arg, a, NULL);
}

static void on_accept_error(tlsplug_listener *l, const tlsplug_error *e, void *arg)
{
    queue_conn(arg, NULL, e);
}

static int start_client(peer *x, int second, const char *input, size_t len)
{
    args a = {0};
    client_args(x, &a, second);
    if (spawn(&x->p, a.v)) {
        cf_fail(x->r, "cannot start %s: %s", a.v[0], strerror(errno));
        return -1;
    }
    if (input)
        feed(&x->p, input, len);
    return 0;
}

/* Waits for the next connection on the listener. */
static int accept_one(peer *x, int second)
{
    memset(&x->oa, 0, sizeof x->oa);
    x->a = NULL;
    double end = now_s() + WAIT_S;
    while (!x->q_len && now_s() < end && !(x->p.exited && x->accepted == 0 && !second)) {
        tlsplug_loop_run_once(x->k.loop, 5);
        pump(&x->p);
    }
    if (x->q_len) {
        x->a = x->q[x->q_head].a;
        x->oa = x->q[x->q_head].o;
        x->q_head = (x->q_head + 1) % 4;
        x->q_len--;
    }
    if (!x->oa.done) {
        char last[256];
        tail_line(&x->p, last, sizeof last);
        op_fail(&x->k, &x->oa, TLSPLUG_WANT_READ, "");
        snprintf(x->oa.msg, sizeof x->oa.msg, "no connection from %s (%.200s)",
                 cf_ep_name(x->ext, 1), last);
    }
    record(x, &x->r->s, second);
    return x->oa.cls ? -1 : 0;
}

/* The tlsplug server sends a line and reads the client's line. */
static int server_lines(peer *x, cf_side_out *o)
{
    char got[64];
    size_t len = strlen(C_LINE);
    writer *w = start_write(&x->k, &x->wr[0], x->a, S_LINE, strlen(S_LINE), 0);
    reader *rd = start_read(&x->k, &x->rd[0], x->a, got, len, 0);
    wait2(x, &w->o, &rd->o);
    stalled(&x->k, &rd->o, "the client's line never arrived: stalled");
    const op *bad = rd->o.cls ? &rd->o : w->o.cls ? &w->o : NULL;
    if (bad) {
        out_from_op(o, bad);
        return -1;
    }
    if (memcmp(got, C_LINE, len)) {
        cf_set_msg(o, TLSPLUG_E_INTERNAL, "the client's line arrived changed");
        return -1;
    }
    cf_set(o, TLSPLUG_OK, NULL);
    return 0;
}

/* The program must have shown the server's line: proof that it, too, got
 * through the handshake with the tlsplug end. */
static void program_saw(peer *x, const char *what, size_t len)
{
    double end = now_s() + 3.0;
    while (now_s() < end && !memmem(out_text(&x->p), x->p.olen, what, len) && !x->p.exited)
        idle(x, 0.02, 0);
    pump(&x->p);
    if (!memmem(out_text(&x->p), x->p.olen, what, len)) {
        char last[256];
        tail_line(&x->p, last, sizeof last);
        cf_fail(x->r, "%s did not print what the tlsplug server sent (%zu bytes out; last: %s)",
                cf_ep_name(x->ext, 1), x->p.olen, last);
    }
}

static void server_close_politely(peer *x)
{
    if (shutdown_start(x) == 0)
        wait2(x, &x->sh, NULL);
    x->sh_started = 0;
    close_in(&x->p);
    /* s_client waits up to 500 ms for the socket to close before it exits */
    close_aio(x);
    idle(x, 2.0, 1);
}

static void server_data(peer *x)
{
    cf_run *r = x->r;
    size_t len = 1u << 20;
    char *got = malloc(len);
    writer *w = start_write(&x->k, &x->wr[1], x->a, x->data, len, 4099);
    reader *rd = start_read(&x->k, &x->rd[1], x->a, got, len, 0);
    wait2(x, &w->o, &rd->o);
    stalled(&x->k, &rd->o, "stalled");
    stalled(&x->k, &w->o, "stalled");
    if (rd->o.cls || memcmp(got, x->data, len))
        cf_fail(r, "1 MiB from %s: %zu bytes arrived (%s)%s", cf_ep_name(x->ext, 1), rd->have,
                tlsplug_error_name(rd->o.cls), rd->o.cls ? "" : ", not as sent");
    if (w->o.cls)
        cf_fail(r, "1 MiB in 4099-byte writes to %s: %s", cf_ep_name(x->ext, 1),
                tlsplug_error_name(w->o.cls));
    else
        program_saw(x, x->data, len);
    free(got);
}

/* s_client / gnutls-cli against a tlsplug server. */
static void run_against_client(peer *x)
{
    cf_run *r = x->r;
    const cf_case *k = r->k;
    cf_side_out *o = &r->s;
    tlsplug_attach_options sa = {.ctx = x->ctx};
    tlsplug_listen_options lo = {.attach = &sa};
    int rc = tlsplug_listen(&x->l, x->k.R, "127.0.0.1", 0, &lo, on_accept, on_accept_error, x);
    if (rc) {
        cf_fail(r, "tlsplug_listen: %s", tlsplug_error_name(rc));
        return;
    }
    x->port = tlsplug_listener_port(x->l);
    const char *input = C_LINE;
    size_t ilen = strlen(C_LINE);
    if (k->sc == SC_DATA) {
        ilen = 1u << 20;
        x->data = make_lines(ilen);
        input = x->data;
    } else if (k->sc == SC_RENEG) {
        input = x->ext == EP_OPENSSL_PROG ? "R\n" : NULL;
        ilen = input ? 2 : 0;
    } else if (k->sc == SC_RESUME && x->ext == EP_GNUTLS_PROG) {
        input = NULL; /* the line goes to the resumed connection, below */
    }
    if (start_client(x, 0, input, ilen) || accept_one(x, 0))
        goto out;
    switch (k->sc) {
    case SC_RENEG: {
        reader *rd = start_read(&x->k, &x->rd[0], x->a, NULL, 0, 1);
        if (x->ext == EP_OPENSSL_PROG) {
            idle(x, 0.3, 0);
            static const char after[] = "after\n";
            feed(&x->p, after, strlen(after));
        }
        wait2(x, &rd->o, NULL);
        stalled(&x->k, &rd->o, "nothing happened after the renegotiation request: stalled");
        out_from_op(o, &rd->o);
        if (rd->have)
            cf_fail(r, "%zu bytes of data arrived after the renegotiation request", rd->have);
        break;
    }
    case SC_RESUME:
        if (x->ext == EP_OPENSSL_PROG) {
            if (server_lines(x, o))
                break;
            server_close_politely(x);
            close_aio(x);
            reap(&x->p);
            if (start_client(x, 1, C_LINE, strlen(C_LINE)))
                break;
        } else {
            /* gnutls-cli --resume: the first connection only fetches the
             * session; the resumed one carries the line */
            reader *rd = start_read(&x->k, &x->rd[2], x->a, NULL, 0, 1);
            wait2(x, &rd->o, NULL);
            close_aio(x);
            feed(&x->p, C_LINE, strlen(C_LINE));
        }
        if (accept_one(x, 1) == 0 && server_lines(x, o) == 0)
            server_close_politely(x);
        break;
    case SC_CLOSE:
        if (server_lines(x, o))
            break;
        if (k->actor == TLSPLUG_SIDE_CLIENT) {
            close_in(&x->p); /* the program closes on the end of its input */
            read_to_end(x, 1, o);
        } else {
            if (shutdown_start(x))
                cf_fail(r, "shutdown refused");
            read_to_end(x, 1, o);
            shutdown_finish(x, "the server's close_notify");
        }
        break;
    case SC_TRUNCATE:
        if (server_lines(x, o))
            break;
        /* once the program read everything, its end goes without a reset */
        program_saw(x, S_LINE, strlen(S_LINE));
        idle(x, 0.1, 0);
        kill(x->p.pid, SIGKILL);
        read_to_end(x, 1, o);
        break;
    case SC_DATA:
        server_data(x);
        cf_set(o, TLSPLUG_OK, NULL);
        server_close_politely(x);
        break;
    default:
        if (server_lines(x, o))
            break;
        program_saw(x, S_LINE, strlen(S_LINE));
        server_close_politely(x);
        break;
    }
out:
    tlsplug_listener_close(x->l);
    x->l = NULL;
    for (; x->q_len; x->q_len--, x->q_head = (x->q_head + 1) % 4)
        if (x->q[x->q_head].a)
            tlsplug_aio_close(x->q[x->q_head].a, NULL, NULL);
}

/* The programs' files (session, log) go with their folder. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    if (rmdir(dir))
        fprintf(stderr, "tlsplug-conformance: cannot remove %s: %s\n", dir, strerror(errno));
}

void cf_peer_run(cf_run *r)
{
    peer *x = calloc(1, sizeof *x);
    if (!x) {
        cf_fail(r, "out of memory");
        return;
    }
    x->r = r;
    x->ext_client = r->cep >= EP_OPENSSL_PROG;
    x->ext = x->ext_client ? r->cep : r->sep;
    snprintf(x->tmp, sizeof x->tmp, "/tmp/tlsplug-conformance-XXXXXX");
    if (!mkdtemp(x->tmp) || tlsplug_loop_new(&x->k.loop, 0)) {
        cf_fail(r, "cannot make a temporary directory or a loop");
        free(x);
        return;
    }
    x->k.R = tlsplug_loop_reactor(x->k.loop);
    x->k.tick = tick;
    x->k.tick_arg = x;
    x->k.turn_ms = 5;
    cf_side_out *o = x->ext_client ? &r->s : &r->c;
    o->ran = 1;
    char msg[256];
    int rc = x->ext_client ? cf_ctx(&r->k->s, TLSPLUG_SIDE_SERVER, (tlsplug_impl)r->sep, &x->cb,
                                    &x->ctx, msg, sizeof msg)
                           : cf_ctx(&r->k->c, TLSPLUG_SIDE_CLIENT, (tlsplug_impl)r->cep, &x->cb,
                                    &x->ctx, msg, sizeof msg);
    if (rc)
        cf_set_msg(o, rc, "%s", msg);
    else if (x->ext_client)
        run_against_client(x);
    else
        run_against_server(x);
    close_aio(x);
    reap(&x->p);
    tlsplug_ctx_free(x->ctx);
    double end = now_s() + 3.0;
    int leaked = 0;
    while (tlsplug_loop_free(x->k.loop) == TLSPLUG_E_BUSY) {
        if (now_s() > end) {
            cf_fail(r, "the loop still had watches or timers 3 s after every aio was closed");
            leaked = 1;
            break;
        }
        tlsplug_loop_run_once(x->k.loop, 10);
    }
    remove_dir(x->tmp);
    free(x->data);
    free(x->expect);
    if (!leaked)
        free(x);
}
