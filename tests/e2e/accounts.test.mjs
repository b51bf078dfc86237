// Accounts in a real browser (Chromium via playwright-core) under `wrangler dev`: one person,
// two upstream IdPs (demo and partner, both knowing alice@example.com), one keyedge account.
// The partner identity is linked to the existing account by the mailed link (read from the
// dev inbox), unlinked, linked again by re-authentication at the demo IdP; each IdP then signs
// in to the same account. A user without names reviews the profile. Every first-login page
// is saved as a screenshot in test-artifacts/, and scanned by axe-core: the login page (with
// every preset's button), review profile, account exists and check your email have no
// serious accessibility violations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, assertAccessible, withServersAndChromium } from './chromium.mjs';
import { startServers, KEYEDGE } from './servers.mjs';

const env = withServersAndChromium({ before, after }, startServers);

const shot = (page, name) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });

/** At an IdP's login form (demo on :9090, partner on :9091): sign in. */
async function signInAtIdp(page, user, password) {
  await page.waitForURL(/localhost:909[01]\/interaction\//);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** A fresh browser signs in to /account through `idp` ("Demo IdP" or "Partner IdP"). */
async function startLogin(idp, user = 'alice', password = 'wonderland') {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${KEYEDGE}/login?return_to=%2Faccount`);
  await page.getByRole('link', { name: `Sign in with ${idp}` }).click();
  await signInAtIdp(page, user, password);
  return page;
}

async function linkedProviders(page) {
  await page.waitForURL(`${KEYEDGE}/account`);
  return page.locator('tr.link td:first-child').allTextContents();
}

async function inbox(to) {
  const res = await fetch(`${KEYEDGE}/dev/inbox?to=${encodeURIComponent(to)}`);
  return res.json();
}

let aliceId;

test('the login page, with every provider\'s button, has no serious accessibility violations', async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${KEYEDGE}/login?return_to=%2Faccount`);
  await page.getByRole('link', { name: 'Sign in with Stack Overflow' }).waitFor();
  await assertAccessible(page, 'login');
  await context.close();
});

test('first login through the demo IdP creates the account', async () => {
  const page = await startLogin('Demo IdP');
  assert.deepEqual(await linkedProviders(page), ['Demo IdP']);
  aliceId = await page.locator('#user-id').textContent();
  await page.context().close();
});

test('the partner identity joins the account through the mailed link', async () => {
  const page = await startLogin('Partner IdP');
  await page.getByRole('heading', { name: 'Account already exists' }).waitFor();
  await shot(page, 'first-login-confirm');
  await assertAccessible(page, 'first-login-confirm');
  await page.getByRole('button', { name: 'Add to existing account' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  assert.match(await page.getByRole('status').textContent(), /a…e@example\.com/);
  await shot(page, 'first-login-email-sent');
  await assertAccessible(page, 'first-login-email-sent');

  const mails = await inbox('alice@example.com');
  assert.equal(mails.length, 1);
  assert.match(mails[0].subject, /Partner IdP/);
  const link = mails[0].text.match(/http:\/\/localhost:8787\/first-login\/verify-email\?token=\S+/)[0];
  await page.goto(link);
  assert.deepEqual(await linkedProviders(page), ['Demo IdP', 'Partner IdP']);
  assert.equal(await page.locator('#user-id').textContent(), aliceId);
  await shot(page, 'account-two-identities');

  // Unlink the partner again.
  await page.getByRole('button', { name: 'Unlink Partner IdP' }).click();
  assert.deepEqual(await linkedProviders(page), ['Demo IdP']);
  await page.context().close();
});

test('…and again by re-authenticating at the demo IdP', async () => {
  const page = await startLogin('Partner IdP');
  await page.getByRole('button', { name: 'Add to existing account' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await page.getByRole('link', { name: 'Sign in with Demo IdP' }).click();
  await signInAtIdp(page, 'alice', 'wonderland');
  assert.deepEqual(await linkedProviders(page), ['Demo IdP', 'Partner IdP']);
  assert.equal(await page.locator('#user-id').textContent(), aliceId);
  await page.context().close();
});

test('each IdP now signs in to the same account', async () => {
  for (const idp of ['Demo IdP', 'Partner IdP']) {
    const page = await startLogin(idp);
    assert.deepEqual(await linkedProviders(page), ['Demo IdP', 'Partner IdP']);
    assert.equal(await page.locator('#user-id').textContent(), aliceId);
    assert.equal(await page.locator('#session-idp').textContent(), idp);
    await page.context().close();
  }
});

test('a user without names reviews the profile, with errors shown inline', async () => {
  const page = await startLogin('Demo IdP', 'carol', 'carol');
  await page.getByRole('heading', { name: 'Check your profile' }).waitFor();
  assert.equal(await page.getByLabel('Email').inputValue(), 'carol@example.com');
  await shot(page, 'first-login-review');
  await assertAccessible(page, 'first-login-review');
  await page.getByRole('button', { name: 'Save and continue' }).click();
  await page.locator('#given_name-error').waitFor();
  assert.equal(await page.getByLabel('First name').getAttribute('aria-invalid'), 'true');
  await shot(page, 'first-login-review-errors');
  await assertAccessible(page, 'first-login-review-errors');
  await page.getByLabel('First name').fill('Carol');
  await page.getByLabel('Last name').fill('Cooper');
  await page.getByRole('button', { name: 'Save and continue' }).click();
  await page.waitForURL(`${KEYEDGE}/account`);
  assert.equal(await page.locator('#name').textContent(), 'Carol Cooper');
  await page.context().close();
});
