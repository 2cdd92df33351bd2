/*
 * Issue #14, items 4 and 8 (the ONNX part), in the library:
 *
 * 1. Every writer (xcnn_npy_write, xcnn_heatmap_png, xcnn_image_write_png,
 *    xcnn_image_write_pnm, xcnn_png_write_gray, xcnn_model_save_onnx)
 *    writes a temporary file beside its target and renames it into place
 *    only when complete: on a full disk (a 64 KiB tmpfs, filled; SKIP where
 *    mount is not permitted) the old file stays byte for byte, no
 *    temporary file is left, and the message names the path and "No
 *    space left on device". /dev/full, a missing directory, a directory
 *    as the target and a read-only file system give a message with the
 *    cause. A replaced file keeps its permissions, and a symbolic link
 *    stays a link to the file written.
 * 2. Every ONNX attribute is checked against its op's list at load:
 *    unknown, mistyped, repeated and out-of-opset attributes are refused
 *    with the node, op and attribute named; attributes that cannot change
 *    the result (Dropout's ratio, MaxPool's storage_order) are accepted and
 *    listed by xcnn_model_warning. Every shipped model still loads, with
 *    no warning.
 *
 * `test_reliability_files --write-fixtures DIR` writes the two models
 * tests/test_reliability_files.sh uses (tests/data/attrs/).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../include/xcnn.h"
#include "../include/xcnn_image.h"
#include "../include/xcnn_train.h"
#include "check.h"
#include "onnx_builder.h"

/* ---- files ------------------------------------------------------------- */

static char dir[64];

static char *path_in(const char *d, const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", d, name);
    return buf[k];
}

/* The whole file, malloc'ed (NULL if it cannot be read). */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *p = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4096;
            unsigned char *q = realloc(p, cap);
            if (!q) break;
            p = q;
        }
        size_t got = fread(p + *n, 1, cap - *n, f);
        if (!got) break;
        *n += got;
    }
    fclose(f);
    return p;
}

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Entries of d whose name contains ".tmp." (temporary files left behind). */
static int temp_files(const char *d)
{
    DIR *dp = opendir(d);
    int count = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp)))
        if (strstr(e->d_name, ".tmp.")) count++;
    if (dp) closedir(dp);
    return count;
}

static int mounted(const char *d, const char *opts)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o %s tmpfs '%s' 2>/dev/null", opts, d);
    return system(cmd) == 0;
}

static void unmount(const char *d)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "umount '%s' 2>/dev/null", d);
    if (system(cmd) != 0) fprintf(stderr, "could not unmount %s\n", d);
}

