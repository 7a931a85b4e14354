// Diffs of live views (SPEC §8), in the browser and in Node: an ES module
// with no dependencies (from CommonJS: `const v = await import(url)`).
// The same model as src/service/view_diff.[ch], and the two agree exactly:
// tests/js/view_diff.cjs replays fixtures that the C unit test writes.
//
// THE FORMAT.  A diff is a JSON object, one of four shapes:
//
//   {}              the empty diff: changes nothing, fits any value.  The one
//                   canonical no-op.
//   {value: v}      replace the whole value by v (any JSON, null too).  A
//                   view's initial value is this diff from nothing.
//   object diff     {set: {k: v}, patch: {k: diff}, remove: [k]}, for an
//                   object; every member optional, a key in at most one of
//                   them.  `set` ADDS keys that are absent (setting a present
//                   key is an error); `patch` applies a nested diff to a
//                   present key's value (replacing a present value whole is
//                   `patch: {k: {value: v}}`); `remove` deletes present keys
//                   (removing an absent key is an error).  Being exact about
//                   presence lets compose cancel an add followed by a remove,
//                   so a composed diff never names a key that is in neither
//                   the old nor the new value.
//   list diff       {degree: D, grow: g, shrink: s, permutation: [cycle...],
//                   change: {pos: v}, patch: {pos: diff}, freeze: [pos]}, for a
//                   list; it is a list diff because it has `degree`.  On a
//                   list of n items (n must be D - g), in this fixed order
//                   (Electric v3's incseq):
//                     1. grow: append g empty slots (length D);
//                     2. permutation: apply the cycles one after another;
//                        after them, new[i] = old[p(i)];
//                     3. shrink: drop the last s slots (length D - s);
//                     4. change: the item at pos becomes v (whole);
//                        patch: the item at pos gets the nested diff.
//                   D, g, s are integers, 0 <= g, s <= D; g and s default to
//                   0, permutation/change/patch to empty.  A position is a
//                   decimal string without leading zeros ("0", "12"), below
//                   D - s, in at most one of change and patch.  Every grown
//                   slot that survives the shrink must be given a value by
//                   `change`.  A cycle is either
//                     [c0, c1, ..., cm-1]  (m >= 2 distinct positions < D):
//                                          new[c_t] = old[c_(t+1 mod m)],
//                                          i.e. the item at c0 moves to
//                                          c_(m-1), each other one step back;
//                     {rot: [i, j]}        (i != j, both < D): move the item
//                                          at i to j, shifting the items
//                                          between by one (the cycle
//                                          [i, i+1, ..., j] when i < j,
//                                          [i, i-1, ..., j] when i > j).
//                   The rots of one diff move at most ROT_SPAN x degree items
//                   in total (a rot [i, j] moves |i - j| + 1; a canonical
//                   diff's rots move at most degree), so applying a diff
//                   costs no more than its size plus a few times its degree.
//                   `freeze` is reserved: checked, ignored by apply, dropped
//                   by compose, never produced.
//
// Examples: the port view "last 3 values" [1,2,3] -> [2,3,4] is
//   {degree: 3, permutation: [{rot: [0, 2]}], change: {"2": 4}};
// appending to the executions list [e1,e2] -> [e1,e2,e3] is
//   {degree: 3, grow: 1, change: {"2": e3}}.
//
// CANONICAL FORM (what diff and compose return): {} for no change; members
// that would be empty or 0 are left out (a list diff always has degree); no
// nested diff is {}; a list position is replaced by `change`, never by a
// patch {value: v}; a list diff never both grows and shrinks (degree =
// max(old length, new length)); the permutation is the disjoint cycles of p
// in order of their smallest position, each written from that position, a
// run of 3 or more consecutive positions (either direction) as a rot; a
// freed slot stays where it is; `remove` is sorted by code point.
//
// SIZE.  weight(doc) is the length of doc as compact JSON (exact for ASCII
// strings without escapes; a non-integer number counts 8): below the root,
// diff uses a nested diff only when it weighs no more than {value: new}; at
// the root two objects or two lists always get a structural diff (a view is
// never sent whole again).  nodes(doc) counts JSON values (object keys do
// not count).  A canonical diff from a to b holds only positions below
// max(|a|, |b|), keys of a or b and values from b, so composing any number
// of diffs stays bounded by the two values; the tests check
// nodes(compose(d1..dk)) <= 2 * (nodes(a) + nodes(b)) + 8.
//
// Values and diffs are treated as immutable: results share unchanged parts
// with their inputs.  Errors are ViewDiffError with `path`, a JSON pointer
// into the diff (check) or into the value (apply, compose), and a message
// "view diff at <path>: ..." as in C.  Where the two can differ: JavaScript
// has one number type, so 1.0 is the integer 1 here (C keeps reals apart).

