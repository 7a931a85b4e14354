// The stock socket.io-client with default options (polling, then upgrade to
// websocket) watching weir serve: subscribe, inject over REST, receive
// port:emit, metrics:update and execution:completed; reconnect with `since`
// and receive what was missed; every client command with acknowledgements.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { io } = require('socket.io-client');
const { assert, base, rest, Recorder, deadline, checkSeqs, run } = require('./lib.cjs');

const examples = process.argv[3];
const graphDoc = JSON.parse(fs.readFileSync(path.join(examples, 'quick-reference.json'), 'utf8'));

function connect(label, opts) {
  const socket = io(base, { forceNew: true, reconnection: false, ...opts });
  const rec = new Recorder(label);
  socket.onAny((name, data) => rec.push(name, data));
  const connected = new Promise((resolve, reject) => {
    socket.on('connect', resolve);
    socket.on('connect_error', (e) => reject(new Error(`${label}: connect_error ${e.message}`)));
  });
  return { socket, rec, connected: deadline(connected, 5000, `${label} connect`) };
}

function upgraded(socket) {
  const engine = socket.io.engine;
  if (engine.transport.name === 'websocket') return Promise.resolve();
  return deadline(new Promise((resolve) => engine.once('upgrade', resolve)), 5000, 'upgrade to websocket');
}

