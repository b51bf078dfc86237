// The arithmetic of `make steps` (bench/steps.mjs), apart from the processes it drives, so
// that bench/steps.test.mjs can check it on made-up readings.
import { median } from './rounds.mjs';

/** A login's requests to keyedge, in order, by the path each is sent to. */
export const STEPS = [
  { name: 'authorize', what: 'the login page (`GET /authorize`)', path: /^\/authorize$/ },
  { name: 'start', what: 'the way to the IdP (`GET /broker/{alias}/login`)', path: /^\/broker\/[^/]+\/login$/ },
  { name: 'callback', what: 'the callback (`GET /broker/{alias}/endpoint`)', path: /^\/broker\/[^/]+\/endpoint$/ },
  { name: 'token', what: 'the redemption (`POST /token`)', path: /^\/token$/ },
];

/** Which step a request to keyedge at `pathname` is, or null (not one of a login's). */
export const stepOf = (pathname) => STEPS.find((s) => s.path.test(pathname))?.name ?? null;

/**
 * The platform calls of each step, from the lines the native harness prints
 * (tests/it/storage_cost.rs `platform_calls_per_login_step`):
 * `STORAGE login_step_NAME kv_reads=… kv_writes=… do_calls=… do_reads=…` and
 * `STEP NAME fetches=… rs256_signatures=… rs256_verifications=…`.
 */
export function parseHarness(out) {
  const calls = {};
  for (const m of out.matchAll(/^STORAGE login_step_(\w+) kv_reads=(\d+) kv_writes=(\d+) do_calls=(\d+) do_reads=(\d+)$/gm)) {
    calls[m[1]] = { ...calls[m[1]], kv_reads: +m[2], kv_writes: +m[3], do_calls: +m[4], do_reads: +m[5] };
  }
  for (const m of out.matchAll(/^STEP (\w+) fetches=(\d+) rs256_signatures=(\d+) rs256_verifications=(\d+)$/gm)) {
    calls[m[1]] = { ...calls[m[1]], fetches: +m[2], signatures: +m[3], verifications: +m[4] };
  }
  const incomplete = STEPS.filter((s) => calls[s.name]?.kv_reads === undefined || calls[s.name]?.fetches === undefined);
  if (incomplete.length) throw new Error(`the native harness printed no whole line for ${incomplete.map((s) => s.name).join(', ')}:\n${out}`);
  return calls;
}

/**
 * The floor Worker's request making one step's platform calls (bench/peers/floor `/mix`): its
 * writing Durable Object calls to object `dobj`, its reading ones to `qobj`.
 */
export function twinPath(c, { dobj, qobj }) {
  const reads = c.do_reads ?? 0;
  return `/mix?r=${c.kv_reads}&w=${c.kv_writes}&d=${c.do_calls - reads}&q=${reads}&f=${c.fetches}&s=${c.signatures}&v=${c.verifications}`
    + `&dobj=${dobj}&qobj=${qobj}`;
}

/**
 * Per step, from `logins` (each `{ step: keyedge's CPU ms }`) and `twins` (each `{ step: the
 * twin's CPU ms }`, measured right after the login of the same index): the medians of
 * keyedge's and the twin's CPU and of their difference login by login, with the difference's
 * quartiles (interpolated between ranks); and keyedge's and the twin's means (what a profile's
 * sampled time per step, a mean, is set against).
 */
export function stepShares(logins, twins) {
  if (logins.length !== twins.length || !logins.length) throw new Error(`${logins.length} logins against ${twins.length} twins`);
  // Between the two nearest ranks, linearly.
  const quartile = (xs, q) => {
    const s = [...xs].sort((a, b) => a - b);
    const at = q * (s.length - 1); const lo = Math.floor(at);
    return s[lo] + (s[Math.ceil(at)] - s[lo]) * (at - lo);
  };
  const rows = STEPS.map(({ name }) => {
    const k = logins.map((l) => l[name]);
    const t = twins.map((l) => l[name]);
    if (k.some((x) => typeof x !== 'number') || t.some((x) => typeof x !== 'number')) throw new Error(`step ${name}: a login or twin without its reading`);
    const d = k.map((x, i) => x - t[i]);
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return { step: name, keyedge: median(k), twin: median(t), share: median(d), share_q1: quartile(d, 0.25), share_q3: quartile(d, 0.75),
      keyedge_mean: mean(k), twin_mean: mean(t) };
  });
  const total = (x) => STEPS.reduce((a, s) => a + x[s.name], 0);
  const whole = {
    keyedge: median(logins.map(total)),
    twin: median(twins.map(total)),
    share: median(logins.map((l, i) => total(l) - total(twins[i]))),
  };
  return { rows, whole };
}

/**
 * The isolate's sampled time inside each window, by `classify(callFrame)` and by function
 * (`label(callFrame)`, self time; idle and `(program)` left out). `windows`: `[{ step, from,
 * to }]`, in µs of the profile's clock (the monotonic clock both V8 and `process.hrtime`
 * read), ordered and not overlapping. A sample counts its interval up to `capUs`: a longer one
 * is a stall (the thread off the CPU), not work. Returns, summed over the windows, `ms` and
 * `functions` (`{ step: { kind or function: ms } }`) and the windows' number per step.
 */
export function sampledByStep(profile, windows, { classify, label = (f) => f.functionName, capUs = 1000 }) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const ms = {}; const functions = {}; const count = {};
  for (const w of windows) count[w.step] = (count[w.step] ?? 0) + 1;
  const add = (into, step, key, v) => { const s = (into[step] ??= {}); s[key] = (s[key] ?? 0) + v; };
  let t = profile.startTime; let w = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    while (w < windows.length && windows[w].to <= t) w++;
    if (w >= windows.length) break;
    if (t < windows[w].from) continue;
    const frame = byId.get(profile.samples[i]).callFrame;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') continue;
    const v = Math.min(profile.timeDeltas[i + 1] ?? 0, capUs) / 1000;
    add(ms, windows[w].step, classify(frame), v);
    add(functions, windows[w].step, label(frame), v);
  }
  return { ms, functions, windows: count };
}

/** Whether a profile's clock is the one the windows were read on (its span holds them). */
export function clocksAgree(profile, windows) {
  if (!windows.length) return false;
  return profile.startTime <= windows[0].from && windows[windows.length - 1].to <= profile.endTime + 1000;
}

/**
 * The few columns `make steps` shows of `bench/inspector.mjs`'s kinds: wasm (all of it), the
 * Worker's own JavaScript (keyedge's shell and wasm-bindgen glue; the twin's script), the
 * runtime's APIs, WebCrypto, the garbage collector.
 */
export function column(kindName) {
  if (kindName.startsWith('wasm')) return 'wasm';
  if (kindName === 'JS glue of wasm-bindgen') return 'JavaScript';
  if (kindName.startsWith('runtime APIs')) return 'runtime APIs';
  return kindName;
}