export const MAX_DEPTH = 64; // diffs nest at most this deep (C: WEIR_VIEW_DIFF_MAX_DEPTH)
export const MAX_ITEMS = 1 << 20; // the largest degree check accepts
export const MAX_SHIFT = 16;
export const ROT_SPAN = 4; // the rots of one list diff move at most ROT_SPAN x degree items // diff looks for "k items dropped at the front" up to this k
const VALUE_WRAP = 10; // what {"value": v} weighs more than v

export class ViewDiffError extends Error {
  constructor(path, message) {
    super(`view diff at ${path === '' ? 'the root' : path}: ${message}`);
    this.name = 'ViewDiffError';
    this.path = path;
  }
}

// ---------------------------------------------------------------- helpers

const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const esc = (k) => String(k).replace(/~/g, '~0').replace(/\//g, '~1');
const sub = (path, k) => `${path}/${esc(k)}`;

// Own data property, even for "__proto__".
function put(o, k, v) {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  return o;
}

function copyObj(o) {
  const r = {};
  for (const k of Object.keys(o)) put(r, k, o[k]);
  return r;
}

function typeName(v) {
  if (Array.isArray(v)) return 'a list';
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'object': return 'an object';
    case 'string': return 'a string';
    case 'number': return 'a number';
    case 'boolean': return 'a boolean';
    default: return typeof v;
  }
}

// Code point order (the order of UTF-8 bytes, as C's strcmp).
export function compareKeys(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x === y) continue;
    // surrogates (U+D800..DFFF, code points above U+FFFF) sort after U+E000..FFFF
    x = x >= 0xd800 && x <= 0xdfff ? x + 0x2000 : x >= 0xe000 ? x - 0x800 : x;
    y = y >= 0xd800 && y <= 0xdfff ? y + 0x2000 : y >= 0xe000 ? y - 0x800 : y;
    return x - y;
  }
  return a.length - b.length;
}

/** Deep equality of JSON values (object member order does not matter). */
export function equal(a, b) {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equal(a[i], b[i])) return false;
    return true;
  }
  if (!isObj(a) || !isObj(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!hasOwn(b, k) || !equal(a[k], b[k])) return false;
  return true;
}

/** The number of JSON values in doc (object keys do not count). */
export function nodes(doc) {
  let n = 1;
  if (Array.isArray(doc)) for (const x of doc) n += nodes(x);
  else if (isObj(doc)) for (const k of Object.keys(doc)) n += nodes(doc[k]);
  return n;
}

function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

/** The length of doc as compact JSON, near enough (see SIZE). */
export function weight(doc) {
  if (Array.isArray(doc)) {
    let n = 2;
    doc.forEach((x, i) => { n += weight(x) + (i > 0 ? 1 : 0); });
    return n;
  }
  if (isObj(doc)) {
    let n = 2;
    Object.keys(doc).forEach((k, i) => { n += utf8Length(k) + 3 + weight(doc[k]) + (i > 0 ? 1 : 0); });
    return n;
  }
  if (typeof doc === 'string') return utf8Length(doc) + 2;
  if (typeof doc === 'number') return Number.isInteger(doc) ? String(doc).length : 8;
  if (doc === false) return 5;
  return 4; // true, null
}

/** Is d the empty diff {}? */
export function isEmpty(d) {
  return isObj(d) && Object.keys(d).length === 0;
}

const EMPTY = 0, VALUE = 1, LIST = 2, OBJECT = 3;

function kindOf(d) {
  if (Object.keys(d).length === 0) return EMPTY;
  if (hasOwn(d, 'value')) return VALUE;
  if (hasOwn(d, 'degree')) return LIST;
  return OBJECT;
}

// "0" or [1-9][0-9]* below limit; -1 otherwise.
function parsePos(s, limit) {
  if (!/^(0|[1-9][0-9]*)$/.test(s) || s.length > 19) return -1;
  const v = Number(s);
  return v < limit ? v : -1;
}

// ------------------------------------------------------------------ check

