// Headers as they cross between the Worker's JavaScript shell (src/edge/worker.mjs) and Rust
// for a request answered at once, in one string each way (src/core/header_lines.rs), and for
// every other answer of keyedge's own (`answer`, called from wasm). Apart from the shell so
// that `make bench`'s floor (bench/peers/floor, `/shell`) prices this very code and Node tests
// it (tests/e2e/header_lines.test.mjs).

/**
 * Headers as they cross to Rust (every request's head): each name and value followed by a
 * line break, which neither can hold (src/core/header_lines.rs). The runtime refuses a line
 * break in either; should one ever reach here, the request fails rather than crossing as
 * other headers than it has (a value `a\ncookie\nsid=x` would read as a second header).
 */
export function headerLines(headers) {
  let lines = '';
  for (const [name, value] of headers) {
    if (name.includes('\n') || value.includes('\n')) throw new TypeError(`the header ${JSON.stringify(name)} holds a line break`);
    lines += `${name}\n${value}\n`;
  }
  return lines;
}

/** `[[name, value], …]` of header lines. */
export function headerPairs(lines) {
  const parts = lines.split('\n');
  const pairs = [];
  for (let i = 0; i + 1 < parts.length; i += 2) pairs.push([parts[i], parts[i + 1]]);
  return pairs;
}

/**
 * keyedge's answer as the runtime's `Response`, made in one call from wasm (src/edge/ports.rs,
 * `from_http_response`): `status`, the headers of header `lines` and `body`, a view of wasm
 * memory valid during this call only, so copied (none when undefined or empty). Instead of a
 * `ResponseInit` set up call by call and the headers written as JSON and parsed back.
 */
export function answer(status, lines, body) {
  return new Response(body === undefined || body.byteLength === 0 ? null : body.slice(), { status, headers: headerPairs(lines) });
}

/**
 * A gated site's request as the runtime's `Request`, made in one call from wasm
 * (src/edge/ports.rs, `site_request`): `method`, `url`, the headers of header `lines`, a
 * redirect never followed (it goes to the browser as the site gave it), and `body`: the
 * browser's body as the stream it is (`duplex: 'half'`, as the Fetch standard asks of a
 * stream), else bytes (already a copy: `Uint8Array::from` copies out of wasm memory), else
 * none. Instead of a `RequestInit` set call by call with its headers
 * written as JSON and parsed back.
 */
export function siteRequest(method, url, lines, body) {
  const init = { method, headers: headerPairs(lines), redirect: 'manual' };
  if (body instanceof Uint8Array) init.body = body;
  else if (body) Object.assign(init, { body, duplex: 'half' });
  return new Request(url, init);
}

/**
 * A gated site's answer's headers as header lines for Rust (src/core/gate.rs,
 * `Forward::answer_headers`), read in one call: every header but `Set-Cookie` as the runtime
 * iterates them, then each `Set-Cookie` on its own line (`getSetCookie()`: iterating or `get`
 * may join them with commas, which cookie dates contain too). A runtime without
 * `getSetCookie` hands over none: keyedge's cookies must never pass unread.
 */
export function siteHeaderLines(res) {
  const headers = res.headers;
  const lines = headerLines([...headers].filter(([name]) => name.toLowerCase() !== 'set-cookie'));
  const cookies = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : [];
  return lines + headerLines(cookies.map((cookie) => ['set-cookie', cookie]));
}

/**
 * The site's answer as the browser gets it, made in one call from wasm (src/edge/ports.rs,
 * `site_answer`): its status, status text and body, the stream it is (never read here), with
 * the headers of header `lines` (the site's, as the gate marked them). Instead of a copy of
 * the site's headers changed call by call and a `ResponseInit` set up call by call.
 */
export function siteAnswer(res, lines) {
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: headerPairs(lines) });
}
