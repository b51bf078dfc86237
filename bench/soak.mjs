// `make soak`: keyedge under load through `wrangler dev` and the local demo IdPs (loopback
// only, bounded in count and time), checking that nothing is lost or spent twice.
//
//   node bench/soak.mjs [--logins 1000] [--inflight 50] [--chains 20] [--refreshes 10] [--minutes 10]
//
// Complete logins (authorize → login page → demo IdP → callback → token) with `--inflight` at
// once; meanwhile refresh chains and gate page views. Then the races: one code redeemed by 20
// parallel requests, one upstream callback (its `state`) replayed 20 times in parallel, one
// mailed verification link opened twice at once. Prints
// the figures and exits non-zero when anything was lost or spent twice.
import { Agent, Pool, setGlobalDispatcher } from 'undici';
import { KEYEDGE, Session, pkce } from './flows.mjs';
import { startServers, KEYEDGE as BASE } from '../tests/e2e/servers.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : dflt; };
const LOGINS = opt('logins', 1000);
const INFLIGHT = opt('inflight', 50);
const CHAINS = Math.min(opt('chains', 20), LOGINS);
const REFRESHES = opt('refreshes', 10);
const DEADLINE = Date.now() + opt('minutes', 10) * 60_000;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const form = (o) => new URLSearchParams(o).toString();

const errors = new Map();
const fail = (kind, e) => { errors.set(kind, (errors.get(kind) ?? 0) + 1); if (process.env.SOAK_VERBOSE) console.error(kind, e?.message ?? e); };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] : NaN; };

/** Runs `n` tasks, `width` at a time, until the deadline. */
async function pool(n, width, task) {
  let next = 0;
  const worker = async () => {
    while (next < n && Date.now() < DEADLINE) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

/** A login that stops at keyedge's upstream callback: the callback URL and the browser. */
async function upToCallback(base, dispatchers) {
  const s = new Session(dispatchers, new URL(base).host);
  const p = pkce();
  const q = form({ client_id: KEYEDGE.client, response_type: 'code', scope: 'openid email', redirect_uri: KEYEDGE.redirect,
    state: 's', nonce: 'n', code_challenge: p.challenge, code_challenge_method: 'S256' });
  let r = await s.go(`${base}/authorize?${q}`);
  const href = r.text.match(/href="(\/broker\/demo\/login[^"]*)"/);
  if (!href) throw new Error(`login page: ${r.status}`);
  r = await s.follow(new URL(href[1].replaceAll('&#38;', '&').replaceAll('&amp;', '&'), base).href, `${base}/broker/demo/endpoint`);
  const action = r.text.match(/action="(\/interaction\/[^"]+)"/)?.[1];
  if (!action) throw new Error(`demo IdP form: ${r.status}`);
  r = await s.follow(new URL(action, r.url).href, `${base}/broker/demo/endpoint`,
    { method: 'POST', headers: FORM, body: form({ username: 'alice', password: 'wonderland' }) });
  if (!r.stopped) throw new Error(`no callback: ${r.status}`);
  return { session: s, callback: r.stopped, verifier: p.verifier };
}

/**
 * Signs `user` (one of the demo IdP's on-demand `test-*` users) in to /account through the IdP
 * `alias`, in `session`: keyedge's last answer (the account page, or a first-login page).
 */
async function signInToAccount(session, base, alias, user) {
  let r = await session.go(`${base}/login?return_to=%2Faccount`);
  const href = r.text.match(new RegExp(`href="(/broker/${alias}/login[^"]*)"`));
  if (!href) throw new Error(`login page without ${alias}: ${r.status}`);
  r = await session.follow(new URL(href[1].replaceAll('&#38;', '&').replaceAll('&amp;', '&'), base).href, 'stop:never');
  const action = r.text.match(/action="(\/interaction\/[^"]+)"/)?.[1];
  if (!action) throw new Error(`${alias} IdP form: ${r.status}`);
  return session.follow(new URL(action, r.url).href, 'stop:never',
    { method: 'POST', headers: FORM, body: form({ username: user, password: user }) });
}

/** The hidden fields of a page's forms, and its submit buttons' name=value. */
function hiddenFields(html) {
  return Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1], m[2]]));
}

/**
 * One verification link opened twice at once (issue 19, item 3): a user with an account
 * through `demo` signs in through `partner` with the same verified address, asks to add it to
 * the account, and the mailed link is opened by two requests at once. Exactly one links.
 */
