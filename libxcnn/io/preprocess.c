/*
 * From an 8-bit image to the float tensor a model expects, in the order
 * torchvision's usual transforms apply:
 *   1. channels: gray <-> RGB (gray = 0.299 R + 0.587 G + 0.114 B, as PIL's
 *      convert("L")), alpha dropped, optional BGR order;
 *   2. resize (bilinear, half-pixel centres): either the short side to S
 *      keeping the aspect ratio (Resize(S)), or to an exact HxW;
 *   3. centre crop to the model's HxW (CenterCrop); if the image is still
 *      not that size, a final resize to it;
 *   4. v * scale, then (v - mean[c]) / std[c] per channel.
 * Note: PIL/torchvision resize with antialiasing when shrinking; we do not,
 * so large downscales differ slightly from torchvision's.
 *
 * A spec string, as stored in a model's "xcnn.preprocess" metadata or given
 * on the command line, is a ';'-separated list:
 *   gray | rgb | bgr | scale=S | mean=M[,M,M] | std=S[,S,S] | resize=S |
 *   size=HxW | crop=HxW
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_image.h"
#include "../base/error.h"
#include "resize.h"

void xcnn_preprocess_init(xcnn_preprocess *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->scale = 1.0f / 255.0f;
    for (int c = 0; c < 3; c++) {
        p->mean[c] = 0;
        p->std[c] = 1;
    }
}

/* A float32 from text: finite after the conversion to float (1e39 is a
 * finite double but an infinite float). 0 on success. */
static int parse_float(const char *s, char **end, float *out)
{
    double d = strtod(s, end);
    if (*end == s || !isfinite(d) || !isfinite((float)d)) return -1;
    *out = (float)d;
    return 0;
}

/* "a,b,c" or "a" (repeated) into v[3]; 0 on success. */
static int parse_triple(const char *s, float v[3])
{
    char *end;
    for (int i = 0; i < 3; i++) {
        if (parse_float(s, &end, &v[i])) return -1;
        if (*end == ',') {
            s = end + 1;
            continue;
        }
        if (*end == 0) {
            if (i == 0) v[1] = v[2] = v[0];
            else if (i != 2) return -1;
            return 0;
        }
        return -1;
    }
    return *end == 0 ? 0 : -1;
}

/* A side in pixels: a whole number from 1 to XCNN_IMAGE_MAX_SIDE. */
static int parse_side(const char *s, char **end, int *v)
{
    if (*s < '0' || *s > '9') return -1; /* no sign, no space */
    long a = strtol(s, end, 10);
    if (*end == s || a < 1 || a > XCNN_IMAGE_MAX_SIDE) return -1;
    *v = (int)a;
    return 0;
}

static int parse_hw(const char *s, int *h, int *w)
{
    char *end;
    int a, b;
    if (parse_side(s, &end, &a) || *end != 'x') return -1;
    if (parse_side(end + 1, &end, &b) || *end) return -1;
    if ((int64_t)a * b > XCNN_IMAGE_MAX_PIXELS) return -1;
    *h = a;
    *w = b;
    return 0;
}

/* Pixel values reach step 4 in [0, 255] (bytes, their gray mix and
 * bilinear blends, all convex combinations), up to rounding: 256 bounds
 * them with room to spare. (v * scale - mean) / std is monotonic in v, so
 * it is finite for every pixel when it is at 0 and at 256. */
#define PIXEL_BOUND 256.0f

/* Every field of *p usable: from a spec or set by a caller of the API.
 * Messages name the spec item that sets the field. */
