/* The huge-page hint (pages.h). madvise and MADV_HUGEPAGE are Linux's, outside
 * the POSIX level the rest of the library asks for: this file alone asks for
 * glibc's default feature set. */
#if defined(__linux__)
#define _DEFAULT_SOURCE 1
#include <stdint.h>
#include <sys/mman.h>
#endif
#include "pages.h"

void xcnn_pages_hint_huge(void *p, size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (!p || bytes < XCNN_HUGE_HINT_BYTES) return;
    uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}
