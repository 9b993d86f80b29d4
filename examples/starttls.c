/*
 * starttls: upgrade a plain TCP conversation to TLS and back again, the way
 * SMTP's STARTTLS or an LDAP/IMAP upgrade does, with a client and a server
 * in one process over loopback:
 *
 *   plain   C: STARTTLS            S: 220 ready for TLS
 *   attach  (both sides: tlsplug_aio_attach)
 *   TLS     C: HELLO over TLS      S: 250 hello, you are secure
 *   detach  (client: tlsplug_aio_detach; the server sees end of stream and
 *            detaches too)
 *   plain   C: QUIT                S: 221 bye
 *
 * Usage: starttls CA_FILE CERT_CHAIN KEY   (for example the test PKI:
 *        starttls pki/ca.pem pki/server-ec-chain.pem pki/server-ec.key.pem)
 *
 * Each side is a little script: every asynchronous operation's completion
 * callback calls the side's next step.  tlsplug never calls back from inside
 * the call that started an operation, so a step can start the next operation
 * without recursion worries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlsplug/tlsplug.h>

struct peer {
    const char *name;
    tlsplug_aio *aio;
    tlsplug_ctx *ctx; /* the context to attach with */
    void (*next)(struct peer *p, const tlsplug_error *err);
    int step;
    char line[256]; /* the line being read */
    size_t len;
};

static int failed, finished;
static tlsplug_loop *loop;

static const char *state_name(tlsplug_aio *aio)
{
    return tlsplug_aio_conn(aio) ? "TLS  " : "plain";
}

/* Every completion comes here first: stop on an unexpected error. */
static int ok(struct peer *p, const tlsplug_error *err, const char *what)
{
    if (!err)
        return 1;
    fprintf(stderr, "[%s] %s failed: %s: %s\n", p->name, what,
            tlsplug_error_name(tlsplug_error_class(err)), tlsplug_error_message(err));
    failed = 1;
    tlsplug_aio_close(p->aio, NULL, NULL);
    tlsplug_loop_stop(loop);
    return 0;
}

/* ---- small helpers over the aio calls ----------------------------------- */

static void on_op(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct peer *p = arg;
    p->next(p, err);
}

static void say(struct peer *p, const char *line)
{
    printf("[%s] %s >> %s", p->name, state_name(p->aio), line);
    /* line is a string literal: it outlives the write, as tlsplug requires */
    tlsplug_aio_write(p->aio, line, strlen(line), 5000, on_op, p);
}

static void on_read(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n, void *arg);

/* Reads until a whole line is in p->line (the protocol is lock-step, so a
 * read never returns part of the next line). */
static void read_line(struct peer *p)
{
    tlsplug_aio_read(p->aio, p->line + p->len, sizeof p->line - 1 - p->len, 5000, on_read, p);
}

static void on_read(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n, void *arg)
{
    struct peer *p = arg;
    if (err) { /* end of stream (TLSPLUG_E_CLOSED) or a failure */
        p->next(p, err);
        return;
    }
    p->len += n;
    p->line[p->len] = 0;
    if (!strchr(p->line, '\n') && p->len < sizeof p->line - 1) {
        read_line(p);
        return;
    }
    printf("[%s] %s << %s", p->name, state_name(aio), p->line);
    p->len = 0;
    p->next(p, NULL);
}

static int line_is(struct peer *p, const char *prefix)
{
    if (strncmp(p->line, prefix, strlen(prefix)) == 0)
        return 1;
    fprintf(stderr, "[%s] expected '%s', got '%s'\n", p->name, prefix, p->line);
    failed = 1;
    tlsplug_loop_stop(loop);
    return 0;
}

static void attach(struct peer *p, const char *server_name)
{
    tlsplug_attach_options o = {.ctx = p->ctx, .server_name = server_name,
                                .handshake_timeout_ms = 5000};
    printf("[%s] attaching TLS\n", p->name);
    tlsplug_aio_attach(p->aio, &o, on_op, p); /* o may go: it is copied */
}

static void report(struct peer *p)
{
    char summary[512];
    tlsplug_conn_summary(tlsplug_aio_conn(p->aio), summary, sizeof summary);
    printf("[%s] attached: %s\n", p->name, summary);
}

/* ---- the client's script -------------------------------------------------- */

static void client_next(struct peer *p, const tlsplug_error *err)
{
    switch (p->step++) {
    case 0: /* connected */
        if (ok(p, err, "connect"))
            say(p, "STARTTLS\r\n");
        break;
    case 1:
        if (ok(p, err, "write"))
            read_line(p);
        break;
    case 2:
        if (ok(p, err, "read") && line_is(p, "220"))
            attach(p, "localhost"); /* the name the certificate must match */
        break;
    case 3:
        if (ok(p, err, "attach")) {
            report(p);
            say(p, "HELLO over TLS\r\n");
        }
        break;
    case 4:
        if (ok(p, err, "write"))
            read_line(p);
        break;
    case 5:
        if (ok(p, err, "read") && line_is(p, "250")) {
            printf("[%s] detaching TLS\n", p->name);
            /* close_notify out, wait for the server's: plain TCP after */
            tlsplug_aio_detach(p->aio, 5000, on_op, p);
        }
        break;
    case 6:
        if (ok(p, err, "detach"))
            say(p, "QUIT\r\n");
        break;
    case 7:
        if (ok(p, err, "write"))
            read_line(p);
        break;
    case 8:
        if (ok(p, err, "read") && line_is(p, "221")) {
            tlsplug_aio_close(p->aio, NULL, NULL);
            finished++;
        }
        break;
    }
}

