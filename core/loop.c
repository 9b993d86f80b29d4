/* The built-in loop: epoll (poll as fallback) plus a timer heap, exposed as a
 * tlsplug_reactor.
 *
 * Dispatch safety is what the aio layer leans on:
 *  - A watch freed during dispatch is only marked dead and unlinked from the
 *    kernel/poll set and from fdmap; its memory lives until the dispatch
 *    ends, because the poll arrays still hold it at a fixed index.  epoll
 *    events name watches by (generation, fd), so a freed one is not found.
 *  - A timer is popped off the heap before its callback runs, and freeing one
 *    removes it from the heap, so timers can be released at once.
 *  - Timers only fire if they were armed before the dispatch began (sequence
 *    number below a snapshot), so a timer started from any callback with 0 ms
 *    runs on the next iteration and a self-restarting timer cannot spin. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "tlsplug/tlsplug.h"
#include "core/alloc.h"

#define NO_INDEX SIZE_MAX
#define EPOLL_BATCH 512

struct tlsplug_watch {
    struct tlsplug_loop *loop;
    int fd;
    int events;   /* interest: TLSPLUG_EV_* */
    int dead;     /* freed during dispatch; released when it ends */
    int in_epoll; /* registered with the kernel, see watch_set_epoll */
    uint32_t kmask; /* the mask the kernel has while in_epoll */
    uint32_t gen; /* epoll key, with fd: see watch_key */
    size_t idx;   /* poll backend: slot in pfds/pwatch */
    tlsplug_watch_cb cb;
    void *arg;
    struct tlsplug_watch *next_dead;
};

struct tlsplug_timer {
    struct tlsplug_loop *loop;
    size_t heap_idx; /* NO_INDEX when not armed */
    uint64_t deadline; /* CLOCK_MONOTONIC ns: ms would let a timer fire up
                        * to 1 ms early when started late in a millisecond */
    uint64_t seq;
    tlsplug_timer_cb cb;
    void *arg;
};

struct tlsplug_loop {
    tlsplug_reactor reactor;
    int epfd; /* -1: poll backend */

    /* One watch per fd: lets watch_new refuse a second one up front instead
     * of epoll failing later with EEXIST (and poll silently doubling up). */
    tlsplug_watch **fdmap;
    size_t fdmap_len;
    uint32_t next_gen;

    size_t nwatches; /* live (not dead) watches */
    size_t nactive;  /* live watches with events != 0 */
    tlsplug_watch *dead;

    struct epoll_event *evs;

    /* poll backend: every live watch has a slot (fd -1 while paused), so a
     * change is O(1) instead of a rebuild. */
    struct pollfd *pfds;
    tlsplug_watch **pwatch;
    size_t pn, pcap;

    tlsplug_timer **heap;
    size_t heap_len, heap_cap;
    size_t ntimers;
    uint64_t next_seq;

    int dispatching;
    int running;
    int stop;
};

/* ------------------------------------------------------------------------ */
/* Time                                                                       */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ms(void)
{
    return mono_ns() / 1000000u;
}

/* ------------------------------------------------------------------------ */
/* Timer heap, ordered by (deadline, seq)                                     */

static int timer_before(const tlsplug_timer *a, const tlsplug_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_place(tlsplug_loop *loop, size_t i, tlsplug_timer *t)
{
    loop->heap[i] = t;
    t->heap_idx = i;
}

static void heap_up(tlsplug_loop *loop, size_t i)
{
    tlsplug_timer *t = loop->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!timer_before(t, loop->heap[p]))
            break;
        heap_place(loop, i, loop->heap[p]);
        i = p;
    }
    heap_place(loop, i, t);
}

static void heap_down(tlsplug_loop *loop, size_t i)
{
    tlsplug_timer *t = loop->heap[i];
    size_t n = loop->heap_len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && timer_before(loop->heap[c + 1], loop->heap[c]))
            c++;
        if (!timer_before(loop->heap[c], t))
            break;
        heap_place(loop, i, loop->heap[c]);
        i = c;
    }
    heap_place(loop, i, t);
}

