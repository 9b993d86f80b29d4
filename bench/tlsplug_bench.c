/* tlsplug-bench: for every built backend, tlsplug against the same library
 * driven natively, in the same run; prints a table (or --json) of medians
 * and ratios.  --callgrind reruns the in-memory and socket cases under
 * valgrind and prints instruction counts instead.  See docs/performance.md. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifndef TLSPLUG_BENCH_PKI_DIR
#define TLSPLUG_BENCH_PKI_DIR "pki"
#endif

/* ---- results ----------------------------------------------------------------- */

typedef struct result {
    char backend[16];
    char metric[96];
    double tl, nat, ratio;
    int higher;
} result;

static result results[1024];
static int nresults;
static char notes[256][512];
static int nnotes;
static int json_out, verbose;
static double t_start;

void bench_result(const char *backend, const char *metric, double tl, double nat, int higher)
{
    if (nresults == (int)(sizeof results / sizeof *results))
        return;
    result *r = &results[nresults++];
    snprintf(r->backend, sizeof r->backend, "%s", backend);
    snprintf(r->metric, sizeof r->metric, "%s", metric);
    r->tl = tl;
    r->nat = nat;
    r->higher = higher;
    double num = higher ? tl : nat, den = higher ? nat : tl;
    r->ratio = (isnan(num) || isnan(den) || den <= 0) ? NAN : num / den;
    if (verbose)
        fprintf(stderr, "  %-8s %-58s %12.6g %12.6g %7.3f\n", backend, metric, tl, nat, r->ratio);
}

void bench_note(const char *fmt, ...)
{
    if (nnotes == (int)(sizeof notes / sizeof *notes))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(notes[nnotes], sizeof notes[nnotes], fmt, ap);
    va_end(ap);
    /* the same failure repeated over runs is one note */
    for (int i = 0; i < nnotes; i++)
        if (strcmp(notes[i], notes[nnotes]) == 0)
            return;
    nnotes++;
}

void bench_progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%6.1fs] ", bench_now() - t_start);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The targets, judged from the metric's kind. */
static const char *verdict(const result *r)
{
    if (isnan(r->ratio))
        return "-";
    const char *m = r->metric;
    if (strstr(m, "instructions"))
        return "-";
    if (strstr(m, "throughput") || strstr(m, "handshake") || strstr(m, "round trips"))
        return r->ratio >= 0.97 ? "ok" : "MISS";
    if (strstr(m, "idle memory") || strstr(m, "heap per conn") || strstr(m, "syscalls per"))
        return r->ratio >= 1.0 ? "ok" : "MISS";
    if (strstr(m, "connections held"))
        return r->tl >= r->nat && r->tl > 0 ? "ok" : "MISS";
    if (strstr(m, "bytes copied per 16KiB record"))
        return r->tl - r->nat <= 1.05 * 16384 ? "ok" : "MISS";
    return "-";
}

static void fmt_value(char *out, size_t cap, double v)
{
    if (isnan(v))
        snprintf(out, cap, "n/a");
    else if (fabs(v) >= 100 || v == floor(v))
        snprintf(out, cap, "%.0f", v);
    else if (fabs(v) >= 1)
        snprintf(out, cap, "%.2f", v);
    else
        snprintf(out, cap, "%.4f", v);
}

static void print_table(FILE *f)
{
    fprintf(f, "%-8s %-58s %12s %12s %7s  %s\n", "backend", "metric", "tlsplug", "native", "ratio",
            "target");
    for (int i = 0; i < nresults; i++) {
        const result *r = &results[i];
        char a[32], b[32], c[32];
        fmt_value(a, sizeof a, r->tl);
        fmt_value(b, sizeof b, r->nat);
        if (isnan(r->ratio))
            snprintf(c, sizeof c, "n/a");
        else
            snprintf(c, sizeof c, "%.3f", r->ratio);
        fprintf(f, "%-8s %-58s %12s %12s %7s  %s\n", r->backend, r->metric, a, b, c, verdict(r));
    }
}

