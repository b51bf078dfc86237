// SAML 2.0 upstream IdPs end to end: keyedge under `wrangler dev` (the real wasm build) as the
// service provider of two real SAML IdPs on loopback — SimpleSAMLphp from Debian (port 8082)
// and the npm `saml-idp` test IdP (port 8083) — each of which imports keyedge's SP descriptor
// (/broker/{alias}/endpoint/descriptor). Debian's Chromium signs in through them; the
// application's ID token carries what the IdP's attributes became through mappers.
// SimpleSAMLphp encrypts its assertions to keyedge (`want_assertions_encrypted` on `corp`) and
// also starts logins itself (`idp_initiated_login`), landing on /account.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTIFACTS, launchChromium, assertAccessible } from './chromium.mjs';
import { startServers, KEYEDGE } from './servers.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const APP_CB = 'http://127.0.0.1:8788/cb';
const SSP = 'http://127.0.0.1:8082';
const NPM_IDP = 'http://127.0.0.1:8083';

let servers;
let browser;
let idpDir;

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

const idpEnv = () => ({
  SAML_IDP_DIR: join(idpDir, 'ssp'),
  SAML_IDP_NPM_DIR: join(idpDir, 'npm'),
});

before(async () => {
  servers = await startServers();
  idpDir = mkdtempSync(join(tmpdir(), 'keyedge-saml-idps-'));
  // Both IdPs take keyedge's SP descriptor from keyedge itself. SimpleSAMLphp reads it from
  // its sp.xml on every request (its own fetch of a URL waits for workerd to close a
  // keep-alive connection, 5 s a request).
  run('dev/saml-idp/simplesamlphp.sh', ['start'], idpEnv());
  const descriptor = await fetch(`${KEYEDGE}/broker/corp/endpoint/descriptor`);
  assert.equal(descriptor.status, 200);
  writeFileSync(join(idpDir, 'ssp', 'sp.xml'), await descriptor.text());
  run('node', ['dev/saml-idp/saml-idp-npm.mjs', 'start'],
    { ...idpEnv(), SP_METADATA_URL: `${KEYEDGE}/broker/corp2/endpoint/descriptor` });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (idpDir) {
    spawnSync('dev/saml-idp/simplesamlphp.sh', ['stop'], { cwd: ROOT, env: { ...process.env, ...idpEnv() } });
    spawnSync('node', ['dev/saml-idp/saml-idp-npm.mjs', 'stop'], { cwd: ROOT, env: { ...process.env, ...idpEnv() } });
    rmSync(idpDir, { recursive: true, force: true });
  }
  servers?.stop();
});

/** An authorization request of the broker demo app straight to the SAML IdP `alias`. */
function authorizeUrl(alias) {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const q = new URLSearchParams({
    client_id: 'broker-app', redirect_uri: APP_CB, response_type: 'code', scope: 'openid email profile',
    state: randomBytes(8).toString('hex'), nonce: randomBytes(8).toString('hex'), code_challenge: challenge,
    code_challenge_method: 'S256', kc_idp_hint: alias,
  });
  return { url: `${KEYEDGE}/authorize?${q}`, verifier };
}

/**
 * The application's callback, answered in the browser (nothing listens on 8788): `reached`
 * resolves to the URL the browser was sent to. (Wrapped: an async function returning the
 * promise itself would wait for it.)
 */
