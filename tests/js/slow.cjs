// A subscriber that stops reading is cut off with a notice once its backlog
// passes SUBSCRIBER_BACKLOG_BYTES (the server runs with 262144); the
// execution and a second, reading subscriber never wait for it.
'use strict';
const WebSocket = require('ws');
const { assert, port, rest, Recorder, deadline, checkSeqs, run } = require('./lib.cjs');

const graph = {
  symbia: '1.0', name: 'chatty',
  nodes: [
    { id: 'a', component: 'symbia.core.passthrough' },
    { id: 'b', component: 'symbia.core.passthrough' },
    { id: 'c', component: 'symbia.core.passthrough' },
  ],
  edges: [
    { source: { node: 'a', port: 'out' }, target: { node: 'b', port: 'in' } },
    { source: { node: 'b', port: 'out' }, target: { node: 'c', port: 'in' } },
  ],
};

function client(label) {
  const w = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const rec = new Recorder(label);
  w.on('message', (buf) => { const m = JSON.parse(buf.toString()); rec.push(m.event, m.data); });
  return { w, rec, opened: deadline(new Promise((r) => w.on('open', r)), 5000, `${label} open`) };
}

run(async () => {
  const g = await rest('POST', '/api/graphs', graph);
  const x = (await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never' })).json.executionId;
  const slow = client('slow');
  const fast = client('fast');
  await Promise.all([slow.opened, fast.opened]);
  for (const c of [slow, fast]) c.w.send(JSON.stringify({ event: 'execution:subscribe', data: { executionId: x } }));
  await slow.rec.until((n) => n === 'execution:state', 'slow subscribed');
  await fast.rec.until((n) => n === 'execution:state', 'fast subscribed');
  slow.w._socket.pause(); // stop reading: the kernel buffers fill, then the server's queue

  const big = 'x'.repeat(16 * 1024); // one inject's events stay well under the bound
  const t0 = Date.now();
  let cut = false;
  for (let i = 0; i < 3000 && !cut; i++) {
    const r = await rest('POST', `/api/executions/${x}/inject`, { nodeId: 'a', value: { i, big } });
    assert.equal(r.status, 200, r.text);
    if (i % 10 === 9) {
      const m = await rest('GET', '/metrics');
      cut = /weir_subscribers_cut_total [1-9]/.test(m.text);
    }
  }
  assert.ok(cut, 'the slow subscriber was cut off (weir_subscribers_cut_total)');
  const took = Date.now() - t0;
  assert.ok(took < 30000, `injects kept flowing (${took} ms)`);

  // the reading subscriber got everything, in order
  await fast.rec.until((n, d) => n === 'port:emit' && d.targetNode === 'c' && d.value.i >= 9, 'fast kept up');
  checkSeqs(fast.rec.events, 'fast');
  assert.equal(fast.rec.named('subscription:cut').length, 0);

  // the slow one, reading again, finds the notice after what was queued
  slow.w._socket.resume();
  const notice = await slow.rec.until((n) => n === 'subscription:cut', 'subscription:cut notice', 15000);
  assert.equal(notice.data.executionId, x);
  assert.equal(typeof notice.data.seq, 'number');
  assert.match(notice.data.reason, /too slow/);
  const before = slow.rec.events.filter((e) => e.name !== 'subscription:cut' && e.name !== 'metrics:update');
  checkSeqs(before, 'slow before the cut');
  const seqs = before.map((e) => e.data.seq).filter((s) => typeof s === 'number');
  assert.equal(seqs[seqs.length - 1], notice.data.seq, 'the notice names the last seq it was sent');
  slow.w.close();
  fast.w.close();
});
