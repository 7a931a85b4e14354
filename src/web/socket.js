// The dashboard's one event connection: a plain WebSocket at /ws speaking
// {event, data, ack?} frames (SPEC §5, src/service/wsapi.c), with
//   - requests answered by an ack (a promise of the answer; rejected with
//     the server's {error, code}),
//   - live views (SPEC §8): view(name) gives a LiveView (views.js) kept
//     current from view:init and view:diff; after a reconnect each view is
//     subscribed again with `since` its last seq (the server resumes or
//     sends a fresh init); a diff that cannot be applied re-subscribes
//     without `since`,
//   - execution subscriptions (execution:subscribe with the kinds wanted),
//     resumed with `since` after a reconnect; with `batch`, the server
//     sends an execution's events several at a time (`events
//     {executionId, events: [{event, data}, ...]}`, in order): one message,
//     one JSON.parse and one call of the `events` listeners per batch (with
//     no `events` listener, each event of it goes to its own listeners as
//     if it had come alone),
//   - reconnection with backoff, forever, while started.
import { LiveView } from './views.js';

export class SocketError extends Error {
  constructor(event, body) {
    super(`${event}: ${body && body.error ? body.error : 'failed'}`);
    this.name = 'SocketError';
    this.code = body && body.code;
    this.body = body;
  }
}

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;

export class EventSocket {
  // url(): the URL to connect to now (it carries the current key).
  // onStatus(status, info): 'connecting' | 'open' | 'closed' ({opened:
  // whether this connection had opened: false after a refused handshake).
  // eventRate: at most that many busy events (hops, outputs, logs) a second
  // per watched execution; the server passes over the rest and counts them
  // in `events:skipped` (undefined: no bound).
  // batch: ask for an execution's events in `events` batches.
  constructor({ url, WebSocketImpl = globalThis.WebSocket, timers = globalThis, onStatus = () => {}, ackTimeoutMs = 60000, eventRate, batch = false }) {
    this.url = url;
    this.eventRate = eventRate;
    this.batch = batch;
    this.WS = WebSocketImpl;
    this.timers = timers;
    this.onStatus = onStatus;
    this.ackTimeoutMs = ackTimeoutMs;
    this.ws = null;
    this.status = 'closed';
    this.started = false;
    this.nextAck = 1;
    this.acks = new Map(); // ack id -> {resolve, reject, timer, event}
    this.listeners = new Map(); // event name -> Set(fn)
    this.views = new Map(); // name -> {live, refs}
    this.watches = new Map(); // executionId -> {events, seq}
    this.failures = 0;
    this.retryTimer = null;
  }

  start() {
    if (this.started) return;
    this.started = true;
    this.connect();
  }

