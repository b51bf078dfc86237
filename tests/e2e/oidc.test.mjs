// openid-client (a real relying party) against keyedge under `wrangler dev`, with the demo
// oidc-provider upstream: discovery → authorize → upstream login → callback → token →
// userinfo, plus code reuse and a wrong redirect_uri.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import * as jose from 'jose';
import { createHash } from 'node:crypto';
import { startServers, KEYEDGE } from './servers.mjs';
import { Browser, loginThroughDemoIdp } from './login.mjs';

const REDIRECT_URI = 'http://127.0.0.1:8788/cb';
let servers;
let config;

before(async () => {
  servers = await startServers();
  config = await client.discovery(new URL(KEYEDGE), 'demo-app', servers.vars.DEMO_APP_SECRET, undefined, {
    execute: [client.allowInsecureRequests],
  });
});

after(() => servers?.stop());

async function authorize(extra = {}) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  const callback = await loginThroughDemoIdp(new Browser(), url.href, REDIRECT_URI);
  return { callback: new URL(callback), codeVerifier, state, nonce };
}

test('discovery: issuer is byte-for-byte the configured URL', () => {
  const meta = config.serverMetadata();
  assert.equal(meta.issuer, KEYEDGE);
  assert.equal(meta.jwks_uri, `${KEYEDGE}/jwks`);
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
});

test('discovery and the JWKS, answered by the Worker shell at once: their headers, the request id, no body for HEAD', async () => {
  for (const [path, type] of [
    ['/.well-known/openid-configuration', /^application\/json/],
    ['/jwks', /^application\/(jwk-set\+)?json/],
  ]) {
    // Cloudflare's ray id names the request; without one keyedge makes its own.
    const res = await fetch(`${KEYEDGE}${path}`, { headers: { 'cf-ray': 'e2e-ray-1' } });
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type'), type, path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(res.headers.get('x-request-id'), 'e2e-ray-1', path);
    const body = await res.json();
    assert.ok(path === '/jwks' ? body.keys.length > 0 : body.issuer === KEYEDGE, path);
    const head = await fetch(`${KEYEDGE}${path}`, { method: 'HEAD' });
    assert.equal(head.status, 200, path);
    assert.equal(head.headers.get('content-type'), res.headers.get('content-type'), path);
    assert.match(head.headers.get('x-request-id') ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, path);
    assert.equal((await head.arrayBuffer()).byteLength, 0, path);
  }
});

