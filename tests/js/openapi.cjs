// GET /api/openapi.json against the real server (SPEC §6): the document is
// valid OpenAPI 3.1 (@apidevtools/swagger-parser), every operation has a
// unique camelCase operationId, and what a typed client generated from it
// would send and receive is what the server really accepts and answers:
// an inject body built from the InjectRequest schema alone is valid (ajv)
// and answered 200, and every operation is exercised once with its real
// request and answer checked against the document's schemas.  The refusals
// too: 415 for another media type, 403 for a foreign Origin, 421 for a
// foreign Host, and, with auth configured, 401 exactly where the document
// gives security (two more servers: METRICS_AUTH, PUBLIC_READS).
//
// usage: node openapi.cjs WEIR_BINARY EXAMPLES_DIR (NODE_PATH: the npm
// clients tests/js/setup.sh installed)
'use strict';
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const os = require('node:os');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');

const [weir, examples] = process.argv.slice(2);
if (!weir || !examples) {
  console.error('usage: node openapi.cjs WEIR_BINARY EXAMPLES_DIR');
  process.exit(2);
}

// ------------------------------------------------------------- the server

// A data directory of its own (removed when it exits): the journal's routes
// (time travel, fork) answer for real.
function startServer(env = {}) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-openapi-'));
  const child = spawn(weir, ['serve', '--data-dir', data, '--port', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOG_FORMAT: 'text', LOG_LEVEL: 'info', ...env },
  });
  let log = '';
  const port = new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`weir serve exited (${code}) before listening:\n${log}`)));
    child.on('exit', () => fs.rmSync(data, { recursive: true, force: true }));
  });
  return { child, port, log: () => log };
}

// ----------------------------------------------------------- the document

let doc, ajv, base;
const exercised = new Set();

function compile(schema) {
  // refs are relative to the document: point them at the copy ajv holds
  const text = JSON.stringify(schema).replaceAll('"#/components/', '"weir#/components/');
  return ajv.compile(JSON.parse(text));
}

function check(schema, value, what) {
  const validate = compile(schema);
  assert.ok(validate(value), `${what} does not match its schema: ${ajv.errorsText(validate.errors)}\n` +
    `value: ${JSON.stringify(value).slice(0, 2000)}\nschema: ${JSON.stringify(schema)}`);
}

// The document's operation for a concrete request.
function operationOf(method, urlPath) {
  for (const [template, item] of Object.entries(doc.paths)) {
    const re = new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+') + '$');
    if (re.test(urlPath) && item[method.toLowerCase()]) return item[method.toLowerCase()];
  }
  assert.fail(`${method} ${urlPath}: the document has no such operation`);
}

// One request as a generated client would make it: the body checked against
// the operation's request schema for its content type, the answer against
// the schema of the status it came with.
async function call(method, urlPath, body, contentType = 'application/json') {
  const op = operationOf(method, urlPath.split('?')[0]);
  const what = `${op.operationId} (${method} ${urlPath})`;
  let text;
  if (body !== undefined) {
    assert.ok(op.requestBody, `${what}: the document says it takes no body`);
    const media = op.requestBody.content[contentType];
    assert.ok(media, `${what}: the document does not list ${contentType}`);
    if (contentType === 'application/json') {
      check(media.schema, body, `${what} request body`);
      text = JSON.stringify(body);
    } else {
      text = body; // YAML text: its structure is the JSON one's
    }
  }
  const res = await fetch(base + urlPath, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: text,
  });
  const raw = await res.text();
  let answer = op.responses[String(res.status)];
  if (answer && answer.$ref) answer = doc.components.responses[answer.$ref.split('/').pop()];
  assert.ok(answer, `${what}: status ${res.status} is not in the document (${Object.keys(op.responses)}): ${raw}`);
  const [type, media] = Object.entries(answer.content || {})[0] || [];
  assert.ok(media, `${what}: the document gives no content for ${res.status}`);
  assert.ok((res.headers.get('content-type') || '').startsWith(type),
    `${what}: answered ${res.headers.get('content-type')}, the document says ${type}`);
  const value = type === 'application/json' ? JSON.parse(raw) : raw;
  check(media.schema, value, `${what} answer ${res.status}`);
  exercised.add(op.operationId);
  return { status: res.status, json: value };
}

