// Serves the demo single-page app (tests/e2e/spa) and oidc-client-ts's browser build at
// http://localhost:3000 for the browser test.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * `authority` and `clientId` replace the page's (keyedge at the root, `demo-spa`): the same
 * unmodified library pointed at another issuer, e.g. a Keycloak realm's.
 */
export function startSpa(port = 3000, { authority, clientId } = {}) {
  let page = readFileSync(`${ROOT}tests/e2e/spa/index.html`, 'utf8');
  if (authority) page = page.replace("authority: 'http://localhost:8787'", `authority: '${authority}'`);
  if (clientId) page = page.replace("client_id: 'demo-spa'", `client_id: '${clientId}'`);
  const index = Buffer.from(page);
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
