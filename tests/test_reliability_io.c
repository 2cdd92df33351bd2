/*
 * Reliability of the io layer (issue #14, items 1, 2, 6, 7 and 8): every
 * size computed from a file, a spec or the model is checked against the
 * image caps before anything is allocated; spec values that would make
 * the input non-finite are refused when parsed; every public function of
 * xcnn_image.h and the .npy / heatmap calls of xcnn.h checks every
 * argument and writes a message on every failure (never a stale one);
 * .npy headers are read as numpy reads them, no more leniently.
 *
 * Each check names the defect it guards against. Messages are checked to
 * be one line that names the user's mistake (the flag, the key, the size).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "check.h"
#include "../include/xcnn.h"
#include "../include/xcnn_image.h"
#include "../include/xcnn_train.h"

#define STALE "stale message from an earlier call"

/* The address-space test limits the process to 160 MiB more than it has:
 * not under sanitizers, which reserve terabytes of shadow memory. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RLIMIT_TEST 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define RLIMIT_TEST 0
#endif
#endif
#ifndef RLIMIT_TEST
#define RLIMIT_TEST 1
#endif

static int one_line(const char *msg)
{
    return msg[0] != 0 && strchr(msg, '\n') == NULL && strlen(msg) < 512;
}

/* A refusal with status want whose message is fresh, one line, and holds
 * every one of the (up to two) words given. */
static int refused(xcnn_status st, xcnn_status want, const char *err, const char *w1,
                   const char *w2)
{
    return st == want && one_line(err) && strcmp(err, STALE) != 0 && (!w1 || strstr(err, w1)) &&
           (!w2 || strstr(err, w2));
}

static void stale(char *err, size_t n)
{
    snprintf(err, n, "%s", STALE);
}

/* --- 1, 2: sizes from a spec, an image or a model ----------------------- */

static void test_resize_caps(void)
{
    char err[600];
    const char *png = test_tmp_path("wide.png");
    /* The reported crash: a 16384x1 gray PNG (under 100 bytes) with
     * "gray;resize=384" asked for a 6291456x384 plane indexed in int. */
    unsigned char *row = calloc(16384, 1);
    xcnn_image w = {16384, 1, 1, row};
    xcnn_status st = xcnn_image_write_png(png, &w, err, sizeof err);
    free(row);
    xcnn_image img;
    if (!check(st == XCNN_OK && xcnn_image_read(png, &img, err, sizeof err) == XCNN_OK,
               "a 16384x1 gray PNG written and read back"))
        return;
    FILE *f = fopen(png, "rb");
    long bytes = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) bytes = ftell(f);
    if (f) fclose(f);
    remove(png);
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    float out[28 * 28];
    check(xcnn_preprocess_parse("gray;resize=384", &p, err, sizeof err) == XCNN_OK,
          "'gray;resize=384' parses (sizes that depend on the image are checked later)");
    stale(err, sizeof err);
    st = xcnn_image_to_tensor(&img, &p, 1, 28, 28, out, err, sizeof err);
    check(refused(st, XCNN_ERR_LIMIT, err, "resize=384", "6291456x384"),
          "16384x1 image (%ld-byte PNG) with resize=384: refused before allocating, naming "
          "the flag and the size: %s", bytes, err);

    /* Unbounded memory: resize=65 on a 1x16384 image wants 65x1064960. */
    xcnn_image tall = {1, 16384, 1, calloc(16384, 1)};
    xcnn_preprocess_init(&p);
    p.resize_short = 65;
    stale(err, sizeof err);
    st = xcnn_image_to_tensor(&tall, &p, 1, 28, 28, out, err, sizeof err);
    check(refused(st, XCNN_ERR_LIMIT, err, "resize=65", "65x1064960"),
          "1x16384 image with resize=65 (0.3 GB of floats): refused: %s", err);
    free(tall.pixels);

    /* size= and crop= whose product is over the pixel cap. */
    static const char *const big[] = {"size=16384x16384", "crop=16384x16384", "size=8193x8193"};
    for (int k = 0; k < 3; k++) {
        xcnn_preprocess_init(&p);
        stale(err, sizeof err);
        st = xcnn_preprocess_parse(big[k], &p, err, sizeof err);
        check(refused(st, XCNN_ERR_ARG, err, big[k], "67108864") && p.resize_h == 0 &&
                  p.crop_h == 0,
              "'%s' (over 64 Mi pixels) refused when parsed: %s", big[k], err);
    }
    xcnn_preprocess_init(&p);
    p.resize_h = p.resize_w = 16384;
    stale(err, sizeof err);
    st = xcnn_image_to_tensor(&img, &p, 1, 28, 28, out, err, sizeof err);
    check(refused(st, XCNN_ERR_LIMIT, err, "size=16384x16384", NULL),
          "the same set in the struct by an API caller: refused: %s", err);

    /* The model's size: 16384x16384 is within the side cap, over the
     * pixel cap (out is small: nothing may be written to it). */
    xcnn_preprocess_init(&p);
    stale(err, sizeof err);
    st = xcnn_image_to_tensor(&img, &p, 1, 16384, 16384, out, err, sizeof err);
    check(refused(st, XCNN_ERR_LIMIT, err, "16384x16384", "model"),
          "a model input of 16384x16384 refused before anything is allocated: %s", err);
    xcnn_image_free(&img);
}

