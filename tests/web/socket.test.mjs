// The dashboard's socket (src/web/socket.js) against a fake WebSocket:
// acks, live views through init and diffs, resume with `since` after a
// reconnect, a fresh subscription after a diff that cannot be applied.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventSocket, SocketError } from '../../src/web/socket.js';
import { diff } from '../../src/web/views.js';

class FakeWS {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.closed = false;
    FakeWS.all.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.closed = true; }
  open() { this.onopen(); }
  drop() { this.onclose({ code: 1006 }); }
  deliver(event, data) { this.onmessage({ data: JSON.stringify({ event, data }) }); }
  ack(msg, data) { this.onmessage({ data: JSON.stringify({ event: 'ack', ack: msg.ack, data }) }); }
  last(event) { return [...this.sent].reverse().find((m) => m.event === event); }
}

// Timers run only when the test says so.
function fakeTimers() {
  let next = 1;
  const pending = new Map();
  return {
    setTimeout(fn, ms) { pending.set(next, { fn, ms }); return next++; },
    clearTimeout(id) { pending.delete(id); },
    runShortest() {
      let best = null;
      for (const [id, t] of pending) if (!best || t.ms < best[1].ms) best = [id, t];
      if (!best) return null;
      pending.delete(best[0]);
      best[1].fn();
      return best[1].ms;
    },
  };
}

function setup() {
  FakeWS.all = [];
  const timers = fakeTimers();
  const statuses = [];
  const s = new EventSocket({ url: () => 'ws://h/ws?token=k', WebSocketImpl: FakeWS, timers, onStatus: (st) => statuses.push(st) });
  return { s, timers, statuses };
}

test('a request resolves with its ack, or rejects with the server error', async () => {
  const { s } = setup();
  s.start();
  const ws = FakeWS.all[0];
  assert.equal(ws.url, 'ws://h/ws?token=k');
  ws.open();
  const p = s.request('execution:pause', { executionId: 'x' });
  ws.ack(ws.last('execution:pause'), { executionId: 'x', state: 'paused' });
  assert.deepEqual(await p, { executionId: 'x', state: 'paused' });
  const q = s.request('execution:pause', { executionId: 'nope' });
  ws.ack(ws.last('execution:pause'), { error: 'execution nope not found', code: 'WEIR_ENOTFOUND' });
  await assert.rejects(q, (err) => err instanceof SocketError && err.code === 'WEIR_ENOTFOUND');
});

test('a view follows init and diffs; after a reconnect it resumes with since', () => {
  const { s, timers, statuses } = setup();
  const live = s.view('executions');
  s.start();
  let ws = FakeWS.all[0];
  ws.open();
  assert.deepEqual(ws.last('view:subscribe').data, { view: 'executions' });
  const v0 = [{ executionId: 'a', state: 'running' }];
  ws.deliver('view:init', { view: 'executions', seq: 1, value: v0 });
  const v1 = [{ executionId: 'a', state: 'paused' }, { executionId: 'b', state: 'running' }];
  ws.deliver('view:diff', { view: 'executions', seq: 2, diff: diff(v0, v1) });
  assert.deepEqual(live.value, v1);
  ws.deliver('view:diff', { view: 'executions', seq: 2, diff: diff(v0, v1) }); // a repeat: ignored
  assert.deepEqual(live.value, v1);

  ws.drop();
  assert.equal(statuses.at(-1), 'closed');
  assert.equal(timers.runShortest(), 250, 'reconnects after a backoff');
  ws = FakeWS.all[1];
  ws.open();
  assert.deepEqual(ws.last('view:subscribe').data, { view: 'executions', since: 2 });
  assert.deepEqual(live.value, v1, 'the value is kept while it resumes');
});

test('a diff that does not apply leads to a fresh subscription', async () => {
  const { s } = setup();
  const live = s.view('graphs');
  s.start();
  const ws = FakeWS.all[0];
  ws.open();
  ws.deliver('view:init', { view: 'graphs', seq: 1, value: [] });
  const errors = [];
  s.on('view:error', (e) => errors.push(e));
  ws.deliver('view:diff', { view: 'graphs', seq: 2, diff: { set: { x: 1 } } }); // an object diff on a list
  assert.equal(errors.length, 1);
  const unsub = ws.last('view:unsubscribe');
  assert.deepEqual(unsub.data, { view: 'graphs' });
  ws.ack(unsub, { view: 'graphs' });
  await new Promise((r) => setImmediate(r));
  const subs = ws.sent.filter((m) => m.event === 'view:subscribe');
  assert.equal(subs.length, 2);
  assert.deepEqual(subs[1].data, { view: 'graphs' }, 'without since: a fresh init');
  ws.deliver('view:init', { view: 'graphs', seq: 5, value: [{ id: 'g' }] });
  assert.deepEqual(live.value, [{ id: 'g' }]);
});

test('a view the server ends keeps its value, carries the error and is not subscribed again', () => {
  const { s } = setup();
  const live = s.view('port:x:out:out:3');
  s.start();
  const ws = FakeWS.all[0];
  ws.open();
  ws.deliver('view:init', { view: 'port:x:out:out:3', seq: 1, value: [1, 2] });
  const errors = [];
  s.on('view:error', (e) => errors.push(e));
  ws.deliver('view:error', { view: 'port:x:out:out:3', error: 'view port:x:out:out:3 ended: no node "out"', code: 'WEIR_ENOTFOUND' });
  assert.equal(errors.length, 1);
  assert.ok(errors[0].error instanceof SocketError);
  assert.equal(errors[0].error.code, 'WEIR_ENOTFOUND');
  assert.equal(live.error, errors[0].error);
  assert.deepEqual(live.value, [1, 2]);
  assert.equal(ws.sent.filter((m) => m.event === 'view:subscribe').length, 1);
});

