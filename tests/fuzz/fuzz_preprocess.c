/*
 * libFuzzer harness: preprocessing, from spec strings and an image of any
 * size to the float tensor a model takes: xcnn_preprocess_parse, then
 * xcnn_image_to_tensor, as the CLI does it (tools/cli/input.c): the
 * model's "xcnn.preprocess" metadata first, then the --preprocess
 * override on top.
 *
 * Input: HDR header bytes, then spec1 '\0' spec2 (spec2 optional). A
 * spec1 that starts with byte 1 is made from the bytes that follow instead
 * (structured(): items and their values picked from hostile tables, so
 * that values like 1e39, 1e-45, 16385 or 0 come up as easily as any):
 *   0     image channels (1, 3, 4, or one the struct does not allow: 2,
 *         0, 5, -1), the model's C (1, 3, or the spec's channels), the
 *         error buffer (full, NULL, 0, 1 or 7 bytes)
 *   1-2   image width   \   each a side of 1..512, or, with the value's
 *   3-4   image height   |  top bit set, one of the hostile sides below:
 *   5-6   model H        |  1, odd sizes, 16384 (XCNN_IMAGE_MAX_SIDE),
 *   7-8   model W       /   and 0, 16385 and 20000, which must be refused
 *   9     pixel pattern; bits 6-7 the hostile channel count
 * The harness keeps what it allocates itself small: an image of at most
 * IMG_MAX_PIXELS (16384 x 4 for a 16384 side) and a model input of at
 * most OUT_MAX_PIXELS, the other side shrunk to fit. What the spec asks
 * for is not capped: a resize= or size= that makes the image larger than
 * the caps (XCNN_IMAGE_MAX_SIDE, XCNN_IMAGE_MAX_PIXELS) must be refused
 * before it is allocated (if not, libFuzzer's -rss_limit_mb, the same
 * -malloc_limit_mb, or -timeout reports it). The one call skipped is a
 * resize within the caps whose output (the crop window, or the whole
 * resized image when no crop applies) is over WORK_MAX_PIXELS: legitimate
 * work of seconds under ASan, not a hostile input.
 *
 * Failures (abort, so libFuzzer keeps the input) besides the sanitizers':
 *   - a refused call must leave a one-line, printable message (a spec
 *     comes from a model file: no newline or escape may reach the CLI's
 *     error line), NUL-terminated within err_size, nothing written past it;
 *   - a spec that parses must leave usable values: finite scale and mean,
 *     a finite normal (not subnormal) non-zero std, sides within the caps;
 *   - a tensor that xcnn_image_to_tensor returns must be finite;
 *   - asking for channels the model does not take must be refused, and
 *     so must an image struct out of the caps or with a side < 1 or
 *     channels other than 1, 3, 4, and a resize over the caps.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn.h"
#include "../../include/xcnn_image.h"

#define HDR 10
#define IMG_MAX_PIXELS ((size_t)1 << 16)
#define OUT_MAX_PIXELS ((size_t)1 << 16)
#define WORK_MAX_PIXELS ((int64_t)1 << 20)
#define ERR_CAP 600

static const int hostile_sides[] = {1,    2,    3,    7,    15,    16,    17,   31,
                                    63,   64,   65,   127,  224,   255,   383,  384,
                                    385,  1000, 4095, 4096, 4097,  8191,  8192, 12345,
                                    16383, 16384, 0,    16385, 20000};

#define FAIL(...)                                                                   \
    do {                                                                            \
        fprintf(stderr, "fuzz_preprocess: " __VA_ARGS__);                           \
        fprintf(stderr, "\n");                                                      \
        abort();                                                                    \
    } while (0)

static int side(const uint8_t *p)
{
    unsigned v = (unsigned)p[0] << 8 | p[1];
    if (v & 0x8000) return hostile_sides[(v & 0x7fff) % (sizeof hostile_sides / sizeof(int))];
    return 1 + (int)(v & 0x1ff);
}

/* Shrink the second side so that a * b stays within cap. */
static void fit(int a, int *b, size_t cap)
{
    if (a > 0 && (size_t)a * (size_t)*b > cap)
        *b = (int)(cap / (size_t)a) > 0 ? (int)(cap / (size_t)a) : 1;
}

