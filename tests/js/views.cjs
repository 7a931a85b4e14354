// Live views over the real binary (SPEC §8), with the stock clients
// (socket.io-client, ws) and the client model of src/web/views.js applying
// the diffs: init + diffs must rebuild exactly what a fresh subscribe and
// the REST API show.
//   node views.cjs PORT EXAMPLES_DIR PID MODE
// MODE: main (a server with a data dir, --view-history 4), memory (--memory),
// slow (--memory: a subscriber that stops reading), throttle, auth
// (--api-keys k-views).
'use strict';
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const WebSocket = require('ws');
const { io } = require('socket.io-client');
const { assert, base, port, rest, deadline, run } = require('./lib.cjs');

const MODE = process.argv[5] || 'main';
const SRC = path.dirname(process.argv[3] || path.join(__dirname, '..', '..', 'examples'));
const INTERVAL = Number(process.env.VIEW_INTERVAL_MS || 50);
let V; // src/web/views.js

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn until it returns a truthy value (deadline, never a blind sleep).
async function until(fn, what, ms = 8000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms (last: ${last && last.stack ? last.stack : JSON.stringify(last)})`);
    await sleep(20);
  }
}

// One event connection, over Socket.IO or /ws, keeping the views it is sent
// (LiveView of views.js) and every message with its size.
class Client {
  constructor(kind, label, opts = {}) {
    this.kind = kind;
    this.label = label;
    this.views = new Map();
    this.log = []; // {name, data, bytes, at}
    this.errors = [];
    if (kind === 'sio') {
      this.sock = io(base, { forceNew: true, reconnection: false, ...(opts.sio || {}) });
      this.opened = deadline(new Promise((r, j) => { this.sock.on('connect', r); this.sock.on('connect_error', j); }), 5000, `${label} connect`);
      for (const name of ['view:init', 'view:diff', 'error'])
        this.sock.on(name, (data) => this.take(name, data, JSON.stringify(data).length));
    } else {
      this.ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      this.acks = new Map();
      this.next = 1;
      this.bytes = 0;
      this.ws.on('message', (buf) => {
        this.bytes += buf.length;
        const m = JSON.parse(buf.toString());
        if (m.event === 'ack') {
          const a = this.acks.get(m.ack);
          if (a) { this.acks.delete(m.ack); a(m.data); }
          return;
        }
        this.take(m.event, m.data, buf.length);
      });
      this.opened = deadline(new Promise((r, j) => { this.ws.on('open', r); this.ws.on('error', j); }), 5000, `${label} open`);
    }
  }

  take(name, data, bytes) {
    this.log.push({ name, data, bytes, at: Date.now() });
    if (name === 'error') { this.errors.push(data); return; }
    const v = this.views.get(data.view);
    if (!v) return;
    if (name === 'view:init') {
      if (data.atTick !== undefined) { v.atInit = data; return; }
      v.inits++;
      v.live.init(data);
    } else {
      assert.ok(v.live.ready, `${this.label}: a view:diff of ${data.view} before its view:init`);
      assert.ok(data.seq > v.live.seq, `${this.label}: seq ${data.seq} after ${v.live.seq} of ${data.view}`);
      v.diffs++;
      v.live.update(data); // throws when the diff does not fit the value: the test fails
    }
  }

  // Send a command; its acknowledgement (both transports ask for one).
  call(event, data) {
    if (this.kind === 'sio') return deadline(this.sock.emitWithAck(event, data), 5000, `${this.label} ${event}`);
    return deadline(new Promise((resolve) => {
      const id = this.next++;
      this.acks.set(id, resolve);
      this.ws.send(JSON.stringify({ event, data, ack: id }));
    }), 5000, `${this.label} ${event}`);
  }

  // A command without an acknowledgement (/ws: failures come as `error`).
  send(event, data) {
    if (this.kind === 'sio') this.sock.emit(event, data);
    else this.ws.send(JSON.stringify({ event, data }));
  }

  async subscribe(view, extra = {}) {
    if (!this.views.has(view)) this.views.set(view, { live: new V.LiveView(view), inits: 0, diffs: 0 });
    const a = await this.call('view:subscribe', { view, ...extra });
    assert.ok(!a.error, `${this.label} view:subscribe ${view}: ${JSON.stringify(a)}`);
    assert.equal(a.view, view);
    assert.equal(typeof a.seq, 'number');
    return a;
  }

  value(view) { return this.views.get(view).live.value; }
  seq(view) { return this.views.get(view).live.seq; }
  stat(view) { return this.views.get(view); }

  // The raw socket under the transport (to stop reading it).
  raw() {
    if (this.kind === 'ws') return this.ws._socket;
    return this.sock.io.engine.transport.ws._socket;
  }

  close() {
    if (this.kind === 'sio') this.sock.close();
    else this.ws.close();
  }
}

async function open(kind, label, opts) {
  const c = new Client(kind, label, opts);
  await c.opened;
  return c;
}

// A fresh subscribe's value: what a new client is told first.
async function fresh(view) {
  const c = await open('ws', 'fresh');
  await c.subscribe(view);
  await until(() => c.views.get(view).live.ready, `fresh ${view} init`);
  const v = c.value(view);
  c.close();
  return v;
}

// The execution view's value built from the REST API.
async function restExecution(id) {
  const x = await rest('GET', `/api/executions/${id}`);
  const st = await rest('GET', `/api/executions/${id}/state`);
  assert.equal(x.status, 200, x.text);
  assert.equal(st.status, 200, st.text);
  const m = x.json.metrics;
  const nodes = {};
  for (const [n, c] of Object.entries(m.nodes))
    nodes[n] = { invocations: c.invocations, emitted: c.emitted, errors: c.errors, state: st.json.nodes[n] ?? {} };
  const pick = (o, keys) => Object.fromEntries(keys.map((k) => [k, o[k]]));
  return {
    executionId: id, graphId: x.json.graphId, graphName: x.json.graphName, state: x.json.state,
    runtime: x.json.runtime, startedAt: x.json.startedAt ?? null, tick: st.json.tick, stored: MODE === 'main',
    metrics: pick(m, ['messagesProcessed', 'messagesEmitted', 'componentInvocations', 'errorCount',
      'droppedMessages', 'queueDepth', 'pendingEffects', 'ticks', 'avgLatencyMs', 'maxLatencyMs']),
    nodes,
  };
}

// The executions view's rows built from the REST API.
async function restExecutions() {
  const list = await rest('GET', '/api/executions');
  const rows = [];
  for (const e of list.json) {
    const full = (await rest('GET', `/api/executions/${e.executionId}`)).json;
    const m = full.metrics;
    rows.push({
      executionId: e.executionId, graphId: e.graphId, graphName: e.graphName, state: e.state, runtime: e.runtime,
      startedAt: e.startedAt ?? null, tick: m.ticks, stored: MODE === 'main',
      metrics: { messagesProcessed: m.messagesProcessed, messagesEmitted: m.messagesEmitted, errorCount: m.errorCount,
        queueDepth: m.queueDepth, pendingEffects: m.pendingEffects },
    });
  }
  return rows;
}

const eq = (a, b) => V.equal(a, b);

async function loadGraph(doc) {
  const g = await rest('POST', '/api/graphs', doc);
  assert.equal(g.status, 201, g.text);
  return g.json.id;
}

async function execute(gid, opts = { completion: 'never' }) {
  const x = await rest('POST', `/api/graphs/${gid}/execute`, opts);
  assert.equal(x.status, 201, x.text);
  return x.json.executionId;
}

async function inject(id, value, node = 'in') {
  const r = await rest('POST', `/api/executions/${id}/inject`, { nodeId: node, value });
  assert.ok(r.status === 200 || r.status === 202, r.text);
  return r.json;
}

const ACC = {
  symbia: '1.0', name: 'views-acc',
  nodes: [
    { id: 'in', component: 'symbia.core.passthrough' },
    { id: 'double', component: 'symbia.core.map', config: { expression: 'value * 2' } },
    { id: 'acc', component: 'symbia.core.accumulator', config: { batchSize: 1000 } },
  ],
  edges: [
    { source: { node: 'in', port: 'out' }, target: { node: 'double', port: 'in' } },
    { source: { node: 'double', port: 'out' }, target: { node: 'acc', port: 'in' } },
  ],
};

// in → WIDTH passthroughs → WIDTH more, every one of the first to every one
// of the second: 1 + WIDTH + WIDTH² hops per inject.
function fanGraph(width) {
  const nodes = [{ id: 'in', component: 'symbia.core.passthrough' }];
  const edges = [];
  for (let i = 0; i < width; i++) {
    nodes.push({ id: `a${i}`, component: 'symbia.core.passthrough' });
    nodes.push({ id: `b${i}`, component: 'symbia.core.passthrough' });
    edges.push({ source: { node: 'in', port: 'out' }, target: { node: `a${i}`, port: 'in' } });
  }
  for (let i = 0; i < width; i++)
    for (let j = 0; j < width; j++)
      edges.push({ source: { node: `a${i}`, port: 'out' }, target: { node: `b${j}`, port: 'in' } });
  return { symbia: '1.0', name: `fan-${width}`, nodes, edges };
}

// Keep `inFlight` injects going over /ws for ms (or until stop.now is set,
// when a stop object is given); resolves with the count.
async function flatOut(id, ms, inFlight = 32, value = (n) => n, stop = null) {
  const w = await open('ws', 'injector');
  let sent = 0, done = 0;
  const end = Date.now() + ms;
  await new Promise((resolve) => {
    const one = () => {
      if (stop ? stop.now : Date.now() > end) { if (done === sent) resolve(); return; }
      sent++;
      w.call('execution:inject', { executionId: id, nodeId: 'in', value: value(sent), wait: false }).then((a) => {
        assert.ok(!a.error, JSON.stringify(a));
        done++;
        one();
      });
    };
    for (let i = 0; i < inFlight; i++) one();
  });
  w.close();
  return sent;
}

async function metric(name) {
  const t = (await rest('GET', '/metrics')).text;
  const m = t.match(new RegExp(`^${name} (\\d+)`, 'm'));
  assert.ok(m, `/metrics has no ${name}`);
  return Number(m[1]);
}

/* ---------------------------------------------------------------- main */

async function mainMode() {
  const s = await open('sio', 'sio'); // default options: polling, then the upgrade
  const w = await open('ws', 'ws');

  // graphs: grows as graphs load, equals GET /api/graphs
  await s.subscribe('graphs');
  await until(() => s.stat('graphs').live.ready, 'graphs init');
  const before = s.value('graphs').length;
  const gid = await loadGraph(ACC);
  await until(async () => eq(s.value('graphs'), (await rest('GET', '/api/graphs')).json), 'graphs view = GET /api/graphs');
  assert.equal(s.value('graphs').length, before + 1);
  assert.equal(s.value('graphs').at(-1).id, gid, 'the newest graph is appended');

  // executions: grows as executions start
  await w.subscribe('executions');
  await until(() => w.stat('executions').live.ready, 'executions init');
  const x1 = await execute(gid);
  const x2 = await execute(gid);
  await until(() => w.value('executions').map((r) => r.executionId).join() === [x1, x2].join(), 'executions view lists both');

  // execution:<id> over both transports, and the port views
  const view = `execution:${x1}`;
  await s.subscribe(view);
  await w.subscribe(view);
  await w.subscribe(`port:${x1}:double:out:3`);
  await s.subscribe(`port:${x1}:acc:out:2`); // a port with no edge: nothing until a batch
  for (const v of [1, 2, 3, 4, 5]) await inject(x1, v);
  await inject(x2, 7);
  const want = await restExecution(x1);
  assert.deepEqual(want.nodes.acc.state, { buffer: [2, 4, 6, 8, 10] }, JSON.stringify(want));
  await until(() => eq(s.value(view), want) && eq(w.value(view), want), `${view} (Socket.IO and /ws) = REST`);
  assert.deepEqual(await fresh(view), want, 'a fresh subscribe gives the same value');
  await until(() => eq(w.value(`port:${x1}:double:out:3`), [6, 8, 10]), 'the port view keeps the last 3');
  assert.deepEqual(s.value(`port:${x1}:acc:out:2`), []);
  await until(async () => eq(w.value('executions'), await restExecutions()), 'executions view = REST at quiescence');
  assert.deepEqual(await fresh('executions'), w.value('executions'));
  assert.ok(w.stat(view).diffs >= 1 && w.stat(view).inits === 1, JSON.stringify(w.stat(view)));

  // since: a client that went away gets only what it missed
  const r = await open('ws', 'resume');
  await r.subscribe(view);
  await until(() => r.stat(view).live.ready && eq(r.value(view), want), 'resume client up to date');
  const last = r.seq(view);
  r.close();
  await inject(x1, 6);
  const want6 = await restExecution(x1);
  await until(() => eq(w.value(view), want6), 'watcher sees the 6th inject');
  const r2 = await open('sio', 'resumed');
  r2.views.set(view, { live: new V.LiveView(view), inits: 0, diffs: 0 });
  r2.views.get(view).live.init({ view, seq: last, value: r.value(view) }); // what it kept
  const a = await r2.call('view:subscribe', { view, since: last });
  assert.ok(!a.error, JSON.stringify(a));
  await until(() => eq(r2.value(view), want6), 'the resumed client catches up');
  await sleep(3 * INTERVAL);
  assert.equal(r2.stat(view).inits, 0, 'no init for a since the ring holds');
  assert.equal(r2.stat(view).diffs, 1, `only the missed diff: ${JSON.stringify(r2.log.map((e) => e.name))}`);
  // an up-to-date since: nothing at all
  const r3 = await open('ws', 'uptodate');
  r3.views.set(view, { live: new V.LiveView(view), inits: 0, diffs: 0 });
  r3.views.get(view).live.init({ view, seq: r2.seq(view), value: r2.value(view) });
  await r3.call('view:subscribe', { view, since: r2.seq(view) });
  await sleep(3 * INTERVAL);
  assert.equal(r3.log.length, 0, `nothing to send: ${JSON.stringify(r3.log)}`);
  // too old (--view-history 4: five changes later), and a seq of no instance: an init
  const old = r2.seq(view);
  r2.close();
  for (const v of [7, 8, 9, 10, 11]) {
    await inject(x1, v);
    const t = (await restExecution(x1)).tick;
    await until(() => w.value(view).tick === t, 'each change seen in its own round');
  }
  const r4 = await open('ws', 'too-old');
  await r4.subscribe(view, { since: old });
  await until(() => r4.stat(view).inits === 1, 'an init for a since beyond the ring');
  assert.deepEqual(r4.value(view), w.value(view));
  await r4.subscribe(`port:${x1}:double:out:3`, { since: 12345 });
  await until(() => r4.stat(`port:${x1}:double:out:3`).inits === 1, 'an init for a seq of no instance');
  assert.deepEqual(r4.value(`port:${x1}:double:out:3`), [18, 20, 22]);
  r4.close();
  r3.close();

  // atTick: one init from time travel, equal to GET /at/:tick, then nothing
  const at = await rest('GET', `/api/executions/${x1}/at/3`);
  assert.equal(at.status, 200, at.text);
  const atv = `execution:${x1}`;
  const t = await open('sio', 'at');
  t.views.set(atv, { live: new V.LiveView(atv), inits: 0, diffs: 0 });
  const ta = await t.call('view:subscribe', { view: atv, atTick: 3 });
  assert.ok(!ta.error, JSON.stringify(ta));
  const init = await until(() => t.stat(atv).atInit, 'the init at a tick');
  assert.equal(init.atTick, 3);
  assert.equal(init.seq, ta.seq);
  assert.equal(init.value.tick, at.json.tick);
  assert.equal(init.value.state, at.json.state);
  for (const [n, st] of Object.entries(at.json.nodes)) {
    assert.deepEqual(init.value.nodes[n].state, st, `node ${n} at tick 3`);
    assert.equal(init.value.nodes[n].invocations, at.json.metrics.nodes[n].invocations);
  }
  assert.deepEqual(init.value.nodes.acc.state, { buffer: [2, 4, 6] });
  assert.equal(init.value.metrics.messagesProcessed, at.json.metrics.messagesProcessed);
  await inject(x1, 12);
  await sleep(3 * INTERVAL);
  assert.equal(t.log.length, 1, `one init and no diffs at a tick: ${JSON.stringify(t.log.map((e) => e.name))}`);
  t.close();

  // unsubscribe: no more diffs
  const u = await s.call('view:unsubscribe', { view });
  assert.deepEqual(u, { view, unsubscribed: true });
  const n = s.stat(view).diffs;
  await inject(x1, 13);
  await until(async () => eq(w.value(view), await restExecution(x1)), 'the other subscriber still follows');
  assert.equal(s.stat(view).diffs, n, 'an unsubscribed view gets nothing');

  // a finished execution: the view shows its end and stays
  const stop = await rest('POST', `/api/executions/${x2}/stop`);
  assert.equal(stop.status, 200, stop.text);
  await until(() => w.value('executions')[1].state === 'cancelled', 'the executions view shows the stop');
  await errors(s, w, x1);
  s.close();
  w.close();
}

async function errors(s, w, x) {
  const cases = [
    [{ view: 'nope' }, 'WEIR_EINVAL', /the views are graphs, executions, execution:<executionId> and port:/],
    [{}, 'WEIR_EINVAL', /view:subscribe is/],
    [{ view: 'execution:no-such' }, 'WEIR_ENOTFOUND', /execution no-such not found/],
    [{ view: `port:${x}:double:out:0` }, 'WEIR_EINVAL', /from 1 to 1000/],
    [{ view: `port:${x}:double:out:1001` }, 'WEIR_EINVAL', /from 1 to 1000/],
    [{ view: `port:${x}:double` }, 'WEIR_EINVAL', /port:<executionId>:<nodeId>:<port>:<n>/],
    [{ view: `port:${x}:nosuch:out:3` }, 'WEIR_ENOTFOUND', /no node "nosuch"/],
    [{ view: `port:${x}:double:nosuch:3` }, 'WEIR_ENOTFOUND', /no output port "nosuch"/],
    [{ view: 'executions', atTick: 1 }, 'WEIR_EINVAL', /atTick opens an execution/],
    [{ view: `execution:${x}`, atTick: -1 }, 'WEIR_EINVAL', /atTick must be/],
    [{ view: `execution:${x}`, since: 'x' }, 'WEIR_EINVAL', /since must be/],
    [{ view: `execution:${x}`, atTick: 999 }, 'WEIR_ENOTFOUND', /newest tick/],
  ];
  for (const [data, code, re] of cases) {
    const a = await s.call('view:subscribe', data);
    assert.equal(a.code, code, `${JSON.stringify(data)}: ${JSON.stringify(a)}`);
    assert.match(a.error, re);
  }
  // /ws without an ack: an `error` event
  w.send('view:subscribe', { view: 'nope' });
  await until(() => w.errors.find((e) => e.code === 'WEIR_EINVAL' && /unknown view/.test(e.error)), '/ws error event');
}

/* ----------------------------------------------------- memory: no journal */

async function memoryMode() {
  const gid = await loadGraph(ACC);
  const x = await execute(gid);
  const s = await open('sio', 'sio', { sio: { transports: ['websocket'] } });
  const a = await s.call('view:subscribe', { view: `execution:${x}`, atTick: 0 });
  assert.equal(a.code, 'WEIR_ESTATE', JSON.stringify(a));
  assert.match(a.error, /keeps no journal/);
  // a finished, evicted execution: the list drops it; a watcher keeps its last value
  const view = `execution:${x}`;
  await s.subscribe(view);
  await s.subscribe('executions');
  await inject(x, 1);
  await rest('POST', `/api/executions/${x}/stop`);
  await until(() => s.value(view).state === 'cancelled' && s.value('executions')[0].state === 'cancelled', 'stopped');
  const final = await restExecution(x);
  await until(() => eq(s.value(view), final), 'the view shows the end');
  // MAX_FINISHED_HISTORY (1000) more finished executions evict it at the next start
  for (let i = 0; i < 1000; i += 20)
    await Promise.all(Array.from({ length: 20 }, async () => {
      const y = await execute(gid);
      await rest('POST', `/api/executions/${y}/stop`);
    }));
  await execute(gid);
  await until(async () => (await rest('GET', `/api/executions/${x}`)).status === 404, 'evicted');
  await until(() => !s.value('executions').some((r) => r.executionId === x), 'the list drops the evicted one');
  await until(async () => eq(s.value('executions'), await restExecutions()), 'executions view = REST');
  assert.deepEqual(s.value(view), final, 'the view keeps the final state');
  assert.deepEqual(await fresh(view), final, 'and a new subscriber gets it while the view is kept');
  // a node state that changes with no invocation of its own: a delay's
  // pending timers, cancelled by a stop
  const dg = await loadGraph({ symbia: '1.0', name: 'views-delay', nodes: [
    { id: 'in', component: 'symbia.core.passthrough' },
    { id: 'wait', component: 'symbia.core.delay', config: { delayMs: 600000 } }],
  edges: [{ source: { node: 'in', port: 'out' }, target: { node: 'wait', port: 'in' } }] });
  const d = await execute(dg);
  const dv = `execution:${d}`;
  await s.subscribe(dv);
  const ij = await rest('POST', `/api/executions/${d}/inject`, { nodeId: 'in', value: 1, wait: false });
  assert.equal(ij.status, 202, ij.text);
  await until(() => s.value(dv) && s.value(dv).nodes.wait.state.pending === 1, 'a pending timer');
  await rest('POST', `/api/executions/${d}/stop`);
  const stopped = await restExecution(d);
  assert.deepEqual(stopped.nodes.wait.state, { pending: 0 });
  assert.equal(stopped.nodes.wait.invocations, 1);
  await until(() => eq(s.value(dv), stopped), 'the stop shows, the cancelled timer too');
  s.close();
}

/* --------------------------------------------------- throttle and slow */

async function throttleMode() {
  const gid = await loadGraph(fanGraph(12));
  const x = await execute(gid);
  const view = `execution:${x}`;
  const s = await open('sio', 'sio', { sio: { transports: ['websocket'] } });
  const w = await open('ws', 'ws');
  await s.subscribe(view);
  await w.subscribe(view);
  await w.subscribe(`port:${x}:in:out:5`);
  const t0 = Date.now();
  const sent = await flatOut(x, 1500);
  const secs = (Date.now() - t0) / 1000;
  const want = await restExecution(x);
  assert.equal(want.metrics.messagesProcessed, sent * (1 + 12 + 144), 'every hop ran');
  await until(() => eq(s.value(view), want) && eq(w.value(view), want), 'both end with the right value');
  for (const c of [s, w]) {
    const diffs = c.log.filter((e) => e.name === 'view:diff' && e.data.view === view);
    const span = (diffs.at(-1).at - t0) / 1000 + INTERVAL / 1000;
    const limit = (1000 / INTERVAL) * Math.max(span, secs) * 1.25 + 3;
    console.log(`${c.label}: ${diffs.length} diffs in ${span.toFixed(2)} s for ${sent} injects (limit ${limit.toFixed(0)})`);
    assert.ok(diffs.length >= 5, `${c.label}: diffs while it ran (${diffs.length})`);
    assert.ok(diffs.length <= limit, `${c.label}: ${diffs.length} diffs over ${span} s: more than one per ${INTERVAL} ms`);
    // at most one diff per interval, give or take the timer's jitter
    let close = 0;
    for (let i = 1; i < diffs.length; i++) if (diffs[i].at - diffs[i - 1].at < INTERVAL / 2) close++;
    assert.ok(close <= diffs.length / 3, `${c.label}: ${close} diffs came within ${INTERVAL / 2} ms of the one before`);
  }
  const lastIn = [sent - 4, sent - 3, sent - 2, sent - 1, sent];
  await until(() => eq(w.value(`port:${x}:in:out:5`), lastIn), 'the port view ends with the last 5 injected');
  s.close();
  w.close();
}

// A subscriber that stops reading while a big view (the last 1000 values of
// a port, 1 KB each: about 1 MB) changes every round: the server holds its
// diffs back once its backlog passes the bound, so what is queued for it
// stays near the view's size, not rounds x view size; when it reads again it
// gets one message and ends with the right value.
async function slowMode() {
  const gid = await loadGraph(fanGraph(4));
  const x = await execute(gid);
  const big = `port:${x}:in:out:1000`, view = `execution:${x}`;
  for (const kind of ['ws', 'sio']) {
    const c = await open(kind, `slow-${kind}`, { sio: { transports: ['websocket'] } });
    const fast = await open('ws', 'fast');
    await c.subscribe(big);
    await c.subscribe(view);
    await fast.subscribe(view);
    await until(() => c.stat(big).live.ready && c.stat(view).live.ready && fast.stat(view).live.ready, 'inits');
    const held0 = await metric('weir_view_held_total');
    const bytes0 = await metric('weir_view_bytes_total');
    const fast0 = fast.bytes;
    c.raw().pause(); // stops reading: the kernel's buffers fill, then the server's queue
    const mark = c.log.length;
    const pad = 'v'.repeat(1000);
    let i = 0;
    const t0 = Date.now();
    // at least 2.5 s, and until the server held it back (the kernel's
    // buffers take a few MB first: a slow machine needs longer)
    const stop = { now: false };
    const running = flatOut(x, 0, 16, () => `${pad}${++i}`, stop);
    let held = 0;
    while (Date.now() - t0 < 2500 || (held === 0 && Date.now() - t0 < 30000)) {
      await sleep(100);
      held = (await metric('weir_view_held_total')) - held0;
    }
    stop.now = true;
    const sent = await running;
    const secs = (Date.now() - t0) / 1000;
    held = (await metric('weir_view_held_total')) - held0;
    const fastDiffs = fast.stat(view).diffs;
    const queued = (await metric('weir_view_bytes_total')) - bytes0 - (fast.bytes - fast0);
    c.raw().resume();
    const want = await restExecution(x);
    const last = Array.from({ length: 1000 }, (_, k) => `${pad}${i - 999 + k}`);
    await until(() => eq(c.value(view), want) && eq(c.value(big), last), `${c.label} ends with the right values`, 20000);
    const bytesAfter = c.log.slice(mark).reduce((t, e) => t + e.bytes, 0);
    const size = JSON.stringify(last).length;
    const r = { kind, sent, secs, held, fastDiffs, queued, bytesAfter, size };
    console.log(`${c.label}: ${JSON.stringify(r)}`);
    assert.ok(sent > 1000, `the execution ran flat out meanwhile (${sent} injects)`);
    assert.ok(held > 0, `${c.label}: the server held diffs back while it did not read (${held})`);
    // Sent one diff of ~the view's size every round, it would have been
    // queued secs x 20 x size bytes (about 50 MB here); bounded, it is what
    // the kernel took before the backlog showed (a few MB on loopback: its
    // buffers do not grow for a reader that does not read),
    // VIEW_BACKLOG_BYTES and a message or two of at most twice the view.
    assert.ok(queued < 12 * size, `${c.label}: ${queued} bytes were queued for it (the view is ${size})`);
    assert.ok(fastDiffs > 10, `a reader meanwhile got its diffs (${fastDiffs})`);
    c.close();
    fast.close();
  }
}

// With auth, views are behind the same credentials as execution:subscribe:
// the socket's (Socket.IO auth.token, /ws X-API-Key or ?token=).
async function authMode() {
  const key = { 'x-api-key': 'k-views' };
  const g = await rest('POST', '/api/graphs', ACC, key);
  assert.equal(g.status, 201, g.text);
  const no = io(base, { forceNew: true, reconnection: false, transports: ['websocket'] });
  const refused = await deadline(new Promise((r) => { no.on('connect_error', (e) => r(e)); no.on('connect', () => r(null)); }), 5000, 'refused');
  assert.ok(refused && /authentication required/.test(refused.message), String(refused && refused.message));
  no.close();
  const bare = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const status = await deadline(new Promise((r) => { bare.on('unexpected-response', (_, res) => r(res.statusCode)); bare.on('open', () => r(101)); }), 5000, 'ws refused');
  assert.equal(status, 401);
  const s = await open('sio', 'sio', { sio: { transports: ['websocket'], auth: { token: 'k-views' } } });
  await s.subscribe('graphs');
  await until(() => s.stat('graphs').live.ready && s.value('graphs').length === 1, 'graphs with credentials');
  s.close();
  const w = new WebSocket(`ws://127.0.0.1:${port}/ws?token=k-views`);
  await deadline(new Promise((r, j) => { w.on('open', r); w.on('error', j); }), 5000, 'ws with a token');
  w.close();
}

run(async () => {
  V = await import(pathToFileURL(path.join(SRC, 'src', 'web', 'views.js')).href);
  if (MODE === 'main') await mainMode();
  else if (MODE === 'memory') await memoryMode();
  else if (MODE === 'throttle') await throttleMode();
  else if (MODE === 'slow') await slowMode();
  else if (MODE === 'auth') await authMode();
  else throw new Error(`unknown mode ${MODE}`);
});
