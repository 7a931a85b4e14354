#!/usr/bin/env node
/*
 * Generates expr_cases.json: the table of expression cases that
 * tests/unit/test_expr.c replays against weir's evaluator.  The expected
 * results are computed here by a real JavaScript engine (node), the same way
 * a JS runtime would evaluate the expression:
 *
 *     new Function('value', 'config', 'port', 'return (' + expr + ')')
 *
 * Each output case: {expr, value?, config?, port?} plus exactly one of
 *   expect: JSON.stringify(result)   (NaN/Infinity read as null, like weir)
 *   expectUndefined: true            (the result is undefined)
 *   error: true                      (JavaScript throws: a runtime error)
 *   compileError: true               (outside weir's subset; refused at load)
 * and `truthy` (Boolean(result)) for the cases that produce a value.
 *
 * Run: node tests/unit/data/gen_expr_cases.js   (rewrites expr_cases.json)
 */
'use strict';
const fs = require('fs');
const path = require('path');

const cases = [];
/* c(expr, value, extra): value omitted → undefined */
function c(expr, ...rest) {
  const k = {expr};
  if (rest.length > 0) k.value = rest[0];
  if (rest.length > 1) Object.assign(k, rest[1]);
  cases.push(k);
}
/* refused at compile time (outside the subset or not JavaScript) */
function bad(expr) { cases.push({expr, compileError: true}); }

const V = {
  a: {b: 5, c: [1, 2, 3]},
  s: 'hello',
  n: 42,
  nul: null,
  status: 'active',
  items: [{id: 1, active: true, price: 9.99}, {id: 2, active: false, price: 0.1}, {id: 3, active: true, price: 20}],
  k: 'dyn',
};
const CFG = {threshold: 10, key: 'n', names: ['x', 'y']};

/* ---- number literals and formatting (Number::toString) */
c('1');
c('1.5');
c('-0');
c('0.1 + 0.2');
c('1e21');
c('1e20');
c('123456789012345680000');
c('1e-7');
c('0.000001');
c('-1e-7');
c('123e-20');
c('0x1F');
c('0o17');
c('0b101');
c('1_000_000');
c('.5');
c('5.');
c('2 ** 53');
c('2 ** 53 + 1');
c('2 ** 64');
c('1 / 3');
c('100 / 3');
c('1e300 * 1e10');
c('-1 / 0');
c('0 / 0');
c('5e-324');
c('Number.MAX_VALUE');
c('Number.EPSILON');
c('String(0.0000001)');
c('String(1e21)');
c('String(-1e-7)');
c('String(123.456)');
c('String(2 ** 64)');
c('String(1.7976931348623157e308)');
c('String(-0)');
c('`${1 / 3}`');
c('(25).toString(2)');
c('(0.5).toString(2)');
c('(-255).toString(16)');
c('(3.75).toString(8)');
c('(0.1).toString(3)');
c('(255).toString()');
c('(1e21).toFixed(2)');
c('(1.005).toFixed(2)');
c('(1.45).toFixed(1)');
c('(2.5).toFixed(0)');
c('(-1.5).toFixed(0)');
c('(0).toFixed(2)');
c('(123.456).toFixed(10)');
c('(-0.0001).toFixed(2)');
c('(1e-10).toFixed(3)');
c('value.toFixed(2)', 3.14159);
c('(0.000001234).toString()');
c('(-0).toFixed(2)');
c('(-1e-7).toFixed(3)');
c('parseInt("zzzzzzzzzzzzzzzz", 36)');
c('0xfffffffffffffffff');
c('Number("0b" + "1".repeat(60))');
c('(value * 100).toFixed(1) + "%"', 0.4567);

