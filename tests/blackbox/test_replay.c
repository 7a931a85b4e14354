/* weir replay, black-box (SPEC §7.3): the real binary on journals this
 * test records by driving a real execution of an accumulator graph (the
 * journal recorder on shell.input / shell.input_done, a timer fired by
 * hand, a pause with an inject queued behind it), written with the
 * journal file writer: a faithful journal matches; one whose digest of a
 * record is altered, or whose inject carries another value (its chain
 * recomputed, so the file is sound), diverges at that record, naming its
 * tick, the node and what the replay produced; an input this build
 * refuses diverges with the error; a torn or edited file is broken (exit 2,
 * the line); the same journal read from a data directory matches. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "serve.h"
#include "store/journal_file.h"

static const char GRAPH[] =
    "{\"symbia\":\"1\",\"name\":\"batches\",\"nodes\":["
    "{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":3,\"flushMs\":100}},"
    "{\"id\":\"sum\",\"component\":\"symbia.core.map\",\"config\":{\"expression\":\"value.reduce((a, b) => a + b, "
    "0)\"}}],"
    "\"edges\":[{\"id\":\"e1\",\"source\":{\"node\":\"acc\",\"port\":\"out\"},\"target\":{\"node\":\"sum\",\"port\":"
    "\"in\"}}]}";

/* The recording: the journal's text, its records, the final tick. */
typedef struct recording {
    char *text;
    int records;
    uint64_t ticks;
    int64_t tick_of[32]; /* tick before record seq */
} recording;

static uint64_t last_timer;

static void on_effect(void *ud, weir_exec *e, const weir_effect *eff) {
    (void)ud, (void)e;
    if (eff->kind == WEIR_EFFECT_TIMER) last_timer = eff->id;
}

static int count_rec(void *ud, const weir_jfile_rec *rec) {
    recording *r = ud;
    r->records++;
    r->tick_of[rec->r.seq] = rec->r.tick;
    return 0;
}

static void inject(weir_exec *e, int value, int64_t now) {
    weir_error err;
    json_t *v = json_integer(value);
    weir_inject in = {"acc", "in", v, 0, NULL};
    cr_assert_eq(weir_exec_inject(e, &in, now, NULL, &err), 0, "%s", err.message);
    json_decref(v);
}

/* start; inject 1..7 (two batches, 7 waits for its flush); the flush timer
 * fires; pause, 8 queued, resume; 9. */
