// Storage faults against the real bindings (issue 19, item 4): under `wrangler dev`, the
// dev-only `POST /dev/faults` (`[dev] fault_injection = true` in dev/keyedge.dev.toml) makes
// the N-th coming KV or Durable Object operation fail. For each N in turn a first login (a
// fresh user at the demo IdP) meets the fault: the visitor gets a readable answer, never a
// 500, and signing in again works, into one account. The native twin is tests/it/faults.rs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startServers, KEYEDGE } from './servers.mjs';
import { Browser, loginThroughIdp } from './login.mjs';

const REDIRECT = 'http://127.0.0.1:8788/cb';
/** Enough operations for a first login and its code's redemption; the loop stops earlier. */
const MAX_STEPS = 40;

let servers;

before(async () => {
  servers = await startServers();
});

after(() => servers?.stop());

async function faults(form) {
  const init = form ? { method: 'POST', body: new URLSearchParams(form) } : {};
  const res = await fetch(`${KEYEDGE}/dev/faults`, init);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

/**
 * A complete sign-in of the demo IdP's on-demand user `user` for `demo-app`, code redeemed:
 * `{ sub }`, or `{ failed }` with the status and page where it stopped.
 */
async function signIn(user) {
  const verifier = randomBytes(32).toString('base64url');
  const authorize = `${KEYEDGE}/authorize?${new URLSearchParams({
    client_id: 'demo-app', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid email profile',
    state: 'st', nonce: 'n', code_challenge_method: 'S256',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
  })}`;
  let back;
  try {
    back = await loginThroughIdp(new Browser(), authorize, REDIRECT, { user: [user, user] });
  } catch (e) {
    return { failed: e.message };
  }
  const code = new URL(back).searchParams.get('code');
  if (!code) return { failed: `back at the client without a code: ${back}` };
  const basic = Buffer.from(`demo-app:${servers.vars.DEMO_APP_SECRET}`).toString('base64');
  const res = await fetch(`${KEYEDGE}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }),
  });
  const text = await res.text();
  if (res.status !== 200) return { failed: `token endpoint ${res.status}: ${text}` };
  const idToken = JSON.parse(text).id_token;
  return { sub: JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString()).sub };
}

/** A failed step answered readably: a status other than 500 and a page or an OAuth error. */
function assertReadable(failed, at) {
  assert.doesNotMatch(failed, /\b500\b/, `${at}: ${failed}`);
  assert.match(failed, /<h1>|"error"|error=/, `${at}: no readable answer: ${failed}`);
}

async function everyStepFailsCleanly(store) {
  const run = randomBytes(3).toString('hex');
  let reached = 0;
  for (let n = 0; n < MAX_STEPS; n++) {
    const user = `test-${store.replace('_', '')}-${run}-${n}`;
    await faults({ store, fail_after: String(n) });
    const first = await signIn(user);
    const pending = (await faults())[store];
    if (pending) {
      // The sign-in took fewer than n + 1 operations: every step has had its fault.
      assert.ok(first.sub, `no fault, yet the sign-in failed: ${first.failed}`);
      await faults({ store, fail_after: 'never' });
      return reached;
    }
    reached += 1;
    if (first.failed) assertReadable(first.failed, `${store} operation ${n}`);
    const again = await signIn(user);
    assert.ok(again.sub, `${store} operation ${n} failed; signing in again: ${again.failed}\n${servers.logs().slice(-3000)}`);
    if (first.sub) assert.equal(again.sub, first.sub, `${store} operation ${n}: one account`);
    const third = await signIn(user);
    assert.equal(third.sub, again.sub, `${store} operation ${n}: the account stays the same`);
  }
  assert.fail(`a first login took more than ${MAX_STEPS} ${store} operations`);
}

test('a KV operation failing at any step of a first login leaves it readable and whole', async () => {
  const steps = await everyStepFailsCleanly('kv');
  assert.ok(steps >= 3, `only ${steps} KV operations were faulted`);
});

test('a Durable Object call failing at any step of a first login leaves it readable and whole', async () => {
  const steps = await everyStepFailsCleanly('durable_object');
  assert.ok(steps >= 3, `only ${steps} Durable Object calls were faulted`);
});