function schemaOf(name) {
  const s = doc.components.schemas[name];
  assert.ok(s, `components/schemas has no ${name}`);
  return s;
}

// A value for a schema, as a client that knows only the schema would make
// it; `known` supplies what only the caller can know (an existing node id).
function sample(schema, known) {
  if (schema.$ref) return sample(schemaOf(schema.$ref.split('/').pop()), known);
  if (schema.enum) return schema.enum[0];
  switch (schema.type) {
    case 'string': return 'x';
    case 'integer': case 'number': return schema.minimum ?? 1;
    case 'boolean': return true;
    case 'array': return [];
    case 'object': {
      const out = {};
      for (const key of schema.required || [])
        out[key] = key in known ? known[key] : sample(schema.properties[key], {});
      return out;
    }
    case undefined: return null; // any JSON value
  }
  assert.fail(`no sample for ${JSON.stringify(schema)}`);
}

// ------------------------------------------------------------------ tests

async function documentIsValid() {
  const res = await fetch(`${base}/api/openapi.json`);
  assert.equal(res.status, 200);
  doc = await res.json();
  assert.equal(doc.openapi, '3.1.0');
  await SwaggerParser.validate(structuredClone(doc)); // throws with what is wrong
  const ids = new Map();
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      assert.match(op.operationId || '', /^[a-z][A-Za-z0-9]*$/, `${method} ${p}: operationId is not camelCase`);
      assert.ok(!ids.has(op.operationId), `${op.operationId} twice: ${ids.get(op.operationId)} and ${method} ${p}`);
      ids.set(op.operationId, `${method} ${p}`);
      for (const name of p.match(/\{[^}]+\}/g) || [])
        assert.ok((op.parameters || []).some((x) => x.in === 'path' && `{${x.name}}` === name),
          `${method} ${p}: path parameter ${name} not declared`);
    }
  }
  assert.ok(doc.paths['/api/graphs'].post.requestBody.content['application/yaml'], 'graph upload takes YAML');
  ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  ajv.addKeyword('components');
  ajv.addSchema({ components: doc.components }, 'weir');
  for (const name of Object.keys(doc.components.schemas)) // each compiles under strict mode
    assert.ok(ajv.getSchema(`weir#/components/schemas/${name}`), name);
  const error = schemaOf('Error');
  assert.deepEqual(error.required, ['error', 'code']);
  assert.equal(error.properties.code.type, 'string');
  for (const code of ['WEIR_EINVAL', 'WEIR_EAUTH', 'WEIR_EMEDIATYPE', 'WEIR_EHOST', 'WEIR_EUNAVAILABLE'])
    assert.ok(error.properties.code.enum.includes(code), `Error.code's enum lacks ${code}`);
  return ids;
}

const quickReference = JSON.parse(fs.readFileSync(path.join(examples, 'quick-reference.json'), 'utf8'));

async function typedInject() {
  const g = await call('POST', '/api/graphs', quickReference);
  assert.equal(g.status, 201);
  const x = await call('POST', `/api/graphs/${g.json.id}/execute`, {});
  assert.equal(x.status, 201);
  // the body from the schema: its required properties, nothing else
  const schema = schemaOf('InjectRequest');
  assert.deepEqual([...schema.required].sort(), ['nodeId', 'value']);
  const body = sample(schema, { nodeId: 'input', value: 21 });
  assert.deepEqual(Object.keys(body).sort(), ['nodeId', 'value']);
  const op = doc.paths['/api/executions/{id}/inject'].post;
  assert.equal(op.requestBody.required, true);
  check(op.requestBody.content['application/json'].schema, body, 'the generated inject body');
  const r = await call('POST', `/api/executions/${x.json.executionId}/inject`, body);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual(r.json.outputs, { 'output:out': 42 });
  // what the schema refuses, the server refuses
  const bad = { value: 21 };
  assert.ok(!compile(schema)(bad), 'InjectRequest accepts a body without nodeId');
  const refused = await fetch(`${base}/api/executions/${x.json.executionId}/inject`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bad) });
  assert.equal(refused.status, 400);
  check(schemaOf('Error'), await refused.json(), 'a refused inject');
  return { graphId: g.json.id, executionId: x.json.executionId };
}

