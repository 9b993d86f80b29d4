/* Shared by the tlsplug-bench sources: the native-baseline contract each
 * bench/native_<library>.c implements, the in-memory pipe natives write
 * ciphertext into, the allocation and system-call counters, and results. */
#ifndef TLSPLUG_BENCH_H
#define TLSPLUG_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tlsplug/tlsplug.h"

/* ---- native baselines ---------------------------------------------------- */

/* Step results of a native connection besides "done"/byte counts. */
#define BN_WANT_READ (-1)
#define BN_WANT_WRITE (-2)
#define BN_ERROR (-3)
#define BN_CLOSED (-4)

/* One direction of an in-memory transport: the sender appends, the peer
 * consumes.  Natives copy a record in and out exactly once each, as their
 * I/O callbacks would with a socket. */
typedef struct bn_pipe {
    unsigned char *p;
    size_t off, len, cap;
    size_t total; /* bytes ever put, for the resumption check */
} bn_pipe;

int bn_pipe_init(bn_pipe *pp, size_t cap);
void bn_pipe_free(bn_pipe *pp);
/* Bytes taken (0 when full). */
size_t bn_pipe_put(bn_pipe *pp, const void *data, size_t len);
/* Bytes given (0 when empty). */
size_t bn_pipe_get(bn_pipe *pp, void *out, size_t cap);

typedef enum bn_cert { BN_CERT_EC = 0, BN_CERT_RSA = 1 } bn_cert;

/* What both sides of a comparison pin identically: one version, one AEAD
 * (AES-128-GCM), groups x25519 then secp256r1 (the P-256 certificates need
 * the latter listed for TLS 1.2), tickets only when resumption is measured,
 * no session cache.  Clients verify the chain against ca.pem and the name
 * "localhost" unless verify is 0. */
typedef struct bn_ctx_opts {
    int server;
    int version; /* TLSPLUG_TLS1_2 or TLSPLUG_TLS1_3 */
    bn_cert cert;
    int tickets;
    int verify;
    const char *pki; /* directory of the test PKI */
} bn_ctx_opts;

/* A library driven directly, as a competent user of it would: its own
 * non-blocking API over memory (fd < 0: callbacks on in/out) or over a
 * socket (fd >= 0: the library's own socket I/O).  Library defaults apart
 * from the pins above (so OpenSSL keeps its buffers while idle, as its
 * default does). */
typedef struct bench_native {
    const char *name;
    tlsplug_impl impl;
    void *(*ctx_new)(const bn_ctx_opts *o, char *err, size_t errlen);
    void (*ctx_free)(void *ctx);
    /* session: from session_get, offered by a client (NULL: none). */
    void *(*conn_new)(void *ctx, int fd, bn_pipe *in, bn_pipe *out, void *session);
    void (*conn_free)(void *conn);
    /* 0 when done, BN_WANT_READ/BN_WANT_WRITE, BN_ERROR. */
    int (*handshake)(void *conn);
    /* Bytes (>0), BN_WANT_*, BN_CLOSED or BN_ERROR.  A write after
     * BN_WANT_* is retried with the same arguments. */
    long (*read)(void *conn, void *buf, size_t cap);
    long (*write)(void *conn, const void *buf, size_t len);
    /* Client: the session to offer next time (after the handshake and after
     * reading any tickets), NULL if none; freed with session_free. */
    void *(*session_get)(void *conn);
    void (*session_free)(void *session);
    /* 1 resumed, 0 full, -1 the library cannot say (mbedTLS 2.28). */
    int (*resumed)(void *conn);
    /* What was negotiated: version, and 1/0 (-1 unknown) for AES-128-GCM and
     * x25519, so the bench can check both sides ran the same thing. */
    void (*describe)(void *conn, int *version, int *aes128gcm, int *x25519);
    /* A line on the library's error queue for the last failure, or "". */
    const char *(*last_error)(void *conn);
} bench_native;

/* natives.c: the built natives, NULL-terminated; by impl. */
extern const bench_native *const bench_natives[];
const bench_native *bench_native_for(tlsplug_impl impl);

/* ---- counters (bench_count.c) --------------------------------------------- */

/* Live heap bytes (malloc_usable_size of every block malloc/calloc/realloc/
 * memalign handed out and not freed), its high-water mark, the number of
 * allocations, and the I/O and polling system calls made (read, write,
 * send*, recv*, readv, writev, epoll_*, poll), counted in the process by
 * interposing those functions.  Library and tlsplug allocations count the
 * same way.  bench_count_available() is 0 in sanitizer builds, where the
 * interposers are left out. */
