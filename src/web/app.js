// The dashboard (SPEC §8): live lists of graphs and executions from the
// `graphs` and `executions` views, one execution at a time in detail (its
// `execution:<id>` view, its graph drawn by graph.js, its hops, outputs,
// logs and errors from execution:subscribe), the controls of the REST API,
// and time travel over a stored execution's ticks.
//
// Work per event is an array push: hops and feed events are handed over
// once per animation frame (batcher.js), views redraw at most once per
// frame, so the page keeps its frame rate however fast events come.
import { Api, ApiError } from './api.js';
import { FrameBatcher, FrameCoalescer, Throttle, sortBatch } from './batcher.js';
import { $, clear, h, num, setAttr, setDisabled, setHidden, setText } from './dom.js';
import { Feed, HopRing, chainText, compact, explain } from './feed.js';
import { createGraphView } from './graph.js';
import { describe, parseJson, parseJsonObject } from './jsonfield.js';
import { KeyStore, socketUrl } from './keystore.js';
import { KeyedRows, executionCells, graphCells, newestFirst, shortId } from './lists.js';
import { EventSocket } from './socket.js';
import { nodeRows, sliderRange, viewAtTick } from './travel.js';

const FEED_SHOWN = 100; // entries drawn per list (the feed keeps more)
const FEED_REDRAW_MS = 200;
const TRACES_KEPT = 50;
// Kinds asked for always; the busy ones (outputs, logs, hops) while the
// page keeps up with them.
const EVENTS_BASE = ['execution:*', 'component:error', 'message:dropped', 'runtime:changed', 'time:advanced'];
const EVENTS_BUSY = ['output', 'log'];

const raf = (fn) => requestAnimationFrame(fn);
let storage = null;
try { storage = window.sessionStorage; } catch { /* refused: the key lives as long as the page */ }
const keys = new KeyStore(storage);
const api = new Api({ fetch: (...a) => fetch(...a), keys, askKey });
// The server sends at most EVENT_RATE busy events a second of the execution
// watched (more than a page can draw); it counts the rest (events:skipped).
// It sends them in batches (`events`, every EVENT_BATCH_MS at most): one
// message for the page to take in per batch, not one per event.
const EVENT_RATE = 3000;
const socket = new EventSocket({ url: () => socketUrl(location, keys.get()), onStatus: connStatus, eventRate: EVENT_RATE, batch: true });

const components = new Map(); // component id -> descriptor
const graphCache = new Map(); // graph id -> GET /api/graphs/:id body (a promise)
let graphsView = null, execsView = null;
let sel = null; // the execution shown

// --------------------------------------------------------------- the key

let keyResolve = null;
function askKey(reason) {
  const dlg = $('#key-dialog');
  setText($('#key-reason'), reason);
  setText($('#key-error'), '');
  $('#key-input').value = '';
  if (!dlg.open) dlg.showModal();
  $('#key-input').focus();
  return new Promise((resolve) => {
    if (keyResolve) keyResolve(null);
    keyResolve = resolve;
  });
}

function keyDone(key) {
  const r = keyResolve;
  keyResolve = null;
  const dlg = $('#key-dialog');
  if (dlg.open) dlg.close();
  if (r) r(key);
}

$('#key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  try {
    const key = keys.set($('#key-input').value);
    keyDone(key);
  } catch (err) {
    setText($('#key-error'), err.message);
  }
});
$('#key-cancel').addEventListener('click', () => keyDone(null));
$('#key-forget').addEventListener('click', () => {
  keys.clear();
  keyDone(null);
});
$('#key-dialog').addEventListener('cancel', () => keyDone(null));
$('#key-button').addEventListener('click', () => {
  askKey(keys.get() ? 'A key is set for this tab. Enter another, or forget it.' : 'Enter the API key (or JWT) to send.');
});
keys.onChange(() => socket.reconnect());

// ------------------------------------------------------------ connection

let refusedOpens = 0;
function connStatus(status, info) {
  const el = $('#conn');
  el.dataset.status = status;
  if (status === 'open') {
    refusedOpens = 0;
    setText(el, 'live');
  } else if (status === 'connecting') {
    setText(el, 'connecting…');
  } else {
    setText(el, 'disconnected: retrying');
    // a socket refused at the handshake may want a key: ask the API, whose
    // 401 opens the prompt (a browser does not show the socket's status)
    if (!info.opened && ++refusedOpens === 2) api.get('/api/stats').catch(() => {});
  }
}

// ----------------------------------------------------------------- lists

const graphRows = new KeyedRows((g) => g.id);
const execRows = new KeyedRows((x) => x.executionId);