async function everyOperation(first) {
  // service
  await call('GET', '/health');
  await call('GET', '/health/live');
  await call('GET', '/health/ready');
  await call('GET', '/api/stats');
  await call('GET', '/metrics');
  await call('GET', '/api/openapi.json');
  // components
  const comps = await call('GET', '/api/components');
  assert.ok(comps.json.length > 5);
  await call('GET', '/api/components/symbia.core.logger');
  assert.equal((await call('GET', '/api/components/acme.none')).status, 404);
  const square = JSON.parse(fs.readFileSync(path.join(examples, 'square-component.json'), 'utf8'));
  const reg = await call('POST', '/api/components', square);
  assert.equal(reg.status, 201, JSON.stringify(reg.json));
  // graphs
  const yaml = fs.readFileSync(path.join(examples, 'accumulator-batch.yaml'), 'utf8');
  assert.equal((await call('POST', '/api/graphs', yaml, 'application/yaml')).status, 201);
  const invalid = await call('POST', '/api/graphs', {
    symbia: '1.0', name: 'bad', nodes: [{ id: 'a', component: 'acme.none' }], edges: [] });
  assert.equal(invalid.status, 400);
  assert.ok(invalid.json.problems.length > 0);
  await call('GET', '/api/graphs');
  await call('GET', `/api/graphs/${first.graphId}`);
  assert.equal((await call('GET', '/api/graphs/none')).status, 404);
  // a graph that composes (examples/compose): its subgraphs and flattened form, and a subgraph in use
  const composeDoc = (f) => JSON.parse(fs.readFileSync(path.join(examples, 'compose', f), 'utf8'));
  const enrich = await call('POST', '/api/graphs', composeDoc('enrich.json'));
  const orders = await call('POST', '/api/graphs', composeDoc('main.json'));
  assert.equal(orders.status, 201, JSON.stringify(orders.json));
  const composed = await call('GET', `/api/graphs/${orders.json.id}`);
  assert.equal(composed.json.subgraphs.length, 2);
  assert.equal((await call('DELETE', `/api/graphs/${enrich.json.id}`)).status, 409);
  // executions
  await call('GET', '/api/executions');
  await call('GET', `/api/executions/${first.executionId}`);
  await call('GET', `/api/executions/${first.executionId}/metrics`);
  await call('GET', `/api/executions/${first.executionId}/state`);
  assert.equal((await call('GET', `/api/executions/${first.executionId}/state?node=none`)).status, 404);
  await call('GET', `/api/executions/${first.executionId}/at/latest`);
  assert.equal((await call('GET', `/api/executions/${first.executionId}/at/999999`)).status, 404);
  const fork = await call('POST', `/api/executions/${first.executionId}/fork`, { atTick: 0 });
  assert.equal(fork.status, 201, JSON.stringify(fork.json));
  const journal = await call('GET', `/api/executions/${first.executionId}/journal`);
  assert.equal(journal.status, 200);
  const file = journal.json;
  const imported = await call('POST', '/api/executions/import', file, 'application/x-ndjson');
  assert.equal(imported.status, 201, JSON.stringify(imported.json));
  const late = await call('POST', `/api/executions/${first.executionId}/inject`, { nodeId: 'input', value: 1 });
  assert.equal(late.status, 409); // completed
  const kept = await call('POST', `/api/graphs/${first.graphId}/execute`, { completion: 'never', onError: 'continue' });
  const traced = await call('POST', `/api/executions/${kept.json.executionId}/inject?trace=true`,
    { nodeId: 'input', port: 'in', value: 2 });
  assert.equal(traced.status, 200);
  assert.equal(traced.json.trace.length, 3, JSON.stringify(traced.json));
  // change while running: a new version of the graph, the running execution moved to it
  const put = await call('PUT', `/api/graphs/${first.graphId}`, { ...quickReference, version: '2.0.0' });
  assert.equal(put.status, 200, JSON.stringify(put.json));
  const up = await call('POST', `/api/executions/${kept.json.executionId}/upgrade`, {});
  assert.equal(up.status, 200, JSON.stringify(up.json));
  assert.equal(up.json.to.version, '2.0.0');
  await call('POST', `/api/executions/${kept.json.executionId}/stop`);
  // time and ingress: a service graph on the virtual runtime
  const service = {
    symbia: '1.0', name: 'openapi-ingress',
    metadata: { role: 'service', ingress: { node: 'in', port: 'in' } },
    nodes: [
      { id: 'in', component: 'symbia.core.passthrough' },
      { id: 'wait', component: 'symbia.core.delay', config: { delayMs: 20 } },
      { id: 'out', component: 'symbia.core.passthrough' },
    ],
    edges: [
      { source: { node: 'in', port: 'out' }, target: { node: 'wait', port: 'in' } },
      { source: { node: 'wait', port: 'out' }, target: { node: 'out', port: 'in' } },
    ],
  };
  const g = await call('POST', '/api/graphs', service);
  const x = (await call('POST', `/api/graphs/${g.json.id}/execute`, {
    runtime: 'virtual', tickMs: 10,
    mocks: [{
      match: { method: 'GET', url: 'http://api.test/*' }, response: { status: 200, body: { ok: true } }, latencyMs: 5,
    }],
  })).json;
  const id = x.executionId;
  const early = await call('POST', `/api/executions/${id}/inject`, { nodeId: 'in', value: 1 });
  assert.equal(early.status, 202); // needs virtual time: answered at once
  assert.equal((await call('POST', `/api/executions/${id}/inject?wait=false`, { nodeId: 'in', value: 2 })).status, 202);
  assert.equal((await call('POST', `/api/executions/${id}/inject`, { nodeId: 'in', value: 3, afterTicks: 1 })).status,
    202);
  await call('POST', `/api/executions/${id}/tick`, { count: 1 });
  const advanced = await call('POST', `/api/executions/${id}/advance`, { ms: 30 });
  assert.ok(advanced.json.settled.length >= 1, JSON.stringify(advanced.json)); // the early inject settled
  await call('POST', `/api/executions/${id}/step`, {});
  await call('POST', `/api/executions/${id}/run`, { maxTicks: 100 });
  await call('POST', `/api/executions/${id}/pause`);
  await call('POST', `/api/executions/${id}/resume`);
  await call('POST', `/api/executions/${id}/runtime`, { runtime: 'realtime' });
  assert.equal((await call('POST', `/api/executions/${id}/tick`)).status, 409); // not virtual now
  const delivered = await call('POST', '/api/ingress/openapi-ingress', [1, 2, 3]);
  assert.equal(delivered.status, 202);
  assert.equal(delivered.json.accepted, 3);
  await call('POST', `/api/executions/${id}/stop`);
  await call('DELETE', `/api/graphs/${g.json.id}`);
  // webhooks: one http-in per method, all answered by one http-response
  const methods = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'];
  const hooks = {
    symbia: '1.0', name: 'openapi-hooks',
    nodes: [...methods.map((m) => ({ id: m, component: 'symbia.io.http-in', config: { method: m, path: '/h' } })),
      { id: 'resp', component: 'symbia.io.http-response' }],
    edges: methods.map((m) => ({ source: { node: m, port: 'out' }, target: { node: 'resp', port: 'in' } })),
  };
  const hg = await call('POST', '/api/graphs', hooks);
  const hx = await call('POST', `/api/graphs/${hg.json.id}/execute`, {});
  for (const m of methods) {
    const answered = await call(m, '/hooks/openapi-hooks/h', m === 'GET' ? undefined : { m });
    assert.equal(answered.status, 200, JSON.stringify(answered.json));
    assert.deepEqual(answered.json, m === 'GET' ? null : { m });
  }
  assert.equal((await call('POST', '/hooks/openapi-hooks/none', {})).status, 404);
  await call('POST', `/api/executions/${hx.json.executionId}/stop`);
}

