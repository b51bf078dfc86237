// The Worker's entry module (wrangler's `main`): the Rust Worker that worker-build writes to
// build/, plus what Rust cannot declare or do as cheaply. No decisions are made here.
//
// - workerd offers Durable Object RPC only to classes that extend `DurableObject`, and the
//   class worker-build generates for `OnceStore` does not; this subclass holds the Rust object
//   and hands its RPC method and `fetch` to it. An RPC call costs the Worker about half of
//   what a `fetch` to the object does (docs/performance.md).
// - A gated site's page that needs no storage to answer (a fresh gate pass, a public page) is
//   planned by Rust in one call (`SitePage.plan`, src/edge/mod.rs), fetched here and finished
//   by Rust in one more: no Rust future, promise or waker per page view. Everything else,
//   and every site page Rust does not plan, goes to the Rust Worker's `fetch`.
import { DurableObject } from 'cloudflare:workers';
import RustWorker, { OnceStore as RustOnceStore, SitePage } from '../../build/index.js';

export default class Keyedge extends RustWorker {
  fetch(request) {
    const page = SitePage.plan(request);
    if (page === undefined) return super.fetch(request);
    if (page instanceof Response) return page;
    return this.site(page);
  }

  async site(page) {
    const site = page.toAssets ? this.env.ASSETS : globalThis;
    if (site === undefined) return page.failed(undefined);
    let answer;
    try {
      answer = await site.fetch(page.request);
    } catch (e) {
      return page.failed(e);
    }
    return page.finish(answer);
  }
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
