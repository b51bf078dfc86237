// A Worker deployed without its KV namespace (dev/wrangler.unbound.toml: the realm build of
// dev/wrangler.realm.toml, no `KEYEDGE_KV`): every request gets the same "cannot serve" page
// and a log line that names the missing binding — also the discovery document and the JWKS,
// which keyedge otherwise answers without storage (`AtOnce.plan`, src/edge/mod.rs), so a
// misconfigured deploy never looks half-working to the applications that fetch them first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker } from './servers.mjs';

const ISSUER = 'http://localhost:8798/realms/acme';
let worker;

before(async () => {
  worker = await startWorker({
    target: 'worker-realm', config: 'dev/wrangler.unbound.toml', port: 8798, inspector: 9249,
    url: `${ISSUER}/.well-known/openid-configuration`,
  });
});

after(() => worker?.stop());

test('without its KV namespace every request, discovery and the JWKS included, gets the same cannot-serve page', async () => {
  for (const path of ['/.well-known/openid-configuration', '/jwks', '/protocol/openid-connect/certs', '/protocol/openid-connect/auth?client_id=x']) {
    const res = await fetch(`${ISSUER}${path}`, { redirect: 'manual' });
    const page = await res.text();
    assert.equal(res.status, 500, `${path}: ${page.slice(0, 200)}`);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/, path);
    assert.match(page, /keyedge cannot serve this request/, path);
    const reference = page.match(/[A-Za-z0-9_-]{8,}(?=<\/code>)/)?.[0];
    assert.ok(reference, `${path}: the page gives a reference`);
    // The operator's line under that reference names what is wrong.
    await waitForLog(reference);
    assert.match(worker.logs(), new RegExp(`${reference}.*no KV namespace is bound as KEYEDGE_KV`), path);
  }
});

async function waitForLog(text) {
  for (let i = 0; i < 40 && !worker.logs().includes(text); i++) await new Promise((r) => setTimeout(r, 100));
}