static int over_caps(int64_t h, int64_t w)
{
    return h > XCNN_IMAGE_MAX_SIDE || w > XCNN_IMAGE_MAX_SIDE || h * w > XCNN_IMAGE_MAX_PIXELS;
}

static void fill(unsigned char *px, size_t n, int pattern)
{
    uint32_t s = 0x9e3779b9u ^ (uint32_t)pattern;
    switch (pattern & 3) {
    case 0: memset(px, pattern & 4 ? 255 : 0, n); break;
    case 1: for (size_t i = 0; i < n; i++) px[i] = (unsigned char)(i * 7 + (i >> 8)); break;
    default:
        for (size_t i = 0; i < n; i++) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            px[i] = (unsigned char)s;
        }
    }
}

/* err as the caller passed it: err_size bytes of a buffer of ERR_CAP whose
 * tail is a canary. */
typedef struct errbuf {
    char buf[ERR_CAP + 16];
    char *ptr;
    size_t size;
} errbuf;

static void err_init(errbuf *e, int mode)
{
    memset(e->buf, 0x5a, sizeof e->buf);
    static const size_t sizes[8] = {ERR_CAP, ERR_CAP, ERR_CAP, ERR_CAP, 0, 1, 7, ERR_CAP};
    e->size = sizes[mode & 7];
    e->ptr = (mode & 7) == 4 && (mode & 8) ? NULL : e->buf;
}

/* After a refused call: the message is there, one line, printable, and
 * nothing is written past err_size. */
static void err_check(const errbuf *e, const char *call, xcnn_status st)
{
    if (!e->ptr) return;
    for (size_t i = e->size; i < sizeof e->buf; i++)
        if (e->buf[i] != 0x5a) FAIL("%s wrote past err_size %zu (byte %zu)", call, e->size, i);
    if (e->size == 0) return;
    size_t len = strnlen(e->buf, e->size);
    if (len == e->size) FAIL("%s: message not NUL-terminated within err_size %zu", call, e->size);
    if (e->size < ERR_CAP) return;
    if (len == 0) FAIL("%s refused (%s) with an empty message", call, xcnn_status_name(st));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)e->buf[i];
        if (c < 0x20 || c == 0x7f)
            FAIL("%s refused (%s) with a control character 0x%02x at %zu in its message: %s", call,
                 xcnn_status_name(st), c, i, e->buf);
    }
}

static void check_parsed(const xcnn_preprocess *p, const char *spec)
{
    if (p->channels != 0 && p->channels != 1 && p->channels != 3)
        FAIL("spec \"%s\" parsed to channels %d", spec, p->channels);
    int sides[6] = {p->resize_short, p->resize_h, p->resize_w, p->crop_h, p->crop_w, 0};
    for (int i = 0; i < 5; i++)
        if (sides[i] < 0 || sides[i] > XCNN_IMAGE_MAX_SIDE)
            FAIL("spec \"%s\" parsed to a side of %d", spec, sides[i]);
    if (!isfinite(p->scale)) FAIL("spec \"%s\" accepted: scale is %g as a float", spec, p->scale);
    for (int c = 0; c < 3; c++) {
        if (!isfinite(p->mean[c]))
            FAIL("spec \"%s\" accepted: mean[%d] is %g as a float", spec, c, p->mean[c]);
        if (fpclassify(p->std[c]) != FP_NORMAL)
            FAIL("spec \"%s\" accepted: std[%d] is %g as a float (zero, subnormal or not finite:"
                 " (v - mean) / std overflows)", spec, c, p->std[c]);
    }
}

static xcnn_status parse(const char *spec, xcnn_preprocess *p, int err_mode)
{
    errbuf e;
    err_init(&e, err_mode);
    xcnn_status st = xcnn_preprocess_parse(spec, p, e.ptr, e.size);
    if (st != XCNN_OK) err_check(&e, "xcnn_preprocess_parse", st);
    else check_parsed(p, spec);
    return st;
}