static void json_num(FILE *f, double v)
{
    if (isnan(v))
        fputs("null", f);
    else
        fprintf(f, "%.6g", v);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void print_json(FILE *f)
{
    fputs("[\n", f);
    for (int i = 0; i < nresults; i++) {
        const result *r = &results[i];
        fputs("  {\"backend\": ", f);
        json_str(f, r->backend);
        fputs(", \"metric\": ", f);
        json_str(f, r->metric);
        fputs(", \"tlsplug\": ", f);
        json_num(f, r->tl);
        fputs(", \"native\": ", f);
        json_num(f, r->nat);
        fputs(", \"ratio\": ", f);
        json_num(f, r->ratio);
        fputs(i + 1 < nresults ? "},\n" : "}\n", f);
    }
    fputs("]\n", f);
}

static void print_notes(FILE *f)
{
    if (!nnotes)
        return;
    fputs("\nnotes:\n", f);
    for (int i = 0; i < nnotes; i++)
        fprintf(f, "- %s\n", notes[i]);
}

/* ---- machine ------------------------------------------------------------------ */

static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && c) {
            c += 2;
            c[strcspn(c, "\n")] = 0;
            snprintf(out, cap, "%s", c);
            break;
        }
    }
    fclose(f);
}

/* ---- callgrind ------------------------------------------------------------------- */

__attribute__((noinline, noclone)) void tlsplug_bench_cg_region(int (*fn)(void *), void *arg,
                                                                 int *rc)
{
    *rc = fn(arg);
    __asm__ volatile("" ::: "memory"); /* no tail call: the region ends here */
}

static double cg_total(const char *dir, int k)
{
    char path[600], line[512];
    snprintf(path, sizeof path, "%s/cg.out.%d", dir, k);
    FILE *f = fopen(path, "r");
    double v = NAN;
    if (!f)
        return v;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "totals:", 7) == 0 || strncmp(line, "summary:", 8) == 0) {
            v = strtod(line + (line[0] == 't' ? 7 : 8), NULL);
            break;
        }
    fclose(f);
    remove(path);
    return v;
}

static int run_callgrind(int argc, char **argv)
{
    char dir[] = "/tmp/tlsplug-cg-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char outopt[128];
    snprintf(outopt, sizeof outopt, "--callgrind-out-file=%s/cg.out", dir);
    char *args[64];
    int n = 0;
    args[n++] = "valgrind";
    args[n++] = "--tool=callgrind";
    args[n++] = "--collect-atstart=no";
    args[n++] = "--toggle-collect=tlsplug_bench_cg_region";
    args[n++] = "--dump-after=tlsplug_bench_cg_region";
    args[n++] = outopt;
    args[n++] = "/proc/self/exe";
    args[n++] = "--cg-child";
    for (int i = 1; i < argc && n < 62; i++)
        if (strcmp(argv[i], "--callgrind") != 0 && strcmp(argv[i], "--json") != 0)
            args[n++] = argv[i];
    args[n] = NULL;
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el > 0) {
        exe[el] = 0;
        args[6] = exe;
    }
    int fds[2];
    if (pipe(fds)) {
        perror("pipe");
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp("valgrind", args);
        fprintf(stderr, "tlsplug-bench: cannot run valgrind: %s (apt-get install valgrind)\n",
                strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    char line[512];
    int dump = 0;
    struct {
        char backend[16], metric[96];
        double tl, nat;
    } rows[128];
    int nrows = 0;
    while (in && fgets(line, sizeof line, in)) {
        char b[16], metric[96], side[16];
        int ops, ran, ok;
        if (sscanf(line, "CASE %15[^|]|%95[^|]|%15[^|]|%d|%d|%d", b, metric, side, &ops, &ran,
                   &ok) != 6)
            continue;
        bench_progress("callgrind: %s %s %s", b, metric, side);
        double per = NAN;
        if (ran) {
            double ir = cg_total(dir, ++dump);
            if (ok && ops > 0)
                per = ir / ops;
        }
        int k;
        for (k = 0; k < nrows; k++)
            if (!strcmp(rows[k].backend, b) && !strcmp(rows[k].metric, metric))
                break;
        if (k == nrows && nrows < 128) {
            snprintf(rows[k].backend, sizeof rows[k].backend, "%s", b);
            snprintf(rows[k].metric, sizeof rows[k].metric, "%s", metric);
            rows[k].tl = rows[k].nat = NAN;
            nrows++;
        }
        if (k < 128) {
            if (!strcmp(side, "native"))
                rows[k].nat = per;
            else
                rows[k].tl = per;
        }
    }
    if (in)
        fclose(in);
    int st = 0;
    bench_waitpid(pid, &st, 0);
    char rest[600];
    snprintf(rest, sizeof rest, "%s/cg.out", dir);
    remove(rest);
    rmdir(dir);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "tlsplug-bench: the callgrind run failed (status %d)\n", st);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
            return 1;
    }
    for (int k = 0; k < nrows; k++) {
        char m[96];
        /* per operation: one 16 KiB record, one whole handshake, one echo
         * round trip or 16 KiB echoed, one connection established */
        snprintf(m, sizeof m, "instructions per op: %.70s", rows[k].metric);
        char *u = strstr(m, " (");
        if (u)
            *u = 0;
        bench_result(rows[k].backend, m, rows[k].tl, rows[k].nat, 0);
    }
    return nrows ? 0 : 1;
}