/* ---- strings */
c(String.raw`"a\nb"`);
c(String.raw`'\x41\u0042\u{43}'`);
c(String.raw`"\u00e9"`);
c(String.raw`"\uD83D\uDE00"`);
c('"😀".length');
c('"héllo".length');
c('"héllo".toUpperCase()');
c('"ÀÉÎ".toLowerCase()');
c('"straße".toUpperCase()');
c('"ΟΔΟΣ".toLowerCase()');
c('"Привет".toUpperCase()');
c('"abc".at(-1)');
c('"abc"[1]');
c('"abc"[5]');
c('"abc".charAt(1)');
c('"abc".charAt(9)');
c('"abc".charCodeAt(0)');
c('"😀".charCodeAt(1)');
c('"😀".codePointAt(0)');
c('"abc".slice(-2)');
c('"abc".slice(2, 1)');
c('"abcdef".substring(4, 1)');
c('"abc".substring(-1)');
c('"a,b,,c".split(",")');
c('"abc".split("")');
c('"a b c".split(" ", 2)');
c('"abc".split()');
c('"".split(",")');
c('"".split("")');
c('"a--b--c".split("--")');
c(String.raw`"  x  ".trim()`);
c(String.raw`"\t\n x\u00a0".trim()`);
c(String.raw`"\t\n x ".trimStart()`);
c('"x  ".trimEnd()');
c('"5".padStart(3, "0")');
c('"abc".padStart(10, "123")');
c('"abc".padEnd(6)');
c('"abc".padStart(2)');
c('"abc".padEnd(5, "")');
c('"ab".repeat(3)');
c('"ab".repeat(0)');
c('"abc".replace("b", "[$&]")');
c('"aaa".replace("a", "b")');
c('"aaa".replaceAll("a", "b")');
c('"abc".replace("", "_")');
c('"abc".replaceAll("", "_")');
c('"a.b".replace(".", "$$")');
c(`"abc".replace("b", "$'")`);
c('"abc".replace("b", "$`")');
c('"abc".replace("b", "$1")');
c('"abc".replace("b", m => m.toUpperCase())');
c('"a-b-c".replaceAll("-", (m, i) => i)');
c('"abc".includes("bc")');
c('"abc".includes("")');
c('"abc".startsWith("ab")');
c('"abc".endsWith("bc")');
c('"abc".startsWith("b", 1)');
c('"abc".endsWith("a", 1)');
c('"abcabc".indexOf("c")');
c('"abcabc".lastIndexOf("c")');
c('"abcabc".lastIndexOf("c", 4)');
c('"abcabc".indexOf("c", 3)');
c('"abc".indexOf("")');
c('"abc".indexOf("", 10)');
c('"héllo wörld".indexOf("w")');
c('"😀a".indexOf("a")');
c('"😀ab".slice(2)');
c('"a".concat(1, null, [2, 3])');
c('"abc".toString()');
c('Object.keys("é😀")');
c('Object.keys({..."a😀"})');
c('value.s.length', V);
c('value.s.toUpperCase() + "!"', V);
c('value[0] + value[value.length - 1]', 'abc');

/* ---- + and coercions */
c('"3" * "4"');
c('"3" + 4');
c('3 + "4"');
c('1 + 2 + "3"');
c('"1" + 2 + 3');
c('"5" - 2');
c('"5" * null');
c('undefined + 1');
c('null + 1');
c('true + true');
c('[] + []');
c('[] + {}');
c('({}) + []');
c('[1, 2] + [3]');
c('[5] * 2');
c('[1, 2] * 2');
c('"" * 5');
c('" 12 " * 1');
c('"0x10" * 1');
c('"1e3" * 1');
c('"Infinity" * 1');
c('"-Infinity" / 2');
c('"infinity" * 1');
c('"1_000" * 1');
c('"12px" * 1');
c('+""');
c('+" "');
c(String.raw`+"\n\t"`);
c('+[]');
c('+[[]]');
c('+[1]');
c('+{}');
c('+null');
c('+undefined');
c('+true');
c('-"3"');
c('"a" + null + undefined');
c('7 % 3');
c('-7 % 3');
c('7 % -3');
c('5.5 % 2');
c('2 ** 10');
c('2 ** 3 ** 2');
c('(-2) ** 2');
c('2 ** -1');
c('1 ** NaN');
c('NaN ** 0');
c('(-8) ** (1 / 3)');
c('0.1 * 3');
c('1 / -0');
c('Infinity - Infinity');
c('9007199254740993');
c('value * 2', 21);
c('value * 2', 1.5);
c('value * 2', '21');
c('value * 2');
c('value + 1', '1');
c('value / 3', 10);
c('value.n * 2 + 1', V);
c('value.a.b * value.n', V);

/* ---- equality */
c('1 == "1"');
c('0 == ""');
c('0 == "0"');
c('"" == "0"');
c('null == 0');
c('null == undefined');
c('undefined == 0');
c('NaN == NaN');
c('NaN === NaN');
c('NaN != NaN');
c('[1] == 1');
c('[1, 2] == "1,2"');
c('({}) == "[object Object]"');
c('true == 1');
c('true == "1"');
c('false == ""');
c('false == []');
c('false == "false"');
c('[] == ![]');
c('[0] == false');
c('"1" === 1');
c('null === null');
c('undefined === undefined');
c('null === undefined');
c('value === value', {x: 1});
c('value.a === value.a', V);
c('[] === []');
c('0 === -0');
c('value == "42"', 42);
c('value.status === "active"', V);
c('value.status === "active"', {status: 'inactive'});
c('value != null', 0);
c('value != null');
c('null != undefined');
c('value.n == "42.0"', V);

