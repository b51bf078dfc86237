// The gate in front of an origin server (dev/keyedge.origin.toml, `make worker-origin`): keyedge
// at http://localhost:8796 sends every page to a web server of this test's own at
// 127.0.0.1:9096 with identity headers (a signed assertion on public pages). A redirect from
// the origin must reach the browser as it was given, never be followed by the Worker: following
// it would send the visitor's cookies and keyedge's identity assertion to wherever the origin
// points (an open redirect on the site is enough), and serve that answer on keyedge's origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startWorker } from './servers.mjs';

const KEYEDGE = 'http://localhost:8796';
const ELSEWHERE = 'http://127.0.0.1:9095';
/** What the origin and the elsewhere server were sent: `{ path, headers }` each. */
const atOrigin = [];
const atElsewhere = [];
let origin;
let elsewhere;
let worker;

const listen = (server, port) => new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});

before(async () => {
  origin = createServer((req, res) => {
    atOrigin.push({ path: req.url, headers: req.headers });
    if (req.url === '/dir') {
      // A directory's canonical address, built from the host the origin was sent: its own.
      res.writeHead(301, { location: `http://${req.headers.host}/dir/` });
      res.end();
      return;
    }
    if (req.url.startsWith('/out')) {
      // An open redirect on the site.
      res.writeHead(302, { location: `${ELSEWHERE}/collect`, 'content-type': 'text/plain' });
      res.end('moved');
      return;
    }
    if (req.url === '/cookies') {
      // A site setting cookies of its own, and trying to plant or clear keyedge's.
      res.writeHead(200, {
        'content-type': 'text/plain',
        'x-site': 'kept',
        'set-cookie': [
          'theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/',
          '__Host-keyedge_session=planted; Path=/; Secure',
          'KEYEDGE_pass=; Max-Age=0',
          'lang=en',
        ],
      });
      res.end('cookies');
      return;
    }
    if (req.url === '/echo') {
      // A form the site handles itself: its method and body as they arrived.
      let body = '';
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`${req.method} ${req.headers['content-type']} ${body}`);
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<h1>the origin</h1>');
  });
  elsewhere = createServer((req, res) => {
    atElsewhere.push({ path: req.url, headers: req.headers });
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<script>/* the attacker\'s page */</script>');
  });
  await listen(origin, 9096);
  await listen(elsewhere, 9095);
  worker = await startWorker({
    target: 'worker-origin', config: 'dev/wrangler.origin.toml', port: 8796, inspector: 9259,
    url: `${KEYEDGE}/.well-known/openid-configuration`,
  });
});

after(() => {
  worker?.stop();
  origin?.close();
  elsewhere?.close();
});

test('a public page of the origin is served with keyedge\'s identity assertion', async () => {
  const res = await fetch(`${KEYEDGE}/hello`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /the origin/);
  const seen = atOrigin.find((r) => r.path === '/hello');
  assert.ok(seen, 'the origin was asked for the page');
  assert.ok(seen.headers['x-keyedge-assertion'], 'a public page carries the assertion');
});

test('a redirect from the origin reaches the browser unfollowed: nothing is sent where it points', async () => {
  const res = await fetch(`${KEYEDGE}/out?to=there`, { redirect: 'manual', headers: { cookie: 'site_pref=dark' } });
  assert.equal(res.status, 302, await res.clone().text());
  assert.equal(res.headers.get('location'), `${ELSEWHERE}/collect`);
  assert.equal(await res.text(), 'moved');
  const seen = atOrigin.find((r) => r.path === '/out?to=there');
  assert.ok(seen?.headers['x-keyedge-assertion'], 'the origin got the request, with the assertion');
  assert.equal(seen.headers.cookie, 'site_pref=dark');
  // Give a followed request time to arrive, were there one.
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(atElsewhere, [], 'the Worker sent nothing where the origin pointed');
});

test('a redirect to the origin\'s own address sends the browser to the same page on keyedge\'s site', async () => {
  const res = await fetch(`${KEYEDGE}/dir`, { redirect: 'manual' });
  assert.equal(res.status, 301);
  assert.equal(res.headers.get('location'), `${KEYEDGE}/dir/`);
});

test('a form posted to a site page reaches the origin with its method, type and body', async () => {
  const res = await fetch(`${KEYEDGE}/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'name=alice&note=a+b%26c',
  });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'POST application/x-www-form-urlencoded name=alice&note=a+b%26c');
});

test('a method that names a second path (WebDAV MOVE, COPY) is refused and never reaches the origin', async () => {
  for (const method of ['MOVE', 'COPY', 'PROPFIND', 'PURGE']) {
    const before = atOrigin.length;
    const res = await fetch(`${KEYEDGE}/echo`, {
      method, headers: { destination: `${KEYEDGE}/staff/payroll.html` }, redirect: 'manual',
    });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS', method);
    assert.match(await res.text(), /does not take/, method);
    assert.equal(atOrigin.length, before, `${method} reached the origin`);
  }
  const put = await fetch(`${KEYEDGE}/echo`, { method: 'PUT', body: 'x' });
  assert.equal(await put.text(), 'PUT text/plain;charset=UTF-8 x');
});

test("the origin's cookies reach the browser each on its own, never one naming keyedge's", async () => {
  const res = await fetch(`${KEYEDGE}/cookies`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'cookies');
  assert.equal(res.headers.get('x-site'), 'kept');
  assert.deepEqual(res.headers.getSetCookie(), ['theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/', 'lang=en']);
});
