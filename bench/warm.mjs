// The warm-up before a measured load, shared by bench/bench.mjs and bench/profile.mjs.
//
// At least a second and WARM_OPS operations (at most 30 s): the floor's prices are of a
// started Durable Object (its probe's 64 objects all start within its first second), so a
// scenario whose operations land on many objects is measured with them started too, or its
// CPU carries the local simulation's object starts (each opens the object's SQLite file on
// the calling thread, 3–17 ms sampled). A login sends one call to one of keyedge's 64 objects
// by a random key: a one-second warm-up (~25 logins) left about 40 to start in the measured
// run, and workerd stops an object after 10 s without a call. In production an object starts
// on its own machine, not on the calling Worker's CPU.

export const WARM_OPS = 400;

/** Runs `op(worker)` in `conc` closed loops for a second and until `atLeast` operations; their count. */
export async function warmUp(conc, op, atLeast = WARM_OPS) {
  const t = performance.now(); const end = t + 1000; const cap = t + 30000; let done = 0;
  await Promise.all(Array.from({ length: conc }, async (_, w) => {
    while ((performance.now() < end || done < atLeast) && performance.now() < cap) { await op(w); done++; }
  }));
  if (done < atLeast) console.error(`  warm-up stopped at 30 s after ${done} of ${atLeast} operations`);
  return done;
}
