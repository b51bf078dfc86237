// The Worker's outbound requests (src/edge/ports.rs, `FetchPort` and `AssetsPort`): the
// request is made and its answer read whole here, in JavaScript, so each one costs wasm one
// call and one promise, instead of a `Request`, a `Headers`, an `AbortController`, a timer and
// a promise each for the answer and its body. Tested by tests/e2e/fetch_whole.test.mjs.

import { headerLines, headerPairs } from './header_lines.mjs';
import { readLimited } from './read_limited.js';

/**
 * `target.fetch` once, the body read whole: `[status, headers as header lines, body]`. With
 * `max` > 0 an answer longer than `max` bytes is refused (a RangeError), as soon as its
 * declared length or the bytes read so far say so, and the rest is cancelled unread (by the
 * same bounded reader as request bodies).
 */
async function whole(target, url, init, max) {
  const res = await target.fetch(url, init);
  const headers = headerLines(res.headers);
  const tooLarge = () => new RangeError(`the answer is larger than ${max} bytes`);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (!(max > 0) || (Number.isSafeInteger(declared) && declared <= max)) {
    // No limit, or a declared length within it (HTTP's framing holds the body to it).
    return [res.status, headers, new Uint8Array(await res.arrayBuffer())];
  }
  if (declared > max) {
    res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  const body = await readLimited(res, max);
  if (body === null) throw tooLarge();
  return [res.status, headers, body];
}

/**
 * `method url` through `target` (the global scope for `fetch`, or a binding such as ASSETS)
 * with the headers of header `lines` (src/core/header_lines.rs) and `body` (bytes; none when
 * empty), answered whole.
 * With `seconds` > 0 the answer, body included, must come within that time: otherwise the
 * request is aborted and the promise resolves to null. With `max` > 0 an answer over `max`
 * bytes is refused. (`async`: whatever throws becomes a rejection, never an exception
 * unwinding through wasm.)
 */
export async function fetchWhole(target, url, method, lines, body, seconds, max = 0) {
  // `body` is a view of wasm memory, valid during this call only: it is copied now. A redirect
  // is the answer, never followed: a 307 from a token endpoint would send the client's secret
  // and the code on to wherever it points, and every caller takes only a 2xx as success.
  const init = { method, headers: headerPairs(lines), redirect: 'manual' };
  if (body.byteLength > 0) init.body = body.slice();
  if (!(seconds > 0)) return whole(target, url, init, max);
  const signal = AbortSignal.timeout(seconds * 1000);
  init.signal = signal;
  return new Promise((resolve, reject) => {
    // Whichever comes first: the time running out (while the answer or its body is still
    // awaited) or the whole answer.
    signal.addEventListener('abort', () => resolve(null), { once: true });
    whole(target, url, init, max).then(resolve, (e) => (signal.aborted ? resolve(null) : reject(e)));
  });
}
