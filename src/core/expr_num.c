/*
 * JavaScript number conversions: Number::toString (shortest round-trip
 * digits), StringToNumber, parseInt, parseFloat, toFixed, toString(radix).
 * Decimal text is produced with snprintf/strtod in the C locale ('.' as the
 * decimal point), which is what libweir runs under.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/expr_int.h"

/* The shortest decimal digits that read back as d (> 0, finite): digits
 * without a point in `dig` (NUL-terminated), returns the decimal exponent n
 * such that d = 0.dig × 10^n. */
static int shortest_digits(double d, char *dig) {
    char tmp[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (p == 17 || strtod(tmp, NULL) == d) break;
    }
    /* tmp: D[.DDD]e±XX */
    size_t k = 0;
    const char *s = tmp;
    for (; *s && *s != 'e'; s++)
        if (*s != '.') dig[k++] = *s;
    while (k > 1 && dig[k - 1] == '0') k--;
    dig[k] = '\0';
    return atoi(s + 1) + 1;
}

size_t weir__xnum_to_str(double d, char *buf) {
    if (isnan(d)) return (size_t)sprintf(buf, "NaN");
    if (d == 0) return (size_t)sprintf(buf, "0");
    if (isinf(d)) return (size_t)sprintf(buf, d > 0 ? "Infinity" : "-Infinity");
    if (d == trunc(d) && fabs(d) < 9007199254740992.0) return (size_t)sprintf(buf, "%lld", (long long)d);
    char dig[24];
    size_t o = 0;
    if (d < 0) buf[o++] = '-', d = -d;
    int n = shortest_digits(d, dig);
    int k = (int)strlen(dig);
    if (k <= n && n <= 21) {
        memcpy(buf + o, dig, (size_t)k), o += (size_t)k;
        for (int i = k; i < n; i++) buf[o++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(buf + o, dig, (size_t)n), o += (size_t)n;
        buf[o++] = '.';
        memcpy(buf + o, dig + n, (size_t)(k - n)), o += (size_t)(k - n);
    } else if (-6 < n && n <= 0) {
        buf[o++] = '0', buf[o++] = '.';
        for (int i = 0; i < -n; i++) buf[o++] = '0';
        memcpy(buf + o, dig, (size_t)k), o += (size_t)k;
    } else {
        buf[o++] = dig[0];
        if (k > 1) {
            buf[o++] = '.';
            memcpy(buf + o, dig + 1, (size_t)(k - 1)), o += (size_t)(k - 1);
        }
        o += (size_t)sprintf(buf + o, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
    buf[o] = '\0';
    return o;
}

size_t weir__js_number(double d, char *buf) { return weir__xnum_to_str(d, buf); }

/* strtod over s[0..n) (which need not be NUL-terminated). */
static double strtod_n(const char *s, size_t n) {
    char small[128];
    char *b = n < sizeof small ? small : weir__malloc(n + 1);
    if (!b) return NAN;
    memcpy(b, s, n);
    b[n] = '\0';
    double d = strtod(b, NULL);
    if (b != small) weir__free(b);
    return d;
}

static void trim(const char **s, size_t *n, bool end) {
    size_t adv;
    while (*n && weir__xis_js_space(*s, *n, &adv)) *s += adv, *n -= adv;
    if (!end) return;
    while (*n) {
        /* step back over one UTF-8 character */
        size_t k = 1;
        while (k < *n && k < 4 && (((unsigned char)(*s)[*n - k]) & 0xC0) == 0x80) k++;
        if (!weir__xis_js_space(*s + *n - k, k, &adv) || adv != k) break;
        *n -= k;
    }
}


/* Length of the longest StrUnsignedDecimalLiteral prefix (digits, point,
 * exponent); 0 if none.  `strict`: the exponent must be complete. */
static size_t decimal_prefix(const char *s, size_t n) {
    size_t i = 0, nd = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, nd++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, nd++;
    }
    if (!nd) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        size_t e0 = j;
        while (j < n && s[j] >= '0' && s[j] <= '9') j++;
        if (j > e0) i = j;
    }
    return i;
}

static int digit_val(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'Z') return ch - 'A' + 10;
    return 99;
}