static void heap_remove(tlsplug_loop *loop, tlsplug_timer *t)
{
    size_t i = t->heap_idx;
    size_t last = --loop->heap_len;
    t->heap_idx = NO_INDEX;
    if (i == last)
        return;
    heap_place(loop, i, loop->heap[last]);
    if (i > 0 && timer_before(loop->heap[i], loop->heap[(i - 1) / 2]))
        heap_up(loop, i);
    else
        heap_down(loop, i);
}

/* ------------------------------------------------------------------------ */
/* Watches                                                                    */

static int errno_class(int e)
{
    switch (e) {
    case ENOMEM:
    case ENOSPC:
        return TLSPLUG_E_NO_MEMORY;
    case EBADF:
    case EPERM:
    case EINVAL:
        return TLSPLUG_E_INVALID_ARGUMENT;
    default:
        return TLSPLUG_E_IO;
    }
}

static int fdmap_reserve(tlsplug_loop *loop, int fd)
{
    size_t need = (size_t)fd + 1;
    if (need <= loop->fdmap_len)
        return 0;
    size_t len = loop->fdmap_len ? loop->fdmap_len : 64;
    while (len < need)
        len *= 2;
    tlsplug_watch **m = tlsplug__realloc(loop->fdmap, len * sizeof *m);
    if (!m)
        return TLSPLUG_E_NO_MEMORY;
    memset(m + loop->fdmap_len, 0, (len - loop->fdmap_len) * sizeof *m);
    loop->fdmap = m;
    loop->fdmap_len = len;
    return 0;
}

static int poll_reserve(tlsplug_loop *loop)
{
    if (loop->pn < loop->pcap)
        return 0;
    size_t cap = loop->pcap ? loop->pcap * 2 : 64;
    struct pollfd *p = tlsplug__realloc(loop->pfds, cap * sizeof *p);
    if (!p)
        return TLSPLUG_E_NO_MEMORY;
    loop->pfds = p;
    tlsplug_watch **w = tlsplug__realloc(loop->pwatch, cap * sizeof *w);
    if (!w)
        return TLSPLUG_E_NO_MEMORY;
    loop->pwatch = w;
    loop->pcap = cap;
    return 0;
}

static void poll_remove_slot(tlsplug_loop *loop, size_t i)
{
    size_t last = --loop->pn;
    if (i != last) {
        loop->pfds[i] = loop->pfds[last];
        loop->pwatch[i] = loop->pwatch[last];
        loop->pwatch[i]->idx = i;
    }
}

/* epoll events carry (generation, fd) rather than the watch pointer and are
 * resolved through fdmap: if the caller closes the fd before watch_free while
 * another descriptor (a dup, a forked child) keeps the file open, the kernel
 * keeps the registration after our EPOLL_CTL_DEL fails, and a raw pointer
 * would then reach freed memory. */
static uint64_t watch_key(const tlsplug_watch *w)
{
    return ((uint64_t)w->gen << 32) | (uint32_t)w->fd;
}

static int lp_watch_new(void *self, int fd, tlsplug_watch_cb cb, void *arg, tlsplug_watch **out)
{
    tlsplug_loop *loop = self;
    if (!loop || fd < 0 || !cb || !out)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (fcntl(fd, F_GETFD) < 0)
        return TLSPLUG_E_INVALID_ARGUMENT;
    int rc = fdmap_reserve(loop, fd);
    if (rc < 0)
        return rc;
    if (loop->fdmap[fd])
        return TLSPLUG_E_BUSY;
    if (loop->epfd < 0 && (rc = poll_reserve(loop)) < 0)
        return rc;
    tlsplug_watch *w = tlsplug__calloc(1, sizeof *w);
    if (!w)
        return TLSPLUG_E_NO_MEMORY;
    w->loop = loop;
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    w->idx = NO_INDEX;
    w->gen = loop->next_gen++;
    if (loop->epfd < 0) {
        w->idx = loop->pn++;
        loop->pfds[w->idx] = (struct pollfd){.fd = -1, .events = 0, .revents = 0};
        loop->pwatch[w->idx] = w;
    }
    loop->fdmap[fd] = w;
    loop->nwatches++;
    *out = w;
    return 0;
}

