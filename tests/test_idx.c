/* idx files (MNIST format), raw and gzip: small made-up files, every
 * refusal, and the real Fashion-MNIST files when installed
 * (apt-get install dataset-fashion-mnist; XCNN_FASHION_MNIST=DIR to look
 * elsewhere), checked against facts computed with Python's gzip + numpy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "check.h"
#include "../include/xcnn_image.h"
#include "../libxcnn/io/inflate.h"

static const char *tmp;

static void write_file(const unsigned char *d, size_t n)
{
    FILE *f = fopen(tmp, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

/* A gzip member around our deflate output (the zlib wrapper stripped). */
static unsigned char *gzip_of(const unsigned char *d, size_t n, size_t *gn)
{
    unsigned char *z = NULL;
    size_t zn = 0;
    xcnn_zlib_encode(d, n, 6, &z, &zn, NULL);
    unsigned char *g = malloc(zn + 18);
    static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    memcpy(g, hdr, 10);
    memcpy(g + 10, z + 2, zn - 6);
    size_t p = 10 + zn - 6;
    uint32_t crc = xcnn_crc32(0, d, n), len = (uint32_t)n;
    for (int k = 0; k < 4; k++) g[p + (size_t)k] = (unsigned char)(crc >> (8 * k));
    for (int k = 0; k < 4; k++) g[p + 4 + (size_t)k] = (unsigned char)(len >> (8 * k));
    *gn = p + 8;
    free(z);
    return g;
}

