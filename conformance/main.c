/* tlsplug-conformance: runs every case of the table on every pair of ends,
 * in memory, over loopback TCP and against external peers, prints the
 * matrix and writes conformance.md and conformance.json.  Exit status 0 when
 * every result is as expected (or a known difference), 1 otherwise, 2 on a
 * usage error or filters that select nothing, 77 (ctest's skip) when every
 * result is as expected but the peers transport lacked an external program. */
#include <fnmatch.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "report.h"
#include "runner.h"

#define MAX_PAIRS 64

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tlsplug-conformance [options]\n"
            "  --transport LIST   memory,tcp,peers (default: all three)\n"
            "  --case PATTERN     case name or group/name, shell pattern (repeatable)\n"
            "  --group NAME       only this group (repeatable)\n"
            "  --client END       only this client end: openssl, mbedtls, wolfssl, gnutls,\n"
            "                     s_client, gnutls-cli (repeatable)\n"
            "  --server END       only this server end: ..., s_server, gnutls-serv\n"
            "  --out DIR          where conformance.md and conformance.json go (default .)\n"
            "  --known FILE       known differences (default: the source tree's)\n"
            "  --pki DIR          the test PKI (default: the build's)\n"
            "  --list             list the cases and exit\n"
            "  -v, --verbose      one line per result as it happens\n");
}

typedef struct opts {
    unsigned transports;
    const char *cases[32], *groups[16];
    int n_cases, n_groups;
    int clients[8], servers[8];
    int n_clients, n_servers;
    const char *out, *known;
    int verbose, list;
} opts;

static int want_case(const opts *o, const cf_case *k)
{
    char full[128];
    snprintf(full, sizeof full, "%s/%s", k->group, k->name);
    /* --case and --group add up; neither: every case */
    if (o->n_cases == 0 && o->n_groups == 0)
        return 1;
    for (int i = 0; i < o->n_cases; i++)
        if (!fnmatch(o->cases[i], k->name, 0) || !fnmatch(o->cases[i], full, 0))
            return 1;
    for (int i = 0; i < o->n_groups; i++)
        if (!strcmp(o->groups[i], k->group))
            return 1;
    return 0;
}

