/*
 * Resizing planes the way PyTorch does it, so that Grad-CAM maps equal
 * torch.nn.functional.interpolate's and images are resized as torchvision
 * does (without antialiasing):
 *   bilinear, align_corners=False: the source coordinate of output pixel d
 *     is (d + 0.5) * in/out - 0.5 ("half-pixel centres"), clamped at 0;
 *     the two neighbours are floor(src) and min(floor(src) + 1, in - 1).
 *   nearest: source index floor(d * in / out).
 */
#include <stdint.h>
#include "resize.h"

static void source_index(int d, int in, int out, int *i0, int *i1, float *frac)
{
    float scale = (float)in / (float)out;
    float src = scale * ((float)d + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int i = (int)src;
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    *frac = src - (float)i;
}

void xcnn_resize_bilinear(const float *src, int h, int w, float *dst, int H, int W)
{
    for (int y = 0; y < H; y++) {
        int y0, y1;
        float fy;
        source_index(y, h, H, &y0, &y1, &fy);
        for (int x = 0; x < W; x++) {
            int x0, x1;
            float fx;
            source_index(x, w, W, &x0, &x1, &fx);
            float top = (1 - fx) * src[y0 * w + x0] + fx * src[y0 * w + x1];
            float bot = (1 - fx) * src[y1 * w + x0] + fx * src[y1 * w + x1];
            dst[y * W + x] = (1 - fy) * top + fy * bot;
        }
    }
}

void xcnn_resize_nearest(const float *src, int h, int w, float *dst, int H, int W)
{
    for (int y = 0; y < H; y++) {
        int sy = (int)((int64_t)y * h / H);
        for (int x = 0; x < W; x++) {
            int sx = (int)((int64_t)x * w / W);
            dst[y * W + x] = src[sy * w + sx];
        }
    }
}
