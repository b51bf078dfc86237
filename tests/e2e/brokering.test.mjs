// Brokering end to end under `wrangler dev` with two separate oidc-provider upstreams
// ("demo": client_secret_basic; "partner": private_key_jwt with keyedge's own key,
// authenticate_by_default, store_tokens, backchannel_logout, upstream_logout) and
// openid-client as the relying party ("broker-app").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { startServers, IDP, KEYEDGE, PARTNER, PARTNER_ACCESS_TTL } from './servers.mjs';
import { Browser, loginThroughIdp } from './login.mjs';

const REDIRECT_URI = 'http://127.0.0.1:8788/cb';
let servers;
let config;

before(async () => {
  servers = await startServers();
  config = await client.discovery(new URL(KEYEDGE), 'broker-app', servers.vars.DEMO_APP_SECRET, undefined, {
    execute: [client.allowInsecureRequests],
  });
});

after(() => { if (process.env.SHOW_IDP_LOGS) console.log(servers?.idpLogs()); servers?.stop(); });

/** A login of alice for broker-app (or `rp`) through `alias`; returns the browser and the tokens. */
async function login({ alias, extra = {}, rp = config, user = ['alice', 'wonderland'] }) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(rp, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  const browser = new Browser();
  const callback = await loginThroughIdp(browser, url.href, REDIRECT_URI, { alias, user });
  const tokens = await client.authorizationCodeGrant(rp, new URL(callback), {
    pkceCodeVerifier: codeVerifier, expectedState: state,
  });
  return { browser, tokens };
}

async function brokerToken(alias, accessToken) {
  const res = await fetch(`${KEYEDGE}/broker/${alias}/token`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: res.status, body: await res.json() };
}

test('authenticate_by_default sends broker-app straight to the partner IdP (private_key_jwt)', async () => {
  const first = await new Browser().follow(client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
  }).href, { stop: (u) => u.startsWith(PARTNER) });
  assert.ok(first.url.startsWith(`${PARTNER}/auth?`), `went to ${first.url}`);

  const { tokens } = await login({ alias: 'partner' });
  const claims = tokens.claims();
  assert.equal(claims.identity_provider, 'partner');
  assert.equal(claims.email, 'alice@example.com');
});

test('kc_idp_hint picks the demo IdP instead; each upstream account is its own user', async () => {
  const viaDemo = await login({ alias: 'demo', extra: { kc_idp_hint: 'demo' }, user: ['bob', 'builder'] });
  const viaPartner = await login({ alias: 'partner' });
  assert.equal(viaDemo.tokens.claims().identity_provider, 'demo');
  assert.notEqual(viaDemo.tokens.claims().sub, viaPartner.tokens.claims().sub);
  // The demo publishes its RSA key for PS256 alone (tests/e2e/servers.mjs), so the ID token
  // this login got through was RSA-PSS, checked by the Worker with WebCrypto.
  const demoKeys = (await (await fetch(`${IDP}/jwks`)).json()).keys;
  assert.deepEqual(demoKeys.filter((k) => k.kty === 'RSA').map((k) => k.alg), ['PS256']);
});

test('/broker/partner/token returns the stored upstream tokens, refreshed once expired', async () => {
  const { tokens } = await login({ alias: 'partner' });
  const first = await brokerToken('partner', tokens.access_token);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.token_type, 'Bearer');
  assert.ok(first.body.refresh_token && first.body.id_token);
  // The partner signs its ID tokens with ES384 (tests/e2e/servers.mjs), which the Worker
  // checks with WebCrypto: it carries no P-384 code of its own. This login got through it.
  const header = JSON.parse(Buffer.from(first.body.id_token.split('.')[0], 'base64url'));
  assert.equal(header.alg, 'ES384');
  assert.ok(first.body.expires_in > 10 && first.body.expires_in <= PARTNER_ACCESS_TTL, JSON.stringify(first.body));

  // The upstream access token works at the partner's userinfo endpoint.
  const partner = await client.discovery(new URL(PARTNER), 'keyedge', undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const info = await client.fetchUserInfo(partner, first.body.access_token, client.skipSubjectCheck);
  assert.equal(info.email, 'alice@example.com');

  // Within 10 s of its expiry keyedge refreshes it at the partner before answering.
  await new Promise((r) => setTimeout(r, (PARTNER_ACCESS_TTL - 9) * 1000));
  const second = await brokerToken('partner', tokens.access_token);
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.notEqual(second.body.access_token, first.body.access_token, 'a fresh upstream access token');
  assert.ok(second.body.expires_in > 10, JSON.stringify(second.body));
  const fresh = await client.fetchUserInfo(partner, second.body.access_token, client.skipSubjectCheck);
  assert.equal(fresh.email, 'alice@example.com');

  // An app without read_broker_tokens gets nothing.
  const demoApp = await client.discovery(new URL(KEYEDGE), 'demo-app', servers.vars.DEMO_APP_SECRET, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const other = await login({ alias: 'demo', rp: demoApp, user: ['bob', 'builder'] });
  const refused = await brokerToken('partner', other.tokens.access_token);
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.equal(refused.body.error, 'insufficient_scope');
});

test("the partner's back-channel logout ends the keyedge session", async () => {
  const { browser } = await login({ alias: 'partner' });
  let account = await browser.request(`${KEYEDGE}/account`);
  assert.equal(account.status, 200);

  // The user signs out at the partner itself; it POSTs a logout token to keyedge.
  const end = await browser.request(`${PARTNER}/session/end`);
  const html = await end.text();
  const xsrf = html.match(/name="xsrf" value="([^"]+)"/);
  assert.ok(xsrf, html);
  const confirm = await browser.request(`${PARTNER}/session/end/confirm`, {
    method: 'POST', form: { xsrf: xsrf[1], logout: 'yes' },
  });
  assert.ok([200, 302, 303].includes(confirm.status), `confirm: ${confirm.status}`);

  for (let i = 0; i < 20; i++) {
    account = await browser.request(`${KEYEDGE}/account`);
    if (account.status === 302) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(account.status, 302, `still signed in at keyedge\n${servers.logs()}`);
  assert.equal(account.headers.get('location'), '/login?return_to=%2Faccount');
});

test('keyedge logout also ends the partner session (upstream_logout) and comes back', async () => {
  const { browser, tokens } = await login({ alias: 'partner' });
  const url = `${KEYEDGE}/logout?id_token_hint=${tokens.id_token}&post_logout_redirect_uri=${encodeURIComponent('http://127.0.0.1:8788/signed-out')}&state=s1`;
  const res = await browser.request(url);
  assert.equal(res.status, 302);
  const toPartner = new URL(res.headers.get('location'));
  assert.equal(toPartner.origin + toPartner.pathname, `${PARTNER}/session/end`);
  assert.ok(toPartner.searchParams.get('id_token_hint'));
  // The partner asks for confirmation, then returns to keyedge, which returns to the app.
  const page = await (await browser.request(toPartner.href)).text();
  const xsrf = page.match(/name="xsrf" value="([^"]+)"/);
  assert.ok(xsrf, page);
  const { url: landed } = await browser.follow(`${PARTNER}/session/end/confirm`, {
    method: 'POST', form: { xsrf: xsrf[1], logout: 'yes' }, stop: (u) => u.startsWith('http://127.0.0.1:8788/'),
  });
  assert.equal(landed, 'http://127.0.0.1:8788/signed-out?state=s1');
  assert.equal((await browser.request(`${KEYEDGE}/account`)).status, 302);
});
