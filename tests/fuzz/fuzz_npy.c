/*
 * libFuzzer harness: .npy bytes -> xcnn_npy_read. The reader takes a path,
 * so each input is written to a file of its own in /dev/shm (or /tmp)
 * first; the file is removed after each run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "../../include/xcnn.h"

static int write_temp(const uint8_t *data, size_t size, char *path, size_t path_size)
{
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, path_size, "%s/xcnn_fuzz_npy_%ld.npy", dir, (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    return (fclose(f) == 0 && put == size) ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128], err[256];
    if (write_temp(data, size, path, sizeof path)) return 0;
    float *x = NULL;
    int ndim = 0;
    int64_t dims[XCNN_MAX_DIMS];
    if (xcnn_npy_read(path, &x, &ndim, dims, err, sizeof err) == XCNN_OK) {
        /* Touch every element: the shape must describe what was allocated. */
        size_t n = 1;
        volatile float sum = 0;
        for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
        for (size_t i = 0; i < n; i++) sum += x[i];
        (void)sum;
        free(x);
    }
    remove(path);
    return 0;
}
