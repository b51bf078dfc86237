// The Worker's outbound requests (src/edge/ports.rs, `FetchPort` and `AssetsPort`): the
// request is made and its answer read whole here, in JavaScript, so each one costs wasm one
// call and one promise, instead of a `Request`, a `Headers`, an `AbortController`, a timer and
// a promise each for the answer and its body. Tested by tests/e2e/fetch_whole.test.mjs.

/** `target.fetch` once, the body read whole: `[status, headers as JSON pairs, body]`. */
async function whole(target, url, init) {
  const res = await target.fetch(url, init);
  const body = new Uint8Array(await res.arrayBuffer());
  return [res.status, JSON.stringify([...res.headers]), body];
}

/**
 * `method url` through `target` (the global scope for `fetch`, or a binding such as ASSETS)
 * with `headers` (`[[name, value], …]`) and `body` (bytes; none when empty), answered whole.
 * With `seconds` > 0 the answer, body included, must come within that time: otherwise the
 * request is aborted and the promise resolves to null. (`async`: whatever throws becomes a
 * rejection, never an exception unwinding through wasm.)
 */
export async function fetchWhole(target, url, method, headers, body, seconds) {
  // `body` is a view of wasm memory, valid during this call only: it is copied now.
  const init = { method, headers };
  if (body.byteLength > 0) init.body = body.slice();
  if (!(seconds > 0)) return whole(target, url, init);
  const signal = AbortSignal.timeout(seconds * 1000);
  init.signal = signal;
  return new Promise((resolve, reject) => {
    // Whichever comes first: the time running out (while the answer or its body is still
    // awaited) or the whole answer.
    signal.addEventListener('abort', () => resolve(null), { once: true });
    whole(target, url, init).then(resolve, (e) => (signal.aborted ? resolve(null) : reject(e)));
  });
}
