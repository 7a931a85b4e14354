// execution:upgrade over Socket.IO and /ws (as POST /api/executions/:id/upgrade):
// the acknowledgement carries the report ({from, to, kept, added, removed,
// cancelledEffects, droppedState}), subscribers get execution:upgraded; a refused upgrade acknowledges {error}
// and its code ({error, code}).  argv[4]: the first version, argv[5]: the second (same
// name), argv[6]: a third without node "in".  And a waiting inject
// (wait: true) whose delay is kept settles after the upgrade with the
// output of a node the upgrade added.  The `graphs` view follows a PUT
// (the same id, its new version) through its diffs; a port view of a node
// the upgrade removes gets view:error {view, error, code} and is dropped.
'use strict';
const WebSocket = require('ws');
const { io } = require('socket.io-client');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { assert, base, port, rest, deadline, run } = require('./lib.cjs');

const [v1, v2, v3] = process.argv.slice(4, 7).map((t) => JSON.parse(t));

async function execution(doc, beforePut = async () => {}) {
  const g = await rest('POST', '/api/graphs', doc);
  assert.equal(g.status, 201, g.text);
  await beforePut(g.json.id);
  const a = await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never' });
  assert.equal(a.status, 201, a.text);
  const x = a.json.executionId;
  const i = await rest('POST', `/api/executions/${x}/inject`, { nodeId: 'in', value: 1, wait: false });
  assert.equal(i.status, 202, i.text);
  const p = await rest('PUT', `/api/graphs/${g.json.id}`, v2);
  assert.equal(p.status, 200, p.text);
  return { g: g.json.id, x };
}

function checkReport(r, via) {
  assert.ok(!r.error, `${via}: ${JSON.stringify(r)}`);
  assert.equal(r.from.version, '1', via);
  assert.equal(r.to.version, '2', via);
  assert.deepEqual(r.kept, ['in', 'acc'], via);
  assert.deepEqual(r.added, ['len'], via);
  assert.deepEqual(r.removed, ['slow', 'out'], via);
  assert.equal(r.cancelledEffects.length, 1, via);
  assert.equal(r.cancelledEffects[0].nodeId, 'slow', via);
}

async function checkBuffer(x, via) {
  const s = await rest('GET', `/api/executions/${x}/state?node=acc`);
  assert.deepEqual(s.json.nodes.acc.buffer, [1], `${via}: the buffer is kept`);
}

// Poll until f() holds (never a blind sleep).
async function until(f, what) {
  await deadline((async () => {
    while (!f()) await new Promise((r) => setTimeout(r, 10));
  })(), 5000, what);
}

