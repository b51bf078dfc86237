// Every social login preset under `wrangler dev`, through its local stand-in
// (dev/social-standins.mjs on :9092, speaking the provider's documented wire format; only the
// base URL or issuer differs from a real deployment, see dev/keyedge.dev.toml): the button on
// the login page → the stand-in's authorization page → keyedge's callback (code exchange with
// the provider's client authentication, ID token or user API) → the account page with the
// identity and its name. Plus, for each: the user's refusal gives a readable page (no 500);
// the stand-in refuses a wrong secret or the secret sent the wrong way (so a login that
// passes did authenticate as the provider wants); and GitHub's "only a secondary address is
// verified" is never linked to the existing account with the primary one. Apple answers with
// a form post (the stand-in's page is a form the browser submits to keyedge, which answers
// 303 to a GET of its own endpoint): the name of the first authorization's `user` field, a
// later login without it, the post replayed from another browser refused, and its client
// secret, an ES256 JWT, checked against the key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Browser } from './login.mjs';
import { startServers, KEYEDGE, STANDINS } from './servers.mjs';
import { PROVIDERS, secretVar } from '../../dev/social-standins.mjs';

let servers;
before(async () => { servers = await startServers(); });
after(() => servers?.stop());

const unescape = (s) => s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replaceAll('&amp;', '&');
const text = (html) => unescape(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ');
const byId = (html, id) => {
  const m = html.match(new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</`));
  return m && text(m[1]).trim();
};

/**
 * The presets: the stand-in user to sign in as, the name the account page must show, what
 * keyedge's profile form asks for when the provider does not say (no address from X and
 * Stack Overflow; a display name that is no person's name).
 */
const CASES = [
  { alias: 'github', label: 'GitHub', user: 'octocat', name: 'Mona Lisa Octocat', email: 'mona@github-standin.example', verified: true },
  { alias: 'google', label: 'Google', user: 'ada', name: 'Ada Lovelace', email: 'ada.standin@gmail.com', verified: true },
  { alias: 'gitlab', label: 'GitLab', user: 'tanuki', name: 'Tanuki Fox', email: 'tanuki@gitlab-standin.example', verified: true },
  // Microsoft's addresses never count as verified (docs/social/microsoft.md).
  { alias: 'microsoft', label: 'Microsoft', user: 'adele', name: 'Adele Vance', email: 'adele@contoso-standin.example', verified: false },
  // LinkedIn's refusal is `user_cancelled_authorize`, not `access_denied` (docs/social/linkedin.md).
  { alias: 'linkedin', label: 'LinkedIn', user: 'reid', name: 'Reid Standin', email: 'reid@linkedin-standin.example', verified: true,
    denied: /The identity provider reported an error\./ },
  { alias: 'discord', label: 'Discord', user: 'wumpus', name: 'Wumpus', email: 'wumpus@discord-standin.example', verified: true,
    fill: { given_name: 'Wumpus', family_name: 'Discord' }, expectName: 'Wumpus Discord' },
  { alias: 'bitbucket', label: 'Bitbucket', user: 'bucky', name: 'Bucky Bitbucket', email: 'bucky@bitbucket-standin.example', verified: true },
  // Facebook says nothing about verification: the address is kept, unverified.
  { alias: 'facebook', label: 'Facebook', user: 'zuck', name: 'Mark Standin', email: 'mark@facebook-standin.example', verified: false },
  { alias: 'x', label: 'X', user: 'jack', name: 'Jack on X', email: 'jack@x-standin.example', verified: false,
    fill: { email: 'jack@x-standin.example', given_name: 'Jack', family_name: 'Standin' }, expectName: 'Jack Standin', username: 'jack_standin' },
  { alias: 'stackoverflow', label: 'Stack Overflow', user: 'jon', name: 'Jon Standin', email: 'jon@so-standin.example', verified: false,
    // The display name is proposed as the username, and has a space.
    fill: { username: 'jon_standin', email: 'jon@so-standin.example', given_name: 'Jon', family_name: 'Standin' }, expectName: 'Jon Standin' },
  // The name only from the form post's `user` field; a Hide-My-Email relay address, verified.
  { alias: 'apple', label: 'Apple', user: 'tim', name: 'Tim Applebaum', email: 'x7kq2m9p4t@privaterelay.appleid.com', verified: true,
    denied: /The identity provider reported an error\./ },
];

test('the stand-ins cover every preset on the login page, in the configured order', async () => {
  assert.deepEqual(CASES.map((c) => c.alias), Object.keys(PROVIDERS));
  const html = await (await fetch(`${KEYEDGE}/login?return_to=%2Faccount`)).text();
  const at = CASES.map((c) => html.indexOf(`/broker/${c.alias}/login`));
  assert.ok(at.every((i) => i > 0), `every preset's button: ${at}`);
  assert.deepEqual([...at].sort((a, b) => a - b), at, 'in gui_order, after the demo IdPs');
  assert.ok(html.indexOf('/broker/demo/login') < at[0]);
  for (const c of CASES) assert.ok(text(html).includes(`Sign in with ${c.label}`), c.label);
});

/** Picks `alias` on keyedge's login page for /account; returns the stand-in's page and its `tx`. */
async function toStandIn(browser, alias) {
  const login = await browser.request(`${KEYEDGE}/login?return_to=%2Faccount`);
  const href = (await login.text()).match(new RegExp(`href="(/broker/${alias}/login[^"]*)"`));
  assert.ok(href, `no ${alias} button`);
  const { url, res } = await browser.follow(new URL(unescape(href[1]), KEYEDGE).href);
  const html = await res.text();
  assert.ok(url.startsWith(`${STANDINS}/${alias}/`), `at the stand-in: ${url} ${res.status}\n${html}`);
  assert.equal(res.status, 200, html);
  return { url, tx: html.match(/name="tx" value="([^"]+)"/)[1] };
}

/**
 * At the stand-in: continue as `user` (or deny); follows keyedge's redirects to its page (for
 * a provider answering with a form post, after submitting the stand-in's form, unless
 * `submit` is false).
 */
async function decide(browser, alias, tx, choice, { submit = true } = {}) {
  const { url, res } = await browser.follow(`${STANDINS}/${alias}/standin/consent`, { method: 'POST', form: { tx, ...choice } });
  const page = { url, status: res.status, html: await res.text() };
  return submit && page.url.startsWith(STANDINS) && page.html.includes(`action="${KEYEDGE}/broker/`) ? postBack(browser, page.html) : page;
}

/**
 * The stand-in's form post page, submitted by `browser`: its action and hidden fields posted
 * (as the user's click would; a cross-site POST, so the browser's SameSite=Lax cookies do
 * not go with it), then keyedge's 303 followed with the cookies.
 */
async function postBack(browser, html) {
  const form = html.match(/<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/);
  assert.ok(form, `no form post:\n${html}`);
  const fields = Object.fromEntries([...form[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)]
    .map((m) => [unescape(m[1]), unescape(m[2])]));
  const action = unescape(form[1]);
  const posted = await fetch(action, { method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: STANDINS, 'sec-fetch-site': 'cross-site' },
    body: new URLSearchParams(fields) });
  browser.store(action, posted);
  assert.equal(posted.status, 303, await posted.text());
  const to = new URL(posted.headers.get('location'), action).href;
  assert.ok(to.startsWith(`${KEYEDGE}/broker/`) && !to.includes('code=') && !(fields.code && to.includes(fields.code)), `the code is not in the URL: ${to}`);
  const { url, res } = await browser.follow(to);
  return { url, status: res.status, html: await res.text(), fields };
}

