/*
 * tlsplug: the command-line program.
 *   tlsplug backends
 *   tlsplug client [options] HOST PORT
 *   tlsplug server [options] --cert FILE --key FILE
 * It is also the library's first user: everything goes through tlsplug_aio on
 * the built-in loop, as an application would do it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsplug/tlsplug.h"

#define IOBUF 16384

static const char *prog = "tlsplug";
static int exit_code = 0;
static int quiet = 0;

static void die_usage(const char *msg)
{
    fprintf(stderr,
            "%s%s"
            "usage: tlsplug backends\n"
            "       tlsplug client [--backend B] [--ca FILE] [--cert FILE --key FILE] [--sni NAME]\n"
            "                      [--alpn P1,P2] [--min-version 1.2|1.3] [--max-version 1.2|1.3]\n"
            "                      [--insecure] [--timeout MS] HOST PORT\n"
            "       tlsplug server [--backend B] --cert FILE --key FILE [--ca FILE --verify-client]\n"
            "                      [--alpn P1,P2] [--min-version V] [--max-version V] [--port P] [--once]\n",
            msg ? msg : "", msg ? "\n" : "");
    exit(2);
}

/* The last line on failure: "tlsplug: error: <class-name>: <message>". */
static void report_error(int cls, const char *msg)
{
    fprintf(stderr, "%s: error: %s: %s\n", prog, tlsplug_error_name(cls), msg ? msg : "");
    exit_code = 1;
}

static void report(const tlsplug_error *e)
{
    report_error(tlsplug_error_class(e), tlsplug_error_message(e));
}

static int parse_version(const char *s)
{
    if (!strcmp(s, "1.2"))
        return TLSPLUG_TLS1_2;
    if (!strcmp(s, "1.3"))
        return TLSPLUG_TLS1_3;
    die_usage("--min-version/--max-version take 1.2 or 1.3");
    return 0;
}

struct opts {
    tlsplug_impl impl;
    const char *ca, *cert, *key, *sni, *alpn;
    int min_v, max_v, insecure, verify_client, once, port;
    uint32_t timeout;
};

static int cmd_backends(void)
{
    tlsplug_impl list[TLSPLUG_IMPL_COUNT];
    size_t n = tlsplug_impl_list(list, TLSPLUG_IMPL_COUNT);
    for (size_t i = 0; i < n; i++) {
        unsigned caps = tlsplug_impl_caps(list[i]);
        printf("%-8s %-36s", tlsplug_impl_name(list[i]), tlsplug_impl_version(list[i]));
        const char *sep = "";
        for (unsigned bit = 1; bit; bit <<= 1) {
            const char *name = tlsplug_cap_name(bit);
            if (name && (caps & bit)) {
                printf("%s%s", sep, name);
                sep = ",";
            }
        }
        printf("%s\n", list[i] == tlsplug_default_impl() ? " (default)" : "");
    }
    return 0;
}

/* Builds the context from the options; reports and returns NULL on error. */
static tlsplug_ctx *make_ctx(const struct opts *o, tlsplug_side side)
{
    tlsplug_config *cfg = tlsplug_config_new(side);
    if (!cfg) {
        report_error(TLSPLUG_E_NO_MEMORY, "out of memory");
        return NULL;
    }
    int rc = TLSPLUG_OK;
    if (o->cert)
        rc = tlsplug_config_set_cert_file(cfg, o->cert, o->key, NULL);
    if (!rc && o->ca)
        rc = tlsplug_config_add_trust_file(cfg, o->ca);
    if (!rc && !o->ca && side == TLSPLUG_SIDE_CLIENT && !o->insecure)
        rc = tlsplug_config_add_trust_system(cfg);
    if (!rc && side == TLSPLUG_SIDE_CLIENT && o->insecure)
        rc = tlsplug_config_set_verify(cfg, TLSPLUG_VERIFY_NONE);
    if (!rc && side == TLSPLUG_SIDE_SERVER && o->verify_client)
        rc = tlsplug_config_set_verify(cfg, TLSPLUG_VERIFY_REQUIRED);
    if (!rc && (o->min_v || o->max_v))
        rc = tlsplug_config_set_versions(cfg, o->min_v, o->max_v);
    if (!rc && o->alpn)
        rc = tlsplug_config_set_alpn_list(cfg, o->alpn);
    if (rc) {
        report(tlsplug_config_error(cfg));
        tlsplug_config_free(cfg);
        return NULL;
    }
    tlsplug_ctx *ctx = NULL;
    tlsplug_error *err = NULL;
    rc = tlsplug_ctx_new(&ctx, cfg, o->impl, &err);
    tlsplug_config_free(cfg);
    if (rc) {
        report(err);
        tlsplug_error_free(err);
        return NULL;
    }
    return ctx;
}

