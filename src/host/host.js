// The component host: one Node.js process of weir's pool (src/host/host.c).
// Embedded into the weir binary at build time and run with `node -e`.
//
// Protocol: newline-delimited JSON on stdin/stdout, one request at a time.
//   start      → {"ready": true, "node": "v20.x", "pid": n} (weir limits
//                the memory of that process from then on)
//   {id, op: "load", key, type?, source, timeoutMs}
//              → {id, hooks: ["initialize", "process", ...]} or {id, error}
//   {id, op: "invoke", key, type?, source?, hook, port, value, config, state,
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
//
// type (default "javascript"): "typescript" sources have their types
// stripped first (Node's own module.stripTypeScriptTypes where it has one,
// else the typescript package whose folder is this script's argument;
// weir lets the process read that folder and nothing else), then run as
// JavaScript; "wasm" sources are a WebAssembly module in base64, run under
// the ABI described at WASM_PRELUDE, in a context of their own like
// JavaScript (so the same time limit interrupts a runaway loop) with its
// memory's maximum set to ISOLATE_MEMORY_MB.
'use strict';
const vm = require('vm');

for (const name of ['fetch', 'WebSocket', 'EventSource', 'Request', 'Response', 'Headers', 'FormData',
                    'BroadcastChannel', 'MessageChannel', 'MessagePort', 'Worker']) {
  try { delete globalThis[name]; } catch (e) { /* not configurable: left as is */ }
}

const MAX_COMPONENTS = 256; // compiled components kept per process (least recently used go first)
const MAX_LOGS = 100;       // log entries kept per call
const MAX_LOG_CHARS = 4096; // characters kept per log message

// What a thrown value says, in both preludes (Str is their String).
const MESSAGE_FN = `function message(e) {
    try {
      if (e && typeof e === 'object' && typeof e.message === 'string')
        return (typeof e.name === 'string' && e.name !== 'Error' ? e.name + ': ' : '') + e.message;
      return 'threw ' + Str(e);
    } catch (x) { return 'threw a value that cannot be shown'; }
  }`;

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
  ${MESSAGE_FN}
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

