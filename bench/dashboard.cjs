// Figures of the dashboard in headless chromium (bench/dashboard.sh runs it
// against a weir serve it started):
//   1. time to first paint of / (and until its lists and drawing are
//      complete) with EXECS executions and a NODES-node graph loaded;
//   2. frames per second of the page while RATE port:emit events/s flow to
//      it (a rAF counter in the page, and the longest frame), and how many
//      events per second the page really received.
// usage: node dashboard.cjs PORT [EXECS=1000] [NODES=200] [RATE=100000]
'use strict';
const puppeteer = require('puppeteer-core');

const port = process.argv[2];
const EXECS = Number(process.argv[3] || 1000);
const NODES = Number(process.argv[4] || 200);
const RATE = Number(process.argv[5] || 100000);
const base = `http://127.0.0.1:${port}`;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function api(method, path, body) {
  const res = await fetch(base + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// A source fanned out to CHAINS chains of passthroughs: NODES nodes, and
// NODES - 1 hops per inject.
function bigGraph(nodes) {
  const chains = 20;
  const def = { symbia: '1.0', name: `fan-out ${nodes}`, version: '1.0.0', nodes: [{ id: 'src', component: 'symbia.core.passthrough' }], edges: [] };
  for (let c = 0; c < chains; c++) {
    let prev = 'src';
    const len = Math.floor((nodes - 1) / chains) + (c < (nodes - 1) % chains ? 1 : 0);
    for (let i = 0; i < len; i++) {
      const id = `c${c}n${i}`;
      def.nodes.push({ id, component: 'symbia.core.passthrough' });
      def.edges.push({ id: `e${c}_${i}`, source: { node: prev, port: 'out' }, target: { node: id, port: 'in' } });
      prev = id;
    }
  }
  return { def, hopsPerInject: def.nodes.length }; // the inject's hop and one per edge
}

async function openPage(browser, url) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1440, height: 1000 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url, { waitUntil: 'load' });
  return { page, errors };
}

