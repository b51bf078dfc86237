// The Worker shell's kept answers (src/edge/reuse.mjs), run in Node on the same web Request
// and Response: a kept answer is given only to a bodiless request of its method and path,
// each time whole and with that request's own id; nothing else is kept. (That such an answer
// is keyedge's answer to every such request is Rust's promise, tested natively:
// tests/it/pkce_and_keys.rs `a_reusable_answer_is_the_answer_to_every_bodiless_request_of_its_method_and_path`;
// oidc.test.mjs checks the shell under wrangler dev.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Answers, KEPT_MAX, keepAtStart, plainHead, requestId, reuseKey } from '../../src/edge/reuse.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DOC = new TextEncoder().encode('{"issuer":"https://keyedge.test"}');
const PAIRS = [['content-type', 'application/json'], ['cache-control', 'public, max-age=3600']];

function kept(url = 'https://keyedge.test/.well-known/openid-configuration', method = 'GET') {
  const answers = new Answers();
  answers.keep(new Request(url, { method }), 200, PAIRS, DOC);
  return answers;
}

test('the key is the method and the path, as Rust reads it: no query, no host', () => {
  assert.equal(reuseKey(new Request('https://keyedge.test/jwks?x=1')), 'GET /jwks');
  assert.equal(reuseKey(new Request('http://other.test:8080/jwks')), 'GET /jwks');
  assert.equal(reuseKey(new Request('https://keyedge.test/a%2Fb/c?d#e', { method: 'HEAD' })), 'HEAD /a%2Fb/c');
  assert.equal(reuseKey(new Request('https://keyedge.test')), 'GET /');
  assert.equal(reuseKey({ method: 'GET', url: 'no-authority' }), undefined);
  // An authority ended by a query or fragment has the path `/` for Rust: no key, no answer.
  assert.equal(reuseKey({ method: 'GET', url: 'http://a?x/jwks' }), undefined);
  assert.equal(reuseKey({ method: 'GET', url: 'http://a#x/jwks' }), undefined);
  assert.equal(reuseKey({ method: 'GET', url: 'http://a' }), undefined);
});

test('a kept answer is given again, whole each time, to the same method and path with any query, host or headers', async () => {
  const answers = kept();
  for (const [url, headers] of [
    ['https://keyedge.test/.well-known/openid-configuration', {}],
    ['https://keyedge.test/.well-known/openid-configuration?client_id=x', { cookie: 'a=b', origin: 'https://x.test' }],
    ['http://127.0.0.1:8787/.well-known/openid-configuration', { authorization: 'Bearer x' }],
  ]) {
    const res = answers.again(new Request(url, { headers }));
    assert.ok(res, url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=3600');
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), DOC, url);
  }
});

test('each answer given again carries its own request id: the ray id, else a fresh UUID', () => {
  const answers = kept();
  const url = 'https://keyedge.test/.well-known/openid-configuration';
  assert.equal(answers.again(new Request(url, { headers: { 'cf-ray': '8f00-LHR' } })).headers.get('x-request-id'), '8f00-LHR');
  const a = answers.again(new Request(url)).headers.get('x-request-id');
  const b = answers.again(new Request(url)).headers.get('x-request-id');
  assert.match(a, UUID);
  assert.match(b, UUID);
  assert.notEqual(a, b);
  assert.equal(requestId(new Request(url, { headers: { 'cf-ray': 'r' } })), 'r');
});

test('never given to another method or path, a request with a body or one declaring a length', () => {
  const answers = kept();
  const url = 'https://keyedge.test/.well-known/openid-configuration';
  assert.equal(answers.again(new Request(url, { method: 'HEAD' })), undefined);
  assert.equal(answers.again(new Request(`${url}/`)), undefined);
  assert.equal(answers.again(new Request('https://keyedge.test/jwks')), undefined);
  assert.equal(answers.again(new Request(url, { method: 'POST', body: 'x' })), undefined);
  assert.equal(answers.again(new Request(url, { headers: { 'content-length': '100000000' } })), undefined);
  const streamed = new ReadableStream({ pull: (c) => c.close() });
  assert.equal(answers.again(new Request(url, { method: 'POST', body: streamed, duplex: 'half' })), undefined);
});

test('an answer to a request with a body or a declared length is not kept', () => {
  const answers = new Answers();
  const url = 'https://keyedge.test/jwks';
  answers.keep(new Request(url, { method: 'POST', body: 'x' }), 200, PAIRS, DOC);
  answers.keep(new Request(url, { headers: { 'content-length': '0' } }), 200, PAIRS, DOC);
  assert.equal(answers.size, 0);
  assert.equal(answers.again(new Request(url)), undefined);
});

