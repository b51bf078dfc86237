// Answers the Worker's shell (src/edge/worker.mjs) gives again without calling into wasm.
// Rust decides which (`Keyedge::reusable`, src/core/app.rs): an answer that is keyedge's answer
// to every request of the same method and path that has no body and declares no length, for
// the isolate's life — the discovery document and the JWKS. This module only keeps them and
// makes each request its own `Response`, with its own request id. Apart from the shell so that
// Node tests it (tests/e2e/reuse.test.mjs) and `make bench`'s floor prices it.

/** At most this many answers are kept (the documents under each of their spellings). */
export const KEPT_MAX = 8;

/**
 * `METHOD path` of `request`, the path as Rust reads it from the URL (the runtime's URL is
 * absolute and serialized, so its path runs from the first `/` after the authority to the
 * query); `undefined` for a URL of another form.
 */
export function reuseKey(request) {
  const url = request.url;
  const authority = url.indexOf('//');
  if (authority < 0) return undefined;
  const start = url.indexOf('/', authority + 2);
  if (start < 0) return undefined;
  let end = url.indexOf('?', start);
  if (end < 0) end = url.length;
  const hash = url.indexOf('#', start);
  if (hash >= 0 && hash < end) end = hash;
  return `${request.method} ${url.slice(start, end)}`;
}

/** Whether `request` is one a kept answer may answer: no body, no declared length. */
function bodiless(request) {
  return request.body === null && !request.headers.has('content-length');
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
    if (kept === undefined) return undefined;
    return new Response(kept.body, { status: kept.status, headers: withRequestId(kept.pairs, requestId(request)) });
  }

  /**
   * Keeps keyedge's answer to `request` (`status`, header `pairs` without the request id,
   * `body` bytes or null), which Rust marked reusable, unless the request is not one a kept
   * answer may answer or `KEPT_MAX` are kept.
   */
  keep(request, status, pairs, body) {
    if (this.#kept.size >= KEPT_MAX || !bodiless(request)) return;
    const key = reuseKey(request);
    if (key !== undefined && !this.#kept.has(key)) this.#kept.set(key, { status, pairs, body });
  }

  get size() {
    return this.#kept.size;
  }
}
