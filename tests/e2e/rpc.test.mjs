// keyedge's Worker seen from another Worker of the same account that holds a service binding
// to it (tests/e2e/neighbour/): every method of a Worker's entrypoint class can be called over
// RPC, so the only one keyedge's may have is `fetch`, which applies the gate. Before this test,
// the shell's `site(page)` was such a method, and a neighbour handing it a made-up plan got a
// gated site's staff page from ASSETS without a sign-in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker } from './servers.mjs';

const NEIGHBOUR = 'http://localhost:8795';
let worker;

before(async () => {
  worker = await startWorker({
    target: 'worker', config: 'tests/e2e/neighbour/wrangler.toml', also: ['dev/wrangler.toml'],
    port: 8795, inspector: 9235, url: `${NEIGHBOUR}/`, env: { KEYEDGE_CONFIG: 'dev/keyedge.dev.toml' },
  });
});

after(() => worker?.stop());

test('a bound Worker reaches keyedge only through fetch, and fetch applies the gate', async () => {
  const res = await fetch(`${NEIGHBOUR}/`);
  const tried = await res.json();
  for (const method of ['site', 'serve', 'start']) {
    assert.match(tried[method].threw ?? JSON.stringify(tried[method]), /does not implement the method/, `${method}: ${JSON.stringify(tried[method])}`);
  }
  // The staff page through the door: the gate sends a visitor without a session to sign in.
  assert.equal(tried.fetch.status, 302, JSON.stringify(tried.fetch));
  assert.match(tried.fetch.location, /\/login|\/authorize/);
});