test('a head Rust refuses before any route (a control character, too many headers, a URL it will not parse) never gets a kept answer', () => {
  // The full path answers these 400, 431 and 500 (tests/e2e/attacks.test.mjs: a control
  // character gets its route's 400, discovery included): the shell leaves them to it.
  const answers = kept();
  const url = 'https://keyedge.test/.well-known/openid-configuration';
  // Headers as the runtime hands them on (Node's `Headers` refuses some of these values).
  const headers = (value) => ({ has: () => false, get: () => null, *[Symbol.iterator]() { yield ['x-note', value]; } });
  for (const bad of ['a\x01b', 'a\x7fb', 'a\x1fb', '\x00']) {
    const request = { method: 'GET', url, body: null, headers: headers(bad) };
    assert.equal(plainHead(request), false, JSON.stringify(bad));
    assert.equal(answers.again(request), undefined, JSON.stringify(bad));
  }
  assert.ok(answers.again({ method: 'GET', url, body: null, headers: headers('tab\tand latin-1 \xe9') }));
  const many = new Headers();
  for (let i = 0; i < 101; i++) many.set(`x-h${i}`, 'v');
  assert.equal(answers.again(new Request(url, { headers: many })), undefined);
  many.delete('x-h100');
  assert.ok(answers.again(new Request(url, { headers: many })));
  for (const odd of [`${url}?${'a'.repeat(8192)}`, `${url}?x={a}`, `${url}?x=a|b`]) {
    assert.equal(answers.again({ method: 'GET', url: odd, body: null, headers: new Headers() }), undefined, odd.slice(0, 80));
  }
  // Nor is an answer kept for such a head.
  const other = new Answers();
  other.keep({ method: 'GET', url, body: null, headers: headers('a\x01b') }, 200, PAIRS, DOC);
  assert.equal(other.size, 0);
});

test('only a 200 is kept, and a kept answer is never replaced', async () => {
  const answers = kept();
  answers.keep(new Request('https://keyedge.test/jwks'), 302, PAIRS, DOC);
  assert.equal(answers.size, 1);
  answers.keep(new Request('https://keyedge.test/.well-known/openid-configuration'), 200, [], new Uint8Array(0));
  const res = answers.again(new Request('https://keyedge.test/.well-known/openid-configuration'));
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), DOC);
});

test(`at most ${KEPT_MAX} answers are kept, and a kept one is never replaced`, async () => {
  const answers = new Answers();
  for (let i = 0; i < KEPT_MAX + 3; i++) answers.keep(new Request(`https://keyedge.test/p${i}`), 200, PAIRS, DOC);
  assert.equal(answers.size, KEPT_MAX);
  assert.equal(answers.again(new Request(`https://keyedge.test/p${KEPT_MAX}`)), undefined);
  answers.keep(new Request('https://keyedge.test/p0'), 500, [], null);
  const res = answers.again(new Request('https://keyedge.test/p0'));
  assert.equal(res.status, 200);
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), DOC);
});

test('an answer kept before any request (keepAt, as the shell keeps AtOnce.atStart) is given as a kept one is, with the same limits', async () => {
  const answers = new Answers();
  const url = 'https://keyedge.test/.well-known/openid-configuration';
  answers.keepAt('GET /.well-known/openid-configuration', 200, PAIRS, DOC);
  answers.keepAt('HEAD /jwks', 404, PAIRS, DOC);
  assert.equal(answers.size, 1, 'only a 200');
  const res = answers.again(new Request(`${url}?client_id=x`, { headers: { 'cf-ray': 'r1' } }));
  assert.equal(res.headers.get('x-request-id'), 'r1');
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), DOC);
  // Not to another method, a body, a declared length or a head Rust refuses.
  assert.equal(answers.again(new Request(url, { method: 'HEAD' })), undefined);
  assert.equal(answers.again(new Request(url, { method: 'POST', body: 'x' })), undefined);
  assert.equal(answers.again(new Request(url, { headers: { 'content-length': '0' } })), undefined);
  assert.equal(answers.again(new Request(`${url}?x={a}`)), undefined);
  // Never replaced, by a request's answer or another kept at start.
  answers.keep(new Request(url), 200, [], new Uint8Array(0));
  answers.keepAt('GET /.well-known/openid-configuration', 200, [], null);
  assert.deepEqual(new Uint8Array(await answers.again(new Request(url)).arrayBuffer()), DOC);
  // Within the same cap.
  for (let i = 0; i < KEPT_MAX + 2; i++) answers.keepAt(`GET /p${i}`, 200, PAIRS, DOC);
  assert.equal(answers.size, KEPT_MAX);
});

test('the answers made before any request are kept as the module loads, and a failure there keeps nothing more and throws nothing', async () => {
  const pairs = (lines) => lines.split('\n').slice(0, -1).reduce((a, v, i, all) => (i % 2 ? a : [...a, [v, all[i + 1]]]), []);
  const answers = new Answers();
  keepAtStart(answers, () => [['GET', '/.well-known/openid-configuration', 200, 'content-type\napplication/json\n', DOC], ['HEAD', '/.well-known/openid-configuration', 200, '', null]], pairs);
  assert.equal(answers.size, 2);
  const res = answers.again(new Request('https://keyedge.test/.well-known/openid-configuration'));
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), DOC);
  // A failure in Rust (a trap, a missing export) or in keeping: the module still loads.
  const none = new Answers();
  assert.doesNotThrow(() => keepAtStart(none, () => { throw new WebAssembly.RuntimeError('unreachable'); }, pairs));
  assert.equal(none.size, 0);
  const some = new Answers();
  function* oneThenFail() { yield ['GET', '/jwks', 200, '', DOC]; throw new Error('failed'); }
  assert.doesNotThrow(() => keepAtStart(some, oneThenFail, pairs));
  assert.equal(some.size, 1);
});
