// The dashboard in a real browser: Debian's headless chromium driven by
// puppeteer-core against the real weir serve (tests/blackbox/test_dashboard.c
// starts it).  usage: node dashboard.cjs PORT EXAMPLES_DIR SCENARIO ARTIFACTS_DIR [API_KEY]
//   page:  load /, see the graph drawn, execute, inject 21 and see 42 and the
//          counters move, explain, pause and resume, time travel over a stored
//          execution and fork from there, step a virtual execution, register a
//          component, dark mode;
//   auth:  the server wants a key: the page asks, refuses a wrong one, works
//          with the right one (REST and socket);
//   rates: above 5,000 hops/s (where the page used to stop drawing hops),
//          busy edges show their rates, and a rate that changes is shown
//          changed (in Firefox, in dark mode);
//   compose: a graph stored as a subgraph and one that uses it twice
//          (examples/compose): each graph node drawn as one node, the
//          inject form offers its input port, its counters are the sums of
//          its inner nodes', it opens (click, Enter, Space) to its inner
//          nodes and their own counters, Escape and the breadcrumb go back,
//          and the time slider sums the same way; a nested graph node opens
//          level by level.
// Screenshots go to ARTIFACTS_DIR/dashboard-*.png.  Every wait polls the page
// with a deadline; nothing sleeps blindly.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const puppeteer = require('puppeteer-core');
const { assert, base, rest, run } = require('./lib.cjs');

const examples = process.argv[3];
const scenario = process.argv[4];
const artifacts = process.argv[5];
const apiKey = process.argv[6];
// WEIR_BROWSER=firefox runs the same scenarios in Debian's firefox-esr
// (puppeteer's WebDriver BiDi); chromium by default.
const BROWSER = process.env.WEIR_BROWSER === 'firefox' ? 'firefox' : 'chrome';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
const WAIT_MS = 15000;

fs.mkdirSync(artifacts, { recursive: true });

const json = { 'content-type': 'application/json' };
const auth = apiKey ? { authorization: `Bearer ${apiKey}` } : {};

async function postGraph(file, doc) {
  const body = doc || JSON.parse(fs.readFileSync(path.join(examples, file), 'utf8'));
  const r = await rest('POST', '/api/graphs', body, auth);
  assert.equal(r.status, 201, `POST /api/graphs ${file || body.name}: ${r.text}`);
  return r.json.id;
}

// An accumulator whose buffer is its state: [5], [5, 7], ... (no flushMs:
// only batchSize empties it).
const BATCHES = {
  symbia: '1.0', name: 'Batches', version: '1.0.0',
  nodes: [
    { id: 'readings', component: 'symbia.core.passthrough' },
    { id: 'batch', component: 'symbia.core.accumulator', config: { batchSize: 5 } },
    { id: 'sum', component: 'symbia.core.map', config: { expression: 'value.reduce((a, b) => a + b, 0)' } },
  ],
  edges: [
    { id: 'e1', source: { node: 'readings', port: 'out' }, target: { node: 'batch', port: 'in' } },
    { id: 'e2', source: { node: 'batch', port: 'out' }, target: { node: 'sum', port: 'in' } },
  ],
};

// dark: Firefox is told its colour scheme at launch (puppeteer emulates
// media features over CDP only, which Firefox does not speak).
async function launch(dark) {
  const browser = await puppeteer.launch(BROWSER === 'firefox'
    ? { browser: 'firefox', executablePath: FIREFOX, headless: true,
        extraPrefsFirefox: dark ? { 'layout.css.prefers-color-scheme.content-override': 0 } : {} }
    : { executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  const page = await browser.newPage();
  await page.setViewport({ width: 1440, height: 1100 });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
  page.on('response', (r) => {
    // 401 is how the server asks for a key; anything else >= 400 from a
    // file or API call the page made is a fault of the page
    if (r.status() >= 400 && r.status() !== 401 && r.status() !== 403) problems.push(`HTTP ${r.status()} ${r.url()}`);
  });
  return { browser, page, problems };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(artifacts, `dashboard-${BROWSER === 'firefox' ? 'firefox-' : ''}${name}.png`), fullPage: true });
}

// Wait until fn (run in the page) returns truthy; what says what for the message.
async function until(page, what, fn, ...args) {
  try {
    return await page.waitForFunction(fn, { timeout: WAIT_MS, polling: 50 }, ...args);
  } catch (err) {
    const answer = await page.$eval('#answer', (e) => e.textContent).catch(() => '');
    throw new Error(`${what}: not within ${WAIT_MS} ms (the page's last answer: "${answer}")\n${err.message}`);
  }
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent);
const fact = (page, name) => text(page, `#facts [data-fact="${name}"]`);

async function typeInto(page, sel, value) {
  await page.$eval(sel, (e) => { e.value = ''; });
  await page.type(sel, value);
}