async function verificationLinkRace(base, dispatchers) {
  const user = `test-race-${Math.random().toString(36).slice(2, 10)}`;
  const owner = new Session(dispatchers);
  const account = await signInToAccount(owner, base, 'demo', user);
  if (account.status !== 200 || !account.url.endsWith('/account')) throw new Error(`first account: ${account.status} ${account.url}`);
  const newcomer = new Session(dispatchers);
  const confirm = await signInToAccount(newcomer, base, 'partner', user);
  if (!confirm.text.includes('name="action" value="link"')) throw new Error(`no existing-account page: ${confirm.status}`);
  const asked = await newcomer.go(`${base}/first-login/confirm`, { method: 'POST',
    headers: { ...FORM, origin: base, 'sec-fetch-site': 'same-origin' },
    body: form({ ...hiddenFields(confirm.text), action: 'link' }) });
  if (asked.status >= 400) throw new Error(`asking for the mail: ${asked.status}`);
  const [mail] = await (await fetch(`${base}/dev/inbox?to=${user}%40example.com`)).json();
  const link = mail?.text.match(/http:\/\/localhost:8787\/first-login\/verify-email\?token=\S+/)?.[0];
  if (!link) throw new Error('no verification mail');
  const cookie = [...(newcomer.jars.get(new URL(base).host) ?? [])].map(([k, v]) => `${k}=${v}`).join('; ');
  const opened = await Promise.all([0, 1].map(() => new Session(dispatchers).go(link, { headers: { cookie } })));
  const page = await owner.go(`${base}/account`);
  return {
    links_made: opened.filter((r) => r.status === 302 || r.status === 303).length,
    partner_identities_on_the_account: (page.text.match(/<tr class="link"><td>Partner IdP<\/td>/g) ?? []).length,
    readable_answers: opened.every((r) => r.status < 500),
  };
}

// A request that takes this long is counted as an error (`timeout`), not waited for.
const TIMEOUTS = { headersTimeout: 30_000, bodyTimeout: 30_000 };
setGlobalDispatcher(new Agent(TIMEOUTS));

