// Debian's Chromium driven by playwright-core, for the browser tests, and where they save
// their screenshots.
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;

export async function launchChromium() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Registers node:test hooks that start keyedge with its upstreams and Chromium before the
 * file's tests and stop them after; returns an object whose `browser` and `servers` are set
 * once started.
 */
export function withServersAndChromium({ before, after }, startServers) {
  const env = { servers: undefined, browser: undefined };
  before(async () => {
    env.servers = await startServers();
    env.browser = await launchChromium();
  });
  after(async () => {
    await env.browser?.close();
    env.servers?.stop();
  });
  return env;
}