const LIST_MEMBERS = ['degree', 'grow', 'shrink', 'permutation', 'change', 'patch', 'freeze'];

function checkCount(d, name, required, path) {
  if (!hasOwn(d, name)) {
    if (required) throw new ViewDiffError(path, `a list diff needs "${name}"`);
    return 0;
  }
  const v = d[name];
  if (!Number.isInteger(v) || v < 0) throw new ViewDiffError(sub(path, name), `must be an integer >= 0, not ${typeName(v)}`);
  if (v > MAX_ITEMS) throw new ViewDiffError(sub(path, name), `${v} is above WEIR_VIEW_DIFF_MAX_ITEMS (${MAX_ITEMS})`);
  return v;
}

function checkIndex(v, degree, path) {
  if (!Number.isInteger(v) || v < 0 || v >= degree)
    throw new ViewDiffError(path, `a position must be an integer in [0, degree ${degree})`);
  return v;
}

// span.moved accumulates how many items the rots move.
function checkCycle(c, degree, span, path) {
  if (isObj(c)) {
    const r = c.rot;
    if (Object.keys(c).length !== 1 || !Array.isArray(r) || r.length !== 2)
      throw new ViewDiffError(path, 'a cycle object must be exactly {"rot": [i, j]}');
    const i = checkIndex(r[0], degree, sub(path, 'rot')), j = checkIndex(r[1], degree, sub(path, 'rot'));
    if (i === j) throw new ViewDiffError(sub(path, 'rot'), 'a rot moves an item: i and j must differ');
    span.moved += Math.abs(i - j) + 1;
    if (span.moved > ROT_SPAN * degree)
      throw new ViewDiffError(path, `the rots move more than WEIR_VIEW_DIFF_ROT_SPAN (${ROT_SPAN}) x degree items`);
    return;
  }
  if (!Array.isArray(c) || c.length < 2)
    throw new ViewDiffError(path, 'a cycle is a list of 2 or more positions or {"rot": [i, j]}');
  const xs = c.map((x) => checkIndex(x, degree, path)).sort((x, y) => x - y);
  for (let t = 1; t < xs.length; t++)
    if (xs[t] === xs[t - 1]) throw new ViewDiffError(path, `position ${xs[t]} appears twice in a cycle`);
}

function checkList(d, path, depth) {
  for (const k of Object.keys(d))
    if (!LIST_MEMBERS.includes(k)) throw new ViewDiffError(path, `"${k}" is not a member of a list diff`);
  const degree = checkCount(d, 'degree', true, path);
  const grow = checkCount(d, 'grow', false, path);
  const shrink = checkCount(d, 'shrink', false, path);
  if (grow > degree) throw new ViewDiffError(path, `grow ${grow} is above degree ${degree}`);
  if (shrink > degree) throw new ViewDiffError(path, `shrink ${shrink} is above degree ${degree}`);
  const n1 = degree - shrink;
  if (hasOwn(d, 'permutation')) {
    const pp = sub(path, 'permutation');
    if (!Array.isArray(d.permutation)) throw new ViewDiffError(pp, 'must be a list of cycles');
    const span = { moved: 0 };
    d.permutation.forEach((c, i) => checkCycle(c, degree, span, sub(pp, i)));
  }
  for (const name of ['change', 'patch']) {
    if (!hasOwn(d, name)) continue;
    const pp = sub(path, name), m = d[name];
    if (!isObj(m)) throw new ViewDiffError(pp, 'must be an object of positions');
    for (const k of Object.keys(m)) {
      const pos = parsePos(k, n1);
      if (pos < 0)
        throw new ViewDiffError(sub(pp, k), `a position is a decimal without leading zeros below degree - shrink (${n1})`);
      if (name === 'patch') {
        if (isObj(d.change) && hasOwn(d.change, k))
          throw new ViewDiffError(sub(pp, k), `position ${pos} is both changed and patched`);
        checkRec(m[k], sub(pp, k), depth + 1);
      }
    }
  }
  if (hasOwn(d, 'freeze')) {
    const pp = sub(path, 'freeze');
    if (!Array.isArray(d.freeze)) throw new ViewDiffError(pp, 'must be a list of positions');
    for (const x of d.freeze) checkIndex(x, n1, pp);
  }
}

