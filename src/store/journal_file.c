/*
 * The journal as a file (journal_file.h): the wave digest's bytes, the
 * kinds' names, the writer, and a store's journal read or exported with
 * its digests.  The reader is journal_file_read.c.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "store/journal_file.h"
#include "store/journal_int.h"

/* ------------------------------------------------------------ the digest */

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

void weir_journal_digest_encode(const weir_input_digest *d, unsigned char out[WEIR_JOURNAL_DIGEST_SIZE]) {
    put_u64(out, d->tick);
    put_u64(out + 8, d->hops);
    put_u64(out + 16, d->outputs);
    put_u64(out + 24, d->hash);
    put_u64(out + 32, (uint64_t)d->state);
}

int weir_journal_digest_decode(const unsigned char in[WEIR_JOURNAL_DIGEST_SIZE], weir_input_digest *out) {
    uint64_t state = get_u64(in + 32);
    if (state > WEIR_STATE_CANCELLED) return WEIR_EINVAL;
    *out = (weir_input_digest){get_u64(in), get_u64(in + 8), get_u64(in + 16), get_u64(in + 24), (weir_state)state};
    return 0;
}

/* ------------------------------------------------------------ kinds */

static const char *const KIND_NAMES[] = {
    [WEIR_JOURNAL_START] = "start",          [WEIR_JOURNAL_INJECT] = "inject",
    [WEIR_JOURNAL_CONTROL] = "control",      [WEIR_JOURNAL_EFFECT_RESULT] = "effect-result",
    [WEIR_JOURNAL_TIMER] = "timer",          [WEIR_JOURNAL_SCHEDULED] = "scheduled",
    [WEIR_JOURNAL_UPGRADE] = "upgrade",
};
#define N_KINDS ((int)(sizeof KIND_NAMES / sizeof *KIND_NAMES))

const char *weir_jfile_kind_name(int kind) { return kind > 0 && kind < N_KINDS ? KIND_NAMES[kind] : NULL; }

int weir_jfile_kind(const char *name, size_t len) {
    for (int k = 1; k < N_KINDS; k++)
        if (strlen(KIND_NAMES[k]) == len && memcmp(KIND_NAMES[k], name, len) == 0) return k;
    return 0;
}

/* ------------------------------------------------------------ writing */

struct weir_jfile_writer {
    weir_jfile_sink sink;
    void *ud;
    char *buf; /* the lines not yet handed over (all of them without a sink) */
    size_t len, cap;
    char *scratch; /* canonical bodies dumped for weir_jfile_append */
    size_t scratch_cap;
    EVP_MD_CTX *md;
    int64_t seq; /* of the last line */
    unsigned char chain[WEIR_JOURNAL_CHAIN];
    int failed; /* the sink refused: every later write fails */
};

int weir_jfile_writer_new(weir_jfile_sink sink, void *ud, weir_jfile_writer **out, weir_error *err) {
    *out = NULL;
    weir_jfile_writer *w = weir__calloc(1, sizeof *w);
    if (!w || !(w->md = EVP_MD_CTX_new())) {
        weir__free(w);
        return weir__error(err, WEIR_ENOMEM, "out of memory (a journal file writer)");
    }
    w->sink = sink;
    w->ud = ud;
    *out = w;
    return 0;
}

int weir_jfile_flush(weir_jfile_writer *w, weir_error *err) {
    if (w->failed) return weir__error(err, WEIR_EIO, "cannot write the journal file (an earlier write failed)");
    if (!w->sink || !w->len) return 0;
    int rc = w->sink(w->ud, w->buf, w->len);
    w->len = 0;
    if (rc) {
        w->failed = 1;
        return weir__error(err, WEIR_EIO, "cannot write the journal file");
    }
    return 0;
}

void weir_jfile_writer_free(weir_jfile_writer *w) {
    if (!w) return;
    weir_jfile_flush(w, NULL);
    EVP_MD_CTX_free(w->md);
    weir__free(w->buf);
    weir__free(w->scratch);
    weir__free(w);
}

const char *weir_jfile_text(const weir_jfile_writer *w, size_t *len) {
    if (len) *len = w->len;
    return w->buf ? w->buf : "";
}

int64_t weir_jfile_last_seq(const weir_jfile_writer *w) { return w->seq; }

static const char HEX[] = "0123456789abcdef";

static char *put_hex(char *p, const unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        *p++ = HEX[b[i] >> 4];
        *p++ = HEX[b[i] & 15];
    }
    return p;
}

static char *put_int(char *p, int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do tmp[n++] = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *p++ = '-';
    while (n) *p++ = tmp[--n];
    return p;
}

/* The canonical text of v in the writer's scratch (*len bytes). */
static int dump(weir_jfile_writer *w, json_t *v, size_t *len, weir_error *err) {
    const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
    if (!v) return weir__error(err, WEIR_EINVAL, "a journal record needs a JSON body");
    size_t n = json_dumpb(v, w->scratch, w->scratch_cap, flags);
    if (n > w->scratch_cap) {
        if (weir__grow((void **)&w->scratch, &w->scratch_cap, n, 1))
            return weir__error(err, WEIR_ENOMEM, "out of memory (a journal record's body)");
        n = json_dumpb(v, w->scratch, w->scratch_cap, flags);
    }
    if (!n) return weir__error(err, WEIR_ENOMEM, "out of memory (a journal record's body)");
    *len = n;
    return 0;
}

