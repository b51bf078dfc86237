// A Worker deployed without its KV namespace (dev/wrangler.unbound.toml: the realm build of
// dev/wrangler.realm.toml, no `KEYEDGE_KV`): every request gets the same "cannot serve" page
// and a log line that names the missing binding — also the discovery document and the JWKS,
// which keyedge otherwise answers without storage (`AtOnce.plan`, src/edge/mod.rs), so a
// misconfigured deploy never looks half-working to the applications that fetch them first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const BASE = 'http://localhost:8798';
const ISSUER = `${BASE}/realms/acme`;
let wrangler;
let state;
const log = [];

before(async () => {
  const built = spawnSync('make', ['--no-print-directory', 'worker-realm'], { cwd: ROOT, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`make worker-realm failed\n${built.stdout}${built.stderr}`);
  state = mkdtempSync(join(tmpdir(), 'keyedge-unbound-'));
  wrangler = spawn(join(ROOT, 'node_modules/.bin/wrangler'),
    ['dev', '--config', 'dev/wrangler.unbound.toml', '--port', '8798', '--inspector-port', '9249', '--persist-to', state,
      '--show-interactive-dev-session=false'],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  wrangler.stdout.on('data', (d) => log.push(d.toString()));
  wrangler.stderr.on('data', (d) => log.push(d.toString()));
  // Up when it answers at all (every answer is an error page here).
  for (let i = 0; ; i++) {
    if (wrangler.exitCode !== null) throw new Error(`wrangler exited\n${log.join('')}`);
    try {
      await fetch(`${ISSUER}/.well-known/openid-configuration`);
      break;
    } catch {
      if (i > 480) throw new Error(`timed out waiting for ${BASE}\n${log.join('')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
});

after(() => {
  try { process.kill(-wrangler.pid, 'SIGTERM'); } catch { /* gone */ }
  if (state) rmSync(state, { recursive: true, force: true });
});

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
    assert.match(log.join(''), new RegExp(`${reference}.*no KV namespace is bound as KEYEDGE_KV`), path);
  }
});

async function waitForLog(text) {
  for (let i = 0; i < 40 && !log.join('').includes(text); i++) await new Promise((r) => setTimeout(r, 100));
}
