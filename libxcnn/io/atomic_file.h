/*
 * Files that appear whole or not at all. Every file the library writes
 * (.npy, PNG, PNM, ONNX) goes through here, so that a full disk, a quota
 * or a crash half-way never leaves a truncated file, and never destroys
 * the good file that was at the path before:
 *
 *   1. xcnn_atomic_open creates "<path>.tmp.XXXXXX" next to the target
 *      (same directory, so the final rename cannot cross file systems),
 *      with the target's permission bits when it exists (0666 & ~umask,
 *      as fopen, when not);
 *   2. xcnn_atomic_write appends; the first error is kept (errno);
 *   3. xcnn_atomic_commit flushes, fsyncs and closes the temporary file,
 *      checking each, and only then renames it over the target.
 *      xcnn_atomic_abort (or a failed commit) closes and unlinks it.
 *
 * A path that is a symbolic link is written where the link points (the
 * link stays). A path that exists and is not a regular file (/dev/null,
 * /dev/stdout, a FIFO) cannot be replaced: it is written directly, with
 * the same error checks. Messages read "cannot write 'PATH': <strerror>".
 */
#ifndef XCNN_ATOMIC_FILE_H
#define XCNN_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>
#include "../base/error.h"

typedef struct xcnn_atomic_file {
    FILE *f;
    const char *path; /* as the caller gave it: for messages            */
    char *target;     /* what is replaced (path, or a link's target)    */
    char *tmp;        /* the temporary file; NULL when writing directly */
    int err_no;       /* first failed write's errno, 0 while all is well */
} xcnn_atomic_file;

/* Start writing path. On failure nothing is left open or created. */
xcnn_status xcnn_atomic_open(xcnn_atomic_file *af, const char *path, xcnn_err *err);

/* Append n bytes (nothing happens after an earlier failure). */
void xcnn_atomic_write(xcnn_atomic_file *af, const void *data, size_t n);

/* Finish: flush, fsync, close, rename over the target. On any failure the
 * temporary file is removed, the target is as it was, and err names the
 * path and the cause. af is closed either way. */
xcnn_status xcnn_atomic_commit(xcnn_atomic_file *af, xcnn_err *err);

/* Give up: close and remove the temporary file; the target is untouched. */
void xcnn_atomic_abort(xcnn_atomic_file *af);

/* The whole of data as the file path (open, write, commit). */
xcnn_status xcnn_atomic_write_file(const char *path, const void *data, size_t n,
                                   xcnn_err *err);

#endif