/* ---- logic */
c('0 || "x"');
c('"" || null');
c('1 && 2');
c('0 && value.a.b');
c('value && value.a', undefined);
c('null ?? "d"');
c('0 ?? "d"');
c('"" ?? "d"');
c('undefined ?? null ?? 3');
c('value.missing ?? "default"', V);
c('(value.missing || 0) ?? 1', V);
c('!0');
c('!!"0"');
c('!""');
c('![]');
c('!!NaN');
c('true ? 1 : 2');
c('"" ? 1 : 2');
c('value.n > 10 ? "big" : "small"', V);
c('value ? value.x ? 1 : 2 : 3', {x: 0});

/* ---- typeof */
c('typeof 1');
c('typeof "s"');
c('typeof null');
c('typeof undefined');
c('typeof value', V);
c('typeof value');
c('typeof value.missing', V);
c('typeof []');
c('typeof {}');
c('typeof Math.abs');
c('typeof String');
c('typeof NaN');
c('typeof typeof 1');
c('typeof value.items.map', V);
c('void 0');

/* ---- properties, optional chaining */
c('value.a.b', V);
c('value["a"]["b"]', V);
c('value.items[0].id', V);
c('value.items[1]', V);
c('value.items[-1]', V);
c('value.items.length', V);
c('value.items["length"]', V);
c('value.missing', V);
c('value.missing.x', V);
c('value.nul.x', V);
c('value.x', null);
c('value.x');
c('value?.missing?.x', V);
c('value.missing?.x.y.z', V);
c('(value.missing?.x).y', V);
c('value.items?.[0]?.id', V);
c('value?.items[5]?.id', V);
c('value.fn?.()', V);
c('value?.a.b', undefined);
c('value.a.b()', V);
c('value.a()', V);
c('value[0]', 'abc');
c('value.length', 'abc');
c('(1).x');
c('true.x');
c('value[1.5]', [1, 2]);
c('value["01"]', [1, 2]);
c('value["1"]', [1, 2]);
c('value[-0]', [1, 2]);
c('value[value.k]', {k: 'z', z: 'zz'});
c('value.items[value.items.length - 1].price', V);
c('config.threshold', 5, {config: CFG});
c('value > config.threshold', 5, {config: CFG});
c('config.names[1]', null, {config: CFG});
c('value[config.key]', V, {config: CFG});
c('port', 1, {port: 'in'});
c('port === "in" ? value : -value', 1, {port: 'in'});
c('value["a b"]', {'a b': 1});
c('value.constructor', null);

/* ---- template strings */
c('`v=${value}`', 42);
c('`${value}`', {a: 1});
c('`${[1, 2]}`');
c('`${null}-${undefined}`');
c('`a${`b${1 + 1}c`}d`');
c('`line1\\nline2`');
c('`${ {a: 1}.a }`');
c('`\\${x}`');
c('`${value.a.b * 2} items`', V);
c('`no holes`');
c('`${value.items.map(i => i.id).join(",")}`', V);

