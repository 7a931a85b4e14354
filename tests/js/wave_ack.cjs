// An inject whose wave was stopped at MAX_WAVE_HOPS answers with an error
// carrying "code": "WEIR_ELIMIT" over REST, Socket.IO and /ws alike.  The
// server runs with --max-wave-hops 100; argv[4] is a lattice graph that
// makes more hops than that.
'use strict';
const WebSocket = require('ws');
const { io } = require('socket.io-client');
const { assert, base, port, rest, deadline, run } = require('./lib.cjs');

const graphDoc = JSON.parse(process.argv[4]);

function checkCut(answer, via) {
  assert.ok(answer.error, `${via}: the answer has an error: ${JSON.stringify(answer)}`);
  assert.match(answer.error.message, /MAX_WAVE_HOPS \(100\)/, `${via}: the message names the bound`);
  assert.equal(answer.error.code, 'WEIR_ELIMIT', `${via}: the error carries its code: ${JSON.stringify(answer)}`);
  assert.equal(answer.error.details.limit, 'MAX_WAVE_HOPS', via);
}

run(async () => {
  const g = await rest('POST', '/api/graphs', graphDoc);
  assert.equal(g.status, 201, g.text);
  const a = await rest('POST', `/api/graphs/${g.json.id}/execute`, { onError: 'continue', completion: 'never' });
  assert.equal(a.status, 201, a.text);
  const x = a.json.executionId;
  const inject = { executionId: x, nodeId: 'n0_0', value: 1 };

  const r = await rest('POST', `/api/executions/${x}/inject`, { nodeId: 'n0_0', value: 1 });
  assert.equal(r.status, 200, r.text);
  checkCut(r.json, 'REST');

  const socket = io(base, { forceNew: true, reconnection: false });
  await deadline(new Promise((resolve, reject) => {
    socket.on('connect', resolve);
    socket.on('connect_error', (e) => reject(new Error(`connect_error ${e.message}`)));
  }), 5000, 'socket.io connect');
  checkCut(await deadline(socket.emitWithAck('execution:inject', inject), 5000, 'socket.io inject'), 'Socket.IO');
  socket.close();

  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await deadline(new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); }), 5000,
    'ws open');
  const ack = deadline(new Promise((resolve) => {
    ws.on('message', (buf) => {
      const msg = JSON.parse(buf.toString());
      if (msg.event === 'ack' && msg.ack === 1) resolve(msg.data);
    });
  }), 5000, 'ws inject');
  ws.send(JSON.stringify({ event: 'execution:inject', data: inject, ack: 1 }));
  checkCut(await ack, '/ws');
  ws.close();
});
