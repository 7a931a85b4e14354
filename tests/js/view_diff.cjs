// Diffs of live views in JavaScript (src/web/views.js, SPEC §8): hand-written
// examples, refusals naming the path, property tests over random nested
// lists and objects with a seeded generator (WEIR_SEED=<n> replays a run; a
// failure prints its seed and case), and agreement with the C library:
// every line of the fixtures file tests/unit/test_view_diff.c wrote (a, b,
// c, the diffs C made and composed, a random diff and its result, a diff
// applied to a value it was not made for, and a corrupted diff with C's
// verdict and message) must come out the same here.
//   node view_diff.cjs FIXTURES.jsonl
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const fixtures = process.argv[2];
if (!fixtures) {
  console.error('usage: node view_diff.cjs FIXTURES.jsonl (written by unit/test_view_diff)');
  process.exit(2);
}
const SEED = Number(process.env.WEIR_SEED || 0x5eed0f3e) >>> 0;
const CASES = 3000;

// xoshiro128** seeded by splitmix32
function rng(seed) {
  let x = seed >>> 0;
  const split = () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const s = [split(), split(), split(), split()];
  const rotl = (v, k) => ((v << k) | (v >>> (32 - k))) >>> 0;
  const next = () => {
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11);
    return r;
  };
  return { below: (n) => (n ? next() % n : 0) };
}

// keys that need escaping, sort differently in UTF-16 and code points, or
// name Object.prototype's members
const KEYS = ['a', 'b', 'c', 'd', 'e', 'a/b', '~', '', '__proto__', 'constructor', 'toString', 'é', 'ａ', '😀'];

function put(o, k, v) {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  return o;
}
const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
function copyObj(o) {
  const r = {};
  for (const k of Object.keys(o)) put(r, k, o[k]);
  return r;
}

function gen(r, depth) {
  switch (r.below(depth > 0 ? 10 : 5)) {
    case 0: case 1: return r.below(5);
    case 2: return ['x', 'y', 'z'][r.below(3)];
    case 3: return r.below(2) === 1;
    case 4: return null;
    case 5: case 6: case 7: {
      const a = [];
      for (let n = r.below(6); n; n--) a.push(gen(r, depth - 1));
      return a;
    }
    default: {
      const o = {};
      for (let n = r.below(5); n; n--) put(o, KEYS[r.below(KEYS.length)], gen(r, depth - 1));
      return o;
    }
  }
}

function mutate(r, v, depth) {
  if (Array.isArray(v) && r.below(8)) {
    const a = v.slice(), n = a.length;
    switch (r.below(7)) {
      case 0: a.push(gen(r, depth)); break;
      case 1: a.shift(); break;
      case 2: a.pop(); break;
      case 3: for (let k = 1 + r.below(2); k && a.length; k--) { a.shift(); a.push(gen(r, depth)); } break;
      case 4: if (n) { const i = r.below(n); a[i] = mutate(r, a[i], depth - 1); } break;
      case 5: a.splice(r.below(n + 1), 0, gen(r, depth)); break;
      default: if (n > 1) { const i = r.below(n), j = r.below(n); [a[i], a[j]] = [a[j], a[i]]; }
    }
    return a;
  }
  if (isObj(v) && r.below(8)) {
    const o = copyObj(v), k = KEYS[r.below(KEYS.length)];
    switch (r.below(3)) {
      case 0: put(o, k, gen(r, depth)); break;
      case 1: delete o[k]; break;
      default: if (hasOwn(o, k)) put(o, k, mutate(r, o[k], depth - 1));
    }
    return o;
  }
  return gen(r, depth);
}

