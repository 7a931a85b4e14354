// Outputs, logs and errors newest first, and explain (src/web/feed.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Feed, HopRing, chainFromHops, chainFromTrace, chainText, compact, explain } from '../../src/web/feed.js';

// What POST /api/executions/:id/inject {trace: true} answers for the quick-reference graph.
const TRACE = [
  { tick: 1, from: null, to: 'input:in', value: 21 },
  { tick: 1, from: 'input:out', to: 'double:in', value: 21 },
  { tick: 1, from: 'double:out', to: 'output:in', value: 42 },
];

test('the feed is newest first and bounded', () => {
  const f = new Feed(5);
  f.addAll([1, 2, 3].map((i) => ({ event: 'output', data: { nodeId: 'output', port: 'out', value: i, tick: i } })));
  f.addAll([{ event: 'log', data: { nodeId: 'output', level: 'info', message: 'hi', tick: 4 } }, { event: 'port:emit', data: {} }]);
  assert.deepEqual(f.entries.map((e) => e.kind + (e.value ?? e.message)), ['loghi', 'output3', 'output2', 'output1']);
  f.addAll([5, 6, 7].map((i) => ({ event: 'component:error', data: { nodeId: 'double', error: { message: `bad ${i}` }, tick: i } })));
  assert.equal(f.entries.length, 5);
  assert.deepEqual(f.entries.map((e) => e.message ?? e.value), ['bad 7', 'bad 6', 'bad 5', 'hi', 3]);
  assert.equal(f.of('error').length, 3);
  const v = f.version;
  f.addAll([]);
  assert.equal(f.version, v, 'nothing added: no change');
});

test('a batch larger than the feed keeps its newest entries', () => {
  const f = new Feed(10);
  f.addAll(Array.from({ length: 10000 }, (_, i) => ({ event: 'output', data: { nodeId: 'o', port: 'out', value: i, tick: i } })));
  assert.equal(f.entries.length, 10);
  assert.equal(f.entries[0].value, 9999);
  assert.equal(f.entries[9].value, 9990);
});

test('explain from an inject trace: inject → input → double → output', () => {
  const chain = chainFromTrace(TRACE, 'output');
  assert.deepEqual(chainText(chain), ['inject → input:in  21', 'input:out → double:in  21', 'double:out → output:in  42']);
  assert.deepEqual(chainFromTrace(TRACE, 'nowhere'), []);
});

test('explain from a fan-in trace follows the last arrival', () => {
  const trace = [
    { tick: 2, from: null, to: 'src:in', value: 1 },
    { tick: 2, from: 'src:out', to: 'a:in', value: 1 },
    { tick: 2, from: 'src:out', to: 'b:in', value: 1 },
    { tick: 2, from: 'a:out', to: 'merge:left', value: 2 },
    { tick: 2, from: 'b:out', to: 'merge:right', value: 3 },
    { tick: 2, from: 'merge:out', to: 'sink:in', value: 5 },
  ];
  assert.deepEqual(chainFromTrace(trace, 'sink').map((h) => h.to.node), ['src', 'b', 'merge', 'sink']);
});

test('explain from the hops seen (port:emit events)', () => {
  const ring = new HopRing(100);
  const emit = (seq, tick, s, t, value) => ring.push({ executionId: 'x', sourceNode: s, sourcePort: 'out', targetNode: t, targetPort: 'in', value, sequence: seq, tick });
  emit(1, 1, 'input', 'double', 1);
  emit(2, 1, 'double', 'output', 2);
  emit(3, 2, 'input', 'double', 21);
  emit(4, 2, 'double', 'output', 42);
  const chain = chainFromHops(ring, 'output', 2);
  assert.deepEqual(chainText(chain), ['input:out → double:in  21', 'double:out → output:in  42']);
  const e = { kind: 'output', nodeId: 'output', port: 'out', value: 42, tick: 2 };
  assert.equal(explain(e, new Map(), ring).source, 'hops');
  assert.equal(explain(e, new Map([[2, TRACE]]), ring).source, 'trace', 'a trace of that tick wins');
  assert.deepEqual(explain({ ...e, tick: 9 }, new Map(), ring), { source: null, chain: [] });
});

test('the hop ring is bounded and newest first', () => {
  const ring = new HopRing(3);
  for (let i = 0; i < 10; i++) ring.push(i);
  assert.deepEqual([...ring.recent()], [9, 8, 7]);
});

test('compact cuts long JSON', () => {
  assert.equal(compact({ a: 1 }), '{"a":1}');
  assert.equal(compact('x'.repeat(100), 10), '"xxxxxxxx…');
  assert.equal(compact(undefined), 'undefined');
});
