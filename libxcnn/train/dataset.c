/*
 * Datasets for training: idx files (MNIST, Fashion-MNIST) as normalised
 * floats, gathering a mini-batch by index, and a seeded shuffle.
 *
 *   x = (byte / 255 - mean) / std
 *
 * Fashion-MNIST's training set has mean 0.2860 and std 0.3530 on [0, 1].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_image.h"
#include "../../include/xcnn_train.h"
#include "../base/rng.h"
#include "../base/format.h"

static xcnn_status fail(char *err, size_t size, xcnn_status st, const char *msg,
                        const char *path)
{
    if (err && size) xcnn_format(err, size, "%s: %s", path, msg);
    return st;
}

xcnn_status xcnn_dataset_load_idx(const char *images_path, const char *labels_path,
                                  float mean, float std, xcnn_dataset *out, char *err,
                                  size_t err_size)
{
    if (!images_path || !labels_path || !out) {
        if (err && err_size)
            xcnn_format(err, err_size, "xcnn_dataset_load_idx: paths and out must not be NULL");
        return XCNN_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    /* Both ends of the byte range must normalise to finite floats: a NaN
     * mean or a std of 1e-45 would fill the set with NaN or inf. */
    float inv_std = 1.0f / std;
    if (!isfinite(mean) || !(std > 0) || !isfinite(std) || !isfinite(inv_std) ||
        !isfinite((0.0f - mean) * inv_std) || !isfinite((1.0f - mean) * inv_std))
        return fail(err, err_size, XCNN_ERR_ARG, "mean and std must be finite, std > 0, and "
                    "(x - mean) / std finite for x in [0, 1]", images_path);
    xcnn_idx img = {0}, lab = {0};
    xcnn_status st = xcnn_idx_read(images_path, &img, err, err_size);
    if (st) return st;
    st = xcnn_idx_read(labels_path, &lab, err, err_size);
    if (st) {
        xcnn_idx_free(&img);
        return st;
    }
    if (img.ndim != 3 || img.dims[1] < 1 || img.dims[2] < 1 || img.dims[0] > (1 << 30))
        st = fail(err, err_size, XCNN_ERR_SHAPE, "expected images [n, rows, cols]", images_path);
    else if (lab.ndim != 1 || lab.dims[0] != img.dims[0])
        st = fail(err, err_size, XCNN_ERR_SHAPE, "expected one label per image", labels_path);
    if (!st) {
        out->n = (int)img.dims[0];
        out->channels = 1;
        out->height = (int)img.dims[1];
        out->width = (int)img.dims[2];
        out->x = malloc((img.size ? img.size : 1) * sizeof(float));
        out->y = malloc((size_t)(out->n ? out->n : 1) * sizeof(int));
        if (!out->x || !out->y) st = fail(err, err_size, XCNN_ERR_NOMEM, "out of memory", images_path);
    }
    if (!st) {
        float inv = 1.0f / std;
        for (size_t i = 0; i < img.size; i++)
            out->x[i] = ((float)img.data[i] / 255.0f - mean) * inv;
        for (int i = 0; i < out->n; i++) {
            out->y[i] = lab.data[i];
            if (out->y[i] + 1 > out->classes) out->classes = out->y[i] + 1;
        }
    }
    xcnn_idx_free(&img);
    xcnn_idx_free(&lab);
    if (st) xcnn_dataset_free(out);
    return st;
}

void xcnn_dataset_free(xcnn_dataset *d)
{
    if (!d) return;
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
}

xcnn_status xcnn_dataset_gather(const xcnn_dataset *d, const int *idx, int count, float *x,
                                int *y)
{
    if (!d || count < 0 || (count > 0 && (!idx || !x || !d->x || (y && !d->y))))
        return XCNN_ERR_ARG;
    if (d->channels < 0 || d->height < 0 || d->width < 0) return XCNN_ERR_ARG;
    /* d->x holds n samples: a size past PTRDIFF_MAX bytes cannot be real
     * (it wrapped or was made up), and would be a wild memcpy */
    if (d->width && d->n > 0 &&
        (size_t)d->channels * (size_t)d->height >
            (size_t)PTRDIFF_MAX / sizeof(float) / (size_t)d->n / (size_t)d->width)
        return XCNN_ERR_ARG;
    /* every index first: nothing is copied from a bad request */
    for (int i = 0; i < count; i++)
        if (idx[i] < 0 || idx[i] >= d->n) return XCNN_ERR_ARG;
    size_t per = (size_t)d->channels * d->height * d->width;
    for (int i = 0; i < count; i++) {
        memcpy(x + (size_t)i * per, d->x + (size_t)idx[i] * per, per * sizeof(float));
        if (y) y[i] = d->y[idx[i]];
    }
    return XCNN_OK;
}

xcnn_status xcnn_shuffle(int *perm, int n, uint64_t *rng)
{
    if (n < 0 || !rng || (n > 0 && !perm)) return XCNN_ERR_ARG;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)xcnn_rng_below(rng, (uint64_t)i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return XCNN_OK;
}