/* ---- arrays */
c('[1, 2, 3].includes(2)');
c('[NaN].includes(NaN)');
c('[NaN].indexOf(NaN)');
c('[1, 2, 3].indexOf(4)');
c('[1, 2, 1].indexOf(1, 1)');
c('["a", "b"].join("-")');
c('[1, [2, [3]]].join()');
c('[null, undefined, 1].join()');
c('[1, 2, 3].slice(1)');
c('[1, 2, 3].slice(-2, -1)');
c('[1].concat(2, [3, [4]])');
c('[1, 2, 3].map((x, i) => x * i)');
c('[1, 2, 3, 4].filter(x => x % 2)');
c('[{a: 1}, {a: 2}].find(o => o.a === 2)');
c('[1, 2].find(x => x > 5)');
c('[1, 2, 3].some(x => x > 2)');
c('[].some(x => true)');
c('[].every(x => false)');
c('[1, 2, 3].every(x => x > 0)');
c('[1, 2, 3].reduce((a, b) => a + b, 10)');
c('[1, 2, 3].reduce((a, b) => a + b)');
c('[].reduce((a, b) => a)');
c('[].reduce((a, b) => a, "init")');
c('[[1, 2], [3]].reduce((a, b) => a.concat(b), [])');
c('["a", "b"].reduceRight((a, b) => a + b)');
c('[1, [2, [3, [4]]]].flat()');
c('[1, [2, [3, [4]]]].flat(2)');
c('[1, [2, [3, [4]]]].flat(Infinity)');
c('[1, 2].flatMap(x => [x, x * 2])');
c('[3, 1, 10, 2].sort()');
c('[3, 1, 10, 2].sort((a, b) => a - b)');
c('["b", "a", "C"].sort()');
c('[3, undefined, 1].sort()');
c('[{n: 2, k: "a"}, {n: 1, k: "b"}, {n: 2, k: "c"}].sort((x, y) => x.n - y.n).map(o => o.k)');
c('[1, 2, 3].reverse()');
c('[1, 2, 3].at(-1)');
c('[1, 2, 3].findIndex(x => x === 2)');
c('[1, 2, 3].findLast(x => x < 3)');
c('[3, 1, 3].lastIndexOf(3)');
c('["1", "2", "3"].map(Number)');
c('["1", "2", "3"].map(parseInt)');
c('[0, 1, "", null, "a"].filter(Boolean)');
c('[1, 2, 3].map(String)');
c('[-1.5, 2.5].map(Math.round)');
c('[...[1, 2], ...[3]]');
c('[..."héllo"]');
c('[1, , 3]');
c('[1, , 3].length');
c('[undefined, null]');
c('[1, 2, 3].length');
c('Math.max(...[1, 5, 3])');
c('Math.max(...value)', [4, 8, 2]);
c('Math.max()');
c('Math.min()');
c('Array.isArray([])');
c('Array.isArray("a")');
c('value.items.map(x => x.id)', V);
c('value.items.filter(x => x.active).length', V);
c('value.items.filter(x => x.active).map(x => x.price).reduce((a, b) => a + b, 0)', V);
c('value.items.map(x => x.missing)', V);
c('value.items.map(x => x.missing).filter(x => x !== undefined)', V);
c('[NaN, Infinity].map(x => isNaN(x))');
c('[1, 2, 3].map(x => [x])');
c('[1, 2, 3].forEach(x => x)');
c('[1, 2].map(x => [10, 20].map(y => x + y))');
c('[1, 2].map(value => value * 10)', 5);
c('[1, 2].map(x => x + value)', 100);
c('value.items.map(x => ({id: x.id, ok: !!x.active}))', V);
c('[1, 2, 3].map(x => x > 1 ? "big" : "small")');
c('[3, 2, 1].toSorted()');
c('value.map(x => x * 2)', [1, 2, 3]);
c('value.items.some(x => x.price > 10) && value.items.every(x => x.id > 0)', V);
c('value.items.find(x => x.id === 9)?.price ?? 0', V);
c('[1, 2, 3].includes("2")');
c('[[1, 2], [3, 4]].map(p => p[0] * p[1])');
c('[1, 2, 3].map(x => x * 2).filter(x => x > 2).reduce((a, b) => a + b)');
c('value.items.map(x => x.price).sort((a, b) => b - a)[0]', V);
c('[10, 1, 5].sort().map(String)');
c('value.items.filter(x => x.active).map(x => `${x.id}:${x.price.toFixed(2)}`).join(";")', V);

/* ---- objects */
c('({a: 1, b: "x"})');
c('({"a b": 1})');
c('({1: "x", 0: "y"})');
c('({b: 1, a: 2, 1: 3})');
c('({1.5: 1, 2e3: 2})');
c('({[value.k]: 1})', V);
c('({value})', 3);
c('({...value, b: 2})', {a: 1, b: 1});
c('({...null})');
c('({..."ab"})');
c('({...[1, 2]})');
c('({a: undefined, b: 1})');
c('({a: 1, a: 2})');
c('({a: 1, b: 2, a: 3})');
c('Object.keys(value)', V);
c('Object.values({x: 1, y: [2]})');
c('Object.entries({a: 1})');
c('Object.keys([4, 5])');
c('Object.keys("ab")');
c('Object.keys(null)');
c('Object.keys(5)');
c('Object.keys({b: 1, 10: 1, 2: 1, a: 1})');
c('Object.fromEntries([["a", 1], ["b", 2]])');
c('Object.fromEntries(Object.entries(value).map(e => [e[0], e[1] * 2]))', {x: 1, y: 2});
c('({}).toString()');
c('value.hasOwnProperty("a")', V);
c('value.hasOwnProperty("zz")', V);
c('({a: {b: [1, {c: null}]}}).a.b[1].c');

