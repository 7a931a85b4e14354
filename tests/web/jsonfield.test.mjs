// The inject form's JSON check (src/web/jsonfield.js): the value when
// JSON.parse takes the text, otherwise where and why it stops being JSON.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describe, parseJson, parseJsonObject } from '../../src/web/jsonfield.js';

test('valid JSON gives the value JSON.parse gives', () => {
  for (const text of ['21', '-1.5e3', '"a\\u00e9\\n"', 'null', 'true', ' [1, {"a": [false]}] ', '{"x": {"y": []}}', '0']) {
    const r = parseJson(text);
    assert.equal(r.ok, true, text);
    assert.deepEqual(r.value, JSON.parse(text));
  }
});

test('an error names line, column and what was wrong', () => {
  const r = parseJson('{\n  "a": 1,\n}');
  assert.equal(r.ok, false);
  assert.equal(r.line, 3);
  assert.equal(r.column, 1);
  assert.match(r.error, /trailing comma/);
  assert.equal(describe(r), `line 3, column 1: ${r.error}`);

  const q = parseJson("{'a': 1}");
  assert.equal(q.ok, false);
  assert.equal(q.column, 2);
  assert.match(q.error, /double quotes/);

  assert.match(parseJson('"abc').error, /never closed/);
  assert.match(parseJson('').error, /empty/);
  assert.match(parseJson('   ').error, /empty/);
  assert.match(parseJson('21 22').error, /after the value/);
  assert.match(parseJson('tru').error, /expected true/);
  assert.match(parseJson('012').error, /not a number/);
  assert.match(parseJson('[1,]').error, /trailing comma/);
  assert.match(parseJson('{"a" 1}').error, /expected ":"/);
  assert.match(parseJson('"a\tb"').error, /control character/);
});

test('an object is required where one must be', () => {
  assert.equal(parseJsonObject('{}').ok, true);
  for (const t of ['[]', '1', 'null', '"x"']) assert.match(parseJsonObject(t, 'the options').error, /the options must be a JSON object/);
  assert.equal(parseJsonObject('{').ok, false);
});

// Random texts near JSON: the check accepts exactly what JSON.parse accepts.
test('agrees with JSON.parse on random near-JSON texts', () => {
  let seed = 12345;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pieces = ['{', '}', '[', ']', ',', ':', '"a"', '"b\\n"', '1', '-0.5', '2e3', 'true', 'null', ' ', '\n', '"', '\\', '01', '.5', '-', 'x', "'"];
  const gen = (d) => {
    const k = rnd(d > 3 ? 4 : 7);
    if (k === 0) return JSON.stringify(rnd(1000) - 500);
    if (k === 1) return JSON.stringify(String.fromCharCode(97 + rnd(26)));
    if (k === 2) return ['true', 'false', 'null'][rnd(3)];
    if (k === 3) return '[' + Array.from({ length: rnd(3) }, () => gen(d + 1)).join(',') + ']';
    return '{' + Array.from({ length: rnd(3) }, (_, i) => `"k${i}":${gen(d + 1)}`).join(',') + '}';
  };
  for (let i = 0; i < 3000; i++) {
    let text = gen(0);
    const edits = rnd(3);
    for (let e = 0; e < edits; e++) {
      const at = rnd(text.length + 1);
      text = rnd(2) ? text.slice(0, at) + pieces[rnd(pieces.length)] + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
    }
    let ok = true;
    try { JSON.parse(text); } catch { ok = false; }
    if (text.trim() === '') ok = false;
    const r = parseJson(text);
    assert.equal(r.ok, ok, `${JSON.stringify(text)}: parseJson says ${r.ok ? 'ok' : r.error}`);
    if (!r.ok) {
      assert.ok(r.offset >= 0 && r.offset <= text.length, 'the offset is inside the text');
      assert.ok(r.line >= 1 && r.column >= 1);
    }
  }
});
