// Checking what a user typed as JSON (the inject value, execute options):
// the value, or where the text stops being JSON, as line and column, in the
// same words in every browser (JSON.parse's messages differ between them).

// {ok: true, value} or {ok: false, error, line, column, offset}.
export function parseJson(text) {
  const src = String(text ?? '');
  if (src.trim() === '') return fail(src, 0, 'empty: type a JSON value, e.g. 21, "text" or {"a": 1}');
  const p = { s: src, i: 0 };
  try {
    ws(p);
    value(p, 0);
    ws(p);
    if (p.i < src.length) throw at(p.i, `unexpected ${show(src[p.i])} after the value`);
  } catch (err) {
    if (err && typeof err.offset === 'number') return fail(src, err.offset, err.message);
    throw err;
  }
  return { ok: true, value: JSON.parse(src) };
}

// The same, and the value must be an object (execute options, a component).
export function parseJsonObject(text, what = 'the value') {
  const r = parseJson(text);
  if (r.ok && (r.value === null || typeof r.value !== 'object' || Array.isArray(r.value)))
    return { ok: false, error: `${what} must be a JSON object {...}`, line: 1, column: 1, offset: 0 };
  return r;
}

// "line 2, column 7: unexpected "}"" for an error result.
export function describe(r) {
  return r.ok ? '' : `line ${r.line}, column ${r.column}: ${r.error}`;
}

const MAX_DEPTH = 512;

function fail(src, offset, error) {
  let line = 1, col = 1;
  for (let k = 0; k < offset && k < src.length; k++) {
    if (src[k] === '\n') { line++; col = 1; } else col++;
  }
  return { ok: false, error, line, column: col, offset };
}

function at(offset, message) { return { offset, message }; }

function show(ch) {
  if (ch === undefined) return 'end of text';
  if (ch === '\n') return 'line break';
  return JSON.stringify(ch);
}

function ws(p) {
  while (p.i < p.s.length) {
    const c = p.s[p.i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') p.i++;
    else break;
  }
}

function expect(p, word) {
  for (let k = 0; k < word.length; k++)
    if (p.s[p.i + k] !== word[k]) throw at(p.i + k, `expected ${word} (JSON words are true, false and null)`);
  p.i += word.length;
}

function value(p, depth) {
  if (depth > MAX_DEPTH) throw at(p.i, `nested more than ${MAX_DEPTH} deep`);
  const c = p.s[p.i];
  if (c === '{') return object(p, depth);
  if (c === '[') return array(p, depth);
  if (c === '"') return string(p);
  if (c === '-' || (c >= '0' && c <= '9')) return number(p);
  if (c === 't') return expect(p, 'true');
  if (c === 'f') return expect(p, 'false');
  if (c === 'n') return expect(p, 'null');
  if (c === "'") throw at(p.i, 'JSON strings use double quotes "..."');
  if (c === undefined) throw at(p.i, 'the text ends where a value should be');
  throw at(p.i, `unexpected ${show(c)} where a value should be`);
}

function object(p, depth) {
  p.i++;
  ws(p);
  if (p.s[p.i] === '}') { p.i++; return; }
  for (;;) {
    ws(p);
    if (p.s[p.i] !== '"') {
      if (p.s[p.i] === '}') throw at(p.i, 'a comma before "}" (JSON has no trailing commas)');
      throw at(p.i, `a key must be a string in double quotes, not ${show(p.s[p.i])}`);
    }
    string(p);
    ws(p);
    if (p.s[p.i] !== ':') throw at(p.i, `expected ":" after the key, not ${show(p.s[p.i])}`);
    p.i++;
    ws(p);
    value(p, depth + 1);
    ws(p);
    const c = p.s[p.i];
    if (c === ',') { p.i++; continue; }
    if (c === '}') { p.i++; return; }
    throw at(p.i, `expected "," or "}" in the object, not ${show(c)}`);
  }
}

function array(p, depth) {
  p.i++;
  ws(p);
  if (p.s[p.i] === ']') { p.i++; return; }
  for (;;) {
    ws(p);
    if (p.s[p.i] === ']') throw at(p.i, 'a comma before "]" (JSON has no trailing commas)');
    value(p, depth + 1);
    ws(p);
    const c = p.s[p.i];
    if (c === ',') { p.i++; continue; }
    if (c === ']') { p.i++; return; }
    throw at(p.i, `expected "," or "]" in the list, not ${show(c)}`);
  }
}

function string(p) {
  const start = p.i;
  p.i++;
  for (;;) {
    const c = p.s[p.i];
    if (c === undefined) throw at(start, 'a string that is never closed (a " is missing)');
    if (c === '"') { p.i++; return; }
    if (c < ' ') throw at(p.i, 'a control character or line break inside a string (write \\n)');
    if (c === '\\') {
      const e = p.s[p.i + 1];
      if (e === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(p.s.slice(p.i + 2, p.i + 6))) throw at(p.i, '\\u takes four hex digits');
        p.i += 6;
        continue;
      }
      if (!'"\\/bfnrt'.includes(e ?? '')) throw at(p.i, `unknown escape \\${e ?? ''}`);
      p.i += 2;
      continue;
    }
    p.i++;
  }
}

function number(p) {
  const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(p.s.slice(p.i, p.i + 400));
  if (!m) throw at(p.i, 'not a number (JSON numbers look like 42, -1.5 or 2e10)');
  const next = p.s[p.i + m[0].length];
  if (next !== undefined && /[0-9.eE]/.test(next))
    throw at(p.i + m[0].length, 'not a number (no leading zeros, a digit after "." and after "e")');
  p.i += m[0].length;
}
