// Lists after view diffs (src/web/lists.js with views.js): the rows to add,
// change and remove are exactly the items the diffs touched.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedRows, executionCells, newestFirst } from '../../src/web/lists.js';
import { LiveView, diff } from '../../src/web/views.js';

const exec = (id, state, processed, tick = 0) => ({
  executionId: id, graphId: 'g1', graphName: 'Simple Pipeline', state, runtime: 'realtime', startedAt: '2026-12-06T18:00:00Z',
  tick, stored: false, metrics: { messagesProcessed: processed, messagesEmitted: processed, errorCount: 0, queueDepth: 0, pendingEffects: 0 },
});

// Rows as a caller keeps them: key -> a record of what was drawn.
function draw(rows, items) {
  const r = rows.reconcile(items);
  const made = [], updated = [];
  rows.commit(r, items, (item) => { made.push(item.executionId); return { drawn: item }; }, (row, item) => { row.drawn = item; updated.push(item.executionId); });
  return { r, made, updated };
}

test('a diff that changes one execution changes one row of a thousand', () => {
  const list = Array.from({ length: 1000 }, (_, i) => exec(`x${i}`, 'running', i));
  const view = new LiveView('executions');
  view.init({ view: 'executions', seq: 1, value: list });
  const rows = new KeyedRows((x) => x.executionId);
  const first = draw(rows, newestFirst(view.value));
  assert.equal(first.made.length, 1000);
  assert.equal(first.r.order[0], 'x999', 'newest first');

  const next = view.value.slice();
  next[500] = exec('x500', 'paused', 500, 3);
  view.update({ view: 'executions', seq: 2, diff: diff(view.value, next) });
  const second = draw(rows, newestFirst(view.value));
  assert.deepEqual(second.made, []);
  assert.deepEqual(second.updated, ['x500']);
  assert.deepEqual(second.r.removed, []);
  assert.equal(second.r.moved, false);
  assert.equal(rows.row('x500').drawn.state, 'paused');
  assert.equal(executionCells(rows.row('x500').drawn).tick, 3);
});

test('appended and removed executions: rows made and dropped, the others untouched', () => {
  const view = new LiveView('executions');
  view.init({ view: 'executions', seq: 1, value: [exec('a', 'running', 1), exec('b', 'running', 2), exec('c', 'completed', 3)] });
  const rows = new KeyedRows((x) => x.executionId);
  draw(rows, newestFirst(view.value));
  const next = [view.value[0], view.value[2], exec('d', 'running', 0)];
  const d = diff(view.value, next);
  assert.ok(d.degree !== undefined, 'a list diff, not the whole value');
  view.update({ view: 'executions', seq: 2, diff: d });
  const out = draw(rows, newestFirst(view.value));
  assert.deepEqual(out.made, ['d']);
  assert.deepEqual(out.r.removed, ['b']);
  // the diff may move c by patching b's slot into it: then c's row is
  // redrawn with an equal item; a's is never touched
  assert.ok(!out.updated.includes('a'));
  assert.deepEqual(rows.row('c').drawn, exec('c', 'completed', 3));
  assert.deepEqual(out.r.order, ['d', 'c', 'a']);
  assert.equal(out.r.moved, false, 'removals and additions are not a move');
  assert.equal(rows.row('b'), null);
});

test('a reordering is reported as a move', () => {
  const rows = new KeyedRows((x) => x.executionId);
  const a = exec('a', 'running', 1), b = exec('b', 'running', 1);
  draw(rows, [a, b]);
  const out = draw(rows, [b, a]);
  assert.equal(out.r.moved, true);
  assert.deepEqual(out.r.order, ['b', 'a']);
});

test('execution cells read the view item', () => {
  const c = executionCells({ ...exec('0123456789abcdef', 'running', 7, 4), stored: true });
  assert.deepEqual(c, { id: '0123456789abcdef', shortId: '01234567', graph: 'Simple Pipeline', state: 'running', runtime: 'realtime', tick: 4, processed: 7, emitted: 7, errors: 0, queue: 0, stored: true });
});