static void made_up(void)
{
    /* images [2, 3, 4] */
    unsigned char f[16 + 24];
    static const unsigned char hdr[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
    memcpy(f, hdr, 16);
    for (int i = 0; i < 24; i++) f[16 + i] = (unsigned char)(i * 10);
    xcnn_idx idx;
    char err[512] = "";
    for (int gz = 0; gz < 2; gz++) {
        size_t gn = sizeof f;
        unsigned char *g = gz ? gzip_of(f, sizeof f, &gn) : f;
        write_file(g, gn);
        xcnn_status st = xcnn_idx_read(tmp, &idx, err, sizeof err);
        check(st == XCNN_OK && idx.ndim == 3 && idx.dims[0] == 2 && idx.dims[1] == 3 && idx.dims[2] == 4 &&
                  idx.size == 24 && memcmp(idx.data, f + 16, 24) == 0,
              "%s idx [2, 3, 4] read (%s)", gz ? "gzip" : "raw", err);
        xcnn_idx_free(&idx);
        if (gz) {
            g[gn / 2] ^= 0x21;
            write_file(g, gn);
            st = xcnn_idx_read(tmp, &idx, err, sizeof err);
            check(st == XCNN_ERR_FORMAT && strstr(err, tmp) && !idx.data, "damaged gzip refused: %s", err);
            g[gn / 2] ^= 0x21;
            write_file(g, gn - 3);
            st = xcnn_idx_read(tmp, &idx, err, sizeof err);
            check(st == XCNN_ERR_FORMAT && !idx.data, "truncated gzip refused: %s", err);
            free(g);
        }
    }
    unsigned char lab[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9};
    write_file(lab, sizeof lab);
    check(xcnn_idx_read(tmp, &idx, err, sizeof err) == XCNN_OK && idx.ndim == 1 && idx.size == 3 &&
              idx.data[2] == 9,
          "labels [3] read");
    xcnn_idx_free(&idx);

    struct { unsigned char d[20]; size_t n; xcnn_status st; const char *what; } bad[] = {
        {{1, 0, 8, 1, 0, 0, 0, 1, 5}, 9, XCNN_ERR_FORMAT, "bad magic"},
        {{0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0}, 12, XCNN_ERR_UNSUPPORTED, "0x0d"},
        {{0, 0, 8, 0}, 4, XCNN_ERR_UNSUPPORTED, "0 dimensions"},
        {{0, 0, 8, 5}, 4, XCNN_ERR_UNSUPPORTED, "5 dimensions"},
        {{0, 0, 8, 3, 0, 0, 0, 2}, 8, XCNN_ERR_FORMAT, "header is truncated"},
        {{0, 0, 8, 1, 0, 0, 0, 3, 1, 2}, 10, XCNN_ERR_FORMAT, "has 2 bytes, the header says 3"},
        {{0, 0, 8, 1, 0, 0, 0, 1, 1, 2}, 10, XCNN_ERR_FORMAT, "has 2 bytes, the header says 1"},
        {{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2}, 16, XCNN_ERR_LIMIT,
         "larger than"},
        {{0, 0}, 2, XCNN_ERR_FORMAT, "not an idx file"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(bad[i].d, bad[i].n);
        err[0] = 0;
        xcnn_status st = xcnn_idx_read(tmp, &idx, err, sizeof err);
        check(st == bad[i].st && strstr(err, bad[i].what) && !idx.data, "bad idx %zu refused: %s", i, err);
    }
    xcnn_status st = xcnn_idx_read("build/no/such.idx", &idx, err, sizeof err);
    check(st == XCNN_ERR_IO && strstr(err, "build/no/such.idx"), "missing file: %s", err);
}

/* One Fashion-MNIST split: counts, shapes, label histogram, first labels,
 * the sum of all pixels and row 14 of the first image (from numpy). */
static void fashion(const char *dir, const char *split, int64_t n, const int first[10], long long pixel_sum,
                    const int row14[28])
{
    char path[1024], err[512] = "";
    xcnn_idx im, lb;
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, split);
    clock_t t0 = clock();
    xcnn_status st = xcnn_idx_read(path, &im, err, sizeof err);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (!check(st == XCNN_OK, "%s images read in %.2f s (%s)", split, secs, err)) return;
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    st = xcnn_idx_read(path, &lb, err, sizeof err);
    if (check(st == XCNN_OK, "%s labels read (%s)", split, err)) {
        check(im.ndim == 3 && im.dims[0] == n && im.dims[1] == 28 && im.dims[2] == 28,
              "%s images are [%lld, 28, 28]", split, (long long)n);
        check(lb.ndim == 1 && lb.dims[0] == n, "%s labels are [%lld]", split, (long long)n);
        int hist[256] = {0};
        for (size_t i = 0; i < lb.size; i++) hist[lb.data[i]]++;
        int even = 1;
        for (int c = 0; c < 256; c++) even &= hist[c] == (c < 10 ? (int)(n / 10) : 0);
        check(even, "%s: labels 0..9, %lld of each", split, (long long)(n / 10));
        int same = lb.size >= 10;
        for (int i = 0; same && i < 10; i++) same = lb.data[i] == first[i];
        check(same, "%s: first ten labels %d %d %d %d %d ...", split, first[0], first[1], first[2], first[3],
              first[4]);
        long long sum = 0;
        for (size_t i = 0; i < im.size; i++) sum += im.data[i];
        check(sum == pixel_sum, "%s: sum of all pixels %lld (numpy: %lld)", split, sum, pixel_sum);
        same = 1;
        for (int x = 0; x < 28; x++) same &= im.data[14 * 28 + x] == row14[x];
        check(same, "%s: row 14 of image 0 as numpy reads it", split);
        xcnn_idx_free(&lb);
    }
    xcnn_idx_free(&im);
}

int main(void)
{
    tmp = test_tmp_path("test_idx.tmp");
    made_up();
    remove(tmp);
    const char *dir = getenv("XCNN_FASHION_MNIST");
    if (!dir) dir = "/usr/share/datasets/fashion-mnist";
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/t10k-labels-idx1-ubyte.gz", dir);
    FILE *f = fopen(probe, "rb");
    if (!f) {
        check_skip("Fashion-MNIST not found in %s (apt-get install dataset-fashion-mnist)", dir);
        return check_summary();
    }
    fclose(f);
    static const int train_first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    static const int test_first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    static const int train_row[28] = {0,   0,   1,   4,   6,   7,   2,   0,   0,   0,
                                      0,   0,   237, 226, 217, 223, 222, 219, 222, 221,
                                      216, 223, 229, 215, 218, 255, 77,  0};
    static const int test_row[28] = {0,   0,   0,   0,   0,   0,   2,   4,   1,   0,
                                     0,   0,   98,  136, 110, 109, 110, 162, 135, 144,
                                     149, 159, 167, 144, 158, 169, 119, 0};
    fashion(dir, "train", 60000, train_first, 3431114169LL, train_row);
    fashion(dir, "t10k", 10000, test_first, 573469082LL, test_row);
    return check_summary();
}
