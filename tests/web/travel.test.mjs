// A past tick shown like the present (src/web/travel.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeRows, sliderRange, viewAtTick } from '../../src/web/travel.js';

// GET /api/executions/:id/at/2 of the accumulator example (as the server answers it).
const AT = {
  executionId: 'x1', tick: 2, state: 'running', atTick: 2,
  nodes: { readings: {}, batch: { buffer: [1, 2] }, sum: {} },
  metrics: {
    messagesProcessed: 3, messagesEmitted: 2, componentInvocations: 4, errorCount: 0, queueDepth: 0, ticks: 2,
    nodes: {
      readings: { invocations: 2, emitted: 2, errors: 0, avgLatencyMs: 0, maxLatencyMs: 0 },
      batch: { invocations: 2, emitted: 0, errors: 0, avgLatencyMs: 0, maxLatencyMs: 0 },
      sum: { invocations: 0, emitted: 0, errors: 0, avgLatencyMs: 0, maxLatencyMs: 0 },
    },
  },
};

test('an at-tick answer becomes the execution view shape', () => {
  const live = { executionId: 'x1', graphId: 'g', graphName: 'Batches', runtime: 'virtual', startedAt: 't0', tick: 9, stored: true };
  const v = viewAtTick(AT, live);
  assert.equal(v.tick, 2);
  assert.equal(v.graphName, 'Batches');
  assert.equal(v.runtime, 'virtual');
  assert.deepEqual(v.nodes.batch, { invocations: 2, emitted: 0, errors: 0, state: { buffer: [1, 2] } });
  assert.deepEqual(v.nodes.readings, { invocations: 2, emitted: 2, errors: 0, state: {} });
  assert.equal(v.metrics.messagesProcessed, 3);
  assert.equal(v.metrics.nodes, undefined, 'the counters moved onto the nodes');
});

test('the slider covers 0..tick of a stored execution only', () => {
  assert.deepEqual(sliderRange({ stored: true, tick: 7 }), { min: 0, max: 7 });
  assert.equal(sliderRange({ stored: false, tick: 7 }), null);
  assert.equal(sliderRange(null), null);
});

test('node rows follow the graph order, then the rest by id', () => {
  const rows = nodeRows(viewAtTick(AT, null), ['sum', 'readings']);
  assert.deepEqual(rows.map((r) => r.id), ['sum', 'readings', 'batch']);
});

test('node rows keep their identity while the node object is the same', () => {
  const a = { invocations: 1, emitted: 1, errors: 0, state: {} };
  const b = { invocations: 2, emitted: 2, errors: 0, state: {} };
  const cache = new Map();
  const first = nodeRows({ nodes: { a, b } }, ['a', 'b'], cache);
  const b2 = { ...b, invocations: 3 };
  const second = nodeRows({ nodes: { a, b: b2 } }, ['a', 'b'], cache);
  assert.equal(second[0], first[0], 'a did not change: the same row');
  assert.notEqual(second[1], first[1]);
  assert.equal(second[1].invocations, 3);
});