static recording record(void) {
    weir_error err;
    weir_registry *reg;
    weir_graph *g;
    cr_assert_eq(weir_registry_create(&reg), 0);
    json_t *doc = json_loads(GRAPH, 0, NULL);
    weir_graph_options gopts = {.id = "g-batches"};
    cr_assert_eq(weir_graph_load(reg, doc, &gopts, &g, &err), 0, "%s", err.message);
    weir_jfile_writer *w;
    cr_assert_eq(weir_jfile_writer_new(NULL, NULL, &w, &err), 0);
    json_t *start = json_pack("{s:s,s:s,s:O,s:[],s:{s:s,s:s},s:s,s:s}", "op", "start", "graphId", "g-batches",
                              "graph", doc, "components", "options", "completion", "never", "onError", "continue",
                              "runtime", "virtual", "executionId", "x-batches");
    weir_jfile_recorder rec;
    weir_jfile_recorder_init(&rec, w, start);
    weir_shell sh = {.effect = on_effect, .ud = &rec, .input = weir_jfile_recorder_input,
                     .input_done = weir_jfile_recorder_done};
    weir_exec_options o = {.id = "x-batches", .completion = WEIR_COMPLETION_NEVER, .on_error = WEIR_ON_ERROR_CONTINUE,
                           .timeout_ms = -1, .runtime = "virtual"};
    weir_exec *e;
    cr_assert_eq(weir_exec_create(g, &o, &sh, &e, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_start(e, 0, &err), 0, "%s", err.message);
    for (int i = 1; i <= 7; i++) inject(e, i, 10 * i);
    cr_assert_neq(last_timer, 0);
    cr_assert_eq(weir_exec_resolve(e, last_timer, NULL, NULL, 200, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_pause(e, 210, &err), 0);
    inject(e, 8, 215);
    cr_assert_eq(weir_exec_resume(e, 220, &err), 0);
    inject(e, 9, 230);
    cr_assert_eq(weir_jfile_recorder_finish(&rec, &err), 0, "%s", err.message);
    recording r = {0};
    r.text = strdup(weir_jfile_text(w, NULL));
    r.ticks = weir_exec_tick(e);
    cr_assert_eq(weir_jfile_read(r.text, strlen(r.text), count_rec, &r, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(r.records, 13, "start, 9 injects, a timer, pause, resume");
    weir_jfile_writer_free(w);
    weir_exec_destroy(e);
    weir_graph_unref(g);
    weir_registry_destroy(reg);
    json_decref(start);
    json_decref(doc);
    return r;
}

/* Rewrite a journal record by record: fn may change a record's body or
 * digest; with rechain every chain is computed again (a sound file). */
typedef struct rewrite {
    weir_jfile_writer *w;
    bool rechain;
    void (*fn)(weir_journal_record *r, unsigned char *digest);
} rewrite;

static int rewrite_one(void *ud, const weir_jfile_rec *rec) {
    rewrite *rw = ud;
    weir_journal_record r = rec->r;
    unsigned char d[64];
    memcpy(d, rec->digest ? rec->digest : d, rec->digest_len);
    r.body = json_deep_copy(rec->r.body);
    rw->fn(&r, d);
    r.text = NULL; /* dumped again from the body */
    if (rw->rechain) r.chain = NULL;
    weir_error err;
    int rc = weir_jfile_write(rw->w, &r, rec->digest ? d : NULL, rec->digest_len, &err);
    json_decref(r.body);
    return rc;
}

static char *rewritten(const char *text, bool rechain, void (*fn)(weir_journal_record *, unsigned char *)) {
    rewrite rw = {NULL, rechain, fn};
    weir_error err;
    cr_assert_eq(weir_jfile_writer_new(NULL, NULL, &rw.w, &err), 0);
    cr_assert_eq(weir_jfile_read(text, strlen(text), rewrite_one, &rw, NULL, &err), 0, "%s", err.message);
    char *out = strdup(weir_jfile_text(rw.w, NULL));
    weir_jfile_writer_free(rw.w);
    return out;
}

static proc_result replay(const char *text, const char *flags) {
    char *path = proc_tempfile(".ndjson", text);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s replay %s %s", WEIR_BINARY, flags, path);
    proc_result r = proc_run(cmd);
    unlink(path);
    free(path);
    return r;
}

#define ASSERT_HAS(r, field, needle) \
    cr_assert(strstr((r).field, needle), "expected %s in " #field ":\n%s\nstderr:\n%s", needle, (r).field, (r).err)

/* ------------------------------------------------------------ match */

Test(replay, a_faithful_journal_matches) {
    recording rc = record();
    proc_result r = replay(rc.text, "");
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    char want[128];
    snprintf(want, sizeof want, "match (13 inputs, %llu waves)\n", (unsigned long long)rc.ticks);
    cr_assert_str_eq(r.out, want);
    proc_free(&r);
    r = replay(rc.text, "--json");
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_not_null(doc, "%s", r.out);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "result")), "match");
    cr_assert_eq(json_integer_value(json_object_get(doc, "inputs")), 13);
    cr_assert_eq(json_integer_value(json_object_get(doc, "compared")), 13);
    cr_assert_eq((uint64_t)json_integer_value(json_object_get(doc, "waves")), rc.ticks);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "state")), "running");
    json_decref(doc);
    proc_free(&r);
    free(rc.text);
}

/* examples/accumulator-batch.ndjson: examples/accumulator-batch.json fed
 * its .jsonl as weir run feeds it (a hold, one inject every 10 ms, the
 * release), then its flush timer firing 200 ms later. */
static uint64_t example_timer;

static void example_effect(void *ud, weir_exec *e, const weir_effect *eff) {
    (void)ud, (void)e;
    if (eff->kind == WEIR_EFFECT_TIMER && eff->node_id) example_timer = eff->id;
}

static int to_file(void *ud, const char *data, size_t len) { return fwrite(data, 1, len, ud) == len ? 0 : -1; }

