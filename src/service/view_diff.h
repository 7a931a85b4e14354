/*
 * Diffs of live views (SPEC §8): what a view subscriber receives after the
 * view's initial value, how two diffs compose into one, and how a diff that
 * came over the wire is checked.  Pure functions on jansson values; the
 * same model in JavaScript is src/web/views.js, and the two agree exactly
 * (tests/unit/test_view_diff.c writes fixtures that tests/js/view_diff.cjs
 * replays).
 *
 * THE FORMAT.  A diff is a JSON object, one of four shapes:
 *
 *   {}              the empty diff: changes nothing, fits any value.  The
 *                   one canonical no-op.
 *   {"value": v}    replace the whole value by v (any JSON, null too).  A
 *                   view's initial value is this diff from nothing.
 *   object diff     {"set": {k: v}, "patch": {k: diff}, "remove": [k]},
 *                   for an object; every member optional, a key in at most
 *                   one of them.  `set` ADDS keys that are absent (setting a
 *                   present key is an error); `patch` applies a nested diff
 *                   to a present key's value (replacing a present value
 *                   whole is `patch: {k: {"value": v}}`); `remove` deletes
 *                   present keys (removing an absent key is an error).
 *                   Being exact about presence is what lets compose cancel
 *                   an add followed by a remove, so a composed diff never
 *                   names a key that is in neither the old nor the new value.
 *   list diff       {"degree": D, "grow": g, "shrink": s, "permutation":
 *                   [cycle...], "change": {pos: v}, "patch": {pos: diff},
 *                   "freeze": [pos]}, for a list; it is a list diff because
 *                   it has `degree`.  On a list of n items (n must be D - g),
 *                   in this fixed order (Electric v3's incseq):
 *                     1. grow: append g empty slots (length D);
 *                     2. permutation: apply the cycles one after another;
 *                        after them, new[i] = old[p(i)];
 *                     3. shrink: drop the last s slots (length D - s);
 *                     4. change: the item at pos becomes v (whole);
 *                        patch: the item at pos gets the nested diff.
 *                   D, g, s are integers, 0 <= g, s <= D; g and s default
 *                   to 0, permutation/change/patch to empty.  A position is
 *                   a decimal string without leading zeros ("0", "12"),
 *                   below D - s, in at most one of change and patch.  Every
 *                   grown slot that survives the shrink must be given a
 *                   value by `change`.  A cycle is either
 *                     [c0, c1, ..., cm-1]  (m >= 2 distinct positions < D):
 *                                          new[c_t] = old[c_(t+1 mod m)],
 *                                          i.e. the item at c0 moves to
 *                                          c_(m-1), each other one step back;
 *                     {"rot": [i, j]}      (i != j, both < D): move the item
 *                                          at i to j, shifting the items
 *                                          between by one (the same as the
 *                                          cycle [i, i+1, ..., j] when i < j,
 *                                          [i, i-1, ..., j] when i > j).
 *                   The rots of one diff move at most
 *                   WEIR_VIEW_DIFF_ROT_SPAN x degree items in total (a rot
 *                   [i, j] moves |i - j| + 1; a canonical diff's rots move
 *                   at most degree), so applying a diff from the wire costs
 *                   no more than its size plus a few times its degree.
 *                   `freeze` is reserved (Electric: positions that will not
 *                   change again): checked, ignored by apply, dropped by
 *                   compose, never produced.
 *
 * Examples: the port view "last 3 values" [1,2,3] -> [2,3,4] is
 *   {"degree":3,"permutation":[{"rot":[0,2]}],"change":{"2":4}};
 * appending to the executions list [e1,e2] -> [e1,e2,e3] is
 *   {"degree":3,"grow":1,"change":{"2":e3}};
 * a node's counter going up: {"patch":{"nodes":{"patch":{"n1":{"patch":
 *   {"hops":{"value":8}}}}}}}.
 *
 * CANONICAL FORM (what weir_view_diff_make and weir_view_diff_compose
 * return, whatever the form of compose's inputs): {} for no change; members
 * that would be empty or 0 are left out (a list diff always has degree); no
 * nested diff is {}; a list position is replaced by `change`, never by a
 * patch {"value": v}; a list diff never both grows
 * and shrinks (degree = max(old length, new length)); the permutation is
 * the disjoint cycles of p in order of their smallest position, each
 * written from that position, a run of 3 or more consecutive positions
 * (either direction) as a rot; a freed slot stays where it is; `remove` is
 * sorted by code point.
 *
 * SIZE.  Two measures.  weir_view_diff_weight is the length of the
 * document as compact JSON (exact for ASCII strings without escapes; a
 * non-integer number counts 8): make uses a nested diff only when it weighs
 * no more than replacing the new value whole, {"value": b}.
 * weir_view_diff_nodes counts the JSON values in a document (every scalar,
 * array and object counts 1, object keys do not).
 * A canonical diff from a to b only holds positions below max(|a|, |b|),
 * keys of a or b, and values taken from b, so composing any number of diffs
 * stays bounded by the two values, never by how many diffs were composed;
 * the tests check nodes(compose(d1..dk)) <= 2 * (nodes(a) + nodes(b)) + 8.
 *
 * Ownership: every input is BORROWED and not modified.  Results are NEW
 * references that may share unchanged subtrees with the inputs, so treat
 * inputs and results as immutable (serialise them, diff them, apply diffs
 * to them; never json_object_set on them).
 *
 * Errors: 0, or WEIR_EINVAL with a message "view diff at <path>: ..." (a
 * JSON pointer; "the root" for the top), or WEIR_ENOMEM.  Check names the
 * place in the DIFF ("/patch/nodes/grow"); apply and compose check their
 * diffs first, then name the place in the VALUE ("/nodes/3") where a diff
 * does not fit.  Nothing here crashes on any input (tests/fuzz).
 */