/* Values a spec item meets: boundaries of float32, of the sides, of the
 * pixel range. */
static const double hostile_floats[] = {0,       1,       255,     256,      1.0 / 255,
                                        0.5,     1e-45,   1e-40,   1.1754943e-38, 1e-38,
                                        3.4028234e38, 3.5e38, 1e39,  1e300,    1e-300,
                                        1e30,    1e-30,   65504,   1e10,     1e-10};
static const long hostile_spec_sides[] = {0,     1,     2,     3,          65,
                                          224,   384,   4096,  16383,      16384,
                                          16385, -1,    65536, 2147483647, 4294967297L};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static size_t take(const uint8_t **p, const uint8_t *end)
{
    return *p < end ? *(*p)++ : 0;
}

static int put_float(char *out, size_t cap, const uint8_t **p, const uint8_t *end)
{
    size_t a = take(p, end), b = take(p, end);
    double v = a < 0x80 ? hostile_floats[a % COUNT(hostile_floats)]
                        : (double)((a & 0x1f) + 1) / 8 * pow(10, (double)(b % 90) - 45);
    if (a & 0x40) v = -v;
    return snprintf(out, cap, "%.9g", v);
}

static int put_side(char *out, size_t cap, const uint8_t **p, const uint8_t *end)
{
    size_t a = take(p, end);
    long v = a < 0x80 ? (long)a : hostile_spec_sides[a % COUNT(hostile_spec_sides)];
    return snprintf(out, cap, "%ld", v);
}