async function execute(page, graphId, runtime, options) {
  await until(page, `graph ${graphId} in the execute form`, (id) => [...document.querySelectorAll('#exec-graph option')].some((o) => o.value === id), graphId);
  const before = await page.$eval('#detail-h', (e) => e.title);
  await page.select('#exec-graph', graphId);
  await page.select('#exec-runtime', runtime);
  await typeInto(page, '#exec-options', options);
  await page.click('#execute');
  await until(page, 'the new execution shown', (b) => document.querySelector('#detail-h').title && document.querySelector('#detail-h').title !== b, before);
  return page.$eval('#detail-h', (e) => e.title);
}

async function inject(page, nodeId, value, after) {
  await page.select('#inject-node', nodeId);
  await typeInto(page, '#inject-value', value);
  if (after !== undefined) await typeInto(page, '#inject-after', String(after));
  const before = await text(page, '#answer');
  await page.$eval('#answer', (e) => { e.textContent = ''; });
  await page.click('#inject');
  await until(page, `the answer to inject ${value}`, () => /^inject: /.test(document.querySelector('#answer').textContent));
  return before;
}

async function command(page, button, what) {
  await page.$eval('#answer', (e) => { e.textContent = ''; });
  await page.click(button);
  await until(page, `the answer to ${what}`, (w) => document.querySelector('#answer').textContent.startsWith(`${w}: `), what);
  return text(page, '#answer');
}

const nodeState = (page, id) => page.$eval(`#nodes tr[data-node="${id}"] td.state`, (e) => e.textContent);
const counter = (page, id, which) => page.$eval(`#graph [data-node-id="${id}"] .counters`, (e, w) => Number(e.getAttribute(`data-${w}`)), which);