#if RLIMIT_TEST
/* The resize and the centre crop are computed as one window: a large
 * resize followed by a crop to the model allocates only the crop. */
static int big_resize_in_little_memory(void)
{
    xcnn_image img = {2, 2, 3, (unsigned char *)"\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0"};
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    char err[600];
    float out[3 * 28 * 28];
    if (xcnn_preprocess_parse("rgb;size=8192x8192", &p, err, sizeof err) != XCNN_OK) return 2;
    /* 3 x 8192 x 8192 floats would be 768 MiB */
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f || fscanf(f, "%lu", &pages) != 1) {
        if (f) fclose(f);
        return 3;
    }
    fclose(f);
    rlim_t now = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
    struct rlimit lim = {now + ((rlim_t)160 << 20), now + ((rlim_t)160 << 20)};
    if (setrlimit(RLIMIT_AS, &lim) != 0) return 3;
    return xcnn_image_to_tensor(&img, &p, 3, 28, 28, out, err, sizeof err) == XCNN_OK ? 0 : 1;
}
#endif

static void test_window_resize(void)
{
#if !RLIMIT_TEST
    check_skip("size=8192x8192 under a 160 MiB address-space limit (sanitizers reserve more)");
#else
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(big_resize_in_little_memory());
    int status = 0;
    int rc = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
                 ? WEXITSTATUS(status) : -1;
    if (rc == 3) check_skip("no /proc/self/statm or setrlimit: address-space test not run");
    else check(rc == 0, "RGB 2x2 image, size=8192x8192 then the centre crop to 28x28: done "
               "within 160 MiB (only the crop is computed; exit %d)", rc);
#endif

    /* The window gives the values of the whole resize, cropped: compare
     * with a whole resize (model of the resize's size) cropped here. */
    enum { IH = 13, IW = 17, RH = 37, RW = 45, CH = 20, CW = 24 };
    unsigned char px[IH * IW * 3];
    for (int i = 0; i < IH * IW * 3; i++) px[i] = (unsigned char)(i * 37 + (i >> 3));
    xcnn_image img = {IW, IH, 3, px};
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    char err[600];
    static float whole[3 * RH * RW], crop[3 * CH * CW];
    int ok = xcnn_preprocess_parse("rgb;size=37x45;mean=0.1,0.2,0.3;std=0.5,0.25,2", &p, err,
                                   sizeof err) == XCNN_OK &&
             xcnn_image_to_tensor(&img, &p, 3, RH, RW, whole, err, sizeof err) == XCNN_OK &&
             xcnn_image_to_tensor(&img, &p, 3, CH, CW, crop, err, sizeof err) == XCNN_OK;
    int top = (RH - CH + 1) / 2, left = (RW - CW + 1) / 2; /* lround of .5: away from 0 */
    for (int c = 0; ok && c < 3; c++)
        for (int y = 0; y < CH; y++)
            for (int x = 0; x < CW; x++)
                ok &= memcmp(&crop[(c * CH + y) * CW + x],
                             &whole[(c * RH + y + top) * RW + x + left], sizeof(float)) == 0;
    check(ok, "resize 13x17 -> 37x45 then crop 20x24: the window equals the whole resize "
          "cropped, bit for bit");
}

/* --- 7: values that make the tensor non-finite --------------------------- */

