// Writes .dev.vars (wrangler dev's secrets): fresh signing keys (RS256, ES256, EdDSA) and
// random client secrets (the demo IdPs', the demo app's, the social stand-ins'; Apple's key). Idempotent:
// existing entries are kept, missing ones are added.
// Never committed (.gitignore).
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const path = process.argv[2] || '.dev.vars';
const present = existsSync(path) ? readFileSync(path, 'utf8') : '';
const pem = (type, options) => generateKeyPairSync(type, options).privateKey
  .export({ type: 'pkcs8', format: 'pem' }).trim().replace(/\n/g, '\\n');
const secret = () => randomBytes(24).toString('base64url');
// keyedge's SAML SP key and its self-signed certificate (openssl: Node makes no certificates),
// made together; the certificate is the one keyedge's SP descriptor publishes.
let spPair;
const samlSp = () => {
  if (!spPair) {
    const dir = mkdtempSync(join(tmpdir(), 'keyedge-sp-'));
    try {
      const key = join(dir, 'sp.key');
      const cert = join(dir, 'sp.pem');
      const existing = present.match(/^SAML_SP_KEY="(.*)"$/m);
      if (existing) writeFileSync(key, `${existing[1].replace(/\\n/g, '\n')}\n`);
      else writeFileSync(key, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
      execFileSync('openssl', ['req', '-x509', '-new', '-key', key, '-out', cert, '-days', '3650', '-subj', '/CN=keyedge-dev-sp', '-sha256'], { stdio: 'ignore' });
      const oneLine = (f) => readFileSync(f, 'utf8').trim().replace(/\n/g, '\\n');
      spPair = { key: oneLine(key), cert: oneLine(cert) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return spPair;
};
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
  SAML_SP_KEY: () => samlSp().key,
  SAML_SP_CERT: () => samlSp().cert,
};
const missing = Object.keys(wanted).filter((k) => !new RegExp(`^${k}=`, 'm').test(present));
if (missing.length) {
  const lines = missing.map((k) => `${k}="${wanted[k]()}"`);
  appendFileSync(path, `${present && !present.endsWith('\n') ? '\n' : ''}${lines.join('\n')}\n`, { mode: 0o600 });
  console.log(`${path}: added ${missing.join(', ')}`);
}