static void record_example(const char *out) {
    weir_error err;
    weir_registry *reg;
    weir_graph *g;
    cr_assert_eq(weir_registry_create(&reg), 0);
    json_t *doc = json_load_file(WEIR_SOURCE_DIR "/examples/accumulator-batch.json", 0, NULL);
    weir_graph_options go = {.id = "accumulator-batch"};
    cr_assert_eq(weir_graph_load(reg, doc, &go, &g, &err), 0, "%s", err.message);
    FILE *f = fopen(out, "wb");
    cr_assert_not_null(f);
    weir_jfile_writer *w;
    cr_assert_eq(weir_jfile_writer_new(to_file, f, &w, &err), 0);
    json_t *start = json_pack("{s:s,s:s,s:O,s:[],s:{s:s,s:i},s:s,s:s}", "op", "start", "graphId", "accumulator-batch",
                              "graph", doc, "components", "options", "completion", "auto", "timeoutMs", 0, "runtime",
                              "realtime", "executionId", "example-batch-sums");
    weir_jfile_recorder rec;
    weir_jfile_recorder_init(&rec, w, start);
    weir_shell sh = {.effect = example_effect, .ud = &rec, .input = weir_jfile_recorder_input,
                     .input_done = weir_jfile_recorder_done};
    weir_exec_options o = {.id = "example-batch-sums", .completion = WEIR_COMPLETION_AUTO, .timeout_ms = 0,
                           .runtime = "realtime"};
    weir_exec *e;
    cr_assert_eq(weir_exec_create(g, &o, &sh, &e, &err), 0, "%s", err.message);
    int64_t now = 1000;
    cr_assert_eq(weir_exec_start(e, now, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_hold(e, true, now, &err), 0);
    FILE *in = fopen(WEIR_SOURCE_DIR "/examples/accumulator-batch.jsonl", "r");
    char line[512];
    while (in && fgets(line, sizeof line, in)) {
        json_t *l = json_loads(line, 0, NULL);
        weir_inject inj = {json_string_value(json_object_get(l, "nodeId")),
                           json_string_value(json_object_get(l, "port")), json_object_get(l, "value"), 0, NULL};
        now += 10;
        cr_assert_eq(weir_exec_inject(e, &inj, now, NULL, &err), 0, "%s", err.message);
        json_decref(l);
    }
    if (in) fclose(in);
    cr_assert_eq(weir_exec_hold(e, false, now, &err), 0);
    cr_assert_eq(weir_exec_resolve(e, example_timer, NULL, NULL, now + 200, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED);
    cr_assert_eq(weir_jfile_recorder_finish(&rec, &err), 0);
    weir_jfile_writer_free(w);
    fclose(f);
    weir_exec_destroy(e);
    weir_graph_unref(g);
    weir_registry_destroy(reg);
    json_decref(start);
    json_decref(doc);
}

/* The example journal still replays: this build does what the one that
 * recorded it did.  A change to what the core does or to the digest fails
 * this; when that is meant, WEIR_UPDATE_EXAMPLES=1 records the example
 * again (then commit it). */
Test(replay, the_example_journal_matches) {
    if (getenv("WEIR_UPDATE_EXAMPLES")) record_example(WEIR_SOURCE_DIR "/examples/accumulator-batch.ndjson");
    proc_result r = proc_run(WEIR_BINARY " replay " WEIR_SOURCE_DIR "/examples/accumulator-batch.ndjson");
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    cr_assert_str_eq(r.out, "match (11 inputs, 8 waves)\n");
    proc_free(&r);
}

/* The service's own records (kind scheduled: its virtual clock) are read,
 * not applied: a journal with one between two injects still matches. */
typedef struct insert_ctx {
    weir_jfile_writer *w;
    int64_t after;
} insert_ctx;

static int copy_inserting(void *ud, const weir_jfile_rec *rec) {
    insert_ctx *c = ud;
    weir_error err;
    weir_input_digest d;
    if (rec->digest) cr_assert_eq(weir_journal_digest_decode(rec->digest, &d), 0);
    cr_assert_eq(weir_jfile_append(c->w, rec->r.kind, rec->r.tick, rec->r.time_ms, rec->r.body, rec->digest ? &d : NULL,
                                   &err),
                 0, "%s", err.message);
    if (rec->r.seq == c->after) {
        json_t *clock = json_pack("{s:s,s:i}", "op", "clock", "now", 35);
        cr_assert_eq(weir_jfile_append(c->w, WEIR_JOURNAL_SCHEDULED, rec->r.tick + 1, 35, clock, NULL, &err), 0);
        json_decref(clock);
    }
    return 0;
}

Test(replay, the_service_s_own_scheduled_records_are_read_not_applied) {
    recording rc = record();
    insert_ctx c = {NULL, 3};
    weir_error err;
    cr_assert_eq(weir_jfile_writer_new(NULL, NULL, &c.w, &err), 0);
    cr_assert_eq(weir_jfile_read(rc.text, strlen(rc.text), copy_inserting, &c, NULL, &err), 0, "%s", err.message);
    proc_result r = replay(weir_jfile_text(c.w, NULL), "--json");
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_not_null(doc, "%s", r.out);
    cr_assert_eq(json_integer_value(json_object_get(doc, "inputs")), 13);
    cr_assert_eq(json_integer_value(json_object_get(doc, "skipped")), 1);
    json_decref(doc);
    proc_free(&r);
    weir_jfile_writer_free(c.w);
    free(rc.text);
}

/* An input accepted and then failing as it did when recorded (an inject
 * into a paused execution whose queue is full: told, then EFULL) is an
 * outcome to compare, not a refusal. */
Test(replay, an_input_that_failed_when_recorded_fails_the_same_and_matches) {
    weir_error err;
    weir_registry *reg;
    weir_graph *g;
    cr_assert_eq(weir_registry_create(&reg), 0);
    json_t *doc = json_loads(GRAPH, 0, NULL);
    cr_assert_eq(weir_graph_load(reg, doc, NULL, &g, &err), 0, "%s", err.message);
    weir_jfile_writer *w;
    cr_assert_eq(weir_jfile_writer_new(NULL, NULL, &w, &err), 0);
    json_t *start = json_pack("{s:s,s:s,s:O,s:[],s:{s:s,s:i},s:s}", "op", "start", "graphId", "g", "graph", doc,
                              "components", "options", "completion", "never", "maxQueue", 1, "runtime", "virtual");
    weir_jfile_recorder rec;
    weir_jfile_recorder_init(&rec, w, start);
    weir_shell sh = {.effect = on_effect, .ud = &rec, .input = weir_jfile_recorder_input,
                     .input_done = weir_jfile_recorder_done};
    weir_exec_options o = {.completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1, .max_queue = 1};
    weir_exec *e;
    cr_assert_eq(weir_exec_create(g, &o, &sh, &e, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_start(e, 0, &err), 0);
    cr_assert_eq(weir_exec_pause(e, 1, &err), 0);
    inject(e, 1, 2);
    json_t *v = json_integer(2);
    weir_inject in = {"acc", "in", v, 0, NULL};
    cr_assert_eq(weir_exec_inject(e, &in, 3, NULL, &err), WEIR_EFULL, "the queue of 1 is full");
    json_decref(v);
    cr_assert_eq(weir_exec_resume(e, 4, &err), 0);
    cr_assert_eq(weir_jfile_recorder_finish(&rec, &err), 0);
    const char *text = weir_jfile_text(w, NULL);
    cr_assert(strstr(text, "\"value\":2"), "the refused inject is in the journal:\n%s", text);
    proc_result r = replay(text, "");
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    cr_assert_str_eq(r.out, "match (5 inputs, 1 waves)\n");
    proc_free(&r);
    weir_jfile_writer_free(w);
    weir_exec_destroy(e);
    weir_graph_unref(g);
    weir_registry_destroy(reg);
    json_decref(start);
    json_decref(doc);
}

/* ------------------------------------------------------------ divergence */

/* Record 6 (the inject of 5) said its wave made one hop more. */
static void more_hops(weir_journal_record *r, unsigned char *d) {
    if (r->seq == 6) d[15]++;
}

Test(replay, an_altered_digest_diverges_at_that_record_naming_its_tick_and_node) {
    recording rc = record();
    char *bad = rewritten(rc.text, false, more_hops);
    cr_assert_str_neq(bad, rc.text);
    proc_result r = replay(bad, "");
    cr_assert_eq(r.status, 1, "%s\n%s", r.out, r.err);
    char head[200];
    snprintf(head, sizeof head, "divergence at record 6 (line 6), tick %lld: inject into node \"acc\" port \"in\" of 5\n",
             (long long)rc.tick_of[6]);
    ASSERT_HAS(r, out, head);
    ASSERT_HAS(r, out, "  hops         2                    1                      <- differs\n");
    ASSERT_HAS(r, out, "  tick         5                    5                   \n");
    ASSERT_HAS(r, out, "the journal keeps only a digest of the expected outputs");
    ASSERT_HAS(r, out, "  (none)\n"); /* 5 is the second of a batch: no output */
    proc_free(&r);
    r = replay(bad, "--json");
    cr_assert_eq(r.status, 1);
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_not_null(doc, "%s", r.out);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "result")), "divergence");
    cr_assert_eq(json_integer_value(json_object_get(doc, "seq")), 6);
    cr_assert_eq(json_integer_value(json_object_get(doc, "tick")), rc.tick_of[6]);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(doc, "expected"), "hops")), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(doc, "actual"), "hops")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "record"), "node")), "acc");
    json_decref(doc);
    proc_free(&r);
    free(bad);
    free(rc.text);
}

