/*
 * libFuzzer target for view diffs (src/service/view_diff.c, SPEC §8), the
 * part a client or a peer can send: the input is up to three JSON documents
 * one after another, a value v and diffs d1 and d2.  Each diff is checked;
 * then d1 and d2 are applied in turn, composed, and a diff is made back.
 *
 * Checked, besides what the sanitizers catch: only 0, WEIR_EINVAL and
 * WEIR_ENOMEM come back, every refusal says where ("view diff at "); a diff
 * that applies passes check; when d1 then d2 apply to v, their composition
 * exists, passes check, is canonical (composing it with {} gives it back)
 * and gives the same value; make(v, v2) applies to v2, and the fast
 * compose of canonical diffs gives what the checked one gives.  The committed corpus
 * (tests/fuzz/corpus/view_diff) replays as a normal test through
 * replay_main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/view_diff.h"

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_view_diff: %s\n", what);
        abort();
    }
}

static void check_code(int rc, const weir_error *err) {
    check(rc == 0 || rc == WEIR_EINVAL || rc == WEIR_ENOMEM, "an undocumented code");
    if (rc == WEIR_EINVAL) check(strncmp(err->message, "view diff at ", 13) == 0, "a refusal that does not say where");
}

/* The next JSON document of data[*at..size), NULL when none is left. */
static json_t *next_doc(const uint8_t *data, size_t size, size_t *at) {
    if (*at >= size) return NULL;
    json_error_t e;
    json_t *j = json_loadb((const char *)data + *at, size - *at, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &e);
    if (!j) {
        *at = size;
        return NULL;
    }
    *at += (size_t)e.position;
    return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t at = 0;
    json_t *v = next_doc(data, size, &at), *d1 = next_doc(data, size, &at), *d2 = next_doc(data, size, &at);
    json_t *v1 = NULL, *v2 = NULL, *c = NULL, *cc = NULL, *vc = NULL, *back = NULL, *vb = NULL, *e = json_object();
    json_t *fwd = NULL, *slow = NULL, *fast = NULL;
    weir_error err;
    int rc;
    if (!v || !e) goto out;

    /* with one document, take it as a diff too */
    json_t *first = d1 ? d1 : v;
    rc = weir_view_diff_check(first, &err);
    check_code(rc, &err);
    int applied = weir_view_diff_apply(v, first, &v1, &err);
    check_code(applied, &err);
    if (!applied) check(rc == 0, "a diff applied that check refuses");
    if (applied || !d2) goto out;

    rc = weir_view_diff_apply(v1, d2, &v2, &err);
    check_code(rc, &err);
    if (rc) goto out;
    rc = weir_view_diff_compose(d1, d2, &c, &err);
    check_code(rc, &err);
    check(rc == 0, "d1 then d2 apply but do not compose");
    check(weir_view_diff_check(c, &err) == 0, "a composition that check refuses");
    rc = weir_view_diff_apply(v, c, &vc, &err);
    check(rc == 0 && json_equal(vc, v2), "the composition does not give what d1 then d2 give");
    check(weir_view_diff_compose(c, e, &cc, &err) == 0 && json_equal(cc, c), "a composition that is not canonical");

    rc = weir_view_diff_make(v, v2, &back, &err);
    check_code(rc, &err);
    if (rc) goto out;
    check(weir_view_diff_check(back, &err) == 0, "made a diff that check refuses");
    check(weir_view_diff_apply(v, back, &vb, &err) == 0 && json_equal(vb, v2), "made a diff that does not give the value");
    rc = weir_view_diff_make(v2, v, &fwd, &err);
    check_code(rc, &err);
    if (rc) goto out;
    rc = weir_view_diff_compose(c, fwd, &slow, &err);
    check(rc == 0 && weir_view_diff_compose_canonical(c, fwd, &fast, &err) == 0 && json_equal(slow, fast),
          "the fast compose differs from the checked one");

out:
    json_decref(v);
    json_decref(d1);
    json_decref(d2);
    json_decref(v1);
    json_decref(v2);
    json_decref(c);
    json_decref(cc);
    json_decref(vc);
    json_decref(back);
    json_decref(vb);
    json_decref(fwd);
    json_decref(slow);
    json_decref(fast);
    json_decref(e);
    return 0;
}