test('views are shared and unsubscribed when the last user releases them', () => {
  const { s } = setup();
  s.start();
  const ws = FakeWS.all[0];
  ws.open();
  const a = s.view('execution:x');
  const b = s.view('execution:x');
  assert.equal(a, b);
  assert.equal(ws.sent.filter((m) => m.event === 'view:subscribe').length, 1);
  s.release('execution:x');
  assert.equal(ws.last('view:unsubscribe'), undefined);
  s.release('execution:x');
  assert.deepEqual(ws.last('view:unsubscribe').data, { view: 'execution:x' });
});

test('an execution watch resumes from the last seq seen', async () => {
  const { s, timers } = setup();
  s.start();
  let ws = FakeWS.all[0];
  ws.open();
  const events = [];
  s.on('output', (d) => events.push(d));
  const p = s.watch('x', ['output', 'execution:*']);
  const sub = ws.last('execution:subscribe');
  assert.deepEqual(sub.data, { executionId: 'x', events: ['output', 'execution:*'] });
  ws.ack(sub, { executionId: 'x', state: 'running', seq: 4 });
  await p;
  ws.deliver('output', { executionId: 'x', nodeId: 'output', port: 'out', value: 42, seq: 7 });
  ws.deliver('metrics:update', { executionId: 'x', seq: 99 }); // repeats the latest seq: not counted
  assert.equal(events.length, 1);
  ws.drop();
  timers.runShortest();
  ws = FakeWS.all[1];
  ws.open();
  assert.deepEqual(ws.last('execution:subscribe').data, { executionId: 'x', events: ['output', 'execution:*'], since: 7 });
  s.unwatch('x');
  assert.deepEqual(ws.last('execution:unsubscribe').data, { executionId: 'x' });
});

test('requests waiting when the connection drops are rejected', async () => {
  const { s } = setup();
  s.start();
  const ws = FakeWS.all[0];
  ws.open();
  const p = s.request('execution:stop', { executionId: 'x' });
  ws.drop();
  await assert.rejects(p, /closed before the answer/);
  await assert.rejects(s.request('execution:stop', { executionId: 'x' }), /not connected/);
});

test('an execution watch asks for the event rate the socket was made with', async () => {
  FakeWS.all = [];
  const s = new EventSocket({ url: () => 'ws://h/ws', WebSocketImpl: FakeWS, timers: fakeTimers(), eventRate: 3000 });
  s.start();
  const ws = FakeWS.all[0];
  ws.open();
  s.watch('x', ['port:emit']);
  assert.deepEqual(ws.last('execution:subscribe').data, { executionId: 'x', events: ['port:emit'], rate: 3000 });
});

test('with batch, a watch asks for batches; a batch is one message and one call of the events listeners', async () => {
  FakeWS.all = [];
  const timers = fakeTimers();
  const s = new EventSocket({ url: () => 'ws://h/ws', WebSocketImpl: FakeWS, timers, eventRate: 3000, batch: true });
  s.start();
  let ws = FakeWS.all[0];
  ws.open();
  const p = s.watch('x', ['port:emit', 'output']);
  const sub = ws.last('execution:subscribe');
  assert.deepEqual(sub.data, { executionId: 'x', events: ['port:emit', 'output'], rate: 3000, batch: true });
  ws.ack(sub, { executionId: 'x', state: 'running', seq: 4 });
  await p;
  const batches = [], one = [], parsed = [];
  s.on('events', (d) => batches.push(d));
  s.on('port:emit', (d) => one.push(d));
  const items = [];
  for (let i = 5; i < 505; i++) items.push({ event: 'port:emit', data: { executionId: 'x', sourceNode: 'a', targetNode: 'b', value: i, seq: i } });
  items.push({ event: 'events:skipped', data: { executionId: 'x', count: 40, fromSeq: 505, toSeq: 544, rate: 3000 } });
  items.push({ event: 'metrics:update', data: { executionId: 'x', seq: 900 } }); // repeats the latest seq: not counted
  const realParse = JSON.parse;
  JSON.parse = (t) => { parsed.push(t.length); return realParse(t); };
  try {
    ws.deliver('events', { executionId: 'x', events: items });
  } finally {
    JSON.parse = realParse;
  }
  assert.equal(parsed.length, 1, 'one JSON.parse for 502 events');
  assert.equal(batches.length, 1, 'one call for the whole batch');
  assert.equal(batches[0].events.length, 502);
  assert.equal(batches[0].events[499].data.value, 504, 'in order');
  assert.equal(one.length, 0, 'no call per event');
  // the watch resumes from the last event of the batch with a seq of its own
  ws.drop();
  timers.runShortest();
  ws = FakeWS.all[1];
  ws.open();
  assert.equal(ws.last('execution:subscribe').data.since, 504);
  assert.equal(ws.last('execution:subscribe').data.batch, true);
});

test('a batch nobody takes whole goes to the listeners of its events, one by one in order', () => {
  const { s } = setup();
  s.start();
  const ws = FakeWS.all[0];
  ws.open();
  const got = [];
  s.on('port:emit', (d, e) => got.push([e, d.seq]));
  s.on('output', (d, e) => got.push([e, d.seq]));
  ws.deliver('events', { executionId: 'x', events: [
    { event: 'port:emit', data: { executionId: 'x', seq: 1 } },
    { event: 'output', data: { executionId: 'x', seq: 2 } },
    { event: 'port:emit', data: { executionId: 'x', seq: 3 } },
  ] });
  assert.deepEqual(got, [['port:emit', 1], ['output', 2], ['port:emit', 3]]);
});
