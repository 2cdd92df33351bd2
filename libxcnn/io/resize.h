/* Resizing one h x w float plane to H x W, as torch.nn.functional.interpolate
 * does (resize.c): bilinear with align_corners=False, and nearest. */
#ifndef XCNN_RESIZE_H
#define XCNN_RESIZE_H

void xcnn_resize_bilinear(const float *src, int h, int w, float *dst, int H, int W);
void xcnn_resize_nearest(const float *src, int h, int w, float *dst, int H, int W);

#endif
