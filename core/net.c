/* TCP helpers around the aio: connect (optionally attaching TLS once
 * connected) and listen/accept (optionally attaching TLS on every accepted
 * connection before the application sees it). */
#define _GNU_SOURCE 1 /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/aio_internal.h"

static void tune_socket(int fd)
{
    int one = 1;
    /* TLS records are written whole; Nagle would only add latency */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Sets a->ca first so destroy() releases exactly what was taken. */
static int copy_attach(tlsplug_aio *a, const tlsplug_attach_options *o)
{
    struct aio_connect_attach *ca = tlsplug__calloc(1, sizeof *ca);
    if (!ca)
        return TLSPLUG_E_NO_MEMORY;
    a->ca = ca;
    ca->o = *o;
    ca->o.server_name = NULL;
    ca->o.initial_data = NULL;
    if (o->ctx)
        tlsplug__ctx_ref(o->ctx); /* released when the aio is destroyed */
    if (o->server_name && !(ca->name = tlsplug__strdup(o->server_name)))
        return TLSPLUG_E_NO_MEMORY;
    ca->o.server_name = ca->name;
    if (o->initial_len) {
        if (!(ca->initial = tlsplug__memdup(o->initial_data, o->initial_len)))
            return TLSPLUG_E_NO_MEMORY;
        ca->o.initial_data = ca->initial;
    }
    return TLSPLUG_OK;
}

int tlsplug_aio_connect(tlsplug_aio **out, tlsplug_reactor *r, const char *host, int port,
                        const tlsplug_connect_options *opts, tlsplug_aio_cb cb, void *arg)
{
    static const tlsplug_connect_options none = {0};
    if (!out || !r || !host || !*host || port <= 0 || port > 65535 || !cb)
        return TLSPLUG_E_INVALID_ARGUMENT;
    *out = NULL;
    if (!opts)
        opts = &none;
    if (opts->attach && opts->attach->ctx && opts->attach->ctx_configure)
        return TLSPLUG_E_INVALID_ARGUMENT;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, service, &hints, &res) != 0 || !res)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int fd = -1, rc = TLSPLUG_E_IO;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        tune_socket(fd);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
            rc = TLSPLUG_OK;
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (rc)
        return rc;
    tlsplug_aio *a;
    rc = tlsplug_aio_new(&a, r, fd);
    if (rc)
        return rc;
    if (opts->attach) {
        tlsplug_attach_options o = *opts->attach;
        if (!o.server_name)
            o.server_name = host;
        if (!o.side)
            o.side = TLSPLUG_SIDE_CLIENT;
        if (copy_attach(a, &o)) {
            tlsplug__aio_finish_close(a, 0);
            return TLSPLUG_E_NO_MEMORY; /* the aio is freed on the next loop turn */
        }
    }
    a->connecting = 1;
    a->op.kind = AIO_OP_CONNECT;
    a->op.cb = cb;
    a->op.arg = arg;
    tlsplug__aio_deadline(a, AIO_T_OP,
                          opts->connect_timeout_ms ? opts->connect_timeout_ms
                                                   : TLSPLUG_DEFAULT_CONNECT_TIMEOUT);
    /* the connect timeout also covers the handshake of an attach that
     * follows; begin_attach re-arms it with the handshake timeout */
    tlsplug__aio_kick_later(a);
    *out = a;
    return TLSPLUG_OK;
}

/* ---- listener ------------------------------------------------------------ */

/* Doubly linked: with hundreds of handshakes in flight, finding an entry
 * to unlink was a list walk per accepted connection. */
struct pending_accept {
    struct pending_accept *next, *prev;
    tlsplug_aio *aio;
    tlsplug_listener *l;
};

struct tlsplug_listener {
    tlsplug_reactor *r;
    int fd;
    int port;
    tlsplug_watch *w;
    tlsplug_accept_cb on_conn;
    tlsplug_accept_error_cb on_error;
    void *arg;
    int attach;
    tlsplug_attach_options attach_opts;
    char *server_name;
    struct pending_accept *pending;
};

static void unlink_pending(tlsplug_listener *l, struct pending_accept *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else if (l->pending == p)
        l->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->next = p->prev = NULL;
}

static void on_attached(tlsplug_aio *aio, const tlsplug_error *err, void *arg)
{
    struct pending_accept *p = arg;
    tlsplug_listener *l = p->l;
    if (l)
        unlink_pending(l, p);
    tlsplug__free(p);
    if (!l) {
        /* the listener went away while this attach was running */
        tlsplug_aio_close(aio, NULL, NULL);
        return;
    }
    if (err) {
        if (l->on_error)
            l->on_error(l, err, l->arg);
        tlsplug_aio_close(aio, NULL, NULL);
        return;
    }
    l->on_conn(l, aio, l->arg);
}

