// The component host: one Node.js process of weir's pool (src/host/host.c).
// Embedded into the weir binary at build time and run with `node -e`.
//
// Protocol: newline-delimited JSON on stdin/stdout, one request at a time.
//   start      → {"ready": true, "node": "v20.x", "pid": n} (weir limits
//                the memory of that process from then on)
//   {id, op: "load", key, source, timeoutMs}
//              → {id, hooks: ["initialize", "process", ...]} or {id, error}
//   {id, op: "invoke", key, source?, hook, port, value, config, state,
//    executionId, nodeId, timeoutMs}
//              → {id, emits: [[port, value]...], state, logs: [{level, message}],
//                 error?, fatal?, oom?}   or {id, missing: true} when the component
//                 is not loaded here and no source came with the call.
// `fatal` tells weir to kill this process (a call that ran out of time may
// have left the component half-way through); `oom` with it: it ran out of
// memory.
//
// Isolation: each component gets its own vm context whose global object has
// a null prototype, so nothing of this (host) realm is reachable from it —
// no require, process, fetch, timers or console of ours.  Only strings cross
// between the realms; ctx is built inside the context.  Code generation from
// strings (eval, new Function) is off in both realms, import() is refused
// with an error of the context's own realm, and the process itself runs
// under Node's permission model (no file system, child processes, workers
// or addons) with a heap limit, and weir limits all it allocates after its
// ready line (RLIMIT_DATA).  Promises of user code settle inside the
// call: the context runs its microtasks before the call returns, under the
// same time limit.
'use strict';
const vm = require('vm');

for (const name of ['fetch', 'WebSocket', 'EventSource', 'Request', 'Response', 'Headers', 'FormData',
                    'BroadcastChannel', 'MessageChannel', 'MessagePort', 'Worker']) {
  try { delete globalThis[name]; } catch (e) { /* not configurable: left as is */ }
}

const MAX_COMPONENTS = 256; // compiled components kept per process (least recently used go first)
const MAX_LOGS = 100;       // log entries kept per call
const MAX_LOG_CHARS = 4096; // characters kept per log message