/* ---- options ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs("usage: tlsplug-bench [--quick] [--json] [--backend B[,B...]] [--only GROUPS]\n"
          "                     [--runs N] [--seconds S] [--conns N] [--idle-conns N]\n"
          "                     [--pki DIR] [--callgrind] [--verbose]\n"
          "  GROUPS: comma list of bulk,handshake,resume,memory,echo,many (default: all)\n"
          "  --quick      CI smoke: seconds, not minutes (no speed assertions anywhere)\n"
          "  --json       print a JSON array of {backend, metric, tlsplug, native, ratio}\n"
          "  --callgrind  instruction counts per operation under valgrind --tool=callgrind\n"
          "               (noise-free second measure): the in-memory cases, the echo\n"
          "               (both ends) and a reduced many-connections case (the server)\n",
          f);
}

static unsigned parse_groups(const char *s)
{
    static const struct {
        const char *name;
        unsigned bit;
    } g[] = {{"bulk", BG_BULK},     {"handshake", BG_HANDSHAKE}, {"resume", BG_RESUME},
             {"memory", BG_MEMORY}, {"echo", BG_ECHO},           {"many", BG_MANY},
             {"all", BG_ALL}};
    unsigned bits = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < sizeof g / sizeof *g; i++)
            if (!strcmp(t, g[i].name)) {
                bits |= g[i].bit;
                break;
            }
        if (i == sizeof g / sizeof *g) {
            fprintf(stderr, "tlsplug-bench: unknown group '%s'\n", t);
            exit(2);
        }
    }
    return bits;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--many-client"))
        return bench_many_client_main(argc, argv);
    /* before any other tlsplug call: tlsplug's own share of the heap */
    bench_count_install_tlsplug_allocator();
    signal(SIGPIPE, SIG_IGN); /* natives write to sockets without MSG_NOSIGNAL */
    t_start = bench_now();

    bench_opts o = {.runs = 5, .run_s = 0.25, .idle_conns = 1000, .many_conns = 10000,
                    .many_conns_slow = 10000, .echo_s = 0.5, .pki = TLSPLUG_BENCH_PKI_DIR,
                    .groups = BG_ALL};
    const char *backends = NULL;
    int callgrind = 0, cg_child = 0, runs = 0, conns = 0, idle = 0;
    double secs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick"))
            o.quick = 1;
        else if (!strcmp(a, "--json"))
            json_out = 1;
        else if (!strcmp(a, "--verbose"))
            verbose = o.verbose = 1;
        else if (!strcmp(a, "--callgrind"))
            callgrind = 1;
        else if (!strcmp(a, "--cg-child"))
            cg_child = 1;
        else if (!strcmp(a, "--backend") && v)
            backends = argv[++i];
        else if (!strcmp(a, "--only") && v)
            o.groups = parse_groups(argv[++i]);
        else if (!strcmp(a, "--runs") && v)
            runs = atoi(argv[++i]);
        else if (!strcmp(a, "--seconds") && v)
            secs = atof(argv[++i]);
        else if (!strcmp(a, "--conns") && v)
            conns = atoi(argv[++i]);
        else if (!strcmp(a, "--idle-conns") && v)
            idle = atoi(argv[++i]);
        else if (!strcmp(a, "--pki") && v)
            o.pki = argv[++i];
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (o.quick) {
        o.runs = 1;
        o.run_s = 0.03;
        o.idle_conns = 20;
        o.many_conns = 200;
        o.many_conns_slow = 40;
        o.echo_s = 0.1;
    }
    if (runs > 0)
        o.runs = runs;
    if (secs > 0)
        o.run_s = secs;
    if (conns > 0)
        o.many_conns = o.many_conns_slow = conns;
    if (idle > 0)
        o.idle_conns = idle;

    if (access(bench_pki_path(o.pki, "ca.pem"), R_OK) != 0) {
        fprintf(stderr, "tlsplug-bench: no test PKI at %s (build the tree first, or --pki DIR)\n",
                o.pki);
        return 2;
    }

    tlsplug_impl list[TLSPLUG_IMPL_COUNT];
    size_t nb = tlsplug_impl_list(list, TLSPLUG_IMPL_COUNT), nsel = 0;
    tlsplug_impl sel[TLSPLUG_IMPL_COUNT];
    for (size_t i = 0; i < nb; i++) {
        const char *name = tlsplug_impl_name(list[i]);
        if (backends) {
            char buf[128];
            int hit = 0;
            snprintf(buf, sizeof buf, "%s", backends);
            for (char *s = NULL, *t = strtok_r(buf, ",", &s); t; t = strtok_r(NULL, ",", &s))
                hit |= !strcmp(t, name);
            if (!hit)
                continue;
        }
        sel[nsel++] = list[i];
    }
    if (!nsel) {
        fprintf(stderr, "tlsplug-bench: no built backend selected\n");
        return 2;
    }

    if (cg_child) {
        o.self_exe = argv[0]; /* the absolute path run_callgrind gave valgrind */
        o.cg_conns = conns;
        for (size_t i = 0; i < nsel; i++) {
            bench_mem_callgrind(&o, sel[i]);
            if (o.groups & BG_ECHO)
                bench_net_callgrind(&o, sel[i]);
            if (o.groups & BG_MANY)
                bench_many_callgrind(&o, sel[i]);
        }
        return 0;
    }

    char cpu[160];
    cpu_model(cpu, sizeof cpu);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    FILE *out = json_out ? stderr : stdout;
    fprintf(out, "tlsplug-bench %s: %s, %ld CPUs; %s run", TLSPLUG_VERSION_STRING, cpu, ncpu,
            callgrind ? "callgrind" : o.quick ? "quick" : "full");
    if (!callgrind)
        fprintf(out, " (medians of %d, %.2f s per timed run)", o.runs, o.run_s);
    fputs("\n", out);
    for (size_t i = 0; i < nsel; i++)
        fprintf(out, "  %-8s %s\n", tlsplug_impl_name(sel[i]), tlsplug_impl_version(sel[i]));
    fputs("ratio = tlsplug/native when more is better, native/tlsplug when less is better:\n"
          ">= 1 means tlsplug is at least as good.  target: throughput and handshake ratios\n"
          "(and round trips) >= 0.97; idle memory, heap per conn and syscalls no worse than\n"
          "native; at most one extra copy (16384 bytes) per 16 KiB record; every connection\n"
          "held.\n\n",
          out);
    fflush(out);

    int rc = 0;
    if (callgrind) {
        rc = run_callgrind(argc, argv);
    } else {
        for (size_t i = 0; i < nsel; i++) {
            if (o.groups & (BG_BULK | BG_HANDSHAKE | BG_RESUME | BG_MEMORY))
                bench_mem_run(&o, sel[i]);
            if (o.groups & BG_ECHO)
                bench_net_run(&o, sel[i]);
            if (o.groups & BG_MANY)
                bench_many_run(&o, sel[i]);
        }
    }
    if (json_out)
        print_json(stdout);
    else
        print_table(stdout);
    print_notes(out);
    fprintf(out, "\ntlsplug-bench: done in %.0f s\n", bench_now() - t_start);
    return rc;
}