static void test_values(void)
{
    static const struct {
        const char *spec, *word;
    } bad[] = {
        {"scale=1e39", "scale"},           /* a finite double, an infinite float */
        {"std=1e-45", "std"},              /* subnormal: 1/255 / 1.4e-45 = inf */
        {"std=1e-40", "std"},              /* subnormal */
        {"std=1e-50", "std"},              /* 0 as a float */
        {"std=0", "std"},
        {"std=0.5,0,0.5", "std"},
        {"mean=1e39", "mean"},
        {"mean=nan", "mean"},
        {"scale=inf", "scale"},
        {"scale=1;std=1e-37", "std=1e-37"}, /* fine alone, 255 / 1e-37 overflows */
        {"scale=3e38", "scale=3e+38"},      /* 256 * 3e38 overflows */
        {"resize=-3", "resize"},
        {"resize=0", "resize"},
        {"size=-2x5", "size"},
        {"crop=5x-2", "crop"},
        {"resize=16385", "resize"},
        {"gray=1", "gray=1"},
    };
    char err[600];
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        xcnn_preprocess p, before;
        xcnn_preprocess_init(&p);
        before = p;
        stale(err, sizeof err);
        xcnn_status st = xcnn_preprocess_parse(bad[k].spec, &p, err, sizeof err);
        check(refused(st, XCNN_ERR_ARG, err, bad[k].word, NULL) && !memcmp(&p, &before, sizeof p),
              "'%s' refused when parsed, naming %s: %s", bad[k].spec, bad[k].word, err);
    }
    /* A refused spec leaves *p as it was, not half applied. */
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    stale(err, sizeof err);
    xcnn_status st = xcnn_preprocess_parse("gray;resize=64;scale=abc", &p, err, sizeof err);
    check(refused(st, XCNN_ERR_ARG, err, "scale=abc", NULL) && p.channels == 0 &&
              p.resize_short == 0,
          "a refused spec changes nothing (channels %d, resize %d): %s", p.channels,
          p.resize_short, err);
    /* An item longer than the parser's buffer was cut short, exponent and
     * all: scale=1.000...0e50 read as 1. */
    char spec[200] = "scale=1.";
    memset(spec + 8, '0', 150);
    strcpy(spec + 158, "e50");
    stale(err, sizeof err);
    st = xcnn_preprocess_parse(spec, &p, err, sizeof err);
    check(refused(st, XCNN_ERR_ARG, err, "longer", NULL) && p.scale == 1.0f / 255.0f,
          "an over-long item is refused, not cut short: %s", err);
    /* The model's metadata says resize=, --preprocess says size=: the
     * later one wins (both set made resize= win over the override). */
    xcnn_preprocess_init(&p);
    st = xcnn_preprocess_parse("gray;resize=256", &p, err, sizeof err);
    if (!st) st = xcnn_preprocess_parse("size=64x48", &p, err, sizeof err);
    check(st == XCNN_OK && p.resize_short == 0 && p.resize_h == 64 && p.resize_w == 48,
          "'size=64x48' over 'resize=256' replaces it (resize %d, size %dx%d)", p.resize_short,
          p.resize_h, p.resize_w);
    st = xcnn_preprocess_parse("resize=32", &p, err, sizeof err);
    check(st == XCNN_OK && p.resize_short == 32 && p.resize_h == 0,
          "and 'resize=32' over 'size=' replaces that");
    /* Still accepted: the documented recipes. */
    xcnn_preprocess_init(&p);
    st = xcnn_preprocess_parse("rgb;resize=256;crop=224x224;mean=0.485,0.456,0.406;"
                               "std=0.229,0.224,0.225", &p, err, sizeof err);
    check(st == XCNN_OK && p.crop_h == 224 && p.std[2] == 0.225f, "the ImageNet recipe parses");
    st = xcnn_preprocess_parse("gray;scale=0.00392156862745098;mean=0.2860;std=0.3530;;size=28x28",
                               &p, err, sizeof err);
    check(st == XCNN_OK && p.channels == 1 && p.resize_h == 28, "the Fashion-MNIST recipe parses");
    check(xcnn_preprocess_parse("gray", NULL, err, sizeof err) == XCNN_ERR_ARG && one_line(err),
          "p NULL refused with a message: %s", err);
    xcnn_preprocess_init(NULL); /* must not crash */

    /* The struct set by an API caller: checked by xcnn_image_to_tensor. */
    unsigned char px[4 * 4] = {0, 255, 7, 9, 1, 2, 3, 4, 5, 6, 7, 8, 200, 100, 50, 25};
    xcnn_image img = {4, 4, 1, px};
    float out[4 * 4];
    static const struct {
        const char *what, *word;
        int field;
        float v;
    } fields[] = {
        {"std 0", "std", 0, 0.0f},           {"std subnormal", "std", 0, 1e-40f},
        {"scale inf", "scale", 1, INFINITY}, {"mean NaN", "mean", 2, NAN},
        {"resize -5", "resize", 3, -5},      {"crop -3", "crop", 4, -3},
        {"channels 2", "channels", 5, 2},    {"std 1e-30, scale 1e10", "std", 6, 0},
    };
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        xcnn_preprocess_init(&p);
        switch (fields[k].field) {
        case 0: p.std[0] = fields[k].v; break;
        case 1: p.scale = fields[k].v; break;
        case 2: p.mean[0] = fields[k].v; break;
        case 3: p.resize_short = (int)fields[k].v; break;
        case 4: p.crop_h = p.crop_w = (int)fields[k].v; break;
        case 5: p.channels = (int)fields[k].v; break;
        default: p.std[0] = 1e-30f; p.scale = 1e10f;
        }
        stale(err, sizeof err);
        st = xcnn_image_to_tensor(&img, &p, 1, 4, 4, out, err, sizeof err);
        check(refused(st, XCNN_ERR_ARG, err, fields[k].word, NULL),
              "image to tensor with %s set in the struct refused: %s", fields[k].what, err);
    }
}