/* One line: the fixed fields around the body, the hex at the end. */
static int put_line(weir_jfile_writer *w, int64_t seq, int kind, int64_t tick, int64_t time_ms, const char *text,
                    size_t len, const unsigned char *chain, const void *digest, size_t dlen, weir_error *err) {
    if (w->failed) return weir__error(err, WEIR_EIO, "cannot write the journal file (an earlier write failed)");
    if (digest && dlen > 64) return weir__error(err, WEIR_EINVAL, "a wave digest is at most 64 bytes");
    const char *kname = weir_jfile_kind_name(kind);
    char kbuf[16];
    if (!kname) { /* a kind this build has no name for: written as its number */
        snprintf(kbuf, sizeof kbuf, "%d", kind);
        kname = kbuf;
    }
    /* {"seq":,"kind":"","tick":,"time":,"body":,"chain":"","digest":""}\n */
    size_t need = w->len + len + strlen(kname) + 3 * 21 + 2 * WEIR_JOURNAL_CHAIN + 2 * (digest ? dlen : 0) + 80;
    if (need > w->cap && weir__grow((void **)&w->buf, &w->cap, need, 1))
        return weir__error(err, WEIR_ENOMEM, "out of memory (a journal file line)");
    char *p = w->buf + w->len;
#define LIT(s) (memcpy(p, s, sizeof s - 1), p += sizeof s - 1)
    LIT("{\"seq\":");
    p = put_int(p, seq);
    if (kname == kbuf) {
        LIT(",\"kind\":");
    } else {
        LIT(",\"kind\":\"");
    }
    memcpy(p, kname, strlen(kname));
    p += strlen(kname);
    if (kname != kbuf) *p++ = '"';
    LIT(",\"tick\":");
    p = put_int(p, tick);
    LIT(",\"time\":");
    p = put_int(p, time_ms);
    LIT(",\"body\":");
    memcpy(p, text, len);
    p += len;
    LIT(",\"chain\":\"");
    p = put_hex(p, chain, WEIR_JOURNAL_CHAIN);
    if (digest && dlen) {
        LIT("\",\"digest\":\"");
        p = put_hex(p, digest, dlen);
    }
    LIT("\"}\n");
#undef LIT
    *p = '\0';
    w->len = (size_t)(p - w->buf);
    w->seq = seq;
    memcpy(w->chain, chain, WEIR_JOURNAL_CHAIN);
    return w->sink && w->len >= WEIR_JFILE_FLUSH_BYTES ? weir_jfile_flush(w, err) : 0;
}

int weir_jfile_write(weir_jfile_writer *w, const weir_journal_record *r, const void *digest, size_t dlen,
                     weir_error *err) {
    const char *text = r->text;
    size_t len = r->len;
    int rc;
    if (!text) {
        if ((rc = dump(w, r->body, &len, err))) return rc;
        text = w->scratch;
    }
    unsigned char chain[WEIR_JOURNAL_CHAIN];
    if (r->chain) memcpy(chain, r->chain, WEIR_JOURNAL_CHAIN);
    else weir__journal_chain(w->md, w->chain, r->kind, r->seq, r->tick, r->time_ms, text, len, chain);
    return put_line(w, r->seq, r->kind, r->tick, r->time_ms, text, len, chain, digest, dlen, err);
}

int weir_jfile_append(weir_jfile_writer *w, int kind, int64_t tick, int64_t time_ms, json_t *body,
                      const weir_input_digest *d, weir_error *err) {
    size_t len = 0;
    int rc = dump(w, body, &len, err);
    if (rc) return rc;
    unsigned char chain[WEIR_JOURNAL_CHAIN], dg[WEIR_JOURNAL_DIGEST_SIZE];
    weir__journal_chain(w->md, w->chain, kind, w->seq + 1, tick, time_ms, w->scratch, len, chain);
    if (d) weir_journal_digest_encode(d, dg);
    return put_line(w, w->seq + 1, kind, tick, time_ms, w->scratch, len, chain, d ? dg : NULL, d ? sizeof dg : 0,
                    err);
}

/* ------------------------------------------------------------ recording */

int weir_jfile_kind_of(const weir_input_rec *in) {
    switch (in->kind) {
    case WEIR_IN_START: return WEIR_JOURNAL_START;
    case WEIR_IN_INJECT: return WEIR_JOURNAL_INJECT;
    case WEIR_IN_UPGRADE: return WEIR_JOURNAL_UPGRADE;
    case WEIR_IN_RESOLVE: return in->effect_kind == WEIR_EFFECT_TIMER ? WEIR_JOURNAL_TIMER : WEIR_JOURNAL_EFFECT_RESULT;
    default: return WEIR_JOURNAL_CONTROL;
    }
}