/** The fields of the form posting to `action`: `{name: value}`. */
function formFields(html, action) {
  const start = html.indexOf(`action="${action}"`);
  assert.ok(start > 0, `no form to ${action}:\n${html}`);
  const form = html.slice(start, html.indexOf('</form>', start));
  return Object.fromEntries([...form.matchAll(/<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1], unescape(m[2])]));
}

const standinRefusals = (alias) => servers.standinLogs().split('\n').filter((l) => l.startsWith(`${alias} stand-in: refused`));

for (const c of CASES) {
  test(`${c.label}: a first login through its stand-in reaches the account page with the identity and the name`, async () => {
    const browser = new Browser();
    const { tx } = await toStandIn(browser, c.alias);
    let page = await decide(browser, c.alias, tx, { user: c.user });
    if (page.html.includes('action="/first-login/review"')) {
      assert.ok(c.fill, `${c.label}: unexpected profile form: ${text(page.html)}`);
      const fields = formFields(page.html, '/first-login/review');
      if (c.username) assert.equal(fields.username, c.username, 'the handle is proposed');
      for (const [k, v] of Object.entries(c.fill)) fields[k] = v;
      ({ url: page.url, res: page.res } = await browser.follow(`${KEYEDGE}/first-login/review`, { method: 'POST', form: fields }));
      page = { url: page.url, status: page.res.status, html: await page.res.text() };
    } else {
      assert.ok(!c.fill, `${c.label}: the profile form was expected, got ${page.url} ${page.status}`);
    }
    assert.equal(page.url, `${KEYEDGE}/account`, `${page.status} ${text(page.html)}\n${standinRefusals(c.alias).join('\n')}`);
    assert.equal(page.status, 200);
    assert.equal(byId(page.html, 'name'), c.expectName ?? c.name);
    assert.equal(byId(page.html, 'session-idp'), c.label);
    const email = byId(page.html, 'email');
    assert.ok(email.startsWith(c.fill?.email ?? c.email), email);
    assert.equal(/verified/i.test(email), c.verified, `${c.label}: verified or not: ${email}`);
    const links = [...page.html.matchAll(/<tr class="link">([\s\S]*?)<\/tr>/g)].map((m) => text(m[1]).trim());
    assert.equal(links.length, 1, links.join('\n'));
    assert.ok(links[0].startsWith(c.label), links[0]);
    assert.deepEqual(standinRefusals(c.alias), [], 'the stand-in refused nothing');
  });

  test(`${c.label}: the user's refusal at the provider is a readable page, not an error 500`, async () => {
    const browser = new Browser();
    const { tx } = await toStandIn(browser, c.alias);
    const page = await decide(browser, c.alias, tx, { deny: '1' });
    assert.equal(page.status, 502, text(page.html));
    assert.ok(page.url.startsWith(`${KEYEDGE}/broker/${c.alias}/endpoint?`), page.url);
    assert.match(text(page.html), c.denied ?? /The sign-in was cancelled or refused at the identity provider\./);
    assert.doesNotMatch(page.html, /Mona|Ada|account-page/);
  });

  if (PROVIDERS[c.alias].checkSecret) continue; // Apple's signed secret: below.
  test(`${c.label}: the stand-in takes the client secret only the provider's way`, async () => {
    const p = PROVIDERS[c.alias];
    const secret = servers.vars[secretVar(c.alias)];
    const path = p.token.replace(':version', 'v19.0');
    const post = (headers, body) => fetch(`${STANDINS}/${c.alias}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'no-such-code', redirect_uri: `${KEYEDGE}/broker/${c.alias}/endpoint`, ...body }),
    });
    const basic = (s) => ({ authorization: `Basic ${Buffer.from(`${p.clientId}:${s}`).toString('base64')}` });
    const [status, shape] = [].concat(p.tokenError('invalid_client'));
    const expected = typeof status === 'number' ? [status, shape] : [200, status];
    const viaBasic = p.clientAuth === 'basic';
    const wrongSecret = viaBasic ? await post(basic('wrong')) : await post({}, { client_id: p.clientId, client_secret: 'wrong' });
    assert.deepEqual([wrongSecret.status, Object.keys(await wrongSecret.json())], [expected[0], Object.keys(expected[1])]);
    if (p.clientAuth !== 'either') {
      const wrongWay = viaBasic ? await post({}, { client_id: p.clientId, client_secret: secret }) : await post(basic(secret));
      assert.equal(wrongWay.status, expected[0]);
      assert.deepEqual(await wrongWay.json(), expected[1]);
    }
    // The right secret, the right way, but no such code: the provider's invalid_grant.
    const right = viaBasic ? await post(basic(secret)) : await post({}, { client_id: p.clientId, client_secret: secret });
    const grant = [].concat(p.tokenError('invalid_grant'));
    assert.deepEqual(await right.json(), typeof grant[0] === 'number' ? grant[1] : grant[0]);
  });
}

test('X: an authorization request without PKCE is refused with the provider\'s error', async () => {
  const res = await fetch(`${STANDINS}/x/i/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: PROVIDERS.x.clientId,
    redirect_uri: `${KEYEDGE}/broker/x/endpoint`, scope: 'users.read tweet.read', state: 's' })}`, { redirect: 'manual' });
  assert.equal(res.status, 302);
  assert.equal(new URL(res.headers.get('location')).searchParams.get('error'), 'invalid_request');
});

test('GitHub: a user whose only verified address is not the primary one is not linked to the account with that address', async () => {
  // alice@example.com has an account (the demo IdP says it is verified).
  const alice = new Browser();
  let { url, res } = await alice.follow(`${KEYEDGE}/broker/demo/login?return_to=%2Faccount`);
  assert.match(url, /localhost:9090\/interaction\//, `${url} ${res?.status}`);
  ({ url, res } = await alice.follow(`${new URL(url).origin}${new URL(url).pathname}/login`, { method: 'POST', form: { username: 'alice', password: 'wonderland' } }));
  assert.equal(url, `${KEYEDGE}/account`, `${res.status}`);
  const aliceId = byId(await res.text(), 'user-id');

  // At GitHub alice@example.com is this user's primary address, unverified.
  const browser = new Browser();
  const { tx } = await toStandIn(browser, 'github');
  const page = await decide(browser, 'github', tx, { user: 'unverified-primary' });
  assert.equal(page.url, `${KEYEDGE}/broker/github/endpoint?${new URL(page.url).searchParams}`);
  assert.ok(page.html.includes('action="/first-login/review"'), `${page.status} ${text(page.html)}`);
  assert.match(text(page.html), /This email address belongs to another account/);
  assert.ok(!page.html.includes('action="/first-login/confirm"'), 'no linking offered');

  // alice's account still has the demo identity only.
  const account = await (await alice.request(`${KEYEDGE}/account`)).text();
  assert.equal(byId(account, 'user-id'), aliceId);
  assert.equal([...account.matchAll(/<tr class="link">/g)].length, 1);
});

test('Apple: keyedge asks for a form post; the answer replayed from another browser is refused, the one that started completes', async () => {
  const started = new Browser();
  const { url, tx } = await toStandIn(started, 'apple');
  const q = new URL(url).searchParams;
  assert.deepEqual([q.get('response_mode'), q.get('scope'), q.get('code_challenge_method'), q.get('response_type')],
    ['form_post', 'openid name email', 'S256', 'code']);
  assert.ok(q.get('nonce') && q.get('code_challenge'), url);
  const form = await decide(started, 'apple', tx, { user: 'jane' }, { submit: false });
  assert.ok(form.url.startsWith(`${STANDINS}/apple/`), form.url);
  assert.doesNotMatch(form.html, /<script/i);

  // Another browser posts the same answer (a stolen answer, or login CSRF): no flow cookie.
  const other = await postBack(new Browser(), form.html);
  assert.equal(other.status, 400, text(other.html));
  assert.match(text(other.html), /started in another browser/);
  assert.ok(other.fields.user, 'the first authorization carries `user`');
  // The code was not spent: the browser that started the login completes it.
  const page = await postBack(started, form.html);
  assert.equal(page.url, `${KEYEDGE}/account`, `${page.status} ${text(page.html)}\n${standinRefusals('apple').join('\n')}`);
  assert.equal(byId(page.html, 'name'), 'Jane Orchard');
  assert.match(byId(page.html, 'email'), /^jane@apple-standin\.example.*verified/i);
  // The same answer once more: the login is over.
  const again = await postBack(started, form.html);
  assert.equal(again.status, 400, text(again.html));
  assert.deepEqual(standinRefusals('apple'), [], 'the stand-in refused nothing');
});

test('Apple: a later login carries no `user` field, and the account keeps the name of the first', async () => {
  const browser = new Browser();
  const { tx } = await toStandIn(browser, 'apple');
  const form = await decide(browser, 'apple', tx, { user: 'tim' }, { submit: false });
  const page = await postBack(browser, form.html);
  assert.equal(page.fields.user, undefined, 'no `user` on a later authorization');
  assert.ok(page.fields.code && page.fields.state);
  assert.equal(page.url, `${KEYEDGE}/account`, `${page.status} ${text(page.html)}`);
  assert.equal(byId(page.html, 'name'), 'Tim Applebaum');
  assert.match(byId(page.html, 'email'), /^x7kq2m9p4t@privaterelay\.appleid\.com.*verified/i);
});

test("Apple: the stand-in takes only a client secret signed with the registered key, as Apple's ES256 JWT", async () => {
  const { SignJWT, importPKCS8, generateKeyPair } = await import('jose');
  const p = PROVIDERS.apple;
  const issuer = `${STANDINS}/apple`;
  const registered = await importPKCS8(servers.vars[p.secretVar].replace(/\\n/g, '\n'), 'ES256');
  const { privateKey: another } = await generateKeyPair('ES256');
  const secret = (key, { kid = p.keyId, iss = p.teamId, sub = p.clientId, aud = issuer, exp = '5m' } = {}) =>
    new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(iss).setSubject(sub).setAudience(aud)
      .setIssuedAt().setExpirationTime(exp).sign(key);
  const post = async (clientSecret) => {
    const res = await fetch(`${issuer}${p.token}`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: p.clientId, client_secret: clientSecret, code: 'no-such-code', grant_type: 'authorization_code',
        redirect_uri: `${KEYEDGE}/broker/apple/endpoint` }),
    });
    return [res.status, await res.json()];
  };
  const invalidClient = [400, { error: 'invalid_client' }];
  for (const [why, s] of [
    ['another key', await secret(another)],
    ['another Key ID', await secret(registered, { kid: 'KEY9999999' })],
    ['another Team ID', await secret(registered, { iss: 'A1B2C3D4E5' })],
    ['another Services ID', await secret(registered, { sub: 'com.example.other' })],
    ["Apple's real audience, not this issuer", await secret(registered, { aud: 'https://appleid.apple.com' })],
    ['expired', await secret(registered, { exp: Math.floor(Date.now() / 1000) - 60 })],
    ['a static secret', 'not-a-jwt'],
  ]) {
    assert.deepEqual(await post(s), invalidClient, why);
  }
  // The registered key, every claim right, but no such code: invalid_grant.
  assert.deepEqual(await post(await secret(registered)), [400, { error: 'invalid_grant' }]);
});
