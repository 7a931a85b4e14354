// Figures of the dashboard in headless chromium (bench/dashboard.sh runs it
// against a weir serve it started):
//   1. time to first paint of / (and until its lists and drawing are
//      complete) with EXECS executions and a NODES-node graph loaded;
//   2. frames per second of the page while RATE port:emit events/s flow to
//      it: the frames its compositor drew in Chromium's performance trace
//      (DrawFrame), the longest time between two, and how its main thread
//      spent the time; what Chromium's frame reporter made of each vsync
//      (presented, nothing new to draw, dropped: DrawFrame counts only
//      frames with something new, so a page that changes less often draws
//      fewer however fast it is: frames on time, presented or idle, are the
//      frame rate, dropped ones those it missed); a rAF count in the page
//      besides; how many hops per
//      second the page showed and how many edges showed a rate.  The same
//      with "Animate hops" off.
// TRACE=file writes the trace of the first measurement (chrome://tracing,
// Perfetto), TRACE_INP=file that of the keys typed; TRACE_MORE=cat1,cat2
// records more categories.
// usage: node dashboard.cjs PORT [EXECS=1000] [NODES=200] [RATE=100000]
// Environment: WEB_DIR=dir serves the page's files (index.html, *.js, *.css)
// from dir instead of the server's bundle, so that two versions of the page
// can be measured against one server, turn about; FPS_ONLY=1 skips the
// first paint; PROFILE=1 prints where the page's JavaScript spent its time.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const puppeteer = require('puppeteer-core');

const port = process.argv[2];
const EXECS = Number(process.argv[3] || 1000);
const NODES = Number(process.argv[4] || 200);
const RATE = Number(process.argv[5] || 100000);
const base = `http://127.0.0.1:${port}`;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const VIEW = { width: 1440, height: 1000 };

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

// WEB_DIR: the page's own files from a folder (the API and the socket still
// go to the server).
const WEB_DIR = process.env.WEB_DIR;
const TYPES = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };
async function serveWebDir(page) {
  if (!WEB_DIR) return;
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const u = new URL(req.url());
    const name = u.pathname === '/' ? 'index.html' : u.pathname.slice(1);
    const file = path.join(WEB_DIR, name);
    if (u.origin === base && /^[\w.-]+$/.test(name) && fs.existsSync(file))
      req.respond({ status: 200, headers: { 'content-type': TYPES[name.split('.').pop()] || 'application/octet-stream', 'cache-control': 'no-store' }, body: fs.readFileSync(file) });
    else req.continue();
  });
}

async function newPage(ctx) {
  const page = await ctx.newPage();
  await serveWebDir(page);
  return page;
}

