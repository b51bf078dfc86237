// Cold start, as a visitor of a quiet site meets it: a freshly started workerd (so a
// new isolate), and the first request to it — its latency and the CPU the
// serving workerd spent on it — against a second request right after (warm). For keyedge
// (its discovery document; with the demo configuration and with the small keyedge.toml; and a
// gated site's public page from Workers Static Assets; and the login page for an
// authorization request), OpenAuth (its authorization-server
// metadata; and its answer to an equivalent authorization request), the floor Worker (a constant response; and a page it reads from ASSETS) and the
// Rust floor (the `worker` crate answering a constant, bench/peers/wasm-floor), each started
// `--rounds` times (default 9); medians.
//
//   node bench/coldstart.mjs [--rounds 9] [--json out.json] [--only keyedge,floor] [--profile] [--wrangler-dev]
//
// Each start serves the Worker as `wrangler dev` does but without its DevTools inspector
// (bench/serve-quiet.mjs), so the isolate measured is the one production runs: `wrangler dev`
// always attaches an inspector session (Runtime and Network events) to it. In paired runs of
// 2026-12-05 that made no difference beyond the runs' spread (docs/performance.md).
// `--wrangler-dev` measures under `wrangler dev` itself, as this bench did before.
//
// wrangler's build command builds keyedge for each configuration (`make worker`); bench/peers/*. CPU is
// the serving workerd's threads' run time from /proc (schedstat, in nanoseconds; clock ticks
// of 10 ms where the kernel keeps no schedstat).
//
// --profile: one more fresh start of each Worker with V8's sampling profiler (100 µs) attached
// to its isolate before the first request: where that request's time goes, by kind and by
// function (inclusive). keyedge's wasm functions have Rust names only in a build that keeps
// its name section (`KEEP_NAMES=1 make worker`, which `make bench` does for this run).
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, inclusiveTimes, kind, nameOf, selfTimes } from './inspector.mjs';
import { SCHEDSTAT, comm, descendants, processCpu } from './proc.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
// Nine starts each: on the 2-core machines measured, starts fall into two groups 3–6 ms apart
// (the same functions compile 1.5× slower in one), so five move the median by a group's share.
const ROUNDS = Number(opt('--rounds', 9));
const JSON_OUT = opt('--json', null);
const ONLY = opt('--only', 'keyedge,keyedge-small,keyedge-login,keyedge-gate,openauth,openauth-login,floor,floor-assets,wasm-floor').split(',');
const PROFILE = args.includes('--profile');
const WRANGLER_DEV = args.includes('--wrangler-dev');
const INSPECTOR = 9339;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** CPU ms of all the workerd processes under `root` (wrangler runs the Worker in one). */
const workerdCpu = (root) =>
  descendants(root)
    .filter((p) => comm(p) === 'workerd')
    .reduce((sum, pid) => sum + processCpu(pid), 0);

/** Whether any workerd under `root` was started with a DevTools inspector. */
const inspected = (root) =>
  descendants(root)
    .filter((p) => comm(p) === 'workerd')
    .some((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--inspector-addr');
      } catch {
        return false;
      }
    });

/**
 * One request's latency. With `redirect: 'manual'` a redirect is the answer, not followed;
 * `expect(response)` names what is wrong with an answer (else nothing), so that an error
 * answered as a redirect is not timed as the answer.
 */
async function timed(url, redirect = 'follow', expect = () => null) {
  const t0 = performance.now();
  const r = await fetch(url, { redirect, signal: AbortSignal.timeout(30000) });
  await r.arrayBuffer();
  const ms = performance.now() - t0;
  const answered = r.ok || (redirect === 'manual' && r.status >= 300 && r.status < 400);
  const wrong = answered ? expect(r) : `HTTP ${r.status}`;
  if (wrong) throw new Error(`${url}: ${wrong}`);
  return ms;
}

/** OpenAuth's answer to an authorization request: its state cookie and the way to its code provider's page. */
function toCodeProvider(r) {
  const to = r.headers.get('location');
  if (r.status !== 302 || !to || new URL(to, 'http://x').pathname !== '/code/authorize') return `HTTP ${r.status} to ${to}, not to /code/authorize`;
  if (!r.headers.get('set-cookie')) return 'no state cookie';
  return null;
}

/**
 * One fresh start of a Worker (see above): the first request's latency and workerd CPU,
 * and a warm one's latency; with `profile`, the first request's V8 CPU profile too.
 */
