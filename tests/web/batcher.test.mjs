// Events batched per animation frame (src/web/batcher.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameBatcher, FrameCoalescer, RateMeter, Throttle, sortBatch } from '../../src/web/batcher.js';

function fakeFrames() {
  const queue = [];
  return {
    schedule: (fn) => queue.push(fn),
    frame() {
      const fns = queue.splice(0);
      for (const fn of fns) fn();
      return fns.length;
    },
    get waiting() { return queue.length; },
  };
}

test('100,000 events in one frame: one frame scheduled, one batch handed over', () => {
  const frames = fakeFrames();
  const flushed = [];
  const b = new FrameBatcher({ schedule: frames.schedule, cap: 200000, onFlush: (batch, info) => flushed.push({ batch, info }) });
  for (let i = 0; i < 100000; i++) b.push({ i });
  assert.equal(frames.waiting, 1, 'one frame callback however many events');
  assert.equal(flushed.length, 0, 'nothing is done per event');
  frames.frame();
  assert.equal(flushed.length, 1);
  assert.equal(flushed[0].batch.length, 100000);
  assert.equal(flushed[0].batch[99999].i, 99999, 'in arrival order');
  assert.equal(flushed[0].info.dropped, 0);
  assert.equal(frames.frame(), 0, 'an idle batcher asks for no frame');
  b.push({ i: 'next' });
  frames.frame();
  assert.equal(flushed.length, 2);
  assert.deepEqual(flushed[1].batch, [{ i: 'next' }]);
});

test('while frames do not come a batch holds at most cap events; the rest are counted', () => {
  const frames = fakeFrames();
  let got = null;
  const b = new FrameBatcher({ schedule: frames.schedule, cap: 1000, onFlush: (batch, info) => { got = { batch, info }; } });
  for (let i = 0; i < 50000; i++) b.push(i);
  assert.equal(b.batch.length, 1000);
  frames.frame();
  assert.equal(got.batch.length, 1000);
  assert.equal(got.batch[0], 0);
  assert.deepEqual(got.info, { dropped: 49000, total: 50000 });
});

test('reset forgets what waits', () => {
  const frames = fakeFrames();
  let calls = 0;
  const b = new FrameBatcher({ schedule: frames.schedule, onFlush: () => calls++ });
  b.push(1);
  b.reset();
  frames.frame();
  assert.equal(calls, 0);
});

test('the rate meter counts events per second over its window', () => {
  let now = 10000;
  const m = new RateMeter(1000, () => now);
  for (let i = 0; i < 10; i++) {
    m.add(500);
    now += 100;
  }
  assert.equal(m.perSecond(), 5000);
  now += 2000;
  assert.equal(m.perSecond(), 0, 'old buckets fall out of the window');
});

test('a coalescer runs once per frame however often it is poked', () => {
  const frames = fakeFrames();
  let runs = 0;
  const c = new FrameCoalescer(() => runs++, frames.schedule);
  for (let i = 0; i < 1000; i++) c.poke();
  frames.frame();
  assert.equal(runs, 1);
  c.poke();
  frames.frame();
  assert.equal(runs, 2);
});

test('waiting: the events since the last frame, kept or not', () => {
  const frames = fakeFrames();
  const b = new FrameBatcher({ schedule: frames.schedule, cap: 10, onFlush: () => {} });
  for (let i = 0; i < 25; i++) b.push(i);
  assert.equal(b.waiting, 25);
  frames.frame();
  assert.equal(b.waiting, 0);
});

test('pushAll: a batch of events in one call, one frame, the cap and the rate as for push', () => {
  const frames = fakeFrames();
  const flushed = [];
  const b = new FrameBatcher({ schedule: frames.schedule, cap: 250, onFlush: (batch, info) => flushed.push({ batch, info }) });
  b.pushAll([]);
  assert.equal(frames.waiting, 0, 'an empty batch asks for no frame');
  b.pushAll(Array.from({ length: 100 }, (_, i) => ({ i })));
  b.pushAll(Array.from({ length: 100 }, (_, i) => ({ i: 100 + i })));
  assert.equal(frames.waiting, 1, 'one frame for both');
  assert.equal(b.waiting, 200);
  b.pushAll(Array.from({ length: 100 }, (_, i) => ({ i: 200 + i })));
  assert.equal(b.waiting, 300, 'kept or counted');
  assert.equal(b.rate.perSecond(), 300, 'each event counts in the rate');
  frames.frame();
  assert.equal(flushed.length, 1);
  assert.equal(flushed[0].batch.length, 250);
  assert.deepEqual(flushed[0].batch.map((e) => e.i), Array.from({ length: 250 }, (_, i) => i), 'in order, the first up to the cap');
  assert.deepEqual(flushed[0].info, { dropped: 50, total: 300 });
});

test('sortBatch sorts a batch of events in one pass', () => {
  const FEED = new Set(['output', 'log', 'component:error']);
  const BUSY = new Set(['port:emit', 'output', 'log']);
  const items = [
    { event: 'port:emit', data: { seq: 1 } },
    { event: 'output', data: { seq: 2 } },
    { event: 'events:skipped', data: { count: 30 } },
    { event: 'component:error', data: { seq: 3 } },
    { event: 'execution:paused', data: { seq: 4 } },
    { event: 'port:emit', data: { seq: 5 } },
    { event: 'log', data: { seq: 6 } },
    { event: 'events:skipped', data: { count: 12 } },
    { event: 'port:emit' }, // no data: left out
  ];
  const r = sortBatch(items, FEED, BUSY);
  assert.deepEqual(r.hops.map((d) => d.seq), [1, 5]);
  assert.deepEqual(r.feed.map((it) => [it.event, it.data.seq]), [['output', 2], ['component:error', 3], ['log', 6]]);
  assert.equal(r.busy, 4);
  assert.equal(r.skipped, 42);
});

// timers by hand: timer(fn, ms) queues fn at now + ms; advance(ms) runs what is due
function fakeTimers() {
  let now = 0, next = 1;
  const due = new Map();
  return {
    now: () => now,
    timer: (fn, ms) => { const id = next++; due.set(id, { at: now + ms, fn }); return id; },
    clear: (id) => { due.delete(id); },
    advance(ms) {
      now += ms;
      for (const [id, t] of [...due].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at > now) continue;
        due.delete(id);
        t.fn();
      }
    },
    get pending() { return due.size; },
  };
}

test('a throttle runs at once the first time, then at most once every ms however often it is poked', () => {
  const t = fakeTimers();
  const runs = [];
  const th = new Throttle(() => runs.push(t.now()), 250, t);
  th.poke();
  t.advance(0);
  assert.deepEqual(runs, [0]);
  for (let i = 0; i < 100; i++) { th.poke(); t.advance(1); }
  assert.equal(t.pending, 1, 'one run waiting, not a hundred');
  t.advance(150);
  assert.deepEqual(runs, [0, 250]);
  t.advance(1000);
  assert.deepEqual(runs, [0, 250], 'nothing runs unpoked');
  th.poke();
  t.advance(0);
  assert.deepEqual(runs, [0, 250, 1250], 'long after the last run: at once again');
});

test('a cancelled throttle never runs the poke it was waiting for', () => {
  const t = fakeTimers();
  let runs = 0;
  const th = new Throttle(() => runs++, 250, t);
  th.poke();
  t.advance(0);
  th.poke();
  th.cancel();
  t.advance(1000);
  assert.equal(runs, 1);
  assert.equal(t.pending, 0);
  th.poke();
  t.advance(0);
  assert.equal(runs, 2, 'and it can be poked again');
});