/* ---- JSON */
c('JSON.stringify(value)', V);
c('JSON.stringify({a: [1, "x", null, true], b: {c: 1.5}})');
c(String.raw`JSON.stringify("he said \"hi\"\n")`);
c('JSON.stringify(undefined)');
c('JSON.stringify({a: undefined})');
c('JSON.stringify([undefined, NaN, Infinity])');
c('JSON.stringify(1e21)');
c('JSON.stringify(0.1 + 0.2)');
c('JSON.stringify({a: 1, b: [1, 2]}, null, 2)');
c('JSON.stringify([], null, 2)');
c('JSON.stringify({}, null, 2)');
c('JSON.stringify([1, [2]], null, "--")');
c(String.raw`JSON.stringify("\u0001\u001f")`);
c('JSON.stringify("é😀")');
c('JSON.stringify(-0)');
c('JSON.stringify({b: 1, 2: 2, a: 3, 1: 4})');
c('JSON.stringify("x")');
c('JSON.stringify(null)');
c('JSON.parse("[1, 2.5, \\"x\\"]")');
c(`JSON.parse('{"a":{"b":[true,null]}}').a.b`);
c('JSON.parse("{bad")');
c('JSON.parse("")');
c('JSON.parse(" 42 ")');
c(`JSON.parse('"x"')`);
c('JSON.parse(value).n + 1', '{"n": 41}');
c('JSON.parse("12345678901234567890")');
c('JSON.parse("[1.0, 2.50, -0.0]")');
c('JSON.parse(JSON.stringify(value))', V);
c('JSON.stringify({a: 1, b: 2, c: {a: 3, d: 4}}, ["a", "c"])');
c('JSON.stringify({a: 1, 1: 2}, [])');
c('JSON.stringify({b: 1, a: [1, {d: 1, c: 2}]}, null, "\t")');
c('JSON.stringify(value.items[0], ["price", "id"], 1)', V);

/* ---- Math */
c('Math.round(2.5)');
c('Math.round(-2.5)');
c('Math.round(-0.4)');
c('String(Math.round(-0.4))');
c('Math.round(0.49999999999999994)');
c('Math.round(1.5)');
c('Math.round(-1.5000001)');
c('Math.floor(-1.5)');
c('Math.ceil(-0.5)');
c('Math.trunc(-4.7)');
c('Math.sign(-3)');
c('Math.sign(0)');
c('Math.abs(-5)');
c('Math.abs("-5")');
c('Math.abs(null)');
c('Math.abs()');
c('Math.min(1, "0", 3)');
c('Math.max(1, NaN)');
c('String(1 / Math.min(0, -0))');
c('String(1 / Math.max(-0, 0))');
c('Math.pow(2, 10)');
c('Math.pow(1, Infinity)');
c('Math.sqrt(16)');
c('Math.sqrt(-1)');
c('Math.cbrt(27)');
c('Math.log(Math.E)');
c('Math.log2(8)');
c('Math.log10(1000)');
c('Math.exp(0)');
c('Math.PI');
c('Math.E');
c('Math.hypot(3, 4)');
c('Math.floor(value.price * 100) / 100', {price: 19.999});

/* ---- conversions */
c('Number("  42  ")');
c('Number("")');
c('Number("0x1A")');
c('Number("0b11")');
c('Number("0o7")');
c('Number("-0x1A")');
c('Number("1e-3")');
c('Number(".5")');
c('Number("5.")');
c('Number("+5")');
c('Number("1,000")');
c('Number(null)');
c('Number(undefined)');
c('Number([])');
c('Number(["7"])');
c('Number([1, 2])');
c('Number(true)');
c('Number("Infinity")');
c('Number("-0")');
c('Number()');
c('String(null)');
c('String([1, [2, 3]])');
c('String({})');
c('String()');
c('String(true)');
c('Boolean("")');
c('Boolean("0")');
c('Boolean([])');
c('Boolean(0)');
c('Boolean(NaN)');
c('parseInt("42px")');
c('parseInt("  -17.9")');
c('parseInt("0x1f")');
c('parseInt("1f", 16)');
c('parseInt("0x1f", 16)');
c('parseInt("101", 2)');
c('parseInt("z", 36)');
c('parseInt("12", 1)');
c('parseInt("12", 37)');
c('parseInt("")');
c('parseInt("abc")');
c('parseInt(null)');
c('parseInt("Infinity")');
c('parseInt(0.0000005)');
c('parseInt(1e21)');
c('parseInt("-0")');
c('parseInt("123456789012345678901234567890")');
c('parseFloat("3.14abc")');
c('parseFloat(".5e1x")');
c('parseFloat("-Infinityx")');
c('parseFloat("e5")');
c('parseFloat("1e")');
c(String.raw`parseFloat("  \n 2.5")`);
c('isNaN("abc")');
c('isNaN("12")');
c('isNaN(undefined)');
c('isNaN(null)');
c('Number.isNaN("abc")');
c('Number.isInteger(5.0)');
c('Number.isInteger("5")');
c('Number.isSafeInteger(2 ** 53)');
c('isFinite("12")');
c('Number.isFinite("12")');
c('Number.MAX_SAFE_INTEGER');
c('Number.parseFloat("1.5")');

