// `make steps`: keyedge's complete login request by request, each against its twin — where
// the login's CPU goes, beyond the platform calls each request makes.
//
//   node bench/steps.mjs [--logins 300] [--warm 400] [--profile] [--json FILE] [--smoke]
//
// keyedge serves the demo configuration under `wrangler dev` (dev/wrangler.bench.toml, as
// `make bench`), with the demo oidc-provider upstream; the floor Worker (bench/peers/floor)
// runs beside it, on the same core. One login at a time, the bench reads the workerd's CPU
// (its threads' run time, /proc schedstat, in ns) as each of keyedge's four requests is sent
// and again once its answer is read and the workerd has gone quiet (so work a request leaves
// for after its answer is its own). Right after each login, the floor makes each step's
// **twin**: one request making the step's platform calls — KV reads and writes, Durable Object
// calls (as many only reading), outbound fetches and RS256 signatures, as counted per step by
// the native harness (tests/it/storage_cost.rs `platform_calls_per_login_step`) — read the
// same way; its writing Durable Object calls go to one object picked at random per login and
// its reading ones to one fixed object, as keyedge's code and the demo user's record do. A
// step's keyedge share is the median, login by login, of keyedge's CPU less its twin's. Unloaded, one request at a time: the figures are a request's whole cost, higher than
// under `make bench`'s load, where workerd's per-request costs are shared.
//
// --profile: two more passes, one with V8's sampling profiler on keyedge's isolate, one on the
// floor's, each sample given to the step whose window it falls in (both clocks are the
// machine's monotonic clock): how much of each step's CPU is the isolate's own work (wasm,
// the wasm-bindgen glue, the runtime's API calls, WebCrypto), by kind, and how much is the
// rest of workerd (its HTTP, the local simulations of KV and Durable Objects). The profiler
// adds CPU of its own; the first pass's figures are the measured ones.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { KEYEDGE } from './flows.mjs';
import { readDevVars } from '../dev/vars.mjs';
import { connect, kind, nameOf } from './inspector.mjs';
import { SCHEDSTAT, processCpu, workerPid } from './proc.mjs';
import { STEPS, clocksAgree, column, parseHarness, sampledByStep, stepOf, stepShares, twinPath } from './steps-lib.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const SMOKE = args.includes('--smoke');
const PROFILE = args.includes('--profile');
const LOGINS = Number(opt('logins', SMOKE ? 3 : 300));
const WARM = Number(opt('warm', SMOKE ? 1 : 400));
const PIN = !SMOKE && cpus().length >= 2;
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');
const INSPECTOR = { keyedge: 9341, floor: 9342 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const children = [];
function start(cmd, argv, env = {}) {
  const full = PIN ? ['taskset', ['-c', '1', cmd, ...argv]] : [cmd, argv];
  const child = spawn(full[0], full[1], { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', ...env } });
  const log = [];
  child.stderr.on('data', (d) => log.push(String(d)));
  children.push(child);
  return { child, log };
}
const stopAll = () => { for (const c of children.splice(0)) { try { process.kill(-c.pid, 'SIGTERM'); } catch { /* gone */ } } };
process.on('exit', stopAll);
process.on('SIGINT', () => { stopAll(); process.exit(130); });
async function waitFor(url, proc) {
  for (let i = 0; i < 480; i++) {
    if (proc.child.exitCode !== null) throw new Error(`${url}: its server exited:\n${proc.log.join('')}`);
    try { if ((await fetch(url)).ok) return; } catch { /* not yet */ }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${url}\n${proc.log.join('')}`);
}

/**
 * The workerd's CPU once it has gone quiet: read every 2 ms until two readings 2 ms apart
 * differ by under 20 µs (idle, its timers only), at most 100 ms.
 */
async function settled(pid) {
  let last = processCpu(pid);
  for (let i = 0; i < 50; i++) {
    await sleep(2);
    const now = processCpu(pid);
    if (now - last < 0.02) return now;
    last = now;
  }
  return last;
}

// ------------------------------------------------------------------ set-up
const harness = execFileSync('cargo', ['test', '-q', '--test', 'it', 'storage_cost::platform_calls_per_login_step', '--', '--nocapture', '--test-threads=1'],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
const calls = parseHarness(harness);
const vars = readDevVars(join(ROOT, '.dev.vars'));
const flows = KEYEDGE.init(vars);

const echo = createServer((_, res) => res.end('{}')).listen(8792, '127.0.0.1');
const states = [mkdtempSync(join(tmpdir(), 'steps-keyedge-')), mkdtempSync(join(tmpdir(), 'steps-floor-'))];
const idp = start('node', ['dev/demo-idp.mjs']);
const ke = start(WRANGLER, ['dev', '--config', 'dev/wrangler.bench.toml', '--port', '8787', '--inspector-port', String(INSPECTOR.keyedge),
  '--persist-to', states[0], '--show-interactive-dev-session=false'], { KEYEDGE_CONFIG: 'dev/keyedge.dev.toml' });
const fl = start(WRANGLER, ['dev', '--config', 'bench/peers/floor/wrangler.toml', '--port', '8793', '--ip', '127.0.0.1',
  '--inspector-port', String(INSPECTOR.floor), '--persist-to', states[1], '--show-interactive-dev-session=false']);
const base = 'http://localhost:8787';
const floorPool = new Pool('http://127.0.0.1:8793', { connections: 1 });
let report;
try {
  await waitFor('http://localhost:9090/.well-known/openid-configuration', idp);
  await waitFor(`${base}/jwks`, ke);
  await waitFor('http://127.0.0.1:8793/', fl);
  const pid = { keyedge: workerPid(ke.child.pid, states[0]), floor: workerPid(fl.child.pid, states[1]) };
  const now = () => Number(process.hrtime.bigint() / 1000n);
  // Where a pass is profiled, the sampler's thread keeps workerd from ever going quiet: there
  // the bench waits a fixed 10 ms after each answer instead (the CPU it reads is not used).
  let profiling = false;
  const quiet = async (p) => (profiling ? (await sleep(10), processCpu(p)) : settled(p));

  /**
   * One login, each of keyedge's requests read as a step (CPU ms, and its window in µs of the
   * monotonic clock, to the end of what it left for after its answer); the upstream IdP's
   * pages in between are not keyedge's and not read.
   */
  const login = async () => {
    const cpu = {}; const windows = []; let open = null;
    const watch = {
      before: async (u) => {
        if (u.host !== new URL(base).host) return;
        const step = stepOf(u.pathname);
        if (!step) throw new Error(`a login request keyedge's steps do not know: ${u.pathname}`);
        open = { step, cpu: await quiet(pid.keyedge), from: now() };
      },
      after: async (u) => {
        if (u.host !== new URL(base).host) return;
        cpu[open.step] = (await quiet(pid.keyedge)) - open.cpu;
        windows.push({ step: open.step, from: open.from, to: now() });
      },
    };
    await flows.login(base, undefined, undefined, watch);
    return { cpu, windows };
  };
  /**
   * The twins of one login's steps on the floor, read as keyedge's are. Their writing Durable
   * Object calls go to one object picked at random for the login, their reading ones to one
   * object always (see bench/peers/floor/worker.js).
   */
  const twins = async () => {
    const cpu = {}; const windows = [];
    const objects = { dobj: Math.floor(Math.random() * 64), qobj: 64 };
    for (const { name } of STEPS) {
      const path = twinPath(calls[name], objects);
      const before = await quiet(pid.floor);
      const from = now();
      const r = await floorPool.request({ path, method: 'GET' });
      await r.body.text();
      if (r.statusCode !== 200) throw new Error(`floor ${path}: ${r.statusCode}`);
      cpu[name] = (await quiet(pid.floor)) - before;
      windows.push({ step: name, from, to: now() });
    }
    return { cpu, windows };
  };
  const pass = async (n) => {
    const logins = []; const twinRuns = [];
    for (let i = 0; i < n; i++) {
      logins.push(await login());
      twinRuns.push(await twins());
    }
    return { logins, twins: twinRuns };
  };

  // Warm-up, not read: every Durable Object a login calls has started (bench/warm.mjs says why).
  console.error(`warming up: ${WARM} logins and their twins…`);
  await pass(WARM);
  console.error(`measuring: ${LOGINS} logins, one at a time, each with its twins…`);
  const measured = await pass(LOGINS);
  const shares = stepShares(measured.logins.map((l) => l.cpu), measured.twins.map((t) => t.cpu));

  let sampled = null;
  if (PROFILE) {
    // One isolate profiled at a time: two samplers on one core stretch each other's intervals.
    sampled = {};
    for (const who of ['keyedge', 'floor']) {
      console.error(`profiling ${who === 'floor' ? 'the twins' : 'keyedge'}: ${LOGINS} more logins and twins…`);
      const profiler = await connect(INSPECTOR[who]);
      await profiler.start(100);
      profiling = true;
      const run = await pass(LOGINS);
      profiling = false;
      const profile = await profiler.stop();
      profiler.close();
      const runs = who === 'floor' ? run.twins : run.logins;
      const windows = runs.flatMap((r) => r.windows).sort((a, b) => a.from - b.from);
      if (!clocksAgree(profile, windows)) throw new Error(`${who}'s profile (${profile.startTime}–${profile.endTime} µs) does not span the steps read on this clock`);
      if (who === 'keyedge') {
        writeFileSync(join(tmpdir(), 'keyedge-steps.cpuprofile'), JSON.stringify(profile));
        writeFileSync(join(tmpdir(), 'keyedge-steps.windows.json'), JSON.stringify(windows));
      }
      const { ms, functions, windows: count } = sampledByStep(profile, windows, { classify: (frame) => column(kind(frame, nameOf(frame))), label: nameOf });
      const perStep = (m, name, top = Infinity) => Object.fromEntries(Object.entries(m[name] ?? {}).sort((a, b) => b[1] - a[1]).slice(0, top)
        .map(([k, v]) => [k, +(v / count[name]).toFixed(3)]));
      sampled[who] = Object.fromEntries(STEPS.map(({ name }) => [name, { by_kind: perStep(ms, name), top_functions: perStep(functions, name, 12) }]));
    }
  }
  report = { date: new Date().toISOString(), cpu: cpus()[0]?.model, cores: cpus().length, clock: SCHEDSTAT ? 'schedstat' : 'ticks',
    logins: LOGINS, warm: WARM, calls, twin_paths: Object.fromEntries(STEPS.map((st) => [st.name, twinPath(calls[st.name], { dobj: 'R', qobj: 64 })])), shares, sampled };
} finally {
  await floorPool.close();
  echo.close();
  stopAll();
  for (const s of states) rmSync(s, { recursive: true, force: true });
}

// ------------------------------------------------------------------ report
const f3 = (x) => x.toFixed(3);
const lines = [];
lines.push(`Run ${report.date} · ${report.cpu} · ${report.cores} cores · ${report.logins} logins one at a time after ${report.warm} not read · CPU from ${report.clock}`);
lines.push('');
lines.push('| step | platform calls (its twin) | keyedge CPU ms | twin CPU ms | keyedge share ms (quartiles) |');
lines.push('|---|---|---:|---:|---:|');
for (const r of report.shares.rows) {
  const c = report.calls[r.step];
  const what = [['KV read', c.kv_reads], ['KV write', c.kv_writes], ['Durable Object call', c.do_calls], ['outbound fetch', c.fetches, 'es'], ['RS256 signature', c.signatures], ['RS256 check', c.verifications]]
    .filter(([, n]) => n).map(([w, n, plural = 's']) => `${n} ${w}${n > 1 ? plural : ''}`).join(', ') || 'none';
  lines.push(`| ${STEPS.find((s) => s.name === r.step).what} | ${what} | ${f3(r.keyedge)} | ${f3(r.twin)} | ${f3(r.share)} (${f3(r.share_q1)} – ${f3(r.share_q3)}) |`);
}
lines.push(`| the login | | ${f3(report.shares.whole.keyedge)} | ${f3(report.shares.whole.twin)} | ${f3(report.shares.whole.share)} |`);
if (report.sampled) {
  const kinds = ['wasm', 'JavaScript', 'runtime APIs', 'WebCrypto', 'garbage collector'];
  const other = Object.values(report.sampled).flatMap((w) => Object.values(w).flatMap((s) => Object.keys(s.by_kind))).filter((k) => !kinds.includes(k));
  if (other.length) throw new Error(`kinds the table has no column for: ${[...new Set(other)].join(', ')}`);
  lines.push('');
  lines.push("Sampled in the isolate, per step (ms; each Worker's isolate in a profiling pass of its own, the mean per step; the profiler's own thread raises workerd's CPU in that pass, so the rest of workerd is the measured pass's mean CPU less the isolate's sampled time):");
  lines.push('');
  lines.push(`| step | who | workerd CPU (measured pass, mean) | isolate, sampled | rest of workerd | ${kinds.join(' | ')} |`);
  lines.push(`|---|---|---:|---:|---:|${kinds.map(() => '---:').join('|')}|`);
  for (const { name } of STEPS) {
    for (const who of ['keyedge', 'floor']) {
      const s = report.sampled[who][name];
      const row = report.shares.rows.find((r) => r.step === name);
      const cpu = who === 'floor' ? row.twin_mean : row.keyedge_mean;
      const inIsolate = Object.values(s.by_kind).reduce((a, b) => a + b, 0);
      lines.push(`| ${name} | ${who === 'floor' ? 'twin' : who} | ${f3(cpu)} | ${f3(inIsolate)} | ${f3(cpu - inIsolate)} | ${kinds.map((k) => f3(s.by_kind[k] ?? 0)).join(' | ')} |`);
    }
  }
  lines.push('');
  lines.push(`keyedge's functions with the most self time per step (ms; the full profile: ${join(tmpdir(), 'keyedge-steps.cpuprofile')}):`);
  for (const { name } of STEPS) {
    lines.push(`- ${name}: ${Object.entries(report.sampled.keyedge[name].top_functions).map(([f, v]) => `${f.replace(/::h[0-9a-f]{16}$/, '')} ${f3(v)}`).join('; ')}`);
  }
}
console.log(lines.join('\n'));
const JSON_OUT = opt('json', null);
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(report, null, 1));
