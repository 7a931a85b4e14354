// Output commit holds an execution's events until its input is durable;
// a wave that makes more of them than HELD_EVENTS_MAX (16384) while the
// journal is behind does not grow the server's memory: the held events are
// dropped and the subscriber is cut off (subscription:cut), to subscribe
// again with since.  argv[4] is the server's pid (its peak RSS is read).
'use strict';
const fs = require('node:fs');
const WebSocket = require('ws');
const { assert, port, rest, deadline, run } = require('./lib.cjs');

const pid = Number(process.argv[4]);
const layers = 6, width = 10;
const nodes = [{ id: 'in', component: 'symbia.core.passthrough' }];
const edges = [];
for (let l = 0; l < layers; l++) {
  for (let i = 0; i < width; i++) {
    nodes.push({ id: `n${l}_${i}`, component: 'symbia.core.passthrough' });
    const from = l === 0 ? ['in'] : Array.from({ length: width }, (_, k) => `n${l - 1}_${k}`);
    for (const f of from) edges.push({ source: { node: f, port: 'out' }, target: { node: `n${l}_${i}`, port: 'in' } });
  }
}

function peakKb() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

run(async () => {
  const g = await rest('POST', '/api/graphs', { symbia: '1.0', name: 'fan', nodes, edges });
  assert.equal(g.status, 201, JSON.stringify(g.json));
  const x = (await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never', onError: 'continue' })).json.executionId;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await deadline(new Promise((r, j) => { ws.on('open', r); ws.on('error', j); }), 5000, 'ws open');
  let cut = null;
  let emits = 0;
  ws.on('message', (b) => {
    const m = JSON.parse(b.toString());
    if (m.event === 'subscription:cut') cut = m.data;
    if (m.event === 'port:emit') emits++;
  });
  ws.send(JSON.stringify({ event: 'execution:subscribe', data: { executionId: x, events: ['port:emit'] } }));
  await new Promise((r) => setTimeout(r, 200));
  const before = peakKb();
  for (let i = 0; i < 3; i++) {
    const r = await rest('POST', `/api/executions/${x}/inject`, { nodeId: 'in', value: 'x'.repeat(64), wait: false });
    assert.equal(r.status, 202, JSON.stringify(r.json));
  }
  await deadline((async () => { while (!cut) await new Promise((r) => setTimeout(r, 20)); })(), 20000, 'cut');
  assert.match(cut.reason, /waited for their input to be durable/);
  const grew = (peakKb() - before) / 1024;
  console.log(`held events: cut after ${emits} events; peak RSS grew ${grew.toFixed(0)} MB`);
  assert.ok(grew < 150, `the server's peak memory grew ${grew.toFixed(0)} MB`);
  ws.close();
});
