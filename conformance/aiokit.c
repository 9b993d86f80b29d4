/* Helpers over tlsplug_aio for the TCP and peers transports (aiokit.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aiokit.h"

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Completion order across every aio of the process (callbacks get no kit). */
static int op_order;

void op_set(kit *k, op *o, const tlsplug_error *e)
{
    (void)k;
    o->done = 1;
    o->seq = ++op_order;
    o->cls = e ? tlsplug_error_class(e) : TLSPLUG_OK;
    o->alert = e ? tlsplug_error_alert(e) : -1;
    snprintf(o->msg, sizeof o->msg, "%s", e ? tlsplug_error_message(e) : "");
}

void op_fail(kit *k, op *o, int cls, const char *msg)
{
    (void)k;
    o->done = 1;
    o->seq = ++op_order;
    o->cls = cls;
    o->alert = -1;
    snprintf(o->msg, sizeof o->msg, "%s", msg);
}

void on_op(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    op_set(NULL, arg, e);
}

void out_from_op(cf_side_out *s, const op *o)
{
    s->cls = o->cls;
    s->alert = o->alert;
    snprintf(s->msg, sizeof s->msg, "%s", o->msg);
}

int wait_ops(kit *k, double secs, op *a, op *b, op *c, op *d)
{
    op *ops[4] = {a, b, c, d};
    double end = now_s() + secs;
    for (;;) {
        int pending = 0;
        for (int i = 0; i < 4; i++)
            pending += ops[i] && !ops[i]->done;
        if (!pending)
            return 0;
        if (now_s() > end)
            return -1;
        tlsplug_loop_run_once(k->loop, k->turn_ms ? k->turn_ms : 20);
        if (k->tick)
            k->tick(k->tick_arg);
    }
}

void stalled(kit *k, op *o, const char *what)
{
    if (!o->done)
        op_fail(k, o, TLSPLUG_WANT_READ, what);
}

static void read_next(reader *rd);

static void on_read(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    reader *rd = arg;
    if (e) {
        op_set(rd->k, &rd->o, e);
        return;
    }
    if (rd->buf) {
        size_t room = rd->want - rd->have;
        memcpy(rd->buf + rd->have, buf, n < room ? n : room);
    }
    rd->have += n;
    if (!rd->until_end && rd->have >= rd->want) {
        op_set(rd->k, &rd->o, NULL);
        return;
    }
    read_next(rd);
}

static void read_next(reader *rd)
{
    size_t cap = sizeof rd->chunk;
    if (!rd->until_end && rd->want - rd->have < cap)
        cap = rd->want - rd->have; /* never take bytes of the next phase */
    int rc = tlsplug_aio_read(rd->a, rd->chunk, cap, 3000, on_read, rd);
    if (rc)
        op_fail(rd->k, &rd->o, rc, "tlsplug_aio_read refused");
}

reader *start_read(kit *k, reader *rd, tlsplug_aio *a, void *buf, size_t want, int until_end)
{
    memset(rd, 0, sizeof *rd);
    rd->k = k;
    rd->a = a;
    rd->buf = buf;
    rd->want = want;
    rd->until_end = until_end;
    read_next(rd);
    return rd;
}

static void write_next(writer *w);

static void on_written(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    writer *w = arg;
    if (e) {
        op_set(w->k, &w->o, e);
        return;
    }
    w->off += w->cur;
    if (w->off >= w->len) {
        op_set(w->k, &w->o, NULL);
        return;
    }
    write_next(w);
}

static void write_next(writer *w)
{
    w->cur = w->len - w->off < w->wsize ? w->len - w->off : w->wsize;
    int rc = tlsplug_aio_write(w->a, w->buf + w->off, w->cur, 5000, on_written, w);
    if (rc)
        op_fail(w->k, &w->o, rc, "tlsplug_aio_write refused");
}

writer *start_write(kit *k, writer *w, tlsplug_aio *a, const void *buf, size_t len, size_t wsize)
{
    memset(w, 0, sizeof *w);
    w->k = k;
    w->a = a;
    w->buf = buf;
    w->len = len;
    w->wsize = wsize ? wsize : len;
    write_next(w);
    return w;
}
