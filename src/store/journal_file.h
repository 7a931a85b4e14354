/*
 * The journal as a file (SPEC §7.2, §7.3): one execution's input journal
 * as NDJSON, the form GET /api/executions/:id/journal streams,
 * POST /api/executions/import reads, `weir sim --out` writes and
 * `weir replay` checks.  One record a line, in seq order:
 *
 *   {"seq":N,"kind":K,"tick":T,"time":MS,"body":B,"chain":"<32 hex>","digest":"<hex>"}
 *
 *   seq     1, 2, 3 ... with no gap; line 1 is record 1, kind "start"
 *   kind    "start" | "inject" | "control" | "effect-result" | "timer" |
 *           "scheduled" | "upgrade" (weir_journal_kind 1..7, in that order); the
 *           scheduled ones are the service's own (its virtual clock, injects
 *           scheduled on it): the core never sees them
 *   tick    the execution's tick before the input; time its time (ms)
 *   body    the record's canonical body, byte for byte as stored
 *           (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY): the START
 *           body is self-contained — {"op":"start", "graphId", "graph"
 *           (the document), "components" ([user component definitions]),
 *           "options", "runtime", "executionId"?, "zones"? ({IANA name:
 *           base64 of the zone file's bytes}, every time zone the graph
 *           read: replay and recovery use these, not the machine's)};
 *           "upgrade" bodies carry their graph's "zones" the same way; the
 *           others are
 *           weir_input_json's {"op", ...}
 *   chain   the record's hash chain value (store/journal.h): SHA-256 of
 *           the previous chain, kind, seq, tick, time and the body text,
 *           cut to 16 bytes, lowercase hex; chain[0] = zeros
 *   digest  optional: the digest of the wave the record started, as
 *           stored (1..64 bytes, hex); weir stores WEIR_JOURNAL_DIGEST_SIZE
 *           bytes (weir_journal_digest_encode)
 *
 * Every line ends with "\n".  Fields come in the order above when weir
 * writes them; a reader takes them in any order and skips fields it does
 * not know (their values must be JSON).
 *
 * A reader verifies as it goes and stops at the first line that does not:
 * not JSON, a field missing or of the wrong type, an unknown kind, a seq
 * out of order (missing, repeated or reordered lines), a body that is not
 * in canonical form (a reformatted file: its chain could not verify), a
 * chain that does not follow the previous record's, a last line without
 * its newline (a torn file).  Records before it were delivered and are
 * sound.  Nothing is held but the line being read.
 */
#ifndef WEIR_STORE_JOURNAL_FILE_H
#define WEIR_STORE_JOURNAL_FILE_H
#include <stdint.h>
#include <stdio.h>

#include "store/journal.h"
#include "weir/weir.h"

/* ------------------------------------------------------------ the digest
 * The wave digest weir stores per record (weir_journal_digest), so the
 * service that writes it and replay that reads it agree: tick, hops,
 * outputs, hash and state, each a big-endian u64, in that order. */
#define WEIR_JOURNAL_DIGEST_SIZE 40
void weir_journal_digest_encode(const weir_input_digest *d, unsigned char out[WEIR_JOURNAL_DIGEST_SIZE]);
/* 0, or WEIR_EINVAL when the state is not a weir_state. */
int weir_journal_digest_decode(const unsigned char in[WEIR_JOURNAL_DIGEST_SIZE], weir_input_digest *out);

/* The file's name of a record kind ("effect-result"), NULL for a number
 * without one; the kind of a name (len bytes), 0 for none. */
const char *weir_jfile_kind_name(int kind);
int weir_jfile_kind(const char *name, size_t len);

/* ------------------------------------------------------------ writing */

/* Where a writer's lines go: 0, or an error code (the write fails with
 * WEIR_EIO and err says "cannot write the journal file"). */
typedef int (*weir_jfile_sink)(void *ud, const char *data, size_t len);
typedef struct weir_jfile_writer weir_jfile_writer;

/* Bytes a writer with a sink buffers before it hands them over. */
#define WEIR_JFILE_FLUSH_BYTES (64 * 1024)

/* A writer handing its lines to sink (in writes of about
 * WEIR_JFILE_FLUSH_BYTES, and at weir_jfile_flush), or, with sink NULL,
 * keeping them all (weir_jfile_text). */
int weir_jfile_writer_new(weir_jfile_sink sink, void *ud, weir_jfile_writer **out, weir_error *err);
/* Flush, then free.  NULL is a no-op. */
void weir_jfile_writer_free(weir_jfile_writer *w);
/* The line of a stored record, as it is: r->text (NULL: r->body dumped in
 * canonical form) and r->chain (NULL: computed from the previous line
 * this writer wrote, zeros before the first).  digest (dlen bytes, at most
 * 64) may be NULL.  Nothing is checked: a test may write a broken file. */
int weir_jfile_write(weir_jfile_writer *w, const weir_journal_record *r, const void *digest, size_t dlen,
                     weir_error *err);
/* The next record of a journal being made: seq is the previous line's + 1,
 * the chain follows it.  body BORROWED; d may be NULL. */
int weir_jfile_append(weir_jfile_writer *w, int kind, int64_t tick, int64_t time_ms, json_t *body,
                      const weir_input_digest *d, weir_error *err);
