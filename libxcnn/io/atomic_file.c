/*
 * Writing a file whole or not at all: a temporary file in the target's
 * directory, renamed over the target once it is complete (see
 * atomic_file.h). rename() within one directory replaces the target in one
 * step: a reader sees the old file or the new one, never a mixture.
 */
/* realpath() is X/Open, beyond the Makefile's _POSIX_C_SOURCE. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "atomic_file.h"
#include "../base/format.h"

static xcnn_status fail_errno(xcnn_err *err, const char *path, int e)
{
    char why[160];
    /* strerror_r (POSIX's int-returning form): strerror's buffer may be
     * shared between threads. */
    if (strerror_r(e, why, sizeof why) != 0) xcnn_format(why, sizeof why, "error %d", e);
    return xcnn_fail(err, XCNN_ERR_IO, "cannot write '%s': %s", path, why);
}

static void clear(xcnn_atomic_file *af)
{
    free(af->target);
    free(af->tmp);
    af->target = af->tmp = NULL;
    af->f = NULL;
}

/* A name for the temporary file: six letters or digits from the process
 * id, the clock, this object's address and the attempt. O_EXCL makes the
 * creation safe whatever they are; they only need to differ often. */
static void temp_name(char *out, const char *target, const void *self, int attempt)
{
    static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_nsec ^
                 (uint64_t)ts.tv_sec << 30 ^ (uint64_t)(uintptr_t)self ^
                 (uint64_t)attempt * 0xBF58476D1CE4E5B9ull;
    char suffix[7];
    for (int i = 0; i < 6; i++) {
        x ^= x >> 31;
        x *= 0x94D049BB133111EBull;
        x ^= x >> 29;
        suffix[i] = abc[x % 62];
    }
    suffix[6] = 0;
    sprintf(out, "%s.tmp.%s", target, suffix);
}

xcnn_status xcnn_atomic_open(xcnn_atomic_file *af, const char *path, xcnn_err *err)
{
    memset(af, 0, sizeof *af);
    af->path = path;
    if (!path || !path[0])
        return xcnn_fail(err, XCNN_ERR_ARG, "cannot write a file with an empty name");
    struct stat st;
    /* A link is followed: the file it names is replaced and the link kept,
     * as fopen(path, "w") would have written through it. A dangling link
     * has nothing to follow (realpath fails) and is replaced by the file. */
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) af->target = realpath(path, NULL);
    if (!af->target) {
        af->target = malloc(strlen(path) + 1);
        if (af->target) strcpy(af->target, path);
    }
    if (!af->target) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory writing '%s'", path);
    int exists = stat(af->target, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        clear(af);
        return fail_errno(err, path, EISDIR);
    }
    if (exists && !S_ISREG(st.st_mode)) {
        /* A device or a FIFO cannot be renamed over: write to it. */
        errno = 0;
        af->f = fopen(af->target, "wb");
        if (!af->f) {
            int e = errno ? errno : EIO;
            clear(af);
            return fail_errno(err, path, e);
        }
        return XCNN_OK;
    }
    /* rename() would replace a file we may not write (mode 0444, another
     * user's): refuse it as fopen(path, "w") did. */
    if (exists && access(af->target, W_OK) != 0) {
        int e = errno;
        clear(af);
        return fail_errno(err, path, e);
    }
    mode_t mode = exists ? (st.st_mode & 0777) : 0666;
    af->tmp = malloc(strlen(af->target) + 16);
    if (!af->tmp) {
        clear(af);
        return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory writing '%s'", path);
    }
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        temp_name(af->tmp, af->target, af, attempt);
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int e = errno;
        clear(af);
        return fail_errno(err, path, e);
    }
    /* open() applied the umask; a file that existed keeps its own bits
     * (a private 0600 file must not become readable by others) and, where
     * we may set them, its owner and group. Failing that, the new file has
     * what a new file gets. */
    if (exists) {
        if (fchown(fd, st.st_uid, st.st_gid) != 0) { /* not ours to give away */ }
        if (fchmod(fd, mode) != 0) { /* the umask's bits stay */ }
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp);
        clear(af);
        return fail_errno(err, path, e);
    }
    return XCNN_OK;
}

void xcnn_atomic_write(xcnn_atomic_file *af, const void *data, size_t n)
{
    if (af->err_no || !af->f || n == 0) return;
    errno = 0;
    if (fwrite(data, 1, n, af->f) != n) af->err_no = errno ? errno : EIO;
}

xcnn_status xcnn_atomic_commit(xcnn_atomic_file *af, xcnn_err *err)
{
    if (!af->f) {
        clear(af);
        return xcnn_fail(err, XCNN_ERR_ARG, "cannot write '%s': not open",
                         af->path ? af->path : "");
    }
    /* Every step is checked: with stdio's buffer a full disk often shows
     * only at the flush, and on network file systems only at close. */
    int e = af->err_no;
    errno = 0;
    if (!e && fflush(af->f) != 0) e = errno ? errno : EIO;
    /* The data must be on disk before the rename is: otherwise a crash
     * could leave the new name on an empty file. EINVAL: a file system
     * that cannot sync (nothing to wait for). */
    if (!e && af->tmp && fsync(fileno(af->f)) != 0 && errno != EINVAL) e = errno;
    errno = 0;
    if (fclose(af->f) != 0 && !e) e = errno ? errno : EIO;
    af->f = NULL;
    if (!e && af->tmp && rename(af->tmp, af->target) != 0) e = errno;
    if (e && af->tmp) unlink(af->tmp);
    xcnn_status st = e ? fail_errno(err, af->path, e) : XCNN_OK;
    clear(af);
    return st;
}

void xcnn_atomic_abort(xcnn_atomic_file *af)
{
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    clear(af);
}

xcnn_status xcnn_atomic_write_file(const char *path, const void *data, size_t n,
                                   xcnn_err *err)
{
    xcnn_atomic_file af;
    xcnn_status st = xcnn_atomic_open(&af, path, err);
    if (st) return st;
    xcnn_atomic_write(&af, data, n);
    return xcnn_atomic_commit(&af, err);
}