static void on_listen(tlsplug_watch *w, int events, void *arg)
{
    tlsplug_listener *l = arg;
    /* bounded so one busy listener cannot starve the loop */
    for (int i = 0; i < 64; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK && l->on_error) {
                struct tlsplug_error e;
                tlsplug__err_set(&e, TLSPLUG_E_IO, errno, "accept: %s", strerror(errno));
                l->on_error(l, &e, l->arg);
            }
            return;
        }
        tune_socket(fd);
        tlsplug_aio *a;
        int rc = tlsplug_aio_new(&a, l->r, fd);
        if (rc) {
            /* the connection is dropped (fd closed): say why */
            if (l->on_error) {
                struct tlsplug_error e;
                tlsplug__err_set(&e, rc, 0, "accept: cannot set up the connection: %s",
                                 tlsplug_error_name(rc));
                l->on_error(l, &e, l->arg);
            }
            return; /* on_error may have closed the listener */
        }
        if (!l->attach) {
            l->on_conn(l, a, l->arg);
            return; /* on_conn may have closed the listener */
        }
        struct pending_accept *p = tlsplug__calloc(1, sizeof *p);
        if (!p) {
            tlsplug_aio_close(a, NULL, NULL);
            if (l->on_error) {
                struct tlsplug_error e;
                tlsplug__err_set(&e, TLSPLUG_E_NO_MEMORY, 0, "accept: out of memory");
                l->on_error(l, &e, l->arg);
            }
            return;
        }
        p->aio = a;
        p->l = l;
        if (tlsplug_aio_attach(a, &l->attach_opts, on_attached, p) != TLSPLUG_OK) {
            if (l->on_error)
                l->on_error(l, tlsplug__aio_attach_error(a), l->arg);
            tlsplug__free(p);
            tlsplug_aio_close(a, NULL, NULL);
            return;
        }
        p->next = l->pending;
        if (p->next)
            p->next->prev = p;
        l->pending = p;
    }
}

int tlsplug_listen(tlsplug_listener **out, tlsplug_reactor *r, const char *host, int port,
                   const tlsplug_listen_options *opts, tlsplug_accept_cb on_conn,
                   tlsplug_accept_error_cb on_error, void *arg)
{
    static const tlsplug_listen_options none = {0};
    if (!out || !r || !on_conn || port < 0 || port > 65535)
        return TLSPLUG_E_INVALID_ARGUMENT;
    *out = NULL;
    if (!opts)
        opts = &none;
    if (opts->attach && (opts->attach->ctx_configure || opts->attach->initial_len))
        return TLSPLUG_E_INVALID_ARGUMENT;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host && *host ? host : NULL, service, &hints, &res) != 0 || !res)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, opts->backlog > 0 ? opts->backlog : 128) != 0 || set_nonblock(fd) != 0) {
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return TLSPLUG_E_IO;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    tlsplug_listener *l = tlsplug__calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        return TLSPLUG_E_NO_MEMORY;
    }
    l->r = r;
    l->fd = fd;
    l->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    l->on_conn = on_conn;
    l->on_error = on_error;
    l->arg = arg;
    if (opts->attach) {
        l->attach = 1;
        l->attach_opts = *opts->attach;
        if (opts->attach->server_name &&
            !(l->server_name = tlsplug__strdup(opts->attach->server_name))) {
            close(fd);
            tlsplug__free(l);
            return TLSPLUG_E_NO_MEMORY;
        }
        l->attach_opts.server_name = l->server_name;
        if (l->attach_opts.ctx)
            tlsplug__ctx_ref(l->attach_opts.ctx);
        if (!l->attach_opts.side)
            l->attach_opts.side = TLSPLUG_SIDE_SERVER;
    }
    int rc;
    if ((rc = r->ops->watch_new(r->self, fd, on_listen, l, &l->w)) != 0 ||
        (rc = r->ops->watch_set(r->self, l->w, TLSPLUG_EV_READ)) != 0) {
        if (l->w)
            r->ops->watch_free(r->self, l->w);
        close(fd);
        tlsplug_ctx_free(l->attach_opts.ctx);
        tlsplug__free(l->server_name);
        tlsplug__free(l);
        /* the reactor's class (out-of-memory ...), io-error if it gave none */
        return rc < 0 && rc >= TLSPLUG_ERRCLASS_MIN ? rc : TLSPLUG_E_IO;
    }
    *out = l;
    return TLSPLUG_OK;
}

int tlsplug_listener_port(const tlsplug_listener *l)
{
    return l ? l->port : -1;
}

void tlsplug_listener_close(tlsplug_listener *l)
{
    if (!l)
        return;
    l->r->ops->watch_free(l->r->self, l->w);
    close(l->fd);
    for (struct pending_accept *p = l->pending, *next; p; p = next) {
        next = p->next;
        p->l = NULL; /* its callback closes the aio without telling anyone */
        tlsplug_aio_abort(p->aio, NULL, NULL);
    }
    tlsplug_ctx_free(l->attach_opts.ctx);
    tlsplug__free(l->server_name);
    tlsplug__free(l);
}
