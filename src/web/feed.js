// An execution's outputs, logs and errors, newest first and bounded, and
// "explain": the hops that carried a value from an inject to an output.
//
// Explain reads, in this order:
//   1. the trace of an inject this page made with trace: true (the exact
//      hops of that wave: {tick, from: "node:port" | null, to, value});
//   2. else the recent port:emit events (kept while hops are watched, in a
//      bounded ring): going back from the output node, the latest emit into
//      each node at that tick before the one it answered.
// With neither, there is nothing to explain from and it says so.

export const FEED_MAX = 500;

export class Feed {
  constructor(max = FEED_MAX) {
    this.max = max;
    this.entries = []; // newest first
    this.version = 0; // bumped on every change (cheap "did it change")
    this.nextId = 1;
  }

  // Add events of one frame (oldest first) in one go.
  addAll(events) {
    if (events.length === 0) return;
    const fresh = [];
    const from = Math.max(0, events.length - this.max);
    for (let i = events.length - 1; i >= from; i--) {
      const e = entryOf(events[i].event, events[i].data);
      if (e) {
        e.id = this.nextId++;
        fresh.push(e);
      }
    }
    if (fresh.length === 0) return;
    this.entries = fresh.concat(this.entries);
    if (this.entries.length > this.max) this.entries.length = this.max;
    this.version++;
  }

  clear() {
    this.entries = [];
    this.version++;
  }

  of(kind) {
    return this.entries.filter((e) => e.kind === kind);
  }
}

// A feed entry for an event, or null for an event the feed does not show.
export function entryOf(event, d) {
  if (!d) return null;
  switch (event) {
    case 'output':
      return { kind: 'output', nodeId: d.nodeId, port: d.port, value: d.value, tick: d.tick, seq: d.seq };
    case 'log':
      return { kind: 'log', nodeId: d.nodeId, level: d.level, message: d.message, tick: d.tick, seq: d.seq };
    case 'component:error':
      return { kind: 'error', nodeId: d.nodeId, message: errorText(d.error ?? d.message ?? d), tick: d.tick, seq: d.seq };
    case 'execution:failed':
      return { kind: 'error', nodeId: d.error && d.error.nodeId, message: `execution failed: ${errorText(d.error)}`, tick: d.tick, seq: d.seq };
    case 'message:dropped':
      return { kind: 'error', nodeId: d.nodeId, message: `message dropped${d.reason ? `: ${d.reason}` : ''}`, tick: d.tick, seq: d.seq };
    default:
      return null;
  }
}

function errorText(e) {
  if (e == null) return '(no message)';
  if (typeof e === 'string') return e;
  if (typeof e.message === 'string') return e.message;
  if (typeof e.error === 'string') return e.error;
  return JSON.stringify(e);
}

// A bounded ring of recent port:emit events, for explain.
export class HopRing {
  constructor(size = 20000) {
    this.size = size;
    this.items = new Array(size);
    this.n = 0; // total pushed
  }

  push(hop) {
    this.items[this.n % this.size] = hop;
    this.n++;
  }

  // Newest first.
  *recent() {
    const from = Math.max(0, this.n - this.size);
    for (let i = this.n - 1; i >= from; i--) yield this.items[i % this.size];
  }

  clear() {
    this.items = new Array(this.size);
    this.n = 0;
  }
}

const split = (np) => {
  const i = np.lastIndexOf(':');
  return i < 0 ? { node: np, port: '' } : { node: np.slice(0, i), port: np.slice(i + 1) };
};

// The hops of a trace that led to `nodeId` (its last arrival), first hop
// first: [{from: {node, port} | null, to: {node, port}, value, tick}].
export function chainFromTrace(trace, nodeId) {
  if (!Array.isArray(trace)) return [];
  const chain = [];
  let want = nodeId;
  let before = trace.length;
  const guard = new Set();
  while (want !== null) {
    let k = before - 1;
    while (k >= 0 && split(trace[k].to).node !== want) k--;
    if (k < 0) break;
    const h = trace[k];
    chain.push({ from: h.from ? split(h.from) : null, to: split(h.to), value: h.value, tick: h.tick });
    if (!h.from) break;
    want = split(h.from).node;
    before = k;
    if (guard.has(k)) break;
    guard.add(k);
  }
  return chain.reverse();
}

// The same from recent port:emit events (HopRing, newest first), for an
// output at `tick` on `nodeId`.  The chain ends at the node no emit reached
// (the inject's node): its first hop has from = that node's output port.
export function chainFromHops(ring, nodeId, tick) {
  const chain = [];
  let want = nodeId;
  let below = Infinity; // only emits older than the one matched last
  const seen = new Set();
  for (;;) {
    let hit = null;
    for (const h of ring.recent()) {
      if (h.tick < tick) break; // older ticks: not this wave
      if (h.tick === tick && h.targetNode === want && (h.sequence ?? 0) < below) {
        hit = h;
        break;
      }
    }
    if (!hit || seen.has(hit)) break;
    seen.add(hit);
    chain.push({ from: { node: hit.sourceNode, port: hit.sourcePort }, to: { node: hit.targetNode, port: hit.targetPort }, value: hit.value, tick: hit.tick });
    want = hit.sourceNode;
    below = hit.sequence ?? below;
  }
  return chain.reverse();
}

// Explain an output entry: {source: 'trace' | 'hops' | null, chain}.
// traces: Map tick -> trace (of this page's injects).
export function explain(entry, traces, ring) {
  const t = traces && traces.get(entry.tick);
  if (t) {
    const chain = chainFromTrace(t, entry.nodeId);
    if (chain.length) return { source: 'trace', chain };
  }
  if (ring && ring.n > 0) {
    const chain = chainFromHops(ring, entry.nodeId, entry.tick);
    if (chain.length) return { source: 'hops', chain };
  }
  return { source: null, chain: [] };
}

// "inject → input:in 21", "input:out → double:in 21", ...
export function chainText(chain) {
  return chain.map((h) => `${h.from ? `${h.from.node}:${h.from.port}` : 'inject'} → ${h.to.node}:${h.to.port}  ${compact(h.value, 60)}`);
}

// JSON cut to at most max characters ("…" at the end when cut).
export function compact(v, max = 80) {
  let s;
  try { s = JSON.stringify(v); } catch { s = String(v); }
  if (s === undefined) s = 'undefined';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