static xcnn_status check_preprocess(const xcnn_preprocess *p, xcnn_err *e)
{
    if (p->channels != 0 && p->channels != 1 && p->channels != 3)
        return xcnn_fail(e, XCNN_ERR_ARG, "preprocessing: channels is %d (0, 1 gray or 3 rgb)",
                         p->channels);
    if (p->resize_short < 0 || p->resize_short > XCNN_IMAGE_MAX_SIDE)
        return xcnn_fail(e, XCNN_ERR_ARG, "preprocessing: resize=%d is not a side from 1 to %d",
                         p->resize_short, XCNN_IMAGE_MAX_SIDE);
    const struct { const char *name; int h, w; } hw[2] = {
        {"size", p->resize_h, p->resize_w}, {"crop", p->crop_h, p->crop_w}};
    for (int k = 0; k < 2; k++) {
        if (hw[k].h == 0 && hw[k].w == 0) continue;
        if (hw[k].h < 1 || hw[k].w < 1 || hw[k].h > XCNN_IMAGE_MAX_SIDE ||
            hw[k].w > XCNN_IMAGE_MAX_SIDE)
            return xcnn_fail(e, XCNN_ERR_ARG, "preprocessing: %s=%dx%d: each side must be from "
                             "1 to %d", hw[k].name, hw[k].h, hw[k].w, XCNN_IMAGE_MAX_SIDE);
        if ((int64_t)hw[k].h * hw[k].w > XCNN_IMAGE_MAX_PIXELS)
            return xcnn_fail(e, XCNN_ERR_LIMIT, "preprocessing: %s=%dx%d is %lld pixels, over "
                             "the limit of %lld", hw[k].name, hw[k].h, hw[k].w,
                             (long long)hw[k].h * hw[k].w, (long long)XCNN_IMAGE_MAX_PIXELS);
    }
    if (p->resize_short && p->resize_h)
        return xcnn_fail(e, XCNN_ERR_ARG, "preprocessing: resize=%d and size=%dx%d both set; "
                         "give one", p->resize_short, p->resize_h, p->resize_w);
    if (!isfinite(p->scale))
        return xcnn_fail(e, XCNN_ERR_ARG, "preprocessing: scale=%g is not a finite float32",
                         p->scale);
    for (int c = 0; c < 3; c++) {
        if (!isfinite(p->mean[c]))
            return xcnn_fail(e, XCNN_ERR_ARG, "preprocessing: mean of channel %d is %g, not a "
                             "finite float32", c, p->mean[c]);
        /* A zero or subnormal std divides a pixel into inf or into values
         * that lose their low bits: no normalisation means that. */
        if (fpclassify(p->std[c]) != FP_NORMAL)
            return xcnn_fail(e, XCNN_ERR_ARG, "preprocessing: std of channel %d is %g; it must "
                             "be a normal float32 (|std| >= %g, finite)", c, p->std[c],
                             (double)FLT_MIN);
        float lo = (0.0f * p->scale - p->mean[c]) / p->std[c];
        float hi = (PIXEL_BOUND * p->scale - p->mean[c]) / p->std[c];
        if (!isfinite(lo) || !isfinite(hi))
            return xcnn_fail(e, XCNN_ERR_ARG, "preprocessing: scale=%g, mean=%g and std=%g "
                             "turn pixel values 0..255 of channel %d into %g..%g: the input "
                             "would not be finite (a smaller scale or mean, or a larger std)",
                             p->scale, p->mean[c], p->std[c], c, lo, hi);
    }
    return XCNN_OK;
}

xcnn_status xcnn_preprocess_parse(const char *spec, xcnn_preprocess *p, char *errbuf,
                                  size_t err_size)
{
    xcnn_err e = {{0}};
    xcnn_status st = XCNN_OK;
    if (!p) {
        st = xcnn_fail(&e, XCNN_ERR_ARG, "xcnn_preprocess_parse: p is NULL");
        goto done;
    }
    /* Items apply to a copy: a refused spec leaves *p as it was. */
    xcnn_preprocess q = *p;
    const char *s = spec ? spec : "";
    while (*s && !st) {
        const char *end = strchr(s, ';');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char item[128];
        if (len >= sizeof item) {
            /* Cut short, "scale=1.0...0e50" would lose its exponent. */
            st = xcnn_fail(&e, XCNN_ERR_ARG, "preprocessing: item '%.40s...' is longer than %zu "
                           "characters", s, sizeof item - 1);
            break;
        }
        memcpy(item, s, len);
        item[len] = 0;
        int bad = 0;
        char need[128] = "";
        char *eq = strchr(item, '=');
        const char *val = eq ? eq + 1 : "";
        if (eq) *eq = 0;
        if (!item[0] && !eq) {
            /* empty item: ";;" is harmless */
        } else if (!eq && !strcmp(item, "gray")) {
            q.channels = 1;
        } else if (!eq && !strcmp(item, "rgb")) {
            q.channels = 3;
            q.bgr = 0;
        } else if (!eq && !strcmp(item, "bgr")) {
            q.channels = 3;
            q.bgr = 1;
        } else if (eq && !strcmp(item, "scale")) {
            char *e2;
            bad = parse_float(val, &e2, &q.scale) || *e2;
            xcnn_format(need, sizeof need, "a finite float32");
        } else if (eq && !strcmp(item, "mean")) {
            bad = parse_triple(val, q.mean);
            xcnn_format(need, sizeof need, "1 or 3 finite float32s, comma-separated");
        } else if (eq && !strcmp(item, "std")) {
            bad = parse_triple(val, q.std);
            for (int c = 0; !bad && c < 3; c++) bad = fpclassify(q.std[c]) != FP_NORMAL;
            xcnn_format(need, sizeof need, "1 or 3 normal, non-zero float32s (|std| >= %.2g), "
                     "comma-separated", (double)FLT_MIN);
        } else if (eq && !strcmp(item, "resize")) {
            char *e2;
            bad = parse_side(val, &e2, &q.resize_short) || *e2;
            if (!bad) q.resize_h = q.resize_w = 0; /* the later of resize= and size= wins */
            xcnn_format(need, sizeof need, "a whole number of pixels from 1 to %d",
                     XCNN_IMAGE_MAX_SIDE);
        } else if (eq && !strcmp(item, "size")) {
            bad = parse_hw(val, &q.resize_h, &q.resize_w);
            if (!bad) q.resize_short = 0;
            xcnn_format(need, sizeof need, "HxW, each side from 1 to %d, at most %lld pixels",
                     XCNN_IMAGE_MAX_SIDE, (long long)XCNN_IMAGE_MAX_PIXELS);
        } else if (eq && !strcmp(item, "crop")) {
            bad = parse_hw(val, &q.crop_h, &q.crop_w);
            xcnn_format(need, sizeof need, "HxW, each side from 1 to %d, at most %lld pixels",
                     XCNN_IMAGE_MAX_SIDE, (long long)XCNN_IMAGE_MAX_PIXELS);
        } else {
            st = xcnn_fail(&e, XCNN_ERR_ARG, "preprocessing: unknown item '%s%s%s' (gray, rgb, "
                           "bgr, scale=, mean=, std=, resize=, size=HxW, crop=HxW)", item,
                           eq ? "=" : "", val);
            break;
        }
        if (bad) {
            st = xcnn_fail(&e, XCNN_ERR_ARG, "preprocessing: bad value in '%s=%s': %s needs %s",
                           item, val, item, need);
            break;
        }
        if (!end) break;
        s = end + 1;
    }
    /* Items that are fine alone may not be together: std=1e-37 with
     * scale=1 overflows a pixel of 255. */
    if (!st) st = check_preprocess(&q, &e);
    if (!st) *p = q;
done:
    if (st && errbuf && err_size) xcnn_format(errbuf, err_size, "%s", e.msg);
    return st;
}

