/*
 * The library's own printf (base/format.c, used by -DXCNN_OWN_FORMAT builds
 * such as the Cortex-M4 firmware, whose newlib has no %zu or %lld) against
 * the C library's vsnprintf:
 *   - integers, characters, strings and pointers, with every flag, width,
 *     precision and length modifier the library's messages use: the same
 *     bytes;
 *   - floating point (%g %e %f, precisions 0..17): the same text, or where
 *     the last digit rounds the other way, a value within one unit of it
 *     (or of the 16th significant digit, where printf goes on printing the
 *     binary value's exact expansion);
 *   - truncation and the returned length as vsnprintf's.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../libxcnn/base/format.h"
#include "check.h"

static int n_same, n_diff;
static char first_diff[1200];

/* Format both ways; 1 if the texts and lengths are equal. */
static int both(char *ours, char *libc, size_t size, int *lo, int *ll, const char *fmt, ...)
{
    va_list a, b;
    va_start(a, fmt);
    va_copy(b, a);
    *lo = xcnn_vformat_own(ours, size, fmt, a);
    *ll = vsnprintf(libc, size, fmt, b);
    va_end(b);
    va_end(a);
    return *lo == *ll && strcmp(ours, libc) == 0;
}

#define SAME(fmt, ...)                                                                       \
    do {                                                                                     \
        char o_[256], l_[256];                                                               \
        int lo_, ll_;                                                                        \
        if (both(o_, l_, sizeof o_, &lo_, &ll_, fmt, __VA_ARGS__)) n_same++;                 \
        else if (!n_diff++)                                                                  \
            snprintf(first_diff, sizeof first_diff, "'%s': ours '%s' (%d), libc '%s' (%d)",  \
                     fmt, o_, lo_, l_, ll_);                                                 \
    } while (0)

/* Floating point: the same text, or both parse to values one unit in the
 * last printed place apart (a tie or a double rounding decided the other
 * way), and the same style (both with an exponent or both without). */
static int n_float, n_float_exact, n_float_bad;
static char float_bad[1400];

static void float_case(const char *fmt, int prec, double v)
{
    char o[512], l[512];
    int lo, ll;
    n_float++;
    if (both(o, l, sizeof o, &lo, &ll, fmt, prec, v)) {
        n_float_exact++;
        return;
    }
    double a = strtod(o, NULL), b = strtod(l, NULL);
    double ulp = fabs(b) * pow(10.0, -(prec > 0 ? prec : 1)) * 10 + 1e-300;
    if (strchr(fmt, 'f')) ulp = pow(10.0, -prec) * 1.0001;
    /* past a double's 16-17 significant digits, printf prints the binary
     * value's exact decimal expansion; we stop at 17 digits */
    if (ulp < fabs(b) * 1e-15) ulp = fabs(b) * 1e-15;
    int shape = (strchr(o, 'e') != NULL) == (strchr(l, 'e') != NULL);
    if (fabs(a - b) <= ulp && shape) return;
    if (!n_float_bad++)
        snprintf(float_bad, sizeof float_bad, "'%s' prec %d of %.17g: ours '%s', libc '%s'", fmt,
                 prec, v, o, l);
}