/* ---- relational */
c('1 < 2');
c('"2" > "12"');
c('2 > "12"');
c('null >= 0');
c('null > 0');
c('undefined < 1');
c('NaN < 1');
c('NaN >= NaN');
c('[2] > 1');
c('"B" < "a"');
c('"é" > "z"');
c('"abc" <= "abc"');
c(String.raw`"\uff61" < "😀"`);
c('"a" < "aa"');
c('value.items.filter(i => i.price >= 10).length', V);

/* ---- runtime errors (JavaScript throws) */
c('value.x()', V);
c('value.items.map(5)', V);
c('"x".repeat(-1)');
c('(1).toFixed(101)');
c('(1).toString(1)');
c('[...5]');
c('Math.max(...5)');
c('"abc".foo()');
c('(5)()');
c('value()', 1);
c('Object.fromEntries([1])');
c('[1, 2].sort(5)');
c('undefined[0]');
c('null.x');
c('value.a.b.c.d', V);

/* ---- outside the subset: refused at compile time */
bad('foo');
bad('value = 1');
bad('value += 1');
bad('value++');
bad('--value');
bad('new Date()');
bad('function () { return 1 }');
bad('this');
bad('delete value.a');
bad('"a" in value');
bad('value instanceof Array');
bad('1, 2');
bad('1 & 2');
bad('1 | 2');
bad('~1');
bad('1 << 2');
bad('/a+/.test(value)');
bad('Math.random()');
bad('Math.foo');
bad('x => x');
bad('(1');
bad('[1, 2');
bad('{a: }');
bad('value.');
bad('"unterminated');
bad('`x${');
bad('010');
bad('1n');
bad('-2 ** 2');
bad('value ?? 1 || 2');
bad('value || 1 ?? 2');
bad('value.map(({a}) => a)');
bad('value.map((...a) => a)');
bad('value.map(x => { return x })');
bad('value.map(x => y)');
bad('if (value) 1');
bad('let x = 1');
bad('value; 1');
bad('eval("1")');
bad('Date.now()');
bad('window');
bad('require("fs")');
bad('String.raw`x`');
bad('[x => 1]');
bad('');
bad('   ');
bad('value.#x');
bad('Math');
bad('Object(1)');
bad('value.map(x => x, y => y) + z');

/* ------------------------------------------------------------- evaluate */

function run(k) {
  const f = new Function('value', 'config', 'port', 'return (' + k.expr + ')');
  /* fresh copies: JavaScript may mutate (sort), weir never does */
  const copy = x => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));
  return f(copy(k.value), copy(k.config), k.port);
}

const out = [];
let n = 0;
for (const k of cases) {
  const o = {expr: k.expr};
  if ('value' in k) o.value = k.value === undefined ? null : k.value;
  if ('value' in k && k.value === undefined) delete o.value;
  if (k.config !== undefined) o.config = k.config;
  if (k.port !== undefined) o.port = k.port;
  if (k.compileError) {
    o.compileError = true;
  } else {
    let r, threw = null;
    try {
      r = run(k);
    } catch (e) {
      threw = e;
    }
    if (threw) {
      o.error = true;
      o.jsError = String(threw.message);
    } else if (typeof r === 'function') {
      o.error = true; /* weir refuses a function as a result */
    } else if (r === undefined) {
      o.expectUndefined = true;
      o.truthy = false;
    } else {
      o.expect = JSON.stringify(r);
      o.truthy = Boolean(r);
    }
  }
  out.push(o);
  n++;
}

const file = path.join(__dirname, 'expr_cases.json');
fs.writeFileSync(file, JSON.stringify(out, null, 1) + '\n');
console.log(`wrote ${n} cases to ${file}`);