async function openPage(browser, url) {
  const page = await newPage(browser);
  await page.setViewport(VIEW);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
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

  // The window is as large as the page's viewport: headless Chromium's
  // window is 800 x 600 by default, and a change to a viewport emulated
  // larger than it (setViewport) that falls outside those 800 x 600 is drawn
  // but not presented until something inside them changes, so an input
  // there would be timed to the next such change (up to 250 ms here), not to
  // its own frame.
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, protocolTimeout: 600000, args: ['--no-sandbox', '--disable-dev-shm-usage', `--window-size=${VIEW.width},${VIEW.height}`,
    // a file served by the bench (WEB_DIR) counts as from the public
    // internet, which may not open a socket to loopback
    ...(WEB_DIR ? ['--disable-features=LocalNetworkAccessChecks'] : [])] });
  try {
    // 1. first paint (median of 3 fresh loads)
    const runs = [];
    for (let r = 0; r < (process.env.FPS_ONLY ? 0 : 3); r++) {
      const ctx = await browser.createBrowserContext();
      const page = await newPage(ctx);
      await page.setViewport(VIEW);
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
    if (runs.length) console.log(`dashboard with ${EXECS} executions and a ${nodesInGraph}-node graph: first paint ${med('fp').toFixed(0)} ms, first contentful paint ${med('fcp').toFixed(0)} ms, lists and drawing complete ${med('ready').toFixed(0)} ms (median of 3 loads)`);

    // 2. frames per second under RATE events/s
    const { page, errors } = await openPage(browser, `${base}/#x=${x.executionId}`);
    await page.waitForFunction((n) => document.querySelectorAll('#graph [data-node-id]').length === n, { timeout: 60000 }, nodesInGraph)
      .catch((err) => { throw new Error(`${err.message} (page errors: ${errors.join('; ')})`); });
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
    // The load: injects over one WebSocket (acknowledged, at most 64 in
    // flight), or with PUMP=http one POST each (which costs the bench about
    // half a core of its own at 500/s, taken from the page on a small
    // machine).
    const pump = (process.env.PUMP === 'http' ? httpPump : wsPump)(x.executionId, injectsPerSec, () => stop, (n, f) => { sent = n; failed = f; });
    await new Promise((r) => setTimeout(r, 2000)); // warm up
    const m = await measure(page, process.env.TRACE);
    // responsiveness (hops animated): keys typed into the inject form's
    // value, timed by the browser from the input to the next paint (Event
    // Timing, as INP; the field ends as it began)
    await page.click('#inject-value');
    const typed = await interactions(page, 10, (p, i) => p.keyboard.press(i % 2 ? 'Backspace' : '1'), process.env.TRACE_INP);
    // the same load with "Animate hops" off: what the drawing of hops costs
    await page.click('#animate');
    await new Promise((r) => setTimeout(r, 1000));
    const still = await measure(page);
    // and clicks on "Animate hops" (on, off, ...: each one asks the server
    // for other events)
    const inp = await interactions(page, 10, (p) => p.click('#animate'));
    stop = true;
    const elapsed = (Date.now() - t0) / 1000; // the load's time, not its drain
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
    const seen = m.rates.map((s) => Number(s.replace(/[^0-9]/g, '')) || 0);
    const avgSeen = seen.reduce((a, b) => a + b, 0) / Math.max(1, seen.length);
    const cut = m.rates.some((s) => /too fast|too many/.test(s));
    console.log(`dashboard under load: ${(sent * hopsPerInject / elapsed).toFixed(0)} port:emit events/s made (${(sent / elapsed).toFixed(0)} injects/s x ${hopsPerInject} hops, ${failed} failed); the page took ${avgSeen.toFixed(0)} hops/s${cut ? ' (it stopped asking for them: too fast to show, counters only, asked again later)' : ''}${m.labels ? `, ${m.labels} edges showed a rate` : ''}`);
    console.log(`  frames (performance trace over 5 s): ${m.trace.fps.toFixed(1)} frames/s, longest frame ${m.trace.worst.toFixed(0)} ms; main thread ${m.trace.busy}; rAF count ${m.fps.toFixed(1)} frames/s, longest ${m.worst.toFixed(0)} ms`);
  const fr = (f) => `${f.kept.toFixed(1)} frames/s on time (${f.presented.toFixed(1)} with something new, ${f.idle.toFixed(1)} with nothing new), ${f.dropped.toFixed(1)} dropped`;
  console.log(`  frame reporter (same trace): ${fr(m.trace.frames)}; "Animate hops" off: ${fr(still.trace.frames)}`);
    console.log(`  "Animate hops" off, same load: ${still.trace.fps.toFixed(1)} frames/s, longest frame ${still.trace.worst.toFixed(0)} ms; main thread ${still.trace.busy}; rAF count ${still.fps.toFixed(1)} frames/s`);
    // the parts are the medians of each part on its own (they need not add
    // up to the median), and Event Timing gives durations to 8 ms
    const parts = (r) => `median ${r.median.toFixed(0)} ms, worst ${r.worst.toFixed(0)} ms (medians of the parts: waiting for the page ${r.delay.toFixed(0)} ms (longest wait ${r.worstDelay.toFixed(0)}), its handlers ${r.processing.toFixed(0)} ms, then to the next paint ${r.presentation.toFixed(0)} ms)`;
    console.log(`  interaction to next paint under the load (Event Timing): ${typed.n} keys typed into the inject value ${parts(typed)}; ${inp.n} clicks on "Animate hops" ${parts(inp)}`);
    if (process.env.VERBOSE) console.log(`  each: clicks ${inp.all.map((v) => v.toFixed(0)).join(' ')}; keys ${typed.all.map((v) => v.toFixed(0)).join(' ')}`);
    console.log(`  idle before the load: rAF count ${idle.fps.toFixed(1)} frames/s, longest ${idle.worst.toFixed(0)} ms`);
    if (errors.length) console.log(`page errors: ${errors.join('; ')}`);
  } finally {
    await browser.close();
  }
}

// Injects into src at perSec a second until stopped() (each with wait:
// false: the wave runs on without the answer waiting for it); counts what
// was sent and refused through report(sent, failed).
async function httpPump(xid, perSec, stopped, report) {
  let sent = 0, failed = 0;
  const t0 = Date.now();
  const agent = [];
  while (!stopped()) {
    const due = Math.floor(((Date.now() - t0) / 1000) * perSec) - sent;
    for (let i = 0; i < due && agent.length < 64; i++) {
      sent++;
      const p = fetch(`${base}/api/executions/${xid}/inject`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nodeId: 'src', value: sent, wait: false }) })
        .then((r) => { if (r.status >= 300) failed++; return r.arrayBuffer(); })
        .catch(() => { failed++; })
        .finally(() => agent.splice(agent.indexOf(p), 1));
      agent.push(p);
    }
    report(sent, failed);
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(agent);
  report(sent, failed);
}

