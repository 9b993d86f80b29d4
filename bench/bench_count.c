/* Counting by interposition: the bench executable defines malloc & co and
 * the I/O system-call wrappers itself, so every caller in the process (core,
 * the TLS libraries, the natives, the loops) is counted the same way.  The
 * real work goes to glibc's __libc_* allocator and to syscall(2).
 *
 * Single-threaded by design: every measurement runs on one thread (the 10k
 * test's load generator is a separate process). */
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"

static long long live_bytes, peak_bytes, tl_live_bytes;
static unsigned long long alloc_calls, sys_calls, copy_bytes, sys_kind[BENCH_SC_KINDS];

long long bench_live_bytes(void)
{
    return live_bytes;
}

long long bench_peak_bytes(void)
{
    return peak_bytes;
}

void bench_peak_reset(void)
{
    peak_bytes = live_bytes;
}

unsigned long long bench_alloc_calls(void)
{
    return alloc_calls;
}

unsigned long long bench_syscalls(void)
{
    return sys_calls;
}

unsigned long long bench_syscalls_of(int kind)
{
    return kind >= 0 && kind < BENCH_SC_KINDS ? sys_kind[kind] : 0;
}

unsigned long long bench_copy_bytes(void)
{
    return copy_bytes;
}

long long bench_tlsplug_live_bytes(void)
{
    return tl_live_bytes;
}

/* tlsplug's own allocations, on top of the process-wide count. */
static void *tl_malloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        tl_live_bytes += (long long)malloc_usable_size(p);
    return p;
}

static void *tl_realloc(void *p, size_t n)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = realloc(p, n);
    if (q)
        tl_live_bytes += (long long)malloc_usable_size(q) - (long long)old;
    return q;
}

static void tl_free(void *p)
{
    if (p) {
        tl_live_bytes -= (long long)malloc_usable_size(p);
        free(p);
    }
}

void bench_count_install_tlsplug_allocator(void)
{
    tlsplug_set_allocator(tl_malloc, tl_realloc, tl_free);
}

#ifdef BENCH_NO_HOOKS

int bench_count_available(void)
{
    return 0;
}

#else

int bench_count_available(void)
{
    return 1;
}

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static void *counted(void *p)
{
    if (p) {
        live_bytes += (long long)malloc_usable_size(p);
        if (live_bytes > peak_bytes)
            peak_bytes = live_bytes;
        alloc_calls++;
    }
    return p;
}

void *malloc(size_t n)
{
    return counted(__libc_malloc(n));
}

void *calloc(size_t n, size_t size)
{
    return counted(__libc_calloc(n, size));
}

void free(void *p)
{
    if (p) {
        live_bytes -= (long long)malloc_usable_size(p);
        __libc_free(p);
    }
}

void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    if (n == 0) {
        free(p);
        return NULL;
    }
    size_t old = malloc_usable_size(p);
    void *q = __libc_realloc(p, n);
    if (q) {
        live_bytes -= (long long)old;
        counted(q);
    }
    return q;
}

void *memalign(size_t align, size_t n)
{
    return counted(__libc_memalign(align, n));
}

void *aligned_alloc(size_t align, size_t n)
{
    return counted(__libc_memalign(align, n));
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return 22; /* EINVAL */
    void *p = counted(__libc_memalign(align, n));
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    return counted(__libc_memalign((size_t)sysconf(_SC_PAGESIZE), n));
}

/* Through a volatile pointer, or the compiler folds the unchecked _chk call
 * back into memcpy, which is this very function. */
extern void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen);
extern void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen);
static void *(*volatile real_memcpy)(void *, const void *, size_t, size_t) = __memcpy_chk;
static void *(*volatile real_memmove)(void *, const void *, size_t, size_t) = __memmove_chk;

void *memcpy(void *dst, const void *src, size_t n)
{
    copy_bytes += n;
    return real_memcpy(dst, src, n, (size_t)-1);
}

void *memmove(void *dst, const void *src, size_t n)
{
    copy_bytes += n;
    return real_memmove(dst, src, n, (size_t)-1);
}

ssize_t read(int fd, void *buf, size_t n)
{
    sys_calls++;
    sys_kind[BENCH_SC_READ]++;
    return syscall(SYS_read, fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    sys_calls++;
    sys_kind[BENCH_SC_WRITE]++;
    return syscall(SYS_write, fd, buf, n);
}

ssize_t readv(int fd, const struct iovec *iov, int n)
{
    sys_calls++;
    sys_kind[BENCH_SC_READ]++;
    return syscall(SYS_readv, fd, iov, n);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
    sys_calls++;
    sys_kind[BENCH_SC_WRITE]++;
    return syscall(SYS_writev, fd, iov, n);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    sys_calls++;
    sys_kind[BENCH_SC_READ]++;
    return syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    sys_calls++;
    sys_kind[BENCH_SC_WRITE]++;
    return syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                 socklen_t *alen)
{
    sys_calls++;
    sys_kind[BENCH_SC_READ]++;
    return syscall(SYS_recvfrom, fd, buf, n, flags, addr, alen);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
               socklen_t alen)
{
    sys_calls++;
    sys_kind[BENCH_SC_WRITE]++;
    return syscall(SYS_sendto, fd, buf, n, flags, addr, alen);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    sys_calls++;
    sys_kind[BENCH_SC_READ]++;
    return syscall(SYS_recvmsg, fd, msg, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    sys_calls++;
    sys_kind[BENCH_SC_WRITE]++;
    return syscall(SYS_sendmsg, fd, msg, flags);
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    sys_calls++;
    sys_kind[BENCH_SC_WAIT]++;
    return (int)syscall(SYS_epoll_pwait, epfd, ev, max, timeout, NULL, (size_t)8);
}

int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
    sys_calls++;
    sys_kind[BENCH_SC_WAIT]++;
    return (int)syscall(SYS_epoll_pwait, epfd, ev, max, timeout, mask, (size_t)8);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    sys_calls++;
    sys_kind[BENCH_SC_CTL]++;
    return (int)syscall(SYS_epoll_ctl, epfd, op, fd, ev);
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    sys_calls++;
    sys_kind[BENCH_SC_WAIT]++;
    struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000L};
    return (int)syscall(SYS_ppoll, fds, n, timeout < 0 ? NULL : &ts, NULL, (size_t)8);
}

#endif
