// Event sockets with auth configured (the server runs with API_KEYS=k-one):
// Socket.IO auth.token, /ws headers or ?token=; refused without or with a
// wrong credential.
'use strict';
const { io } = require('socket.io-client');
const WebSocket = require('ws');
const { assert, base, port, deadline, run } = require('./lib.cjs');

function sio(opts) {
  const socket = io(base, { forceNew: true, reconnection: false, ...opts });
  return deadline(new Promise((resolve) => {
    socket.on('connect', () => { resolve({ ok: true }); socket.disconnect(); });
    socket.on('connect_error', (e) => { resolve({ ok: false, message: e.message }); socket.disconnect(); });
  }), 5000, 'socket.io connect');
}

function ws(query, headers) {
  return deadline(new Promise((resolve) => {
    const w = new WebSocket(`ws://127.0.0.1:${port}/ws${query}`, { headers });
    w.on('open', () => { resolve({ ok: true }); w.close(); });
    w.on('unexpected-response', (req, res) => resolve({ ok: false, status: res.statusCode }));
    w.on('error', () => {});
  }), 5000, '/ws connect');
}

run(async () => {
  const none = await sio({});
  assert.equal(none.ok, false);
  assert.match(none.message, /authentication required/);
  const wrong = await sio({ auth: { token: 'k-wrong' } });
  assert.equal(wrong.ok, false);
  assert.doesNotMatch(wrong.message, /k-wrong/, 'the refusal never echoes the token');
  assert.equal((await sio({ auth: { token: 'k-one' } })).ok, true);
  assert.equal((await sio({ extraHeaders: { 'x-api-key': 'k-one' }, transports: ['polling'] })).ok, true);

  assert.equal((await ws('', {})).status, 401);
  assert.equal((await ws('?token=k-wrong', {})).status, 403);
  assert.equal((await ws('?token=k-one', {})).ok, true);
  assert.equal((await ws('', { authorization: 'Bearer k-one' })).ok, true);
  assert.equal((await ws('', { 'x-api-key': 'k-one' })).ok, true);
});
