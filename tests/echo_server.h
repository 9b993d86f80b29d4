/* A TLS echo server on a tlsplug listener, for the tests that drive aio
 * over real sockets (test_aio_tls on the built-in loop, test_adapters on
 * libuv and libevent).  Each accepted connection echoes what it reads until
 * an error or the peer's close, then closes. */
#ifndef TLSPLUG_TESTS_ECHO_SERVER_H
#define TLSPLUG_TESTS_ECHO_SERVER_H

#include "tlsplug/aio.h"

#define ECHO_MAX 8

struct echo {
    char buf[4096];
    int closed; /* close callbacks received */
};

/* The connections accepted since echo_reset, in order. */
extern struct echo echoes[ECHO_MAX];
extern int n_echo, accept_errors, last_accept_error;

void echo_reset(void);
/* tlsplug_listen callbacks: arg unused.  echo_on_accept asserts that the
 * connection arrives SECURE and that at most ECHO_MAX arrive. */
void echo_on_accept(tlsplug_listener *l, tlsplug_aio *a, void *arg);
void echo_on_accept_error(tlsplug_listener *l, const tlsplug_error *e, void *arg);

#endif