int bench_count_available(void);
long long bench_live_bytes(void);
long long bench_peak_bytes(void);
void bench_peak_reset(void);
unsigned long long bench_alloc_calls(void);
unsigned long long bench_syscalls(void);
enum { BENCH_SC_READ, BENCH_SC_WRITE, BENCH_SC_WAIT, BENCH_SC_CTL, BENCH_SC_KINDS };
/* The same, by kind: reads (read, recv*, readv), writes, waits (epoll_wait,
 * epoll_pwait, poll), epoll_ctl. */
unsigned long long bench_syscalls_of(int kind);
/* Bytes passed to memcpy/memmove calls (copies the compiler inlined, small
 * fixed-size ones, are not seen): extra copies of a record show up here. */
unsigned long long bench_copy_bytes(void);
/* tlsplug's own share: installed with tlsplug_set_allocator before any other
 * tlsplug call. */
void bench_count_install_tlsplug_allocator(void);
long long bench_tlsplug_live_bytes(void);

/* ---- results --------------------------------------------------------------- */

typedef struct bench_opts {
    int quick;
    int runs;          /* medians of this many runs                          */
    double run_s;      /* seconds per timed run                              */
    int idle_conns;    /* connections for the idle-memory measure            */
    int many_conns;    /* connections for the 10k test (per backend)         */
    int many_conns_slow; /* same for backends with slow handshakes (mbedTLS) */
    double echo_s;     /* seconds of echo in the socket tests                */
    const char *pki;
    unsigned groups;   /* BG_* bits to run                                   */
    int verbose;
    const char *self_exe; /* this program, for the callgrind run's client     */
    int cg_conns;         /* --conns under --callgrind (0: its own default)    */
} bench_opts;

#define BG_BULK 1u
#define BG_HANDSHAKE 2u
#define BG_RESUME 4u
#define BG_MEMORY 8u
#define BG_ECHO 16u
#define BG_MANY 32u
#define BG_ALL 63u

/* higher: 1 when more is better (ratio = tlsplug/native), 0 when less is
 * better (ratio = native/tlsplug).  Either way a ratio >= 1 means tlsplug is
 * at least as good.  NaN values print as "n/a". */
void bench_result(const char *backend, const char *metric, double tl, double nat, int higher);
/* A free-form line printed under the table (diagnostics, failed checks). */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

double bench_now(void);
double bench_cpu_now(void); /* process user+system seconds */
double bench_median(double *v, int n);

/* ---- the scenario groups ---------------------------------------------------- */

void bench_mem_run(const bench_opts *o, tlsplug_impl impl);
void bench_net_run(const bench_opts *o, tlsplug_impl impl);
void bench_many_run(const bench_opts *o, tlsplug_impl impl);
/* Callgrind child: every in-memory case once, each measured call inside
 * tlsplug_bench_cg_region; prints "CASE backend|metric|side|ops" lines. */
void bench_mem_callgrind(const bench_opts *o, tlsplug_impl impl);
/* The same for the loopback echo (both ends in the region) and for a
 * reduced many-connections case (the server only; the client is exec'd
 * outside valgrind). */
void bench_net_callgrind(const bench_opts *o, tlsplug_impl impl);
void bench_many_callgrind(const bench_opts *o, tlsplug_impl impl);
/* The many-connections client as a process of its own: argv is
 * {exe, "--many-client", fd, n, impl, pki, echo_s, pace_ms}. */
int bench_many_client_main(int argc, char **argv);
/* The function whose calls callgrind collects (--toggle-collect). */
void tlsplug_bench_cg_region(int (*fn)(void *), void *arg, int *rc);

/* Helpers shared by the scenario files. */
/* A tlsplug context with the same pins as a native one; NULL (reported) on
 * failure. */
tlsplug_ctx *bench_tl_ctx(tlsplug_impl impl, const bn_ctx_opts *o);
const char *bench_pki_path(const char *dir, const char *file); /* static, 4 slots */
/* The highest version the backend as built offers: TLSPLUG_TLS1_3 or 1_2. */
int bench_top_version(tlsplug_impl impl);
/* waitpid, again when a signal interrupts it. */
pid_t bench_waitpid(pid_t pid, int *status, int flags);
/* Callgrind child: the "CASE backend|metric|side|ops|ran|ok" line the parent
 * pairs with the region's dump (one dump per line with ran=1), flushed. */
void bench_cg_case(const char *backend, const char *metric, int native, unsigned long long ops,
                   int ran, int ok);

#endif
