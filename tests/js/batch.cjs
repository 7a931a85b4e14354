// Batched events (execution:subscribe {batch: true}) over /ws and
// Socket.IO against the real server, run with --event-batch-bytes 4096
// and --subscriber-backlog-bytes 262144:
//   - a batch subscriber gets `events {executionId, events: [{event, data}]}`
//     messages carrying the same events, in the same order, as a per-event
//     subscriber of the same execution gets one by one, and nothing else;
//   - no batch's data passes 4096 bytes, but a batch of one larger event;
//   - with a rate, what a batch subscriber is sent plus the counts of the
//     events:skipped notices in its batches is every busy event, one by one;
//   - batch must be a boolean;
//   - a batch subscriber that stops reading is cut off at the backlog bound.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('ws');
const { io } = require('socket.io-client');
const { assert, base, port, rest, Recorder, deadline, checkSeqs, run } = require('./lib.cjs');

const BOUND = 4096; // the server's --event-batch-bytes
const HEAD = '{"event":"events","data":';
const BUSY = new Set(['port:emit', 'component:invoked', 'output', 'log', 'component:error', 'message:dropped']);
const examples = process.argv[3];
const graphDoc = JSON.parse(fs.readFileSync(path.join(examples, 'quick-reference.json'), 'utf8'));

// A /ws client recording every message: the events one by one in `rec`
// (a batch's items flattened into it, in order), each batch in `batches`
// with the byte length of its data.
function wsClient(label) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const rec = new Recorder(label);
  const frames = []; // the name of each message, in order
  const batches = [];
  const acks = new Map();
  let next = 1;
  ws.on('message', (buf) => {
    const text = buf.toString();
    const msg = JSON.parse(text);
    if (msg.event === 'ack') {
      acks.get(msg.ack)(msg.data);
      acks.delete(msg.ack);
      return;
    }
    frames.push(msg.event);
    if (msg.event === 'events') {
      assert.ok(text.startsWith(HEAD) && text.endsWith('}'), `${label}: an events frame is {"event":"events","data":...}`);
      batches.push({ bytes: Buffer.byteLength(text) - HEAD.length - 1, data: msg.data });
      for (const it of msg.data.events) rec.push(it.event, it.data);
    } else {
      rec.push(msg.event, msg.data);
    }
  });
  const call = (event, data) => deadline(new Promise((resolve) => {
    const id = next++;
    acks.set(id, resolve);
    ws.send(JSON.stringify({ event, data, ack: id }));
  }), 5000, `${label} ${event}`);
  const opened = deadline(new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); }), 5000, `${label} open`);
  return { ws, rec, frames, batches, call, opened };
}

// The events that belong to the execution's history (metrics:update is a
// snapshot sent on a timer), as {name, data}.
const history = (rec) => rec.events.filter((e) => e.name !== 'metrics:update' && typeof e.data?.seq === 'number');