// Defined once inside every component context.  `handler` and the call's
// buffers live in this closure, out of reach of user code, which is
// compiled as a separate script at the context's top level.
const PRELUDE = `(function (g, maxLogs, maxChars) {
  'use strict';
  let handler = null;
  let out;
  const JSONp = JSON.parse, JSONs = JSON.stringify, Str = String, isArr = Array.isArray;
  const keys = Object.keys, hasOwn = Object.prototype.hasOwnProperty;
  const LEVELS = { debug: 1, info: 1, warn: 1, warning: 1, error: 1 };
  function message(e) {
    try {
      if (e && typeof e === 'object' && typeof e.message === 'string')
        return (typeof e.name === 'string' && e.name !== 'Error' ? e.name + ': ' : '') + e.message;
      return 'threw ' + Str(e);
    } catch (x) { return 'threw a value that cannot be shown'; }
  }
  function setup(factory) {
    const h = factory();
    if (!h || typeof h !== 'object')
      throw new TypeError('the source must return a handler object, e.g. return { process: async (ctx, port, value) => ctx.emit("out", value) }');
    if (typeof h.process !== 'function')
      throw new TypeError('the handler object has no process function: return { process: (ctx, port, value) => { ... } }');
    for (const k of ['initialize', 'cleanup'])
      if (h[k] !== undefined && typeof h[k] !== 'function') throw new TypeError('handler.' + k + ' must be a function when present');
    handler = h;
    return JSONs(['initialize', 'process', 'cleanup'].filter(k => typeof h[k] === 'function'));
  }
  function call(text) {
    const req = JSONp(text);
    const emits = [], logs = [];
    const state = req.state && typeof req.state === 'object' && !isArr(req.state) ? req.state : {};
    const ctx = {
      executionId: req.executionId,
      nodeId: req.nodeId,
      instanceId: req.nodeId,
      config: req.config && typeof req.config === 'object' ? req.config : {},
      emit(port, value) {
        if (typeof port !== 'string') throw new TypeError('ctx.emit(port, value): port must be a string');
        emits.push([port, value]);
      },
      emitBatch(port, values) {
        if (typeof port !== 'string') throw new TypeError('ctx.emitBatch(port, values): port must be a string');
        if (!isArr(values)) throw new TypeError('ctx.emitBatch(port, values): values must be an array');
        for (const v of values) emits.push([port, v]);
      },
      getState(key) { return hasOwn.call(state, Str(key)) ? state[Str(key)] : undefined; },
      setState(key, value) { state[Str(key)] = value === undefined ? null : value; },
      log(level, msg) {
        if (logs.length >= maxLogs) return;
        let lv = Str(level);
        if (!LEVELS[lv]) { msg = msg === undefined ? lv : lv + ' ' + Str(msg); lv = 'info'; }
        let m = typeof msg === 'string' ? msg : (() => { try { return JSONs(msg); } catch (e) { return Str(msg); } })();
        if (m === undefined) m = 'undefined';
        if (m.length > maxChars) m = m.slice(0, maxChars) + '...';
        logs.push({ level: lv === 'warning' ? 'warn' : lv, message: m });
      },
    };
    out = undefined;
    function finish(err) {
      const answer = { emits: [], state: {}, logs };
      try {
        answer.emits = JSONp(JSONs(emits));
      } catch (e) {
        err = err || 'a value given to ctx.emit cannot be sent as JSON: ' + message(e);
        answer.emits = [];
      }
      try {
        answer.state = JSONp(JSONs(state));
      } catch (e) {
        err = err || 'a value given to ctx.setState cannot be kept as JSON: ' + message(e);
        answer.state = req.state || {};
      }
      if (err) answer.error = err;
      out = JSONs(answer);
    }
    const fn = handler && handler[req.hook];
    if (typeof fn !== 'function') return finish();
    let r;
    try {
      r = req.hook === 'process' ? fn.call(handler, ctx, req.port, req.value) : fn.call(handler, ctx);
    } catch (e) { return finish(message(e)); }
    if (r && (typeof r === 'object' || typeof r === 'function') && typeof r.then === 'function') {
      try { r.then(() => finish(), e => finish(message(e))); } catch (e) { finish(message(e)); }
    } else {
      finish();
    }
  }
  function take() { const o = out; out = undefined; return o; }
  for (const [k, v] of [['__weir_setup', setup], ['__weir_call', call], ['__weir_take', take]])
    Object.defineProperty(g, k, { value: v, writable: false, enumerable: false, configurable: false });
})`;

const CALL = new vm.Script('__weir_call(__weir_req)');
const TAKE = new vm.Script('__weir_take()');

const components = new Map(); // key → {context}; insertion order is recency

function refuseImport(context) {
  const CtxError = vm.runInContext('Error', context);
  return () => { throw new CtxError('import() is not available to user components: use ctx'); };
}

function timeLimit(req) {
  const t = Number(req.timeoutMs);
  return t > 0 && t < 2147483647 ? Math.floor(t) : 1000;
}

