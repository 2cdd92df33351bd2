/*
 * Heatmaps a person can read: the attribution's absolute value summed over
 * channels, divided by its maximum, coloured with viridis (perceptually
 * uniform, readable in grey and by colour-blind readers), optionally
 * blended over the input image, and scaled up so small inputs (28x28) are
 * visible.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn.h"
#include "../../include/xcnn_image.h"
#include "resize.h"
#include "png_write.h"
#include "../base/format.h"

/* viridis at 0, 0.1, ..., 1 (matplotlib's table, 11 samples). */
static const unsigned char viridis[11][3] = {
    {68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},
    {42, 120, 142}, {33, 145, 140}, {34, 168, 132}, {68, 191, 112},
    {122, 209, 81}, {189, 223, 38}, {253, 231, 37}};

static void colour(float v, float rgb[3])
{
    if (!(v > 0)) v = 0;
    if (v > 1) v = 1;
    float pos = v * 10;
    int i = (int)pos;
    if (i > 9) i = 9;
    float f = pos - (float)i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (1 - f) * viridis[i][c] + f * viridis[i + 1][c];
}

static int over_caps(int h, int w)
{
    return h > XCNN_IMAGE_MAX_SIDE || w > XCNN_IMAGE_MAX_SIDE ||
           (int64_t)h * w > XCNN_IMAGE_MAX_PIXELS;
}

/* The arguments both heatmap calls share, with a message naming the bad
 * one (err may be NULL: xcnn_heatmap_rgb has no error buffer). */
static xcnn_status check_args(const float *attr, int channels, int h, int w, const float *image,
                              int image_channels, int H, int W, xcnn_err *e)
{
    if (!attr) return xcnn_fail(e, XCNN_ERR_ARG, "heatmap: attr is NULL");
    if (channels < 1 || h < 1 || w < 1)
        return xcnn_fail(e, XCNN_ERR_ARG, "heatmap: the attribution is %dx%dx%d (channels x h x "
                         "w, each at least 1)", channels, h, w);
    if (H < 1 || W < 1)
        return xcnn_fail(e, XCNN_ERR_ARG, "heatmap: the output size is %dx%d (H x W, each at "
                         "least 1)", H, W);
    if (image && image_channels != 1 && image_channels != 3)
        return xcnn_fail(e, XCNN_ERR_ARG, "heatmap: the image has %d channels (1 or 3)",
                         image_channels);
    if (over_caps(h, w) || over_caps(H, W))
        return xcnn_fail(e, XCNN_ERR_LIMIT, "heatmap: %dx%d to %dx%d is over the image limit "
                         "(%d per side, %lld pixels)", h, w, H, W, XCNN_IMAGE_MAX_SIDE,
                         (long long)XCNN_IMAGE_MAX_PIXELS);
    return XCNN_OK;
}

/* A colour component in 0..255: NaN and inf attributions or image
 * values must not reach the float-to-byte conversion (undefined there). */
static unsigned char to_byte(float v)
{
    if (!(v > 0)) return 0;
    if (v >= 255) return 255;
    return (unsigned char)(v + 0.5f);
}

xcnn_status xcnn_heatmap_rgb(const float *attr, int channels, int h, int w, const float *image,
                             int image_channels, int H, int W, unsigned char *rgb, int OH, int OW)
{
    xcnn_status st = check_args(attr, channels, h, w, image, image_channels, H, W, NULL);
    if (st) return st;
    if (!rgb || OH < 1 || OW < 1) return XCNN_ERR_ARG;
    if (over_caps(OH, OW)) return XCNN_ERR_LIMIT;
    size_t hw = (size_t)h * (size_t)w, HW = (size_t)H * (size_t)W;
    float *map = malloc(hw * sizeof(float));
    float *big = malloc(HW * sizeof(float));
    if (!map || !big) {
        free(map);
        free(big);
        return XCNN_ERR_NOMEM;
    }
    float peak = 0;
    for (size_t p = 0; p < hw; p++) {
        float s = 0;
        for (int c = 0; c < channels; c++) s += fabsf(attr[(size_t)c * hw + p]);
        map[p] = s;
        if (s > peak) peak = s;
    }
    for (size_t p = 0; p < hw; p++) map[p] = peak > 0 ? map[p] / peak : 0;
    if (h == H && w == W) memcpy(big, map, HW * sizeof(float));
    else xcnn_resize_bilinear(map, h, w, big, H, W);

    /* The image is shown in grey, stretched to its own range. */
    float lo = 0, hi = 1;
    if (image) {
        lo = hi = image[0];
        for (size_t i = 0; i < (size_t)image_channels * HW; i++) {
            if (image[i] < lo) lo = image[i];
            if (image[i] > hi) hi = image[i];
        }
    }
    for (int y = 0; y < OH; y++)
        for (int x = 0; x < OW; x++) {
            size_t sy = (size_t)((int64_t)y * H / OH), sx = (size_t)((int64_t)x * W / OW);
            size_t at = sy * (size_t)W + sx;
            float c[3];
            colour(big[at], c);
            if (image) {
                float g = 0;
                for (int k = 0; k < image_channels; k++) g += image[(size_t)k * HW + at];
                g = hi > lo ? (g / image_channels - lo) / (hi - lo) * 255 : 0;
                for (int k = 0; k < 3; k++) c[k] = 0.55f * c[k] + 0.45f * g;
            }
            unsigned char *px = rgb + ((size_t)y * (size_t)OW + (size_t)x) * 3;
            for (int k = 0; k < 3; k++) px[k] = to_byte(c[k]);
        }
    free(map);
    free(big);
    return XCNN_OK;
}

xcnn_status xcnn_heatmap_png(const char *path, const float *attr, int channels, int h, int w,
                             const float *image, int image_channels, int H, int W,
                             char *errbuf, size_t err_size)
{
    xcnn_err err = {{0}};
    unsigned char *rgb = NULL;
    xcnn_status st = !path ? xcnn_fail(&err, XCNN_ERR_ARG, "heatmap: path is NULL")
                           : check_args(attr, channels, h, w, image, image_channels, H, W, &err);
    if (st) goto done;
    /* Scale up so the short side is at least 224 pixels, staying within
     * the caps (a 16384x1 map is not scaled up). */
    int scale = 1;
    while ((H < W ? H : W) * scale < 224 && scale < 16 && !over_caps(H * (scale + 1),
                                                                      W * (scale + 1)))
        scale++;
    int OH = H * scale, OW = W * scale;
    rgb = malloc((size_t)OH * (size_t)OW * 3);
    if (!rgb) {
        st = xcnn_fail(&err, XCNN_ERR_NOMEM, "heatmap: out of memory for %dx%d pixels", OW, OH);
        goto done;
    }
    st = xcnn_heatmap_rgb(attr, channels, h, w, image, image_channels, H, W, rgb, OH, OW);
    if (st) xcnn_fail(&err, st, "heatmap: %s", st == XCNN_ERR_NOMEM
                                                   ? "out of memory for the resized map"
                                                   : "bad arguments");
    else st = xcnn_png_write_rgb(path, rgb, OW, OH, &err);
done:
    free(rgb);
    if (st && errbuf && err_size) xcnn_format(errbuf, err_size, "%s", err.msg);
    return st;
}
