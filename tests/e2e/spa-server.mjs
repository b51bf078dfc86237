// Serves the demo single-page app (tests/e2e/spa) and oidc-client-ts's browser build at
// http://localhost:3000 for the browser test.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

const ROOT = new URL('../..', import.meta.url).pathname;

export function startSpa(port = 3000) {
  const index = readFileSync(`${ROOT}tests/e2e/spa/index.html`);
  const lib = readFileSync(`${ROOT}node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js`);
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://localhost').pathname;
    if (path === '/oidc-client-ts.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(lib);
    } else if (path === '/' || path === '/spa-callback') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(index);
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