/* The value of n digits (all valid in `radix`) as V8 computes it: radix 10
 * correctly rounded, powers of two exactly rounded (half to even), others
 * in 32-bit chunks (the approximation ECMAScript allows). */
double weir__xradix_int(const char *s, size_t n, int radix) {
    if (radix == 10) return strtod_n(s, n);
    if ((radix & (radix - 1)) == 0) {
        int log2r = radix == 2 ? 1 : radix == 4 ? 2 : radix == 8 ? 3 : radix == 16 ? 4 : 5;
        int64_t number = 0;
        int exponent = 0;
        for (size_t i = 0; i < n; i++) {
            number = number * radix + digit_val(s[i]);
            int overflow = (int)(number >> 53);
            if (!overflow) continue;
            int bits = 1;
            while (overflow > 1) bits++, overflow >>= 1;
            int dropped = (int)(number & ((1 << bits) - 1));
            number >>= bits;
            exponent = bits;
            bool zero_tail = true;
            for (size_t k = i + 1; k < n; k++) {
                zero_tail = zero_tail && s[k] == '0';
                exponent += log2r;
            }
            int middle = 1 << (bits - 1);
            if (dropped > middle || (dropped == middle && ((number & 1) || !zero_tail))) number++;
            if (number & ((int64_t)1 << 53)) exponent++, number >>= 1;
            break;
        }
        return exponent ? ldexp((double)number, exponent) : (double)number;
    }
    double v = 0;
    const uint32_t max_mult = 0xFFFFFFFFu / 36;
    for (size_t i = 0; i < n;) {
        uint32_t part = 0, mult = 1;
        while (i < n) {
            uint32_t m = mult * (uint32_t)radix;
            if (m > max_mult) break;
            part = part * (uint32_t)radix + (uint32_t)digit_val(s[i]);
            mult = m;
            i++;
        }
        v = v * mult + part;
    }
    return v;
}

double weir__xstr_to_num(const char *s, size_t n) {
    trim(&s, &n, true);
    if (!n) return 0;
    if (n > 2 && s[0] == '0' && strchr("xXoObB", s[1])) {
        int radix = (s[1] | 0x20) == 'x' ? 16 : (s[1] | 0x20) == 'o' ? 8 : 2;
        for (size_t i = 2; i < n; i++)
            if (digit_val(s[i]) >= radix) return NAN;
        return weir__xradix_int(s + 2, n - 2, radix);
    }
    double sign = 1;
    size_t i = 0;
    if (s[0] == '+' || s[0] == '-') sign = s[0] == '-' ? -1 : 1, i = 1;
    if (n - i == 8 && !memcmp(s + i, "Infinity", 8)) return sign * INFINITY;
    size_t k = decimal_prefix(s + i, n - i);
    if (!k || i + k != n) return NAN;
    return strtod_n(s, n);
}

double weir__xparse_float(const char *s, size_t n) {
    trim(&s, &n, false);
    size_t i = 0;
    double sign = 1;
    if (n && (s[0] == '+' || s[0] == '-')) sign = s[0] == '-' ? -1 : 1, i = 1;
    if (n - i >= 8 && !memcmp(s + i, "Infinity", 8)) return sign * INFINITY;
    size_t k = decimal_prefix(s + i, n - i);
    if (!k) return NAN;
    return strtod_n(s, i + k);
}

