/* Text formatting: vsnprintf, or a printf of our own for C libraries
 * without %zu / %lld (format.h says why). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "format.h"

int xcnn_format(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = xcnn_vformat(dst, size, fmt, ap);
    va_end(ap);
    return n;
}

int xcnn_vformat(char *dst, size_t size, const char *fmt, va_list ap)
{
#ifdef XCNN_OWN_FORMAT
    return xcnn_vformat_own(dst, size, fmt, ap);
#else
    return vsnprintf(dst, size, fmt, ap);
#endif
}

/* ---- the formatter of our own ------------------------------------------ */

typedef struct sink {
    char *dst;
    size_t size, len; /* len counts what would be written, as vsnprintf's */
} sink;

static void put(sink *o, char c)
{
    if (o->len + 1 < o->size) o->dst[o->len] = c;
    o->len++;
}

static void put_n(sink *o, char c, int n)
{
    for (; n > 0; n--) put(o, c);
}

typedef struct spec {
    int left, zero, plus, space, alt; /* flags - 0 + space #              */
    int width, prec;                  /* prec -1: not given                */
    char conv;
} spec;

/* A converted field: sign or prefix, then the body, padded to width. A
 * zero pad goes between the two (as printf's 0 flag). */
static void emit(sink *o, const spec *s, const char *prefix, const char *body, int body_len,
                 int zero_ok)
{
    int plen = (int)strlen(prefix), pad = s->width - plen - body_len;
    if (pad < 0) pad = 0;
    if (!s->left && !(s->zero && zero_ok)) put_n(o, ' ', pad);
    for (int i = 0; i < plen; i++) put(o, prefix[i]);
    if (!s->left && s->zero && zero_ok) put_n(o, '0', pad);
    for (int i = 0; i < body_len; i++) put(o, body[i]);
    if (s->left) put_n(o, ' ', pad);
}

static void emit_int(sink *o, const spec *s, uintmax_t v, int negative)
{
    char digits[64], body[400];
    unsigned base = (s->conv == 'x' || s->conv == 'X' || s->conv == 'p') ? 16
                    : s->conv == 'o'                                     ? 8
                                                                         : 10;
    const char *set = s->conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;
    for (uintmax_t u = v; u; u /= base) digits[n++] = set[u % base];
    int prec = s->prec < 0 ? 1 : (s->prec > 300 ? 300 : s->prec);
    if (s->conv == 'o' && s->alt && prec <= n) prec = n + 1; /* a leading 0 */
    int len = 0;
    for (int i = n; i < prec; i++) body[len++] = '0';
    while (n) body[len++] = digits[--n];
    char prefix[4] = "";
    if (negative) strcpy(prefix, "-");
    else if ((s->conv == 'd' || s->conv == 'i') && s->plus) strcpy(prefix, "+");
    else if ((s->conv == 'd' || s->conv == 'i') && s->space) strcpy(prefix, " ");
    else if ((s->alt && v && (s->conv == 'x' || s->conv == 'X')) || s->conv == 'p')
        strcpy(prefix, s->conv == 'X' ? "0X" : "0x");
    emit(o, s, prefix, body, len, s->prec < 0);
}

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* v x p (p a power of ten) rounded to an integer. A product that is
 * exactly halfway (fma finds no rounding in it) goes to even, as printf
 * rounds an exact tie; one rounded to a half is not a tie. */
static double round_product(double v, double p)
{
    double x = v * p, r = floor(x + 0.5);
    if (r - x == 0.5) {
        double err = fma(v, p, -x); /* v p - x, exactly */
        if (err < 0 || (err == 0 && fmod(r, 2.0) != 0)) r -= 1;
    }
    return r;
}

/* The first `count` (1..17) significant digits of v > 0, rounded, and the
 * decimal exponent of the first: v ~ 0.d1d2... x 10^(exp + 1). */