async function catchCallback(page) {
  let resolve;
  const reached = new Promise((r) => { resolve = r; });
  await page.route(`${APP_CB}*`, async (route) => {
    resolve(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/plain', body: 'app callback' });
  });
  return { reached };
}

async function redeem(code, verifier) {
  const basic = Buffer.from(`broker-app:${servers.vars.DEMO_APP_SECRET}`).toString('base64');
  const r = await fetch(`${KEYEDGE}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: APP_CB, code_verifier: verifier }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  const tokens = await r.json();
  return JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString());
}

/** The XML of the `SAMLResponse` in a posted form body. */
function samlResponseOf(formBody) {
  const encoded = new URLSearchParams(formBody).get('SAMLResponse');
  assert.ok(encoded, `a SAMLResponse in the post: ${formBody.slice(0, 200)}`);
  return Buffer.from(encoded, 'base64').toString('utf8');
}

/** keyedge's SP entity id (SimpleSAMLphp's `spentityid`), from its descriptor. */
async function spEntityId(alias) {
  const xml = await (await fetch(`${KEYEDGE}/broker/${alias}/endpoint/descriptor`)).text();
  const id = xml.match(/<md:EntityDescriptor [^>]*entityID="([^"]+)"/)?.[1];
  assert.ok(id, `an entityID in the descriptor: ${xml.slice(0, 300)}`);
  return id.replace(/&amp;/g, '&');
}

/** SimpleSAMLphp's login form. */
async function signInAtSimpleSamlPhp(page, user, password) {
  await page.waitForURL(/127\.0\.0\.1:8082\/module\.php\/core\/loginuserpass\.php/);
  await page.locator('#username').fill(user);
  await page.locator('#password').fill(password);
  await page.locator('#submit_button').click();
}

test('SimpleSAMLphp: a signed AuthnRequest by Redirect, the signed response by POST, attributes in the ID token through mappers', { timeout: 90_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const callback = await catchCallback(page);
  // What the IdP posts to keyedge, kept for the replay below.
  let posted;
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url() === `${KEYEDGE}/broker/corp/endpoint`) posted = r.postData();
  });
  const { url, verifier } = authorizeUrl('corp');
  await page.goto(url);
  // keyedge sent the browser to the IdP with a query-signed AuthnRequest: SimpleSAMLphp, which
  // read keyedge's descriptor (AuthnRequestsSigned="true" and its certificate), checked it.
  assert.match(page.url(), /127\.0\.0\.1:8082\//);
  await signInAtSimpleSamlPhp(page, 'alice', 'alicepass');
  const back = new URL(await callback.reached);
  // A picture for people, not a check: the page is leaving for the app's callback at this
  // moment, and Chromium may fail to capture it then (seen once, in a full make test).
  await page.screenshot({ path: `${ARTIFACTS}saml-simplesamlphp-done.png` }).catch((e) => console.log(`# no screenshot: ${e.message.split('\n')[0]}`));
  const code = back.searchParams.get('code');
  assert.ok(code, `a code for the app: ${back}`);
  const claims = await redeem(code, verifier);
  assert.equal(claims.email, 'alice@example.org');
  assert.equal(claims.email_verified, true, 'trust_email');
  assert.equal(claims.given_name, 'Alice');
  assert.equal(claims.family_name, 'Anderson');
  assert.equal(claims.preferred_username, 'alice');
  assert.equal(claims.identity_provider, 'corp');
  assert.deepEqual(claims.roles, ['staff'], 'claim_to_role on eduPersonAffiliation');
  assert.deepEqual(claims.affiliation, ['member', 'staff'], 'attribute_importer into a user attribute');

  // The assertion travelled encrypted (want_assertions_encrypted): SimpleSAMLphp encrypted it to
  // the certificate keyedge's descriptor publishes for encryption, inside its signed Response.
  assert.ok(posted, 'the IdP posted a SAMLResponse');
  const response = samlResponseOf(posted);
  assert.match(response, /<saml:EncryptedAssertion>/);
  assert.doesNotMatch(response, /<saml:Assertion[\s>]/, 'no assertion in the clear');
  assert.doesNotMatch(response, /alice@example\.org|Anderson/, 'no attribute value in the clear');
  assert.match(response, /<xenc:EncryptionMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#rsa-oaep-mgf1p"/);
  assert.match(response, /<xenc:EncryptionMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#aes128-cbc"/,
    'SimpleSAMLphp 1.19 encrypts to a certificate with AES-128-CBC only, which keyedge takes inside a signed Response');
  assert.match(response, /^(<\?xml[^>]*>\s*)?<samlp:Response [^>]*>\s*<saml:Issuer>[^<]*<\/saml:Issuer>\s*<ds:Signature/,
    'the Response itself is signed');

  // The same response posted again, from another browser: nothing is completed.
  const other = await browser.newContext();
  const attacker = await other.newPage();
  const replay = await attacker.request.post(`${KEYEDGE}/broker/corp/endpoint`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, data: posted, maxRedirects: 0,
  });
  assert.equal(replay.status(), 303, 'the response itself is still genuine');
  await attacker.goto(`${KEYEDGE}${replay.headers().location.replace(/^https?:\/\/[^/]+/, '')}`);
  assert.match(await attacker.content(), /started in another browser/);
  // ...and in the browser that completed it: its flow is spent.
  const again = await context.request.post(`${KEYEDGE}/broker/corp/endpoint`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, data: posted, maxRedirects: 0,
  });
  await page.unroute(`${APP_CB}*`);
  await page.goto(`${KEYEDGE}${again.headers().location.replace(/^https?:\/\/[^/]+/, '')}`);
  assert.doesNotMatch(page.url(), /8788/);
  assert.match(await page.content(), /expired or was already completed|another browser/);
  await other.close();
  await context.close();
});