#ifndef WEIR_SERVICE_VIEW_DIFF_H
#define WEIR_SERVICE_VIEW_DIFF_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "weir/weir.h"

/* How deeply diffs may nest (a list diff's item patch inside an object
 * diff's patch is 2 levels).  Check refuses deeper diffs; make replaces a
 * value whole at this depth instead of recursing further. */
#define WEIR_VIEW_DIFF_MAX_DEPTH 64
/* The largest list degree check accepts from the wire. */
#define WEIR_VIEW_DIFF_MAX_ITEMS (1u << 20)
/* The rots of one list diff move at most this many times its degree. */
#define WEIR_VIEW_DIFF_ROT_SPAN 4
/* make looks for a "dropped k items at the front" shift up to this k. */
#define WEIR_VIEW_DIFF_MAX_SHIFT 16

/* A small diff from old_ to new_ (canonical): {} when equal; keyed diffs
 * for objects; for lists, growing or trimming at the end, a shift (items
 * dropped at the front, as with a "last n values" window) when it changes
 * fewer positions, otherwise a change or patch by position.  At the root,
 * two objects or two lists always get a structural diff (a view is never
 * sent whole again); below it a nested diff is used only when it weighs no
 * more than {"value": new} (SIZE), else the value is replaced whole.
 * Either argument may be NULL (taken as JSON null).  Cost: a pass over
 * both values, except that a subtree that is the same json_t in both is
 * skipped at once, so a view value rebuilt by sharing its unchanged parts
 * (json_incref) diffs about 8x faster (200 nodes: ~30 us instead of 250). */
int weir_view_diff_make(json_t *old_, json_t *new_, json_t **out, weir_error *err);

/* The value after diff (checked first).  WEIR_EINVAL when the diff is
 * malformed or does not fit value (a list of another length, a patch of an
 * absent key, an object diff on a list...), naming the path. */
int weir_view_diff_apply(json_t *value, json_t *diff, json_t **out, weir_error *err);

/* One diff equal to applying d1 then d2 (both checked first), in canonical
 * form (so compose(d, {}) is d made canonical) with the cancellations: an
 * add then a remove of a key, a grown item then a shrink.  Associative:
 * (d1 d2) d3 and d1 (d2 d3) are the same diff (tested, not only the same
 * value).  WEIR_EINVAL when d2 cannot follow d1 (a list diff for another length, a
 * patch of a key d1 removed...), naming the value path. */
int weir_view_diff_compose(json_t *d1, json_t *d2, json_t **out, weir_error *err);

/* The same as weir_view_diff_compose for d1 and d2 that are known to be
 * canonical (results of make or compose; NOT checked): the fast path for
 * folding a subscriber's pending diff, costing O(degree) per list and
 * O(keys) per object touched by d2, plus the nested work where both touch.
 * A d2 that does not follow d1 still gives WEIR_EINVAL. */
int weir_view_diff_compose_canonical(json_t *d1, json_t *d2, json_t **out, weir_error *err);

/* Is diff well formed (the format above, nesting and degree within the
 * limits)?  0 or WEIR_EINVAL naming the place in the diff. */
int weir_view_diff_check(json_t *diff, weir_error *err);

/* Is diff the empty diff {}? */
bool weir_view_diff_is_empty(const json_t *diff);

/* The number of JSON values in doc (SIZE above). */
size_t weir_view_diff_nodes(const json_t *doc);

/* The length of doc as compact JSON, near enough (SIZE above). */
size_t weir_view_diff_weight(const json_t *doc);

#endif