/* --- 6: argument checks of xcnn_image.h ---------------------------------- */

static void test_image_args(void)
{
    char err[600];
    unsigned char px[12] = {0};
    float out[16];
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    static const struct {
        int w, h, c, null_pixels;
    } imgs[] = {{0, 4, 1, 0}, {4, -1, 1, 0}, {2, 2, 0, 0}, {2, 2, 2, 0}, {2, 2, 5, 0},
                {2, 2, 1, 1}};
    for (size_t k = 0; k < sizeof imgs / sizeof imgs[0]; k++) {
        xcnn_image img = {imgs[k].w, imgs[k].h, imgs[k].c, imgs[k].null_pixels ? NULL : px};
        stale(err, sizeof err);
        xcnn_status st = xcnn_image_to_tensor(&img, &p, 1, 4, 4, out, err, sizeof err);
        check(refused(st, XCNN_ERR_ARG, err, "image", NULL),
              "image to tensor: a %dx%d image of %d channels%s refused: %s", imgs[k].w,
              imgs[k].h, imgs[k].c, imgs[k].null_pixels ? ", pixels NULL" : "", err);
    }
    xcnn_image ok_img = {2, 2, 3, px};
    stale(err, sizeof err);
    check(refused(xcnn_image_to_tensor(NULL, &p, 1, 4, 4, out, err, sizeof err), XCNN_ERR_ARG,
                  err, "img", NULL) &&
              (stale(err, sizeof err),
               refused(xcnn_image_to_tensor(&ok_img, NULL, 1, 4, 4, out, err, sizeof err),
                       XCNN_ERR_ARG, err, "p", NULL)) &&
              (stale(err, sizeof err),
               refused(xcnn_image_to_tensor(&ok_img, &p, 1, 4, 4, NULL, err, sizeof err),
                       XCNN_ERR_ARG, err, "out", NULL)),
          "image to tensor: img, p or out NULL refused with a message naming it");
    stale(err, sizeof err);
    check(refused(xcnn_image_to_tensor(&ok_img, &p, 2, 4, 4, out, err, sizeof err), XCNN_ERR_ARG,
                  err, "channels", NULL) &&
              (stale(err, sizeof err),
               refused(xcnn_image_to_tensor(&ok_img, &p, 1, 0, 4, out, err, sizeof err),
                       XCNN_ERR_ARG, err, "model", NULL)),
          "image to tensor: a model of 2 channels or 0 rows refused: %s", err);
    /* No error buffer at all: refusals still just return. */
    check(xcnn_image_to_tensor(NULL, NULL, 0, 0, 0, NULL, NULL, 0) == XCNN_ERR_ARG,
          "image to tensor with every argument NULL or 0 and no error buffer");

    /* Writers: sizes over the caps refused before a pixel is read (px is
     * 12 bytes: reading 16384x16384 of it would crash). */
    const char *path = test_tmp_path("w.img");
    xcnn_image huge = {16384, 16384, 1, px};
    stale(err, sizeof err);
    check(refused(xcnn_image_write_png(path, &huge, err, sizeof err), XCNN_ERR_LIMIT, err,
                  "16384x16384", NULL),
          "PNG writer: 16384x16384 (over 64 Mi pixels) refused: %s", err);
    stale(err, sizeof err);
    check(refused(xcnn_image_write_pnm(path, &huge, err, sizeof err), XCNN_ERR_LIMIT, err,
                  "16384x16384", NULL),
          "PNM writer: 16384x16384 refused: %s", err);
    stale(err, sizeof err);
    check(refused(xcnn_png_write_gray(path, px, 16384, 16384, err, sizeof err), XCNN_ERR_LIMIT,
                  err, "16384x16384", NULL),
          "gray PNG writer: 16384x16384 refused: %s", err);
    xcnn_image two = {2, 2, 2, px};
    stale(err, sizeof err);
    check(refused(xcnn_image_write_png(path, &two, err, sizeof err), XCNN_ERR_ARG, err,
                  "channels", NULL) &&
              (stale(err, sizeof err),
               refused(xcnn_image_write_png(NULL, &ok_img, err, sizeof err), XCNN_ERR_ARG, err,
                       "NULL", NULL)) &&
              (stale(err, sizeof err),
               refused(xcnn_image_write_pnm(path, NULL, err, sizeof err), XCNN_ERR_ARG, err,
                       "NULL", NULL)),
          "image writers: 2 channels, NULL path or image refused with a message");
    stale(err, sizeof err);
    xcnn_image img;
    check(refused(xcnn_image_read(NULL, &img, err, sizeof err), XCNN_ERR_ARG, err, "NULL", NULL) &&
              (stale(err, sizeof err),
               refused(xcnn_image_read_memory(NULL, 5, "x", &img, err, sizeof err), XCNN_ERR_ARG,
                       err, "NULL", NULL)),
          "image readers: NULL path or data refused with a message");
    xcnn_idx idx;
    stale(err, sizeof err);
    check(refused(xcnn_idx_read(NULL, &idx, err, sizeof err), XCNN_ERR_ARG, err, "NULL", NULL),
          "idx reader: NULL path refused with a message");
    xcnn_image_free(NULL);
    xcnn_idx_free(NULL);
    remove(path);
}