// The WebAssembly ABI (README "WebAssembly components").  Strings cross as
// (pointer, length) of UTF-8 bytes in the module's memory; values as JSON
// text.  The module exports:
//   memory                      its memory (not imported)
//   alloc(len) -> ptr           room for len bytes the host writes into
//   process(port_ptr, port_len, value_ptr, value_len) -> ptr
//                               0 (nothing to emit), or a result: a
//                               little-endian u32 byte length, then that
//                               many bytes of JSON: [{"port", "value"}...]
//                               to emit, or {"error": "..."} for the error port
//   reset()        (optional)   called before each call's allocations: what
//                               earlier calls allocated may be reused
//   initialize(), cleanup()  (optional)  the hooks, no arguments
// and may import from "env":
//   getState(key_ptr, key_len) -> ptr   the state value as a result (length-
//                               prefixed JSON in memory got from alloc), 0: none
//   getConfig(key_ptr, key_len) -> ptr  the same for the node's config
//   setState(key_ptr, key_len, value_ptr, value_len)   value: JSON text
//   log(level, msg_ptr, msg_len)        level 0 debug, 1 info, 2 warn, 3 error
// Defined once inside the module's own context, as PRELUDE is for
// JavaScript; the instance and its memory persist between calls.
const WASM_PRELUDE = `(function (g, maxLogs, maxChars) {
  'use strict';
  let exp = null, mem = null, cur = null, out;
  const JSONp = JSON.parse, JSONs = JSON.stringify, Str = String, isArr = Array.isArray;
  const hasOwn = Object.prototype.hasOwnProperty, fromCodes = String.fromCharCode;
  const IMPORTS = ['getState', 'setState', 'getConfig', 'log'];
  const LEVELS = ['debug', 'info', 'warn', 'error'];
  ${MESSAGE_FN}
  function utf8(s) {
    const b = unescape(encodeURIComponent(s));
    const u = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i);
    return u;
  }
  function view() { return new Uint8Array(mem.buffer); }
  function inside(ptr, len, what) {
    if (ptr + len > mem.buffer.byteLength)
      throw new RangeError(what + ' at ' + ptr + ' (' + len + ' bytes) is outside the module memory (' + mem.buffer.byteLength + ' bytes)');
  }
  function readStr(ptr, len) {
    ptr >>>= 0; len >>>= 0;
    inside(ptr, len, 'a string');
    const m = view();
    let s = '';
    for (let i = 0; i < len; i += 8192) s += fromCodes.apply(null, m.subarray(ptr + i, ptr + Math.min(len, i + 8192)));
    try { return decodeURIComponent(escape(s)); } catch (e) { throw new TypeError('a string the module gave is not valid UTF-8'); }
  }
  function alloc(n) {
    const p = exp.alloc(n) >>> 0;
    if (p === 0) throw new RangeError('alloc(' + n + ') returned 0: the module is out of memory');
    inside(p, n, 'alloc(' + n + ') returned memory that');
    return p;
  }
  function put(u8) { const p = alloc(u8.length || 1); view().set(u8, p); return p; }
  function putResult(u8) {
    const p = alloc(u8.length + 4);
    new DataView(mem.buffer).setUint32(p, u8.length, true);
    view().set(u8, p + 4);
    return p;
  }
  function readResult(p) {
    p >>>= 0;
    if (!p) return null;
    inside(p, 4, 'the result');
    return readStr(p + 4, new DataView(mem.buffer).getUint32(p, true));
  }
  function lookup(obj, kp, kl) {
    const k = readStr(kp, kl);
    return hasOwn.call(obj, k) ? putResult(utf8(JSONs(obj[k] === undefined ? null : obj[k]))) : 0;
  }
  const env = {
    getState(kp, kl) { return lookup(cur.state, kp, kl); },
    getConfig(kp, kl) { return lookup(cur.config, kp, kl); },
    setState(kp, kl, vp, vl) {
      const k = readStr(kp, kl), t = readStr(vp, vl);
      let v;
      try { v = JSONp(t); } catch (e) { throw new TypeError('setState("' + k + '", ...): the value is not JSON: ' + t.slice(0, 80)); }
      cur.state[k] = v;
    },
    log(level, p, l) {
      if (cur.logs.length >= maxLogs) return;
      let m = readStr(p, l);
      if (m.length > maxChars) m = m.slice(0, maxChars) + '...';
      cur.logs.push({ level: LEVELS[level >>> 0] || 'info', message: m });
    },
  };
  function setup(bin) {
    const u = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
    const mod = new WebAssembly.Module(u);
    const kinds = {};
    for (const e of WebAssembly.Module.exports(mod)) kinds[e.name] = e.kind;
    const need = [['memory', 'memory'], ['alloc', 'function'], ['process', 'function']];
    const missing = need.filter(([n, k]) => kinds[n] !== k).map(([n, k]) => n + ' (' + k + ')');
    if (missing.length)
      throw new TypeError('the module does not export ' + missing.join(', ') + ': a wasm component exports memory, ' +
        'alloc(len) -> ptr and process(port_ptr, port_len, value_ptr, value_len) -> ptr (README, WebAssembly components)');
    for (const i of WebAssembly.Module.imports(mod))
      if (i.module !== 'env' || i.kind !== 'function' || !IMPORTS.includes(i.name))
        throw new TypeError('the module imports ' + i.module + '.' + i.name + ' (' + i.kind + '), which weir does not ' +
          'provide: only the functions env.getState, env.setState, env.getConfig and env.log (the module exports its own memory)');
    for (const k of ['reset', 'initialize', 'cleanup'])
      if (kinds[k] !== undefined && kinds[k] !== 'function') throw new TypeError('the export ' + k + ' must be a function');
    cur = { state: {}, config: {}, logs: [] };
    exp = new WebAssembly.Instance(mod, { env }).exports;
    mem = exp.memory;
    return JSONs(['initialize', 'process', 'cleanup'].filter(k => typeof exp[k] === 'function'));
  }
  function call(text) {
    const req = JSONp(text);
    const state = req.state && typeof req.state === 'object' && !isArr(req.state) ? req.state : {};
    cur = { state, config: req.config && typeof req.config === 'object' && !isArr(req.config) ? req.config : {}, logs: [] };
    const emits = [];
    let err;
    try {
      if (typeof exp.reset === 'function') exp.reset();
      if (req.hook === 'process') {
        const pb = utf8(Str(req.port)), vb = utf8(JSONs(req.value === undefined ? null : req.value));
        const pp = put(pb), vp = put(vb);
        const t = readResult(exp.process(pp, pb.length, vp, vb.length));
        if (t !== null) {
          let v;
          try { v = JSONp(t); } catch (e) { throw new TypeError('process returned text that is not JSON: ' + t.slice(0, 80)); }
          if (isArr(v)) {
            for (const e of v) {
              if (!e || typeof e !== 'object' || typeof e.port !== 'string')
                throw new TypeError('process returned an emit that is not {"port": "...", "value": ...}: ' + JSONs(e));
              emits.push([e.port, e.value === undefined ? null : e.value]);
            }
          } else if (v && typeof v === 'object' && typeof v.error === 'string') {
            err = v.error;
          } else {
            throw new TypeError('process must return 0, a JSON array of {"port", "value"} or {"error": "..."}');
          }
        }
      } else if (typeof exp[req.hook] === 'function') {
        exp[req.hook]();
      }
    } catch (e) { err = message(e); }
    const answer = { emits, state: cur.state, logs: cur.logs };
    if (err !== undefined) answer.error = err;
    out = JSONs(answer);
  }
  function take() { const o = out; out = undefined; return o; }
  for (const [k, v] of [['__weir_setup', setup], ['__weir_call', call], ['__weir_take', take]])
    Object.defineProperty(g, k, { value: v, writable: false, enumerable: false, configurable: false });
})`;

