/* PNG output (8-bit gray or RGB), for heatmaps and sample images. */
#ifndef XCNN_PNG_WRITE_H
#define XCNN_PNG_WRITE_H

#include "../base/error.h"

/* pixels: height rows of width*channels bytes; channels 1 or 3. */
xcnn_status xcnn_png_write(const char *path, const unsigned char *pixels, int width, int height,
                           int channels, xcnn_err *err);
/* The same for RGB. */
xcnn_status xcnn_png_write_rgb(const char *path, const unsigned char *rgb, int width, int height,
                               xcnn_err *err);

#endif
