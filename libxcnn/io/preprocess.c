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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_image.h"
#include "../base/error.h"
#include "resize.h"

void xcnn_preprocess_init(xcnn_preprocess *p)
{
    memset(p, 0, sizeof *p);
    p->scale = 1.0f / 255.0f;
    for (int c = 0; c < 3; c++) {
        p->mean[c] = 0;
        p->std[c] = 1;
    }
}

/* "a,b,c" or "a" (repeated) into v[3]; 0 on success. */
static int parse_triple(const char *s, float v[3])
{
    char *end;
    for (int i = 0; i < 3; i++) {
        double d = strtod(s, &end);
        if (end == s || !isfinite(d)) return -1;
        v[i] = (float)d;
        if (*end == ',') {
            s = end + 1;
            continue;
        }
        if (*end == 0 || *end == ';') {
            if (i == 0) v[1] = v[2] = v[0];
            else if (i != 2) return -1;
            return 0;
        }
        return -1;
    }
    return (*end == 0 || *end == ';') ? 0 : -1;
}

static int parse_hw(const char *s, int *h, int *w)
{
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || *end != 'x' || a < 1 || a > XCNN_IMAGE_MAX_SIDE) return -1;
    s = end + 1;
    long b = strtol(s, &end, 10);
    if (end == s || (*end && *end != ';') || b < 1 || b > XCNN_IMAGE_MAX_SIDE) return -1;
    *h = (int)a;
    *w = (int)b;
    return 0;
}

xcnn_status xcnn_preprocess_parse(const char *spec, xcnn_preprocess *p, char *errbuf,
                                  size_t err_size)
{
    const char *s = spec ? spec : "";
    while (*s) {
        const char *end = strchr(s, ';');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char item[128];
        if (len >= sizeof item) len = sizeof item - 1;
        memcpy(item, s, len);
        item[len] = 0;
        int bad = 0;
        char *eq = strchr(item, '=');
        const char *val = eq ? eq + 1 : "";
        if (eq) *eq = 0;
        if (!item[0]) {
            /* empty item: ";;" is harmless */
        } else if (!strcmp(item, "gray")) {
            p->channels = 1;
        } else if (!strcmp(item, "rgb")) {
            p->channels = 3;
            p->bgr = 0;
        } else if (!strcmp(item, "bgr")) {
            p->channels = 3;
            p->bgr = 1;
        } else if (!strcmp(item, "scale")) {
            char *e;
            double v = strtod(val, &e);
            bad = e == val || *e || !isfinite(v);
            if (!bad) p->scale = (float)v;
        } else if (!strcmp(item, "mean")) {
            bad = parse_triple(val, p->mean);
        } else if (!strcmp(item, "std")) {
            bad = parse_triple(val, p->std);
            for (int c = 0; !bad && c < 3; c++) bad = !(p->std[c] != 0);
        } else if (!strcmp(item, "resize")) {
            char *e;
            long v = strtol(val, &e, 10);
            bad = e == val || *e || v < 1 || v > XCNN_IMAGE_MAX_SIDE;
            if (!bad) p->resize_short = (int)v;
        } else if (!strcmp(item, "size")) {
            bad = parse_hw(val, &p->resize_h, &p->resize_w);
        } else if (!strcmp(item, "crop")) {
            bad = parse_hw(val, &p->crop_h, &p->crop_w);
        } else {
            if (errbuf && err_size)
                snprintf(errbuf, err_size, "preprocessing: unknown item '%s' (gray, rgb, bgr, "
                         "scale=, mean=, std=, resize=, size=HxW, crop=HxW)", item);
            return XCNN_ERR_ARG;
        }
        if (bad) {
            if (errbuf && err_size)
                snprintf(errbuf, err_size, "preprocessing: bad value in '%s=%s'", item, val);
            return XCNN_ERR_ARG;
        }
        if (!end) break;
        s = end + 1;
    }
    return XCNN_OK;
}

/* Bilinear resize of C planes of h x w (resize.c, per plane). */
static void resize_planes(const float *src, int C, int h, int w, float *dst, int H, int W)
{
    for (int c = 0; c < C; c++)
        xcnn_resize_bilinear(src + (size_t)c * h * w, h, w, dst + (size_t)c * H * W, H, W);
}

xcnn_status xcnn_image_to_tensor(const xcnn_image *img, const xcnn_preprocess *p, int C, int H,
                                 int W, float *out, char *errbuf, size_t err_size)
{
    xcnn_err e = {{0}};
    xcnn_status st = XCNN_OK;
    float *a = NULL, *b = NULL;
    if (!img || !img->pixels || !p || !out || (C != 1 && C != 3) || H < 1 || W < 1 ||
        H > XCNN_IMAGE_MAX_SIDE || W > XCNN_IMAGE_MAX_SIDE) {
        st = xcnn_fail(&e, XCNN_ERR_ARG, "image to tensor: the model input must be 1 or 3 "
                       "channels of at most %d pixels a side (got %dx%dx%d)",
                       XCNN_IMAGE_MAX_SIDE, C, H, W);
        goto done;
    }
    if (p->channels && p->channels != C) {
        st = xcnn_fail(&e, XCNN_ERR_ARG, "preprocessing asks for %d channels, the model takes %d",
                       p->channels, C);
        goto done;
    }
    int h = img->height, w = img->width, ic = img->channels;
    /* 1. channels, into float planes in 0..255 */
    a = malloc((size_t)C * h * w * sizeof(float));
    if (!a) {
        st = xcnn_fail(&e, XCNN_ERR_NOMEM, "out of memory");
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
    /* 2. resize */
    int rh = h, rw = w;
    if (p->resize_short) {
        if (h <= w) {
            rh = p->resize_short;
            rw = (int)((int64_t)w * p->resize_short / h);
        } else {
            rw = p->resize_short;
            rh = (int)((int64_t)h * p->resize_short / w);
        }
    } else if (p->resize_h) {
        rh = p->resize_h;
        rw = p->resize_w;
    }
    if (rh < 1) rh = 1;
    if (rw < 1) rw = 1;
    if (rh != h || rw != w) {
        b = malloc((size_t)C * rh * rw * sizeof(float));
        if (!b) {
            st = xcnn_fail(&e, XCNN_ERR_NOMEM, "out of memory");
            goto done;
        }
        resize_planes(a, C, h, w, b, rh, rw);
        free(a);
        a = b;
        b = NULL;
        h = rh;
        w = rw;
    }
    /* 3. centre crop (explicit, else to the model size when larger) */
    int ch = p->crop_h ? p->crop_h : H, cw = p->crop_w ? p->crop_w : W;
    if (ch <= h && cw <= w && (ch != h || cw != w)) {
        int top = (int)lround((h - ch) / 2.0), left = (int)lround((w - cw) / 2.0);
        b = malloc((size_t)C * ch * cw * sizeof(float));
        if (!b) {
            st = xcnn_fail(&e, XCNN_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int c = 0; c < C; c++)
            for (int y = 0; y < ch; y++)
                memcpy(b + ((size_t)c * ch + y) * cw, a + ((size_t)c * h + y + top) * w + left,
                       (size_t)cw * sizeof(float));
        free(a);
        a = b;
        b = NULL;
        h = ch;
        w = cw;
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
    if (st && errbuf && err_size) snprintf(errbuf, err_size, "%s", e.msg);
    return st;
}
