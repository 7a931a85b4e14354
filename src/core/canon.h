/*
 * Canonical JSON written fast (SPEC §7.1): the exact bytes of jansson's
 * json_dumpb(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) — the form
 * journal records are stored, hashed (the chain) and digested in — without
 * jansson's per-dump set-up (a hash table of parents, a buffer grown by
 * callbacks) and printf.  Nulls, booleans, integers, reals, ASCII strings,
 * arrays and objects with ASCII keys are written here; a string or key with
 * a byte >= 0x80 (its UTF-8 is checked the way jansson checks it), and
 * anything nested deeper than WEIR_CANON_DEPTH, is handed to jansson for
 * that value, so the bytes are jansson's in every case
 * (tests/unit/test_canon.c compares the two over random values).
 */
#ifndef WEIR_CORE_CANON_H
#define WEIR_CORE_CANON_H
#include <jansson.h>
#include <stddef.h>

#include "weir/weir.h"

/* Nesting written here; deeper values are jansson's (same bytes). */
#define WEIR_CANON_DEPTH 64

/* A growing byte buffer (weir's allocator).  Zero-initialise; the text is
 * not NUL-terminated. */
typedef struct weir_cbuf {
    char *p;
    size_t len, cap;
} weir_cbuf;

/* Room for n more bytes: 0, or -1 out of memory. */
int weir__cbuf_reserve(weir_cbuf *b, size_t n);
void weir__cbuf_free(weir_cbuf *b);

/* Append v's canonical text to b.  0; -1 when jansson's dump would fail
 * (NULL, invalid UTF-8, a cycle) or out of memory: b->len is then as it
 * was. */
int weir__canon_dump(const json_t *v, weir_cbuf *b);
/* Append the canonical text of the string s (len bytes), quoted and
 * escaped as jansson does: 0, or -1 (invalid UTF-8, out of memory; b->len
 * as it was). */
int weir__canon_string(const char *s, size_t len, weir_cbuf *b);
/* Append the decimal text of v. */
int weir__canon_int(long long v, weir_cbuf *b);

/* Append the canonical text of weir_input_json(in) (the journal's body of
 * an input), written without making the JSON for the inputs a journal
 * takes most (inject, resolve, and those with no fields): 0, or -1 (out of
 * memory, a string that is not UTF-8, or a kind without a name; b->len as
 * it was). */
int weir__input_canon(const weir_input_rec *in, weir_cbuf *b);

#endif
