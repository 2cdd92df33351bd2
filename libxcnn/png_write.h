/* PNG output (uncompressed deflate), for heatmaps. */
#ifndef XCNN_PNG_WRITE_H
#define XCNN_PNG_WRITE_H

#include "error.h"

/* rgb: height rows of width*3 bytes. */
xcnn_status xcnn_png_write_rgb(const char *path, const unsigned char *rgb, int width, int height,
                               xcnn_err *err);

#endif