/* --- 6: .npy writer and reader arguments ------------------------------- */

static void test_npy_args(void)
{
    const char *path = test_tmp_path("args.npy");
    char err[600];
    float v[6] = {1, 2, 3, 4, 5, 6};
    int64_t neg[2] = {2, -1}, ok2[2] = {2, 3}, huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    int64_t over[2] = {(int64_t)1 << 15, (int64_t)1 << 14}; /* 2^29 elements */
    stale(err, sizeof err);
    check(refused(xcnn_npy_write(path, v, 2, neg, err, sizeof err), XCNN_ERR_ARG, err,
                  "dimension 1 is -1", NULL),
          "npy write: a negative dimension refused (it read past the caller's data): %s", err);
    stale(err, sizeof err);
    check(refused(xcnn_npy_write(path, v, 2, NULL, err, sizeof err), XCNN_ERR_ARG, err, "dims",
                  NULL),
          "npy write: dims NULL refused (it was dereferenced): %s", err);
    stale(err, sizeof err);
    check(refused(xcnn_npy_write(path, NULL, 0, NULL, err, sizeof err), XCNN_ERR_ARG, err,
                  "data", NULL),
          "npy write: a 0-d array (one element) with data NULL refused: %s", err);
    stale(err, sizeof err);
    check(refused(xcnn_npy_write(path, NULL, 2, ok2, err, sizeof err), XCNN_ERR_ARG, err, "data",
                  NULL),
          "npy write: data NULL for 6 elements refused: %s", err);
    stale(err, sizeof err);
    check(refused(xcnn_npy_write(path, v, 9, ok2, err, sizeof err), XCNN_ERR_ARG, err, "ndim",
                  NULL) &&
              (stale(err, sizeof err),
               refused(xcnn_npy_write(path, v, -1, ok2, err, sizeof err), XCNN_ERR_ARG, err,
                       "ndim", NULL)),
          "npy write: ndim 9 and -1 refused with a message (the buffer was left stale): %s",
          err);
    stale(err, sizeof err);
    check(refused(xcnn_npy_write(path, v, 2, huge, err, sizeof err), XCNN_ERR_LIMIT, err,
                  "elements", NULL),
          "npy write: 2^40 x 2^40 (a count that wraps to 0) refused: %s", err);
    stale(err, sizeof err);
    check(refused(xcnn_npy_write(path, v, 2, over, err, sizeof err), XCNN_ERR_LIMIT, err,
                  "elements", NULL),
          "npy write: 2^29 elements, more than the reader takes, refused: %s", err);
    stale(err, sizeof err);
    check(refused(xcnn_npy_write(NULL, v, 2, ok2, err, sizeof err), XCNN_ERR_ARG, err, "path",
                  NULL),
          "npy write: path NULL refused with a message: %s", err);
    check(xcnn_npy_write(NULL, NULL, -1, NULL, NULL, 0) == XCNN_ERR_ARG,
          "npy write: no error buffer, still just a status");

    /* Empty arrays are valid numpy arrays: written and read back. */
    int64_t empty[2] = {0, 3};
    float *d = NULL;
    int nd = -1;
    int64_t dims[XCNN_MAX_DIMS];
    xcnn_status st = xcnn_npy_write(path, NULL, 2, empty, err, sizeof err);
    if (!st) st = xcnn_npy_read(path, &d, &nd, dims, err, sizeof err);
    check(st == XCNN_OK && nd == 2 && dims[0] == 0 && dims[1] == 3,
          "npy: an empty (0, 3) array with data NULL round-trips (%s)", st ? err : "ok");
    free(d);
    d = NULL;
    st = xcnn_npy_write(path, v + 4, 0, NULL, err, sizeof err);
    if (!st) st = xcnn_npy_read(path, &d, &nd, dims, err, sizeof err);
    check(st == XCNN_OK && nd == 0 && d && d[0] == 5.0f, "npy: a 0-d array round-trips");
    free(d);

    stale(err, sizeof err);
    check(refused(xcnn_npy_read(path, NULL, &nd, dims, err, sizeof err), XCNN_ERR_ARG, err,
                  "data", NULL) &&
              (stale(err, sizeof err),
               refused(xcnn_npy_read(NULL, &d, &nd, dims, err, sizeof err), XCNN_ERR_ARG, err,
                       "path", NULL)) &&
              (stale(err, sizeof err),
               refused(xcnn_npy_read(path, &d, NULL, dims, err, sizeof err), XCNN_ERR_ARG, err,
                       "ndim", NULL)) &&
              (stale(err, sizeof err),
               refused(xcnn_npy_read(path, &d, &nd, NULL, err, sizeof err), XCNN_ERR_ARG, err,
                       "dims", NULL)),
          "npy read: each NULL argument refused with a message naming it (there was none)");
    remove(path);
}