run(async () => {
  const g = await rest('POST', '/api/graphs', graphDoc);
  assert.equal(g.status, 201, g.text);
  const a = await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never' });
  assert.equal(a.status, 201, a.text);
  const xa = a.json.executionId;

  // 1. default options: the handshake goes over polling, then upgrades
  const c1 = connect('client 1');
  assert.equal(c1.socket.io.engine.transport.name, 'polling', 'socket.io-client starts on polling by default');
  await c1.connected;
  await upgraded(c1.socket);
  assert.equal(c1.socket.io.engine.transport.name, 'websocket');

  const snap = await deadline(c1.socket.emitWithAck('execution:subscribe', { executionId: xa }), 5000, 'subscribe ack');
  assert.equal(snap.executionId, xa);
  assert.equal(snap.graphId, g.json.id);
  assert.equal(snap.state, 'running');
  assert.equal(typeof snap.seq, 'number');
  assert.equal(typeof snap.metrics.messagesProcessed, 'number');

  // 2. inject over REST; the subscriber sees every hop, then metrics
  const inj = await rest('POST', `/api/executions/${xa}/inject`, { nodeId: 'input', port: 'in', value: 21 });
  assert.equal(inj.status, 200, inj.text);
  assert.deepEqual(inj.json.outputs, { 'output:out': 42 });
  const hop = await c1.rec.until((n, d) => n === 'port:emit' && d.targetNode === 'output', 'port:emit into output');
  const d = hop.data;
  assert.equal(d.executionId, xa);
  assert.equal(d.sourceNode, 'double');
  assert.equal(d.sourcePort, 'out');
  assert.equal(d.targetPort, 'in');
  assert.equal(d.value, 42);
  assert.equal(typeof d.sequence, 'number');
  assert.equal(typeof d.tick, 'number');
  const first = c1.rec.named('port:emit', (x) => x.targetNode === 'double')[0];
  assert.ok(first, 'port:emit input → double');
  assert.equal(first.data.value, 21);
  assert.ok(c1.rec.named('component:invoked').length >= 3, 'component:invoked for each of the three nodes');
  const m = await c1.rec.until((n, x) => n === 'metrics:update' && x.metrics.messagesProcessed >= 3,
    'metrics:update counting 3 messages', 3000);
  assert.equal(m.data.executionId, xa);
  const seqs = checkSeqs(c1.rec.events, 'client 1');
  const lastSeen = seqs[seqs.length - 1];

  // 3. gone for a while: what happened meanwhile comes back with since.
  // The linger after a disconnect keeps the cheap kinds (outputs, states),
  // never the per-hop ones: a reconnect asking for those kinds is replayed.
  c1.socket.disconnect();
  const inj2 = await rest('POST', `/api/executions/${xa}/inject`, { nodeId: 'input', value: 5 });
  assert.equal(inj2.status, 200, inj2.text);
  const c2 = connect('client 2');
  await c2.connected;
  const cheap = ['execution:*', 'output', 'log'];
  const snap2 = await c2.socket.emitWithAck('execution:subscribe', { executionId: xa, since: lastSeen, events: cheap });
  assert.equal(snap2.executionId, xa);
  assert.ok(snap2.seq > lastSeen, 'the snapshot is newer than what client 1 saw');
  const missed = await c2.rec.until((n, x) => n === 'output' && x.value === 10, 'the missed output (value 10)');
  const replayed = c2.rec.events.filter((e) => e.name !== 'metrics:update');
  assert.equal(replayed[0].data.seq, lastSeen + 1, 'the replay starts right after since');
  checkSeqs(c2.rec.events, 'client 2 replay');
  assert.ok(missed.data.seq <= snap2.seq);
  assert.equal(c2.rec.named('resync').length, 0, 'no resync when the history holds it');

  // 4. too old (or from the future): an explicit resync, never a silent gap
  await c2.socket.emitWithAck('execution:subscribe', { executionId: xa, since: snap2.seq + 1000, events: cheap });
  const rs = await c2.rec.until((n) => n === 'resync', 'resync');
  assert.equal(rs.data.executionId, xa);
  assert.equal(rs.data.seq, snap2.seq);
  assert.equal(typeof rs.data.reason, 'string');
  // wanting a per-hop kind the linger did not build: resync as well
  const c2b = connect('client 2b');
  await c2b.connected;
  await c2b.socket.emitWithAck('execution:subscribe', { executionId: xa, since: lastSeen });
  const rs2 = await c2b.rec.until((n) => n === 'resync', 'resync for port:emit not built while lingering');
  assert.match(rs2.data.reason, /port:emit|component:invoked/);
  c2b.socket.disconnect();
  await c2.socket.emitWithAck('execution:subscribe', { executionId: xa }); /* every kind from here on */

  // 5. acknowledgements carry {error}
  const bad = await c2.socket.emitWithAck('execution:subscribe', { executionId: 'no-such-execution' });
  assert.match(bad.error, /not found/);
  assert.equal(bad.code, 'WEIR_ENOTFOUND', 'acks carry the code an HTTP answer would');
  const unknown = await c2.socket.emitWithAck('execution:frobnicate', {});
  assert.match(unknown.error, /unknown command/);
  assert.equal(unknown.code, 'WEIR_EINVAL');
  // without an ack a failure is an `error` event
  c2.socket.emit('execution:pause', { executionId: 'no-such-execution' });
  const errEv = await c2.rec.until((n) => n === 'error', 'error event');
  assert.match(errEv.data.error, /not found/);
  assert.equal(errEv.data.message, errEv.data.error, 'as the Symbia runtime sent it: {message, executionId}');
  assert.equal(errEv.data.executionId, 'no-such-execution');

  // 6. control commands; the room hears about them
  const p = await c2.socket.emitWithAck('execution:pause', { executionId: xa });
  assert.equal(p.state, 'paused');
  await c2.rec.until((n, x) => n === 'execution:paused' && x.executionId === xa, 'execution:paused');
  const again = await c2.socket.emitWithAck('execution:pause', { executionId: xa });
  assert.match(again.error, /paused|running/, 'pausing twice is a state conflict');
  assert.equal(again.code, 'WEIR_ESTATE');
  const r = await c2.socket.emitWithAck('execution:resume', { executionId: xa });
  assert.equal(r.state, 'running');
  await c2.rec.until((n, x) => n === 'execution:resumed' && x.executionId === xa, 'execution:resumed');

  // 7. start and inject over the socket; the execution completes by itself
  const st = await c2.socket.emitWithAck('execution:start', { graphId: g.json.id });
  assert.equal(st.state, 'running', JSON.stringify(st));
  const xb = st.executionId;
  await c2.rec.until((n, x) => n === 'execution:started' && x.executionId === xb, 'execution:started of the new one');
  const ij = await c2.socket.emitWithAck('execution:inject', { executionId: xb, nodeId: 'input', value: 21 });
  assert.equal(ij.settled, true, JSON.stringify(ij));
  assert.deepEqual(ij.outputs, { 'output:out': 42 });
  const done = await c2.rec.until((n, x) => n === 'execution:completed' && x.executionId === xb, 'execution:completed');
  assert.equal(done.data.metrics.messagesProcessed, 3);

  // 8. stop: cancelled, with what was discarded
  const s = await c2.socket.emitWithAck('execution:stop', { executionId: xa });
  assert.equal(s.state, 'cancelled');
  await c2.rec.until((n, x) => n === 'execution:cancelled' && x.executionId === xa, 'execution:cancelled');
  const un = await c2.socket.emitWithAck('execution:unsubscribe', { executionId: xa });
  assert.equal(un.unsubscribed, true);
  c2.socket.disconnect();

  // 9. the polling transport alone delivers events too
  const c = await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never' });
  const c3 = connect('client 3 (polling only)', { transports: ['polling'] });
  await c3.connected;
  await c3.socket.emitWithAck('execution:subscribe', { executionId: c.json.executionId });
  await rest('POST', `/api/executions/${c.json.executionId}/inject`, { nodeId: 'input', value: 4 });
  await c3.rec.until((n, x) => n === 'port:emit' && x.value === 8, 'port:emit over polling');
  assert.equal(c3.socket.io.engine.transport.name, 'polling');
  c3.socket.disconnect();

  // every disconnect reached the server: no client is left behind
  let left = -1;
  for (let i = 0; i < 100 && left !== 0; i++) {
    left = (await rest('GET', '/api/stats')).json.eventClients;
    if (left) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(left, 0, 'event clients still counted after every client disconnected');
});
