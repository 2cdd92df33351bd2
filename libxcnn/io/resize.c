/*
 * Resizing planes the way PyTorch does it, so that Grad-CAM maps equal
 * torch.nn.functional.interpolate's and images are resized as torchvision
 * does (without antialiasing):
 *   bilinear, align_corners=False: the source coordinate of output pixel d
 *     is (d + 0.5) * in/out - 0.5 ("half-pixel centres"), clamped at 0;
 *     the two neighbours are floor(src) and min(floor(src) + 1, in - 1).
 *   nearest: source index floor(d * in / out).
 */
#include <stddef.h>
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

/* Indices are size_t: a plane may hold more than INT_MAX pixels in the
 * callers' sizes (a 16384 x 16384 map), and y * W + x must not wrap. */
void xcnn_resize_bilinear_window(const float *src, int h, int w, float *dst, int H, int W,
                                 int top, int left, int oh, int ow)
{
    for (int y = 0; y < oh; y++) {
        int y0, y1;
        float fy;
        source_index(top + y, h, H, &y0, &y1, &fy);
        const float *r0 = src + (size_t)y0 * (size_t)w, *r1 = src + (size_t)y1 * (size_t)w;
        float *d = dst + (size_t)y * (size_t)ow;
        for (int x = 0; x < ow; x++) {
            int x0, x1;
            float fx;
            source_index(left + x, w, W, &x0, &x1, &fx);
            float t = (1 - fx) * r0[x0] + fx * r0[x1];
            float b = (1 - fx) * r1[x0] + fx * r1[x1];
            d[x] = (1 - fy) * t + fy * b;
        }
    }
}

void xcnn_resize_bilinear(const float *src, int h, int w, float *dst, int H, int W)
{
    xcnn_resize_bilinear_window(src, h, w, dst, H, W, 0, 0, H, W);
}

void xcnn_resize_nearest(const float *src, int h, int w, float *dst, int H, int W)
{
    for (int y = 0; y < H; y++) {
        size_t sy = (size_t)((int64_t)y * h / H);
        for (int x = 0; x < W; x++) {
            size_t sx = (size_t)((int64_t)x * w / W);
            dst[(size_t)y * (size_t)W + (size_t)x] = src[sy * (size_t)w + sx];
        }
    }
}