run(async () => {
  const g = await rest('POST', '/api/graphs', graphDoc);
  assert.equal(g.status, 201, g.text);
  const x = (await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never' })).json.executionId;

  const one = wsClient('per-event');
  const many = wsClient('batch /ws');
  const rated = wsClient('batch with a rate');
  await Promise.all([one.opened, many.opened, rated.opened]);

  // batch must be a boolean
  const bad = await many.call('execution:subscribe', { executionId: x, batch: 'yes' });
  assert.equal(bad.code, 'WEIR_EINVAL', JSON.stringify(bad));
  assert.match(bad.error, /batch must be true or false/);

  const sio = io(base, { forceNew: true, reconnection: false, transports: ['websocket'] });
  const srec = new Recorder('batch socket.io');
  const sframes = [];
  sio.onAny((name, data) => {
    sframes.push(name);
    if (name === 'events') for (const it of data.events) srec.push(it.event, it.data);
    else srec.push(name, data);
  });
  await deadline(new Promise((resolve) => sio.on('connect', resolve)), 5000, 'socket.io connect');

  const snaps = [];
  snaps.push(await one.call('execution:subscribe', { executionId: x }));
  snaps.push(await many.call('execution:subscribe', { executionId: x, batch: true }));
  snaps.push(await deadline(sio.emitWithAck('execution:subscribe', { executionId: x, batch: true }), 5000, 'socket.io subscribe'));
  snaps.push(await rated.call('execution:subscribe', { executionId: x, batch: true, rate: 100 }));
  for (const s of snaps) assert.equal(s.executionId, x, JSON.stringify(s));
  const from = Math.max(...snaps.map((s) => s.seq));

  // bursts of injects (no waiting for each: many events within a batch's
  // time), small values and some larger than the bound
  const big = 'b'.repeat(BOUND + 500);
  let last = 0;
  for (let burst = 0; burst < 6; burst++) {
    const rs = await Promise.all(Array.from({ length: 50 }, () => {
      const i = ++last;
      return rest('POST', `/api/executions/${x}/inject`, { nodeId: 'input', value: i % 60 === 0 ? { i, big } : i, wait: false });
    }));
    for (const r of rs) assert.ok(r.status < 300, r.text);
  }
  const fin = await rest('POST', `/api/executions/${x}/inject`, { nodeId: 'input', value: 100000 });
  assert.equal(fin.status, 200, fin.text);
  const done = (n, d) => n === 'port:emit' && d.targetNode === 'output' && d.value === 200000;
  for (const r of [one.rec, many.rec, srec]) await r.until(done, 'the last hop', 10000);

  // the same events in the same order, one by one or in batches
  const want = history(one.rec).filter((e) => e.data.seq > from);
  checkSeqs(want, 'per-event');
  assert.ok(want.length >= 301 * 2, `${want.length} events`);
  const norm = (rec) => history(rec).filter((e) => e.data.seq > from).map((e) => ({ name: e.name, data: e.data }));
  assert.deepEqual(norm(many.rec), want.map((e) => ({ name: e.name, data: e.data })), '/ws batches carry the per-event stream');
  assert.deepEqual(norm(srec), want.map((e) => ({ name: e.name, data: e.data })), 'Socket.IO batches carry the per-event stream');

  // batch subscribers get batches (and their metrics:update in them), never an event alone
  for (const [label, frames] of [['/ws', many.frames], ['socket.io', sframes]])
    assert.deepEqual([...new Set(frames)], ['events'], `${label}: only events messages`);
  assert.ok(many.batches.every((b) => b.data.executionId === x && b.data.events.length > 0), 'each batch names its execution and is not empty');
  assert.ok(many.batches.length < want.length / 2, `${many.batches.length} batches for ${want.length} events: several events each`);

  // the bound: no batch's data passes it, but a batch of one larger event
  const over = many.batches.filter((b) => b.bytes > BOUND);
  assert.ok(over.length >= 1, `the large values went alone (${over.length} batches over ${BOUND} bytes)`);
  for (const b of over) assert.equal(b.data.events.length, 1, `a batch of ${b.bytes} bytes holds one event`);
  const full = many.batches.filter((b) => b.data.events.length > 1);
  assert.ok(full.some((b) => b.bytes > BOUND / 2), 'batches filled up to near the bound');
  for (const b of full) assert.ok(b.bytes <= BOUND, `a batch of ${b.data.events.length} events is ${b.bytes} bytes`);

  // a rate counts per event: what was sent plus what events:skipped told
  // is every busy event; the notices come in its batches
  const busy = want.filter((e) => BUSY.has(e.name)).length;
  const tally = () => {
    const got = history(rated.rec).filter((e) => e.data.seq > from && BUSY.has(e.name)).length;
    const skipped = rated.rec.named('events:skipped').reduce((n, e) => n + e.data.count, 0);
    return { got, skipped };
  };
  const t0 = Date.now();
  while (tally().got + tally().skipped < busy && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
  const t = tally();
  assert.ok(t.skipped > 0, `the rate passed events over (${JSON.stringify(t)}, busy ${busy}, ${rated.frames.length} frames)`);
  assert.equal(t.got + t.skipped, busy, `sent ${t.got} + skipped ${t.skipped} = ${busy} busy events`);
  assert.deepEqual([...new Set(rated.frames)], ['events'], 'events:skipped came in the batches');

  // subscribing again without batch: one message per event from then on
  await many.call('execution:subscribe', { executionId: x, batch: false });
  const mark = many.frames.length;
  const r = await rest('POST', `/api/executions/${x}/inject`, { nodeId: 'input', value: 7 });
  assert.equal(r.status, 200, r.text);
  await many.rec.until((n, d) => n === 'port:emit' && d.targetNode === 'output' && d.value === 14, 'a hop after batch: false');
  assert.ok(!many.frames.slice(mark).includes('events'), 'no batch after batch: false');

  for (const c of [one, many, rated]) c.ws.close();
  sio.close();

  // the backlog bound (the server runs with --subscriber-backlog-bytes
  // 262144) holds for a batch subscriber, counting what waits in its batch:
  // one that stops reading is cut off, and the notice, after its last
  // batch, names the last seq it was sent
  const slow = wsClient('slow batch');
  await slow.opened;
  await slow.call('execution:subscribe', { executionId: x, batch: true });
  slow.ws._socket.pause();
  const fill = 'f'.repeat(16 * 1024);
  let cut = false;
  for (let i = 0; i < 3000 && !cut; i++) {
    const r = await rest('POST', `/api/executions/${x}/inject`, { nodeId: 'input', value: { i, fill } });
    assert.equal(r.status, 200, r.text);
    if (i % 10 === 9) cut = /weir_subscribers_cut_total [1-9]/.test((await rest('GET', '/metrics')).text);
  }
  assert.ok(cut, 'the slow batch subscriber was cut off (weir_subscribers_cut_total)');
  slow.ws._socket.resume();
  const notice = await slow.rec.until((n) => n === 'subscription:cut', 'subscription:cut notice', 15000);
  assert.match(notice.data.reason, /too slow/);
  assert.equal(slow.frames[slow.frames.length - 1], 'subscription:cut', 'the notice comes after its batches');
  const sent = checkSeqs(history(slow.rec).filter((e) => e.name !== 'subscription:cut'), 'slow batch');
  assert.ok(sent.length > 0, 'it was sent events before the cut');
  assert.equal(sent[sent.length - 1], notice.data.seq, 'the notice names the last seq it was sent');
  slow.ws.close();
});