static uint32_t epoll_mask(int events)
{
    return ((events & TLSPLUG_EV_READ) ? EPOLLIN : 0u) | ((events & TLSPLUG_EV_WRITE) ? EPOLLOUT : 0u);
}

/* Lazily: a pause keeps the kernel registration (the aio pauses and resumes
 * a watch around every operation; two epoll_ctl per operation otherwise), and
 * a resume to the mask the kernel already has costs nothing.  The kernel is
 * brought up to date when it reports an event nobody wants (dispatch_epoll):
 * epoll reports EPOLLERR/EPOLLHUP even for an empty mask, and level-triggered
 * a stale registration would spin the loop on a hung-up socket. */
static int watch_set_epoll(tlsplug_loop *loop, tlsplug_watch *w, int events)
{
    if (!events)
        return 0;
    uint32_t mask = epoll_mask(events);
    if (w->in_epoll && w->kmask == mask)
        return 0;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = mask;
    ev.data.u64 = watch_key(w);
    if (epoll_ctl(loop->epfd, w->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev) < 0) {
        int e = errno;
        /* The kernel drops an fd from epoll when its last descriptor closes;
         * a MOD then fails with ENOENT and an ADD is what was meant. */
        if (e == ENOENT && w->in_epoll) {
            if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, w->fd, &ev) == 0) {
                w->kmask = mask;
                return 0;
            }
            e = errno;
        }
        w->in_epoll = 0;
        return errno_class(e);
    }
    w->in_epoll = 1;
    w->kmask = mask;
    return 0;
}

/* An event arrived that the interest does not cover: shrink the kernel's
 * mask to the interest (or leave the set when paused). */
static void watch_sync_epoll(tlsplug_loop *loop, tlsplug_watch *w)
{
    if (!w->in_epoll)
        return;
    if (!w->events) {
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
        w->in_epoll = 0;
        return;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = epoll_mask(w->events);
    ev.data.u64 = watch_key(w);
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) == 0)
        w->kmask = ev.events;
}

static int lp_watch_set(void *self, tlsplug_watch *w, int events)
{
    tlsplug_loop *loop = self;
    if (!loop || !w || w->dead || (events & ~(TLSPLUG_EV_READ | TLSPLUG_EV_WRITE)))
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (events == w->events)
        return 0;
    if (loop->epfd >= 0) {
        int rc = watch_set_epoll(loop, w, events);
        if (rc < 0)
            return rc;
    } else {
        struct pollfd *p = &loop->pfds[w->idx];
        p->fd = events ? w->fd : -1;
        p->events = (short)(((events & TLSPLUG_EV_READ) ? POLLIN : 0) |
                            ((events & TLSPLUG_EV_WRITE) ? POLLOUT : 0));
    }
    if (!w->events && events)
        loop->nactive++;
    else if (w->events && !events)
        loop->nactive--;
    w->events = events;
    return 0;
}

static void watch_release(tlsplug_loop *loop, tlsplug_watch *w)
{
    if (loop->epfd < 0)
        poll_remove_slot(loop, w->idx);
    tlsplug__free(w);
}

static void lp_watch_free(void *self, tlsplug_watch *w)
{
    tlsplug_loop *loop = self;
    if (!loop || !w || w->dead)
        return;
    if (w->events)
        loop->nactive--;
    if (loop->epfd >= 0) {
        /* Best effort: if the caller closed the fd first the kernel has
         * dropped it already (EBADF/ENOENT). */
        if (w->in_epoll)
            epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
        w->in_epoll = 0;
    } else {
        loop->pfds[w->idx].fd = -1;
    }
    w->events = 0;
    if (w->fd >= 0 && (size_t)w->fd < loop->fdmap_len && loop->fdmap[w->fd] == w)
        loop->fdmap[w->fd] = NULL;
    loop->nwatches--;
    if (loop->dispatching) {
        w->dead = 1;
        w->next_dead = loop->dead;
        loop->dead = w;
    } else {
        watch_release(loop, w);
    }
}

