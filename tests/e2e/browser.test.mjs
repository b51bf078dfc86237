// A real browser (Debian's Chromium driven by playwright-core) walks the login from the
// start page to the account page, and saves screenshots to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, launchChromium } from './chromium.mjs';
import { startServers, KEYEDGE } from './servers.mjs';
import { startSpa } from './spa-server.mjs';

let servers;
let browser;
let spa;

before(async () => {
  servers = await startServers();
  spa = await startSpa();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  spa?.close();
  servers?.stop();
});

test('start page → login page → demo IdP → account page with the linked identity', async () => {
  const page = await browser.newPage();
  await page.goto(`${KEYEDGE}/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL(/\/login\?/);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
  await page.screenshot({ path: `${ARTIFACTS}login-page.png`, fullPage: true });

  await page.getByRole('link', { name: 'Sign in with Demo IdP' }).click();
  await page.waitForURL(/localhost:9090\/interaction\//);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('wonderland');
  await page.getByRole('button', { name: 'Sign in' }).click();

  await page.waitForURL(`${KEYEDGE}/account`);
  assert.equal(await page.locator('#username').textContent(), 'alice');
  assert.equal(await page.locator('#name').textContent(), 'Alice Liddell');
  assert.match(await page.locator('#email').textContent(), /alice@example\.com/);
  assert.equal(await page.locator('#session-idp').textContent(), 'Demo IdP');
  const rows = page.locator('tr.link');
  assert.equal(await rows.count(), 1);
  assert.match(await rows.first().textContent(), /Demo IdP\s*alice/);
  await page.screenshot({ path: `${ARTIFACTS}account-page.png`, fullPage: true });

  // The session cookie is HttpOnly and SameSite=Lax.
  const cookies = await page.context().cookies(KEYEDGE);
  const session = cookies.find((c) => c.name === 'keyedge_session');
  assert.ok(session, 'session cookie set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');

  // Signing out ends the session: /account then asks for a login again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
  await page.goto(`${KEYEDGE}/account`);
  await page.waitForURL(/\/login\?return_to=/);
});

async function signInAtDemoIdp(page) {
  await page.waitForURL(/localhost:9090\/interaction\//);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('wonderland');
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('oidc-client-ts as a public SPA client: code flow with PKCE, ES256 ID token, userinfo, refresh', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto('http://localhost:3000/');
  await page.getByRole('button', { name: 'Log in with keyedge' }).click();
  await page.waitForURL(/localhost:8787\/authorize/);
  await page.getByRole('link', { name: 'Sign in with Demo IdP' }).click();
  await signInAtDemoIdp(page);
  await page.waitForURL(/localhost:3000\/spa-callback/);
  await page.waitForFunction(() => ['renewed', 'error'].includes(document.title), null, { timeout: 20000 });
  const out = await page.locator('#out').textContent();
  assert.ok(!out.startsWith('ERROR'), `${out}\n${errors.join('\n')}`);
  const result = JSON.parse(out);
  assert.equal(result.profile.iss, KEYEDGE);
  assert.equal(result.profile.aud, 'demo-spa');
  assert.equal(result.profile.email, 'alice@example.com', 'userinfo loaded cross-origin');
  assert.equal(result.has_refresh, true);
  assert.equal(await page.locator('#out').getAttribute('data-renewed'), 'yes');
  await context.close();
});
