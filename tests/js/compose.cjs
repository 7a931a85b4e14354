// A composed graph over the real server (issue 14): examples/compose's
// enrich graph stored, then orders, which uses it twice; the events of an
// inject name the inner nodes by their paths (retail/lookup, bulk/total).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('ws');
const { assert, port, rest, Recorder, deadline, run } = require('./lib.cjs');

const dir = path.join(process.argv[3], 'compose');
const doc = (name) => JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));

run(async () => {
  const sub = await rest('POST', '/api/graphs', doc('enrich.json'));
  assert.equal(sub.status, 201, sub.text);
  const main = await rest('POST', '/api/graphs', doc('main.json'));
  assert.equal(main.status, 201, main.text);
  const x = await rest('POST', `/api/graphs/${main.json.id}/execute`, { completion: 'never' });
  assert.equal(x.status, 201, x.text);
  const id = x.json.executionId;

  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const rec = new Recorder('ws');
  let acked;
  const ack = new Promise((resolve) => { acked = resolve; });
  ws.on('message', (buf) => {
    const msg = JSON.parse(buf.toString());
    if (msg.event === 'ack') acked(msg.data);
    else rec.push(msg.event, msg.data);
  });
  await deadline(new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); }), 5000, 'open');
  ws.send(JSON.stringify({ event: 'execution:subscribe', data: { executionId: id }, ack: 1 }));
  const snap = await deadline(ack, 5000, 'execution:subscribe');
  assert.equal(snap.executionId, id);

  const inj = await rest('POST', `/api/executions/${id}/inject`, { nodeId: 'order', value: { sku: 'apple', qty: 2 } });
  assert.equal(inj.status, 200, inj.text);
  assert.deepEqual(inj.json.outputs, { 'report:out': '2 apple: 6; 20: 60' });

  const into = await rec.until((n, d) => n === 'port:emit' && d.sourceNode === 'retail/lookup', 'a hop out of retail/lookup');
  assert.equal(into.data.targetNode, 'retail/total');
  assert.deepEqual(into.data.value, { sku: 'apple', qty: 2, unit: 3 });
  const out = await rec.until((n, d) => n === 'port:emit' && d.sourceNode === 'bulk/total', 'a hop out of bulk/total');
  assert.equal(out.data.targetNode, 'join');
  assert.equal(out.data.targetPort, 'bulk');
  await rec.until((n, d) => n === 'component:invoked' && d.nodeId === 'bulk/lookup', 'bulk/lookup invoked');
  const m = await rec.until((n, d) => n === 'metrics:update' && d.metrics.nodes && d.metrics.nodes['retail/total'],
    'metrics:update naming retail/total');
  assert.equal(m.data.metrics.nodes['retail/total'].invocations, 1);
  ws.close();
});
