/* Resizing one h x w float plane to H x W, as torch.nn.functional.interpolate
 * does (resize.c): bilinear with align_corners=False, and nearest. */
#ifndef XCNN_RESIZE_H
#define XCNN_RESIZE_H

void xcnn_resize_bilinear(const float *src, int h, int w, float *dst, int H, int W);
/* Rows top .. top+oh-1 and columns left .. left+ow-1 of the H x W resize
 * of src, into dst (oh x ow): the same values as resizing whole and then
 * cropping, without the whole (resize then centre crop in preprocess.c). */
void xcnn_resize_bilinear_window(const float *src, int h, int w, float *dst, int H, int W,
                                 int top, int left, int oh, int ow);
void xcnn_resize_nearest(const float *src, int h, int w, float *dst, int H, int W);

#endif
