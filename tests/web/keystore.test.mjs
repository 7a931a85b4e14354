// The API key store and the REST client's 401 handling (src/web/keystore.js, api.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Api, ApiError } from '../../src/web/api.js';
import { KeyStore, STORAGE_KEY, normalizeKey, socketUrl } from '../../src/web/keystore.js';

class MemStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}

test('the key is kept in session storage, sent as a Bearer header, and forgotten', () => {
  const st = new MemStorage();
  const keys = new KeyStore(st);
  assert.equal(keys.get(), null);
  assert.deepEqual(keys.headers(), {});
  const seen = [];
  keys.onChange((k) => seen.push(k));
  keys.set('  k-one  ');
  assert.equal(st.getItem(STORAGE_KEY), 'k-one');
  assert.deepEqual(keys.headers(), { authorization: 'Bearer k-one' });
  assert.equal(new KeyStore(st).get(), 'k-one', 'a reload of the tab finds it');
  keys.clear();
  assert.equal(st.getItem(STORAGE_KEY), null);
  assert.equal(keys.get(), null);
  assert.deepEqual(seen, ['k-one', null]);
});

test('a storage that refuses still keeps the key for the page', () => {
  const refusing = { getItem() { throw new Error('denied'); }, setItem() { throw new Error('denied'); }, removeItem() { throw new Error('denied'); } };
  const keys = new KeyStore(refusing);
  keys.set('abc');
  assert.equal(keys.get(), 'abc');
  keys.clear();
  assert.equal(keys.get(), null);
});

test('keys are checked', () => {
  assert.throws(() => normalizeKey(''), /empty/);
  assert.throws(() => normalizeKey('a b'), /printable ASCII/);
  assert.throws(() => normalizeKey('x'.repeat(5000)), /at most 4096/);
  assert.equal(normalizeKey('eyJ.a-b_c.d'), 'eyJ.a-b_c.d');
});

test('the socket URL carries the key as ?token=', () => {
  assert.equal(socketUrl({ protocol: 'http:', host: '127.0.0.1:5006' }, null), 'ws://127.0.0.1:5006/ws');
  assert.equal(socketUrl({ protocol: 'https:', host: 'w.example' }, 'a+b/c'), 'wss://w.example/ws?token=a%2Bb%2Fc');
});

// A fake server: 401 without "Bearer good", else 200 {path}.
function fakeFetch(log) {
  return async (url, init) => {
    log.push({ url, auth: init.headers.authorization, body: init.body, ctype: init.headers['content-type'] });
    const ok = init.headers.authorization === 'Bearer good';
    const status = ok ? 200 : init.headers.authorization ? 403 : 401;
    const body = ok ? { path: url } : { error: ok ? '' : 'authentication required', code: status === 401 ? 'WEIR_EAUTH' : 'WEIR_EFORBIDDEN' };
    return { status, ok: status < 300, text: async () => JSON.stringify(body) };
  };
}

test('401: one prompt for any number of requests, each retried with the key', async () => {
  const log = [];
  const keys = new KeyStore(new MemStorage());
  let asked = 0;
  const api = new Api({ fetch: fakeFetch(log), keys, askKey: async () => { asked++; await new Promise((r) => setTimeout(r, 5)); return keys.set('good'); } });
  const [a, b, c] = await Promise.all([api.get('/api/a'), api.get('/api/b'), api.post('/api/c', { x: 1 })]);
  assert.equal(asked, 1);
  assert.deepEqual([a.path, b.path, c.path], ['/api/a', '/api/b', '/api/c']);
  const retried = log.filter((l) => l.auth === 'Bearer good');
  assert.equal(retried.length, 3);
  const post = retried.find((l) => l.url === '/api/c');
  assert.equal(post.body, '{"x":1}');
  assert.equal(post.ctype, 'application/json');
});

test('a refused key prompts again; giving up fails with the status', async () => {
  const log = [];
  const keys = new KeyStore(new MemStorage());
  keys.set('wrong');
  const reasons = [];
  const api = new Api({ fetch: fakeFetch(log), keys, askKey: async (reason) => { reasons.push(reason); return null; } });
  await assert.rejects(api.get('/api/x'), (err) => err instanceof ApiError && err.status === 403 && err.code === 'WEIR_EFORBIDDEN');
  assert.equal(reasons.length, 1);
  assert.match(reasons[0], /refused the key/);
});

test('a network failure is an ApiError with status 0', async () => {
  const api = new Api({ fetch: async () => { throw new Error('connection refused'); }, keys: new KeyStore(null) });
  await assert.rejects(api.get('/api/x'), (err) => err.status === 0 && /connection refused/.test(err.message));
});
