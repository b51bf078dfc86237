// Answers the Worker's shell (src/edge/worker.mjs) gives again without calling into wasm.
// Rust decides which (`Keyedge::reusable`, src/core/app.rs): an answer that is keyedge's answer
// to every request of the same method and path that has no body and declares no length, for
// the isolate's life — the discovery document and the JWKS — whether made for a request or,
// for the discovery document, before any (`AtOnce.atStart`). This module only keeps them and
// makes each request its own `Response`, with its own request id. Apart from the shell so that
// Node tests it (tests/e2e/reuse.test.mjs) and `make bench`'s floor prices it.

/** At most this many answers are kept (the documents under each of their spellings). */
export const KEPT_MAX = 8;

/**
 * `METHOD path` of `request`, the path as Rust reads it from the URL (`http::Uri::path`: from
 * the `/` that ends the authority to the query or fragment); `undefined` for a URL without
 * one (its authority ended by `?` or `#`, or nothing after it).
 */
export function reuseKey(request) {
  const url = request.url;
  const authority = url.indexOf('//');
  if (authority < 0) return undefined;
  let start = authority + 2;
  while (start < url.length && !'/?#'.includes(url[start])) start++;
  if (url[start] !== '/') return undefined;
  let end = start;
  while (end < url.length && url[end] !== '?' && url[end] !== '#') end++;
  return `${request.method} ${url.slice(start, end)}`;
}

/** Whether `request` is one a kept answer may answer: no body, no declared length. */
function bodiless(request) {
  return request.body === null && !request.headers.has('content-length');
}

// The Worker refuses a request head that Rust cannot read before any route sees it
// (src/edge/mod.rs, `web::request_head`: a header holding a control character gets a 400,
// more headers than it holds a 431, a URL `http::Uri` will not parse a 500). A kept answer
// is given only to a head that is plainly readable, judged more strictly than Rust does
// (a head it would read may still be left to it, never the reverse): every header value
// without a control character other than tab, at most `PLAIN_HEADERS` headers, and a URL of
// at most `PLAIN_URL` characters, each one RFC 3986 allows.
const PLAIN_HEADERS = 100;
const PLAIN_URL = 8192;
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const URL_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/;

/** Whether `request`'s head is one Rust reads, judged more strictly than it does. */
export function plainHead(request) {
  if (request.url.length > PLAIN_URL || !URL_CHARS.test(request.url)) return false;
  let count = 0;
  for (const [, value] of request.headers) {
    if (++count > PLAIN_HEADERS || CONTROL.test(value)) return false;
  }
  return true;
}

/**
 * The request id keyedge gives `request` (src/edge/mod.rs, `request_id_for`): Cloudflare's ray
 * id, else a random UUID (a local request has no ray).
 */
export function requestId(request) {
  return request.headers.get('cf-ray') ?? crypto.randomUUID();
}

/** `[name, value]` pairs with the request id added, for a `Response`. */
export function withRequestId(pairs, id) {
  return [...pairs, ['x-request-id', id]];
}

export class Answers {
  #kept = new Map();

  /** The kept answer to `request` as a new `Response`, or `undefined`. */
  again(request) {
    if (this.#kept.size === 0 || !bodiless(request)) return undefined;
    const key = reuseKey(request);
    const kept = key === undefined ? undefined : this.#kept.get(key);
    if (kept === undefined || !plainHead(request)) return undefined;
    return new Response(kept.body, { status: kept.status, headers: withRequestId(kept.pairs, requestId(request)) });
  }

  /**
   * Keeps keyedge's answer to `request` (`status`, header `pairs` without the request id,
   * `body` bytes or null), which Rust marked reusable, unless it is not a 200, the request is
   * not one a kept answer may answer or `KEPT_MAX` are kept.
   */
  keep(request, status, pairs, body) {
    if (!bodiless(request) || !plainHead(request)) return;
    const key = reuseKey(request);
    if (key !== undefined) this.keepAt(key, status, pairs, body);
  }

  /**
   * Keeps an answer for the requests of `key` (`METHOD path`, as `reuseKey` makes it) that a
   * kept answer may answer: one Rust made before any request (`AtOnce.atStart`) and marked
   * reusable, or one `keep` took. Not a non-200, not past `KEPT_MAX`, never replacing one.
   */
  keepAt(key, status, pairs, body) {
    if (status !== 200 || this.#kept.size >= KEPT_MAX || this.#kept.has(key)) return;
    this.#kept.set(key, { status, pairs, body });
  }

  get size() {
    return this.#kept.size;
  }
}

/**
 * Keeps the answers Rust made before any request (`made()`, the shell's `AtOnce.atStart`:
 * `[method, path, status, header lines, body]` each), `pairs` making header lines into
 * `[name, value]` pairs. Run as the Worker's module is evaluated, which must succeed whatever
 * happens here (the module serves every request, and its Durable Object): should making or
 * keeping them fail, nothing more is kept, and each answer is kept from the first request
 * that gets it, as before.
 */
export function keepAtStart(answers, made, pairs) {
  try {
    for (const [method, path, status, lines, body] of made()) answers.keepAt(`${method} ${path}`, status, pairs(lines), body);
  } catch {
    // Nothing more kept (see above).
  }
}