void weir_jfile_recorder_init(weir_jfile_recorder *r, weir_jfile_writer *w, json_t *start_body) {
    memset(r, 0, sizeof *r);
    r->w = w;
    r->start = start_body;
}

static int flush_pending(weir_jfile_recorder *r, const weir_input_digest *d) {
    if (!r->body) return 0;
    json_t *body = r->body;
    r->body = NULL;
    int rc = r->failed ? r->failed : weir_jfile_append(r->w, r->kind, r->tick, r->time_ms, body, d, &r->err);
    json_decref(body);
    if (rc) r->failed = rc;
    return rc;
}

int weir_jfile_recorder_input(void *ud, weir_exec *e, const weir_input_rec *in, weir_error *err) {
    (void)e;
    weir_jfile_recorder *r = ud;
    int rc = flush_pending(r, NULL);
    if (!rc && r->failed) rc = r->failed;
    if (rc) return weir__error(err, rc, "the input cannot be recorded: %s", r->err.message);
    json_t *body = in->kind == WEIR_IN_START && r->start ? json_incref(r->start) : weir_input_json(in);
    if (!body) return weir__error(err, WEIR_ENOMEM, "out of memory (recording an input)");
    r->body = body;
    r->kind = weir_jfile_kind_of(in);
    r->tick = (int64_t)in->tick;
    r->time_ms = in->now_ms;
    return 0;
}

void weir_jfile_recorder_done(void *ud, weir_exec *e, const weir_input_digest *d) {
    (void)e;
    flush_pending(ud, d);
}

int weir_jfile_recorder_finish(weir_jfile_recorder *r, weir_error *err) {
    int rc = flush_pending(r, NULL);
    if (!rc) rc = r->failed;
    if (rc && err) *err = r->err;
    return rc;
}

/* ------------------------------------------------------------ stores */

/* The digests of one execution, seq ascending, walked alongside its
 * records (both come in seq order). */
typedef struct stored_digest {
    int64_t seq;
    unsigned char len;
    unsigned char bytes[64];
} stored_digest;

typedef struct store_read {
    stored_digest *d;
    size_t n, cap, next;
    weir_jfile_fn fn;
    void *ud;
} store_read;

static int take_digest(void *ud, int64_t seq, const void *digest, size_t len) {
    store_read *s = ud;
    if (len > 64) return 0; /* the journal never stores one: not comparable */
    if (s->n == s->cap && weir__grow((void **)&s->d, &s->cap, s->n + 1, sizeof *s->d)) return WEIR_ENOMEM;
    stored_digest *d = &s->d[s->n++];
    d->seq = seq;
    d->len = (unsigned char)len;
    memcpy(d->bytes, digest, len);
    return 0;
}

static int give_record(void *ud, const weir_journal_record *r) {
    store_read *s = ud;
    weir_jfile_rec rec = {.r = *r};
    while (s->next < s->n && s->d[s->next].seq < r->seq) s->next++;
    if (s->next < s->n && s->d[s->next].seq == r->seq) {
        rec.digest = s->d[s->next].bytes;
        rec.digest_len = s->d[s->next].len;
    }
    return s->fn(s->ud, &rec);
}

int weir_jfile_read_journal(weir_journal *j, const char *exec_id, weir_jfile_fn fn, void *ud,
                            weir_journal_fault *fault, weir_error *err) {
    store_read s = {.fn = fn, .ud = ud};
    if (fault) *fault = (weir_journal_fault){WEIR_JOURNAL_FAULT_NONE, 0};
    int rc = weir_journal_digests(j, exec_id, take_digest, &s, err);
    if (rc == WEIR_ENOMEM) weir__error(err, rc, "out of memory (the wave digests of %.100s)", exec_id);
    if (!rc) rc = weir_journal_read(j, exec_id, 1, NULL, give_record, &s, fault, err);
    weir__free(s.d);
    return rc;
}

typedef struct export_ctx {
    weir_jfile_writer *w;
    weir_error *err; /* a failed write's message, returned as the read's */
} export_ctx;

static int export_record(void *ud, const weir_jfile_rec *rec) {
    export_ctx *x = ud;
    return weir_jfile_write(x->w, &rec->r, rec->digest, rec->digest_len, x->err);
}

int weir_jfile_export(weir_journal *j, const char *exec_id, weir_jfile_sink sink, void *ud, weir_journal_fault *fault,
                      weir_error *err) {
    if (!sink) return weir__error(err, WEIR_EINVAL, "an export needs somewhere to write");
    export_ctx x = {.err = err};
    int rc = weir_jfile_writer_new(sink, ud, &x.w, err);
    if (rc) return rc;
    rc = weir_jfile_read_journal(j, exec_id, export_record, &x, fault, err);
    if (!rc) rc = weir_jfile_flush(x.w, err);
    x.w->len = 0; /* flushed, or not to be handed over after a failure */
    weir_jfile_writer_free(x.w);
    return rc;
}
