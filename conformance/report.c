/* Results of a run and their three outputs: the matrix on the terminal,
 * conformance.md and conformance.json.  Also reads known-differences.tsv. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

const char *cf_transport_name(int t)
{
    return t == T_MEM ? "memory" : t == T_TCP ? "tcp" : t == T_PEERS ? "peers" : "?";
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- known differences ------------------------------------------------------ */

int cf_known_load(cf_report *rep, const char *path)
{
    rep->known_path = path;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "tlsplug-conformance: cannot read %s\n", path);
        return -1;
    }
    char line[2048];
    int ln = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        char *field[6] = {0};
        char *p = line;
        int n = 0;
        for (; n < 6 && p; n++) {
            field[n] = p;
            p = n < 5 ? strchr(p, '\t') : NULL;
            if (p)
                *p++ = 0;
        }
        if (n < 5 || !field[4] || !*field[4]) {
            fprintf(stderr, "%s:%d: expected case, client, server, transport, a reason and "
                            "optionally what the failure says, separated by tabs\n", path, ln);
            bad = 1;
            continue;
        }
        cf_known *nk = realloc(rep->known, (rep->n_known + 1) * sizeof *nk);
        if (!nk)
            break;
        rep->known = nk;
        cf_known *k = &rep->known[rep->n_known++];
        k->kcase = dup_str(field[0]);
        k->client = dup_str(field[1]);
        k->server = dup_str(field[2]);
        k->transport = dup_str(field[3]);
        k->reason = dup_str(field[4]);
        k->match = field[5] && *field[5] ? dup_str(field[5]) : NULL;
        k->line = ln;
        k->used = 0;
    }
    fclose(f);
    return bad ? -1 : 0;
}

/* Does part (len bytes) contain one of the '|'-separated alternatives? */
static int part_has(const char *part, size_t len, const char *alts)
{
    for (const char *a = alts;; a++) {
        size_t alen = strcspn(a, "|");
        for (size_t i = 0; alen && i + alen <= len; i++)
            if (!memcmp(part + i, a, alen))
                return 1;
        a += alen;
        if (!*a)
            return 0;
    }
}

/* A line with a match column stands for one failure only: a second,
 * different problem in the same cell must still show as a failure. */
static int why_matches(const char *why, const char *match)
{
    if (!match)
        return 1;
    for (const char *p = why;;) {
        const char *end = strstr(p, "; ");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!part_has(p, len, match))
            return 0;
        if (!end)
            return 1;
        p = end + 2;
    }
}

cf_known *cf_known_match(cf_report *rep, const cf_case *k, int transport, int cep, int sep,
                         const char *why)
{
    for (size_t i = 0; i < rep->n_known; i++) {
        cf_known *e = &rep->known[i];
        if (fnmatch(e->kcase, k->name, 0) == 0 &&
            fnmatch(e->client, cf_ep_name(cep, 1), 0) == 0 &&
            fnmatch(e->server, cf_ep_name(sep, 0), 0) == 0 &&
            fnmatch(e->transport, cf_transport_name(transport), 0) == 0 &&
            why_matches(why, e->match)) {
            e->used++;
            return e;
        }
    }
    return NULL;
}

/* ---- cells ---------------------------------------------------------------- */

void cf_report_add(cf_report *rep, const cf_case *k, int transport, int cep, int sep, int status,
                   const char *detail, double ms)
{
    if (rep->n == rep->cap) {
        size_t cap = rep->cap ? rep->cap * 2 : 1024;
        cf_cell *c = realloc(rep->cells, cap * sizeof *c);
        if (!c)
            return;
        rep->cells = c;
        rep->cap = cap;
    }
    cf_cell *c = &rep->cells[rep->n++];
    c->k = k;
    c->transport = transport;
    c->cep = cep;
    c->sep = sep;
    c->status = status;
    c->detail = dup_str(detail ? detail : "");
    c->ms = ms;
}

static const cf_cell *find(const cf_report *rep, const cf_case *k, int transport, int cep, int sep)
{
    for (size_t i = 0; i < rep->n; i++) {
        const cf_cell *c = &rep->cells[i];
        if (c->k == k && c->transport == transport && c->cep == cep && c->sep == sep)
            return c;
    }
    return NULL;
}

static int has_row(const cf_report *rep, const cf_case *k, int transport)
{
    for (size_t i = 0; i < rep->n; i++)
        if (rep->cells[i].k == k && rep->cells[i].transport == transport)
            return 1;
    return 0;
}

static const char *const cell_text[] = {"ok", "F!", "K", "-"};