/* --- 8: .npy headers as numpy reads them -------------------------------- */

static const char *npy_path;

/* A v1 (or v2/v3) .npy of header hdr and n zero floats. */
static xcnn_status read_header(int version, const char *hdr, size_t n, char *err, size_t es,
                               int *nd, int64_t dims[XCNN_MAX_DIMS])
{
    FILE *f = fopen(npy_path, "wb");
    size_t hl = strlen(hdr);
    unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)version, 0,
                             (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8), 0, 0};
    fwrite(pre, 1, version == 1 ? 10 : 12, f);
    fwrite(hdr, 1, hl, f);
    for (size_t i = 0; i < n; i++) {
        float z = 0;
        fwrite(&z, sizeof z, 1, f);
    }
    fclose(f);
    float *d = NULL;
    xcnn_status st = xcnn_npy_read(npy_path, &d, nd, dims, err, es);
    free(d);
    return st;
}

static void test_npy_headers(void)
{
    npy_path = test_tmp_path("hdr.npy");
    char err[600];
    int nd;
    int64_t dims[XCNN_MAX_DIMS];
    /* numpy refuses these (or reads them differently): so must we */
    static const struct {
        const char *hdr, *what, *word;
    } bad[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (1,), }",
         "a key given twice (numpy keeps the last, a search found the first)", "twice"},
        {"{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
         "descr given twice", "twice"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (01, 2), }",
         "a number with a leading zero (a Python syntax error)", "leading zero"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2), }",
         "shape (2): an int, not a tuple", "not a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1, }", "an unknown key",
         "'x'"},
        {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,), }", "fortran_order Falsey",
         "fortran_order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } trailing",
         "text after the dict", "after"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,) 'x', }", "a missing comma",
         "malformed"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }", "a missing comma (keys)",
         "malformed"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,),, }", "two commas",
         "malformed"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1_0,), }", "1_0 (numpy never "
         "writes it)", "malformed"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", "2L in a version 3 "
         "header (numpy drops L in versions 1 and 2 only)", "malformed"},
        {"'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "not a dict", "dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,), }",
         "the same key twice with the same value", "twice"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        stale(err, sizeof err);
        int version = strstr(bad[k].what, "version 3") ? 3 : 1;
        xcnn_status st = read_header(version, bad[k].hdr, 2, err, sizeof err, &nd, dims);
        check(refused(st, XCNN_ERR_FORMAT, err, bad[k].word, NULL), ".npy header with %s: %s",
              bad[k].what, err);
    }
    /* numpy writes these (numpy 1.24's headers, growth padding and all),
     * or reads them and so may a user's tools write them */
    static const struct {
        const char *hdr, *what;
        int version, nd;
        int64_t d0, d1;
        size_t n;
    } good[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }                             "
         "                                 \n", "0-d", 1, 0, 0, 0, 1},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }                           "
         "                                 \n", "1-d", 1, 1, 5, 0, 5},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 28, 28), }                 "
         "                                 \n", "4-d", 1, 4, 1, 3, 2352},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }                         "
         "                                 \n", "(0, 3)", 1, 2, 0, 3, 0},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }    \n", "version 2", 2, 2,
         2, 3, 6},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }    \n", "version 3", 3, 2,
         2, 3, 6},
        {"{\"descr\": \"<f4\",\n\t'fortran_order' : False ,'shape':(1,2)}", "double quotes, "
         "tabs, newlines, no trailing commas", 1, 2, 1, 2, 2},
        {"{'shape': (3L, 1L), 'fortran_order': False, 'descr': '|f4'}", "Python 2 longs (3L) "
         "and another key order", 1, 2, 3, 1, 3},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", "shape (0,)", 1, 1, 0, 0, 0},
    };
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        stale(err, sizeof err);
        xcnn_status st = read_header(good[k].version, good[k].hdr, good[k].n, err, sizeof err,
                                     &nd, dims);
        check(st == XCNN_OK && nd == good[k].nd && (nd < 1 || dims[0] == good[k].d0) &&
                  (nd < 2 || dims[1] == good[k].d1),
              ".npy header as numpy writes it accepted: %s (%s)", good[k].what,
              st ? err : "ok");
    }
    /* Still refused as before, with a reason: another dtype, big-endian,
     * Fortran order, negative sizes. */
    stale(err, sizeof err);
    check(refused(read_header(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 2,
                              err, sizeof err, &nd, dims),
                  XCNN_ERR_UNSUPPORTED, err, "'>f4'", NULL),
          ".npy big-endian still unsupported, with the dtype named: %s", err);
    stale(err, sizeof err);
    check(refused(read_header(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
                              2, err, sizeof err, &nd, dims),
                  XCNN_ERR_FORMAT, err, "negative", NULL),
          ".npy negative dimension refused: %s", err);
    remove(npy_path);
}

