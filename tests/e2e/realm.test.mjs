// Issue 16, "change only the host": keyedge with a Keycloak realm's issuer
// (http://localhost:8797/realms/acme, dev/keyedge.realm.toml on its own `wrangler dev`, built
// into build-realm/), driven by apps configured as they are for a Keycloak realm:
// - OpenMetadata's settings from its Keycloak guide with only the host changed
//   (examples/openmetadata/openmetadata.keycloak.env), through openid-client: discovery from
//   OIDC_DISCOVERY_URI, a login in Chromium, client_secret_post with nonce and no PKCE, the ID
//   token verified with the keys at AUTHENTICATION_PUBLIC_KEYS (Keycloak's certs URL),
//   Keycloak's claim paths in the access token, refresh, logout;
// - oidc-client-ts in Chromium with the realm as its authority: PKCE, silent renew, and
//   sign-out that revokes the tokens (cross-origin /revoke).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import * as client from 'openid-client';
import * as jose from 'jose';
import { launchChromium } from './chromium.mjs';
import { startRealmServers, REALM } from './servers.mjs';
import { startSpa } from './spa-server.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
let servers;
let spa;
let browser;

before(async () => {
  servers = await startRealmServers();
  spa = await startSpa(3000, { authority: REALM, clientId: 'realm-spa' });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  spa?.close();
  servers?.stop();
});

/** A docker-compose `.env` file as a map. */
function envFile(path) {
  return Object.fromEntries(readFileSync(`${ROOT}${path}`, 'utf8').split('\n')
    .filter((l) => l && !l.startsWith('#') && l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

async function signInAtDemoIdp(page) {
  await page.waitForURL(/localhost:9097\/interaction\//);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('wonderland');
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('OpenMetadata configured from its Keycloak guide, only the host changed, signs in, refreshes and signs out', async () => {
  const om = envFile('examples/openmetadata/openmetadata.keycloak.env');
  assert.equal(om.AUTHENTICATION_AUTHORITY, REALM);
  assert.equal(om.OIDC_DISCOVERY_URI, `${REALM}/.well-known/openid-configuration`);
  const config = await client.discovery(new URL(om.AUTHENTICATION_AUTHORITY), om.OIDC_CLIENT_ID,
    servers.vars.DEMO_APP_SECRET, client.ClientSecretPost(servers.vars.DEMO_APP_SECRET),
    { execute: [client.allowInsecureRequests] });
  assert.equal(config.serverMetadata().issuer, om.AUTHENTICATION_AUTHORITY);

  // The login in Chromium; OpenMetadata's callback is answered in the browser.
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: om.OIDC_CALLBACK, scope: om.OIDC_SCOPE, response_type: om.OIDC_RESPONSE_TYPE, nonce, state,
  });
  assert.ok(url.href.startsWith(`${REALM}/`), url.href);
  const context = await browser.newContext();
  const page = await context.newPage();
  // OpenMetadata's server at OIDC_SERVER_URL: it only has to receive the browser.
  const arrived = [];
  const app = createServer((req, res) => { arrived.push(req.url); res.end('OpenMetadata'); });
  await new Promise((resolve) => app.listen(8585, resolve));
  after(() => app.close());
  await page.goto(url.href);
  await page.getByRole('link', { name: 'Sign in with Demo IdP' }).click();
  await signInAtDemoIdp(page);
  await page.waitForURL(/localhost:8585\/callback/);
  const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { expectedNonce: nonce, expectedState: state });

  // The ID token, verified with the keys at Keycloak's certs URL from AUTHENTICATION_PUBLIC_KEYS.
  const keysUrl = om.AUTHENTICATION_PUBLIC_KEYS.slice(1, -1).split(',')[1];
  assert.equal(keysUrl, `${REALM}/protocol/openid-connect/certs`);
  const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, jose.createRemoteJWKSet(new URL(keysUrl)),
    { issuer: om.AUTHENTICATION_AUTHORITY, audience: om.AUTHENTICATION_CLIENT_ID });
  assert.equal(protectedHeader.alg, om.OIDC_PREFERRED_JWS);
  assert.equal(payload.nonce, nonce);
  // OpenMetadata's principal claims, and Keycloak's role paths, in the access token.
  const access = jose.decodeJwt(tokens.access_token);
  for (const claim of om.AUTHENTICATION_JWT_PRINCIPAL_CLAIMS.slice(1, -1).split(',')) {
    assert.ok(access[claim], `${claim} in the access token: ${JSON.stringify(access)}`);
  }
  assert.equal(access.preferred_username, 'alice');
  assert.deepEqual(access.realm_access.roles, ['staff']);
  assert.equal(access.typ, 'Bearer');
  assert.equal(access.azp, 'open-metadata');

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token && refreshed.refresh_token !== tokens.refresh_token, 'rotated');

  // Logout at Keycloak's path, back to the app; the session's refresh token then stops.
  const end = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: 'http://localhost:8585/signed-out' });
  const keycloakLogout = new URL(`${REALM}/protocol/openid-connect/logout${end.search}`);
  await page.goto(keycloakLogout.href);
  await page.waitForURL(/localhost:8585\/signed-out/);
  assert.deepEqual(arrived.map((u) => u.split('?')[0]).filter((p) => p !== '/favicon.ico'), ['/callback', '/signed-out']);
  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (e) => e.error === 'invalid_grant');
  await context.close();
});

test('oidc-client-ts with the realm as authority: PKCE, silent renew, sign-out revokes the tokens', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text()); });
  // Every request the page makes answers, but for the browsers' own favicon requests.
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`); });
  await page.goto('http://localhost:3000/');
  await page.getByRole('button', { name: 'Log in with keyedge' }).click();
  await page.waitForURL(/localhost:8797\/realms\/acme\/authorize/);
  await page.getByRole('link', { name: 'Sign in with Demo IdP' }).click();
  await signInAtDemoIdp(page);
  await page.waitForURL(/localhost:3000\/spa-callback/);
  await page.waitForFunction(() => ['renewed', 'error'].includes(document.title), null, { timeout: 20000 });
  const out = page.locator('#out');
  const text = await out.textContent();
  assert.ok(!text.startsWith('ERROR'), `${text}\n${errors.join('\n')}`);
  const result = JSON.parse(text);
  assert.equal(result.profile.iss, REALM);
  assert.equal(result.profile.aud, 'realm-spa');
  assert.equal(result.profile.email, 'alice@example.com', 'userinfo, cross-origin');
  assert.equal(await out.getAttribute('data-renewed'), 'yes');
  const refreshToken = await out.getAttribute('data-refresh-token');
  assert.ok(refreshToken);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('http://localhost:3000/');
  assert.deepEqual(errors, [], 'no CORS or other error in the page');
  const res = await fetch(`${REALM}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'realm-spa' }),
  });
  assert.equal(res.status, 400, 'the refresh token was revoked at sign-out');
  assert.equal((await res.json()).error, 'invalid_grant');
  await context.close();
});

test('nothing of keyedge\'s answers outside the realm, and Keycloak\'s paths answer inside it', async () => {
  assert.equal((await fetch('http://localhost:8797/.well-known/openid-configuration')).status, 404);
  assert.equal((await fetch('http://localhost:8797/jwks')).status, 404);
  const certs = await (await fetch(`${REALM}/protocol/openid-connect/certs`)).json();
  const jwks = await (await fetch(`${REALM}/jwks`)).json();
  assert.deepEqual(certs, jwks);
  const login = await fetch(`${REALM}/account`, { redirect: 'manual' });
  assert.equal(login.headers.get('location'), '/realms/acme/login?return_to=%2Frealms%2Facme%2Faccount');
});
