// Debian's Chromium driven by playwright-core, for the browser tests, where they save their
// screenshots, and the accessibility scan (axe-core) of a page.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const axeSource = createRequire(import.meta.url)('axe-core').source;

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

/**
 * Runs axe-core (WCAG 2.x A and AA rules, and axe's best practices) on the page as it is and
 * fails on any violation of impact `serious` or `critical`; prints every violation and saves
 * the full result to test-artifacts/axe-{name}.json. keyedge's CSP allows no inline script,
 * so axe is evaluated through the DevTools protocol (page.evaluate), which the CSP does not
 * govern; the page itself is unchanged.
 */
export async function assertAccessible(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => globalThis.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    resultTypes: ['violations', 'incomplete'],
  }));
  writeFileSync(`${ARTIFACTS}axe-${name}.json`, JSON.stringify(result.violations, null, 2));
  // axe really looked at the page (a scan that checked nothing would pass anything).
  assert.ok(result.passes.length > 10, `${name}: axe checked only ${result.passes.length} rules`);
  console.log(`axe ${name}: ${result.passes.length} rules passed, ${result.violations.length} violated, ${result.incomplete.length} to review by hand`);
  for (const v of result.incomplete) console.log(`axe ${name}: to review: ${v.impact} ${v.id} (${v.nodes.length}×)`);
  for (const v of result.violations) {
    console.log(`axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length}×: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`);
  }
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
    `${name}: serious accessibility violations (${page.url()})`);
  return result.violations;
}
