/*
 * DIR/manifest.csv: one row per input and method,
 *   index,method,input,target,target_name,score,delta,output,status,error
 * (index: the input's position in the whole list; output: the file's name
 * inside DIR; status ok or error). A row is appended, one write() of the
 * whole line, as soon as its output file is in place (written whole,
 * then renamed: xcnn_npy_write), so a crash or a Ctrl-C loses no row
 * already written and leaves no half row. A rerun reads it: an input and
 * method is done when its row says ok and its file is there with the
 * size its shape gives; the rest is run again (an error too: it may have
 * been the disk). At the end the manifest is rewritten, atomically, one
 * row per input and method sorted by index then method name: so a run
 * interrupted and resumed leaves the same bytes as one that was not, and
 * shards' manifests merge into the whole run's by sorting their rows
 * (tools/merge_manifests.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "many.h"

static const char header[] =
    "index,method,input,target,target_name,score,delta,output,status,error\n";
enum { F_INDEX, F_METHOD, F_INPUT, F_TARGET, F_NAME, F_SCORE, F_DELTA, F_OUTPUT, F_STATUS,
       F_ERROR, N_FIELDS };

/* Split a CSV line (quotes as RFC 4180) into fields, in place; the count
 * or -1 when malformed. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *r = line, *w;
    for (;;) {
        if (n == max) return -1;
        f[n++] = w = r;
        if (*r == '"') {
            r++;
            for (;;) {
                if (!*r) return -1;
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r++;
                }
            }
            if (*r && *r != ',') return -1;
        } else {
            while (*r && *r != ',') *w++ = *r++;
        }
        int more = *r == ',';
        *w = 0;
        if (!more) return n;
        r++;
    }
}

/* One field, quoted when it must be; control characters (a message's
 * newline) become spaces so that a row is one line. */
static size_t put(char *dst, size_t at, size_t size, const char *s, int last)
{
    int quote = strpbrk(s, ",\"") != NULL || s[0] == ' ';
    if (quote && at < size) dst[at++] = '"';
    for (; *s && at + 2 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"') dst[at++] = '"';
        dst[at++] = c < 32 ? ' ' : (char)c;
    }
    if (quote && at < size) dst[at++] = '"';
    if (at < size) dst[at++] = last ? '\n' : ',';
    return at;
}

/* The local item of a row's index and input path, or -1. */
static long item_of(const many_manifest *mf, long index, const char *input, long shard_i,
                    long shard_n)
{
    if (index < shard_i || (index - shard_i) % shard_n) return -1;
    long k = (index - shard_i) / shard_n;
    if (k >= mf->list->n_items || strcmp(mf->list->items[k].path, input)) return -1;
    return k;
}

static int keep_other(many_manifest *mf, char *line)
{
    if (mf->n_other == mf->cap_other) {
        long cap = mf->cap_other ? 2 * mf->cap_other : 64;
        char **more = realloc(mf->other, (size_t)cap * sizeof *more);
        if (!more) return -1;
        mf->other = more;
        mf->cap_other = cap;
    }
    mf->other[mf->n_other++] = line;
    return 0;
}

