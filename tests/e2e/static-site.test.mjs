// The static-site gate in Chromium under `wrangler dev` (dev/wrangler.toml: the example site
// of examples/static-site as Workers Static Assets, run_worker_first): a protected page sends
// to the login, comes back to the exact page (the site's own redirects go to the browser), a user
// without the role is denied (also through a redirect into the staff area), sign-out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, withServersAndChromium } from './chromium.mjs';
import { startServers, KEYEDGE } from './servers.mjs';

const env = withServersAndChromium({ before, after }, startServers);

async function signInWithDemo(page, user, password) {
  await page.getByRole('link', { name: 'Sign in with Demo IdP' }).click();
  await page.waitForURL(/localhost:9090\/interaction\//);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('the home page is public; a protected page needs a sign-in and comes back to itself', async () => {
  const page = await env.browser.newPage();
  const home = await page.goto(`${KEYEDGE}/`);
  assert.equal(home.status(), 200);
  assert.doesNotMatch(home.headers()['cache-control'] ?? '', /private/, 'public pages keep the site\'s caching');
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Example site');

  await page.goto(`${KEYEDGE}/docs/guide.html?section=2`);
  await page.waitForURL(/\/login\?return_to=/);
  await page.screenshot({ path: `${ARTIFACTS}gate-login.png`, fullPage: true });
  await signInWithDemo(page, 'alice', 'wonderland');
  // Back to the page asked for, whose answer is Workers Static Assets' own redirect to the
  // page's canonical address (`.html` dropped), which the browser follows, as without the
  // gate: the gate sends the site's redirects on, never follows them itself.
  await page.waitForURL(`${KEYEDGE}/docs/guide?section=2`);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'The guide');
  const asked = await page.request.get(`${KEYEDGE}/docs/guide.html?section=2`, { maxRedirects: 0 });
  assert.equal(asked.status(), 307);
  assert.equal(new URL(asked.headers().location, KEYEDGE).href, `${KEYEDGE}/docs/guide?section=2`);

  // alice has the staff role.
  const staff = await page.goto(`${KEYEDGE}/staff/`);
  assert.equal(staff.status(), 200);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Staff area');
  // The page streamed from the assets with the gate's marks: private, per cookie, its id.
  assert.match(staff.headers()['cache-control'], /private/);
  assert.match(staff.headers().vary, /cookie/i);
  assert.ok(staff.headers()['x-request-id']);
  assert.match(staff.headers()['content-type'], /^text\/html/);
  await page.screenshot({ path: `${ARTIFACTS}gate-staff.png`, fullPage: true });
  // A page within the gate pass's interval and without a role rule: answered by the Worker's
  // shell without a Rust future (src/edge/worker.mjs, `AtOnce`), with the same marks.
  const docs = await page.goto(`${KEYEDGE}/docs/`);
  assert.equal(docs.status(), 200);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), "Members' docs");
  assert.match(docs.headers()['cache-control'], /^private, no-cache$/);
  assert.match(docs.headers().vary, /cookie/i);
  assert.ok(docs.headers()['x-request-id']);
  assert.match(docs.headers()['content-type'], /^text\/html/);

  // Sign out through the site's link: the protected pages are closed again.
  await page.getByRole('link', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
  await page.goto(`${KEYEDGE}/docs/`);
  await page.waitForURL(/\/login\?return_to=%2Fdocs%2F/);
  await page.context().close();
});

test('a user without the role is denied the staff area with a readable page', async () => {
  const page = await env.browser.newPage();
  await page.goto(`${KEYEDGE}/staff/`);
  await page.waitForURL(/\/login\?return_to=/);
  await signInWithDemo(page, 'bob', 'builder');
  await page.waitForURL(`${KEYEDGE}/staff/`);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'No access');
  assert.match(await page.locator('main').textContent(), /needs the role staff/);
  // A page bob may see (any signed-in user) that the site redirects into the staff area
  // (`/team` in the site's `_redirects`): the redirect goes to his browser and the gate checks
  // where it leads. Followed by the Worker, it would have served him the staff page.
  const team = await page.request.get(`${KEYEDGE}/team`, { maxRedirects: 0 });
  assert.equal(team.status(), 302, await team.text());
  assert.equal(new URL(team.headers().location, KEYEDGE).pathname, '/staff/');
  await page.goto(`${KEYEDGE}/team`);
  await page.waitForURL(`${KEYEDGE}/staff/`);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'No access');
  await page.screenshot({ path: `${ARTIFACTS}gate-denied.png`, fullPage: true });
  // The rest of the site is open to bob.
  await page.goto(`${KEYEDGE}/docs/`);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), "Members' docs");
  await page.context().close();
});

test('a method the site is not sent (WebDAV MOVE, COPY, PROPFIND) gets a readable 405 from the Worker\'s shell', async () => {
  for (const [method, path] of [['MOVE', '/'], ['COPY', '/docs/guide'], ['PROPFIND', '/docs/guide']]) {
    const res = await fetch(`${KEYEDGE}${path}`, { method, headers: { destination: `${KEYEDGE}/staff/` }, redirect: 'manual' });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS', method);
    assert.match(await res.text(), /does not take/, method);
  }
});
