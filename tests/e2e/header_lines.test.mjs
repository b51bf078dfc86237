// The header lines of the Worker's shell (src/edge/header_lines.mjs), run in Node on the same
// web Response: what crosses from Rust comes out as the runtime's headers, in order, with its
// status and body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answer, headerLines, headerPairs, siteAnswer, siteHeaderLines, siteRequest } from '../../src/edge/header_lines.mjs';

const LINES = 'content-type\ntext/html; charset=utf-8\nset-cookie\na=1; Path=/\nset-cookie\nb=2\nx-empty\n\nlocation\n/login?return_to=%2F\n';

test('header lines read back in order, repeats and empty values kept', () => {
  assert.deepEqual(headerPairs(LINES), [
    ['content-type', 'text/html; charset=utf-8'], ['set-cookie', 'a=1; Path=/'], ['set-cookie', 'b=2'], ['x-empty', ''], ['location', '/login?return_to=%2F'],
  ]);
  assert.deepEqual(headerPairs(''), []);
  assert.equal(headerLines(new Headers([['a', '1'], ['b', '2']])), 'a\n1\nb\n2\n');
});

test('a line break in a header fails the request: it never crosses as other headers', () => {
  // The runtime refuses these; headers as something else might hand them on.
  const smuggling = [['x-note', 'a\ncookie\nsid=evil']];
  assert.throws(() => headerLines(smuggling), TypeError);
  assert.throws(() => headerLines([['x-a\nb', 'v']]), TypeError);
  assert.equal(headerLines([['x-note', 'tab\tand \x0b\x0c kept']]), 'x-note\ntab\tand \x0b\x0c kept\n');
});

test('an answer is the Response of its status, header lines and body', async () => {
  const res = answer(302, LINES, new TextEncoder().encode('moved'));
  assert.equal(res.status, 302);
  assert.deepEqual(res.headers.getSetCookie(), ['a=1; Path=/', 'b=2']);
  assert.equal(res.headers.get('location'), '/login?return_to=%2F');
  assert.equal(res.headers.get('x-empty'), '');
  assert.equal(await res.text(), 'moved');
});

test('no body for an empty or absent one; a status the runtime refuses throws, for Rust to see', async () => {
  assert.equal(answer(204, '', new Uint8Array(0)).body, null);
  assert.equal(answer(200, '', undefined).body, null);
  assert.throws(() => answer(99, '', undefined), RangeError);
});

test('a site request carries its method, URL, header lines and body, and never follows a redirect', async () => {
  const lines = 'accept\ntext/html\ncookie\na=1\nx-keyedge-user\nalice\n';
  const get = siteRequest('GET', 'https://site.test/docs/?q=1', lines, undefined);
  assert.equal(get.method, 'GET');
  assert.equal(get.url, 'https://site.test/docs/?q=1');
  assert.equal(get.redirect, 'manual');
  assert.deepEqual([...get.headers], [['accept', 'text/html'], ['cookie', 'a=1'], ['x-keyedge-user', 'alice']]);
  assert.equal(get.body, null);
  // Bytes (Rust's own copy out of wasm memory) as the body.
  const post = siteRequest('POST', 'https://site.test/form', 'content-type\napplication/x-www-form-urlencoded\n', new TextEncoder().encode('a=b'));
  assert.equal(await post.text(), 'a=b');
  assert.equal(post.redirect, 'manual');
  // A stream goes on as the stream it is.
  const stream = new ReadableStream({ start: (c) => { c.enqueue(new TextEncoder().encode('streamed')); c.close(); } });
  const put = siteRequest('PUT', 'https://site.test/up', '', stream);
  assert.equal(await put.text(), 'streamed');
  assert.throws(() => siteRequest('GET', 'https://site.test/', '', new Uint8Array([1])), TypeError, 'a GET with a body is refused, for Rust to see');
});

test("a site's answer's headers cross with each Set-Cookie on its own, none without getSetCookie", () => {
  const res = new Response('page', { headers: [['content-type', 'text/html'], ['set-cookie', 'a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT'], ['set-cookie', 'keyedge_session=x'], ['x-b', '2']] });
  assert.equal(siteHeaderLines(res), 'content-type\ntext/html\nx-b\n2\nset-cookie\na=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT\nset-cookie\nkeyedge_session=x\n');
  // A runtime whose headers cannot list each cookie hands none over, rather than a joined one.
  const joined = { headers: new Map([['content-type', 'text/html'], ['set-cookie', 'a=1, keyedge_session=x']]) };
  assert.equal(siteHeaderLines(joined), 'content-type\ntext/html\n');
});

test("a site's answer keeps its status, status text and body stream, with the marked headers", async () => {
  const site = new Response('the page', { status: 404, statusText: 'Gone Fishing', headers: [['x-site', '1']] });
  const res = siteAnswer(site, 'cache-control\nprivate, no-cache\nset-cookie\na=1\nset-cookie\nb=2\n');
  assert.equal(res.status, 404);
  assert.equal(res.statusText, 'Gone Fishing');
  assert.equal(res.headers.get('x-site'), null, 'only the marked headers');
  assert.equal(res.headers.get('cache-control'), 'private, no-cache');
  assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=2']);
  assert.equal(await res.text(), 'the page');
  assert.equal(siteAnswer(new Response(null, { status: 304 }), '').body, null);
});