async function main() {
  const quick = await api('POST', '/api/graphs', {
    symbia: '1.0', name: 'Simple Pipeline', version: '1.0.0',
    nodes: [{ id: 'input', component: 'symbia.core.passthrough' }, { id: 'double', component: 'symbia.core.map', config: { expression: 'value * 2' } }, { id: 'output', component: 'symbia.core.logger' }],
    edges: [{ id: 'e1', source: { node: 'input', port: 'out' }, target: { node: 'double', port: 'in' } }, { id: 'e2', source: { node: 'double', port: 'out' }, target: { node: 'output', port: 'in' } }],
  });
  const { def, hopsPerInject } = bigGraph(NODES);
  const big = await api('POST', '/api/graphs', def);
  for (let i = 0; i < EXECS - 1; i += 50)
    await Promise.all(Array.from({ length: Math.min(50, EXECS - 1 - i) }, () => api('POST', `/api/graphs/${quick.id}/execute`, { completion: 'never' })));
  const x = await api('POST', `/api/graphs/${big.id}/execute`, { completion: 'never' });
  const nodesInGraph = def.nodes.length;

  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, protocolTimeout: 120000, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    // 1. first paint (median of 3 fresh loads)
    const runs = [];
    for (let r = 0; r < 3; r++) {
      const ctx = await browser.createBrowserContext();
      const page = await ctx.newPage();
      await page.setViewport({ width: 1440, height: 1000 });
      await page.goto(`${base}/#x=${x.executionId}`, { waitUntil: 'load' });
      await page.waitForFunction((n, e) => document.querySelectorAll('#executions tbody tr').length === e
        && document.querySelectorAll('#graph [data-node-id]').length === n
        && document.querySelector('#graph [data-node-id="src"] .counters').getAttribute('data-invocations') !== null,
      { timeout: 60000, polling: 'raf' }, nodesInGraph, EXECS);
      const t = await page.evaluate(() => {
        const paint = Object.fromEntries(performance.getEntriesByType('paint').map((p) => [p.name, p.startTime]));
        return { fp: paint['first-paint'], fcp: paint['first-contentful-paint'], ready: performance.now() };
      });
      runs.push(t);
      await ctx.close();
    }
    const med = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[1];
    console.log(`dashboard with ${EXECS} executions and a ${nodesInGraph}-node graph: first paint ${med('fp').toFixed(0)} ms, first contentful paint ${med('fcp').toFixed(0)} ms, lists and drawing complete ${med('ready').toFixed(0)} ms (median of 3 loads)`);

    // 2. frames per second under RATE events/s
    const { page, errors } = await openPage(browser, `${base}/#x=${x.executionId}`);
    await page.waitForFunction((n) => document.querySelectorAll('#graph [data-node-id]').length === n, { timeout: 60000 }, nodesInGraph);
    const idle = await page.evaluate(measureFrames);
    let cdp = null;
    if (process.env.PROFILE) {
      cdp = await page.createCDPSession();
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    const injectsPerSec = RATE / hopsPerInject;
    let stop = false, sent = 0, failed = 0;
    const t0 = Date.now();
    const pump = (async () => {
      const agent = [];
      while (!stop) {
        const due = Math.floor(((Date.now() - t0) / 1000) * injectsPerSec) - sent;
        for (let i = 0; i < due && agent.length < 64; i++) {
          sent++;
          const p = fetch(`${base}/api/executions/${x.executionId}/inject`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nodeId: 'src', value: sent, wait: false }) })
            .then((r) => { if (r.status >= 300) failed++; return r.arrayBuffer(); })
            .catch(() => { failed++; })
            .finally(() => agent.splice(agent.indexOf(p), 1));
          agent.push(p);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(agent);
    })();
    await new Promise((r) => setTimeout(r, 2000)); // warm up
    const m = await page.evaluate(measureFrames);
    // the same load with "Animate hops" off: what the drawing of hops costs
    await page.click('#animate');
    await new Promise((r) => setTimeout(r, 1000));
    const still = await page.evaluate(measureFrames);
    stop = true;
    await pump;
    if (cdp) {
      const { profile } = await cdp.send('Profiler.stop');
      const self = new Map();
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      const counts = new Map();
      for (const s of profile.samples) counts.set(s, (counts.get(s) || 0) + 1);
      for (const [id, c] of counts) {
        const n = byId.get(id);
        const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
        self.set(k, (self.get(k) || 0) + c);
      }
      const total = profile.samples.length;
      console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, c]) => `${(100 * c / total).toFixed(1)}% ${k}`).join('\n'));
    }
    const elapsed = (Date.now() - t0) / 1000;
    const seen = m.rates.map((s) => Number(s.replace(/[^0-9]/g, '')) || 0);
    const avgSeen = seen.reduce((a, b) => a + b, 0) / Math.max(1, seen.length);
    const cut = m.rates.some((s) => /too fast|too many/.test(s));
    console.log(`dashboard under load: ${(sent * hopsPerInject / elapsed).toFixed(0)} port:emit events/s made (${(sent / elapsed).toFixed(0)} injects/s x ${hopsPerInject} hops, ${failed} failed); the page took ${avgSeen.toFixed(0)} hops/s${cut ? ' (it stopped asking for them: too fast to show, counters only, asked again later)' : ''}; ${m.fps.toFixed(1)} frames/s, longest frame ${m.worst.toFixed(0)} ms (rAF count over 5 s; idle before the load: ${idle.fps.toFixed(1)} frames/s, longest ${idle.worst.toFixed(0)} ms; the same load with "Animate hops" off: ${still.fps.toFixed(1)} frames/s, longest ${still.worst.toFixed(0)} ms)`);
    if (errors.length) console.log(`page errors: ${errors.join('; ')}`);
  } finally {
    await browser.close();
  }
}

// In the page: frames over 5 s, the longest, and the page's hop rate each second.
function measureFrames() {
  return new Promise((resolve) => {
    let frames = 0, worst = 0, last = performance.now();
    const start = last;
    const rates = [];
    const sample = setInterval(() => rates.push(document.querySelector('#rate').textContent), 1000);
    const tick = (now) => {
      frames++;
      worst = Math.max(worst, now - last);
      last = now;
      if (now - start < 5000) requestAnimationFrame(tick);
      else { clearInterval(sample); resolve({ fps: (frames * 1000) / (now - start), worst, rates }); }
    };
    requestAnimationFrame(tick);
  });
}

main().catch((err) => { console.error(err.stack || err); process.exit(1); });
