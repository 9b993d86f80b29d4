/* Wire-level helpers for the TCP transport (see tcp_util.h). */
#define _GNU_SOURCE 1 /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_util.h"

static void tune(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int cf_tcp_pair(int fds[2])
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0)
        return -1;
    if (bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&sa, &sl)) {
        close(l);
        return -1;
    }
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&sa, sizeof sa)) {
        int e = errno;
        if (fds[0] >= 0)
            close(fds[0]);
        close(l);
        errno = e;
        return -1;
    }
    fds[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    int e = errno;
    close(l);
    if (fds[1] < 0) {
        close(fds[0]);
        errno = e;
        return -1;
    }
    tune(fds[0]);
    tune(fds[1]);
    return 0;
}

void relay_init(relay *rl, int a, int b)
{
    memset(rl, 0, sizeof *rl);
    rl->a = a;
    rl->b = b;
}

/* One byte from `from` to `to` at most. */
static void move_one(int from, int to, unsigned char *byte, int *have, int *eof, size_t *moved)
{
    if (!*have && !*eof) {
        ssize_t n = recv(from, byte, 1, MSG_DONTWAIT);
        if (n == 1)
            *have = 1;
        else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            *eof = 1;
            shutdown(to, SHUT_WR);
        }
    }
    if (*have && send(to, byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1) {
        *have = 0;
        (*moved)++;
    }
}

void relay_step(relay *rl)
{
    move_one(rl->a, rl->b, &rl->ab, &rl->have_ab, &rl->eof_ab, &rl->moved);
    move_one(rl->b, rl->a, &rl->ba, &rl->have_ba, &rl->eof_ba, &rl->moved);
}

void relay_close(relay *rl)
{
    close(rl->a);
    close(rl->b);
}

/* Takes what arrived into the engine, steps it, queues what it made. */
static void dripper_pump(dripper *d)
{
    for (;;) {
        size_t avail;
        void *dst = tlsplug_conn_recv_buf(d->conn, &avail);
        if (!dst)
            break;
        ssize_t n = recv(d->fd, dst, avail, MSG_DONTWAIT);
        if (n <= 0)
            break;
        tlsplug_conn_recv_ack(d->conn, (size_t)n);
    }
    tlsplug_conn_handshake(d->conn);
    if (d->out_off == d->out_len)
        d->out_off = d->out_len = 0;
    d->out_len += tlsplug_conn_drain(d->conn, d->out + d->out_len, sizeof d->out - d->out_len);
}

int dripper_init(dripper *d, tlsplug_ctx *ctx, tlsplug_side side, const char *name, int fd,
                 double every)
{
    memset(d, 0, sizeof *d);
    d->fd = fd;
    d->every = every;
    tlsplug_conn_options o = {.side = side, .server_name = name};
    if (tlsplug_conn_new(&d->conn, ctx, &o, NULL))
        return -1;
    dripper_pump(d);
    return 0;
}

void dripper_step(dripper *d, double now)
{
    dripper_pump(d);
    if (d->out_off < d->out_len && now >= d->next) {
        if (send(d->fd, d->out + d->out_off, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1) {
            d->out_off++;
            d->sent++;
        }
        d->next = now + d->every;
    }
}

void dripper_free(dripper *d)
{
    tlsplug_conn_free(d->conn);
    d->conn = NULL;
}

int cf_hand_step(tlsplug_conn *conn, int fd)
{
    size_t avail;
    void *dst = tlsplug_conn_recv_buf(conn, &avail);
    if (dst) {
        ssize_t n = recv(fd, dst, avail, MSG_DONTWAIT);
        if (n > 0)
            tlsplug_conn_recv_ack(conn, (size_t)n);
        else if (n == 0)
            tlsplug_conn_recv_eof(conn);
    }
    int hs = tlsplug_conn_established(conn) ? TLSPLUG_OK : tlsplug_conn_handshake(conn);
    for (;;) {
        size_t len;
        const void *p = tlsplug_conn_send_buf(conn, &len);
        if (!len)
            break;
        ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0)
            break;
        tlsplug_conn_send_ack(conn, (size_t)n);
    }
    return hs;
}