// The heap limit weir gave this process: a module's memory may grow as far.
const MEMORY_MB = Number((process.execArgv.map(a => /^--max-old-space-size=(\d+)$/.exec(a)).find(Boolean) || [0, 128])[1]);
const WASM_PAGE = 65536;

function leb(buf, pos) { // an unsigned LEB128 (u32) at pos: [value, next]
  let v = 0, shift = 0;
  for (;;) {
    if (pos >= buf.length || shift > 28) throw new RangeError('a malformed number at byte ' + pos);
    const b = buf[pos++];
    v += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return [v, pos];
    shift += 7;
  }
}
function lebBytes(v) {
  const out = [];
  do { let b = v % 128; v = Math.floor(v / 128); if (v) b |= 0x80; out.push(b); } while (v);
  return out;
}

// The module's bytes with its memory's maximum lowered to MEMORY_MB (set
// when it has none), so memory.grow beyond the limit fails (-1) instead of
// taking the process's memory: {bytes} or {error}.
function wasmBytes(source) {
  const buf = Buffer.from(String(source), 'base64');
  if (buf.length < 8 || buf.readUInt32LE(0) !== 0x6d736100)
    return { error: 'execution.source is not a WebAssembly module in base64 (no \\0asm header)' };
  const maxPages = Math.max(1, Math.floor(MEMORY_MB * 1048576 / WASM_PAGE));
  const parts = [buf.subarray(0, 8)];
  try {
    for (let pos = 8; pos < buf.length;) {
      const id = buf[pos];
      const [size, start] = leb(buf, pos + 1);
      const end = start + size;
      if (end > buf.length) throw new RangeError('section ' + id + ' runs past the end of the module');
      if (id !== 5) { parts.push(buf.subarray(pos, end)); pos = end; continue; }
      let [count, p] = leb(buf, start);
      if (count > 1) throw new RangeError('it defines ' + count + ' memories; a wasm component has one');
      const body = lebBytes(count);
      for (let i = 0; i < count; i++) {
        const flags = buf[p++];
        if (flags & ~1) throw new RangeError('its memory is shared or 64-bit (flags ' + flags + '), which is not supported');
        let min, max;
        [min, p] = leb(buf, p);
        if (flags & 1) [max, p] = leb(buf, p);
        if (min > maxPages)
          throw new RangeError('its memory starts at ' + min + ' pages of 64 KiB, more than the ' + MEMORY_MB +
                               ' MB a component may use (ISOLATE_MEMORY_MB)');
        body.push(1, ...lebBytes(min), ...lebBytes(flags & 1 ? Math.min(max, maxPages) : maxPages));
      }
      parts.push(Buffer.from([5, ...lebBytes(body.length), ...body]));
      pos = end;
    }
  } catch (e) {
    return { error: 'WebAssembly: ' + e.message };
  }
  return { bytes: Buffer.concat(parts) };
}

// TypeScript: the source is the body of a function, as for JavaScript; the
// wrapper goes on its first line so TypeScript's lines are the user's.
const TS_PREFIX = '__weir_setup(function () {';
const TS_PATH = process.argv[1] || '';
let typescript = null;

function tsError(line, col, text, code) {
  // 0-based line and character of the wrapped text, in the user's source
  const c = line === 0 ? col - TS_PREFIX.length : col;
  return 'TypeScript: ' + text + (code ? ' (TS' + code + ')' : '') + ' at line ' + (line + 1) + ', column ' + (Math.max(0, c) + 1);
}