/* ------------------------------------------------------------------------ */
/* Timers                                                                     */

static int lp_timer_new(void *self, tlsplug_timer_cb cb, void *arg, tlsplug_timer **out)
{
    tlsplug_loop *loop = self;
    if (!loop || !cb || !out)
        return TLSPLUG_E_INVALID_ARGUMENT;
    /* Reserve the heap slot now so timer_start can never fail. */
    if (loop->heap_cap < loop->ntimers + 1) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 16;
        tlsplug_timer **h = tlsplug__realloc(loop->heap, cap * sizeof *h);
        if (!h)
            return TLSPLUG_E_NO_MEMORY;
        loop->heap = h;
        loop->heap_cap = cap;
    }
    tlsplug_timer *t = tlsplug__calloc(1, sizeof *t);
    if (!t)
        return TLSPLUG_E_NO_MEMORY;
    t->loop = loop;
    t->heap_idx = NO_INDEX;
    t->cb = cb;
    t->arg = arg;
    loop->ntimers++;
    *out = t;
    return 0;
}

static int lp_timer_start(void *self, tlsplug_timer *t, uint64_t ms)
{
    tlsplug_loop *loop = self;
    if (!loop || !t)
        return TLSPLUG_E_INVALID_ARGUMENT;
    uint64_t now = mono_ns();
    uint64_t delta = ms > UINT64_MAX / 1000000u ? UINT64_MAX : ms * 1000000u;
    uint64_t deadline = delta > UINT64_MAX - now ? UINT64_MAX : now + delta;
    if (t->heap_idx != NO_INDEX)
        heap_remove(loop, t);
    t->deadline = deadline;
    t->seq = loop->next_seq++;
    loop->heap_len++;
    heap_place(loop, loop->heap_len - 1, t);
    heap_up(loop, loop->heap_len - 1);
    return 0;
}

static void lp_timer_stop(void *self, tlsplug_timer *t)
{
    tlsplug_loop *loop = self;
    if (loop && t && t->heap_idx != NO_INDEX)
        heap_remove(loop, t);
}

static void lp_timer_free(void *self, tlsplug_timer *t)
{
    tlsplug_loop *loop = self;
    if (!loop || !t)
        return;
    if (t->heap_idx != NO_INDEX)
        heap_remove(loop, t);
    loop->ntimers--;
    tlsplug__free(t);
}

static uint64_t lp_now_ms(void *self)
{
    (void)self;
    return mono_ms();
}

static const tlsplug_reactor_ops loop_ops = {
    .watch_new = lp_watch_new,
    .watch_set = lp_watch_set,
    .watch_free = lp_watch_free,
    .timer_new = lp_timer_new,
    .timer_start = lp_timer_start,
    .timer_stop = lp_timer_stop,
    .timer_free = lp_timer_free,
    .now_ms = lp_now_ms,
};

/* ------------------------------------------------------------------------ */
/* Iteration                                                                  */

static int loop_alive(const tlsplug_loop *loop)
{
    return loop->nactive > 0 || loop->heap_len > 0;
}

/* Milliseconds until the nearest timer, rounded up so the wait does not end
 * just short of the deadline and cost an empty iteration; -1 if none. */