function checkObject(d, path, depth) {
  for (const k of Object.keys(d))
    if (k !== 'set' && k !== 'patch' && k !== 'remove')
      throw new ViewDiffError(path, `"${k}" is not a member of an object diff (set, patch, remove; a list diff has degree)`);
  const set = hasOwn(d, 'set') ? d.set : undefined;
  const patch = hasOwn(d, 'patch') ? d.patch : undefined;
  if (set !== undefined && !isObj(set)) throw new ViewDiffError(sub(path, 'set'), 'must be an object');
  if (patch !== undefined) {
    const pp = sub(path, 'patch');
    if (!isObj(patch)) throw new ViewDiffError(pp, 'must be an object of diffs');
    for (const k of Object.keys(patch)) {
      if (set && hasOwn(set, k)) throw new ViewDiffError(sub(pp, k), 'key is both set and patched');
      checkRec(patch[k], sub(pp, k), depth + 1);
    }
  }
  if (hasOwn(d, 'remove')) {
    const pp = sub(path, 'remove'), rm = d.remove;
    if (!Array.isArray(rm)) throw new ViewDiffError(pp, 'must be a list of keys');
    const seen = new Set();
    rm.forEach((key, i) => {
      const kp = sub(pp, i);
      if (typeof key !== 'string') throw new ViewDiffError(kp, `a key is a string, not ${typeName(key)}`);
      if ((set && hasOwn(set, key)) || (patch && hasOwn(patch, key)))
        throw new ViewDiffError(kp, `key "${key}" is removed and also set or patched`);
      if (seen.has(key)) throw new ViewDiffError(kp, `key "${key}" is removed twice`);
      seen.add(key);
    });
  }
}

function checkRec(d, path, depth) {
  if (!isObj(d)) throw new ViewDiffError(path, `a diff is an object, not ${d === undefined ? 'missing' : typeName(d)}`);
  if (depth >= MAX_DEPTH)
    throw new ViewDiffError(path, `diffs nest deeper than WEIR_VIEW_DIFF_MAX_DEPTH (${MAX_DEPTH})`);
  const keys = Object.keys(d);
  if (keys.length === 0) return;
  if (hasOwn(d, 'value')) {
    if (keys.length !== 1) throw new ViewDiffError(path, 'a {"value": v} diff has no other member');
    return;
  }
  if (hasOwn(d, 'degree')) return checkList(d, path, depth);
  for (const k of ['grow', 'shrink', 'permutation', 'change', 'freeze'])
    if (hasOwn(d, k)) throw new ViewDiffError(path, `a list diff needs "degree" (it has "${k}")`);
  return checkObject(d, path, depth);
}

/** Throws ViewDiffError (naming the place in the diff) unless d is well formed. */
export function check(d) {
  checkRec(d, '', 0);
}

// ------------------------------------------------------------- list diffs

// A checked list diff: p (new[i] = old[p[i]] over degree slots) and its
// change/patch members by position.
function readList(d) {
  const degree = d.degree, grow = d.grow ?? 0, shrink = d.shrink ?? 0, n1 = degree - shrink;
  const p = new Array(degree);
  for (let i = 0; i < degree; i++) p[i] = i;
  for (const c of d.permutation ?? []) {
    if (Array.isArray(c)) {
      const t0 = p[c[0]];
      for (let t = 0; t + 1 < c.length; t++) p[c[t]] = p[c[t + 1]];
      p[c[c.length - 1]] = t0;
    } else {
      const [i, j] = c.rot, t0 = p[i];
      if (i < j) for (let x = i; x < j; x++) p[x] = p[x + 1];
      else for (let x = i; x > j; x--) p[x] = p[x - 1];
      p[j] = t0;
    }
  }
  const change = new Map(), patch = new Map();
  if (d.change) for (const k of Object.keys(d.change)) change.set(Number(k), d.change[k]);
  if (d.patch) for (const k of Object.keys(d.patch)) patch.set(Number(k), d.patch[k]);
  return { degree, grow, shrink, n0: degree - grow, n1, p, change, patch };
}

// ------------------------------------------------------------------ apply

function applyList(a, d, path) {
  const want = d.degree - (d.grow ?? 0);
  if (want !== a.length)
    throw new ViewDiffError(path, `the list diff is for ${want} items (degree - grow), the list has ${a.length}`);
  const l = readList(d), res = new Array(l.n1);
  for (let i = 0; i < l.n1; i++) {
    const src = l.p[i];
    if (l.change.has(i)) res[i] = l.change.get(i);
    else if (src >= a.length) throw new ViewDiffError(sub(path, i), 'a grown slot ends here without a value in change');
    else if (l.patch.has(i)) res[i] = applyRec(a[src], l.patch.get(i), sub(path, i));
    else res[i] = a[src];
  }
  return res;
}