function renderGraphs() {
  const list = (graphsView && graphsView.value) || [];
  const tbody = $('#graphs tbody');
  syncRows(graphRows, tbody, list, graphRow, fillGraphRow);
  setHidden($('#graphs-empty'), list.length > 0);
  setText($('#graphs-count'), list.length ? `(${list.length})` : '');
  // the execute form's choice of graph
  const select = $('#exec-graph');
  const was = select.value;
  const want = list.map((g) => g.id).join('\n');
  if (select.dataset.ids !== want) {
    select.dataset.ids = want;
    clear(select);
    for (const g of list) select.append(h('option', { value: g.id }, `${g.name || shortId(g.id)} (${shortId(g.id)})`));
    if (list.some((g) => g.id === was)) select.value = was;
    else if (list.length) select.value = list[list.length - 1].id;
  }
}

function graphRow(g) {
  const tr = h('tr', { 'data-graph-id': g.id },
    h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => chooseGraph(g.id) })),
    h('td'), h('td', { class: 'n' }), h('td', { class: 'n' }));
  fillGraphRow(tr, g);
  return tr;
}

function fillGraphRow(tr, g) {
  const c = graphCells(g);
  setText(tr.cells[0].firstChild, c.name);
  setAttr(tr.cells[0].firstChild, 'aria-label', `Execute ${c.name}`);
  setText(tr.cells[1], c.version);
  setText(tr.cells[2], num(c.nodes));
  setText(tr.cells[3], num(c.edges));
}

function chooseGraph(id) {
  $('#exec-graph').value = id;
  $('#exec-runtime').focus();
}

function renderExecutions() {
  const list = (execsView && execsView.value) || [];
  syncRows(execRows, $('#executions tbody'), newestFirst(list), execRow, fillExecRow);
  setHidden($('#execs-empty'), list.length > 0);
  setText($('#execs-count'), list.length ? `(${list.length})` : '');
}

function execRow(x) {
  const open = () => select(x.executionId);
  // roles: the list is drawn as grids, not as a table (style.css)
  const tr = h('tr', { 'data-execution-id': x.executionId, role: 'row' },
    h('td', { role: 'cell' }, h('button', { type: 'button', class: 'link mono', onclick: open })),
    h('td', { role: 'cell' }, h('span'), h('span', { class: 'sub' })), h('td', { role: 'cell' }),
    h('td', { class: 'n', role: 'cell' }), h('td', { class: 'n', role: 'cell' }), h('td', { class: 'n', role: 'cell' }));
  fillExecRow(tr, x);
  return tr;
}

function fillExecRow(tr, x) {
  const c = executionCells(x);
  const b = tr.cells[0].firstChild;
  setText(b, c.shortId);
  setAttr(b, 'aria-label', `Open execution ${c.id}`);
  setText(tr.cells[1].firstChild, c.graph);
  setText(tr.cells[1].lastChild, c.runtime + (c.stored ? ' · stored' : ''));
  setText(tr.cells[2], c.state);
  setAttr(tr.cells[2], 'data-state', c.state);
  setText(tr.cells[3], num(c.tick));
  setText(tr.cells[4], num(c.processed));
  setText(tr.cells[5], num(c.errors));
  if (sel && sel.id === c.id) setAttr(tr, 'aria-current', 'true');
  else if (tr.hasAttribute('aria-current')) tr.removeAttribute('aria-current');
}

// Rows of tbody made to match items (display order), touching only the
// rows whose item changed.
function syncRows(rows, tbody, items, make, fill) {
  const r = rows.reconcile(items);
  if (r.added.length === 0 && r.changed.length === 0 && r.removed.length === 0 && !r.moved) return;
  for (const key of r.removed) {
    const tr = rows.row(key);
    if (tr) tr.remove();
  }
  rows.commit(r, items, make, fill);
  // place rows in order: new ones go where they belong; existing ones stay
  // unless the order changed
  let prev = null;
  for (const key of r.order) {
    const tr = rows.row(key);
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (tr !== want) tbody.insertBefore(tr, want);
    prev = tr;
  }
}

const listsRedraw = new FrameCoalescer(() => {
  renderGraphs();
  renderExecutions();
}, raf);

// ------------------------------------------------------ one execution

const hopBatcher = new FrameBatcher({
  schedule: raf,
  onFlush: (batch) => {
    if (sel && sel.gv && sel.atTick === null && $('#animate').checked) sel.gv.hops(batch, sample.scale);
  },
});

// The server sends at most EVENT_RATE busy events a second and counts the
// rest (events:skipped): each hop the page is sent then stands for
// (sent + skipped) / sent hops, so busy edges show their real rates.
const sample = { sent: 0, skipped: 0, scale: 1, since: 0 };
function sampleTick(now) {
  if (now - sample.since < 1000) return;
  sample.scale = sample.skipped > 0 && sample.sent > 0 ? (sample.sent + sample.skipped) / sample.sent : 1;
  sample.sent = sample.skipped = 0;
  sample.since = now;
}

