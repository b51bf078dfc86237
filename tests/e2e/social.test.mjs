// Every social login preset under `wrangler dev`, through its local stand-in
// (dev/social-standins.mjs on :9092, speaking the provider's documented wire format; only the
// base URL or issuer differs from a real deployment, see dev/keyedge.dev.toml): the button on
// the login page → the stand-in's authorization page → keyedge's callback (code exchange with
// the provider's client authentication, ID token or user API) → the account page with the
// identity and its name. Plus, for each: the user's refusal gives a readable page (no 500);
// the stand-in refuses a wrong secret or the secret sent the wrong way (so a login that
// passes did authenticate as the provider wants); and GitHub's "only a secondary address is
// verified" is never linked to the existing account with the primary one.
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

/** At the stand-in: continue as `user` (or deny); follows keyedge's redirects to its page. */
async function decide(browser, alias, tx, choice) {
  const { url, res } = await browser.follow(`${STANDINS}/${alias}/standin/consent`, { method: 'POST', form: { tx, ...choice } });
  return { url, status: res.status, html: await res.text() };
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
