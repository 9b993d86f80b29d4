/* Completions of tlsplug_aio operations counted for tests on the built-in
 * loop: each callback stores the error class (0: none) and bumps done, and
 * the waits run the loop until enough callbacks ran (10 s at most). */
#ifndef TLSPLUG_TESTS_AIO_STEPS_H
#define TLSPLUG_TESTS_AIO_STEPS_H

#include <stddef.h>
#include "tlsplug/tlsplug.h"
#include "tlsplug/aio.h"

struct aio_steps {
    int done, err;   /* callbacks run, class of the last one */
    size_t n;        /* bytes of the last read */
    tlsplug_aio *a;  /* the caller's; the helpers below use it */
    char buf[256];   /* where aio_steps_expect_read reads */
};

double aio_steps_now(void); /* CLOCK_MONOTONIC, seconds */
/* Callbacks for any operation or write, and for reads; arg: struct aio_steps. */
void aio_steps_op(tlsplug_aio *a, const tlsplug_error *e, void *arg);
void aio_steps_read(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg);
/* Runs loop until s->done reaches target; asserts it did. */
void aio_steps_wait(tlsplug_loop *loop, struct aio_steps *s, int target);
/* Reads on s->a until exactly want arrived, each read without error. */
void aio_steps_expect_read(tlsplug_loop *loop, struct aio_steps *s, const char *want);
/* Writes msg on s->a and waits for its success. */
void aio_steps_write_str(tlsplug_loop *loop, struct aio_steps *s, const char *msg);

#endif
