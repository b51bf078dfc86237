// The cold-start harness of `make bench` (bench/coldstart.mjs), on the floor Worker: a fresh
// workerd is started without a DevTools inspector (bench/serve-quiet.mjs), as a production
// isolate runs (`wrangler dev` always attaches one), and its first and warm requests are
// timed, the first one's CPU to the nanosecond.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

test('a cold start is measured on an isolate without an inspector', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coldstart-test-'));
  try {
    const out = join(dir, 'coldstart.json');
    execFileSync('node', ['bench/coldstart.mjs', '--rounds', '1', '--only', 'floor', '--json', out], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 120_000,
    });
    const floor = JSON.parse(readFileSync(out, 'utf8')).floor;
    assert.equal(floor.inspector, false);
    assert.equal(floor.rounds, 1);
    assert.ok(floor.first_request_ms > 0 && floor.warm_request_ms > 0, JSON.stringify(floor));
    // The first request's CPU is the workerd threads' run time in nanoseconds, not 10 ms clock
    // ticks (a tick count reads 0 or 10 ms for a request of a few milliseconds).
    // A kernel without schedstat (none known to this project's machines) gets ticks, said so.
    const schedstat = existsSync('/proc/self/schedstat');
    assert.equal(floor.cpu_clock, schedstat ? 'schedstat' : 'ticks');
    const cpu = floor.first_request_cpu_ms;
    if (schedstat) assert.ok(cpu > 0 && cpu < 1000 && cpu % 10 !== 0, JSON.stringify(floor));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
