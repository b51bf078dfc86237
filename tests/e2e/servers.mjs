// Starts the demo upstream IdPs, the social login stand-ins (dev/social-standins.mjs) and
// keyedge (`wrangler dev` on the real wasm build, fresh local KV/Durable Object state) for the
// end-to-end tests, and stops them afterwards.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDevVars } from '../../dev/vars.mjs';

export const KEYEDGE = 'http://localhost:8787';
export const IDP = 'http://localhost:9090';
export const PARTNER = 'http://localhost:9091';
/** The social login stand-ins, one path prefix per preset (`${STANDINS}/github`, …). */
export const STANDINS = 'http://localhost:9092';
/** The partner IdP's access tokens live this long, so tests can watch them expire. */
export const PARTNER_ACCESS_TTL = 15;
const ROOT = new URL('../..', import.meta.url).pathname;

const portBusy = (port) => new Promise((resolve) => {
  const s = connect(port, '127.0.0.1');
  s.on('connect', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

async function waitFor(url, child, log, seconds = 120) {
  for (let i = 0; i < seconds * 4; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: server exited\n${log.join('')}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${url}\n${log.join('')}`);
}

function start(cmd, args, env) {
  const log = [];
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout.on('data', (d) => log.push(d.toString()));
  child.stderr.on('data', (d) => log.push(d.toString()));
  return { child, log };
}

/** Starts the servers; returns { vars, stop, logs, idpLogs, standinLogs }. */
export async function startServers() {
  for (const port of [8787, 9090, 9091, 9092]) {
    if (await portBusy(port)) throw new Error(`port ${port} is in use (is \`make dev\` running?); stop it and run the tests again`);
  }
  const state = mkdtempSync(join(tmpdir(), 'keyedge-e2e-'));
  // The demo signs PS256 and the partner ES384: the Worker checks both with WebCrypto (it has
  // no P-384 code, and without SAML no RSA code either).
  const idp = start('node', ['dev/demo-idp.mjs'], { IDP_ID_TOKEN_ALG: 'PS256' });
  const partner = start('node', ['dev/demo-idp.mjs'], {
    IDP_ALIAS: 'partner', IDP_NAME: 'Partner IdP', IDP_PORT: '9091', IDP_CLIENT_AUTH: 'private_key_jwt',
    IDP_ACCESS_TTL: String(PARTNER_ACCESS_TTL), IDP_ID_TOKEN_ALG: 'ES384',
  });
  const standins = start('node', ['dev/social-standins.mjs'], {});
  const wrangler = start(join(ROOT, 'node_modules/.bin/wrangler'),
    ['dev', '--config', 'dev/wrangler.toml', '--port', '8787', '--persist-to', state, '--show-interactive-dev-session=false'],
    { KEYEDGE_CONFIG: 'dev/keyedge.dev.toml', WRANGLER_SEND_METRICS: 'false' });
  const stop = () => {
    for (const { child } of [idp, partner, standins, wrangler]) {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
    }
    rmSync(state, { recursive: true, force: true });
  };
  try {
    await waitFor(`${IDP}/.well-known/openid-configuration`, idp.child, idp.log);
    await waitFor(`${PARTNER}/.well-known/openid-configuration`, partner.child, partner.log);
    await waitFor(`${STANDINS}/`, standins.child, standins.log);
    await waitFor(`${KEYEDGE}/.well-known/openid-configuration`, wrangler.child, wrangler.log);
  } catch (e) {
    stop();
    throw e;
  }
  return {
    vars: readDevVars(join(ROOT, '.dev.vars')), stop, logs: () => wrangler.log.join(''),
    idpLogs: () => idp.log.join('') + partner.log.join(''),
    standinLogs: () => standins.log.join(''),
  };
}

/**
 * keyedge's issuer in tests/e2e/realm.test.mjs: a Keycloak realm's shape. Its own ports (keyedge
 * 8797, the demo IdP 9097), so it never meets the other tests' servers.
 */
export const REALM = 'http://localhost:8797/realms/acme';
export const REALM_IDP = 'http://localhost:9097';

/**
 * Starts the demo IdP (registered against the realm's broker endpoint) and keyedge with a
 * Keycloak realm's issuer (dev/wrangler.realm.toml, dev/keyedge.realm.toml); returns
 * { vars, stop, logs }.
 */
export async function startRealmServers() {
  if (await portBusy(9097)) throw new Error('port 9097 is in use; stop what runs there and run the tests again');
  const idp = start('node', ['dev/demo-idp.mjs'], { KEYEDGE_URL: REALM, IDP_PORT: '9097' });
  let worker;
  try {
    await waitFor(`${REALM_IDP}/.well-known/openid-configuration`, idp.child, idp.log);
    worker = await startWorker({
      target: 'worker-realm', config: 'dev/wrangler.realm.toml', port: 8797, inspector: 9239,
      url: `${REALM}/.well-known/openid-configuration`,
    });
  } catch (e) {
    try { process.kill(-idp.child.pid, 'SIGTERM'); } catch { /* already gone */ }
    throw e;
  }
  const stop = () => {
    worker.stop();
    try { process.kill(-idp.child.pid, 'SIGTERM'); } catch { /* already gone */ }
  };
  return { vars: readDevVars(join(ROOT, '.dev.vars')), stop, logs: () => worker.logs() + idp.log.join('') };
}

/**
 * Builds one of the Workers with a configuration of its own (`make target`, into build-NAME/)
 * and starts it under `wrangler dev --config config` on `port` with fresh local storage; waits
 * until `url` gets any answer (an error page counts). `also`: more Workers' wrangler
 * configurations, run in the same `wrangler dev` and reachable only through bindings; `env`:
 * environment for the build and wrangler. Returns { stop, logs }.
 */
export async function startWorker({ target, config, port, inspector, url, also = [], env = {} }) {
  if (await portBusy(port)) throw new Error(`port ${port} is in use; stop what runs there and run the tests again`);
  const built = spawnSync('make', ['--no-print-directory', target], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  if (built.status !== 0) throw new Error(`make ${target} failed\n${built.stdout}${built.stderr}`);
  const state = mkdtempSync(join(tmpdir(), `keyedge-${target}-`));
  const wrangler = start(join(ROOT, 'node_modules/.bin/wrangler'),
    ['dev', '--config', config, ...also.flatMap((c) => ['--config', c]), '--port', String(port),
      '--inspector-port', String(inspector), '--persist-to', state, '--show-interactive-dev-session=false'],
    { WRANGLER_SEND_METRICS: 'false', ...env });
  const stop = () => {
    try { process.kill(-wrangler.child.pid, 'SIGTERM'); } catch { /* already gone */ }
    rmSync(state, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (wrangler.child.exitCode !== null || i > 480) {
      stop();
      throw new Error(`${url}: wrangler did not answer\n${wrangler.log.join('')}`);
    }
    try {
      await fetch(url);
      break;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { stop, logs: () => wrangler.log.join('') };
}