static void sig_digits(double v, int count, char *out, int *exp)
{
    int e = (int)floor(log10(v));
    for (int tries = 0; tries < 3; tries++) {
        /* scale v to [10^(count-1), 10^count): two steps keep the
         * powers of ten in range for the smallest and largest doubles */
        int shift = count - 1 - e;
        double scaled = v;
        if (shift > 300) {
            scaled *= 1e300;
            shift -= 300;
        } else if (shift < -300) {
            scaled *= 1e-300;
            shift += 300;
        }
        double r = round_product(scaled, pow(10.0, shift));
        if (r >= POW10[count]) {
            e++;
            continue;
        }
        if (r < POW10[count - 1]) {
            e--;
            continue;
        }
        uint64_t n = (uint64_t)r;
        for (int i = count - 1; i >= 0; i--, n /= 10) out[i] = (char)('0' + n % 10);
        *exp = e;
        return;
    }
    memset(out, '0', (size_t)count); /* log10 off by more than one: not seen */
    out[0] = '1';
    *exp = e;
}

/* The body of %e (upper: %E) with `prec` decimals; returns its length. */
static int body_e(double v, int prec, int upper, int alt, char *b, int *exp_out)
{
    char d[320];
    int e = 0, sig = prec + 1 > 17 ? 17 : prec + 1;
    if (v == 0) memset(d, '0', (size_t)sig);
    else sig_digits(v, sig, d, &e);
    for (int i = sig; i < prec + 1; i++) d[i] = '0';
    int len = 0;
    b[len++] = d[0];
    if (prec || alt) b[len++] = '.';
    for (int i = 1; i <= prec; i++) b[len++] = d[i];
    b[len++] = upper ? 'E' : 'e';
    b[len++] = e < 0 ? '-' : '+';
    int ae = e < 0 ? -e : e;
    if (ae >= 100) b[len++] = (char)('0' + ae / 100);
    b[len++] = (char)('0' + ae / 10 % 10);
    b[len++] = (char)('0' + ae % 10);
    if (exp_out) *exp_out = e;
    return len;
}

/* The body of %f with `prec` decimals; returns its length. */
static int body_f(double v, int prec, int alt, char *b)
{
    char d[720];
    int nd = 0, len = 0; /* d: the digits of v x 10^prec, rounded */
    double scaled = prec <= 22 ? v * POW10[prec] : INFINITY;
    if (scaled < 9e15) { /* an exact integer in a double: its digits */
        char tmp[24];
        uint64_t r = (uint64_t)round_product(v, POW10[prec]);
        do {
            tmp[nd++] = (char)('0' + r % 10);
            r /= 10;
        } while (r);
        for (int i = 0; i < nd; i++) d[i] = tmp[nd - 1 - i];
    } else { /* 17 significant digits, then zeros */
        int ex, cnt;
        sig_digits(v, 17, d, &ex);
        nd = ex + 1 + prec;
        cnt = nd < 17 ? nd : 17;
        if (cnt < 17) sig_digits(v, cnt, d, &ex), nd = ex + 1 + prec;
        for (int i = cnt; i < nd; i++) d[i] = '0';
    }
    if (nd < prec + 1) { /* 0.00ddd: the zeros in front */
        int lead = prec + 1 - nd;
        memmove(d + lead, d, (size_t)nd);
        memset(d, '0', (size_t)lead);
        nd = prec + 1;
    }
    int n_int = nd - prec;
    for (int i = 0; i < n_int; i++) b[len++] = d[i];
    if (prec || alt) b[len++] = '.';
    for (int i = 0; i < prec; i++) b[len++] = d[n_int + i];
    return len;
}

static void emit_float(sink *o, const spec *s, double v)
{
    char body[700];
    int len, upper = s->conv == 'E' || s->conv == 'G' || s->conv == 'F';
    const char *prefix = signbit(v) ? "-" : s->plus ? "+" : s->space ? " " : "";
    v = fabs(v);
    if (isnan(v) || isinf(v)) {
        const char *t = isnan(v) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
        emit(o, s, prefix, t, 3, 0);
        return;
    }
    int prec = s->prec < 0 ? 6 : (s->prec > 300 ? 300 : s->prec);
    char c = (char)(s->conv | 0x20);
    if (c == 'e') {
        len = body_e(v, prec, upper, s->alt, body, NULL);
    } else if (c == 'f') {
        len = v < 1e300 ? body_f(v, prec, s->alt, body) : body_e(v, prec, upper, s->alt, body, NULL);
    } else { /* g: %e's exponent X after rounding to P digits picks the style */
        int P = prec ? prec : 1, X;
        body_e(v, P - 1, upper, s->alt, body, &X);
        if (P > X && X >= -4) len = body_f(v, P - 1 - X, s->alt, body);
        else len = body_e(v, P - 1, upper, s->alt, body, NULL);
        if (!s->alt) { /* no trailing zeros, no bare point */
            int epos = len;
            for (int i = 0; i < len; i++)
                if (body[i] == 'e' || body[i] == 'E') epos = i;
            int dot = -1;
            for (int i = 0; i < epos; i++)
                if (body[i] == '.') dot = i;
            if (dot >= 0) {
                int end = epos;
                while (end > dot + 1 && body[end - 1] == '0') end--;
                if (end == dot + 1) end = dot;
                memmove(body + end, body + epos, (size_t)(len - epos));
                len = end + (len - epos);
            }
        }
    }
    emit(o, s, prefix, body, len, 1);
}

