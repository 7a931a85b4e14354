// The dashboard in a real browser: Debian's headless chromium driven by
// puppeteer-core against the real weir serve (tests/blackbox/test_dashboard.c
// starts it).  usage: node dashboard.cjs PORT EXAMPLES_DIR SCENARIO ARTIFACTS_DIR [API_KEY]
//   page:  load /, see the graph drawn, execute, inject 21 and see 42 and the
//          counters move, explain, pause and resume, time travel over a stored
//          execution and fork from there, step a virtual execution, register a
//          component, dark mode;
//   auth:  the server wants a key: the page asks, refuses a wrong one, works
//          with the right one (REST and socket).
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

run(async () => {
  if (scenario === 'page') await pageScenario();
  else if (scenario === 'auth') await authScenario();
  else throw new Error(`unknown scenario ${scenario}`);
});
