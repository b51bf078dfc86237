// The Worker's bounded reader of request bodies (src/edge/read_limited.js), run in Node on
// the same web Request and ReadableStream: the bound must hold for a body streamed without a
// declared length, which wrangler dev's proxy never lets reach the Worker (it forwards a
// streamed body with its length, so attacks.test.mjs only reaches the declared-length check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readLimited } from '../../src/edge/read_limited.js';

/** A request whose body arrives in the given pieces, with no declared length; `pulled` counts them. */
function streamedRequest(pieces) {
  const state = { pulled: 0, cancelled: false };
  const body = new ReadableStream({
    pull(controller) {
      if (state.pulled === pieces.length) return controller.close();
      controller.enqueue(new TextEncoder().encode(pieces[state.pulled++]));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { request: new Request('http://localhost/token', { method: 'POST', body, duplex: 'half' }), state };
}

test('a body within the limit is read whole, its pieces in order', async () => {
  const { request } = streamedRequest(['grant_type=', 'refresh_token', '&client_id=demo-spa']);
  const body = await readLimited(request, 64);
  assert.equal(new TextDecoder().decode(body), 'grant_type=refresh_token&client_id=demo-spa');
});

test('a body of exactly the limit is read; one byte more is refused', async () => {
  assert.equal((await readLimited(streamedRequest(['abc', 'def']).request, 6)).byteLength, 6);
  assert.equal(await readLimited(streamedRequest(['abc', 'defg']).request, 6), null);
});

test('a body over the limit is refused at the piece that crosses it, the rest cancelled unread', async () => {
  const pieces = ['a'.repeat(40), 'b'.repeat(40), 'c'.repeat(40), 'd'.repeat(40)];
  const { request, state } = streamedRequest(pieces);
  assert.equal(await readLimited(request, 64), null);
  assert.ok(state.pulled < pieces.length, `read ${state.pulled} of ${pieces.length} pieces`);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.ok(state.cancelled, 'the stream was cancelled');
});

test('no body is an empty one', async () => {
  assert.equal((await readLimited(new Request('http://localhost/token', { method: 'POST' }), 64)).byteLength, 0);
});

test('a chunk that is not bytes is refused, not miscounted', async () => {
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue('a'.repeat(100));
      controller.close();
    },
  });
  const request = new Request('http://localhost/token', { method: 'POST', body, duplex: 'half' });
  await assert.rejects(readLimited(request, 64), /not bytes/);
});
