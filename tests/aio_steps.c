#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "aio_steps.h"

double aio_steps_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

void aio_steps_op(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    struct aio_steps *s = arg;
    (void)a;
    s->err = e ? tlsplug_error_class(e) : 0;
    s->done++;
}

void aio_steps_read(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    struct aio_steps *s = arg;
    (void)buf;
    s->n = n;
    aio_steps_op(a, e, arg);
}

void aio_steps_wait(tlsplug_loop *loop, struct aio_steps *s, int target)
{
    double end = aio_steps_now() + 10;
    while (s->done < target && aio_steps_now() < end)
        tlsplug_loop_run_once(loop, 20);
    assert_int_equal(s->done, target);
}

void aio_steps_expect_read(tlsplug_loop *loop, struct aio_steps *s, const char *want)
{
    size_t got = 0, len = strlen(want);
    char acc[256];
    assert_true(len <= sizeof acc);
    while (got < len) {
        int d = s->done;
        assert_int_equal(tlsplug_aio_read(s->a, s->buf, sizeof s->buf, 3000, aio_steps_read, s), 0);
        aio_steps_wait(loop, s, d + 1);
        assert_int_equal(s->err, 0);
        assert_true(s->n <= len - got);
        memcpy(acc + got, s->buf, s->n);
        got += s->n;
    }
    assert_int_equal(got, len);
    assert_memory_equal(acc, want, len);
}

void aio_steps_write_str(tlsplug_loop *loop, struct aio_steps *s, const char *msg)
{
    int d = s->done;
    assert_int_equal(tlsplug_aio_write(s->a, msg, strlen(msg), 3000, aio_steps_op, s), 0);
    aio_steps_wait(loop, s, d + 1);
    assert_int_equal(s->err, 0);
}
