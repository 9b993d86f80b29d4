/*
 * https_get: fetch one URL over HTTPS and print the response.
 *
 * Usage: https_get [--ca FILE] [--backend NAME] HOST [PORT] [PATH]
 *
 * PORT defaults to 443 and PATH to "/".  The server certificate is checked
 * against the system's trust store (or FILE with --ca) and against HOST.
 * The status line and handshake summary go to stderr, the response to
 * stdout.  Exit status 0 when an HTTP response arrived.
 *
 * The whole client is: a context made from a portable configuration, one
 * tlsplug_aio_connect that attaches TLS at once, a write, and reads until the
 * server closes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlsplug/tlsplug.h>

struct fetch {
    char request[1024];
    char buf[16384];
    size_t total;
    int status_seen;
    int done;
};

static void on_read(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n, void *arg)
{
    struct fetch *f = arg;
    if (err) {
        int cls = tlsplug_error_class(err);
        /* With "Connection: close" the end of the stream ends the response.
         * Many servers close without close_notify (truncated); a client that
         * relies on the end of stream for the length should check
         * Content-Length then. */
        if (cls != TLSPLUG_E_CLOSED && cls != TLSPLUG_E_TRUNCATED)
            fprintf(stderr, "https_get: read: %s: %s\n", tlsplug_error_name(cls),
                    tlsplug_error_message(err));
        fprintf(stderr, "https_get: %zu bytes, stream ended: %s\n", f->total,
                tlsplug_error_name(cls));
        f->done = 1;
        tlsplug_aio_close(aio, NULL, NULL);
        return;
    }
    if (f->total == 0)
        f->status_seen = n >= 5 && memcmp(buf, "HTTP/", 5) == 0;
    f->total += n;
    fwrite(buf, 1, n, stdout);
    tlsplug_aio_read(aio, f->buf, sizeof f->buf, 30000, on_read, f);
}

static void on_written(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct fetch *f = arg;
    if (err) {
        fprintf(stderr, "https_get: write: %s\n", tlsplug_error_message(err));
        tlsplug_aio_close(aio, NULL, NULL);
        return;
    }
    tlsplug_aio_read(aio, f->buf, sizeof f->buf, 30000, on_read, f);
}

static void on_connected(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct fetch *f = arg;
    if (err) {
        /* e.g. "certificate-untrusted: ..." or "timeout: ..."; the aio is
         * already closed. */
        fprintf(stderr, "https_get: %s: %s\n", tlsplug_error_name(tlsplug_error_class(err)),
                tlsplug_error_message(err));
        return;
    }
    char summary[512];
    tlsplug_conn_summary(tlsplug_aio_conn(aio), summary, sizeof summary);
    fprintf(stderr, "https_get: %s\n", summary);
    tlsplug_aio_write(aio, f->request, strlen(f->request), 30000, on_written, f);
}

int main(int argc, char **argv)
{
    const char *ca = NULL, *backend = NULL;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--ca") == 0)
            ca = argv[i + 1];
        else if (strcmp(argv[i], "--backend") == 0)
            backend = argv[i + 1];
        else
            break;
    }
    if (i >= argc || argc - i > 3 || strncmp(argv[i], "--", 2) == 0) {
        fprintf(stderr, "usage: https_get [--ca FILE] [--backend NAME] HOST [PORT] [PATH]\n");
        return 2;
    }
    const char *host = argv[i];
    int port = argc - i > 1 ? atoi(argv[i + 1]) : 443;
    const char *path = argc - i > 2 ? argv[i + 2] : "/";

    tlsplug_impl impl = TLSPLUG_IMPL_NONE; /* the build's default backend */
    if (backend && !tlsplug_impl_available(impl = tlsplug_impl_from_name(backend))) {
        fprintf(stderr, "https_get: backend '%s' is not built in\n", backend);
        return 2;
    }

    /* Client defaults: peer and host name verification on, TLS 1.2+. */
    tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_CLIENT);
    int rc = ca ? tlsplug_config_add_trust_file(cfg, ca) : tlsplug_config_add_trust_system(cfg);
    if (rc == TLSPLUG_OK)
        rc = tlsplug_config_set_alpn_list(cfg, "http/1.1");
    if (rc != TLSPLUG_OK) {
        fprintf(stderr, "https_get: %s\n", tlsplug_error_message(tlsplug_config_error(cfg)));
        return 1;
    }
    tlsplug_ctx *ctx;
    tlsplug_error *err = NULL;
    if (tlsplug_ctx_new(&ctx, cfg, impl, &err) != TLSPLUG_OK) {
        fprintf(stderr, "https_get: %s\n", tlsplug_error_message(err));
        tlsplug_error_free(err);
        return 1;
    }
    tlsplug_config_free(cfg);

    struct fetch f = {.total = 0};
    char hostport[300];
    snprintf(hostport, sizeof hostport, port == 443 ? "%s" : "%s:%d", host, port);
    snprintf(f.request, sizeof f.request,
             "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsplug-https_get\r\n"
             "Accept: */*\r\nConnection: close\r\n\r\n",
             path, hostport);

    tlsplug_loop *loop;
    tlsplug_loop_new(&loop, 0);
    /* SNI and the name checked default to host. */
    tlsplug_attach_options attach = {.ctx = ctx, .handshake_timeout_ms = 10000};
    tlsplug_connect_options co = {.connect_timeout_ms = 10000, .attach = &attach};
    tlsplug_aio *aio;
    if (tlsplug_aio_connect(&aio, tlsplug_loop_reactor(loop), host, port, &co, on_connected, &f) !=
        TLSPLUG_OK) {
        fprintf(stderr, "https_get: cannot connect to %s\n", hostport);
        return 1;
    }
    tlsplug_loop_run(loop);
    tlsplug_ctx_free(ctx);
    tlsplug_loop_free(loop);
    return f.done && f.status_seen ? 0 : 1;
}
