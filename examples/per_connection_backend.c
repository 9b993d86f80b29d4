/*
 * per_connection_backend: several TLS libraries in one process, chosen per
 * connection.  A server and a client share one loop; for every pair of built
 * backends the client connects on one library and the server attaches TLS on
 * (maybe) another, both check which implementation they ended up with, and
 * they exchange a line.
 *
 * Usage: per_connection_backend CA_FILE CERT_CHAIN KEY [SERVER_BACKEND CLIENT_BACKEND]
 *
 * Without the last two arguments every (server, client) pair of the built
 * backends runs in turn.  The choice is just the context: a context is made
 * on one implementation (tlsplug_ctx_new's impl argument), and every
 * connection attached with it runs on that library.  Here the listener is
 * plain and the server picks the context for each connection it accepts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlsplug/tlsplug.h>

static tlsplug_ctx *server_ctx[TLSPLUG_IMPL_COUNT], *client_ctx[TLSPLUG_IMPL_COUNT];
static tlsplug_impl servers[TLSPLUG_IMPL_COUNT], clients[TLSPLUG_IMPL_COUNT];
static size_t n_servers, n_clients, pair, closed, failures;
static tlsplug_reactor *reactor;
static tlsplug_listener *listener;

static char srv_buf[64], cli_buf[64], reply[64];

static tlsplug_impl server_impl(void)
{
    return servers[pair / n_clients];
}
static tlsplug_impl client_impl(void)
{
    return clients[pair % n_clients];
}

static void start_pair(void);

static int check(tlsplug_aio *aio, const tlsplug_error *err, const char *who)
{
    if (!err)
        return 1;
    fprintf(stderr, "  %s: %s: %s\n", who, tlsplug_error_name(tlsplug_error_class(err)),
            tlsplug_error_message(err));
    failures++;
    if (aio)
        tlsplug_aio_close(aio, NULL, NULL);
    return 0;
}

/* Both ends closed: on to the next pair, or stop listening. */
static void on_closed(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    if (++closed < 2)
        return;
    closed = 0;
    if (++pair < n_servers * n_clients) {
        start_pair();
    } else {
        tlsplug_listener_close(listener);
        listener = NULL;
    }
}

/* ---- server side: the context is chosen when the connection arrives ----- */

static void srv_wrote(tlsplug_aio *aio, const tlsplug_error *err, void *arg);

static void srv_end(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n, void *arg)
{
    /* the client's close_notify: TLSPLUG_E_CLOSED */
    tlsplug_aio_close(aio, on_closed, NULL);
}

static void srv_got(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n, void *arg)
{
    if (!check(aio, err, "server read")) {
        on_closed(NULL, NULL, NULL);
        return;
    }
    snprintf(reply, sizeof reply, "pong from %s", tlsplug_impl_name(server_impl()));
    tlsplug_aio_write(aio, reply, strlen(reply), 5000, srv_wrote, NULL);
}

static void srv_wrote(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    if (check(aio, err, "server write"))
        tlsplug_aio_read(aio, srv_buf, sizeof srv_buf, 5000, srv_end, NULL);
    else
        on_closed(NULL, NULL, NULL);
}

static void srv_attached(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    if (!check(aio, err, "server attach")) {
        on_closed(NULL, NULL, NULL);
        return;
    }
    /* The type query: the connection runs on the library we picked. */
    if (tlsplug_conn_impl(tlsplug_aio_conn(aio)) != server_impl())
        failures++;
    tlsplug_aio_read(aio, srv_buf, sizeof srv_buf, 5000, srv_got, NULL);
}

static void on_accept(tlsplug_listener *l, tlsplug_aio *aio, void *arg)
{
    tlsplug_attach_options o = {.ctx = server_ctx[server_impl()], .handshake_timeout_ms = 5000};
    if (tlsplug_aio_attach(aio, &o, srv_attached, NULL) != TLSPLUG_OK) {
        failures++;
        tlsplug_aio_close(aio, on_closed, NULL);
    }
}

/* ---- client side ----------------------------------------------------------- */

static void cli_got(tlsplug_aio *aio, const tlsplug_error *err, void *buf, size_t n, void *arg)
{
    if (check(aio, err, "client read")) {
        printf("  client read: %.*s\n", (int)n, (char *)buf);
        tlsplug_aio_close(aio, on_closed, NULL); /* close_notify, then close */
    } else {
        on_closed(NULL, NULL, NULL);
    }
}