static int timer_wait_ms(const tlsplug_loop *loop)
{
    if (!loop->heap_len)
        return -1;
    uint64_t deadline = loop->heap[0]->deadline;
    uint64_t now = mono_ns();
    if (deadline <= now)
        return 0;
    uint64_t ms = (deadline - now) / 1000000u + ((deadline - now) % 1000000u != 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int events_of(int readable, int writable, int error, const tlsplug_watch *w)
{
    if (!w->events)
        return 0;
    /* Errors go to both sides so whichever operation is pending sees them. */
    if (error)
        return TLSPLUG_EV_READ | TLSPLUG_EV_WRITE;
    return ((readable ? TLSPLUG_EV_READ : 0) | (writable ? TLSPLUG_EV_WRITE : 0)) & w->events;
}

static int wait_epoll(tlsplug_loop *loop, int timeout)
{
    int n = epoll_wait(loop->epfd, loop->evs, EPOLL_BATCH, timeout);
    return n < 0 ? -errno : n;
}

static int dispatch_epoll(tlsplug_loop *loop, int n)
{
    int ran = 0;
    for (int i = 0; i < n; i++) {
        uint64_t key = loop->evs[i].data.u64;
        size_t fd = (uint32_t)key;
        uint32_t e = loop->evs[i].events;
        tlsplug_watch *w = fd < loop->fdmap_len ? loop->fdmap[fd] : NULL;
        if (!w || watch_key(w) != key)
            continue;
        int ev = events_of((e & EPOLLIN) != 0, (e & EPOLLOUT) != 0,
                           (e & (EPOLLERR | EPOLLHUP)) != 0, w);
        if (!ev) {
            watch_sync_epoll(loop, w);
            continue;
        }
        w->cb(w, ev, w->arg);
        ran++;
    }
    return ran;
}

static int wait_poll(tlsplug_loop *loop, int timeout)
{
    int n = poll(loop->pfds, (nfds_t)loop->pn, timeout);
    return n < 0 ? -errno : n;
}

static int dispatch_poll(tlsplug_loop *loop, int nready)
{
    int ran = 0;
    /* Slots appended by callbacks lie beyond n and were not polled; removals
     * are deferred until the dispatch ends, so indices below n stay put. The
     * arrays may be reallocated by a callback, hence no cached pointers. */
    size_t n = loop->pn;
    for (size_t i = 0; i < n && nready > 0; i++) {
        short re = loop->pfds[i].revents;
        if (!re)
            continue;
        nready--;
        loop->pfds[i].revents = 0;
        tlsplug_watch *w = loop->pwatch[i];
        if (w->dead)
            continue;
        int ev = events_of((re & POLLIN) != 0, (re & POLLOUT) != 0,
                           (re & (POLLERR | POLLHUP | POLLNVAL)) != 0, w);
        if (!ev)
            continue;
        w->cb(w, ev, w->arg);
        ran++;
    }
    return ran;
}

static int dispatch_timers(tlsplug_loop *loop, uint64_t now, uint64_t seq_limit)
{
    int ran = 0;
    while (loop->heap_len) {
        tlsplug_timer *t = loop->heap[0];
        if (t->deadline > now || t->seq >= seq_limit)
            break;
        heap_remove(loop, t);
        t->cb(t, t->arg);
        ran++;
    }
    return ran;
}

static void release_dead(tlsplug_loop *loop)
{
    tlsplug_watch *w = loop->dead;
    loop->dead = NULL;
    while (w) {
        tlsplug_watch *next = w->next_dead;
        watch_release(loop, w);
        w = next;
    }
}

static int iterate(tlsplug_loop *loop, int timeout_ms)
{
    int tw = timer_wait_ms(loop);
    int timeout = timeout_ms;
    if (tw >= 0 && (timeout < 0 || tw < timeout))
        timeout = tw;

    const int full = timeout;
    const uint64_t start = mono_ms();
    int n;
    for (;;) {
        n = loop->epfd >= 0 ? wait_epoll(loop, timeout) : wait_poll(loop, timeout);
        if (n != -EINTR)
            break;
        if (full > 0) {
            uint64_t spent = mono_ms() - start;
            timeout = spent >= (uint64_t)full ? 0 : full - (int)spent;
        }
    }
    if (n < 0)
        return errno_class(-n) == TLSPLUG_E_NO_MEMORY ? TLSPLUG_E_NO_MEMORY : TLSPLUG_E_IO;

    /* Snapshot first: anything armed by the callbacks below waits for the
     * next iteration.  Taking the time here too means such a timer's deadline
     * is never below `now`, so it sorts after every expired older timer and
     * cannot hold one back by sitting at the top of the heap. */
    uint64_t seq_limit = loop->next_seq;
    uint64_t now = mono_ns();
    loop->dispatching = 1;
    int ran = loop->epfd >= 0 ? dispatch_epoll(loop, n) : dispatch_poll(loop, n);
    ran += dispatch_timers(loop, now, seq_limit);
    loop->dispatching = 0;
    release_dead(loop);
    return ran;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                 */

int tlsplug_loop_new(tlsplug_loop **out, unsigned flags)
{
    if (!out || (flags & ~(unsigned)TLSPLUG_LOOP_POLL))
        return TLSPLUG_E_INVALID_ARGUMENT;
    *out = NULL;
    tlsplug_loop *loop = tlsplug__calloc(1, sizeof *loop);
    if (!loop)
        return TLSPLUG_E_NO_MEMORY;
    loop->reactor.ops = &loop_ops;
    loop->reactor.self = loop;
    loop->epfd = -1;
    if (!(flags & TLSPLUG_LOOP_POLL)) {
        loop->evs = tlsplug__malloc(EPOLL_BATCH * sizeof *loop->evs);
        if (!loop->evs) {
            tlsplug__free(loop);
            return TLSPLUG_E_NO_MEMORY;
        }
        loop->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (loop->epfd < 0) {
            tlsplug__free(loop->evs);
            loop->evs = NULL;
        }
    }
    *out = loop;
    return 0;
}

int tlsplug_loop_free(tlsplug_loop *loop)
{
    if (!loop)
        return 0;
    if (loop->nwatches || loop->ntimers || loop->dispatching || loop->running)
        return TLSPLUG_E_BUSY;
    if (loop->epfd >= 0)
        close(loop->epfd);
    tlsplug__free(loop->evs);
    tlsplug__free(loop->pfds);
    tlsplug__free(loop->pwatch);
    tlsplug__free(loop->heap);
    tlsplug__free(loop->fdmap);
    tlsplug__free(loop);
    return 0;
}

tlsplug_reactor *tlsplug_loop_reactor(tlsplug_loop *loop)
{
    return loop ? &loop->reactor : NULL;
}

int tlsplug_loop_run(tlsplug_loop *loop)
{
    if (!loop)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (loop->running)
        return TLSPLUG_E_BUSY;
    loop->running = 1;
    int rc = 0;
    while (!loop->stop && loop_alive(loop)) {
        int n = iterate(loop, -1);
        if (n < 0) {
            rc = n;
            break;
        }
    }
    /* A stop is consumed by the run it ended (or, if issued while idle, by
     * the next run, which then returns at once); run_once consumes one too so
     * a stop from its callbacks does not linger into a later run. */
    loop->stop = 0;
    loop->running = 0;
    return rc;
}

int tlsplug_loop_run_once(tlsplug_loop *loop, int timeout_ms)
{
    if (!loop)
        return TLSPLUG_E_INVALID_ARGUMENT;
    if (loop->running)
        return TLSPLUG_E_BUSY;
    /* Blocking forever with nothing that could wake us would hang. */
    if (timeout_ms < 0 && !loop_alive(loop))
        return 0;
    loop->running = 1;
    int n = iterate(loop, timeout_ms);
    loop->stop = 0;
    loop->running = 0;
    return n;
}

void tlsplug_loop_stop(tlsplug_loop *loop)
{
    if (loop)
        loop->stop = 1;
}

const char *tlsplug_loop_backend(const tlsplug_loop *loop)
{
    if (!loop)
        return NULL;
    return loop->epfd >= 0 ? "epoll" : "poll";
}
