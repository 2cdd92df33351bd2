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
#include "resize.h"
#include "png_write.h"

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

xcnn_status xcnn_heatmap_rgb(const float *attr, int channels, int h, int w, const float *image,
                             int image_channels, int H, int W, unsigned char *rgb, int OH, int OW)
{
    if (!attr || !rgb || channels < 1 || h < 1 || w < 1 || H < 1 || W < 1 || OH < 1 || OW < 1 ||
        (image && image_channels != 1 && image_channels != 3))
        return XCNN_ERR_ARG;
    float *map = malloc((size_t)h * w * sizeof(float));
    float *big = malloc((size_t)H * W * sizeof(float));
    if (!map || !big) {
        free(map);
        free(big);
        return XCNN_ERR_NOMEM;
    }
    float peak = 0;
    for (int p = 0; p < h * w; p++) {
        float s = 0;
        for (int c = 0; c < channels; c++) s += fabsf(attr[(size_t)c * h * w + p]);
        map[p] = s;
        if (s > peak) peak = s;
    }
    for (int p = 0; p < h * w; p++) map[p] = peak > 0 ? map[p] / peak : 0;
    if (h == H && w == W) memcpy(big, map, (size_t)H * W * sizeof(float));
    else xcnn_resize_bilinear(map, h, w, big, H, W);

    /* The image is shown in grey, stretched to its own range. */
    float lo = 0, hi = 1;
    if (image) {
        lo = hi = image[0];
        for (size_t i = 0; i < (size_t)image_channels * H * W; i++) {
            if (image[i] < lo) lo = image[i];
            if (image[i] > hi) hi = image[i];
        }
    }
    for (int y = 0; y < OH; y++)
        for (int x = 0; x < OW; x++) {
            int sy = (int)((int64_t)y * H / OH), sx = (int)((int64_t)x * W / OW);
            float c[3];
            colour(big[sy * W + sx], c);
            if (image) {
                float g = 0;
                for (int k = 0; k < image_channels; k++)
                    g += image[(size_t)k * H * W + (size_t)sy * W + sx];
                g = hi > lo ? (g / image_channels - lo) / (hi - lo) * 255 : 0;
                for (int k = 0; k < 3; k++) c[k] = 0.55f * c[k] + 0.45f * g;
            }
            unsigned char *px = rgb + ((size_t)y * OW + x) * 3;
            for (int k = 0; k < 3; k++) px[k] = (unsigned char)(c[k] + 0.5f);
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
    /* Scale up so the short side is at least 224 pixels. */
    int scale = 1;
    while ((H < W ? H : W) * scale < 224 && scale < 16) scale++;
    int OH = H * scale, OW = W * scale;
    unsigned char *rgb = (H > 0 && W > 0 && H <= 16384 && W <= 16384)
                             ? malloc((size_t)OH * OW * 3) : NULL;
    xcnn_status st = !path ? XCNN_ERR_ARG : !rgb ? XCNN_ERR_NOMEM : XCNN_OK;
    if (!st) st = xcnn_heatmap_rgb(attr, channels, h, w, image, image_channels, H, W, rgb, OH, OW);
    if (st) xcnn_fail(&err, st, "heatmap: %s", st == XCNN_ERR_NOMEM ? "out of memory"
                                                                    : "bad arguments");
    else st = xcnn_png_write_rgb(path, rgb, OW, OH, &err);
    free(rgb);
    if (st && errbuf && err_size) snprintf(errbuf, err_size, "%s", err.msg);
    return st;
}