static void print_summary(const char *what, tlsplug_aio *aio)
{
    char line[1024];
    tlsplug_conn_summary(tlsplug_aio_conn(aio), line, sizeof line);
    if (!quiet)
        fprintf(stderr, "%s: %s: %s\n", prog, what, line);
}

/* ---- client ------------------------------------------------------------- */

struct client {
    tlsplug_loop *loop;
    tlsplug_aio *aio;
    tlsplug_watch *in_watch;
    int stdin_sync; /* stdin cannot be polled (file, /dev/null): read it directly */
    int stdin_done, peer_done, closing;
    char inbuf[IOBUF], outbuf[IOBUF];
};

static void client_close(struct client *c);

static void on_client_closed(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct client *c = arg;
    c->aio = NULL;
    tlsplug_loop_stop(c->loop);
}

static void client_close(struct client *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    tlsplug_reactor *r = tlsplug_loop_reactor(c->loop);
    if (c->in_watch) {
        r->ops->watch_free(r->self, c->in_watch);
        c->in_watch = NULL;
    }
    if (c->aio)
        tlsplug_aio_close(c->aio, on_client_closed, c);
}

static void stdin_next(struct client *c);

static void on_sent(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct client *c = arg;
    if (err) {
        if (tlsplug_error_class(err) != TLSPLUG_E_CANCELED)
            report(err);
        client_close(c);
        return;
    }
    stdin_next(c);
}

static void on_half_closed(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct client *c = arg;
    if (err && tlsplug_error_class(err) != TLSPLUG_E_CANCELED) {
        report(err);
        client_close(c);
    }
}

/* Reads one chunk of stdin and sends it; on EOF sends close_notify. */
static void stdin_chunk(struct client *c)
{
    ssize_t n = read(0, c->inbuf, sizeof c->inbuf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        tlsplug_reactor *r = tlsplug_loop_reactor(c->loop);
        r->ops->watch_set(r->self, c->in_watch, TLSPLUG_EV_READ);
        return;
    }
    if (n <= 0) {
        c->stdin_done = 1;
        if (c->in_watch) {
            tlsplug_reactor *r = tlsplug_loop_reactor(c->loop);
            r->ops->watch_free(r->self, c->in_watch);
            c->in_watch = NULL;
        }
        if (c->peer_done)
            client_close(c);
        else if (tlsplug_aio_shutdown(c->aio, 0, on_half_closed, c) != TLSPLUG_OK)
            client_close(c);
        return;
    }
    int rc = tlsplug_aio_write(c->aio, c->inbuf, (size_t)n, 0, on_sent, c);
    if (rc) {
        report_error(rc, "cannot write to the connection");
        client_close(c);
    }
}

static void on_stdin(tlsplug_watch *w, int events, void *arg)
{
    struct client *c = arg;
    tlsplug_reactor *r = tlsplug_loop_reactor(c->loop);
    r->ops->watch_set(r->self, w, 0);
    stdin_chunk(c);
}

static void stdin_next(struct client *c)
{
    if (c->closing || c->stdin_done)
        return;
    if (c->stdin_sync) {
        stdin_chunk(c);
        return;
    }
    tlsplug_reactor *r = tlsplug_loop_reactor(c->loop);
    r->ops->watch_set(r->self, c->in_watch, TLSPLUG_EV_READ);
}

static void on_client_read(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n,
                           void *arg)
{
    struct client *c = arg;
    if (err) {
        int cls = tlsplug_error_class(err);
        if (cls != TLSPLUG_E_CLOSED && cls != TLSPLUG_E_CANCELED)
            report(err);
        c->peer_done = 1;
        client_close(c);
        return;
    }
    if (fwrite(buf, 1, n, stdout) != n || fflush(stdout) != 0) {
        report_error(TLSPLUG_E_IO, "cannot write to standard output");
        client_close(c);
        return;
    }
    if (tlsplug_aio_read(aio, c->outbuf, sizeof c->outbuf, 0, on_client_read, c))
        client_close(c);
}

