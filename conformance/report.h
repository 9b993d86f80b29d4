/* Results of a whole run: every cell of every matrix, the known differences
 * they were matched against, and the three outputs (terminal, conformance.md,
 * conformance.json). */
#ifndef TLSPLUG_CONFORMANCE_REPORT_H
#define TLSPLUG_CONFORMANCE_REPORT_H

#include <stdio.h>

#include "runner.h"

enum { ST_PASS, ST_FAIL, ST_KNOWN, ST_NA };

typedef struct cf_cell {
    const cf_case *k;
    int transport; /* T_MEM, T_TCP, T_PEERS */
    int cep, sep;
    int status;
    char *detail; /* what went wrong, the n/a reason, or the known reason */
    double ms;
} cf_cell;

/* One known difference (a line of known-differences.tsv).  match: what
 * every part of the failure must contain ('|' between alternatives); NULL
 * when the line has none, and then any failure of the cell matches. */
typedef struct cf_known {
    char *kcase, *client, *server, *transport, *reason, *match;
    int line, used;
} cf_known;

typedef struct cf_report {
    cf_cell *cells;
    size_t n, cap;
    cf_known *known;
    size_t n_known;
    const char *known_path;
} cf_report;

const char *cf_transport_name(int t); /* "memory", "tcp", "peers" */

/* Loads the known differences; -1 with a message on stderr if unreadable. */
int cf_known_load(cf_report *rep, const char *path);
/* The known difference matching a failed cell and its failure (why, the
 * judge's '; '-separated detail), or NULL. */
cf_known *cf_known_match(cf_report *rep, const cf_case *k, int transport, int cep, int sep,
                         const char *why);

void cf_report_add(cf_report *rep, const cf_case *k, int transport, int cep, int sep, int status,
                   const char *detail, double ms);
/* The matrix of one transport on the terminal (pairs in the given order). */
void cf_report_matrix(const cf_report *rep, FILE *f, int transport, const int (*pairs)[2],
                      size_t n_pairs);
/* Failures, then known differences, on the terminal. */
void cf_report_details(const cf_report *rep, FILE *f);
int cf_report_write_md(const cf_report *rep, const char *path, const int transports[],
                       size_t n_tr, const int (*const pairs[])[2], const size_t n_pairs[]);
int cf_report_write_json(const cf_report *rep, const char *path);
void cf_report_free(cf_report *rep);

#endif