async function startOnce(name, argv, url, env, { profile = false, redirect, expect, seed, keep = false } = {}) {
  const state = mkdtempSync(join(tmpdir(), `cold-${name}-`));
  // A Worker whose first request needs what an earlier one stored (OpenAuth's keys) starts
  // on a copy of that state, as a production isolate starts on its stored data.
  if (seed) cpSync(seed, state, { recursive: true });
  let kept = false;
  // A profiled start needs the inspector: it runs under `wrangler dev` with its port.
  const [command, commandArgs] =
    profile || WRANGLER_DEV
      ? [WRANGLER, ['dev', ...argv, ...(profile ? ['--inspector-port', String(INSPECTOR)] : []), '--persist-to', state, '--show-interactive-dev-session=false']]
      : [process.execPath, [join(ROOT, 'bench/serve-quiet.mjs'), ...argv, '--persist-to', state]];
  const child = spawn(command, commandArgs, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  try {
    // Ready once wrangler says so (workerd listening); then let start-up work settle, so
    // that what is measured is the request, not the rest of the start.
    for (let t = 0; !/Ready on/.test(log); t++) {
      if (child.exitCode !== null || t > 12000) throw new Error(`${name} did not start:\n${log}`);
      await sleep(50);
    }
    await sleep(1000);
    const profiler = profile ? await connect(INSPECTOR) : null;
    await profiler?.start(100);
    const c0 = workerdCpu(child.pid);
    const first = await timed(url, redirect, expect);
    const c1 = workerdCpu(child.pid);
    const samples = await profiler?.stop();
    profiler?.close();
    const warm = await timed(url, redirect, expect);
    kept = keep;
    return { first, warm, cpu: c1 - c0, startCpu: c0, profile: samples, inspector: inspected(child.pid), state: keep ? state : undefined };
  } finally {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    await sleep(500);
    // A state to keep is kept only from a start that answered.
    if (!kept) rmSync(state, { recursive: true, force: true });
  }
}

/** Where a first request's sampled time went: by kind, and the functions with the most inclusive time. */
function summarize(profile, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // A Worker without wasm (OpenAuth, the floor): its script is its own code, not glue.
  const wasm = profile.nodes.some((n) => n.callFrame.url.startsWith('wasm://'));
  const kinds = new Map();
  for (const [nodeId, us] of selfTimes(profile)) {
    const frame = byId.get(nodeId).callFrame;
    const name = nameOf(frame);
    if (name === '(idle)' || name === '(program)') continue;
    let k = kind(frame, name);
    if (!wasm && k === 'JS glue of wasm-bindgen') k = "the Worker's JavaScript";
    kinds.set(k, (kinds.get(k) ?? 0) + us);
  }
  const { incl, total } = inclusiveTimes(profile);
  const ms = (us) => +(us / 1000).toFixed(2);
  return {
    sampled_ms: ms(total),
    by_kind_ms: Object.fromEntries([...kinds].sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, ms(us)])),
    top_inclusive_ms: [...incl].sort((a, b) => b[1] - a[1]).slice(0, top).map(([f, us]) => [f.slice(0, 140), ms(us)]),
  };
}

/**
 * `rounds` fresh starts of one Worker (without an inspector); the first and a warm request each.
 * `seeded`: each start on a copy of the state one earlier start (not measured) left after the
 * same request. `redirect`: `'manual'` to measure a redirect as the answer.
 */
async function coldStart(name, argv, url, env = {}, { seeded = false, redirect = 'follow', expect } = {}) {
  const seed = seeded ? (await startOnce(name, argv, url, env, { redirect, expect, keep: true })).state : undefined;
  try {
    return await coldStarts(name, argv, url, env, { seed, redirect, expect });
  } finally {
    if (seed) rmSync(seed, { recursive: true, force: true });
  }
}

async function coldStarts(name, argv, url, env, { seed, redirect, expect }) {
  const first = [];
  const warm = [];
  const cpu = [];
  const startCpu = [];
  let inspector = false;
  for (let i = 0; i < ROUNDS; i++) {
    const once = await startOnce(name, argv, url, env, { seed, redirect, expect });
    inspector ||= once.inspector;
    first.push(once.first);
    warm.push(once.warm);
    cpu.push(once.cpu);
    startCpu.push(once.startCpu);
  }
  const r = {
    rounds: ROUNDS,
    first_request_ms: +median(first).toFixed(1),
    warm_request_ms: +median(warm).toFixed(1),
    first_request_cpu_ms: +median(cpu).toFixed(2),
    cpu_clock: SCHEDSTAT ? 'schedstat' : 'ticks',
    first_request_ms_all: first.map((x) => +x.toFixed(1)),
    // workerd's CPU from its launch until just before the first request: its own start, the
    // Worker's compile and its module's evaluation (keyedge builds its app there).
    start_cpu_ms: +median(startCpu).toFixed(1),
    // Whether the measured isolates had a DevTools inspector (only with --wrangler-dev).
    inspector,
  };
  console.error(
    `  ${name}: first request ${r.first_request_ms} ms (CPU ${r.first_request_cpu_ms} ms), warm ${r.warm_request_ms} ms; workerd CPU before it ${r.start_cpu_ms} ms`,
  );
  if (PROFILE) {
    // keyedge's build with its name section (wrangler's build command rebuilds it).
    const once = await startOnce(name, argv, url, { ...env, KEEP_NAMES: '1' }, { profile: true, seed, redirect, expect });
    r.startup_profile = { first_request_ms: +once.first.toFixed(1), ...summarize(once.profile) };
    const saved = join(tmpdir(), `coldstart-${name}.cpuprofile`);
    writeFileSync(saved, JSON.stringify(once.profile));
    const p = r.startup_profile;
    console.error(`  ${name}, profiled start: first request ${p.first_request_ms} ms, ${p.sampled_ms} ms sampled (${saved})`);
    for (const [k, v] of Object.entries(p.by_kind_ms)) console.error(`    ${String(v).padStart(8)} ms  ${k}`);
    console.error('    inclusive:');
    for (const [f, v] of p.top_inclusive_ms) console.error(`    ${String(v).padStart(8)} ms  ${f}`);
  }
  return r;
}

