// Helpers shared by the event tests: REST calls, waiting for events with a
// deadline, and assertions that exit non-zero with a clear message.
'use strict';
const assert = require('node:assert/strict');

const port = process.argv[2];
if (!port) {
  console.error('usage: node <test>.cjs PORT [EXAMPLES_DIR]');
  process.exit(2);
}
const base = `http://127.0.0.1:${port}`;

async function rest(method, path, body, headers = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

// Records every event a client receives, in order; `until` waits for one
// matching pred (already received or still to come).
class Recorder {
  constructor(label) { this.label = label; this.events = []; this.waiters = []; }
  push(name, data) {
    this.events.push({ name, data });
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(name, data)) return true;
      clearTimeout(w.timer);
      w.resolve({ name, data });
      return false;
    });
  }
  until(pred, what, ms = 5000) {
    const hit = this.events.find((e) => pred(e.name, e.data));
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        const seen = this.events.map((e) => e.name).join(', ');
        reject(new Error(`${this.label}: no ${what} within ${ms} ms; received: [${seen}]`));
      }, ms);
      this.waiters.push(w);
    });
  }
  named(name, pred = () => true) { return this.events.filter((e) => e.name === name && pred(e.data)); }
}

function deadline(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// Events that carry a history seq (metrics:update is a snapshot and repeats
// the latest seq) must arrive with strictly increasing, gap-free seqs.
function checkSeqs(events, label) {
  const seqs = events.filter((e) => e.name !== 'metrics:update' && e.data && typeof e.data.seq === 'number')
    .map((e) => e.data.seq);
  for (let i = 1; i < seqs.length; i++)
    assert.equal(seqs[i], seqs[i - 1] + 1, `${label}: seq ${seqs[i]} follows ${seqs[i - 1]} (a gap or a repeat)`);
  return seqs;
}

function run(main) {
  const guard = setTimeout(() => { console.error('test took over 60 s'); process.exit(1); }, 60000);
  main().then(() => { clearTimeout(guard); console.log('ok'); process.exit(0); },
    (err) => { console.error(err && err.stack ? err.stack : err); process.exit(1); });
}

module.exports = { assert, base, port, rest, Recorder, deadline, checkSeqs, run };