void cf_report_matrix(const cf_report *rep, FILE *f, int transport, const int (*pairs)[2],
                      size_t n_pairs)
{
    size_t count[4] = {0};
    fprintf(f, "\n== %s: client>server (o openssl, m mbedtls, w wolfssl, g gnutls%s)\n",
            cf_transport_name(transport),
            transport == T_PEERS ? "; O openssl s_server/s_client, G gnutls-serv/gnutls-cli" : "");
    fprintf(f, "%-36s", "case");
    for (size_t j = 0; j < n_pairs; j++)
        fprintf(f, " %c%c", cf_ep_letter(pairs[j][0]), cf_ep_letter(pairs[j][1]));
    fputc('\n', f);
    const char *group = NULL;
    for (size_t i = 0; i < cf_n_cases; i++) {
        const cf_case *k = &cf_cases[i];
        if (!has_row(rep, k, transport))
            continue;
        if (!group || strcmp(group, k->group)) {
            group = k->group;
            fprintf(f, "[%s]\n", group);
        }
        fprintf(f, "  %-34s", k->name);
        for (size_t j = 0; j < n_pairs; j++) {
            const cf_cell *c = find(rep, k, transport, pairs[j][0], pairs[j][1]);
            fprintf(f, " %2s", c ? cell_text[c->status] : "");
            if (c)
                count[c->status]++;
        }
        fputc('\n', f);
    }
    fprintf(f, "%s: %zu ok, %zu failed (F!), %zu known differences (K), %zu not applicable (-)\n",
            cf_transport_name(transport), count[ST_PASS], count[ST_FAIL], count[ST_KNOWN],
            count[ST_NA]);
}

static void pair_label(char *buf, size_t cap, const cf_cell *c)
{
    snprintf(buf, cap, "%s>%s", cf_ep_name(c->cep, 1), cf_ep_name(c->sep, 0));
}

void cf_report_details(const cf_report *rep, FILE *f)
{
    char pl[64];
    int any = 0;
    for (size_t i = 0; i < rep->n; i++) {
        const cf_cell *c = &rep->cells[i];
        if (c->status != ST_FAIL)
            continue;
        if (!any++)
            fprintf(f, "\n== unexpected results\n");
        pair_label(pl, sizeof pl, c);
        fprintf(f, "FAIL %-6s %-30s %-24s %s\n", cf_transport_name(c->transport), c->k->name, pl,
                c->detail);
    }
    any = 0;
    for (size_t i = 0; i < rep->n_known; i++) {
        const cf_known *k = &rep->known[i];
        if (!any++)
            fprintf(f, "\n== known differences (%s)\n", rep->known_path);
        fprintf(f, "%-4s %s %s>%s on %s: %s", k->used ? "K" : "idle", k->kcase, k->client,
                k->server, k->transport, k->reason);
        if (k->match)
            fprintf(f, "  [only failures saying: %s]", k->match);
        fprintf(f, "%s\n", k->used ? "" : "  [did not occur in this run]");
    }
}

/* ---- conformance.md --------------------------------------------------------- */

static void md_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

int cf_report_write_md(const cf_report *rep, const char *path, const int transports[],
                       size_t n_tr, const int (*const pairs[])[2], const size_t n_pairs[])
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# tlsplug conformance matrix\n\n");
    fprintf(f, "tlsplug %s.", TLSPLUG_VERSION_STRING);
    tlsplug_impl impls[8];
    size_t ni = tlsplug_impl_list(impls, 8);
    fprintf(f, " Backends:");
    for (size_t i = 0; i < ni; i++)
        fprintf(f, " %s (%s)%s", tlsplug_impl_name(impls[i]), tlsplug_impl_version(impls[i]),
                i + 1 < ni ? "," : ".");
    fprintf(f, "\n\nColumns are client>server pairs: o openssl, m mbedtls, w wolfssl, g gnutls; "
               "O openssl s_server/s_client, G gnutls-serv/gnutls-cli. Cells: ok, **FAIL**, "
               "K known difference (reason below), n/a (reason below).\n");
    for (size_t t = 0; t < n_tr; t++) {
        int tr = transports[t];
        fprintf(f, "\n## %s\n\n| case |", cf_transport_name(tr));
        for (size_t j = 0; j < n_pairs[t]; j++)
            fprintf(f, " %c%c |", cf_ep_letter(pairs[t][j][0]), cf_ep_letter(pairs[t][j][1]));
        fprintf(f, "\n|---|");
        for (size_t j = 0; j < n_pairs[t]; j++)
            fprintf(f, "---|");
        fputc('\n', f);
        for (size_t i = 0; i < cf_n_cases; i++) {
            const cf_case *k = &cf_cases[i];
            if (!has_row(rep, k, tr))
                continue;
            fprintf(f, "| %s/%s |", k->group, k->name);
            for (size_t j = 0; j < n_pairs[t]; j++) {
                const cf_cell *c = find(rep, k, tr, pairs[t][j][0], pairs[t][j][1]);
                static const char *const md[] = {"ok", "**FAIL**", "K", "n/a"};
                fprintf(f, " %s |", c ? md[c->status] : "");
            }
            fputc('\n', f);
        }
    }
    char pl[64];
    fprintf(f, "\n## Unexpected results\n\n");
    int any = 0;
    for (size_t i = 0; i < rep->n; i++) {
        const cf_cell *c = &rep->cells[i];
        if (c->status != ST_FAIL)
            continue;
        any = 1;
        pair_label(pl, sizeof pl, c);
        fprintf(f, "- %s, `%s`, %s: ", cf_transport_name(c->transport), c->k->name, pl);
        md_escape(f, c->detail);
        fputc('\n', f);
    }
    if (!any)
        fprintf(f, "None.\n");
    fprintf(f, "\n## Known differences\n\nFrom `conformance/known-differences.tsv`.\n\n");
    for (size_t i = 0; i < rep->n_known; i++) {
        const cf_known *k = &rep->known[i];
        fprintf(f, "- `%s` %s>%s on %s (%d cells): ", k->kcase, k->client, k->server,
                k->transport, k->used);
        md_escape(f, k->reason);
        if (k->match) {
            fprintf(f, " (only failures that say: ");
            md_escape(f, k->match);
            fputc(')', f);
        }
        fputc('\n', f);
    }
    fprintf(f, "\n## Not applicable\n\n");
    /* one line per (transport, case, reason), naming the pairs */
    for (size_t i = 0; i < rep->n; i++) {
        const cf_cell *c = &rep->cells[i];
        if (c->status != ST_NA)
            continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = rep->cells[j].status == ST_NA && rep->cells[j].k == c->k &&
                   rep->cells[j].transport == c->transport &&
                   !strcmp(rep->cells[j].detail, c->detail);
        if (seen)
            continue;
        fprintf(f, "- %s, `%s`:", cf_transport_name(c->transport), c->k->name);
        for (size_t j = i; j < rep->n; j++) {
            const cf_cell *d = &rep->cells[j];
            if (d->status == ST_NA && d->k == c->k && d->transport == c->transport &&
                !strcmp(d->detail, c->detail))
                fprintf(f, " %c%c", cf_ep_letter(d->cep), cf_ep_letter(d->sep));
        }
        fprintf(f, ": ");
        md_escape(f, c->detail);
        fputc('\n', f);
    }
    fprintf(f, "\n## Cases\n\n");
    for (size_t i = 0; i < cf_n_cases; i++)
        fprintf(f, "- `%s/%s`: %s\n", cf_cases[i].group, cf_cases[i].name, cf_cases[i].what);
    return fclose(f) ? -1 : 0;
}