test('SimpleSAMLphp: the login page button and the account page', { timeout: 90_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${KEYEDGE}/account`);
  await page.waitForURL(/\/login\?return_to=/);
  await assertAccessible(page, 'login-with-saml');
  await page.getByRole('link', { name: 'Sign in with Corp SSO (SAML)' }).click();
  await signInAtSimpleSamlPhp(page, 'bob', 'bobpass');
  await page.waitForURL(`${KEYEDGE}/account`);
  assert.equal(await page.locator('#username').textContent(), 'bob');
  assert.match(await page.locator('#email').textContent(), /bob@example\.org/);
  assert.equal(await page.locator('#session-idp').textContent(), 'Corp SSO (SAML)');

  // Single Logout, SP-initiated: keyedge ends its session, sends SimpleSAMLphp a signed
  // LogoutRequest for bob's NameID and session, and takes its signed LogoutResponse back.
  // (Redirects: seen as requests, not as navigations.)
  const visited = [];
  page.on('request', (r) => { if (r.isNavigationRequest()) visited.push(r.url()); });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
  assert.ok(visited.some((u) => u.startsWith(`${SSP}/saml2/idp/SingleLogoutService.php`)),
    `the browser went through the IdP's logout: ${visited.join(' ')}`);
  assert.match(page.url(), /\/logout\/done$/);
  assert.ok(visited.some((u) => u.startsWith(`${KEYEDGE}/broker/corp/endpoint?SAMLResponse=`)),
    `the IdP's LogoutResponse came back to keyedge: ${visited.join(' ')}`);
  // Both sessions have ended: keyedge asks for a login, and so does the IdP.
  await page.goto(`${KEYEDGE}/account`);
  await page.waitForURL(/\/login\?return_to=/);
  await page.getByRole('link', { name: 'Sign in with Corp SSO (SAML)' }).click();
  await page.waitForURL(/127\.0\.0\.1:8082\/module\.php\/core\/loginuserpass\.php/);
  await context.close();
});

test('SimpleSAMLphp: IdP-initiated login lands signed in on /account; its response is taken once, and never replaces another user\'s session', { timeout: 120_000 }, async () => {
  // idp_initiated_login = { return_to = "/account" }: SimpleSAMLphp starts the login itself for
  // keyedge's SP entity id; its RelayState (opaque to keyedge) is not followed.
  const entityId = await spEntityId('corp');
  const start = `${SSP}/saml2/idp/SSOService.php?spentityid=${encodeURIComponent(entityId)}&RelayState=${encodeURIComponent(`${KEYEDGE}/login?return_to=/elsewhere`)}`;
  const context = await browser.newContext();
  const page = await context.newPage();
  let posted;
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url() === `${KEYEDGE}/broker/corp/endpoint`) posted = r.postData();
  });
  await page.goto(start);
  await signInAtSimpleSamlPhp(page, 'alice', 'alicepass');
  await page.waitForURL(`${KEYEDGE}/account`);
  await page.screenshot({ path: `${ARTIFACTS}saml-idp-initiated-done.png` });
  assert.equal(await page.locator('#username').textContent(), 'alice');
  assert.match(await page.locator('#email').textContent(), /alice@example\.org/);
  assert.equal(await page.locator('#session-idp').textContent(), 'Corp SSO (SAML)');
  // Unsolicited indeed (no InResponseTo), and encrypted like every assertion from this IdP.
  assert.ok(posted, 'the IdP posted a SAMLResponse');
  const response = samlResponseOf(posted);
  assert.doesNotMatch(response, /InResponseTo=/);
  assert.match(response, /<saml:EncryptedAssertion>/);

  // The same unsolicited response again, from a fresh browser: refused at the post, once used.
  const other = await browser.newContext();
  const replay = await other.request.post(`${KEYEDGE}/broker/corp/endpoint`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, data: posted, maxRedirects: 0,
  });
  assert.equal(replay.status(), 400);
  assert.match(await replay.text(), /This sign-in from your identity provider was already used/);
  const stranger = await other.newPage();
  await stranger.goto(`${KEYEDGE}/account`);
  await stranger.waitForURL(/\/login\?return_to=/);
  await other.close();

  // Login CSRF: a fresh, unused unsolicited response of alice's, posted by another site through
  // bob's browser, does not sign bob's browser in as alice. (Held back from keyedge here.)
  // (alice's IdP session answers at once: the auto-posted form leaves before goto returns.)
  let hold;
  const holding = new Promise((resolve) => { hold = resolve; });
  await page.route(`${KEYEDGE}/broker/corp/endpoint`, async (route) => {
    hold(route.request().postData());
    await route.abort();
  });
  await page.goto(start);
  const held = await Promise.race([holding, page.waitForTimeout(20_000).then(() => {
    throw new Error(`no post to keyedge; the browser is at ${page.url()}`);
  })]);
  await page.unroute(`${KEYEDGE}/broker/corp/endpoint`);
  assert.match(samlResponseOf(held), /<saml:EncryptedAssertion>/);
  const bobs = await browser.newContext();
  const bob = await bobs.newPage();
  await bob.goto(`${KEYEDGE}/account`);
  await bob.getByRole('link', { name: 'Sign in with Corp SSO (SAML)' }).click();
  await signInAtSimpleSamlPhp(bob, 'bob', 'bobpass');
  await bob.waitForURL(`${KEYEDGE}/account`);
  assert.equal(await bob.locator('#username').textContent(), 'bob');
  const fields = [...new URLSearchParams(held)].map(([k, v]) =>
    `<input type="hidden" name="${k}" value="${v.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">`).join('');
  await bob.setContent(`<form method="post" action="${KEYEDGE}/broker/corp/endpoint">${fields}</form>`);
  await bob.evaluate(() => document.forms[0].submit());
  await bob.getByRole('heading', { name: 'Already signed in' }).waitFor({ timeout: 15_000 });
  // (wrangler's output reaches this process a little after the page.)
  const said = /an IdP-initiated login with `corp` would have replaced another user's session/;
  for (let i = 0; i < 50 && !said.test(servers.logs()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(servers.logs(), said);
  await bob.goto(`${KEYEDGE}/account`);
  assert.equal(await bob.locator('#username').textContent(), 'bob', 'bob is still signed in as bob');
  await bobs.close();
  await context.close();
});