// A random diff that fits v, often not canonical, and the value it must give
// computed here without the library: [diff, want].
function randDiff(r, v, depth) {
  const t = r.below(8);
  if (t === 0) return [{}, v];
  if (t === 1 || (!Array.isArray(v) && !isObj(v))) {
    const w = gen(r, depth);
    return [{ value: w }, w];
  }
  if (isObj(v)) {
    const set = {}, patch = {}, rm = [], res = copyObj(v);
    for (const k of Object.keys(v)) {
      const c = r.below(5);
      if (c === 0) { rm.push(k); delete res[k]; }
      else if (c === 1) { const [d, w] = randDiff(r, v[k], depth - 1); put(patch, k, d); put(res, k, w); }
    }
    for (let i = r.below(3); i; i--) {
      const k = KEYS[r.below(KEYS.length)];
      if (hasOwn(v, k)) continue;
      const g = gen(r, depth - 1);
      put(set, k, g);
      put(res, k, g);
    }
    const d = {};
    if (r.below(2) || Object.keys(set).length) d.set = set;
    if (r.below(2) || Object.keys(patch).length) d.patch = patch;
    if (r.below(2) || rm.length) d.remove = rm;
    return [d, res];
  }
  const n0 = v.length, g = r.below(3), D = n0 + g;
  let p = Array.from({ length: D }, (_, i) => i);
  const perm = [];
  for (let c = r.below(4); c && D >= 2; c--) {
    const q = p.slice();
    if (r.below(2)) {
      const i = r.below(D), j = r.below(D);
      if (i === j) continue;
      perm.push({ rot: [i, j] });
      p = q.map((_, x) => (x === j ? q[i] : i < j && x >= i && x < j ? q[x + 1] : i > j && x > j && x <= i ? q[x - 1] : q[x]));
    } else {
      const m = 2 + r.below(Math.min(D - 1, 3)), cyc = [];
      while (cyc.length < m) { const x = r.below(D); if (!cyc.includes(x)) cyc.push(x); }
      cyc.forEach((x, u) => { p[x] = q[cyc[(u + 1) % m]]; });
      perm.push(cyc);
    }
  }
  const s = Math.min(r.below(3), D), n1 = D - s, change = {}, patch = {}, res = [];
  for (let i = 0; i < n1; i++) {
    const c = r.below(5);
    if (p[i] >= n0 || c === 0) { const x = gen(r, depth - 1); change[i] = x; res.push(x); }
    else if (c === 1) { const [d, w] = randDiff(r, v[p[i]], depth - 1); patch[i] = d; res.push(w); }
    else res.push(v[p[i]]);
  }
  const d = { degree: D };
  if (g || r.below(2)) d.grow = g;
  if (s || r.below(2)) d.shrink = s;
  if (perm.length || r.below(2)) d.permutation = perm;
  if (Object.keys(change).length || r.below(2)) d.change = change;
  if (Object.keys(patch).length || r.below(2)) d.patch = patch;
  return [d, res];
}

function canonical(d, top) {
  const keys = Object.keys(d);
  if (!keys.length) return top;
  if (hasOwn(d, 'value')) return true;
  if (hasOwn(d, 'degree')) {
    if ((hasOwn(d, 'grow') && !d.grow) || (hasOwn(d, 'shrink') && !d.shrink) || (d.grow && d.shrink)) return false;
    if (hasOwn(d, 'freeze')) return false;
    if ((d.permutation && !d.permutation.length) || (d.change && !Object.keys(d.change).length)) return false;
    if (d.patch && !Object.keys(d.patch).length) return false;
    if (!d.grow && !d.shrink && !d.permutation && !d.change && !d.patch) return false;
    return Object.values(d.patch ?? {}).every((x) => !hasOwn(x, 'value') && canonical(x, false));
  }
  if ((d.set && !Object.keys(d.set).length) || (d.patch && !Object.keys(d.patch).length)) return false;
  if (d.remove && !d.remove.length) return false;
  return Object.values(d.patch ?? {}).every((x) => canonical(x, false));
}

const show = (v) => JSON.stringify(v);