async function wsPump(xid, perSec, stopped, report) {
  const WebSocket = require('ws');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  let sent = 0, failed = 0, inFlight = 0, closed = null;
  ws.on('close', (code) => { closed = `the load's socket closed (${code})`; });
  ws.on('message', (buf) => {
    const m = JSON.parse(buf.toString());
    if (m.event !== 'ack') return;
    inFlight--;
    if (!m.data || m.data.error) failed++;
  });
  const t0 = Date.now();
  while (!stopped()) {
    if (closed) throw new Error(closed);
    const due = Math.floor(((Date.now() - t0) / 1000) * perSec) - sent;
    for (let i = 0; i < due && inFlight < 64; i++) {
      sent++;
      inFlight++;
      ws.send(JSON.stringify({ event: 'execution:inject', data: { executionId: xid, nodeId: 'src', value: sent, wait: false }, ack: sent }));
    }
    report(sent, failed);
    await new Promise((r) => setTimeout(r, 5));
  }
  for (let i = 0; i < 200 && inFlight > 0 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
  report(sent, failed + inFlight); // never answered: failed
  ws.close();
}

// Interactions under the load, n of them 400 ms apart (act(page, i) does
// the i-th), timed by the browser from the input to the next paint
// (PerformanceEventTiming, as INP: the longest event of each interaction).
async function interactions(page, n, act, file) {
  if (file) await page.tracing.start({ categories: [...TRACE_CATEGORIES, ...(process.env.TRACE_MORE ? process.env.TRACE_MORE.split(',') : [])] });
  await page.evaluate(() => {
    window.__inp = new Map();
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) {
        if (!e.interactionId) continue;
        const was = window.__inp.get(e.interactionId);
        if (!was || e.duration > was.duration) {
          window.__inp.set(e.interactionId, {
            duration: e.duration, delay: e.processingStart - e.startTime,
            processing: e.processingEnd - e.processingStart, presentation: e.startTime + e.duration - e.processingEnd,
          });
        }
      }
    }).observe({ type: 'event', durationThreshold: 16, buffered: false });
  });
  for (let i = 0; i < n; i++) {
    await act(page, i);
    await new Promise((r) => setTimeout(r, 400));
  }
  const got = await page.evaluate(() => [...window.__inp.values()]);
  if (file) fs.writeFileSync(file, Buffer.from(await page.tracing.stop()).toString());
  /* an interaction under 16 ms is not reported (durationThreshold): counted as 16, all of it presentation */
  while (got.length < n) got.push({ duration: 16, delay: 0, processing: 0, presentation: 16 });
  const sorted = (k) => got.map((g) => g[k]).sort((a, b) => a - b);
  const med = (k) => sorted(k)[Math.floor(got.length / 2)];
  const d = sorted('duration');
  return { n, median: d[Math.floor(d.length / 2)], worst: d[d.length - 1], all: d, delay: med('delay'), worstDelay: sorted('delay')[got.length - 1], processing: med('processing'), presentation: med('presentation') };
}

// The categories DevTools' performance panel records (and no more: each one
// costs the page time).
const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'disabled-by-default-devtools.timeline.frame', 'toplevel'];

// measureFrames in the page while Chromium records a performance trace;
// adds the trace's figures (traceFigures) as `trace`, and writes the trace
// to `file` when given.
async function measure(page, file) {
  await page.tracing.start({ categories: [...TRACE_CATEGORIES, ...(process.env.TRACE_MORE ? process.env.TRACE_MORE.split(',') : [])] });
  const m = await page.evaluate(measureFrames);
  const trace = JSON.parse(Buffer.from(await page.tracing.stop()).toString());
  if (file) fs.writeFileSync(file, JSON.stringify(trace));
  m.trace = traceFigures(trace, m.start, m.end);
  return m;
}

