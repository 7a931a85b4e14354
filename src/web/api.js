// REST calls for the dashboard (SPEC §6): JSON in and out, the API key on
// every request, and one prompt for a key however many requests get 401 at
// once (each then retries with the key given).

export class ApiError extends Error {
  // status: the HTTP status (0: no answer); body: the parsed error body.
  constructor(status, body, method, path) {
    const msg = body && typeof body.error === 'string' ? body.error : `HTTP ${status}`;
    super(`${method} ${path}: ${msg}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = body && body.code;
    this.body = body;
    this.reason = msg;
  }
}

export class Api {
  // fetch: window.fetch (or a test double); keys: a KeyStore;
  // askKey(reason): a promise of a key the user typed, or null if they
  // gave up (then the request fails with its 401/403).
  constructor({ fetch, keys, askKey, base = '' }) {
    this.fetch = fetch;
    this.keys = keys;
    this.askKey = askKey;
    this.base = base;
    this.asking = null; // the prompt in progress, shared by every 401
  }

  async request(method, path, body) {
    for (let attempt = 0; ; attempt++) {
      const keyUsed = this.keys.get();
      const headers = { accept: 'application/json', ...this.keys.headers() };
      const init = { method, headers };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      let res;
      try {
        res = await this.fetch(this.base + path, init);
      } catch (err) {
        throw new ApiError(0, { error: `no answer from the server (${err.message})` }, method, path);
      }
      const text = await res.text();
      let json = null;
      if (text) {
        try { json = JSON.parse(text); } catch { json = { error: text.slice(0, 200) }; }
      }
      const authFailed = res.status === 401 || (res.status === 403 && json && json.code === 'WEIR_EFORBIDDEN');
      if (authFailed && attempt < 3 && this.askKey) {
        // another request may have got a key meanwhile: retry with it first
        if (this.keys.get() && this.keys.get() !== keyUsed) continue;
        const reason = res.status === 401 ? 'The server requires an API key.'
          : `The server refused the key: ${json && json.error ? json.error : 'forbidden'}`;
        if (!this.asking) this.asking = Promise.resolve(this.askKey(reason)).finally(() => { this.asking = null; });
        const key = await this.asking;
        if (key) continue;
      }
      if (!res.ok) throw new ApiError(res.status, json, method, path);
      return json;
    }
  }

  get(path) { return this.request('GET', path); }
  post(path, body = {}) { return this.request('POST', path, body); }
}
