// `make profile SCENARIO=refresh`: where keyedge's CPU goes in one bench scenario.
//
//   node bench/profile.mjs [refresh|refresh_es256|userinfo|gate|login|discovery|jwks] [--seconds 5] [--warm-ops 400] [--top 40] [--json FILE]
//
// Runs keyedge under wrangler dev with the demo IdP (as `make bench` does), drives the scenario
// closed-loop, and samples the Worker's isolate with V8's CPU profiler over the inspector
// protocol. Prints the functions with the most self time (wasm functions by their Rust names,
// from the module's name section) and the same grouped by crate.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { connect, kind, nameOf, selfTimes } from './inspector.mjs';
import { KEYEDGE } from './flows.mjs';
import { readDevVars } from '../dev/vars.mjs';
import { WARM_OPS, warmUp } from './warm.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const SCENARIO = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? 'refresh';
const SECONDS = Number(opt('seconds', 5));
const TOP = Number(opt('top', 40));
const INSPECTOR = 9329;

const children = [];
const run = (cmd, argv, env = {}) => {
  const c = spawn(cmd, argv, { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false', ...env } });
  c.stderr.on('data', () => {});
  children.push(c);
  return c;
};
const stop = () => { for (const c of children) { try { process.kill(-c.pid, 'SIGTERM'); } catch { /* gone */ } } };
process.on('exit', stop);
const waitFor = async (url) => {
  for (let i = 0; i < 480; i++) {
    try { const r = await fetch(url); if (r.ok) return r; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${url}`);
};

const state = mkdtempSync(join(tmpdir(), 'keyedge-profile-'));
run('node', ['dev/demo-idp.mjs']);
run(join(ROOT, 'node_modules/.bin/wrangler'), ['dev', '--config', 'dev/wrangler.toml', '--port', '8787', '--inspector-port', String(INSPECTOR), '--persist-to', state,
  '--show-interactive-dev-session=false'], { KEYEDGE_CONFIG: 'dev/keyedge.dev.toml' });
await waitFor('http://localhost:9090/.well-known/openid-configuration');
await waitFor('http://localhost:8787/jwks');

const base = 'http://localhost:8787';
const pool = new Pool(base, { connections: 8 });
const dispatchers = { [base]: pool };
const rs256 = KEYEDGE.init(readDevVars(join(ROOT, '.dev.vars')));
const flows = SCENARIO === 'refresh_es256' ? rs256.es256() : rs256;
const chains = []; const visitors = [];
for (let i = 0; i < 8; i++) {
  const { tokens, session } = await flows.login(base, dispatchers);
  chains.push(tokens);
  visitors.push(session);
}
const get = (path) => async () => { const r = await pool.request({ path, method: 'GET' }); await r.body.text(); };
const ops = {
  discovery: get(flows.paths.discovery),
  jwks: get(flows.paths.jwks),
  refresh: async (w) => { chains[w] = await flows.refresh(base, dispatchers, chains[w].refresh_token); },
  refresh_es256: async (w) => { chains[w] = await flows.refresh(base, dispatchers, chains[w].refresh_token); },
  userinfo: (w) => flows.userinfo(base, dispatchers, chains[w].access_token),
  gate: (w) => flows.page(base, visitors[w]),
  login: () => flows.login(base, dispatchers),
};
const op = ops[SCENARIO];
if (!op) throw new Error(`unknown scenario ${SCENARIO}; one of ${Object.keys(ops).join(', ')}`);
const conc = SCENARIO === 'login' ? 4 : 8;
const drive = async (ms) => {
  const end = performance.now() + ms; let n = 0;
  await Promise.all(Array.from({ length: conc }, async (_, w) => { while (performance.now() < end) { await op(w); n++; } }));
  return n;
};
// Warm-up, not sampled, as `make bench`'s: every Durable Object the scenario calls has started,
// so the profile shows a started object's call, as the floor prices it.
await warmUp(conc, op, Number(opt('warm-ops', WARM_OPS)));

// The inspector lists the Worker's isolate; wrangler proxies it.
const profiler = await connect(INSPECTOR);
await profiler.start(Number(opt('interval', 200)));
const n = await drive(SECONDS * 1000);
const profile = await profiler.stop();
profiler.close();
await pool.close();
stop();
rmSync(state, { recursive: true, force: true });

// Self time per function, and grouped by crate (the first path segment of a Rust name).
writeFileSync(join(tmpdir(), `keyedge-${SCENARIO}.cpuprofile`), JSON.stringify(profile));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = selfTimes(profile);
const fns = new Map(); const crates = new Map(); const kinds = new Map();
let total = 0;
for (const [nodeId, us] of selfUs) {
  const f = byId.get(nodeId).callFrame;
  const name = nameOf(f);
  if (name === '(idle)' || name === '(program)') continue;
  total += us;
  fns.set(name, (fns.get(name) ?? 0) + us);
  const crate = f.url.startsWith('wasm://') ? (name.match(/^(?:<)?([a-z_][a-z0-9_]*)(?:::|$)/)?.[1] ?? 'wasm (other)') : `js ${f.url.split('/').pop() || name}`;
  crates.set(crate, (crates.get(crate) ?? 0) + us);
  kinds.set(kind(f, name), (kinds.get(kind(f, name)) ?? 0) + us);
}
const perOp = (us) => (us / 1000 / n).toFixed(3);
if (!profile.nodes.some((node) => node.callFrame.url.startsWith('wasm://') && node.callFrame.functionName.includes('keyedge::'))) {
  // The bench smoke in `make test` runs this too: a profile without keyedge's own functions
  // (no samples, or a wasm without its name section) would be useless. The discovery document
  // and the JWKS are the exception: after an isolate's first, the shell gives them again
  // without calling into wasm (src/edge/reuse.mjs), so their profile holds no wasm at all.
  const shellOnly = ['discovery', 'jwks'].includes(SCENARIO)
    && !profile.nodes.some((node) => node.callFrame.url.startsWith('wasm://'))
    && profile.nodes.some((node) => node.callFrame.functionName === 'again');
  if (!shellOnly) {
    console.error('the profile holds no keyedge:: wasm functions (is the name section stripped?)');
    process.exit(1);
  }
  console.log('(answered by the shell\'s kept answer: no wasm was called in the sampled requests)');
}
// `--json FILE`: the sampled time per operation, in all and by kind (make bench reads the
// gate's: what of it is keyedge's own work and what the runtime's).
const JSON_OUT = opt('json', null);
if (JSON_OUT) {
  const byKind = Object.fromEntries([...kinds].map(([k, us]) => [k, +perOp(us)]));
  writeFileSync(JSON_OUT, JSON.stringify({ scenario: SCENARIO, operations: n, seconds: SECONDS, sampled_ms_per_op: +perOp(total), by_kind_ms_per_op: byKind }, null, 1));
}
console.log(`${SCENARIO}: ${n} operations in ${SECONDS} s; sampled isolate CPU ${perOp(total)} ms/op (not counting idle)`);
console.log(`\nshare of the sampled time, by kind`);
for (const [k, us] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`${(100 * us / total).toFixed(0).padStart(7)}%  ${k}`);
console.log(`\nself time, ms/op — by crate`);
for (const [c, us] of [...crates].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${perOp(us).padStart(8)}  ${c}`);
console.log(`\nself time, ms/op — top ${TOP} functions`);
for (const [f, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${perOp(us).padStart(8)}  ${f.slice(0, 150)}`);
console.log(`\nfull profile (open in Chrome DevTools): ${join(tmpdir(), `keyedge-${SCENARIO}.cpuprofile`)}`);
process.exit(0);
