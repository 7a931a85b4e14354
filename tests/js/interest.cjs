// Events by interest (SPEC §5) with the stock clients: `events` on
// execution:subscribe over /ws (ws) and Socket.IO (socket.io-client).  A
// metrics-only dashboard gets metrics:update and nothing else, and the
// server builds no event for it (GET /metrics weir_events_built_total);
// globs; a narrow subscriber stays narrow when a wide one joins; a bad
// entry is refused naming it and the kinds.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('ws');
const { io } = require('socket.io-client');
const { assert, base, port, rest, Recorder, deadline, run } = require('./lib.cjs');

const examples = process.argv[3];
const graphDoc = JSON.parse(fs.readFileSync(path.join(examples, 'quick-reference.json'), 'utf8'));

function wsOpen(label) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const rec = new Recorder(label);
  const acks = new Map();
  let next = 1;
  ws.on('message', (buf) => {
    const msg = JSON.parse(buf.toString());
    if (msg.event === 'ack') {
      acks.get(msg.ack)(msg.data);
      acks.delete(msg.ack);
    } else {
      rec.push(msg.event, msg.data);
    }
  });
  const call = (event, data) => deadline(new Promise((resolve) => {
    const id = next++;
    acks.set(id, resolve);
    ws.send(JSON.stringify({ event, data, ack: id }));
  }), 5000, `${label} ${event}`);
  const opened = deadline(new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); }),
    5000, `${label} open`);
  return { ws, rec, call, opened };
}

async function built() {
  const m = await rest('GET', '/metrics');
  const line = m.text.split('\n').find((l) => l.startsWith('weir_events_built_total '));
  assert.ok(line, 'GET /metrics has weir_events_built_total');
  return Number(line.split(' ')[1]);
}

const names = (rec) => [...new Set(rec.events.map((e) => e.name))].sort();

run(async () => {
  const g = await rest('POST', '/api/graphs', graphDoc);
  assert.equal(g.status, 201, g.text);
  const a = await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never' });
  const xa = a.json.executionId;
  const inject = async (value) => {
    const r = await rest('POST', `/api/executions/${xa}/inject`, { nodeId: 'input', value });
    assert.equal(r.status, 200, r.text);
  };

  // a metrics-only dashboard over /ws: nothing built per hop
  const m = wsOpen('metrics-only');
  await m.opened;
  const snap = await m.call('execution:subscribe', { executionId: xa, events: ['metrics:update'] });
  assert.equal(snap.executionId, xa, JSON.stringify(snap));
  const before = await built();
  for (let i = 0; i < 20; i++) await inject(i);
  await m.rec.until((n, d) => n === 'metrics:update' && d.metrics.messagesProcessed >= 60, 'metrics:update');
  assert.equal(await built(), before, 'no event built for a metrics-only subscriber');
  assert.deepEqual(names(m.rec), ['metrics:update']);

  // Socket.IO, globs: execution:* and out*
  const s = io(base, { forceNew: true, reconnection: false, transports: ['websocket'] });
  const srec = new Recorder('socket.io');
  s.onAny((name, data) => srec.push(name, data));
  await deadline(new Promise((resolve) => s.on('connect', resolve)), 5000, 'socket.io connect');
  const bad = await deadline(s.emitWithAck('execution:subscribe', { executionId: xa, events: ['output', 'port:emitt'] }),
    5000, 'bad subscribe');
  assert.match(bad.error, /port:emitt/);
  assert.match(bad.error, /metrics:update/, 'lists the kinds');
  assert.equal(bad.code, 'WEIR_EINVAL');
  const notArray = await s.emitWithAck('execution:subscribe', { executionId: xa, events: 'output' });
  assert.match(notArray.error, /array/);
  const ok = await s.emitWithAck('execution:subscribe', { executionId: xa, events: ['execution:*', 'out*'] });
  assert.equal(ok.executionId, xa, JSON.stringify(ok));
  const b2 = await built();
  for (let i = 0; i < 5; i++) await inject(i);
  await srec.until((n) => n === 'output', 'output over socket.io');
  await deadline((async () => { while (srec.named('output').length < 5) await new Promise((r) => setTimeout(r, 10)); })(),
    5000, 'five outputs');
  assert.equal(await built(), b2 + 5, 'one output per inject, nothing per hop');
  assert.deepEqual(names(srec), ['output']);

  // a wide /ws subscriber joins: it gets everything, the narrow ones keep theirs
  const w = wsOpen('wide');
  await w.opened;
  await w.call('execution:subscribe', { executionId: xa });
  await inject(100);
  await w.rec.until((n, d) => n === 'port:emit' && d.targetNode === 'output', 'port:emit for the wide one');
  await srec.until((n, d) => n === 'output' && d.value === 200, 'the output of 100');
  assert.deepEqual(names(srec), ['output'], 'the narrow one stays narrow');
  assert.equal(m.rec.events.filter((e) => e.name !== 'metrics:update').length, 0);

  s.close();
  m.ws.close();
  w.ws.close();
});
