// Events batched per animation frame: however fast they come (100,000/s
// and more), the page does one piece of work per frame, never one per
// event.  push() only appends to an array; the frame callback hands the
// whole batch over and starts a new one.  While frames do not come (a
// hidden tab), a batch holds at most `cap` events: the rest are counted,
// not kept, so memory stays bounded by the cap, not by the event rate.

export class FrameBatcher {
  // onFlush(batch, info): info = {dropped, total} for this frame.
  // schedule(fn): requestAnimationFrame (or a test's fake).
  constructor({ onFlush, schedule, cap = 20000 }) {
    this.onFlush = onFlush;
    this.schedule = schedule;
    this.cap = cap;
    this.batch = [];
    this.dropped = 0;
    this.pending = false;
    this.rate = new RateMeter();
    this.flushFrame = () => this.flush();
  }

  push(item) {
    this.rate.add(1);
    if (this.batch.length < this.cap) this.batch.push(item);
    else this.dropped++;
    if (!this.pending) {
      this.pending = true;
      this.schedule(this.flushFrame);
    }
  }

  // Many at once (a batch the server sent): the same as push for each.
  pushAll(items) {
    const n = items.length;
    if (n === 0) return;
    this.rate.add(n);
    const room = Math.max(0, this.cap - this.batch.length);
    if (n <= room) for (let i = 0; i < n; i++) this.batch.push(items[i]);
    else {
      for (let i = 0; i < room; i++) this.batch.push(items[i]);
      this.dropped += n - room;
    }
    if (!this.pending) {
      this.pending = true;
      this.schedule(this.flushFrame);
    }
  }

  // Events that came since the last frame.
  get waiting() {
    return this.batch.length + this.dropped;
  }

  flush() {
    this.pending = false;
    const batch = this.batch, dropped = this.dropped;
    if (batch.length === 0 && dropped === 0) return;
    this.batch = [];
    this.dropped = 0;
    this.onFlush(batch, { dropped, total: batch.length + dropped });
  }

  // Forget what is waiting (the execution watched changed).
  reset() {
    this.batch = [];
    this.dropped = 0;
    this.rate = new RateMeter();
  }
}

// A batch of an execution's events (the socket's `events`: {event, data}
// items, oldest first) sorted in one pass: hops (the data of port:emit),
// feed (the items of the kinds in feedKinds, a Set), busy (how many are
// of the kinds in busyKinds), skipped (the counts of its events:skipped
// notices added up).
export function sortBatch(items, feedKinds, busyKinds) {
  const hops = [], feed = [];
  let busy = 0, skipped = 0;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    if (!it || !it.data) continue;
    const event = it.event;
    if (busyKinds.has(event)) busy++;
    if (event === 'port:emit') hops.push(it.data);
    else if (feedKinds.has(event)) feed.push(it);
    else if (event === 'events:skipped') skipped += it.data.count || 0;
  }
  return { hops, feed, busy, skipped };
}

// Events per second over the last `windowMs`, in 100 ms buckets.
export class RateMeter {
  constructor(windowMs = 1000, now = () => Date.now()) {
    this.windowMs = windowMs;
    this.now = now;
    this.buckets = new Map(); // bucket start -> count
  }

  add(n) {
    const b = Math.floor(this.now() / 100) * 100;
    this.buckets.set(b, (this.buckets.get(b) || 0) + n);
    if (this.buckets.size > this.windowMs / 100 + 2) this.trim();
  }

  trim() {
    const from = this.now() - this.windowMs;
    for (const b of this.buckets.keys()) if (b + 100 <= from) this.buckets.delete(b);
  }

  perSecond() {
    this.trim();
    let sum = 0;
    for (const n of this.buckets.values()) sum += n;
    return Math.round((sum * 1000) / this.windowMs);
  }
}

// Calls fn at most once per frame however often it is poked (a view that
// changed: one redraw per frame, with the newest value).
export class FrameCoalescer {
  constructor(fn, schedule) {
    this.fn = fn;
    this.schedule = schedule;
    this.pending = false;
    this.run = () => {
      this.pending = false;
      this.fn();
    };
  }

  poke() {
    if (this.pending) return;
    this.pending = true;
    this.schedule(this.run);
  }
}

// Calls fn at most once every `ms`, the first time at once: poked however
// often meanwhile, it runs once when the wait is over (a redraw that reads
// the newest value: counters changing 20 times a second are drawn 4 times).
export class Throttle {
  // (the defaults are called as functions: setTimeout called as a method
  // of this object is an illegal invocation in a browser)
  constructor(fn, ms, { timer = (f, t) => setTimeout(f, t), clear = (h) => clearTimeout(h), now = () => performance.now() } = {}) {
    this.fn = fn;
    this.ms = ms;
    this.timer = timer;
    this.clear = clear;
    this.now = now;
    this.at = -Infinity; // when fn last ran
    this.handle = null;
    this.run = () => {
      this.handle = null;
      this.at = this.now();
      this.fn();
    };
  }

  poke() {
    if (this.handle !== null) return;
    this.handle = this.timer(this.run, Math.max(0, this.at + this.ms - this.now()));
  }

  // the poke waiting, if any, never runs
  cancel() {
    if (this.handle === null) return;
    this.clear(this.handle);
    this.handle = null;
  }
}
