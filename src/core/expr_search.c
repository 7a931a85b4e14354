/*
 * Substring search in linear time: the two-way algorithm of Crochemore and
 * Perrin ("Two-way string-matching", J. ACM 38(3), 1991), as laid out by
 * Charras and Lecroq.  The needle is split at a critical factorization
 * u·v; v is matched left to right, then u right to left, and a mismatch
 * shifts by what was matched (in v) or by the period (in u).  At most
 * 2n comparisons over a haystack of n bytes, constant extra space, so a
 * hostile needle ('a' x 1e6 + 'b') costs what an ordinary one does.
 *
 * Bytes are compared as unsigned; on UTF-8 text a match of a well-formed
 * needle starts and ends on character boundaries.
 */
#include <string.h>

#include "core/expr_int.h"

/* The maximal suffix of x[0..m) for the byte order (rev: the reversed
 * order): the index of the byte before it (-1 for all of x), its period
 * in *per. */
static ptrdiff_t max_suffix(const unsigned char *x, ptrdiff_t m, bool rev, ptrdiff_t *per) {
    ptrdiff_t ms = -1, j = 0, k = 1, p = 1;
    while (j + k < m) {
        unsigned a = x[j + k], b = x[ms + k];
        if (rev ? a > b : a < b) {
            j += k;
            k = 1;
            p = j - ms;
        } else if (a == b) {
            if (k != p) {
                k++;
            } else {
                j += p;
                k = 1;
            }
        } else {
            ms = j;
            j = ms + 1;
            k = p = 1;
        }
    }
    *per = p;
    return ms;
}

void weir__xsearch_init(xsearch *s, const char *needle, size_t m) {
    const unsigned char *x = (const unsigned char *)needle;
    ptrdiff_t p, q, i = m ? max_suffix(x, (ptrdiff_t)m, false, &p) : -1;
    ptrdiff_t j = m ? max_suffix(x, (ptrdiff_t)m, true, &q) : -1;
    s->x = x;
    s->m = (ptrdiff_t)m;
    if (!m) {
        s->ell = -1, s->per = 1, s->periodic = false;
        return;
    }
    if (i > j) s->ell = i, s->per = p;
    else s->ell = j, s->per = q;
    /* u is a suffix of v's first period: the needle is periodic with per */
    s->periodic = s->per + s->ell + 1 <= s->m && !memcmp(x, x + s->per, (size_t)(s->ell + 1));
    if (!s->periodic) s->per = (s->ell + 1 > s->m - s->ell - 1 ? s->ell + 1 : s->m - s->ell - 1) + 1;
}

/* Scan h[from..n) for occurrences starting at or before `last`.  first:
 * return the first; else the last one whose first byte starts a UTF-8
 * character.  -1 if none. */
static ptrdiff_t scan(const xsearch *s, const unsigned char *h, ptrdiff_t n, ptrdiff_t from, ptrdiff_t last,
                      bool first) {
    const unsigned char *x = s->x;
    ptrdiff_t m = s->m, ell = s->ell, per = s->per, found = -1, j = from, i;
    if (!m) return from <= n && from <= last ? (first ? from : (n < last ? n : last)) : -1;
    if (m == 1) { /* memchr is linear and faster */
        while (j <= last && j < n) {
            const unsigned char *p = memchr(h + j, x[0], (size_t)(n - j));
            if (!p || p - h > last) break;
            if (first) return p - h;
            found = p - h;
            j = found + 1;
        }
        return found;
    }
    /* Where v's first byte mismatches, the shift is 1 (and nothing is
     * remembered): memchr takes those steps many bytes at a time. */
#define SKIP_TO_V()                                                                              \
    if (h[j + ell + 1] != x[ell + 1]) {                                                          \
        const unsigned char *p_ = memchr(h + j + ell + 1, x[ell + 1], (size_t)(n - m - j + 1)); \
        if (!p_) break;                                                                          \
        j = p_ - h - (ell + 1);                                                                  \
        if (j > last) break;                                                                     \
    }
    if (s->periodic) {
        ptrdiff_t memory = -1;
        while (j <= n - m && j <= last) {
            if (memory < 0) SKIP_TO_V()
            i = (ell > memory ? ell : memory) + 1;
            while (i < m && x[i] == h[i + j]) i++;
            if (i >= m) {
                i = ell;
                while (i > memory && x[i] == h[i + j]) i--;
                if (i <= memory) {
                    if (first) return j;
                    if ((h[j] & 0xC0) != 0x80) found = j;
                }
                j += per;
                memory = m - per - 1;
            } else {
                j += i - ell;
                memory = -1;
            }
        }
        return found;
    }
    while (j <= n - m && j <= last) {
        SKIP_TO_V()
        i = ell + 1;
        while (i < m && x[i] == h[i + j]) i++;
        if (i >= m) {
            i = ell;
            while (i >= 0 && x[i] == h[i + j]) i--;
            if (i < 0) {
                if (first) return j;
                if ((h[j] & 0xC0) != 0x80) found = j;
            }
            j += per;
        } else {
            j += i - ell;
        }
    }
#undef SKIP_TO_V
    return found;
}

ptrdiff_t weir__xsearch_first(const xsearch *s, const char *h, size_t n, size_t from) {
    if (from > n) return -1;
    return scan(s, (const unsigned char *)h, (ptrdiff_t)n, (ptrdiff_t)from, (ptrdiff_t)n, true);
}

/* The last c in p[0..n), or NULL (memrchr is a GNU and BSD extension). */
static const unsigned char *last_byte(const unsigned char *p, unsigned char c, size_t n) {
#if defined(__GLIBC__) || defined(__linux__) || defined(__FreeBSD__) || defined(__OpenBSD__)
    return memrchr(p, c, n);
#else
    while (n--)
        if (p[n] == c) return p + n;
    return NULL;
#endif
}

/* The common case first: the last occurrence is usually near the end, so
 * look backwards (memrchr, memcmp) while that has cost less than a forward
 * scan would; past that, the forward scan, which is linear whatever the
 * input.  Either way at most about 3(n + m) bytes are read. */
ptrdiff_t weir__xsearch_last(const xsearch *s, const char *h, size_t n, size_t last) {
    size_t m = (size_t)s->m, budget = n + m, spent = 0;
    if (last > n) last = n;
    if (m && m <= n) {
        const unsigned char *u = (const unsigned char *)h;
        size_t st = last < n - m ? last : n - m;
        for (;;) {
            const unsigned char *p = last_byte(u, s->x[0], st + 1);
            if (!p) return -1;
            size_t at = (size_t)(p - u);
            spent += st - at + m;
            if (!memcmp(p, s->x, m) && (*p & 0xC0) != 0x80) return (ptrdiff_t)at;
            if (at == 0) return -1;
            st = at - 1;
            if (spent > budget) break;
        }
    }
    return scan(s, (const unsigned char *)h, (ptrdiff_t)n, 0, (ptrdiff_t)last, false);
}
