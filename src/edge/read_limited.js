// The Worker's bounded reader of a request body (src/edge/ports.rs, `read_body`) and of an
// upstream answer's (src/edge/fetch_whole.js): the chunks are gathered here, in JavaScript,
// so the whole body crosses into wasm once instead of a promise, a waker and two property
// reads per chunk. Tested by tests/e2e/read_limited.test.mjs.

/**
 * The body of `request` (or of a response) as one Uint8Array, or null as soon as it runs over
 * `max` bytes (the rest of the stream is cancelled unread), whatever its Content-Length said
 * or without one.
 */
export async function readLimited(request, max) {
  const body = request.body;
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    // The runtime's bodies yield bytes; anything else is refused, not miscounted.
    if (!(value instanceof Uint8Array)) throw new TypeError('body: a chunk is not bytes');
    size += value.byteLength;
    if (size > max) {
      reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return all;
}