  stop() {
    this.started = false;
    if (this.retryTimer) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.ws) this.ws.close(1000, 'bye');
  }

  // Close and connect again at once (a new key; a page that fell behind:
  // what the browser has queued on a closed socket is never delivered).
  reconnect() {
    if (this.ws) {
      const old = this.ws;
      this.ws = null;
      this.dropped(old, true);
      old.close(1000, 'reconnecting');
    }
    if (this.retryTimer) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.failures = 0;
    if (this.started) this.connect();
  }

  connect() {
    this.setStatus('connecting');
    let ws;
    try {
      ws = new this.WS(this.url());
    } catch (err) {
      this.setStatus('closed', { opened: false, error: err });
      this.retry();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      opened = true;
      this.failures = 0;
      this.setStatus('open');
      this.resubscribe();
    };
    ws.onmessage = (m) => {
      if (this.ws === ws) this.receive(m.data);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.dropped(ws, opened);
      this.retry();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  dropped(ws, opened) {
    for (const [id, a] of this.acks) {
      this.timers.clearTimeout(a.timer);
      a.reject(new SocketError(a.event, { error: 'the connection closed before the answer', code: 'WEIR_EIO' }));
      this.acks.delete(id);
    }
    this.setStatus('closed', { opened });
  }

  retry() {
    if (!this.started || this.retryTimer) return;
    const ms = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.failures, 8));
    this.failures++;
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      if (this.started && !this.ws) this.connect();
    }, ms);
  }

  setStatus(status, info = {}) {
    this.status = status;
    this.onStatus(status, info);
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
    return () => this.listeners.get(event).delete(fn);
  }

  emit(event, data) {
    const set = this.listeners.get(event);
    if (set) for (const fn of set) fn(data, event);
    const any = this.listeners.get('*');
    if (any) for (const fn of any) fn(data, event);
  }

  // Send a command; resolves with its answer, rejects with a SocketError.
  request(event, data) {
    if (!this.ws || this.status !== 'open')
      return Promise.reject(new SocketError(event, { error: 'not connected', code: 'WEIR_EIO' }));
    const id = this.nextAck++;
    return new Promise((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.acks.delete(id);
        reject(new SocketError(event, { error: `no answer within ${this.ackTimeoutMs} ms`, code: 'WEIR_ETIMEOUT' }));
      }, this.ackTimeoutMs);
      this.acks.set(id, { resolve, reject, timer, event });
      this.ws.send(JSON.stringify({ event, data, ack: id }));
    });
  }

  receive(text) {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    if (!msg || typeof msg.event !== 'string') return;
    const { event, data } = msg;
    if (event === 'ack') {
      const a = this.acks.get(msg.ack);
      if (!a) return;
      this.acks.delete(msg.ack);
      this.timers.clearTimeout(a.timer);
      if (data && typeof data === 'object' && !Array.isArray(data) && 'error' in data) a.reject(new SocketError(a.event, data));
      else a.resolve(data);
      return;
    }
    if (event === 'view:init' || event === 'view:diff') return this.viewMessage(event, data);
    if (event === 'view:error') return this.viewEnded(data);
    if (event === 'events' && data && Array.isArray(data.events)) return this.batchMessage(data);
    if (data && typeof data === 'object' && typeof data.executionId === 'string' && typeof data.seq === 'number') {
      const w = this.watches.get(data.executionId);
      if (w && event !== 'metrics:update' && data.seq > w.seq) w.seq = data.seq;
    }
    this.emit(event, data);
  }

  // A batch of one execution's events, oldest first: the watch's seq moves
  // to its last, and the `events` listeners get it whole.
  batchMessage(data) {
    const items = data.events;
    const w = typeof data.executionId === 'string' ? this.watches.get(data.executionId) : undefined;
    if (w) {
      for (let i = items.length - 1; i >= 0; i--) {
        const it = items[i];
        if (it && it.event !== 'metrics:update' && it.data && typeof it.data.seq === 'number') {
          if (it.data.seq > w.seq) w.seq = it.data.seq;
          break;
        }
      }
    }
    if (this.listeners.get('events')?.size) return this.emit('events', data);
    for (const it of items) if (it && typeof it.event === 'string') this.emit(it.event, it.data);
  }

  // ------------------------------------------------------------- views

  // The live value of a view (shared: call release(name) once per view()).
  view(name) {
    let v = this.views.get(name);
    if (v) {
      v.refs++;
      return v.live;
    }
    v = { live: new LiveView(name), refs: 1 };
    this.views.set(name, v);
    if (this.status === 'open') this.subscribeView(name, undefined);
    return v.live;
  }

  release(name) {
    const v = this.views.get(name);
    if (!v || --v.refs > 0) return;
    this.views.delete(name);
    if (this.status === 'open') this.request('view:unsubscribe', { view: name }).catch(() => {});
  }

  subscribeView(name, since) {
    const data = since === undefined ? { view: name } : { view: name, since };
    this.request('view:subscribe', data).catch((err) => {
      const v = this.views.get(name);
      if (v) v.live.error = err;
      this.emit('view:error', { view: name, error: err });
    });
  }

  // The server ended a view ({view, error, code}: a port an upgrade
  // removed): its value stays as it was, with the error; no resubscribe.
  viewEnded(data) {
    if (!data || typeof data.view !== 'string') return;
    const err = new SocketError('view', data);
    const v = this.views.get(data.view);
    if (v) v.live.error = err;
    this.emit('view:error', { view: data.view, error: err });
  }

  viewMessage(event, data) {
    if (!data || typeof data.view !== 'string') return;
    const v = this.views.get(data.view);
    if (!v) return;
    if (event === 'view:init') {
      v.live.error = null;
      v.live.init(data);
      return;
    }
    try {
      v.live.update(data);
    } catch (err) {
      // a diff this value cannot take (or one before the init): start over
      v.live.ready = false;
      this.request('view:unsubscribe', { view: data.view })
        .catch(() => {})
        .then(() => { if (this.views.has(data.view)) this.subscribeView(data.view, undefined); });
      this.emit('view:error', { view: data.view, error: err });
    }
  }

  // ------------------------------------------------------- executions

  // Subscribe to an execution's events of the kinds named (SPEC §5);
  // resolves with its snapshot.  Calling it again changes the kinds.
  watch(executionId, events) {
    const w = this.watches.get(executionId) || { seq: -1 };
    w.events = events;
    this.watches.set(executionId, w);
    if (this.status !== 'open') return Promise.resolve(null);
    return this.subscribeExecution(executionId, w, false);
  }

  // Change the kinds of a watch without telling the server now: the next
  // connection subscribes with them (see reconnect).
  setWatchEvents(executionId, events) {
    const w = this.watches.get(executionId);
    if (w) w.events = events;
  }

  unwatch(executionId) {
    if (!this.watches.delete(executionId)) return;
    if (this.status === 'open') this.request('execution:unsubscribe', { executionId }).catch(() => {});
  }

  subscribeExecution(executionId, w, resume) {
    const data = { executionId, events: w.events };
    if (this.eventRate) data.rate = this.eventRate;
    if (this.batch) data.batch = true;
    if (resume && w.seq >= 0) data.since = w.seq;
    return this.request('execution:subscribe', data).then((snap) => {
      if (snap && typeof snap.seq === 'number' && !resume) w.seq = Math.max(w.seq, snap.seq);
      this.emit('execution:snapshot', snap);
      return snap;
    });
  }

  resubscribe() {
    for (const [name, v] of this.views) this.subscribeView(name, v.live.ready ? v.live.seq : undefined);
    for (const [id, w] of this.watches) this.subscribeExecution(id, w, true).catch((err) => this.emit('watch:error', { executionId: id, error: err }));
  }
}