/* Read an existing manifest's rows into slots (or `other`). */
static int read_rows(many_manifest *mf, const many_opts *o)
{
    FILE *f = fopen(mf->path, "rb");
    if (!f) return errno == ENOENT ? 0 : cli_error("cannot read '%s': %s", mf->path,
                                                   strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long no = 0;
    int rc = 0;
    while (!rc && (len = getline(&line, &cap, f)) > 0) {
        no++;
        if (no == 1) {
            if (strcmp(line, header))
                rc = cli_error("'%s' is not an xcnn manifest (its first line is not '%.*s'): "
                               "give another --out-dir, or remove it", mf->path,
                               (int)strlen(header) - 1, header);
            continue;
        }
        if (line[len - 1] != '\n') break; /* a torn last line: never complete */
        char *copy = strdup(line), *tmp = strdup(line), *fl[N_FIELDS + 1];
        if (!copy || !tmp) {
            free(copy);
            free(tmp);
            rc = cli_error("out of memory");
            break;
        }
        tmp[len - 1] = 0;
        long index, k = -1;
        int m = -1;
        if (split(tmp, fl, N_FIELDS + 1) == N_FIELDS && !cli_parse_int(fl[F_INDEX], 0,
                                                                          1L << 40, &index)) {
            k = item_of(mf, index, fl[F_INPUT], o->shard_i, o->shard_n);
            for (int j = 0; k >= 0 && j < mf->n_methods; j++)
                if (!strcmp(mf->methods[j], fl[F_METHOD])) m = j;
        } else {
            free(copy); /* not a row: dropped at the rewrite */
            free(tmp);
            continue;
        }
        free(tmp);
        if (k >= 0 && m >= 0) {
            char **slot = &mf->rows[k * mf->n_methods + m];
            free(*slot); /* the later row wins */
            *slot = copy;
        } else if (keep_other(mf, copy)) {
            free(copy);
            rc = cli_error("out of memory");
        }
    }
    free(line);
    fclose(f);
    return rc;
}

int many_manifest_open(many_manifest *mf, const many_opts *o, const many_list *l,
                       const char *const *methods, int n_methods)
{
    memset(mf, 0, sizeof *mf);
    mf->fd = -1;
    mf->dir = o->out_dir;
    mf->list = l;
    mf->methods = methods;
    mf->n_methods = n_methods;
    if (mkdir(o->out_dir, 0777) != 0 && errno != EEXIST)
        return cli_error("cannot make --out-dir '%s': %s", o->out_dir, strerror(errno));
    struct stat sb;
    if (stat(o->out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_error("--out-dir '%s' is not a directory", o->out_dir);
    char name[96], path[4200];
    if (o->shard_n > 1)
        snprintf(name, sizeof name, "manifest.shard-%ld-of-%ld.csv", o->shard_i, o->shard_n);
    else
        snprintf(name, sizeof name, "manifest.csv");
    if (many_path(path, sizeof path, o->out_dir, name) || !(mf->path = strdup(path)))
        return cli_error("--out-dir '%s': the path is too long", o->out_dir);
    mf->rows = calloc((size_t)(l->n_items ? l->n_items : 1) * (size_t)n_methods,
                      sizeof *mf->rows);
    if (!mf->rows) return cli_error("out of memory");
    int rc = read_rows(mf, o);
    if (rc) return rc;
    mf->fd = open(mf->path, O_WRONLY | O_APPEND | O_CREAT, 0666);
    if (mf->fd < 0) return cli_error("cannot write '%s': %s", mf->path, strerror(errno));
    off_t end = lseek(mf->fd, 0, SEEK_END);
    char last = '\n';
    if (end > 0 && pread(mf->fd, &last, 1, end - 1) != 1) last = 0;
    /* a torn last line (a power cut, a full disk) is ended, so that the
     * next row starts a line of its own; read_rows dropped it */
    if ((end == 0 && write(mf->fd, header, sizeof header - 1) != (ssize_t)(sizeof header - 1)) ||
        (end > 0 && last != '\n' && write(mf->fd, "\n", 1) != 1))
        return cli_error("cannot write '%s': %s", mf->path, strerror(errno));
    return 0;
}

int many_manifest_done(const many_manifest *mf, long i, int k, long long bytes, int png)
{
    const char *row = mf->rows[i * mf->n_methods + k];
    if (!row) return 0;
    char *tmp = strdup(row), *fl[N_FIELDS + 1];
    if (!tmp) return 0;
    tmp[strlen(tmp) - 1] = 0;
    int ok = split(tmp, fl, N_FIELDS + 1) == N_FIELDS && !strcmp(fl[F_STATUS], "ok") &&
             fl[F_OUTPUT][0];
    char path[4200];
    struct stat sb;
    ok = ok && !many_path(path, sizeof path, mf->dir, fl[F_OUTPUT]) && stat(path, &sb) == 0 &&
         S_ISREG(sb.st_mode) && (bytes < 0 || sb.st_size == bytes);
    if (ok && png) {
        size_t n = strlen(path);
        ok = n > 4 && !strcmp(path + n - 4, ".npy");
        if (ok) {
            memcpy(path + n - 4, ".png", 4);
            ok = stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
        }
    }
    free(tmp);
    return ok;
}

int many_manifest_add(many_manifest *mf, long i, int k, const many_row *r)
{
    char line[8192], num[64];
    size_t at = 0, size = sizeof line;
    snprintf(num, sizeof num, "%ld", r->index);
    at = put(line, at, size, num, 0);
    at = put(line, at, size, r->method, 0);
    at = put(line, at, size, r->input, 0);
    if (r->target >= 0) snprintf(num, sizeof num, "%d", r->target);
    else num[0] = 0;
    at = put(line, at, size, num, 0);
    at = put(line, at, size, r->target_name ? r->target_name : "", 0);
    if (r->has_score) snprintf(num, sizeof num, "%.9g", r->score);
    else num[0] = 0;
    at = put(line, at, size, num, 0);
    if (r->has_delta) snprintf(num, sizeof num, "%.9g", r->delta);
    else num[0] = 0;
    at = put(line, at, size, num, 0);
    at = put(line, at, size, r->output ? r->output : "", 0);
    at = put(line, at, size, r->error ? "error" : "ok", 0);
    at = put(line, at, size, r->error ? r->error : "", 1);
    if (at >= size || line[at - 1] != '\n')
        return cli_error("a manifest row for '%s' is over %zu bytes", r->input, size);
    /* one write: a row is in the file whole or not at all */
    if (write(mf->fd, line, at) != (ssize_t)at)
        return cli_error("cannot append to '%s': %s", mf->path, strerror(errno));
    char *copy = malloc(at + 1);
    if (!copy) return cli_error("out of memory");
    memcpy(copy, line, at);
    copy[at] = 0;
    char **slot = &mf->rows[i * mf->n_methods + k];
    free(*slot);
    *slot = copy;
    return 0;
}

int many_manifest_sync(many_manifest *mf)
{
    /* Only the manifest: the outputs were written without an fsync each
     * (many.c), so after a power cut (not a crash or a kill: the kernel
     * has them) an output may be shorter than its row promises. A rerun
     * checks each file's size, so such a file is made again. A sync() of
     * every output here cost more than a small model's batch on a busy
     * machine, and so does an fsync per batch (30 ms on this VM's disk):
     * once a second at most. */
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double now = (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
    if (now - mf->synced < 1.0) return 0;
    mf->synced = now;
    if (fsync(mf->fd) != 0 && errno != EINVAL)
        return cli_error("cannot write '%s': %s", mf->path, strerror(errno));
    return 0;
}

typedef struct sorted_row {
    long index;
    char method[64];
    const char *line;
} sorted_row;

static int by_key(const void *a, const void *b)
{
    const sorted_row *x = a, *y = b;
    if (x->index != y->index) return x->index < y->index ? -1 : 1;
    return strcmp(x->method, y->method);
}

int many_manifest_close(many_manifest *mf)
{
    int rc = 0;
    if (mf->fd >= 0 && fsync(mf->fd) != 0 && errno != EINVAL)
        rc = cli_error("cannot write '%s': %s", mf->path, strerror(errno));
    if (mf->fd >= 0) close(mf->fd);
    mf->fd = -1;
    long n_slots = mf->list ? mf->list->n_items * mf->n_methods : 0, n = 0;
    sorted_row *rows = malloc((size_t)(n_slots + mf->n_other + 1) * sizeof *rows);
    size_t bytes = sizeof header;
    if (!rows && !rc) rc = cli_error("out of memory");
    for (long s = 0; rows && s < n_slots + mf->n_other; s++) {
        const char *line = s < n_slots ? mf->rows[s] : mf->other[s - n_slots];
        if (!line) continue;
        sorted_row *r = &rows[n++];
        r->line = line;
        r->index = strtol(line, NULL, 10);
        const char *m = strchr(line, ',') + 1, *e = strchr(m, ',');
        snprintf(r->method, sizeof r->method, "%.*s", (int)(e - m), m);
        bytes += strlen(line);
    }
    char *text = rows && !rc ? malloc(bytes) : NULL;
    if (rows && !rc && !text) rc = cli_error("out of memory");
    if (text) {
        qsort(rows, (size_t)n, sizeof *rows, by_key);
        size_t at = 0;
        memcpy(text, header, sizeof header);
        at = sizeof header - 1;
        for (long i = 0; i < n; i++) {
            size_t len = strlen(rows[i].line);
            memcpy(text + at, rows[i].line, len + 1);
            at += len;
        }
        /* whole or not at all: an interruption here leaves the appended
         * manifest, which says the same */
        rc = cli_write_text(mf->path, text);
    }
    free(text);
    free(rows);
    for (long s = 0; s < n_slots; s++) free(mf->rows[s]);
    for (long s = 0; s < mf->n_other; s++) free(mf->other[s]);
    free(mf->rows);
    free(mf->other);
    free(mf->path);
    memset(mf, 0, sizeof *mf);
    mf->fd = -1;
    return rc;
}