async function pageScenario() {
  const quick = await postGraph('quick-reference.json');
  const batches = await postGraph(null, BATCHES);
  const diamond = await postGraph('merge-diamond.json');
  const { browser, page, problems } = await launch();
  try {
    await page.goto(`${base}/`, { waitUntil: 'load' });
    await until(page, 'the socket live', () => document.querySelector('#conn').dataset.status === 'open');
    await until(page, 'three graphs listed from the graphs view', () => document.querySelectorAll('#graphs tbody tr').length === 3);
    assert.match(await text(page, '#graphs tbody'), /Simple Pipeline/);

    // --- execute the quick-reference graph and see its nodes drawn
    const x1 = await execute(page, quick, 'realtime', '{"completion": "never"}');
    for (const id of ['input', 'double', 'output'])
      await until(page, `node ${id} drawn`, (n) => document.querySelector(`#graph [data-node-id="${n}"]`), id);
    await until(page, 'the execution listed', (x) => document.querySelector(`#executions tr[data-execution-id="${x}"]`), x1);
    assert.equal(await fact(page, 'state'), 'running');

    // --- the long lists are drawn as rows of grids (style.css), and are
    // still tables, with rows, headers and cells, to assistive technology:
    // their markup says so (browsers that drop a table's semantics when it
    // is not displayed as one read these roles), and Chromium's
    // accessibility tree shows it (puppeteer reads none over WebDriver BiDi)
    await until(page, 'the node rows', () => document.querySelectorAll('#nodes tbody tr').length === 3);
    const missing = await page.evaluate(() => {
      const bad = [];
      for (const t of document.querySelectorAll('#executions, #nodes')) {
        const want = (el, role) => { if (el.getAttribute('role') !== role) bad.push(`${t.id} ${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}: role ${el.getAttribute('role')}, not ${role}`); };
        want(t, 'table');
        for (const g of t.querySelectorAll('thead, tbody')) want(g, 'rowgroup');
        for (const r of t.querySelectorAll('tr')) want(r, 'row');
        for (const c of t.querySelectorAll('thead th')) want(c, 'columnheader');
        for (const c of t.querySelectorAll('tbody th')) want(c, 'rowheader');
        for (const c of t.querySelectorAll('td')) want(c, 'cell');
      }
      return bad;
    });
    assert.deepEqual(missing, [], 'every part of the lists has its table role');
    if (BROWSER !== 'firefox') {
      for (const sel of ['#executions', '#nodes']) {
        const ax = await page.accessibility.snapshot({ root: await page.$(sel), interestingOnly: false });
        const roles = [];
        const walk = (n) => { roles.push(n.role); for (const c of n.children || []) walk(c); };
        walk(ax);
        assert.equal(ax.role, 'table', `${sel} is a table to assistive technology (roles: ${roles.join(' ')})`);
        for (const want of ['row', 'columnheader', 'cell'])
          assert.ok(roles.includes(want), `${sel} has a ${want} (roles: ${roles.join(' ')})`);
      }
    }
    // and no list is wider than its box (the columns give way)
    const wide = await page.evaluate(() => [...document.querySelectorAll('.scroll')].filter((s) => s.scrollWidth > s.clientWidth + 1).map((s) => `${s.querySelector('table').id}: ${s.scrollWidth} > ${s.clientWidth}`));
    assert.deepEqual(wide, [], 'the lists fit their boxes');

    // --- the inject form checks its JSON
    await page.select('#inject-node', 'input');
    await typeInto(page, '#inject-value', '{"a": 21,}');
    await page.click('#inject');
    await until(page, 'the JSON error shown', () => /line 1, column 10: .*trailing comma/.test(document.querySelector('#inject-error').textContent));
    assert.equal(await page.$eval('#inject-value', (e) => e.getAttribute('aria-invalid')), 'true');

    // --- inject 21: 42 in the outputs, the counters move
    assert.equal(await counter(page, 'double', 'invocations'), 0);
    await inject(page, 'input', '21');
    assert.equal(await text(page, '#inject-error'), '');
    await until(page, '42 in the outputs panel', () => [...document.querySelectorAll('#outputs li')].some((li) => /output:out/.test(li.textContent) && /\b42\b/.test(li.textContent)));
    await until(page, 'the double node counted one invocation', () => document.querySelector('#graph [data-node-id="double"] .counters').getAttribute('data-invocations') === '1');
    await until(page, 'processed counted in the executions list', (x) => document.querySelector(`#executions tr[data-execution-id="${x}"]`).cells[4].textContent === '3', x1);
    assert.match(await text(page, '#answer'), /outputs output:out = 42/);
    await until(page, 'the log line of the logger', () => /42/.test(document.querySelector('#logs').textContent));

    // --- explain the output: the hops from the inject
    await page.click('#outputs li button');
    await until(page, 'the explanation', () => !document.querySelector('#explain').hidden);
    const why = await text(page, '#explain');
    assert.match(why, /inject → input:in {2}21/);
    assert.match(why, /input:out → double:in {2}21/);
    assert.match(why, /double:out → output:in {2}42/);

    // --- pause and resume from the page
    assert.match(await command(page, '#pause', 'pause'), /"state":"paused"/);
    await until(page, 'paused in the facts', () => document.querySelector('#facts [data-fact="state"]').textContent === 'paused');
    await until(page, 'paused in the list', (x) => document.querySelector(`#executions tr[data-execution-id="${x}"]`).cells[2].textContent === 'paused', x1);
    assert.equal(await page.$eval('#pause', (e) => e.disabled), true);
    assert.match(await command(page, '#resume', 'resume'), /"state":"running"/);
    await until(page, 'running again', () => document.querySelector('#facts [data-fact="state"]').textContent === 'running');
    await inject(page, 'input', '5');
    await until(page, '10 in the outputs, newest first', () => /\b10\b/.test(document.querySelector('#outputs li').textContent));
    await shot(page, 'live');

    // --- time travel over a stored execution, then fork
    const x2 = await execute(page, batches, 'realtime', '{"completion": "never"}');
    await until(page, 'the batch node drawn', () => document.querySelector('#graph [data-node-id="batch"]'));
    assert.equal(await fact(page, 'stored'), 'yes', 'a server with a data directory journals executions');
    for (const v of ['5', '7', '11']) await inject(page, 'readings', v);
    await until(page, 'the buffer holds three readings', () => document.querySelector('#nodes tr[data-node="batch"] td.state').textContent === '{"buffer":[5,7,11]}');
    await until(page, 'the slider over ticks 0..3', () => !document.querySelector('#travel').hidden && document.querySelector('#slider').max === '3');
    assert.equal(await page.$eval('#slider', (e) => e.value), '3');
    // drag the thumb from the right end to a third of the way (tick 1)
    const box = await (await page.$('#slider')).boundingBox();
    const y = box.y + box.height / 2;
    await page.mouse.move(box.x + box.width - 4, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, y, { steps: 5 });
    await page.mouse.move(box.x + box.width * 0.34, y, { steps: 5 });
    await page.mouse.up();
    await until(page, 'the slider at tick 1', () => document.querySelector('#slider').value === '1');
    await until(page, 'the state at tick 1', () => document.querySelector('#nodes tr[data-node="batch"] td.state').textContent === '{"buffer":[5]}');
    assert.equal(await text(page, '#nodes-at'), 'at tick 1');
    await until(page, 'the drawing at tick 1', () => document.querySelector('#graph [data-node-id="batch"] .counters').getAttribute('data-invocations') === '1');
    assert.match(await text(page, '#travel-note'), /at tick 1/);
    await shot(page, 'travel');
    // the keyboard moves it too
    await page.focus('#slider');
    await page.keyboard.press('ArrowRight');
    await until(page, 'the state at tick 2', () => document.querySelector('#nodes tr[data-node="batch"] td.state').textContent === '{"buffer":[5,7]}');
    await page.click('#live');
    await until(page, 'back to live', () => document.querySelector('#nodes tr[data-node="batch"] td.state').textContent === '{"buffer":[5,7,11]}' && document.querySelector('#nodes-at').textContent === 'live');

    // fork from tick 2: a new execution on virtual with the state of tick 2
    await page.focus('#slider');
    await page.keyboard.press('ArrowLeft');
    await until(page, 'the state at tick 2 again', () => document.querySelector('#nodes tr[data-node="batch"] td.state').textContent === '{"buffer":[5,7]}');
    await page.click('#fork');
    await until(page, 'the fork shown', (x) => document.querySelector('#detail-h').title !== x, x2);
    const fork = await page.$eval('#detail-h', (e) => e.title);
    assert.match(await text(page, '#answer'), new RegExp(`fork: execution ${fork} from tick 2 on virtual`));
    await until(page, 'the fork on virtual', () => document.querySelector('#facts [data-fact="runtime"]').textContent === 'virtual');
    await until(page, 'the fork starts from the state of tick 2', () => { const td = document.querySelector('#nodes tr[data-node="batch"] td.state'); return td && td.textContent === '{"buffer":[5,7]}'; });
    assert.equal(await page.$eval('#virtual-controls', (e) => e.hidden), false, 'ready to step: the virtual controls are there');
    await inject(page, 'readings', '13');
    await until(page, 'the fork goes its own way', () => document.querySelector('#nodes tr[data-node="batch"] td.state').textContent === '{"buffer":[5,7,13]}');
    await until(page, 'the fork listed', (x) => document.querySelector(`#executions tr[data-execution-id="${x}"]`), fork);
    await shot(page, 'fork');

    // --- a virtual execution, stepped
    await execute(page, diamond, 'virtual', '{"completion": "never"}');
    await until(page, 'the virtual controls', () => !document.querySelector('#virtual-controls').hidden);
    await until(page, 'the join node drawn', () => document.querySelector('#graph [data-node-id="join"]'));
    await inject(page, 'source', '{"celsius": 100}', 1);
    assert.match(await text(page, '#answer'), /scheduled for tick 1/);
    const stepped = [];
    for (const [n, node] of [[1, 'source'], [2, 'celsius'], [3, 'fahrenheit']]) {
      const a = await command(page, '#step', 'step');
      stepped.push(a);
      assert.match(a, new RegExp(`1 invocation\\(s\\): ${node}:in`), `step ${n}`);
      await until(page, `${node} invoked once (step ${n})`, (id) => document.querySelector(`#graph [data-node-id="${id}"] .counters`).getAttribute('data-invocations') === '1', node);
    }
    assert.equal(await counter(page, 'join', 'invocations'), 0, 'three steps: three invocations, join not yet');
    assert.match(await command(page, '#step', 'step'), /join:c/);
    await until(page, 'the join holds celsius', () => document.querySelector('#nodes tr[data-node="join"] td.state').textContent === '{"pending":{"c":[100]}}');
    await shot(page, 'virtual');

    // --- register a component: its errors, then one that compiles
    await page.click('details.box summary');
    await typeInto(page, '#comp-id', 'acme.test.broken');
    await typeInto(page, '#comp-source', 'return { process: (ctx, port, value) => { ');
    await page.click('#component-form button[type="submit"]');
    await until(page, 'the component error', () => /^400 .*does not compile/.test(document.querySelector('#comp-answer').textContent));
    await typeInto(page, '#comp-id', 'acme.test.twice');
    await typeInto(page, '#comp-source', "return { process: async (ctx, port, value) => ctx.emit('out', value * 2) }");
    await page.click('#component-form button[type="submit"]');
    await until(page, 'the component registered', () => /^registered acme\.test\.twice/.test(document.querySelector('#comp-answer').textContent));
    const got = await rest('GET', '/api/components/acme.test.twice');
    assert.equal(got.status, 200);

    // --- readable in dark mode too
    if (BROWSER === 'firefox') {
      const dark = await launch(true);
      try {
        await dark.page.goto(`${base}/#x=${x1}`, { waitUntil: 'load' });
        await until(dark.page, 'the execution drawn in dark mode', () => document.querySelectorAll('#graph [data-node-id]').length > 0);
        const bg = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        assert.equal(bg, 'rgb(17, 19, 23)', 'the dark palette');
        await shot(dark.page, 'dark');
      } finally {
        await dark.browser.close();
      }
    } else {
      await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(bg, 'rgb(17, 19, 23)', 'the dark palette');
      await shot(page, 'dark');
    }

    // the broken component's 400 is the one error status the page asked for
    const unexpected = problems.filter((p) => !/\/api\/components|status of 400/.test(p));
    assert.deepEqual(unexpected, [], 'no page errors, failed requests or error statuses');
  } finally {
    await browser.close();
  }
}

