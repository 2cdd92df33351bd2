/*
 * Output files that appear together or not at all (see cli_stage in
 * cli.h). The library's writers already replace their one file in a
 * single step (libxcnn/io/atomic_file.c); a command that writes two files
 * (explain --out and --png) first writes each to a temporary name of its
 * own in the target's directory, and renames both into place only when
 * both are complete.
 *
 * The temporary name is reserved with mkstemp; the library's writer then
 * replaces that reserved file in its own single step, and the rename here
 * replaces the target. Messages about the temporary name are printed
 * about the target, which is the name the user knows.
 */
/* realpath() is X/Open, beyond the Makefile's _POSIX_C_SOURCE. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"

void cli_stage_abort(cli_stage *s)
{
    if (s->tmp) unlink(s->tmp);
    free(s->tmp);
    free(s->dest);
    s->tmp = s->dest = NULL;
}

int cli_stage_begin(cli_stage *s, const char *target)
{
    memset(s, 0, sizeof *s);
    s->target = target;
    struct stat st;
    /* Follow a link, as the library does: the file it names is replaced. */
    if (lstat(target, &st) == 0 && S_ISLNK(st.st_mode)) s->dest = realpath(target, NULL);
    if (!s->dest) s->dest = strdup(target);
    if (!s->dest) return cli_error("out of memory");
    int exists = stat(s->dest, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        cli_stage_abort(s);
        return cli_error("cannot write '%s': %s", target, strerror(EISDIR));
    }
    /* A device or FIFO (/dev/null, /dev/stdout) cannot be renamed over: it
     * is written directly and takes no part in the all-or-nothing. */
    if (exists && !S_ISREG(st.st_mode)) return 0;
    /* The rename would replace a file we may not write: refuse, as the
     * library does. */
    if (exists && access(s->dest, W_OK) != 0) {
        int e = errno;
        cli_stage_abort(s);
        return cli_error("cannot write '%s': %s", target, strerror(e));
    }
    size_t len = strlen(s->dest);
    s->tmp = malloc(len + 16);
    if (!s->tmp) {
        cli_stage_abort(s);
        return cli_error("out of memory");
    }
    snprintf(s->tmp, len + 16, "%s.tmp.XXXXXX", s->dest);
    int fd = mkstemp(s->tmp);
    if (fd < 0) {
        int e = errno;
        free(s->tmp);
        s->tmp = NULL;
        cli_stage_abort(s);
        return cli_error("cannot write '%s': %s", target, strerror(e));
    }
    /* mkstemp makes the file 0600; the library keeps the reserved file's
     * permissions when it replaces it, so give it the ones the target has
     * (or a new file would get: 0666 less the umask). */
    mode_t mode;
    if (exists) {
        mode = st.st_mode & 0777;
    } else {
        mode_t mask = umask(0);
        umask(mask);
        mode = 0666 & ~mask;
    }
    if (fchmod(fd, mode) != 0) { /* then mkstemp's 0600: private, never wider */ }
    close(fd);
    return 0;
}

const char *cli_stage_path(const cli_stage *s)
{
    return s->tmp ? s->tmp : s->dest;
}

int cli_stage_error(const cli_stage *s, const char *msg)
{
    const char *at = s->tmp ? strstr(msg, s->tmp) : NULL;
    if (!at) return cli_error("%s", msg);
    return cli_error("%.*s%s%s", (int)(at - msg), msg, s->target, at + strlen(s->tmp));
}

int cli_stage_commit(cli_stage *s, const char *already)
{
    int rc = 0;
    if (s->tmp && rename(s->tmp, s->dest) != 0) {
        int e = errno;
        rc = already ? cli_error("cannot write '%s': %s ('%s' has been written)", s->target,
                                 strerror(e), already)
                     : cli_error("cannot write '%s': %s", s->target, strerror(e));
    } else if (s->tmp) {
        free(s->tmp);
        s->tmp = NULL; /* in place: nothing for abort to remove */
    }
    cli_stage_abort(s);
    return rc;
}

int cli_write_text(const char *path, const char *text)
{
    cli_stage s;
    int rc = cli_stage_begin(&s, path);
    if (rc) return rc;
    errno = 0;
    FILE *f = fopen(cli_stage_path(&s), "w");
    int e = f ? 0 : (errno ? errno : EIO);
    size_t n = strlen(text);
    if (f && fwrite(text, 1, n, f) != n) e = errno ? errno : EIO;
    if (f && !e && fflush(f) != 0) e = errno ? errno : EIO;
    if (f && !e && s.tmp && fsync(fileno(f)) != 0 && errno != EINVAL) e = errno;
    if (f && fclose(f) != 0 && !e) e = errno ? errno : EIO;
    if (e) {
        cli_stage_abort(&s);
        return cli_error("cannot write '%s': %s", path, strerror(e));
    }
    return cli_stage_commit(&s, NULL);
}
