/* The model's allocator: the heap, a caller's buffer, or measuring (mem.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mem.h"
#include "pages.h"

/* Measuring mode keeps its heap blocks in a list, each behind a header one
 * alignment unit long (so the block itself stays 64-byte aligned). */
struct xcnn_mem_block {
    xcnn_mem_block *next;
};

static size_t align_up(size_t n) { return (n + XCNN_MEM_ALIGN - 1) & ~(size_t)(XCNN_MEM_ALIGN - 1); }

void xcnn_mem_init_buffer(xcnn_mem *m, void *buffer, size_t size)
{
    memset(m, 0, sizeof *m);
    uintptr_t at = (uintptr_t)buffer, start = (at + XCNN_MEM_ALIGN - 1) & ~(uintptr_t)(XCNN_MEM_ALIGN - 1);
    size_t lost = (size_t)(start - at);
    m->base = (unsigned char *)start;
    m->size = size > lost ? size - lost : 0;
}

void xcnn_mem_init_measure(xcnn_mem *m)
{
    memset(m, 0, sizeof *m);
    m->measuring = 1;
}

void xcnn_mem_release(xcnn_mem *m)
{
    if (!m || !m->measuring) return;
    for (xcnn_mem_block *b = m->blocks; b;) {
        xcnn_mem_block *next = b->next;
        free(b);
        b = next;
    }
    m->blocks = NULL;
}

size_t xcnn_mem_needed(const xcnn_mem *m)
{
    return m->peak + XCNN_MEM_ALIGN - 1;
}

/* The next block's offset and size by the buffer's rules, in both modes.
 * Returns 0 when it does not fit (a buffer) or overflows. */
static int take(xcnn_mem *m, size_t bytes, size_t *at)
{
    size_t start = align_up(m->used);
    if (start < m->used || bytes > SIZE_MAX - start - XCNN_MEM_ALIGN) return 0;
    if (!m->measuring && start + bytes > m->size) return 0;
    *at = start;
    m->used = start + bytes;
    if (m->used > m->peak) m->peak = m->used;
    return 1;
}

void *xcnn_mem_alloc(xcnn_mem *m, size_t bytes)
{
    if (!m) {
        void *p = malloc(bytes ? bytes : 1);
        xcnn_pages_hint_huge(p, bytes);
        return p;
    }
    size_t at, before = m->used;
    if (!take(m, bytes, &at)) return NULL;
    void *p;
    if (m->measuring) {
        xcnn_mem_block *b = aligned_alloc(XCNN_MEM_ALIGN, align_up(bytes) + XCNN_MEM_ALIGN);
        if (!b) {
            m->used = before;
            return NULL;
        }
        b->next = m->blocks;
        m->blocks = b;
        p = (unsigned char *)b + XCNN_MEM_ALIGN;
    } else {
        p = m->base + at;
    }
    m->last = p;
    m->last_at = at;
    m->last_bytes = bytes;
    return p;
}

void *xcnn_mem_calloc(xcnn_mem *m, size_t count, size_t size)
{
    if (!m) {
        void *p = calloc(count ? count : 1, size ? size : 1);
        if (p && size && count <= SIZE_MAX / size) xcnn_pages_hint_huge(p, count * size);
        return p;
    }
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = xcnn_mem_alloc(m, count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void *xcnn_mem_realloc(xcnn_mem *m, void *p, size_t old_bytes, size_t new_bytes)
{
    if (!m) return realloc(p, new_bytes ? new_bytes : 1);
    if (!p) return xcnn_mem_alloc(m, new_bytes);
    if (p == m->last) { /* the most recent block: grow or shrink it where it is */
        if (new_bytes > SIZE_MAX - m->last_at - XCNN_MEM_ALIGN) return NULL;
        if (!m->measuring && m->last_at + new_bytes > m->size) return NULL;
        if (m->measuring && align_up(new_bytes) > align_up(m->last_bytes)) {
            /* the heap block is only as long as it was asked for: move it,
             * keeping the offsets a buffer would have */
            size_t at = m->last_at;
            m->used = at;
            void *q = xcnn_mem_alloc(m, new_bytes);
            if (!q) {
                m->used = at + m->last_bytes;
                return NULL;
            }
            memcpy(q, p, old_bytes < new_bytes ? old_bytes : new_bytes);
            m->last_at = at;
            return q;
        }
        m->used = m->last_at + new_bytes;
        if (m->used > m->peak) m->peak = m->used;
        m->last_bytes = new_bytes;
        return p;
    }
    void *q = xcnn_mem_alloc(m, new_bytes);
    if (q) memcpy(q, p, old_bytes < new_bytes ? old_bytes : new_bytes);
    return q;
}

void xcnn_mem_free(xcnn_mem *m, void *p)
{
    if (!m) {
        free(p);
        return;
    }
    if (p && p == m->last) { /* the most recent block: its room is free again */
        m->used = m->last_at;
        m->last = NULL;
    }
}

char *xcnn_mem_strdup(xcnn_mem *m, const char *s)
{
    size_t len = strlen(s ? s : "");
    char *d = xcnn_mem_alloc(m, len + 1);
    if (d) memcpy(d, s ? s : "", len + 1);
    return d;
}