int main(void)
{
    static const long long ints[] = {0, 1, -1, 7, -7, 9, 10, 99, 100, 12345, -98765, 2147483647,
                                     -2147483647 - 1, 4294967295LL, 9007199254740993LL,
                                     INT64_MAX, INT64_MIN};
    static const char *int_fmts[] = {"%d", "%5d", "%-5d|", "%05d", "%+d", "% d", "%.3d", "%8.3d",
                                     "%-8.3d|", "%.0d", "%x", "%X", "%#x", "%08x", "%o", "%#o",
                                     "%u", "%02x", "%i"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        long long v = ints[i];
        for (size_t f = 0; f < sizeof int_fmts / sizeof *int_fmts; f++) {
            int is_signed = strchr(int_fmts[f], 'd') || strchr(int_fmts[f], 'i');
            if (is_signed) SAME(int_fmts[f], (int)v);
            else SAME(int_fmts[f], (unsigned)v);
        }
        SAME("%lld|%llu|%llx", v, (unsigned long long)v, (unsigned long long)v);
        SAME("%ld|%lu", (long)v, (unsigned long)v);
        SAME("%zu|%zx|%5zu", (size_t)v, (size_t)v, (size_t)v);
        SAME("%jd|%ju", (intmax_t)v, (uintmax_t)v);
        SAME("%hd|%hu|%hhd|%hhu", (int)(short)v, (int)(unsigned short)v, (int)(signed char)v,
             (int)(unsigned char)v);
        SAME("%*d|%-*d|%.*d", 7, (int)v, 7, (int)v, 4, (int)v);
        SAME("%" PRIu32 " %08" PRIx32, (uint32_t)v, (uint32_t)v);
    }
    SAME("%s|%10s|%-10s|%.3s|%.40s|%5.2s", "hello", "hi", "left", "truncate", "short", "ab");
    SAME("%s", "");
    SAME("%c%c%5c|%-3c|", 'a', 'Z', 'x', 'y');
    SAME("100%% of %d", 5);
    SAME("node '%s' (%s): %zu elements, over the limit of %llu (%d)", "conv1", "Conv",
         (size_t)123456789, (unsigned long long)1 << 40, -3);
    int x = 1;
    SAME("%p", (void *)&x);
    check(n_diff == 0, "integers, strings, characters, pointers: %d formats the same as the C "
          "library's%s%s", n_same, n_diff ? "; first difference: " : "", first_diff);

    /* truncation */
    char small[8];
    {
        char l[8];
        int a = 0, b = 0;
        int ok = both(small, l, sizeof small, &a, &b, "%s-%d", "abcdef", 12345);
        check(ok && a == 12 && strlen(small) == 7, "truncated to the buffer, NUL-terminated, "
              "the full length returned (%d: '%s')", a, small);
        ok = both(small, l, 0, &a, &b, "%d", 42);
        check(a == 2 && b == 2, "size 0: nothing written, the length returned");
    }

    /* floating point */
    static const char *float_fmts[] = {"%.*g", "%.*e", "%.*f", "%.*G", "%.*E"};
    uint64_t s = 88172645463325252ULL;
    for (int k = 0; k < 4000; k++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double mant = (double)(s >> 11) / 9007199254740992.0;
        int e10 = (int)(s % 61) - 30;
        double v = (s & 1 ? -1 : 1) * mant * pow(10.0, e10);
        if (k % 7 == 0) v = floor(v * 1000) / 1000; /* short decimals: ties */
        for (size_t f = 0; f < sizeof float_fmts / sizeof *float_fmts; f++) {
            int prec = (int)((s >> 20) % 12);
            if (strchr(float_fmts[f], 'f') && fabs(v) > 1e15) continue;
            float_case(float_fmts[f], prec, v);
        }
    }
    static const double specials[] = {0.0, -0.0, 1.0, 0.5, 1.5, 2.5, 9.5, 0.05, 0.15, 123.456,
                                      1e-5, 9.9999e-5, 99999.5, 1e21, 1.0 / 3, FLT_MAX, FLT_MIN,
                                      DBL_MAX, DBL_MIN, 5e-324, 6.37127209f, -2.24108696f};
    for (size_t i = 0; i < sizeof specials / sizeof *specials; i++)
        for (int prec = 0; prec <= 17; prec++) {
            float_case("%.*g", prec, specials[i]);
            float_case("%.*e", prec, specials[i]);
            if (fabs(specials[i]) < 1e22) float_case("%.*f", prec, specials[i]);
        }
    check(n_float_bad == 0, "floating point: %d cases, %d the same text, the rest one unit in "
          "the last place at most%s%s", n_float, n_float_exact,
          n_float_bad ? "; first bad: " : "", float_bad);
    check(n_float_exact * 10 >= n_float * 9, "floating point: at least 90%% the same text "
          "(%d of %d)", n_float_exact, n_float);
    SAME("%g|%G|%f|%e|%5.1f|%-8.2g|%+g|% g", NAN, INFINITY, -INFINITY, NAN, 2.25, 0.5, 1.0, 2.0);
    check(n_diff == 0, "nan, inf, widths and signs the same%s%s", n_diff ? ": " : "", first_diff);
    return check_summary();
}