/* Hand what is buffered to the sink (a no-op without one). */
int weir_jfile_flush(weir_jfile_writer *w, weir_error *err);
/* Without a sink: every line written so far (NUL-terminated; BORROWED
 * until the next write). */
const char *weir_jfile_text(const weir_jfile_writer *w, size_t *len);
/* Lines written; the seq and chain of the last one. */
int64_t weir_jfile_last_seq(const weir_jfile_writer *w);

/* ------------------------------------------------------------ recording
 * A journal of a live execution, made by its shell (weir sim --out, tests,
 * benchmarks): set shell.input and shell.input_done to the two functions
 * below with shell.ud the recorder (or call them from the shell's own).
 * Every input the execution accepts becomes a record, written when its
 * digest arrives; the START record's body is the one given at init. */
typedef struct weir_jfile_recorder {
    weir_jfile_writer *w; /* BORROWED */
    json_t *start;        /* BORROWED: {"op":"start", "graph", ...} */
    json_t *body;         /* the input told and not yet done */
    int kind;
    int64_t tick, time_ms;
    int failed; /* a write failed: err says why, later inputs are refused */
    weir_error err;
} weir_jfile_recorder;
void weir_jfile_recorder_init(weir_jfile_recorder *r, weir_jfile_writer *w, json_t *start_body);
int weir_jfile_recorder_input(void *ud, weir_exec *e, const weir_input_rec *in, weir_error *err);
void weir_jfile_recorder_done(void *ud, weir_exec *e, const weir_input_digest *d);
/* Write an input told but never done (no digest); 0, or why it failed. */
int weir_jfile_recorder_finish(weir_jfile_recorder *r, weir_error *err);
/* The journal kind of an input (as the service gives it): start, inject,
 * timer (a timer's result), effect-result, else control. */
int weir_jfile_kind_of(const weir_input_rec *in);

/* ------------------------------------------------------------ reading */

/* One verified record.  Everything BORROWED for the call: r.text is the
 * body's text in the line (canonical), r.body its parse, r.chain its chain;
 * digest is NULL when the line has none. */
typedef struct weir_jfile_rec {
    weir_journal_record r;
    const unsigned char *digest;
    size_t digest_len;
    uint64_t line; /* 1-based; 0 for a record read from a store */
} weir_jfile_rec;
/* 0 to go on; anything else stops the read and is returned as it is. */
typedef int (*weir_jfile_fn)(void *ud, const weir_jfile_rec *rec);

/* The longest line a reader takes by default (a START record carries the
 * whole graph document). */
#define WEIR_JFILE_LINE_MAX_DEFAULT ((size_t)256 << 20)

typedef struct weir_jfile_reader weir_jfile_reader;
/* line_max: 0 = WEIR_JFILE_LINE_MAX_DEFAULT. */
int weir_jfile_reader_new(size_t line_max, weir_jfile_fn fn, void *ud, weir_jfile_reader **out, weir_error *err);
void weir_jfile_reader_free(weir_jfile_reader *rd);
/* Take the next len bytes of the file (any split: lines may span calls):
 * every complete line is verified and handed to fn.  A broken line:
 * WEIR_EINVAL, err "line 7: hash chain broken (record 7 does not follow
 * record 6)" and the like, and every later call returns it again.  fn's
 * nonzero return is returned as it is.  WEIR_ENOMEM. */
int weir_jfile_feed(weir_jfile_reader *rd, const char *data, size_t len, weir_error *err);
/* The end of the file: WEIR_EINVAL "torn: ..." when a last line has no
 * newline, "the file is empty ..." when there was no record. */
int weir_jfile_end(weir_jfile_reader *rd, weir_error *err);
/* The line being read or that failed (1-based; after a clean end, the
 * number of lines); records delivered; the last one's seq and chain. */
uint64_t weir_jfile_line(const weir_jfile_reader *rd);
int64_t weir_jfile_records(const weir_jfile_reader *rd);
const unsigned char *weir_jfile_chain(const weir_jfile_reader *rd);

/* A whole file in memory; *line (may be NULL) gets the line that failed. */
int weir_jfile_read(const char *text, size_t len, weir_jfile_fn fn, void *ud, uint64_t *line, weir_error *err);
/* A file read to its end (a stream: nothing is held but the line being
 * read); a read error is WEIR_EIO.  *line as above. */
int weir_jfile_read_stream(FILE *f, weir_jfile_fn fn, void *ud, uint64_t *line, weir_error *err);

/* ------------------------------------------------------------ stores */

/* The journal of exec_id in a store (journal.h), verified as
 * weir_journal_read verifies it, each record with its stored digest
 * (line 0).  Errors as weir_journal_read's; fn's as they are. */
int weir_jfile_read_journal(weir_journal *j, const char *exec_id, weir_jfile_fn fn, void *ud,
                            weir_journal_fault *fault, weir_error *err);
/* The NDJSON of exec_id's journal, line by line, to sink (GET
 * /api/executions/:id/journal). */
int weir_jfile_export(weir_journal *j, const char *exec_id, weir_jfile_sink sink, void *ud, weir_journal_fault *fault,
                      weir_error *err);

#endif
