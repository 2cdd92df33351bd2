/*
 * libFuzzer harness: idx bytes, raw or gzip -> xcnn_idx_read (which takes a
 * path: each input goes to a file in /dev/shm or /tmp first).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "../../include/xcnn_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128], err[256];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/xcnn_fuzz_idx_%ld.idx", dir, (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || put != size) {
        remove(path);
        return 0;
    }
    xcnn_idx idx;
    if (xcnn_idx_read(path, &idx, err, sizeof err) == XCNN_OK) {
        volatile unsigned sum = 0;
        for (size_t i = 0; i < idx.size; i++) sum += idx.data[i];
        (void)sum;
        xcnn_idx_free(&idx);
    }
    remove(path);
    return 0;
}
