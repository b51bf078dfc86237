// V8's sampling profiler on a Worker's isolate, over the inspector protocol that
// `wrangler dev --inspector-port` serves: used by bench/profile.mjs (a scenario under load)
// and bench/coldstart.mjs --profile (the first request to a fresh isolate).
import WebSocket from 'ws';

/** Connects to the first isolate the inspector at `port` lists (wrangler proxies the Worker's). */
export async function connect(port) {
  let targets = [];
  for (let i = 0; i < 100 && !targets.length; i++) {
    try {
      targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
    } catch {
      /* not yet */
    }
    if (!targets.length) await new Promise((r) => setTimeout(r, 200));
  }
  if (!targets.length) throw new Error(`no isolate at the inspector port ${port}`);
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on('message', (m) => {
    const msg = JSON.parse(m);
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const i = ++id;
      pending.set(i, resolve);
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  return {
    /** Starts sampling every `intervalUs` microseconds. */
    async start(intervalUs) {
      await call('Profiler.enable');
      await call('Profiler.setSamplingInterval', { interval: intervalUs });
      await call('Profiler.start');
    },
    /** Stops sampling; the `.cpuprofile` object. */
    async stop() {
      const { result } = await call('Profiler.stop');
      return result.profile;
    },
    close: () => ws.close(),
  };
}

/** What a sample was spent on, in the terms docs/performance.md uses. */
export function kind(frame, name) {
  if (frame.url.startsWith('wasm://')) {
    if (name.includes('keyedge::')) return "wasm: keyedge's own code";
    // The Worker's request future, with much of keyedge's and the libraries' code inlined into
    // it by LTO and wasm-opt (and, on a cold isolate, V8 compiling its callees on first call).
    if (name.includes('AssertUnwindSafe<F> as core::future::future::Future>::poll')) return 'wasm: the request future (code inlined into it)';
    if (/wasm_bindgen|js_sys|web_sys|worker::|externref|closure/.test(name)) return 'wasm: bindings (wasm-bindgen, worker crate)';
    if (/^<?(core|alloc|std|dlmalloc|hashbrown|__rustc)/.test(name)) return 'wasm: Rust std, allocator';
    return 'wasm: libraries (serde, http, url, JOSE, …)';
  }
  // The bundled Worker script (worker-build's glue and src/edge/worker.mjs; wrangler names it
  // after the entry module) and the calls between it and wasm.
  if (/(^|\/)(worker|shim)\.js$/.test(frame.url) || name === 'wasm-to-js' || name.startsWith('js-to-wasm')) return 'JS glue of wasm-bindgen';
  if (['sign', 'verify', 'importKey', 'digest'].includes(name)) return 'WebCrypto';
  if (name === '(garbage collector)') return 'garbage collector';
  return 'runtime APIs (fetch, Request/Response, KV, SQL, microtasks)';
}

/** Self time in µs per profile node id. */
export function selfTimes(profile) {
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  return self;
}

/** The name a node's function goes by (anonymous ones by their script). */
export const nameOf = (frame) => frame.functionName || `(anonymous ${frame.url.split('/').pop()})`;

/**
 * Inclusive time in µs per function name (a function counted once per sample, however deep
 * it recurs), idle excluded; and the total non-idle sampled time.
 */
export function inclusiveTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map();
  let total = 0;
  for (const [nodeId, us] of selfTimes(profile)) {
    const name = nameOf(byId.get(nodeId).callFrame);
    if (name === '(idle)' || name === '(program)') continue;
    total += us;
    const seen = new Set();
    for (let cur = nodeId; cur !== undefined; cur = parent.get(cur)) {
      const n = nameOf(byId.get(cur).callFrame);
      if (seen.has(n)) continue;
      seen.add(n);
      incl.set(n, (incl.get(n) ?? 0) + us);
    }
  }
  return { incl, total };
}
