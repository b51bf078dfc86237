#!/usr/bin/env node
// The npm `saml-idp` test IdP (saml-idp@1.2.1, Node) on loopback: the second, independent SAML IdP
// of keyedge's end-to-end tests (SimpleSAMLphp is the first: simplesamlphp.sh).
//
//   node dev/saml-idp/saml-idp-npm.mjs install|start|stop|status|restart
//
// Environment (same shape as simplesamlphp.sh):
//   SAML_IDP_NPM_DIR   state directory (default build/saml-idp-npm, relative to the repository root)
//   SAML_IDP_NPM_PORT  port on 127.0.0.1 (default 8083)
//   SP_METADATA_URL    if set at `start`, the SP's metadata is fetched from it; otherwise it is read
//                      from $SAML_IDP_NPM_DIR/sp.xml; without either, keyedge's development SP
//                      (http://localhost:8787, alias corp) is assumed. saml-idp serves ONE SP whose
//                      entity id, ACS and SLO URLs are fixed when it starts: `start` imports them
//                      from the metadata, and restarts the IdP when they changed.
//
// saml-idp has no passwords: its "login" page is a form with the user's NameID and attributes,
// pre-filled with alice's; signing in as bob means posting bob's values (see README.md).
// The package comes from the repository's node_modules (once package.json has it), else from a
// scratch install made by `install` under $SAML_IDP_NPM_DIR/pkg. Its dependency `samlp` is a
// GitHub URL in saml-idp's package.json; an npm override pins the registry's samlp@7.1.1.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, writeFileSync, openSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SAML_IDP_VERSION = '1.2.1';
export const SAMLP_OVERRIDE = '7.1.1';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIR = resolve(ROOT, process.env.SAML_IDP_NPM_DIR || 'build/saml-idp-npm');
const PORT = Number(process.env.SAML_IDP_NPM_PORT || 8083);
const BASE = `http://127.0.0.1:${PORT}`;
const PIDFILE = join(DIR, 'node.pid');
const LOG = join(DIR, 'node-server.log');
const CERT = join(DIR, 'cert/idp.pem');
const KEY = join(DIR, 'cert/idp.key');
const PKG = join(DIR, 'pkg');
const SPFILE = join(DIR, 'sp.json');

export const USERS = {
  alice: { uid: 'alice', mail: 'alice@example.org', givenName: 'Alice', sn: 'Anderson', eduPersonAffiliation: 'member,staff' },
  bob: { uid: 'bob', mail: 'bob@example.org', givenName: 'Bob', sn: 'Brown', eduPersonAffiliation: 'member,student' },
};
const EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
// The fields saml-idp's sign-in form (POST /signin) takes for a user.
export const profileFields = (user, nameIdFormat = EMAIL) => ({ userName: user.mail, nameIdFormat, ...user });

const DEFAULT_SP = {
  entityId: 'http://localhost:8787',
  acs: 'http://localhost:8787/broker/corp/endpoint',
  slo: 'http://localhost:8787/broker/corp/endpoint',
};

function findPackage() {
  for (const base of [ROOT, PKG]) {
    const p = join(base, 'node_modules/saml-idp/app.js');
    if (existsSync(p)) return p;
  }
  return null;
}

function install() {
  if (findPackage()) return;
  mkdirSync(PKG, { recursive: true });
  writeFileSync(join(PKG, 'package.json'), JSON.stringify({
    name: 'keyedge-saml-idp-scratch', private: true,
    dependencies: { 'saml-idp': SAML_IDP_VERSION },
    overrides: { samlp: SAMLP_OVERRIDE },
  }, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: PKG, stdio: 'inherit' });
}

function pidRunning() {
  try {
    const pid = Number(readFileSync(PIDFILE, 'utf8'));
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('saml-idp-npm.mjs') ? pid : null;
  } catch {
    return null;
  }
}

async function up() {
  try {
    const r = await fetch(`${BASE}/metadata`);
    return r.ok;
  } catch {
    return false;
  }
}

// The SP's entity id, POST ACS and SLO from its SAML metadata (a regex read: trusted, local input).
async function readSp() {
  let xml = null;
  if (process.env.SP_METADATA_URL) {
    const r = await fetch(process.env.SP_METADATA_URL);
    if (!r.ok) throw new Error(`SP metadata ${process.env.SP_METADATA_URL}: HTTP ${r.status}`);
    xml = await r.text();
  } else if (existsSync(join(DIR, 'sp.xml'))) {
    xml = readFileSync(join(DIR, 'sp.xml'), 'utf8');
  }
  if (!xml) return { ...DEFAULT_SP, source: 'default' };
  const entityId = xml.match(/<(?:\w+:)?EntityDescriptor\b[^>]*\bentityID="([^"]+)"/)?.[1];
  const svc = (kind, binding) =>
    [...xml.matchAll(new RegExp(`<(?:\\w+:)?${kind}\\b[^>]*>`, 'g'))]
      .map((m) => m[0])
      .filter((t) => t.includes(`bindings:${binding}"`))
      .map((t) => t.match(/\bLocation="([^"]+)"/)?.[1])[0];
  const acs = svc('AssertionConsumerService', 'HTTP-POST');
  const slo = svc('SingleLogoutService', 'HTTP-Redirect') || svc('SingleLogoutService', 'HTTP-POST');
  if (!entityId || !acs) throw new Error('SP metadata without entityID or an HTTP-POST AssertionConsumerService');
  return { entityId, acs, slo, source: process.env.SP_METADATA_URL || join(DIR, 'sp.xml') };
}