/* Fill the file system of d until a write fails with ENOSPC. */
static int fill(const char *d)
{
    int fd = open(path_in(d, "filler"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 0;
    static char block[4096];
    int full = 0;
    for (int i = 0; i < 100000 && !full; i++)
        if (write(fd, block, sizeof block) < 0) full = errno == ENOSPC;
    for (int i = 0; i < 4096 && full; i++) /* the last partial page */
        if (write(fd, block, 1) < 0) break;
    close(fd);
    return full;
}

typedef struct writer {
    const char *name;
    xcnn_status (*write)(const char *path, char *err, size_t size);
} writer;

static float attr_data[3 * 40 * 40];

static xcnn_status w_npy(const char *path, char *err, size_t size)
{
    int64_t dims[4] = {1, 3, 40, 40};
    return xcnn_npy_write(path, attr_data, 4, dims, err, size);
}

static xcnn_status w_heatmap(const char *path, char *err, size_t size)
{
    return xcnn_heatmap_png(path, attr_data, 3, 40, 40, NULL, 0, 40, 40, err, size);
}

static unsigned char pixels[3 * 64 * 64];

static xcnn_status w_png(const char *path, char *err, size_t size)
{
    xcnn_image img = {64, 64, 3, pixels};
    return xcnn_image_write_png(path, &img, err, size);
}

static xcnn_status w_pnm(const char *path, char *err, size_t size)
{
    xcnn_image img = {64, 64, 3, pixels};
    return xcnn_image_write_pnm(path, &img, err, size);
}

static xcnn_status w_gray(const char *path, char *err, size_t size)
{
    return xcnn_png_write_gray(path, pixels, 64, 64, err, size);
}

static xcnn_model *fashion;

static xcnn_status w_onnx(const char *path, char *err, size_t size)
{
    if (!fashion) return XCNN_ERR_ARG;
    return xcnn_model_save_onnx(fashion, path, NULL, NULL, 0, err, size);
}

static const writer writers[] = {
    {"xcnn_npy_write", w_npy},           {"xcnn_heatmap_png", w_heatmap},
    {"xcnn_image_write_png", w_png},     {"xcnn_image_write_pnm", w_pnm},
    {"xcnn_png_write_gray", w_gray},     {"xcnn_model_save_onnx", w_onnx},
};
#define N_WRITERS (sizeof writers / sizeof writers[0])

static void test_full_disk(void)
{
    char d[96];
    snprintf(d, sizeof d, "%s/full", dir);
    mkdir(d, 0755);
    if (!mounted(d, "size=64k")) {
        check_skip("full disk: cannot mount a tmpfs here (not root?)");
        return;
    }
    static const char old[] = "the good file that was here before\n";
    for (size_t k = 0; k < N_WRITERS; k++) put_file(path_in(d, writers[k].name), old);
    if (!check(fill(d), "the 64 KiB tmpfs fills up (ENOSPC)")) {
        unmount(d);
        return;
    }
    for (size_t k = 0; k < N_WRITERS; k++) {
        const char *target = path_in(d, writers[k].name);
        char err[600] = "";
        xcnn_status st = writers[k].write(target, err, sizeof err);
        size_t n = 0;
        unsigned char *now = slurp(target, &n);
        int intact = now && n == sizeof old - 1 && !memcmp(now, old, n);
        free(now);
        check(st == XCNN_ERR_IO && strstr(err, "No space left on device") &&
                  strstr(err, target) && intact && temp_files(d) == 0,
              "full disk, %s: XCNN_ERR_IO (got %s), old file intact (%s), no temporary "
              "file left (%d), message \"%s\" names the path and the cause",
              writers[k].name, xcnn_status_name(st), intact ? "yes" : "no", temp_files(d), err);
    }
    unmount(d);
}

static void test_dev_full(void)
{
    char err[600] = "";
    xcnn_status st = w_npy("/dev/full", err, sizeof err);
    check(st == XCNN_ERR_IO && strstr(err, "'/dev/full': No space left on device"),
          "xcnn_npy_write to /dev/full: XCNN_ERR_IO, message \"%s\"", err);
    err[0] = 0;
    st = w_heatmap("/dev/full", err, sizeof err);
    check(st == XCNN_ERR_IO && strstr(err, "'/dev/full': No space left on device"),
          "xcnn_heatmap_png to /dev/full: message \"%s\"", err);
    check(w_npy("/dev/null", err, sizeof err) == XCNN_OK,
          "xcnn_npy_write to /dev/null (a device: written directly) succeeds");
}

static void test_bad_paths(void)
{
    for (size_t k = 0; k < N_WRITERS; k++) {
        char err[600] = "";
        const char *target = path_in(dir, "no_such_dir/out.file");
        xcnn_status st = writers[k].write(target, err, sizeof err);
        check(st == XCNN_ERR_IO && strstr(err, target) &&
                  strstr(err, "No such file or directory"),
              "%s into a missing directory: message \"%s\"", writers[k].name, err);
    }
    char err[600] = "";
    const char *sub = path_in(dir, "a_directory");
    mkdir(sub, 0755);
    xcnn_status st = w_npy(sub, err, sizeof err);
    check(st == XCNN_ERR_IO && strstr(err, sub) && strstr(err, "Is a directory"),
          "xcnn_npy_write onto a directory: message \"%s\"", err);

    /* An unwritable place: a read-only file system (root ignores the
     * permission bits), else a directory without write permission. */
    char ro[96];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    mkdir(ro, 0755);
    const char *why = NULL;
    int was_mounted = 0;
    if (geteuid() == 0) {
        was_mounted = mounted(ro, "ro,size=64k");
        if (was_mounted) why = "Read-only file system";
    } else if (chmod(ro, 0555) == 0) {
        why = "Permission denied";
    }
    if (!why) {
        check_skip("unwritable path: cannot mount a read-only tmpfs");
    } else {
        const char *target = path_in(ro, "out.npy");
        err[0] = 0;
        st = w_npy(target, err, sizeof err);
        check(st == XCNN_ERR_IO && strstr(err, target) && strstr(err, why),
              "xcnn_npy_write where it may not write: message \"%s\" (want \"%s\")", err, why);
    }
    if (was_mounted) unmount(ro);
    chmod(ro, 0755);
}

static void test_replace(void)
{
    /* A successful write replaces the old file completely. */
    const char *target = path_in(dir, "replace.npy");
    put_file(target, "an old and rather longer file than the new one will be............"
                     "................................................................."
                     "................................................................."
                     "................................................................."
                     ".................................................................");
    float v[3] = {1, 2, 3};
    int64_t d1[1] = {3};
    char err[600] = "";
    xcnn_status st = xcnn_npy_write(target, v, 1, d1, err, sizeof err);
    float *back = NULL;
    int nd = 0;
    int64_t dims[XCNN_MAX_DIMS];
    xcnn_status rs = xcnn_npy_read(target, &back, &nd, dims, err, sizeof err);
    check(st == XCNN_OK && rs == XCNN_OK && nd == 1 && dims[0] == 3 && back[2] == 3 &&
              temp_files(dir) == 0,
          "a write over a longer old file gives exactly the new file, no temporary left");
    free(back);

    /* Renaming a new file over the old one must not change what the user
     * set: a private file stays private, a link stays a link. */
    const char *priv = path_in(dir, "private.npy");
    put_file(priv, "x");
    chmod(priv, 0600);
    st = xcnn_npy_write(priv, v, 1, d1, err, sizeof err);
    struct stat sb = {0};
    int got = stat(priv, &sb) == 0;
    check(st == XCNN_OK && got && (sb.st_mode & 0777) == 0600,
          "a replaced 0600 file keeps its permissions (now %o)", (unsigned)(sb.st_mode & 0777));

    /* A file the user may not write is not replaced either (a rename would
     * ignore its permission bits). Root may write anything: not testable. */
    const char *locked = path_in(dir, "locked.npy");
    put_file(locked, "locked");
    chmod(locked, 0444);
    if (geteuid() == 0) {
        check_skip("a read-only file is not replaced: root may write it anyway");
    } else {
        err[0] = 0;
        st = xcnn_npy_write(locked, v, 1, d1, err, sizeof err);
        size_t n = 0;
        unsigned char *now = slurp(locked, &n);
        check(st == XCNN_ERR_IO && strstr(err, "Permission denied") && now && n == 6 &&
                  !memcmp(now, "locked", 6),
              "a read-only (0444) file is not replaced: message \"%s\"", err);
        free(now);
    }

    const char *real = path_in(dir, "real.npy"), *link = path_in(dir, "link.npy");
    put_file(real, "old");
    if (symlink("real.npy", link) != 0) {
        check_skip("symbolic link: cannot make one here");
        return;
    }
    st = xcnn_npy_write(link, v, 1, d1, err, sizeof err);
    rs = xcnn_npy_read(real, &back, &nd, dims, err, sizeof err);
    check(st == XCNN_OK && lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode) && rs == XCNN_OK &&
              back[0] == 1,
          "writing through a symbolic link replaces the file it names and keeps the link");
    free(back);
}

/* ---- ONNX attributes ----------------------------------------------------- */

static ob_buf vi(const char *name, int ndim, const int64_t *dims)
{
    return ob_value_info(name, 1, ndim, dims);
}

/* x (1x2x4x4) -> op (attrs) -> y; with a 2x2x3x3 weight W when conv. */
static ob_buf one_op(int opset, const char *op, ob_buf *attrs, int n_attrs)
{
    ob_buf g = ob_new();
    int64_t xd[4] = {1, 2, 4, 4};
    ob_graph_input(&g, vi("x", 4, xd));
    if (!strcmp(op, "Conv")) {
        int64_t wd[4] = {2, 2, 3, 3};
        float w[36];
        for (int i = 0; i < 36; i++) w[i] = 0.01f * (float)(i % 7);
        ob_graph_init(&g, ob_tensor_f("W", 4, wd, w));
        ob_graph_node(&g, ob_node(op, "the_node", IN("x", "W"), OUT("y"), attrs, n_attrs));
    } else {
        ob_graph_node(&g, ob_node(op, "the_node", IN("x"), OUT("y"), attrs, n_attrs));
    }
    ob_graph_output(&g, vi("y", 0, NULL));
    return ob_model(opset, &g);
}

static xcnn_status load(ob_buf m, xcnn_model **out, char *err, size_t size)
{
    err[0] = 0;
    xcnn_status st = xcnn_model_load_memory(m.p, m.n, NULL, out, err, size);
    ob_free(&m);
    return st;
}

static void expect_refused(const char *what, ob_buf m, xcnn_status want, const char *needle)
{
    xcnn_model *mod = NULL;
    char err[600];
    xcnn_status st = load(m, &mod, err, sizeof err);
    check(st == want && !mod && strstr(err, "the_node") && strstr(err, needle),
          "%s: refused with %s (want %s), message \"%s\" names the node and [%s]", what,
          xcnn_status_name(st), xcnn_status_name(want), err, needle);
    xcnn_model_free(mod);
}

/* Loads; returns the model (caller frees) or NULL after a failed check. */
static xcnn_model *expect_loaded(const char *what, ob_buf m)
{
    xcnn_model *mod = NULL;
    char err[600];
    xcnn_status st = load(m, &mod, err, sizeof err);
    check(st == XCNN_OK, "%s: loads (%s)", what, st ? err : "ok");
    return mod;
}

static ob_buf ignored_attrs_model(void)
{
    /* x -> Dropout(ratio) -> MaxPool(storage_order=1) -> y, opset 10. */
    ob_buf g = ob_new();
    int64_t xd[4] = {1, 2, 4, 4};
    ob_graph_input(&g, vi("x", 4, xd));
    ob_buf da[1] = {ob_attr_float("ratio", 0.5f)};
    ob_graph_node(&g, ob_node("Dropout", "drop", IN("x"), OUT("d"), da, 1));
    ob_buf pa[2] = {ob_attr_ints("kernel_shape", (int64_t[]){2, 2}, 2),
                    ob_attr_int("storage_order", 1)};
    ob_graph_node(&g, ob_node("MaxPool", "pool", IN("d"), OUT("y"), pa, 2));
    ob_graph_output(&g, vi("y", 0, NULL));
    return ob_model(10, &g);
}

static ob_buf unknown_attr_model(void)
{
    /* A Conv with "groups" for "group": read as group=1, it would compute
     * another function without a word. */
    ob_buf a[1] = {ob_attr_int("groups", 2)};
    return one_op(13, "Conv", a, 1);
}

static void test_unknown_attrs(void)
{
    ob_buf a[3];
    expect_refused("Conv with an unknown attribute 'groups'", unknown_attr_model(),
                   XCNN_ERR_UNSUPPORTED, "'groups'");
    a[0] = ob_attr_int("alpha", 1);
    expect_refused("Relu (no attributes) with 'alpha'", one_op(13, "Relu", a, 1),
                   XCNN_ERR_UNSUPPORTED, "'alpha'");
    a[0] = ob_attr_float("group", 2.0f);
    expect_refused("Conv group given as a float", one_op(13, "Conv", a, 1), XCNN_ERR_FORMAT,
                   "'group' is a float, expected an int");
    a[0] = ob_attr_int("group", 1);
    a[1] = ob_attr_int("group", 2);
    expect_refused("Conv with group given twice", one_op(13, "Conv", a, 2), XCNN_ERR_FORMAT,
                   "'group' is given twice");
    a[0] = ob_attr_float("min", 0.0f);
    expect_refused("Clip with a min attribute at opset 13 (min is an input there)",
                   one_op(13, "Clip", a, 1), XCNN_ERR_UNSUPPORTED, "'min'");
    {
        /* The pads input is what opset 13 reads; the attribute would be
         * dropped without a word. */
        ob_buf g = ob_new();
        int64_t xd[4] = {1, 2, 4, 4}, pd[1] = {8};
        ob_graph_input(&g, vi("x", 4, xd));
        ob_graph_init(&g, ob_tensor_i64("p", 1, pd, (int64_t[]){0, 0, 0, 0, 0, 0, 0, 0}));
        a[0] = ob_attr_ints("pads", (int64_t[]){0, 0, 1, 1, 0, 0, 1, 1}, 8);
        ob_graph_node(&g, ob_node("Pad", "the_node", IN("x", "p"), OUT("y"), a, 1));
        ob_graph_output(&g, vi("y", 0, NULL));
        expect_refused("Pad with a pads input and a pads attribute at opset 13",
                       ob_model(13, &g), XCNN_ERR_UNSUPPORTED, "'pads'");
    }
    {
        ob_buf g = ob_new();
        int64_t xd[2] = {1, 8}, wd[2] = {4, 8};
        float w[32] = {0};
        ob_graph_input(&g, vi("x", 2, xd));
        ob_graph_init(&g, ob_tensor_f("W", 2, wd, w));
        a[0] = ob_attr_int("transB", 1);
        a[1] = ob_attr_int("broadcast", 1);
        ob_graph_node(&g, ob_node("Gemm", "the_node", IN("x", "W"), OUT("y"), a, 2));
        ob_graph_output(&g, vi("y", 0, NULL));
        expect_refused("Gemm with opset 6's 'broadcast'", ob_model(13, &g),
                       XCNN_ERR_UNSUPPORTED, "'broadcast'");
    }
    a[0] = ob_attr_int("count_include_pad", 1);
    a[1] = ob_attr_ints("kernel_shape", (int64_t[]){2, 2}, 2);
    expect_refused("MaxPool with AveragePool's count_include_pad", one_op(13, "MaxPool", a, 2),
                   XCNN_ERR_UNSUPPORTED, "'count_include_pad'");
    a[0] = ob_attr_ints("kernel_shape", (int64_t[]){2, 2}, 2);
    a[1] = ob_attr_int("storage_order", 2);
    expect_refused("MaxPool storage_order 2", one_op(13, "MaxPool", a, 2), XCNN_ERR_FORMAT,
                   "storage_order");
    a[0] = ob_attr_int("training_mode", 1);
    a[1] = ob_attr_float("epsilon", 1e-5f);
    {
        ob_buf g = ob_new();
        int64_t xd[4] = {1, 2, 4, 4}, cd[1] = {2};
        float one[2] = {1, 1}, zero[2] = {0, 0};
        ob_graph_input(&g, vi("x", 4, xd));
        ob_graph_init(&g, ob_tensor_f("s", 1, cd, one));
        ob_graph_init(&g, ob_tensor_f("b", 1, cd, zero));
        ob_graph_init(&g, ob_tensor_f("m", 1, cd, zero));
        ob_graph_init(&g, ob_tensor_f("v", 1, cd, one));
        ob_graph_node(&g, ob_node("BatchNormalization", "the_node", IN("x", "s", "b", "m", "v"),
                                  OUT("y"), a, 2));
        ob_graph_output(&g, vi("y", 0, NULL));
        expect_refused("BatchNormalization training_mode=1", ob_model(15, &g),
                       XCNN_ERR_UNSUPPORTED, "training_mode");
    }

    /* Nodes the loader folds are checked too. */
    {
        ob_buf g = ob_new();
        int64_t xd[4] = {1, 2, 4, 4}, sd[1] = {2};
        ob_graph_input(&g, vi("x", 4, xd));
        a[0] = ob_attr_int("strat", 1); /* a typo of 'start' */
        ob_graph_node(&g, ob_node("Shape", "the_node", IN("x"), OUT("s"), a, 1));
        ob_graph_init(&g, ob_tensor_i64("shape", 1, sd, (int64_t[]){1, 32}));
        ob_graph_node(&g, ob_node("Reshape", "r", IN("x", "shape"), OUT("y"), NULL, 0));
        ob_graph_output(&g, vi("y", 0, NULL));
        expect_refused("a folded Shape node with an unknown attribute", ob_model(15, &g),
                       XCNN_ERR_UNSUPPORTED, "'strat'");
    }
    {
        ob_buf g = ob_new();
        int64_t xd[4] = {1, 2, 4, 4}, cd[1] = {2};
        ob_graph_input(&g, vi("x", 4, xd));
        ob_graph_init(&g, ob_tensor_i64("c", 1, cd, (int64_t[]){1, 32}));
        a[0] = ob_attr_ints("axes", (int64_t[]){0}, 1);
        ob_graph_node(&g, ob_node("Unsqueeze", "the_node", IN("c"), OUT("u"), a, 1));
        ob_graph_node(&g, ob_node("Relu", "r", IN("x"), OUT("y"), NULL, 0));
        ob_graph_output(&g, vi("y", 0, NULL));
        expect_refused("Unsqueeze with an axes attribute at opset 13 (an input there)",
                       ob_model(13, &g), XCNN_ERR_UNSUPPORTED, "'axes'");
    }
    {
        ob_buf g = ob_new();
        int64_t xd[4] = {1, 2, 4, 4}, cd[1] = {1};
        ob_graph_input(&g, vi("x", 4, xd));
        a[0] = ob_attr_tensor("value", ob_tensor_f("", 1, cd, (float[]){2.0f}));
        a[1] = ob_attr_int("sparse", 1);
        ob_graph_node(&g, ob_node("Constant", "the_node", NONE, OUT("k"), a, 2));
        ob_graph_node(&g, ob_node("Mul", "mul", IN("x", "k"), OUT("y"), NULL, 0));
        ob_graph_output(&g, vi("y", 0, NULL));
        expect_refused("a Constant node with an unknown attribute", ob_model(13, &g),
                       XCNN_ERR_UNSUPPORTED, "'sparse'");
    }
}

static void test_accepted_attrs(void)
{
    ob_buf a[2];
    xcnn_model *m = expect_loaded("Dropout ratio + MaxPool storage_order=1 (opset 10)",
                                  ignored_attrs_model());
    const char *w0 = xcnn_model_warning(m, 0), *w1 = xcnn_model_warning(m, 1);
    check(w0 && strstr(w0, "node 'drop' (Dropout): attribute 'ratio' ignored") && w1 &&
              strstr(w1, "node 'pool' (MaxPool): attribute 'storage_order' ignored") &&
              !xcnn_model_warning(m, 2) && !xcnn_model_warning(m, -1),
          "xcnn_model_warning lists exactly the two ignored attributes (\"%s\", \"%s\")",
          w0 ? w0 : "(none)", w1 ? w1 : "(none)");
    check(!xcnn_model_warning(NULL, 0), "xcnn_model_warning(NULL, 0) is NULL");
    xcnn_model_free(m);

    /* Clip's bounds as attributes where they are attributes (opset 10),
     * and applied. */
    a[0] = ob_attr_float("min", -0.5f);
    a[1] = ob_attr_float("max", 0.25f);
    m = expect_loaded("Clip min/max attributes at opset 10", one_op(10, "Clip", a, 2));
    if (m) {
        float x[32], y[32];
        for (int i = 0; i < 32; i++) x[i] = (float)(i - 16) / 8;
        int ok = xcnn_forward(m, x, 1, y) == XCNN_OK;
        for (int i = 0; i < 32 && ok; i++)
            ok = y[i] == (x[i] < -0.5f ? -0.5f : x[i] > 0.25f ? 0.25f : x[i]);
        check(ok && !xcnn_model_warning(m, 0), "Clip opset 10 applies its attributes, no "
                                               "warning");
        xcnn_model_free(m);
    }
}

static void test_shipped_models(void)
{
    static const char *const paths[] = {
        "data/fashion_resnet.onnx",           "tests/fixtures/captum_toy/model.onnx",
        "tests/fixtures/plaincnn/model.onnx", "tests/fixtures/rescnn_bn/model.onnx",
        "tests/fixtures/resnet_narrow/model.onnx"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        xcnn_model *m = NULL;
        char err[600] = "";
        xcnn_status st = xcnn_model_load(paths[i], NULL, &m, err, sizeof err);
        check(st == XCNN_OK && !xcnn_model_warning(m, 0),
              "%s loads with every attribute known and none ignored (%s%s%s)", paths[i],
              st ? err : "ok", m && xcnn_model_warning(m, 0) ? ", warning: " : "",
              m && xcnn_model_warning(m, 0) ? xcnn_model_warning(m, 0) : "");
        xcnn_model_free(m);
    }
}

static int write_fixtures(const char *d)
{
    ob_buf m[2] = {ignored_attrs_model(), unknown_attr_model()};
    const char *names[2] = {"ignored_attrs.onnx", "unknown_attr.onnx"};
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(path_in(d, names[i]), "wb");
        if (!f || fwrite(m[i].p, 1, m[i].n, f) != m[i].n) rc = 1;
        if (f && fclose(f)) rc = 1;
        ob_free(&m[i]);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-fixtures")) return write_fixtures(argv[2]);
    snprintf(dir, sizeof dir, "/tmp/xcnn_files_XXXXXX");
    if (!mkdtemp(dir)) {
        check(0, "cannot make a temporary directory");
        return check_summary();
    }
    for (size_t i = 0; i < sizeof attr_data / sizeof attr_data[0]; i++)
        attr_data[i] = (float)(i % 17) - 8;
    for (size_t i = 0; i < sizeof pixels; i++) pixels[i] = (unsigned char)(i * 7);
    char err[600];
    if (xcnn_model_load("data/fashion_resnet.onnx", NULL, &fashion, err, sizeof err))
        check(0, "load data/fashion_resnet.onnx: %s", err);

    test_full_disk();
    test_dev_full();
    test_bad_paths();
    test_replace();
    test_unknown_attrs();
    test_accepted_attrs();
    test_shipped_models();

    xcnn_model_free(fashion);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
