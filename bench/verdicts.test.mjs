// node --test bench/: the verdict rules (bench/verdicts.mjs) on made-up shares and medians.
import assert from 'node:assert/strict';
import test from 'node:test';
import { coldStartVerdict, gatedPageColdVerdict, meetsBudget, resolvedShare, twinShare } from './verdicts.mjs';

const start = (ms, cpu = ms / 2) => ({ first_request_ms: ms, first_request_cpu_ms: cpu, rounds: 9 });
// Discovery 9 ms against OpenAuth's 14 and the floor's 10; the login page 14 against
// OpenAuth's answer to an equivalent request at 24.
const measured = (over = {}) => ({
  keyedge: start(9),
  openauth: start(14),
  floor: start(10),
  'keyedge-login': start(14),
  'openauth-login': start(24),
  ...over,
});

test('both first requests under both bounds meet the cold-start goal', () => {
  const [, met, text] = coldStartVerdict(measured());
  assert.equal(met, true);
  assert.match(text, /0\.58× OpenAuth's answer to an equivalent request \(24 ms/);
  assert.match(text, /1\.40× the floor's/);
});

test("a login page over 1.5× the floor's fails the goal, however fast the discovery document is", () => {
  assert.equal(coldStartVerdict(measured({ 'keyedge-login': start(15.1) }))[1], false);
  assert.equal(coldStartVerdict(measured({ 'keyedge-login': start(15) }))[1], true);
});

test("a login page slower than OpenAuth's answer to an equivalent request fails the goal", () => {
  assert.equal(coldStartVerdict(measured({ floor: start(20), 'openauth-login': start(13.9) }))[1], false);
  assert.equal(coldStartVerdict(measured({ floor: start(20), 'openauth-login': start(14) }))[1], true);
});

test("without OpenAuth's answer to an authorization request, the login page is held to OpenAuth's first request", () => {
  const c = measured({ floor: start(20) });
  delete c['openauth-login'];
  assert.equal(coldStartVerdict(c)[1], true);
  c.openauth = start(13.9);
  assert.equal(coldStartVerdict(c)[1], false);
  assert.match(coldStartVerdict(c)[2], /OpenAuth's first request/);
});

test('a run that did not measure the login page or a bound does not meet the goal', () => {
  for (const w of ['keyedge-login', 'keyedge', 'openauth', 'floor']) {
    const c = measured();
    delete c[w];
    assert.deepEqual(coldStartVerdict(c).slice(1), [false, `not measured: ${w}`]);
  }
});

test('the discovery document is held to both bounds too', () => {
  assert.equal(coldStartVerdict(measured({ keyedge: start(15.1) }))[1], false);
  assert.equal(coldStartVerdict(measured({ keyedge: start(14.1), floor: start(20) }))[1], false);
  assert.equal(coldStartVerdict(measured({ keyedge: start(14), floor: start(20) }))[1], true);
});

test('the Rust floor is set against the first request that runs keyedge\'s Rust', () => {
  const [, , text] = coldStartVerdict(measured({ 'wasm-floor': start(11) }));
  assert.match(text, /the Rust floor 11 ms \(1\.10× the floor[^)]*\), keyedge's login page 3\.0 ms above it/);
});

test('a smoke run has no cold start: not measured, not met', () => {
  assert.deepEqual(coldStartVerdict(undefined).slice(1), [false, 'not measured (smoke run)']);
  assert.deepEqual(gatedPageColdVerdict(undefined).slice(1), [false, 'not measured (smoke run)']);
});

test("a gated page is held to 1.5× the floor's page from ASSETS", () => {
  const c = { 'keyedge-gate': start(18), 'floor-assets': start(12) };
  assert.equal(gatedPageColdVerdict(c)[1], true);
  assert.equal(gatedPageColdVerdict({ ...c, 'keyedge-gate': start(18.1) })[1], false);
  assert.match(gatedPageColdVerdict(c)[2], /1\.50×/);
});

test('a share resolved above zero meets a budget by its value', () => {
  const e = { share_ms: 0.3, twin_ms: 1.2, range_ms: [0.1, 0.5] };
  assert.equal(resolvedShare(e), 0.3);
  assert.equal(meetsBudget(e, 0.3), true);
  assert.equal(meetsBudget(e, 0.29), false);
  // Without a twin too (the sum of prices).
  assert.equal(meetsBudget({ share_ms: 0.2 }, 0.3), true);
});

test("a share not above zero meets a budget only when every round against its twin is under it", () => {
  const e = { share_ms: -0.005, twin_ms: 0.525, range_ms: [-0.049, 0.041] };
  assert.equal(resolvedShare(e), null);
  assert.equal(twinShare(e), e);
  assert.equal(meetsBudget(e, 0.3), true);
  assert.equal(meetsBudget(e, 0.04), false);
  assert.equal(meetsBudget({ ...e, range_ms: [-0.05, 0.4] }, 0.3), false);
  // Not resolved and no twin to bound it (a platform estimate above keyedge's CPU): not met.
  assert.equal(twinShare({ share_ms: 0 }), null);
  assert.equal(meetsBudget({ share_ms: 0, platform_ms: 3 }, 0.3), false);
  assert.equal(meetsBudget(undefined, 0.3), false);
});