function stripTypes(source) {
  const text = TS_PREFIX + source + '\n})';
  const mod = require('module');
  if (typeof mod.stripTypeScriptTypes === 'function') {
    // 'transform' (enums, namespaces) where this Node.js has it, else 'strip'.
    // A syntax error's stack reads ":<line>", the source, a caret line.
    for (const mode of ['transform', 'strip']) {
      try {
        return { code: mod.stripTypeScriptTypes(text, { mode }) };
      } catch (e) {
        if (!e || e.code !== 'ERR_INVALID_TYPESCRIPT_SYNTAX') {
          if (mode === 'transform') continue;
          return { error: 'TypeScript: ' + String(e && e.message).split('\n')[0] };
        }
        const first = String(e.message).split('\n')[0];
        const lines = String(e.stack).split('\n');
        const line = /:(\d+)$/.exec(lines[0]);
        const caret = lines.find(l => /^ *\^+\s*$/.test(l));
        return { error: line && caret ? tsError(Number(line[1]) - 1, caret.indexOf('^'), first) : 'TypeScript: ' + first };
      }
    }
  }
  if (!TS_PATH)
    return { error: 'TypeScript components need the typescript npm package on Node.js ' + process.version +
             ' (22.13 and later strip types themselves): install it with `npm install -g typescript` ' +
             '(scripts/deps.sh does) or set WEIR_TYPESCRIPT to its folder' };
  if (!typescript) {
    try { typescript = require(TS_PATH); } catch (e) {
      return { error: 'cannot load the typescript package from ' + TS_PATH + ' (WEIR_TYPESCRIPT): ' + (e && e.message) };
    }
  }
  const ts = typescript;
  let r;
  try { // a source the compiler cannot take (nesting past its stack) is the source's error, not the host's end
    r = ts.transpileModule(text, {
      fileName: 'component.ts', reportDiagnostics: true,
      compilerOptions: { target: ts.ScriptTarget.ES2022, sourceMap: false, inlineSourceMap: false },
    });
  } catch (e) {
    return { error: 'TypeScript: the compiler could not take this source: ' + String(e && e.message).split('\n')[0] };
  }
  const d = (r.diagnostics || []).find(x => x.category === ts.DiagnosticCategory.Error);
  if (d) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '; ');
    if (!d.file || d.start === undefined) return { error: 'TypeScript: ' + msg + ' (TS' + d.code + ')' };
    const pos = d.file.getLineAndCharacterOfPosition(d.start);
    return { error: tsError(pos.line, pos.character, msg, d.code) };
  }
  return { code: r.outputText };
}

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

function load(key, source, ms, type) {
  const wasm = type === 'wasm';
  let text, bin;
  if (wasm) {
    const r = wasmBytes(source);
    if (r.error) return { error: r.error };
    bin = r.bytes.toString('latin1'); // one char a byte: only strings cross into the context
    text = '__weir_setup(__weir_req)';
  } else if (type === 'typescript') {
    const r = stripTypes(source);
    if (r.error) return { error: r.error };
    text = r.code;
  } else {
    text = '__weir_setup(function () {\n' + source + '\n})';
  }
  const context = vm.createContext(Object.create(null), {
    name: key,
    codeGeneration: { strings: false, wasm: true },
    microtaskMode: 'afterEvaluate',
  });
  vm.runInContext('delete globalThis.console', context);
  new vm.Script(wasm ? WASM_PRELUDE : PRELUDE).runInContext(context)(vm.runInContext('globalThis', context), MAX_LOGS, MAX_LOG_CHARS);
  let script;
  try {
    script = new vm.Script(text, {
      filename: key, importModuleDynamically: refuseImport(context),
    });
  } catch (e) {
    return { error: (e && e.name ? e.name + ': ' : '') + (e && e.message) + (type === 'typescript' ? '' : where(e, key)) };
  }
  let hooks;
  try {
    if (wasm) context.__weir_req = bin;
    hooks = script.runInContext(context, { timeout: ms });
  } catch (e) {
    if (isTimeout(e)) return { error: (wasm ? 'instantiating the module' : 'building the handler') + ' timed out after ' + ms + ' ms', fatal: true };
    let m;
    try { m = (e && e.name ? e.name + ': ' : '') + (e && e.message); } catch (x) { m = 'the source threw'; }
    if (outOfMemory(m)) return { error: m, fatal: true, oom: true };
    if (wasm) return { error: 'WebAssembly: ' + m };
    return { error: 'the source failed while building its handler: ' + m };
  } finally {
    if (wasm) context.__weir_req = undefined;
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
    const r = load(req.key, req.source, ms, req.type);
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
    answer = load(req.key, String(req.source), timeLimit(req), req.type);
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