const feedBatcher = new FrameBatcher({
  schedule: raf,
  cap: 5000,
  onFlush: (items) => {
    if (!sel) return;
    sel.feed.addAll(items);
    feedRedraw();
  },
});

const FEED_EVENTS = new Set(['output', 'log', 'component:error', 'execution:failed', 'message:dropped']);
const BUSY_EVENTS = new Set(['port:emit', 'output', 'log']);

// A batch of the execution's events (the socket asks for batches): sorted
// in one pass and handed to the frame batchers in one call each, with the
// same rules as one event at a time below.
socket.on('events', (d) => {
  if (!sel || d.executionId !== sel.id) return;
  const b = sortBatch(d.events, FEED_EVENTS, BUSY_EVENTS);
  sample.sent += b.busy;
  sample.skipped += b.skipped;
  let busyOff = hopsOff; // queued before the page asked for no more
  if (b.busy && !busyOff && (hopBatcher.waiting >= BUSY_PER_FRAME || feedBatcher.waiting >= BUSY_PER_FRAME)) {
    hopsTooFast(true);
    busyOff = true;
  }
  if (!busyOff && b.hops.length) {
    for (let i = 0; i < b.hops.length; i++) sel.ring.push(b.hops[i]);
    hopBatcher.pushAll(b.hops);
  }
  feedBatcher.pushAll(busyOff ? b.feed.filter((it) => !BUSY_EVENTS.has(it.event)) : b.feed);
});

socket.on('*', (data, event) => {
  if (!sel || !data || data.executionId !== sel.id) return;
  const busy = event === 'port:emit' || event === 'output' || event === 'log';
  if (busy) sample.sent++;
  if (busy) {
    if (hopsOff) return; // queued before the page asked for no more
    if (hopBatcher.waiting >= BUSY_PER_FRAME || feedBatcher.waiting >= BUSY_PER_FRAME) return hopsTooFast(true);
  }
  if (event === 'port:emit') {
    sel.ring.push(data);
    hopBatcher.push(data);
  } else if (FEED_EVENTS.has(event)) {
    feedBatcher.push({ event, data });
  }
});

async function graphOf(id) {
  if (!graphCache.has(id)) {
    const p = api.get(`/api/graphs/${encodeURIComponent(id)}`);
    graphCache.set(id, p);
    p.catch(() => graphCache.delete(id));
  }
  return graphCache.get(id);
}

function select(id) {
  if (sel && sel.id === id) return;
  deselect();
  const live = socket.view(`execution:${id}`);
  sel = {
    id, live, graph: null, gv: null, atTick: null, atValue: null, atSeq: 0,
    feed: new Feed(), ring: new HopRing(), traces: new Map(), graphId: null,
    offView: null, dragging: false, liveCache: new Map(), atCache: new Map(),
  };
  hopBatcher.reset();
  feedBatcher.reset();
  sel.offView = live.onChange(liveChanged);
  socket.watch(id, eventKinds()).catch((err) => showAnswer('subscribe', err));
  if (location.hash !== `#x=${id}`) history.replaceState(null, '', `#x=${id}`);
  $('#detail-empty').hidden = true;
  $('#detail-body').hidden = false;
  setText($('#detail-h'), `Execution ${shortId(id)}`);
  setText($('#travel-note'), '');
  $('#slider').value = $('#slider').max;
  $('#detail-h').title = id;
  clear($('#outputs'));
  clear($('#logs'));
  clear($('#errors'));
  $('#explain').hidden = true;
  setText($('#answer'), '');
  const known = ((execsView && execsView.value) || []).find((x) => x.executionId === id);
  if (known) loadGraph(known.graphId);
  if (live.ready) detailRedraw.poke();
  listsRedraw.poke();
  execRows.rows.forEach((r, key) => {
    if (key === id) r.row.setAttribute('aria-current', 'true');
    else r.row.removeAttribute('aria-current');
  });
}

// The live value changes up to 1000 / VIEW_INTERVAL_MS times a second; its
// facts, node table and drawing are redrawn at most every LIVE_REDRAW_MS
// (the first change at once): 200 rows of counters laid out again 20 times
// a second cost frames and tell no more.
const LIVE_REDRAW_MS = 250;
const liveThrottle = new Throttle(() => detailRedraw.poke(), LIVE_REDRAW_MS);
const liveChanged = () => liveThrottle.poke();

// The lists the same: the executions view changes with the counters of
// every running execution, each up to 1000 / VIEW_INTERVAL_MS times a
// second; a row that changed is laid out and painted again with its
// thousand neighbours' scroller.
const listsThrottle = new Throttle(() => listsRedraw.poke(), LIVE_REDRAW_MS);
const listsChanged = () => listsThrottle.poke();