console.error(`cold start, ${ROUNDS} fresh starts each:`);
const workers = {
  keyedge: () =>
    coldStart(
      'keyedge',
      ['--config', 'dev/wrangler.bench.toml', '--port', '8787'],
      'http://localhost:8787/.well-known/openid-configuration',
      { KEYEDGE_CONFIG: 'dev/keyedge.dev.toml' },
    ),
  // The same Worker with the small keyedge.toml (one upstream IdP, two clients, no SAML): a
  // first request's work grows with what the configuration holds (keys, certificates, URLs).
  'keyedge-small': () =>
    coldStart(
      'keyedge-small',
      ['--config', 'dev/wrangler.bench.toml', '--port', '8787'],
      'http://localhost:8787/.well-known/openid-configuration',
      { KEYEDGE_CONFIG: 'keyedge.toml' },
    ),
  // An app's user's first request: the authorization request, answered with the login page
  // by keyedge's Rust in one call (AtOnce.plan). Since 2026-12-07 night the discovery
  // document above is made before any request and kept by the shell, so its first request
  // runs no wasm; this one (and the gated page below) still runs keyedge's Rust path cold.
  'keyedge-login': () =>
    coldStart(
      'keyedge-login',
      ['--config', 'dev/wrangler.bench.toml', '--port', '8787'],
      `http://localhost:8787/authorize?${new URLSearchParams({
        client_id: 'demo-app', response_type: 'code', scope: 'openid email profile', redirect_uri: 'http://127.0.0.1:8788/cb',
        state: 'cold', nonce: 'cold', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
      })}`,
      { KEYEDGE_CONFIG: 'dev/keyedge.dev.toml' },
    ),
  // What a visitor of a quiet static site meets: the gate in front of the example site
  // (dev/wrangler.toml: Workers Static Assets behind `run_worker_first`), its public home page
  // (the gate's rules, then the page from ASSETS).
  'keyedge-gate': () =>
    coldStart('keyedge-gate', ['--config', 'dev/wrangler.toml', '--port', '8787'], 'http://localhost:8787/', {
      KEYEDGE_CONFIG: 'dev/keyedge.dev.toml',
    }),
  openauth: () =>
    coldStart(
      'openauth',
      ['--config', 'bench/peers/openauth/wrangler.toml', '--port', '8790', '--ip', '127.0.0.1'],
      'http://127.0.0.1:8790/.well-known/oauth-authorization-server',
    ),
  // OpenAuth's answer to an equivalent authorization request (its client, its code provider;
  // its first answer, a redirect to that provider's page, not followed, and checked to be that
  // redirect with its state cookie, not an error sent as a redirect): it checks the request and
  // sets its state cookie, encrypted with keys it reads from KV, which its first start stored
  // (each start here is on a copy of that state, as a production isolate finds its keys in KV).
  'openauth-login': () =>
    coldStart(
      'openauth-login',
      ['--config', 'bench/peers/openauth/wrangler.toml', '--port', '8790', '--ip', '127.0.0.1'],
      `http://127.0.0.1:8790/authorize?${new URLSearchParams({
        client_id: 'bench-client', response_type: 'code', redirect_uri: 'http://127.0.0.1:9/cb', state: 'cold',
        provider: 'code', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
      })}`,
      {},
      { seeded: true, redirect: 'manual', expect: toCodeProvider },
    ),
  floor: () => coldStart('floor', ['--config', 'bench/peers/floor/wrangler.toml', '--port', '8791', '--ip', '127.0.0.1'], 'http://127.0.0.1:8791/'),
  // The floor for a gated page: the floor Worker reading a page from its ASSETS binding.
  'floor-assets': () =>
    coldStart('floor-assets', ['--config', 'bench/peers/floor/wrangler.assets.toml', '--port', '8795', '--ip', '127.0.0.1'], 'http://127.0.0.1:8795/asset'),
  // The floor for a Rust Worker: the `worker` crate and wasm-bindgen answering a constant
  // (bench/peers/wasm-floor), what any Rust/wasm Worker's first request pays before its own work.
  'wasm-floor': () =>
    coldStart('wasm-floor', ['--config', 'bench/peers/wasm-floor/wrangler.toml', '--port', '8794', '--ip', '127.0.0.1'], 'http://127.0.0.1:8794/'),
};
const results = {};
for (const name of ONLY) {
  if (!workers[name]) throw new Error(`--only: unknown Worker ${name} (${Object.keys(workers).join(', ')})`);
  results[name] = await workers[name]();
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results));
