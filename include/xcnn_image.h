/*
 * libxcnn: reading real data. Images (PNG, PPM/PGM) and idx datasets
 * (MNIST, Fashion-MNIST), raw or gzip-compressed, decoded with our own
 * inflate (no zlib).
 *
 * Conventions as in xcnn.h: every function returns an xcnn_status; on
 * failure err (if not NULL) receives a one-line message naming the file and
 * the problem, and nothing is left allocated. Every size read from a file
 * is checked against the file's length and the caps below before anything
 * is allocated from it.
 */
#ifndef XCNN_IMAGE_H
#define XCNN_IMAGE_H

#include "xcnn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XCNN_IMAGE_MAX_SIDE 16384                /* width and height     */
#define XCNN_IMAGE_MAX_PIXELS ((int64_t)1 << 26) /* width * height (64 Mi) */
#define XCNN_DATA_MAX_BYTES ((size_t)1 << 30)    /* files, decoded data  */

/* An 8-bit image, rows top to bottom, channels interleaved:
 * channels 1 = gray, 3 = RGB, 4 = RGBA. pixels holds
 * height * width * channels bytes. */
typedef struct xcnn_image {
    int width, height, channels;
    unsigned char *pixels;
} xcnn_image;

/* Frees img->pixels and zeroes *img. NULL is fine. */
void xcnn_image_free(xcnn_image *img);

/* Read an image, recognised by its first bytes:
 *  - PNG: every standard colour type and bit depth, interlaced or not.
 *    Gray -> 1 channel; RGB and palette -> 3; gray+alpha, RGBA, and any
 *    image with a tRNS transparency chunk -> 4 (gray replicated). 16-bit
 *    samples keep their high byte; 1/2/4-bit gray is scaled to 0..255.
 *  - PNM: P5/P2 (gray, 1 channel) and P6/P3 (RGB, 3 channels), binary or
 *    ASCII, any maxval up to 65535 (scaled to 0..255, rounded).
 * On success *out owns pixels (free with xcnn_image_free); on failure *out
 * is zeroed. Errors: XCNN_ERR_IO, XCNN_ERR_FORMAT (malformed, truncated,
 * bad CRC or checksum), XCNN_ERR_UNSUPPORTED (another format), and
 * XCNN_ERR_LIMIT (over the caps above). */
xcnn_status xcnn_image_read(const char *path, xcnn_image *out, char *err, size_t err_size);

/* The same from memory; name is used in messages (may be NULL). */
xcnn_status xcnn_image_read_memory(const void *data, size_t size, const char *name,
                                   xcnn_image *out, char *err, size_t err_size);

/* Write a binary PGM (P5) for 1 channel or PPM (P6) for 3 channels, maxval
 * 255. Other channel counts give XCNN_ERR_ARG (PNM has no alpha). */
xcnn_status xcnn_image_write_pnm(const char *path, const xcnn_image *img, char *err,
                                 size_t err_size);

/* An idx array (the MNIST format) of unsigned bytes: big-endian header
 * 00 00 08 <ndim>, ndim 32-bit dimensions, then the data in C order.
 * Images are [n, rows, cols] (magic 0x00000803), labels [n] (0x00000801). */
typedef struct xcnn_idx {
    int ndim;                      /* 1 .. 4                      */
    int64_t dims[4];
    size_t size;                   /* product of dims             */
    unsigned char *data;
} xcnn_idx;

/* Read an idx file, raw or gzip-compressed (recognised by its magic, not
 * its name). Only unsigned-byte data (type 0x08) is supported. At most
 * XCNN_DATA_MAX_BYTES are read or decoded. Free with xcnn_idx_free. */
xcnn_status xcnn_idx_read(const char *path, xcnn_idx *out, char *err, size_t err_size);

void xcnn_idx_free(xcnn_idx *idx);

/* Write an 8-bit PNG: 1 channel (gray) or 3 (RGB), deflate-compressed. */
xcnn_status xcnn_image_write_png(const char *path, const xcnn_image *img, char *err,
                                 size_t err_size);

/* --- Preprocessing: image -> model input ------------------------------- */

/* How an image becomes the float tensor a model expects (the order
 * torchvision's usual transforms use): channel conversion, resize, centre
 * crop, then v * scale, then (v - mean[c]) / std[c]. */
typedef struct xcnn_preprocess {
    int channels;          /* 1 gray, 3 colour; 0: whatever the model takes  */
    int bgr;               /* colour channels in B, G, R order (OpenCV)      */
    int resize_short;      /* resize so the short side is this (keep aspect) */
    int resize_h, resize_w;/* or resize to exactly this (0: no resize)       */
    int crop_h, crop_w;    /* centre crop (0: crop to the model's size when
                              the image is larger)                           */
    float scale;           /* default 1/255                                  */
    float mean[3], std[3]; /* default 0 and 1                                */
} xcnn_preprocess;

/* Defaults: scale 1/255, mean 0, std 1, no resize, crop to the model.
 * NULL is ignored. */
void xcnn_preprocess_init(xcnn_preprocess *p);

/* Apply a spec string on top of *p: ';'-separated items
 *   gray | rgb | bgr | scale=S | mean=M[,M,M] | std=S[,S,S] | resize=S |
 *   size=HxW | crop=HxW
 * e.g. "rgb;resize=256;crop=224x224;mean=0.485,0.456,0.406;std=0.229,0.224,0.225".
 * A model may carry one in its "xcnn.preprocess" metadata. Of resize= and
 * size=, the later one (in this spec or a later call) replaces the other.
 * Refused with XCNN_ERR_ARG and a message naming the item, leaving *p
 * unchanged: unknown items, items over 127 characters, sides outside
 * 1..XCNN_IMAGE_MAX_SIDE, size= or crop= over XCNN_IMAGE_MAX_PIXELS,
 * scale and mean that are not finite as float32 (1e39), std that is not a
 * normal float32 (0, 1e-45), and a scale, mean and std that together turn
 * some pixel value 0..255 into inf ("scale=1;std=1e-37"). */
xcnn_status xcnn_preprocess_parse(const char *spec, xcnn_preprocess *p, char *err,
                                  size_t err_size);

/* Turn img into C x H x W floats (C = 1 or 3) in out. If the image is not
 * H x W after the resize and crop steps, it is resized to H x W. Only the
 * cropped window of the resize is computed. Every size is checked before
 * anything is allocated: the image's, H x W and the resize's (resize=384
 * makes a 16384x1 image 6291456x384), against the caps above
 * (XCNN_ERR_LIMIT, naming the item and the sizes); *p is checked as
 * xcnn_preprocess_parse checks a spec (XCNN_ERR_ARG). The image has 1, 3
 * or 4 channels. */
xcnn_status xcnn_image_to_tensor(const xcnn_image *img, const xcnn_preprocess *p, int C, int H,
                                 int W, float *out, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif /* XCNN_IMAGE_H */