function deselect() {
  if (!sel) return;
  liveThrottle.cancel();
  hopsBack(true);
  socket.unwatch(sel.id);
  if (sel.offView) sel.offView();
  socket.release(`execution:${sel.id}`);
  if (sel.gv) sel.gv.destroy();
  clear($('#graph'));
  clear($('#nodes tbody'));
  nodeTable.rows.clear();
  nodeTable.order = [];
  sel = null;
}

// Hops (while "Animate hops" is on), outputs and logs are asked for at any
// rate of the execution's: the server sends at most EVENT_RATE of them a
// second and counts the rest (each hop then stands for the hops passed
// over: busy edges show their real rates), so the page's work is bounded
// by EVENT_RATE, not by the hop rate.  As a last resort, should they still
// come faster than the page reads them: a browser queues every message it reads for
// the page's one thread without bound and ahead of the page's own timers,
// so a page that falls behind is not slowed down: it stops answering.  So
// when more than BUSY_PER_FRAME of them come between two frames, the page
// closes its socket (what the browser queued on it is never delivered) and
// connects again without them: the counters of its views go on.  The same
// when the server cuts it off (SUBSCRIBER_BACKLOG_BYTES behind).  It asks
// for them again after a while, waiting longer each time.
const HOPS_RETRY_MS = 5000, HOPS_RETRY_MAX_MS = 60000, BUSY_PER_FRAME = 500;
let hopsOff = false, hopsRetryMs = HOPS_RETRY_MS, hopsTimer = null;

function eventKinds() {
  if (hopsOff) return EVENTS_BASE;
  return $('#animate').checked ? [...EVENTS_BASE, ...EVENTS_BUSY, 'port:emit'] : [...EVENTS_BASE, ...EVENTS_BUSY];
}

function rewatch() {
  if (sel) socket.watch(sel.id, eventKinds()).catch((err) => showAnswer('subscribe', err));
}

function hopsBack(reset) {
  clearTimeout(hopsTimer);
  hopsTimer = null;
  hopsOff = false;
  if (reset) hopsRetryMs = HOPS_RETRY_MS;
}

$('#animate').addEventListener('change', () => {
  hopsBack(true);
  rewatch();
});

socket.on('events:skipped', (d) => {
  if (!sel || !d || d.executionId !== sel.id) return;
  sample.skipped += d.count || 0;
});

socket.on('subscription:cut', (d) => {
  if (!sel || !d || d.executionId !== sel.id) return;
  if (hopsOff) rewatch(); // cut with what it asked for now: subscribe again
  else hopsTooFast();
});

function hopsTooFast(behind) {
  if (hopsOff) return;
  hopsOff = true;
  hopBatcher.reset();
  if (behind && sel) {
    socket.setWatchEvents(sel.id, eventKinds());
    socket.reconnect();
  } else {
    rewatch();
  }
  const secs = Math.round(hopsRetryMs / 1000);
  setText($('#rate'), `events too fast to show: counters only, events again in ${secs} s`);
  clearTimeout(hopsTimer);
  hopsTimer = setTimeout(() => {
    hopsBack(false);
    rewatch();
  }, hopsRetryMs);
  hopsRetryMs = Math.min(HOPS_RETRY_MAX_MS, hopsRetryMs * 2);
}

async function loadGraph(graphId) {
  if (!sel || !graphId || sel.graphId === graphId) return;
  const mine = sel;
  mine.graphId = graphId;
  let graph;
  try {
    graph = await graphOf(graphId);
  } catch (err) {
    mine.graphId = null;
    showAnswer('graph', err);
    return;
  }
  if (sel !== mine) return;
  mine.graph = graph;
  mine.gv = createGraphView($('#graph'), { graph, onSelectNode: (nodeId) => chooseNode(nodeId) });
  fillInjectNodes(graph);
  detailRedraw.poke();
}

// The inject form's nodes (as declared: a graph node is one, the server
// maps an inject into it to the inner port) and their input ports (from
// the components; a graph node's from its mapping).  Nodes no edge enters
// come first.
function fillInjectNodes(graph) {
  const select = $('#inject-node');
  clear(select);
  const def = graph.definition || {};
  const nodes = def.nodes || [];
  const entered = new Set((def.edges || []).map((e) => e && e.target && e.target.node));
  const ordered = [...nodes].sort((a, b) => (entered.has(a.id) ? 1 : 0) - (entered.has(b.id) ? 1 : 0));
  for (const n of ordered) {
    const sub = subgraphOf(n.id);
    select.append(h('option', { value: n.id }, sub ? `${n.id} (subgraph ${sub.name}${sub.version ? `@${sub.version}` : ''})` : n.id));
  }
  fillInjectPorts();
}

const subgraphOf = (nodeId) => ((sel && sel.graph && sel.graph.subgraphs) || []).find((s) => s.path === nodeId);

