// Local stand-ins for the social login presets (src/core/upstream/presets/), for `make dev`
// and tests/e2e/social.test.mjs. Not product code, and not the providers: each speaks its
// provider's documented wire format — paths, parameter names, client authentication, answer
// and error shapes, taken from the provider's public docs (linked in PROVIDERS below; the
// native stand-ins in tests/it/social_presets/ follow the same docs) — so keyedge's preset
// logs in through it with only its base URL (or issuer) overridden in dev/keyedge.dev.toml.
//
//   node dev/social-standins.mjs   (env: STANDINS_PORT=9092, KEYEDGE_URL=http://localhost:8787)
//
// One server, one path prefix per provider: http://localhost:9092/github, /google, … Its
// authorization endpoint checks the request (client_id, redirect_uri, response_type, scopes,
// PKCE where the provider wants it) and shows a small page without script: one button per
// test user ("Continue as …") and "Deny", which sends the provider's own refusal back. The
// token endpoint checks the client secret the way the provider takes it (HTTP Basic or the
// body; the secrets are SOCIAL_<KIND>_SECRET in .dev.vars, see dev/dev-vars.mjs; Apple's is a
// JWT signed with SOCIAL_APPLE_KEY, checked against that key's public half), the code
// (once, for its redirect_uri) and the PKCE verifier; the user APIs check the access token.
// A refused request is answered in the provider's error shape and logged to stderr. Apple
// answers with a form post: its page, after the user's choice, is a form (no script: the
// user submits it) posting `code`, `state` and, on the first authorization only, `user` to
// keyedge's redirect URI.
//
// Adding a provider is one entry in PROVIDERS (and one [[identity_providers]] in
// dev/keyedge.dev.toml).
import { createHash, createHmac, createPublicKey, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { SignJWT, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { readDevVars } from './vars.mjs';

const PORT = Number(process.env.STANDINS_PORT || 9092);
export const BASE = process.env.STANDINS_URL || `http://localhost:${PORT}`;
const KEYEDGE = process.env.KEYEDGE_URL || 'http://localhost:8787';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const sha256 = (s) => createHash('sha256').update(s).digest();
const now = () => Math.floor(Date.now() / 1000);
const token = (prefix) => `${prefix}${randomBytes(16).toString('hex')}`;
const json = (status, body, headers = {}) => ({ status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) });

/**
 * The providers. Each entry:
 * - `clientId`, `scopes` (each must be asked for; an array of alternatives counts if any is),
 *   `pkce`: 'required' (S256), 'optional' (checked when sent) or 'refused' (LinkedIn),
 * - `authorize`, `token`: paths under the prefix; `clientAuth`: 'basic', 'post' or 'either'
 *   (as the provider accepts); `tokenMethods` and `tokenQuery` when the provider also takes
 *   the exchange as GET with its parameters in the query (Facebook),
 * - `deny`: the refusal's redirect parameters; `tokenError(kind)`: its token endpoint's
 *   answer for 'invalid_client' and 'invalid_grant', `[status, body]` (or a body sent with
 *   200, GitHub); `apiError()` for a bad token,
 * - `users`: the test users (`key` → the provider's view of them),
 * - `tokenAnswer(user, grant)`: the token endpoint's success answer,
 * - `apis`: `{ 'GET /path': (user, grant, req, url, secret) => answer }`, the token read
 *   from `Authorization: Bearer` (or as `apiToken` says); `:name` in a path is one segment;
 *   `apiCheck(req)`: what every API call needs besides the token (GitHub's User-Agent),
 * - `oidc` for the OpenID Connect ones: `discovery(issuer, prefix)` (at `discoveryPath`,
 *   by default /.well-known/openid-configuration), the `jwks` path (`jwkUse: false`: keys
 *   without `use`), the ID token's `claims(user, grant)` besides iss/aud/iat/exp, and
 *   `issuerFor(prefix, user)` when the issuer depends on the user (Microsoft's tenants);
 *   `issuerSuffix`: the issuer is the prefix plus this (LinkedIn's /oauth),
 * - `formPost`: the answer (and the refusal) is a form the user's browser posts to the
 *   redirect URI, not a redirect; `formPostScopes`: asking for any of these scopes without
 *   `response_mode=form_post` is refused at the provider's page; `firstAuthorization(user)`:
 *   the fields added to the answer on the user's first authorization only (Apple's `user`),
 * - `secretVar` (default SOCIAL_<KIND>_SECRET), `secretFrom(value)`: what the stand-in keeps
 *   of it, `checkSecret(sent, kept, { issuer, clientId })`: why the client secret sent is
 *   refused (a string) or nothing, instead of comparing it with the dev var's value.
 */
export const PROVIDERS = {
  // https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
  // https://docs.github.com/en/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors
  // https://docs.github.com/en/rest/users/users#get-the-authenticated-user
  // https://docs.github.com/en/rest/users/emails#list-email-addresses-for-the-authenticated-user
  // https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api (User-Agent, errors)
  // GitHub Enterprise Server layout (base_url): the web at {base}, the API at {base}/api/v3.
  github: {
    clientId: 'Iv1.standin0github',
    scopes: [['user:email', 'user']],
    pkce: 'optional',
    authorize: '/login/oauth/authorize',
    token: '/login/oauth/access_token',
    clientAuth: 'post',
    deny: {
      error: 'access_denied', error_description: 'The user has denied your application access.',
      error_uri: '/apps/building-integrations/setting-up-and-registering-oauth-apps/troubleshooting-authorization-request-errors/#access-denied',
    },
    // Token errors come with 200 OK.
    tokenError: (kind) => ({
      invalid_client: { error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' },
      invalid_grant: { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' },
    })[kind],
    apiError: () => json(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' }),
    users: {
      octocat: { id: 583231, login: 'octocat', name: 'Mona Lisa Octocat', email: null,
        emails: [['octocat@users.noreply.github.com', false, true], ['mona@github-standin.example', true, true]] },
      // Only a secondary address is verified: the primary one (alice's) must not link.
      'unverified-primary': { id: 900001, login: 'unverified-primary', name: 'Una Verified', email: null,
        emails: [['alice@example.com', true, false], ['una@github-standin.example', false, true]] },
    },
    tokenAnswer: (u, g) => ({ access_token: g.accessToken, scope: g.scope.split(' ').join(','), token_type: 'bearer' }),
    apis: {
      'GET /api/v3/user': (u) => json(200, {
        login: u.login, id: u.id, node_id: 'MDQ6VXNlcjE=', avatar_url: `${BASE}/github/avatars/u/${u.id}`,
        html_url: `${BASE}/github/${u.login}`, type: 'User', site_admin: false, name: u.name, company: null, blog: '',
        location: null, email: u.email, bio: null, public_repos: 8, created_at: '2008-01-14T04:33:35Z',
      }),
      'GET /api/v3/user/emails': (u, g) => (g.scope.split(' ').some((s) => s === 'user:email' || s === 'user')
        ? json(200, u.emails.map(([email, primary, verified]) => ({ email, primary, verified, visibility: primary ? 'private' : null })))
        : json(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' })),
    },
    apiCheck: (req) => (req.headers['user-agent'] ? undefined
      : json(403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header' })),
  },

  // https://developers.google.com/identity/openid-connect/openid-connect (hd, email_verified, prompt)
  // https://developers.google.com/identity/openid-connect/reference (discovery)
  // https://developers.google.com/identity/protocols/oauth2/web-server (errors, access_type)
  google: {
    clientId: '1234-standin.apps.googleusercontent.com',
    scopes: ['openid', 'email', 'profile'],
    pkce: 'optional',
    authorize: '/o/oauth2/v2/auth',
    token: '/token',
    clientAuth: 'either',
    deny: { error: 'access_denied' },
    tokenError: (kind) => ({
      invalid_client: [401, { error: 'invalid_client', error_description: 'Unauthorized' }],
      invalid_grant: [400, { error: 'invalid_grant', error_description: 'Bad Request' }],
    })[kind],
    apiError: () => json(401, { error: 'invalid_request', error_description: 'Invalid Credentials' }),
    users: {
      // A Gmail address (verified by Google); a Workspace one carries `hd`.
      ada: { sub: '110169484474386276334', email: 'ada.standin@gmail.com', email_verified: true,
        name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace' },
      grace: { sub: '110169484474386270001', email: 'grace@workspace-standin.example', email_verified: true,
        hd: 'workspace-standin.example', name: 'Grace Hopper', given_name: 'Grace', family_name: 'Hopper' },
    },
    oidc: {
      discovery: (iss) => ({
        issuer: iss, authorization_endpoint: `${iss}/o/oauth2/v2/auth`, device_authorization_endpoint: `${iss}/device/code`,
        token_endpoint: `${iss}/token`, userinfo_endpoint: `${iss}/v1/userinfo`, revocation_endpoint: `${iss}/revoke`,
        jwks_uri: `${iss}/oauth2/v3/certs`,
        response_types_supported: ['code', 'token', 'id_token', 'code token', 'code id_token', 'token id_token', 'code token id_token', 'none'],
        subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'email', 'profile'], token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
        claims_supported: ['aud', 'email', 'email_verified', 'exp', 'family_name', 'given_name', 'iat', 'iss', 'name', 'picture', 'sub'],
        code_challenge_methods_supported: ['plain', 'S256'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
      }),
      jwks: '/oauth2/v3/certs',
      claims: (u, g) => ({
        azp: g.clientId, sub: u.sub, email: u.email, email_verified: u.email_verified,
        at_hash: b64url(sha256(g.accessToken).subarray(0, 16)), name: u.name, given_name: u.given_name,
        family_name: u.family_name, picture: 'https://lh3.googleusercontent.com/a/standin', ...(u.hd ? { hd: u.hd } : {}),
        ...(g.nonce ? { nonce: g.nonce } : {}),
      }),
    },
    tokenAnswer: (u, g) => ({ access_token: g.accessToken, expires_in: 3599, token_type: 'Bearer',
      scope: 'openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile', id_token: g.idToken }),
    apis: {
      'GET /v1/userinfo': (u) => json(200, { sub: u.sub, name: u.name, given_name: u.given_name, family_name: u.family_name,
        picture: 'https://lh3.googleusercontent.com/a/standin', email: u.email, email_verified: u.email_verified, ...(u.hd ? { hd: u.hd } : {}) }),
    },
  },

  // https://docs.gitlab.com/integration/openid_connect_provider/ (discovery, claims)
  // https://docs.gitlab.com/api/oauth2/ (the flow, Doorkeeper's errors)
  gitlab: {
    clientId: 'standin0gitlab0application0id',
    scopes: ['openid'],
    pkce: 'optional',
    authorize: '/oauth/authorize',
    token: '/oauth/token',
    clientAuth: 'either',
    deny: { error: 'access_denied', error_description: 'The resource owner or authorization server denied the request.' },
    tokenError: (kind) => ({
      invalid_client: [401, { error: 'invalid_client', error_description: 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.' }],
      invalid_grant: [400, { error: 'invalid_grant', error_description: 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.' }],
    })[kind],
    apiError: () => json(401, { error: 'invalid_token', error_description: 'The access token is invalid' }, { 'www-authenticate': 'Bearer realm="Doorkeeper", error="invalid_token"' }),
    users: {
      tanuki: { sub: '4242', username: 'tanuki', name: 'Tanuki Fox', email: 'tanuki@gitlab-standin.example', email_verified: true },
    },
    oidc: {
      discovery: (iss) => ({
        issuer: iss, authorization_endpoint: `${iss}/oauth/authorize`, token_endpoint: `${iss}/oauth/token`,
        revocation_endpoint: `${iss}/oauth/revoke`, introspection_endpoint: `${iss}/oauth/introspect`,
        userinfo_endpoint: `${iss}/oauth/userinfo`, jwks_uri: `${iss}/oauth/discovery/keys`,
        scopes_supported: ['api', 'read_api', 'read_user', 'openid', 'profile', 'email'], response_types_supported: ['code'],
        subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'sub_legacy', 'name', 'nickname', 'preferred_username', 'email', 'email_verified', 'website', 'profile', 'picture', 'groups', 'groups_direct'],
      }),
      jwks: '/oauth/discovery/keys',
      claims: (u, g) => ({ sub: u.sub, auth_time: now(), sub_legacy: createHash('sha256').update(u.sub).digest('hex'),
        email: u.email, email_verified: u.email_verified, ...(g.nonce ? { nonce: g.nonce } : {}), groups_direct: [] }),
    },
    tokenAnswer: (u, g) => ({ access_token: g.accessToken, token_type: 'Bearer', expires_in: 7200,
      refresh_token: token('glrt-'), scope: g.scope, created_at: now(), id_token: g.idToken }),
    apis: {
      'GET /oauth/userinfo': (u) => json(200, { sub: u.sub, sub_legacy: createHash('sha256').update(u.sub).digest('hex'),
        name: u.name, nickname: u.username, preferred_username: u.username, email: u.email, email_verified: u.email_verified,
        website: '', profile: `${BASE}/gitlab/${u.username}`, picture: `${BASE}/gitlab/uploads/${u.username}.png`, groups: [] }),
    },
  },

  // https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow (endpoints, errors)
  // https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference (tid, oid, iss)
  // https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc (discovery, keys)
  // The tenant `common`: the ID token's issuer is {base}/{its tid}/v2.0.
  microsoft: {
    clientId: '00000000-0000-0000-0000-00005ta4d1n0',
    scopes: ['openid'],
    pkce: 'optional',
    authorize: '/common/oauth2/v2.0/authorize',
    token: '/common/oauth2/v2.0/token',
    clientAuth: 'either',
    deny: { error: 'access_denied', error_description: 'AADSTS65004: User declined to consent to access the app.' },
    tokenError: (kind) => ({
      invalid_client: [401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
        error_codes: [7000215], timestamp: new Date().toISOString(), trace_id: randomBytes(8).toString('hex'), correlation_id: randomBytes(8).toString('hex') }],
      invalid_grant: [400, { error: 'invalid_grant', error_description: 'AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.', error_codes: [70008] }],
    })[kind],
    users: {
      adele: { sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ', oid: '00000000-0000-0000-66f3-3332eca7ea81',
        tid: '72f988bf-86f1-41af-91ab-2d7cd011db47', name: 'Adele Vance', email: 'adele@contoso-standin.example' },
    },
    oidc: {
      issuerFor: (base, u) => `${base}/${u.tid}/v2.0`,
      discovery: (iss, base) => ({
        issuer: `${base}/{tenantid}/v2.0`, authorization_endpoint: `${base}/common/oauth2/v2.0/authorize`,
        token_endpoint: `${base}/common/oauth2/v2.0/token`, jwks_uri: `${base}/common/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'], subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'], scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
      }),
      discoveryPath: '/common/v2.0/.well-known/openid-configuration',
      jwks: '/common/discovery/v2.0/keys',
      claims: (u, g) => ({ ver: '2.0', sub: u.sub, nbf: now(), ...(g.nonce ? { nonce: g.nonce } : {}), tid: u.tid, oid: u.oid,
        name: u.name, preferred_username: u.email, email: u.email, uti: b64url(randomBytes(16)), rh: '0.AAAA' }),
    },
    tokenAnswer: (u, g) => ({ token_type: 'Bearer', scope: g.scope, expires_in: 3599, ext_expires_in: 3599,
      access_token: g.accessToken, id_token: g.idToken }),
    apis: {},
  },

  // https://learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2
  // https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow
  // https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow-native (PKCE: native apps only)
  // Issuer {base}/oauth; no nonce in the ID token; keys without `use`.
  linkedin: {
    clientId: '86standin0li',
    scopes: ['openid', 'profile', 'email'],
    pkce: 'refused',
    issuerSuffix: '/oauth',
    authorize: '/oauth/v2/authorization',
    token: '/oauth/v2/accessToken',
    clientAuth: 'post',
    deny: { error: 'user_cancelled_authorize', error_description: 'The user cancelled the authorization' },
    tokenError: (kind) => ({
      invalid_client: [401, { error: 'invalid_client', error_description: 'Client authentication failed' }],
      invalid_grant: [400, { error: 'invalid_request', error_description: 'Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists' }],
    })[kind],
    apiError: () => json(401, { serviceErrorCode: 65600, message: 'Invalid access token', status: 401 }),
    users: {
      reid: { sub: '782bbtaQ-li', name: 'Reid Standin', given_name: 'Reid', family_name: 'Standin',
        email: 'reid@linkedin-standin.example', email_verified: true },
    },
    oidc: {
      discovery: (iss, base) => ({
        issuer: iss, authorization_endpoint: `${iss}/v2/authorization`, token_endpoint: `${iss}/v2/accessToken`,
        userinfo_endpoint: `${base}/v2/userinfo`, jwks_uri: `${iss}/openid/jwks`, response_types_supported: ['code'],
        subject_types_supported: ['pairwise'], id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'profile', 'email'],
        claims_supported: ['iss', 'aud', 'iat', 'exp', 'sub', 'name', 'given_name', 'family_name', 'picture', 'email', 'email_verified', 'locale'],
      }),
      discoveryPath: '/oauth/.well-known/openid-configuration',
      jwks: '/oauth/openid/jwks',
      jwkUse: false,
      claims: (u) => ({ sub: u.sub, name: u.name, given_name: u.given_name, family_name: u.family_name,
        picture: 'https://media.licdn.com/dms/image/standin', email: u.email, email_verified: u.email_verified, locale: 'en-US' }),
    },
    tokenAnswer: (u, g) => ({ access_token: g.accessToken, expires_in: 5183999, scope: 'email,openid,profile', token_type: 'Bearer', id_token: g.idToken }),
    apis: {
      'GET /v2/userinfo': (u) => json(200, { sub: u.sub, email_verified: u.email_verified, name: u.name,
        locale: { country: 'US', language: 'en' }, given_name: u.given_name, family_name: u.family_name, email: u.email,
        picture: 'https://media.licdn.com/dms/image/standin' }),
    },
  },

  // https://discord.com/developers/docs/topics/oauth2
  // https://discord.com/developers/docs/resources/user#get-current-user
  discord: {
    clientId: '1100000000000000042',
    scopes: ['identify'],
    pkce: 'optional',
    authorize: '/oauth2/authorize',
    token: '/api/oauth2/token',
    clientAuth: 'either',
    deny: { error: 'access_denied', error_description: 'The resource owner or authorization server denied the request' },
    tokenError: (kind) => ({
      invalid_client: [401, { error: 'invalid_client' }],
      invalid_grant: [400, { error: 'invalid_grant', error_description: 'Invalid "code" in request.' }],
    })[kind],
    apiError: () => json(401, { message: '401: Unauthorized', code: 0 }),
    users: {
      wumpus: { id: '80351110224678912', username: 'wumpus', global_name: 'Wumpus', email: 'wumpus@discord-standin.example', verified: true },
    },
    tokenAnswer: (u, g) => ({ access_token: g.accessToken, token_type: 'Bearer', expires_in: 604800, refresh_token: token('dcr-'), scope: g.scope }),
    apis: {
      'GET /api/users/@me': (u, g) => json(200, {
        id: u.id, username: u.username, discriminator: '0', global_name: u.global_name, avatar: '8342729096ea3675442027381ff50dfe',
        bot: false, mfa_enabled: true, locale: 'en-US', flags: 64, premium_type: 0, public_flags: 64,
        // `email` and `verified` only with the `email` scope.
        ...(g.scope.split(' ').includes('email') ? { email: u.email, verified: u.verified } : {}),
      }),
    },
  },

  // https://developer.atlassian.com/cloud/bitbucket/oauth-2/ (the consumer in HTTP Basic)
  // https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/ (/2.0/user, /2.0/user/emails)
  // base_url layout: the web at {base}, the API at {base}/api.
  bitbucket: {
    clientId: 'StandinBitbucketKey',
    scopes: ['account', 'email'],
    pkce: 'optional',
    authorize: '/site/oauth2/authorize',
    token: '/site/oauth2/access_token',
    clientAuth: 'basic',
    deny: { error: 'access_denied', error_description: 'The resource owner or authorization server denied the request.' },
    tokenError: (kind) => ({
      invalid_client: [400, { error: 'unauthorized_client', error_description: 'Client credentials missing; this request needs to be authenticated with the OAuth client id and secret' }],
      invalid_grant: [400, { error: 'invalid_grant', error_description: 'The specified code is not valid.' }],
    })[kind],
    apiError: () => json(401, { type: 'error', error: { message: 'Access token expired.' } }),
    users: {
      bucky: { uuid: '{4c3d9f1e-5a6b-4c7d-8e9f-0a1b2c3d4e5f}', account_id: '557058:0d1f1b3c-1234-4c3d-9f1e-5a6b7c8d9e0f',
        nickname: 'bucky', display_name: 'Bucky Bitbucket',
        emails: [['bucky@bitbucket-standin.example', true, true], ['old@bitbucket-standin.example', false, false]] },
    },
    tokenAnswer: (u, g) => ({ access_token: g.accessToken, scopes: g.scope, token_type: 'bearer', expires_in: 7200,
      state: 'authorization_code', refresh_token: token('bbr-') }),
    apis: {
      'GET /api/2.0/user': (u) => json(200, { type: 'user', uuid: u.uuid, account_id: u.account_id, nickname: u.nickname,
        display_name: u.display_name, created_on: '2015-03-04T11:52:34.587945+00:00',
        links: { avatar: { href: `${BASE}/bitbucket/account/${u.nickname}/avatar/` }, html: { href: `${BASE}/bitbucket/${u.nickname}/` } } }),
      'GET /api/2.0/user/emails': (u, g) => (g.scope.split(' ').includes('email')
        ? json(200, { pagelen: 100, page: 1, size: u.emails.length, values: u.emails.map(([email, is_primary, is_confirmed]) => (
          { type: 'email', email, is_primary, is_confirmed, links: {} })) })
        : json(403, { type: 'error', error: { message: 'Your credentials lack one or more required privilege scopes.', detail: { granted: g.scope.split(' '), required: ['email'] } } })),
    },
  },

  // https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow
  // https://developers.facebook.com/docs/graph-api/reference/user
  // https://developers.facebook.com/docs/graph-api/securing-requests#appsecret_proof ("Require App Secret" on)
  // https://developers.facebook.com/docs/graph-api/guides/error-handling
  // base_url layout: the dialog at {base}/{version}/dialog/oauth, the Graph API at {base}/graph.
  facebook: {
    clientId: '1234567890123456',
    scopes: ['public_profile'],
    pkce: 'optional',
    authorize: '/:version/dialog/oauth',
    token: '/graph/:version/oauth/access_token',
    tokenMethods: ['GET', 'POST'],
    tokenQuery: true,
    clientAuth: 'post',
    deny: { error: 'access_denied', error_code: '200', error_description: 'Permissions error', error_reason: 'user_denied' },
    tokenError: (kind) => ({
      invalid_client: [400, graphError('Error validating client secret.', 'OAuthException', 1)],
      invalid_grant: [400, graphError('Invalid verification code format.', 'OAuthException', 100)],
    })[kind],
    apiToken: 'bearer-or-query',
    apiError: () => json(400, graphError('Invalid OAuth access token - Cannot parse access token', 'OAuthException', 190)),
    users: {
      zuck: { id: '10158426510345672', name: 'Mark Standin', first_name: 'Mark', last_name: 'Standin', email: 'mark@facebook-standin.example' },
    },
    tokenAnswer: (u, g) => ({ access_token: g.accessToken, token_type: 'bearer', expires_in: 5183944 }),
    apis: {
      'GET /graph/:version/me': (u, g, req, url, secret) => {
        const proof = url.searchParams.get('appsecret_proof');
        if (!proof) return json(400, graphError('API calls from the server require an appsecret_proof argument', 'GraphMethodException', 100));
        if (proof !== createHmac('sha256', secret).update(g.accessToken).digest('hex')) {
          return json(400, graphError('Invalid appsecret_proof provided in the API argument', 'GraphMethodException', 100));
        }
        const all = { id: u.id, name: u.name, first_name: u.first_name, last_name: u.last_name,
          picture: { data: { height: 50, is_silhouette: false, url: `${BASE}/facebook/platform/profilepic/?asid=${u.id}`, width: 50 } } };
        if (g.scope.split(/[ ,]/).includes('email') && u.email) all.email = u.email;
        const fields = (url.searchParams.get('fields') || 'id,name').split(',');
        return json(200, Object.fromEntries(fields.filter((f) => f in all).map((f) => [f, all[f]])));
      },
    },
  },

  // https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code
  // https://docs.x.com/x-api/users/user-lookup-me
  // https://docs.x.com/x-api/fundamentals/response-codes-and-errors
  // base_url layout: authorization at {base}, the API at {base}/api.
  x: {
    clientId: 'c3RhbmRpbi14LWNsaWVudDoxOmNp',
    scopes: ['users.read', 'tweet.read'],
    pkce: 'required',
    authorize: '/i/oauth2/authorize',
    token: '/api/2/oauth2/token',
    clientAuth: 'basic',
    deny: { error: 'access_denied' },
    tokenError: (kind) => ({
      invalid_client: [401, { error: 'unauthorized_client', error_description: 'Missing valid authorization header' }],
      invalid_grant: [400, { error: 'invalid_request', error_description: 'Value passed for the authorization code was invalid.' }],
    })[kind],
    apiError: () => json(401, { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' }),
    users: {
      jack: { id: '2244994945', name: 'Jack on X', username: 'jack_standin' },
    },
    tokenAnswer: (u, g) => ({ token_type: 'bearer', expires_in: 7200, access_token: g.accessToken, scope: g.scope,
      ...(g.scope.split(' ').includes('offline.access') ? { refresh_token: token('x-rt-') } : {}) }),
    apis: {
      'GET /api/2/users/me': (u, g, req, url) => {
        const asked = (url.searchParams.get('user.fields') || '').split(',');
        return json(200, { data: { id: u.id, name: u.name, username: u.username,
          ...(asked.includes('profile_image_url') ? { profile_image_url: 'https://pbs.twimg.com/profile_images/standin/normal.jpg' } : {}) } });
      },
    },
  },

  // https://api.stackexchange.com/docs/authentication (/oauth, /oauth/access_token/json)
  // https://api.stackexchange.com/docs/me, https://api.stackexchange.com/docs/wrapper
  // https://api.stackexchange.com/docs/error-handling
  // base_url layout: authorization at {base}, the API at {base}/api; the token in the query.
  stackoverflow: {
    clientId: '31337',
    scopes: [],
    pkce: 'optional',
    authorize: '/oauth',
    token: '/oauth/access_token/json',
    clientAuth: 'post',
    deny: { error: 'access_denied', error_description: 'user denied access' },
    tokenError: (kind) => ({
      invalid_client: [400, { error: { type: 'invalid_request', message: 'client_secret not valid for client_id' } }],
      invalid_grant: [400, { error: { type: 'invalid_request', message: 'code not valid' } }],
    })[kind],
    apiToken: 'query',
    apiError: () => json(400, { error_id: 402, error_message: 'No matching access token found', error_name: 'invalid_access_token' }),
    users: {
      jon: { user_id: 22656, display_name: 'Jon Standin', account_id: 11683 },
    },
    tokenAnswer: (u, g) => ({ access_token: g.accessToken, expires: 86399 }),
    apis: {
      'GET /api/2.3/me': (u, g, req, url) => {
        if (url.searchParams.get('key') !== STACK_KEY) {
          return json(400, { error_id: 405, error_message: 'key is required for this method', error_name: 'key_required' });
        }
        if (url.searchParams.get('site') !== 'stackoverflow') {
          return json(400, { error_id: 400, error_message: 'site is required', error_name: 'bad_parameter' });
        }
        return json(200, { items: [{ badge_counts: { bronze: 9, silver: 8, gold: 7 }, account_id: u.account_id, is_employee: false,
          reputation: 1454978, user_type: 'registered', user_id: u.user_id, link: `https://stackoverflow.com/users/${u.user_id}/jon-standin`,
          profile_image: 'https://i.sstatic.net/standin.jpg?s=256', display_name: u.display_name }],
        has_more: false, quota_max: 10000, quota_remaining: 9996 });
      },
    },
  },

  // https://developer.apple.com/documentation/sign_in_with_apple/request_an_authorization_to_the_sign_in_with_apple_server
  // https://developer.apple.com/documentation/sign_in_with_apple/generate_and_validate_tokens
  // https://developer.apple.com/documentation/sign_in_with_apple/errorresponse
  // https://developer.apple.com/documentation/accountorganizationaldatasharing/creating-a-client-secret
  // https://developer.apple.com/documentation/sign_in_with_apple/authenticating-users-with-sign-in-with-apple (ID token claims)
  // https://appleid.apple.com/.well-known/openid-configuration (discovery)
  // Issuer {base} (https://appleid.apple.com); the answer is a form post; the client secret is
  // an ES256 JWT of the operator's .p8 key (here SOCIAL_APPLE_KEY, its public half checked);
  // PKCE: not in Apple's reference, but a code issued with an S256 challenge needs its
  // verifier (https://github.com/a-tokyo/apple-signin-auth/issues/180).
  apple: {
    clientId: 'com.example.keyedge.standin',
    teamId: 'STANDIN0TM',
    keyId: 'STANDIN0KY',
    scopes: ['openid'],
    pkce: 'optional',
    authorize: '/auth/authorize',
    token: '/auth/token',
    clientAuth: 'post',
    formPost: true,
    formPostScopes: ['name', 'email'],
    deny: { error: 'user_cancelled_authorize' },
    tokenError: (kind) => ({
      invalid_client: [400, { error: 'invalid_client' }],
      invalid_grant: [400, { error: 'invalid_grant' }],
    })[kind],
    users: {
      // Hide My Email: a private relay address, verified by Apple.
      tim: { sub: '001234.8f5a1b2c3d4e4f5a6b7c8d9e0f1a2b3c.1234', name: 'Tim Applebaum', firstName: 'Tim', lastName: 'Applebaum',
        email: 'x7kq2m9p4t@privaterelay.appleid.com' },
      jane: { sub: '000987.0a1b2c3d4e5f60718293a4b5c6d7e8f9.0987', name: 'Jane Orchard', firstName: 'Jane', lastName: 'Orchard',
        email: 'jane@apple-standin.example' },
    },
    firstAuthorization: (u) => ({ user: JSON.stringify({ name: { firstName: u.firstName, lastName: u.lastName }, email: u.email }) }),
    secretVar: 'SOCIAL_APPLE_KEY',
    // The .dev.vars line holds the PEM with its newlines written as \n.
    secretFrom: (pem) => createPublicKey(pem.replace(/\\n/g, '\n')),
    checkSecret: async (sent, publicKey, { issuer, clientId }) => {
      const p = PROVIDERS.apple;
      let header;
      try {
        header = decodeProtectedHeader(sent ?? '');
      } catch {
        return 'the client secret is no JWT';
      }
      if (header.alg !== 'ES256' || header.kid !== p.keyId) return `client secret header ${JSON.stringify(header)}: not ES256 with kid ${p.keyId}`;
      try {
        const { payload } = await jwtVerify(sent, publicKey, {
          algorithms: ['ES256'], issuer: p.teamId, subject: clientId, audience: issuer, requiredClaims: ['iat', 'exp'], clockTolerance: 5,
        });
        // At most six months (15777000 s) from iat to exp.
        if (payload.exp - payload.iat > 15777000) return 'the client secret is valid for more than six months';
      } catch (e) {
        return `client secret: ${e.code ?? e.message}`;
      }
      return undefined;
    },
    oidc: {
      discovery: (iss) => ({
        issuer: iss, authorization_endpoint: `${iss}/auth/authorize`, token_endpoint: `${iss}/auth/token`,
        revocation_endpoint: `${iss}/auth/revoke`, jwks_uri: `${iss}/auth/keys`, response_types_supported: ['code'],
        response_modes_supported: ['query', 'fragment', 'form_post'], subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'], scopes_supported: ['openid', 'email', 'name'],
        token_endpoint_auth_methods_supported: ['client_secret_post'],
        claims_supported: ['aud', 'email', 'email_verified', 'exp', 'iat', 'is_private_email', 'iss', 'nonce', 'nonce_supported', 'real_user_status', 'sub', 'transfer_sub'],
      }),
      jwks: '/auth/keys',
      // email_verified and is_private_email as the strings "true"/"false"; no name, ever.
      claims: (u, g) => ({
        sub: u.sub, at_hash: b64url(sha256(g.accessToken).subarray(0, 16)), auth_time: now() - 5, nonce_supported: true,
        ...(g.nonce ? { nonce: g.nonce } : {}),
        ...(g.scope.split(' ').includes('email') ? { email: u.email, email_verified: 'true',
          is_private_email: String(u.email.endsWith('@privaterelay.appleid.com')) } : {}),
        real_user_status: 2,
      }),
    },
    tokenAnswer: (u, g) => ({ access_token: g.accessToken, token_type: 'Bearer', expires_in: 3600, refresh_token: token('r.0.'),
      id_token: g.idToken }),
    apis: {},
  },
};

function graphError(message, type, code) {
  return { error: { message, type, code, fbtrace_id: 'AWqBD1T3fAbC' } };
}

/** Stack Exchange's app request key (not a secret), `key` in dev/keyedge.dev.toml. */
export const STACK_KEY = 'standin((key';

/** The dev var holding a provider's client secret. */
export const secretVar = (kind) => `SOCIAL_${kind.toUpperCase()}_SECRET`;

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const userLabel = (u) => u.name ?? u.display_name ?? u.global_name ?? u.username ?? u.login;

function consentPage(kind, tx, users) {
  const buttons = Object.entries(users).map(([key, u]) =>
    `<li><button type="submit" name="user" value="${esc(key)}">Continue as ${esc(userLabel(u))} (${esc(key)})</button></li>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(kind)} stand-in · Authorize</title>
<style>body{font-family:system-ui;max-width:30rem;margin:3rem auto}ul{list-style:none;padding:0}li{margin:.5rem 0}button{padding:.5rem 1rem}</style></head>
<body><h1>${esc(kind)} stand-in</h1><p>A local stand-in for ${esc(kind)}'s authorization page (dev/social-standins.mjs).</p>
<form method="post" action="/${esc(kind)}/standin/consent"><input type="hidden" name="tx" value="${esc(tx)}">
<ul>${buttons}<li><button type="submit" name="deny" value="1">Deny</button></li></ul></form></body></html>`;
}

/** A page without script whose form the user submits to `action` (Apple's form post). */
function formPostPage(kind, action, fields) {
  const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(kind)} stand-in · Back to the app</title></head>
<body><h1>${esc(kind)} stand-in</h1><p>The answer goes back to the app as a form post.</p>
<form method="post" action="${esc(action)}">${inputs}<button type="submit">Continue</button></form></body></html>`;
}

const html = (status, body) => ({ status, headers: { 'content-type': 'text/html; charset=utf-8' }, body });
const redirect = (url) => ({ status: 302, headers: { location: url }, body: '' });
/** Whether `path` is `pattern`, where `:name` stands for one path segment (`/:version/me`). */
const matches = (pattern, path) => new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+')}$`).test(path);

/** One provider's state: pending authorizations, codes, tokens, its signing key. */
function makeProvider(kind, p, secret) {
  const prefix = `${BASE}/${kind}`;
  const issuer = `${prefix}${p.issuerSuffix ?? ''}`;
  const redirectUri = `${KEYEDGE}/broker/${kind}/endpoint`;
  const pending = new Map();
  const codes = new Map();
  const tokens = new Map();
  /** The users who authorized the app already (Apple sends `user` only the first time). */
  const authorized = new Set();
  let key;
  const refuse = (why, answer) => {
    console.error(`${kind} stand-in: refused: ${why}`);
    return answer;
  };
  const tokenError = (kindOf, why) => {
    const e = p.tokenError(kindOf);
    return refuse(why, Array.isArray(e) ? json(e[0], e[1]) : json(200, e));
  };

  async function signingKey() {
    if (!key) {
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: `${kind}-standin-1`, alg: 'RS256', ...(p.oidc.jwkUse === false ? {} : { use: 'sig' }) };
      key = { privateKey, jwk };
    }
    return key;
  }

  function authorize(url) {
    const q = url.searchParams;
    const bad = (why) => refuse(why, html(400, `<!doctype html><title>Error</title><h1>400</h1><p>${esc(why)}</p>`));
    if (q.get('client_id') !== p.clientId) return bad(`unknown client_id ${q.get('client_id')}`);
    if (q.get('redirect_uri') !== redirectUri) return bad(`redirect_uri ${q.get('redirect_uri')} is not ${redirectUri}`);
    if (q.get('response_type') !== 'code') return bad(`response_type ${q.get('response_type')}`);
    if (!q.get('state')) return bad('no state');
    const scope = q.get('scope') ?? '';
    const scopes = scope.split(/[ ,]/);
    const missing = p.scopes.filter((s) => !(Array.isArray(s) ? s : [s]).some((alt) => scopes.includes(alt)));
    if (missing.length) return bad(`scope "${scope}" lacks ${missing.flat().join(' or ')}`);
    const challenge = q.get('code_challenge');
    if (p.pkce === 'required' && (!challenge || q.get('code_challenge_method') !== 'S256')) {
      const back = new URL(redirectUri);
      back.search = new URLSearchParams({ error: 'invalid_request', state: q.get('state') }).toString();
      return refuse('no S256 code_challenge', redirect(back.href));
    }
    if (challenge && q.get('code_challenge_method') !== 'S256') return bad('code_challenge_method is not S256');
    if (p.formPostScopes?.some((s) => scopes.includes(s)) && q.get('response_mode') !== 'form_post') {
      return bad(`response_mode ${q.get('response_mode')}: form_post is required with the scopes ${p.formPostScopes.join(' or ')}`);
    }
    if (p.oidc && kind !== 'linkedin' && !q.get('nonce')) return bad('no nonce');
    const tx = randomBytes(12).toString('hex');
    pending.set(tx, { state: q.get('state'), scope, challenge, nonce: q.get('nonce'), at: Date.now() });
    return html(200, consentPage(kind, tx, p.users));
  }

  function consent(form) {
    const req = pending.get(form.get('tx'));
    if (!req) return html(400, '<!doctype html><title>Error</title><p>Unknown or used authorization request.</p>');
    pending.delete(form.get('tx'));
    const answer = (fields) => {
      if (p.formPost) return html(200, formPostPage(kind, redirectUri, fields));
      const back = new URL(redirectUri);
      back.search = new URLSearchParams(fields).toString();
      return redirect(back.href);
    };
    if (form.get('deny')) return answer({ ...p.deny, state: req.state });
    const user = form.get('user');
    if (!p.users[user]) return html(400, '<!doctype html><title>Error</title><p>Unknown user.</p>');
    const code = token('');
    codes.set(code, { ...req, user });
    const first = p.firstAuthorization && !authorized.has(user);
    if (first) authorized.add(user);
    return answer({ code, state: req.state, ...(first ? p.firstAuthorization(p.users[user]) : {}) });
  }

  async function exchange(req, url, body) {
    const form = new URLSearchParams(body);
    if (p.tokenQuery) for (const [k, v] of url.searchParams) form.set(k, v);
    const basic = req.headers.authorization?.match(/^Basic (.+)$/)?.[1];
    let id;
    let sent;
    if (basic) {
      const [u, s] = Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent);
      [id, sent] = [u, s];
    }
    const inBody = form.has('client_secret');
    if (p.clientAuth === 'basic' && (!basic || inBody)) return tokenError('invalid_client', 'the client must authenticate with HTTP Basic only');
    if (p.clientAuth === 'post' && (basic || !inBody)) return tokenError('invalid_client', 'the client must send its secret in the body');
    if (basic && inBody) return tokenError('invalid_client', 'two client authentications');
    if (inBody) [id, sent] = [form.get('client_id'), form.get('client_secret')];
    if (id !== p.clientId) return tokenError('invalid_client', `unknown client_id ${id}`);
    const wrong = p.checkSecret ? await p.checkSecret(sent, secret, { issuer, clientId: p.clientId })
      : sent !== secret && 'wrong client_secret';
    if (wrong) return tokenError('invalid_client', `${wrong} for ${id}`);
    if (p.pkce === 'refused' && form.has('code_verifier')) return tokenError('invalid_client', 'a web application sent code_verifier');
    if ((form.get('grant_type') ?? 'authorization_code') !== 'authorization_code' && kind !== 'stackoverflow') {
      return tokenError('invalid_grant', `grant_type ${form.get('grant_type')}`);
    }
    const code = codes.get(form.get('code'));
    codes.delete(form.get('code'));
    if (!code) return tokenError('invalid_grant', 'unknown or used code');
    if (form.get('redirect_uri') !== redirectUri) return tokenError('invalid_grant', `redirect_uri ${form.get('redirect_uri')}`);
    if (code.challenge && b64url(sha256(form.get('code_verifier') ?? '')) !== code.challenge) {
      return tokenError('invalid_grant', 'code_verifier does not match the code_challenge');
    }
    const u = p.users[code.user];
    const grant = { scope: code.scope, nonce: code.nonce, clientId: p.clientId, accessToken: token(`${kind}-at-`) };
    tokens.set(grant.accessToken, { user: code.user, grant });
    if (p.oidc) {
      const { privateKey, jwk } = await signingKey();
      const iss = p.oidc.issuerFor ? p.oidc.issuerFor(prefix, u) : issuer;
      grant.idToken = await new SignJWT(p.oidc.claims(u, grant))
        .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
        .setIssuer(iss).setAudience(p.clientId).setIssuedAt().setExpirationTime('1h').sign(privateKey);
    }
    const answer = p.tokenAnswer(u, grant);
    // GitHub answers form-encoded unless asked for JSON.
    if (kind === 'github' && !(req.headers.accept ?? '').includes('application/json')) {
      return { status: 200, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: new URLSearchParams(answer).toString() };
    }
    return json(200, answer);
  }

  function api(req, url, path) {
    const route = Object.keys(p.apis).find((r) => {
      const [method, pattern] = r.split(' ');
      return method === req.method && matches(pattern, path);
    });
    if (!route) return undefined;
    const checked = p.apiCheck?.(req);
    if (checked) return refuse('API check', checked);
    const header = req.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
    const query = url.searchParams.get('access_token');
    const sent = p.apiToken === 'query' ? (header ? undefined : query) : p.apiToken === 'bearer-or-query' ? header ?? query : header;
    const t = sent && tokens.get(sent);
    if (!t) return refuse(`bad or missing access token at ${path}`, p.apiError());
    return p.apis[route](p.users[t.user], t.grant, req, url, secret);
  }

  async function handle(req, url, path, body) {
    if (req.method === 'GET' && matches(p.authorize, path)) return authorize(url);
    if (req.method === 'POST' && path === '/standin/consent') return consent(new URLSearchParams(body));
    if ((p.tokenMethods ?? ['POST']).includes(req.method) && matches(p.token, path)) return exchange(req, url, body);
    if (p.oidc && req.method === 'GET') {
      if (path === (p.oidc.discoveryPath ?? '/.well-known/openid-configuration')) return json(200, p.oidc.discovery(issuer, prefix));
      if (path === p.oidc.jwks) return json(200, { keys: [(await signingKey()).jwk] });
    }
    return api(req, url, path);
  }

  return { handle, notFound: () => (p.apiError ? { ...p.apiError(), status: 404 } : json(404, { error: 'not_found' })) };
}

/** Starts the server; resolves once it listens. */
export async function startStandIns({ port = PORT, vars } = {}) {
  const secrets = vars ?? readDevVars(process.env.DEV_VARS || '.dev.vars');
  const providers = {};
  for (const [kind, p] of Object.entries(PROVIDERS)) {
    const name = p.secretVar ?? secretVar(kind);
    const secret = secrets[name];
    if (!secret) throw new Error(`${name} is missing from .dev.vars: run \`node dev/dev-vars.mjs .dev.vars\``);
    providers[kind] = makeProvider(kind, p, p.secretFrom ? p.secretFrom(secret) : secret);
  }
  const handler = async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url, BASE);
    const [, kind, ...rest] = url.pathname.split('/');
    const path = `/${rest.join('/')}`;
    let answer;
    try {
      if (kind === '' && url.pathname === '/') {
        answer = json(200, { providers: Object.keys(PROVIDERS).map((k) => `${BASE}/${k}`) });
      } else if (providers[kind]) {
        answer = (await providers[kind].handle(req, url, path, body)) ?? providers[kind].notFound();
      } else {
        answer = json(404, { error: 'unknown provider' });
      }
    } catch (e) {
      console.error(`stand-in ${url.pathname}: ${e.stack}`);
      answer = json(500, { error: 'server_error' });
    }
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  };
  // Loopback only, on both address families, since "localhost" may resolve to either.
  await Promise.all(['127.0.0.1', '::1'].map((host) => new Promise((resolve, reject) => {
    createServer(handler).listen(port, host, resolve).on('error', (e) => {
      if (host === '::1' && e.code === 'EADDRNOTAVAIL') resolve(); else reject(e);
    });
  })));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await startStandIns();
  console.log(`Social login stand-ins listening on ${BASE}/{${Object.keys(PROVIDERS).join(',')}}`);
}
