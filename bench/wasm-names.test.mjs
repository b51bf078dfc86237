// bench/wasm-names.mjs on modules made here byte by byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { functionNames, missing } from './wasm-names.mjs';

const utf8 = (s) => [...new TextEncoder().encode(s)];
const vec = (bytes) => [bytes.length, ...bytes]; // lengths here stay under 128: one LEB byte

/** A module with a type section and a `name` section naming functions `names` (0, 1, …). */
function module(names) {
  const functionNames = [names.length, ...names.flatMap((n, i) => [i, ...vec(utf8(n))])];
  const name = [...vec(utf8('name')), 0, ...vec(utf8('m')), 1, ...vec(functionNames)];
  const types = [1, 0x60, 0, 0];
  return Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, ...vec(types), 0, ...vec(name)]);
}

test('reads the function names of the name section, past other sections and subsections', () => {
  const names = ['keyedge::core::app::Keyedge::pick::h1', 'keyedge::core::app::Keyedge::pick_other::h2'];
  assert.ok(WebAssembly.validate(module(names)), 'the module made here is valid wasm');
  assert.deepEqual(functionNames(module(names)), names);
});

test('a function inlined away is missing; its closures do not stand in for it', () => {
  const inlined = module(['keyedge::core::app::Keyedge::pick_other::{{closure}}::h3', 'other::h4']);
  assert.deepEqual(missing(functionNames(inlined), ['Keyedge::pick_other::h']), ['Keyedge::pick_other::h']);
  const kept = module(['keyedge::core::app::Keyedge::pick_other::h2']);
  assert.deepEqual(missing(functionNames(kept), ['Keyedge::pick_other::h']), []);
});

test('a module without names has none, and what is not wasm is refused', () => {
  assert.deepEqual(functionNames(Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), []);
  assert.throws(() => functionNames(Buffer.from('not wasm at all')), /not a wasm module/);
  assert.throws(() => functionNames(Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 9, 0])), /past the end/);
});