async function main() {
  const servers = await startServers();
  const base = BASE;
  const kc = KEYEDGE.init(servers.vars);
  const dispatchers = { [new URL(base).origin]: new Pool(base, { connections: INFLIGHT, ...TIMEOUTS }) };
  const figures = {};
  try {
    // ---- logins, with refresh chains and gate page views alongside
    const logins = [];
    const ms = [];
    const chainTokens = [];
    let pages = 0;
    const started = Date.now();
    const chainsRun = (async () => {
      // Refresh chains start once their logins exist; each refresh uses the token before.
      while (chainTokens.length < CHAINS && Date.now() < DEADLINE) await new Promise((r) => setTimeout(r, 50));
      let acceptedAfterRotation = 0, rotations = 0;
      await Promise.all(chainTokens.map(async (first) => {
        let rt = first;
        for (let i = 0; i < REFRESHES; i++) {
          try { rt = (await kc.refresh(base, dispatchers, rt)).refresh_token; rotations++; } catch (e) { fail(`refresh: ${e.code ?? e.message?.slice(0, 60)}`, e); return; }
        }
        // The token before the current one, presented again: refused (and the family revoked).
        const previous = rt === first ? null : first;
        if (previous) {
          const a = kc.auth();
          try {
            const r = await new Session(dispatchers).go(`${base}/token`, { method: 'POST', headers: a.headers,
              body: form({ ...a.form, grant_type: 'refresh_token', refresh_token: previous }) });
            if (r.status === 200) acceptedAfterRotation++;
          } catch (e) { fail(`reuse check: ${e.code ?? e.message?.slice(0, 60)}`, e); }
        }
      }));
      return { rotations, acceptedAfterRotation };
    })();
    await pool(LOGINS, INFLIGHT, async () => {
      const t0 = performance.now();
      try {
        const r = await kc.login(base, dispatchers);
        ms.push(performance.now() - t0);
        logins.push(r.session);
        if (chainTokens.length < CHAINS) chainTokens.push(r.tokens.refresh_token);
        if (logins.length % 10 === 0) { try { await kc.page(base, r.session); pages++; } catch (e) { fail(`gate page: ${e.code ?? e.message?.slice(0, 60)}`, e); } }
      } catch (e) { fail(`login: ${e.code ?? e.message?.slice(0, 60)}`, e); }
    });
    const chains = await chainsRun;
    figures.logins = { asked: LOGINS, completed: logins.length, seconds: (Date.now() - started) / 1000,
      p50_ms: Math.round(pct(ms, 50)), p99_ms: Math.round(pct(ms, 99)) };
    figures.gate_pages = pages;
    figures.refresh = chains;
    // ---- sessions that exist afterwards: each login's browser still opens a gated page (the
    // account page would list all of alice's sessions, a thousand rows, each time).
    let live = 0;
    await pool(logins.length, INFLIGHT, async (i) => {
      try {
        const r = await logins[i].go(`${base}/docs/`);
        if (r.status === 200) live++; else fail(`gate page ${r.status}`);
      } catch (e) { fail(`gate page: ${e.code ?? e.message?.slice(0, 60)}`, e); }
    });
    figures.sessions_afterwards = live;
    // ---- races
    // One upstream callback (its `state`) sent 20 times at once: never more than one code. (The
    // demo IdP, like any careful one, revokes an authorization code presented twice, so all 20
    // usually fail at the IdP: still none spent twice.)
    const race = await upToCallback(base, dispatchers);
    const replays = await Promise.all(Array.from({ length: 20 }, () => race.session.go(race.callback)));
    const codes = (rs) => rs.filter((r) => r.location?.startsWith(KEYEDGE.redirect) && new URL(r.location).searchParams.get('code'));
    figures.state_sent_20_times_at_once = { codes_issued: codes(replays).length };
    // Once completed, the same callback replayed 19 times at once: no further code.
    const done = await upToCallback(base, dispatchers);
    const first = await done.session.go(done.callback);
    const again = await Promise.all(Array.from({ length: 19 }, () => new Session(dispatchers).go(done.callback, {
      headers: { cookie: [...(done.session.jars.get(new URL(base).host) ?? [])].map(([k, v]) => `${k}=${v}`).join('; ') },
    })));
    figures.state_replayed_19_times = { first_issued_a_code: codes([first]).length === 1, codes_issued: codes(again).length };
    // That code redeemed by 20 requests at once: exactly one succeeds.
    const code = new URL(first.location ?? 'http://x/?code=none').searchParams.get('code');
    const a = kc.auth();
    const redemptions = await Promise.all(Array.from({ length: 20 }, () => new Session(dispatchers).go(`${base}/token`, {
      method: 'POST', headers: a.headers,
      body: form({ ...a.form, grant_type: 'authorization_code', code, redirect_uri: KEYEDGE.redirect, code_verifier: done.verifier }),
    })));
    figures.code_redeemed_by_20_at_once = { succeeded: redemptions.filter((r) => r.status === 200).length };
    figures.verification_link_opened_twice_at_once = await verificationLinkRace(base, dispatchers);
  } finally {
    if (process.env.SOAK_LOGS) console.error(servers.logs().slice(-4000), servers.idpLogs().slice(-2000));
    servers.stop();
  }
  figures.errors = Object.fromEntries(errors);
  console.log(JSON.stringify(figures, null, 2));
  const problems = [];
  if (figures.logins.completed !== LOGINS) problems.push(`${LOGINS - figures.logins.completed} logins did not complete`);
  if (figures.sessions_afterwards !== figures.logins.completed) problems.push('sessions were lost');
  if (figures.refresh.acceptedAfterRotation !== 0) problems.push('a rotated-out refresh token was accepted');
  if (figures.state_sent_20_times_at_once.codes_issued > 1) problems.push('one upstream state issued more than one code');
  if (!figures.state_replayed_19_times.first_issued_a_code) problems.push('a callback issued no code');
  if (figures.state_replayed_19_times.codes_issued !== 0) problems.push('a replayed upstream state issued another code');
  if (figures.code_redeemed_by_20_at_once.succeeded !== 1) problems.push('a code was redeemed more than once (or never)');
  const race = figures.verification_link_opened_twice_at_once;
  if (race.links_made !== 1 || race.partner_identities_on_the_account !== 1 || !race.readable_answers) {
    problems.push('a verification link opened twice did not link exactly once');
  }
  if (problems.length) { console.error(`soak: ${problems.join('; ')}`); process.exit(1); }
  console.log('soak: nothing lost, nothing spent twice');
}

main().catch((e) => { console.error(e); process.exit(1); });
