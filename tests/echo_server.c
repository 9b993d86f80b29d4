#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "echo_server.h"

struct echo echoes[ECHO_MAX];
int n_echo, accept_errors, last_accept_error;

void echo_reset(void)
{
    n_echo = accept_errors = last_accept_error = 0;
}

static void echo_read(tlsplug_aio *a);

static void echo_closed(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    (void)a, (void)e;
    ((struct echo *)arg)->closed++;
}

static void echo_written(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    if (e)
        tlsplug_aio_close(a, echo_closed, arg);
    else
        echo_read(a);
}

static void echo_got(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    if (e) {
        tlsplug_aio_close(a, echo_closed, arg);
        return;
    }
    assert_int_equal(tlsplug_aio_write(a, buf, n, 0, echo_written, arg), TLSPLUG_OK);
}

static void echo_read(tlsplug_aio *a)
{
    struct echo *e = tlsplug_aio_get_data(a);
    assert_int_equal(tlsplug_aio_read(a, e->buf, sizeof e->buf, 0, echo_got, e), TLSPLUG_OK);
}

void echo_on_accept(tlsplug_listener *l, tlsplug_aio *a, void *arg)
{
    (void)l, (void)arg;
    assert_int_equal(tlsplug_aio_state_of(a), TLSPLUG_AIO_SECURE);
    assert_true(n_echo < ECHO_MAX);
    struct echo *e = &echoes[n_echo++];
    memset(e, 0, sizeof *e);
    tlsplug_aio_set_data(a, e);
    echo_read(a);
}

void echo_on_accept_error(tlsplug_listener *l, const tlsplug_error *e, void *arg)
{
    (void)l, (void)arg;
    accept_errors++;
    last_accept_error = tlsplug_error_class(e);
}
