// Reads .dev.vars (KEY="value" lines) for the dev scripts and tests.
import { readFileSync } from 'node:fs';

export function readDevVars(path = '.dev.vars') {
  const vars = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = line.match(/^([A-Z0-9_]+)="?(.*?)"?$/);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}