/* --- 6: heatmaps --------------------------------------------------------- */

static void test_heatmap(void)
{
    const char *path = test_tmp_path("heat.png");
    char err[600];
    float attr[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    stale(err, sizeof err);
    xcnn_status st = xcnn_heatmap_png(path, attr, 1, 4, 4, NULL, 0, 0, 4, err, sizeof err);
    check(refused(st, XCNN_ERR_ARG, err, "0x4", NULL) && !strstr(err, "memory"),
          "heatmap png: H = 0 is a bad argument, not 'out of memory': %s", err);
    static const struct {
        int ch, h, w, ic, H, W;
        const char *word;
    } bad[] = {
        {0, 4, 4, 1, 4, 4, "attribution"}, {1, -4, 4, 1, 4, 4, "attribution"},
        {1, 4, 4, 2, 4, 4, "2 channels"},  {1, 4, 4, 1, -1, 4, "output"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        stale(err, sizeof err);
        st = xcnn_heatmap_png(path, attr, bad[k].ch, bad[k].h, bad[k].w, attr, bad[k].ic,
                              bad[k].H, bad[k].W, err, sizeof err);
        check(refused(st, XCNN_ERR_ARG, err, bad[k].word, NULL),
              "heatmap png: %dx%dx%d over %d channels to %dx%d refused, naming it: %s", bad[k].ch,
              bad[k].h, bad[k].w, bad[k].ic, bad[k].H, bad[k].W, err);
    }
    stale(err, sizeof err);
    check(refused(xcnn_heatmap_png(NULL, attr, 1, 4, 4, NULL, 0, 4, 4, err, sizeof err),
                  XCNN_ERR_ARG, err, "path", NULL) &&
              (stale(err, sizeof err),
               refused(xcnn_heatmap_png(path, NULL, 1, 4, 4, NULL, 0, 4, 4, err, sizeof err),
                       XCNN_ERR_ARG, err, "attr", NULL)),
          "heatmap png: path or attr NULL refused, naming it");
    /* h * w was an int: 65536 x 65536 overflowed it (and asked for 16 GB). */
    unsigned char rgb[3 * 4];
    st = xcnn_heatmap_rgb(attr, 1, 65536, 65536, NULL, 0, 2, 2, rgb, 2, 2);
    check(st == XCNN_ERR_LIMIT, "heatmap rgb: a 65536x65536 map refused as over the caps (%s)",
          xcnn_status_name(st));
    st = xcnn_heatmap_rgb(attr, 1, 2, 2, NULL, 0, 2, 2, rgb, 65536, 65536);
    check(st == XCNN_ERR_LIMIT, "heatmap rgb: a 65536x65536 output refused (%s)",
          xcnn_status_name(st));
    check(xcnn_heatmap_rgb(attr, 1, 2, 2, NULL, 0, 2, 2, NULL, 2, 2) == XCNN_ERR_ARG &&
              xcnn_heatmap_rgb(attr, 1, 2, 2, NULL, 0, 2, 2, rgb, 0, 2) == XCNN_ERR_ARG &&
              xcnn_heatmap_rgb(NULL, 1, 2, 2, NULL, 0, 2, 2, rgb, 2, 2) == XCNN_ERR_ARG,
          "heatmap rgb: rgb NULL, OH 0 or attr NULL refused");
    /* A tall map: scaling up 16x made a 262144-pixel-high PNG, refused
     * by the writer; the scale now stops at the caps. */
    float *tall = calloc(16384, sizeof(float));
    tall[5] = 1;
    stale(err, sizeof err);
    st = xcnn_heatmap_png(path, tall, 1, 16384, 1, NULL, 0, 16384, 1, err, sizeof err);
    xcnn_image img = {0, 0, 0, NULL};
    check(st == XCNN_OK && xcnn_image_read(path, &img, err, sizeof err) == XCNN_OK &&
              img.height == 16384 && img.width == 1,
          "heatmap png of 16384x1: written at 16384x1, not scaled past the caps (%s)",
          st ? err : "ok");
    xcnn_image_free(&img);
    free(tall);
    /* NaN and inf in the image or the map: colours stay in range (a NaN
     * reached a float-to-byte conversion, undefined behaviour). */
    float nasty[4] = {NAN, INFINITY, -INFINITY, 1};
    unsigned char out[3 * 16];
    st = xcnn_heatmap_rgb(nasty, 1, 2, 2, nasty, 1, 2, 2, out, 4, 4);
    check(st == XCNN_OK, "heatmap rgb: NaN and inf in the map and the image drawn (%s)",
          xcnn_status_name(st));
    remove(path);
}

/* --- 1: the setting from a model's metadata ----------------------------- */

static void test_metadata(void)
{
    char err[600];
    xcnn_model *m = NULL;
    if (!check(xcnn_model_load("data/fashion_resnet.onnx", NULL, &m, err, sizeof err) == XCNN_OK,
               "load data/fashion_resnet.onnx"))
        return;
    const char *key = "xcnn.preprocess", *value = "gray;resize=384";
    unsigned char *bytes = NULL;
    size_t len = 0;
    xcnn_model *m2 = NULL;
    xcnn_status st = xcnn_model_save_onnx_memory(m, &key, &value, 1, &bytes, &len, err,
                                                 sizeof err);
    if (!st) st = xcnn_model_load_memory(bytes, len, NULL, &m2, err, sizeof err);
    xcnn_model_free(m);
    free(bytes);
    if (!check(st == XCNN_OK, "the model saved with xcnn.preprocess = 'gray;resize=384'")) return;
    const char *meta = xcnn_model_metadata(m2, "xcnn.preprocess");
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    xcnn_image img = {16384, 1, 1, calloc(16384, 1)};
    float out[28 * 28];
    st = meta ? xcnn_preprocess_parse(meta, &p, err, sizeof err) : XCNN_ERR_NOT_FOUND;
    if (!st) {
        stale(err, sizeof err);
        st = xcnn_image_to_tensor(&img, &p, 1, 28, 28, out, err, sizeof err);
    }
    check(refused(st, XCNN_ERR_LIMIT, err, "resize=384", NULL),
          "the same setting from the model's metadata refused: %s", err);
    free(img.pixels);
    xcnn_model_free(m2);
}

int main(void)
{
    test_resize_caps();
    test_window_resize();
    test_values();
    test_image_args();
    test_npy_args();
    test_npy_headers();
    test_heatmap();
    test_metadata();
    return check_summary();
}