function isTimeout(e) { return e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT'; }

// What V8 throws when the system refuses memory outside the heap: the
// process reached the limit weir set on it (RLIMIT_DATA, ISOLATE_MEMORY_MB).
// Such a call is answered `oom` and the process replaced, like one whose
// heap ran out (memory held by a global of the component goes with it).
const OUT_OF_MEMORY = /^RangeError: (Array buffer allocation failed|WebAssembly\.Memory(\(\): could not allocate memory|\.grow\(\): Unable to grow instance memory))/;
function outOfMemory(error) { return typeof error === 'string' && OUT_OF_MEMORY.test(error); }

// The position of a compile error in the user's source ("line 3").
function where(e, key) {
  const first = String(e && e.stack || '').split('\n')[0];
  const m = first.startsWith(key + ':') ? /:(\d+)$/.exec(first) : null;
  return m ? ' (line ' + Math.max(1, Number(m[1]) - 1) + ')' : ''; // the wrapper adds one line
}

function load(key, source, ms) {
  const context = vm.createContext(Object.create(null), {
    name: key,
    codeGeneration: { strings: false, wasm: true },
    microtaskMode: 'afterEvaluate',
  });
  vm.runInContext('delete globalThis.console', context);
  new vm.Script(PRELUDE).runInContext(context)(vm.runInContext('globalThis', context), MAX_LOGS, MAX_LOG_CHARS);
  let script;
  try {
    script = new vm.Script('__weir_setup(function () {\n' + source + '\n})', {
      filename: key, importModuleDynamically: refuseImport(context),
    });
  } catch (e) {
    return { error: (e && e.name ? e.name + ': ' : '') + (e && e.message) + where(e, key) };
  }
  let hooks;
  try {
    hooks = script.runInContext(context, { timeout: ms });
  } catch (e) {
    if (isTimeout(e)) return { error: 'building the handler timed out after ' + ms + ' ms', fatal: true };
    let m;
    try { m = (e && e.name ? e.name + ': ' : '') + (e && e.message); } catch (x) { m = 'the source threw'; }
    if (outOfMemory(m)) return { error: m, fatal: true, oom: true };
    return { error: 'the source failed while building its handler: ' + m };
  }
  components.set(key, { context });
  while (components.size > MAX_COMPONENTS) components.delete(components.keys().next().value);
  return { hooks: typeof hooks === 'string' ? JSON.parse(hooks) : [] };
}

function invoke(req) {
  let c = components.get(req.key);
  const ms = timeLimit(req);
  if (!c) {
    if (typeof req.source !== 'string') return { missing: true };
    const r = load(req.key, req.source, ms);
    if (r.error) return { error: r.error, fatal: r.fatal, oom: r.oom, emits: [], state: req.state || {}, logs: [] };
    c = components.get(req.key);
  } else {
    components.delete(req.key); // most recently used last
    components.set(req.key, c);
  }
  const text = JSON.stringify({
    hook: req.hook, port: req.port, value: req.value, config: req.config, state: req.state,
    executionId: req.executionId, nodeId: req.nodeId,
  });
  let out;
  try {
    c.context.__weir_req = text;
    CALL.runInContext(c.context, { timeout: ms });
    // No time limit needed here (each one costs a watchdog thread): CALL's
    // evaluation ran the context's microtasks to the end, so no user code
    // is left to run; TAKE only reads what the call left.
    out = TAKE.runInContext(c.context);
  } catch (e) {
    if (isTimeout(e)) return { error: 'timed out after ' + ms + ' ms', fatal: true, emits: [], state: req.state || {}, logs: [] };
    const m = (e && e.name ? e.name + ': ' : '') + (e && e.message);
    if (outOfMemory(m)) return { error: m, fatal: true, oom: true, emits: [], state: req.state || {}, logs: [] };
    return { error: 'the component host failed: ' + (e && e.message), fatal: true, emits: [], state: req.state || {}, logs: [] };
  } finally {
    c.context.__weir_req = undefined;
  }
  if (typeof out !== 'string')
    return {
      error: 'the ' + req.hook + ' hook did not finish: its promise was still pending when the call ended ' +
             '(user code has no timers, I/O or import(); only ctx)',
      emits: [], state: req.state || {}, logs: [],
    };
  try {
    const answer = JSON.parse(out);
    if (outOfMemory(answer.error)) { answer.fatal = true; answer.oom = true; }
    return answer;
  } catch (e) {
    return { error: 'the component sent an answer that is not JSON', emits: [], state: req.state || {}, logs: [] };
  }
}

function handle(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { id: 0, error: 'the component host received a line that is not JSON', fatal: true };
  }
  let answer;
  if (req.op === 'load') {
    answer = load(req.key, String(req.source), timeLimit(req));
  } else if (req.op === 'invoke') {
    answer = invoke(req);
  } else {
    answer = { error: 'unknown op ' + JSON.stringify(req.op) };
  }
  answer.id = req.id;
  return answer;
}

let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', chunk => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (line.length) process.stdout.write(JSON.stringify(handle(line)) + '\n');
  }
});
process.stdin.on('end', () => process.exit(0));
process.stdout.write(JSON.stringify({ ready: true, node: process.version, pid: process.pid }) + '\n');