double weir__xparse_int(const char *s, size_t n, double radix) {
    trim(&s, &n, false);
    double sign = 1;
    if (n && (s[0] == '+' || s[0] == '-')) {
        if (s[0] == '-') sign = -1;
        s++, n--;
    }
    /* ToInt32(radix) */
    int r = 0;
    if (isfinite(radix)) {
        double t = fmod(trunc(radix), 4294967296.0);
        if (t < 0) t += 4294967296.0;
        if (t >= 2147483648.0) t -= 4294967296.0;
        r = (int)t;
    }
    bool strip = true;
    if (r != 0) {
        if (r < 2 || r > 36) return NAN;
        if (r != 16) strip = false;
    } else {
        r = 10;
    }
    if (strip && n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2, n -= 2, r = 16;
    size_t k = 0;
    while (k < n && digit_val(s[k]) < r) k++;
    if (!k) return NAN;
    return sign * weir__xradix_int(s, k, r);
}

size_t weir__xnum_to_fixed(double d, int f, char *buf) {
    if (isnan(d)) return (size_t)sprintf(buf, "NaN");
    if (fabs(d) >= 1e21) return weir__xnum_to_str(d, buf);
    size_t o = 0;
    if (d < 0) buf[o++] = '-';
    d = fabs(d); /* -0 prints as 0 */
    /* the exact decimal expansion of d; then round half up at digit f */
    char ex[1200];
    int len = snprintf(ex, sizeof ex, "%.1100f", d);
    if (len < 0 || (size_t)len >= sizeof ex) len = (int)strlen(ex);
    char *dot = strchr(ex, '.');
    int ilen = (int)(dot - ex);
    /* digits: integer part then f fraction digits, in place */
    char dig[1200];
    memcpy(dig, ex, (size_t)ilen);
    memcpy(dig + ilen, dot + 1, (size_t)f);
    int nd = ilen + f;
    if (dot[1 + f] >= '5') {
        int i = nd - 1;
        while (i >= 0 && dig[i] == '9') dig[i--] = '0';
        if (i >= 0) dig[i]++;
        else {
            memmove(dig + 1, dig, (size_t)nd);
            dig[0] = '1';
            nd++, ilen++;
        }
    }
    memcpy(buf + o, dig, (size_t)ilen), o += (size_t)ilen;
    if (f > 0) {
        buf[o++] = '.';
        memcpy(buf + o, dig + ilen, (size_t)f), o += (size_t)f;
    }
    buf[o] = '\0';
    return o;
}

/* Number.prototype.toString(radix) for radix != 10: V8's
 * DoubleToRadixCString (digits until the value is uniquely identified). */
size_t weir__xnum_to_radix(double value, int radix, char *out) {
    static const char chars[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    if (isnan(value)) return (size_t)sprintf(out, "NaN");
    if (isinf(value)) return (size_t)sprintf(out, value > 0 ? "Infinity" : "-Infinity");
    enum { SIZE = 2200 };
    char buffer[SIZE];
    int icur = SIZE / 2, fcur = icur;
    bool neg = value < 0;
    if (neg) value = -value;
    double integer = floor(value), fraction = value - integer;
    double delta = 0.5 * (nextafter(value, INFINITY) - value);
    double tiny = nextafter(0.0, 1.0);
    if (delta < tiny) delta = tiny;
    if (fraction >= delta) {
        buffer[fcur++] = '.';
        do {
            fraction *= radix;
            delta *= radix;
            int digit = (int)fraction;
            buffer[fcur++] = chars[digit];
            fraction -= digit;
            if (fraction > 0.5 || (fraction == 0.5 && (digit & 1))) {
                if (fraction + delta > 1) {
                    for (;;) {
                        fcur--;
                        if (fcur == SIZE / 2) {
                            integer += 1;
                            break;
                        }
                        char ch = buffer[fcur];
                        int dv = ch > '9' ? (ch - 'a' + 10) : (ch - '0');
                        if (dv + 1 < radix) {
                            buffer[fcur++] = chars[dv + 1];
                            break;
                        }
                    }
                    break;
                }
            }
        } while (fraction >= delta && fcur < SIZE - 2);
    }
    /* integer digits; digits beyond the double's precision read as 0 */
    int e;
    while (frexp(integer / radix, &e), e > 53) {
        integer /= radix;
        buffer[--icur] = '0';
    }
    do {
        double rem = fmod(integer, radix);
        buffer[--icur] = chars[(int)rem];
        integer = (integer - rem) / radix;
    } while (integer > 0 && icur > 1);
    if (neg) buffer[--icur] = '-';
    size_t n = (size_t)(fcur - icur);
    memcpy(out, buffer + icur, n);
    out[n] = '\0';
    return n;
}