/* Record 4 (the inject of 3, which completes the batch [1,2,3]) carries 30:
 * the chain is made again, so only the replay can tell. */
static void other_value(weir_journal_record *r, unsigned char *d) {
    (void)d;
    if (r->seq == 4) json_object_set_new(r->body, "value", json_integer(30));
}

Test(replay, another_value_under_a_sound_chain_diverges_with_the_outputs_the_replay_made) {
    recording rc = record();
    char *bad = rewritten(rc.text, true, other_value);
    proc_result r = replay(bad, "");
    cr_assert_eq(r.status, 1, "%s\n%s", r.out, r.err);
    char head[200];
    snprintf(head, sizeof head, "divergence at record 4 (line 4), tick %lld: inject into node \"acc\" port \"in\" of 30\n",
             (long long)rc.tick_of[4]);
    ASSERT_HAS(r, out, head);
    ASSERT_HAS(r, out, "outputs the replay produced for this record");
    ASSERT_HAS(r, out, "  sum:out 33\n");
    ASSERT_HAS(r, out, "  outputs      1                    1                   \n");
    const char *hash = strstr(r.out, "  output hash  ");
    cr_assert(hash && strstr(hash, "<- differs\n") && strstr(hash, "<- differs\n") < strchr(hash, '\n') + 1,
              "the output hash differs:\n%s", r.out);
    proc_free(&r);
    free(bad);
    free(rc.text);
}

