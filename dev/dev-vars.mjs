// Writes .dev.vars (wrangler dev's secrets) on first run: a fresh RS256 signing key and
// random client secrets. Never overwrites an existing file; never committed (.gitignore).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';

const path = process.argv[2] || '.dev.vars';
if (existsSync(path)) process.exit(0);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).trim().replace(/\n/g, '\\n');
const secret = () => randomBytes(24).toString('base64url');
writeFileSync(path, [
  `SIGNING_KEY="${pem}"`,
  `DEMO_APP_SECRET="${secret()}"`,
  `DEMO_IDP_SECRET="${secret()}"`,
  '',
].join('\n'), { mode: 0o600 });
console.log(`wrote ${path} (dev signing key and demo client secrets)`);
