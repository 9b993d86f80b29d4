/* Two engines talking in memory: the harness the engine tests and the
 * conformance suite share. */
#ifndef TLSPLUG_TESTS_PAIR_H
#define TLSPLUG_TESTS_PAIR_H

#include <stddef.h>
#include "tlsplug/tlsplug.h"
#include "tlsplug/aio.h"

typedef struct pair {
    tlsplug_conn *c, *s;
    int cres, sres;    /* handshake results (TLSPLUG_OK or class)   */
    size_t chunk;      /* transport chunk size, 0 = unlimited       */
} pair;

/* Moves ciphertext one way; returns bytes moved. */
size_t pair_move(tlsplug_conn *from, tlsplug_conn *to, size_t chunk);
/* Steps both handshakes to completion or failure. */
void pair_handshake(pair *p);
/* Sends len bytes from one side and receives them on the other, in writes of
 * wsize bytes; returns 0 if every byte arrived in order. */
int pair_transfer(pair *p, int from_client, const unsigned char *data, size_t len, size_t wsize);
/* Reads on conn (pumping from peer) until data, an error or no progress;
 * returns the read result. */
int pair_read(pair *p, int client, void *buf, size_t cap, size_t *n);
void pair_free(pair *p);

/* The backend a test program was asked for (NULL: the default one); prints
 * why and exits with status 1 when it is unknown or not built. */
tlsplug_impl test_backend(const char *name);

/* n bytes of a pattern that differs with seed and along the buffer (so a
 * shifted, repeated or dropped byte shows). */
void pattern(unsigned char *p, size_t n, unsigned seed);

/* Runs the loop until tlsplug_loop_free succeeds or `seconds` passed;
 * returns its last result: TLSPLUG_OK (the loop is freed) or
 * TLSPLUG_E_BUSY (something is still registered; the loop stays). */
int drain_loop(tlsplug_loop *loop, double seconds);

/* Context helpers over the test PKI (TLSPLUG_PKI_DIR). */
const char *pki(const char *file); /* static buffer, path of a PKI file */
/* Server context with chain/key files; extra may be NULL. */
tlsplug_ctx *server_ctx(tlsplug_impl impl, const char *chain, const char *key,
                        void (*extra)(tlsplug_config *));
tlsplug_ctx *client_ctx(tlsplug_impl impl, void (*extra)(tlsplug_config *));
/* New pair with server_name "localhost" unless name given.  The contexts
 * stay the caller's (the connections take references of their own); the
 * pair is the caller's to pair_free, which is harmless after a failure too. */
int pair_new(pair *p, tlsplug_ctx *cctx, tlsplug_ctx *sctx, const char *name);
/* pair_new with the client's options given whole (hooks, another name). */
int pair_new_with(pair *p, tlsplug_ctx *cctx, tlsplug_ctx *sctx, const tlsplug_conn_options *co);
/* pair_new that takes the caller's references to both contexts: it frees
 * them whatever the result.  A NULL context (one that could not be made)
 * fails with TLSPLUG_E_INVALID_ARGUMENT and an empty pair. */
int pair_take(pair *p, tlsplug_ctx *cctx, tlsplug_ctx *sctx, const char *name);
/* A pair over two new contexts of impl, handshake stepped: the client's
 * trusts ca.pem, the server's has chain/key; cx and sx (may be NULL) add to
 * their configs.  Returns pair_take's result; the handshake's are in
 * p->cres/p->sres.  The contexts are freed here (the connections hold
 * theirs); p is the caller's to pair_free. */
int run_pair(pair *p, tlsplug_impl impl, void (*cx)(tlsplug_config *), const char *chain,
             const char *key, void (*sx)(tlsplug_config *), const char *name);

#endif
