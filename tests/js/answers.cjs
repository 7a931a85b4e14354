// Inject acks over /ws and Socket.IO are bounded by MAX_ANSWER_BYTES like
// the REST answer, and a subscriber to the output events of a fan-out of a
// large value (60 events of 5 MB) never holds the loop: /health, polled
// meanwhile, stays fast and the subscriber is cut at SUBSCRIBER_BACKLOG_BYTES
// or gets every event.
'use strict';
const WebSocket = require('ws');
const { io } = require('socket.io-client');
const { assert, base, port, rest, deadline, run } = require('./lib.cjs');
// The slowest /health allowed while the big inject runs: a sanitizer build on
// a busy machine gets more room (the argument after the port); it was 16 s.
const HEALTH_MS = Number(process.argv[3] || 1500);

const WIDTH = 60;
const graphDoc = {
  symbia: '1.0', name: 'fan',
  nodes: [{ id: 'src', component: 'symbia.core.passthrough' }].concat(
    Array.from({ length: WIDTH }, (_, i) => ({ id: `t${i}`, component: 'symbia.core.passthrough' }))),
  edges: Array.from({ length: WIDTH }, (_, i) => ({ source: { node: 'src', port: 'out' }, target: { node: `t${i}`, port: 'in' } })),
};

// Poll /health until stop() and return the slowest answer in ms.
function pollHealth() {
  let slowest = 0, stopped = false, count = 0;
  const done = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      const r = await fetch(`${base}/health`);
      await r.text();
      assert.equal(r.status, 200);
      slowest = Math.max(slowest, performance.now() - t0);
      count++;
    }
  })();
  return async () => { stopped = true; await done; return { slowest, count }; };
}

function assertTooLarge(ack, label) {
  assert.equal(ack.settled, true, `${label}: ${JSON.stringify(ack).slice(0, 300)}`);
  assert.equal(ack.outputs, undefined, `${label}: no outputs`);
  assert.equal(ack.truncated.code, 'WEIR_ETOOLARGE', label);
  assert.equal(ack.truncated.limit, 'MAX_ANSWER_BYTES', label);
  assert.match(ack.truncated.error, /MAX_ANSWER_BYTES \(16777216\)/, label);
  assert.match(ack.truncated.error, /output events/, label);
}

run(async () => {
  const g = await rest('POST', '/api/graphs', graphDoc);
  assert.equal(g.status, 201, g.text);
  const x = await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never' });
  const xid = x.json.executionId;

  // /ws: a subscriber to the output events sends the inject itself
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { maxPayload: 64 << 20 });
  await deadline(new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); }), 5000, 'ws open');
  const acks = new Map();
  let outputs = 0, outBytes = 0, closed = false;
  ws.on('message', (buf) => {
    const msg = JSON.parse(buf.toString());
    if (msg.event === 'ack') { acks.get(msg.ack)(msg.data); acks.delete(msg.ack); }
    else if (msg.event === 'output') { outputs++; outBytes += buf.length; }
    else if (msg.event === 'subscription:cut') closed = true;
  });
  let next = 1;
  const call = (event, data) => deadline(new Promise((resolve) => {
    const id = next++;
    acks.set(id, resolve);
    ws.send(JSON.stringify({ event, data, ack: id }));
  }), 20000, event);
  await call('execution:subscribe', { executionId: xid });

  const big = 'x'.repeat(5 << 20);
  let stop = pollHealth();
  let t0 = performance.now();
  const ack = await call('execution:inject', { executionId: xid, nodeId: 'src', value: big });
  const ackMs = performance.now() - t0;
  assertTooLarge(ack, '/ws ack');
  // the subscriber gets its output events, or is cut off for its backlog
  await deadline(new Promise((resolve) => {
    const t = setInterval(() => { if (outputs === WIDTH || closed) { clearInterval(t); resolve(); } }, 5);
  }), 20000, 'output events');
  const eventsMs = performance.now() - t0;
  let h = await stop();
  console.log(`/ws: ack ${JSON.stringify(ack).length} bytes in ${ackMs.toFixed(0)} ms; ${outputs} output events ` +
    `(${(outBytes / 1048576).toFixed(0)} MB)${closed ? ', then cut off' : ''} in ${eventsMs.toFixed(0)} ms; ` +
    `/health ${h.count} times, slowest ${h.slowest.toFixed(0)} ms`);
  assert.ok(h.slowest < HEALTH_MS, `/health took ${h.slowest} ms (bound ${HEALTH_MS})`); // ~0.4 s here, ~0.9 s with ASan (was 16 s)
  if (!closed) ws.close();

  // Socket.IO: the same ack (60 x 300 KB: over 16 MiB)
  const socket = io(base, { forceNew: true, reconnection: false, transports: ['websocket'] });
  await deadline(new Promise((resolve, reject) => { socket.on('connect', resolve); socket.on('connect_error', reject); }),
    5000, 'sio connect');
  stop = pollHealth();
  t0 = performance.now();
  const sack = await deadline(socket.emitWithAck('execution:inject', { executionId: xid, nodeId: 'src', value: 'y'.repeat(300 << 10) }),
    20000, 'sio inject');
  const sackMs = performance.now() - t0;
  h = await stop();
  assertTooLarge(sack, 'Socket.IO ack');
  console.log(`Socket.IO: ack in ${sackMs.toFixed(0)} ms; /health slowest ${h.slowest.toFixed(0)} ms`);
  assert.ok(h.slowest < HEALTH_MS, `/health took ${h.slowest} ms (bound ${HEALTH_MS})`);
  // a small inject is whole
  const small = await socket.emitWithAck('execution:inject', { executionId: xid, nodeId: 'src', value: 3 });
  assert.equal(Object.keys(small.outputs).length, WIDTH);
  assert.equal(small.truncated, undefined);
  socket.close();
});
