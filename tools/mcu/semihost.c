/*
 * Semihosting calls, and the few newlib system calls a program that
 * prints through them needs. The library itself never prints; newlib's
 * snprintf (the library's error messages) needs none of these.
 */
#include <errno.h>
#include <stddef.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/times.h>
#include "semihost.h"

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUN_TIME_ERROR 0x20023

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void sh_write0(const char *s) { semihost(SYS_WRITE0, s); }

void sh_exit(int status)
{
    semihost(SYS_EXIT, (const void *)(status ? ADP_STOPPED_RUN_TIME_ERROR
                                             : ADP_STOPPED_APPLICATION_EXIT));
    for (;;) __asm__ volatile("wfi");
}

/* newlib's hooks: exit() and abort() end here; nothing else is used. */
void _exit(int status) { sh_exit(status); }
int _kill(int pid, int sig)
{
    (void)pid;
    (void)sig;
    errno = EINVAL;
    return -1;
}
int _getpid(void) { return 1; }

/* The heap: from the end of .bss up to the stack's reserve (link.ld).
 * The firmware loading an .xcnn into its static buffer never calls
 * malloc; _sbrk keeps its high-water mark so main can report any use. */
extern char __heap_start[], __heap_end[];
static char *brk = __heap_start;

char *mcu_heap_top(void) { return brk; }

void *_sbrk(ptrdiff_t incr)
{
    if (incr > __heap_end - brk || incr < __heap_start - brk) {
        errno = ENOMEM;
        return (void *)-1;
    }
    char *old = brk;
    brk += incr;
    return old;
}

int _write(int fd, const char *buf, int n)
{
    (void)fd;
    char chunk[65];
    for (int i = 0; i < n;) {
        int k = 0;
        while (k < 64 && i < n) chunk[k++] = buf[i++];
        chunk[k] = 0;
        sh_write0(chunk);
    }
    return n;
}
int _read(int fd, char *buf, int n)
{
    (void)fd;
    (void)buf;
    (void)n;
    return 0;
}
int _close(int fd)
{
    (void)fd;
    return -1;
}
int _lseek(int fd, int off, int whence)
{
    (void)fd;
    (void)off;
    (void)whence;
    return 0;
}
int _isatty(int fd)
{
    (void)fd;
    return 1;
}
int _fstat(int fd, struct stat *st)
{
    (void)fd;
    st->st_mode = S_IFCHR;
    return 0;
}

/* No clock here: clock() (the library's profiling fallback, off unless
 * asked for) reads -1. */
clock_t _times(struct tms *t)
{
    (void)t;
    errno = ENOSYS;
    return (clock_t)-1;
}

/* newlib-nano's aligned_alloc (the library's heap allocations) calls
 * posix_memalign, which nano's malloc does not provide; its memalign
 * gives blocks that free() takes back. Only the heap (ONNX) path uses it. */
int posix_memalign(void **out, size_t align, size_t size)
{
    void *p = memalign(align, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
