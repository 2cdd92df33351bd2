/* .npy reading and writing: round trip, and every refusal. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "../include/xcnn.h"

static const char *tmp;

static void write_raw(const char *header, const void *data, size_t n)
{
    FILE *f = fopen(tmp, "wb");
    size_t hl = strlen(header);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)hl, 0};
    fwrite(pre, 1, 10, f);
    fwrite(header, 1, hl, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static xcnn_status read_tmp(char *err, size_t size)
{
    float *d = NULL;
    int nd;
    int64_t dims[XCNN_MAX_DIMS];
    xcnn_status st = xcnn_npy_read(tmp, &d, &nd, dims, err, size);
    free(d);
    return st;
}

int main(void)
{
    tmp = test_tmp_path("test_npy.tmp");
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i * 0.5f - 3;
    int64_t dims[4] = {1, 2, 3, 4};
    char err[512];
    check(xcnn_npy_write(tmp, v, 4, dims, err, sizeof err) == XCNN_OK, "write 1x2x3x4");
    float *r = NULL;
    int nd = 0;
    int64_t rd[XCNN_MAX_DIMS];
    xcnn_status st = xcnn_npy_read(tmp, &r, &nd, rd, err, sizeof err);
    check(st == XCNN_OK && nd == 4 && rd[0] == 1 && rd[1] == 2 && rd[2] == 3 && rd[3] == 4,
          "read back shape");
    check(r && memcmp(r, v, sizeof v) == 0, "read back values bit-exact");
    free(r);
    int64_t d1[1] = {5};
    check(xcnn_npy_write(tmp, v, 1, d1, err, sizeof err) == XCNN_OK &&
              xcnn_npy_read(tmp, &r, &nd, rd, err, sizeof err) == XCNN_OK && nd == 1 && rd[0] == 5,
          "1-D round trip (shape written as (5,))");
    free(r);

    write_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", v, 16);
    st = read_tmp(err, sizeof err);
    check(st == XCNN_ERR_UNSUPPORTED && strstr(err, "float32"), "float64 refused: %s", err);
    write_raw("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", v, 16);
    st = read_tmp(err, sizeof err);
    check(st == XCNN_ERR_UNSUPPORTED && strstr(err, "Fortran"), "Fortran order refused: %s", err);
    write_raw("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", v, 8);
    check(read_tmp(err, sizeof err) == XCNN_ERR_UNSUPPORTED, "big-endian refused: %s", err);
    write_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n", v, 8);
    check(read_tmp(err, sizeof err) == XCNN_ERR_FORMAT, "short data refused: %s", err);
    write_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", v, 8);
    check(read_tmp(err, sizeof err) == XCNN_ERR_FORMAT, "trailing data refused: %s", err);
    write_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n",
              v, 8);
    check(read_tmp(err, sizeof err) == XCNN_ERR_LIMIT, "overflowing shape refused: %s", err);
    write_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }\n", v, 8);
    check(read_tmp(err, sizeof err) == XCNN_ERR_FORMAT, "malformed shape refused: %s", err);
    write_raw("{'descr': '<f4', 'fortran_order': False}\n", v, 8);
    check(read_tmp(err, sizeof err) == XCNN_ERR_FORMAT, "missing shape refused: %s", err);
    FILE *f = fopen(tmp, "wb");
    fputs("PNG not npy", f);
    fclose(f);
    check(read_tmp(err, sizeof err) == XCNN_ERR_FORMAT, "bad magic refused: %s", err);
    check(xcnn_npy_read("build/no/such/file.npy", &r, &nd, rd, err, sizeof err) == XCNN_ERR_IO,
          "missing file: %s", err);
    /* Truncation at every length of a valid file. */
    check(xcnn_npy_write(tmp, v, 4, dims, err, sizeof err) == XCNN_OK, "rewrite");
    f = fopen(tmp, "rb");
    unsigned char whole[512];
    size_t len = fread(whole, 1, sizeof whole, f);
    fclose(f);
    int all_refused = 1;
    for (size_t cut = 0; cut < len; cut++) {
        f = fopen(tmp, "wb");
        fwrite(whole, 1, cut, f);
        fclose(f);
        if (read_tmp(err, sizeof err) == XCNN_OK) all_refused = 0;
    }
    check(all_refused, "every truncation of a %zu-byte file refused", len);
    remove(tmp);
    return check_summary();
}