run(async () => {
  // the `graphs` view follows a PUT (same id, new version), through its diffs
  const V = await import(pathToFileURL(path.join(__dirname, '..', '..', 'src', 'web', 'views.js')).href);
  const watcher = io(base, { forceNew: true, reconnection: false });
  await deadline(new Promise((resolve) => watcher.on('connect', resolve)), 5000, 'watcher connect');
  let graphs = null;
  watcher.on('view:init', (m) => { if (m.view === 'graphs') graphs = m.value; });
  watcher.on('view:diff', (m) => { if (m.view === 'graphs') graphs = V.apply(graphs, m.diff); });
  await deadline(watcher.emitWithAck('view:subscribe', { view: 'graphs' }), 5000, 'view:subscribe');
  const shown = (id) => (graphs || []).find((e) => e.id === id);
  let gid = null;
  // Socket.IO
  const a = await execution(v1, async (id) => {
    gid = id;
    await until(() => shown(id) && shown(id).version === '1', 'the graphs view shows version 1');
  });
  await until(() => shown(gid).version === '2' && shown(gid).nodeCount === 3, 'the graphs view shows version 2');
  watcher.close();
  const socket = io(base, { forceNew: true, reconnection: false });
  await deadline(new Promise((resolve, reject) => {
    socket.on('connect', resolve);
    socket.on('connect_error', (e) => reject(new Error(`connect_error ${e.message}`)));
  }), 5000, 'socket.io connect');
  const told = new Promise((resolve) => socket.on('execution:upgraded', resolve));
  await deadline(socket.emitWithAck('execution:subscribe', { executionId: a.x }), 5000, 'subscribe');
  // port views: one on a node the upgrade removes is ended (view:error, the
  // subscription dropped), one on a node it keeps goes on
  const gone = `port:${a.x}:out:out:5`, kept = `port:${a.x}:in:out:5`;
  const viewErrors = [];
  let keptValue = null;
  socket.on('view:error', (m) => viewErrors.push(m));
  socket.on('view:init', (m) => { if (m.view === kept) keptValue = m.value; });
  socket.on('view:diff', (m) => { if (m.view === kept) keptValue = V.apply(keptValue, m.diff); });
  for (const view of [gone, kept]) {
    const ack = await deadline(socket.emitWithAck('view:subscribe', { view }), 5000, `subscribe ${view}`);
    assert.ok(!ack.error, JSON.stringify(ack));
  }
  await until(() => Array.isArray(keptValue), 'the kept port view\'s init');
  checkReport(await deadline(socket.emitWithAck('execution:upgrade', { executionId: a.x }), 5000, 'sio upgrade'),
    'Socket.IO');
  await checkBuffer(a.x, 'Socket.IO');
  await until(() => viewErrors.length > 0, 'view:error for the port view of the removed node');
  assert.equal(viewErrors.length, 1, JSON.stringify(viewErrors));
  assert.equal(viewErrors[0].view, gone, JSON.stringify(viewErrors));
  assert.equal(viewErrors[0].code, 'WEIR_ENOTFOUND', JSON.stringify(viewErrors));
  assert.match(viewErrors[0].error, /has no node "out"/);
  assert.match(viewErrors[0].error, /upgraded/);
  const un = await deadline(socket.emitWithAck('view:unsubscribe', { view: gone }), 5000, 'unsubscribe');
  assert.equal(un.unsubscribed, false, `the subscription was dropped: ${JSON.stringify(un)}`);
  const again = await deadline(socket.emitWithAck('view:subscribe', { view: gone }), 5000, 'subscribe again');
  assert.equal(again.code, 'WEIR_ENOTFOUND', JSON.stringify(again));
  assert.equal((await rest('POST', `/api/executions/${a.x}/inject`, { nodeId: 'in', value: 5, wait: false })).status,
    202);
  await until(() => keptValue.includes(5), 'the kept port view goes on');
  assert.equal(viewErrors.length, 1, JSON.stringify(viewErrors));
  const event = await deadline(told, 5000, 'execution:upgraded');
  assert.equal(event.executionId, a.x);
  assert.equal(event.to.version, '2');
  assert.deepEqual(event.added, ['len']);
  // refused: a named version that is not stored
  const bad = await deadline(socket.emitWithAck('execution:upgrade', { executionId: a.x, graphVersion: '9' }), 5000,
    'sio refused');
  assert.equal(bad.code, 'WEIR_ENOTFOUND', JSON.stringify(bad));
  socket.close();

  // /ws
  const b = await execution(v1);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await deadline(new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); }), 5000,
    'ws open');
  const acks = new Map();
  ws.on('message', (buf) => {
    const msg = JSON.parse(buf.toString());
    if (msg.event === 'ack' && acks.has(msg.ack)) acks.get(msg.ack)(msg.data);
  });
  const send = (n, event, data) => deadline(new Promise((resolve) => {
    acks.set(n, resolve);
    ws.send(JSON.stringify({ event, data, ack: n }));
  }), 5000, `ws ${event}`);
  checkReport(await send(1, 'execution:upgrade', { executionId: b.x }), '/ws');
  await checkBuffer(b.x, '/ws');
  // refused: paused with an inject queued for "in", which v3 does not have
  assert.equal((await rest('PUT', `/api/graphs/${b.g}`, v3)).status, 200);
  assert.equal((await rest('POST', `/api/executions/${b.x}/pause`, {})).status, 200);
  assert.equal((await rest('POST', `/api/executions/${b.x}/inject`, { nodeId: 'in', value: 2, wait: false })).status,
    202);
  const refused = await send(2, 'execution:upgrade', { executionId: b.x });
  assert.equal(refused.code, 'WEIR_ESTATE', JSON.stringify(refused));
  assert.match(refused.error, /orphan 1 queued inject/);
  await checkBuffer(b.x, '/ws refused');
  ws.close();

  // a wait: true answer across the upgrade
  const node = (id, component, config) => ({ id, component, config });
  const edge = (a, b) => ({ source: { node: a, port: 'out' }, target: { node: b, port: 'in' } });
  const w1 = { symbia: '1.0', name: 'waits', version: '1',
    nodes: [node('in', 'symbia.core.passthrough', {}), node('d', 'symbia.core.delay', { delayMs: 1500 })],
    edges: [edge('in', 'd')] };
  const w2 = { ...w1, version: '2',
    nodes: [...w1.nodes, node('x', 'symbia.core.map', { expression: 'value * 10' })],
    edges: [...w1.edges, edge('d', 'x')] };
  const g = await rest('POST', '/api/graphs', w1);
  const x = (await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never' })).json.executionId;
  const waiting = rest('POST', `/api/executions/${x}/inject`, { nodeId: 'in', value: 7 });
  await deadline((async () => { // the inject is in: its delay is pending
    for (;;) {
      const m = await rest('GET', `/api/executions/${x}`);
      if (m.json.metrics.pendingEffects === 1) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  })(), 5000, 'the inject reached the delay');
  assert.equal((await rest('PUT', `/api/graphs/${g.json.id}`, w2)).status, 200);
  const up = await rest('POST', `/api/executions/${x}/upgrade`, {});
  assert.equal(up.status, 200, up.text);
  assert.deepEqual(up.json.cancelledEffects, [], 'the kept delay keeps its timer');
  const answer = await deadline(waiting, 5000, 'the waiting inject');
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.json.settled, true, answer.text);
  assert.deepEqual(answer.json.outputs, { 'x:out': 70 }, answer.text);
});
