import { DurableObject } from 'cloudflare:workers';
import { headerLines, headerPairs, siteAnswer, siteHeaderLines, siteRequest } from '../../../src/edge/header_lines.mjs';
import { Answers } from '../../../src/edge/reuse.mjs';

// The floor: what any Worker pays under the same wrangler dev/workerd before doing anything,
// and what each platform operation costs there. `/` answers a constant JSON document; the
// other paths do one operation first — a KV read, a KV write, a Durable Object RPC call (one
// SQLite write inside it), an outbound fetch, a page from the ASSETS binding (with
// wrangler.assets.toml; with wrangler.gate.toml, `/page` answers with the example site's
// page behind keyedge's gate, its request and answer made anew as a gate's are), one WebCrypto signature (RS256 with a 2048-bit key, ES256), what
// keyedge's JavaScript shell does around an answer made at once (`/shell`), or
// (`/mix`) the KV, Durable Object and fetch calls of one keyedge scenario together — so
// `make bench` can tell keyedge's own CPU from the local simulation of KV and Durable Objects,
// which production runs outside the Worker, and from the signatures, which are the runtime's
// own BoringSSL work.
const body = JSON.stringify({ issuer: 'http://127.0.0.1:8791', keys: [] });
const payload = new TextEncoder().encode('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmbG9vciJ9');
const keys = {};
const ALGS = {
  rs256: [{ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, { name: 'RSASSA-PKCS1-v1_5' }],
  es256: [{ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }],
};
// Named apart from WebCrypto's own `sign` and `verify`, which profiles count as WebCrypto.
async function signWith(alg) {
  keys[alg] ??= await crypto.subtle.generateKey(ALGS[alg][0], false, ['sign', 'verify']);
  return crypto.subtle.sign(ALGS[alg][1], keys[alg].privateKey, payload);
}
let signed = null;
/** One RS256 signature checked, as keyedge checks an upstream ID token's. */
async function checkRs256() {
  signed ??= await signWith('rs256');
  if (!(await crypto.subtle.verify(ALGS.rs256[1], keys.rs256.publicKey, signed, payload))) throw new Error('the signature does not verify');
}

// Called over RPC, as keyedge calls its Durable Object (src/edge/worker.mjs).
export class Probe extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v TEXT)');
  }

  call(op) {
    this.sql.exec('INSERT OR REPLACE INTO t (k, v) VALUES (?, ?)', 'k', op);
    return '{}';
  }

  /** A call that only reads, as keyedge's reads of a record or a mark are. */
  read(key) {
    return JSON.stringify(this.sql.exec('SELECT v FROM t WHERE k = ?', key).toArray());
  }
}

// `/shell`: what keyedge's JavaScript shell does around its one wasm call for an answer made
// at once (src/edge/worker.mjs: `headerLines`, `AtOnce.plan`, `headerPairs` from
// src/edge/header_lines.mjs, the same code, and `new Response`),
// with the wasm call replaced by keyedge's discovery answer as it comes back (its body bytes
// copied out, its header lines, a request id from `crypto.randomUUID`, as keyedge's local
// request id is). `make bench` prices it against `/`: of keyedge's discovery share, what is
// not its wasm.
const SHELL_BODY = new TextEncoder().encode(JSON.stringify({ document: 'x'.repeat(1679) }));
const KEPT_LINES = 'content-type\napplication/json\naccess-control-allow-origin\n*\ncache-control\npublic, max-age=3600\n'
  + 'access-control-expose-headers\nWWW-Authenticate\nx-content-type-options\nnosniff\n';
const SHELL_LINES = `${KEPT_LINES}x-request-id\n`;
function shell(request) {
  // What the wasm call is handed: the method, the URL and the lines (read, as it reads them).
  const lines = headerLines(request.headers);
  if (request.method.length + request.url.length + lines.length === 0) return new Response(null, { status: 400 });
  return new Response(SHELL_BODY.slice(), { status: 200, headers: headerPairs(`${SHELL_LINES}${crypto.randomUUID()}\n`) });
}