async function authScenario() {
  const quick = await postGraph('quick-reference.json');
  const { browser, page, problems } = await launch();
  try {
    await page.goto(`${base}/`, { waitUntil: 'load' });
    await until(page, 'the key prompt', () => document.querySelector('#key-dialog').open);
    assert.match(await text(page, '#key-reason'), /requires an API key/);
    await shot(page, 'auth');
    await page.type('#key-input', 'not-the-key');
    await page.click('#key-ok');
    await until(page, 'the wrong key refused', () => document.querySelector('#key-dialog').open && /refused the key/.test(document.querySelector('#key-reason').textContent));
    await page.type('#key-input', apiKey);
    await page.click('#key-ok');
    await until(page, 'the prompt closed', () => !document.querySelector('#key-dialog').open);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('weir.apiKey')), apiKey, 'kept in session storage');
    await until(page, 'the socket live with the key', () => document.querySelector('#conn').dataset.status === 'open');
    await until(page, 'the graph listed', () => document.querySelectorAll('#graphs tbody tr').length === 1);
    await execute(page, quick, 'realtime', '{"completion": "never"}');
    await until(page, 'node double drawn', () => document.querySelector('#graph [data-node-id="double"]'));
    await inject(page, 'input', '21');
    await until(page, '42 in the outputs panel', () => [...document.querySelectorAll('#outputs li')].some((li) => /\b42\b/.test(li.textContent)));
    // a reload keeps the key (same tab): no prompt
    await page.reload({ waitUntil: 'load' });
    await until(page, 'live again without a prompt', () => document.querySelector('#conn').dataset.status === 'open' && !document.querySelector('#key-dialog').open && document.querySelectorAll('#executions tbody tr').length === 1);
    await shot(page, 'auth-done');
    const unexpected = problems.filter((p) => !/status of 40[13]|HTTP 40[13]/.test(p));
    assert.deepEqual(unexpected, [], 'no page errors besides the 401/403 that ask for the key');
  } finally {
    await browser.close();
  }
}