(async () => {
  const V = await import(pathToFileURL(path.join(__dirname, '..', '..', 'src', 'web', 'views.js')).href);
  const { diff, apply, compose, check, nodes, ViewDiffError, LiveView } = V;
  const step = (r, v) => {
    if (r.below(2)) return randDiff(r, v, 3);
    const next = r.below(4) ? mutate(r, v, 3) : gen(r, 3);
    return [diff(v, next), next];
  };
  let passed = 0;
  const test = (name, fn) => {
    try {
      fn();
      passed++;
    } catch (e) {
      console.error(`FAIL ${name} (WEIR_SEED=${SEED}): ${e.stack || e}`);
      process.exit(1);
    }
  };
  const refused = (fn, want) => {
    assert.throws(fn, (e) => e instanceof ViewDiffError && e.message.includes(want), `refused with "${want}"`);
  };

  test('sliding window of last three', () => {
    assert.deepEqual(diff([1, 2, 3], [2, 3, 4]), { degree: 3, permutation: [{ rot: [0, 2] }], change: { 2: 4 } });
    const d = compose(diff([1, 2, 3], [2, 3, 4]), diff([2, 3, 4], [3, 4, 5]));
    assert.deepEqual(d, { degree: 3, permutation: [[0, 2]], change: { 1: 4, 2: 5 } });
    assert.deepEqual(apply([1, 2, 3], d), [3, 4, 5]);
    assert.deepEqual(diff({ w: [1, 2, 3] }, { w: [2, 3, 4] }), { patch: { w: { value: [2, 3, 4] } } });
  });

  test('appending to the executions list', () => {
    const x1 = { id: 'x1', state: 'running', hops: 3 }, x2 = { id: 'x2', state: 'running', hops: 0 };
    assert.deepEqual(diff([x1], [x1, x2]), { degree: 2, grow: 1, change: { 1: x2 } });
    const v = new LiveView('executions'), seen = [];
    v.onChange((value, d, seq) => seen.push(seq));
    v.init({ view: 'executions', seq: 1, value: [x1] });
    assert.equal(v.update({ view: 'executions', seq: 2, diff: diff([x1], [x1, x2]) }), true);
    assert.equal(v.update({ view: 'executions', seq: 2, diff: { value: [] } }), false, 'a duplicate seq is ignored');
    assert.equal(v.update({ view: 'graphs', seq: 3, diff: { value: [] } }), false, 'another view is ignored');
    assert.deepEqual(v.value, [x1, x2]);
    assert.deepEqual(seen, [1, 2]);
    refused(() => new LiveView('a').update({ seq: 1, diff: {} }), 'a diff before view:init');
  });

  test('removing and adding keys', () => {
    assert.deepEqual(diff({ a: 1, b: 2, c: [1, 2] }, { a: 1, c: [1, 2] }), { remove: ['b'] });
    assert.deepEqual(diff({ a: 1, b: 2, c: 3 }, { c: 4, d: 5 }), { set: { d: 5 }, patch: { c: { value: 4 } }, remove: ['a', 'b'] });
    // removed keys in code point order (U+FF41 before U+1F600, unlike UTF-16)
    assert.deepEqual(diff({ '😀': 1, z: 2, 'ａ': 3 }, {}), { remove: ['z', 'ａ', '😀'] });
    assert.deepEqual(compose({ set: { k: 1 } }, { remove: ['k'] }), {});
    assert.deepEqual(compose({ remove: ['k'] }, { set: { k: 1 } }), { patch: { k: { value: 1 } } });
    assert.deepEqual(compose({ set: { k: 1 } }, { patch: { k: { value: 7 } } }), { set: { k: 7 } });
    // a key named like Object.prototype's members is an ordinary key
    const a = JSON.parse('{"__proto__":{"x":1},"constructor":2}');
    const b = JSON.parse('{"__proto__":{"x":2},"toString":3}');
    const got = apply(a, diff(a, b));
    assert.deepEqual(Object.keys(got).sort(), ['__proto__', 'toString']);
    assert.deepEqual(got.__proto__, { x: 2 }); // eslint-disable-line no-proto
    assert.equal(Object.getPrototypeOf(got), Object.prototype);
  });

  test('nested node state change', () => {
    const node = (n, sum) => ({ component: 'symbia.core.accumulator', in: n, out: n, errors: 0, state: { count: n, sum } });
    const log = { component: 'symbia.core.logger', in: 4, out: 0, errors: 0, state: null };
    const a = { state: 'running', metrics: { hops: 10, injects: 2, errors: 0, outputs: 1 }, nodes: { n1: node(4, 10), n2: log } };
    const b = { state: 'running', metrics: { hops: 12, injects: 2, errors: 0, outputs: 1 }, nodes: { n1: node(5, 15), n2: log } };
    assert.deepEqual(diff(a, b), {
      patch: {
        metrics: { patch: { hops: { value: 12 } } },
        nodes: { patch: { n1: { patch: { in: { value: 5 }, out: { value: 5 }, state: { value: { count: 5, sum: 15 } } } } } },
      },
    });
  });

  test('permutation cycles mean what the header says', () => {
    const v = ['a', 'b', 'c', 'd'];
    const cases = [
      [[{ rot: [0, 2] }], ['b', 'c', 'a', 'd']], [[{ rot: [2, 0] }], ['c', 'a', 'b', 'd']], [[[0, 1, 2]], ['b', 'c', 'a', 'd']],
      [[[2, 1, 0]], ['c', 'a', 'b', 'd']], [[[0, 3]], ['d', 'b', 'c', 'a']], [[[0, 1], [0, 1]], v],
      [[{ rot: [0, 3] }, { rot: [0, 3] }], ['c', 'd', 'a', 'b']],
    ];
    for (const [perm, want] of cases) assert.deepEqual(apply(v, { degree: 4, permutation: perm }), want, show(perm));
    assert.deepEqual(apply(v, { degree: 5, grow: 1, shrink: 2, permutation: [{ rot: [4, 0] }], change: { 0: 'e' } }), ['e', 'a', 'b']);
  });

  test('refusals name the path', () => {
    refused(() => apply([1, 2], { degree: 3, shrink: 3 }), 'view diff at the root: the list diff is for 3 items');
    refused(() => apply({ n: { a: [1] } }, { patch: { n: { patch: { a: { set: { x: 1 } } } } } }), 'view diff at /n/a: an object diff does not fit a list');
    refused(() => apply({ a: 1 }, { set: { a: 2 } }), 'at /a: set of a present key');
    refused(() => apply({ a: 1 }, { remove: ['b'] }), 'at /b: remove of an absent key');
    refused(() => apply({ 'a/b': [] }, { patch: { 'a/b': { set: { x: 1 } } } }), 'at /a~1b: an object diff does not fit a list');
    refused(() => apply([1], { degree: 2, grow: 1 }), 'at /1: a grown slot ends here without a value in change');
    refused(() => compose({ remove: ['k'] }, { patch: { k: { value: 1 } } }), 'at /k: patch of a key the first diff removed');
    refused(() => compose({ degree: 3, grow: 1, change: { 2: 1 } }, { degree: 2 }), 'the first leaves 3');
    refused(() => check([]), 'at the root: a diff is an object, not a list');
    refused(() => check({ degree: 2, change: { '01': 1 } }), 'at /change/01: a position');
    refused(() => check({ degree: 3, permutation: [[0, 0]] }), 'at /permutation/0: position 0 appears twice');
    refused(() => check({ degree: 3, permutation: [{ rot: [1, 1] }] }), 'at /permutation/0/rot: a rot moves');
    refused(() => check({ remove: ['a', 'a'] }), 'at /remove/1: key "a" is removed twice');
    refused(() => check({ patch: { a: { patch: { 'b~/': { degree: 'x' } } } } }), 'at /patch/a/patch/b~0~1/degree');
    refused(() => check({ grow: 1 }), 'a list diff needs "degree"');
    const rots = [[0, 2], [2, 0], [0, 2], [2, 0], [0, 1]].map((rot) => ({ rot }));
    refused(() => check({ degree: 3, permutation: rots }), 'at /permutation/4: the rots move more than WEIR_VIEW_DIFF_ROT_SPAN (4) x degree items');
    check({ degree: 3, permutation: rots.slice(0, 4) });
    let deep = {};
    for (let i = 0; i <= V.MAX_DEPTH; i++) deep = { patch: { a: deep } };
    refused(() => check(deep), 'WEIR_VIEW_DIFF_MAX_DEPTH');
  });

  test('weight is the compact JSON length', () => {
    const r = rng(SEED + 4);
    for (let c = 0; c < CASES; c++) {
      const v = gen(r, 4);
      assert.equal(V.weight(v), Buffer.byteLength(JSON.stringify(v)), show(v));
    }
    assert.equal(V.weight([-7, 0, -10, '😀', {}]), Buffer.byteLength(JSON.stringify([-7, 0, -10, '😀', {}])));
  });

  test('make then apply gives the new value', () => {
    const r = rng(SEED);
    for (let c = 0; c < CASES; c++) {
      const a = gen(r, 4), b = r.below(4) ? mutate(r, a, 4) : gen(r, 4), d = diff(a, b);
      check(d);
      assert.ok(canonical(d, true), `case ${c}: not canonical ${show(d)}`);
      assert.deepEqual(apply(a, d), b, `case ${c}: ${show(a)} ${show(d)}`);
      assert.ok(nodes(d) <= 2 * (nodes(a) + nodes(b)) + 8, `case ${c}`);
      assert.deepEqual(diff(a, a), {});
    }
  });

  test('apply follows the model', () => {
    const r = rng(SEED + 1);
    for (let c = 0; c < CASES; c++) {
      const a = gen(r, 4), [d, want] = randDiff(r, a, 3);
      assert.deepEqual(apply(a, d), want, `case ${c}: apply(${show(a)}, ${show(d)})`);
    }
  });

  test('compose equals applying in turn and is associative', () => {
    const r = rng(SEED + 2);
    for (let c = 0; c < CASES; c++) {
      const v0 = gen(r, 4), [d1, v1] = step(r, v0), [d2, v2] = step(r, v1), [d3, v3] = step(r, v2);
      const c12 = compose(d1, d2);
      assert.deepEqual(apply(v0, c12), v2, `case ${c}: ${show(d1)} then ${show(d2)} = ${show(c12)}`);
      const left = compose(c12, d3), right = compose(d1, compose(d2, d3));
      assert.deepEqual(left, right, `case ${c}`);
      assert.deepEqual(apply(v0, left), v3, `case ${c}`);
      assert.ok(canonical(c12, true) && canonical(left, true), `case ${c}: ${show(left)}`);
    }
  });

  test('composed size is bounded by the values', () => {
    const r = rng(SEED + 3);
    for (let c = 0; c < CASES / 3; c++) {
      const v0 = gen(r, 4);
      let v = v0, pending = {};
      for (let k = 0; k < 24; k++) {
        const [d, nv] = step(r, v);
        pending = compose(pending, d);
        v = nv;
        const bound = 2 * (nodes(v0) + nodes(v)) + 8;
        assert.ok(nodes(pending) <= bound, `case ${c} step ${k}: ${nodes(pending)} > ${bound}: ${show(pending)}`);
        assert.deepEqual(apply(v0, pending), v, `case ${c} step ${k}`);
      }
    }
  });

  test('agrees with the C library', () => {
    const lines = fs.readFileSync(fixtures, 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.length >= 1000, `${fixtures}: ${lines.length} fixtures`);
    let refusedBoth = 0, brokenRefused = 0;
    lines.forEach((line, i) => {
      const f = JSON.parse(line), at = `fixture ${i + 1}`;
      assert.deepEqual(diff(f.a, f.b), f.d1, `${at}: diff(a, b)`);
      assert.deepEqual(diff(f.b, f.c), f.d2, `${at}: diff(b, c)`);
      assert.deepEqual(compose(f.d1, f.d2), f.comp, `${at}: compose`);
      assert.deepEqual(apply(f.a, f.d1), f.b, `${at}: apply d1`);
      assert.deepEqual(apply(f.a, f.comp), f.c, `${at}: apply comp`);
      assert.deepEqual(apply(f.a, f.rd), f.rv, `${at}: apply a random diff`);
      assert.deepEqual(compose(f.rd, diff(f.rv, f.b)), f.rcomp, `${at}: compose a random diff`);
      if (f.otherApplied.error !== undefined) {
        assert.throws(() => apply(f.other, f.d1), ViewDiffError, `${at}: C refused: ${f.otherApplied.error}`);
        refusedBoth++;
      } else {
        assert.deepEqual(apply(f.other, f.d1), f.otherApplied.value, `${at}: apply to another value`);
      }
      // a corrupted diff: the same verdict from check, and the same result
      let message = '';
      try { check(f.broken); } catch (e) {
        if (!(e instanceof ViewDiffError)) throw e;
        message = e.message;
      }
      const v = f.brokenVerdict;
      assert.equal(message === '', v.ok, `${at}: check(${show(f.broken)}): C says ${v.ok ? 'ok' : v.message}, here ${message || 'ok'}`);
      if (!v.ok) {
        assert.equal(message, v.message, `${at}: check(${show(f.broken)}) refused with another message`);
        brokenRefused++;
      } else if (v.applied.error !== undefined) {
        assert.throws(() => apply(f.a, f.broken), ViewDiffError, `${at}: C refused: ${v.applied.error}`);
      } else {
        assert.deepEqual(apply(f.a, f.broken), v.applied.value, `${at}: apply a corrupted diff`);
      }
    });
    assert.ok(refusedBoth > 100, `only ${refusedBoth} refusals to compare`);
    assert.ok(brokenRefused > 300, `only ${brokenRefused} corrupted diffs refused`);
    console.log(`view_diff: ${lines.length} fixtures; ${brokenRefused} corrupted diffs refused with the same message`);
  });

  console.log(`view_diff: ${passed} tests passed (WEIR_SEED=${SEED})`);
})().catch((e) => {
  console.error(`FAIL (WEIR_SEED=${SEED}): ${e.stack || e}`);
  process.exit(1);
});
