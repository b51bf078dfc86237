// The arithmetic of `make steps` (bench/steps-lib.mjs), on made-up readings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STEPS, clocksAgree, column, parseHarness, sampledByStep, stepOf, stepShares, twinPath } from './steps-lib.mjs';

const HARNESS = `
STORAGE first_login kv_reads=2 kv_writes=6 do_calls=6 do_reads=0
STORAGE login_step_authorize kv_reads=0 kv_writes=0 do_calls=0 do_reads=0
STEP authorize fetches=0 rs256_signatures=0 rs256_verifications=0
STORAGE login_step_start kv_reads=0 kv_writes=0 do_calls=0 do_reads=0
STEP start fetches=0 rs256_signatures=0 rs256_verifications=0
STORAGE login_step_callback kv_reads=1 kv_writes=2 do_calls=2 do_reads=1
STEP callback fetches=2 rs256_signatures=0 rs256_verifications=1
STORAGE login_step_token kv_reads=1 kv_writes=0 do_calls=1 do_reads=0
STEP token fetches=0 rs256_signatures=2 rs256_verifications=0
STORAGE login_steps_together kv_reads=2 kv_writes=2 do_calls=3 do_reads=1
`;

test("a login's requests are its four steps, by path, and nothing else is one", () => {
  assert.equal(stepOf('/authorize'), 'authorize');
  assert.equal(stepOf('/broker/demo/login'), 'start');
  assert.equal(stepOf('/broker/demo/endpoint'), 'callback');
  assert.equal(stepOf('/token'), 'token');
  for (const other of ['/broker/demo/link', '/broker/a/b/login', '/authorize/x', '/tokens', '/']) assert.equal(stepOf(other), null, other);
});

test("the harness's lines give each step's platform calls, and each step's twin makes them", () => {
  const calls = parseHarness(HARNESS);
  assert.deepEqual(Object.keys(calls).sort(), STEPS.map((s) => s.name).sort());
  assert.deepEqual(calls.callback, { kv_reads: 1, kv_writes: 2, do_calls: 2, do_reads: 1, fetches: 2, signatures: 0, verifications: 1 });
  // Of the callback's two Durable Object calls one only reads: one `d`, one `q`; it checks
  // one signature (`v`). The writing calls go to the login's object, the reading to another.
  const objects = { dobj: 17, qobj: 64 };
  assert.equal(twinPath(calls.callback, objects), '/mix?r=1&w=2&d=1&q=1&f=2&s=0&v=1&dobj=17&qobj=64');
  assert.equal(twinPath(calls.token, objects), '/mix?r=1&w=0&d=1&q=0&f=0&s=2&v=0&dobj=17&qobj=64');
  assert.equal(twinPath(calls.authorize, objects), '/mix?r=0&w=0&d=0&q=0&f=0&s=0&v=0&dobj=17&qobj=64');
});

test('a step the harness printed only half of, or not at all, stops the run', () => {
  assert.throws(() => parseHarness(HARNESS.replace(/^STEP token .*$/m, '')), /no whole line for token:/);
  assert.throws(() => parseHarness(HARNESS.replace(/^STORAGE login_step_start .*$/m, '')), /no whole line for start:/);
});

test("a step's share is the median, login by login, of keyedge's CPU less its twin's", () => {
  const at = (a, s, c, t) => ({ authorize: a, start: s, callback: c, token: t });
  const logins = [at(2, 2, 10, 8), at(2.2, 1.9, 20, 7), at(1.8, 2.1, 30, 9)];
  const twins = [at(1, 1, 1, 5), at(1, 1, 25, 6), at(1.2, 1, 2, 5)];
  const { rows, whole } = stepShares(logins, twins);
  const callback = rows.find((r) => r.step === 'callback');
  // Differences 9, −5, 28: their median 9, not the difference of the medians (20 − 2 = 18);
  // quartiles between ranks: −5..9 and 9..28.
  assert.deepEqual([callback.keyedge, callback.twin, callback.share, callback.share_q1, callback.share_q3], [20, 2, 9, 2, 18.5]);
  // The login whole: 22 − 8, 31.1 − 33, 42.9 − 9.2, login by login: 14, not 31.1 − 9.2.
  assert.ok(Math.abs(whole.keyedge - 31.1) < 1e-9);
  assert.ok(Math.abs(whole.twin - 9.2) < 1e-9);
  assert.ok(Math.abs(whole.share - 14) < 1e-9);
  assert.deepEqual(rows.map((r) => r.step), STEPS.map((s) => s.name));
  // The means, beside a profile's per-step means.
  assert.deepEqual([callback.keyedge_mean, callback.twin_mean], [20, 28 / 3]);
});