/* A --case or --group that selects nothing is a typo, not a pass. */
static int check_filters(const opts *o)
{
    int bad = 0;
    for (int i = 0; i < o->n_cases + o->n_groups; i++) {
        opts one = {0};
        if (i < o->n_cases)
            one.cases[one.n_cases++] = o->cases[i];
        else
            one.groups[one.n_groups++] = o->groups[i - o->n_cases];
        size_t n = 0;
        for (size_t j = 0; j < cf_n_cases; j++)
            n += (size_t)want_case(&one, &cf_cases[j]);
        if (!n) {
            fprintf(stderr, "tlsplug-conformance: %s '%s' matches no case (--list shows them)\n",
                    i < o->n_cases ? "--case" : "--group",
                    i < o->n_cases ? o->cases[i] : o->groups[i - o->n_cases]);
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

static int want_end(const int *list, int n, int ep)
{
    if (!n)
        return 1;
    for (int i = 0; i < n; i++)
        if (list[i] == ep)
            return 1;
    return 0;
}

static size_t make_pairs(const opts *o, int transport, int (*pairs)[2])
{
    tlsplug_impl impls[8];
    size_t ni = tlsplug_impl_list(impls, 8), n = 0;
    int cand[MAX_PAIRS][2];
    size_t nc = 0;
    if (transport != T_PEERS) {
        for (size_t i = 0; i < ni; i++)
            for (size_t j = 0; j < ni; j++) {
                cand[nc][0] = (int)impls[i];
                cand[nc++][1] = (int)impls[j];
            }
    } else {
        for (size_t i = 0; i < ni; i++) {
            int b = (int)impls[i];
            int rows[4][2] = {{b, EP_OPENSSL_PROG}, {b, EP_GNUTLS_PROG},
                              {EP_OPENSSL_PROG, b}, {EP_GNUTLS_PROG, b}};
            for (int r = 0; r < 4; r++) {
                cand[nc][0] = rows[r][0];
                cand[nc++][1] = rows[r][1];
            }
        }
    }
    for (size_t i = 0; i < nc; i++)
        if (want_end(o->clients, o->n_clients, cand[i][0]) &&
            want_end(o->servers, o->n_servers, cand[i][1])) {
            pairs[n][0] = cand[i][0];
            pairs[n++][1] = cand[i][1];
        }
    return n;
}

static int parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"transport", required_argument, 0, 't'}, {"case", required_argument, 0, 'c'},
        {"group", required_argument, 0, 'g'},     {"client", required_argument, 0, 'C'},
        {"server", required_argument, 0, 'S'},    {"out", required_argument, 0, 'o'},
        {"known", required_argument, 0, 'k'},     {"pki", required_argument, 0, 'p'},
        {"list", no_argument, 0, 'l'},            {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
        switch (ch) {
        case 't': {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", optarg);
            for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save)) {
                if (!strcmp(tok, "memory") || !strcmp(tok, "mem"))
                    o->transports |= T_MEM;
                else if (!strcmp(tok, "tcp"))
                    o->transports |= T_TCP;
                else if (!strcmp(tok, "peers"))
                    o->transports |= T_PEERS;
                else {
                    fprintf(stderr, "unknown transport '%s'\n", tok);
                    return -1;
                }
            }
            break;
        }
        case 'c':
            if (o->n_cases < 32)
                o->cases[o->n_cases++] = optarg;
            break;
        case 'g':
            if (o->n_groups < 16)
                o->groups[o->n_groups++] = optarg;
            break;
        case 'C':
        case 'S': {
            int ep = cf_ep_from_name(optarg);
            if (!ep) {
                fprintf(stderr, "unknown or unbuilt end '%s'\n", optarg);
                return -1;
            }
            if (ch == 'C' && o->n_clients < 8)
                o->clients[o->n_clients++] = ep;
            if (ch == 'S' && o->n_servers < 8)
                o->servers[o->n_servers++] = ep;
            break;
        }
        case 'o':
            o->out = optarg;
            break;
        case 'k':
            o->known = optarg;
            break;
        case 'p':
            cf_pki_dir = optarg;
            break;
        case 'l':
            o->list = 1;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->transports)
        o->transports = T_ALL;
    return 0;
}

/* Says which external programs the peers pairs need and cannot find; 1 if
 * any is missing (their cells are n/a, and the run ends with 77). */
static int peers_missing(const int (*pairs)[2], size_t np)
{
    int checked[2] = {0, 0}, missing = 0;
    for (size_t i = 0; i < np; i++) {
        int ep = pairs[i][0] >= EP_OPENSSL_PROG ? pairs[i][0] : pairs[i][1];
        if (checked[ep == EP_GNUTLS_PROG]++)
            continue;
        char why[256];
        if (!cf_peer_available(ep, why, sizeof why)) {
            fprintf(stderr, "tlsplug-conformance: peers transport: %s\n", why);
            missing = 1;
        }
    }
    return missing;
}

