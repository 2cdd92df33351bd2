/*
 * Where a model's memory comes from: the heap, or one buffer the caller
 * owns (xcnn_model_load_static: a device with no heap, or a server that
 * wants one allocation it can see).
 *
 * Every allocation a model makes goes through an xcnn_mem; NULL means the
 * ordinary heap (malloc/free, exactly as before). A buffer is used as a
 * bump allocator: each request takes the next aligned bytes, free() gives
 * memory back only when it is the most recent block (so temporaries made
 * and dropped in turn cost nothing), and realloc() of the most recent
 * block grows it in place. Nothing is ever returned to the caller: the
 * buffer is the caller's, and xcnn_model_free simply stops using it.
 *
 * xcnn_model_plan answers "how big must the buffer be" by running the same
 * load in measuring mode: every request is served from the heap, but the
 * offsets a buffer would have given are tracked with the same rules, so
 * the high-water mark is exactly what the buffer load will need.
 */
#ifndef XCNN_MEM_H
#define XCNN_MEM_H

#include <stddef.h>

/* Every block starts on this boundary (a cache line, one AVX-512 vector):
 * float buffers need it, and one rule keeps the measuring mode exact. */
#define XCNN_MEM_ALIGN 64

typedef struct xcnn_mem_block xcnn_mem_block;

typedef struct xcnn_mem {
    unsigned char *base;  /* the buffer (64-byte aligned), NULL when measuring */
    size_t size;          /* its bytes                                          */
    size_t used;          /* offset of the next free byte                       */
    size_t peak;          /* the most `used` has been: what a buffer must hold  */
    void *last;           /* the most recent block (free/realloc in place)      */
    size_t last_at;       /* its offset                                         */
    size_t last_bytes;    /* its requested size (realloc copies this much)      */
    int measuring;        /* 1: heap-served, offsets only counted               */
    xcnn_mem_block *blocks; /* measuring: every heap block, freed at the end    */
} xcnn_mem;

/* A buffer of `size` bytes at `buffer` (any alignment: the start is moved
 * up to the next 64-byte boundary). */
void xcnn_mem_init_buffer(xcnn_mem *m, void *buffer, size_t size);
/* Measuring mode (xcnn_model_plan). */
void xcnn_mem_init_measure(xcnn_mem *m);
/* Measuring mode: free every heap block it handed out. A buffer: nothing. */
void xcnn_mem_release(xcnn_mem *m);

/* Bytes a caller's buffer needs for what has been allocated so far,
 * including the worst start-alignment loss (63 bytes). */
size_t xcnn_mem_needed(const xcnn_mem *m);

/* The allocator's calls, 64-byte aligned. With m NULL: malloc, calloc,
 * realloc, free (malloc's alignment). Out of room: NULL. */
void *xcnn_mem_alloc(xcnn_mem *m, size_t bytes);
void *xcnn_mem_calloc(xcnn_mem *m, size_t count, size_t size);
/* old_bytes: p's current size (a buffer must copy it when p cannot grow
 * in place; the heap ignores it). */
void *xcnn_mem_realloc(xcnn_mem *m, void *p, size_t old_bytes, size_t new_bytes);
void xcnn_mem_free(xcnn_mem *m, void *p);
/* A copy of s (NULL as ""). */
char *xcnn_mem_strdup(xcnn_mem *m, const char *s);

#endif
