// Browser-less flows for keyedge and its peers: each function is one measured operation.
import { request } from 'undici';
import { createHash, randomBytes } from 'node:crypto';

const b64u = (b) => Buffer.from(b).toString('base64url');
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const form = (o) => new URLSearchParams(o).toString();

export function pkce() {
  const verifier = b64u(randomBytes(32));
  return { verifier, challenge: b64u(createHash('sha256').update(verifier).digest()) };
}

/**
 * A cookie jar per host, and the number and total time (ms) of the requests made to `countHost`.
 * `watch` (optional, bench/steps.mjs) is awaited around each request: `before(url)` as it is
 * sent and `after(url)` once its answer has been read.
 */
export class Session {
  constructor(dispatchers, countHost, watch) { this.jars = new Map(); this.dispatchers = dispatchers; this.countHost = countHost; this.watch = watch; this.n = 0; this.ms = 0; }

  async go(url, { method = 'GET', headers = {}, body } = {}) {
    const u = new URL(url);
    const jar = this.jars.get(u.host) ?? new Map();
    this.jars.set(u.host, jar);
    const h = { ...headers };
    if (jar.size) h.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (this.watch) await this.watch.before(u);
    const started = performance.now();
    const res = await request(url, { method, headers: h, body, dispatcher: this.dispatchers?.[u.origin] });
    const text = await res.body.text();
    if (this.watch) await this.watch.after(u);
    if (u.host === this.countHost) { this.n++; this.ms += performance.now() - started; }
    const sc = res.headers['set-cookie'];
    for (const c of sc ? (Array.isArray(sc) ? sc : [sc]) : []) {
      const [kv] = c.split(';');
      const i = kv.indexOf('=');
      const k = kv.slice(0, i).trim(); const v = kv.slice(i + 1).trim();
      if (!v || /max-age=0\b/i.test(c) || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(k); else jar.set(k, v);
    }
    return { url, status: res.statusCode, location: res.headers.location && new URL(res.headers.location, url).href, text };
  }

  /** Follows redirects until one leads to a URL starting with `stop`. */
  async follow(url, stop, opts) {
    let r = await this.go(url, opts);
    for (let i = 0; i < 12 && r.location; i++) {
      if (r.location.startsWith(stop)) return { ...r, stopped: r.location };
      r = await this.go(r.location);
    }
    return r;
  }
}

// ---------------- keyedge (demo IdP upstream) ----------------
// `demo-app` (confidential, RS256 ID tokens) by default; `withClient('demo-spa')` gives the
// public client with ES256 ID and access tokens (PKCE, no secret).
export const KEYEDGE = {
  client: 'demo-app',
  redirect: 'http://127.0.0.1:8788/cb',
  init(vars) { this.basic = 'Basic ' + Buffer.from(`demo-app:${vars.DEMO_APP_SECRET}`).toString('base64'); return this; },
  withClient(client, redirect) { return { ...this, client, redirect, basic: null }; },
  /** The refresh scenario once more with an ES256 client: the refresh_es256 row. */
  es256() { return this.withClient('demo-spa', 'http://localhost:3000/spa-callback'); },
  /** The client's authentication: HTTP Basic for demo-app, client_id in the form for demo-spa. */
  auth() { return this.basic ? { headers: { ...FORM, authorization: this.basic }, form: {} } : { headers: FORM, form: { client_id: this.client } }; },
  paths: { discovery: '/.well-known/openid-configuration', jwks: '/jwks' },

  /** authorize → login page → /broker/demo/login → demo IdP form → callback → token; `watch` as `Session`'s. */
  async login(base, dispatchers, scope = 'openid email profile offline_access', watch = undefined) {
    const s = new Session(dispatchers, new URL(base).host, watch);
    const p = pkce();
    const q = form({ client_id: this.client, response_type: 'code', scope, redirect_uri: this.redirect, state: 's',
      nonce: 'n', code_challenge: p.challenge, code_challenge_method: 'S256' });
    let r = await s.go(`${base}/authorize?${q}`);
    const href = r.text.match(/href="(\/broker\/demo\/login[^"]*)"/);
    if (!href) throw new Error(`keyedge login page: ${r.status} ${r.text.slice(0, 200)}`);
    r = await s.follow(new URL(href[1].replace(/&#(\d+);/g, (_, c) => String.fromCharCode(c)).replaceAll('&amp;', '&'), base).href, this.redirect);
    const action = r.text.match(/action="(\/interaction\/[^"]+)"/)?.[1];
    if (!action) throw new Error(`demo IdP form missing: ${r.status} ${r.text.slice(0, 200)}`);
    r = await s.follow(new URL(action, r.url).href, this.redirect,
      { method: 'POST', headers: FORM, body: form({ username: 'alice', password: 'wonderland' }) });
    if (!r.stopped) throw new Error(`no code redirect: ${r.status} ${r.text.slice(0, 200)}`);
    const code = new URL(r.stopped).searchParams.get('code');
    const a = this.auth();
    const t = await s.go(`${base}/token`, { method: 'POST', headers: a.headers,
      body: form({ ...a.form, grant_type: 'authorization_code', code, redirect_uri: this.redirect, code_verifier: p.verifier }) });
    if (t.status !== 200) throw new Error(`keyedge token ${t.status} ${t.text}`);
    return { tokens: JSON.parse(t.text), requests: s.n, ms: s.ms, session: s };
  },
  async refresh(base, dispatchers, rt) {
    const a = this.auth();
    const r = await new Session(dispatchers).go(`${base}/token`, { method: 'POST', headers: a.headers,
      body: form({ ...a.form, grant_type: 'refresh_token', refresh_token: rt }) });
    if (r.status !== 200) throw new Error(`keyedge refresh ${r.status} ${r.text}`);
    return JSON.parse(r.text);
  },
  async userinfo(base, dispatchers, at) {
    const r = await new Session(dispatchers).go(`${base}/userinfo`, { headers: { authorization: `Bearer ${at}` } });
    if (r.status !== 200) throw new Error(`keyedge userinfo ${r.status} ${r.text}`);
    return 1;
  },
  /** A protected page of the example site (examples/static-site) behind the gate. */
  async page(base, session) {
    const r = await session.go(`${base}/docs/`);
    if (r.status !== 200 || !r.text.includes('</html>')) throw new Error(`keyedge gate /docs/ ${r.status} ${r.text.slice(0, 200)}`);
    return 1;
  },
};

// ---------------- oidc-provider (interactions auto-completed) ----------------
export const OIDC_PROVIDER = {
  redirect: 'http://127.0.0.1:9/cb',
  basic: 'Basic ' + Buffer.from('bench-client:bench-secret-bench-secret-bench-secret').toString('base64'),
  paths: { discovery: '/.well-known/openid-configuration', jwks: '/jwks' },
  async login(base, dispatchers) {
    const s = new Session(dispatchers, new URL(base).host);
    const p = pkce();
    const q = form({ client_id: 'bench-client', response_type: 'code', scope: 'openid offline_access', prompt: 'consent',
      redirect_uri: this.redirect, state: 's', code_challenge: p.challenge, code_challenge_method: 'S256' });
    const r = await s.follow(`${base}/auth?${q}`, this.redirect);
    if (!r.stopped) throw new Error(`oidc-provider login: ${r.status} ${r.text.slice(0, 200)}`);
    const code = new URL(r.stopped).searchParams.get('code');
    const t = await s.go(`${base}/token`, { method: 'POST', headers: { ...FORM, authorization: this.basic },
      body: form({ grant_type: 'authorization_code', code, redirect_uri: this.redirect, code_verifier: p.verifier }) });
    if (t.status !== 200) throw new Error(`oidc-provider token ${t.status} ${t.text}`);
    return { tokens: JSON.parse(t.text), requests: s.n, ms: s.ms };
  },
  async refresh(base, dispatchers, rt) {
    const r = await new Session(dispatchers).go(`${base}/token`, { method: 'POST', headers: { ...FORM, authorization: this.basic },
      body: form({ grant_type: 'refresh_token', refresh_token: rt }) });
    if (r.status !== 200) throw new Error(`oidc-provider refresh ${r.status} ${r.text}`);
    return JSON.parse(r.text);
  },
  async userinfo(base, dispatchers, at) {
    const r = await new Session(dispatchers).go(`${base}/me`, { headers: { authorization: `Bearer ${at}` } });
    if (r.status !== 200) throw new Error(`oidc-provider userinfo ${r.status} ${r.text}`);
    return 1;
  },
};

// ---------------- OpenAuth (code provider; its test UI returns the code) ----------------
export const OPENAUTH = {
  redirect: 'http://127.0.0.1:9/cb',
  paths: { discovery: '/.well-known/oauth-authorization-server', jwks: '/.well-known/jwks.json' },
  async login(base, dispatchers) {
    const s = new Session(dispatchers, new URL(base).host);
    const p = pkce();
    const q = form({ client_id: 'bench-client', response_type: 'code', redirect_uri: this.redirect, state: 's',
      provider: 'code', code_challenge: p.challenge, code_challenge_method: 'S256' });
    let r = await s.go(`${base}/authorize?${q}`);
    r = await s.go(r.location);
    r = await s.go(`${base}/code/authorize`, { method: 'POST', headers: FORM,
      body: form({ action: 'request', email: `u${randomBytes(3).toString('hex')}@example.test` }) });
    const state = JSON.parse(r.text);
    r = await s.go(`${base}/code/authorize`, { method: 'POST', headers: FORM, body: form({ action: 'verify', code: state.code }) });
    if (!r.location?.startsWith(this.redirect)) throw new Error(`openauth verify ${r.status} ${r.text.slice(0, 200)}`);
    const code = new URL(r.location).searchParams.get('code');
    const t = await s.go(`${base}/token`, { method: 'POST', headers: FORM,
      body: form({ grant_type: 'authorization_code', code, redirect_uri: this.redirect, client_id: 'bench-client', code_verifier: p.verifier }) });
    if (t.status !== 200) throw new Error(`openauth token ${t.status} ${t.text}`);
    return { tokens: JSON.parse(t.text), requests: s.n, ms: s.ms };
  },
  async refresh(base, dispatchers, rt) {
    const r = await new Session(dispatchers).go(`${base}/token`, { method: 'POST', headers: FORM,
      body: form({ grant_type: 'refresh_token', refresh_token: rt }) });
    if (r.status !== 200) throw new Error(`openauth refresh ${r.status} ${r.text}`);
    return JSON.parse(r.text);
  },
};