// A source fanned out to CHAINS chains of LINKS passthroughs: one inject is
// 1 + CHAINS * LINKS hops, one on every edge.
const CHAINS = 40, LINKS = 5;
function fanOut() {
  const def = { symbia: '1.0', name: 'Fan-out', version: '1.0.0', nodes: [{ id: 'src', component: 'symbia.core.passthrough' }], edges: [] };
  for (let c = 0; c < CHAINS; c++) {
    let prev = 'src';
    for (let i = 0; i < LINKS; i++) {
      const id = `c${c}n${i}`;
      def.nodes.push({ id, component: 'symbia.core.passthrough' });
      def.edges.push({ id: `e${c}_${i}`, source: { node: prev, port: 'out' }, target: { node: id, port: 'in' } });
      prev = id;
    }
  }
  return def;
}

// Injects into x's src at `perSec` a second (at most 64 in flight) until
// stop(); rate(ps) changes the pace.
function pump(x, perSec) {
  let pace = perSec, stopped = false, sent = 0, failed = 0, t0 = Date.now(), base0 = 0;
  const inflight = new Set();
  const done = (async () => {
    while (!stopped) {
      const due = base0 + Math.floor(((Date.now() - t0) / 1000) * pace) - sent;
      for (let i = 0; i < due && inflight.size < 64; i++) {
        sent++;
        const p = rest('POST', `/api/executions/${x}/inject`, { nodeId: 'src', value: sent, wait: false })
          .then((r) => { if (r.status >= 300) failed++; }, () => { failed++; })
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(inflight);
  })();
  return {
    rate(ps) { base0 = sent; t0 = Date.now(); pace = ps; },
    async stop() { stopped = true; await done; return failed; },
  };
}

// Messages emitted a second by execution x (its counters: what the page's
// old gate went by), over `ms`.
async function hopRate(x, ms) {
  const emitted = async () => (await rest('GET', `/api/executions/${x}`)).json.metrics.messagesEmitted;
  const a = await emitted(), t = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return ((await emitted()) - a) / ((Date.now() - t) / 1000);
}

// The rate a busy edge shows (its data-rate, "1.2k/s"), as a number, or null.
const shownRate = (page, edge) => page.$eval(`#graph path.edge[data-edge-id="${edge}"]`, (e) => {
  const m = /^([0-9.]+)(k|M)?\/s$/.exec(e.getAttribute('data-rate') || '');
  return m ? Number(m[1]) * (m[2] === 'k' ? 1e3 : m[2] === 'M' ? 1e6 : 1) : null;
});

async function ratesScenario() {
  const graph = await postGraph(null, fanOut());
  const x = await rest('POST', `/api/graphs/${graph}/execute`, { completion: 'never' });
  assert.equal(x.status, 201, x.text);
  const id = x.json.executionId;
  // Firefox is launched dark; Chromium is switched to dark after the light shot
  const { browser, page, problems } = await launch(BROWSER === 'firefox');
  const flow = pump(id, 150);
  try {
    await page.goto(`${base}/#x=${id}`, { waitUntil: 'load' });
    await until(page, 'the fan-out drawn', (n) => document.querySelectorAll('#graph [data-node-id]').length === n, 1 + CHAINS * LINKS);
    // 150 injects/s x 201 emits: well above the 5,000 hops/s the page used to stop at
    const fast = await hopRate(id, 1000);
    assert.ok(fast > 5000, `the load is above 5,000 messages emitted/s (${Math.round(fast)}/s)`);
    const busyEdges = () => page.evaluate(() => [...document.querySelectorAll('#graph path.edge.busy[data-rate]')].map((e) => e.getAttribute('data-edge-id')));
    try {
      await until(page, 'every edge busy with a rate shown', (n) => document.querySelectorAll('#graph path.edge.busy[data-rate]').length === n, CHAINS * LINKS);
    } catch (err) {
      throw new Error(`${err.message}\nbusy edges with a rate: ${(await busyEdges()).length}; the page's hop rate: "${await text(page, '#rate')}"`);
    }
    // the one edge each inject crosses last, and one in the middle: each
    // carries one hop per inject, so both show about the inject rate
    const edge = `e7_${LINKS - 1}`;
    const r1 = await shownRate(page, edge);
    assert.ok(r1 > 0, `edge ${edge} shows a rate`);
    // the rates are drawn: busy-coloured pixels on the canvas over the drawing
    const inked = await page.$eval('#graph canvas.weir-graph-rates', (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
    assert.ok(inked > 1000, `the rates canvas has ${inked} pixels drawn`);
    // zoomed in (keys), where the labels can be read, for the screenshots
    await page.focus('#graph .weir-graph');
    for (let i = 0; i < 4; i++) await page.keyboard.press('Equal');
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await shot(page, BROWSER === 'firefox' ? 'rates-dark' : 'rates');
    if (BROWSER !== 'firefox') {
      await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
      await until(page, 'the dark palette', () => getComputedStyle(document.body).backgroundColor === 'rgb(17, 19, 23)');
      // the canvas is redrawn in the dark colours at its next refresh
      await until(page, 'the rates redrawn dark', () => {
        const c = document.querySelector('#graph canvas.weir-graph-rates');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3] === 255 && d[i] === 0xfb && d[i + 1] === 0x92 && d[i + 2] === 0x3c) return true;
        return false;
      });
      await shot(page, 'rates-dark');
    }
    // a third of the pace: still above 5,000 hops/s, and the edge shows its new rate
    flow.rate(40);
    // (the server may first work off injects queued at the faster pace)
    let slow = await hopRate(id, 1000);
    for (let i = 0; i < 10 && !(slow < fast * 0.8); i++) slow = await hopRate(id, 1000);
    assert.ok(slow > 5000 && slow < fast * 0.8, `slower, still above 5,000 hops/s (${Math.round(slow)}/s, was ${Math.round(fast)}/s)`);
    // one hop per inject on this edge: it shows the inject rate, roughly
    // (the server samples the hops and the page scales them back)
    const perEdge = slow / (1 + CHAINS * LINKS);
    await until(page, `edge ${edge} showing a rate under 0.7 x ${r1}/s, about ${Math.round(perEdge)}/s`, (e, was, want) => {
      const el = document.querySelector(`#graph path.edge[data-edge-id="${e}"]`);
      const m = /^([0-9.]+)(k)?\/s$/.exec(el.getAttribute('data-rate') || '');
      const r = m && Number(m[1]) * (m[2] ? 1e3 : 1);
      return r && r < 0.7 * was && r > want / 2 && r < want * 2;
    }, edge, r1, perEdge);
    const unexpected = problems.filter((p) => !/status of 4/.test(p));
    assert.deepEqual(unexpected, [], 'no page errors');
  } finally {
    assert.equal(await flow.stop(), 0, 'every inject accepted');
    await browser.close();
  }
}

const nodeSel = (id) => `#graph [data-node-id="${id}"]`;
const drawnIds = (page) => page.$$eval('#graph [data-node-id]', (gs) => gs.map((g) => g.getAttribute('data-node-id')).sort());
const untilCount = (page, id, n) => until(page, `${id} counting ${n} invocations`, (sel, want) => {
  const c = document.querySelector(`${sel} .counters`);
  return c && c.getAttribute('data-invocations') === String(want);
}, nodeSel(id), n);

async function composeScenario() {
  const doc = (f) => JSON.parse(fs.readFileSync(path.join(examples, 'compose', f), 'utf8'));
  await postGraph(null, doc('enrich.json'));
  const orders = await postGraph(null, doc('main.json'));
  const { browser, page, problems } = await launch();
  try {
    await page.goto(`${base}/`, { waitUntil: 'load' });
    await until(page, 'the socket live', () => document.querySelector('#conn').dataset.status === 'open');
    await execute(page, orders, 'realtime', '{"completion": "never"}');
    await until(page, 'the declared graph drawn', () => document.querySelectorAll('#graph [data-node-id]').length === 6);
    assert.deepEqual(await drawnIds(page), ['bulk', 'bulkQty', 'join', 'order', 'report', 'retail'], 'each graph node is one node');
    const retail = await page.$eval(nodeSel('retail'), (g) => ({
      sub: g.classList.contains('subgraph'), text: g.textContent, inner: g.querySelectorAll('.node-box-inner').length,
      ports: [...g.querySelectorAll('[data-port]')].map((p) => p.getAttribute('data-port')), label: g.getAttribute('aria-label'),
    }));
    assert.ok(retail.sub, 'marked as a subgraph');
    assert.equal(retail.inner, 1, 'a double border');
    assert.match(retail.text, /subgraph enrich@1/);
    assert.deepEqual(retail.ports, ['in', 'out', 'error'], 'its ports as its mapping names them');
    assert.match(retail.label, /Enter to open/);
    const edgeEnd = (id, end) => page.$eval(`#graph path.edge[data-edge-id="${id}"]`, (e, w) => e.getAttribute(`data-${w}`), end);
    assert.equal(await edgeEnd('e1', 'target'), 'retail:in');
    assert.equal(await edgeEnd('e4', 'source'), 'retail:out');
    assert.equal(await page.$('#graph path.edge[data-edge-id="retail/e1"]'), null, 'its inner edge is inside it');

    // the inject form offers the graph node and its input port
    await page.select('#inject-node', 'retail');
    assert.deepEqual(await page.$$eval('#inject-port option', (os) => os.map((o) => o.value)), ['in']);
    assert.match(await page.$eval('#inject-node option[value="retail"]', (o) => o.textContent), /subgraph enrich@1/);

    // an order: each graph node counts its two inner nodes' invocations
    assert.equal(await counter(page, 'retail', 'invocations'), 0);
    await inject(page, 'order', '{"sku": "apple", "qty": 2}');
    await until(page, 'the report in the outputs', () => /2 apple: 6; 20: 60/.test(document.querySelector('#outputs').textContent));
    await untilCount(page, 'retail', 2);
    await untilCount(page, 'bulk', 2);
    // into the graph node itself (its port in: retail/lookup's in)
    await inject(page, 'retail', '{"sku": "pear", "qty": 1}');
    assert.equal(await page.$eval('#inject-port', (s) => s.value), 'in');
    assert.match(await text(page, '#answer'), /^inject: tick 2/);
    await untilCount(page, 'retail', 4);
    assert.equal(await counter(page, 'bulk', 'invocations'), 2, 'bulk was not reached');
    await until(page, 'the node table lists the inner nodes by path', () => document.querySelector('#nodes tr[data-node="retail/lookup"] td').textContent === '2');
    await shot(page, 'compose');

    // a click opens it: its inner nodes, its inner edge, their own counters
    await page.click(nodeSel('retail'));
    await until(page, 'retail opened', () => document.querySelector('#graph [data-node-id="retail/total"]') && !document.querySelector('#graph [data-node-id="order"]'));
    assert.deepEqual(await drawnIds(page), ['retail/lookup', 'retail/total']);
    assert.equal(await page.$eval(`${nodeSel('retail/lookup')} .node-id`, (t) => t.textContent), 'lookup');
    assert.ok(await page.$('#graph path.edge[data-edge-id="retail/e1"]'), 'the inner edge drawn');
    assert.deepEqual(await page.$$eval('#graph path.edge.border', (ps) => ps.map((p) => p.getAttribute('data-border'))), ['in:in', 'out:out', 'out:error'],
      'its own ports drawn into and out of it');
    await untilCount(page, 'retail/lookup', 2);
    await untilCount(page, 'retail/total', 2);
    assert.match(await text(page, '#graph .weir-graph-crumbs'), /Back.*orders.*›.*retail \(enrich@1\)/);
    assert.equal(await page.$eval('#inject-node', (s) => s.value), 'retail', 'opening it chose it in the inject form');
    // live while open: another order counts on the inner nodes
    await inject(page, 'order', '{"sku": "apple", "qty": 3}');
    await untilCount(page, 'retail/lookup', 3);
    await untilCount(page, 'retail/total', 3);
    await shot(page, 'compose-open');

    // Escape (in the drawing) goes back, to the graph node, focused; the sums moved on
    await page.focus('#graph .weir-graph');
    await page.keyboard.press('Escape');
    await until(page, 'back at the top, retail focused', () => document.activeElement && document.activeElement.getAttribute('data-node-id') === 'retail');
    await untilCount(page, 'retail', 6);
    await untilCount(page, 'bulk', 4);
    // Enter opens it again; the breadcrumb goes back
    await page.keyboard.press('Enter');
    await until(page, 'retail opened by Enter', () => document.querySelector('#graph [data-node-id="retail/lookup"]'));
    await page.click('#graph .weir-graph-crumbs button.crumb');
    await until(page, 'back by the breadcrumb', () => document.querySelector('#graph [data-node-id="retail"]') && document.querySelector('#graph .weir-graph-crumbs').hidden);
    // Space opens the other use of the same graph, with its own counters
    await page.$eval(nodeSel('bulk'), (g) => g.focus()); // (page.focus takes HTML elements only)
    await page.keyboard.press(' '); // Space (Firefox's WebDriver BiDi knows it by its key only)
    await until(page, 'bulk opened by Space', () => document.querySelector('#graph [data-node-id="bulk/lookup"]'));
    await untilCount(page, 'bulk/lookup', 2);
    await page.keyboard.press('Escape');
    await until(page, 'back from bulk', () => document.activeElement && document.activeElement.getAttribute('data-node-id') === 'bulk');

    // the time slider: at tick 1 the graph nodes show tick 1's sums
    await until(page, 'the slider over ticks 0..3', () => !document.querySelector('#travel').hidden && document.querySelector('#slider').max === '3');
    await page.focus('#slider');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await until(page, 'the drawing at tick 1', () => document.querySelector('#nodes-at').textContent === 'at tick 1');
    await untilCount(page, 'retail', 2);
    await untilCount(page, 'bulk', 2);
    // opened at a past tick: the inner nodes of that tick
    await page.click(nodeSel('retail'));
    await untilCount(page, 'retail/lookup', 1);
    await page.click('#live');
    await untilCount(page, 'retail/lookup', 3);
    assert.match(await page.$eval('#graph .weir-graph', (r) => r.getAttribute('aria-label')), /inside retail/);

    if (BROWSER !== 'firefox') { // (Firefox is told its colour scheme at launch only)
      await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
      await shot(page, 'compose-open-dark');
      await page.$eval('#graph .weir-graph', (r) => r.focus());
      await page.keyboard.press('Escape');
      await until(page, 'back at the top in dark mode', () => document.querySelector('#graph [data-node-id="retail"]'));
      await shot(page, 'compose-dark');
    }

    // nested: a graph whose graph node uses enrich opens level by level
    if (BROWSER !== 'firefox') await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
    const pricing = await postGraph(null, {
      symbia: '1.0', name: 'pricing', version: '2',
      metadata: { ports: { inputs: [{ name: 'order', node: 'price', port: 'in' }], outputs: [{ name: 'priced', node: 'price', port: 'out' }] } },
      nodes: [{ id: 'price', component: 'graph:enrich@1' }], edges: [],
    });
    assert.ok(pricing);
    const shop = await postGraph(null, {
      symbia: '1.0', name: 'shop', version: '1',
      nodes: [{ id: 'src', component: 'symbia.core.passthrough' }, { id: 'p', component: 'graph:pricing' }, { id: 'sink', component: 'symbia.core.passthrough' }],
      edges: [{ id: 'a', source: { node: 'src', port: 'out' }, target: { node: 'p', port: 'order' } }, { id: 'b', source: { node: 'p', port: 'priced' }, target: { node: 'sink', port: 'in' } }],
    });
    await execute(page, shop, 'realtime', '{"completion": "never"}');
    await until(page, 'shop drawn', () => document.querySelectorAll('#graph [data-node-id]').length === 3);
    assert.deepEqual(await page.$eval(nodeSel('p'), (g) => [...g.querySelectorAll('[data-port]')].map((x) => x.getAttribute('data-port'))), ['order', 'priced']);
    await inject(page, 'src', '{"sku": "apple", "qty": 1}');
    await untilCount(page, 'p', 2);
    await page.click(nodeSel('p'));
    await until(page, 'p opened', () => document.querySelector('#graph [data-node-id="p/price"]'));
    assert.deepEqual(await drawnIds(page), ['p/price']);
    assert.ok(await page.$eval(nodeSel('p/price'), (g) => g.classList.contains('subgraph')), 'the nested graph node is one node');
    await untilCount(page, 'p/price', 2);
    assert.deepEqual(await page.$$eval('#graph path.edge.border', (ps) => ps.map((x) => x.getAttribute('data-border'))), ['in:order', 'out:priced']);
    await page.$eval(nodeSel('p/price'), (g) => g.focus());
    await page.keyboard.press('Enter');
    await until(page, 'p/price opened', () => document.querySelector('#graph [data-node-id="p/price/lookup"]'));
    await untilCount(page, 'p/price/lookup', 1);
    assert.match(await text(page, '#graph .weir-graph-crumbs'), /shop.*›.*p \(pricing@2\).*›.*price \(enrich@1\)/);
    await shot(page, 'compose-nested');
    await page.keyboard.press('Escape');
    await until(page, 'back in p', () => document.activeElement && document.activeElement.getAttribute('data-node-id') === 'p/price');
    await page.keyboard.press('Escape');
    await until(page, 'back at the top of shop', () => document.activeElement && document.activeElement.getAttribute('data-node-id') === 'p');
    const unexpected = problems.filter((p) => !/status of 4/.test(p));
    assert.deepEqual(unexpected, [], 'no page errors');
  } finally {
    await browser.close();
  }
}

run(async () => {
  if (scenario === 'page') await pageScenario();
  else if (scenario === 'compose') await composeScenario();
  else if (scenario === 'auth') await authScenario();
  else if (scenario === 'rates') await ratesScenario();
  else throw new Error(`unknown scenario ${scenario}`);
});
