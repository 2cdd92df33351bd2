/*
 * Reading the PyTorch reference fixtures written by tools/make_fixtures.py:
 * one directory per model with model.onnx, .npy arrays and meta.txt
 * (key=value lines). See tests/fixtures/README.md.
 */
#ifndef XCNN_TEST_FIXTURE_H
#define XCNN_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../include/xcnn.h"

static inline int fixture_exists(const char *dir, const char *file)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return stat(path, &st) == 0;
}

/* Value of `key` in dir/meta.txt into buf; 0 if found. */
static inline int fixture_meta(const char *dir, const char *key, char *buf, size_t size)
{
    char path[1024], line[1024];
    snprintf(path, sizeof path, "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t klen = strlen(key);
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
            char *v = line + klen + 1;
            v[strcspn(v, "\r\n")] = 0;
            size_t len = strlen(v);
            if (len >= size) len = size - 1; /* truncate, as snprintf would */
            memcpy(buf, v, len);
            buf[len] = 0;
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

static inline int fixture_meta_int(const char *dir, const char *key, int dflt)
{
    char buf[64];
    return fixture_meta(dir, key, buf, sizeof buf) == 0 ? atoi(buf) : dflt;
}

/* dir/file as float32 .npy; NULL (and a message) if missing or bad. */
static inline float *fixture_npy(const char *dir, const char *file, size_t *count)
{
    char path[1024], err[512];
    float *data = NULL;
    int ndim;
    int64_t dims[XCNN_MAX_DIMS];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (xcnn_npy_read(path, &data, &ndim, dims, err, sizeof err) != XCNN_OK) {
        printf("     (%s)\n", err);
        return NULL;
    }
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    if (count) *count = n;
    return data;
}

static inline xcnn_model *fixture_model(const char *dir)
{
    char path[1024], err[600];
    xcnn_model *m = NULL;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (xcnn_model_load(path, NULL, &m, err, sizeof err) != XCNN_OK) {
        printf("     (%s: %s)\n", path, err);
        return NULL;
    }
    return m;
}

#endif