/* From stdin (read once: its outputs are collected as it goes) the same. */
Test(replay, a_divergence_read_from_stdin_shows_the_outputs_too) {
    recording rc = record();
    char *bad = rewritten(rc.text, true, other_value);
    char *path = proc_tempfile(".ndjson", bad);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s replay - < %s", WEIR_BINARY, path);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 1, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, out, "divergence at record 4 (line 4)");
    ASSERT_HAS(r, out, "  sum:out 33\n");
    proc_free(&r);
    unlink(path);
    free(path);
    free(bad);
    free(rc.text);
}

/* The timer record names an effect that never existed. */
static void stale_effect(weir_journal_record *r, unsigned char *d) {
    (void)d;
    if (r->kind == WEIR_JOURNAL_TIMER) json_object_set_new(r->body, "effect", json_integer(999999));
}

Test(replay, an_input_this_build_refuses_is_a_divergence_with_the_error) {
    recording rc = record();
    char *bad = rewritten(rc.text, true, stale_effect);
    proc_result r = replay(bad, "");
    cr_assert_eq(r.status, 1, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, out, "divergence at record 9 (line 9)");
    ASSERT_HAS(r, out, "timer effect 999999 fired");
    ASSERT_HAS(r, out, "this build refuses the input: ");
    proc_free(&r);
    free(bad);
    free(rc.text);
}

/* The graph names a component this build does not have: the journal is
 * sound, the build differs. */
static void unknown_component(weir_journal_record *r, unsigned char *d) {
    (void)d;
    if (r->seq != 1) return;
    json_t *node = json_array_get(json_object_get(json_object_get(r->body, "graph"), "nodes"), 1);
    json_object_set_new(node, "component", json_string("symbia.core.gone"));
}

Test(replay, a_graph_this_build_does_not_load_diverges_at_the_start) {
    recording rc = record();
    char *bad = rewritten(rc.text, true, unknown_component);
    proc_result r = replay(bad, "");
    cr_assert_eq(r.status, 1, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, out, "divergence at record 1 (line 1), tick 0: start\n");
    ASSERT_HAS(r, out, "the graph does not load under this build: ");
    ASSERT_HAS(r, out, "symbia.core.gone");
    proc_free(&r);
    free(bad);
    free(rc.text);
}

/* ------------------------------------------------------------ broken */

