// One Worker served as `wrangler dev` serves it, but without the dev inspector: wrangler's
// programmatic API (`unstable_startWorker`) with `inspector: false`, so no DevTools session
// is attached to the isolate (wrangler dev always attaches one: Runtime and Network events),
// as in production. bench/coldstart.mjs starts each cold start's Worker with it.
//
//   node bench/serve-quiet.mjs --config wrangler.toml --port 8787 [--ip 127.0.0.1] --persist-to DIR
//
// Prints `Ready on <url>` once the Worker serves; stops on SIGTERM.
import { execSync } from 'node:child_process';
import { unstable_readConfig, unstable_startWorker } from 'wrangler';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0 && fallback === undefined) throw new Error(`serve-quiet: ${name} is required`);
  return i < 0 ? fallback : args[i + 1];
};
// The configuration's build command, run here to its end before the Worker starts, where
// `wrangler dev` runs it (its `cwd`, else this directory). The API would run it too, but may
// report ready and then reload once it ends, so that the "first request" met a reload.
const config = opt('--config');
const { build } = unstable_readConfig({ config });
if (build?.command) execSync(build.command, { cwd: build.cwd ?? process.cwd(), stdio: ['ignore', 2, 2] });
const worker = await unstable_startWorker({
  config,
  build: {
    custom: { command: '' },
    // What `wrangler dev` derives from the configuration's flags (the API does not by itself).
    nodejsCompatMode: (c) => ((c.compatibility_flags ?? []).some((f) => f.startsWith('nodejs_compat')) ? 'v2' : null),
  },
  dev: {
    inspector: false,
    server: { hostname: opt('--ip', 'localhost'), port: Number(opt('--port')) },
    persist: opt('--persist-to'),
    watch: false,
    logLevel: 'warn',
  },
});
await worker.ready;
console.log(`Ready on ${await worker.url}`);
const stop = async () => {
  await worker.dispose();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