function describe(sp) {
  console.log(`SAML_IDP_NPM_METADATA_URL=${BASE}/metadata`);
  console.log(`SAML_IDP_NPM_ENTITY_ID=${BASE}/metadata`);
  console.log(`SAML_IDP_NPM_SSO_URL=${BASE}/saml/sso`);
  console.log(`SAML_IDP_NPM_SLO_URL=${BASE}/saml/slo`);
  console.log(`SAML_IDP_NPM_CERT=${CERT}`);
  if (sp) console.log(`SAML_IDP_NPM_SP=${sp.entityId} ACS=${sp.acs} SLO=${sp.slo ?? '(none)'} from ${sp.source}`);
  console.log(`SAML_IDP_NPM_LOG=${LOG}`);
}

function writeConfig() {
  mkdirSync(join(DIR, 'cert'), { recursive: true });
  if (!existsSync(KEY) || !existsSync(CERT)) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-sha256', '-nodes', '-days', '3650',
      '-subj', '/CN=keyedge-test-saml-idp-npm', '-keyout', KEY, '-out', CERT], { stdio: 'pipe' });
  }
  // saml-idp's attribute config: the form's fields and the Attribute names sent (the `id`s).
  const attr = (id, displayName, multiValue = false) => ({ id, optional: false, displayName, description: displayName, multiValue });
  const config = `// Written by dev/saml-idp/saml-idp-npm.mjs.
module.exports = ${JSON.stringify({
    user: profileFields(USERS.alice),
    metadata: [attr('uid', 'User ID'), attr('mail', 'E-Mail Address'), attr('givenName', 'Given name'),
      attr('sn', 'Surname'), attr('eduPersonAffiliation', 'Affiliation', true)],
  }, null, 2)};
`;
  writeFileSync(join(DIR, 'config.cjs'), config);
}

async function start() {
  const sp = await readSp();
  const pid = pidRunning();
  if (pid) {
    let running = null;
    try { running = JSON.parse(readFileSync(SPFILE, 'utf8')); } catch { /* restart */ }
    if (running && running.entityId === sp.entityId && running.acs === sp.acs && running.slo === sp.slo && (await up())) {
      describe(sp);
      return;
    }
    await stop(true);
  }
  const app = findPackage();
  if (!app) {
    console.error(`saml-idp-npm: saml-idp is not installed: add saml-idp@${SAML_IDP_VERSION} (with "overrides": {"samlp": "${SAMLP_OVERRIDE}"}) to package.json, or run: node dev/saml-idp/saml-idp-npm.mjs install`);
    process.exit(1);
  }
  try {
    execFileSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${PORT}`], { stdio: 'ignore' });
    console.error(`saml-idp-npm: port ${PORT} is already in use by another process`);
    process.exit(1);
  } catch { /* free */ }
  writeConfig();
  writeFileSync(SPFILE, JSON.stringify(sp));
  const out = openSync(LOG, 'a');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], {
    detached: true, stdio: ['ignore', out, out], env: { ...process.env, SAML_IDP_NPM_APP: app },
  });
  writeFileSync(PIDFILE, String(child.pid));
  child.unref();
  for (let i = 0; i < 100; i++) {
    if (await up()) { describe(sp); return; }
    if (!pidRunning()) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error(readFileSync(LOG, 'utf8').split('\n').slice(-20).join('\n'));
  await stop(true);
  console.error(`saml-idp-npm: did not come up on ${BASE} (log: ${LOG})`);
  process.exit(1);
}

function serve() {
  const sp = JSON.parse(readFileSync(SPFILE, 'utf8'));
  const require = createRequire(import.meta.url);
  const { runServer } = require(process.env.SAML_IDP_NPM_APP);
  runServer({
    host: '127.0.0.1',
    port: PORT,
    cert: CERT,
    key: KEY,
    issuer: `${BASE}/metadata`,
    acsUrl: sp.acs,
    audience: sp.entityId,
    serviceProviderId: sp.entityId,
    ...(sp.slo ? { sloUrl: sp.slo } : {}),
    configFile: join(DIR, 'config.cjs'),
    // An ACS URL in the AuthnRequest that is not the SP's is not trusted.
    disableRequestAcsUrl: true,
  });
}

async function stop(quiet = false) {
  const pid = pidRunning();
  if (pid) {
    try { process.kill(-pid, 'SIGTERM'); } catch { process.kill(pid, 'SIGTERM'); }
    for (let i = 0; i < 50 && pidRunning(); i++) await new Promise((r) => setTimeout(r, 100));
    if (pidRunning()) process.kill(pid, 'SIGKILL');
    if (!quiet) console.log(`saml-idp-npm: stopped (pid ${pid})`);
  } else if (!quiet) {
    console.log('saml-idp-npm: not running');
  }
  rmSync(PIDFILE, { force: true });
}

async function status() {
  const pid = pidRunning();
  if (pid && (await up())) {
    console.log(`saml-idp-npm: running (pid ${pid}) on ${BASE}`);
    let sp = null;
    try { sp = { ...JSON.parse(readFileSync(SPFILE, 'utf8')) }; } catch { /* none */ }
    describe(sp);
  } else {
    console.log('saml-idp-npm: not running');
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cmd = process.argv[2];
  if (cmd === 'install') install();
  else if (cmd === 'start') await start();
  else if (cmd === 'stop') await stop();
  else if (cmd === 'status') await status();
  else if (cmd === 'restart') { await stop(true); await start(); }
  else if (cmd === 'serve') serve();
  else { console.error(`usage: ${process.argv[1]} install|start|stop|status|restart`); process.exit(2); }
}