function nodePorts(nodeId) {
  const sub = subgraphOf(nodeId);
  if (sub) return Object.keys(sub.inputs || {});
  const nodes = (sel && sel.graph && sel.graph.definition && sel.graph.definition.nodes) || [];
  const n = nodes.find((x) => x.id === nodeId);
  const comp = n && components.get(n.component);
  const ports = comp && comp.ports && Array.isArray(comp.ports.inputs) ? comp.ports.inputs.map((p) => p.name) : [];
  return ports;
}

function fillInjectPorts() {
  const select = $('#inject-port');
  clear(select);
  const ports = nodePorts($('#inject-node').value);
  if (ports.length === 0) select.append(h('option', { value: '' }, '(default)'));
  for (const p of ports) select.append(h('option', { value: p }, p));
}

$('#inject-node').addEventListener('change', fillInjectPorts);

function chooseNode(nodeId) {
  const select = $('#inject-node');
  if ([...select.options].some((o) => o.value === nodeId)) {
    select.value = nodeId;
    fillInjectPorts();
  }
}

// What the detail shows: the live value, or the one at the slider's tick.
function shownValue() {
  if (!sel) return null;
  if (sel.atTick !== null && sel.atValue) return sel.atValue;
  return sel.live.ready ? sel.live.value : null;
}

const nodeTable = new KeyedRows((n) => n.id);

const detailRedraw = new FrameCoalescer(() => {
  if (!sel) return;
  const live = sel.live.ready ? sel.live.value : null;
  if (live && !sel.graphId) loadGraph(live.graphId);
  const v = shownValue();
  if (!v) return;
  if (sel.gv) sel.gv.update(v);
  renderFacts(live || v);
  renderNodes(v);
  renderControls(live || v);
  renderTravel(live);
}, raf);

function renderFacts(x) {
  const m = x.metrics || {};
  const facts = [
    ['State', x.state], ['Runtime', x.runtime], ['Tick', num(x.tick ?? 0)],
    ['Processed', num(m.messagesProcessed ?? 0)], ['Emitted', num(m.messagesEmitted ?? 0)],
    ['Errors', num(m.errorCount ?? 0)], ['Queue', num(m.queueDepth ?? 0)], ['Pending effects', num(m.pendingEffects ?? 0)],
    ['Stored', x.stored ? 'yes' : 'no'],
  ];
  const dl = $('#facts');
  if (dl.children.length !== facts.length) {
    clear(dl);
    for (const [k] of facts) dl.append(h('div', {}, h('dt', {}, k), h('dd', { 'data-fact': k.toLowerCase().replace(/ /g, '-') })));
  }
  facts.forEach(([, v], i) => setText(dl.children[i].lastChild, v ?? ''));
}

function renderNodes(v) {
  const order = sel.graph && sel.graph.topology && Array.isArray(sel.graph.topology.sorted) ? sel.graph.topology.sorted : [];
  const rows = nodeRows(v, order, sel.atTick !== null ? sel.atCache : sel.liveCache);
  syncRows(nodeTable, $('#nodes tbody'), rows, nodeRow, fillNodeRow);
  setText($('#nodes-at'), sel.atTick !== null ? `at tick ${sel.atTick}` : 'live');
}

function nodeRow(n) {
  const tr = h('tr', { 'data-node': n.id, role: 'row' }, h('th', { scope: 'row', role: 'rowheader' }, n.id),
    h('td', { class: 'n', role: 'cell' }), h('td', { class: 'n', role: 'cell' }), h('td', { class: 'n', role: 'cell' }), h('td', { class: 'mono state', role: 'cell' }));
  fillNodeRow(tr, n);
  return tr;
}

// A node row's cells; its item is rebuilt on every redraw, so compare the
// node object itself (shared by views.js while it is unchanged).
function fillNodeRow(tr, n) {
  setText(tr.cells[1], num(n.invocations ?? 0));
  setText(tr.cells[2], num(n.emitted ?? 0));
  setText(tr.cells[3], num(n.errors ?? 0));
  const st = compact(n.state ?? {}, 160);
  setText(tr.cells[4], st);
  setAttr(tr.cells[4], 'title', st);
}

function renderControls(x) {
  const running = x.state === 'running', paused = x.state === 'paused';
  const finished = !running && !paused;
  setDisabled($('#pause'), !running);
  setDisabled($('#resume'), !paused);
  setDisabled($('#stop'), finished);
  setDisabled($('#inject'), finished);
  setDisabled($('#switch-runtime'), finished);
  const rs = $('#runtime-select');
  if (document.activeElement !== rs && rs.dataset.shown !== x.runtime) {
    rs.dataset.shown = x.runtime;
    rs.value = x.runtime === 'virtual' ? 'realtime' : 'virtual';
  }
  setHidden($('#virtual-controls'), x.runtime !== 'virtual');
  setHidden($('#inject-later'), x.runtime !== 'virtual');
  for (const id of ['tick', 'advance', 'run', 'step']) setDisabled($(`#${id}`), finished);
}