test('shares need a twin for every login and a reading for every step', () => {
  const at = (a, s, c, t) => ({ authorize: a, start: s, callback: c, token: t });
  assert.throws(() => stepShares([at(1, 1, 1, 1)], []), /1 logins against 0 twins/);
  assert.throws(() => stepShares([{ authorize: 1, start: 1, callback: 1 }], [at(1, 1, 1, 1)]), /token/);
});

// A profile of 10 samples 100 µs apart from t = 1000 µs: node 2 is idle, 3 is wasm, 4 is glue.
const profile = (ids) => ({
  startTime: 1000, endTime: 1000 + 100 * ids.length,
  nodes: [
    { id: 2, callFrame: { functionName: '(idle)', url: '' } },
    { id: 3, callFrame: { functionName: 'keyedge::core::x', url: 'wasm://wasm/keyedge' } },
    { id: 4, callFrame: { functionName: '', url: 'worker.js' } },
  ],
  samples: ids, timeDeltas: ids.map(() => 100),
});
const byUrl = (frame) => (frame.url.startsWith('wasm') ? 'wasm' : 'JavaScript');

test("each sample counts for the step whose window it falls in, idle ones for none", () => {
  // Sample i is taken at 1000 + 100 (i + 1) µs.
  const p = profile([3, 3, 4, 2, 3, 4, 4, 2, 3, 3]);
  const windows = [{ step: 'start', from: 1150, to: 1450 }, { step: 'token', from: 1550, to: 1950 }, { step: 'start', from: 1960, to: 2100 }];
  const { ms, functions, windows: count } = sampledByStep(p, windows, { classify: byUrl });
  // start: samples at 1200 (3), 1300 (4), 1400 (idle); then 2000 (3, its interval runs past the end of the profile: 0).
  assert.deepEqual(ms.start, { wasm: 0.1, JavaScript: 0.1 });
  // token: 1600 (4), 1700 (4), 1800 (idle), 1900 (3).
  assert.deepEqual(ms.token, { JavaScript: 0.2, wasm: 0.1 });
  assert.deepEqual(count, { start: 2, token: 1 });
  // By function too: the glue frame has no name.
  assert.deepEqual(functions.token, { '': 0.2, 'keyedge::core::x': 0.1 });
});

test("a sample at a window's start is the step's, one at its end is not", () => {
  // Samples at 1100, 1200, 1300: the window [1100, 1300) holds the first two.
  const p = profile([3, 4, 3]);
  const { ms } = sampledByStep(p, [{ step: 'token', from: 1100, to: 1300 }], { classify: byUrl });
  assert.deepEqual(ms.token, { wasm: 0.1, JavaScript: 0.1 });
});

test('a sample whose interval is a stall counts up to the cap', () => {
  const p = profile([3, 3]);
  p.timeDeltas = [100, 5000];
  const { ms } = sampledByStep(p, [{ step: 'callback', from: 1000, to: 1200 }], { classify: byUrl, capUs: 1000 });
  assert.deepEqual(ms.callback, { wasm: 1 });
});

test('samples are given to steps only where the profile spans the windows', () => {
  const p = profile([3, 3, 3]);
  assert.equal(clocksAgree(p, [{ step: 'start', from: 1100, to: 1250 }]), true);
  assert.equal(clocksAgree(p, [{ step: 'start', from: 900, to: 1250 }]), false);
  assert.equal(clocksAgree(p, [{ step: 'start', from: 1100, to: 9_000_000 }]), false);
  assert.equal(clocksAgree(p, []), false);
});

test("the table's columns gather the profiler's kinds", () => {
  assert.equal(column("wasm: keyedge's own code"), 'wasm');
  assert.equal(column('wasm: Rust std, allocator'), 'wasm');
  assert.equal(column('JS glue of wasm-bindgen'), 'JavaScript');
  assert.equal(column('runtime APIs (fetch, Request/Response, KV, SQL, microtasks)'), 'runtime APIs');
  assert.equal(column('WebCrypto'), 'WebCrypto');
  assert.equal(column('garbage collector'), 'garbage collector');
});
