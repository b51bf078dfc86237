// Attacks on accounts, performed end to end as an attacker would against `make dev`
// (`wrangler dev`, both demo IdPs, Chromium): each test plays the attack and checks that it
// fails. docs/security.md lists them with their native twins.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { withServersAndChromium } from './chromium.mjs';
import { startServers, KEYEDGE } from './servers.mjs';

const env = withServersAndChromium({ before, after }, startServers);

async function signInAtIdp(page, user, password) {
  await page.waitForURL(/localhost:909[01]\/interaction\//);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The demo IdPs' passwords (dev/demo-idp.mjs). */
const PASSWORDS = { alice: 'wonderland', bob: 'builder', mallory: 'mallory', dave: 'dave', eve: 'eve' };

/** A fresh browser starts signing in to /account through `idp` as `user`. */
async function startLogin(idp, user) {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${KEYEDGE}/login?return_to=%2Faccount`);
  await page.getByRole('link', { name: `Sign in with ${idp}` }).click();
  await signInAtIdp(page, user, PASSWORDS[user]);
  return page;
}

/** The keyedge user id of a browser that is on its account page. */
async function accountId(page) {
  await page.waitForURL(`${KEYEDGE}/account`);
  return page.locator('#user-id').textContent();
}

async function inbox(to) {
  return (await fetch(`${KEYEDGE}/dev/inbox?to=${encodeURIComponent(to)}`)).json();
}

/** The hidden fields of the page's first form (a CSRF token, if the page has one). */
async function hiddenFields(page) {
  const fields = {};
  for (const input of await page.locator('form input[type=hidden]').all()) {
    fields[await input.getAttribute('name')] = (await input.getAttribute('value')) ?? '';
  }
  return fields;
}

test('a verification link mailed for one account never links to another (issue 14, item 1)', async () => {
  // The victim, and the account whose mailbox the attacker reads.
  const victim = await startLogin('Demo IdP', 'alice');
  const aliceId = await accountId(victim);
  await victim.context().close();
  const own = await startLogin('Demo IdP', 'mallory');
  const malloryId = await accountId(own);
  await own.context().close();

  // A new identity of the attacker's collides with her own account: she asks to link it.
  const page = await startLogin('Partner IdP', 'mallory');
  await page.getByRole('heading', { name: 'Account already exists' }).waitFor();
  const hidden = await hiddenFields(page);
  await page.getByRole('button', { name: 'Add to existing account' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  const [mail] = await inbox('mallory@example.com');
  const link = mail.text.match(/http:\/\/localhost:8787\/first-login\/verify-email\?token=\S+/)[0];

  // She turns the pending login towards the victim: the victim's username collides.
  const review = await page.request.post(`${KEYEDGE}/first-login/review`, {
    form: { ...hidden, username: 'alice', email: 'someone-else@example.com', given_name: 'M', family_name: 'M' },
    headers: { origin: KEYEDGE },
  });
  assert.ok(review.status() < 500, `review answered ${review.status()}`);

  // The mailed link must not sign her in as the victim, nor link anything to the victim.
  await page.goto(link);
  if (page.url() === `${KEYEDGE}/account`) {
    const id = await page.locator('#user-id').textContent();
    assert.notEqual(id, aliceId, 'the attacker was signed in to the victim\'s account');
  }
  await page.context().close();
  const check = await startLogin('Demo IdP', 'alice');
  assert.equal(await accountId(check), aliceId);
  assert.deepEqual(await check.locator('tr.link td:first-child').allTextContents(), ['Demo IdP']);
  await check.context().close();
  assert.notEqual(malloryId, aliceId);
});

test('an unverified email claimed first never captures the verified owner (issue 14, item 2)', async () => {
  // eve's IdP hands her dave's address, unverified; she signs up first.
  const attacker = await startLogin('Demo IdP', 'eve');
  const eveId = await accountId(attacker);
  await attacker.context().close();

  // dave signs in later with his verified address and does what any page asks him to.
  const page = await startLogin('Partner IdP', 'dave');
  const confirm = page.getByRole('heading', { name: 'Account already exists' });
  const arrived = await Promise.race([
    confirm.waitFor().then(() => 'confirm'),
    page.waitForURL(`${KEYEDGE}/account`).then(() => 'account'),
  ]);
  if (arrived === 'confirm') {
    await page.getByRole('button', { name: 'Add to existing account' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    const [mail] = await inbox('dave@example.com');
    await page.goto(mail.text.match(/http:\/\/localhost:8787\/first-login\/verify-email\?token=\S+/)[0]);
  }
  const daveId = await accountId(page);
  assert.notEqual(daveId, eveId, 'the victim landed in the attacker\'s account');
  assert.deepEqual(await page.locator('tr.link td:first-child').allTextContents(), ['Partner IdP']);
  await page.context().close();

  // eve's account holds nothing of dave's.
  const back = await startLogin('Demo IdP', 'eve');
  assert.equal(await accountId(back), eveId);
  assert.deepEqual(await back.locator('tr.link td:first-child').allTextContents(), ['Demo IdP']);
  await back.context().close();
});

test('the gate checks the path the site serves: no other spelling reaches /staff/ (issue 14, item 4)', async () => {
  // bob is signed in but has no staff role.
  const page = await startLogin('Demo IdP', 'bob');
  await accountId(page);
  const honest = await page.request.get(`${KEYEDGE}/staff/`, { maxRedirects: 0 });
  assert.equal(honest.status(), 403);
  for (const path of ['/staff', '//staff/', '/%73taff/', '/staff%2F', '/%2Fstaff/', '/staff%2Findex.html',
    '/public/..%2Fstaff/', '/public/../staff/', '/./staff/', '/staff/./', '/STAFF/', '/staff/index.html']) {
    const res = await page.request.get(`${KEYEDGE}${path}`, { maxRedirects: 0 });
    const body = await res.text();
    assert.doesNotMatch(body, /Staff area/, `${path} served the staff page (${res.status()})`);
  }
  await page.context().close();
});

/** The status line, headers and body of one request written byte for byte on a socket: fetch,
 * undici and Node's http refuse to send a header value with a control character; workerd
 * (wrangler dev's proxy and the Worker's runtime) passes it on. */
function rawGet(path, extraHeader) {
  const { hostname, port } = new URL(KEYEDGE);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.end(Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${extraHeader}\r\nConnection: close\r\n\r\n`, 'latin1'));
    });
    const chunks = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), head: head.toLowerCase(), body: rest.join('\r\n\r\n') });
    });
  });
}