function applyObject(a, d, path) {
  if (!isObj(a)) throw new ViewDiffError(path, `an object diff does not fit ${typeName(a)}`);
  const res = copyObj(a);
  for (const k of d.remove ?? []) {
    if (!hasOwn(a, k)) throw new ViewDiffError(sub(path, k), 'remove of an absent key');
    delete res[k];
  }
  if (d.set)
    for (const k of Object.keys(d.set)) {
      if (hasOwn(a, k)) throw new ViewDiffError(sub(path, k), 'set of a present key (replace it with patch {"value": v})');
      put(res, k, d.set[k]);
    }
  if (d.patch)
    for (const k of Object.keys(d.patch)) {
      if (!hasOwn(a, k)) throw new ViewDiffError(sub(path, k), 'patch of an absent key');
      put(res, k, applyRec(a[k], d.patch[k], sub(path, k)));
    }
  return res;
}

function applyRec(v, d, path) {
  switch (kindOf(d)) {
    case EMPTY: return v;
    case VALUE: return d.value;
    case LIST:
      if (!Array.isArray(v)) throw new ViewDiffError(path, `a list diff does not fit ${typeName(v)}`);
      return applyList(v, d, path);
    default: return applyObject(v, d, path);
  }
}

/** The value after d (checked first); throws ViewDiffError naming the path when d is malformed or does not fit. */
export function apply(value, d) {
  check(d);
  return applyRec(value === undefined ? null : value, d, '');
}

// ------------------------------------------------ symbolic list, encoding

// An entry: the old item k with a pending nested diff x (undefined: none),
// or (fresh) a new value x.
function oldEnt(k, x) {
  if (x === undefined) return { k, fresh: false, x: undefined };
  const kind = kindOf(x);
  if (kind === EMPTY) return { k, fresh: false, x: undefined };
  if (kind === VALUE) return { k: 0, fresh: true, x: x.value };
  return { k, fresh: false, x };
}

// The canonical list diff taking a list of n0 items to r.
function encodeList(n0, r) {
  const n2 = r.length, D = Math.max(n0, n2);
  const p = new Array(D), used = new Uint8Array(D), need = new Uint8Array(D);
  for (let i = 0; i < D; i++) {
    if (i < n2 && !r[i].fresh) { p[i] = r[i].k; used[r[i].k] = 1; } else need[i] = 1;
  }
  // a freed slot that is itself needed stays where it is
  for (let t = 0; t < D; t++) if (need[t] && !used[t]) { p[t] = t; used[t] = 1; need[t] = 0; }
  for (let t = 0, s = 0; t < D; t++)
    if (need[t]) {
      while (used[s]) s++;
      p[t] = s;
      used[s] = 1;
    }
  const perm = [], seen = new Uint8Array(D);
  for (let i = 0; i < D; i++) {
    if (seen[i] || p[i] === i) continue;
    const cyc = [];
    let j = i;
    do { cyc.push(j); seen[j] = 1; j = p[j]; } while (j !== i);
    const m = cyc.length;
    let up = m >= 3, down = m >= 3;
    for (let t = 1; t < m; t++) {
      up = up && cyc[t] === i + t;
      down = down && cyc[t] === i + m - t;
    }
    perm.push(up ? { rot: [i, i + m - 1] } : down ? { rot: [i + m - 1, i] } : cyc);
  }
  const change = {}, patch = {};
  let nc = 0, np = 0;
  for (let i = 0; i < n2; i++) {
    if (r[i].x === undefined) continue;
    if (r[i].fresh) { put(change, String(i), r[i].x); nc++; } else { put(patch, String(i), r[i].x); np++; }
  }
  if (D === n0 && D === n2 && !perm.length && !nc && !np) return {};
  const d = { degree: D };
  if (D !== n0) d.grow = D - n0;
  if (D !== n2) d.shrink = D - n2;
  if (perm.length) d.permutation = perm;
  if (nc) d.change = change;
  if (np) d.patch = patch;
  return d;
}

