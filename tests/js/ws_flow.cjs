// The plain WebSocket at /ws with the `ws` package: JSON {event, data}
// frames, the same events and commands as Socket.IO, acks by id.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('ws');
const { assert, port, rest, Recorder, deadline, checkSeqs, run } = require('./lib.cjs');

const examples = process.argv[3];
const graphDoc = JSON.parse(fs.readFileSync(path.join(examples, 'quick-reference.json'), 'utf8'));

function open(label, query = '') {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws${query}`);
  const rec = new Recorder(label);
  const acks = new Map();
  let next = 1;
  ws.on('message', (buf, isBinary) => {
    assert.equal(isBinary, false, 'text frames only');
    const msg = JSON.parse(buf.toString());
    if (msg.event === 'ack') {
      const a = acks.get(msg.ack);
      assert.ok(a, `an ack for an id we sent (${msg.ack})`);
      acks.delete(msg.ack);
      a(msg.data);
    } else {
      rec.push(msg.event, msg.data);
    }
  });
  const call = (event, data) => deadline(new Promise((resolve) => {
    const id = next++;
    acks.set(id, resolve);
    ws.send(JSON.stringify({ event, data, ack: id }));
  }), 5000, `${label} ${event}`);
  const opened = deadline(new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
    ws.on('unexpected-response', (req, res) => reject(new Error(`${label}: HTTP ${res.statusCode}`)));
  }), 5000, `${label} open`);
  return { ws, rec, call, opened };
}

run(async () => {
  const g = await rest('POST', '/api/graphs', graphDoc);
  assert.equal(g.status, 201, g.text);
  const a = await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never' });
  const xa = a.json.executionId;

  const c = open('ws client');
  await c.opened;
  const snap = await c.call('execution:subscribe', { executionId: xa });
  assert.equal(snap.executionId, xa);
  assert.equal(snap.state, 'running');

  const inj = await rest('POST', `/api/executions/${xa}/inject`, { nodeId: 'input', value: 21 });
  assert.equal(inj.status, 200, inj.text);
  const hop = await c.rec.until((n, d) => n === 'port:emit' && d.targetNode === 'output', 'port:emit into output');
  assert.equal(hop.data.value, 42);
  assert.equal(hop.data.sourceNode, 'double');
  await c.rec.until((n, d) => n === 'metrics:update' && d.metrics.messagesProcessed >= 3, 'metrics:update');
  checkSeqs(c.rec.events, 'ws client');

  // commands over /ws
  const ij = await c.call('execution:inject', { executionId: xa, nodeId: 'input', value: 1 });
  assert.deepEqual(ij.outputs, { 'output:out': 2 });
  const bad = await c.call('execution:stop', { executionId: 'nope' });
  assert.match(bad.error, /not found/);
  assert.equal(bad.code, 'WEIR_ENOTFOUND', 'acks carry the code an HTTP answer would');
  const unknown = await c.call('nonsense', {});
  assert.match(unknown.error, /unknown command/);
  assert.equal(unknown.code, 'WEIR_EINVAL');
  c.ws.send('this is not json');
  const e1 = await c.rec.until((n) => n === 'error', 'error for a frame that is not JSON');
  assert.match(e1.data.error, /not JSON/);
  assert.equal(e1.data.code, 'WEIR_EINVAL');
  c.ws.send(JSON.stringify({ data: {} }));
  await c.rec.until((n, d) => n === 'error' && /event/.test(d.error), 'error for a frame without event');

  // a second client starts its own execution and sees it start and finish
  const c2 = open('ws client 2');
  await c2.opened;
  const st = await c2.call('execution:start', { graphId: g.json.id });
  assert.equal(st.state, 'running');
  await c2.rec.until((n, d) => n === 'execution:started' && d.executionId === st.executionId, 'execution:started');
  await c2.call('execution:inject', { executionId: st.executionId, nodeId: 'input', value: 3 });
  const done = await c2.rec.until((n, d) => n === 'execution:completed', 'execution:completed');
  assert.equal(done.data.executionId, st.executionId);
  assert.equal(c.rec.named('execution:completed').length, 0, 'client 1 did not subscribe to that one');

  // a GET /ws that is not an upgrade is told what /ws is
  const plain = await rest('GET', '/ws');
  assert.equal(plain.status, 426);

  const closed = new Promise((resolve) => c.ws.on('close', (code) => resolve(code)));
  c.ws.close(1000, 'done');
  assert.equal(await deadline(closed, 5000, 'close'), 1000);
  c2.ws.close();
  const stats = await rest('GET', '/api/stats');
  assert.equal(typeof stats.json.eventClients, 'number');
});