static void cli_wrote(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    if (check(aio, err, "client write"))
        tlsplug_aio_read(aio, cli_buf, sizeof cli_buf, 5000, cli_got, NULL);
    else
        on_closed(NULL, NULL, NULL);
}

static void cli_connected(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    static char ping[64];
    if (!check(NULL, err, "client connect")) { /* a failed connect is closed already */
        on_closed(NULL, NULL, NULL);
        return;
    }
    tlsplug_conn *conn = tlsplug_aio_conn(aio);
    char summary[512];
    tlsplug_conn_summary(conn, summary, sizeof summary);
    printf("  client: %s\n", summary);
    /* Only the right implementation gets the native handle. */
    if (tlsplug_conn_impl(conn) != client_impl() || !tlsplug_conn_native(conn, client_impl()))
        failures++;
    snprintf(ping, sizeof ping, "ping from %s", tlsplug_impl_name(client_impl()));
    tlsplug_aio_write(aio, ping, strlen(ping), 5000, cli_wrote, NULL);
}

static void start_pair(void)
{
    printf("server on %s, client on %s\n", tlsplug_impl_name(server_impl()),
           tlsplug_impl_name(client_impl()));
    tlsplug_attach_options o = {.ctx = client_ctx[client_impl()], .server_name = "localhost"};
    tlsplug_connect_options co = {.attach = &o};
    tlsplug_aio *aio;
    if (tlsplug_aio_connect(&aio, reactor, "127.0.0.1", tlsplug_listener_port(listener), &co,
                            cli_connected, NULL) != TLSPLUG_OK) {
        failures++;
        tlsplug_listener_close(listener);
        listener = NULL;
    }
}

static tlsplug_ctx *make_ctx(tlsplug_impl impl, tlsplug_side side, char **argv)
{
    tlsplug_config *cfg = tlsplug_config_new(side);
    if (side == TLSPLUG_SIDE_CLIENT)
        tlsplug_config_add_trust_file(cfg, argv[1]);
    else
        tlsplug_config_set_cert_file(cfg, argv[2], argv[3], NULL);
    tlsplug_ctx *ctx = NULL;
    tlsplug_error *err = NULL;
    if (tlsplug_ctx_new(&ctx, cfg, impl, &err) != TLSPLUG_OK) {
        fprintf(stderr, "%s context: %s\n", tlsplug_impl_name(impl), tlsplug_error_message(err));
        tlsplug_error_free(err);
    }
    tlsplug_config_free(cfg);
    return ctx;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: per_connection_backend CA_FILE CERT_CHAIN KEY "
                        "[SERVER_BACKEND CLIENT_BACKEND]\n");
        return 2;
    }
    if (argc == 6) {
        servers[0] = tlsplug_impl_from_name(argv[4]);
        clients[0] = tlsplug_impl_from_name(argv[5]);
        if (!tlsplug_impl_available(servers[0]) || !tlsplug_impl_available(clients[0])) {
            fprintf(stderr, "backend not built in\n");
            return 2;
        }
        n_servers = n_clients = 1;
    } else {
        n_servers = n_clients = tlsplug_impl_list(servers, TLSPLUG_IMPL_COUNT);
        memcpy(clients, servers, sizeof clients);
    }
    /* One context per implementation and side, shared by all connections. */
    for (size_t i = 0; i < n_servers; i++)
        if (!(server_ctx[servers[i]] = make_ctx(servers[i], TLSPLUG_SIDE_SERVER, argv)))
            return 1;
    for (size_t i = 0; i < n_clients; i++)
        if (!(client_ctx[clients[i]] = make_ctx(clients[i], TLSPLUG_SIDE_CLIENT, argv)))
            return 1;

    tlsplug_loop *loop;
    tlsplug_loop_new(&loop, 0);
    reactor = tlsplug_loop_reactor(loop);
    if (tlsplug_listen(&listener, reactor, "127.0.0.1", 0, NULL, on_accept, NULL, NULL)) {
        fprintf(stderr, "cannot listen\n");
        return 1;
    }
    start_pair();
    tlsplug_loop_run(loop);

    for (int i = 0; i < TLSPLUG_IMPL_COUNT; i++) {
        tlsplug_ctx_free(server_ctx[i]); /* NULL is ignored */
        tlsplug_ctx_free(client_ctx[i]);
    }
    tlsplug_loop_free(loop);
    printf("%zu pair(s), %zu failure(s)\n", n_servers * n_clients, failures);
    return failures || pair != n_servers * n_clients ? 1 : 0;
}
