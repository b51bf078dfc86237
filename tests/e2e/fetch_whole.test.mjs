// The Worker's outbound request helper (src/edge/fetch_whole.js), run in Node against a real
// HTTP server: the request as given, the answer whole, and the upstream IdP's `http_timeout`
// holding while the answer's head or its body is still awaited. Under wrangler dev every
// upstream call of the end-to-end logins goes through it too; an IdP slower than its timeout
// is only reached here and in the native harness (tests/it/upstream_faults.rs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { fetchWhole } from '../../src/edge/fetch_whole.js';
import { headerPairs } from '../../src/edge/header_lines.mjs';

let server;
let base;
const seen = [];

before(async () => {
  server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      if (req.url === '/answer') {
        res.writeHead(201, [['content-type', 'application/json'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-idp', 'demo']]);
        res.end('{"access_token":"t"}');
      } else if (req.url === '/moved') {
        res.writeHead(307, { location: `${base}/elsewhere` });
        res.end();
      } else if (req.url === '/slow-head') {
        setTimeout(() => res.end('late'), 3000).unref();
      } else if (req.url === '/slow-body') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part');
        setTimeout(() => res.end(' rest'), 3000).unref();
      } else {
        res.end('ok');
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

const bytes = (text) => new TextEncoder().encode(text);
const last = () => seen[seen.length - 1];

test('the answer comes back whole: status, every header (each Set-Cookie apart) and the body', async () => {
  const [status, headers, body] = await fetchWhole(globalThis, `${base}/answer`, 'GET', 'accept\napplication/json\n', new Uint8Array(0), 5);
  assert.equal(status, 201);
  const pairs = headerPairs(headers);
  assert.deepEqual(pairs.filter(([n]) => n === 'set-cookie'), [['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
  assert.deepEqual(pairs.find(([n]) => n === 'x-idp'), ['x-idp', 'demo']);
  assert.ok(body instanceof Uint8Array);
  assert.equal(new TextDecoder().decode(body), '{"access_token":"t"}');
  assert.equal(last().headers.accept, 'application/json');
});

test('the method, headers and body are sent as given, the body copied when the call is made', async () => {
  const body = bytes('grant_type=authorization_code&code=abc');
  const pending = fetchWhole(globalThis, `${base}/token`, 'POST', 'content-type\napplication/x-www-form-urlencoded\nauthorization\nBasic a2V5ZWRnZTpz\n', body, 5);
  // wasm memory behind the view may be reused as soon as the call returns
  body.fill(0);
  const [status] = await pending;
  assert.equal(status, 200);
  assert.equal(last().method, 'POST');
  assert.equal(last().body, 'grant_type=authorization_code&code=abc');
  assert.equal(last().headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(last().headers.authorization, 'Basic a2V5ZWRnZTpz');
});

test('an empty body is sent as none (a GET may carry none)', async () => {
  const [status] = await fetchWhole(globalThis, `${base}/plain`, 'GET', '', new Uint8Array(0), 0);
  assert.equal(status, 200);
  assert.equal(last().body, '');
  assert.equal(last().headers['content-length'], undefined);
});

test('no answer within the time: null, after that time and not much later', async () => {
  const started = performance.now();
  assert.equal(await fetchWhole(globalThis, `${base}/slow-head`, 'GET', '', new Uint8Array(0), 1), null);
  const took = performance.now() - started;
  assert.ok(took >= 950 && took < 2500, `took ${took} ms`);
});

test('a body still arriving when the time runs out: null too (the time covers the whole answer)', async () => {
  const started = performance.now();
  assert.equal(await fetchWhole(globalThis, `${base}/slow-body`, 'GET', '', new Uint8Array(0), 1), null);
  assert.ok(performance.now() - started < 2500);
});

test('without a time, a slow answer is waited for', async () => {
  const [, , body] = await fetchWhole(globalThis, `${base}/slow-body`, 'GET', '', new Uint8Array(0), 0);
  assert.equal(new TextDecoder().decode(body), 'part rest');
});

test('a request that fails before the time is up is an error, not a timeout', async () => {
  const closed = createServer();
  await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${closed.address().port}/`;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(fetchWhole(globalThis, url, 'GET', '', new Uint8Array(0), 5));
});

test('the target is whatever fetches: a binding such as ASSETS is called as its own fetch', async () => {
  const calls = [];
  const assets = {
    fetch(url, init) {
      calls.push([this, url, init.method]);
      return Promise.resolve(new Response('<p>page</p>', { status: 200, headers: { 'content-type': 'text/html' } }));
    },
  };
  const [status, , body] = await fetchWhole(assets, 'http://site/index.html', 'GET', '', new Uint8Array(0), 0);
  assert.equal(status, 200);
  assert.equal(new TextDecoder().decode(body), '<p>page</p>');
  assert.deepEqual(calls, [[assets, 'http://site/index.html', 'GET']]);
});

test('whatever goes wrong while the request is made is a rejection, never a throw into the caller (wasm)', async () => {
  let answer;
  assert.doesNotThrow(() => {
    answer = fetchWhole(globalThis, `${base}/plain`, 'GET', '', null, 5);
  });
  await assert.rejects(answer);
});

test('an answer over the limit is refused, whether its length is declared or it is streamed, and the rest not read', async () => {
  const big = 'x'.repeat(64 * 1024);
  const limited = createServer((req, res) => {
    if (req.url === '/declared') {
      res.writeHead(200, { 'content-length': String(big.length) });
      res.end(big);
    } else {
      // chunked, no declared length; more pieces than the limit needs, slowly
      res.writeHead(200, { 'content-type': 'text/plain' });
      let sent = 0;
      const more = () => {
        if (res.destroyed || sent === 64) return res.end();
        sent += 1;
        res.write('y'.repeat(1024), () => setTimeout(more, 2));
      };
      more();
      limited.sent = () => sent;
    }
  });
  await new Promise((resolve) => limited.listen(0, '127.0.0.1', resolve));
  const at = `http://127.0.0.1:${limited.address().port}`;
  try {
    await assert.rejects(fetchWhole(globalThis, `${at}/declared`, 'GET', '', new Uint8Array(0), 5, 1024), /larger than 1024 bytes/);
    await assert.rejects(fetchWhole(globalThis, `${at}/streamed`, 'GET', '', new Uint8Array(0), 5, 4 * 1024), /larger than 4096 bytes/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(limited.sent() < 64, `the server wrote ${limited.sent()} of 64 pieces`);
    // within the limit, declared or not: read whole
    const [, , declared] = await fetchWhole(globalThis, `${at}/declared`, 'GET', '', new Uint8Array(0), 5, big.length);
    assert.equal(declared.byteLength, big.length);
    const [, , streamed] = await fetchWhole(globalThis, `${at}/streamed`, 'GET', '', new Uint8Array(0), 5, 64 * 1024);
    assert.equal(streamed.byteLength, 64 * 1024);
  } finally {
    limited.closeAllConnections();
    limited.close();
  }
});

test('a redirect is the answer, never followed: the secret and the body go nowhere else', async () => {
  const body = bytes('grant_type=authorization_code&code=abc&client_secret=s');
  const [status, headers] = await fetchWhole(globalThis, `${base}/moved`, 'POST', 'authorization\nBasic a2V5ZWRnZTpz\n', body, 5);
  assert.equal(status, 307);
  assert.deepEqual(headerPairs(headers).find(([n]) => n === 'location'), ['location', `${base}/elsewhere`]);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(!seen.some((r) => r.url === '/elsewhere'), 'nothing was sent where the redirect points');
});