// `/again`: what keyedge's shell does for a request it answers with a kept answer
// (src/edge/worker.mjs, `Answers.again` from src/edge/reuse.mjs, the same code): the discovery
// answer above, kept as the shell keeps it. `make bench` prices it against `/`: after an
// isolate's first, what keyedge's discovery document and JWKS cost beyond a constant answer.
const kept = new Answers();
kept.keep(new Request('http://floor/again'), 200, headerPairs(KEPT_LINES), SHELL_BODY);

// Writes and calls spread over 64 keys and objects, each call to the next (so the calls of one
// `/mix` go to different objects, as a keyedge login's do). `/mix?…&dobj=N` sends its writing
// Durable Object calls to object N and `qobj=N` its reading ones (0–64; bench/steps.mjs: a
// login's code goes to a random one of keyedge's objects in the callback and is taken from the
// same one at /token, and the demo user's record is always in the same one, so a twin's
// objects stop and start as keyedge's do when no call reaches them for 10 s).
let calls = 0;
const next = () => calls++ % 64;
/** The object a `/mix` parameter names, or `next` where it names none. */
function objectOf(url, name) {
  const v = url.searchParams.get(name);
  if (v === null) return next;
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 0 && n <= 64)) throw new RangeError(`${name}=${v}: 0 to 64`);
  return () => n;
}

/**
 * One KV read, KV write, Durable Object call (`d` writes, `q` only reads), outbound fetch or
 * RS256 signature (`s`, bench/steps.mjs: a login step's twin signs as the step does) or
 * RS256 signature checked (`v`).
 */
const OPS = {
  r: (env) => env.KV.get('key'),
  w: (env) => env.KV.put(`key-${next()}`, 'value'),
  d: (env, at) => env.PROBE.get(env.PROBE.idFromName(`o${at.d()}`)).call(String(Date.now())),
  q: (env, at) => env.PROBE.get(env.PROBE.idFromName(`o${at.q()}`)).read('k'),
  f: async (env) => (await fetch(env.ECHO_URL)).text(),
  s: () => signWith('rs256'),
  v: () => checkRs256(),
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const path = url.pathname;
    // `/mix?r=2&d=1&q=1`: a scenario's platform calls in one request (`make bench` measures it
    // in turns with the keyedge scenario that makes them): `r` KV reads, `w` KV writes, `d`
    // Durable Object calls that write, `q` that only read, `f` outbound fetches, `s` RS256
    // signatures, `v` RS256 signatures checked, one after another; at most 8 of each.
    if (path === '/mix') {
      let at;
      try {
        at = { d: objectOf(url, 'dobj'), q: objectOf(url, 'qobj') };
      } catch (e) {
        return new Response(e.message, { status: 400 });
      }
      for (const [op, run] of Object.entries(OPS)) {
        const count = Number(url.searchParams.get(op) ?? 0);
        if (!(count >= 0 && count <= 8)) return new Response(`${op}=${count}: 0 to 8`, { status: 400 });
        for (let i = 0; i < count; i++) await run(env, at);
      }
    } else if (path === '/kv-read') await OPS.r(env);
    else if (path === '/kv-write') await OPS.w(env);
    else if (path === '/do') await OPS.d(env, { d: next });
    else if (path === '/fetch') await OPS.f(env);
    else if (path === '/rs256') await signWith('rs256');
    else if (path === '/es256') await signWith('es256');
    else if (path === '/asset') await (await env.ASSETS.fetch('http://floor/page.html')).text();
    // The gate's twin (wrangler.gate.toml): the gated visitor's page from ASSETS, with the
    // platform work any gate does around it, and keyedge's shell does with these same
    // functions (src/edge/header_lines.mjs): the site's request made anew with the visitor's
    // headers (a gate takes its own cookies off it), the answer made anew with the site's
    // headers (a gate marks a protected page private). None of the gate's decisions.
    else if (path === '/page') {
      const site = siteRequest(request.method, new URL('/docs/', request.url).href, headerLines(request.headers), undefined);
      const res = await env.ASSETS.fetch(site);
      return siteAnswer(res, siteHeaderLines(res));
    }
    else if (path === '/shell') return shell(request);
    else if (path === '/again') return kept.again(request) ?? new Response('not kept', { status: 500 });
    return new Response(body, { headers: { 'content-type': 'application/json' } });
  },
};
