/*
 * The decoded image (xcnn_image in include/xcnn_image.h): every decoder
 * fills one, and frees it on failure with this.
 */
#include <stdlib.h>
#include <string.h>
#include "inflate.h"

void xcnn_image_free(xcnn_image *img)
{
    if (!img) return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}
