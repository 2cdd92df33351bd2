/*
 * A hint to the operating system about a large block of memory.
 */
#ifndef XCNN_PAGES_H
#define XCNN_PAGES_H

#include <stddef.h>

/* Blocks at least this large get the hint (two huge pages of 2 MiB). */
#define XCNN_HUGE_HINT_BYTES ((size_t)4 << 20)

/* Ask for huge pages for the 2 MiB-aligned part of [p, p + bytes), where
 * the system offers them only on request (Linux's transparent huge pages
 * in "madvise" mode, the default of many distributions). Each first touch
 * of a 4 KiB page is a fault; on the VM these figures come from a fault
 * costs about 8 us, and the first batch of Fashion-MNIST saliency maps
 * (32 inputs, 42 MB of activations and gradients) took 85 ms instead of
 * 7.5 ms: 10 500 faults. A huge page is one fault per 2 MiB. Nothing on
 * other systems, or where the request is refused: a hint only. */
void xcnn_pages_hint_huge(void *p, size_t bytes);

#endif
