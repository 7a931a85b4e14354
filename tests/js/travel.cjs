// Node states, time travel and fork over the event sockets (SPEC §7.2):
// execution:state (now, one node, at a tick) and execution:fork, answered
// by acknowledgement, over Socket.IO and the plain WebSocket at /ws.
'use strict';
const WebSocket = require('ws');
const { io } = require('socket.io-client');
const { assert, base, port, rest, deadline, run } = require('./lib.cjs');

const graph = {
  symbia: '1.0', name: 'travel',
  nodes: [
    { id: 'in', component: 'symbia.core.passthrough' },
    { id: 'acc', component: 'symbia.core.accumulator', config: { batchSize: 100 } },
  ],
  edges: [{ source: { node: 'in', port: 'out' }, target: { node: 'acc', port: 'in' } }],
};

function wsClient() {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const acks = new Map();
  let next = 1;
  ws.on('message', (buf) => {
    const m = JSON.parse(buf.toString());
    if (m.event === 'ack' && acks.has(m.ack)) { acks.get(m.ack)(m.data); acks.delete(m.ack); }
  });
  const call = (event, data) => deadline(new Promise((resolve) => {
    const id = next++;
    acks.set(id, resolve);
    ws.send(JSON.stringify({ event, data, ack: id }));
  }), 5000, `ws ${event}`);
  const opened = deadline(new Promise((r, j) => { ws.on('open', r); ws.on('error', j); }), 5000, 'ws open');
  return { ws, call, opened };
}

run(async () => {
  const g = await rest('POST', '/api/graphs', graph);
  const x = (await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never' })).json.executionId;
  const sock = io(base, { forceNew: true, reconnection: false, transports: ['websocket'] });
  await deadline(new Promise((r) => sock.on('connect', r)), 5000, 'connect');
  for (const v of ['a', 'b', 'c']) {
    const r = await sock.emitWithAck('execution:inject', { executionId: x, nodeId: 'in', value: v });
    assert.equal(r.settled, true, JSON.stringify(r));
  }
  const now = await sock.emitWithAck('execution:state', { executionId: x });
  assert.deepEqual(now.nodes.acc, { buffer: ['a', 'b', 'c'] });
  assert.equal(now.tick, 3);
  const one = await sock.emitWithAck('execution:state', { executionId: x, nodeId: 'acc', atTick: 2 });
  assert.deepEqual(one.nodes, { acc: { buffer: ['a', 'b'] } }, JSON.stringify(one));
  assert.equal(one.atTick, 2);
  const far = await sock.emitWithAck('execution:state', { executionId: x, atTick: 40 });
  assert.equal(far.code, 'WEIR_ENOTFOUND', JSON.stringify(far));
  assert.match(far.error, /newest tick is 3/);
  const bad = await sock.emitWithAck('execution:state', { executionId: x, atTick: 'soon' });
  assert.equal(bad.code, 'WEIR_EINVAL', JSON.stringify(bad));

  const w = wsClient();
  await w.opened;
  const f = await w.call('execution:fork', { executionId: x, atTick: 1 });
  assert.equal(f.runtime, 'virtual', JSON.stringify(f));
  assert.equal(f.forkOf.executionId, x);
  const inj = await w.call('execution:inject', { executionId: f.executionId, nodeId: 'in', value: 'z' });
  assert.ok(!inj.error, JSON.stringify(inj));
  const fs = await w.call('execution:state', { executionId: f.executionId, nodeId: 'acc' });
  assert.deepEqual(fs.nodes.acc, { buffer: ['a', 'z'] }, JSON.stringify(fs));
  const src = await w.call('execution:state', { executionId: x, nodeId: 'acc' });
  assert.deepEqual(src.nodes.acc, { buffer: ['a', 'b', 'c'] }, 'the source is untouched');
  sock.close();
  w.ws.close();
});
