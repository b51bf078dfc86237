// The Worker's entry module (wrangler's `main`): the Rust Worker that worker-build writes to
// build/, plus what Rust cannot declare or do as cheaply. No decisions are made here.
//
// - workerd offers Durable Object RPC only to classes that extend `DurableObject`, and the
//   class worker-build generates for `OnceStore` does not; this subclass holds the Rust object
//   and hands its RPC method and `fetch` to it. An RPC call costs the Worker about half of
//   what a `fetch` to the object does (docs/performance.md).
// - A request Rust can answer without storage, upstream or platform calls (the discovery
//   document, the JWKS, a gated site's page on a fresh gate pass, the login page for a
//   browser without a session) is answered by Rust in one call (`AtOnce.plan`,
//   src/edge/mod.rs), the request's head (and whether it has a body) handed in and the answer's
//   status, headers and body handed back as plain values that this module makes into a
//   `Response`; a site page comes back as a plan that is fetched here and finished by Rust in
//   one more call: no Rust future, promise or waker for them. An answer Rust marks as the
//   same for every request of its method and path (the discovery document, the JWKS) is kept
//   and given again without a call into wasm (src/edge/reuse.mjs); the discovery document is
//   made and kept before any request.
//   Everything else goes to `FullPath.serve` (src/edge/mod.rs): the request's Rust future,
//   run where the promises it awaits settle (src/core/task.rs, src/edge/settle.js).
import { DurableObject } from 'cloudflare:workers';
import RustWorker, { AtOnce, FullPath, OnceStore as RustOnceStore } from '../../build/index.js';
import { headerLines, headerPairs } from './header_lines.mjs';
import { Answers, keepAtStart, withRequestId } from './reuse.mjs';

// The answers Rust marked as the same for every request of their method and path (the
// discovery document, the JWKS), kept for the isolate's life (src/edge/reuse.mjs).
// The discovery document is made and kept as the module is evaluated, so that an isolate's
// first request for it runs no wasm: V8 compiles a wasm function on its first call, and that
// first request would otherwise compile the whole path of a request (docs/performance.md,
// *Cold start*).
const answers = new Answers();
keepAtStart(answers, () => AtOnce.atStart(), headerPairs);

export default class Keyedge extends RustWorker {
  // Its only method: a method of a Worker's entrypoint class can be called over RPC by any
  // Worker bound to this one, so the shell's helpers below are plain functions.
  fetch(request) {
    const again = answers.again(request);
    if (again !== undefined) return again;
    // The request's head, read once for both paths.
    const lines = headerLines(request.headers);
    const page = AtOnce.plan(request, request.method, request.url, lines, request.body !== null);
    if (page === undefined) return serve(request, lines, this.env, this.ctx);
    if (Array.isArray(page)) {
      const [status, answerLines, body, id, reusable] = page;
      try {
        const pairs = headerPairs(answerLines);
        const res = new Response(body, { status, headers: withRequestId(pairs, id) });
        if (reusable) answers.keep(request, status, pairs, body);
        return res;
      } catch {
        // An answer the runtime will not make (nothing answered at once does this today):
        // the whole Rust path answers instead, with its error page and log line if need be.
        return serve(request, lines, this.env, this.ctx);
      }
    }
    return site(page, this.env);
  }
}

// worker-build's class has a method for each function Rust exports (`start`, run when the
// module loads): not one for other Workers to call.
Object.defineProperty(Keyedge.prototype, 'start', { value: undefined });

/**
 * The whole Rust path (`FullPath.serve`), handed the request's head as the shell read it (its
 * headers as header `lines`): its answer, or its failure, as a promise.
 */
function serve(request, lines, env, ctx) {
  return new Promise((resolve, reject) => FullPath.serve(request, request.method, request.url, lines, env, ctx, resolve, reject));
}

/** A gated site's page that Rust planned: fetched here, finished by Rust. */
async function site(page, env) {
  const from = page.toAssets ? env.ASSETS : globalThis;
  if (from === undefined) return page.failed(undefined);
  let answer;
  try {
    answer = await from.fetch(page.request);
  } catch (e) {
    return page.failed(String(e));
  }
  return page.finish(answer);
}

export class OnceStore extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.rust = new RustOnceStore(ctx, env);
  }

  /**
   * One operation: JSON in, JSON out (src/edge/once.rs, `OnceStore::call`). `skew` moves the
   * object's clock for this operation in a development build's storage conformance run only.
   */
  call(op, skew) {
    return this.rust.call(op, skew);
  }

  fetch(request) {
    return this.rust.fetch(request);
  }
}
