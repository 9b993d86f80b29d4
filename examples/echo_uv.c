/*
 * echo_uv: a TLS echo server on a libuv loop, through the tlsplug-uv adapter.
 *
 * Usage: echo_uv [--once] CERT_CHAIN KEY [PORT]
 *
 * Listens on 127.0.0.1 (PORT 0, the default, picks a free port) and prints
 * "listening on 127.0.0.1:PORT" first.  Every connection gets TLS attached
 * by the listener and then has what it sends echoed back.  SIGINT or SIGTERM
 * stop the server; with --once it stops after the first connection ends.
 *
 * The loop is the application's: tlsplug's sockets and timers are uv_poll_t
 * and uv_timer_t handles on it, next to the application's own (here a
 * uv_signal_t).  Try it with: tlsplug client --ca ca.pem localhost PORT
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlsplug/uv.h>

static uv_loop_t loop;
static uv_signal_t sigint, sigterm;
static tlsplug_listener *listener;
static int once, served;

struct conn {
    char buf[16384];
};

/* Stop accepting and let uv_run return once every handle is closed. */
static void stop(void)
{
    if (listener) {
        tlsplug_listener_close(listener);
        listener = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&sigint)) {
        uv_close((uv_handle_t *)&sigint, NULL);
        uv_close((uv_handle_t *)&sigterm, NULL);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    fprintf(stderr, "echo_uv: signal %d, stopping\n", signum);
    stop();
}

static void on_closed(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    free(arg); /* the aio is gone after this callback; so is our state */
    served++;
    if (once)
        stop();
}

static void start_read(tlsplug_aio *aio);

static void on_written(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    if (err)
        tlsplug_aio_close(aio, on_closed, arg);
    else
        start_read(aio);
}

static void on_read(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n, void *arg)
{
    if (err) {
        /* TLSPLUG_E_CLOSED: the client sent close_notify; anything else is a
         * failure worth a line. */
        if (tlsplug_error_class(err) != TLSPLUG_E_CLOSED)
            fprintf(stderr, "echo_uv: read: %s\n", tlsplug_error_name(tlsplug_error_class(err)));
        tlsplug_aio_close(aio, on_closed, arg); /* sends our close_notify */
        return;
    }
    /* buf is the connection's own buffer: it stays valid until the write's
     * callback, and no read is pending meanwhile. */
    tlsplug_aio_write(aio, buf, n, 30000, on_written, arg);
}

static void start_read(tlsplug_aio *aio)
{
    struct conn *c = tlsplug_aio_get_data(aio);
    tlsplug_aio_read(aio, c->buf, sizeof c->buf, 0, on_read, c);
}

static void on_accept(tlsplug_listener *l, tlsplug_aio *aio, void *arg)
{
    struct conn *c = malloc(sizeof *c);
    if (!c) {
        tlsplug_aio_abort(aio, NULL, NULL);
        return;
    }
    char summary[512];
    tlsplug_conn_summary(tlsplug_aio_conn(aio), summary, sizeof summary);
    fprintf(stderr, "echo_uv: connection: %s\n", summary);
    tlsplug_aio_set_data(aio, c);
    start_read(aio);
}

static void on_accept_error(tlsplug_listener *l, const tlsplug_error *err, void *arg)
{
    /* A client that failed the handshake; the listener goes on. */
    fprintf(stderr, "echo_uv: handshake: %s: %s\n", tlsplug_error_name(tlsplug_error_class(err)),
            tlsplug_error_message(err));
}

int main(int argc, char **argv)
{
    int i = 1;
    if (i < argc && strcmp(argv[i], "--once") == 0) {
        once = 1;
        i++;
    }
    if (argc - i < 2 || argc - i > 3) {
        fprintf(stderr, "usage: echo_uv [--once] CERT_CHAIN KEY [PORT]\n");
        return 2;
    }
    int port = argc - i == 3 ? atoi(argv[i + 2]) : 0;

    tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_SERVER);
    tlsplug_ctx *ctx;
    tlsplug_error *err = NULL;
    if (tlsplug_config_set_cert_file(cfg, argv[i], argv[i + 1], NULL) != TLSPLUG_OK) {
        fprintf(stderr, "echo_uv: %s\n", tlsplug_error_message(tlsplug_config_error(cfg)));
        return 1;
    }
    if (tlsplug_ctx_new(&ctx, cfg, TLSPLUG_IMPL_NONE, &err) != TLSPLUG_OK) {
        fprintf(stderr, "echo_uv: %s\n", tlsplug_error_message(err));
        return 1;
    }
    tlsplug_config_free(cfg);

    /* The application's loop, and tlsplug's view of it. */
    uv_loop_init(&loop);
    tlsplug_reactor reactor;
    tlsplug_uv_reactor_init(&reactor, &loop);

    tlsplug_attach_options attach = {.ctx = ctx, .handshake_timeout_ms = 10000};
    tlsplug_listen_options lo = {.attach = &attach};
    if (tlsplug_listen(&listener, &reactor, "127.0.0.1", port, &lo, on_accept, on_accept_error,
                       NULL) != TLSPLUG_OK) {
        fprintf(stderr, "echo_uv: cannot listen on port %d\n", port);
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", tlsplug_listener_port(listener));
    fflush(stdout);

    uv_signal_init(&loop, &sigint);
    uv_signal_init(&loop, &sigterm);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);

    uv_run(&loop, UV_RUN_DEFAULT); /* until every handle is closed */

    tlsplug_ctx_free(ctx);
    int rc = uv_loop_close(&loop); /* UV_EBUSY would mean a leaked handle */
    fprintf(stderr, "echo_uv: served %d connection(s)\n", served);
    return rc == 0 ? 0 : 1;
}