// An answer the server gave (res, its text) is one the document lists for
// op, and its body is an Error with that code.
function documentedError(op, status, raw, code, what) {
  let answer = op.responses[String(status)];
  assert.ok(answer, `${what}: status ${status} is not in the document (${Object.keys(op.responses)}): ${raw}`);
  if (answer.$ref) answer = doc.components.responses[answer.$ref.split('/').pop()];
  const body = JSON.parse(raw);
  check(answer.content['application/json'].schema, body, `${what} answer ${status}`);
  assert.equal(body.code, code, `${what}: ${raw}`);
}

// 415, 403 (Origin) and 421 (Host): documented where the server answers
// them; the media types the document lists for a body are the ones the
// server takes.
async function refusals(graphId) {
  const upload = doc.paths['/api/graphs'].post;
  const types = Object.keys(upload.requestBody.content);
  assert.ok(types.length >= 2, `${types}`);
  for (const type of types) { // an invalid graph: 400 from the loader, not 415
    const res = await fetch(`${base}/api/graphs`, { method: 'POST', headers: { 'content-type': type },
      body: type === 'application/json' ? '{"symbia":"1.0"}' : 'symbia: "1.0"\n' });
    assert.equal(res.status, 400, `${type}: ${await res.text()}`);
  }
  for (const [p, method, op] of [['/api/graphs', 'POST', upload],
    [`/api/graphs/${graphId}/execute`, 'POST', doc.paths['/api/graphs/{id}/execute'].post]]) {
    const res = await fetch(base + p, { method, headers: { 'content-type': 'text/plain' }, body: '{}' });
    documentedError(op, res.status, await res.text(), 'WEIR_EMEDIATYPE', `${method} ${p} as text/plain`);
  }
  const list = doc.paths['/api/graphs'].get;
  const foreign = await fetch(`${base}/api/graphs`, { headers: { origin: 'http://evil.example' } });
  documentedError(list, foreign.status, await foreign.text(), 'WEIR_EFORBIDDEN', 'a foreign Origin');
  const misdirected = await new Promise((resolve, reject) => {
    const req = http.get(`${base}/health`, { headers: { host: 'evil.example' } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
  });
  documentedError(doc.paths['/health'].get, misdirected.status, misdirected.text, 'WEIR_EHOST', 'a foreign Host');
}

// With auth configured, an operation answers 401 without credentials
// exactly when the document gives it security, but for those whose
// description says PUBLIC_READS (reads) or METRICS_AUTH (/metrics) opens
// them when that setting does.
async function authAsDocumented() {
  for (const env of [{ METRICS_AUTH: 'true' }, { PUBLIC_READS: 'true' }]) {
    const server = startServer({ API_KEYS: 'openapi-test-key-0123456789', ...env });
    try {
      const port = await server.port;
      for (const [p, item] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(item)) {
          const res = await fetch(`http://127.0.0.1:${port}${p.replace(/\{[^}]+\}/g, 'x')}`,
            { method: method.toUpperCase() });
          const raw = await res.text();
          const says = op.description || '';
          const open = !op.security || (env.PUBLIC_READS === 'true' && /PUBLIC_READS/.test(says)) ||
            (env.METRICS_AUTH !== 'true' && /METRICS_AUTH/.test(says));
          assert.equal(res.status === 401, !open,
            `${JSON.stringify(env)}: ${method} ${p} answered ${res.status}, security ${JSON.stringify(op.security)}`);
          if (res.status === 401) documentedError(op, 401, raw, 'WEIR_EAUTH', `${method} ${p} without credentials`);
        }
      }
    } finally {
      const { child } = server;
      const exited = child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve(child.exitCode ?? child.signalCode)
        : new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
      child.kill('SIGTERM');
      const code = await exited; // 0: a clean stop (a sanitizer build reports leaks there)
      assert.equal(code, 0, `weir serve (${JSON.stringify(env)}) exited with ${code}:\n${server.log()}`);
    }
  }
}

async function main() {
  const server = startServer();
  try {
    base = `http://127.0.0.1:${await server.port}`;
    const ids = await documentIsValid();
    const first = await typedInject();
    await everyOperation(first);
    await refusals(first.graphId);
    await authAsDocumented();
    const missed = [...ids.keys()].filter((id) => !exercised.has(id));
    assert.deepEqual(missed, [], `operations this test does not exercise yet: add a call for each (${missed})`);
    console.log(`ok: ${ids.size} operations, ${Object.keys(doc.components.schemas).length} schemas, every one ` +
      'exercised against the real server');
  } catch (err) {
    console.error(err && err.stack ? err.stack : err);
    console.error(`--- server log:\n${server.log()}`);
    process.exitCode = 1;
  }
  // a clean stop: exit 0 (a sanitizer build reports leaks there)
  const { child } = server;
  const gone = child.exitCode !== null || child.signalCode !== null;
  const exited = gone ? Promise.resolve(child.exitCode ?? child.signalCode)
    : new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) {
    console.error(`weir serve exited with ${code} after SIGTERM:\n${server.log()}`);
    process.exitCode = 1;
  }
}

const guard = setTimeout(() => { console.error('test took over 60 s'); process.exit(1); }, 60000);
main().finally(() => clearTimeout(guard));