test('npm saml-idp: an AuthnRequest by POST, both signatures, carol without a role', { timeout: 90_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const callback = await catchCallback(page);
  const { url, verifier } = authorizeUrl('corp2');
  await page.goto(url);
  // (A user of its own: bob's address belongs to the account SimpleSAMLphp's bob made above,
  // and this IdP's unverified address would rightly not be linked to it.)
  // keyedge's auto-posted form took the browser to the IdP's profile form.
  await page.waitForURL(`${NPM_IDP}/saml/sso`);
  await page.locator('#userName').fill('carol@example.org');
  await page.locator('#uid').fill('carol');
  await page.locator('#mail').fill('carol@example.org');
  await page.locator('#givenName').fill('Carol');
  await page.locator('#sn').fill('Clark');
  await page.evaluate(() => { document.querySelector('#eduPersonAffiliation').value = 'member,student'; });
  await page.locator('#btn-sign-in').click();
  const back = new URL(await Promise.race([callback.reached, page.waitForTimeout(20_000).then(async () => {
    await page.screenshot({ path: `${ARTIFACTS}saml-npm-stuck.png` });
    throw new Error(`no callback; the browser is at ${page.url()}: ${(await page.content()).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 600)}`);
  })]));
  const code = back.searchParams.get('code');
  assert.ok(code, `a code for the app: ${back}`);
  const claims = await redeem(code, verifier);
  assert.equal(claims.identity_provider, 'corp2');
  assert.equal(claims.given_name, 'Carol');
  assert.equal(claims.email, 'carol@example.org');
  assert.equal(claims.email_verified, false, 'no trust_email for this IdP');
  assert.equal(claims.roles, undefined, 'no mapper gives carol a role here');
  await context.close();
});

test('the SP descriptor is SAML metadata an IdP imports', { timeout: 90_000 }, async () => {
  const r = await fetch(`${KEYEDGE}/broker/corp/endpoint/descriptor`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/samlmetadata+xml');
  const xml = await r.text();
  assert.match(xml, /entityID="http:\/\/localhost:8787"/);
  assert.match(xml, /AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http:\/\/localhost:8787\/broker\/corp\/endpoint"/);
  assert.match(xml, /WantAssertionsSigned="true"/);
  assert.match(xml, /<ds:X509Certificate>MII/);
  // want_assertions_encrypted without sp_encryption_*: the signing certificate, published for
  // encryption too (what SimpleSAMLphp encrypts to), with the algorithms keyedge prefers.
  const cert = xml.match(/<md:KeyDescriptor use="signing">[\s\S]*?<ds:X509Certificate>([^<]+)</)?.[1];
  assert.ok(cert);
  const encryption = xml.match(/<md:KeyDescriptor use="encryption">[\s\S]*?<\/md:KeyDescriptor>/)?.[0];
  assert.ok(encryption, 'a KeyDescriptor for encryption');
  assert.ok(encryption.includes(`<ds:X509Certificate>${cert}</ds:X509Certificate>`));
  assert.match(encryption, /<md:EncryptionMethod Algorithm="http:\/\/www\.w3\.org\/2009\/xmlenc11#aes128-gcm"\/>/);
  // xmlsec1 (the independent implementation) reads it as XML.
  const lint = spawnSync('xmllint', ['--noout', '-'], { input: xml, encoding: 'utf8' });
  if (lint.error?.code !== 'ENOENT') assert.equal(lint.status, 0, lint.stderr);
});
