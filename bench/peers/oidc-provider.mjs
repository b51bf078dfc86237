// Peer: panva's oidc-provider on Node, for `make bench` only: one confidential client,
// refresh-token rotation, RS256 ID tokens (as keyedge's default), interactions completed at
// once so a script can log in.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT || 9300);
const ISSUER = `http://127.0.0.1:${PORT}`;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: 'bench-client',
    client_secret: 'bench-secret-bench-secret-bench-secret',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:9/cb'],
  }],
  jwks: { keys: [{ ...rsa, kid: 'rs256', alg: 'RS256', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'offline_access'],
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: async (ctx, client, code) => code.scopes.has('offline_access'),
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.proxy = false;
provider.use(async (ctx, next) => {
  if (!/^\/interaction\/[^/]+$/.test(ctx.path)) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const grant = new provider.Grant({ accountId: 'bench-user', clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  ctx.respond = false;
  await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: 'bench-user' }, consent: { grantId } });
  return undefined;
});
provider.listen(PORT, '127.0.0.1', () => console.log(`oidc-provider peer on ${ISSUER}`));