/* Bilinear resize of C planes of h x w (resize.c, per plane). */
static void resize_planes(const float *src, int C, int h, int w, float *dst, int H, int W)
{
    for (int c = 0; c < C; c++)
        xcnn_resize_bilinear(src + (size_t)c * h * w, h, w, dst + (size_t)c * H * W, H, W);
}

static int over_caps(int64_t h, int64_t w)
{
    return h > XCNN_IMAGE_MAX_SIDE || w > XCNN_IMAGE_MAX_SIDE || h * w > XCNN_IMAGE_MAX_PIXELS;
}

xcnn_status xcnn_image_to_tensor(const xcnn_image *img, const xcnn_preprocess *p, int C, int H,
                                 int W, float *out, char *errbuf, size_t err_size)
{
    xcnn_err e = {{0}};
    xcnn_status st = XCNN_OK;
    float *a = NULL, *b = NULL;
    /* Every size is checked before anything is allocated: the image's,
     * the model's, and the ones the spec computes from them. */
    if (!img || !p || !out) {
        st = xcnn_fail(&e, XCNN_ERR_ARG, "xcnn_image_to_tensor: %s is NULL",
                       !img ? "img" : !p ? "p" : "out");
        goto done;
    }
    if (!img->pixels || img->width < 1 || img->height < 1 ||
        (img->channels != 1 && img->channels != 3 && img->channels != 4)) {
        st = xcnn_fail(&e, XCNN_ERR_ARG, "image to tensor: the image is %dx%d with %d channels "
                       "and pixels %s (want at least 1x1, 1, 3 or 4 channels, and pixels)",
                       img->width, img->height, img->channels, img->pixels ? "set" : "NULL");
        goto done;
    }
    if (over_caps(img->height, img->width)) {
        st = xcnn_fail(&e, XCNN_ERR_LIMIT, "image to tensor: the image is %dx%d, over the limit "
                       "(%d per side, %lld pixels)", img->width, img->height,
                       XCNN_IMAGE_MAX_SIDE, (long long)XCNN_IMAGE_MAX_PIXELS);
        goto done;
    }
    if ((C != 1 && C != 3) || H < 1 || W < 1) {
        st = xcnn_fail(&e, XCNN_ERR_ARG, "image to tensor: the model input must be 1 or 3 "
                       "channels of at least 1x1 pixels (got %dx%dx%d)", C, H, W);
        goto done;
    }
    if (over_caps(H, W)) {
        st = xcnn_fail(&e, XCNN_ERR_LIMIT, "image to tensor: the model input is %dx%d, over "
                       "the image limit (%d per side, %lld pixels)", H, W, XCNN_IMAGE_MAX_SIDE,
                       (long long)XCNN_IMAGE_MAX_PIXELS);
        goto done;
    }
    st = check_preprocess(p, &e);
    if (st) goto done;
    if (p->channels && p->channels != C) {
        st = xcnn_fail(&e, XCNN_ERR_ARG, "preprocessing asks for %d channels, the model takes %d",
                       p->channels, C);
        goto done;
    }
    int h = img->height, w = img->width, ic = img->channels;
    /* 2. the resize's size, in 64 bits: resize=384 makes a 16384x1 image
     * 6291456x384, and y * W + x would overflow an int */
    int64_t rh = h, rw = w;
    if (p->resize_short) {
        if (h <= w) {
            rh = p->resize_short;
            rw = (int64_t)w * p->resize_short / h;
        } else {
            rw = p->resize_short;
            rh = (int64_t)h * p->resize_short / w;
        }
    } else if (p->resize_h) {
        rh = p->resize_h;
        rw = p->resize_w;
    }
    if (rh < 1) rh = 1;
    if (rw < 1) rw = 1;
    if (over_caps(rh, rw)) {
        st = xcnn_fail(&e, XCNN_ERR_LIMIT, "preprocessing: resize=%d makes the image of %dx%d "
                       "pixels (width x height) %lldx%lld, over the limit (%d per side, %lld pixels)", p->resize_short,
                       w, h, (long long)rw, (long long)rh, XCNN_IMAGE_MAX_SIDE,
                       (long long)XCNN_IMAGE_MAX_PIXELS);
        goto done;
    }
    /* 3. the centre crop (explicit, else to the model size when larger):
     * only that window of the resized image is computed */
    int ch = p->crop_h ? p->crop_h : H, cw = p->crop_w ? p->crop_w : W;
    int oh = (int)rh, ow = (int)rw, top = 0, left = 0;
    if (ch <= rh && cw <= rw) {
        top = (int)lround((double)(rh - ch) / 2.0);
        left = (int)lround((double)(rw - cw) / 2.0);
        oh = ch;
        ow = cw;
    }
    /* 1. channels, into float planes in 0..255 */
    a = malloc((size_t)C * h * w * sizeof(float));
    if (!a) {
        st = xcnn_fail(&e, XCNN_ERR_NOMEM, "image to tensor: out of memory for %dx%dx%d floats",
                       C, h, w);
        goto done;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const unsigned char *px = img->pixels + ((size_t)y * w + x) * ic;
            float r = px[0], g = ic >= 3 ? px[1] : px[0], bl = ic >= 3 ? px[2] : px[0];
            size_t at = (size_t)y * w + x;
            if (C == 1) {
                a[at] = ic >= 3 ? 0.299f * r + 0.587f * g + 0.114f * bl : r;
            } else {
                a[at] = p->bgr ? bl : r;
                a[(size_t)h * w + at] = g;
                a[(size_t)2 * h * w + at] = p->bgr ? r : bl;
            }
        }
    /* 2 and 3: resize and crop in one */
    if (rh != h || rw != w || oh != h || ow != w) {
        b = malloc((size_t)C * oh * ow * sizeof(float));
        if (!b) {
            st = xcnn_fail(&e, XCNN_ERR_NOMEM, "image to tensor: out of memory for %dx%dx%d "
                           "floats", C, oh, ow);
            goto done;
        }
        for (int c = 0; c < C; c++) {
            const float *src = a + (size_t)c * h * w;
            float *dst = b + (size_t)c * oh * ow;
            if (rh != h || rw != w) {
                xcnn_resize_bilinear_window(src, h, w, dst, (int)rh, (int)rw, top, left, oh, ow);
            } else {
                for (int y = 0; y < oh; y++)
                    memcpy(dst + (size_t)y * ow, src + (size_t)(y + top) * w + left,
                           (size_t)ow * sizeof(float));
            }
        }
        free(a);
        a = b;
        b = NULL;
        h = oh;
        w = ow;
    }
    if (h != H || w != W) {
        resize_planes(a, C, h, w, out, H, W);
    } else {
        memcpy(out, a, (size_t)C * H * W * sizeof(float));
    }
    /* 4. scale and normalise */
    for (int c = 0; c < C; c++)
        for (size_t i = 0; i < (size_t)H * W; i++) {
            float *v = out + (size_t)c * H * W + i;
            *v = (*v * p->scale - p->mean[c]) / p->std[c];
        }
done:
    free(a);
    free(b);
    if (st && errbuf && err_size) xcnn_format(errbuf, err_size, "%s", e.msg);
    return st;
}