function renderTravel(live) {
  const range = sliderRange(live);
  setHidden($('#travel'), !range);
  if (!range) return;
  const slider = $('#slider');
  if (String(range.max) !== slider.max) slider.max = String(range.max);
  setText($('#slider-max'), num(range.max));
  if (sel.atTick === null && !sel.dragging) {
    slider.value = String(range.max);
    setText($('#slider-tick'), `${range.max} (live)`);
  }
  setDisabled($('#live'), sel.atTick === null);
  setDisabled($('#fork'), false);
}

// ------------------------------------------------------------ the feed

let feedShown = -1;
const feedThrottle = new Throttle(() => raf(renderFeed), FEED_REDRAW_MS);
const feedRedraw = () => feedThrottle.poke();

function renderFeed() {
  if (!sel || sel.feed.version === feedShown) return;
  feedShown = sel.feed.version;
  const outs = [], logs = [], errs = [];
  for (const e of sel.feed.entries) {
    if (e.kind === 'output' && outs.length < FEED_SHOWN) outs.push(e);
    else if (e.kind === 'log' && logs.length < FEED_SHOWN) logs.push(e);
    else if (e.kind === 'error' && errs.length < FEED_SHOWN) errs.push(e);
  }
  fillFeed($('#outputs'), outs, (e) => [
    h('span', { class: 'tick' }, `tick ${e.tick ?? '?'}`), ' ',
    h('span', { class: 'where' }, `${e.nodeId}:${e.port}`), ' ',
    h('code', { class: 'value' }, compact(e.value, 200)), ' ',
    h('button', { type: 'button', class: 'quiet small', onclick: () => showExplain(e), 'aria-label': `Explain the output of tick ${e.tick}` }, 'explain'),
  ]);
  fillFeed($('#logs'), logs, (e) => [
    h('span', { class: 'tick' }, `tick ${e.tick ?? '?'}`), ' ',
    h('span', { class: `level ${e.level}` }, e.level), ' ',
    h('span', { class: 'where' }, e.nodeId || ''), ' ', e.message,
  ]);
  fillFeed($('#errors'), errs, (e) => [
    h('span', { class: 'tick' }, `tick ${e.tick ?? '?'}`), ' ',
    h('span', { class: 'where' }, e.nodeId || ''), ' ', e.message,
  ]);
}

// Newest first: new entries are prepended, the oldest beyond the shown
// count dropped; entries already drawn are kept as they are.
function fillFeed(ol, entries, cells) {
  const have = new Map();
  for (const li of ol.children) have.set(Number(li.dataset.id), li);
  const want = new Set(entries.map((e) => e.id));
  for (const [id, li] of have) if (!want.has(id)) li.remove();
  let next = ol.firstChild;
  for (const e of entries) {
    let li = have.get(e.id);
    if (!li) {
      li = h('li', { 'data-id': e.id, 'data-kind': e.kind }, ...cells(e));
      ol.insertBefore(li, next);
    } else if (li !== next) {
      ol.insertBefore(li, next);
    }
    next = li.nextSibling;
  }
}

function showExplain(entry) {
  const r = explain(entry, sel.traces, sel.ring);
  const pre = $('#explain');
  pre.hidden = false;
  if (!r.source) {
    setText(pre, `No hops to explain tick ${entry.tick} from: inject from this page (it asks for a trace) or keep "Animate hops" on while it runs.`);
    return;
  }
  const lines = chainText(r.chain);
  setText(pre, `${entry.nodeId}:${entry.port} = ${compact(entry.value, 200)} at tick ${entry.tick}, from ${r.source === 'trace' ? 'the inject\'s trace' : 'the hops seen'}:\n${lines.join('\n')}`);
}

// ------------------------------------------------------------ controls

function showAnswer(what, result) {
  const pre = $('#answer');
  pre.dataset.ok = result instanceof Error ? 'false' : 'true';
  if (result instanceof Error) {
    setText(pre, `${what}: ${result instanceof ApiError ? `${result.status} ${result.reason}` : result.message}`);
    return;
  }
  setText(pre, `${what}: ${summarize(what, result)}`);
}

