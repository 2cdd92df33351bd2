/*
 * printf's "%.9g" for one float, exactly as glibc prints it, without
 * newlib's float printf (whose dtoa takes its big numbers from the heap).
 *
 * A finite float is M * 2^E with M < 2^24 and -149 <= E <= 104. Its exact
 * decimal expansion is an integer N times 10^-k: N = M * 2^E (k = 0) when
 * E >= 0, N = M * 5^-E (k = -E) when E < 0, since 2^-1 = 5 / 10. N has at
 * most 24 + 149 * log2(5) = 370 bits: twelve 32-bit words. Its decimal
 * digits, rounded to 9 significant ones half-to-even on the exact value
 * (what glibc does in the default rounding mode), are %.9g's digits.
 */
#include <stdint.h>
#include <string.h>
#include "fmt.h"

#define WORDS 13

/* n = n * f + carry-in 0; n has `len` little-endian words; returns len. */
static int mul_small(uint32_t *n, int len, uint32_t f)
{
    uint64_t carry = 0;
    for (int i = 0; i < len; i++) {
        uint64_t v = (uint64_t)n[i] * f + carry;
        n[i] = (uint32_t)v;
        carry = v >> 32;
    }
    if (carry) n[len++] = (uint32_t)carry;
    return len;
}

/* n = n / d; returns the remainder. */
static uint32_t div_small(uint32_t *n, int *len, uint32_t d)
{
    uint64_t rem = 0;
    for (int i = *len - 1; i >= 0; i--) {
        uint64_t v = (rem << 32) | n[i];
        n[i] = (uint32_t)(v / d);
        rem = v % d;
    }
    while (*len > 0 && n[*len - 1] == 0) (*len)--;
    return (uint32_t)rem;
}

static char *put_str(char *p, const char *s)
{
    while (*s) *p++ = *s++;
    return p;
}

int fmt_g9(char *out, float value)
{
    char *p = out;
    uint32_t bits;
    memcpy(&bits, &value, 4);
    int neg = (int)(bits >> 31);
    uint32_t exp = (bits >> 23) & 0xff, frac = bits & 0x7fffff;
    if (exp == 0xff) {
        if (frac) p = put_str(p, neg ? "-nan" : "nan");
        else p = put_str(p, neg ? "-inf" : "inf");
        *p = 0;
        return (int)(p - out);
    }
    if (neg) *p++ = '-';
    if (exp == 0 && frac == 0) {
        *p++ = '0';
        *p = 0;
        return (int)(p - out);
    }
    uint32_t mant = exp ? (frac | 0x800000) : frac;
    int e2 = exp ? (int)exp - 150 : -149;

    /* N and k (value = N * 10^-k) */
    uint32_t n[WORDS] = {mant};
    int len = 1, k = 0;
    if (e2 >= 0) {
        for (int i = 0; i < e2; i++) len = mul_small(n, len, 2);
    } else {
        for (int i = 0; i < -e2; i++) len = mul_small(n, len, 5);
        k = -e2;
    }
    /* N's decimal digits, least significant first (at most 112). */
    char dig[120];
    int nd = 0;
    while (len > 0) {
        uint32_t r = div_small(n, &len, 1000000000u);
        for (int i = 0; i < 9; i++) {
            dig[nd++] = (char)(r % 10);
            r /= 10;
        }
    }
    while (nd > 1 && dig[nd - 1] == 0) nd--;
    /* Keep the 9 most significant; round half to even on the rest. */
    int drop = nd > 9 ? nd - 9 : 0;
    char d[10];
    int nk = nd - drop;
    for (int i = 0; i < nk; i++) d[i] = dig[nd - 1 - i];
    int dexp = nd - 1 - k; /* decimal exponent of the leading digit */
    if (drop) {
        int first = dig[drop - 1], rest = 0;
        for (int i = 0; i < drop - 1; i++) rest |= dig[i];
        int up = first > 5 || (first == 5 && (rest || (d[nk - 1] & 1)));
        for (int i = nk - 1; up && i >= 0; i--) {
            if (d[i] == 9) {
                d[i] = 0;
            } else {
                d[i]++;
                up = 0;
            }
        }
        if (up) { /* 999999999.5 -> 1000000000 */
            d[0] = 1;
            for (int i = 1; i < nk; i++) d[i] = 0;
            dexp++;
        }
    }
    while (nk > 1 && d[nk - 1] == 0) nk--; /* %g drops trailing zeros */

    if (dexp < -4 || dexp >= 9) {
        *p++ = (char)('0' + d[0]);
        if (nk > 1) {
            *p++ = '.';
            for (int i = 1; i < nk; i++) *p++ = (char)('0' + d[i]);
        }
        *p++ = 'e';
        *p++ = dexp < 0 ? '-' : '+';
        int a = dexp < 0 ? -dexp : dexp;
        if (a >= 100) *p++ = (char)('0' + a / 100);
        *p++ = (char)('0' + a / 10 % 10);
        *p++ = (char)('0' + a % 10);
    } else if (dexp < 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = -1; i > dexp; i--) *p++ = '0';
        for (int i = 0; i < nk; i++) *p++ = (char)('0' + d[i]);
    } else {
        for (int i = 0; i <= dexp || i < nk; i++) {
            if (i == dexp + 1) *p++ = '.';
            *p++ = (char)('0' + (i < nk ? d[i] : 0));
        }
    }
    *p = 0;
    return (int)(p - out);
}
