/* Fuzz target: a journal file (store/journal_file.h).  The input is read
 * whole and again in chunks (the first byte picks their size): both reads
 * give the same verdict and deliver the same records, and a read never
 * crashes, leaks or delivers a record that does not verify.  A file that
 * reads cleanly is written again from what was delivered and must read
 * back the same (the writer and reader agree on every file the reader
 * takes).  The same bytes as one JSON text: whatever the fast canonical
 * parser takes is exactly jansson's canonical dump of jansson's parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/journal_canon.h"
#include "store/journal_file.h"

typedef struct seen {
    int64_t n;
    uint64_t sum; /* of seq * tick * len and the chains' first bytes */
    weir_jfile_writer *w;
} seen;

static int on_rec(void *ud, const weir_jfile_rec *rec) {
    seen *s = ud;
    s->n++;
    s->sum += (uint64_t)rec->r.seq * 31 + (uint64_t)rec->r.tick * 7 + rec->r.len + rec->r.chain[0];
    /* the body delivered is the canonical text of its parse */
    char buf[256];
    size_t n = json_dumpb(rec->r.body, buf, sizeof buf, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (n <= sizeof buf && (n != rec->r.len || memcmp(buf, rec->r.text, n) != 0)) abort();
    if (s->w && weir_jfile_write(s->w, &rec->r, rec->digest, rec->digest_len, NULL)) abort();
    return 0;
}

static void canon_agrees(const char *text, size_t len) {
    json_t *fast = weir__jcanon_parse(text, len);
    if (!fast) return;
    json_t *slow = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!slow || !json_equal(fast, slow)) abort();
    const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
    size_t n = json_dumpb(slow, NULL, 0, flags);
    char *dump = malloc(n + 1);
    if (!dump || json_dumpb(slow, dump, n, flags) != n || n != len || memcmp(dump, text, n) != 0) abort();
    free(dump);
    json_decref(slow);
    json_decref(fast);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    canon_agrees((const char *)data + 1, size - 1);
    size_t chunk = (size_t)data[0] % 17 + 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    weir_error err;
    seen whole = {0}, parts = {0};
    if (weir_jfile_writer_new(NULL, NULL, &whole.w, &err)) return 0;
    uint64_t line1 = 0;
    int rc1 = weir_jfile_read(text, len, on_rec, &whole, &line1, &err);
    weir_jfile_reader *rd;
    if (weir_jfile_reader_new(0, on_rec, &parts, &rd, &err)) abort();
    int rc2 = 0;
    for (size_t o = 0; o < len && !rc2; o += chunk)
        rc2 = weir_jfile_feed(rd, text + o, len - o < chunk ? len - o : chunk, &err);
    if (!rc2) rc2 = weir_jfile_end(rd, &err);
    if (rc1 != rc2 || whole.n != parts.n || whole.sum != parts.sum || line1 != weir_jfile_line(rd)) abort();
    if (rc1 && rc1 != WEIR_EINVAL && rc1 != WEIR_ENOMEM) abort();
    weir_jfile_reader_free(rd);
    if (!rc1) {
        size_t n;
        const char *again = weir_jfile_text(whole.w, &n);
        seen back = {0};
        if (weir_jfile_read(again, n, on_rec, &back, NULL, &err) || back.n != whole.n || back.sum != whole.sum)
            abort();
    }
    weir_jfile_writer_free(whole.w);
    return 0;
}
