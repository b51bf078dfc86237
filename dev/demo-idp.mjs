// A demo upstream OpenID Provider for `make dev` and the end-to-end tests: panva's
// oidc-provider with two demo users and a real username/password form. Not product code.
//
//   node dev/demo-idp.mjs   (env: IDP_PORT=9090, KEYEDGE_URL=http://localhost:8787)
//
// Two run side by side: `demo` (client_secret_basic) and, with IDP_ALIAS=partner,
// IDP_PORT=9091, IDP_CLIENT_AUTH=private_key_jwt, a second one where keyedge authenticates
// with its own signing key (read from its /jwks). Both issue refresh tokens and send
// back-channel logout tokens to keyedge; IDP_ACCESS_TTL sets the access-token lifetime, and
// IDP_ID_TOKEN_ALG the ID and logout tokens' signature (RS256; in the end-to-end tests the demo
// signs PS256 and the partner ES384, with a P-384 key beside the RSA one). The RSA key is
// published for the one RSA algorithm it signs with (RS256 or PS256).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import { readDevVars } from './vars.mjs';

const PORT = Number(process.env.IDP_PORT || 9090);
const ISSUER = process.env.IDP_ISSUER || `http://localhost:${PORT}`;
const KEYEDGE = process.env.KEYEDGE_URL || 'http://localhost:8787';
const ALIAS = process.env.IDP_ALIAS || 'demo';
const NAME = process.env.IDP_NAME || 'Demo IdP';
const AUTH = process.env.IDP_CLIENT_AUTH || 'client_secret_basic';
const ACCESS_TTL = Number(process.env.IDP_ACCESS_TTL || 3600);
const ID_TOKEN_ALG = process.env.IDP_ID_TOKEN_ALG || 'RS256';
const RSA_ALG = ID_TOKEN_ALG === 'PS256' ? 'PS256' : 'RS256';
const vars = readDevVars(process.env.DEV_VARS || '.dev.vars');
const broker = `${KEYEDGE}/broker/${ALIAS}`;

export const USERS = {
  alice: { password: 'wonderland', sub: 'u-alice', email: 'alice@example.com', email_verified: true,
           given_name: 'Alice', family_name: 'Liddell', name: 'Alice Liddell', groups: ['staff'] },
  bob: { password: 'builder', sub: 'u-bob', email: 'bob@example.com', email_verified: false,
         given_name: 'Bob', family_name: 'Builder', name: 'Bob Builder' },
  // No names: keyedge's first login asks for them (review profile).
  carol: { password: 'carol', sub: 'u-carol', email: 'carol@example.com', email_verified: true },
  // For the end-to-end attack tests (tests/e2e/attacks.test.mjs): mallory reads her own
  // mailbox; eve's IdP lets her claim dave's address without verifying it.
  mallory: { password: 'mallory', sub: 'u-mallory', email: 'mallory@example.com', email_verified: true,
             given_name: 'Mallory', family_name: 'Mayhem', name: 'Mallory Mayhem' },
  dave: { password: 'dave', sub: 'u-dave', email: 'dave@example.com', email_verified: true,
          given_name: 'Dave', family_name: 'Doe', name: 'Dave Doe' },
  eve: { password: 'eve', sub: 'u-eve', email: 'dave@example.com', email_verified: false,
         given_name: 'Eve', family_name: 'Eavesdropper', name: 'Eve Eavesdropper' },
};
const bySub = Object.fromEntries(Object.entries(USERS).map(([username, u]) => [u.sub, { ...u, username }]));

/**
 * `test-<anything>` (password: the same) is a fresh verified user on demand, for end-to-end
 * tests that need a first login each time (tests/e2e/faults.test.mjs).
 */