static void on_connected(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct client *c = arg;
    if (err) {
        report(err);
        c->aio = NULL; /* a failed connect has closed the aio */
        tlsplug_loop_stop(c->loop);
        return;
    }
    print_summary("handshake", aio);
    tlsplug_reactor *r = tlsplug_loop_reactor(c->loop);
    int fl = fcntl(0, F_GETFL);
    if (fl >= 0)
        fcntl(0, F_SETFL, fl | O_NONBLOCK);
    if (r->ops->watch_new(r->self, 0, on_stdin, c, &c->in_watch) != 0) {
        c->in_watch = NULL;
        c->stdin_sync = 1;
    }
    if (tlsplug_aio_read(aio, c->outbuf, sizeof c->outbuf, 0, on_client_read, c)) {
        client_close(c);
        return;
    }
    stdin_next(c);
}

static int cmd_client(const struct opts *o, const char *host, int port)
{
    tlsplug_ctx *ctx = make_ctx(o, TLSPLUG_SIDE_CLIENT);
    if (!ctx)
        return 1;
    struct client *c = calloc(1, sizeof *c);
    if (!c || tlsplug_loop_new(&c->loop, 0)) {
        report_error(TLSPLUG_E_NO_MEMORY, "cannot make the event loop");
        return 1;
    }
    tlsplug_attach_options att = {.side = TLSPLUG_SIDE_CLIENT,
                                  .ctx = ctx,
                                  .server_name = o->sni ? o->sni : host,
                                  .handshake_timeout_ms = o->timeout};
    tlsplug_connect_options co = {.connect_timeout_ms = o->timeout, .attach = &att};
    int rc = tlsplug_aio_connect(&c->aio, tlsplug_loop_reactor(c->loop), host, port, &co,
                                 on_connected, c);
    tlsplug_ctx_free(ctx); /* connections keep their own reference */
    if (rc) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot connect to %s port %d", host, port);
        report_error(rc, msg);
    } else {
        tlsplug_loop_run(c->loop);
    }
    /* the loop may stop before the last close completed (stdin closed);
     * run it out so nothing is left registered */
    while (tlsplug_loop_free(c->loop) == TLSPLUG_E_BUSY)
        tlsplug_loop_run_once(c->loop, 100);
    free(c);
    return exit_code;
}

/* ---- server ------------------------------------------------------------- */

struct server {
    tlsplug_loop *loop;
    tlsplug_listener *l;
    const struct opts *o;
    int conns;
};

struct echo {
    struct server *s;
    char buf[IOBUF];
};

static void on_echo_closed(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct echo *e = arg;
    struct server *s = e->s;
    free(e);
    s->conns--;
    if (s->o->once && !s->l && s->conns == 0)
        tlsplug_loop_stop(s->loop);
}

static void echo_read(tlsplug_aio *aio, struct echo *e);

static void on_echo_written(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct echo *e = arg;
    if (err) {
        if (tlsplug_error_class(err) != TLSPLUG_E_CANCELED)
            report(err);
        tlsplug_aio_close(aio, on_echo_closed, e);
        return;
    }
    echo_read(aio, e);
}

static void on_echo_read(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n,
                         void *arg)
{
    struct echo *e = arg;
    if (err) {
        int cls = tlsplug_error_class(err);
        if (cls != TLSPLUG_E_CLOSED && cls != TLSPLUG_E_CANCELED)
            report(err);
        tlsplug_aio_close(aio, on_echo_closed, e);
        return;
    }
    if (tlsplug_aio_write(aio, buf, n, 0, on_echo_written, e))
        tlsplug_aio_close(aio, on_echo_closed, e);
}

static void echo_read(tlsplug_aio *aio, struct echo *e)
{
    if (tlsplug_aio_read(aio, e->buf, sizeof e->buf, 0, on_echo_read, e))
        tlsplug_aio_close(aio, on_echo_closed, e);
}

static void stop_listening(struct server *s)
{
    if (s->l) {
        tlsplug_listener_close(s->l);
        s->l = NULL;
    }
    if (s->conns == 0)
        tlsplug_loop_stop(s->loop);
}

static void on_accept(tlsplug_listener *l, tlsplug_aio *aio, void *arg)
{
    struct server *s = arg;
    struct echo *e = calloc(1, sizeof *e);
    if (!e) {
        tlsplug_aio_abort(aio, NULL, NULL);
        return;
    }
    e->s = s;
    s->conns++;
    print_summary("handshake", aio);
    if (s->o->once)
        stop_listening(s);
    echo_read(aio, e);
}