static void on_signal(int sig)
{
    cf_peer_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int run_cell(cf_report *rep, const opts *o, const cf_case *k, int tr, int cep, int sep)
{
    char why[768];
    double t0 = now_ms();
    int status;
    if (!cf_applies(k, tr, cep, sep, why, sizeof why)) {
        status = ST_NA;
    } else if (tr == T_PEERS && !cf_peer_available(cep < EP_OPENSSL_PROG ? sep : cep, why,
                                                   sizeof why)) {
        status = ST_NA;
    } else {
        cf_run r;
        cf_run_init(&r, k, cep, sep);
        if (tr == T_MEM)
            cf_mem_run(&r);
        else if (tr == T_TCP)
            cf_tcp_run(&r);
        else
            cf_peer_run(&r);
        status = cf_judge(&r, why, sizeof why) ? ST_FAIL : ST_PASS;
        if (status == ST_FAIL) {
            const cf_known *kd = cf_known_match(rep, k, tr, cep, sep, why);
            if (kd) {
                char got[sizeof why];
                snprintf(got, sizeof got, "%s", why);
                snprintf(why, sizeof why, "%.300s [%.400s]", kd->reason, got);
                status = ST_KNOWN;
            }
        }
    }
    double ms = now_ms() - t0;
    cf_report_add(rep, k, tr, cep, sep, status, why, ms);
    if (o->verbose) {
        static const char *const st[] = {"ok", "FAIL", "known", "n/a"};
        printf("%-6s %-32s %s>%s: %s%s%s (%.1f ms)\n", cf_transport_name(tr), k->name,
               cf_ep_name(cep, 1), cf_ep_name(sep, 0), st[status], why[0] ? ": " : "", why, ms);
        fflush(stdout);
    }
    return status == ST_FAIL;
}

int main(int argc, char **argv)
{
    opts o = {0};
    if (parse(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    if (check_filters(&o))
        return 2;
    if (o.list) {
        for (size_t i = 0; i < cf_n_cases; i++)
            if (want_case(&o, &cf_cases[i]))
                printf("%-14s %-32s %s\n", cf_cases[i].group, cf_cases[i].name, cf_cases[i].what);
        return 0;
    }
    atexit(cf_peer_cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    cf_report rep = {0};
    if (cf_known_load(&rep, o.known ? o.known : TLSPLUG_CONFORMANCE_KNOWN))
        return 2;

    static const int order[3] = {T_MEM, T_TCP, T_PEERS};
    int transports[3];
    static int pairs[3][MAX_PAIRS][2];
    const int(*pair_ptrs[3])[2];
    size_t n_pairs[3], n_tr = 0, n_all = 0;
    for (int t = 0; t < 3; t++) {
        if (!(o.transports & (unsigned)order[t]))
            continue;
        transports[n_tr] = order[t];
        n_pairs[n_tr] = make_pairs(&o, order[t], pairs[n_tr]);
        n_all += n_pairs[n_tr++];
    }
    if (!n_all) {
        fprintf(stderr, "tlsplug-conformance: no pair of ends matches --client/--server on the "
                        "chosen transports\n");
        cf_report_free(&rep);
        return 2;
    }
    int failed = 0, missing = 0;
    double start = now_ms();
    for (size_t t = 0; t < n_tr; t++) {
        int tr = transports[t];
        size_t np = n_pairs[t];
        if (tr == T_PEERS)
            missing = peers_missing((const int(*)[2])pairs[t], np);
        double t0 = now_ms();
        for (size_t i = 0; i < cf_n_cases; i++) {
            if (!want_case(&o, &cf_cases[i]))
                continue;
            for (size_t j = 0; j < np; j++)
                failed |= run_cell(&rep, &o, &cf_cases[i], tr, pairs[t][j][0], pairs[t][j][1]);
        }
        pair_ptrs[t] = (const int(*)[2])pairs[t];
        cf_report_matrix(&rep, stdout, tr, pair_ptrs[t], np);
        printf("%s took %.1f s\n", cf_transport_name(tr), (now_ms() - t0) / 1e3);
        fflush(stdout);
    }
    cf_report_details(&rep, stdout);

    const char *dir = o.out ? o.out : ".";
    mkdir(dir, 0777); /* ctest gives one folder per transport */
    char md[1024], json[1024];
    snprintf(md, sizeof md, "%s/conformance.md", dir);
    snprintf(json, sizeof json, "%s/conformance.json", dir);
    if (cf_report_write_md(&rep, md, transports, n_tr, pair_ptrs, n_pairs) ||
        cf_report_write_json(&rep, json)) {
        fprintf(stderr, "tlsplug-conformance: cannot write %s or %s\n", md, json);
        failed = 1;
    }
    printf("\nconformance: %s in %.1f s; wrote %s and %s\n",
           failed    ? "UNEXPECTED RESULTS"
           : missing ? "SKIPPED in part: external peer programs are missing (listed on stderr)"
                     : "all as expected",
           (now_ms() - start) / 1e3, md, json);
    cf_report_free(&rep);
    return failed ? 1 : missing ? 77 : 0;
}
