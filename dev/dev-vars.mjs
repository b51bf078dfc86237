// Writes .dev.vars (wrangler dev's secrets): fresh signing keys (RS256, ES256, EdDSA) and
// random client secrets (the demo IdPs', the demo app's, the social stand-ins'; Apple's key). Idempotent:
// existing entries are kept, missing ones are added.
// Never committed (.gitignore).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

const path = process.argv[2] || '.dev.vars';
const present = existsSync(path) ? readFileSync(path, 'utf8') : '';
const pem = (type, options) => generateKeyPairSync(type, options).privateKey
  .export({ type: 'pkcs8', format: 'pem' }).trim().replace(/\n/g, '\\n');
const secret = () => randomBytes(24).toString('base64url');
const wanted = {
  SIGNING_KEY: () => pem('rsa', { modulusLength: 2048 }),
  SIGNING_KEY_ES256: () => pem('ec', { namedCurve: 'P-256' }),
  SIGNING_KEY_EDDSA: () => pem('ed25519'),
  ENCRYPTION_KEY: () => randomBytes(32).toString('base64'),
  DEMO_APP_SECRET: secret,
  DEMO_IDP_SECRET: secret,
  // The social login stand-ins' client secrets (dev/social-standins.mjs, secretVar()).
  ...Object.fromEntries(['github', 'google', 'gitlab', 'microsoft', 'linkedin', 'discord', 'bitbucket', 'facebook', 'x',
    'stackoverflow'].map((kind) => [`SOCIAL_${kind.toUpperCase()}_SECRET`, secret])),
  // Apple's stand-in has no static secret: keyedge signs its client secret with this .p8 key.
  SOCIAL_APPLE_KEY: () => pem('ec', { namedCurve: 'P-256' }),
};
const missing = Object.keys(wanted).filter((k) => !new RegExp(`^${k}=`, 'm').test(present));
if (missing.length) {
  const lines = missing.map((k) => `${k}="${wanted[k]()}"`);
  appendFileSync(path, `${present && !present.endsWith('\n') ? '\n' : ''}${lines.join('\n')}\n`, { mode: 0o600 });
  console.log(`${path}: added ${missing.join(', ')}`);
}