function user(username) {
  if (USERS[username]) return USERS[username];
  if (!/^test-[a-z0-9-]{1,40}$/.test(username)) return undefined;
  return { password: username, sub: `u-${username}`, email: `${username}@example.com`, email_verified: true,
           given_name: 'Test', family_name: username, name: `Test ${username}` };
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' });

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: 'keyedge',
    ...(AUTH === 'private_key_jwt'
      ? { jwks_uri: `${KEYEDGE}/jwks`, token_endpoint_auth_signing_alg: 'RS256' }
      : { client_secret: vars.DEMO_IDP_SECRET }),
    redirect_uris: [`${broker}/endpoint`],
    post_logout_redirect_uris: [`${broker}/logout_response`],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: AUTH,
    backchannel_logout_uri: `${broker}/backchannel_logout`,
    backchannel_logout_session_required: true,
    id_token_signed_response_alg: ID_TOKEN_ALG,
  }],
  ttl: { AccessToken: ACCESS_TTL },
  // keyedge runs on loopback next to this demo, which oidc-provider's SSRF guard refuses to
  // call (keyedge's /jwks for private_key_jwt, its back-channel logout endpoint).
  fetch: (url, options) => {
    delete options.dispatcher;
    return fetch(url, options);
  },
  // Refresh tokens for keyedge's stored tokens, without the offline_access dance.
  issueRefreshToken: async () => true,
  jwks: { keys: [{ ...rsa, kid: `demo-${RSA_ALG.toLowerCase()}`, alg: RSA_ALG, use: 'sig' }, { ...p384, kid: 'demo-es384', alg: 'ES384', use: 'sig' }] },
  enabledJWA: { idTokenSigningAlgValues: [RSA_ALG, 'ES384'] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'groups'],
  },
  features: { devInteractions: { enabled: false }, backchannelLogout: { enabled: true } },
  pkce: { required: () => true },
  findAccount: async (ctx, sub) => {
    const u = bySub[sub] ?? (sub.startsWith('u-test-') ? { ...user(sub.slice(2)), username: sub.slice(2) } : undefined);
    if (!u) return undefined;
    return {
      accountId: sub,
      claims: async () => ({ sub, email: u.email, email_verified: u.email_verified, name: u.name,
        given_name: u.given_name, family_name: u.family_name, preferred_username: u.username, groups: u.groups ?? [] }),
    };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.proxy = false;
// Why a request was refused, for whoever runs the demo (and the end-to-end tests' logs).
for (const event of ['grant.error', 'server_error', 'backchannel.error']) {
  provider.on(event, (ctx, err, client) => {
    console.error(`${NAME}: ${event}: ${err?.message ?? ''} ${err?.error_description ?? ''} ${err?.error_detail ?? ''} ${err?.cause?.message ?? ''}`);
  });
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (uid, error) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>${esc(NAME)} · Sign in</title><style>body{font-family:system-ui;max-width:22rem;margin:3rem auto}
label{display:block;margin:.6rem 0 .2rem}input{width:100%;padding:.4rem}button{margin-top:1rem;padding:.5rem 1rem}</style></head>
<body><h1>${esc(NAME)}</h1><p>Sign in with <code>alice</code> / <code>wonderland</code>.</p>
${error ? `<p role="alert" style="color:#a40e26">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>`;

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

provider.use(async (ctx, next) => {
  const m = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!m) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET' && !m[2]) {
    ctx.type = 'html';
    ctx.body = page(details.uid);
    return undefined;
  }
  if (ctx.method === 'POST' && m[2]) {
    const form = await readForm(ctx.req);
    const found = user(form.get('username'));
    if (!found || found.password !== form.get('password')) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = page(details.uid, 'Wrong username or password.');
      return undefined;
    }
    const grant = new provider.Grant({ accountId: found.sub, clientId: details.params.client_id });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    ctx.respond = false;
    await provider.interactionFinished(ctx.req, ctx.res,
      { login: { accountId: found.sub }, consent: { grantId } }, { mergeWithLastSubmission: false });
    return undefined;
  }
  return next();
});

// Loopback only, on both address families, since "localhost" may resolve to either.
const handler = provider.callback();
for (const host of ['127.0.0.1', '::1']) {
  createServer(handler).listen(PORT, host).on('error', (e) => {
    if (host === '::1' && e.code === 'EADDRNOTAVAIL') return; // no IPv6 loopback here
    throw e;
  });
}
console.log(`${NAME} listening on ${ISSUER} (users: alice/wonderland, bob/builder)`);