Test(replay, a_torn_file_is_broken_naming_the_line) {
    recording rc = record();
    rc.text[strlen(rc.text) - 20] = '\0';
    proc_result r = replay(rc.text, "");
    cr_assert_eq(r.status, 2, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, err, "broken journal: torn: the last line (line 13) is incomplete");
    cr_assert_str_eq(r.out, "", "nothing is claimed about a broken file");
    proc_free(&r);
    r = replay(rc.text, "--json");
    cr_assert_eq(r.status, 2);
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "result")), "broken");
    cr_assert_eq(json_integer_value(json_object_get(doc, "line")), 13);
    json_decref(doc);
    proc_free(&r);
    free(rc.text);
}

Test(replay, an_edited_file_is_broken_not_a_divergence) {
    recording rc = record();
    char *bad = rewritten(rc.text, false, other_value); /* the old chain kept */
    proc_result r = replay(bad, "");
    cr_assert_eq(r.status, 2, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, err, "broken journal: line 4: hash chain broken (record 4 does not follow record 3");
    proc_free(&r);
    free(bad);
    free(rc.text);
}

/* A divergence early and a torn end: the file is broken, whatever it did
 * before the break. */
Test(replay, a_broken_file_is_broken_even_after_a_divergence) {
    recording rc = record();
    char *bad = rewritten(rc.text, true, other_value);
    bad[strlen(bad) - 1] = '\0';
    proc_result r = replay(bad, "");
    cr_assert_eq(r.status, 2, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, err, "broken journal: torn: the last line (line 13) has no newline");
    ASSERT_HAS(r, err, "record 4 had diverged before that");
    proc_free(&r);
    free(bad);
    free(rc.text);
}

Test(replay, usage_and_missing_sources_are_exit_2) {
    proc_result r = proc_run(WEIR_BINARY " replay");
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "expected one journal file");
    proc_free(&r);
    r = proc_run(WEIR_BINARY " replay /nonexistent/j.ndjson");
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "weir replay: cannot open /nonexistent/j.ndjson");
    cr_assert_null(strstr(r.err, "broken journal"), "a missing file is not a broken journal: %s", r.err);
    proc_free(&r);
    r = proc_run(WEIR_BINARY " replay --data /nonexistent-weir-dir x");
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "/nonexistent-weir-dir is not a directory");
    cr_assert_null(strstr(r.err, "broken journal"), "%s", r.err);
    proc_free(&r);
    r = proc_run(WEIR_BINARY " replay --help");
    cr_assert_eq(r.status, 0);
    ASSERT_HAS(r, out, "weir replay --data DIR EXECUTION_ID");
    proc_free(&r);
}

/* ------------------------------------------------------------ data dir */

static int store_one(void *ud, const weir_jfile_rec *rec) {
    weir_journal *j = ud;
    weir_error err;
    if (rec->r.seq == 1)
        cr_assert_eq(weir_journal_start(j, "x-batches", "g-batches", 1, rec->r.tick, rec->r.time_ms, rec->r.body, NULL,
                                        NULL, &err),
                     0, "%s", err.message);
    else
        cr_assert_eq(weir_journal_append(j, "x-batches", rec->r.kind, rec->r.tick, rec->r.time_ms, rec->r.body, NULL,
                                         NULL, NULL, &err),
                     0, "%s", err.message);
    if (rec->digest) cr_assert_eq(weir_journal_digest(j, "x-batches", rec->r.seq, rec->digest, rec->digest_len, &err), 0);
    return 0;
}

Test(replay, a_journal_in_a_data_directory_matches_and_an_unknown_id_is_named) {
    recording rc = record();
    char dir[64];
    proc_tempdir(dir, sizeof dir, "replay");
    weir_store *st;
    weir_journal *j;
    weir_error err;
    cr_assert_eq(weir_store_open(dir, &st, &err), 0, "%s", err.message);
    cr_assert_eq(weir_journal_open(st, NULL, &j, &err), 0, "%s", err.message);
    cr_assert_eq(weir_jfile_read(rc.text, strlen(rc.text), store_one, j, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(weir_journal_sync(j, &err), 0);
    weir_journal_close(j);
    weir_store_close(st);
    char cmd[512], want[128];
    snprintf(cmd, sizeof cmd, "%s replay --data %s x-batches", WEIR_BINARY, dir);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    snprintf(want, sizeof want, "match (13 inputs, %llu waves)\n", (unsigned long long)rc.ticks);
    cr_assert_str_eq(r.out, want);
    proc_free(&r);
    snprintf(cmd, sizeof cmd, "%s replay --data %s nobody", WEIR_BINARY, dir);
    r = proc_run(cmd);
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "no execution nobody in");
    proc_free(&r);
    serve_rmdir(dir);
    free(rc.text);
}