/* ---- conformance.json --------------------------------------------------------- */

static void js(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

int cf_report_write_json(const cf_report *rep, const char *path)
{
    static const char *const st[] = {"pass", "fail", "known", "n/a"};
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t count[4] = {0};
    for (size_t i = 0; i < rep->n; i++)
        count[rep->cells[i].status]++;
    fprintf(f, "{\n  \"tlsplug\": \"%s\",\n  \"backends\": [", TLSPLUG_VERSION_STRING);
    tlsplug_impl impls[8];
    size_t ni = tlsplug_impl_list(impls, 8);
    for (size_t i = 0; i < ni; i++) {
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        js(f, tlsplug_impl_name(impls[i]));
        fprintf(f, ", \"version\": ");
        js(f, tlsplug_impl_version(impls[i]));
        fputc('}', f);
    }
    fprintf(f, "],\n  \"summary\": {\"pass\": %zu, \"fail\": %zu, \"known\": %zu, \"na\": %zu},\n",
            count[ST_PASS], count[ST_FAIL], count[ST_KNOWN], count[ST_NA]);
    fprintf(f, "  \"known_differences\": [");
    for (size_t i = 0; i < rep->n_known; i++) {
        const cf_known *k = &rep->known[i];
        fprintf(f, "%s\n    {\"case\": ", i ? "," : "");
        js(f, k->kcase);
        fprintf(f, ", \"client\": ");
        js(f, k->client);
        fprintf(f, ", \"server\": ");
        js(f, k->server);
        fprintf(f, ", \"transport\": ");
        js(f, k->transport);
        fprintf(f, ", \"reason\": ");
        js(f, k->reason);
        fprintf(f, ", \"match\": ");
        js(f, k->match ? k->match : "");
        fprintf(f, ", \"cells\": %d}", k->used);
    }
    fprintf(f, "\n  ],\n  \"results\": [");
    for (size_t i = 0; i < rep->n; i++) {
        const cf_cell *c = &rep->cells[i];
        fprintf(f, "%s\n    {\"case\": ", i ? "," : "");
        js(f, c->k->name);
        fprintf(f, ", \"group\": ");
        js(f, c->k->group);
        fprintf(f, ", \"transport\": \"%s\", \"client\": ", cf_transport_name(c->transport));
        js(f, cf_ep_name(c->cep, 1));
        fprintf(f, ", \"server\": ");
        js(f, cf_ep_name(c->sep, 0));
        fprintf(f, ", \"status\": \"%s\", \"ms\": %.1f, \"detail\": ", st[c->status], c->ms);
        js(f, c->detail);
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) ? -1 : 0;
}

void cf_report_free(cf_report *rep)
{
    for (size_t i = 0; i < rep->n; i++)
        free(rep->cells[i].detail);
    free(rep->cells);
    for (size_t i = 0; i < rep->n_known; i++) {
        cf_known *k = &rep->known[i];
        free(k->kcase);
        free(k->client);
        free(k->server);
        free(k->transport);
        free(k->reason);
        free(k->match);
    }
    free(rep->known);
    memset(rep, 0, sizeof *rep);
}
