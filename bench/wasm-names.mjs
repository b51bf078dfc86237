// The function names a wasm module's `name` section gives (the Worker built with KEEP_NAMES=1:
// `make profile`, and `make test` after its last build), and a check that named functions are
// still functions of their own. V8 compiles a wasm function whole on its first call, so a
// first request compiles every function on its path: `Keyedge::pick_other` (the router's
// arms for every path but the sign-in pages, src/core/app.rs) must stay out of the login
// page's (docs/performance.md, *The sign-in pages picked by a function of their own*).
// wasm-opt inlines a function of one caller up to 1000 bytes, and a caller that grows may
// take it in: this check fails then, instead of the cold start growing unnoticed.
//
//   node bench/wasm-names.mjs build/index_bg.wasm --expect 'Keyedge::pick_other'
import { readFileSync } from 'node:fs';

/** Reads an unsigned LEB128 at `at`: `[value, next offset]`. */
function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (at >= bytes.length) throw new RangeError('a number runs past the end of the module');
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, at];
    shift += 7;
  }
}

/** The names of the `name` section's function-name subsection, in order; none without one. */
export function functionNames(bytes) {
  if (bytes.length < 8 || bytes.readUInt32LE(0) !== 0x6d736100) throw new TypeError('not a wasm module');
  const text = new TextDecoder();
  const names = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    let size;
    [size, at] = leb(bytes, at + 1);
    const end = at + size;
    if (end > bytes.length) throw new RangeError('a section runs past the end of the module');
    if (id === 0) {
      let [length, p] = leb(bytes, at);
      const section = text.decode(bytes.subarray(p, p + length));
      p += length;
      while (section === 'name' && p < end) {
        const sub = bytes[p];
        let subSize;
        [subSize, p] = leb(bytes, p + 1);
        const subEnd = p + subSize;
        if (sub === 1) {
          let count;
          [count, p] = leb(bytes, p);
          for (let i = 0; i < count; i++) {
            let nameLength;
            [, p] = leb(bytes, p);
            [nameLength, p] = leb(bytes, p);
            names.push(text.decode(bytes.subarray(p, p + nameLength)));
            p += nameLength;
          }
        }
        p = subEnd;
      }
    }
    at = end;
  }
  return names;
}

/** Which of `expected` no function's name contains. */
export function missing(names, expected) {
  return expected.filter((want) => !names.some((name) => name.includes(want)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, ...rest] = process.argv.slice(2);
  const expected = rest.flatMap((arg, i) => (rest[i - 1] === '--expect' ? [arg] : []));
  const names = functionNames(readFileSync(file));
  if (names.length === 0) {
    console.error(`${file} has no function names: build it with KEEP_NAMES=1`);
    process.exit(1);
  }
  const gone = missing(names, expected);
  if (gone.length > 0) {
    console.error(`${file}: no function named ${gone.join(', ')}: inlined into its caller? (bench/wasm-names.mjs)`);
    process.exit(1);
  }
  console.log(`${file}: ${names.length} named functions, ${expected.join(', ')} among them`);
}
