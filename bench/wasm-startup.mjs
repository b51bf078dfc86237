// What a cold isolate pays for a Worker's WebAssembly before its first line of Rust runs:
// compiling and instantiating the module in V8. Measured in Debian's Chromium, whose V8 has
// wasm exception handling as workerd's does (Node 20's does not), with the same lazy
// compilation a Worker gets. Each round compiles different bytes (a custom section with the
// round number is appended), so V8's module cache never answers.
//
//   node bench/wasm-startup.mjs [--rounds 15] [--json out.json] a.wasm [b.wasm …]
//
// Prints, per file: size raw and gzip -9, and the median / min / max of compile + instantiate
// (and writes them to `--json`, which bench/bench.mjs reads for its size verdicts).
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
let rounds = 15;
let jsonOut = null;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rounds') rounds = Number(args[++i]);
  else if (args[i] === '--json') jsonOut = args[++i];
  else files.push(args[i]);
}
const results = [];
if (!files.length) {
  console.error('usage: node bench/wasm-startup.mjs [--rounds N] file.wasm …');
  process.exit(2);
}

const leb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};

/** `bytes` with a custom section `keyedge-round` holding `round` appended: valid, and new. */
function variant(bytes, round) {
  const name = [...Buffer.from('keyedge-round')];
  const payload = [...leb(name.length), ...name, ...leb(round)];
  return Buffer.concat([bytes, Buffer.from([0, ...leb(payload.length), ...payload])]);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  for (const file of files) {
    const bytes = readFileSync(file);
    const times = [];
    for (let r = 0; r < rounds; r++) {
      // A new page per round: a fresh renderer state, as a new isolate is.
      const page = await browser.newPage();
      const ms = await page.evaluate(async (b64) => {
        const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const t0 = performance.now();
        const module = await WebAssembly.compile(bin);
        const imports = {};
        for (const imp of WebAssembly.Module.imports(module)) {
          imports[imp.module] ??= {};
          if (imp.kind === 'function') imports[imp.module][imp.name] = () => {};
          else if (imp.kind === 'memory') imports[imp.module][imp.name] = new WebAssembly.Memory({ initial: 17 });
          else if (imp.kind === 'table') imports[imp.module][imp.name] = new WebAssembly.Table({ initial: 1, element: 'anyfunc' });
          else if (imp.kind === 'global') imports[imp.module][imp.name] = new WebAssembly.Global({ value: 'i32', mutable: true }, 0);
          else if (imp.kind === 'tag') imports[imp.module][imp.name] = new WebAssembly.Tag({ parameters: ['externref'] });
        }
        const instance = await WebAssembly.instantiate(module, imports);
        if (!instance) throw new Error('not instantiated');
        return performance.now() - t0;
      }, variant(bytes, r).toString('base64'));
      times.push(ms);
      await page.close();
    }
    const gz = gzipSync(bytes, { level: 9 }).length;
    results.push({ file, raw_bytes: bytes.length, gzip9_bytes: gz, rounds,
      compile_instantiate_ms: { median: +median(times).toFixed(2), min: +Math.min(...times).toFixed(2), max: +Math.max(...times).toFixed(2) } });
    console.log(
      `${file}: ${bytes.length} bytes raw, ${gz} gzip -9 (${(gz / 1024).toFixed(0)} KiB); ` +
        `compile + instantiate median ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)}, ${rounds} rounds)`,
    );
  }
} finally {
  await browser.close();
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');