static void on_accept_error(tlsplug_listener *l, const tlsplug_error *err, void *arg)
{
    struct server *s = arg;
    report(err);
    if (s->o->once)
        stop_listening(s);
}

static int cmd_server(const struct opts *o)
{
    if (!o->cert || !o->key)
        die_usage("server needs --cert and --key");
    if (o->verify_client && !o->ca)
        die_usage("--verify-client needs --ca");
    tlsplug_ctx *ctx = make_ctx(o, TLSPLUG_SIDE_SERVER);
    if (!ctx)
        return 1;
    struct server s = {.o = o};
    if (tlsplug_loop_new(&s.loop, 0)) {
        report_error(TLSPLUG_E_NO_MEMORY, "cannot make the event loop");
        return 1;
    }
    tlsplug_attach_options att = {.side = TLSPLUG_SIDE_SERVER, .ctx = ctx,
                                  .handshake_timeout_ms = o->timeout};
    tlsplug_listen_options lo = {.attach = &att};
    int rc = tlsplug_listen(&s.l, tlsplug_loop_reactor(s.loop), "127.0.0.1", o->port, &lo,
                            on_accept, on_accept_error, &s);
    if (rc) {
        char msg[64];
        snprintf(msg, sizeof msg, "cannot listen on 127.0.0.1 port %d", o->port);
        report_error(rc, msg);
    } else {
        printf("listening on 127.0.0.1:%d\n", tlsplug_listener_port(s.l));
        fflush(stdout);
        tlsplug_loop_run(s.loop);
    }
    if (s.l)
        tlsplug_listener_close(s.l);
    tlsplug_ctx_free(ctx);
    while (tlsplug_loop_free(s.loop) == TLSPLUG_E_BUSY)
        tlsplug_loop_run_once(s.loop, 100);
    return exit_code;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die_usage(NULL);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "backends"))
        return cmd_backends();
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help"))
        die_usage(NULL);
    if (strcmp(cmd, "client") && strcmp(cmd, "server"))
        die_usage("unknown command");
    struct opts o = {0};
    static const struct option lopts[] = {
        {"backend", required_argument, 0, 'b'},   {"ca", required_argument, 0, 'a'},
        {"cert", required_argument, 0, 'c'},      {"key", required_argument, 0, 'k'},
        {"sni", required_argument, 0, 's'},       {"alpn", required_argument, 0, 'p'},
        {"min-version", required_argument, 0, 'm'}, {"max-version", required_argument, 0, 'M'},
        {"insecure", no_argument, 0, 'i'},        {"timeout", required_argument, 0, 't'},
        {"verify-client", no_argument, 0, 'v'},   {"port", required_argument, 0, 'P'},
        {"once", no_argument, 0, 'o'},            {"quiet", no_argument, 0, 'q'},
        {0, 0, 0, 0}};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (ch) {
        case 'b':
            o.impl = tlsplug_impl_from_name(optarg);
            if (!o.impl || !tlsplug_impl_available(o.impl)) {
                char msg[128];
                snprintf(msg, sizeof msg, "backend '%s' is not built in (see 'tlsplug backends')",
                         optarg);
                report_error(TLSPLUG_E_UNSUPPORTED, msg);
                return 1;
            }
            break;
        case 'a': o.ca = optarg; break;
        case 'c': o.cert = optarg; break;
        case 'k': o.key = optarg; break;
        case 's': o.sni = optarg; break;
        case 'p': o.alpn = optarg; break;
        case 'm': o.min_v = parse_version(optarg); break;
        case 'M': o.max_v = parse_version(optarg); break;
        case 'i': o.insecure = 1; break;
        case 't': o.timeout = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'v': o.verify_client = 1; break;
        case 'P': o.port = atoi(optarg); break;
        case 'o': o.once = 1; break;
        case 'q': quiet = 1; break;
        default: die_usage(NULL);
        }
    }
    if (!strcmp(cmd, "server")) {
        if (optind != argc)
            die_usage("server takes no positional arguments");
        return cmd_server(&o);
    }
    if (argc - optind != 2)
        die_usage("client needs HOST and PORT");
    int port = atoi(argv[optind + 1]);
    if (port <= 0 || port > 65535)
        die_usage("PORT must be 1..65535");
    return cmd_client(&o, argv[optind], port);
}
