// Events batched per animation frame (src/web/batcher.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameBatcher, FrameCoalescer, RateMeter } from '../../src/web/batcher.js';

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
