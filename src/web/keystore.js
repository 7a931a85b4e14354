// The API key the dashboard sends (SPEC §10): asked for when the server
// answers 401, kept in sessionStorage (gone when the tab closes), sent as
// `Authorization: Bearer <key>` on every request and as `?token=` on the
// socket (a browser cannot set headers on a WebSocket).

export const STORAGE_KEY = 'weir.apiKey';

// A key is what a header may carry: visible ASCII, no spaces, at most 4 KiB
// (a JWT fits).  Returns the trimmed key, or throws with what is wrong.
export function normalizeKey(text) {
  const key = String(text ?? '').trim();
  if (key === '') throw new Error('the key is empty: paste the API key (or JWT) the server was started with');
  if (key.length > 4096) throw new Error(`the key is ${key.length} characters long; at most 4096`);
  if (!/^[\x21-\x7e]+$/.test(key)) throw new Error('a key is printable ASCII without spaces');
  return key;
}

export class KeyStore {
  // storage: a Web Storage object (window.sessionStorage), or null when the
  // browser refuses it (then the key lives as long as the page).
  constructor(storage) {
    this.storage = storage;
    this.memory = null;
    this.listeners = new Set();
  }

  get() {
    if (this.memory !== null) return this.memory;
    try {
      return this.storage ? this.storage.getItem(STORAGE_KEY) : null;
    } catch {
      return null;
    }
  }

  set(text) {
    const key = normalizeKey(text);
    this.memory = key;
    try {
      if (this.storage) this.storage.setItem(STORAGE_KEY, key);
    } catch { /* storage full or refused: the page keeps it */ }
    for (const fn of this.listeners) fn(key);
    return key;
  }

  clear() {
    this.memory = null;
    try {
      if (this.storage) this.storage.removeItem(STORAGE_KEY);
    } catch { /* nothing kept */ }
    for (const fn of this.listeners) fn(null);
  }

  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // Headers for a request: {} without a key.
  headers() {
    const key = this.get();
    return key ? { authorization: `Bearer ${key}` } : {};
  }
}

// The socket's URL for a page at `location` ({protocol, host}): ws: or wss:
// as the page, /ws, and the key as ?token= when there is one.
export function socketUrl(location, key) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = key ? `?token=${encodeURIComponent(key)}` : '';
  return `${scheme}//${location.host}/ws${query}`;
}