// RFC 9110 §5.5: a header value with a control character (DEL, SOH) is bad input, answered
// with its route's 400 (an OAuth error where applications call, a page elsewhere, a gated
// page too), not keyedge's 5xx. The same requests with a clean value get their usual answer.
test('a header with a control character gets its route\'s 400, not a 5xx', async () => {
  for (const [path, kind, usual] of [
    ['/.well-known/openid-configuration', 'json', 200], // answered at once, then given again by the shell (src/edge/reuse.mjs)
    ['/token', 'json', 405],
    ['/login', 'html', 200],
    ['/', 'html', 200], // the gated site's home page
  ]) {
    const clean = await rawGet(path, 'X-Note: ab');
    assert.equal(clean.status, usual, `${path} with a clean header: ${clean.head}`);
    for (const control of ['\x7f', '\x01']) {
      const res = await rawGet(path, `X-Note: a${control}b`);
      assert.equal(res.status, 400, `${path}: ${res.head}\n${res.body.slice(0, 300)}`);
      assert.match(res.head, kind === 'json' ? /content-type: application\/json/ : /content-type: text\/html/, path);
      assert.match(res.body, /x-note/, `${path}: the header is named`);
      if (kind === 'json') assert.match(res.body, /invalid_request/, path);
    }
  }
});

