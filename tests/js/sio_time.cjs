// Time under control over the stock socket.io-client (SPEC §4.5, §5): an
// execution started on the virtual runtime, driven with execution:tick /
// advance / step / run / runtime, watched through time:advanced,
// runtime:changed and port:emit; the same scenario twice gives the same
// events.
'use strict';
const { io } = require('socket.io-client');
const { assert, base, rest, Recorder, deadline, checkSeqs, run } = require('./lib.cjs');

const graphDoc = {
  symbia: '1.0', name: 'delayed', metadata: { completion: 'never' },
  nodes: [
    { id: 'a', component: 'symbia.core.passthrough' },
    { id: 'd', component: 'symbia.core.delay', config: { delayMs: 30 } },
    { id: 'z', component: 'symbia.core.map', config: { expression: 'value * 2' } },
  ],
  edges: [
    { source: { node: 'a', port: 'out' }, target: { node: 'd', port: 'in' } },
    { source: { node: 'd', port: 'out' }, target: { node: 'z', port: 'in' } },
  ],
};

function connect(label) {
  const socket = io(base, { forceNew: true, reconnection: false });
  const rec = new Recorder(label);
  socket.onAny((name, data) => rec.push(name, data));
  const connected = new Promise((resolve, reject) => {
    socket.on('connect', resolve);
    socket.on('connect_error', (e) => reject(new Error(`${label}: connect_error ${e.message}`)));
  });
  const call = (event, data) => deadline(socket.emitWithAck(event, data), 5000, `${label} ${event}`);
  return { socket, rec, call, connected: deadline(connected, 5000, `${label} connect`) };
}

// One scenario; returns the events it saw (seq and wall-clock fields dropped).
async function scenario(graphId, label) {
  const c = connect(label);
  await c.connected;
  const x = await c.call('execution:start', { graphId, runtime: 'virtual', tickMs: 10 });
  assert.equal(x.runtime, 'virtual', JSON.stringify(x));
  const id = x.executionId;
  const inj = await c.call('execution:inject', { executionId: id, nodeId: 'a', value: 21 });
  assert.equal(inj.settled, false, 'it needs virtual time: ' + JSON.stringify(inj));
  const sch = await c.call('execution:inject', { executionId: id, nodeId: 'a', value: 4, afterTicks: 5 });
  assert.equal(sch.atTick, 5, JSON.stringify(sch));

  const t = await c.call('execution:tick', { executionId: id, count: 2 });
  assert.equal(t.tick, 2);
  await c.rec.until((n, d) => n === 'time:advanced' && d.tick === 2, 'time:advanced at tick 2');
  const adv = await c.call('execution:advance', { executionId: id, ms: 10 });
  assert.equal(adv.tick, 3);
  assert.deepEqual(adv.settled[0].outputs, { 'z:out': 42 }, JSON.stringify(adv));
  const hop = await c.rec.until((n, d) => n === 'port:emit' && d.targetNode === 'z', 'port:emit into z');
  assert.equal(hop.data.value, 21);

  const st = await c.call('execution:step', { executionId: id });
  assert.equal(st.tick, 5, 'the step moved the clock to the scheduled inject: ' + JSON.stringify(st));
  assert.equal(st.steps[0].nodeId, 'a');
  const r = await c.call('execution:run', { executionId: id });
  assert.equal(r.stoppedBy, 'idle', JSON.stringify(r));
  assert.equal(r.tick, 8);
  await c.rec.until((n, d) => n === 'port:emit' && d.targetNode === 'z' && d.value === 4, 'the scheduled flow');

  const sw = await c.call('execution:runtime', { executionId: id, runtime: 'realtime' });
  assert.equal(sw.runtime, 'realtime', JSON.stringify(sw));
  const ch = await c.rec.until((n) => n === 'runtime:changed', 'runtime:changed');
  assert.equal(ch.data.from, 'virtual');
  assert.equal(ch.data.to, 'realtime');
  const no = await c.call('execution:tick', { executionId: id });
  assert.match(no.error, /needs the virtual runtime/);
  checkSeqs(c.rec.events, label);
  c.socket.close();
  return c.rec.events
    .filter((e) => e.name !== 'metrics:update' && e.name !== 'runtime:changed')
    .map((e) => {
      const d = { ...e.data };
      delete d.seq; delete d.executionId; delete d.time; delete d.startedAt; delete d.metrics;
      return { name: e.name, data: d };
    });
}

run(async () => {
  const g = await rest('POST', '/api/graphs', graphDoc);
  assert.equal(g.status, 201, g.text);
  const one = await scenario(g.json.id, 'run 1');
  const two = await scenario(g.json.id, 'run 2');
  assert.ok(one.length >= 15, `a real scenario: ${one.length} events`);
  assert.deepEqual(two, one, 'the same scenario gives the same events');
});