function summarize(what, r) {
  if (!r || typeof r !== 'object') return compact(r, 400);
  if (what === 'inject' && r.scheduled) return `scheduled for tick ${r.atTick} (now ${r.tick}): tick or step to deliver it`;
  if (what === 'step' && Array.isArray(r.steps))
    return `${r.steps.length} invocation(s): ${r.steps.map((s) => `${s.nodeId}${s.port ? `:${s.port}` : ''}`).join(', ') || 'none'}; tick ${r.tick ?? '?'}${r.idle ? ', idle' : ''}`;
  if (what === 'run') return `played ${r.played ?? 0} tick(s), stopped by ${r.stoppedBy ?? '?'}; tick ${r.tick ?? '?'}`;
  if (what === 'tick' || what === 'advance') return `tick ${r.tick ?? '?'}, time ${r.time ?? '?'} ms, ${r.pending ?? 0} pending`;
  if (what === 'inject') {
    const outs = r.outputs ? Object.entries(r.outputs).map(([k, v]) => `${k} = ${compact(v, 80)}`).join(', ') : '';
    const parts = [`tick ${r.tick ?? '?'}`, r.settled ? 'settled' : (r.waitsFor ? `waits for ${r.waitsFor}` : 'accepted')];
    if (typeof r.hops === 'number') parts.push(`${r.hops} hop(s)`);
    if (outs) parts.push(`outputs ${outs}`);
    if (r.error) parts.push(`error ${r.error.message || compact(r.error)}`);
    return parts.join(', ');
  }
  if (what === 'fork') return `execution ${r.executionId} from tick ${r.forkOf ? r.forkOf.atTick : '?'} on ${r.runtime}`;
  return compact(r, 400);
}

async function command(what, path, body) {
  if (!sel) return null;
  try {
    const r = await api.post(`/api/executions/${encodeURIComponent(sel.id)}/${path}`, body);
    showAnswer(what, r);
    return r;
  } catch (err) {
    showAnswer(what, err);
    return null;
  }
}

const intOf = (id, min) => {
  const n = Number($(id).value);
  return Number.isInteger(n) && n >= min ? n : null;
};

$('#pause').addEventListener('click', () => command('pause', 'pause'));
$('#resume').addEventListener('click', () => command('resume', 'resume'));
$('#stop').addEventListener('click', () => command('stop', 'stop'));
$('#switch-runtime').addEventListener('click', () => command('runtime', 'runtime', { runtime: $('#runtime-select').value }));
$('#tick').addEventListener('click', () => {
  const count = intOf('#tick-count', 1);
  if (count === null) return showAnswer('tick', new Error('ticks: a whole number from 1'));
  command('tick', 'tick', { count });
});
$('#advance').addEventListener('click', () => {
  const ms = intOf('#advance-ms', 0);
  if (ms === null) return showAnswer('advance', new Error('ms: a whole number from 0'));
  command('advance', 'advance', { ms });
});
$('#run').addEventListener('click', () => {
  const maxTicks = intOf('#run-max', 1);
  if (maxTicks === null) return showAnswer('run', new Error('max ticks: a whole number from 1'));
  command('run', 'run', { maxTicks });
});
$('#step').addEventListener('click', () => {
  const count = intOf('#step-count', 1);
  if (count === null) return showAnswer('step', new Error('invocations: a whole number from 1'));
  command('step', 'step', { count });
});

function fieldError(input, out, message) {
  setText(out, message);
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

$('#inject-value').addEventListener('input', () => {
  const r = parseJson($('#inject-value').value);
  fieldError($('#inject-value'), $('#inject-error'), r.ok ? '' : describe(r));
});

$('#inject-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('#inject-value');
  const r = parseJson(input.value);
  fieldError(input, $('#inject-error'), r.ok ? '' : describe(r));
  if (!r.ok) {
    input.focus();
    return;
  }
  const body = { nodeId: $('#inject-node').value, value: r.value, trace: true };
  const port = $('#inject-port').value;
  if (port) body.port = port;
  const live = sel && sel.live.value;
  if (live && live.runtime === 'virtual') {
    const after = intOf('#inject-after', 0);
    if (after === null) return fieldError($('#inject-after'), $('#inject-error'), 'after ticks: a whole number from 0');
    if (after > 0) {
      body.afterTicks = after; // scheduled: it answers at once, the steps show the wave
      delete body.trace;
    }
  }
  const mine = sel;
  const pre = $('#answer');
  pre.dataset.ok = 'true';
  setText(pre, `… inject into ${body.nodeId}: waiting for what it caused to settle`);
  const answer = await command('inject', 'inject', body);
  if (answer && mine && Array.isArray(answer.trace)) {
    mine.traces.set(answer.tick, answer.trace);
    if (mine.traces.size > TRACES_KEPT) mine.traces.delete(mine.traces.keys().next().value);
  }
});

$('#exec-options').addEventListener('input', () => {
  const r = parseJsonObject($('#exec-options').value, 'the options');
  fieldError($('#exec-options'), $('#exec-options-error'), r.ok ? '' : describe(r));
});

