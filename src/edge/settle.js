// How the Worker's Rust awaits a promise (src/edge/settle.rs, src/core/task.rs): the promise
// settles into a numbered slot through one callback made once per isolate, instead of two
// closures made, registered and dropped per await.

/** Calls `done(slot, true, value)` when `promise` fulfils, `done(slot, false, reason)` when it rejects. */
export function settleInto(promise, slot, done) {
  promise.then((value) => done(slot, true, value), (reason) => done(slot, false, reason));
}
