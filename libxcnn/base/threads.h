/*
 * The two OpenMP questions the per-thread scratch slots ask, answered the
 * same way with and without OpenMP (make OMP=0: one thread, number 0).
 */
#ifndef XCNN_THREADS_H
#define XCNN_THREADS_H

#include <stddef.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many elements of work an op runs on one thread: an OpenMP
 * region costs microseconds on an idle machine and a whole time slice when
 * another program holds a core, far more than a small layer takes. */
#define XCNN_PARALLEL_MIN 262144
/* The same for loops that move data with index arithmetic per element
 * (im2col, col2im, a transposed copy): about ten times the cost per
 * element of a vectorised elementwise op, so worth threads ten times
 * sooner. ResNet's layer4 im2col (225K elements) ran on one thread while
 * the other waited: 2 ms of each forward and backward at batch 2. */
#define XCNN_PARALLEL_MIN_COPY 32768

/* Threads a parallel region started here would get. */
static inline int xcnn_threads_max(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* The calling thread's number in its region (0 outside any). */
static inline int xcnn_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Threads in the calling thread's team (1 outside any region): a region
 * may get fewer than it asked for (OMP_THREAD_LIMIT, OMP_DYNAMIC). */
static inline int xcnn_team_size(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* Whether to start a parallel region for a loop whose work is `worth` one:
 * only when the region would get more than one thread. A loop that would
 * run on one thread is called directly instead, because libgomp enters a
 * region even when its `if` clause is false and leaves it with a futex
 * wake-up, a system call (1-3 us). A forward and backward of the
 * Fashion-MNIST model enters about 150 regions, and inside
 * xcnn_exec_sample_passes, where every thread runs a sample of its own,
 * every one of them is one-threaded: saliency maps of that model ran at
 * 1080 a second on two threads with them, 2800 without. */
static inline int xcnn_fork_worth(int worth)
{
    return worth && xcnn_threads_max() > 1;
}

/* The heavy loops (GEMM tasks, Winograd planes and positions, im2col jobs,
 * depthwise planes, activations) are shared out with schedule(static):
 * the same thread gets the same part of the work call after call, so the
 * part of a tensor one op wrote is still in the caches of the thread that
 * the next op, or the next call, reads it on. Handed out dynamically, the
 * halves landed on either core at random, and on this VM a 2-thread
 * MobileNetV2 forward took longer than a 1-thread one (12.7 ms against
 * 11.1; static: 8.9); ResNet-18's went from 15.5 to 13 ms. The price: a
 * core slowed by another program is waited for instead of worked around. */

/* Threads for a region whose `pieces` pieces each need a slot of
 * `per_slot` floats of a scratch of `room` floats: as many as there are
 * slots, pieces and threads, and at least one. */
static inline int xcnn_scratch_slots(size_t room, size_t per_slot, int pieces)
{
    size_t slots = per_slot ? room / per_slot : 1;
    if (slots > (size_t)xcnn_threads_max()) slots = (size_t)xcnn_threads_max();
    if (slots > (size_t)pieces) slots = (size_t)pieces;
    return slots > 0 ? (int)slots : 1;
}

#endif
