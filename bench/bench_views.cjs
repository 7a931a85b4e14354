// Bytes per second sent to one `execution:<id>` view subscriber (SPEC §8)
// while the execution runs as many hops as it can, at two inject rates:
// what it is sent is bounded by VIEW_INTERVAL_MS and the view's size, not
// by the hop rate.  Against a running `weir serve` on 127.0.0.1:PORT.
//   node bench_views.cjs PORT [SECONDS] [WIDTH]
// The graph: in → WIDTH passthroughs → WIDTH more, each of the first to each
// of the second (1 + WIDTH + WIDTH² hops per inject).  An injector keeps
// injects in flight over /ws (flat out), or sends them at a twentieth of the
// flat-out rate (paced); the subscriber is a /ws client counting bytes.
'use strict';
const WebSocket = require('ws');

const port = Number(process.argv[2]);
const SECONDS = Number(process.argv[3] || 3);
const WIDTH = Number(process.argv[4] || 30);
const base = `http://127.0.0.1:${port}`;

async function rest(method, path, body) {
  const r = await fetch(base + path, { method, headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  return r.json();
}

function ws() {
  const w = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  w.bytes = 0;
  w.msgs = 0;
  w.acks = new Map();
  w.next = 1;
  w.on('message', (buf) => {
    w.bytes += buf.length;
    const m = JSON.parse(buf.toString());
    if (m.event === 'ack') { const a = w.acks.get(m.ack); w.acks.delete(m.ack); if (a) a(m.data); return; }
    if (m.event === 'view:diff' || m.event === 'view:init') w.msgs++;
  });
  w.call = (event, data) => new Promise((resolve) => {
    const id = w.next++;
    w.acks.set(id, resolve);
    w.send(JSON.stringify({ event, data, ack: id }));
  });
  return new Promise((resolve, reject) => { w.on('open', () => resolve(w)); w.on('error', reject); });
}

function fan(width) {
  const nodes = [{ id: 'in', component: 'symbia.core.passthrough' }], edges = [];
  for (let i = 0; i < width; i++) {
    nodes.push({ id: `a${i}`, component: 'symbia.core.passthrough' }, { id: `b${i}`, component: 'symbia.core.passthrough' });
    edges.push({ source: { node: 'in', port: 'out' }, target: { node: `a${i}`, port: 'in' } });
  }
  for (let i = 0; i < width; i++)
    for (let j = 0; j < width; j++)
      edges.push({ source: { node: `a${i}`, port: 'out' }, target: { node: `b${j}`, port: 'in' } });
  return { symbia: '1.0', name: `fan-${width}`, nodes, edges };
}

const processed = async (x) => (await rest('GET', `/api/executions/${x}/metrics`)).messagesProcessed;

// Inject for SECONDS: perSec 0 = flat out (64 in flight), else paced.
async function drive(inj, x, perSec) {
  const end = Date.now() + SECONDS * 1000;
  let sent = 0;
  if (!perSec) {
    await new Promise((resolve) => {
      let live = 0;
      const one = () => {
        if (Date.now() > end) { if (!live) resolve(); return; }
        live++;
        sent++;
        inj.call('execution:inject', { executionId: x, nodeId: 'in', value: sent, wait: false }).then(() => { live--; one(); });
      };
      for (let i = 0; i < 64; i++) one();
    });
  } else {
    const t0 = Date.now();
    while (Date.now() < end) {
      const due = Math.floor(((Date.now() - t0) / 1000) * perSec);
      const acks = [];
      while (sent < due) acks.push(inj.call('execution:inject', { executionId: x, nodeId: 'in', value: ++sent, wait: false }));
      await Promise.all(acks);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  return sent;
}

async function round(label, x, inj, sub, perSec) {
  const view = `execution:${x}`;
  if (sub) { await sub.call('view:subscribe', { view }); await new Promise((r) => setTimeout(r, 200)); }
  const b0 = sub ? sub.bytes : 0, m0 = sub ? sub.msgs : 0, h0 = await processed(x), t0 = Date.now();
  const sent = await drive(inj, x, perSec);
  const secs = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 150)); // the last round's diff
  const hops = (await processed(x)) - h0;
  const r = { label, injects: sent, hopsPerSec: Math.round(hops / secs) };
  if (sub) {
    r.bytesPerSec = Math.round((sub.bytes - b0) / secs);
    r.diffsPerSec = +((sub.msgs - m0) / secs).toFixed(1);
    r.bytesPerMillionHops = Math.round(((sub.bytes - b0) / hops) * 1e6);
    await sub.call('view:unsubscribe', { view });
  }
  console.log(`  ${label.padEnd(46)} ${String(r.hopsPerSec).padStart(9)} hops/s` +
    (sub ? `  ${String(r.bytesPerSec).padStart(7)} B/s to the subscriber (${r.diffsPerSec} diffs/s)` : ''));
  return r;
}

(async () => {
  const g = await rest('POST', '/api/graphs', fan(WIDTH));
  const x = (await rest('POST', `/api/graphs/${g.id}/execute`, { completion: 'never' })).executionId;
  const inj = await ws(), sub = await ws();
  const hopsPer = 1 + WIDTH + WIDTH * WIDTH;
  console.log(`  graph: ${2 * WIDTH + 1} nodes, ${hopsPer} hops per inject; ${SECONDS} s per round`);
  const flat = await round('flat out, no subscriber', x, inj, null, 0);
  const full = await round('flat out, one view subscriber', x, inj, sub, 0);
  const paced = Math.max(1, Math.round(full.injects / SECONDS / 20));
  await round(`paced (${paced} injects/s), one view subscriber`, x, inj, sub, paced);
  console.log(`  watching costs ${(flat.hopsPerSec / full.hopsPerSec).toFixed(2)}x in hop rate`);
  inj.close();
  sub.close();
})().catch((e) => { console.error(e); process.exit(1); });
