// Number formatting of the page's counters (src/web/dom.js; its DOM helpers need a document).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { num } from '../../src/web/dom.js';

test('counters are grouped by thousands', () => {
  assert.equal(num(0), '0');
  assert.equal(num(999), '999');
  assert.equal(num(1000), '1,000');
  assert.equal(num(1234567), '1,234,567');
  assert.equal(num(-1234567), '-1,234,567');
  assert.equal(num(1234.5), '1,234.50');
  assert.equal(num(undefined), '');
  assert.equal(num('x'), 'x');
  for (let i = 0; i < 1000; i++) {
    const n = Math.floor(Math.random() * 1e15);
    assert.equal(num(n), n.toLocaleString('en-US'));
  }
});
