import { DurableObject } from 'cloudflare:workers';

// The floor: what any Worker pays under the same wrangler dev/workerd before doing anything,
// and what each platform operation costs there. `/` answers a constant JSON document; the
// other paths do one operation first — a KV read, a KV write, a Durable Object RPC call (one
// SQLite write inside it), an outbound fetch, a page from the ASSETS binding (with
// wrangler.assets.toml), one WebCrypto signature (RS256 with a 2048-bit key, ES256) — so
// `make bench` can tell keyedge's own CPU from the local simulation of KV and Durable Objects,
// which production runs outside the Worker, and from the signatures, which are the runtime's
// own BoringSSL work.
const body = JSON.stringify({ issuer: 'http://127.0.0.1:8791', keys: [] });
const payload = new TextEncoder().encode('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmbG9vciJ9');
let n = 0;
const keys = {};
const ALGS = {
  rs256: [{ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, { name: 'RSASSA-PKCS1-v1_5' }],
  es256: [{ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }],
};
async function sign(alg) {
  keys[alg] ??= await crypto.subtle.generateKey(ALGS[alg][0], false, ['sign', 'verify']);
  return crypto.subtle.sign(ALGS[alg][1], keys[alg].privateKey, payload);
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
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    n += 1;
    if (path === '/kv-read') await env.KV.get('key');
    else if (path === '/kv-write') await env.KV.put(`key-${n % 64}`, 'value');
    else if (path === '/do') await env.PROBE.get(env.PROBE.idFromName(`o${n % 64}`)).call(String(Date.now()));
    else if (path === '/fetch') await (await fetch(env.ECHO_URL)).text();
    else if (path === '/rs256') await sign('rs256');
    else if (path === '/es256') await sign('es256');
    else if (path === '/asset') await (await env.ASSETS.fetch('http://floor/page.html')).text();
    return new Response(body, { headers: { 'content-type': 'application/json' } });
  },
};