// The list after the checked list diff l, against the list before it.
function listEnts(l, path) {
  const r = new Array(l.n1);
  for (let i = 0; i < l.n1; i++) {
    if (l.change.has(i)) r[i] = { k: 0, fresh: true, x: l.change.get(i) };
    else if (l.p[i] >= l.n0) throw new ViewDiffError(sub(path, i), 'a grown slot ends here without a value in change');
    else r[i] = oldEnt(l.p[i], l.patch.has(i) ? normalise(l.patch.get(i), sub(path, i)) : undefined);
  }
  return r;
}

// ---------------------------------------------------------------- compose

function composeList(d1, d2, path) {
  const l1 = readList(d1), l2 = readList(d2);
  if (l2.n0 !== l1.n1)
    throw new ViewDiffError(path, `the second list diff is for ${l2.n0} items (degree - grow), the first leaves ${l1.n1}`);
  const r1 = listEnts(l1, path), r2 = new Array(l2.n1);
  for (let i = 0; i < l2.n1; i++) {
    const src = l2.p[i], pp = sub(path, i);
    if (l2.change.has(i)) { r2[i] = { k: 0, fresh: true, x: l2.change.get(i) }; continue; }
    if (src >= l1.n1) throw new ViewDiffError(pp, 'a grown slot ends here without a value in change');
    const e = r1[src];
    if (!l2.patch.has(i)) r2[i] = e;
    else if (e.fresh) r2[i] = { k: 0, fresh: true, x: applyRec(e.x, l2.patch.get(i), pp) };
    else if (e.x === undefined) r2[i] = oldEnt(e.k, normalise(l2.patch.get(i), pp));
    else r2[i] = oldEnt(e.k, composeRec(e.x, l2.patch.get(i), pp));
  }
  return encodeList(l1.n0, r2);
}

// The canonical object diff from its members (rm: a Set of keys).
function encodeObject(set, patch, rm) {
  for (const k of Object.keys(patch)) if (isEmpty(patch[k])) delete patch[k];
  const d = {};
  if (Object.keys(set).length) d.set = set;
  if (Object.keys(patch).length) d.patch = patch;
  if (rm.size) d.remove = [...rm].sort(compareKeys);
  return d;
}

function composeObject(d1, d2, path) {
  const set = d1.set ? copyObj(d1.set) : {}, patch = {}, rm = new Set(d1.remove ?? []);
  if (d1.patch) for (const k of Object.keys(d1.patch)) put(patch, k, normalise(d1.patch[k], sub(path, k)));
  for (const k of d2.remove ?? []) {
    if (hasOwn(set, k)) delete set[k]; // added, then removed: never there
    else if (rm.has(k)) throw new ViewDiffError(sub(path, k), 'remove of a key the first diff removed');
    else { delete patch[k]; rm.add(k); }
  }
  if (d2.set)
    for (const k of Object.keys(d2.set)) {
      if (hasOwn(set, k) || hasOwn(patch, k))
        throw new ViewDiffError(sub(path, k), 'set of a key present after the first diff');
      if (rm.has(k)) { rm.delete(k); put(patch, k, { value: d2.set[k] }); } // removed, then added: replaced
      else put(set, k, d2.set[k]);
    }
  if (d2.patch)
    for (const k of Object.keys(d2.patch)) {
      const v = d2.patch[k], kp = sub(path, k);
      if (hasOwn(set, k)) put(set, k, applyRec(set[k], v, kp));
      else if (hasOwn(patch, k)) put(patch, k, composeRec(patch[k], v, kp));
      else if (rm.has(k)) throw new ViewDiffError(kp, 'patch of a key the first diff removed');
      else put(patch, k, normalise(v, kp));
    }
  return encodeObject(set, patch, rm);
}

// d in canonical form.
function normalise(d, path) {
  switch (kindOf(d)) {
    case EMPTY: return {};
    case VALUE: return d;
    case LIST: {
      const l = readList(d);
      return encodeList(l.n0, listEnts(l, path));
    }
    default: return composeObject(d, {}, path);
  }
}

function composeRec(d1, d2, path) {
  const k1 = kindOf(d1), k2 = kindOf(d2);
  if (k2 === EMPTY) return normalise(d1, path);
  if (k1 === EMPTY) return normalise(d2, path);
  if (k2 === VALUE) return d2;
  if (k1 === VALUE) return { value: applyRec(d1.value, d2, path) };
  if (k1 !== k2)
    throw new ViewDiffError(path, `${k2 === LIST ? 'a list' : 'an object'} diff cannot follow ${k1 === LIST ? 'a list' : 'an object'} diff`);
  return k1 === LIST ? composeList(d1, d2, path) : composeObject(d1, d2, path);
}