// Issue 19: the Workers Rate Limiting binding is honoured (dev/wrangler.toml allows 30
// introspection requests per 10 s from one IP): guessing a client secret at /introspect stops
// with 429 and Retry-After, before the secret is even looked at. Last in this file: the
// budget stays spent for the rest of the period. 61 guesses (2 × 30 + 1): the local limiter's
// window is fixed, and guesses that straddle its turn (40 of them once met no 429 in `make
// test`) still put 31 into one window.
test('rate limit: guessing at /introspect gets 429 with Retry-After', async () => {
  const statuses = [];
  let refused;
  for (let i = 0; i < 61; i++) {
    const res = await fetch(`${KEYEDGE}/introspect`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`demo-app:guess-${i}`).toString('base64')}`,
      },
      body: 'token=x',
    });
    statuses.push(res.status);
    if (res.status === 429) { refused = res; break; }
    await res.arrayBuffer();
  }
  assert.ok(refused, `no 429 in ${statuses.length} guesses: ${statuses.join(' ')}`);
  assert.equal(refused.headers.get('retry-after'), '60');
  assert.equal((await refused.json()).error, 'temporarily_unavailable');
  assert.ok(statuses.slice(0, -1).every((s) => s === 401), statuses.join(' '));
});

/**
 * A body streamed in `chunk`-byte pieces with no declared length. wrangler dev's proxy
 * forwards it with its length, so the Worker reads it in pieces but knows its size: the
 * bound on a body of no declared length is tested on the reader itself (read_limited.test.mjs).
 */
function streamed(text, chunk = 8 * 1024) {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const TOKEN_LIMIT = 64 * 1024; // src/core/limits.rs FORM_BODY_LIMIT

test('the admin API is off in a Worker whose configuration does not enable it (none of its code is compiled in)', async () => {
  for (const [method, path] of [['GET', '/admin/users'], ['GET', '/admin/export'], ['POST', '/admin/import'], ['DELETE', '/admin/users/x/sessions']]) {
    const r = await fetch(`${KEYEDGE}${path}`, { method, headers: { authorization: 'Bearer a-guess-at-an-admin-token-of-32-chars' } });
    assert.equal(r.status, 404, `${method} ${path}`);
    const body = await r.json();
    assert.equal(body.error, 'invalid_request', `${method} ${path}`);
    assert.match(body.error_description, /admin API is not enabled/);
  }
});

test('a /token body streamed in pieces within its limit is read whole', async () => {
  // The client id is in the last piece: a body read short would name no client.
  const form = `grant_type=refresh_token&refresh_token=not-a-token&pad=${'a'.repeat(3 * 8 * 1024)}&client_id=demo-spa`;
  const res = await fetch(`${KEYEDGE}/token`, { method: 'POST', headers: FORM, body: streamed(form), duplex: 'half' });
  const answer = await res.json();
  assert.equal(res.status, 400, JSON.stringify(answer));
  assert.equal(answer.error, 'invalid_grant', JSON.stringify(answer));
});

// Last in this file: after keyedge refuses a streamed body unread, wrangler dev's proxy fails
// the next request on its connection now and then ("Your worker restarted mid-request", a
// local proxy's artefact; the refusal itself is always answered).
test('a /token body over its limit is refused with 413, whether sent whole or streamed', async () => {
  const over = 'grant_type=refresh_token&refresh_token=x&pad=' + 'a'.repeat(TOKEN_LIMIT);
  const declared = await fetch(`${KEYEDGE}/token`, { method: 'POST', headers: FORM, body: over });
  assert.equal(declared.status, 413);
  assert.equal((await declared.json()).error, 'invalid_request');
  const chunked = await fetch(`${KEYEDGE}/token`, { method: 'POST', headers: FORM, body: streamed(over), duplex: 'half' });
  assert.equal(chunked.status, 413);
  assert.match((await chunked.json()).error_description, /larger than 64 KiB/);
});
