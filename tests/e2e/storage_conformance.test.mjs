// The storage conformance suite (src/core/ports/conformance.rs, natively run against the
// in-memory twins by tests/it/storage_conformance.rs) against the Worker's real bindings: the
// `OnceStore` Durable Object over RPC and Workers KV, under `wrangler dev`, through the
// dev-only `POST /dev/conformance` (`[dev] storage_conformance = true` in
// dev/keyedge.dev.toml).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServers, KEYEDGE } from './servers.mjs';

let servers;

before(async () => {
  servers = await startServers();
});

after(() => servers?.stop());

async function runSuite() {
  const res = await fetch(`${KEYEDGE}/dev/conformance`, { method: 'POST' });
  const text = await res.text();
  assert.equal(res.status, 200, `${text}\n${servers.logs()}`);
  return JSON.parse(text);
}

function assertAllPassed(report) {
  assert.ok(Array.isArray(report.passed) && report.passed.length > 0, `no check ran: ${JSON.stringify(report)}`);
  assert.deepEqual(report.failed, [], `failed checks:\n${JSON.stringify(report.failed, null, 2)}`);
}

test('the Durable Object and KV bindings pass every storage conformance check', async () => {
  const report = await runSuite();
  assertAllPassed(report);
  for (const check of ['take_is_fresh_once_then_replayed', 'once_then_store_writes_nothing_once_the_marker_is_used',
    'family_forgets_the_oldest_rotated_out_secrets', 'record_swap_with_none_only_creates', 'kv_list_finds_keys_by_prefix']) {
    assert.ok(report.passed.includes(check), `${check} did not run: ${JSON.stringify(report)}`);
  }
  // The Durable Object's clock is moved forward for the run (a dev build's `skew`), so its
  // expiry, replay and use windows are checked against the real object and its SQL; KV's
  // expiry is the platform's own and cannot be moved: only its timed checks are skipped.
  for (const check of ['items_expire_after_their_ttl', 'redeemed_items_are_remembered_for_the_replay_window',
    'marker_is_free_again_after_its_ttl', 'families_expire', 'family_grace_window_closes', 'count_use_window_reopens',
    'marks_expire_and_marking_again_extends']) {
    assert.ok(report.passed.includes(check), `${check} did not pass: ${JSON.stringify(report)}`);
  }
  assert.deepEqual(report.skipped, ['kv_entries_expire_after_their_ttl', 'kv_ttl_is_at_least_a_minute']);
});

test('the suite passes again on the stores it already wrote to (fresh keys per check)', async () => {
  const first = await runSuite();
  const second = await runSuite();
  assertAllPassed(second);
  assert.deepEqual(second.passed, first.passed);
});