/** One canonical diff equal to applying d1 then d2 (both checked first); throws ViewDiffError when d2 cannot follow d1. */
export function compose(d1, d2) {
  check(d1);
  check(d2);
  return composeRec(d1, d2, '');
}

// ------------------------------------------------------------------- diff

function diffObject(a, b, depth) {
  const set = {}, patch = {}, rm = new Set();
  for (const k of Object.keys(b)) {
    if (!hasOwn(a, k)) put(set, k, b[k]);
    else if (!equal(a[k], b[k])) put(patch, k, diffRec(a[k], b[k], depth + 1));
  }
  for (const k of Object.keys(a)) if (!hasOwn(b, k)) rm.add(k);
  return encodeObject(set, patch, rm);
}

function sameRun(a, from, b, n) {
  for (let i = 0; i < n; i++) if (!equal(a[from + i], b[i])) return false;
  return true;
}

function diffList(a, b, depth) {
  const n0 = a.length, n1 = b.length, m = Math.min(n0, n1);
  let unequal = 0;
  for (let i = 0; i < m; i++) if (!equal(a[i], b[i])) unequal++;
  const cost = unequal + Math.max(0, n1 - n0);
  let shift = 0, keep = 0;
  for (let k = 1; unequal && k < n0 && k <= MAX_SHIFT; k++) {
    const ov = Math.min(n0 - k, n1);
    if (ov && n1 - ov < cost && sameRun(a, k, b, ov)) { shift = k; keep = ov; break; }
  }
  const r = new Array(n1);
  for (let i = 0; i < n1; i++) {
    if (shift && i < keep) r[i] = { k: i + shift, fresh: false, x: undefined };
    else if (!shift && i < n0) r[i] = oldEnt(i, equal(a[i], b[i]) ? undefined : diffRec(a[i], b[i], depth + 1));
    else r[i] = { k: 0, fresh: true, x: b[i] };
  }
  return encodeList(n0, r);
}

function diffRec(a, b, depth) {
  if (equal(a, b)) return {};
  let d;
  if (depth < MAX_DEPTH - 1 && isObj(a) && isObj(b)) d = diffObject(a, b, depth);
  else if (depth < MAX_DEPTH - 1 && Array.isArray(a) && Array.isArray(b)) d = diffList(a, b, depth);
  else return { value: b };
  if (depth > 0 && weight(d) > weight(b) + VALUE_WRAP) return { value: b };
  return d;
}

/**
 * A small canonical diff from a to b: {} when equal; keyed for objects; for
 * lists growing or trimming at the end, a shift (items dropped at the front,
 * as in a "last n values" window) when it changes fewer positions, otherwise
 * by position.  At the root two objects or two lists always get a structural
 * diff; below it a nested diff only when it weighs no more than {value: b}.
 */
export function diff(a, b) {
  return diffRec(a === undefined ? null : a, b === undefined ? null : b, 0);
}

// ------------------------------------------------------------- live views

/**
 * The client side of one view: the value after view:init and each view:diff.
 *   const v = new LiveView('executions');
 *   socket.on('view:init', (m) => v.init(m));   // {view, seq, value}
 *   socket.on('view:diff', (m) => v.update(m)); // {view, seq, diff}
 * update ignores a message for another view and one whose seq is not newer
 * (a duplicate after a resume); listeners get (value, diff, seq).
 */
export class LiveView {
  constructor(name) {
    this.name = name;
    this.value = undefined;
    this.seq = -1;
    this.ready = false;
    this.listeners = new Set();
  }

  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  init({ view, seq, value }) {
    if (view !== undefined && view !== this.name) return false;
    this.value = value;
    this.seq = seq ?? 0;
    this.ready = true;
    for (const fn of this.listeners) fn(this.value, { value }, this.seq);
    return true;
  }

  update({ view, seq, diff: d }) {
    if (view !== undefined && view !== this.name) return false;
    if (!this.ready) throw new ViewDiffError('', `view ${this.name}: a diff before view:init`);
    if (seq !== undefined && seq <= this.seq) return false;
    this.value = apply(this.value, d);
    if (seq !== undefined) this.seq = seq;
    for (const fn of this.listeners) fn(this.value, d, this.seq);
    return true;
  }
}