/* ---- the server's script -------------------------------------------------- */

static void server_next(struct peer *p, const tlsplug_error *err)
{
    switch (p->step++) {
    case 0: /* accepted */
        read_line(p);
        break;
    case 1:
        if (ok(p, err, "read") && line_is(p, "STARTTLS"))
            say(p, "220 ready for TLS\r\n");
        break;
    case 2:
        if (ok(p, err, "write"))
            attach(p, NULL);
        break;
    case 3:
        if (ok(p, err, "attach")) {
            report(p);
            read_line(p);
        }
        break;
    case 4:
        if (ok(p, err, "read") && line_is(p, "HELLO"))
            say(p, "250 hello, you are secure\r\n");
        break;
    case 5:
        if (ok(p, err, "write"))
            read_line(p); /* the client's next move is to detach */
        break;
    case 6:
        /* The client's close_notify ends the TLS stream: a clean end of
         * stream (TLSPLUG_E_CLOSED), on which we detach as well. */
        if (!err) {
            line_is(p, "(the end of TLS)"); /* a line instead: wrong */
            break;
        }
        if (tlsplug_error_class(err) != TLSPLUG_E_CLOSED) {
            ok(p, err, "read");
            break;
        }
        printf("[%s] peer detached; detaching TLS\n", p->name);
        tlsplug_aio_detach(p->aio, 5000, on_op, p);
        break;
    case 7:
        if (ok(p, err, "detach"))
            read_line(p);
        break;
    case 8:
        if (ok(p, err, "read") && line_is(p, "QUIT"))
            say(p, "221 bye\r\n");
        break;
    case 9:
        if (ok(p, err, "write")) {
            tlsplug_aio_close(p->aio, NULL, NULL);
            finished++;
        }
        break;
    }
}

static struct peer server = {.name = "server", .next = server_next};
static struct peer client = {.name = "client", .next = client_next};

static void on_accept(tlsplug_listener *l, tlsplug_aio *aio, void *arg)
{
    server.aio = aio;
    tlsplug_listener_close(l); /* one conversation is all this example has */
    server.next(&server, NULL);
}

static void on_connect(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    client.aio = aio;
    client.next(&client, err);
}

static tlsplug_ctx *make_ctx(tlsplug_side side, const char *ca, const char *chain, const char *key)
{
    tlsplug_config *cfg = tlsplug_config_new(side);
    int rc = side == TLSPLUG_SIDE_SERVER ? tlsplug_config_set_cert_file(cfg, chain, key, NULL)
                                         : tlsplug_config_add_trust_file(cfg, ca);
    tlsplug_ctx *ctx = NULL;
    tlsplug_error *err = NULL;
    if (rc)
        fprintf(stderr, "config: %s\n", tlsplug_error_message(tlsplug_config_error(cfg)));
    else if (tlsplug_ctx_new(&ctx, cfg, TLSPLUG_IMPL_NONE, &err)) {
        fprintf(stderr, "context: %s\n", tlsplug_error_message(err));
        tlsplug_error_free(err);
    }
    tlsplug_config_free(cfg); /* the context keeps its own copy */
    return ctx;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: starttls CA_FILE CERT_CHAIN KEY\n");
        return 2;
    }
    client.ctx = make_ctx(TLSPLUG_SIDE_CLIENT, argv[1], NULL, NULL);
    server.ctx = make_ctx(TLSPLUG_SIDE_SERVER, NULL, argv[2], argv[3]);
    if (!client.ctx || !server.ctx)
        return 1;

    tlsplug_loop_new(&loop, 0);
    tlsplug_reactor *r = tlsplug_loop_reactor(loop);
    /* A plain listener: TLS comes later, when the protocol asks for it. */
    tlsplug_listener *l;
    tlsplug_aio *aio;
    if (tlsplug_listen(&l, r, "127.0.0.1", 0, NULL, on_accept, NULL, NULL) ||
        tlsplug_aio_connect(&aio, r, "127.0.0.1", tlsplug_listener_port(l), NULL, on_connect,
                            NULL)) {
        fprintf(stderr, "cannot listen or connect on loopback\n");
        return 1;
    }
    tlsplug_loop_run(loop); /* returns when nothing is left to wait for */

    /* The contexts may go once no connection uses them any more. */
    tlsplug_ctx_free(client.ctx);
    tlsplug_ctx_free(server.ctx);
    /* Closing aio objects finish on the loop: run it until they are gone. */
    for (int i = 0; i < 100 && tlsplug_loop_free(loop) == TLSPLUG_E_BUSY; i++)
        tlsplug_loop_run_once(loop, 100);
    if (failed || finished != 2) {
        fprintf(stderr, "starttls: FAILED\n");
        return 1;
    }
    printf("starttls: plain -> TLS -> plain, done\n");
    return 0;
}
