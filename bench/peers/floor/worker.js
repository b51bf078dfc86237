// The floor: what any Worker pays under the same wrangler dev/workerd before doing anything,
// and what each platform operation costs there. `/` answers a constant JSON document; the
// other paths do one operation first — a KV read, a KV write, a Durable Object call (one
// SQLite write inside it), an outbound fetch — so `make bench` can tell keyedge's own CPU from
// the local simulation of KV and Durable Objects, which production runs outside the Worker.
const body = JSON.stringify({ issuer: 'http://127.0.0.1:8791', keys: [] });
let n = 0;

export class Probe {
  constructor(state) {
    this.sql = state.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v TEXT)');
  }

  async fetch() {
    this.sql.exec('INSERT OR REPLACE INTO t (k, v) VALUES (?, ?)', 'k', String(Date.now()));
    return new Response('{}');
  }
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    n += 1;
    if (path === '/kv-read') await env.KV.get('key');
    else if (path === '/kv-write') await env.KV.put(`key-${n % 64}`, 'value');
    else if (path === '/do') await (await env.PROBE.get(env.PROBE.idFromName(`o${n % 64}`)).fetch('http://probe/')).text();
    else if (path === '/fetch') await (await fetch(env.ECHO_URL)).text();
    return new Response(body, { headers: { 'content-type': 'application/json' } });
  },
};
