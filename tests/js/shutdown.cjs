// Graceful shutdown with event clients connected (SPEC §6): SIGTERM to the
// server (pid in argv[4]); subscribers hear execution:cancelled, then every
// socket — Socket.IO over websocket, Socket.IO over polling, /ws — is closed
// by the server promptly, not left to time out.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { io } = require('socket.io-client');
const WebSocket = require('ws');
const { assert, base, port, rest, Recorder, deadline, run } = require('./lib.cjs');

const graphDoc = JSON.parse(fs.readFileSync(path.join(process.argv[3], 'quick-reference.json'), 'utf8'));
const pid = Number(process.argv[4]);

run(async () => {
  const g = await rest('POST', '/api/graphs', graphDoc);
  const x = (await rest('POST', `/api/graphs/${g.json.id}/execute`, { completion: 'never' })).json.executionId;
  const clients = [];
  for (const transports of [undefined, ['polling']]) {
    const socket = io(base, { forceNew: true, reconnection: false, ...(transports ? { transports } : {}) });
    const rec = new Recorder(transports ? 'polling' : 'default');
    socket.onAny((n, d) => rec.push(n, d));
    await deadline(new Promise((r) => socket.on('connect', r)), 5000, 'connect');
    await socket.emitWithAck('execution:subscribe', { executionId: x });
    const gone = new Promise((r) => socket.on('disconnect', (reason) => r(reason)));
    clients.push({ rec, gone });
  }
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const wrec = new Recorder('ws');
  ws.on('message', (b) => { const m = JSON.parse(b.toString()); wrec.push(m.event, m.data); });
  await deadline(new Promise((r) => ws.on('open', r)), 5000, 'ws open');
  ws.send(JSON.stringify({ event: 'execution:subscribe', data: { executionId: x } }));
  await wrec.until((n) => n === 'execution:state', 'ws subscribed');
  const wsGone = new Promise((r) => ws.on('close', (code) => r(code)));

  const t0 = Date.now();
  process.kill(pid, 'SIGTERM');
  for (const c of clients) {
    await c.rec.until((n, d) => n === 'execution:cancelled' && d.executionId === x, 'execution:cancelled');
    const reason = await deadline(c.gone, 5000, `${c.rec.label} disconnect`);
    assert.match(reason, /server|transport close/, `${c.rec.label}: ${reason}`);
  }
  await wrec.until((n) => n === 'execution:cancelled', 'ws execution:cancelled');
  assert.equal(await deadline(wsGone, 5000, 'ws close'), 1001, 'going away');
  assert.ok(Date.now() - t0 < 5000, `closed promptly (${Date.now() - t0} ms)`);
});