$('#execute-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const opts = $('#exec-options');
  const r = parseJsonObject(opts.value, 'the options');
  fieldError(opts, $('#exec-options-error'), r.ok ? '' : describe(r));
  if (!r.ok) {
    opts.focus();
    return;
  }
  const graphId = $('#exec-graph').value;
  if (!graphId) return fieldError(opts, $('#exec-options-error'), 'choose a graph first');
  try {
    const x = await api.post(`/api/graphs/${encodeURIComponent(graphId)}/execute`, { ...r.value, runtime: $('#exec-runtime').value });
    select(x.executionId);
    showAnswer('execute', x);
  } catch (err) {
    fieldError(opts, $('#exec-options-error'), err instanceof ApiError ? err.reason : err.message);
  }
});

// ---------------------------------------------------------- time travel

let atTimer = null;
$('#slider').addEventListener('input', () => {
  if (!sel) return;
  const tick = Number($('#slider').value);
  sel.atTick = tick;
  setText($('#slider-tick'), String(tick));
  clearTimeout(atTimer);
  atTimer = setTimeout(() => loadAt(tick), 60);
});
$('#slider').addEventListener('pointerdown', () => { if (sel) sel.dragging = true; });
$('#slider').addEventListener('pointerup', () => { if (sel) sel.dragging = false; });

async function loadAt(tick) {
  if (!sel) return;
  const mine = sel, seq = ++mine.atSeq;
  try {
    const at = await api.get(`/api/executions/${encodeURIComponent(mine.id)}/at/${tick}`);
    if (sel !== mine || seq !== mine.atSeq || mine.atTick === null) return;
    mine.atValue = viewAtTick(at, mine.live.value);
    setText($('#travel-note'), `showing every node's state at tick ${tick}`);
    detailRedraw.poke();
  } catch (err) {
    if (sel === mine && seq === mine.atSeq) setText($('#travel-note'), err instanceof ApiError ? err.reason : err.message);
  }
}

$('#live').addEventListener('click', () => {
  if (!sel) return;
  sel.atTick = null;
  sel.atValue = null;
  sel.atSeq++;
  setText($('#travel-note'), '');
  detailRedraw.poke();
});

$('#fork').addEventListener('click', async () => {
  if (!sel) return;
  const live = sel.live.value;
  const atTick = sel.atTick !== null ? sel.atTick : (live ? live.tick : 'latest');
  const r = await command('fork', 'fork', { atTick, runtime: 'virtual' });
  if (r && r.executionId) {
    select(r.executionId);
    showAnswer('fork', r);
  }
});

// ---------------------------------------------------------- components

const portList = (s) => s.split(',').map((x) => x.trim()).filter(Boolean).map((name) => ({ name }));

$('#component-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const out = $('#comp-answer');
  const id = $('#comp-id').value.trim();
  const def = {
    id, name: id, version: '1.0.0', category: 'user', description: `registered from the dashboard`,
    ports: { inputs: portList($('#comp-inputs').value), outputs: portList($('#comp-outputs').value) },
    execution: { type: 'javascript', entrypoint: 'handler', source: $('#comp-source').value },
  };
  out.dataset.ok = 'true';
  setText(out, 'registering…');
  try {
    const r = await api.post('/api/components', def);
    components.set(r.id || id, r);
    setText(out, `registered ${r.id || id} ${r.version || ''}`);
  } catch (err) {
    out.dataset.ok = 'false';
    const problems = err.body && Array.isArray(err.body.problems) ? ` (${err.body.problems.map((p) => p.message || compact(p)).join('; ')})` : '';
    setText(out, `${err instanceof ApiError ? `${err.status} ${err.reason}` : err.message}${problems}`);
  }
});

// ---------------------------------------------------------------- start

setInterval(() => {
  sampleTick(performance.now());
  if (!sel) return setText($('#rate'), '');
  if (hopsOff) return;
  const r = Math.round(hopBatcher.rate.perSecond() * sample.scale);
  setText($('#rate'), r ? `${num(r)} hops/s` : '');
}, 250);

window.addEventListener('hashchange', () => {
  const m = /^#x=([\w-]+)$/.exec(location.hash);
  if (m) select(m[1]);
});

async function start() {
  try {
    const list = await api.get('/api/components'); // asks for a key first if one is needed
    for (const c of list || []) components.set(c.id, c);
  } catch (err) {
    showAnswer('components', err);
  }
  graphsView = socket.view('graphs');
  execsView = socket.view('executions');
  graphsView.onChange(listsChanged);
  execsView.onChange(() => {
    listsChanged();
    if (sel && !sel.graphId) {
      const x = execsView.value.find((e) => e.executionId === sel.id);
      if (x) loadGraph(x.graphId);
    }
  });
  socket.start();
  const m = /^#x=([\w-]+)$/.exec(location.hash);
  if (m) select(m[1]);
}

start();
