// The Worker's entry module (wrangler's `main`): the Rust Worker that worker-build writes to
// build/, plus one thing Rust cannot declare yet. workerd offers Durable Object RPC only to
// classes that extend `DurableObject`, and the class worker-build generates for `OnceStore`
// does not; this subclass holds the Rust object and hands its RPC method and `fetch` to it.
// An RPC call costs the Worker about half of what a `fetch` to the object does
// (docs/performance.md). No logic lives here.
import { DurableObject } from 'cloudflare:workers';
import { OnceStore as RustOnceStore } from '../../build/index.js';

export { default } from '../../build/index.js';

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
