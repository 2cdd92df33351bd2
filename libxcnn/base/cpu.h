/*
 * What the CPU can run, for choosing a GEMM micro-kernel at run time.
 *
 * On aarch64, NEON (Advanced SIMD) is part of the architecture: every
 * core has it and every OS saves its registers, so it needs no test.
 *
 * On x86, an instruction set is usable only if the CPU has it (cpuid) AND the
 * operating system saves its registers on a context switch (the OSXSAVE
 * bit, then XCR0 read by xgetbv: bits 1-2 for the ymm state, bits 5-7 for
 * the AVX-512 opmask and zmm state).
 */
#ifndef XCNN_CPU_H
#define XCNN_CPU_H

typedef struct xcnn_cpu_info {
    int avx2_fma;    /* AVX2 and FMA3, ymm state enabled by the OS        */
    int avx512f;     /* AVX-512 Foundation, zmm state enabled by the OS  */
    int neon;        /* aarch64 Advanced SIMD (always, on aarch64)        */
    char brand[49];  /* "AMD EPYC ..." from cpuid, "" if unknown          */
} xcnn_cpu_info;

/* Full detection with the cpuid and xgetbv instructions. Under a
 * hypervisor every cpuid traps (microseconds), so call this once, not per
 * GEMM. Pure: same answer every call, no state kept. */
void xcnn_cpu_detect(xcnn_cpu_info *out);

/* Cheap checks for the GEMM dispatch (tens of nanoseconds): the cpuid
 * bits the C runtime read once at program start (__builtin_cpu_supports)
 * plus our own xgetbv check of the OS state. 0 on non-x86 builds and
 * with XCNN_NO_SIMD. */
int xcnn_cpu_has_avx2_fma(void);
int xcnn_cpu_has_avx512f(void);
/* 1 on aarch64 builds, 0 elsewhere and with XCNN_NO_SIMD. */
int xcnn_cpu_has_neon(void);

/*
 * XCNN_VECTOR_CLONES before a function with plain C loops (elementwise
 * ops, transforms) builds it three times, for AVX-512, AVX2 and baseline
 * x86-64, and the loader picks the one this CPU runs (GCC's and Clang's
 * target_clones). The C is the same, so the bits are too: no FMA
 * contraction under -std=c11, no reassociation. The baseline clone is the
 * portable path; `make SIMD=0` and non-x86 builds compile only that.
 */
/* ThreadSanitizer's runtime is not up yet when the loader runs the clones'
 * resolvers (ifuncs), and crashes: its builds get the baseline code. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define XCNN_UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define XCNN_UNDER_TSAN 1
#endif
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && defined(__linux__) && \
    !defined(XCNN_NO_SIMD) && !defined(XCNN_UNDER_TSAN)
#define XCNN_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define XCNN_VECTOR_CLONES
#endif

#endif