// A kept answer is never given to a request with a body (tests/e2e/reuse.test.mjs): wrangler
// dev's proxy does not forward a GET's body, so that is not tried here.
test('discovery and the JWKS given again by the shell: the same answer, whole, each time, each with its own request id', async () => {
  for (const path of ['/.well-known/openid-configuration', '/jwks']) {
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${KEYEDGE}${path}${i % 2 ? '?again=1' : ''}`, { headers: i === 3 ? { 'cf-ray': `e2e-ray-${i}` } : {} });
      assert.equal(res.status, 200, path);
      const headers = Object.fromEntries([...res.headers].filter(([name]) => !['date', 'x-request-id'].includes(name)));
      answers.push({ headers, id: res.headers.get('x-request-id'), body: await res.text() });
    }
    // Rust's own answer, for a request the shell gives no kept answer (its URL holds a
    // character RFC 3986 does not allow, which the URL standard leaves as it is in a query):
    // the kept one (the discovery document's since the isolate started, AtOnce.atStart) is the
    // very same.
    const own = await fetch(`${KEYEDGE}${path}?x={a}`);
    assert.equal(own.status, 200, path);
    const headers = Object.fromEntries([...own.headers].filter(([name]) => !['date', 'x-request-id'].includes(name)));
    answers.push({ headers, id: own.headers.get('x-request-id'), body: await own.text() });
    for (const a of answers.slice(1)) {
      assert.deepEqual(a.headers, answers[0].headers, path);
      assert.equal(a.body, answers[0].body, path);
    }
    assert.equal(answers[3].id, 'e2e-ray-3', path);
    const ids = [0, 1, 2, 4].map((i) => answers[i].id);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, path);
    assert.equal(new Set(ids).size, 4, path);
  }
});

test('authorization code flow with PKCE: tokens, ID token signed with keyedge JWKS, userinfo', async () => {
  const { callback, codeVerifier, state, nonce } = await authorize();
  assert.equal(callback.searchParams.get('iss'), KEYEDGE, 'RFC 9207 iss in the response');
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const claims = tokens.claims();
  assert.equal(claims.iss, KEYEDGE);
  assert.equal(claims.aud, 'demo-app');
  assert.equal(claims.nonce, nonce);
  assert.equal(claims.email, 'alice@example.com');

  const jwks = jose.createRemoteJWKSet(new URL(`${KEYEDGE}/jwks`));
  const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, { issuer: KEYEDGE, audience: 'demo-app' });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.ok(protectedHeader.kid);
  assert.equal(payload.sub, claims.sub);

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.sub, claims.sub);
  assert.equal(info.preferred_username, 'alice');
  assert.equal(info.email_verified, true);
});

test('an EdDSA client: its ID token verifies with keyedge\'s JWKS, at_hash is SHA-512\'s left half, userinfo answers', async () => {
  const eddsa = await client.discovery(new URL(KEYEDGE), 'demo-eddsa', undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const codeVerifier = client.randomPKCECodeVerifier();
  const [state, nonce] = [client.randomState(), client.randomNonce()];
  const url = client.buildAuthorizationUrl(eddsa, {
    redirect_uri: REDIRECT_URI, scope: 'openid email', state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
  });
  const callback = new URL(await loginThroughDemoIdp(new Browser(), url.href, REDIRECT_URI));
  const tokens = await client.authorizationCodeGrant(eddsa, callback, {
    pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const jwks = jose.createRemoteJWKSet(new URL(`${KEYEDGE}/jwks`));
  const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, {
    issuer: KEYEDGE, audience: 'demo-eddsa', algorithms: ['EdDSA'],
  });
  assert.equal(protectedHeader.alg, 'EdDSA');
  const digest = createHash('sha512').update(tokens.access_token).digest();
  assert.equal(payload.at_hash, digest.subarray(0, 32).toString('base64url'));
  const info = await client.fetchUserInfo(eddsa, tokens.access_token, payload.sub);
  assert.equal(info.email, 'alice@example.com');
});

test('the same upstream identity logs in to the same keyedge user', async () => {
  const first = await authorize();
  const t1 = await client.authorizationCodeGrant(config, first.callback, {
    pkceCodeVerifier: first.codeVerifier, expectedState: first.state, expectedNonce: first.nonce,
  });
  const second = await authorize({ prompt: 'login' });
  const t2 = await client.authorizationCodeGrant(config, second.callback, {
    pkceCodeVerifier: second.codeVerifier, expectedState: second.state, expectedNonce: second.nonce,
  });
  assert.equal(t1.claims().sub, t2.claims().sub);
});

// One isolate serves these requests side by side, each awaiting storage, the upstream and
// WebCrypto while the others run (src/core/task.rs): every answer must be its own request's.
test('concurrent logins, redemptions, refreshes and userinfo calls each get their own answer', async () => {
  const flows = await Promise.all(Array.from({ length: 6 }, () => authorize()));
  const codes = flows.map((f) => f.callback.searchParams.get('code'));
  assert.equal(new Set(codes).size, codes.length);
  flows.forEach((f) => assert.equal(f.callback.searchParams.get('state'), f.state));
  const tokens = await Promise.all(flows.map((f) => client.authorizationCodeGrant(config, f.callback, {
    pkceCodeVerifier: f.codeVerifier, expectedState: f.state, expectedNonce: f.nonce, idTokenExpected: true,
  })));
  tokens.forEach((t, i) => assert.equal(t.claims().nonce, flows[i].nonce));
  const refreshed = await Promise.all(tokens.map((t) => client.refreshTokenGrant(config, t.refresh_token)));
  assert.equal(new Set(refreshed.map((t) => t.refresh_token)).size, refreshed.length);
  refreshed.forEach((t) => assert.equal(t.claims().sub, tokens[0].claims().sub));
  // Each token's userinfo, each beside a refused one.
  const answers = await Promise.all(refreshed.flatMap((t, i) => [
    fetch(`${KEYEDGE}/userinfo`, { headers: { authorization: `Bearer ${t.access_token}` } }),
    fetch(`${KEYEDGE}/userinfo`, { headers: { authorization: `Bearer not-a-token-${i}` } }),
  ]));
  for (const [i, res] of answers.entries()) {
    if (i % 2 === 0) {
      assert.equal(res.status, 200);
      assert.equal((await res.json()).email, 'alice@example.com');
    } else {
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error, 'invalid_token');
    }
  }
});

test('redeeming a code twice fails with invalid_grant and revokes the first tokens', async () => {
  const { callback, codeVerifier, state, nonce } = await authorize();
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce,
  });
  await assert.rejects(
    client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce }),
    (e) => e.error === 'invalid_grant',
  );
  const res = await fetch(`${KEYEDGE}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(res.status, 401);
});

test('a wrong redirect_uri shows an error page and never redirects', async () => {
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: 'http://127.0.0.1:8788/evil', scope: 'openid', state: 's', nonce: 'n',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('location'), null);
  assert.match(res.headers.get('content-type'), /text\/html/);
  assert.match(await res.text(), /Invalid redirect URI/);
});

test('refresh token grant rotates the refresh token, and the old one is then refused', async () => {
  const { callback, codeVerifier, state, nonce } = await authorize();
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce,
  });
  assert.ok(tokens.refresh_token);
  const renewed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(renewed.refresh_token && renewed.refresh_token !== tokens.refresh_token);
  assert.equal(renewed.claims().sub, tokens.claims().sub);
  // Within the grace window (refresh_token_grace_seconds) the same token gets the same
  // successor, as a second tab refreshing at the same moment would.
  const again = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.equal(again.refresh_token, renewed.refresh_token);
  // Once the successor is used, the old token is reuse: the whole family is revoked.
  const next = await client.refreshTokenGrant(config, renewed.refresh_token);
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
  await assert.rejects(client.refreshTokenGrant(config, next.refresh_token), (e) => e.error === 'invalid_grant');
});

test('introspection and revocation (RFC 7662, RFC 7009)', async () => {
  const { callback, codeVerifier, state, nonce } = await authorize();
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce,
  });
  const active = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(active.active, true);
  assert.equal(active.client_id, 'demo-app');
  await client.tokenRevocation(config, tokens.refresh_token);
  const after = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(after.active, false);
});

test('RP-initiated logout: end-session URL with id_token_hint returns to the registered URI with state', async () => {
  const browser = new Browser();
  const codeVerifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI, scope: 'openid', state: 'st', nonce: 'nn',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
  });
  const callback = new URL(await loginThroughDemoIdp(browser, url.href, REDIRECT_URI));
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier, expectedState: 'st', expectedNonce: 'nn' });
  const end = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token, post_logout_redirect_uri: 'http://127.0.0.1:8788/signed-out', state: 'bye',
  });
  const res = await browser.request(end.href);
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), 'http://127.0.0.1:8788/signed-out?state=bye');
  const account = await browser.request(`${KEYEDGE}/account`);
  assert.match(account.headers.get('location'), /^\/login/, 'the keyedge session is gone');
});