/* A spec from bytes: item kind, then its values, ';' between items. */
static void structured(const uint8_t *p, const uint8_t *end, char *out, size_t cap)
{
    static const char *names[] = {"gray", "rgb", "bgr", "scale=", "mean=", "mean=", "std=",
                                  "std=", "resize=", "size=", "crop=", "", "?"};
    size_t n = 0;
    out[0] = 0;
    while (p < end && n + 200 < cap) {
        size_t k = take(&p, end) % COUNT(names);
        if (n) out[n++] = ';';
        n += (size_t)snprintf(out + n, cap - n, "%s", names[k]);
        switch (k) {
        case 3: case 4: case 6:
            n += (size_t)put_float(out + n, cap - n, &p, end);
            break;
        case 5: case 7:
            for (int i = 0; i < 3; i++) {
                if (i) out[n++] = ',';
                n += (size_t)put_float(out + n, cap - n, &p, end);
            }
            break;
        case 8:
            n += (size_t)put_side(out + n, cap - n, &p, end);
            break;
        case 9: case 10:
            n += (size_t)put_side(out + n, cap - n, &p, end);
            out[n++] = 'x';
            n += (size_t)put_side(out + n, cap - n, &p, end);
            break;
        case 12: /* any byte, a control character among them */
            out[n - 1] = (char)(take(&p, end) | 1);
            break;
        }
        out[n] = 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HDR) return 0;
    const uint8_t *h = data;
    /* spec1 '\0' spec2: copied to strings of their own, so ASan sees any
     * read past their ends */
    size_t n = size - HDR, n1 = 0;
    while (n1 < n && data[HDR + n1]) n1++;
    char *spec1 = malloc(n1 + 1);
    size_t n2 = n1 < n ? n - n1 - 1 : 0;
    char *spec2 = n1 < n ? malloc(n2 + 1) : NULL;
    if (!spec1 || (n1 < n && !spec2)) {
        free(spec1);
        free(spec2);
        return 0;
    }
    memcpy(spec1, data + HDR, n1);
    spec1[n1] = 0;
    if (n1 > 0 && spec1[0] == 1) {
        char *made = malloc(4096);
        if (!made) {
            free(spec1);
            free(spec2);
            return 0;
        }
        structured(data + HDR + 1, data + HDR + n1, made, 4096);
        free(spec1);
        spec1 = made;
    }
    if (spec2) {
        memcpy(spec2, data + HDR + n1 + 1, n2);
        spec2[n2] = 0;
    }

    int err_mode = h[0] >> 4;
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    if (parse(spec1, &p, err_mode) != XCNN_OK || (spec2 && parse(spec2, &p, err_mode) != XCNN_OK))
        goto out;

    static const int img_channels[4] = {1, 3, 4, 0}, bad_channels[4] = {2, 0, 5, -1};
    int ic = (h[0] & 3) == 3 ? bad_channels[h[9] >> 6] : img_channels[h[0] & 3];
    int C = (h[0] >> 2) & 3;
    C = C == 0 ? 1 : C == 1 ? 3 : p.channels ? p.channels : 3;
    int iw = side(h + 1), ih = side(h + 3), H = side(h + 5), W = side(h + 7);
    fit(iw, &ih, IMG_MAX_PIXELS);
    fit(H, &W, OUT_MAX_PIXELS);
    int bad_image = iw < 1 || ih < 1 || over_caps(ih, iw) || (ic != 1 && ic != 3 && ic != 4);
    int bad_model = H < 1 || W < 1 || over_caps(H, W);

    /* The sizes the spec makes (xcnn_image.h: resize keeps the aspect
     * ratio, size is exact; then the centre crop, given or the model's) */
    int64_t rh = ih, rw = iw;
    if (!bad_image && p.resize_short) {
        if (ih <= iw) {
            rh = p.resize_short;
            rw = (int64_t)iw * p.resize_short / ih;
        } else {
            rw = p.resize_short;
            rh = (int64_t)ih * p.resize_short / iw;
        }
    } else if (!bad_image && p.resize_h) {
        rh = p.resize_h;
        rw = p.resize_w;
    }
    int over = !bad_image && over_caps(rh, rw);
    int64_t ch = p.crop_h ? p.crop_h : H, cw = p.crop_w ? p.crop_w : W;
    int64_t work = ch <= rh && cw <= rw ? ch * cw : rh * rw;
    if (!bad_image && !bad_model && !over && work > WORK_MAX_PIXELS) goto out;

    size_t px_n = (size_t)(iw > 0 ? iw : 1) * (size_t)(ih > 0 ? ih : 1) * (size_t)(ic > 0 ? ic : 1);
    xcnn_image img = {iw, ih, ic, malloc(px_n)};
    size_t out_n = (size_t)C * (size_t)(H > 0 ? H : 1) * (size_t)(W > 0 ? W : 1);
    float *out = malloc(out_n * sizeof(float));
    if (img.pixels && out) {
        fill(img.pixels, px_n, h[9]);
        errbuf e;
        err_init(&e, err_mode);
        xcnn_status st = xcnn_image_to_tensor(&img, &p, C, H, W, out, e.ptr, e.size);
        if (st != XCNN_OK) {
            err_check(&e, "xcnn_image_to_tensor", st);
        } else {
            if (p.channels && p.channels != C)
                FAIL("image to tensor took a spec of %d channels for a model of %d", p.channels,
                     C);
            if (bad_image)
                FAIL("image to tensor took an image of %dx%d (width x height), %d channels",
                     iw, ih, ic);
            if (bad_model)
                FAIL("image to tensor took a model input of %dx%d (HxW)", H, W);
            if (over)
                FAIL("image to tensor took \"%s\" + \"%s\": %dx%d resized to %lldx%lld "
                     "(width x height), over the caps", spec1, spec2 ? spec2 : "", iw, ih,
                     (long long)rw, (long long)rh);
            for (size_t i = 0; i < out_n; i++)
                if (!isfinite(out[i]))
                    FAIL("image %dx%dx%d -> %dx%dx%d with \"%s\" + \"%s\": OK, but element %zu "
                         "is %g (scale %g, mean %g %g %g, std %g %g %g)", iw, ih, ic, C, H, W,
                         spec1, spec2 ? spec2 : "", i, out[i], p.scale, p.mean[0], p.mean[1],
                         p.mean[2], p.std[0], p.std[1], p.std[2]);
        }
    }
    free(out);
    free(img.pixels);
out:
    free(spec1);
    free(spec2);
    return 0;
}