int xcnn_vformat_own(char *dst, size_t size, const char *fmt, va_list ap)
{
    sink o = {dst, size, 0};
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&o, *p);
            continue;
        }
        const char *start = p++;
        spec s = {0, 0, 0, 0, 0, 0, -1, 0};
        for (;; p++) {
            if (*p == '-') s.left = 1;
            else if (*p == '0') s.zero = 1;
            else if (*p == '+') s.plus = 1;
            else if (*p == ' ') s.space = 1;
            else if (*p == '#') s.alt = 1;
            else break;
        }
        if (*p == '*') {
            s.width = va_arg(ap, int);
            if (s.width < 0) {
                s.left = 1;
                s.width = -s.width;
            }
            p++;
        } else {
            while (*p >= '0' && *p <= '9') s.width = s.width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            p++;
            s.prec = 0;
            if (*p == '*') {
                s.prec = va_arg(ap, int);
                if (s.prec < 0) s.prec = -1;
                p++;
            } else {
                while (*p >= '0' && *p <= '9') s.prec = s.prec * 10 + (*p++ - '0');
            }
        }
        if (s.width > 1000) s.width = 1000;
        /* length: 'H' hh, 'h', 'l', 'L' ll, 'z', 'j', 't' */
        char len = 0;
        if (*p == 'h') len = *++p == 'h' ? (p++, 'H') : 'h';
        else if (*p == 'l') len = *++p == 'l' ? (p++, 'L') : 'l';
        else if (*p == 'z' || *p == 'j' || *p == 't' || *p == 'L') len = *p++;
        s.conv = *p;
        switch (*p) {
        case 'd':
        case 'i': {
            intmax_t v;
            if (len == 'l') v = va_arg(ap, long);
            else if (len == 'L') v = va_arg(ap, long long);
            else if (len == 'z' || len == 't') v = va_arg(ap, ptrdiff_t);
            else if (len == 'j') v = va_arg(ap, intmax_t);
            else v = va_arg(ap, int);
            if (len == 'h') v = (short)v;
            if (len == 'H') v = (signed char)v;
            emit_int(&o, &s, v < 0 ? (uintmax_t)0 - (uintmax_t)v : (uintmax_t)v, v < 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uintmax_t v;
            if (len == 'l') v = va_arg(ap, unsigned long);
            else if (len == 'L') v = va_arg(ap, unsigned long long);
            else if (len == 'z' || len == 't') v = va_arg(ap, size_t);
            else if (len == 'j') v = va_arg(ap, uintmax_t);
            else v = va_arg(ap, unsigned);
            if (len == 'h') v = (unsigned short)v;
            if (len == 'H') v = (unsigned char)v;
            emit_int(&o, &s, v, 0);
            break;
        }
        case 'p':
            emit_int(&o, &s, (uintptr_t)va_arg(ap, void *), 0);
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            emit(&o, &s, "", &c, 1, 0);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str) str = "(null)";
            size_t n = strlen(str);
            if (s.prec >= 0 && (size_t)s.prec < n) n = (size_t)s.prec;
            emit(&o, &s, "", str, (int)(n > 100000 ? 100000 : n), 0);
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            emit_float(&o, &s, len == 'L' ? (double)va_arg(ap, long double) : va_arg(ap, double));
            break;
        case '%':
            put(&o, '%');
            break;
        default: /* unknown: print it as written; no argument is taken */
            for (const char *q = start; q <= p && *q; q++) put(&o, *q);
            if (!*p) p--;
            break;
        }
    }
    if (size) dst[o.len < size ? o.len : size - 1] = 0;
    return o.len > INT32_MAX ? INT32_MAX : (int)o.len;
}
