/*
 * CPU feature detection (see cpu.h). x86-64 has AVX2 and AVX-512 kernels,
 * found by cpuid; aarch64 has NEON, always there; every other target
 * reports no features and runs the portable kernel.
 */
#include <string.h>
#include "cpu.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(XCNN_NO_SIMD)
#define XCNN_X86 1
#include <cpuid.h>

/* XCR0 (which register states the OS saves). Only valid when OSXSAVE is
 * set; the encoding avoids needing -mxsave. */
static unsigned xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return lo;
}

enum {
    XCR0_YMM = 0x06,    /* SSE + AVX state                  */
    XCR0_ZMM = 0xe6     /* ... + opmask, zmm0-15 hi, zmm16-31 */
};
#endif
#if defined(__aarch64__) && !defined(XCNN_NO_SIMD)
#define XCNN_ARM64 1
#endif

void xcnn_cpu_detect(xcnn_cpu_info *out)
{
    memset(out, 0, sizeof *out);
    out->neon = xcnn_cpu_has_neon();
#ifdef XCNN_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    unsigned x = osxsave ? xcr0() : 0;
    unsigned max_leaf = (unsigned)__get_cpuid_max(0, NULL);
    unsigned b7 = 0;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        b7 = b;
    }
    int avx2 = (b7 >> 5) & 1, avx512f = (b7 >> 16) & 1;
    out->avx2_fma = avx && avx2 && fma && (x & XCR0_YMM) == XCR0_YMM;
    out->avx512f = out->avx2_fma && avx512f && (x & XCR0_ZMM) == XCR0_ZMM;
    /* Brand string: leaves 0x80000002..4, 16 bytes each. */
    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
        unsigned r[12];
        for (unsigned i = 0; i < 3; i++)
            __cpuid(0x80000002u + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
        memcpy(out->brand, r, 48);
        out->brand[48] = 0;
    }
#endif
}

int xcnn_cpu_has_avx2_fma(void)
{
#ifdef XCNN_X86
    /* The runtime only reports AVX when OSXSAVE is set, so xgetbv is safe. */
    return __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma") && (xcr0() & XCR0_YMM) == XCR0_YMM;
#else
    return 0;
#endif
}

int xcnn_cpu_has_neon(void)
{
#ifdef XCNN_ARM64
    return 1;
#else
    return 0;
#endif
}

int xcnn_cpu_has_avx512f(void)
{
#ifdef XCNN_X86
    return xcnn_cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") &&
           (xcr0() & XCR0_ZMM) == XCR0_ZMM;
#else
    return 0;
#endif
}