// From a trace: the frames the page's compositor drew (DrawFrame) between
// start and end (the page's performance.now(), ms), the longest time
// between two of them, and how the page's main thread spent that time (self
// time of its tasks, in groups).
function traceFigures(trace, start, end) {
  const ev = trace.traceEvents || trace;
  const started = ev.find((e) => e.name === 'TracingStartedInBrowser');
  const frames = (started && started.args.data.frames) || [];
  const pid = (frames.find((f) => !f.parent) || frames[0] || {}).processId;
  const names = new Map();
  for (const e of ev) if (e.ph === 'M' && e.name === 'thread_name' && e.pid === pid) names.set(e.tid, e.args.name);
  const tidOf = (n) => [...names].filter(([, v]) => v === n).map(([k]) => k)[0];
  const main = tidOf('CrRendererMain'), comp = tidOf('Compositor');
  // the trace's clock is in µs and the page's performance.now() is the same
  // monotonic clock in ms from the page's time origin: align by the rAF
  // callbacks (FireAnimationFrame) of the window
  const draws = ev.filter((e) => e.pid === pid && e.tid === comp && e.name === 'DrawFrame').map((e) => e.ts).sort((a, b) => a - b);
  const fires = ev.filter((e) => e.pid === pid && e.tid === main && e.name === 'FireAnimationFrame' && e.ph === 'X').map((e) => e.ts).sort((a, b) => a - b);
  const t0 = fires.length ? fires[0] : draws[0], t1 = fires.length ? fires[fires.length - 1] : draws[draws.length - 1];
  const span = Math.max(t1 - t0, 1) / 1000;
  const inWin = draws.filter((t) => t >= t0 && t <= t1);
  let worst = 0;
  for (let i = 1; i < inWin.length; i++) worst = Math.max(worst, (inWin[i] - inWin[i - 1]) / 1000);
  // self time per group on the main thread
  const group = (n) => (/^(Layout|UpdateLayoutTree|InvalidateLayout|ScheduleStyleRecalculation|ParseAuthorStyleSheet)$/.test(n) ? 'style+layout'
    : /^(Paint|PrePaint|Layerize|PaintImage|Commit|UpdateLayer|CompositeLayers|RasterTask)$/.test(n) ? 'paint'
    : /^(FunctionCall|EvaluateScript|TimerFire|FireAnimationFrame|EventDispatch|v8\.|V8\.|MajorGC|MinorGC|ParseHTML|XHR)/.test(n) ? 'script'
    : 'other');
  const xs = ev.filter((e) => e.pid === pid && e.tid === main && e.ph === 'X' && e.ts >= t0 && e.ts <= t1).sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const self = { script: 0, 'style+layout': 0, paint: 0, other: 0 };
  const stack = [];
  let busy = 0;
  const pop = (until) => {
    while (stack.length && stack[stack.length - 1].end <= until) {
      const top = stack.pop();
      self[top.g] += top.self;
    }
  };
  for (const e of xs) {
    const endT = e.ts + (e.dur || 0);
    pop(e.ts);
    if (stack.length) stack[stack.length - 1].self -= e.dur || 0;
    else busy += e.dur || 0;
    stack.push({ end: endT, self: e.dur || 0, g: group(e.name) });
  }
  pop(Infinity);
  const pc = (v) => `${Math.round((100 * v) / 1000 / span)}%`;
  // Chromium's frame reporter (PipelineReporter, one per vsync of the
  // page's compositor): a frame is presented (it had something new), idle
  // (nothing new to draw: the page kept up) or dropped (something new came
  // too late).  DrawFrame counts only the first kind, so a page that changes
  // less often draws fewer frames however fast it is; presented + idle is
  // the frame rate DevTools' performance panel shows, dropped what it marks.
  const states = { presented: 0, idle: 0, dropped: 0 };
  for (const e of ev) {
    const r = e.name === 'PipelineReporter' && e.ph === 'b' && e.pid === pid && e.args && e.args.frame_reporter;
    if (!r || r.frame_type === 'FORKED' || e.ts < t0 || e.ts > t1) continue;
    if (/^STATE_PRESENTED/.test(r.state)) states.presented++;
    else if (r.state === 'STATE_NO_UPDATE_DESIRED') states.idle++;
    else if (r.state === 'STATE_DROPPED') states.dropped++;
  }
  const ps = (n) => (n * 1000) / span;
  return {
    fps: (Math.max(inWin.length - 1, 0) * 1000) / span, worst, span,
    frames: { kept: ps(states.presented + states.idle), presented: ps(states.presented), idle: ps(states.idle), dropped: ps(states.dropped) },
    busy: `${pc(busy)} busy (script ${pc(self.script)}, style and layout ${pc(self['style+layout'])}, paint ${pc(self.paint)}, other ${pc(self.other)})`,
  };
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
      else {
        clearInterval(sample);
        const labels = document.querySelectorAll('#graph path.edge[data-rate]').length;
        resolve({ fps: (frames * 1000) / (now - start), worst, rates, labels });
      }
    };
    requestAnimationFrame(tick);
  });
}

main().catch((err) => { console.error(err.stack || err); process.exit(1); });
